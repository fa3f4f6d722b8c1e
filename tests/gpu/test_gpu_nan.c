/*
 * test_gpu_nan.c - NaN propagation in the CUDA kernels: a NaN in q, k, v, a tangent, dO or an
 * additive mask entry gives NaN in the outputs it reaches and never outside its batch (the
 * online softmax's running max must not drop it; nan_prop.h says exactly where), for each kernel family the dispatch picks:
 * bf16/fp16 D = 64 and 128 (sm_90a forward/JVP where it applies, else mma.sync), fp16 D = 96
 * (mma.sync), fp32 D = 40 (mma.sync TF32 at the D = 64 tiles: its rows are 16-byte aligned), fp32 D = 64 (sm_90a
 * TF32 forward and backward; the backward on mma.sync under JFA_SM90_F32_BWD=0, the test_gpu_nan_f32sm80 entry),
 * fp32 D = 256 (mma.sync TF32 forward, the column-sliced JVP and backward; the backward on simt under
 * JFA_SM80_F32_BWD256=0), bf16 D = 256 and fp16 D = 192 (the sm90 column splits), fp32 D = 32 and 128 (the sm90
 * TF32 forward), and the simt family: fp32 D = 33 and bf16 D = 60 (rows not 16-byte aligned, which every
 * tensor-core family declines; the family that ran is checked); the merge kernel too.
 * tests/common/nan_prop.c has the cases.
 *
 *   ctest -L gpu    or    ./test_gpu_nan          (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#include <stdio.h>
#include <stdlib.h>

#include "gpu_test.h"
#include "nan_prop.h"

static np_buf_t gpu_alloc(jfa_dtype_t dtype, int64_t B, int64_t H, int64_t S, int64_t D) {
  gbuf_t *g = (gbuf_t *)malloc(sizeof(gbuf_t));
  *g = gb_new(dtype, 0, B, H, S, D);
  np_buf_t b = {g->t, g->val, g->n, g};
  return b;
}
static void gpu_set(np_buf_t *b, const double *values) { gb_set((gbuf_t *)b->impl, values); }
static void gpu_get(np_buf_t *b) { gb_get((gbuf_t *)b->impl); }
static void gpu_release(np_buf_t *b) {
  gb_free((gbuf_t *)b->impl);
  free(b->impl);
}

int main(void) {
  gt_require_gpu();
  tu_init_seed("test_gpu_nan");
  jfa_context_t *ctx;
  gt_ok(jfa_context_create(&ctx, JFA_DEVICE_CUDA, 0), "context");
  static const struct {
    jfa_dtype_t dt;
    int64_t D;
    int simt; /* every call must run on the simt family */
  } cases[] = {{JFA_DTYPE_BFLOAT16, 64, 0}, {JFA_DTYPE_FLOAT16, 128, 0}, {JFA_DTYPE_FLOAT16, 96, 0},
               {JFA_DTYPE_FLOAT32, 40, 0}, {JFA_DTYPE_FLOAT32, 64, 0}, {JFA_DTYPE_FLOAT32, 256, 0},
               /* coverage audit: the sm90 16-bit column splits (the JVP's and the backward's at D = 192 / 256; the
                  forward at 112 / 80 keys a block), the sm90 float32 forward / JVP at D = 32 and its forward at
                  D = 128 (the JVP and backward there on sm80) */
               {JFA_DTYPE_BFLOAT16, 256, 0}, {JFA_DTYPE_FLOAT16, 192, 0}, {JFA_DTYPE_FLOAT32, 32, 0},
               {JFA_DTYPE_FLOAT32, 128, 0},
               /* the simt family (no entry above runs it: fp32 D = 40 takes sm80's TF32 kernel), float32 and 16-bit:
                  rows of 33 floats / 60 bf16 are not 16-byte aligned. Its forward / JVP reads a visible key whose
                  probability underflows (nan_prop.c NP_VU, NP_VDU; fcc106b) */
               {JFA_DTYPE_FLOAT32, 33, 1}, {JFA_DTYPE_BFLOAT16, 60, 1}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    np_device_t dev = {ctx, cases[c].dt, JFA_DTYPE_FLOAT32, gpu_alloc, gpu_set, gpu_get, gpu_release};
    char label[64];
    snprintf(label, sizeof label, "cuda %s D=%lld", jfa_dtype_name(cases[c].dt), (long long)cases[c].D);
    np_run(&dev, cases[c].D, label);
    if (cases[c].simt) { /* np_run's last forward+JVP and backward */
      char nm[96];
      snprintf(nm, sizeof nm, "%s forward+JVP", label), gt_check_path(ctx, nm, 0, GT_PATH_SIMT);
      snprintf(nm, sizeof nm, "%s backward", label), gt_check_path(ctx, nm, 1, GT_PATH_SIMT);
    }
  }
  jfa_context_destroy(ctx);
  return tu_finish();
}
