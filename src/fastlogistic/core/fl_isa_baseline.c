/* Baseline level of the math core: the build's own target (SSE2 on x86-64,
   NEON on aarch64, whatever the compiler defaults to elsewhere), 16-byte vectors. */
#define FL_VB 16
#define FL_ISA baseline
#include "fl_isa_body.h"
