"""``log_loss`` with scikit-learn's contract (``sklearn.metrics.log_loss``,
version 1.9), computed with fastlogistic's kernels.

What is kept from scikit-learn, in its order: y_proba is validated as its
``check_array`` does (float64/float32/float16 kept, anything else cast to
float64; NaN/inf, dimension and empty-input errors), then [0, 1] bounds,
consistent lengths, sample weights (1-D, right length, not all zero),
labels binarised as ``LabelBinarizer`` does (sorted unique labels of any
type, ``labels=`` with its order warning and its undeclared-label error, a
single label refused, a multilabel indicator matrix taken as it is), the
warning for rows that do not sum to one, the class-count errors, and then
``-sum_c t_c log(clip(p_c, eps, 1 - eps))`` with ``eps = finfo(dtype).eps``,
averaged with the sample weights normalised by their sum (``normalize``)
or summed.

What is not: the per-element work.  Only the probability of the true class
of each sample is gathered and clipped (N values, not N x K), and its log,
weight and sum come from one pass of the binary cross-entropy kernel.  A
float16 y_proba is computed in float32 (scikit-learn sums in float16).
"""
import math
import numbers
import warnings

import numpy as np

from .. import _api
from .. import _kernels as _k

__all__ = ["log_loss"]

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.float16))


def _as_proba(y_proba):
    """check_array(y_proba, ensure_2d=False, dtype=(float64, float32, float16))."""
    if hasattr(y_proba, "to_numpy") and not isinstance(y_proba, np.ndarray):
        y_proba = y_proba.to_numpy()
    if hasattr(y_proba, "toarray") or hasattr(y_proba, "tocsr"):
        raise TypeError("log_loss: sparse y_proba is not supported; pass a dense array")
    a = np.asarray(y_proba)
    if a.dtype.kind == "c":
        raise ValueError("Complex data not supported\n{}\n".format(a))
    if a.dtype not in _FLOATS:
        if a.dtype.kind == "O" or a.dtype.kind in "USV":
            try:
                a = a.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"log_loss: y_proba cannot be converted to float: {exc}") from None
        else:
            a = a.astype(np.float64)
    if a.ndim == 0:
        raise ValueError(
            f"Expected 2D array, got scalar array instead:\narray={a}.\n"
            "Reshape your data either using array.reshape(-1, 1) if your data has a "
            "single feature or array.reshape(1, -1) if it contains a single sample.")
    if a.ndim > 2:
        raise ValueError(f"Found array with dim {a.ndim}, while dim <= 2 is required.")
    if a.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={a.shape}) while a "
                         f"minimum of 1 is required.")
    return a


def _n_samples(x):
    if hasattr(x, "shape") and len(getattr(x, "shape", ())) > 0:
        return int(x.shape[0])
    if hasattr(x, "__len__"):
        return len(x)
    raise TypeError(f"Expected sequence or array-like, got {type(x)}")


def _is_integral_float(a):
    return a.dtype.kind == "f" and bool(np.all(np.asarray(a == np.round(a))))


def _unique_inverse(y):
    """(sorted unique labels, index of each sample's label), O(N) for small ints."""
    if y.dtype.kind in "iub" and y.size:
        yi = y.view(np.uint8) if y.dtype.kind == "b" else y
        lo, hi = int(yi.min()), int(yi.max())
        if hi - lo <= max(1024, 2 * y.size):
            if lo == 0 and hi == 1:
                return np.array([0, 1], dtype=y.dtype), yi
            shifted = (yi - lo) if lo else yi
            counts = np.bincount(shifted, minlength=hi - lo + 1)
            present = np.flatnonzero(counts)
            lut = np.zeros(hi - lo + 1, dtype=np.intp)
            lut[present] = np.arange(present.size)
            classes = (present + lo).astype(y.dtype)
            return classes, lut[shifted]
    try:
        return np.unique(y, return_inverse=True)
    except TypeError:
        raise ValueError("Mix of label input types (string and number)") from None


def _labels(labels):
    """labels= as LabelBinarizer.fit checks it: 1-D and not empty."""
    lab = np.asarray(labels)
    if lab.ndim == 0:
        raise TypeError("Input should have at least 1 dimension i.e. satisfy "
                        f"`len(x.shape) > 0`, got scalar `{lab!r}` instead.")
    if lab.ndim > 1 and lab.shape[1] > 1:
        raise ValueError("Multioutput target data is not supported with label binarization")
    lab = lab.reshape(-1)
    if lab.size == 0:
        raise ValueError(f"y has 0 samples: {lab!r}")
    return lab


def _binarize(y_true, labels):
    """(classes, class index per sample or None, indicator matrix or None),
    as LabelBinarizer.fit(labels or y_true).transform(y_true)."""
    y_orig = y_true
    lab = None if labels is None else _labels(labels)
    if hasattr(y_true, "to_numpy") and not isinstance(y_true, np.ndarray):
        y_true = y_true.to_numpy()
    y = np.asarray(y_true)
    if y.dtype.kind == "f" and y.size and not np.isfinite(y).all():
        # scikit-learn checks finiteness before the label type
        if np.isnan(y).any():
            raise ValueError("Input y contains NaN.")
        raise ValueError(f"Input y contains infinity or a value too large for {y.dtype!r}.")
    if y.ndim == 2 and y.shape[1] > 1:
        # a label indicator matrix (multilabel-indicator) or multioutput
        if y.dtype.kind in "biuf" and bool(np.all((y == 0) | (y == 1))):
            if lab is not None and lab.shape[0] != y.shape[1]:
                raise ValueError(
                    f"The number of classes in labels is different from that in "
                    f"y_true: {lab.shape[0]} vs {y.shape[1]}")
            classes = np.arange(y.shape[1])
            return classes, None, y
        raise ValueError("Multioutput target data is not supported with label binarization")
    if y.ndim == 2:
        y = y.ravel()
    if y.ndim != 1:
        raise ValueError(f"log_loss: y_true must be 1-D labels or a 2-D label indicator "
                         f"matrix; got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"y has 0 samples: {y!r}")
    if y.dtype.kind == "f" and not _is_integral_float(y):
        raise ValueError("Unknown label type: continuous. Maybe you are trying to fit a "
                         "classifier, which expects discrete classes on a regression "
                         "target with continuous values.")
    if y.dtype.kind == "O":
        kinds = {isinstance(v, str) for v in y.tolist()}
        if len(kinds) > 1:
            raise ValueError("Mix of label input types (string and number)")

    if lab is not None:
        classes = np.unique(lab)
        same_order = classes.shape == lab.shape and bool(np.all(classes == lab))
        if not same_order:
            warnings.warn(
                f"Labels passed were {labels}. But this function "
                "assumes labels are ordered lexicographically. "
                f"Pass the ordered labels={classes.tolist()} and ensure that "
                "the columns of y_prob correspond to this ordering.",
                UserWarning, stacklevel=3)
        try:
            pos = np.searchsorted(classes, y)
        except TypeError:
            raise ValueError("Mix of label input types (string and number)") from None
        posc = np.minimum(pos, classes.size - 1)
        found = classes[posc] == y
        if not bool(np.all(found)):
            undeclared = set(y_orig if not hasattr(y_orig, "to_numpy") else y) - set(labels)
            raise ValueError(
                f"y_true contains values {undeclared} not belonging "
                f"to the passed labels {labels}.")
        idx = posc
    else:
        classes, idx = _unique_inverse(y)

    if classes.shape[0] == 1:
        if labels is None:
            raise ValueError(
                "y_true contains only one label ({0}). Please "
                "provide the list of all expected class labels explicitly through the "
                "labels argument.".format(classes[0]))
        raise ValueError("The labels array needs to contain at least two "
                         "labels, got {0}.".format(classes))
    return classes, idx, None


def _sample_weight(sample_weight, n):
    if isinstance(sample_weight, numbers.Number):
        sw = np.full(n, sample_weight, dtype=np.float64)
    else:
        if hasattr(sample_weight, "to_numpy") and not isinstance(sample_weight, np.ndarray):
            sample_weight = sample_weight.to_numpy()
        sw = np.asarray(sample_weight)
        if sw.dtype not in _FLOATS[:2]:
            sw = sw.astype(np.float64)
        if not np.all(np.isfinite(sw)):
            kind = "NaN" if np.any(np.isnan(sw)) else \
                f"infinity or a value too large for {sw.dtype!r}"
            raise ValueError(f"Input sample_weight contains {kind}.")
        if sw.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got "
                f"{sw.ndim}D array. Expected either a scalar value "
                f"or a 1D array of length {n}.")
        if sw.shape != (n,):
            raise ValueError("sample_weight.shape == {}, expected {}!".format(sw.shape, (n,)))
    if not np.any(sw):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    return sw


def log_loss(y_true, y_proba=None, *, normalize=True, sample_weight=None, labels=None,
             y_pred="deprecated"):
    """Log loss (logistic loss, cross-entropy) with ``sklearn.metrics.log_loss``'s
    contract: labels of any type (sorted as ``LabelBinarizer`` sorts them),
    ``labels=``, 1-D probabilities of the positive class or a
    (n_samples, n_classes) matrix, probabilities clipped to
    ``[eps, 1 - eps]`` with ``eps = numpy.finfo(y_proba.dtype).eps``,
    ``sample_weight`` normalised by its sum, ``normalize=False`` for the sum.
    Returns a Python float.  The same errors and warnings as scikit-learn's
    (``y_pred=`` is its deprecated spelling of ``y_proba``).
    """
    try:
        return _log_loss(y_true, y_proba, normalize=normalize, sample_weight=sample_weight,
                         labels=labels, y_pred=y_pred)
    except (TypeError, ValueError) as exc:
        # scikit-learn's messages, led by the function's name
        from .._api import _named_error
        raise _named_error("log_loss", exc) from None


def _log_loss(y_true, y_proba=None, *, normalize=True, sample_weight=None, labels=None,
              y_pred="deprecated"):
    """The body of log_loss (its errors unprefixed)."""
    from .._api import binary_cross_entropy
    from .._multiclass import categorical_cross_entropy

    if not (isinstance(y_pred, str) and y_pred == "deprecated"):
        if y_proba is not None:
            raise ValueError(
                "Cannot use both `y_pred` and `y_proba`. `y_pred` is deprecated, "
                "use `y_proba` instead.")
        warnings.warn(
            "`y_pred` was renamed to `y_proba` in version 1.9 and will be removed "
            "in 1.11. Use `y_proba` instead.", FutureWarning, stacklevel=2)
        y_proba = y_pred
    if y_proba is None:
        raise TypeError("log_loss() missing required argument: 'y_proba'")
    if labels is not None and (isinstance(labels, (str, bytes)) or not (
            hasattr(labels, "__len__") or hasattr(labels, "shape")
            or hasattr(labels, "__array__"))):
        # scikit-learn's parameter validation, before anything is read
        raise TypeError(f"The 'labels' parameter of log_loss must be an array-like or "
                        f"None. Got {labels!r} instead.")
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"log_loss: normalize must be a bool, got {type(normalize).__name__}")

    p = _as_proba(y_proba)
    binary_1d = p.ndim == 1 or p.shape[1] == 1
    eps = np.finfo(p.dtype).eps
    cdt = np.float32 if p.dtype == np.float16 else p.dtype.type
    lo, hi = p.dtype.type(eps), p.dtype.type(1 - eps)
    label_error = None
    if binary_1d:
        mn, mx = p.min(), p.max()
        maybe_nan = bool(np.isnan(mn) or np.isnan(mx))
    else:
        # one pass over the matrix (_kernels.proba_scan, float32 or float64,
        # kernel-ready) finds the extremes and row sums and gathers each row's
        # clipped true-class probability; it needs the class indices, so the
        # labels are encoded first and their errors raised in scikit-learn's
        # order (after those of y_proba)
        pk = p.astype(cdt) if p.dtype == np.float16 else _api._kernel_operand(p)
        try:
            classes, idx, indicator = _binarize(y_true, labels)
        except (TypeError, ValueError) as exc:
            label_error = exc
            idx = None
        q = None
        if idx is not None and idx.shape == (p.shape[0],):
            idx = np.ascontiguousarray(idx, dtype=np.intp)
            q = np.empty(p.shape[0], dtype=cdt)
        else:
            idx = None
        mn, mx, maybe_nan, smin, smax = _k.proba_scan(pk, idx, q, float(lo), float(hi))
        if maybe_nan and not np.isnan(pk).any():
            maybe_nan = False          # a row's sum was inf - inf: reported as infinity
    if maybe_nan or not (math.isfinite(mn) and math.isfinite(mx)):
        kind = "NaN" if maybe_nan else f"infinity or a value too large for {p.dtype!r}"
        raise ValueError(f"Input y_proba contains {kind}.")
    if mx > 1:
        raise ValueError(f"y_prob contains values greater than 1: {p.dtype.type(mx)}")
    if mn < 0:
        raise ValueError(f"y_prob contains values lower than 0: {p.dtype.type(mn)}")

    lengths = [p.shape[0], _n_samples(y_true)]
    if sample_weight is not None and not isinstance(sample_weight, numbers.Number):
        lengths.append(_n_samples(sample_weight))
    if len(set(lengths)) > 1:
        raise ValueError("Found input variables with inconsistent numbers of samples: %r"
                         % [int(n) for n in lengths])
    n = p.shape[0]
    sw = None if sample_weight is None else _sample_weight(sample_weight, n)

    if binary_1d:
        classes, idx, indicator = _binarize(y_true, labels)
    elif label_error is not None:
        raise label_error
    n_classes = classes.shape[0]

    k = 2 if binary_1d else p.shape[1]
    if not binary_1d:
        tol = 1e-8 + math.sqrt(eps)
        if not (1 - tol <= smin and smax <= 1 + tol):
            warnings.warn("The y_prob values do not sum to one. Make sure to pass "
                          "probabilities.", UserWarning, stacklevel=2)
    if n_classes != k:
        if labels is None:
            raise ValueError(
                "y_true and y_prob contain different number of "
                "classes: {0} vs {1}. Please provide the true "
                "labels explicitly through the labels argument. "
                "Classes found in "
                "y_true: {2}".format(n_classes, k, classes))
        raise ValueError(
            "The number of classes in labels is different "
            "from that in y_prob. Classes found in "
            "labels: {0}".format(classes))
    if indicator is not None:
        if binary_1d:
            p1 = p.reshape(-1)
            p = np.stack([1 - p1, p1], axis=1)
        q = np.clip(p, lo, hi).astype(cdt, copy=False)
        t = indicator.astype(cdt)
        per_row = categorical_cross_entropy(q, t, reduction="none")
        if sw is None:
            total = float(per_row.sum(dtype=np.float64))
            return total / n if normalize else total
        total = float(np.dot(per_row.astype(np.float64), sw.astype(np.float64)))
        return total / float(sw.sum(dtype=np.float64)) if normalize else total

    if binary_1d:
        # -(t log p + (1 - t) log(1 - p)) on the clipped positive-class probability
        q = np.clip(p.reshape(-1), lo, hi).astype(cdt, copy=False)
        t = idx if idx.dtype.itemsize <= 8 else idx.astype(np.int64)
    else:
        t = cdt(1.0)                           # q: gathered and clipped by proba_scan
    if sw is None:
        red = "mean" if normalize else "sum"
        return float(binary_cross_entropy(q, t, reduction=red))
    w = sw if sw.dtype == q.dtype else sw.astype(cdt)
    total = float(binary_cross_entropy(q, t, w, reduction="sum"))
    if not normalize:
        return total
    scale = float(sw.sum(dtype=np.float64))
    if scale == 0.0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    return total / scale
