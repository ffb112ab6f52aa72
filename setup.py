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
                            machine code, 15 % less compile time, a .so 6x smaller).
OpenMP is detected by compiling and linking a test library the way the
extension is linked (CFLAGS and LDFLAGS included); without it the build still
succeeds, runs on one thread, says so loudly here and in
fastlogistic.show_config().
"""
import glob
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

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


# --- parallel compile (issue 18) --------------------------------------------
# setuptools compiles the sources of one extension one after the other; this
# compiles them on a thread pool (one compiler process per thread), longest
# first, so that the last one to start is a short one.  CPU seconds per file
# (gcc 12, -O3 -g, AMD EPYC Zen 3 VM under load): fl_isa_avx512.c 171 (four
# zmm per math vector: 1.25 MB of code), fl_isa_baseline.c 62, each other
# fl_isa_*.c 14-19, _kernels.c 11, fl_dispatch.c 0.1.
COMPILE_ORDER = ["fl_isa_avx512.c", "fl_isa_baseline.c", "fl_isa_avx512_mc.c",
                 "fl_isa_avx2_mc.c", "fl_isa_baseline_mc.c", "fl_isa_avx2.c",
                 "fl_isa_avx512s.c", "_kernels.c", "fl_dispatch.c"]


def _build_jobs():
    value = os.environ.get("FASTLOGISTIC_BUILD_JOBS", "").strip()
    if value:
        return max(1, int(value))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def parallel_compile(compiler, jobs):
    """Make compiler.compile (a distutils UnixCCompiler: GCC, Clang, MinGW)
    compile the sources of one call on `jobs` threads.  Other compilers
    (MSVC) are left as they are."""
    if not hasattr(compiler, "_compile") or compiler.compiler_type == "msvc":
        return

    def rank(obj, build):
        name = os.path.basename(build[obj][0])
        return COMPILE_ORDER.index(name) if name in COMPILE_ORDER else len(COMPILE_ORDER)

    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)

        def one(obj):
            src, ext = build[obj]
            compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        todo = sorted((o for o in objects if o in build), key=lambda o: rank(o, build))
        if jobs == 1 or len(todo) < 2:
            for obj in todo:
                one(obj)
        else:
            with ThreadPoolExecutor(min(jobs, len(todo))) as pool:
                for _ in pool.map(one, todo):   # re-raises the first failure
                    pass
        return objects

    compiler.compile = compile
# --- end of parallel compile --------------------------------------------------


class BuildExt(build_ext):
    """Adds OpenMP flags when the compiler accepts them."""

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
            base = ["-O3", "-fno-strict-aliasing"]
            # Python's CFLAGS has -g: debug information does not change the
            # machine code (objdump -d of fl_isa_avx512.o identical) but costs
            # 15 % of the compile time and 5/6 of the .so's 19 MB
            if not _flag("FASTLOGISTIC_DEBUG"):
                base.append("-g0")
            if _flag("FASTLOGISTIC_NATIVE"):
                base.append("-march=native")
        san = os.environ.get("FASTLOGISTIC_SANITIZE", "").strip()
        san_flags = []
        if san and ctype != "msvc":
            # -fno-wrapv: Python's own -fwrapv would hide signed overflow from
            # UBSan; -O1 (after -O3): what the sanitizers advise, and a build
            # several times faster
            san_flags = [f"-fsanitize={san}", "-fno-omit-frame-pointer", "-fno-wrapv", "-g", "-O1"]
            print(f"fastlogistic: sanitizer build ({' '.join(san_flags)})", file=sys.stderr)
        self._omp_error = ""
        want_omp = not _flag("FASTLOGISTIC_NO_OPENMP")
        use_omp = want_omp and self._compiles_with(omp + san_flags)
        print(f"fastlogistic: OpenMP {'enabled' if use_omp else 'NOT available: single-threaded build'}",
              file=sys.stderr)
        # --- the portable build (FASTLOGISTIC_PORTABLE=1, or MSVC) ---
        portable = _flag("FASTLOGISTIC_PORTABLE") or ctype == "msvc"
        if portable:
            print("fastlogistic: portable build: no C vector level, the Cython level only",
                  file=sys.stderr)
            for ext in self.extensions:
                ext.sources = [s for s in ext.sources
                               if not os.path.basename(s).startswith("fl_isa_")]
                ext.define_macros.append(("FL_PORTABLE", "1"))
        # --- end of the portable build ---
        if want_omp and not use_omp:
            print("\n" + "!" * 72 + "\nfastlogistic: WARNING: the OpenMP probe failed, so this build "
                  "runs on ONE thread.\n  (CFLAGS=%r LDFLAGS=%r)\n  %s\nSet FASTLOGISTIC_NO_OPENMP=1 "
                  "to build single-threaded on purpose.\n" % (
                      os.environ.get("CFLAGS", ""), os.environ.get("LDFLAGS", ""),
                      self._omp_error.strip()[-800:]) + "!" * 72 + "\n", file=sys.stderr)
        if san_flags and not _flag("FASTLOGISTIC_SANITIZE_AVX512"):
            # the AVX-512 units cannot run on the AVX2 CPUs the sanitized runs
            # use (CI), and instrumenting them costs most of the build: built
            # plain (at -O1) unless FASTLOGISTIC_SANITIZE_AVX512=1
            compile_one = self.compiler._compile

            def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
                if "avx512" in os.path.basename(src):
                    extra_postargs = [a for a in extra_postargs if not a.startswith("-fsanitize")]
                return compile_one(obj, src, ext, cc_args, extra_postargs, pp_opts)
            self.compiler._compile = _compile
        for ext in self.extensions:
            ext.extra_compile_args = base + (omp if use_omp else []) + san_flags
            ext.extra_link_args = (omp if use_omp and ctype != "msvc" else []) + san_flags
            if _flag("FASTLOGISTIC_NATIVE"):
                ext.define_macros.append(("FL_BUILD_NATIVE", "1"))
        parallel_compile(self.compiler, _build_jobs())
        super().build_extensions()


ext = Extension(
    "fastlogistic._kernels",
    sources=["src/fastlogistic/_cython/_kernels.pyx"] + [f"src/fastlogistic/core/{c}" for c in CORE],
    include_dirs=[np.get_include(), "src/fastlogistic", "src/fastlogistic/_cython", "src/fastlogistic/core"],
    define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION")],
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

setup(
    ext_modules=cythonize([ext, cylevel], language_level=3,
                          compiler_directives={"embedsignature": True}),
    cmdclass={"build_ext": BuildExt},
)
