# log_loss's one pass over a probability matrix: included by _kernels.pyx.
#
# scikit-learn's log_loss reads an (n, k) probability matrix five times (its
# NaN/inf check, max, min, row sums, then the clipped log of every element).
# proba_scan reads it once: per block of rows it finds the extremes (NaN
# flagged apart), the extreme row sums, and gathers the clipped probability of
# each row's true class; the log then runs on n values, not n k.

ctypedef struct PScan:
    double mn, mx, smin, smax
    int nan


cdef void _pscan_rows(const real *p, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t r0,
                      Py_ssize_t r1, Py_ssize_t k, const Py_ssize_t *idx, real *q,
                      double lo, double hi, PScan *out) noexcept nogil:
    """Rows [r0, r1) (strides rs, cs in elements): extremes (NaN skipped,
    flagged), extreme row sums (four running partial sums per row: the check
    is to sqrt(eps)), and q[i] = clip(p[i, idx[i]], lo, hi) when idx is given."""
    cdef double mn = out.mn, mx = out.mx, smin = out.smin, smax = out.smax
    cdef double v, v1, v2, v3, s0, s1, s2, s3, s
    cdef int nan = out.nan
    cdef Py_ssize_t i, j, c
    cdef const real *row
    for i in range(r0, r1):
        row = p + i * rs
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        j = 0
        while j + 4 <= k:
            v = row[j * cs]
            v1 = row[(j + 1) * cs]
            v2 = row[(j + 2) * cs]
            v3 = row[(j + 3) * cs]
            s0 += v
            s1 += v1
            s2 += v2
            s3 += v3
            # a comparison with NaN is false: NaN never becomes an extreme
            mn = v if v < mn else mn
            mx = v if v > mx else mx
            mn = v1 if v1 < mn else mn
            mx = v1 if v1 > mx else mx
            mn = v2 if v2 < mn else mn
            mx = v2 if v2 > mx else mx
            mn = v3 if v3 < mn else mn
            mx = v3 if v3 > mx else mx
            j += 4
        while j < k:
            v = row[j * cs]
            s0 += v
            mn = v if v < mn else mn
            mx = v if v > mx else mx
            j += 1
        s = (s0 + s1) + (s2 + s3)
        if s != s:
            nan = 1            # some element of the row is NaN (or inf - inf)
        smin = s if s < smin else smin
        smax = s if s > smax else smax
        if idx != NULL:
            c = idx[i]
            if c < 0 or c >= k:
                q[i] = <real>__builtin_nan("")
            else:
                v = row[c * cs]
                q[i] = <real>(lo if v < lo else (hi if v > hi else v))
    out.mn = mn
    out.mx = mx
    out.smin = smin
    out.smax = smax
    out.nan = nan


cdef inline void _pscan_block(const char *p, bint f64, Py_ssize_t rs, Py_ssize_t cs,
                              Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t k,
                              const Py_ssize_t *idx, char *q, double lo, double hi,
                              PScan *out) noexcept nogil:
    """_pscan_rows for p's element type (byte strides in, element strides on)."""
    if f64:
        _pscan_rows(<const double *>p, rs // 8, cs // 8, r0, r1, k, idx, <double *>q,
                    lo, hi, out)
    else:
        _pscan_rows(<const float *>p, rs // 4, cs // 4, r0, r1, k, idx, <float *>q,
                    lo, hi, out)


cdef extern from *:
    double __builtin_nan(const char *) nogil
    double __builtin_inf() nogil


def proba_scan(p, idx, q, double lo, double hi):
    """One pass over a 2-D float32/float64 kernel-ready matrix p (n, k):
    returns (min, max, has_nan, min row sum, max row sum) with NaN left out
    of the extremes (a row holding NaN or both infinities has a NaN sum: it
    sets has_nan and no extreme sum); with idx (1-D intp, length n) also
    fills q (1-D contiguous, p's dtype, length n) with clip(p[i, idx[i]], lo,
    hi) (NaN where idx[i] is outside [0, k)).  Rows are split into blocks on
    the library's threads; every result is independent of the split."""
    cdef cnp.ndarray pv = <cnp.ndarray>p
    cdef Py_ssize_t n = cnp.PyArray_DIMS(pv)[0], k = cnp.PyArray_DIMS(pv)[1]
    cdef bint f64 = cnp.PyArray_ITEMSIZE(pv) == 8
    cdef Py_ssize_t rs = _elem_stride(pv, 0), cs = _elem_stride(pv, 1)
    cdef const char *pp = <const char *>cnp.PyArray_DATA(pv)
    cdef const Py_ssize_t *ip = NULL
    cdef char *qp = NULL
    cdef cnp.ndarray iv, qv
    if idx is not None:
        iv = <cnp.ndarray>idx
        qv = <cnp.ndarray>q
        if (cnp.PyArray_TYPE(iv) != cnp.NPY_INTP or not cnp.PyArray_IS_C_CONTIGUOUS(iv)
                or cnp.PyArray_SIZE(iv) != n or cnp.PyArray_TYPE(qv) != cnp.PyArray_TYPE(pv)
                or not cnp.PyArray_IS_C_CONTIGUOUS(qv) or cnp.PyArray_SIZE(qv) != n
                or not cnp.PyArray_ISWRITEABLE(qv)):
            raise ValueError("internal: proba_scan's idx/q do not match p")
        ip = <const Py_ssize_t *>cnp.PyArray_DATA(iv)
        qp = <char *>cnp.PyArray_DATA(qv)
    if k < 1:
        raise ValueError("internal: proba_scan needs at least one column")
    cdef Py_ssize_t rpb = max(<Py_ssize_t>1, <Py_ssize_t>(8 * CHUNK) // k)
    cdef Py_ssize_t nb = (n + rpb - 1) // rpb, b
    cdef int nt = _threads_for(None, n * k)
    cdef PScan *parts = <PScan *>malloc(max(nb, <Py_ssize_t>1) * sizeof(PScan))
    if parts == NULL:
        raise MemoryError()
    cdef double inf = __builtin_inf()
    for b in range(nb):
        parts[b].mn = inf
        parts[b].mx = -inf
        parts[b].smin = inf
        parts[b].smax = -inf
        parts[b].nan = 0
    with nogil:
        if nt > 1:
            for b in prange(nb, num_threads=nt, schedule='static'):
                _pscan_block(pp, f64, rs, cs, b * rpb, min(n, (b + 1) * rpb), k, ip, qp,
                             lo, hi, &parts[b])
        else:
            for b in range(nb):
                _pscan_block(pp, f64, rs, cs, b * rpb, min(n, (b + 1) * rpb), k, ip, qp,
                             lo, hi, &parts[b])
    cdef PScan r
    r.mn = inf
    r.mx = -inf
    r.smin = inf
    r.smax = -inf
    r.nan = 0
    for b in range(nb):
        r.mn = min(r.mn, parts[b].mn)
        r.mx = max(r.mx, parts[b].mx)
        r.smin = min(r.smin, parts[b].smin)
        r.smax = max(r.smax, parts[b].smax)
        r.nan = r.nan | parts[b].nan
    free(parts)
    return r.mn, r.mx, bool(r.nan), r.smin, r.smax
