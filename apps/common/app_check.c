/*
 * app_check.c - the programs' float64 check: a naive reference of chosen query rows
 * (O, lse, Od, mu, dQ) and key rows (dK, dV), written out from the formulas of
 * README.md with the masks by their definition, inputs recomputed from the hash
 * (app_inputs.c), no code shared with src/. Rows run on threads; a query row costs
 * O(visible keys x D), a key row O(group x visible queries x D), so the check's cost
 * is bounded by the number of rows whatever the problem's size. The check of every
 * row (small problems) uses jfa_ref64 instead (tests/common/ref64.c: the independent
 * float64 reference of the tests, on the whole problem).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "ref64.h"

const char *const app_out_name[APP_NOUT] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV"};

void app_problem_from_opts(app_problem_t *p, const app_opts_t *o) {
  p->B = o->B, p->Hq = o->Hq, p->Hkv = o->Hkv, p->N = o->N, p->D = o->D;
  p->causal = o->causal > 0;
  p->window_left = o->window_left, p->window_right = o->window_right;
  p->nseq = o->nseq, p->cu = o->cu;
  p->dtype = o->dtype;
  p->seed = o->seed;
}

/* the packed sequence of row x: [*s0, *s1) (the whole sequence without packing; empty if none) */
static void seq_of(const app_problem_t *p, int64_t x, int64_t *s0, int64_t *s1) {
  *s0 = 0, *s1 = p->N;
  if (p->nseq <= 0) return;
  for (int64_t s = 0; s < p->nseq; ++s)
    if (p->cu[s] <= x && x < p->cu[s + 1]) {
      *s0 = p->cu[s], *s1 = p->cu[s + 1];
      return;
    }
  *s0 = *s1 = 0;
}

int app_visible(const app_problem_t *p, int64_t i, int64_t j) {
  if (p->causal && j > i) return 0;
  if (p->window_left >= 0 && j < i - p->window_left) return 0;
  if (p->window_right >= 0 && j > i + p->window_right) return 0;
  int64_t a0, a1, b0, b1;
  seq_of(p, i, &a0, &a1);
  seq_of(p, j, &b0, &b1);
  return a0 == b0 && a1 == b1 && a0 < a1;
}

/* Keys visible to query i (key = 0) or queries that see key j (key = 1): the interval [*lo, *hi)
   (every mask here keeps an interval; app_visible is the definition and is asserted per pair). */
static void visible_range(const app_problem_t *p, int64_t x, int key, int64_t *lo, int64_t *hi) {
  int64_t l, h;
  seq_of(p, x, &l, &h);
  if (!key) {
    if (p->causal && h > x + 1) h = x + 1;
    if (p->window_left >= 0 && l < x - p->window_left) l = x - p->window_left;
    if (p->window_right >= 0 && h > x + p->window_right + 1) h = x + p->window_right + 1;
  } else {
    if (p->causal && l < x) l = x;
    if (p->window_right >= 0 && l < x - p->window_right) l = x - p->window_right;
    if (p->window_left >= 0 && h > x + p->window_left + 1) h = x + p->window_left + 1;
  }
  *lo = l;
  *hi = h > l ? h : l;
}

/* ---- rows ----------------------------------------------------------------------------- */

static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int app_check_full(const app_opts_t *o, double pairs) {
  if (!strcmp(o->check, "full")) return 1;
  if (!strcmp(o->check, "sample")) return 0;
  /* auto: every row when the reference's work (about 10 B Hq pairs D) is small */
  return (double)o->B * (double)o->Hq * pairs * (double)o->D <= (double)(1 << 24);
}

void app_sample_rows(const app_problem_t *p, int full, int samples, uint64_t seed, app_sample_t *s) {
  memset(s, 0, sizeof(*s));
  s->full = full;
  if (full) {
    s->nq = p->B * p->Hq * p->N;
    s->nk = p->B * p->Hkv * p->N;
    s->q = (app_row_t *)malloc((size_t)s->nq * sizeof(app_row_t));
    s->k = (app_row_t *)malloc((size_t)s->nk * sizeof(app_row_t));
    for (int64_t r = 0; r < s->nq; ++r) {
      app_row_t x = {r / (p->Hq * p->N), (r / p->N) % p->Hq, r % p->N, 0};
      s->q[r] = x;
    }
    for (int64_t r = 0; r < s->nk; ++r) {
      app_row_t x = {r / (p->Hkv * p->N), (r / p->N) % p->Hkv, r % p->N, 0};
      s->k[r] = x;
    }
    return;
  }
  s->nq = s->nk = samples;
  s->q = (app_row_t *)malloc((size_t)samples * sizeof(app_row_t));
  s->k = (app_row_t *)malloc((size_t)samples * sizeof(app_row_t));
  uint64_t st = mix64(seed + 77);
  /* key rows come from two (batch, kv head) pairs: the last one (the far end of the tensors,
     where 32-bit offsets would overflow first) and one drawn from the seed */
  s->nslots = p->B * p->Hkv > 1 ? 2 : 1;
  s->slot_b[0] = p->B - 1, s->slot_hk[0] = p->Hkv - 1;
  if (s->nslots == 2) {
    st = mix64(st + 1);
    uint64_t pair = st % (uint64_t)(p->B * p->Hkv - 1); /* any pair but the last */
    s->slot_b[1] = (int64_t)pair / p->Hkv;
    s->slot_hk[1] = (int64_t)pair % p->Hkv;
  }
  for (int r = 0; r < samples; ++r) {
    /* query rows: the first and the last row of the tensors, then drawn from the seed */
    st = mix64(st + 1);
    app_row_t q = {(int64_t)(st % (uint64_t)p->B), (int64_t)((st >> 16) % (uint64_t)p->Hq),
                   (int64_t)((st >> 24) % (uint64_t)p->N), 0};
    if (r == 0) q.b = 0, q.h = 0, q.i = 0;
    if (r == 1) q.b = p->B - 1, q.h = p->Hq - 1, q.i = p->N - 1;
    s->q[r] = q;
    /* key rows: rows 0 and N-1 of the last pair, then drawn, alternating pairs */
    st = mix64(st + 1);
    const int sl = r < 2 ? 0 : r % s->nslots;
    app_row_t k = {s->slot_b[sl], s->slot_hk[sl],
                   r == 0 ? 0 : r == 1 ? p->N - 1 : (int64_t)((st >> 24) % (uint64_t)p->N), sl};
    s->k[r] = k;
  }
}

void app_sample_free(app_sample_t *s) {
  free(s->q);
  free(s->k);
  memset(s, 0, sizeof(*s));
}

/* ---- the reference ----------------------------------------------------------------------- */

typedef struct {
  double se[APP_NOUT], sr[APP_NOUT];
  int bad[APP_NOUT];
} acc_t;

static void cmp(acc_t *a, int o, double got, double ref) {
  if (isnan(got) || isnan(ref)) {
    a->bad[o] = 1;
    return;
  }
  if (isinf(got) || isinf(ref)) {
    if (got != ref) a->bad[o] = 1;
    return;
  }
  a->se[o] += (got - ref) * (got - ref);
  a->sr[o] += ref * ref;
}

typedef struct {
  const app_problem_t *p;
  const app_sample_t *s;
  const double *qgot, *kgot, *slse, *sdelta;
  double *own_lse, *own_delta; /* full: the reference's lse and Delta of every query row */
  int phase, w, nw;
  acc_t acc;
  int fail; /* out of memory */
} job_t;

static double dot(const double *a, const double *b, int64_t D) {
  double s = 0.0;
  for (int64_t x = 0; x < D; ++x) s += a[x] * b[x];
  return s;
}

/* Query row r: O, lse, Od, mu, dQ by one pass over the visible keys (online softmax in float64). */
static void query_row(job_t *j, int64_t r, double *buf) {
  const app_problem_t *p = j->p;
  const int64_t D = p->D, g = p->Hq / p->Hkv;
  const app_row_t x = j->s->q[r];
  const int64_t hk = x.h / g;
  const double scale = 1.0 / sqrt((double)D);
  double *q = buf, *qd = q + D, *dO = qd + D, *k = dO + D, *kd = k + D, *v = kd + D, *vd = v + D;
  double *O = vd + D, *A = O + D, *Vd = A + D, *KP = Vd + D, *KPdp = KP + D;
  app_row(p->seed, APP_T_Q, x.b, x.h, x.i, D, p->dtype, q);
  app_row(p->seed, APP_T_QD, x.b, x.h, x.i, D, p->dtype, qd);
  app_row(p->seed, APP_T_DO, x.b, x.h, x.i, D, p->dtype, dO);
  memset(O, 0, 5 * (size_t)D * sizeof(double));
  double m = -INFINITY, z = 0, mun = 0, deln = 0;
  int64_t lo, hi;
  visible_range(p, x.i, 0, &lo, &hi);
  for (int64_t kj = lo; kj < hi; ++kj) {
    if (!app_visible(p, x.i, kj)) {
      j->fail = 2;
      continue;
    }
    app_row(p->seed, APP_T_K, x.b, hk, kj, D, p->dtype, k);
    app_row(p->seed, APP_T_KD, x.b, hk, kj, D, p->dtype, kd);
    app_row(p->seed, APP_T_V, x.b, hk, kj, D, p->dtype, v);
    app_row(p->seed, APP_T_VD, x.b, hk, kj, D, p->dtype, vd);
    const double sc = scale * dot(q, k, D), sd = scale * (dot(qd, k, D) + dot(q, kd, D)), dp = dot(dO, v, D);
    if (sc > m) { /* rescale the sums to the new maximum */
      const double c = m == -INFINITY ? 0.0 : exp(m - sc);
      for (int64_t e = 0; e < 5 * D; ++e) O[e] *= c;
      z *= c, mun *= c, deln *= c;
      m = sc;
    }
    const double e = exp(sc - m);
    z += e, mun += e * sd, deln += e * dp;
    for (int64_t d = 0; d < D; ++d) {
      O[d] += e * v[d];
      A[d] += e * sd * v[d];
      Vd[d] += e * vd[d];
      KP[d] += e * k[d];
      KPdp[d] += e * dp * k[d];
    }
  }
  /* lse = m + log z, P = exp(S - lse): O = sum P v, mu = sum P Sd, Od = sum P (Sd - mu) v + P vd,
     Delta = dO.O = sum P dP, dQ = s sum P (dP - Delta) k; no visible key: zeros, lse = -inf */
  const double lse = z > 0 ? m + log(z) : -INFINITY, iz = z > 0 ? 1.0 / z : 0.0;
  const double mu = mun * iz, delta = deln * iz;
  const double *got = j->qgot + (size_t)r * (size_t)APP_QW(D);
  for (int64_t d = 0; d < D; ++d) {
    const double o = O[d] * iz;
    cmp(&j->acc, APP_O, got[d], o);
    cmp(&j->acc, APP_OD, got[D + d], A[d] * iz - mu * o + Vd[d] * iz);
    cmp(&j->acc, APP_DQ, got[2 * D + d], scale * (KPdp[d] * iz - delta * KP[d] * iz));
  }
  cmp(&j->acc, APP_LSE, got[3 * D], lse);
  cmp(&j->acc, APP_MU, got[3 * D + 1], mu);
  if (j->own_lse) {
    const size_t gi = (size_t)((x.b * p->Hq + x.h) * p->N + x.i);
    j->own_lse[gi] = lse;
    j->own_delta[gi] = delta;
  }
}

/* Key row r: dK = s sum_i dS_ij q_i, dV = sum_i P_ij dO_i over the group's query heads. */
static void key_row(job_t *j, int64_t r, double *buf) {
  const app_problem_t *p = j->p;
  const int64_t D = p->D, g = p->Hq / p->Hkv;
  const app_row_t x = j->s->k[r];
  const double scale = 1.0 / sqrt((double)D);
  double *k = buf, *v = k + D, *q = v + D, *dO = q + D, *dK = dO + D, *dV = dK + D;
  app_row(p->seed, APP_T_K, x.b, x.h, x.i, D, p->dtype, k);
  app_row(p->seed, APP_T_V, x.b, x.h, x.i, D, p->dtype, v);
  memset(dK, 0, 2 * (size_t)D * sizeof(double));
  int64_t lo, hi;
  visible_range(p, x.i, 1, &lo, &hi);
  for (int64_t hg = 0; hg < g; ++hg) {
    const int64_t h = x.h * g + hg;
    for (int64_t i = lo; i < hi; ++i) {
      if (!app_visible(p, i, x.i)) {
        j->fail = 2;
        continue;
      }
      double lse, delta;
      if (j->own_lse) {
        const size_t gi = (size_t)((x.b * p->Hq + h) * p->N + i);
        lse = j->own_lse[gi], delta = j->own_delta[gi];
      } else {
        const size_t gi = (size_t)(((int64_t)x.slot * g + hg) * p->N + i);
        lse = j->slse[gi], delta = j->sdelta[gi];
      }
      app_row(p->seed, APP_T_Q, x.b, h, i, D, p->dtype, q);
      app_row(p->seed, APP_T_DO, x.b, h, i, D, p->dtype, dO);
      const double pr = exp(scale * dot(q, k, D) - lse), ds = pr * (dot(dO, v, D) - delta);
      for (int64_t d = 0; d < D; ++d) {
        dK[d] += scale * ds * q[d];
        dV[d] += pr * dO[d];
      }
    }
  }
  const double *got = j->kgot + (size_t)r * (size_t)APP_KW(D);
  for (int64_t d = 0; d < D; ++d) {
    cmp(&j->acc, APP_DK, got[d], dK[d]);
    cmp(&j->acc, APP_DV, got[D + d], dV[d]);
  }
}

static void *worker(void *arg) {
  job_t *j = (job_t *)arg;
  double *buf = (double *)malloc(12 * (size_t)j->p->D * sizeof(double));
  if (!buf) {
    j->fail = 1;
    return NULL;
  }
  if (j->phase == 0)
    for (int64_t r = j->w; r < j->s->nq; r += j->nw) query_row(j, r, buf);
  else
    for (int64_t r = j->w; r < j->s->nk; r += j->nw) key_row(j, r, buf);
  free(buf);
  return NULL;
}

/* Every row: the inputs materialised in float64 (rounded to the dtype) and jfa_ref64's forward,
   JVP and backward of the whole problem (its own lse and Delta); 0, or -1 (memory, ref64 refused). */
static int check_full_ref64(const app_problem_t *p, const app_sample_t *s, const double *qgot, const double *kgot,
                            acc_t *acc) {
  const int64_t B = p->B, Hq = p->Hq, Hkv = p->Hkv, N = p->N, D = p->D;
  const size_t nq = (size_t)(B * Hq * N * D), nk = (size_t)(B * Hkv * N * D), nr = (size_t)(B * Hq * N);
  double *x[APP_T_N], *out[APP_NOUT];
  jfa_tensor_t tx[APP_T_N], to[APP_NOUT];
  int rc = 0;
  for (int t = 0; t < APP_T_N; ++t) {
    const int kv = t == APP_T_K || t == APP_T_V || t == APP_T_KD || t == APP_T_VD;
    const int64_t H = kv ? Hkv : Hq;
    x[t] = (double *)malloc((kv ? nk : nq) * sizeof(double));
    if (!x[t]) rc = -1;
    else
      for (int64_t r = 0; r < B * H * N; ++r)
        app_row(p->seed, t, r / (H * N), (r / N) % H, r % N, D, p->dtype, x[t] + (size_t)(r * D));
    tx[t] = jfa_tensor_bhsd(x[t], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, N, D);
  }
  for (int o = 0; o < APP_NOUT; ++o) {
    const int kv = o == APP_DK || o == APP_DV, stat = o == APP_LSE || o == APP_MU;
    out[o] = (double *)malloc((stat ? nr : kv ? nk : nq) * sizeof(double));
    if (!out[o]) rc = -1;
    to[o] = jfa_tensor_bhsd(out[o], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, kv ? Hkv : Hq, N, stat ? 1 : D);
  }
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = p->causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  prm.window_left = p->window_left;
  prm.window_right = p->window_right;
  if (p->nseq > 0) prm.cu_seqlens_q = prm.cu_seqlens_k = p->cu, prm.num_seqs = p->nseq;
  if (!rc)
    rc = ref64_forward_jvp(&prm, &tx[APP_T_Q], &tx[APP_T_K], &tx[APP_T_V], &tx[APP_T_QD], &tx[APP_T_KD],
                           &tx[APP_T_VD], &to[APP_O], &to[APP_LSE], &to[APP_OD], &to[APP_MU]);
  if (!rc)
    rc = ref64_backward(&prm, &tx[APP_T_Q], &tx[APP_T_K], &tx[APP_T_V], NULL, NULL, &tx[APP_T_DO], &to[APP_DQ],
                        &to[APP_DK], &to[APP_DV]);
  for (int64_t r = 0; !rc && r < s->nq; ++r) { /* full: row r is (b, h, i) in order */
    const double *g = qgot + (size_t)r * (size_t)APP_QW(D);
    for (int64_t d = 0; d < D; ++d) {
      cmp(acc, APP_O, g[d], out[APP_O][r * D + d]);
      cmp(acc, APP_OD, g[D + d], out[APP_OD][r * D + d]);
      cmp(acc, APP_DQ, g[2 * D + d], out[APP_DQ][r * D + d]);
    }
    cmp(acc, APP_LSE, g[3 * D], out[APP_LSE][r]);
    cmp(acc, APP_MU, g[3 * D + 1], out[APP_MU][r]);
  }
  for (int64_t r = 0; !rc && r < s->nk; ++r) {
    const double *g = kgot + (size_t)r * (size_t)APP_KW(D);
    for (int64_t d = 0; d < D; ++d) {
      cmp(acc, APP_DK, g[d], out[APP_DK][r * D + d]);
      cmp(acc, APP_DV, g[D + d], out[APP_DV][r * D + d]);
    }
  }
  for (int t = 0; t < APP_T_N; ++t) free(x[t]);
  for (int o = 0; o < APP_NOUT; ++o) free(out[o]);
  return rc;
}

void app_check(const app_problem_t *p, const app_sample_t *s, const double *qgot, const double *kgot,
               const double *stats_lse, const double *stats_delta, int threads, app_check_result_t *res) {
  const double t0 = app_now();
  if (s->full) {
    acc_t a;
    memset(&a, 0, sizeof a);
    const int fail = check_full_ref64(p, s, qgot, kgot, &a);
    if (fail) fprintf(stderr, "app_check: the reference failed (out of memory, or ref64 refused the problem)\n");
    for (int o = 0; o < APP_NOUT; ++o)
      res->err[o] = fail || a.bad[o] ? NAN : a.sr[o] > 0 ? sqrt(a.se[o] / a.sr[o]) : sqrt(a.se[o]);
    res->seconds = app_now() - t0;
    return;
  }
  if (threads < 1) threads = 1;
  job_t *jobs = (job_t *)calloc((size_t)threads, sizeof(job_t));
  pthread_t *tid = (pthread_t *)calloc((size_t)threads, sizeof(pthread_t));
  double *own_lse = NULL, *own_delta = NULL;
  if (s->full) {
    own_lse = (double *)malloc((size_t)(p->B * p->Hq * p->N) * sizeof(double));
    own_delta = (double *)malloc((size_t)(p->B * p->Hq * p->N) * sizeof(double));
  }
  acc_t tot;
  memset(&tot, 0, sizeof tot);
  int fail = !jobs || !tid || (s->full && (!own_lse || !own_delta)) || (!s->full && (!stats_lse || !stats_delta));
  for (int phase = 0; phase < 2 && !fail; ++phase) {
    for (int w = 0; w < threads; ++w) {
      job_t j;
      memset(&j, 0, sizeof j);
      j.p = p, j.s = s, j.qgot = qgot, j.kgot = kgot, j.slse = stats_lse, j.sdelta = stats_delta;
      j.own_lse = own_lse, j.own_delta = own_delta, j.phase = phase, j.w = w, j.nw = threads;
      jobs[w] = j;
    }
    int started = 0;
    for (int w = 1; w < threads; ++w, ++started)
      if (pthread_create(&tid[w], NULL, worker, &jobs[w])) break;
    /* rows of threads that could not start: this thread takes them */
    for (int w = started + 1; w < threads; ++w) jobs[w].nw = threads, worker(&jobs[w]);
    worker(&jobs[0]);
    for (int w = 1; w <= started; ++w) pthread_join(tid[w], NULL);
    for (int w = 0; w < threads; ++w) {
      for (int o = 0; o < APP_NOUT; ++o) {
        tot.se[o] += jobs[w].acc.se[o];
        tot.sr[o] += jobs[w].acc.sr[o];
        tot.bad[o] |= jobs[w].acc.bad[o];
      }
      if (jobs[w].fail) fail = 1;
    }
  }
  for (int o = 0; o < APP_NOUT; ++o)
    res->err[o] = fail || tot.bad[o] ? NAN : tot.sr[o] > 0 ? sqrt(tot.se[o] / tot.sr[o]) : sqrt(tot.se[o]);
  if (fail) fprintf(stderr, "app_check: out of memory or an internal inconsistency; every error set to NaN\n");
  free(own_lse);
  free(own_delta);
  free(jobs);
  free(tid);
  res->seconds = app_now() - t0;
}

int app_check_report(const app_check_result_t *res, const app_sample_t *s, double tol) {
  int pass = 1;
  printf("  check: %s%lld query rows and %lld key rows against %s, %.2f s (tolerance %.0e)\n",
         s->full ? "all " : "sampled ", (long long)s->nq, (long long)s->nk,
         s->full ? "jfa_ref64 (naive float64, tests/common)" : "a naive float64 row reference", res->seconds, tol);
  for (int o = 0; o < APP_NOUT; ++o) {
    const int ok = res->err[o] <= tol; /* NaN fails */
    pass &= ok;
    printf("    %-4s rel err %.3e  %s\n", app_out_name[o], res->err[o], ok ? "ok" : isnan(res->err[o]) ? "FAIL (NaN: unwritten, NaN or wrong inf)" : "FAIL");
  }
  fflush(stdout);
  return pass;
}
