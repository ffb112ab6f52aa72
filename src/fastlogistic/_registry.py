"""The public names of ``fastlogistic``, one record each: data only.

Everything that needs the list of public functions reads it here instead of
spelling the names again: the package face (``__all__`` and which functions
it wraps for containers), the container adapter, the Dask graphs, and the
tests (the API fuzzer's specs, the stubs' checks, the cluster and pickle
tests).  Nothing here imports the rest of the package.

Each record says:

``name``
    the public name, ``fastlogistic.<name>``.
``module``
    the module below the face that defines the NumPy-level object, relative
    to the package (``"_api"``, ``"_multiclass"``, ...).
``kind``
    ``"ufunc"``: a ``numpy.ufunc`` (SciPy's names and types);
    ``"elementwise"``: a function over one of the library's ufuncs
    (containers through ``__array_ufunc__``);
    ``"binary"``: a binary cross-entropy function (input, target, ...);
    ``"softmax"``: softmax over ``axis``;
    ``"multiclass"``: a categorical cross-entropy function (class axis);
    ``"log_loss"``: scikit-learn's ``log_loss``;
    ``"config"``: threads, caches, configuration;
    ``"patch"``: patching SciPy and scikit-learn.
``outputs``
    what the function returns, in order: ``"value"`` (an array like the
    input), ``"loss"`` (per element for ``reduction="none"``, else a
    scalar), ``"grad"``, ``"hess"``; empty for the non-array functions.
``containers``
    how pandas, xarray, polars and dask objects are taken:
    ``"ufunc"`` (NumPy's ``__array_ufunc__`` protocol: the container's own
    rules), ``"wrap"`` (the container adapter converts and rewraps, labels
    must line up), ``"positional"`` (as ``"wrap"``, samples paired by
    position: scikit-learn's contract), ``""`` (not an array function).
``lazy``
    imported on first use, not at ``import fastlogistic``.
"""
from typing import NamedTuple, Tuple

__all__ = ["Public", "PUBLIC", "by_name", "names"]


class Public(NamedTuple):
    name: str
    module: str
    kind: str
    outputs: Tuple[str, ...] = ()
    containers: str = ""
    lazy: bool = False


_V, _L, _G = ("value",), ("loss",), ("grad",)

PUBLIC = (
    Public("sigmoid", "_api", "elementwise", _V, "ufunc"),
    Public("expit", "_api", "ufunc", _V, "ufunc"),
    Public("log_sigmoid", "_api", "elementwise", _V, "ufunc"),
    Public("log_expit", "_api", "ufunc", _V, "ufunc"),
    Public("logit", "_api", "ufunc", _V, "ufunc"),
    Public("softplus", "_api", "elementwise", _V, "ufunc"),
    Public("sigmoid_grad", "_api", "elementwise", _V, "ufunc"),
    Public("binary_cross_entropy", "_api", "binary", _L, "wrap"),
    Public("binary_cross_entropy_grad", "_api", "binary", _G, "wrap"),
    Public("binary_cross_entropy_with_logits", "_api", "binary", _L, "wrap"),
    Public("binary_cross_entropy_with_logits_grad", "_api", "binary", _G, "wrap"),
    Public("binary_cross_entropy_with_logits_loss_and_grad", "_api", "binary",
           ("loss", "grad"), "wrap"),
    Public("binary_cross_entropy_with_logits_grad_hess", "_api", "binary",
           ("grad", "hess"), "wrap"),
    Public("softmax", "_multiclass", "softmax", _V, "wrap"),
    Public("log_softmax", "_multiclass", "softmax", _V, "wrap"),
    Public("cross_entropy", "_multiclass", "multiclass", _L, "wrap"),
    Public("cross_entropy_grad", "_multiclass", "multiclass", _G, "wrap"),
    Public("cross_entropy_loss_and_grad", "_multiclass", "multiclass", ("loss", "grad"),
           "wrap"),
    Public("categorical_cross_entropy", "_multiclass", "multiclass", _L, "wrap"),
    Public("categorical_cross_entropy_grad", "_multiclass", "multiclass", _G, "wrap"),
    Public("get_num_threads", "_config", "config"),
    Public("set_num_threads", "_config", "config"),
    Public("get_stream_threshold", "_config", "config"),
    Public("set_stream_threshold", "_config", "config"),
    Public("get_output_cache", "_config", "config"),
    Public("set_output_cache", "_config", "config"),
    Public("use_threads", "_config", "config"),
    Public("show_config", "_config", "config"),
    Public("log_loss", "_integrations.log_loss", "log_loss", _L, "positional", lazy=True),
    Public("patch", "_integrations.patch", "patch", lazy=True),
    Public("unpatch", "_integrations.patch", "patch", lazy=True),
    Public("patched", "_integrations.patch", "patch", lazy=True),
    Public("is_patched", "_integrations.patch", "patch", lazy=True),
)

_BY_NAME = {p.name: p for p in PUBLIC}


def by_name(name):
    """The record of the public name `name` (KeyError if there is none)."""
    return _BY_NAME[name]


def names(*kinds, containers=None):
    """The public names of the given kinds (all without kinds), in order;
    with `containers`, only those with that container rule."""
    return tuple(p.name for p in PUBLIC if (not kinds or p.kind in kinds)
                 and (containers is None or p.containers == containers))
