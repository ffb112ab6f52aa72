/* fl_omp.h -- the few OpenMP queries the kernels need, with a serial fallback
   when the compiler has no OpenMP (the build then runs on one thread). */
#ifndef FL_OMP_H
#define FL_OMP_H
#ifdef _OPENMP
#include <omp.h>
static int fl_have_openmp(void) { return 1; }
static int fl_omp_max_threads(void) { return omp_get_max_threads(); }
#else
static int fl_have_openmp(void) { return 0; }
static int fl_omp_max_threads(void) { return 1; }
#endif
#endif
