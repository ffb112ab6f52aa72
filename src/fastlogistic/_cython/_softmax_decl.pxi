# Cython declarations of the multi-class kernels' table (core/fl_softmax.h);
# included by _kernels.pyx before fl_table is declared.
from libc.stdint cimport int64_t

cdef extern from "core/fl_softmax.h" nogil:
    ctypedef struct fl_ce_params:
        Py_ssize_t C
        int64_t ignore_index
        const void *w
        double wall
        double eps
        double gscale
    Py_ssize_t fl_count_targets(const int64_t *y, Py_ssize_t n, int64_t C, int64_t ignore,
                                Py_ssize_t *bad)
    ctypedef void (*fl_softmax_f64_fn)(const double *z, Py_ssize_t ldz, double *y,
                                       Py_ssize_t ldy, Py_ssize_t nrows, Py_ssize_t C,
                                       int log_) noexcept
    ctypedef void (*fl_softmax_f32_fn)(const float *z, Py_ssize_t ldz, float *y,
                                       Py_ssize_t ldy, Py_ssize_t nrows, Py_ssize_t C,
                                       int log_) noexcept
    ctypedef double (*fl_ce_f64_fn)(const fl_ce_params *p, const double *z, Py_ssize_t ldz,
                                    const int64_t *idx, Py_ssize_t ldi, const double *t,
                                    Py_ssize_t ldt, double *loss, Py_ssize_t lds,
                                    double *grad, Py_ssize_t ldg, Py_ssize_t nrows) noexcept
    ctypedef double (*fl_ce_f32_fn)(const fl_ce_params *p, const float *z, Py_ssize_t ldz,
                                    const int64_t *idx, Py_ssize_t ldi, const float *t,
                                    Py_ssize_t ldt, float *loss, Py_ssize_t lds,
                                    float *grad, Py_ssize_t ldg, Py_ssize_t nrows) noexcept
    ctypedef double (*fl_cce_f64_fn)(const fl_ce_params *p, const double *z, Py_ssize_t ldz,
                                     const int64_t *idx, Py_ssize_t ldi, const double *t,
                                     Py_ssize_t ldt, double *loss, Py_ssize_t lds,
                                     double *grad, Py_ssize_t ldg, Py_ssize_t nrows,
                                     Py_ssize_t *first_bad) noexcept
    ctypedef double (*fl_cce_f32_fn)(const fl_ce_params *p, const float *z, Py_ssize_t ldz,
                                     const int64_t *idx, Py_ssize_t ldi, const float *t,
                                     Py_ssize_t ldt, float *loss, Py_ssize_t lds,
                                     float *grad, Py_ssize_t ldg, Py_ssize_t nrows,
                                     Py_ssize_t *first_bad) noexcept
    ctypedef void (*fl_softmax_s_f64_fn)(const double *z, Py_ssize_t zrs, Py_ssize_t zcs,
                                         double *y, Py_ssize_t yrs, Py_ssize_t ycs,
                                         Py_ssize_t nrows, Py_ssize_t C, int log_,
                                         double *scratch) noexcept
    ctypedef void (*fl_softmax_s_f32_fn)(const float *z, Py_ssize_t zrs, Py_ssize_t zcs,
                                         float *y, Py_ssize_t yrs, Py_ssize_t ycs,
                                         Py_ssize_t nrows, Py_ssize_t C, int log_,
                                         float *scratch) noexcept
    ctypedef double (*fl_ce_s_f64_fn)(const fl_ce_params *p, const double *z, Py_ssize_t zrs,
                                      Py_ssize_t zcs, const int64_t *idx, Py_ssize_t ldi,
                                      const double *t, Py_ssize_t trs, Py_ssize_t tcs,
                                      double *loss, Py_ssize_t lds, double *grad,
                                      Py_ssize_t grs, Py_ssize_t gcs, Py_ssize_t nrows,
                                      double *scratch) noexcept
    ctypedef double (*fl_ce_s_f32_fn)(const fl_ce_params *p, const float *z, Py_ssize_t zrs,
                                      Py_ssize_t zcs, const int64_t *idx, Py_ssize_t ldi,
                                      const float *t, Py_ssize_t trs, Py_ssize_t tcs,
                                      float *loss, Py_ssize_t lds, float *grad,
                                      Py_ssize_t grs, Py_ssize_t gcs, Py_ssize_t nrows,
                                      float *scratch) noexcept
    ctypedef struct fl_rows3:
        Py_ssize_t C, R, i0
        Py_ssize_t zos, zrs, zcs
        Py_ssize_t tos, trs, tcs
        Py_ssize_t yos, yrs, ycs
    ctypedef double (*fl_rows3_f64_fn)(const fl_ce_params *p, int kind, const fl_rows3 *d,
                                       const double *z, const int64_t *idx, Py_ssize_t ldi,
                                       const double *t, double *loss, Py_ssize_t lds, double *y,
                                       Py_ssize_t nrows, double *scratch,
                                       Py_ssize_t *first_bad) noexcept
    ctypedef double (*fl_rows3_f32_fn)(const fl_ce_params *p, int kind, const fl_rows3 *d,
                                       const float *z, const int64_t *idx, Py_ssize_t ldi,
                                       const float *t, float *loss, Py_ssize_t lds, float *y,
                                       Py_ssize_t nrows, float *scratch,
                                       Py_ssize_t *first_bad) noexcept
    ctypedef struct fl_softmax_table:
        fl_softmax_f64_fn softmax_f64
        fl_softmax_f32_fn softmax_f32
        fl_ce_f64_fn ce_f64
        fl_ce_f32_fn ce_f32
        fl_cce_f64_fn cce_f64
        fl_cce_f32_fn cce_f32
        fl_softmax_s_f64_fn softmax_s_f64
        fl_softmax_s_f32_fn softmax_s_f32
        fl_ce_s_f64_fn ce_s_f64
        fl_ce_s_f32_fn ce_s_f32
        fl_rows3_f64_fn rows3_f64
        fl_rows3_f32_fn rows3_f32
        Py_ssize_t lanes_maxc_f64
        Py_ssize_t lanes_maxc_f32
        Py_ssize_t (*count_targets)(const int64_t *y, Py_ssize_t n, int64_t C, int64_t ignore,
                                    Py_ssize_t *bad) noexcept nogil
