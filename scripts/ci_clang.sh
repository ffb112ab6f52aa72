#!/usr/bin/env bash
# CI: the Clang build.  Debian's clang and its OpenMP runtime (libomp-dev),
# `CC=clang pip install .` of this tree into a fresh venv (which sees the
# caller's test requirements: --system-site-packages), then checks that the
# build printed no compiler warning, that OpenMP is on and the compiler is
# Clang, and runs the core tests against it.
#
#   scripts/ci_clang.sh [test files of tests/]     (default: FL_CI_TESTS)
#
# Environment: FL_CLANG_DIR (work folder, default /tmp/fastlogistic-clang),
# CLANG (default clang), CCACHE=ccache to compile through ccache.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY=${PYTHON:-python3}
W=${FL_CLANG_DIR:-/tmp/fastlogistic-clang}
CLANG=${CLANG:-clang}
export PIP_DISABLE_PIP_VERSION_CHECK=1
t0=$SECONDS
if ! command -v "$CLANG" >/dev/null || ! echo '#include <omp.h>' | "$CLANG" -fopenmp -E -x c - >/dev/null 2>&1; then
    echo "ci_clang: installing clang libomp-dev"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq clang libomp-dev >/dev/null
fi
echo "ci_clang: $("$CLANG" --version | head -1)"
rm -rf "$W"; mkdir -p "$W/run"
"$PY" -m venv --system-site-packages "$W/venv"
# -v: the compiler's output goes to the log, which must have no warning
CC="${CCACHE:+$CCACHE }$CLANG" "$W/venv/bin/python" -m pip install -v --no-deps "$ROOT" > "$W/build.log" 2>&1 \
    || { grep -E "error|Error" "$W/build.log" | head -20; tail -30 "$W/build.log"; echo "ci_clang: build failed" >&2; exit 1; }
# (the compiler's warnings: "file:line:col: warning:"; not setuptools' own)
if grep -E ":[0-9]+:[0-9]+: warning:" "$W/build.log" | head -20 | grep .; then
    echo "ci_clang: $(grep -cE ':[0-9]+:[0-9]+: warning:' "$W/build.log") compiler warnings (log: $W/build.log)" >&2; exit 1
fi
t1=$SECONDS
cd "$W/run"
"$W/venv/bin/python" - <<'PY'
import fastlogistic as fl
cfg = fl.show_config()
assert cfg["compiler"].startswith("clang"), cfg["compiler"]
assert cfg["openmp"], "the Clang build has no OpenMP"
PY
tests=(); for f in ${@:-${FL_CI_TESTS:-test_accuracy.py test_semantics.py test_threads.py}}; do tests+=("$ROOT/tests/$f"); done
FL_EXPECT_INSTALLED="$W/venv" "$W/venv/bin/python" -m pytest "${tests[@]}" -q -p no:cacheprovider --rootdir "$ROOT"
echo "ci_clang: build $((t1 - t0)) s, tests $((SECONDS - t1)) s"
