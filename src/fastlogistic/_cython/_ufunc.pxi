# NumPy ufunc objects (included by _kernels.pyx).
#
# expit, log_expit and logit are numpy.ufunc objects with SciPy's loops
# (d->d, f->f, g->g: integers and float16 compute in float64, as SciPy's);
# the library's own elementwise functions have ufuncs of their own with a
# float16 loop (float16 in, float16 out, computed in float32).  Every ufunc
# keyword (out, where, dtype, casting, order, subok) and __array_ufunc__
# dispatch to pandas, xarray, dask and other containers then work as for
# any NumPy ufunc.  The float32/float64 loops are the SIMD kernels of the
# table in use; a big contiguous call runs on OpenMP threads inside the
# loop (GIL released by NumPy around it), with the same fixed chunks as
# every other call.  The same loops can replace SciPy's own
# (patch_scipy_ufuncs), so that code that imported scipy.special.expit
# runs them too.

cdef extern from "core/fl_ufunc.h" nogil:
    ctypedef struct fl_fpstate:
        pass
    void fl_fp_hold(fl_fpstate *s)
    void fl_fp_release(const fl_fpstate *s)
    int fl_get_tls_threads()
    void fl_set_tls_threads(int n)
    void fl_half_load(const char *x, Py_ssize_t xs, float *dst, Py_ssize_t m)
    void fl_half_store(const float *src, char *y, Py_ssize_t ys, Py_ssize_t m)
    void fl_ld_unary(int op, const char *x, Py_ssize_t xs, char *y, Py_ssize_t ys,
                     Py_ssize_t n)

cdef extern from "numpy/ndarraytypes.h":
    enum: NPY_HALF

cnp.import_ufunc()

cdef enum:
    UBLOCK = 256            # elements per gathered block of a strided loop


cdef int _loop_threads(Py_ssize_t n) noexcept nogil:
    """Threads for a loop of n contiguous elements (called without the GIL)."""
    global _team_started
    cdef int t
    if n < PARALLEL_MIN or not fl_have_openmp() or _forked_child:
        return 1
    t = fl_get_tls_threads()
    if t <= 0:
        t = _default_threads()
    t = <int>min(<Py_ssize_t>t, (n + CHUNK - 1) // CHUNK)
    if t > 1:
        _team_started = True
    return t


cdef inline bint _overlap(const char *x, Py_ssize_t xs, const char *y, Py_ssize_t ys,
                          Py_ssize_t n, Py_ssize_t itemsize) noexcept nogil:
    """True when the n-element operands x and y share any byte and are not the
    same elements in the same order (an exact in-place call is safe)."""
    cdef const char *xlo
    cdef const char *xhi
    cdef const char *ylo
    cdef const char *yhi
    if n <= 0 or (x == y and xs == ys):
        return False
    xlo = x + (n - 1) * xs if xs < 0 else x
    xhi = (x if xs < 0 else x + (n - 1) * xs) + itemsize
    ylo = y + (n - 1) * ys if ys < 0 else y
    yhi = (y if ys < 0 else y + (n - 1) * ys) + itemsize
    return xlo < yhi and ylo < xhi


cdef void _loop_real(int op, char *x, Py_ssize_t xs, char *y, Py_ssize_t ys, Py_ssize_t n,
                     bint is_f64) noexcept nogil:
    """y = f(x) over n elements.  NumPy hands an `out` that overlaps its input
    (shifted: out=x[:-1] for x[1:]) to the loop without a copy, counting on
    the loop to run in element order; the chunks of a threaded call do not, so
    an overlapping input is first copied (the answer is the one the input had
    before the call, on any thread count).  Without memory for the copy the
    call runs on one thread in gathered blocks, in order (what NumPy's
    in-order assumption needs)."""
    cdef Py_ssize_t itemsize = 8 if is_f64 else 4
    cdef char *tmp = NULL
    cdef Py_ssize_t k
    if _overlap(x, xs, y, ys, n, itemsize):
        tmp = <char *>malloc(n * itemsize)
        if tmp == NULL:
            _loop_blocks(op, x, xs, y, ys, n, is_f64)
            return
        if xs == itemsize:
            memcpy(tmp, x, n * itemsize)
        elif is_f64:
            for k in range(n):
                (<double *>tmp)[k] = (<double *>(x + k * xs))[0]
        else:
            for k in range(n):
                (<float *>tmp)[k] = (<float *>(x + k * xs))[0]
        _loop_disjoint(op, tmp, itemsize, y, ys, n, is_f64)
        free(tmp)
        return
    _loop_disjoint(op, x, xs, y, ys, n, is_f64)


cdef void _loop_disjoint(int op, char *x, Py_ssize_t xs, char *y, Py_ssize_t ys, Py_ssize_t n,
                         bint is_f64) noexcept nogil:
    """y = f(x) for operands that do not overlap (or are the same elements)."""
    cdef Job job
    cdef Py_ssize_t itemsize = 8 if is_f64 else 4
    if xs == itemsize and ys == itemsize:
        # contiguous: the chunked driver (threads for big calls, streaming)
        _init_job(&job, JOB_UNARY, op, is_f64, n, 1.0)
        job.a[0].present = 1
        job.a[0].data = x
        job.a[0].stride = itemsize
        job.a[0].period = 0
        job.o[0].present = 1
        job.o[0].data = y
        job.o[0].stride = itemsize
        job.o[0].period = 0
        _run(&job, _loop_threads(n))
        return
    _loop_blocks(op, x, xs, y, ys, n, is_f64)


cdef void _loop_blocks(int op, char *x, Py_ssize_t xs, char *y, Py_ssize_t ys, Py_ssize_t n,
                       bint is_f64) noexcept nogil:
    """Strided operands (views, zero strides), one thread: blocks gathered
    through the stack, in element order (each block read before it is written)."""
    cdef Py_ssize_t i0, m, k
    cdef double xb[UBLOCK]
    cdef double yb[UBLOCK]
    cdef float *xf = <float *>xb
    cdef float *yf = <float *>yb
    i0 = 0
    while i0 < n:
        m = min(<Py_ssize_t>UBLOCK, n - i0)
        if is_f64:
            for k in range(m):
                xb[k] = (<double *>(x + (i0 + k) * xs))[0]
            TABLE.unary_f64[op](xb, yb, m, 0)
            for k in range(m):
                (<double *>(y + (i0 + k) * ys))[0] = yb[k]
        else:
            for k in range(m):
                xf[k] = (<float *>(x + (i0 + k) * xs))[0]
            TABLE.unary_f32[op](xf, yf, m, 0)
            for k in range(m):
                (<float *>(y + (i0 + k) * ys))[0] = yf[k]
        i0 += m


cdef void _uloop_d(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps, void *data) noexcept nogil:
    cdef fl_fpstate fp
    fl_fp_hold(&fp)
    _loop_real(<int><size_t>data, args[0], steps[0], args[1], steps[1], dims[0], True)
    fl_fp_release(&fp)


cdef void _uloop_f(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps, void *data) noexcept nogil:
    cdef fl_fpstate fp
    fl_fp_hold(&fp)
    _loop_real(<int><size_t>data, args[0], steps[0], args[1], steps[1], dims[0], False)
    fl_fp_release(&fp)


cdef void _uloop_e(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps, void *data) noexcept nogil:
    """float16: blocks converted to float32, the float32 kernel, converted back."""
    cdef fl_fpstate fp
    cdef int op = <int><size_t>data
    cdef Py_ssize_t n = dims[0], i0 = 0, m
    cdef float xb[UBLOCK]
    cdef float yb[UBLOCK]
    fl_fp_hold(&fp)
    while i0 < n:
        m = min(<Py_ssize_t>UBLOCK, n - i0)
        fl_half_load(args[0] + i0 * steps[0], steps[0], xb, m)
        TABLE.unary_f32[op](xb, yb, m, 0)
        fl_half_store(yb, args[1] + i0 * steps[1], steps[1], m)
        i0 += m
    fl_fp_release(&fp)


cdef void _uloop_g(char **args, cnp.npy_intp *dims, cnp.npy_intp *steps, void *data) noexcept nogil:
    """long double: scalar libm in long double (as SciPy's g->g loops)."""
    cdef fl_fpstate fp
    fl_fp_hold(&fp)
    fl_ld_unary(<int><size_t>data, args[0], steps[0], args[1], steps[1], dims[0])
    fl_fp_release(&fp)


# SciPy's loops keep their own `data` when replaced (PyUFunc_ReplaceLoopBySignature
# swaps the function only), so the replacements carry their op in the code.
cdef void _sc_expit_d(char **a, cnp.npy_intp *d, cnp.npy_intp *s, void *u) noexcept nogil:
    _uloop_d(a, d, s, <void *><size_t>FL_SIGMOID)
cdef void _sc_expit_f(char **a, cnp.npy_intp *d, cnp.npy_intp *s, void *u) noexcept nogil:
    _uloop_f(a, d, s, <void *><size_t>FL_SIGMOID)
cdef void _sc_log_expit_d(char **a, cnp.npy_intp *d, cnp.npy_intp *s, void *u) noexcept nogil:
    _uloop_d(a, d, s, <void *><size_t>FL_LOG_SIGMOID)
cdef void _sc_log_expit_f(char **a, cnp.npy_intp *d, cnp.npy_intp *s, void *u) noexcept nogil:
    _uloop_f(a, d, s, <void *><size_t>FL_LOG_SIGMOID)
cdef void _sc_logit_d(char **a, cnp.npy_intp *d, cnp.npy_intp *s, void *u) noexcept nogil:
    _uloop_d(a, d, s, <void *><size_t>FL_LOGIT)
cdef void _sc_logit_f(char **a, cnp.npy_intp *d, cnp.npy_intp *s, void *u) noexcept nogil:
    _uloop_f(a, d, s, <void *><size_t>FL_LOGIT)


# loop tables: [op][loop]; they live as long as the module (the ufuncs point
# into them)
cdef cnp.PyUFuncGenericFunction _U_FUNCS[FL_N_UNARY][4]
cdef void *_U_DATA[FL_N_UNARY][4]
# library ufuncs: d, e, f, g (order matters: an input with no exact loop,
# such as an integer, takes the first it casts to safely: float64)
cdef char _U_TYPES_LIB[8]
# SciPy's names: d, f, g, as SciPy (float16 and integers compute in float64)
cdef char _U_TYPES_SCI[6]


cdef void _init_types() noexcept:
    cdef int k
    cdef int lib[4]
    cdef int sci[3]
    lib[0] = cnp.NPY_DOUBLE
    lib[1] = NPY_HALF
    lib[2] = cnp.NPY_FLOAT
    lib[3] = cnp.NPY_LONGDOUBLE
    sci[0] = cnp.NPY_DOUBLE
    sci[1] = cnp.NPY_FLOAT
    sci[2] = cnp.NPY_LONGDOUBLE
    for k in range(4):
        _U_TYPES_LIB[2 * k] = <char>lib[k]
        _U_TYPES_LIB[2 * k + 1] = <char>lib[k]
    for k in range(3):
        _U_TYPES_SCI[2 * k] = <char>sci[k]
        _U_TYPES_SCI[2 * k + 1] = <char>sci[k]


_init_types()
cdef cnp.PyUFuncGenericFunction _U_FUNCS_SCI[FL_N_UNARY][3]

cdef list _ufunc_strings = []     # names and docs must outlive the ufuncs


cdef object _make_ufunc(int op, bint scipy_loops, str name, str doc):
    cdef int k
    _U_FUNCS[op][0] = <cnp.PyUFuncGenericFunction>_uloop_d
    _U_FUNCS[op][1] = <cnp.PyUFuncGenericFunction>_uloop_e
    _U_FUNCS[op][2] = <cnp.PyUFuncGenericFunction>_uloop_f
    _U_FUNCS[op][3] = <cnp.PyUFuncGenericFunction>_uloop_g
    for k in range(4):
        _U_DATA[op][k] = <void *><size_t>op
    _U_FUNCS_SCI[op][0] = <cnp.PyUFuncGenericFunction>_uloop_d
    _U_FUNCS_SCI[op][1] = <cnp.PyUFuncGenericFunction>_uloop_f
    _U_FUNCS_SCI[op][2] = <cnp.PyUFuncGenericFunction>_uloop_g
    bname = name.encode()
    bdoc = doc.encode()
    _ufunc_strings.append((bname, bdoc))
    if scipy_loops:
        # data: d, f, g of the same op
        return cnp.PyUFunc_FromFuncAndData(_U_FUNCS_SCI[op], _U_DATA[op], _U_TYPES_SCI, 3,
                                           1, 1, -1, bname, bdoc, 0)
    return cnp.PyUFunc_FromFuncAndData(_U_FUNCS[op], _U_DATA[op], _U_TYPES_LIB, 4,
                                       1, 1, -1, bname, bdoc, 0)


_DOCS = {
    "expit": "expit(x, /, out=None, *, where=True, casting='same_kind', order='K', "
             "dtype=None, subok=True)\n\nLogistic sigmoid 1 / (1 + exp(-x)), elementwise: "
             "scipy.special.expit's loops and types (float32 -> float32, float64 -> "
             "float64, long double -> long double, anything else -> float64), "
             "fastlogistic's kernels (SIMD, threads for big contiguous calls).",
    "log_expit": "log_expit(x, /, out=None, *, where=True, casting='same_kind', order='K', "
                 "dtype=None, subok=True)\n\nlog(expit(x)), accurate in both tails: "
                 "scipy.special.log_expit's loops and types, fastlogistic's kernels.",
    "logit": "logit(p, /, out=None, *, where=True, casting='same_kind', order='K', "
             "dtype=None, subok=True)\n\nlog(p / (1 - p)), the inverse of expit: "
             "logit(0) = -inf, logit(1) = +inf, NaN outside [0, 1]; "
             "scipy.special.logit's loops and types, fastlogistic's kernels.",
}

# the SciPy-named ufuncs (public as fastlogistic.expit, log_expit, logit)
expit = _make_ufunc(FL_SIGMOID, True, "expit", _DOCS["expit"])
log_expit = _make_ufunc(FL_LOG_SIGMOID, True, "log_expit", _DOCS["log_expit"])
logit_ufunc = _make_ufunc(FL_LOGIT, True, "logit", _DOCS["logit"])

# the library's own ufuncs behind sigmoid, log_sigmoid, softplus, sigmoid_grad
# (float16 in, float16 out); the wrappers in _api.py call them for ufunc
# keywords and containers
LIB_UFUNCS = {}
for _op, _nm in ((FL_SIGMOID, "sigmoid"), (FL_LOG_SIGMOID, "log_sigmoid"),
                 (FL_SOFTPLUS, "softplus"), (FL_SIGMOID_GRAD, "sigmoid_grad")):
    LIB_UFUNCS[_op] = _make_ufunc(_op, False, _nm,
                                  f"{_nm}(x, /, out=None, *, where=True, ...)\n\n"
                                  f"The ufunc behind fastlogistic.{_nm}.")
LIB_UFUNCS[FL_LOGIT] = logit_ufunc


# --- threads for calls made on this thread -----------------------------------

def get_thread_override():
    """The use_threads() value in effect on this thread (0: none)."""
    return fl_get_tls_threads()


def set_thread_override(n):
    """Set this thread's thread count for every call (0 clears it); returns
    the previous value."""
    cdef int old = fl_get_tls_threads()
    fl_set_tls_threads(0 if n is None or n == 0 else check_num_threads(n))
    return old


# --- SciPy's ufuncs run fastlogistic's loops ----------------------------------

cdef dict _scipy_saved = {}       # ufunc name -> {signature: SciPy's loop}


cdef int _replace_loop(object uf, int typenum, cnp.PyUFuncGenericFunction f,
                       cnp.PyUFuncGenericFunction *old) except -1:
    cdef int sig[2]
    sig[0] = typenum
    sig[1] = typenum
    if cnp.PyUFunc_ReplaceLoopBySignature(uf, f, sig, old) != 0:
        raise RuntimeError(f"{uf.__name__}: no loop with signature {typenum}->{typenum}")
    return 0


def patch_scipy_ufuncs():
    """Replace the float32 and float64 loops of scipy.special's expit,
    log_expit and logit by fastlogistic's (in SciPy's own ufunc objects, so
    names imported before the patch run them too).  Idempotent; returns the
    names patched."""
    import scipy.special as sc
    cdef cnp.PyUFuncGenericFunction old
    table = {"expit": (<size_t><void *>_sc_expit_d, <size_t><void *>_sc_expit_f),
             "log_expit": (<size_t><void *>_sc_log_expit_d, <size_t><void *>_sc_log_expit_f),
             "logit": (<size_t><void *>_sc_logit_d, <size_t><void *>_sc_logit_f)}
    done = []
    for name, (fd, ff) in table.items():
        uf = getattr(sc, name)
        if not isinstance(uf, np.ufunc) or name in _scipy_saved:
            continue
        types = set(uf.types)
        if "d->d" not in types or "f->f" not in types:
            continue
        saved = {}
        _replace_loop(uf, cnp.NPY_DOUBLE, <cnp.PyUFuncGenericFunction><void *><size_t>fd, &old)
        saved[cnp.NPY_DOUBLE] = <size_t><void *>old
        _replace_loop(uf, cnp.NPY_FLOAT, <cnp.PyUFuncGenericFunction><void *><size_t>ff, &old)
        saved[cnp.NPY_FLOAT] = <size_t><void *>old
        _scipy_saved[name] = (uf, saved)
        done.append(name)
    return done


def unpatch_scipy_ufuncs():
    """Give SciPy's ufuncs their own loops back.  Returns the names restored."""
    cdef cnp.PyUFuncGenericFunction old
    done = []
    for name, (uf, saved) in list(_scipy_saved.items()):
        for typenum, f in saved.items():
            _replace_loop(uf, typenum, <cnp.PyUFuncGenericFunction><void *><size_t>f, &old)
        del _scipy_saved[name]
        done.append(name)
    return done


def scipy_ufuncs_patched():
    return sorted(_scipy_saved)
