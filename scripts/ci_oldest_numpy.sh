#!/usr/bin/env bash
# Run the test suite against the OLDEST NumPy fastlogistic supports
# (pyproject.toml: numpy>=1.23; 1.23.5 is the last 1.23 release and has
# CPython 3.11 wheels), with the SAME built package the caller's python
# imports (the installed wheel, or the in-place build with PYTHONPATH=src).
# The package is copied into a venv in /tmp that has the old NumPy and the
# test dependencies, and nothing else (no PyTorch, pandas...: those tests skip).
#
#   scripts/ci_oldest_numpy.sh                  # the whole suite
#   scripts/ci_oldest_numpy.sh tests/test_multiclass.py -x
#
# Environment: FASTLOGISTIC_OLDEST_NUMPY (default 1.23.5),
# FASTLOGISTIC_OLDEST_VENV (default /tmp/fastlogistic-oldest-numpy).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
NUMPY=${FASTLOGISTIC_OLDEST_NUMPY:-1.23.5}
VENV=${FASTLOGISTIC_OLDEST_VENV:-/tmp/fastlogistic-oldest-numpy}
export PIP_DISABLE_PIP_VERSION_CHECK=1

# 1. the built package the caller uses
PKG=$("$PY" -c "import fastlogistic, os; print(os.path.dirname(fastlogistic.__file__))")
echo "oldest-numpy: package under test: $PKG"

# 2. a venv with exactly that NumPy (scipy: the newest series that supports it)
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import numpy, sys; sys.exit(numpy.__version__ != '$NUMPY')" 2>/dev/null; then
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q "numpy==$NUMPY" "scipy>=1.9,<1.14" \
        "pytest>=7" "hypothesis>=6" "mpmath>=1.2" "threadpoolctl>=3"
fi
"$VENV/bin/python" -c "import numpy; assert numpy.__version__ == '$NUMPY', numpy.__version__"

# 3. the same package, copied (the caller's site-packages must not come along)
SITE="$VENV/fl-under-test"
rm -rf "$SITE"
mkdir -p "$SITE"
cp -r "$PKG" "$SITE/fastlogistic"
rm -rf "$SITE/fastlogistic/__pycache__"
cd "$SITE/.." && PYTHONPATH="$SITE" "$VENV/bin/python" -c \
    "import numpy, fastlogistic; print('oldest-numpy: numpy', numpy.__version__, '| fastlogistic from', fastlogistic.__file__); fastlogistic.show_config()"
cd - >/dev/null

# 4. the tests (the repo's tests/, run from the repo root)
if [ $# -gt 0 ]; then ARGS=("$@"); else ARGS=(tests); fi
# FL_CI_TESTS="test_a.py test_b.py": those files of tests/ only (CI's core set)
if [ $# -eq 0 ] && [ -n "${FL_CI_TESTS:-}" ]; then ARGS=(); for f in $FL_CI_TESTS; do ARGS+=("tests/$f"); done; fi
PYTHONPATH="$SITE" "$VENV/bin/python" -m pytest "${ARGS[@]}" -q -p no:cacheprovider
