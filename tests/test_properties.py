"""Property tests (hypothesis) over shapes, strides, dtypes, `out` and
aliasing, against a float64 NumPy/SciPy reference."""
import numpy as np
import pytest
import scipy.special as sc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastlogistic as fl

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])

REF = {
    "sigmoid": sc.expit,
    "log_sigmoid": sc.log_expit,
    "softplus": lambda x: np.logaddexp(0.0, x),
    "sigmoid_grad": lambda x: sc.expit(x) * sc.expit(-x),
}
DTYPES = [np.float64, np.float32, np.float16, np.int32, np.bool_]


def rtol(dt):
    return {np.float64: 1e-14, np.float32: 2e-6, np.float16: 1e-3}.get(dt, 1e-14)


def _result_dtype(dt):
    return dt if dt in (np.float64, np.float32, np.float16) else np.float64


@st.composite
def arrays_with_layout(draw, dtype=None, elements=None):
    """An array of a drawn dtype and shape, seen through a drawn view: a
    strided slice (steps may be negative), a transpose, or a broadcast."""
    dt = dtype or draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=7))
    if elements is None:
        if dt == np.bool_:
            elements = st.booleans()
        elif dt == np.int32:
            elements = st.integers(-50, 50)
        else:
            width = {np.float64: 64, np.float32: 32, np.float16: 16}[dt]
            elements = st.floats(-60, 60, width=width)
    base_shape = tuple(s * 2 for s in shape)
    base = draw(hnp.arrays(dt, base_shape, elements=elements))
    steps = tuple(draw(st.sampled_from([1, 2, -1, -2])) for _ in shape)
    view = base[tuple(slice(None, None, s) if s > 0 else slice(None, None, s) for s in steps)]
    view = view[tuple(slice(0, n) for n in shape)]
    kind = draw(st.sampled_from(["view", "transpose", "broadcast", "byteswap", "copy"]))
    if kind == "transpose":
        view = view.T
    elif kind == "broadcast" and view.ndim >= 1:
        view = np.broadcast_to(view[..., :1], view.shape)
    elif kind == "byteswap" and dt != np.bool_:
        view = view.astype(view.dtype.newbyteorder())
    elif kind == "copy":
        view = np.ascontiguousarray(view)
    return view


@SETTINGS
@given(x=arrays_with_layout(), name=st.sampled_from(sorted(REF)), use_out=st.sampled_from(["no", "new", "alias"]))
def test_unary_any_layout(x, name, use_out):
    f = getattr(fl, name)
    before = np.array(x, copy=True)
    rdt = _result_dtype(x.dtype.newbyteorder("=").type)
    exp = REF[name](x.astype(np.float64))
    if use_out == "new":
        out = np.empty(x.shape, rdt)[...]
        r = f(x, out=out)
        assert r is out
    elif use_out == "alias" and x.dtype == np.dtype(rdt) and x.flags.writeable:
        x = x.copy() if x.base is not None and not x.flags.writeable else x
        r = f(x, out=x)
        assert r is x
        np.testing.assert_allclose(np.asarray(r, np.float64), exp, rtol=rtol(rdt), atol=1e-300)
        return
    else:
        r = f(x)
        np.testing.assert_array_equal(x, before)
    r = np.asarray(r)
    assert r.dtype == rdt and r.shape == x.shape
    np.testing.assert_allclose(r.astype(np.float64), exp, rtol=rtol(rdt), atol=1e-300 if rdt != np.float16 else 1e-7)


@SETTINGS
@given(p=arrays_with_layout(dtype=np.float64, elements=st.floats(0, 1)), use_out=st.booleans())
def test_logit_any_layout(p, use_out):
    with np.errstate(divide="ignore"):
        exp = sc.logit(p)
    r = fl.logit(p, out=np.empty(p.shape)) if use_out else fl.logit(p)
    np.testing.assert_allclose(np.asarray(r), exp, rtol=1e-14, atol=1e-300)


@st.composite
def bce_case(draw):
    dt = draw(st.sampled_from([np.float64, np.float32]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6))
    fw = {np.float64: 64, np.float32: 32}[dt]
    x = draw(hnp.arrays(dt, shape, elements=st.floats(-40, 40, width=fw)))
    tshape = draw(st.sampled_from([shape, shape[-1:], (1,) * len(shape), ()]))
    t = draw(hnp.arrays(dt, tshape, elements=st.floats(0, 1, width=fw)))
    wshape = draw(st.sampled_from([None, shape, shape[-1:], shape[:1] + (1,) * (len(shape) - 1), ()]))
    # weights: 0 or at least 2^-10 -- a subnormal float32 weight (hypothesis
    # found 1e-45) makes a subnormal loss, whose relative error is not bounded
    w = None if wshape is None else draw(hnp.arrays(dt, wshape, elements=st.one_of(
        st.just(0.0), st.floats(2.0**-10, 3, width=fw))))
    pshape = draw(st.sampled_from([None, shape[-1:], ()]))
    pw = None if pshape is None else draw(hnp.arrays(dt, pshape, elements=st.floats(0.125, 3, width=fw)))
    if draw(st.booleans()):
        x = x[..., ::-1]
    return dt, x, t, w, pw


def _ref_bcel(x, t, w, pw):
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    w = 1.0 if w is None else np.asarray(w, np.float64)
    pw = 1.0 if pw is None else np.asarray(pw, np.float64)
    loss = w * (pw * t * np.logaddexp(0, -x) + (1 - t) * np.logaddexp(0, x))
    grad = w * ((1 - t) * sc.expit(x) - pw * t * sc.expit(-x))
    hess = w * (pw * t + 1 - t) * sc.expit(x) * sc.expit(-x)
    scale = w * np.maximum((1 - t) * sc.expit(x), pw * t * sc.expit(-x))
    return loss, grad, hess, scale


@SETTINGS
@given(case=bce_case(), red=st.sampled_from(["none", "sum", "mean"]), alias=st.booleans())
def test_bce_with_logits_properties(case, red, alias):
    dt, x, t, w, pw = case
    loss, grad, hess, scale = _ref_bcel(x, t, w, pw)
    shape = loss.shape
    n = loss.size
    rt = rtol(dt)
    copies = [None if a is None else np.array(a, copy=True) for a in (x, t, w, pw)]
    if red == "none" and alias and x.shape == shape:
        y = np.array(x, copy=True)
        r = fl.binary_cross_entropy_with_logits(y, t, weight=w, pos_weight=pw, reduction="none", out=y)
        assert r is y
    else:
        r = fl.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction=red)
    if red == "none":
        assert r.dtype == dt and r.shape == shape
        np.testing.assert_allclose(r, loss, rtol=rt * 4, atol=1e-300)
    else:
        assert type(r) is dt
        exp = loss.sum() if red == "sum" else loss.sum() / n
        np.testing.assert_allclose(float(r), exp, rtol=rt * 4, atol=1e-300)
    l2, g = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t, weight=w, pos_weight=pw, reduction=red)
    div = n if red == "mean" else 1
    assert g.shape == shape and g.dtype == dt
    assert np.all(np.abs(g.astype(np.float64) - grad / div) <= 8 * np.finfo(dt).eps * scale / div + 1e-300)
    gh, h = fl.binary_cross_entropy_with_logits_grad_hess(x, t, weight=w, pos_weight=pw, reduction="none")
    np.testing.assert_allclose(h, hess, rtol=rt * 8, atol=1e-300)
    for a, c in zip((x, t, w, pw), copies):
        if a is not None:
            np.testing.assert_array_equal(a, c)


@SETTINGS
@given(case=bce_case(), red=st.sampled_from(["none", "sum", "mean"]))
def test_bce_on_probabilities_properties(case, red):
    dt, x, t, w, _ = case
    p = sc.expit(x.astype(np.float64)).astype(dt)
    p64, t64 = p.astype(np.float64), np.asarray(t, np.float64)
    w64 = 1.0 if w is None else np.asarray(w, np.float64)
    with np.errstate(divide="ignore"):
        loss = w64 * ((t64 - 1) * np.maximum(np.log1p(-p64), -100) - t64 * np.maximum(np.log(p64), -100))
    grad = w64 * (p64 - t64) / np.maximum(p64 * (1 - p64), float(np.float32(1e-12)))
    n = loss.size
    r = fl.binary_cross_entropy(p, t, weight=w, reduction=red)
    if red == "none":
        np.testing.assert_allclose(r, loss, rtol=rtol(dt) * 4, atol=1e-6 if dt == np.float32 else 1e-14)
    else:
        exp = loss.sum() / (n if red == "mean" else 1)
        np.testing.assert_allclose(float(r), exp, rtol=rtol(dt) * 4, atol=1e-6 if dt == np.float32 else 1e-13)
    g = fl.binary_cross_entropy_grad(p, t, weight=w, reduction=red)
    np.testing.assert_allclose(g, grad / (n if red == "mean" else 1), rtol=rtol(dt) * 8,
                               atol=(1e-5 if dt == np.float32 else 1e-13) * np.max(np.abs(grad), initial=1))
