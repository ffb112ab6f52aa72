/*
 * fl_types.h -- the element-type macros of the kernel templates, for FL_T = 64
 * (float64) or 32 (float32): FL_REAL scalar, FL_VEC vector, FL_IVEC integer/mask vector,
 * FL_LANES lanes, FL_S suffix, FL_VFN(name) = name_f64, FL_KERNEL(name) = name_f64_<ISA>.
 * Included by fl_isa_body.h around each instantiation; fl_types_end.h undoes it.
 */
#if FL_T == 64
#define FL_REAL double
#define FL_VEC vf64
#define FL_IVEC vi64
#define FL_LANES FL_L64
#define FL_S f64
#else
#define FL_REAL float
#define FL_VEC vf32
#define FL_IVEC vi32
#define FL_LANES FL_L32
#define FL_S f32
#endif
#define FL_VFN(name) FL_XCAT2(name, FL_S)
#define FL_KERNEL(name) FL_XCAT3(name, FL_S, FL_ISA)
