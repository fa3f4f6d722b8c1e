/*
 * util.c - shared pieces of the CPU backend: thread count, dtype checks, tensor
 * loading into float64 arrays, convert and fill.
 */
#include <string.h>

#include "cpu/cpu.h"

int jfa_cpu_num_threads(const jfa_context_t *ctx, double work) {
#ifdef _OPENMP
  if (work < 65536.0) return 1;
  if (ctx && ctx->num_threads > 0) return ctx->num_threads;
  return omp_get_max_threads();
#else
  (void)ctx;
  (void)work;
  return 1;
#endif
}

jfa_status_t jfa_cpu_check_dtype(const jfa_tensor_t *t, const char *name) {
  if (!t) return JFA_SUCCESS;
  if (t->dtype != JFA_DTYPE_FLOAT64 && t->dtype != JFA_DTYPE_FLOAT32)
    JFA_FAIL(JFA_ERROR_UNSUPPORTED, "%s: the CPU backend supports float64 and float32 only", name);
  if (t->device != JFA_DEVICE_CPU) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: tensor is not on the CPU", name);
  return JFA_SUCCESS;
}

jfa_status_t jfa_cpu_load(const jfa_context_t *ctx, const jfa_tensor_t *t, const char *name, double **out) {
  JFA_CHECK(jfa_cpu_check_dtype(t, name));
  int64_t B = t->shape[0], H = t->shape[1], S = t->shape[2], D = t->shape[3];
  double *a = (double *)malloc((size_t)(B * H * S * D) * sizeof(double));
  if (!a) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "%s: allocating a %lld-element float64 copy failed", name,
                   (long long)(B * H * S * D));
  int nt = jfa_cpu_num_threads(ctx, (double)(B * H * S * D));
  int64_t rows = B * H * S;
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t b = r / (H * S), h = (r / S) % H, s = r % S;
    int64_t base = jfa_cpu_off(t, b, h, s, 0);
    for (int64_t d = 0; d < D; ++d) a[r * D + d] = jfa_cpu_ld(t, base + d * t->stride[3]);
  }
  *out = a;
  return JFA_SUCCESS;
}

jfa_status_t jfa_cpu_convert(jfa_context_t *ctx, const jfa_tensor_t *src, const jfa_tensor_t *dst) {
  JFA_CHECK(jfa_cpu_check_dtype(src, "src"));
  JFA_CHECK(jfa_cpu_check_dtype(dst, "dst"));
  if (memcmp(src->shape, dst->shape, sizeof src->shape) != 0)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "dst: shape differs from src");
  int64_t H = src->shape[1], S = src->shape[2], D = src->shape[3];
  int64_t rows = src->shape[0] * H * S;
  int nt = jfa_cpu_num_threads(ctx, (double)(rows * D));
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t b = r / (H * S), h = (r / S) % H, s = r % S;
    for (int64_t d = 0; d < D; ++d)
      jfa_cpu_st(dst, jfa_cpu_off(dst, b, h, s, d), jfa_cpu_ld(src, jfa_cpu_off(src, b, h, s, d)));
  }
  return JFA_SUCCESS;
}

jfa_status_t jfa_cpu_fill(jfa_context_t *ctx, const jfa_tensor_t *dst, double value) {
  JFA_CHECK(jfa_cpu_check_dtype(dst, "dst"));
  int64_t H = dst->shape[1], S = dst->shape[2], D = dst->shape[3];
  int64_t rows = dst->shape[0] * H * S;
  int nt = jfa_cpu_num_threads(ctx, (double)(rows * D));
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t b = r / (H * S), h = (r / S) % H, s = r % S;
    for (int64_t d = 0; d < D; ++d) jfa_cpu_st(dst, jfa_cpu_off(dst, b, h, s, d), value);
  }
  return JFA_SUCCESS;
}
