# The "cython" kernel level's table (included by _kernels.pyx after fl_table
# is declared): every entry of fl_table (core/fl_core.h, fl_softmax.h) as a
# Cython loop over the per-point functions of _cylevel_points.pxi, with the
# exact C signature, so that every entry point that calls through the table
# (the chunked, threaded drivers here; the ufunc loops) runs this level
# unchanged.  The entries take the chunk's pointers, not typed memoryviews:
# a memoryview cannot be made from a raw pointer without the GIL, and the
# drivers call the table inside prange, without it.  The same loops over
# typed memoryviews, with prange, are in _cylevel.pyx.
#
# `stream` is ignored: these loops call libm per element and are
# compute-bound, so non-temporal stores would gain nothing.  Loss sums are
# accumulated in float64 in element order.
include "_cylevel_points.pxi"


cdef void _cyt_sigmoid(const floating *x, floating *y, Py_ssize_t n, int stream) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = cy_sigmoid(x[i])


cdef void _cyt_log_sigmoid(const floating *x, floating *y, Py_ssize_t n, int stream) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = cy_log_sigmoid(x[i])


cdef void _cyt_softplus(const floating *x, floating *y, Py_ssize_t n, int stream) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = cy_softplus(x[i])


cdef void _cyt_sigmoid_grad(const floating *x, floating *y, Py_ssize_t n, int stream) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = cy_sigmoid_grad(x[i])


cdef void _cyt_logit(const floating *x, floating *y, Py_ssize_t n, int stream) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        y[i] = cy_logit(x[i])


cdef double _cyt_bcel(const floating *x, const floating *t, const floating *w,
                      const floating *pw, floating *loss, floating *grad, floating *hess,
                      double gscale, Py_ssize_t n, int want_sum, int stream) noexcept nogil:
    """fl_bcel_*_fn: outputs may be NULL; the loss sum with want_sum or a loss
    output, else 0 and no loss computed"""
    cdef int want = ((CY_LOSS if (loss != NULL or want_sum) else 0)
                     | (CY_GRAD if grad != NULL else 0) | (CY_HESS if hess != NULL else 0))
    cdef floating l = 0, g = 0, h = 0
    cdef double s = 0.0
    cdef Py_ssize_t i
    for i in range(n):
        # every input of element i is read before its outputs are written:
        # an output may be an input
        cy_bcel(x[i], t[i], w[i] if w != NULL else <floating>1,
                pw[i] if pw != NULL else <floating>1, gscale, want, &l, &g, &h)
        if want & CY_LOSS:
            s += l
            if loss != NULL:
                loss[i] = l
        if grad != NULL:
            grad[i] = g
        if hess != NULL:
            hess[i] = h
    return s


cdef double _cyt_bce(const floating *p, const floating *t, const floating *w,
                     floating *loss, floating *grad, double gscale, Py_ssize_t n,
                     Py_ssize_t *first_bad, int stream) noexcept nogil:
    """fl_bce_*_fn: returns the loss sum; first_bad: the first p outside [0, 1]"""
    cdef int want = CY_LOSS | (CY_GRAD if grad != NULL else 0)
    cdef floating l = 0, g = 0
    cdef double s = 0.0, pi
    cdef Py_ssize_t i
    first_bad[0] = -1
    for i in range(n):
        pi = p[i]
        if first_bad[0] < 0 and not (pi >= 0.0 and pi <= 1.0):
            first_bad[0] = i
        cy_bce(p[i], t[i], w[i] if w != NULL else <floating>1, gscale, want, &l, &g)
        s += l
        if loss != NULL:
            loss[i] = l
        if grad != NULL:
            grad[i] = g
    return s


cdef void _cyt_softmax(const floating *z, Py_ssize_t ldz, floating *y, Py_ssize_t ldy,
                       Py_ssize_t nrows, Py_ssize_t C, int log_) noexcept nogil:
    cdef Py_ssize_t r
    for r in range(nrows):
        cy_softmax_row(z + r * ldz, y + r * ldy, C, log_)


cdef double _cyt_ce(const fl_ce_params *P, const floating *z, Py_ssize_t ldz,
                    const int64_t *idx, Py_ssize_t ldi, const floating *t, Py_ssize_t ldt,
                    floating *loss, Py_ssize_t lds, floating *grad, Py_ssize_t ldg,
                    Py_ssize_t nrows) noexcept nogil:
    cdef Py_ssize_t r
    cdef double total = 0.0
    for r in range(nrows):
        total += cy_ce_row(P, z + r * ldz, idx != NULL, idx[r * ldi] if idx != NULL else -1,
                           t + r * ldt if t != NULL else NULL,
                           loss + r * lds if loss != NULL else NULL,
                           grad + r * ldg if grad != NULL else NULL)
    return total


cdef double _cyt_cce(const fl_ce_params *P, const floating *p, Py_ssize_t ldp,
                     const int64_t *idx, Py_ssize_t ldi, const floating *t, Py_ssize_t ldt,
                     floating *loss, Py_ssize_t lds, floating *grad, Py_ssize_t ldg,
                     Py_ssize_t nrows, Py_ssize_t *first_bad) noexcept nogil:
    cdef Py_ssize_t r, bad
    cdef double total = 0.0
    first_bad[0] = -1
    for r in range(nrows):
        total += cy_cce_row(P, p + r * ldp, idx != NULL, idx[r * ldi] if idx != NULL else -1,
                            t + r * ldt if t != NULL else NULL,
                            loss + r * lds if loss != NULL else NULL,
                            grad + r * ldg if grad != NULL else NULL, &bad)
        if bad >= 0 and first_bad[0] < 0:
            first_bad[0] = r * P.C + bad
    return total


cdef void _cy_fill_table(fl_table *tb) noexcept nogil:
    """fill tb with the cython level's kernels"""
    tb.unary_f64[FL_SIGMOID] = _cyt_sigmoid[double]
    tb.unary_f64[FL_LOG_SIGMOID] = _cyt_log_sigmoid[double]
    tb.unary_f64[FL_SOFTPLUS] = _cyt_softplus[double]
    tb.unary_f64[FL_SIGMOID_GRAD] = _cyt_sigmoid_grad[double]
    tb.unary_f64[FL_LOGIT] = _cyt_logit[double]
    tb.unary_f32[FL_SIGMOID] = _cyt_sigmoid[float]
    tb.unary_f32[FL_LOG_SIGMOID] = _cyt_log_sigmoid[float]
    tb.unary_f32[FL_SOFTPLUS] = _cyt_softplus[float]
    tb.unary_f32[FL_SIGMOID_GRAD] = _cyt_sigmoid_grad[float]
    tb.unary_f32[FL_LOGIT] = _cyt_logit[float]
    tb.bcel_f64 = _cyt_bcel[double]
    tb.bcel_f32 = _cyt_bcel[float]
    tb.bce_f64 = _cyt_bce[double]
    tb.bce_f32 = _cyt_bce[float]
    tb.softmax.softmax_f64 = _cyt_softmax[double]
    tb.softmax.softmax_f32 = _cyt_softmax[float]
    tb.softmax.ce_f64 = _cyt_ce[double]
    tb.softmax.ce_f32 = _cyt_ce[float]
    tb.softmax.cce_f64 = _cyt_cce[double]
    tb.softmax.cce_f32 = _cyt_cce[float]
    tb.level = FL_LEVEL_CYTHON
