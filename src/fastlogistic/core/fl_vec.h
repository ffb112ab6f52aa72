/*
 * fl_vec.h -- vector math primitives of the math core (layer 1).
 *
 * Included once per instruction-set translation unit, which sets FL_NB, the
 * native vector width in bytes (64: AVX-512, 32: AVX2+FMA, 16: SSE2 /
 * generic), and may set FL_NV, the number of native vectors in one math
 * vector (default 1).  Everything is written with GCC/Clang vector
 * extensions, so the same source compiles to zmm, ymm, xmm or NEON registers
 * depending on the target of the including translation unit.  No libm call,
 * no branch on data, no -ffast-math: NaN and +-inf follow IEEE rules and are
 * handled with explicit selects.
 *
 * Why FL_NV: a math vector of FL_NV native vectors turns every operation into
 * FL_NV independent instructions issued side by side.  exp + reciprocal is a
 * dependency chain of ~80 cycles; one native vector at a time, the
 * out-of-order scheduler fills up with waiting instructions long before the
 * FMA ports do; several native vectors per math vector keep more chains in
 * flight (faster on Intel AVX-512; not on AMD Zen 4, see fl_isa_avx512s.c;
 * figures in docs/design-measurements.md).  Operations done by intrinsics
 * are applied to each native piece (the FL_LIFT* macros); plain vector
 * arithmetic is split by the compiler.
 *
 * How the file is laid out, and where to find a function's body:
 *  1. the vector types and the FL_LIFT* macros;
 *  2. the native operations, one instruction on one register, written out
 *     per level and per type (fl_nsel_f64, fl_nexp_tab16_f32, ...);
 *  3. the per-type constants, as named macros (FL_EXP_NORMAL_f64, ...),
 *     and the tables;
 *  4. fl_vec_basic_impl.h, a template included once per type: comparisons,
 *     selects, loads, stores, |x|, FMA (FL_VFN(fl_sel) there is fl_sel_f64
 *     and fl_sel_f32);
 *  5. the pieces that differ between the types, written out per type:
 *     fl_exp_scaled_f64/f32, fl_logcore_*, fl_split_*, fl_log1p_unit_*;
 *  6. fl_vec_math_impl.h, the second template: fl_recip1p*, fl_exp*,
 *     fl_log1p, fl_log and the logistic block (fl_exp_negabs,
 *     fl_sigmoid*).
 * So `grep -n "fl_exp_scaled_f64\|FL_VFN(fl_exp)" src/fastlogistic/core/`
 * finds a body; FL_TC(NAME) in a template is the constant NAME_f64 / _f32.
 *
 * Functions (all elementwise on a vector):
 *   fl_exp_*    exp(x) for any x (underflow to 0/subnormals, overflow to inf)
 *   fl_log1p_*  log1p(y) for any y (-1 -> -inf, < -1 -> nan)
 *   fl_log_*    log(x)  for any x (0 -> -inf, < 0 -> nan, subnormals exact)
 * Accuracy: below 1 ULP each (checked against mpmath in tests/test_accuracy.py).
 */
#ifndef FL_NB
#error "FL_NB (native vector bytes) must be defined before including fl_vec.h"
#endif
#ifndef FL_NV
#define FL_NV 1
#endif
#define FL_VB (FL_NB * FL_NV)

#include <stdint.h>
#include <stddef.h>
#include <string.h>

/* FL_X86_LEVEL (set by the including ISA file): 3 = AVX-512F, 2 = AVX2+FMA;
   where set, a few operations use the instruction that does them in one step */
#ifndef FL_X86_LEVEL
#define FL_X86_LEVEL 0
#endif
#if FL_X86_LEVEL >= 2
#include <immintrin.h>
#endif

/* math vectors (FL_NV native vectors) */
typedef double  vf64 __attribute__((vector_size(FL_VB)));
typedef float   vf32 __attribute__((vector_size(FL_VB)));
typedef int64_t vi64 __attribute__((vector_size(FL_VB)));
typedef int32_t vi32 __attribute__((vector_size(FL_VB)));
typedef uint64_t vu64 __attribute__((vector_size(FL_VB)));
typedef uint32_t vu32 __attribute__((vector_size(FL_VB)));
/* half-width float vector: the float32 lanes that fit one double vector */
typedef float   vf32h __attribute__((vector_size(FL_VB / 2)));
/* one native register */
typedef double  nf64 __attribute__((vector_size(FL_NB)));
typedef float   nf32 __attribute__((vector_size(FL_NB)));
typedef int64_t ni64 __attribute__((vector_size(FL_NB)));
typedef int32_t ni32 __attribute__((vector_size(FL_NB)));
/* a math vector and its native pieces (unions let GCC keep both in registers) */
/* a math vector and its native pieces (unions let GCC keep both in
   registers); FL_U(FL_VEC) is the union of the template's type */
#define FL_U(V) FL_U_(V)
#define FL_U_(V) fl_u_##V
typedef union { vf64 w; nf64 p[FL_NV]; } fl_u_vf64;
typedef union { vf32 w; nf32 p[FL_NV]; } fl_u_vf32;
typedef union { vi64 w; ni64 p[FL_NV]; } fl_u_vi64;
typedef union { vi32 w; ni32 p[FL_NV]; } fl_u_vi32;

#define FL_L64 ((ptrdiff_t)(FL_VB / 8))
#define FL_L32 ((ptrdiff_t)(FL_VB / 4))
#define FL_NL64 ((ptrdiff_t)(FL_NB / 8))
#define FL_NL32 ((ptrdiff_t)(FL_NB / 4))

#define FL_INLINE static inline __attribute__((always_inline))

#define FL_CAT2(a, b) a##_##b
#define FL_XCAT2(a, b) FL_CAT2(a, b)
#define FL_CAT3(a, b, c) a##_##b##_##c
#define FL_XCAT3(a, b, c) FL_CAT3(a, b, c)

/* ------------------------------------------------------------------ */
/* the FL_LIFT family: a function on math vectors made of a native     */
/* function (or operator) applied to each of the FL_NV pieces          */
/* ------------------------------------------------------------------ */
/* Each takes the types, the new function's name and the native one's, so
   that a grep for a name finds the line that makes it:
   FL_LIFT2(vf64, vf64, vf64, fl_scalef_f64, fl_nscalef_f64) defines
   vf64 fl_scalef_f64(vf64 a, vf64 b) from nf64 fl_nscalef_f64(nf64, nf64). */
#define FL_LIFT1(W, name, nname)                                               \
    FL_INLINE W name(W a)                                                      \
    {                                                                          \
        FL_U(W) ua = {a}, ur;                                                  \
        for (int j = 0; j < FL_NV; j++)                                        \
            ur.p[j] = nname(ua.p[j]);                                          \
        return ur.w;                                                           \
    }
#define FL_LIFT2(WR, WA, WB, name, nname)                                      \
    FL_INLINE WR name(WA a, WB b)                                              \
    {                                                                          \
        FL_U(WA) ua = {a};                                                     \
        FL_U(WB) ub = {b};                                                     \
        FL_U(WR) ur;                                                           \
        for (int j = 0; j < FL_NV; j++)                                        \
            ur.p[j] = nname(ua.p[j], ub.p[j]);                                 \
        return ur.w;                                                           \
    }
#define FL_LIFT3(WR, WA, WB, WC, name, nname)                                  \
    FL_INLINE WR name(WA a, WB b, WC c)                                        \
    {                                                                          \
        FL_U(WA) ua = {a};                                                     \
        FL_U(WB) ub = {b};                                                     \
        FL_U(WC) uc = {c};                                                     \
        FL_U(WR) ur;                                                           \
        for (int j = 0; j < FL_NV; j++)                                        \
            ur.p[j] = nname(ua.p[j], ub.p[j], uc.p[j]);                        \
        return ur.w;                                                           \
    }
/* a comparison operator, to a mask of the native integer type NR */
#define FL_LIFT_CMP(WR, WA, NR, name, OP)                                      \
    FL_INLINE WR name(WA a, WA b)                                              \
    {                                                                          \
        FL_U(WA) ua = {a}, ub = {b};                                           \
        FL_U(WR) ur;                                                           \
        for (int j = 0; j < FL_NV; j++)                                        \
            ur.p[j] = (NR)(ua.p[j] OP ub.p[j]);                                \
        return ur.w;                                                           \
    }

/* ------------------------------------------------------------------ */
/* operations done by one instruction on a native vector (x86 levels)   */
/* ------------------------------------------------------------------ */
/* Conventions: sel(m, a, b) = m ? a : b per lane (m all-ones or zero);
   maxv(a, b) / minv(a, b) return b where either is NaN (the x86 rule, which
   fl_clamp and fl_pos rely on); mulnz(a, v) = a * v, but 0 where a == 0 even
   if v is inf or NaN; above(ax, c): any lane with !(ax <= c). */
#if FL_X86_LEVEL >= 3
#define FL_KM64(m) _mm512_test_epi64_mask((__m512i)(m), (__m512i)(m))
#define FL_KM32(m) _mm512_test_epi32_mask((__m512i)(m), (__m512i)(m))
FL_INLINE nf64 fl_nsel_f64(ni64 m, nf64 a, nf64 b)
{
    return (nf64)_mm512_mask_blend_pd(FL_KM64(m), (__m512d)b, (__m512d)a);
}
FL_INLINE nf32 fl_nsel_f32(ni32 m, nf32 a, nf32 b)
{
    return (nf32)_mm512_mask_blend_ps(FL_KM32(m), (__m512)b, (__m512)a);
}
FL_INLINE nf64 fl_nmaxv_f64(nf64 a, nf64 b) { return (nf64)_mm512_max_pd((__m512d)a, (__m512d)b); }
FL_INLINE nf64 fl_nminv_f64(nf64 a, nf64 b) { return (nf64)_mm512_min_pd((__m512d)a, (__m512d)b); }
FL_INLINE nf32 fl_nmaxv_f32(nf32 a, nf32 b) { return (nf32)_mm512_max_ps((__m512)a, (__m512)b); }
FL_INLINE nf32 fl_nminv_f32(nf32 a, nf32 b) { return (nf32)_mm512_min_ps((__m512)a, (__m512)b); }
/* one masked multiply */
FL_INLINE nf64 fl_nmulnz_f64(nf64 a, nf64 v)
{
    return (nf64)_mm512_maskz_mul_pd(
        _mm512_cmp_pd_mask((__m512d)a, _mm512_setzero_pd(), _CMP_NEQ_UQ), (__m512d)a, (__m512d)v);
}
FL_INLINE nf32 fl_nmulnz_f32(nf32 a, nf32 v)
{
    return (nf32)_mm512_maskz_mul_ps(
        _mm512_cmp_ps_mask((__m512)a, _mm512_setzero_ps(), _CMP_NEQ_UQ), (__m512)a, (__m512)v);
}
FL_INLINE int fl_nany_f64(ni64 m) { return FL_KM64(m) != 0; }
FL_INLINE int fl_nany_f32(ni32 m) { return FL_KM32(m) != 0; }
FL_INLINE int fl_nabove_f64(nf64 ax, double c)
{
    return _mm512_cmp_pd_mask((__m512d)ax, _mm512_set1_pd(c), _CMP_NLE_UQ) != 0;
}
FL_INLINE int fl_nabove_f32(nf32 ax, float c)
{
    return _mm512_cmp_ps_mask((__m512)ax, _mm512_set1_ps(c), _CMP_NLE_UQ) != 0;
}
/* round to nearest integer; x * 2^floor(n); 1/d to 14 bits */
FL_INLINE nf64 fl_nround_f64(nf64 x)
{
    return (nf64)_mm512_roundscale_pd((__m512d)x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
FL_INLINE nf64 fl_nscalef_f64(nf64 x, nf64 n) { return (nf64)_mm512_scalef_pd((__m512d)x, (__m512d)n); }
FL_INLINE nf32 fl_nscalef_f32(nf32 x, nf32 n) { return (nf32)_mm512_scalef_ps((__m512)x, (__m512)n); }
FL_INLINE nf64 fl_nrcp_f64(nf64 d) { return (nf64)_mm512_rcp14_pd((__m512d)d); }
FL_INLINE nf32 fl_nrcp_f32(nf32 d) { return (nf32)_mm512_rcp14_ps((__m512)d); }
/* first n lanes (0 < n < native lanes), the rest `fill` */
FL_INLINE nf64 fl_nload_part_f64(const double *p, ptrdiff_t n, double fill)
{
    return (nf64)_mm512_mask_loadu_pd(_mm512_set1_pd(fill), (__mmask8)((1u << n) - 1u), p);
}
FL_INLINE nf32 fl_nload_part_f32(const float *p, ptrdiff_t n, float fill)
{
    return (nf32)_mm512_mask_loadu_ps(_mm512_set1_ps(fill), (__mmask16)((1u << n) - 1u), p);
}
FL_INLINE void fl_nstore_part_f64(double *p, nf64 v, ptrdiff_t n)
{
    _mm512_mask_storeu_pd(p, (__mmask8)((1u << n) - 1u), (__m512d)v);
}
FL_INLINE void fl_nstore_part_f32(float *p, nf32 v, ptrdiff_t n)
{
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1u), (__m512)v);
}
#elif FL_X86_LEVEL == 2
FL_INLINE nf64 fl_nsel_f64(ni64 m, nf64 a, nf64 b)
{
    return (nf64)_mm256_blendv_pd((__m256d)b, (__m256d)a, (__m256d)m);
}
FL_INLINE nf32 fl_nsel_f32(ni32 m, nf32 a, nf32 b)
{
    return (nf32)_mm256_blendv_ps((__m256)b, (__m256)a, (__m256)m);
}
FL_INLINE nf64 fl_nmaxv_f64(nf64 a, nf64 b) { return (nf64)_mm256_max_pd((__m256d)a, (__m256d)b); }
FL_INLINE nf64 fl_nminv_f64(nf64 a, nf64 b) { return (nf64)_mm256_min_pd((__m256d)a, (__m256d)b); }
FL_INLINE nf32 fl_nmaxv_f32(nf32 a, nf32 b) { return (nf32)_mm256_max_ps((__m256)a, (__m256)b); }
FL_INLINE nf32 fl_nminv_f32(nf32 a, nf32 b) { return (nf32)_mm256_min_ps((__m256)a, (__m256)b); }
FL_INLINE int fl_nany_f64(ni64 m) { return _mm256_movemask_pd((__m256d)m) != 0; }
FL_INLINE int fl_nany_f32(ni32 m) { return _mm256_movemask_ps((__m256)m) != 0; }
FL_INLINE int fl_nabove_f64(nf64 ax, double c)
{
    return _mm256_movemask_pd(_mm256_cmp_pd((__m256d)ax, _mm256_set1_pd(c), _CMP_NLE_UQ)) != 0;
}
FL_INLINE int fl_nabove_f32(nf32 ax, float c)
{
    return _mm256_movemask_ps(_mm256_cmp_ps((__m256)ax, _mm256_set1_ps(c), _CMP_NLE_UQ)) != 0;
}
FL_INLINE ni64 fl_nlanes_below_f64(ptrdiff_t n)
{
    return (ni64)_mm256_set_epi64x(3, 2, 1, 0) < (ni64){0} + (int64_t)n;
}
FL_INLINE ni32 fl_nlanes_below_f32(ptrdiff_t n)
{
    return (ni32)_mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0) < (ni32){0} + (int32_t)n;
}
FL_INLINE nf64 fl_nload_part_f64(const double *p, ptrdiff_t n, double fill)
{
    ni64 m = fl_nlanes_below_f64(n);
    return fl_nsel_f64(m, (nf64)_mm256_maskload_pd(p, (__m256i)m), fill - (nf64){0});
}
FL_INLINE nf32 fl_nload_part_f32(const float *p, ptrdiff_t n, float fill)
{
    ni32 m = fl_nlanes_below_f32(n);
    return fl_nsel_f32(m, (nf32)_mm256_maskload_ps(p, (__m256i)m), fill - (nf32){0});
}
FL_INLINE void fl_nstore_part_f64(double *p, nf64 v, ptrdiff_t n)
{
    _mm256_maskstore_pd(p, (__m256i)fl_nlanes_below_f64(n), (__m256d)v);
}
FL_INLINE void fl_nstore_part_f32(float *p, nf32 v, ptrdiff_t n)
{
    _mm256_maskstore_ps(p, (__m256i)fl_nlanes_below_f32(n), (__m256)v);
}
#endif
/* x < 0 ? a : b, lane by lane (NaN: b).  At AVX-512, one compare into a
   mask register and one blend; through fl_sel(fl_lt(..)) GCC turns the mask
   into a vector and back, two more instructions per use */
#if FL_X86_LEVEL >= 3
FL_INLINE nf64 fl_nsel_neg_f64(nf64 x, nf64 a, nf64 b)
{
    return (nf64)_mm512_mask_blend_pd(_mm512_cmp_pd_mask((__m512d)x, _mm512_setzero_pd(), _CMP_LT_OQ),
                                      (__m512d)b, (__m512d)a);
}
FL_INLINE nf32 fl_nsel_neg_f32(nf32 x, nf32 a, nf32 b)
{
    return (nf32)_mm512_mask_blend_ps(_mm512_cmp_ps_mask((__m512)x, _mm512_setzero_ps(), _CMP_LT_OQ),
                                      (__m512)b, (__m512)a);
}
#endif
/* the running maximum of |x| as integer bits, where NaN > inf > every
   finite |x|: a scan for out-of-range or NaN lanes with no compare per
   vector (fl_above on the result once at the end) */
#if FL_X86_LEVEL >= 3
FL_INLINE ni64 fl_nimax_i64(ni64 a, ni64 b) { return (ni64)_mm512_max_epi64((__m512i)a, (__m512i)b); }
FL_INLINE ni32 fl_nimax_i32(ni32 a, ni32 b) { return (ni32)_mm512_max_epi32((__m512i)a, (__m512i)b); }
#elif FL_X86_LEVEL == 2
FL_INLINE ni64 fl_nimax_i64(ni64 a, ni64 b)
{
    return (ni64)_mm256_blendv_pd((__m256d)b, (__m256d)a, (__m256d)(a > b));
}
FL_INLINE ni32 fl_nimax_i32(ni32 a, ni32 b) { return (ni32)_mm256_max_epi32((__m256i)a, (__m256i)b); }
#endif
/* a * b + c with one rounding: the FMA instruction where the level has it
   (AVX2 and AVX-512); below, the plain expression (see fl_recip1p) */
#if FL_X86_LEVEL >= 2
#if FL_NB == 64
FL_INLINE nf64 fl_nfma_f64(nf64 a, nf64 b, nf64 c) { return (nf64)_mm512_fmadd_pd((__m512d)a, (__m512d)b, (__m512d)c); }
FL_INLINE nf32 fl_nfma_f32(nf32 a, nf32 b, nf32 c) { return (nf32)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c); }
#elif FL_NB == 32
FL_INLINE nf64 fl_nfma_f64(nf64 a, nf64 b, nf64 c) { return (nf64)_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c); }
FL_INLINE nf32 fl_nfma_f32(nf32 a, nf32 b, nf32 c) { return (nf32)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c); }
#else
FL_INLINE nf64 fl_nfma_f64(nf64 a, nf64 b, nf64 c) { return (nf64)_mm_fmadd_pd((__m128d)a, (__m128d)b, (__m128d)c); }
FL_INLINE nf32 fl_nfma_f32(nf32 a, nf32 b, nf32 c) { return (nf32)_mm_fmadd_ps((__m128)a, (__m128)b, (__m128)c); }
#endif
#elif defined(__aarch64__) && FL_NB == 16
/* aarch64's baseline: NEON's FMA, for the exact product errors only
   (fl_prod_err); fl_fma stays the plain expression there, as the other
   kernels' bounds were measured with */
#include <arm_neon.h>
#define FL_NEON_FMA 1
FL_INLINE nf64 fl_nfma_f64(nf64 a, nf64 b, nf64 c) { return (nf64)vfmaq_f64((float64x2_t)c, (float64x2_t)a, (float64x2_t)b); }
FL_INLINE nf32 fl_nfma_f32(nf32 a, nf32 b, nf32 c) { return (nf32)vfmaq_f32((float32x4_t)c, (float32x4_t)a, (float32x4_t)b); }
#endif

/* ------------------------------------------------------------------ */
/* streaming stores                                                     */
/* ------------------------------------------------------------------ */
/* A non-temporal store writes a whole cache line around the caches: no read
   of the line's old contents from memory first (which a normal store to a
   line not in cache costs) and no eviction of data the caller may still use.
   Worth it only for data far bigger than the caches; the Cython layer
   decides per call (set_stream_threshold).  p must be aligned to FL_NB
   bytes; fl_stream_fence() orders the streamed lines before the kernel
   returns.  Without such an instruction (generic level) a plain store. */
#if FL_X86_LEVEL >= 3
#define FL_HAVE_STREAM 1
FL_INLINE void fl_nstream_f64(double *p, nf64 v) { _mm512_stream_pd(p, (__m512d)v); }
FL_INLINE void fl_nstream_f32(float *p, nf32 v) { _mm512_stream_ps(p, (__m512)v); }
#elif FL_X86_LEVEL == 2
#define FL_HAVE_STREAM 1
FL_INLINE void fl_nstream_f64(double *p, nf64 v) { _mm256_stream_pd(p, (__m256d)v); }
FL_INLINE void fl_nstream_f32(float *p, nf32 v) { _mm256_stream_ps(p, (__m256)v); }
#elif defined(__SSE2__) && FL_NB == 16
#include <emmintrin.h>
#define FL_HAVE_STREAM 1
FL_INLINE void fl_nstream_f64(double *p, nf64 v) { _mm_stream_pd(p, (__m128d)v); }
FL_INLINE void fl_nstream_f32(float *p, nf32 v) { _mm_stream_ps(p, (__m128)v); }
#else
#define FL_HAVE_STREAM 0
FL_INLINE void fl_nstream_f64(double *p, nf64 v) { memcpy(p, &v, sizeof v); }
FL_INLINE void fl_nstream_f32(float *p, nf32 v) { memcpy(p, &v, sizeof v); }
#endif
FL_INLINE void fl_stream_fence(void)
{
#if FL_HAVE_STREAM
    _mm_sfence();
#endif
}
/* In the same calls, inputs are prefetched FL_PREFETCH_AHEAD bytes ahead of
   the loop, one cache line at a time: the hardware prefetcher alone leaves
   the kernels waiting on memory (faster with it on the CI machine kind; 512
   bytes ahead or a non-temporal hint were slower; figures in
   docs/design-measurements.md). */
#define FL_PREFETCH_AHEAD 2048
/* a layout may turn it off (FL_SW_PREFETCH 0: "avx512-split", see there) */
#ifndef FL_SW_PREFETCH
#define FL_SW_PREFETCH 1
#endif
FL_INLINE void fl_prefetch_ahead(const void *p, size_t bytes)
{
#if FL_SW_PREFETCH
    for (size_t q = 0; q < bytes; q += 64)
        __builtin_prefetch((const char *)p + FL_PREFETCH_AHEAD + q, 0, 3);
#else
    (void)p;
    (void)bytes;
#endif
}
/* elements of size `size` before p reaches FL_NB alignment; -1 where p is
   not even aligned to its element size (then it never will be) */
FL_INLINE ptrdiff_t fl_stream_head(const void *p, size_t size)
{
    uintptr_t a = (uintptr_t)p;
    if (!FL_HAVE_STREAM || a % size)
        return -1;
    return (ptrdiff_t)(((FL_NB - a % FL_NB) % FL_NB) / size);
}
/* float64 accumulation of losses: lanes summed in a fixed order */
FL_INLINE vf64 fl_acc_f64(vf64 acc, vf64 v) { return acc + v; }
/* a float32 vector widened to float64, its low and high halves */
FL_INLINE void fl_widen_f32(vf32 v, vf64 *lo, vf64 *hi)
{
    vf32h l, h;
    memcpy(&l, &v, sizeof l);
    memcpy(&h, (const char *)&v + sizeof l, sizeof h);
    *lo = __builtin_convertvector(l, vf64);
    *hi = __builtin_convertvector(h, vf64);
}
FL_INLINE vf64 fl_acc_f32(vf64 acc, vf32 v)
{
    vf64 lo, hi;
    fl_widen_f32(v, &lo, &hi);
    /* (lo + hi) first: one add on the loop-carried chain, not two */
    return acc + (lo + hi);
}
FL_INLINE double fl_hsum_f64(vf64 v)
{
    double s = 0.0;
    for (ptrdiff_t j = 0; j < FL_L64; j++)
        s += v[j];
    return s;
}

/* ------------------------------------------------------------------ */
/* per-type constants                                                   */
/* ------------------------------------------------------------------ */
/* exp: the largest |x| where 2^n and exp(x) are normal (the one-step
   scaling); the range each level's scaling step handles exactly */
#define FL_EXP_NORMAL_f64 708.0
#define FL_EXP_NORMAL_f32 87.0f
#if FL_X86_LEVEL >= 3
#define FL_EXP_LO_f64 -800.0
#define FL_EXP_HI_f64 800.0
#define FL_EXP_LO_f32 -110.0f /* |n| = |round(16 x / ln2)| < 2^12 (fl_nexp_tab_f32) */
#define FL_EXP_HI_f32 110.0f
#else
#define FL_EXP_LO_f64 -746.0
#define FL_EXP_HI_f64 710.0
#define FL_EXP_LO_f32 -104.0f
#define FL_EXP_HI_f32 89.0f
#endif
/* the sigmoid's 1 / (1 + exp(-x)) form holds for |x| <= FAR (exp(-x) stays
   normal; <= FL_EXP_NORMAL) */
#define FL_SIGMOID_FAR_f64 700.0
#define FL_SIGMOID_FAR_f32 80.0f
/* fl_prod_err below AVX2: the bits kept in a product's high half (sign,
   exponent and the top 25 / 11 stored bits of the significand) */
#define FL_SPLIT_MASK_f64 ((int64_t)0xfffffffff8000000ull)
#define FL_SPLIT_MASK_f32 ((int32_t)0xfffff000u)
/* log1p: from k = KEXACT on (1 + y >= 2^(mantissa bits + 1)) the rounding
   correction of 1 + y is dropped */
#define FL_LOG1P_KEXACT_f64 54
#define FL_LOG1P_KEXACT_f32 25
/* log: below SUBMIN (the smallest normal) x is scaled by SUBSCALE = 2^SUBK */
#define FL_LOG_SUBMIN_f64 0x1p-1022
#define FL_LOG_SUBMIN_f32 0x1p-126f
#define FL_LOG_SUBSCALE_f64 0x1p54
#define FL_LOG_SUBSCALE_f32 0x1p25f
#define FL_LOG_SUBK_f64 54
#define FL_LOG_SUBK_f32 25

/*
 * Reciprocals.  y0(d) ~ 1/d (FL_RECIP_Y0_*): vrcp14 (14 bits) at AVX-512,
 * and for float64 a Newton step (28 bits); a division below AVX-512.  The
 * sigmoid's float64 y0 (FL_SIGMOID_Y0_f64) in "avx512-split"
 * (FL_SIGMOID_DIV64) is a division: Zen 4's divider works beside the FMA
 * pipes (about 9 cycles a zmm), which made the sigmoid faster; in
 * sigmoid_grad, whose loop is shorter, it was slower, so not there
 * (docs/design-measurements.md).
 */
/* y after one Newton step toward 1/d */
#define FL_NEWTON(y, d) ((y) + (y) * (1 - (d) * (y)))
#if FL_X86_LEVEL >= 3
#define FL_RECIP_Y0_f64(d) fl_rcp_nr_f64(d)
#define FL_RECIP_Y0_f32(d) fl_rcp_f32(d)
#ifdef FL_SIGMOID_DIV64
#define FL_SIGMOID_Y0_f64(d) (1.0 / (d))
#else
#define FL_SIGMOID_Y0_f64(d) fl_rcp_nr_f64(d)
#endif
#else
#define FL_RECIP_Y0_f64(d) (1.0 / (d))
#define FL_RECIP_Y0_f32(d) (1.0f / (d))
#define FL_SIGMOID_Y0_f64 FL_RECIP_Y0_f64
#endif
#define FL_SIGMOID_Y0_f32 FL_RECIP_Y0_f32

/* ------------------------------------------------------------------ */
/* the table exp's data (AVX-512)                                       */
/* ------------------------------------------------------------------ */
/*
 * AVX-512: exp by a table of 2^(j/16).  n = round(16 x / ln2) by the shifter
 * trick, whose low 4 bits index the table (vpermt2pd / vpermps read just
 * those), r = x - n ln2/16 in two parts (|r| <= ln2/32; n * LN2HI exact over
 * the clamped range), exp(x) = 2^floor(n/16) * T (1 + p(r)) with T = 2^(j/16)
 * as hi + lo, computed as hi + (hi p + lo) and scaled by vscalefpd/ps (which
 * rounds a subnormal result once and overflows to inf by itself).  p(r) =
 * r + r^2 Q(r) of degree 6 (float64, relative error 2^-55) or 3 (float32,
 * 2^-27.7): 12 and 9 FMA-unit operations where the polynomials below, over
 * |r| <= ln2/2, take 17 and 12.  NaN propagates through r.
 * Used for every float32 exp, and for float64 in exp(-|x|) (fl_exp_negabs,
 * the BCE, softplus, log_sigmoid and sigmoid_grad kernels).  On AMD Zen 4
 * (avx512-split) the table made every kernel faster but the float64
 * sigmoid, which was slower with two vectors per loop iteration and gained
 * with four (FL_SIGMOID_K), more with the division of FL_SIGMOID_DIV64 too
 * (figures in docs/design-measurements.md):
 * "avx512-split" sets FL_EXP_TABLE_F64 for it; "avx512-wide" (Intel, not
 * measured with the table) keeps the polynomial for float64 but in exp(-|x|).
 */
#if FL_X86_LEVEL >= 3
/* generated by scripts/gen_exp_table.py 6 3 */
static const double fl_et_hi_f64[16] __attribute__((aligned(64))) = {0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0, 0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0, 0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0, 0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};
static const double fl_et_lo_f64[16] __attribute__((aligned(64))) = {0x0.0p+0, 0x1.8a62e4adc610bp-54, -0x1.19041b9d78a76p-55, 0x1.9b07eb6c70573p-54, 0x1.6f46ad23182e4p-55, 0x1.ada0911f09ebcp-55, 0x1.d4397afec42e2p-56, 0x1.6324c054647adp-54, -0x1.bdd3413b26456p-54, -0x1.41577ee04992fp-55, 0x1.6e9f156864b27p-54, 0x1.c7c46b071f2bep-56, 0x1.7a1cd345dcc81p-54, 0x1.11065895048ddp-55, 0x1.2ed02d75b3707p-55, -0x1.e9c23179c2893p-54};
static const float fl_et_hi_f32[16] __attribute__((aligned(64))) = {0x1p+0f, 0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f, 0x1.306fep+0f, 0x1.3dea64p+0f, 0x1.4bfdaep+0f, 0x1.5ab07ep+0f, 0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f, 0x1.9c4918p+0f, 0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f};
static const float fl_et_lo_f32[16] __attribute__((aligned(64))) = {0x0p+0f, 0x1.9f3122p-25f, -0x1.c15742p-27f, 0x1.ceac48p-25f, 0x1.4636e2p-25f, 0x1.824684p-25f, -0x1.593abcp-25f, -0x1.5bd5ecp-27f, 0x1.9fcef4p-26f, -0x1.829fdp-25f, 0x1.15506ep-27f, 0x1.51f848p-27f, -0x1.a94b14p-26f, -0x1.3d56b2p-27f, -0x1.822dbcp-27f, 0x1.52486cp-27f};
#define FL_ET_C2_f64 0x1.0000000000000p-1
#define FL_ET_C3_f64 0x1.55555554dc4e3p-3
#define FL_ET_C4_f64 0x1.5555555518d1dp-5
#define FL_ET_C5_f64 0x1.11120bf7291fap-7
#define FL_ET_C6_f64 0x1.6c17bc52194bep-10
#define FL_ET_C2_f32 0x1.00014ap-1f
#define FL_ET_C3_f32 0x1.55565cp-3f
#define FL_ET_LN2HI_f64 0x1.62e42ff000000p-5
#define FL_ET_LN2LO_f64 -0x1.718432a1b0e26p-39
#define FL_ET_LN2HI_f32 0x1.62ep-5f
#define FL_ET_LN2LO_f32 0x1.0bfbe8p-19f
/* per type: the table entry j (low 4 bits of the index's lanes) and p(r) */
FL_INLINE nf64 fl_nexp_tab16_f64(const double *tab, nf64 idx)
{
    return (nf64)_mm512_permutex2var_pd(_mm512_load_pd(tab), (__m512i)idx, _mm512_load_pd(tab + 8));
}
FL_INLINE nf32 fl_nexp_tab16_f32(const float *tab, nf32 idx)
{
    return (nf32)_mm512_permutexvar_ps((__m512i)idx, _mm512_load_ps(tab));
}
FL_INLINE nf64 fl_nexp_poly_f64(nf64 r)
{
    nf64 r2 = r * r;
    nf64 q = (FL_ET_C2_f64 + FL_ET_C3_f64 * r) + r2 * ((FL_ET_C4_f64 + FL_ET_C5_f64 * r) + r2 * FL_ET_C6_f64);
    return r + r2 * q;
}
FL_INLINE nf32 fl_nexp_poly_f32(nf32 r) { return r + (r * r) * (FL_ET_C2_f32 + FL_ET_C3_f32 * r); }
/* the shifter 1.5 * 2^(mantissa bits), so that t = 16 x / ln2 + shifter
   holds n in its low bits; 16 / ln2; where n's bits go to reach the
   exponent field, less the 4 index bits (KSHIFT), and the field's mask */
#define FL_ET_SHIFTER_f64 0x1.8p52
#define FL_ET_SHIFTER_f32 0x1.8p23f
#define FL_ET_INV16_f64 0x1.71547652b82fep4
#define FL_ET_INV16_f32 0x1.715476p4f
#define FL_ET_KSHIFT_f64 48
#define FL_ET_KSHIFT_f32 19
#define FL_ET_KMASK_f64 ((int64_t)0xfff0000000000000ull)
#define FL_ET_KMASK_f32 ((int32_t)0xff800000u)
/* fl_nexp_tab_normal_* (fl_vec_basic_impl.h) scales by an integer add to
   the exponent field where vscalefpd/ps would do: same value; on Zen 4
   vscalefps takes an FMA pipe and two cycles of the add pipes, and the
   multiply by 1/16 goes too: the sigmoid slightly faster
   (docs/design-measurements.md) */
#endif

/* ------------------------------------------------------------------ */
/* the basics, per type (fl_vec_basic_impl.h)                           */
/* ------------------------------------------------------------------ */
#define FL_T 64
#include "fl_types.h"
#include "fl_vec_basic_impl.h"
#include "fl_types_end.h"
#undef FL_T
#define FL_T 32
#include "fl_types.h"
#include "fl_vec_basic_impl.h"
#include "fl_types_end.h"
#undef FL_T

/* ------------------------------------------------------------------ */
/* the pieces that differ between float64 and float32                   */
/* ------------------------------------------------------------------ */
#if FL_X86_LEVEL >= 3
FL_LIFT1(vf64, fl_round_f64, fl_nround_f64)
FL_LIFT2(vf64, vf64, vf64, fl_scalef_f64, fl_nscalef_f64)
FL_INLINE vf64 fl_rcp_nr_f64(vf64 d) { return FL_NEWTON(fl_rcp_f64(d), d); }
/* a / b for b in [1, 3] where ~1 ULP is enough (log1p's s) */
FL_INLINE vf64 fl_div_f64(vf64 a, vf64 b) { return a * FL_NEWTON(fl_rcp_nr_f64(b), b); }
FL_INLINE vf32 fl_div_f32(vf32 a, vf32 b) { return a * FL_NEWTON(fl_rcp_f32(b), b); }
#else
FL_INLINE vf64 fl_div_f64(vf64 a, vf64 b) { return a / b; }
FL_INLINE vf32 fl_div_f32(vf32 a, vf32 b) { return a / b; }
#endif

/*
 * Below AVX-512:
 * exp(x), float64.  n = round(x / ln2) by the shifter trick, r = x - n ln2 in
 * two parts (Cody-Waite: n * LN2_HI is exact), exp(r) = 1 + r + r^2 q(r) with
 * q a degree-9 near-minimax fit (Chebyshev, mpmath) on |r| <= ln2/2: relative
 * error of r^2 q below 2^-56, evaluated by Estrin's scheme (short dependency
 * chains), then 2^n applied as two factors 2^(n>>1) * 2^(n - (n>>1)) so that
 * subnormal results are rounded once and exp(709.78) does not overflow early.
 */
/* exp of an argument already in range (see fl_exp_f64); one_step (a
   constant at each call site) where |xc| <= FL_EXP_NORMAL_f64, so that 2^n
   and the result are normal and 2^n is applied as one factor: the same
   value, a few integer operations fewer below AVX-512 */
FL_INLINE vf64 fl_exp_scaled_f64(vf64 xc, int one_step, vf64 *relp)
{
#if FL_X86_LEVEL >= 3 && defined(FL_EXP_TABLE_F64)
    return one_step && !relp ? fl_exp_tab_normal_f64(xc) : fl_exp_tab_rel_f64(xc, relp);
#else
#if FL_X86_LEVEL >= 3
    /* AVX-512: clamp +-inf to finite (NaN stays NaN), round with
       vrndscalepd, scale with vscalefpd, which rounds subnormal results once
       and overflows to inf by itself */
    vf64 nd = fl_round_f64(xc * 0x1.71547652b82fep0);
#else
    const double SH = 0x1.8p52;
    vf64 t = xc * 0x1.71547652b82fep0 + SH;
    vf64 nd = t - SH;
    /* integer steps in unsigned arithmetic: a NaN lane gives garbage bits
       that the selects discard, and must not overflow a signed type (UB;
       without -fwrapv the compiler may assume it never happens) */
    vi64 n = (vi64)((vu64)t - (vu64)fl_splat_f64(SH));
#endif
    vf64 r1 = xc - nd * 0x1.62e42feep-1;     /* LN2_HI, 32 significant bits */
    vf64 nlo = nd * 0x1.a39ef35793c76p-33;    /* LN2_LO */
    vf64 r = r1 - nlo;
    vf64 r2 = r * r, r4 = r2 * r2;
    vf64 p01 = 0x1.5555555555556p-3 * r + 0x1.0000000000001p-1;
    vf64 p23 = 0x1.11111111109b5p-7 * r + 0x1.5555555553d68p-5;
    vf64 p45 = 0x1.a01a01a7c2efep-13 * r + 0x1.6c16c17889ef1p-10;
    vf64 p67 = 0x1.71de0db2f6ae9p-19 * r + 0x1.a019b9149a3cep-16;
    vf64 p89 = 0x1.af389ecfcbdafp-26 * r + 0x1.28917c89aa05dp-22;
    vf64 q = (p01 + r2 * p23) + r4 * ((p45 + r2 * p67) + r4 * p89);
    vf64 v = r2 * q;
    vf64 pm = r + v;
    vf64 p = 1.0 + pm;
    /* the roundings of p = 1 + (r + v) and of r = r1 - nlo, relative
       (each by Fast2Sum: |pm| < 1, |v| < |r|, |nlo| < |r1|; exp(r + dr) =
       exp(r) (1 + dr)): near |r| = ln2/2 the last two are each up to a
       quarter of an ULP of the result */
    if (relp)
        *relp = (((1.0 - p) + pm) + ((r - pm) + v)) / p + ((r1 - r) - nlo);
#if FL_X86_LEVEL >= 3
    (void)one_step;
    return fl_scalef_f64(p, nd);
#else
    /* t holds n in its low mantissa bits and 1.5 * 2^52 above them: shifted
       to the exponent field, only n remains (mod 2^12), and adding the bits
       of 1.0 biases it */
    if (one_step)
        return p * (vf64)(((vu64)t << 52) + (vu64)fl_splat_f64(1.0));
    /* n in [-1077, 1025]; floor(n / 2) with a logical shift of n + 2048,
       since AVX2 has no 64-bit arithmetic shift */
    vu64 n1 = (((vu64)n + 2048) >> 1) - 1024;
    vu64 n2 = (vu64)n - n1;
    vf64 s1 = (vf64)((n1 + 1023) << 52);
    vf64 s2 = (vf64)((n2 + 1023) << 52);
    return (p * s1) * s2;
#endif
#endif
}

/* exp(x), float32: same scheme, q of degree 5 (relative error below 2^-32). */
/* exp of an argument already in range (see fl_exp_f32); one_step as for float64 */
FL_INLINE vf32 fl_exp_scaled_f32(vf32 xc, int one_step, vf32 *relp)
{
#if FL_X86_LEVEL >= 3
    return one_step && !relp ? fl_exp_tab_normal_f32(xc) : fl_exp_tab_rel_f32(xc, relp);
#else
    const float SH = 0x1.8p23f;
    vf32 t = xc * 0x1.715476p0f + SH;
    vf32 nd = t - SH;
    vi32 n = (vi32)((vu32)t - (vu32)fl_splat_f32(SH));   /* unsigned: see float64 */
    vf32 r1 = xc - nd * 0x1.62e4p-1f;         /* LN2_HI, 17 significant bits */
    vf32 nlo = nd * 0x1.7f7d1cp-20f;          /* LN2_LO */
    vf32 r = r1 - nlo;
    vf32 r2 = r * r;
    vf32 p01 = 0x1.555556p-3f * r + 0x1p-1f;
    vf32 p23 = 0x1.1110ep-7f * r + 0x1.5554eap-5f;
    vf32 p45 = 0x1.a124e4p-13f * r + 0x1.6d4316p-10f;
    vf32 q = (p01 + r2 * p23) + (r2 * r2) * p45;
    vf32 v = r2 * q;
    vf32 pm = r + v;
    vf32 p = 1.0f + pm;
    if (relp)   /* as for float64 */
        *relp = (((1.0f - p) + pm) + ((r - pm) + v)) / p + ((r1 - r) - nlo);
    if (one_step)
        return p * (vf32)(((vu32)t << 23) + (vu32)fl_splat_f32(1.0f));
    vi32 n1 = n >> 1;
    vu32 n2 = (vu32)n - (vu32)n1;
    vf32 s1 = (vf32)(((vu32)n1 + 127) << 23);
    vf32 s2 = (vf32)((n2 + 127) << 23);
    return (p * s1) * s2;
#endif
}

/* ------------------------------------------------------------------ */
/* log and log1p (fdlibm's reduction, vectorised)                       */
/* ------------------------------------------------------------------ */

/*
 * Shared tail: log(2^k (1 + f)) + c, with f in [sqrt(2)/2 - 1, sqrt(2) - 1],
 * c a small correction, dk = k as a float.  s = f / (2 + f) (given to
 * fl_logcore_s_f64), log(1 + f) = f - hfsq + s (hfsq + R(s^2)).
 */
FL_INLINE vf64 fl_logcore_s_f64(vf64 f, vf64 s, vf64 dk, vf64 c)
{
    vf64 hfsq = 0.5 * f * f;
    vf64 z = s * s;
    vf64 w = z * z;
    vf64 t1 = w * (3.999999999940941908e-01 +
                   w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    vf64 t2 = z * (6.666666666666735130e-01 +
                   w * (2.857142874366239149e-01 +
                        w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    vf64 R = t2 + t1;
    return s * (hfsq + R) + (dk * 1.90821492927058770002e-10 + c) - hfsq + f +
           dk * 6.93147180369123816490e-01;
}
/* the same with s computed here (callers may take it another way) */
FL_INLINE vf64 fl_logcore_f64(vf64 f, vf64 dk, vf64 c)
{
    return fl_logcore_s_f64(f, f / (2.0 + f), dk, c);
}

FL_INLINE vf32 fl_logcore_f32(vf32 f, vf32 dk, vf32 c)
{
    vf32 hfsq = 0.5f * f * f;
    vf32 s = f / (2.0f + f);
    vf32 z = s * s;
    vf32 w = z * z;
    vf32 t1 = w * (0xccce13.0p-25f + w * 0xf89e26.0p-26f);
    vf32 t2 = z * (0xaaaaaa.0p-24f + w * 0x91e9ee.0p-25f);
    vf32 R = t2 + t1;
    return s * (hfsq + R) + (dk * 9.0580006145e-06f + c) - hfsq + f +
           dk * 6.9313812256e-01f;
}

/* small integers to floats (AVX2 has no int64 -> double conversion) */
FL_INLINE vf64 fl_i2f_f64(vi64 k)
{
    return (vf64)(k + (vi64)fl_splat_f64(0x1.8p52)) - 0x1.8p52;
}
FL_INLINE vf32 fl_i2f_f32(vi32 k) { return __builtin_convertvector(k, vf32); }

/* split a positive finite u into k and f = m - 1, m in [sqrt(2)/2, sqrt(2)) */
FL_INLINE vi64 fl_split_f64(vf64 u, vf64 *f)
{
    vu64 iu = (vu64)u;
    vu64 hu = (iu >> 32) + (0x3ff00000 - 0x3fe6a09e);
    vi64 k = (vi64)(hu >> 20) - 0x3ff;
    vu64 hm = (hu & 0x000fffff) + 0x3fe6a09e;
    *f = (vf64)((hm << 32) | (iu & 0xffffffff)) - 1.0;
    return k;
}

FL_INLINE vi32 fl_split_f32(vf32 u, vf32 *f)
{
    /* unsigned, as for float64: u = inf or NaN must not overflow an int;
       for a positive finite u the top bit stays clear, so the shift is the
       same as the signed one */
    vu32 iu = (vu32)u + (0x3f800000 - 0x3f3504f3);
    vi32 k = (vi32)(iu >> 23) - 0x7f;
    *f = (vf32)((iu & 0x007fffff) + 0x3f3504f3) - 1.0f;
    return k;
}

/*
 * log1p(e) for e in [0, 1] (or NaN): the softplus case, e = exp(-|x|).
 * Except for AVX-512 float64 (the table form just below), fdlibm's formula
 * log1p(f) = f - (hfsq - s (hfsq + R(s^2))), s = f / (2 + f), applied to
 * f = e directly (exact: no 1 + e is ever rounded, no range
 * reduction, no special value but NaN, which propagates).  s^2 <= 1/9, so R
 * needs a longer polynomial than fdlibm's (fitted with mpmath's chebyfit;
 * its error moves the result by < 1e-17 relative in float64, 4e-10 in float32).
 */
#if FL_X86_LEVEL >= 3 && FL_NB == 64
/*
 * AVX-512, float64: table-driven, no reciprocal (a faster BCE loss +
 * gradient loop, see docs/design-measurements.md, and 0.66 ULP where the
 * form below reaches 1.46 ULP near e = 1).  d = 1 + e rounded and
 * dlo = e - (d - 1) exactly (the same expressions as fl_logistic_*_from_e,
 * so a kernel computing both shares them); i = round(FL_LT_S e) in 0..15
 * (shifter trick; vpermt2pd reads the low 4 bits of each index),
 * invc_i = n / 32 (invc_0 = 1, so tiny and subnormal e come back exact),
 * r = d invc_i - 1 exact in one FMA
 * (|r| < 0.0415).  log1p(e) = -log(invc_i) [hi + lo] + log1p(r) + dlo / (1 + e)
 * with log1p(r) = r + r^2 P(r), P of degree 8, and hi + r by Fast2Sum
 * (|hi| >= |r|, or hi = 0).  NaN propagates through r.
 */
/* generated by scripts/gen_log1p_table.py 15.25 8 (Q=5) */
#define FL_LT_S 0x1.e800000000000p+3
static const double fl_lt_invc[16] __attribute__((aligned(64))) = {0x1.0000000000000p+0, 0x1.e000000000000p-1, 0x1.c000000000000p-1, 0x1.b000000000000p-1, 0x1.9000000000000p-1, 0x1.8000000000000p-1, 0x1.7000000000000p-1, 0x1.6000000000000p-1, 0x1.5000000000000p-1, 0x1.4000000000000p-1, 0x1.3000000000000p-1, 0x1.3000000000000p-1, 0x1.2000000000000p-1, 0x1.1000000000000p-1, 0x1.1000000000000p-1, 0x1.0000000000000p-1};
static const double fl_lt_lchi[16] __attribute__((aligned(64))) = {0x0.0p+0, 0x1.08598b59e3a07p-4, 0x1.1178e8227e47cp-3, 0x1.5bf406b543db2p-3, 0x1.f991c6cb3b379p-3, 0x1.269621134db92p-2, 0x1.522ae0738a3d8p-2, 0x1.7fafa3bd8151cp-2, 0x1.af5295248cdd0p-2, 0x1.e148a1a2726cep-2, 0x1.0ae76e2d054fap-1, 0x1.0ae76e2d054fap-1, 0x1.269621134db92p-1, 0x1.43d9ff2f923c5p-1, 0x1.43d9ff2f923c5p-1, 0x1.62e42fefa39efp-1};
static const double fl_lt_lclo[16] __attribute__((aligned(64))) = {0x0.0p+0, -0x1.dd7009902bf32p-58, -0x1.0e63a5f01c691p-58, -0x1.1f5b44c0df7e7p-61, 0x1.f665066f980a2p-57, 0x1.e0efadd9db02bp-56, -0x1.8f7e9b38a6979p-57, -0x1.219024acd3b77p-58, 0x1.9d56c45dd3e86p-56, -0x1.ac81cc8a4dfb8p-56, 0x1.0d710fcfc4e0dp-55, 0x1.0d710fcfc4e0dp-55, 0x1.e0efadd9db02bp-55, -0x1.84f481051f71ap-56, -0x1.84f481051f71ap-56, 0x1.abc9e3b39803fp-56};
#define FL_LT_C0 -0x1.0000000000000p-1
#define FL_LT_C1 0x1.55555555553c0p-2
#define FL_LT_C2 -0x1.00000000026cfp-2
#define FL_LT_C3 0x1.9999999fe8535p-3
#define FL_LT_C4 -0x1.555555132095cp-3
#define FL_LT_C5 0x1.249212ba8657bp-3
#define FL_LT_C6 -0x1.00010ec6b14cfp-3
#define FL_LT_C7 0x1.c878ecbf2e77fp-4
#define FL_LT_C8 -0x1.976dd3b1dea1cp-4
FL_INLINE nf64 fl_nlog1p_unit_f64(nf64 ne, nf64 nd, nf64 ndlo)
{
    __m512d e = (__m512d)ne, d = (__m512d)nd, dlo = (__m512d)ndlo;
    __m512i idx = _mm512_castpd_si512(
        _mm512_fmadd_pd(e, _mm512_set1_pd(FL_LT_S), _mm512_set1_pd(0x1.8p52)));
#define FL_LT_PICK(tab) _mm512_permutex2var_pd(_mm512_load_pd(tab), idx, _mm512_load_pd((tab) + 8))
    __m512d invc = FL_LT_PICK(fl_lt_invc), lch = FL_LT_PICK(fl_lt_lchi), lcl = FL_LT_PICK(fl_lt_lclo);
#undef FL_LT_PICK
    __m512d r = _mm512_fmsub_pd(d, invc, _mm512_set1_pd(1.0)); /* exact */
    /* dlo / (1 + e) ~ dlo invc (1 - r), plus the low part of -log(invc) */
    __m512d a = _mm512_fmadd_pd(dlo, _mm512_fnmadd_pd(invc, r, invc), lcl);
    __m512d hi = _mm512_add_pd(lch, r);
    __m512d lo = _mm512_sub_pd(r, _mm512_sub_pd(hi, lch));
    __m512d r2 = _mm512_mul_pd(r, r), r4 = _mm512_mul_pd(r2, r2);
#define FL_LT_PAIR(k1, k0) _mm512_fmadd_pd(_mm512_set1_pd(FL_LT_C##k1), r, _mm512_set1_pd(FL_LT_C##k0))
    __m512d q0 = _mm512_fmadd_pd(r2, FL_LT_PAIR(3, 2), FL_LT_PAIR(1, 0));
    __m512d q1 = _mm512_fmadd_pd(r2, FL_LT_PAIR(7, 6), FL_LT_PAIR(5, 4));
#undef FL_LT_PAIR
    q1 = _mm512_fmadd_pd(r4, _mm512_set1_pd(FL_LT_C8), q1);
    __m512d p = _mm512_fmadd_pd(r4, q1, q0);
    __m512d t = _mm512_fmadd_pd(r2, p, _mm512_add_pd(a, lo));
    return (nf64)_mm512_add_pd(hi, t);
}
FL_INLINE vf64 fl_log1p_unit_f64(vf64 e)
{
    vf64 d = 1.0 + e;
    vf64 dlo = e - (d - 1.0);
    FL_U(vf64) ue = {e}, ud = {d}, udl = {dlo}, ur;
    for (int j = 0; j < FL_NV; j++)
        ur.p[j] = fl_nlog1p_unit_f64(ue.p[j], ud.p[j], udl.p[j]);
    return ur.w;
}
#else
FL_INLINE vf64 fl_log1p_unit_f64(vf64 e)
{
    vf64 hfsq = 0.5 * e * e;
    vf64 s = fl_div_f64(e, 2.0 + e);
    vf64 z = s * s, z2 = z * z, z4 = z2 * z2;
    vf64 p01 = 0x1.999999999a3ddp-2 * z + 0x1.5555555555555p-1;
    vf64 p23 = 0x1.c71c727143318p-3 * z + 0x1.24924923d44c6p-2;
    vf64 p45 = 0x1.3b18b294bebfbp-3 * z + 0x1.745cf0b0e03bdp-3;
    vf64 p67 = 0x1.eb905e85752a5p-4 * z + 0x1.10ac75dc60292p-3;
    vf64 p89 = 0x1.4b0a26c5f377fp-3 * z + 0x1.687a6e7c9459ep-4;
    vf64 R = z * ((p01 + z2 * p23) + z4 * ((p45 + z2 * p67) + z4 * p89));
    return e - (hfsq - s * (hfsq + R));
}
#endif

FL_INLINE vf32 fl_log1p_unit_f32(vf32 e)
{
    vf32 hfsq = 0.5f * e * e;
    vf32 s = fl_div_f32(e, 2.0f + e);
    vf32 z = s * s, z2 = z * z;
    vf32 p01 = 0x1.9998d4p-2f * z + 0x1.555556p-1f;
    vf32 p23 = 0x1.bc8cf8p-3f * z + 0x1.24c926p-2f;
    vf32 R = z * ((p01 + z2 * p23) + (z2 * z2) * 0x1.dba26p-3f);
    return e - (hfsq - s * (hfsq + R));
}

/* ------------------------------------------------------------------ */
/* the math, per type (fl_vec_math_impl.h)                              */
/* ------------------------------------------------------------------ */
#define FL_T 64
#include "fl_types.h"
#include "fl_vec_math_impl.h"
#include "fl_types_end.h"
#undef FL_T
#define FL_T 32
#include "fl_types.h"
#include "fl_vec_math_impl.h"
#include "fl_types_end.h"
#undef FL_T
