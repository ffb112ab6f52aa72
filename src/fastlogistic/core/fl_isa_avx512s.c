/*
 * AVX-512F level, "avx512-split": the kernels of fl_isa_avx512.c with one
 * zmm per math vector and exp(-|x|) by blocks of 256 elements (as at AVX2;
 * see fl_kernels_impl.h), for cores that run a 512-bit operation as two
 * 256-bit halves (AMD Zen 4).  There four zmm per step cost register spills
 * (float64 BCE: 216 stack accesses in a 550-instruction loop) and gain no
 * overlap the out-of-order window does not already find.  Paired A/B
 * against "avx512-wide" on an AMD EPYC (Zen 4), 1 thread, N = 4096 / 1e5 /
 * 1e6: float64 BCE mean 1.45x / 1.70x / 1.51x, loss + grad 1.42x / 1.42x /
 * 1.41x, float32 1.18-1.57x, sigmoid_grad 1.13-1.28x, sigmoid float64
 * 1.05-1.17x, float32 0.97-1.05x.  On Intel (Cascade Lake) the wide form is
 * faster (sigmoid float64 1.28x, see fl_vec.h), so fl_dispatch.c picks this
 * one on AMD CPUs only.
 */
#define FL_NV_WIDE 1
#define FL_EBLOCK 256
#define FL_SIGMOID_K 4
/* float64: the table exp everywhere and the sigmoid's 1/(1 + E) by vdivpd
   (fl_vec.h): sigmoid 1.12x on Zen 4 */
#define FL_EXP_TABLE_F64 1
#define FL_SIGMOID_DIV64 1
/* no software prefetch in streamed calls: on Zen 4 it made them slower
   (float64 sigmoid, N = 1e7, 1 thread: 1.08 vs 0.82 ns/element streamed
   with and without it; normal stores 0.79), where the hardware prefetcher
   alone keeps up */
#define FL_SW_PREFETCH 0
#define FL_ISA avx512s
#include "fl_isa_avx512.c"
