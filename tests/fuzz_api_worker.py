"""API fuzzer worker (run in a child process by tests/test_fuzz_api.py).

    python tests/fuzz_api_worker.py SEED FIRST COUNT LOGFILE
    python tests/fuzz_api_worker.py --one SEED I      # replay one call, verbosely

Calls every public function of fastlogistic (``fastlogistic.__all__``,
discovered, so a new function is fuzzed too) with random arguments: call i
draws everything from ``numpy.random.default_rng([SEED, i])``, so any call
can be replayed alone.  Before each call its description is written to
LOGFILE and flushed: if the process dies (a segfault, an abort), the parent
reads which call did it.  After each call the worker checks:

* the call returned, or raised TypeError/ValueError whose message names the
  function (any other exception is a failure);
* no input array was modified (only `out` may be written);
* where every argument is valid ("valid" draws), the result matches a
  float64 NumPy/SciPy reference.

Failures are printed to stdout as one JSON object per line; the exit status
is 0 whenever the worker itself got to the end.
"""
import contextlib
import io
import json
import math
import sys
import warnings

import numpy as np

import fastlogistic as fl
from fastlogistic import _registry

warnings.simplefilter("ignore")

# ---------------------------------------------------------------------------
# argument pools
# ---------------------------------------------------------------------------

NUMERIC = ["f8", "f4", "f2", "g", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?"]
OTHER = ["c8", "c16", "O", "U3", "S3", "M8[s]", "m8[s]", "V8"]
SHAPES = [(), (0,), (1,), (5,), (7,), (3, 4), (4, 1), (1, 4), (2, 3, 4), (0, 3), (3, 0),
          (1, 1), (6, 3)]
SPECIALS = [np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308, 5e-324, 0.5, 1.0]


def _values(rng, shape, kind):
    n = math.prod(shape)
    if kind == "prob":
        v = rng.uniform(0, 1, n)
    elif kind == "index":
        v = rng.integers(-2, 6, n).astype(np.float64)
    else:
        v = rng.normal(0, rng.choice([0.1, 3.0, 50.0, 1000.0]), n)
    if n and rng.random() < 0.3:
        k = rng.integers(1, n + 1)
        v[rng.integers(0, n, k)] = rng.choice(SPECIALS, k)
    return v.reshape(shape)


def _array(rng, shape=None, dtype=None, kind="real"):
    """A random array: any dtype, any layout (views, byte-swapped, masked,
    read-only, record fields...)."""
    if shape is None:
        shape = SHAPES[rng.integers(len(SHAPES))]
    if dtype is None:
        r = rng.random()
        dtype = (rng.choice(NUMERIC) if r < 0.8 else rng.choice(OTHER))
    dt = np.dtype(dtype)
    v = _values(rng, shape, kind)
    with np.errstate(all="ignore"):
        if dt.kind in "iub":
            a = np.nan_to_num(v, nan=0, posinf=3, neginf=-3).clip(-1e3, 1e3).astype(dt)
        elif dt.kind in "fc":
            a = v.astype(dt)
        elif dt.kind == "O":
            a = v.astype(object)
            if a.size:
                a.flat[0] = rng.choice(["x", None, 1.5])
        elif dt.kind in "US":
            a = v.astype(dt)
        elif dt.kind in "Mm":
            a = np.nan_to_num(v, nan=0, posinf=0, neginf=0).clip(-1e9, 1e9).astype("i8").view(dt)
        else:
            a = np.zeros(shape, dt)
    return _layout(rng, a)


def _layout(rng, a):
    r = rng.integers(0, 12)
    if r == 0 and a.ndim:
        a = np.ascontiguousarray(a[::-1])[::-1]                          # reversed
    elif r == 1 and a.ndim >= 2:
        a = np.ascontiguousarray(a.T).T                                  # transposed
    elif r == 2 and a.ndim:
        big = np.repeat(a, 2, axis=-1)
        a = big[..., ::2]                                                # strided
    elif r == 3 and a.ndim and a.size:
        a = np.broadcast_to(a[..., :1], a.shape)                         # zero stride
    elif r == 4 and a.dtype.kind in "biuf" and a.dtype.itemsize > 1:
        a = a.astype(a.dtype.newbyteorder())                             # byte-swapped
    elif r == 5:
        a = a.copy()
        a.setflags(write=False)                                          # read-only
    elif r == 6 and a.dtype.kind in "biufc":
        m = rng.random(a.shape) < 0.3
        a = np.ma.MaskedArray(a, mask=m)                                 # masked
    elif r == 7 and a.dtype.kind in "biuf":
        rec = np.zeros(a.shape, dtype=[("pad", "i1"), ("v", a.dtype), ("q", "i2")])
        rec["v"] = a
        a = rec["v"]                                                     # unaligned field
    elif r == 8 and a.ndim >= 2:
        a = np.asfortranarray(a)
    return a


def _junk(rng):
    pool = [None, 0, 1, -1, 0.5, True, 1e308, math.nan, math.inf, 10**30, -10**30, 2**63,
            1 + 2j, "abc", "", "mean", b"x", [0.1, 0.2], [[1], [1, 2]], [[0.1, 0.2], [0.3, 0.4]],
            [], [None], [[[]]], {}, {"a": 1}, object(), slice(None), Ellipsis, len,
            np.float32(0.5), np.int8(-3), np.uint64(2**64 - 1), np.longdouble(2),
            np.datetime64("2020-01-01"), np.str_("s"), (1, 2)]
    return pool[rng.integers(len(pool))]


def _any(rng, kind="real"):
    r = rng.random()
    if r < 0.25:
        return _junk(rng)
    return _array(rng, kind=kind)


KW_POOLS = {
    "reduction": ["mean", "sum", "none", "MEAN", None, 1, b"sum", "", ["mean"]],
    "axis": [-1, 0, 1, 2, -3, 5, None, 1.0, "0", np.int64(0), True, (0,), -(10**30)],
    "ignore_index": [-100, 0, 1, -1, 10**30, None, 1.5, np.int8(2), "1", np.uint64(2**64 - 1)],
    "label_smoothing": [0.0, 0.1, 1.0, -0.1, 1.1, math.nan, math.inf, "0.1", None, True,
                        np.float32(0.2), 1, 2**70],
    "num_threads": [None, 1, 2, 0, -1, 10**30, 1.5, "2", True, np.int64(2),
                    np.uint64(2**64 - 1), -(10**30), 3],
}


def _kw(rng, name):
    pool = KW_POOLS[name]
    return pool[rng.integers(len(pool))]


def _out(rng, shape, dtype, x):
    """A wrong (or right) `out` of every kind."""
    r = rng.integers(0, 12)
    if r == 0:
        return None
    if r == 1:
        return np.empty(shape, dtype)                                    # right
    if r == 2:
        return np.empty(tuple(s + 1 for s in shape) or (2,), dtype)      # wrong shape
    if r == 3:
        return np.empty(shape, rng.choice(["f4", "f8", "i8", "c16", "O"]))
    if r == 4:
        o = np.empty(shape, dtype)
        o.setflags(write=False)
        return o
    if r == 5:
        return x                                                          # the input itself
    if r == 6 and isinstance(x, np.ndarray) and x.ndim:
        return x[::-1]                                                    # overlapping view
    if r == 7:
        rec = np.zeros(shape, dtype=[("pad", "i1"), ("v", dtype)])
        return rec["v"]                                                   # unaligned
    if r == 8:
        return np.ma.MaskedArray(np.empty(shape, dtype))
    if r == 9:
        return (np.empty(shape, dtype), np.empty(shape, dtype))
    if r == 10:
        big = np.empty(tuple(2 * s for s in shape), dtype)
        return big[tuple(slice(None, None, 2) for _ in shape)]           # strided
    return _junk(rng)


# ---------------------------------------------------------------------------
# per-function argument specs (and float64 references for valid draws)
# ---------------------------------------------------------------------------

def _sp():
    import scipy.special as sc
    return sc


def ref_unary(name, x):
    sc = _sp()
    x = np.asarray(x, np.float64)
    with np.errstate(all="ignore"):
        return {"sigmoid": sc.expit, "log_sigmoid": sc.log_expit,
                "softplus": lambda v: np.logaddexp(0, v),
                "sigmoid_grad": lambda v: sc.expit(v) * sc.expit(-v),
                "logit": sc.logit}[name](x)


def ref_bcel(x, t, w, pw):
    x, t = np.asarray(x, np.float64), np.asarray(t, np.float64)
    w = 1.0 if w is None else np.asarray(w, np.float64)
    pw = 1.0 if pw is None else np.asarray(pw, np.float64)
    sp = lambda v: np.logaddexp(0, v)  # noqa: E731
    s, sm = _sp().expit(x), _sp().expit(-x)
    loss = w * (pw * t * sp(-x) + (1 - t) * sp(x))
    grad = w * ((1 - t) * s - pw * t * sm)
    hess = w * (pw * t + 1 - t) * s * sm
    gscale = np.abs(w) * np.maximum((1 - t) * s, pw * t * sm)    # the terms that cancel
    b = lambda v: np.broadcast_to(v, x.shape)  # noqa: E731
    return b(loss), b(grad), b(hess), b(gscale)


def ref_bce(p, t, w):
    p, t = np.asarray(p, np.float64), np.asarray(t, np.float64)
    w = 1.0 if w is None else np.asarray(w, np.float64)
    with np.errstate(all="ignore"):
        loss = -w * (t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log1p(-p), -100))
        den = np.maximum(p * (1 - p), float(np.float32(1e-12)))
        grad = w * (p - t) / den
        gscale = np.abs(w) * (p + t) / den
    b = lambda v: np.broadcast_to(v, p.shape)  # noqa: E731
    return b(loss), b(grad), b(gscale)


def _reduce(v, red, n):
    if red == "none":
        return v
    return v.sum() if red == "sum" else v.sum() / n


def _close(got, ref, dt, scale=None):
    got = np.asarray(got, np.float64)
    ref = np.asarray(ref, np.float64)
    if got.shape != ref.shape:
        return f"shape {got.shape} != reference {ref.shape}"
    rtol = 2e-4 if np.dtype(dt).itemsize <= 4 else 1e-9
    if scale is None:
        scale = np.abs(ref)
    with np.errstate(all="ignore"):
        bad = ~((got == ref) | (np.isnan(got) & np.isnan(ref))
                | (np.abs(got - ref) <= rtol * scale + 1e-300))
    if bad.any():
        i = np.argmax(bad.ravel())
        return f"value {got.ravel()[i]!r} != reference {ref.ravel()[i]!r} at flat {i}"
    return None


def _valid_real(rng, kind="real", dt=None, shape=None):
    dt = dt or rng.choice(["f8", "f4"])
    if shape is None:
        if rng.random() < 0.04:
            shape = (int(rng.integers(33_000, 60_000)),)                 # threaded path
            if rng.random() < 0.5:
                # rows of k: broadcast rows of k get a period (long: more than a chunk)
                k = int(rng.choice([7, 13, 1000, 5000]))
                shape = (shape[0] // k + 1, k)
        else:
            shape = [(), (1,), (5,), (3, 4), (2, 3, 4), (0,), (4, 0)][rng.integers(7)]
    v = np.nan_to_num(_values(rng, shape, kind), nan=0.0)
    v = np.clip(v, 0, 1) if kind == "prob" else np.clip(v, -40, 40)
    a = v.astype(dt)
    r = rng.integers(0, 6)
    if r == 0 and a.ndim:
        a = np.ascontiguousarray(a[::-1])[::-1]
    elif r == 1 and a.ndim >= 2:
        a = np.ascontiguousarray(a.T).T
    elif r == 2 and a.ndim:
        a = a.astype(a.dtype.newbyteorder())
    elif r == 3:
        rec = np.zeros(a.shape, dtype=[("pad", "i1"), ("v", a.dtype)])
        rec["v"] = a
        a = rec["v"]
    return a


def _overlapping(rng, kind="real"):
    """(x, out, copy of x): x and out are views of one buffer shifted by k
    elements (out before x: the overlap NumPy hands to a ufunc loop without
    a copy; or after it), long enough to run on threads."""
    dt = np.dtype(rng.choice(["f8", "f4"]))
    n = int(rng.integers(33_000, 140_000))
    k = int(rng.choice([1, 2, 3, 7, 4096, 4097, int(rng.integers(1, n // 2))]))
    v = np.nan_to_num(_values(rng, (n + k,), kind), nan=0.0)
    buf = (np.clip(v, 0, 1) if kind == "prob" else np.clip(v, -40, 40)).astype(dt)
    if rng.random() < 0.5:
        x, out = buf[k:], buf[:-k]
    else:
        x, out = buf[:-k], buf[k:]
    return x, out, x.copy()


# the functions by kind, from the registry of the public names
UNARY = set(_registry.names("ufunc", "elementwise"))
BCEL = {n for n in _registry.names("binary") if n.startswith("binary_cross_entropy_with_logits")}
BCE = set(_registry.names("binary")) - BCEL
SOFTMAX = set(_registry.names("softmax"))
MC = set(_registry.names("multiclass"))
CONFIG = set(_registry.names("config"))
# numpy.ufunc objects with SciPy's types: no num_threads keyword (use_threads)
UFUNCS = set(_registry.names("ufunc"))
PATCH = set(_registry.names("patch"))


def spec_unary(rng, name, valid):
    if valid:
        kind = "prob" if name == "logit" else "real"
        if rng.random() < 0.15:
            # out overlapping the input, shifted (threaded sizes)
            x, out, x0 = _overlapping(rng, kind)
        else:
            x = _valid_real(rng, kind)
            out = np.empty(x.shape, x.dtype.newbyteorder("=")) if rng.random() < 0.3 else None
            x0 = x
        kw = {} if name in UFUNCS else {"num_threads": [None, 1, 2, 4][rng.integers(4)]}
        if out is not None:
            kw["out"] = out
        if rng.random() < 0.2:
            kw["where"] = True                      # a ufunc keyword, the ufunc path

        def check(res):
            fn = {"expit": "sigmoid", "log_expit": "log_sigmoid"}.get(name, name)
            if np.asarray(res).dtype != x0.dtype.newbyteorder("="):
                return f"dtype {np.asarray(res).dtype} != input's {x0.dtype}"
            return _close(res, ref_unary(fn, x0), x0.dtype)
        return (x,), kw, check
    x = _any(rng)
    kw = {}
    if rng.random() < 0.5:
        kw["out"] = _out(rng, np.shape(x) if isinstance(x, np.ndarray) else (), "f8", x)
    if rng.random() < 0.4:
        kw["num_threads"] = _kw(rng, "num_threads")
    return (x,), kw, None


def _broadcastable(rng, shape, kind, dt):
    r = rng.integers(0, 7)
    if r == 0 or not shape:
        return _valid_real(rng, kind, dt, shape)
    if r == 1:
        return _valid_real(rng, kind, dt, shape[-1:])
    if r == 2:
        return _valid_real(rng, kind, dt, shape[:-1] + (1,))
    if r == 3:
        # a row broadcast to the full shape (a zero-stride view: a period)
        return np.broadcast_to(_valid_real(rng, kind, dt, shape[-1:]), shape)
    if r == 4:
        # a Python scalar (a float, or an int label)
        return [0.0, 1.0, 0.3, 0, 1][rng.integers(5)]
    if r == 5 and len(shape) >= 2:
        # the trailing block broadcast over the leading axis
        return _valid_real(rng, kind, dt, shape[1:])
    return _valid_real(rng, kind, dt, ())


def spec_binary(rng, name, valid):
    logits = name in BCEL
    red_default = "none" if name.endswith("grad_hess") else "mean"
    if valid:
        overlap = (name in ("binary_cross_entropy", "binary_cross_entropy_grad",
                            "binary_cross_entropy_with_logits",
                            "binary_cross_entropy_with_logits_grad") and rng.random() < 0.1)
        if overlap:
            # out overlapping the input, shifted (threaded sizes)
            x, out, x0 = _overlapping(rng, "real" if logits else "prob")
        else:
            x = _valid_real(rng, "real" if logits else "prob")
            if not logits:
                x = np.clip(x, 0, 1)
        dt = x.dtype.newbyteorder("=")
        t = _broadcastable(rng, x.shape, "prob", rng.choice(["f8", "f4"]))
        w = _broadcastable(rng, x.shape, "prob", "f8") if rng.random() < 0.5 else None
        pw = (_broadcastable(rng, x.shape, "prob", "f8") * 3
              if logits and rng.random() < 0.4 else None)
        red = "none" if overlap else ["mean", "sum", "none"][rng.integers(3)]
        kw = {"weight": w, "reduction": red, "num_threads": [None, 1, 2, 4][rng.integers(4)]}
        if logits:
            kw["pos_weight"] = pw
        if overlap:
            kw["out"] = out
            x_ref = x0
        else:
            x_ref = x

        def check(res):
            n = x.size
            # the kernels compute on operands rounded to the compute dtype
            r = lambda a: None if a is None else np.asarray(a).astype(dt)  # noqa: E731
            t_, w_, pw_ = r(t), r(w), r(pw)
            if logits:
                loss, grad, hess, gs = ref_bcel(x_ref, t_, w_, pw_)
            else:
                loss, grad, gs = ref_bce(x_ref, t_, w_)
                hess = None
            div = n if red == "mean" else 1
            g, gs = grad / div, gs / div
            if name.endswith("loss_and_grad"):
                got, want, scales = res, (_reduce(loss, red, n), g), (None, gs)
            elif name.endswith("grad_hess"):
                got, want, scales = res, (g, hess / div), (gs, None)
            elif name.endswith("_grad"):
                got, want, scales = (res,), (g,), (gs,)
            else:
                got, want, scales = (res,), (_reduce(loss, red, n),), (None,)
            for k, (a, b, scale) in enumerate(zip(got, want, scales)):
                is_loss = scale is None and k == 0 and not name.endswith("grad_hess")
                if is_loss and red != "none":
                    if n == 0:
                        continue
                    # a sum: tolerance from the sum of magnitudes
                    scale = np.abs(loss).sum() / div
                e = _close(a, b, dt, scale=scale)
                if e:
                    return e
                if np.asarray(a).dtype != dt:
                    return f"dtype {np.asarray(a).dtype} != {dt}"
            return None
        return (x, t), kw, check
    x = _any(rng, "real" if logits else "prob")
    t = _any(rng, "prob") if rng.random() < 0.8 else None
    kw = {}
    for k in (["weight", "pos_weight"] if logits else ["weight"]):
        if rng.random() < 0.3:
            kw[k] = _any(rng, "prob")
    if rng.random() < 0.5:
        kw["reduction"] = _kw(rng, "reduction")
    if rng.random() < 0.4:
        shape = np.shape(x) if isinstance(x, np.ndarray) else ()
        kw["out"] = _out(rng, shape, "f8", x)
    if rng.random() < 0.3:
        kw["num_threads"] = _kw(rng, "num_threads")
    del red_default
    return (x, t), kw, None


def spec_softmax(rng, name, valid):
    if valid:
        z = _valid_real(rng, "real", shape=[(3,), (3, 4), (2, 3, 4), (5, 1)][rng.integers(4)])
        ax = int(rng.integers(-z.ndim, z.ndim))
        kw = {"axis": ax, "num_threads": [None, 1, 2][rng.integers(3)]}

        def check(res):
            sc = _sp()
            z64 = z.astype(np.float64)
            ref = sc.softmax(z64, axis=ax) if name == "softmax" else sc.log_softmax(z64, axis=ax)
            return _close(res, ref, z.dtype, scale=np.maximum(np.abs(ref), 1e-300)
                          if name == "softmax" else np.abs(z64).max(axis=ax, keepdims=True) + 1)
        return (z,), kw, check
    z = _any(rng)
    kw = {}
    if rng.random() < 0.5:
        kw["axis"] = _kw(rng, "axis")
    if rng.random() < 0.4:
        kw["out"] = _out(rng, np.shape(z) if isinstance(z, np.ndarray) else (), "f8", z)
    if rng.random() < 0.3:
        kw["num_threads"] = _kw(rng, "num_threads")
    return (z,), kw, None


def spec_mc(rng, name, valid):
    logits = name.startswith("cross_entropy")
    if valid:
        C = int(rng.integers(1, 6))
        N = int(rng.integers(0, 8)) if rng.random() > 0.03 else 20_000
        z = _valid_real(rng, "real", shape=(N, C))
        if not logits:
            z = np.abs(z) + 0.1
            z = (z / z.sum(axis=1, keepdims=True)).astype(z.dtype)
        y = rng.integers(0, C, N)
        if rng.random() < 0.3:
            rec = np.zeros(N, dtype=[("a", "i4"), ("y", "i8")])
            rec["y"] = y
            y = rec["y"]
        red = ["mean", "sum", "none"][rng.integers(3)]
        kw = {"reduction": red}

        def check(res):
            sc = _sp()
            z64 = z.astype(np.float64)
            yy = np.asarray(y)
            rows = np.arange(N)
            gscale = np.ones_like(z64)
            if logits:
                # -log softmax(z)_y = log1p(sum_{c != y} exp(z_c - z_y)): accurate
                # for tiny losses too (scipy's log_softmax rounds 1 + tiny)
                d = np.exp(z64 - z64[rows, yy][:, None])
                d[rows, yy] = 0
                per = np.log1p(d.sum(axis=1)) if N else np.zeros(0)
                per = np.where(np.isfinite(per), per, -sc.log_softmax(z64, axis=1)[rows, yy]
                               if N else per)
                grad = (sc.softmax(z64, axis=1) if N else z64.copy())
                grad[rows, yy] -= 1
            else:
                per = -np.maximum(np.log(z64[rows, yy]), -100)
                grad = np.zeros_like(z64)
                grad[rows, yy] = -1 / np.maximum(z64[rows, yy], 1e-12)
            if red == "mean" and N:
                grad, gscale = grad / N, gscale / N
            if not logits:
                gscale = np.abs(grad)
            loss = _reduce(per, red, N)
            if name.endswith("loss_and_grad"):
                got, want, scales = res, (loss, grad), (None, gscale)
            elif name.endswith("_grad"):
                got, want, scales = (res,), (grad,), (gscale,)
            else:
                got, want, scales = (res,), (loss,), (None,)
            for a, b, scale in zip(got, want, scales):
                if N == 0 and np.ndim(b) == 0:
                    continue
                if np.ndim(b) == 0:
                    scale = np.abs(per).sum() / (N if red == "mean" else 1)
                e = _close(a, b, z.dtype, scale=scale)
                if e:
                    return e
            return None
        return (z, y), kw, check
    z = _any(rng, "real" if logits else "prob")
    r = rng.random()
    t = (_array(rng, kind="index", dtype=rng.choice(["i8", "i4", "u1", "i8"])) if r < 0.4
         else _any(rng, "prob") if r < 0.9 else None)
    kw = {}
    names = ["axis", "ignore_index", "reduction", "num_threads"] + (["label_smoothing"] if logits else [])
    for k in names:
        if rng.random() < 0.35:
            kw[k] = _kw(rng, k)
    if rng.random() < 0.3:
        kw["weight"] = _any(rng, "prob")
    return (z, t), kw, None


def spec_config(rng, name, valid):
    if name.startswith("get_"):
        return ((), {}, None) if rng.random() < 0.8 else ((_junk(rng),), {}, None)
    if name == "show_config":
        return ((), {"file": io.StringIO()}, None) if rng.random() < 0.6 else ((_junk(rng),), {}, None)
    if name in ("set_num_threads", "use_threads"):
        return (_kw(rng, "num_threads"),), {}, None
    pool = [None, 0, 1, -1, -2, 2**20, 10**30, -(10**30), 1.5, "1", True, np.int64(4096)]
    return (pool[rng.integers(len(pool))],), {}, None


def spec_log_loss(rng, name, valid):
    if valid:
        k = int(rng.integers(2, 5))
        n = int(rng.integers(k, 40))                # every label present
        labels = np.array(["a", "b", "c", "d"][:k]) if rng.random() < 0.3 else np.arange(k) * 3
        y = labels[np.arange(n) % k]
        rng.shuffle(y)
        p = rng.dirichlet(np.ones(k), n)
        if rng.random() < 0.3:
            p = p.astype(np.float32)
        if k == 2 and rng.random() < 0.4:
            p = p[:, 1]
        else:
            # the one-pass matrix scan reads any layout: C, Fortran, a
            # column-strided view, rows reversed (y reversed with them)
            lay = rng.integers(4)
            if lay == 1:
                p = np.asfortranarray(p)
            elif lay == 2:
                wide = np.full((n, 2 * k), 7.0, dtype=p.dtype)
                wide[:, ::2] = p
                p = wide[:, ::2]
            elif lay == 3:
                p, y = p[::-1], y[::-1]
        sw = rng.uniform(0.1, 2, n) if rng.random() < 0.4 else None
        kw = {"sample_weight": sw, "normalize": bool(rng.random() < 0.8)}

        def check(res):
            # scikit-learn's definition in NumPy: labels sorted, the true
            # class's probability clipped to [eps, 1 - eps], weights normalised
            classes = np.unique(y)
            pm = np.column_stack([1 - p, p]) if p.ndim == 1 else p
            q = pm[np.arange(n), np.searchsorted(classes, y)]
            eps = np.finfo(pm.dtype).eps
            terms = -np.log(np.clip(q, eps, 1 - eps))
            wt = np.ones(n) if sw is None else sw
            ref = np.sum(wt * terms) / (np.sum(wt) if kw["normalize"] else 1.0)
            return _close(res, ref, pm.dtype)
        return (y, p), kw, check
    if rng.random() < 0.4:
        # a probability matrix spoiled in one place (NaN, an infinity or
        # both in one row, out of [0, 1]) or with a class count that does
        # not match the labels: scikit-learn's error, named, never a crash
        k = int(rng.integers(2, 5))
        n = int(rng.integers(1, 40))
        p = rng.dirichlet(np.ones(k), n).astype(np.float32 if rng.random() < 0.3 else np.float64)
        i, j = int(rng.integers(n)), int(rng.integers(k))
        bad = [np.nan, np.inf, -np.inf, 1.5, -0.5, None][rng.integers(6)]
        if bad is not None:
            p[i, j] = bad
            if k > 2 and rng.random() < 0.3:
                p[i, (j + 1) % k] = -bad
        y = rng.integers(0, int(rng.integers(1, k + 2)), n)
        return (y, p if rng.random() < 0.7 else np.asfortranarray(p)), {}, None
    args = tuple(_any(rng, "prob") for _ in range(int(rng.integers(0, 3))))
    kw = {}
    if rng.random() < 0.4:
        kw["sample_weight"] = _any(rng)
    if rng.random() < 0.3:
        kw["labels"] = _any(rng)
    return args, kw, None


def spec_patch(rng, name, valid):
    if name == "is_patched" or rng.random() < 0.3:
        return (), {}, None
    if name == "unpatch":
        return (() if rng.random() < 0.8 else (_junk(rng),)), {}, None
    pool = [True, False, None, 0, 1, "yes", np.bool_(True), _junk(rng)]
    kw = {k: pool[rng.integers(len(pool))] for k in ("scipy", "sklearn") if rng.random() < 0.7}
    return (), kw, None


def spec_generic(rng, name, valid):
    k = int(rng.integers(0, 4))
    return tuple(_any(rng) for _ in range(k)), {}, None


def spec_for(name):
    try:
        kind = _registry.by_name(name).kind
    except KeyError:
        return spec_generic
    return {"ufunc": spec_unary, "elementwise": spec_unary, "binary": spec_binary,
            "softmax": spec_softmax, "multiclass": spec_mc, "config": spec_config,
            "log_loss": spec_log_loss, "patch": spec_patch}.get(kind, spec_generic)


FUNCS = sorted(n for n in fl.__all__ if callable(getattr(fl, n, None)))


def _restore():
    if "fastlogistic._integrations.patch" in sys.modules:
        fl.unpatch()
    fl.set_num_threads(None)
    fl.set_stream_threshold(None)
    fl.set_output_cache(None)


# ---------------------------------------------------------------------------
# one call
# ---------------------------------------------------------------------------

def _desc(v):
    if isinstance(v, np.ndarray):
        kind = type(v).__name__
        return (f"<{kind} dtype={v.dtype.str} shape={v.shape} strides={v.strides} "
                f"aligned={v.flags.aligned} writeable={v.flags.writeable}>")
    if isinstance(v, tuple) and len(v) <= 4:
        return "(" + ", ".join(_desc(e) for e in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)[:80]


def _snapshot(v):
    if isinstance(v, np.ma.MaskedArray):
        return (np.array(v.data, copy=True), np.ma.getmaskarray(v).copy())
    if isinstance(v, np.ndarray):
        return (np.array(v, copy=True), None)
    return None


def _same(a, b):
    if a.dtype.kind == "V" or a.dtype.kind == "O":
        return a.tobytes() == b.tobytes() if a.dtype.kind == "V" else True
    try:
        return np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")
    except TypeError:
        return np.array_equal(a, b)


def draw(seed, i):
    rng = np.random.default_rng([seed, i])
    name = FUNCS[rng.integers(len(FUNCS))]
    valid = rng.random() < 0.35
    args, kw, check = spec_for(name)(rng, name, valid)
    if not valid and rng.random() < 0.03:
        kw["no_such_keyword"] = 1                   # must be a TypeError naming the function
    return name, args, kw, check


def run_one(seed, i):
    """Returns None (fine) or a failure dict."""
    name, args, kw, check = draw(seed, i)
    f = getattr(fl, name)
    fname = getattr(f, "__name__", name)
    ins = [(f"arg{j}", a) for j, a in enumerate(args)] + [
        (k, v) for k, v in kw.items() if k not in ("out", "file")]
    snaps = [(k, v, _snapshot(v)) for k, v in ins]
    desc = f"{name}({', '.join(_desc(a) for a in args)}" + "".join(
        f", {k}={_desc(v)}" for k, v in kw.items()) + ")"
    fail = None
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            res = f(*args, **kw)
    except (TypeError, ValueError) as exc:
        msg = str(exc)
        # the ufunc objects' argument errors are NumPy's own (read-only or
        # mis-sized out, ...): the same exception and text as SciPy's ufunc
        if name in UFUNCS and check is None:
            pass
        elif fname not in msg and name not in msg:
            fail = f"{type(exc).__name__} without the function's name: {msg}"
        elif check is not None:
            fail = f"valid call raised {type(exc).__name__}: {msg}"
    except Exception as exc:  # noqa: BLE001
        fail = f"{type(exc).__name__}: {exc}"
    else:
        if check is not None:
            try:
                e = check(res)
            except Exception as exc:  # noqa: BLE001
                e = f"reference check failed to run: {type(exc).__name__}: {exc}"
            if e:
                fail = f"wrong result: {e}"
    finally:
        if name in CONFIG or name in PATCH:
            _restore()
    if fail is None:
        for k, v, snap in snaps:
            if snap is None:
                continue
            data, mask = snap
            now = np.asarray(v.data if isinstance(v, np.ma.MaskedArray) else v)
            if not _same(now, data) or (mask is not None and not np.array_equal(
                    np.ma.getmaskarray(v), mask)):
                if kw.get("out") is not None and np.may_share_memory(kw["out"], now):
                    continue              # the input was given as out too
                fail = f"input {k} was modified"
                break
    if fail:
        return {"seed": seed, "i": i, "call": desc, "failure": fail}
    return None


def main(argv):
    if argv[0] == "--one":
        seed, i = int(argv[1]), int(argv[2])
        name, args, kw, _ = draw(seed, i)
        print(name, [_desc(a) for a in args], {k: _desc(v) for k, v in kw.items()})
        print(run_one(seed, i))
        return 0
    seed, first, count, log = int(argv[0]), int(argv[1]), int(argv[2]), argv[3]
    with open(log, "w") as lf:
        for i in range(first, first + count):
            name, args, kw, _ = draw(seed, i)
            lf.write(f"{i} {name}({', '.join(_desc(a) for a in args)}"
                     + "".join(f", {k}={_desc(v)}" for k, v in kw.items()) + ")\n")
            lf.flush()
            r = run_one(seed, i)
            if r is not None:
                print(json.dumps(r), flush=True)
        lf.write("done\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
