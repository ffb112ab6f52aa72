"""fastlogistic: the logistic sigmoid, binary and categorical cross-entropy and
their derivatives for NumPy arrays -- numerically stable, vectorised (AVX-512,
AVX2, baseline; chosen at run time) and parallel (OpenMP).

    import fastlogistic as fl
    fl.sigmoid(x)                                   # scipy.special.expit(x)
    fl.binary_cross_entropy_with_logits(x, y)       # torch's, mean reduction
    loss, grad = fl.binary_cross_entropy_with_logits_loss_and_grad(x, y)
"""
import os as _os
from collections.abc import Callable as _Callable

from . import _kernels
from ._api import *  # noqa: F401,F403
from ._api import __all__ as _api_all
from ._config import (get_num_threads, get_output_cache, get_stream_threshold,
                      set_num_threads, set_output_cache, set_stream_threshold, show_config,
                      use_threads)
from ._multiclass import *  # noqa: F401,F403
from ._multiclass import __all__ as _mc_all

# --- issue 15: pandas/xarray/dask containers for the losses and multi-class functions
from ._integrations import containers as _containers


def _wrap_containers(names):
    for _name in names:
        globals()[_name] = _containers.wrap(globals()[_name])


_wrap_containers([
    "binary_cross_entropy", "binary_cross_entropy_grad",
    "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_grad",
    "binary_cross_entropy_with_logits_loss_and_grad",
    "binary_cross_entropy_with_logits_grad_hess",
    "softmax", "log_softmax",
    "cross_entropy", "cross_entropy_grad", "cross_entropy_loss_and_grad",
    "categorical_cross_entropy", "categorical_cross_entropy_grad"])
del _wrap_containers

# log_loss and patch() load on first use: `import fastlogistic` stays as fast
_LAZY = {"log_loss": "_integrations.log_loss", "patch": "_integrations.patch", "unpatch": "_integrations.patch",
         "patched": "_integrations.patch", "is_patched": "_integrations.patch"}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module("." + module, __name__), name)
    if name == "log_loss":
        value = _containers.wrap(value)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
# --- end issue 15 containers

from ._version import __version__  # noqa: E402

__all__ = list(_api_all) + list(_mc_all) + [
    "get_num_threads", "set_num_threads", "get_stream_threshold", "set_stream_threshold",
    "get_output_cache", "set_output_cache", "use_threads",
    "show_config", "__version__"]
__all__ += ["log_loss", "patch", "unpatch", "patched", "is_patched"]   # issue 15


def _from_env(name: str, apply: "_Callable[[str], object]") -> None:
    """apply(value) for a set environment variable; a bad value warns
    instead of raising (a typo must not make the package unimportable)."""
    value = _os.environ.get(name, "").strip()
    if value:
        try:
            apply(value)
        except ValueError as exc:
            import warnings
            warnings.warn(f"{name} ignored: {exc}", RuntimeWarning, stacklevel=3)


_from_env("FASTLOGISTIC_SIMD", lambda v: _kernels.set_simd_level(v.lower()))
_from_env("FASTLOGISTIC_STREAM_BYTES", lambda v: _kernels.set_stream_threshold(int(v)))
_from_env("FASTLOGISTIC_OUTPUT_CACHE", lambda v: _kernels.set_output_cache(int(v)))
del _from_env, _Callable
