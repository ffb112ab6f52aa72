"""Gradient-boosting objectives (layer 4): the logistic and softmax losses'
gradient and hessian for XGBoost's ``obj=`` and LightGBM's callable
``objective``, computed by fastlogistic's kernels.

    import fastlogistic.objectives as flo
    xgboost.train(params, dtrain, num_boost_round=100, obj=flo.binary_logistic)
    lightgbm.train({"objective": flo.binary_logistic, ...}, train_set)
    xgboost.train({"num_class": 10, ...}, dtrain, obj=flo.softmax)
    lightgbm.train({"objective": flo.softmax, "num_class": 10, ...}, train_set)

Neither library is imported here: the data object only has to offer
``get_label()`` and ``get_weight()`` (both libraries' do).

The gradient and hessian are those of the built-in objectives, so a model
trained with these callables equals the one trained with the built-in
objective (same initial margin given: see "Initial score" below):

* ``binary_logistic`` -- XGBoost ``binary:logistic`` / LightGBM ``binary``:
  ``grad = w (s(x) - y)``, ``hess = w s(x) (1 - s(x))`` (computed as
  ``e^-|x| / (1 + e^-|x|)^2``, accurate in the tails).  XGBoost floors the
  unweighted hessian at 1e-16 (``max(p (1 - p), 1e-16) w``); that floor is
  applied for XGBoost's data (and in the scikit-learn form, see below), not
  for LightGBM's, which has none.
* ``softmax`` -- XGBoost ``multi:softprob`` / LightGBM ``multiclass``:
  ``p = softmax(x)`` per row, ``grad = w (p - onehot(y))``; the hessian is
  the diagonal approximation with each library's factor:
  XGBoost ``max(2 p (1 - p) w, 1e-16)``, LightGBM ``K / (K - 1) p (1 - p) w``
  (K classes).  The library is told by the data object's type (an
  ``xgboost.DMatrix`` or a ``lightgbm.Dataset``); ``xgboost_softmax`` and
  ``lightgbm_softmax`` fix it (for the scikit-learn APIs, where only arrays
  are passed).

Predictions: ``preds`` are raw margins, shape ``(n,)`` (binary) or ``(n, C)``
(multi-class, as XGBoost >= 2 and LightGBM >= 4 pass them); the returned
``(grad, hess)`` have the same shape.  Labels: probabilities in [0, 1]
(binary) or class indices 0..C-1 (multi-class); weights: ``get_weight()``
(None or empty means unweighted).

scikit-learn APIs: ``XGBClassifier(objective=...)`` calls
``f(y_true, y_pred)`` or ``f(y_true, y_pred, sample_weight=w)`` and
``LGBMClassifier(objective=...)`` calls ``f(y_true, y_pred, weight)``; each
callable here also accepts that form (told apart by the second argument being
an array rather than a data object).

Threads: the objectives run on ``NUM_THREADS`` threads, 1 by default.  The
boosting library calls them between its own parallel regions, while its
OpenMP threads are still spinning; a second thread team on the same cores
then waits for CPU time (XGBoost's wheel bundles its own OpenMP runtime: on a
2-core machine, a 2-thread call right after XGBoost ran was far slower than
one thread).  One thread's time is small against a boosting round (figures in
docs/design-measurements.md); set
``fastlogistic.objectives.NUM_THREADS = None`` for fastlogistic's default.

Initial score: a custom objective starts from margin 0 in LightGBM (no
``boost_from_average``) and from ``base_score`` taken as a margin in XGBoost
(``binary:logistic`` takes it as a probability and, since 2.0, estimates it);
give ``base_margin``/``init_score`` (or ``base_score=0`` for the custom one)
to train the same model as the built-in objective.
"""
import numpy as np

from . import _api, _multiclass

__all__ = ["binary_logistic", "softmax", "xgboost_softmax", "lightgbm_softmax"]

_XGB_HESS_FLOOR = 1e-16

#: threads of the kernels called by the objectives (None: fastlogistic's default)
NUM_THREADS = 1


def _library(data):
    """'xgboost', 'lightgbm' or None (not a data object of either)."""
    mod = type(data).__module__.split(".")[0]
    return mod if mod in ("xgboost", "lightgbm") else None


def _unpack(fname, preds, data, sample_weight):
    """(preds, labels, weights or None, library) for both calling conventions."""
    if hasattr(data, "get_label"):
        labels = data.get_label()
        weights = data.get_weight() if hasattr(data, "get_weight") else None
        library = _library(data)
    else:
        # scikit-learn form: f(y_true, y_pred[, sample_weight])
        labels, preds, weights = preds, data, sample_weight
        library = None
    if labels is None:
        raise ValueError(f"{fname}: the training data has no labels")
    preds = np.asarray(preds)
    labels = np.asarray(labels)
    if preds.dtype.kind != "f":
        raise TypeError(f"{fname}: predictions must be floating point, got dtype {preds.dtype}")
    if weights is not None:
        weights = np.asarray(weights)
        if weights.size == 0:
            weights = None
        elif weights.shape != (labels.shape[0],):
            raise ValueError(f"{fname}: weights must have one entry per row, shape "
                             f"({labels.shape[0]},); got {weights.shape}")
    return preds, labels, weights, library


def binary_logistic(preds, data, sample_weight=None):
    """Gradient and hessian of the logistic loss on raw margins, as XGBoost's
    ``binary:logistic`` and LightGBM's ``binary`` compute them; returns
    ``(grad, hess)`` of ``preds``' shape.  See the module docstring."""
    fname = "binary_logistic"
    preds, labels, weights, library = _unpack(fname, preds, data, sample_weight)
    if preds.shape != labels.shape:
        if preds.ndim == 2 and preds.shape[1] == 1 and preds.shape[0] == labels.shape[0]:
            labels = labels.reshape(preds.shape)
        else:
            raise ValueError(f"{fname}: predictions of shape {preds.shape} do not match "
                             f"{labels.shape[0]} labels (one margin per row expected)")
    w = None if weights is None else weights.reshape((-1,) + (1,) * (preds.ndim - 1))
    grad, hess = _api.binary_cross_entropy_with_logits_grad_hess(preds, labels, weight=w,
                                                                  num_threads=NUM_THREADS)
    if library != "lightgbm":
        # XGBoost: max(p (1 - p), 1e-16) * w
        floor = (_XGB_HESS_FLOOR if w is None
                 else np.multiply(w, _XGB_HESS_FLOOR, dtype=hess.dtype))
        np.maximum(hess, floor, out=hess)
    return grad, hess


def _softmax(fname, preds, data, sample_weight, library):
    preds, labels, weights, detected = _unpack(fname, preds, data, sample_weight)
    library = library or detected or "xgboost"
    if preds.ndim != 2:
        raise ValueError(f"{fname}: multi-class predictions must have shape (n, C), as "
                         f"XGBoost >= 2 and LightGBM >= 4 pass them; got shape {preds.shape}")
    n, C = preds.shape
    if labels.shape != (n,):
        raise ValueError(f"{fname}: {labels.size} labels for {n} rows of predictions")
    y = labels.astype(np.int64)
    if n and (np.any(y != labels) or y.min() < 0 or y.max() >= C):
        bad = int(np.flatnonzero((y != labels) | (y < 0) | (y >= C))[0])
        raise ValueError(f"{fname}: labels must be class indices 0..{C - 1}; found "
                         f"{labels[bad].item()!r} at row {bad}")
    p = _multiclass.softmax(preds, axis=1, num_threads=NUM_THREADS)
    # hessian: the libraries' diagonal approximation, factor * p (1 - p) * w
    hess = np.subtract(1, p, dtype=p.dtype)
    hess *= p
    hess *= 2.0 if library == "xgboost" else C / (C - 1.0)
    if weights is not None:
        hess *= weights[:, None]
    if library == "xgboost":
        np.maximum(hess, _XGB_HESS_FLOOR, out=hess)
    # gradient: (p - onehot(y)) * w, in place on p
    p[np.arange(n), y] -= 1
    if weights is not None:
        p *= weights[:, None]
    return p, hess


def softmax(preds, data, sample_weight=None):
    """Gradient and hessian of the softmax cross-entropy on raw margins of
    shape (n, C), as XGBoost's ``multi:softprob`` or LightGBM's
    ``multiclass`` compute them (the library told by the data object's type;
    XGBoost's factor when it cannot be told).  See the module docstring."""
    return _softmax("softmax", preds, data, sample_weight, None)


def xgboost_softmax(preds, data, sample_weight=None):
    """:func:`softmax` with XGBoost's hessian ``max(2 p (1 - p) w, 1e-16)``,
    for ``XGBClassifier(objective=...)``."""
    return _softmax("xgboost_softmax", preds, data, sample_weight, "xgboost")


def lightgbm_softmax(preds, data, sample_weight=None):
    """:func:`softmax` with LightGBM's hessian ``K / (K - 1) p (1 - p) w``,
    for ``LGBMClassifier(objective=...)``."""
    return _softmax("lightgbm_softmax", preds, data, sample_weight, "lightgbm")
