/*
 * test_gpu_app_fill.c - the programs' device input generator (apps/common/app_fill_cuda.cu)
 * writes the same bits as the host one (app_inputs.c), for every dtype and a two-chunk
 * (zigzag) row map, and app_row recomputes any row of it: the float64 check of jfa_attn
 * and jfa_ring relies on it. Exits 77 without a GPU.
 */
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "gpu_test.h"

int main(void) {
  gt_require_gpu();
  const uint64_t seed = tu_init_seed("test_gpu_app_fill");
  const jfa_dtype_t dts[4] = {JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT32, JFA_DTYPE_FLOAT16, JFA_DTYPE_BFLOAT16};
  const int64_t B = 2, H = 3, n = 38, D = 20;
  const app_rows_t rows = {19, {5, 1000}}; /* local rows 0-18 at 5.., 19-37 at 1000.. */
  for (int k = 0; k < 4; ++k) {
    const jfa_dtype_t dt = dts[k];
    const size_t cnt = (size_t)(B * H * n * D), bytes = cnt * jfa_dtype_size(dt);
    void *dev = NULL, *got = malloc(bytes), *want = malloc(bytes);
    if (cudaMalloc(&dev, bytes) != cudaSuccess || !got || !want) {
      printf("allocation failed\n");
      return 1;
    }
    for (int t = 0; t < APP_T_N; ++t) {
      int ok = app_fill(dev, JFA_DEVICE_CUDA, dt, t, seed, B, H, n, D, &rows, 1) == 0;
      ok = ok && cudaMemcpy(got, dev, bytes, cudaMemcpyDeviceToHost) == cudaSuccess;
      ok = ok && app_fill(want, JFA_DEVICE_CPU, dt, t, seed, B, H, n, D, &rows, 2) == 0;
      char name[96];
      snprintf(name, sizeof name, "%s tensor %d: device bits == host bits", jfa_dtype_name(dt), t);
      tu_expect(name, ok && memcmp(got, want, bytes) == 0);
      /* app_row recomputes a row of it: (b, h) = (1, 2), local row 25 = global position 1006 */
      double row[20], stored[20];
      app_row(seed, t, 1, 2, 1006, D, dt, row);
      jfa_convert_host((const char *)want + (size_t)(((1 * H + 2) * n + 25) * D) * jfa_dtype_size(dt), dt, stored,
                       JFA_DTYPE_FLOAT64, (size_t)D);
      snprintf(name, sizeof name, "%s tensor %d: app_row == stored row", jfa_dtype_name(dt), t);
      tu_expect(name, memcmp(row, stored, sizeof row) == 0);
    }
    cudaFree(dev);
    free(got);
    free(want);
  }
  return tu_finish();
}
