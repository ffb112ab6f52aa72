"""Streaming (non-temporal) stores of big outputs: the same values as normal
stores, at every SIMD level, for outputs at any alignment, and the knob that
decides when they are used.

set_stream_threshold(0) streams every call, so small arrays exercise the
aligned head, the streamed middle and the tail of each chunk; -1 never
streams.  The streamed result must equal the unstreamed one bit for bit and
an mpmath reference to the accuracy bound of the accuracy tests.
"""
import os
import platform
import subprocess
import sys

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels
from conftest import (mp_bce, mp_bce_grad, mp_bce_logits, mp_bce_logits_grad,
                      mp_bce_logits_hess, mp_log_sigmoid, mp_logit, mp_map, mp_sigmoid,
                      mp_sigmoid_grad, mp_softplus, ulp_errors)

pytestmark = pytest.mark.usefixtures("simd_level")

UNARY = [
    (fl.sigmoid, mp_sigmoid), (fl.log_sigmoid, mp_log_sigmoid), (fl.softplus, mp_softplus),
    (fl.sigmoid_grad, mp_sigmoid_grad), (fl.logit, mp_logit),
]
# sizes around one vector, one chunk (4096) and several chunks
SIZES = [1, 7, 8, 33, 257, 4096 + 13, 3 * 4096 + 5]


def _bits(a):
    a = np.asarray(a)
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32).tobytes()


def _data(n, dtype, seed, unit=False):
    rng = np.random.default_rng(seed)
    if unit:
        return rng.uniform(0, 1, n).astype(dtype)
    x = rng.normal(0, 6, n).astype(dtype)
    x[::97] = np.array([np.inf, -np.inf, np.nan, 800.0, -800.0, 0.0, -0.0], dtype)[
        np.arange(x[::97].size) % 7]
    return x


def _misaligned_out(n, dtype, offset):
    """An output array whose first element is `offset` elements past a
    64-byte boundary."""
    dtype = np.dtype(dtype)
    buf = np.empty(n * dtype.itemsize + 128, np.uint8)
    start = -buf.__array_interface__["data"][0] % 64 + offset * dtype.itemsize
    return buf[start:start + n * dtype.itemsize].view(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fn,ref", UNARY, ids=[f.__name__ for f, _ in UNARY])
def test_unary_streamed_equals_stored_and_reference(fn, ref, dtype):
    unit = fn is fl.logit
    for n in SIZES:
        x = _data(n, dtype, n, unit)
        x0 = x.copy()
        fl.set_stream_threshold(-1)
        stored = fn(x)
        fl.set_stream_threshold(0)
        for offset in (0, 1, 3, 5):
            out = _misaligned_out(n, dtype, offset)
            got = fn(x, out=out)
            assert got is out
            assert _bits(got) == _bits(stored), (fn.__name__, n, offset)
        assert _bits(fn(x)) == _bits(stored)
        if isinstance(fn, np.ufunc):          # logit: threads through use_threads
            with fl.use_threads(2):
                assert _bits(fn(x)) == _bits(stored)
        else:
            assert _bits(fn(x, num_threads=2)) == _bits(stored)
        assert _bits(x) == _bits(x0), "input changed"
    # the values themselves, against mpmath, on the last (multi-chunk) size
    sample = slice(0, None, 37)
    err = ulp_errors(stored[sample], mp_map(ref, x[sample]), dtype)
    assert np.nanmax(err) <= 4, (fn.__name__, np.nanmax(err))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_logits_streamed_equals_stored(dtype, reduction):
    for n in SIZES:
        x = _data(n, dtype, 10 + n)
        t = np.random.default_rng(n).uniform(0, 1, n).astype(dtype)
        w = np.random.default_rng(n + 1).uniform(0.5, 2, n).astype(dtype)
        results = {}
        for thr in (-1, 0):
            fl.set_stream_threshold(thr)
            results[thr] = [
                fl.binary_cross_entropy_with_logits(x, t, w, reduction=reduction),
                *fl.binary_cross_entropy_with_logits_loss_and_grad(x, t, reduction=reduction),
                *fl.binary_cross_entropy_with_logits_grad_hess(x, t, pos_weight=w,
                                                               reduction=reduction),
                fl.binary_cross_entropy_with_logits_grad(x, t, reduction=reduction,
                                                         num_threads=2),
            ]
        for a, b in zip(results[-1], results[0]):
            assert _bits(a) == _bits(b), (n, reduction)
        # a caller's output at any alignment: streamed or not, the same values
        for offset in (0, 1, 2):
            g = _misaligned_out(n, dtype, offset)
            h = _misaligned_out(n, dtype, (offset + 1) % 8)
            gg, hh = fl.binary_cross_entropy_with_logits_grad_hess(
                x, t, pos_weight=w, reduction=reduction, out=(g, h))
            assert gg is g and hh is h
            assert _bits(g) == _bits(results[-1][3]) and _bits(h) == _bits(results[-1][4])
    # values against mpmath on the last size
    sample = slice(0, None, 41)
    xs, ts = x[sample], t[sample]
    loss, grad = fl.binary_cross_entropy_with_logits_loss_and_grad(xs, ts, reduction="none")
    assert np.nanmax(ulp_errors(loss, mp_map(mp_bce_logits, xs, ts), dtype)) <= 4
    scale = np.maximum(np.abs(grad), 1.0)   # s(x) - t cancels: compare on the terms' scale
    exact = np.array(mp_map(mp_bce_logits_grad, xs, ts), np.float64)
    ok = ~np.isnan(exact)
    assert np.all(np.abs(grad[ok] - exact[ok]) <= 8 * np.finfo(dtype).eps * scale[ok])
    _, hess = fl.binary_cross_entropy_with_logits_grad_hess(xs, ts, reduction="none")
    assert np.nanmax(ulp_errors(hess, mp_map(mp_bce_logits_hess, xs, ts), dtype)) <= 8


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_probabilities_streamed_equals_stored(dtype):
    for n in SIZES:
        p = _data(n, dtype, 20 + n, unit=True)
        t = (np.random.default_rng(n).uniform(0, 1, n) > 0.5).astype(dtype)
        res = {}
        for thr in (-1, 0):
            fl.set_stream_threshold(thr)
            res[thr] = (fl.binary_cross_entropy(p, t, reduction="none"),
                        fl.binary_cross_entropy(p, t),
                        fl.binary_cross_entropy_grad(p, t, reduction="none"))
        for a, b in zip(res[-1], res[0]):
            assert _bits(a) == _bits(b), n
    sample = slice(0, None, 29)
    ps, ts = p[sample], t[sample]
    assert np.nanmax(ulp_errors(res[0][0][sample], mp_map(mp_bce, ps, ts), dtype)) <= 4
    assert np.nanmax(ulp_errors(res[0][2][sample], mp_map(mp_bce_grad, ps, ts), dtype)) <= 4


def test_big_outputs_start_on_a_cache_line():
    x = np.linspace(-5, 5, 100_003)
    t = (x > 0).astype(np.float64)
    _, g = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t)
    gr, h = fl.binary_cross_entropy_with_logits_grad_hess(x, t)
    for a in (g, gr, h):
        assert a.__array_interface__["data"][0] % 64 == 0
        assert a.shape == x.shape and a.dtype == x.dtype and a.flags.c_contiguous
        assert a.flags.writeable
    np.testing.assert_allclose(h, 1 / (1 + np.exp(-x)) * (1 - 1 / (1 + np.exp(-x))), rtol=1e-12)


def _cpu_is_amd():
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("vendor_id") and "AuthenticAMD" in line for line in f)
    except OSError:
        return None


def test_default_stream_threshold_by_vendor_and_level(simd_level):
    """6 MiB; on AMD CPUs 6 MiB from 2 threads at avx512-split (measured
    faster streamed there, slower on one thread), never at other levels;
    never at the cython level (it does not stream)."""
    amd = _cpu_is_amd()
    if amd is None or platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("needs /proc/cpuinfo on x86-64")
    if simd_level == "cython":
        expect = (-1, 1)        # its loops ignore the stream flag
    elif not amd:
        expect = (6 << 20, 1)
    elif simd_level == "avx512-split":
        expect = (6 << 20, 2)
    else:
        expect = (-1, 1)
    assert _kernels.default_stream_threshold() == expect
    assert (fl.get_stream_threshold(), _kernels.get_stream_min_threads()) == expect
    fl.set_stream_threshold(0)                 # a value set by hand applies to 1 thread too
    assert (fl.get_stream_threshold(), _kernels.get_stream_min_threads()) == (0, 1)
    fl.set_stream_threshold(None)
    assert (fl.get_stream_threshold(), _kernels.get_stream_min_threads()) == expect


def test_set_stream_threshold_checks_and_restores():
    default = fl.get_stream_threshold()
    assert default == _kernels.default_stream_threshold()[0] in (-1, 6 << 20)
    import io
    shown = io.StringIO()
    assert fl.show_config(file=shown)["stream_threshold"] == default
    assert "stream_threshold" in shown.getvalue() and str(default) in shown.getvalue()
    fl.set_stream_threshold(1 << 30)
    assert fl.get_stream_threshold() == 1 << 30
    fl.set_stream_threshold(np.int64(-1))
    assert fl.get_stream_threshold() == -1
    fl.set_stream_threshold(10 ** 30)   # capped, not an overflow
    assert fl.get_stream_threshold() == sys.maxsize
    fl.set_stream_threshold(None)
    assert fl.get_stream_threshold() == default
    for bad, exc in (("4MB", TypeError), (1.5, TypeError), (True, TypeError), (-2, ValueError)):
        with pytest.raises(exc, match="stream threshold"):
            fl.set_stream_threshold(bad)
    assert fl.get_stream_threshold() == default


def _import_with_env(value):
    code = ("import warnings; warnings.simplefilter('always')\n"
            "import fastlogistic as fl; print(fl.get_stream_threshold())\n"
            "print(fl._kernels.default_stream_threshold()[0])")
    env = dict(os.environ, FASTLOGISTIC_STREAM_BYTES=value)
    src = os.path.dirname(os.path.dirname(fl.__file__))
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip(), r.stderr


def test_stream_env_variable(simd_level):
    if simd_level != _kernels.cpu_simd_levels()[0]:
        pytest.skip("a subprocess test: once is enough")
    assert _import_with_env("0")[0].split()[0] == "0"
    assert _import_with_env("-1")[0].split()[0] == "-1"
    out, err = _import_with_env("lots")
    threshold, default = out.split()
    assert threshold == default        # the default of the level the subprocess starts at
    assert "FASTLOGISTIC_STREAM_BYTES ignored" in err
