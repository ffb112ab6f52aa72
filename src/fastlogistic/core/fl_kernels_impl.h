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
 * FMA ports do; two loops of half the chain each overlap more vectors.
 * Measured at AVX2, paired A/B, 1 thread, 4096 elements: float64 BCE mean
 * 1.11-1.26x, loss + grad 1.13-1.30x, float32 1.13-1.27x, softplus
 * 1.21-1.28x, sigmoid_grad 1.23-1.36x; N = 1e6: BCE mean and loss + grad
 * 1.18x.  With several native vectors per math vector ("avx512-wide",
 * SSE2) the pieces already overlap and the second pass costs more than it
 * gains (AVX-512 on Intel Cascade Lake: 0.87-0.92x), so FL_EBLOCK is 0 there
 * and e is computed in the same loop.  On AMD Zen 4, one zmm with blocks
 * beats four without (fl_isa_avx512s.c).
 * sigmoid's chain is shorter: by blocks it was 0.86-0.95x, so it has none.
 * The same arithmetic either way: the same values.
 */
#ifndef FL_EBLOCK
#define FL_EBLOCK 0
#endif
/* eb[0 .. n) = exp(-|x|), n <= FL_EBLOCK; a padded last vector */
FL_INLINE void VF(e_fill)(T *eb, const T *x, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; i += L) {
        V vx = n - i < L ? VF(fl_load_part)(x + i, n - i, (T)0) : VF(fl_load)(x + i);
        VF(fl_store)(eb + i, VF(fl_exp_negabs)(vx));
    }
}
/* e of the vector x at offset j of the block */
FL_INLINE V VF(e_at)(const T *eb, ptrdiff_t j, V x)
{
    return FL_EBLOCK ? VF(fl_load)(eb + j) : VF(fl_exp_negabs)(x);
}
/* run SPAN, a statement over the elements [i0, iend) of x that reads e
   through VF(e_at)(eb, i - i0, x), on all of [0, n): in one piece where
   FL_EBLOCK is 0 (the loop as if written alone), else block by block with
   eb filled first */
#define FL_BY_EBLOCKS(n, x, SPAN)                                              \
    do {                                                                       \
        if (!FL_EBLOCK) {                                                      \
            const T *eb = NULL;                                                \
            const ptrdiff_t i0 = 0, iend = (n);                                \
            SPAN;                                                              \
        } else {                                                               \
            T eb[FL_EBLOCK ? FL_EBLOCK : 1] __attribute__((aligned(FL_NB)));   \
            for (ptrdiff_t i0 = 0; i0 < (n); i0 += FL_EBLOCK) {               \
                const ptrdiff_t iend = (n) - i0 < FL_EBLOCK ? (n) : i0 + FL_EBLOCK; \
                VF(e_fill)(eb, (x) + i0, iend - i0);                           \
                SPAN;                                                          \
            }                                                                  \
        }                                                                      \
    } while (0)

/* ---------------- elementwise functions of one vector ---------------- */


/* the kernels below built on e = exp(-|x|) take it as an argument */
/* s(x) s(-x): the pair {s(x), s(-x)} is {e rp, rp} whatever the sign of x,
   so the product is (e rp) rp, with no select */
FL_INLINE V VF(v_sigmoid_grad)(V x, V e)
{
    (void)x;
    V rp = VF(fl_recip1pe)(e);
    return (e * rp) * rp;
}

/* softplus(x) = max(x, 0) + log1p(exp(-|x|)) */
FL_INLINE V VF(v_softplus)(V x, V e)
{
    return VF(fl_pos)(x) + VF(fl_log1p_unit)(e);
}

/* log_sigmoid(x) = -softplus(-x) = min(x, 0) - log1p(exp(-|x|)) */
FL_INLINE V VF(v_log_sigmoid)(V x, V e)
{
    return -VF(fl_neg_part)(x) - VF(fl_log1p_unit)(e);
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
FL_INLINE void VF(logit_args)(V p, V *a, V *b)
{
    V one = VF(fl_splat)((T)1);
    VI mid = VF(fl_ge)(p, VF(fl_splat)((T)0.25)) & VF(fl_le)(p, VF(fl_splat)((T)0.75));
    V d = (p + p) - one;
    *a = VF(fl_sel)(mid, p + p, p / (one - p));
    *b = VF(fl_sel)(mid, -d, VF(fl_splat)((T)0));
}
FL_INLINE V VF(v_logit_any)(V p)
{
    V a, b;
    VF(logit_args)(p, &a, &b);
    return VF(fl_log)(a) - VF(fl_log1p)(b);
}
/* the same for p in [smallest normal, 1) in every lane, with the special
   cases of fl_log and fl_log1p left out: a is then positive, normal and
   finite, u = 1 + b is in [1/2, 3/2], exact where fl_split gives k = -1,
   at k = 0 f = b exactly, and at k = 1 (u >= sqrt(2): p <= 0.293) the
   rounding error of u, b - (u - 1) (exact), enters as c = err / u, here
   err times a constant within 3 % of 1/u: c is below 2^-53 relative to
   the result, so that error is a few hundredths of an ULP */
FL_INLINE V VF(v_logit_inrange)(V p)
{
    V a, b, fa, fb;
    VF(logit_args)(p, &a, &b);
    V u = (T)1 + b;
    VI ka = VF(fl_split)(a, &fa);
    VI kb = VF(fl_split)(u, &fb);
    V zero = VF(fl_splat)((T)0);
    V c = VF(fl_sel)(kb > 0, (b - (u - (T)1)) * (T)0.6863, zero);
    fb = VF(fl_sel)(kb == 0, b, fb);
    return VF(fl_logcore)(fa, VF(fl_i2f)(ka), zero) - VF(fl_logcore)(fb, VF(fl_i2f)(kb), c);
}
/* p in [smallest normal, 1), lane by lane */
FL_INLINE VI VF(logit_in)(V p)
{
    return VF(fl_ge)(p, VF(fl_splat)(FL_T == 64 ? 0x1p-1022 : 0x1p-126f)) &
           VF(fl_lt)(p, VF(fl_splat)((T)1));
}
/* a vector with a lane out of that range: those lanes by v_logit_any, the
   others by v_logit_inrange as in the loop, so that each element gets the
   same value whatever its neighbours */
FL_INLINE V VF(v_logit)(V p)
{
    VI in = VF(logit_in)(p);
    V r = VF(v_logit_inrange)(VF(fl_sel)(in, p, VF(fl_splat)((T)0.5)));
    return VF(fl_sel)(in, r, VF(v_logit_any)(p));
}

/*
 * Every elementwise kernel is a loop FN(name_run)(x, y, n, st), compiled once
 * plain (st = 0) and once for data bigger than the caches (st = 1: input
 * prefetched ahead, output streamed; see fl_vec.h), and an entry point that
 * takes the second where the caller asks for it: the elements before y
 * reaches vector alignment go the plain way, the rest streamed.
 * Elementwise, so the split changes no result.
 */
#define FL_UNARY_ENTRY(name)                                                   \
    static void VF(name##_plain)(const T *x, T *y, ptrdiff_t n)                \
    {                                                                          \
        VF(name##_run)(x, y, n, 0);                                            \
    }                                                                          \
    static void VF(name##_streamed)(const T *x, T *y, ptrdiff_t n)             \
    {                                                                          \
        VF(name##_run)(x, y, n, 1);                                            \
        fl_stream_fence();                                                     \
    }                                                                          \
    static void FN(name)(const T *x, T *y, ptrdiff_t n, int stream)            \
    {                                                                          \
        ptrdiff_t h = stream ? fl_stream_head(y, sizeof(T)) : -1;              \
        if (h < 0 || n - h < L) {                                              \
            VF(name##_plain)(x, y, n);                                         \
            return;                                                            \
        }                                                                      \
        if (h > 0)                                                             \
            VF(name##_plain)(x, y, h);                                         \
        VF(name##_streamed)(x + h, y + h, n - h);                              \
    }

/* the loop of a kernel over elements [i0, iend): VAL(name, a, j) is its value
   for the vector a at offset j of the span (eb: see FL_BY_EBLOCKS) */
#define FL_UNARY_SPAN(name, VAL)                                               \
    FL_INLINE void VF(name##_span)(const T *x, T *y, ptrdiff_t i0, ptrdiff_t iend, \
                                   const T *eb, int st)                        \
    {                                                                          \
        (void)eb;                                                              \
        ptrdiff_t i = i0;                                                      \
        for (; i + L <= iend; i += L) {                                        \
            if (st)                                                            \
                fl_prefetch_ahead(x + i, sizeof(T) * L);                       \
            V a = VF(fl_load)(x + i);                                          \
            VF(fl_put)(y + i, VAL(name, a, i - i0), st);                       \
        }                                                                      \
        for (; i < iend; i += L) {                                             \
            ptrdiff_t m = iend - i < L ? iend - i : L;                         \
            V a = VF(fl_load_part)(x + i, m, (T)0);                            \
            VF(fl_store_part)(y + i, VAL(name, a, i - i0), m);                 \
        }                                                                      \
    }
#define FL_VAL_X(name, a, j) VF(v_##name)(a)
#define FL_VAL_E(name, a, j) VF(v_##name)(a, VF(e_at)(eb, j, a))

/* a kernel v_name(x) */
#define FL_UNARY_KERNEL(name)                                                  \
    FL_UNARY_SPAN(name, FL_VAL_X)                                              \
    FL_INLINE void VF(name##_run)(const T *x, T *y, ptrdiff_t n, int st)       \
    {                                                                          \
        VF(name##_span)(x, y, 0, n, NULL, st);                                 \
    }                                                                          \
    FL_UNARY_ENTRY(name)

/* a kernel v_name(x, e) of x and e = exp(-|x|), by blocks */
#define FL_UNARY_KERNEL_E(name)                                                \
    FL_UNARY_SPAN(name, FL_VAL_E)                                              \
    FL_INLINE void VF(name##_run)(const T *x, T *y, ptrdiff_t n, int st)       \
    {                                                                          \
        FL_BY_EBLOCKS(n, x, VF(name##_span)(x, y, i0, iend, eb, st));          \
    }                                                                          \
    FL_UNARY_ENTRY(name)

/* sigmoid: the fast form, and for the rare vector with a |x| beyond
   FL_SIGMOID_FAR or a NaN, out of line so that its code does not crowd the
   registers of the loop, the signed form on those lanes and the fast form on
   the others: each element gets the same value whatever its neighbours */
static __attribute__((noinline, cold)) void VF(sigmoid_far)(const T *x, T *y, ptrdiff_t m, int st)
{
    V a = m == L ? VF(fl_load)(x) : VF(fl_load_part)(x, m, (T)0);
    VI near = VF(fl_le)(VF(fl_abs)(a), VF(fl_splat)(FL_XCAT2(FL_SIGMOID_FAR, FL_S)));
    V fast = VF(fl_sigmoid)(VF(fl_sel)(near, a, VF(fl_splat)((T)0)));
    V r = VF(fl_sel)(near, fast, VF(fl_sigmoid_signed)(a));
    if (m == L)
        VF(fl_put)(y, r, st);
    else
        VF(fl_store_part)(y, r, m);
}

/* vectors per iteration of the sigmoid loop where a math vector is one
   native vector (FL_NV == 1): 2 by default (AVX2; 4 there: float32 0.98x);
   "avx512-split" sets 4 (float32 1.10x on Zen 4, float64 1.00x) */
#ifndef FL_SIGMOID_K
#define FL_SIGMOID_K 2
#endif
/* elements per scan of the sigmoid loop (FL_NV == 1) */
#define FL_SIGMOID_SCAN 1024
/* n (a multiple of L) elements, each vector checked for a far lane */
FL_INLINE void VF(sigmoid_each)(const T *x, T *y, ptrdiff_t n, int st)
{
    for (ptrdiff_t i = 0; i < n; i += L) {
        if (st)
            fl_prefetch_ahead(x + i, sizeof(T) * L);
        V a = VF(fl_load)(x + i);
        if (__builtin_expect(VF(fl_sigmoid_far)(a), 0))
            VF(sigmoid_far)(x + i, y + i, L, st);
        else
            VF(fl_put)(y + i, VF(fl_sigmoid)(a), st);
    }
}
#if FL_NV == 1
/* the rare scan with a far lane */
static __attribute__((noinline, cold)) void VF(sigmoid_checked)(const T *x, T *y, ptrdiff_t n, int st)
{
    VF(sigmoid_each)(x, y, n, st);
}
#endif
FL_INLINE void VF(sigmoid_run)(const T *x, T *y, ptrdiff_t n, int st)
{
    ptrdiff_t i = 0;
#if FL_NV == 1
    /* one native vector: by scans of FL_SIGMOID_SCAN elements, first read
       for the largest |x| (fl_absmax: two integer operations a vector),
       then, with no far lane, computed FL_SIGMOID_K vectors an iteration
       with no test and no call in the loop.  A compare, mask move and
       branch per vector instead cost 10 % (float32 and float64, Zen 4),
       and a cold call in the loop made GCC reload constants from memory
       every iteration.  The scan reads x before y is written: out= x is
       safe. */
    const ptrdiff_t G = FL_SIGMOID_K * L;
    while (i + G <= n) {
        ptrdiff_t m = n - i < FL_SIGMOID_SCAN ? (n - i) / G * G : FL_SIGMOID_SCAN;
        VI mx[FL_SIGMOID_K] = {{0}};
        for (ptrdiff_t j = i; j < i + m; j += G) {
            if (st)
                fl_prefetch_ahead(x + j, sizeof(T) * G);
            for (int k = 0; k < FL_SIGMOID_K; k++)
                mx[k] = VF(fl_absmax)(mx[k], VF(fl_load)(x + j + k * L));
        }
        for (int k = 1; k < FL_SIGMOID_K; k++)
            mx[0] = VF(fl_absmax)(mx[0], (V)mx[k]);
        if (__builtin_expect(VF(fl_above)((V)mx[0], FL_XCAT2(FL_SIGMOID_FAR, FL_S)), 0)) {
            VF(sigmoid_checked)(x + i, y + i, m, st);
        } else {
            /* fl_sigmoid's two halves, software-pipelined by one group:
               vector by vector, E = exp(-x) of the next group is issued
               next to 1 / (1 + E) of this one, whose E was computed an
               iteration earlier.  In program order the halves of one
               vector form a chain of ~65 cycles of latency, and the
               out-of-order window filled up with its waiting operations.
               Paired A/B (C harness, 1 thread), N = 4096 / 1e6:
               avx512-split float64 1.12x / 1.07x, float32 1.07x / 1.07x;
               AVX2 1.09x / 1.10x and 1.12x / 1.12x.  Same operations per
               element, same bits.  Deeper pipelines (exp split in two,
               or the division a stage of its own) gained less. */
            V E[FL_SIGMOID_K];
            for (int k = 0; k < FL_SIGMOID_K; k++)
                E[k] = VF(fl_exp_normal)(-VF(fl_load)(x + i + k * L));
            ptrdiff_t j = i;
            for (; j + G < i + m; j += G) {
                for (int k = 0; k < FL_SIGMOID_K; k++) {
                    V En = VF(fl_exp_normal)(-VF(fl_load)(x + j + G + k * L));
                    VF(fl_put)(y + j + k * L, VF(fl_recip1p)(E[k]), st);
                    E[k] = En;
                }
            }
            for (int k = 0; k < FL_SIGMOID_K; k++)
                VF(fl_put)(y + j + k * L, VF(fl_recip1p)(E[k]), st);
        }
        i += m;
    }
#endif
    ptrdiff_t whole = (n - i) / L * L;
    VF(sigmoid_each)(x + i, y + i, whole, st);
    i += whole;
    if (i < n) {
        V a = VF(fl_load_part)(x + i, n - i, (T)0);
        if (VF(fl_sigmoid_far)(a))
            VF(sigmoid_far)(x + i, y + i, n - i, 0);
        else
            VF(fl_store_part)(y + i, VF(fl_sigmoid)(a), n - i);
    }
}
FL_UNARY_ENTRY(sigmoid)
FL_UNARY_KERNEL_E(log_sigmoid)
FL_UNARY_KERNEL_E(softplus)
FL_UNARY_KERNEL_E(sigmoid_grad)
/* logit: by scans of FL_LOGIT_SCAN elements, first read for a lane out of
   [smallest normal, 1) (an OR of masks), then with none the short form with
   no test in the loop, else each vector by v_logit (the same values on the
   lanes in range).  A test and branch to the general form per vector made
   GCC reload the loop's constants from memory every iteration. */
#define FL_LOGIT_SCAN 1024
FL_UNARY_SPAN(logit, FL_VAL_X)
FL_INLINE void VF(logit_run)(const T *x, T *y, ptrdiff_t n, int st)
{
    ptrdiff_t i = 0;
    while (i + L <= n) {
        ptrdiff_t m = n - i < FL_LOGIT_SCAN ? (n - i) / L * L : FL_LOGIT_SCAN;
        VI in = ~(VI){0};
        for (ptrdiff_t j = i; j < i + m; j += L)
            in &= VF(logit_in)(VF(fl_load)(x + j));
        if (__builtin_expect(VF(fl_any)(~in), 0)) {
            VF(logit_span)(x, y, i, i + m, NULL, st);
        } else {
            for (ptrdiff_t j = i; j < i + m; j += L) {
                if (st)
                    fl_prefetch_ahead(x + j, sizeof(T) * L);
                VF(fl_put)(y + j, VF(v_logit_inrange)(VF(fl_load)(x + j)), st);
            }
        }
        i += m;
    }
    VF(logit_span)(x, y, i, n, NULL, st);
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
FL_INLINE V VF(v_bcel_loss)(V x, V a, V b, V e)
{
    V l1p = VF(fl_log1p_unit)(e);
    V la = FL_XCAT2(FL_MULNZ, FL_S)(a, VF(fl_neg_part)(x) + l1p);
    V lb = FL_XCAT2(FL_MULNZ, FL_S)(b, VF(fl_pos)(x) + l1p);
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
FL_INLINE V VF(v_bcel_max_t)(V x, V b, V t) { return VF(fl_maxv)(b * x, (T)0 - t * x); }
FL_INLINE V VF(v_bcel_loss_t)(V x, V b, V t, V e)
{
    return VF(v_bcel_max_t)(x, b, t) + VF(fl_log1p_unit)(e);
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
FL_INLINE void VF(v_bcel)(V x, V e, V t, V w, V pw, int has_w, int has_pw, int want,
                          int check, int prod, V *loss, V *grad, V *hess)
{
    V a = has_pw ? pw * t : t;
    V b = (T)1 - t;
    V l = x, gr = x, h = x;
    if (want & BCEL_LOSS) {
        if (prod) {
            l = VF(v_bcel_max_t)(x, b, t); /* + log1p(e): see bcel_span */
        } else if (has_pw) {
            l = VF(v_bcel_loss)(x, a, b, e);
        } else {
            l = VF(v_bcel_loss_t)(x, b, t, e);
            if (check) {
                VI bad = VF(fl_ne)(l - l, VF(fl_splat)((T)0)); /* +-inf or NaN */
                if (__builtin_expect(VF(fl_any)(bad), 0))
                    l = VF(fl_sel)(bad, VF(v_bcel_loss)(x, a, b, e), l);
            }
        }
    }
    if (want & (BCEL_GRAD | BCEL_HESS)) {
        /* b s(x) - a s(-x) = rp (b - a e) for x >= 0, rp (b e - a) for x < 0:
           one select, and for soft targets two roundings fewer than the
           products of the two sigmoids; for t = 0 or 1 the same bits */
        V rp = VF(fl_recip1pe)(e);
        gr = rp * VF(fl_sel_neg)(x, b * e - a, b - a * e);
        if (want & BCEL_HESS)
            h = (a + b) * ((e * rp) * rp); /* s(x) s(-x): see v_sigmoid_grad */
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
FL_INLINE void VF(prod_acc)(vf64 *q, vf64 *q2, V e)
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
FL_INLINE vf64 VF(bcel_span)(const T *x, const T *t, const T *w, const T *pw, T *loss,
                              T *grad, T *hess, T gs, ptrdiff_t i0, ptrdiff_t iend,
                              const T *eb, vf64 acc, int want, int check, int prod,
                              int pf, int st)
{
    const int has_w = w != NULL, has_pw = pw != NULL;
    V one = VF(fl_splat)((T)1);
    vf64 q = fl_splat_f64(0.0), q2 = q, msum = q;
    for (ptrdiff_t i = i0; i < iend; i += L) {
        ptrdiff_t m = iend - i < L ? iend - i : L;
        V vx, vt, vw = one, vp = one, l, g, h;
        if (m == L) {
            if (pf) {
                fl_prefetch_ahead(x + i, sizeof(T) * L);
                fl_prefetch_ahead(t + i, sizeof(T) * L);
                if (has_w) fl_prefetch_ahead(w + i, sizeof(T) * L);
                if (has_pw) fl_prefetch_ahead(pw + i, sizeof(T) * L);
            }
            vx = VF(fl_load)(x + i);
            vt = VF(fl_load)(t + i);
            if (has_w) vw = VF(fl_load)(w + i);
            if (has_pw) vp = VF(fl_load)(pw + i);
        } else {
            vx = VF(fl_load_part)(x + i, m, 0);
            vt = VF(fl_load_part)(t + i, m, 0);
            if (has_w) vw = VF(fl_load_part)(w + i, m, 1);
            if (has_pw) vp = VF(fl_load_part)(pw + i, m, 1);
        }
        V e = VF(e_at)(eb, i - i0, vx);
        VF(v_bcel)(vx, e, vt, vw, vp, has_w, has_pw, want, check, prod, &l, &g, &h);
        if (m == L) {
            if ((want & BCEL_LOSS) && loss) VF(fl_put)(loss + i, l, st);
            if (want & BCEL_GRAD) VF(fl_put)(grad + i, g * gs, st);
            if (want & BCEL_HESS) VF(fl_put)(hess + i, h * gs, st);
        } else {
            VI keep = VF(fl_lanes_below)(m);
            l = VF(fl_sel)(keep, l, VF(fl_splat)((T)0));
            e = VF(fl_sel)(keep, e, VF(fl_splat)((T)0));
            if ((want & BCEL_LOSS) && loss) VF(fl_store_part)(loss + i, l, m);
            if (want & BCEL_GRAD) VF(fl_store_part)(grad + i, g * gs, m);
            if (want & BCEL_HESS) VF(fl_store_part)(hess + i, h * gs, m);
        }
        if (want & BCEL_LOSS) {
            if (prod) {
                msum = VF(fl_acc)(msum, l);
                VF(prod_acc)(&q, &q2, e);
            } else {
                acc = VF(fl_acc)(acc, l);
            }
        }
    }
    if (prod && (want & BCEL_LOSS))
        acc = acc + (msum + (fl_log1p_f64(q) + fl_log1p_f64(q2)));
    return acc;
}

/*
 * The loop over a chunk.  `lazy` (see FN(bcel)): the loss is summed, not
 * stored, and no output is an input; then the vectors skip v_bcel's check
 * and a span whose sum comes out non-finite runs again with it (nothing it
 * reads has been overwritten): the same values, at no cost per vector.
 */
FL_INLINE double VF(bcel_body)(const T *x, const T *t, const T *w, const T *pw, T *loss,
                               T *grad, T *hess, double gscale, ptrdiff_t n, int want,
                               int lazy, int pf, int st)
{
    vf64 acc = fl_splat_f64(0.0);
    FL_BY_EBLOCKS(n, x, {
        vf64 a;
        if (lazy && !w) /* (lazy: no pos_weight) */
            a = VF(bcel_span)(x, t, NULL, NULL, loss, grad, hess, (T)gscale, i0, iend, eb, acc,
                              want, 0, 1, pf, st);
        else
            a = VF(bcel_span)(x, t, w, pw, loss, grad, hess, (T)gscale, i0, iend, eb, acc,
                              want, !lazy, 0, pf, st);
        if (lazy && __builtin_expect(fl_any_f64(fl_ne_f64(a - a, fl_splat_f64(0.0))), 0))
            a = VF(bcel_span)(x, t, w, pw, loss, grad, hess, (T)gscale, i0, iend, eb, acc,
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
        return VF(bcel_body)(x, t, w, pw, NULL, grad, hess, gscale, n,         \
                             BCEL_GRAD | BCEL_HESS, lazy, PF, ST);                   \
    case BCEL_GRAD:                                                            \
        return VF(bcel_body)(x, t, w, pw, NULL, grad, NULL, gscale, n,         \
                             BCEL_GRAD, lazy, PF, ST);                               \
    case BCEL_LOSS | BCEL_GRAD:                                                \
        return VF(bcel_body)(x, t, w, pw, loss, grad, NULL, gscale, n,         \
                             BCEL_LOSS | BCEL_GRAD, lazy, PF, ST);                   \
    case BCEL_LOSS | BCEL_GRAD | BCEL_HESS:                                    \
        return VF(bcel_body)(x, t, w, pw, loss, grad, hess, gscale, n,         \
                             BCEL_LOSS | BCEL_GRAD | BCEL_HESS, lazy, PF, ST);       \
    default:                                                                   \
        return VF(bcel_body)(x, t, w, pw, loss, NULL, NULL, gscale, n,         \
                             BCEL_LOSS, lazy, PF, ST);                               \
    }
#define FL_BCEL_FORM(form, PF, ST)                                             \
    static double VF(bcel_##form)(const T *x, const T *t, const T *w, const T *pw, \
                                  T *loss, T *grad, T *hess, double gscale,    \
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
FL_INLINE int VF(out_aligned)(const T *p) { return p == NULL || fl_stream_head(p, sizeof(T)) == 0; }
FL_INLINE int VF(form)(int stream, const T *o0, const T *o1, const T *o2)
{
    if (!stream)
        return FL_FORM_PLAIN;
    if ((o0 || o1 || o2) && VF(out_aligned)(o0) && VF(out_aligned)(o1) && VF(out_aligned)(o2))
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
            s_ = VF(name##_streamed)(__VA_ARGS__);                             \
            fl_stream_fence();                                                 \
            return s_;                                                         \
        case FL_FORM_BIG:                                                      \
            return VF(name##_big)(__VA_ARGS__);                                \
        default:                                                               \
            return VF(name##_plain)(__VA_ARGS__);                              \
        }                                                                      \
    } while (0)

static double FN(bcel)(const T *x, const T *t, const T *w, const T *pw, T *loss,
                       T *grad, T *hess, double gscale, ptrdiff_t n, int want_sum, int stream)
{
    int want = (loss != NULL || want_sum ? BCEL_LOSS : 0) | (grad != NULL ? BCEL_GRAD : 0) |
               (hess != NULL ? BCEL_HESS : 0);
    /* outputs alias inputs only exactly (the Python layer copies any other
       overlap) */
#define FL_IS_INPUT(p) ((p) != NULL && ((const T *)(p) == x || (const T *)(p) == t || \
                                       (const T *)(p) == w))
    int lazy = (want & BCEL_LOSS) && loss == NULL && pw == NULL && !FL_IS_INPUT(grad) &&
               !FL_IS_INPUT(hess);
#undef FL_IS_INPUT
    FL_RUN_FORM(VF(form)(stream, loss, grad, hess), bcel, x, t, w, pw, loss, grad, hess,
                gscale, n, want, lazy);
}

/* ---------------- binary cross-entropy on probabilities --------------- */

/*
 * PyTorch's definition, to rounding:
 * loss = w ((t - 1) max(log1p(-p), -100) - t max(log(p), -100))
 * grad = w (p - t) / max((1 - p) p, 1e-12)
 */
FL_INLINE double VF(bce_body)(const T *p, const T *t, const T *w, T *loss, T *grad,
                              double gscale, ptrdiff_t n, ptrdiff_t *first_bad, int pf,
                              int st)
{
    vf64 acc = fl_splat_f64(0.0);
    const T gs = (T)gscale;
    /* PyTorch floors at the float 1e-12 (9.999999960041972e-13) for both dtypes */
    const V lo = VF(fl_splat)((T)-100), eps = VF(fl_splat)((T)1e-12f);
    *first_bad = -1;
    for (ptrdiff_t i = 0; i < n; i += L) {
        ptrdiff_t m = n - i < L ? n - i : L;
        V vp, vt, vw = VF(fl_splat)((T)1);
        if (m == L) {
            if (pf) {
                fl_prefetch_ahead(p + i, sizeof(T) * L);
                fl_prefetch_ahead(t + i, sizeof(T) * L);
                if (w) fl_prefetch_ahead(w + i, sizeof(T) * L);
            }
            vp = VF(fl_load)(p + i);
            vt = VF(fl_load)(t + i);
            if (w) vw = VF(fl_load)(w + i);
        } else {
            vp = VF(fl_load_part)(p + i, m, (T)0.5);
            vt = VF(fl_load_part)(t + i, m, 0);
            if (w) vw = VF(fl_load_part)(w + i, m, 1);
        }
        VI bad = ~(VF(fl_ge)(vp, VF(fl_splat)((T)0)) & VF(fl_le)(vp, VF(fl_splat)((T)1)));
        if (*first_bad < 0 && VF(fl_any)(bad)) {
            for (ptrdiff_t j = 0; j < m; j++)
                if (!(p[i + j] >= 0 && p[i + j] <= 1)) {
                    *first_bad = i + j;
                    break;
                }
        }
        V lp = VF(fl_log)(vp), l1 = VF(fl_log1p)(-vp);
        lp = VF(fl_sel)(VF(fl_gt)(lp, lo), lp, lo);
        l1 = VF(fl_sel)(VF(fl_gt)(l1, lo), l1, lo);
        V l = (vt - (T)1) * l1 - vt * lp;
        V d = ((T)1 - vp) * vp;
        V g = (vp - vt) / VF(fl_sel)(VF(fl_gt)(d, eps), d, eps);
        if (w) {
            l = l * vw;
            g = g * vw;
        }
        if (m == L) {
            if (loss) VF(fl_put)(loss + i, l, st);
            if (grad) VF(fl_put)(grad + i, g * gs, st);
        } else {
            l = VF(fl_sel)(VF(fl_lanes_below)(m), l, VF(fl_splat)((T)0));
            if (loss) VF(fl_store_part)(loss + i, l, m);
            if (grad) VF(fl_store_part)(grad + i, g * gs, m);
        }
        acc = VF(fl_acc)(acc, l);
    }
    return fl_hsum_f64(acc);
}

#define FL_BCE_FORM(form, PF, ST)                                              \
    static double VF(bce_##form)(const T *p, const T *t, const T *w, T *loss, T *grad, \
                                 double gscale, ptrdiff_t n, ptrdiff_t *first_bad) \
    {                                                                          \
        return VF(bce_body)(p, t, w, loss, grad, gscale, n, first_bad, PF, ST); \
    }
FL_BCE_FORM(plain, 0, 0)
FL_BCE_FORM(big, 1, 0)
FL_BCE_FORM(streamed, 1, 1)

static double FN(bce)(const T *p, const T *t, const T *w, T *loss, T *grad,
                      double gscale, ptrdiff_t n, ptrdiff_t *first_bad, int stream)
{
    FL_RUN_FORM(VF(form)(stream, loss, grad, NULL), bce, p, t, w, loss, grad, gscale, n,
                first_bad);
}

static void FN(fill)(fl_table *tb)
{
    FL_XCAT2(tb->unary, FL_S)[FL_SIGMOID] = FN(sigmoid);
    FL_XCAT2(tb->unary, FL_S)[FL_LOG_SIGMOID] = FN(log_sigmoid);
    FL_XCAT2(tb->unary, FL_S)[FL_SOFTPLUS] = FN(softplus);
    FL_XCAT2(tb->unary, FL_S)[FL_SIGMOID_GRAD] = FN(sigmoid_grad);
    FL_XCAT2(tb->unary, FL_S)[FL_LOGIT] = FN(logit);
    FL_XCAT2(tb->bcel, FL_S) = FN(bcel);
    FL_XCAT2(tb->bce, FL_S) = FN(bce);
}

