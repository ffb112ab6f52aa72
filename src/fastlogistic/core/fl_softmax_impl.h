/* fl_softmax_impl.h -- multi-class chunk kernels (included per ISA and per FL_T). */
#if FL_T == 64
static void FL_XCAT3(fill_softmax, f64, FL_ISA)(fl_softmax_table *t) { (void)t; }
#else
static void FL_XCAT3(fill_softmax, f32, FL_ISA)(fl_softmax_table *t) { (void)t; }
#endif
