"""The peers: the other libraries (each imported only if installed) and the
factories that turn each implementation of a function into a prepared call.

A factory takes the case's inputs (NumPy arrays: "x", and "t" or
"labels"/"y") and a thread count, and returns a `Timed` call.
"""
import dataclasses
import functools

import numpy as np

import fastlogistic as fl

from .timing import Timed


def _import(name):
    try:
        return __import__(name, fromlist=["_"])
    except Exception:  # not installed, or broken: skip it either way
        return None


class _Libs:
    """The competitors, imported once, None where not installed."""

    def __init__(self):
        self.scipy_special = _import("scipy.special")
        self.torch = _import("torch")
        self.torch_F = _import("torch.nn.functional") if self.torch else None
        self.sklearn_loss = _import("sklearn._loss.loss")
        # what a NumPy user reaches for first when NumPy is too slow
        self.numexpr = _import("numexpr")
        self.numba = _import("numba")

    def missing(self):
        return [lib for lib, mod in (("scipy", self.scipy_special), ("torch", self.torch),
                                     ("scikit-learn", self.sklearn_loss),
                                     ("numexpr", self.numexpr), ("numba", self.numba))
                if mod is None]


TORCH_DEFAULT_THREADS = None
LIBS = None                   # set by init(); the factories read it


def init():
    """Import the competitors (once) and remember torch's default thread count."""
    global LIBS, TORCH_DEFAULT_THREADS
    if LIBS is None:
        LIBS = _Libs()
        if LIBS.torch is not None:
            TORCH_DEFAULT_THREADS = LIBS.torch.get_num_threads()
    return LIBS


# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Impl:
    library: str          # which module must be importable: numpy, scipy, torch, sklearn
    factory: object       # (inputs dict, threads) -> Timed
    threaded: bool        # False: the thread count does not apply (runs once, as 1 thread)
    note: str = ""


def _fl(name, *args, **fixed):
    """fastlogistic: the call a user writes, fl.<name>(*inputs, **fixed); the thread
    count is the library default, set before each round (as torch's is), and
    above one thread also passed as num_threads=k.  The default alone would
    not do: it obeys a lower OpenMP thread count set after set_num_threads
    (a threadpoolctl limit), and torch.set_num_threads sets that count in
    the same OpenMP runtime, so after a round of torch at 1 thread our
    2-thread round ran on one."""
    def factory(d, k):
        kw = dict(fixed) if k == 1 else dict(fixed, num_threads=k)
        call = functools.partial(getattr(fl, name), *[d[n] for n in args], **kw)
        return Timed(call, before=lambda: fl.set_num_threads(k))
    return Impl("fastlogistic", factory, threaded=True)


def _plain(library, fn_of_inputs, note=""):
    """A single-threaded library call (NumPy, SciPy)."""
    return Impl(library, lambda d, k: Timed(fn_of_inputs(d)), threaded=False, note=note)


def _torch(fn_of_tensors, grad=False, note=""):
    """PyTorch CPU: arrays become tensors (no copy) outside the timed region;
    torch.set_num_threads(k) before each round."""
    def factory(d, k):
        torch = LIBS.torch
        tensors = {name: torch.from_numpy(a) for name, a in d.items()}
        if grad:
            tensors["x"] = tensors["x"].requires_grad_()
        return Timed(fn_of_tensors(tensors), before=lambda: torch.set_num_threads(k))
    return Impl("torch", factory, threaded=True, note=note)


def _sklearn(make, note=""):
    """scikit-learn's private loss module (`sklearn._loss.loss`), n_threads=k."""
    return Impl("sklearn", lambda d, k: Timed(make(d, k)), threaded=True, note=note)


def _np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _np_bce_mean(x, t):
    # the stable formula as users write it
    return np.mean(np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))))


def _np_log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    zs = z - m
    return zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))


def _np_cross_entropy_loss_and_grad(z, labels):
    n = z.shape[0]
    logp = _np_log_softmax(z)
    rows = np.arange(n)
    loss = -logp[rows, labels].mean()
    grad = np.exp(logp)
    grad[rows, labels] -= 1
    grad /= n
    return loss, grad


def _torch_fwd_bwd(loss_of):
    """Forward + backward through autograd: (loss, d loss / d x)."""
    def make(d):
        torch = LIBS.torch
        x = d["x"]

        def call():
            loss = loss_of(d)
            (g,) = torch.autograd.grad(loss, x)
            return loss, g
        return call
    return make


def _F():
    return LIBS.torch_F


def _sklearn_call(loss_class, method, target):
    """scikit-learn's loss object `loss_class` (the multinomial one sized to C
    classes), calling `method` on (target, x) with n_threads=k."""
    def make(d, k):
        cls = getattr(LIBS.sklearn_loss, loss_class)
        loss = cls(n_classes=d["x"].shape[1]) if d["x"].ndim == 2 else cls()
        f = getattr(loss, method)
        return lambda: f(d[target], d["x"], n_threads=k)
    return make


def _np_sigmoid_grad(x):
    s = _np_sigmoid(x)
    return s * (1 - s)


def _np_grad_hess(x, t):
    s = _np_sigmoid(x)
    return s - t, s * (1 - s)


def _torch_sigmoid_grad(x):
    s = LIBS.torch.sigmoid(x)
    return s * (1 - s)


def _torch_grad_hess(x, t):
    s = LIBS.torch.sigmoid(x)
    return s - t, s * (1 - s)


# --- numexpr and numba: the tools a NumPy user reaches for first ---

def _numexpr_sigmoid():
    """numexpr, as its users write the sigmoid; multi-threaded by numexpr's own
    pool, set to the row's thread count before each round."""
    def factory(d, k):
        ne, x = LIBS.numexpr, d["x"]
        return Timed(lambda: ne.evaluate("1/(1+exp(-x))", local_dict={"x": x}),
                     before=lambda: ne.set_num_threads(k))
    return Impl("numexpr", factory, threaded=True, note='ne.evaluate("1/(1+exp(-x))")')


@functools.lru_cache(maxsize=None)
def _numba_kernels():
    """The two numba forms (compiled lazily, on first use per dtype): a
    @vectorize ufunc (one thread) and an njit(parallel=True, fastmath=True)
    prange loop that allocates its output as the others do."""
    import math

    nb = LIBS.numba

    @nb.vectorize(["float64(float64)", "float32(float32)"])
    def sigmoid_vectorize(x):
        return 1.0 / (1.0 + math.exp(-x))

    @nb.njit(parallel=True, fastmath=True)
    def sigmoid_prange(x):
        out = np.empty_like(x)
        for i in nb.prange(x.size):
            out[i] = 1.0 / (1.0 + np.exp(-x[i]))
        return out

    return sigmoid_vectorize, sigmoid_prange


def _numba_sigmoid(form):
    def factory(d, k):
        nb, x = LIBS.numba, d["x"]
        vectorized, prange = _numba_kernels()
        if form == "vectorize":
            vectorized(x[:1])                      # compiled at definition; warm the call path
            return Timed(lambda: vectorized(x))
        prange(x[:1].copy())                       # JIT compile for this dtype, untimed
        threads = min(k, nb.config.NUMBA_NUM_THREADS)
        return Timed(lambda: prange(x), before=lambda: nb.set_num_threads(threads))
    if form == "vectorize":
        return Impl("numba", factory, threaded=False, note="@vectorize 1/(1+exp(-x))")
    return Impl("numba", factory, threaded=True,
                note="njit(parallel, fastmath) prange 1/(1+exp(-x))")
# --- end of numexpr and numba ---------------------------------------------


# function name -> implementations.  Each factory gets the inputs {"x", "t" or
# "labels"/"y"} (NumPy arrays, or tensors for torch) and returns the call to time.
# --- the "cython" kernel level: Cython typed-memoryview loops over libm ---
# Cython loops over typed memoryviews, libm, prange (fastlogistic._cylevel:
# the same per-point code as FASTLOGISTIC_SIMD=cython), outputs allocated per
# call as the library's are: what the vector core gains over it.
_CY_NOTE = "Cython typed-memoryview loop, libm"


def _cy(make):
    def factory(d, k):
        from .. import _cylevel
        # one thread below the library's parallel threshold, as the library
        # itself does (a parallel region costs more there than it saves)
        if d["x"].size < fl._kernels.PARALLEL_THRESHOLD:
            k = 1
        return Timed(make(_cylevel, d, k))
    return Impl("fastlogistic", factory, threaded=True, note=_CY_NOTE)


def _cy_unary(name):
    def make(cy, d, k):
        x, f = d["x"], getattr(cy, name)

        def call():
            out = np.empty_like(x)
            f(x, out, num_threads=k)
            return out
        return call
    return _cy(make)


def _cy_bcel(grad, hess, mean=True):
    def make(cy, d, k):
        x, t = d["x"], d["t"]
        n = x.size

        def call():
            g = np.empty_like(x) if grad else None
            h = np.empty_like(x) if hess else None
            s = cy.bce_with_logits(x, t, grad=g, hess=h, gscale=1.0 / n if mean else 1.0,
                                   want_sum=mean, num_threads=k)
            return (s / n if mean else None), g, h
        return call
    return _cy(make)


def _cy_multiclass(log_softmax):
    def make(cy, d, k):
        x, labels = d["x"], d["labels"]
        n = x.shape[0]

        def call():
            out = np.empty_like(x)
            if log_softmax:
                return cy.softmax(x, out, log=True, num_threads=k)
            return cy.cross_entropy(x, target_index=labels, grad=out, gscale=1.0 / n,
                                    num_threads=k) / n, out
        return call
    return _cy(make)


CYTHON_IMPLS = {
    "sigmoid": _cy_unary("sigmoid"), "log_sigmoid": _cy_unary("log_sigmoid"),
    "softplus": _cy_unary("softplus"), "sigmoid_grad": _cy_unary("sigmoid_grad"),
    "bce_logits": _cy_bcel(False, False), "bce_logits_loss_and_grad": _cy_bcel(True, False),
    "bce_logits_grad_hess": _cy_bcel(True, True, mean=False),
    "log_softmax": _cy_multiclass(True), "cross_entropy_loss_and_grad": _cy_multiclass(False),
}
# --- end of the "cython" level -------------------------------------------


# a reference, not a competitor: copying the input's bytes (the memory-bandwidth
# limit of an elementwise function): NumPy's copy on one thread, torch's copy_
# on several where torch is installed
def _copy_factory(d, k):
    x = d["x"]
    out = np.empty_like(x)
    if k > 1 and LIBS.torch is not None:
        tx, tout = LIBS.torch.from_numpy(x), LIBS.torch.from_numpy(out)
        return Timed(lambda: tout.copy_(tx), before=lambda: LIBS.torch.set_num_threads(k))
    return Timed(lambda: np.copyto(out, x))


COPY = Impl("numpy", _copy_factory, threaded=True,
            note="memory copy of x (np.copyto; torch copy_ above 1 thread)")
REFERENCE_IMPLS = {"copy": COPY}     # the elementwise and binary functions' memory limit
DEFAULT_IMPLS = ("fastlogistic", "cython", "numpy", "scipy", "torch", "sklearn",
                 "numexpr", "numba_vectorize", "numba_prange", "copy")


def _np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _available(impl):
    return {"numpy": True, "fastlogistic": True,
            "scipy": LIBS.scipy_special is not None,
            "torch": LIBS.torch is not None,
            "sklearn": LIBS.sklearn_loss is not None,
            "numexpr": LIBS.numexpr is not None,
            "numba": LIBS.numba is not None}[impl.library]
