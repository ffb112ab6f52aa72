/*
 * fl_dispatch.c -- choose the math core's instruction-set level at run time.
 * One build carries every level its compiler can target; the CPU is asked
 * once which it can run (AVX-512F, AVX2+FMA, or the baseline).
 */
#include "fl_core.h"

#if defined(__x86_64__) || defined(_M_X64)
#define FL_HAVE_X86_LEVELS 1
void fl_fill_avx512(fl_table *tb);
void fl_fill_avx2(fl_table *tb);
void fl_fill_mc_avx512(fl_softmax_table *tb);
void fl_fill_mc_avx2(fl_softmax_table *tb);
#endif
void fl_fill_baseline(fl_table *tb);
void fl_fill_mc_baseline(fl_softmax_table *tb);

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

int fl_fill_table(fl_table *tb, int level)
{
    int max = fl_cpu_max_level();
    if (level > max)
        level = max;
    if (level < FL_LEVEL_BASELINE)
        level = FL_LEVEL_BASELINE;
    switch (level) {
#ifdef FL_HAVE_X86_LEVELS
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
}

const char *fl_level_name(int level)
{
    switch (level) {
    case FL_LEVEL_AVX512:
        return "avx512";
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
#else
    return "unknown";
#endif
}
