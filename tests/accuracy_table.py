#!/usr/bin/env python
"""Print a Markdown table of the maximum error in ULP of each function, ours
and the alternatives (NumPy's naive formula, SciPy, PyTorch when installed),
against mpmath, for float32 and float64.

Point set (fixed, seed 2024), per dtype:
  * special points: +-0, the smallest subnormal and normal, eps, tiny values
    (down to 1e-300 / 1e-40), 0.1 ... 5, the tails 10 ... 745 (float64) /
    10 ... 104 (float32), 1e5 and the largest finite value, both signs;
  * 1000 uniform in [-B, B] (B = 700 for float64, 88 for float32);
  * 1000 log-uniform magnitudes in [1e-300, B] (float64) / [1e-38, B]
    (float32), random sign;
  * 1000 normal(0, 3);
  * the worst points of our sigmoid / sigmoid_grad found by a dense sweep
    (tests/test_accuracy.py HARD_*), so that the table shows our worst case.
logit uses p = s(x) of those points rounded to the dtype, plus 0, 1.
BCE-with-logits uses the same x with soft targets uniform in [0, 1].
The error at a point is |c - v| / ulp(v) with v the exact value (mpmath,
192 bits) and ulp(v) the dtype's spacing at v, floored at the smallest
subnormal; a wrong inf/nan counts as inf.

Usage:  python tests/accuracy_table.py   (the installed package, or PYTHONPATH=src
after an in-place build; it lives beside the tests for their mpmath references)
"""
import sys
import time
import warnings

import numpy as np

import fastlogistic as fl  # noqa: E402
from conftest import (Exact, mp_bce_logits, mp_log_sigmoid, mp_logit, mp_map,  # noqa: E402
                      mp_sigmoid, mp_sigmoid_grad, mp_softplus)
from test_accuracy import HARD_SIGMOID, HARD_SIGMOID_GRAD  # noqa: E402

try:
    import scipy.special as sc
except ImportError:          # pragma: no cover
    sc = None
try:
    import torch
    torch.set_num_threads(1)
except ImportError:          # pragma: no cover
    torch = None


def points(dt):
    rng = np.random.default_rng(2024)
    fi = np.finfo(dt)
    if dt == np.float64:
        big, lo = 700.0, 1e-300
        tail = [10, 20, 30, 36, 37, 40, 50, 100, 500, 700, 708, 709.78, 710, 745, 1e5]
        tiny = [1e-310, 1e-300, 1e-30, 1e-17, 1e-8]
    else:
        big, lo = 88.0, 1e-38
        tail = [10, 15, 17, 20, 30, 50, 80, 88, 88.7, 89, 100, 104, 1e5]
        tiny = [1e-42, 1e-40, 1e-30, 1e-8, 1e-4]
    mags = ([0.0, float(fi.smallest_subnormal), float(fi.smallest_normal), float(fi.eps),
             0.1, 0.5, 1, 2, 3, 5] + tiny + tail + [float(fi.max)])
    x = np.concatenate([mags, [-m for m in mags],
                        rng.uniform(-big, big, 1000),
                        np.exp(rng.uniform(np.log(lo), np.log(big), 1000)) * rng.choice([-1, 1], 1000),
                        rng.normal(0, 3, 1000),
                        HARD_SIGMOID[dt], HARD_SIGMOID_GRAD[dt]]).astype(dt)
    return x


def _torch_unary(f, grad=False):
    def run(x):
        t = torch.tensor(x, requires_grad=grad)
        y = f(t)
        if grad:
            y.sum().backward()
            return t.grad.numpy()
        return y.detach().numpy()
    return run


def implementations():
    """{function: {implementation: callable(x[, t]) -> array}}"""
    def np_sigmoid(x):
        return 1 / (1 + np.exp(-x))

    impl = {
        "sigmoid": {"fastlogistic": fl.sigmoid, "numpy 1/(1+exp(-x))": np_sigmoid},
        "log_sigmoid": {"fastlogistic": fl.log_sigmoid, "numpy log(1/(1+exp(-x)))": lambda x: np.log(np_sigmoid(x))},
        "softplus": {"fastlogistic": fl.softplus, "numpy log1p(exp(x))": lambda x: np.log1p(np.exp(x)),
                     "numpy logaddexp(0, x)": lambda x: np.logaddexp(x.dtype.type(0), x)},
        "sigmoid_grad": {"fastlogistic": fl.sigmoid_grad,
                         "numpy s(1-s)": lambda x: np_sigmoid(x) * (1 - np_sigmoid(x))},
        "logit": {"fastlogistic": fl.logit, "numpy log(p/(1-p))": lambda p: np.log(p / (1 - p))},
        "bce_with_logits (soft t)": {
            "fastlogistic": lambda x, t: fl.binary_cross_entropy_with_logits(x, t, reduction="none"),
            "numpy max(x,0)-xt+log1p(exp(-abs(x)))": lambda x, t: (np.maximum(x, 0) - x * t
                                                           + np.log1p(np.exp(-np.abs(x))))},
    }
    if sc is not None:
        impl["sigmoid"]["scipy expit"] = sc.expit
        impl["log_sigmoid"]["scipy log_expit"] = sc.log_expit
        impl["logit"]["scipy logit"] = sc.logit
        impl["sigmoid_grad"]["scipy expit(x)*expit(-x)"] = lambda x: sc.expit(x) * sc.expit(-x)
    if torch is not None:
        F = torch.nn.functional
        impl["sigmoid"]["torch"] = _torch_unary(torch.sigmoid)
        impl["log_sigmoid"]["torch"] = _torch_unary(F.logsigmoid)
        impl["softplus"]["torch"] = _torch_unary(F.softplus)
        impl["sigmoid_grad"]["torch (autograd)"] = _torch_unary(torch.sigmoid, grad=True)
        impl["logit"]["torch"] = _torch_unary(torch.logit)
        impl["bce_with_logits (soft t)"]["torch"] = lambda x, t: F.binary_cross_entropy_with_logits(
            torch.tensor(x), torch.tensor(t), reduction="none").numpy()
    return impl


REFS = {"sigmoid": mp_sigmoid, "log_sigmoid": mp_log_sigmoid, "softplus": mp_softplus,
        "sigmoid_grad": mp_sigmoid_grad, "logit": mp_logit, "bce_with_logits (soft t)": mp_bce_logits}


def fmt(e):
    if not np.isfinite(e):
        return "inf"
    return f"{e:.2f}" if e < 100 else f"{e:.3g}"


def main():
    t0 = time.time()
    dts = [np.float64, np.float32]
    impl = implementations()
    errors = {}
    for dt in dts:
        x = points(dt)
        p = np.concatenate([fl.sigmoid(x), np.array([0, 1], dt)])
        t = np.random.default_rng(7).random(x.size).astype(dt)
        for name, fns in impl.items():
            if name == "logit":
                args = (p,)
            elif name.startswith("bce"):
                args = (x, t)
            else:
                args = (x,)
            ex = Exact(mp_map(REFS[name], *args), dt)
            for iname, f in fns.items():
                with warnings.catch_warnings(), np.errstate(all="ignore"):
                    warnings.simplefilter("ignore")
                    y = np.asarray(f(*args))
                if y.dtype != dt:
                    y = y.astype(dt)
                errors[(name, iname, np.dtype(dt).name)] = float(ex.errors(y).max())
    print("Maximum error in ULP against mpmath (float64 / float32); points: "
          "see scripts/accuracy_table.py. inf: a wrong inf/nan or overflow. "
          "Errors of ~1e6 (float32) / ~1e15 (float64) ULP are results in the subnormal "
          "range (ulp = smallest subnormal) returned as 0 or with no correct digit, "
          "e.g. expit(-720) = 0 where the exact value is 1.9e-313.\n")
    print("| function | implementation | float64 | float32 |")
    print("| --- | --- | ---: | ---: |")
    for name, fns in impl.items():
        for iname in fns:
            e64 = errors[(name, iname, "float64")]
            e32 = errors[(name, iname, "float32")]
            star = "**" if iname == "fastlogistic" else ""
            print(f"| {name} | {star}{iname}{star} | {fmt(e64)} | {fmt(e32)} |")
    print(f"\nfastlogistic {fl.__version__}, SIMD level {fl._kernels.get_simd_level()}"
          + (f", torch {torch.__version__}" if torch is not None else "")
          + (f", scipy {__import__('scipy').__version__}" if sc is not None else "")
          + f", numpy {np.__version__}; {time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
