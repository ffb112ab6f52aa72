/* AVX-512F level of the math core (x86-64 only; compiled for that target
   whatever the build's baseline flags, chosen at run time by fl_dispatch.c).
   As compiled here, four zmm per math vector and exp(-|x|) in the same loop
   ("avx512-wide"); fl_isa_avx512s.c compiles it again with one zmm and
   exp(-|x|) by blocks ("avx512-split"). */
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx2,fma")
#endif
#define FL_NB 64
#ifndef FL_NV_WIDE
#define FL_NV_WIDE 4
#endif
#define FL_X86_LEVEL 3
#ifndef FL_ISA
#define FL_ISA avx512
#endif
#include "fl_isa_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
