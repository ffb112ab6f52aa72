/*
 * fl_dispatch.c -- choose the math core's instruction-set level at run time.
 * One build carries every level its compiler can target; the CPU is asked
 * once which it can run (AVX-512F, AVX2+FMA, or the baseline) and, for
 * AVX-512, which of its two layouts suits it.
 */
#include "fl_core.h"

/* FL_PORTABLE (a FASTLOGISTIC_PORTABLE=1 build, and every MSVC build: the
   vector extensions of fl_vec.h are GCC/Clang only): no C level is compiled
   (no fl_isa_*.c); fl_cpu_levels lists none and fl_fill_table returns -1,
   and the Cython layer fills the table with its own level ("cython").  This
   file is then plain C. */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define FL_HAVE_CPU_BUILTINS 1
#endif
#if (defined(__x86_64__) || defined(_M_X64)) && !defined(FL_PORTABLE)
#define FL_HAVE_X86_LEVELS 1
void fl_fill_avx512(fl_table *tb);
void fl_fill_avx512s(fl_table *tb);
void fl_fill_avx2(fl_table *tb);
void fl_fill_mc_avx512(fl_softmax_table *tb);
void fl_fill_mc_avx2(fl_softmax_table *tb);
#endif
#ifndef FL_PORTABLE
void fl_fill_baseline(fl_table *tb);
void fl_fill_mc_baseline(fl_softmax_table *tb);
#endif

int fl_cpu_max_level(void)
{
#ifdef FL_HAVE_X86_LEVELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return FL_LEVEL_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return FL_LEVEL_AVX2;
#endif
    return FL_LEVEL_BASELINE;
}

int fl_cpu_is_amd(void)
{
#ifdef FL_HAVE_CPU_BUILTINS
    __builtin_cpu_init();
    return __builtin_cpu_is("amd");
#else
    return 0;
#endif
}

/* AVX-512 cores that run a 512-bit operation as two 256-bit halves, with a
   large out-of-order window (AMD Zen 4) run the split layout faster; the
   others (Intel) the wide one.  Measured on Zen 4 and Cascade Lake only. */
static int fl_avx512_prefers_split(void) { return fl_cpu_is_amd(); }

int fl_cpu_levels(int *order)
{
    int n = 0;
#ifdef FL_PORTABLE
    (void)order;
    return 0;
#endif
    if (fl_cpu_max_level() >= FL_LEVEL_AVX512) {
        int split = fl_avx512_prefers_split();
        order[n++] = split ? FL_LEVEL_AVX512_SPLIT : FL_LEVEL_AVX512;
        order[n++] = split ? FL_LEVEL_AVX512 : FL_LEVEL_AVX512_SPLIT;
    }
    if (fl_cpu_max_level() >= FL_LEVEL_AVX2)
        order[n++] = FL_LEVEL_AVX2;
    order[n++] = FL_LEVEL_BASELINE;
    return n;
}

#ifndef FL_PORTABLE
/* the instruction set a kernel set needs */
static int fl_isa_of(int level)
{
    return level == FL_LEVEL_AVX512_SPLIT ? FL_LEVEL_AVX512 : level;
}
#endif

int fl_fill_table(fl_table *tb, int level)
{
#ifdef FL_PORTABLE
    (void)tb;
    (void)level;
    return -1;
#else
    int order[FL_N_LEVELS];
    int n = fl_cpu_levels(order), i;
    /* the level itself where this CPU runs it; else the best one that needs
       no more than it (the best of all for FL_N_LEVELS), else the baseline */
    for (i = 0; i < n && order[i] != level; i++)
        ;
    if (i == n)
        for (i = 0; i < n - 1 && fl_isa_of(order[i]) > fl_isa_of(level); i++)
            ;
    level = order[i];
    switch (level) {
#ifdef FL_HAVE_X86_LEVELS
    case FL_LEVEL_AVX512_SPLIT:
        fl_fill_avx512s(tb);
        fl_fill_mc_avx512(&tb->softmax);
        break;
    case FL_LEVEL_AVX512:
        fl_fill_avx512(tb);
        fl_fill_mc_avx512(&tb->softmax);
        break;
    case FL_LEVEL_AVX2:
        fl_fill_avx2(tb);
        fl_fill_mc_avx2(&tb->softmax);
        break;
#endif
    default:
        level = FL_LEVEL_BASELINE;
        fl_fill_baseline(tb);
        fl_fill_mc_baseline(&tb->softmax);
    }
    tb->level = level;
    return level;
#endif
}

const char *fl_level_name(int level)
{
    switch (level) {
    case FL_LEVEL_AVX512:
        return "avx512 (4 zmm per step)";
    case FL_LEVEL_AVX512_SPLIT:
        return "avx512 (1 zmm per step, exp(-|x|) by blocks)";
    case FL_LEVEL_AVX2:
        return "avx2";
    default:
#if defined(__x86_64__) || defined(_M_X64)
        return "baseline (sse2)";
#elif defined(__aarch64__)
        return "baseline (neon)";
#else
        return "baseline (generic)";
#endif
    }
}

const char *fl_compiler_name(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
#define FL_STR_(v) #v
#define FL_STR(v) FL_STR_(v)
    return "msvc " FL_STR(_MSC_VER);
#else
    return "unknown";
#endif
}
