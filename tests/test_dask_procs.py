"""Worker processes without dask (serialisation): arrays and results
cross process boundaries under the fork, spawn and forkserver start methods,
thread settings behave in the child, and the results are the parent's bits.
A child forked after the parent ran an OpenMP team runs single-threaded
(GNU libgomp is not fork-safe; see _kernels.pyx)."""
import multiprocessing as mp
import os
import pickle

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels

N = 1 << 20          # big enough for the parallel path


def _data():
    rng = np.random.default_rng(7)
    return rng.normal(size=N) * 3, (rng.random(N) < 0.5).astype(np.float64)


def _child(num_threads):
    """Runs in the child: thread settings and a loss+grad with `num_threads`."""
    x, t = _data()
    before = fl.get_num_threads()
    forked = _kernels.in_forked_child()
    loss, grad = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t,
                                                                   num_threads=num_threads)
    fl.set_num_threads(1)
    after = fl.get_num_threads()
    fl.set_num_threads(None)
    return before, forked, after, float(loss), grad


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver"])
def test_start_methods(method, monkeypatch):
    if method not in mp.get_all_start_methods():
        pytest.skip(f"{method} is not available on this platform")
    x, t = _data()
    # start the parent's OpenMP team first: the case a forked child must survive
    want_loss, want_grad = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t,
                                                                             num_threads=2)
    # a spawned child reads OMP_NUM_THREADS afresh: give it the parent's count
    # (a LocalCluster's nanny may have written OMP_NUM_THREADS=1 into ours)
    monkeypatch.setenv("OMP_NUM_THREADS", str(_kernels.omp_max_threads()))
    ctx = mp.get_context(method)
    with ctx.Pool(1) as pool:
        before, forked, after, loss, grad = pool.apply(_child, (2,))
    # the same bits whatever the thread count (the library's promise) and the process
    assert np.float64(loss).tobytes() == np.float64(want_loss).tobytes()
    assert grad.tobytes() == want_grad.tobytes()
    assert after == 1
    if method == "fork" and _kernels.have_openmp() and os.cpu_count() > 1:
        assert forked and before == 1
    else:
        assert not forked and before == fl.get_num_threads()


def test_spawned_child_reads_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    with mp.get_context("spawn").Pool(1) as pool:
        before = pool.apply(_child, (None,))[0]
    assert before == (3 if _kernels.have_openmp() else 1)


def test_results_pickle():
    x, t = _data()
    res = fl.binary_cross_entropy_with_logits_grad_hess(x[:1000], t[:1000])
    for r in res:
        back = pickle.loads(pickle.dumps(r))
        assert back.tobytes() == r.tobytes() and back.dtype == r.dtype
    s = fl.cross_entropy(np.eye(3), np.arange(3))
    assert pickle.loads(pickle.dumps(s)) == s
