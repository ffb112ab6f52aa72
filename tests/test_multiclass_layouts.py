"""Multi-class kernels on every memory layout: C order, Fortran order, the
class axis first (axis=0), a strided class axis inside (N, C, d), negative
strides, rows that repeat (zero stride), with class counts on both sides of
the short-row kernel's cut-over and row counts that leave partial blocks.
Values are checked against a direct extended-precision computation."""
import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels

LEVELS = _kernels.cpu_simd_levels()
DTYPES = [np.float64, np.float32]
CLASSES = [2, 3, 5, 8, 16, 17, 31, 32, 33, 64]
LAYOUTS = ["C", "F", "axis0", "mid", "neg", "zero", "step"]
LD = np.longdouble


@pytest.fixture
def level(simd_level):
    """conftest's simd_level (every level this CPU runs), under this module's name."""
    return simd_level


def _layout(z, kind):
    """(array, axis) holding the rows of the C-order (N, C) array z in layout
    `kind`; the rows the function sees are _logical(array, axis)."""
    N, C = z.shape
    if kind == "C":
        return z.copy(), -1
    if kind == "F":
        return np.asfortranarray(z), -1
    if kind == "axis0":
        return np.ascontiguousarray(z.T), 0
    if kind == "mid":             # (N, C, 1) -> class axis 1, strided by d
        a = np.empty((N, C, 3), z.dtype)
        a[...] = z[:, :, None]
        return a[:, :, 1:2], 1
    if kind == "neg":
        return np.ascontiguousarray(z[::-1, ::-1])[::-1, ::-1], -1
    if kind == "zero":            # every row the same (stride 0)
        return np.broadcast_to(z[:1], z.shape), -1
    if kind == "step":            # classes two elements apart
        a = np.zeros((N, 2 * C), z.dtype)
        a[:, ::2] = z
        return a[:, ::2], -1
    raise AssertionError(kind)


def _logical(a, ax):
    return np.moveaxis(np.asarray(a), ax, -1).reshape(-1, np.asarray(a).shape[ax])


def _ref(z2):
    """log_softmax and softmax of each row, in long double."""
    z = z2.astype(LD)
    m = np.max(z, axis=1, keepdims=True)
    top = z == m
    # sum of exp(z - m) is 1 + s1: log1p(s1) keeps the digits of tiny losses
    s1 = (np.sum(np.where(top, 0, np.exp(z - m)), axis=1, keepdims=True)
          + (np.sum(top, axis=1, keepdims=True) - 1))
    ls = z - m - np.log1p(s1)
    return ls, np.exp(ls)


def _close(got, ref, dt, k=8):
    ref = np.asarray(ref, LD)
    got = np.asarray(got, LD)
    eps = LD(np.finfo(dt).eps)
    tiny = LD(np.finfo(dt).tiny)
    return np.all(np.abs(got - ref) <= k * eps * np.maximum(np.abs(ref), tiny) + 16 * tiny)


def _data(N, C, dt, rng):
    z = rng.standard_normal((N, C)) * 4.0
    z[0, 0] = 25.0 if dt == np.float32 else 60.0      # a confident row
    return z.astype(dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_layouts(level, dt, layout):
    rng = np.random.default_rng(3)
    for C in CLASSES:
        for N in (1, 7, 37):
            z = _data(N, C, dt, rng)
            a, ax = _layout(z, layout)
            ref_ls, ref_sm = _ref(_logical(a, ax))
            sm = fl.softmax(a, axis=ax)
            ls = fl.log_softmax(a, axis=ax)
            assert sm.shape == a.shape and sm.dtype == dt
            scale = np.max(np.abs(ref_ls), axis=1, keepdims=True)
            assert _close(_logical(sm, ax), ref_sm, dt), (level, layout, C, N)
            err = np.abs(_logical(ls, ax).astype(LD) - ref_ls)
            assert np.all(err <= 8 * LD(np.finfo(dt).eps) * scale), (level, layout, C, N)
            if layout in ("C", "F", "axis0", "neg"):
                out = a.copy(order="K")
                fl.softmax(out, axis=ax, out=out)       # in place
                assert _close(_logical(out, ax), ref_sm, dt), (level, layout, C, N)


def _ce_ref(z2, y, t, w, ign, eps):
    """per-row loss and gradient (reduction 'none'), long double"""
    ls, sm = _ref(z2)
    N, C = z2.shape
    wv = np.ones(C, LD) if w is None else w.astype(LD)
    if t is None:
        keep = y != ign
        tt = np.zeros((N, C), LD)
        tt[np.arange(N)[keep], y[keep]] = 1
    else:
        keep = np.ones(N, bool)
        tt = t.astype(LD)
    tt = (1 - LD(eps)) * tt + LD(eps) / C
    tt *= wv
    tt[~keep] = 0
    loss = -np.sum(tt * np.where(tt != 0, ls, 0), axis=1)
    grad = sm * np.sum(tt, axis=1, keepdims=True) - tt
    # the size of the terms that cancel in the gradient
    scale = np.max(np.maximum(sm * np.sum(tt, axis=1, keepdims=True), tt), axis=1, keepdims=True)
    return loss, grad, scale


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_cross_entropy_layouts(level, dt, layout):
    rng = np.random.default_rng(5)
    for C in CLASSES:
        N = 37
        z = _data(N, C, dt, rng)
        a, ax = _layout(z, layout)
        z2 = _logical(a, ax)
        batch = tuple(s for i, s in enumerate(a.shape) if i != ax % a.ndim)
        y = rng.integers(0, C, N)
        y[::5] = -100
        if layout == "zero":
            y[:] = y[1]
        t = rng.dirichlet(np.ones(C), N).astype(dt)
        w = rng.uniform(0.5, 2.0, C).astype(dt)
        for target in ("idx", "prob"):
            for weight in (None, w):
                for eps in (0.0, 0.2):
                    if target == "idx":
                        tgt, yy, tt = y.reshape(batch), y, None
                    else:
                        ta, _ = _layout(t, layout if layout != "zero" else "C")
                        tgt, yy, tt = ta, None, _logical(ta, ax)
                    loss, g = fl.cross_entropy_loss_and_grad(
                        a, tgt, axis=ax, weight=weight, label_smoothing=eps, reduction="none")
                    rl, rg, gs = _ce_ref(z2, yy, tt, weight, -100, eps)
                    assert g.shape == a.shape and g.dtype == dt
                    assert _close(loss.reshape(-1), rl, dt, 16), (level, layout, C, target)
                    err = np.abs(_logical(g, ax).astype(LD) - rg)
                    assert np.all(err <= 16 * LD(np.finfo(dt).eps) * gs), (level, layout, C)
                    s = fl.cross_entropy(a, tgt, axis=ax, weight=weight, label_smoothing=eps,
                                         reduction="sum")
                    assert abs(LD(s) - np.sum(rl)) <= 64 * LD(np.finfo(dt).eps) * np.sum(
                        np.abs(rl)), (level, layout, C, target)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("layout", ["F", "axis0", "mid"])
def test_cross_entropy_grad_finite_differences(level, dt, layout):
    rng = np.random.default_rng(9)
    for C in (3, 17, 40):
        z = rng.standard_normal((5, C))
        y = rng.integers(0, C, 5)
        a, ax = _layout(z, layout)
        batch = tuple(s for i, s in enumerate(a.shape) if i != ax % a.ndim)
        g = fl.cross_entropy_grad(a.astype(dt), y.reshape(batch), axis=ax, reduction="sum")
        fd = np.empty_like(a)
        h = 1e-6
        for idx in np.ndindex(a.shape):
            ap, am = a.copy(), a.copy()
            ap[idx] += h
            am[idx] -= h
            fd[idx] = (fl.cross_entropy(ap, y.reshape(batch), axis=ax, reduction="sum")
                       - fl.cross_entropy(am, y.reshape(batch), axis=ax, reduction="sum")) / (2 * h)
        tol = 1e-6 if dt == np.float64 else 2e-5
        np.testing.assert_allclose(g, fd, atol=tol, rtol=1e-4)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F", "axis0", "step"])
def test_limits_layouts(level, dt, layout):
    """+-inf, NaN and huge logits: the limits of the row kernels, whatever
    the layout and on both sides of the cut-over."""
    inf, nan = np.inf, np.nan
    huge = np.finfo(dt).max / 4
    for C in (3, 17, 40):
        z = np.zeros((20, C))
        z[:, 2:] = np.linspace(-2, 2, C - 2)
        z[0, 0] = inf                   # one-hot
        z[1, :] = -inf                  # indeterminate
        z[2, 1] = nan
        z[3, 0] = z[3, 1] = inf         # indeterminate
        z[4, 0] = huge
        z[4, 1] = -huge                 # one-hot at 0
        z[5, 0] = -inf                  # probability 0 there
        z = z.astype(dt)
        a, ax = _layout(z, layout)
        with np.errstate(all="raise"):
            sm = _logical(fl.softmax(a, axis=ax), ax)
            ls = _logical(fl.log_softmax(a, axis=ax), ax)
            loss, g = fl.cross_entropy_loss_and_grad(a, np.zeros(20, np.int64).reshape(
                tuple(s for i, s in enumerate(a.shape) if i != ax % a.ndim)), axis=ax,
                reduction="none")
        g = _logical(g, ax)
        loss = loss.reshape(-1)
        np.testing.assert_array_equal(sm[0], np.eye(C)[0])
        np.testing.assert_array_equal(ls[0, 1:], -inf)
        assert ls[0, 0] == 0 and loss[0] == 0 and np.all(g[0] == 0)
        for r in (1, 2, 3):
            assert np.all(np.isnan(sm[r])) and np.all(np.isnan(ls[r])) and np.isnan(loss[r])
        np.testing.assert_array_equal(sm[4], np.eye(C)[0])
        assert loss[4] == 0
        assert sm[5, 0] == 0 and ls[5, 0] == -inf and loss[5] == inf
        ref_ls, ref_sm = _ref(z[6:].astype(np.float64))
        assert _close(sm[6:], ref_sm, dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_rows_do_not_depend_on_their_block(level, dt):
    """A row's result is the same bits wherever the rows start (Dask chunks
    split the rows anywhere): full blocks and the staged last block agree."""
    rng = np.random.default_rng(11)
    for C in (2, 3, 11, 32, 40):
        z = (rng.standard_normal((203, C)) * 4).astype(dt)
        idx = rng.integers(0, C, 203)
        t = rng.dirichlet(np.ones(C), 203).astype(dt)
        w = rng.uniform(0.5, 2.0, C).astype(dt)
        for tgt in (idx, t):
            for kw in ({}, {"weight": w, "label_smoothing": 0.1}):
                a = fl.cross_entropy_loss_and_grad(z, tgt, reduction="none", **kw)
                for s in (1, 3, 50):
                    b = fl.cross_entropy_loss_and_grad(z[s:], tgt[s:], reduction="none", **kw)
                    np.testing.assert_array_equal(a[0][s:], b[0])
                    np.testing.assert_array_equal(a[1][s:], b[1])
        for s in (1, 3, 50):
            np.testing.assert_array_equal(fl.softmax(z, axis=-1)[s:], fl.softmax(z[s:], axis=-1))
            np.testing.assert_array_equal(fl.log_softmax(z, axis=-1)[s:],
                                          fl.log_softmax(z[s:], axis=-1))
