"""Shared fixtures and independent references for the test suite.

* ``simd_level``: a fixture parametrized over every SIMD level this CPU and
  build support (``_kernels.cpu_simd_levels()``); a test (or a module, via
  ``pytestmark = pytest.mark.usefixtures("simd_level")``) that uses it runs once
  per level, and the level in use before is restored afterwards.
* An autouse fixture that restores the SIMD level and the thread default after
  every test, so that no test leaks its settings into the next one.
* mpmath references (``mp_*``) written from the definitions in docs/architecture.md
  section 1 in stable form, evaluated at ``MP_PREC`` bits, and the ULP
  measure used by the accuracy tests (``ulp_errors``).

Helpers here are plain functions too: test modules import them with
``from conftest import ...`` (pytest puts this directory on sys.path).
"""
import os

import mpmath
import numpy as np
import pytest

# --- which fastlogistic the tests import ---
# The tests import the installed package (pip install ., or the wheel), or
# src/ with PYTHONPATH=src; scripts/ci_wheel.sh sets FL_EXPECT_INSTALLED to
# the venv it installed the wheel into, and then nothing else may be imported.
try:
    import fastlogistic
except ImportError as exc:
    raise ImportError(f"the tests need fastlogistic installed ({exc}): run `pip install .` "
                      "first (README, the first command), or set PYTHONPATH=src after "
                      "building in place") from None
if os.environ.get("FL_EXPECT_INSTALLED"):
    _where = os.path.realpath(fastlogistic.__file__)
    assert _where.startswith(os.path.realpath(os.environ["FL_EXPECT_INSTALLED"])), \
        f"FL_EXPECT_INSTALLED: the tests imported {_where}"
# --- end ---

from fastlogistic import _kernels  # noqa: E402

MP_PREC = 192
mpmath.mp.prec = MP_PREC

LEVELS = _kernels.cpu_simd_levels()


# ---------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------

@pytest.fixture(params=LEVELS, ids=[f"simd={lv}" for lv in LEVELS])
def simd_level(request):
    """Run the test with the kernels of one SIMD level; restore afterwards."""
    before = _kernels.get_simd_level()
    used = _kernels.set_simd_level(request.param)
    assert used == request.param, (request.param, used)
    try:
        yield used
    finally:
        _kernels.set_simd_level(before)


@pytest.fixture(autouse=True)
def _restore_global_state():
    level = _kernels.get_simd_level()
    yield
    _kernels.set_simd_level(level)
    _kernels.set_num_threads(None)
    _kernels.set_stream_threshold(None)


# ---------------------------------------------------------------------------
# mpmath references (stable forms; mpf in, mpf out)
# ---------------------------------------------------------------------------

mpf = mpmath.mpf
INF = mpmath.inf


def _isnan(v):
    return mpmath.isnan(v)


def mp_softplus(x):
    """log(1 + e^x) = max(x, 0) + log1p(e^-|x|)."""
    x = mpf(x)
    if _isnan(x):
        return mpmath.nan
    if x == INF:
        return INF
    if x == -INF:
        return mpf(0)
    return max(x, 0) + mpmath.log1p(mpmath.exp(-abs(x)))


def mp_log_sigmoid(x):
    return -mp_softplus(-mpf(x))


def mp_sigmoid(x):
    x = mpf(x)
    if _isnan(x):
        return mpmath.nan
    if x == INF:
        return mpf(1)
    if x == -INF:
        return mpf(0)
    e = mpmath.exp(-abs(x))
    return 1 / (1 + e) if x >= 0 else e / (1 + e)


def mp_sigmoid_grad(x):
    """s'(x) = e / (1 + e)^2 with e = exp(-|x|)."""
    x = mpf(x)
    if _isnan(x):
        return mpmath.nan
    if abs(x) == INF:
        return mpf(0)
    e = mpmath.exp(-abs(x))
    return e / (1 + e) ** 2


def mp_logit(p):
    """SciPy's semantics: 0 -> -inf, 1 -> inf, outside [0, 1] -> nan."""
    p = mpf(p)
    if _isnan(p) or p < 0 or p > 1:
        return mpmath.nan
    if p == 0:
        return -INF
    if p == 1:
        return INF
    return mpmath.log(p) - mpmath.log1p(-p)


def _times(c, v):
    """c * v with 0 * inf = 0 (a zero coefficient removes the term: the exact
    limit of the loss)."""
    return mpf(0) if c == 0 else c * v


def mp_bce_logits(x, t, w=1, pw=1):
    """w (pw t softplus(-x) + (1 - t) softplus(x))."""
    x, t, w, pw = mpf(x), mpf(t), mpf(w), mpf(pw)
    if _isnan(x) or _isnan(t):
        return mpmath.nan
    return w * (_times(pw * t, mp_softplus(-x)) + _times(1 - t, mp_softplus(x)))


def mp_bce_logits_grad(x, t, w=1, pw=1):
    """d/dx of mp_bce_logits: w (s(x) (pw t + 1 - t) - pw t)."""
    x, t, w, pw = mpf(x), mpf(t), mpf(w), mpf(pw)
    return w * ((1 - t) * mp_sigmoid(x) - pw * t * mp_sigmoid(-x))


def mp_bce_logits_hess(x, t, w=1, pw=1):
    x, t, w, pw = mpf(x), mpf(t), mpf(w), mpf(pw)
    return w * (pw * t + 1 - t) * mp_sigmoid_grad(x)


def mp_bce(p, t, w=1):
    """PyTorch's binary_cross_entropy: each log clamped at -100."""
    p, t, w = mpf(p), mpf(t), mpf(w)
    lp = max(mpmath.log(p), -100) if p > 0 else mpf(-100)
    l1 = max(mpmath.log1p(-p), -100) if p < 1 else mpf(-100)
    return w * ((t - 1) * l1 - t * lp)


def mp_bce_grad(p, t, w=1):
    """PyTorch's backward: w (p - t) / max(p (1 - p), float32(1e-12))."""
    p, t, w = mpf(p), mpf(t), mpf(w)
    return w * (p - t) / max(p * (1 - p), mpf(float(np.float32(1e-12))))


def mp_map(fn, *arrays):
    """fn applied elementwise (with broadcasting) to float arrays; list of mpf."""
    bs = np.broadcast_arrays(*[np.asarray(a, dtype=np.float64) for a in arrays])
    flat = [b.ravel() for b in bs]
    return [fn(*(float(a[i]) for a in flat)) for i in range(flat[0].size)]


# ---------------------------------------------------------------------------
# ULP measure
# ---------------------------------------------------------------------------

_FMT = {np.dtype(np.float64): (53, -1022), np.dtype(np.float32): (24, -126)}


class Exact:
    """Exact values (mpf) prepared for fast ULP comparisons with results of
    `dtype`: ulp(v) = 2^(max(floor(log2|v|), emin) - (p - 1)), i.e. the
    spacing of `dtype` at the exact value, floored at the smallest subnormal.
    The error of a computed c is |c - v| / ulp(v), evaluated exactly as
    |(c - hi) * 2^-k - r| with hi = v rounded to float64, r = (v - hi) / ulp."""

    def __init__(self, values, dtype):
        dtype = np.dtype(dtype)
        prec, emin = _FMT[dtype]
        n = len(values)
        overflow = mpmath.ldexp(2 - mpmath.ldexp(1, -prec), -emin + 1)
        self.hi = np.empty(n)
        self.k = np.zeros(n, dtype=np.int64)
        self.r = np.zeros(n)
        self.special = np.zeros(n, dtype=bool)     # nan or +-inf: compare exactly
        for i, v in enumerate(values):
            if _isnan(v) or mpmath.isinf(v) or abs(v) >= overflow:
                # beyond the largest finite value (+ half an ulp) rounds to inf
                self.special[i] = True
                self.hi[i] = float(v) if _isnan(v) else float(mpmath.sign(v)) * np.inf
                continue
            e = mpmath.frexp(v)[1] - 1 if v != 0 else emin
            k = max(e, emin) - (prec - 1)
            hi = float(v)   # round to nearest float64 (subnormal range too)
            self.hi[i] = hi
            self.k[i] = k
            self.r[i] = float(mpmath.ldexp(v - mpf(hi), -k))
        self.dtype = dtype
        self.values = values

    def errors(self, computed):
        """ULP error of each element (inf where a special value is not matched
        or a finite reference got a non-finite result)."""
        c = np.asarray(computed).astype(np.float64).ravel()
        assert c.shape == self.hi.shape, (c.shape, self.hi.shape)
        err = np.empty(c.shape)
        sp = self.special
        same = (c[sp] == self.hi[sp]) | (np.isnan(c[sp]) & np.isnan(self.hi[sp]))
        err[sp] = np.where(same, 0.0, np.inf)
        ns = ~sp
        with np.errstate(over="ignore", invalid="ignore"):
            d = np.ldexp(c[ns] - self.hi[ns], -self.k[ns]) - self.r[ns]
        err[ns] = np.where(np.isfinite(d), np.abs(d), np.inf)
        return err


def ulp_errors(computed, exact_values, dtype):
    return Exact(exact_values, dtype).errors(computed)


def worst(err, *arrays):
    """Description of the worst element for assertion messages."""
    i = int(np.argmax(err))
    parts = [f"max {err[i]:.3g} ULP at element {i}"]
    for a in arrays:
        parts.append(repr(np.asarray(a).ravel()[i]))
    return ", ".join(parts)


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: minutes-long; runs with FASTLOGISTIC_SLOW_TESTS=1")
