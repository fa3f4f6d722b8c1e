/*
 * ref64.c - implementation of ref64.h: the naive float64 attention reference,
 * one query row at a time (scores over all keys, then softmax, O, JVP and the
 * backward's contributions), with its own strided loader. No jfa function is
 * called; jfa.h gives the types only.
 */
#include "ref64.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("ref64: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return -1;
}

static double *alloc_d(int64_t n) {
  double *p = (double *)calloc((size_t)(n > 0 ? n : 1), sizeof(double));
  if (!p) fprintf(stderr, "ref64: out of memory (%lld doubles)\n", (long long)n);
  return p;
}

/* ---- storage: own decoding of every dtype, every stride honoured ---------- */

static double half_to_double(uint16_t h) {
  int sign = h >> 15, e = (h >> 10) & 31, m = h & 1023;
  double x;
  if (e == 0) x = ldexp((double)m, -24);
  else if (e == 31) x = m ? NAN : INFINITY;
  else x = ldexp((double)(1024 + m), e - 25);
  return sign ? -x : x;
}

static double bf16_to_double(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return (double)f;
}

static int64_t numel(const jfa_tensor_t *t) { return t->shape[0] * t->shape[1] * t->shape[2] * t->shape[3]; }

static int64_t offset_of(const jfa_tensor_t *t, int64_t b, int64_t h, int64_t s, int64_t d) {
  return b * t->stride[0] + h * t->stride[1] + s * t->stride[2] + d * t->stride[3];
}

static int check_host(const jfa_tensor_t *t, const char *name) {
  if (!t || !t->data) return fail("%s is NULL", name);
  if (t->device != JFA_DEVICE_CPU) return fail("%s is not a host tensor", name);
  for (int i = 0; i < 4; ++i)
    if (t->shape[i] < 0) return fail("%s: negative shape[%d]", name, i);
  return 0;
}

int ref64_load(const jfa_tensor_t *t, double *dst) {
  if (check_host(t, "tensor")) return -1;
  if (!dst) return fail("load: dst is NULL");
  int64_t idx = 0;
  for (int64_t b = 0; b < t->shape[0]; ++b)
    for (int64_t h = 0; h < t->shape[1]; ++h)
      for (int64_t s = 0; s < t->shape[2]; ++s)
        for (int64_t d = 0; d < t->shape[3]; ++d, ++idx) {
          int64_t off = offset_of(t, b, h, s, d);
          switch (t->dtype) {
            case JFA_DTYPE_FLOAT64: dst[idx] = ((const double *)t->data)[off]; break;
            case JFA_DTYPE_FLOAT32: dst[idx] = (double)((const float *)t->data)[off]; break;
            case JFA_DTYPE_FLOAT16: dst[idx] = half_to_double(((const uint16_t *)t->data)[off]); break;
            case JFA_DTYPE_BFLOAT16: dst[idx] = bf16_to_double(((const uint16_t *)t->data)[off]); break;
            case JFA_DTYPE_BOOL: dst[idx] = ((const unsigned char *)t->data)[off] ? 1.0 : 0.0; break;
            default: return fail("load: unknown dtype %d", (int)t->dtype);
          }
        }
  return 0;
}

int ref64_store(const double *src, const jfa_tensor_t *t) {
  if (check_host(t, "output")) return -1;
  if (t->dtype != JFA_DTYPE_FLOAT64 && t->dtype != JFA_DTYPE_FLOAT32)
    return fail("store: outputs must be float64 or float32 (got dtype %d)", (int)t->dtype);
  int64_t idx = 0;
  for (int64_t b = 0; b < t->shape[0]; ++b)
    for (int64_t h = 0; h < t->shape[1]; ++h)
      for (int64_t s = 0; s < t->shape[2]; ++s)
        for (int64_t d = 0; d < t->shape[3]; ++d, ++idx) {
          int64_t off = offset_of(t, b, h, s, d);
          if (t->dtype == JFA_DTYPE_FLOAT64) ((double *)t->data)[off] = src[idx];
          else ((float *)t->data)[off] = (float)src[idx];
        }
  return 0;
}

/* Loads an input of the expected shape into a new contiguous array (NULL after a message). */
static double *load_input(const jfa_tensor_t *t, const char *name, int64_t B, int64_t H, int64_t S, int64_t D) {
  if (check_host(t, name)) return NULL;
  if (t->shape[0] != B || t->shape[1] != H || t->shape[2] != S || t->shape[3] != D) {
    fail("%s has shape (%lld, %lld, %lld, %lld), expected (%lld, %lld, %lld, %lld)", name, (long long)t->shape[0],
         (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3], (long long)B, (long long)H,
         (long long)S, (long long)D);
    return NULL;
  }
  double *x = alloc_d(numel(t));
  if (x && ref64_load(t, x)) {
    free(x);
    return NULL;
  }
  return x;
}

/* An optional output: NULL is fine, else the shape must match and the dtype be float64/float32. */
static int check_output(const jfa_tensor_t *t, const char *name, int64_t B, int64_t H, int64_t S, int64_t D) {
  if (!t) return 0;
  if (check_host(t, name)) return -1;
  if (t->shape[0] != B || t->shape[1] != H || t->shape[2] != S || t->shape[3] != D)
    return fail("%s has shape (%lld, %lld, %lld, %lld), expected (%lld, %lld, %lld, %lld)", name,
                (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3],
                (long long)B, (long long)H, (long long)S, (long long)D);
  if (t->dtype != JFA_DTYPE_FLOAT64 && t->dtype != JFA_DTYPE_FLOAT32)
    return fail("%s must be float64 or float32", name);
  return 0;
}

/* ---- the problem: shapes and masks resolved from the params --------------- */

typedef struct {
  int64_t B, Hq, Hkv, Nq, Nk, D;
  double scale;
  int causal;
  int64_t q_pos0, k_pos0;      /* position of query row 0 and key row 0 */
  int64_t win_left, win_right; /* -1: unbounded */
  int64_t nseq;
  const int64_t *cu_q, *cu_k;
  int seq_bottom_right;
  double *bias;     /* dense mask as additive bias (mb, mh, Nq, Nk), or NULL */
  int64_t mb, mh;
} prob_t;

/* Sequence s with cu[s] <= idx < cu[s + 1] (linear scan), or -1. */
static int64_t seq_of(const int64_t *cu, int64_t nseq, int64_t idx) {
  for (int64_t s = 0; s < nseq; ++s)
    if (cu[s] <= idx && idx < cu[s + 1]) return s;
  return -1;
}

static int resolve_masks(prob_t *p, const jfa_attention_params_t *prm) {
  p->scale = 1.0 / sqrt((double)p->D);
  p->causal = 0;
  p->q_pos0 = p->k_pos0 = 0;
  p->win_left = p->win_right = -1;
  p->nseq = 0;
  p->cu_q = p->cu_k = NULL;
  p->seq_bottom_right = 0;
  p->bias = NULL;
  if (!prm) return 0;
  if (prm->scale != 0.0 || (prm->flags & JFA_PARAMS_SCALE_AS_GIVEN)) p->scale = prm->scale; /* as jfa.h defines it */
  if (!isfinite(p->scale)) return fail("scale is not finite");
  if (prm->window_left < -1 || prm->window_right < -1) return fail("window sides must be >= -1");
  p->win_left = prm->window_left, p->win_right = prm->window_right;
  switch (prm->mask) {
    case JFA_MASK_NONE: break;
    case JFA_MASK_CAUSAL_TOP_LEFT: p->causal = 1; break;
    case JFA_MASK_CAUSAL_BOTTOM_RIGHT: p->causal = 1, p->q_pos0 = p->Nk - p->Nq; break;
    case JFA_MASK_CAUSAL_POSITIONS: p->causal = 1, p->q_pos0 = prm->q_position, p->k_pos0 = prm->k_position; break;
    case JFA_MASK_POSITIONS: p->q_pos0 = prm->q_position, p->k_pos0 = prm->k_position; break;
    case JFA_MASK_BOTTOM_RIGHT: p->q_pos0 = p->Nk - p->Nq; break; /* not causal: places a window */
    default: return fail("unknown mask mode %d", (int)prm->mask);
  }
  if (prm->num_seqs > 0 || prm->cu_seqlens_q || prm->cu_seqlens_k) {
    if (prm->num_seqs <= 0 || !prm->cu_seqlens_q || !prm->cu_seqlens_k)
      return fail("packed sequences need num_seqs > 0 and both cu_seqlens arrays");
    if (prm->mask == JFA_MASK_CAUSAL_POSITIONS || prm->mask == JFA_MASK_POSITIONS)
      return fail("packed sequences do not take explicit positions");
    if (p->B != 1) return fail("packed sequences need batch 1");
    const int64_t *cq = prm->cu_seqlens_q, *ck = prm->cu_seqlens_k, n = prm->num_seqs;
    if (cq[0] != 0 || ck[0] != 0 || cq[n] != p->Nq || ck[n] != p->Nk)
      return fail("cu_seqlens must run from 0 to Nq (Nk)");
    for (int64_t s = 0; s < n; ++s)
      if (cq[s + 1] < cq[s] || ck[s + 1] < ck[s]) return fail("cu_seqlens must be non-decreasing");
    p->nseq = n, p->cu_q = cq, p->cu_k = ck;
    p->seq_bottom_right = prm->mask == JFA_MASK_CAUSAL_BOTTOM_RIGHT || prm->mask == JFA_MASK_BOTTOM_RIGHT;
    p->q_pos0 = p->k_pos0 = 0;
  }
  if (prm->attn_mask) {
    const jfa_tensor_t *m = prm->attn_mask;
    if (check_host(m, "attn_mask")) return -1;
    if ((m->shape[0] != 1 && m->shape[0] != p->B) || (m->shape[1] != 1 && m->shape[1] != p->Hq) ||
        m->shape[2] != p->Nq || m->shape[3] != p->Nk)
      return fail("attn_mask must have shape (B or 1, Hq or 1, Nq, Nk)");
    p->mb = m->shape[0], p->mh = m->shape[1];
    p->bias = alloc_d(numel(m));
    if (!p->bias || ref64_load(m, p->bias)) {
      free(p->bias);
      p->bias = NULL;
      return -1;
    }
    if (m->dtype == JFA_DTYPE_BOOL)
      for (int64_t i = 0; i < numel(m); ++i) p->bias[i] = p->bias[i] != 0.0 ? 0.0 : -INFINITY;
  }
  return 0;
}

/* Structural visibility by the definitions of jfa.h. */
static int visible_structural(const prob_t *p, int64_t i, int64_t j) {
  int64_t pos_q = p->q_pos0 + i, pos_k = p->k_pos0 + j;
  if (p->nseq > 0) {
    int64_t s = seq_of(p->cu_q, p->nseq, i);
    if (s < 0 || seq_of(p->cu_k, p->nseq, j) != s) return 0;
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

int ref64_visible(const jfa_attention_params_t *params, int64_t Nq, int64_t Nk, int64_t i, int64_t j) {
  prob_t p;
  memset(&p, 0, sizeof p);
  p.B = 1, p.Hq = p.Hkv = 1, p.Nq = Nq, p.Nk = Nk, p.D = 1;
  jfa_attention_params_t prm;
  if (params) prm = *params, prm.attn_mask = NULL;
  if (resolve_masks(&p, params ? &prm : NULL)) return 0;
  return visible_structural(&p, i, j);
}

/* Sets up shapes from q and k (v must match k) and resolves the masks. */
static int setup(prob_t *p, const jfa_attention_params_t *prm, const jfa_tensor_t *q, const jfa_tensor_t *k,
                 const jfa_tensor_t *v) {
  memset(p, 0, sizeof *p);
  if (check_host(q, "q") || check_host(k, "k") || check_host(v, "v")) return -1;
  p->B = q->shape[0], p->Hq = q->shape[1], p->Nq = q->shape[2], p->D = q->shape[3];
  p->Hkv = k->shape[1], p->Nk = k->shape[2];
  if (k->shape[0] != p->B || k->shape[3] != p->D) return fail("k must have q's batch and head dim");
  for (int i = 0; i < 4; ++i)
    if (v->shape[i] != k->shape[i]) return fail("v must have k's shape");
  if (p->Hkv < 1 || p->Hq % p->Hkv != 0) return fail("Hq (%lld) must be a multiple of Hkv (%lld)",
                                                      (long long)p->Hq, (long long)p->Hkv);
  if (p->D < 1) return fail("head dim must be >= 1");
  return resolve_masks(p, prm);
}

/* Scores of query row i of (b, h) over every key: S[j] (masked: -inf); returns the row's lse. */
static double row_scores(const prob_t *p, int64_t b, int64_t h, int64_t i, const double *qrow, const double *K,
                         double *S) {
  const int64_t D = p->D;
  double m = -INFINITY;
  for (int64_t j = 0; j < p->Nk; ++j) {
    double bias = 0.0;
    if (p->bias)
      bias = p->bias[(((p->mb == 1 ? 0 : b) * p->mh + (p->mh == 1 ? 0 : h)) * p->Nq + i) * p->Nk + j];
    if (!visible_structural(p, i, j) || bias == -INFINITY) {
      S[j] = -INFINITY;
      continue;
    }
    double dot = 0.0;
    for (int64_t d = 0; d < D; ++d) dot += qrow[d] * K[j * D + d];
    S[j] = p->scale * dot + bias;
    if (S[j] > m) m = S[j];
  }
  if (m == -INFINITY) return -INFINITY;
  double l = 0.0;
  for (int64_t j = 0; j < p->Nk; ++j) l += exp(S[j] - m);
  return m + log(l);
}

/* P[j] = exp(S[j] - lse) (0 for a fully masked row or a masked key). */
static void row_probs(const prob_t *p, double lse, const double *S, double *P) {
  for (int64_t j = 0; j < p->Nk; ++j) P[j] = lse == -INFINITY || S[j] == -INFINITY ? 0.0 : exp(S[j] - lse);
}

int ref64_forward_jvp(const jfa_attention_params_t *params, const jfa_tensor_t *q, const jfa_tensor_t *k,
                      const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                      const jfa_tensor_t *vd, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                      const jfa_tensor_t *od, const jfa_tensor_t *mu) {
  prob_t p;
  if (setup(&p, params, q, k, v)) return -1;
  const int64_t B = p.B, Hq = p.Hq, Hkv = p.Hkv, Nq = p.Nq, Nk = p.Nk, D = p.D, g = Hq / Hkv;
  const int jvp = qd || kd || vd;
  int rc = -1;
  double *x[6] = {0}, *r[4] = {0}, *S = NULL, *P = NULL, *Sd = NULL;
  if (jvp && (!qd || !kd || !vd)) {
    fail("the JVP needs all of qd, kd, vd");
    goto out;
  }
  if (!jvp && (od || mu)) {
    fail("od and mu need the tangents qd, kd, vd");
    goto out;
  }
  if (check_output(o, "o", B, Hq, Nq, D) || check_output(lse, "lse", B, Hq, Nq, 1) ||
      check_output(od, "od", B, Hq, Nq, D) || check_output(mu, "mu", B, Hq, Nq, 1))
    goto out;
  {
    const jfa_tensor_t *in[6] = {q, k, v, qd, kd, vd};
    const char *nm[6] = {"q", "k", "v", "qd", "kd", "vd"};
    for (int i = 0; i < (jvp ? 6 : 3); ++i) {
      int kv = i % 3 != 0;
      x[i] = load_input(in[i], nm[i], B, kv ? Hkv : Hq, kv ? Nk : Nq, D);
      if (!x[i]) goto out;
    }
  }
  r[0] = alloc_d(B * Hq * Nq * D), r[1] = alloc_d(B * Hq * Nq), r[2] = alloc_d(B * Hq * Nq * D),
  r[3] = alloc_d(B * Hq * Nq);
  S = alloc_d(Nk), P = alloc_d(Nk), Sd = alloc_d(Nk);
  if (!r[0] || !r[1] || !r[2] || !r[3] || !S || !P || !Sd) goto out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t qo = (b * Hq + h) * Nq, ko = (b * Hkv + h / g) * Nk; /* GQA: query head h reads kv head h/g */
      const double *K = x[1] + ko * D, *V = x[2] + ko * D;
      for (int64_t i = 0; i < Nq; ++i) {
        const double *qi = x[0] + (qo + i) * D;
        double l = row_scores(&p, b, h, i, qi, K, S);
        row_probs(&p, l, S, P);
        r[1][qo + i] = l;
        double *oi = r[0] + (qo + i) * D;
        for (int64_t j = 0; j < Nk; ++j)
          for (int64_t d = 0; d < D; ++d) oi[d] += P[j] * V[j * D + d];
        if (!jvp) continue;
        const double *qdi = x[3] + (qo + i) * D, *Kd = x[4] + ko * D, *Vd = x[5] + ko * D;
        double m = 0.0;
        for (int64_t j = 0; j < Nk; ++j) {
          double a = 0.0;
          for (int64_t d = 0; d < D; ++d) a += qdi[d] * K[j * D + d] + qi[d] * Kd[j * D + d];
          Sd[j] = p.scale * a;
          m += P[j] * Sd[j];
        }
        r[3][qo + i] = m;
        double *odi = r[2] + (qo + i) * D;
        for (int64_t j = 0; j < Nk; ++j)
          for (int64_t d = 0; d < D; ++d) odi[d] += P[j] * (Sd[j] - m) * V[j * D + d] + P[j] * Vd[j * D + d];
      }
    }
  if ((o && ref64_store(r[0], o)) || (lse && ref64_store(r[1], lse)) || (od && ref64_store(r[2], od)) ||
      (mu && ref64_store(r[3], mu)))
    goto out;
  rc = 0;
out:
  for (int i = 0; i < 6; ++i) free(x[i]);
  for (int i = 0; i < 4; ++i) free(r[i]);
  free(S), free(P), free(Sd), free(p.bias);
  return rc;
}

int ref64_forward(const jfa_attention_params_t *params, const jfa_tensor_t *q, const jfa_tensor_t *k,
                  const jfa_tensor_t *v, const jfa_tensor_t *o, const jfa_tensor_t *lse) {
  return ref64_forward_jvp(params, q, k, v, NULL, NULL, NULL, o, lse, NULL, NULL);
}

int ref64_backward(const jfa_attention_params_t *params, const jfa_tensor_t *q, const jfa_tensor_t *k,
                   const jfa_tensor_t *v, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                   const jfa_tensor_t *dout, const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                   const jfa_tensor_t *dv) {
  prob_t p;
  if (setup(&p, params, q, k, v)) return -1;
  const int64_t B = p.B, Hq = p.Hq, Hkv = p.Hkv, Nq = p.Nq, Nk = p.Nk, D = p.D, g = Hq / Hkv;
  int rc = -1;
  double *x[4] = {0}, *so = NULL, *sl = NULL, *gq = NULL, *gk = NULL, *gv = NULL, *S = NULL, *P = NULL, *oi = NULL;
  if (check_output(dq, "dq", B, Hq, Nq, D) || check_output(dk, "dk", B, Hkv, Nk, D) ||
      check_output(dv, "dv", B, Hkv, Nk, D))
    goto out;
  {
    const jfa_tensor_t *in[4] = {q, k, v, dout};
    const char *nm[4] = {"q", "k", "v", "dout"};
    for (int i = 0; i < 4; ++i) {
      int kv = i == 1 || i == 2;
      x[i] = load_input(in[i], nm[i], B, kv ? Hkv : Hq, kv ? Nk : Nq, D);
      if (!x[i]) goto out;
    }
  }
  if (o && !(so = load_input(o, "o", B, Hq, Nq, D))) goto out;
  if (lse && !(sl = load_input(lse, "lse", B, Hq, Nq, 1))) goto out;
  gq = alloc_d(B * Hq * Nq * D), gk = alloc_d(B * Hkv * Nk * D), gv = alloc_d(B * Hkv * Nk * D);
  S = alloc_d(Nk), P = alloc_d(Nk), oi = alloc_d(D);
  if (!gq || !gk || !gv || !S || !P || !oi) goto out;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t qo = (b * Hq + h) * Nq, ko = (b * Hkv + h / g) * Nk;
      const double *K = x[1] + ko * D, *V = x[2] + ko * D;
      double *dK = gk + ko * D, *dV = gv + ko * D; /* summed over the query heads of the group */
      for (int64_t i = 0; i < Nq; ++i) {
        const double *qi = x[0] + (qo + i) * D, *doi = x[3] + (qo + i) * D;
        double l = row_scores(&p, b, h, i, qi, K, S);
        if (sl) l = sl[qo + i];
        row_probs(&p, l, S, P);
        if (so) {
          memcpy(oi, so + (qo + i) * D, (size_t)D * sizeof(double));
        } else {
          memset(oi, 0, (size_t)D * sizeof(double));
          for (int64_t j = 0; j < Nk; ++j)
            for (int64_t d = 0; d < D; ++d) oi[d] += P[j] * V[j * D + d];
        }
        double delta = 0.0;
        for (int64_t d = 0; d < D; ++d) delta += doi[d] * oi[d];
        double *dqi = gq + (qo + i) * D;
        for (int64_t j = 0; j < Nk; ++j) {
          double dp = 0.0;
          for (int64_t d = 0; d < D; ++d) dp += doi[d] * V[j * D + d];
          double ds = P[j] * (dp - delta);
          for (int64_t d = 0; d < D; ++d) {
            dqi[d] += p.scale * ds * K[j * D + d];
            dK[j * D + d] += p.scale * ds * qi[d];
            dV[j * D + d] += P[j] * doi[d];
          }
        }
      }
    }
  if ((dq && ref64_store(gq, dq)) || (dk && ref64_store(gk, dk)) || (dv && ref64_store(gv, dv))) goto out;
  rc = 0;
out:
  for (int i = 0; i < 4; ++i) free(x[i]);
  free(so), free(sl), free(gq), free(gk), free(gv), free(S), free(P), free(oi), free(p.bias);
  return rc;
}

int ref64_merge(int n, const jfa_tensor_t *const *o_parts, const jfa_tensor_t *const *lse_parts,
                const jfa_tensor_t *const *od_parts, const jfa_tensor_t *const *mu_parts, const jfa_tensor_t *o,
                const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu) {
  if (n < 1 || !o_parts || !lse_parts) return fail("merge: need n >= 1 and the o and lse parts");
  const int jvp = od_parts || mu_parts;
  if (jvp && (!od_parts || !mu_parts)) return fail("merge: od_parts and mu_parts go together");
  if (!jvp && (od || mu)) return fail("merge: od and mu need od_parts and mu_parts");
  if (check_host(o_parts[0], "o_parts[0]")) return -1;
  const int64_t B = o_parts[0]->shape[0], H = o_parts[0]->shape[1], N = o_parts[0]->shape[2],
                D = o_parts[0]->shape[3], R = B * H * N;
  if (check_output(o, "o", B, H, N, D) || check_output(lse, "lse", B, H, N, 1) ||
      check_output(od, "od", B, H, N, D) || check_output(mu, "mu", B, H, N, 1))
    return -1;
  int rc = -1;
  double **po = (double **)calloc((size_t)n * 4, sizeof(double *));
  double *ro = alloc_d(R * D), *rl = alloc_d(R), *rod = alloc_d(R * D), *rmu = alloc_d(R);
  if (!po || !ro || !rl || !rod || !rmu) goto out;
  for (int c = 0; c < n; ++c) {
    if (!(po[4 * c] = load_input(o_parts[c], "o_parts[c]", B, H, N, D))) goto out;
    if (!(po[4 * c + 1] = load_input(lse_parts[c], "lse_parts[c]", B, H, N, 1))) goto out;
    if (jvp && !(po[4 * c + 2] = load_input(od_parts[c], "od_parts[c]", B, H, N, D))) goto out;
    if (jvp && !(po[4 * c + 3] = load_input(mu_parts[c], "mu_parts[c]", B, H, N, 1))) goto out;
  }
  for (int64_t r = 0; r < R; ++r) {
    double m = -INFINITY;
    for (int c = 0; c < n; ++c) m = po[4 * c + 1][r] > m ? po[4 * c + 1][r] : m;
    if (m == -INFINITY) { /* every part fully masked */
      rl[r] = -INFINITY;
      continue;
    }
    double s = 0.0;
    for (int c = 0; c < n; ++c) s += exp(po[4 * c + 1][r] - m);
    const double L = m + log(s);
    rl[r] = L;
    double mu_r = 0.0;
    for (int c = 0; c < n; ++c) {
      double w = exp(po[4 * c + 1][r] - L);
      for (int64_t d = 0; d < D; ++d) ro[r * D + d] += w * po[4 * c][r * D + d];
      if (jvp) mu_r += w * po[4 * c + 3][r];
    }
    if (!jvp) continue;
    rmu[r] = mu_r;
    for (int c = 0; c < n; ++c) {
      double w = exp(po[4 * c + 1][r] - L);
      for (int64_t d = 0; d < D; ++d)
        rod[r * D + d] += w * (po[4 * c + 2][r * D + d] + (po[4 * c + 3][r] - mu_r) * po[4 * c][r * D + d]);
    }
  }
  if ((o && ref64_store(ro, o)) || (lse && ref64_store(rl, lse)) || (od && ref64_store(rod, od)) ||
      (mu && ref64_store(rmu, mu)))
    goto out;
  rc = 0;
out:
  if (po)
    for (int i = 0; i < 4 * n; ++i) free(po[i]);
  free(po), free(ro), free(rl), free(rod), free(rmu);
  return rc;
}
