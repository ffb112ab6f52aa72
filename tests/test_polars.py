"""polars Series, DataFrames and pl.col expressions for every public array
function: the same container out as in (a Series for a per-row loss, a
scalar or a scalar expression for a reduction), values equal to the NumPy
result, nulls kept, polars never imported by fastlogistic itself."""
import subprocess
import sys

import numpy as np
import pytest

pl = pytest.importorskip("polars")

import fastlogistic as fl  # noqa: E402
from fastlogistic import _registry  # noqa: E402

N, C = 37, 3
BINARY = _registry.names("binary")
MULTI = _registry.names("multiclass")
ELEMENTWISE = _registry.names("ufunc", "elementwise")


def _data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=N) * 4
    t = rng.random(N)
    p = rng.uniform(0.01, 0.99, N)
    z = rng.normal(size=(N, C)) * 2
    cls = rng.integers(0, C, N)
    prob = rng.random((N, C))
    prob /= prob.sum(axis=1, keepdims=True)
    return x, t, p, z, cls, prob


def _first(name, x, p):
    return p if name in ("binary_cross_entropy", "binary_cross_entropy_grad") else x


def _tuple(r):
    return r if isinstance(r, tuple) else (r,)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_series(name, reduction):
    x, t, p, *_ = _data()
    a = _first(name, x, p)
    f = getattr(fl, name)
    want = _tuple(f(a, t, reduction=reduction))
    got = _tuple(f(pl.Series("a", a), pl.Series("t", t), reduction=reduction))
    for o, g, w in zip(_registry.by_name(name).outputs, got, want):
        if o == "loss" and reduction != "none":
            assert isinstance(g, np.generic) and g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)
        else:
            assert isinstance(g, pl.Series) and g.name == "a" and g.dtype == pl.Float64
            np.testing.assert_array_equal(g.to_numpy(), w)


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("name", BINARY)
def test_binary_expressions(name, reduction):
    x, t, p, *_ = _data()
    a = _first(name, x, p)
    df = pl.DataFrame({"a": a, "t": t})
    f = getattr(fl, name)
    want = _tuple(f(a, t, reduction=reduction))
    exprs = _tuple(f(pl.col("a"), pl.col("t"), reduction=reduction))
    assert all(isinstance(e, pl.Expr) for e in exprs)
    out = df.select(*(e.alias(f"r{i}") for i, e in enumerate(exprs)))
    for i, w in enumerate(want):
        col = out[f"r{i}"].to_numpy()
        if np.ndim(w) == 0:
            assert df.select(exprs[i]).height == 1        # a scalar expression
            np.testing.assert_array_equal(col, np.full(out.height, w))   # broadcast
        else:
            np.testing.assert_array_equal(col, w)


def test_binary_float32_and_nulls():
    x, t, *_ = _data()
    xs = pl.Series("x", x.astype(np.float32)).scatter([0, 5], None)
    ts = pl.Series("t", t.astype(np.float32))
    got = fl.binary_cross_entropy_with_logits(xs, ts, reduction="none")
    assert got.dtype == pl.Float32 and got.null_count() == 2
    assert got[0] is None and got[5] is None
    keep = np.ones(N, bool)
    keep[[0, 5]] = False
    want = fl.binary_cross_entropy_with_logits(x.astype(np.float32), t.astype(np.float32),
                                               reduction="none")
    np.testing.assert_array_equal(got.to_numpy()[keep], want[keep])
    # a reduction over a missing value is NaN, as float arithmetic gives
    assert np.isnan(fl.binary_cross_entropy_with_logits(xs, ts))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax(name):
    _, _, _, z, _, _ = _data()
    f = getattr(fl, name)
    frame = pl.DataFrame(z, schema=["a", "b", "c"], orient="row")
    got = f(frame, axis=1)
    assert isinstance(got, pl.DataFrame) and got.columns == ["a", "b", "c"]
    np.testing.assert_array_equal(got.to_numpy(), f(z, axis=1))
    col = pl.Series("a", z[:, 0])
    np.testing.assert_array_equal(f(col).to_numpy(), f(np.ascontiguousarray(z[:, 0])))
    out = frame.select(f(pl.col("a")))
    np.testing.assert_array_equal(out["a"].to_numpy(), f(np.ascontiguousarray(z[:, 0])))


@pytest.mark.parametrize("reduction", ["none", "mean"])
@pytest.mark.parametrize("name", MULTI)
def test_multiclass_frames(name, reduction):
    _, _, _, z, cls, prob = _data()
    f = getattr(fl, name)
    if name.startswith("categorical"):
        first, target = prob, prob
        tpl = pl.DataFrame(prob, schema=["a", "b", "c"], orient="row")
    else:
        first, target = z, cls
        tpl = pl.Series("y", cls)
    frame = pl.DataFrame(first, schema=["a", "b", "c"], orient="row")
    want = _tuple(f(first, target, reduction=reduction))
    got = _tuple(f(frame, tpl, reduction=reduction))
    for g, w in zip(got, want):
        if np.ndim(w) == 0:
            np.testing.assert_array_equal(g, w)
        elif np.ndim(w) == 1:                       # a per-row loss
            assert isinstance(g, pl.Series)
            np.testing.assert_array_equal(g.to_numpy(), w)
        else:
            assert isinstance(g, pl.DataFrame) and g.columns == ["a", "b", "c"]
            np.testing.assert_array_equal(g.to_numpy(), w)


def test_log_loss():
    _, _, _, _, cls, prob = _data()
    frame = pl.DataFrame(prob, schema=["a", "b", "c"], orient="row")
    got = fl.log_loss(pl.Series("y", cls), frame)
    assert got == fl.log_loss(cls, prob)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_keep_nulls(name):
    x, _, p, *_ = _data()
    a = p if name == "logit" else x
    f = getattr(fl, name)
    s = pl.Series("v", a).scatter([3], None)
    got = f(s)
    assert isinstance(got, pl.Series) and got[3] is None
    keep = np.arange(N) != 3
    np.testing.assert_array_equal(got.to_numpy()[keep], f(a)[keep])
    out = pl.DataFrame({"v": a}).select(f(pl.col("v")))
    np.testing.assert_array_equal(out["v"].to_numpy(), f(a))


def test_errors():
    x, t, _, z, cls, _ = _data()
    with pytest.raises(TypeError, match="cross_entropy: target has missing values"):
        fl.cross_entropy(pl.DataFrame(z, orient="row"), pl.Series(cls).scatter([0], None))
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: .*LazyFrame"):
        fl.binary_cross_entropy_with_logits(pl.DataFrame({"x": x}).lazy(), t)
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: .*expression"):
        fl.binary_cross_entropy_with_logits(pl.col("x"), pl.Series(t))
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits"):
        fl.binary_cross_entropy_with_logits(pl.Series(x), pl.Series(t[:-1]))


def test_polars_not_imported():
    code = ("import sys, numpy as np, fastlogistic as fl; "
            "fl.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(3)); "
            "fl.softmax(np.zeros((2, 2)), axis=1); "
            "assert 'polars' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
