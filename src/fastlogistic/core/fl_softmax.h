/*
 * fl_softmax.h -- the multi-class kernels' table (filled in per ISA by
 * fl_softmax_impl.h).
 *
 * Every kernel works on a block of `nrows` rows of `C` classes.  Within a row
 * the classes are contiguous; rows are `ld*` elements apart (any stride).
 * Per-row scalars (max, sums, log-sum-exp) are kept in float64 for both
 * element types, so float32 results are rounded once at the end.
 */
#ifndef FL_SOFTMAX_H
#define FL_SOFTMAX_H
#include <stddef.h>
#include <stdint.h>

/* Parameters of a cross-entropy call, the same for every block. */
typedef struct {
    ptrdiff_t C;            /* classes per row */
    int64_t ignore_index;   /* index targets equal to this give 0 loss and grad */
    const void *w;          /* per-class weights (element type), contiguous, or NULL */
    double wall;            /* sum of the weights (C without weights) */
    double eps;             /* label smoothing in [0, 1] */
    double gscale;          /* gradient factor (1 / sum of weights for "mean") */
} fl_ce_params;

/* Class indices y[0..n) (contiguous) against C classes: returns how many
   are not `ignore`; *bad: the position of the first that is neither ignore
   nor in [0, C), or -1 (then the count is not meaningful).  Counted in
   chunks with no branch per element (counting the ignored and the bad
   together: only a chunk that has some is looked at again). */
static inline ptrdiff_t fl_count_targets(const int64_t *y, ptrdiff_t n, int64_t C, int64_t ignore,
                                         ptrdiff_t *bad)
{
    ptrdiff_t cnt = 0;
    *bad = -1;
    for (ptrdiff_t i = 0; i < n; i += 4096) {
        const ptrdiff_t m = n - i < 4096 ? n - i : 4096;
        const int64_t *q = y + i;
        ptrdiff_t out = 0;
        for (ptrdiff_t j = 0; j < m; j++)
            out += ((uint64_t)q[j] >= (uint64_t)C) | (q[j] == ignore);
        if (!out) {
            cnt += m;
            continue;
        }
        for (ptrdiff_t j = 0; j < m; j++) {
            if (q[j] == ignore)
                continue;
            if ((uint64_t)q[j] >= (uint64_t)C) {
                *bad = i + j;
                return cnt;
            }
            cnt++;
        }
    }
    return cnt;
}

/* y = softmax(z) (log_ = 0) or log_softmax(z) (log_ = 1), row by row.
   y may be z itself (same rows). */
typedef void (*fl_softmax_f64_fn)(const double *z, ptrdiff_t ldz, double *y,
                                  ptrdiff_t ldy, ptrdiff_t nrows, ptrdiff_t C, int log_);
typedef void (*fl_softmax_f32_fn)(const float *z, ptrdiff_t ldz, float *y,
                                  ptrdiff_t ldy, ptrdiff_t nrows, ptrdiff_t C, int log_);

/*
 * Cross-entropy on logits.  Targets: class indices idx (row r: idx[r * ldi],
 * already checked to be in [0, C) or ignore_index) or, with idx == NULL,
 * probabilities t (row r at t + r * ldt).  loss (per row, r * lds) and grad
 * (row r at grad + r * ldg) may each be NULL.  Returns the sum of the rows'
 * losses, accumulated in float64 in row order.
 */
typedef double (*fl_ce_f64_fn)(const fl_ce_params *p, const double *z, ptrdiff_t ldz,
                               const int64_t *idx, ptrdiff_t ldi, const double *t,
                               ptrdiff_t ldt, double *loss, ptrdiff_t lds, double *grad,
                               ptrdiff_t ldg, ptrdiff_t nrows);
typedef double (*fl_ce_f32_fn)(const fl_ce_params *p, const float *z, ptrdiff_t ldz,
                               const int64_t *idx, ptrdiff_t ldi, const float *t,
                               ptrdiff_t ldt, float *loss, ptrdiff_t lds, float *grad,
                               ptrdiff_t ldg, ptrdiff_t nrows);

/*
 * Categorical cross-entropy on probabilities p: loss = -sum_c w_c t_c max(log p_c, -100),
 * grad = -w_c t_c / max(p_c, 1e-12).  Same arguments as fl_ce_*; eps unused.
 * *first_bad receives (row * C + class) of the first p outside [0, 1] or NaN, or -1.
 */
typedef double (*fl_cce_f64_fn)(const fl_ce_params *p, const double *z, ptrdiff_t ldz,
                                const int64_t *idx, ptrdiff_t ldi, const double *t,
                                ptrdiff_t ldt, double *loss, ptrdiff_t lds, double *grad,
                                ptrdiff_t ldg, ptrdiff_t nrows, ptrdiff_t *first_bad);
typedef double (*fl_cce_f32_fn)(const fl_ce_params *p, const float *z, ptrdiff_t ldz,
                                const int64_t *idx, ptrdiff_t ldi, const float *t,
                                ptrdiff_t ldt, float *loss, ptrdiff_t lds, float *grad,
                                ptrdiff_t ldg, ptrdiff_t nrows, ptrdiff_t *first_bad);

/*
 * The same with any strides: element (row r, class c) of z at
 * z[r * zrs + c * zcs] (and so for t and y/grad), one row per vector lane.
 * scratch: room for 7 * C * 16 elements.  NULL in a table that lacks them
 * (the caller then goes row by row through a buffer).
 */
typedef void (*fl_softmax_s_f64_fn)(const double *z, ptrdiff_t zrs, ptrdiff_t zcs, double *y,
                                    ptrdiff_t yrs, ptrdiff_t ycs, ptrdiff_t nrows, ptrdiff_t C,
                                    int log_, double *scratch);
typedef void (*fl_softmax_s_f32_fn)(const float *z, ptrdiff_t zrs, ptrdiff_t zcs, float *y,
                                    ptrdiff_t yrs, ptrdiff_t ycs, ptrdiff_t nrows, ptrdiff_t C,
                                    int log_, float *scratch);
typedef double (*fl_ce_s_f64_fn)(const fl_ce_params *p, const double *z, ptrdiff_t zrs,
                                 ptrdiff_t zcs, const int64_t *idx, ptrdiff_t ldi,
                                 const double *t, ptrdiff_t trs, ptrdiff_t tcs, double *loss,
                                 ptrdiff_t lds, double *grad, ptrdiff_t grs, ptrdiff_t gcs,
                                 ptrdiff_t nrows, double *scratch);
typedef double (*fl_ce_s_f32_fn)(const fl_ce_params *p, const float *z, ptrdiff_t zrs,
                                 ptrdiff_t zcs, const int64_t *idx, ptrdiff_t ldi,
                                 const float *t, ptrdiff_t trs, ptrdiff_t tcs, float *loss,
                                 ptrdiff_t lds, float *grad, ptrdiff_t grs, ptrdiff_t gcs,
                                 ptrdiff_t nrows, float *scratch);

/*
 * Row per lane over an (outer, R, C) operand (fl_softmax_rows.h): row r of a
 * call (0 <= r < nrows) is row i0 + r of the slices from z on -- slice
 * (i0 + r) / R, row (i0 + r) % R -- with element (slice o, row i, class c)
 * of z at z[o * zos + i * zrs + c * zcs] (t and y/grad likewise, with their
 * own strides; element strides, any sign).  One slice (R >= nrows, i0 = 0)
 * is a plain 2-D operand.  kind: 0 softmax, 1 log_softmax (into y; P may be
 * NULL), 2 cross-entropy on logits (arguments as fl_ce_s_*, idx and loss
 * indexed by r), 3 categorical cross-entropy on probabilities z (as fl_cce_*;
 * *first_bad, which may be NULL for the other kinds, as there).  Returns the
 * loss sum, in the same order for the same rows whatever the slicing.
 * scratch: room for 7 * C * 16 elements.  NULL in a table that lacks it.
 */
typedef struct {
    ptrdiff_t C, R, i0;
    ptrdiff_t zos, zrs, zcs;
    ptrdiff_t tos, trs, tcs;
    ptrdiff_t yos, yrs, ycs;
} fl_rows3;
typedef double (*fl_rows3_f64_fn)(const fl_ce_params *p, int kind, const fl_rows3 *d,
                                  const double *z, const int64_t *idx, ptrdiff_t ldi,
                                  const double *t, double *loss, ptrdiff_t lds, double *y,
                                  ptrdiff_t nrows, double *scratch, ptrdiff_t *first_bad);
typedef double (*fl_rows3_f32_fn)(const fl_ce_params *p, int kind, const fl_rows3 *d,
                                  const float *z, const int64_t *idx, ptrdiff_t ldi,
                                  const float *t, float *loss, ptrdiff_t lds, float *y,
                                  ptrdiff_t nrows, float *scratch, ptrdiff_t *first_bad);

typedef struct {
    fl_softmax_f64_fn softmax_f64;
    fl_softmax_f32_fn softmax_f32;
    fl_ce_f64_fn ce_f64;
    fl_ce_f32_fn ce_f32;
    fl_cce_f64_fn cce_f64;
    fl_cce_f32_fn cce_f32;
    fl_softmax_s_f64_fn softmax_s_f64;
    fl_softmax_s_f32_fn softmax_s_f32;
    fl_ce_s_f64_fn ce_s_f64;
    fl_ce_s_f32_fn ce_s_f32;
    fl_rows3_f64_fn rows3_f64;
    fl_rows3_f32_fn rows3_f32;
    /* C-order rows of up to this many classes go row per lane (the same
       kernel, and so the same bits, as rows3 on any layout); longer ones
       one row at a time */
    ptrdiff_t lanes_maxc_f64;
    ptrdiff_t lanes_maxc_f32;
    /* fl_count_targets compiled for the level (vectorised); NULL: call
       fl_count_targets */
    ptrdiff_t (*count_targets)(const int64_t *y, ptrdiff_t n, int64_t C, int64_t ignore,
                               ptrdiff_t *bad);
} fl_softmax_table;
#endif
