/*
 * fl_softmax_tiles.h -- the multi-class kernels on rows one element apart
 * with many classes: a Fortran-order (N, C) array (what scikit-learn's
 * HistGradientBoosting and LightGBM pass), softmax over axis 0 of a C-order
 * array.  Included by fl_softmax_impl.h once per ISA and element type, after
 * the row kernels (softmax, ce, cce) and fl_softmax_rows.h's rows3.
 *
 * Row per lane (fl_softmax_rows.h) reads such rows with plain vector loads,
 * but from 16 classes up the row kernel, on C-order rows, is the faster
 * (its fast path: fl_softmax_impl.h), and row per lane ran 1.7x to 3.6x
 * slower than C order there (AMD Zen 4).  So at AVX-512 a group of L rows
 * (16 float32 / 8 float64) is transposed into a C-order tile of L rows by
 * L x L register transposes (unpack and 128-bit lane shuffles: 64
 * instructions per 256 float32, 24 per 64 float64), the row kernel runs on
 * the tile, and the results are transposed back.  Each row then gets the
 * row kernel's arithmetic, as in C order: the same bits per row.  The loss
 * sum: one kernel call per group of rows up to SM_LANES_MAXC classes, one
 * per row above (as the row-by-row path that runs there elsewhere, and
 * the C-order path's sum: rows added in order).
 *
 * scratch: 3 * (C + 8) * FL_LANES + 40 elements (the logits', targets' and
 * results' tiles), within the 7 * C * 16 of the table's contract.
 */

#if FL_X86_LEVEL >= 3 && FL_NV == 1
#define SM_TILES 1
/* the class counts that take the tiles (below, row per lane is faster) */
#define SM_TILE_MINC (SM_SMALL_MAXC + 1)
/* above this many classes the loss sum is taken row by row */
#define SM_TILE_ROWSUM 256

#if FL_T == 32
/* an L x L block: d[j * dld + i] = s[i * sld + j] */
FL_INLINE void tl_block_f32(const float *s, ptrdiff_t sld, float *d, ptrdiff_t dld)
{
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = _mm512_loadu_ps(s + i * sld);
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
    for (int i = 0; i < 8; i++) {
        _mm512_storeu_ps(d + i * dld, _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88));
        _mm512_storeu_ps(d + (i + 8) * dld, _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd));
    }
}
#else
FL_INLINE void tl_block_f64(const double *s, ptrdiff_t sld, double *d, ptrdiff_t dld)
{
    __m512d r[8], t[8];
    for (int i = 0; i < 8; i++)
        r[i] = _mm512_loadu_pd(s + i * sld);
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
    for (int i = 0; i < 4; i++) {
        _mm512_storeu_pd(d + i * dld, _mm512_shuffle_f64x2(r[i], r[i + 4], 0x88));
        _mm512_storeu_pd(d + (i + 4) * dld, _mm512_shuffle_f64x2(r[i], r[i + 4], 0xdd));
    }
}
#endif

/* d[j * dld + i] = s[i * sld + j] for i < n, j < m: L x L blocks, the
   edges element by element */
static void FL_VFN(tl_transpose)(const FL_REAL *s, ptrdiff_t sld, FL_REAL *d, ptrdiff_t dld,
                                 ptrdiff_t n, ptrdiff_t m)
{
    const ptrdiff_t L = FL_LANES;
    ptrdiff_t i = 0, j;
    for (; i + L <= n; i += L) {
        for (j = 0; j + L <= m; j += L)
            FL_XCAT2(tl_block, FL_S)(s + i * sld + j, sld, d + j * dld + i, dld);
        for (; j < m; j++)
            for (ptrdiff_t k = i; k < i + L; k++)
                d[j * dld + k] = s[k * sld + j];
    }
    for (; i < n; i++)
        for (j = 0; j < m; j++)
            d[j * dld + i] = s[i * sld + j];
}

/* a group's g rows, any strides, element by element: row j is row i + j of
   slice o (wrapping into the next slices at R rows); into == 1 copies them
   into the tile (ld apart), 0 back out of it */
static void FL_VFN(tl_rows_copy)(FL_REAL *x, ptrdiff_t os, ptrdiff_t rs, ptrdiff_t cs, ptrdiff_t R,
                                 ptrdiff_t o, ptrdiff_t i, ptrdiff_t g, ptrdiff_t C, FL_REAL *tile,
                                 ptrdiff_t ld, const int into)
{
    for (ptrdiff_t j = 0; j < g; j++) {
        FL_REAL *xr = x + o * os + i * rs, *tr = tile + j * ld;
        if (into)
            for (ptrdiff_t c = 0; c < C; c++)
                tr[c] = xr[c * cs];
        else
            for (ptrdiff_t c = 0; c < C; c++)
                xr[c * cs] = tr[c];
        if (++i == R) {
            i = 0;
            o++;
        }
    }
}

/* rows3's arguments (any strides, (outer, R, C) slices): the row kernels on
   C-order tiles of FL_LANES rows */
static double FL_VFN(tl_rows)(const fl_ce_params *P, int kind, const fl_rows3 *d, const FL_REAL *z,
                              const int64_t *idx, ptrdiff_t ldi, const FL_REAL *t, FL_REAL *loss,
                              ptrdiff_t lds, FL_REAL *y, ptrdiff_t nrows, FL_REAL *scratch,
                              ptrdiff_t *first_bad)
{
    const ptrdiff_t C = d->C, R = d->R;
    /* the tiles' row stride: C and 32 bytes (a power-of-two C would put
       every row of an L x L block in one cache set); the tiles a cache
       line and a bit apart (not a multiple of 4 KiB, where loads from one
       and stores to another would alias) */
    const ptrdiff_t ld = C + 32 / (ptrdiff_t)sizeof(FL_REAL);
    const ptrdiff_t gap = ld * FL_LANES + 80 / (ptrdiff_t)sizeof(FL_REAL);
    FL_REAL *zt = scratch, *tt = zt + gap, *yt = tt + gap;
    double s = 0.0;
    ptrdiff_t o = 0, i = d->i0;          /* slice and row of the group's first row */
    *first_bad = -1;
    for (ptrdiff_t r0 = 0; r0 < nrows; r0 += FL_LANES) {
        const ptrdiff_t g = nrows - r0 < FL_LANES ? nrows - r0 : FL_LANES;
        const int one = i + g <= R;      /* the group within one slice */
        const FL_REAL *zg = z + o * d->zos + i * d->zrs, *tg = t ? t + o * d->tos + i * d->trs : NULL;
        FL_REAL *yg = y ? y + o * d->yos + i * d->yrs : NULL;
        if (one && d->zrs == 1) {
            /* a group reads (and writes) a line or two in each of C
               columns far apart: more streams than the hardware prefetcher
               follows; asked for a group ahead, the lines are there when
               needed */
            if (r0 + 2 * FL_LANES <= nrows && i + 2 * FL_LANES <= R)
                for (ptrdiff_t c = 0; c < C; c++) {
                    __builtin_prefetch(zg + FL_LANES + c * d->zcs, 0, 2);
                    __builtin_prefetch(zg + 2 * FL_LANES - 1 + c * d->zcs, 0, 2);
                }
            FL_VFN(tl_transpose)(zg, d->zcs, zt, ld, C, g);
        } else {
            FL_VFN(tl_rows_copy)((FL_REAL *)z, d->zos, d->zrs, d->zcs, R, o, i, g, C, zt, ld, 1);
        }
        if (t) {
            if (one && d->trs == 1)
                FL_VFN(tl_transpose)(tg, d->tcs, tt, ld, C, g);
            else
                FL_VFN(tl_rows_copy)((FL_REAL *)t, d->tos, d->trs, d->tcs, R, o, i, g, C, tt, ld, 1);
        }
        const int64_t *ig = idx ? idx + r0 * ldi : NULL;
        FL_REAL *lg = loss ? loss + r0 * lds : NULL;
        if (kind <= 1) {
            FL_KERNEL(softmax)(zt, ld, yt, ld, g, C, kind);
        } else if (kind == 2) {
            s = FL_VFN(ce_acc)(P, zt, ld, ig, ldi, t ? tt : NULL, ld, lg, lds, y ? yt : NULL, ld, g, s);
        } else {
            ptrdiff_t fb;
            s = FL_VFN(cce_acc)(P, zt, ld, ig, ldi, t ? tt : NULL, ld, lg, lds, y ? yt : NULL, ld, g,
                                &fb, s);
            if (fb >= 0 && *first_bad < 0)
                *first_bad = r0 * C + fb;
        }
        if (y) {
            if (one && d->yrs == 1)
                FL_VFN(tl_transpose)(yt, ld, yg, d->ycs, g, C);
            else
                FL_VFN(tl_rows_copy)(y, d->yos, d->yrs, d->ycs, R, o, i, g, C, yt, ld, 0);
        }
        i += FL_LANES;
        while (i >= R && R > 0) {
            i -= R;
            o++;
        }
    }
    return s;
}

/* the table's rows3 entry at this level: the tiles from SM_TILE_MINC classes */
static double FL_KERNEL(rows3t)(const fl_ce_params *P, int kind, const fl_rows3 *d, const FL_REAL *z,
                                const int64_t *idx, ptrdiff_t ldi, const FL_REAL *t, FL_REAL *loss,
                                ptrdiff_t lds, FL_REAL *out, ptrdiff_t nrows, FL_REAL *scratch,
                                ptrdiff_t *first_bad)
{
    ptrdiff_t none;
    if (d->C < SM_TILE_MINC)
        return FL_KERNEL(rows3)(P, kind, d, z, idx, ldi, t, loss, lds, out, nrows, scratch, first_bad);
    return FL_VFN(tl_rows)(P, kind, d, z, idx, ldi, t, loss, lds, out, nrows, scratch,
                           first_bad ? first_bad : &none);
}

static void FL_XCAT3(fill_softmax_tiles, FL_S, FL_ISA)(fl_softmax_table *tb)
{
    tb->FL_XCAT2(rows3, FL_S) = FL_KERNEL(rows3t);
    tb->tiles_minc = SM_TILE_MINC;
}
#undef SM_TILES
#undef SM_TILE_MINC
#undef SM_TILE_ROWSUM
#else
static void FL_XCAT3(fill_softmax_tiles, FL_S, FL_ISA)(fl_softmax_table *tb)
{
    tb->tiles_minc = 0;
}
#endif
