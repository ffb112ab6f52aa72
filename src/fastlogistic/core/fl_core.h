/*
 * fl_core.h -- the math core's interface (layer 1), seen by the Cython kernels.
 *
 * The core is a table of kernels that each work on one contiguous chunk of
 * elements.  The table is compiled once per instruction-set level (AVX-512F,
 * AVX2+FMA, baseline) from the same template sources and chosen at import
 * (fl_fill_table).  No Python, no allocation, no GIL.
 */
#ifndef FL_CORE_H
#define FL_CORE_H

#include <stddef.h>
#include "fl_softmax.h"

enum {
    FL_SIGMOID = 0,
    FL_LOG_SIGMOID,
    FL_SOFTPLUS,
    FL_SIGMOID_GRAD,
    FL_LOGIT,
    FL_N_UNARY
};

/* kernel sets; the two AVX-512 ones differ only in layout (fl_isa_avx512s.c) */
enum {
    FL_LEVEL_BASELINE = 0,
    FL_LEVEL_AVX2 = 1,
    FL_LEVEL_AVX512 = 2,       /* "avx512-wide": four zmm per step */
    FL_LEVEL_AVX512_SPLIT = 3, /* "avx512-split": one zmm, exp(-|x|) by blocks */
    FL_N_LEVELS = 4
};

typedef void (*fl_unary_f64_fn)(const double *x, double *y, ptrdiff_t n, int stream);
typedef void (*fl_unary_f32_fn)(const float *x, float *y, ptrdiff_t n, int stream);

/*
 * Binary cross-entropy with logits, fused.  w (weight) and pw (pos_weight)
 * may be NULL (= 1).  Each of loss, grad, hess may be NULL (not wanted).
 * grad and hess are multiplied by gscale.  With want_sum (or loss given),
 * returns the sum of the per-element losses of the chunk, accumulated in
 * float64 in a fixed order; else 0, and no loss is computed at all.
 */
typedef double (*fl_bcel_f64_fn)(const double *x, const double *t, const double *w,
                                  const double *pw, double *loss, double *grad,
                                  double *hess, double gscale, ptrdiff_t n, int want_sum,
                                  int stream);
typedef double (*fl_bcel_f32_fn)(const float *x, const float *t, const float *w,
                                  const float *pw, float *loss, float *grad,
                                  float *hess, double gscale, ptrdiff_t n, int want_sum,
                                  int stream);

/*
 * Binary cross-entropy on probabilities (PyTorch's definition: logs clamped at
 * -100, gradient denominator floored at 1e-12).  *first_bad receives the index
 * of the first p outside [0, 1] or NaN in the chunk, or -1.
 *
 * stream (every kernel): the call's data are too big to stay in cache:
 * prefetch the inputs ahead and write the outputs with non-temporal stores
 * where they are aligned for it (elementwise kernels: from their first
 * aligned element; the others: only if every output starts aligned).
 * Results are the same either way.
 */
typedef double (*fl_bce_f64_fn)(const double *p, const double *t, const double *w,
                                 double *loss, double *grad, double gscale,
                                 ptrdiff_t n, ptrdiff_t *first_bad, int stream);
typedef double (*fl_bce_f32_fn)(const float *p, const float *t, const float *w,
                                 float *loss, float *grad, double gscale,
                                 ptrdiff_t n, ptrdiff_t *first_bad, int stream);

typedef struct {
    fl_unary_f64_fn unary_f64[FL_N_UNARY];
    fl_unary_f32_fn unary_f32[FL_N_UNARY];
    fl_bcel_f64_fn bcel_f64;
    fl_bcel_f32_fn bcel_f32;
    fl_bce_f64_fn bce_f64;
    fl_bce_f32_fn bce_f32;
    fl_softmax_table softmax;
    int level;
} fl_table;

/* highest instruction set this CPU and this build support (FL_LEVEL_AVX512
   for both AVX-512 layouts) */
int fl_cpu_max_level(void);
/* the kernel sets this CPU can run, best first, into order[FL_N_LEVELS];
   returns how many */
int fl_cpu_levels(int *order);
/* fill t with kernel set `level`, or the best one this CPU runs where it
   cannot (or for FL_N_LEVELS); returns the level used.  In a build with
   FL_PORTABLE (no C level compiled: the Cython layer's "cython" level
   fills the table instead) fills nothing and returns -1, and
   fl_cpu_levels lists none. */
int fl_fill_table(fl_table *t, int level);
const char *fl_level_name(int level);
/* 1 on an AMD x86 CPU (picks defaults measured there, see
   docs/design-measurements.md), else 0 */
int fl_cpu_is_amd(void);
const char *fl_compiler_name(void);

#endif
