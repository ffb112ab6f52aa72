/* fl_types_end.h -- undo fl_types.h */
#undef FL_REAL
#undef FL_VEC
#undef FL_IVEC
#undef FL_LANES
#undef FL_S
#undef VF
#undef FN
