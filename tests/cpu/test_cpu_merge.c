/*
 * test_cpu_merge.c - merging partial results over a split of the keys equals
 * attention over all keys, including rows that are -inf in one part or in all;
 * the references are independent of the library (ref64.h):
 *   - the public jfa_attention_merge (float64 and float32 accumulators, float32
 *     and float64 partials, with and without the JVP) against the naive merge
 *     formula applied to the same partials (lse = logsumexp, w_c = exp(lse_c - lse),
 *     O = sum w_c O_c, mu = sum w_c mu_c, Od = sum w_c (Od_c + (mu_c - mu) O_c)),
 *     and against ref64's attention over all keys;
 *   - the backend's accumulate mode as the ring uses it (jfa_backend_attention_block
 *     and jfa_backend_attention_backward_block over K/V blocks, accumulators filled
 *     with the identity by jfa_backend_fill, global lse and delta) against ref64's
 *     attention over all keys.
 * Key blocks are strided views (slices along the sequence) of the full K and V.
 *
 * Run: ctest --test-dir build -R test_cpu_merge   (JFA_TEST_SEED=<n> to repeat)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "cpu_test.h"
#include "ref64.h"

static jfa_context_t *ctx;

/* A view of rows [j0, j0 + n) along the sequence axis. */
static jfa_tensor_t slice_seq(const jfa_tensor_t *t, int64_t j0, int64_t n) {
  jfa_tensor_t s = *t;
  s.data = (char *)t->data + (size_t)(j0 * t->stride[2]) * jfa_dtype_size(t->dtype);
  s.shape[2] = n;
  return s;
}

typedef struct {
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_mask_t mask;
} geo_t;

/* Resolves the mask of the full problem into global positions (for the blocks). */
static void positions(const geo_t *g, int64_t *qp) {
  *qp = g->mask == JFA_MASK_CAUSAL_BOTTOM_RIGHT ? g->Nk - g->Nq : 0;
}

static void check_public_merge(const char *name, geo_t g, const int64_t *cuts, int nparts, jfa_dtype_t part_dt,
                               jfa_dtype_t acc_dt, int jvp, double tol) {
  char label[300];
  int64_t B = g.B, Hq = g.Hq, Hkv = g.Hkv, Nq = g.Nq, Nk = g.Nk, D = g.D;
  tbuf_t q = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, D), k = tb_new(JFA_DTYPE_FLOAT64, 1, B, Hkv, Nk, D),
         v = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hkv, Nk, D), qd = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, D),
         kd = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hkv, Nk, D), vd = tb_new(JFA_DTYPE_FLOAT64, 1, B, Hkv, Nk, D);
  tbuf_t *ins[6] = {&q, &k, &v, &qd, &kd, &vd};
  for (int i = 0; i < 6; ++i) tb_random(ins[i], 1.0);
  /* partial inputs in part_dt (the same values rounded), full reference in float64 from them */
  tbuf_t pin[6];
  for (int i = 0; i < 6; ++i) {
    pin[i] = tb_new(part_dt, i == 1, ins[i]->t.shape[0], ins[i]->t.shape[1], ins[i]->t.shape[2], D);
    tb_set(&pin[i], ins[i]->val);
    tb_set(ins[i], pin[i].val);
  }
  tbuf_t o = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, D), lse = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, 1),
         od = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, D), mu = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, 1);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = g.mask;
  int ok = 1;
  int rok = ref64_forward_jvp(&prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t) == 0;
  tbuf_t oa = tb_new(acc_dt, 0, B, Hq, Nq, D), la = tb_new(acc_dt, 0, B, Hq, Nq, 1),
         oda = tb_new(acc_dt, 1, B, Hq, Nq, D), mua = tb_new(acc_dt, 0, B, Hq, Nq, 1);
  /* the identity: o = od = mu = 0, lse = -inf */
  double *zero = (double *)calloc(oa.n, sizeof(double)), *ninf = (double *)malloc(la.n * sizeof(double));
  for (size_t i = 0; i < la.n; ++i) ninf[i] = -INFINITY;
  tb_set(&oa, zero), tb_set(&oda, zero), tb_set(&mua, zero), tb_set(&la, ninf);
  int64_t qp;
  positions(&g, &qp);
  enum { MAXP = 8 };
  tbuf_t op[MAXP], lp[MAXP], odp[MAXP], mp[MAXP];
  for (int c = 0; c < nparts; ++c) {
    int64_t j0 = cuts[c], n = cuts[c + 1] - cuts[c];
    jfa_attention_params_t bp = prm;
    if (g.mask != JFA_MASK_NONE) {
      bp.mask = JFA_MASK_CAUSAL_POSITIONS;
      bp.q_position = qp;
      bp.k_position = j0;
    }
    jfa_tensor_t kb = slice_seq(&pin[1].t, j0, n), vb = slice_seq(&pin[2].t, j0, n), kdb = slice_seq(&pin[4].t, j0, n),
                 vdb = slice_seq(&pin[5].t, j0, n);
    op[c] = tb_new(part_dt, 0, B, Hq, Nq, D), lp[c] = tb_new(part_dt, 0, B, Hq, Nq, 1),
    odp[c] = tb_new(part_dt, 0, B, Hq, Nq, D), mp[c] = tb_new(part_dt, 0, B, Hq, Nq, 1);
    jfa_status_t st = jfa_attention_forward_jvp(ctx, &bp, &pin[0].t, &kb, &vb, &pin[3].t, &kdb, &vdb, &op[c].t,
                                                &lp[c].t, &odp[c].t, &mp[c].t);
    if (st == JFA_SUCCESS)
      st = jvp ? jfa_attention_merge(ctx, &oa.t, &la.t, &oda.t, &mua.t, &op[c].t, &lp[c].t, &odp[c].t, &mp[c].t)
               : jfa_attention_merge(ctx, &oa.t, &la.t, NULL, NULL, &op[c].t, &lp[c].t, NULL, NULL);
    if (st != JFA_SUCCESS) printf("%s: %s\n", name, jfa_get_last_error());
    ok &= st == JFA_SUCCESS;
  }
  snprintf(label, sizeof label, "%s: calls succeed", name);
  tu_expect(label, ok);
  /* the naive merge formula over the same partials (float64) */
  tbuf_t no = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, D), nl = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, 1),
         nod = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, D), nmu = tb_new(JFA_DTYPE_FLOAT64, 0, B, Hq, Nq, 1);
  {
    const jfa_tensor_t *po[MAXP], *pl[MAXP], *pod[MAXP], *pm[MAXP];
    for (int c = 0; c < nparts; ++c) po[c] = &op[c].t, pl[c] = &lp[c].t, pod[c] = &odp[c].t, pm[c] = &mp[c].t;
    rok &= ref64_merge(nparts, po, pl, jvp ? pod : NULL, jvp ? pm : NULL, &no.t, &nl.t, jvp ? &nod.t : NULL,
                       jvp ? &nmu.t : NULL) == 0;
  }
  snprintf(label, sizeof label, "%s: references run", name);
  tu_expect(label, rok);
  tbuf_t *res[4] = {&oa, &la, &oda, &mua}, *ref[4] = {&o, &lse, &od, &mu}, *nref[4] = {&no, &nl, &nod, &nmu};
  const char *names[4] = {"O", "lse", "Od", "mu"};
  /* the merge itself adds only rounding to the accumulator dtype */
  const double merge_tol = acc_dt == JFA_DTYPE_FLOAT64 ? 1e-14 : 1e-6;
  for (int i = 0; i < (jvp ? 4 : 2); ++i) {
    tb_get(res[i]);
    tb_get(ref[i]);
    tb_get(nref[i]);
    snprintf(label, sizeof label, "%s: merged %s == naive merge formula of the parts", name, names[i]);
    tu_check(label, tu_rel_err(res[i]->val, nref[i]->val, nref[i]->n), merge_tol);
    snprintf(label, sizeof label, "%s: merged %s == ref64 over all keys", name, names[i]);
    tu_check(label, tu_rel_err(res[i]->val, ref[i]->val, ref[i]->n), tol);
  }
  free(zero), free(ninf);
  for (int c = 0; c < nparts; ++c) tb_free(&op[c]), tb_free(&lp[c]), tb_free(&odp[c]), tb_free(&mp[c]);
  for (int i = 0; i < 6; ++i) tb_free(ins[i]), tb_free(&pin[i]);
  for (int i = 0; i < 4; ++i) tb_free(res[i]), tb_free(ref[i]), tb_free(nref[i]);
}

/* The ring's path: backend accumulate mode over K/V blocks, float64 accumulators. */
static void check_accumulate(const char *name, geo_t g, const int64_t *cuts, int nparts, jfa_dtype_t dt, double tol) {
  char label[300];
  int64_t B = g.B, Hq = g.Hq, Hkv = g.Hkv, Nq = g.Nq, Nk = g.Nk, D = g.D;
  const jfa_dtype_t acc = jfa_acc_dtype(JFA_DEVICE_CPU);
  tbuf_t q = tb_new(dt, 0, B, Hq, Nq, D), k = tb_new(dt, 0, B, Hkv, Nk, D), v = tb_new(dt, 1, B, Hkv, Nk, D),
         qd = tb_new(dt, 0, B, Hq, Nq, D), kd = tb_new(dt, 0, B, Hkv, Nk, D), vd = tb_new(dt, 0, B, Hkv, Nk, D),
         dout = tb_new(dt, 1, B, Hq, Nq, D);
  tbuf_t *ins[7] = {&q, &k, &v, &qd, &kd, &vd, &dout};
  for (int i = 0; i < 7; ++i) tb_random(ins[i], 1.0);
  /* the reference over all keys (ref64) */
  const jfa_dtype_t f64 = JFA_DTYPE_FLOAT64;
  tbuf_t o = tb_new(f64, 0, B, Hq, Nq, D), lse = tb_new(f64, 0, B, Hq, Nq, 1), od = tb_new(f64, 0, B, Hq, Nq, D),
         mu = tb_new(f64, 0, B, Hq, Nq, 1), dq = tb_new(f64, 0, B, Hq, Nq, D), dk = tb_new(f64, 0, B, Hkv, Nk, D),
         dv = tb_new(f64, 0, B, Hkv, Nk, D);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = g.mask;
  int ok = ref64_forward_jvp(&prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t) == 0;
  ok &= ref64_backward(&prm, &q.t, &k.t, &v.t, NULL, NULL, &dout.t, &dq.t, &dk.t, &dv.t) == 0;

  /* block-wise */
  tbuf_t oa = tb_new(acc, 0, B, Hq, Nq, D), la = tb_new(acc, 0, B, Hq, Nq, 1), oda = tb_new(acc, 0, B, Hq, Nq, D),
         mua = tb_new(acc, 0, B, Hq, Nq, 1), delta = tb_new(acc, 0, B, Hq, Nq, 1), dqa = tb_new(acc, 0, B, Hq, Nq, D),
         dka = tb_new(acc, 0, B, Hkv, Nk, D), dva = tb_new(acc, 0, B, Hkv, Nk, D);
  ok &= jfa_backend_fill(ctx, &oa.t, 0.0) == JFA_SUCCESS && jfa_backend_fill(ctx, &oda.t, 0.0) == JFA_SUCCESS &&
        jfa_backend_fill(ctx, &mua.t, 0.0) == JFA_SUCCESS && jfa_backend_fill(ctx, &la.t, -INFINITY) == JFA_SUCCESS &&
        jfa_backend_fill(ctx, &dqa.t, 0.0) == JFA_SUCCESS && jfa_backend_fill(ctx, &dka.t, 0.0) == JFA_SUCCESS &&
        jfa_backend_fill(ctx, &dva.t, 0.0) == JFA_SUCCESS;
  jfa_problem_t p;
  memset(&p, 0, sizeof p);
  p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Nq = Nq, p.Nk = Nk, p.D = D;
  p.scale = 1.0 / sqrt((double)D), p.causal = g.mask != JFA_MASK_NONE;
  positions(&g, &p.q_pos0);
  for (int c = 0; c < nparts; ++c) {
    jfa_problem_t pb = p;
    pb.k_pos0 = cuts[c];
    pb.Nk = cuts[c + 1] - cuts[c];
    jfa_tensor_t kb = slice_seq(&k.t, cuts[c], pb.Nk), vb = slice_seq(&v.t, cuts[c], pb.Nk),
                 kdb = slice_seq(&kd.t, cuts[c], pb.Nk), vdb = slice_seq(&vd.t, cuts[c], pb.Nk);
    ok &= jfa_backend_attention_block(ctx, &pb, &q.t, &kb, &vb, &qd.t, &kdb, &vdb, &oa.t, &la.t, &oda.t, &mua.t, 1) ==
          JFA_SUCCESS;
  }
  /* the backward with the global lse (float64 accumulator) and delta from the merged O */
  ok &= jfa_backend_attention_delta(ctx, &p, &oa.t, &dout.t, &delta.t) == JFA_SUCCESS;
  for (int c = 0; c < nparts; ++c) {
    jfa_problem_t pb = p;
    pb.k_pos0 = cuts[c];
    pb.Nk = cuts[c + 1] - cuts[c];
    jfa_tensor_t kb = slice_seq(&k.t, cuts[c], pb.Nk), vb = slice_seq(&v.t, cuts[c], pb.Nk),
                 dkb = slice_seq(&dka.t, cuts[c], pb.Nk), dvb = slice_seq(&dva.t, cuts[c], pb.Nk);
    ok &= jfa_backend_attention_backward_block(ctx, &pb, &q.t, &kb, &vb, &dout.t, &la.t, &delta.t, &dqa.t, &dkb, &dvb,
                                               1) == JFA_SUCCESS;
  }
  snprintf(label, sizeof label, "%s: backend calls succeed", name);
  tu_expect(label, ok);
  tbuf_t *res[7] = {&oa, &la, &oda, &mua, &dqa, &dka, &dva}, *ref[7] = {&o, &lse, &od, &mu, &dq, &dk, &dv};
  const char *names[7] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV"};
  for (int i = 0; i < 7; ++i) {
    tb_get(res[i]);
    tb_get(ref[i]);
    snprintf(label, sizeof label, "%s: block-accumulated %s == ref64 over all keys", name, names[i]);
    tu_check(label, tu_rel_err(res[i]->val, ref[i]->val, ref[i]->n), tol);
  }
  for (int i = 0; i < 7; ++i) tb_free(ins[i]), tb_free(res[i]), tb_free(ref[i]);
  tb_free(&delta);
}

/* Row edges of jfa_attention_merge on float64 accumulators (B = H = 1, 3 rows, D = 4), acc and partial of each row:
     row 0: both empty (lse = -inf) over junk o, od, mu: (0, -inf, 0, 0) whatever they held (jfa.h; the CUDA merge
            writes zeros too), not the junk left in place;
     row 1: a NaN accumulator (lse, o, od, mu NaN: a NaN row) and an empty partial: stays NaN (a max that takes
            NaN > -inf as false picks the partial's -inf and would make the row (0, -inf));
     row 2: an empty accumulator over junk and a NaN partial: NaN. */
static void check_merge_edges(void) {
  const int64_t N = 3, D = 4;
  const jfa_dtype_t f64 = JFA_DTYPE_FLOAT64;
  tbuf_t oa = tb_new(f64, 0, 1, 1, N, D), la = tb_new(f64, 0, 1, 1, N, 1), oda = tb_new(f64, 0, 1, 1, N, D),
         mua = tb_new(f64, 0, 1, 1, N, 1), op = tb_new(f64, 0, 1, 1, N, D), lp = tb_new(f64, 0, 1, 1, N, 1),
         odp = tb_new(f64, 0, 1, 1, N, D), mp = tb_new(f64, 0, 1, 1, N, 1);
  double o_acc[12], o_part[12];
  for (int d = 0; d < 4; ++d) {
    o_acc[d] = 7.0 + d, o_acc[4 + d] = NAN, o_acc[8 + d] = -5.0 - d;
    o_part[d] = 3.0 + d, o_part[4 + d] = 0.0, o_part[8 + d] = NAN;
  }
  const double l_acc[3] = {-INFINITY, NAN, -INFINITY}, l_part[3] = {-INFINITY, -INFINITY, NAN};
  const double m_acc[3] = {2.5, NAN, 1.5}, m_part[3] = {-1.5, 0.0, NAN};
  tb_set(&oa, o_acc), tb_set(&oda, o_acc), tb_set(&la, l_acc), tb_set(&mua, m_acc);
  tb_set(&op, o_part), tb_set(&odp, o_part), tb_set(&lp, l_part), tb_set(&mp, m_part);
  int ok = jfa_attention_merge(ctx, &oa.t, &la.t, &oda.t, &mua.t, &op.t, &lp.t, &odp.t, &mp.t) == JFA_SUCCESS;
  tu_expect("merge edges: call succeeds", ok);
  tb_get(&oa), tb_get(&la), tb_get(&oda), tb_get(&mua);
  int empty = la.val[0] == -INFINITY && mua.val[0] == 0.0, nan_acc = isnan(la.val[1]) && isnan(mua.val[1]),
      nan_part = isnan(la.val[2]) && isnan(mua.val[2]);
  for (int d = 0; d < 4; ++d) {
    empty &= oa.val[d] == 0.0 && oda.val[d] == 0.0;
    nan_acc &= isnan(oa.val[4 + d]) && isnan(oda.val[4 + d]);
    nan_part &= isnan(oa.val[8 + d]) && isnan(oda.val[8 + d]);
  }
  tu_expect("merge edges: -inf on both sides gives (0, -inf, 0, 0) over junk accumulators", empty);
  tu_expect("merge edges: a NaN accumulator merged with an empty partial stays NaN", nan_acc);
  tu_expect("merge edges: an empty accumulator merged with a NaN partial is NaN", nan_part);
  tb_free(&oa), tb_free(&la), tb_free(&oda), tb_free(&mua), tb_free(&op), tb_free(&lp), tb_free(&odp), tb_free(&mp);
}

/* A float64 partial whose lse merges beyond FLT_MAX into a float32 accumulator (row 1 of 3: lse_part -1e300, the
   accumulator empty): stored, the row would read lse = -inf beside a finite o, and the next merge would drop it as
   empty. The merge refuses (JFA_ERROR_INVALID_ARGUMENT) before writing any row; within float32's range (lse_part -1e30,
   rows 0 and 2) the same call merges. */
static void check_merge_f32_range(void) {
  const int64_t N = 3, D = 4;
  const jfa_dtype_t f32 = JFA_DTYPE_FLOAT32, f64 = JFA_DTYPE_FLOAT64;
  tbuf_t oa = tb_new(f32, 0, 1, 1, N, D), la = tb_new(f32, 0, 1, 1, N, 1), op = tb_new(f64, 0, 1, 1, N, D),
         lp = tb_new(f64, 0, 1, 1, N, 1);
  double zeros[12] = {0}, part[12], l_acc[3] = {-INFINITY, -INFINITY, -INFINITY}, l_part[3] = {-1e30, -1e300, -1e30};
  for (int x = 0; x < 12; ++x) part[x] = 1.0 + x;
  tb_set(&oa, zeros), tb_set(&la, l_acc), tb_set(&op, part), tb_set(&lp, l_part);
  jfa_status_t st = jfa_attention_merge(ctx, &oa.t, &la.t, NULL, NULL, &op.t, &lp.t, NULL, NULL);
  tb_get(&oa), tb_get(&la);
  int untouched = 1;
  for (int x = 0; x < 12; ++x) untouched &= oa.val[x] == 0.0;
  for (int r = 0; r < 3; ++r) untouched &= la.val[r] == -INFINITY;
  char label[400];
  snprintf(label, sizeof label, "merge f32 range: a merged lse of -1e300 into a float32 lse_acc is refused (%s), "
           "nothing written", st == JFA_SUCCESS ? "succeeded" : jfa_get_last_error());
  tu_expect(label, st == JFA_ERROR_INVALID_ARGUMENT && untouched);
  l_part[1] = -1e30;
  tb_set(&lp, l_part);
  st = jfa_attention_merge(ctx, &oa.t, &la.t, NULL, NULL, &op.t, &lp.t, NULL, NULL);
  tb_get(&oa), tb_get(&la);
  int merged = st == JFA_SUCCESS;
  for (int x = 0; x < 12; ++x) merged &= oa.val[x] == part[x];
  for (int r = 0; r < 3; ++r) merged &= la.val[r] == (double)(float)-1e30;
  tu_expect("merge f32 range: within float32's range the same merge takes the partial", merged);
  tb_free(&oa), tb_free(&la), tb_free(&op), tb_free(&lp);
}

int main(void) {
  tu_init_seed("test_cpu_merge");
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;
  const int64_t two[] = {0, 20, 57}, three[] = {0, 1, 30, 57}, masked[] = {0, 6, 13, 21};

  geo_t none = {2, 4, 2, 33, 57, 16, JFA_MASK_NONE};
  geo_t causal = {1, 4, 1, 57, 57, 24, JFA_MASK_CAUSAL_TOP_LEFT};
  geo_t br = {1, 2, 1, 40, 21, 7, JFA_MASK_CAUSAL_BOTTOM_RIGHT}; /* rows 0..18 fully masked */

  check_public_merge("merge f64 2 parts", none, two, 2, JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT64, 1, 1e-12);
  check_public_merge("merge f64 3 parts causal", causal, three, 3, JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT64, 1, 1e-12);
  check_public_merge("merge f64 -inf rows", br, masked, 3, JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT64, 1, 1e-12);
  check_public_merge("merge forward only", br, masked, 3, JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT64, 0, 1e-12);
  check_public_merge("merge f32 parts, f32 acc", causal, three, 3, JFA_DTYPE_FLOAT32, JFA_DTYPE_FLOAT32, 1, 1e-5);
  check_public_merge("merge f32 parts, f64 acc -inf rows", br, masked, 3, JFA_DTYPE_FLOAT32, JFA_DTYPE_FLOAT64, 1,
                     1e-5);

  check_accumulate("accumulate f64 none", none, two, 2, JFA_DTYPE_FLOAT64, 1e-12);
  check_accumulate("accumulate f64 causal", causal, three, 3, JFA_DTYPE_FLOAT64, 1e-12);
  check_accumulate("accumulate f64 -inf rows", br, masked, 3, JFA_DTYPE_FLOAT64, 1e-12);
  check_accumulate("accumulate f32 inputs", causal, three, 3, JFA_DTYPE_FLOAT32, 1e-5);
  check_merge_edges();
  check_merge_f32_range();

  jfa_context_destroy(ctx);
  return tu_finish();
}
