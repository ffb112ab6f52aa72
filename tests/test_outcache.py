"""The output cache (set_output_cache): big outputs the library allocated and
the caller freed are handed to the next call of about that size.

What must hold: a reused buffer gives the same values as a fresh one (the
kernels overwrite every element, whatever was there); memory the caller still
holds, through the array or any view of it, is never handed out; the limit
bounds what is kept; big outputs start on a 64-byte boundary and own their
data like any np.empty result (resize included).
"""
import concurrent.futures
import os
import subprocess
import sys

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels
from conftest import mp_log_sigmoid, mp_map, mp_sigmoid, ulp_errors

BIG = _kernels.OUTPUT_CACHE_MIN // 8 + 1000        # float64 elements: just above the minimum


def _addr(a):
    return a.__array_interface__["data"][0]


@pytest.fixture
def cache():
    """A cache of 64 MiB, empty at the start; the default restored after."""
    fl.set_output_cache(0)
    fl.set_output_cache(64 << 20)
    yield
    fl.set_output_cache(None)


def _sample(rng, n):
    x = rng.uniform(-40, 40, n)
    x[::1001] = rng.uniform(-750, 750, x[::1001].size)    # far lanes
    return x


def test_freed_output_is_reused_with_correct_values(cache):
    rng = np.random.default_rng(1)
    x1, x2 = _sample(rng, BIG), _sample(rng, BIG)
    y = fl.sigmoid(x1)
    p = _addr(y)
    del y
    held, blocks = _kernels.output_cache_held()
    assert blocks == 1 and held >= BIG * 8
    z = fl.log_sigmoid(x2)                         # a different function into the old buffer
    assert _addr(z) == p
    assert _kernels.output_cache_held() == (0, 0)
    idx = rng.choice(BIG, 3000, replace=False)
    assert ulp_errors(z[idx], mp_map(mp_log_sigmoid, x2[idx]), np.float64).max() <= 2.0
    np.testing.assert_array_equal(z, fl.log_sigmoid(x2, out=np.empty_like(x2)))


def test_memory_still_held_through_a_view_is_never_reused(cache):
    rng = np.random.default_rng(2)
    x = _sample(rng, BIG)
    y = fl.sigmoid(x)
    v = y[::2]
    before = v.copy()
    del y                                          # v keeps the buffer alive
    assert _kernels.output_cache_held() == (0, 0)
    z = fl.sigmoid(-x)
    assert not np.shares_memory(z, v)
    np.testing.assert_array_equal(v, before)
    idx = rng.choice(v.size, 2000, replace=False)
    assert ulp_errors(v[idx], mp_map(mp_sigmoid, x[::2][idx]), np.float64).max() <= 2.0


def test_limit_bounds_what_is_kept():
    try:
        fl.set_output_cache(0)
        fl.set_output_cache(5 * BIG * 8 // 2)       # room for two blocks
        x = np.linspace(-5, 5, BIG)
        outs = [fl.sigmoid(x) for _ in range(4)]
        del outs
        held, blocks = _kernels.output_cache_held()
        assert held <= fl.get_output_cache() and blocks == 2
        fl.set_output_cache(0)                     # releases what is kept
        assert _kernels.output_cache_held() == (0, 0)
        y = fl.sigmoid(x)
        del y
        assert _kernels.output_cache_held() == (0, 0)   # nothing kept at 0
    finally:
        fl.set_output_cache(None)


def test_small_outputs_are_not_kept(cache):
    x = np.linspace(-5, 5, _kernels.OUTPUT_CACHE_MIN // 8 // 2)
    y = fl.sigmoid(x)
    del y
    assert _kernels.output_cache_held() == (0, 0)


def test_a_much_smaller_request_does_not_take_a_big_block(cache):
    x = np.linspace(-5, 5, 2 * BIG)
    y = fl.sigmoid(x)
    del y
    z = fl.sigmoid(x[:BIG])                        # under 7/8 of the block: a new one
    assert _kernels.output_cache_held()[1] == 1
    np.testing.assert_array_equal(z, fl.sigmoid(x[:BIG], out=np.empty(BIG)))


@pytest.mark.parametrize("func,args", [
    (fl.sigmoid, 1), (fl.softplus, 1), (fl.binary_cross_entropy_with_logits_grad, 2),
    (fl.binary_cross_entropy_with_logits_grad_hess, 2),
])
def test_big_outputs_are_aligned_and_own_their_data(cache, func, args):
    rng = np.random.default_rng(3)
    x = rng.normal(size=BIG)
    t = (rng.random(BIG) < 0.5).astype(np.float64)
    res = func(x, t) if args == 2 else func(x)
    for r in (res if isinstance(res, tuple) else (res,)):
        assert _addr(r) % 64 == 0
        assert r.flags.owndata and r.flags.c_contiguous and r.flags.writeable


def test_resize_of_a_cached_output_keeps_its_values(cache):
    x = np.linspace(-8, 8, BIG)
    y = fl.sigmoid(x)
    ref = y.copy()
    y.resize(BIG // 3, refcheck=False)             # shrinks: a new block, values copied
    np.testing.assert_array_equal(y, ref[:BIG // 3])
    y.resize(2 * BIG, refcheck=False)              # grows: zero-filled beyond, as NumPy does
    np.testing.assert_array_equal(y[:BIG // 3], ref[:BIG // 3])
    assert not y[BIG // 3:].any()


def test_cross_entropy_grad_from_the_cache(cache):
    rng = np.random.default_rng(4)
    z = rng.normal(size=(BIG // 10, 10))
    target = rng.integers(0, 10, BIG // 10)
    g1 = fl.cross_entropy_grad(z, target)
    ref = g1.copy()
    del g1
    g2 = fl.cross_entropy_grad(z, target)          # into the freed block
    np.testing.assert_array_equal(g2, ref)


def test_concurrent_calls_from_python_threads(cache):
    rng = np.random.default_rng(5)
    xs = [_sample(rng, BIG) for _ in range(4)]
    refs = [fl.sigmoid(x, out=np.empty_like(x)) for x in xs]

    def work(i):
        for _ in range(6):
            y = fl.sigmoid(xs[i])
            if not np.array_equal(y, refs[i]):
                return False
        return True

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        assert all(ex.map(work, range(4)))
    held, blocks = _kernels.output_cache_held()
    assert held <= fl.get_output_cache()


def test_set_output_cache_errors():
    with pytest.raises(TypeError, match="output cache size must be an int"):
        fl.set_output_cache(1.5)
    with pytest.raises(TypeError, match="output cache size must be an int"):
        fl.set_output_cache(True)
    with pytest.raises(ValueError, match="output cache size must be >= 0 bytes, got -1"):
        fl.set_output_cache(-1)
    fl.set_output_cache(None)
    assert fl.get_output_cache() == _kernels.DEFAULT_OUTPUT_CACHE
    assert fl.show_config(file=open(os.devnull, "w"))["output_cache"] == _kernels.DEFAULT_OUTPUT_CACHE


def test_output_cache_env_variable():
    code = "import fastlogistic as fl; print(fl.get_output_cache())"
    src = os.path.dirname(os.path.dirname(fl.__file__))
    for value, expect, warns in [("0", "0", False), ("1000000", "1000000", False),
                                 ("lots", str(_kernels.DEFAULT_OUTPUT_CACHE), True)]:
        env = dict(os.environ, FASTLOGISTIC_OUTPUT_CACHE=value)
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == expect
        assert ("FASTLOGISTIC_OUTPUT_CACHE ignored" in r.stderr) == warns


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_a_forked_child_allocates_and_reuses(cache):
    """The cache's lock is held across fork() and released on both sides."""
    import time
    x = np.linspace(-9, 9, BIG)
    ref = fl.sigmoid(x, out=np.empty_like(x))
    y = fl.sigmoid(x)
    del y                                          # one block kept, inherited by the child
    pid = os.fork()
    if pid == 0:                                   # child: no pytest machinery, just a status
        ok = all(np.array_equal(fl.sigmoid(x), ref) for _ in range(3))
        os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    np.testing.assert_array_equal(fl.sigmoid(x), ref)
