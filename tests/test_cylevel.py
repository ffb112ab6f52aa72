"""The "cython" kernel level (Cython loops over libm, fused float/double).

* It is listed, selectable, never the default where a C vector level runs,
  and the only level of a portable build.
* Its typed-memoryview form (fastlogistic._cylevel, prange) and its kernel
  table (what every entry point calls after set_simd_level("cython")) run
  the same per-point functions: element for element the same bits.
* Its values against mpmath are covered by test_accuracy.py, test_semantics.py
  and test_multiclass.py, which run at every level cpu_simd_levels() lists.
"""
import io

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _cylevel, _kernels

DTYPES = [np.float64, np.float32]
UNARY = ["sigmoid", "log_sigmoid", "softplus", "sigmoid_grad", "logit"]


@pytest.fixture
def cython_level():
    before = _kernels.get_simd_level()
    assert _kernels.set_simd_level("cython") == "cython"
    try:
        yield
    finally:
        _kernels.set_simd_level(before)


def _bits(a):
    a = np.ascontiguousarray(a)
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


def assert_same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(got) & np.isnan(want)
    diff = (_bits(got) != _bits(want)) & ~nan
    assert not diff.any(), (f"{int(diff.sum())} elements differ, first at "
                            f"{np.argwhere(diff)[0]}: {got[diff][0]!r} vs {want[diff][0]!r}")


def _logits(dt, n=3000, seed=0):
    rng = np.random.default_rng(seed)
    special = [0.0, -0.0, 1e-300, -1e-300, 1e-30, -1e-30, 0.5, -0.5, 1.0, -1.0, 17.0, -17.0,
               20.0, -20.0, 40.0, -40.0, 88.0, -88.0, 104.0, -104.0, 700.0, -700.0, 745.5,
               -745.5, 1e300, -1e300, np.inf, -np.inf, np.nan]
    x = np.concatenate([special, rng.normal(0, 8, n), rng.normal(0, 300, 200)])
    with np.errstate(over="ignore"):
        return x.astype(dt)


def _probs(dt, n=3000, seed=1):
    rng = np.random.default_rng(seed)
    special = [0.0, 1.0, 0.25, 0.75, 0.5, 1e-300, 1e-40, 1 - 1e-16, 1 - 2 ** -24, 0.2499999,
               0.7500001, np.nan, -0.0]
    p = np.concatenate([special, rng.random(n), rng.random(50) ** 30])
    return p.astype(dt)


# --------------------------------------------------------------------------
# listing and selection
# --------------------------------------------------------------------------

def test_cython_level_is_listed_last_and_selectable():
    levels = _kernels.cpu_simd_levels()
    assert levels[-1] == "cython" and levels.count("cython") == 1
    before = _kernels.get_simd_level()
    try:
        assert _kernels.set_simd_level("cython") == "cython"
        assert _kernels.get_simd_level() == "cython"
        shown = io.StringIO()
        assert fl.show_config(file=shown)["simd_level"] == "cython"
        assert "cython" in shown.getvalue()
        assert _kernels.simd_level_description().startswith("cython")
        # the kernels ignore the stream flag: the default threshold is "never"
        assert _kernels.default_stream_threshold() == (-1, 1)
    finally:
        _kernels.set_simd_level(before)


def test_default_level_is_a_vector_level_unless_portable():
    levels = _kernels.cpu_simd_levels()
    if _kernels.PORTABLE_BUILD:
        # no C level compiled: the Cython level is the default and the only one,
        # and a request for a C level gets it
        assert levels == ["cython"]
        assert _kernels.get_simd_level() == "cython"
        for name in ("baseline", "avx2", "avx512"):
            assert _kernels.set_simd_level(name) == "cython"
        assert "portable" in _kernels.simd_level_description()
    else:
        assert len(levels) >= 2 and levels[-2] == "baseline"
        assert levels[0] != "cython"


def test_cython_level_env_variable():
    import os
    import subprocess
    import sys
    src = os.path.dirname(os.path.dirname(fl.__file__))
    env = dict(os.environ, FASTLOGISTIC_SIMD="CYTHON")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c",
                        "import fastlogistic as fl; print(fl._kernels.get_simd_level())"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cython"


# --------------------------------------------------------------------------
# the memoryview loops and the table agree bit for bit
# --------------------------------------------------------------------------

@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_memoryview_loops_match_the_table(cython_level, name, dt):
    x = _probs(dt) if name == "logit" else _logits(dt)
    want = getattr(fl, name)(x)              # through the table, chunked
    for nt in (1, 2):
        out = np.full_like(x, 7)
        assert getattr(_cylevel, name)(x, out, num_threads=nt) is None
        assert_same_bits(out, want)
    assert np.isfinite(want).sum() > 0.9 * x.size


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_memoryview_matches_the_table(cython_level, dt, weighted):
    x = _logits(dt, n=3500)[:4000]           # one chunk: the sums agree too
    n = x.size
    rng = np.random.default_rng(3)
    t = rng.choice([0.0, 1.0, 0.3, 0.999], n).astype(dt)
    w = rng.uniform(0, 2, n).astype(dt) if weighted else None
    pw = rng.uniform(0.5, 3, n).astype(dt) if weighted else None
    loss, grad, hess = (np.empty(n, dt) for _ in range(3))
    s = _cylevel.bce_with_logits(x, t, w, pw, loss, grad, hess, gscale=1.0)
    assert_same_bits(loss, fl.binary_cross_entropy_with_logits(x, t, w, pw, reduction="none"))
    g, h = fl.binary_cross_entropy_with_logits_grad_hess(x, t, w, pw)
    assert_same_bits(grad, g)
    assert_same_bits(hess, h)
    # the loss sum, and the gradient scaled for "mean"; the sum without a loss array
    fin = np.isfinite(x)
    xs, ts = x[fin], t[fin]
    ws = w[fin] if weighted else None
    pws = pw[fin] if weighted else None
    gm = np.empty(xs.size, dt)
    s = _cylevel.bce_with_logits(xs, ts, ws, pws, grad=gm, gscale=1.0 / xs.size)
    total = fl.binary_cross_entropy_with_logits(xs, ts, ws, pws, reduction="sum")
    assert dt(s) == total
    assert_same_bits(gm, fl.binary_cross_entropy_with_logits_grad(xs, ts, ws, pws))
    assert _cylevel.bce_with_logits(xs, ts, ws, pws, grad=gm, want_sum=False) == 0.0


@pytest.mark.parametrize("dt", DTYPES)
def test_bce_memoryview_matches_the_table(cython_level, dt):
    p = _probs(dt)
    p = p[~np.isnan(p)][:4000]
    n = p.size
    rng = np.random.default_rng(4)
    t = rng.choice([0.0, 1.0, 0.3], n).astype(dt)
    w = rng.uniform(0, 2, n).astype(dt)
    loss, grad = np.empty(n, dt), np.empty(n, dt)
    s, bad = _cylevel.bce(p, t, w, loss, grad, gscale=1.0)
    assert bad == -1
    assert_same_bits(loss, fl.binary_cross_entropy(p, t, w, reduction="none"))
    assert_same_bits(grad, fl.binary_cross_entropy_grad(p, t, w, reduction="sum"))
    assert dt(s) == fl.binary_cross_entropy(p, t, w, reduction="sum")
    q = p.copy()
    q[[17, 40]] = [1.5, np.nan]
    assert _cylevel.bce(q, t, w, loss, grad)[1] == 17
    with pytest.raises(ValueError, match=r"\[0, 1\].*1\.5"):
        fl.binary_cross_entropy(q, t)


def _rows(dt, N, C, seed=5):
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 4, (N, C))
    z[0, :] = 0.0                            # every class at the max
    z[1, 0] = np.inf                         # the one-hot limit
    z[2, :2] = np.inf                        # indeterminate: NaN
    z[3, :] = -np.inf                        # indeterminate: NaN
    z[4, 1] = np.nan
    z[5, :] = [30.0] + [-30.0] * (C - 1)     # a confident row (tiny loss)
    z[6, :] = 1e300                          # inf in float32
    with np.errstate(over="ignore"):
        return z.astype(dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("C", [3, 40])     # the C core's two row layouts
def test_softmax_memoryview_matches_the_table(cython_level, dt, C):
    z = _rows(dt, 60, C)
    for log in (False, True):
        want = (fl.log_softmax if log else fl.softmax)(z, axis=-1)
        out = np.empty_like(z)
        _cylevel.softmax(z, out, log=log, num_threads=2)
        assert_same_bits(out, want)
        inplace = z.copy()
        _cylevel.softmax(inplace, inplace, log=log)
        assert_same_bits(inplace, want)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("C", [3, 40])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_memoryview_matches_the_table(cython_level, dt, C, smoothing, weighted):
    N = 60
    z = _rows(dt, N, C)
    rng = np.random.default_rng(6)
    w = rng.uniform(0.2, 2, C).astype(dt) if weighted else None
    idx = rng.integers(0, C, N).astype(np.int64)
    idx[[7, 9]] = -100                        # ignored rows
    t = rng.dirichlet(np.ones(C), N).astype(dt)
    for target_kind in ("index", "prob"):
        tgt = idx if target_kind == "index" else t
        kw = dict(weight=w, label_smoothing=smoothing)
        loss_none = fl.cross_entropy(z, tgt, reduction="none", **kw)
        grad_sum = fl.cross_entropy_grad(z, tgt, reduction="sum", **kw)
        total = fl.cross_entropy(z, tgt, reduction="sum", **kw)
        loss, grad = np.empty(N, dt), np.empty((N, C), dt)
        args = dict(target_index=idx) if target_kind == "index" else dict(target_prob=t)
        s = _cylevel.cross_entropy(z, weight=w, loss=loss, grad=grad,
                                   label_smoothing=smoothing, **args)
        assert_same_bits(loss, loss_none)
        assert_same_bits(grad, grad_sum)
        assert_same_bits(np.asarray(dt(s)), np.asarray(total))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_categorical_cross_entropy_memoryview_matches_the_table(cython_level, dt, weighted):
    N, C = 50, 7
    rng = np.random.default_rng(7)
    p = rng.dirichlet(np.ones(C), N)
    p[0, 0], p[1, :] = 0.0, 1.0
    p = p.astype(dt)
    w = rng.uniform(0.2, 2, C).astype(dt) if weighted else None
    idx = rng.integers(0, C, N).astype(np.int64)
    idx[3] = -100
    t = rng.dirichlet(np.ones(C), N).astype(dt)
    for args, tgt in ((dict(target_index=idx), idx), (dict(target_prob=t), t)):
        loss, grad = np.empty(N, dt), np.empty((N, C), dt)
        s, bad = _cylevel.categorical_cross_entropy(p, weight=w, loss=loss, grad=grad, **args)
        assert bad == -1
        assert_same_bits(loss, fl.categorical_cross_entropy(p, tgt, weight=w, reduction="none"))
        assert_same_bits(grad, fl.categorical_cross_entropy_grad(p, tgt, weight=w,
                                                                 reduction="sum"))
        assert dt(s) == fl.categorical_cross_entropy(p, tgt, weight=w, reduction="sum")
    q = p.copy()
    q[4, 2] = -0.5
    assert _cylevel.categorical_cross_entropy(q, target_prob=t)[1] == 4 * C + 2


# --------------------------------------------------------------------------
# the memoryview API's own checks
# --------------------------------------------------------------------------

def test_memoryview_api_checks_its_arguments():
    x = np.zeros(5)
    with pytest.raises(ValueError, match=r"_cylevel.sigmoid: out has 4 elements, expected 5"):
        _cylevel.sigmoid(x, np.zeros(4))
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        _cylevel.sigmoid(x, np.zeros(5), num_threads=0)
    with pytest.raises((TypeError, ValueError), match="dtype|signature"):   # mixed dtypes
        _cylevel.sigmoid(x, np.zeros(5, np.float32))
    with pytest.raises(ValueError):                      # not contiguous
        _cylevel.sigmoid(np.zeros(10)[::2], np.zeros(5))
    with pytest.raises(ValueError, match="t has 4 elements"):
        _cylevel.bce_with_logits(x, np.zeros(4))
    with pytest.raises(ValueError, match="exactly one of target_index, target_prob"):
        _cylevel.cross_entropy(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"out has shape \(2, 4\), expected \(2, 3\)"):
        _cylevel.softmax(np.zeros((2, 3)), np.zeros((2, 4)))
    # the input is not changed; empty input is fine
    y = np.linspace(-3, 3, 5)
    keep = y.copy()
    _cylevel.sigmoid(y, np.empty(5))
    np.testing.assert_array_equal(y, keep)
    _cylevel.sigmoid(np.empty(0), np.empty(0))
    assert _cylevel.cross_entropy(np.empty((0, 3)), target_index=np.empty(0, np.int64)) == 0.0
