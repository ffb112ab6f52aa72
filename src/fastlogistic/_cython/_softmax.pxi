# Multi-class kernels (softmax, log-softmax, cross-entropy): included by _kernels.pyx.
#
# Every operand arrives as a 2-D (rows, classes) NumPy view with any strides
# (the Python layer has moved the class axis last and merged the others), or
# as a 3-D (outer, rows, classes) view where the other axes merge into two
# but not one (a class axis in the middle of (N, C, d...)), or a 1-D per-row
# array.  Rows (outer x rows of them) are split into fixed blocks of
# ROWS_PER_BLOCK(C) rows whatever the thread count and the outer split, each
# block's loss sum goes to its own slot, and the slots are added in block
# order: results are bitwise the same for any number of threads.  Blocks
# whose class axis is not contiguous, or that span outer slices, go through
# the row-per-lane kernel (any strides), or row by row through a per-thread
# buffer where the level lacks it.

cdef enum SMKind:
    SM_SOFTMAX = 0
    SM_LOG_SOFTMAX = 1
    SM_CE = 2
    SM_CCE = 3

ctypedef struct SMJob:
    int kind
    int is_f64
    Py_ssize_t N, C, rpb, nblocks
    Py_ssize_t R                 # rows per outer slice (N for a 2-D operand)
    char *z
    Py_ssize_t zo, zr, zc        # byte strides: outer, row, class
    char *t
    Py_ssize_t to, tr, tc
    char *idx
    Py_ssize_t ir
    char *y                      # softmax output or gradient
    Py_ssize_t yo, yr, yc
    char *loss
    Py_ssize_t lr
    fl_ce_params P
    int need_buf
    int lanes_cce                # categorical CE may take the row-per-lane kernel
    double *partial
    Py_ssize_t *bad


cdef inline Py_ssize_t _rows_per_block(Py_ssize_t C) noexcept nogil:
    # about CHUNK elements, in whole groups of 16 rows (a float32 vector's
    # lanes, two float64 ones): no block ends in a partial group of the
    # row-per-lane kernel, which is staged element by element
    return max(<Py_ssize_t>16, (<Py_ssize_t>CHUNK // C) & ~(<Py_ssize_t>15))


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


# Above this many classes, a class axis that is not contiguous with rows
# that are not one element apart either (each lane a gather) goes a row at a
# time through a buffer: measured faster before the row-per-lane kernel's
# lean path, not measured since.  Rows one element apart go row per lane at
# any class count (_sm_strided_ok).
DEF SM_LANES_MAXC = 256


cdef inline bint _sm_strided_ok(SMJob *job) noexcept nogil:
    # the level has the any-strides kernels (the cython level does not)
    cdef Py_ssize_t isz = 8 if job.is_f64 else 4
    cdef Py_ssize_t lanes_maxc = (TABLE.softmax.lanes_maxc_f64 if job.is_f64
                                  else TABLE.softmax.lanes_maxc_f32)
    if job.zc == isz and job.C > lanes_maxc:
        # a contiguous class axis (here with a strided `out` or targets, or
        # in slices): where C order runs the row kernel, so do these rows
        # (row by row through the buffer: the same bits, loss sums included)
        return False
    if job.C > SM_LANES_MAXC:
        # except logits one row element apart (a Fortran-order (N, C) array,
        # softmax over axis 0, (N, C, d...) with axis=1): there each class
        # is one plain vector load, and row per lane beat the row-by-row
        # copy at every class count measured (docs/multiclass.md).  On z's
        # layout alone, so that the results do not depend on where `out` is.
        if job.zr != isz:
            return False
    if job.is_f64:
        return TABLE.softmax.rows3_f64 != NULL
    return TABLE.softmax.rows3_f32 != NULL


cdef void _sm_block(SMJob *job, Py_ssize_t b, real *buf) noexcept nogil:
    cdef Py_ssize_t r0 = b * job.rpb
    cdef Py_ssize_t nr = min(job.rpb, job.N - r0)
    cdef Py_ssize_t isz = sizeof(real)
    cdef Py_ssize_t C = job.C
    cdef Py_ssize_t r, c, bad = -1, rbad, o, i
    cdef double s = 0.0
    cdef fl_rows3 d
    cdef char *zp
    cdef char *tp
    cdef char *yp
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
    elif _sm_strided_ok(job) and (job.kind != SM_CCE or job.lanes_cce):
        # class axis not contiguous, or outer slices: the row-per-lane
        # kernel, any strides, from row r0 % R of slice r0 // R on
        if job.idx != NULL:
            ip = <const int64_t *>(job.idx + r0 * job.ir)
        if job.loss != NULL:
            lp = <real *>(job.loss + r0 * job.lr)
        o = r0 // job.R
        d.C = C
        d.R = job.R
        d.i0 = r0 - o * job.R
        d.zos = job.zo // isz
        d.zrs = job.zr // isz
        d.zcs = job.zc // isz
        d.tos = job.to // isz
        d.trs = job.tr // isz
        d.tcs = job.tc // isz
        d.yos = job.yo // isz
        d.yrs = job.yr // isz
        d.ycs = job.yc // isz
        tb = <real *>(job.t + o * job.to) if job.t != NULL else NULL
        yb = <real *>(job.y + o * job.yo) if job.y != NULL else NULL
        zb = <real *>(job.z + o * job.zo)
        if real is double:
            s = TABLE.softmax.rows3_f64(&job.P, job.kind, &d, zb, ip, job.ir // 8, tb, lp,
                                        job.lr // isz, yb, nr, buf, &bad)
        else:
            s = TABLE.softmax.rows3_f32(&job.P, job.kind, &d, zb, ip, job.ir // 8, tb, lp,
                                        job.lr // isz, yb, nr, buf, &bad)
        if bad >= 0:
            bad += r0 * C
    else:
        zb = buf
        tb = buf + C
        yb = buf + 2 * C
        o = r0 // job.R
        i = r0 - o * job.R
        for r in range(r0, r0 + nr):
            zp = job.z + o * job.zo + i * job.zr
            for c in range(C):
                zb[c] = (<real *>(zp + c * job.zc))[0]
            if job.t != NULL:
                tp = job.t + o * job.to + i * job.tr
                for c in range(C):
                    tb[c] = (<real *>(tp + c * job.tc))[0]
            ip = <const int64_t *>(job.idx + r * job.ir) if job.idx != NULL else NULL
            lp = <real *>(job.loss + r * job.lr) if job.loss != NULL else NULL
            rbad = -1
            s += _sm_call(job, zb, C, tb if job.t != NULL else NULL, C, ip, 0,
                          yb if job.y != NULL else NULL, C, lp, 0, 1, &rbad)
            if rbad >= 0 and bad < 0:
                bad = r * C + rbad
            if job.y != NULL:
                yp = job.y + o * job.yo + i * job.yr
                for c in range(C):
                    (<real *>(yp + c * job.yc))[0] = yb[c]
            i += 1
            if i == job.R:
                i = 0
                o += 1
    job.partial[b] = s
    job.bad[b] = bad


cdef int _sm_run(SMJob *job, int nthreads) except -1 nogil:
    cdef Py_ssize_t b
    cdef char *buf = NULL
    cdef char *tb = NULL
    # row by row: 3 C elements; any-strides kernel: 7 C rows of 16 lanes
    cdef size_t bufsize = (112 * job.C * sizeof(double) + 64) if job.need_buf else 0
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


cdef inline int _sm_arg3(object a, Py_ssize_t O, Py_ssize_t R, Py_ssize_t C, char **data,
                         Py_ssize_t *os, Py_ssize_t *rs, Py_ssize_t *cs, Py_ssize_t isz,
                         bint *need_buf) except -1:
    """An operand of shape (R, C) (O == 1) or (O, R, C): its data and byte
    strides (outer, row, class)."""
    cdef cnp.ndarray v
    cdef int nd
    if a is None:
        data[0] = NULL
        os[0] = rs[0] = 0
        cs[0] = isz
        return 0
    v = <cnp.ndarray>a
    nd = cnp.PyArray_NDIM(v)
    if not (nd == 3 and cnp.PyArray_DIMS(v)[0] == O or nd == 2 and O == 1) or \
            cnp.PyArray_DIMS(v)[nd - 2] != R or cnp.PyArray_DIMS(v)[nd - 1] != C:
        raise ValueError(f"internal: operand of shape {(<object>v).shape}, expected "
                         f"{(O, R, C)}")
    data[0] = <char *>cnp.PyArray_DATA(v)
    os[0] = _elem_stride(v, 0) if nd == 3 and O > 1 else 0
    rs[0] = _elem_stride(v, nd - 2)       # checked: whole elements, aligned
    cs[0] = _elem_stride(v, nd - 1)
    if cs[0] != isz and C > 1:
        need_buf[0] = True
    return 0


def multiclass(int kind, z, t, idx, y, loss, w, double wall, long long ignore_index,
               double eps, double gscale, num_threads=None, bint want_sum=True):
    """Run a multi-class kernel over the rows of the 2-D view z (rows, C), or
    of the 3-D view z (outer, rows, C) (t and y then of the same shape; idx
    and loss 1-D over the outer x rows rows, outer-major).

    kind: 0 softmax, 1 log_softmax (into y), 2 cross-entropy on logits,
    3 categorical cross-entropy on probabilities (loss per row into `loss`,
    gradient into y; targets: 1-D int64 `idx` or 2-D `t`).  Every array has
    the compute dtype (idx: int64); `w` is a contiguous (C,) array or None.
    Returns (sum of the row losses in float64, flat index row*C + class of
    the first probability outside [0, 1] or -1).  want_sum=False: the caller
    uses neither the sum nor `loss` (a gradient alone), which lets
    categorical cross-entropy with probability targets take the
    row-per-lane kernel on a strided class axis (there its row sums run in
    another order than the row kernel's; the gradient is the same bits).
    With index targets it takes it anyway (the same bits throughout)."""
    cdef SMJob job
    cdef bint need_buf = False
    cdef cnp.ndarray zv = <cnp.ndarray>z
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(zv)
    job.kind = kind
    job.is_f64 = isz == 8
    cdef int nd = cnp.PyArray_NDIM(zv)
    cdef Py_ssize_t O = cnp.PyArray_DIMS(zv)[0] if nd == 3 else 1
    if nd not in (2, 3):
        raise ValueError(f"internal: z must be 2-D or 3-D, got shape {z.shape}")
    job.R = cnp.PyArray_DIMS(zv)[nd - 2]
    job.C = cnp.PyArray_DIMS(zv)[nd - 1]
    job.N = O * job.R
    job.rpb = _rows_per_block(job.C)
    job.nblocks = (job.N + job.rpb - 1) // job.rpb
    _sm_arg3(z, O, job.R, job.C, &job.z, &job.zo, &job.zr, &job.zc, isz, &need_buf)
    _sm_arg3(t, O, job.R, job.C, &job.t, &job.to, &job.tr, &job.tc, isz, &need_buf)
    _sm_arg3(y, O, job.R, job.C, &job.y, &job.yo, &job.yr, &job.yc, isz, &need_buf)
    if O > 1:
        need_buf = True          # blocks may span slices: the any-strides paths
    if job.R == 0:
        job.R = 1                # no rows: never divided by
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
    job.lanes_cce = job.idx != NULL or not want_sum
    return _mc_exec(&job, num_threads)


cdef object _mc_exec(SMJob *job, num_threads):
    """Run a filled job: (sum of the row losses, first bad flat index or -1)."""
    cdef Py_ssize_t b, first = -1
    cdef double total = 0.0
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
            _sm_run(job, nth)
            total = _sum_partials(job.partial, job.nblocks)
            for b in range(job.nblocks):
                if job.bad[b] >= 0:
                    first = job.bad[b]
                    break
    finally:
        free(job.partial)
        free(job.bad)
    return total, first


def fortran_rows(bint is_f64):
    """True where the current level runs rows one element apart (a
    Fortran-order (N, C) operand) row per lane, any class count; the Python
    layer then gives such an input a Fortran-order result, written as it is
    read.  False at the cython level (row by row, which writes C order best)."""
    return (TABLE.softmax.rows3_f64 if is_f64 else TABLE.softmax.rows3_f32) != NULL


def lanes_maxc(bint is_f64):
    """The class count up to which the current level runs C-order rows row
    per lane (the kernel every other layout takes: the same bits there), or
    0 at the cython level."""
    return TABLE.softmax.lanes_maxc_f64 if is_f64 else TABLE.softmax.lanes_maxc_f32


cdef int _mc_plain_z(z, axis, num_threads) noexcept:
    """The type number of z where z is the multi-class common case, else 0:
    an ndarray (not a subclass) of float32 or float64, 2-D with at least one
    row and one class, C-contiguous, aligned, native; axis the Python int -1
    or 1; num_threads None or an int >= 1."""
    cdef cnp.ndarray a
    cdef int typenum
    if type(z) is not cnp.ndarray or type(axis) is not int or (axis != -1 and axis != 1):
        return 0
    if num_threads is not None and (type(num_threads) is not int or num_threads < 1):
        return 0
    a = <cnp.ndarray>z
    typenum = cnp.PyArray_TYPE(a)
    if (typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT) or cnp.PyArray_NDIM(a) != 2 \
            or cnp.PyArray_DIMS(a)[0] == 0 or cnp.PyArray_DIMS(a)[1] == 0 or not _plain(a, typenum):
        return 0
    return typenum


cdef void _mc_plain_job(SMJob *job, int kind, cnp.ndarray a, cnp.ndarray y) noexcept:
    """A job over the rows of C-order 2-D a (output y of a's shape, or NULL),
    with no targets yet; as multiclass() fills it for these operands."""
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(a)
    memset(job, 0, sizeof(SMJob))
    job.kind = kind
    job.is_f64 = isz == 8
    job.R = job.N = cnp.PyArray_DIMS(a)[0]
    job.C = cnp.PyArray_DIMS(a)[1]
    job.rpb = _rows_per_block(job.C)
    job.nblocks = (job.N + job.rpb - 1) // job.rpb
    job.z = <char *>cnp.PyArray_DATA(a)
    job.zr = job.C * isz
    job.zc = isz
    job.tc = isz
    if y is not None:
        job.y = <char *>cnp.PyArray_DATA(y)
        job.yr = job.C * isz
    job.yc = isz
    job.P.C = job.C


def softmax_plain(int kind, z, axis, num_threads=None):
    """softmax (kind 0) or log_softmax (1) over the last axis of the common
    case (_mc_plain_z) in one call, with no Python-level work: the result
    the general path (_multiclass._softmax) gives, or None where the call is
    not that case (the general path then runs it, and names any error)."""
    cdef int typenum = _mc_plain_z(z, axis, num_threads)
    cdef SMJob job
    if typenum == 0:
        return None
    cdef cnp.ndarray a = <cnp.ndarray>z
    cdef cnp.ndarray y = _new_out(2, cnp.PyArray_DIMS(a), typenum, cnp.PyArray_NBYTES(a),
                                  ALIGNED_MIN)
    _mc_plain_job(&job, kind, a, y)
    _mc_exec(&job, num_threads)
    return y


def ce_plain(z, target, axis, weight, ignore_index, label_smoothing, reduction,
             bint want_loss, bint want_grad, num_threads=None):
    """cross_entropy (and its gradient) of the common case in one call: z as
    _mc_plain_z takes it, target an int64 ndarray (not a subclass) of shape
    (N,), C-contiguous, aligned, native, every index in [0, C) or
    ignore_index; no weight, label_smoothing 0, ignore_index a Python int in
    int64's range, reduction the str "mean", "sum" or "none".  Returns
    (loss, grad) as _multiclass._loss does, or None where the call is not
    that case (the general path then runs it, and names any error)."""
    cdef int typenum = _mc_plain_z(z, axis, num_threads)
    cdef SMJob job
    cdef cnp.ndarray a, t, y = None, loss = None
    cdef int red
    if typenum == 0 or weight is not None or type(ignore_index) is not int \
            or type(target) is not cnp.ndarray or type(reduction) is not str:
        return None
    if not ((type(label_smoothing) is float or type(label_smoothing) is int)
            and label_smoothing == 0):
        return None
    if not -(1 << 63) <= ignore_index < (1 << 63):
        return None
    if reduction == "mean":
        red = 0
    elif reduction == "sum":
        red = 1
    elif reduction == "none":
        red = 2
    else:
        return None
    a = <cnp.ndarray>z
    t = <cnp.ndarray>target
    if cnp.PyArray_NDIM(t) != 1 or cnp.PyArray_DIMS(t)[0] != cnp.PyArray_DIMS(a)[0] \
            or not _plain(t, cnp.NPY_INT64):
        return None
    denom, bad = class_targets(t, cnp.PyArray_DIMS(a)[1], ignore_index, None)
    if bad >= 0:
        return None
    if want_grad:
        y = _new_out(2, cnp.PyArray_DIMS(a), typenum, cnp.PyArray_NBYTES(a), ALIGNED_MIN)
    if want_loss and red == 2:
        loss = _new_out(1, cnp.PyArray_DIMS(a), typenum, cnp.PyArray_DIMS(a)[0] * cnp.PyArray_ITEMSIZE(a),
                        ALIGNED_MIN)
    _mc_plain_job(&job, SM_CE, a, y)
    job.idx = <char *>cnp.PyArray_DATA(t)
    job.ir = 8                       # byte strides, as multiclass() sets them
    if loss is not None:
        job.loss = <char *>cnp.PyArray_DATA(loss)
        job.lr = cnp.PyArray_ITEMSIZE(a)
    job.P.ignore_index = ignore_index
    job.P.wall = <double>job.C
    job.P.gscale = (1.0 / denom if denom != 0 else _math.nan) if red == 0 else 1.0
    job.lanes_cce = 1
    total = _mc_exec(&job, num_threads)[0]
    if not want_loss:
        return None, y
    if red == 2:
        return loss, y
    rtype = _F64_TYPE if typenum == cnp.NPY_DOUBLE else _F32_TYPE
    return rtype(total if red == 1 else (total / denom if denom != 0 else _math.nan)), y


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
    cdef Py_ssize_t cnt
    if not has_w and s == 8:
        # no weights: a count, exact in any order (a float64 running sum was
        # a chain of dependent adds; docs/multiclass.md)
        with nogil:
            if TABLE.softmax.count_targets != NULL:
                cnt = TABLE.softmax.count_targets(<const int64_t *>p, n, C, ignore_index, &bad)
            else:
                cnt = fl_count_targets(<const int64_t *>p, n, C, ignore_index, &bad)
        return <double>cnt, bad
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
