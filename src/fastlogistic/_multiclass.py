"""Multi-class functions (layer 3): softmax, log-softmax, cross-entropy on
logits and categorical cross-entropy on probabilities, with their gradients.

The class axis is moved last and the other axes merged into rows (a view
whenever the strides allow it), or into (outer, rows) where they merge into
two groups but not one (a class axis inside (N, C, d1, d2)); the kernels then
run over (rows, classes) or (outer, rows, classes) with any strides.  No
arithmetic on the data happens here.
"""
import math
import operator

import numpy as np

from . import _kernels as _k
from ._api import (_F16, _F64, _as_compute, _asarray, _check_out, _check_reduction,
                   _dtypes, _is_masked, _kernel_operand, _kernel_ready, _num_threads,
                   _reduce)

__all__ = [
    "softmax", "log_softmax",
    "cross_entropy", "cross_entropy_grad", "cross_entropy_loss_and_grad",
    "categorical_cross_entropy", "categorical_cross_entropy_grad",
]

_SOFTMAX, _LOG_SOFTMAX, _CE, _CCE = 0, 1, 2, 3


def _class_axis(a, axis, fname, argname):
    if a.ndim == 0:
        raise ValueError(f"{fname}: {argname} must have a class axis; got a 0-d array")
    try:
        ax = operator.index(axis)
    except TypeError:
        raise TypeError(f"{fname}: axis must be an int, got {type(axis).__name__}") from None
    if not -a.ndim <= ax < a.ndim:
        raise ValueError(f"{fname}: axis {axis} is out of bounds for {argname} of shape "
                         f"{a.shape} ({a.ndim} dimensions)")
    ax %= a.ndim
    if a.shape[ax] == 0:
        raise ValueError(f"{fname}: the class axis (axis {axis}) of {argname} with shape "
                         f"{a.shape} is empty; at least one class is needed")
    return ax


def _rows(a, ax, outer=None):
    """View of a with the class axis `ax` moved last and the other axes
    merged: (rows, C), or (outer, rows, C) where they merge into two groups
    but not one (a class axis inside (N, C, d1, d2): N, then d1 d2), or None
    when that takes a copy.  `outer`: the outer length the view must have
    (another operand's; 1: a 2-D view), else a's own."""
    if not _kernel_ready(a):
        return None
    if a.ndim == 2 and outer in (None, 1):
        # the common case, without moveaxis' checks: (N, C) itself or its transpose
        v = a if ax == 1 else a.T
        return None if any(s % a.itemsize for s in v.strides) else v
    m = np.moveaxis(a, ax, -1)
    n, c = math.prod(m.shape[:-1]), m.shape[-1]
    # the other axes merge into one without a copy when each (of length > 1)
    # steps by the next one's whole extent; a break in that chain splits
    # them into an outer and an inner group.  NumPy's reshape then returns a
    # view (reshape(copy=False) would say so itself, but needs NumPy 2.1)
    dims = [(i, k, st) for i, (k, st) in enumerate(zip(m.shape[:-1], m.strides[:-1])) if k != 1]
    breaks = [i1 for (_, _, s0), (i1, k1, s1) in zip(dims, dims[1:]) if s0 != s1 * k1]
    if n == 0:
        breaks = []
    if len(breaks) > 1:
        return None
    if breaks:
        own = math.prod(m.shape[:breaks[0]])
        if outer is not None and outer != own:
            return None
        outer = own
    if outer is None or outer == 1:
        shape = (n, c)
    elif n % outer:
        return None
    else:
        shape = (outer, n // outer, c)
    v = m.reshape(shape)
    if v.size and v.__array_interface__["data"][0] != m.__array_interface__["data"][0]:
        return None    # not expected: a copy would lose the writes of an output
    if any(s % a.itemsize for s in v.strides):
        return None    # an axis of length 1 may carry any stride
    return v


def _outer(v):
    """The outer length of a _rows view (1 for a 2-D one)."""
    return v.shape[0] if v.ndim == 3 else 1


def _rows_copy(a, ax, outer=None):
    v = _rows(a, ax, outer)
    if v is None:
        m = np.ascontiguousarray(np.moveaxis(a, ax, -1))
        v = m.reshape(-1, m.shape[-1])
        if outer is not None and outer > 1:
            v = v.reshape(outer, -1, m.shape[-1])
    return v


class _RowsOut:
    """Rows view of an output array `arr` (class axis `ax`, outer length
    `outer` as the input's view); when its other axes do not merge so, the
    kernel writes a contiguous temporary that finish() copies in."""

    def __init__(self, arr, ax, outer=1):
        self.arr, self.ax = arr, ax
        self.rows = _rows(arr, ax, outer)
        self.tmp = None
        if self.rows is None:
            m = np.moveaxis(arr, ax, -1)
            self.tmp = np.empty(m.shape, arr.dtype)
            self.rows = self.tmp.reshape(-1, m.shape[-1])
            if outer > 1:
                self.rows = self.rows.reshape(outer, -1, m.shape[-1])

    def finish(self):
        if self.tmp is not None:
            np.copyto(np.moveaxis(self.arr, self.ax, -1), self.tmp)
        return self.arr


def _empty_like(z, cdt, ax):
    """A new array for a result of z's shape: Fortran order where z is and
    the level runs its rows row per lane (_kernels.fortran_rows), which
    then writes it as it reads z, one plain store per class; C order where
    rows go one at a time (which writes C order best)."""
    if (z.ndim > 1 and z.flags.f_contiguous and not z.flags.c_contiguous
            and _k.fortran_rows(cdt == np.float64)):
        return _k.empty(z.shape[::-1], cdt).T
    return _k.empty(z.shape, cdt)


def _prep_input(z, axis, fname, argname):
    z = _asarray(z, fname, argname)
    cdt, rdt = _dtypes(z.dtype, fname, argname)
    ax = _class_axis(z, axis, fname, argname)
    z = _as_compute(z, cdt, fname, argname)
    return z, ax, cdt, rdt


def _same_view(a, b):
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.strides == b.strides and a.shape == b.shape)


# ---------------------------------------------------------------------------
# softmax, log_softmax
# ---------------------------------------------------------------------------

def _softmax(kind, fname, z, axis, out, num_threads):
    _num_threads(num_threads, fname)
    if _is_masked(z):
        # masked entries are left out of their row (as if -inf: probability
        # 0), and the result keeps the mask
        mask = np.ma.getmaskarray(z)
        zd = np.asarray(np.ma.getdata(z))
        cdt = _dtypes(zd.dtype, fname, "z")[0]
        zf = np.where(mask, -np.inf, zd.astype(cdt, copy=False))
        if zd.dtype == _F16:
            zf = zf.astype(_F16)
        res = _softmax(kind, fname, zf, axis, out, num_threads)
        return res if out is not None else np.ma.MaskedArray(res, mask=mask.copy())
    z, ax, cdt, rdt = _prep_input(z, axis, fname, "z")
    zr = _rows_copy(z, ax)
    res = tmp = None
    if out is not None:
        _check_out(out, z.shape, rdt, fname)
        res = out
        if out.dtype == cdt:
            yr = _rows(out, ax, _outer(zr))
            # out may be z itself (row by row in place); other overlaps: temporary
            if yr is not None and np.may_share_memory(out, zr) and not _same_view(yr, zr):
                yr = None
        else:
            yr = None
        if yr is None:
            tmp = _empty_like(z, cdt, ax)
    else:
        yr = None
        tmp = _empty_like(z, cdt, ax)
        if rdt == cdt:
            res, tmp = tmp, None
    ro = None
    if tmp is not None or yr is None:
        ro = _RowsOut(tmp if tmp is not None else res, ax, _outer(zr))
        yr = ro.rows
    _k.multiclass(kind, zr, None, None, yr, None, None, 0.0, 0, 0.0, 1.0, num_threads)
    if ro is not None:
        ro.finish()
    if tmp is not None:
        if res is None:
            res = tmp.astype(_F16)
        else:
            np.copyto(res, tmp, casting="unsafe")
    return res


def _axes(ndim, axis, fname):
    """SciPy's axis argument (None: every axis; an int; a tuple of ints) as a
    sorted tuple of distinct non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    items = axis if isinstance(axis, tuple) else (axis,)
    axes = []
    for a in items:
        try:
            ax = operator.index(a)
        except TypeError:
            raise TypeError(f"{fname}: axis must be None, an int or a tuple of ints, got "
                            f"{type(a).__name__}") from None
        if not -max(ndim, 1) <= ax < max(ndim, 1):
            raise ValueError(f"{fname}: axis {a} is out of bounds for an array of "
                             f"{ndim} dimensions")
        axes.append(ax % max(ndim, 1))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fname}: repeated axis in {axis!r}")
    return tuple(sorted(axes))


def _softmax_scipy(kind, fname, x, axis, out, num_threads):
    """SciPy's axis semantics on top of the one-class-axis kernel: the axes
    are moved last and merged into one class axis (a copy when they are more
    than one), the result moved back."""
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_)):
        return _softmax(kind, fname, x, axis, out, num_threads)
    x = _asarray(x, fname, "x")
    if x.ndim == 0 and axis is not None:
        return _softmax(kind, fname, x, -1, out, num_threads)    # no axis to name: raises
    axes = _axes(x.ndim, axis, fname)
    if x.ndim == 0:
        res = _softmax(kind, fname, x.reshape(1), -1, None, num_threads).reshape(())
        if out is not None:
            _check_out(out, (), res.dtype, fname)
            out[...] = res
            return out
        return res[()]
    if len(axes) == 1:
        return _softmax(kind, fname, x, axes[0], out, num_threads)
    for ax in axes:
        if x.shape[ax] == 0:
            raise ValueError(f"{fname}: axis {ax} of x with shape {x.shape} is empty; "
                             f"softmax over it is undefined")
    rest = [ax for ax in range(x.ndim) if ax not in axes]
    perm = rest + list(axes)
    moved = x.transpose(perm)
    flat_shape = moved.shape[:len(rest)] + (-1,)
    masked = np.ma.isMaskedArray(x)
    if masked:            # the mask travels with the data (left out of each slice)
        merged = np.ma.MaskedArray(np.ascontiguousarray(np.ma.getdata(moved)).reshape(flat_shape),
                                   mask=np.ma.getmaskarray(moved).reshape(flat_shape))
    else:
        merged = np.ascontiguousarray(moved).reshape(flat_shape)
    res = _softmax(kind, fname, merged, -1, None, num_threads)
    res = res.reshape(moved.shape).transpose(np.argsort(perm))
    if out is not None:
        _check_out(out, x.shape, res.dtype, fname)
        np.copyto(out, np.ma.getdata(res))
        return out
    return res.copy(order="C") if masked else np.ascontiguousarray(res)


def softmax(x, axis=None, out=None, *, num_threads=None):
    """``exp(x) / sum(exp(x))`` over `axis`, with ``scipy.special.softmax``'s
    semantics: ``axis=None`` (the default) normalises over every element,
    an int over that axis, a tuple over those axes together; scalars and
    array-likes are accepted.

    Stable (the maximum is subtracted) and within a few ULP of the exact
    value.  A slice with a single +inf gives the one-hot limit; one whose
    maximum is -inf (all -inf) or +inf more than once is indeterminate and
    gives NaN, as does any NaN in it.  dtype follows the input; `out` may be
    `x` itself.  For a class axis, PyTorch's ``softmax(z, dim=-1)``, pass
    ``axis=-1``."""
    if out is None:
        res = _k.softmax_plain(_SOFTMAX, x, axis, num_threads)    # the common case, compiled
        if res is not None:
            return res
    return _softmax_scipy(_SOFTMAX, "softmax", x, axis, out, num_threads)


def log_softmax(x, axis=None, out=None, *, num_threads=None):
    """``x - logsumexp(x)`` over `axis` (``scipy.special.log_softmax``'s
    semantics: ``axis=None`` by default, an int or a tuple of ints),
    accurate to a few ULP of the largest magnitude in the slice.  Limits as
    for :func:`softmax` (-inf where the probability is 0)."""
    if out is None:
        res = _k.softmax_plain(_LOG_SOFTMAX, x, axis, num_threads)
        if res is not None:
            return res
    return _softmax_scipy(_LOG_SOFTMAX, "log_softmax", x, axis, out, num_threads)


# ---------------------------------------------------------------------------
# cross-entropy
# ---------------------------------------------------------------------------

def _prep_loss(fname, kind, z, target, axis, weight, ignore_index, label_smoothing,
               reduction, num_threads):
    _check_reduction(reduction, fname)
    _num_threads(num_threads, fname)
    if target is None:
        raise TypeError(f"{fname}: target is required, got None")
    argname = "input"
    z, ax, cdt, rdt = _prep_input(z, axis, fname, argname)
    C = z.shape[ax]
    batch = z.shape[:ax] + z.shape[ax + 1:]
    N = math.prod(batch)
    zr = _rows_copy(z, ax)

    if kind == _CE:
        if isinstance(label_smoothing, (bool, np.bool_)) or not isinstance(
                label_smoothing, (int, float, np.integer, np.floating)):
            raise TypeError(f"{fname}: label_smoothing must be a float, got "
                            f"{type(label_smoothing).__name__}")
        eps = float(label_smoothing)
        if not 0.0 <= eps <= 1.0:
            raise ValueError(f"{fname}: label_smoothing must be in [0.0, 1.0], got "
                             f"{label_smoothing!r}")
    else:
        eps = 0.0
    try:
        ignore = operator.index(ignore_index)
    except TypeError:
        raise TypeError(f"{fname}: ignore_index must be an int, got "
                        f"{type(ignore_index).__name__}") from None
    if not -(1 << 63) <= ignore < (1 << 63):
        raise ValueError(f"{fname}: ignore_index must fit in int64, got {ignore}")

    w = None
    wall = float(C)
    if weight is not None:
        w = _asarray(weight, fname, "weight")
        _dtypes(w.dtype, fname, "weight")
        if w.shape != (C,):
            raise ValueError(f"{fname}: weight must have one entry per class, shape ({C},); "
                             f"got shape {w.shape}")
        w = np.ascontiguousarray(_as_compute(w, cdt, fname, "weight"))
        wall = _k.weight_sum(w)

    t = _asarray(target, fname, "target")
    idx = tr = None
    if t.dtype.kind in "iu":
        if t.shape != batch:
            raise ValueError(
                f"{fname}: class-index target must have the shape of input without its "
                f"class axis, {batch}; got target shape {t.shape} (input shape {z.shape}, "
                f"class axis {ax})")
        # int64, native, aligned, whole-element stride (a packed record
        # field is none of these: _kernel_operand copies it)
        if t.dtype.kind == "u" and t.dtype.itemsize >= 8 and t.size:
            # uint64 above int64's range would wrap to a negative index (and
            # could hit ignore_index): name the value the user passed
            big = np.flatnonzero(t.reshape(-1) > np.iinfo(np.int64).max)
            if big.size:
                where = np.unravel_index(big[0], batch) if batch else ()
                raise ValueError(
                    f"{fname}: target class index {int(t[where])} at position "
                    f"{tuple(int(i) for i in where)} is out of range for {C} classes "
                    f"(valid: 0 to {C - 1}, or ignore_index={ignore})")
        idx = _kernel_operand(t.astype(np.int64, copy=False).reshape(-1))
        total_w, bad = _k.class_targets(idx, C, ignore, w)
        if bad >= 0:
            where = np.unravel_index(bad, batch) if batch else ()
            raise ValueError(
                f"{fname}: target class index {int(t[where])} at position "
                f"{tuple(int(i) for i in where)} is out of range for {C} classes "
                f"(valid: 0 to {C - 1}, or ignore_index={ignore})")
        denom = total_w
    elif t.dtype.kind in "fb":
        if t.shape != z.shape:
            raise ValueError(
                f"{fname}: probability target must have the shape of input, {z.shape}; "
                f"got target shape {t.shape} (class-index targets must be integer arrays "
                f"of shape {batch})")
        tr = _rows_copy(_as_compute(t, cdt, fname, "target"), ax, _outer(zr))
        denom = float(N)
    else:
        raise TypeError(f"{fname}: target has unsupported dtype {t.dtype}; expected integer "
                        f"class indices or floating-point probabilities")
    return z, ax, cdt, rdt, C, batch, N, zr, idx, tr, w, wall, ignore, eps, denom


def _loss_masked(fname, kind, z, target, axis, weight, ignore_index, label_smoothing,
                 reduction, num_threads, want_loss, want_grad):
    """Masked operands (numpy.ma): a row (one sample) with a masked logit or
    a masked target is skipped -- no loss, no gradient, not counted by "mean"
    -- and a masked class weight counts as 0.  Per-row losses and the
    gradient come back as masked arrays (0 under the mask)."""
    zd = np.ma.getdata(_asarray(z, fname, "input"))
    td = np.ma.getdata(_asarray(target, fname, "target"))
    w = weight.filled(0) if _is_masked(weight) else weight
    ax = _class_axis(zd, axis, fname, "input")
    zm = np.moveaxis(zd, ax, -1)
    batch, C = zm.shape[:-1], zm.shape[-1]
    index_target = td.shape == batch and td.dtype.kind in "iu"
    if not (index_target or td.shape == zd.shape):
        # the checks (and their messages) of the plain path
        return _loss(fname, kind, zd, td, axis, w, ignore_index, label_smoothing,
                     reduction, num_threads, want_loss, want_grad)
    rows = np.zeros(batch, dtype=bool)              # masked rows
    if _is_masked(z):
        rows |= np.moveaxis(np.ma.getmaskarray(z), ax, -1).any(axis=-1)
    if _is_masked(target):
        tmask = np.ma.getmaskarray(target)
        rows |= tmask if index_target else np.moveaxis(tmask, ax, -1).any(axis=-1)
    keep = ~rows.reshape(-1)
    zsub = zm.reshape(-1, C)[keep]
    tsub = (td.reshape(-1)[keep] if index_target
            else np.moveaxis(td, ax, -1).reshape(-1, C)[keep])
    loss, grad = _loss(fname, kind, zsub, tsub, -1, w, ignore_index, label_smoothing,
                       reduction, num_threads, want_loss, want_grad)
    if want_loss and reduction == "none":
        full = np.zeros(keep.shape, dtype=loss.dtype)
        full[keep] = loss
        loss = np.ma.MaskedArray(full.reshape(batch), mask=rows.copy())
    if want_grad:
        full = np.zeros((keep.size, C), dtype=grad.dtype)
        full[keep] = grad
        gmask = np.broadcast_to(rows[..., None], zm.shape)
        grad = np.ma.MaskedArray(np.moveaxis(full.reshape(zm.shape), -1, ax),
                                 mask=np.moveaxis(gmask, -1, ax).copy())
    return loss, grad


def _loss(fname, kind, z, target, axis, weight, ignore_index, label_smoothing, reduction,
          num_threads, want_loss, want_grad):
    if kind == _CE:
        # the common case (C-order float logits, int64 indices in range, no
        # weight or smoothing) in one compiled call; None where it is not
        res = _k.ce_plain(z, target, axis, weight, ignore_index, label_smoothing, reduction,
                          want_loss, want_grad, num_threads)
        if res is not None:
            return res
    if _is_masked(z) or _is_masked(target) or _is_masked(weight):
        _check_reduction(reduction, fname)
        return _loss_masked(fname, kind, z, target, axis, weight, ignore_index,
                            label_smoothing, reduction, num_threads, want_loss, want_grad)
    (z, ax, cdt, rdt, C, batch, N, zr, idx, tr, w, wall, ignore, eps,
     denom) = _prep_loss(fname, kind, z, target, axis, weight, ignore_index,
                         label_smoothing, reduction, num_threads)
    if reduction == "mean":
        gscale = 1.0 / denom if denom != 0 else math.nan
    else:
        gscale = 1.0
    loss_arr = _k.empty((N,), cdt) if want_loss and reduction == "none" else None
    grad = gr = go = None
    if want_grad:
        grad = _empty_like(z, cdt, ax)
        go = _RowsOut(grad, ax, _outer(zr))
        gr = go.rows
    total, bad = _k.multiclass(kind, zr, tr, idx, gr, loss_arr, w, wall, ignore, eps,
                               gscale, num_threads, want_sum=want_loss)
    if bad >= 0:
        r, c = divmod(bad, C)
        value = zr[r, c] if zr.ndim == 2 else zr[divmod(r, zr.shape[1]) + (c,)]
        where = list(np.unravel_index(r, batch)) if batch else []
        where.insert(ax, c)
        raise ValueError(f"{fname}: input probabilities must be in [0, 1]; found {float(value)!r} "
                         f"at index {tuple(int(i) for i in where)}")
    if go is not None:
        go.finish()
    loss = None
    if want_loss:
        if reduction == "none":
            loss = loss_arr.reshape(batch)
            if rdt != cdt:
                loss = loss.astype(rdt)
            if loss.ndim == 0:
                loss = loss[()]
        elif reduction == "sum":
            loss = _reduce(total, N, "sum", rdt)
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                loss = rdt.type(total / denom if denom != 0 else math.nan)
    if grad is not None and rdt != cdt:
        grad = grad.astype(rdt)
    return loss, grad


_CE_DOC = """

    `target` is either an integer array of class indices with the shape of `z`
    without the class axis, or a float array of class probabilities with the
    shape of `z`.  `weight` (one per class), `ignore_index` (index targets
    only) and `label_smoothing` (in [0, 1]) follow
    ``torch.nn.functional.cross_entropy``, including its "mean": the sum of
    the losses divided by the sum of the weights of the non-ignored targets
    for index targets, by the number of rows for probability targets.
"""


def cross_entropy(z, target, *, axis=-1, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", num_threads=None):
    return _loss("cross_entropy", _CE, z, target, axis, weight, ignore_index,
                 label_smoothing, reduction, num_threads, True, False)[0]


def cross_entropy_grad(z, target, *, axis=-1, weight=None, ignore_index=-100,
                       label_smoothing=0.0, reduction="mean", num_threads=None):
    return _loss("cross_entropy_grad", _CE, z, target, axis, weight, ignore_index,
                 label_smoothing, reduction, num_threads, False, True)[1]


def cross_entropy_loss_and_grad(z, target, *, axis=-1, weight=None, ignore_index=-100,
                                label_smoothing=0.0, reduction="mean", num_threads=None):
    return _loss("cross_entropy_loss_and_grad", _CE, z, target, axis, weight, ignore_index,
                 label_smoothing, reduction, num_threads, True, True)


cross_entropy.__doc__ = """Cross-entropy of softmax(z) along `axis` (logits in).

    Per row ``-sum_c w_c t_c log softmax(z)_c`` computed as
    ``logsumexp(z) - z_c`` with the max subtracted, so it is exact to a few
    ULP also for confident predictions (tiny losses).""" + _CE_DOC
cross_entropy_grad.__doc__ = """Gradient of :func:`cross_entropy` with respect to
    the logits, ``w (softmax(z) - t)`` (with label smoothing and weights as
    torch), scaled for the reduction ("mean" divides as the loss does).""" + _CE_DOC
cross_entropy_loss_and_grad.__doc__ = """``(loss, grad)`` of :func:`cross_entropy`
    from one pass over the data (each row: max, exp and sums, then loss and
    gradient).""" + _CE_DOC


def categorical_cross_entropy(p, target, *, axis=-1, weight=None, ignore_index=-100,
                              reduction="mean", num_threads=None):
    """Categorical cross-entropy on probabilities `p`:
    ``-sum_c w_c t_c max(log p_c, -100)`` per row (the log clamped at -100 as
    ``binary_cross_entropy`` and torch do).  `target`: class probabilities
    (shape of `p`) or integer class indices (shape of `p` without the class
    axis).  A probability outside [0, 1] or NaN raises ValueError naming it.
    "mean" divides by the number of rows (by the sum of the weights of the
    non-ignored targets for index targets).  Prefer :func:`cross_entropy` on
    logits: it is faster and exact where this one must clamp."""
    return _loss("categorical_cross_entropy", _CCE, p, target, axis, weight, ignore_index,
                 0.0, reduction, num_threads, True, False)[0]


def categorical_cross_entropy_grad(p, target, *, axis=-1, weight=None, ignore_index=-100,
                                   reduction="mean", num_threads=None):
    """Gradient of :func:`categorical_cross_entropy` with respect to `p`:
    ``-w_c t_c / max(p_c, 1e-12)``, scaled for the reduction."""
    return _loss("categorical_cross_entropy_grad", _CCE, p, target, axis, weight,
                 ignore_index, 0.0, reduction, num_threads, False, True)[1]
