/*
 * testutil.c - implementation of testutil.h (see there). Plain C11; dtype
 * conversion is the library's jfa_convert_host.
 */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t tu_state = 0x9E3779B97F4A7C15ull;
static int tu_passed = 0, tu_failed = 0;

static uint64_t splitmix64(void) {
  uint64_t z = (tu_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t tu_init_seed(const char *test_name) {
  const char *env = getenv("JFA_TEST_SEED");
  uint64_t seed;
  if (env && *env) {
    seed = strtoull(env, NULL, 0);
  } else {
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    seed = (uint64_t)ts.tv_sec * 1000003ull ^ (uint64_t)ts.tv_nsec;
  }
  tu_state = seed;
  printf("%s: seed %llu (set JFA_TEST_SEED to repeat)\n", test_name, (unsigned long long)seed);
  fflush(stdout);
  return seed;
}

double tu_uniform(void) { return (double)(splitmix64() >> 11) * (1.0 / 9007199254740992.0); }

double tu_normal(void) {
  double u1 = tu_uniform(), u2 = tu_uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void tu_fill_normal(double *x, size_t n, double scale) {
  for (size_t i = 0; i < n; ++i) x[i] = scale * tu_normal();
}

double tu_round(double x, jfa_dtype_t dtype) {
  unsigned char tmp[8];
  double y = x;
  jfa_convert_host(&x, JFA_DTYPE_FLOAT64, tmp, dtype, 1);
  jfa_convert_host(tmp, dtype, &y, JFA_DTYPE_FLOAT64, 1);
  return y;
}

void tu_to_dtype(const double *src, void *dst, size_t n, jfa_dtype_t dtype) {
  jfa_convert_host(src, JFA_DTYPE_FLOAT64, dst, dtype, n);
}

void tu_from_dtype(const void *src, double *dst, size_t n, jfa_dtype_t dtype) {
  jfa_convert_host(src, dtype, dst, JFA_DTYPE_FLOAT64, n);
}

static void tu_strided(const jfa_tensor_t *t, double *vals, int to_tensor) {
  size_t es = jfa_dtype_size(t->dtype);
  size_t idx = 0;
  for (int64_t b = 0; b < t->shape[0]; ++b)
    for (int64_t h = 0; h < t->shape[1]; ++h)
      for (int64_t s = 0; s < t->shape[2]; ++s)
        for (int64_t d = 0; d < t->shape[3]; ++d, ++idx) {
          int64_t off = b * t->stride[0] + h * t->stride[1] + s * t->stride[2] + d * t->stride[3];
          char *p = (char *)t->data + (size_t)off * es;
          if (to_tensor) tu_to_dtype(&vals[idx], p, 1, t->dtype);
          else tu_from_dtype(p, &vals[idx], 1, t->dtype);
        }
}

void tu_gather(const jfa_tensor_t *t, double *dst) { tu_strided(t, dst, 0); }
void tu_scatter(const double *src, const jfa_tensor_t *t) { tu_strided(t, (double *)src, 1); }

void tu_poison(void *dst, size_t n, jfa_dtype_t dtype) {
  double nan = NAN;
  for (size_t i = 0; i < n; ++i) tu_to_dtype(&nan, (char *)dst + i * jfa_dtype_size(dtype), 1, dtype);
}

size_t tu_count_nan(const double *x, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; ++i) c += isnan(x[i]) ? 1 : 0;
  return c;
}

double tu_rel_err(const double *a, const double *b, size_t n) { return tu_rel_err_floor(a, b, n, 0.0); }

double tu_worst(double a, double b) { return (isnan(a) || isnan(b)) ? NAN : (a > b ? a : b); }

double tu_rel_err_floor(const double *a, const double *b, size_t n, double floor_rms) {
  double num = 0.0, den = 0.0;
  size_t finite = 0;
  for (size_t i = 0; i < n; ++i) {
    if (isnan(a[i]) || isnan(b[i])) return NAN;
    if (isinf(a[i]) || isinf(b[i])) {
      if (a[i] != b[i]) return INFINITY;
      continue;
    }
    double d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
    ++finite;
  }
  den = fmax(den, floor_rms * floor_rms * (double)finite);
  return den > 0.0 ? sqrt(num / den) : sqrt(num);
}

int tu_check(const char *name, double err, double tol) {
  int ok = !isnan(err) && err <= tol;
  printf("[%s] %s: err=%.3e tol=%.1e\n", ok ? "PASS" : "FAIL", name, err, tol);
  fflush(stdout);
  if (ok) ++tu_passed; else ++tu_failed;
  return ok;
}

int tu_expect(const char *name, int ok) {
  printf("[%s] %s\n", ok ? "PASS" : "FAIL", name);
  fflush(stdout);
  if (ok) ++tu_passed; else ++tu_failed;
  return ok;
}

int tu_finish(void) {
  printf("%d passed, %d failed\n", tu_passed, tu_failed);
  return tu_failed == 0 && tu_passed > 0 ? 0 : 1;
}
