/*
 * view.cuh - the data the CUDA kernels of every family read: strided tensor views,
 * the dtype traits (float, double, half, bfloat16 conversions and 16-bit packing) and
 * the shared-memory address of a pointer.
 */
#ifndef JFA_KERNELS_COMMON_VIEW_CUH_
#define JFA_KERNELS_COMMON_VIEW_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/check.h"

/* ---------------------------------------------------------------------------- */
/* Views passed to kernels                                                         */

/** A strided (B, H, N, D) view: base pointer and element strides. */
struct View {
  void *p;
  int64_t sb, sh, ss, sd;
};

static inline View make_view(const jfa_tensor_t *t) {
  View v;
  v.p = t ? t->data : nullptr;
  v.sb = t ? t->stride[0] : 0;
  v.sh = t ? t->stride[1] : 0;
  v.ss = t ? t->stride[2] : 0;
  v.sd = t ? t->stride[3] : 0;
  return v;
}

/** Whether v's elements (b, h, s, n k .. n k + n - 1) are one aligned 16-byte piece for every index, n = 16 / elt
 *  (elt: the element's bytes): the columns contiguous, the other strides multiples of n, the base 16-byte aligned. */
static inline bool view_vec16(const View &v, int64_t elt) {
  const int64_t n = 16 / elt;
  return v.sd == 1 && v.sb % n == 0 && v.sh % n == 0 && v.ss % n == 0 && (uintptr_t)v.p % 16 == 0;
}

__device__ __forceinline__ int64_t voff(const View &v, int64_t b, int64_t h, int64_t s, int64_t d) {
  return b * v.sb + h * v.sh + s * v.ss + d * v.sd;
}

/* ---------------------------------------------------------------------------- */
/* Dtype traits                                                                    */

/* The larger of a and b, NaN when either is NaN (max.NaN.f32, sm_80+): the running row max of
   the online softmax uses it so that a NaN score makes its row NaN, where fmaxf would drop it
   and leave a zero row. */
__device__ __forceinline__ float fmax_nan(float a, float b) {
  float r;
  asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
  return r;
}

/* min(p, 1), NaN when p is NaN (min.NaN.f32): the backward's P = exp(S - lse) with a float32
   lse rounded below the row's max score (|S| near JFA_SCALE_MAX) must not exceed 1 (exp of
   a rounding error of hundreds would be inf, and inf * 0 NaN); a NaN P stays NaN. */
__device__ __forceinline__ float p_cap1(float p) {
  float r;
  asm("min.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(p), "f"(1.0f));
  return r;
}

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(double x) { return (float)x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ double from_f<double>(float x) { return (double)x; }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

/** Packs two floats into a 32-bit register of two 16-bit values (low = a). */
template <typename T> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <> __device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<uint32_t *>(&h);
}
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<uint32_t *>(&h);
}

/** Writes x into t's element (b, h, j, d) as T, or (accumulate) adds it into the float32 accumulator there; t without
 *  data: nothing (the backwards' key-side outputs, element by element from the accumulator fragments). */
template <typename T>
__device__ __forceinline__ void store_or_add(const View &t, int64_t b, int64_t h, int64_t j, int64_t d, float x,
                                             int accumulate) {
  if (!t.p) return;
  if (accumulate) ((float *)t.p)[voff(t, b, h, j, d)] += x;
  else ((T *)t.p)[voff(t, b, h, j, d)] = from_f<T>(x);
}

/** The backwards' epilogue through shared memory: rows [0, rows) of a [row][D] tile of T elements in shared memory
 *  (row pitch P bytes) as 16-byte pieces into out's rows n0 + row < nk of (b, h), or (ADD; T = float) added into
 *  out's float32 accumulators; thread t of nt takes pieces t, t + nt, .., a row's pieces by consecutive threads.
 *  Only the pieces of columns below cols (a multiple of the piece's elements: out's head dim where the kernel's D pads
 *  it, sm90/tiles.h kSm90PadDense). out must allow 16-byte pieces (view_vec16). */
template <typename T, int D, bool ADD = false>
__device__ __forceinline__ void tile_store16(const unsigned char *tile, uint32_t P, int rows, const View &out,
                                             int64_t b, int64_t h, int64_t n0, int64_t nk, int t, int nt,
                                             int cols = D) {
  constexpr int E = 16 / (int)sizeof(T), CH = D / E; /* elements a piece, pieces a row */
  static_assert(!ADD || sizeof(T) == 4, "ADD: float32 accumulators");
#pragma unroll 2
  for (int c = t; c < rows * CH; c += nt) {
    const int row = c / CH, cc = c % CH;
    const int64_t j = n0 + row;
    if (j >= nk || cc * E >= cols) continue;
    T *dst = (T *)out.p + voff(out, b, h, j, cc * E);
    const uint4 x = *(const uint4 *)(tile + (uint32_t)row * P + (uint32_t)cc * 16);
    if (ADD) {
      float4 y = *(const float4 *)dst;
      y.x += __uint_as_float(x.x), y.y += __uint_as_float(x.y), y.z += __uint_as_float(x.z), y.w += __uint_as_float(x.w);
      *(float4 *)dst = y;
    } else {
      *(uint4 *)dst = x;
    }
  }
}

/** The 32-bit shared-memory address of a generic pointer to shared memory (the operand form
 *  of ldmatrix, cp.async, wgmma descriptors and TMA). */
__device__ __forceinline__ uint32_t smem_u32(const void *p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

/** The jfa_dtype_t of a 16-bit element type (the dtype key of the tile configurations). */
template <typename T> struct DtypeOf;
template <> struct DtypeOf<__half> { static constexpr int value = JFA_DTYPE_FLOAT16; };
template <> struct DtypeOf<__nv_bfloat16> { static constexpr int value = JFA_DTYPE_BFLOAT16; };

#endif /* JFA_KERNELS_COMMON_VIEW_CUH_ */
