/*
 * overlap.h - private: the output-stride check of src/core/overlap.c.
 */
#ifndef JFA_CORE_OVERLAP_H_
#define JFA_CORE_OVERLAP_H_

#include "jfa.h"

/**
 * JFA_SUCCESS when the view t (already checked by jfa_check_tensor: non-negative
 * strides, bounded extents) has distinct addresses for distinct elements; else sets
 * the last error naming `name` and returns JFA_ERROR_INVALID_ARGUMENT.
 */
jfa_status_t jfa_check_output_strides(const jfa_tensor_t *t, const char *name);

#endif /* JFA_CORE_OVERLAP_H_ */
