/* fl_types_end.h -- undo fl_types.h */
#undef T
#undef V
#undef VI
#undef L
#undef FL_S
#undef VF
#undef FN
