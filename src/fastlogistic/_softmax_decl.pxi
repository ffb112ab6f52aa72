# Cython declarations of the multi-class kernels' table (core/fl_softmax.h);
# included by _kernels.pyx before fl_table is declared.
cdef extern from "core/fl_softmax.h" nogil:
    ctypedef struct fl_softmax_table:
        void *reserved
