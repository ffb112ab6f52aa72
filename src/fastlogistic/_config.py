"""Threads and build configuration."""
import numpy as np

from . import _kernels as _k


def set_num_threads(n):
    """Set the default number of threads of every function (``num_threads=None``).

    Takes precedence over ``OMP_NUM_THREADS``; a ``threadpoolctl.threadpool_limits``
    block still lowers it while it is active.  ``set_num_threads(None)``
    restores the default (``OMP_NUM_THREADS``, else the number of CPUs).
    """
    _k.set_num_threads(n)


def get_num_threads():
    """The number of threads a call with ``num_threads=None`` uses on large input."""
    return _k.get_num_threads()


def config():
    """The build and run-time configuration as a dict."""
    from . import __version__
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
    }


def show_config(file=None):
    """Print the version, compiler, OpenMP on/off, SIMD level in use and the
    default thread count; returns the same as a dict."""
    import sys
    cfg = config()
    out = file or sys.stdout
    width = max(len(k) for k in cfg)
    for k, v in cfg.items():
        if isinstance(v, list):
            v = ", ".join(v)
        if k == "openmp":
            v = "yes" if v else "no (single-threaded build)"
        print(f"{k:<{width}} : {v}", file=out)
    return cfg
