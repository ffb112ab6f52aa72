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
#ifndef SM_SMALL_MAXC
#define SM_SMALL_MAXC 32
#endif
enum { SM_IDX = 0, SM_PROB = 1 };
#endif /* FL_SM_ONCE */


/* NaN-propagating max */
FL_INLINE V VF(sm_vmax)(V a, V b) { return VF(fl_sel)((a > b) | (a != a), a, b); }

FL_INLINE T VF(sm_hmax)(V v)
{
    T m = v[0];
    for (ptrdiff_t j = 1; j < L; j++)
        m = (v[j] > m || v[j] != v[j]) ? v[j] : m;
    return m;
}

FL_INLINE double VF(sm_hcount)(VI c)
{
    long long s = 0;
    for (ptrdiff_t j = 0; j < L; j++)
        s += c[j];
    return (double)(-s);
}

/* max of a row of C >= 1 elements (NaN if any is NaN) */
FL_INLINE T VF(sm_rowmax)(const T *z, ptrdiff_t C)
{
    V vm = VF(fl_splat)(-(T)__builtin_inf());
    ptrdiff_t i = 0;
    for (; i + L <= C; i += L)
        vm = VF(sm_vmax)(vm, VF(fl_load)(z + i));
    if (i < C)
        vm = VF(sm_vmax)(vm, VF(fl_load_part)(z + i, C - i, -(T)__builtin_inf()));
    return VF(sm_hmax)(vm);
}

/* e = exp(x - m) from the exact difference; *eq: lanes with x == m
   (e = 1 there), *d: x - m rounded (0 on eq lanes) */
FL_INLINE V VF(sm_expdiff)(V x, V mv, VI *eq, V *d)
{
    V hi = x - mv;
    V bb = hi - x;
    V lo = (x - (hi - bb)) + (-mv - bb);
    lo = VF(fl_sel)(lo == lo, lo, VF(fl_splat)((T)0));
    V e = VF(fl_exp)(hi);
    e = e + e * lo;
    VI q = x == mv;
    *eq = q;
    *d = VF(fl_sel)(q, VF(fl_splat)((T)0), hi);
    return VF(fl_sel)(q, VF(fl_splat)((T)1), e);
}

/* S1 -> NaN for indeterminate rows (max -inf, or +inf more than once) */
FL_INLINE double VF(sm_fix_s1)(double s1, T m, double k)
{
    if (m == -(T)__builtin_inf() || (m == (T)__builtin_inf() && k > 1))
        return __builtin_nan("");
    return s1;
}

/* lse[j] = log1p(s1[j]) for j < g (g <= FL_L64) */
FL_INLINE void VF(sm_log1p_group)(const double *s1, double *lse, ptrdiff_t g)
{
    double buf[FL_SM_GROUP_MAX > FL_L64 ? FL_SM_GROUP_MAX : FL_L64];
    for (ptrdiff_t j = 0; j < FL_L64; j++)
        buf[j] = j < g ? s1[j] : 0.0;
    vf64 r = fl_log1p_f64(fl_load_f64(buf));
    fl_store_f64(buf, r);
    for (ptrdiff_t j = 0; j < g; j++)
        lse[j] = buf[j];
}

#include "fl_softmax_rows.h"

FL_INLINE ptrdiff_t VF(sm_group)(ptrdiff_t C)
{
    return C <= 512 ? (FL_L64 < FL_SM_GROUP_MAX ? FL_L64 : FL_SM_GROUP_MAX) : 1;
}


/* ------------------------- softmax / log_softmax ------------------------- */

static void FN(softmax)(const T *z, ptrdiff_t ldz, T *y, ptrdiff_t ldy, ptrdiff_t nrows,
                        ptrdiff_t C, int log_)
{
    if (C <= SM_SMALL_MAXC) {
        T scratch[5 * SM_SMALL_MAXC * L];
        VF(rw_dispatch)(NULL, C, z, ldz, 1, NULL, 0, NULL, 0, 0, NULL, 0, y, ldy, 1, nrows,
                        scratch, log_ ? 1 : 0);
        return;
    }
    const ptrdiff_t G = VF(sm_group)(C);
    T mrow[FL_SM_GROUP_MAX];
    double s1[FL_SM_GROUP_MAX], lse[FL_SM_GROUP_MAX];
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += G) {
        ptrdiff_t g = nrows - r0 < G ? nrows - r0 : G;
        for (ptrdiff_t j = 0; j < g; j++) {
            const T *zr = z + (r0 + j) * ldz;
            T *yr = y + (r0 + j) * ldy;
            T m = VF(sm_rowmax)(zr, C);
            V mv = VF(fl_splat)(m);
            vf64 acc = fl_splat_f64(0.0);
            VI cnt = (VI){0};
            ptrdiff_t i = 0;
            for (; i < C; i += L) {
                ptrdiff_t n = C - i < L ? C - i : L;
                V x = n == L ? VF(fl_load)(zr + i) : VF(fl_load_part)(zr + i, n, m); /* fill m: no exp underflow (slow) */
                VI eq;
                V d;
                V e = VF(sm_expdiff)(x, mv, &eq, &d);
                if (n < L) {
                    VI in = VF(fl_lanes_below)(n);
                    eq &= in;
                    e = VF(fl_sel)(in, e, VF(fl_splat)((T)0));
                }
                acc = VF(fl_acc)(acc, VF(fl_sel)(eq, VF(fl_splat)((T)0), e));
                cnt += eq;
                if (!log_) {
                    if (n == L)
                        VF(fl_store)(yr + i, e);
                    else
                        VF(fl_store_part)(yr + i, e, n);
                }
            }
            double k = VF(sm_hcount)(cnt);
            mrow[j] = m;
            s1[j] = VF(sm_fix_s1)(fl_hsum_f64(acc) + (k - 1.0), m, k);
        }
        if (log_)
            VF(sm_log1p_group)(s1, lse, g);
        for (ptrdiff_t j = 0; j < g; j++) {
            const T *zr = z + (r0 + j) * ldz;
            T *yr = y + (r0 + j) * ldy;
            if (log_) {
                V mv = VF(fl_splat)(mrow[j]);
                V lv = VF(fl_splat)((T)lse[j]);
                for (ptrdiff_t i = 0; i < C; i += L) {
                    ptrdiff_t n = C - i < L ? C - i : L;
                    V x = n == L ? VF(fl_load)(zr + i) : VF(fl_load_part)(zr + i, n, (T)0);
                    V d = VF(fl_sel)(x == mv, VF(fl_splat)((T)0), x - mv) - lv;
                    if (n == L)
                        VF(fl_store)(yr + i, d);
                    else
                        VF(fl_store_part)(yr + i, d, n);
                }
            } else {
                V sv = VF(fl_splat)((T)(1.0 + s1[j]));
                for (ptrdiff_t i = 0; i < C; i += L) {
                    ptrdiff_t n = C - i < L ? C - i : L;
                    if (n == L)
                        VF(fl_store)(yr + i, VF(fl_load)(yr + i) / sv);
                    else
                        VF(fl_store_part)(yr + i, VF(fl_load_part)(yr + i, n, (T)1) / sv, n);
                }
            }
        }
    }
}

/* --------------------------- cross-entropy ---------------------------- */


/*
 * Index targets y: loss = (1 - eps) w_y (-log p_y) + (eps / C) sum_c w_c (-log p_c),
 *   grad_c = gs (a p_c - (1 - eps) w_y [c == y] - (eps / C) w_c),
 *   a = (1 - eps) w_y + (eps / C) wall.
 * Probability targets t' = (1 - eps) t + eps / C:
 *   loss = sum_c w_c t'_c (-log p_c), grad_c = gs (a p_c - w_c t'_c), a = sum_c w_c t'_c.
 * -log p_c = lse - d_c with lse = log1p(S1); terms with a zero coefficient are 0.
 */
FL_INLINE double VF(ce_block)(const fl_ce_params *P, const T *z, ptrdiff_t ldz,
                              const int64_t *idx, ptrdiff_t ldi, const T *t,
                              ptrdiff_t ldt, T *loss, ptrdiff_t lds, T *grad,
                              ptrdiff_t ldg, ptrdiff_t nrows, const int mode,
                              const int has_w, const int smooth)
{
    const ptrdiff_t C = P->C;
    const T *w = (const T *)P->w;
    const double eps = smooth ? P->eps : 0.0, epc = eps / (double)C;
    const double gs = P->gscale;
    const ptrdiff_t G = VF(sm_group)(C);
    const V zero = VF(fl_splat)((T)0);
    T mrow[FL_SM_GROUP_MAX];
    double s1[FL_SM_GROUP_MAX], lse[FL_SM_GROUP_MAX], sd[FL_SM_GROUP_MAX],
        sa[FL_SM_GROUP_MAX], ey[FL_SM_GROUP_MAX];
    double total = 0.0;
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += G) {
        ptrdiff_t g = nrows - r0 < G ? nrows - r0 : G;
        /* pass A: max, then exp, sums, e stored in grad */
        for (ptrdiff_t j = 0; j < g; j++) {
            const ptrdiff_t r = r0 + j;
            const T *zr = z + r * ldz;
            const T *tr = mode == SM_PROB ? t + r * ldt : NULL;
            T *gr = grad ? grad + r * ldg : NULL;
            T m = VF(sm_rowmax)(zr, C);
            V mv = VF(fl_splat)(m);
            vf64 acc = fl_splat_f64(0.0), accd = acc, acca = acc;
            VI cnt = (VI){0};
            for (ptrdiff_t i = 0; i < C; i += L) {
                ptrdiff_t n = C - i < L ? C - i : L;
                V x = n == L ? VF(fl_load)(zr + i) : VF(fl_load_part)(zr + i, n, m); /* fill m: no exp underflow (slow) */
                VI eq;
                V d;
                V e = VF(sm_expdiff)(x, mv, &eq, &d);
                VI in = VF(fl_lanes_below)(n);
                if (n < L) {
                    eq &= in;
                    e = VF(fl_sel)(in, e, zero);
                }
                acc = VF(fl_acc)(acc, VF(fl_sel)(eq, zero, e));
                cnt += eq;
                if (mode == SM_PROB || smooth) {
                    V coef;
                    if (mode == SM_PROB) {
                        V tv = n == L ? VF(fl_load)(tr + i) : VF(fl_load_part)(tr + i, n, (T)0);
                        if (smooth)
                            tv = tv * (T)(1.0 - eps) + (T)epc;
                        coef = has_w ? tv * (n == L ? VF(fl_load)(w + i) : VF(fl_load_part)(w + i, n, (T)0)) : tv;
                    } else {
                        coef = has_w ? (n == L ? VF(fl_load)(w + i) : VF(fl_load_part)(w + i, n, (T)0))
                                     : VF(fl_splat)((T)1);
                    }
                    coef = VF(fl_sel)(in, coef, zero);
                    accd = VF(fl_acc)(accd, FL_XCAT2(FL_MULNZ, FL_S)(coef, d));
                    if (mode == SM_PROB)
                        acca = VF(fl_acc)(acca, coef);
                }
                if (gr) {
                    if (n == L)
                        VF(fl_store)(gr + i, e);
                    else
                        VF(fl_store_part)(gr + i, e, n);
                }
            }
            double k = VF(sm_hcount)(cnt);
            mrow[j] = m;
            s1[j] = VF(sm_fix_s1)(fl_hsum_f64(acc) + (k - 1.0), m, k);
            sd[j] = fl_hsum_f64(accd);
            sa[j] = fl_hsum_f64(acca);
            if (mode == SM_IDX && gr) {
                int64_t y = idx[r * ldi];
                ey[j] = (y != P->ignore_index) ? (double)gr[y] : 0.0;
            }
        }
        VF(sm_log1p_group)(s1, lse, g);
        /* pass B: loss, then the gradient over the stored e */
        for (ptrdiff_t j = 0; j < g; j++) {
            const ptrdiff_t r = r0 + j;
            const T *zr = z + r * ldz;
            const T *tr = mode == SM_PROB ? t + r * ldt : NULL;
            T *gr = grad ? grad + r * ldg : NULL;
            double l, a, S = 1.0 + s1[j];
            int64_t y = -1;
            if (mode == SM_IDX) {
                y = idx[r * ldi];
                if (y == P->ignore_index) {
                    if (loss) loss[r * lds] = (T)0;
                    if (gr) {
                        for (ptrdiff_t i = 0; i < C; i += L) {
                            ptrdiff_t n = C - i < L ? C - i : L;
                            if (n == L)
                                VF(fl_store)(gr + i, zero);
                            else
                                VF(fl_store_part)(gr + i, zero, n);
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
            if (loss) loss[r * lds] = (T)l;
            total += l;
            if (!gr)
                continue;
            V fv = VF(fl_splat)((T)(a * gs / S));
            const T cs = (T)(mode == SM_PROB ? gs : epc * gs);
            for (ptrdiff_t i = 0; i < C; i += L) {
                ptrdiff_t n = C - i < L ? C - i : L;
                V e = n == L ? VF(fl_load)(gr + i) : VF(fl_load_part)(gr + i, n, (T)0);
                V gv = e * fv;
                if (mode == SM_PROB) {
                    V tv = n == L ? VF(fl_load)(tr + i) : VF(fl_load_part)(tr + i, n, (T)0);
                    if (smooth)
                        tv = tv * (T)(1.0 - eps) + (T)epc;
                    if (has_w)
                        tv = tv * (n == L ? VF(fl_load)(w + i) : VF(fl_load_part)(w + i, n, (T)0));
                    gv = gv - tv * cs;
                } else if (smooth) {
                    V wv = has_w ? (n == L ? VF(fl_load)(w + i) : VF(fl_load_part)(w + i, n, (T)0))
                                 : VF(fl_splat)((T)1);
                    gv = gv - wv * cs;
                }
                if (n == L)
                    VF(fl_store)(gr + i, gv);
                else
                    VF(fl_store_part)(gr + i, gv, n);
            }
            if (mode == SM_IDX) {
                /* g_y = gs ((eps/C)(wall - w_y) - a (1 - p_y)), 1 - p_y without cancellation */
                double wy = has_w ? (double)w[y] : 1.0;
                double q = ((double)zr[y] == (double)mrow[j] ? s1[j] : 1.0 + (s1[j] - ey[j])) / S;
                double gy = smooth ? epc * (P->wall - wy) - a * q : -a * q;
                gr[y] = (T)(gs * gy);
            }
        }
    }
    return total;
}

static double FN(ce)(const fl_ce_params *P, const T *z, ptrdiff_t ldz, const int64_t *idx,
                     ptrdiff_t ldi, const T *t, ptrdiff_t ldt, T *loss, ptrdiff_t lds,
                     T *grad, ptrdiff_t ldg, ptrdiff_t nrows)
{
    const int has_w = P->w != NULL, smooth = P->eps != 0.0;
    if (P->C <= SM_SMALL_MAXC) {
        T scratch[5 * SM_SMALL_MAXC * L];
        return VF(rw_dispatch)(P, P->C, z, ldz, 1, idx, ldi, t, ldt, 1, loss, lds, grad, ldg, 1,
                               nrows, scratch, 2);
    }
    if (idx) {
#define FL_SM_CE_IDX(hw, sm)                                                   \
        return VF(ce_block)(P, z, ldz, idx, ldi, t, ldt, loss, lds, grad, ldg, nrows, \
                            SM_IDX, hw, sm)
        if (!has_w && !smooth) FL_SM_CE_IDX(0, 0);
        if (!has_w) FL_SM_CE_IDX(0, 1);
        if (!smooth) FL_SM_CE_IDX(1, 0);
        FL_SM_CE_IDX(1, 1);
#undef FL_SM_CE_IDX
    }
    if (!has_w && !smooth)
        return VF(ce_block)(P, z, ldz, idx, ldi, t, ldt, loss, lds, grad, ldg, nrows,
                            SM_PROB, 0, 0);
    return VF(ce_block)(P, z, ldz, idx, ldi, t, ldt, loss, lds, grad, ldg, nrows,
                        SM_PROB, has_w, 1);
}

/* ------------------ categorical cross-entropy on p -------------------- */

static double FN(cce)(const fl_ce_params *P, const T *p, ptrdiff_t ldp, const int64_t *idx,
                      ptrdiff_t ldi, const T *t, ptrdiff_t ldt, T *loss, ptrdiff_t lds,
                      T *grad, ptrdiff_t ldg, ptrdiff_t nrows, ptrdiff_t *first_bad)
{
    const ptrdiff_t C = P->C;
    const T *w = (const T *)P->w;
    const T gs = (T)P->gscale;
    const V lo = VF(fl_splat)((T)-100), tiny = VF(fl_splat)((T)1e-12), zero = VF(fl_splat)((T)0);
    double total = 0.0;
    *first_bad = -1;
    for (ptrdiff_t r = 0; r < nrows; r++) {
        const T *pr = p + r * ldp;
        T *gr = grad ? grad + r * ldg : NULL;
        int64_t y = idx ? idx[r * ldi] : -1;
        int ign = idx && y == P->ignore_index;
        vf64 acc = fl_splat_f64(0.0);
        for (ptrdiff_t i = 0; i < C; i += L) {
            ptrdiff_t n = C - i < L ? C - i : L;
            V x = n == L ? VF(fl_load)(pr + i) : VF(fl_load_part)(pr + i, n, (T)0.5);
            VI bad = ~((x >= 0) & (x <= 1));
            if (*first_bad < 0 && VF(fl_any)(bad)) {
                for (ptrdiff_t c = i; c < i + n; c++)
                    if (!(pr[c] >= 0 && pr[c] <= 1)) {
                        *first_bad = r * C + c;
                        break;
                    }
            }
            if (idx) {
                if (gr) {
                    if (n == L)
                        VF(fl_store)(gr + i, zero);
                    else
                        VF(fl_store_part)(gr + i, zero, n);
                }
                continue;
            }
            V tv = n == L ? VF(fl_load)(t + r * ldt + i) : VF(fl_load_part)(t + r * ldt + i, n, (T)0);
            if (w)
                tv = tv * (n == L ? VF(fl_load)(w + i) : VF(fl_load_part)(w + i, n, (T)0));
            V lp = VF(fl_log)(x);
            lp = VF(fl_sel)(lp > lo, lp, lo);
            V l = -(tv * lp);
            if (n < L)
                l = VF(fl_sel)(VF(fl_lanes_below)(n), l, zero);
            acc = VF(fl_acc)(acc, l);
            if (gr) {
                V gv = -(tv / VF(fl_sel)(x > tiny, x, tiny)) * gs;
                if (n == L)
                    VF(fl_store)(gr + i, gv);
                else
                    VF(fl_store_part)(gr + i, gv, n);
            }
        }
        double l;
        if (idx) {
            l = 0.0;
            if (!ign) {
                double wy = w ? (double)w[y] : 1.0;
                double py = (double)pr[y];
                double lp = (double)VF(fl_log)(VF(fl_splat)(pr[y]))[0];
                if (lp < -100.0) lp = -100.0;
                l = -wy * lp;
                if (gr)
                    gr[y] = (T)(-wy / (py > 1e-12 ? py : 1e-12) * (double)gs);
            }
        } else {
            l = fl_hsum_f64(acc);
        }
        if (loss) loss[r * lds] = (T)l;
        total += l;
    }
    return total;
}

/* ---------------- any strides (class axis not contiguous) ---------------- */

static void FN(softmax_s)(const T *z, ptrdiff_t zrs, ptrdiff_t zcs, T *y, ptrdiff_t yrs,
                          ptrdiff_t ycs, ptrdiff_t nrows, ptrdiff_t C, int log_, T *scratch)
{
    VF(rw_dispatch)(NULL, C, z, zrs, zcs, NULL, 0, NULL, 0, 0, NULL, 0, y, yrs, ycs, nrows,
                    scratch, log_ ? 1 : 0);
}

static double FN(ce_s)(const fl_ce_params *P, const T *z, ptrdiff_t zrs, ptrdiff_t zcs,
                       const int64_t *idx, ptrdiff_t ldi, const T *t, ptrdiff_t trs,
                       ptrdiff_t tcs, T *loss, ptrdiff_t lds, T *grad, ptrdiff_t grs,
                       ptrdiff_t gcs, ptrdiff_t nrows, T *scratch)
{
    return VF(rw_dispatch)(P, P->C, z, zrs, zcs, idx, ldi, t, trs, tcs, loss, lds, grad, grs,
                           gcs, nrows, scratch, 2);
}

static void FL_XCAT3(fill_softmax, FL_S, FL_ISA)(fl_softmax_table *tb)
{
    tb->FL_XCAT2(softmax_s, FL_S) = FN(softmax_s);
    tb->FL_XCAT2(ce_s, FL_S) = FN(ce_s);
    tb->FL_XCAT2(softmax, FL_S) = FN(softmax);
    tb->FL_XCAT2(ce, FL_S) = FN(ce);
    tb->FL_XCAT2(cce, FL_S) = FN(cce);
}

