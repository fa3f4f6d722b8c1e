/*
 * merge.c - the exact log-sum-exp merge of partial attention results on the CPU,
 * one row at a time in float64 (jfa_attention_merge and the accumulate mode).
 */
#include <float.h>

#include "cpu/cpu.h"

void jfa_cpu_merge_row(int64_t D, int jvp, double *o, double *lse, double *od, double *mu, const double *o_p,
                       double lse_p, const double *od_p, double mu_p, int nan_empty) {
  double la = *lse, lp = lse_p;
  double m = (isnan(la) || isnan(lp)) ? NAN : la > lp ? la : lp; /* NaN in either: NaN out */
  /* nan_empty: an empty side (lse = -inf) adds nothing but a NaN mu: its keys' probabilities are 0, their tangents
     infinite or NaN (0 * inf: the ring's partials of infinite keys, cpu/forward.c), which makes the row's tangent NaN,
     as the whole row's call gives. An empty side's o and od are never read (the ring fills only lse and mu). */
  const int nan_tangent =
      nan_empty && jvp && ((la == -INFINITY && isnan(*mu)) || (lp == -INFINITY && isnan(mu_p)));
  if (m == -INFINITY) { /* both empty */
    for (int64_t d = 0; d < D; ++d) {
      o[d] = 0.0;
      if (jvp) od[d] = nan_tangent ? NAN : 0.0;
    }
    *lse = -INFINITY;
    if (jvp) *mu = nan_tangent ? NAN : 0.0;
    return;
  }
  /* the weights from the exponents against the larger lse (one of them exactly 1), not exp(lse_x - l): l carries
     the rounding of its magnitude (ulp(l), 2e-13 at |l| ~ 2000), which exp(la - l) would pass to the dominant
     side's weight whole, while ea / (ea + ep) is within an ulp of it (as the CUDA merges: kernels/common/
     elementwise.cu, softmax.cuh). The ring merges every block this way: with exp(la - l) its O was 1e-14 off at
     |lse| ~ 2000 and its gradients 1e-11 .. 1e-7 (Delta = rowsum(dO O) cancels in near one-hot rows;
     tests/ring/test_ring_large_logits.c) */
  const double ea = exp(la - m), ep = exp(lp - m), sum = ea + ep;
  double l = m + log(sum);
  double wa = ea / sum, wp = ep / sum;
  /* an empty partial (lse = -inf) adds nothing; any other is weighed, its weight 0 where it underflows (0 * NaN
     is NaN: a NaN in a partial far below the other is not dropped, as the math and the single call); a NaN
     weight propagates */
  const int ua = la != -INFINITY, up = lp != -INFINITY;
  double mu_new = 0.0;
  if (jvp) mu_new = (ua ? wa * *mu : 0.0) + (up ? wp * mu_p : 0.0);
  for (int64_t d = 0; d < D; ++d) {
    double ov = 0.0, odv = 0.0;
    if (ua) {
      ov += wa * o[d];
      if (jvp) odv += wa * (od[d] + (*mu - mu_new) * o[d]);
    }
    if (up) {
      ov += wp * o_p[d];
      if (jvp) odv += wp * (od_p[d] + (mu_p - mu_new) * o_p[d]);
    }
    o[d] = ov;
    if (jvp) od[d] = odv;
  }
  *lse = l;
  if (jvp) *mu = nan_tangent ? NAN : mu_new;
  for (int64_t d = 0; nan_tangent && d < D; ++d) od[d] = NAN;
}

jfa_status_t jfa_cpu_attention_merge(jfa_context_t *ctx, const jfa_tensor_t *o_acc, const jfa_tensor_t *lse_acc,
                                     const jfa_tensor_t *od_acc, const jfa_tensor_t *mu_acc,
                                     const jfa_tensor_t *o_part, const jfa_tensor_t *lse_part,
                                     const jfa_tensor_t *od_part, const jfa_tensor_t *mu_part) {
  const jfa_tensor_t *all[8] = {o_acc, lse_acc, od_acc, mu_acc, o_part, lse_part, od_part, mu_part};
  static const char *names[8] = {"o_acc", "lse_acc", "od_acc", "mu_acc", "o_part", "lse_part", "od_part", "mu_part"};
  for (int i = 0; i < 8; ++i) JFA_CHECK(jfa_cpu_check_dtype(all[i], names[i]));
  int jvp = od_acc && mu_acc && od_part && mu_part;
  int64_t B = o_acc->shape[0], H = o_acc->shape[1], N = o_acc->shape[2], D = o_acc->shape[3];
  if (lse_acc->dtype == JFA_DTYPE_FLOAT32 && lse_part->dtype != JFA_DTYPE_FLOAT32) {
    /* a float64 partial's lse can merge beyond FLT_MAX (a float64 bias of -1e300, say), which lse_acc would store as
       -inf or +inf beside a finite o: a later merge would then drop the row as empty, silently. Checked over every row
       before anything is written. (float32 partials merge within FLT_MAX: m + log 2 rounds to m there.) */
    for (int64_t r = 0; r < B * H * N; ++r) {
      int64_t b = r / (H * N), h = (r / N) % H, i = r % N;
      double la = jfa_cpu_ld(lse_acc, jfa_cpu_off(lse_acc, b, h, i, 0));
      double lp = jfa_cpu_ld(lse_part, jfa_cpu_off(lse_part, b, h, i, 0));
      double m = la > lp ? la : lp;
      if (isnan(la) || isnan(lp) || m == -INFINITY) continue;
      double l = m + log(exp(la - m) + exp(lp - m));
      if (isfinite(l) && fabs(l) > FLT_MAX)
        JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
                 "merge: row (%lld, %lld, %lld)'s merged lse %g is beyond float32's range, which lse_acc has: give "
                 "lse_acc float64 (nothing was written)",
                 (long long)b, (long long)h, (long long)i, l);
    }
  }
  int nt = jfa_cpu_num_threads(ctx, (double)(B * H * N) * (double)(4 * D));
  double *scratch = (double *)malloc((size_t)nt * (size_t)(4 * D) * sizeof(double));
  if (!scratch) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "merge: allocating %d x %lld doubles failed", nt, (long long)(4 * D));
  int64_t rows = B * H * N;
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t b = r / (H * N), h = (r / N) % H, i = r % N;
    double *o = scratch + (size_t)jfa_cpu_thread_id() * (size_t)(4 * D);
    double *od = o + D, *op = o + 2 * D, *odp = o + 3 * D;
    for (int64_t d = 0; d < D; ++d) {
      o[d] = jfa_cpu_ld(o_acc, jfa_cpu_off(o_acc, b, h, i, d));
      op[d] = jfa_cpu_ld(o_part, jfa_cpu_off(o_part, b, h, i, d));
      if (jvp) {
        od[d] = jfa_cpu_ld(od_acc, jfa_cpu_off(od_acc, b, h, i, d));
        odp[d] = jfa_cpu_ld(od_part, jfa_cpu_off(od_part, b, h, i, d));
      }
    }
    double lse = jfa_cpu_ld(lse_acc, jfa_cpu_off(lse_acc, b, h, i, 0));
    double lp = jfa_cpu_ld(lse_part, jfa_cpu_off(lse_part, b, h, i, 0));
    double mu = jvp ? jfa_cpu_ld(mu_acc, jfa_cpu_off(mu_acc, b, h, i, 0)) : 0.0;
    double mp = jvp ? jfa_cpu_ld(mu_part, jfa_cpu_off(mu_part, b, h, i, 0)) : 0.0;
    jfa_cpu_merge_row(D, jvp, o, &lse, od, &mu, op, lp, odp, mp, 0);
    for (int64_t d = 0; d < D; ++d) {
      jfa_cpu_st(o_acc, jfa_cpu_off(o_acc, b, h, i, d), o[d]);
      if (jvp) jfa_cpu_st(od_acc, jfa_cpu_off(od_acc, b, h, i, d), od[d]);
    }
    jfa_cpu_st(lse_acc, jfa_cpu_off(lse_acc, b, h, i, 0), lse);
    if (jvp) jfa_cpu_st(mu_acc, jfa_cpu_off(mu_acc, b, h, i, 0), mu);
  }
  free(scratch);
  return JFA_SUCCESS;
}

