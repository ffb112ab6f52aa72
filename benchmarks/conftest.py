"""pytest-benchmark suite: fastlogistic against NumPy, SciPy, PyTorch and
scikit-learn, one benchmark per (function, implementation, dtype, size).

    PYTHONPATH=src python -m pytest benchmarks --benchmark-only -q
    PYTHONPATH=src python -m pytest benchmarks --benchmark-only -q \
        --benchmark-max-time=0.2 -k "sigmoid and float64"

The implementations are the ones of ``python -m fastlogistic bench`` (the
registry ``fastlogistic.bench.FUNCTIONS``), so both measure the same calls.
Benchmarks are grouped per case, so pytest-benchmark's table compares the
implementations side by side.  No timing assertions: the targets are checked
by the bench command's "Targets" section.  This folder lies outside
``tests/``, so ``python -m pytest tests`` does not collect it.
"""
import pytest

import fastlogistic as fl
from fastlogistic import bench as _bench

# the module that each implementation's library is imported from
_MODULES = {"scipy": "scipy.special", "torch": "torch", "sklearn": "sklearn._loss.loss"}


def run_case(benchmark, function, impl, shape, dtype, threads=1):
    """Benchmark one implementation of one case (skips what is not installed
    or, for the multi-class functions, not yet in fastlogistic)."""
    func = _bench.FUNCTIONS[function]
    if not hasattr(fl, func.fl_name):
        pytest.skip(f"fastlogistic.{func.fl_name} is not in this build")
    library = func.impls[impl].library
    if library in _MODULES:
        pytest.importorskip(_MODULES[library])
    _bench.init()
    inputs = _bench.make_inputs(func.kind, shape, dtype)
    timed = func.impls[impl].factory(inputs, threads)
    benchmark.group = f"{function} {dtype} {'x'.join(str(n) for n in shape)}"
    benchmark.extra_info.update(implementation=impl, threads=threads, note=func.impls[impl].note)
    try:
        if timed.before:
            timed.before()
        benchmark(timed.call)
    finally:
        fl.set_num_threads(None)


def implementations(*functions):
    """(function, implementation) pairs of the registry, as parameters."""
    return [pytest.param(f, impl, id=f"{f}-{impl}")
            for f in functions for impl in _bench.FUNCTIONS[f].impls]


DTYPES = ["float64", "float32"]
