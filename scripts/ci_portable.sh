#!/usr/bin/env bash
# CI: build the portable variant (FASTLOGISTIC_PORTABLE=1: no C vector level
# compiled, the Cython level "cython" only -- what an MSVC build gets) in a
# place of its own and run the test suite against it, so that the fallback
# never rots.  The checkout's own build (build/, the in-place .so) is neither
# used nor touched: the build runs on a copy of the tracked files (and new
# ones git does not ignore) and installs with --target into a temporary
# directory that PYTHONPATH puts first.
#   scripts/ci_portable.sh [pytest arguments]     (default: the whole suite)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/fl-portable.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src" "$work/site"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$work/src"
# without build isolation where the build requirements are installed (no
# network needed); else pip's isolated build
iso=()
if python3 -c "import Cython, numpy, setuptools" 2>/dev/null; then
    iso=(--no-build-isolation)
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
FASTLOGISTIC_PORTABLE=1 python3 -m pip install -q "${iso[@]}" --no-deps --target "$work/site" "$work/src"
cd "$work"                  # nothing of the checkout importable from here
export PYTHONPATH="$work/site"
python3 - <<'PY'
import fastlogistic as fl
k = fl._kernels
assert k.PORTABLE_BUILD, "not a portable build"
assert k.cpu_simd_levels() == ["cython"], k.cpu_simd_levels()
assert k.get_simd_level() == "cython", k.get_simd_level()
fl.show_config()
PY
# FL_CI_TESTS="test_a.py test_b.py": those files of tests/ only (CI's core set)
tests=("$root/tests")
if [ -n "${FL_CI_TESTS:-}" ]; then tests=(); for f in $FL_CI_TESTS; do tests+=("$root/tests/$f"); done; fi
python3 -m pytest "${tests[@]}" -q -p no:cacheprovider "$@"
