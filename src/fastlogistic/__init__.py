"""fastlogistic: the logistic sigmoid, binary and categorical cross-entropy and
their derivatives for NumPy arrays -- numerically stable, vectorised (AVX-512,
AVX2, baseline; chosen at run time) and parallel (OpenMP).

    import fastlogistic as fl
    fl.sigmoid(x)                                   # scipy.special.expit(x)
    fl.binary_cross_entropy_with_logits(x, y)       # torch's, mean reduction
    loss, grad = fl.binary_cross_entropy_with_logits_loss_and_grad(x, y)
"""
import os as _os

from . import _kernels
from ._api import *  # noqa: F401,F403
from ._api import __all__ as _api_all
from ._config import (get_num_threads, get_stream_threshold, set_num_threads,
                      set_stream_threshold, show_config)
from ._multiclass import *  # noqa: F401,F403
from ._multiclass import __all__ as _mc_all

__version__ = "0.1.0"

__all__ = list(_api_all) + list(_mc_all) + [
    "get_num_threads", "set_num_threads", "get_stream_threshold", "set_stream_threshold",
    "show_config", "__version__"]

_simd = _os.environ.get("FASTLOGISTIC_SIMD", "").strip().lower()
if _simd:
    try:
        _kernels.set_simd_level(_simd)
    except ValueError as _exc:   # a typo must not make the package unimportable
        import warnings as _warnings
        _warnings.warn(f"FASTLOGISTIC_SIMD ignored: {_exc}", RuntimeWarning, stacklevel=2)
del _simd

_stream = _os.environ.get("FASTLOGISTIC_STREAM_BYTES", "").strip()
if _stream:
    try:
        _kernels.set_stream_threshold(int(_stream))
    except ValueError as _exc:
        import warnings as _warnings
        _warnings.warn(f"FASTLOGISTIC_STREAM_BYTES ignored: {_exc}", RuntimeWarning, stacklevel=2)
del _stream
