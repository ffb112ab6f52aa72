/* Baseline level of the math core: the build's own target (SSE2 on x86-64,
   NEON on aarch64, whatever the compiler defaults to elsewhere), 16-byte vectors. */
#define FL_NB 16
#ifndef FL_NV_WIDE
#define FL_NV_WIDE 2
#endif
#define FL_ISA baseline
#include "fl_isa_body.h"
