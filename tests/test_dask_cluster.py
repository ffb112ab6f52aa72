"""Every public array function computed on a real Dask cluster of worker
processes (a LocalCluster on 127.0.0.1), on dask arrays and on dask
DataFrames/Series, against the in-memory NumPy/pandas result; and patching
the workers (``client.run(fastlogistic.patch)``, a worker plugin)."""
import os
import sys

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")          # dask.dataframe needs it
dd = pytest.importorskip("dask.dataframe")

import fastlogistic as fl  # noqa: E402
from fastlogistic import _registry  # noqa: E402

SRC = os.path.dirname(os.path.dirname(os.path.abspath(fl.__file__)))
ARRAY_FUNCTIONS = [p.name for p in _registry.PUBLIC if p.containers]
N, C = 301, 4


@pytest.fixture(scope="module")
def client():
    """2 worker processes, 1 thread each, on the loopback interface, no
    dashboard; closed after the module."""
    from distributed import Client, LocalCluster
    env = {"PYTHONPATH": os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p)}
    saved = dict(os.environ)     # the nanny writes its pre-spawn environment into ours
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=None, env=env,
                          silence_logs=40) as cluster, Client(cluster) as c:
            yield c
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=N) * 4
    t = rng.random(N)
    p = rng.uniform(0.01, 0.99, N)
    z = rng.normal(size=(N, C)) * 3
    cls = rng.integers(0, C, N)
    prob = rng.random((N, C))
    prob /= prob.sum(axis=1, keepdims=True)
    return dict(x=x, t=t, p=p, z=z, cls=cls, prob=prob)


def _args(name, d):
    """(positional arguments, keywords) of one call of `name` on the data d
    (NumPy arrays), for each kind of public function."""
    rec = _registry.by_name(name)
    if rec.kind in ("ufunc", "elementwise"):
        return ((d["p"],) if name == "logit" else (d["x"],)), {}
    if rec.kind == "binary":
        return ((d["p"] if name.startswith("binary_cross_entropy_grad") or
                 name == "binary_cross_entropy" else d["x"]), d["t"]), {}
    if rec.kind == "softmax":
        return (d["z"],), {"axis": 1}
    if rec.kind == "multiclass":
        target = d["prob"] if name.startswith("categorical") else d["cls"]
        first = d["prob"] if name.startswith("categorical") else d["z"]
        return (first, target), {}
    if rec.kind == "log_loss":
        return (d["cls"], d["prob"]), {}
    raise AssertionError(f"no test data for the kind {rec.kind!r} of {name}")


def _reductions(name):
    rec = _registry.by_name(name)
    if "loss" in rec.outputs and rec.kind != "log_loss" or (
            rec.kind in ("binary", "multiclass")):
        return ["none", "sum", "mean"]
    return [None]


CASES = [(n, r) for n in ARRAY_FUNCTIONS for r in _reductions(n)]


def _tuple(r):
    return r if isinstance(r, tuple) else (r,)


def _compare(got, want, exact):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, want.shape,
                                                                 got.dtype, want.dtype)
    if exact:
        np.testing.assert_array_equal(got, want)   # the same kernels, element by element
    else:
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_every_array_function_is_covered():
    assert set(ARRAY_FUNCTIONS) >= {"sigmoid", "log_sigmoid", "softplus", "sigmoid_grad",
                                    "expit", "log_expit", "logit", "softmax", "log_loss",
                                    "cross_entropy_loss_and_grad"}


@pytest.mark.parametrize("name,reduction", CASES)
def test_dask_array_on_cluster(client, name, reduction):
    d = _data()
    args, kw = _args(name, d)
    if reduction is not None:
        kw["reduction"] = reduction
    f = getattr(fl, name)
    want = _tuple(f(*args, **kw))
    lazy = tuple(da.from_array(a, chunks=(100,) + a.shape[1:]) if a.dtype != object else a
                 for a in args)
    res = _tuple(f(*lazy, **kw))
    assert all(isinstance(r, da.Array) for r in res)
    got = client.compute(list(res), sync=True)
    for g, w in zip(got, want):
        # element by element: the same kernels, the same bits (a "mean"
        # gradient is scaled per block; a reduction adds partials per block)
        _compare(g, w, np.ndim(w) > 0 and reduction in (None, "none", "sum"))


def _frames(args, npartitions=3):
    out = []
    for a in args:
        obj = (pd.DataFrame(a, columns=[f"c{j}" for j in range(a.shape[1])]) if a.ndim == 2
               else pd.Series(a, name="v"))
        obj.index = pd.RangeIndex(1000, 1000 + N)        # an index of its own, kept
        out.append((obj, dd.from_pandas(obj, npartitions=npartitions)))
    return out


@pytest.mark.parametrize("name,reduction", CASES)
def test_dask_dataframe_on_cluster(client, name, reduction):
    d = _data(1)
    args, kw = _args(name, d)
    if reduction is not None:
        kw["reduction"] = reduction
    f = getattr(fl, name)
    pairs = _frames(args)
    want = _tuple(f(*(p for p, _ in pairs), **kw))
    res = _tuple(f(*(q for _, q in pairs), **kw))
    got = client.compute(list(res), sync=True)
    for r, g, w in zip(res, got, want):
        if isinstance(w, (pd.Series, pd.DataFrame)):
            assert type(r).__module__.startswith("dask") and r.npartitions == 3
            assert type(g) is type(w)
            pd.testing.assert_index_equal(g.index, w.index)
            _compare(g.to_numpy(), w.to_numpy(), reduction in (None, "none", "sum"))
        else:
            assert type(r).__name__ == "Scalar"    # lazy, as a dask DataFrame reduction
            _compare(g, w, False)


def test_dask_dataframe_sum_same_bits_on_any_workers(client):
    """A reduction over partitions: the same bits on the cluster and on the
    local threaded scheduler (partials added in partition order)."""
    d = _data(2)
    (xs, xd), (ts, td) = _frames([d["x"], d["t"]], npartitions=7)
    lazy = fl.binary_cross_entropy_with_logits_loss_and_grad(xd, td, reduction="mean")
    on_cluster = client.compute(list(lazy), sync=True)
    local = dask.compute(*lazy, scheduler="threads")
    assert np.asarray(on_cluster[0]).tobytes() == np.asarray(local[0]).tobytes()
    np.testing.assert_array_equal(on_cluster[1].to_numpy(), local[1].to_numpy())


def test_dask_dataframe_errors(client):
    d = _data(3)
    (_, xd), (_, td) = _frames([d["x"], d["t"]], npartitions=3)
    (_, t4) = _frames([d["t"]], npartitions=4)[0]
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: .*partitions"):
        fl.binary_cross_entropy_with_logits(xd, t4)
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits: .*target"):
        fl.binary_cross_entropy_with_logits(xd, d["t"])
    with pytest.raises(TypeError, match="dask array"):
        fl.binary_cross_entropy_with_logits(xd, da.from_array(d["t"], chunks=100))
    (_, zd), = _frames([d["z"]])
    with pytest.raises(ValueError, match="softmax: .*axis"):
        fl.softmax(zd)                    # axis=None spans the partitions
    with pytest.raises(ValueError, match="softmax: .*axis"):
        fl.softmax(xd, axis=0)
    with pytest.raises(ValueError, match="out="):
        fl.softmax(zd, axis=1, out=np.empty((N, C)))


def test_patch_workers_with_client_run(client):
    """fl.patch() patches the process it runs in: client.run(fl.patch) patches
    every worker, and SciPy's expit computed there runs our kernels."""
    scipy_special = pytest.importorskip("scipy.special")
    try:
        states = client.run(fl.patch, sklearn=False)
        assert len(states) == 2 and all(s["scipy"] for s in states.values())
        assert not fl.is_patched()["scipy"]          # the client process is left alone
        x = np.linspace(-30, 30, 1001)
        got = da.from_array(x, chunks=250).map_blocks(scipy_special.expit).compute()
        np.testing.assert_array_equal(got, fl.sigmoid(x))
        assert all(s["scipy"] for s in client.run(fl.is_patched).values())
    finally:
        client.run(fl.unpatch)
    assert not any(s["scipy"] for s in client.run(fl.is_patched).values())


class PatchFastlogistic(distributed.WorkerPlugin):
    """The worker-plugin recipe of the documentation: every worker, also those
    that join later, patched at start and unpatched at close."""

    def setup(self, worker):
        import fastlogistic
        fastlogistic.patch(sklearn=False)

    def teardown(self, worker):
        import fastlogistic
        fastlogistic.unpatch()


def test_patch_workers_with_a_plugin(client):
    import cloudpickle
    # the plugin's class travels by value: tests/ is not on the workers' path
    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        client.register_plugin(PatchFastlogistic(), name="fastlogistic-patch")
        assert all(s["scipy"] for s in client.run(fl.is_patched).values())
        client.unregister_worker_plugin("fastlogistic-patch")
        assert not any(s["scipy"] for s in client.run(fl.is_patched).values())
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
        client.run(fl.unpatch)


def _boom():
    raise AssertionError("computed while building the graph")


@pytest.mark.parametrize("name", [p.name for p in _registry.PUBLIC
                                  if p.containers in ("wrap", "positional")])
def test_dask_dataframe_nothing_computed_before_compute(name):
    d = _data(4)
    args, kw = _args(name, d)
    lazy = []
    for a in args:
        meta = (pd.DataFrame({f"c{j}": pd.Series(dtype=a.dtype) for j in range(a.shape[1])})
                if a.ndim == 2 else pd.Series(dtype=a.dtype, name="v"))
        lazy.append(dd.from_delayed([dask.delayed(_boom)()] * 2, meta=meta, verify_meta=False))
    res = _tuple(getattr(fl, name)(*lazy, **kw))       # builds, computes nothing
    with pytest.raises(AssertionError, match="computed while building"):
        dask.compute(*res, scheduler="sync")


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_dask_dataframe_dtypes(dtype):
    d = _data(5)
    (xs, xd), (ts, td) = _frames([d["x"].astype(dtype), d["t"].astype(dtype)], npartitions=4)
    for reduction in ("none", "sum", "mean"):
        want = fl.binary_cross_entropy_with_logits_loss_and_grad(xs, ts, reduction=reduction)
        got = dask.compute(*fl.binary_cross_entropy_with_logits_loss_and_grad(
            xd, td, reduction=reduction), scheduler="sync")
        for g, w in zip(got, want):
            g, w = np.asarray(g), np.asarray(w)
            assert g.dtype == w.dtype == dtype
            np.testing.assert_allclose(g.astype(np.float64), w.astype(np.float64),
                                       rtol=1e-3 if dtype == np.float16 else 1e-6)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_dask_dataframe_options(reduction):
    """DataFrames with per-column pos_weight, row weights as a dask Series,
    class weights with ignore_index and label smoothing, string labels and
    sample weights in log_loss: the pandas results."""
    rng = np.random.default_rng(11)
    X = pd.DataFrame(rng.normal(size=(60, 3)) * 3, columns=list("abc"))
    T = pd.DataFrame(rng.random((60, 3)), columns=list("abc"))
    w, sw = pd.Series(rng.random(60)), pd.Series(rng.random(60))
    c = pd.Series(rng.integers(-1, 3, 60))
    y = pd.Series(np.array(["cat", "dog", "eel"])[rng.integers(0, 3, 60)])
    P = fl.softmax(X, axis=1)
    pw, cw = rng.random(3) + 0.5, np.array([0.5, 2.0, 1.0])
    lazy = {k: dd.from_pandas(v, npartitions=5) for k, v in
            dict(X=X, T=T, w=w, sw=sw, c=c, y=y, P=P).items()}
    calls = [
        (fl.binary_cross_entropy_with_logits_grad_hess, ("X", "T"), dict(pos_weight=pw)),
        (fl.binary_cross_entropy_with_logits, ("X", "T"), {}),
        (fl.binary_cross_entropy_with_logits_loss_and_grad, ("X", "T"), {}),
        (fl.cross_entropy_loss_and_grad, ("X", "c"),
         dict(weight=cw, ignore_index=-1, label_smoothing=0.1)),
    ]
    mem = dict(X=X, T=T, w=w, sw=sw, c=c, y=y, P=P)
    for f, keys, kw in calls:
        want = _tuple(f(*(mem[k] for k in keys), reduction=reduction, **kw))
        got = dask.compute(*_tuple(f(*(lazy[k] for k in keys), reduction=reduction, **kw)),
                           scheduler="sync")
        for g, wnt in zip(got, want):
            _compare(np.asarray(g), np.asarray(wnt), np.ndim(wnt) > 0 and reduction != "mean")
    got = fl.binary_cross_entropy_with_logits(lazy["X"].a, lazy["T"].a, weight=lazy["w"],
                                              reduction=reduction)
    _compare(np.asarray(got.compute(scheduler="sync")),
             np.asarray(fl.binary_cross_entropy_with_logits(X.a, T.a, weight=w,
                                                            reduction=reduction)),
             reduction == "none")
    if reduction == "none":
        return
    labels = ["cat", "dog", "eel"]
    for kw in (dict(sample_weight="sw"), dict(normalize=False, labels=labels)):
        mk = {k: (mem[v] if k == "sample_weight" else v) for k, v in kw.items()}
        lk = {k: (lazy[v] if k == "sample_weight" else v) for k, v in kw.items()}
        _compare(fl.log_loss(lazy["y"], lazy["P"], **lk).compute(scheduler="sync"),
                 fl.log_loss(y, P, **mk), False)
