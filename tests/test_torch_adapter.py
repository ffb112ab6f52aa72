"""fastlogistic.torch against torch.nn.functional itself (values, gradients,
fallbacks, modules) and torch.autograd.gradcheck."""
import subprocess
import sys
import warnings

import mpmath
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
flt = pytest.importorskip("fastlogistic.torch")

OURS = ("_FusedLossBackward", "_ElementwiseBackward")
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: dict(rtol=2e-6, atol=1e-7), torch.float64: dict(rtol=1e-12, atol=1e-15)}


def path(t):
    """'ours' when the result came from fastlogistic's autograd.Function."""
    return "ours" if type(t.grad_fn).__name__ in OURS else type(t.grad_fn).__name__


def close(a, b, dtype):
    torch.testing.assert_close(a, b, **TOL[dtype])


def value_and_grad(fn, x, *args, grad_out=None, **kw):
    """fn's value and d(sum(value * grad_out))/dx (grad_out random for 'none')."""
    x = x.detach().clone().requires_grad_(True)
    y = fn(x, *args, **kw)
    g = torch.full_like(y, 1.7) if grad_out is None else grad_out
    (gx,) = torch.autograd.grad(y, x, g)
    return y.detach(), gx, y


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(1234)


@pytest.fixture(autouse=True)
def _fused_at_every_size():
    """The tests below use small tensors: take the fused path at every size
    (TORCH_BELOW sends small batches to torch's own function); the tests of
    that switch restore the measured table themselves."""
    saved = dict(flt.TORCH_BELOW)
    for k in flt.TORCH_BELOW:
        flt.TORCH_BELOW[k] = 0
    yield
    flt.TORCH_BELOW.clear()
    flt.TORCH_BELOW.update(saved)


def test_import_fastlogistic_does_not_import_torch():
    code = "import sys, fastlogistic; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "False"


def test_signatures_match_torch():
    import inspect
    for name in ("binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy"):
        ours = inspect.signature(getattr(flt, name))
        theirs = inspect.signature(getattr(F, name))
        assert [(p.name, p.default) for p in ours.parameters.values()] == \
            [(p.name, p.default) for p in theirs.parameters.values()], name
    assert list(inspect.signature(flt.softplus).parameters) == ["input", "beta", "threshold"]
    for cls in ("BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss"):
        assert issubclass(getattr(flt, cls), getattr(torch.nn, cls))


# ---------------------------------------------------------------------------
# elementwise
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,ref", [("sigmoid", torch.sigmoid), ("logsigmoid", F.logsigmoid),
                                      ("softplus", F.softplus)])
def test_elementwise_values_and_grads(name, ref, dtype):
    """Against torch evaluated in float64 and rounded: torch's own float32
    gradient s (1 - s) loses its digits in the tails (|x| > 10), ours does not."""
    x = torch.linspace(-15, 15, 301, dtype=dtype).reshape(7, 43)
    y, g, out = value_and_grad(getattr(flt, name), x)
    yr, gr, _ = value_and_grad(ref, x.double())
    yr, gr = yr.to(dtype), gr.to(dtype)
    assert path(out) == "ours"
    close(y, yr, dtype)
    close(g, gr, dtype)
    assert y.dtype == g.dtype == dtype and y.shape == x.shape


def test_sigmoid_grad_accurate_in_the_tail():
    """torch's s (1 - s) is 0 at x = 40 (float64); ours is exp(-40)/(1+exp(-40))^2."""
    x = torch.tensor([-40.0, 40.0, 0.0], dtype=torch.float64)
    _, g, _ = value_and_grad(flt.sigmoid, x, grad_out=torch.ones(3, dtype=torch.float64))
    mpmath.mp.prec = 100
    exact = [float(mpmath.exp(-abs(mpmath.mpf(v))) / (1 + mpmath.exp(-abs(mpmath.mpf(v)))) ** 2)
             for v in (-40.0, 40.0, 0.0)]
    np.testing.assert_allclose(g.numpy(), exact, rtol=1e-14)
    _, gr, _ = value_and_grad(torch.sigmoid, x, grad_out=torch.ones(3, dtype=torch.float64))
    assert gr[1] == 0  # torch's, for contrast


def test_softplus_other_beta_threshold_is_torch():
    x = torch.randn(10, dtype=torch.float64, requires_grad=True)
    for kw in (dict(beta=2.0), dict(threshold=5.0), dict(beta=0.5, threshold=3.0)):
        y = flt.softplus(x, **kw)
        assert path(y) != "ours"
        torch.testing.assert_close(y, F.softplus(x, **kw), rtol=0, atol=0)


def test_softplus_above_threshold_is_exact():
    x = torch.tensor([25.0, 30.0], dtype=torch.float64)
    y = flt.softplus(x)
    np.testing.assert_allclose(y.numpy(), [25.0 + np.exp(-25.0), 30.0 + np.exp(-30.0)], rtol=1e-16)


# ---------------------------------------------------------------------------
# binary cross-entropy
# ---------------------------------------------------------------------------

def _bin_case(dtype, wshape, pwshape, shape=(6, 5), soft=True):
    x = torch.randn(shape, dtype=dtype) * 4
    t = torch.rand(shape, dtype=dtype) if soft else torch.randint(0, 2, shape).to(dtype)
    w = None if wshape is None else torch.rand(wshape, dtype=dtype) + 0.5
    pw = None if pwshape is None else torch.rand(pwshape, dtype=dtype) * 3 + 0.1
    return x, t, w, pw


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("wshape", [None, (5,), (6, 1), (6, 5)])
@pytest.mark.parametrize("pwshape", [None, (5,), ()])
def test_bce_with_logits_matches_torch(dtype, reduction, wshape, pwshape):
    x, t, w, pw = _bin_case(dtype, wshape, pwshape, soft=False)
    go = torch.rand(6, 5, dtype=dtype) + 0.5 if reduction == "none" else None
    kw = dict(weight=w, pos_weight=pw, reduction=reduction)
    y, g, out = value_and_grad(flt.binary_cross_entropy_with_logits, x, t, grad_out=go, **kw)
    # reference: torch in float64, rounded.  torch's gradient s(x) pw - pw
    # (t = 1) cancels where s(x) ~ 1; ours is -pw s(-x), exact: compare in
    # float64 with an absolute tolerance of a few ulp of 1.
    d = {k: (v.double() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
    yr, gr, _ = value_and_grad(F.binary_cross_entropy_with_logits, x.double(), t.double(),
                               grad_out=None if go is None else go.double(), **d)
    assert path(out) == "ours"
    close(y, yr.to(dtype), dtype)
    torch.testing.assert_close(g, gr.to(dtype), rtol=TOL[dtype]["rtol"],
                               atol=1e-7 if dtype is torch.float32 else 1e-14)
    assert y.dtype == dtype and y.shape == yr.shape


def test_bce_with_logits_soft_targets_accurate():
    """Soft targets, large |x|: ours matches an mpmath reference (torch loses digits)."""
    x = torch.tensor([30.0, -30.0, 12.0, -8.0], dtype=torch.float64)
    t = torch.tensor([0.999, 0.001, 0.75, 0.3], dtype=torch.float64)
    y = flt.binary_cross_entropy_with_logits(x, t, reduction="none")
    mpmath.mp.prec = 120

    def sp(v):
        return mpmath.log1p(mpmath.exp(v))
    ref = [float(tt * sp(-xx) + (1 - tt) * sp(xx))
           for xx, tt in zip(map(mpmath.mpf, x.tolist()), map(mpmath.mpf, t.tolist()))]
    np.testing.assert_allclose(y.numpy(), ref, rtol=4e-16)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("wshape", [None, (5,), (6, 5)])
def test_bce_matches_torch(dtype, reduction, wshape):
    x, t, w, _ = _bin_case(dtype, wshape, None)
    p = torch.sigmoid(x).clamp(1e-4, 1 - 1e-4)
    p[0, :3] = torch.tensor([0.0, 1.0, 0.5], dtype=dtype)   # the clamped logs
    t[0, :3] = torch.tensor([1.0, 0.0, 1.0], dtype=dtype)
    p[1, 0] = 0.0
    t[1, 0] = 0.0
    go = torch.rand(6, 5, dtype=dtype) + 0.5 if reduction == "none" else None
    kw = dict(weight=w, reduction=reduction)
    y, g, out = value_and_grad(flt.binary_cross_entropy, p, t, grad_out=go, **kw)
    yr, gr, _ = value_and_grad(F.binary_cross_entropy, p, t, grad_out=go, **kw)
    assert path(out) == "ours"
    close(y, yr, dtype)
    torch.testing.assert_close(g, gr, rtol=TOL[dtype]["rtol"] * 10, atol=TOL[dtype]["atol"])


def test_bce_out_of_range_raises_torchs_error():
    p = torch.tensor([0.5, 1.5], requires_grad=True)
    t = torch.tensor([0.0, 1.0])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        flt.binary_cross_entropy(p, t)


def test_legacy_size_average_reduce():
    x, t, _, _ = _bin_case(torch.float64, None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kw in (dict(size_average=False), dict(reduce=False), dict(size_average=True)):
            close(flt.binary_cross_entropy_with_logits(x, t, **kw),
                  F.binary_cross_entropy_with_logits(x, t, **kw), torch.float64)
            z = torch.randn(4, 3, dtype=torch.float64)
            y = torch.tensor([0, 2, 1, 1])
            close(flt.cross_entropy(z, y, **kw), F.cross_entropy(z, y, **kw), torch.float64)


# ---------------------------------------------------------------------------
# cross-entropy
# ---------------------------------------------------------------------------

CE_SHAPES = [(5,), (7, 5), (4, 5, 3), (3, 5, 2, 3)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.15])
def test_cross_entropy_index_targets(dtype, shape, reduction, weighted, smoothing):
    z = torch.randn(shape, dtype=dtype) * 3
    C = shape[1] if len(shape) > 1 else shape[0]
    batch = shape[:1] + shape[2:] if len(shape) > 1 else ()
    y = torch.randint(0, C, batch)
    if y.numel() > 1:
        y.view(-1)[0] = -100        # an ignored target
    w = torch.rand(C, dtype=dtype) + 0.5 if weighted else None
    kw = dict(weight=w, reduction=reduction, label_smoothing=smoothing)
    go = torch.rand(batch, dtype=dtype) + 0.5 if reduction == "none" else None
    out_ = value_and_grad(flt.cross_entropy, z, y, grad_out=go, **kw)
    ref = value_and_grad(F.cross_entropy, z, y, grad_out=go, **kw)
    assert path(out_[2]) == "ours"
    close(out_[0], ref[0], dtype)
    close(out_[1], ref[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probability_targets(dtype, shape, reduction):
    z = torch.randn(shape, dtype=dtype) * 3
    axis = 1 if len(shape) > 1 else 0
    t = torch.softmax(torch.randn(shape, dtype=dtype), dim=axis)
    w = torch.rand(shape[axis], dtype=dtype) + 0.5
    batch = shape[:1] + shape[2:] if len(shape) > 1 else ()
    go = torch.rand(batch, dtype=dtype) + 0.5 if reduction == "none" else None
    kw = dict(weight=w, reduction=reduction, label_smoothing=0.1)
    out_ = value_and_grad(flt.cross_entropy, z, t, grad_out=go, **kw)
    ref = value_and_grad(F.cross_entropy, z, t, grad_out=go, **kw)
    assert path(out_[2]) == "ours"
    close(out_[0], ref[0], dtype)
    close(out_[1], ref[1], dtype)


def test_cross_entropy_custom_ignore_index():
    z = torch.randn(6, 4, dtype=torch.float64)
    y = torch.tensor([0, 3, 3, 1, 2, 3])
    for kw in (dict(ignore_index=3), dict(ignore_index=3, label_smoothing=0.2)):
        a, ga, out = value_and_grad(flt.cross_entropy, z, y, **kw)
        b, gb, _ = value_and_grad(F.cross_entropy, z, y, **kw)
        assert path(out) == "ours"
        close(a, b, torch.float64)
        close(ga, gb, torch.float64)


def test_cross_entropy_bad_target_raises_torchs_error():
    z = torch.randn(3, 4, requires_grad=True)
    with pytest.raises((IndexError, RuntimeError)):
        flt.cross_entropy(z, torch.tensor([0, 4, 1]))
    with pytest.raises(RuntimeError):
        flt.cross_entropy(z, torch.tensor([0, 1, 1], dtype=torch.int32))


# ---------------------------------------------------------------------------
# gradcheck (float64)
# ---------------------------------------------------------------------------

def test_gradcheck_float64():
    gc = torch.autograd.gradcheck
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.rand(4, 3, dtype=torch.float64)
    w = torch.rand(3, dtype=torch.float64) + 0.5
    pw = torch.rand(3, dtype=torch.float64) + 0.5
    wc = torch.rand(5, dtype=torch.float64) + 0.5
    for red in ("mean", "sum", "none"):
        assert gc(lambda x: flt.binary_cross_entropy_with_logits(
            x, t, w, reduction=red, pos_weight=pw), (x,))
        p = torch.sigmoid(x.detach()).requires_grad_(True)
        assert gc(lambda p: flt.binary_cross_entropy(p, t, w, reduction=red), (p,))
        z = torch.randn(3, 5, 2, dtype=torch.float64, requires_grad=True)
        y = torch.tensor([[0, 4], [2, -100], [1, 1]])
        assert gc(lambda z: flt.cross_entropy(z, y, wc,
                                              reduction=red, label_smoothing=0.1), (z,))
    for f in (flt.sigmoid, flt.logsigmoid, flt.softplus):
        assert gc(f, (x,))


# ---------------------------------------------------------------------------
# fallbacks, strides, autograd behaviour
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_falls_back(dtype):
    x = torch.randn(8, 3).to(dtype).requires_grad_(True)
    t = torch.rand(8, 3).to(dtype)
    y = flt.binary_cross_entropy_with_logits(x, t)
    assert path(y) == "BinaryCrossEntropyWithLogitsBackward0"
    assert torch.equal(y, F.binary_cross_entropy_with_logits(x, t))
    assert path(flt.sigmoid(x)) == "SigmoidBackward0"
    c = flt.cross_entropy(x, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1]))
    assert path(c) != "ours" and torch.equal(c, F.cross_entropy(x, torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])))


def test_requires_grad_target_pos_weight_weight_fall_back():
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    t = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)
    w = (torch.rand(3, dtype=torch.float64) + 0.5).requires_grad_(True)
    pw = (torch.rand(3, dtype=torch.float64) + 0.5).requires_grad_(True)
    y = flt.binary_cross_entropy_with_logits(x, t, pos_weight=pw.detach())
    assert path(y) == "BinaryCrossEntropyWithLogitsBackward0"
    (gt,) = torch.autograd.grad(y, t)
    (rt,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(x, t, pos_weight=pw.detach()), t)
    assert torch.equal(gt, rt)
    # torch refuses a weight / pos_weight that requires grad; so does the
    # fallback, in torch's words
    for kw in (dict(weight=w), dict(pos_weight=pw)):
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
            flt.binary_cross_entropy_with_logits(x, t.detach(), **kw)
    p = torch.sigmoid(x.detach()).requires_grad_(True)
    y = flt.binary_cross_entropy(p, t)
    assert path(y) != "ours"
    (gt,) = torch.autograd.grad(y, t)
    assert torch.equal(gt, torch.autograd.grad(F.binary_cross_entropy(p, t), t)[0])
    z = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
        flt.cross_entropy(z, torch.tensor([0, 1, 2, 1, 0]), w)
    tp = torch.softmax(torch.randn(5, 3, dtype=torch.float64), 1).requires_grad_(True)
    y = flt.cross_entropy(z, tp)
    assert path(y) != "ours"
    (gt,) = torch.autograd.grad(y, tp)
    torch.testing.assert_close(gt, torch.autograd.grad(F.cross_entropy(z, tp), tp)[0])


def test_meta_device_and_mixed_dtypes_fall_back():
    x = torch.randn(4, 3, device="meta", requires_grad=True)
    t = torch.empty(4, 3, device="meta")
    y = flt.binary_cross_entropy_with_logits(x, t)
    assert y.device.type == "meta"
    x = torch.randn(4, 3, requires_grad=True)
    t = torch.rand(4, 3, dtype=torch.float64)
    with pytest.raises(RuntimeError):       # torch's own complaint
        F.binary_cross_entropy(x, t)
    with pytest.raises(RuntimeError):
        flt.binary_cross_entropy(torch.sigmoid(x), t)


def test_shape_mismatch_raises_torchs_error():
    x = torch.randn(4, 3, requires_grad=True)
    with pytest.raises(ValueError, match="Target size"):
        flt.binary_cross_entropy_with_logits(x, torch.rand(4, 1))


def test_non_contiguous_input():
    base = torch.randn(12, 10, dtype=torch.float64)
    x = base[::2, 1::3].t()                    # non-contiguous, transposed
    assert not x.is_contiguous()
    t = torch.rand(x.shape, dtype=torch.float64)
    for red in ("mean", "none"):
        a, ga, out = value_and_grad(flt.binary_cross_entropy_with_logits, x, t, reduction=red)
        b, gb, _ = value_and_grad(F.binary_cross_entropy_with_logits, x, t, reduction=red)
        assert path(out) == "ours"
        close(a, b, torch.float64)
        close(ga, gb, torch.float64)
    z = torch.randn(5, 8, dtype=torch.float64)[:, ::2]
    y = torch.tensor([0, 3, 2, 1, 1])
    a, ga, _ = value_and_grad(flt.cross_entropy, z, y)
    b, gb, _ = value_and_grad(F.cross_entropy, z, y)
    close(a, b, torch.float64)
    close(ga, gb, torch.float64)
    s = torch.randn(10, 10)[:, 3]
    close(flt.sigmoid(s), torch.sigmoid(s), torch.float32)


def test_double_backward_falls_back_to_torch():
    """create_graph=True: the backward differentiates torch's own function,
    so second derivatives exist and are right (gradgradcheck)."""
    ggc = torch.autograd.gradgradcheck
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    t = torch.rand(4, 3, dtype=torch.float64)
    pw = torch.rand(3, dtype=torch.float64) + 0.5
    for red in ("mean", "none"):
        assert ggc(lambda x: flt.binary_cross_entropy_with_logits(x, t, reduction=red,
                                                                  pos_weight=pw), (x,))
        assert ggc(lambda z: flt.cross_entropy(z, torch.tensor([0, 2, 1, 1]), reduction=red,
                                               label_smoothing=0.1), (x,))
        p = torch.sigmoid(x.detach()).requires_grad_(True)
        assert ggc(lambda p: flt.binary_cross_entropy(p, t, reduction=red), (p,))
    for f in (flt.sigmoid, flt.logsigmoid, flt.softplus):
        assert ggc(f, (x,))
    # a gradient penalty gives torch's value
    y = flt.binary_cross_entropy_with_logits(x, t)
    (g,) = torch.autograd.grad(y, x, create_graph=True)
    (h,) = torch.autograd.grad(g.pow(2).sum(), x)
    yr = F.binary_cross_entropy_with_logits(x, t)
    (gr,) = torch.autograd.grad(yr, x, create_graph=True)
    (hr,) = torch.autograd.grad(gr.pow(2).sum(), x)
    close(h, hr, torch.float64)


def test_retain_graph_accumulates():
    x = torch.randn(6, dtype=torch.float64, requires_grad=True)
    t = torch.rand(6, dtype=torch.float64)
    y = flt.binary_cross_entropy_with_logits(x, t)
    y.backward(retain_graph=True)
    g1 = x.grad.clone()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, 3 * g1, torch.float64)
    close(g1, torch.sigmoid(x.detach()).sub(t).div(6), torch.float64)


def test_no_grad_and_leaf_without_grad():
    x = torch.randn(6, 4)
    t = torch.rand(6, 4)
    y = flt.binary_cross_entropy_with_logits(x, t)
    assert y.grad_fn is None and not y.requires_grad
    close(y, F.binary_cross_entropy_with_logits(x, t), torch.float32)
    xr = x.clone().requires_grad_(True)
    with torch.no_grad():
        y = flt.cross_entropy(xr, torch.tensor([0, 1, 2, 3, 0, 1]))
    assert y.grad_fn is None


def test_inputs_not_modified():
    x = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    t = torch.rand(6, 4, dtype=torch.float64)
    x0, t0 = x.detach().clone(), t.clone()
    flt.binary_cross_entropy_with_logits(x, t, reduction="none").sum().backward()
    flt.sigmoid(x).sum().backward()
    assert torch.equal(x.detach(), x0) and torch.equal(t, t0)


def test_follows_torch_threads():
    x = torch.randn(1000, dtype=torch.float64, requires_grad=True)
    t = torch.rand(1000, dtype=torch.float64)
    n = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        a = flt.binary_cross_entropy_with_logits(x, t)
    finally:
        torch.set_num_threads(n)
    assert a.item() == flt.binary_cross_entropy_with_logits(x, t).item()  # bitwise: any threads


# ---------------------------------------------------------------------------
# modules
# ---------------------------------------------------------------------------

def test_modules_state_repr_and_values():
    w = torch.rand(3, dtype=torch.float64) + 0.5
    pw = torch.rand(3, dtype=torch.float64) + 0.5
    pairs = [
        (flt.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction="sum"),
         torch.nn.BCEWithLogitsLoss(weight=w, pos_weight=pw, reduction="sum")),
        (flt.BCELoss(weight=w), torch.nn.BCELoss(weight=w)),
        (flt.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(weight=w, ignore_index=2, label_smoothing=0.1)),
    ]
    x = torch.randn(5, 3, dtype=torch.float64)
    t = torch.rand(5, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 1, 0])
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert ours.state_dict().keys() == theirs.state_dict().keys()
        for k, v in theirs.state_dict().items():
            assert torch.equal(ours.state_dict()[k], v)
        ours.load_state_dict(theirs.state_dict())
        assert isinstance(ours, type(theirs))
        inp = torch.sigmoid(x) if isinstance(ours, torch.nn.BCELoss) else x
        tgt = y if isinstance(ours, torch.nn.CrossEntropyLoss) else t
        a, ga, out = value_and_grad(ours, inp, tgt)
        b, gb, _ = value_and_grad(theirs, inp, tgt)
        assert path(out) == "ours"
        close(a, b, torch.float64)
        close(ga, gb, torch.float64)
    assert flt.CrossEntropyLoss().ignore_index == -100
    assert flt.BCEWithLogitsLoss().reduction == "mean"


def test_module_in_training_step_matches_torch():
    torch.manual_seed(0)
    X = torch.randn(64, 10)
    Y = (torch.rand(64, 1) < 0.5).float()
    models = [torch.nn.Linear(10, 1) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    for model, loss_fn in zip(models, (flt.BCEWithLogitsLoss(), torch.nn.BCEWithLogitsLoss())):
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(5):
            opt.zero_grad()
            loss_fn(model(X), Y).backward()
            opt.step()
    for p, q in zip(models[0].parameters(), models[1].parameters()):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_plain_path_same_bits_as_general_path(dtype, reduction):
    """Contiguous input and target without weights take the short path
    (_api._bcel_plain); a strided view of the same numbers takes the general
    one: the same loss and gradient, bit for bit, with and without grad."""
    base = torch.randn(300, 6, dtype=dtype) * 6
    t = torch.rand(300, 3, dtype=dtype)
    t[::7] = 1.0
    xc = base[:, ::2].contiguous().requires_grad_(True)
    xs = base.clone().requires_grad_(True)
    lc = flt.binary_cross_entropy_with_logits(xc, t, reduction=reduction)
    ls = flt.binary_cross_entropy_with_logits(xs[:, ::2], t, reduction=reduction)
    assert lc.dtype == dtype and lc.shape == () and torch.equal(lc, ls)
    lc.backward()
    ls.backward()
    assert torch.equal(xc.grad, xs.grad[:, ::2])
    # the float64 reference: torch's own function at float64
    ref = F.binary_cross_entropy_with_logits(xc.detach().double(), t.double(), reduction=reduction)
    close(lc, ref.to(dtype), dtype)
    with torch.no_grad():
        n1 = flt.binary_cross_entropy_with_logits(xc, t, reduction=reduction)
    assert n1.grad_fn is None and torch.equal(n1, lc.detach())


def test_plain_path_double_backward_and_in_place_check():
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    t = torch.rand(5, 4, dtype=torch.float64)
    for red in ("mean", "sum"):
        assert torch.autograd.gradgradcheck(
            lambda x: flt.binary_cross_entropy_with_logits(x, t, reduction=red), (x,))
    # an input changed in place after the forward: torch's own error at backward
    y = x.detach().clone().requires_grad_(True)
    z = y * 1.0
    loss = flt.binary_cross_entropy_with_logits(z, t)
    with torch.no_grad():
        z.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


# ---------------------------------------------------------------------------
# every function on every layout: 0-d, empty, expanded (zero strides),
# non-contiguous, transposed; with and without requires_grad
# ---------------------------------------------------------------------------

C = 5
LAYOUTS = ["0d", "empty", "empty2d", "expanded_row", "expanded_col", "expanded_all",
           "strided", "transposed"]


def _base_and_view(layout, dtype, ncls=None):
    """(leaf tensor, function leaf -> the input tensor of that layout).  With
    ncls, the input has a class axis of that length at axis 1 (or is (C,)
    for "0d": a single sample)."""
    c = ncls or 3
    if layout == "0d":
        return (torch.randn(c if ncls else (), dtype=dtype), lambda b: b)
    if layout == "empty":
        return torch.randn(0, c, dtype=dtype) if ncls else torch.randn(0, dtype=dtype), lambda b: b
    if layout == "empty2d":
        return torch.randn(4, c, 0, dtype=dtype) if ncls else torch.randn(3, 0, dtype=dtype), \
            lambda b: b
    if layout == "expanded_row":
        return torch.randn(1, c, dtype=dtype), lambda b: b.expand(6, c)
    if layout == "expanded_col":
        return torch.randn(6, 1, dtype=dtype), lambda b: b.expand(6, c)
    if layout == "expanded_all":
        return torch.randn((), dtype=dtype), lambda b: b.expand(6, c)
    if layout == "strided":
        return torch.randn(12, 2 * c, dtype=dtype), lambda b: b[::2, ::2]
    if layout == "transposed":
        return torch.randn(c, 7, dtype=dtype), lambda b: b.t()
    raise AssertionError(layout)


def _compare(ours_fn, ref_fn, layout, dtype, requires_grad, make_args, ncls=None,
             prob=False):
    base, view = _base_and_view(layout, dtype, ncls)
    if prob:
        base = torch.sigmoid(base)
    results = []
    args = make_args(view(base))
    for fn in (ours_fn, ref_fn):
        b = base.detach().clone().requires_grad_(requires_grad)
        x = view(b)
        y = fn(x, *args)
        assert y.requires_grad == requires_grad
        if requires_grad:
            gout = torch.linspace(0.5, 1.5, y.numel(), dtype=dtype).reshape(y.shape)
            (g,) = torch.autograd.grad(y, b, gout)
            assert g.shape == b.shape
            results.append((y.detach(), g))
        else:
            results.append((y, None))
    (a, ga), (r, gr) = results
    assert a.shape == r.shape and a.dtype == r.dtype
    torch.testing.assert_close(a, r, equal_nan=True, **TOL[dtype])
    if requires_grad:
        # a gradient summed over an expanded axis: float32 sums of differently
        # rounded terms (that cancel for cross-entropy) differ by an ulp of the terms
        tol = dict(rtol=2e-6, atol=1e-6) if layout.startswith("expanded") and \
            dtype is torch.float32 else TOL[dtype]
        torch.testing.assert_close(ga, gr, equal_nan=True, **tol)
    return x


@pytest.mark.parametrize("requires_grad", [False, True], ids=["nograd", "grad"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name,ref", [("sigmoid", torch.sigmoid), ("logsigmoid", F.logsigmoid),
                                      ("softplus", F.softplus)])
def test_elementwise_every_layout(name, ref, layout, dtype, requires_grad):
    x = _compare(getattr(flt, name), ref, layout, dtype, requires_grad, lambda x: ())
    if layout == "0d":
        assert x.dim() == 0


@pytest.mark.parametrize("requires_grad", [False, True], ids=["nograd", "grad"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name", ["binary_cross_entropy_with_logits", "binary_cross_entropy"])
def test_binary_losses_every_layout(name, reduction, layout, dtype, requires_grad):
    gen = torch.Generator().manual_seed(5)

    def args(x):
        t = torch.rand(x.shape, generator=gen, dtype=dtype)
        return (t, None, None, None, reduction)

    _compare(getattr(flt, name), getattr(F, name), layout, dtype, requires_grad, args,
             prob=name == "binary_cross_entropy")


@pytest.mark.parametrize("requires_grad", [False, True], ids=["nograd", "grad"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("target", ["index", "prob"])
def test_cross_entropy_every_layout(target, reduction, layout, dtype, requires_grad):
    gen = torch.Generator().manual_seed(6)

    def args(x):
        if target == "index":
            batch = x.shape[:1] + x.shape[2:] if x.dim() >= 2 else ()
            t = torch.randint(0, C, batch, generator=gen)
        else:
            t = torch.softmax(torch.randn(x.shape, generator=gen, dtype=dtype), dim=-1)
        return (t, None, None, -100, None, reduction)

    _compare(flt.cross_entropy, F.cross_entropy, layout, dtype, requires_grad, args, ncls=C)


def test_zero_dim_backward_takes_the_fused_path():
    """A 0-d input with requires_grad: the fused path's backward (the
    derivative of a 0-d input is a NumPy scalar, made a 0-d tensor)."""
    for fn, ref in ((flt.sigmoid, torch.sigmoid), (flt.logsigmoid, F.logsigmoid),
                    (flt.softplus, F.softplus)):
        x = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
        y = fn(x)
        assert path(y) == "ours"
        y.backward()
        xr = x.detach().clone().requires_grad_(True)
        ref(xr).backward()
        close(x.grad, xr.grad, torch.float64)
    x = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    y = flt.binary_cross_entropy_with_logits(x, torch.tensor(1.0, dtype=torch.float64),
                                             reduction="none")
    assert path(y) == "ours"
    y.backward()
    close(x.grad, torch.sigmoid(x.detach()) - 1, torch.float64)


# ---------------------------------------------------------------------------
# small batches: torch's own function below the measured crossing size
# ---------------------------------------------------------------------------

def test_torch_below_table_covers_every_function_and_dtype():
    names = ("sigmoid", "logsigmoid", "softplus", "binary_cross_entropy",
             "binary_cross_entropy_with_logits", "cross_entropy")
    want = {(n, d, g) for n in names for d in DTYPES for g in (False, True)}
    assert set(flt.TORCH_BELOW) == want


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_batches_run_torchs_function_big_ones_the_fused_path(dtype):
    """Below TORCH_BELOW[(function, dtype, grad)] elements the result is
    torch's own (its grad_fn), from that size on the fused path's; values and
    gradients agree with torch on both sides of the switch."""
    cases = [
        ("sigmoid", lambda x: flt.sigmoid(x), lambda x: torch.sigmoid(x), False),
        ("logsigmoid", lambda x: flt.logsigmoid(x), lambda x: F.logsigmoid(x), False),
        ("softplus", lambda x: flt.softplus(x), lambda x: F.softplus(x), False),
        ("binary_cross_entropy_with_logits",
         lambda x: flt.binary_cross_entropy_with_logits(x, torch.full_like(x, 0.25)),
         lambda x: F.binary_cross_entropy_with_logits(x, torch.full_like(x, 0.25)), False),
        ("binary_cross_entropy",
         lambda x: flt.binary_cross_entropy(torch.sigmoid(x), torch.full_like(x, 0.25)),
         lambda x: F.binary_cross_entropy(torch.sigmoid(x), torch.full_like(x, 0.25)), True),
        ("cross_entropy",
         lambda x: flt.cross_entropy(x.reshape(-1, 4), torch.arange(x.numel() // 4) % 4),
         lambda x: F.cross_entropy(x.reshape(-1, 4), torch.arange(x.numel() // 4) % 4), False),
    ]
    for name, ours, ref, through_sigmoid in cases:
        for grad in (False, True):
            flt.TORCH_BELOW[(name, dtype, grad)] = 64
            for n, want in ((60, "torch"), (64, "ours"), (68, "ours")):
                x = torch.randn(n, dtype=dtype, requires_grad=grad)
                xi = torch.sigmoid(x) if through_sigmoid else x
                y = ours(x)
                if grad:
                    ours_path = path(y) == "ours" if not through_sigmoid else \
                        type(y.grad_fn).__name__ in OURS
                    assert ours_path == (want == "ours"), (name, n, grad)
                    (g,) = torch.autograd.grad(y.sum(), x)
                    (gr,) = torch.autograd.grad(ref(x).sum(), x)
                    close(g, gr, dtype)
                close(y.detach(), ref(x).detach(), dtype)
                del xi
            flt.TORCH_BELOW[(name, dtype, grad)] = 0


# ---------------------------------------------------------------------------
# TorchScript and tracing
# ---------------------------------------------------------------------------

class _Net(torch.nn.Module):
    """A model that contains a loss (scripted as a whole)."""

    def __init__(self, loss, out, prob):
        super().__init__()
        self.lin = torch.nn.Linear(3, out)
        self.prob = prob
        self.loss = loss

    def forward(self, x, t):
        z = self.lin(x)
        if self.prob:
            z = torch.sigmoid(z)
        return self.loss(z, t)


def _loss_cases():
    pw = torch.tensor([2.0, 1.0, 0.5, 1.0])
    w = torch.tensor([1.0, 2.0, 1.0, 0.5])
    return [
        (flt.BCEWithLogitsLoss(pos_weight=pw), torch.nn.BCEWithLogitsLoss(pos_weight=pw),
         lambda: torch.rand(5, 4), False),
        (flt.BCEWithLogitsLoss(reduction="none"), torch.nn.BCEWithLogitsLoss(reduction="none"),
         lambda: torch.rand(5, 4), False),
        (flt.BCELoss(weight=w), torch.nn.BCELoss(weight=w), lambda: torch.rand(5, 4), True),
        (flt.CrossEntropyLoss(weight=w, label_smoothing=0.1),
         torch.nn.CrossEntropyLoss(weight=w, label_smoothing=0.1),
         lambda: torch.tensor([0, 1, 2, 3, 1]), False),
        (flt.CrossEntropyLoss(reduction="sum"), torch.nn.CrossEntropyLoss(reduction="sum"),
         lambda: torch.softmax(torch.randn(5, 4), 1), False),
    ]


@pytest.mark.parametrize("case", range(5))
def test_modules_and_models_script_and_compute_torchs_loss(case):
    ours, ref, target, prob = _loss_cases()[case]
    x, t = torch.randn(5, 3), target()
    z = torch.randn(5, 4)
    z = torch.sigmoid(z) if prob else z
    close(torch.jit.script(ours)(z, t), ref(z, t), torch.float32)
    net = _Net(ours, 4, prob)
    refnet = _Net(ref, 4, prob)
    refnet.load_state_dict(net.state_dict())
    scripted = torch.jit.script(net)
    y = scripted(x, t)
    close(y, refnet(x, t), torch.float32)
    close(y, net(x, t), torch.float32)
    # the scripted model trains: gradients are torch's
    scripted(x, t).sum().backward()
    refnet(x, t).sum().backward()
    for p, q in zip(scripted.parameters(), refnet.parameters()):
        close(p.grad, q.grad, torch.float32)
    # the scripted graph calls torch's own loss, not Python
    kinds = {n.kind() for n in scripted.inlined_graph.nodes()}
    assert "prim::PythonOp" not in kinds
    assert kinds & {"aten::binary_cross_entropy", "aten::binary_cross_entropy_with_logits",
                    "aten::cross_entropy_loss"}


def test_functions_script():
    x = torch.randn(6, 4, dtype=torch.float64)
    t = torch.rand(6, 4, dtype=torch.float64)
    close(torch.jit.script(flt.sigmoid)(x), torch.sigmoid(x), torch.float64)
    close(torch.jit.script(flt.logsigmoid)(x), F.logsigmoid(x), torch.float64)
    close(torch.jit.script(flt.softplus)(x, 2.0, 10.0), F.softplus(x, 2.0, 10.0), torch.float64)
    close(torch.jit.script(flt.binary_cross_entropy_with_logits)(x, t),
          F.binary_cross_entropy_with_logits(x, t), torch.float64)
    p = torch.sigmoid(x)
    close(torch.jit.script(flt.binary_cross_entropy)(p, t), F.binary_cross_entropy(p, t),
          torch.float64)
    y = torch.tensor([0, 1, 2, 3, 0, 1])
    close(torch.jit.script(flt.cross_entropy)(x, y), F.cross_entropy(x, y), torch.float64)


@pytest.mark.parametrize("case", range(5))
def test_trace_is_quiet_and_computes_torchs_loss(case):
    ours, ref, target, prob = _loss_cases()[case]
    x, t = torch.randn(5, 3), target()
    net = _Net(ours, 4, prob)
    refnet = _Net(ref, 4, prob)
    refnet.load_state_dict(net.state_dict())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.jit.trace(net, (x, t))
    tracer = [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    assert tracer == [], [str(w.message) for w in tracer]
    x2 = torch.randn(5, 3)
    close(traced(x2, t), refnet(x2, t), torch.float32)


def test_trace_of_functions_is_quiet():
    x = torch.randn(4, 3)
    t = torch.rand(4, 3)
    y = torch.tensor([0, 1, 2, 0])
    fns = [lambda x: flt.sigmoid(x), lambda x: flt.logsigmoid(x), lambda x: flt.softplus(x),
           lambda x: flt.binary_cross_entropy_with_logits(x, t),
           lambda x: flt.binary_cross_entropy(torch.sigmoid(x), t),
           lambda x: flt.cross_entropy(x, y)]
    refs = [torch.sigmoid, F.logsigmoid, F.softplus,
            lambda x: F.binary_cross_entropy_with_logits(x, t),
            lambda x: F.binary_cross_entropy(torch.sigmoid(x), t),
            lambda x: F.cross_entropy(x, y)]
    for f, r in zip(fns, refs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            traced = torch.jit.trace(f, (x,))
        assert not [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
        x2 = torch.randn(4, 3)
        close(traced(x2), r(x2), torch.float32)
