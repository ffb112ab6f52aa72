"""Build script: one Cython extension (fastlogistic._kernels) with the C math
core compiled in.

Environment variables (all optional):
  FASTLOGISTIC_NATIVE=1     compile the baseline for this machine (-march=native);
                            the wheel is then not portable.  The AVX2 and AVX-512
                            levels are always built and picked at run time.
  FASTLOGISTIC_NO_OPENMP=1  build without OpenMP (single-threaded).
  FASTLOGISTIC_PORTABLE=1   compile no C vector level (core/fl_isa_*.c, GCC/Clang
                            vector extensions): only the Cython level ("cython",
                            Cython loops over libm) and the plain-C dispatch.
                            Automatic with MSVC, which cannot compile the others.
  FASTLOGISTIC_SANITIZE=address,undefined
                            build with AddressSanitizer / UndefinedBehaviorSanitizer
                            (any -fsanitize= list; OpenMP stays on).  For testing
                            only: see scripts/sanitize.sh.  The AVX-512 units are
                            built uninstrumented unless FASTLOGISTIC_SANITIZE_AVX512=1.
  FASTLOGISTIC_BUILD_JOBS=n compile n C files at once (default: the CPUs this
                            process may use); 1 compiles one after the other.
  FASTLOGISTIC_DEBUG=1      keep debug information (-g; by default -g0: the same
                            machine code, less compile time, a .so 6x smaller).
OpenMP is detected by compiling and linking a test library the way the
extension is linked (CFLAGS and LDFLAGS included); a compiler without it
stops the build with what to install, unless FASTLOGISTIC_NO_OPENMP=1 asks
for a single-threaded build (fastlogistic.show_config() then says so).
The C-API target is NumPy 1.23 (the oldest NumPy supported) whatever NumPy
the build environment has.  On a CPU other than x86-64 the AVX units are
left out (the baseline level is the generic vector code: NEON on aarch64).
"""
import copy
import glob
import os
import platform
import shlex
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from setuptools.modified import newer_group        # setuptools >= 69
except ImportError:                                    # pragma: no cover
    from distutils.dep_util import newer_group

CORE = [
    "fl_dispatch.c",
    "fl_isa_avx512.c",
    "fl_isa_avx512s.c",
    "fl_isa_avx2.c",
    "fl_isa_baseline.c",
    "fl_isa_avx512_mc.c",
    "fl_isa_avx2_mc.c",
    "fl_isa_baseline_mc.c",
]


def _flag(name):
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


# Sources compiled first: the longest, so that the last to start is a short one.
COMPILE_ORDER = ["fl_isa_avx512.c", "fl_isa_baseline.c", "fl_isa_avx512_mc.c",
                 "fl_isa_avx2_mc.c", "fl_isa_baseline_mc.c", "fl_isa_avx2.c",
                 "fl_isa_avx512s.c", "_kernels.c", "fl_dispatch.c"]

# The oldest NumPy C-API the built module runs on (pyproject.toml: numpy>=1.23),
# whatever NumPy the build environment has: NumPy 2.x headers default to other
# targets (older ones lack PyDataMem_SetHandler, newer ones do not import on
# 1.23).  _outcache.h stops a build whose target is outside 1.22..1.23.
NPY_TARGET = ("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION")

# x86-64 only: the AVX units (their dispatch by cpuid is compiled only there)
X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def _build_jobs():
    value = os.environ.get("FASTLOGISTIC_BUILD_JOBS", "").strip()
    if value:
        return max(1, int(value))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def _rank(src):
    name = os.path.basename(src)
    return COMPILE_ORDER.index(name) if name in COMPILE_ORDER else len(COMPILE_ORDER)


class BuildExt(build_ext):
    """OpenMP flags (a build that wants OpenMP and cannot have it stops),
    the build options of the module docstring, and the C files of one
    extension compiled on a thread pool: each through the public
    ``self.compiler.compile([source], ...)``, then one
    ``link_shared_object`` for the extension."""

    def _compiles_with(self, flags):
        """The OpenMP probe: compiled and linked as the extension is (the
        shared-object linker, which carries the user's CFLAGS and LDFLAGS:
        an executable link would drop LDFLAGS, and a CFLAGS with
        -fsanitize=... then fails the probe for the wrong reason)."""
        src = "#include <omp.h>\nint fl_omp_probe(void) { return omp_get_max_threads(); }\n"
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "omp_check.c")
            with open(path, "w") as f:
                f.write(src)
            try:
                objs = self.compiler.compile([path], output_dir=d, extra_postargs=flags)
                self.compiler.link_shared_object(objs, os.path.join(d, "omp_check.so"),
                                                 extra_postargs=flags)
            except Exception as exc:
                self._omp_error = str(exc)
                return False
        return True

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        if ctype == "msvc":
            omp = ["/openmp"]
            base = ["/O2"]
        else:
            omp = ["-fopenmp"]
            # -ffp-contract=fast: GCC's default in GNU C, where Clang contracts
            # only inside one expression; the accuracy bounds are met with
            # the multiply-adds fused wherever the core writes them, so both
            # compilers are pinned to it.  -Wno-psabi: the vector arguments
            # of static inline helpers never cross an ABI boundary.
            base = ["-O3", "-fno-strict-aliasing", "-ffp-contract=fast", "-Wno-psabi"]
            # Python's CFLAGS has -g: debug information does not change the
            # machine code but costs compile time and most of the .so's size
            if not _flag("FASTLOGISTIC_DEBUG"):
                base.append("-g0")
            if _flag("FASTLOGISTIC_NATIVE"):
                base.append("-march=native")
        san = os.environ.get("FASTLOGISTIC_SANITIZE", "").strip()
        self._san_flags = []
        if san and ctype != "msvc":
            # -fno-wrapv: Python's own -fwrapv would hide signed overflow from
            # UBSan; -O1 (after -O3): what the sanitizers advise, and a build
            # several times faster
            self._san_flags = [f"-fsanitize={san}", "-fno-omit-frame-pointer", "-fno-wrapv", "-g", "-O1"]
            print(f"fastlogistic: sanitizer build ({' '.join(self._san_flags)})", file=sys.stderr)
        # the AVX-512 units cannot run on the AVX2 CPUs the sanitized runs
        # may use, and instrumenting them costs most of the build: built
        # plain (at -O1) unless FASTLOGISTIC_SANITIZE_AVX512=1
        self._plain_avx512 = bool(self._san_flags) and not _flag("FASTLOGISTIC_SANITIZE_AVX512")
        # The C core (fl_*.c: no Python or NumPy header in them) is compiled
        # on Linux with the same command whatever Python builds it (CC, the
        # user's CFLAGS/CPPFLAGS, -fPIC, -fwrapv as in Python's own CFLAGS up
        # to 3.11), not with that Python's CFLAGS (3.12 changed -fwrapv to
        # -fno-strict-overflow, 3.9/3.10 add a warning flag): the same
        # objects for every CPython, which ccache then shares between them.
        self._core_compiler = None
        if ctype == "unix" and sys.platform.startswith("linux"):
            cc = shlex.split(os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc")
            core = copy.copy(self.compiler)
            core.set_executable("compiler_so", cc + ["-DNDEBUG", "-fwrapv", "-Wall"]
                                + shlex.split(os.environ.get("CFLAGS", ""))
                                + shlex.split(os.environ.get("CPPFLAGS", ""))
                                + shlex.split(sysconfig.get_config_var("CCSHARED") or "-fPIC"))
            self._core_compiler = core
        self._omp_error = ""
        want_omp = not _flag("FASTLOGISTIC_NO_OPENMP")
        use_omp = want_omp and self._compiles_with(omp + self._san_flags)
        if want_omp and not use_omp:
            raise SystemExit(
                "\n" + "!" * 72 + "\nfastlogistic: ERROR: the compiler cannot build with OpenMP "
                "(-fopenmp / omp.h).\n  compiler: %s\n  CFLAGS=%r LDFLAGS=%r\n  %s\n"
                "Install the OpenMP runtime of your compiler (GCC: libgomp, part of GCC; "
                "Clang on Debian/Ubuntu: libomp-dev; macOS: brew install libomp and "
                "CFLAGS='-Xpreprocessor -fopenmp -I...'), or set FASTLOGISTIC_NO_OPENMP=1 "
                "to build a single-threaded library on purpose.\n" % (
                    " ".join(getattr(self.compiler, "compiler_so", None) or [ctype]),
                    os.environ.get("CFLAGS", ""), os.environ.get("LDFLAGS", ""),
                    self._omp_error.strip()[-800:]) + "!" * 72 + "\n")
        print(f"fastlogistic: OpenMP {'enabled' if use_omp else 'off (FASTLOGISTIC_NO_OPENMP): single-threaded build'}",
              file=sys.stderr)
        # --- the portable build (FASTLOGISTIC_PORTABLE=1, or MSVC) ---
        portable = _flag("FASTLOGISTIC_PORTABLE") or ctype == "msvc"
        if portable:
            print("fastlogistic: portable build: no C vector level, the Cython level only",
                  file=sys.stderr)
        for ext in self.extensions:
            if portable:
                ext.sources = [s for s in ext.sources
                               if not os.path.basename(s).startswith("fl_isa_")]
                ext.define_macros.append(("FL_PORTABLE", "1"))
            elif not X86:
                ext.sources = [s for s in ext.sources
                               if not os.path.basename(s).startswith("fl_isa_avx")]
            ext.extra_compile_args = base + (omp if use_omp else []) + self._san_flags
            ext.extra_link_args = (omp if use_omp and ctype != "msvc" else []) + self._san_flags
            if _flag("FASTLOGISTIC_NATIVE"):
                ext.define_macros.append(("FL_BUILD_NATIVE", "1"))
        super().build_extensions()

    def build_extension(self, ext):
        jobs = _build_jobs()
        if self.compiler.compiler_type == "msvc" or len(ext.sources) < 2:
            return super().build_extension(ext)
        ext_path = self.get_ext_fullpath(ext.name)
        if not (self.force or newer_group(list(ext.sources) + list(ext.depends), ext_path, "newer")):
            print(f"fastlogistic: skipping '{ext.name}' (up to date)", file=sys.stderr)
            return
        macros = list(ext.define_macros) + [(name,) for name in ext.undef_macros]

        def one(src):
            args = list(ext.extra_compile_args)
            if self._plain_avx512 and "avx512" in os.path.basename(src):
                args = [a for a in args if not a.startswith("-fsanitize")]
            cc = self.compiler
            if self._core_compiler is not None and os.path.basename(src).startswith("fl_"):
                cc = self._core_compiler
            return cc.compile([src], output_dir=self.build_temp, macros=macros,
                              include_dirs=ext.include_dirs, debug=self.debug,
                              extra_postargs=args, depends=ext.depends)

        todo = sorted(ext.sources, key=_rank)
        with ThreadPoolExecutor(min(jobs, len(todo))) as pool:
            done = dict(zip(todo, pool.map(one, todo)))   # re-raises the first failure
        objects = [o for src in ext.sources for o in done[src]] + list(ext.extra_objects or [])
        self.compiler.link_shared_object(
            objects, ext_path, libraries=self.get_libraries(ext),
            library_dirs=ext.library_dirs, runtime_library_dirs=ext.runtime_library_dirs,
            extra_postargs=ext.extra_link_args, export_symbols=self.get_export_symbols(ext),
            debug=self.debug, build_temp=self.build_temp,
            target_lang=ext.language or self.compiler.detect_language(ext.sources))


ext = Extension(
    "fastlogistic._kernels",
    sources=["src/fastlogistic/_cython/_kernels.pyx"] + [f"src/fastlogistic/core/{c}" for c in CORE],
    include_dirs=[np.get_include(), "src/fastlogistic", "src/fastlogistic/_cython", "src/fastlogistic/core"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION"), NPY_TARGET],
    # headers and includes: a change to any of them rebuilds the extension
    depends=sorted(
        glob.glob("src/fastlogistic/core/*.h")
        + glob.glob("src/fastlogistic/core/fl_isa_*.c")  # included by the *_mc.c units
        + glob.glob("src/fastlogistic/_cython/*.pxi")
        + glob.glob("src/fastlogistic/_cython/*.h")
    ),
)

# the Cython level's typed-memoryview loops (the level's table is in _kernels)
cylevel = Extension(
    "fastlogistic._cylevel",
    sources=["src/fastlogistic/_cython/_cylevel.pyx"],
    include_dirs=["src/fastlogistic", "src/fastlogistic/_cython", "src/fastlogistic/core"],
    depends=["src/fastlogistic/_cython/_cylevel_points.pxi", "src/fastlogistic/_cython/_softmax_decl.pxi"],
)

# The generated C depends on the Python and the NumPy (its __init__.pxd) that
# build it: kept apart per both, so that a clone built with one CPython and
# then another never compiles C that Cython wrote for the other's NumPy.
CYTHON_DIR = os.path.join("build", "cython", f"{sys.implementation.cache_tag}-numpy{np.__version__}")

setup(
    ext_modules=cythonize([ext, cylevel], language_level=3, build_dir=CYTHON_DIR,
                          compiler_directives={"embedsignature": True}),
    cmdclass={"build_ext": BuildExt},
)
