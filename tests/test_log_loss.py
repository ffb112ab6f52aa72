"""fastlogistic.log_loss with scikit-learn's contract.

Values against an independent float64 closed form and against
scikit-learn itself; errors and warnings as scikit-learn's; and
scikit-learn's own log_loss tests run with ours in its place."""
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import fastlogistic as fl

HERE = os.path.dirname(os.path.abspath(__file__))


def _reference(y_idx, P, sw=None, normalize=True):
    """-sum_i w_i log(clip(P[i, y_i], eps, 1 - eps)) [/ sum w], float64 NumPy."""
    eps = np.finfo(P.dtype).eps
    q = np.clip(P, eps, 1 - eps).astype(np.float64)[np.arange(len(y_idx)), y_idx]
    terms = -np.log(q)
    w = np.ones_like(terms) if sw is None else np.asarray(sw, np.float64)
    total = float(np.sum(terms * w))
    return total / float(w.sum()) if normalize else total


def _probs(n, k, rng, dtype=np.float64):
    z = rng.normal(size=(n, k)) * 2
    P = np.exp(z - z.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    return P.astype(dtype)


@pytest.mark.parametrize("k", [2, 3, 10])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_matches_closed_form(k, weighted, normalize):
    rng = np.random.default_rng(k)
    n = 500
    P = _probs(n, k, rng)
    P[:5] = np.eye(k)[rng.integers(0, k, 5)]          # clipped rows
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)                               # every class present
    sw = rng.random(n) + 0.1 if weighted else None
    got = fl.log_loss(y, P, sample_weight=sw, normalize=normalize)
    assert isinstance(got, float)
    np.testing.assert_allclose(got, _reference(y, P, sw, normalize), rtol=1e-13)


def test_binary_1d_and_labels_of_any_type():
    rng = np.random.default_rng(3)
    p = rng.random(300)
    p[:3] = [0.0, 1.0, 1.0]
    y = rng.integers(0, 2, 300)
    y[:2] = [0, 1]
    P = np.stack([1 - p, p], axis=1)
    ref = _reference(y, P)
    np.testing.assert_allclose(fl.log_loss(y, p), ref, rtol=1e-13)
    names = np.array(["ham", "spam"])[y]
    np.testing.assert_allclose(fl.log_loss(names, p), ref, rtol=1e-13)
    np.testing.assert_allclose(fl.log_loss(list(names), P), ref, rtol=1e-13)
    np.testing.assert_allclose(fl.log_loss(y.astype(bool), p), ref, rtol=1e-13)
    np.testing.assert_allclose(fl.log_loss(y * 7 - 3, p), ref, rtol=1e-13)   # -3 < 4
    np.testing.assert_allclose(fl.log_loss(y.astype(float) + 0.0, p), ref, rtol=1e-13)


def test_labels_argument():
    # y_true uses two of three declared classes
    P = np.array([[0.7, 0.1, 0.2], [0.2, 0.7, 0.1], [0.1, 0.7, 0.2]])
    assert fl.log_loss([1, 2, 2], P, labels=[1, 2, 3]) == pytest.approx(-np.log(0.7))
    with pytest.warns(UserWarning, match="ordered lexicographically"):
        fl.log_loss(["b", "a", "c"], np.eye(3)[[1, 0, 2]], labels=["c", "a", "b"])
    with pytest.raises(ValueError, match=r"y_true contains values \{'z'\} not belonging"):
        fl.log_loss(["a", "z"], [[0.5, 0.5], [0.5, 0.5]], labels=["a", "b"])


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_eps_follows_dtype(dtype):
    # p = 0 for the true class: -log(eps) of the dtype
    got = fl.log_loss(np.array([0, 1]), np.array([1, 0], dtype=dtype))
    assert got == pytest.approx(-np.log(np.finfo(dtype).eps), rel=1e-6)


def test_errors_and_warnings():
    with pytest.raises(ValueError, match="only one label"):
        fl.log_loss([2, 2], [[0.2, 0.8], [0.6, 0.4]])
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[3, 2\]"):
        fl.log_loss([2, 2], [[0.2, 0.8], [0.6, 0.4], [0.7, 0.3]])
    with pytest.raises(ValueError, match="different number of classes: 3 vs 2"):
        fl.log_loss([1, 0, 2], [[0.3, 0.7], [0.6, 0.4], [0.4, 0.6]])
    with pytest.raises(ValueError, match="greater than 1"):
        fl.log_loss([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="lower than 0"):
        fl.log_loss([0, 1], [0.5, -0.5])
    with pytest.raises(ValueError, match="contains NaN"):
        fl.log_loss([0, 1], [0.5, np.nan])
    with pytest.raises(ValueError, match="at least one non-zero"):
        fl.log_loss([0, 1], [0.5, 0.5], sample_weight=[0.0, 0.0])
    with pytest.raises(ValueError, match="Sample weights must be 1D"):
        fl.log_loss([0, 1], [0.5, 0.5], sample_weight=np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[2, 2, 3\]"):
        fl.log_loss([0, 1], [0.5, 0.5], sample_weight=[1.0, 1.0, 1.0])
    with pytest.warns(UserWarning, match="do not sum to one"):
        fl.log_loss([0, 1, 1], [[0.2, 0.7], [0.6, 0.3], [0.4, 0.7]])
    with pytest.raises(ValueError, match="Unknown label type"):
        fl.log_loss([0.5, 1.5], [0.2, 0.3])


def test_inputs_unchanged():
    rng = np.random.default_rng(0)
    P = _probs(50, 3, rng)
    P[0] = [1.0, 0.0, 0.0]
    y = rng.integers(0, 3, 50)
    y[:3] = [0, 1, 2]
    keep = P.copy(), y.copy()
    fl.log_loss(y, P)
    np.testing.assert_array_equal(P, keep[0])
    np.testing.assert_array_equal(y, keep[1])


def test_pandas_inputs():
    pd = pytest.importorskip("pandas")
    y = pd.Series(["ham", "spam", "spam", "ham"], index=[3, 1, 2, 0])
    P = pd.DataFrame([[0.3, 0.7], [0.6, 0.4], [0.4, 0.6], [0.7, 0.3]], index=[3, 1, 2, 0])
    assert fl.log_loss(y, P) == pytest.approx(0.7469410, rel=1e-6)
    # as scikit-learn: samples paired by position, the indexes not aligned
    p1 = pd.Series([0.7, 0.4, 0.6, 0.3], index=[0, 1, 2, 3])
    assert fl.log_loss(y, p1) == pytest.approx(0.7469410, rel=1e-6)
    # nullable floats: pd.NA is NaN, which log_loss refuses as scikit-learn does
    with pytest.raises(ValueError, match="contains NaN"):
        fl.log_loss(y, pd.Series([0.7, None, 0.6, 0.3], dtype="Float64"))


# ---------------------------------------------------------------------------
# against scikit-learn
# ---------------------------------------------------------------------------

def _sk():
    return pytest.importorskip("sklearn.metrics")


@pytest.mark.parametrize("case", range(6))
def test_same_as_sklearn(case):
    skm = _sk()
    rng = np.random.default_rng(case)
    n = 400
    if case == 0:
        y, P, kw = rng.integers(0, 2, n), rng.random(n), {}
    elif case == 1:
        y, P, kw = rng.integers(0, 5, n), _probs(n, 5, rng), {"sample_weight": rng.random(n)}
    elif case == 2:
        y = np.array(["b", "a", "c"])[rng.integers(0, 3, n)]
        P, kw = _probs(n, 4, rng), {"labels": ["a", "b", "c", "d"]}
    elif case == 3:
        y, P, kw = rng.integers(0, 3, n), _probs(n, 3, rng, np.float32), {"normalize": False}
    elif case == 4:   # multilabel indicator y_true
        y = (rng.random((n, 3)) < 0.4).astype(int)
        P, kw = rng.random((n, 3)), {}
    else:
        y, P, kw = rng.integers(0, 2, n), np.eye(2)[rng.integers(0, 2, n)], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        want = skm.log_loss(y, P, **kw)
        got = fl.log_loss(y, P, **kw)
    np.testing.assert_allclose(got, want, rtol=1e-6 if case == 3 else 1e-12)


def test_sklearn_own_log_loss_tests():
    """scikit-learn's log_loss tests (test_classification.py -k log_loss, and
    test_common.py -k log_loss) with fastlogistic.log_loss in its place.
    test_common's d2_log_loss_score cases are left out: d2_log_loss_score calls
    scikit-learn's private _log_loss, not log_loss, so they test nothing of ours."""
    _sk()
    pytest.importorskip("sklearn.metrics.tests.test_classification")
    src = os.path.dirname(os.path.dirname(fl.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [HERE, src] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    cmd = [sys.executable, "-m", "pytest", "-p", "plugins.fl_sklearn_log_loss",
           "-p", "no:cacheprovider", "-q", "--pyargs",
           "sklearn.metrics.tests.test_classification", "sklearn.metrics.tests.test_common",
           "-k", "log_loss and not d2_log_loss or test_log_loss or test_d2_log_loss_score"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=HERE)
    tail = r.stdout[-3000:] + r.stderr[-2000:]
    assert r.returncode == 0, tail
    assert "passed" in r.stdout and "failed" not in r.stdout, tail


def _layouts(P, y):
    """The same matrix and labels as C, Fortran, a column-strided view, rows
    reversed (labels with them), and a row-strided view (every other row)."""
    k = P.shape[1]
    wide = np.full((P.shape[0], 2 * k), 5.0, dtype=P.dtype)
    wide[:, 1::2] = P
    twice = np.repeat(P, 2, axis=0)
    return [("C", P, y), ("F", np.asfortranarray(P), y), ("column-strided", wide[:, 1::2], y),
            ("rows reversed", P[::-1], y[::-1]), ("row-strided", twice[::2], y)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [2, 3, 7])
def test_matrix_scan_any_layout(dtype, k):
    # the one pass over the matrix (extremes, row sums, the true class's
    # probability gathered and clipped) reads any layout; exact zeros and
    # ones exercise the clipping at eps and 1 - eps of the dtype
    rng = np.random.default_rng(10 * k)
    n = 101
    P = _probs(n, k, rng, dtype)
    P[:5] = np.eye(k, dtype=dtype)[rng.integers(0, k, 5)]
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    ref = _reference(y, P)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for name, Q, yy in _layouts(P, y):
        np.testing.assert_allclose(fl.log_loss(yy, Q), ref, rtol=tol, err_msg=name)
        sw = np.linspace(0.5, 2, n)
        np.testing.assert_allclose(fl.log_loss(yy, Q, sample_weight=sw[: len(yy)]),
                                   _reference(yy, Q, sw), rtol=tol, err_msg=name)


def test_matrix_scan_on_threads():
    # above the parallel threshold the rows are scanned in blocks on threads;
    # the result (value and warnings) is independent of the thread count
    rng = np.random.default_rng(3)
    n, k = 60_000, 5
    P = _probs(n, k, rng)
    y = rng.integers(0, k, n)
    ref = _reference(y, P)
    got = {}
    for t in (1, 2, 3):
        with fl.use_threads(t):
            got[t] = fl.log_loss(y, P)
    assert got[1] == got[2] == got[3]
    np.testing.assert_allclose(got[1], ref, rtol=1e-12)
    bad = P.copy()
    bad[n - 7] *= 1.01                        # one row in the last block sums to 1.01
    for t in (1, 2):
        with fl.use_threads(t), pytest.warns(UserWarning, match="do not sum to one"):
            fl.log_loss(y, bad)
    for v, msg in ((np.nan, "contains NaN"), (np.inf, "contains infinity"),
                   (1.5, "greater than 1: 1.5"), (-0.25, "lower than 0: -0.25")):
        bad = P.copy()
        bad[n - 3, 1] = v
        with fl.use_threads(2), pytest.raises(ValueError, match=msg):
            fl.log_loss(y, bad)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matrix_errors_in_sklearn_order(dtype):
    P = np.array([[0.3, 0.7], [0.6, 0.4], [0.4, 0.6]], dtype=dtype)
    # y_proba's errors come before those of the labels (one label only here)
    for v, msg in ((np.nan, "contains NaN"), (np.inf, "contains infinity"),
                   (2.0, "greater than 1"), (-1.0, "lower than 0")):
        bad = P.copy()
        bad[1, 0] = v
        with pytest.raises(ValueError, match=msg):
            fl.log_loss([4, 4, 4], bad)
    # +inf and -inf in one row (their sum is NaN): infinity, as scikit-learn
    bad = np.array([[np.inf, -np.inf, 0.0], [0.2, 0.3, 0.5]], dtype=dtype)
    with pytest.raises(ValueError, match="contains infinity"):
        fl.log_loss([0, 1], bad)
    # then lengths, then the labels
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        fl.log_loss([4, 4], P)
    with pytest.raises(ValueError, match="only one label"):
        fl.log_loss([4, 4, 4], P)
    with pytest.raises(ValueError, match="different number of classes: 3 vs 2"):
        fl.log_loss([0, 1, 2], P)


def test_labels_parameter_checked_as_sklearn():
    P = [[0.3, 0.7], [0.6, 0.4]]
    with pytest.raises(TypeError, match="'labels' parameter of log_loss must be an array-like"):
        fl.log_loss([0, 1], P, labels=len)
    with pytest.raises(TypeError, match="at least 1 dimension"):
        fl.log_loss([0, 1], P, labels=np.array("ab"))
    with pytest.raises(ValueError, match="y has 0 samples"):
        fl.log_loss([0, 1], P, labels=[])
    with pytest.raises(ValueError, match="Multioutput target data"):
        fl.log_loss([0, 1], P, labels=[[0, 1], [1, 2]])
    with pytest.raises(ValueError, match="different from that in y_true: 3 vs 2"):
        fl.log_loss(np.array([[0, 1], [1, 0]]), P, labels=[0, 1, 2])


def test_matrix_scan_float16_and_unaligned():
    # a float16 matrix is scanned as float32 (exact) with float16's eps; an
    # unaligned one through an aligned copy: both give the closed form
    rng = np.random.default_rng(8)
    n, k = 57, 4
    P = _probs(n, k, rng)
    y = rng.integers(0, k, n)
    y[:k] = np.arange(k)
    P16 = P.astype(np.float16)
    np.testing.assert_allclose(fl.log_loss(y, P16), _reference(y, P16), rtol=1e-6)
    P16[0, y[0]] = 0                              # clipped at float16's eps
    with pytest.warns(UserWarning, match="do not sum to one"):
        np.testing.assert_allclose(fl.log_loss(y, P16), _reference(y, P16), rtol=1e-6)
    raw = np.zeros(n * k * 8 + 1, dtype=np.uint8)
    U = np.frombuffer(raw.data, dtype=np.float64, count=n * k, offset=1).reshape(n, k)
    assert not U.flags.aligned
    U[...] = P
    np.testing.assert_allclose(fl.log_loss(y, U), _reference(y, P), rtol=1e-13)
    U[3, 1] = np.nan
    with pytest.raises(ValueError, match="contains NaN"):
        fl.log_loss(y, U)
