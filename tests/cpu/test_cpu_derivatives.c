/*
 * test_cpu_derivatives.c - the CPU backend's derivatives checked without any
 * reference implementation, in float64:
 *   - JVP (Od, mu) against central finite differences of O and lse (rel err <= 1e-7);
 *   - backward against the adjoint identity <dO, J t> = <J^T dO, t> using the JVP
 *     (rel err <= 1e-10);
 *   - dQ, dK, dV against element-wise central finite differences of the scalar
 *     loss L = <dO, O> (rel err <= 1e-7).
 * Over masks (none, both causal alignments, positions with fully masked rows) and GQA,
 * and the masks of issue 9: sliding windows, packed sequences (both alignments,
 * empty and Nq != Nk sequences), boolean masks with empty rows, additive masks
 * with -inf and large entries (the bias has no tangent), and their combinations.
 *
 * Run: ctest --test-dir build -R test_cpu_derivatives   (JFA_TEST_SEED=<n> to repeat)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test.h"

static jfa_context_t *ctx;


/* Forward (+ JVP when qd != NULL). Returns 0 on failure. */
static int fwd(const cpu_prob_t *p, double *q, double *k, double *v, double *qd, double *kd, double *vd, double *o,
               double *lse, double *od, double *mu) {
  jfa_tensor_t tq = cpu_tq(p, q), tk = cpu_tk(p, k),
               tv = cpu_tk(p, v), to = cpu_tq(p, o),
               tl = cpu_ts(p, lse);
  jfa_status_t st;
  if (!qd) {
    st = jfa_attention_forward(ctx, &p->params, &tq, &tk, &tv, &to, &tl);
  } else {
    jfa_tensor_t tqd = cpu_tq(p, qd), tkd = cpu_tk(p, kd),
                 tvd = cpu_tk(p, vd), tod = cpu_tq(p, od),
                 tm = cpu_ts(p, mu);
    st = jfa_attention_forward_jvp(ctx, &p->params, &tq, &tk, &tv, &tqd, &tkd, &tvd, &to, &tl, &tod, &tm);
  }
  if (st != JFA_SUCCESS) printf("forward failed: %s\n", jfa_get_last_error());
  return st == JFA_SUCCESS;
}

static int bwd(const cpu_prob_t *p, double *q, double *k, double *v, double *o, double *lse, double *dout, double *dq,
               double *dk, double *dv) {
  jfa_tensor_t tq = cpu_tq(p, q), tk = cpu_tk(p, k),
               tv = cpu_tk(p, v), to = cpu_tq(p, o),
               tl = cpu_ts(p, lse), tdo = cpu_tq(p, dout),
               tdq = cpu_tq(p, dq), tdk = cpu_tk(p, dk),
               tdv = cpu_tk(p, dv);
  jfa_status_t st = jfa_attention_backward(ctx, &p->params, &tq, &tk, &tv, &to, &tl, &tdo, &tdq, &tdk, &tdv);
  if (st != JFA_SUCCESS) printf("backward failed: %s\n", jfa_get_last_error());
  return st == JFA_SUCCESS;
}

/* Central difference (p - m) / (2 eps); rows at -inf on both sides have derivative 0. */
static void central(double *dst, const double *p, const double *m, double eps, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = (p[i] == -INFINITY && m[i] == -INFINITY) ? 0.0 : (p[i] - m[i]) / (2 * eps);
}

static void check_jvp_and_adjoint(const char *name, cpu_prob_t p) {
  const double eps = 1e-5;
  double *q = cpu_rnd(p.nq), *k = cpu_rnd(p.nk), *v = cpu_rnd(p.nk), *qd = cpu_rnd(p.nq), *kd = cpu_rnd(p.nk), *vd = cpu_rnd(p.nk),
         *dout = cpu_rnd(p.nq);
  double *o = cpu_poisoned(p.nq), *lse = cpu_poisoned(p.ns), *od = cpu_poisoned(p.nq), *mu = cpu_poisoned(p.ns);
  double *qs = cpu_poisoned(p.nq), *ks = cpu_poisoned(p.nk), *vs = cpu_poisoned(p.nk), *op = cpu_poisoned(p.nq), *om = cpu_poisoned(p.nq), *lp = cpu_poisoned(p.ns),
         *lm = cpu_poisoned(p.ns), *fo = cpu_poisoned(p.nq), *fl = cpu_poisoned(p.ns);
  double *dq = cpu_poisoned(p.nq), *dk = cpu_poisoned(p.nk), *dv = cpu_poisoned(p.nk);
  char label[256];
  int ok = fwd(&p, q, k, v, qd, kd, vd, o, lse, od, mu);
  cpu_axpy(qs, q, eps, qd, p.nq), cpu_axpy(ks, k, eps, kd, p.nk), cpu_axpy(vs, v, eps, vd, p.nk);
  ok &= fwd(&p, qs, ks, vs, NULL, NULL, NULL, op, lp, NULL, NULL);
  cpu_axpy(qs, q, -eps, qd, p.nq), cpu_axpy(ks, k, -eps, kd, p.nk), cpu_axpy(vs, v, -eps, vd, p.nk);
  ok &= fwd(&p, qs, ks, vs, NULL, NULL, NULL, om, lm, NULL, NULL);
  ok &= bwd(&p, q, k, v, o, lse, dout, dq, dk, dv);
  snprintf(label, sizeof label, "%s: calls succeed", name);
  tu_expect(label, ok);
  central(fo, op, om, eps, p.nq);
  central(fl, lp, lm, eps, p.ns);
  snprintf(label, sizeof label, "%s: Od vs finite differences of O", name);
  tu_check(label, tu_rel_err(od, fo, p.nq), 1e-7);
  snprintf(label, sizeof label, "%s: mu vs finite differences of lse", name);
  tu_check(label, tu_rel_err(mu, fl, p.ns), 1e-7);
  /* adjoint: <dO, Od> = <dQ, qd> + <dK, kd> + <dV, vd> */
  double lhs = dot_n(dout, od, p.nq);
  double rhs = dot_n(dq, qd, p.nq) + dot_n(dk, kd, p.nk) + dot_n(dv, vd, p.nk);
  snprintf(label, sizeof label, "%s: adjoint identity <dO,Jt> = <J^T dO,t> (%.6g vs %.6g)", name, lhs, rhs);
  tu_check(label, fabs(lhs - rhs) / fmax(fabs(lhs), 1e-300), 1e-10);
  double *all[] = {q, k, v, qd, kd, vd, dout, o, lse, od, mu, qs, ks, vs, op, om, lp, lm, fo, fl, dq, dk, dv};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
}

/* L(x) = <dO, O(x)> */
static double loss(const cpu_prob_t *p, double *q, double *k, double *v, const double *dout, double *o, double *lse) {
  if (!fwd(p, q, k, v, NULL, NULL, NULL, o, lse, NULL, NULL)) return NAN;
  return dot_n(dout, o, p->nq);
}

static void check_grad_fd(const char *name, cpu_prob_t p) {
  const double eps = 1e-5;
  double *x[3] = {cpu_rnd(p.nq), cpu_rnd(p.nk), cpu_rnd(p.nk)};
  size_t n[3] = {p.nq, p.nk, p.nk};
  double *dout = cpu_rnd(p.nq), *o = cpu_poisoned(p.nq), *lse = cpu_poisoned(p.ns);
  double *g[3] = {cpu_poisoned(p.nq), cpu_poisoned(p.nk), cpu_poisoned(p.nk)};
  double *fd[3] = {cpu_poisoned(p.nq), cpu_poisoned(p.nk), cpu_poisoned(p.nk)};
  int ok = fwd(&p, x[0], x[1], x[2], NULL, NULL, NULL, o, lse, NULL, NULL);
  ok &= bwd(&p, x[0], x[1], x[2], o, lse, dout, g[0], g[1], g[2]);
  for (int a = 0; a < 3; ++a)
    for (size_t i = 0; i < n[a]; ++i) {
      double keep = x[a][i];
      x[a][i] = keep + eps;
      double lp = loss(&p, x[0], x[1], x[2], dout, o, lse);
      x[a][i] = keep - eps;
      double lm = loss(&p, x[0], x[1], x[2], dout, o, lse);
      x[a][i] = keep;
      fd[a][i] = (lp - lm) / (2 * eps);
    }
  char label[256];
  snprintf(label, sizeof label, "%s: calls succeed", name);
  tu_expect(label, ok);
  const char *names[3] = {"dQ", "dK", "dV"};
  for (int a = 0; a < 3; ++a) {
    snprintf(label, sizeof label, "%s: %s vs finite differences of <dO, O>", name, names[a]);
    tu_check(label, tu_rel_err(g[a], fd[a], n[a]), 1e-7);
    free(x[a]), free(g[a]), free(fd[a]);
  }
  free(dout), free(o), free(lse);
}

int main(void) {
  tu_init_seed("test_cpu_derivatives");
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;

  check_jvp_and_adjoint("no mask GQA", cpu_prob(2, 4, 2, 13, 17, 6, JFA_MASK_NONE, 0, 0));
  check_jvp_and_adjoint("top-left", cpu_prob(1, 2, 1, 31, 29, 16, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0));
  check_jvp_and_adjoint("bottom-right Nq>Nk (masked rows)",
                        cpu_prob(1, 3, 1, 40, 9, 5, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0));
  check_jvp_and_adjoint("positions", cpu_prob(1, 8, 1, 21, 37, 3, JFA_MASK_CAUSAL_POSITIONS, 30, 12));
  check_jvp_and_adjoint("N=129 D=80", cpu_prob(1, 1, 1, 129, 129, 80, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0));

  check_grad_fd("FD no mask GQA", cpu_prob(1, 2, 1, 5, 6, 3, JFA_MASK_NONE, 0, 0));
  check_grad_fd("FD bottom-right masked rows", cpu_prob(1, 2, 2, 7, 4, 3, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0));
  check_grad_fd("FD positions", cpu_prob(2, 2, 1, 6, 9, 4, JFA_MASK_CAUSAL_POSITIONS, 5, 3));

  /* masks of issue 9 */
  static const int64_t cq[] = {0, 1, 8, 8, 20}, ck[] = {0, 3, 5, 9, 31}; /* Nq = 20, Nk = 31 */
  cpu_prob_t p = cpu_prob(1, 4, 2, 20, 31, 5, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0);
  p.params.cu_seqlens_q = cq, p.params.cu_seqlens_k = ck, p.params.num_seqs = 4;
  check_jvp_and_adjoint("packed bottom-right (empty and Nq != Nk sequences)", p);
  p.params.mask = JFA_MASK_CAUSAL_TOP_LEFT, p.params.window_left = 3, p.params.window_right = 0;
  check_jvp_and_adjoint("packed top-left + window (3,0)", p);
  p = cpu_prob(2, 2, 1, 40, 33, 6, JFA_MASK_NONE, 0, 0);
  p.params.window_left = 2, p.params.window_right = 5;
  check_jvp_and_adjoint("window (2,5), Nq > Nk, GQA", p);
  p = cpu_prob(1, 2, 2, 25, 60, 4, JFA_MASK_POSITIONS, 40, 0);
  p.params.window_left = 0, p.params.window_right = 0; /* each row sees at most one key */
  check_jvp_and_adjoint("window (0,0) at positions (one key per row)", p);

  /* dense masks: boolean with an empty row, additive with -inf and large entries */
  tbuf_t bm = tb_new(JFA_DTYPE_BOOL, 0, 1, 3, 17, 23), am = tb_new(JFA_DTYPE_FLOAT64, 0, 2, 1, 17, 23);
  double *x = (double *)malloc(bm.n * sizeof(double)), *y = (double *)malloc(am.n * sizeof(double));
  for (size_t i = 0; i < bm.n; ++i) x[i] = (tu_uniform() < 0.6 && i / 23 != 4) ? 1.0 : 0.0; /* row 4 of head 0 empty */
  for (size_t i = 0; i < am.n; ++i) {
    double u = tu_uniform();
    y[i] = u < 0.25 ? -INFINITY : u < 0.3 ? 40.0 : 2.0 * tu_normal();
  }
  tb_set(&bm, x), tb_set(&am, y);
  p = cpu_prob(2, 3, 1, 17, 23, 5, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0);
  p.params.attn_mask = &bm.t;
  check_jvp_and_adjoint("bool mask (1,Hq,Nq,Nk) + causal, empty row", p);
  p.params.attn_mask = &am.t, p.params.mask = JFA_MASK_NONE, p.params.window_left = 6;
  check_jvp_and_adjoint("additive mask (B,1,Nq,Nk) -inf/40 + window (6,-1)", p);

  p = cpu_prob(1, 2, 1, 5, 7, 3, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0);
  p.params.window_left = 1, p.params.window_right = 0;
  check_grad_fd("FD window (1,0) causal", p);
  static const int64_t cq2[] = {0, 2, 2, 6}, ck2[] = {0, 3, 4, 7};
  p = cpu_prob(1, 2, 1, 6, 7, 3, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0);
  p.params.cu_seqlens_q = cq2, p.params.cu_seqlens_k = ck2, p.params.num_seqs = 3;
  check_grad_fd("FD packed bottom-right", p);
  tbuf_t am2 = tb_new(JFA_DTYPE_FLOAT32, 0, 1, 2, 6, 7);
  for (size_t i = 0; i < am2.n; ++i) y[i] = tu_uniform() < 0.3 ? -INFINITY : 3.0 * tu_normal();
  tb_set(&am2, y);
  p = cpu_prob(1, 2, 1, 6, 7, 3, JFA_MASK_NONE, 0, 0);
  p.params.attn_mask = &am2.t;
  check_grad_fd("FD additive f32 mask with -inf", p);
  free(x), free(y);
  tb_free(&bm), tb_free(&am), tb_free(&am2);

  jfa_context_destroy(ctx);
  return tu_finish();
}
