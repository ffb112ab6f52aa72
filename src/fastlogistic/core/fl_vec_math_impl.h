/*
 * fl_vec_math_impl.h -- the vector math for one element type: 1 / (1 + E),
 * exp, log1p, log and the logistic building block.  A template: fl_vec.h
 * includes it once per type, between fl_types.h and fl_types_end.h, after
 * the per-type pieces it calls (fl_exp_scaled_f64, fl_logcore_f64, ...), so
 * FL_VFN(fl_exp) below defines fl_exp_f64, then fl_exp_f32.
 */

/*
 * 1 / (1 + E) for E >= 0, from y = y0(1 + E rounded) and one Newton step on
 * the exact 1 + E, whose residual 1 - (1 + E) y is computed with a single
 * rounding of a tiny value, so that the rounding of 1 + E (and of a
 * quotient) is corrected with no Fast2Sum of 1 and E:
 *  - fl_recip1pe, E = e <= 1 (y ~ 1/(1 + e) in [1/2, 1]): (1 - y) - e y,
 *    1 - y exact (Sterbenz; a y a hair below 1/2, where 1 + e is within
 *    2^-14 of 2, rounds it by at most 2^-54).  Result within 0.5 ULP +
 *    2^-28 relative.
 *  - fl_recip1p, any E (the sigmoid's E = exp(-x)): (1 - E y) - y, the FMA
 *    rounding a value near y (which moves the result by at most y/2 ULP),
 *    the subtraction exact.
 * Where a Fast2Sum dlo of 1 + E fed two FMAs, these take 4 operations after
 * y instead of 6 to 8.  The sigmoid's worst case seen, float64: 1.95 ->
 * 1.66 ULP (most of it exp's 0.77).
 *
 * The residuals need their single rounding: written as explicit FMAs
 * (fl_fma: a b + c rounded once) where the level has them, so the bound does
 * not depend on the compiler contracting a * b + c by itself (GCC at -O1 or
 * with -ffp-contract=off does not; clang's default differs).  Below AVX2 the
 * y0 is a correctly rounded division, the residual is a few ULP of y at
 * most, and the plain expressions keep the bound.
 */
FL_INLINE FL_VEC FL_VFN(fl_recip1pe)(FL_VEC e)
{
    FL_VEC y = FL_TC(FL_RECIP_Y0)((FL_REAL)1 + e);
    return FL_VFN(fl_fma)(y, FL_VFN(fl_fma)(-e, y, (FL_REAL)1 - y), y);
}
FL_INLINE FL_VEC FL_VFN(fl_recip1p)(FL_VEC E)
{
    FL_VEC y = FL_TC(FL_SIGMOID_Y0)((FL_REAL)1 + E);
    return FL_VFN(fl_fma)(y, FL_VFN(fl_fma)(-E, y, FL_VFN(fl_splat)((FL_REAL)1)) - y, y);
}

/* exp of an argument already in range */
FL_INLINE FL_VEC FL_VFN(fl_exp_inrange)(FL_VEC xc) { return FL_VFN(fl_exp_scaled)(xc, 0, NULL); }
/* exp(x) for |x| <= FL_EXP_NORMAL */
FL_INLINE FL_VEC FL_VFN(fl_exp_normal)(FL_VEC x) { return FL_VFN(fl_exp_scaled)(x, 1, NULL); }
/* exp(x) for any x: +-inf clamped to finite first (NaN stays NaN) */
FL_INLINE FL_VEC FL_VFN(fl_exp)(FL_VEC x)
{
#if FL_X86_LEVEL < 3
    /* below AVX-512, a vector with every |x| <= FL_EXP_NORMAL (no NaN) takes
       the one-step scaling: the same values, fewer operations */
    if (__builtin_expect(!FL_VFN(fl_above)(FL_VFN(fl_abs)(x), FL_TC(FL_EXP_NORMAL)), 1))
        return FL_VFN(fl_exp_normal)(x);
#endif
    return FL_VFN(fl_exp_inrange)(FL_VFN(fl_clamp)(x, FL_TC(FL_EXP_LO), FL_TC(FL_EXP_HI)));
}

/* log1p(y) for any y (-1 -> -inf, < -1 -> nan) */
FL_INLINE FL_VEC FL_VFN(fl_log1p)(FL_VEC y)
{
    FL_VEC u = (FL_REAL)1 + y;
    FL_VEC f;
    FL_IVEC k = FL_VFN(fl_split)(u, &f);
    /* correction for the rounding of 1 + y (c / u ~ log(1+y) - log(u)) */
    FL_VEC c = FL_VFN(fl_sel)(FL_IFN(fl_ge)(k, (FL_IVEC){0} + 2), (FL_REAL)1 - (u - y),
                              y - (u - (FL_REAL)1)) / u;
    c = FL_VFN(fl_sel)(FL_IFN(fl_lt)(k, (FL_IVEC){0} + FL_TC(FL_LOG1P_KEXACT)), c, FL_VFN(fl_splat)(0));
    /* 1 + y in [sqrt(2)/2, sqrt(2)): use y itself, exact */
    FL_IVEC k0 = FL_IFN(fl_eq)(k, (FL_IVEC){0});
    f = FL_VFN(fl_sel)(k0, y, f);
    c = FL_VFN(fl_sel)(k0, FL_VFN(fl_splat)(0), c);
    FL_VEC r = FL_VFN(fl_logcore)(f, FL_VFN(fl_i2f)(k), c);
    r = FL_VFN(fl_sel)(FL_VFN(fl_eq)(y, FL_VFN(fl_splat)(-1)), FL_VFN(fl_splat)(-(FL_REAL)__builtin_inf()), r);
    r = FL_VFN(fl_sel)(FL_VFN(fl_lt)(y, FL_VFN(fl_splat)(-1)), FL_VFN(fl_splat)((FL_REAL)__builtin_nan("")), r);
    r = FL_VFN(fl_sel)(FL_VFN(fl_eq)(y, FL_VFN(fl_splat)((FL_REAL)__builtin_inf())), y, r);
    return FL_VFN(fl_sel)(FL_VFN(fl_ne)(y, y), y, r);
}
/* log(x) for any x (0 -> -inf, < 0 -> nan, subnormals exact: scaled by
   2^FL_LOG_SUBK into the normal range first) */
FL_INLINE FL_VEC FL_VFN(fl_log)(FL_VEC x)
{
    FL_IVEC sub = FL_VFN(fl_lt)(x, FL_VFN(fl_splat)(FL_TC(FL_LOG_SUBMIN)));
    FL_VEC xs = FL_VFN(fl_sel)(sub, x * FL_TC(FL_LOG_SUBSCALE), x);
    FL_VEC f;
    FL_IVEC k = FL_VFN(fl_split)(xs, &f) - (sub & FL_TC(FL_LOG_SUBK));
    FL_VEC r = FL_VFN(fl_logcore)(f, FL_VFN(fl_i2f)(k), FL_VFN(fl_splat)(0));
    r = FL_VFN(fl_sel)(FL_VFN(fl_eq)(x, (FL_VEC){0}), FL_VFN(fl_splat)(-(FL_REAL)__builtin_inf()), r);
    r = FL_VFN(fl_sel)(FL_VFN(fl_lt)(x, (FL_VEC){0}), FL_VFN(fl_splat)((FL_REAL)__builtin_nan("")), r);
    r = FL_VFN(fl_sel)(FL_VFN(fl_eq)(x, FL_VFN(fl_splat)((FL_REAL)__builtin_inf())), x, r);
    return FL_VFN(fl_sel)(FL_VFN(fl_ne)(x, x), x, r);
}

/*
 * The logistic building block shared by every kernel.  The kernels build on
 * e = exp(-|x|) in (0, 1] (computed by the caller, which may do it in a loop
 * of its own: FL_EBLOCK) and rp = 1 / (1 + e) (fl_recip1pe): the two
 * sigmoids are s(x) = rp, s(-x) = e rp for x >= 0, mirrored for x < 0, with
 * no subtraction.  NaN propagates; x = +-inf gives e = 0 and exact 0/1.
 */
/* e = exp(-|x|) in (0, 1].  At AVX-512, -|x| is x with its sign bit set (one
   or) and, being <= 0 or NaN, needs only the lower clamp (max(lo, NaN) is
   NaN); then the table exp */
/* With rel (not NULL), also e's last rounding as a relative term:
   e (1 + *rel) is the exp's value before that rounding (float32 2^-27.7,
   float64 2^-55 relative to the exact value), for sigmoid_grad's
   single-rounding form.  Where e is subnormal the rounding to it is not in
   *rel (e's error is absolute there, under half its spacing).  Below
   AVX-512 that form clamps and scales in two steps every vector, where
   fl_exp alone takes the one-step scaling when it can (the same values). */
FL_INLINE FL_VEC FL_VFN(fl_exp_negabs_rel)(FL_VEC x, FL_VEC *rel)
{
#if FL_X86_LEVEL >= 3
    FL_VEC negabs = (FL_VEC)((FL_IVEC)x | (FL_IVEC)FL_VFN(fl_splat)((FL_REAL)-0.0));
    return FL_VFN(fl_exp_tab_rel)(FL_VFN(fl_maxv)(FL_VFN(fl_splat)(FL_TC(FL_EXP_LO)), negabs), rel);
#else
    if (!rel)
        return FL_VFN(fl_exp)(-FL_VFN(fl_abs)(x));
    FL_VEC xc = FL_VFN(fl_clamp)(-FL_VFN(fl_abs)(x), FL_TC(FL_EXP_LO), FL_TC(FL_EXP_HI));
    return FL_VFN(fl_exp_scaled)(xc, 0, rel);
#endif
}
FL_INLINE FL_VEC FL_VFN(fl_exp_negabs)(FL_VEC x) { return FL_VFN(fl_exp_negabs_rel)(x, NULL); }
/* s(x) for any x, from e = exp(-|x|) <= 1 as the kernels build it: rp or
   e rp; exact in the far negative tail, where rp = 1 and s(x) = e^x is
   subnormal */
FL_INLINE FL_VEC FL_VFN(fl_sigmoid_signed)(FL_VEC x)
{
    FL_VEC e = FL_VFN(fl_exp_negabs)(x);
    FL_VEC rp = FL_VFN(fl_recip1pe)(e);
    return FL_VFN(fl_sel_neg)(x, e * rp, rp);
}
/* s(x) = 1 / (1 + E), E = exp(-x), by fl_recip1p: no select.  Where E would
   overflow (s(x) below ~e^-700, or subnormal), callers take the signed form
   above instead: fl_sigmoid_far says whether a vector needs it (some
   |x| > FL_SIGMOID_FAR, or a NaN). */
FL_INLINE int FL_VFN(fl_sigmoid_far)(FL_VEC x)
{
    return FL_VFN(fl_above)(FL_VFN(fl_abs)(x), FL_TC(FL_SIGMOID_FAR));
}
/* s(x) for |x| <= FL_SIGMOID_FAR (exp needs no clamp there) */
FL_INLINE FL_VEC FL_VFN(fl_sigmoid)(FL_VEC x)
{
    FL_VEC E = FL_VFN(fl_exp_normal)(-x);
    return FL_VFN(fl_recip1p)(E);
}
