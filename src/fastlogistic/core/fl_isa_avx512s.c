/*
 * AVX-512F level, "avx512-split": the kernels of fl_isa_avx512.c with one
 * zmm per math vector and exp(-|x|) by blocks of 256 elements (as at AVX2;
 * see fl_kernels_impl.h), for cores that run a 512-bit operation as two
 * 256-bit halves (AMD Zen 4).  There four zmm per step cost register spills
 * (float64 BCE: 216 stack accesses in a 550-instruction loop) and gain no
 * overlap the out-of-order window does not already find.  Against
 * "avx512-wide" on an AMD EPYC (Zen 4) this layout ran the BCE, loss +
 * grad, sigmoid_grad and float64 sigmoid kernels faster and the float32
 * sigmoid about even; on Intel (Cascade Lake) the wide form is faster (see
 * fl_vec.h), so fl_dispatch.c picks this one on AMD CPUs only.  Figures in
 * docs/design-measurements.md.
 */
#define FL_NV_WIDE 1
#define FL_EBLOCK 256
#define FL_SIGMOID_K 4
/* float64: the table exp everywhere and the sigmoid's 1/(1 + E) by vdivpd
   (fl_vec.h): a faster sigmoid on Zen 4 (docs/design-measurements.md) */
#define FL_EXP_TABLE_F64 1
#define FL_SIGMOID_DIV64 1
/* no software prefetch in streamed calls: on Zen 4 it made them slower,
   where the hardware prefetcher alone keeps up
   (docs/design-measurements.md) */
#define FL_SW_PREFETCH 0
#define FL_ISA avx512s
#include "fl_isa_avx512.c"
