"""Regression tests: what a new user hit (heap corruption from a
packed record column, a segfault on a None target, a silent (n, n)
broadcast, masked arrays, num_threads overflow, long double), each checked
against a plain NumPy / float64 reference."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import scipy.special as sc

import fastlogistic as fl
from fastlogistic import _kernels

BINARY6 = [fl.binary_cross_entropy, fl.binary_cross_entropy_grad,
           fl.binary_cross_entropy_with_logits, fl.binary_cross_entropy_with_logits_grad,
           fl.binary_cross_entropy_with_logits_loss_and_grad,
           fl.binary_cross_entropy_with_logits_grad_hess]
MULTI = [fl.cross_entropy, fl.cross_entropy_grad, fl.cross_entropy_loss_and_grad,
         fl.categorical_cross_entropy, fl.categorical_cross_entropy_grad]


# --- references (float64, closed forms) --------------------------------------

def ref_log_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    return z - sc.logsumexp(z, axis=-1, keepdims=True)


def ref_ce(z, y, reduction="mean"):
    ls = ref_log_softmax(z)
    per = -ls[np.arange(len(y)), y]
    return {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]


def ref_ce_grad(z, y):
    g = sc.softmax(np.asarray(z, dtype=np.float64), axis=-1)
    g[np.arange(len(y)), y] -= 1
    return g / len(y)


def ref_bcel(x, t, w=None):
    x = np.asarray(x, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    out = np.logaddexp(0, x) - x * t
    return out if w is None else out * w


def _packed_labels(n, C, kind):
    """int64 labels as a record field: stride 12 (packed i4 + i8) or a field
    at offset 4 of a 16-byte record (stride a multiple of 8, misaligned)."""
    if kind == "stride12":
        rec = np.zeros(n, dtype=[("id", "i4"), ("label", "i8")])
    else:
        rec = np.zeros(n, dtype=np.dtype({"names": ["id", "label"], "formats": ["i4", "i8"],
                                          "offsets": [0, 4], "itemsize": 16}))
    rec["label"] = np.arange(n) % C
    lab = rec["label"]
    assert not lab.flags.aligned
    return lab


# --- 1. heap corruption from packed record columns ----------------------------

@pytest.mark.parametrize("kind", ["stride12", "offset4"])
@pytest.mark.parametrize("n,C", [(64, 5), (65, 3), (1000, 7), (9000, 2)])
def test_record_array_class_targets(kind, n, C):
    lab = _packed_labels(n, C, kind)
    y = np.array(lab)                                  # plain int64 copy
    rng = np.random.default_rng(n * C)
    z = rng.normal(size=(n, C))
    np.testing.assert_allclose(fl.cross_entropy(z, lab), ref_ce(z, y), rtol=1e-13)
    np.testing.assert_allclose(fl.cross_entropy(z, lab, reduction="none"),
                               ref_ce(z, y, "none"), rtol=1e-13)
    np.testing.assert_allclose(fl.cross_entropy_grad(z, lab), ref_ce_grad(z, y),
                               rtol=1e-12, atol=1e-17)
    p = sc.softmax(z, axis=-1)
    np.testing.assert_allclose(fl.categorical_cross_entropy(p, lab),
                               fl.categorical_cross_entropy(p, y), rtol=1e-15)
    g = fl.categorical_cross_entropy_grad(p, lab)
    ref = np.zeros_like(p)
    ref[np.arange(n), y] = -1 / p[np.arange(n), y] / n
    np.testing.assert_allclose(g, ref, rtol=1e-13)
    # the labels were not changed
    np.testing.assert_array_equal(lab, np.arange(n) % C)


def test_record_array_bad_label_in_packed_column_is_caught():
    lab = _packed_labels(64, 5, "stride12")
    lab[40] = 7
    with pytest.raises(ValueError, match=r"cross_entropy: target class index 7 at position \(40,\)"):
        fl.cross_entropy(np.zeros((64, 5)), lab)


def test_record_array_binary_operands_and_out():
    n = 5000
    rec = np.zeros(n, dtype=[("a", "i4"), ("x", "f8"), ("t", "f8"), ("w", "f4"), ("o", "f8")])
    rng = np.random.default_rng(1)
    rec["x"] = rng.normal(size=n) * 3
    rec["t"] = rng.uniform(size=n)
    rec["w"] = rng.uniform(size=n)
    x, t, w = (np.array(rec[k]) for k in "xtw")
    for x_, t_, w_ in [(rec["x"], rec["t"], rec["w"]), (x, rec["t"], rec["w"])]:
        np.testing.assert_allclose(
            fl.binary_cross_entropy_with_logits(x_, t_, weight=w_, reduction="none"),
            ref_bcel(x, t, w.astype(np.float64)), rtol=1e-12)
    # out: an unaligned record field is written through a temporary
    out = rec["o"]
    r = fl.binary_cross_entropy_with_logits(rec["x"], rec["t"], reduction="none", out=out)
    assert r is out
    np.testing.assert_allclose(rec["o"], ref_bcel(x, t), rtol=1e-12)
    np.testing.assert_array_equal(rec["x"], x)       # neighbours untouched
    rec["o"] = 0
    fl.sigmoid(rec["x"], out=rec["o"])
    np.testing.assert_allclose(rec["o"], sc.expit(x), rtol=1e-15)
    y = fl.sigmoid(rec["x"])
    np.testing.assert_allclose(y, sc.expit(x), rtol=1e-15)


def test_kernels_refuse_misaligned_operands():
    """Defence in depth: the kernel layer itself checks every operand."""
    rec = np.zeros(64, dtype=[("id", "i4"), ("label", "i8")])
    lab = rec["label"]
    with pytest.raises(ValueError, match="internal: an operand"):
        _kernels.class_targets(lab, 5, -100, None)
    recf = np.zeros(64, dtype=[("id", "i4"), ("x", "f8")])
    with pytest.raises(ValueError, match="internal: an operand"):
        _kernels.unary_1d(_kernels.SIGMOID, recf["x"], np.empty(64), None)


# --- 2. None target ------------------------------------------------------------

@pytest.mark.parametrize("f", BINARY6 + MULTI, ids=lambda f: f.__name__)
@pytest.mark.parametrize("x", [np.zeros(3), np.zeros((2, 3), np.float32), 0.5, [0.1, 0.2]])
def test_none_target_is_a_type_error(f, x):
    if f in MULTI and np.ndim(x) == 0:
        x = np.zeros((2, 3))        # (a 0-d input has no class axis: its own error)
    with pytest.raises(TypeError, match=rf"{f.__name__}: target"):
        f(x, None)
    with pytest.raises(TypeError, match=rf"{f.__name__}: target"):
        f(x, None, reduction="none")


def test_none_target_does_not_crash_the_interpreter():
    code = ("import numpy as np, fastlogistic as fl\n"
            "for f in (fl.binary_cross_entropy, fl.binary_cross_entropy_with_logits_grad_hess):\n"
            "    try: f(np.zeros(3), None)\n"
            "    except TypeError: pass\n"
            "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "ok" in r.stdout, (r.returncode, r.stderr[-2000:])


# --- 3. the result has the input's shape ---------------------------------------

@pytest.mark.parametrize("f", BINARY6, ids=lambda f: f.__name__)
def test_column_against_vector_raises(f):
    n = 7
    p = np.full(n, 0.25)
    with pytest.raises(ValueError, match=rf"{f.__name__}: target of shape \(7,\) does not "
                                         rf"broadcast to the input's shape \(7, 1\)"):
        f(p[:, None], np.ones(n))
    with pytest.raises(ValueError, match=rf"{f.__name__}: target of shape \(7, 1\) does not "
                                         rf"broadcast to the input's shape \(7,\)"):
        f(p, np.ones((n, 1)))
    with pytest.raises(ValueError, match=r"weight of shape \(7, 1\)"):
        f(p, np.ones(n), weight=np.ones((n, 1)))
    if "with_logits" in f.__name__:
        with pytest.raises(ValueError, match=r"pos_weight of shape \(2, 7\)"):
            f(p, np.ones(n), pos_weight=np.ones((2, n)))


@pytest.mark.parametrize("f", BINARY6, ids=lambda f: f.__name__)
def test_what_broadcasts_to_the_input_still_works(f):
    rng = np.random.default_rng(3)
    x = rng.uniform(0.05, 0.95, size=(4, 3))
    t = rng.uniform(size=(4, 3))
    for t_, w_ in [(1.0, None), (t, np.array([1.0, 2.0, 3.0])), (t, np.ones((4, 1)) * 2),
                   (t[0], None), (np.array(1.0), np.float64(0.5))]:
        full = f(x, np.broadcast_to(t_, x.shape).copy(),
                 weight=None if w_ is None else np.broadcast_to(w_, x.shape).copy(),
                 reduction="none")
        got = f(x, t_, weight=w_, reduction="none")
        for a, b in zip(np.atleast_1d(got) if isinstance(got, tuple) else [got],
                        full if isinstance(full, tuple) else [full]):
            assert np.shape(a) == x.shape
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("f", MULTI, ids=lambda f: f.__name__)
def test_multiclass_target_shape_rule(f):
    z = np.full((6, 4), 0.25)
    with pytest.raises(ValueError, match=rf"{f.__name__}: class-index target must have the "
                                         rf"shape .*\(6,\); got target shape \(6, 1\)"):
        f(z, np.zeros((6, 1), dtype=np.int64))
    with pytest.raises(ValueError, match=rf"{f.__name__}: probability target .*\(6, 4\); got "
                                         rf"target shape \(6, 1\)"):
        f(z, np.zeros((6, 1)))
    with pytest.raises(ValueError, match=rf"{f.__name__}: weight .* got shape \(6, 4\)"):
        f(z, np.zeros(6, dtype=np.int64), weight=np.ones((6, 4)))


# --- 4. no NumPy 2.1-only calls ------------------------------------------------

def test_rows_view_without_reshape_copy_keyword(monkeypatch):
    """softmax & co. must not need reshape(copy=...) (NumPy >= 2.1): run
    them with an ndarray.reshape that refuses the keyword, on layouts whose
    rows merge into a view and on ones that do not."""
    from fastlogistic import _multiclass
    rng = np.random.default_rng(0)
    base = rng.normal(size=(3, 4, 5))
    cases = [base, base.transpose(1, 0, 2), base[:, ::2], base[::-1], base.transpose(2, 1, 0)]
    real = np.moveaxis

    class NoCopyKw(np.ndarray):
        def reshape(self, *shape, **kw):
            if "copy" in kw:
                raise TypeError("'copy' is an invalid keyword")
            return np.ndarray.reshape(self, *shape, **kw)

    monkeypatch.setattr(_multiclass.np, "moveaxis",
                        lambda a, s, d: real(a, s, d).view(NoCopyKw))
    for z in cases:
        for ax in (-1, 0, 1):
            ref = sc.softmax(z, axis=ax)
            np.testing.assert_allclose(np.asarray(fl.softmax(z, axis=ax)), ref, rtol=1e-14)
            out = np.empty_like(z)
            fl.log_softmax(z, axis=ax, out=out)
            np.testing.assert_allclose(out, np.log(ref), rtol=1e-13, atol=1e-15)


# --- 5. masked arrays ----------------------------------------------------------

def _masked_case(n=200, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n) * 2
    t = (rng.uniform(size=n) < 0.4).astype(np.float64)
    m = rng.uniform(size=n) < 0.3
    x[m] = 1e300            # garbage under the mask must not count
    return x, t, m


def test_masked_bce_with_logits_reductions_skip_masked():
    x, t, m = _masked_case()
    xm = np.ma.MaskedArray(x, mask=m)
    keep = ~m
    ref = ref_bcel(x[keep], t[keep])
    np.testing.assert_allclose(fl.binary_cross_entropy_with_logits(xm, t), ref.mean(), rtol=1e-13)
    np.testing.assert_allclose(fl.binary_cross_entropy_with_logits(xm, t, reduction="sum"),
                               ref.sum(), rtol=1e-13)
    # the mask on the target instead, and a weight
    w = np.linspace(0.5, 2, x.size)
    tm = np.ma.MaskedArray(t, mask=m)
    np.testing.assert_allclose(
        fl.binary_cross_entropy_with_logits(np.where(m, 0, x), tm, weight=w),
        (ref * w[keep]).sum() / keep.sum(), rtol=1e-13)
    # masked weight: those elements are skipped too
    wm = np.ma.MaskedArray(w, mask=m)
    np.testing.assert_allclose(
        fl.binary_cross_entropy_with_logits(np.where(m, 0, x), t, weight=wm),
        (ref * w[keep]).sum() / keep.sum(), rtol=1e-13)
    # gradient of the mean: divided by the unmasked count, masked, 0 under the mask
    g = fl.binary_cross_entropy_with_logits_grad(xm, t)
    assert isinstance(g, np.ma.MaskedArray)
    np.testing.assert_array_equal(g.mask, m)
    np.testing.assert_allclose(g.compressed(), (sc.expit(x[keep]) - t[keep]) / keep.sum(),
                               rtol=1e-13)
    np.testing.assert_array_equal(g.data[m], 0)
    loss, grad = fl.binary_cross_entropy_with_logits_loss_and_grad(xm, t)
    np.testing.assert_allclose(loss, ref.mean(), rtol=1e-13)
    np.testing.assert_allclose(grad.compressed(), g.compressed(), rtol=1e-15)
    # elementwise: the mask is kept
    e = fl.binary_cross_entropy_with_logits(xm, t, reduction="none")
    np.testing.assert_array_equal(e.mask, m)
    np.testing.assert_allclose(e.compressed(), ref, rtol=1e-13)
    # all masked: mean of nothing is nan, sum 0
    allm = np.ma.MaskedArray(x, mask=np.ones_like(m))
    assert np.isnan(fl.binary_cross_entropy_with_logits(allm, t))
    assert fl.binary_cross_entropy_with_logits(allm, t, reduction="sum") == 0


def test_masked_bce_probabilities():
    x, t, m = _masked_case(seed=6)
    p = sc.expit(np.where(m, 0, x))
    p[m] = 7.0                 # out of range, but masked: not an error
    pm = np.ma.MaskedArray(p, mask=m)
    keep = ~m
    ref = -(t[keep] * np.log(p[keep]) + (1 - t[keep]) * np.log1p(-p[keep]))
    np.testing.assert_allclose(fl.binary_cross_entropy(pm, t), ref.mean(), rtol=1e-12)
    g = fl.binary_cross_entropy_grad(pm, t, reduction="sum")
    np.testing.assert_array_equal(g.mask, m)
    np.testing.assert_allclose(g.compressed(), (p[keep] - t[keep]) / (p[keep] * (1 - p[keep])),
                               rtol=1e-12)


def test_masked_issue_example():
    """The issue's numbers: the mean over the unmasked elements, not over all."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=1000)
    t = (rng.uniform(size=1000) < 0.5).astype(float)
    m = rng.uniform(size=1000) < 0.5
    got = fl.binary_cross_entropy_with_logits(np.ma.MaskedArray(x, mask=m), t)
    assert got == pytest.approx(ref_bcel(x[~m], t[~m]).mean(), rel=1e-13)


def test_masked_multiclass_rows_are_skipped():
    rng = np.random.default_rng(9)
    n, C = 50, 4
    z = rng.normal(size=(n, C))
    y = rng.integers(0, C, n)
    rows = rng.uniform(size=n) < 0.3
    zm = np.ma.MaskedArray(z, mask=np.zeros_like(z, dtype=bool))
    zm[rows, 1] = np.ma.masked                      # one masked logit masks the row
    keep = ~rows
    np.testing.assert_allclose(fl.cross_entropy(zm, y), ref_ce(z[keep], y[keep]), rtol=1e-13)
    ym = np.ma.MaskedArray(y, mask=rows)
    np.testing.assert_allclose(fl.cross_entropy(z, ym, reduction="sum"),
                               ref_ce(z[keep], y[keep], "sum"), rtol=1e-13)
    per = fl.cross_entropy(z, ym, reduction="none")
    np.testing.assert_array_equal(per.mask, rows)
    np.testing.assert_allclose(per.compressed(), ref_ce(z[keep], y[keep], "none"), rtol=1e-13)
    g = fl.cross_entropy_grad(z, ym)
    np.testing.assert_array_equal(g.mask, np.repeat(rows[:, None], C, axis=1))
    np.testing.assert_allclose(g.data[keep], ref_ce_grad(z[keep], y[keep]), rtol=1e-12,
                               atol=1e-17)
    np.testing.assert_array_equal(g.data[rows], 0)
    # class axis first, probability targets
    t = sc.softmax(rng.normal(size=(n, C)), axis=1)
    tm = np.ma.MaskedArray(t, mask=np.repeat(rows[:, None], C, axis=1))
    ref = -(t[keep] * ref_log_softmax(z[keep])).sum(axis=1).mean()
    np.testing.assert_allclose(fl.cross_entropy(z.T, tm.T, axis=0), ref, rtol=1e-13)
    np.testing.assert_allclose(fl.categorical_cross_entropy(sc.softmax(z, axis=1), tm),
                               ref, rtol=1e-12)


def test_masked_softmax_leaves_masked_entries_out():
    z = np.array([[1.0, 2.0, 50.0], [0.5, -1.0, 3.0]])
    zm = np.ma.MaskedArray(z, mask=[[False, False, True], [False, False, False]])
    s = fl.softmax(zm, axis=-1)
    assert isinstance(s, np.ma.MaskedArray)
    np.testing.assert_array_equal(s.mask, zm.mask)
    np.testing.assert_allclose(s[0, :2], sc.softmax(z[0, :2]), rtol=1e-15)
    np.testing.assert_allclose(s[1], sc.softmax(z[1]), rtol=1e-15)
    ls = fl.log_softmax(zm, axis=-1)
    np.testing.assert_allclose(ls[0, :2], ref_log_softmax(z[0, :2]), rtol=1e-15)


def test_masked_elementwise_keeps_the_mask():
    x = np.ma.MaskedArray([0.0, 1.0, 2.0], mask=[False, True, False])
    for f, ref in [(fl.sigmoid, sc.expit), (fl.log_sigmoid, sc.log_expit)]:
        y = f(x)
        assert isinstance(y, np.ma.MaskedArray)
        np.testing.assert_array_equal(y.mask, x.mask)
        np.testing.assert_allclose(y.compressed(), ref(x.compressed()), rtol=1e-15)


# --- 6. num_threads of any size --------------------------------------------------

@pytest.mark.parametrize("n", [10**30, 2**63, np.uint64(2**64 - 1)])
def test_huge_num_threads_is_capped(n):
    x = np.linspace(-3, 3, 50_000)
    np.testing.assert_array_equal(fl.sigmoid(x, num_threads=n), fl.sigmoid(x))
    t = (x > 0).astype(float)
    assert fl.binary_cross_entropy_with_logits(x, t, num_threads=n) == \
        fl.binary_cross_entropy_with_logits(x, t)
    z = x.reshape(-1, 5)
    np.testing.assert_array_equal(fl.softmax(z, axis=-1, num_threads=n), fl.softmax(z, axis=-1))
    fl.set_num_threads(n)
    try:
        assert 1 <= fl.get_num_threads() <= 1 << 16
    finally:
        fl.set_num_threads(None)


@pytest.mark.parametrize("f,args", [
    (fl.sigmoid, (np.ones(3),)), (fl.softplus, (np.full(3, 0.5),)),
    (fl.binary_cross_entropy, (np.full(3, 0.5), np.ones(3))),
    (fl.binary_cross_entropy_with_logits_grad_hess, (np.ones(3), np.ones(3))),
    (fl.softmax, (np.ones((2, 3)),)),
    (fl.cross_entropy, (np.ones((2, 3)), np.zeros(2, dtype=int))),
], ids=lambda v: getattr(v, "__name__", ""))
@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-(10**30), ValueError), (np.int64(-1), ValueError),
                                     (2.0, TypeError), ("4", TypeError), (True, TypeError)])
def test_num_threads_errors_name_function_and_argument(f, args, bad, exc):
    with pytest.raises(exc, match=rf"{f.__name__}: num_threads must be"):
        f(*args, num_threads=bad)


@pytest.mark.parametrize("bad,exc", [(0, ValueError), (-(10**30), ValueError), (2.5, TypeError)])
def test_set_num_threads_errors_name_it(bad, exc):
    with pytest.raises(exc, match=r"set_num_threads: num_threads must be"):
        fl.set_num_threads(bad)
    # the ufuncs (expit, log_expit, logit) take their threads from use_threads
    with pytest.raises(exc, match=r"use_threads: num_threads must be"):
        fl.use_threads(bad)


# --- 7. long double ----------------------------------------------------------------

def test_longdouble_losses_compute_and_return_float64():
    """Documented convention: the losses and softmax compute long double
    input in float64 and return float64 (their kernels have no long double
    path; the elementwise functions follow their own documented rule)."""
    x = np.linspace(-5, 5, 12).astype(np.longdouble)
    t = (np.arange(12) % 2).astype(np.longdouble)
    loss = fl.binary_cross_entropy_with_logits(x, t)
    assert loss.dtype == np.float64
    assert loss == pytest.approx(ref_bcel(x.astype(np.float64), t.astype(np.float64)).mean(),
                                 rel=1e-14)
    g = fl.binary_cross_entropy_with_logits_grad(x, t, reduction="none")
    assert g.dtype == np.float64
    z = x.reshape(4, 3)
    assert fl.softmax(z, axis=-1).dtype == np.float64
    ce = fl.cross_entropy(z, np.array([0, 1, 2, 0]))
    assert ce.dtype == np.float64
    assert ce == pytest.approx(ref_ce(z.astype(np.float64), np.array([0, 1, 2, 0])), rel=1e-14)


# --- 8. unsigned integer steps on NaN (sanitizer finding) ------------------------

@pytest.mark.parametrize("dt", [np.float64, np.float32])
def test_nan_and_inf_through_every_elementwise_kernel(simd_level, dt):
    x = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30] * 5, dtype=dt)
    for f in (fl.sigmoid, fl.log_sigmoid, fl.softplus, fl.sigmoid_grad, fl.logit):
        y = f(x)
        assert y.dtype == dt
        assert np.isnan(y[:2]).all()
    np.testing.assert_array_equal(fl.sigmoid(x[2:4]), [1, 0])
    np.testing.assert_array_equal(fl.logit(x[2:5]), [np.nan, np.nan, -np.inf])


# --- zero strides on any axis: broadcast operands are not materialised -------

def _zero_stride_layouts(rng, dt):
    """(name, input of shape (6, 5, 4) with zero strides somewhere)."""
    row = rng.uniform(0.05, 0.95, 4).astype(dt)
    block = rng.uniform(0.05, 0.95, (5, 4)).astype(dt)
    col = rng.uniform(0.05, 0.95, (6, 5, 1)).astype(dt)
    wide = rng.uniform(0.05, 0.95, (5, 8)).astype(dt)
    return [
        ("row", np.broadcast_to(row, (6, 5, 4))),
        ("block", np.broadcast_to(block, (6, 5, 4))),
        ("strided block", np.broadcast_to(wide[:, ::2], (6, 5, 4))),
        ("reversed block", np.broadcast_to(block[::-1], (6, 5, 4))),
        ("middle axis", np.broadcast_to(block[:, None, :][:1], (6, 5, 4))),
        ("last axis", np.broadcast_to(col, (6, 5, 4))),
        ("scalar", np.broadcast_to(np.array(0.3, dt), (6, 5, 4))),
    ]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("f", BINARY6, ids=lambda f: f.__name__)
def test_zero_stride_operands_same_as_materialised(f, dt):
    """Input, target and weight with zero strides on any axis: the same
    values, bit for bit, as the same operands copied to contiguous arrays."""
    rng = np.random.default_rng(11)
    layouts = _zero_stride_layouts(rng, dt)
    full = rng.uniform(0.05, 0.95, (6, 5, 4)).astype(dt)
    for (nx, x), (nt, t) in [(layouts[i], layouts[(i + 2) % len(layouts)])
                             for i in range(len(layouts))] + [(layouts[0], ("full", full))]:
        for w in (None, layouts[1][1]):
            for red in ("none", "sum", "mean"):
                got = f(x, t, weight=w, reduction=red)
                want = f(x.copy(), t.copy(), weight=None if w is None else w.copy(),
                         reduction=red)
                for a, b in zip(got if isinstance(got, tuple) else (got,),
                                want if isinstance(want, tuple) else (want,)):
                    np.testing.assert_array_equal(a, b, err_msg=f"{nx} / {nt} / {red}")
    for name, x in layouts:
        assert 0 in x.strides, name


def test_broadcast_row_reduction_allocates_nothing_like_the_array():
    """A broadcast row of 2**22 x 2 float64 (64 MiB if materialised): the
    reduced losses allocate next to nothing, the gradient only its output."""
    import tracemalloc
    n = 2**22
    row = np.array([0.3, -1.2])
    x = np.broadcast_to(row, (n, 2))
    t = np.broadcast_to(np.array([1.0, 0.0]), (n, 2))
    p = np.broadcast_to(np.array([0.6, 0.2]), (n, 2))
    exact = (np.logaddexp(0, -0.3) + np.logaddexp(0, -1.2)) / 2
    tracemalloc.start()
    try:
        loss = fl.binary_cross_entropy_with_logits(x, t)
        s = fl.binary_cross_entropy(p, t, reduction="sum")
        peak = tracemalloc.get_traced_memory()[1]
        assert peak < 1 << 20, peak
        tracemalloc.reset_peak()
        g = fl.binary_cross_entropy_with_logits_grad(x, t)
        peak = tracemalloc.get_traced_memory()[1]
        assert peak < g.nbytes + (1 << 20), (peak, g.nbytes)
    finally:
        tracemalloc.stop()
    assert abs(loss - exact) <= 1e-12 * exact
    np.testing.assert_allclose(s, -n * (np.log(0.6) + np.log(0.8)), rtol=1e-12)
    np.testing.assert_allclose(g[-1], (1 / (1 + np.exp([-0.3, 1.2])) - [1, 0]) / (2 * n),
                               rtol=1e-12)


@pytest.mark.parametrize("f", BINARY6, ids=lambda f: f.__name__)
def test_empty_zero_stride_operands(f):
    """Empty operands whose strides are zero (broadcast to an empty shape)."""
    x = np.broadcast_to(np.zeros(1), (4, 0))
    for t in (np.zeros(0), np.broadcast_to(np.zeros(1), (0,)), np.zeros((4, 1)), 0.5):
        for red in ("none", "sum", "mean"):
            got = f(x, t, reduction=red)
            for a in got if isinstance(got, tuple) else (got,):
                if red == "none" or np.ndim(a):
                    assert np.shape(a) == (4, 0)
                elif red == "sum":
                    assert a == 0


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_broadcast_column_and_middle_axis_reach_the_kernels_uncopied(dt):
    """Zero strides on a last or middle axis: where every other operand
    allows it (a scalar, a column, the same broadcast), the operands are
    walked with the zero-stride axes first and nothing input-sized is
    allocated for a reduction; elementwise results are the materialised
    ones, bit for bit, in the input's axis order (and a given `out` is
    written); reductions agree to rounding (another summation order)."""
    import tracemalloc
    rng = np.random.default_rng(12)
    n = 1 << 19
    col = rng.normal(0, 3, (n, 1)).astype(dt)
    tcol = rng.random((n, 1)).astype(dt)
    mid = rng.normal(0, 3, (64, 1, 8)).astype(dt)
    cases = [(np.broadcast_to(col, (n, 4)), [0.25, tcol, np.broadcast_to(tcol, (n, 4))]),
             (np.broadcast_to(mid, (64, n // 512, 8)), [0.75, rng.random((64, 1, 8)).astype(dt)])]
    for x, targets in cases:
        for t in targets:
            xf, tf = x.copy(), np.broadcast_to(t, x.shape).copy()
            for red in ("sum", "mean"):
                tracemalloc.start()
                try:
                    got = fl.binary_cross_entropy_with_logits(x, t, reduction=red)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                assert peak < x.size * x.itemsize // 8, (x.strides, np.shape(t), peak)
                want = fl.binary_cross_entropy_with_logits(xf, tf, reduction=red)
                np.testing.assert_allclose(got, want, rtol=64 * np.finfo(dt).eps)
                assert got.dtype == dt
            g = fl.binary_cross_entropy_with_logits_grad(x, t, reduction="none")
            assert g.shape == x.shape
            np.testing.assert_array_equal(g, fl.binary_cross_entropy_with_logits_grad(
                xf, tf, reduction="none"))
            out = np.full(x.shape, np.nan, dt)
            assert fl.binary_cross_entropy_with_logits(x, t, reduction="none", out=out) is out
            np.testing.assert_array_equal(out, fl.binary_cross_entropy_with_logits(
                xf, tf, reduction="none"))
            with pytest.raises(ValueError, match=r"out has shape .* expected " +
                               re.escape(str(x.shape))):
                fl.binary_cross_entropy_with_logits(x, t, reduction="none",
                                                    out=np.empty(x.shape[::-1], dt))
    # a bad probability is reported at its index in the input's axis order
    p = np.broadcast_to(np.array([[0.5], [1.5], [0.2]]), (3, 4))
    with pytest.raises(ValueError, match=r"found 1.5 at index \(1, 0\)"):
        fl.binary_cross_entropy(p, 0.5)
