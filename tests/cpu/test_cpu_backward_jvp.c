/*
 * test_cpu_backward_jvp.c - the CPU backward-JVP (jfa_attention_backward_jvp,
 * second order) checked without a reference implementation, in float64:
 *   - dQd, dKd, dVd against central finite differences of jfa_attention_backward
 *     along (Qd, Kd, Vd, dOd) (forward and backward recomputed at x +- eps t;
 *     ||err|| / max(||fd||, 1) <= 1e-7), and its dQ, dK, dV against jfa_attention_backward;
 *   - symmetry of the Hessian of <dO, O>: <u, H w> = <w, H u> (dOd = 0; rel 1e-10);
 *   - adjoint in dO: <u, dB/ddO dOd> = <dOd, J_O u> with the forward JVP (rel 1e-10);
 *   - NaN in gives NaN out, fully masked rows give zeros, outputs fully written
 *     (poisoned with NaN first), dq/dk/dv optional, float32 against float64, and
 *     argument errors that write nothing.
 * Over odd shapes (N = 1, 7, 129; D not a power of two), every mask kind (causal
 * both alignments with Nq != Nk, positions, windows, packed sequences, boolean
 * and additive dense masks) and GQA.
 *
 * Run: ctest --test-dir build -R test_cpu_backward_jvp   (JFA_TEST_SEED=<n> to repeat)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test.h"

static jfa_context_t *ctx;


/* The tensors of one problem: inputs, forward statistics and outputs. */
typedef struct {
  double *q, *k, *v, *qd, *kd, *vd, *dout, *doutd;  /* inputs */
  double *o, *lse, *od, *mu;                        /* forward JVP */
  double *dqd, *dkd, *dvd, *dq, *dk, *dv;           /* backward-JVP outputs */
} set_t;

static set_t set_new(const cpu_prob_t *p) {
  set_t s = {cpu_rnd(p->nq), cpu_rnd(p->nk), cpu_rnd(p->nk), cpu_rnd(p->nq), cpu_rnd(p->nk), cpu_rnd(p->nk), cpu_rnd(p->nq), cpu_rnd(p->nq),
             cpu_poisoned(p->nq), cpu_poisoned(p->ns), cpu_poisoned(p->nq), cpu_poisoned(p->ns),
             cpu_poisoned(p->nq), cpu_poisoned(p->nk), cpu_poisoned(p->nk), cpu_poisoned(p->nq), cpu_poisoned(p->nk), cpu_poisoned(p->nk)};
  return s;
}
static void set_free(set_t *s) {
  double *all[] = {s->q, s->k, s->v, s->qd, s->kd, s->vd, s->dout, s->doutd, s->o, s->lse, s->od, s->mu,
                   s->dqd, s->dkd, s->dvd, s->dq, s->dk, s->dv};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i]);
}

/* Forward JVP (o, lse, od, mu) at s's inputs. */
static int fwd_jvp(const cpu_prob_t *p, set_t *s) {
  jfa_tensor_t q = cpu_tq(p, s->q), k = cpu_tk(p, s->k), v = cpu_tk(p, s->v), qd = cpu_tq(p, s->qd), kd = cpu_tk(p, s->kd),
               vd = cpu_tk(p, s->vd), o = cpu_tq(p, s->o), l = cpu_ts(p, s->lse), od = cpu_tq(p, s->od), mu = cpu_ts(p, s->mu);
  jfa_status_t st = jfa_attention_forward_jvp(ctx, &p->params, &q, &k, &v, &qd, &kd, &vd, &o, &l, &od, &mu);
  if (st != JFA_SUCCESS) printf("forward_jvp failed: %s\n", jfa_get_last_error());
  return st == JFA_SUCCESS;
}

/* Backward-JVP at s; first_order: also dq, dk, dv. */
static jfa_status_t bjvp(const cpu_prob_t *p, set_t *s, int first_order) {
  jfa_tensor_t q = cpu_tq(p, s->q), k = cpu_tk(p, s->k), v = cpu_tk(p, s->v), qd = cpu_tq(p, s->qd), kd = cpu_tk(p, s->kd),
               vd = cpu_tk(p, s->vd), o = cpu_tq(p, s->o), l = cpu_ts(p, s->lse), od = cpu_tq(p, s->od), mu = cpu_ts(p, s->mu),
               dout = cpu_tq(p, s->dout), doutd = cpu_tq(p, s->doutd), dqd = cpu_tq(p, s->dqd), dkd = cpu_tk(p, s->dkd),
               dvd = cpu_tk(p, s->dvd), dq = cpu_tq(p, s->dq), dk = cpu_tk(p, s->dk), dv = cpu_tk(p, s->dv);
  jfa_status_t st = jfa_attention_backward_jvp(ctx, &p->params, &q, &k, &v, &qd, &kd, &vd, &o, &l, &od, &mu, &dout,
                                               &doutd, &dqd, &dkd, &dvd, first_order ? &dq : NULL,
                                               first_order ? &dk : NULL, first_order ? &dv : NULL);
  if (st != JFA_SUCCESS) printf("backward_jvp failed: %s\n", jfa_get_last_error());
  return st;
}

/* Forward then backward at (q, k, v, dout): dq, dk, dv. */
static int fwd_bwd(const cpu_prob_t *p, double *q, double *k, double *v, double *dout, double *dq, double *dk,
                   double *dv) {
  double *o = cpu_poisoned(p->nq), *lse = cpu_poisoned(p->ns);
  jfa_tensor_t tq = cpu_tq(p, q), tk = cpu_tk(p, k), tv = cpu_tk(p, v), to = cpu_tq(p, o), tl = cpu_ts(p, lse),
               tdo = cpu_tq(p, dout), tdq = cpu_tq(p, dq), tdk = cpu_tk(p, dk), tdv = cpu_tk(p, dv);
  jfa_status_t st = jfa_attention_forward(ctx, &p->params, &tq, &tk, &tv, &to, &tl);
  if (st == JFA_SUCCESS) st = jfa_attention_backward(ctx, &p->params, &tq, &tk, &tv, &to, &tl, &tdo, &tdq, &tdk, &tdv);
  if (st != JFA_SUCCESS) printf("forward/backward failed: %s\n", jfa_get_last_error());
  free(o), free(lse);
  return st == JFA_SUCCESS;
}

/* ||a - b|| / max(||b||, 1): relative, but absolute where the exact value is ~0 (e.g. one
 * visible key per row makes the Q and K derivatives vanish; finite differences leave noise). */
static double err_vs(const double *a, const double *b, size_t n) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < n; ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return sqrt(num) / fmax(sqrt(den), 1.0); /* NaN stays NaN */
}

/* Finite differences of the backward along (qd, kd, vd, doutd), and dq/dk/dv against the backward. */
static void check_fd(const char *name, cpu_prob_t p) {
  const double eps = 1e-5;
  set_t s = set_new(&p);
  char label[256];
  int ok = fwd_jvp(&p, &s) && bjvp(&p, &s, 1) == JFA_SUCCESS;
  size_t n[3] = {p.nq, p.nk, p.nk};
  double *xs[4] = {cpu_poisoned(p.nq), cpu_poisoned(p.nk), cpu_poisoned(p.nk), cpu_poisoned(p.nq)};
  double *gp[3] = {cpu_poisoned(p.nq), cpu_poisoned(p.nk), cpu_poisoned(p.nk)}, *gm[3] = {cpu_poisoned(p.nq), cpu_poisoned(p.nk), cpu_poisoned(p.nk)};
  double *g0[3] = {cpu_poisoned(p.nq), cpu_poisoned(p.nk), cpu_poisoned(p.nk)};
  for (int sgn = -1; sgn <= 1; sgn += 2) {
    cpu_axpy(xs[0], s.q, sgn * eps, s.qd, p.nq), cpu_axpy(xs[1], s.k, sgn * eps, s.kd, p.nk);
    cpu_axpy(xs[2], s.v, sgn * eps, s.vd, p.nk), cpu_axpy(xs[3], s.dout, sgn * eps, s.doutd, p.nq);
    double **g = sgn > 0 ? gp : gm;
    ok &= fwd_bwd(&p, xs[0], xs[1], xs[2], xs[3], g[0], g[1], g[2]);
  }
  ok &= fwd_bwd(&p, s.q, s.k, s.v, s.dout, g0[0], g0[1], g0[2]);
  snprintf(label, sizeof label, "%s: calls succeed", name);
  tu_expect(label, ok);
  double *out[3] = {s.dqd, s.dkd, s.dvd}, *first[3] = {s.dq, s.dk, s.dv};
  static const char *names[3] = {"dQd", "dKd", "dVd"}, *fnames[3] = {"dQ", "dK", "dV"};
  for (int a = 0; a < 3; ++a) {
    for (size_t i = 0; i < n[a]; ++i) gp[a][i] = (gp[a][i] - gm[a][i]) / (2 * eps);
    snprintf(label, sizeof label, "%s: %s vs finite differences of the backward", name, names[a]);
    tu_check(label, err_vs(out[a], gp[a], n[a]), 1e-7);
    snprintf(label, sizeof label, "%s: %s equals jfa_attention_backward's", name, fnames[a]);
    tu_check(label, tu_rel_err(first[a], g0[a], n[a]), 1e-13);
  }
  /* without dq, dk, dv: the same second-order outputs */
  double *keep[3] = {s.dqd, s.dkd, s.dvd};
  s.dqd = cpu_poisoned(p.nq), s.dkd = cpu_poisoned(p.nk), s.dvd = cpu_poisoned(p.nk);
  ok = bjvp(&p, &s, 0) == JFA_SUCCESS;
  snprintf(label, sizeof label, "%s: dq, dk, dv = NULL gives the same dQd, dKd, dVd", name);
  tu_expect(label, ok && tu_rel_err(s.dqd, keep[0], p.nq) == 0.0 && tu_rel_err(s.dkd, keep[1], p.nk) == 0.0 &&
                       tu_rel_err(s.dvd, keep[2], p.nk) == 0.0);
  for (int a = 0; a < 3; ++a) free(keep[a]), free(gp[a]), free(gm[a]), free(g0[a]), free(xs[a]);
  free(xs[3]);
  set_free(&s);
}

/* Hessian symmetry (dOd = 0) and the adjoint in dO. */
static void check_symmetry(const char *name, cpu_prob_t p) {
  char label[256];
  set_t w = set_new(&p), u = set_new(&p);
  /* same primal point and dO in both sets */
  memcpy(u.q, w.q, p.nq * sizeof(double)), memcpy(u.k, w.k, p.nk * sizeof(double));
  memcpy(u.v, w.v, p.nk * sizeof(double)), memcpy(u.dout, w.dout, p.nq * sizeof(double));
  memset(w.doutd, 0, p.nq * sizeof(double)), memset(u.doutd, 0, p.nq * sizeof(double));
  int ok = fwd_jvp(&p, &w) && fwd_jvp(&p, &u) && bjvp(&p, &w, 0) == JFA_SUCCESS && bjvp(&p, &u, 0) == JFA_SUCCESS;
  double uHw = dot_n(u.qd, w.dqd, p.nq) + dot_n(u.kd, w.dkd, p.nk) + dot_n(u.vd, w.dvd, p.nk);
  double wHu = dot_n(w.qd, u.dqd, p.nq) + dot_n(w.kd, u.dkd, p.nk) + dot_n(w.vd, u.dvd, p.nk);
  snprintf(label, sizeof label, "%s: Hessian symmetry <u,Hw> = <w,Hu> (%.6g vs %.6g)", name, uHw, wHu);
  tu_check(label, ok ? fabs(uHw - wHu) / fmax(fabs(uHw), 1.0) : NAN, 1e-10);
  /* adjoint in dO: direction only dOd (w's qd, kd, vd zeroed), paired with u's forward tangent Od(u) */
  memset(w.qd, 0, p.nq * sizeof(double)), memset(w.kd, 0, p.nk * sizeof(double));
  memset(w.vd, 0, p.nk * sizeof(double));
  tu_fill_normal(w.doutd, p.nq, 1.0);
  ok &= fwd_jvp(&p, &w) && bjvp(&p, &w, 0) == JFA_SUCCESS;
  double lhs = dot_n(u.qd, w.dqd, p.nq) + dot_n(u.kd, w.dkd, p.nk) + dot_n(u.vd, w.dvd, p.nk);
  double rhs = dot_n(w.doutd, u.od, p.nq);
  snprintf(label, sizeof label, "%s: adjoint in dO <u, B_dO dOd> = <dOd, Od(u)> (%.6g vs %.6g)", name, lhs, rhs);
  tu_check(label, ok ? fabs(lhs - rhs) / fmax(fabs(rhs), 1.0) : NAN, 1e-10);
  set_free(&w), set_free(&u);
}

/* Fully masked rows give zero rows of dQd; NaN in a tangent gives NaN out. */
static void check_special(void) {
  char label[256];
  /* bottom-right with Nq > Nk: query rows 0 .. Nq - Nk - 1 see no key */
  cpu_prob_t p = cpu_prob(1, 2, 1, 9, 4, 5, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0);
  set_t s = set_new(&p);
  int ok = fwd_jvp(&p, &s) && bjvp(&p, &s, 1) == JFA_SUCCESS;
  int zeros = 1;
  for (int64_t h = 0; h < p.Hq; ++h)
    for (int64_t i = 0; i < p.Nq - p.Nk; ++i)
      for (int64_t d = 0; d < p.D; ++d) {
        size_t off = (size_t)((h * p.Nq + i) * p.D + d);
        zeros &= s.dqd[off] == 0.0 && s.dq[off] == 0.0;
      }
  tu_expect("fully masked rows: dQd = dQ = 0", ok && zeros);
  tu_expect("fully masked rows: every output written (no NaN poison left)",
            tu_count_nan(s.dqd, p.nq) + tu_count_nan(s.dkd, p.nk) + tu_count_nan(s.dvd, p.nk) == 0);
  set_free(&s);

  p = cpu_prob(1, 2, 2, 7, 7, 6, JFA_MASK_NONE, 0, 0);
  static const char *which[4] = {"qd", "kd", "vd", "doutd"};
  for (int t = 0; t < 4; ++t) {
    s = set_new(&p);
    ok = fwd_jvp(&p, &s);
    double *tan[4] = {s.qd, s.kd, s.vd, s.doutd};
    tan[t][3] = NAN;
    ok &= bjvp(&p, &s, 0) == JFA_SUCCESS;
    size_t nan = tu_count_nan(s.dqd, p.nq) + tu_count_nan(s.dkd, p.nk) + tu_count_nan(s.dvd, p.nk);
    snprintf(label, sizeof label, "NaN in %s gives NaN out (%zu NaN)", which[t], nan);
    tu_expect(label, ok && nan > 0);
    set_free(&s);
  }
}

/* Rows padded with one huge finite bias (-1e30: lse = max + log(n) rounds to the max, so P = exp(S - lse) would be 1
   for each key; -1e9) and a -inf key: the single-device backward-JVP recomputes their statistics as the backward does
   (src/cpu/row_shift.c), so its dq, dk, dv equal jfa_attention_backward's (which test_cpu_masks checks against the
   naive reference on such rows). Finite differences cannot judge these rows: S - bias is below the bias's ulp. */
static void check_padded(void) {
  cpu_prob_t p = cpu_prob(1, 2, 1, 5, 11, 4, JFA_MASK_NONE, 0, 0);
  tbuf_t am = tb_new(JFA_DTYPE_FLOAT64, 0, 1, 1, 5, 11);
  double y[5 * 11];
  for (int i = 0; i < 5 * 11; ++i) y[i] = 0.5 * tu_normal();
  for (int j = 0; j < 11; ++j) y[1 * 11 + j] = j == 0 ? -INFINITY : -1e30, y[3 * 11 + j] = j == 5 ? -INFINITY : -1e9;
  tb_set(&am, y);
  p.params.attn_mask = &am.t;
  set_t s = set_new(&p);
  double *g[3] = {cpu_poisoned(p.nq), cpu_poisoned(p.nk), cpu_poisoned(p.nk)};
  int ok = fwd_jvp(&p, &s) && bjvp(&p, &s, 1) == JFA_SUCCESS && fwd_bwd(&p, s.q, s.k, s.v, s.dout, g[0], g[1], g[2]);
  tu_expect("padded rows (-1e30, -1e9, -inf keys): calls succeed", ok);
  tu_check("padded rows: backward_jvp's dq, dk, dv equal jfa_attention_backward's",
           tu_worst(tu_rel_err(s.dq, g[0], p.nq), tu_worst(tu_rel_err(s.dk, g[1], p.nk), tu_rel_err(s.dv, g[2], p.nk))),
           1e-13);
  tu_expect("padded rows: dQd, dKd, dVd finite",
            tu_count_nan(s.dqd, p.nq) + tu_count_nan(s.dkd, p.nk) + tu_count_nan(s.dvd, p.nk) == 0);
  for (int a = 0; a < 3; ++a) free(g[a]);
  set_free(&s);
  tb_free(&am);
}

/* float32 storage against the float64 call on the same (rounded) values. */
static void check_float32(void) {
  cpu_prob_t p = cpu_prob(1, 4, 2, 33, 40, 12, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0);
  set_t s = set_new(&p);
  int ok = 1;
  double *in[8] = {s.q, s.k, s.v, s.qd, s.kd, s.vd, s.dout, s.doutd};
  size_t n[8] = {p.nq, p.nk, p.nk, p.nq, p.nk, p.nk, p.nq, p.nq};
  for (int a = 0; a < 8; ++a)
    for (size_t i = 0; i < n[a]; ++i) in[a][i] = tu_round(in[a][i], JFA_DTYPE_FLOAT32);
  ok &= fwd_jvp(&p, &s) && bjvp(&p, &s, 1) == JFA_SUCCESS;
  /* float32 copies of everything (o, lse, od, mu rounded too) */
  int64_t qs[4] = {p.B, p.Hq, p.Nq, p.D}, ks[4] = {p.B, p.Hkv, p.Nk, p.D}, ss[4] = {p.B, p.Hq, p.Nq, 1};
  const int64_t *shp[18] = {qs, ks, ks, qs, ks, ks, qs, qs, qs, ss, qs, ss, qs, ks, ks, qs, ks, ks};
  double *vals[18] = {s.q, s.k, s.v, s.qd, s.kd, s.vd, s.dout, s.doutd, s.o, s.lse, s.od, s.mu,
                      s.dqd, s.dkd, s.dvd, s.dq, s.dk, s.dv};
  tbuf_t t[18];
  for (int a = 0; a < 18; ++a) {
    t[a] = tb_new(JFA_DTYPE_FLOAT32, 0, shp[a][0], shp[a][1], shp[a][2], shp[a][3]);
    if (a < 12) tb_set(&t[a], vals[a]);
    else tb_poison(&t[a]);
  }
  jfa_status_t st = jfa_attention_backward_jvp(ctx, &p.params, &t[0].t, &t[1].t, &t[2].t, &t[3].t, &t[4].t,
                                               &t[5].t, &t[8].t, &t[9].t, &t[10].t, &t[11].t, &t[6].t, &t[7].t,
                                               &t[12].t, &t[13].t, &t[14].t, &t[15].t, &t[16].t, &t[17].t);
  tu_expect("float32: call succeeds", ok && st == JFA_SUCCESS);
  static const char *names[6] = {"dQd", "dKd", "dVd", "dQ", "dK", "dV"};
  char label[128];
  for (int a = 12; a < 18; ++a) {
    tb_get(&t[a]);
    snprintf(label, sizeof label, "float32 %s vs float64", names[a - 12]);
    tu_check(label, tu_rel_err(t[a].val, vals[a], t[a].n), 1e-5);
  }
  for (int a = 0; a < 18; ++a) tb_free(&t[a]);
  set_free(&s);
}

/* Bad arguments: a clear status, and nothing written. */
static void check_errors(void) {
  cpu_prob_t p = cpu_prob(1, 2, 1, 5, 6, 4, JFA_MASK_NONE, 0, 0);
  set_t s = set_new(&p);
  tu_expect("errors: forward succeeds", fwd_jvp(&p, &s));
  jfa_tensor_t q = cpu_tq(&p, s.q), k = cpu_tk(&p, s.k), v = cpu_tk(&p, s.v), qd = cpu_tq(&p, s.qd), kd = cpu_tk(&p, s.kd),
               vd = cpu_tk(&p, s.vd), o = cpu_tq(&p, s.o), l = cpu_ts(&p, s.lse), od = cpu_tq(&p, s.od), mu = cpu_ts(&p, s.mu),
               dout = cpu_tq(&p, s.dout), doutd = cpu_tq(&p, s.doutd), dqd = cpu_tq(&p, s.dqd), dkd = cpu_tk(&p, s.dkd),
               dvd = cpu_tk(&p, s.dvd);
  jfa_tensor_t bad_shape = cpu_tq(&p, s.dkd); /* dkd with q's shape */
  jfa_tensor_t alias = cpu_tq(&p, s.dout);    /* dqd over dout */
  jfa_tensor_t f32mu = mu;
  f32mu.dtype = JFA_DTYPE_FLOAT16;
  struct {
    const char *what;
    const jfa_tensor_t *mu, *dqd, *dkd, *doutd;
    jfa_status_t want;
  } cases[] = {
      {"NULL dqd", &mu, NULL, &dkd, &doutd, JFA_ERROR_INVALID_ARGUMENT},
      {"NULL doutd", &mu, &dqd, &dkd, NULL, JFA_ERROR_INVALID_ARGUMENT},
      {"dkd of the wrong shape", &mu, &dqd, &bad_shape, &doutd, JFA_ERROR_INVALID_ARGUMENT},
      {"dqd overlapping dout", &mu, &alias, &dkd, &doutd, JFA_ERROR_INVALID_ARGUMENT},
      {"mu float16", &f32mu, &dqd, &dkd, &doutd, JFA_ERROR_INVALID_ARGUMENT},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    jfa_status_t st = jfa_attention_backward_jvp(ctx, &p.params, &q, &k, &v, &qd, &kd, &vd, &o, &l, &od, cases[c].mu,
                                                 &dout, cases[c].doutd, cases[c].dqd, cases[c].dkd, &dvd, NULL, NULL,
                                                 NULL);
    char label[160];
    snprintf(label, sizeof label, "error: %s -> status %d (%s)", cases[c].what, (int)st, jfa_get_last_error());
    tu_expect(label, st == cases[c].want && strlen(jfa_get_last_error()) > 0);
  }
  tu_expect("errors: nothing written", tu_count_nan(s.dqd, p.nq) == p.nq && tu_count_nan(s.dkd, p.nk) == p.nk &&
                                           tu_count_nan(s.dvd, p.nk) == p.nk);
  set_free(&s);
}

static void check_all(const char *name, cpu_prob_t p) {
  check_fd(name, p);
  check_symmetry(name, p);
}

int main(void) {
  tu_init_seed("test_cpu_backward_jvp");
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;

  check_all("N=1 no mask", cpu_prob(1, 1, 1, 1, 1, 3, JFA_MASK_NONE, 0, 0));
  check_all("N=7 no mask GQA D=5", cpu_prob(2, 4, 2, 7, 7, 5, JFA_MASK_NONE, 0, 0));
  check_all("N=129 top-left D=24", cpu_prob(1, 2, 1, 129, 129, 24, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0));
  check_all("bottom-right Nq=13 > Nk=7 (masked rows) GQA", cpu_prob(1, 3, 1, 13, 7, 6, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0));
  check_all("bottom-right Nq=7 < Nk=19", cpu_prob(2, 2, 2, 7, 19, 7, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0));
  check_all("top-left Nq=19 > Nk=7", cpu_prob(1, 2, 1, 19, 7, 5, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0));
  check_all("causal positions (masked rows) GQA", cpu_prob(1, 6, 2, 21, 37, 3, JFA_MASK_CAUSAL_POSITIONS, 5, 12));

  cpu_prob_t p = cpu_prob(2, 2, 1, 40, 33, 6, JFA_MASK_NONE, 0, 0);
  p.params.window_left = 2, p.params.window_right = 5;
  check_all("window (2,5) Nq > Nk GQA", p);
  p = cpu_prob(1, 2, 2, 25, 60, 4, JFA_MASK_POSITIONS, 40, 0);
  p.params.window_left = 0, p.params.window_right = 0;
  check_all("window (0,0) at positions (one key per row)", p);
  static const int64_t cq[] = {0, 1, 8, 8, 20}, ck[] = {0, 3, 5, 9, 31}; /* Nq = 20, Nk = 31 */
  p = cpu_prob(1, 4, 2, 20, 31, 5, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0);
  p.params.cu_seqlens_q = cq, p.params.cu_seqlens_k = ck, p.params.num_seqs = 4;
  check_all("packed bottom-right (empty and Nq != Nk sequences) GQA", p);
  p.params.mask = JFA_MASK_CAUSAL_TOP_LEFT, p.params.window_left = 3, p.params.window_right = 0;
  check_all("packed top-left + window (3,0)", p);
  p.params.mask = JFA_MASK_NONE, p.params.window_left = p.params.window_right = JFA_WINDOW_UNBOUNDED;
  check_all("packed, no causal", p);

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
  check_all("bool mask (1,Hq,Nq,Nk) + causal, empty row, GQA", p);
  p.params.attn_mask = &am.t, p.params.mask = JFA_MASK_NONE, p.params.window_left = 6;
  check_all("additive mask (B,1,Nq,Nk) -inf/40 + window (6,-1)", p);
  free(x), free(y);
  tb_free(&bm), tb_free(&am);

  check_special();
  check_padded();
  check_float32();
  check_errors();

  jfa_context_destroy(ctx);
  return tu_finish();
}
