/*
 * app_fill_cuda.cu - the device half of app_fill: a kernel that writes input t of a
 * (B, H, n, D) tensor in place, with the bits app_inputs.c computes on the host (the
 * same hash, the same double arithmetic without contraction, 16-bit dtypes rounded once to
 * nearest even through a float rounded to odd, as jfa_convert_host does), so the check
 * recomputes any row on the host.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "app.h"

__device__ __forceinline__ uint64_t mix_d(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* x as a float rounded to odd (truncated, its last bit set when inexact), as jfa_convert_host's f64_to_f32_odd:
   rounding it to float16 / bfloat16 then rounds x once, to nearest even (through a float rounded to nearest, values
   within float resolution of a tie went to even: 2358594 changed the host side, this keeps the bits equal). */
__device__ __forceinline__ float f64_to_f32_odd(double x) {
  const float f = __double2float_rz(x);
  if (isnan(x) || (double)f == x) return f;
  return __uint_as_float(__float_as_uint(f) | 1u);
}

template <typename T> __device__ __forceinline__ T from_double(double x);
template <> __device__ __forceinline__ double from_double<double>(double x) { return x; }
template <> __device__ __forceinline__ float from_double<float>(double x) { return __double2float_rn(x); }
template <> __device__ __forceinline__ __half from_double<__half>(double x) { return __float2half_rn(f64_to_f32_odd(x)); }
template <> __device__ __forceinline__ __nv_bfloat16 from_double<__nv_bfloat16>(double x) {
  return __float2bfloat16_rn(f64_to_f32_odd(x));
}

struct FillArgs {
  uint64_t k0; /* seed * golden, mixed with t */
  int64_t B, H, n, D, chunk, pos0, pos1, total;
};

template <typename T>
__global__ void fill_kernel(T *out, FillArgs a) {
  for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < a.total;
       idx += (int64_t)gridDim.x * blockDim.x) {
    const int64_t d = idx % a.D, r = idx / a.D, l = r % a.n, bh = r / a.n, h = bh % a.H, b = bh / a.H;
    const int64_t pos = (l / a.chunk == 0 ? a.pos0 : a.pos1) + l % a.chunk;
    uint64_t k = mix_d(mix_d(a.k0 ^ (uint64_t)b) ^ (uint64_t)h);
    k = mix_d(mix_d(k ^ (uint64_t)pos) ^ (uint64_t)d);
    const double u = __dmul_rn(__dmul_rn((double)(k >> 11), 1.0 / 9007199254740992.0), 2.0);
    out[idx] = from_double<T>(__dmul_rn(__dadd_rn(u, -1.0), 1.7320508075688772));
  }
}

static uint64_t mix_h(uint64_t z) { /* = mix_d and app_inputs.c's mix */
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

extern "C" int app_fill_cuda(void *data, jfa_dtype_t dt, int t, uint64_t seed, int64_t B, int64_t H, int64_t n,
                             int64_t D, const app_rows_t *rows) {
  FillArgs a;
  a.k0 = mix_h(seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)t);
  a.B = B, a.H = H, a.n = n, a.D = D;
  a.chunk = rows->chunk > 0 ? rows->chunk : (n > 0 ? n : 1);
  a.pos0 = rows->pos0[0], a.pos1 = rows->pos0[1];
  a.total = B * H * n * D;
  if (a.total <= 0) return 0;
  int64_t blocks = (a.total + 255) / 256;
  if (blocks > 65536 * 4) blocks = 65536 * 4; /* grid-stride beyond */
  switch (dt) {
    case JFA_DTYPE_FLOAT64: fill_kernel<double><<<(unsigned)blocks, 256>>>((double *)data, a); break;
    case JFA_DTYPE_FLOAT32: fill_kernel<float><<<(unsigned)blocks, 256>>>((float *)data, a); break;
    case JFA_DTYPE_FLOAT16: fill_kernel<__half><<<(unsigned)blocks, 256>>>((__half *)data, a); break;
    case JFA_DTYPE_BFLOAT16: fill_kernel<__nv_bfloat16><<<(unsigned)blocks, 256>>>((__nv_bfloat16 *)data, a); break;
    default: return -1;
  }
  if (cudaGetLastError() != cudaSuccess) return -1;
  return cudaDeviceSynchronize() == cudaSuccess ? 0 : -1;
}

extern "C" void *app_malloc_cuda(size_t bytes) {
  void *p = NULL;
  return cudaMalloc(&p, bytes) == cudaSuccess ? p : NULL;
}

extern "C" void app_free_cuda(void *p) { cudaFree(p); }

extern "C" int app_memcpy_cuda(void *dst, const void *src, size_t bytes, int to_host) {
  return cudaMemcpy(dst, src, bytes, to_host ? cudaMemcpyDeviceToHost : cudaMemcpyHostToDevice) == cudaSuccess ? 0 : -1;
}

extern "C" int app_memset_cuda(void *dst, int byte, size_t bytes) {
  if (cudaMemset(dst, byte, bytes) != cudaSuccess) return -1;
  return cudaDeviceSynchronize() == cudaSuccess ? 0 : -1;
}
