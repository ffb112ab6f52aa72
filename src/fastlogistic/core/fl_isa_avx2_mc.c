/* the multi-class kernels of the avx2 level (see fl_isa_body.h) */
#define FL_MULTICLASS_PART
#include "fl_isa_avx2.c"
