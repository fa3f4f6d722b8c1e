/*
 * test_gpu_sm90_jvp_variants.c - the sm90 fused forward+JVP's PVLAG tuning variants (tuning builds,
 * -DJFA_TUNING=ON: JFA_TUNE_SM90A=3 at D = 128 and 64, and 4 at D = 64 (4 stages);
 * src/kernels/sm90/tiles.h) against the float64 CPU backend and against variant 0, the default (BN
 * = 64, S, softmax, P V per block), in one process: the variant is read from the environment at
 * each call, so each case runs variant 0 and then each variant of its head dim on the same inputs.
 * PVLAG reorders the products (S and Sd of block j + 1 issued before O += P V, U += P (Sd - c) V +
 * P Vd of block j) but not the arithmetic (the JVP's U = fma(shift, O, alpha U), then the products,
 * the same softmax), so o, lse, od and mu must be bitwise those of variant 0, and within the
 * dtype's tolerance of float64. Cases: bf16 / fp16, N = 1, 7, 129, 1000, 4096, causal (both
 * alignments, positions with fully masked rows), GQA, MQA, BSHD, and a sliding window (a masked
 * call: the JVP's PVLAG runs variant 0's masked kernel). Outputs are poisoned (NaN) before each
 * call. The forward's variants: test_gpu_sm90_variants. Registered only in tuning builds; exits 77
 * (CTest "Not Run") without a GPU or off compute capability 9.0 with the sm_90a kernels.
 *
 *   ./test_gpu_sm90_jvp_variants [case-index]   (JFA_TEST_SEED=... to repeat)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_test.h"

typedef struct {
  jfa_dtype_t dt;
  int bshd;
  int64_t B, Hq, Hkv, Nq, Nk;
  jfa_mask_t mask;
  int64_t qpos, kpos;
  int64_t wleft; /* > 0: a sliding window of wleft keys back (a masked call) */
  int jvp;       /* the fused forward+JVP (o, lse, od, mu) rather than the forward */
  int64_t D;
} vcase_t;

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define POS JFA_MASK_CAUSAL_POSITIONS

static const vcase_t cases[] = {
    /* dt  bshd  B  Hq Hkv   Nq    Nk   mask  qpos kpos wleft jvp D */
    /* D = 128 (cases 0-9) */
    {BF, 0, 2, 4, 4, 1000, 1000, NONE, 0, 0, 0, 1, 128},
    {BF, 0, 1, 2, 2, 4096, 4096, NONE, 0, 0, 0, 1, 128},
    {FH, 0, 1, 2, 2, 4096, 4096, BR, 0, 0, 0, 1, 128},
    {BF, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, 0, 1, 128},
    {BF, 1, 1, 16, 2, 129, 1000, TL, 0, 0, 0, 1, 128}, /* GQA 8:1, BSHD */
    {FH, 0, 1, 2, 2, 1000, 300, BR, 0, 0, 0, 1, 128},  /* rows < 700 fully masked */
    {BF, 0, 1, 1, 1, 1, 1, NONE, 0, 0, 0, 1, 128},
    {FH, 1, 2, 2, 2, 7, 129, NONE, 0, 0, 0, 1, 128},
    {FH, 0, 1, 4, 1, 200, 300, POS, 0, 10, 0, 1, 128}, /* MQA, rows 0..9 fully masked */
    {BF, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, 100, 1, 128},
    /* D = 64 (cases 10-16) */
    {BF, 0, 1, 2, 2, 4096, 4096, NONE, 0, 0, 0, 1, 64},
    {FH, 0, 1, 2, 2, 4096, 4096, TL, 0, 0, 0, 1, 64},
    {BF, 1, 1, 16, 2, 129, 1000, BR, 0, 0, 0, 1, 64}, /* GQA 8:1, BSHD */
    {FH, 0, 1, 2, 2, 1000, 300, BR, 0, 0, 0, 1, 64},  /* rows < 700 fully masked */
    {BF, 0, 1, 1, 1, 1, 1, NONE, 0, 0, 0, 1, 64},
    {FH, 1, 2, 2, 2, 7, 129, NONE, 0, 0, 0, 1, 64},
    {FH, 0, 1, 4, 1, 200, 300, POS, 0, 10, 0, 1, 64}, /* MQA, rows 0..9 fully masked */
};

/* The tuning variants (tiles.h) of the forward (jvp 0) and the JVP (jvp 1) at head dim D, and
   whether they block the keys as variant 0 does (bitwise its results) */
static const struct {
  int jvp, D, v, bitwise;
} variants[] = {{1, 128, 3, 1}, {1, 64, 3, 1}, {1, 64, 4, 1}};
#define NVAR ((int)(sizeof(variants) / sizeof(variants[0])))

/* How many of the n doubles differ bitwise between a and b. */
static size_t count_diff(const double *a, const double *b, size_t n) {
  size_t d = 0;
  for (size_t i = 0; i < n; ++i) d += memcmp(&a[i], &b[i], 8) != 0;
  return d;
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const vcase_t *c = &cases[ci];
  const int64_t D = c->D;
  char name[256];
  snprintf(name, sizeof(name),
           "case %d: %s %s D=%lld B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld mask=%d pos=(%lld,%lld) window=%lld",
           ci, c->jvp ? "jvp" : "fwd", c->dt == BF ? "bf16" : "fp16", (long long)D, (long long)c->B,
           (long long)c->Hq, (long long)c->Hkv, (long long)c->Nq, (long long)c->Nk, (int)c->mask, (long long)c->qpos,
           (long long)c->kpos, (long long)c->wleft);
  printf("%s%s\n", name, c->bshd ? " BSHD" : "");
  fflush(stdout);
  if ((c->jvp ? gt_expected_jvp_path(D) : gt_expected_path(D)) != GT_PATH_SM90) {
    printf("  skipped: this op at D = %lld does not run on the sm90 family here\n", (long long)D);
    return;
  }
  const double tol = gt_tol(c->dt);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.q_position = c->qpos;
  prm.k_position = c->kpos;
  if (c->wleft > 0) prm.window_left = c->wleft;

  gbuf_t q = gb_new(c->dt, c->bshd, c->B, c->Hq, c->Nq, D), k = gb_new(c->dt, c->bshd, c->B, c->Hkv, c->Nk, D),
         v = gb_new(c->dt, c->bshd, c->B, c->Hkv, c->Nk, D), qd = gb_new(c->dt, c->bshd, c->B, c->Hq, c->Nq, D),
         kd = gb_new(c->dt, c->bshd, c->B, c->Hkv, c->Nk, D), vd = gb_new(c->dt, c->bshd, c->B, c->Hkv, c->Nk, D);
  gbuf_t o = gb_new(c->dt, c->bshd, c->B, c->Hq, c->Nq, D), lse = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1),
         od = gb_new(c->dt, c->bshd, c->B, c->Hq, c->Nq, D), mu = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);
  gb_random(&q, 1.0);
  gb_random(&k, 1.0);
  gb_random(&v, 1.0);
  gb_random(&qd, 1.0);
  gb_random(&kd, 1.0);
  gb_random(&vd, 1.0);

  const size_t nq = q.n, nr = lse.n;
  double *ro = calloc(nq, 8), *rlse = calloc(nr, 8), *rod = calloc(nq, 8), *rmu = calloc(nr, 8);
  double *o0 = calloc(nq, 8), *l0 = calloc(nr, 8), *od0 = calloc(nq, 8), *mu0 = calloc(nr, 8);
  jfa_tensor_t hq = host_f64(q.val, c->B, c->Hq, c->Nq, D), hk = host_f64(k.val, c->B, c->Hkv, c->Nk, D),
               hv = host_f64(v.val, c->B, c->Hkv, c->Nk, D), hqd = host_f64(qd.val, c->B, c->Hq, c->Nq, D),
               hkd = host_f64(kd.val, c->B, c->Hkv, c->Nk, D), hvd = host_f64(vd.val, c->B, c->Hkv, c->Nk, D),
               ho = host_f64(ro, c->B, c->Hq, c->Nq, D), hl = host_f64(rlse, c->B, c->Hq, c->Nq, 1),
               hod = host_f64(rod, c->B, c->Hq, c->Nq, D), hm = host_f64(rmu, c->B, c->Hq, c->Nq, 1);
  if (c->jvp) gt_ok(jfa_attention_forward_jvp(cpu, &prm, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
  else gt_ok(jfa_attention_forward(cpu, &prm, &hq, &hk, &hv, &ho, &hl), "cpu forward");

  char nm[128];
  for (int vi = -1; vi < NVAR; ++vi) {
    if (vi >= 0 && (variants[vi].jvp != c->jvp || variants[vi].D != D)) continue;
    const int var = vi < 0 ? 0 : variants[vi].v;
    char val[16];
    snprintf(val, sizeof(val), "%d", var);
    setenv("JFA_TUNE_SM90A", val, 1);
    gb_poison(&o);
    gb_poison(&lse);
    if (c->jvp) {
      gb_poison(&od);
      gb_poison(&mu);
      gt_ok(jfa_attention_forward_jvp(gpu, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
            "forward_jvp");
      gb_get(&od);
      gb_get(&mu);
    } else {
      gt_ok(jfa_attention_forward(gpu, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t), "forward");
    }
    gb_get(&o);
    gb_get(&lse);
    snprintf(nm, sizeof(nm), "case %d variant %d %s", ci, var, c->jvp ? "jvp" : "fwd");
    if (c->wleft > 0) gt_check_tensor_core(gpu, nm, 0);
    else gt_check_path(gpu, nm, 0, GT_PATH_SM90);
    snprintf(nm, sizeof(nm), "case %d variant %d O", ci, var);
    gt_compare(nm, o.val, ro, nq, tol);
    snprintf(nm, sizeof(nm), "case %d variant %d lse", ci, var);
    gt_compare(nm, lse.val, rlse, nr, tol);
    if (c->jvp) {
      snprintf(nm, sizeof(nm), "case %d variant %d Od", ci, var);
      gt_compare(nm, od.val, rod, nq, tol);
      snprintf(nm, sizeof(nm), "case %d variant %d mu", ci, var);
      gt_compare(nm, mu.val, rmu, nr, tol);
    }
    if (var == 0) {
      memcpy(o0, o.val, nq * 8);
      memcpy(l0, lse.val, nr * 8);
      if (c->jvp) {
        memcpy(od0, od.val, nq * 8);
        memcpy(mu0, mu.val, nr * 8);
      }
    } else if (variants[vi].bitwise) {
      size_t diff = count_diff(o.val, o0, nq) + count_diff(lse.val, l0, nr);
      if (c->jvp) diff += count_diff(od.val, od0, nq) + count_diff(mu.val, mu0, nr);
      snprintf(nm, sizeof(nm), "case %d variant %d: %s bitwise those of variant 0 (%zu differ)", ci, var,
               c->jvp ? "o, lse, od and mu" : "o and lse", diff);
      tu_expect(nm, diff == 0);
    }
  }
  unsetenv("JFA_TUNE_SM90A");

  free(ro), free(rlse), free(rod), free(rmu), free(o0), free(l0), free(od0), free(mu0);
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &o, &lse, &od, &mu};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) gb_free(all[i]);
}

int main(int argc, char **argv) {
  gt_require_gpu();
  if (gt_expected_jvp_path(128) != GT_PATH_SM90) {
    printf("test_gpu_sm90_jvp_variants: the D = 128 JVP does not run on the sm90 family here (not compute capability "
           "9.0 with the sm_90a kernels, or JFA_KERNEL_PATH): no variant to compare\n");
    return 77;
  }
  return gt_main(argc, argv, "test_gpu_sm90_jvp_variants", (int)(sizeof(cases) / sizeof(cases[0])), run_case);
}
