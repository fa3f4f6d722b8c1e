/*
 * tensor.c - constructors of strided tensor views (BHSD and BSHD storage) and numel.
 */
#include "jfa.h"

jfa_tensor_t jfa_tensor_bhsd(void *data, jfa_dtype_t dtype, jfa_device_t device,
                             int64_t batch, int64_t heads, int64_t seq, int64_t dim) {
  jfa_tensor_t t;
  t.data = data;
  t.dtype = dtype;
  t.device = device;
  t.shape[0] = batch;
  t.shape[1] = heads;
  t.shape[2] = seq;
  t.shape[3] = dim;
  t.stride[0] = heads * seq * dim;
  t.stride[1] = seq * dim;
  t.stride[2] = dim;
  t.stride[3] = 1;
  return t;
}

jfa_tensor_t jfa_tensor_bshd(void *data, jfa_dtype_t dtype, jfa_device_t device,
                             int64_t batch, int64_t seq, int64_t heads, int64_t dim) {
  /* the same view as BHSD, with the storage order of heads and seq swapped */
  jfa_tensor_t t = jfa_tensor_bhsd(data, dtype, device, batch, heads, seq, dim);
  t.stride[0] = seq * heads * dim;
  t.stride[1] = dim;
  t.stride[2] = heads * dim;
  return t;
}

int64_t jfa_tensor_numel(const jfa_tensor_t *t) {
  if (!t) return 0;
  return t->shape[0] * t->shape[1] * t->shape[2] * t->shape[3];
}
