"""Multi-class kernels on every memory layout: C order, Fortran order, the
class axis first (axis=0), a strided class axis inside (N, C, d), negative
strides, rows that repeat (zero stride), with class counts on both sides of
the short-row kernel's cut-over and row counts that leave partial blocks.
Values are checked against a direct extended-precision computation."""
import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels as _k
from fastlogistic import _kernels

LEVELS = _kernels.cpu_simd_levels()
DTYPES = [np.float64, np.float32]
CLASSES = [2, 3, 5, 8, 10, 12, 15, 16, 17, 31, 32, 33, 64]
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


# ---------------------------------------------------------------------------
# a class axis inside an N-D array: (N, C, d1[, d2]) with axis=1 (PyTorch's
# segmentation layout).  The other axes merge into two groups (N, then d1 d2),
# which the kernels take as an (outer, rows, C) view: no transposed copy.
# ---------------------------------------------------------------------------

ND_CLASSES = [2, 3, 10, 40, 300]      # 300: above the row-per-lane limit
ND_VIEWS = ["nd4", "nd3", "sliceN", "sliced1", "stepd2", "classes", "copy"]


def _nd(z4, view):
    """A view of the C-order (N, C, d1, d2) array z4 (or of a larger array
    holding it), class axis 1."""
    N, C, d1, d2 = z4.shape
    if view == "nd4":
        return z4.copy()
    if view == "nd3":             # (N, C, d1 * d2)
        return z4.reshape(N, C, d1 * d2).copy()
    if view == "sliceN":          # every other sample
        a = np.zeros((2 * N, C, d1, d2), z4.dtype)
        a[::2] = z4
        return a[::2]
    if view == "sliced1":         # rows of a sample not whole: d1 cut
        a = np.zeros((N, C, d1 + 2, d2), z4.dtype)
        a[:, :, 1:-1] = z4
        return a[:, :, 1:-1]
    if view == "stepd2":          # the last axis with a step
        a = np.zeros((N, C, d1, 2 * d2), z4.dtype)
        a[..., ::2] = z4
        return a[..., ::2]
    if view == "classes":         # the class axis a slice of a larger one
        a = np.zeros((N, C + 3, d1, d2), z4.dtype)
        a[:, 1:-2] = z4
        return a[:, 1:-2]
    if view == "copy":            # three groups: still copied, still right
        a = np.zeros((N, C, 2 * d1, d2 + 1), z4.dtype)
        a[:, :, ::2, :-1] = z4
        return a[:, :, ::2, :-1]
    raise AssertionError(view)


def _same_bits_as_class_last(dt, C):
    """Where the class-last C-order array runs the same kernel as a strided
    class axis: up to the level's row-per-lane limit for C order
    (_kernels.lanes_maxc: 15 classes; at AVX-512 63 float32, 31 float64), row per lane
    on both.  Above it C order takes the row kernel and the strided axis
    the row per lane one (any class count where the rows are one element
    apart), whose results may differ in the last bits (FMA contractions;
    the row per lane kernel's 1 / S multiplies and its log1p shares that
    reciprocal)."""
    return C <= _k.lanes_maxc(np.dtype(dt) == np.float64)


def _nd_data(C, dt, rng, shape=(3, 5, 7)):
    N, d1, d2 = shape
    z = rng.standard_normal((N, C, d1, d2)) * 4.0
    z[0, 0, 0, 0] = 25.0 if dt == np.float32 else 60.0
    return z.astype(dt)


def _class_last(a):
    return np.ascontiguousarray(np.moveaxis(a, 1, -1))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("view", ND_VIEWS)
def test_nd_class_axis_softmax(level, dt, view):
    rng = np.random.default_rng(13)
    for C in ND_CLASSES:
        z4 = _nd_data(C, dt, rng)
        a = _nd(z4, view)
        z2 = _logical(a, 1)
        ref_ls, ref_sm = _ref(z2)
        scale = np.max(np.abs(ref_ls), axis=1, keepdims=True)
        zl = _class_last(a)
        for fn, ref in ((fl.softmax, ref_sm), (fl.log_softmax, ref_ls)):
            got = fn(a, axis=1)
            assert got.shape == a.shape and got.dtype == dt
            if fn is fl.softmax:
                assert _close(_logical(got, 1), ref, dt), (level, view, C)
            else:
                err = np.abs(_logical(got, 1).astype(LD) - ref)
                assert np.all(err <= 8 * LD(np.finfo(dt).eps) * scale), (level, view, C)
            if _same_bits_as_class_last(dt, C):
                np.testing.assert_array_equal(got, np.moveaxis(fn(zl, axis=-1), -1, 1))
            # into a given output: C order, and a strided view of another array
            out = np.full(a.shape, np.nan, dt)
            assert fn(a, axis=1, out=out) is out
            np.testing.assert_array_equal(out, got)
            big = np.full(a.shape[:-1] + (2 * a.shape[-1],), np.nan, dt)
            fn(a, axis=1, out=big[..., 1::2])
            np.testing.assert_array_equal(big[..., 1::2], got)
            assert np.all(np.isnan(big[..., ::2]))
        if view in ("nd4", "nd3"):
            b = a.copy()
            fl.softmax(b, axis=1, out=b)                    # in place
            np.testing.assert_array_equal(b, fl.softmax(a, axis=1))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("view", ["nd4", "sliceN", "sliced1", "classes", "copy"])
def test_nd_class_axis_cross_entropy(level, dt, view):
    rng = np.random.default_rng(17)
    for C in ND_CLASSES:
        z4 = _nd_data(C, dt, rng)
        a = _nd(z4, view)
        z2 = _logical(a, 1)
        batch = (a.shape[0],) + a.shape[2:]
        n = int(np.prod(batch))
        y = rng.integers(0, C, batch)
        y.reshape(-1)[::5] = -100
        t4 = rng.dirichlet(np.ones(C), batch).astype(dt)     # (N, d1, d2, C)
        t = _nd(np.ascontiguousarray(np.moveaxis(t4, -1, 1)), view)
        w = rng.uniform(0.5, 2.0, C).astype(dt)
        same = _same_bits_as_class_last(dt, C)
        for target in ("idx", "prob"):
            tgt = y if target == "idx" else t
            tgt_last = y if target == "idx" else _class_last(t)
            for weight in (None, w):
                for eps in (0.0, 0.2):
                    kw = dict(weight=weight, label_smoothing=eps)
                    loss, g = fl.cross_entropy_loss_and_grad(a, tgt, axis=1, reduction="none",
                                                             **kw)
                    rl, rg, gs = _ce_ref(z2, y.reshape(-1) if target == "idx" else None,
                                         None if target == "idx" else _logical(t, 1),
                                         weight, -100, eps)
                    assert loss.shape == batch and g.shape == a.shape and g.dtype == dt
                    assert _close(loss.reshape(-1), rl, dt, 16), (level, view, C, target)
                    err = np.abs(_logical(g, 1).astype(LD) - rg)
                    assert np.all(err <= 16 * LD(np.finfo(dt).eps) * gs), (level, view, C)
                    for red in ("sum", "mean"):
                        s = fl.cross_entropy(a, tgt, axis=1, reduction=red, **kw)
                        gr = fl.cross_entropy_grad(a, tgt, axis=1, reduction=red, **kw)
                        denom = (np.sum(np.ones(n) if weight is None else
                                        weight[y.reshape(-1)[y.reshape(-1) >= 0]].astype(LD))
                                 if red == "mean" and target == "idx" else 1)
                        if target == "idx" and weight is None and red == "mean":
                            denom = np.sum(y >= 0)
                        if red == "mean" and target == "prob":
                            denom = n
                        want = np.sum(rl) / LD(denom)
                        assert abs(LD(s) - want) <= 64 * LD(np.finfo(dt).eps) * np.sum(
                            np.abs(rl)) / LD(denom), (level, view, C, target, red)
                        np.testing.assert_allclose(
                            _logical(gr, 1), (rg / LD(denom)).astype(np.float64),
                            rtol=0, atol=float(32 * np.finfo(dt).eps * np.max(gs) / denom))
                        if same:
                            s_last = fl.cross_entropy(_class_last(a), tgt_last, reduction=red,
                                                      **kw)
                            assert s.tobytes() == s_last.tobytes(), (level, view, C, red)
                    if same:
                        l2, g2 = fl.cross_entropy_loss_and_grad(
                            _class_last(a), tgt_last, reduction="none", **kw)
                        np.testing.assert_array_equal(loss, l2)
                        np.testing.assert_array_equal(g, np.moveaxis(g2, -1, 1))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("view", ["nd4", "sliceN", "classes"])
def test_nd_class_axis_categorical(level, dt, view):
    """categorical_cross_entropy on probabilities with the class axis inside
    (the row-per-lane kernel up to 256 classes for index targets and for the
    gradient, the row kernel otherwise): the same bits as class-last."""
    rng = np.random.default_rng(19)
    for C in ND_CLASSES:
        batch = (3, 5, 7)
        p4 = np.moveaxis(rng.dirichlet(np.ones(C), batch), -1, 1).astype(dt)
        a = _nd(np.ascontiguousarray(p4), view)
        y = rng.integers(0, C, batch)
        y[0, 0, :3] = -100
        t = _nd(np.ascontiguousarray(np.moveaxis(
            rng.dirichlet(np.ones(C), batch), -1, 1).astype(dt)), view)
        w = rng.uniform(0.5, 2.0, C).astype(dt)
        p2 = _logical(a, 1).astype(LD)
        for tgt in (y, t):
            tl = y if tgt is y else _class_last(t)
            for weight in (None, w):
                wv = np.ones(C, LD) if weight is None else weight.astype(LD)
                loss = fl.categorical_cross_entropy(a, tgt, axis=1, weight=weight,
                                                    reduction="none")
                g = fl.categorical_cross_entropy_grad(a, tgt, axis=1, weight=weight,
                                                      reduction="sum")
                if tgt is y:
                    yy = y.reshape(-1)
                    keep = yy >= 0
                    tt = np.zeros(p2.shape, LD)
                    tt[np.arange(yy.size)[keep], yy[keep]] = 1
                else:
                    tt = _logical(t, 1).astype(LD)
                tt *= wv
                rl = -np.sum(tt * np.maximum(np.log(p2), -100), axis=1)
                assert _close(loss.reshape(-1), rl, dt, 16), (level, view, C)
                np.testing.assert_allclose(_logical(g, 1), -tt / np.maximum(p2, 1e-12),
                                           rtol=4 * np.finfo(dt).eps)
                # the same bits as the class-last array's row kernel
                np.testing.assert_array_equal(
                    loss, fl.categorical_cross_entropy(_class_last(a), tl, weight=weight,
                                                       reduction="none"))
                for red in ("sum", "mean"):
                    assert (fl.categorical_cross_entropy(a, tgt, axis=1, weight=weight,
                                                         reduction=red).tobytes()
                            == fl.categorical_cross_entropy(_class_last(a), tl, weight=weight,
                                                            reduction=red).tobytes())
                np.testing.assert_array_equal(
                    g, np.moveaxis(fl.categorical_cross_entropy_grad(
                        _class_last(a), tl, weight=weight, reduction="sum"), -1, 1))
        bad = a.copy()
        bad[1, C - 1, 2, 3] = 1.5
        with pytest.raises(ValueError, match=r"1\.5.*\(1, %d, 2, 3\)" % (C - 1)):
            fl.categorical_cross_entropy(bad, y, axis=1)


@pytest.mark.parametrize("dt", DTYPES)
def test_nd_class_axis_no_copy(dt):
    """No array of the input's size is made beyond the result itself (NumPy
    reports its allocations to tracemalloc)."""
    import tracemalloc
    rng = np.random.default_rng(23)
    z = (rng.standard_normal((8, 10, 32, 64)) * 3).astype(dt)
    y = rng.integers(0, 10, (8, 32, 64))
    t = fl.softmax(rng.standard_normal(z.shape).astype(dt), axis=1)
    sl = np.zeros((8, 10, 34, 64), dt)[:, :, 1:-1]        # rows of a sample not whole
    sl[...] = z
    out = np.empty_like(z)
    calls = [
        ("softmax out=", lambda: fl.softmax(z, axis=1, out=out), 0),
        ("log_softmax out=", lambda: fl.log_softmax(sl, axis=1, out=out), 0),
        ("softmax", lambda: fl.softmax(sl, axis=1), 1),
        ("cross_entropy idx", lambda: fl.cross_entropy(z, y, axis=1), 0),
        ("cross_entropy prob", lambda: fl.cross_entropy(sl, t, axis=1, label_smoothing=0.1), 0),
        ("cross_entropy none", lambda: fl.cross_entropy(z, y, axis=1, reduction="none"), 0),
        ("loss_and_grad", lambda: fl.cross_entropy_loss_and_grad(sl, y, axis=1), 1),
        ("grad prob", lambda: fl.cross_entropy_grad(z, t, axis=1), 1),
        ("categorical", lambda: fl.categorical_cross_entropy(t, y, axis=1), 0),
    ]
    tracemalloc.start()
    try:
        for name, f, results in calls:
            f()
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            r = f()
            extra = tracemalloc.get_traced_memory()[1] - base
            del r
            assert extra < (results + 0.25) * z.nbytes, (name, extra, z.nbytes)
    finally:
        tracemalloc.stop()


def test_nd_class_axis_torch():
    """fastlogistic.torch.cross_entropy on an (N, C, d1, d2) input (class
    axis 1, C order) against torch's, loss and gradient."""
    torch = pytest.importorskip("torch")
    from fastlogistic import torch as flt
    rng = np.random.default_rng(29)
    for dt in (torch.float32, torch.float64):
        for C in (3, 10, 40):
            z = torch.tensor(rng.standard_normal((4, C, 16, 24)) * 3, dtype=dt)
            y = torch.tensor(rng.integers(0, C, (4, 16, 24)))
            y[0, :2] = -100
            w = torch.tensor(rng.uniform(0.5, 2.0, C), dtype=dt)
            for kw in ({}, {"weight": w, "label_smoothing": 0.1}, {"reduction": "none"}):
                a = z.clone().requires_grad_()
                b = z.clone().requires_grad_()
                la = flt.cross_entropy(a, y, **kw)
                lb = torch.nn.functional.cross_entropy(b, y, **kw)
                la.sum().backward()
                lb.sum().backward()
                tol = 1e-5 if dt == torch.float32 else 1e-12
                torch.testing.assert_close(la, lb, rtol=tol, atol=tol)
                # torch's float32 gradient is the one that cancels: absolute
                torch.testing.assert_close(a.grad, b.grad, rtol=tol, atol=tol / 4)


@pytest.mark.parametrize("dt", DTYPES)
def test_class_last_rows_cut(level, dt):
    """The class axis last and contiguous but the rows of a sample not whole
    ((N, d1, d2, C)[:, 1:-1]): an (outer, rows, C) view whose lane blocks are
    staged.  Values against long double, and the same bits as the copy
    where the same kernel runs."""
    rng = np.random.default_rng(31)
    for C in ND_CLASSES:
        big = (rng.standard_normal((3, 7, 5, C)) * 4).astype(dt)
        a = big[:, 1:-1]
        ac = a.copy()
        y = rng.integers(0, C, a.shape[:-1])
        ref_ls, ref_sm = _ref(ac.reshape(-1, C))
        sm = fl.softmax(a, axis=-1)
        assert _close(sm.reshape(-1, C), ref_sm, dt), (level, C)
        loss, g = fl.cross_entropy_loss_and_grad(a, y, reduction="none")
        rl, rg, gs = _ce_ref(ac.reshape(-1, C), y.reshape(-1), None, None, -100, 0.0)
        assert _close(loss.reshape(-1), rl, dt, 16), (level, C)
        assert np.all(np.abs(g.reshape(-1, C).astype(LD) - rg)
                      <= 16 * LD(np.finfo(dt).eps) * gs), (level, C)
        p = fl.softmax(a, axis=-1)
        pb = np.zeros(big.shape, dt)
        pb[:, 1:-1] = p
        cl = fl.categorical_cross_entropy(pb[:, 1:-1], y, reduction="none")
        np.testing.assert_array_equal(cl, fl.categorical_cross_entropy(p, y, reduction="none"))
        if _same_bits_as_class_last(dt, C):
            np.testing.assert_array_equal(sm, fl.softmax(ac, axis=-1))
            l2, g2 = fl.cross_entropy_loss_and_grad(ac, y, reduction="none")
            np.testing.assert_array_equal(loss, l2)
            np.testing.assert_array_equal(g, g2)
            assert (fl.cross_entropy(a, y).tobytes() == fl.cross_entropy(ac, y).tobytes())


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("layout", ["C", "F"])
def test_rows_do_not_depend_on_their_neighbours(level, dt, layout):
    """The row-per-lane kernel picks a lean path for a block of rows that are
    all finite (with or without exp's lower clamp, by the block's widest
    range) and the general one otherwise: a row gives the same bits whatever
    the other rows of its block hold (a NaN, an inf, a range wide enough for
    exp's clamp, or none of these)."""
    rng = np.random.default_rng(37)
    far = -150.0 if dt == np.float32 else -900.0       # beyond exp's range
    poisons = [np.nan, np.inf, -np.inf, far, 1e30 if dt == np.float32 else 1e300]
    for C in (2, 3, 5, 8, 15, 40):
        N = 70
        z = (rng.standard_normal((N, C)) * 4).astype(dt)
        z[5, 0] = far                                   # clamped in a lean block
        z[6, :] = 1.5                                   # all at the maximum
        z[7, 1 % C] = z[7, 0] = 9.0                     # two maxima
        z[8, :] = -1.0
        z[8, 0], z[8, 1] = -0.0, 0.0                    # maxima -0 and +0
        idx = rng.integers(0, C, N)
        idx[9] = -100
        t = rng.dirichlet(np.ones(C), N).astype(dt)
        w = rng.uniform(0.5, 2.0, C).astype(dt)

        def run(a):
            a = np.asfortranarray(a) if layout == "F" else np.ascontiguousarray(a)
            r = [fl.softmax(a, axis=-1), fl.log_softmax(a, axis=-1)]
            for tgt in (idx, t):
                for kw in ({}, {"weight": w, "label_smoothing": 0.1}):
                    r.extend(fl.cross_entropy_loss_and_grad(a, tgt, reduction="none", **kw))
            return r

        base = run(z)
        for p in poisons:
            for r in (0, 3, 17, 33, 64):
                zp = z.copy()
                zp[r, C // 2] = p
                got = run(zp)
                keep = np.arange(N) != r
                for a, b in zip(base, got):
                    np.testing.assert_array_equal(a[keep], b[keep], err_msg=f"{C} {p} {r}")
