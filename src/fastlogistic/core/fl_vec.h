/*
 * fl_vec.h -- vector math primitives of the math core (layer 1).
 *
 * Included once per instruction-set level by fl_isa_body.h, with FL_VB set to
 * the vector width in bytes (64: AVX-512, 32: AVX2+FMA, 16: SSE2 / generic).
 * Everything is written with GCC/Clang vector extensions, so the same source
 * compiles to zmm, ymm, xmm or NEON registers depending on the target the
 * including translation unit was compiled for.  No libm call, no branch on
 * data, no -ffast-math: NaN and +-inf follow IEEE rules and are handled with
 * explicit selects.
 *
 * Functions (all elementwise on a vector):
 *   fl_exp_*    exp(x) for any x (underflow to 0/subnormals, overflow to inf)
 *   fl_log1p_*  log1p(y) for any y (-1 -> -inf, < -1 -> nan)
 *   fl_log_*    log(x)  for any x (0 -> -inf, < 0 -> nan, subnormals exact)
 * Accuracy: below 1 ULP each (checked against mpmath in tests/test_accuracy.py).
 */
#ifndef FL_VB
#error "FL_VB (vector bytes) must be defined before including fl_vec.h"
#endif

#include <stdint.h>
#include <stddef.h>
#include <string.h>

typedef double  vf64 __attribute__((vector_size(FL_VB)));
typedef float   vf32 __attribute__((vector_size(FL_VB)));
typedef int64_t vi64 __attribute__((vector_size(FL_VB)));
typedef int32_t vi32 __attribute__((vector_size(FL_VB)));
typedef uint64_t vu64 __attribute__((vector_size(FL_VB)));
/* half-width float vector: the float32 lanes that fit one double vector */
typedef float   vf32h __attribute__((vector_size(FL_VB / 2)));

#define FL_L64 ((ptrdiff_t)(FL_VB / 8))
#define FL_L32 ((ptrdiff_t)(FL_VB / 4))

#define FL_INLINE static inline __attribute__((always_inline))

#define FL_CAT2(a, b) a##_##b
#define FL_XCAT2(a, b) FL_CAT2(a, b)
#define FL_CAT3(a, b, c) a##_##b##_##c
#define FL_XCAT3(a, b, c) FL_CAT3(a, b, c)

/* ------------------------------------------------------------------ */
/* generic helpers, one set per element type                           */
/* ------------------------------------------------------------------ */
#define FL_DEFINE_BASICS(S, T, V, VI, L)                                       \
    FL_INLINE V fl_splat_##S(T c) { return c - (V){0}; } /* keeps -0.0 */                   \
    FL_INLINE V fl_sel_##S(VI m, V a, V b)                                     \
    {                                                                          \
        return (V)((m & (VI)a) | (~m & (VI)b));                                \
    }                                                                          \
    FL_INLINE V fl_load_##S(const T *p)                                        \
    {                                                                          \
        V v;                                                                   \
        memcpy(&v, p, sizeof v);                                               \
        return v;                                                              \
    }                                                                          \
    FL_INLINE void fl_store_##S(T *p, V v) { memcpy(p, &v, sizeof v); }        \
    /* tail: lanes past n are filled with `fill` */                            \
    FL_INLINE V fl_load_part_##S(const T *p, ptrdiff_t n, T fill)              \
    {                                                                          \
        T buf[L];                                                              \
        for (ptrdiff_t j = 0; j < L; j++)                                      \
            buf[j] = j < n ? p[j] : fill;                                      \
        return fl_load_##S(buf);                                               \
    }                                                                          \
    FL_INLINE void fl_store_part_##S(T *p, V v, ptrdiff_t n)                   \
    {                                                                          \
        T buf[L];                                                              \
        fl_store_##S(buf, v);                                                  \
        for (ptrdiff_t j = 0; j < n; j++)                                      \
            p[j] = buf[j];                                                     \
    }                                                                          \
    /* mask of lanes with index < n */                                        \
    FL_INLINE VI fl_lanes_below_##S(ptrdiff_t n)                               \
    {                                                                          \
        VI idx;                                                                \
        for (ptrdiff_t j = 0; j < L; j++)                                      \
            idx[j] = j;                                                        \
        return idx < (VI){0} + (int)n;                                           \
    }                                                                          \
    FL_INLINE V fl_abs_##S(V x)                                                \
    {                                                                          \
        return (V)((VI)x & ~(VI)fl_splat_##S((T)-0.0));                        \
    }                                                                          \
    /* max(x, 0) that keeps NaN out: NaN -> 0 (callers add a NaN term) */     \
    FL_INLINE V fl_pos_##S(V x) { return fl_sel_##S(x > 0, x, fl_splat_##S(0)); } \
    FL_INLINE V fl_neg_part_##S(V x)                                           \
    {                                                                          \
        return fl_sel_##S(x < 0, -x, fl_splat_##S(0));                         \
    }                                                                          \
    FL_INLINE int fl_any_##S(VI m)                                             \
    {                                                                          \
        VI z = {0};                                                            \
        return memcmp(&m, &z, sizeof m) != 0;                                  \
    }

FL_DEFINE_BASICS(f64, double, vf64, vi64, FL_L64)
FL_DEFINE_BASICS(f32, float, vf32, vi32, FL_L32)

/* float64 accumulation of losses: lanes summed in a fixed order */
FL_INLINE vf64 fl_acc_f64(vf64 acc, vf64 v) { return acc + v; }
FL_INLINE vf64 fl_acc_f32(vf64 acc, vf32 v)
{
    vf32h lo, hi;
    memcpy(&lo, &v, sizeof lo);
    memcpy(&hi, (const char *)&v + sizeof lo, sizeof hi);
    return acc + __builtin_convertvector(lo, vf64) + __builtin_convertvector(hi, vf64);
}
FL_INLINE double fl_hsum_f64(vf64 v)
{
    double s = 0.0;
    for (ptrdiff_t j = 0; j < FL_L64; j++)
        s += v[j];
    return s;
}

/* ------------------------------------------------------------------ */
/* exp                                                                 */
/* ------------------------------------------------------------------ */

/*
 * exp(x), float64.  n = round(x / ln2) by the shifter trick, r = x - n ln2 in
 * two parts (Cody-Waite: n * LN2_HI is exact), exp(r) by its Taylor series to
 * degree 13 (|r| <= 0.347, truncation < 2^-58), then 2^n applied as two
 * factors 2^(n>>1) * 2^(n - (n>>1)) so that subnormal results are rounded
 * once and exp(709.78) does not overflow early.
 */
FL_INLINE vf64 fl_exp_f64(vf64 x)
{
    const double SH = 0x1.8p52;
    vf64 xc = fl_sel_f64(x < -746.0, fl_splat_f64(-746.0), x);
    xc = fl_sel_f64(x > 710.0, fl_splat_f64(710.0), xc);
    vf64 t = xc * 0x1.71547652b82fep0 + SH;
    vf64 nd = t - SH;
    vi64 n = (vi64)t - (vi64)fl_splat_f64(SH);
    vf64 r = xc - nd * 0x1.62e42feep-1;      /* LN2_HI, 32 significant bits */
    r = r - nd * 0x1.a39ef35793c76p-33;       /* LN2_LO */
    vf64 q = fl_splat_f64(1.0 / 6227020800.0); /* 1/13! */
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    vf64 p = 1.0 + (r + (r * r) * q);
    /* n in [-1077, 1025]; floor(n / 2) with a logical shift of n + 2048,
       since AVX2 has no 64-bit arithmetic shift */
    vi64 n1 = (vi64)((vu64)(n + 2048) >> 1) - 1024;
    vi64 n2 = n - n1;
    vf64 s1 = (vf64)((n1 + 1023) << 52);
    vf64 s2 = (vf64)((n2 + 1023) << 52);
    return (p * s1) * s2;
}

/* exp(x), float32: same scheme, Taylor series to degree 8 (|r| <= 0.347). */
FL_INLINE vf32 fl_exp_f32(vf32 x)
{
    const float SH = 0x1.8p23f;
    vf32 xc = fl_sel_f32(x < -104.0f, fl_splat_f32(-104.0f), x);
    xc = fl_sel_f32(x > 89.0f, fl_splat_f32(89.0f), xc);
    vf32 t = xc * 0x1.715476p0f + SH;
    vf32 nd = t - SH;
    vi32 n = (vi32)t - (vi32)fl_splat_f32(SH);
    vf32 r = xc - nd * 0x1.62e4p-1f;          /* LN2_HI, 17 significant bits */
    r = r - nd * 0x1.7f7d1cp-20f;             /* LN2_LO */
    vf32 q = fl_splat_f32(1.0f / 40320.0f);
    q = q * r + 1.0f / 5040.0f;
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    q = q * r + 0.5f;
    vf32 p = 1.0f + (r + (r * r) * q);
    vi32 n1 = n >> 1;
    vi32 n2 = n - n1;
    vf32 s1 = (vf32)((n1 + 127) << 23);
    vf32 s2 = (vf32)((n2 + 127) << 23);
    return (p * s1) * s2;
}

/* ------------------------------------------------------------------ */
/* log and log1p (fdlibm's reduction, vectorised)                       */
/* ------------------------------------------------------------------ */

/*
 * Shared tail: log(2^k (1 + f)) + c, with f in [sqrt(2)/2 - 1, sqrt(2) - 1],
 * c a small correction, dk = k as a float.  s = f / (2 + f),
 * log(1 + f) = f - hfsq + s (hfsq + R(s^2)).
 */
FL_INLINE vf64 fl_logcore_f64(vf64 f, vf64 dk, vf64 c)
{
    vf64 hfsq = 0.5 * f * f;
    vf64 s = f / (2.0 + f);
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
    vi32 iu = (vi32)u + (0x3f800000 - 0x3f3504f3);
    vi32 k = (iu >> 23) - 0x7f;
    *f = (vf32)((iu & 0x007fffff) + 0x3f3504f3) - 1.0f;
    return k;
}

#define FL_DEFINE_LOGS(S, T, V, VI, KMAXC, SUBMIN, SUBSCALE, SUBK)             \
    FL_INLINE V fl_log1p_##S(V y)                                              \
    {                                                                          \
        V u = (T)1 + y;                                                           \
        V f;                                                                   \
        VI k = fl_split_##S(u, &f);                                            \
        /* correction for the rounding of 1 + y (c / u ~ log(1+y) - log(u)) */ \
        V c = fl_sel_##S(k >= 2, (T)1 - (u - y), y - (u - (T)1)) / u;                \
        c = fl_sel_##S(k < KMAXC, c, fl_splat_##S(0));                         \
        /* 1 + y in [sqrt(2)/2, sqrt(2)): use y itself, exact */              \
        VI k0 = k == 0;                                                        \
        f = fl_sel_##S(k0, y, f);                                              \
        c = fl_sel_##S(k0, fl_splat_##S(0), c);                                \
        V r = fl_logcore_##S(f, fl_i2f_##S(k), c);            \
        r = fl_sel_##S(y == -1, fl_splat_##S(-(T)__builtin_inf()), r);         \
        r = fl_sel_##S(y < -1, fl_splat_##S((T)__builtin_nan("")), r);         \
        r = fl_sel_##S(y == (T)__builtin_inf(), y, r);                         \
        return fl_sel_##S(y != y, y, r);                                       \
    }                                                                          \
    FL_INLINE V fl_log_##S(V x)                                                \
    {                                                                          \
        VI sub = x < SUBMIN;                                                   \
        V xs = fl_sel_##S(sub, x * SUBSCALE, x);                               \
        V f;                                                                   \
        VI k = fl_split_##S(xs, &f) - (sub & SUBK);                            \
        V r = fl_logcore_##S(f, fl_i2f_##S(k), fl_splat_##S(0)); \
        r = fl_sel_##S(x == 0, fl_splat_##S(-(T)__builtin_inf()), r);          \
        r = fl_sel_##S(x < 0, fl_splat_##S((T)__builtin_nan("")), r);          \
        r = fl_sel_##S(x == (T)__builtin_inf(), x, r);                         \
        return fl_sel_##S(x != x, x, r);                                       \
    }

FL_DEFINE_LOGS(f64, double, vf64, vi64, 54, 0x1p-1022, 0x1p54, 54)
FL_DEFINE_LOGS(f32, float, vf32, vi32, 25, 0x1p-126f, 0x1p25f, 25)

/* ------------------------------------------------------------------ */
/* the logistic building block shared by every kernel                   */
/* ------------------------------------------------------------------ */

/*
 * For a vector x: e = exp(-|x|) in (0, 1], rp = 1 / (1 + e), and the two
 * sigmoids sp = s(x), sn = s(-x) = 1 - s(x) without any subtraction:
 * for x >= 0, s(x) = rp and s(-x) = e * rp; mirrored for x < 0.
 * NaN propagates into all of them; x = +-inf gives e = 0 and exact 0/1.
 */
#define FL_DEFINE_LOGISTIC(S, T, V, VI)                                        \
    typedef struct {                                                           \
        V e, rp, sp, sn;                                                       \
    } fl_logistic_##S;                                                         \
    FL_INLINE fl_logistic_##S fl_logistic_##S##_eval(V x)                      \
    {                                                                          \
        fl_logistic_##S r;                                                     \
        r.e = fl_exp_##S(-fl_abs_##S(x));                                      \
        r.rp = (T)1 / ((T)1 + r.e);                                                  \
        V small = r.e * r.rp;                                                  \
        VI neg = x < 0;                                                        \
        r.sp = fl_sel_##S(neg, small, r.rp);                                   \
        r.sn = fl_sel_##S(neg, r.rp, small);                                   \
        return r;                                                              \
    }

FL_DEFINE_LOGISTIC(f64, double, vf64, vi64)
FL_DEFINE_LOGISTIC(f32, float, vf32, vi32)
