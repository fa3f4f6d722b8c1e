/*
 * test_cpu_exp2_poly.c - jfa_exp2_poly (src/kernels/common/exp2_poly.h: 2^x on the FMA pipe, the sm90 forward's
 * tuning variants with tiles.h EXPF > 0) in its host form, the same arithmetic as the device's (floorf for the
 * device's rounded-down FADD, one test for its NaN-propagating max / min), against exp2 in double:
 *   - a dense sweep of [-130, 130] (2^22 + 1 points, a step of 6.2e-5) and every 64th float32 of [2^-30, 1)
 *     (the polynomial's interval) plus 0, -126, -1, 50 and 126: relative error <= 3e-7 (float32 to a few
 *     ulp, against fp16's 2^-11 and ex2.approx's 2 ulp) where 2^x >= 2^-126; exactly 0 where x < -126 (the
 *     flush of ex2.approx.ftz);
 *   - integers n in [-126, 127]: exactly 2^n (p(0) = 1);
 *   - -inf -> 0, +inf and x >= 128 -> +inf, NaN -> NaN (of either sign), -0 and +0 -> 1;
 *   - monotone (non-decreasing) along the sweep.
 * Prints the maximum relative error and where it occurs.
 *
 *   ./test_cpu_exp2_poly      (label cpu)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kernels/common/exp2_poly.h"
#include "testutil.h"

/* the relative error of y against 2^x (double), for 2^x >= 2^-126 */
static double rel(float x, float y) {
  const double r = exp2((double)x);
  return fabs((double)y - r) / r;
}

int main(void) {
  tu_init_seed("test_cpu_exp2_poly");
  char buf[256];

  /* the sweep of [-130, 130] */
  const int64_t NS = (int64_t)1 << 22;
  double worst = 0, worst_x = 0;
  int64_t not_flushed = 0, not_monotone = 0, nonfinite = 0;
  float prev = 0.f;
  for (int64_t i = 0; i <= NS; ++i) {
    const float x = (float)(-130.0 + 260.0 * (double)i / (double)NS);
    const float y = jfa_exp2_poly(x);
    if (i > 0 && y < prev) ++not_monotone;
    prev = y;
    if (x < -126.f) {
      not_flushed += y != 0.f;
    } else if (x < 128.f) {
      if (!isfinite(y)) ++nonfinite;
      const double e = rel(x, y);
      if (!(e <= worst)) worst = e, worst_x = x;
    } else {
      nonfinite += !(isinf(y) && y > 0); /* counted as wrong: x >= 128 must give +inf */
    }
  }
  printf("sweep of [-130, 130], %lld points: max relative error %.3e at x = %.9g\n", (long long)NS + 1, worst,
         worst_x);
  tu_check("jfa_exp2_poly: max relative error over [-126, 128) (sweep)", worst, 3e-7);
  snprintf(buf, sizeof(buf), "jfa_exp2_poly: 0 below -126 (%lld not)", (long long)not_flushed);
  tu_expect(buf, not_flushed == 0);
  snprintf(buf, sizeof(buf), "jfa_exp2_poly: finite on [-126, 128), +inf from 128 (%lld not)", (long long)nonfinite);
  tu_expect(buf, nonfinite == 0);
  snprintf(buf, sizeof(buf), "jfa_exp2_poly: non-decreasing along the sweep (step 6.2e-5; %lld steps down)", (long long)not_monotone);
  tu_expect(buf, not_monotone == 0);

  /* the polynomial's interval: every 64th float of [0.5, 1) and of [0, 0.5) down to 2^-30, and their
     shifts by -126, -1, 50, 126 (the reduction's f in five binades) */
  double worst_f = 0, worst_fx = 0;
  const float shifts[] = {0.f, -126.f, -1.f, 50.f, 126.f};
  for (uint32_t b = 0x30800000u; b < 0x3f800000u; b += 64) { /* 2^-30 .. 1 */
    float f;
    memcpy(&f, &b, 4);
    for (size_t s = 0; s < sizeof(shifts) / sizeof(shifts[0]); ++s) {
      const float x = f + shifts[s];
      const double e = rel(x, jfa_exp2_poly(x));
      if (!(e <= worst_f)) worst_f = e, worst_fx = x;
    }
  }
  printf("f in [2^-30, 1) (every 64th float) + {0, -126, -1, 50, 126}: max relative error %.3e at x = %.9g\n", worst_f,
         worst_fx);
  tu_check("jfa_exp2_poly: max relative error, f over [0, 1) in five binades of 2^n", worst_f, 3e-7);

  /* integers: exactly 2^n */
  int bad_int = 0;
  for (int n = -126; n <= 127; ++n) bad_int += jfa_exp2_poly((float)n) != (float)ldexp(1.0, n);
  snprintf(buf, sizeof(buf), "jfa_exp2_poly(n) = 2^n exactly for n in [-126, 127] (%d not)", bad_int);
  tu_expect(buf, bad_int == 0);

  /* special values */
  tu_expect("jfa_exp2_poly(-inf) = 0", jfa_exp2_poly(-INFINITY) == 0.f);
  tu_expect("jfa_exp2_poly(+inf) = +inf", isinf(jfa_exp2_poly(INFINITY)) && jfa_exp2_poly(INFINITY) > 0);
  tu_expect("jfa_exp2_poly(128) = +inf", isinf(jfa_exp2_poly(128.f)) && jfa_exp2_poly(128.f) > 0);
  tu_expect("jfa_exp2_poly(1e30) = +inf", isinf(jfa_exp2_poly(1e30f)));
  tu_expect("jfa_exp2_poly(-1e30) = 0", jfa_exp2_poly(-1e30f) == 0.f);
  tu_expect("jfa_exp2_poly(NaN) is NaN", isnan(jfa_exp2_poly(NAN)));
  tu_expect("jfa_exp2_poly(-NaN) is NaN", isnan(jfa_exp2_poly(-NAN)));
  tu_expect("jfa_exp2_poly(-0) = 1", jfa_exp2_poly(-0.f) == 1.f);
  tu_expect("jfa_exp2_poly(+0) = 1", jfa_exp2_poly(0.f) == 1.f);
  tu_expect("jfa_exp2_poly(-126.5) = 0 (ftz)", jfa_exp2_poly(-126.5f) == 0.f);
  tu_expect("jfa_exp2_poly(-127) = 0", jfa_exp2_poly(-127.f) == 0.f);
  tu_expect("jfa_exp2_poly(-126) = 2^-126", jfa_exp2_poly(-126.f) == (float)ldexp(1.0, -126));
  /* the softmax's arguments: x <= 0 up to a rounding (s * scale - max), tiny positive ones included */
  tu_check("jfa_exp2_poly(2^-24) relative error", rel(0x1p-24f, jfa_exp2_poly(0x1p-24f)), 3e-7);
  tu_check("jfa_exp2_poly(-2^-24) relative error", rel(-0x1p-24f, jfa_exp2_poly(-0x1p-24f)), 3e-7);
  return tu_finish();
}
