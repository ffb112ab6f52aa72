/* the multi-class kernels of the baseline level (see fl_isa_body.h) */
#define FL_MULTICLASS_PART
#include "fl_isa_baseline.c"
