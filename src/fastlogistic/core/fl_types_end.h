/* fl_types_end.h -- undo fl_types.h */
#undef FL_REAL
#undef FL_VEC
#undef FL_IVEC
#undef FL_UVEC
#undef FL_NVEC
#undef FL_NIVEC
#undef FL_LANES
#undef FL_NLANES
#undef FL_S
#undef FL_IS
#undef FL_IMAX
#undef FL_VFN
#undef FL_IFN
#undef FL_TC
#undef FL_KERNEL
