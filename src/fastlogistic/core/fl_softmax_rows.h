/*
 * fl_softmax_rows.h -- multi-class kernels with one row per vector lane.
 * Included by fl_softmax_impl.h once per ISA and element type (after its
 * helpers sm_vmax and sm_expdiff).
 *
 * A block of L rows is processed together: lane j holds row j, and every
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
 * The arithmetic of a row is that of the row kernels in fl_softmax_impl.h,
 * operation for operation.  The last, partial block of rows is staged
 * through `scratch` with zero rows as padding.
 *
 * scratch: room for 5 * C * L elements (the exponentials of a block, its
 * staged logits, and the staged operands of the last block).
 */

#if FL_T == 64
#define RW_NH 1
#else
#define RW_NH 2
#endif

/* per-row float64 quantities of a block: RW_NH float64 vectors */
typedef struct { vf64 h[RW_NH]; } VF(rwd);

FL_INLINE VF(rwd) VF(rw_wide)(V v)
{
    VF(rwd) r;
#if FL_T == 64
    r.h[0] = v;
#else
    fl_widen_f32(v, &r.h[0], &r.h[1]);
#endif
    return r;
}

FL_INLINE V VF(rw_narrow)(VF(rwd) d)
{
#if FL_T == 64
    return d.h[0];
#else
    vf32h l = __builtin_convertvector(d.h[0], vf32h);
    vf32h h = __builtin_convertvector(d.h[1], vf32h);
    vf32 r;
    memcpy(&r, &l, sizeof l);
    memcpy((char *)&r + sizeof l, &h, sizeof h);
    return r;
#endif
}

FL_INLINE VF(rwd) VF(rw_dsplat)(double x)
{
    VF(rwd) r;
    for (int k = 0; k < RW_NH; k++)
        r.h[k] = fl_splat_f64(x);
    return r;
}

/* lanes p[j * rs] */
FL_INLINE V VF(rw_ld)(const T *p, ptrdiff_t rs)
{
    if (rs == 1)
        return VF(fl_load)(p);
    V r;
    for (ptrdiff_t j = 0; j < L; j++)
        r[j] = p[j * rs];
    return r;
}

FL_INLINE void VF(rw_st)(T *p, ptrdiff_t rs, V v)
{
    if (rs == 1) {
        VF(fl_store)(p, v);
        return;
    }
    for (ptrdiff_t j = 0; j < L; j++)
        p[j * rs] = v[j];
}

/* the class indices of L rows as lanes, -1 where ignored */
FL_INLINE VI VF(rw_targets)(const int64_t *idx, ptrdiff_t ldi, int64_t ignore)
{
    if (ldi == 1) {
        typedef int64_t vq __attribute__((vector_size(FL_L64 * 8)));
        const vq ig = (vq){0} + ignore;
        vq a[L / FL_L64];
        for (ptrdiff_t k = 0; k < L / FL_L64; k++) {
            memcpy(&a[k], idx + k * FL_L64, sizeof a[k]);
            a[k] = (vq)((a[k] == ig) | (vq)a[k]);     /* -1 where ignored */
        }
#if FL_T == 64
        return a[0];
#else
        typedef int32_t vh __attribute__((vector_size(FL_L64 * 4)));
        vh l = __builtin_convertvector(a[0], vh), h = __builtin_convertvector(a[1], vh);
        VI r;
        memcpy(&r, &l, sizeof l);
        memcpy((char *)&r + sizeof l, &h, sizeof h);
        return r;
#endif
    }
    VI r;
    for (ptrdiff_t j = 0; j < L; j++) {
        int64_t y = idx[j * ldi];
        r[j] = y == ignore ? -1 : y;
    }
    return r;
}

/* kind: 0 softmax, 1 log_softmax, 2 cross-entropy (mode SM_IDX / SM_PROB).
   One block of exactly L rows; yl: the target of each lane (-1: ignored);
   lossl: L per-row losses (contiguous) or NULL; et: C * L scratch.
   Adds the rows' losses to *tot (lane-wise). */
FL_INLINE void VF(rw_lanes)(const fl_ce_params *P, ptrdiff_t C, const T *z, ptrdiff_t zrs,
                            ptrdiff_t zcs, const VI *yl, const T *t, ptrdiff_t trs,
                            ptrdiff_t tcs, T *lossl, T *out, ptrdiff_t ors, ptrdiff_t ocs,
                            T *et, T *zs, VF(rwd) *tot, ptrdiff_t nlive, const int kind, const int mode,
                            const int has_w, const int smooth)
{
    const V zero = VF(fl_splat)((T)0);
    const T *w = kind == 2 && has_w ? (const T *)P->w : NULL;
    const double eps = kind == 2 && smooth ? P->eps : 0.0, epc = eps / (double)C;
    const int ce = kind == 2, prob = ce && mode == SM_PROB, idxm = ce && mode == SM_IDX;
    const int extra = ce && (prob || smooth);
    const VI yv = idxm ? *yl : (VI){0};

    if (zrs != 1) {
        /* rows not one element apart: copied once into the stage (class c
           at zs + c * L; element by element, which on AMD Zen 4 beat the
           level's gather), then every pass loads plain vectors */
        for (ptrdiff_t j = 0; j < L; j++)
            for (ptrdiff_t c = 0; c < C; c++)
                zs[c * L + j] = z[j * zrs + c * zcs];
        z = zs;
        zrs = 1;
        zcs = L;
    }
    V mv = VF(fl_load)(z);
    for (ptrdiff_t c = 1; c < C; c++)
        mv = VF(sm_vmax)(mv, VF(fl_load)(z + c * zcs));

    VF(rwd) acc = VF(rw_dsplat)(0.0), accd = acc, acca = acc;
    VI cnt = (VI){0};
    V zy = zero, ey = zero, wy = VF(fl_splat)((T)1);
    for (ptrdiff_t c = 0; c < C; c++) {
        V x = VF(rw_ld)(z + c * zcs, zrs);
        VI eq;
        V d;
        V e = VF(sm_expdiff)(x, mv, &eq, &d);
        VF(rwd) ew = VF(rw_wide)(VF(fl_sel)(eq, zero, e));
        for (int k = 0; k < RW_NH; k++)
            acc.h[k] += ew.h[k];
        cnt += eq;
        VF(fl_store)(et + c * L, e);
        if (idxm) {
            VI is = yv == ((VI){0} + (int)(c));
            zy = VF(fl_sel)(is, x, zy);
            ey = VF(fl_sel)(is, e, ey);
            if (has_w)
                wy = VF(fl_sel)(is, VF(fl_splat)(w[c]), wy);
        }
        if (extra) {
            V coef;
            if (prob) {
                coef = VF(rw_ld)(t + c * tcs, trs);
                if (smooth)
                    coef = coef * (T)(1.0 - eps) + (T)epc;
                if (has_w)
                    coef = coef * w[c];
            } else {
                coef = VF(fl_splat)(has_w ? w[c] : (T)1);
            }
            VF(rwd) dw = VF(rw_wide)(VF(fl_sel)(coef != 0, coef * d, zero));
            for (int k = 0; k < RW_NH; k++)
                accd.h[k] += dw.h[k];
            if (prob) {
                VF(rwd) cw = VF(rw_wide)(coef);
                for (int k = 0; k < RW_NH; k++)
                    acca.h[k] += cw.h[k];
            }
        }
    }
    /* S1 = sum of the non-maximal e + (k - 1); NaN for indeterminate rows */
    const V inf = VF(fl_splat)((T)__builtin_inf());
    VF(rwd) K = VF(rw_wide)(VF(fl_i2f)(-cnt));
    VF(rwd) bad = VF(rw_wide)(VF(fl_sel)((mv == -inf) | (mv == inf), VF(fl_splat)((T)1), zero));
    VF(rwd) pinf = VF(rw_wide)(VF(fl_sel)(mv == inf, VF(fl_splat)((T)1), zero));
    VF(rwd) S1, LSE;
    for (int k = 0; k < RW_NH; k++) {
        vf64 s = acc.h[k] + (K.h[k] - 1.0);
        /* max -inf, or +inf more than once */
        vi64 nan_ = (bad.h[k] != 0.0) & ((pinf.h[k] == 0.0) | (K.h[k] > 1.0));
        S1.h[k] = fl_sel_f64(nan_, fl_splat_f64(__builtin_nan("")), s);
        if (kind != 0)
            LSE.h[k] = fl_log1p_f64(S1.h[k]);
    }
    if (kind == 0) {
        VF(rwd) Sd;
        for (int k = 0; k < RW_NH; k++)
            Sd.h[k] = 1.0 + S1.h[k];
        V sv = VF(rw_narrow)(Sd);
        for (ptrdiff_t c = 0; c < C; c++)
            VF(rw_st)(out + c * ocs, ors, VF(fl_load)(et + c * L) / sv);
        return;
    }
    if (kind == 1) {
        V lv = VF(rw_narrow)(LSE);
        for (ptrdiff_t c = 0; c < C; c++) {
            V x = VF(rw_ld)(z + c * zcs, zrs);
            VF(rw_st)(out + c * ocs, ors, VF(fl_sel)(x == mv, zero, x - mv) - lv);
        }
        return;
    }
    /* cross-entropy: per-row loss l and gradient factor a gs / S */
    const double gs = P->gscale;
    VF(rwd) Ld, Fd, GYd;
    VI keep = idxm ? yv >= 0 : (VI){0} - 1;
    if (idxm) {
        VF(rwd) M = VF(rw_wide)(mv), ZY = VF(rw_wide)(zy), EY = VF(rw_wide)(ey);
        VF(rwd) WY = VF(rw_wide)(wy), KP = VF(rw_wide)(VF(fl_sel)(keep, VF(fl_splat)((T)1), zero));
        for (int k = 0; k < RW_NH; k++) {
            vi64 top = ZY.h[k] == M.h[k];
            vf64 nll = LSE.h[k] + fl_sel_f64(top, fl_splat_f64(0.0), M.h[k] - ZY.h[k]);
            vf64 l, a;
            if (smooth) {
                l = (1.0 - eps) * WY.h[k] * nll + epc * (P->wall * LSE.h[k] - accd.h[k]);
                a = (1.0 - eps) * WY.h[k] + epc * P->wall;
            } else {
                l = has_w ? WY.h[k] * nll : nll;
                a = WY.h[k];
            }
            vf64 S = 1.0 + S1.h[k];
            vf64 q = fl_sel_f64(top, S1.h[k], 1.0 + (S1.h[k] - EY.h[k])) / S;
            vf64 gy = smooth ? epc * (P->wall - WY.h[k]) - a * q : -a * q;
            vi64 kp = KP.h[k] != 0.0;
            Ld.h[k] = fl_sel_f64(kp, l, fl_splat_f64(0.0));
            Fd.h[k] = fl_sel_f64(kp, a * gs / S, fl_splat_f64(0.0));
            GYd.h[k] = gs * gy;
        }
    } else {
        for (int k = 0; k < RW_NH; k++) {
            Ld.h[k] = acca.h[k] * LSE.h[k] - accd.h[k];
            Fd.h[k] = acca.h[k] * gs / (1.0 + S1.h[k]);
        }
    }
    for (int k = 0; k < RW_NH; k++) {
        if (nlive < L) {      /* padding rows of the last block: not counted */
            vf64 lane;
            for (ptrdiff_t i = 0; i < FL_L64; i++)
                lane[i] = (double)(k * FL_L64 + i);
            Ld.h[k] = fl_sel_f64(lane < (double)nlive, Ld.h[k], fl_splat_f64(0.0));
        }
        tot->h[k] += Ld.h[k];
    }
    if (lossl)
        VF(fl_store)(lossl, VF(rw_narrow)(Ld));
    if (!out)
        return;
    V fv = VF(rw_narrow)(Fd);
    V gyv = idxm ? VF(rw_narrow)(GYd) : zero;
    const T cs = (T)(prob ? gs : epc * gs);
    for (ptrdiff_t c = 0; c < C; c++) {
        V gv = VF(fl_load)(et + c * L) * fv;
        if (prob) {
            V tv = VF(rw_ld)(t + c * tcs, trs);
            if (smooth)
                tv = tv * (T)(1.0 - eps) + (T)epc;
            if (has_w)
                tv = tv * w[c];
            gv = gv - tv * cs;
        } else if (smooth) {
            gv = gv - (has_w ? w[c] : (T)1) * cs;
        }
        if (idxm)
            gv = VF(fl_sel)(keep, VF(fl_sel)(yv == ((VI){0} + (int)(c)), gyv, gv), zero);
        VF(rw_st)(out + c * ocs, ors, gv);
    }
}

/*
 * Rows [0, nrows) of any strides through rw_lanes.  idx/ldi: class indices
 * (mode SM_IDX); loss/lds: per-row losses or NULL.  Returns the loss sum.
 */
FL_INLINE double VF(rw_rows)(const fl_ce_params *P, ptrdiff_t C, const T *z, ptrdiff_t zrs,
                             ptrdiff_t zcs, const int64_t *idx, ptrdiff_t ldi, const T *t,
                             ptrdiff_t trs, ptrdiff_t tcs, T *loss, ptrdiff_t lds, T *out,
                             ptrdiff_t ors, ptrdiff_t ocs, ptrdiff_t nrows, T *scratch,
                             const int kind, const int mode, const int has_w, const int smooth)
{
    const int prob = kind == 2 && mode == SM_PROB, idxm = kind == 2 && mode == SM_IDX;
    T *et = scratch;
    VF(rwd) tot = VF(rw_dsplat)(0.0);
    T ll[L];
    VI yl = (VI){0};
    /* the last, partial block: copied row-major into the stage (rows C
       apart), padded with zero rows, and written back from there.  One call
       site for both, so that each row gets the same instructions (the same
       contractions into FMA) wherever its block starts. */
    T *zt = scratch + 2 * C * L, *tt = zt + C * L, *ot = tt + C * L;
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += L) {
        const ptrdiff_t g = nrows - r0 < L ? nrows - r0 : L;
        const T *zp = z + r0 * zrs, *tp = prob ? t + r0 * trs : NULL;
        T *op = out ? out + r0 * ors : NULL, *lp = loss ? (lds == 1 ? loss + r0 : ll) : NULL;
        ptrdiff_t zr = zrs, zc = zcs, tr = trs, tc = tcs, orr = ors, oc = ocs;
        if (g < L) {
            for (ptrdiff_t j = 0; j < L; j++)
                for (ptrdiff_t c = 0; c < C; c++) {
                    zt[j * C + c] = j < g ? z[(r0 + j) * zrs + c * zcs] : (T)0;
                    if (prob)
                        tt[j * C + c] = j < g ? t[(r0 + j) * trs + c * tcs] : (T)0;
                }
            zp = zt;
            tp = prob ? tt : NULL;
            op = out ? ot : NULL;
            lp = ll;
            zr = tr = orr = C;
            zc = tc = oc = 1;
        }
        if (idxm) {
            if (g == L) {
                yl = VF(rw_targets)(idx + r0 * ldi, ldi, P->ignore_index);
            } else {
                for (ptrdiff_t j = 0; j < L; j++) {
                    int64_t y = j < g ? idx[(r0 + j) * ldi] : P->ignore_index;
                    yl[j] = y == P->ignore_index ? -1 : y;
                }
            }
        }
        VF(rw_lanes)(P, C, zp, zr, zc, &yl, tp, tr, tc, lp, op, orr, oc, et, et + C * L, &tot, g,
                     kind, mode, has_w, smooth);
        if (g < L) {
            for (ptrdiff_t j = 0; j < g; j++) {
                if (loss)
                    loss[(r0 + j) * lds] = ll[j];
                if (out)
                    for (ptrdiff_t c = 0; c < C; c++)
                        out[(r0 + j) * ors + c * ocs] = ot[j * C + c];
            }
        } else if (loss && lds != 1) {
            for (ptrdiff_t j = 0; j < L; j++)
                loss[(r0 + j) * lds] = ll[j];
        }
    }
    double s = 0.0;
    for (int k = 0; k < RW_NH; k++)
        s += fl_hsum_f64(tot.h[k]);
    return s;
}

/* the specialised instances: kind, then (mode, weights, smoothing) for CE */
FL_INLINE double VF(rw_dispatch)(const fl_ce_params *P, ptrdiff_t C, const T *z, ptrdiff_t zrs,
                                 ptrdiff_t zcs, const int64_t *idx, ptrdiff_t ldi, const T *t,
                                 ptrdiff_t trs, ptrdiff_t tcs, T *loss, ptrdiff_t lds, T *out,
                                 ptrdiff_t ors, ptrdiff_t ocs, ptrdiff_t nrows, T *scratch,
                                 int kind)
{
#define RW_CALL(k, md, hw, sm)                                                  \
    return VF(rw_rows)(P, C, z, zrs, zcs, idx, ldi, t, trs, tcs, loss, lds, out, ors, ocs, \
                       nrows, scratch, k, md, hw, sm)
/* the commonest cases with the class count a constant (loops unrolled) */
#define RW_CALL_K(k, md, hw, sm)                                                \
    switch (C) {                                                               \
    case 2: return VF(rw_rows)(P, 2, z, zrs, zcs, idx, ldi, t, trs, tcs, loss, lds, out, ors, \
                               ocs, nrows, scratch, k, md, hw, sm);             \
    case 3: return VF(rw_rows)(P, 3, z, zrs, zcs, idx, ldi, t, trs, tcs, loss, lds, out, ors, \
                               ocs, nrows, scratch, k, md, hw, sm);             \
    case 4: return VF(rw_rows)(P, 4, z, zrs, zcs, idx, ldi, t, trs, tcs, loss, lds, out, ors, \
                               ocs, nrows, scratch, k, md, hw, sm);             \
    default: RW_CALL(k, md, hw, sm);                                           \
    }
    if (kind == 0) RW_CALL_K(0, 0, 0, 0);
    if (kind == 1) RW_CALL_K(1, 0, 0, 0);
    const int has_w = P->w != NULL, smooth = P->eps != 0.0;
    if (idx) {
        if (!has_w && !smooth) RW_CALL_K(2, SM_IDX, 0, 0);
        if (!has_w) RW_CALL(2, SM_IDX, 0, 1);
        if (!smooth) RW_CALL(2, SM_IDX, 1, 0);
        RW_CALL(2, SM_IDX, 1, 1);
    }
    if (!has_w && !smooth) RW_CALL(2, SM_PROB, 0, 0);
    RW_CALL(2, SM_PROB, has_w, 1);
#undef RW_CALL
#undef RW_CALL_K
}

#undef RW_NH
