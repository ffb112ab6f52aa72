/*
 * fl_types.h -- the element-type macros of the templates (the vector math of
 * fl_vec_basic_impl.h and fl_vec_math_impl.h, the kernels), for FL_T = 64
 * (float64) or 32 (float32):
 *   FL_REAL    the scalar type (double, float)
 *   FL_VEC     a math vector of it; FL_IVEC / FL_UVEC the signed / unsigned
 *              integer vector of the same lanes (masks are FL_IVEC)
 *   FL_NVEC    one native register of FL_REAL; FL_NIVEC of the integers
 *   FL_LANES   lanes of a math vector; FL_NLANES of a native register
 *   FL_S       the suffix (f64, f32); FL_VFN(name) = name_f64
 *   FL_IFN(name) = name_i64, the integer form of the same width
 *   FL_TC(NAME) = NAME_f64: a per-type constant defined in fl_vec.h
 *   FL_IMAX    the largest integer of the width (the bits of |x| mask)
 *   FL_KERNEL(name) = name_f64_<ISA>
 * fl_types_end.h undoes it.
 */
#if FL_T == 64
#define FL_REAL double
#define FL_VEC vf64
#define FL_IVEC vi64
#define FL_UVEC vu64
#define FL_NVEC nf64
#define FL_NIVEC ni64
#define FL_LANES FL_L64
#define FL_NLANES FL_NL64
#define FL_S f64
#define FL_IS i64
#define FL_IMAX INT64_MAX
#else
#define FL_REAL float
#define FL_VEC vf32
#define FL_IVEC vi32
#define FL_UVEC vu32
#define FL_NVEC nf32
#define FL_NIVEC ni32
#define FL_LANES FL_L32
#define FL_NLANES FL_NL32
#define FL_S f32
#define FL_IS i32
#define FL_IMAX INT32_MAX
#endif
#define FL_VFN(name) FL_XCAT2(name, FL_S)
#define FL_IFN(name) FL_XCAT2(name, FL_IS)
#define FL_TC(name) FL_XCAT2(name, FL_S)
#define FL_KERNEL(name) FL_XCAT3(name, FL_S, FL_ISA)
