"""Broadcast operands of the binary cross-entropy family, at every SIMD level:
a scalar target, weight or pos_weight (period 1), a row broadcast over the
rows (period = the row's length: short, 7; a chunk's share, 1000; longer
than a chunk, 5000; longer than 16 chunks) and a broadcast input.  They
reach the kernels as a view and a period (_api._operand) or straight from
_kernels.bcel_plain, read from a tile made once per call or gathered chunk
by chunk (_kernels.pyx); either way each result must be

* the same bits as with the operands materialised at full length in the
  compute dtype (the plain path),
* the same bits on 1 and 2 threads (sizes above the threading threshold),
* within a few ULP of a float64 NumPy/SciPy reference.
"""
import os
import sys

import numpy as np
import pytest

import fastlogistic as fl
from fastlogistic import _kernels

pytestmark = pytest.mark.usefixtures("simd_level")

CHUNK = _kernels.CHUNK_SIZE


# --- float64 references -------------------------------------------------------

# ref_bcel(x, t, w, pw) -> (loss, grad, hess, scale of the grad's cancelling
# terms) and ref_bce(p, t, w) -> (loss, grad, scale), float64, broadcast to
# the input's shape: the API fuzzer's references, one copy for both
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:
    from fuzz_api_worker import ref_bce, ref_bcel  # noqa: E402
finally:
    sys.path.pop(0)


def assert_close(got, want, dt, scale=None):
    """|got - want| within a few ULP of `scale` (default |want|)"""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape
    rtol = 4e-6 if np.dtype(dt) == np.float32 else 2e-14
    scale = np.abs(want) if scale is None else scale
    err = np.abs(got - want)
    bad = ~(err <= rtol * scale + 1e-300)
    assert not bad.any(), (f"{np.count_nonzero(bad)} off, e.g. {got[bad][:3]} vs "
                           f"{want[bad][:3]}")


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert a.tobytes() == b.tobytes(), np.flatnonzero(a.reshape(-1) != b.reshape(-1))[:5]


# --- the operands -------------------------------------------------------------

# shape of the input and the broadcast target, by kind: above the threading
# threshold, and no multiple of the chunk
def _target(kind, dt, rng):
    """(input shape, target as given)"""
    if kind.startswith("scalar"):
        v = {"scalar 0": 0.0, "scalar 1": 1.0, "scalar 0.3": 0.3, "scalar int 1": 1,
             "scalar np": np.dtype(dt).type(0.3), "scalar 0d": np.array(0.7)}[kind]
        return (37, 1001), v
    if kind == "row 7":
        return (5003, 7), rng.random(7).astype(dt)
    if kind == "broadcast_to 7":
        return (5003, 7), np.broadcast_to(rng.random(7).astype(dt), (5003, 7))
    if kind == "row 1000":
        return (37, 1000), np.broadcast_to((rng.random(1000) < 0.5).astype(dt), (37, 1000))
    if kind == "row 5000":          # a period longer than a chunk
        return (8, 5000), np.broadcast_to(rng.random(5000).astype(dt), (8, 5000))
    if kind == "row strided":
        return (3001, 13), rng.random(26).astype(dt)[::2]
    if kind == "row int8":
        return (3001, 13), rng.integers(0, 2, 13).astype(np.int8)
    if kind == "rows 3d":           # a (4, 5) block broadcast over 1700 rows
        return (1700, 4, 5), rng.random((4, 5)).astype(dt)
    raise AssertionError(kind)


TARGET_KINDS = ["scalar 0", "scalar 1", "scalar 0.3", "scalar int 1", "scalar np",
                "scalar 0d", "row 7", "broadcast_to 7", "row 1000", "row 5000",
                "row strided", "row int8", "rows 3d"]

# weight and pos_weight: none, a scalar, a row of the last axis
WEIGHTS = [(None, None), (0.7, None), (None, 2.5), ("row", "row"), (1.5, "row")]


def _weight(spec, shape, dt, rng):
    if spec is None or isinstance(spec, float):
        return spec
    return rng.uniform(0.1, 2, shape[-1]).astype(dt)


def _full(a, shape, dt):
    """a materialised at full length in the compute dtype (None stays None)"""
    if a is None:
        return None
    return np.ascontiguousarray(np.broadcast_to(np.asarray(a).astype(dt), shape))


BCEL_CALLS = [
    ("binary_cross_entropy_with_logits", "none"),
    ("binary_cross_entropy_with_logits", "mean"),
    ("binary_cross_entropy_with_logits", "sum"),
    ("binary_cross_entropy_with_logits_grad", "none"),
    ("binary_cross_entropy_with_logits_grad", "mean"),
    ("binary_cross_entropy_with_logits_grad", "sum"),
    ("binary_cross_entropy_with_logits_loss_and_grad", "mean"),
    ("binary_cross_entropy_with_logits_loss_and_grad", "none"),
    ("binary_cross_entropy_with_logits_grad_hess", "none"),
    ("binary_cross_entropy_with_logits_grad_hess", "sum"),
]
BCE_CALLS = [
    ("binary_cross_entropy", "none"),
    ("binary_cross_entropy", "mean"),
    ("binary_cross_entropy", "sum"),
    ("binary_cross_entropy_grad", "none"),
    ("binary_cross_entropy_grad", "mean"),
]


def _results(r):
    return r if isinstance(r, tuple) else (r,)


def _bcel_want(fname, red, ref):
    loss, grad, hess, gs = ref
    n = loss.size
    div = n if red == "mean" else 1
    lsum = (loss.sum() / div, np.abs(loss).sum() / div)
    lv = (loss, None) if red == "none" else lsum
    g = (grad / div, gs / div)
    h = (hess / div, None)
    return {"binary_cross_entropy_with_logits": [lv],
            "binary_cross_entropy_with_logits_grad": [g],
            "binary_cross_entropy_with_logits_loss_and_grad": [lv, g],
            "binary_cross_entropy_with_logits_grad_hess": [g, h]}[fname]


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_bcel_broadcast_target_and_weights(kind, dt):
    rng = np.random.default_rng(TARGET_KINDS.index(kind))
    shape, t = _target(kind, dt, rng)
    x = (rng.standard_normal(shape) * 4).astype(dt)
    tf = _full(t, shape, dt)
    for wspec, pspec in WEIGHTS:
        w, pw = _weight(wspec, shape, dt, rng), _weight(pspec, shape, dt, rng)
        wf, pwf = _full(w, shape, dt), _full(pw, shape, dt)
        ref = ref_bcel(x, tf, wf, pwf)
        for fname, red in BCEL_CALLS:
            f = getattr(fl, fname)
            got = _results(f(x, t, weight=w, pos_weight=pw, reduction=red, num_threads=1))
            # the same bits as the full-length operands, and on 2 threads
            plain = _results(f(x, tf, weight=wf, pos_weight=pwf, reduction=red, num_threads=1))
            two = _results(f(x, t, weight=w, pos_weight=pw, reduction=red, num_threads=2))
            for a, b, c in zip(got, plain, two):
                assert np.asarray(a).dtype == dt
                same_bits(a, b)
                same_bits(a, c)
            # the values, from the operands rounded to the compute dtype
            for a, (v, scale) in zip(got, _bcel_want(fname, red, ref)):
                assert_close(a, v, dt, scale)


@pytest.mark.parametrize("kind", TARGET_KINDS)
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_bce_broadcast_target_and_weight(kind, dt):
    rng = np.random.default_rng(TARGET_KINDS.index(kind) + 1)
    shape, t = _target(kind, dt, rng)
    p = rng.uniform(1e-4, 1 - 1e-4, shape).astype(dt)
    tf = _full(t, shape, dt)
    for wspec in (None, 0.7, "row"):
        w = _weight(wspec, shape, dt, rng)
        wf = _full(w, shape, dt)
        loss, grad, gs = ref_bce(p, tf, wf)
        for fname, red in BCE_CALLS:
            f = getattr(fl, fname)
            got = f(p, t, weight=w, reduction=red, num_threads=1)
            same_bits(got, f(p, tf, weight=wf, reduction=red, num_threads=1))
            same_bits(got, f(p, t, weight=w, reduction=red, num_threads=2))
            div = p.size if red == "mean" else 1
            if fname.endswith("_grad"):
                assert_close(got, grad / div, dt, gs / div)
            elif red == "none":
                assert_close(got, loss, dt)
            else:
                assert_close(got, loss.sum() / div, dt, np.abs(loss).sum() / div)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_broadcast_input(dt):
    """A broadcast input (logits or probabilities): periodic itself."""
    rng = np.random.default_rng(5)
    for shape in [(5003, 7), (9, 5000), (40000,)]:
        row = (rng.standard_normal(shape[-1] if len(shape) > 1 else 1) * 3).astype(dt)
        x = np.broadcast_to(row if len(shape) > 1 else row[0], shape)
        t = rng.random(shape).astype(dt)
        xf = np.ascontiguousarray(x)
        for red in ("none", "sum"):
            for f in (fl.binary_cross_entropy_with_logits,
                      fl.binary_cross_entropy_with_logits_grad):
                got = f(x, t, reduction=red, num_threads=2)
                same_bits(got, f(xf, t, reduction=red, num_threads=1))
            got = fl.binary_cross_entropy_with_logits(x, 0.25, reduction=red)
            same_bits(got, fl.binary_cross_entropy_with_logits(xf, np.full(shape, 0.25, dt),
                                                               reduction=red))
        loss = fl.binary_cross_entropy_with_logits(x, t, reduction="none")
        assert_close(loss, ref_bcel(xf, t, None, None)[0], dt)
        p = np.broadcast_to(fl.sigmoid(row).clip(1e-4, 1 - 1e-4), x.shape)
        got = fl.binary_cross_entropy(p, 0.3, reduction="none", num_threads=2)
        same_bits(got, fl.binary_cross_entropy(np.ascontiguousarray(p), np.full(shape, 0.3, dt),
                                               reduction="none", num_threads=1))
        assert_close(got, ref_bce(np.ascontiguousarray(p), dt(0.3), None)[0], dt)


@pytest.mark.parametrize("tdt", [np.bool_, np.int8, np.uint8, np.int32, np.int64,
                                 np.float32, np.float64, np.int16])
@pytest.mark.parametrize("xdt", [np.float32, np.float64])
def test_broadcast_operands_of_any_dtype(xdt, tdt):
    """Targets and weights of every dtype the kernels convert (and one the
    Python layer converts first, int16), broadcast: scalars, short and long
    rows; the same bits as the converted full-length operands."""
    rng = np.random.default_rng(3)
    for shape in [(5003, 7), (9, 5000), (3, 7), (5,)]:
        x = (rng.standard_normal(shape) * 3).astype(xdt)
        t = (rng.random(shape[-1]) < 0.4).astype(tdt)
        w = rng.integers(1, 4, shape[-1]).astype(tdt)
        pw = np.array(2, dtype=tdt)
        args = [(t, None, None), (t, w, pw), (np.array(1, dtype=tdt), w, None)]
        for tt, ww, pp in args:
            full = [_full(a, shape, xdt) for a in (tt, ww, pp)]
            for red in ("none", "mean"):
                got = fl.binary_cross_entropy_with_logits_loss_and_grad(
                    x, tt, weight=ww, pos_weight=pp, reduction=red)
                exp = fl.binary_cross_entropy_with_logits_loss_and_grad(
                    x, full[0], weight=full[1], pos_weight=full[2], reduction=red)
                for a, b in zip(got, exp):
                    same_bits(a, b)
            p = fl.sigmoid(x).clip(1e-4, 1 - 1e-4)
            same_bits(fl.binary_cross_entropy_grad(p, tt, weight=ww, reduction="none"),
                      fl.binary_cross_entropy_grad(p, full[0], weight=full[1], reduction="none"))


@pytest.mark.parametrize("shape", [(1,), (5,), (3, 7), (2, 1000), (1, 4097), (3, 4097),
                                   (CHUNK + 3,), (2, CHUNK), (1, 5000), (2, 16 * CHUNK + 5)])
def test_small_and_chunk_edge_sizes(shape):
    """Sizes below one chunk, periods one past a chunk and chunk-aligned,
    and the periods that are gathered chunk by chunk rather than tiled (a
    row as long as the call, and one over 16 chunks long): a scalar and a
    row target against full-length ones."""
    rng = np.random.default_rng(sum(shape))
    for dt in (np.float32, np.float64):
        x = (rng.standard_normal(shape) * 3).astype(dt)
        row = rng.random(shape[-1]).astype(dt)
        for t in (0.3, row, np.broadcast_to(row, shape)):
            tf = _full(t, shape, dt)
            for red in ("none", "sum"):
                got = fl.binary_cross_entropy_with_logits_grad_hess(x, t, pos_weight=row,
                                                                    reduction=red)
                exp = fl.binary_cross_entropy_with_logits_grad_hess(x, tf, pos_weight=_full(
                    row, shape, dt), reduction=red)
                for a, b in zip(got, exp):
                    same_bits(a, b)
                same_bits(fl.binary_cross_entropy_with_logits(x, t, reduction=red),
                          fl.binary_cross_entropy_with_logits(x, tf, reduction=red))


def test_bad_probability_in_a_broadcast_input_is_named():
    """The first probability outside [0, 1] of a broadcast input: its index
    in the input's shape, whichever chunk and tile offset it is found at."""
    row = np.full(7, 0.5)
    row[3] = 1.5
    p = np.broadcast_to(row, (6000, 7))
    with pytest.raises(ValueError, match=r"found 1.5 at index \(0, 3\)"):
        fl.binary_cross_entropy(p, 0.0, num_threads=2)
    row = np.full(5000, 0.5)
    row[4500] = -0.25
    with pytest.raises(ValueError, match=r"found -0.25 at index \(0, 4500\)"):
        fl.binary_cross_entropy_grad(np.broadcast_to(row, (9, 5000)), 1, num_threads=2)
