/*
 * test_gpu_sm90_f32_variants.c - the Hopper float32 fused forward+JVP's tuning variant at D = 64
 * (tuning builds, -DJFA_TUNING=ON: JFA_TUNE_SM90A=2, src/kernels/sm90/tiles.h, fwd_f32.cuh)
 * against the float64 CPU backend and against variant 0 (the default) on the same inputs, in
 * 3xTF32 and in TF32 (JFA_FLAG_ALLOW_TF32). The variant is read from the environment at each call.
 * Variant 2 (no QREG: Q's fragments from shared memory per block, the default before the sixth session)
 * issues variant 0's (QREG) products in its order per accumulator element (3xTF32's SMALLFIRST
 * score products included): O, lse, Od and
 * mu must be bitwise variant 0's (NaN where it has NaN); variant 3 (row 0 without MPASS, the softmax's mask as a
 * pass of its own, which row 0 takes since the tenth session) too. test_gpu_f32's bounds
 * against float64 (3xTF32 float32's 1e-5, growing as 2 sqrt(Nk / 1000) past Nk = 250; TF32 1e-2)
 * apply to every variant. Cases: N = 1, 7, 129 (partial blocks), 1000, 2048 (the stage ring
 * wrapping many times), Nq != Nk, causal in both alignments and with positions (fully masked rows:
 * O = Od = 0, lse = -inf), GQA 8:1, MQA, BSHD, and a NaN in q (its row's O, lse, Od, mu NaN, every
 * other row finite and within the bounds). Outputs are poisoned (NaN) before each call. Exits 77
 * (CTest "Not Run") without a GPU or where the float32 JVP at D = 64 does not run on the sm90 family.
 *
 *   ./test_gpu_sm90_f32_variants [case-index]   (JFA_TEST_SEED=... to repeat)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "gpu_test.h"

typedef struct {
  int bshd;
  int64_t B, Hq, Hkv, Nq, Nk;
  jfa_mask_t mask;
  int64_t qpos, kpos;
  int nan_row; /* >= 0: q[0][0][nan_row][3] = NaN */
} vcase_t;

#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define POS JFA_MASK_CAUSAL_POSITIONS

static const vcase_t cases[] = {
    /* bshd B Hq Hkv  Nq    Nk   mask qpos kpos nan */
    {0, 2, 4, 4, 1000, 1000, NONE, 0, 0, -1},
    {0, 1, 2, 2, 1, 1, NONE, 0, 0, -1},
    {1, 2, 2, 2, 7, 7, NONE, 0, 0, -1},
    {0, 1, 2, 2, 129, 129, TL, 0, 0, -1},
    {1, 1, 16, 2, 129, 1000, TL, 0, 0, -1}, /* GQA 8:1, BSHD */
    {0, 1, 2, 2, 1000, 300, BR, 0, 0, -1},  /* rows < 700 fully masked */
    {0, 1, 4, 1, 200, 300, POS, 0, 10, -1}, /* MQA, rows 0..9 fully masked */
    {0, 1, 2, 2, 2048, 2048, BR, 0, 0, -1},
    {0, 1, 2, 2, 7, 129, NONE, 0, 0, -1},
    {0, 1, 2, 2, 300, 300, NONE, 0, 0, 5}, /* a NaN in q */
};

/* variant, and whether its arithmetic is variant 0's (bitwise results) in 3xTF32 and in TF32 */
static const struct {
  int v, bitwise[2];
} variants[] = {{2, {1, 1}}, {3, {1, 1}}};

/* x with the NaN row of head (0, 0) (D values; D = 1: lse, mu) zeroed: the bounds' view */
static double *rows_cleared(const double *x, size_t n, int64_t D, int64_t row) {
  double *y = malloc(n * sizeof(double));
  memcpy(y, x, n * sizeof(double));
  if (row >= 0)
    for (int64_t d = 0; d < D; ++d) y[(size_t)(row * D + d)] = 0.0; /* head (0, 0) is first in BHSD */
  return y;
}

static void check_bound(const char *nm, const double *got, const double *ref, size_t n, int64_t D, int nan_row,
                        double tol) {
  double *g = rows_cleared(got, n, D, nan_row), *r = rows_cleared(ref, n, D, nan_row);
  gt_compare(nm, g, r, n, tol);
  free(g), free(r);
}

/* how many elements differ bitwise (two NaN count as equal) */
static size_t bit_diff(const double *a, const double *b, size_t n) {
  size_t d = 0;
  for (size_t i = 0; i < n; ++i) d += !(isnan(a[i]) && isnan(b[i])) && memcmp(&a[i], &b[i], sizeof(double)) != 0;
  return d;
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const vcase_t *c = &cases[ci];
  const jfa_dtype_t F = JFA_DTYPE_FLOAT32;
  const int64_t D = 64;
  printf("case %d: fp32 JVP D=64 %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld mask=%d pos=(%lld,%lld) nan_row=%d\n", ci,
         c->bshd ? "BSHD" : "BHSD", (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)c->Nq,
         (long long)c->Nk, (int)c->mask, (long long)c->qpos, (long long)c->kpos, c->nan_row);
  fflush(stdout);
  const double grow = fmax(1.0, 2.0 * sqrt((double)c->Nk / 1000.0));
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.q_position = c->qpos;
  prm.k_position = c->kpos;

  gbuf_t q = gb_new(F, c->bshd, c->B, c->Hq, c->Nq, D), k = gb_new(F, c->bshd, c->B, c->Hkv, c->Nk, D),
         v = gb_new(F, c->bshd, c->B, c->Hkv, c->Nk, D), qd = gb_new(F, c->bshd, c->B, c->Hq, c->Nq, D),
         kd = gb_new(F, c->bshd, c->B, c->Hkv, c->Nk, D), vd = gb_new(F, c->bshd, c->B, c->Hkv, c->Nk, D);
  gbuf_t o = gb_new(F, c->bshd, c->B, c->Hq, c->Nq, D), od = gb_new(F, c->bshd, c->B, c->Hq, c->Nq, D),
         lse = gb_new(F, 0, c->B, c->Hq, c->Nq, 1), mu = gb_new(F, 0, c->B, c->Hq, c->Nq, 1);
  gb_random(&q, 1.0);
  gb_random(&k, 1.0);
  gb_random(&v, 1.0);
  gb_random(&qd, 1.0);
  gb_random(&kd, 1.0);
  gb_random(&vd, 1.0);
  if (c->nan_row >= 0) {
    double *qv = malloc(q.n * sizeof(double));
    memcpy(qv, q.val, q.n * sizeof(double));
    qv[c->nan_row * D + 3] = NAN; /* (b, h) = (0, 0) is first in the BHSD values */
    gb_set(&q, qv);
    free(qv);
  }

  const size_t nq = q.n, nr = lse.n;
  double *ro = calloc(nq, 8), *rod = calloc(nq, 8), *rlse = calloc(nr, 8), *rmu = calloc(nr, 8);
  jfa_tensor_t hq = host_f64(q.val, c->B, c->Hq, c->Nq, D), hk = host_f64(k.val, c->B, c->Hkv, c->Nk, D),
               hv = host_f64(v.val, c->B, c->Hkv, c->Nk, D), hqd = host_f64(qd.val, c->B, c->Hq, c->Nq, D),
               hkd = host_f64(kd.val, c->B, c->Hkv, c->Nk, D), hvd = host_f64(vd.val, c->B, c->Hkv, c->Nk, D),
               ho = host_f64(ro, c->B, c->Hq, c->Nq, D), hod = host_f64(rod, c->B, c->Hq, c->Nq, D),
               hl = host_f64(rlse, c->B, c->Hq, c->Nq, 1), hm = host_f64(rmu, c->B, c->Hq, c->Nq, 1);
  gt_ok(jfa_attention_forward_jvp(cpu, &prm, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
  size_t empty_rows = 0;
  for (size_t r = 0; r < nr; ++r) empty_rows += rlse[r] == -INFINITY;
  printf("  %zu of %zu rows see no key\n", empty_rows, nr);

  double *o0 = calloc(nq, 8), *od0 = calloc(nq, 8), *l0 = calloc(nr, 8), *m0 = calloc(nr, 8);
  char nm[160];
  for (int tf32 = 0; tf32 < 2; ++tf32) {
    const char *md = tf32 ? "tf32" : "3xtf32";
    const double tol = tf32 ? 1e-2 : gt_tol(F) * grow;
    gt_ok(jfa_context_set_flags(gpu, tf32 ? JFA_FLAG_ALLOW_TF32 : 0), "set_flags");
    for (int vi = -1; vi < (int)(sizeof(variants) / sizeof(variants[0])); ++vi) {
      const int var = vi < 0 ? 0 : variants[vi].v;
      char val[16];
      snprintf(val, sizeof(val), "%d", var);
      setenv("JFA_TUNE_SM90A", val, 1);
      gb_poison(&o), gb_poison(&lse), gb_poison(&od), gb_poison(&mu);
      gt_ok(jfa_attention_forward_jvp(gpu, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
            "forward_jvp");
      gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
      snprintf(nm, sizeof(nm), "case %d %s variant %d jvp", ci, md, var);
      gt_check_path(gpu, nm, 0, GT_PATH_SM90);
      const int prec = jfa_cuda_last_precision(gpu, 0);
      snprintf(nm, sizeof(nm), "case %d %s variant %d: float32 arithmetic %d (1 TF32, 3 3xTF32)", ci, md, var, prec);
      tu_expect(nm, prec == (tf32 ? 1 : 3));
      snprintf(nm, sizeof(nm), "case %d %s variant %d O", ci, md, var);
      check_bound(nm, o.val, ro, nq, D, c->nan_row, tol);
      snprintf(nm, sizeof(nm), "case %d %s variant %d lse", ci, md, var);
      check_bound(nm, lse.val, rlse, nr, 1, c->nan_row, tol);
      snprintf(nm, sizeof(nm), "case %d %s variant %d Od", ci, md, var);
      check_bound(nm, od.val, rod, nq, D, c->nan_row, tol);
      snprintf(nm, sizeof(nm), "case %d %s variant %d mu", ci, md, var);
      check_bound(nm, mu.val, rmu, nr, 1, c->nan_row, tol);
      size_t bad = 0; /* rows without a visible key: exactly O = Od = 0, lse = -inf */
      for (size_t r = 0; r < nr; ++r)
        if (rlse[r] == -INFINITY)
          bad += !(lse.val[r] == -INFINITY && gt_row_zero(o.val, (int64_t)r, D) && gt_row_zero(od.val, (int64_t)r, D));
      snprintf(nm, sizeof(nm), "case %d %s variant %d: rows without keys O = Od = 0, lse = -inf (%zu bad)", ci, md,
               var, bad);
      tu_expect(nm, bad == 0);
      if (c->nan_row >= 0) {
        size_t nn = 0; /* the NaN row: every output NaN */
        for (int64_t d = 0; d < D; ++d)
          nn += isnan(o.val[c->nan_row * D + d]) && isnan(od.val[c->nan_row * D + d]);
        nn += isnan(lse.val[c->nan_row]) && isnan(mu.val[c->nan_row]);
        snprintf(nm, sizeof(nm), "case %d %s variant %d: the NaN row's O, Od, lse, mu NaN (%zu of %lld)", ci, md, var,
                 nn, (long long)D + 1);
        tu_expect(nm, nn == (size_t)D + 1);
      }
      if (var == 0) {
        memcpy(o0, o.val, nq * 8), memcpy(od0, od.val, nq * 8), memcpy(l0, lse.val, nr * 8), memcpy(m0, mu.val, nr * 8);
      } else if (variants[vi].bitwise[tf32]) {
        const size_t diff = bit_diff(o.val, o0, nq) + bit_diff(od.val, od0, nq) + bit_diff(lse.val, l0, nr) +
                            bit_diff(mu.val, m0, nr);
        snprintf(nm, sizeof(nm), "case %d %s variant %d: O, lse, Od, mu bitwise those of variant 0 (%zu differ)", ci,
                 md, var, diff);
        tu_expect(nm, diff == 0);
      }
    }
    unsetenv("JFA_TUNE_SM90A");
  }
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");

  free(ro), free(rod), free(rlse), free(rmu), free(o0), free(od0), free(l0), free(m0);
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &o, &od, &lse, &mu};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) gb_free(all[i]);
}

int main(int argc, char **argv) {
  gt_require_gpu();
  if (gt_expected_f32_path(64, 1, 0) != GT_PATH_SM90) {
    printf("test_gpu_sm90_f32_variants: the float32 JVP at D = 64 does not run on the sm90 family here (not compute "
           "capability 9.0 with the sm_90a kernels, a build without JFA_SM90_F32, or JFA_KERNEL_PATH): no variant to "
           "compare\n");
    return 77;
  }
  return gt_main(argc, argv, "test_gpu_sm90_f32_variants", (int)(sizeof(cases) / sizeof(cases[0])), run_case);
}
