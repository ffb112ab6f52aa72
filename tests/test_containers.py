"""pandas and xarray containers for the losses and the multi-class functions:
values equal the NumPy call, metadata kept, reductions
NumPy scalars, misaligned labels and missing values refused clearly, and
``import fastlogistic`` imports none of pandas/xarray/dask."""
import subprocess
import sys

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _registry
from fastlogistic._integrations import containers as _containers

pd = pytest.importorskip("pandas")

BINARY = list(_registry.names("binary"))
MC_LOSSES = list(_registry.names("multiclass"))
ON_PROBA = {"binary_cross_entropy", "binary_cross_entropy_grad",
            "categorical_cross_entropy", "categorical_cross_entropy_grad"}


def _as_tuple(r):
    return r if isinstance(r, tuple) else (r,)


def _binary_data(n=7, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 3
    p = 1 / (1 + np.exp(-x))
    t = (rng.random(n) < 0.5).astype(np.float64)
    w = rng.random(n) + 0.5
    return x, p, t, w


def _mc_data(n=6, k=4, seed=1):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, k)) * 2
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    t = rng.integers(0, k, n)
    return z, p, t


# ---------------------------------------------------------------------------
# container_kind and the plain path
# ---------------------------------------------------------------------------

def test_container_kind():
    xr = pytest.importorskip("xarray")
    assert _containers.container_kind(pd.Series([1.0])) == "pandas"
    assert _containers.container_kind(pd.DataFrame({"a": [1.0]})) == "pandas"
    assert _containers.container_kind(xr.DataArray([1.0])) == "xarray"
    for obj in (np.ones(2), 1.0, [1.0], None, np.float32(1), "a"):
        assert _containers.container_kind(obj) is None


def test_wrapped_functions_keep_name_doc_signature():
    import inspect
    from fastlogistic import _api, _multiclass
    for name in BINARY + MC_LOSSES + ["softmax", "log_softmax"]:
        f = getattr(fl, name)
        orig = getattr(_api, name, None) or getattr(_multiclass, name)
        assert f is not orig and f.__wrapped__ is orig
        assert f.__name__ == name and f.__doc__ == orig.__doc__
        assert inspect.signature(f) == inspect.signature(orig)


def test_numpy_path_unchanged():
    x, p, t, w = _binary_data()
    assert fl.binary_cross_entropy_with_logits(x, t, reduction="none").__class__ is np.ndarray
    r = fl.binary_cross_entropy_with_logits(x, target=t, weight=w)
    assert r == fl.binary_cross_entropy_with_logits.__wrapped__(x, t, w)


# ---------------------------------------------------------------------------
# pandas
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_pandas_series_binary(name, reduction):
    x, p, t, w = _binary_data()
    a = p if name in ON_PROBA else x
    idx = pd.Index([f"r{i}" for i in range(a.size)], name="row")
    s = pd.Series(a, index=idx, name="score")
    ts = pd.Series(t, index=idx)
    ws = pd.Series(w, index=idx)
    f = getattr(fl, name)
    got = _as_tuple(f(s, ts, ws, reduction=reduction))
    want = _as_tuple(f(a, t, w, reduction=reduction))
    assert len(got) == len(want)
    for g, e in zip(got, want):
        if np.ndim(e) == 0:
            assert isinstance(g, np.floating) and not isinstance(g, pd.Series)
            assert g == e
        else:
            assert isinstance(g, pd.Series)
            assert g.index.equals(idx) and g.name == "score"
            np.testing.assert_array_equal(g.to_numpy(), e)


@pytest.mark.parametrize("name", BINARY)
def test_pandas_dataframe_binary(name):
    x, p, t, w = _binary_data(12)
    a = (p if name in ON_PROBA else x).reshape(4, 3)
    df = pd.DataFrame(a, index=list("abcd"), columns=["u", "v", "w"])
    tf = pd.DataFrame(t.reshape(4, 3), index=df.index, columns=df.columns)
    f = getattr(fl, name)
    got = _as_tuple(f(df, tf, reduction="none"))
    want = _as_tuple(f(a, t.reshape(4, 3), reduction="none"))
    for g, e in zip(got, want):
        assert isinstance(g, pd.DataFrame)
        assert g.index.equals(df.index) and g.columns.equals(df.columns)
        np.testing.assert_array_equal(g.to_numpy(), e)
    # a per-column weight Series lines up with the columns, as in pandas
    cw = pd.Series([1.0, 2.0, 0.5], index=df.columns)
    got = _as_tuple(f(df, tf, cw, reduction="none"))
    want = _as_tuple(f(a, t.reshape(4, 3), cw.to_numpy(), reduction="none"))
    for g, e in zip(got, want):
        np.testing.assert_array_equal(g.to_numpy(), e)
    with pytest.raises(ValueError, match=name):
        f(df, tf, pd.Series([1.0, 2.0, 0.5], index=["u", "v", "zz"]), reduction="none")


@pytest.mark.parametrize("name", MC_LOSSES)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("target_kind", ["index", "proba"])
def test_pandas_dataframe_multiclass(name, reduction, target_kind):
    z, p, t = _mc_data()
    a = p if name in ON_PROBA else z
    idx = pd.RangeIndex(10, 10 + a.shape[0], name="sample")
    cols = pd.Index(["c0", "c1", "c2", "c3"], name="cls")
    df = pd.DataFrame(a, index=idx, columns=cols)
    if target_kind == "index":
        tt, tn = pd.Series(t, index=idx), t
    else:
        tn = np.eye(4)[t] * 0.9 + 0.025
        tt = pd.DataFrame(tn, index=idx, columns=cols)
    f = getattr(fl, name)
    got = _as_tuple(f(df, tt, reduction=reduction))
    want = _as_tuple(f(a, tn, reduction=reduction))
    for g, e in zip(got, want):
        if np.ndim(e) == 0:
            assert not isinstance(g, (pd.Series, pd.DataFrame)) and g == e
        elif np.ndim(e) == 1:          # per-row loss: the class columns dropped
            assert isinstance(g, pd.Series) and g.index.equals(idx)
            np.testing.assert_array_equal(g.to_numpy(), e)
        else:
            assert isinstance(g, pd.DataFrame)
            assert g.index.equals(idx) and g.columns.equals(cols)
            np.testing.assert_array_equal(g.to_numpy(), e)


def test_pandas_multiclass_class_axis_0_and_class_weights():
    z, _, t = _mc_data()
    df = pd.DataFrame(z.T, index=list("wxyz"), columns=[f"s{i}" for i in range(z.shape[0])])
    ts = pd.Series(t, index=df.columns)
    cw = pd.Series([1.0, 2.0, 3.0, 0.5], index=df.index)
    got = fl.cross_entropy(df, ts, axis=0, weight=cw, reduction="none")
    want = fl.cross_entropy(z.T, t, axis=0, weight=cw.to_numpy(), reduction="none")
    assert isinstance(got, pd.Series) and got.index.equals(df.columns)
    np.testing.assert_array_equal(got.to_numpy(), want)
    with pytest.raises(ValueError, match="cross_entropy"):
        fl.cross_entropy(df, ts, axis=0, weight=cw.set_axis(list("abcd")), reduction="none")


@pytest.mark.parametrize("fname", ["softmax", "log_softmax"])
def test_pandas_softmax(fname):
    z, _, _ = _mc_data()
    df = pd.DataFrame(z, index=list("abcdef"), columns=list("pqrs"))
    f = getattr(fl, fname)
    for kw in ({"axis": -1}, {"axis": 0}, {"axis": 1}):
        got = f(df, **kw)
        assert isinstance(got, pd.DataFrame)
        assert got.index.equals(df.index) and got.columns.equals(df.columns)
        np.testing.assert_array_equal(got.to_numpy(), f(z, **kw))
    s = pd.Series(z[0], index=list("pqrs"), name="logits")
    got = f(s, axis=0)
    assert isinstance(got, pd.Series) and got.name == "logits" and got.index.equals(s.index)
    np.testing.assert_array_equal(got.to_numpy(), f(z[0], axis=0))


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits",
                                  "binary_cross_entropy_with_logits_grad_hess"])
def test_pandas_misaligned_index_raises(name):
    x, _, t, _ = _binary_data()
    s = pd.Series(x, index=range(x.size))
    f = getattr(fl, name)
    with pytest.raises(ValueError, match=f"{name}: the index/columns of target"):
        f(s, pd.Series(t, index=range(1, x.size + 1)))
    # same labels in another order: not aligned silently either
    with pytest.raises(ValueError, match="do not match"):
        f(s, pd.Series(t, index=range(x.size)[::-1]))
    # by position, explicitly
    r = f(s, pd.Series(t, index=range(1, x.size + 1)).to_numpy(), reduction="none")
    ref = f(x, t, reduction="none")
    for g, e in zip(_as_tuple(r), _as_tuple(ref)):
        np.testing.assert_array_equal(np.asarray(g), e)


def test_pandas_multiclass_misaligned_raises():
    z, _, t = _mc_data()
    df = pd.DataFrame(z)
    with pytest.raises(ValueError, match="cross_entropy: the index/columns of target"):
        fl.cross_entropy(df, pd.Series(t, index=range(1, 1 + t.size)))


def test_pandas_nullable_float_na_is_nan():
    x, _, t, _ = _binary_data()
    s = pd.Series(x, dtype="Float64")
    s[2] = pd.NA
    got = fl.binary_cross_entropy_with_logits(s, pd.Series(t), reduction="none")
    assert isinstance(got, pd.Series)
    assert np.isnan(got.iloc[2])
    xs = x.copy()
    xs[2] = np.nan
    np.testing.assert_array_equal(got.to_numpy(), fl.binary_cross_entropy_with_logits(
        xs, t, reduction="none"))
    # without NA a nullable column is its NumPy dtype
    got = fl.binary_cross_entropy_with_logits(pd.Series(x, dtype="Float64"), t)
    assert got == fl.binary_cross_entropy_with_logits(x, t)


def test_pandas_nullable_int_na_raises():
    z, _, t = _mc_data()
    tt = pd.Series(t, dtype="Int64")
    got = fl.cross_entropy(pd.DataFrame(z), tt, reduction="none")
    np.testing.assert_array_equal(got.to_numpy(), fl.cross_entropy(z, t, reduction="none"))
    tt[1] = pd.NA
    with pytest.raises(TypeError, match="cross_entropy: target has missing values"):
        fl.cross_entropy(pd.DataFrame(z), tt)


def test_out_given_returns_the_callers_array():
    x, _, t, _ = _binary_data()
    out = np.empty_like(x)
    r = fl.binary_cross_entropy_with_logits(pd.Series(x), t, reduction="none", out=out)
    assert r is out
    np.testing.assert_array_equal(out, fl.binary_cross_entropy_with_logits(x, t, reduction="none"))


def test_inputs_not_changed():
    x, _, t, _ = _binary_data()
    s = pd.Series(x.copy())
    fl.binary_cross_entropy_with_logits_loss_and_grad(s, pd.Series(t), reduction="none")
    np.testing.assert_array_equal(s.to_numpy(), x)


# ---------------------------------------------------------------------------
# xarray
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_xarray_binary(name, reduction):
    xr = pytest.importorskip("xarray")
    x, p, t, w = _binary_data(12)
    a = (p if name in ON_PROBA else x).reshape(3, 4)
    coords = {"time": [10, 20, 30], "site": list("abcd"), "label": ("site", list("ABCD"))}
    da = xr.DataArray(a, dims=("time", "site"), coords=coords, name="score",
                      attrs={"units": "logit"})
    # target given with the dims in the other order: put in line by name
    tda = xr.DataArray(t.reshape(3, 4).T, dims=("site", "time"),
                       coords={"time": [10, 20, 30], "site": list("abcd")})
    f = getattr(fl, name)
    got = _as_tuple(f(da, tda, reduction=reduction))
    want = _as_tuple(f(a, t.reshape(3, 4), reduction=reduction))
    for g, e in zip(got, want):
        if np.ndim(e) == 0:
            assert isinstance(g, np.floating) and g == e
        else:
            assert isinstance(g, xr.DataArray)
            assert g.dims == da.dims and g.name == "score" and g.attrs == da.attrs
            assert g.coords.identical(da.coords)
            np.testing.assert_array_equal(g.values, e)


@pytest.mark.parametrize("name", MC_LOSSES + ["softmax", "log_softmax"])
def test_xarray_multiclass(name):
    xr = pytest.importorskip("xarray")
    z, p, t = _mc_data()
    a = p if name in ON_PROBA else z
    da = xr.DataArray(a, dims=("sample", "cls"),
                      coords={"sample": np.arange(6) * 2, "cls": list("wxyz")},
                      name="z", attrs={"note": "x"})
    f = getattr(fl, name)
    if name in ("softmax", "log_softmax"):
        g = f(da, axis=-1)
        assert isinstance(g, xr.DataArray) and g.coords.identical(da.coords)
        np.testing.assert_array_equal(g.values, f(a, axis=-1))
        return
    tda = xr.DataArray(t, dims=("sample",), coords={"sample": np.arange(6) * 2})
    got = _as_tuple(f(da, tda, reduction="none"))
    want = _as_tuple(f(a, t, reduction="none"))
    for g, e in zip(got, want):
        assert isinstance(g, xr.DataArray)
        if np.ndim(e) == 1:
            assert g.dims == ("sample",) and "cls" not in g.coords
            assert g["sample"].equals(da["sample"]) and g.name == "z"
        else:
            assert g.dims == da.dims and g.coords.identical(da.coords)
        np.testing.assert_array_equal(g.values, e)
    r = f(da, tda, reduction="mean")
    for g, e in zip(_as_tuple(r), _as_tuple(f(a, t, reduction="mean"))):
        # the reduced loss a NumPy scalar, the gradient in the container
        assert isinstance(g, xr.DataArray) == (np.ndim(e) > 0)
        np.testing.assert_array_equal(np.asarray(g), e)


def test_xarray_misaligned_raises():
    xr = pytest.importorskip("xarray")
    x, _, t, _ = _binary_data()
    da = xr.DataArray(x, dims=("n",), coords={"n": np.arange(x.size)})
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: the coordinates"):
        fl.binary_cross_entropy_with_logits(
            da, xr.DataArray(t, dims=("n",), coords={"n": np.arange(x.size) + 1}))
    with pytest.raises(ValueError, match="has dims"):
        fl.binary_cross_entropy_with_logits(da, xr.DataArray(t, dims=("m",)))


# ---------------------------------------------------------------------------
# nothing imported, nothing slower
# ---------------------------------------------------------------------------

def test_import_does_not_import_containers():
    code = ("import sys, fastlogistic as fl, numpy as np; "
            "fl.binary_cross_entropy_with_logits(np.ones(3), np.ones(3)); "
            "fl.cross_entropy(np.ones((2, 3)), np.array([0, 1])); "
            "fl.log_loss([0, 1], [0.2, 0.7]); "
            "bad = [m for m in ('pandas', 'xarray', 'dask', 'sklearn') if m in sys.modules]; "
            "print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_xarray_over_dask_stays_lazy():
    xr = pytest.importorskip("xarray")
    dask_array = pytest.importorskip("dask.array")
    pytest.importorskip("fastlogistic._integrations.dask")
    x, _, t, _ = _binary_data(40)
    da = xr.DataArray(dask_array.from_array(x, chunks=10), dims=("n",),
                      coords={"n": np.arange(40)}, name="logit")
    ta = xr.DataArray(dask_array.from_array(t, chunks=10), dims=("n",))
    r = fl.binary_cross_entropy_with_logits_grad(da, ta, reduction="none")
    assert isinstance(r, xr.DataArray) and r.name == "logit"
    assert _containers.container_kind(r.data) == "dask"          # nothing computed
    assert r.data.chunks == ((10, 10, 10, 10),)
    np.testing.assert_allclose(r.values, fl.binary_cross_entropy_with_logits_grad(
        x, t, reduction="none"), rtol=0, atol=0)
