# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The "cython" kernel level: Cython loops over
typed memoryviews with fused float/double types, nogil, ``prange``, libm.

Each function runs one kernel of the level over whole C-contiguous arrays,
writing into the outputs given, on ``num_threads`` OpenMP threads.  The
loops call the same per-point (per-row) inline functions
(``_cylevel_points.pxi``) as the level's kernel table in ``_kernels``,
which is what the library's entry points use after
``FASTLOGISTIC_SIMD=cython`` or ``set_simd_level("cython")``, and in a
portable build: element for element the results are the same bits.  The
table's entries take raw pointers rather than memoryviews because they are
called per chunk inside the drivers' ``prange``, where there is no GIL, and a
memoryview cannot be created from a pointer without it.

This module is for testing and measuring the level (the bench's "cython"
row); it checks shapes and nothing else: use the public functions of
``fastlogistic`` for everything else (broadcasting, dtypes, reductions,
bitwise-reproducible sums for any thread count).
"""
from cython.parallel cimport prange

include "_softmax_decl.pxi"
include "_cylevel_points.pxi"


cdef int _threads(str name, int num_threads) except -1:
    if num_threads < 1:
        raise ValueError(f"_cylevel.{name}: num_threads must be >= 1, got {num_threads}")
    return num_threads


cdef _same(str name, str what, Py_ssize_t got, Py_ssize_t want):
    if got != want:
        raise ValueError(f"_cylevel.{name}: {what} has {got} elements, expected {want}")


# ------------------------------ elementwise -------------------------------

def sigmoid(const floating[::1] x, floating[::1] out, int num_threads=1):
    """out[i] = 1 / (1 + exp(-x[i])), stable (see _cylevel_points.pxi)."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef int nt = _threads("sigmoid", num_threads)
    _same("sigmoid", "out", out.shape[0], n)
    for i in prange(n, nogil=True, num_threads=nt, schedule="static"):
        out[i] = cy_sigmoid(x[i])


def log_sigmoid(const floating[::1] x, floating[::1] out, int num_threads=1):
    """out[i] = log(sigmoid(x[i]))."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef int nt = _threads("log_sigmoid", num_threads)
    _same("log_sigmoid", "out", out.shape[0], n)
    for i in prange(n, nogil=True, num_threads=nt, schedule="static"):
        out[i] = cy_log_sigmoid(x[i])


def softplus(const floating[::1] x, floating[::1] out, int num_threads=1):
    """out[i] = log(1 + exp(x[i]))."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef int nt = _threads("softplus", num_threads)
    _same("softplus", "out", out.shape[0], n)
    for i in prange(n, nogil=True, num_threads=nt, schedule="static"):
        out[i] = cy_softplus(x[i])


def sigmoid_grad(const floating[::1] x, floating[::1] out, int num_threads=1):
    """out[i] = sigmoid(x[i]) sigmoid(-x[i])."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef int nt = _threads("sigmoid_grad", num_threads)
    _same("sigmoid_grad", "out", out.shape[0], n)
    for i in prange(n, nogil=True, num_threads=nt, schedule="static"):
        out[i] = cy_sigmoid_grad(x[i])


def logit(const floating[::1] p, floating[::1] out, int num_threads=1):
    """out[i] = log(p[i] / (1 - p[i])) (NaN outside [0, 1])."""
    cdef Py_ssize_t i, n = p.shape[0]
    cdef int nt = _threads("logit", num_threads)
    _same("logit", "out", out.shape[0], n)
    for i in prange(n, nogil=True, num_threads=nt, schedule="static"):
        out[i] = cy_logit(p[i])


# ------------------------- binary cross-entropy ---------------------------

def bce_with_logits(const floating[::1] x, const floating[::1] t,
                    const floating[::1] weight=None, const floating[::1] pos_weight=None,
                    floating[::1] loss=None, floating[::1] grad=None,
                    floating[::1] hess=None, double gscale=1.0, bint want_sum=True,
                    int num_threads=1):
    """Binary cross-entropy with logits, elementwise: the loss, gradient
    (times gscale) and second derivative (times gscale) into those of loss,
    grad, hess that are given.  weight and pos_weight: one per element, or
    None (1).  Returns the sum of the losses in float64 (0.0 without loss or
    want_sum; then no loss is computed); its order of addition depends on
    the thread count."""
    cdef Py_ssize_t i, n = x.shape[0]
    cdef int nt = _threads("bce_with_logits", num_threads)
    cdef bint has_w = weight is not None, has_pw = pos_weight is not None
    cdef bint has_l = loss is not None, has_g = grad is not None, has_h = hess is not None
    cdef int want = ((CY_LOSS if (has_l or want_sum) else 0) | (CY_GRAD if has_g else 0)
                     | (CY_HESS if has_h else 0))
    cdef floating l, g, h
    cdef double s = 0.0
    _same("bce_with_logits", "t", t.shape[0], n)
    for name, a in (("weight", weight), ("pos_weight", pos_weight), ("loss", loss),
                    ("grad", grad), ("hess", hess)):
        if a is not None:
            _same("bce_with_logits", name, a.shape[0], n)
    for i in prange(n, nogil=True, num_threads=nt, schedule="static"):
        l = 0
        g = 0
        h = 0
        cy_bcel(x[i], t[i], weight[i] if has_w else <floating>1,
                pos_weight[i] if has_pw else <floating>1, gscale, want, &l, &g, &h)
        if want & CY_LOSS:
            s += l
        if has_l:
            loss[i] = l
        if has_g:
            grad[i] = g
        if has_h:
            hess[i] = h
    return s


def bce(const floating[::1] p, const floating[::1] t, const floating[::1] weight=None,
        floating[::1] loss=None, floating[::1] grad=None, double gscale=1.0,
        int num_threads=1):
    """Binary cross-entropy on probabilities (PyTorch's clamps), elementwise.
    Returns (sum of the losses in float64, index of the first p outside
    [0, 1] or NaN, else -1)."""
    cdef Py_ssize_t i, n = p.shape[0], first = -1
    cdef int nt = _threads("bce", num_threads)
    cdef bint has_w = weight is not None, has_l = loss is not None, has_g = grad is not None
    cdef int want = CY_LOSS | (CY_GRAD if has_g else 0)
    cdef floating l, g
    cdef double s = 0.0, pi
    _same("bce", "t", t.shape[0], n)
    for name, a in (("weight", weight), ("loss", loss), ("grad", grad)):
        if a is not None:
            _same("bce", name, a.shape[0], n)
    for i in prange(n, nogil=True, num_threads=nt, schedule="static"):
        l = 0
        g = 0
        cy_bce(p[i], t[i], weight[i] if has_w else <floating>1, gscale, want, &l, &g)
        s += l
        if has_l:
            loss[i] = l
        if has_g:
            grad[i] = g
    with nogil:
        for i in range(n):
            pi = p[i]
            if not (pi >= 0.0 and pi <= 1.0):
                first = i
                break
    return s, first


# ------------------------------ multi-class -------------------------------

def softmax(const floating[:, ::1] z, floating[:, ::1] out, bint log=False,
            int num_threads=1):
    """Softmax (log=False) or log-softmax of each row of z into out; out may
    be z's own memory."""
    cdef Py_ssize_t r, N = z.shape[0], C = z.shape[1]
    cdef int nt = _threads("softmax", num_threads)
    if out.shape[0] != N or out.shape[1] != C:
        raise ValueError(f"_cylevel.softmax: out has shape {(out.shape[0], out.shape[1])}, "
                         f"expected {(N, C)}")
    if C == 0:
        return
    for r in prange(N, nogil=True, num_threads=nt, schedule="static"):
        cy_softmax_row(&z[r, 0], &out[r, 0], C, log)


cdef int _ce_args(str name, Py_ssize_t N, Py_ssize_t C, object idx, object t, object w,
                  object loss, object grad) except -1:
    if (idx is None) == (t is None):
        raise ValueError(f"_cylevel.{name}: give exactly one of target_index, target_prob")
    if idx is not None:
        _same(name, "target_index", idx.shape[0], N)
    if t is not None and (t.shape[0] != N or t.shape[1] != C):
        raise ValueError(f"_cylevel.{name}: target_prob has shape {tuple(t.shape[:2])}, "
                         f"expected {(N, C)}")
    if w is not None:
        _same(name, "weight", w.shape[0], C)
    if loss is not None:
        _same(name, "loss", loss.shape[0], N)
    if grad is not None and (grad.shape[0] != N or grad.shape[1] != C):
        raise ValueError(f"_cylevel.{name}: grad has shape {tuple(grad.shape[:2])}, "
                         f"expected {(N, C)}")
    return 0


def cross_entropy(const floating[:, ::1] z, const int64_t[::1] target_index=None,
                  const floating[:, ::1] target_prob=None, const floating[::1] weight=None,
                  floating[::1] loss=None, floating[:, ::1] grad=None,
                  long long ignore_index=-100, double label_smoothing=0.0,
                  double gscale=1.0, int num_threads=1):
    """Cross-entropy on the logits z (rows, C), PyTorch's semantics: class
    indices (target_index; rows whose index is ignore_index give 0) or
    probabilities (target_prob), per-class weight, label smoothing.  Row
    losses into loss, the gradient times gscale into grad (each if given).
    Class indices must be in [0, C) or ignore_index (not checked here).
    Returns the sum of the row losses in float64."""
    cdef Py_ssize_t r, c, N = z.shape[0], C = z.shape[1]
    cdef int nt = _threads("cross_entropy", num_threads)
    cdef fl_ce_params P
    cdef bint by_index = target_index is not None, has_t = target_prob is not None
    cdef bint has_l = loss is not None, has_g = grad is not None
    cdef double s = 0.0
    _ce_args("cross_entropy", N, C, target_index, target_prob, weight, loss, grad)
    if N == 0 or C == 0:
        return 0.0
    P.C = C
    P.ignore_index = ignore_index
    P.w = NULL
    if weight is not None:
        P.w = <const void *>&weight[0]
    P.wall = <double>C
    if weight is not None:
        P.wall = 0.0
        for c in range(C):
            P.wall += weight[c]
    P.eps = label_smoothing
    P.gscale = gscale
    for r in prange(N, nogil=True, num_threads=nt, schedule="static"):
        s += cy_ce_row(&P, &z[r, 0], by_index, target_index[r] if by_index else -1,
                       &target_prob[r, 0] if has_t else NULL,
                       &loss[r] if has_l else NULL, &grad[r, 0] if has_g else NULL)
    return s


def categorical_cross_entropy(const floating[:, ::1] p, const int64_t[::1] target_index=None,
                              const floating[:, ::1] target_prob=None,
                              const floating[::1] weight=None, floating[::1] loss=None,
                              floating[:, ::1] grad=None, long long ignore_index=-100,
                              double gscale=1.0, int num_threads=1):
    """Categorical cross-entropy on probabilities p (rows, C): loss =
    -sum_c w_c t_c max(log p_c, -100), grad = -gs w_c t_c / max(p_c, 1e-12).
    Returns (sum of the row losses in float64, flat index row * C + class of
    the first p outside [0, 1] or NaN, else -1)."""
    cdef Py_ssize_t r, c, N = p.shape[0], C = p.shape[1], first = -1, bad
    cdef int nt = _threads("categorical_cross_entropy", num_threads)
    cdef fl_ce_params P
    cdef bint by_index = target_index is not None, has_t = target_prob is not None
    cdef bint has_l = loss is not None, has_g = grad is not None
    cdef double s = 0.0
    _ce_args("categorical_cross_entropy", N, C, target_index, target_prob, weight, loss, grad)
    if N == 0 or C == 0:
        return 0.0, -1
    P.C = C
    P.ignore_index = ignore_index
    P.w = NULL
    if weight is not None:
        P.w = <const void *>&weight[0]
    P.wall = 0.0
    P.eps = 0.0
    P.gscale = gscale
    for r in prange(N, nogil=True, num_threads=nt, schedule="static"):
        bad = -1
        s += cy_cce_row(&P, &p[r, 0], by_index, target_index[r] if by_index else -1,
                        &target_prob[r, 0] if has_t else NULL,
                        &loss[r] if has_l else NULL, &grad[r, 0] if has_g else NULL, &bad)
    with nogil:
        for r in range(N):
            for c in range(C):
                if not (p[r, c] >= 0.0 and p[r, c] <= 1.0):
                    first = r * C + c
                    break
            if first >= 0:
                break
    return s, first
