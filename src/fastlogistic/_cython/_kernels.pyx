# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cython kernels (layer 2): split the work into fixed-size chunks, run the
chunks in parallel with OpenMP (``prange``), hand each chunk to the math core.

Every operand reaches this layer as a 1-D NumPy array with any stride
(negative and zero too) and a *period*: element ``i`` of the flat operation is
``a[i]`` for period 0, ``a[i % period]`` otherwise (a broadcast along the last
axis, or a scalar with period 1).  Contiguous operands are passed to the core
in place; an input of period up to a chunk is read from its tile, the period
repeated over a chunk's length once per call (_make_tiles); the others are
gathered into a per-thread buffer first.

Chunks are fixed (``CHUNK`` elements) whatever the thread count, and each
chunk's partial sum is stored in its own slot and added in chunk order, so
every result is bitwise the same for any number of threads.
"""
cimport numpy as cnp
import math as _math

import numpy as np
from cython.parallel cimport prange, threadid
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memset
from cpython.pyport cimport PY_SSIZE_T_MAX

cnp.import_array()

include "_softmax_decl.pxi"

cdef extern from "core/fl_core.h" nogil:
    ctypedef void (*fl_unary_f64_fn)(const double *x, double *y, Py_ssize_t n,
                                    int stream) noexcept
    ctypedef void (*fl_unary_f32_fn)(const float *x, float *y, Py_ssize_t n,
                                    int stream) noexcept
    ctypedef double (*fl_bcel_f64_fn)(const double *x, const double *t, const double *w,
                                      const double *pw, double *loss, double *grad,
                                      double *hess, double gscale, Py_ssize_t n,
                                      int want_sum, int stream) noexcept
    ctypedef double (*fl_bcel_f32_fn)(const float *x, const float *t, const float *w,
                                      const float *pw, float *loss, float *grad,
                                      float *hess, double gscale, Py_ssize_t n,
                                      int want_sum, int stream) noexcept
    ctypedef double (*fl_bce_f64_fn)(const double *p, const double *t, const double *w,
                                     double *loss, double *grad, double gscale,
                                     Py_ssize_t n, Py_ssize_t *first_bad,
                                     int stream) noexcept
    ctypedef double (*fl_bce_f32_fn)(const float *p, const float *t, const float *w,
                                     float *loss, float *grad, double gscale,
                                     Py_ssize_t n, Py_ssize_t *first_bad,
                                     int stream) noexcept
    ctypedef struct fl_table:
        fl_unary_f64_fn unary_f64[5]
        fl_unary_f32_fn unary_f32[5]
        fl_bcel_f64_fn bcel_f64
        fl_bcel_f32_fn bcel_f32
        fl_bce_f64_fn bce_f64
        fl_bce_f32_fn bce_f32
        fl_softmax_table softmax
        int level
    enum:
        FL_SIGMOID, FL_LOG_SIGMOID, FL_SOFTPLUS, FL_SIGMOID_GRAD, FL_LOGIT, FL_N_UNARY
        FL_LEVEL_BASELINE, FL_LEVEL_AVX2, FL_LEVEL_AVX512, FL_LEVEL_AVX512_SPLIT, FL_N_LEVELS
    int fl_cpu_max_level()
    int fl_cpu_levels(int *order)
    int fl_cpu_is_amd()
    int fl_fill_table(fl_table *t, int level)
    const char *fl_level_name(int level)
    const char *fl_compiler_name()

cdef extern from "core/fl_omp.h" nogil:
    int fl_have_openmp()
    int fl_omp_max_threads()

# The "cython" level: the table filled with Cython loops over libm
# (_cylevel_table.pxi), not by the C core.  A FASTLOGISTIC_PORTABLE=1 build,
# and any MSVC build, compiles no C vector level at all (FL_PORTABLE); this
# level is then the default and the only one.
cdef enum:
    FL_LEVEL_CYTHON = -1

cdef extern from *:
    """
    #ifdef FL_PORTABLE
    #define FL_IS_PORTABLE 1
    #else
    #define FL_IS_PORTABLE 0
    #endif
    """
    const int FL_IS_PORTABLE

include "_cylevel_table.pxi"

# ---------------------------------------------------------------------------
# the dispatch table and the library's configuration
# ---------------------------------------------------------------------------

# One filled table per level (the C levels, then the cython level), never
# written again once filled; TABLE points at the one in use.  set_simd_level
# swaps the pointer with one atomic store, so a kernel running on another
# thread (outside the GIL) never reads a table that is being rewritten (a
# call in flight may run its remaining chunks at the new level).
cdef extern from *:
    """
    #define fl_publish_table(pp, t) __atomic_store_n((pp), (t), __ATOMIC_RELEASE)
    """
    void fl_publish_table(fl_table **pp, fl_table *t) nogil

cdef fl_table _TABLES[FL_N_LEVELS + 1]
cdef bint _filled[FL_N_LEVELS + 1]     # static storage: all False at start
cdef fl_table *TABLE = NULL


cdef int _fill(int level) noexcept nogil:
    """publish the table of kernel set `level` (FL_N_LEVELS: the best C level;
    the cython level where asked, or where no C level was built); returns
    the level in use"""
    cdef fl_table scratch
    cdef int slot
    memset(&scratch, 0, sizeof(scratch))     # entries a level lacks stay NULL
    if level != FL_LEVEL_CYTHON and fl_fill_table(&scratch, level) >= 0:
        slot = scratch.level
    else:
        _cy_fill_table(&scratch)
        slot = FL_N_LEVELS
    if not _filled[slot]:
        _TABLES[slot] = scratch      # filled once, before it is ever published
        _filled[slot] = True
    fl_publish_table(&TABLE, &_TABLES[slot])
    return _TABLES[slot].level


_fill(FL_N_LEVELS)

SIGMOID = FL_SIGMOID
LOG_SIGMOID = FL_LOG_SIGMOID
SOFTPLUS = FL_SOFTPLUS
SIGMOID_GRAD = FL_SIGMOID_GRAD
LOGIT = FL_LOGIT

LEVEL_NAMES = {FL_LEVEL_AVX512_SPLIT: "avx512-split", FL_LEVEL_AVX512: "avx512-wide",
               FL_LEVEL_AVX2: "avx2", FL_LEVEL_BASELINE: "baseline",
               FL_LEVEL_CYTHON: "cython"}
PORTABLE_BUILD = bool(FL_IS_PORTABLE)


def cpu_simd_levels():
    """Names of the SIMD levels (kernel sets) this CPU and build can run, best
    first.  The two AVX-512 ones differ in layout: "avx512-wide" works on
    four zmm registers per step, "avx512-split" on one, with exp(-|x|) by
    blocks; the first listed is the faster on this CPU's kind.  "cython"
    (Cython loops over libm, any CPU) comes last: the default only in a
    portable build, which has no other."""
    cdef int order[FL_N_LEVELS]
    cdef int n = fl_cpu_levels(order)
    return [LEVEL_NAMES[order[i]] for i in range(n)] + ["cython"]


def set_simd_level(name):
    """Use the kernels of SIMD level `name` (or the best below it, if the CPU
    lacks it; "cython" in a portable build); "avx512" is the better AVX-512
    layout for this CPU; "cython" the Cython loops over libm.  Returns the
    name of the level now in use."""
    cdef int want
    if name == "avx512":
        name = next((nm for nm in cpu_simd_levels() if nm.startswith("avx512")), "avx512-wide")
    for want, nm in LEVEL_NAMES.items():
        if nm == name:
            break
    else:
        raise ValueError(f"unknown SIMD level {name!r}; valid levels: 'avx512', "
                         f"{', '.join(repr(v) for v in LEVEL_NAMES.values())}")
    level = LEVEL_NAMES[_fill(want)]
    _stream_apply()         # the default depends on the level
    return level


def get_simd_level():
    return LEVEL_NAMES[TABLE.level]


def simd_level_description():
    if TABLE.level == FL_LEVEL_CYTHON:
        return ("cython (Cython loops over libm"
                + ("; portable build: no C vector level)" if FL_IS_PORTABLE else ")"))
    return fl_level_name(TABLE.level).decode()


def compiler_name():
    return fl_compiler_name().decode()


def have_openmp():
    return bool(fl_have_openmp())


# --- threads ---------------------------------------------------------------

cdef enum:
    CHUNK = 4096            # elements per chunk: fixed, so results never depend on threads
    PARALLEL_MIN = 32768    # below this many elements, never enter a parallel region
CHUNK_SIZE = CHUNK
PARALLEL_THRESHOLD = PARALLEL_MIN

# Outputs of a call that reads and writes at least this many bytes in all are
# written with streaming (non-temporal) stores: they bypass the caches, which
# saves the read of each output line from memory and evicts nothing.  Below
# it, the data may still be in cache for the caller, and normal stores win.
# The default, by CPU and SIMD level:
#  - 6 MiB: where streaming started to pay on an Intel Xeon (Cascade Lake)
#    cloud VM.
#  - AMD at "avx512-split" (Zen 4 class, no software prefetch there): 6 MiB
#    for calls on 2 or more threads only.  On the Zen 4 CI VM two threads
#    ran faster streamed, one thread slightly slower (the kernels are
#    compute-bound there, and normal stores keep the result in cache).
#  - other AMD levels: never (-1); on Zen 4 normal stores were as fast or
#    faster, and the AVX2-only AMD machines these levels serve were not
#    measured without the prefetch.
# Figures in docs/design-measurements.md.
DEFAULT_STREAM_BYTES = 6 << 20
cdef Py_ssize_t _stream_user = -2      # set_stream_threshold's value; -2: the default
cdef Py_ssize_t _stream_bytes = DEFAULT_STREAM_BYTES   # in effect
cdef int _stream_min_threads = 1                       # in effect


def default_stream_threshold():
    """(bytes, least threads) of the default for this CPU at the level in use."""
    if TABLE.level == FL_LEVEL_CYTHON:
        return -1, 1        # its loops ignore the stream flag
    if not fl_cpu_is_amd():
        return DEFAULT_STREAM_BYTES, 1
    if TABLE.level == FL_LEVEL_AVX512_SPLIT:
        return DEFAULT_STREAM_BYTES, 2
    return -1, 1


cdef _stream_apply():
    global _stream_bytes, _stream_min_threads
    if _stream_user == -2:
        _stream_bytes, _stream_min_threads = default_stream_threshold()
    else:
        _stream_bytes, _stream_min_threads = _stream_user, 1


_stream_apply()


def set_stream_threshold(nbytes):
    """Bytes moved by one call (inputs + outputs) from which outputs are streamed."""
    global _stream_user
    if nbytes is None:
        _stream_user = -2
    elif isinstance(nbytes, bool) or not isinstance(nbytes, (int, cnp.integer)):
        raise TypeError(f"stream threshold must be an int or None, got {type(nbytes).__name__}")
    elif nbytes < -1:
        raise ValueError(f"stream threshold must be >= 0 bytes, or -1 for never, got {nbytes}")
    else:
        _stream_user = nbytes if nbytes < PY_SSIZE_T_MAX else PY_SSIZE_T_MAX
    _stream_apply()


def get_stream_threshold():
    return _stream_bytes


def get_stream_min_threads():
    """Calls on fewer threads than this never stream (the AMD default: 2)."""
    return _stream_min_threads


# ---------------------------------------------------------------------------
# outputs the library allocates (see _outcache.h)
# ---------------------------------------------------------------------------

cdef extern from "_outcache.h":
    # NumPy's memory-handler switch (C-API 1.22+, NEP 49), declared here:
    # the __init__.pxd of some NumPy releases (2.0) does not declare it
    object _np_set_handler "PyDataMem_SetHandler"(object handler)
    object fl_oc_capsule()
    void fl_oc_set_limit(size_t limit) nogil
    size_t fl_oc_get_limit() nogil
    size_t fl_oc_held() nogil
    int fl_oc_count() nogil
    size_t FL_OC_MIN

# Outputs of this many bytes or more come from the output-cache handler: they
# start on a 64-byte boundary (the binary cross-entropy kernels stream only
# aligned outputs) and, from OUTPUT_CACHE_MIN bytes on, are kept for the next
# call when freed.  Below it, NumPy's own allocator.
cdef Py_ssize_t ALIGNED_MIN = 1 << 16
OUTPUT_CACHE_MIN = FL_OC_MIN
# 256 MiB: the outputs of a few calls at N = 1e7 (float64: 80 MB each).
DEFAULT_OUTPUT_CACHE = 256 << 20
cdef object _oc_handler = fl_oc_capsule()
fl_oc_set_limit(DEFAULT_OUTPUT_CACHE)


def set_output_cache(nbytes):
    """Bytes of freed library outputs kept for reuse (0: none; None: default)."""
    if nbytes is None:
        nbytes = DEFAULT_OUTPUT_CACHE
    elif isinstance(nbytes, bool) or not isinstance(nbytes, (int, cnp.integer)):
        raise TypeError(f"output cache size must be an int or None, got {type(nbytes).__name__}")
    elif nbytes < 0:
        raise ValueError(f"output cache size must be >= 0 bytes, got {nbytes}")
    fl_oc_set_limit(min(nbytes, <object>PY_SSIZE_T_MAX))


def get_output_cache():
    return fl_oc_get_limit()


def output_cache_held():
    """(bytes, blocks) of freed outputs kept now."""
    return fl_oc_held(), fl_oc_count()


cdef cnp.ndarray _new_out(int nd, cnp.npy_intp *dims, int typenum, Py_ssize_t nbytes,
                          Py_ssize_t from_bytes):
    """PyArray_EMPTY, from the output-cache handler from `from_bytes` bytes up."""
    if nbytes < from_bytes:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    old = _np_set_handler(_oc_handler)
    try:
        return cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    finally:
        _np_set_handler(old)


def empty(shape, dtype):
    """np.empty(shape, dtype) (C order, float32 or float64), from the
    output-cache handler from ALIGNED_MIN bytes up."""
    cdef cnp.npy_intp dims[32]
    shape = tuple(shape)
    cdef int nd = len(shape), k
    cdef cnp.dtype dt = np.dtype(dtype)
    cdef Py_ssize_t n = dt.itemsize
    if nd > 32:
        raise ValueError(f"at most 32 dimensions, got {nd}")
    for k in range(nd):
        dims[k] = shape[k]
        n *= dims[k]
    return _new_out(nd, dims, dt.type_num, n, ALIGNED_MIN)


cdef int _user_threads = 0                    # set_num_threads(); 0 = not set
cdef int _omp_initial = fl_omp_max_threads()  # OMP_NUM_THREADS or the CPU count


cdef int _default_threads() noexcept nogil:
    cdef int m = fl_omp_max_threads()
    if _user_threads > 0:
        # a threadpoolctl limit (omp_set_num_threads) lowers omp_get_max_threads
        # below its start value: obey it over set_num_threads as well
        if m < _omp_initial:
            return min(_user_threads, m)
        return _user_threads
    return m


def set_num_threads(n):
    """Set the library's default thread count (None restores the default)."""
    global _user_threads
    if n is None:
        _user_threads = 0
        return
    _user_threads = check_num_threads(n)


def omp_max_threads():
    """omp_get_max_threads() of the OpenMP runtime in use (1 without OpenMP)."""
    return fl_omp_max_threads()


def get_num_threads():
    """The number of threads a call with ``num_threads=None`` uses on large input."""
    if not fl_have_openmp() or _forked_child:
        return 1
    return fl_get_tls_threads() or _default_threads()


cpdef int check_num_threads(n) except -1:
    if isinstance(n, bool) or not isinstance(n, (int, cnp.integer)):
        raise TypeError(f"num_threads must be an int or None, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"num_threads must be >= 1, got {n}")
    return min(int(n), 1 << 16)      # any size of int: clamped before the C int


# GNU libgomp is not fork-safe: in a child forked after the parent started a
# thread team, the child's first parallel region waits forever for threads
# that were not copied (multiprocessing's default "fork" start method hits
# this).  Such a child runs every call on its calling thread, as PyTorch's
# intra-op pool does after fork.
cdef extern from *:
    """
    #ifdef _WIN32
    static int fl_atfork_child(void (*cb)(void)) { (void)cb; return 0; }
    #else
    #include <pthread.h>
    static int fl_atfork_child(void (*cb)(void)) { return pthread_atfork(NULL, NULL, cb); }
    #endif
    """
    int fl_atfork_child(void (*cb)() noexcept nogil)

cdef bint _team_started = False     # this process has started an OpenMP team
cdef bint _forked_child = False     # forked after that: one thread from now on


cdef void _after_fork_in_child() noexcept nogil:
    global _forked_child
    if _team_started:
        _forked_child = True


fl_atfork_child(_after_fork_in_child)


def in_forked_child():
    """True in a process forked after its parent ran OpenMP threads."""
    return bool(_forked_child)


cdef int _threads_for(object num_threads, Py_ssize_t n) except -1:
    """Threads to use for n elements: 1 without entering a parallel region for
    small n (or in a forked child, above), never more threads than chunks."""
    global _team_started
    cdef int t
    if num_threads is None:
        if n < PARALLEL_MIN or not fl_have_openmp():
            return 1
        t = fl_get_tls_threads()          # use_threads() on this thread
        if t <= 0:
            t = _default_threads()
    else:
        t = check_num_threads(num_threads)
        if n < PARALLEL_MIN or not fl_have_openmp():
            return 1
    t = <int>min(<Py_ssize_t>t, (n + CHUNK - 1) // CHUNK)
    if t > 1:
        if _forked_child:
            return 1
        _team_started = True
    return t


# ---------------------------------------------------------------------------
# operands and jobs
# ---------------------------------------------------------------------------

ctypedef struct Arg:
    char *data           # element 0
    Py_ssize_t stride    # bytes between consecutive elements
    Py_ssize_t period    # 0: element i at i*stride; p > 0: at (i % p)*stride
    int present
    int src              # element type in memory (SRC_*); converted while gathered
    char *tile           # a periodic operand's tile (see _make_tiles), or NULL
    char *tile_mem       # the allocation the tile starts in (on a 64-byte boundary)

cdef enum SrcType:
    SRC_SAME = 0         # the kernel's own float type
    SRC_F64 = 1
    SRC_F32 = 2
    SRC_I64 = 3
    SRC_I32 = 4
    SRC_I8 = 5
    SRC_U8 = 6           # also bool

cdef enum JobKind:
    JOB_UNARY = 0
    JOB_BCEL = 1
    JOB_BCE = 2

ctypedef struct Job:
    int kind
    int op
    int is_f64
    Arg a[4]             # inputs: x (or p), target, weight, pos_weight
    Arg o[3]             # outputs: y (or loss), grad, hess
    double gscale
    int want_sum         # the caller needs the loss sum (a reduction)
    Py_ssize_t n
    Py_ssize_t nchunks
    int need_buf         # some operand is not contiguous: gather/scatter
    int stream           # big call: inputs prefetched, outputs streamed
    double *partial      # per-chunk loss sums (reductions), or NULL
    Py_ssize_t *bad      # per-chunk first bad index (JOB_BCE), or NULL


ctypedef fused real:
    float
    double


cdef inline bint _direct(const Arg *a, Py_ssize_t itemsize) noexcept nogil:
    return a.period == 0 and a.stride == itemsize and a.src == SRC_SAME


cdef inline void _convert(int src, const char *p, Py_ssize_t stride, Py_ssize_t m,
                          real *dst) noexcept nogil:
    """dst[0 .. m) = the m elements of type src from p on, stride bytes
    apart, converted (one test of src per run, not per element)"""
    cdef Py_ssize_t j
    if src == SRC_F64:
        for j in range(m):
            dst[j] = <real>(<const double *>(p + j * stride))[0]
    elif src == SRC_F32:
        for j in range(m):
            dst[j] = <real>(<const float *>(p + j * stride))[0]
    elif src == SRC_I64:
        for j in range(m):
            dst[j] = <real>(<const long long *>(p + j * stride))[0]
    elif src == SRC_I32:
        for j in range(m):
            dst[j] = <real>(<const int *>(p + j * stride))[0]
    elif src == SRC_I8:
        for j in range(m):
            dst[j] = <real>(<const signed char *>(p + j * stride))[0]
    elif src == SRC_U8:
        for j in range(m):
            dst[j] = <real>(<const unsigned char *>(p + j * stride))[0]
    elif stride == sizeof(real):
        memcpy(dst, p, m * sizeof(real))
    else:
        for j in range(m):
            dst[j] = (<const real *>(p + j * stride))[0]


cdef inline void _convert_periodic(const Arg *a, Py_ssize_t k, Py_ssize_t m,
                                   real *dst) noexcept nogil:
    """dst[j] = element (k + j) % period of a, j < m: run by run of the period"""
    cdef Py_ssize_t j = 0, r
    while j < m:
        r = min(m - j, a.period - k)
        _convert[real](a.src, a.data + k * a.stride, a.stride, r, dst + j)
        j += r
        k = 0


cdef inline real *_gather(const Arg *a, Py_ssize_t i0, Py_ssize_t m, real *buf) noexcept nogil:
    """The chunk [i0, i0 + m) of a as a contiguous array of real: a itself
    where it is one, else its tile or buf filled"""
    cdef Py_ssize_t k
    if not a.present:
        return NULL
    if _direct(a, sizeof(real)):
        return <real *>(a.data + i0 * a.stride)
    if a.period == 0:
        _convert[real](a.src, a.data + i0 * a.stride, a.stride, m, buf)
        return buf
    k = i0 % a.period
    if a.tile != NULL:
        return <real *>a.tile + k
    if k + m <= a.period and a.src == SRC_SAME and a.stride == sizeof(real):
        return <real *>(a.data + k * a.stride)      # a long period, not wrapping here
    _convert_periodic[real](a, k, m, buf)
    return buf


cdef inline real *_outptr(const Arg *a, Py_ssize_t i0, real *buf) noexcept nogil:
    if not a.present:
        return NULL
    if _direct(a, sizeof(real)):
        return <real *>(a.data + i0 * a.stride)
    return buf


cdef inline void _scatter(const Arg *a, Py_ssize_t i0, Py_ssize_t m, const real *buf) noexcept nogil:
    cdef Py_ssize_t j
    if a.present and not _direct(a, sizeof(real)):
        for j in range(m):
            (<real *>(a.data + (i0 + j) * a.stride))[0] = buf[j]


cdef void _chunk(Job *job, Py_ssize_t c, real *buf) noexcept nogil:
    cdef Py_ssize_t i0 = c * CHUNK
    cdef Py_ssize_t m = min(<Py_ssize_t>CHUNK, job.n - i0)
    cdef real *x = _gather(&job.a[0], i0, m, buf)
    cdef real *t = _gather(&job.a[1], i0, m, buf + CHUNK)
    cdef real *w = _gather(&job.a[2], i0, m, buf + 2 * CHUNK)
    cdef real *pw = _gather(&job.a[3], i0, m, buf + 3 * CHUNK)
    cdef real *y0 = _outptr(&job.o[0], i0, buf + 4 * CHUNK)
    cdef real *y1 = _outptr(&job.o[1], i0, buf + 5 * CHUNK)
    cdef real *y2 = _outptr(&job.o[2], i0, buf + 6 * CHUNK)
    cdef double s = 0.0
    cdef Py_ssize_t bad = -1
    if job.kind == JOB_UNARY:
        if real is double:
            TABLE.unary_f64[job.op](x, y0, m, job.stream)
        else:
            TABLE.unary_f32[job.op](x, y0, m, job.stream)
    elif job.kind == JOB_BCEL:
        if real is double:
            s = TABLE.bcel_f64(x, t, w, pw, y0, y1, y2, job.gscale, m, job.want_sum, job.stream)
        else:
            s = TABLE.bcel_f32(x, t, w, pw, y0, y1, y2, job.gscale, m, job.want_sum, job.stream)
    else:
        if real is double:
            s = TABLE.bce_f64(x, t, w, y0, y1, job.gscale, m, &bad, job.stream)
        else:
            s = TABLE.bce_f32(x, t, w, y0, y1, job.gscale, m, &bad, job.stream)
    if job.need_buf:
        _scatter(&job.o[0], i0, m, <const real *>(buf + 4 * CHUNK))
        _scatter(&job.o[1], i0, m, <const real *>(buf + 5 * CHUNK))
        _scatter(&job.o[2], i0, m, <const real *>(buf + 6 * CHUNK))
    if job.partial != NULL:
        job.partial[c] = s
    if job.bad != NULL:
        job.bad[c] = bad


cdef int _make_tiles(Job *job) except -1 nogil:
    """A tile for every input of period p <= CHUNK, or up to 16 chunks where
    the call is at least two periods long (a longer period is gathered
    chunk by chunk, _gather): its period repeated
    (converted to the kernels' type) over min(n, CHUNK) + p - 1 elements,
    made once per call, so that the chunk from element i0 on is the tile
    from i0 % p on and the kernels read a broadcast operand (a scalar
    target or weight, a broadcast row) as they read a full-length one, with
    no gather per chunk.  The kernels see the same values at the same
    places either way: the same results."""
    cdef int k
    cdef Py_ssize_t p, m
    cdef size_t isz = 8 if job.is_f64 else 4
    for k in range(4):
        p = job.a[k].period
        if not job.a[k].present or p <= 0 or (p > CHUNK and (p > 16 * CHUNK or 2 * p > job.n)):
            continue
        m = min(job.n, <Py_ssize_t>CHUNK) + p - 1
        job.a[k].tile_mem = <char *>malloc(m * isz + 64)
        if job.a[k].tile_mem == NULL:
            _free_tiles(job)
            with gil:
                raise MemoryError()
        job.a[k].tile = job.a[k].tile_mem + (-<size_t>job.a[k].tile_mem & 63)
        if job.is_f64:
            _convert_periodic[double](&job.a[k], 0, m, <double *>job.a[k].tile)
        else:
            _convert_periodic[float](&job.a[k], 0, m, <float *>job.a[k].tile)
    return 0


cdef void _free_tiles(Job *job) noexcept nogil:
    cdef int k
    for k in range(4):
        free(job.a[k].tile_mem)
        job.a[k].tile_mem = NULL
        job.a[k].tile = NULL


cdef int _run(Job *job, int nthreads) except -1 nogil:
    """Run every chunk of job on nthreads threads (1: no parallel region)."""
    cdef Py_ssize_t c
    cdef char *buf = NULL
    cdef char *tb = NULL
    cdef size_t bufsize
    cdef int k, nops = 0
    job.nchunks = (job.n + CHUNK - 1) // CHUNK
    _make_tiles(job)
    for k in range(4):      # a period with no tile: gathered (_gather)
        if job.a[k].present and job.a[k].period > 0 and job.a[k].tile == NULL:
            job.need_buf = 1
    bufsize = (7 * CHUNK * sizeof(double)) if job.need_buf else 0
    # stream the outputs when the call moves more bytes than the caches hold
    # (a tiled input moves none)
    for k in range(4):
        if job.a[k].present and job.a[k].tile == NULL:
            nops += 1
    for k in range(3):
        nops += job.o[k].present
    # (never into the chunk buffer of a gathered call: _scatter reads it
    # straight back)
    if job.nchunks <= 1:
        nthreads = 1
    job.stream = (_stream_bytes >= 0 and not job.need_buf and nthreads >= _stream_min_threads
                  and job.n * (8 if job.is_f64 else 4) * nops >= _stream_bytes)
    if bufsize:
        buf = <char *>malloc(bufsize * nthreads)
        if buf == NULL:
            _free_tiles(job)
            with gil:
                raise MemoryError()
    if nthreads <= 1:
        for c in range(job.nchunks):
            if job.is_f64:
                _chunk[double](job, c, <double *>buf)
            else:
                _chunk[float](job, c, <float *>buf)
    else:
        # guided: big runs of chunks first, smaller ones at the end, so a
        # thread that ran slow (a core busy with other work, a vCPU the
        # host took away, a run of page faults on a fresh output) is made
        # up for by the others, while each thread still writes long runs
        # (page faults on a fresh output contend less than when the
        # threads interleave).  On the 2-vCPU CI VM guided gave two threads
        # a better speed-up than static, and than dynamic, which was lower
        # or more scattered (docs/design-measurements.md).  Which thread
        # runs a chunk never changes its result.
        for c in prange(job.nchunks, num_threads=nthreads, schedule='guided'):
            tb = buf + threadid() * bufsize if buf != NULL else NULL
            if job.is_f64:
                _chunk[double](job, c, <double *>tb)
            else:
                _chunk[float](job, c, <float *>tb)
    free(buf)
    _free_tiles(job)
    return 0


cdef Py_ssize_t _elem_stride(cnp.ndarray v, int axis) except? -1:
    """Byte stride of axis `axis` of v, checked: the kernels index an operand
    by whole elements and load them as aligned C values, so v must be aligned,
    native and step by whole elements (the Python layer copies anything else:
    _api._kernel_operand).  An axis of length <= 1 (or a 0-d v) steps by one
    element."""
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(v)
    cdef Py_ssize_t st
    if cnp.PyArray_SIZE(v) == 0:
        return isz                  # nothing is read (its pointer may be anything)
    if cnp.PyArray_NDIM(v) <= axis or cnp.PyArray_DIMS(v)[axis] <= 1:
        st = isz
    else:
        st = cnp.PyArray_STRIDES(v)[axis]
    if (st % isz != 0 or (<size_t>cnp.PyArray_DATA(v)) % isz != 0
            or not cnp.PyArray_ISNOTSWAPPED(v)):
        raise ValueError(f"internal: an operand of dtype {v.dtype}, strides {(<object>v).strides} "
                         f"at a misaligned or non-element stride reached the kernels")
    return st


cdef inline int _set_arg(Arg *a, object arr, Py_ssize_t period, bint *need_buf, Py_ssize_t itemsize) except -1:
    """arr: a 1-D ndarray (any stride) or None."""
    cdef cnp.ndarray v
    if arr is None:
        a.present = 0
        a.data = NULL
        a.stride = 0
        a.period = 0
        return 0
    v = <cnp.ndarray>arr
    a.present = 1
    a.data = <char *>cnp.PyArray_DATA(v)
    a.stride = _elem_stride(v, 0)
    a.period = period
    a.src = _src_type(v, itemsize)
    a.tile = NULL
    a.tile_mem = NULL
    if period == 0 and not (a.stride == itemsize and a.src == SRC_SAME):
        need_buf[0] = True
    return 0                        # a period: tiled or gathered (_run decides)


cdef int _src_type(cnp.ndarray v, Py_ssize_t itemsize) except -1:
    """How the kernels read v (native byte order, aligned: the caller sees to it)."""
    cdef int t = cnp.PyArray_TYPE(v)
    if (t == cnp.NPY_DOUBLE and itemsize == 8) or (t == cnp.NPY_FLOAT and itemsize == 4):
        return SRC_SAME
    if t == cnp.NPY_DOUBLE:
        return SRC_F64
    if t == cnp.NPY_FLOAT:
        return SRC_F32
    if t == cnp.NPY_INT64 or (t == cnp.NPY_LONG and sizeof(long) == 8):
        return SRC_I64
    if t == cnp.NPY_INT32 or (t == cnp.NPY_LONG and sizeof(long) == 4):
        return SRC_I32
    if t == cnp.NPY_INT8:
        return SRC_I8
    if t == cnp.NPY_UINT8 or t == cnp.NPY_BOOL:
        return SRC_U8
    raise TypeError(f"internal: operand of dtype {v.dtype} reached the kernels")


cdef inline void _init_job(Job *job, int kind, int op, bint is_f64, Py_ssize_t n, double gscale) noexcept nogil:
    cdef int i
    job.kind = kind
    job.op = op
    job.is_f64 = is_f64
    job.n = n
    job.gscale = gscale
    job.want_sum = 1
    job.need_buf = 0
    job.partial = NULL
    job.bad = NULL
    for i in range(4):
        job.a[i].present = 0
        job.a[i].src = SRC_SAME
        job.a[i].tile = NULL
        job.a[i].tile_mem = NULL
    for i in range(3):
        job.o[i].present = 0
        job.o[i].src = SRC_SAME


# ---------------------------------------------------------------------------
# entry points called by the Python API (layer 3)
# ---------------------------------------------------------------------------

cdef object _unary_fallback = None


def register_unary_fallback(f):
    global _unary_fallback
    _unary_fallback = f


cdef inline bint _plain(cnp.ndarray a, int typenum) noexcept:
    """aligned, native-order, C-contiguous array of dtype typenum"""
    return (cnp.PyArray_TYPE(a) == typenum and cnp.PyArray_ISCARRAY_RO(a)
            and cnp.PyArray_ISNOTSWAPPED(a))


def unary(int op, x, out=None, num_threads=None):
    """Elementwise function `op` of x.  The fast path takes an aligned,
    native-order, C-contiguous float32/float64 ndarray and, if given, an
    `out` of the same kind, shape and dtype that is x itself or does not
    overlap it; anything else goes to the Python layer's general path, which
    calls unary_1d."""
    cdef cnp.ndarray a, r
    cdef int typenum
    cdef Job job
    cdef int nth
    cdef char *xs
    cdef char *rs
    cdef Py_ssize_t nbytes
    if num_threads is not None and (type(num_threads) is not int or num_threads < 1):
        # numpy integers too: the general path checks it and names the function
        return _unary_fallback(op, x, out, num_threads)
    if type(x) is cnp.ndarray:
        a = <cnp.ndarray>x
        typenum = cnp.PyArray_TYPE(a)
        if (typenum == cnp.NPY_DOUBLE or typenum == cnp.NPY_FLOAT) and _plain(a, typenum):
            if out is None:
                # the output cache from FL_OC_MIN up only: below it the handler's
                # switch costs a share of the call
                # (docs/design-measurements.md), and these kernels do not
                # need the alignment
                r = _new_out(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), typenum,
                             cnp.PyArray_NBYTES(a), FL_OC_MIN)
            elif type(out) is cnp.ndarray:
                r = <cnp.ndarray>out
                if not (_plain(r, typenum) and cnp.PyArray_ISWRITEABLE(r)
                        and cnp.PyArray_SAMESHAPE(a, r)):
                    return _unary_fallback(op, x, out, num_threads)
                xs = <char *>cnp.PyArray_DATA(a)
                rs = <char *>cnp.PyArray_DATA(r)
                nbytes = cnp.PyArray_NBYTES(a)
                if xs != rs and xs < rs + nbytes and rs < xs + nbytes:
                    return _unary_fallback(op, x, out, num_threads)   # partial overlap
            else:
                return _unary_fallback(op, x, out, num_threads)
            _init_job(&job, JOB_UNARY, op, typenum == cnp.NPY_DOUBLE, cnp.PyArray_SIZE(a), 1.0)
            nth = _threads_for(num_threads, job.n)
            job.a[0].present = 1
            job.a[0].data = <char *>cnp.PyArray_DATA(a)
            job.a[0].stride = cnp.PyArray_ITEMSIZE(a)
            job.a[0].period = 0
            job.o[0].present = 1
            job.o[0].data = <char *>cnp.PyArray_DATA(r)
            job.o[0].stride = job.a[0].stride
            job.o[0].period = 0
            with nogil:
                _run(&job, nth)
            if out is None and cnp.PyArray_NDIM(r) == 0:
                return r[()]          # 0-d in, NumPy scalar out, as ufuncs do
            return r
    return _unary_fallback(op, x, out, num_threads)


def unary_1d(int op, x, y, num_threads=None):
    """y[i] = op(x[i]) for 1-D arrays x, y of one float dtype (any strides)."""
    cdef Job job
    cdef bint need_buf = False
    cdef Py_ssize_t n = cnp.PyArray_SIZE(<cnp.ndarray>y)
    cdef Py_ssize_t itemsize = cnp.PyArray_ITEMSIZE(<cnp.ndarray>y)
    _init_job(&job, JOB_UNARY, op, itemsize == 8, n, 1.0)
    _set_arg(&job.a[0], x, 0, &need_buf, itemsize)
    _set_arg(&job.o[0], y, 0, &need_buf, itemsize)
    job.need_buf = need_buf
    cdef int nth = _threads_for(num_threads, n)
    with nogil:
        _run(&job, nth)


cdef double _sum_partials(const double *p, Py_ssize_t k) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t i
    for i in range(k):
        s += p[i]
    return s


cdef Py_ssize_t _run_summed(Job *job, int nth, Py_ssize_t n, double *total) except -2:
    """Run `job` over its n elements on nth threads with a partial sum per
    chunk (and, for the BCE on probabilities, the first bad lane per chunk):
    one chunk (every small call) keeps them on the stack, more allocate.
    *total = the partial sums added in chunk order; returns the index of the
    first probability outside [0, 1], or -1."""
    cdef Py_ssize_t nchunks = (n + CHUNK - 1) // CHUNK
    cdef double part1 = 0.0
    cdef Py_ssize_t bad1 = -1, i, first = -1
    job.partial = &part1 if nchunks <= 1 else <double *>malloc(nchunks * sizeof(double))
    job.bad = NULL
    if job.kind == JOB_BCE:
        job.bad = &bad1 if nchunks <= 1 else <Py_ssize_t *>malloc(nchunks * sizeof(Py_ssize_t))
    try:
        if job.partial == NULL or (job.kind == JOB_BCE and job.bad == NULL):
            raise MemoryError()
        with nogil:
            _run(job, nth)
            total[0] = _sum_partials(job.partial, nchunks)
            if job.bad != NULL:
                for i in range(nchunks):
                    if job.bad[i] >= 0:
                        first = i * CHUNK + job.bad[i]
                        break
    finally:
        if job.partial != &part1:
            free(job.partial)
        if job.bad != &bad1:
            free(job.bad)
        job.partial = NULL
        job.bad = NULL
    return first


def binary_loss(int kind, Py_ssize_t n, bint is_f64, tuple inputs, tuple periods,
                loss, grad, hess, double gscale, num_threads=None, bint want_sum=True):
    """Run a fused binary-cross-entropy kernel over n elements.

    kind: 1 = with logits (inputs x, t, w, pw), 2 = on probabilities
    (inputs p, t, w).  inputs are 1-D arrays or None, periods their periods;
    loss, grad, hess are 1-D output arrays or None.  Returns
    (sum of the losses in float64, index of the first probability outside
    [0, 1] or -1).  want_sum=False: the sum is not needed (0 comes back) and
    the with-logits kernel computes no loss it does not store."""
    cdef Job job
    cdef bint need_buf = False
    cdef Py_ssize_t itemsize = 8 if is_f64 else 4
    cdef Py_ssize_t i, first = -1
    cdef double total
    _init_job(&job, kind, 0, is_f64, n, gscale)
    job.want_sum = want_sum
    for i in range(len(inputs)):
        _set_arg(&job.a[i], inputs[i], periods[i], &need_buf, itemsize)
    _set_arg(&job.o[0], loss, 0, &need_buf, itemsize)
    _set_arg(&job.o[1], grad, 0, &need_buf, itemsize)
    _set_arg(&job.o[2], hess, 0, &need_buf, itemsize)
    job.need_buf = need_buf
    cdef int nth = _threads_for(num_threads, n)
    first = _run_summed(&job, nth, n, &total)
    return total, first


def kernel_ready(cnp.ndarray a):
    """True when the kernels may read (or write) ndarray `a` in place: native
    byte order, aligned, and every stride of an axis longer than 1 a whole
    number of elements (see _api._kernel_ready, whose test this is, in C:
    every operand of every call goes through it)."""
    cdef int k
    cdef Py_ssize_t isz = cnp.PyArray_ITEMSIZE(a)
    if not cnp.PyArray_ISALIGNED(a):
        return False
    if cnp.PyArray_ISNUMBER(a) or cnp.PyArray_ISBOOL(a):
        if not cnp.PyArray_ISNOTSWAPPED(a):
            return False
    elif not a.dtype.isnative:          # records and the like: every field
        return False
    for k in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[k] > 1 and (isz == 0 or cnp.PyArray_STRIDES(a)[k] % isz != 0):
            return False
    return True


cdef object _F64_TYPE = np.float64
cdef object _F32_TYPE = np.float32


cdef bint _plain_operand(object v, cnp.ndarray x, int typenum, Arg *arg,
                         double *slot) noexcept:
    """Set arg to operand v of the plain case (bcel_plain) and return True,
    or return False where v is not one: a Python float (period 1, its value
    kept in *slot, converted as the general path converts np.asarray(v):
    float64 to x's dtype), or an ndarray (not a subclass) of x's dtype,
    C-contiguous, aligned and native whose shape is x's (period 0) or x's
    trailing axes (a row broadcast over the leading ones: a period)."""
    cdef cnp.ndarray b
    cdef int nd, xd, k
    if type(v) is float:
        if cnp.PyArray_SIZE(x) == 0:
            return False
        slot[0] = <double>v
        arg.present = 1
        arg.data = <char *>slot
        arg.stride = sizeof(double)
        arg.period = 1
        arg.src = SRC_F64
        return True
    if type(v) is not cnp.ndarray:
        return False
    b = <cnp.ndarray>v
    if not _plain(b, typenum):
        return False
    nd = cnp.PyArray_NDIM(b)
    xd = cnp.PyArray_NDIM(x)
    if nd > xd:
        return False
    for k in range(nd):
        if cnp.PyArray_DIMS(b)[k] != cnp.PyArray_DIMS(x)[xd - nd + k]:
            return False
    arg.present = 1
    arg.data = <char *>cnp.PyArray_DATA(b)
    arg.stride = cnp.PyArray_ITEMSIZE(b)
    arg.src = SRC_SAME
    if nd == xd:
        arg.period = 0
    elif cnp.PyArray_SIZE(b) == 0 or cnp.PyArray_SIZE(x) == 0:
        return False
    else:
        arg.period = cnp.PyArray_SIZE(b)     # tiled or gathered: _run decides
    return True


cdef object _binary_plain(int kind, x, t, weight, pos_weight, reduction, bint want_loss,
                          bint want_grad, bint want_hess, num_threads):
    """bcel_plain and bce_plain (kind JOB_BCEL, JOB_BCE: pos_weight None)."""
    cdef cnp.ndarray a, r
    cdef int typenum, red, k
    cdef Job job
    cdef double total
    cdef double slots[3]
    cdef Py_ssize_t n
    cdef int nth
    if type(x) is not cnp.ndarray or type(reduction) is not str:
        return None
    if num_threads is not None and (type(num_threads) is not int or num_threads < 1):
        return None
    a = <cnp.ndarray>x
    typenum = cnp.PyArray_TYPE(a)
    if (typenum != cnp.NPY_DOUBLE and typenum != cnp.NPY_FLOAT) or not _plain(a, typenum):
        return None
    if reduction == "mean":
        red = 0
    elif reduction == "sum":
        red = 1
    elif reduction == "none":
        red = 2
    else:
        return None
    _init_job(&job, kind, 0, typenum == cnp.NPY_DOUBLE, cnp.PyArray_SIZE(a), 1.0)
    if not _plain_operand(t, a, typenum, &job.a[1], &slots[0]):
        return None
    if weight is not None and not _plain_operand(weight, a, typenum, &job.a[2], &slots[1]):
        return None
    if pos_weight is not None and not _plain_operand(pos_weight, a, typenum, &job.a[3],
                                                     &slots[2]):
        return None
    n = cnp.PyArray_SIZE(a)
    cdef bint wanted[3]
    wanted[0] = want_loss and red == 2
    wanted[1] = want_grad
    wanted[2] = want_hess
    outs = [None, None, None]
    for k in range(3):
        if wanted[k]:
            outs[k] = _new_out(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), typenum,
                               cnp.PyArray_NBYTES(a), ALIGNED_MIN)
    job.gscale = 1.0 / n if red == 0 and n > 0 else 1.0
    job.want_sum = want_loss and red != 2
    job.a[0].present = 1
    job.a[0].data = <char *>cnp.PyArray_DATA(a)
    job.a[0].stride = cnp.PyArray_ITEMSIZE(a)
    job.a[0].period = 0
    for k in range(3):
        if outs[k] is not None:
            r = <cnp.ndarray>outs[k]
            job.o[k].present = 1
            job.o[k].data = <char *>cnp.PyArray_DATA(r)
            job.o[k].stride = job.a[0].stride
            job.o[k].period = 0
    nth = _threads_for(num_threads, n)
    if _run_summed(&job, nth, n, &total) >= 0:
        return None     # a probability outside [0, 1]: the general path runs it again and names the value
    if red == 2:
        loss = outs[0]
    else:
        rtype = _F64_TYPE if typenum == cnp.NPY_DOUBLE else _F32_TYPE
        # as _api._reduce: the sum, or the mean (NaN for no element: math.nan,
        # whose sign bit is clear; Cython turns float("nan") into Py_NAN,
        # which before CPython 3.11 is inf * 0, the negative NaN on x86)
        loss = rtype(total if red == 1 else (total / n if n else _math.nan))
    return loss, outs[1], outs[2]


def bcel_plain(x, t, weight, pos_weight, reduction, bint want_loss, bint want_grad,
               bint want_hess, num_threads=None):
    """The common cases of the with-logits family in one call, with no
    Python-level work: x an ndarray (not a subclass) of float32 or float64,
    C-contiguous, aligned, in native byte order; t, weight and pos_weight
    Python floats or ndarrays of x's kind and dtype whose shape is x's or
    x's trailing axes (weight and pos_weight may be None; see
    _plain_operand); no `out` (the caller sees to it); reduction the str
    "mean", "sum" or "none"; num_threads None or an int >= 1.  Returns
    (loss, grad, hess) as _api._bcel does (the reduced loss a NumPy scalar
    of x's dtype, or the per-element array; None for what is not wanted),
    or None when the call is not such a case: the caller's general path
    then checks it and runs it (and names any error).  The kernels get the
    operands the general path would give them: the same results."""
    return _binary_plain(JOB_BCEL, x, t, weight, pos_weight, reduction, want_loss,
                         want_grad, want_hess, num_threads)


def bce_plain(p, t, weight, reduction, bint want_grad, num_threads=None):
    """binary_cross_entropy (want_grad False) or its gradient for the cases
    bcel_plain takes (no pos_weight): the result _api._bce returns, or None
    when the call is not such a case or a probability is outside [0, 1]
    (the general path then raises, naming it)."""
    res = _binary_plain(JOB_BCE, p, t, weight, None, reduction, not want_grad, want_grad,
                        False, num_threads)
    if res is None:
        return None
    return res[1] if want_grad else res[0]


include "_softmax.pxi"
include "_log_loss.pxi"
include "_ufunc.pxi"

# NumPy pickles a ufunc as a global looked up by its __name__: the library's
# own ufuncs are importable as fastlogistic._kernels.<name>, so that pickle,
# cloudpickle and a dask cluster can ship them
sigmoid = LIB_UFUNCS[FL_SIGMOID]
log_sigmoid = LIB_UFUNCS[FL_LOG_SIGMOID]
softplus = LIB_UFUNCS[FL_SOFTPLUS]
sigmoid_grad = LIB_UFUNCS[FL_SIGMOID_GRAD]
logit = logit_ufunc
