"""Array semantics (docs/api.md, the conventions), at every SIMD level: dtype rules,
shapes, strides, memory order, byte order, `out`, aliasing, reductions and
broadcasting of target / weight / pos_weight.  Values are checked against a
float64 NumPy/SciPy reference."""
import numpy as np
import pytest
import scipy.special as sc

import fastlogistic as fl

pytestmark = pytest.mark.usefixtures("simd_level")


# --- float64 references (independent of the library) ------------------------

def ref_sigmoid_grad(x):
    return sc.expit(x) * sc.expit(-x)


def ref_logit(p):
    """log(p / (1 - p)) to ~1 ULP whatever the SciPy version (SciPy before
    1.14 is 1e-12 off near p = 1/2, which the oldest-NumPy CI run uses):
    2 atanh(2p - 1) there, 2p - 1 being exact; log(p) - log1p(-p) elsewhere."""
    p = np.asarray(p, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mid = 2 * np.arctanh(2 * p - 1)
        out = np.log(p) - np.log1p(-p)
        return np.where((p >= 0.25) & (p <= 0.75), mid, np.where((p < 0) | (p > 1), np.nan, out))


REF = {
    "sigmoid": sc.expit,
    "log_sigmoid": sc.log_expit,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "sigmoid_grad": ref_sigmoid_grad,
    "logit": ref_logit,
}
UNARY = list(REF)
# names shared with scipy.special: numpy.ufunc objects with SciPy's types
SCIPY_TYPED = {"logit"}


def ref_softplus(x):
    return np.logaddexp(0.0, x)


def ref_bcel(x, t, w=None, pw=None):
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    pw = 1.0 if pw is None else np.asarray(pw, np.float64)
    w = 1.0 if w is None else np.asarray(w, np.float64)
    return w * (pw * t * ref_softplus(-x) + (1 - t) * ref_softplus(x))


def ref_bcel_grad(x, t, w=None, pw=None):
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    pw = 1.0 if pw is None else np.asarray(pw, np.float64)
    w = 1.0 if w is None else np.asarray(w, np.float64)
    return w * ((1 - t) * sc.expit(x) - pw * t * sc.expit(-x))


def ref_bce(p, t, w=None):
    p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
    w = 1.0 if w is None else np.asarray(w, np.float64)
    with np.errstate(divide="ignore"):
        return w * ((t - 1) * np.maximum(np.log1p(-p), -100) - t * np.maximum(np.log(p), -100))


def tol(dt):
    return dict(rtol=2e-6, atol=1e-30) if np.dtype(dt) in (np.float32, np.float16) else dict(rtol=1e-14, atol=1e-300)


def _input(name, shape, dt=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    if name == "logit":
        return rng.uniform(0.001, 0.999, shape).astype(dt)
    return rng.normal(0, 5, shape).astype(dt)


def check_unary(name, x, y):
    exp = REF[name](np.asarray(x, np.float64))
    assert y.shape == np.shape(x)
    np.testing.assert_allclose(np.asarray(y, np.float64), exp, **tol(y.dtype))


# --- dtypes -------------------------------------------------------------------

@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_float_dtype_follows_input(name, dt):
    x = _input(name, 100, dt)
    y = getattr(fl, name)(x)
    assert y.dtype == dt
    check_unary(name, x, y)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dt", [np.bool_, np.int8, np.uint8, np.int16, np.int32, np.int64, np.uint64])
def test_integers_and_bools_compute_in_float64(name, dt):
    x = np.array([0, 1, 1, 0, 1], dtype=dt) if dt == np.bool_ else np.array([0, 1, 2, 3, 100], dt)
    if dt not in (np.bool_, np.uint8, np.uint64):
        x = np.concatenate([x, -x])
    y = getattr(fl, name)(x)
    assert y.dtype == np.float64
    with np.errstate(divide="ignore", invalid="ignore"):
        exp = REF[name](x.astype(np.float64))
    np.testing.assert_allclose(y, exp, rtol=1e-14)


@pytest.mark.parametrize("name", UNARY)
def test_float16_computes_in_float32(name):
    x = _input(name, 50, np.float16)
    y = getattr(fl, name)(x)
    if name in SCIPY_TYPED:
        # SciPy's names keep SciPy's types: float16 computes in float64
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y, getattr(fl, name)(x.astype(np.float64)))
        return
    assert y.dtype == np.float16
    np.testing.assert_array_equal(y, getattr(fl, name)(x.astype(np.float32)).astype(np.float16))
    np.testing.assert_allclose(y.astype(np.float64), REF[name](x.astype(np.float64)), rtol=1e-3)


def test_python_scalars_and_lists():
    assert type(fl.sigmoid(0.5)) is np.float64
    assert type(fl.sigmoid(3)) is np.float64
    assert type(fl.sigmoid(np.float32(3))) is np.float32
    assert fl.sigmoid(0.0) == 0.5
    np.testing.assert_allclose(fl.sigmoid([[-1.0, 2.0]]), sc.expit([[-1.0, 2.0]]), rtol=1e-15)
    assert fl.sigmoid([1, 2]).dtype == np.float64
    np.testing.assert_allclose(fl.sigmoid((0.5,)), sc.expit([0.5]), rtol=1e-15)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64, np.int64])
def test_zero_dim_gives_numpy_scalar(name, dt):
    x = np.array(0.25 if name == "logit" else 1.5).astype(dt) if dt != np.int64 else np.array(0, dt)
    y = getattr(fl, name)(x)
    rdt = np.float64 if dt == np.int64 or (dt == np.float16 and name in SCIPY_TYPED) else dt
    assert type(y) is rdt, type(y)
    with np.errstate(divide="ignore"):
        exp = REF[name](np.float64(x))
    np.testing.assert_allclose(np.float64(y), exp, rtol=1e-3 if dt == np.float16 else 1e-6)


# --- shapes, strides, order ---------------------------------------------------

@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (1,), (7,), (3, 4, 5), (1, 1, 9), (2, 3, 1, 4)])
def test_shapes(name, shape):
    x = _input(name, shape)
    check_unary(name, x, getattr(fl, name)(x))


def _views(base):
    """Non-contiguous, reversed, transposed, Fortran, broadcast, byte-swapped
    and unaligned views of a 2-D float64 array."""
    yield "step2", base[:, ::2]
    yield "rows_step", base[::3]
    yield "reversed", base[::-1, ::-1]
    yield "reversed_1d", base.ravel()[::-1]
    yield "neg_step3", base.ravel()[::-3]
    yield "transposed", base.T
    yield "fortran", np.asfortranarray(base)
    yield "broadcast_rows", np.broadcast_to(base[0], base.shape)
    yield "broadcast_cols", np.broadcast_to(base[:, :1], base.shape)
    yield "broadcast_scalar", np.broadcast_to(base[0, 0], (5, 4, 3))
    yield "byteswapped", base.astype(base.dtype.newbyteorder())
    yield "byteswapped_f32", base.astype(">f4")
    raw = np.zeros(base.size * 8 + 1, np.uint8)
    un = raw[1:].view(np.float64).reshape(base.shape)
    un[...] = base
    yield "unaligned", un
    yield "3d_slice", np.stack([base, base])[:, 1:, ::-2]


@pytest.mark.parametrize("name", UNARY)
def test_any_strides_and_layout(name):
    base = _input(name, (12, 10))
    for label, x in _views(base):
        before = np.array(x, copy=True)
        y = getattr(fl, name)(x)
        exp_dt = np.float32 if x.dtype.kind == "f" and x.dtype.itemsize == 4 else np.float64
        assert y.dtype == exp_dt, label
        assert y.dtype.isnative
        check_unary(name, x, y)
        np.testing.assert_array_equal(x, before, err_msg=f"input modified ({label})")


def test_fortran_order_kept_like_ufuncs():
    x = np.asfortranarray(np.linspace(-5, 5, 60).reshape(6, 10))
    y = fl.sigmoid(x)
    assert y.flags.f_contiguous
    np.testing.assert_allclose(y, sc.expit(x), rtol=1e-15)


def test_large_noncontiguous_crosses_chunks():
    """Strided input spanning many chunks (gather/scatter path)."""
    x = np.random.default_rng(1).normal(0, 4, 3 * 70001)[::3]
    np.testing.assert_allclose(fl.sigmoid(x), sc.expit(x), rtol=1e-15)
    np.testing.assert_allclose(fl.sigmoid(x[::-1]), sc.expit(x[::-1]), rtol=1e-15)


# --- out= -----------------------------------------------------------------------

@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
def test_out_written_in_place_and_returned(name, dt):
    x = _input(name, (4, 6), dt)
    out = np.full((4, 6), -7.0, dt)
    r = getattr(fl, name)(x, out=out)
    assert r is out
    np.testing.assert_array_equal(out, getattr(fl, name)(x).astype(dt))


@pytest.mark.parametrize("name", UNARY)
def test_out_noncontiguous(name):
    x = _input(name, (5, 6))
    big = np.full((10, 12), 123.0)
    out = big[::2, ::-2]
    r = getattr(fl, name)(x, out=out)
    assert r is out
    check_unary(name, x, out)
    untouched = np.ones_like(big, dtype=bool)
    untouched[::2, ::-2] = False
    assert np.all(big[untouched] == 123.0)
    fo = np.empty((5, 6), order="F")
    assert getattr(fl, name)(x, out=fo) is fo
    check_unary(name, x, fo)


@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_out_aliasing_input(name, dt):
    x = _input(name, 1000, dt)
    exp = getattr(fl, name)(x.copy())
    y = x.copy()
    assert getattr(fl, name)(y, out=y) is y
    np.testing.assert_array_equal(y, exp)
    # strided in-place
    z = np.repeat(x, 2).reshape(-1, 2)[:, 0].copy()
    m = np.zeros((x.size, 2), dt)
    m[:, 0] = x
    v = m[:, 0]
    getattr(fl, name)(v, out=v)
    np.testing.assert_array_equal(m[:, 0], exp)
    assert np.all(m[:, 1] == 0)
    del z


@pytest.mark.parametrize("name", ["sigmoid", "softplus"])
def test_out_partially_overlapping_input(name):
    """out overlaps x with another layout: the result must be as if x were
    read first (NumPy's ufunc rule)."""
    x = np.random.default_rng(4).normal(0, 3, 5000)
    exp = getattr(fl, name)(x.copy())
    y = x.copy()
    getattr(fl, name)(y, out=y[::-1])
    np.testing.assert_array_equal(y[::-1], exp)
    buf = np.concatenate([x, np.zeros(10)])
    getattr(fl, name)(buf[:-10], out=buf[10:])
    np.testing.assert_array_equal(buf[10:], exp)


# --- binary cross-entropy: reductions, out, broadcasting -----------------------

def _bcel_data(shape, dt=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 3, shape).astype(dt), rng.random(shape).astype(dt)


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64, np.int32, np.bool_])
def test_reductions_return_scalar_of_input_dtype(dt):
    x, t = _bcel_data((6, 7))
    if dt in (np.int32, np.bool_):
        x = (x > 0).astype(dt)
        t = (t > 0.5).astype(dt)
    else:
        x, t = x.astype(dt), t.astype(dt)
    rdt = np.float64 if dt in (np.int32, np.bool_) else dt
    ref = ref_bcel(x, t)
    for red, exp in (("sum", ref.sum()), ("mean", ref.mean())):
        v = fl.binary_cross_entropy_with_logits(x, t, reduction=red)
        assert type(v) is rdt, (red, type(v))
        np.testing.assert_allclose(float(v), exp, rtol=2e-3 if dt == np.float16 else 1e-6)
        p = fl.sigmoid(x.astype(np.float64)).astype(rdt) if dt != np.bool_ else np.full(x.shape, 0.3)
        v = fl.binary_cross_entropy(p, t, reduction=red)
        assert type(v) is (rdt if dt != np.bool_ else np.float64), (red, type(v))
    none = fl.binary_cross_entropy_with_logits(x, t, reduction="none")
    assert none.dtype == rdt and none.shape == x.shape


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_mean_is_sum_over_numel_with_weights(dt):
    """torch's definition: mean = sum(w * l) / numel, not / sum(w)."""
    x, t = _bcel_data((50, 8), dt)
    w = np.random.default_rng(2).uniform(0, 3, 8).astype(dt)
    pw = np.random.default_rng(3).uniform(0.5, 2, (50, 1)).astype(dt)
    ref = ref_bcel(x, t, w, pw)
    m = fl.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw)
    s = fl.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction="sum")
    r = dict(rtol=1e-6) if dt == np.float32 else dict(rtol=1e-13)
    np.testing.assert_allclose(float(s), ref.sum(), **r)
    np.testing.assert_allclose(float(m), ref.sum() / x.size, **r)
    p = np.clip(sc.expit(x.astype(np.float64)), 1e-6, 1 - 1e-6).astype(dt)
    np.testing.assert_allclose(float(fl.binary_cross_entropy(p, t, weight=w)),
                               ref_bce(p, t, w).sum() / x.size, **r)


WEIGHT_SHAPES = {
    "python_scalar": lambda rng, s: 0.7,
    "0d": lambda rng, s: np.array(1.3),
    "last_axis": lambda rng, s: rng.uniform(0.1, 2, s[-1]),
    "per_row": lambda rng, s: rng.uniform(0.1, 2, (s[0], 1, 1)),
    "per_row_2d": lambda rng, s: rng.uniform(0.1, 2, (s[1], 1)),
    "full": lambda rng, s: rng.uniform(0.1, 2, s),
    # (1, 1) + s[1:] would grow the result to (1,) + s: an error
    "leading_ones": lambda rng, s: rng.uniform(0.1, 2, (1,) + s[1:]),
    "middle": lambda rng, s: rng.uniform(0.1, 2, (s[0], 1, s[2])),
    "strided": lambda rng, s: rng.uniform(0.1, 2, (s[0], s[1], 2 * s[2]))[..., ::2],
}


@pytest.mark.parametrize("kind", list(WEIGHT_SHAPES))
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_weight_and_pos_weight_broadcasting(kind, dt):
    shape = (5, 4, 3)
    rng = np.random.default_rng(8)
    x, t = _bcel_data(shape, dt)
    w = WEIGHT_SHAPES[kind](rng, shape)
    w = w if isinstance(w, float) else w.astype(dt)
    pw = WEIGHT_SHAPES[kind](np.random.default_rng(9), shape)
    pw = pw if isinstance(pw, float) else pw.astype(dt)
    r = tol(dt)
    for ww, pp in ((w, None), (None, pw), (w, pw)):
        loss = fl.binary_cross_entropy_with_logits(x, t, weight=ww, pos_weight=pp, reduction="none")
        np.testing.assert_allclose(loss, ref_bcel(x, t, ww, pp), **r)
        g = fl.binary_cross_entropy_with_logits_grad(x, t, weight=ww, pos_weight=pp, reduction="sum")
        np.testing.assert_allclose(g, ref_bcel_grad(x, t, ww, pp), rtol=r["rtol"] * 4, atol=1e-6 if dt == np.float32 else 1e-15)
    p = sc.expit(x.astype(np.float64)).astype(dt)
    np.testing.assert_allclose(fl.binary_cross_entropy(p, t, weight=w, reduction="none"),
                               ref_bce(p, t, w), rtol=1e-5 if dt == np.float32 else 1e-13)


def test_target_and_weight_never_grow_the_result():
    """The result has the input's shape: a (6, 1) logit column
    against (3,) targets, or a weight with more dimensions, is an error, not
    a silent (6, 3) or (2, 6, 3) broadcast."""
    x = np.linspace(-4, 4, 6)[:, None]          # (6, 1)
    t = np.array([0.0, 0.3, 1.0])               # (3,)
    with pytest.raises(ValueError, match=r"target of shape \(3,\) does not broadcast to the "
                                         r"input's shape \(6, 1\)"):
        fl.binary_cross_entropy_with_logits(x, t, reduction="none")
    xx, tt = np.broadcast_arrays(x, t)
    with pytest.raises(ValueError, match=r"weight of shape \(2, 1, 1\)"):
        fl.binary_cross_entropy_with_logits(np.ascontiguousarray(xx), tt, weight=np.ones((2, 1, 1)))
    # what does broadcast to the input still works: a per-column target row
    loss = fl.binary_cross_entropy_with_logits(np.ascontiguousarray(xx), t, reduction="none")
    np.testing.assert_allclose(loss, ref_bcel(xx, tt), rtol=1e-14)


@pytest.mark.parametrize("views", ["reversed", "broadcast", "byteswapped", "fortran", "step"])
def test_bce_operands_any_layout(views):
    x, t = _bcel_data((40, 30))
    w = np.random.default_rng(5).uniform(0, 2, (40, 30))
    f = {"reversed": lambda a: a[::-1, ::-1], "broadcast": lambda a: np.broadcast_to(a[3], a.shape),
         "byteswapped": lambda a: a.astype(">f8"), "fortran": np.asfortranarray,
         "step": lambda a: np.repeat(a, 2, axis=1)[:, ::2]}[views]
    xv, tv, wv = f(x), f(t), f(w)
    copies = [a.copy() for a in (xv, tv, wv)]
    exp = ref_bcel(xv, tv, wv)
    np.testing.assert_allclose(fl.binary_cross_entropy_with_logits(xv, tv, weight=wv, reduction="none"),
                               exp, rtol=1e-14)
    np.testing.assert_allclose(fl.binary_cross_entropy_with_logits(xv, tv, weight=wv, reduction="sum"),
                               exp.sum(), rtol=1e-13)
    for a, c in zip((xv, tv, wv), copies):
        np.testing.assert_array_equal(a, c)


def test_bce_out_and_aliasing():
    x, t = _bcel_data((30, 3))
    exp = ref_bcel(x, t)
    out = np.empty_like(x)
    assert fl.binary_cross_entropy_with_logits(x, t, reduction="none", out=out) is out
    np.testing.assert_allclose(out, exp, rtol=1e-14)
    y = x.copy()
    assert fl.binary_cross_entropy_with_logits(y, t, reduction="none", out=y) is y
    np.testing.assert_allclose(y, exp, rtol=1e-14)
    tt = t.copy()
    fl.binary_cross_entropy_with_logits(x, tt, reduction="none", out=tt)
    np.testing.assert_allclose(tt, exp, rtol=1e-14)
    # in place next to non-finite logits (the kernels' rare per-lane path)
    xs = x.copy()
    xs[::7] = np.resize([np.inf, -np.inf, np.nan], xs[::7].shape)
    want = fl.binary_cross_entropy_with_logits(xs, t, reduction="none")
    y = xs.copy()
    fl.binary_cross_entropy_with_logits(y, t, reduction="none", out=y)
    np.testing.assert_array_equal(y, want)
    y = xs.copy()
    fl.binary_cross_entropy_with_logits_loss_and_grad(y, t, reduction="none", out=(y, None))
    np.testing.assert_array_equal(y, want)
    # the mean next to x = +-inf whose limits are 0 (t = 1 at +inf, 0 at
    # -inf): finite, also with the gradient written over the input
    xi, ti = xs.copy(), t.copy()
    xi[::7] = np.resize([np.inf, -np.inf], xi[::7].shape)
    ti[::7] = (xi[::7] > 0)
    per = fl.binary_cross_entropy_with_logits(xi, ti, reduction="none")
    assert np.isfinite(per).all() and (per[::7] == 0).all()
    m = fl.binary_cross_entropy_with_logits(xi, ti)
    np.testing.assert_allclose(m, per.mean(), rtol=1e-14)
    lm, gm = fl.binary_cross_entropy_with_logits_loss_and_grad(xi, ti)
    assert lm == m
    y = xi.copy()
    lm2, g2 = fl.binary_cross_entropy_with_logits_loss_and_grad(y, ti, out=(None, y))
    assert g2 is y and lm2 == m
    np.testing.assert_array_equal(g2, gm)
    # loss and grad into given arrays (one of them the input)
    y = x.copy()
    g_out = np.empty_like(x)
    l, g = fl.binary_cross_entropy_with_logits_loss_and_grad(y, t, reduction="none", out=(y, g_out))
    assert l is y and g is g_out
    np.testing.assert_allclose(l, exp, rtol=1e-14)
    np.testing.assert_allclose(g, ref_bcel_grad(x, t), rtol=1e-12, atol=1e-16)
    go, ho = np.empty_like(x), np.empty((30, 3), order="F")
    g, h = fl.binary_cross_entropy_with_logits_grad_hess(x, t, out=(go, ho))
    assert g is go and h is ho
    np.testing.assert_allclose(h, sc.expit(x) * sc.expit(-x), rtol=1e-13)
    # probabilities: out aliasing p
    p = sc.expit(x)
    pc = p.copy()
    assert fl.binary_cross_entropy(pc, t, reduction="none", out=pc) is pc
    np.testing.assert_allclose(pc, ref_bce(p, t), rtol=1e-13)
    pc = p.copy()
    assert fl.binary_cross_entropy_grad(pc, t, reduction="none", out=pc) is pc
    np.testing.assert_allclose(pc, (p - t) / (p * (1 - p)), rtol=1e-12)


def test_bce_zero_dim_and_empty():
    v = fl.binary_cross_entropy_with_logits(np.array(0.5), np.array(1.0), reduction="none")
    assert np.shape(v) == () and np.asarray(v).dtype == np.float64
    np.testing.assert_allclose(float(v), ref_softplus(-0.5), rtol=1e-15)
    s = fl.binary_cross_entropy_with_logits(np.float32(0.5), np.float32(1.0))
    assert type(s) is np.float32
    e = np.zeros((3, 0))
    assert fl.binary_cross_entropy_with_logits(e, e, reduction="none").shape == (3, 0)
    assert fl.binary_cross_entropy_with_logits(e, e, reduction="sum") == 0
    assert np.isnan(fl.binary_cross_entropy_with_logits(e, e, reduction="mean"))   # as torch
    g, h = fl.binary_cross_entropy_with_logits_grad_hess(e, e)
    assert g.shape == h.shape == (3, 0)
    assert fl.binary_cross_entropy(e, e, reduction="sum") == 0


def test_grad_scaling_by_reduction():
    x, t = _bcel_data((20, 5))
    g_none = fl.binary_cross_entropy_with_logits_grad(x, t, reduction="none")
    g_sum = fl.binary_cross_entropy_with_logits_grad(x, t, reduction="sum")
    g_mean = fl.binary_cross_entropy_with_logits_grad(x, t, reduction="mean")
    np.testing.assert_array_equal(g_none, g_sum)
    np.testing.assert_allclose(g_mean, g_none / 100, rtol=1e-15)
    np.testing.assert_allclose(g_none, sc.expit(x) - t, rtol=1e-13, atol=1e-16)
    p = sc.expit(x)
    bg_none = fl.binary_cross_entropy_grad(p, t, reduction="none")
    np.testing.assert_allclose(fl.binary_cross_entropy_grad(p, t), bg_none / 100, rtol=1e-15)
    np.testing.assert_allclose(fl.binary_cross_entropy_grad(p, t, reduction="sum"), bg_none, rtol=1e-15)


# --- targets and weights of other dtypes are converted while gathered -------

@pytest.mark.parametrize("tdt", [np.bool_, np.int8, np.uint8, np.int32, np.int64,
                                 np.float32, np.float64, np.int16])
@pytest.mark.parametrize("xdt", [np.float32, np.float64])
def test_targets_of_any_numeric_dtype_match_converted_targets(xdt, tdt):
    rng = np.random.default_rng(11)
    n = 50_003
    x = (rng.standard_normal(n) * 3).astype(xdt)
    t = (rng.random(n) < 0.4).astype(tdt)
    w = rng.integers(1, 4, n).astype(tdt) if tdt is not np.bool_ else None
    pw = np.array([2], dtype=tdt) if tdt is not np.bool_ else None
    tc = t.astype(xdt)
    wc = None if w is None else w.astype(xdt)
    pwc = None if pw is None else pw.astype(xdt)
    for red in ("mean", "sum", "none"):
        got = fl.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=red)
        exp = fl.binary_cross_entropy_with_logits(x, tc, weight=wc, pos_weight=pwc, reduction=red)
        assert np.asarray(got).dtype == xdt
        np.testing.assert_array_equal(got, exp)
    p = fl.sigmoid(x)
    np.testing.assert_array_equal(fl.binary_cross_entropy_grad(p, t, weight=w),
                                  fl.binary_cross_entropy_grad(p, tc, weight=wc))
    # strided and broadcast targets of another dtype too
    x2 = x[: 2 * 20_000].reshape(20_000, 2)
    t2 = np.ascontiguousarray(np.stack([t[:20_000], t[:20_000]], axis=1))[:, ::-1]
    np.testing.assert_array_equal(
        fl.binary_cross_entropy_with_logits(x2, t2, reduction="none"),
        fl.binary_cross_entropy_with_logits(x2, t2.astype(xdt), reduction="none"))


def test_integer_labels_cost_no_float_copy():
    import tracemalloc
    x = np.random.default_rng(2).standard_normal(1_000_000)
    y = (x > 0.3).astype(np.int64)
    fl.binary_cross_entropy_with_logits(x, y)          # warm up
    tracemalloc.start()
    try:
        fl.binary_cross_entropy_with_logits(x, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000, peak     # not an 8 MB float64 copy of y


# --- each element's value depends on that element only ------------------------

@pytest.mark.parametrize("name", UNARY)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_value_does_not_depend_on_neighbours_or_position(name, dt):
    """A value next to inf, NaN or a huge |x| (which take a slower path for
    their vector) is the same as computed alone, at every offset."""
    f = getattr(fl, name)
    x = _input(name, 300, dt, seed=3)
    # -87.5 and 708.5: just past where exp scales by one factor (float32, float64)
    specials = ([np.nan, 0.5] if name == "logit"
                else [np.inf, -np.inf, np.nan, 1e4, -1e4, -750.0, -87.5, 708.5])
    x[::23] = np.resize(np.array(specials, dt), x[::23].size)
    whole = f(x)
    alone = np.array([f(x[i:i + 1])[0] for i in range(x.size)], dt)
    np.testing.assert_array_equal(whole.view(f"u{x.itemsize}"), alone.view(f"u{x.itemsize}"))
    for k in (1, 3, 7, 13):
        np.testing.assert_array_equal(f(x[k:]).view(f"u{x.itemsize}"),
                                      whole[k:].view(f"u{x.itemsize}"))
    check_unary(name, x[np.isfinite(x)], whole[np.isfinite(x)])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_sigmoid_rare_far_lanes_in_a_long_input(dt):
    """The sigmoid first reads x by scans of 1024 elements for a lane outside
    its fast form's range (far tails, inf, NaN), then computes the scan with
    no test per vector.  A far lane in one scan only (at a scan's first or
    last element, or inside it) gives the bits of the element computed
    alone, in a new output and written over the input, and the lanes around
    it keep theirs."""
    rng = np.random.default_rng(5)
    n = 5000
    x = rng.normal(0, 8, n).astype(dt)
    tiny = -100.0 if dt == np.float32 else -720.0    # s(x) = e^x, subnormal
    far = np.array([tiny, -tiny, np.nan, -np.inf, np.inf, 1e30], dt)
    pos = np.array([1024, 2047, 3000, 3001, 4095, 4999])
    x[pos] = far
    whole = fl.sigmoid(x)
    alone = np.array([fl.sigmoid(x[i:i + 1])[0] for i in range(n)], dt)
    bits = f"u{x.itemsize}"
    np.testing.assert_array_equal(whole.view(bits), alone.view(bits))
    clean = x.copy()
    clean[pos] = 0.0
    keep = np.ones(n, bool)
    keep[pos] = False
    np.testing.assert_array_equal(whole[keep].view(bits), fl.sigmoid(clean)[keep].view(bits))
    inplace = x.copy()
    assert fl.sigmoid(inplace, out=inplace) is inplace
    np.testing.assert_array_equal(inplace.view(bits), whole.view(bits))
    # the far lanes' values: e^x rounded (subnormal), 1, NaN, 0, 1, 1
    ref_tiny = np.array(np.exp(np.longdouble(tiny)), dt)
    assert whole[pos[0]] == ref_tiny and ref_tiny > 0
    assert whole[pos[1]] == 1 and np.isnan(whole[pos[2]])
    assert whole[pos[3]] == 0 and whole[pos[4]] == 1 and whole[pos[5]] == 1
    check_unary("sigmoid", x[keep], whole[keep])


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_bce_logits_values_do_not_depend_on_neighbours_or_position(dt):
    """Per-element loss, gradient and hessian are the same computed alone, at
    any offset, over 600 elements (past the 256-element blocks in which the
    AVX2 kernels compute exp(-|x|) first), next to inf, NaN and huge |x|."""
    rng = np.random.default_rng(21)
    n = 600
    x = rng.normal(0, 6, n).astype(dt)
    x[::29] = np.resize(np.array([np.inf, -np.inf, np.nan, 1e4, -1e4, -750.0, -87.5, 708.5],
                                 dt), x[::29].size)
    t = rng.uniform(0, 1, n).astype(dt)
    w = rng.uniform(0.5, 2, n).astype(dt)
    pw = rng.uniform(0.5, 2, n).astype(dt)
    u = f"u{np.dtype(dt).itemsize}"

    def per_element(x, t, w, pw):
        loss = fl.binary_cross_entropy_with_logits(x, t, w, pos_weight=pw, reduction="none")
        g, h = fl.binary_cross_entropy_with_logits_grad_hess(x, t, w, pos_weight=pw,
                                                             reduction="none")
        # without pos_weight the loss takes its short form, with a per-lane
        # fall-back where that is not finite (the inf entries)
        l2, g2 = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t, reduction="none")
        l3 = fl.binary_cross_entropy_with_logits(x, t, w, reduction="none")
        return [loss, g, h, l2, g2, l3]

    whole = per_element(x, t, w, pw)
    alone = [np.concatenate(parts) for parts in zip(*(
        per_element(x[i:i + 1], t[i:i + 1], w[i:i + 1], pw[i:i + 1]) for i in range(n)))]
    for a, b in zip(whole, alone):
        np.testing.assert_array_equal(a.view(u), b.view(u))
    for k in (1, 3, 7, 13, 257):
        for a, b in zip(per_element(x[k:], t[k:], w[k:], pw[k:]), whole):
            np.testing.assert_array_equal(a.view(u), b[k:].view(u))
    fin = np.isfinite(x)
    np.testing.assert_allclose(whole[0][fin], ref_bcel(x[fin], t[fin], w[fin], pw[fin]),
                               **tol(dt))
    np.testing.assert_allclose(whole[3][fin], ref_bcel(x[fin], t[fin]), **tol(dt))
    np.testing.assert_allclose(whole[5][fin], ref_bcel(x[fin], t[fin], w[fin]), **tol(dt))
    # x = +-inf: the exact limits (0 where the coefficient of the infinite
    # softplus is 0, else +inf), with and without pos_weight
    for k in np.flatnonzero(~np.isnan(x) & ~fin):
        coef = (1 - t[k]) if x[k] > 0 else t[k]
        want = 0.0 if coef == 0 else np.inf
        assert whole[3][k] == want and whole[5][k] == want * (w[k] if want else 1)
    # the sum adds the same per-element values
    total = fl.binary_cross_entropy_with_logits(x[fin], t[fin], reduction="sum")
    np.testing.assert_allclose(total, ref_bcel(x[fin], t[fin]).sum(), rtol=1e-5 if dt == np.float32 else 1e-13)


@pytest.mark.parametrize("dt", [np.float64, np.float32])
@pytest.mark.parametrize("pw", [None, 2.0])
def test_bce_logits_targets_outside_0_1(dt, pw):
    """Targets are not checked (soft labels are allowed): a finite target
    outside [0, 1] gives the formula's value, a non-finite one gives NaN
    (inf * softplus(-x) - inf * softplus(x)), never a silent +-inf, with or
    without pos_weight and whichever form the kernel computes the loss in."""
    x = np.array([-30.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0] * 4, dt)
    t = np.repeat(np.array([2.0, -1.0, 1.5, 1e3], dt), 7)
    y = fl.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction="none")
    np.testing.assert_allclose(y, ref_bcel(x, t, pw=pw), rtol=1e-5 if dt == np.float32 else 1e-12)
    l2, _ = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t, pos_weight=pw, reduction="none")
    np.testing.assert_array_equal(l2, y)
    for bad in (np.inf, -np.inf, np.nan):
        tb = np.full(x.shape, bad, dt)
        assert np.isnan(fl.binary_cross_entropy_with_logits(x, tb, pos_weight=pw, reduction="none")).all()
        assert np.isnan(fl.binary_cross_entropy_with_logits(x, tb, pos_weight=pw))


@pytest.mark.parametrize("fname", [
    "binary_cross_entropy", "binary_cross_entropy_grad", "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_grad", "binary_cross_entropy_with_logits_loss_and_grad",
    "binary_cross_entropy_with_logits_grad_hess"])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_empty_zero_stride_operands(fname, reduction):
    """An empty input whose axes have stride 0 (np.broadcast_to of a scalar to
    (4, 0)), with empty or broadcast targets and weights: the empty answer,
    as for a plain empty array."""
    f = getattr(fl, fname)
    x = np.broadcast_to(np.float32(0.25), (4, 0))
    plain = np.zeros((4, 0), np.float32)
    for t in (np.zeros(0), np.broadcast_to(0.5, (4, 0)), 0.5):
        for w in (None, np.zeros(0), np.ones((4, 1))):
            got = f(x, t, weight=w, reduction=reduction)
            want = f(plain, np.broadcast_to(t, (4, 0)).copy(), weight=w, reduction=reduction)
            for g, e in zip(got if isinstance(got, tuple) else (got,),
                            want if isinstance(want, tuple) else (want,)):
                g, e = np.asarray(g), np.asarray(e)
                assert g.shape == e.shape and g.dtype == e.dtype
                np.testing.assert_array_equal(g, e)


# --- the compiled common case of the with-logits family ----------------------

BCEL_FUNCS = [
    ("binary_cross_entropy_with_logits", ("mean", "sum", "none")),
    ("binary_cross_entropy_with_logits_grad", ("mean", "sum", "none")),
    ("binary_cross_entropy_with_logits_loss_and_grad", ("mean", "sum", "none")),
    ("binary_cross_entropy_with_logits_grad_hess", ("mean", "sum", "none")),
]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (0,), (1,), (16,), (3, 5), (2, 0, 3), (3, 4097), (9, 5000)])
def test_bcel_plain_case_matches_the_general_path(shape, dt):
    """Plain arrays of one float dtype, Python float scalars and rows of the
    trailing axes as target, weight and pos_weight run in one compiled call
    (_kernels.bcel_plain); a NumPy-integer num_threads takes the general
    path: the same bits, types and shapes, and values against float64."""
    rng = np.random.default_rng(len(shape) + 3)
    x = (rng.standard_normal(shape) * 4).astype(dt)
    row = rng.uniform(0.5, 2, shape[-1:]).astype(dt)
    targets = [rng.random(shape).astype(dt), 0.3, 0.0, 1.0,
               (rng.random(shape[-1:]) < 0.5).astype(dt)]
    weights = [(None, None), (rng.uniform(0.5, 2, shape).astype(dt), None), (None, 2.5),
               (row, row), (0.7, row)]
    if x.size > 1000:       # threaded: fewer combinations
        targets, weights = targets[:2], weights[::3]
    p = np.asarray(np.clip(sc.expit(x.astype(np.float64)), 1e-4, 1 - 1e-4)).astype(dt)
    for t in targets:
        for w, pw in weights:
            _check_plain_case(x, t, w, pw, dt)
            if pw is None:
                _check_plain_case_bce(p, t, w, dt)


def _check_plain_case_bce(p, t, w, dt):
    tf, wf = [None if v is None else np.broadcast_to(np.asarray(v).astype(dt), p.shape)
              for v in (t, w)]
    loss = ref_bce(p, tf, wf)
    with np.errstate(all="ignore"):
        grad = (1.0 if wf is None else wf.astype(np.float64)) * (p - tf.astype(np.float64)) / (
            p.astype(np.float64) * (1 - p.astype(np.float64)))
    for f in (fl.binary_cross_entropy, fl.binary_cross_entropy_grad):
        for red in ("mean", "sum", "none"):
            fast = f(p, t, weight=w, reduction=red)
            general = f(p, t, weight=w, reduction=red, num_threads=np.int64(2))
            assert type(fast) is type(general)
            assert fast.dtype == general.dtype == dt and fast.shape == general.shape
            assert fast.tobytes() == general.tobytes()
            div = p.size if red == "mean" else 1
            if f is fl.binary_cross_entropy_grad:
                np.testing.assert_allclose(fast, grad / div, rtol=1e-5 if dt == np.float32
                                           else 1e-13, atol=1e-30)
            elif red == "none":
                np.testing.assert_allclose(fast, loss, rtol=1e-5 if dt == np.float32
                                           else 1e-13)
            elif p.size:
                np.testing.assert_allclose(float(fast), loss.sum() / div,
                                           rtol=1e-5 if dt == np.float32 else 1e-12)
    if p.size:
        bad = p.copy()
        bad.reshape(-1)[-1] = 1.5
        with pytest.raises(ValueError, match=r"found 1.5 at index"):
            fl.binary_cross_entropy(bad, t, weight=w)


def _check_plain_case(x, t, w, pw, dt):
    full = [None if v is None else np.broadcast_to(np.asarray(v).astype(dt), x.shape)
            for v in (t, w, pw)]
    kw = dict(weight=w, pos_weight=pw)
    for fname, reds in BCEL_FUNCS:
        f = getattr(fl, fname)
        for red in reds:
            fast = f(x, t, reduction=red, **kw)
            general = f(x, t, reduction=red, num_threads=np.int64(2), **kw)
            fast = fast if isinstance(fast, tuple) else (fast,)
            general = general if isinstance(general, tuple) else (general,)
            for a, b in zip(fast, general):
                assert type(a) is type(b)
                assert a.dtype == b.dtype == dt and a.shape == b.shape
                assert a.tobytes() == b.tobytes()
            div = x.size if red == "mean" else 1
            kinds = {"binary_cross_entropy_with_logits": ("loss",),
                     "binary_cross_entropy_with_logits_grad": ("grad",),
                     "binary_cross_entropy_with_logits_loss_and_grad": ("loss", "grad"),
                     "binary_cross_entropy_with_logits_grad_hess": ("grad",)}[fname]
            for got, kind in zip(fast, kinds):
                if kind == "grad":
                    np.testing.assert_allclose(got, ref_bcel_grad(x, *full) / div,
                                               rtol=tol(dt)["rtol"] * 4,
                                               atol=1e-6 if dt == np.float32 else 1e-15)
                elif red == "none":
                    np.testing.assert_allclose(got, ref_bcel(x, *full), **tol(dt))
                elif x.size:
                    np.testing.assert_allclose(float(got), ref_bcel(x, *full).sum() / div,
                                               rtol=1e-5 if dt == np.float32 else 1e-12)
                else:
                    assert np.isnan(got) if red == "mean" else got == 0


def _kernel_ready_reference(a):
    """_api._kernel_ready's test written out in Python"""
    if not (a.dtype.isnative and a.flags.aligned):
        return False
    return all(s % a.itemsize == 0 for n, s in zip(a.shape, a.strides) if n > 1)


def test_kernel_ready_in_c_is_the_python_test():
    from fastlogistic import _api
    b = np.arange(24.0)
    rec = np.zeros(5, dtype=[("p", "i1"), ("v", "f8")])
    rec_swapped = np.zeros(5, dtype=[("p", "i1"), ("v", ">f8")])
    raw = np.zeros(100, np.uint8)
    cases = [b, b[::2], b[::-1], b.reshape(4, 6).T, b.astype(">f8"), b.astype(">f4")[::3],
             np.broadcast_to(b[:1], (5, 3)), np.zeros(0), np.zeros((3, 0)), np.ones(()),
             np.float64(2.0), np.ma.MaskedArray(b), rec, rec["v"], rec["p"], rec_swapped,
             rec_swapped["v"], np.zeros(4, "U3"), np.zeros(4, "O"), np.zeros(4, "M8[s]"),
             np.zeros(4, ">M8[s]"), np.zeros(4, "?"), np.zeros(4, "c16").real,
             np.zeros((4, 3))[:, :1], raw[1:33].view(np.float64),
             raw[4:36].view(np.float32)[::2], raw[2:34].view(np.int16)[::3]]
    for a in cases:
        assert _api._kernel_ready(a) == _kernel_ready_reference(a), (a.dtype, a.strides)
