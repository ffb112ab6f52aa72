/*
 * fl_vec_basic_impl.h -- the vector basics for one element type: comparisons,
 * selects, min/max, masks, loads and stores, |x|, FMA, the table exp on one
 * native register.  A template: fl_vec.h includes it once per type, between
 * fl_types.h and fl_types_end.h (FL_T = 64, then 32), so FL_VFN(fl_sel) below
 * defines fl_sel_f64, then fl_sel_f32.  Conventions of the operations are in
 * fl_vec.h, beside their native forms.
 */

/* comparisons: lane masks of all ones or zeros (a NaN compares false but
   for ne), on the floats and on the integers of the same width.  Done per
   native vector: GCC lowers a comparison of vectors wider than the machine's
   lane by lane. */
FL_LIFT_CMP(FL_IVEC, FL_VEC, FL_NIVEC, FL_VFN(fl_lt), <)
FL_LIFT_CMP(FL_IVEC, FL_VEC, FL_NIVEC, FL_VFN(fl_le), <=)
FL_LIFT_CMP(FL_IVEC, FL_VEC, FL_NIVEC, FL_VFN(fl_gt), >)
FL_LIFT_CMP(FL_IVEC, FL_VEC, FL_NIVEC, FL_VFN(fl_ge), >=)
FL_LIFT_CMP(FL_IVEC, FL_VEC, FL_NIVEC, FL_VFN(fl_eq), ==)
FL_LIFT_CMP(FL_IVEC, FL_VEC, FL_NIVEC, FL_VFN(fl_ne), !=)
FL_LIFT_CMP(FL_IVEC, FL_IVEC, FL_NIVEC, FL_IFN(fl_lt), <)
FL_LIFT_CMP(FL_IVEC, FL_IVEC, FL_NIVEC, FL_IFN(fl_le), <=)
FL_LIFT_CMP(FL_IVEC, FL_IVEC, FL_NIVEC, FL_IFN(fl_gt), >)
FL_LIFT_CMP(FL_IVEC, FL_IVEC, FL_NIVEC, FL_IFN(fl_ge), >=)
FL_LIFT_CMP(FL_IVEC, FL_IVEC, FL_NIVEC, FL_IFN(fl_eq), ==)
FL_LIFT_CMP(FL_IVEC, FL_IVEC, FL_NIVEC, FL_IFN(fl_ne), !=)

#if FL_X86_LEVEL >= 2
/* the native instructions of fl_vec.h, applied to each piece */
FL_LIFT3(FL_VEC, FL_IVEC, FL_VEC, FL_VEC, FL_VFN(fl_sel), FL_VFN(fl_nsel))
FL_LIFT2(FL_VEC, FL_VEC, FL_VEC, FL_VFN(fl_maxv), FL_VFN(fl_nmaxv))
FL_LIFT2(FL_VEC, FL_VEC, FL_VEC, FL_VFN(fl_minv), FL_VFN(fl_nminv))
/* any lane of a mask */
FL_INLINE int FL_VFN(fl_any)(FL_IVEC m)
{
    FL_U(FL_IVEC) um = {m};
    FL_NIVEC acc = um.p[0];
    for (int j = 1; j < FL_NV; j++)
        acc |= um.p[j];
    return FL_VFN(fl_nany)(acc);
}
/* any lane above c (or NaN) */
FL_INLINE int FL_VFN(fl_above)(FL_VEC ax, FL_REAL c)
{
    FL_U(FL_VEC) ua = {ax};
    int r = 0;
    for (int j = 0; j < FL_NV; j++)
        r |= FL_VFN(fl_nabove)(ua.p[j], c);
    return r;
}
/* a vector's first n lanes (0 < n < lanes), the rest `fill`: each native
   piece loaded whole, masked, or filled */
FL_INLINE FL_VEC FL_VFN(fl_load_part)(const FL_REAL *p, ptrdiff_t n, FL_REAL fill)
{
    FL_U(FL_VEC) ur;
    for (int j = 0; j < FL_NV; j++) {
        ptrdiff_t m = n - j * FL_NLANES;
        if (m >= FL_NLANES)
            memcpy(&ur.p[j], p + j * FL_NLANES, sizeof ur.p[j]);
        else if (m > 0)
            ur.p[j] = FL_VFN(fl_nload_part)(p + j * FL_NLANES, m, fill);
        else
            ur.p[j] = fill - (FL_NVEC){0};
    }
    return ur.w;
}
/* store a vector's first n lanes (0 < n < lanes) */
FL_INLINE void FL_VFN(fl_store_part)(FL_REAL *p, FL_VEC v, ptrdiff_t n)
{
    FL_U(FL_VEC) uv = {v};
    for (int j = 0; j < FL_NV; j++) {
        ptrdiff_t m = n - j * FL_NLANES;
        if (m >= FL_NLANES)
            memcpy(p + j * FL_NLANES, &uv.p[j], sizeof uv.p[j]);
        else if (m > 0)
            FL_VFN(fl_nstore_part)(p + j * FL_NLANES, uv.p[j], m);
    }
}
#else
/* generic vector code: the compiler picks the instructions */
FL_INLINE FL_VEC FL_VFN(fl_sel)(FL_IVEC m, FL_VEC a, FL_VEC b)
{
    return (FL_VEC)((m & (FL_IVEC)a) | (~m & (FL_IVEC)b));
}
FL_INLINE FL_VEC FL_VFN(fl_maxv)(FL_VEC a, FL_VEC b) { return FL_VFN(fl_sel)(FL_VFN(fl_gt)(a, b), a, b); }
FL_INLINE FL_VEC FL_VFN(fl_minv)(FL_VEC a, FL_VEC b) { return FL_VFN(fl_sel)(FL_VFN(fl_lt)(a, b), a, b); }
FL_INLINE int FL_VFN(fl_any)(FL_IVEC m)
{
    int r = 0;
    for (ptrdiff_t j = 0; j < FL_LANES; j++)
        r |= m[j] != 0;
    return r;
}
FL_INLINE int FL_VFN(fl_above)(FL_VEC ax, FL_REAL c)
{
    return FL_VFN(fl_any)(~FL_VFN(fl_le)(ax, c - (FL_VEC){0}));
}
FL_INLINE FL_VEC FL_VFN(fl_load_part)(const FL_REAL *p, ptrdiff_t n, FL_REAL fill)
{
    FL_REAL buf[FL_LANES];
    FL_VEC v;
    for (ptrdiff_t j = 0; j < FL_LANES; j++)
        buf[j] = j < n ? p[j] : fill;
    memcpy(&v, buf, sizeof v);
    return v;
}
FL_INLINE void FL_VFN(fl_store_part)(FL_REAL *p, FL_VEC v, ptrdiff_t n)
{
    FL_REAL buf[FL_LANES];
    memcpy(buf, &v, sizeof buf);
    for (ptrdiff_t j = 0; j < n; j++)
        p[j] = buf[j];
}
#endif

/* a * v, but 0 where a == 0 even if v is inf or NaN */
#if FL_X86_LEVEL >= 3
FL_LIFT2(FL_VEC, FL_VEC, FL_VEC, FL_VFN(fl_mulnz), FL_VFN(fl_nmulnz))
#else
FL_INLINE FL_VEC FL_VFN(fl_mulnz)(FL_VEC a, FL_VEC v)
{
    return FL_VFN(fl_sel)(FL_VFN(fl_ne)(a, (FL_VEC){0}), a * v, (FL_VEC){0});
}
#endif
#if FL_X86_LEVEL >= 3
/* 1/d to 14 bits */
FL_LIFT1(FL_VEC, FL_VFN(fl_rcp), FL_VFN(fl_nrcp))
#endif

/* the running maximum of |x| as integer bits (fl_nimax in fl_vec.h) */
FL_INLINE FL_IVEC FL_VFN(fl_absmax)(FL_IVEC acc, FL_VEC x)
{
    FL_IVEC ab = (FL_IVEC)x & FL_IMAX;
#if FL_X86_LEVEL >= 2
    FL_U(FL_IVEC) ua = {acc}, ub = {ab};
    for (int j = 0; j < FL_NV; j++)
        ua.p[j] = FL_IFN(fl_nimax)(ua.p[j], ub.p[j]);
    return ua.w;
#else
    FL_IVEC gt = ab > acc;
    return (ab & gt) | (acc & ~gt);
#endif
}

FL_INLINE FL_VEC FL_VFN(fl_splat)(FL_REAL c) { return c - (FL_VEC){0}; } /* keeps -0.0 */
/* loads and stores piece by piece: a copy of a whole vector wider than the
   machine's would go through the stack */
FL_INLINE FL_VEC FL_VFN(fl_load)(const FL_REAL *p)
{
    FL_U(FL_VEC) u;
    for (int j = 0; j < FL_NV; j++)
        memcpy(&u.p[j], p + j * (FL_LANES / FL_NV), sizeof u.p[j]);
    return u.w;
}
FL_INLINE void FL_VFN(fl_store)(FL_REAL *p, FL_VEC v)
{
    FL_U(FL_VEC) u = {v};
    for (int j = 0; j < FL_NV; j++)
        memcpy(p + j * (FL_LANES / FL_NV), &u.p[j], sizeof u.p[j]);
}
/* streaming (non-temporal) store; p aligned to FL_NB bytes */
FL_INLINE void FL_VFN(fl_stream)(FL_REAL *p, FL_VEC v)
{
    FL_U(FL_VEC) u = {v};
    for (int j = 0; j < FL_NV; j++)
        FL_VFN(fl_nstream)(p + j * (FL_LANES / FL_NV), u.p[j]);
}
/* store or stream (st a constant in the loops: one copy of each) */
FL_INLINE void FL_VFN(fl_put)(FL_REAL *p, FL_VEC v, int st)
{
    if (st)
        FL_VFN(fl_stream)(p, v);
    else
        FL_VFN(fl_store)(p, v);
}
/* the first n lanes of v (0 < n <= lanes): a whole store when n is all */
FL_INLINE void FL_VFN(fl_store_n)(FL_REAL *p, FL_VEC v, ptrdiff_t n)
{
    if (n == FL_LANES)
        FL_VFN(fl_store)(p, v);
    else
        FL_VFN(fl_store_part)(p, v, n);
}
/* mask of lanes with index < n */
FL_INLINE FL_IVEC FL_VFN(fl_lanes_below)(ptrdiff_t n)
{
    FL_IVEC idx;
    for (ptrdiff_t j = 0; j < FL_LANES; j++)
        idx[j] = j;
    return FL_IFN(fl_lt)(idx, (FL_IVEC){0} + (int)n);
}
FL_INLINE FL_VEC FL_VFN(fl_abs)(FL_VEC x)
{
    return (FL_VEC)((FL_IVEC)x & ~(FL_IVEC)FL_VFN(fl_splat)((FL_REAL)-0.0));
}
/* max(x, 0) and max(-x, 0); NaN -> 0 (callers add a NaN term) */
FL_INLINE FL_VEC FL_VFN(fl_pos)(FL_VEC x) { return FL_VFN(fl_maxv)(x, (FL_VEC){0}); }
FL_INLINE FL_VEC FL_VFN(fl_neg_part)(FL_VEC x) { return FL_VFN(fl_maxv)(-x, (FL_VEC){0}); }
/* clamp to [lo, hi] keeping NaN (fl_maxv / fl_minv return their second
   operand where either is NaN) */
FL_INLINE FL_VEC FL_VFN(fl_clamp)(FL_VEC x, FL_REAL lo, FL_REAL hi)
{
    return FL_VFN(fl_minv)(FL_VFN(fl_splat)(hi), FL_VFN(fl_maxv)(FL_VFN(fl_splat)(lo), x));
}

/* a * b + c with one rounding: the FMA instruction where the level has it
   (AVX2 and AVX-512); below, the plain expression (see fl_recip1p) */
#if FL_X86_LEVEL >= 2
FL_LIFT3(FL_VEC, FL_VEC, FL_VEC, FL_VEC, FL_VFN(fl_fma), FL_VFN(fl_nfma))
#else
FL_INLINE FL_VEC FL_VFN(fl_fma)(FL_VEC a, FL_VEC b, FL_VEC c) { return a * b + c; }
#endif

/* the rounding error a b - p of p = a * b (p the rounded product): one FMA
   where the level has it (AVX2, AVX-512, aarch64's NEON); below, Dekker's product on halves cut by a bit
   mask (float64 26 + 27 bits, float32 12 + 12), whose partial products
   are exact, so that the sum is the same whether or not the compiler
   contracts it into FMAs (an arithmetic split, c - (c - a) with c = K a,
   is not).  Exact but for the last partial product of float64 (2^-106 of
   p); meaningless where a b overflows or underflows. */
#if FL_X86_LEVEL >= 2
FL_INLINE FL_VEC FL_VFN(fl_prod_err)(FL_VEC a, FL_VEC b, FL_VEC p)
{
    return FL_VFN(fl_fma)(a, b, -p);
}
#elif defined(FL_NEON_FMA)
FL_LIFT3(FL_VEC, FL_VEC, FL_VEC, FL_VEC, FL_VFN(fl_fma_neon), FL_VFN(fl_nfma))
FL_INLINE FL_VEC FL_VFN(fl_prod_err)(FL_VEC a, FL_VEC b, FL_VEC p)
{
    return FL_VFN(fl_fma_neon)(a, b, -p);
}
#else
FL_INLINE FL_VEC FL_VFN(fl_prod_err)(FL_VEC a, FL_VEC b, FL_VEC p)
{
    const FL_IVEC mask = (FL_IVEC){0} + FL_TC(FL_SPLIT_MASK);
    FL_VEC ah = (FL_VEC)((FL_IVEC)a & mask), bh = (FL_VEC)((FL_IVEC)b & mask);
    FL_VEC al = a - ah, bl = b - bh;
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
}
#endif

/* x < 0 ? a : b, lane by lane (NaN: b); see fl_nsel_neg in fl_vec.h */
#if FL_X86_LEVEL >= 3
FL_LIFT3(FL_VEC, FL_VEC, FL_VEC, FL_VEC, FL_VFN(fl_sel_neg), FL_VFN(fl_nsel_neg))
#else
FL_INLINE FL_VEC FL_VFN(fl_sel_neg)(FL_VEC x, FL_VEC a, FL_VEC b)
{
    return FL_VFN(fl_sel)(FL_VFN(fl_lt)(x, (FL_VEC){0}), a, b);
}
#endif

#if FL_X86_LEVEL >= 3
/* The table exp of fl_vec.h on one native register.  t = 16 x / ln2 +
   shifter holds n = round(16 x / ln2) in its low bits; r = x - n ln2/16 in
   two parts; the result m = T (1 + p(r)) in [0.97, 2), still to be scaled
   by 2^floor(n/16), with t and nd = n as a float.  With relp, also m's
   rounding as a relative term: m (1 + *relp) is hi + (hi p + lo) before
   that last rounding (its error, exact by Fast2Sum since |hi p + lo| <
   |hi|, times 1/m to 14 bits), which sigmoid_grad adds back
   (fl_exp_negabs_rel). */
FL_INLINE FL_NVEC FL_VFN(fl_nexp_tab_m)(FL_NVEC x, FL_NVEC *tp, FL_NVEC *ndp, FL_NVEC *relp)
{
    FL_NVEC t = x * (FL_REAL)FL_TC(FL_ET_INV16) + (FL_REAL)FL_TC(FL_ET_SHIFTER);
    FL_NVEC nd = t - (FL_REAL)FL_TC(FL_ET_SHIFTER);
    FL_NVEC r = x - nd * FL_TC(FL_ET_LN2HI);
    r = r - nd * FL_TC(FL_ET_LN2LO);
    FL_NVEC hi = FL_VFN(fl_nexp_tab16)(FL_VFN(fl_et_hi), t);
    FL_NVEC lo = FL_VFN(fl_nexp_tab16)(FL_VFN(fl_et_lo), t);
    *tp = t;
    *ndp = nd;
    FL_NVEC u = hi * FL_VFN(fl_nexp_poly)(r) + lo;
    FL_NVEC m = hi + u;
    if (relp)
        *relp = ((hi - m) + u) * FL_VFN(fl_nrcp)(m);
    return m;
}
/* exp(x) for any clamped x (subnormal and overflowing results included):
   m scaled by vscalefpd/ps; relp as for fl_nexp_tab_m (NULL: none) */
FL_INLINE FL_NVEC FL_VFN(fl_nexp_tab_rel)(FL_NVEC x, FL_NVEC *relp)
{
    FL_NVEC t, nd;
    FL_NVEC m = FL_VFN(fl_nexp_tab_m)(x, &t, &nd, relp);
    return FL_VFN(fl_nscalef)(m, nd * (FL_REAL)0.0625);
}
/* exp(x) for |x| <= FL_EXP_NORMAL, where 2^floor(n/16) and the result are
   normal: floor(n/16) added to m's exponent field (n's low bits shifted to
   the top of the word, the 4 index bits masked off, one integer add) */
FL_INLINE FL_NVEC FL_VFN(fl_nexp_tab_normal)(FL_NVEC x)
{
    FL_NVEC t, nd;
    FL_NVEC m = FL_VFN(fl_nexp_tab_m)(x, &t, &nd, NULL);
    (void)nd;
    return (FL_NVEC)((FL_NIVEC)m + (((FL_NIVEC)t << FL_TC(FL_ET_KSHIFT)) & FL_TC(FL_ET_KMASK)));
}
FL_LIFT1(FL_VEC, FL_VFN(fl_exp_tab_normal), FL_VFN(fl_nexp_tab_normal))
/* fl_nexp_tab_rel on a math vector (rel NULL: none) */
FL_INLINE FL_VEC FL_VFN(fl_exp_tab_rel)(FL_VEC x, FL_VEC *rel)
{
    FL_U(FL_VEC) ux = {x}, ue, ur;
    for (int j = 0; j < FL_NV; j++)
        ue.p[j] = FL_VFN(fl_nexp_tab_rel)(ux.p[j], rel ? &ur.p[j] : NULL);
    if (rel)
        *rel = ur.w;
    return ue.w;
}
FL_INLINE FL_VEC FL_VFN(fl_exp_tab)(FL_VEC x) { return FL_VFN(fl_exp_tab_rel)(x, NULL); }
#endif
