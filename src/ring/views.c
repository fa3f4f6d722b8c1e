/*
 * views.c - tensor views of the ring (no copies): a contiguous view of ring memory and a
 * range of rows of a tensor. A leaf of src/ring: layout.c, ring.c, ring_mem.c and the
 * forward and backward use it, and it calls none of them.
 */
#include <stddef.h>

#include "ring/ring_internal.h"

jfa_tensor_t jfa_ring_view(const jfa_ring_t *r, void *data, jfa_dtype_t dtype, int64_t heads,
                           int64_t rows, int64_t dim) {
  return jfa_tensor_bhsd(data, dtype, r->ctx->device, r->cfg.batch, heads, rows, dim);
}

jfa_tensor_t jfa_ring_rows(const jfa_tensor_t *t, int64_t row0, int64_t rows) {
  return jfa_tensor_slice(t, 2, row0, rows);
}
