/*
 * cpu_test.c - implementation of cpu_test.h: host tensor buffers and the naive
 * float64 attention reference (S and P as full matrices, per batch and head).
 */
#include "cpu_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) {
    fprintf(stderr, "out of memory (%zu bytes)\n", n);
    exit(1);
  }
  return p;
}

tbuf_t tb_new(jfa_dtype_t dtype, int bshd, int64_t B, int64_t H, int64_t S, int64_t D) {
  tbuf_t b;
  b.n = (size_t)(B * H * S * D);
  void *data = xmalloc(b.n * jfa_dtype_size(dtype));
  b.t = bshd ? jfa_tensor_bshd(data, dtype, JFA_DEVICE_CPU, B, S, H, D)
             : jfa_tensor_bhsd(data, dtype, JFA_DEVICE_CPU, B, H, S, D);
  b.val = (double *)xmalloc(b.n * sizeof(double));
  tu_poison(data, b.n, dtype);
  tu_gather(&b.t, b.val);
  return b;
}

void tb_set(tbuf_t *b, const double *values) {
  tu_scatter(values, &b->t);
  tu_gather(&b->t, b->val);
}

void tb_random(tbuf_t *b, double scale) {
  double *tmp = (double *)xmalloc(b->n * sizeof(double));
  tu_fill_normal(tmp, b->n, scale);
  tb_set(b, tmp);
  free(tmp);
}

void tb_poison(tbuf_t *b) { tu_poison(b->t.data, b->n, b->t.dtype); }

void tb_get(tbuf_t *b) { tu_gather(&b->t, b->val); }

void tb_free(tbuf_t *b) {
  free(b->t.data);
  free(b->val);
  b->t.data = NULL;
  b->val = NULL;
}

ref_problem_t ref_problem(int64_t B, int64_t Hq, int64_t Hkv, int64_t Nq, int64_t Nk, int64_t D,
                          const jfa_attention_params_t *params) {
  ref_problem_t p;
  memset(&p, 0, sizeof p);
  p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Nq = Nq, p.Nk = Nk, p.D = D;
  p.scale = 1.0 / sqrt((double)D);
  p.win_left = p.win_right = -1;
  if (!params) return p;
  p.win_left = params->window_left, p.win_right = params->window_right;
  if (params->cu_seqlens_q) {
    p.nseq = params->num_seqs, p.cu_q = params->cu_seqlens_q, p.cu_k = params->cu_seqlens_k;
    p.seq_bottom_right = params->mask == JFA_MASK_CAUSAL_BOTTOM_RIGHT || params->mask == JFA_MASK_BOTTOM_RIGHT;
    p.causal = params->mask == JFA_MASK_CAUSAL_TOP_LEFT || params->mask == JFA_MASK_CAUSAL_BOTTOM_RIGHT;
    if (params->scale != 0.0 || (params->flags & JFA_PARAMS_SCALE_AS_GIVEN)) p.scale = params->scale;
    return p;
  }
  if (params->scale != 0.0 || (params->flags & JFA_PARAMS_SCALE_AS_GIVEN)) p.scale = params->scale;
  switch (params->mask) {
    case JFA_MASK_NONE: break;
    case JFA_MASK_CAUSAL_TOP_LEFT: p.causal = 1; break;
    case JFA_MASK_CAUSAL_BOTTOM_RIGHT: p.causal = 1, p.q_pos0 = Nk - Nq; break;
    case JFA_MASK_CAUSAL_POSITIONS: p.causal = 1, p.q_pos0 = params->q_position, p.k_pos0 = params->k_position; break;
    case JFA_MASK_POSITIONS: p.q_pos0 = params->q_position, p.k_pos0 = params->k_position; break;
    case JFA_MASK_BOTTOM_RIGHT: p.q_pos0 = Nk - Nq; break;
  }
  return p;
}

double dot_n(const double *a, const double *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

double *ref_dense_bias(const jfa_tensor_t *mask, int64_t B, int64_t Hq, int64_t Nq, int64_t Nk) {
  double *bias = (double *)xmalloc((size_t)(B * Hq * Nq * Nk) * sizeof(double));
  double *raw = (double *)xmalloc((size_t)jfa_tensor_numel(mask) * sizeof(double));
  tu_gather(mask, raw);
  const int64_t mb = mask->shape[0], mh = mask->shape[1];
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Nq; ++i)
        for (int64_t j = 0; j < Nk; ++j) {
          double x = raw[(((mb == 1 ? 0 : b) * mh + (mh == 1 ? 0 : h)) * Nq + i) * Nk + j];
          if (mask->dtype == JFA_DTYPE_BOOL) x = x != 0.0 ? 0.0 : -INFINITY;
          bias[((b * Hq + h) * Nq + i) * Nk + j] = x;
        }
  free(raw);
  return bias;
}

int64_t ref_seq(const int64_t *cu, int64_t nseq, int64_t idx) {
  for (int64_t s = 0; s < nseq; ++s)
    if (cu[s] <= idx && idx < cu[s + 1]) return s;
  return -1;
}

/* Structural masks straight from the definitions in jfa.h. */
static int ref_visible_structural(const ref_problem_t *p, int64_t i, int64_t j) {
  int64_t pos_q = p->q_pos0 + i, pos_k = p->k_pos0 + j;
  if (p->nseq > 0) {
    int64_t s = ref_seq(p->cu_q, p->nseq, i);
    if (s < 0 || ref_seq(p->cu_k, p->nseq, j) != s) return 0;
    int64_t lq = p->cu_q[s + 1] - p->cu_q[s], lk = p->cu_k[s + 1] - p->cu_k[s];
    pos_q = i - p->cu_q[s] + (p->seq_bottom_right ? lk - lq : 0);
    pos_k = j - p->cu_k[s];
  }
  int64_t rel = pos_k - pos_q;
  if (p->causal && rel > 0) return 0;
  if (p->win_left >= 0 && rel < -p->win_left) return 0;
  if (p->win_right >= 0 && rel > p->win_right) return 0;
  return 1;
}

int ref_visible(const ref_problem_t *p, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (!ref_visible_structural(p, i, j)) return 0;
  return !p->bias || p->bias[((b * p->Hq + h) * p->Nq + i) * p->Nk + j] != -INFINITY;
}

/* P (Nq x Nk) of one (b, h) and lse; S scratch of the same size. Masked rows: P = 0, lse = -inf. */
static void probabilities(const ref_problem_t *p, int64_t b, int64_t h, const double *q, const double *k, double *P,
                          double *lse) {
  int64_t Nq = p->Nq, Nk = p->Nk, D = p->D;
  for (int64_t i = 0; i < Nq; ++i) {
    double m = -INFINITY;
    for (int64_t j = 0; j < Nk; ++j) {
      double bias = p->bias ? p->bias[((b * p->Hq + h) * Nq + i) * Nk + j] : 0.0;
      P[i * Nk + j] = ref_visible(p, b, h, i, j) ? p->scale * dot_n(q + i * D, k + j * D, (size_t)D) + bias
                                                 : -INFINITY;
      if (P[i * Nk + j] > m) m = P[i * Nk + j];
    }
    if (m == -INFINITY) {
      for (int64_t j = 0; j < Nk; ++j) P[i * Nk + j] = 0.0;
      lse[i] = -INFINITY;
      continue;
    }
    double l = 0.0;
    for (int64_t j = 0; j < Nk; ++j) l += exp(P[i * Nk + j] - m);
    lse[i] = m + log(l);
    /* normalised by l, not through lse: at |m| ~ 1e30 (a -1e30 bias on every visible key)
       m + log(l) rounds to m and exp(S - lse) would not sum to 1 */
    for (int64_t j = 0; j < Nk; ++j) P[i * Nk + j] = exp(P[i * Nk + j] - m) / l;
  }
}

void ref_forward(const ref_problem_t *p, const double *q, const double *k, const double *v, const double *qd,
                 const double *kd, const double *vd, double *o, double *lse, double *od, double *mu) {
  int64_t Nq = p->Nq, Nk = p->Nk, D = p->D, g = p->Hq / p->Hkv;
  double *P = (double *)xmalloc((size_t)(Nq * Nk) * sizeof(double));
  double *Sd = (double *)xmalloc((size_t)(Nq * Nk) * sizeof(double));
  for (int64_t b = 0; b < p->B; ++b)
    for (int64_t h = 0; h < p->Hq; ++h) {
      size_t qo = (size_t)((b * p->Hq + h) * Nq), ko = (size_t)((b * p->Hkv + h / g) * Nk);
      const double *Q = q + qo * D, *K = k + ko * D, *V = v + ko * D;
      probabilities(p, b, h, Q, K, P, lse + qo);
      for (int64_t i = 0; i < Nq; ++i)
        for (int64_t d = 0; d < D; ++d) {
          double s = 0.0;
          for (int64_t j = 0; j < Nk; ++j) s += P[i * Nk + j] * V[j * D + d];
          o[(qo + i) * D + d] = s;
        }
      if (!qd) continue;
      const double *Qd = qd + qo * D, *Kd = kd + ko * D, *Vd = vd + ko * D;
      for (int64_t i = 0; i < Nq; ++i) {
        double m = 0.0;
        for (int64_t j = 0; j < Nk; ++j) {
          Sd[i * Nk + j] = p->scale * (dot_n(Qd + i * D, K + j * D, (size_t)D) + dot_n(Q + i * D, Kd + j * D, (size_t)D));
          m += P[i * Nk + j] * Sd[i * Nk + j];
        }
        mu[qo + i] = m;
        for (int64_t d = 0; d < D; ++d) {
          double s = 0.0;
          for (int64_t j = 0; j < Nk; ++j)
            s += P[i * Nk + j] * (Sd[i * Nk + j] - m) * V[j * D + d] + P[i * Nk + j] * Vd[j * D + d];
          od[(qo + i) * D + d] = s;
        }
      }
    }
  free(P);
  free(Sd);
}

void ref_backward(const ref_problem_t *p, const double *q, const double *k, const double *v, const double *dout,
                  double *dq, double *dk, double *dv) {
  int64_t Nq = p->Nq, Nk = p->Nk, D = p->D, g = p->Hq / p->Hkv;
  double *P = (double *)xmalloc((size_t)(Nq * Nk) * sizeof(double));
  double *dS = (double *)xmalloc((size_t)(Nq * Nk) * sizeof(double));
  double *lse = (double *)xmalloc((size_t)Nq * sizeof(double));
  memset(dk, 0, (size_t)(p->B * p->Hkv * Nk * D) * sizeof(double));
  memset(dv, 0, (size_t)(p->B * p->Hkv * Nk * D) * sizeof(double));
  for (int64_t b = 0; b < p->B; ++b)
    for (int64_t h = 0; h < p->Hq; ++h) {
      size_t qo = (size_t)((b * p->Hq + h) * Nq), ko = (size_t)((b * p->Hkv + h / g) * Nk);
      const double *Q = q + qo * D, *K = k + ko * D, *V = v + ko * D, *dO = dout + qo * D;
      probabilities(p, b, h, Q, K, P, lse);
      for (int64_t i = 0; i < Nq; ++i) {
        double delta = 0.0; /* sum_j P_ij dP_ij, with dP = dO V^T */
        for (int64_t j = 0; j < Nk; ++j) {
          dS[i * Nk + j] = dot_n(dO + i * D, V + j * D, (size_t)D);
          delta += P[i * Nk + j] * dS[i * Nk + j];
        }
        for (int64_t j = 0; j < Nk; ++j) dS[i * Nk + j] = P[i * Nk + j] * (dS[i * Nk + j] - delta);
      }
      for (int64_t i = 0; i < Nq; ++i)
        for (int64_t d = 0; d < D; ++d) {
          double s = 0.0;
          for (int64_t j = 0; j < Nk; ++j) s += dS[i * Nk + j] * K[j * D + d];
          dq[(qo + i) * D + d] = p->scale * s;
        }
      for (int64_t j = 0; j < Nk; ++j)
        for (int64_t d = 0; d < D; ++d) {
          double sk = 0.0, sv = 0.0;
          for (int64_t i = 0; i < Nq; ++i) {
            sk += dS[i * Nk + j] * Q[i * D + d];
            sv += P[i * Nk + j] * dO[i * D + d];
          }
          dk[(ko + j) * D + d] += p->scale * sk;
          dv[(ko + j) * D + d] += sv;
        }
    }
  free(P);
  free(dS);
  free(lse);
}

cpu_prob_t cpu_prob(int64_t B, int64_t Hq, int64_t Hkv, int64_t Nq, int64_t Nk, int64_t D, jfa_mask_t mask,
                    int64_t qpos, int64_t kpos) {
  cpu_prob_t p;
  p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Nq = Nq, p.Nk = Nk, p.D = D;
  jfa_attention_params_init(&p.params);
  p.params.mask = mask;
  p.params.q_position = qpos;
  p.params.k_position = kpos;
  p.nq = (size_t)(B * Hq * Nq * D);
  p.nk = (size_t)(B * Hkv * Nk * D);
  p.ns = (size_t)(B * Hq * Nq);
  return p;
}

jfa_tensor_t cpu_tq(const cpu_prob_t *p, double *x) {
  return jfa_tensor_bhsd(x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, p->B, p->Hq, p->Nq, p->D);
}
jfa_tensor_t cpu_tk(const cpu_prob_t *p, double *x) {
  return jfa_tensor_bhsd(x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, p->B, p->Hkv, p->Nk, p->D);
}
jfa_tensor_t cpu_ts(const cpu_prob_t *p, double *x) {
  return jfa_tensor_bhsd(x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, p->B, p->Hq, p->Nq, 1);
}

double *cpu_rnd(size_t n) {
  double *x = (double *)xmalloc(n * sizeof(double));
  tu_fill_normal(x, n, 1.0);
  return x;
}
double *cpu_poisoned(size_t n) {
  double *x = (double *)xmalloc(n * sizeof(double));
  tu_poison(x, n, JFA_DTYPE_FLOAT64);
  return x;
}

void cpu_axpy(double *dst, const double *x, double a, const double *t, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = x[i] + a * t[i];
}
