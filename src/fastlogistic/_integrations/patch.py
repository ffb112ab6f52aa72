"""``fastlogistic.patch()``: SciPy's and scikit-learn's logistic code run on
fastlogistic's kernels without editing the code that calls them.

* scikit-learn (1.9.x, the interface tested): the methods ``loss``,
  ``gradient``, ``loss_gradient``, ``gradient_hessian`` of
  ``sklearn._loss.loss.HalfBinomialLoss`` and ``HalfMultinomialLoss`` (and the
  latter's ``gradient_proba``) are replaced on the classes by versions that
  call fastlogistic's public functions (same arguments: ``sample_weight``,
  the ``*_out`` arrays, ``n_threads``; same results to a few ULP).  That
  accelerates LogisticRegression, HistGradientBoostingClassifier and
  everything else built on these losses.  Other inputs than NumPy float32 /
  float64 arrays (array-API namespaces, other dtypes) and subclasses that
  override a method go to scikit-learn's original.
* SciPy: the float32/float64 loops of ``scipy.special.expit``, ``log_expit``
  and ``logit`` are replaced by the compiled module's
  ``patch_scipy_ufuncs()`` (restored bit for bit by ``unpatch_scipy_ufuncs``).

``unpatch()`` restores everything; ``with patched(): ...`` patches for a block.
"""
import contextlib
import threading
import warnings

import numpy as np

__all__ = ["patch", "unpatch", "patched", "is_patched"]

SKLEARN_TESTED = ((1, 9),)       # major.minor versions whose interface was tested
_EXPECTED = {
    "loss": ("self", "y_true", "raw_prediction", "sample_weight", "loss_out", "n_threads"),
    "loss_gradient": ("self", "y_true", "raw_prediction", "sample_weight", "loss_out",
                      "gradient_out", "n_threads"),
    "gradient": ("self", "y_true", "raw_prediction", "sample_weight", "gradient_out",
                 "n_threads"),
    "gradient_hessian": ("self", "y_true", "raw_prediction", "sample_weight",
                         "gradient_out", "hessian_out", "n_threads"),
    "gradient_proba": ("self", "y_true", "raw_prediction", "sample_weight", "gradient_out",
                       "proba_out", "n_threads"),
}

_lock = threading.RLock()
_saved = {}            # (class, method name) -> original attribute (or _ABSENT)
_state = {"scipy": False, "sklearn": False}
_ABSENT = object()
_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


# ---------------------------------------------------------------------------
# helpers shared by the replacement methods
# ---------------------------------------------------------------------------

def _threads(n_threads):
    try:
        n = int(n_threads)
    except (TypeError, ValueError):
        return None
    return n if n >= 1 else None


def _plain(*arrays):
    """True when every array is a NumPy float32/float64 ndarray (or None)
    of one dtype: the inputs fastlogistic computes directly."""
    dt = None
    for a in arrays:
        if a is None:
            continue
        if type(a) is not np.ndarray or a.dtype not in _FLOATS or not a.dtype.isnative:
            return False
        if dt is None:
            dt = a.dtype
        elif a.dtype != dt:
            return False
    return True


def _squeeze(a):
    if a is not None and a.ndim == 2 and a.shape[1] == 1:
        return a.squeeze(1)
    return a


def _store(out, value):
    """value into out (any dtype/strides); returns out."""
    if out is value:
        return out
    np.copyto(out, value, casting="unsafe")
    return out


def _direct(out, dtype):
    """out when fastlogistic can write it as it is (same dtype, C-contiguous)."""
    if (out is not None and out.dtype == dtype and out.flags.c_contiguous
            and out.flags.writeable and out.flags.aligned):
        return out
    return None


# ---------------------------------------------------------------------------
# HalfBinomialLoss: loss = log(1 + exp(raw)) - y raw, gradient expit(raw) - y,
# hessian expit(raw) (1 - expit(raw)), each multiplied by sample_weight:
# fastlogistic's binary_cross_entropy_with_logits with reduction "none" and
# the sample weights as `weight`.
# ---------------------------------------------------------------------------

def _binomial_methods(orig):
    from .. import _api

    bce = _api.binary_cross_entropy_with_logits
    lg = _api.binary_cross_entropy_with_logits_loss_and_grad
    grad = _api.binary_cross_entropy_with_logits_grad
    gh = _api.binary_cross_entropy_with_logits_grad_hess

    def loss(self, y_true, raw_prediction, sample_weight=None, loss_out=None, n_threads=1):
        raw = _squeeze(raw_prediction)
        if not _plain(y_true, raw, sample_weight) or raw.ndim != 1:
            return orig["loss"](self, y_true, raw_prediction, sample_weight=sample_weight,
                                loss_out=loss_out, n_threads=n_threads)
        nt = _threads(n_threads)
        if loss_out is None:
            return bce(raw, y_true, sample_weight, reduction="none", num_threads=nt)
        d = _direct(loss_out, raw.dtype)
        res = bce(raw, y_true, sample_weight, reduction="none", out=d, num_threads=nt)
        return _store(loss_out, res)

    def loss_gradient(self, y_true, raw_prediction, sample_weight=None, loss_out=None,
                      gradient_out=None, n_threads=1):
        raw = _squeeze(raw_prediction)
        if not _plain(y_true, raw, sample_weight) or raw.ndim != 1:
            return orig["loss_gradient"](self, y_true, raw_prediction,
                                         sample_weight=sample_weight, loss_out=loss_out,
                                         gradient_out=gradient_out, n_threads=n_threads)
        nt = _threads(n_threads)
        if loss_out is None:
            if gradient_out is None:
                return lg(raw, y_true, sample_weight, reduction="none", num_threads=nt)
            loss_out = np.empty_like(y_true, dtype=gradient_out.dtype)
        elif gradient_out is None:
            gradient_out = np.empty_like(raw_prediction, dtype=loss_out.dtype)
        g_out = _squeeze(gradient_out)
        dl, dg = _direct(loss_out, raw.dtype), _direct(g_out, raw.dtype)
        lv, gv = lg(raw, y_true, sample_weight, reduction="none", out=(dl, dg),
                    num_threads=nt)
        _store(loss_out, lv)
        _store(g_out, gv)
        return loss_out, gradient_out if gradient_out.ndim == 1 else g_out

    def gradient(self, y_true, raw_prediction, sample_weight=None, gradient_out=None,
                 n_threads=1):
        raw = _squeeze(raw_prediction)
        if not _plain(y_true, raw, sample_weight) or raw.ndim != 1:
            return orig["gradient"](self, y_true, raw_prediction, sample_weight=sample_weight,
                                    gradient_out=gradient_out, n_threads=n_threads)
        nt = _threads(n_threads)
        if gradient_out is None:
            return grad(raw, y_true, sample_weight, reduction="none", num_threads=nt)
        g_out = _squeeze(gradient_out)
        res = grad(raw, y_true, sample_weight, reduction="none",
                   out=_direct(g_out, raw.dtype), num_threads=nt)
        return _store(g_out, res)

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None, gradient_out=None,
                         hessian_out=None, n_threads=1):
        raw = _squeeze(raw_prediction)
        if not _plain(y_true, raw, sample_weight) or raw.ndim != 1:
            return orig["gradient_hessian"](self, y_true, raw_prediction,
                                            sample_weight=sample_weight,
                                            gradient_out=gradient_out,
                                            hessian_out=hessian_out, n_threads=n_threads)
        nt = _threads(n_threads)
        if gradient_out is None:
            if hessian_out is None:
                return gh(raw, y_true, sample_weight, reduction="none", num_threads=nt)
            gradient_out = np.empty_like(hessian_out)
        elif hessian_out is None:
            hessian_out = np.empty_like(gradient_out)
        g_out, h_out = _squeeze(gradient_out), _squeeze(hessian_out)
        gv, hv = gh(raw, y_true, sample_weight, reduction="none",
                    out=(_direct(g_out, raw.dtype), _direct(h_out, raw.dtype)), num_threads=nt)
        _store(g_out, gv)
        _store(h_out, hv)
        return g_out, h_out

    return {"loss": loss, "loss_gradient": loss_gradient, "gradient": gradient,
            "gradient_hessian": gradient_hessian}


# ---------------------------------------------------------------------------
# HalfMultinomialLoss: loss_i = logsumexp(raw_i) - raw_i[y_i] (no factor 1/2),
# gradient softmax(raw_i) - onehot(y_i), hessian p (1 - p), gradient_proba
# (gradient, softmax); loss, gradient and hessian multiplied by sample_weight.
# fastlogistic's cross_entropy family with class-index targets, reduction
# "none"; the per-sample weight is applied to its per-row results.
# ---------------------------------------------------------------------------

def _multinomial_methods(orig):
    from .. import _multiclass

    ce = _multiclass.cross_entropy
    ce_lg = _multiclass.cross_entropy_loss_and_grad
    ce_g = _multiclass.cross_entropy_grad
    softmax = _multiclass.softmax

    def ok(y_true, raw, sample_weight):
        return (_plain(y_true, raw, sample_weight) and raw.ndim == 2 and y_true.ndim == 1
                and raw.shape[0] == y_true.shape[0])

    def labels(y_true, n_classes):
        idx = y_true.astype(np.intp)
        return idx

    def weigh_rows(a, sw):
        if sw is not None:
            if a.ndim == 1:
                a *= sw
            else:
                a *= sw[:, None]
        return a

    def loss(self, y_true, raw_prediction, sample_weight=None, loss_out=None, n_threads=1):
        if not ok(y_true, raw_prediction, sample_weight):
            return orig["loss"](self, y_true, raw_prediction, sample_weight=sample_weight,
                                loss_out=loss_out, n_threads=n_threads)
        lv = ce(raw_prediction, labels(y_true, raw_prediction.shape[1]), reduction="none",
                num_threads=_threads(n_threads))
        lv = weigh_rows(lv, sample_weight)
        if loss_out is None:
            return lv
        return _store(loss_out, lv)

    def loss_gradient(self, y_true, raw_prediction, sample_weight=None, loss_out=None,
                      gradient_out=None, n_threads=1):
        if not ok(y_true, raw_prediction, sample_weight):
            return orig["loss_gradient"](self, y_true, raw_prediction,
                                         sample_weight=sample_weight, loss_out=loss_out,
                                         gradient_out=gradient_out, n_threads=n_threads)
        lv, gv = ce_lg(raw_prediction, labels(y_true, raw_prediction.shape[1]),
                       reduction="none", num_threads=_threads(n_threads))
        weigh_rows(lv, sample_weight)
        weigh_rows(gv, sample_weight)
        if loss_out is None and gradient_out is None:
            return lv, gv
        if loss_out is None:
            loss_out = np.empty_like(y_true, dtype=gradient_out.dtype)
        elif gradient_out is None:
            gradient_out = np.empty_like(raw_prediction, dtype=loss_out.dtype)
        return _store(loss_out, lv), _store(gradient_out, gv)

    def gradient(self, y_true, raw_prediction, sample_weight=None, gradient_out=None,
                 n_threads=1):
        if not ok(y_true, raw_prediction, sample_weight):
            return orig["gradient"](self, y_true, raw_prediction, sample_weight=sample_weight,
                                    gradient_out=gradient_out, n_threads=n_threads)
        gv = ce_g(raw_prediction, labels(y_true, raw_prediction.shape[1]), reduction="none",
                  num_threads=_threads(n_threads))
        weigh_rows(gv, sample_weight)
        return gv if gradient_out is None else _store(gradient_out, gv)

    def _grad_proba(y_true, raw_prediction, sample_weight, n_threads):
        nt = _threads(n_threads)
        proba = softmax(raw_prediction, axis=1, num_threads=nt)
        gv = ce_g(raw_prediction, labels(y_true, raw_prediction.shape[1]), reduction="none",
                  num_threads=nt)
        return weigh_rows(gv, sample_weight), proba

    def gradient_hessian(self, y_true, raw_prediction, sample_weight=None, gradient_out=None,
                         hessian_out=None, n_threads=1):
        # two passes over the rows (softmax, then the gradient) where
        # scikit-learn fuses one loop: still the faster on both layouts
        # (measured: docs/multiclass.md)
        if not ok(y_true, raw_prediction, sample_weight):
            return orig["gradient_hessian"](self, y_true, raw_prediction,
                                            sample_weight=sample_weight,
                                            gradient_out=gradient_out,
                                            hessian_out=hessian_out, n_threads=n_threads)
        gv, p = _grad_proba(y_true, raw_prediction, sample_weight, n_threads)
        hv = p
        hv *= 1 - p            # p (1 - p), in place of the probabilities
        weigh_rows(hv, sample_weight)
        if gradient_out is None and hessian_out is None:
            return gv, hv
        if gradient_out is None:
            gradient_out = np.empty_like(hessian_out)
        elif hessian_out is None:
            hessian_out = np.empty_like(gradient_out)
        return _store(gradient_out, gv), _store(hessian_out, hv)

    def gradient_proba(self, y_true, raw_prediction, sample_weight=None, gradient_out=None,
                       proba_out=None, n_threads=1):
        if not ok(y_true, raw_prediction, sample_weight):
            return orig["gradient_proba"](self, y_true, raw_prediction,
                                          sample_weight=sample_weight,
                                          gradient_out=gradient_out, proba_out=proba_out,
                                          n_threads=n_threads)
        gv, p = _grad_proba(y_true, raw_prediction, sample_weight, n_threads)
        if gradient_out is None and proba_out is None:
            return gv, p
        if gradient_out is None:
            gradient_out = np.empty_like(proba_out)
        elif proba_out is None:
            proba_out = np.empty_like(gradient_out)
        return _store(gradient_out, gv), _store(proba_out, p)

    return {"loss": loss, "loss_gradient": loss_gradient, "gradient": gradient,
            "gradient_hessian": gradient_hessian, "gradient_proba": gradient_proba}


# ---------------------------------------------------------------------------
# patch / unpatch
# ---------------------------------------------------------------------------

def _sklearn_version_ok():
    import sklearn
    parts = sklearn.__version__.split(".")
    try:
        mm = (int(parts[0]), int(parts[1]))
    except (ValueError, IndexError):
        return False, sklearn.__version__
    return mm in SKLEARN_TESTED, sklearn.__version__


def _interface_ok(cls, names):
    import inspect
    for name in names:
        fn = getattr(cls, name, None)
        if fn is None:
            return f"{cls.__name__}.{name} is missing"
        params = tuple(inspect.signature(fn).parameters)
        if params != _EXPECTED[name]:
            return f"{cls.__name__}.{name} has parameters {params}"
    return None


def _patch_sklearn():
    try:
        from sklearn._loss import loss as sk_loss
    except ImportError:
        warnings.warn("fastlogistic.patch: scikit-learn is not installed; nothing patched "
                      "there", RuntimeWarning, stacklevel=3)
        return False
    ok, version = _sklearn_version_ok()
    targets = [(sk_loss.HalfBinomialLoss, _binomial_methods),
               (sk_loss.HalfMultinomialLoss, _multinomial_methods)]
    problem = None if ok else (
        f"scikit-learn {version} is not a tested version "
        f"({', '.join('%d.%d.x' % v for v in SKLEARN_TESTED)})")
    if problem is None:
        for cls, make in targets:
            names = list(make({n: None for n in _EXPECTED}))
            problem = _interface_ok(cls, names)
            if problem:
                break
    if problem:
        warnings.warn(f"fastlogistic.patch: {problem}; scikit-learn left unpatched",
                      RuntimeWarning, stacklevel=3)
        return False
    for cls, make in targets:
        orig = {}
        for name in _EXPECTED:
            if hasattr(cls, name):
                orig[name] = getattr(cls, name)
        methods = make(orig)
        for name, fn in methods.items():
            key = (cls, name)
            if key not in _saved:
                _saved[key] = cls.__dict__.get(name, _ABSENT)
            original = orig[name]
            fn.__name__ = name
            fn.__qualname__ = f"{cls.__name__}.{name}"
            fn.__doc__ = getattr(original, "__doc__", None)
            fn.__wrapped__ = original
            fn.__fastlogistic__ = True
            setattr(cls, name, fn)
    return True


def _unpatch_sklearn():
    for (cls, name), original in list(_saved.items()):
        if original is _ABSENT:
            try:
                delattr(cls, name)
            except AttributeError:
                pass
        else:
            setattr(cls, name, original)
        del _saved[(cls, name)]


def _scipy_hooks():
    from .. import _kernels
    return (getattr(_kernels, "patch_scipy_ufuncs", None),
            getattr(_kernels, "unpatch_scipy_ufuncs", None))


def _scipy_patched_now():
    from .. import _kernels
    query = getattr(_kernels, "scipy_ufuncs_patched", None)
    return bool(query()) if query is not None else False


def patch(scipy=True, sklearn=True):
    """Make SciPy's ``expit``/``log_expit``/``logit`` ufuncs (``scipy=True``)
    and scikit-learn's ``HalfBinomialLoss``/``HalfMultinomialLoss``
    (``sklearn=True``) run on fastlogistic.  Idempotent; returns a dict
    ``{"scipy": bool, "sklearn": bool}`` of what is patched now.  A library
    that is missing, or a scikit-learn version whose interface was not tested,
    is left alone with a RuntimeWarning."""
    with _lock:
        if sklearn and not _state["sklearn"]:
            _state["sklearn"] = _patch_sklearn()
        if scipy and not _state["scipy"]:
            do, _ = _scipy_hooks()
            if do is None:
                warnings.warn("fastlogistic.patch: the SciPy ufunc patch is not available in "
                              "this build (pending); SciPy left unpatched",
                              RuntimeWarning, stacklevel=2)
            else:
                try:
                    names = do()
                except ImportError:
                    warnings.warn("fastlogistic.patch: SciPy is not installed; nothing "
                                  "patched there", RuntimeWarning, stacklevel=2)
                else:
                    if names is not None and not names and not _scipy_patched_now():
                        warnings.warn("fastlogistic.patch: SciPy's expit/log_expit/logit "
                                      "have no float32/float64 loops to replace; SciPy "
                                      "left unpatched", RuntimeWarning, stacklevel=2)
                    else:
                        _state["scipy"] = True
        return dict(_state)


def unpatch():
    """Undo :func:`patch`: scikit-learn's methods and SciPy's loops restored."""
    with _lock:
        if _state["sklearn"]:
            _unpatch_sklearn()
            _state["sklearn"] = False
        if _state["scipy"]:
            _, undo = _scipy_hooks()
            if undo is not None:
                undo()
            _state["scipy"] = False
        return dict(_state)


def is_patched():
    """``{"scipy": bool, "sklearn": bool}``: what :func:`patch` has replaced."""
    return dict(_state)


@contextlib.contextmanager
def patched(scipy=True, sklearn=True):
    """``with fastlogistic.patched(): ...``: patch for the block, then restore
    what was patched before it."""
    with _lock:
        before = dict(_state)
        patch(scipy=scipy, sklearn=sklearn)
    try:
        yield is_patched()
    finally:
        with _lock:
            unpatch()
            if before["sklearn"] or before["scipy"]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    patch(scipy=before["scipy"], sklearn=before["sklearn"])
