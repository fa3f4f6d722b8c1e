/*
 * host_convert.c - jfa_convert_host: dtype conversion of host arrays, including
 * float16 and bfloat16 (round to nearest even), which C has no type for. The one
 * implementation of these roundings: the programs and the tests call it.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/check.h"

static uint16_t f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
  u += 0x7fffu + ((u >> 16) & 1u);
  return (uint16_t)(u >> 16);
}

static float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static uint16_t f32_to_f16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);  /* NaN */
  if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
  if (ax < 0x38800000u) {                                     /* fp16 subnormal or zero */
    float a;
    memcpy(&a, &ax, 4);
    return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f)); /* units of 2^-24, ties to even */
  }
  uint32_t h = (((ax >> 23) - 127 + 15) << 10) | ((ax & 0x7fffffu) >> 13);
  uint32_t rest = ax & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h += 1;
  return (uint16_t)(sign | h);
}

static float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  float f;
  if (e == 0) {
    f = ldexpf((float)m, -24);
    return sign ? -f : f;
  }
  uint32_t u = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e - 15 + 127) << 23) | (m << 13));
  memcpy(&f, &u, 4);
  return f;
}

static double load(const void *p, size_t i, jfa_dtype_t dt) {
  switch (dt) {
    case JFA_DTYPE_FLOAT64: return ((const double *)p)[i];
    case JFA_DTYPE_FLOAT32: return ((const float *)p)[i];
    case JFA_DTYPE_FLOAT16: return f16_to_f32(((const uint16_t *)p)[i]);
    case JFA_DTYPE_BFLOAT16: return bf16_to_f32(((const uint16_t *)p)[i]);
    case JFA_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0 ? 1.0 : 0.0;
  }
  return NAN;
}

/* x as a float rounded to odd: truncated toward zero, its last mantissa bit set when inexact. Rounding that float
   to nearest even in a format of at most 22 mantissa bits (float16: 10, bfloat16: 7) gives x rounded to nearest
   even directly: (float)x rounds once already, and a second rounding to nearest would move values within 2^-25
   relative of a float16/bfloat16 tie onto the tie, which then went to even (1 + 2^-11 + 2^-40 gave 1.0). */
static float f64_to_f32_odd(double x) {
  float f = (float)x;
  if (isnan(x) || (double)f == x) return f;
  uint32_t u;
  memcpy(&u, &f, 4);
  if (fabs((double)f) > fabs(x)) u -= 1; /* rounded away from zero (inf included: to FLT_MAX): step back */
  u |= 1u;
  memcpy(&f, &u, 4);
  return f;
}

static void store(void *p, size_t i, jfa_dtype_t dt, double x) {
  switch (dt) {
    case JFA_DTYPE_FLOAT64: ((double *)p)[i] = x; break;
    case JFA_DTYPE_FLOAT32: ((float *)p)[i] = (float)x; break;
    case JFA_DTYPE_FLOAT16: ((uint16_t *)p)[i] = f32_to_f16(f64_to_f32_odd(x)); break;
    case JFA_DTYPE_BFLOAT16: ((uint16_t *)p)[i] = f32_to_bf16(f64_to_f32_odd(x)); break;
    case JFA_DTYPE_BOOL: ((uint8_t *)p)[i] = x != 0.0; break; /* NaN is nonzero: true */
  }
}

jfa_status_t jfa_convert_host(const void *src, jfa_dtype_t src_dtype, void *dst, jfa_dtype_t dst_dtype,
                              size_t n) {
  size_t ss = jfa_dtype_size(src_dtype), ds = jfa_dtype_size(dst_dtype);
  if (ss == 0) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "src_dtype: unknown dtype %d", (int)src_dtype);
  if (ds == 0) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "dst_dtype: unknown dtype %d", (int)dst_dtype);
  if (n == 0) return JFA_SUCCESS;
  if (!src) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "src is NULL");
  if (!dst) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "dst is NULL");
  if ((uint64_t)n > ((uint64_t)1 << 52)) /* jfa's element limit (jfa.h): the byte ranges below cannot wrap */
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "n: %zu elements, more than jfa's limit 2^52", n);
  if (src == dst && src_dtype == dst_dtype) return JFA_SUCCESS;
  uintptr_t s0 = (uintptr_t)src, d0 = (uintptr_t)dst;
  if (s0 < d0 + n * ds && d0 < s0 + n * ss)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "dst overlaps src");
  for (size_t i = 0; i < n; ++i) store(dst, i, dst_dtype, load(src, i, src_dtype));
  return JFA_SUCCESS;
}
