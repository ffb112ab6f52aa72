"""Threads and build configuration."""
import os
import threading
import warnings

import numpy as np

from . import _kernels as _k


def _named(fname, setter, value):
    """setter(value), its argument errors prefixed with the function's name."""
    try:
        setter(value)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{fname}: {exc}") from None


def set_num_threads(n):
    """Set the default number of threads of every function (``num_threads=None``).

    Takes precedence over ``OMP_NUM_THREADS``; a ``threadpoolctl.threadpool_limits``
    block still lowers it while it is active.  ``set_num_threads(None)``
    restores the default (``OMP_NUM_THREADS``, else the number of CPUs).
    A count above 65536 is capped there.
    """
    _named("set_num_threads", _k.set_num_threads, n)


def get_num_threads():
    """The number of threads a call with ``num_threads=None`` uses on large input."""
    return _k.get_num_threads()


def set_stream_threshold(nbytes):
    """Set the size from which outputs are written with streaming stores.

    A call whose inputs and outputs together span at least ``nbytes`` bytes
    writes its outputs with non-temporal stores, which go around the caches:
    on data far bigger than the caches that saves reading each output line
    from memory before it is overwritten (up to a third of the memory
    traffic of an elementwise function).  Below it, normal stores keep the
    result in cache for whatever reads it next.  Results are identical
    either way.  ``0`` streams always, ``-1`` never, ``None`` restores the
    built-in default (``FASTLOGISTIC_STREAM_BYTES`` sets the value at
    import): 6 MiB; on AMD CPUs at the ``avx512-split`` level 6 MiB for
    calls on 2 or more threads only (there one thread is compute-bound and
    measured as fast or faster with normal stores, two threads faster
    streamed), and never at the other levels on AMD.  ``show_config()``
    shows the threshold and the least thread count in effect.  Outputs of
    the binary cross-entropy functions are streamed only when they start on
    a 64-byte boundary, which the outputs the library allocates do.
    """
    _named("set_stream_threshold", _k.set_stream_threshold, nbytes)


def get_stream_threshold():
    """Bytes per call from which outputs are streamed (-1: never)."""
    return _k.get_stream_threshold()


def set_output_cache(nbytes):
    """Set how many bytes of freed outputs the library keeps for reuse.

    An output of 4 MiB or more that the library allocated (``out=None``) and
    that the caller has let go of is kept, up to ``nbytes`` bytes in all
    (newest kept, oldest released first), and the next call that needs an
    output of about that size gets it back.  Big allocations otherwise come
    fresh from the operating system every time, and clearing their pages
    costs more than the function: float64 ``sigmoid`` at N = 1e7 runs much
    faster on a reused output (see docs/design-measurements.md).
    Memory the caller still holds is never touched.  ``0`` keeps nothing (and
    releases what is kept now), ``None`` restores the built-in default, 256
    MiB.  ``FASTLOGISTIC_OUTPUT_CACHE`` sets the value at import.
    ``show_config()`` shows what is kept now.
    """
    _named("set_output_cache", _k.set_output_cache, nbytes)


def get_output_cache():
    """Bytes of freed outputs the library keeps for reuse at most (0: none)."""
    return _k.get_output_cache()


def config():
    """The build and run-time configuration as a dict."""
    from ._version import __version__
    return {
        "version": __version__,
        "numpy": np.__version__,
        "compiler": _k.compiler_name(),
        "openmp": _k.have_openmp(),
        "simd_level": _k.get_simd_level(),
        "simd_description": _k.simd_level_description(),
        "simd_levels_supported": _k.cpu_simd_levels(),
        "default_threads": _k.get_num_threads(),
        "chunk_size": _k.CHUNK_SIZE,
        "parallel_threshold": _k.PARALLEL_THRESHOLD,
        "stream_threshold": _k.get_stream_threshold(),
        "stream_min_threads": _k.get_stream_min_threads(),
        "output_cache": _k.get_output_cache(),
        "output_cache_held": _k.output_cache_held()[0],
    }


def show_config(file=None):
    """Print the version, compiler, OpenMP on/off, SIMD level in use and the
    default thread count; returns the same as a dict."""
    import sys
    if file is not None and not callable(getattr(file, "write", None)):
        raise TypeError(f"show_config: file must have a write() method (a text file), "
                        f"got {type(file).__name__}")
    cfg = config()
    out = sys.stdout if file is None else file
    width = max(len(k) for k in cfg)
    for k, v in cfg.items():
        if isinstance(v, list):
            v = ", ".join(v)
        if k == "openmp":
            v = "yes" if v else "no (single-threaded build)"
        print(f"{k:<{width}} : {v}", file=out)
    return cfg


class use_threads:
    """Context manager: every call made on this Python thread inside the block
    uses `n` threads (where it is big enough to use more than one; None: the
    library default), the
    ufuncs ``expit``, ``log_expit`` and ``logit`` included, which take no
    ``num_threads`` keyword.  Other Python threads are not affected; blocks
    nest.  An explicit ``num_threads=`` on a call still wins.

        with fl.use_threads(4):
            p = fl.expit(x)
    """

    def __init__(self, n):
        if n is not None:          # None: the library default inside the block
            _named("use_threads", _k.check_num_threads, n)
        self._n = n

    # The value each `with` replaced is saved per Python thread (one object
    # may be entered on several threads at once, or re-entered on one).
    def __enter__(self):
        stack = _saved_stack()
        stack.append((id(self), _k.set_thread_override(self._n)))
        return self

    def __exit__(self, *exc):
        stack = _saved_stack()
        for i in range(len(stack) - 1, -1, -1):
            if stack[i][0] == id(self):
                _k.set_thread_override(stack.pop(i)[1])
                break
        return False

    def __reduce__(self):
        return (type(self), (self._n,))


_tls = threading.local()


def _saved_stack():
    """This Python thread's stack of (use_threads id, value it replaced)."""
    stack = getattr(_tls, "stack", None)
    if stack is None:
        stack = _tls.stack = []
    return stack


def _from_env(name, apply):
    """apply(value) for a set environment variable; a bad value warns
    instead of raising (a typo must not make the package unimportable)."""
    value = os.environ.get(name, "").strip()
    if value:
        try:
            apply(value)
        except ValueError as exc:
            warnings.warn(f"{name} ignored: {exc}", RuntimeWarning, stacklevel=4)


def apply_environment():
    """Apply the FASTLOGISTIC_SIMD, FASTLOGISTIC_STREAM_BYTES and
    FASTLOGISTIC_OUTPUT_CACHE environment variables (the package does once,
    at import)."""
    _from_env("FASTLOGISTIC_SIMD", lambda v: _k.set_simd_level(v.lower()))
    _from_env("FASTLOGISTIC_STREAM_BYTES", lambda v: _k.set_stream_threshold(int(v)))
    _from_env("FASTLOGISTIC_OUTPUT_CACHE", lambda v: _k.set_output_cache(int(v)))
