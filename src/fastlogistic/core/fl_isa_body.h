/*
 * fl_isa_body.h -- one instruction-set level of the math core.  The including
 * .c file sets the compiler target, FL_VB (vector bytes) and FL_ISA (suffix),
 * then includes this file, which instantiates every kernel for float64 and
 * float32 and defines fl_fill_<FL_ISA>(), the level's table.
 */
#include "fl_core.h"
#include "fl_vec.h"

#define FL_T 64
#include "fl_types.h"
#include "fl_kernels_impl.h"
#include "fl_softmax_impl.h"
#include "fl_types_end.h"
#undef FL_T
#define FL_T 32
#include "fl_types.h"
#include "fl_kernels_impl.h"
#include "fl_softmax_impl.h"
#include "fl_types_end.h"
#undef FL_T

void FL_XCAT2(fl_fill, FL_ISA)(fl_table *tb)
{
    FL_XCAT3(fill, f64, FL_ISA)(tb);
    FL_XCAT3(fill, f32, FL_ISA)(tb);
    FL_XCAT3(fill_softmax, f64, FL_ISA)(&tb->softmax);
    FL_XCAT3(fill_softmax, f32, FL_ISA)(&tb->softmax);
}
