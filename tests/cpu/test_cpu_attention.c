/*
 * test_cpu_attention.c - the CPU backend's forward, JVP and backward against the
 * naive float64 reference of cpu_test.c, over odd shapes (N = 1, 7, 129, 1000;
 * D = 1, 3, 64, 80, 128), Nq != Nk, all causal alignments and explicit positions,
 * GQA 8:1 and MQA, BHSD and BSHD storage (identical results), float32 against
 * float64, and fully masked rows (O = Od = 0, lse = -inf, mu = 0, zero gradients).
 * Every output is poisoned first and checked to be fully written.
 *
 * Run: ctest --test-dir build -R test_cpu_attention   (JFA_TEST_SEED=<n> to repeat)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test.h"

static jfa_context_t *ctx;

typedef struct {
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_attention_params_t params;
} shape_t;

/* All outputs of one run, as contiguous BHSD doubles. */
typedef struct {
  double *o, *lse, *od, *mu, *dq, *dk, *dv;
} results_t;

static void results_free(results_t *r) {
  free(r->o), free(r->lse), free(r->od), free(r->mu), free(r->dq), free(r->dk), free(r->dv);
}

static double *copy_vals(const tbuf_t *b) {
  double *x = (double *)malloc(b->n * sizeof(double));
  memcpy(x, b->val, b->n * sizeof(double));
  return x;
}

/*
 * Runs forward_jvp, forward and backward through the public API on inputs `in`
 * (q, k, v, qd, kd, vd, dout values), storing them in a dtype and layout.
 * Returns 0 if a call failed or an output kept poison (reported as failures).
 */
static int run_api(const char *name, const shape_t *s, double *const in[7], jfa_dtype_t dtype, int bshd,
                   results_t *res) {
  jfa_dtype_t sdt = dtype; /* statistics in the same precision */
  int64_t B = s->B, Hq = s->Hq, Hkv = s->Hkv, Nq = s->Nq, Nk = s->Nk, D = s->D;
  tbuf_t q = tb_new(dtype, bshd, B, Hq, Nq, D), k = tb_new(dtype, bshd, B, Hkv, Nk, D),
         v = tb_new(dtype, bshd, B, Hkv, Nk, D), qd = tb_new(dtype, bshd, B, Hq, Nq, D),
         kd = tb_new(dtype, bshd, B, Hkv, Nk, D), vd = tb_new(dtype, bshd, B, Hkv, Nk, D),
         dout = tb_new(dtype, bshd, B, Hq, Nq, D);
  tbuf_t o = tb_new(dtype, bshd, B, Hq, Nq, D), od = tb_new(dtype, bshd, B, Hq, Nq, D),
         lse = tb_new(sdt, 0, B, Hq, Nq, 1), mu = tb_new(sdt, 0, B, Hq, Nq, 1),
         o2 = tb_new(dtype, bshd, B, Hq, Nq, D), lse2 = tb_new(sdt, 0, B, Hq, Nq, 1),
         dq = tb_new(dtype, bshd, B, Hq, Nq, D), dk = tb_new(dtype, bshd, B, Hkv, Nk, D),
         dv = tb_new(dtype, bshd, B, Hkv, Nk, D);
  tbuf_t *ins[7] = {&q, &k, &v, &qd, &kd, &vd, &dout};
  for (int i = 0; i < 7; ++i) tb_set(ins[i], in[i]);
  char label[256];
  int ok = 1;
  jfa_status_t st = jfa_attention_forward_jvp(ctx, &s->params, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t,
                                              &od.t, &mu.t);
  snprintf(label, sizeof label, "%s: forward_jvp status (%s)", name, st ? jfa_get_last_error() : "ok");
  ok &= tu_expect(label, st == JFA_SUCCESS);
  st = jfa_attention_forward(ctx, &s->params, &q.t, &k.t, &v.t, &o2.t, &lse2.t);
  snprintf(label, sizeof label, "%s: forward status (%s)", name, st ? jfa_get_last_error() : "ok");
  ok &= tu_expect(label, st == JFA_SUCCESS);
  st = jfa_attention_backward(ctx, &s->params, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &dq.t, &dk.t, &dv.t);
  snprintf(label, sizeof label, "%s: backward status (%s)", name, st ? jfa_get_last_error() : "ok");
  ok &= tu_expect(label, st == JFA_SUCCESS);

  tbuf_t *outs[9] = {&o, &lse, &od, &mu, &o2, &lse2, &dq, &dk, &dv};
  size_t nan = 0;
  for (int i = 0; i < 9; ++i) {
    tb_get(outs[i]);
    nan += tu_count_nan(outs[i]->val, outs[i]->n);
  }
  snprintf(label, sizeof label, "%s: every output element written, no NaN (%zu left)", name, nan);
  ok &= tu_expect(label, nan == 0);
  /* the forward alone equals the forward of the fused call */
  snprintf(label, sizeof label, "%s: forward == forward_jvp (O, lse)", name);
  ok &= tu_check(label, tu_worst(tu_rel_err(o2.val, o.val, o.n), tu_rel_err(lse2.val, lse.val, lse.n)), 0.0);

  res->o = copy_vals(&o), res->lse = copy_vals(&lse), res->od = copy_vals(&od), res->mu = copy_vals(&mu);
  res->dq = copy_vals(&dq), res->dk = copy_vals(&dk), res->dv = copy_vals(&dv);
  for (int i = 0; i < 7; ++i) tb_free(ins[i]);
  for (int i = 0; i < 9; ++i) tb_free(outs[i]);
  return ok;
}

/* Random inputs of a shape, rounded to a dtype (so every dtype sees the same values). */
static void make_inputs(const shape_t *s, jfa_dtype_t round_to, double *in[7]) {
  size_t nq = (size_t)(s->B * s->Hq * s->Nq * s->D), nk = (size_t)(s->B * s->Hkv * s->Nk * s->D);
  size_t n[7] = {nq, nk, nk, nq, nk, nk, nq};
  for (int i = 0; i < 7; ++i) {
    in[i] = (double *)malloc(n[i] * sizeof(double));
    tu_fill_normal(in[i], n[i], 1.0);
    for (size_t j = 0; j < n[i]; ++j) in[i][j] = tu_round(in[i][j], round_to);
  }
}

/* Checks the defined values of fully masked rows and of never-visible keys. */
static void check_masked(const char *name, const shape_t *s, const ref_problem_t *rp, const results_t *r) {
  if (!rp->causal) return;
  int64_t D = s->D, rows = 0, keys = 0;
  int ok = 1;
  for (int64_t bh = 0; bh < s->B * s->Hq; ++bh)
    for (int64_t i = 0; i < s->Nq; ++i) {
      if (rp->k_pos0 <= rp->q_pos0 + i) continue; /* key 0 is visible */
      size_t row = (size_t)(bh * s->Nq + i);
      ++rows;
      ok &= r->lse[row] == -INFINITY && r->mu[row] == 0.0;
      for (int64_t d = 0; d < D; ++d)
        ok &= r->o[row * D + d] == 0.0 && r->od[row * D + d] == 0.0 && r->dq[row * D + d] == 0.0;
    }
  for (int64_t bh = 0; bh < s->B * s->Hkv; ++bh)
    for (int64_t j = 0; j < s->Nk; ++j) {
      if (rp->k_pos0 + j <= rp->q_pos0 + s->Nq - 1) continue; /* seen by the last query */
      size_t row = (size_t)(bh * s->Nk + j);
      ++keys;
      for (int64_t d = 0; d < D; ++d) ok &= r->dk[row * D + d] == 0.0 && r->dv[row * D + d] == 0.0;
    }
  if (rows == 0 && keys == 0) return;
  char label[512];
  snprintf(label, sizeof label, "%s: %lld fully masked rows give O=Od=0, lse=-inf, mu=0, dQ=0; %lld unseen keys dK=dV=0",
           name, (long long)rows, (long long)keys);
  tu_expect(label, ok);
}

/* One case against the naive reference. */
static void check_case(const char *name, shape_t s, jfa_dtype_t dtype, int bshd, double tol) {
  double *in[7];
  make_inputs(&s, dtype, in);
  ref_problem_t rp = ref_problem(s.B, s.Hq, s.Hkv, s.Nq, s.Nk, s.D, &s.params);
  size_t nq = (size_t)(s.B * s.Hq * s.Nq * s.D), nk = (size_t)(s.B * s.Hkv * s.Nk * s.D),
         ns = (size_t)(s.B * s.Hq * s.Nq);
  results_t ref = {malloc(nq * 8), malloc(ns * 8), malloc(nq * 8), malloc(ns * 8), malloc(nq * 8), malloc(nk * 8),
                   malloc(nk * 8)};
  ref_forward(&rp, in[0], in[1], in[2], in[3], in[4], in[5], ref.o, ref.lse, ref.od, ref.mu);
  ref_backward(&rp, in[0], in[1], in[2], in[6], ref.dq, ref.dk, ref.dv);
  results_t got;
  char full[200], label[300];
  snprintf(full, sizeof full, "%s [%s %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld]", name,
           dtype == JFA_DTYPE_FLOAT64 ? "f64" : "f32", bshd ? "BSHD" : "BHSD", (long long)s.B, (long long)s.Hq,
           (long long)s.Hkv, (long long)s.Nq, (long long)s.Nk, (long long)s.D);
  run_api(full, &s, in, dtype, bshd, &got);
  const char *names[7] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV"};
  double *g[7] = {got.o, got.lse, got.od, got.mu, got.dq, got.dk, got.dv};
  double *r[7] = {ref.o, ref.lse, ref.od, ref.mu, ref.dq, ref.dk, ref.dv};
  size_t n[7] = {nq, ns, nq, ns, nq, nk, nk};
  for (int i = 0; i < 7; ++i) {
    snprintf(label, sizeof label, "%s: %s vs naive", full, names[i]);
    tu_check(label, tu_rel_err(g[i], r[i], n[i]), tol);
  }
  check_masked(full, &s, &rp, &got);
  results_free(&got);
  results_free(&ref);
  for (int i = 0; i < 7; ++i) free(in[i]);
}

/* The same values through two configurations (dtype or layout) must agree within tol. */
static void check_pair(const char *name, shape_t s, jfa_dtype_t dt_a, int bshd_a, jfa_dtype_t dt_b, int bshd_b,
                       double tol) {
  double *in[7];
  make_inputs(&s, JFA_DTYPE_FLOAT32, in); /* representable in both dtypes */
  results_t a, b;
  char label[300];
  run_api(name, &s, in, dt_a, bshd_a, &a);
  run_api(name, &s, in, dt_b, bshd_b, &b);
  size_t nq = (size_t)(s.B * s.Hq * s.Nq * s.D), nk = (size_t)(s.B * s.Hkv * s.Nk * s.D),
         ns = (size_t)(s.B * s.Hq * s.Nq);
  const char *names[7] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV"};
  double *ga[7] = {a.o, a.lse, a.od, a.mu, a.dq, a.dk, a.dv};
  double *gb[7] = {b.o, b.lse, b.od, b.mu, b.dq, b.dk, b.dv};
  size_t n[7] = {nq, ns, nq, ns, nq, nk, nk};
  for (int i = 0; i < 7; ++i) {
    snprintf(label, sizeof label, "%s: %s", name, names[i]);
    tu_check(label, tu_rel_err(ga[i], gb[i], n[i]), tol);
  }
  results_free(&a);
  results_free(&b);
  for (int i = 0; i < 7; ++i) free(in[i]);
}

static shape_t shape(int64_t B, int64_t Hq, int64_t Hkv, int64_t Nq, int64_t Nk, int64_t D, jfa_mask_t mask) {
  shape_t s;
  s.B = B, s.Hq = Hq, s.Hkv = Hkv, s.Nq = Nq, s.Nk = Nk, s.D = D;
  jfa_attention_params_init(&s.params);
  s.params.mask = mask;
  return s;
}

int main(void) {
  tu_init_seed("test_cpu_attention");
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) {
    printf("context: %s\n", jfa_get_last_error());
    return 1;
  }
  const double tol64 = 1e-11, tol32 = 1e-5;

  /* N x D sweep, square, alternating mask and layout */
  const int64_t Ns[] = {1, 7, 129, 1000}, Ds[] = {1, 3, 64, 80, 128};
  int c = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 5; ++j, ++c) {
      int64_t Hq = Ns[i] >= 1000 ? 1 : 2;
      check_case("sweep", shape(1, Hq, 1, Ns[i], Ns[i], Ds[j], c % 2 ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE),
                 JFA_DTYPE_FLOAT64, c % 3 == 0, tol64);
    }

  /* Nq != Nk and every mask alignment */
  check_case("Nq<Nk none", shape(2, 2, 2, 7, 129, 16, JFA_MASK_NONE), JFA_DTYPE_FLOAT64, 0, tol64);
  check_case("Nq<Nk top-left", shape(1, 3, 1, 7, 129, 5, JFA_MASK_CAUSAL_TOP_LEFT), JFA_DTYPE_FLOAT64, 1, tol64);
  check_case("Nq<Nk bottom-right", shape(1, 2, 1, 7, 129, 33, JFA_MASK_CAUSAL_BOTTOM_RIGHT), JFA_DTYPE_FLOAT64, 0,
             tol64);
  check_case("Nq>Nk top-left", shape(1, 2, 2, 129, 7, 9, JFA_MASK_CAUSAL_TOP_LEFT), JFA_DTYPE_FLOAT64, 0, tol64);
  check_case("Nq>Nk bottom-right (masked rows)", shape(1, 2, 1, 129, 7, 9, JFA_MASK_CAUSAL_BOTTOM_RIGHT),
             JFA_DTYPE_FLOAT64, 1, tol64);
  shape_t pos = shape(1, 2, 1, 33, 129, 12, JFA_MASK_CAUSAL_POSITIONS);
  pos.params.q_position = 100, pos.params.k_position = 40;
  check_case("positions q=100 k=40", pos, JFA_DTYPE_FLOAT64, 0, tol64);
  pos = shape(2, 4, 2, 20, 30, 7, JFA_MASK_CAUSAL_POSITIONS);
  pos.params.q_position = 0, pos.params.k_position = 10; /* rows 0..9 see nothing */
  check_case("positions q=0 k=10 (masked rows)", pos, JFA_DTYPE_FLOAT64, 1, tol64);
  pos = shape(1, 1, 1, 5, 8, 4, JFA_MASK_CAUSAL_POSITIONS);
  pos.params.q_position = 0, pos.params.k_position = 1000; /* all rows masked */
  check_case("positions all masked", pos, JFA_DTYPE_FLOAT64, 0, tol64);

  /* GQA 8:1 and MQA */
  check_case("GQA 8:1", shape(2, 16, 2, 65, 65, 24, JFA_MASK_CAUSAL_BOTTOM_RIGHT), JFA_DTYPE_FLOAT64, 1, tol64);
  check_case("MQA", shape(1, 4, 1, 33, 47, 80, JFA_MASK_CAUSAL_BOTTOM_RIGHT), JFA_DTYPE_FLOAT64, 0, tol64);

  /* explicit scale */
  shape_t sc = shape(1, 2, 1, 17, 23, 10, JFA_MASK_NONE);
  sc.params.scale = 0.37;
  check_case("scale 0.37", sc, JFA_DTYPE_FLOAT64, 0, tol64);

  /* float32 against the float64 reference */
  check_case("f32 sweep", shape(1, 2, 1, 129, 129, 64, JFA_MASK_CAUSAL_TOP_LEFT), JFA_DTYPE_FLOAT32, 0, tol32);
  check_case("f32 GQA masked", shape(1, 8, 1, 129, 7, 3, JFA_MASK_CAUSAL_BOTTOM_RIGHT), JFA_DTYPE_FLOAT32, 1, tol32);

  /* float32 vs float64 on the same values; BHSD vs BSHD give identical results */
  check_pair("f32 vs f64", shape(2, 4, 2, 100, 77, 80, JFA_MASK_CAUSAL_BOTTOM_RIGHT), JFA_DTYPE_FLOAT32, 0,
             JFA_DTYPE_FLOAT64, 0, tol32);
  check_pair("BSHD vs BHSD (f64, exact)", shape(2, 4, 2, 37, 53, 24, JFA_MASK_CAUSAL_TOP_LEFT), JFA_DTYPE_FLOAT64, 1,
             JFA_DTYPE_FLOAT64, 0, 0.0);
  check_pair("BSHD vs BHSD (f32, exact)", shape(1, 3, 1, 29, 29, 7, JFA_MASK_NONE), JFA_DTYPE_FLOAT32, 1,
             JFA_DTYPE_FLOAT32, 0, 0.0);

  jfa_context_destroy(ctx);
  return tu_finish();
}
