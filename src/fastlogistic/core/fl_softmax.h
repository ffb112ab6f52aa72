/* fl_softmax.h -- multi-class kernels' table (filled in by fl_softmax_impl.h). */
#ifndef FL_SOFTMAX_H
#define FL_SOFTMAX_H
typedef struct {
    void *reserved;
} fl_softmax_table;
#endif
