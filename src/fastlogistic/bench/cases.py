"""The registry of cases: every function the bench times, its implementations
(FUNCTIONS), its inputs, and the cases a run is made of.
"""
import dataclasses
import math

import numpy as np

import fastlogistic as fl

from . import peers
from .peers import (CYTHON_IMPLS, DEFAULT_IMPLS, REFERENCE_IMPLS, _F, _available, _fl, _np_bce_mean, _np_cross_entropy_loss_and_grad,
                    _np_grad_hess, _np_log_softmax, _np_sigmoid, _np_softmax, _np_sigmoid_grad,
                    _numba_sigmoid, _numexpr_sigmoid, _plain, _sklearn, _sklearn_call, _torch,
                    _torch_fwd_bwd, _torch_grad_hess, _torch_sigmoid_grad)
from .timing import paired_ratio, time_case

SEED = 20240607


@dataclasses.dataclass
class Function:
    kind: str             # "unary" (x), "binary" (x, target), "multiclass" (z (N, C), labels)
    impls: dict           # implementation name -> Impl; "fastlogistic" first
    fl_name: str          # the fastlogistic attribute that must exist


FUNCTIONS = {
    "sigmoid": Function("unary", {
        "fastlogistic": _fl("sigmoid", "x"),
        "numpy": _plain("numpy", lambda d: lambda: _np_sigmoid(d["x"]), "1/(1+np.exp(-x))"),
        "scipy": _plain("scipy", lambda d: lambda: peers.LIBS.scipy_special.expit(d["x"]), "expit"),
        "torch": _torch(lambda d: lambda: peers.LIBS.torch.sigmoid(d["x"]), note="torch.sigmoid"),
        "numexpr": _numexpr_sigmoid(),
        "numba_vectorize": _numba_sigmoid("vectorize"),
        "numba_prange": _numba_sigmoid("prange"),
    }, "sigmoid"),
    "log_sigmoid": Function("unary", {
        "fastlogistic": _fl("log_sigmoid", "x"),
        "numpy": _plain("numpy", lambda d: lambda: -np.logaddexp(0, -d["x"]),
                        "-np.logaddexp(0, -x)"),
        "scipy": _plain("scipy", lambda d: lambda: peers.LIBS.scipy_special.log_expit(d["x"]),
                        "log_expit"),
        "torch": _torch(lambda d: lambda: _F().logsigmoid(d["x"]), note="F.logsigmoid"),
    }, "log_sigmoid"),
    "softplus": Function("unary", {
        "fastlogistic": _fl("softplus", "x"),
        "numpy": _plain("numpy", lambda d: lambda: np.logaddexp(0, d["x"]),
                        "np.logaddexp(0, x)"),
        "scipy": _plain("scipy", lambda d: lambda: peers.LIBS.scipy_special.softplus(d["x"]),
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
    "softmax": Function("multiclass", {
        "fastlogistic": _fl("softmax", "x", axis=-1),
        "numpy": _plain("numpy", lambda d: lambda: _np_softmax(d["x"]), "exp(z-m)/sum"),
        "scipy": _plain("scipy", lambda d: lambda: peers.LIBS.scipy_special.softmax(d["x"], axis=1),
                        "softmax(z, axis=1)"),
        "torch": _torch(lambda d: lambda: peers.LIBS.torch.softmax(d["x"], 1),
                        note="torch.softmax(z, 1)"),
    }, "softmax"),
    "log_softmax": Function("multiclass", {
        "fastlogistic": _fl("log_softmax", "x", axis=-1),   # per row, as the peers
        "numpy": _plain("numpy", lambda d: lambda: _np_log_softmax(d["x"]),
                        "z-m-log(sum(exp(z-m)))"),
        "scipy": _plain("scipy", lambda d: lambda: peers.LIBS.scipy_special.log_softmax(d["x"], axis=1),
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
        if peers.LIBS.torch is not None:
            peers.LIBS.torch.set_num_threads(peers.TORCH_DEFAULT_THREADS)
    out = []
    for (name, k), (median, ncalls, samples) in timings.items():
        out.append({
            "function": case.function, "implementation": name, "note": meta[(name, k)],
            "dtype": case.dtype, "shape": list(case.shape), "n_elements": case.size,
            "threads": k, "seconds_per_call": median,
            "ns_per_element": median * 1e9 / case.size,
            "calls_per_round": ncalls, "rounds_seconds_per_call": samples,
        })
    # where the memory limit was measured beside it: the share of fastlogistic's
    # time a copy of the input's bytes takes (near 1: memory-bound)
    copies = {r["threads"]: r for r in out if r["implementation"] == "copy"}
    for r in out:
        if r["implementation"] == "fastlogistic" and r["threads"] in copies:
            r["copy_fraction"] = paired_ratio(copies[r["threads"]], r)
    return out


def build_cases(functions, sizes, shapes, dtypes, threads, impls):
    cases, skipped = [], []
    for fname in functions:
        func = FUNCTIONS[fname]
        if not hasattr(fl, func.fl_name):
            skipped.append(f"{fname}: fastlogistic.{func.fl_name} is not in this build")
            continue
        names = ["fastlogistic"]
        for n in impls:
            if n in func.impls and n != "fastlogistic" and _available(func.impls[n]):
                names.append(n)
            elif n in REFERENCE_IMPLS and func.kind in ("unary", "binary"):
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


# the class-count sweep: N x K = total elements at each K, the multi-class
# functions beside the binary loss+gradient on the same number of elements
SWEEP_CLASSES = (2, 3, 4, 5, 8, 10, 16, 20, 32, 50, 100, 1000, 4096)
SWEEP_FUNCTIONS = ("softmax", "cross_entropy_loss_and_grad")
SWEEP_BINARY = "bce_logits_loss_and_grad"


def class_sweep_cases(classes, total, dtypes, threads, impls):
    """The cases of the class-count sweep: each of SWEEP_FUNCTIONS at (total // K,
    K) for every K, and the binary loss+gradient at N = total (the per-element
    cost the multi-class path is compared with)."""
    shapes = [(max(1, total // k), k) for k in classes]
    cases, skipped = build_cases(list(SWEEP_FUNCTIONS), [], shapes, dtypes, threads, impls)
    more, s = build_cases([SWEEP_BINARY], [total], [], dtypes, threads,
                          [i for i in impls if i != "copy"])
    return cases + more, skipped + s


def quick_cases():
    cases, skipped = [], []
    for fname, shape, dtypes, threads, impls in QUICK_CASES:
        c, s = build_cases([fname], [shape[0]], [shape], dtypes, threads,
                           impls or DEFAULT_IMPLS)
        cases += c
        skipped += [m for m in s if m not in skipped]
    return cases, skipped
