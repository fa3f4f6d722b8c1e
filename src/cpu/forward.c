/*
 * forward.c - CPU forward attention and JVP over one K/V block
 * (jfa_cpu_attention_block). Exact: float64 throughout, two-pass softmax per
 * query row (scores, then max-shifted exponentials). Parallel over
 * (batch, head, query row) with OpenMP; each thread has its own scratch rows.
 */
#include <string.h>

#include "cpu/cpu.h"

/*
 * Query row (b, h, i) against keys [j0, j1) of one kv head (K, V, Kd, Vd point at
 * key 0), with the dense mask's bias per key: O row, lse, and with the JVP
 * (qd != NULL) the Od row and mu. S and Sd are scratch of j1 - j0 doubles.
 * A row whose keys are all masked gives O = Od = 0, lse = -inf, mu = 0; a NaN score
 * (NaN in q, k, a tangent or the bias of a visible key) gives a NaN row, and so does a row
 * whose visible keys all score -inf (an infinite q or k: exp(-inf - -inf), as the math), unless the keys are one
 * block of the row's (p->partial: the ring's calls), where such a row is an empty partial: the row's other blocks
 * decide it (a NaN partial would poison a row that is finite over all its keys).
 */
static void attend_row(const jfa_problem_t *p, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t j1,
                       const double *q, const double *qd, const double *K,
                       const double *V, const double *Kd, const double *Vd, double *S, double *Sd, double *o,
                       double *od, double *lse, double *mu) {
  int64_t D = p->D;
  int jvp = qd != NULL;
  memset(o, 0, (size_t)D * sizeof(double));
  if (jvp) memset(od, 0, (size_t)D * sizeof(double));
  *mu = 0.0;
  *lse = -INFINITY;
  const int64_t n = j1 - j0;
  K += j0 * D, V += j0 * D;
  if (jvp) Kd += j0 * D, Vd += j0 * D;
  double m = -INFINITY;
  int visible = 0; /* whether any key of the range passes the dense mask */
  for (int64_t j = 0; j < n; ++j) {
    const double bias = jfa_cpu_mask_bias(p, b, h, i, j0 + j);
    S[j] = -INFINITY;
    if (jvp) Sd[j] = 0.0;
    if (bias == -INFINITY) continue; /* masked by the dense mask */
    visible = 1;
    const double *kj = K + j * D;
    S[j] = p->scale * jfa_cpu_dot(q, kj, D) + bias;
    if (jvp) Sd[j] = p->scale * (jfa_cpu_dot(qd, kj, D) + jfa_cpu_dot(q, Kd + j * D, D));
    if (S[j] > m || isnan(S[j])) m = S[j]; /* a NaN score makes the row NaN (never dropped) */
  }
  /* no visible key: O = 0, lse = -inf. Visible keys whose scores are all -inf (an infinite q or k, not a mask) are
     not that: exp(-inf - -inf) is NaN, as the math (the row comes out NaN, never an exact zero row) */
  if (!visible) return;
  if (p->partial && m == -INFINITY) {
    /* an empty partial, but a key whose probability is 0 is still read, as the whole row's call reads it: 0 * an
       infinite or NaN value in its V is NaN, so such a block stays the NaN partial below (never hidden: the merged
       row is NaN, its lse too, where the whole call's lse is finite); 0 * Sd or 0 * Vd is NaN where Sd (an infinite
       key meets a query tangent) or Vd is infinite or NaN, which a NaN mu on the empty partial carries into the
       merged tangent alone (jfa_cpu_merge_row): Od NaN as the whole call gives, mu too (the whole call's mu is NaN
       where Sd is, finite where only Vd is) */
    int nan_v = 0, nan_t = 0;
    for (int64_t j = 0; j < n && !nan_v; ++j) {
      if (S[j] != -INFINITY || jfa_cpu_mask_bias(p, b, h, i, j0 + j) == -INFINITY) continue;
      for (int64_t d = 0; d < D; ++d) {
        if (!isfinite(V[j * D + d])) nan_v = 1;
        if (jvp && !isfinite(Vd[j * D + d])) nan_t = 1;
      }
      if (jvp && !isfinite(Sd[j])) nan_t = 1;
    }
    if (!nan_v) {
      if (nan_t) {
        *mu = NAN;
        for (int64_t d = 0; d < D; ++d) od[d] = NAN;
      }
      return;
    }
  }
  double l = 0.0;
  for (int64_t j = 0; j < n; ++j) {
    /* S now holds unnormalised probabilities: -0.0 where masked (never read below), else exp(S - m) >= +0.0 (a
       visible key whose probability underflows to +0.0 is still read: 0 * NaN in its V is NaN, as the math; so is
       a visible key whose score is -inf through an infinite q or k, told from a masked one by its bias) */
    S[j] = S[j] == -INFINITY && jfa_cpu_mask_bias(p, b, h, i, j0 + j) == -INFINITY ? -0.0 : exp(S[j] - m);
    l += S[j];
  }
  double inv = 1.0 / l;
  double muv = 0.0;
  if (jvp) {
    for (int64_t j = 0; j < n; ++j) muv += S[j] * Sd[j];
    muv *= inv;
  }
  for (int64_t j = 0; j < n; ++j) {
    /* masked keys hold -0.0; a NaN (x86's default NaN has its sign bit set: inf - inf, 0 * inf) or the -NaN that
       exp(S - m) gives when m is a sign-set NaN or +inf must not be taken for a masked key */
    if (S[j] == 0.0 && signbit(S[j])) continue; /* masked */
    double pj = S[j] * inv;
    const double *vj = V + j * D;
    for (int64_t d = 0; d < D; ++d) o[d] += pj * vj[d];
    if (jvp) {
      double c = pj * (Sd[j] - muv);
      const double *vdj = Vd + j * D;
      for (int64_t d = 0; d < D; ++d) od[d] += c * vj[d] + pj * vdj[d];
    }
  }
  *lse = m + log(l);
  *mu = muv;
}

jfa_status_t jfa_cpu_attention_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                     const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                     const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
                                     const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu,
                                     int accumulate) {
  const jfa_tensor_t *all[10] = {q, k, v, qd, kd, vd, o, lse, od, mu};
  static const char *names[10] = {"q", "k", "v", "qd", "kd", "vd", "o", "lse", "od", "mu"};
  for (int i = 0; i < 10; ++i) JFA_CHECK(jfa_cpu_check_dtype(all[i], names[i]));
  int jvp = qd != NULL;
  if (jvp && (!kd || !vd || !od))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "attention_block: the JVP needs kd, vd and od with qd");
  if (accumulate && (!lse || (jvp && !mu)))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "attention_block: accumulate mode needs lse%s", jvp ? " and mu" : "");

  const int64_t B = p->B, Hq = p->Hq, Hkv = p->Hkv, Nq = p->Nq, Nk = p->Nk, D = p->D;
  const int64_t group = Hq / Hkv;
  double *K = NULL, *V = NULL, *Kd = NULL, *Vd = NULL, *scratch = NULL;
  jfa_status_t st = JFA_SUCCESS;
  int nt = jfa_cpu_num_threads(ctx, (double)(B * Hq * Nq) * (double)Nk * (double)((qd ? 5 : 2) * D));
  const size_t per_thread = (size_t)(2 * Nk + 6 * D);
  if ((st = jfa_cpu_load(ctx, k, "k", &K)) != JFA_SUCCESS) goto done;
  if ((st = jfa_cpu_load(ctx, v, "v", &V)) != JFA_SUCCESS) goto done;
  if (jvp && (st = jfa_cpu_load(ctx, kd, "kd", &Kd)) != JFA_SUCCESS) goto done;
  if (jvp && (st = jfa_cpu_load(ctx, vd, "vd", &Vd)) != JFA_SUCCESS) goto done;
  scratch = (double *)malloc((size_t)nt * per_thread * sizeof(double));
  if (!scratch) {
    st = jfa_set_error(JFA_ERROR_OUT_OF_MEMORY, __FILE__, __LINE__, "attention_block: scratch allocation failed");
    goto done;
  }

  const int64_t rows = B * Hq * Nq;
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / (Hq * Nq), h = (r / Nq) % Hq, i = r % Nq, hk = h / group;
    double *S = scratch + (size_t)jfa_cpu_thread_id() * per_thread;
    double *Sd = S + Nk, *qr = Sd + Nk, *qdr = qr + D, *orow = qdr + D, *odrow = orow + D;
    double *oacc = odrow + D, *odacc = oacc + D;
    for (int64_t d = 0; d < D; ++d) {
      qr[d] = jfa_cpu_ld(q, jfa_cpu_off(q, b, h, i, d));
      if (jvp) qdr[d] = jfa_cpu_ld(qd, jfa_cpu_off(qd, b, h, i, d));
    }
    const size_t kv = (size_t)((b * Hkv + hk) * Nk * D);
    double l, m;
    int64_t j0, j1;
    jfa_cpu_key_range(p, i, &j0, &j1);
    attend_row(p, b, h, i, j0, j1, qr, jvp ? qdr : NULL, K + kv, V + kv, jvp ? Kd + kv : NULL,
               jvp ? Vd + kv : NULL, S, Sd, orow, odrow, &l, &m);
    if (accumulate) {
      double la = jfa_cpu_ld(lse, jfa_cpu_off(lse, b, h, i, 0));
      double ma = jvp ? jfa_cpu_ld(mu, jfa_cpu_off(mu, b, h, i, 0)) : 0.0;
      for (int64_t d = 0; d < D; ++d) {
        oacc[d] = jfa_cpu_ld(o, jfa_cpu_off(o, b, h, i, d));
        if (jvp) odacc[d] = jfa_cpu_ld(od, jfa_cpu_off(od, b, h, i, d));
      }
      jfa_cpu_merge_row(D, jvp, oacc, &la, odacc, &ma, orow, l, odrow, m, 1);
      memcpy(orow, oacc, (size_t)D * sizeof(double));
      if (jvp) memcpy(odrow, odacc, (size_t)D * sizeof(double));
      l = la;
      m = ma;
    }
    for (int64_t d = 0; d < D; ++d) {
      jfa_cpu_st(o, jfa_cpu_off(o, b, h, i, d), orow[d]);
      if (jvp) jfa_cpu_st(od, jfa_cpu_off(od, b, h, i, d), odrow[d]);
    }
    if (lse) jfa_cpu_st(lse, jfa_cpu_off(lse, b, h, i, 0), l);
    if (jvp && mu) jfa_cpu_st(mu, jfa_cpu_off(mu, b, h, i, 0), m);
  }

done:
  free(K);
  free(V);
  free(Kd);
  free(Vd);
  free(scratch);
  if (st != JFA_SUCCESS) jfa_error_trace(__FILE__, __LINE__);
  return st;
}
