/*
 * backward_jvp.c - CPU backward-JVP of attention (second order): the tangent of
 * the backward along (Qd, Kd, Vd, dOd). Exact (float64). The row statistics
 * delta = rowsum(dO * O) and deltad = rowsum(dOd * O + dO * Od), the backward-JVP
 * over one K/V block with the global lse, mu, delta and deltad, and the whole
 * single-device call. Like backward.c: pass 1 computes dQd (and dQ) in parallel
 * over query rows, pass 2 dKd, dVd (and dK, dV) in parallel over key rows, each
 * summing over its GQA group; P, Pd, dP, dPd are recomputed per pair (race free,
 * deterministic). Per visible pair (i, j):
 *   P = exp(S - lse), Pd = P (Sd - mu), dP = dO.V, dPd = dOd.V + dO.Vd,
 *   dS = P (dP - delta), dSd = Pd (dP - delta) + P (dPd - deltad).
 */
#include <string.h>

#include "cpu/cpu.h"

jfa_status_t jfa_cpu_attention_delta_jvp(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                         const jfa_tensor_t *od, const jfa_tensor_t *dout,
                                         const jfa_tensor_t *doutd, const jfa_tensor_t *delta,
                                         const jfa_tensor_t *deltad) {
  const jfa_tensor_t *all[6] = {o, od, dout, doutd, delta, deltad};
  static const char *names[6] = {"o", "od", "dout", "doutd", "delta", "deltad"};
  for (int i = 0; i < 6; ++i) JFA_CHECK(jfa_cpu_check_dtype(all[i], names[i]));
  const int64_t Hq = p->Hq, Nq = p->Nq, D = p->D, rows = p->B * Hq * Nq;
  int nt = jfa_cpu_num_threads(ctx, (double)rows * (double)(3 * D));
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t b = r / (Hq * Nq), h = (r / Nq) % Hq, i = r % Nq;
    double s = 0.0, sd = 0.0;
    for (int64_t d = 0; d < D; ++d) {
      double ov = jfa_cpu_ld(o, jfa_cpu_off(o, b, h, i, d)), dov = jfa_cpu_ld(dout, jfa_cpu_off(dout, b, h, i, d));
      s += ov * dov;
      sd += jfa_cpu_ld(doutd, jfa_cpu_off(doutd, b, h, i, d)) * ov + dov * jfa_cpu_ld(od, jfa_cpu_off(od, b, h, i, d));
    }
    jfa_cpu_st(delta, jfa_cpu_off(delta, b, h, i, 0), s);
    jfa_cpu_st(deltad, jfa_cpu_off(deltad, b, h, i, 0), sd);
  }
  return JFA_SUCCESS;
}

/* Contiguous float64 copies of every input of the block call; SH: the rows' shifts of jfa_cpu_row_shift (P =
   exp((S - SH) - L); zeros where none). */
typedef struct {
  double *Q, *K, *V, *Qd, *Kd, *Vd, *dO, *dOd, *L, *M, *Dl, *Dld, *SH;
} arrays_t;

/* The four per-pair quantities of (row, key j): returns 0 when the pair is masked. */
static inline int pair(const jfa_problem_t *p, const arrays_t *a, int64_t b, int64_t h, int64_t i, int64_t row,
                       int64_t j, const double *kj, const double *vj, const double *kdj, const double *vdj, double *P,
                       double *Pd, double *dS, double *dSd) {
  const int64_t D = p->D;
  const double bias = jfa_cpu_mask_bias(p, b, h, i, j);
  if (bias == -INFINITY) return 0;
  const double *qi = a->Q + row * D, *qdi = a->Qd + row * D, *doi = a->dO + row * D, *dodi = a->dOd + row * D;
  const double pij = jfa_cpu_prob(p->scale * jfa_cpu_dot(qi, kj, D) + bias - a->SH[row] - a->L[row]);
  const double sd = p->scale * (jfa_cpu_dot(qdi, kj, D) + jfa_cpu_dot(qi, kdj, D));
  const double pd = pij * (sd - a->M[row]);
  const double dp = jfa_cpu_dot(doi, vj, D) - a->Dl[row];
  const double dpd = jfa_cpu_dot(dodi, vj, D) + jfa_cpu_dot(doi, vdj, D) - a->Dld[row];
  *P = pij;
  *Pd = pd;
  *dS = pij * dp;
  *dSd = pd * dp + pij * dpd;
  return 1;
}

static jfa_status_t backward_jvp_arrays(jfa_context_t *ctx, const jfa_problem_t *p, const arrays_t *a,
                                        const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
                                        const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv,
                                        int accumulate) {
  const int64_t B = p->B, Hq = p->Hq, Hkv = p->Hkv, Nq = p->Nq, Nk = p->Nk, D = p->D;
  const int64_t group = Hq / Hkv;
  const double scale = p->scale;
  int nt = jfa_cpu_num_threads(ctx, (double)(B * Hq * Nq) * (double)Nk * (double)(7 * D));
  double *scratch = (double *)malloc((size_t)nt * (size_t)(4 * D) * sizeof(double));
  if (!scratch) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "backward_jvp: scratch allocation failed");

  /* Pass 1: dQd_i = s sum_j (dSd_ij K_j + dS_ij Kd_j), dQ_i = s sum_j dS_ij K_j. */
  const int64_t qrows = B * Hq * Nq;
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < qrows; ++r) {
    const int64_t b = r / (Hq * Nq), h = (r / Nq) % Hq, i = r % Nq, hk = h / group;
    double *aqd = scratch + (size_t)jfa_cpu_thread_id() * (size_t)(4 * D), *aq = aqd + D;
    memset(aqd, 0, (size_t)(2 * D) * sizeof(double));
    const int64_t kv = (b * Hkv + hk) * Nk * D;
    int64_t j0, j1;
    jfa_cpu_key_range(p, i, &j0, &j1);
    if (a->L[r] == -INFINITY) j1 = j0; /* a fully masked row contributes nothing */
    for (int64_t j = j0; j < j1; ++j) {
      const double *kj = a->K + kv + j * D, *kdj = a->Kd + kv + j * D;
      double P, Pd, dS, dSd;
      if (!pair(p, a, b, h, i, r, j, kj, a->V + kv + j * D, kdj, a->Vd + kv + j * D, &P, &Pd, &dS, &dSd)) continue;
      for (int64_t d = 0; d < D; ++d) {
        aqd[d] += dSd * kj[d] + dS * kdj[d];
        aq[d] += dS * kj[d];
      }
    }
    for (int64_t d = 0; d < 2 * D; ++d) aqd[d] *= scale;
    jfa_cpu_put_row(dqd, b, h, i, aqd, D, accumulate);
    jfa_cpu_put_row(dq, b, h, i, aq, D, accumulate);
  }

  /* Pass 2: dKd_j = s sum_i (dSd_ij Q_i + dS_ij Qd_i), dVd_j = sum_i (Pd_ij dO_i + P_ij dOd_i),
     dK_j = s sum_i dS_ij Q_i, dV_j = sum_i P_ij dO_i, over the group's heads. */
  const int64_t krows = B * Hkv * Nk;
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < krows; ++r) {
    const int64_t b = r / (Hkv * Nk), hk = (r / Nk) % Hkv, j = r % Nk;
    double *akd = scratch + (size_t)jfa_cpu_thread_id() * (size_t)(4 * D), *avd = akd + D, *ak = avd + D,
           *av = ak + D;
    memset(akd, 0, (size_t)(4 * D) * sizeof(double));
    const double *kj = a->K + r * D, *vj = a->V + r * D, *kdj = a->Kd + r * D, *vdj = a->Vd + r * D;
    int64_t i0, i1;
    jfa_cpu_query_range(p, j, &i0, &i1);
    for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
      const int64_t base = (b * Hq + h) * Nq;
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t row = base + i;
        if (a->L[row] == -INFINITY) continue;
        double P, Pd, dS, dSd;
        if (!pair(p, a, b, h, i, row, j, kj, vj, kdj, vdj, &P, &Pd, &dS, &dSd)) continue;
        const double *qi = a->Q + row * D, *qdi = a->Qd + row * D, *doi = a->dO + row * D,
                     *dodi = a->dOd + row * D;
        for (int64_t d = 0; d < D; ++d) {
          akd[d] += dSd * qi[d] + dS * qdi[d];
          avd[d] += Pd * doi[d] + P * dodi[d];
          ak[d] += dS * qi[d];
          av[d] += P * doi[d];
        }
      }
    }
    for (int64_t d = 0; d < D; ++d) {
      akd[d] *= scale;
      ak[d] *= scale;
    }
    jfa_cpu_put_row(dkd, b, hk, j, akd, D, accumulate);
    jfa_cpu_put_row(dvd, b, hk, j, avd, D, accumulate);
    jfa_cpu_put_row(dk, b, hk, j, ak, D, accumulate);
    jfa_cpu_put_row(dv, b, hk, j, av, D, accumulate);
  }
  free(scratch);
  return JFA_SUCCESS;
}

/* The block backward-JVP; shift: the single-device call's (jfa_cpu_row_shift: its block holds every key), not the
   ring's blocks'. */
static jfa_status_t backward_jvp_block(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *lse, const jfa_tensor_t *mu, const jfa_tensor_t *delta,
    const jfa_tensor_t *deltad, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate, int shift) {
  const jfa_tensor_t *outs[6] = {dqd, dkd, dvd, dq, dk, dv};
  static const char *onames[6] = {"dqd", "dkd", "dvd", "dq", "dk", "dv"};
  for (int i = 0; i < 6; ++i) JFA_CHECK(jfa_cpu_check_dtype(outs[i], onames[i]));
  arrays_t a;
  memset(&a, 0, sizeof a);
  const jfa_tensor_t *ins[12] = {q, k, v, qd, kd, vd, dout, doutd, lse, mu, delta, deltad};
  static const char *inames[12] = {"q", "k", "v", "qd", "kd", "vd", "dout", "doutd", "lse", "mu", "delta", "deltad"};
  double **dst[12] = {&a.Q, &a.K, &a.V, &a.Qd, &a.Kd, &a.Vd, &a.dO, &a.dOd, &a.L, &a.M, &a.Dl, &a.Dld};
  jfa_status_t st = JFA_SUCCESS;
  for (int i = 0; i < 12 && st == JFA_SUCCESS; ++i) st = jfa_cpu_load(ctx, ins[i], inames[i], dst[i]);
  if (st == JFA_SUCCESS && !(a.SH = (double *)calloc((size_t)(p->B * p->Hq * p->Nq) + 1, sizeof(double))))
    st = jfa_set_error(JFA_ERROR_OUT_OF_MEMORY, __FILE__, __LINE__, "backward_jvp: allocating the row shifts failed");
  if (st == JFA_SUCCESS && shift) jfa_cpu_row_shift(ctx, p, a.Q, a.K, a.L, a.SH);
  if (st == JFA_SUCCESS) st = backward_jvp_arrays(ctx, p, &a, dqd, dkd, dvd, dq, dk, dv, accumulate);
  for (int i = 0; i < 12; ++i) free(*dst[i]);
  free(a.SH);
  if (st != JFA_SUCCESS) jfa_error_trace(__FILE__, __LINE__);
  return st;
}

jfa_status_t jfa_cpu_attention_backward_jvp_block(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *lse, const jfa_tensor_t *mu, const jfa_tensor_t *delta,
    const jfa_tensor_t *deltad, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate) {
  return backward_jvp_block(ctx, p, q, k, v, qd, kd, vd, dout, doutd, lse, mu, delta, deltad, dqd, dkd, dvd, dq, dk,
                            dv, accumulate, 0);
}

jfa_status_t jfa_cpu_attention_backward_jvp(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
    const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv) {
  const size_t rows = (size_t)(p->B * p->Hq * p->Nq);
  double *dl = (double *)malloc(2 * rows * sizeof(double));
  if (!dl) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "backward_jvp: allocating delta failed");
  jfa_tensor_t delta = jfa_tensor_bhsd(dl, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, p->B, p->Hq, p->Nq, 1);
  jfa_tensor_t deltad = jfa_tensor_bhsd(dl + rows, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, p->B, p->Hq, p->Nq, 1);
  jfa_status_t st = jfa_cpu_attention_delta_jvp(ctx, p, o, od, dout, doutd, &delta, &deltad);
  if (st == JFA_SUCCESS)
    st = backward_jvp_block(ctx, p, q, k, v, qd, kd, vd, dout, doutd, lse, mu, &delta, &deltad, dqd, dkd, dvd, dq,
                            dk, dv, 0, 1);
  free(dl);
  if (st != JFA_SUCCESS) jfa_error_trace(__FILE__, __LINE__);
  return st;
}
