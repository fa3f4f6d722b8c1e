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

const char *const app_out_name[APP_NOUT] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV", "O (forward)",
                                            "lse (forward)"};

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

int app_check_full(const app_opts_t *o, double pairs) {
  if (!strcmp(o->check, "full")) return 1;
  if (!strcmp(o->check, "sample")) return 0;
  /* auto: every row when the reference's work (about 10 B Hq pairs D) is small (2^27: about a second on 2 cores,
     the CPU main job's default problem) */
  return (double)o->B * (double)o->Hq * pairs * (double)o->D <= (double)(1 << 27);
}

void app_sample_rows(const app_problem_t *p, int full, int samples, int nchunks, uint64_t seed, app_sample_t *s) {
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
  /* the first and last row of each of nchunks equal chunks of the sequence (every rank's rows, both zigzag chunks)
     come first, so that no rank goes unchecked however few samples are asked */
  if (nchunks < 1 || p->N % nchunks) nchunks = 1;
  const int forced = 2 * nchunks;
  if (samples < forced) samples = forced;
  s->nq = s->nk = samples;
  s->q = (app_row_t *)malloc((size_t)samples * sizeof(app_row_t));
  s->k = (app_row_t *)malloc((size_t)samples * sizeof(app_row_t));
  uint64_t st = app_mix64(seed + 77);
  /* key rows come from two (batch, kv head) pairs: the last one (the far end of the tensors,
     where 32-bit offsets would overflow first) and one drawn from the seed */
  s->nslots = p->B * p->Hkv > 1 ? 2 : 1;
  s->slot_b[0] = p->B - 1, s->slot_hk[0] = p->Hkv - 1;
  if (s->nslots == 2) {
    st = app_mix64(st + 1);
    uint64_t pair = st % (uint64_t)(p->B * p->Hkv - 1); /* any pair but the last */
    s->slot_b[1] = (int64_t)pair / p->Hkv;
    s->slot_hk[1] = (int64_t)pair % p->Hkv;
  }
  const int64_t clen = p->N / nchunks;
  for (int r = 0; r < samples; ++r) {
    /* query rows: the chunks' first and last rows (the tensors' first and last among them, at the first and last
       (batch, head)), then drawn from the seed */
    const int64_t edge = r < forced ? (r / 2) * clen + (r % 2 ? clen - 1 : 0) : -1;
    st = app_mix64(st + 1);
    app_row_t q = {(int64_t)(st % (uint64_t)p->B), (int64_t)((st >> 16) % (uint64_t)p->Hq),
                   edge >= 0 ? edge : (int64_t)((st >> 24) % (uint64_t)p->N), 0};
    if (r == 0) q.b = 0, q.h = 0;
    if (r == forced - 1) q.b = p->B - 1, q.h = p->Hq - 1;
    s->q[r] = q;
    /* key rows: the chunks' edges (rows 0 and N-1 of the last pair), then drawn, alternating pairs */
    st = app_mix64(st + 1);
    const int sl = (r == 0 || r == forced - 1) ? 0 : r % s->nslots;
    app_row_t k = {s->slot_b[sl], s->slot_hk[sl], edge >= 0 ? edge : (int64_t)((st >> 24) % (uint64_t)p->N), sl};
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
  /* per row: its squared error so far, the worst row's, the rows compared (row_end closes a row) */
  double row_se[APP_NOUT], row_max[APP_NOUT];
  int64_t row_n[APP_NOUT], rows[APP_NOUT];
} acc_t;

static void cmp(acc_t *a, int o, double got, double ref) {
  a->row_n[o]++;
  if (isnan(got) || isnan(ref)) {
    a->bad[o] = 1;
    return;
  }
  if (isinf(got) || isinf(ref)) {
    if (got != ref) a->bad[o] = 1;
    return;
  }
  a->se[o] += (got - ref) * (got - ref);
  a->row_se[o] += (got - ref) * (got - ref);
  a->sr[o] += ref * ref;
}

/* Closes a row of every output it compared. */
static void row_end(acc_t *a) {
  for (int o = 0; o < APP_NOUT; ++o) {
    if (!a->row_n[o]) continue;
    a->rows[o]++;
    if (a->row_se[o] > a->row_max[o]) a->row_max[o] = a->row_se[o];
    a->row_se[o] = 0.0;
    a->row_n[o] = 0;
  }
}

/* The sampled rows' reference is split into items of at most CHUNK keys (query rows) or
   CHUNK queries of one head (key rows), so that threads share even one long row; each item
   leaves partial sums, merged per row afterwards. */
#ifndef APP_CHECK_CHUNK
#define APP_CHECK_CHUNK 16384 /* a -D override tests the merge with short items */
#endif
#define CHUNK APP_CHECK_CHUNK

typedef struct {
  int64_t row, hg, x0, x1; /* row; key rows: head in the group; the range of keys / queries */
} item_t;

typedef struct {
  const app_problem_t *p;
  const app_sample_t *s;
  const double *slse, *sdelta; /* the run's lse and Delta of the sampled key pairs' query heads */
  const item_t *items;
  int64_t nitems;
  double *part; /* per item: query rows m, z, sum e Sd, sum e dP, then O, A, Vd, KP, KPdp (D each);
                   key rows dK, dV */
  int64_t pw;   /* doubles per item */
  int phase, w, nw;
  int fail;
} job_t;

static double dot(const double *a, const double *b, int64_t D) {
  double s = 0.0;
  for (int64_t x = 0; x < D; ++x) s += a[x] * b[x];
  return s;
}

/* Query row it->row over keys [x0, x1): online softmax sums relative to the item's own max m. */
static void query_part(job_t *j, const item_t *it, double *buf, double *out) {
  const app_problem_t *p = j->p;
  const int64_t D = p->D, g = p->Hq / p->Hkv;
  const app_row_t x = j->s->q[it->row];
  const int64_t hk = x.h / g;
  const double scale = 1.0 / sqrt((double)D);
  double *q = buf, *qd = q + D, *dO = qd + D, *k = dO + D, *kd = k + D, *v = kd + D, *vd = v + D;
  double *O = out + 4, *A = O + D, *Vd = A + D, *KP = Vd + D, *KPdp = KP + D;
  app_row(p->seed, APP_T_Q, x.b, x.h, x.i, D, p->dtype, q);
  app_row(p->seed, APP_T_QD, x.b, x.h, x.i, D, p->dtype, qd);
  app_row(p->seed, APP_T_DO, x.b, x.h, x.i, D, p->dtype, dO);
  memset(out, 0, (size_t)j->pw * sizeof(double));
  double m = -INFINITY, z = 0, mun = 0, deln = 0;
  for (int64_t kj = it->x0; kj < it->x1; ++kj) {
    if (!app_visible(p, x.i, kj)) { /* the range is the visible set by construction */
      j->fail = 1;
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
  out[0] = m, out[1] = z, out[2] = mun, out[3] = deln;
}

/* Key row it->row, query head hg of its group, queries [x0, x1): partial dK, dV. */
static void key_part(job_t *j, const item_t *it, double *buf, double *out) {
  const app_problem_t *p = j->p;
  const int64_t D = p->D, g = p->Hq / p->Hkv;
  const app_row_t x = j->s->k[it->row];
  const int64_t h = x.h * g + it->hg;
  const double scale = 1.0 / sqrt((double)D);
  double *k = buf, *v = k + D, *q = v + D, *dO = q + D, *dK = out, *dV = out + D;
  app_row(p->seed, APP_T_K, x.b, x.h, x.i, D, p->dtype, k);
  app_row(p->seed, APP_T_V, x.b, x.h, x.i, D, p->dtype, v);
  memset(out, 0, (size_t)j->pw * sizeof(double));
  for (int64_t i = it->x0; i < it->x1; ++i) {
    if (!app_visible(p, i, x.i)) {
      j->fail = 1;
      continue;
    }
    const size_t gi = (size_t)(((int64_t)x.slot * g + it->hg) * p->N + i);
    app_row(p->seed, APP_T_Q, x.b, h, i, D, p->dtype, q);
    app_row(p->seed, APP_T_DO, x.b, h, i, D, p->dtype, dO);
    /* P = exp(S - lse), dS = P (dO.v - Delta), dK += s dS q, dV += P dO */
    const double pr = exp(scale * dot(q, k, D) - j->slse[gi]), ds = pr * (dot(dO, v, D) - j->sdelta[gi]);
    for (int64_t d = 0; d < D; ++d) {
      dK[d] += scale * ds * q[d];
      dV[d] += pr * dO[d];
    }
  }
}

static void *worker(void *arg) {
  job_t *j = (job_t *)arg;
  double *buf = (double *)malloc(8 * (size_t)j->p->D * sizeof(double));
  if (!buf) {
    j->fail = 1;
    return NULL;
  }
  for (int64_t r = j->w; r < j->nitems; r += j->nw) {
    if (j->phase == 0) query_part(j, &j->items[r], buf, j->part + r * j->pw);
    else key_part(j, &j->items[r], buf, j->part + r * j->pw);
  }
  free(buf);
  return NULL;
}

/* Runs one phase's items on threads; returns nonzero if a worker failed. */
static int run_items(job_t *proto, int threads, job_t *jobs, pthread_t *tid) {
  for (int w = 0; w < threads; ++w) {
    jobs[w] = *proto;
    jobs[w].w = w, jobs[w].nw = threads;
  }
  int started = 0;
  for (int w = 1; w < threads; ++w, ++started)
    if (pthread_create(&tid[w], NULL, worker, &jobs[w])) break;
  for (int w = started + 1; w < threads; ++w) worker(&jobs[w]); /* threads that could not start */
  worker(&jobs[0]);
  for (int w = 1; w <= started; ++w) pthread_join(tid[w], NULL);
  int fail = 0;
  for (int w = 0; w < threads; ++w) fail |= jobs[w].fail;
  return fail;
}

/* The sampled rows: items, partial sums on threads, merge per row, compare. */
static int check_rows(const app_problem_t *p, const app_sample_t *s, const double *qgot, const double *kgot,
                      const double *slse, const double *sdelta, int threads, acc_t *acc) {
  const int64_t D = p->D, g = p->Hq / p->Hkv;
  const double scale = 1.0 / sqrt((double)D);
  int64_t cap = 0, n = 0;
  for (int64_t r = 0; r < s->nq; ++r) { /* item count: query rows, then key rows x heads */
    int64_t lo, hi;
    visible_range(p, s->q[r].i, 0, &lo, &hi);
    cap += (hi - lo + CHUNK - 1) / CHUNK + 1;
  }
  for (int64_t r = 0; r < s->nk; ++r) {
    int64_t lo, hi;
    visible_range(p, s->k[r].i, 1, &lo, &hi);
    cap += g * ((hi - lo + CHUNK - 1) / CHUNK + 1);
  }
  item_t *items = (item_t *)malloc((size_t)cap * sizeof(item_t));
  int64_t *first = (int64_t *)malloc((size_t)(s->nq + s->nk + 1) * sizeof(int64_t));
  job_t *jobs = (job_t *)calloc((size_t)threads, sizeof(job_t));
  pthread_t *tid = (pthread_t *)calloc((size_t)threads, sizeof(pthread_t));
  const int64_t pw = 5 * D + 4;
  double *part = (double *)malloc((size_t)(cap * pw) * sizeof(double));
  double *S = (double *)malloc(5 * (size_t)D * sizeof(double)); /* a query row's merged sums */
  int fail = !items || !first || !jobs || !tid || !part || !S;
  for (int phase = 0; phase < 2 && !fail; ++phase) {
    const int64_t nrows = phase == 0 ? s->nq : s->nk;
    n = 0;
    for (int64_t r = 0; r < nrows; ++r) {
      int64_t lo, hi;
      visible_range(p, phase == 0 ? s->q[r].i : s->k[r].i, phase, &lo, &hi);
      first[r] = n;
      for (int64_t hg = 0; hg < (phase == 0 ? 1 : g); ++hg) {
        int64_t x0 = lo;
        do { /* at least one item per row (an empty one gives zero sums) */
          const int64_t x1 = hi - x0 > CHUNK ? x0 + CHUNK : hi;
          item_t it = {r, hg, x0, x1};
          items[n++] = it;
          x0 = x1;
        } while (x0 < hi);
      }
    }
    first[nrows] = n;
    job_t proto;
    memset(&proto, 0, sizeof proto);
    proto.p = p, proto.s = s, proto.slse = slse, proto.sdelta = sdelta, proto.items = items, proto.nitems = n;
    proto.part = part, proto.pw = phase == 0 ? pw : 2 * D, proto.phase = phase;
    if (run_items(&proto, threads, jobs, tid)) {
      fail = 1;
      break;
    }
    for (int64_t r = 0; r < nrows; ++r) {
      if (phase == 0) {
        /* merge: sums relative to the rows' overall max M (an item's scaled by exp(m - M)) */
        double M = -INFINITY, z = 0, mun = 0, deln = 0;
        memset(S, 0, 5 * (size_t)D * sizeof(double));
        for (int64_t t = first[r]; t < first[r + 1]; ++t) M = fmax(M, part[t * pw]);
        for (int64_t t = first[r]; t < first[r + 1]; ++t) {
          const double *pp = part + t * pw;
          if (pp[0] == -INFINITY) continue; /* no visible key in the item */
          const double c = exp(pp[0] - M);
          z += c * pp[1], mun += c * pp[2], deln += c * pp[3];
          for (int64_t e = 0; e < 5 * D; ++e) S[e] += c * pp[4 + e];
        }
        /* lse = M + log z, P = exp(S - lse): O = sum P v, mu = sum P Sd, Od = sum P (Sd - mu) v + P vd,
           Delta = dO.O = sum P dP, dQ = s sum P (dP - Delta) k; no visible key: zeros, lse = -inf */
        const double lse = z > 0 ? M + log(z) : -INFINITY, iz = z > 0 ? 1.0 / z : 0.0;
        const double mu = mun * iz, delta = deln * iz;
        const double *O = S, *A = O + D, *Vd = A + D, *KP = Vd + D, *KPdp = KP + D;
        const double *got = qgot + (size_t)r * (size_t)APP_QW(D);
        for (int64_t d = 0; d < D; ++d) {
          const double o = O[d] * iz;
          cmp(acc, APP_O, got[d], o);
          cmp(acc, APP_OD, got[D + d], A[d] * iz - mu * o + Vd[d] * iz);
          cmp(acc, APP_DQ, got[2 * D + d], scale * (KPdp[d] * iz - delta * KP[d] * iz));
          cmp(acc, APP_OF, got[3 * D + 2 + d], o);
        }
        cmp(acc, APP_LSE, got[3 * D], lse);
        cmp(acc, APP_MU, got[3 * D + 1], mu);
        cmp(acc, APP_LSEF, got[4 * D + 2], lse);
        row_end(acc);
      } else {
        const double *got = kgot + (size_t)r * (size_t)APP_KW(D);
        for (int64_t d = 0; d < 2 * D; ++d) {
          double sum = 0;
          for (int64_t t = first[r]; t < first[r + 1]; ++t) sum += part[t * 2 * D + d];
          cmp(acc, d < D ? APP_DK : APP_DV, got[d], sum);
        }
        row_end(acc);
      }
    }
  }
  free(items);
  free(first);
  free(jobs);
  free(tid);
  free(part);
  free(S);
  return fail ? -1 : 0;
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
    out[o] = NULL;
    if (o == APP_OF || o == APP_LSEF) continue; /* the plain forward's: compared with the JVP's reference O, lse */
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
      cmp(acc, APP_OF, g[3 * D + 2 + d], out[APP_O][r * D + d]);
    }
    cmp(acc, APP_LSE, g[3 * D], out[APP_LSE][r]);
    cmp(acc, APP_MU, g[3 * D + 1], out[APP_MU][r]);
    cmp(acc, APP_LSEF, g[4 * D + 2], out[APP_LSE][r]);
    row_end(acc);
  }
  for (int64_t r = 0; !rc && r < s->nk; ++r) {
    const double *g = kgot + (size_t)r * (size_t)APP_KW(D);
    for (int64_t d = 0; d < D; ++d) {
      cmp(acc, APP_DK, g[d], out[APP_DK][r * D + d]);
      cmp(acc, APP_DV, g[D + d], out[APP_DV][r * D + d]);
    }
    row_end(acc);
  }
  for (int t = 0; t < APP_T_N; ++t) free(x[t]);
  for (int o = 0; o < APP_NOUT; ++o) free(out[o]);
  return rc;
}

void app_check(const app_problem_t *p, const app_sample_t *s, const double *qgot, const double *kgot,
               const double *stats_lse, const double *stats_delta, int threads, app_check_result_t *res) {
  const double t0 = app_now();
  acc_t a;
  memset(&a, 0, sizeof a);
  int fail;
  if (s->full) {
    fail = check_full_ref64(p, s, qgot, kgot, &a);
    if (fail) fprintf(stderr, "app_check: the reference failed (out of memory, or ref64 refused the problem)\n");
  } else {
    fail = !stats_lse || !stats_delta ||
           check_rows(p, s, qgot, kgot, stats_lse, stats_delta, threads < 1 ? 1 : threads, &a);
    if (fail) fprintf(stderr, "app_check: out of memory or an internal inconsistency; every error set to NaN\n");
  }
  res->unchecked = fail;
  for (int o = 0; o < APP_NOUT; ++o) {
    res->err[o] = fail || a.bad[o] ? NAN : a.sr[o] > 0 ? sqrt(a.se[o] / a.sr[o]) : sqrt(a.se[o]);
    /* the worst row's error against the rows' RMS norm: one wrong row among many is not diluted */
    const double rms_row = a.rows[o] ? sqrt(a.sr[o] / (double)a.rows[o]) : 0.0;
    res->row_err[o] = fail || a.bad[o] ? NAN : rms_row > 0 ? sqrt(a.row_max[o]) / rms_row : sqrt(a.row_max[o]);
  }
  res->seconds = app_now() - t0;
}

int app_check_report(const app_check_result_t *res, const app_sample_t *s, double tol) {
  if (res->unchecked) {
    printf("  check: NOT RUN: its float64 reference could not be computed (out of memory; fewer --threads or "
           "--check sample)\n");
    fflush(stdout);
    return -1;
  }
  int pass = 1;
  const double stat_tol = tol < APP_STAT_TOL ? tol : APP_STAT_TOL;
  printf("  check: %s%lld query rows and %lld key rows against %s, %.2f s (tolerance %.0e, lse and mu %.0e)\n",
         s->full ? "all " : "sampled ", (long long)s->nq, (long long)s->nk,
         s->full ? "jfa_ref64 (naive float64, tests/common)" : "a naive float64 row reference", res->seconds, tol,
         stat_tol);
  for (int o = 0; o < APP_NOUT; ++o) {
    const double t = (o == APP_LSE || o == APP_MU || o == APP_LSEF) ? stat_tol : tol;
    const int ok = res->err[o] <= t && res->row_err[o] <= APP_ROW_TOL * t; /* NaN fails */
    pass &= ok;
    printf("    %-13s rel err %.3e  worst row %.3e  %s\n", app_out_name[o], res->err[o], res->row_err[o],
           ok ? "ok" : isnan(res->err[o]) ? "FAIL (NaN: unwritten, NaN or wrong inf)" : "FAIL");
  }
  fflush(stdout);
  return pass;
}

int app_check_exit(int pass) { return pass > 0 ? 0 : pass == 0 ? 1 : 2; }
