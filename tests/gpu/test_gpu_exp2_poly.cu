/*
 * test_gpu_exp2_poly.cu - jfa_exp2_poly's device form (src/kernels/common/exp2_poly.h: max.NaN / min.NaN, the
 * rounded-down FADD against 1.5 2^23 + 127, the shifted bits as 2^n; what the sm90 forward's EXPF variants run)
 * against its host form (floorf; test_cpu_exp2_poly checks that one against exp2 in double): bitwise equal
 * over a dense sweep of [-130, 130] (2^22 + 1 points), every 64th float of [2^-30, 1) shifted by 0, -126, -1, 50
 * and 126, integers, and -inf, +inf, NaN, +-0, 1e30, -1e30 (NaN compared as NaN); and against the GPU's
 * ex2.approx.ftz (what the other probabilities take): relative difference <= 5e-7 where 2^x >= 2^-126, both
 * exactly 0 below -126 and at -inf. Prints the largest difference. Exits 77 (CTest "Not Run") without a GPU.
 *
 *   ./test_gpu_exp2_poly      (label gpu)
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/exp2_poly.h"
#include "testutil.h"

/* y[i] = jfa_exp2_poly(x[i]), r[i] = ex2.approx.ftz(x[i]) */
__global__ void exp2_kernel(const float *x, float *y, float *r, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  y[i] = jfa_exp2_poly(x[i]);
  float e;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(e) : "f"(x[i]));
  r[i] = e;
}

static int same_bits(float a, float b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return memcmp(&a, &b, sizeof(a)) == 0;
}

int main(void) {
  int ndev = 0;
  if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
    printf("no CUDA GPU: skipped\n");
    return TU_SKIP;
  }
  tu_init_seed("test_gpu_exp2_poly");
  /* the inputs */
  const int NS = 1 << 22;
  int n = 0, cap = NS + 1 + 5 * (int)((0x3f800000u - 0x30800000u) / 64 + 1) + 300 + 16;
  float *x = (float *)malloc(sizeof(float) * (size_t)cap);
  for (int i = 0; i <= NS; ++i) x[n++] = (float)(-130.0 + 260.0 * (double)i / (double)NS);
  const float shifts[] = {0.f, -126.f, -1.f, 50.f, 126.f};
  for (uint32_t b = 0x30800000u; b < 0x3f800000u; b += 64) {
    float f;
    memcpy(&f, &b, 4);
    for (int s = 0; s < 5; ++s) x[n++] = f + shifts[s];
  }
  for (int k = -140; k <= 140; ++k) x[n++] = (float)k;
  const float special[] = {-INFINITY, INFINITY, NAN,     -NAN,       0.f,      -0.f,
                           1e30f,     -1e30f,   -126.5f, 127.99999f, 0x1p-24f, -0x1p-24f};
  for (size_t s = 0; s < sizeof(special) / sizeof(special[0]); ++s) x[n++] = special[s];

  float *dx = NULL, *dy = NULL, *dr = NULL;
  if (cudaMalloc(&dx, sizeof(float) * n) != cudaSuccess || cudaMalloc(&dy, sizeof(float) * n) != cudaSuccess ||
      cudaMalloc(&dr, sizeof(float) * n) != cudaSuccess) {
    tu_expect("cudaMalloc", 0);
    return tu_finish();
  }
  float *y = (float *)malloc(sizeof(float) * n), *r = (float *)malloc(sizeof(float) * n);
  cudaMemcpy(dx, x, sizeof(float) * n, cudaMemcpyHostToDevice);
  cudaMemset(dy, 0xff, sizeof(float) * n); /* poisoned: NaN */
  exp2_kernel<<<(n + 255) / 256, 256>>>(dx, dy, dr, n);
  const cudaError_t e = cudaDeviceSynchronize();
  tu_expect("kernel ran", e == cudaSuccess);
  if (e != cudaSuccess) {
    printf("  %s\n", cudaGetErrorString(e));
    return tu_finish();
  }
  cudaMemcpy(y, dy, sizeof(float) * n, cudaMemcpyDeviceToHost);
  cudaMemcpy(r, dr, sizeof(float) * n, cudaMemcpyDeviceToHost);

  int differ = 0, first = -1, flush_bad = 0;
  double worst = 0, worst_x = 0;
  for (int i = 0; i < n; ++i) {
    const float h = jfa_exp2_poly(x[i]);
    if (!same_bits(h, y[i])) {
      if (first < 0) first = i;
      ++differ;
    }
    if (isnan(x[i])) continue;
    if (x[i] < -126.f) {
      flush_bad += !(y[i] == 0.f && r[i] == 0.f);
    } else if (x[i] < 128.f && (double)r[i] >= 0x1p-126 && isfinite(r[i])) {
      const double d = fabs((double)y[i] - (double)r[i]) / (double)r[i];
      if (!(d <= worst)) worst = d, worst_x = x[i];
    }
  }
  char buf[256];
  if (first >= 0)
    printf("  first difference: x = %.9g host %.9g device %.9g\n", x[first], jfa_exp2_poly(x[first]), y[first]);
  snprintf(buf, sizeof(buf), "device jfa_exp2_poly bitwise its host form over %d inputs (%d differ)", n, differ);
  tu_expect(buf, differ == 0);
  printf("  largest relative difference from ex2.approx.ftz: %.3e at x = %.9g\n", worst, worst_x);
  tu_check("device jfa_exp2_poly against ex2.approx.ftz (relative, 2^x >= 2^-126)", worst, 5e-7);
  snprintf(buf, sizeof(buf), "x < -126 and -inf: 0 from both (%d not)", flush_bad);
  tu_expect(buf, flush_bad == 0);
  const int is = n - (int)(sizeof(special) / sizeof(special[0])); /* the specials' outputs */
  tu_expect("device: -inf -> 0", y[is] == 0.f);
  tu_expect("device: +inf -> +inf", isinf(y[is + 1]) && y[is + 1] > 0);
  tu_expect("device: NaN -> NaN", isnan(y[is + 2]) && isnan(y[is + 3]));
  tu_expect("device: +-0 -> 1", y[is + 4] == 1.f && y[is + 5] == 1.f);
  tu_expect("device: 1e30 -> +inf, -1e30 -> 0", isinf(y[is + 6]) && y[is + 7] == 0.f);
  cudaFree(dx), cudaFree(dy), cudaFree(dr);
  free(x), free(y), free(r);
  return tu_finish();
}
