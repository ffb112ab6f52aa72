"""fastlogistic.patch()/unpatch()/patched() on scikit-learn's
HalfBinomialLoss and HalfMultinomialLoss: the patched
methods give scikit-learn's results (its arguments, out arrays, dtypes),
unpatch restores the originals, the version check refuses untested
interfaces, and scikit-learn's own loss and logistic-regression tests pass
patched (subprocess)."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastlogistic as fl

sk_loss = pytest.importorskip("sklearn._loss.loss")
HERE = os.path.dirname(os.path.abspath(__file__))
NAMES_B = ("loss", "loss_gradient", "gradient", "gradient_hessian")
NAMES_M = NAMES_B + ("gradient_proba",)


@pytest.fixture(autouse=True)
def _always_unpatched():
    fl.unpatch()
    yield
    fl.unpatch()


def _patch():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # SciPy half may be pending
        state = fl.patch(scipy=False, sklearn=True)
    assert state["sklearn"]


def _call_all(loss, names, y, raw, sw, outs_dtype=None):
    """Every method, with and without out arrays; list of arrays."""
    res = []
    for name in names:
        m = getattr(loss, name)
        r = m(y_true=y, raw_prediction=raw, sample_weight=sw)
        res.extend(r if isinstance(r, tuple) else (r,))
        if outs_dtype is not None:
            n = y.shape[0]
            shape_g = raw.shape if raw.ndim == 2 and raw.shape[1] > 1 else (n,)
            if name == "loss":
                out = np.full(n, np.nan, outs_dtype)
                r = m(y, raw, sw, loss_out=out)
                assert r is out
            elif name == "loss_gradient":
                lo, go = np.full(n, np.nan, outs_dtype), np.full(shape_g, np.nan, outs_dtype)
                r = m(y, raw, sw, loss_out=lo, gradient_out=go)
                assert r[0] is lo
            elif name == "gradient":
                go = np.full(shape_g, np.nan, outs_dtype)
                r = m(y, raw, sw, gradient_out=go)
            elif name == "gradient_hessian":
                go, ho = np.full(shape_g, np.nan, outs_dtype), np.full(shape_g, np.nan, outs_dtype)
                r = m(y, raw, sw, gradient_out=go, hessian_out=ho)
            else:
                go, po = np.full(shape_g, np.nan, outs_dtype), np.full(shape_g, np.nan, outs_dtype)
                r = m(y, raw, sw, gradient_out=go, proba_out=po)
            res.extend(r if isinstance(r, tuple) else (r,))
    return [np.array(a) for a in res]


def _compare(got, want, dtype, terms):
    """ULP-level agreement relative to the larger of |value| and `terms`, the
    size of the terms scikit-learn's formulas subtract (log1pexp(x) - y x
    cancels for y ~ 1 and large x, where ours is the accurate one)."""
    assert len(got) == len(want)
    tol = 64 * np.finfo(dtype).eps
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        t = terms if w.ndim == 1 else terms[:, None]
        scale = np.maximum(np.maximum(np.abs(w), t), np.finfo(dtype).tiny)
        np.testing.assert_array_less(np.abs(g - w) / scale, tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("raw_shape", ["1d", "n1"])
def test_binomial_same_as_sklearn(dtype, weighted, raw_shape):
    rng = np.random.default_rng(0)
    n = 2000
    raw = (rng.standard_normal(n) * 6).astype(dtype)
    raw[:4] = [-40, -20, 20, 40]
    y = rng.random(n).astype(dtype)         # soft targets too
    y[: n // 2] = np.round(y[: n // 2])
    sw = (rng.random(n) + 0.5).astype(dtype) if weighted else None
    if raw_shape == "n1":
        raw = raw[:, None]
    loss = sk_loss.HalfBinomialLoss()
    want = _call_all(loss, NAMES_B, y, raw, sw, dtype)
    _patch()
    assert sk_loss.HalfBinomialLoss.loss_gradient.__fastlogistic__
    got = _call_all(loss, NAMES_B, y, raw, sw, dtype)
    terms = np.abs(raw.reshape(-1).astype(np.float64)) * (1 if sw is None else sw) + 1e-300
    _compare(got, want, dtype, terms)


def test_binomial_out_of_another_dtype():
    # HistGradientBoosting: float64 raw predictions, float32 gradient/hessian
    rng = np.random.default_rng(1)
    raw = rng.standard_normal(500) * 4
    y = (rng.random(500) < 0.5).astype(np.float64)
    loss = sk_loss.HalfBinomialLoss()
    g0, h0 = np.empty(500, np.float32), np.empty(500, np.float32)
    loss.gradient_hessian(y, raw, None, g0, h0)
    _patch()
    g1, h1 = np.empty(500, np.float32), np.empty(500, np.float32)
    r = loss.gradient_hessian(y, raw, None, g1, h1)
    assert r[0] is g1 and r[1] is h1
    np.testing.assert_array_equal(g1, g0)
    np.testing.assert_array_equal(h1, h0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("order", ["C", "F"])
def test_multinomial_same_as_sklearn(dtype, weighted, order):
    rng = np.random.default_rng(2)
    n, k = 1500, 5
    raw = np.asarray(rng.standard_normal((n, k)) * 4, dtype=dtype, order=order)
    y = rng.integers(0, k, n).astype(dtype)
    sw = (rng.random(n) + 0.5).astype(dtype) if weighted else None
    loss = sk_loss.HalfMultinomialLoss(n_classes=k)
    want = _call_all(loss, NAMES_M, y, raw, sw, dtype)
    _patch()
    got = _call_all(loss, NAMES_M, y, raw, sw, dtype)
    terms = np.abs(raw).max(axis=1).astype(np.float64) * (1 if sw is None else sw)
    _compare(got, want, dtype, terms)


def test_unpatch_restores_and_patched_context():
    before = {(c, n): c.__dict__.get(n) for c in (sk_loss.HalfBinomialLoss,
                                                   sk_loss.HalfMultinomialLoss)
              for n in NAMES_M}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with fl.patched(scipy=False) as state:
            assert state["sklearn"] and fl.is_patched()["sklearn"]
            assert sk_loss.HalfBinomialLoss.loss is not before[(sk_loss.HalfBinomialLoss, "loss")]
            assert sk_loss.HalfMultinomialLoss.gradient_proba.__fastlogistic__
        assert not fl.is_patched()["sklearn"]
    after = {(c, n): c.__dict__.get(n) for c, n in before}
    assert after == before
    # idempotent, and unpatch twice is harmless
    _patch()
    _patch()
    fl.unpatch()
    fl.unpatch()
    assert {(c, n): c.__dict__.get(n) for c, n in before} == before


def test_other_inputs_go_to_sklearn():
    # an int64 y_true or mixed dtypes: scikit-learn's own method answers
    rng = np.random.default_rng(3)
    raw = rng.standard_normal(50)
    y32 = (rng.random(50) < 0.5).astype(np.float32)
    loss = sk_loss.HalfBinomialLoss()
    with pytest.raises(Exception) as e0:
        loss.loss(y32, raw)            # sklearn refuses mixed dtypes
    _patch()
    with pytest.raises(type(e0.value)):
        loss.loss(y32, raw)


def test_untested_version_refused(monkeypatch):
    import sklearn
    monkeypatch.setattr(sklearn, "__version__", "1.8.2")
    with pytest.warns(RuntimeWarning, match="1.8.2 is not a tested version"):
        state = fl.patch(scipy=False, sklearn=True)
    assert not state["sklearn"]
    assert not hasattr(sk_loss.HalfBinomialLoss.loss, "__fastlogistic__")


def test_changed_interface_refused(monkeypatch):
    def loss(self, y_true, raw_prediction, sample_weight=None, loss_out=None, n_threads=1,
             new_argument=None):
        pass
    monkeypatch.setattr(sk_loss.HalfMultinomialLoss, "loss", loss)
    with pytest.warns(RuntimeWarning, match="HalfMultinomialLoss.loss has parameters"):
        state = fl.patch(scipy=False, sklearn=True)
    assert not state["sklearn"]
    assert not hasattr(sk_loss.HalfBinomialLoss.loss, "__fastlogistic__")


def test_scipy_half_reported():
    from fastlogistic import _kernels
    if hasattr(_kernels, "patch_scipy_ufuncs"):
        pytest.skip("the compiled SciPy patch is present: tested with the ufuncs")
    with pytest.warns(RuntimeWarning, match="SciPy ufunc patch is not available"):
        state = fl.patch(scipy=True, sklearn=False)
    assert state == {"scipy": False, "sklearn": False}


def test_scipy_half_names_imported_before():
    from fastlogistic import _kernels
    if not hasattr(_kernels, "patch_scipy_ufuncs"):
        pytest.skip("the compiled SciPy patch is not in this build")
    sc = pytest.importorskip("scipy.special")
    from scipy.special import expit, log_expit, logit   # bound before the patch
    rng = np.random.default_rng(5)
    x = rng.standard_normal(10_000) * 20
    p = rng.random(10_000)
    before = [expit(x), log_expit(x), logit(p), expit(x.astype(np.float32))]
    with fl.patched(sklearn=False) as state:
        assert state["scipy"]
        during = [expit(x), log_expit(x), logit(p), expit(x.astype(np.float32))]
        assert expit is sc.expit
    np.testing.assert_array_equal(during[0], fl.sigmoid(x))
    np.testing.assert_array_equal(during[1], fl.log_sigmoid(x))
    np.testing.assert_array_equal(during[2], fl.logit(p))
    np.testing.assert_array_equal(during[3], fl.sigmoid(x.astype(np.float32)))
    after = [expit(x), log_expit(x), logit(p), expit(x.astype(np.float32))]
    for a, b in zip(after, before):                       # SciPy's own loops, bit for bit
        assert a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------
# scikit-learn's own tests, patched
# ---------------------------------------------------------------------------

# test_logistic.py takes ~14 min on a loaded 2-core machine; CI runs the
# lbfgs/newton tests (the solvers that use HalfBinomialLoss/HalfMultinomialLoss
# through LinearModelLoss), FASTLOGISTIC_SKLEARN_FULL=1 runs all of it.
LOGISTIC_SUBSET = "(lbfgs or newton) and not cv and not CV and not path"


def _run_sklearn_tests(modules, k=None):
    src = os.path.dirname(os.path.dirname(fl.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE, src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, "-m", "pytest", "-p", "plugins.fl_sklearn_patch",
           "-p", "no:cacheprovider", "-q", "--pyargs", *modules]
    if k:
        cmd += ["-k", k]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE)
    tail = r.stdout[-3000:] + r.stderr[-2000:]
    assert r.returncode == 0, tail
    assert "passed" in r.stdout and "failed" not in r.stdout, tail


def test_sklearn_loss_tests_patched():
    pytest.importorskip("sklearn._loss.tests.test_loss")
    _run_sklearn_tests(["sklearn._loss.tests.test_loss"])


def test_sklearn_logistic_tests_patched():
    pytest.importorskip("sklearn.linear_model.tests.test_logistic")
    full = os.environ.get("FASTLOGISTIC_SKLEARN_FULL") == "1"
    _run_sklearn_tests(["sklearn.linear_model.tests.test_logistic"],
                       None if full else LOGISTIC_SUBSET)
