/*
 * test_cpu_nan.c - NaN propagation on the CPU backend (float64 and float32): a NaN in q, k,
 * v, a tangent, dO or an additive mask entry gives NaN in the outputs it reaches and never
 * outside its batch (tests/common/nan_prop.h says exactly where). Also (CPU only, float64): a row
 * whose visible keys all score -inf through an infinite q or k (not a mask) comes out NaN in
 * O, lse, Od, mu and dq (exp(-inf - -inf), as the math), never the zero row of a fully masked
 * one, and a NaN in V at a visible key scored -inf that way reaches O (0 * NaN).
 *
 *   ctest -L cpu    or    ./test_cpu_nan          (JFA_TEST_SEED=... to repeat)
 */
#include <math.h>
#include <stdlib.h>

#include "cpu_test.h"
#include "nan_prop.h"

static np_buf_t cpu_alloc(jfa_dtype_t dtype, int64_t B, int64_t H, int64_t S, int64_t D) {
  tbuf_t *t = (tbuf_t *)malloc(sizeof(tbuf_t));
  *t = tb_new(dtype, 0, B, H, S, D);
  np_buf_t b = {t->t, t->val, t->n, t};
  return b;
}
static void cpu_set(np_buf_t *b, const double *values) { tb_set((tbuf_t *)b->impl, values); }
static void cpu_get(np_buf_t *b) { tb_get((tbuf_t *)b->impl); }
static void cpu_release(np_buf_t *b) {
  tb_free((tbuf_t *)b->impl);
  free(b->impl);
}

/* 1 if every element of row r (width w) is NaN, 0 if all are finite, -1 otherwise. */
static int row_is(const double *x, int64_t r, int64_t w) {
  int nan = 0, fin = 0;
  for (int64_t d = 0; d < w; ++d) nan += isnan(x[r * w + d]) != 0, fin += isfinite(x[r * w + d]) != 0;
  return nan == w ? 1 : fin == w ? 0 : -1;
}

/* Causal top-left, B = 1, Hq = 2, Hkv = 1, N = 4, D = 4: q[..., 0] = 1 everywhere and k[key 0][0] = -inf, so every
   row scores key 0 at -inf. Row 0 of each head sees key 0 only: NaN (its O, lse, Od, mu and dq; before, O = Od = 0,
   lse = -inf, mu = 0 and dq = 0 as if fully masked); rows 1-3 have finite O and lse. With v[key 0][1] = NaN
   too, O of rows 1-3 is NaN at d = 1 (P = 0 times NaN; before, key 0 was skipped as masked). */
static void inf_scores(jfa_context_t *ctx) {
  enum { B = 1, HQ = 2, HKV = 1, N = 4, D = 4 };
  cpu_prob_t p = cpu_prob(B, HQ, HKV, N, N, D, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0);
  for (int pass = 0; pass < 2; ++pass) {
    double *q = cpu_rnd(p.nq), *k = cpu_rnd(p.nk), *v = cpu_rnd(p.nk), *qd = cpu_rnd(p.nq), *kd = cpu_rnd(p.nk),
           *vd = cpu_rnd(p.nk), *dout = cpu_rnd(p.nq);
    double *o = cpu_poisoned(p.nq), *od = cpu_poisoned(p.nq), *lse = cpu_poisoned(p.ns), *mu = cpu_poisoned(p.ns);
    double *dq = cpu_poisoned(p.nq), *dk = cpu_poisoned(p.nk), *dv = cpu_poisoned(p.nk);
    for (size_t r = 0; r < p.ns; ++r) q[r * D] = 1.0;
    k[0] = -INFINITY;
    if (pass) v[1] = NAN;
    jfa_tensor_t tq = cpu_tq(&p, q), tk = cpu_tk(&p, k), tv = cpu_tk(&p, v), tqd = cpu_tq(&p, qd),
                 tkd = cpu_tk(&p, kd), tvd = cpu_tk(&p, vd), to = cpu_tq(&p, o), tod = cpu_tq(&p, od),
                 tl = cpu_ts(&p, lse), tm = cpu_ts(&p, mu), tdo = cpu_tq(&p, dout), tdq = cpu_tq(&p, dq),
                 tdk = cpu_tk(&p, dk), tdv = cpu_tk(&p, dv);
    int ok = jfa_attention_forward_jvp(ctx, &p.params, &tq, &tk, &tv, &tqd, &tkd, &tvd, &to, &tl, &tod, &tm) ==
             JFA_SUCCESS;
    ok = ok && jfa_attention_backward(ctx, &p.params, &tq, &tk, &tv, &to, &tl, &tdo, &tdq, &tdk, &tdv) == JFA_SUCCESS;
    for (int64_t h = 0; ok && h < HQ; ++h) {
      const int64_t r0 = h * N; /* row 0 of head h */
      ok &= row_is(o, r0, D) == 1 && isnan(lse[r0]) && row_is(od, r0, D) == 1 && isnan(mu[r0]) &&
            row_is(dq, r0, D) == 1;
      for (int64_t i = 1; i < N; ++i) {
        ok &= isfinite(lse[r0 + i]) != 0;
        if (!pass) ok &= row_is(o, r0 + i, D) == 0;
        else ok &= isnan(o[(r0 + i) * D + 1]) && isfinite(o[(r0 + i) * D]) && isfinite(o[(r0 + i) * D + 2]);
      }
    }
    tu_expect(pass ? "cpu float64: NaN in v at a visible key scored -inf (an infinite k) reaches O"
                   : "cpu float64: a row whose only visible key scores -inf (an infinite k) is NaN, not a zero row",
              ok);
    double *all[] = {q, k, v, qd, kd, vd, dout, o, od, lse, mu, dq, dk, dv};
    for (size_t t = 0; t < sizeof all / sizeof all[0]; ++t) free(all[t]);
  }
}

int main(void) {
  tu_init_seed("test_cpu_nan");
  jfa_context_t *ctx;
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;
  np_device_t dev = {ctx, JFA_DTYPE_FLOAT64, JFA_DTYPE_FLOAT64, cpu_alloc, cpu_set, cpu_get, cpu_release};
  np_run(&dev, 20, "cpu float64 D=20");
  dev.dtype = dev.stat_dtype = JFA_DTYPE_FLOAT32;
  np_run(&dev, 16, "cpu float32 D=16");
  inf_scores(ctx);
  jfa_context_destroy(ctx);
  return tu_finish();
}
