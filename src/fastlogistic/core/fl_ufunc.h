/*
 * fl_ufunc.h -- plain-C helpers of the NumPy ufunc inner loops (_ufunc.pxi):
 * float16 <-> float32 conversion, the long double loops, the floating-point
 * status kept across a loop, and the per-thread thread count of
 * fastlogistic.use_threads().  No vector extensions: this compiles anywhere.
 */
#ifndef FL_UFUNC_H
#define FL_UFUNC_H

#include <fenv.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stddef.h>

#if defined(_MSC_VER)
#define FL_TLS __declspec(thread)
#else
#define FL_TLS _Thread_local
#endif

/* threads for calls made on this thread (0: the library default) */
static FL_TLS int fl_tls_threads = 0;
static int fl_get_tls_threads(void) { return fl_tls_threads; }
static void fl_set_tls_threads(int n) { fl_tls_threads = n; }

/*
 * The loops never raise floating-point exceptions: exp overflowing inside a
 * kernel, or log of a negative number giving logit's NaN, is the intended
 * result, and NumPy would turn the status flags into RuntimeWarnings (SciPy's
 * expit, log_expit and logit warn for none of these either).  The flags the
 * caller had before the loop are kept.
 */
typedef struct { fexcept_t flags; } fl_fpstate;
static void fl_fp_hold(fl_fpstate *s) { fegetexceptflag(&s->flags, FE_ALL_EXCEPT); }
static void fl_fp_release(const fl_fpstate *s) { fesetexceptflag(&s->flags, FE_ALL_EXCEPT); }

/* ---- IEEE binary16 <-> binary32 (exact one way, round-to-nearest-even the other) */

static float fl_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    float f;
    if (exp == 0x1fu) {                         /* inf, NaN (payload kept) */
        bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {                      /* normal */
        bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else if (man == 0) {                      /* +-0 */
        bits = sign;
    } else {                                    /* subnormal: normalise */
        uint32_t e = 113u;                      /* 127 - 15 + 1 */
        while (!(man & 0x400u)) {
            man <<= 1;
            e--;
        }
        bits = sign | (e << 23) | ((man & 0x3ffu) << 13);
    }
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint16_t fl_float_to_half(float f)
{
    uint32_t bits, sign, absb;
    memcpy(&bits, &f, sizeof bits);
    sign = (bits >> 16) & 0x8000u;
    absb = bits & 0x7fffffffu;
    if (absb >= 0x7f800000u) {                  /* inf or NaN */
        if (absb == 0x7f800000u)
            return (uint16_t)(sign | 0x7c00u);
        return (uint16_t)(sign | 0x7e00u | ((absb >> 13) & 0x3ffu));   /* quiet NaN */
    }
    if (absb >= 0x477ff000u)                    /* rounds to >= 65520: inf */
        return (uint16_t)(sign | 0x7c00u);
    if (absb >= 0x38800000u) {                  /* normal half: |f| >= 2^-14 */
        uint32_t m = absb - 0x38000000u;        /* rebias exponent 127 -> 15 */
        uint32_t r = m + 0xfffu + ((m >> 13) & 1u);   /* nearest, ties to even */
        return (uint16_t)(sign | (r >> 13));
    }
    if (absb < 0x33000000u)                     /* below half the least subnormal */
        return (uint16_t)sign;
    {                                           /* subnormal half */
        uint32_t e = absb >> 23;                /* 102 .. 112 */
        uint32_t man = (absb & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e;              /* 14 .. 24 */
        uint32_t q = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1u);
        uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
}

static void fl_half_load(const char *x, ptrdiff_t xs, float *dst, ptrdiff_t m)
{
    ptrdiff_t i;
    for (i = 0; i < m; i++) {
        uint16_t h;
        memcpy(&h, x + i * xs, 2);
        dst[i] = fl_half_to_float(h);
    }
}

static void fl_half_store(const float *src, char *y, ptrdiff_t ys, ptrdiff_t m)
{
    ptrdiff_t i;
    for (i = 0; i < m; i++) {
        uint16_t h = fl_float_to_half(src[i]);
        memcpy(y + i * ys, &h, 2);
    }
}

/* ---- long double: scalar libm, the same stable forms as the vector core */

static long double fl_ld_sigmoid(long double x)
{
    long double e;
    if (x >= 0)
        return 1.0L / (1.0L + expl(-x));
    e = expl(x);                                /* NaN stays NaN */
    return e / (1.0L + e);
}

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)) */
static long double fl_ld_softplus(long double x)
{
    return (x > 0 ? x : 0.0L) + log1pl(expl(-fabsl(x)));
}

static long double fl_ld_log_sigmoid(long double x) { return -fl_ld_softplus(-x); }

static long double fl_ld_sigmoid_grad(long double x)
{
    long double e = expl(-fabsl(x));
    return e / ((1.0L + e) * (1.0L + e));
}

/* near p = 1/2: d = 2p - 1 (exact), logit = log1p(d) - log1p(-d) */
static long double fl_ld_logit(long double p)
{
    long double d;
    if (p < 0 || p > 1)
        return (long double)NAN;
    if (p >= 0.25L && p <= 0.75L) {
        d = 2 * p - 1;
        return log1pl(d) - log1pl(-d);
    }
    return logl(p / (1 - p));
}

/* op numbers are those of fl_core.h */
static void fl_ld_unary(int op, const char *x, ptrdiff_t xs, char *y, ptrdiff_t ys,
                        ptrdiff_t n)
{
    ptrdiff_t i;
    for (i = 0; i < n; i++) {
        long double v, r;
        memcpy(&v, x + i * xs, sizeof v);
        switch (op) {
        case 0: r = fl_ld_sigmoid(v); break;
        case 1: r = fl_ld_log_sigmoid(v); break;
        case 2: r = fl_ld_softplus(v); break;
        case 3: r = fl_ld_sigmoid_grad(v); break;
        default: r = fl_ld_logit(v); break;
        }
        memcpy(y + i * ys, &r, sizeof r);
    }
}

#endif
