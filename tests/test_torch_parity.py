"""Parity with PyTorch (CPU) on random and extreme inputs.

Where torch is accurate the results agree to rounding; where torch is known to
be inaccurate (BCE-with-logits on soft targets and tiny losses, s (1 - s)
underflow in the sigmoid's backward, softplus above its threshold of 20) both
are compared against mpmath and ours must be the accurate one."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import fastlogistic as fl  # noqa: E402
from conftest import (Exact, mp_bce_logits, mp_log_sigmoid, mp_map, mp_sigmoid,  # noqa: E402
                      mp_sigmoid_grad, mp_softplus)

DTYPES = [np.float64, np.float32]
IDS = ["f64", "f32"]
REDS = ["none", "sum", "mean"]


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def T(a, grad=False):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def eps(dt):
    return float(np.finfo(dt).eps)


def close(ours, theirs, dt, ulps=4, atol=0.0):
    ours = np.asarray(ours, np.float64)
    theirs = np.asarray(theirs.detach().numpy() if hasattr(theirs, "detach") else theirs, np.float64)
    np.testing.assert_allclose(ours, theirs, rtol=ulps * eps(dt), atol=atol)


# --- binary_cross_entropy on probabilities --------------------------------------

def _probs(dt, n=400, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.random(n)
    p[:40] = np.exp(rng.uniform(-120, 0, 40))          # tiny, some below e^-100: clamp
    p[40:80] = 1 - np.exp(rng.uniform(-40, -1, 40))    # near 1
    p[80:90] = [0, 1, 0, 1, 1e-300, 1 - 2**-53, 0.5, 1e-6, 1 - 1e-6, 1e-13]
    t = rng.random(n)
    t[::3] = rng.random(len(t[::3])) < 0.5
    t[80:90] = [1, 0, 0, 1, 1, 0, 0.5, 1, 0, 1]
    w = rng.uniform(0, 2, n)
    return p.astype(dt), t.astype(dt), w.astype(dt)


@pytest.mark.parametrize("dt", DTYPES, ids=IDS)
@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weight"])
def test_bce_matches_torch_with_clamp_and_floor(dt, red, weighted):
    p, t, w = _probs(dt)
    w = w if weighted else None
    pt = T(p, grad=True)
    lt = F.binary_cross_entropy(pt, T(t), weight=None if w is None else T(w), reduction=red)
    (lt if red != "none" else lt.sum()).backward()
    ours = fl.binary_cross_entropy(p, t, weight=w, reduction=red)
    # our log/log1p and libm's may differ by an ulp: compare at a few ulps of
    # the larger term (the loss is a difference of two clamped logs)
    if red == "none":
        assert ours.dtype == dt and np.isfinite(ours).all()
        close(ours, lt, dt, ulps=8, atol=8 * eps(dt))
        # the clamp: p = 0 with t = 1 (and p = 1 with t = 0) is exactly 100 w
        wv = np.ones_like(p) if w is None else w
        assert ours[80] == dt(100) * wv[80] and ours[81] == dt(100) * wv[81]
    else:
        assert type(ours) is dt
        close(ours, lt, dt, ulps=8 if dt == np.float64 else 64)
    g = fl.binary_cross_entropy_grad(p, t, weight=w, reduction=red)
    close(g, pt.grad.numpy(), dt, ulps=8, atol=0)


# torch 2.13 floors the backward's denominator at float32(1e-12) =
# 9.999999960041972e-13 for float64 too (p=0, t=1 gives -1000000003995.8029);
# the kernel uses the same constant, so the two agree where the floor is active.
@pytest.mark.parametrize("red", REDS)
def test_bce_grad_floor_parity_float64(red):
    p = np.array([0.0, 1.0, 1e-20, 1e-13, 2.6e-42, 1 - 2**-50])
    t = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.5])
    pt = T(p, grad=True)
    lt = F.binary_cross_entropy(pt, T(t), reduction=red)
    (lt if red != "none" else lt.sum()).backward()
    close(fl.binary_cross_entropy_grad(p, t, reduction=red), pt.grad, np.float64, ulps=8)


def test_bce_grad_floor_float32_matches_torch():
    p = np.array([0.0, 1.0, 1e-20, 1e-13, 2.6e-42], np.float32)
    t = np.array([1.0, 0.0, 0.0, 0.0, 1.0], np.float32)
    pt = T(p, grad=True)
    F.binary_cross_entropy(pt, T(t), reduction="sum").backward()
    close(fl.binary_cross_entropy_grad(p, t, reduction="sum"), pt.grad, np.float32, ulps=2)


def test_bce_clamp_details_against_torch():
    p = np.array([0.0, 1.0, 1e-50, 1 - 1e-16, 2e-44, 4e-44])
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.5])
    for dt in DTYPES:
        pd, td = p.astype(dt), t.astype(dt)
        pt = T(pd, grad=True)
        lt = F.binary_cross_entropy(pt, T(td), reduction="none")
        lt.sum().backward()
        np.testing.assert_array_equal(fl.binary_cross_entropy(pd, td, reduction="none")[:3],
                                      lt.detach().numpy()[:3])
        close(fl.binary_cross_entropy(pd, td, reduction="none"), lt, dt, ulps=4)
        if dt == np.float32:      # float64: see test_bce_grad_floor_parity_float64
            close(fl.binary_cross_entropy_grad(pd, td, reduction="none"), pt.grad, dt, ulps=4)


# --- binary_cross_entropy_with_logits ------------------------------------------

def _logits(dt, n=500, seed=1, hard=True):
    rng = np.random.default_rng(seed)
    big = 80 if dt == np.float32 else 700
    x = np.concatenate([rng.normal(0, 3, n - 60), rng.uniform(-big, big, 40),
                        [0, -0, 1e-30, -1e-30, 15, -15, 30, -30, 50, -50, 88, -88, 100, -100,
                         500, -500, 20, -20, 5, -5]])
    t = (rng.random(n) < 0.5).astype(np.float64) if hard else rng.random(n)
    w = rng.uniform(0.1, 2, n)
    pw = rng.uniform(0.2, 3, n)
    return x.astype(dt), t.astype(dt), w.astype(dt), pw.astype(dt)


def _torch_bcel(x, t, w, pw, red):
    xt = T(x, grad=True)
    lt = F.binary_cross_entropy_with_logits(xt, T(t), weight=None if w is None else T(w),
                                            pos_weight=None if pw is None else T(pw), reduction=red)
    (lt if red != "none" else lt.sum()).backward()
    return lt.detach().numpy(), xt.grad.numpy()


def _torch_error_bound(x, t, w, pw, dt):
    """A bound on torch's own rounding error: it computes
    (1 - t) x - (1 + (pw - 1) t) log_sigmoid(x), whose terms can be ~|x|
    even where the loss is small."""
    x64, t64 = np.abs(x.astype(np.float64)), t.astype(np.float64)
    wv = 1.0 if w is None else w.astype(np.float64)
    pv = 1.0 if pw is None else pw.astype(np.float64)
    return 16 * eps(dt) * wv * (x64 * (1 + pv) + 1)


@pytest.mark.parametrize("dt", DTYPES, ids=IDS)
@pytest.mark.parametrize("red", REDS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_torch(dt, red, weights):
    x, t, w, pw = _logits(dt)
    w = w if weights in ("weight", "both") else None
    pw = pw if weights in ("pos_weight", "both") else None
    lt, gt = _torch_bcel(x, t, w, pw, red)
    loss, grad = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t, weight=w, pos_weight=pw,
                                                                   reduction=red)
    g2 = fl.binary_cross_entropy_with_logits_grad(x, t, weight=w, pos_weight=pw, reduction=red)
    np.testing.assert_array_equal(grad, g2)
    bound = _torch_error_bound(x, t, w, pw, dt)
    n = x.size
    if red == "none":
        assert np.all(np.abs(loss.astype(np.float64) - lt) <= bound + 4 * eps(dt) * np.abs(lt))
    else:
        assert type(loss) is dt
        div = n if red == "mean" else 1
        assert abs(float(loss) - float(lt)) <= bound.sum() / div + 8 * eps(dt) * abs(float(lt))
    # gradient: s(x) (pw t + 1 - t) - pw t, hard targets: accurate in both
    div = n if red == "mean" else 1
    scale = (1.0 if w is None else w.astype(np.float64)) * (1 + (1.0 if pw is None else pw.astype(np.float64)))
    np.testing.assert_array_less(np.abs(grad.astype(np.float64) - gt), 8 * eps(dt) * scale / div + 1e-300)


@pytest.mark.parametrize("dt", DTYPES, ids=IDS)
def test_bce_with_logits_soft_targets_where_torch_is_inaccurate(dt):
    """Soft targets and tiny losses: against mpmath, ours within 4 ULP and
    never worse than torch, and torch measurably worse somewhere."""
    x, t, _, _ = _logits(dt, hard=False, seed=3)
    # add tiny-loss points: t = 0 and x very negative, t = 1 and x very positive
    x = np.concatenate([x, np.array([-30, -40, -60, 30, 40, 60, 36.5, -36.5], dt)])
    t = np.concatenate([t, np.array([0, 0, 0, 1, 1, 1, 1, 0], dt)])
    ex = Exact(mp_map(mp_bce_logits, x, t), dt)
    lt, _ = _torch_bcel(x, t, None, None, "none")
    ours = fl.binary_cross_entropy_with_logits(x, t, reduction="none")
    e_ours, e_torch = ex.errors(ours), ex.errors(lt.astype(dt))
    assert e_ours.max() <= 4
    assert np.all(e_ours <= np.maximum(e_torch, 4))
    assert e_torch.max() > 100         # torch loses hundreds of ULP (or all digits)
    # at x = -40, t = 0 the loss is 4.25e-18: torch returns 0 in float64
    i = x.size - 7
    assert ours[i] > 0 and abs(float(ours[i]) - 4.248354255291589e-18) < 1e-30 or dt == np.float32


@pytest.mark.parametrize("dt", DTYPES, ids=IDS)
def test_bce_with_logits_infinite_logits(dt):
    """torch gives nan at x = +-inf; ours gives the exact limits."""
    x = np.array([-np.inf, np.inf, -np.inf, np.inf], dt)
    t = np.array([0, 1, 1, 0], dt)
    ours = fl.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_array_equal(ours, [0, 0, np.inf, np.inf])
    g, _ = fl.binary_cross_entropy_with_logits_grad_hess(x, t)
    np.testing.assert_array_equal(g, [0, 0, -1, 1])
    # torch agrees on the gradient (s(x) - t), which is well defined
    _, gt = _torch_bcel(x, t, None, None, "none")
    np.testing.assert_array_equal(g, gt)


# --- sigmoid, logsigmoid, softplus -----------------------------------------------

def _xs(dt):
    rng = np.random.default_rng(9)
    big = 88 if dt == np.float32 else 700
    return np.concatenate([rng.normal(0, 4, 400), rng.uniform(-big, big, 100),
                           [0, -0.0, 1e-30, -1e-30, 20, -20, 40, -40]]).astype(dt)


@pytest.mark.parametrize("dt", DTYPES, ids=IDS)
def test_sigmoid_family_matches_torch(dt):
    x = _xs(dt)
    xt = T(x)
    close(fl.sigmoid(x), torch.sigmoid(xt), dt, ulps=4)
    close(fl.log_sigmoid(x), F.logsigmoid(xt), dt, ulps=4)
    m = x <= 20           # torch's softplus returns x itself above its threshold 20
    close(fl.softplus(x[m]), F.softplus(xt[torch.from_numpy(m)]), dt, ulps=4)


@pytest.mark.parametrize("dt", DTYPES, ids=IDS)
def test_where_torch_softplus_and_sigmoid_backward_are_inaccurate(dt):
    x = np.array([21, 25, 30, 35, 37, 40, 45, 60, 80] if dt == np.float64 else [16, 17, 18, 20, 25, 40], dt)
    xt = T(x, grad=True)
    torch.sigmoid(xt).sum().backward()          # s (1 - s): underflows to 0
    gt = xt.grad.numpy()
    ours = fl.sigmoid_grad(x)
    ex = Exact(mp_map(mp_sigmoid_grad, x), dt)
    assert ex.errors(ours).max() <= 5
    assert np.any(gt == 0) and np.all(ours > 0)
    # softplus above 20: torch returns x, the exact value is x + log1p(e^-x)
    x = np.array([20.5, 25, 30], np.float64)
    e_ours = Exact(mp_map(mp_softplus, x), np.float64).errors(fl.softplus(x))
    e_torch = Exact(mp_map(mp_softplus, x), np.float64).errors(F.softplus(T(x)).numpy())
    assert e_ours.max() <= 2 and e_torch.min() > 2


@pytest.mark.parametrize("dt", DTYPES, ids=IDS)
def test_torch_and_ours_against_mpmath(dt):
    """Sanity: on the sigmoid family both are close to mpmath; ours within 3 ULP."""
    x = _xs(dt)
    x = x[np.abs(x) < 20]
    for ours_f, mp_f in ((fl.sigmoid, mp_sigmoid), (fl.log_sigmoid, mp_log_sigmoid)):
        ex = Exact(mp_map(mp_f, x), dt)
        assert ex.errors(ours_f(x)).max() <= 3
