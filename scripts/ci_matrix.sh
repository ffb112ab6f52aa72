#!/usr/bin/env bash
# CI: the CPython matrix.  For each version, a fresh virtual environment from
# pyenv, `pip install <this tree>` as a user runs it (pip's build isolation
# picks the newest NumPy/Cython that support that Python), the test
# requirements (requirements-test.txt, markers included), then the tests
# against the installed package, run from outside the source tree.
#
#   scripts/ci_matrix.sh                    # 3.9 3.10 3.12 3.13, CI's set
#   FL_MATRIX_VERSIONS="3.12" scripts/ci_matrix.sh tests/test_typing.py
#
# Environment:
#   FL_MATRIX_VERSIONS  the CPythons (default "3.9 3.10 3.12 3.13"; 3.11 is
#                       .ci/run's own full run); each is the newest pyenv
#                       install of that series ($PYENV_ROOT/versions/X.Y.*)
#   FL_MATRIX_TESTS     test files of tests/ (default: FL_CI_TESTS, else the
#                       core subset below)
#   FL_MATRIX_DIR       work folder (default /tmp/fastlogistic-matrix)
#   CC, CFLAGS, FASTLOGISTIC_*: passed to the build (CC="ccache gcc" shares
#   the C core's objects across the versions: they do not include Python.h)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
VERSIONS=${FL_MATRIX_VERSIONS:-3.9 3.10 3.12 3.13}
W=${FL_MATRIX_DIR:-/tmp/fastlogistic-matrix}
export PIP_DISABLE_PIP_VERSION_CHECK=1
TESTS=${FL_MATRIX_TESTS:-${FL_CI_TESTS:-test_accuracy.py test_semantics.py test_errors.py
  test_multiclass.py test_threads.py test_outcache.py test_ufuncs.py test_cylevel.py}}
mkdir -p "$W"
summary=()
for v in $VERSIONS; do
    PY=$(ls -d "$PYENV_ROOT"/versions/"$v".* 2>/dev/null | sort -V | tail -1)/bin/python
    [ -x "$PY" ] || { echo "ci_matrix: no CPython $v under $PYENV_ROOT/versions" >&2; exit 1; }
    t0=$SECONDS
    echo "== ci_matrix: CPython $("$PY" -c 'import platform; print(platform.python_version())')"
    rm -rf "$W/$v"
    "$PY" -m venv "$W/$v"
    VPY="$W/$v/bin/python"
    "$VPY" -m pip install -q "$ROOT" > "$W/$v.build.log" 2>&1 \
        || { tail -40 "$W/$v.build.log"; echo "ci_matrix: pip install failed on $v" >&2; exit 1; }
    t1=$SECONDS
    "$VPY" -m pip install -q -r "$ROOT/requirements-test.txt"
    t2=$SECONDS
    mkdir -p "$W/run"; cd "$W/run"           # src/ is not importable from here
    "$VPY" -c "import fastlogistic as fl, numpy; print('numpy', numpy.__version__); fl.show_config()"
    args=(); for f in $TESTS; do case "$f" in /*) args+=("$f");; tests/*) args+=("$ROOT/$f");; *) args+=("$ROOT/tests/$f");; esac; done
    if [ $# -gt 0 ]; then args=("$@"); fi
    FL_EXPECT_INSTALLED="$W/$v" "$VPY" -m pytest "${args[@]}" -q -p no:cacheprovider --rootdir "$ROOT" -x
    cd "$ROOT"
    t3=$SECONDS
    line="CPython $v: install $((t1 - t0)) s, test requirements $((t2 - t1)) s, tests $((t3 - t2)) s"
    echo "ci_matrix: $line"; summary+=("$line")
done
printf 'ci_matrix: %s\n' "${summary[@]}"
