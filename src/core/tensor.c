/*
 * tensor.c - constructors of strided tensor views (BHSD and BSHD storage) and numel,
 * all with checked (overflow-safe) products; the slice of a view along one axis.
 */
#include <stddef.h>

#include "core/backend.h"
#include "core/check.h"

/* *out = a * b for a, b >= 0; returns 0 on int64 overflow. */
static int mul_ok(int64_t a, int64_t b, int64_t *out) {
  if (a != 0 && b > INT64_MAX / a) return 0;
  *out = a * b;
  return 1;
}

/* A view of shape (b, h, s, d) whose axis `outer` (1: heads, 2: seq) is stored outside the other. */
static jfa_tensor_t contiguous_view(const char *fn, void *data, jfa_dtype_t dtype, jfa_device_t device, int64_t b,
                                    int64_t h, int64_t s, int64_t d, int outer) {
  jfa_tensor_t t;
  t.data = data;
  t.dtype = dtype;
  t.device = device;
  t.shape[0] = b, t.shape[1] = h, t.shape[2] = s, t.shape[3] = d;
  t.stride[0] = t.stride[1] = t.stride[2] = t.stride[3] = 0;
  if (b < 0 || h < 0 || s < 0 || d < 0) {
    (void)jfa_set_error(JFA_ERROR_INVALID_ARGUMENT, __FILE__, __LINE__,
                        "%s: negative size in (%lld, %lld, %lld, %lld); strides set to 0", fn, (long long)b,
                        (long long)h, (long long)s, (long long)d);
    return t;
  }
  const int64_t inner = outer == 1 ? s : h; /* the axis stored between the outer one and dim */
  int64_t s_inner = d, s_outer, s_batch, numel;
  if (!mul_ok(inner, d, &s_outer) || !mul_ok(outer == 1 ? h : s, s_outer, &s_batch) || !mul_ok(b, s_batch, &numel)) {
    (void)jfa_set_error(JFA_ERROR_INVALID_ARGUMENT, __FILE__, __LINE__,
                        "%s: (%lld, %lld, %lld, %lld) has more elements than int64 can count; strides set to 0", fn,
                        (long long)b, (long long)h, (long long)s, (long long)d);
    return t;
  }
  t.stride[0] = s_batch;
  t.stride[outer] = s_outer;
  t.stride[outer == 1 ? 2 : 1] = s_inner;
  t.stride[3] = 1;
  return t;
}

jfa_tensor_t jfa_tensor_bhsd(void *data, jfa_dtype_t dtype, jfa_device_t device,
                             int64_t batch, int64_t heads, int64_t seq, int64_t dim) {
  return contiguous_view("jfa_tensor_bhsd", data, dtype, device, batch, heads, seq, dim, 1);
}

jfa_tensor_t jfa_tensor_bshd(void *data, jfa_dtype_t dtype, jfa_device_t device,
                             int64_t batch, int64_t seq, int64_t heads, int64_t dim) {
  return contiguous_view("jfa_tensor_bshd", data, dtype, device, batch, heads, seq, dim, 2);
}

int64_t jfa_tensor_numel(const jfa_tensor_t *t) {
  if (!t) return 0;
  int64_t n = 1;
  int zero = 0;
  for (int i = 0; i < 4; ++i) {
    if (t->shape[i] < 0) {
      (void)jfa_set_error(JFA_ERROR_INVALID_ARGUMENT, __FILE__, __LINE__, "jfa_tensor_numel: shape[%d] = %lld is negative",
                          i, (long long)t->shape[i]);
      return -1;
    }
    zero |= t->shape[i] == 0;
  }
  if (zero) return 0; /* the product is 0 whatever the other entries: no overflow (jfa.h) */
  for (int i = 0; i < 4; ++i) {
    if (!mul_ok(n, t->shape[i], &n)) {
      (void)jfa_set_error(JFA_ERROR_INVALID_ARGUMENT, __FILE__, __LINE__,
                          "jfa_tensor_numel: shape (%lld, %lld, %lld, %lld) has more elements than int64 can count",
                          (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2],
                          (long long)t->shape[3]);
      return -1;
    }
  }
  return n;
}

jfa_tensor_t jfa_tensor_slice(const jfa_tensor_t *t, int axis, int64_t start, int64_t n) {
  jfa_tensor_t v = *t;
  v.data = (unsigned char *)t->data + (ptrdiff_t)(start * t->stride[axis]) * (ptrdiff_t)jfa_dtype_size(t->dtype);
  v.shape[axis] = n;
  return v;
}
