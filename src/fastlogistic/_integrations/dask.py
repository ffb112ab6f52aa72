"""Dask arrays and dask DataFrames for the loss and multi-class functions.

``fastlogistic._integrations.containers.wrap`` calls :func:`call` when an argument of a
public function is a dask array, DataFrame or Series (the DataFrame route is
at the end of this module).  Everything here builds a dask graph and
computes nothing; each task calls the public NumPy-level function on NumPy
blocks (no arithmetic on the data is written here), so the workers run the
same kernels as in memory.

* ``reduction="none"``, gradients, softmax: blockwise, the input's chunks
  kept (operands broadcast and aligned by ``dask.array.blockwise``).
* ``"sum"`` and ``"mean"``: every block calls the function with
  ``reduction="sum"`` (one pass, no per-element loss kept) and yields a
  float64 partial; the partials are added by a tree whose shape depends only
  on the number of blocks (``dask.array`` sum with a fixed ``split_every``;
  within a node, NumPy's sum of the partials in block order).  Same chunking,
  same bits, whatever the number of workers, threads or the order in which
  the tasks ran.  A different chunking adds the same numbers in another
  order: the sum then differs by rounding (a few ULP).  With the dask config
  "fastlogistic.exact-sum" set when the graph is built, each block sums its
  per-element losses exactly (:class:`Exact`) and the result is the
  correctly rounded sum, the same for any chunking (several times the cost,
  see docs/design-measurements.md).
* ``*_loss_and_grad`` and ``grad_hess``: one task per block returns both
  results; the gradient of a "mean" is the block's "sum" gradient times
  ``1/n``, where n is known from the shapes -- except for class-index
  targets, whose "mean" divides by the weights of the non-ignored targets:
  that denominator is a separate, cheap reduction over the targets alone,
  and each block's task takes its result.
* Multi-class functions need whole rows: the class axis (or the softmax
  axes) is rechunked to a single chunk, the other axes keeping their chunks
  unless the block would then exceed dask's ``array.chunk-size``, in which
  case they are rechunked "auto" (the two-pass log-sum-exp for class axes
  too large for one block is not implemented).
"""
import importlib
import math
import operator
import os
import sys

import numpy as np

from .. import _registry
from .._multiclass import _axes
from .containers import numpy_function

# arity of the fixed reduction tree over the per-block partials
SPLIT_EVERY = 8

# outputs of each function, by kind (the public registry)
_BCEL = {p.name: p.outputs for p in _registry.PUBLIC if p.kind == "binary"}
_MULTICLASS = {p.name: p.outputs for p in _registry.PUBLIC if p.kind == "multiclass"}
_SOFTMAX = _registry.names("softmax")


# In a dask worker the output cache is bounded by this fraction of the
# worker's memory limit (see worker_output_cache).
WORKER_CACHE_FRACTION = 1 / 16
_worker_checked = False


def worker_output_cache(memory_limit, current, default):
    """The output-cache bound for a dask worker with `memory_limit` bytes
    (0 or None: no limit), the cache now at `current` bytes (`default`: the
    built-in default): at most WORKER_CACHE_FRACTION of the limit.  A bound
    the user chose (FASTLOGISTIC_OUTPUT_CACHE, set_output_cache) is kept."""
    if current != default or not memory_limit:
        return current
    return min(current, int(memory_limit * WORKER_CACHE_FRACTION))


def _worker_setup():
    """Once per process, in a dask.distributed worker: bound the output cache
    (freed outputs kept for reuse are memory the worker cannot account for;
    near its limit it would pause or restart the worker)."""
    global _worker_checked
    if _worker_checked:
        return
    _worker_checked = True
    if "distributed" not in sys.modules or os.environ.get("FASTLOGISTIC_OUTPUT_CACHE"):
        return
    try:
        from distributed import get_worker
        limit = get_worker().memory_manager.memory_limit
    except Exception:        # not in a worker (threaded scheduler, client side)
        return
    from .. import _kernels
    cur = _kernels.get_output_cache()
    new = worker_output_cache(limit, cur, _kernels.DEFAULT_OUTPUT_CACHE)
    if new != cur:
        _kernels.set_output_cache(new)


def _resolve(name):
    """The NumPy-level function `name`, looked up in the worker (functions
    travel by name: a wrapped function's inner object is not importable)."""
    _worker_setup()
    return numpy_function(name)


def _da():
    import dask.array as da
    return da


def _tokenize(*args):
    from dask.base import tokenize
    return tokenize(*args)


def _is_dask(a):
    return (type(a).__module__.split(".")[0] == "dask" and hasattr(a, "dask")
            and hasattr(a, "chunks"))


def _as_dask(a, fname, argname, allow_object=False):
    da = _da()
    if not _is_dask(a):
        from dask import is_dask_collection
        if is_dask_collection(a):
            if not hasattr(a, "to_dask_array"):
                raise TypeError(f"{fname}: {argname} is a {type(a).__name__}; pass a dask "
                                f"array")
            a = a.to_dask_array()          # a dask Series/DataFrame, lazily
        else:
            a = np.asarray(a)
            if a.dtype == object and not allow_object:
                raise TypeError(f"{fname}: {argname} has dtype object")
            a = da.from_array(a, chunks=-1) if a.ndim else da.from_array(a)
    if any(math.isnan(c) for cs in a.chunks for c in cs):
        raise ValueError(f"{fname}: {argname} has unknown chunk sizes; call "
                         f"compute_chunk_sizes() on it first (or to_dask_array(lengths=True) "
                         f"on a dask DataFrame or Series)")
    return a


def _tiny_shape(shape, keep=()):
    """A small shape that broadcasts like `shape` (dims 0 and 1 kept, others 2;
    axes in `keep` keep their length) for the eager validation call."""
    return tuple(n if (n <= 1 or i in keep) else 2 for i, n in enumerate(shape))


def _tiny(a, value, keep=()):
    return np.full(_tiny_shape(a.shape, keep), value, dtype=a.dtype)


def _no_out(fname, arguments):
    out = arguments.get("out")
    if out is not None:
        raise ValueError(f"{fname}: out= is not supported with dask arrays (the result is a "
                         f"new lazy dask array)")


def _partials_sum(partials):
    """Sum of a dask array of per-block partials (float64, or Exact objects)
    in a fixed tree."""
    return partials.sum(dtype=partials.dtype, split_every=SPLIT_EVERY)


def _float(a):
    a = np.asarray(a)
    return float(a.item() if a.dtype == object else a)


def _finish(total, denom, reduction, rdt):
    total = _float(total)
    denom = _float(denom)
    if reduction == "sum":
        return rdt.type(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return rdt.type(total / denom if denom != 0 else math.nan)


def _scalar_result(total, denom, reduction, rdt):
    da = _da()
    if not _is_dask(denom):
        denom = da.from_array(np.asarray(float(denom)))
    return da.blockwise(_finish, (), total, (), denom, (), reduction=reduction, rdt=rdt,
                        dtype=rdt, meta=np.empty((), rdt), concatenate=True,
                        name="fl-finish-" + _tokenize(total, denom, reduction, str(rdt)))


def _as_partial(value, ndim):
    return np.full((1,) * ndim, float(value), dtype=np.float64)


# ---------------------------------------------------------------------------
# exact sums (dask config "fastlogistic.exact-sum": True): independent of the
# chunking and of the order, at the cost of per-element losses per block
# ---------------------------------------------------------------------------

_EMIN = -1073                 # frexp exponent of the smallest subnormal
_SHIFT = 53 - _EMIN           # sum = n * 2**-_SHIFT
_PIECE = 1 << 26              # elements per bincount: sums of 27-bit halves stay exact


def _exact_config():
    import dask
    return bool(dask.config.get("fastlogistic.exact-sum", False))


class Exact:
    """An exact sum of float64 values: the integer n with sum = n * 2**-1126
    (every finite double is an integer multiple of 2**-1074), or a
    non-finite float.  Adding two is exact and associative, so a tree of
    them gives the same value whatever its shape."""
    __slots__ = ("n", "special")

    def __init__(self, n=0, special=None):
        self.n, self.special = n, special

    @classmethod
    def of(cls, values):
        v = np.asarray(values, np.float64).reshape(-1)
        fin = np.isfinite(v)
        if not fin.all():
            with np.errstate(invalid="ignore"):
                return cls(0, float(np.sum(v[~fin])))
        n = 0
        for i in range(0, v.size, _PIECE):
            m, e = np.frexp(v[i:i + _PIECE])
            mant = (m * 9007199254740992.0).astype(np.int64)      # m * 2**53, exact
            k = (e - _EMIN).astype(np.intp)
            hi = np.bincount(k, weights=mant >> 26)               # integers < 2**53: exact
            lo = np.bincount(k, weights=mant & (_PIECE - 1))
            for j in np.flatnonzero((hi != 0) | (lo != 0)):
                n += ((int(hi[j]) << 26) + int(lo[j])) << int(j)
        return cls(n)

    def __add__(self, other):
        if not isinstance(other, Exact):
            return NotImplemented
        if self.special is not None or other.special is not None:
            a = self.special if self.special is not None else 0.0
            b = other.special if other.special is not None else 0.0
            return Exact(0, a + b)
        return Exact(self.n + other.n)

    __radd__ = __add__

    def __float__(self):
        if self.special is not None:
            return self.special
        return self.n / (1 << _SHIFT) if self.n else 0.0    # correctly rounded

    def __reduce__(self):
        return (Exact, (self.n, self.special))


def _exact_partial(values, ndim):
    out = np.empty((1,) * ndim, dtype=object)
    out[(0,) * ndim] = Exact.of(values)
    return out


def _pick(i, block):
    while isinstance(block, list):      # a contracted axis of one block
        block = block[0]
    return block[i]


def _split_outputs(pairs, nout, specs, name):
    """Outputs of a blockwise array `pairs` whose blocks are tuples: specs[i]
    is (dtype, chunks, drop_axis) of output i."""
    from functools import partial
    da = _da()
    ind = tuple(range(pairs.ndim))
    res = []
    for i, (dt, chunks, drop) in enumerate(specs):
        oind = tuple(j for j in ind if j != drop)
        adjust = {j: chunks[k] for k, j in enumerate(oind)}
        res.append(da.blockwise(partial(_pick, i), oind, pairs, ind, dtype=dt,
                                meta=np.empty((0,) * len(oind), dt), concatenate=False,
                                adjust_chunks=adjust,
                                name=f"fl-{name}-out{i}-" + _tokenize(pairs.name, i)))
    return res


# ---------------------------------------------------------------------------
# binary cross-entropy family
# ---------------------------------------------------------------------------

def _bin_task(name, names, mode, reduction, scale, upcast, nd, num_threads, *blocks):
    """One block.  mode "none": the function's own result for the block;
    "sum": the loss as a float64 partial (shape (1,)*nd) and/or the
    gradients of the block's "sum" times `scale` (1/n for "mean")."""
    f = _resolve(name)
    kw = dict(zip(names, blocks))
    if mode == "none":
        return f(**kw, reduction=reduction, num_threads=num_threads)
    if upcast:            # float16: the kernels compute in float32, as in memory
        kw[names[0]] = np.asarray(kw[names[0]], np.float32)
    exact = mode == "exact"
    res = f(**kw, reduction="none" if exact else "sum", num_threads=num_threads)
    return _block_results(_BCEL[name], res, nd, exact, scale, upcast)


def _scaled(r, scale, upcast):
    r = np.asarray(r)
    if scale != 1.0:
        r = np.multiply(r, r.dtype.type(scale), out=r if r.flags.writeable else None)
    return r.astype(np.float16) if upcast else r


def _binary(name, arguments):
    from functools import partial
    da = _da()
    fname = name
    _no_out(fname, arguments)
    outs = _BCEL[name]
    reduction = arguments.get("reduction", "mean")
    num_threads = arguments.get("num_threads")
    names = [k for k in ("input", "target", "weight", "pos_weight")
             if arguments.get(k) is not None]
    arrays = {k: _as_dask(arguments[k], fname, k) for k in names}
    try:
        shape = np.broadcast_shapes(*(a.shape for a in arrays.values()))
    except ValueError:
        desc = ", ".join(f"{k} {a.shape}" for k, a in arrays.items())
        raise ValueError(f"{fname}: shapes do not broadcast: {desc}") from None
    # eager check of the dtypes, shapes and options by the function itself,
    # on tiny arrays of the same dtypes that broadcast alike
    f = _resolve(name)
    meta = f(**{k: _tiny(a, 0.5) for k, a in arrays.items()}, reduction=reduction,
             num_threads=num_threads)
    meta = meta if isinstance(meta, tuple) else (meta,)
    rdt = np.asarray(meta[-1]).dtype
    nd = len(shape)
    out_ind = tuple(range(nd))
    args = []
    for k in names:
        a = arrays[k]
        args += [a, tuple(range(nd - a.ndim, nd))]
    n = math.prod(shape)
    mode = "none" if reduction == "none" else (
        "exact" if "loss" in outs and _exact_config() else "sum")
    pdt = np.dtype(object) if mode == "exact" else np.dtype(np.float64)
    scale = 1.0 / n if reduction == "mean" and n > 0 else 1.0
    upcast = rdt == np.float16 and mode != "none"
    task = partial(_bin_task, name, tuple(names), mode, reduction, scale, upcast, nd,
                   num_threads)
    tok = _tokenize(name, reduction, mode, num_threads, names, *args)
    kw = dict(align_arrays=True, concatenate=True)
    if len(outs) == 1:
        if outs[0] == "loss" and mode != "none":
            partials = da.blockwise(task, out_ind, *args, name=f"fl-{name}-partial-" + tok,
                                    dtype=pdt, meta=np.empty((0,) * nd, pdt),
                                    adjust_chunks={i: 1 for i in out_ind}, **kw)
            return _scalar_result(_partials_sum(partials), float(n), reduction, rdt)
        return da.blockwise(task, out_ind, *args, name=f"fl-{name}-" + tok, dtype=rdt,
                            meta=np.empty((0,) * nd, rdt), **kw)
    pairs = da.blockwise(task, out_ind, *args, name=f"fl-{name}-pairs-" + tok, dtype=rdt,
                         meta=np.empty((0,) * nd, rdt), **kw)
    specs = []
    for kind in outs:
        if kind == "loss" and mode != "none":
            specs.append((pdt, tuple((1,) * len(c) for c in pairs.chunks), None))
        else:
            specs.append((rdt, pairs.chunks, None))
    got = _split_outputs(pairs, len(outs), specs, name)
    if outs[0] == "loss" and mode != "none":
        got[0] = _scalar_result(_partials_sum(got[0]), float(n), reduction, rdt)
    return tuple(got)


# ---------------------------------------------------------------------------
# multi-class: softmax, log_softmax, cross_entropy*, categorical_cross_entropy*
# ---------------------------------------------------------------------------

def _whole_axes(a, axes):
    """`a` rechunked to a single chunk along `axes`; the other axes keep
    their chunks unless a block would exceed dask's array.chunk-size."""
    if all(len(a.chunks[i]) == 1 for i in axes):
        return a
    import dask
    from dask.utils import parse_bytes
    limit = parse_bytes(dask.config.get("array.chunk-size"))
    block = a.dtype.itemsize * math.prod(a.shape[i] for i in axes) * math.prod(
        max(a.chunks[i]) for i in range(a.ndim) if i not in axes)
    spec = {i: -1 for i in axes}
    if block > limit:
        spec.update({i: "auto" for i in range(a.ndim) if i not in axes})
    return a.rechunk(spec)


def _sm_task(name, axis, num_threads, block):
    return _resolve(name)(block, axis=axis, num_threads=num_threads)


def _softmax(name, arguments):
    from functools import partial
    fname = name
    _no_out(fname, arguments)
    z = _as_dask(arguments["z"] if "z" in arguments else arguments["x"], fname, "z")
    axis = arguments.get("axis")
    num_threads = arguments.get("num_threads")
    axes = _axes(z.ndim, axis, fname)        # the in-memory rules (repeats raise)
    f = _resolve(name)
    rdt = np.asarray(f(_tiny(z, 0.0, keep=axes), axis=axis, num_threads=num_threads)).dtype
    z = _whole_axes(z, axes)
    return z.map_blocks(partial(_sm_task, name, axis, num_threads), dtype=rdt,
                        meta=np.empty((0,) * z.ndim, rdt),
                        name=f"fl-{name}-" + _tokenize(z, axis, num_threads))


def _mc_task(name, zname, axis, opts, mode, reduction, upcast, nd, num_threads, z, t, w,
             denom):
    """One block of rows (the class axis whole).  mode "none": the function's
    result; "sum": the loss as a float64 partial and/or the gradient of the
    block's "sum" divided by `denom` for "mean"."""
    f = _resolve(name)
    kw = dict(opts)
    if w is not None:
        kw["weight"] = w
    if mode == "none":
        return f(**{zname: z}, target=t, axis=axis, reduction=reduction,
                 num_threads=num_threads, **kw)
    if upcast:
        z = np.asarray(z, np.float32)
    exact = mode == "exact"
    res = f(**{zname: z}, target=t, axis=axis, reduction="none" if exact else "sum",
            num_threads=num_threads, **kw)
    if reduction == "mean":
        d = _float(denom)
        scale = 1.0 / d if d != 0 else math.nan
    else:
        scale = 1.0
    return _block_results(_MULTICLASS[name], res, nd, exact, scale, upcast)


def _block_results(kinds, res, nd, exact, scale, upcast):
    """One block task's results: each loss as its partial sum (exact or
    float64), each gradient/hessian scaled for the reduction."""
    single = not isinstance(res, tuple)
    out = [(_exact_partial(r, nd) if exact else _as_partial(r, nd)) if kind == "loss"
           else _scaled(r, scale, upcast)
           for kind, r in zip(kinds, (res,) if single else res)]
    return out[0] if single else tuple(out)


def _den_task(C, ignore, cdt, nd, exact, t, w):
    """Partial of the "mean" denominator of a block of class-index targets:
    the weights of its non-ignored targets (their count without weights), as
    the in-memory function computes it (exactly with `exact`)."""
    from .. import _kernels
    from .._api import _kernel_operand
    # blocks unpickled on a worker may sit at any address: aligned copies
    idx = _kernel_operand(np.asarray(t, dtype=np.int64).reshape(-1))
    if w is not None:
        w = _kernel_operand(np.asarray(w, dtype=cdt).reshape(-1))
    total, bad = _kernels.class_targets(idx, C, ignore, w)
    if not exact:
        return _as_partial(total, nd)
    if w is None or bad >= 0:      # a count is exact; a bad index raises in the loss task
        return _exact_partial([total], nd)
    return _exact_partial(w[idx[idx != ignore]], nd)


def _multiclass(name, arguments):
    from functools import partial
    da = _da()
    fname = name
    outs = _MULTICLASS[name]
    zname = "z" if "z" in arguments else ("p" if "p" in arguments else "input")
    reduction = arguments.get("reduction", "mean")
    num_threads = arguments.get("num_threads")
    axis = arguments.get("axis", -1)
    opts = {"ignore_index": arguments.get("ignore_index", -100)}
    if "label_smoothing" in arguments:
        opts["label_smoothing"] = arguments["label_smoothing"]
    z = _as_dask(arguments[zname], fname, "input")
    t = _as_dask(arguments["target"], fname, "target")
    w = arguments.get("weight")
    w = _as_dask(w, fname, "weight") if w is not None else None
    f = _resolve(name)
    try:
        ax = operator.index(axis)
        ax = ax % z.ndim if -z.ndim <= ax < z.ndim else None
    except TypeError:
        ax = None
    if ax is None or t.dtype.kind not in "iufb":
        # the function raises the in-memory error for the axis or dtype
        f(**{zname: _tiny(z, 0.5)}, target=_tiny(t, 0), axis=axis,
          weight=None if w is None else _tiny(w, 1.0, keep=(0,)),
          reduction=reduction, num_threads=num_threads, **opts)
        raise TypeError(f"{fname}: unsupported arguments for dask arrays")
    C = z.shape[ax]
    index_target = t.dtype.kind in "iu"
    batch = z.shape[:ax] + z.shape[ax + 1:]
    if index_target and t.shape != batch:
        raise ValueError(
            f"{fname}: class-index target must have the shape of input without its class "
            f"axis, {batch}; got target shape {t.shape} (input shape {z.shape}, class axis "
            f"{ax})")
    if not index_target and t.shape != z.shape:
        raise ValueError(
            f"{fname}: probability target must have the shape of input, {z.shape}; got "
            f"target shape {t.shape} (class-index targets must be integer arrays of shape "
            f"{batch})")
    # eager validation by the function on tiny blocks (class axis kept)
    tz = _tiny(z, 0.5, keep=(ax,))
    tt = (np.zeros(_tiny_shape(t.shape), t.dtype) if index_target
          else np.full(_tiny_shape(t.shape, keep=(ax,)), 0.5, t.dtype))
    meta = f(**{zname: tz}, target=tt, axis=axis,
             weight=None if w is None else np.ones(w.shape, w.dtype), reduction=reduction,
             num_threads=num_threads, **opts)
    meta = meta if isinstance(meta, tuple) else (meta,)
    rdt = np.asarray(meta[-1]).dtype
    nd = z.ndim
    ind = tuple(range(nd))
    bind = tuple(i for i in ind if i != ax)
    z = _whole_axes(z, (ax,))
    if index_target:
        t_args = [t, bind]
    else:
        t = t.rechunk({ax: -1})
        t_args = [t, ind]
    w_args = [w.rechunk(-1), (ax,)] if w is not None else [None, None]
    batch = tuple(z.shape[i] for i in bind)
    N = math.prod(batch)
    mode = "none" if reduction == "none" else (
        "exact" if "loss" in outs and _exact_config() else "sum")
    pdt = np.dtype(object) if mode == "exact" else np.dtype(np.float64)
    den_args = [None, None]
    den = float(N)
    if reduction == "mean" and index_target:
        cdt = np.float64 if z.dtype == np.float64 else np.float32
        bnd = max(len(bind), 0)
        den_partials = da.blockwise(
            partial(_den_task, C, int(opts["ignore_index"]), cdt, bnd, mode == "exact"), bind,
            *t_args,
            *w_args, name=f"fl-{name}-den-" + _tokenize(t, w, C, opts, str(cdt), mode),
            dtype=pdt, meta=np.empty((0,) * bnd, pdt),
            adjust_chunks={i: 1 for i in bind}, align_arrays=True, concatenate=True)
        den = _partials_sum(den_partials)
        den_args = [den, ()]
    elif reduction == "mean":
        den_args = [den, None]
    upcast = rdt == np.float16 and mode != "none"
    task = partial(_mc_task, name, zname, axis, opts, mode, reduction, upcast, nd,
                   num_threads)
    args = [z, ind, *t_args, *w_args, *den_args]
    tok = _tokenize(name, reduction, mode, num_threads, axis, opts, z, t, w, den_args[0])
    kw = dict(align_arrays=True, concatenate=True)
    if len(outs) == 1:
        if outs[0] == "loss" and mode == "none":
            return da.blockwise(task, bind, *args, name=f"fl-{name}-" + tok, dtype=rdt,
                                meta=np.empty((0,) * len(bind), rdt), **kw)
        if outs[0] == "loss":
            partials = da.blockwise(task, ind, *args, name=f"fl-{name}-partial-" + tok,
                                    dtype=pdt, meta=np.empty((0,) * nd, pdt),
                                    adjust_chunks={i: 1 for i in ind}, **kw)
            return _scalar_result(_partials_sum(partials), den, reduction, rdt)
        return da.blockwise(task, ind, *args, name=f"fl-{name}-" + tok, dtype=rdt,
                            meta=np.empty((0,) * nd, rdt), **kw)
    pairs = da.blockwise(task, ind, *args, name=f"fl-{name}-pairs-" + tok, dtype=rdt,
                         meta=np.empty((0,) * nd, rdt), **kw)
    if mode == "none":
        lspec = (rdt, tuple(c for i, c in enumerate(pairs.chunks) if i != ax), ax)
    else:
        lspec = (pdt, tuple((1,) * len(c) for c in pairs.chunks), None)
    got = _split_outputs(pairs, 2, [lspec, (rdt, pairs.chunks, None)], name)
    if mode != "none":
        got[0] = _scalar_result(_partials_sum(got[0]), den, reduction, rdt)
    return tuple(got)


def call(name, func, arguments):
    """The dask form of the public function `name` (`func` its NumPy-level
    function, `arguments` its arguments by parameter name, defaults applied):
    a lazy dask array, or a tuple of them for the functions returning two
    results.  Nothing is computed."""
    arguments = dict(arguments)
    kind = _registry.by_name(name).kind if name in _registry.names() else None
    if kind not in ("binary", "multiclass", "softmax", "log_loss"):
        raise TypeError(f"{name}: dask arrays are not supported by this function")
    if any(_is_frame(v) for v in arguments.values()):
        return _frame_call(name, func, arguments)
    if kind == "binary":
        return _binary(name, arguments)
    if kind == "multiclass":
        return _multiclass(name, arguments)
    if kind == "softmax":
        return _softmax(name, arguments)
    return _log_loss(func, arguments)


def _ll_task(labels_given, normalize, nd, y, p, sw, labels):
    """One block of rows of log_loss: (weighted sum of its losses, its weight)
    as float64 partials; `labels` are the global ones (given or the unique
    values of all of y_true)."""
    f = _resolve("log_loss")
    if not labels_given:
        while isinstance(labels, list):
            labels = labels[0]
    total = f(y, p, normalize=False, sample_weight=sw, labels=labels)
    weight = float(np.sum(sw, dtype=np.float64)) if sw is not None else float(len(y))
    out = np.empty((1,) * nd + (2,), np.float64)
    out[..., 0], out[..., 1] = total, weight
    return out


def _ll_finish(parts, normalize):
    parts = np.asarray(parts, np.float64).reshape(-1, 2)
    total, weight = parts[:, 0].sum(), parts[:, 1].sum()
    if not normalize:
        return np.float64(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.float64(total / weight)


def _log_loss(func, arguments):
    """log_loss on dask arrays: rows in blocks (the class axis of a 2-D y_proba
    whole); each block's weighted sum of losses from the in-memory function
    with the global labels (given, else the unique values of all of y_true:
    a cheap reduction over y_true alone), partials added in a fixed tree."""
    from functools import partial
    da = _da()
    fname = "log_loss"
    if arguments.get("y_pred", "deprecated") != "deprecated":
        raise TypeError(f"{fname}: y_pred= is not supported with dask arrays; pass y_proba")
    normalize = arguments.get("normalize", True)
    y = _as_dask(arguments["y_true"], fname, "y_true", allow_object=True)
    p = _as_dask(arguments["y_proba"], fname, "y_proba")
    sw = arguments.get("sample_weight")
    sw = _as_dask(sw, fname, "sample_weight") if sw is not None else None
    labels = arguments.get("labels")
    if y.ndim != 1 or p.ndim not in (1, 2) or p.shape[0] != y.shape[0] or (
            sw is not None and sw.shape != y.shape):
        raise ValueError(
            f"{fname}: with dask arrays y_true must be 1-D, y_proba 1-D or 2-D and "
            f"sample_weight 1-D, all with the same number of rows; got shapes {y.shape}, "
            f"{p.shape}" + (f", {sw.shape}" if sw is not None else ""))
    if p.ndim == 2:
        p = p.rechunk({1: -1})
    if labels is None:
        lab_args = [da.unique(y), (9,)]
    else:
        lab_args = [np.asarray(labels), None]
    nd = 1
    task = partial(_ll_task, labels is not None, normalize, nd)
    args = [y, (0,), p, (0, 1)[:p.ndim], *([sw, (0,)] if sw is not None else [None, None]),
            *lab_args]
    tok = _tokenize(fname, normalize, y, p, sw, lab_args[0])
    parts = da.blockwise(task, (0, 8), *args, new_axes={8: 2}, adjust_chunks={0: 1},
                         name="fl-log_loss-partial-" + tok, dtype=np.float64,
                         meta=np.empty((0, 0), np.float64), align_arrays=True,
                         concatenate=True)
    # a fixed tree over the (total, weight) partials, then the ratio
    sums = parts.sum(axis=0, dtype=np.float64, split_every=SPLIT_EVERY)
    return sums.map_blocks(_ll_finish, normalize, drop_axis=0, dtype=np.float64,
                           meta=np.empty((), np.float64),
                           name="fl-log_loss-" + tok)


# ---------------------------------------------------------------------------
# dask DataFrames and Series: partition by partition
# ---------------------------------------------------------------------------
#
# Their partition lengths are unknown until computed, so they do not become
# dask arrays (that needs the lengths, a computation behind the user's back).
# Each partition is a pandas object: every task calls the pandas-level
# function (the container adapter over the NumPy-level one) on the
# partitions that line up, so results keep their index and partitions.
# Reductions: each partition's "sum" as a float64 partial with its share of
# the "mean" denominator; the partials are added in partition order by one
# task (the same bits for the same partitioning, whatever the workers), and
# the gradients of a "mean" are the partitions' "sum" gradients over the
# total denominator.

def _is_frame(a):
    """A dask DataFrame or Series (not a dask array)."""
    return (type(a).__module__.split(".")[0] == "dask" and hasattr(a, "npartitions")
            and hasattr(a, "to_delayed") and not hasattr(a, "chunks"))


_PANDAS_LEVEL: dict = {}


def _pandas_level(name):
    """The public function `name` taking pandas objects (cached per process)."""
    f = _PANDAS_LEVEL.get(name)
    if f is None:
        from .containers import wrap
        f = _PANDAS_LEVEL[name] = wrap(_resolve(name))
    return f


def _filled_meta(frame):
    """A small non-empty pandas object like the partitions of `frame`, with
    values every function takes (0.5 in float columns, 0 in the others)."""
    m = frame._meta_nonempty.copy()
    if m.ndim == 1:
        return m.where(m != m, 0.5 if m.dtype.kind == "f" else 0).astype(m.dtype)
    for j in range(m.shape[1]):
        col = m.iloc[:, j]
        m.iloc[:, j] = np.full(len(m), 0.5 if col.dtype.kind == "f" else 0, col.dtype)
    return m


def _frame_checks(fname, rec, arguments, frames):
    ref = arguments[frames[0]]
    for k, v in arguments.items():
        if k in frames or v is None or k == "out":
            continue
        if _is_dask(v) or (type(v).__module__.split(".")[0] == "dask" and hasattr(v, "dask")):
            raise TypeError(
                f"{fname}: {frames[0]} is a dask {type(ref).__name__} but {k} is a dask "
                f"{type(v).__name__}; pass both as dask DataFrames/Series partitioned alike, "
                f"or both as dask arrays (to_dask_array(lengths=True))")
        shape = np.shape(v) if hasattr(v, "shape") or isinstance(v, (list, tuple)) else ()
        row_arg = k in ("input", "target", "y_true", "y_proba", "sample_weight") or (
            k == "weight" and rec.kind == "binary")
        if row_arg and len(shape) >= ref.ndim and shape[0] != 1:
            raise TypeError(
                f"{fname}: {frames[0]} is a dask {type(ref).__name__}; {k} must be one too, "
                f"partitioned alike (an in-memory {k} of shape {shape} cannot be split "
                f"into its partitions)")
    for k in frames[1:]:
        v = arguments[k]
        if v.npartitions != ref.npartitions:
            raise ValueError(
                f"{fname}: {k} has {v.npartitions} partitions and {frames[0]} "
                f"{ref.npartitions}; repartition one like the other")
        if ref.known_divisions and v.known_divisions and tuple(v.divisions) != tuple(
                ref.divisions):
            raise ValueError(
                f"{fname}: the divisions of {k} do not match those of {frames[0]}; "
                f"repartition one like the other (divisions={frames[0]}.divisions)")
    if rec.kind in ("softmax", "multiclass"):
        axis = arguments.get("axis", -1)
        if ref.ndim != 2 or not isinstance(axis, (int, np.integer)) or isinstance(
                axis, bool) or axis not in (1, -1):
            raise ValueError(
                f"{fname}: on a dask {type(ref).__name__} the class axis must be the "
                f"columns of a DataFrame (axis=1 or -1; got axis={axis!r}): rows are split "
                f"into partitions")
    if rec.kind == "log_loss":
        if arguments.get("y_pred", "deprecated") != "deprecated":
            raise TypeError(f"{fname}: y_pred= is not supported with dask DataFrames; "
                            f"pass y_proba")
        for k in ("y_true", "y_proba", "sample_weight"):
            if arguments.get(k) is not None and k not in frames:
                raise TypeError(f"{fname}: y_true is a dask {type(ref).__name__}; {k} must "
                                f"be one too, partitioned alike")


def _part_task(name, keys, consts, mode, upcast, *parts):
    """One partition.  mode "none": the function's result (pandas objects);
    "sum", "mean": (loss partial or None, "mean" denominator partial or 0,
    "sum" gradients)."""
    f = _pandas_level(name)
    kw = dict(consts)
    kw.update(zip(keys, parts))
    if mode == "none":
        return f(**kw)
    first = next(iter(keys))
    if upcast:          # float16: the kernels compute in float32, as in memory
        kw[first] = kw[first].astype(np.float32)
    kw["reduction"] = "sum"
    res = f(**kw)
    res = res if isinstance(res, tuple) else (res,)
    outs = _registry.by_name(name).outputs
    loss = next((np.float64(r) for o, r in zip(outs, res) if o == "loss"), None)
    grads = tuple(r for o, r in zip(outs, res) if o != "loss")
    return loss, _frame_denominator(name, kw) if mode == "mean" else 0.0, grads


def _frame_denominator(name, kw):
    """This partition's share of the "mean" denominator, as the in-memory
    function computes it: the elements (binary), the rows (probability
    targets) or the weights of the non-ignored class-index targets."""
    from .containers import _to_numpy
    arrays = {k: _to_numpy(v, name, k) for k, v in kw.items()
              if k in ("input", "z", "p", "target", "weight", "pos_weight") and v is not None}
    if _registry.by_name(name).kind == "binary":
        return float(math.prod(np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))))
    z = arrays.get("input", arrays.get("z", arrays.get("p")))
    t = np.asarray(arrays["target"])
    if t.dtype.kind not in "iu":
        return float(z.shape[0])
    cdt = np.float64 if z.dtype == np.float64 else np.float32
    w = arrays.get("weight")
    return float(_den_task(z.shape[1], int(kw.get("ignore_index", -100)), cdt, 1, False,
                           t, w).reshape(-1)[0])


def _scale_task(i, upcast_to, part, den):
    g = part[2][i]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 1.0 / den if den != 0 else math.nan
    g = g * g.dtype.type(scale) if g.ndim == 1 else g * scale
    return g.astype(upcast_to) if upcast_to is not None else g


def _frame_denominator_total(parts):
    """The "mean" denominator from the partitions' partials, added in
    partition order."""
    return np.sum(np.array([p[1] for p in parts], np.float64))


def _partials_frame(part):
    """A partition's (loss, denominator) partials as a one-row DataFrame."""
    pd = importlib.import_module("pandas")
    return pd.DataFrame({"total": [np.float64(part[0])], "weight": [np.float64(part[1])]})


def _same(df):
    return df


def _partials_aggregate(df, reduction, rdt):
    """The reduction from all partitions' partials (rows in partition order)."""
    total = np.sum(df["total"].to_numpy(np.float64))
    if reduction == "sum":
        return rdt.type(total)
    den = np.sum(df["weight"].to_numpy(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return rdt.type(total / den if den != 0 else math.nan)


def _lazy_scalar(partials, reduction, rdt):
    """A dask DataFrame Scalar (what a dask DataFrame reduction returns) over
    delayed (total, weight) partials, one per partition."""
    import dask
    import dask.dataframe as dd
    pd = importlib.import_module("pandas")
    meta = pd.DataFrame({"total": pd.Series(dtype=np.float64),
                         "weight": pd.Series(dtype=np.float64)})
    frame = dd.from_delayed([dask.delayed(_partials_frame, pure=True)(p) for p in partials],
                            meta=meta, verify_meta=False)
    return frame.reduction(chunk=_same, aggregate=_partials_aggregate,
                           aggregate_kwargs={"reduction": reduction, "rdt": rdt},
                           meta=rdt.type(0), split_every=False)


def _frame_call(name, func, arguments):
    import dask
    import dask.dataframe as dd
    fname = name
    _no_out(fname, arguments)
    arguments.pop("out", None)
    rec = _registry.by_name(name)
    frames = [k for k, v in arguments.items() if _is_frame(v)]
    _frame_checks(fname, rec, arguments, frames)
    ref = arguments[frames[0]]
    if rec.kind == "log_loss":
        return _frame_log_loss(arguments, frames)
    consts = {k: v for k, v in arguments.items() if k not in frames}
    # eager validation, and the result's types, from a small partition
    meta = _pandas_level(name)(**{k: (_filled_meta(v) if k in frames else v)
                                  for k, v in arguments.items()})
    parts = [v.to_delayed() for v in (arguments[k] for k in frames)]
    divisions = tuple(ref.divisions) if ref.known_divisions else None
    reduction = arguments.get("reduction", "none") if rec.kind != "softmax" else "none"
    single = not isinstance(meta, tuple)
    metas = (meta,) if single else meta
    task = dask.delayed(_part_task, pure=True)

    def frame(delayeds, m):
        return dd.from_delayed(list(delayeds), meta=m.iloc[:0], divisions=divisions,
                               verify_meta=False)

    if reduction == "none":
        got = [task(name, tuple(frames), consts, "none", False, *ps) for ps in zip(*parts)]
        res = [frame(got if single else (g[i] for g in got), m) for i, m in enumerate(metas)]
        return res[0] if single else tuple(res)
    rdt = np.asarray(metas[rec.outputs.index("loss")] if "loss" in rec.outputs
                     else metas[0].to_numpy()).dtype
    # float16: the partitions compute in float32, as the kernels do in memory
    upcast = np.asarray(_filled_meta(arguments[frames[0]])).dtype == np.float16
    got = [task(name, tuple(frames), consts, reduction, upcast, *ps) for ps in zip(*parts)]
    res = []
    den = None
    if reduction == "mean" and any(o != "loss" for o in rec.outputs):
        den = dask.delayed(_frame_denominator_total, pure=True)(got)
    gi = 0
    for o, m in zip(rec.outputs, metas):
        if o == "loss":
            res.append(_lazy_scalar(got, reduction, rdt))
            continue
        back = np.float16 if upcast else None
        if den is not None or upcast:
            g = [dask.delayed(_scale_task, pure=True)(gi, back, p, den if den is not None
                                                      else 1.0) for p in got]
        else:
            g = [p[2][gi] for p in got]
        res.append(frame(g, m))
        gi += 1
    return res[0] if single else tuple(res)


def _frame_labels(ys):
    from .containers import _to_numpy
    return np.unique(np.concatenate([np.unique(_to_numpy(y, "log_loss", "y_true"))
                                     for y in ys]))


def _frame_ll_task(y, p, sw, labels):
    """(weighted sum of the partition's losses, its weight)."""
    from .containers import _to_numpy
    y, p = _to_numpy(y, "log_loss", "y_true"), _to_numpy(p, "log_loss", "y_proba")
    if sw is not None:
        sw = _to_numpy(sw, "log_loss", "sample_weight")
    return tuple(_ll_task(True, False, 1, y, p, sw, labels).reshape(2))


def _frame_log_loss(arguments, frames):
    """log_loss on dask Series/DataFrames: each partition's weighted sum of
    losses with the global labels (given, else the unique values of all of
    y_true), added in partition order."""
    import dask
    normalize = arguments.get("normalize", True)
    labels = arguments.get("labels")
    parts = {k: arguments[k].to_delayed() for k in frames}
    if labels is None:
        labels = dask.delayed(_frame_labels, pure=True)(parts["y_true"])
    else:
        labels = np.asarray(labels)
    sws = parts.get("sample_weight", [None] * len(parts["y_true"]))
    task = dask.delayed(_frame_ll_task, pure=True)
    got = [task(y, p, sw, labels) for y, p, sw in zip(parts["y_true"], parts["y_proba"], sws)]
    return _lazy_scalar(got, "mean" if normalize else "sum", np.dtype(np.float64))
