#!/usr/bin/env bash
# Build fastlogistic for 64-bit ARM (aarch64) and run tests there, under
# emulation: an arm64 Debian root made by debootstrap, entered with chroot
# through qemu-user-static (binfmt_misc).  Debian packages only for the root;
# the build and test requirements come from PyPI inside it, as on a real ARM
# machine.  Slow (everything runs emulated): CI runs the core subset below.
#
#   scripts/ci_aarch64.sh                      # build + CI's ARM test subset
#   scripts/ci_aarch64.sh tests/test_x.py -x   # build + those tests
#
# Environment:
#   FL_ARM64_ROOT   the arm64 root (default /var/cache/fastlogistic-ci/arm64-root);
#                   reused when it is already there and complete, made otherwise
#   FL_ARM64_MIRROR Debian mirror (default http://deb.debian.org/debian)
# Needs root (debootstrap, chroot, mount) and, once, the host packages
# qemu-user-static binfmt-support debootstrap (installed with apt-get here
# when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
ROOT=${FL_ARM64_ROOT:-/var/cache/fastlogistic-ci/arm64-root}
MIRROR=${FL_ARM64_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
export DEBIAN_FRONTEND=noninteractive
t0=$SECONDS
say() { echo "ci_aarch64: [$((SECONDS - t0)) s] $*"; }

# 1. the host side: qemu-user-static registered with binfmt_misc (flag F: the
#    interpreter is opened now, so the chroot needs no copy of it)
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || need+=(qemu-user-static)
command -v update-binfmts >/dev/null || need+=(binfmt-support)
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    update-binfmts --enable qemu-aarch64
fi
grep -q '^flags:.*F' /proc/sys/fs/binfmt_misc/qemu-aarch64 \
    || { echo "ci_aarch64: qemu-aarch64 is registered without the F flag" >&2; exit 1; }

# 2. the arm64 root: Debian's Python and GCC; then the Python packages from PyPI
#    (their aarch64 wheels) in a venv inside it.  The marker file says complete.
MARK="$ROOT/.fastlogistic-root-v2"
if [ ! -e "$ROOT/.debootstrap-done" ]; then
    say "debootstrap arm64 $SUITE into $ROOT (from nothing: several minutes)"
    rm -rf "$ROOT"; mkdir -p "$ROOT"
    debootstrap --arch=arm64 --variant=minbase \
        --include=python3,python3-venv,python3-dev,gcc,libc6-dev,libgomp1,ca-certificates,ccache \
        "$SUITE" "$ROOT" "$MIRROR" > "$ROOT.debootstrap.log" 2>&1 \
        || { tail -30 "$ROOT.debootstrap.log"; echo "ci_aarch64: debootstrap failed" >&2; exit 1; }
    touch "$ROOT/.debootstrap-done"
fi
if [ ! -e "$MARK" ]; then
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
    say "venv + build/test requirements inside the root"
    [ -x "$ROOT/opt/venv/bin/python" ] || chroot "$ROOT" /usr/bin/python3 -m venv /opt/venv
    # the host's CA bundle (a proxy that re-signs TLS is trusted there, and
    # must be here: it is the Debian bundle plus the host's own CAs)
    cp "${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}" "$ROOT/etc/ssl/certs/ca-certificates.crt"
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root ${PIP_INDEX_URL:+PIP_INDEX_URL=$PIP_INDEX_URL} \
        /opt/venv/bin/python -m pip install -q --disable-pip-version-check \
        "numpy>=2.0" "Cython>=3.0" "setuptools>=77" wheel \
        "pytest>=7" "hypothesis>=6" "mpmath>=1.2" "threadpoolctl>=3" "scipy>=1.9"
    touch "$MARK"
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
say "root ready: $(chroot "$ROOT" /opt/venv/bin/python -c 'import platform, numpy; print(platform.machine(), platform.python_version(), "numpy", numpy.__version__)')"

# 3. the build, inside the root: a copy of the tracked files (and new ones git
#    does not ignore) built in place by the emulated GCC, through ccache (its
#    cache lives in the root, so a reused root rebuilds in seconds)
say "building for aarch64 (emulated)"
B="$ROOT/build/fastlogistic"
rm -rf "$B"; mkdir -p "$B"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$B"
chroot "$ROOT" /usr/bin/env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root \
    CC="ccache gcc" CCACHE_DIR=/var/cache/ccache CCACHE_BASEDIR=/build CCACHE_NOHASHDIR=1 \
    FASTLOGISTIC_BUILD_JOBS="${FASTLOGISTIC_BUILD_JOBS:-$(nproc)}" \
    sh -c 'cd /build/fastlogistic && python setup.py -q build_ext --inplace' > "$ROOT/build/build.log" 2>&1 \
    || { tail -40 "$ROOT/build/build.log"; echo "ci_aarch64: build failed" >&2; exit 1; }
if grep -n "warning" "$ROOT/build/build.log"; then
    echo "ci_aarch64: the aarch64 build warns (above)" >&2; exit 1
fi
grep -q "OpenMP enabled" "$ROOT/build/build.log" || { echo "ci_aarch64: OpenMP not enabled" >&2; exit 1; }
say "built; $(chroot "$ROOT" env CCACHE_DIR=/var/cache/ccache ccache -s 2>/dev/null | grep -iE "hits|misses" | tr -s ' ' | tr '\n' ';')"

# 4. the tests, emulated: the level is the baseline (NEON), no x86 level built
run() {
    chroot "$ROOT" /usr/bin/env -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/root \
        PYTHONPATH=/build/fastlogistic/src OMP_NUM_THREADS=2 sh -c "cd /build/fastlogistic && $*"
}
run python - <<'PY'
import platform, fastlogistic as fl
k = fl._kernels
assert platform.machine() == "aarch64", platform.machine()
assert k.cpu_simd_levels()[0] == "baseline", k.cpu_simd_levels()
assert "neon" in k.simd_level_description(), k.simd_level_description()
assert k.have_openmp()
fl.show_config()
PY
if [ $# -gt 0 ]; then
    TESTS="$*"
else
    # CI's subset under emulation (everything runs about 10-30x slower)
    TESTS=${FL_ARM64_TESTS:-"tests/test_accuracy.py tests/test_semantics.py tests/test_outcache.py
        tests/test_threads.py tests/test_multiclass.py tests/test_multiclass_sums.py"}
fi
say "tests: $TESTS"
run python -m pytest $TESTS -q -p no:cacheprovider -x
say "done"
