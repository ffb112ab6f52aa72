"""The summed cross-entropy ("sum"/"mean" of class indices) and its target
count.  Without weights or smoothing the kernels sum the rows' log-sum-exp
lazily (log1p of a running product per lane, folded in every few blocks):
checked here against an independent float64 reference summed with fsum, at
class counts on both sides of every cut-over, with sizes that cross the
kernels' blocks and folds, ignored rows, and non-finite rows among finite
ones.  The count of non-ignored targets (the mean's denominator) is checked
with ignore_index inside and outside [0, C) and bad indices at chunk
boundaries."""
import math

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels as _k

pytestmark = pytest.mark.usefixtures("simd_level")


def _ref_rows(z, y, ignore):
    """Per-row -log_softmax at the target in float64 (longdouble exp/log),
    0 for ignored rows."""
    zl = z.astype(np.longdouble)
    m = zl.max(axis=1, keepdims=True)
    lse = np.log(np.exp(zl - m).sum(axis=1)) + m[:, 0]
    keep = y != ignore
    rows = np.zeros(len(y), dtype=np.longdouble)
    rows[keep] = lse[keep] - zl[keep, y[keep]]
    return rows.astype(np.float64), keep


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("C", [2, 3, 5, 10, 16, 31, 40, 64, 100, 300])
@pytest.mark.parametrize("order", ["C", "F"])
def test_summed_loss_against_fsum(C, dtype, order):
    rng = np.random.default_rng(C)
    N = 40_000 // C + 37                      # several blocks, a partial one
    z = (3 * rng.standard_normal((N, C))).astype(dtype)
    z[::7] *= 20                              # confident rows: tiny S1
    y = rng.integers(0, C, N)
    y[5::11] = -100
    z = np.asarray(z, order=order)
    ref_rows, keep = _ref_rows(z, y, -100)
    ref = math.fsum(ref_rows)
    tol = 1e-13 if dtype == np.float64 else 3e-7
    for red, want in (("sum", ref), ("mean", ref / keep.sum())):
        got = fl.cross_entropy(z, y, reduction=red)
        assert abs(got - want) <= tol * abs(want), (red, got, want)
        got2, g = fl.cross_entropy_loss_and_grad(z, y, reduction=red)
        assert got2 == got
    # the per-row losses add up to the same sum (to rounding)
    rows = fl.cross_entropy(z, y, reduction="none").astype(np.float64)
    assert abs(math.fsum(rows) - ref) <= tol * ref


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("C", [2, 7, 40])
def test_summed_loss_with_nonfinite_rows(C, dtype):
    """Blocks holding an inf or NaN take the per-row path; the sum over the
    finite rows still matches, and a NaN row makes it NaN."""
    rng = np.random.default_rng(3)
    N = 3000
    z = rng.standard_normal((N, C)).astype(dtype)
    y = rng.integers(0, C, N)
    z[100, 0] = np.inf                       # a one-hot row: loss 0 or inf
    y[100] = 0
    z[2000, :] = -np.inf
    y[2000] = -100                            # ignored: adds nothing
    ref_rows, _ = _ref_rows(np.where(np.isfinite(z), z, 0), y, -100)
    ref_rows[100] = 0.0
    ref_rows[2000] = 0.0
    ref = math.fsum(ref_rows)
    tol = 1e-13 if dtype == np.float64 else 3e-7
    got = fl.cross_entropy(z, y, reduction="sum")
    assert abs(got - ref) <= tol * ref, (got, ref)
    z[1500, 1] = np.nan
    assert np.isnan(fl.cross_entropy(z, y, reduction="sum"))


@pytest.mark.parametrize("ignore", [-100, 0, 3, 9])
def test_target_count(ignore):
    C = 9
    rng = np.random.default_rng(ignore + 200)
    n = 3 * 4096 + 5
    y = rng.integers(0, C, n)
    y[rng.random(n) < 0.1] = ignore
    tot, bad = _k.class_targets(y, C, ignore, None)
    assert bad == -1 and tot == float(np.count_nonzero(y != ignore))
    # a strided view (the general loop) and weights (summed in order) agree
    ys = y[::3]
    assert _k.class_targets(ys, C, ignore, None) == (float(np.count_nonzero(ys != ignore)), -1)
    w = np.linspace(0.5, 2.0, C)
    tw, bad = _k.class_targets(y, C, ignore, w)
    assert bad == -1 and tw == pytest.approx(w[y[y != ignore]].sum(), rel=1e-12)
    for pos in (0, 4095, 4096, n - 1):
        yb = y.copy()
        yb[pos] = C if pos % 2 else -1
        if yb[pos] == ignore:
            yb[pos] = -2
        tot, bad = _k.class_targets(yb, C, ignore, None)
        assert bad == pos
        # the error a user sees names the position
        with pytest.raises(ValueError, match=rf"position \({pos},\)"):
            fl.cross_entropy(np.zeros((n, C)), yb, ignore_index=ignore)
    # mean: the denominator is the count of kept rows
    z = rng.standard_normal((n, C))
    keep = y != ignore
    ref = math.fsum(_ref_rows(z, y, ignore)[0]) / keep.sum()
    assert abs(fl.cross_entropy(z, y, ignore_index=ignore) - ref) <= 1e-13 * ref


def _ulp(x, dt):
    return np.spacing(np.abs(np.asarray(x, dtype=dt)).astype(dt)).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
def test_two_classes_rows_against_longdouble(dtype, order):
    """Two classes with index targets, no weight or smoothing, run as the
    binary problem on z_other - z_target: each row's loss and gradient
    against a longdouble reference, within the multi-class bounds."""
    rng = np.random.default_rng(11)
    big = 600.0 if dtype == np.float64 else 80.0
    rows = [rng.standard_normal((200, 2)) * s for s in (1e-3, 0.3, 3.0, 30.0)]
    rows.append(np.array([[big, 0.0], [0.0, big], [big, big - 1], [-big, big],
                          [1e-30, -1e-30], [1.0, 1.0 + 2e-7]]))
    z = np.asarray(np.concatenate(rows).astype(dtype), order=order)
    N = len(z)
    y = rng.integers(0, 2, N)
    zl = z.astype(np.longdouble)
    d = zl[np.arange(N), 1 - y] - zl[np.arange(N), y]
    ref_loss = np.maximum(d, 0) + np.log1p(np.exp(-np.abs(d)))
    s = np.where(d >= 0, 1 / (1 + np.exp(-d)), np.exp(d) / (1 + np.exp(d)))
    ref_g = np.empty((N, 2), np.longdouble)
    ref_g[np.arange(N), 1 - y] = s
    ref_g[np.arange(N), y] = -s
    loss = fl.cross_entropy(z, y, reduction="none")
    assert np.all(np.abs(loss - ref_loss.astype(np.float64)) <= 4 * _ulp(ref_loss, dtype))
    l_sum, g = fl.cross_entropy_loss_and_grad(z, y, reduction="sum")
    ref_g64 = ref_g.astype(np.float64)
    ok = np.abs(g - ref_g64) <= 4 * _ulp(ref_g64, dtype)
    ok |= np.abs(ref_g64) < np.finfo(dtype).tiny
    assert np.all(ok), (z[~ok.all(axis=1)], g[~ok.all(axis=1)])
    assert g.dtype == dtype and g.shape == z.shape
    assert abs(l_sum - math.fsum(ref_loss.astype(np.float64))) <= 1e-6 * l_sum
    # mean: the gradient scaled by 1 / N, each element rounded once more
    _, gm = fl.cross_entropy_loss_and_grad(z, y)
    np.testing.assert_allclose(gm, ref_g64 / N, rtol=6 * np.finfo(dtype).eps,
                               atol=np.finfo(dtype).tiny)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_classes_limits(dtype):
    inf, nan = np.inf, np.nan
    cases = [  # (row, target, loss, gradient)
        ([inf, 0.0], 0, 0.0, [0.0, 0.0]),
        ([inf, 0.0], 1, inf, [1.0, -1.0]),
        ([-inf, 0.0], 0, inf, [-1.0, 1.0]),
        ([-inf, 0.0], 1, 0.0, [0.0, 0.0]),
        ([3e38, -3e38], 1, 6e38, [1.0, -1.0]),   # d overflows: its lo is dropped
        ([nan, 0.0], 0, nan, [nan, nan]),
        ([inf, inf], 0, nan, [nan, nan]),
        ([-inf, -inf], 1, nan, [nan, nan]),
        ([nan, 0.0], -100, 0.0, [0.0, 0.0]),      # ignored: nothing, NaN or not
    ]
    z = np.array([c[0] for c in cases] * 3, dtype=dtype)     # 27 rows: a block and a part
    y = np.array([c[1] for c in cases] * 3)
    with np.errstate(over="ignore"):
        want_l = np.array([c[2] for c in cases] * 3, dtype=dtype)
    want_g = np.array([c[3] for c in cases] * 3, dtype=np.float64)
    loss = fl.cross_entropy(z, y, reduction="none")
    np.testing.assert_array_equal(loss, want_l)
    _, g = fl.cross_entropy_loss_and_grad(z, y, reduction="sum")
    np.testing.assert_array_equal(g, want_g.astype(dtype))
    # the same answers where these rows sit among finite ones, in either order
    zz = np.asarray(np.concatenate([np.ones((5, 2), dtype), z]), order="F")
    yy = np.concatenate([np.zeros(5, np.int64), y])
    np.testing.assert_array_equal(fl.cross_entropy(zz, yy, reduction="none")[5:], want_l)
