/*
 * test_cpu_ref64.c - the independent float64 reference (tests/common/ref64.h),
 * which the ring, merge and stride tests use, checked without the library:
 *   - it agrees with the other naive reference of the tests (cpu_test.c) on every
 *     mask kind (windows, positions, both causal alignments with Nq != Nk, packed
 *     sequences, dense boolean and additive masks), GQA, fully masked rows;
 *   - its JVP (Od, mu) equals central finite differences of its forward (O, lse);
 *   - its backward satisfies the adjoint identity <dO, Od> = <dQ, Qd> + <dK, Kd> + <dV, Vd>;
 *   - its backward from given (O, lse) equals the one from its own statistics;
 *   - its merge of two key halves equals its forward over all keys.
 *
 * Run: ctest --test-dir build -R test_cpu_ref64   (JFA_TEST_SEED=<n> to repeat)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test.h"
#include "ref64.h"

typedef struct {
  const char *name;
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_mask_t mask;
  int64_t wl, wr, qpos, kpos;
  int64_t nseq;
  const int64_t *cu_q, *cu_k;
  int dense; /* 0 none, 1 bool, 2 additive (float64) */
} rcase_t;

static tbuf_t f64(int64_t B, int64_t H, int64_t S, int64_t D) { return tb_new(JFA_DTYPE_FLOAT64, 0, B, H, S, D); }

/* x + t * xd into out (values and storage). */
static void axpy(tbuf_t *out, const tbuf_t *x, const tbuf_t *xd, double t) {
  double *y = (double *)malloc(x->n * sizeof(double));
  for (size_t i = 0; i < x->n; ++i) y[i] = x->val[i] + t * xd->val[i];
  tb_set(out, y);
  free(y);
}

static void run_case(const rcase_t *c) {
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Nq = c->Nq, Nk = c->Nk, D = c->D;
  char label[300];
  tbuf_t q = f64(B, Hq, Nq, D), k = f64(B, Hkv, Nk, D), v = f64(B, Hkv, Nk, D), qd = f64(B, Hq, Nq, D),
         kd = f64(B, Hkv, Nk, D), vd = f64(B, Hkv, Nk, D), dout = f64(B, Hq, Nq, D);
  tbuf_t *ins[7] = {&q, &k, &v, &qd, &kd, &vd, &dout};
  for (int i = 0; i < 7; ++i) tb_random(ins[i], 1.0);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.window_left = c->wl, prm.window_right = c->wr;
  prm.q_position = c->qpos, prm.k_position = c->kpos;
  if (c->nseq) prm.cu_seqlens_q = c->cu_q, prm.cu_seqlens_k = c->cu_k, prm.num_seqs = c->nseq;
  tbuf_t mask;
  memset(&mask, 0, sizeof mask);
  if (c->dense) {
    mask = tb_new(c->dense == 1 ? JFA_DTYPE_BOOL : JFA_DTYPE_FLOAT64, 0, 1, Hq, Nq, Nk);
    double *x = (double *)malloc(mask.n * sizeof(double));
    for (size_t i = 0; i < mask.n; ++i) {
      double u = tu_uniform();
      x[i] = c->dense == 1 ? (u < 0.6) : (u < 0.2 ? -INFINITY : tu_normal());
    }
    tb_set(&mask, x);
    free(x);
    prm.attn_mask = &mask.t;
  }

  /* ref64 */
  tbuf_t o = f64(B, Hq, Nq, D), lse = f64(B, Hq, Nq, 1), od = f64(B, Hq, Nq, D), mu = f64(B, Hq, Nq, 1),
         dq = f64(B, Hq, Nq, D), dk = f64(B, Hkv, Nk, D), dv = f64(B, Hkv, Nk, D);
  int ok = ref64_forward_jvp(&prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t) == 0 &&
           ref64_backward(&prm, &q.t, &k.t, &v.t, NULL, NULL, &dout.t, &dq.t, &dk.t, &dv.t) == 0;
  snprintf(label, sizeof label, "%s: ref64 runs", c->name);
  tu_expect(label, ok);
  tbuf_t *outs[7] = {&o, &lse, &od, &mu, &dq, &dk, &dv};
  for (int i = 0; i < 7; ++i) tb_get(outs[i]);

  /* the other naive reference (cpu_test.c) */
  {
    ref_problem_t rp = ref_problem(B, Hq, Hkv, Nq, Nk, D, &prm);
    double *bias = c->dense ? ref_dense_bias(&mask.t, B, Hq, Nq, Nk) : NULL;
    rp.bias = bias;
    size_t n[7] = {o.n, lse.n, od.n, mu.n, dq.n, dk.n, dv.n};
    double *r[7];
    for (int i = 0; i < 7; ++i) r[i] = (double *)malloc(n[i] * sizeof(double));
    ref_forward(&rp, q.val, k.val, v.val, qd.val, kd.val, vd.val, r[0], r[1], r[2], r[3]);
    ref_backward(&rp, q.val, k.val, v.val, dout.val, r[4], r[5], r[6]);
    const char *names[7] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV"};
    for (int i = 0; i < 7; ++i) {
      snprintf(label, sizeof label, "%s: ref64 %s == cpu_test reference", c->name, names[i]);
      tu_check(label, tu_rel_err(outs[i]->val, r[i], n[i]), 1e-13);
      free(r[i]);
    }
    free(bias);
  }

  /* JVP by central differences of the forward: (f(x + h xd) - f(x - h xd)) / 2h */
  {
    const double h = 1e-5;
    tbuf_t xp[3] = {f64(B, Hq, Nq, D), f64(B, Hkv, Nk, D), f64(B, Hkv, Nk, D)};
    tbuf_t op[2] = {f64(B, Hq, Nq, D), f64(B, Hq, Nq, D)}, lp[2] = {f64(B, Hq, Nq, 1), f64(B, Hq, Nq, 1)};
    for (int s = 0; s < 2; ++s) {
      double t = s ? -h : h;
      axpy(&xp[0], &q, &qd, t), axpy(&xp[1], &k, &kd, t), axpy(&xp[2], &v, &vd, t);
      ok &= ref64_forward(&prm, &xp[0].t, &xp[1].t, &xp[2].t, &op[s].t, &lp[s].t) == 0;
      tb_get(&op[s]), tb_get(&lp[s]);
    }
    double *fo = (double *)malloc(o.n * sizeof(double)), *fl = (double *)malloc(lse.n * sizeof(double));
    for (size_t i = 0; i < o.n; ++i) fo[i] = (op[0].val[i] - op[1].val[i]) / (2 * h);
    for (size_t i = 0; i < lse.n; ++i) /* a fully masked row: lse = -inf on both sides, mu = 0 */
      fl[i] = lse.val[i] == -INFINITY ? 0.0 : (lp[0].val[i] - lp[1].val[i]) / (2 * h);
    snprintf(label, sizeof label, "%s: Od == central difference of O", c->name);
    tu_check(label, tu_rel_err(fo, od.val, od.n), 1e-7);
    snprintf(label, sizeof label, "%s: mu == central difference of lse", c->name);
    tu_check(label, tu_rel_err(fl, mu.val, mu.n), 1e-7);
    free(fo), free(fl);
    for (int i = 0; i < 3; ++i) tb_free(&xp[i]);
    for (int s = 0; s < 2; ++s) tb_free(&op[s]), tb_free(&lp[s]);
  }

  /* adjoint identity */
  {
    double lhs = dot_n(dout.val, od.val, od.n);
    double rhs = dot_n(dq.val, qd.val, qd.n) + dot_n(dk.val, kd.val, kd.n) + dot_n(dv.val, vd.val, vd.n);
    snprintf(label, sizeof label, "%s: <dO, Od> == <dQ, Qd> + <dK, Kd> + <dV, Vd> (%.6g vs %.6g)", c->name, lhs, rhs);
    tu_check(label, fabs(lhs - rhs) / (fabs(lhs) + fabs(rhs) + 1e-300), 1e-12);
  }

  /* backward from the given statistics */
  {
    tbuf_t g[3] = {f64(B, Hq, Nq, D), f64(B, Hkv, Nk, D), f64(B, Hkv, Nk, D)};
    ok &= ref64_backward(&prm, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &g[0].t, &g[1].t, &g[2].t) == 0;
    double e = 0.0;
    for (int i = 0; i < 3; ++i) {
      tb_get(&g[i]);
      e = tu_worst(e, tu_rel_err(g[i].val, outs[4 + i]->val, g[i].n));
      tb_free(&g[i]);
    }
    snprintf(label, sizeof label, "%s: backward from given O, lse == from its own", c->name);
    tu_check(label, e, 1e-14);
  }

  /* merge of two key halves (structural masks at explicit positions; not with packed or dense masks) */
  if (!c->nseq && !c->dense && c->mask != JFA_MASK_CAUSAL_POSITIONS && c->mask != JFA_MASK_POSITIONS) {
    const int64_t cut = Nk / 3, qp = c->mask == JFA_MASK_CAUSAL_BOTTOM_RIGHT ? Nk - Nq : 0;
    tbuf_t po[2], pl[2], pod[2], pm[2];
    for (int s = 0; s < 2; ++s) {
      int64_t j0 = s ? cut : 0, n = s ? Nk - cut : cut;
      jfa_attention_params_t bp = prm;
      bp.mask = c->mask == JFA_MASK_NONE ? JFA_MASK_POSITIONS : JFA_MASK_CAUSAL_POSITIONS;
      bp.q_position = qp, bp.k_position = j0;
      jfa_tensor_t ks[4];
      const tbuf_t *kv[4] = {&k, &v, &kd, &vd};
      for (int i = 0; i < 4; ++i) {
        ks[i] = kv[i]->t;
        ks[i].data = (double *)kv[i]->t.data + j0 * kv[i]->t.stride[2];
        ks[i].shape[2] = n;
      }
      po[s] = f64(B, Hq, Nq, D), pl[s] = f64(B, Hq, Nq, 1), pod[s] = f64(B, Hq, Nq, D), pm[s] = f64(B, Hq, Nq, 1);
      ok &= ref64_forward_jvp(&bp, &q.t, &ks[0], &ks[1], &qd.t, &ks[2], &ks[3], &po[s].t, &pl[s].t, &pod[s].t,
                              &pm[s].t) == 0;
    }
    tbuf_t mo = f64(B, Hq, Nq, D), ml = f64(B, Hq, Nq, 1), mod = f64(B, Hq, Nq, D), mm = f64(B, Hq, Nq, 1);
    const jfa_tensor_t *a[2] = {&po[0].t, &po[1].t}, *b[2] = {&pl[0].t, &pl[1].t}, *cc[2] = {&pod[0].t, &pod[1].t},
                       *d[2] = {&pm[0].t, &pm[1].t};
    ok &= ref64_merge(2, a, b, cc, d, &mo.t, &ml.t, &mod.t, &mm.t) == 0;
    tbuf_t *m[4] = {&mo, &ml, &mod, &mm};
    double e = 0.0;
    for (int i = 0; i < 4; ++i) {
      tb_get(m[i]);
      e = tu_worst(e, tu_rel_err(m[i]->val, outs[i]->val, m[i]->n));
      tb_free(m[i]);
    }
    snprintf(label, sizeof label, "%s: merge of two key blocks == all keys (O, lse, Od, mu)", c->name);
    tu_check(label, e, 1e-13);
    for (int s = 0; s < 2; ++s) tb_free(&po[s]), tb_free(&pl[s]), tb_free(&pod[s]), tb_free(&pm[s]);
  }
  snprintf(label, sizeof label, "%s: every ref64 call succeeds", c->name);
  tu_expect(label, ok);

  for (int i = 0; i < 7; ++i) tb_free(ins[i]), tb_free(outs[i]);
  if (c->dense) tb_free(&mask);
}

int main(void) {
  tu_init_seed("test_cpu_ref64");
  static const int64_t cu_q[] = {0, 1, 8, 8, 20}, cu_k[] = {0, 3, 5, 9, 23};
  const rcase_t cases[] = {
      {"plain GQA", 2, 4, 2, 9, 11, 5, JFA_MASK_NONE, -1, -1, 0, 0, 0, NULL, NULL, 0},
      {"causal top-left Nq<Nk", 1, 3, 1, 7, 12, 4, JFA_MASK_CAUSAL_TOP_LEFT, -1, -1, 0, 0, 0, NULL, NULL, 0},
      {"causal bottom-right Nq>Nk", 1, 2, 2, 12, 8, 3, JFA_MASK_CAUSAL_BOTTOM_RIGHT, -1, -1, 0, 0, 0, NULL, NULL, 0},
      {"causal window(3,0)", 2, 2, 1, 10, 10, 6, JFA_MASK_CAUSAL_TOP_LEFT, 3, 0, 0, 0, 0, NULL, NULL, 0},
      {"window(1,2)", 1, 4, 2, 10, 13, 3, JFA_MASK_NONE, 1, 2, 0, 0, 0, NULL, NULL, 0},
      {"causal positions", 1, 2, 1, 6, 9, 4, JFA_MASK_CAUSAL_POSITIONS, -1, -1, 7, 2, 0, NULL, NULL, 0},
      {"positions window(0,3)", 1, 2, 2, 8, 8, 4, JFA_MASK_POSITIONS, 0, 3, 4, 1, 0, NULL, NULL, 0},
      {"packed causal bottom-right", 1, 4, 2, 20, 23, 5, JFA_MASK_CAUSAL_BOTTOM_RIGHT, -1, -1, 0, 0, 4, cu_q, cu_k, 0},
      {"packed top-left window(2,1)", 1, 2, 1, 20, 23, 4, JFA_MASK_CAUSAL_TOP_LEFT, 2, 1, 0, 0, 4, cu_q, cu_k, 0},
      {"dense bool", 2, 4, 2, 7, 9, 4, JFA_MASK_NONE, -1, -1, 0, 0, 0, NULL, NULL, 1},
      {"dense additive causal", 1, 2, 1, 8, 8, 3, JFA_MASK_CAUSAL_TOP_LEFT, -1, -1, 0, 0, 0, NULL, NULL, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) run_case(&cases[i]);
  return tu_finish();
}
