# The "cython" kernel level's arithmetic: one nogil inline function per point
# (the elementwise functions, binary cross-entropy) or per row (softmax and
# the cross-entropies), fused over float and double, in the style of
# scikit-learn's sklearn/_loss.  Included by _kernels.pyx (through
# _cylevel_table.pxi: the level's kernel table, which every entry point calls)
# and by _cylevel.pyx (typed-memoryview loops with prange over the same
# functions), so both forms compute each element with the same code.
#
# The formulas are the C core's (core/fl_kernels_impl.h, fl_softmax_impl.h,
# the math of docs/architecture.md), written with libm's exp, log and log1p and evaluated
# in float64 for both element types: a float32 result is rounded once, at
# the end.  Every exception is a plain value: limits at +-inf are exact, NaN
# in gives NaN out.  Needs cdivision=True (1 / 0 is inf, not an exception).
#
# Needs fl_ce_params (_softmax_decl.pxi) declared before it is included.
from libc.math cimport exp, expl, log, log1p, fabs, NAN, INFINITY
from libc.stdint cimport int64_t
from cython cimport floating

cdef enum:
    CY_LOSS = 1             # the BCE points' `want` bits (BCEL_* in the C core)
    CY_GRAD = 2
    CY_HESS = 4

# PyTorch floors the BCE gradient's denominator at the float 1e-12, for both
# dtypes (9.999999960041972e-13)
cdef double CY_BCE_EPS = <double>(<float>1e-12)


# --------------------------- elementwise points ---------------------------

cdef inline double cy_pos(double x) noexcept nogil:
    """max(x, 0) (0 for NaN, as fl_pos)"""
    return x if x > 0.0 else 0.0


# Quotients by 1 + e and (1 + e)^2.  Plain e / (1 + e) rounds three times
# (1 + e, the quotient, and exp's error passes through whole): measured 2.38
# ULP at worst (float64, 4e6 points in (-40, 0), against long double), and
# e / ((1 + e)(1 + e)) 4.02; the C core corrects its quotient with an FMA
# residual.  Without FMA (baseline x86-64, MSVC) the same correction comes
# from Dekker's exact product: 1 + e is carried as d + dl (exact), the
# quotient q = num / d is corrected by its remainder num - q (d + dl),
# leaving exp's error and one rounding: 1.48 and 1.46 ULP at worst on 6e6
# points over the whole range (q from a reciprocal and a product: the
# correction makes up for the extra rounding, and one division is saved).
# float32 results take the plain quotients in float64: 29 spare bits.

cdef inline void cy_two_prod(double a, double b, double *p, double *err) noexcept nogil:
    """p + err = a b exactly (Dekker's product, Veltkamp's splitting; |a|,
    |b| well below 2^996)"""
    cdef double c, ah, al, bh, bl
    p[0] = a * b
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    err[0] = ((ah * bh - p[0]) + ah * bl + al * bh) + al * bl


cdef inline double cy_div_dd(double num, double dh, double dl) noexcept nogil:
    """num / (dh + dl) for a small dl: q = num (1 / dh) corrected by its
    remainder num - q (dh + dl), exact but for the dl term (to about half
    an ulp; one division); NaN in, NaN out"""
    cdef double r = 1.0 / dh, ph, pl
    cdef double q = num * r
    cy_two_prod(q, dh, &ph, &pl)
    return q + (((num - ph) - pl) - q * dl) * r


cdef inline double cy_sigmoid_e(double x, double e) noexcept nogil:
    """s(x) from e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) below"""
    cdef double d = 1.0 + e
    return cy_div_dd(1.0 if x >= 0.0 else e, d, (1.0 - d) + e)


cdef inline double cy_sigmoid_grad_e(double e) noexcept nogil:
    """s(x) s(-x) = e / (1 + e)^2 from e = exp(-|x|), never s (1 - s)"""
    cdef double d = 1.0 + e, dl = (1.0 - d) + e, sh, sl
    cy_two_prod(d, d, &sh, &sl)
    return cy_div_dd(e, sh, sl + 2.0 * d * dl)


cdef inline floating cy_sigmoid(floating x) noexcept nogil:
    """1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|)"""
    cdef double xd = x
    cdef double e = exp(-fabs(xd))
    if floating is float:
        return <floating>((1.0 if xd >= 0.0 else e) / (1.0 + e))
    else:
        return <floating>cy_sigmoid_e(xd, e)


cdef inline floating cy_log_sigmoid(floating x) noexcept nogil:
    """min(x, 0) - log1p(exp(-|x|))"""
    cdef double xd = x
    return <floating>(-cy_pos(-xd) - log1p(exp(-fabs(xd))))


cdef inline floating cy_softplus(floating x) noexcept nogil:
    """max(x, 0) + log1p(exp(-|x|))"""
    cdef double xd = x
    return <floating>(cy_pos(xd) + log1p(exp(-fabs(xd))))


cdef extern from "<float.h>":
    int LDBL_MANT_DIG


cdef inline floating cy_sigmoid_grad(floating x) noexcept nogil:
    """s(x) s(-x) = e / (1 + e)^2, never s (1 - s).  float64 where long
    double is wider (x87's 64 bits; aarch64's 113, in software: slower,
    but this level is the reference, not the fast path): with expl, so
    that exp's own rounding (up to half an ULP of float64, passed through
    whole in the tail) does not reach the result, rounded once to float64
    (the vector levels carry that rounding as a correction term instead);
    elsewhere (MSVC, Apple's arm64: long double is float64) the
    double-double quotient (1.4 ULP at worst on x86-64)"""
    cdef double e
    cdef long double el
    if floating is float:
        e = exp(-fabs(<double>x))
        return <floating>(e / ((1.0 + e) * (1.0 + e)))
    elif LDBL_MANT_DIG >= 64:
        el = expl(-<long double>fabs(x))
        return <floating>(el / ((1 + el) * (1 + el)))
    else:
        return <floating>cy_sigmoid_grad_e(exp(-fabs(x)))


cdef inline floating cy_logit(floating p) noexcept nogil:
    """log(p / (1 - p)); for p in [1/4, 3/4] log1p(d) - log1p(-d), d = 2p - 1
    (exact), which keeps the digits of a result near 0; NaN outside [0, 1]"""
    cdef double pd = p, d
    if not (pd >= 0.0 and pd <= 1.0):
        return <floating>NAN
    if pd >= 0.25 and pd <= 0.75:
        d = (pd + pd) - 1.0
        return <floating>(log1p(d) - log1p(-d))
    return <floating>log(pd / (1.0 - pd))


# ----------------------------- binary points ------------------------------

cdef inline void cy_bcel(floating x, floating t, floating w, floating pw, double gs,
                         int want, floating *loss, floating *grad,
                         floating *hess) noexcept nogil:
    """Binary cross-entropy with logits at one point, the CY_* parts in
    `want`: with a = pw t, b = 1 - t, e = exp(-|x|),
    loss = w (a softplus(-x) + b softplus(x)) (a zero coefficient gives a
    zero term, also where softplus is inf: exact limits),
    grad = gs w (b s(x) - a s(-x)) = gs w (b - a e) / (1 + e) (x >= 0) or
    gs w (b e - a) / (1 + e) (x < 0),
    hess = gs w (a + b) e / (1 + e)^2."""
    cdef double xd = x, a = <double>pw * <double>t, b = 1.0 - <double>t, wd = w
    cdef double e = exp(-fabs(xd)), l1p, la, lb, d
    if want & CY_LOSS:
        l1p = log1p(e)
        la = a * (cy_pos(-xd) + l1p) if a != 0.0 else 0.0
        lb = b * (cy_pos(xd) + l1p) if b != 0.0 else 0.0
        loss[0] = <floating>(wd * (la + lb))
    if want & CY_GRAD:
        d = 1.0 + e
        if floating is float:
            grad[0] = <floating>((wd * (((b * e - a) if xd < 0.0 else (b - a * e)) / d)) * gs)
        else:
            grad[0] = <floating>((wd * cy_div_dd((b * e - a) if xd < 0.0 else (b - a * e),
                                                 d, (1.0 - d) + e)) * gs)
    if want & CY_HESS:
        if floating is float:
            hess[0] = <floating>((wd * ((a + b) * (e / ((1.0 + e) * (1.0 + e))))) * gs)
        else:
            hess[0] = <floating>((wd * ((a + b) * cy_sigmoid_grad_e(e))) * gs)


cdef inline double cy_clamp_log(double v) noexcept nogil:
    """v where v > -100, else -100 (also for NaN: the C core's select)"""
    return v if v > -100.0 else -100.0


cdef inline void cy_bce(floating p, floating t, floating w, double gs, int want,
                        floating *loss, floating *grad) noexcept nogil:
    """Binary cross-entropy on a probability, PyTorch's definition:
    loss = w ((t - 1) max(log1p(-p), -100) - t max(log(p), -100)),
    grad = gs w (p - t) / max((1 - p) p, float 1e-12)."""
    cdef double pd = p, td = t, d
    if want & CY_LOSS:
        loss[0] = <floating>(<double>w * ((td - 1.0) * cy_clamp_log(log1p(-pd))
                                          - td * cy_clamp_log(log(pd))))
    if want & CY_GRAD:
        d = (1.0 - pd) * pd
        grad[0] = <floating>((((pd - td) / (d if d > CY_BCE_EPS else CY_BCE_EPS)) * <double>w) * gs)


# ------------------------------ row points --------------------------------
# A row of C classes, contiguous.  Per row, with m = max_c z_c:
#   e_c = exp(z_c - m) from the exact difference hi + lo (TwoSum), as
#   exp(hi) (1 + lo); k = the number of c with z_c == m; S1 = the sum of the
#   other e_c + (k - 1), so that sum_c e_c = 1 + S1 and log-sum-exp =
#   m + log1p(S1).  A row with one +inf gives the one-hot limit; a row whose
#   maximum is -inf, or +inf more than once, gives NaN; NaN anywhere in a row
#   gives NaN for the row.

cdef inline double cy_rowmax(const floating *z, Py_ssize_t C) noexcept nogil:
    """max of the row, NaN if any element is NaN"""
    cdef double m = -INFINITY, v
    cdef Py_ssize_t c
    for c in range(C):
        v = z[c]
        if v > m or v != v:
            m = v
    return m


cdef inline double cy_expdiff(double x, double m, bint *eq, double *d) noexcept nogil:
    """exp(x - m) from the exact difference; eq: x == m (then 1); d: x - m
    rounded (0 where eq)"""
    cdef double hi = x - m
    cdef double bb = hi - x
    cdef double lo = (x - (hi - bb)) + (-m - bb)
    cdef double e
    if lo != lo:
        lo = 0.0
    if x == m:
        eq[0] = True
        d[0] = 0.0
        return 1.0
    eq[0] = False
    d[0] = hi
    e = exp(hi)
    return e + e * lo


cdef inline double cy_fix_s1(double s1, double m, double k) noexcept nogil:
    """S1 -> NaN for an indeterminate row (max -inf, or +inf more than once)"""
    if m == -INFINITY or (m == INFINITY and k > 1):
        return NAN
    return s1


cdef inline void cy_softmax_row(const floating *z, floating *y, Py_ssize_t C,
                                int log_) noexcept nogil:
    """y = softmax(z) (log_ = 0) or log_softmax(z) (log_ = 1); y may be z.
    softmax: e_c / (1 + S1); log_softmax: (z_c - m) - log1p(S1)."""
    cdef double m = cy_rowmax(z, C), s = 0.0, k = 0.0, e, d, s1, lse, S, x
    cdef bint eq
    cdef Py_ssize_t c
    for c in range(C):
        e = cy_expdiff(z[c], m, &eq, &d)
        if eq:
            k += 1.0
        else:
            s += e
        if not log_ and floating is double:
            y[c] = e                    # kept for the division (exact in double)
    s1 = cy_fix_s1(s + (k - 1.0), m, k)
    if log_:
        lse = log1p(s1)
        for c in range(C):
            x = z[c]
            y[c] = <floating>((0.0 if x == m else x - m) - lse)
    else:
        S = 1.0 + s1
        for c in range(C):
            if floating is double:
                y[c] = y[c] / S
            else:
                # float: e again in float64, rounded once
                y[c] = <floating>(cy_expdiff(z[c], m, &eq, &d) / S)


cdef inline double cy_ce_row(const fl_ce_params *P, const floating *z, bint by_index,
                             int64_t y, const floating *t, floating *loss,
                             floating *grad) noexcept nogil:
    """Cross-entropy on the logits z of one row; returns the row's loss and
    writes it to loss[0] and the gradient (times P.gscale) to grad[0 .. C),
    each where not NULL.  by_index: target class y (already checked to be in
    [0, C) or P.ignore_index); else probability targets t.
    Index targets: loss = (1 - eps) w_y (-log p_y) + (eps / C) sum_c w_c (-log p_c),
      grad_c = gs (a p_c - (1 - eps) w_y [c == y] - (eps / C) w_c),
      a = (1 - eps) w_y + (eps / C) wall.
    Probability targets t' = (1 - eps) t + eps / C:
      loss = sum_c w_c t'_c (-log p_c), grad_c = gs (a p_c - w_c t'_c), a = sum_c w_c t'_c.
    -log p_c = lse - d_c with lse = log1p(S1); terms with a zero coefficient
    are 0; 1 - p_y for the target class without cancellation."""
    cdef Py_ssize_t C = P.C, c
    cdef const floating *w = <const floating *>P.w
    cdef bint has_w = w != NULL, smooth = P.eps != 0.0, extra
    cdef double eps = P.eps if smooth else 0.0
    cdef double epc = eps / <double>C, gs = P.gscale
    cdef double m, s = 0.0, k = 0.0, sd = 0.0, sa = 0.0, ey = 0.0, e, d, coef
    cdef double s1, lse, S, l, a, wy = 1.0, zy = 0.0, nll, fv, cs, gv, q
    cdef bint eq
    if by_index and y == P.ignore_index:
        if loss != NULL:
            loss[0] = 0
        if grad != NULL:
            for c in range(C):
                grad[c] = 0
        return 0.0
    extra = (not by_index) or smooth
    m = cy_rowmax(z, C)
    for c in range(C):
        e = cy_expdiff(z[c], m, &eq, &d)
        if eq:
            k += 1.0
        else:
            s += e
        if by_index and c == y:
            ey = e
        if extra:
            if not by_index:
                coef = t[c]
                if smooth:
                    coef = coef * (1.0 - eps) + epc
                if has_w:
                    coef = coef * <double>w[c]
                sa += coef
            else:
                coef = w[c] if has_w else 1.0
            if coef != 0.0:
                sd += coef * d
        if grad != NULL and floating is double:
            grad[c] = e                 # kept for the gradient below
    s1 = cy_fix_s1(s + (k - 1.0), m, k)
    lse = log1p(s1)
    S = 1.0 + s1
    if by_index:
        wy = w[y] if has_w else 1.0
        zy = z[y]
        nll = lse + (0.0 if zy == m else m - zy)
        if smooth:
            l = (1.0 - eps) * wy * nll + epc * (P.wall * lse - sd)
            a = (1.0 - eps) * wy + epc * P.wall
        else:
            l = wy * nll
            a = wy
    else:
        l = sa * lse - sd
        a = sa
    if loss != NULL:
        loss[0] = <floating>l
    if grad == NULL:
        return l
    fv = a * gs / S
    cs = epc * gs if by_index else gs
    for c in range(C):
        if floating is double:
            e = grad[c]
        else:
            e = cy_expdiff(z[c], m, &eq, &d)     # float: e again in float64
        gv = e * fv
        if not by_index:
            coef = t[c]
            if smooth:
                coef = coef * (1.0 - eps) + epc
            if has_w:
                coef = coef * <double>w[c]
            gv = gv - coef * cs
        elif smooth:
            gv = gv - (<double>w[c] if has_w else 1.0) * cs
        grad[c] = <floating>gv
    if by_index:
        q = (s1 if zy == m else 1.0 + (s1 - ey)) / S
        grad[y] = <floating>(gs * ((epc * (P.wall - wy) - a * q) if smooth else -a * q))
    return l


cdef inline double cy_cce_row(const fl_ce_params *P, const floating *p, bint by_index,
                              int64_t y, const floating *t, floating *loss,
                              floating *grad, Py_ssize_t *first_bad) noexcept nogil:
    """Categorical cross-entropy on the probabilities p of one row:
    loss = -sum_c w_c t_c max(log p_c, -100), grad_c = -gs w_c t_c / max(p_c, 1e-12)
    (index targets: t one-hot at y; 0 for y == ignore_index).  first_bad[0]:
    the first class with p outside [0, 1] or NaN, else -1."""
    cdef Py_ssize_t C = P.C, c
    cdef const floating *w = <const floating *>P.w
    cdef double gs = P.gscale, l = 0.0, tv, pc, wy
    cdef double tiny = <double>(<floating>1e-12)
    first_bad[0] = -1
    for c in range(C):
        pc = p[c]
        if not (pc >= 0.0 and pc <= 1.0):
            first_bad[0] = c
            break
    if by_index:
        if grad != NULL:
            for c in range(C):
                grad[c] = 0
        if y != P.ignore_index:
            wy = w[y] if w != NULL else 1.0
            pc = p[y]
            l = -wy * cy_clamp_log(log(pc))
            if grad != NULL:
                grad[y] = <floating>(-wy / (pc if pc > 1e-12 else 1e-12) * gs)
    else:
        for c in range(C):
            tv = t[c]
            if w != NULL:
                tv = tv * <double>w[c]
            pc = p[c]
            l += -(tv * cy_clamp_log(log(pc)))
            if grad != NULL:
                grad[c] = <floating>(-(tv / (pc if pc > tiny else tiny)) * gs)
    if loss != NULL:
        loss[0] = <floating>l
    return l
