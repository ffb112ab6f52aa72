/*
 * fl_softmax_impl.h -- multi-class row kernels (softmax, log-softmax,
 * cross-entropy on logits, categorical cross-entropy on probabilities).
 * Included by fl_isa_body.h once per ISA and element type (FL_T = 64, 32),
 * right after fl_kernels_impl.h; defines fill_softmax_<S>_<ISA>().
 *
 * Per row of logits z (classes contiguous), with m = max_c z_c:
 *   d_c = z_c - m (0 where z_c == m), e_c = exp(d_c), computed from the exact
 *         difference hi + lo (TwoSum) as exp(hi) (1 + lo), so e_c keeps full
 *         accuracy also where d_c is large and inexact;
 *   k   = number of c with z_c == m, S1 = sum of the other e_c + (k - 1),
 *   so that sum_c e_c = 1 + S1 and log-sum-exp = m + log1p(S1): the loss of a
 *   confident correct prediction (S1 tiny) keeps its digits.
 * Per-row scalars are float64 for both element types; sums in float64.
 * Rows are handled in groups of up to FL_L64 so that log1p runs on a whole
 * vector of rows (short rows would otherwise pay for it row by row).
 * Limits: a row with one +inf gives the one-hot limit; a row whose maximum is
 * -inf (all -inf) or +inf more than once is indeterminate and gives NaN; NaN
 * anywhere in a row gives NaN for that row.
 */

#ifndef FL_SM_ONCE
#define FL_SM_ONCE
#define FL_SM_GROUP_MAX 8
/* C-order rows of up to SM_SMALL_MAXC_<type> classes go row per lane
   (fl_softmax_rows.h), longer ones one row at a time here: the faster of
   the two on each side (measured: docs/multiclass.md).  At AVX-512, where
   the row-per-lane kernel moves C-order blocks in registers (its lean path
   and transposes), that is up to 63 float32 / 31 float64 classes (AMD
   Zen 4; at 64 float32 classes the two tie, from 128 / 32 the row kernel
   is faster); elsewhere 15. */
#if FL_X86_LEVEL >= 3 && FL_NV == 1
#define SM_SMALL_MAXC_DEF_f64 31
#define SM_SMALL_MAXC_DEF_f32 63
#else
#define SM_SMALL_MAXC_DEF_f64 15
#define SM_SMALL_MAXC_DEF_f32 15
#endif
#ifndef SM_SMALL_MAXC_f64
#define SM_SMALL_MAXC_f64 SM_SMALL_MAXC_DEF_f64
#endif
#ifndef SM_SMALL_MAXC_f32
#define SM_SMALL_MAXC_f32 SM_SMALL_MAXC_DEF_f32
#endif
/* the larger of the two: the row-per-lane scratch on the stack */
#define SM_SMALL_SCRATCH (SM_SMALL_MAXC_f32 > SM_SMALL_MAXC_f64 ? SM_SMALL_MAXC_f32 : SM_SMALL_MAXC_f64)
enum { SM_IDX = 0, SM_PROB = 1 };
#endif /* FL_SM_ONCE */
#define SM_SMALL_MAXC FL_TC(SM_SMALL_MAXC)


/* NaN-propagating max */
FL_INLINE FL_VEC FL_VFN(sm_vmax)(FL_VEC a, FL_VEC b) { return FL_VFN(fl_sel)((a > b) | (a != a), a, b); }

FL_INLINE FL_REAL FL_VFN(sm_hmax)(FL_VEC v)
{
    FL_REAL m = v[0];
    for (ptrdiff_t j = 1; j < FL_LANES; j++)
        m = (v[j] > m || v[j] != v[j]) ? v[j] : m;
    return m;
}

FL_INLINE double FL_VFN(sm_hcount)(FL_IVEC c)
{
    long long s = 0;
    for (ptrdiff_t j = 0; j < FL_LANES; j++)
        s += c[j];
    return (double)(-s);
}

/* max of a row of C >= 1 elements (NaN if any is NaN) */
FL_INLINE FL_REAL FL_VFN(sm_rowmax)(const FL_REAL *z, ptrdiff_t C)
{
    FL_VEC vm = FL_VFN(fl_splat)(-(FL_REAL)__builtin_inf());
    ptrdiff_t i = 0;
    for (; i + FL_LANES <= C; i += FL_LANES)
        vm = FL_VFN(sm_vmax)(vm, FL_VFN(fl_load)(z + i));
    if (i < C)
        vm = FL_VFN(sm_vmax)(vm, FL_VFN(fl_load_part)(z + i, C - i, -(FL_REAL)__builtin_inf()));
    return FL_VFN(sm_hmax)(vm);
}

/* e = exp(x - m) from the exact difference; *eq: lanes with x == m
   (e = 1 there), *d: x - m rounded (0 on eq lanes) */
FL_INLINE FL_VEC FL_VFN(sm_expdiff)(FL_VEC x, FL_VEC mv, FL_IVEC *eq, FL_VEC *d)
{
    FL_VEC hi = x - mv;
    FL_VEC bb = hi - x;
    FL_VEC lo = (x - (hi - bb)) + (-mv - bb);
    lo = FL_VFN(fl_sel)(lo == lo, lo, FL_VFN(fl_splat)((FL_REAL)0));
    FL_VEC e = FL_VFN(fl_exp)(hi);
    e = e + e * lo;
    FL_IVEC q = x == mv;
    *eq = q;
    *d = FL_VFN(fl_sel)(q, FL_VFN(fl_splat)((FL_REAL)0), hi);
    return FL_VFN(fl_sel)(q, FL_VFN(fl_splat)((FL_REAL)1), e);
}

/* S1 -> NaN for indeterminate rows (max -inf, or +inf more than once) */
FL_INLINE double FL_VFN(sm_fix_s1)(double s1, FL_REAL m, double k)
{
    if (m == -(FL_REAL)__builtin_inf() || (m == (FL_REAL)__builtin_inf() && k > 1))
        return __builtin_nan("");
    return s1;
}

/* lse[j] = log1p(s1[j]) for j < g (g <= FL_L64) */
FL_INLINE void FL_VFN(sm_log1p_group)(const double *s1, double *lse, ptrdiff_t g)
{
    double buf[FL_SM_GROUP_MAX > FL_L64 ? FL_SM_GROUP_MAX : FL_L64];
    for (ptrdiff_t j = 0; j < FL_L64; j++)
        buf[j] = j < g ? s1[j] : 0.0;
    vf64 r = fl_log1p_f64(fl_load_f64(buf));
    fl_store_f64(buf, r);
    for (ptrdiff_t j = 0; j < g; j++)
        lse[j] = buf[j];
}


/* ------------------- the per-row fast path (finite rows) ------------------
 * A row whose maximum m and minimum are finite and m - min does not overflow
 * (every row but those with +-inf, or finite values ~FLT_MAX apart) takes
 * this path; NaN elements are ignored by its max and reach the sums through
 * exp, so the row still comes out NaN.  There x - m is finite for every x,
 * so TwoSum's lo needs no NaN select and exp no upper clamp, and the max
 * lanes (x == m) give hi = lo = 0, e = 1 exactly without a select.  Other
 * rows go the general way (sm_rowmax, sm_expdiff).  Horizontal reductions
 * are trees, float32 exponentials are widened to float64 in registers. */
#if FL_X86_LEVEL >= 3 && FL_NV == 1
#define SM_TREE 1
#else
#define SM_TREE 0
#endif

/* the largest (mx) or smallest lane of v, which has no NaN lanes */
FL_INLINE FL_REAL FL_VFN(sm_tred)(FL_VEC v, const int mx)
{
#if SM_TREE && FL_T == 64
    return mx ? _mm512_reduce_max_pd((__m512d)v) : _mm512_reduce_min_pd((__m512d)v);
#elif SM_TREE
    return mx ? _mm512_reduce_max_ps((__m512)v) : _mm512_reduce_min_ps((__m512)v);
#else
    FL_REAL m = v[0];
    for (ptrdiff_t j = 1; j < FL_LANES; j++)
        m = (mx ? v[j] > m : v[j] < m) ? v[j] : m;
    return m;
#endif
}
FL_INLINE FL_REAL FL_VFN(sm_tmax)(FL_VEC v) { return FL_VFN(sm_tred)(v, 1); }
FL_INLINE FL_REAL FL_VFN(sm_tmin)(FL_VEC v) { return FL_VFN(sm_tred)(v, 0); }

/* number of lanes set in a count of masks (each lane holds minus its count) */
FL_INLINE double FL_VFN(sm_tcount)(FL_IVEC c)
{
#if SM_TREE
    c = -c; /* sm_kacc counts up */
#endif
#if SM_TREE && FL_T == 64
    return (double)(-_mm512_reduce_add_epi64((__m512i)c));
#elif SM_TREE
    return (double)(-_mm512_reduce_add_epi32((__m512i)c));
#else
    return FL_VFN(sm_hcount)(c);
#endif
}

FL_INLINE double FL_VFN(sm_tsum)(vf64 v)
{
#if SM_TREE
    return _mm512_reduce_add_pd((__m512d)v);
#else
    return fl_hsum_f64(v);
#endif
}

/* a0 (+ a1) += v in float64 */
FL_INLINE void FL_VFN(sm_acc2)(vf64 *a0, vf64 *a1, FL_VEC v)
{
#if FL_T == 64
    (void)a1;
    *a0 += v;
#elif SM_TREE
    __m512 u = (__m512)v;
    *a0 += (vf64)_mm512_cvtps_pd(_mm512_castps512_ps256(u));
    *a1 += (vf64)_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
#else
    (void)a1;
    *a0 = fl_acc_f32(*a0, v);
#endif
}

/* rows whose range max - min is at most SM_NOCLAMP need no clamp below exp's
   range (hi >= -SM_NOCLAMP - rounding) */
#if FL_X86_LEVEL >= 3
#define SM_NOCLAMP (-(FL_REAL)FL_TC(FL_EXP_LO) - 8)
#else
#define SM_NOCLAMP 0
#endif
/* max of the row (NaN ignored); returns 0 for the general path, 1 for the
   fast path, 2 for the fast path with exp's lower clamp */
FL_INLINE int FL_VFN(sm_minmax)(const FL_REAL *z, ptrdiff_t C, FL_REAL *mout)
{
    const FL_REAL inf = (FL_REAL)__builtin_inf();
    FL_VEC mx0 = FL_VFN(fl_splat)(-inf), mn0 = FL_VFN(fl_splat)(inf), mx1 = mx0, mn1 = mn0;
    ptrdiff_t i = 0;
    /* maxv(x, acc), minv(x, acc): acc where x is NaN */
    for (; i + 2 * FL_LANES <= C; i += 2 * FL_LANES) {
        FL_VEC x0 = FL_VFN(fl_load)(z + i), x1 = FL_VFN(fl_load)(z + i + FL_LANES);
        mx0 = FL_VFN(fl_maxv)(x0, mx0);
        mn0 = FL_VFN(fl_minv)(x0, mn0);
        mx1 = FL_VFN(fl_maxv)(x1, mx1);
        mn1 = FL_VFN(fl_minv)(x1, mn1);
    }
    if (i + FL_LANES <= C) {
        FL_VEC x = FL_VFN(fl_load)(z + i);
        mx0 = FL_VFN(fl_maxv)(x, mx0);
        mn0 = FL_VFN(fl_minv)(x, mn0);
        i += FL_LANES;
    }
    if (i < C) {
        FL_VEC x = FL_VFN(fl_load_part)(z + i, C - i, z[0]);
        mx1 = FL_VFN(fl_maxv)(x, mx1);
        mn1 = FL_VFN(fl_minv)(x, mn1);
    }
    FL_REAL m = FL_VFN(sm_tmax)(FL_VFN(fl_maxv)(mx0, mx1));
    FL_REAL d = m - FL_VFN(sm_tmin)(FL_VFN(fl_minv)(mn0, mn1));
    *mout = m;
    if (!(d - d == 0))
        return 0;
    return d <= SM_NOCLAMP ? 1 : 2;
}

/* exp(x - m) from the exact difference on a fast-path row (hi <= 0 or
   NaN; clamp: hi may be below exp's range) */
FL_INLINE FL_VEC FL_VFN(sm_expfast)(FL_VEC x, FL_VEC mv, FL_VEC nmv, const int clamp)
{
    FL_VEC hi = x - mv;
    FL_VEC bb = hi - x;
    FL_VEC lo = (x - (hi - bb)) + (nmv - bb);
#if FL_X86_LEVEL >= 3
    /* maxv keeps a NaN second operand */
    FL_VEC e = FL_VFN(fl_exp_inrange)(clamp ? FL_VFN(fl_maxv)(FL_VFN(fl_splat)(FL_TC(FL_EXP_LO)), hi) : hi);
#else
    (void)clamp;
    FL_VEC e = FL_VFN(fl_exp)(hi);
#endif
    return e + e * lo;
}

/* acc (float64) += v on the lanes where eq is clear, cnt counts eq's lanes
   (tail: only the first n lanes count) */
#if SM_TREE
#if FL_T == 64
typedef __mmask8 sm_kmask_f64;
#define SM_KMASK sm_kmask_f64
FL_INLINE SM_KMASK sm_keq_f64(vf64 x, vf64 mv) { return _mm512_cmp_pd_mask((__m512d)x, (__m512d)mv, _CMP_EQ_OQ); }
FL_INLINE void sm_kacc_f64(vf64 *a0, vf64 *a1, vi64 *cnt, vf64 v, SM_KMASK k)
{
    (void)a1;
    *a0 = (vf64)_mm512_mask_add_pd((__m512d)*a0, (__mmask8)~k, (__m512d)*a0, (__m512d)v);
    *cnt = (vi64)_mm512_mask_sub_epi64((__m512i)*cnt, k, (__m512i)*cnt, _mm512_set1_epi64(-1));
}
#else
typedef __mmask16 sm_kmask_f32;
#define SM_KMASK sm_kmask_f32
FL_INLINE SM_KMASK sm_keq_f32(vf32 x, vf32 mv) { return _mm512_cmp_ps_mask((__m512)x, (__m512)mv, _CMP_EQ_OQ); }
FL_INLINE void sm_kacc_f32(vf64 *a0, vf64 *a1, vi32 *cnt, vf32 v, SM_KMASK k)
{
    __m512 u = (__m512)v;
    __mmask16 nk = (__mmask16)~k;
    *a0 = (vf64)_mm512_mask_add_pd((__m512d)*a0, (__mmask8)nk, (__m512d)*a0, _mm512_cvtps_pd(_mm512_castps512_ps256(u)));
    *a1 = (vf64)_mm512_mask_add_pd((__m512d)*a1, (__mmask8)(nk >> 8), (__m512d)*a1,
                                   _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1))));
    *cnt = (vi32)_mm512_mask_sub_epi32((__m512i)*cnt, k, (__m512i)*cnt, _mm512_set1_epi32(-1));
}
#endif
#undef SM_KMASK
#endif

/* a fast-path row: e_c = exp(z_c - m) stored at er (unless NULL); returns S1 */
FL_INLINE double FL_VFN(sm_row_exp)(const FL_REAL *zr, ptrdiff_t C, FL_REAL m, FL_REAL *er, const int clamp)
{
    const FL_VEC mv = FL_VFN(fl_splat)(m), nmv = FL_VFN(fl_splat)(-m);
    /* two sets of accumulators, even and odd vectors: float64 sums of
       float64 terms round once per term, and a lane's error grows with the
       number of terms it adds up */
    vf64 a0 = fl_splat_f64(0.0), a1 = a0, b0 = a0, b1 = a0;
    FL_IVEC cnt = (FL_IVEC){0};
    ptrdiff_t i = 0;
#if SM_TREE
#define SM_ACC_ONE(A0, A1, X, E) FL_VFN(sm_kacc)(&A0, &A1, &cnt, E, FL_VFN(sm_keq)(X, mv))
#else
#define SM_ACC_ONE(A0, A1, X, E)                                               \
    do {                                                                       \
        FL_IVEC eq_ = (X) == mv;                                               \
        FL_VFN(sm_acc2)(&A0, &A1, FL_VFN(fl_sel)(eq_, FL_VFN(fl_splat)((FL_REAL)0), E)); \
        cnt += eq_;                                                            \
    } while (0)
#endif
    for (; i + 2 * FL_LANES <= C; i += 2 * FL_LANES) {
        FL_VEC x = FL_VFN(fl_load)(zr + i), x1 = FL_VFN(fl_load)(zr + i + FL_LANES);
        FL_VEC e = FL_VFN(sm_expfast)(x, mv, nmv, clamp), e1 = FL_VFN(sm_expfast)(x1, mv, nmv, clamp);
        if (er) {
            FL_VFN(fl_store)(er + i, e);
            FL_VFN(fl_store)(er + i + FL_LANES, e1);
        }
        SM_ACC_ONE(a0, a1, x, e);
        SM_ACC_ONE(b0, b1, x1, e1);
    }
    if (i + FL_LANES <= C) {
        FL_VEC x = FL_VFN(fl_load)(zr + i);
        FL_VEC e = FL_VFN(sm_expfast)(x, mv, nmv, clamp);
        if (er)
            FL_VFN(fl_store)(er + i, e);
        SM_ACC_ONE(a0, a1, x, e);
        i += FL_LANES;
    }
#undef SM_ACC_ONE
    if (i < C) {
        ptrdiff_t n = C - i;
        /* fill m: e = 1 and eq there, out of the sum; out of the count below */
        FL_VEC x = FL_VFN(fl_load_part)(zr + i, n, m);
        FL_VEC e = FL_VFN(sm_expfast)(x, mv, nmv, clamp);
        if (er)
            FL_VFN(fl_store_part)(er + i, e, n);
#if SM_TREE
        FL_IVEC c0 = cnt;
        FL_VFN(sm_kacc)(&b0, &b1, &cnt, e, FL_VFN(sm_keq)(x, mv));
        cnt = c0 + ((cnt - c0) & FL_VFN(fl_lanes_below)(n));
#else
        FL_IVEC eq = x == mv;
        FL_VFN(sm_acc2)(&b0, &b1, FL_VFN(fl_sel)(eq, FL_VFN(fl_splat)((FL_REAL)0), e));
        cnt += eq & FL_VFN(fl_lanes_below)(n);
#endif
    }
    double k = FL_VFN(sm_tcount)(cnt);
    return FL_VFN(sm_tsum)((a0 + a1) + (b0 + b1)) + (k - 1.0);
}

/* exp(x - m) on a row's lanes i .. i + n - 1, the general way (any values):
   *eq = the lanes at the max, *d = x - m; lanes from n on give e = 0 and
   are not at the max */
FL_INLINE FL_VEC FL_VFN(sm_chunk_slow)(const FL_REAL *zr, ptrdiff_t i, ptrdiff_t n, FL_REAL m,
                                       FL_VEC mv, FL_IVEC *eq, FL_VEC *d)
{
    FL_VEC x = n == FL_LANES ? FL_VFN(fl_load)(zr + i) : FL_VFN(fl_load_part)(zr + i, n, m); /* fill m: no exp underflow (slow) */
    FL_VEC e = FL_VFN(sm_expdiff)(x, mv, eq, d);
    if (n < FL_LANES) {
        FL_IVEC in = FL_VFN(fl_lanes_below)(n);
        *eq &= in;
        e = FL_VFN(fl_sel)(in, e, FL_VFN(fl_splat)((FL_REAL)0));
    }
    return e;
}

/* the general row (any values): e stored at er unless NULL; returns S1 */
FL_INLINE double FL_VFN(sm_row_slow)(const FL_REAL *zr, ptrdiff_t C, FL_REAL *er, FL_REAL *mout)
{
    FL_REAL m = FL_VFN(sm_rowmax)(zr, C);
    FL_VEC mv = FL_VFN(fl_splat)(m);
    vf64 acc = fl_splat_f64(0.0);
    FL_IVEC cnt = (FL_IVEC){0};
    for (ptrdiff_t i = 0; i < C; i += FL_LANES) {
        ptrdiff_t n = C - i < FL_LANES ? C - i : FL_LANES;
        FL_IVEC eq;
        FL_VEC d;
        FL_VEC e = FL_VFN(sm_chunk_slow)(zr, i, n, m, mv, &eq, &d);
        acc = FL_VFN(fl_acc)(acc, FL_VFN(fl_sel)(eq, FL_VFN(fl_splat)((FL_REAL)0), e));
        cnt += eq;
        if (er) {
            FL_VFN(fl_store_n)(er + i, e, n);
        }
    }
    double k = FL_VFN(sm_hcount)(cnt);
    *mout = m;
    return FL_VFN(sm_fix_s1)(fl_hsum_f64(acc) + (k - 1.0), m, k);
}

FL_INLINE ptrdiff_t FL_VFN(sm_group)(ptrdiff_t C)
{
    return C <= 512 ? (FL_L64 < FL_SM_GROUP_MAX ? FL_L64 : FL_SM_GROUP_MAX) : 1;
}


/* elements of the softmax row kernel's stack buffer of exponentials */
#define SM_EBUF 4096

/* the row-per-lane kernels (after the helpers above, which they share) */
#include "fl_softmax_rows.h"

/* ------------------------- softmax / log_softmax ------------------------- */

static void FL_KERNEL(softmax)(const FL_REAL *z, ptrdiff_t ldz, FL_REAL *y, ptrdiff_t ldy, ptrdiff_t nrows,
                        ptrdiff_t C, int log_)
{
    if (C <= SM_SMALL_MAXC) {
        FL_REAL scratch[7 * SM_SMALL_SCRATCH * FL_LANES];
        FL_VFN(rw_dispatch)(NULL, C, z, ldz, 1, NULL, 0, NULL, 0, 0, NULL, 0, y, ldy, 1, nrows,
                        scratch, log_ ? 1 : 0);
        return;
    }
    const ptrdiff_t G = FL_VFN(sm_group)(C);
    FL_REAL mrow[FL_SM_GROUP_MAX];
    double s1[FL_SM_GROUP_MAX], lse[FL_SM_GROUP_MAX];
    int fast[FL_SM_GROUP_MAX];
    /* softmax: the exponentials into an aligned stack buffer, then e (1 / S)
       into y, where they went into y and were read back: rows whose length
       is not a multiple of 64 bytes (C = 100 or 1000 float32) make every
       vector store to y split across two cache lines, and that was paid
       twice.  Same values. */
    const ptrdiff_t Cp = (C + FL_LANES - 1) / FL_LANES * FL_LANES;
    FL_REAL ebuf[SM_EBUF] __attribute__((aligned(64)));
    const int use_eb = !log_ && C <= 512 && G * Cp <= SM_EBUF;
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += G) {
        ptrdiff_t g = nrows - r0 < G ? nrows - r0 : G;
        /* the group's maxima first: no row's exp waits for its own max */
        for (ptrdiff_t j = 0; j < g; j++)
            fast[j] = FL_VFN(sm_minmax)(z + (r0 + j) * ldz, C, &mrow[j]);
        for (ptrdiff_t j = 0; j < g; j++) {
            const FL_REAL *zr = z + (r0 + j) * ldz;
            FL_REAL *yr = log_ ? NULL : use_eb ? ebuf + j * Cp : y + (r0 + j) * ldy;
            s1[j] = fast[j] == 1 ? FL_VFN(sm_row_exp)(zr, C, mrow[j], yr, 0)
                  : fast[j] ? FL_VFN(sm_row_exp)(zr, C, mrow[j], yr, 1) : FL_VFN(sm_row_slow)(zr, C, yr, &mrow[j]);
        }
        if (log_)
            FL_VFN(sm_log1p_group)(s1, lse, g);
        for (ptrdiff_t j = 0; j < g; j++) {
            const FL_REAL *zr = z + (r0 + j) * ldz;
            FL_REAL *yr = y + (r0 + j) * ldy;
            ptrdiff_t i = 0;
            if (log_) {
                FL_VEC mv = FL_VFN(fl_splat)(mrow[j]);
                FL_VEC lv = FL_VFN(fl_splat)((FL_REAL)lse[j]);
                if (fast[j]) {
                    /* x - m is finite, 0 at the maximum */
                    for (; i + FL_LANES <= C; i += FL_LANES)
                        FL_VFN(fl_store)(yr + i, (FL_VFN(fl_load)(zr + i) - mv) - lv);
                    if (i < C)
                        FL_VFN(fl_store_part)(yr + i, (FL_VFN(fl_load_part)(zr + i, C - i, (FL_REAL)0) - mv) - lv, C - i);
                    continue;
                }
                for (; i < C; i += FL_LANES) {
                    ptrdiff_t n = C - i < FL_LANES ? C - i : FL_LANES;
                    FL_VEC x = n == FL_LANES ? FL_VFN(fl_load)(zr + i) : FL_VFN(fl_load_part)(zr + i, n, (FL_REAL)0);
                    FL_VEC d = FL_VFN(fl_sel)(x == mv, FL_VFN(fl_splat)((FL_REAL)0), x - mv) - lv;
                    FL_VFN(fl_store_n)(yr + i, d, n);
                }
            } else {
                /* e / S as e (1 / S), 1 / S rounded once from float64 */
                FL_VEC rv = FL_VFN(fl_splat)((FL_REAL)(1.0 / (1.0 + s1[j])));
                const FL_REAL *er = use_eb ? ebuf + j * Cp : yr;
                for (; i + FL_LANES <= C; i += FL_LANES)
                    FL_VFN(fl_store)(yr + i, FL_VFN(fl_load)(er + i) * rv);
                if (i < C)
                    FL_VFN(fl_store_part)(yr + i, FL_VFN(fl_load_part)(er + i, C - i, (FL_REAL)1) * rv, C - i);
            }
        }
    }
}

/* --------------------------- cross-entropy ---------------------------- */


/* the classes' target weights on lanes i .. i + n - 1 of a row (n <= lanes;
   lanes from n on read 0 from t and w): the (smoothed) probability target
   times the class weight, or for class-index targets the class weight (1
   without weights); t and w are the row's target and the weights, each
   read only where used */
FL_INLINE FL_VEC FL_VFN(sm_coef)(const int mode, const int smooth, const int has_w,
                                 const FL_REAL *t, const FL_REAL *w, ptrdiff_t i, ptrdiff_t n,
                                 double eps, double epc)
{
    FL_VEC wv = FL_VFN(fl_splat)((FL_REAL)1);
    if (has_w)
        wv = n == FL_LANES ? FL_VFN(fl_load)(w + i) : FL_VFN(fl_load_part)(w + i, n, (FL_REAL)0);
    if (mode != SM_PROB)
        return wv;
    FL_VEC tv = n == FL_LANES ? FL_VFN(fl_load)(t + i) : FL_VFN(fl_load_part)(t + i, n, (FL_REAL)0);
    if (smooth)
        tv = tv * (FL_REAL)(1.0 - eps) + (FL_REAL)epc;
    return has_w ? tv * wv : tv;
}

/*
 * Index targets y: loss = (1 - eps) w_y (-log p_y) + (eps / C) sum_c w_c (-log p_c),
 *   grad_c = gs (a p_c - (1 - eps) w_y [c == y] - (eps / C) w_c),
 *   a = (1 - eps) w_y + (eps / C) wall.
 * Probability targets t' = (1 - eps) t + eps / C:
 *   loss = sum_c w_c t'_c (-log p_c), grad_c = gs (a p_c - w_c t'_c), a = sum_c w_c t'_c.
 * -log p_c = lse - d_c with lse = log1p(S1); terms with a zero coefficient are 0.
 */
FL_INLINE double FL_VFN(ce_block)(const fl_ce_params *P, const FL_REAL *z, ptrdiff_t ldz,
                              const int64_t *idx, ptrdiff_t ldi, const FL_REAL *t,
                              ptrdiff_t ldt, FL_REAL *loss, ptrdiff_t lds, FL_REAL *grad,
                              ptrdiff_t ldg, ptrdiff_t nrows, const int mode,
                              const int has_w, const int smooth)
{
    const ptrdiff_t C = P->C;
    const FL_REAL *w = (const FL_REAL *)P->w;
    const double eps = smooth ? P->eps : 0.0, epc = eps / (double)C;
    const double gs = P->gscale;
    const ptrdiff_t G = FL_VFN(sm_group)(C);
    const FL_VEC zero = FL_VFN(fl_splat)((FL_REAL)0);
    FL_REAL mrow[FL_SM_GROUP_MAX];
    double s1[FL_SM_GROUP_MAX], lse[FL_SM_GROUP_MAX], sd[FL_SM_GROUP_MAX],
        sa[FL_SM_GROUP_MAX], ey[FL_SM_GROUP_MAX];
    double total = 0.0;
    /* the exponentials into an aligned stack buffer, as the softmax's */
    const ptrdiff_t Cp = (C + FL_LANES - 1) / FL_LANES * FL_LANES;
    FL_REAL ebuf[SM_EBUF] __attribute__((aligned(64)));
    const int use_eb = C <= 512 && G * Cp <= SM_EBUF;
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += G) {
        ptrdiff_t g = nrows - r0 < G ? nrows - r0 : G;
        /* the group's maxima first (fast-path rows) */
        int fastj[FL_SM_GROUP_MAX];
        for (ptrdiff_t j = 0; j < g; j++)
            fastj[j] = FL_VFN(sm_minmax)(z + (r0 + j) * ldz, C, &mrow[j]);
        /* pass A: max, then exp, sums, e stored in grad */
        for (ptrdiff_t j = 0; j < g; j++) {
            const ptrdiff_t r = r0 + j;
            const FL_REAL *zr = z + r * ldz;
            const FL_REAL *tr = mode == SM_PROB ? t + r * ldt : NULL;
            FL_REAL *gr = !grad ? NULL : use_eb ? ebuf + j * Cp : grad + r * ldg;  /* e */
            const int fast = fastj[j];
            if (fast) {
                s1[j] = fast == 1 ? FL_VFN(sm_row_exp)(zr, C, mrow[j], gr, 0) : FL_VFN(sm_row_exp)(zr, C, mrow[j], gr, 1);
                sd[j] = sa[j] = 0.0;
                if (mode == SM_PROB || smooth) {
                    /* the target-weighted sums, sum coef (x - m) and sum coef,
                       in a pass without exp (x - m: finite, 0 at the max) */
                    const FL_VEC mv = FL_VFN(fl_splat)(mrow[j]);
                    vf64 accd = fl_splat_f64(0.0), acca = accd;
                    for (ptrdiff_t i = 0; i < C; i += FL_LANES) {
                        ptrdiff_t n = C - i < FL_LANES ? C - i : FL_LANES;
                        FL_VEC x = n == FL_LANES ? FL_VFN(fl_load)(zr + i) : FL_VFN(fl_load_part)(zr + i, n, mrow[j]);
                        FL_VEC coef = FL_VFN(sm_coef)(mode, smooth, has_w, tr, w, i, n, eps, epc);
                        if (n < FL_LANES)
                            coef = FL_VFN(fl_sel)(FL_VFN(fl_lanes_below)(n), coef, zero);
                        accd = FL_VFN(fl_acc)(accd, FL_VFN(fl_mulnz)(coef, x - mv));
                        if (mode == SM_PROB)
                            acca = FL_VFN(fl_acc)(acca, coef);
                    }
                    sd[j] = fl_hsum_f64(accd);
                    sa[j] = fl_hsum_f64(acca);
                }
                if (mode == SM_IDX && gr) {
                    int64_t y = idx[r * ldi];
                    ey[j] = (y != P->ignore_index) ? (double)gr[y] : 0.0;
                }
                continue;
            }
            FL_REAL m = FL_VFN(sm_rowmax)(zr, C);
            FL_VEC mv = FL_VFN(fl_splat)(m);
            vf64 acc = fl_splat_f64(0.0), accd = acc, acca = acc;
            FL_IVEC cnt = (FL_IVEC){0};
            for (ptrdiff_t i = 0; i < C; i += FL_LANES) {
                ptrdiff_t n = C - i < FL_LANES ? C - i : FL_LANES;
                FL_IVEC eq;
                FL_VEC d;
                FL_VEC e = FL_VFN(sm_chunk_slow)(zr, i, n, m, mv, &eq, &d);
                FL_IVEC in = FL_VFN(fl_lanes_below)(n);
                acc = FL_VFN(fl_acc)(acc, FL_VFN(fl_sel)(eq, zero, e));
                cnt += eq;
                if (mode == SM_PROB || smooth) {
                    FL_VEC coef = FL_VFN(sm_coef)(mode, smooth, has_w, tr, w, i, n, eps, epc);
                    coef = FL_VFN(fl_sel)(in, coef, zero);
                    accd = FL_VFN(fl_acc)(accd, FL_VFN(fl_mulnz)(coef, d));
                    if (mode == SM_PROB)
                        acca = FL_VFN(fl_acc)(acca, coef);
                }
                if (gr) {
                    FL_VFN(fl_store_n)(gr + i, e, n);
                }
            }
            double k = FL_VFN(sm_hcount)(cnt);
            mrow[j] = m;
            s1[j] = FL_VFN(sm_fix_s1)(fl_hsum_f64(acc) + (k - 1.0), m, k);
            sd[j] = fl_hsum_f64(accd);
            sa[j] = fl_hsum_f64(acca);
            if (mode == SM_IDX && gr) {
                int64_t y = idx[r * ldi];
                ey[j] = (y != P->ignore_index) ? (double)gr[y] : 0.0;
            }
        }
        FL_VFN(sm_log1p_group)(s1, lse, g);
        /* pass B: loss, then the gradient over the stored e */
        for (ptrdiff_t j = 0; j < g; j++) {
            const ptrdiff_t r = r0 + j;
            const FL_REAL *zr = z + r * ldz;
            const FL_REAL *tr = mode == SM_PROB ? t + r * ldt : NULL;
            FL_REAL *gr = grad ? grad + r * ldg : NULL;
            const FL_REAL *er = !grad ? NULL : use_eb ? ebuf + j * Cp : gr;
            double l, a, S = 1.0 + s1[j];
            int64_t y = -1;
            if (mode == SM_IDX) {
                y = idx[r * ldi];
                if (y == P->ignore_index) {
                    if (loss) loss[r * lds] = (FL_REAL)0;
                    if (gr) {
                        for (ptrdiff_t i = 0; i < C; i += FL_LANES) {
                            ptrdiff_t n = C - i < FL_LANES ? C - i : FL_LANES;
                            FL_VFN(fl_store_n)(gr + i, zero, n);
                        }
                    }
                    continue;
                }
                double wy = has_w ? (double)w[y] : 1.0;
                double zy = (double)zr[y], md = (double)mrow[j];
                double nll = lse[j] + (zy == md ? 0.0 : md - zy);
                l = smooth ? (1.0 - eps) * wy * nll + epc * (P->wall * lse[j] - sd[j]) : wy * nll;
                if (!has_w && !smooth) l = nll;
                a = smooth ? (1.0 - eps) * wy + epc * P->wall : wy;
            } else {
                l = sa[j] * lse[j] - sd[j];
                a = sa[j];
            }
            if (loss) loss[r * lds] = (FL_REAL)l;
            total += l;
            if (!gr)
                continue;
            FL_VEC fv = FL_VFN(fl_splat)((FL_REAL)(a * gs / S));
            const FL_REAL cs = (FL_REAL)(mode == SM_PROB ? gs : epc * gs);
            for (ptrdiff_t i = 0; i < C; i += FL_LANES) {
                ptrdiff_t n = C - i < FL_LANES ? C - i : FL_LANES;
                FL_VEC e = n == FL_LANES ? FL_VFN(fl_load)(er + i) : FL_VFN(fl_load_part)(er + i, n, (FL_REAL)0);
                FL_VEC gv = e * fv;
                if (mode == SM_PROB || smooth) {
                    gv = gv - FL_VFN(sm_coef)(mode, smooth, has_w, tr, w, i, n, eps, epc) * cs;
                }
                FL_VFN(fl_store_n)(gr + i, gv, n);
            }
            if (mode == SM_IDX) {
                /* g_y = gs ((eps/C)(wall - w_y) - a (1 - p_y)), 1 - p_y without cancellation */
                double wy = has_w ? (double)w[y] : 1.0;
                double q = ((double)zr[y] == (double)mrow[j] ? s1[j] : 1.0 + (s1[j] - ey[j])) / S;
                double gy = smooth ? epc * (P->wall - wy) - a * q : -a * q;
                gr[y] = (FL_REAL)(gs * gy);
            }
        }
    }
    return total;
}

static double FL_KERNEL(ce)(const fl_ce_params *P, const FL_REAL *z, ptrdiff_t ldz, const int64_t *idx,
                     ptrdiff_t ldi, const FL_REAL *t, ptrdiff_t ldt, FL_REAL *loss, ptrdiff_t lds,
                     FL_REAL *grad, ptrdiff_t ldg, ptrdiff_t nrows)
{
    const int has_w = P->w != NULL, smooth = P->eps != 0.0;
    if (P->C <= SM_SMALL_MAXC) {
        FL_REAL scratch[7 * SM_SMALL_SCRATCH * FL_LANES];
        return FL_VFN(rw_dispatch)(P, P->C, z, ldz, 1, idx, ldi, t, ldt, 1, loss, lds, grad, ldg, 1,
                               nrows, scratch, 2);
    }
    if (idx) {
#define FL_SM_CE_IDX(hw, sm)                                                   \
        return FL_VFN(ce_block)(P, z, ldz, idx, ldi, t, ldt, loss, lds, grad, ldg, nrows, \
                            SM_IDX, hw, sm)
        if (!has_w && !smooth) FL_SM_CE_IDX(0, 0);
        if (!has_w) FL_SM_CE_IDX(0, 1);
        if (!smooth) FL_SM_CE_IDX(1, 0);
        FL_SM_CE_IDX(1, 1);
#undef FL_SM_CE_IDX
    }
    if (!has_w && !smooth)
        return FL_VFN(ce_block)(P, z, ldz, idx, ldi, t, ldt, loss, lds, grad, ldg, nrows,
                            SM_PROB, 0, 0);
    return FL_VFN(ce_block)(P, z, ldz, idx, ldi, t, ldt, loss, lds, grad, ldg, nrows,
                        SM_PROB, has_w, 1);
}

/* ------------------ categorical cross-entropy on p -------------------- */

static double FL_KERNEL(cce)(const fl_ce_params *P, const FL_REAL *p, ptrdiff_t ldp, const int64_t *idx,
                      ptrdiff_t ldi, const FL_REAL *t, ptrdiff_t ldt, FL_REAL *loss, ptrdiff_t lds,
                      FL_REAL *grad, ptrdiff_t ldg, ptrdiff_t nrows, ptrdiff_t *first_bad)
{
    const ptrdiff_t C = P->C;
    const FL_REAL *w = (const FL_REAL *)P->w;
    const FL_REAL gs = (FL_REAL)P->gscale;
    const FL_VEC lo = FL_VFN(fl_splat)((FL_REAL)-100), tiny = FL_VFN(fl_splat)((FL_REAL)1e-12), zero = FL_VFN(fl_splat)((FL_REAL)0);
    double total = 0.0;
    *first_bad = -1;
    for (ptrdiff_t r = 0; r < nrows; r++) {
        const FL_REAL *pr = p + r * ldp;
        FL_REAL *gr = grad ? grad + r * ldg : NULL;
        int64_t y = idx ? idx[r * ldi] : -1;
        int ign = idx && y == P->ignore_index;
        vf64 acc = fl_splat_f64(0.0);
        for (ptrdiff_t i = 0; i < C; i += FL_LANES) {
            ptrdiff_t n = C - i < FL_LANES ? C - i : FL_LANES;
            FL_VEC x = n == FL_LANES ? FL_VFN(fl_load)(pr + i) : FL_VFN(fl_load_part)(pr + i, n, (FL_REAL)0.5);
            FL_IVEC bad = ~((x >= 0) & (x <= 1));
            if (*first_bad < 0 && FL_VFN(fl_any)(bad)) {
                for (ptrdiff_t c = i; c < i + n; c++)
                    if (!(pr[c] >= 0 && pr[c] <= 1)) {
                        *first_bad = r * C + c;
                        break;
                    }
            }
            if (idx) {
                if (gr) {
                    FL_VFN(fl_store_n)(gr + i, zero, n);
                }
                continue;
            }
            FL_VEC tv = n == FL_LANES ? FL_VFN(fl_load)(t + r * ldt + i) : FL_VFN(fl_load_part)(t + r * ldt + i, n, (FL_REAL)0);
            if (w)
                tv = tv * (n == FL_LANES ? FL_VFN(fl_load)(w + i) : FL_VFN(fl_load_part)(w + i, n, (FL_REAL)0));
            FL_VEC lp = FL_VFN(fl_log)(x);
            lp = FL_VFN(fl_sel)(lp > lo, lp, lo);
            FL_VEC l = -(tv * lp);
            if (n < FL_LANES)
                l = FL_VFN(fl_sel)(FL_VFN(fl_lanes_below)(n), l, zero);
            acc = FL_VFN(fl_acc)(acc, l);
            if (gr) {
                FL_VEC gv = -(tv / FL_VFN(fl_sel)(x > tiny, x, tiny)) * gs;
                FL_VFN(fl_store_n)(gr + i, gv, n);
            }
        }
        double l;
        if (idx) {
            l = 0.0;
            if (!ign) {
                double wy = w ? (double)w[y] : 1.0;
                double py = (double)pr[y];
                double lp = (double)FL_VFN(fl_log)(FL_VFN(fl_splat)(pr[y]))[0];
                if (lp < -100.0) lp = -100.0;
                l = -wy * lp;
                if (gr)
                    gr[y] = (FL_REAL)(-wy / (py > 1e-12 ? py : 1e-12) * (double)gs);
            }
        } else {
            l = fl_hsum_f64(acc);
        }
        if (loss) loss[r * lds] = (FL_REAL)l;
        total += l;
    }
    return total;
}

/* ---------------- any strides (class axis not contiguous) ---------------- */

static void FL_KERNEL(softmax_s)(const FL_REAL *z, ptrdiff_t zrs, ptrdiff_t zcs, FL_REAL *y, ptrdiff_t yrs,
                          ptrdiff_t ycs, ptrdiff_t nrows, ptrdiff_t C, int log_, FL_REAL *scratch)
{
    FL_VFN(rw_dispatch)(NULL, C, z, zrs, zcs, NULL, 0, NULL, 0, 0, NULL, 0, y, yrs, ycs, nrows,
                    scratch, log_ ? 1 : 0);
}

static double FL_KERNEL(ce_s)(const fl_ce_params *P, const FL_REAL *z, ptrdiff_t zrs, ptrdiff_t zcs,
                       const int64_t *idx, ptrdiff_t ldi, const FL_REAL *t, ptrdiff_t trs,
                       ptrdiff_t tcs, FL_REAL *loss, ptrdiff_t lds, FL_REAL *grad, ptrdiff_t grs,
                       ptrdiff_t gcs, ptrdiff_t nrows, FL_REAL *scratch)
{
    return FL_VFN(rw_dispatch)(P, P->C, z, zrs, zcs, idx, ldi, t, trs, tcs, loss, lds, grad, grs,
                           gcs, nrows, scratch, 2);
}

#if FL_T == 64
static ptrdiff_t FL_XCAT2(count_targets, FL_ISA)(const int64_t *y, ptrdiff_t n, int64_t C,
                                                 int64_t ignore, ptrdiff_t *bad)
{
    return fl_count_targets(y, n, C, ignore, bad);
}
#endif

static void FL_XCAT3(fill_softmax, FL_S, FL_ISA)(fl_softmax_table *tb)
{
#if FL_T == 64
    tb->count_targets = FL_XCAT2(count_targets, FL_ISA);
#endif
    tb->FL_XCAT2(lanes_maxc, FL_S) = SM_SMALL_MAXC;
    tb->FL_XCAT2(softmax_s, FL_S) = FL_KERNEL(softmax_s);
    tb->FL_XCAT2(ce_s, FL_S) = FL_KERNEL(ce_s);
    tb->FL_XCAT2(softmax, FL_S) = FL_KERNEL(softmax);
    tb->FL_XCAT2(ce, FL_S) = FL_KERNEL(ce);
    tb->FL_XCAT2(cce, FL_S) = FL_KERNEL(cce);
}

