"""Threads: bitwise thread invariance, the default thread count and its
sources (set_num_threads, OMP_NUM_THREADS, threadpoolctl), concurrency."""
import concurrent.futures
import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest
import scipy.special as sc

import fastlogistic as fl
from fastlogistic import _kernels

N = 200_003          # well above PARALLEL_THRESHOLD, not a multiple of CHUNK_SIZE
THREADS = [1, 2, 3, 4]
SRC = os.path.dirname(os.path.dirname(fl.__file__))

needs_omp = pytest.mark.skipif(not _kernels.have_openmp(), reason="built without OpenMP")


def test_sizes_exercise_the_parallel_path():
    assert N > 4 * _kernels.PARALLEL_THRESHOLD
    assert N % _kernels.CHUNK_SIZE != 0


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(11)
    x = rng.normal(0, 6, N)
    t = rng.random(N)
    w = rng.uniform(0, 2, N)
    pw = rng.uniform(0.5, 3, 7)[rng.integers(0, 7, 1)]      # a scalar-like (1,)
    return x, t, w, pw


def _all_results(x, t, w, pw, nt):
    p = np.clip(sc.expit(x), 0, 1)
    out = {}
    for f in (fl.sigmoid, fl.log_sigmoid, fl.softplus, fl.sigmoid_grad):
        out[f.__name__] = f(x, num_threads=nt)
    with fl.use_threads(nt):       # logit is a ufunc: no num_threads keyword
        out["logit"] = fl.logit(p)
    out["sigmoid_strided"] = fl.sigmoid(x[::-2], num_threads=nt)
    for red in ("none", "sum", "mean"):
        out["bcel_" + red] = fl.binary_cross_entropy_with_logits(
            x, t, weight=w, pos_weight=pw, reduction=red, num_threads=nt)
        out["bcel_lg_" + red] = fl.binary_cross_entropy_with_logits_loss_and_grad(
            x, t, weight=w, reduction=red, num_threads=nt)
        out["bce_" + red] = fl.binary_cross_entropy(p, t, weight=w, reduction=red, num_threads=nt)
        out["bce_grad_" + red] = fl.binary_cross_entropy_grad(p, t, reduction=red, num_threads=nt)
    out["bcel_gh"] = fl.binary_cross_entropy_with_logits_grad_hess(x, t, num_threads=nt)
    out["bcel_sum_f32"] = fl.binary_cross_entropy_with_logits(
        x.astype(np.float32), t.astype(np.float32), reduction="sum", num_threads=nt)
    out["bcel_sum_strided"] = fl.binary_cross_entropy_with_logits(
        x[::-1], t, reduction="sum", num_threads=nt)
    return out


def _bits(v):
    if isinstance(v, tuple):
        return tuple(_bits(a) for a in v)
    a = np.asarray(v)
    return a.dtype.str, a.tobytes()


@needs_omp
def test_bitwise_identical_for_any_thread_count(data):
    x, t, w, pw = data
    ref = _all_results(x, t, w, pw, 1)
    # sanity: the values are right, not only reproducible
    np.testing.assert_allclose(ref["sigmoid"], sc.expit(x), rtol=1e-15)
    np.testing.assert_allclose(float(ref["bcel_sum_f32"]),
                               np.sum(np.logaddexp(0, -x) * t + np.logaddexp(0, x) * (1 - t)),
                               rtol=1e-6)
    for nt in THREADS[1:]:
        got = _all_results(x, t, w, pw, nt)
        for k in ref:
            assert _bits(got[k]) == _bits(ref[k]), f"{k} differs with {nt} threads"
    # and the library default (None)
    got = _all_results(x, t, w, pw, None)
    for k in ref:
        assert _bits(got[k]) == _bits(ref[k]), f"{k} differs with num_threads=None"


def test_set_and_get_num_threads():
    fl.set_num_threads(3)
    try:
        assert fl.get_num_threads() == (3 if _kernels.have_openmp() else 1)
        fl.set_num_threads(1)
        assert fl.get_num_threads() == 1
        fl.set_num_threads(np.int64(2))
        assert fl.get_num_threads() == (2 if _kernels.have_openmp() else 1)
    finally:
        fl.set_num_threads(None)
    assert fl.get_num_threads() >= 1
    cfg = fl.show_config(file=open(os.devnull, "w"))
    assert cfg["default_threads"] == fl.get_num_threads()
    assert cfg["simd_level"] == _kernels.get_simd_level()
    assert cfg["openmp"] == _kernels.have_openmp()


@needs_omp
def test_threadpoolctl_limits():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    fl.set_num_threads(3)
    try:
        assert fl.get_num_threads() == 3
        with threadpoolctl.threadpool_limits(1):
            assert fl.get_num_threads() == 1
            np.testing.assert_allclose(fl.sigmoid(np.linspace(-3, 3, 50_000)),
                                       sc.expit(np.linspace(-3, 3, 50_000)), rtol=1e-15)
        assert fl.get_num_threads() == 3
    finally:
        fl.set_num_threads(None)
    before = fl.get_num_threads()
    with threadpoolctl.threadpool_limits(1):
        assert fl.get_num_threads() == 1
    assert fl.get_num_threads() == before
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fl.get_num_threads() == 1
    assert fl.get_num_threads() == before


@needs_omp
def test_torch_set_num_threads_lowers_the_default_in_a_shared_runtime():
    """torch.set_num_threads sets the OpenMP thread count of the runtime both
    libraries load (README, Threads); where torch brings a runtime of its own
    (not GCC's libgomp shared with ours) the default does not move."""
    torch = pytest.importorskip("torch")
    if _kernels.omp_max_threads() < 2:
        pytest.skip("needs an OpenMP default of 2 threads or more")
    prev = torch.get_num_threads()
    fl.set_num_threads(2)
    try:
        torch.set_num_threads(1)
        shared = _kernels.omp_max_threads() == 1
        assert fl.get_num_threads() == (1 if shared else 2)
        torch.set_num_threads(prev)
        assert fl.get_num_threads() == 2
    finally:
        torch.set_num_threads(prev)
        fl.set_num_threads(None)


def _wait(pid, seconds=60):
    """The exit status of child pid; fails (and kills it) if it hangs."""
    import time
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.01)


@needs_omp
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_a_child_forked_after_threads_ran_does_not_hang():
    """libgomp's thread team does not survive fork(): a child forked after
    the parent ran 2 threads would wait forever in its first parallel
    region.  It runs on one thread instead, with the same values."""
    x = np.linspace(-30, 30, 300_001)
    ref = fl.sigmoid(x, num_threads=2)             # the parent starts a team
    assert not _kernels.in_forked_child()
    pid = os.fork()
    if pid == 0:
        try:
            ok = (_kernels.in_forked_child() and fl.get_num_threads() == 1
                  and np.array_equal(fl.sigmoid(x, num_threads=2), ref)
                  and np.array_equal(fl.sigmoid(x), ref)
                  and fl.binary_cross_entropy_with_logits(x, x > 0, num_threads=2)
                  == fl.binary_cross_entropy_with_logits(x, x > 0, num_threads=1))
        except BaseException:
            ok = False
        os._exit(0 if ok else 1)
    status = _wait(pid)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert not _kernels.in_forked_child()
    np.testing.assert_array_equal(fl.sigmoid(x, num_threads=2), ref)


@needs_omp
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_multiprocessing_fork_pool_after_threads_ran():
    import multiprocessing
    x = np.linspace(-30, 30, 200_001)
    ref = fl.sigmoid(x, num_threads=2)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as pool:
        res = pool.map_async(fl.sigmoid, [x, -x]).get(timeout=60)
    np.testing.assert_array_equal(res[0], ref)
    np.testing.assert_array_equal(res[1], fl.sigmoid(-x))


def _run_py(code, **env):
    e = dict(os.environ)
    e.pop("OMP_NUM_THREADS", None)
    e.pop("FASTLOGISTIC_SIMD", None)     # the suite may run under FASTLOGISTIC_SIMD=cython
    e.update(env)
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@needs_omp
def test_omp_num_threads_is_honoured():
    code = ("import fastlogistic as fl; print(fl.get_num_threads()); fl.set_num_threads(2); "
            "print(fl.get_num_threads()); fl.set_num_threads(None); print(fl.get_num_threads())")
    assert _run_py(code, OMP_NUM_THREADS="3").split() == ["3", "2", "3"]
    assert _run_py(code, OMP_NUM_THREADS="1").split() == ["1", "2", "1"]
    assert _run_py("import os, fastlogistic as fl; print(fl.get_num_threads() == os.cpu_count())") == "True"


def test_simd_env_variable_forces_a_lower_level():
    levels = _kernels.cpu_simd_levels()
    out = _run_py("import fastlogistic as fl; print(fl._kernels.get_simd_level())",
                  FASTLOGISTIC_SIMD="baseline")
    assert out == ("cython" if _kernels.PORTABLE_BUILD else "baseline")
    out = _run_py("import fastlogistic as fl; print(fl._kernels.get_simd_level())")
    assert out == levels[0]


def test_simd_level_names_and_the_avx512_layouts():
    """Both AVX-512 layouts are listed where the CPU has AVX-512 (the one for
    this CPU's kind first), "avx512" picks that one, every listed level can
    be set, a level the CPU lacks falls to the best below it, and both
    layouts agree (bit for bit where they do the same arithmetic)."""
    levels = _kernels.cpu_simd_levels()
    assert levels[-1] == "cython" and len(set(levels)) == len(levels)
    assert set(levels) <= {"avx512-split", "avx512-wide", "avx2", "baseline", "cython"}
    assert _kernels.PORTABLE_BUILD or levels[-2] == "baseline"
    has512 = [lv for lv in levels if lv.startswith("avx512")]
    assert len(has512) in (0, 2) and levels[:len(has512)] == has512
    before = _kernels.get_simd_level()
    try:
        for lv in levels:
            assert _kernels.set_simd_level(lv) == lv
        below = levels[len(has512)] if len(levels) > len(has512) else "baseline"
        for name in ("avx512", "avx512-wide", "avx512-split"):
            want = (levels[0] if name == "avx512" else name) if has512 else below
            assert _kernels.set_simd_level(name) == want
        with pytest.raises(ValueError, match="'avx512-split'"):
            _kernels.set_simd_level("avx512-narrow")
        x = np.random.default_rng(2).normal(0, 8, 5003)
        t = (x > 0.5).astype(np.float64)
        got = []
        for lv in has512:
            _kernels.set_simd_level(lv)
            got.append((fl.sigmoid(x), fl.softplus(x), fl.log_sigmoid(x.astype(np.float32)),
                        fl.binary_cross_entropy_with_logits(x, t, reduction="none"),
                        *fl.binary_cross_entropy_with_logits_grad_hess(x, t)))
        if has512:
            # float32 and the float64 loss: the same arithmetic in another
            # order of loops, the same bits; float64 sigmoid and gradients:
            # avx512-split's exp and 1/d (table, vdivpd) differ in the last bit
            np.testing.assert_array_equal(got[0][2], got[1][2])
            np.testing.assert_array_equal(got[0][3], got[1][3])
            for k in (0, 1, 4, 5):
                np.testing.assert_allclose(got[0][k], got[1][k], rtol=5e-16, atol=1e-300)
    finally:
        _kernels.set_simd_level(before)
    if has512:
        out = _run_py("import fastlogistic as fl; print(fl._kernels.get_simd_level())",
                      FASTLOGISTIC_SIMD=has512[1])
        assert out == has512[1]


def test_concurrent_calls_from_python_threads():
    rng = np.random.default_rng(5)
    xs = [rng.normal(0, 5, 60_000 + 1000 * i) for i in range(8)]
    ts = [rng.random(x.size) for x in xs]

    def work(i):
        x, t = xs[i], ts[i]
        r = []
        for _ in range(3):
            r.append(fl.sigmoid(x, num_threads=2))
            r.append(fl.binary_cross_entropy_with_logits(x, t, reduction="sum"))
            r.append(fl.binary_cross_entropy_with_logits_grad(x, t, reduction="none", num_threads=1))
        return r

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as ex:
        results = list(ex.map(work, range(len(xs))))
    for i, r in enumerate(results):
        x, t = xs[i], ts[i]
        exp_loss = np.sum(t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x))
        for k in range(3):
            np.testing.assert_allclose(r[3 * k], sc.expit(x), rtol=1e-15)
            np.testing.assert_allclose(float(r[3 * k + 1]), exp_loss, rtol=1e-12)
            # soft targets: s(x) - t cancels, so compare on the scale of its terms
            np.testing.assert_allclose(r[3 * k + 2], sc.expit(x) - t, rtol=1e-12, atol=1e-15)
            assert _bits(r[3 * k]) == _bits(r[0])
            assert _bits(r[3 * k + 1]) == _bits(r[1])


def test_simd_env_variable_unknown_value_warns_and_keeps_the_best_level():
    levels = _kernels.cpu_simd_levels()
    code = ("import warnings; warnings.simplefilter('always')\n"
            "import fastlogistic as fl; print(fl._kernels.get_simd_level())")
    e = dict(os.environ, FASTLOGISTIC_SIMD="avx3")
    e["PYTHONPATH"] = SRC + os.pathsep + e.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == levels[0]
    assert "FASTLOGISTIC_SIMD ignored" in r.stderr and "'avx3'" in r.stderr


def test_use_threads_object_shared_between_threads():
    """One use_threads object entered on two Python threads at once: each
    thread gets its own outer setting back on exit, whatever the order of
    the exits (the value a `with` replaced is saved per thread)."""
    import threading
    shared = fl.use_threads(2)
    for order in (("A", "B"), ("B", "A")):
        entered = threading.Barrier(2)
        turn = {name: threading.Event() for name in "AB"}
        seen = {}

        def worker(name, outer):
            with fl.use_threads(outer) if outer else contextlib.nullcontext():
                with shared:
                    seen[name + " inside"] = _kernels.get_thread_override()
                    entered.wait()
                    turn[name].wait()
                seen[name + " after"] = _kernels.get_thread_override()
                nxt = order[1] if name == order[0] else None
                if nxt:
                    turn[nxt].set()

        threads = [threading.Thread(target=worker, args=("A", 1)),
                   threading.Thread(target=worker, args=("B", None))]
        for t in threads:
            t.start()
        turn[order[0]].set()
        for t in threads:
            t.join(30)
        assert seen == {"A inside": 2, "B inside": 2, "A after": 1, "B after": 0}, order
    # re-entered on one thread (nested): the outer value comes back last
    with shared:
        with fl.use_threads(5):
            with shared:
                assert _kernels.get_thread_override() == 2
            assert _kernels.get_thread_override() == 5
        assert _kernels.get_thread_override() == 2
    assert _kernels.get_thread_override() == 0
