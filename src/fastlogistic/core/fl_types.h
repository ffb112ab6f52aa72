/*
 * fl_types.h -- the element-type macros of the kernel templates, for FL_T = 64
 * (float64) or 32 (float32): T scalar, V vector, VI integer/mask vector,
 * L lanes, FL_S suffix, VF(name) = name_f64, FN(name) = name_f64_<ISA>.
 * Included by fl_isa_body.h around each instantiation; fl_types_end.h undoes it.
 */
#if FL_T == 64
#define T double
#define V vf64
#define VI vi64
#define L FL_L64
#define FL_S f64
#else
#define T float
#define V vf32
#define VI vi32
#define L FL_L32
#define FL_S f32
#endif
#define VF(name) FL_XCAT2(name, FL_S)
#define FN(name) FL_XCAT3(name, FL_S, FL_ISA)
