/*
 * test_cpu_scale.c - the softmax scale at its edges on the CPU backend:
 *  - an exact zero scale (JFA_PARAMS_SCALE_AS_GIVEN): uniform softmax over the
 *    visible keys, checked against the closed form (O = mean of the visible V,
 *    lse = log of their count, Sd = 0 so mu = 0 and Od = mean of the visible Vd,
 *    dQ = dK = 0, dV = P^T dO) and the naive reference; fully masked rows
 *    still give O = Od = 0, lse = -inf, mu = 0;
 *  - scale 0 without the flag is still 1/sqrt(D);
 *  - negative scales against the naive float64 reference (forward, JVP, backward);
 *  - |scale| = JFA_SCALE_MAX accepted with finite outputs, anything beyond
 *    (DBL_MAX included) refused with nothing written;
 *  - the ring (one rank) with a zero scale given by its config flags.
 * GQA, Nq != Nk, causal, windows; float64 and float32.
 *
 * Run: ctest --test-dir build -R test_cpu_scale   (JFA_TEST_SEED=<n> to repeat)
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test.h"
#include "jfa_ring.h"

static jfa_context_t *ctx;
enum { B = 2, HQ = 4, HKV = 2, NQ = 7, NK = 9, D = 5 };

typedef struct {
  tbuf_t q, k, v, qd, kd, vd, dout, o, lse, od, mu, dq, dk, dv;
} bufs_t;

static bufs_t make(jfa_dtype_t dt) {
  bufs_t b;
  b.q = tb_new(dt, 0, B, HQ, NQ, D), b.k = tb_new(dt, 1, B, HKV, NK, D), b.v = tb_new(dt, 0, B, HKV, NK, D);
  b.qd = tb_new(dt, 0, B, HQ, NQ, D), b.kd = tb_new(dt, 0, B, HKV, NK, D), b.vd = tb_new(dt, 1, B, HKV, NK, D);
  b.dout = tb_new(dt, 0, B, HQ, NQ, D);
  b.o = tb_new(dt, 0, B, HQ, NQ, D), b.lse = tb_new(dt, 0, B, HQ, NQ, 1), b.od = tb_new(dt, 1, B, HQ, NQ, D);
  b.mu = tb_new(dt, 0, B, HQ, NQ, 1), b.dq = tb_new(dt, 0, B, HQ, NQ, D), b.dk = tb_new(dt, 0, B, HKV, NK, D);
  b.dv = tb_new(dt, 1, B, HKV, NK, D);
  tbuf_t *in[] = {&b.q, &b.k, &b.v, &b.qd, &b.kd, &b.vd, &b.dout};
  for (int i = 0; i < 7; ++i) tb_random(in[i], 1.0);
  return b;
}
static void poison(bufs_t *b) {
  tbuf_t *out[] = {&b->o, &b->lse, &b->od, &b->mu, &b->dq, &b->dk, &b->dv};
  for (int i = 0; i < 7; ++i) tb_poison(out[i]);
}
static void fetch(bufs_t *b) {
  tbuf_t *out[] = {&b->o, &b->lse, &b->od, &b->mu, &b->dq, &b->dk, &b->dv};
  for (int i = 0; i < 7; ++i) tb_get(out[i]);
}
static jfa_status_t run_all(bufs_t *b, const jfa_attention_params_t *p) {
  jfa_status_t s = jfa_attention_forward_jvp(ctx, p, &b->q.t, &b->k.t, &b->v.t, &b->qd.t, &b->kd.t, &b->vd.t, &b->o.t,
                                             &b->lse.t, &b->od.t, &b->mu.t);
  if (s != JFA_SUCCESS) return s;
  return jfa_attention_backward(ctx, p, &b->q.t, &b->k.t, &b->v.t, &b->o.t, &b->lse.t, &b->dout.t, &b->dq.t, &b->dk.t,
                                &b->dv.t);
}

/* Compares every output with the naive reference of rp; returns the largest relative error. */
static double against_reference(bufs_t *b, const ref_problem_t *rp) {
  size_t nq = b->q.n, nk = b->k.n, ns = b->lse.n;
  double *o = malloc(nq * 8), *lse = malloc(ns * 8), *od = malloc(nq * 8), *mu = malloc(ns * 8);
  double *dq = malloc(nq * 8), *dk = malloc(nk * 8), *dv = malloc(nk * 8);
  ref_forward(rp, b->q.val, b->k.val, b->v.val, b->qd.val, b->kd.val, b->vd.val, o, lse, od, mu);
  ref_backward(rp, b->q.val, b->k.val, b->v.val, b->dout.val, dq, dk, dv);
  double e = 0;
  e = tu_worst(e, tu_rel_err(b->o.val, o, nq));
  e = tu_worst(e, tu_rel_err(b->lse.val, lse, ns));
  e = tu_worst(e, tu_rel_err(b->od.val, od, nq));
  e = tu_worst(e, tu_rel_err(b->mu.val, mu, ns));
  e = tu_worst(e, tu_rel_err(b->dq.val, dq, nq));
  e = tu_worst(e, tu_rel_err(b->dk.val, dk, nk));
  e = tu_worst(e, tu_rel_err(b->dv.val, dv, nk));
  free(o), free(lse), free(od), free(mu), free(dq), free(dk), free(dv);
  return e;
}

/* The closed form of a zero scale: for each row the visible keys share P = 1/n. */
static double zero_scale_error(bufs_t *b, const ref_problem_t *rp, int *bad_masked_rows) {
  double e = 0, n = 0;
  double *dv = calloc(b->k.n, sizeof(double));
  *bad_masked_rows = 0;
  for (int64_t bb = 0; bb < B; ++bb)
    for (int64_t h = 0; h < HQ; ++h) {
      const int64_t hk = h / (HQ / HKV);
      for (int64_t i = 0; i < NQ; ++i) {
        const int64_t r = (bb * HQ + h) * NQ + i;
        int cnt = 0;
        double mo[D] = {0}, mod[D] = {0};
        for (int64_t j = 0; j < NK; ++j)
          if (ref_visible(rp, bb, h, i, j)) {
            ++cnt;
            for (int d = 0; d < D; ++d) {
              mo[d] += b->v.val[((bb * HKV + hk) * NK + j) * D + d];
              mod[d] += b->vd.val[((bb * HKV + hk) * NK + j) * D + d];
            }
          }
        if (cnt == 0) {
          int ok = b->lse.val[r] == -INFINITY && b->mu.val[r] == 0.0;
          for (int d = 0; d < D; ++d) ok &= b->o.val[r * D + d] == 0.0 && b->od.val[r * D + d] == 0.0;
          *bad_masked_rows += !ok;
          continue;
        }
        for (int d = 0; d < D; ++d) {
          e += pow(b->o.val[r * D + d] - mo[d] / cnt, 2) + pow(b->od.val[r * D + d] - mod[d] / cnt, 2);
          n += pow(mo[d] / cnt, 2) + pow(mod[d] / cnt, 2);
          for (int64_t j = 0; j < NK; ++j)
            if (ref_visible(rp, bb, h, i, j))
              dv[((bb * HKV + hk) * NK + j) * D + d] += b->dout.val[r * D + d] / cnt;
        }
        e += pow(b->lse.val[r] - log((double)cnt), 2) + pow(b->mu.val[r], 2);
        n += pow(log((double)cnt), 2);
      }
    }
  double dqk = 0;
  for (size_t i = 0; i < b->dq.n; ++i) dqk = tu_worst(dqk, fabs(b->dq.val[i])); /* a NaN fails below */
  for (size_t i = 0; i < b->dk.n; ++i) dqk = tu_worst(dqk, fabs(b->dk.val[i]));
  double err = tu_worst(sqrt(e / n), tu_rel_err(b->dv.val, dv, b->dv.n));
  free(dv);
  return dqk == 0.0 ? err : INFINITY; /* dQ = s dS K and dK = s dS^T Q vanish exactly */
}

static void masks(jfa_attention_params_t *p, int which) {
  jfa_attention_params_init(p);
  if (which == 1) p->mask = JFA_MASK_CAUSAL_BOTTOM_RIGHT;
  if (which == 2) p->window_left = 2, p->window_right = 1;
  if (which == 3) p->mask = JFA_MASK_CAUSAL_POSITIONS, p->q_position = 0, p->k_position = 3; /* rows 0-2 masked */
}
static const char *mask_names[] = {"no mask", "causal bottom-right", "window (2, 1)", "causal, rows fully masked"};

int main(void) {
  tu_init_seed("test_cpu_scale");
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;
  char label[512];
  jfa_dtype_t dts[] = {JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT32};
  for (int di = 0; di < 2; ++di) {
    const jfa_dtype_t dt = dts[di];
    const double tol = dt == JFA_DTYPE_FLOAT64 ? 1e-12 : 2e-6;
    bufs_t b = make(dt);
    for (int m = 0; m < 4; ++m) {
      jfa_attention_params_t p;
      masks(&p, m);
      /* exact zero scale */
      p.scale = 0.0, p.flags = JFA_PARAMS_SCALE_AS_GIVEN;
      poison(&b);
      jfa_status_t s = run_all(&b, &p);
      fetch(&b);
      ref_problem_t rp = ref_problem(B, HQ, HKV, NQ, NK, D, &p);
      int bad_rows = 0;
      double e = s == JFA_SUCCESS ? zero_scale_error(&b, &rp, &bad_rows) : INFINITY;
      snprintf(label, sizeof label, "%s, %s, scale 0 as given: closed form (uniform P, mu = 0, dQ = dK = 0) %s",
               jfa_dtype_name(dt), mask_names[m], s ? jfa_get_last_error() : "");
      tu_check(label, e, tol);
      snprintf(label, sizeof label, "%s, %s, scale 0 as given: fully masked rows O = Od = 0, lse = -inf, mu = 0",
               jfa_dtype_name(dt), mask_names[m]);
      tu_expect(label, bad_rows == 0);
      snprintf(label, sizeof label, "%s, %s, scale 0 as given: naive reference (rp.scale = %g)", jfa_dtype_name(dt),
               mask_names[m], rp.scale);
      tu_check(label, rp.scale == 0.0 ? against_reference(&b, &rp) : INFINITY, tol);
      /* scale 0 without the flag: 1/sqrt(D) */
      p.flags = 0;
      poison(&b);
      s = run_all(&b, &p);
      fetch(&b);
      rp = ref_problem(B, HQ, HKV, NQ, NK, D, &p);
      snprintf(label, sizeof label, "%s, %s, scale 0 without the flag is 1/sqrt(D)", jfa_dtype_name(dt),
               mask_names[m]);
      tu_check(label, s == JFA_SUCCESS && fabs(rp.scale - 1.0 / sqrt((double)D)) < 1e-15 ? against_reference(&b, &rp)
                                                                                          : INFINITY,
               tol);
      /* negative scales, with and without the flag */
      const double negs[] = {-0.8, -3.0};
      for (int k = 0; k < 2; ++k) {
        p.scale = negs[k], p.flags = k ? JFA_PARAMS_SCALE_AS_GIVEN : 0;
        poison(&b);
        s = run_all(&b, &p);
        fetch(&b);
        rp = ref_problem(B, HQ, HKV, NQ, NK, D, &p);
        snprintf(label, sizeof label, "%s, %s, scale %g: naive reference (forward, JVP, backward) %s",
                 jfa_dtype_name(dt), mask_names[m], negs[k], s ? jfa_get_last_error() : "");
        tu_check(label, s == JFA_SUCCESS ? against_reference(&b, &rp) : INFINITY, tol * 10);
      }
    }
    /* the largest scales: JFA_SCALE_MAX accepted, finite; beyond refused, nothing written */
    const double big[] = {JFA_SCALE_MAX, -JFA_SCALE_MAX};
    for (int k = 0; k < 2; ++k) {
      jfa_attention_params_t p;
      masks(&p, 1);
      p.scale = big[k];
      poison(&b);
      jfa_status_t s = run_all(&b, &p);
      fetch(&b);
      size_t nan = tu_count_nan(b.o.val, b.o.n) + tu_count_nan(b.od.val, b.od.n) + tu_count_nan(b.lse.val, b.lse.n) +
                   tu_count_nan(b.mu.val, b.mu.n) + tu_count_nan(b.dq.val, b.dq.n) + tu_count_nan(b.dv.val, b.dv.n);
      snprintf(label, sizeof label, "%s, scale %g (JFA_SCALE_MAX): success, no NaN (%zu)", jfa_dtype_name(dt), big[k],
               nan);
      tu_expect(label, s == JFA_SUCCESS && nan == 0);
      if (dt == JFA_DTYPE_FLOAT64) { /* a hard max: O is V at each row's arg max */
        ref_problem_t rp = ref_problem(B, HQ, HKV, NQ, NK, D, &p);
        double *o = malloc(b.o.n * 8), *lse = malloc(b.lse.n * 8);
        ref_forward(&rp, b.q.val, b.k.val, b.v.val, NULL, NULL, NULL, o, lse, NULL, NULL);
        snprintf(label, sizeof label, "float64, scale %g: O and lse match the reference", big[k]);
        tu_check(label, tu_worst(tu_rel_err(b.o.val, o, b.o.n), tu_rel_err(b.lse.val, lse, b.lse.n)), 1e-6);
        free(o), free(lse);
      }
    }
    const double huge[] = {DBL_MAX, -DBL_MAX, JFA_SCALE_MAX * (1 + DBL_EPSILON), 1e300};
    for (int k = 0; k < 4; ++k) {
      jfa_attention_params_t p;
      masks(&p, 0);
      p.scale = huge[k];
      poison(&b);
      jfa_status_t s = run_all(&b, &p);
      fetch(&b);
      size_t nan = tu_count_nan(b.o.val, b.o.n) + tu_count_nan(b.lse.val, b.lse.n);
      snprintf(label, sizeof label, "%s, scale %g: JFA_ERROR_INVALID_ARGUMENT naming params->scale, nothing written (%s)",
               jfa_dtype_name(dt), huge[k], jfa_get_last_error());
      tu_expect(label, s == JFA_ERROR_INVALID_ARGUMENT && strstr(jfa_get_last_error(), "params->scale") &&
                           nan == b.o.n + b.lse.n);
    }
    if (dt == JFA_DTYPE_FLOAT64) { /* the ring of one rank, zero scale from its config flags */
      jfa_comm_t *comm = NULL;
      jfa_ring_t *ring = NULL;
      jfa_ring_config_t cfg;
      jfa_ring_config_init(&cfg);
      cfg.batch = B, cfg.heads_q = HQ, cfg.heads_kv = HKV, cfg.seq_global = NK, cfg.head_dim = D;
      cfg.dtype = dt, cfg.mask = JFA_MASK_CAUSAL_TOP_LEFT, cfg.scale = 0.0, cfg.flags = JFA_PARAMS_SCALE_AS_GIVEN;
      tbuf_t rq = tb_new(dt, 0, B, HQ, NK, D), ro = tb_new(dt, 0, B, HQ, NK, D), rl = tb_new(dt, 0, B, HQ, NK, 1);
      tb_random(&rq, 1.0);
      tb_poison(&ro), tb_poison(&rl);
      jfa_status_t s = jfa_comm_create_single(&comm);
      if (s == JFA_SUCCESS) s = jfa_ring_create(&ring, ctx, comm, &cfg);
      if (s == JFA_SUCCESS) s = jfa_ring_forward(ring, &rq.t, &b.k.t, &b.v.t, &ro.t, &rl.t);
      tb_get(&ro), tb_get(&rl);
      jfa_attention_params_t p;
      masks(&p, 0);
      p.mask = JFA_MASK_CAUSAL_TOP_LEFT, p.scale = 0.0, p.flags = JFA_PARAMS_SCALE_AS_GIVEN;
      ref_problem_t rp = ref_problem(B, HQ, HKV, NK, NK, D, &p);
      double *o = malloc(ro.n * 8), *lse = malloc(rl.n * 8);
      ref_forward(&rp, rq.val, b.k.val, b.v.val, NULL, NULL, NULL, o, lse, NULL, NULL);
      snprintf(label, sizeof label, "ring (one rank), config.flags = JFA_PARAMS_SCALE_AS_GIVEN, scale 0 %s",
               s ? jfa_get_last_error() : "");
      tu_check(label, s == JFA_SUCCESS ? tu_worst(tu_rel_err(ro.val, o, ro.n), tu_rel_err(rl.val, lse, rl.n)) : INFINITY,
               1e-12);
      jfa_ring_destroy(ring);
      ring = NULL;
      cfg.scale = DBL_MAX;
      s = jfa_ring_create(&ring, ctx, comm, &cfg);
      snprintf(label, sizeof label, "ring config scale DBL_MAX refused (%s)", jfa_get_last_error());
      tu_expect(label, s == JFA_ERROR_INVALID_ARGUMENT && !ring && strstr(jfa_get_last_error(), "config.scale"));
      free(o), free(lse);
      tb_free(&rq), tb_free(&ro), tb_free(&rl);
      jfa_comm_destroy(comm);
    }
  }
  jfa_context_destroy(ctx);
  return tu_finish();
}
