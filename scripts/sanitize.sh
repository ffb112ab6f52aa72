#!/usr/bin/env bash
# Build fastlogistic with AddressSanitizer + UndefinedBehaviorSanitizer (OpenMP
# on) into a separate directory -- the normal build is not touched -- and run
# tests under it.  Fails on any sanitizer report.
#
#   scripts/sanitize.sh                       # CI's set (see TESTS below)
#   scripts/sanitize.sh tests                 # the whole suite (slow)
#   FASTLOGISTIC_SANITIZE=undefined scripts/sanitize.sh tests/test_multiclass.py
#
# Environment: FASTLOGISTIC_SANITIZE (default address,undefined),
# FASTLOGISTIC_SANITIZE_AVX512=1 (instrument the AVX-512 units too: slow to build),
# FASTLOGISTIC_SANITIZE_DIR (default /tmp/fastlogistic-sanitize), CC.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
SAN=${FASTLOGISTIC_SANITIZE:-address,undefined}
DIR=${FASTLOGISTIC_SANITIZE_DIR:-/tmp/fastlogistic-sanitize}
CCBIN=${CC:-gcc}
CCBIN=${CCBIN##* }          # "ccache gcc" -> gcc, for -print-file-name
mkdir -p "$DIR"

# 1. build out of tree (build_ext -b/-t), then lay the package beside the .so
FASTLOGISTIC_SANITIZE=$SAN "$PY" setup.py -q build_ext -b "$DIR/lib" -t "$DIR/temp" >"$DIR/build.log" 2>&1 \
    || { tail -40 "$DIR/build.log"; echo "sanitize: build failed"; exit 1; }
grep -q "OpenMP enabled" "$DIR/build.log" || { echo "sanitize: OpenMP not enabled in the sanitizer build"; exit 1; }
# (the Python files of the package and its subpackages; not an in-place .so)
(cd src && find fastlogistic -name '*.py' -print0 | tar --null -T - -cf -) | tar -xf - -C "$DIR/lib"

# 2. the sanitizer runtimes, preloaded (Python itself is not instrumented)
PRE=""
case "$SAN" in *address*) PRE="$($CCBIN -print-file-name=libasan.so)";; esac
case "$SAN" in *undefined*) PRE="${PRE:+$PRE:}$($CCBIN -print-file-name=libubsan.so)";; esac
export LD_PRELOAD="$PRE"
# leaks: CPython's own are not ours; a huge request must give MemoryError, not abort
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=0:allocator_may_return_null=1:detect_stack_use_after_return=0:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:report_error_type=1"
export PYTHONMALLOC=malloc            # Python objects through ASan's allocator too
export PYTHONPATH="$DIR/lib"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
# the AVX-512 units are built uninstrumented (setup.py) unless
# FASTLOGISTIC_SANITIZE_AVX512=1: run the instrumented avx2 kernels by default
# (tests that loop over every level still visit AVX-512 on a CPU that has it)
if [ "${FASTLOGISTIC_SANITIZE_AVX512:-}" != "1" ]; then export FASTLOGISTIC_SIMD=${FASTLOGISTIC_SIMD:-avx2}; fi
export FASTLOGISTIC_STRESS_SECONDS=${FASTLOGISTIC_STRESS_SECONDS:-20}

# the instrumented module must be the one imported
"$PY" -c "import fastlogistic, sys; p = fastlogistic._kernels.__file__; print('sanitize: testing', p); sys.exit(0 if p.startswith('$DIR') else 1)"

# 3. the tests, with pytest's capture off (-s): the reports go to stderr
if [ $# -gt 0 ]; then
    TESTS=("$@")
else
    TESTS=(tests/test_robustness.py tests/test_fuzz_api.py tests/test_outcache_stress.py
           tests/test_outcache.py tests/test_errors.py tests/test_semantics.py
           tests/test_multiclass.py tests/test_threads.py tests/test_ufuncs.py
           tests/test_cylevel.py)
fi
LOG="$DIR/pytest.log"
set +e
"$PY" -m pytest "${TESTS[@]}" -q -s -p no:cacheprovider -x >"$LOG" 2>&1
rc=$?
set -e
tail -15 "$LOG"
if grep -nE "ERROR: AddressSanitizer|runtime error:|SUMMARY: (Address|UndefinedBehavior)Sanitizer|WARNING: ThreadSanitizer" "$LOG" | head -20; then
    echo "sanitize: sanitizer report(s) above (full log: $LOG)"
    exit 1
fi
[ $rc -eq 0 ] || { echo "sanitize: tests failed (rc=$rc; log: $LOG)"; exit $rc; }
echo "sanitize: no sanitizer report; tests passed"
