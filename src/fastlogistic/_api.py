"""Python API (layer 3): the thin wrapper.

Turns array-likes into arrays, picks the dtype, checks shapes and arguments,
allocates outputs and calls one kernel.  No arithmetic on the data here: every
element is touched only inside the compiled kernels.
"""
import math

import numpy as np

from . import _kernels as _k

__all__ = [
    "sigmoid", "expit", "log_sigmoid", "log_expit", "logit", "softplus",
    "sigmoid_grad",
    "binary_cross_entropy", "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy_with_logits_loss_and_grad",
    "binary_cross_entropy_with_logits_grad_hess",
]

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
_F16 = np.dtype(np.float16)
# long double where it is wider than double (elementwise functions compute in it)
_LONGDOUBLE = np.dtype(np.longdouble) if np.finfo(np.longdouble).nmant > 52 else None
REDUCTIONS = ("mean", "sum", "none")


# ---------------------------------------------------------------------------
# argument handling shared by every function
# ---------------------------------------------------------------------------

def _dtypes(dt, fname, argname):
    """(compute dtype, result dtype) for an input of dtype dt."""
    if not dt.isnative and dt.kind in "biuf":
        # '>f4' != '<f4' as dtypes: compare in native order, or byte-swapped
        # float32/float16 would fall through to float64
        dt = dt.newbyteorder("=")
    if dt == _F64 or dt == _F32:
        return np.dtype(dt.type), np.dtype(dt.type)   # native byte order
    if dt == _F16:
        return _F32, _F16
    if dt.kind in "biu":
        return _F64, _F64
    if dt.kind == "f":                                 # longdouble and friends
        return _F64, _F64
    raise TypeError(
        f"{fname}: {argname} has unsupported dtype {dt}; expected a real "
        f"floating-point, integer or boolean array")


# NumPy before 1.24 makes an object array of a ragged list (with a warning)
# where newer ones raise: make it the same error everywhere
_RAGGED_WARNS = np.lib.NumpyVersion(np.__version__) < "1.24.0"


def _asarray(a, fname, argname):
    if isinstance(a, np.ndarray):
        return a
    try:
        if _RAGGED_WARNS:
            import warnings
            with warnings.catch_warnings():
                warnings.simplefilter("error", np.VisibleDeprecationWarning)
                arr = np.asarray(a)
        else:
            arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{fname}: cannot convert {argname} to an array: {exc}") from None
    return arr


def _kernel_ready(a):
    """True when the kernels may read (or write) ndarray `a` in place: native
    byte order, aligned, and every stride a whole number of elements (the
    kernels step through an operand by its stride in elements, and load its
    elements as aligned C values).  A field of a packed record array (an int64
    column at byte stride 12, or at offset 4 of a 16-byte record) is neither."""
    if isinstance(a, np.ndarray):
        return _k.kernel_ready(a)   # the same test, in C
    if not (a.dtype.isnative and a.flags.aligned):
        return False
    isz = a.itemsize
    return all(s % isz == 0 for n, s in zip(a.shape, a.strides) if n > 1)


def _kernel_operand(a):
    """The one place that makes an operand fit for the kernels: `a` itself
    when _kernel_ready(a), else an aligned C-contiguous copy (same dtype, in
    native byte order).  Every input, target, weight and index array goes
    through it before it reaches _kernels; outputs that are not ready are
    written through a temporary instead (_Output, _multiclass._RowsOut)."""
    if _kernel_ready(a):
        return a
    dt = a.dtype if a.dtype.isnative else a.dtype.newbyteorder("=")
    return np.array(a, dtype=dt, order="C", copy=True)


def _as_compute(a, cdt, fname, argname):
    """a as an ndarray of the compute dtype (native order), copying only if needed."""
    a = _asarray(a, fname, argname)
    if a.dtype != cdt or not a.dtype.isnative:
        if a.dtype.kind not in "biuf":
            raise TypeError(
                f"{fname}: {argname} has unsupported dtype {a.dtype}; expected a "
                f"real floating-point, integer or boolean array")
        a = a.astype(cdt)
    return _kernel_operand(a)


# dtypes the kernels read and convert while gathering a chunk (targets,
# weights): int or bool labels cost no N-sized float copy
_GATHERED = frozenset(np.dtype(t) for t in (np.float64, np.float32, np.int64, np.int32,
                                            np.int8, np.uint8, np.bool_))


def _as_operand(a, cdt, fname, argname):
    """a secondary operand: kept as it is when the kernels can read it."""
    if a.dtype in _GATHERED and a.dtype.isnative:
        return _kernel_operand(a)
    return _as_compute(a, cdt, fname, argname)


def _flat(a):
    """1-D view of a in C order (any strides) or None where none exists."""
    if a.ndim == 1:
        return a
    if a.flags.c_contiguous or a.size == 0:
        return a.reshape(-1)
    dims = [(n, s) for n, s in zip(a.shape, a.strides) if n != 1]
    for (_, s0), (n1, s1) in zip(dims, dims[1:]):
        if s0 != s1 * n1:
            return None
    return a.reshape(-1)


def _num_threads(num_threads, fname):
    """num_threads checked; errors name the function and the argument."""
    if num_threads is not None:
        try:
            _k.check_num_threads(num_threads)
        except (TypeError, ValueError, OverflowError) as exc:
            kind = ValueError if isinstance(exc, OverflowError) else type(exc)
            raise kind(f"{fname}: {exc}") from None
    return num_threads


def _check_out(out, shape, dtype, fname, argname="out"):
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{fname}: {argname} must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{fname}: {argname} has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise TypeError(f"{fname}: {argname} has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{fname}: {argname} is read-only")


class _Output:
    """An output of a given shape: the user's `out` (written directly when it
    can be, else through a temporary that is copied in at the end) or a new
    C-contiguous array.  `flat` is the 1-D array the kernel writes."""

    __slots__ = ("result", "flat", "_tmp")

    def __init__(self, out, shape, cdt, rdt, fname, argname, inputs):
        self._tmp = None
        if out is None:
            arr = _k.empty(shape, cdt)   # aligned; reused when big (_outcache.h)
            self.result = arr if rdt == cdt else None
            self._tmp = None if rdt == cdt else arr
            self.flat = arr.reshape(-1)
            return
        _check_out(out, shape, rdt, fname, argname)
        self.result = out
        flat = _flat(out) if out.dtype == cdt and _kernel_ready(out) else None
        # out may be an input itself (same memory, same layout: fine
        # elementwise); any other overlap goes through a temporary
        if flat is not None:
            for a in inputs:
                if (a is not None and np.may_share_memory(a, flat)
                        and not (a.__array_interface__["data"][0] == flat.__array_interface__["data"][0]
                                 and a.strides == flat.strides and a.shape == flat.shape)):
                    flat = None
                    break
        if flat is None:
            self._tmp = _k.empty(shape, cdt)
            flat = self._tmp.reshape(-1)
        self.flat = flat

    def finish(self):
        if self._tmp is not None:
            if self.result is None:
                self.result = self._tmp.astype(_F16)
            else:
                np.copyto(self.result, self._tmp, casting="unsafe")
        return self.result


# ---------------------------------------------------------------------------
# elementwise functions
# ---------------------------------------------------------------------------

_UNARY_NAMES = {
    _k.SIGMOID: "sigmoid", _k.LOG_SIGMOID: "log_sigmoid", _k.SOFTPLUS: "softplus",
    _k.SIGMOID_GRAD: "sigmoid_grad", _k.LOGIT: "logit",
}


def _unary_general(op, x, out, num_threads):
    """Every case the compiled fast path does not take."""
    fname = _UNARY_NAMES[op]
    if (type(out) is tuple or (type(x) is not np.ndarray and hasattr(x, "__array_ufunc__")
                               and not isinstance(x, np.generic))
            or getattr(x, "dtype", None) == _LONGDOUBLE):
        # ndarray subclasses (masked arrays, ...), other containers, and long
        # double (computed in long double, as SciPy's): the ufunc
        return _via_ufunc(op, x, out, num_threads, {})
    x = _asarray(x, fname, "x")
    cdt, rdt = _dtypes(x.dtype, fname, "x")
    _num_threads(num_threads, fname)
    x = _as_compute(x, cdt, fname, "x")
    if out is None and rdt == cdt:
        # keep the input's memory order (as NumPy's ufuncs do): walk both
        # arrays in the order of x's strides
        res = np.empty_like(x, dtype=cdt)
        perm = np.argsort([-abs(s) for s in x.strides], kind="stable")
        xf, rf = _flat(x.transpose(perm)), _flat(res.transpose(perm))
        if xf is None or rf is None:
            np.copyto(res, x)                      # one copy, then in place
            xf = rf = _flat(res.transpose(perm))
            if rf is None:
                res = np.ascontiguousarray(x)
                xf = rf = res.reshape(-1)
        _k.unary_1d(op, xf, rf, num_threads)
        return res[()] if res.ndim == 0 else res
    xf = _flat(x)
    if xf is None:
        x = np.ascontiguousarray(x)
        xf = x.reshape(-1)
    o = _Output(out, x.shape, cdt, rdt, fname, "out", (xf,))
    _k.unary_1d(op, xf, o.flat, num_threads)
    res = o.finish()
    return res[()] if out is None and res.ndim == 0 else res


_k.register_unary_fallback(_unary_general)


def _via_ufunc(op, x, out, num_threads, kwargs):
    """The call through the library's ufunc for `op`: ufunc keywords (where,
    dtype, casting, order, subok, a tuple out) and array containers
    (``__array_ufunc__``: pandas, xarray, dask, masked arrays, ...)."""
    uf = _k.LIB_UFUNCS[op]
    fname = _UNARY_NAMES[op]
    if out is not None:
        kwargs["out"] = out
    old = None
    if num_threads is not None:
        _num_threads(num_threads, fname)
        old = _k.set_thread_override(num_threads)
    try:
        return uf(x, **kwargs)
    except (TypeError, ValueError) as exc:
        raise _named_error(fname, exc) from None
    finally:
        if old is not None:
            _k.set_thread_override(old)


def _named_error(fname, exc):
    """exc (a TypeError or ValueError raised by NumPy or another library on
    our behalf) as the same kind of error whose message names `fname`."""
    msg = str(exc)
    if msg.startswith(f"{fname}:") or msg.startswith(f"ufunc '{fname}'"):
        return exc
    return (TypeError if isinstance(exc, TypeError) else ValueError)(f"{fname}: {msg}")


def sigmoid(x, out=None, *, num_threads=None, **ufunc_kwargs):
    """Logistic sigmoid ``1 / (1 + exp(-x))``, elementwise (SciPy's ``expit``).

    Stable for every x: ``sigmoid(+inf) = 1``, ``sigmoid(-inf) = 0``, NaN in
    gives NaN out; at most 2 ULP from the exact value.  float32 in, float32
    out; float64 in, float64 out; integers and booleans compute in float64;
    float16 computes in float32 and returns float16; long double computes
    in long double.  Takes the ufunc keywords (``where``, ``dtype``,
    ``casting``, ``order``, ``subok``, a tuple ``out``) and array containers
    (pandas, xarray, dask, ...) as a NumPy ufunc does.
    """
    if ufunc_kwargs:
        return _via_ufunc(_k.SIGMOID, x, out, num_threads, ufunc_kwargs)
    return _k.unary(_k.SIGMOID, x, out, num_threads)


def log_sigmoid(x, out=None, *, num_threads=None, **ufunc_kwargs):
    """``log(sigmoid(x)) = -softplus(-x)``, elementwise (SciPy's ``log_expit``,
    PyTorch's ``logsigmoid``), accurate for large |x| in both tails.  Ufunc
    keywords and containers as :func:`sigmoid`."""
    if ufunc_kwargs:
        return _via_ufunc(_k.LOG_SIGMOID, x, out, num_threads, ufunc_kwargs)
    return _k.unary(_k.LOG_SIGMOID, x, out, num_threads)


def softplus(x, out=None, *, num_threads=None, **ufunc_kwargs):
    """``log(1 + exp(x))``, elementwise, computed as
    ``max(x, 0) + log1p(exp(-|x|))`` (NumPy's ``logaddexp(0, x)``).  Ufunc
    keywords and containers as :func:`sigmoid`."""
    if ufunc_kwargs:
        return _via_ufunc(_k.SOFTPLUS, x, out, num_threads, ufunc_kwargs)
    return _k.unary(_k.SOFTPLUS, x, out, num_threads)


def sigmoid_grad(x, out=None, *, num_threads=None, **ufunc_kwargs):
    """Derivative of the sigmoid evaluated from x:
    ``s'(x) = exp(-|x|) / (1 + exp(-|x|))**2``, never ``s (1 - s)``, so it
    stays accurate (not 0) for large |x|; rounded once, within 1 ULP of the
    exact value in both dtypes.  Ufunc keywords and containers as
    :func:`sigmoid`."""
    if ufunc_kwargs:
        return _via_ufunc(_k.SIGMOID_GRAD, x, out, num_threads, ufunc_kwargs)
    return _k.unary(_k.SIGMOID_GRAD, x, out, num_threads)


# SciPy's names are numpy.ufunc objects with SciPy's loops and types
# (see _ufunc.pxi): integers and float16 compute in float64, long double in
# long double; threads for one call through fastlogistic.use_threads()
expit = _k.expit
log_expit = _k.log_expit
logit = _k.logit_ufunc


# ---------------------------------------------------------------------------
# binary cross-entropy
# ---------------------------------------------------------------------------

def _check_reduction(reduction, fname):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fname}: reduction must be one of 'mean', 'sum', 'none'; "
                         f"got {reduction!r}")


def _check_broadcast_to(ashape, shape, fname, argname):
    """ValueError unless an array of shape `ashape` broadcasts to `shape`
    without changing it (a scalar, a per-class vector along the last axis, a
    per-row column, or the same shape).  A logit column (n, 1) against
    targets (n,), the commonest shape mistake, would otherwise broadcast to
    an (n, n) loss."""
    ok = len(ashape) <= len(shape) and all(
        m == 1 or m == n for m, n in zip(ashape[::-1], shape[::-1]))
    if not ok:
        raise ValueError(
            f"{fname}: {argname} of shape {tuple(ashape)} does not broadcast to the input's "
            f"shape {tuple(shape)} (the result has the input's shape; reshape one of them, "
            f"e.g. input.reshape(-1) or {argname}.reshape(input.shape))")


def _periodic(a):
    """(1-D view, period) of `a` without a copy, or None: `a` is its trailing
    axes repeated along leading axes of stride 0 (a broadcast row, as
    np.broadcast_to or torch's expand make them), and those trailing axes
    have a 1-D view.  Element i of `a` in C order is view[i % period]
    (period 0: view[i])."""
    if a.size == 0:
        return a.reshape(-1), 0
    k = 0
    while k < a.ndim and (a.strides[k] == 0 or a.shape[k] == 1):
        k += 1
    core = a[(0,) * k]
    f = _flat(core)
    if f is None:
        return None
    if k == 0 or core.size == a.size:
        return (f, 0) if a.ndim == f.ndim or f.size == a.size else None
    return (f, f.size) if f.size > 0 else None


def _operand(a, shape):
    """(1-D array, period) giving a broadcast to `shape` (see _kernels).  Zero
    strides on leading axes (a broadcast row) reach the kernels as a period,
    without materialising the broadcast array."""
    if a.size == 1 and math.prod(shape) > 0:
        return a.reshape(-1), 1
    if a.shape == shape:
        f = _flat(a)
        if f is not None:
            return f, 0
        fp = _periodic(a)
        return fp if fp is not None else (np.ascontiguousarray(a).reshape(-1), 0)
    core = a.reshape(a.shape[next((i for i, n in enumerate(a.shape) if n != 1), a.ndim):])
    if 0 < core.ndim <= len(shape) and core.shape == shape[len(shape) - core.ndim:]:
        fp = _periodic(core)
        if fp is not None and fp[0].size > 0:
            return fp[0], fp[1] or fp[0].size
    return np.ascontiguousarray(np.broadcast_to(a, shape)).reshape(-1), 0


def _is_masked(a):
    return (a is not None and isinstance(a, np.ndarray) and type(a) is not np.ndarray
            and isinstance(a, np.ma.MaskedArray))


def _unmask(arrays, shape, input_fill):
    """Masked operands (numpy.ma): the union of their masks, broadcast to the
    input's shape, and the operands with masked entries filled by harmless
    values (input: input_fill, target: 0, pos_weight: 1) and the weight set
    to 0 there, so the kernels skip them.  Returns (arrays, mask, count of
    unmasked elements)."""
    mask = np.zeros(shape, dtype=bool)
    fills = (input_fill, 0, 0, 1)
    out = []
    for a, fill in zip(arrays, fills):
        if _is_masked(a):
            m = np.ma.getmaskarray(a)
            mask |= np.broadcast_to(m, shape) if m.shape != shape else m
            a = a.filled(fill)
        out.append(a)
    w = out[2]
    out[2] = ~mask if w is None else np.where(np.broadcast_to(mask, shape), 0, w)
    return out, mask, int(mask.size - np.count_nonzero(mask))


def _prepare(fname, x, target, weight, pos_weight, reduction, num_threads, input_fill=0.0):
    """Common checks of the binary cross-entropy family.  Returns
    (shape, n, cdt, rdt, operands, periods, mask, nred): `mask` is None or
    the masked elements (masked-array operands), nred the number of elements
    a "mean" divides by (the unmasked ones)."""
    _check_reduction(reduction, fname)
    _num_threads(num_threads, fname)
    if target is None:
        raise TypeError(f"{fname}: target is required, got None")
    if (type(x) is np.ndarray and type(target) is np.ndarray and weight is None
            and pos_weight is None and x.dtype is target.dtype
            and (x.dtype == _F64 or x.dtype == _F32) and x.dtype.isnative
            and x.shape == target.shape and x.flags.c_contiguous and target.flags.c_contiguous
            and x.flags.aligned and target.flags.aligned):
        # the common case: two plain arrays of one float dtype, nothing to broadcast
        return (x.shape, x.size, x.dtype, x.dtype,
                [x.reshape(-1), target.reshape(-1), None, None], [0, 0, 0, 0], None, x.size,
                None)
    x = _asarray(x, fname, "input")
    cdt, rdt = _dtypes(x.dtype, fname, "input")
    arrays = [x, target, weight, pos_weight]
    names = ["input", "target", "weight", "pos_weight"]
    for i in range(1, 4):
        if arrays[i] is not None:
            arrays[i] = _asarray(arrays[i], fname, names[i])
            _dtypes(arrays[i].dtype, fname, names[i])
    # the result has the input's shape: the others broadcast *to* it
    shape = x.shape
    for a, nm in zip(arrays[1:], names[1:]):
        if a is not None:
            _check_broadcast_to(a.shape, shape, fname, nm)
    n = math.prod(shape)
    mask, nred = None, n
    if any(_is_masked(a) for a in arrays):
        arrays, mask, nred = _unmask(arrays, shape, input_fill)
    conv = [None if a is None else
            _as_compute(a, cdt, fname, nm) if nm == "input" else _as_operand(a, cdt, fname, nm)
            for a, nm in zip(arrays, names)]
    perm = _zero_stride_perm(conv, shape) if mask is None else None
    if perm is not None:
        # every operand walked in the order that puts the input's zero-stride
        # axes first: the input is then a period of its other axes
        conv = [a if a is None or a.size == 1 else np.broadcast_to(a, shape).transpose(perm)
                for a in conv]
        shape = tuple(shape[i] for i in perm)
    ops, periods = [], []
    for a in conv:
        f, p = (None, 0) if a is None else _operand(a, shape)
        ops.append(f)
        periods.append(p)
    return shape, n, cdt, rdt, ops, periods, mask, nred, perm


def _zero_stride_perm(arrays, shape):
    """An axis order that lets every operand reach the kernels without a copy
    where the given order would copy the input: the input's zero-stride axes
    (a broadcast along a middle or last axis) first.  None when the given
    order needs no copy of the input, or when the new order would copy
    another operand instead."""
    x = arrays[0]
    if x.ndim < 2 or x.size == 0 or _flat(x) is not None or _periodic(x) is not None:
        return None
    zero = [i for i in range(x.ndim) if x.strides[i] == 0 and x.shape[i] > 1]
    if not zero:
        return None
    perm = tuple(zero + [i for i in range(x.ndim) if i not in zero])
    for a in arrays:
        if a is None or a.size == 1:
            continue
        v = np.broadcast_to(a, shape).transpose(perm)
        if _flat(v) is None and _periodic(v) is None:
            return None
    return perm


def _permuted_output(out, kshape, perm, cdt, rdt, fname, argname, ops):
    """_Output for kernel shape `kshape` (the axes in the order `perm`; None:
    the given order).  The user's `out` is checked against the input's shape
    and written through its view in kernel order."""
    if perm is not None and out is not None:
        inv = np.argsort(perm)
        _check_out(out, tuple(kshape[i] for i in inv), rdt, fname, argname)
        out = out.transpose(perm)
    return _Output(out, kshape, cdt, rdt, fname, argname, ops)


def _unpermuted(arr, perm, given_out):
    """A result in kernel order back in the input's axis order (the user's
    own `out` as it was given)."""
    if given_out is not None:
        return given_out
    if perm is None or arr is None:
        return arr
    return arr.transpose(np.argsort(perm))


def _reduce(total, n, reduction, rdt):
    if reduction == "sum":
        return rdt.type(total)
    return rdt.type(total / n if n else math.nan)


def _gscale(reduction, n):
    return 1.0 / n if reduction == "mean" and n > 0 else 1.0


def _masked(arr, mask, given_out):
    """An elementwise result of masked input: a masked array with the mask
    (the user's own `out` comes back as it is)."""
    if mask is None or arr is None or given_out is not None:
        return arr
    return np.ma.MaskedArray(arr, mask=mask.copy())


def _bcel(fname, x, target, weight, pos_weight, reduction, num_threads,
          want_loss, want_grad, want_hess, outs):
    if outs[0] is None and outs[1] is None and outs[2] is None:
        # the common cases (plain arrays of one float dtype, Python float
        # scalars, rows of the trailing axes) in one compiled call; None
        # where it is not one of them
        res = _k.bcel_plain(x, target, weight, pos_weight, reduction, want_loss, want_grad,
                            want_hess, num_threads)
        if res is not None:
            return res
    shape, n, cdt, rdt, ops, periods, mask, nred, perm = _prepare(
        fname, x, target, weight, pos_weight, reduction, num_threads)
    names = ("loss_out", "grad_out", "hess_out")
    wants = (want_loss and reduction == "none", want_grad, want_hess)
    res = [None, None, None]
    for i in range(3):
        if wants[i]:
            res[i] = _permuted_output(outs[i], shape, perm, cdt, rdt, fname,
                                      "out" if sum(wants) == 1 else names[i], ops)
        elif outs[i] is not None:
            raise ValueError(f"{fname}: {names[i]} given but that output is not computed "
                             f"(reduction={reduction!r})")
    total, _ = _k.binary_loss(1, n, cdt == _F64, tuple(ops), tuple(periods),
                              *(r.flat if r is not None else None for r in res),
                              _gscale(reduction, nred), num_threads,
                              want_loss and reduction != "none")
    arrays = [_masked(_unpermuted(r.finish(), perm, o), mask, o) if r is not None else None
              for r, o in zip(res, outs)]
    loss = arrays[0] if reduction == "none" else _reduce(total, nred, reduction, rdt)
    return loss, arrays[1], arrays[2]


def _bcel_plain(x, t, reduction, want_grad, num_threads):
    """binary_cross_entropy_with_logits (and its gradient) for the adapters'
    common case, without the general path's checks: x and t C-contiguous,
    aligned, native ndarrays of one float dtype (float32 or float64) and one
    shape with at least one element, no weights, reduction "mean" or "sum".
    Returns (the reduced loss, a NumPy scalar of x's dtype; the gradient
    array or None): the values binary_cross_entropy_with_logits_loss_and_grad
    gives."""
    res = _k.bcel_plain(x, t, None, None, reduction, True, want_grad, False, num_threads)
    if res is None:
        res = _bcel("binary_cross_entropy_with_logits_loss_and_grad", x, t, None, None,
                    reduction, num_threads, True, want_grad, False, (None, None, None))
    return res[0], res[1]


def _split_out(out, k, fname):
    if out is None:
        return (None,) * k
    if not isinstance(out, tuple) or len(out) != k:
        raise TypeError(f"{fname}: out must be a tuple of {k} arrays (or None entries)")
    return out


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None,
                                     reduction="mean", out=None, *, num_threads=None):
    """Binary cross-entropy on logits x (PyTorch's ``binary_cross_entropy_with_logits``):
    ``w (pos_weight t softplus(-x) + (1 - t) softplus(x))``.

    Both terms are non-negative, so the result is accurate for soft targets
    too, and the limits at x = +-inf are exact (0 or +inf, never NaN).
    `weight` and `pos_weight` broadcast to the input; `reduction` is
    "mean" (sum / number of elements), "sum" or "none"; `out` is for "none".
    """
    fname = "binary_cross_entropy_with_logits"
    if out is not None and reduction != "none":
        raise ValueError(f"{fname}: out is only used with reduction='none' (got {reduction!r})")
    return _bcel(fname, input, target, weight, pos_weight, reduction, num_threads,
                 True, False, False, (out, None, None))[0]


def binary_cross_entropy_with_logits_grad(input, target, weight=None, pos_weight=None,
                                          reduction="mean", out=None, *, num_threads=None):
    """Gradient of ``binary_cross_entropy_with_logits`` with respect to the
    logits: ``w (s(x) (pos_weight t + 1 - t) - pos_weight t)``, divided by the
    number of elements for reduction="mean" (the gradient of the reduced loss)."""
    return _bcel("binary_cross_entropy_with_logits_grad", input, target, weight,
                 pos_weight, reduction, num_threads, False, True, False,
                 (None, out, None))[1]


def binary_cross_entropy_with_logits_loss_and_grad(input, target, weight=None,
                                                   pos_weight=None, reduction="mean",
                                                   out=None, *, num_threads=None):
    """``(loss, grad)`` of ``binary_cross_entropy_with_logits`` from one pass
    over the data.  `out` is an optional pair ``(loss_out, grad_out)``
    (loss_out only with reduction="none")."""
    fname = "binary_cross_entropy_with_logits_loss_and_grad"
    lo, go = _split_out(out, 2, fname)
    loss, grad, _ = _bcel(fname, input, target, weight, pos_weight, reduction,
                          num_threads, True, True, False, (lo, go, None))
    return loss, grad


def binary_cross_entropy_with_logits_grad_hess(input, target, weight=None, pos_weight=None,
                                               reduction="none", out=None, *, num_threads=None):
    """Per-element gradient and hessian of the loss with respect to the logits,
    the pair a Newton or gradient-boosting objective needs:
    ``grad = w (s(x) (pos_weight t + 1 - t) - pos_weight t)``,
    ``hess = w (pos_weight t + 1 - t) s(x) (1 - s(x))`` (computed without the
    subtraction).  Default reduction "none"; "mean" divides both by the
    number of elements.  `out` is an optional pair ``(grad_out, hess_out)``."""
    fname = "binary_cross_entropy_with_logits_grad_hess"
    go, ho = _split_out(out, 2, fname)
    _, grad, hess = _bcel(fname, input, target, weight, pos_weight, reduction,
                          num_threads, False, True, True, (None, go, ho))
    return grad, hess


def _bce(fname, p, target, weight, reduction, num_threads, want_loss, want_grad, out):
    if out is None:
        # the common cases in one compiled call (see _bcel); None where it is
        # not one, or where a probability is out of range (named below)
        res = _k.bce_plain(p, target, weight, reduction, want_grad, num_threads)
        if res is not None:
            return res
    shape, n, cdt, rdt, ops, periods, mask, nred, perm = _prepare(
        fname, p, target, weight, None, reduction, num_threads, input_fill=0)
    lo = _permuted_output(out, shape, perm, cdt, rdt, fname, "out", ops) \
        if want_loss and reduction == "none" else None
    go = _permuted_output(out, shape, perm, cdt, rdt, fname, "out", ops) if want_grad else None
    total, bad = _k.binary_loss(2, n, cdt == _F64, tuple(ops[:3]), tuple(periods[:3]),
                                lo.flat if lo else None, go.flat if go else None, None,
                                _gscale(reduction, nred), num_threads)
    if bad >= 0:
        f, per = ops[0], periods[0]
        value = f[bad % per] if per else f[bad]
        where = np.unravel_index(bad, shape) if shape else ()
        if perm is not None:
            where = tuple(where[i] for i in np.argsort(perm))
        raise ValueError(
            f"{fname}: input probabilities must be in [0, 1]; found {str(value)} at "
            f"index {tuple(int(i) for i in where)}")
    if want_grad:
        return _masked(_unpermuted(go.finish(), perm, out), mask, out)
    if reduction == "none":
        return _masked(_unpermuted(lo.finish(), perm, out), mask, out)
    return _reduce(total, nred, reduction, rdt)


def binary_cross_entropy(input, target, weight=None, reduction="mean", out=None, *,
                         num_threads=None):
    """Binary cross-entropy on probabilities p (PyTorch's ``binary_cross_entropy``):
    ``-w (t log(p) + (1 - t) log(1 - p))`` with each log clamped at -100 as
    PyTorch does.  A probability outside [0, 1] or NaN raises ValueError
    naming the first one.  Prefer ``binary_cross_entropy_with_logits``: it is
    faster and exact where this one must clamp."""
    fname = "binary_cross_entropy"
    if out is not None and reduction != "none":
        raise ValueError(f"{fname}: out is only used with reduction='none' (got {reduction!r})")
    return _bce(fname, input, target, weight, reduction, num_threads, True, False, out)


def binary_cross_entropy_grad(input, target, weight=None, reduction="mean", out=None, *,
                              num_threads=None):
    """Gradient of ``binary_cross_entropy`` with respect to p:
    ``w (p - t) / max(p (1 - p), 1e-12)`` (PyTorch's backward), divided by the
    number of elements for reduction="mean"."""
    return _bce("binary_cross_entropy_grad", input, target, weight, reduction,
                num_threads, False, True, out)
