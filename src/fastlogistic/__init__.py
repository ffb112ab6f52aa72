"""fastlogistic: the logistic sigmoid, binary and categorical cross-entropy and
their derivatives for NumPy arrays -- numerically stable, vectorised (AVX-512,
AVX2, baseline; chosen at run time) and parallel (OpenMP).

    import fastlogistic as fl
    fl.sigmoid(x)                                   # scipy.special.expit(x)
    fl.binary_cross_entropy_with_logits(x, y)       # torch's, mean reduction
    loss, grad = fl.binary_cross_entropy_with_logits_loss_and_grad(x, y)
"""
from . import _kernels
from ._api import *  # noqa: F401,F403
from ._config import (get_num_threads, get_output_cache, get_stream_threshold,
                      set_num_threads, set_output_cache, set_stream_threshold, show_config,
                      use_threads)
from ._config import apply_environment as _apply_environment
from ._multiclass import *  # noqa: F401,F403
from . import _registry
from ._integrations import containers as _containers

# the public functions as users get them: those that take containers through
# the container adapter wrapped (see _registry); log_loss and patch() load on
# first use, so `import fastlogistic` stays fast
globals().update({_p.name: _containers.public(_p.name) for _p in _registry.PUBLIC
                  if not _p.lazy})
_LAZY = frozenset(_p.name for _p in _registry.PUBLIC if _p.lazy)


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = _containers.public(name)
    return value


def __dir__():
    return sorted(set(globals()) | _LAZY)


from ._version import __version__  # noqa: E402

__all__ = [_p.name for _p in _registry.PUBLIC] + ["__version__"]


# FASTLOGISTIC_SIMD, _STREAM_BYTES and _OUTPUT_CACHE, read once at import
_apply_environment()
del _apply_environment
