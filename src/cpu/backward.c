/*
 * backward.c - CPU backward of attention: delta = rowsum(dO * O), the backward
 * over one K/V block with the global lse and delta, and the whole single-device
 * backward. Exact (float64). Race free and deterministic: pass 1 computes dQ in
 * parallel over query rows, pass 2 computes dK and dV in parallel over key rows
 * (each key row sums over all query heads of its GQA group), recomputing P.
 */
#include <string.h>

#include "cpu/cpu.h"

jfa_status_t jfa_cpu_attention_delta(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                     const jfa_tensor_t *dout, const jfa_tensor_t *delta) {
  JFA_CHECK(jfa_cpu_check_dtype(o, "o"));
  JFA_CHECK(jfa_cpu_check_dtype(dout, "dout"));
  JFA_CHECK(jfa_cpu_check_dtype(delta, "delta"));
  const int64_t Hq = p->Hq, Nq = p->Nq, D = p->D, rows = p->B * Hq * Nq;
  int nt = jfa_cpu_num_threads(ctx, (double)rows * (double)D);
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < rows; ++r) {
    int64_t b = r / (Hq * Nq), h = (r / Nq) % Hq, i = r % Nq;
    double s = 0.0;
    for (int64_t d = 0; d < D; ++d)
      s += jfa_cpu_ld(o, jfa_cpu_off(o, b, h, i, d)) * jfa_cpu_ld(dout, jfa_cpu_off(dout, b, h, i, d));
    jfa_cpu_st(delta, jfa_cpu_off(delta, b, h, i, 0), s);
  }
  return JFA_SUCCESS;
}

/*
 * The backward over one block from float64 copies: Q, dO (B,Hq,Nq,D), K, V
 * (B,Hkv,Nk,D), L = lse and Dl = delta (B*Hq*Nq); SH: the rows' shifts of
 * jfa_cpu_row_shift (P = exp((S - SH) - L); zeros where none).
 */
static jfa_status_t backward_arrays(jfa_context_t *ctx, const jfa_problem_t *p, const double *Q, const double *K,
                                    const double *V, const double *dO, const double *L, const double *SH,
                                    const double *Dl,
                                    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv,
                                    int accumulate) {
  const int64_t B = p->B, Hq = p->Hq, Hkv = p->Hkv, Nq = p->Nq, Nk = p->Nk, D = p->D;
  const int64_t group = Hq / Hkv;
  const double scale = p->scale;
  int nt = jfa_cpu_num_threads(ctx, (double)(B * Hq * Nq) * (double)Nk * (double)(2 * D));
  double *scratch = (double *)malloc((size_t)nt * (size_t)(2 * D) * sizeof(double));
  if (!scratch) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "backward: scratch allocation failed");

  /* Pass 1: dQ_i = s sum_j P_ij (dO_i . V_j - delta_i) K_j. */
  const int64_t qrows = B * Hq * Nq;
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < qrows; ++r) {
    const int64_t b = r / (Hq * Nq), h = (r / Nq) % Hq, i = r % Nq, hk = h / group;
    double *acc = scratch + (size_t)jfa_cpu_thread_id() * (size_t)(2 * D);
    memset(acc, 0, (size_t)D * sizeof(double));
    const double *qi = Q + r * D, *doi = dO + r * D;
    const double *Kb = K + (b * Hkv + hk) * Nk * D, *Vb = V + (b * Hkv + hk) * Nk * D;
    int64_t j0, j1;
    jfa_cpu_key_range(p, i, &j0, &j1);
    if (L[r] == -INFINITY) j1 = j0; /* a fully masked row contributes nothing */
    for (int64_t j = j0; j < j1; ++j) {
      const double bias = jfa_cpu_mask_bias(p, b, h, i, j);
      if (bias == -INFINITY) continue;
      const double pij = jfa_cpu_prob(scale * jfa_cpu_dot(qi, Kb + j * D, D) + bias - SH[r] - L[r]);
      double ds = pij * (jfa_cpu_dot(doi, Vb + j * D, D) - Dl[r]);
      for (int64_t d = 0; d < D; ++d) acc[d] += ds * Kb[j * D + d];
    }
    for (int64_t d = 0; d < D; ++d) acc[d] *= scale;
    jfa_cpu_put_row(dq, b, h, i, acc, D, accumulate);
  }

  /* Pass 2: dK_j = s sum_i dS_ij Q_i and dV_j = sum_i P_ij dO_i over the group's heads. */
  const int64_t krows = B * Hkv * Nk;
  JFA_OMP_PARALLEL_FOR(nt)
  for (int64_t r = 0; r < krows; ++r) {
    const int64_t b = r / (Hkv * Nk), hk = (r / Nk) % Hkv, j = r % Nk;
    double *ak = scratch + (size_t)jfa_cpu_thread_id() * (size_t)(2 * D), *av = ak + D;
    memset(ak, 0, (size_t)(2 * D) * sizeof(double));
    const double *kj = K + r * D, *vj = V + r * D;
    int64_t i0, i1;
    jfa_cpu_query_range(p, j, &i0, &i1);
    for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
      const int64_t base = (b * Hq + h) * Nq;
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t row = base + i;
        if (L[row] == -INFINITY) continue;
        const double bias = jfa_cpu_mask_bias(p, b, h, i, j);
        if (bias == -INFINITY) continue;
        const double *qi = Q + row * D, *doi = dO + row * D;
        const double pij = jfa_cpu_prob(scale * jfa_cpu_dot(qi, kj, D) + bias - SH[row] - L[row]);
        double ds = pij * (jfa_cpu_dot(doi, vj, D) - Dl[row]);
        for (int64_t d = 0; d < D; ++d) {
          ak[d] += ds * qi[d];
          av[d] += pij * doi[d];
        }
      }
    }
    for (int64_t d = 0; d < D; ++d) ak[d] *= scale;
    jfa_cpu_put_row(dk, b, hk, j, ak, D, accumulate);
    jfa_cpu_put_row(dv, b, hk, j, av, D, accumulate);
  }
  free(scratch);
  return JFA_SUCCESS;
}

/* Loads a (B, H, N, 1) statistic into a float64 array of B*H*N. */
static jfa_status_t load_stat(const jfa_context_t *ctx, const jfa_tensor_t *t, const char *name, double **out) {
  return jfa_cpu_load(ctx, t, name, out); /* the last axis has extent 1: contiguous B*H*N */
}

/* The block backward; shift: the single-device call's (jfa_cpu_row_shift over the block's keys, which are all of
   them), not the ring's blocks'. */
static jfa_status_t backward_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                   const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout,
                                   const jfa_tensor_t *lse, const jfa_tensor_t *delta, const jfa_tensor_t *dq,
                                   const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate, int shift) {
  const jfa_tensor_t *outs[3] = {dq, dk, dv};
  static const char *names[3] = {"dq", "dk", "dv"};
  for (int i = 0; i < 3; ++i) JFA_CHECK(jfa_cpu_check_dtype(outs[i], names[i]));
  double *Q = NULL, *K = NULL, *V = NULL, *dO = NULL, *L = NULL, *Dl = NULL, *SH = NULL;
  jfa_status_t st;
  if ((st = jfa_cpu_load(ctx, q, "q", &Q)) == JFA_SUCCESS && (st = jfa_cpu_load(ctx, k, "k", &K)) == JFA_SUCCESS &&
      (st = jfa_cpu_load(ctx, v, "v", &V)) == JFA_SUCCESS &&
      (st = jfa_cpu_load(ctx, dout, "dout", &dO)) == JFA_SUCCESS &&
      (st = load_stat(ctx, lse, "lse", &L)) == JFA_SUCCESS &&
      (st = load_stat(ctx, delta, "delta", &Dl)) == JFA_SUCCESS) {
    if (!(SH = (double *)calloc((size_t)(p->B * p->Hq * p->Nq) + 1, sizeof(double))))
      st = jfa_set_error(JFA_ERROR_OUT_OF_MEMORY, __FILE__, __LINE__, "backward: allocating the row shifts failed");
    if (SH && shift) jfa_cpu_row_shift(ctx, p, Q, K, L, SH);
    if (st == JFA_SUCCESS) st = backward_arrays(ctx, p, Q, K, V, dO, L, SH, Dl, dq, dk, dv, accumulate);
  }
  free(Q);
  free(K);
  free(V);
  free(dO);
  free(L);
  free(Dl);
  free(SH);
  if (st != JFA_SUCCESS) jfa_error_trace(__FILE__, __LINE__);
  return st;
}

jfa_status_t jfa_cpu_attention_backward_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                              const jfa_tensor_t *k, const jfa_tensor_t *v,
                                              const jfa_tensor_t *dout, const jfa_tensor_t *lse,
                                              const jfa_tensor_t *delta, const jfa_tensor_t *dq,
                                              const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate) {
  return backward_block(ctx, p, q, k, v, dout, lse, delta, dq, dk, dv, accumulate, 0);
}

jfa_status_t jfa_cpu_attention_backward(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                        const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *o,
                                        const jfa_tensor_t *lse, const jfa_tensor_t *dout, const jfa_tensor_t *dq,
                                        const jfa_tensor_t *dk, const jfa_tensor_t *dv) {
  double *dl = (double *)malloc((size_t)(p->B * p->Hq * p->Nq) * sizeof(double));
  if (!dl) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "backward: allocating delta failed");
  jfa_tensor_t delta = jfa_tensor_bhsd(dl, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, p->B, p->Hq, p->Nq, 1);
  jfa_status_t st = jfa_cpu_attention_delta(ctx, p, o, dout, &delta);
  if (st == JFA_SUCCESS)
    st = backward_block(ctx, p, q, k, v, dout, lse, &delta, dq, dk, dv, 0, 1);
  free(dl);
  if (st != JFA_SUCCESS) jfa_error_trace(__FILE__, __LINE__);
  return st;
}
