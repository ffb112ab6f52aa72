/*
 * The output cache: a NumPy memory handler (NEP 49) for the arrays the
 * library allocates itself, so that a big output freed by the caller is
 * handed to the next call of that size instead of going back to the system.
 *
 * Why: glibc gives allocations of 32 MiB or more (its largest mmap
 * threshold) fresh pages from the kernel every time, and the page faults
 * that clear them cost more than the function: on the Zen 4 CI VM, float64
 * sigmoid at N = 1e7 ran much faster on a reused output than on a fresh one,
 * and with two threads the faults of both threads made single calls much
 * slower at random (huge-page allocation; figures in
 * docs/design-measurements.md).  Smaller outputs come
 * from glibc's heap, already reused; they are cached here only once they are
 * at least FL_OC_MIN bytes.
 *
 * Every block the handler gives out starts on a 64-byte boundary (the
 * streaming stores need it) and carries its capacity in a 64-byte header
 * before the data; free() reads it, so a block can serve any request from
 * 7/8 of its capacity up.  Freed blocks of FL_OC_MIN bytes or more are kept,
 * newest first, while the total kept stays within the limit
 * (set_output_cache); the oldest are released to make room.  Arrays from the
 * handler own their data like any np.empty result: NumPy calls this free(),
 * realloc() or calloc() for them whenever it needs to.
 *
 * Locking: NumPy creates and frees arrays with the GIL held, but a
 * free-threaded Python has none, so the list has a lock of its own.
 */
#ifndef FL_OUTCACHE_H
#define FL_OUTCACHE_H

#include <Python.h>
#include <numpy/arrayobject.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#include <malloc.h>
typedef SRWLOCK fl_oc_lock_t;
#define FL_OC_LOCK_INIT SRWLOCK_INIT
#define fl_oc_lock(l) AcquireSRWLockExclusive(l)
#define fl_oc_unlock(l) ReleaseSRWLockExclusive(l)
#else
#include <pthread.h>
#ifdef __linux__
#include <sys/mman.h>
#endif
typedef pthread_mutex_t fl_oc_lock_t;
#define FL_OC_LOCK_INIT PTHREAD_MUTEX_INITIALIZER
#define fl_oc_lock(l) pthread_mutex_lock(l)
#define fl_oc_unlock(l) pthread_mutex_unlock(l)
#endif

/* AddressSanitizer builds (FASTLOGISTIC_SANITIZE=address): a block the
   cache holds is poisoned, so a stale access to an output already freed (a
   view that outlived its base, say) is reported like a use after free; it is
   unpoisoned when handed out again.  No-ops in a normal build. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FL_OC_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(FL_OC_ASAN)
#define FL_OC_ASAN 1
#endif
#ifdef FL_OC_ASAN
#include <sanitizer/asan_interface.h>
#define FL_OC_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FL_OC_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FL_OC_POISON(p, n) ((void)(p), (void)(n))
#define FL_OC_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The package supports NumPy 1.23 and newer (pyproject.toml), and setup.py
   sets NPY_TARGET_VERSION=NPY_1_23_API_VERSION.  A module built for a newer
   C-API target would not import on the older NumPys; one built for a target
   below 1.22 has no PyDataMem_SetHandler (NEP 49) and would fail at import
   with an undefined symbol.  Both stop here instead. */
#if NPY_FEATURE_VERSION > NPY_1_23_API_VERSION
#error "fastlogistic: built for a NumPy C-API newer than 1.23; define NPY_TARGET_VERSION=NPY_1_23_API_VERSION"
#endif
#if NPY_FEATURE_VERSION < 0x0000000F /* NPY_1_22_API_VERSION: the memory handler API */
#error "fastlogistic: built for a NumPy C-API older than 1.22 (no PyDataMem_SetHandler); define NPY_TARGET_VERSION=NPY_1_23_API_VERSION"
#endif

#define FL_OC_HEAD 64               /* header bytes; also the data's alignment */
#define FL_OC_MIN ((size_t)4 << 20) /* smallest block kept (NumPy's huge-page size too) */
#define FL_OC_SLOTS 16              /* most blocks kept */

static struct {
    fl_oc_lock_t lock;
    size_t limit;                   /* bytes kept at most (capacities) */
    size_t held;                    /* bytes kept now */
    int n;                          /* blocks kept, newest last */
    void *blk[FL_OC_SLOTS];         /* data pointers */
} fl_oc = {FL_OC_LOCK_INIT, 0, 0, 0, {0}};

/* (the header is never poisoned: only the data part of a held block) */
static size_t fl_oc_cap(void *data) { return *(size_t *)((char *)data - FL_OC_HEAD); }

static void *fl_oc_sys_alloc(size_t cap, int zero)
{
    if (cap > (size_t)-1 - FL_OC_HEAD)
        return NULL;
    size_t total = cap + FL_OC_HEAD;
    void *base;
#ifdef _WIN32
    base = _aligned_malloc(total, FL_OC_HEAD);
#else
    if (posix_memalign(&base, FL_OC_HEAD, total) != 0)
        base = NULL;
#endif
    if (base == NULL)
        return NULL;
    if (zero)
        memset(base, 0, total);
#ifdef __linux__
    /* as NumPy's own allocator does for 4 MiB and more */
    if (total >= FL_OC_MIN) {
        size_t pg = 4096, a = ((size_t)base + pg - 1) & ~(pg - 1);
        size_t e = ((size_t)base + total) & ~(pg - 1);
        if (e > a)
            madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
#endif
    *(size_t *)base = cap;
    return (char *)base + FL_OC_HEAD;
}

static void fl_oc_sys_free(void *data)
{
    FL_OC_UNPOISON(data, fl_oc_cap(data));
#ifdef _WIN32
    _aligned_free((char *)data - FL_OC_HEAD);
#else
    free((char *)data - FL_OC_HEAD);
#endif
}

/* take kept block i out of the list (lock held) */
static void *fl_oc_remove_locked(int i)
{
    void *p = fl_oc.blk[i];
    fl_oc.held -= fl_oc_cap(p);
    memmove(fl_oc.blk + i, fl_oc.blk + i + 1, (size_t)(fl_oc.n - i - 1) * sizeof(void *));
    fl_oc.n--;
    return p;
}

/* a kept block for `size` bytes (capacity within 8/7 of it), or NULL */
static void *fl_oc_take(size_t size)
{
    void *got = NULL;
    if (size < FL_OC_MIN)
        return NULL;
    fl_oc_lock(&fl_oc.lock);
    int best = -1;
    for (int i = fl_oc.n - 1; i >= 0; i--) {
        size_t c = fl_oc_cap(fl_oc.blk[i]);
        if (c >= size && c - size <= size / 7 && (best < 0 || c < fl_oc_cap(fl_oc.blk[best])))
            best = i;
    }
    if (best >= 0)
        got = fl_oc_remove_locked(best);
    fl_oc_unlock(&fl_oc.lock);
    if (got != NULL)
        FL_OC_UNPOISON(got, fl_oc_cap(got));
    return got;
}

/* release kept blocks, oldest first, until at most `keep` bytes remain
   (the lock is taken here; the memory is freed outside it) */
static void fl_oc_trim(size_t keep)
{
    void *drop[FL_OC_SLOTS];
    int nd = 0;
    fl_oc_lock(&fl_oc.lock);
    while (fl_oc.n > 0 && fl_oc.held > keep)
        drop[nd++] = fl_oc_remove_locked(0);
    fl_oc_unlock(&fl_oc.lock);
    for (int i = 0; i < nd; i++)
        fl_oc_sys_free(drop[i]);
}

static void *fl_oc_malloc(void *ctx, size_t size)
{
    (void)ctx;
    if (size == 0)
        size = 1;
    void *p = fl_oc_take(size);
    return p != NULL ? p : fl_oc_sys_alloc(size, 0);
}

static void *fl_oc_calloc(void *ctx, size_t nelem, size_t elsize)
{
    (void)ctx;
    if (elsize != 0 && nelem > (size_t)-1 / elsize)
        return NULL;
    size_t size = nelem * elsize;
    return fl_oc_sys_alloc(size ? size : 1, 1);
}

static void fl_oc_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    if (ptr == NULL)
        return;
    size_t cap = fl_oc_cap(ptr);
    void *drop[FL_OC_SLOTS + 1];
    int nd = 0;
    fl_oc_lock(&fl_oc.lock);
    if (cap >= FL_OC_MIN && cap <= fl_oc.limit) {
        /* make room: the oldest go first */
        while (fl_oc.n > 0 && (fl_oc.n == FL_OC_SLOTS || fl_oc.held + cap > fl_oc.limit))
            drop[nd++] = fl_oc_remove_locked(0);
        fl_oc.blk[fl_oc.n++] = ptr;
        fl_oc.held += cap;
        FL_OC_POISON(ptr, cap);
    } else {
        drop[nd++] = ptr;
    }
    fl_oc_unlock(&fl_oc.lock);
    for (int i = 0; i < nd; i++)
        fl_oc_sys_free(drop[i]);
}

static void *fl_oc_realloc(void *ctx, void *ptr, size_t new_size)
{
    if (ptr == NULL)
        return fl_oc_malloc(ctx, new_size);
    size_t cap = fl_oc_cap(ptr);
    if (new_size <= cap && new_size >= cap / 2)
        return ptr;
    void *q = fl_oc_malloc(ctx, new_size);
    if (q == NULL)
        return NULL;            /* ptr stays valid, as realloc's contract says */
    memcpy(q, ptr, new_size < cap ? new_size : cap);
    fl_oc_free(ctx, ptr, cap);
    return q;
}

static PyDataMem_Handler fl_oc_handler = {
    "fastlogistic_output_cache",
    1,
    {NULL, fl_oc_malloc, fl_oc_calloc, fl_oc_realloc, fl_oc_free},
};

#ifndef _WIN32
/* fork() while another thread holds the lock would leave the child's copy
   locked: hold it across fork, release it on both sides */
static void fl_oc_fork_prepare(void) { fl_oc_lock(&fl_oc.lock); }
static void fl_oc_fork_release(void) { fl_oc_unlock(&fl_oc.lock); }
#endif

/* the handler as the capsule PyDataMem_SetHandler takes (a new reference);
   called once, at import */
static PyObject *fl_oc_capsule(void)
{
#ifndef _WIN32
    pthread_atfork(fl_oc_fork_prepare, fl_oc_fork_release, fl_oc_fork_release);
#endif
    return PyCapsule_New(&fl_oc_handler, "mem_handler", NULL);
}

static void fl_oc_set_limit(size_t limit)
{
    fl_oc_lock(&fl_oc.lock);
    fl_oc.limit = limit;
    fl_oc_unlock(&fl_oc.lock);
    fl_oc_trim(limit);
}
/* the size queries read under the lock too (free-threaded Python, or a
   query while another thread frees an output) */
static size_t fl_oc_get_limit(void)
{
    fl_oc_lock(&fl_oc.lock);
    size_t v = fl_oc.limit;
    fl_oc_unlock(&fl_oc.lock);
    return v;
}
static size_t fl_oc_held(void)
{
    fl_oc_lock(&fl_oc.lock);
    size_t v = fl_oc.held;
    fl_oc_unlock(&fl_oc.lock);
    return v;
}
static int fl_oc_count(void)
{
    fl_oc_lock(&fl_oc.lock);
    int v = fl_oc.n;
    fl_oc_unlock(&fl_oc.lock);
    return v;
}

#endif
