"""``python -m fastlogistic bench``: fastlogistic against NumPy, SciPy, PyTorch
and scikit-learn, each where installed.

How it measures.  A *case* is one function at one input shape and dtype.  Its
inputs are made once; every implementation (at every requested thread count)
becomes a zero-argument callable that is warmed up once and calibrated so that
one *round* of calls takes about ROUND_SECONDS.  Then the rounds alternate
between the implementations (round-robin, starting one further along each
time) so that every implementation sees the same machine load, and the median
time per call over the rounds is reported.  Each round is preceded by
WARM_SECONDS of untimed calls of the same implementation, so that a round does
not pay for the state the previous one left (caches filled with other data,
an idle second core of a virtual machine coming back).  Ratios between
implementations of the same case are what the targets are about: a speed-up is the median over
the rounds of the ratio of the two times measured in the same round, a few
tens of milliseconds apart, so that a change of the machine's load between
rounds (other virtual machines on the host, on a cloud runner) cancels out.
Absolute numbers move with that load.

The subpackage, one module per part: `peers` (the other libraries and the
factories that prepare each implementation's call), `cases` (the registry
FUNCTIONS: function name -> {implementation name: factory}; inputs; the
cases of a run), `timing` (the one timing helper, `time_case`, and the paired
ratios), `memory` (peak allocation per call), `targets` (the project's speed
bars), `report` (table, machine, summary line, plot) and `cli` (the command
line).  This module re-exports what `benchmarks/`, `scripts/` and the tests use.
"""
from .cases import (DEFAULT_IMPLS, FUNCTIONS, QUICK_CASES, REFERENCE_IMPLS, SEED, Case, Function,
                    build_cases, make_inputs, quick_cases, run_case)
from .cli import DESCRIPTION, add_arguments, check_args, main, parse_args
from .memory import MEMORY_N, run_memory
from .peers import Impl, _available, _import, init
from .report import machine_info, plot, summary_line
from .targets import TARGETS, Target, check_targets, find_row
from .timing import (ROUND_SECONDS, WARM_SECONDS, Timed, paired_ratio, paired_ratios, quartiles,
                     steady_malloc, time_case)

__all__ = ["DEFAULT_IMPLS", "DESCRIPTION", "FUNCTIONS", "MEMORY_N", "QUICK_CASES",
           "REFERENCE_IMPLS", "ROUND_SECONDS", "SEED", "TARGETS", "WARM_SECONDS", "Case",
           "Function", "Impl", "Target", "Timed", "add_arguments", "build_cases",
           "check_args", "check_targets", "find_row", "init", "machine_info", "main",
           "make_inputs", "paired_ratio", "paired_ratios", "parse_args", "plot", "quartiles",
           "quick_cases", "run_case", "run_memory", "steady_malloc", "summary_line",
           "time_case"]
