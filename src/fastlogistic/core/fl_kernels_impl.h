/*
 * fl_kernels_impl.h -- chunk kernels of the math core, written once for both
 * element types.  Included twice per ISA translation unit by fl_isa_body.h,
 * with FL_T = 64 and FL_T = 32.  Every kernel runs whole vectors, then the
 * tail through one padded vector, so each element gets the same arithmetic
 * wherever a chunk boundary falls.
 */

/*
 * e = exp(-|x|) by blocks.  Where a math vector is one native vector
 * (FL_EBLOCK set by the ISA file: AVX2 and "avx512-split"), the kernels
 * built on e compute it
 * for a block of FL_EBLOCK elements into a stack buffer first, then the rest
 * (log1p, reciprocal, loss, gradient) in a second loop.  One loop with both
 * is one long dependency chain per vector (exp, then a division, then a
 * polynomial: ~100 cycles against ~25 cycles of work at AVX2), and the
 * out-of-order scheduler fills with waiting instructions long before the
 * FMA ports do; two loops of half the chain each overlap more vectors (at
 * AVX2 every kernel built on e ran faster so).  With several native
 * vectors per math vector ("avx512-wide", SSE2) the pieces already overlap
 * and the second pass costs more than it gains (slower with AVX-512 on
 * Intel Cascade Lake), so FL_EBLOCK is 0 there and e is computed in the
 * same loop.  On AMD Zen 4, one zmm with blocks beats four without
 * (fl_isa_avx512s.c).  sigmoid's chain is shorter: by blocks it was
 * slower, so it has none.  Figures in docs/design-measurements.md.
 * The same arithmetic either way: the same values.
 */
#ifndef FL_EBLOCK
#define FL_EBLOCK 0
#endif
/* eb[0 .. n) = exp(-|x|), n <= FL_EBLOCK; a padded last vector */
FL_INLINE void FL_VFN(e_fill)(FL_REAL *eb, const FL_REAL *x, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i += FL_LANES) {
        FL_VEC vx = n - i < FL_LANES ? FL_VFN(fl_load_part)(x + i, n - i, (FL_REAL)0) : FL_VFN(fl_load)(x + i);
        FL_VFN(fl_store)(eb + i, FL_VFN(fl_exp_negabs)(vx));
    }
}
/* the same, and in eb[FL_EBLOCK ..) e's relative rounding term
   (fl_exp_negabs_rel) */
FL_INLINE void FL_VFN(e_fill_rel)(FL_REAL *eb, const FL_REAL *x, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i += FL_LANES) {
        FL_VEC vx = n - i < FL_LANES ? FL_VFN(fl_load_part)(x + i, n - i, (FL_REAL)0) : FL_VFN(fl_load)(x + i);
        FL_VEC rel;
        FL_VFN(fl_store)(eb + i, FL_VFN(fl_exp_negabs_rel)(vx, &rel));
        FL_VFN(fl_store)(eb + FL_EBLOCK + i, rel);
    }
}
/* e of the vector x at offset j of the block */
FL_INLINE FL_VEC FL_VFN(e_at)(const FL_REAL *eb, ptrdiff_t j, FL_VEC x)
{
    return FL_EBLOCK ? FL_VFN(fl_load)(eb + j) : FL_VFN(fl_exp_negabs)(x);
}
/* e and its relative term, from a block filled by e_fill_rel */
FL_INLINE FL_VEC FL_VFN(e_rel_at)(const FL_REAL *eb, ptrdiff_t j, FL_VEC x, FL_VEC *rel)
{
    if (!FL_EBLOCK)
        return FL_VFN(fl_exp_negabs_rel)(x, rel);
    *rel = FL_VFN(fl_load)(eb + FL_EBLOCK + j);
    return FL_VFN(fl_load)(eb + j);
}
/* run SPAN, a statement over the elements [i0, iend) of x that reads e
   through FL_VFN(e_at)(eb, i - i0, x), on all of [0, n): in one piece where
   FL_EBLOCK is 0 (the loop as if written alone), else block by block with
   eb filled first by FILL (e_fill; e_fill_rel, with PER = 2 blocks of
   buffer, for SPANs that read through e_rel_at) */
#define FL_BY_EBLOCKS_FILL(n, x, FILL, PER, SPAN)                              \
    do {                                                                       \
        if (!FL_EBLOCK) {                                                      \
            const FL_REAL *eb = NULL;                                                \
            const ptrdiff_t i0 = 0, iend = (n);                                \
            SPAN;                                                              \
        } else {                                                               \
            FL_REAL eb[FL_EBLOCK ? (PER) * FL_EBLOCK : 1] __attribute__((aligned(FL_NB))); \
            for (ptrdiff_t i0 = 0; i0 < (n); i0 += FL_EBLOCK) {               \
                const ptrdiff_t iend = (n) - i0 < FL_EBLOCK ? (n) : i0 + FL_EBLOCK; \
                FL_VFN(FILL)(eb, (x) + i0, iend - i0);                             \
                SPAN;                                                          \
            }                                                                  \
        }                                                                      \
    } while (0)
#define FL_BY_EBLOCKS(n, x, SPAN) FL_BY_EBLOCKS_FILL(n, x, e_fill, 1, SPAN)

/* ---------------- elementwise functions of one vector ---------------- */


/* the kernels below built on e = exp(-|x|) take it as an argument */
/*
 * s(x) s(-x) = e / (1 + e)^2 (the pair {s(x), s(-x)} is {e rp, rp} whatever
 * the sign of x: no select), rounded once.  (e rp) rp rounds e, rp and two
 * products: up to 2.5 ULP.  Here, with y ~ 1/(1 + e) (FL_RECIP_Y0: 14 bits
 * float32, 28 float64 at AVX-512; a division below) and its residual
 * r = 1 - (1 + e) y = ((1 - y) - a) - al (1 - y exact by Sterbenz, the
 * next difference within a rounding of a value below |r| + |al|), so that
 * 1/(1 + e) = y (1 + r + r^2 + ...), and with e's own rounding as the
 * relative term rel (fl_exp_negabs_rel; d ln g / d ln e = (1 - e)/(1 + e)
 * = 1 - 2 e y to first order):
 *   g = e y^2 (1 + w),  w = 2 r + 3 r^2 + rel (1 - 2 e y),
 * where e y y = b + bl + al y exactly (a = e y, b = a y, their errors al
 * and bl exact at every level: fl_prod_err).  The result is
 * b + (b w + bl + al y), one rounding; the terms left out are below 2^-2p
 * relative (4 r^3: 2^-40 float32, 2^-79 float64).  Within 2^p of the
 * smallest normal (|x| > ~69 float32, ~670 float64) b w is subnormal and
 * rounded on its own, by at most 2^-k ULP of a result k binades up: 0.75
 * ULP with the last rounding at most (measured: 0.84 float32 on every
 * float, 0.86 float64 on 4e6 points; elsewhere 0.6).  Carrying it scaled
 * cost two more operations for 0.05 ULP.
 */
FL_INLINE FL_VEC FL_VFN(v_sigmoid_grad)(FL_VEC e, FL_VEC rel)
{
    FL_VEC one = FL_VFN(fl_splat)((FL_REAL)1);
    FL_VEC y = FL_TC(FL_RECIP_Y0)(one + e);
    FL_VEC a = e * y;
    FL_VEC al = FL_VFN(fl_prod_err)(e, y, a);
    FL_VEC r = ((one - y) - a) - al;
    FL_VEC b = a * y;
    FL_VEC bl = FL_VFN(fl_prod_err)(a, y, b);
    FL_VEC w = FL_VFN(fl_fma)(rel, FL_VFN(fl_fma)(FL_VFN(fl_splat)((FL_REAL)-2), a, one),
                              r * FL_VFN(fl_fma)(r, FL_VFN(fl_splat)((FL_REAL)3), FL_VFN(fl_splat)((FL_REAL)2)));
    FL_VEC g = b + FL_VFN(fl_fma)(b, w, FL_VFN(fl_fma)(al, y, bl));
#if FL_X86_LEVEL < 2
    /* NaN in: e's NaN out.  Below AVX2 the compiler's choice of operand
       order and contraction, which can differ between two inlined copies
       of this code (a loop and its tail), picks among NaNs of either sign
       (aarch64: an element's NaN depended on its position) */
    g = FL_VFN(fl_sel)(FL_VFN(fl_ne)(e, e), e, g);
#endif
    return g;
}

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)) */
FL_INLINE FL_VEC FL_VFN(v_softplus)(FL_VEC x, FL_VEC e)
{
    return FL_VFN(fl_pos)(x) + FL_VFN(fl_log1p_unit)(e);
}

/* log_sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|)) */
FL_INLINE FL_VEC FL_VFN(v_log_sigmoid)(FL_VEC x, FL_VEC e)
{
    return -FL_VFN(fl_neg_part)(x) - FL_VFN(fl_log1p_unit)(e);
}

/*
 * logit(p) = log(p / (1 - p)), two logs for every lane whichever form it
 * takes.  Near p = 1/2 (mid: 1/4 <= p <= 3/4) the quotient loses the digits
 * of a result near 0, so there d = 2p - 1 and 2p are exact and
 * logit = log(2p) - log1p(-d), two terms of opposite signs (no
 * cancellation); elsewhere log(p / (1 - p)) - log1p(0).  Out of [0, 1] the
 * quotient is negative or NaN, so the log gives NaN with no select of its
 * own; p = 0 and 1 give -inf and +inf.
 */
FL_INLINE void FL_VFN(logit_args)(FL_VEC p, FL_VEC *a, FL_VEC *b)
{
    FL_VEC one = FL_VFN(fl_splat)((FL_REAL)1);
    FL_IVEC mid = FL_VFN(fl_ge)(p, FL_VFN(fl_splat)((FL_REAL)0.25)) & FL_VFN(fl_le)(p, FL_VFN(fl_splat)((FL_REAL)0.75));
    FL_VEC d = (p + p) - one;
    *a = FL_VFN(fl_sel)(mid, p + p, p / (one - p));
    *b = FL_VFN(fl_sel)(mid, -d, FL_VFN(fl_splat)((FL_REAL)0));
}
FL_INLINE FL_VEC FL_VFN(v_logit_any)(FL_VEC p)
{
    FL_VEC a, b;
    FL_VFN(logit_args)(p, &a, &b);
    return FL_VFN(fl_log)(a) - FL_VFN(fl_log1p)(b);
}
/* the same for p in [smallest normal, 1) in every lane, with the special
   cases of fl_log and fl_log1p left out: a is then positive, normal and
   finite, u = 1 + b is in [1/2, 3/2], exact where fl_split gives k = -1,
   at k = 0 f = b exactly, and at k = 1 (u >= sqrt(2): p <= 0.293) the
   rounding error of u, b - (u - 1) (exact), enters as c = err / u, here
   err times a constant within 3 % of 1/u: c is below 2^-53 relative to
   the result, so that error is a few hundredths of an ULP */
FL_INLINE FL_VEC FL_VFN(v_logit_inrange)(FL_VEC p)
{
    FL_VEC a, b, fa, fb;
    FL_VFN(logit_args)(p, &a, &b);
    FL_VEC u = (FL_REAL)1 + b;
    FL_IVEC ka = FL_VFN(fl_split)(a, &fa);
    FL_IVEC kb = FL_VFN(fl_split)(u, &fb);
    FL_VEC zero = FL_VFN(fl_splat)((FL_REAL)0);
    FL_VEC c = FL_VFN(fl_sel)(kb > 0, (b - (u - (FL_REAL)1)) * (FL_REAL)0.6863, zero);
    fb = FL_VFN(fl_sel)(kb == 0, b, fb);
    return FL_VFN(fl_logcore)(fa, FL_VFN(fl_i2f)(ka), zero) - FL_VFN(fl_logcore)(fb, FL_VFN(fl_i2f)(kb), c);
}
/* p in [smallest normal, 1), lane by lane */
FL_INLINE FL_IVEC FL_VFN(logit_in)(FL_VEC p)
{
    return FL_VFN(fl_ge)(p, FL_VFN(fl_splat)(FL_T == 64 ? 0x1p-1022 : 0x1p-126f)) &
           FL_VFN(fl_lt)(p, FL_VFN(fl_splat)((FL_REAL)1));
}
/* a vector with a lane out of that range: those lanes by v_logit_any, the
   others by v_logit_inrange as in the loop, so that each element gets the
   same value whatever its neighbours */
FL_INLINE FL_VEC FL_VFN(v_logit)(FL_VEC p)
{
    FL_IVEC in = FL_VFN(logit_in)(p);
    FL_VEC r = FL_VFN(v_logit_inrange)(FL_VFN(fl_sel)(in, p, FL_VFN(fl_splat)((FL_REAL)0.5)));
    return FL_VFN(fl_sel)(in, r, FL_VFN(v_logit_any)(p));
}

/*
 * Every elementwise kernel is a loop FL_KERNEL(name_run)(x, y, n, st), compiled once
 * plain (st = 0) and once for data bigger than the caches (st = 1: input
 * prefetched ahead, output streamed; see fl_vec.h), and an entry point that
 * takes the second where the caller asks for it: the elements before y
 * reaches vector alignment go the plain way, the rest streamed.
 * Elementwise, so the split changes no result.
 */
#define FL_UNARY_ENTRY(name)                                                   \
    static void FL_VFN(name##_plain)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n)                \
    {                                                                          \
        FL_VFN(name##_run)(x, y, n, 0);                                            \
    }                                                                          \
    static void FL_VFN(name##_streamed)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n)             \
    {                                                                          \
        FL_VFN(name##_run)(x, y, n, 1);                                            \
        fl_stream_fence();                                                     \
    }                                                                          \
    static void FL_KERNEL(name)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n, int stream)            \
    {                                                                          \
        ptrdiff_t h = stream ? fl_stream_head(y, sizeof(FL_REAL)) : -1;              \
        if (h < 0 || n - h < FL_LANES) {                                              \
            FL_VFN(name##_plain)(x, y, n);                                         \
            return;                                                            \
        }                                                                      \
        if (h > 0)                                                             \
            FL_VFN(name##_plain)(x, y, h);                                         \
        FL_VFN(name##_streamed)(x + h, y + h, n - h);                              \
    }

/* the loop of a kernel over elements [i0, iend): VAL(name, a, j) is its value
   for the vector a at offset j of the span (eb: see FL_BY_EBLOCKS) */
#define FL_UNARY_SPAN(name, VAL)                                               \
    FL_INLINE void FL_VFN(name##_span)(const FL_REAL *x, FL_REAL *y, ptrdiff_t i0, ptrdiff_t iend, \
                                   const FL_REAL *eb, int st)                        \
    {                                                                          \
        (void)eb;                                                              \
        ptrdiff_t i = i0;                                                      \
        for (; i + FL_LANES <= iend; i += FL_LANES) {                                        \
            if (st)                                                            \
                fl_prefetch_ahead(x + i, sizeof(FL_REAL) * FL_LANES);                       \
            FL_VEC a = FL_VFN(fl_load)(x + i);                                          \
            FL_VFN(fl_put)(y + i, VAL(name, a, i - i0), st);                       \
        }                                                                      \
        for (; i < iend; i += FL_LANES) {                                             \
            ptrdiff_t m = iend - i < FL_LANES ? iend - i : FL_LANES;                         \
            FL_VEC a = FL_VFN(fl_load_part)(x + i, m, (FL_REAL)0);                            \
            FL_VFN(fl_store_part)(y + i, VAL(name, a, i - i0), m);                 \
        }                                                                      \
    }
#define FL_VAL_X(name, a, j) FL_VFN(v_##name)(a)
#define FL_VAL_E(name, a, j) FL_VFN(v_##name)(a, FL_VFN(e_at)(eb, j, a))

/* a kernel v_name(x) */
#define FL_UNARY_KERNEL(name)                                                  \
    FL_UNARY_SPAN(name, FL_VAL_X)                                              \
    FL_INLINE void FL_VFN(name##_run)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n, int st)       \
    {                                                                          \
        FL_VFN(name##_span)(x, y, 0, n, NULL, st);                                 \
    }                                                                          \
    FL_UNARY_ENTRY(name)

/* a kernel v_name(x, e) of x and e = exp(-|x|), by blocks */
#define FL_UNARY_KERNEL_E(name)                                                \
    FL_UNARY_SPAN(name, FL_VAL_E)                                              \
    FL_INLINE void FL_VFN(name##_run)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n, int st)       \
    {                                                                          \
        FL_BY_EBLOCKS(n, x, FL_VFN(name##_span)(x, y, i0, iend, eb, st));          \
    }                                                                          \
    FL_UNARY_ENTRY(name)

/* sigmoid: the fast form, and for the rare vector with a |x| beyond
   FL_SIGMOID_FAR or a NaN, out of line so that its code does not crowd the
   registers of the loop, the signed form on those lanes and the fast form on
   the others: each element gets the same value whatever its neighbours */
static __attribute__((noinline, cold)) void FL_VFN(sigmoid_far)(const FL_REAL *x, FL_REAL *y, ptrdiff_t m, int st)
{
    FL_VEC a = m == FL_LANES ? FL_VFN(fl_load)(x) : FL_VFN(fl_load_part)(x, m, (FL_REAL)0);
    FL_IVEC near = FL_VFN(fl_le)(FL_VFN(fl_abs)(a), FL_VFN(fl_splat)(FL_TC(FL_SIGMOID_FAR)));
    FL_VEC fast = FL_VFN(fl_sigmoid)(FL_VFN(fl_sel)(near, a, FL_VFN(fl_splat)((FL_REAL)0)));
    FL_VEC r = FL_VFN(fl_sel)(near, fast, FL_VFN(fl_sigmoid_signed)(a));
    if (m == FL_LANES)
        FL_VFN(fl_put)(y, r, st);
    else
        FL_VFN(fl_store_part)(y, r, m);
}

/* vectors per iteration of the sigmoid loop where a math vector is one
   native vector (FL_NV == 1): 2 by default (AVX2, where 4 was no faster);
   "avx512-split" sets 4 (faster for float32 on Zen 4, float64 unchanged;
   docs/design-measurements.md) */
#ifndef FL_SIGMOID_K
#define FL_SIGMOID_K 2
#endif
/* elements per scan of the sigmoid loop (FL_NV == 1) */
#define FL_SIGMOID_SCAN 1024
/* n (a multiple of FL_LANES) elements, each vector checked for a far lane */
FL_INLINE void FL_VFN(sigmoid_each)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n, int st)
{
    for (ptrdiff_t i = 0; i < n; i += FL_LANES) {
        if (st)
            fl_prefetch_ahead(x + i, sizeof(FL_REAL) * FL_LANES);
        FL_VEC a = FL_VFN(fl_load)(x + i);
        if (__builtin_expect(FL_VFN(fl_sigmoid_far)(a), 0))
            FL_VFN(sigmoid_far)(x + i, y + i, FL_LANES, st);
        else
            FL_VFN(fl_put)(y + i, FL_VFN(fl_sigmoid)(a), st);
    }
}
#if FL_NV == 1
/* the rare scan with a far lane */
static __attribute__((noinline, cold)) void FL_VFN(sigmoid_checked)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n, int st)
{
    FL_VFN(sigmoid_each)(x, y, n, st);
}
#endif
FL_INLINE void FL_VFN(sigmoid_run)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n, int st)
{
    ptrdiff_t i = 0;
#if FL_NV == 1
    /* one native vector: by scans of FL_SIGMOID_SCAN elements, first read
       for the largest |x| (fl_absmax: two integer operations a vector),
       then, with no far lane, computed FL_SIGMOID_K vectors an iteration
       with no test and no call in the loop.  A compare, mask move and
       branch per vector instead were slower (float32 and float64, Zen 4;
       docs/design-measurements.md), and a cold call in the loop made GCC
       reload constants from memory every iteration.  The scan reads x
       before y is written: out= x is safe. */
    const ptrdiff_t G = FL_SIGMOID_K * FL_LANES;
    while (i + G <= n) {
        ptrdiff_t m = n - i < FL_SIGMOID_SCAN ? (n - i) / G * G : FL_SIGMOID_SCAN;
        FL_IVEC mx[FL_SIGMOID_K] = {{0}};
        for (ptrdiff_t j = i; j < i + m; j += G) {
            if (st)
                fl_prefetch_ahead(x + j, sizeof(FL_REAL) * G);
            for (int k = 0; k < FL_SIGMOID_K; k++)
                mx[k] = FL_VFN(fl_absmax)(mx[k], FL_VFN(fl_load)(x + j + k * FL_LANES));
        }
        for (int k = 1; k < FL_SIGMOID_K; k++)
            mx[0] = FL_VFN(fl_absmax)(mx[0], (FL_VEC)mx[k]);
        if (__builtin_expect(FL_VFN(fl_above)((FL_VEC)mx[0], FL_TC(FL_SIGMOID_FAR)), 0)) {
            FL_VFN(sigmoid_checked)(x + i, y + i, m, st);
        } else {
            /* fl_sigmoid's two halves, software-pipelined by one group:
               vector by vector, E = exp(-x) of the next group is issued
               next to 1 / (1 + E) of this one, whose E was computed an
               iteration earlier.  In program order the halves of one
               vector form a chain of ~65 cycles of latency, and the
               out-of-order window filled up with its waiting operations.
               Pipelined, both types ran faster at avx512-split and at AVX2
               (docs/design-measurements.md).  Same operations per
               element, same bits.  Deeper pipelines (exp split in two,
               or the division a stage of its own) gained less. */
            FL_VEC E[FL_SIGMOID_K];
            for (int k = 0; k < FL_SIGMOID_K; k++)
                E[k] = FL_VFN(fl_exp_normal)(-FL_VFN(fl_load)(x + i + k * FL_LANES));
            ptrdiff_t j = i;
            for (; j + G < i + m; j += G) {
                for (int k = 0; k < FL_SIGMOID_K; k++) {
                    FL_VEC En = FL_VFN(fl_exp_normal)(-FL_VFN(fl_load)(x + j + G + k * FL_LANES));
                    FL_VFN(fl_put)(y + j + k * FL_LANES, FL_VFN(fl_recip1p)(E[k]), st);
                    E[k] = En;
                }
            }
            for (int k = 0; k < FL_SIGMOID_K; k++)
                FL_VFN(fl_put)(y + j + k * FL_LANES, FL_VFN(fl_recip1p)(E[k]), st);
        }
        i += m;
    }
#endif
    ptrdiff_t whole = (n - i) / FL_LANES * FL_LANES;
    FL_VFN(sigmoid_each)(x + i, y + i, whole, st);
    i += whole;
    if (i < n) {
        FL_VEC a = FL_VFN(fl_load_part)(x + i, n - i, (FL_REAL)0);
        if (FL_VFN(fl_sigmoid_far)(a))
            FL_VFN(sigmoid_far)(x + i, y + i, n - i, 0);
        else
            FL_VFN(fl_store_part)(y + i, FL_VFN(fl_sigmoid)(a), n - i);
    }
}
FL_UNARY_ENTRY(sigmoid)
FL_UNARY_KERNEL_E(log_sigmoid)
FL_UNARY_KERNEL_E(softplus)
/* sigmoid_grad: v_sigmoid_grad(e, rel), e and rel by blocks */
FL_INLINE FL_VEC FL_VFN(sigmoid_grad_at)(const FL_REAL *eb, ptrdiff_t j, FL_VEC a)
{
    FL_VEC rel;
    FL_VEC e = FL_VFN(e_rel_at)(eb, j, a, &rel);
    return FL_VFN(v_sigmoid_grad)(e, rel);
}
#define FL_VAL_EREL(name, a, j) FL_VFN(name##_at)(eb, j, a)
FL_UNARY_SPAN(sigmoid_grad, FL_VAL_EREL)
FL_INLINE void FL_VFN(sigmoid_grad_run)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n, int st)
{
    FL_BY_EBLOCKS_FILL(n, x, e_fill_rel, 2, FL_VFN(sigmoid_grad_span)(x, y, i0, iend, eb, st));
}
FL_UNARY_ENTRY(sigmoid_grad)
/* logit: by scans of FL_LOGIT_SCAN elements, first read for a lane out of
   [smallest normal, 1) (an OR of masks), then with none the short form with
   no test in the loop, else each vector by v_logit (the same values on the
   lanes in range).  A test and branch to the general form per vector made
   GCC reload the loop's constants from memory every iteration. */
#define FL_LOGIT_SCAN 1024
FL_UNARY_SPAN(logit, FL_VAL_X)
FL_INLINE void FL_VFN(logit_run)(const FL_REAL *x, FL_REAL *y, ptrdiff_t n, int st)
{
    ptrdiff_t i = 0;
    while (i + FL_LANES <= n) {
        ptrdiff_t m = n - i < FL_LOGIT_SCAN ? (n - i) / FL_LANES * FL_LANES : FL_LOGIT_SCAN;
        FL_IVEC in = ~(FL_IVEC){0};
        for (ptrdiff_t j = i; j < i + m; j += FL_LANES)
            in &= FL_VFN(logit_in)(FL_VFN(fl_load)(x + j));
        if (__builtin_expect(FL_VFN(fl_any)(~in), 0)) {
            FL_VFN(logit_span)(x, y, i, i + m, NULL, st);
        } else {
            for (ptrdiff_t j = i; j < i + m; j += FL_LANES) {
                if (st)
                    fl_prefetch_ahead(x + j, sizeof(FL_REAL) * FL_LANES);
                FL_VFN(fl_put)(y + j, FL_VFN(v_logit_inrange)(FL_VFN(fl_load)(x + j)), st);
            }
        }
        i += m;
    }
    FL_VFN(logit_span)(x, y, i, n, NULL, st);
}
FL_UNARY_ENTRY(logit)

/* ---------------- binary cross-entropy with logits -------------------- */

/*
 * loss = w (pw t softplus(-x) + (1 - t) softplus(x))   (no cancellation)
 *      with softplus(+-x) = max(+-x, 0) + log1p(exp(-|x|)), one exp and one log1p
 * grad = w ((1 - t) s(x) - pw t s(-x))                  (= w (s(x)(pw t + 1 - t) - pw t))
 * hess = w (pw t + 1 - t) s(x) s(-x)
 * A zero coefficient gives a zero term even where softplus is +inf, so the
 * limits at x = +-inf are exact.
 */
FL_INLINE FL_VEC FL_VFN(v_bcel_loss)(FL_VEC x, FL_VEC a, FL_VEC b, FL_VEC e)
{
    FL_VEC l1p = FL_VFN(fl_log1p_unit)(e);
    FL_VEC la = FL_VFN(fl_mulnz)(a, FL_VFN(fl_neg_part)(x) + l1p);
    FL_VEC lb = FL_VFN(fl_mulnz)(b, FL_VFN(fl_pos)(x) + l1p);
    return la + lb;
}

/*
 * The same loss without pos_weight (a = t, b = 1 - t), in fewer operations:
 * t softplus(-x) + (1 - t) softplus(x) = max(x, 0) - t x + log1p(e)
 *                                      = max((1 - t) x, -(t x)) + log1p(e),
 * an identity for every real t.  Each product is rounded once and the max
 * takes one of them whole, so nothing cancels (with t in [0, 1] both terms
 * are non-negative).  Equal to the form above to rounding wherever x and t
 * are finite; where it is not finite (x = +-inf, where a product is 0 * inf,
 * or t = +-inf), the kernels take the form above instead (see v_bcel).
 */
/* max((1 - t) x, -(t x)), with 0 - t x: one FMA-unit operation (vfnmadd)
   where -(t x) is a multiply and a sign flip; it differs only in giving +0
   for -(+0), and a zero max is followed by + log1p(e) > 0 (e = 0 only for
   |x| past ~745, where b x or t x is not zero) */
FL_INLINE FL_VEC FL_VFN(v_bcel_max_t)(FL_VEC x, FL_VEC b, FL_VEC t) { return FL_VFN(fl_maxv)(b * x, (FL_REAL)0 - t * x); }
FL_INLINE FL_VEC FL_VFN(v_bcel_loss_t)(FL_VEC x, FL_VEC b, FL_VEC t, FL_VEC e)
{
    return FL_VFN(v_bcel_max_t)(x, b, t) + FL_VFN(fl_log1p_unit)(e);
}

#ifndef FL_BCEL_WANT
#define FL_BCEL_WANT
enum { BCEL_LOSS = 1, BCEL_GRAD = 2, BCEL_HESS = 4 };
#endif

/* one vector; `want` (BCEL_* bits) is a constant at each call site, so each
   loop computes only what it stores: no sigmoid or division for the loss
   alone, no log1p for the gradient alone.  Without pos_weight the loss
   takes the short form (v_bcel_loss_t); with `check`, in the rare vector
   where a lane of it is not finite, those lanes take the two-term form: a
   choice made by each lane's own value, so an element's loss does not
   depend on its neighbours. */
FL_INLINE void FL_VFN(v_bcel)(FL_VEC x, FL_VEC e, FL_VEC t, FL_VEC w, FL_VEC pw, int has_w, int has_pw, int want,
                          int check, int prod, FL_VEC *loss, FL_VEC *grad, FL_VEC *hess)
{
    FL_VEC a = has_pw ? pw * t : t;
    FL_VEC b = (FL_REAL)1 - t;
    FL_VEC l = x, gr = x, h = x;
    if (want & BCEL_LOSS) {
        if (prod) {
            l = FL_VFN(v_bcel_max_t)(x, b, t); /* + log1p(e): see bcel_span */
        } else if (has_pw) {
            l = FL_VFN(v_bcel_loss)(x, a, b, e);
        } else {
            l = FL_VFN(v_bcel_loss_t)(x, b, t, e);
            if (check) {
                FL_IVEC bad = FL_VFN(fl_ne)(l - l, FL_VFN(fl_splat)((FL_REAL)0)); /* +-inf or NaN */
                if (__builtin_expect(FL_VFN(fl_any)(bad), 0))
                    l = FL_VFN(fl_sel)(bad, FL_VFN(v_bcel_loss)(x, a, b, e), l);
            }
        }
    }
    if (want & (BCEL_GRAD | BCEL_HESS)) {
        /* b s(x) - a s(-x) = rp (b - a e) for x >= 0, rp (b e - a) for x < 0:
           one select, and for soft targets two roundings fewer than the
           products of the two sigmoids; for t = 0 or 1 the same bits */
        FL_VEC rp = FL_VFN(fl_recip1pe)(e);
        gr = rp * FL_VFN(fl_sel_neg)(x, b * e - a, b - a * e);
        if (want & BCEL_HESS)
            h = (a + b) * ((e * rp) * rp); /* s(x) s(-x), rounded as products (v_sigmoid_grad rounds once) */
    }
    if (has_w) {
        l = l * w;
        gr = gr * w;
        h = h * w;
    }
    *loss = l;
    *grad = gr;
    *hess = h;
}

/*
 * `prod` (a summed loss without weight or pos_weight, in the lazy mode of
 * bcel_body): the span's sum of log1p(e) is log1p(Q) with
 * 1 + Q = prod (1 + e), Q kept lane by lane in float64 as Q + e + Q e (one
 * add, one FMA: no rounding of 1 + Q, so tiny e count in full; float32 e
 * widened, its two halves in two Q), where a log1p per element took about
 * 25 operations (float64) or 15 (float32).  Error of a lane's sum: a few
 * units of m 2^-53 relative for m elements per lane (32 in a 256-element
 * block of 8 lanes), the order of the summation's own.  A Q that overflows
 * (every e near 1 over more than ~1000 elements a lane) makes the sum inf,
 * and the span runs again per element.
 */
FL_INLINE void FL_VFN(prod_acc)(vf64 *q, vf64 *q2, FL_VEC e)
{
#if FL_T == 64
    (void)q2;
    *q = (*q + e) + *q * e;
#else
    vf64 a, b;
    fl_widen_f32(e, &a, &b);
    *q = (*q + a) + *q * a;
    *q2 = (*q2 + b) + *q2 * b;
#endif
}
FL_INLINE vf64 FL_VFN(bcel_span)(const FL_REAL *x, const FL_REAL *t, const FL_REAL *w, const FL_REAL *pw, FL_REAL *loss,
                              FL_REAL *grad, FL_REAL *hess, FL_REAL gs, ptrdiff_t i0, ptrdiff_t iend,
                              const FL_REAL *eb, vf64 acc, int want, int check, int prod,
                              int pf, int st)
{
    const int has_w = w != NULL, has_pw = pw != NULL;
    FL_VEC one = FL_VFN(fl_splat)((FL_REAL)1);
    vf64 q = fl_splat_f64(0.0), q2 = q, msum = q;
    for (ptrdiff_t i = i0; i < iend; i += FL_LANES) {
        ptrdiff_t m = iend - i < FL_LANES ? iend - i : FL_LANES;
        FL_VEC vx, vt, vw = one, vp = one, l, g, h;
        if (m == FL_LANES) {
            if (pf) {
                fl_prefetch_ahead(x + i, sizeof(FL_REAL) * FL_LANES);
                fl_prefetch_ahead(t + i, sizeof(FL_REAL) * FL_LANES);
                if (has_w) fl_prefetch_ahead(w + i, sizeof(FL_REAL) * FL_LANES);
                if (has_pw) fl_prefetch_ahead(pw + i, sizeof(FL_REAL) * FL_LANES);
            }
            vx = FL_VFN(fl_load)(x + i);
            vt = FL_VFN(fl_load)(t + i);
            if (has_w) vw = FL_VFN(fl_load)(w + i);
            if (has_pw) vp = FL_VFN(fl_load)(pw + i);
        } else {
            vx = FL_VFN(fl_load_part)(x + i, m, 0);
            vt = FL_VFN(fl_load_part)(t + i, m, 0);
            if (has_w) vw = FL_VFN(fl_load_part)(w + i, m, 1);
            if (has_pw) vp = FL_VFN(fl_load_part)(pw + i, m, 1);
        }
        FL_VEC e = FL_VFN(e_at)(eb, i - i0, vx);
        FL_VFN(v_bcel)(vx, e, vt, vw, vp, has_w, has_pw, want, check, prod, &l, &g, &h);
        if (m == FL_LANES) {
            if ((want & BCEL_LOSS) && loss) FL_VFN(fl_put)(loss + i, l, st);
            if (want & BCEL_GRAD) FL_VFN(fl_put)(grad + i, g * gs, st);
            if (want & BCEL_HESS) FL_VFN(fl_put)(hess + i, h * gs, st);
        } else {
            FL_IVEC keep = FL_VFN(fl_lanes_below)(m);
            l = FL_VFN(fl_sel)(keep, l, FL_VFN(fl_splat)((FL_REAL)0));
            e = FL_VFN(fl_sel)(keep, e, FL_VFN(fl_splat)((FL_REAL)0));
            if ((want & BCEL_LOSS) && loss) FL_VFN(fl_store_part)(loss + i, l, m);
            if (want & BCEL_GRAD) FL_VFN(fl_store_part)(grad + i, g * gs, m);
            if (want & BCEL_HESS) FL_VFN(fl_store_part)(hess + i, h * gs, m);
        }
        if (want & BCEL_LOSS) {
            if (prod) {
                msum = FL_VFN(fl_acc)(msum, l);
                FL_VFN(prod_acc)(&q, &q2, e);
            } else {
                acc = FL_VFN(fl_acc)(acc, l);
            }
        }
    }
    if (prod && (want & BCEL_LOSS))
        acc = acc + (msum + (fl_log1p_f64(q) + fl_log1p_f64(q2)));
    return acc;
}

/*
 * The loop over a chunk.  `lazy` (see FL_KERNEL(bcel)): the loss is summed, not
 * stored, and no output is an input; then the vectors skip v_bcel's check
 * and a span whose sum comes out non-finite runs again with it (nothing it
 * reads has been overwritten): the same values, at no cost per vector.
 */
FL_INLINE double FL_VFN(bcel_body)(const FL_REAL *x, const FL_REAL *t, const FL_REAL *w, const FL_REAL *pw, FL_REAL *loss,
                               FL_REAL *grad, FL_REAL *hess, double gscale, ptrdiff_t n, int want,
                               int lazy, int pf, int st)
{
    vf64 acc = fl_splat_f64(0.0);
    FL_BY_EBLOCKS(n, x, {
        vf64 a;
        if (lazy && !w) /* (lazy: no pos_weight) */
            a = FL_VFN(bcel_span)(x, t, NULL, NULL, loss, grad, hess, (FL_REAL)gscale, i0, iend, eb, acc,
                              want, 0, 1, pf, st);
        else
            a = FL_VFN(bcel_span)(x, t, w, pw, loss, grad, hess, (FL_REAL)gscale, i0, iend, eb, acc,
                              want, !lazy, 0, pf, st);
        if (lazy && __builtin_expect(fl_any_f64(fl_ne_f64(a - a, fl_splat_f64(0.0))), 0))
            a = FL_VFN(bcel_span)(x, t, w, pw, loss, grad, hess, (FL_REAL)gscale, i0, iend, eb, acc,
                              want, 1, 0, 0, st);
        acc = a;
    });
    return fl_hsum_f64(acc);
}

/* one specialised loop per combination the API asks for, in three forms:
   plain, big (inputs prefetched) and big with outputs streamed */
#define FL_BCEL_CASES(PF, ST)                                                  \
    switch (want) {                                                            \
    case BCEL_GRAD | BCEL_HESS:                                                \
        return FL_VFN(bcel_body)(x, t, w, pw, NULL, grad, hess, gscale, n,         \
                             BCEL_GRAD | BCEL_HESS, lazy, PF, ST);                   \
    case BCEL_GRAD:                                                            \
        return FL_VFN(bcel_body)(x, t, w, pw, NULL, grad, NULL, gscale, n,         \
                             BCEL_GRAD, lazy, PF, ST);                               \
    case BCEL_LOSS | BCEL_GRAD:                                                \
        return FL_VFN(bcel_body)(x, t, w, pw, loss, grad, NULL, gscale, n,         \
                             BCEL_LOSS | BCEL_GRAD, lazy, PF, ST);                   \
    case BCEL_LOSS | BCEL_GRAD | BCEL_HESS:                                    \
        return FL_VFN(bcel_body)(x, t, w, pw, loss, grad, hess, gscale, n,         \
                             BCEL_LOSS | BCEL_GRAD | BCEL_HESS, lazy, PF, ST);       \
    default:                                                                   \
        return FL_VFN(bcel_body)(x, t, w, pw, loss, NULL, NULL, gscale, n,         \
                             BCEL_LOSS, lazy, PF, ST);                               \
    }
#define FL_BCEL_FORM(form, PF, ST)                                             \
    static double FL_VFN(bcel_##form)(const FL_REAL *x, const FL_REAL *t, const FL_REAL *w, const FL_REAL *pw, \
                                  FL_REAL *loss, FL_REAL *grad, FL_REAL *hess, double gscale,    \
                                  ptrdiff_t n, int want, int lazy)             \
    {                                                                          \
        FL_BCEL_CASES(PF, ST)                                                  \
    }
FL_BCEL_FORM(plain, 0, 0)
FL_BCEL_FORM(big, 1, 0)
FL_BCEL_FORM(streamed, 1, 1)

/*
 * Which form a kernel with outputs runs: 0 plain, 1 big (inputs prefetched),
 * 2 big with the outputs streamed.  Streamed only where every present output
 * starts on a vector boundary: the loop is never split, so a loss sum adds
 * the same values in the same lanes whatever the form.
 */
#ifndef FL_FORMS
#define FL_FORMS
enum { FL_FORM_PLAIN = 0, FL_FORM_BIG = 1, FL_FORM_STREAMED = 2 };
#endif
FL_INLINE int FL_VFN(out_aligned)(const FL_REAL *p) { return p == NULL || fl_stream_head(p, sizeof(FL_REAL)) == 0; }
FL_INLINE int FL_VFN(form)(int stream, const FL_REAL *o0, const FL_REAL *o1, const FL_REAL *o2)
{
    if (!stream)
        return FL_FORM_PLAIN;
    if ((o0 || o1 || o2) && FL_VFN(out_aligned)(o0) && FL_VFN(out_aligned)(o1) && FL_VFN(out_aligned)(o2))
        return FL_FORM_STREAMED;
    return FL_FORM_BIG;
}

/* call the form's loop (name##_plain / _big / _streamed, each returning the
   loss sum) and fence the streamed stores before returning */
#define FL_RUN_FORM(form, name, ...)                                           \
    do {                                                                       \
        double s_;                                                             \
        switch (form) {                                                        \
        case FL_FORM_STREAMED:                                                 \
            s_ = FL_VFN(name##_streamed)(__VA_ARGS__);                             \
            fl_stream_fence();                                                 \
            return s_;                                                         \
        case FL_FORM_BIG:                                                      \
            return FL_VFN(name##_big)(__VA_ARGS__);                                \
        default:                                                               \
            return FL_VFN(name##_plain)(__VA_ARGS__);                              \
        }                                                                      \
    } while (0)

static double FL_KERNEL(bcel)(const FL_REAL *x, const FL_REAL *t, const FL_REAL *w, const FL_REAL *pw, FL_REAL *loss,
                       FL_REAL *grad, FL_REAL *hess, double gscale, ptrdiff_t n, int want_sum, int stream)
{
    int want = (loss != NULL || want_sum ? BCEL_LOSS : 0) | (grad != NULL ? BCEL_GRAD : 0) |
               (hess != NULL ? BCEL_HESS : 0);
    /* outputs alias inputs only exactly (the Python layer copies any other
       overlap) */
#define FL_IS_INPUT(p) ((p) != NULL && ((const FL_REAL *)(p) == x || (const FL_REAL *)(p) == t || \
                                       (const FL_REAL *)(p) == w))
    int lazy = (want & BCEL_LOSS) && loss == NULL && pw == NULL && !FL_IS_INPUT(grad) &&
               !FL_IS_INPUT(hess);
#undef FL_IS_INPUT
    FL_RUN_FORM(FL_VFN(form)(stream, loss, grad, hess), bcel, x, t, w, pw, loss, grad, hess,
                gscale, n, want, lazy);
}

/* ---------------- binary cross-entropy on probabilities --------------- */

/*
 * PyTorch's definition, to rounding:
 * loss = w ((t - 1) max(log1p(-p), -100) - t max(log(p), -100))
 * grad = w (p - t) / max((1 - p) p, 1e-12)
 */
FL_INLINE double FL_VFN(bce_body)(const FL_REAL *p, const FL_REAL *t, const FL_REAL *w, FL_REAL *loss, FL_REAL *grad,
                              double gscale, ptrdiff_t n, ptrdiff_t *first_bad, int pf,
                              int st)
{
    vf64 acc = fl_splat_f64(0.0);
    const FL_REAL gs = (FL_REAL)gscale;
    /* PyTorch floors at the float 1e-12 (9.999999960041972e-13) for both dtypes */
    const FL_VEC lo = FL_VFN(fl_splat)((FL_REAL)-100), eps = FL_VFN(fl_splat)((FL_REAL)1e-12f);
    *first_bad = -1;
    for (ptrdiff_t i = 0; i < n; i += FL_LANES) {
        ptrdiff_t m = n - i < FL_LANES ? n - i : FL_LANES;
        FL_VEC vp, vt, vw = FL_VFN(fl_splat)((FL_REAL)1);
        if (m == FL_LANES) {
            if (pf) {
                fl_prefetch_ahead(p + i, sizeof(FL_REAL) * FL_LANES);
                fl_prefetch_ahead(t + i, sizeof(FL_REAL) * FL_LANES);
                if (w) fl_prefetch_ahead(w + i, sizeof(FL_REAL) * FL_LANES);
            }
            vp = FL_VFN(fl_load)(p + i);
            vt = FL_VFN(fl_load)(t + i);
            if (w) vw = FL_VFN(fl_load)(w + i);
        } else {
            vp = FL_VFN(fl_load_part)(p + i, m, (FL_REAL)0.5);
            vt = FL_VFN(fl_load_part)(t + i, m, 0);
            if (w) vw = FL_VFN(fl_load_part)(w + i, m, 1);
        }
        FL_IVEC bad = ~(FL_VFN(fl_ge)(vp, FL_VFN(fl_splat)((FL_REAL)0)) & FL_VFN(fl_le)(vp, FL_VFN(fl_splat)((FL_REAL)1)));
        if (*first_bad < 0 && FL_VFN(fl_any)(bad)) {
            for (ptrdiff_t j = 0; j < m; j++)
                if (!(p[i + j] >= 0 && p[i + j] <= 1)) {
                    *first_bad = i + j;
                    break;
                }
        }
        FL_VEC lp = FL_VFN(fl_log)(vp), l1 = FL_VFN(fl_log1p)(-vp);
        lp = FL_VFN(fl_sel)(FL_VFN(fl_gt)(lp, lo), lp, lo);
        l1 = FL_VFN(fl_sel)(FL_VFN(fl_gt)(l1, lo), l1, lo);
        FL_VEC l = (vt - (FL_REAL)1) * l1 - vt * lp;
        FL_VEC d = ((FL_REAL)1 - vp) * vp;
        FL_VEC g = (vp - vt) / FL_VFN(fl_sel)(FL_VFN(fl_gt)(d, eps), d, eps);
        if (w) {
            l = l * vw;
            g = g * vw;
        }
        if (m == FL_LANES) {
            if (loss) FL_VFN(fl_put)(loss + i, l, st);
            if (grad) FL_VFN(fl_put)(grad + i, g * gs, st);
        } else {
            l = FL_VFN(fl_sel)(FL_VFN(fl_lanes_below)(m), l, FL_VFN(fl_splat)((FL_REAL)0));
            if (loss) FL_VFN(fl_store_part)(loss + i, l, m);
            if (grad) FL_VFN(fl_store_part)(grad + i, g * gs, m);
        }
        acc = FL_VFN(fl_acc)(acc, l);
    }
    return fl_hsum_f64(acc);
}

#define FL_BCE_FORM(form, PF, ST)                                              \
    static double FL_VFN(bce_##form)(const FL_REAL *p, const FL_REAL *t, const FL_REAL *w, FL_REAL *loss, FL_REAL *grad, \
                                 double gscale, ptrdiff_t n, ptrdiff_t *first_bad) \
    {                                                                          \
        return FL_VFN(bce_body)(p, t, w, loss, grad, gscale, n, first_bad, PF, ST); \
    }
FL_BCE_FORM(plain, 0, 0)
FL_BCE_FORM(big, 1, 0)
FL_BCE_FORM(streamed, 1, 1)

static double FL_KERNEL(bce)(const FL_REAL *p, const FL_REAL *t, const FL_REAL *w, FL_REAL *loss, FL_REAL *grad,
                      double gscale, ptrdiff_t n, ptrdiff_t *first_bad, int stream)
{
    FL_RUN_FORM(FL_VFN(form)(stream, loss, grad, NULL), bce, p, t, w, loss, grad, gscale, n,
                first_bad);
}

static void FL_KERNEL(fill)(fl_table *tb)
{
    FL_XCAT2(tb->unary, FL_S)[FL_SIGMOID] = FL_KERNEL(sigmoid);
    FL_XCAT2(tb->unary, FL_S)[FL_LOG_SIGMOID] = FL_KERNEL(log_sigmoid);
    FL_XCAT2(tb->unary, FL_S)[FL_SOFTPLUS] = FL_KERNEL(softplus);
    FL_XCAT2(tb->unary, FL_S)[FL_SIGMOID_GRAD] = FL_KERNEL(sigmoid_grad);
    FL_XCAT2(tb->unary, FL_S)[FL_LOGIT] = FL_KERNEL(logit);
    FL_XCAT2(tb->bcel, FL_S) = FL_KERNEL(bcel);
    FL_XCAT2(tb->bce, FL_S) = FL_KERNEL(bce);
}

