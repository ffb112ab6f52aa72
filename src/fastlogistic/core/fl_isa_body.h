/*
 * fl_isa_body.h -- one instruction-set level of the math core.  The including
 * .c file sets the compiler target, FL_NB (native vector bytes), FL_NV_WIDE
 * (native vectors per math vector for the elementwise kernels; see fl_vec.h)
 * and FL_ISA (suffix), then includes this file.  By default it instantiates
 * the elementwise and binary cross-entropy kernels for float64 and float32
 * and defines fl_fill_<FL_ISA>(); with FL_MULTICLASS_PART it instantiates
 * the multi-class kernels instead, at one native vector per math vector (their
 * row-per-lane layout is sized for it), and defines fl_fill_mc_<FL_ISA>().
 */
#ifdef FL_MULTICLASS_PART
#define FL_NV 1
#define FL_IMPL "fl_softmax_impl.h"
#else
#define FL_NV FL_NV_WIDE
#define FL_IMPL "fl_kernels_impl.h"
#endif
#include "fl_core.h"
#include "fl_vec.h"

#define FL_T 64
#include "fl_types.h"
#include FL_IMPL
#include "fl_types_end.h"
#undef FL_T
#define FL_T 32
#include "fl_types.h"
#include FL_IMPL
#include "fl_types_end.h"
#undef FL_T

#ifdef FL_MULTICLASS_PART
void FL_XCAT2(fl_fill_mc, FL_ISA)(fl_softmax_table *tb)
{
    FL_XCAT3(fill_softmax, f64, FL_ISA)(tb);
    FL_XCAT3(fill_softmax, f32, FL_ISA)(tb);
    FL_XCAT3(fill_softmax_rows, f64, FL_ISA)(tb);
    FL_XCAT3(fill_softmax_rows, f32, FL_ISA)(tb);
}
#else
void FL_XCAT2(fl_fill, FL_ISA)(fl_table *tb)
{
    FL_XCAT3(fill, f64, FL_ISA)(tb);
    FL_XCAT3(fill, f32, FL_ISA)(tb);
}
#endif
