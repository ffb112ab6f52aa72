"""Accuracy against mpmath, in ULP of the output dtype, at every SIMD level.

The error of a result c at a point with exact value v is |c - v| / ulp(v),
where ulp(v) is the spacing of the output dtype at v, floored at the smallest
subnormal (conftest.Exact).  Points: the tails (|x| up to 700 for float64 and
88 for float32, and beyond, up to the largest finite value), tiny |x|, +-0,
subnormals, +-inf and nan, plus a few thousand random points across scales.

Bounds: <= 1.6 ULP sigmoid, log_sigmoid, softplus on the point set below
(measured up to 1.55); <= 1 ULP sigmoid_grad at every vector level (measured
0.86: one rounding of a compensated e y^2, see v_sigmoid_grad); <= 4 ULP
BCE-with-logits (hard and soft targets, per element).
"""
import functools

import numpy as np
import pytest

import fastlogistic as fl
from conftest import (Exact, mp_bce_logits, mp_bce_logits_grad, mp_bce_logits_hess,
                      mp_log_sigmoid, mp_logit, mp_map, mp_sigmoid, mp_sigmoid_grad,
                      mp_softplus, worst)

pytestmark = pytest.mark.usefixtures("simd_level")

DTYPES = [np.float64, np.float32]
DT_IDS = ["f64", "f32"]

# a long double wider than float64 (x87's 80 bits; aarch64's 128) to serve as
# a reference for float64
_LD = np.finfo(np.longdouble).nmant >= 63


def _ulp_vs(computed, ref, dt):
    """ULP errors of `computed` (dtype dt) against `ref`, an array of more
    precision (long double for float64; float64 will do for float32), with
    ulp floored at dt's smallest subnormal (as conftest.Exact)."""
    fi = np.finfo(dt)
    k = np.maximum(np.frexp(ref.astype(np.float64))[1] - 1, fi.minexp) - fi.nmant
    d = (np.asarray(computed).astype(ref.dtype) - ref) / np.ldexp(ref.dtype.type(1), k)
    return np.abs(d).astype(np.float64)


def _sigmoid_grad_bound():
    """1 ULP at the vector levels; 2 at the cython level, whose float64 form
    takes libm's exp as it comes where long double is no wider than
    float64."""
    return 2.0 if fl._kernels.get_simd_level() == "cython" else 1.0

# Points where the current kernels exceed the bound (found by a dense
# sweep, reproduced with mpmath): kept in the point set so that the xfail
# tests below fail reliably until the core is fixed.
HARD_SIGMOID = {np.float64: [-2.735570550427394, -1.9522104179972573],
                np.float32: [-2.7132099]}
HARD_SIGMOID_GRAD = {np.float64: [2.670500357245402], np.float32: [2.647556]}


def _special_x(dt):
    fi = np.finfo(dt)
    if dt == np.float64:
        tail = [10, 20, 30, 36, 37, 38, 40, 50, 100, 200, 500, 700, 707.5, 708, 708.5, 709.78,
                710, 744, 745, 746, 800, 1e5, 1e300]
        tiny = [1e-310, 1e-300, 1e-200, 1e-30, 1e-17, 1e-8]
    else:
        tail = [10, 15, 16, 17, 18, 20, 30, 50, 80, 86.5, 87, 87.5, 88, 88.7, 89, 100, 103,
                104, 105, 1e5, 1e30]
        tiny = [1e-42, 1e-40, 1e-30, 1e-10, 1e-8, 1e-4]
    mags = ([0.0, float(fi.smallest_subnormal), float(fi.smallest_normal),
             float(fi.eps), 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5]
            + tiny + tail + [float(fi.max), float(np.nextafter(fi.max, 0, dtype=dt))])
    return mags + [-m for m in mags]


@functools.lru_cache(maxsize=None)
def x_points(dt):
    """float points for the elementwise functions: specials + random."""
    rng = np.random.default_rng(20240601)
    big = 700.0 if dt == np.float64 else 88.0
    tiny = 1e-300 if dt == np.float64 else 1e-38
    rand = np.concatenate([
        rng.uniform(-big, big, 700),
        np.exp(rng.uniform(np.log(tiny), np.log(big), 700)) * rng.choice([-1, 1], 700),
        rng.normal(0.0, 3.0, 600),
    ])
    x = np.concatenate([_special_x(dt), HARD_SIGMOID[dt], HARD_SIGMOID_GRAD[dt],
                        [np.inf, -np.inf, np.nan], rand])
    x = x.astype(dt)
    assert np.signbit(x[np.nonzero(x == 0)[0][-1]])   # -0.0 is in there
    return x


@functools.lru_cache(maxsize=None)
def exact(name, dt):
    fn = {"sigmoid": mp_sigmoid, "log_sigmoid": mp_log_sigmoid, "softplus": mp_softplus,
          "sigmoid_grad": mp_sigmoid_grad}[name]
    return Exact(mp_map(fn, x_points(dt)), dt)


def _check(name, dt, bound):
    # the cython level computes with the platform's libm, whose exp and log1p
    # differ between C libraries (aarch64 glibc: sigmoid 1.71 ULP): it is held
    # to 2 ULP where a vector level's bound is tighter
    if fl._kernels.get_simd_level() == "cython":
        bound = max(bound, 2.0)
    x = x_points(dt)
    x_before = x.copy()
    y = getattr(fl, name)(x)
    assert y.dtype == dt
    np.testing.assert_array_equal(x, x_before)
    err = exact(name, dt).errors(y)
    assert err.max() <= bound, f"{name} {np.dtype(dt)}: " + worst(err, x, y)
    return err


@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("name", ["log_sigmoid", "softplus"])
def test_two_ulp(name, dt):
    _check(name, dt, 1.6)


# --- sigmoid and sigmoid_grad: 1.6 and 1 ULP (measured 1.43 and 0.86) -------
# The point set keeps the worst points an earlier core had (x near -2.7 for
# sigmoid, near 2.65 for sigmoid_grad, where four roundings piled up to 2.76
# before sigmoid_grad was rounded once).

@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
def test_sigmoid_two_ulp(dt):
    _check("sigmoid", dt, 1.6)


@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
def test_sigmoid_grad_one_ulp(dt):
    err = _check("sigmoid_grad", dt, 1.0)
    assert np.all(np.isfinite(err))


@pytest.mark.skipif(not _LD, reason="needs a long double wider than float64 as reference")
@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
def test_sigmoid_grad_near_zero(dt):
    """|x| below 2^-13: 1 + e near 2, where a reciprocal estimate a hair
    below 1/2 would make the residual 1 - y inexact (the AVX-512 float64
    estimate, vrcp14 and a Newton step, is below 1/(1 + e) by up to 2^-28
    relative); against long double, within 1 ULP (cython: 2)."""
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.uniform(-2.0 ** -26, 2.0 ** -26, 20000),
                        rng.uniform(-2.0 ** -13, 2.0 ** -13, 20000)]).astype(dt)
    e = np.exp(-np.abs(x.astype(np.longdouble)))
    err = _ulp_vs(fl.sigmoid_grad(x), e / (1 + e) ** 2, dt)
    assert err.max() <= _sigmoid_grad_bound(), worst(err, x)


def test_sigmoid_grad_float32_dense():
    """One float32 in 61 of all those in [0, 104] (18 million: every
    exponent, spread over the significands; sigmoid_grad is even), against
    float64 (e / (1 + e)^2 there is within 2^-50 relative: 2^-26 ULP of
    float32): within 1 ULP at every vector level (measured 0.84 on every float), the
    cython level within 0.5 (float64 arithmetic)."""
    bits = np.arange(0, int(np.float32(104).view(np.int32)), 61, dtype=np.int32)
    x = bits.view(np.float32)
    e = np.exp(-x.astype(np.float64))
    y = fl.sigmoid_grad(x)
    err = _ulp_vs(y, e / (1 + e) ** 2, np.float32)
    bound = 0.5 + 2.0 ** -20 if fl._kernels.get_simd_level() == "cython" else 1.0
    assert err.max() <= bound, worst(err, x, y)


@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
def test_sigmoid_grad_tail_not_zero(dt):
    # s (1 - s) gives 0 at x = 40 (float64) / 17 (float32); the true value is ~e^-x
    x = np.array([40.0, -40.0, 100.0, 700.0] if dt == np.float64 else [17.0, -17.0, 40.0, 87.0], dt)
    y = fl.sigmoid_grad(x)
    ref = Exact(mp_map(mp_sigmoid_grad, x), dt)
    assert np.all(y > 0)
    assert ref.errors(y).max() <= 5


# --- logit ------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def p_points(dt):
    rng = np.random.default_rng(7)
    fi = np.finfo(dt)
    tiny = np.exp(rng.uniform(np.log(float(fi.smallest_normal)), np.log(0.5), 600))
    special = [0.0, -0.0, float(fi.smallest_subnormal), float(fi.smallest_normal), 1e-30,
               float(fi.eps), 0.25, 0.5, 0.75, 1.0, 0.2499999, 0.7500001,
               float(np.nextafter(dt(0.5), 0, dtype=dt)), float(np.nextafter(dt(0.5), 1, dtype=dt)),
               float(np.nextafter(dt(1), 0, dtype=dt)), -0.1, 1.1, -np.inf, np.inf, np.nan,
               float(fi.max), -float(fi.max)]
    p = np.concatenate([special, rng.random(800), tiny, 1 - tiny.astype(dt)]).astype(dt)
    return p


@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
def test_logit(dt):
    """SciPy's semantics (0 -> -inf, 1 -> inf, outside [0, 1] -> nan); measured
    bound today: ~1.1 ULP, asserted <= 2 ULP."""
    p = p_points(dt)
    y = fl.logit(p)
    assert y.dtype == dt
    err = Exact(mp_map(mp_logit, p), dt).errors(y)
    assert err.max() <= 2.0, worst(err, p, y)
    assert fl.logit(dt(0)) == -np.inf and fl.logit(dt(1)) == np.inf
    assert np.isnan(fl.logit(np.array([-1e-30, 1.0000001, np.nan, -np.inf, np.inf], dt))).all()


# --- exact limits -------------------------------------------------------------

@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
def test_exact_limits(dt):
    inf = np.array([np.inf, -np.inf], dt)
    np.testing.assert_array_equal(fl.sigmoid(inf), [1, 0])
    np.testing.assert_array_equal(fl.sigmoid_grad(inf), [0, 0])
    np.testing.assert_array_equal(fl.softplus(inf), [np.inf, 0])
    np.testing.assert_array_equal(fl.log_sigmoid(inf), [0, -np.inf])
    z = np.array([0.0, -0.0], dt)
    np.testing.assert_array_equal(fl.sigmoid(z), [0.5, 0.5])
    np.testing.assert_array_equal(fl.sigmoid_grad(z), [0.25, 0.25])
    for f in (fl.sigmoid, fl.log_sigmoid, fl.softplus, fl.sigmoid_grad, fl.logit):
        assert np.isnan(f(np.full(5, np.nan, dt))).all(), f.__name__
    # BCE with logits: 0 at x=-inf,t=0 and x=+inf,t=1; +inf with the other target
    x = np.array([-np.inf, np.inf, -np.inf, np.inf], dt)
    t = np.array([0, 1, 1, 0], dt)
    loss = fl.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_array_equal(loss, [0, 0, np.inf, np.inf])
    loss = fl.binary_cross_entropy_with_logits(x, t, pos_weight=dt(2.5), reduction="none")
    np.testing.assert_array_equal(loss, [0, 0, np.inf, np.inf])
    g, h = fl.binary_cross_entropy_with_logits_grad_hess(x, t)
    np.testing.assert_array_equal(g, [0, 0, -1, 1])
    np.testing.assert_array_equal(h, [0, 0, 0, 0])
    assert fl.binary_cross_entropy_with_logits(x[:2], t[:2]) == 0
    nan = fl.binary_cross_entropy_with_logits(np.array([np.nan, 0, 1], dt),
                                              np.array([0.5, np.nan, 1], dt), reduction="none")
    assert np.isnan(nan[:2]).all() and np.isfinite(nan[2])
    assert np.isnan(fl.binary_cross_entropy_with_logits(np.array([np.nan, 1], dt), np.ones(2, dt)))


# --- binary cross-entropy with logits ----------------------------------------

@functools.lru_cache(maxsize=None)
def bcel_case(kind, dt):
    """(x, t, w, pw) and the exact loss / grad / hess for one target kind."""
    rng = np.random.default_rng(99)
    big = 700.0 if dt == np.float64 else 88.0
    xs = np.array([v for v in _special_x(dt) if abs(v) <= 1e30] + [np.inf, -np.inf], dt)
    xs = np.repeat(xs, 2)
    n_rand = 1200
    xr = np.concatenate([rng.uniform(-big, big, n_rand // 3), rng.normal(0, 4, n_rand // 3),
                         rng.uniform(-40, 40, n_rand - 2 * (n_rand // 3))])
    x = np.concatenate([xs, xr]).astype(dt)
    n = x.size
    if kind == "hard":
        t = np.tile([0.0, 1.0], n // 2 + 1)[:n]
        t[xs.size:] = rng.random(n - xs.size) < 0.5
    else:
        t = rng.random(n)
        t[:8] = [0, 1, 0.5, 1e-8, 1 - 1e-8, 0.1, 0.9, 1e-30]
    t = t.astype(dt)
    w = pw = None
    if kind == "weighted":
        w = rng.uniform(0.1, 3.0, n).astype(dt)
        pw = rng.uniform(0.1, 3.0, n).astype(dt)
    args = (x, t, 1.0 if w is None else w, 1.0 if pw is None else pw)
    loss = Exact(mp_map(mp_bce_logits, *args), dt)
    fin = np.isfinite(x)
    grad = Exact(mp_map(mp_bce_logits_grad, *args), dt)
    hess = Exact(mp_map(mp_bce_logits_hess, *args), dt)
    # grad = b s(x) - a s(-x) cancels for soft targets: measure its error in
    # ulps of the larger term, the condition of the difference
    a = t.astype(np.float64) * (1.0 if pw is None else pw)
    b = 1.0 - t.astype(np.float64)
    with np.errstate(over="ignore"):
        sx = 1 / (1 + np.exp(-x.astype(np.float64)))
        sxn = 1 / (1 + np.exp(x.astype(np.float64)))        # s(-x), no cancellation
    scale = np.maximum(np.abs(b * sx), np.abs(a * sxn)) * (1.0 if w is None else w)
    return x, t, w, pw, loss, grad, hess, scale, fin


KINDS = ["hard", "soft", "weighted"]


@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("kind", KINDS)
def test_bce_with_logits_loss(kind, dt):
    x, t, w, pw, loss, *_ = bcel_case(kind, dt)
    y = fl.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction="none")
    assert y.dtype == dt
    err = loss.errors(y)
    assert err.max() <= 4.0, worst(err, x, t, y)
    # the fused loss-and-grad gives the same loss, bit for bit
    l2, _ = fl.binary_cross_entropy_with_logits_loss_and_grad(
        x, t, weight=w, pos_weight=pw, reduction="none")
    np.testing.assert_array_equal(l2, y)


@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("kind", KINDS)
def test_bce_with_logits_grad_hess(kind, dt):
    x, t, w, pw, _, grad, hess, scale, fin = bcel_case(kind, dt)
    g, h = fl.binary_cross_entropy_with_logits_grad_hess(x, t, weight=w, pos_weight=pw)
    g1 = fl.binary_cross_entropy_with_logits_grad(x, t, weight=w, pos_weight=pw, reduction="none")
    np.testing.assert_array_equal(g, g1)
    # hessian w (pw t + 1 - t) s(x) s(-x): no cancellation; sigmoid_grad's
    # error (<= 5 ULP today) plus the coefficient's roundings
    eh = hess.errors(h)
    assert eh.max() <= 6.0, worst(eh, x, t, h)
    if kind == "hard":
        eg = grad.errors(g)
        assert eg.max() <= 4.0, worst(eg, x, t, g)
    # every target kind: error within 4 ulps of the larger of the two terms
    ex = np.array([float(v) for v in grad.values])
    ulp_scale = np.spacing(scale.astype(dt)).astype(np.float64)
    tiny = float(np.finfo(dt).smallest_subnormal)
    rel = np.abs(g[fin].astype(np.float64) - ex[fin]) / np.maximum(ulp_scale[fin], tiny)
    assert rel.max() <= 4.0, worst(rel, x[fin], t[fin], g[fin])


@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("kind", KINDS)
def test_bce_with_logits_reductions(kind, dt):
    """sum / mean of the exact per-element losses (float64 accumulation)."""
    x, t, w, pw, loss, *_ = bcel_case(kind, dt)
    fin = np.isfinite(x) & (np.abs(x) <= (100 if dt == np.float32 else 1e4))
    x, t = x[fin], t[fin]
    w = None if w is None else w[fin]
    pw = None if pw is None else pw[fin]
    import mpmath
    ex = [v for v, f in zip(loss.values, fin) if f]
    s = mpmath.fsum(ex)
    tol = 1e-13 if dt == np.float64 else 2 ** -23
    got_sum = fl.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction="sum")
    got_mean = fl.binary_cross_entropy_with_logits(x, t, weight=w, pos_weight=pw, reduction="mean")
    assert type(got_sum) is dt and type(got_mean) is dt
    assert abs(float(got_sum) - float(s)) <= tol * float(s)
    assert abs(float(got_mean) - float(s / len(ex))) <= tol * float(s / len(ex))


# --- a dense sweep against an 80-bit long double reference --------------------


@pytest.mark.skipif(not _LD, reason="needs an x87 80-bit long double reference")
@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
@pytest.mark.parametrize("case", ["soft", "tiny_positive", "zeros", "tiny_negative"])
def test_bce_with_logits_sum_of_long_inputs(case, dt):
    """A summed loss with neither weight nor pos_weight adds the
    log1p(exp(-|x|)) terms of a block as log1p of a running product, in
    float64 (see bcel_span in fl_kernels_impl.h): over many blocks and
    vectors cut short, with tiny terms (which must count in full), terms of
    ln 2 (the product at its largest) and subnormal ones, within 1e-13
    (float64) or 2^-23 (float32) of a long double sum of the exact losses."""
    rng = np.random.default_rng(17)
    if case == "soft":
        x, t = rng.normal(0, 4, 100_003), rng.uniform(0, 1, 100_003)
    elif case == "tiny_positive":      # loss e^-x, down to 1e-304
        x, t = rng.uniform(30, 700, 50_001), np.ones(50_001)
    elif case == "zeros":              # ln 2 each
        x, t = np.zeros(40_961), rng.integers(0, 2, 40_961).astype(np.float64)
    else:                              # log1p(e^x), some subnormal
        x, t = rng.uniform(-745, -30, 50_001), np.zeros(50_001)
    x, t = x.astype(dt), t.astype(dt)
    tol = 1e-13 if dt == np.float64 else 2 ** -23
    xl, tl = x.astype(np.longdouble), t.astype(np.longdouble)
    per = np.maximum((1 - tl) * xl, -(tl * xl)) + np.log1p(np.exp(-np.abs(xl)))
    ref = float(np.sum(per, dtype=np.longdouble))
    got = fl.binary_cross_entropy_with_logits(x, t, reduction="sum")
    assert ref > 0 and abs(float(got) - ref) <= tol * ref, (got, ref)
    mean = fl.binary_cross_entropy_with_logits(x, t, reduction="mean")
    assert abs(float(mean) - ref / x.size) <= tol * ref / x.size
    loss, grad = fl.binary_cross_entropy_with_logits_loss_and_grad(x, t, reduction="sum")
    assert abs(float(loss) - ref) <= tol * ref
    np.testing.assert_array_equal(grad, fl.binary_cross_entropy_with_logits_grad(x, t, reduction="sum"))


@pytest.mark.skipif(not _LD, reason="needs an x87 80-bit long double reference")
@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
def test_dense_sweep_long_double(dt):
    """120 000 random points per function: around the worst region (|x| < 30),
    over the whole range to the subnormal tail, and in -40 < x < -30 (where
    the float64 sigmoid's worst case seen, 1.95 ULP before its reciprocal was
    reworked, was); reference from long double exp/log1p (11 more bits than
    float64).  Bounds: 2 ULP (sigmoid, softplus: measured 1.82 and 1.77 at
    the baseline level, 1.6 above it), 1.8 (log_sigmoid: 1.59 built with
    GCC 12, 1.78 with Clang 14, whose multiply-add contractions differ), 1
    (sigmoid_grad: 0.86 at the vector levels; 0.50 at the cython level
    here, 2 allowed: _sigmoid_grad_bound)."""
    rng = np.random.default_rng(3)
    big = 740.0 if dt == np.float64 else 103.0
    x = np.concatenate([rng.uniform(-30, 30, 30000), rng.uniform(-4, 4, 30000),
                        rng.uniform(-big, big, 30000), rng.uniform(-40, -30, 30000)]).astype(dt)
    xl = x.astype(np.longdouble)
    e = np.exp(-np.abs(xl))
    refs = {
        "sigmoid": (np.where(xl >= 0, 1 / (1 + e), e / (1 + e)), 2.0),
        "sigmoid_grad": (e / (1 + e) ** 2, _sigmoid_grad_bound()),
        "softplus": (np.maximum(xl, 0) + np.log1p(e), 2.0),
        "log_sigmoid": (np.minimum(xl, 0) - np.log1p(e), 1.8),
    }
    for name, (r, bound) in refs.items():
        err = _ulp_vs(getattr(fl, name)(x), r, dt)
        assert err.max() <= bound, f"{name}: " + worst(err, x)


# --- log1p(exp(-|x|)) across the AVX-512 float64 table ----------------------
# On AVX-512 the float64 log1p(e), e = exp(-|x|) in [0, 1], picks one of 16
# intervals i = round(15.25 e) and adds a table value to a short polynomial;
# elsewhere it is fdlibm's form over all of [0, 1].  Points: both sides of
# every interval edge, e near 1 (x near 0, where the older form reached
# 1.46 ULP in log1p), and e in [2^-55, 2^-50] where 1 + e rounds to 1 or to
# its neighbour (the dlo correction carries all of log1p).

def _table_points():
    import mpmath
    xs = []
    for i in range(16):
        for side in (-1, 1):
            e = (i + 0.5 * side) / 15.25
            if 0 < e < 1:
                x = -float(mpmath.log(e))
                xs += [x, np.nextafter(x, 0), np.nextafter(x, 10), x * (1 + 1e-12), x * (1 - 1e-12)]
    xs += list(np.geomspace(1e-17, 0.05, 60))
    xs += [-float(mpmath.log(mpmath.ldexp(1, -k) * f)) for k in (50, 51, 52, 53, 54, 55)
           for f in (1.0, 1.1, 1.3, 1.5, 1.7, 1.9)]
    xs = np.array(xs)
    return np.concatenate([xs, -xs])


@pytest.mark.parametrize("name,ref", [("softplus", mp_softplus), ("log_sigmoid", mp_log_sigmoid)])
def test_log1p_table_edges_and_small_e(name, ref):
    """Tighter than the issue's 2 ULP: measured 1.03 ULP (AVX-512, the error
    of exp carried through) and 1.18 (fdlibm's form, AVX2 and baseline)."""
    x = _table_points()
    y = getattr(fl, name)(x)
    err = Exact(mp_map(ref, x), np.float64).errors(y)
    assert err.max() <= 1.25, f"{name}: " + worst(err, x, y)
    loss = fl.binary_cross_entropy_with_logits(x, (x > 0).astype(np.float64), reduction="none")
    err = Exact(mp_map(mp_bce_logits, x, (x > 0).astype(np.float64)), np.float64).errors(loss)
    assert err.max() <= 1.25, "bce: " + worst(err, x, loss)


@functools.lru_cache(maxsize=None)
def _logit_dense(dt):
    """p around the edges of the short form (1/4, 3/4), around 1/2, near 0
    and 1, and in the subnormal range."""
    rng = np.random.default_rng(11)
    fi = np.finfo(dt)
    eps = float(fi.eps)
    near = [c + rng.uniform(-64, 64, 400) * eps * c for c in (0.25, 0.75, 0.5)]
    p = np.concatenate(near + [
        rng.uniform(0.2, 0.3, 400), rng.uniform(0.7, 0.8, 400), rng.uniform(0.45, 0.55, 400),
        np.exp(rng.uniform(np.log(float(fi.smallest_subnormal)), np.log(0.1), 400)),
        1 - np.exp(rng.uniform(np.log(eps / 2), np.log(0.1), 400)),
    ]).astype(dt)
    return p, Exact(mp_map(mp_logit, p), dt)


@pytest.mark.parametrize("dt", DTYPES, ids=DT_IDS)
def test_logit_dense_and_neighbours(dt):
    """Dense sweep at the edges of the two forms; a lane's value does not
    depend on special values (nan, 0, 1, out of range, subnormal) in the
    same vector, which take the general form."""
    p, ref = _logit_dense(dt)
    y = fl.logit(p)
    err = ref.errors(y)
    # measured 1.26 (float64, just below 1/4) and 1.20 (float32, near 0.29)
    assert err.max() <= 1.3, worst(err, p, y)
    q = p.copy()
    bad = np.zeros(p.size, bool)
    bad[::37] = True
    sub = float(np.finfo(dt).smallest_subnormal)
    q[bad] = np.resize(np.array([np.nan, 0.0, 1.0, -0.5, 2.0, sub], dt), bad.sum())
    yq = fl.logit(q)
    assert np.array_equal(yq[~bad], y[~bad])
    ref_bad = fl.logit(q[bad])
    np.testing.assert_array_equal(yq[bad], ref_bad)
