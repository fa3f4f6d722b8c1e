/*
 * overlap.c - whether an output view's elements are distinct (no two at one
 * address), decided exactly for 4-d strided views (the rule is stated in jfa.h,
 * jfa_attention_forward): nested strides at once, a span shorter than the element
 * count at once, else a bounded linear Diophantine search.
 */
#include "core/check.h"
#include "core/overlap.h"

#define JFA_OVERLAP_BUDGET ((int64_t)1 << 18) /* candidate combinations the exact test may try */

static int64_t floor_div(int64_t a, int64_t b) { /* b > 0 */
  int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}
static int64_t ceil_div(int64_t a, int64_t b) { return -floor_div(-a, b); }
static int64_t mod_pos(int64_t a, int64_t m) { /* m > 0, result in [0, m) */
  int64_t r = a % m;
  return r < 0 ? r + m : r;
}
static int64_t mul_mod(int64_t a, int64_t b, int64_t m) { /* a, b in [0, m), m < 2^62 */
#ifdef __SIZEOF_INT128__
  return (int64_t)((unsigned __int128)a * (unsigned __int128)b % (unsigned __int128)m);
#else
  int64_t r = 0;
  for (; b > 0; b >>= 1, a = (a * 2) % m)
    if (b & 1) r = (r + a) % m;
  return r;
#endif
}
/* g = gcd(a, b) and a u + b v = g (a, b > 0). */
static int64_t ext_gcd(int64_t a, int64_t b, int64_t *u, int64_t *v) {
  int64_t u0 = 1, v0 = 0, u1 = 0, v1 = 1;
  while (b != 0) {
    int64_t q = a / b, t = a - q * b;
    a = b, b = t;
    t = u0 - q * u1, u0 = u1, u1 = t;
    t = v0 - q * v1, v0 = v1, v1 = t;
  }
  *u = u0, *v = v0;
  return a;
}

/* Whether a x + b y = r has an integer solution with |x| <= X and |y| <= Y
   (a, b > 0; |r|, a X, b Y < 2^61). */
static int bounded_solution(int64_t a, int64_t b, int64_t r, int64_t X, int64_t Y) {
  int64_t u, v, g = ext_gcd(a, b, &u, &v);
  if (r % g != 0) return 0;
  a /= g, b /= g, r /= g; /* now a u + b v = 1: x = u r (mod b) */
  int64_t x0 = mul_mod(mod_pos(u, b), mod_pos(r, b), b);
  /* |y| <= Y  <=>  r - b Y <= a x <= r + b Y */
  int64_t lo = ceil_div(r - b * Y, a), hi = floor_div(r + b * Y, a);
  if (lo < -X) lo = -X;
  if (hi > X) hi = X;
  if (lo > hi) return 0;
  return lo + mod_pos(x0 - lo, b) <= hi;
}

/*
 * An output must have distinct addresses for distinct elements. Axes of extent 1 do
 * not matter; a zero stride on a longer axis is an overlap. Accepted at once: strides
 * that, sorted, each exceed the span of the smaller ones. Refused at once: a span
 * shorter than the element count. Otherwise decided exactly: two elements coincide iff
 * sum_d stride_d delta_d = 0 for some nonzero delta with |delta_d| < extent_d; the
 * axes other than the two longest are enumerated and the last two solved as a bounded
 * linear Diophantine equation, within JFA_OVERLAP_BUDGET combinations (jfa.h's rule).
 */
jfa_status_t jfa_check_output_strides(const jfa_tensor_t *t, const char *name) {
  int64_t st[4], ex[4];
  int n = 0;
  for (int i = 0; i < 4; ++i) {
    if (t->shape[i] == 1) continue;
    if (t->stride[i] == 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: output has stride[%d] = 0 on an axis of extent %lld", name, i,
               (long long)t->shape[i]);
    st[n] = t->stride[i];
    ex[n] = t->shape[i];
    ++n;
  }
  for (int i = 1; i < n; ++i) /* insertion sort by stride */
    for (int j = i; j > 0 && st[j] < st[j - 1]; --j) {
      int64_t a = st[j], b = ex[j];
      st[j] = st[j - 1], ex[j] = ex[j - 1];
      st[j - 1] = a, ex[j - 1] = b;
    }
  int64_t span = 0, numel = 1;
  int nested = 1;
  for (int i = 0; i < n; ++i) {
    if (st[i] <= span) nested = 0;
    span += st[i] * (ex[i] - 1); /* < 2^61: jfa_check_tensor bounds the byte extent */
    numel *= ex[i];              /* <= 2^52 */
  }
  if (nested) return JFA_SUCCESS;
  if (span + 1 < numel)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: output strides make elements overlap (%lld elements in a span of %lld)",
             name, (long long)numel, (long long)(span + 1));
  /* solve for the two longest axes, enumerate the others (at most two) */
  int ord[4] = {0, 1, 2, 3};
  for (int i = 1; i < n; ++i)
    for (int j = i; j > 0 && ex[ord[j]] < ex[ord[j - 1]]; --j) {
      int tmp = ord[j];
      ord[j] = ord[j - 1], ord[j - 1] = tmp;
    }
  const int ne = n - 2; /* n >= 2 here: one axis always nests */
  int64_t combos = 1;
  for (int e = 0; e < ne; ++e) combos *= 2 * ex[ord[e]] - 1;
  if (combos > JFA_OVERLAP_BUDGET)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "%s: output strides are not nested (each stride, sorted, above the span of the smaller ones) and the "
             "view is too large to prove its elements distinct (see jfa.h, jfa_attention_forward)",
             name);
  const int64_t a = st[ord[n - 2]], A = ex[ord[n - 2]] - 1, b = st[ord[n - 1]], B = ex[ord[n - 1]] - 1;
  const int64_t s0 = ne > 0 ? st[ord[0]] : 0, m0 = ne > 0 ? ex[ord[0]] - 1 : 0;
  const int64_t s1 = ne > 1 ? st[ord[1]] : 0, m1 = ne > 1 ? ex[ord[1]] - 1 : 0;
  for (int64_t d0 = -m0; d0 <= m0; ++d0)
    for (int64_t d1 = -m1; d1 <= m1; ++d1) {
      int overlap;
      if (d0 == 0 && d1 == 0) /* a nonzero (x, y) with a x + b y = 0: x = b/g, y = -a/g at the least */
      {
        int64_t u, v, g = ext_gcd(a, b, &u, &v);
        overlap = b / g <= A && a / g <= B;
      } else {
        overlap = bounded_solution(a, b, -(s0 * d0 + s1 * d1), A, B);
      }
      if (overlap)
        JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: output strides (%lld,%lld,%lld,%lld) make elements overlap", name,
                 (long long)t->stride[0], (long long)t->stride[1], (long long)t->stride[2], (long long)t->stride[3]);
    }
  return JFA_SUCCESS;
}
