/*
 * test_cpu_masks.c - the CPU backend's forward, JVP and backward with every mask
 * of issue 9 against the naive float64 reference of cpu_test.c (written from the
 * definitions in jfa.h): sliding windows (0, 1, 64, wider than N, one side open,
 * explicit positions), dense boolean masks (random, empty rows, a head fully
 * masked, broadcast over batch or heads, strided views), additive masks (large
 * and -inf entries, float32 and float64), packed sequences (lengths 1, 7, 129,
 * empty ones, Nq != Nk per sequence, both alignments) and their combinations
 * with causal masks, GQA and Nq != Nk. Outputs are poisoned and checked to be
 * fully written; rows without a visible key must give O = Od = 0, lse = -inf,
 * mu = 0, dQ = 0 and keys no row sees dK = dV = 0.
 *
 * Run: ctest --test-dir build -R test_cpu_masks   (JFA_TEST_SEED=<n> to repeat)
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
} mcase_t;

static mcase_t mcase(int64_t B, int64_t Hq, int64_t Hkv, int64_t Nq, int64_t Nk, int64_t D, jfa_mask_t mask,
                     int64_t wl, int64_t wr) {
  mcase_t c;
  c.B = B, c.Hq = Hq, c.Hkv = Hkv, c.Nq = Nq, c.Nk = Nk, c.D = D;
  jfa_attention_params_init(&c.params);
  c.params.mask = mask;
  c.params.window_left = wl;
  c.params.window_right = wr;
  return c;
}

/* Runs forward_jvp, forward and backward in `dtype` and compares all outputs with the reference. */
static void run_case(const char *name, const mcase_t *c, jfa_dtype_t dtype, double tol) {
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Nq = c->Nq, Nk = c->Nk, D = c->D;
  tbuf_t q = tb_new(dtype, 0, B, Hq, Nq, D), k = tb_new(dtype, 1, B, Hkv, Nk, D), v = tb_new(dtype, 0, B, Hkv, Nk, D),
         qd = tb_new(dtype, 0, B, Hq, Nq, D), kd = tb_new(dtype, 0, B, Hkv, Nk, D),
         vd = tb_new(dtype, 1, B, Hkv, Nk, D), dout = tb_new(dtype, 0, B, Hq, Nq, D);
  tbuf_t o = tb_new(dtype, 0, B, Hq, Nq, D), od = tb_new(dtype, 1, B, Hq, Nq, D), lse = tb_new(dtype, 0, B, Hq, Nq, 1),
         mu = tb_new(dtype, 0, B, Hq, Nq, 1), o2 = tb_new(dtype, 0, B, Hq, Nq, D),
         lse2 = tb_new(dtype, 0, B, Hq, Nq, 1), dq = tb_new(dtype, 0, B, Hq, Nq, D),
         dk = tb_new(dtype, 0, B, Hkv, Nk, D), dv = tb_new(dtype, 1, B, Hkv, Nk, D);
  tbuf_t *ins[7] = {&q, &k, &v, &qd, &kd, &vd, &dout};
  tbuf_t *outs[9] = {&o, &lse, &od, &mu, &o2, &lse2, &dq, &dk, &dv};
  for (int i = 0; i < 7; ++i) tb_random(ins[i], 1.0);
  char full[300], label[600];
  snprintf(full, sizeof full, "%s [%s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld]", name, jfa_dtype_name(dtype),
           (long long)B, (long long)Hq, (long long)Hkv, (long long)Nq, (long long)Nk, (long long)D);

  const jfa_attention_params_t *pp = &c->params;
  jfa_status_t s1 = jfa_attention_forward_jvp(ctx, pp, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t,
                                              &mu.t);
  jfa_status_t s2 = jfa_attention_forward(ctx, pp, &q.t, &k.t, &v.t, &o2.t, &lse2.t);
  jfa_status_t s3 = jfa_attention_backward(ctx, pp, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &dq.t, &dk.t, &dv.t);
  snprintf(label, sizeof label, "%s: forward_jvp, forward, backward succeed (%s)", full,
           s1 || s2 || s3 ? jfa_get_last_error() : "ok");
  tu_expect(label, s1 == JFA_SUCCESS && s2 == JFA_SUCCESS && s3 == JFA_SUCCESS);
  size_t nan = 0;
  for (int i = 0; i < 9; ++i) {
    tb_get(outs[i]);
    nan += tu_count_nan(outs[i]->val, outs[i]->n);
  }
  snprintf(label, sizeof label, "%s: every output element written, no NaN (%zu left)", full, nan);
  tu_expect(label, nan == 0);
  snprintf(label, sizeof label, "%s: forward == forward_jvp (O, lse)", full);
  tu_check(label, tu_worst(tu_rel_err(o2.val, o.val, o.n), tu_rel_err(lse2.val, lse.val, lse.n)), 0.0);

  ref_problem_t rp = ref_problem(B, Hq, Hkv, Nq, Nk, D, pp);
  double *bias = pp->attn_mask ? ref_dense_bias(pp->attn_mask, B, Hq, Nq, Nk) : NULL;
  rp.bias = bias;
  size_t nq = q.n, nk = k.n, ns = lse.n;
  double *r[7];
  size_t n[7] = {nq, ns, nq, ns, nq, nk, nk};
  for (int i = 0; i < 7; ++i) r[i] = (double *)malloc(n[i] * sizeof(double));
  ref_forward(&rp, q.val, k.val, v.val, qd.val, kd.val, vd.val, r[0], r[1], r[2], r[3]);
  ref_backward(&rp, q.val, k.val, v.val, dout.val, r[4], r[5], r[6]);
  const char *names[7] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV"};
  double *g[7] = {o.val, lse.val, od.val, mu.val, dq.val, dk.val, dv.val};
  for (int i = 0; i < 7; ++i) {
    snprintf(label, sizeof label, "%s: %s vs naive", full, names[i]);
    tu_check(label, tu_rel_err(g[i], r[i], n[i]), tol);
  }

  /* rows with no visible key and keys that no row sees: exact zeros and -inf */
  int64_t rows = 0, keys = 0;
  int ok = 1;
  char *seen = (char *)calloc((size_t)(B * Hkv * Nk), 1);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Nq; ++i) {
        int any = 0;
        for (int64_t j = 0; j < Nk; ++j)
          if (ref_visible(&rp, b, h, i, j)) any = 1, seen[(b * Hkv + h / (Hq / Hkv)) * Nk + j] = 1;
        if (any) continue;
        size_t row = (size_t)((b * Hq + h) * Nq + i);
        ++rows;
        ok &= lse.val[row] == -INFINITY && mu.val[row] == 0.0;
        for (int64_t d = 0; d < D; ++d)
          ok &= o.val[row * D + d] == 0.0 && od.val[row * D + d] == 0.0 && dq.val[row * D + d] == 0.0;
      }
  for (int64_t r2 = 0; r2 < B * Hkv * Nk; ++r2) {
    if (seen[r2]) continue;
    ++keys;
    for (int64_t d = 0; d < D; ++d) ok &= dk.val[r2 * D + d] == 0.0 && dv.val[r2 * D + d] == 0.0;
  }
  snprintf(label, sizeof label, "%s: %lld rows without a visible key (O=Od=0, lse=-inf, mu=0, dQ=0), %lld unseen keys "
           "(dK=dV=0)", full, (long long)rows, (long long)keys);
  tu_expect(label, ok);

  free(seen);
  free(bias);
  for (int i = 0; i < 7; ++i) free(r[i]), tb_free(ins[i]);
  for (int i = 0; i < 9; ++i) tb_free(outs[i]);
}

static void run_both(const char *name, const mcase_t *c) {
  run_case(name, c, JFA_DTYPE_FLOAT64, 1e-11);
}

/* A boolean mask tensor (B or 1, H or 1, Nq, Nk) with P(true) = p_true. */
static tbuf_t bool_mask(int64_t mb, int64_t mh, int64_t Nq, int64_t Nk, double p_true) {
  tbuf_t m = tb_new(JFA_DTYPE_BOOL, 0, mb, mh, Nq, Nk);
  double *x = (double *)malloc(m.n * sizeof(double));
  for (size_t i = 0; i < m.n; ++i) x[i] = tu_uniform() < p_true ? 1.0 : 0.0;
  tb_set(&m, x);
  free(x);
  return m;
}

static void windows(void) {
  const int64_t W[][2] = {{0, 0}, {1, 1}, {64, 0}, {0, 64}, {500, 500}, {3, -1}, {-1, 2}};
  /* each window over these shapes and modes (JFA_MASK_BOTTOM_RIGHT: not causal, anchored bottom-right,
     FlashAttention's window_size, both Nq < Nk and Nq > Nk) */
  static const struct {
    const char *what;
    int64_t B, Hq, Hkv, Nq, Nk, D;
    jfa_mask_t mask;
  } shapes[] = {{"", 1, 2, 1, 129, 129, 8, JFA_MASK_NONE},
                {" + causal top-left, Nq>Nk, GQA", 2, 4, 2, 70, 33, 5, JFA_MASK_CAUSAL_TOP_LEFT},
                {" + causal bottom-right, Nq<Nk", 1, 3, 1, 20, 150, 7, JFA_MASK_CAUSAL_BOTTOM_RIGHT},
                {" bottom-right, not causal, Nq<Nk", 1, 3, 1, 20, 150, 7, JFA_MASK_BOTTOM_RIGHT},
                {" bottom-right, not causal, Nq>Nk, GQA", 2, 4, 2, 70, 33, 5, JFA_MASK_BOTTOM_RIGHT}};
  char name[128];
  for (int w = 0; w < 7; ++w)
    for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); ++k) {
      snprintf(name, sizeof name, "window (%lld,%lld)%s", (long long)W[w][0], (long long)W[w][1], shapes[k].what);
      const mcase_t c = mcase(shapes[k].B, shapes[k].Hq, shapes[k].Hkv, shapes[k].Nq, shapes[k].Nk, shapes[k].D,
                              shapes[k].mask, W[w][0], W[w][1]);
      run_both(name, &c);
    }
  mcase_t c = mcase(1, 2, 2, 40, 90, 6, JFA_MASK_POSITIONS, 4, 9);
  c.params.q_position = 50, c.params.k_position = 10;
  run_both("window (4,9) at positions q=50 k=10 (not causal)", &c);
  c = mcase(1, 2, 1, 30, 30, 6, JFA_MASK_CAUSAL_POSITIONS, 5, -1);
  c.params.q_position = 0, c.params.k_position = 40; /* every row masked */
  run_both("window (5,-1) causal positions, all rows masked", &c);
  c = mcase(1, 1, 1, 64, 64, 4, JFA_MASK_POSITIONS, 2, 2);
  c.params.q_position = 0, c.params.k_position = 100; /* window far from every key */
  run_both("window (2,2) beyond every key (all rows masked)", &c);
  c = mcase(1, 2, 1, 20, 50, 4, JFA_MASK_CAUSAL_POSITIONS, INT64_MAX, INT64_MAX);
  c.params.q_position = (int64_t)1 << 52, c.params.k_position = -((int64_t)1 << 52); /* extreme positions */
  run_both("window (INT64_MAX, INT64_MAX) at positions +-2^52 (no overflow)", &c);
  c = mcase(1, 2, 1, 129, 129, 16, JFA_MASK_CAUSAL_TOP_LEFT, 16, 16);
  run_case("f32 window (16,16) causal", &c, JFA_DTYPE_FLOAT32, 1e-5);
}

static void dense_masks(void) {
  const int64_t B = 2, Hq = 4, Hkv = 2, Nq = 33, Nk = 47, D = 6;
  /* random boolean mask with empty rows and head 1 of batch 0 fully masked */
  tbuf_t m = bool_mask(B, Hq, Nq, Nk, 0.3);
  unsigned char *mb = (unsigned char *)m.t.data;
  for (int64_t j = 0; j < Nk; ++j) mb[(0 * Hq + 2) * Nq * Nk + 5 * Nk + j] = 0; /* empty row */
  for (int64_t j = 0; j < Nk; ++j) mb[(1 * Hq + 3) * Nq * Nk + 0 * Nk + j] = 0; /* empty row */
  memset(mb + (0 * Hq + 1) * Nq * Nk, 0, (size_t)(Nq * Nk));                       /* a head fully masked */
  tb_get(&m);
  mcase_t c = mcase(B, Hq, Hkv, Nq, Nk, D, JFA_MASK_NONE, -1, -1);
  c.params.attn_mask = &m.t;
  run_both("bool mask (B,Hq,Nq,Nk), empty rows, a head fully masked", &c);
  c.params.mask = JFA_MASK_CAUSAL_BOTTOM_RIGHT, c.params.window_left = 9, c.params.window_right = 0;
  run_both("bool mask + causal bottom-right + window (9,0)", &c);
  run_case("f32 bool mask + causal + window", &c, JFA_DTYPE_FLOAT32, 1e-5);
  tb_free(&m);

  /* broadcast over batch and heads; a strided (transposed) view */
  m = bool_mask(1, 1, Nq, Nk, 0.5);
  c = mcase(B, Hq, Hkv, Nq, Nk, D, JFA_MASK_CAUSAL_TOP_LEFT, -1, -1);
  c.params.attn_mask = &m.t;
  run_both("bool mask (1,1,Nq,Nk) broadcast + causal", &c);
  tb_free(&m);
  m = bool_mask(B, 1, Nq, Nk, 0.7);
  c.params.attn_mask = &m.t;
  run_both("bool mask (B,1,Nq,Nk) broadcast over heads", &c);
  tb_free(&m);
  m = bool_mask(1, Hq, Nk, Nq, 0.6); /* stored (Nk, Nq), viewed transposed */
  jfa_tensor_t tr = m.t;
  tr.shape[2] = Nq, tr.shape[3] = Nk, tr.stride[2] = m.t.stride[3], tr.stride[3] = m.t.stride[2];
  c = mcase(B, Hq, Hkv, Nq, Nk, D, JFA_MASK_NONE, -1, -1);
  c.params.attn_mask = &tr;
  run_both("bool mask transposed view (strides 1, Nq)", &c);
  tb_free(&m);

  /* additive masks: random bias with large and -inf entries, float64 and float32 */
  jfa_dtype_t dts[2] = {JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT32};
  for (int t = 0; t < 2; ++t) {
    m = tb_new(dts[t], 0, B, 1, Nq, Nk);
    double *x = (double *)malloc(m.n * sizeof(double));
    for (size_t i = 0; i < m.n; ++i) {
      double u = tu_uniform();
      x[i] = u < 0.2 ? -INFINITY : u < 0.25 ? 1e4 * tu_uniform() : u < 0.3 ? -1e30 : 3.0 * tu_normal();
    }
    /* key i (visible to query i under every mask below) keeps an ordinary bias: a row whose
       visible biases were all -1e30 has |S| ~ 1e30, where lse = m + log(l) rounds to m and the
       backward's P = exp(S - lse) cannot be formed (jfa.h, jfa_attention_backward) */
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < Nq && i < Nk; ++i) x[(b * Nq + i) * Nk + i] = 3.0 * tu_normal();
    /* rows i % 4 == 1 without the large positive biases: a row with one dominates its softmax (P one-hot, dQ and its
       keys' dK ~ 0 up to rounding), and where every row had one (JFA_TEST_SEED=1796395629283511) dQ and dK were
       rounding noise of norm ~1e-15, which the relative error against the reference's exact zeros cannot judge */
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 1; i < Nq; i += 4)
        for (int64_t j = 0; j < Nk; ++j)
          if (x[(b * Nq + i) * Nk + j] > 100.0) x[(b * Nq + i) * Nk + j] = 3.0 * tu_normal();
    for (int64_t j = 0; j < Nk; ++j) x[3 * Nk + j] = -INFINITY; /* row 3 of batch 0: no visible key */
    tb_set(&m, x);
    free(x);
    c = mcase(B, Hq, Hkv, Nq, Nk, D, JFA_MASK_NONE, -1, -1);
    c.params.attn_mask = &m.t;
    run_both(t == 0 ? "additive f64 mask: -inf, 1e4, -1e30 entries" : "additive f32 mask: -inf, 1e4, -1e30 entries",
             &c);
    c.params.mask = JFA_MASK_CAUSAL_TOP_LEFT, c.params.window_left = 20, c.params.window_right = 0;
    run_both(t == 0 ? "additive f64 mask + causal + window (20,0)" : "additive f32 mask + causal + window (20,0)",
             &c);
    /* float32 lse near 1e4 (the large biases) carries an absolute error of ~6e-4, which the backward's
     * P = exp(S - lse) inherits: the tolerance reflects the saved statistic, not the kernel */
    if (t == 1) run_case("f32 q, additive f32 mask + causal + window", &c, JFA_DTYPE_FLOAT32, 2e-3);
    tb_free(&m);
  }
}

static void packed(void) {
  /* lengths 1, 7, 129 and a mix; Nq != Nk per sequence; empty sequences */
  static const int64_t cq1[] = {0, 1}, ck1[] = {0, 1};
  static const int64_t cq7[] = {0, 7, 14}, ck7[] = {0, 7, 14};
  static const int64_t cq129[] = {0, 129}, ck129[] = {0, 129};
  static const int64_t cqm[] = {0, 1, 8, 137, 137, 150}, ckm[] = {0, 1, 8, 137, 137, 150};
  static const int64_t cqd[] = {0, 1, 8, 8, 40, 169}, ckd[] = {0, 3, 5, 9, 9, 140}; /* Nq != Nk per sequence */
  struct {
    const char *name;
    const int64_t *cq, *ck;
    int64_t nseq;
  } sets[] = {{"packed [1]", cq1, ck1, 1},
              {"packed [7,7]", cq7, ck7, 2},
              {"packed [129]", cq129, ck129, 1},
              {"packed [1,7,129,0,13]", cqm, ckm, 5},
              {"packed q[1,7,0,32,129] k[3,2,4,0,131]", cqd, ckd, 5}};
  const jfa_mask_t modes[4] = {JFA_MASK_NONE, JFA_MASK_CAUSAL_TOP_LEFT, JFA_MASK_CAUSAL_BOTTOM_RIGHT,
                               JFA_MASK_BOTTOM_RIGHT};
  const char *mode_names[4] = {"no causal", "causal top-left", "causal bottom-right", "bottom-right, not causal"};
  char name[256];
  for (int s = 0; s < 5; ++s)
    for (int md = 0; md < 4; ++md) {
      int64_t Nq = sets[s].cq[sets[s].nseq], Nk = sets[s].ck[sets[s].nseq];
      mcase_t c = mcase(1, 4, 2, Nq, Nk, 5, modes[md], -1, -1);
      c.params.cu_seqlens_q = sets[s].cq, c.params.cu_seqlens_k = sets[s].ck, c.params.num_seqs = sets[s].nseq;
      snprintf(name, sizeof name, "%s, %s", sets[s].name, mode_names[md]);
      run_both(name, &c);
      if (s >= 3) {
        const int64_t wr = md == 0 || md == 3 ? 2 : 0;
        c.params.window_left = 4, c.params.window_right = wr;
        snprintf(name, sizeof name, "%s, %s, window (4,%lld)", sets[s].name, mode_names[md], (long long)wr);
        run_both(name, &c);
      }
    }
  /* everything at once: packed + causal bottom-right + window + bool mask + GQA, float32 too */
  mcase_t c = mcase(1, 4, 1, 169, 140, 7, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 6, 0);
  c.params.cu_seqlens_q = cqd, c.params.cu_seqlens_k = ckd, c.params.num_seqs = 5;
  tbuf_t m = bool_mask(1, 4, 169, 140, 0.8);
  c.params.attn_mask = &m.t;
  run_both("packed + causal bottom-right + window (6,0) + bool mask + GQA 4:1", &c);
  run_case("f32 packed + causal bottom-right + window (6,0) + bool mask + GQA 4:1", &c, JFA_DTYPE_FLOAT32, 1e-5);
  /* JFA_PARAMS_SEQLENS_DEVICE on the CPU: the context's device memory is host memory, read and checked as without it */
  c.params.flags |= JFA_PARAMS_SEQLENS_DEVICE;
  run_both("packed + causal bottom-right + window (6,0) + bool mask + GQA 4:1, JFA_PARAMS_SEQLENS_DEVICE", &c);
  tb_free(&m);
}

/* Rows whose visible keys all carry one huge finite bias (padding filled with -1e9 or -1e30, or +2000): |lse| >=
   1024, where lse = max + log(n) keeps the max's rounding (at -1e30 lse rounds to the max itself, so P = exp(S - lse)
   would be 1 for every key), so the single-device backward recomputes these rows' statistics from their own scores
   (src/cpu/row_shift.c). -inf keys among them: the row's first key (row 0), two in the middle (row 1), the last key
   (row 5). The reference (cpu_test.c) normalises by l, not through lse. */
static void padded_rows(void) {
  const int64_t Nq = 6, Nk = 19;
  tbuf_t m = tb_new(JFA_DTYPE_FLOAT64, 0, 1, 1, Nq, Nk);
  double x[6 * 19];
  for (int64_t i = 0; i < Nq; ++i)
    for (int64_t j = 0; j < Nk; ++j) {
      double *e = &x[i * Nk + j];
      *e = 0.5 * tu_normal();
      if (i == 0) *e = j == 0 ? -INFINITY : -1e9;
      if (i == 1) *e = j == 3 || j == 4 ? -INFINITY : -1e30;
      if (i == 2) *e = -1e9;
      if (i == 4 && j >= 7) *e = -1e9; /* ordinary row with a padded tail */
      if (i == 5) *e = j == Nk - 1 ? -INFINITY : 2000.0 + 0.5 * tu_normal();
    }
  tb_set(&m, x);
  mcase_t c = mcase(2, 4, 2, Nq, Nk, 5, JFA_MASK_NONE, -1, -1);
  c.params.attn_mask = &m.t;
  run_both("additive mask: rows padded at -1e9 / -1e30 / +2000 with -inf keys", &c);
  c.params.window_left = 16, c.params.window_right = 16;
  run_both("additive mask: padded rows + window (16,16)", &c);
  tb_free(&m);
}

/* A float32 lse cannot hold a row's lse beyond FLT_MAX: float32 data with a float64 bias of -1e300 (row 0: every key;
   row 2: beside -inf keys) or +1e300 (row 1) has O right and lse stored as -inf / +inf. Before the forty-second
   session's fix the backward took lse = -inf for a fully masked row and lse = +inf for P = 0, and gave these rows zero
   gradients with success. The single-device backward and backward-JVP now recompute such rows' statistics
   (src/cpu/row_shift.c): dq, dk, dv against the naive float64 reference (which normalises by l), the backward-JVP's
   dq, dk, dv equal to the backward's, and a row with no visible key (row 3) still lse = -inf with zero gradient. */
static void lse_overflow(void) {
  const int64_t B = 1, H = 2, Nq = 5, Nk = 9, D = 4;
  const jfa_dtype_t f = JFA_DTYPE_FLOAT32;
  tbuf_t m = tb_new(JFA_DTYPE_FLOAT64, 0, 1, 1, Nq, Nk);
  double x[5 * 9];
  for (int64_t i = 0; i < Nq; ++i)
    for (int64_t j = 0; j < Nk; ++j) {
      double *e = &x[i * Nk + j];
      *e = 0.5 * tu_normal();
      if (i == 0) *e = -1e300;
      if (i == 1) *e = 1e300;
      if (i == 2) *e = j % 3 == 0 ? -INFINITY : -1e300;
      if (i == 3) *e = -INFINITY;
    }
  tb_set(&m, x);
  jfa_attention_params_t pp;
  jfa_attention_params_init(&pp);
  pp.attn_mask = &m.t;
  tbuf_t q = tb_new(f, 0, B, H, Nq, D), k = tb_new(f, 0, B, H, Nk, D), v = tb_new(f, 0, B, H, Nk, D),
         qd = tb_new(f, 0, B, H, Nq, D), kd = tb_new(f, 0, B, H, Nk, D), vd = tb_new(f, 0, B, H, Nk, D),
         dout = tb_new(f, 0, B, H, Nq, D), doutd = tb_new(f, 0, B, H, Nq, D);
  tbuf_t o = tb_new(f, 0, B, H, Nq, D), lse = tb_new(f, 0, B, H, Nq, 1), od = tb_new(f, 0, B, H, Nq, D),
         mu = tb_new(f, 0, B, H, Nq, 1), dq = tb_new(f, 0, B, H, Nq, D), dk = tb_new(f, 0, B, H, Nk, D),
         dv = tb_new(f, 0, B, H, Nk, D), g[6];
  tbuf_t *ins[8] = {&q, &k, &v, &qd, &kd, &vd, &dout, &doutd};
  for (int a = 0; a < 8; ++a) tb_random(ins[a], 1.0);
  for (int a = 0; a < 6; ++a) g[a] = tb_new(f, 0, B, H, a % 3 == 0 ? Nq : Nk, D), tb_poison(&g[a]);
  tb_poison(&dq), tb_poison(&dk), tb_poison(&dv);
  jfa_status_t s1 = jfa_attention_forward_jvp(ctx, &pp, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t,
                                              &mu.t);
  jfa_status_t s2 = jfa_attention_backward(ctx, &pp, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &dq.t, &dk.t, &dv.t);
  jfa_status_t s3 = jfa_attention_backward_jvp(ctx, &pp, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t,
                                               &mu.t, &dout.t, &doutd.t, &g[0].t, &g[1].t, &g[2].t, &g[3].t,
                                               &g[4].t, &g[5].t);
  char label[300];
  snprintf(label, sizeof label, "lse overflow: forward_jvp, backward, backward_jvp succeed (%s)",
           s1 || s2 || s3 ? jfa_get_last_error() : "ok");
  tu_expect(label, s1 == JFA_SUCCESS && s2 == JFA_SUCCESS && s3 == JFA_SUCCESS);
  tbuf_t *outs[5] = {&o, &lse, &dq, &dk, &dv};
  for (int a = 0; a < 5; ++a) tb_get(outs[a]);
  for (int a = 0; a < 6; ++a) tb_get(&g[a]);
  int stored = 1;
  for (int64_t h = 0; h < H; ++h)
    stored &= lse.val[h * Nq + 0] == -INFINITY && lse.val[h * Nq + 1] == INFINITY &&
              lse.val[h * Nq + 2] == -INFINITY && lse.val[h * Nq + 3] == -INFINITY && isfinite(lse.val[h * Nq + 4]);
  tu_expect("lse overflow: float32 lse stores -inf, +inf, -inf for rows 0-2 (their lse beyond FLT_MAX), -inf for "
            "the masked row 3", stored);

  jfa_attention_params_t rpp = pp;
  ref_problem_t rp = ref_problem(B, H, H, Nq, Nk, D, &rpp);
  double *bias = ref_dense_bias(&m.t, B, H, Nq, Nk);
  rp.bias = bias;
  double *r[7];
  size_t n[7] = {o.n, lse.n, o.n, lse.n, q.n, k.n, k.n};
  for (int a = 0; a < 7; ++a) r[a] = (double *)malloc(n[a] * sizeof(double));
  ref_forward(&rp, q.val, k.val, v.val, qd.val, kd.val, vd.val, r[0], r[1], r[2], r[3]);
  ref_backward(&rp, q.val, k.val, v.val, dout.val, r[4], r[5], r[6]);
  tu_check("lse overflow: O vs naive", tu_rel_err(o.val, r[0], o.n), 1e-5);
  tu_check("lse overflow: dQ vs naive", tu_rel_err(dq.val, r[4], q.n), 1e-5);
  tu_check("lse overflow: dK vs naive", tu_rel_err(dk.val, r[5], k.n), 1e-5);
  tu_check("lse overflow: dV vs naive", tu_rel_err(dv.val, r[6], k.n), 1e-5);
  tu_check("lse overflow: backward_jvp's dq, dk, dv equal the backward's",
           tu_worst(tu_rel_err(g[3].val, dq.val, q.n), tu_worst(tu_rel_err(g[4].val, dk.val, k.n),
                                                               tu_rel_err(g[5].val, dv.val, k.n))), 1e-6);
  /* the backward-JVP's six outputs against the same calls with a float64 lse and mu (which hold these rows' lse) */
  tbuf_t lse64 = tb_new(JFA_DTYPE_FLOAT64, 0, B, H, Nq, 1), mu64 = tb_new(JFA_DTYPE_FLOAT64, 0, B, H, Nq, 1), g64[6];
  for (int a = 0; a < 6; ++a) g64[a] = tb_new(f, 0, B, H, a % 3 == 0 ? Nq : Nk, D), tb_poison(&g64[a]);
  jfa_status_t s4 = jfa_attention_forward_jvp(ctx, &pp, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse64.t, &od.t,
                                              &mu64.t);
  jfa_status_t s5 = jfa_attention_backward_jvp(ctx, &pp, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse64.t,
                                               &od.t, &mu64.t, &dout.t, &doutd.t, &g64[0].t, &g64[1].t, &g64[2].t,
                                               &g64[3].t, &g64[4].t, &g64[5].t);
  double w6 = s4 == JFA_SUCCESS && s5 == JFA_SUCCESS ? 0.0 : NAN;
  for (int a = 0; a < 6; ++a) tb_get(&g64[a]), w6 = tu_worst(w6, tu_rel_err(g[a].val, g64[a].val, g[a].n));
  tu_check("lse overflow: backward_jvp's dQd, dKd, dVd, dQ, dK, dV with the float32 lse equal those with a float64 "
           "lse", w6, 1e-6);
  for (int a = 0; a < 6; ++a) tb_free(&g64[a]);
  tb_free(&lse64), tb_free(&mu64);
  int zero = 1, nz = 0;
  for (int64_t h = 0; h < H; ++h)
    for (int64_t d = 0; d < D; ++d) {
      zero &= dq.val[(h * Nq + 3) * D + d] == 0.0;
      for (int64_t i = 0; i < 3; ++i) nz += dq.val[(h * Nq + i) * D + d] != 0.0;
    }
  snprintf(label, sizeof label, "lse overflow: the masked row's dQ is 0, rows 0-2's are not (%d of %lld nonzero)", nz,
           (long long)(H * 3 * D));
  tu_expect(label, zero && nz == H * 3 * D);
  free(bias);
  for (int a = 0; a < 7; ++a) free(r[a]);
  for (int a = 0; a < 8; ++a) tb_free(ins[a]);
  for (int a = 0; a < 5; ++a) tb_free(outs[a]);
  for (int a = 0; a < 6; ++a) tb_free(&g[a]);
  tb_free(&od), tb_free(&mu), tb_free(&m);
}

/* Rows whose first visible key scores -inf (q . k overflowing float64) beside keys padded at -1e30 (row 0; |lse| >=
   1024) or -1e300 (row 1; beyond float32) and an ordinary row (row 2), float64 data with a float64 and a float32 lse:
   the recomputation of row_shift.c must skip the -inf score (P = 0) rather than let exp(-inf - -inf) make the row's
   sum NaN and keep the given lse (before the fix: row 0's gradients 7x too large with the float64 lse, rows 0-1's
   zero with the float32 one). The reference is the same call with key 0 masked instead (the same mathematics). */
/* max |a - b| / max |b| without squares (dK holds 1e200 here); NaN anywhere gives NaN. */
static double max_rel(const double *a, const double *b, size_t n) {
  double d = 0.0, m = 0.0;
  for (size_t i = 0; i < n; ++i) {
    if (isnan(a[i]) || isnan(b[i])) return NAN;
    d = fmax(d, fabs(a[i] - b[i])), m = fmax(m, fabs(b[i]));
  }
  return m > 0.0 ? d / m : d;
}

static void inf_key_rows(void) {
  const int64_t Nq = 3, Nk = 8, D = 3;
  const jfa_dtype_t f64 = JFA_DTYPE_FLOAT64;
  double x[3 * 8], xm[3 * 8], kv[8 * 3];
  for (int64_t i = 0; i < Nq; ++i)
    for (int64_t j = 0; j < Nk; ++j) {
      x[i * Nk + j] = j == 0 ? 0.0 : i == 0 ? -1e30 : i == 1 ? -1e300 : 0.3 * tu_normal();
      xm[i * Nk + j] = j == 0 ? -INFINITY : x[i * Nk + j];
    }
  tbuf_t m = tb_new(f64, 0, 1, 1, Nq, Nk), mm = tb_new(f64, 0, 1, 1, Nq, Nk);
  tb_set(&m, x), tb_set(&mm, xm);
  tbuf_t q = tb_new(f64, 0, 1, 1, Nq, D), k = tb_new(f64, 0, 1, 1, Nk, D), v = tb_new(f64, 0, 1, 1, Nk, D),
         dout = tb_new(f64, 0, 1, 1, Nq, D);
  tb_random(&q, 1.0), tb_random(&k, 1.0), tb_random(&v, 1.0), tb_random(&dout, 1.0);
  /* q[., 0] = 1e200, key 0 = (-1e200, 0, 0), the other keys 0 in column 0: key 0's q . k overflows to -inf in every
     row (finite k, so dQ = sum dS K takes 0 x -1e200 = 0 there, not 0 x inf), the others' scores are ordinary */
  for (int64_t i = 0; i < Nq; ++i) q.val[i * D] = 1e200;
  for (int64_t c = 0; c < Nk * D; ++c) kv[c] = c % D == 0 ? 0.0 : k.val[c];
  kv[0] = -1e200, kv[1] = kv[2] = 0.0;
  tb_set(&q, q.val), tb_set(&k, kv);
  double worst[2] = {0.0, 0.0};
  int ok = 1;
  for (int lt = 0; lt < 2; ++lt) { /* the lse's dtype: float64, float32 */
    const jfa_dtype_t ld = lt ? JFA_DTYPE_FLOAT32 : f64;
    tbuf_t o[2], lse[2], g[2][3];
    for (int var = 0; var < 2; ++var) { /* 0: key 0 scores -inf; 1: key 0 masked */
      jfa_attention_params_t pp;
      jfa_attention_params_init(&pp);
      pp.attn_mask = var ? &mm.t : &m.t;
      o[var] = tb_new(f64, 0, 1, 1, Nq, D), lse[var] = tb_new(var ? f64 : ld, 0, 1, 1, Nq, 1);
      g[var][0] = tb_new(f64, 0, 1, 1, Nq, D), g[var][1] = tb_new(f64, 0, 1, 1, Nk, D);
      g[var][2] = tb_new(f64, 0, 1, 1, Nk, D);
      ok &= jfa_attention_forward(ctx, &pp, &q.t, &k.t, &v.t, &o[var].t, &lse[var].t) == JFA_SUCCESS;
      ok &= jfa_attention_backward(ctx, &pp, &q.t, &k.t, &v.t, &o[var].t, &lse[var].t, &dout.t, &g[var][0].t,
                                   &g[var][1].t, &g[var][2].t) == JFA_SUCCESS;
      for (int a = 0; a < 3; ++a) tb_get(&g[var][a]);
      tb_get(&o[var]);
    }
    worst[lt] = tu_worst(worst[lt], max_rel(o[0].val, o[1].val, o[0].n));
    for (int a = 0; a < 3; ++a) worst[lt] = tu_worst(worst[lt], max_rel(g[0][a].val, g[1][a].val, g[0][a].n));
    for (int var = 0; var < 2; ++var) {
      tb_free(&o[var]), tb_free(&lse[var]);
      for (int a = 0; a < 3; ++a) tb_free(&g[var][a]);
    }
  }
  tu_expect("rows whose first visible key scores -inf: calls succeed", ok);
  tu_check("rows whose first visible key scores -inf (padded at -1e30 / -1e300), float64 lse: O, dQ, dK, dV equal the "
           "same call with that key masked", worst[0], 1e-12);
  tu_check("the same with a float32 lse (row 2's P carries its float32 rounding, rows 0-1 are recomputed)", worst[1],
           1e-6);
  tb_free(&m), tb_free(&mm), tb_free(&q), tb_free(&k), tb_free(&v), tb_free(&dout);
}

int main(void) {
  tu_init_seed("test_cpu_masks");
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) {
    printf("context: %s\n", jfa_get_last_error());
    return 1;
  }
  windows();
  dense_masks();
  padded_rows();
  lse_overflow();
  inf_key_rows();
  packed();
  jfa_context_destroy(ctx);
  return tu_finish();
}
