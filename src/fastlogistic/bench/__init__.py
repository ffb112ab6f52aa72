"""``python -m fastlogistic bench``: fastlogistic against NumPy, SciPy, PyTorch
and scikit-learn, each where installed.

How it measures.  A *case* is one function at one input shape and dtype.  Its
inputs are made once; every implementation (at every requested thread count)
becomes a zero-argument callable that is warmed up once and calibrated so that
one *round* of calls takes about ROUND_SECONDS.  Then the rounds alternate
between the implementations (round-robin, starting one further along each
time) so that every implementation sees the same machine load, and the median
time per call over the rounds is reported.  Each round is preceded by
WARM_SECONDS of untimed calls of the same implementation, so that a round does
not pay for the state the previous one left (caches filled with other data,
an idle second core of a virtual machine coming back).  Ratios between
implementations of the same case are what the targets are about: a speed-up is the median over
the rounds of the ratio of the two times measured in the same round, a few
tens of milliseconds apart, so that a change of the machine's load between
rounds (other virtual machines on the host, on a cloud runner) cancels out.
Absolute numbers move with that load.

Layout of this file: the registry (FUNCTIONS: function name -> {implementation
name: factory}), the one timing helper (`time_case`), the memory probe, the
targets, and the report (table, JSON, plot).
"""
import argparse
import ctypes
import dataclasses
import functools
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc

import numpy as np

import fastlogistic as fl

ROUND_SECONDS = 0.03          # length of one round of calls of one implementation
WARM_SECONDS = 0.01          # untimed calls of an implementation just before each of its rounds
CALIBRATE_SECONDS = 0.005     # calls are repeated until this long to estimate one call
SEED = 20240607


# ---------------------------------------------------------------------------
# optional libraries
# ---------------------------------------------------------------------------

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


_TORCH_DEFAULT_THREADS = None
LIBS = None                   # set by init(); the factories read it


def init():
    """Import the competitors (once) and remember torch's default thread count."""
    global LIBS, _TORCH_DEFAULT_THREADS
    if LIBS is None:
        LIBS = _Libs()
        if LIBS.torch is not None:
            _TORCH_DEFAULT_THREADS = LIBS.torch.get_num_threads()
    return LIBS


# ---------------------------------------------------------------------------
# the registry: what each implementation of each function is
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Timed:
    """A prepared call: `call()` is timed; `before()` runs untimed before each
    round (it sets the library's thread count)."""
    call: object
    before: object = None


@dataclasses.dataclass
class Impl:
    library: str          # which module must be importable: numpy, scipy, torch, sklearn
    factory: object       # (inputs dict, threads) -> Timed
    threaded: bool        # False: the thread count does not apply (runs once, as 1 thread)
    note: str = ""


@dataclasses.dataclass
class Function:
    kind: str             # "unary" (x), "binary" (x, target), "multiclass" (z (N, C), labels)
    impls: dict           # implementation name -> Impl; "fastlogistic" first
    fl_name: str          # the fastlogistic attribute that must exist


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


# --- numexpr and numba (issue 18): the tools a NumPy user reaches for first ---

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
# --- the "cython" kernel level (issue 18): the design card's own approach --
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


FUNCTIONS = {
    "sigmoid": Function("unary", {
        "fastlogistic": _fl("sigmoid", "x"),
        "numpy": _plain("numpy", lambda d: lambda: _np_sigmoid(d["x"]), "1/(1+np.exp(-x))"),
        "scipy": _plain("scipy", lambda d: lambda: LIBS.scipy_special.expit(d["x"]), "expit"),
        "torch": _torch(lambda d: lambda: LIBS.torch.sigmoid(d["x"]), note="torch.sigmoid"),
        "numexpr": _numexpr_sigmoid(),
        "numba_vectorize": _numba_sigmoid("vectorize"),
        "numba_prange": _numba_sigmoid("prange"),
    }, "sigmoid"),
    "log_sigmoid": Function("unary", {
        "fastlogistic": _fl("log_sigmoid", "x"),
        "numpy": _plain("numpy", lambda d: lambda: -np.logaddexp(0, -d["x"]),
                        "-np.logaddexp(0, -x)"),
        "scipy": _plain("scipy", lambda d: lambda: LIBS.scipy_special.log_expit(d["x"]),
                        "log_expit"),
        "torch": _torch(lambda d: lambda: _F().logsigmoid(d["x"]), note="F.logsigmoid"),
    }, "log_sigmoid"),
    "softplus": Function("unary", {
        "fastlogistic": _fl("softplus", "x"),
        "numpy": _plain("numpy", lambda d: lambda: np.logaddexp(0, d["x"]),
                        "np.logaddexp(0, x)"),
        "scipy": _plain("scipy", lambda d: lambda: LIBS.scipy_special.softplus(d["x"]),
                        "softplus"),
        "torch": _torch(lambda d: lambda: _F().softplus(d["x"]), note="F.softplus"),
    }, "softplus"),
    "sigmoid_grad": Function("unary", {
        "fastlogistic": _fl("sigmoid_grad", "x"),
        "numpy": _plain("numpy", lambda d: lambda: _np_sigmoid_grad(d["x"]), "s*(1-s)"),
        "torch": _torch(lambda d: lambda: _torch_sigmoid_grad(d["x"]), note="s*(1-s)"),
    }, "sigmoid_grad"),
    "bce_logits": Function("binary", {
        "fastlogistic": _fl("binary_cross_entropy_with_logits", "x", "t"),
        "numpy": _plain("numpy", lambda d: lambda: _np_bce_mean(d["x"], d["t"]),
                        "stable formula, mean"),
        "torch": _torch(lambda d: lambda: _F().binary_cross_entropy_with_logits(d["x"], d["t"]),
                        note="forward, mean"),
        "sklearn": _sklearn(_sklearn_call("HalfBinomialLoss", "__call__", "t"),
                            note="HalfBinomialLoss()(y, x), mean"),
    }, "binary_cross_entropy_with_logits"),
    "bce_logits_loss_and_grad": Function("binary", {
        "fastlogistic": _fl("binary_cross_entropy_with_logits_loss_and_grad", "x", "t"),
        "numpy": _plain("numpy", lambda d: lambda: (
            _np_bce_mean(d["x"], d["t"]), (_np_sigmoid(d["x"]) - d["t"]) / d["x"].size),
            "stable formula + (s-t)/n"),
        "torch": _torch(_torch_fwd_bwd(
            lambda d: _F().binary_cross_entropy_with_logits(d["x"], d["t"])), grad=True,
            note="forward+backward (autograd)"),
        "sklearn": _sklearn(_sklearn_call("HalfBinomialLoss", "loss_gradient", "t"),
                            note="loss_gradient (per element, no mean)"),
    }, "binary_cross_entropy_with_logits_loss_and_grad"),
    "bce_logits_grad_hess": Function("binary", {
        "fastlogistic": _fl("binary_cross_entropy_with_logits_grad_hess", "x", "t"),
        "numpy": _plain("numpy", lambda d: lambda: _np_grad_hess(d["x"], d["t"]), "s-t, s*(1-s)"),
        "torch": _torch(lambda d: lambda: _torch_grad_hess(d["x"], d["t"]), note="s-t, s*(1-s)"),
        "sklearn": _sklearn(_sklearn_call("HalfBinomialLoss", "gradient_hessian", "t"),
                            note="gradient_hessian"),
    }, "binary_cross_entropy_with_logits_grad_hess"),
    "log_softmax": Function("multiclass", {
        "fastlogistic": _fl("log_softmax", "x", axis=-1),   # per row, as the peers
        "numpy": _plain("numpy", lambda d: lambda: _np_log_softmax(d["x"]),
                        "z-m-log(sum(exp(z-m)))"),
        "scipy": _plain("scipy", lambda d: lambda: LIBS.scipy_special.log_softmax(d["x"], axis=1),
                        "log_softmax"),
        "torch": _torch(lambda d: lambda: _F().log_softmax(d["x"], dim=1), note="F.log_softmax"),
    }, "log_softmax"),
    "cross_entropy_loss_and_grad": Function("multiclass", {
        "fastlogistic": _fl("cross_entropy_loss_and_grad", "x", "labels"),
        "numpy": _plain("numpy", lambda d: lambda: _np_cross_entropy_loss_and_grad(
            d["x"], d["labels"]), "log_softmax, mean, softmax-onehot"),
        "torch": _torch(_torch_fwd_bwd(lambda d: _F().cross_entropy(d["x"], d["labels"])),
                        grad=True, note="F.cross_entropy forward+backward"),
        "sklearn": _sklearn(_sklearn_call("HalfMultinomialLoss", "loss_gradient", "y"),
                            note="HalfMultinomialLoss.loss_gradient"),
    }, "cross_entropy_loss_and_grad"),
}


for _name, _impl in CYTHON_IMPLS.items():
    FUNCTIONS[_name].impls["cython"] = _impl


# a reference, not a competitor: copying the input's bytes (the memory-bandwidth
# limit of an elementwise function), threaded through torch when available
def _copy_factory(d, k):
    x = d["x"]
    out = np.empty_like(x)
    if LIBS.torch is not None:
        tx, tout = LIBS.torch.from_numpy(x), LIBS.torch.from_numpy(out)
        return Timed(lambda: tout.copy_(tx), before=lambda: LIBS.torch.set_num_threads(k))
    return Timed(lambda: np.copyto(out, x))


COPY = Impl("numpy", _copy_factory, threaded=True, note="memory copy (torch copy_)")
REFERENCE_IMPLS = {"copy": COPY}     # only with --impls copy
DEFAULT_IMPLS = ("fastlogistic", "cython", "numpy", "scipy", "torch", "sklearn",
                 "numexpr", "numba_vectorize", "numba_prange")


def _available(impl):
    return {"numpy": True, "fastlogistic": True,
            "scipy": LIBS.scipy_special is not None,
            "torch": LIBS.torch is not None,
            "sklearn": LIBS.sklearn_loss is not None,
            "numexpr": LIBS.numexpr is not None,
            "numba": LIBS.numba is not None}[impl.library]


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------

def make_inputs(kind, shape, dtype):
    """Random inputs, made once per case: logits x ~ 4 N(0, 1) (no overflow in
    the NumPy expressions), 0/1 targets t, class labels for (N, C) input."""
    rng = np.random.default_rng(SEED)
    x = (4 * rng.standard_normal(shape)).astype(dtype)
    if kind == "unary":
        return {"x": x}
    if kind == "binary":
        return {"x": x, "t": (rng.random(shape) < 0.5).astype(dtype)}
    labels = rng.integers(0, shape[1], shape[0])
    return {"x": x, "labels": labels, "y": labels.astype(dtype)}


# ---------------------------------------------------------------------------
# the timing helper (serves every case)
# ---------------------------------------------------------------------------

def _run(call, n):
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return time.perf_counter() - t0


def time_case(entries, rounds):
    """entries: {key: Timed}.  Returns {key: (median seconds per call, calls
    per round, [seconds per call of each round])}.

    Each entry is warmed up once and calibrated to ROUND_SECONDS per round;
    the rounds then alternate between the entries, each round starting one
    entry further along and preceded by WARM_SECONDS of untimed calls of its
    entry, and the median over the rounds is reported.
    """
    keys = list(entries)
    calls, warm = {}, {}
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        for key in keys:
            t = entries[key]
            if t.before:
                t.before()
            t.call()                                   # warm up
            n, elapsed = 1, _run(t.call, 1)
            while elapsed < CALIBRATE_SECONDS:
                n *= 4 if elapsed < CALIBRATE_SECONDS / 8 else 2
                elapsed = _run(t.call, n)
            calls[key] = max(1, round(ROUND_SECONDS * n / elapsed))
            warm[key] = max(1, round(WARM_SECONDS * n / elapsed))
        samples = {key: [] for key in keys}
        for r in range(rounds):
            for i in range(len(keys)):
                key = keys[(i + r) % len(keys)]
                t = entries[key]
                if t.before:
                    t.before()
                _run(t.call, warm[key])
                samples[key].append(_run(t.call, calls[key]) / calls[key])
    finally:
        if gc_was_on:
            gc.enable()
    return {key: (statistics.median(s), calls[key], s) for key, s in samples.items()}


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Case:
    function: str
    shape: tuple
    dtype: str
    threads: tuple        # thread counts of the threaded implementations
    impls: tuple          # implementation names

    @property
    def size(self):
        return math.prod(self.shape)

    def label(self):
        shape = _fmt_shape(self.shape)
        return f"{self.function}  {self.dtype}  {shape}"


def _fmt_n(n):
    if n < 1000:
        return str(n)
    e = int(math.floor(math.log10(n)))
    m = n / 10 ** e
    return f"{m:g}e{e}" if m != 1 else f"1e{e}"


def _fmt_shape(shape):
    if len(shape) == 1:
        return f"N={_fmt_n(shape[0])}"
    return "(N, C)=(" + ", ".join(_fmt_n(s) for s in shape) + ")"


def run_case(case, rounds):
    """Time one case; returns a list of result dicts (one per implementation
    and thread count)."""
    func = FUNCTIONS[case.function]
    inputs = make_inputs(func.kind, case.shape, case.dtype)
    entries, meta = {}, {}
    for name in case.impls:
        impl = REFERENCE_IMPLS.get(name) or func.impls[name]
        for k in (case.threads if impl.threaded else (1,)):
            entries[(name, k)] = impl.factory(inputs, k)
            meta[(name, k)] = impl.note
    try:
        timings = time_case(entries, rounds)
    finally:
        fl.set_num_threads(None)
        if LIBS.torch is not None:
            LIBS.torch.set_num_threads(_TORCH_DEFAULT_THREADS)
    out = []
    for (name, k), (median, ncalls, samples) in timings.items():
        out.append({
            "function": case.function, "implementation": name, "note": meta[(name, k)],
            "dtype": case.dtype, "shape": list(case.shape), "n_elements": case.size,
            "threads": k, "seconds_per_call": median,
            "ns_per_element": median * 1e9 / case.size,
            "calls_per_round": ncalls, "rounds_seconds_per_call": samples,
        })
    return out


def build_cases(functions, sizes, shapes, dtypes, threads, impls):
    cases, skipped = [], []
    for fname in functions:
        func = FUNCTIONS[fname]
        if not hasattr(fl, func.fl_name):
            skipped.append(f"{fname}: fastlogistic.{func.fl_name} is not in this build (issue 4)")
            continue
        names = ["fastlogistic"]
        for n in impls:
            if n in func.impls and n != "fastlogistic" and _available(func.impls[n]):
                names.append(n)
            elif n in REFERENCE_IMPLS and func.kind == "unary":
                names.append(n)
        names = tuple(names)
        case_shapes = shapes if func.kind == "multiclass" else [(n,) for n in sizes]
        for shape in case_shapes:
            for dt in dtypes:
                cases.append(Case(fname, tuple(shape), dt, tuple(threads), names))
    return cases, skipped


QUICK_CASES = [
    # (function, shape, dtypes, threads, implementations or None for all)
    ("sigmoid", (10**6,), ("float64", "float32"), (1,), None),
    ("bce_logits", (10**6,), ("float64",), (1,), None),
    ("bce_logits_loss_and_grad", (10**6,), ("float64",), (1,), None),
    ("sigmoid", (16,), ("float64",), (1,), ("fastlogistic", "scipy", "numpy", "torch")),
    ("sigmoid", (10**7,), ("float64",), (1, 2),
     ("fastlogistic", "torch", "numexpr", "numba_prange")),
    ("cross_entropy_loss_and_grad", (10**5, 10), ("float64",), (1,), None),
]


def quick_cases():
    cases, skipped = [], []
    for fname, shape, dtypes, threads, impls in QUICK_CASES:
        c, s = build_cases([fname], [shape[0]], [shape], dtypes, threads,
                           impls or DEFAULT_IMPLS)
        cases += c
        skipped += [m for m in s if m not in skipped]
    return cases, skipped


# ---------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------

MEMORY_N = 10**7


def _memory_cases():
    """(label, kind, fastlogistic call, NumPy call, allowed extra bytes for
    fastlogistic beyond its outputs)."""
    return [
        ("sigmoid", "unary", lambda d: fl.sigmoid(d["x"]), lambda d: _np_sigmoid(d["x"])),
        ("softplus", "unary", lambda d: fl.softplus(d["x"]), lambda d: np.logaddexp(0, d["x"])),
        ("bce_logits (mean)", "binary",
         lambda d: fl.binary_cross_entropy_with_logits(d["x"], d["t"]),
         lambda d: _np_bce_mean(d["x"], d["t"])),
        ("bce_logits_loss_and_grad (mean)", "binary",
         lambda d: fl.binary_cross_entropy_with_logits_loss_and_grad(d["x"], d["t"]),
         lambda d: (_np_bce_mean(d["x"], d["t"]), (_np_sigmoid(d["x"]) - d["t"]) / d["x"].size)),
    ]


def _out_bytes(result):
    if isinstance(result, tuple):
        return sum(_out_bytes(r) for r in result)
    return result.nbytes if isinstance(result, np.ndarray) and result.ndim else 0


def _peak_extra(call):
    """Peak bytes allocated (as tracemalloc sees them: NumPy registers its
    data buffers) during one call, above what was allocated before it."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        result = call()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, _out_bytes(result)


def run_memory(n=MEMORY_N, dtype="float64"):
    rows = []
    for label, kind, fl_call, np_call in _memory_cases():
        d = make_inputs(kind, (n,), dtype)
        fl_call(d)                                     # warm up (lazy imports, caches)
        fl_peak, fl_out = _peak_extra(lambda: fl_call(d))
        np_peak, _ = _peak_extra(lambda: np_call(d))
        extra = fl_peak - fl_out
        limit = 1 << 20 if fl_out == 0 else 64 << 10   # reductions: < 1 MB; else output only
        rows.append({"function": label, "n_elements": n, "dtype": dtype,
                     "fastlogistic_peak_bytes": fl_peak, "fastlogistic_output_bytes": fl_out,
                     "numpy_peak_bytes": np_peak, "fastlogistic_extra_bytes": extra,
                     "limit_extra_bytes": limit, "pass": extra <= limit})
        del d
    return rows


def _mb(b):
    return f"{b / 2**20:9.1f} MB"


def print_memory(rows, file):
    print(f"\nMemory: peak allocation during one call (tracemalloc), "
          f"N={_fmt_n(rows[0]['n_elements'])} {rows[0]['dtype']}", file=file)
    print("  (PyTorch allocates outside tracemalloc's view, so it is not listed)", file=file)
    print(f"  {'function':<34}{'fastlogistic':>13}{'of which output':>17}{'numpy':>13}  "
          "check", file=file)
    for r in rows:
        what = ("extra beyond output" if r["fastlogistic_output_bytes"] else "total (reduction)")
        verdict = "PASS" if r["pass"] else "FAIL"
        print(f"  {r['function']:<34}{_mb(r['fastlogistic_peak_bytes']):>13}"
              f"{_mb(r['fastlogistic_output_bytes']):>17}{_mb(r['numpy_peak_bytes']):>13}  "
              f"{verdict}: {what} {r['fastlogistic_extra_bytes'] / 1024:.1f} KB "
              f"(limit {r['limit_extra_bytes'] / 1024:.0f} KB)", file=file)


# ---------------------------------------------------------------------------
# targets (issues 3 and 4): ratios measured in one run
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Target:
    text: str
    function: str
    shape: tuple
    threads: int          # thread count of the slow side ("base")
    base: str             # implementation whose time is divided ...
    minimum: float = None  # base time / fastlogistic time >= minimum
    maximum: float = None  # fastlogistic time / base time <= maximum
    fl_threads: int = None  # fastlogistic's thread count (default: threads)


TARGETS = [
    Target("sigmoid, 1 thread, N=1e6: >= 1.5x torch", "sigmoid", (10**6,), 1, "torch", minimum=1.5),
    Target("bce_logits mean, 1 thread, N=1e6: >= 4x torch", "bce_logits", (10**6,), 1, "torch",
           minimum=4),
    Target("bce_logits loss_and_grad, 1 thread, N=1e6: >= 5x torch fwd+bwd",
           "bce_logits_loss_and_grad", (10**6,), 1, "torch", minimum=5),
    Target("sigmoid, N=1e7: 2 threads >= 1.7x 1 thread", "sigmoid", (10**7,), 1, "fastlogistic",
           minimum=1.7, fl_threads=2),
    Target("sigmoid, N=16: time <= 1.5x scipy expit", "sigmoid", (16,), 1, "scipy", maximum=1.5),
    Target("cross_entropy loss_and_grad, 1 thread, (1e5, 10): >= 3x torch fwd+bwd",
           "cross_entropy_loss_and_grad", (10**5, 10), 1, "torch", minimum=3),
    Target("cross_entropy loss_and_grad, 1 thread, (1e4, 1000): >= 3x torch fwd+bwd",
           "cross_entropy_loss_and_grad", (10**4, 1000), 1, "torch", minimum=3),
    Target("cross_entropy loss_and_grad, (1e4, 1000): 2 threads >= 1.7x 1 thread",
           "cross_entropy_loss_and_grad", (10**4, 1000), 1, "fastlogistic", minimum=1.7,
           fl_threads=2),
]


def paired_ratios(num, den):
    """num's time / den's time in each round (rows of one case; their rounds
    line up), or the one ratio of their medians where they do not."""
    a, b = num["rounds_seconds_per_call"], den["rounds_seconds_per_call"]
    if len(a) != len(b) or not a:
        return [num["seconds_per_call"] / den["seconds_per_call"]]
    return [x / y for x, y in zip(a, b)]


def paired_ratio(num, den):
    """Median over rounds of num's time / den's time in the same round."""
    return statistics.median(paired_ratios(num, den))


def quartiles(values):
    """(first, third) quartile; both the value itself for a single one."""
    if len(values) < 2:
        return values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def find_row(results, function, shape, dtype, impl, threads):
    """The result row of one implementation at one case and thread count, or None."""
    key = (function, tuple(shape), dtype, impl, threads)
    for r in results:
        if (r["function"], tuple(r["shape"]), r["dtype"], r["implementation"],
                r["threads"]) == key:
            return r
    return None


def check_targets(results):
    def find(*key):
        return find_row(results, *key)

    checks = []
    for tg in TARGETS:
        for dtype in ("float64", "float32"):
            fl_r = find(tg.function, tg.shape, dtype, "fastlogistic", tg.fl_threads or tg.threads)
            base_r = find(tg.function, tg.shape, dtype, tg.base, tg.threads)
            if fl_r is None:
                continue
            if base_r is None:
                checks.append({"target": tg.text, "dtype": dtype, "ratio": None, "pass": None,
                               "shown": f"not measured ({tg.base} not run)"})
                continue
            if tg.minimum is not None:
                ratios = paired_ratios(base_r, fl_r)
                bar, what = tg.minimum, "speed-up"
            else:
                ratios = paired_ratios(fl_r, base_r)
                bar, what = tg.maximum, "time ratio"
            ratio = statistics.median(ratios)
            q1, q3 = quartiles(ratios)
            ok = ratio >= bar if tg.minimum is not None else ratio <= bar
            # within this run's noise: the middle half of the rounds straddles the bar
            close = q1 < bar < q3
            shown = (f"{what} {ratio:.2f}x  [{q1:.2f}, {q3:.2f}]" +
                     ("  (bar within the middle half)" if close else ""))
            checks.append({"target": tg.text, "dtype": dtype, "ratio": ratio, "pass": bool(ok),
                           "ratio_q1": q1, "ratio_q3": q3, "within_noise": close,
                           "shown": shown})
    return checks


def print_targets(checks, file):
    if not checks:
        print("\nTargets of the project's reference machine (--targets): none of their cases "
              "ran (--quick runs them)", file=file)
        return
    print("\nTargets of the project's reference machine (--targets): the bars were set for\n"
          "  the 2-core CI VM kind (AMD EPYC, Zen 4, AVX-512); on another CPU, or with other\n"
          "  work on the cores, a ratio under a bar says how this machine differs, not that\n"
          "  the library is broken.  Ratios from this run; [q1, q3]: the middle half of the\n"
          "  per-round ratios:", file=file)
    for c in checks:
        verdict = {True: "PASS", False: "FAIL", None: "SKIP"}[c["pass"]]
        print(f"  {verdict}  {c['target']:<66} {c['dtype']:<8} "
              f"{c['shown']}", file=file)


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

def print_case(case, rows, file):
    print(f"\n{case.label()}", file=file)
    fl_row = {r["threads"]: r for r in rows if r["implementation"] == "fastlogistic"}
    print(f"  {'implementation':<16}{'threads':>8}{'ns/elem':>10}{'us/call':>11}{'spread':>8}"
          f"{'fastlogistic speed-up':>23}   what", file=file)
    for r in rows:
        s = r["rounds_seconds_per_call"]
        spread = (max(s) - min(s)) / r["seconds_per_call"] if len(s) > 1 else 0.0
        if r["implementation"] == "fastlogistic":
            k0 = min(fl_row)
            speed = ("" if r["threads"] == k0 else
                     f"{paired_ratio(fl_row[k0], r):.2f}x vs {k0}t")
        else:
            ref = fl_row.get(r["threads"], fl_row[min(fl_row)])
            speed = f"{paired_ratio(r, ref):.2f}x"
        print(f"  {r['implementation']:<16}{r['threads']:>8}{r['ns_per_element']:>10.3f}"
              f"{r['seconds_per_call'] * 1e6:>11.2f}{spread:>7.0%} {speed:>23}   {r['note']}",
              file=file)


def machine_info():
    cpu, flags = None, ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and cpu is None:
                    cpu = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = " ".join(sorted({"avx2", "fma", "avx512f"} & set(value.split())))
    except OSError:
        pass
    cpu = cpu or platform.processor() or platform.machine()
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "fastlogistic": fl.__version__}
    for lib, mod in (("scipy", "scipy"), ("torch", "torch"), ("scikit-learn", "sklearn"),
                     ("numexpr", "numexpr"), ("numba", "numba")):
        m = sys.modules.get(mod)
        if m is not None:
            versions[lib] = m.__version__
    return {"cpu": cpu, "cpu_flags": flags, "cores": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "platform": platform.platform(), "versions": versions,
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "fastlogistic_config": fl._config.config(),
            "torch_threads_default": _TORCH_DEFAULT_THREADS}


MALLOC_MMAP_BYTES = 32 << 20
MALLOC_TRIM_BYTES = 128 << 20


def steady_malloc():
    """Fix glibc's mmap and trim thresholds where its dynamic scheme settles
    (mmap threshold up to 32 MiB, trim threshold twice that or more), and
    return a description, or None where this is not glibc.

    With the defaults, whether an output of a few MB comes from recycled heap
    memory or from fresh pages that the kernel clears first (~0.4 ns per
    float64 element at N = 1e6) depends on what the process freed just
    before: a round of the NumPy formula frees its temporaries, the heap is
    trimmed, and the next round, whichever implementation it is, pays for
    fresh pages.  Fixed thresholds take that out of the comparison.  Above
    32 MiB (N = 1e7 float64) the other libraries' outputs are fresh pages on
    every call, as in any process; fastlogistic reuses its own (the output
    cache, set_output_cache)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return None
    m_trim_threshold, m_mmap_threshold = -1, -3
    if mallopt(m_mmap_threshold, MALLOC_MMAP_BYTES) != 1 or \
            mallopt(m_trim_threshold, MALLOC_TRIM_BYTES) != 1:
        return None
    return (f"glibc mmap threshold {MALLOC_MMAP_BYTES >> 20} MiB, trim threshold "
            f"{MALLOC_TRIM_BYTES >> 20} MiB (fixed where its dynamic thresholds settle, so that "
            f"which round pays for fresh pages does not depend on the order of rounds; "
            f"--malloc-default keeps the defaults)")


def _threads_text(info):
    cfg = info["fastlogistic_config"]
    usable = info.get("affinity") or info["cores"]
    return (f"{cfg['default_threads']} threads by default"
            + (f" ({usable} CPUs usable)" if usable != cfg["default_threads"] else ""))


# implementations that are not another library: the memory-copy reference and
# fastlogistic's own other kernel levels
NOT_PEERS = frozenset({"fastlogistic", "copy", "cython"})


def summary_line(info, results):
    """One line a user can quote: per case, fastlogistic's speed against the
    fastest other library measured in that case, at the case's lowest thread
    count (the paired ratio of the table)."""
    cases = {}
    for r in results:
        cases.setdefault((r["function"], tuple(r["shape"]), r["dtype"]), []).append(r)
    parts = []
    for (function, shape, dtype), rows in cases.items():
        k = min(r["threads"] for r in rows)
        ours = [r for r in rows if r["implementation"] == "fastlogistic" and r["threads"] == k]
        others = [r for r in rows if r["implementation"] not in NOT_PEERS and r["threads"] == k]
        if not ours or not others:
            continue
        best = min(others, key=lambda r: r["seconds_per_call"])
        short = {"float64": "f64", "float32": "f32"}[dtype]
        threads = "" if k == 1 else f" {k} threads"
        parts.append(f"{function} {short} {_fmt_shape(shape)}{threads}: "
                     f"{paired_ratio(best, ours[0]):.2f}x {best['implementation']}")
    cfg = info["fastlogistic_config"]
    where = f"{info['cpu']} ({cfg['simd_level']}, 1 thread unless said)"
    if not parts:
        return f"fastlogistic {info['versions']['fastlogistic']} on {where}: no other library measured"
    return (f"fastlogistic {info['versions']['fastlogistic']} on {where}; speed vs the fastest "
            f"other installed library: " + "; ".join(parts))


def print_header(info, file):
    v = info["versions"]
    cfg = info["fastlogistic_config"]
    print(f"fastlogistic {v['fastlogistic']} bench -- {info['cpu']} "
          f"({info['cores']} cores; {info['cpu_flags'] or 'no avx2'})", file=file)
    print(f"  SIMD level {cfg['simd_level']}, OpenMP {'on' if cfg['openmp'] else 'off'}, "
          f"{_threads_text(info)}, {cfg['compiler']}; " + ", ".join(f"{k} {val}" for k, val in v.items()
                                               if k != "fastlogistic"), file=file)
    load = info["load_average"]
    if load is not None:
        print(f"  1-minute load average before the run: {load:.2f} (other work on the cores "
              f"disturbs the timings, multi-threaded ones most)", file=file)
    if info.get("malloc"):
        print(f"  malloc: {info['malloc']}", file=file)
    print(f"  median of rounds alternating implementations, ~{ROUND_SECONDS * 1e3:.0f} ms per "
          f"round after ~{WARM_SECONDS * 1e3:.0f} ms of untimed calls; speed-up = median over "
          f"rounds of other's time / fastlogistic's in the same round, at the same thread "
          f"count", file=file)


def plot(results, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("--plot: matplotlib is not installed; no plot written", file=sys.stderr)
        return False
    panels = {}
    for r in results:
        # multi-class shapes with different C do not share a curve
        key = (r["function"], r["dtype"], r["shape"][1] if len(r["shape"]) > 1 else None)
        panels.setdefault(key, []).append(r)
    keys = sorted(panels, key=lambda k: (list(FUNCTIONS).index(k[0]), k[1], k[2] or 0))
    impl_names = list(DEFAULT_IMPLS) + list(REFERENCE_IMPLS)
    palette = ["C3", "C0", "C2", "C1", "C4", "C5", "C6", "C8", "C9", "C7"]
    colors = {name: palette[i % len(palette)] for i, name in enumerate(impl_names)}
    ncol = min(2, len(keys))
    nrow = math.ceil(len(keys) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 3.6 * nrow), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        lines = {}
        for r in panels[key]:
            lines.setdefault((r["implementation"], r["threads"]), []).append(
                (r["n_elements"], r["ns_per_element"]))
        for (impl, k), pts in sorted(lines.items(), key=lambda it: (impl_names.index(it[0][0]),
                                                                    it[0][1])):
            pts.sort()
            ax.plot(*zip(*pts), "-" if k == 1 else "--", color=colors[impl], marker="o", ms=3,
                    lw=2 if impl == "fastlogistic" else 1.2, label=f"{impl} ({k}t)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        title = f"{key[0]} {key[1]}" + (f", C={_fmt_n(key[2])}" if key[2] else "")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("elements per call" + (" (N*C)" if key[2] else ""))
        ax.set_ylabel("ns / element (lower is better)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------

def _list(conv):
    def parse(text):
        try:
            return [conv(v) for v in text.split(",") if v.strip()]
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return parse


def _size(text):
    value = float(text)
    if value < 1 or value != int(value):
        raise ValueError(f"size must be a positive integer, got {text!r}")
    return int(value)


def _shape(text):
    parts = text.lower().split("x")
    if len(parts) != 2:
        raise ValueError(f"shape must look like 1e5x10, got {text!r}")
    return tuple(_size(p) for p in parts)


def _choice(valid, what):
    def conv(text):
        text = text.strip()
        if text not in valid:
            raise ValueError(f"unknown {what} {text!r}; valid: {', '.join(valid)}")
        return text
    return conv


DESCRIPTION = ("Time fastlogistic against NumPy, SciPy, PyTorch, scikit-learn, numexpr and "
               "numba (those installed) and print ns/element, speed-ups, the machine and a "
               "one-line summary.")


def add_arguments(p):
    """The bench's options, on parser p (its own, or the `bench` subcommand's)."""
    p.add_argument("--quick", action="store_true",
                   help="a small fixed set (< 1 minute): sigmoid f64/f32 and BCE-with-logits at "
                        "N=1e6, call overhead at N=16, 1 vs 2 threads at N=1e7, "
                        "cross-entropy (when present), memory; replaces the case options")
    p.add_argument("--functions", type=_list(_choice(list(FUNCTIONS), "function")),
                   default=["sigmoid", "bce_logits", "bce_logits_loss_and_grad"],
                   help="comma-separated, from: " + ", ".join(FUNCTIONS))
    p.add_argument("--sizes", type=_list(_size), default=[16, 10**4, 10**6],
                   help="elements per call for the binary/elementwise functions (e.g. 16,1e4,1e6)")
    p.add_argument("--shapes", type=_list(_shape), default=[(10**5, 10), (10**4, 1000)],
                   help="(N, C) shapes for log_softmax and cross_entropy_loss_and_grad "
                        "(default 1e5x10,1e4x1000)")
    p.add_argument("--dtypes", type=_list(_choice(["float64", "float32"], "dtype")),
                   default=["float64", "float32"],
                   help="comma-separated element types, from: float64, float32 "
                        "(default both)")
    p.add_argument("--threads", type=_list(int), default=[1],
                   help="thread counts for the threaded libraries (e.g. 1,2)")
    p.add_argument("--impls", type=_list(_choice(list(DEFAULT_IMPLS) + list(REFERENCE_IMPLS),
                                                 "implementation")),
                   default=list(DEFAULT_IMPLS),
                   help="comma-separated implementations to run, where installed "
                        "(fastlogistic always runs), from: "
                        + ", ".join(list(DEFAULT_IMPLS) + list(REFERENCE_IMPLS))
                        + "; default all but 'copy', which adds a memory-copy reference to "
                          "the elementwise functions")
    p.add_argument("--repeat", type=int, default=9,
                   help="rounds per implementation (default 9)")
    p.add_argument("--memory", action="store_true",
                   help="also report peak allocation per call at N=1e7 float64 (tracemalloc)")
    p.add_argument("--targets", action="store_true",
                   help="also print the PASS/FAIL check of the project's speed targets; the "
                        "bars are for its reference machine (the 2-core AMD Zen 4 CI VM), "
                        "not for yours")
    p.add_argument("--json", metavar="PATH",
                   help="write raw results, machine info and the target checks as JSON")
    p.add_argument("--plot", metavar="PATH", help="write ns/element vs N (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--malloc-default", action="store_true",
                   help="keep glibc's dynamic mmap/trim thresholds (by default the bench fixes "
                        "them at their steady state, 32 MiB / 128 MiB, so that fresh-page costs "
                        "do not depend on the order of rounds)")
    return p


def check_args(p, args):
    """The checks argparse's types cannot make; p.error exits with status 2."""
    if any(k < 1 for k in args.threads):
        p.error("--threads must be positive")
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def parse_args(argv, prog="python -m fastlogistic bench"):
    p = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    add_arguments(p)
    return check_args(p, p.parse_args(argv))


def main(argv=None, args=None, command="python -m fastlogistic bench"):
    """Run the bench: options from argv (a list of strings), or already
    parsed in args (the `bench` subcommand of __main__); command is how the
    report's first line names the command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if args is None:
        args = parse_args(argv, prog=command)
    malloc = None if args.malloc_default else steady_malloc()
    init()
    out = sys.stdout
    info = machine_info()
    info["malloc"] = malloc
    print(f"$ {command} {' '.join(argv)}".rstrip(), file=out)
    print_header(info, out)
    missing = LIBS.missing()
    if missing:
        print(f"  not installed, skipped: {', '.join(missing)}", file=out)

    if args.quick:
        cases, skipped = quick_cases()
        memory = True
    else:
        cases, skipped = build_cases(args.functions, args.sizes, args.shapes, args.dtypes,
                                     args.threads, args.impls)
        memory = args.memory
    rounds = args.repeat
    for msg in skipped:
        print(f"  skipped {msg}", file=out)
    out.flush()

    results = []
    start = time.perf_counter()
    for i, case in enumerate(cases, 1):
        if not args.quiet:
            print(f"[{i}/{len(cases)}] {case.label()}  ({time.perf_counter() - start:.0f} s)",
                  file=sys.stderr, flush=True)
        rows = run_case(case, rounds)
        results += rows
        print_case(case, rows, out)
        out.flush()

    checks = check_targets(results)
    if args.targets:
        print_targets(checks, out)
    memory_rows = []
    if memory:
        if not args.quiet:
            print(f"[memory] N={_fmt_n(MEMORY_N)}  ({time.perf_counter() - start:.0f} s)",
                  file=sys.stderr, flush=True)
        memory_rows = run_memory()
        print_memory(memory_rows, out)
    print(f"\ntotal {time.perf_counter() - start:.1f} s", file=out)
    summary = summary_line(info, results)
    print(f"\nsummary: {summary}", file=out)

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "argv": argv,
                       "rounds": rounds, "round_seconds": ROUND_SECONDS,
                       "results": results, "targets": checks, "memory": memory_rows,
                       "summary": summary,
                       "skipped": skipped + [f"{m}: not installed" for m in missing]},
                      f, indent=1)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot and plot(results, args.plot):
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
