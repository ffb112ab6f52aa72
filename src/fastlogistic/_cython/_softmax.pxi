# Multi-class kernels (softmax, log-softmax, cross-entropy): included by _kernels.pyx.
#
# Every operand arrives as a 2-D (rows, classes) NumPy view with any strides
# (the Python layer has moved the class axis last and merged the others), or
# a 1-D per-row array.  Rows are split into fixed blocks of ROWS_PER_BLOCK(C)
# rows whatever the thread count, each block's loss sum goes to its own slot,
# and the slots are added in block order: results are bitwise the same for
# any number of threads.  Blocks whose class axis is not contiguous are done
# row by row through a per-thread buffer.

cdef enum SMKind:
    SM_SOFTMAX = 0
    SM_LOG_SOFTMAX = 1
    SM_CE = 2
    SM_CCE = 3

ctypedef struct SMJob:
    int kind
    int is_f64
    Py_ssize_t N, C, rpb, nblocks
    char *z
    Py_ssize_t zr, zc            # byte strides: row, class
    char *t
    Py_ssize_t tr, tc
    char *idx
    Py_ssize_t ir
    char *y                      # softmax output or gradient
    Py_ssize_t yr, yc
    char *loss
    Py_ssize_t lr
    fl_ce_params P
    int need_buf
    double *partial
    Py_ssize_t *bad


cdef inline Py_ssize_t _rows_per_block(Py_ssize_t C) noexcept nogil:
    return max(<Py_ssize_t>1, <Py_ssize_t>CHUNK // C)


cdef inline double _sm_call(SMJob *job, real *z, Py_ssize_t ldz, real *t, Py_ssize_t ldt,
                            const int64_t *idx, Py_ssize_t ldi, real *y, Py_ssize_t ldy,
                            real *loss, Py_ssize_t lds, Py_ssize_t nr,
                            Py_ssize_t *bad) noexcept nogil:
    if job.kind <= SM_LOG_SOFTMAX:
        if real is double:
            TABLE.softmax.softmax_f64(z, ldz, y, ldy, nr, job.C, job.kind)
        else:
            TABLE.softmax.softmax_f32(z, ldz, y, ldy, nr, job.C, job.kind)
        return 0.0
    if job.kind == SM_CE:
        if real is double:
            return TABLE.softmax.ce_f64(&job.P, z, ldz, idx, ldi, t, ldt, loss, lds, y, ldy, nr)
        else:
            return TABLE.softmax.ce_f32(&job.P, z, ldz, idx, ldi, t, ldt, loss, lds, y, ldy, nr)
    if real is double:
        return TABLE.softmax.cce_f64(&job.P, z, ldz, idx, ldi, t, ldt, loss, lds, y, ldy, nr, bad)
    else:
        return TABLE.softmax.cce_f32(&job.P, z, ldz, idx, ldi, t, ldt, loss, lds, y, ldy, nr, bad)


# Above this many classes, a block of rows as lanes keeps more exponentials
# (classes x one vector) than the L1 cache holds, and a row at a time through
# a buffer is faster on a class axis that is not contiguous.
DEF SM_LANES_MAXC = 256


cdef inline bint _sm_strided_ok(SMJob *job) noexcept nogil:
    # the level has the any-strides kernels (the cython level does not)
    if job.C > SM_LANES_MAXC:
        return False
    if job.is_f64:
        return TABLE.softmax.softmax_s_f64 != NULL and TABLE.softmax.ce_s_f64 != NULL
    return TABLE.softmax.softmax_s_f32 != NULL and TABLE.softmax.ce_s_f32 != NULL


cdef void _sm_block(SMJob *job, Py_ssize_t b, real *buf) noexcept nogil:
    cdef Py_ssize_t r0 = b * job.rpb
    cdef Py_ssize_t nr = min(job.rpb, job.N - r0)
    cdef Py_ssize_t isz = sizeof(real)
    cdef Py_ssize_t C = job.C
    cdef Py_ssize_t r, c, bad = -1, rbad
    cdef double s = 0.0
    cdef real *zb
    cdef real *tb
    cdef real *yb
    cdef const int64_t *ip = NULL
    cdef real *lp = NULL
    if not job.need_buf:
        if job.idx != NULL:
            ip = <const int64_t *>(job.idx + r0 * job.ir)
        if job.loss != NULL:
            lp = <real *>(job.loss + r0 * job.lr)
        s = _sm_call(job, <real *>(job.z + r0 * job.zr), job.zr // isz,
                     <real *>(job.t + r0 * job.tr) if job.t != NULL else NULL, job.tr // isz,
                     ip, job.ir // 8,
                     <real *>(job.y + r0 * job.yr) if job.y != NULL else NULL, job.yr // isz,
                     lp, job.lr // isz, nr, &bad)
        if bad >= 0:
            bad += r0 * C
    elif job.kind <= SM_CE and _sm_strided_ok(job):
        # class axis not contiguous: the row-per-lane kernel, any strides
        if job.idx != NULL:
            ip = <const int64_t *>(job.idx + r0 * job.ir)
        if job.loss != NULL:
            lp = <real *>(job.loss + r0 * job.lr)
        tb = <real *>(job.t + r0 * job.tr) if job.t != NULL else NULL
        yb = <real *>(job.y + r0 * job.yr) if job.y != NULL else NULL
        zb = <real *>(job.z + r0 * job.zr)
        if job.kind <= SM_LOG_SOFTMAX:
            if real is double:
                TABLE.softmax.softmax_s_f64(zb, job.zr // isz, job.zc // isz, yb, job.yr // isz,
                                            job.yc // isz, nr, C, job.kind, buf)
            else:
                TABLE.softmax.softmax_s_f32(zb, job.zr // isz, job.zc // isz, yb, job.yr // isz,
                                            job.yc // isz, nr, C, job.kind, buf)
        elif real is double:
            s = TABLE.softmax.ce_s_f64(&job.P, zb, job.zr // isz, job.zc // isz, ip, job.ir // 8,
                                       tb, job.tr // isz, job.tc // isz, lp, job.lr // isz,
                                       yb, job.yr // isz, job.yc // isz, nr, buf)
        else:
            s = TABLE.softmax.ce_s_f32(&job.P, zb, job.zr // isz, job.zc // isz, ip, job.ir // 8,
                                       tb, job.tr // isz, job.tc // isz, lp, job.lr // isz,
                                       yb, job.yr // isz, job.yc // isz, nr, buf)
    else:
        zb = buf
        tb = buf + C
        yb = buf + 2 * C
        for r in range(r0, r0 + nr):
            for c in range(C):
                zb[c] = (<real *>(job.z + r * job.zr + c * job.zc))[0]
            if job.t != NULL:
                for c in range(C):
                    tb[c] = (<real *>(job.t + r * job.tr + c * job.tc))[0]
            ip = <const int64_t *>(job.idx + r * job.ir) if job.idx != NULL else NULL
            lp = <real *>(job.loss + r * job.lr) if job.loss != NULL else NULL
            rbad = -1
            s += _sm_call(job, zb, C, tb if job.t != NULL else NULL, C, ip, 0,
                          yb if job.y != NULL else NULL, C, lp, 0, 1, &rbad)
            if rbad >= 0 and bad < 0:
                bad = r * C + rbad
            if job.y != NULL:
                for c in range(C):
                    (<real *>(job.y + r * job.yr + c * job.yc))[0] = yb[c]
    job.partial[b] = s
    job.bad[b] = bad


cdef int _sm_run(SMJob *job, int nthreads) except -1 nogil:
    cdef Py_ssize_t b
    cdef char *buf = NULL
    cdef char *tb = NULL
    # row by row: 3 C elements; any-strides kernel: 5 C rows of 16 lanes
    cdef size_t bufsize = (80 * job.C * sizeof(double) + 64) if job.need_buf else 0
    if job.nblocks <= 1:
        nthreads = 1
    if bufsize:
        buf = <char *>malloc(bufsize * nthreads)
        if buf == NULL:
            with gil:
                raise MemoryError()
    if nthreads <= 1:
        for b in range(job.nblocks):
            if job.is_f64:
                _sm_block[double](job, b, <double *>buf)
            else:
                _sm_block[float](job, b, <float *>buf)
    else:
        for b in prange(job.nblocks, num_threads=nthreads, schedule='static'):
            tb = buf + threadid() * bufsize if buf != NULL else NULL
            if job.is_f64:
                _sm_block[double](job, b, <double *>tb)
            else:
                _sm_block[float](job, b, <float *>tb)
    free(buf)
    return 0


cdef inline int _sm_arg2(object a, char **data, Py_ssize_t *rs, Py_ssize_t *cs,
                         Py_ssize_t isz, bint *need_buf) except -1:
    cdef cnp.ndarray v
    if a is None:
        data[0] = NULL
        rs[0] = 0
        cs[0] = isz
        return 0
    v = <cnp.ndarray>a
    data[0] = <char *>cnp.PyArray_DATA(v)
    rs[0] = _elem_stride(v, 0)       # checked: whole elements, aligned
    cs[0] = _elem_stride(v, 1)
    if cs[0] != isz and cnp.PyArray_DIMS(v)[1] > 1:
        need_buf[0] = True
    return 0


def multiclass(int kind, z, t, idx, y, loss, w, double wall, long long ignore_index,
               double eps, double gscale, num_threads=None):
    """Run a multi-class kernel over the rows of the 2-D view z (rows, C).

    kind: 0 softmax, 1 log_softmax (into y), 2 cross-entropy on logits,
    3 categorical cross-entropy on probabilities (loss per row into `loss`,
    gradient into y; targets: 1-D int64 `idx` or 2-D `t`).  Every array has
    the compute dtype (idx: int64); `w` is a contiguous (C,) array or None.
    Returns (sum of the row losses in float64, flat index row*C + class of
    the first probability outside [0, 1] or -1)."""
    cdef SMJob job
    cdef bint need_buf = False
    cdef cnp.ndarray zv = <cnp.ndarray>z
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(zv)
    cdef Py_ssize_t b, first = -1
    cdef double total = 0.0
    job.kind = kind
    job.is_f64 = isz == 8
    job.N = cnp.PyArray_DIMS(zv)[0]
    job.C = cnp.PyArray_DIMS(zv)[1]
    job.rpb = _rows_per_block(job.C)
    job.nblocks = (job.N + job.rpb - 1) // job.rpb
    _sm_arg2(z, &job.z, &job.zr, &job.zc, isz, &need_buf)
    _sm_arg2(t, &job.t, &job.tr, &job.tc, isz, &need_buf)
    _sm_arg2(y, &job.y, &job.yr, &job.yc, isz, &need_buf)
    if idx is None:
        job.idx = NULL
        job.ir = 0
    else:
        if cnp.PyArray_TYPE(<cnp.ndarray>idx) != cnp.NPY_INT64:
            raise TypeError("internal: class indices must be int64")
        job.idx = <char *>cnp.PyArray_DATA(<cnp.ndarray>idx)
        job.ir = _elem_stride(<cnp.ndarray>idx, 0)
    if loss is None:
        job.loss = NULL
        job.lr = 0
    else:
        job.loss = <char *>cnp.PyArray_DATA(<cnp.ndarray>loss)
        job.lr = _elem_stride(<cnp.ndarray>loss, 0)
    job.P.C = job.C
    job.P.ignore_index = ignore_index
    job.P.w = NULL if w is None else cnp.PyArray_DATA(<cnp.ndarray>w)
    job.P.wall = wall
    job.P.eps = eps
    job.P.gscale = gscale
    job.need_buf = need_buf
    if job.nblocks == 0:
        return 0.0, -1
    cdef int nth = _threads_for(num_threads, job.N * job.C)
    job.partial = <double *>malloc(job.nblocks * sizeof(double))
    job.bad = <Py_ssize_t *>malloc(job.nblocks * sizeof(Py_ssize_t))
    if job.partial == NULL or job.bad == NULL:
        free(job.partial)
        free(job.bad)
        raise MemoryError()
    try:
        with nogil:
            _sm_run(&job, nth)
            total = _sum_partials(job.partial, job.nblocks)
            for b in range(job.nblocks):
                if job.bad[b] >= 0:
                    first = job.bad[b]
                    break
    finally:
        free(job.partial)
        free(job.bad)
    return total, first


def class_targets(idx, Py_ssize_t C, long long ignore_index, w):
    """Check 1-D int64 class indices: returns (sum of the weights of the
    non-ignored targets in float64 (their count without weights), position
    of the first index outside [0, C) that is not ignore_index, or -1)."""
    cdef cnp.ndarray iv = <cnp.ndarray>idx
    cdef char *p = <char *>cnp.PyArray_DATA(iv)
    cdef Py_ssize_t s = _elem_stride(iv, 0)
    cdef Py_ssize_t n = cnp.PyArray_DIMS(iv)[0]
    cdef Py_ssize_t i, bad = -1
    cdef int64_t y
    cdef double tot = 0.0
    cdef bint has_w = w is not None
    cdef bint f64 = has_w and cnp.PyArray_ITEMSIZE(<cnp.ndarray>w) == 8
    cdef char *wp = <char *>cnp.PyArray_DATA(<cnp.ndarray>w) if has_w else NULL
    with nogil:
        for i in range(n):
            y = (<int64_t *>(p + i * s))[0]
            if y == ignore_index:
                continue
            if y < 0 or y >= C:
                bad = i
                break
            if not has_w:
                tot += 1.0
            elif f64:
                tot += (<double *>wp)[y]
            else:
                tot += (<float *>wp)[y]
    return tot, bad


def weight_sum(w):
    """Sum of a contiguous 1-D float array in float64, in index order."""
    cdef cnp.ndarray wv = <cnp.ndarray>w
    cdef Py_ssize_t i, n = cnp.PyArray_DIMS(wv)[0]
    cdef double s = 0.0
    if cnp.PyArray_ITEMSIZE(wv) == 8:
        for i in range(n):
            s += (<double *>cnp.PyArray_DATA(wv))[i]
    else:
        for i in range(n):
            s += (<float *>cnp.PyArray_DATA(wv))[i]
    return s
