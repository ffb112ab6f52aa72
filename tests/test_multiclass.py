"""softmax, log_softmax, cross_entropy, categorical_cross_entropy."""
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fastlogistic as fl
from fastlogistic import _kernels

LEVELS = _kernels.cpu_simd_levels()
DTYPES = [np.float64, np.float32]


@pytest.fixture
def level(simd_level):
    """conftest's simd_level (every level this CPU runs), under this module's name."""
    return simd_level


def _ulp(x, dt):
    x = np.abs(np.asarray(x, np.float64))
    tiny = np.finfo(dt).tiny
    return np.spacing(np.maximum(x, tiny).astype(dt)).astype(np.float64)


def _ref_rows(z):
    """mpmath log_softmax and softmax per row."""
    mpmath.mp.dps = 360   # tiny losses log1p(1e-300) need the digits below 1
    ls, sm = [], []
    for row in z:
        v = [mpmath.mpf(float(x)) for x in row]
        m = max(v)
        lse = m + mpmath.log(mpmath.fsum(mpmath.exp(x - m) for x in v))
        ls.append([float(x - lse) for x in v])
        sm.append([float(mpmath.exp(x - lse)) for x in v])
    return np.array(ls), np.array(sm)


def _rows(dt, rng):
    out = []
    for C in (1, 2, 3, 10, 17, 33, 100):
        for scale in (0.1, 3.0, 30.0):
            z = (rng.standard_normal((3, C)) * scale).astype(dt)
            out.append(z)
    big = 600.0 if dt == np.float64 else 80.0
    out.append(np.array([[big, 0.0, -big], [-big, big - 1, big]], dt))
    out.append(np.array([[40.0, 0.0, 1.0], [0.0, 30.0, 1e-3]], dt))   # tiny losses
    return out


@pytest.mark.parametrize("dt", DTYPES)
def test_values_against_mpmath(level, dt):
    rng = np.random.default_rng(1)
    for z in _rows(dt, rng):
        ls_ref, sm_ref = _ref_rows(z)
        ls = fl.log_softmax(z, axis=-1)
        sm = fl.softmax(z, axis=-1)
        assert ls.dtype == dt and sm.dtype == dt
        scale = np.max(np.abs(ls_ref), axis=1, keepdims=True)
        assert np.all(np.abs(ls - ls_ref) <= 4 * _ulp(scale, dt)), (level, z)
        ok = np.abs(sm - sm_ref) <= 4 * _ulp(sm_ref, dt)
        # results below the dtype's normal range are compared in absolute terms
        ok |= sm_ref < np.finfo(dt).tiny
        assert np.all(ok), (level, z, sm, sm_ref)
        # hard-target loss = -log_softmax at the target, within 4 ULP
        y = np.arange(z.shape[0]) % z.shape[1]
        loss = fl.cross_entropy(z, y, reduction="none")
        ref = -ls_ref[np.arange(z.shape[0]), y]
        assert np.all(np.abs(loss - ref) <= 4 * _ulp(ref, dt)), (level, z, loss, ref)
        y = np.argmax(z, axis=1)        # confident, correct: tiny losses keep digits
        loss = fl.cross_entropy(z, y, reduction="none")
        ref = -ls_ref[np.arange(z.shape[0]), y]
        assert np.all(np.abs(loss - ref) <= 4 * _ulp(ref, dt)), (level, z, loss, ref)


def test_limits_no_warnings(level):
    inf, nan = np.inf, np.nan
    z = np.array([[inf, 0.0, 1.0], [-inf, -inf, -inf], [nan, 0.0, 1.0],
                  [inf, inf, 0.0], [-inf, 0.0, 1.0], [1.0, 2.0, -inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for dt in DTYPES:
            x = z.astype(dt)
            sm = fl.softmax(x, axis=-1)
            ls = fl.log_softmax(x, axis=-1)
            np.testing.assert_array_equal(sm[0], [1, 0, 0])
            np.testing.assert_array_equal(ls[0], [0, -inf, -inf])
            assert np.all(np.isnan(sm[1:4])) and np.all(np.isnan(ls[1:4]))
            assert sm[4, 0] == 0 and ls[4, 0] == -inf and np.all(np.isfinite(ls[4, 1:]))
            loss, g = fl.cross_entropy_loss_and_grad(x, np.array([0, 0, 0, 0, 1, 2]),
                                                     reduction="none")
            assert loss[0] == 0 and np.all(g[0] == 0)
            assert np.all(np.isnan(loss[1:4]))
            assert np.isfinite(loss[4]) and loss[5] == inf
            assert fl.cross_entropy(x[:1], np.array([1]), reduction="sum") == inf


def _ref_rows_ld(z):
    """log_softmax, softmax and log-sum-exp - max per row in long double, from
    d = z - m and S1 = the sum of exp(d) but one maximum's (m + log1p(S1) is
    the log-sum-exp, as the kernels form it)."""
    zl = z.astype(np.longdouble)
    m = zl.max(axis=1, keepdims=True)
    d = zl - m
    e = np.exp(d)
    e1 = e.copy()
    e1[np.arange(len(z)), np.argmax(zl, axis=1)] = 0
    s1 = e1.sum(axis=1, keepdims=True)
    lse = np.log1p(s1)
    return d - lse, e / (1 + s1), lse[:, 0]


@pytest.mark.parametrize("dt", DTYPES)
def test_long_rows_against_longdouble(level, dt):
    """Class counts above the row-per-lane kernels' (per-row kernels, contiguous
    class axis; index and probability targets, weights, label smoothing),
    with ranges that keep every z - max inside exp's range and
    ranges that do not (exp's lower clamp), against long double.  float64
    sums of float64 terms round once per term, so their bound grows with C:
    the vector levels add up 2 x lanes partial sums, the cython level one
    sequential sum (measured: 21 ULP at C = 4096, 6 at the vector levels)."""
    rng = np.random.default_rng(21)
    big = 600.0 if dt == np.float64 else 80.0
    for C in (33, 50, 100, 257, 1000, 4096):
        bound = 4.0
        if dt == np.float64:
            bound += np.sqrt(C) if level == "cython" else C / 256
        for scale in (0.1, 3.0, 30.0, big):
            z = (rng.standard_normal((max(3, 6000 // C), C)) * scale).astype(dt)
            ls_ref, sm_ref, lse_ref = _ref_rows_ld(z)
            ls = fl.log_softmax(z, axis=-1)
            sm = fl.softmax(z, axis=-1)
            rowscale = np.max(np.abs(ls_ref), axis=1, keepdims=True)
            err = np.abs(ls - ls_ref).astype(np.float64) / _ulp(rowscale, dt)
            assert err.max() <= bound, (level, C, scale, err.max())
            err = np.abs(sm - sm_ref).astype(np.float64) / _ulp(sm_ref, dt)
            err[sm_ref < np.finfo(dt).tiny] = 0
            assert err.max() <= bound, (level, C, scale, err.max())
            # confident, correct targets: the loss is log1p(S1), digits kept
            y = np.argmax(z, axis=1)
            loss = fl.cross_entropy(z, y, reduction="none")
            err = np.abs(loss - lse_ref).astype(np.float64) / _ulp(lse_ref, dt)
            assert err.max() <= bound, (level, C, scale, err.max())
            # any target: loss and gradient (p - onehot) / N
            y = rng.integers(0, C, len(z))
            loss, g = fl.cross_entropy_loss_and_grad(z, y, reduction="none")
            ref = -ls_ref[np.arange(len(z)), y]
            err = np.abs(loss - ref).astype(np.float64) / _ulp(ref, dt)
            assert err.max() <= bound, (level, C, scale, err.max())
            # at the target p_y - 1 = -(sum of p_c, c != y): no cancellation
            gref = sm_ref.copy()
            gref[np.arange(len(z)), y] = 0
            gref[np.arange(len(z)), y] = -gref.sum(axis=1)
            tol = bound * np.finfo(dt).eps
            np.testing.assert_allclose(g.astype(np.float64), gref.astype(np.float64),
                                       rtol=tol, atol=np.finfo(dt).tiny)
            # weights, label smoothing, probability targets: loss and gradient
            # ("sum": gradient factor 1) from the long double log_softmax
            w = rng.uniform(0.5, 2.0, C).astype(dt)
            t = rng.dirichlet(np.ones(C), len(z)).astype(dt)
            wl, eps = w.astype(np.longdouble), 0.1
            for tgt in (y, t):
                if tgt is y:
                    tp = np.full(z.shape, eps / C, np.longdouble)
                    tp[np.arange(len(z)), y] += 1 - eps
                else:
                    tp = (1 - eps) * t.astype(np.longdouble) + eps / C
                loss, g = fl.cross_entropy_loss_and_grad(z, tgt, weight=w, label_smoothing=eps,
                                                         reduction="sum")
                lref = np.sum(wl * tp * -ls_ref)
                assert abs(float(loss) - float(lref)) <= 8 * bound * np.finfo(dt).eps * abs(float(lref))
                a = np.sum(wl * tp, axis=1, keepdims=True)
                gref = (a * sm_ref - wl * tp).astype(np.float64)
                np.testing.assert_allclose(g, gref, rtol=8 * bound * np.finfo(dt).eps,
                                           atol=8 * bound * np.finfo(dt).eps * float(a.max()))
            # in place, over the logits themselves
            zz = z.copy()
            fl.softmax(zz, axis=-1, out=zz)
            np.testing.assert_array_equal(zz, sm)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("C", [40, 100, 1000])
def test_long_rows_special_values(level, dt, C):
    """Per-row kernels: rows off the fast path (+-inf, finite values whose
    difference overflows) and rows on it with a NaN or a tied maximum."""
    inf, nan = np.inf, np.nan
    rng = np.random.default_rng(C)
    base = rng.standard_normal(C)
    big = np.finfo(dt).max
    rows = {}
    r = base.copy(); r[3] = inf; rows["one_inf"] = r
    r = base.copy(); r[3] = r[C - 1] = inf; rows["two_inf"] = r
    r = base.copy(); r[5] = -inf; rows["minus_inf"] = r
    r = base.copy(); r[C - 2] = nan; rows["nan"] = r
    rows["all_minus_inf"] = np.full(C, -inf)
    r = base.copy(); r[1] = big; r[2] = -big; rows["overflow"] = r
    r = base.copy(); r[0] = r[7] = r[C - 1] = 5.0; rows["ties"] = r
    names = list(rows)
    z = np.array([rows[k] for k in names]).astype(dt)
    i = {k: n for n, k in enumerate(names)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sm = fl.softmax(z, axis=-1)
        ls = fl.log_softmax(z, axis=-1)
        y = np.zeros(len(z), np.int64)
        loss, g = fl.cross_entropy_loss_and_grad(z, y, reduction="none")
    onehot = np.eye(C)[3]
    np.testing.assert_array_equal(sm[i["one_inf"]], onehot)
    assert ls[i["one_inf"], 3] == 0 and np.all(ls[i["one_inf"], np.arange(C) != 3] == -inf)
    assert loss[i["one_inf"]] == inf
    for k in ("two_inf", "nan", "all_minus_inf"):
        assert np.all(np.isnan(sm[i[k]])) and np.all(np.isnan(ls[i[k]])), k
        assert np.isnan(loss[i[k]]) and np.all(np.isnan(g[i[k]])), k
    # -inf: probability 0, log -inf; the other classes as without it
    rest = np.arange(C) != 5
    assert sm[i["minus_inf"], 5] == 0 and ls[i["minus_inf"], 5] == -inf
    for k, cols in (("minus_inf", rest), ("ties", slice(None))):
        ls_ref, sm_ref, _ = _ref_rows_ld(z[i[k]][cols][None].astype(np.float64))
        np.testing.assert_allclose(sm[i[k]][cols], sm_ref[0].astype(np.float64),
                                   rtol=8 * np.finfo(dt).eps)
        np.testing.assert_allclose(ls[i[k]][cols], ls_ref[0].astype(np.float64),
                                   rtol=8 * np.finfo(dt).eps, atol=4 * np.finfo(dt).eps)
    # the three tied maxima share the mass of the maximum equally
    assert sm[i["ties"], 0] == sm[i["ties"], 7] == sm[i["ties"], C - 1]
    # finite values ~max apart: the maximum takes it all
    np.testing.assert_array_equal(sm[i["overflow"]], np.eye(C)[1])
    assert ls[i["overflow"], 1] == 0 and ls[i["overflow"], 2] == -inf
    assert loss[i["overflow"]] > 1e30


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("C", [1, 5, 40])
def test_gradients_finite_differences(level, dt, C):
    rng = np.random.default_rng(C)
    z = rng.standard_normal((4, C))
    y = rng.integers(0, C, 4)
    t = rng.dirichlet(np.ones(C), 4)
    w = rng.uniform(0.5, 2.0, C)
    h = 1e-6
    cases = [dict(target=y), dict(target=y, weight=w, label_smoothing=0.2),
             dict(target=t, weight=w, label_smoothing=0.1)]
    for kw in cases:
        for red in ("mean", "sum"):
            kw2 = dict(kw, target=kw["target"].astype(dt) if kw["target"].dtype.kind == "f"
                       else kw["target"])
            g = fl.cross_entropy_grad(z.astype(dt), reduction=red, **kw2)
            assert g.dtype == dt
            fd = np.empty_like(z)
            for idx in np.ndindex(z.shape):
                zp, zm = z.copy(), z.copy()
                zp[idx] += h
                zm[idx] -= h
                fd[idx] = (fl.cross_entropy(zp, reduction=red, **kw)
                           - fl.cross_entropy(zm, reduction=red, **kw)) / (2 * h)
            tol = 1e-6 if dt == np.float64 else 1e-5
            np.testing.assert_allclose(g, fd, atol=tol, rtol=1e-4)
    # categorical cross-entropy on probabilities
    p = rng.uniform(0.05, 0.95, (4, C))
    g = fl.categorical_cross_entropy_grad(p, t)
    fd = np.empty_like(p)
    for idx in np.ndindex(p.shape):
        pp, pm = p.copy(), p.copy()
        pp[idx] += h
        pm[idx] -= h
        fd[idx] = (fl.categorical_cross_entropy(pp, t) - fl.categorical_cross_entropy(pm, t)) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-6, rtol=1e-5)


def test_torch_parity(level):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(7)
    for dt, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
        for N, C in ((13, 4), (9, 50)):
            z = (rng.standard_normal((N, C)) * 4).astype(dt)
            y = rng.integers(0, C, N)
            y[::4] = 2                      # some ignored below
            t = rng.dirichlet(np.ones(C), N).astype(dt)
            w = rng.uniform(0.2, 3.0, C).astype(dt)
            for target in (y, t):
                for weight in (None, w):
                    for ls in (0.0, 0.3):
                        for ign in ((-100, 2) if target is y else (-100,)):
                            for red in ("mean", "sum", "none"):
                                zt = torch.tensor(z, requires_grad=True)
                                kw = dict(weight=None if weight is None else torch.tensor(weight),
                                          ignore_index=ign, label_smoothing=ls, reduction=red)
                                ref = F.cross_entropy(zt, torch.tensor(target), **kw)
                                ref.sum().backward()
                                loss, g = fl.cross_entropy_loss_and_grad(
                                    z, target, weight=weight, ignore_index=ign,
                                    label_smoothing=ls, reduction=red)
                                np.testing.assert_allclose(loss, ref.detach().numpy(),
                                                           rtol=tol, atol=tol)
                                np.testing.assert_allclose(g, zt.grad.numpy(), rtol=tol,
                                                           atol=tol)
                                assert np.asarray(loss).dtype == dt and g.dtype == dt
                                np.testing.assert_array_equal(
                                    fl.cross_entropy(z, target, weight=weight, ignore_index=ign,
                                                     label_smoothing=ls, reduction=red), loss)
                                np.testing.assert_array_equal(
                                    fl.cross_entropy_grad(z, target, weight=weight,
                                                          ignore_index=ign,
                                                          label_smoothing=ls, reduction=red), g)
            zt = torch.tensor(z)
            np.testing.assert_allclose(fl.softmax(z, axis=-1), F.softmax(zt, -1).numpy(), rtol=tol, atol=tol)
            np.testing.assert_allclose(fl.log_softmax(z, axis=-1), F.log_softmax(zt, -1).numpy(),
                                       rtol=tol, atol=tol)
            # categorical cross-entropy on probabilities = nll of log p
            p = F.softmax(zt, -1).numpy()
            pt = torch.tensor(p, requires_grad=True)
            for weight in (None, w):
                for red in ("mean", "sum", "none"):
                    ref = F.nll_loss(torch.log(pt), torch.tensor(y), reduction=red,
                                     weight=None if weight is None else torch.tensor(weight))
                    np.testing.assert_allclose(
                        fl.categorical_cross_entropy(p, y, weight=weight, reduction=red),
                        ref.detach().numpy(), rtol=tol * 10, atol=tol)
                    ref = -(torch.log(pt) * torch.tensor(t)).sum(-1)
                    ref = {"mean": ref.mean(), "sum": ref.sum(), "none": ref}[red]
                    pt.grad = None
                    ref.sum().backward()
                    np.testing.assert_allclose(fl.categorical_cross_entropy(p, t, reduction=red),
                                               ref.detach().numpy(), rtol=tol * 10, atol=tol)
                    np.testing.assert_allclose(
                        fl.categorical_cross_entropy_grad(p, t, reduction=red),
                        pt.grad.numpy(), rtol=tol * 10, atol=tol)


def test_thread_invariance_bitwise():
    rng = np.random.default_rng(3)
    for N, C in ((20000, 10), (300, 700), (5000, 37)):
        for dt in DTYPES:
            z = rng.standard_normal((N, C)).astype(dt)
            y = rng.integers(0, C, N)
            t = rng.dirichlet(np.ones(C), N).astype(dt)
            res = []
            for nt in (1, 2, 3):
                res.append((fl.cross_entropy_loss_and_grad(z, y, num_threads=nt),
                            fl.cross_entropy(z, t, label_smoothing=0.1, num_threads=nt),
                            fl.softmax(z, -1, num_threads=nt), fl.log_softmax(z, -1, num_threads=nt)))
            for r in res[1:]:
                assert r[0][0].tobytes() == res[0][0][0].tobytes()
                assert r[0][1].tobytes() == res[0][0][1].tobytes()
                assert r[1].tobytes() == res[0][1].tobytes()
                assert r[2].tobytes() == res[0][2].tobytes()
                assert r[3].tobytes() == res[0][3].tobytes()


def _np_log_softmax(z, axis):
    z = z.astype(np.float64)
    m = np.max(z, axis=axis, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=axis, keepdims=True))


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_shapes_axes_strides(data):
    dt = data.draw(st.sampled_from(DTYPES))
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    base = data.draw(hnp.arrays(dt, shape, elements=st.floats(-20, 20, width=32)))
    # strided / transposed / reversed views
    view = base
    if data.draw(st.booleans()):
        view = view.T
    if data.draw(st.booleans()):
        view = view[..., ::-1]
    if data.draw(st.booleans()) and view.shape[0] > 1:
        view = view[::2]
    axis = data.draw(st.integers(-view.ndim, view.ndim - 1))
    ref = _np_log_softmax(view, axis)
    tol = 1e-12 if dt == np.float64 else 2e-5
    ls = fl.log_softmax(view, axis=axis)
    assert ls.shape == view.shape and ls.dtype == dt
    np.testing.assert_allclose(ls, ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(fl.softmax(view, axis=axis), np.exp(ref), rtol=tol, atol=tol)
    C = view.shape[axis]
    batch = view.shape[:axis % view.ndim] + view.shape[axis % view.ndim + 1:]
    y = data.draw(hnp.arrays(np.int64, batch, elements=st.integers(0, C - 1)))
    loss = fl.cross_entropy(view, y, axis=axis, reduction="none")
    ref_l = -np.take_along_axis(ref, np.expand_dims(y, axis % view.ndim), axis).squeeze(axis)
    np.testing.assert_allclose(loss, ref_l, rtol=tol, atol=tol)
    g = fl.cross_entropy_grad(view, y, axis=axis, reduction="sum")
    onehot = np.moveaxis(np.eye(C)[y], -1, axis % view.ndim)
    np.testing.assert_allclose(g, np.exp(ref) - onehot, rtol=tol, atol=tol)
    # out= and in place
    out = np.empty_like(view)
    assert fl.log_softmax(view, axis=axis, out=out) is out
    np.testing.assert_array_equal(out, ls)
    copy = view.copy()
    fl.softmax(copy, axis=axis, out=copy)
    np.testing.assert_allclose(copy, np.exp(ref), rtol=tol, atol=tol)


def test_dtypes_and_empty():
    z = np.arange(6).reshape(2, 3)
    assert fl.softmax(z).dtype == np.float64
    assert fl.softmax(z.astype(np.float16)).dtype == np.float16
    assert fl.cross_entropy(z.astype(np.float32), np.array([0, 1])).dtype == np.float32
    e = np.empty((0, 4))
    assert fl.softmax(e, axis=-1).shape == (0, 4)
    assert fl.cross_entropy(e, np.empty(0, np.int64), reduction="sum") == 0
    assert np.isnan(fl.cross_entropy(e, np.empty(0, np.int64)))
    # unbatched input
    assert np.isclose(fl.cross_entropy(np.array([1.0, 2.0]), np.array(1)),
                      np.log1p(np.exp(-1.0)))
    # all targets ignored: mean is nan (as torch), gradient zero
    l, g = fl.cross_entropy_loss_and_grad(z * 1.0, np.array([-100, -100]))
    assert np.isnan(l) and np.all(g == 0)
    x = np.array([[1.0, 2.0, 3.0]])
    before = x.copy()
    fl.softmax(x, axis=-1)
    fl.cross_entropy_loss_and_grad(x, np.array([0]))
    np.testing.assert_array_equal(x, before)


def test_bad_inputs():
    z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"target class index 3 at position \(1,\) is out of range for 3 classes"):
        fl.cross_entropy(z, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"target class index -1 at position \(0,\)"):
        fl.cross_entropy_grad(z, np.array([-1, 0]))
    with pytest.raises(ValueError, match=r"shape of input without its class axis, \(2,\); got target shape \(3,\)"):
        fl.cross_entropy(z, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"probability target must have the shape of input, \(2, 3\); got target shape \(2, 4\)"):
        fl.cross_entropy(z, np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0.0, 1.0\], got -0.1"):
        fl.cross_entropy(z, np.array([0, 1]), label_smoothing=-0.1)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0.0, 1.0\], got 1.5"):
        fl.cross_entropy_loss_and_grad(z, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"class axis \(axis -1\) of z with shape \(2, 0\) is empty"):
        fl.softmax(np.zeros((2, 0)), axis=-1)
    with pytest.raises(ValueError, match=r"class axis \(axis 0\) of input with shape \(0, 2\) is empty"):
        fl.cross_entropy(np.zeros((0, 2)), np.zeros(2, np.int64), axis=0)
    with pytest.raises(ValueError, match=r"axis 2 is out of bounds for z of shape \(2, 3\)"):
        fl.log_softmax(z, axis=2)
    with pytest.raises(ValueError, match="0-d"):
        fl.softmax(np.float64(1.0), axis=-1)
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\); got shape \(2,\)"):
        fl.cross_entropy(z, np.array([0, 1]), weight=np.ones(2))
    with pytest.raises(ValueError, match="reduction must be one of"):
        fl.cross_entropy(z, np.array([0, 1]), reduction="avg")
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        fl.softmax(z.astype(complex))
    with pytest.raises(TypeError, match="target has unsupported dtype"):
        fl.cross_entropy(z, np.array(["a", "b"]))
    with pytest.raises(ValueError, match="num_threads must be >= 1"):
        fl.softmax(z, num_threads=0)
    with pytest.raises(ValueError, match=r"out has shape \(3, 2\), expected \(2, 3\)"):
        fl.softmax(z, out=np.empty((3, 2)))
    with pytest.raises(TypeError, match="out has dtype float32, expected float64"):
        fl.softmax(z, out=np.empty((2, 3), np.float32))
    p = np.full((2, 3), 1 / 3)
    p[1, 2] = 1.5
    with pytest.raises(ValueError, match=r"probabilities must be in \[0, 1\]; found 1.5 at index \(1, 2\)"):
        fl.categorical_cross_entropy(p, np.full((2, 3), 1 / 3))
    p[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"found nan at index \(2, 1\)"):
        fl.categorical_cross_entropy_grad(p.T, np.array([0, 1]), axis=0)
