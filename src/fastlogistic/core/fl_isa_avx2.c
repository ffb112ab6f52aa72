/* AVX2 + FMA level of the math core (x86-64 only; compiled for that target
   whatever the build's baseline flags, chosen at run time by fl_dispatch.c). */
#if defined(__x86_64__) || defined(_M_X64)
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#define FL_NB 32
#ifndef FL_NV_WIDE
#define FL_NV_WIDE 1
#endif
/* exp(-|x|) by blocks of 256 elements in the kernels built on it (see
   fl_kernels_impl.h; 64 to 256 measured alike, 512 slower) */
#ifndef FL_EBLOCK
#define FL_EBLOCK 256
#endif
#define FL_X86_LEVEL 2
#define FL_ISA avx2
#include "fl_isa_body.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#endif
