/*
 * test_cpu_nan.c - NaN propagation on the CPU backend (float64 and float32): a NaN in q, k,
 * v, a tangent, dO or an additive mask entry gives NaN in the outputs it reaches and never
 * outside its batch (tests/common/nan_prop.h says exactly where).
 *
 *   ctest -L cpu    or    ./test_cpu_nan          (JFA_TEST_SEED=... to repeat)
 */
#include <stdlib.h>

#include "cpu_test.h"
#include "nan_prop.h"

static np_buf_t cpu_alloc(jfa_dtype_t dtype, int64_t B, int64_t H, int64_t S, int64_t D) {
  tbuf_t *t = (tbuf_t *)malloc(sizeof(tbuf_t));
  *t = tb_new(dtype, 0, B, H, S, D);
  np_buf_t b = {t->t, t->val, t->n, t};
  return b;
}
static void cpu_set(np_buf_t *b, const double *values) { tb_set((tbuf_t *)b->impl, values); }
static void cpu_get(np_buf_t *b) { tb_get((tbuf_t *)b->impl); }
static void cpu_release(np_buf_t *b) {
  tb_free((tbuf_t *)b->impl);
  free(b->impl);
}

int main(void) {
  tu_init_seed("test_cpu_nan");
  jfa_context_t *ctx;
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;
  np_device_t dev = {ctx, JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT64, cpu_alloc, cpu_set, cpu_get, cpu_release};
  np_run(&dev, 20, "cpu float64 D=20");
  dev.dtype = dev.stat_dtype = JFA_DTYPE_FLOAT32;
  np_run(&dev, 16, "cpu float32 D=16");
  jfa_context_destroy(ctx);
  return tu_finish();
}
