"""fastlogistic.objectives: gradient and hessian against float64 closed forms,
and models trained with them against models trained with XGBoost's and
LightGBM's built-in objectives (same predictions)."""
import warnings

import numpy as np
import pytest

import fastlogistic.objectives as flo


class Data:
    """The data-object protocol (get_label / get_weight) without a library."""

    def __init__(self, label, weight=None):
        self.label, self.weight = label, weight

    def get_label(self):
        return self.label

    def get_weight(self):
        return self.weight


def ref_sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)), e / (1 + e) ** 2


def ref_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("weighted", [False, True, "empty"])
def test_binary_values(dtype, weighted):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(200) * 6).astype(dtype)
    x[:3] = [40.0, -40.0, 0.0]
    y = rng.random(200).astype(np.float32)
    y[:3] = [1.0, 1.0, 0.0]
    w = {False: None, True: rng.random(200).astype(np.float32) + 0.5,
         "empty": np.empty(0, np.float32)}[weighted]
    g, h = flo.binary_logistic(x, Data(y, w))
    s, ds = ref_sigmoid(x)
    ww = 1.0 if w is None or w.size == 0 else w.astype(np.float64)
    rtol = 2e-6 if dtype == np.float32 else 1e-14
    assert g.dtype == h.dtype == dtype and g.shape == h.shape == x.shape
    np.testing.assert_allclose(g, (s - y) * ww, rtol=rtol, atol=rtol * 1e-2)
    # XGBoost's floor: max(p (1 - p), 1e-16) * w  (ds(40) = 4.2e-18 is floored)
    np.testing.assert_allclose(h, np.maximum(ds, 1e-16) * ww, rtol=rtol)


def test_binary_sklearn_form_and_2d():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(50)
    y = (rng.random(50) < 0.5).astype(np.float64)
    w = rng.random(50) + 0.1
    g1, h1 = flo.binary_logistic(x, Data(y, w))
    g2, h2 = flo.binary_logistic(y, x, w)                    # LGBMClassifier
    g3, h3 = flo.binary_logistic(y, x, sample_weight=w)      # XGBClassifier
    for g, h in ((g2, h2), (g3, h3)):
        np.testing.assert_array_equal(g, g1)
        np.testing.assert_array_equal(h, h1)
    g4, h4 = flo.binary_logistic(x[:, None], Data(y, w))
    np.testing.assert_array_equal(g4[:, 0], g1)


@pytest.mark.parametrize("fn,factor", [(flo.xgboost_softmax, 2.0), (flo.softmax, 2.0),
                                       (flo.lightgbm_softmax, 7 / 6)])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_values(fn, factor, weighted):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((40, 7)) * 3
    z[0] = [60, -60, 0, 0, 0, 0, 0]
    y = rng.integers(0, 7, 40).astype(np.float32)
    w = rng.random(40) + 0.5 if weighted else None
    g, h = fn(z, Data(y, w))
    p = ref_softmax(z)
    onehot = np.eye(7)[y.astype(int)]
    ww = 1.0 if w is None else w[:, None]
    np.testing.assert_allclose(g, (p - onehot) * ww, rtol=1e-13, atol=1e-300)
    href = factor * p * (1 - p) * ww
    if factor == 2.0:
        href = np.maximum(href, 1e-16)
    np.testing.assert_allclose(h, href, rtol=1e-13)
    assert g.shape == h.shape == z.shape


def test_inputs_not_modified():
    z = np.random.default_rng(3).standard_normal((10, 3))
    y = np.arange(10, dtype=np.float32) % 3
    z0, y0 = z.copy(), y.copy()
    flo.softmax(z, Data(y))
    flo.binary_logistic(z[:, 0], Data(y / 2))
    np.testing.assert_array_equal(z, z0)
    np.testing.assert_array_equal(y, y0)


def test_errors():
    z = np.zeros((4, 3))
    with pytest.raises(ValueError, match=r"softmax: multi-class predictions must have shape \(n, C\)"):
        flo.softmax(np.zeros(12), Data(np.zeros(4)))
    with pytest.raises(ValueError, match="labels must be class indices 0..2; found 3.0 at row 1"):
        flo.softmax(z, Data(np.array([0, 3, 1, 1], np.float32)))
    with pytest.raises(ValueError, match="found 0.5 at row 2"):
        flo.softmax(z, Data(np.array([0, 1, 0.5, 1])))
    with pytest.raises(ValueError, match="weights must have one entry per row"):
        flo.softmax(z, Data(np.zeros(4), np.ones(3)))
    with pytest.raises(ValueError, match="binary_logistic: predictions of shape"):
        flo.binary_logistic(np.zeros(5), Data(np.zeros(4)))
    with pytest.raises(TypeError, match="floating point"):
        flo.binary_logistic(np.zeros(4, dtype=np.int64), Data(np.zeros(4)))


# ---------------------------------------------------------------------------
# the same model as the built-in objective
# ---------------------------------------------------------------------------

def _data(kind):
    datasets = pytest.importorskip("sklearn.datasets")
    if kind == "binary":
        X, y = datasets.load_breast_cancer(return_X_y=True)
    else:
        X, y = datasets.load_digits(return_X_y=True)
    w = np.random.default_rng(4).random(len(y)) + 0.5
    return X, y.astype(np.float64), w


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_xgboost_same_model(kind, weighted):
    xgb = pytest.importorskip("xgboost")
    X, y, w = _data(kind)
    n = len(y)
    C = 10 if kind == "multiclass" else 1
    margin0 = np.zeros((n, C) if C > 1 else n)
    dtrain = xgb.DMatrix(X, y, weight=w if weighted else None, base_margin=margin0)
    params = {"tree_method": "hist", "max_depth": 3, "eta": 0.3, "nthread": 1, "seed": 0}
    if C > 1:
        params["num_class"] = C
    rounds = 8 if C == 1 else 4
    builtin = xgb.train({**params, "objective": "binary:logistic" if C == 1 else "multi:softprob"},
                        dtrain, rounds)
    custom = xgb.train({**params, "disable_default_eval_metric": 1}, dtrain, rounds,
                       obj=flo.binary_logistic if C == 1 else flo.softmax)
    a = builtin.predict(dtrain, output_margin=True)
    b = custom.predict(dtrain, output_margin=True)
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert np.std(a) > 0.1      # a model that learned something


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_lightgbm_same_model(kind, weighted):
    lgb = pytest.importorskip("lightgbm")
    X, y, w = _data(kind)
    C = 10 if kind == "multiclass" else 1
    params = {"verbose": -1, "num_leaves": 8, "learning_rate": 0.3, "num_threads": 1,
              "boost_from_average": False, "deterministic": True, "seed": 0}
    if C > 1:
        params["num_class"] = C
    rounds = 8 if C == 1 else 4

    def train(objective):
        ds = lgb.Dataset(X, y, weight=w if weighted else None)
        return lgb.train({**params, "objective": objective}, ds, rounds)
    builtin = train("binary" if C == 1 else "multiclass")
    custom = train(flo.binary_logistic if C == 1 else flo.softmax)
    a = builtin.predict(X, raw_score=True)
    b = custom.predict(X, raw_score=True)
    assert a.shape == b.shape
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
    assert np.std(a) > 0.1


def test_sklearn_apis_same_model():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X, y, w = _data("multiclass")
    kw = dict(n_estimators=3, max_depth=3, learning_rate=0.3, n_jobs=1)
    a = xgb.XGBClassifier(objective="multi:softprob", base_score=0.0, **kw).fit(
        X, y, sample_weight=w, base_margin=np.zeros((len(y), 10)))
    b = xgb.XGBClassifier(objective=flo.xgboost_softmax, base_score=0.0, **kw).fit(
        X, y, sample_weight=w, base_margin=np.zeros((len(y), 10)))
    np.testing.assert_allclose(b.predict(X, output_margin=True, base_margin=np.zeros((len(y), 10))),
                               a.predict(X, output_margin=True, base_margin=np.zeros((len(y), 10))),
                               atol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lkw = dict(n_estimators=3, num_leaves=8, learning_rate=0.3, n_jobs=1, verbose=-1,
                   boost_from_average=False, deterministic=True)
        a = lgb.LGBMClassifier(objective="multiclass", **lkw).fit(X, y, sample_weight=w)
        b = lgb.LGBMClassifier(objective=flo.lightgbm_softmax, **lkw).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(b.predict(X, raw_score=True), a.predict(X, raw_score=True),
                                   atol=1e-6)
        Xb, yb, wb = _data("binary")
        a = lgb.LGBMClassifier(objective="binary", **lkw).fit(Xb, yb, sample_weight=wb)
        b = lgb.LGBMClassifier(objective=flo.binary_logistic, **lkw).fit(Xb, yb, sample_weight=wb)
        np.testing.assert_allclose(b.predict(Xb, raw_score=True), a.predict(Xb, raw_score=True),
                                   atol=1e-6)


def test_lightgbm_data_has_no_hessian_floor():
    lgb = pytest.importorskip("lightgbm")
    ds = lgb.Dataset(np.zeros((3, 1)), np.array([1.0, 0.0, 1.0]), params={"verbose": -1}).construct()
    x = np.array([40.0, 0.0, -3.0])
    g, h = flo.binary_logistic(x, ds)
    s, ds_ = ref_sigmoid(x)
    np.testing.assert_allclose(h, ds_, rtol=1e-14)       # 4.2e-18 at x = 40: not floored
    t = np.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(g, (1 - t) * s - t * ref_sigmoid(-x)[0], rtol=1e-14)  # exact form
    _, hx = flo.binary_logistic(x, Data(np.array([1.0, 0.0, 1.0])))
    assert hx[0] == 1e-16                                # XGBoost's floor
