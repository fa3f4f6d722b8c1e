/*
 * test_cpu_convert.c - jfa_convert_host: float16/bfloat16 rounding against known
 * bit patterns and an independent round-to-nearest-even in double arithmetic,
 * exact round trips of every 16-bit pattern, NaN/inf/overflow/subnormals, and
 * bad arguments (status, nothing written).
 *
 *   ./test_cpu_convert      (label cpu)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static uint16_t to16(double x, jfa_dtype_t dt) {
  uint16_t h = 0;
  jfa_convert_host(&x, JFA_DTYPE_FLOAT64, &h, dt, 1);
  return h;
}

static double from16(uint16_t h, jfa_dtype_t dt) {
  double x = 0;
  jfa_convert_host(&h, dt, &x, JFA_DTYPE_FLOAT64, 1);
  return x;
}

/* Independent reference: the representable values of a format with `mbits`
   mantissa bits and minimum normal exponent emin, nearest with ties to even. */
static double ref_round(double x, int mbits, int emin) {
  if (x == 0 || !isfinite(x)) return x;
  int e;
  frexp(fabs(x), &e); /* |x| in [2^(e-1), 2^e) */
  int exp = e - 1 < emin ? emin : e - 1;
  double ulp = ldexp(1.0, exp - mbits);
  double q = fabs(x) / ulp, fl = floor(q), r = q - fl;
  double m = r > 0.5 ? fl + 1 : r < 0.5 ? fl : (fmod(fl, 2.0) == 0 ? fl : fl + 1);
  return copysign(m * ulp, x);
}

int main(void) {
  tu_init_seed("test_cpu_convert");

  /* known bit patterns */
  tu_expect("fp16(1.0) = 0x3c00", to16(1.0, JFA_DTYPE_FLOAT16) == 0x3c00);
  tu_expect("bf16(1.0) = 0x3f80", to16(1.0, JFA_DTYPE_BFLOAT16) == 0x3f80);
  tu_expect("fp16(-2.5) = 0xc100", to16(-2.5, JFA_DTYPE_FLOAT16) == 0xc100);
  tu_expect("fp16(65504) = 0x7bff (max)", to16(65504.0, JFA_DTYPE_FLOAT16) == 0x7bff);
  tu_expect("fp16(70000) = inf", to16(70000.0, JFA_DTYPE_FLOAT16) == 0x7c00);
  tu_expect("fp16(2^-24) = 0x0001 (smallest subnormal)", to16(ldexp(1.0, -24), JFA_DTYPE_FLOAT16) == 0x0001);
  tu_expect("fp16(2^-26) = 0 (below half the smallest subnormal)", to16(ldexp(1.0, -26), JFA_DTYPE_FLOAT16) == 0);
  tu_expect("fp16(1 + 2^-11) = 1.0 (tie to even)", to16(1.0 + ldexp(1.0, -11), JFA_DTYPE_FLOAT16) == 0x3c00);
  tu_expect("fp16(1 + 3*2^-11) = 0x3c02 (tie to even, up)", to16(1.0 + 3 * ldexp(1.0, -11), JFA_DTYPE_FLOAT16) == 0x3c02);
  tu_expect("bf16(1 + 2^-8) = 1.0 (tie to even)", to16(1.0 + ldexp(1.0, -8), JFA_DTYPE_BFLOAT16) == 0x3f80);
  tu_expect("fp16 NaN stays NaN", isnan(from16(to16(NAN, JFA_DTYPE_FLOAT16), JFA_DTYPE_FLOAT16)));
  tu_expect("bf16 NaN stays NaN", isnan(from16(to16(NAN, JFA_DTYPE_BFLOAT16), JFA_DTYPE_BFLOAT16)));
  tu_expect("bf16 -inf stays -inf", from16(to16(-INFINITY, JFA_DTYPE_BFLOAT16), JFA_DTYPE_BFLOAT16) == -INFINITY);
  tu_expect("bf16(1 + 3*2^-8) = 0x3f82 (tie to even, up)", to16(1.0 + 3 * ldexp(1.0, -8), JFA_DTYPE_BFLOAT16) == 0x3f82);
  tu_expect("bf16(-(1 + 3*2^-8)) = 0xbf82 (tie to even, up in magnitude)",
            to16(-(1.0 + 3 * ldexp(1.0, -8)), JFA_DTYPE_BFLOAT16) == 0xbf82);
  {
    /* float32 NaNs whose payload is all in the low 16 bits (0x7f800001: rounding would carry into inf) or fills
       the mantissa (0x7fffffff, 0xffffffff: rounding would carry into the sign, giving -0 / +0) stay NaN in bf16 */
    const uint32_t nans[4] = {0x7f800001u, 0x7fffffffu, 0xffffffffu, 0xff800001u};
    int ok = 1;
    for (int i = 0; i < 4; ++i) {
      float f;
      uint16_t h = 0;
      memcpy(&f, &nans[i], 4);
      ok &= jfa_convert_host(&f, JFA_DTYPE_FLOAT32, &h, JFA_DTYPE_BFLOAT16, 1) == JFA_SUCCESS;
      ok &= isnan(from16(h, JFA_DTYPE_BFLOAT16));
    }
    tu_expect("bf16 of float32 NaNs with any payload is NaN", ok);
  }
  {
    /* bool: nonzero (negative, NaN, subnormal, inf) is true, +-0 false */
    const double x[7] = {-2.5, NAN, ldexp(1.0, -1070), -INFINITY, 0.0, -0.0, 3.0};
    const uint8_t want[7] = {1, 1, 1, 1, 0, 0, 1};
    uint8_t b[7] = {9, 9, 9, 9, 9, 9, 9};
    int ok = jfa_convert_host(x, JFA_DTYPE_FLOAT64, b, JFA_DTYPE_BOOL, 7) == JFA_SUCCESS;
    for (int i = 0; i < 7; ++i) ok &= b[i] == want[i];
    tu_expect("bool: -2.5, NaN, 2^-1070, -inf, 3 -> 1; 0, -0 -> 0", ok);
  }

  /* every finite 16-bit pattern survives 16 -> double -> 16 exactly */
  int bad16 = 0, badbf = 0;
  for (uint32_t b = 0; b < 65536; ++b) {
    uint16_t h = (uint16_t)b;
    double x16 = from16(h, JFA_DTYPE_FLOAT16), xbf = from16(h, JFA_DTYPE_BFLOAT16);
    if (!isnan(x16) && to16(x16, JFA_DTYPE_FLOAT16) != h) ++bad16;
    if (!isnan(xbf) && to16(xbf, JFA_DTYPE_BFLOAT16) != h) ++badbf;
  }
  tu_expect("fp16: all 65536 patterns round-trip", bad16 == 0);
  tu_expect("bf16: all 65536 patterns round-trip", badbf == 0);

  /* random values (exactly representable in float, so no double rounding) vs the reference */
  int mism16 = 0, mismbf = 0, mism32 = 0;
  for (int i = 0; i < 200000; ++i) {
    double x = (double)(float)(tu_normal() * ldexp(1.0, (int)(tu_uniform() * 40) - 26));
    if (fabs(x) < 65504.0 && from16(to16(x, JFA_DTYPE_FLOAT16), JFA_DTYPE_FLOAT16) != ref_round(x, 10, -14)) ++mism16;
    if (from16(to16(x, JFA_DTYPE_BFLOAT16), JFA_DTYPE_BFLOAT16) != ref_round(x, 7, -126)) ++mismbf;
    float f;
    jfa_convert_host(&x, JFA_DTYPE_FLOAT64, &f, JFA_DTYPE_FLOAT32, 1);
    if ((double)f != x) ++mism32;
  }
  printf("random: fp16 mismatches %d, bf16 %d, fp32 %d of 200000\n", mism16, mismbf, mism32);
  /* float64 values within float32 resolution of a float16 / bfloat16 tie (jfa.h: round to nearest even, one
     rounding; through float32 they were rounded twice: onto the tie, then to even) */
  int near16 = 0, nearbf = 0;
  for (int i = 0; i < 200000; ++i) {
    double side = (i & 1) ? 1.0 : -1.0, tiny = ldexp(1.0, -30 - (int)(tu_uniform() * 20));
    int e = (int)(tu_uniform() * 30) - 20;
    double t16 = ldexp(1.0 + (double)(int)(tu_uniform() * 1024) / 1024.0 + ldexp(1.0, -11), e);
    double tbf = ldexp(1.0 + (double)(int)(tu_uniform() * 128) / 128.0 + ldexp(1.0, -8), e);
    double x16 = t16 * (1.0 + side * tiny), xbf = tbf * (1.0 + side * tiny);
    if (from16(to16(x16, JFA_DTYPE_FLOAT16), JFA_DTYPE_FLOAT16) != ref_round(x16, 10, -14)) ++near16;
    if (from16(to16(-xbf, JFA_DTYPE_BFLOAT16), JFA_DTYPE_BFLOAT16) != ref_round(-xbf, 7, -126)) ++nearbf;
  }
  printf("near ties: fp16 mismatches %d, bf16 %d of 200000\n", near16, nearbf);
  tu_expect("fp16(1 + 2^-11 + 2^-40) = 0x3c01 (above the tie: up, one rounding)",
            to16(1.0 + ldexp(1.0, -11) + ldexp(1.0, -40), JFA_DTYPE_FLOAT16) == 0x3c01);
  tu_expect("fp16 rounding of float64 values near a tie equals the reference (no double rounding)", near16 == 0);
  tu_expect("bf16 rounding of float64 values near a tie equals the reference (no double rounding)", nearbf == 0);
  tu_expect("bf16(DBL_MAX) = inf, fp16(1e300) = inf, bf16(1e-300) = 0",
            to16(1.7976931348623157e308, JFA_DTYPE_BFLOAT16) == 0x7f80 && to16(1e300, JFA_DTYPE_FLOAT16) == 0x7c00 &&
                to16(1e-300, JFA_DTYPE_BFLOAT16) == 0 && to16(-1e-300, JFA_DTYPE_FLOAT16) == 0x8000);
  tu_expect("fp16 rounding equals the reference on 200000 random values", mism16 == 0);
  tu_expect("bf16 rounding equals the reference on 200000 random values", mismbf == 0);
  tu_expect("fp32 conversion is exact on float values", mism32 == 0);

  /* dtype names (used in error messages and by the programs) */
  tu_expect("jfa_dtype_name names the four dtypes and refuses others",
            !strcmp(jfa_dtype_name(JFA_DTYPE_FLOAT64), "float64") && !strcmp(jfa_dtype_name(JFA_DTYPE_FLOAT32), "float32") &&
                !strcmp(jfa_dtype_name(JFA_DTYPE_FLOAT16), "float16") &&
                !strcmp(jfa_dtype_name(JFA_DTYPE_BFLOAT16), "bfloat16") &&
                !strcmp(jfa_dtype_name((jfa_dtype_t)9), "unknown"));

  /* bad arguments: status, nothing written */
  double src[4] = {1, 2, 3, 4}, dst[4] = {-7, -7, -7, -7};
  tu_expect("NULL src -> INVALID_ARGUMENT",
            jfa_convert_host(NULL, JFA_DTYPE_FLOAT64, dst, JFA_DTYPE_FLOAT64, 4) == JFA_ERROR_INVALID_ARGUMENT);
  tu_expect("unknown dtype -> INVALID_ARGUMENT",
            jfa_convert_host(src, (jfa_dtype_t)9, dst, JFA_DTYPE_FLOAT64, 4) == JFA_ERROR_INVALID_ARGUMENT &&
                strstr(jfa_get_last_error(), "src_dtype") != NULL);
  tu_expect("overlap -> INVALID_ARGUMENT",
            jfa_convert_host(src, JFA_DTYPE_FLOAT64, (char *)src + 8, JFA_DTYPE_FLOAT32, 2) == JFA_ERROR_INVALID_ARGUMENT);
  /* n * element size wrapping around size_t made the overlap test pass and the loop run off both arrays */
  tu_expect("n = SIZE_MAX / 4 + 2 (n * 4 wraps) -> INVALID_ARGUMENT naming n",
            jfa_convert_host(src, JFA_DTYPE_FLOAT32, dst, JFA_DTYPE_FLOAT32, SIZE_MAX / 4 + 2) ==
                    JFA_ERROR_INVALID_ARGUMENT &&
                strstr(jfa_get_last_error(), "n:") != NULL);
  tu_expect("n = 2^61 float64 (n * 8 wraps a pointer's range) -> INVALID_ARGUMENT",
            jfa_convert_host(src, JFA_DTYPE_FLOAT64, dst, JFA_DTYPE_FLOAT64, (size_t)1 << 61) ==
                JFA_ERROR_INVALID_ARGUMENT);
  tu_expect("bad calls wrote nothing", dst[0] == -7 && dst[3] == -7 && src[1] == 2 && src[2] == 3);
  tu_expect("n = 0 with NULL pointers is fine",
            jfa_convert_host(NULL, JFA_DTYPE_FLOAT32, NULL, JFA_DTYPE_FLOAT16, 0) == JFA_SUCCESS);
  return tu_finish();
}
