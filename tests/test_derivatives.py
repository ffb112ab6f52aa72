"""Every derivative against a finite difference computed in high precision
(mpmath.diff on the mpmath loss, independent of the analytic formulas), and
the scaling of gradients by the reduction (mean: 1/N, sum: 1)."""
import mpmath
import numpy as np
import pytest

import fastlogistic as fl
from conftest import mp_bce, mp_bce_logits, mp_sigmoid, mpf

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 4e-15, np.float32: 2e-6}


def fd(fn, x, order=1):
    """d^order fn / dx^order at x, by mpmath's finite differences at high
    precision (the step is relative to the working precision, and in the
    tails a derivative near e^-|x| is the difference of O(1) values: take
    ~3 |x| extra bits)."""
    with mpmath.workprec(128 + int(3 * abs(float(x)))):
        return float(mpmath.diff(fn, mpf(float(x)), order))


def _x_points(dt):
    rng = np.random.default_rng(21)
    big = 80.0 if dt == np.float32 else 300.0
    x = np.concatenate([[0.0, -0.0, 1e-8, -1e-8, 0.5, -2.5, 15, -15, 30, -30, 40, 60, -60, big, -big],
                        rng.normal(0, 4, 25), rng.uniform(-big, big, 10)])
    return x.astype(dt)


@pytest.mark.parametrize("dt", DTYPES, ids=["f64", "f32"])
def test_sigmoid_grad_is_derivative_of_sigmoid(dt):
    x = _x_points(dt)
    g = fl.sigmoid_grad(x)
    exp = np.array([fd(mp_sigmoid, v) for v in x])
    assert np.all(g > 0) and np.all(exp > 0)
    np.testing.assert_allclose(g, exp, rtol=RTOL[dt] * 1.5, atol=0)


@pytest.mark.parametrize("dt", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("weighted", [False, True], ids=["plain", "weight+pos_weight"])
def test_bce_with_logits_grad_and_hess(dt, weighted):
    rng = np.random.default_rng(4)
    x = _x_points(dt)
    n = x.size
    t = np.where(rng.random(n) < 0.3, rng.random(n), rng.random(n) < 0.5).astype(dt)
    w = rng.uniform(0.2, 3, n).astype(dt) if weighted else None
    pw = rng.uniform(0.2, 3, n).astype(dt) if weighted else None
    wv = np.ones(n) if w is None else w.astype(np.float64)
    pv = np.ones(n) if pw is None else pw.astype(np.float64)
    g_exp, h_exp, scale = [], [], []
    for i in range(n):
        ti, wi, pi = float(t[i]), wv[i], pv[i]

        def loss(z):
            return mp_bce_logits(z, ti, wi, pi)

        g_exp.append(fd(loss, x[i]))
        h_exp.append(fd(loss, x[i], 2))
        s = float(mp_sigmoid(float(x[i])))
        sn = float(mp_sigmoid(-float(x[i])))
        # the size of the two terms of w (s(x)(1 - t) - pw t s(-x)): the
        # gradient's own conditioning (it cancels for soft targets)
        scale.append(wi * max((1 - ti) * s, pi * ti * sn))
    g_exp, h_exp, scale = np.array(g_exp), np.array(h_exp), np.array(scale)
    g, h = fl.binary_cross_entropy_with_logits_grad_hess(x, t, weight=w, pos_weight=pw)
    assert g.dtype == h.dtype == dt
    tolg = 4 * np.finfo(dt).eps * scale + np.abs(g_exp) * 1e-13
    assert np.all(np.abs(g - g_exp) <= tolg), np.max(np.abs(g - g_exp) / tolg)
    np.testing.assert_allclose(h, h_exp, rtol=RTOL[dt] * 2, atol=0)
    # the same gradient from every entry point
    g2 = fl.binary_cross_entropy_with_logits_grad(x, t, weight=w, pos_weight=pw, reduction="none")
    _, g3 = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t, weight=w, pos_weight=pw,
                                                              reduction="none")
    np.testing.assert_array_equal(g2, g)
    np.testing.assert_array_equal(g3, g)


@pytest.mark.parametrize("dt", DTYPES, ids=["f64", "f32"])
def test_bce_with_logits_grad_reductions(dt):
    """grad of the reduced loss: sum -> per-element derivative, mean -> / N;
    checked on the reduced loss itself, as a function of one element."""
    rng = np.random.default_rng(8)
    x = rng.normal(0, 3, (4, 5)).astype(dt)
    t = rng.random((4, 5)).astype(dt)
    w = rng.uniform(0.5, 2, 5).astype(dt)
    n = x.size
    for red in ("sum", "mean"):
        g = fl.binary_cross_entropy_with_logits_grad(x, t, weight=w, reduction=red)
        _, g2 = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t, weight=w, reduction=red)
        gh, _ = fl.binary_cross_entropy_with_logits_grad_hess(x, t, weight=w, reduction=red)
        np.testing.assert_array_equal(g, g2)
        np.testing.assert_array_equal(g, gh)
        for (i, j) in [(0, 0), (1, 3), (3, 4), (2, 2)]:
            others = sum(mp_bce_logits(float(x[a, b]), float(t[a, b]), float(w[b]))
                         for a in range(4) for b in range(5) if (a, b) != (i, j))

            def total(z):
                s = others + mp_bce_logits(z, float(t[i, j]), float(w[j]))
                return s / n if red == "mean" else s

            np.testing.assert_allclose(g[i, j], fd(total, x[i, j]), rtol=RTOL[dt] * 4)
    _, hm = fl.binary_cross_entropy_with_logits_grad_hess(x, t, reduction="mean")
    _, hn = fl.binary_cross_entropy_with_logits_grad_hess(x, t, reduction="none")
    np.testing.assert_allclose(hm, hn / n, rtol=RTOL[dt])


@pytest.mark.parametrize("dt", DTYPES, ids=["f64", "f32"])
@pytest.mark.parametrize("red", ["none", "sum", "mean"])
def test_bce_grad_on_probabilities(dt, red):
    """dL/dp = w (p - t) / (p (1 - p)) where p (1 - p) > 1e-12 (torch's floor)."""
    rng = np.random.default_rng(12)
    p = np.concatenate([rng.uniform(0.001, 0.999, 30), [1e-5, 1 - 1e-5, 0.5, 0.1, 0.9]]).astype(dt)
    t = np.where(rng.random(p.size) < 0.5, rng.random(p.size), rng.random(p.size) < 0.5).astype(dt)
    w = rng.uniform(0.2, 2, p.size).astype(dt)
    g = fl.binary_cross_entropy_grad(p, t, weight=w, reduction=red)
    div = p.size if red == "mean" else 1
    for i in range(p.size):
        pi, ti, wi = float(p[i]), float(t[i]), float(w[i])
        exp = fd(lambda z: mp_bce(z, ti, wi), pi) / div
        # (p - t) is exact in float64; float32 rounds it and p (1 - p)
        tol = 8 * np.finfo(dt).eps * (abs(pi) + abs(ti)) / (pi * (1 - pi)) * wi / div
        assert abs(float(g[i]) - exp) <= tol + abs(exp) * 1e-12, (i, pi, ti, float(g[i]), exp)


def test_bce_grad_floor_and_clamp():
    """Outside the smooth region the gradient follows torch's rules: the
    denominator is floored at float32(1e-12), as torch does for both dtypes
    (so p = 0 or 1 give finite values)."""
    p = np.array([0.0, 1.0, 1e-14, 0.0, 1.0])
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    g = fl.binary_cross_entropy_grad(p, t, reduction="none")
    exp = (p - t) / np.maximum(p * (1 - p), float(np.float32(1e-12)))  # torch: the float 1e-12
    np.testing.assert_allclose(g, exp, rtol=1e-15)
    floor = float(np.float32(1e-12))
    assert g[0] == -1 / floor and g[1] == 1 / floor and g[3] == 0 and g[4] == 0
