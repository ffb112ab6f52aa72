"""The compiled common case of softmax, log_softmax and cross_entropy
(_kernels.softmax_plain / ce_plain: a C-order 2-D float array over its last
axis, int64 class indices, no weight or smoothing) gives the general path's
results bit for bit, and hands every other call to the general path, which
checks it and names any error."""
import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels as _k

SHAPES = [(1, 1), (1, 2), (3, 2), (16, 10), (17, 3), (33, 5), (64, 8), (100, 16), (40, 100),
          (5, 1000)]
GENERAL_AXIS = np.int64(-1)     # not a Python int: the plain case declines it


def _logits(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    z = (4 * rng.standard_normal(shape)).astype(dtype)
    if shape[0] > 3:
        z[1, 0] = np.inf            # one-hot row
        z[2, :] = -np.inf           # indeterminate row
        z[3, -1] = np.nan
    return z


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_softmax_plain_is_the_general_path(shape, dtype):
    z = _logits(shape, dtype, 1)
    for fn, kind in ((fl.softmax, 0), (fl.log_softmax, 1)):
        plain = _k.softmax_plain(kind, z, -1)
        assert plain is not None
        _same(plain, fn(z, axis=GENERAL_AXIS))
        _same(fn(z, axis=-1), plain)
        _same(fn(z, axis=1), plain)
    # the values themselves, against float64 (finite rows)
    zf = z[4:].astype(np.float64)
    if zf.size:
        e = np.exp(zf - zf.max(axis=1, keepdims=True))
        ref = e / e.sum(axis=1, keepdims=True)
        tol = 8 * np.finfo(dtype).eps
        np.testing.assert_allclose(fl.softmax(z, axis=-1)[4:], ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ce_plain_is_the_general_path(shape, dtype, reduction):
    z = _logits(shape, dtype, 2)
    N, C = shape
    lab = np.random.default_rng(3).integers(0, C, N)
    lab[-1] = -100                                      # ignored
    for want_loss, want_grad, fn in ((True, True, fl.cross_entropy_loss_and_grad),
                                     (True, False, fl.cross_entropy),
                                     (False, True, fl.cross_entropy_grad)):
        plain = _k.ce_plain(z, lab, -1, None, -100, 0.0, reduction, want_loss, want_grad)
        assert plain is not None
        general = fn(z, lab, axis=GENERAL_AXIS, reduction=reduction)
        got = fn(z, lab, reduction=reduction)
        if want_loss and want_grad:
            for a, b, c in zip(got, general, plain):
                _same(a, b)
                _same(c, b)
        elif want_loss:
            _same(got, general)
            _same(plain[0], general)
        else:
            _same(got, general)
            _same(plain[1], general)


def test_ce_plain_values():
    """Against float64 logsumexp: the loss and gradient of the plain case."""
    rng = np.random.default_rng(4)
    z = rng.standard_normal((37, 6))
    lab = rng.integers(0, 6, 37)
    loss, grad = fl.cross_entropy_loss_and_grad(z, lab)
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    np.testing.assert_allclose(loss, np.mean(lse - z[np.arange(37), lab]), rtol=1e-14)
    p = np.exp(z - lse[:, None])
    p[np.arange(37), lab] -= 1
    np.testing.assert_allclose(grad, p / 37, rtol=1e-13, atol=1e-17)
    # every target ignored: "mean" is NaN (0 / 0), as torch
    loss, grad = fl.cross_entropy_loss_and_grad(z, np.full(37, -100))
    assert np.isnan(loss) and np.all(grad == 0)


@pytest.mark.parametrize("call", [
    lambda z, t: _k.softmax_plain(0, z.astype(np.float16), -1),
    lambda z, t: _k.softmax_plain(0, np.asfortranarray(z), -1),
    lambda z, t: _k.softmax_plain(0, z[:, ::2], -1),
    lambda z, t: _k.softmax_plain(0, z, 0),
    lambda z, t: _k.softmax_plain(0, z, None),
    lambda z, t: _k.softmax_plain(0, z, True),
    lambda z, t: _k.softmax_plain(0, z[None], -1),
    lambda z, t: _k.softmax_plain(0, z[:0], -1),
    lambda z, t: _k.softmax_plain(0, np.ma.MaskedArray(z), -1),
    lambda z, t: _k.softmax_plain(0, z.tolist(), -1),
    lambda z, t: _k.softmax_plain(0, z, -1, 0),
    lambda z, t: _k.ce_plain(z, t.astype(np.int32), -1, None, -100, 0.0, "mean", True, True),
    lambda z, t: _k.ce_plain(z, t[::2], -1, None, -100, 0.0, "mean", True, True),
    lambda z, t: _k.ce_plain(z, t, -1, np.ones(4), -100, 0.0, "mean", True, True),
    lambda z, t: _k.ce_plain(z, t, -1, None, -100, 0.1, "mean", True, True),
    lambda z, t: _k.ce_plain(z, t, -1, None, -100, False, "mean", True, True),
    lambda z, t: _k.ce_plain(z, t, -1, None, np.int64(-100), 0.0, "mean", True, True),
    lambda z, t: _k.ce_plain(z, t, -1, None, 1 << 70, 0.0, "mean", True, True),
    lambda z, t: _k.ce_plain(z, t, -1, None, -100, 0.0, "avg", True, True),
    lambda z, t: _k.ce_plain(z, t + 4, -1, None, -100, 0.0, "mean", True, True),
    lambda z, t: _k.ce_plain(z, t.astype(np.float64), -1, None, -100, 0.0, "mean", True, True),
])
def test_plain_declines(call):
    z = np.random.default_rng(5).standard_normal((8, 4))
    t = np.arange(8) % 4
    assert call(z, t) is None


def test_declined_calls_raise_as_before():
    z = np.zeros((3, 4))
    with pytest.raises(ValueError, match="cross_entropy: target class index 7 at position"):
        fl.cross_entropy(z, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="reduction"):
        fl.cross_entropy(z, np.array([0, 1, 1]), reduction="avg")
    with pytest.raises(TypeError, match="label_smoothing"):
        fl.cross_entropy(z, np.array([0, 1, 1]), label_smoothing=True)
    with pytest.raises(ValueError, match="num_threads"):
        fl.softmax(z, axis=-1, num_threads=0)


def test_plain_threads_and_inputs_untouched():
    """Big enough for several blocks and threads: the same bits on any
    thread count, the input unchanged."""
    rng = np.random.default_rng(6)
    z = rng.standard_normal((200_003, 7)).astype(np.float32)
    lab = rng.integers(0, 7, z.shape[0])
    z0, lab0 = z.copy(), lab.copy()
    one = fl.cross_entropy_loss_and_grad(z, lab, num_threads=1)
    two = fl.cross_entropy_loss_and_grad(z, lab, num_threads=2)
    for a, b in zip(one, two):
        _same(a, b)
    _same(fl.softmax(z, axis=-1, num_threads=1), fl.softmax(z, axis=-1, num_threads=2))
    _same(z, z0)
    _same(lab, lab0)
