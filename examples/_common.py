"""Shared set-up of the examples (imported first by each):

* BLAS on one thread unless the environment says otherwise: the examples'
  matrices are small, and BLAS threads on a busy machine only wait for each
  other (a 1257 x 65 product took 16 ms with 2 OpenBLAS threads on a loaded
  2-core machine, ten times the one-thread time);
* ``import fastlogistic`` works from a source checkout (src/ layout) when the
  package is not installed.
"""
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    import fastlogistic  # noqa: F401
except ImportError:      # running from a checkout: use its src/
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
