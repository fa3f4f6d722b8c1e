/*
 * row_shift.c - the CPU single-device backwards' rows whose lse cannot carry their
 * probabilities. P = exp(S - lse) needs lse to the precision of S - lse; a row whose
 * visible keys all carry a huge negative finite bias (padding at -1e9, -1e30 or
 * finfo.min) has lse = max + log(n) rounded to its max, so P would be 1 for each of n
 * keys (the gradients n times too large, in float64 too). For the rows with
 * |lse| >= JFA_CPU_SHIFT_LSE the backward recomputes the row's statistics in float64
 * from its own scores: SH = m, the largest visible S, and L = log(sum exp(S - m)),
 * so that P = exp((S - SH) - L) (S - SH is exact where S is near m). Other rows keep
 * SH = 0 and their lse: (S - 0) - lse, bitwise the arithmetic before. Rows whose lse is
 * +-inf are recomputed too: a float32 lse stores +-inf where the float64 forward's lse
 * lies beyond FLT_MAX (float64 scores or biases such as -1e300), and P = exp(S - lse)
 * would then be 0 and the row's gradients silently zero; a row that sees no key keeps
 * lse = -inf (fully masked: no gradient), and a NaN lse stays NaN. The ring's block
 * backwards see only their block's keys and keep the given lse.
 */
#include <math.h>

#include "cpu/cpu.h"

void jfa_cpu_row_shift(jfa_context_t *ctx, const jfa_problem_t *p, const double *Q, const double *K, double *L,
                       double *SH) {
  const int64_t Hq = p->Hq, Hkv = p->Hkv, Nq = p->Nq, Nk = p->Nk, D = p->D, group = Hq / Hkv;
  const int64_t rows = p->B * Hq * Nq;
  int nt = jfa_cpu_num_threads(ctx, (double)rows);
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < rows; ++r) {
    SH[r] = 0.0;
    if (!jfa_cpu_lse_too_large(L[r])) continue; /* +-inf: recomputed (top of file) */
    const int64_t b = r / (Hq * Nq), h = (r / Nq) % Hq, i = r % Nq;
    const double *qi = Q + r * D, *Kb = K + (b * Hkv + h / group) * Nk * D;
    int64_t j0, j1;
    jfa_cpu_key_range(p, i, &j0, &j1);
    double m = -INFINITY, l = 0.0; /* the running max and sum of exp(S - m), one pass */
    for (int64_t j = j0; j < j1; ++j) {
      const double bias = jfa_cpu_mask_bias(p, b, h, i, j);
      if (bias == -INFINITY) continue;
      const double s = p->scale * jfa_cpu_dot(qi, Kb + j * D, D) + bias;
      if (s == -INFINITY) continue; /* P = 0 (an infinite key): exp(-inf - -inf) would make l NaN and keep the lse */
      if (s > m) {
        l = l * exp(m - s) + 1.0;
        m = s;
      } else {
        l += exp(s - m); /* a NaN score makes l NaN */
      }
    }
    if (!isfinite(m) || !isfinite(l)) continue; /* no visible key, or a NaN or infinite score: keep the given lse */
    SH[r] = m;
    L[r] = log(l);
  }
}
