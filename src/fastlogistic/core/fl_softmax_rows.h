/*
 * fl_softmax_rows.h -- multi-class kernels with one row per vector lane.
 * Included by fl_softmax_impl.h once per ISA and element type (after its
 * helpers sm_vmax and sm_expdiff).
 *
 * A block of FL_LANES rows is processed together: lane j holds row j, and every
 * step (the maximum, the exponentials, the float64 sums, log1p, the loss and
 * the gradient) runs vertically, class by class, on whole vectors.  There is
 * no horizontal reduction and no scalar work per row apart from reading its
 * target index.  Each operand is addressed by a row stride and a class
 * stride (in elements, any sign, zero included):
 *   - rows one element apart (a Fortran-order (N, C) array, softmax over
 *     axis 0 of a C-order array, a strided class axis): one plain vector
 *     load or store per class;
 *   - otherwise (a C-order array with few classes): the block's logits are
 *     copied once into a stage, class-major, and results are stored lane
 *     by lane.
 * The arithmetic of a row is that of the row kernels in fl_softmax_impl.h
 * (exp(x - m) from TwoSum's hi + lo, S1 and its float64 sums, log1p(S1)),
 * with three differences in the last bits: 1 / S is rounded once and
 * multiplies (softmax, the gradient factor, the target's gradient), log1p's
 * correction term is c (1 / S) and its s = f / (2 + f) a ~1 ULP quotient
 * (rw_log1p).  A block of finite rows takes a lean path (rw_core) that
 * leaves out the selects that are identities on such rows: a row gives the
 * same bits whichever path its block takes.  The last, partial block of
 * rows is staged through `scratch` with zero rows as padding.
 *
 * scratch: room for 7 * C * FL_LANES elements (the exponentials of a block, its
 * staged logits, the staged operands of the last block, and the targets' and
 * results' stages of the in-register transposition).
 */

#if FL_T == 64
#define RW_NH 1
#else
#define RW_NH 2
#endif

/* per-row float64 quantities of a block: RW_NH float64 vectors */
typedef struct { vf64 h[RW_NH]; } FL_VFN(rwd);

FL_INLINE FL_VFN(rwd) FL_VFN(rw_wide)(FL_VEC v)
{
    FL_VFN(rwd) r;
#if FL_T == 64
    r.h[0] = v;
#elif FL_X86_LEVEL >= 3 && FL_NV == 1
    /* two whole-register conversions (through fl_widen_f32's halves GCC
       converts 128 bits at a time) */
    __m512 u = (__m512)v;
    r.h[0] = (vf64)_mm512_cvtps_pd(_mm512_castps512_ps256(u));
    r.h[1] = (vf64)_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
#else
    fl_widen_f32(v, &r.h[0], &r.h[1]);
#endif
    return r;
}

FL_INLINE FL_VEC FL_VFN(rw_narrow)(FL_VFN(rwd) d)
{
#if FL_T == 64
    return d.h[0];
#elif FL_X86_LEVEL >= 3 && FL_NV == 1
    /* in registers: through memory the two half stores and the whole load
       stall store forwarding */
    __m256 l = _mm512_cvtpd_ps((__m512d)d.h[0]), h = _mm512_cvtpd_ps((__m512d)d.h[1]);
    return (vf32)_mm512_castpd_ps(
        _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(l)), _mm256_castps_pd(h), 1));
#elif FL_X86_LEVEL == 2 && FL_NV == 1
    __m128 l = _mm256_cvtpd_ps((__m256d)d.h[0]), h = _mm256_cvtpd_ps((__m256d)d.h[1]);
    return (vf32)_mm256_insertf128_ps(_mm256_castps128_ps256(l), h, 1);
#else
    vf32h l = __builtin_convertvector(d.h[0], vf32h);
    vf32h h = __builtin_convertvector(d.h[1], vf32h);
    vf32 r;
    memcpy(&r, &l, sizeof l);
    memcpy((char *)&r + sizeof l, &h, sizeof h);
    return r;
#endif
}

FL_INLINE FL_VFN(rwd) FL_VFN(rw_dsplat)(double x)
{
    FL_VFN(rwd) r;
    for (int k = 0; k < RW_NH; k++)
        r.h[k] = fl_splat_f64(x);
    return r;
}

/* lanes p[j * rs] */
FL_INLINE FL_VEC FL_VFN(rw_ld)(const FL_REAL *p, ptrdiff_t rs)
{
    if (rs == 1)
        return FL_VFN(fl_load)(p);
    FL_VEC r;
    for (ptrdiff_t j = 0; j < FL_LANES; j++)
        r[j] = p[j * rs];
    return r;
}

FL_INLINE void FL_VFN(rw_st)(FL_REAL *p, ptrdiff_t rs, FL_VEC v)
{
    if (rs == 1) {
        FL_VFN(fl_store)(p, v);
        return;
    }
    for (ptrdiff_t j = 0; j < FL_LANES; j++)
        p[j * rs] = v[j];
}

/* the class indices of FL_LANES rows as lanes, -1 where ignored */
FL_INLINE FL_IVEC FL_VFN(rw_targets)(const int64_t *idx, ptrdiff_t ldi, int64_t ignore)
{
    if (ldi == 1) {
        typedef int64_t vq __attribute__((vector_size(FL_L64 * 8)));
        const vq ig = (vq){0} + ignore;
        vq a[FL_LANES / FL_L64];
        for (ptrdiff_t k = 0; k < FL_LANES / FL_L64; k++) {
            memcpy(&a[k], idx + k * FL_L64, sizeof a[k]);
            a[k] = (vq)((a[k] == ig) | (vq)a[k]);     /* -1 where ignored */
        }
#if FL_T == 64
        return a[0];
#elif FL_X86_LEVEL >= 3 && FL_NV == 1
        /* in registers, as rw_narrow */
        return (FL_IVEC)_mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi64_epi32((__m512i)a[0])),
                                           _mm512_cvtepi64_epi32((__m512i)a[1]), 1);
#else
        typedef int32_t vh __attribute__((vector_size(FL_L64 * 4)));
        vh l = __builtin_convertvector(a[0], vh), h = __builtin_convertvector(a[1], vh);
        FL_IVEC r;
        memcpy(&r, &l, sizeof l);
        memcpy((char *)&r + sizeof l, &h, sizeof h);
        return r;
#endif
    }
    FL_IVEC r;
    for (ptrdiff_t j = 0; j < FL_LANES; j++) {
        int64_t y = idx[j * ldi];
        r[j] = y == ignore ? -1 : y;
    }
    return r;
}

/*
 * In-register transposition of a block of FL_LANES C-order rows (C
 * contiguous vectors, row j's class c at j * C + c) to and from the
 * class-major stage that the kernels below read (class c at c * FL_LANES),
 * at AVX-512: for each class vector (or, going back, each row-major vector),
 * one two-source permute (vpermt2ps/pd) per pair of source vectors that holds
 * any of its lanes, merged by a masked blend.  About C / 2 permutes per
 * vector of results where the element-by-element copy took one load and one
 * store per element.  The indices and lane masks depend on C only:
 * rw_tp_init fills them once per call.  Above RW_TMAX classes rw_tblocks
 * (below) transposes L x L squares instead (float32: from 6 classes, a
 * masked square below 16; float64: from 8 classes, the copy at 7); at the
 * other levels (AVX2, baseline, NEON) rw_lanes copies element by element.
 */
#if FL_X86_LEVEL >= 3 && FL_NV == 1
#define RW_TP 1
/* the class counts that take it (measured: docs/multiclass.md): above
   them the permutes, on the ports the arithmetic needs, cost more than the
   copy's loads and stores (float64) or a masked 16 x 16 transpose
   (float32, from 6 classes; at 5 the permutes were still faster) */
#ifndef RW_TMAX_f64
#define RW_TMAX_f64 6
#endif
#ifndef RW_TMAX_f32
#define RW_TMAX_f32 5
#endif
#define RW_TMAX FL_TC(RW_TMAX)
typedef struct {
    FL_IVEC iix[RW_TMAX];         /* to class-major: class c's permute indices */
    FL_IVEC oix[RW_TMAX];         /* back: row-major vector v's indices */
    uint32_t im[RW_TMAX][(RW_TMAX + 1) / 2];   /* class c: lanes taken from source pair s */
    uint32_t om[RW_TMAX][(RW_TMAX + 1) / 2];   /* vector v: lanes taken from class pair s */
} FL_VFN(rw_tp);

#if FL_T == 64
FL_INLINE FL_VEC FL_VFN(rw_perm2)(const FL_REAL *a, FL_IVEC ix, const FL_REAL *b)
{
    return (FL_VEC)_mm512_permutex2var_pd(_mm512_loadu_pd(a), (__m512i)ix, _mm512_loadu_pd(b));
}
FL_INLINE FL_VEC FL_VFN(rw_blend)(uint32_t m, FL_VEC r, FL_VEC x)
{
    return (FL_VEC)_mm512_mask_blend_pd((__mmask8)m, (__m512d)r, (__m512d)x);
}
#else
FL_INLINE FL_VEC FL_VFN(rw_perm2)(const FL_REAL *a, FL_IVEC ix, const FL_REAL *b)
{
    return (FL_VEC)_mm512_permutex2var_ps(_mm512_loadu_ps(a), (__m512i)ix, _mm512_loadu_ps(b));
}
FL_INLINE FL_VEC FL_VFN(rw_blend)(uint32_t m, FL_VEC r, FL_VEC x)
{
    return (FL_VEC)_mm512_mask_blend_ps((__mmask16)m, (__m512)r, (__m512)x);
}
#endif

static void FL_VFN(rw_tp_init)(FL_VFN(rw_tp) *tp, ptrdiff_t C)
{
    const int L = FL_LANES;
    memset(tp->im, 0, sizeof tp->im);
    memset(tp->om, 0, sizeof tp->om);
    for (int c = 0; c < C; c++)
        for (int j = 0; j < L; j++) {
            const int p = j * (int)C + c;       /* source element of class c, row j */
            tp->iix[c][j] = p & (2 * L - 1);
            tp->im[c][p / (2 * L)] |= 1u << j;
        }
    int j = 0, c = 0;                           /* row and class of element v * L + l */
    for (int v = 0; v < C; v++)
        for (int l = 0; l < L; l++) {
            tp->oix[v][l] = (c & 1) * L + j;
            tp->om[v][c >> 1] |= 1u << l;
            if (++c == C) {
                c = 0;
                j++;
            }
        }
}

/* one vector of the result from the pairs of the C source vectors at src
   (an odd C's last pair is its last vector twice: no lane maps past it) */
FL_INLINE FL_VEC FL_VFN(rw_gather)(const FL_REAL *src, ptrdiff_t C, FL_IVEC ix, const uint32_t *m)
{
    FL_VEC r = FL_VFN(fl_splat)((FL_REAL)0);
    for (ptrdiff_t s = 0; 2 * s < C; s++) {     /* (C <= FL_LANES: every pair holds lanes) */
        const FL_REAL *a = src + 2 * s * FL_LANES;
        r = FL_VFN(rw_blend)(m[s], r, FL_VFN(rw_perm2)(a, ix, 2 * s + 1 < C ? a + FL_LANES : a));
    }
    return r;
}

/* out = 0: dst[c * FL_LANES + j] = src[j * C + c]; out = 1: dst[j * C + c] =
   src[c * FL_LANES + j] */
FL_INLINE void FL_VFN(rw_tk)(const FL_VFN(rw_tp) *tp, const FL_REAL *src, ptrdiff_t C, FL_REAL *dst,
                         const int out)
{
    for (ptrdiff_t v = 0; v < C; v++)
        FL_VFN(fl_store)(dst + v * FL_LANES,
                         FL_VFN(rw_gather)(src, C, out ? tp->oix[v] : tp->iix[v], out ? tp->om[v] : tp->im[v]));
}
/* the same with C a constant (loops unrolled, no test of the masks) */
FL_INLINE void FL_VFN(rw_t)(const FL_VFN(rw_tp) *tp, const FL_REAL *src, ptrdiff_t C, FL_REAL *dst,
                        const int out)
{
    switch (C) {
#define RW_TC(K) case K: FL_VFN(rw_tk)(tp, src, K, dst, out); return;
    RW_TC(2) RW_TC(3) RW_TC(4) RW_TC(5) RW_TC(6)
#if RW_TMAX > 6
    RW_TC(7) RW_TC(8)
#endif
#if RW_TMAX > 8
    RW_TC(9) RW_TC(10) RW_TC(11) RW_TC(12) RW_TC(13) RW_TC(14) RW_TC(15) RW_TC(16)
#endif
#undef RW_TC
    default: FL_VFN(rw_tk)(tp, src, C, dst, out);
    }
}
static void FL_VFN(rw_tin)(const FL_VFN(rw_tp) *tp, const FL_REAL *src, ptrdiff_t C, FL_REAL *dst)
{
    FL_VFN(rw_t)(tp, src, C, dst, 0);
}
static void FL_VFN(rw_tout)(const FL_VFN(rw_tp) *tp, const FL_REAL *src, ptrdiff_t C, FL_REAL *dst)
{
    FL_VFN(rw_t)(tp, src, C, dst, 1);
}
#else
#define RW_TP 0
typedef struct { char unused; } FL_VFN(rw_tp);
#endif

/* ---- the lean path of a block whose logits are all finite ----
 * A block of rows whose logits are all finite, with every row's range
 * max - min finite, takes the lean path of rw_core: there x - m is finite,
 * so TwoSum's lo needs no NaN select and exp no upper clamp (nor the lower
 * one where every range is at most RW_NOCLAMP), the lanes at the maximum
 * give hi = lo = 0 and e = 1 exactly with no select, and the float64 sums
 * add under a mask.  These are the general path's operations with the
 * selects that are identities on such rows left out: a row gives the same
 * bits whichever path its block takes (blocks of other rows decide it). */
#if FL_T == 64
#define RW_REAL_MAX __DBL_MAX__
#else
#define RW_REAL_MAX __FLT_MAX__
#endif
/* the lean path from AVX2 up; its clamp test that of the row kernel's fast
   path (SM_NOCLAMP: below AVX-512 0, fl_exp picks its own form) */
#define RW_LEAN (FL_X86_LEVEL >= 2)
#define RW_NOCLAMP SM_NOCLAMP

/* acc += v (widened to float64) on the lanes where x != mv, cnt -= 1 where
   x == mv: the general path's acc += wide(sel(eq, 0, v)), cnt += eq (acc
   is never -0, so adding nothing and adding +0 are the same bits) */
FL_INLINE void FL_VFN(rw_kacc)(FL_VFN(rwd) *acc, FL_IVEC *cnt, FL_VEC x, FL_VEC mv, FL_VEC v)
{
#if FL_X86_LEVEL >= 3 && FL_NV == 1 && FL_T == 64
    __mmask8 k = _mm512_cmp_pd_mask((__m512d)x, (__m512d)mv, _CMP_EQ_OQ);
    acc->h[0] = (vf64)_mm512_mask_add_pd((__m512d)acc->h[0], (__mmask8)~k, (__m512d)acc->h[0], (__m512d)v);
    *cnt = (FL_IVEC)_mm512_mask_add_epi64((__m512i)*cnt, k, (__m512i)*cnt, _mm512_set1_epi64(-1));
#elif FL_X86_LEVEL >= 3 && FL_NV == 1
    __mmask16 k = _mm512_cmp_ps_mask((__m512)x, (__m512)mv, _CMP_EQ_OQ), nk = (__mmask16)~k;
    __m512 u = (__m512)v;
    acc->h[0] = (vf64)_mm512_mask_add_pd((__m512d)acc->h[0], (__mmask8)nk, (__m512d)acc->h[0],
                                         _mm512_cvtps_pd(_mm512_castps512_ps256(u)));
    acc->h[1] = (vf64)_mm512_mask_add_pd(
        (__m512d)acc->h[1], (__mmask8)(nk >> 8), (__m512d)acc->h[1],
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1))));
    *cnt = (FL_IVEC)_mm512_mask_add_epi32((__m512i)*cnt, k, (__m512i)*cnt, _mm512_set1_epi32(-1));
#else
    FL_IVEC eq = x == mv;
    FL_VFN(rwd) ew = FL_VFN(rw_wide)(FL_VFN(fl_sel)(eq, FL_VFN(fl_splat)((FL_REAL)0), v));
    for (int k = 0; k < RW_NH; k++)
        acc->h[k] += ew.h[k];
    *cnt += eq;
#endif
}

/* yv == c ? a : b lane by lane (yv: the targets).  At AVX-512 one compare
   into a mask register and one blend: through fl_sel GCC turns the mask into
   a vector and back, two more instructions per class and use */
FL_INLINE FL_VEC FL_VFN(rw_ysel)(FL_IVEC yv, ptrdiff_t c, FL_VEC a, FL_VEC b)
{
#if FL_X86_LEVEL >= 3 && FL_NV == 1 && FL_T == 64
    return (FL_VEC)_mm512_mask_blend_pd(_mm512_cmpeq_epi64_mask((__m512i)yv, _mm512_set1_epi64((long long)c)),
                                        (__m512d)b, (__m512d)a);
#elif FL_X86_LEVEL >= 3 && FL_NV == 1
    return (FL_VEC)_mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask((__m512i)yv, _mm512_set1_epi32((int)c)),
                                        (__m512)b, (__m512)a);
#else
    return FL_VFN(fl_sel)(yv == ((FL_IVEC){0} + (int)(c)), a, b);
#endif
}

/* fl_logcore_f64 with its s = f / (2 + f) by fl_div_f64 (at AVX-512 a
   reciprocal and two Newton steps, ~1 ULP, as fl_log1p_unit's s): s only
   scales the small terms (hfsq + R <= ~0.1 |f|), so the result keeps its
   bound, and the block's log1p loses the longer of its two divisions */
FL_INLINE vf64 FL_VFN(rw_logcore)(vf64 f, vf64 dk, vf64 c)
{
    return fl_logcore_s_f64(f, fl_div_f64(f, 2.0 + f), dk, c);
}

/* log1p(y) and r = 1 / (1 + y) for y >= 0 or NaN (a block's S1): fl_log1p's
   arithmetic, with its correction term c / (1 + y) taken as c r (c is a
   rounding error of 1 + y, so its own rounding does not reach the result's
   last bit but for a rare tie) so that the division serves both, without
   the selects for y <= -1 and +inf, which S1 never is, and (AVX-512) with
   its selects on mask registers */
FL_INLINE vf64 FL_VFN(rw_log1p)(vf64 y, vf64 *r)
{
    vf64 u = 1.0 + y;
    vf64 ru = 1.0 / u;
    vf64 f;
    vi64 k = fl_split_f64(u, &f);
    vf64 c0 = 1.0 - (u - y), c1 = y - (u - 1.0);
#if FL_X86_LEVEL >= 3 && FL_NV == 1
    const __m512i ki = (__m512i)k;
    const __mmask8 kge2 = _mm512_cmpge_epi64_mask(ki, _mm512_set1_epi64(2));
    const __mmask8 kex = _mm512_cmplt_epi64_mask(ki, _mm512_set1_epi64(FL_LOG1P_KEXACT_f64));
    const __mmask8 k0 = _mm512_cmpeq_epi64_mask(ki, _mm512_setzero_si512());
    /* c = sel(k >= 2, c0, c1) r, +0 where k >= KEXACT or k == 0 */
    vf64 c = (vf64)_mm512_maskz_mul_pd((__mmask8)(kex & ~k0), _mm512_mask_blend_pd(kge2, (__m512d)c1, (__m512d)c0),
                                       (__m512d)ru);
    f = (vf64)_mm512_mask_blend_pd(k0, (__m512d)f, (__m512d)y);
    vf64 l = FL_VFN(rw_logcore)(f, fl_i2f_f64(k), c);
    l = (vf64)_mm512_mask_blend_pd(_mm512_cmp_pd_mask((__m512d)y, (__m512d)y, _CMP_UNORD_Q), (__m512d)l,
                                   (__m512d)y);
#else
    vf64 c = fl_sel_f64(fl_ge_i64(k, (vi64){0} + 2), c0, c1) * ru;
    c = fl_sel_f64(fl_lt_i64(k, (vi64){0} + FL_LOG1P_KEXACT_f64), c, fl_splat_f64(0));
    vi64 k0 = fl_eq_i64(k, (vi64){0});
    f = fl_sel_f64(k0, y, f);
    c = fl_sel_f64(k0, fl_splat_f64(0), c);
    vf64 l = FL_VFN(rw_logcore)(f, fl_i2f_f64(k), c);
    l = fl_sel_f64(y != y, y, l);
#endif
    *r = ru;
    return l;
}

/* The work of rw_lanes once the block's logits are in place (rows one
   element apart, class c at z + c * zcs).  lean: every logit finite and
   every row's range finite, mv its maxima (else computed here, NaN
   propagating); clamp: some row's range above RW_NOCLAMP. */
FL_INLINE void FL_VFN(rw_core)(const fl_ce_params *P, ptrdiff_t C, const FL_REAL *z, ptrdiff_t zcs,
                               const FL_IVEC *yl, const FL_REAL *t, ptrdiff_t trs, ptrdiff_t tcs,
                               FL_REAL *lossl, FL_REAL *out, ptrdiff_t ors, ptrdiff_t ocs, FL_REAL *et,
                               FL_VFN(rwd) *tot, FL_VFN(rwd) *qp, const int lazy, ptrdiff_t nlive, FL_VEC mv,
                               const int kind, const int mode, const int has_w, const int smooth,
                               const int lean, const int clamp)
{
    const FL_VEC zero = FL_VFN(fl_splat)((FL_REAL)0);
    const FL_REAL *w = kind == 2 && has_w ? (const FL_REAL *)P->w : NULL;
    const double eps = kind == 2 && smooth ? P->eps : 0.0, epc = eps / (double)C;
    const int ce = kind == 2, prob = ce && mode == SM_PROB, idxm = ce && mode == SM_IDX;
    const int extra = ce && (prob || smooth);
    const FL_IVEC yv = idxm ? *yl : (FL_IVEC){0};

    if (!lean) {
        mv = FL_VFN(fl_load)(z);
        for (ptrdiff_t c = 1; c < C; c++)
            mv = FL_VFN(sm_vmax)(mv, FL_VFN(fl_load)(z + c * zcs));
    }
    const FL_VEC nmv = -mv;

    FL_VFN(rwd) acc = FL_VFN(rw_dsplat)(0.0), accd = acc, acca = acc;
    FL_IVEC cnt = (FL_IVEC){0};
    FL_VEC zy = zero, ey = zero, wy = FL_VFN(fl_splat)((FL_REAL)1);
    for (ptrdiff_t c = 0; c < C; c++) {
        FL_VEC x = FL_VFN(fl_load)(z + c * zcs);
        FL_VEC d = zero, e;
        if (lean) {
            e = FL_VFN(sm_expfast)(x, mv, nmv, clamp);   /* the row kernel's fast path's */
            FL_VFN(rw_kacc)(&acc, &cnt, x, mv, e);
            /* x - m: +0 at the maximum but where the row holds both -0
               and +0 there (-0 - +0): a -0 adds as +0 to accd, never -0 */
            if (extra)
                d = x - mv;
        } else {
            FL_IVEC eq;
            e = FL_VFN(sm_expdiff)(x, mv, &eq, &d);
            FL_VFN(rwd) ew = FL_VFN(rw_wide)(FL_VFN(fl_sel)(eq, zero, e));
            for (int k = 0; k < RW_NH; k++)
                acc.h[k] += ew.h[k];
            cnt += eq;
        }
        if (kind != 1)
            FL_VFN(fl_store)(et + c * FL_LANES, e);
        if (idxm) {
            zy = FL_VFN(rw_ysel)(yv, c, x, zy);
            ey = FL_VFN(rw_ysel)(yv, c, e, ey);
            if (has_w)
                wy = FL_VFN(rw_ysel)(yv, c, FL_VFN(fl_splat)(w[c]), wy);
        }
        if (extra) {
            FL_VEC coef;
            if (prob) {
                coef = FL_VFN(rw_ld)(t + c * tcs, trs);
                if (smooth)
                    coef = coef * (FL_REAL)(1.0 - eps) + (FL_REAL)epc;
                if (has_w)
                    coef = coef * w[c];
            } else {
                coef = FL_VFN(fl_splat)(has_w ? w[c] : (FL_REAL)1);
            }
            FL_VFN(rwd) dw = FL_VFN(rw_wide)(FL_VFN(fl_sel)(coef != 0, coef * d, zero));
            for (int k = 0; k < RW_NH; k++)
                accd.h[k] += dw.h[k];
            if (prob) {
                FL_VFN(rwd) cw = FL_VFN(rw_wide)(coef);
                for (int k = 0; k < RW_NH; k++)
                    acca.h[k] += cw.h[k];
            }
        }
    }
    /* S1 = sum of the non-maximal e + (k - 1); NaN for indeterminate rows
       (max -inf, or +inf more than once: none on the lean path) */
    FL_VFN(rwd) K = FL_VFN(rw_wide)(FL_VFN(fl_i2f)(-cnt));
    FL_VFN(rwd) S1, LSE;
    if (lean) {
        for (int k = 0; k < RW_NH; k++)
            S1.h[k] = acc.h[k] + (K.h[k] - 1.0);
    } else {
        const FL_VEC inf = FL_VFN(fl_splat)((FL_REAL)__builtin_inf());
        FL_VFN(rwd) bad = FL_VFN(rw_wide)(FL_VFN(fl_sel)((mv == -inf) | (mv == inf), FL_VFN(fl_splat)((FL_REAL)1), zero));
        FL_VFN(rwd) pinf = FL_VFN(rw_wide)(FL_VFN(fl_sel)(mv == inf, FL_VFN(fl_splat)((FL_REAL)1), zero));
        for (int k = 0; k < RW_NH; k++) {
            vf64 s = acc.h[k] + (K.h[k] - 1.0);
            vi64 nan_ = (bad.h[k] != 0.0) & ((pinf.h[k] == 0.0) | (K.h[k] > 1.0));
            S1.h[k] = fl_sel_f64(nan_, fl_splat_f64(__builtin_nan("")), s);
        }
    }
    /* lz: the summed loss of index targets without weights or smoothing
       (lazy: no per-row losses wanted) on the lean path.  The sum of
       the rows' log1p(S1) is log1p(Q) with 1 + Q = prod (1 + S1), Q kept
       lane by lane in float64 as Q + S1 + Q S1 (the binary kernels' lazy
       sum, bcel_span), log1p taken once per call of rw_rows: no log1p per
       row; the gradient is the same bits. */
    const int lz = lazy && lean && idxm && !has_w && !smooth;
    /* Rd = 1 / S = 1 / (1 + S1) */
    FL_VFN(rwd) Rd;
    for (int k = 0; k < RW_NH; k++) {
        if (kind != 0 && !lz)
            LSE.h[k] = FL_VFN(rw_log1p)(S1.h[k], &Rd.h[k]);
        else
            Rd.h[k] = 1.0 / (1.0 + S1.h[k]);
    }
    if (kind == 0) {
        /* e / S as e (1 / S), 1 / S rounded once from float64 (as the row
           kernel): one division per float64 vector, not one per class */
        FL_VEC rv = FL_VFN(rw_narrow)(Rd);
        for (ptrdiff_t c = 0; c < C; c++)
            FL_VFN(rw_st)(out + c * ocs, ors, FL_VFN(fl_load)(et + c * FL_LANES) * rv);
        return;
    }
    if (kind == 1) {
        FL_VEC lv = FL_VFN(rw_narrow)(LSE);
        for (ptrdiff_t c = 0; c < C; c++) {
            FL_VEC x = FL_VFN(fl_load)(z + c * zcs);
            /* lean: x - m is finite, +0 at the maximum (or -0 where the
               row's maximum is both -0 and +0, whose lv >= log 2 is not 0:
               the same difference) */
            FL_VEC dv = lean ? x - mv : FL_VFN(fl_sel)(x == mv, zero, x - mv);
            FL_VFN(rw_st)(out + c * ocs, ors, dv - lv);
        }
        return;
    }
    /* cross-entropy: per-row loss l and gradient factor a gs / S (1 / S
       rounded once, one division per float64 vector) */
    const double gs = P->gscale;
    FL_VFN(rwd) Ld, Fd, GYd;
    FL_IVEC keep = idxm ? yv >= 0 : (FL_IVEC){0} - 1;
    if (idxm) {
        FL_VFN(rwd) M = FL_VFN(rw_wide)(mv), ZY = FL_VFN(rw_wide)(zy), EY = FL_VFN(rw_wide)(ey);
        FL_VFN(rwd) WY = FL_VFN(rw_wide)(wy), KP = FL_VFN(rw_wide)(FL_VFN(fl_sel)(keep, FL_VFN(fl_splat)((FL_REAL)1), zero));
        for (int k = 0; k < RW_NH; k++) {
            vi64 top = ZY.h[k] == M.h[k];
            vi64 kp = KP.h[k] != 0.0;
            if (lz) {
                /* finite: M - ZY is +0 at the top, exact in float64 */
                vf64 s1 = fl_sel_f64(kp, S1.h[k], fl_splat_f64(0.0));
                qp->h[k] = (qp->h[k] + s1) + qp->h[k] * s1;
                vf64 R = Rd.h[k];
                vf64 q = fl_sel_f64(top, S1.h[k], 1.0 + (S1.h[k] - EY.h[k])) * R;
                Ld.h[k] = fl_sel_f64(kp, M.h[k] - ZY.h[k], fl_splat_f64(0.0));
                Fd.h[k] = fl_sel_f64(kp, gs * R, fl_splat_f64(0.0));
                GYd.h[k] = gs * (-q);
                continue;
            }
            vf64 nll = LSE.h[k] + fl_sel_f64(top, fl_splat_f64(0.0), M.h[k] - ZY.h[k]);
            vf64 l, a;
            if (smooth) {
                l = (1.0 - eps) * WY.h[k] * nll + epc * (P->wall * LSE.h[k] - accd.h[k]);
                a = (1.0 - eps) * WY.h[k] + epc * P->wall;
            } else {
                l = has_w ? WY.h[k] * nll : nll;
                a = WY.h[k];
            }
            vf64 R = Rd.h[k];
            vf64 q = fl_sel_f64(top, S1.h[k], 1.0 + (S1.h[k] - EY.h[k])) * R;
            vf64 gy = smooth ? epc * (P->wall - WY.h[k]) - a * q : -a * q;
            Ld.h[k] = fl_sel_f64(kp, l, fl_splat_f64(0.0));
            Fd.h[k] = fl_sel_f64(kp, a * gs * R, fl_splat_f64(0.0));
            GYd.h[k] = gs * gy;
        }
    } else {
        for (int k = 0; k < RW_NH; k++) {
            Ld.h[k] = acca.h[k] * LSE.h[k] - accd.h[k];
            Fd.h[k] = acca.h[k] * gs * Rd.h[k];
        }
    }
    for (int k = 0; k < RW_NH; k++) {
        if (nlive < FL_LANES) {      /* padding rows of the last block: not counted */
            vf64 lane;
            for (ptrdiff_t i = 0; i < FL_L64; i++)
                lane[i] = (double)(k * FL_L64 + i);
            Ld.h[k] = fl_sel_f64(lane < (double)nlive, Ld.h[k], fl_splat_f64(0.0));
        }
        tot->h[k] += Ld.h[k];
    }
    if (lossl && !lz)
        FL_VFN(fl_store)(lossl, FL_VFN(rw_narrow)(Ld));
    if (!out)
        return;
    FL_VEC fv = FL_VFN(rw_narrow)(Fd);
    FL_VEC gyv = idxm ? FL_VFN(rw_narrow)(GYd) : zero;
    const FL_REAL cs = (FL_REAL)(prob ? gs : epc * gs);
    if (lean && idxm && !smooth) {
        /* e finite: e fv is already +0 on the ignored rows (fv = +0 there) */
        const FL_VEC gyk = FL_VFN(fl_sel)(keep, gyv, zero);
        for (ptrdiff_t c = 0; c < C; c++) {
            FL_VEC gv = FL_VFN(fl_load)(et + c * FL_LANES) * fv;
            gv = FL_VFN(rw_ysel)(yv, c, gyk, gv);
            FL_VFN(rw_st)(out + c * ocs, ors, gv);
        }
        return;
    }
    for (ptrdiff_t c = 0; c < C; c++) {
        FL_VEC gv = FL_VFN(fl_load)(et + c * FL_LANES) * fv;
        if (prob) {
            FL_VEC tv = FL_VFN(rw_ld)(t + c * tcs, trs);
            if (smooth)
                tv = tv * (FL_REAL)(1.0 - eps) + (FL_REAL)epc;
            if (has_w)
                tv = tv * w[c];
            gv = gv - tv * cs;
        } else if (smooth) {
            gv = gv - (has_w ? w[c] : (FL_REAL)1) * cs;
        }
        if (idxm)
            gv = FL_VFN(fl_sel)(keep, FL_VFN(rw_ysel)(yv, c, gyv, gv), zero);
        FL_VFN(rw_st)(out + c * ocs, ors, gv);
    }
}

/*
 * Two classes, index targets, no weights or smoothing: the binary problem.
 * With d = z_other - z_target, the loss is softplus(d) and the gradient
 * s(d) on the other class, -s(d) on the target (p_target - 1 = -p_other),
 * so a row costs what the binary kernels' element costs (one exp, one
 * reciprocal; the sum's log1p lazy, as theirs) where the general path did
 * the row's max, two exps and the float64 epilogue.  d is exact as d + lo
 * (TwoSum), and lo enters to first order: softplus(d + lo) = softplus(d) +
 * s(d) lo, s(d + lo) = s(d) + s(d) s(-d) lo (the second order, lo^2/8, is
 * below the last bit).  Every block of such rows comes here, finite or not:
 * an infinite logit gives d = +-inf (loss inf or 0, gradient +-1 or 0, as
 * the general path), a NaN, or +inf or -inf twice in a row, d = NaN.
 */
#if RW_TP
/* C-order pairs (rows 2 apart) to and from the two class vectors in
   registers: one two-source permute per vector each way */
FL_INLINE void FL_VFN(rw_k2_in)(const FL_REAL *z, FL_VEC *z0, FL_VEC *z1)
{
    FL_IVEC ev, od;
    for (int j = 0; j < FL_LANES; j++) {
        ev[j] = 2 * j;
        od[j] = 2 * j + 1;
    }
    *z0 = FL_VFN(rw_perm2)(z, ev, z + FL_LANES);
    *z1 = FL_VFN(rw_perm2)(z, od, z + FL_LANES);
}
FL_INLINE void FL_VFN(rw_k2_out)(FL_REAL *o, FL_VEC g0, FL_VEC g1)
{
    FL_IVEC lo, hi;
    for (int j = 0; j < FL_LANES; j++) {
        lo[j] = j / 2 + (j % 2) * FL_LANES;
        hi[j] = FL_LANES / 2 + j / 2 + (j % 2) * FL_LANES;
    }
#if FL_T == 64
    _mm512_storeu_pd(o, _mm512_permutex2var_pd((__m512d)g0, (__m512i)lo, (__m512d)g1));
    _mm512_storeu_pd(o + FL_LANES, _mm512_permutex2var_pd((__m512d)g0, (__m512i)hi, (__m512d)g1));
#else
    _mm512_storeu_ps(o, _mm512_permutex2var_ps((__m512)g0, (__m512i)lo, (__m512)g1));
    _mm512_storeu_ps(o + FL_LANES, _mm512_permutex2var_ps((__m512)g0, (__m512i)hi, (__m512)g1));
#endif
}
#endif
FL_INLINE void FL_VFN(rw_k2)(const fl_ce_params *P, const FL_REAL *z, ptrdiff_t zrs, ptrdiff_t zcs,
                             const FL_IVEC *yl, FL_REAL *lossl, FL_REAL *out, ptrdiff_t ors,
                             ptrdiff_t ocs, FL_VFN(rwd) *tot, FL_VFN(rwd) *qp, const int lazy)
{
    const FL_VEC zero = FL_VFN(fl_splat)((FL_REAL)0);
    const FL_IVEC yv = *yl, keep = yv >= 0;        /* -1: ignored, or padding */
    FL_VEC z0, z1;
#if RW_TP
    if (zcs == 1 && zrs == 2)
        FL_VFN(rw_k2_in)(z, &z0, &z1);
    else
#endif
    {
        z0 = FL_VFN(rw_ld)(z, zrs);
        z1 = FL_VFN(rw_ld)(z + zcs, zrs);
    }
    const FL_VEC a = FL_VFN(rw_ysel)(yv, 1, z1, z0), b = FL_VFN(rw_ysel)(yv, 1, z0, z1);
    const FL_VEC d = b - a;
    const FL_VEC bv = d + a, av = d - bv;           /* TwoSum(b, -a) */
    FL_VEC lo = (b - bv) - (a + av);
    lo = FL_VFN(fl_sel)(lo == lo, lo, zero);        /* d = +-inf or NaN: lo NaN */
    const FL_VEC e = FL_VFN(fl_exp_negabs)(d);
    const FL_VEC rp = FL_VFN(fl_recip1pe)(e);
    const FL_VEC sd = FL_VFN(fl_sel_neg)(d, e * rp, rp);
    const FL_VEC corr = sd * lo;
    FL_VEC base = FL_VFN(fl_pos)(d) + corr;        /* the loss but log1p(e) */
    if (lazy) {
        FL_VEC ek = FL_VFN(fl_sel)(keep, e, zero);
        FL_VFN(rwd) ew = FL_VFN(rw_wide)(ek);
        for (int k = 0; k < RW_NH; k++)
            qp->h[k] = (qp->h[k] + ew.h[k]) + qp->h[k] * ew.h[k];
    } else {
        base = base + FL_VFN(fl_log1p_unit)(e);
    }
    base = FL_VFN(fl_sel)(keep, base, zero);
    if (lossl && !lazy)
        FL_VFN(fl_store)(lossl, base);
    FL_VFN(rwd) bw = FL_VFN(rw_wide)(base);
    for (int k = 0; k < RW_NH; k++)
        tot->h[k] += bw.h[k];
    if (!out)
        return;
    const FL_VEC g = FL_VFN(fl_sel)(keep, (sd + ((e * rp) * rp) * lo) * (FL_REAL)P->gscale, zero);
    const FL_VEC g0 = FL_VFN(rw_ysel)(yv, 0, -g, g), g1 = FL_VFN(rw_ysel)(yv, 1, -g, g);
#if RW_TP
    if (ocs == 1 && ors == 2) {
        FL_VFN(rw_k2_out)(out, g0, g1);
        return;
    }
#endif
    FL_VFN(rw_st)(out, ors, g0);
    FL_VFN(rw_st)(out + ocs, ors, g1);
}

/* kind: 0 softmax, 1 log_softmax, 2 cross-entropy (mode SM_IDX / SM_PROB).
   One block of exactly FL_LANES rows; yl: the target of each lane (-1: ignored);
   lossl: FL_LANES per-row losses (contiguous) or NULL; et: C * FL_LANES scratch.
   Adds the rows' losses to *tot (lane-wise). */
FL_INLINE void FL_VFN(rw_lanes)(const fl_ce_params *P, ptrdiff_t C, const FL_REAL *z, ptrdiff_t zrs,
                            ptrdiff_t zcs, const FL_IVEC *yl, const FL_REAL *t, ptrdiff_t trs,
                            ptrdiff_t tcs, FL_REAL *lossl, FL_REAL *out, ptrdiff_t ors, ptrdiff_t ocs,
                            FL_REAL *et, FL_REAL *zs, FL_VFN(rwd) *tot, FL_VFN(rwd) *qp, const int lazy, ptrdiff_t nlive,
                            const int kind, const int mode, const int has_w, const int smooth)
{
    if (zrs != 1) {
        /* rows not one element apart: copied once into the stage (class c
           at zs + c * FL_LANES; element by element, which on AMD Zen 4 beat the
           level's gather), then every pass loads plain vectors */
        for (ptrdiff_t j = 0; j < FL_LANES; j++)
            for (ptrdiff_t c = 0; c < C; c++)
                zs[c * FL_LANES + j] = z[j * zrs + c * zcs];
        z = zs;
        zrs = 1;
        zcs = FL_LANES;
    }
#if RW_LEAN
    /* the maxima (fl_maxv: the same as sm_vmax's where there is no NaN),
       the minima, and ck: NaN where some logit is +-inf or NaN */
    FL_VEC mx = FL_VFN(fl_load)(z), mn = mx, ck = mx * (FL_REAL)0;
    for (ptrdiff_t c = 1; c < C; c++) {
        FL_VEC x = FL_VFN(fl_load)(z + c * zcs);
        mx = FL_VFN(fl_maxv)(mx, x);
        mn = FL_VFN(fl_minv)(mn, x);
        ck = ck + x * (FL_REAL)0;
    }
    const FL_VEC rg = (mx - mn) + ck;
    if (RW_NOCLAMP > 0 && !FL_VFN(fl_above)(rg, RW_NOCLAMP)) {
        FL_VFN(rw_core)(P, C, z, zcs, yl, t, trs, tcs, lossl, out, ors, ocs, et, tot, qp, lazy, nlive, mx, kind,
                        mode, has_w, smooth, 1, 0);
        return;
    }
    if (!FL_VFN(fl_above)(rg, RW_REAL_MAX)) {
        FL_VFN(rw_core)(P, C, z, zcs, yl, t, trs, tcs, lossl, out, ors, ocs, et, tot, qp, lazy, nlive, mx, kind,
                        mode, has_w, smooth, 1, 1);
        return;
    }
#endif
    FL_VFN(rw_core)(P, C, z, zcs, yl, t, trs, tcs, lossl, out, ors, ocs, et, tot, qp, lazy, nlive, FL_VFN(fl_splat)((FL_REAL)0), kind,
                    mode, has_w, smooth, 0, 0);
}

/*
 * Categorical cross-entropy on probabilities p (kind 3, mode SM_IDX or
 * SM_PROB), one block of exactly FL_LANES rows as lanes, arguments as for
 * rw_lanes (zs: the stage); ld: the FL_LANES rows' losses in float64 (the
 * caller adds them in row order, as the row kernel does).  Each row's
 * arithmetic is that of the row kernel (fl_softmax_impl.h's cce), operation
 * for operation, except the order of a probability target's loss sum: here
 * the classes in order, there vector chunks then across (that loss may differ
 * in the last bits; the gradient, and the loss of an index target, are the
 * same bits).  *fb: per lane, the first class whose p is outside [0, 1] or
 * NaN, C where none.
 */
FL_INLINE void FL_VFN(rw_cce_lanes)(const fl_ce_params *P, ptrdiff_t C, const FL_REAL *p, ptrdiff_t prs,
                                ptrdiff_t pcs, const FL_IVEC *yl, const FL_REAL *t, ptrdiff_t trs,
                                ptrdiff_t tcs, FL_REAL *lossl, FL_REAL *out, ptrdiff_t ors, ptrdiff_t ocs,
                                FL_REAL *zs, double *ld, FL_IVEC *fb, const int mode,
                                const int has_w)
{
    const FL_VEC zero = FL_VFN(fl_splat)((FL_REAL)0), one = FL_VFN(fl_splat)((FL_REAL)1);
    const FL_VEC lo = FL_VFN(fl_splat)((FL_REAL)-100), tiny = FL_VFN(fl_splat)((FL_REAL)1e-12);
    const FL_REAL *w = has_w ? (const FL_REAL *)P->w : NULL;
    const FL_REAL gs = (FL_REAL)P->gscale;
    const int idxm = mode == SM_IDX;
    const FL_IVEC yv = idxm ? *yl : (FL_IVEC){0};
    const FL_IVEC cn = (FL_IVEC){0} + (int)C;

    if (prs != 1) {       /* rows not one element apart: staged as in rw_lanes */
        for (ptrdiff_t j = 0; j < FL_LANES; j++)
            for (ptrdiff_t c = 0; c < C; c++)
                zs[c * FL_LANES + j] = p[j * prs + c * pcs];
        p = zs;
        prs = 1;
        pcs = FL_LANES;
    }
    FL_IVEC f = cn;
    FL_VEC py = one, wy = one;
    FL_VFN(rwd) acc = FL_VFN(rw_dsplat)(0.0);
    for (ptrdiff_t c = 0; c < C; c++) {
        const FL_VEC x = FL_VFN(fl_load)(p + c * pcs);
        const FL_IVEC cv = (FL_IVEC){0} + (int)c;
        const FL_IVEC first = ~((x >= 0) & (x <= 1)) & (f == cn);
        f = (first & cv) | (~first & f);
        if (idxm) {
            const FL_IVEC is = yv == cv;
            py = FL_VFN(fl_sel)(is, x, py);
            if (has_w)
                wy = FL_VFN(fl_sel)(is, FL_VFN(fl_splat)(w[c]), wy);
            continue;
        }
        FL_VEC tv = FL_VFN(rw_ld)(t + c * tcs, trs);
        if (has_w)
            tv = tv * w[c];
        FL_VEC lp = FL_VFN(fl_log)(x);
        lp = FL_VFN(fl_sel)(lp > lo, lp, lo);
        FL_VFN(rwd) lw = FL_VFN(rw_wide)(-(tv * lp));
        for (int k = 0; k < RW_NH; k++)
            acc.h[k] += lw.h[k];
        if (out)
            FL_VFN(rw_st)(out + c * ocs, ors, -(tv / FL_VFN(fl_sel)(x > tiny, x, tiny)) * gs);
    }
    *fb = f;
    FL_VFN(rwd) Ld, Gd;
    const FL_IVEC keep = idxm ? yv >= 0 : (FL_IVEC){0} - 1;
    if (idxm) {
        FL_VFN(rwd) LP = FL_VFN(rw_wide)(FL_VFN(fl_log)(py)), WY = FL_VFN(rw_wide)(wy);
        FL_VFN(rwd) PY = FL_VFN(rw_wide)(py);
        FL_VFN(rwd) KP = FL_VFN(rw_wide)(FL_VFN(fl_sel)(keep, one, zero));
        for (int k = 0; k < RW_NH; k++) {
            vf64 lp = fl_sel_f64(LP.h[k] < -100.0, fl_splat_f64(-100.0), LP.h[k]);
            vf64 m = fl_sel_f64(PY.h[k] > 1e-12, PY.h[k], fl_splat_f64(1e-12));
            vi64 kp = KP.h[k] != 0.0;
            Ld.h[k] = fl_sel_f64(kp, -WY.h[k] * lp, fl_splat_f64(0.0));
            Gd.h[k] = -WY.h[k] / m * (double)gs;
        }
    } else {
        Ld = acc;
    }
    memcpy(ld, &Ld, sizeof Ld);
    if (lossl)
        FL_VFN(fl_store)(lossl, FL_VFN(rw_narrow)(Ld));
    if (out && idxm) {
        const FL_VEC gyv = FL_VFN(rw_narrow)(Gd);
        for (ptrdiff_t c = 0; c < C; c++)
            FL_VFN(rw_st)(out + c * ocs, ors,
                          FL_VFN(fl_sel)(keep & (yv == ((FL_IVEC){0} + (int)(c))), gyv, zero));
    }
}

/*
 * From FL_LANES classes up, a C-order block (FL_LANES rows, C apart) is an
 * FL_LANES x C matrix: it goes to and from the class-major stage by
 * FL_LANES x FL_LANES register transposes (unpacks and 128-bit lane
 * shuffles: 64 instructions per 256 float32, 24 per 64 float64, where the
 * element-by-element copy takes a load and a store per element), the last
 * C % FL_LANES classes element by element.
 */
#if RW_TP
#if FL_T == 32
/* an L x L block: d[j * dld + i] = s[i * sld + j], of which the first ns
   source rows are read (the lanes in sm; the rest 0) and the first nd
   destination rows written (the lanes in dm): a partial square at the end
   of a row, with no access past it */
FL_INLINE void rw_block_f32(const float *s, ptrdiff_t sld, float *d, ptrdiff_t dld, int ns,
                            __mmask16 sm, int nd, __mmask16 dm)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = i >= ns ? _mm512_setzero_ps()
             : sm == 0xffff ? _mm512_loadu_ps(s + i * sld) : _mm512_maskz_loadu_ps(sm, s + i * sld);
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; i++) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
    for (int k = 0; k < 16 && k < nd; k++) {
        __m512 v = k < 8 ? _mm512_shuffle_f32x4(t[k], t[k + 8], 0x88) : _mm512_shuffle_f32x4(t[k - 8], t[k], 0xdd);
        if (dm == 0xffff)
            _mm512_storeu_ps(d + k * dld, v);
        else
            _mm512_mask_storeu_ps(d + k * dld, dm, v);
    }
}
#else
FL_INLINE void rw_block_f64(const double *s, ptrdiff_t sld, double *d, ptrdiff_t dld, int ns,
                            __mmask8 sm, int nd, __mmask8 dm)
{
    __m512d r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = i >= ns ? _mm512_setzero_pd()
             : sm == 0xff ? _mm512_loadu_pd(s + i * sld) : _mm512_maskz_loadu_pd(sm, s + i * sld);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    for (int h = 0; h < 8; h += 4) {
        r[h] = _mm512_shuffle_f64x2(t[h], t[h + 2], 0x88);
        r[h + 1] = _mm512_shuffle_f64x2(t[h + 1], t[h + 3], 0x88);
        r[h + 2] = _mm512_shuffle_f64x2(t[h], t[h + 2], 0xdd);
        r[h + 3] = _mm512_shuffle_f64x2(t[h + 1], t[h + 3], 0xdd);
    }
    for (int k = 0; k < 8 && k < nd; k++) {
        __m512d v = k < 4 ? _mm512_shuffle_f64x2(r[k], r[k + 4], 0x88) : _mm512_shuffle_f64x2(r[k - 4], r[k], 0xdd);
        if (dm == 0xff)
            _mm512_storeu_pd(d + k * dld, v);
        else
            _mm512_mask_storeu_pd(d + k * dld, dm, v);
    }
}
#endif

/* into: stage[c * L + j] = x[j * C + c]; else x[j * C + c] = stage[c * L + j] */
FL_INLINE void FL_VFN(rw_tblocks)(FL_REAL *x, ptrdiff_t C, FL_REAL *stage, const int into)
{
    const unsigned full = (1u << FL_LANES) - 1;
    ptrdiff_t c0 = 0;
    for (; c0 + FL_LANES <= C; c0 += FL_LANES) {
        if (into)
            FL_XCAT2(rw_block, FL_S)(x + c0, C, stage + c0 * FL_LANES, FL_LANES, FL_LANES, full, FL_LANES, full);
        else
            FL_XCAT2(rw_block, FL_S)(stage + c0 * FL_LANES, FL_LANES, x + c0, C, FL_LANES, full, FL_LANES, full);
    }
    /* float32, fewer than L classes (6 to 15: above the permutes' range):
       one partial square, masked, where the copy took a load and a store
       per element (faster for softmax and CE).  Not as
       the tail of a longer row (better at 25 classes, worse at 17 to 23),
       and not at float64's 7 classes (the CE kernel's registers spilled
       and it ran slower at 7 and 12): there the copy stays
       (docs/multiclass.md) */
#if FL_T == 32
    if (C < FL_LANES) {
        const int w = (int)C;
        const unsigned m = (1u << w) - 1;
        if (into)
            FL_XCAT2(rw_block, FL_S)(x, C, stage, FL_LANES, FL_LANES, m, w, full);
        else
            FL_XCAT2(rw_block, FL_S)(stage, FL_LANES, x, C, w, full, FL_LANES, m);
        return;
    }
#endif
    for (; c0 < C; c0++)
        for (ptrdiff_t j = 0; j < FL_LANES; j++) {
            if (into)
                stage[c0 * FL_LANES + j] = x[j * C + c0];
            else
                x[j * C + c0] = stage[c0 * FL_LANES + j];
        }
}
#endif

/*
 * rw_lanes and rw_cce_lanes with their C-order operands (rows C apart,
 * classes contiguous: the blocks of a C-order array, and rw_rows' staged
 * blocks) moved to and from the class-major stage in registers: by
 * rw_tin / rw_tout up to RW_TMAX classes (tp set), by rw_tblocks from
 * FL_LANES classes up; otherwise (and below AVX-512) the kernels' own
 * element-by-element staging.  ts, os: room for C * FL_LANES elements each
 * (the targets' and the results' stages).
 */
#if RW_TP
#if FL_T == 32
#define RW_T_OK (tp || C > RW_TMAX)
#else
#define RW_T_OK (tp || C >= FL_LANES)
#endif
#define RW_T_IN(X, XRS, XCS, STAGE)                                            \
    if (RW_T_OK && (X) && (XCS) == 1 && (XRS) == C) {                          \
        if (tp)                                                                \
            FL_VFN(rw_tin)(tp, X, C, STAGE);                                   \
        else                                                                   \
            FL_VFN(rw_tblocks)((FL_REAL *)(X), C, STAGE, 1);                   \
        X = STAGE;                                                             \
        XRS = 1;                                                               \
        XCS = FL_LANES;                                                        \
    }
#define RW_T_OUT_BEGIN                                                         \
    FL_REAL *o_ = NULL;                                                        \
    if (RW_T_OK && out && ocs == 1 && ors == C) {                              \
        o_ = out;                                                              \
        out = os;                                                              \
        ors = 1;                                                               \
        ocs = FL_LANES;                                                        \
    }
#define RW_T_OUT_END                                                           \
    if (o_) {                                                                  \
        if (tp)                                                                \
            FL_VFN(rw_tout)(tp, os, C, o_);                                    \
        else                                                                   \
            FL_VFN(rw_tblocks)(o_, C, os, 0);                                  \
    }
#else
#define RW_T_IN(X, XRS, XCS, STAGE)
#define RW_T_OUT_BEGIN
#define RW_T_OUT_END
#endif

FL_INLINE void FL_VFN(rw_lanes_t)(const FL_VFN(rw_tp) *tp, FL_REAL *ts, FL_REAL *os,
                              const fl_ce_params *P, ptrdiff_t C, const FL_REAL *z, ptrdiff_t zrs,
                              ptrdiff_t zcs, const FL_IVEC *yl, const FL_REAL *t, ptrdiff_t trs,
                              ptrdiff_t tcs, FL_REAL *lossl, FL_REAL *out, ptrdiff_t ors, ptrdiff_t ocs,
                              FL_REAL *et, FL_REAL *zs, FL_VFN(rwd) *tot, FL_VFN(rwd) *qp, const int lazy, ptrdiff_t nlive,
                              const int kind, const int mode, const int has_w, const int smooth)
{
    (void)tp, (void)ts, (void)os;
    if (C == 2 && kind == 2 && mode == SM_IDX && !has_w && !smooth) {
        FL_VFN(rw_k2)(P, z, zrs, zcs, yl, lossl, out, ors, ocs, tot, qp, lazy);
        return;
    }
    RW_T_IN(z, zrs, zcs, zs)
    RW_T_IN(t, trs, tcs, ts)
    RW_T_OUT_BEGIN
    FL_VFN(rw_lanes)(P, C, z, zrs, zcs, yl, t, trs, tcs, lossl, out, ors, ocs, et, zs, tot, qp, lazy, nlive,
                     kind, mode, has_w, smooth);
    RW_T_OUT_END
}

FL_INLINE void FL_VFN(rw_cce_lanes_t)(const FL_VFN(rw_tp) *tp, FL_REAL *ts, FL_REAL *os,
                                  const fl_ce_params *P, ptrdiff_t C, const FL_REAL *p, ptrdiff_t prs,
                                  ptrdiff_t pcs, const FL_IVEC *yl, const FL_REAL *t, ptrdiff_t trs,
                                  ptrdiff_t tcs, FL_REAL *lossl, FL_REAL *out, ptrdiff_t ors,
                                  ptrdiff_t ocs, FL_REAL *zs, double *ld, FL_IVEC *fb, const int mode,
                                  const int has_w)
{
    (void)tp, (void)ts, (void)os;
    RW_T_IN(p, prs, pcs, zs)
    RW_T_IN(t, trs, tcs, ts)
    RW_T_OUT_BEGIN
    FL_VFN(rw_cce_lanes)(P, C, p, prs, pcs, yl, t, trs, tcs, lossl, out, ors, ocs, zs, ld, fb, mode,
                         has_w);
    RW_T_OUT_END
}
#undef RW_T_IN
#ifdef RW_T_OK
#undef RW_T_OK
#endif
#undef RW_T_OUT_BEGIN
#undef RW_T_OUT_END

/*
 * Rows [0, nrows) of any strides through rw_lanes.  The rows may lie in
 * several outer slices of R rows each (an (outer, R, C) operand, e.g. the
 * (N, C, d) array of a class axis in the middle): row r is row i0 + r of
 * the slices from z on, i.e. slice o = (i0 + r) / R, row i = (i0 + r) % R,
 * at z + o * zos + i * zrs + c * zcs (so for t and out with tos, oos).
 * One slice (R = nrows, i0 = 0) is the plain 2-D case.  idx/ldi: class
 * indices (mode SM_IDX); loss/lds: per-row losses or NULL; both count r
 * from 0 across the slices.  A block of FL_LANES rows within one slice is
 * read in place; one that crosses a slice boundary, and the last, partial
 * block, are staged row by row.  Returns the loss sum (lane by lane over
 * the blocks, then across the lanes: the same order whatever the slices;
 * categorical cross-entropy: in row order, as its row kernel).
 */
FL_INLINE double FL_VFN(rw_rows)(const fl_ce_params *P, ptrdiff_t C, const FL_REAL *z, ptrdiff_t zrs,
                             ptrdiff_t zcs, const int64_t *idx, ptrdiff_t ldi, const FL_REAL *t,
                             ptrdiff_t trs, ptrdiff_t tcs, FL_REAL *loss, ptrdiff_t lds, FL_REAL *out,
                             ptrdiff_t ors, ptrdiff_t ocs, ptrdiff_t nrows, FL_REAL *scratch,
                             ptrdiff_t R, ptrdiff_t i0, ptrdiff_t zos, ptrdiff_t tos, ptrdiff_t oos,
                             ptrdiff_t *first_bad,
                             const int kind, const int mode, const int has_w, const int smooth)
{
    const int prob = kind >= 2 && mode == SM_PROB, idxm = kind >= 2 && mode == SM_IDX;
    FL_IVEC fb;
    FL_REAL *et = scratch;
    FL_VFN(rwd) tot = FL_VFN(rw_dsplat)(0.0), q = tot;
    /* a sum without per-row losses: rw_core's lazy log1p (q) */
    const int lazy = kind == 2 && idxm && !has_w && !smooth && !loss;
    FL_VFN(rwd) *qp = &q;
    /* each row multiplies Q + 1 by 1 + S1 <= C: folded into tot every
       qflush blocks, before C^qflush could reach 2^900 (a count of blocks
       from the call's first row: the same sums however many threads) */
    const ptrdiff_t qflush = 900 / (64 - __builtin_clzll((unsigned long long)C)) > 1
                                 ? 900 / (64 - __builtin_clzll((unsigned long long)C)) : 1;
    ptrdiff_t nq = 0;
    double srow = 0.0, ld[FL_LANES];     /* kind 3: the rows' losses in row order */
    FL_REAL ll[FL_LANES] = {0};
    FL_IVEC yl = (FL_IVEC){0};
    /* staged blocks: copied row-major into the stage (rows C apart), padded
       with zero rows, and written back from there.  One call site for both,
       so that each row gets the same instructions (the same contractions
       into FMA) wherever its block starts. */
    FL_REAL *zt = scratch + 2 * C * FL_LANES, *tt = zt + C * FL_LANES, *ot = tt + C * FL_LANES;
    /* the transposition's stages for the targets and the results, and its
       tables (filled when C-order blocks can occur: a C-order operand, or
       a staged block) */
    FL_REAL *ts = ot + C * FL_LANES, *os = ts + C * FL_LANES;
    FL_VFN(rw_tp) tpt, *tp = NULL;
#if RW_TP
    if (C <= RW_TMAX && C > 1
        && ((zcs == 1 && zrs == C) || (prob && tcs == 1 && trs == C) || (out && ocs == 1 && ors == C)
            || nrows % FL_LANES || R != nrows)) {
        FL_VFN(rw_tp_init)(&tpt, C);
        tp = &tpt;
    }
#else
    (void)tpt;
#endif
    ptrdiff_t so[FL_LANES], si[FL_LANES];     /* slice and row of each staged row */
    ptrdiff_t o = 0, i = i0;                  /* the block's first row */
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += FL_LANES) {
        const ptrdiff_t g = nrows - r0 < FL_LANES ? nrows - r0 : FL_LANES;
        const int staged = g < FL_LANES || i + FL_LANES > R;
        const FL_REAL *zp = z + o * zos + i * zrs, *tpp = prob ? t + o * tos + i * trs : NULL;
        FL_REAL *op = out ? out + o * oos + i * ors : NULL;
        FL_REAL *lp = loss ? (lds == 1 ? loss + r0 : ll) : NULL;
        ptrdiff_t zr = zrs, zc = zcs, tr = trs, tc = tcs, orr = ors, oc = ocs;
        if (staged) {
            ptrdiff_t oj = o, ij = i;
            for (ptrdiff_t j = 0; j < g; j++) {
                so[j] = oj;
                si[j] = ij;
                if (++ij == R) {
                    ij = 0;
                    oj++;
                }
            }
            for (ptrdiff_t j = 0; j < FL_LANES; j++) {
                const FL_REAL *zj = j < g ? z + so[j] * zos + si[j] * zrs : NULL;
                const FL_REAL *tj = prob && j < g ? t + so[j] * tos + si[j] * trs : NULL;
                for (ptrdiff_t c = 0; c < C; c++) {
                    zt[j * C + c] = zj ? zj[c * zcs] : (FL_REAL)0;
                    if (prob)
                        tt[j * C + c] = tj ? tj[c * tcs] : (FL_REAL)0;
                }
            }
            zp = zt;
            tpp = prob ? tt : NULL;
            op = out ? ot : NULL;
            lp = ll;
            zr = tr = orr = C;
            zc = tc = oc = 1;
        }
        if (idxm) {
            if (g == FL_LANES) {
                yl = FL_VFN(rw_targets)(idx + r0 * ldi, ldi, P->ignore_index);
            } else {
                for (ptrdiff_t j = 0; j < FL_LANES; j++) {
                    int64_t y = j < g ? idx[(r0 + j) * ldi] : P->ignore_index;
                    yl[j] = y == P->ignore_index ? -1 : y;
                }
            }
        }
        if (kind == 3) {
            FL_VFN(rw_cce_lanes_t)(tp, ts, os, P, C, zp, zr, zc, &yl, tpp, tr, tc, lp, op, orr, oc, et,
                               ld, &fb, mode, has_w);
            for (ptrdiff_t j = 0; j < g; j++)
                srow += ld[j];
            if (*first_bad < 0)
                for (ptrdiff_t j = 0; j < g; j++)
                    if (fb[j] < C) {
                        *first_bad = (r0 + j) * C + fb[j];
                        break;
                    }
        } else {
            FL_VFN(rw_lanes_t)(tp, ts, os, P, C, zp, zr, zc, &yl, tpp, tr, tc, lp, op, orr, oc, et,
                           et + C * FL_LANES, &tot, qp, lazy, g, kind, mode, has_w, smooth);
        }
        if (staged) {
            for (ptrdiff_t j = 0; j < g; j++) {
                if (loss)
                    loss[(r0 + j) * lds] = ll[j];
                if (out) {
                    FL_REAL *oj = out + so[j] * oos + si[j] * ors;
                    for (ptrdiff_t c = 0; c < C; c++)
                        oj[c * ocs] = ot[j * C + c];
                }
            }
        } else if (loss && lds != 1) {
            for (ptrdiff_t j = 0; j < FL_LANES; j++)
                loss[(r0 + j) * lds] = ll[j];
        }
        if (lazy && ++nq == qflush) {
            for (int k = 0; k < RW_NH; k++) {
                tot.h[k] += fl_log1p_f64(q.h[k]);
                q.h[k] = fl_splat_f64(0.0);
            }
            nq = 0;
        }
        i += FL_LANES;
        while (i >= R && R > 0) {
            i -= R;
            o++;
        }
    }
    if (kind == 3)
        return srow;
    double s = 0.0;
    for (int k = 0; k < RW_NH; k++)
        s += fl_hsum_f64(lazy ? tot.h[k] + fl_log1p_f64(q.h[k]) : tot.h[k]);
    return s;
}

/* the specialised instances: kind, then (mode, weights, smoothing) for CE */
FL_INLINE double FL_VFN(rw_dispatch3)(const fl_ce_params *P, ptrdiff_t C, const FL_REAL *z, ptrdiff_t zrs,
                                  ptrdiff_t zcs, const int64_t *idx, ptrdiff_t ldi, const FL_REAL *t,
                                  ptrdiff_t trs, ptrdiff_t tcs, FL_REAL *loss, ptrdiff_t lds, FL_REAL *out,
                                  ptrdiff_t ors, ptrdiff_t ocs, ptrdiff_t nrows, FL_REAL *scratch,
                                  ptrdiff_t R, ptrdiff_t i0, ptrdiff_t zos, ptrdiff_t tos, ptrdiff_t oos,
                                  ptrdiff_t *first_bad, int kind)
{
#define RW_CALL_C(cc, k, md, hw, sm)                                            \
    return FL_VFN(rw_rows)(P, cc, z, zrs, zcs, idx, ldi, t, trs, tcs, loss, lds, out, ors, ocs, \
                       nrows, scratch, R, i0, zos, tos, oos, first_bad, k, md, hw, sm)
#define RW_CALL(k, md, hw, sm) RW_CALL_C(C, k, md, hw, sm)
/* the commonest cases with the class count a constant (loops unrolled) */
#define RW_CALL_K(k, md, hw, sm)                                                \
    switch (C) {                                                               \
    case 2: RW_CALL_C(2, k, md, hw, sm);                                       \
    case 3: RW_CALL_C(3, k, md, hw, sm);                                       \
    case 4: RW_CALL_C(4, k, md, hw, sm);                                       \
    default: RW_CALL(k, md, hw, sm);                                           \
    }
/* cross-entropy's commonest case: up to 10 classes constant */
#define RW_CALL_K10(k, md, hw, sm)                                              \
    switch (C) {                                                               \
    case 5: RW_CALL_C(5, k, md, hw, sm);                                       \
    case 6: RW_CALL_C(6, k, md, hw, sm);                                       \
    case 8: RW_CALL_C(8, k, md, hw, sm);                                       \
    case 10: RW_CALL_C(10, k, md, hw, sm);                                     \
    default: RW_CALL_K(k, md, hw, sm);                                         \
    }
    if (kind == 0) RW_CALL_K(0, 0, 0, 0);
    if (kind == 1) RW_CALL_K(1, 0, 0, 0);
    const int has_w = P->w != NULL, smooth = P->eps != 0.0;
    if (kind == 3) {
        if (idx) {
            if (!has_w) RW_CALL_K(3, SM_IDX, 0, 0);
            RW_CALL(3, SM_IDX, 1, 0);
        }
        if (!has_w) RW_CALL(3, SM_PROB, 0, 0);
        RW_CALL(3, SM_PROB, 1, 0);
    }
    if (idx) {
        if (!has_w && !smooth) RW_CALL_K10(2, SM_IDX, 0, 0);
        if (!has_w) RW_CALL(2, SM_IDX, 0, 1);
        if (!smooth) RW_CALL(2, SM_IDX, 1, 0);
        RW_CALL(2, SM_IDX, 1, 1);
    }
    if (!has_w && !smooth) RW_CALL(2, SM_PROB, 0, 0);
    RW_CALL(2, SM_PROB, has_w, 1);
#undef RW_CALL
#undef RW_CALL_K
#undef RW_CALL_K10
#undef RW_CALL_C
}

/* one slice: the 2-D (rows, C) kernels of fl_softmax_impl.h */
FL_INLINE double FL_VFN(rw_dispatch)(const fl_ce_params *P, ptrdiff_t C, const FL_REAL *z, ptrdiff_t zrs,
                                 ptrdiff_t zcs, const int64_t *idx, ptrdiff_t ldi, const FL_REAL *t,
                                 ptrdiff_t trs, ptrdiff_t tcs, FL_REAL *loss, ptrdiff_t lds, FL_REAL *out,
                                 ptrdiff_t ors, ptrdiff_t ocs, ptrdiff_t nrows, FL_REAL *scratch,
                                 int kind)
{
    return FL_VFN(rw_dispatch3)(P, C, z, zrs, zcs, idx, ldi, t, trs, tcs, loss, lds, out, ors, ocs,
                                nrows, scratch, nrows, 0, 0, 0, 0, NULL, kind);
}

/*
 * The table's (outer, R, C) entry (fl_softmax.h): rows i0 .. i0 + nrows
 * of the slices from z on, any strides.  Softmax and log-softmax (P NULL),
 * cross-entropy on logits, or categorical cross-entropy on probabilities
 * (*first_bad: row * C + class of the first p outside [0, 1] or NaN, or -1).
 */
static double FL_KERNEL(rows3)(const fl_ce_params *P, int kind, const fl_rows3 *d, const FL_REAL *z,
                               const int64_t *idx, ptrdiff_t ldi, const FL_REAL *t, FL_REAL *loss,
                               ptrdiff_t lds, FL_REAL *out, ptrdiff_t nrows, FL_REAL *scratch,
                               ptrdiff_t *first_bad)
{
    ptrdiff_t none;
    if (!first_bad)
        first_bad = &none;
    *first_bad = -1;
    return FL_VFN(rw_dispatch3)(P, d->C, z, d->zrs, d->zcs, idx, ldi, t, d->trs, d->tcs, loss, lds,
                                out, d->yrs, d->ycs, nrows, scratch, d->R, d->i0, d->zos, d->tos,
                                d->yos, first_bad, kind);
}

static void FL_XCAT3(fill_softmax_rows, FL_S, FL_ISA)(fl_softmax_table *tb)
{
    tb->FL_XCAT2(rows3, FL_S) = FL_KERNEL(rows3);
}

#undef RW_NH
#undef RW_TP
#ifdef RW_TMAX
#undef RW_TMAX
#endif
#undef RW_LEAN
#undef RW_NOCLAMP
#undef RW_REAL_MAX
