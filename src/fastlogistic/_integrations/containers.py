"""Array containers (pandas, xarray, polars, dask) for the losses, the
multi-class functions and log_loss.

``public(name)`` gives ``fastlogistic.<name>``: the NumPy-level function
named in the registry, wrapped by ``wrap`` where its container rule says so.
``wrap(func)`` gives a function that accepts containers: a call with plain
arrays goes straight to ``func``; a dask argument (array, DataFrame, Series)
hands the call to ``dask.call`` (lazy, block by block or partition by
partition); pandas, xarray and polars arguments are converted to NumPy,
``func`` runs once, and its array results come back in the input's
container (index/columns, dims/coords/name/attrs, polars names and nulls
kept; a multi-class per-row loss without the class axis).  Reductions stay
NumPy scalars.  A ``pl.col`` expression gives an expression that calls the
function when polars evaluates it.

Containers are recognised from ``type(obj).__module__``: nothing here
imports pandas, xarray, polars or dask (a user who passes their objects has
already imported them).
"""
import functools
import importlib
import inspect
import sys

import numpy as np

from .. import _registry

__all__ = ["container_kind", "numpy_function", "public", "wrap"]

_KINDS = {"pandas": "pandas", "xarray": "xarray", "dask": "dask", "dask_expr": "dask",
          "polars": "polars"}

# type -> kind (None for everything that is not a container), so that the
# check on the plain-array path is one dict lookup per argument
_TYPE_KIND = {np.ndarray: None, float: None, int: None, bool: None, list: None,
              tuple: None, type(None): None, str: None, np.float64: None,
              np.float32: None}
_MISSING = object()

# keyword arguments that may hold arrays (besides the first two positionals);
# the check looks at every keyword value, whose types are cached
_ARRAY_KW = ("input", "target", "weight", "pos_weight", "p", "z",
             "y_true", "y_proba", "sample_weight")

# functions whose first argument has a class axis (`axis`); the losses among
# them drop it in their per-row result
_MULTICLASS = frozenset(_registry.names("softmax", "multiclass"))


# scikit-learn's contract pairs samples by position, whatever the indexes
# (y_test from train_test_split against a fresh Series of probabilities)
_POSITIONAL = frozenset(_registry.names(containers="positional"))


def numpy_function(name):
    """The NumPy-level object behind the public name `name`: what its
    registry record's module defines (imported on first use)."""
    rec = _registry.by_name(name)
    return getattr(importlib.import_module(f"{__package__.rpartition('.')[0]}.{rec.module}"),
                   name)


_PUBLIC: dict = {}


def public(name):
    """The public object `name` as ``fastlogistic.<name>`` gives it: the
    NumPy-level object, wrapped by :func:`wrap` where its registry record
    says the container adapter takes its containers."""
    obj = _PUBLIC.get(name)
    if obj is None:
        obj = numpy_function(name)
        if _registry.by_name(name).containers in ("wrap", "positional"):
            obj = wrap(obj)
        obj = _PUBLIC.setdefault(name, obj)
    return obj


def container_kind(obj):
    """"pandas", "xarray", "dask" or None, from the module of obj's type."""
    t = type(obj)
    kind = _TYPE_KIND.get(t, _MISSING)
    if kind is _MISSING:
        mod = getattr(t, "__module__", None) or ""
        kind = _KINDS.get(mod.partition(".")[0])
        if len(_TYPE_KIND) < 512:
            _TYPE_KIND[t] = kind
    return kind


def wrap(func):
    """func accepting pandas/xarray/dask containers (see the module doc)."""
    name = func.__name__
    state = {}

    def signature():
        sig = state.get("sig")
        if sig is None:
            sig = state["sig"] = inspect.signature(func)
        return sig

    get = _TYPE_KIND.get

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        n = len(args)
        if ((n == 0 or get(type(args[0]), 1) is None)
                and (n < 2 or get(type(args[1]), 1) is None)):
            if not kwargs:
                return func(*args, **kwargs)
            for v in kwargs.values():   # reduction, axis, ...: cached as None
                if get(type(v), 1) is not None:
                    break
            else:
                return func(*args, **kwargs)
        return _call(func, name, signature(), args, kwargs)

    wrapper.__wrapped_containers__ = True
    # pickled by reference as fastlogistic.<name>, the public (wrapped) object
    wrapper.__module__ = "fastlogistic"
    return wrapper


# ---------------------------------------------------------------------------
# the container path
# ---------------------------------------------------------------------------

def _call(func, name, sig, args, kwargs):
    try:
        ba = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise TypeError(f"{name}: {exc}") from None
    ba.apply_defaults()
    arguments = dict(ba.arguments)
    kinds = {k: container_kind(v) for k, v in arguments.items()}
    if not any(kinds.values()):
        return func(*args, **kwargs)   # e.g. a NumPy scalar type seen first here
    if "polars" in kinds.values():
        if any(_is_polars_expr(v) for v in arguments.values()):
            return _polars_expr(func, name, sig, arguments, kinds)
        for k, v in arguments.items():
            if kinds[k] == "polars" and not hasattr(v, "to_numpy"):
                raise TypeError(f"{name}: {k} is a polars {type(v).__name__}; pass a "
                                f"Series, a DataFrame or a pl.col expression (collect a "
                                f"LazyFrame first)")
    dask = "dask" in kinds.values()
    # xarray over dask: lazy too, through the dask path on the .data arrays
    xr_dask = [k for k, v in arguments.items()
               if kinds[k] == "xarray" and container_kind(getattr(v, "data", None)) == "dask"]
    if dask or xr_dask:
        from . import dask as _dask
        if not xr_dask:
            return _dask.call(name, func, arguments)
        plain = {k: (v.data if kinds[k] == "xarray" else v) for k, v in arguments.items()}
        templates = _templates(name, arguments, kinds)
        return _rewrap(_dask.call(name, func, plain), templates)

    names = list(arguments)
    ref = next(k for k in names if kinds[k])
    if name not in _POSITIONAL:
        _check_aligned(name, arguments, kinds, ref)
    plain = {k: (_to_numpy(v, name, k) if kinds[k] else v) for k, v in arguments.items()}
    templates = _templates(name, arguments, kinds)
    result = _invoke(func, sig, plain)
    if arguments.get("out") is not None:
        return result   # the caller's arrays, as given
    return _rewrap(result, templates)


def _invoke(func, sig, arguments):
    args, kwargs = [], {}
    for p in sig.parameters.values():
        v = arguments[p.name]
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            args.append(v)
        elif p.kind == p.VAR_POSITIONAL:
            args.extend(v)
        elif p.kind == p.VAR_KEYWORD:
            kwargs.update(v)
        else:
            kwargs[p.name] = v
    return func(*args, **kwargs)


def _to_numpy(obj, fname, argname):
    kind = container_kind(obj)
    if kind == "polars":
        frame = hasattr(obj, "columns")
        if sum(obj.null_count().row(0)) if frame else obj.null_count():
            dtypes = list(obj.dtypes) if frame else [obj.dtype]
            if not all(d.is_float() for d in dtypes):
                raise TypeError(
                    f"{fname}: {argname} has missing values (null) in a polars "
                    f"{'/'.join(sorted(set(str(d) for d in dtypes)))} column; an integer or "
                    f"boolean array has no NaN: fill or drop them first")
        return obj.to_numpy()   # nulls in float columns: NaN
    if kind == "xarray":
        if not hasattr(obj, "dims"):
            raise TypeError(f"{fname}: {argname}: an xarray {type(obj).__name__} is not "
                            f"supported; pass a DataArray")
        return np.asarray(obj.values)
    if kind == "pandas":
        dtypes = list(obj.dtypes) if hasattr(obj, "columns") else [getattr(obj, "dtype", None)]
        ext = [d for d in dtypes if d is not None and not isinstance(d, np.dtype)]
        if ext:
            nd = [getattr(d, "numpy_dtype", None) for d in ext]
            kinds = {getattr(d, "kind", "O") for d in ext}
            if None not in nd and kinds <= set("fiub"):
                target = np.result_type(*nd, *[d for d in dtypes if isinstance(d, np.dtype)])
                if target.kind == "f":
                    # nullable floats: a missing value is NaN, as in float arithmetic
                    return obj.to_numpy(dtype=target, na_value=np.nan)
                if bool(np.asarray(obj.isna()).any()):
                    raise TypeError(
                        f"{fname}: {argname} has missing values (pd.NA) in a nullable "
                        f"{'/'.join(sorted(str(d) for d in ext))} column; an integer or "
                        f"boolean array has no NaN: fill or drop them first")
                return obj.to_numpy(dtype=target)
        return obj.to_numpy()
    return obj


# --- labels of pandas/xarray objects and their alignment --------------------

def _labels(obj):
    """Per-axis labels: pandas Index objects, or (dim, index-or-None) for xarray."""
    if container_kind(obj) == "pandas":
        if hasattr(obj, "columns"):
            return [obj.index, obj.columns]
        if hasattr(obj, "index") and getattr(obj, "ndim", 0) == 1:
            return [obj.index]
        return None
    if container_kind(obj) == "xarray" and hasattr(obj, "dims"):
        idx = obj.indexes
        return [(d, idx[d] if d in idx else None) for d in obj.dims]
    return None


def _class_axis(arguments, ndim):
    axis = arguments.get("axis", -1)
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool) and -ndim <= axis < ndim:
        return int(axis) % ndim
    return None


def _expected(fname, argname, ref_name, ref, arguments):
    """The labels argname must carry to line up with the reference argument."""
    lab = _labels(ref)
    if lab is None:
        return None
    if fname in _MULTICLASS and ref_name == next(iter(arguments)):
        ax = _class_axis(arguments, len(lab))
        if ax is None:
            return lab
        other = arguments[argname]
        if argname == "weight":
            return [lab[ax]]
        if argname == "target" and getattr(other, "ndim", None) == len(lab) - 1:
            return lab[:ax] + lab[ax + 1:]
        return lab
    if fname in _MULTICLASS and argname == "weight":
        return None   # class weights line up with the first argument's class axis only
    k = getattr(arguments[argname], "ndim", None)
    if k is None or k > len(lab):
        return None
    return lab[len(lab) - k:] if k else []


def _check_aligned(fname, arguments, kinds, ref):
    refobj = arguments[ref]
    for k, v in arguments.items():
        if k == ref or kinds[k] is None or kinds[k] != kinds[ref]:
            continue
        want = _expected(fname, k, ref, refobj, arguments)
        have = _labels(v)
        if want is None or have is None:
            continue
        if kinds[k] == "pandas":
            if len(want) != len(have) or not all(a.equals(b) for a, b in zip(want, have)):
                raise ValueError(
                    f"{fname}: the index/columns of {k} do not match those of {ref}; "
                    f"fastlogistic does not align pandas objects (reindex one, or pass "
                    f".to_numpy() to pair them by position)")
        else:
            wdims = [d for d, _ in want]
            hdims = [d for d, _ in have]
            if sorted(hdims) != sorted(wdims):
                raise ValueError(f"{fname}: {k} has dims {tuple(hdims)}; expected "
                                 f"{tuple(wdims)} to line up with {ref}")
            if hdims != wdims:
                arguments[k] = v = v.transpose(*wdims)
            hidx = dict(_labels(v))
            for d, widx in want:
                if widx is not None and hidx[d] is not None and not widx.equals(hidx[d]):
                    raise ValueError(f"{fname}: the coordinates of {k} along {d!r} do not "
                                     f"match those of {ref}; fastlogistic does not align "
                                     f"xarray objects (reindex or use xarray.align)")


# --- putting results back into containers ------------------------------------

def _templates(fname, arguments, kinds):
    """[(shape, build(array) -> container)] in order of preference."""
    out = []
    first = next(iter(arguments))
    for k, v in arguments.items():
        if not kinds[k] or k == "out":
            continue
        shape = tuple(getattr(v, "shape", ()))
        out.append((shape, functools.partial(_like, v)))
        if k == first and fname in _MULTICLASS and len(shape) >= 1:
            ax = _class_axis(arguments, len(shape))
            if ax is not None:
                out.append((shape[:ax] + shape[ax + 1:], functools.partial(_like_reduced, v, ax)))
    return out


def _like(obj, arr):
    kind = container_kind(obj)
    if kind == "polars":
        return _polars_like(obj, arr)
    if kind == "xarray":
        return obj.copy(deep=False, data=arr)
    if hasattr(obj, "columns"):
        return type(obj)(arr, index=obj.index, columns=obj.columns, copy=False)
    if hasattr(obj, "index") and getattr(obj, "ndim", 0) == 1 and hasattr(obj, "name"):
        if type(obj).__name__.endswith("Index"):
            return type(obj)(arr, name=obj.name)
        return type(obj)(arr, index=obj.index, name=obj.name, copy=False)
    return arr


def _like_reduced(obj, ax, arr):
    kind = container_kind(obj)
    if arr.ndim == 0:
        return arr
    if kind == "polars":
        pl = sys.modules["polars"]
        return pl.Series(arr) if ax == 1 else arr
    if kind == "xarray":
        dim = obj.dims[ax]
        return obj.isel({dim: 0}, drop=True).copy(deep=False, data=arr)
    if hasattr(obj, "columns"):   # DataFrame: a Series along the other axis
        pd = sys.modules[type(obj).__module__.partition(".")[0]]
        index = obj.index if ax == 1 else obj.columns
        return pd.Series(arr, index=index, copy=False)
    return arr


def _rewrap(result, templates):
    if isinstance(result, tuple):
        return tuple(_rewrap(r, templates) for r in result)
    shape = getattr(result, "shape", None)
    if shape is None or getattr(result, "ndim", 0) == 0:
        return result
    if not isinstance(result, np.ndarray) and container_kind(result) != "dask":
        return result
    for tshape, build in templates:
        if tshape == tuple(shape):
            return build(result)
    return result


# --- polars: Series and DataFrames by position, pl.col expressions -----------

def _is_polars_expr(obj):
    return container_kind(obj) == "polars" and type(obj).__name__ == "Expr"


def _polars_like(obj, arr):
    pl = sys.modules["polars"]
    if hasattr(obj, "columns") and arr.ndim == 2:
        return pl.DataFrame(arr, schema=list(obj.columns), orient="row")
    if arr.ndim != 1:
        return arr
    out = pl.Series(obj.name, arr)
    if obj.null_count():        # a missing input gives a missing result, as polars does
        out = out.scatter(np.flatnonzero(obj.is_null().to_numpy()), None)
    return out


def _polars_dtype(dt):
    pl = sys.modules["polars"]
    return {np.dtype(np.float64): pl.Float64, np.dtype(np.float32): pl.Float32}.get(
        np.dtype(dt))


def _polars_expr(func, name, sig, arguments, kinds):
    """pl.col expressions in: an expression out (one per result), which calls
    the function on the columns' Series when polars evaluates it.  A
    reduction is a scalar expression."""
    pl = sys.modules["polars"]
    keys = [k for k, v in arguments.items() if _is_polars_expr(v)]
    for k, v in arguments.items():
        if kinds[k] and k not in keys:
            raise TypeError(f"{name}: {keys[0]} is a polars expression but {k} is a "
                            f"{type(v).__name__}; pass pl.col expressions for both")
    outputs = _registry.by_name(name).outputs
    reduction = arguments.get("reduction", "none")
    exprs = []
    for i, o in enumerate(outputs):
        scalar = o == "loss" and reduction != "none"
        f = functools.partial(_polars_batch, func, name, sig, arguments, tuple(keys),
                              i if len(outputs) > 1 else None)
        exprs.append(pl.map_batches([arguments[k] for k in keys], f, returns_scalar=scalar))
    return exprs[0] if len(exprs) == 1 else tuple(exprs)


def _polars_batch(func, name, sig, arguments, keys, pick, series):
    """One evaluation of a polars expression: the function on the Series."""
    args = dict(arguments)
    args.update(zip(keys, series))
    kinds = {k: container_kind(v) for k, v in args.items()}
    plain = {k: (_to_numpy(v, name, k) if kinds[k] else v) for k, v in args.items()}
    res = _rewrap(_invoke(func, sig, plain), _templates(name, args, kinds))
    return res[pick] if pick is not None else res
