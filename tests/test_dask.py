"""fastlogistic on dask arrays: lazy graphs, the in-memory numbers,
bitwise the same results on any number of workers for a given chunking, the
class axis split across chunks, a real dask.distributed cluster of worker
processes on the loopback interface."""
import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

import fastlogistic as fl  # noqa: E402
from fastlogistic import _registry  # noqa: E402
from fastlogistic._integrations import dask as _dask  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.dirname(os.path.dirname(os.path.abspath(fl.__file__)))

BINARY = list(_registry.names("binary"))
MULTI = list(_registry.names("multiclass"))


@pytest.fixture(scope="module")
def client():
    """A real cluster: 2 worker processes, 1 thread each, on 127.0.0.1 (the
    dashboard on a free port: None would take 8787, maybe taken)."""
    from distributed import Client, LocalCluster
    env = {"PYTHONPATH": os.pathsep.join(
        p for p in (SRC, os.environ.get("PYTHONPATH")) if p)}
    saved = dict(os.environ)     # the nanny writes its pre-spawn-environ into ours
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          host="127.0.0.1", dashboard_address=":0", env=env,
                          silence_logs=40) as cluster, Client(cluster) as c:
            yield c
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _tuple(r):
    return r if isinstance(r, tuple) else (r,)


def _bits(results):
    return [np.asarray(r).tobytes() + str(np.asarray(r).dtype).encode() for r in results]


def _binary_data(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(301, 9)) * 3).astype(dtype)
    t = rng.random((301, 9)).astype(dtype)
    p = rng.random((301, 9)).astype(dtype)
    w = rng.random(9).astype(dtype)
    pw = (rng.random(9) + 0.5).astype(dtype)
    return x, t, p, w, pw


def _binary_args(name, x, t, p, w, pw, chunks):
    if name.startswith("binary_cross_entropy_with_logits"):
        return ((da.from_array(x, chunks=chunks), da.from_array(t, chunks=(120, 9)), w, pw),
                (x, t, w, pw))
    return (da.from_array(p, chunks=chunks), t, w), (p, t, w)


def _close(got, want, reduction, dtype):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    if reduction == "none":
        np.testing.assert_array_equal(got, want)         # blockwise: the same bits
    else:
        # sums: another order of the same partials; "mean" gradients scaled after
        rtol = 8 * np.finfo(dtype).eps
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * np.max(np.abs(want)))


# ---------------------------------------------------------------------------
# values against the in-memory functions (threaded scheduler)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_matches_memory(name, reduction, dtype):
    x, t, p, w, pw = _binary_data(dtype)
    dargs, args = _binary_args(name, x, t, p, w, pw, chunks=(100, 4))
    f = getattr(fl, name)
    lazy = _tuple(f(*dargs, reduction=reduction))
    assert all(isinstance(r, da.Array) for r in lazy)
    got = dask.compute(*lazy, scheduler="threads")
    want = _tuple(f(*args, reduction=reduction))
    for g, e in zip(got, want):
        _close(g, e, reduction if np.ndim(e) else "sum", dtype)
        if np.ndim(e) and (reduction == "none" or "grad" in name and reduction == "sum"):
            assert np.asarray(g).tobytes() == np.asarray(e).tobytes()
    for r, e in zip(lazy, want):
        assert r.dtype == np.asarray(e).dtype and r.shape == np.shape(e)
    if reduction == "none":       # the input's chunks, refined where a target's differ
        assert lazy[0].chunks[1] == (4, 4, 1)
        bounds = set(np.cumsum(lazy[0].chunks[0]))
        assert {100, 200, 300, 301} <= bounds


def test_float16_sum_does_not_overflow_per_block():
    """A float16 "sum" of 40000 losses exceeds float16 in one 20000-element
    block; the partials are float64 as in memory, so the mean stays finite."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=40000).astype(np.float16)
    t = (rng.random(40000) < 0.5).astype(np.float16)
    got = fl.binary_cross_entropy_with_logits(da.from_array(x, chunks=20000), t).compute()
    want = fl.binary_cross_entropy_with_logits(x, t)
    assert got.dtype == np.float16 and np.isfinite(got)
    np.testing.assert_allclose(float(got), float(want), rtol=1e-3)
    lg = fl.binary_cross_entropy_with_logits_loss_and_grad(da.from_array(x, chunks=20000), t)
    g = dask.compute(*lg)
    np.testing.assert_allclose(g[1].astype(float), fl.binary_cross_entropy_with_logits_grad(
        x, t).astype(float), rtol=2e-3, atol=1e-9)


def _mc_data(seed=0, C=11):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(203, C)) * 4
    idx = rng.integers(0, C, 203)
    idx[::9] = -100
    prob = rng.dirichlet(np.ones(C), 203)
    p = rng.dirichlet(np.ones(C), 203)
    cw = rng.random(C) + 0.1
    return z, idx, prob, p, cw


@pytest.mark.parametrize("name", MULTI)
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("target", ["index", "prob"])
@pytest.mark.parametrize("opts", [{}, {"weight": True}, {"weight": True, "smooth": 0.2},
                                  {"ignore_index": 3}])
def test_multiclass_chunked_class_axis(name, reduction, target, opts):
    """The class axis split in 3 chunks (and the targets chunked otherwise):
    rechunked to whole rows, the results are the in-memory ones."""
    z, idx, prob, p, cw = _mc_data()
    first = p if name.startswith("categorical") else z
    tgt = idx if target == "index" else prob
    kw = {"reduction": reduction}
    if opts.get("weight"):
        kw["weight"] = cw
    if "smooth" in opts:
        if name.startswith("categorical"):
            pytest.skip("label_smoothing is cross_entropy's")
        kw["label_smoothing"] = opts["smooth"]
    if "ignore_index" in opts:
        kw["ignore_index"] = opts["ignore_index"]
        idx = np.where(idx == -100, opts["ignore_index"], idx)
        tgt = idx if target == "index" else prob
    f = getattr(fl, name)
    dfirst = da.from_array(first, chunks=(64, 4))
    dtgt = da.from_array(tgt, chunks=(50,) if tgt.ndim == 1 else (50, 6))
    lazy = _tuple(f(dfirst, dtgt, **kw))
    got = dask.compute(*lazy, scheduler="threads")
    want = _tuple(f(first, tgt, **kw))
    for g, e in zip(got, want):
        _close(g, e, reduction if np.ndim(e) else "sum", np.float64)
    for r, e in zip(lazy, want):
        assert r.shape == np.shape(e)


def test_multiclass_class_axis_first_and_weight_as_dask():
    z, idx, prob, p, cw = _mc_data(2)
    zt = np.ascontiguousarray(z.T)
    dz = da.from_array(zt, chunks=(5, 70))
    loss, grad = fl.cross_entropy_loss_and_grad(dz, da.from_array(idx, chunks=70), axis=0,
                                               weight=da.from_array(cw, chunks=4))
    wl, wg = fl.cross_entropy_loss_and_grad(zt, idx, axis=0, weight=cw)
    gl, gg = dask.compute(loss, grad)
    np.testing.assert_allclose(gl, wl, rtol=1e-14)
    np.testing.assert_allclose(gg, wg, rtol=1e-13, atol=1e-17)
    assert grad.chunks[1] == dz.chunks[1]


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_chunked_axis(name):
    z = _mc_data(3)[0]
    f = getattr(fl, name)
    dz = da.from_array(z, chunks=(64, 4))
    for axis in (0, 1, -1):
        got = f(dz, axis=axis)
        assert isinstance(got, da.Array)
        np.testing.assert_array_equal(got.compute(), f(z, axis=axis))
    for axis in (None, (0, 1)):
        try:
            want = f(z, axis=axis)
        except (TypeError, ValueError):
            pytest.skip("in-memory softmax does not take axis=None/tuples yet")
        np.testing.assert_array_equal(f(dz, axis=axis).compute(), want)


def test_rechunk_keeps_blocks_bounded():
    """Whole rows along the class axis; the other axis is rechunked only when
    a block would exceed dask's array.chunk-size."""
    z = da.zeros((4000, 100), chunks=(1000, 10))
    assert _dask._whole_axes(z, (1,)).chunks == ((1000,) * 4, (100,))
    with dask.config.set({"array.chunk-size": "100kB"}):
        r = _dask._whole_axes(z, (1,))
        assert r.chunks[1] == (100,) and max(r.chunks[0]) * 100 * 8 <= 100_000


@pytest.mark.parametrize("kind", ["strings", "binary", "labels", "weights"])
def test_log_loss_matches_sklearn(kind):
    """Global labels (the unique values of all of y_true, found lazily) in
    every block, also where a block holds a single label."""
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(4)
    n = 900
    if kind == "binary":
        y = np.sort(rng.integers(0, 2, n))           # early blocks hold only 0
        p = rng.random(n)
        kw, chunks = {}, 100
    else:
        y = rng.choice(np.array(["ham", "spam", "eggs"]), n)
        p = rng.dirichlet(np.ones(3), n)
        kw, chunks = {}, (200, 2)
        if kind == "labels":
            p = rng.dirichlet(np.ones(4), n)
            kw = {"labels": ["eggs", "ham", "spam", "toast"]}
            chunks = (200, 3)
        if kind == "weights":
            kw = {"sample_weight": da.from_array(rng.random(n), chunks=150)}
    r = fl.log_loss(da.from_array(y, chunks=128), da.from_array(p, chunks=chunks), **kw)
    assert isinstance(r, da.Array) and r.shape == ()
    mem_kw = {k: (v.compute() if isinstance(v, da.Array) else v) for k, v in kw.items()}
    want = metrics.log_loss(y, p, **mem_kw)
    np.testing.assert_allclose(r.compute(scheduler="threads"), want, rtol=1e-13)
    r2 = fl.log_loss(da.from_array(y, chunks=128), da.from_array(p, chunks=chunks),
                     normalize=False, **kw)
    np.testing.assert_allclose(r2.compute(), metrics.log_loss(y, p, normalize=False,
                                                              **mem_kw), rtol=1e-13)


def test_log_loss_lazy():
    y = da.zeros(40, chunks=10, dtype=np.int64).map_blocks(_boom, dtype=np.int64)
    p = da.zeros(40, chunks=10).map_blocks(_boom, dtype=np.float64)
    r = fl.log_loss(y, p)
    assert isinstance(r, da.Array)
    with pytest.raises(AssertionError, match="a block was computed"):
        r.compute(scheduler="sync")


# ---------------------------------------------------------------------------
# exact sums: independent of the chunking (dask config fastlogistic.exact-sum)
# ---------------------------------------------------------------------------

def test_exact_accumulator():
    import math
    rng = np.random.default_rng(11)
    v = rng.normal(size=30000) * 10.0 ** rng.integers(-300, 300, 30000)
    v[:5] = [5e-324, -5e-324, 1e308, -1e308, 2.0 ** -1074]
    parts = [_dask.Exact.of(v[i:i + 7001]) for i in range(0, v.size, 7001)]
    tree = (parts[0] + parts[1]) + (parts[2] + (parts[3] + parts[4]))
    assert float(tree) == math.fsum(v) == float(_dask.Exact.of(v))
    assert float(_dask.Exact.of([1.0, np.inf])) == np.inf
    assert np.isnan(float(_dask.Exact.of([1.0, np.inf]) + _dask.Exact.of([-np.inf])))
    assert float(pickle.loads(pickle.dumps(tree))) == float(tree)


@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits",
                                  "binary_cross_entropy_with_logits_loss_and_grad",
                                  "cross_entropy", "cross_entropy_loss_and_grad"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_exact_sum_does_not_depend_on_chunking(name, reduction):
    """The correctly rounded sum of the per-element losses, whatever the
    chunking (the default's partials depend on it)."""
    import math
    rng = np.random.default_rng(12)
    f = getattr(fl, name)
    if name.startswith("binary"):
        a = rng.normal(size=(400, 9)) * 5
        t = rng.random((400, 9))
        kw = {"weight": rng.random(9)}
        chunkings = [(400, 9), (37, 9), (100, 4), (1, 9)]
        per = f(a, t, reduction="none", **kw)
    else:
        a = rng.normal(size=(400, 9)) * 5
        t = rng.integers(0, 9, 400)
        t[::11] = -100
        kw = {"weight": rng.random(9) + 0.1}
        chunkings = [(400, 9), (37, 9), (100, 4), (3, 2)]
        per = f(a, t, reduction="none", **kw)
    per = _tuple(per)[0]
    want = math.fsum(per.ravel())
    if reduction == "mean":
        want /= (a.size if name.startswith("binary") else
                 math.fsum(kw["weight"][t[t != -100]]))
    bits = set()
    with dask.config.set({"fastlogistic.exact-sum": True}):
        for ch in chunkings:
            res = _tuple(f(da.from_array(a, chunks=ch), t, reduction=reduction, **kw))
            got = dask.compute(*res, scheduler="threads")
            bits.add(np.float64(got[0]).tobytes())
            assert got[0] == want
            if len(got) > 1:
                _close(got[1], f(a, t, reduction=reduction, **kw)[1], "mean", np.float64)
    assert len(bits) == 1


# ---------------------------------------------------------------------------
# laziness and one pass per block
# ---------------------------------------------------------------------------

class _Counter:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def __call__(self, block):
        with self.lock:
            self.n += 1
        return block


def _boom(block):
    raise AssertionError("a block was computed")


@pytest.mark.parametrize("name", BINARY + MULTI + list(_registry.names("softmax")))
def test_nothing_computed_before_compute(name):
    f = getattr(fl, name)
    if name in BINARY:
        x = da.zeros((40, 6), chunks=(10, 3)).map_blocks(_boom, dtype=np.float64)
        t = da.zeros((40, 6), chunks=(10, 3)).map_blocks(_boom, dtype=np.float64)
        res = [f(x, t, da.ones(6, chunks=2).map_blocks(_boom, dtype=np.float64),
                 reduction=r) for r in ("none", "sum", "mean")]
    elif name in MULTI:
        x = da.zeros((40, 6), chunks=(10, 3)).map_blocks(_boom, dtype=np.float64)
        t = da.zeros(40, chunks=10, dtype=np.int64).map_blocks(_boom, dtype=np.int64)
        res = [f(x, t, weight=da.ones(6, chunks=2).map_blocks(_boom, dtype=np.float64),
                 reduction=r) for r in ("none", "sum", "mean")]
    else:
        x = da.zeros((40, 6), chunks=(10, 3)).map_blocks(_boom, dtype=np.float64)
        res = [f(x, axis=1)]
    for r in res:
        for a in _tuple(r):
            assert isinstance(a, da.Array)
    with pytest.raises(AssertionError, match="a block was computed"):
        dask.compute(*_tuple(res[-1]), scheduler="sync")


@pytest.mark.parametrize("name, reduction", [
    ("binary_cross_entropy_with_logits_loss_and_grad", "mean"),
    ("binary_cross_entropy_with_logits_loss_and_grad", "none"),
    ("binary_cross_entropy_with_logits_grad_hess", "mean"),
    ("cross_entropy_loss_and_grad", "mean")])
def test_loss_and_grad_read_each_block_once(name, reduction):
    """Both results from one task per block: computing them together reads
    each input block exactly once, and the kernel runs once per block."""
    counter = _Counter()
    rng = np.random.default_rng(0)
    if name.startswith("cross"):
        z = rng.normal(size=(60, 5))
        t = rng.integers(0, 5, 60)
        dz = da.from_array(z, chunks=(15, 5)).map_blocks(counter, dtype=np.float64,
                                                         meta=np.empty((0, 0)))
        res = getattr(fl, name)(dz, da.from_array(t, chunks=15), reduction=reduction)
        want = getattr(fl, name)(z, t, reduction=reduction)
    else:
        x = rng.normal(size=(60, 4))
        t = rng.random((60, 4))
        dx = da.from_array(x, chunks=(15, 2)).map_blocks(counter, dtype=np.float64,
                                                         meta=np.empty((0, 0)))
        res = getattr(fl, name)(dx, t, reduction=reduction)
        want = getattr(fl, name)(x, t, reduction=reduction)
    assert counter.n == 0
    got = dask.compute(*res, scheduler="threads")
    nblocks = dz.npartitions if name.startswith("cross") else dx.npartitions
    assert counter.n == nblocks
    for g, e in zip(got, want):
        np.testing.assert_allclose(g, e, rtol=1e-14, atol=1e-300)


# ---------------------------------------------------------------------------
# errors are raised when the graph is built
# ---------------------------------------------------------------------------

def test_errors_at_graph_time():
    x = da.zeros((10, 3), chunks=5)
    with pytest.raises(ValueError, match="binary_cross_entropy_with_logits: out="):
        fl.binary_cross_entropy_with_logits(x, x, reduction="none", out=np.empty((10, 3)))
    with pytest.raises(ValueError, match="shapes do not broadcast"):
        fl.binary_cross_entropy_with_logits(x, da.zeros((10, 4), chunks=5))
    with pytest.raises(TypeError, match="binary_cross_entropy_with_logits"):
        fl.binary_cross_entropy_with_logits(x.astype(np.complex128), x)
    with pytest.raises(ValueError, match="reduction"):
        fl.binary_cross_entropy_with_logits(x, x, reduction="avg")
    with pytest.raises(ValueError, match="cross_entropy"):
        fl.cross_entropy(x, da.zeros(9, chunks=5, dtype=np.int64))
    with pytest.raises(ValueError, match="out of bounds"):
        fl.cross_entropy(x, da.zeros(10, chunks=5, dtype=np.int64), axis=2)
    with pytest.raises(TypeError, match="axis"):
        fl.cross_entropy(x, da.zeros(10, chunks=5, dtype=np.int64), axis=1.5)
    with pytest.raises(ValueError, match="out of bounds"):
        fl.softmax(x, axis=3)
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        fl.binary_cross_entropy_with_logits(x[x[:, 0] > 0], x[x[:, 0] > 0])


def test_bad_values_raise_at_compute():
    z = da.zeros((10, 3), chunks=5)
    loss = fl.cross_entropy(z, da.from_array(np.array([0, 1, 2, 7] + [0] * 6), chunks=5))
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        loss.compute(scheduler="sync")
    p = da.from_array(np.full((10, 3), 1.5), chunks=5)
    with pytest.raises(ValueError, match=r"probabilities must be in \[0, 1\]"):
        fl.binary_cross_entropy(p, p).compute(scheduler="sync")


# ---------------------------------------------------------------------------
# the elementwise functions: NumPy ufuncs, reaching dask by __array_ufunc__
# ---------------------------------------------------------------------------

@pytest.mark.skipif(not isinstance(fl.expit, np.ufunc),
                    reason="fl.expit is not a numpy.ufunc in this build")
@pytest.mark.parametrize("name", _registry.names("ufunc"))
def test_ufuncs_lazy_on_dask(name):
    f = getattr(fl, name)
    x = np.random.default_rng(0).random((50, 4))
    dx = da.from_array(x, chunks=(20, 3))
    r = f(dx)
    assert isinstance(r, da.Array) and r.chunks == dx.chunks
    np.testing.assert_array_equal(r.compute(), f(x))
    boom = da.zeros((10, 2), chunks=5).map_blocks(_boom, dtype=np.float64)
    assert isinstance(f(boom), da.Array)


@pytest.mark.parametrize("name", _registry.names("elementwise", "ufunc"))
def test_elementwise_through_ufunc(name):
    """the elementwise functions reach dask through __array_ufunc__: lazy,
    chunks kept, the in-memory bits"""
    f = getattr(fl, name)
    x = np.random.default_rng(3).random((50, 4)) * (1 if name == "logit" else 20) - (
        0 if name == "logit" else 10)
    dx = da.from_array(x, chunks=(20, 3))
    r = f(dx)
    assert isinstance(r, da.Array) and r.chunks == dx.chunks
    np.testing.assert_array_equal(r.compute(), f(x))
    with pytest.raises(TypeError, match=f"{name}: dask arrays are not supported"):
        _dask.call(name, f, {"x": dx})


# ---------------------------------------------------------------------------
# the real cluster: same bits on 1 or 2 worker processes and on threads
# ---------------------------------------------------------------------------

def _cluster_cases():
    x, t, p, w, pw = _binary_data(np.float64, 5)
    z, idx, prob, pp, cw = _mc_data(5)
    dx = da.from_array(x, chunks=(80, 5))           # 4 x 2 blocks
    dz = da.from_array(z, chunks=(70, 6))           # 3 x 2 blocks, class axis split
    return [
        fl.binary_cross_entropy_with_logits(dx, t, w, pw),
        fl.binary_cross_entropy_with_logits_loss_and_grad(dx, t, w),
        fl.binary_cross_entropy_with_logits_grad_hess(dx, t, reduction="mean"),
        fl.cross_entropy_loss_and_grad(dz, idx, weight=cw, label_smoothing=0.1),
        fl.categorical_cross_entropy(da.from_array(pp, chunks=(70, 11)), idx, weight=cw),
        fl.log_softmax(dz, axis=1),
    ] + _exact_cases(dx, t, w, dz, idx, cw)


def _exact_cases(dx, t, w, dz, idx, cw):
    with dask.config.set({"fastlogistic.exact-sum": True}):
        return [fl.binary_cross_entropy_with_logits_loss_and_grad(dx, t, w),
                fl.cross_entropy(dz, idx, weight=cw)]


def test_cluster_bits_do_not_depend_on_workers(client):
    cases = _cluster_cases()
    flat = [a for c in cases for a in _tuple(c)]
    ref = _bits(dask.compute(*flat, scheduler="threads", num_workers=4))
    assert _bits(dask.compute(*flat, scheduler="sync")) == ref
    assert _bits(client.gather(client.compute(flat))) == ref
    one = sorted(client.scheduler_info()["workers"])[:1]
    assert _bits(client.gather(client.compute(flat, workers=one,
                                              allow_other_workers=False))) == ref
    # and the in-memory numbers
    x, t, p, w, pw = _binary_data(np.float64, 5)
    np.testing.assert_allclose(float(client.compute(cases[0]).result()),
                               fl.binary_cross_entropy_with_logits(x, t, w, pw), rtol=1e-14)


def test_cluster_threads_and_output_cache(client):
    """The nanny starts workers with OMP_NUM_THREADS=1: the kernels use one
    thread per dask thread.  The output cache in a worker is bounded by a
    sixteenth of its memory limit once a fastlogistic task ran there."""
    # the nanny's default is 1; a variable already set in our environment wins
    # (and the nanny has now written the value it used into ours)
    want = os.environ.get("OMP_NUM_THREADS", "1")
    info = client.run(lambda: (os.environ.get("OMP_NUM_THREADS"), fl.get_num_threads()))
    n = int(want) if fl._kernels.have_openmp() else 1
    assert all(v == (want, n) for v in info.values()), info
    if os.environ.get("FASTLOGISTIC_OUTPUT_CACHE"):
        return                                   # the user's bound is kept
    client.gather(client.compute(list(_cluster_cases()[1])))
    limits = {a: w["memory_limit"] for a, w in client.scheduler_info()["workers"].items()}
    caches = client.run(fl.get_output_cache)
    for a, c in caches.items():
        assert c == min(256 << 20, int(limits[a] / 16))


def test_results_and_graphs_pickle(client):
    import cloudpickle
    lazy = fl.binary_cross_entropy_with_logits_loss_and_grad(
        da.ones((20, 3), chunks=5), np.zeros((20, 3)))
    for obj in (lazy, fl.cross_entropy, fl.binary_cross_entropy_with_logits):
        assert cloudpickle.loads(cloudpickle.dumps(obj)) is not None
    again = cloudpickle.loads(cloudpickle.dumps(lazy))
    got = dask.compute(*again, scheduler="threads")
    res = client.gather(client.compute(list(lazy)))
    assert _bits(got) == _bits(res)
    assert pickle.loads(pickle.dumps(res[1])).tobytes() == res[1].tobytes()
    for f in (fl.cross_entropy, fl.binary_cross_entropy_with_logits, fl.softmax, fl.expit,
              fl.sigmoid):
        assert pickle.loads(pickle.dumps(f)) is f      # by reference, the public object


def test_worker_output_cache_rule():
    d = 256 << 20
    assert _dask.worker_output_cache(1_500_000_000, d, d) == 93_750_000
    assert _dask.worker_output_cache(16 << 30, d, d) == d
    assert _dask.worker_output_cache(0, d, d) == d            # no memory limit
    assert _dask.worker_output_cache(1_500_000_000, 1 << 30, d) == 1 << 30   # user's own


# ---------------------------------------------------------------------------
# the example job, in its CI size
# ---------------------------------------------------------------------------

def test_example_small_runs():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "dask_logistic.py"),
                        "--small", "--no-progress"], capture_output=True, text=True,
                       timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "converged" in r.stdout and "coefficients match" in r.stdout, r.stdout[-3000:]
