/*
 * exp2_poly.h - 2^x on the FMA pipe instead of the MUFU unit (issue 19).
 *
 * The 16-bit sm90 forward computes each probability as one FFMA and one ex2.approx.ftz (MUFU.EX2:
 * 16 a clock per SM on Hopper against the FMA pipe's 128). At D = 64 a block's exponentials take
 * about as many MUFU cycles as its wgmma take on the tensor cores, so the forward's tuning variants
 * with tiles.h EXPF > 0 compute a fixed share of them with this function (common/softmax.cuh).
 *
 * 2^x = 2^n * p(f), n = floor(x), f = x - n in [0, 1) (Cody-Waite: exact for |x| <= 128), with
 *   - x clamped to [-127, 128] by max.NaN / min.NaN (NaN stays NaN): -inf and x < -126 give 0 (as
 *     ex2.approx.ftz flushes results below 2^-126), +inf and x >= 128 give +inf;
 *   - n from one FADD rounding down: t = x + (1.5 2^23 + 127) lies in [2^23, 2^24), where the float
 *     step is 1, so t's low mantissa bits are n + 127: shifted left by 23, they are 2^n's bits (0 at
 *     n = -127, +inf at n = 128);
 *   - p(f) = 1 + f (c1 + f (c2 + f (c3 + f (c4 + f c5)))), five FFMA (Horner), the coefficients a
 *     minimax fit of 2^f's relative error on [0, 1) with p(0) = 1 exactly (8.2e-8 in exact arithmetic,
 *     about 1.4e-7 with float32 rounding; ex2.approx: 2 ulp);
 *   - the result p * 2^n (one FMUL): NaN * anything is NaN, p * 0 = 0, p * inf = inf.
 * Per call: 2 FMNMX, 3 FADD, 5 FFMA, 1 shift, 1 FMUL; no MUFU.
 * The host form (C, for tests/cpu/test_cpu_exp2_poly.c) takes floor with floorf and the NaN case by a
 * test: the same values.
 */
#ifndef JFA_KERNELS_COMMON_EXP2_POLY_H_
#define JFA_KERNELS_COMMON_EXP2_POLY_H_

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define JFA_EXP2P_FN __host__ __device__ __forceinline__
#else
#define JFA_EXP2P_FN static inline
#endif

/* The polynomial's coefficients (float32, exactly as written: hex floats) */
#define JFA_EXP2P_C1 0x1.62e4bap-1f
#define JFA_EXP2P_C2 0x1.ebdb56p-3f
#define JFA_EXP2P_C3 0x1.c91ce6p-5f
#define JFA_EXP2P_C4 0x1.277854p-7f
#define JFA_EXP2P_C5 0x1.e97502p-10f
/* 1.5 2^23 + 127: x + this, rounded down, is 1.5 2^23 + 127 + floor(x) */
#define JFA_EXP2P_SHIFTER 12583039.f

/* 2^x without MUFU: relative error below 3e-7 for x in [-126, 128), 0 for x < -126 and -inf, +inf for
   x >= 128 and +inf, NaN for NaN. */
JFA_EXP2P_FN float jfa_exp2_poly(float x) {
#if defined(__CUDA_ARCH__)
  asm("max.NaN.f32 %0, %0, 0fC2FE0000;" : "+f"(x)); /* -127 */
  asm("min.NaN.f32 %0, %0, 0f43000000;" : "+f"(x)); /* 128 */
  const float t = __fadd_rd(x, JFA_EXP2P_SHIFTER);   /* 1.5 2^23 + 127 + n */
  const float n = t - JFA_EXP2P_SHIFTER;             /* floor(x), exact */
  const float sc = __uint_as_float(__float_as_uint(t) << 23); /* 2^n */
#else
  if (x != x) return x;
  x = x < -127.f ? -127.f : x > 128.f ? 128.f : x;
  const float n = floorf(x);
  const uint32_t sb = (uint32_t)((int32_t)n + 127) << 23;
  float sc;
  memcpy(&sc, &sb, sizeof(sc));
#endif
  const float f = x - n; /* [0, 1), exact */
  float q = fmaf(f, JFA_EXP2P_C5, JFA_EXP2P_C4);
  q = fmaf(f, q, JFA_EXP2P_C3);
  q = fmaf(f, q, JFA_EXP2P_C2);
  q = fmaf(f, q, JFA_EXP2P_C1);
  const float p = fmaf(f, q, 1.f);
  return p * sc;
}

#endif /* JFA_KERNELS_COMMON_EXP2_POLY_H_ */
