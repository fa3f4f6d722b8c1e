/*
 * test_gpu_jvp_persist.c - the persistent sm90 JVP (src/kernels/sm90/jvp_persist.cuh; tiles.h sm90_jvp_persist_default):
 * for each case the fused forward+JVP three times in one process, on fwd.cuh's kernel (JFA_SM90_JVP_PERSIST=0), on
 * the persistent one with the default grid (min(SMs, tiles) CTAs) and on the persistent one with a few CTAs
 * (JFA_TUNE_SM90_CTAS: many tiles a CTA, so that the stage ring, the Q buffers and the tile ring turn over many
 * times), outputs poisoned before each run. Checks: the three bitwise equal (the same arithmetic in the same order),
 * every output against the float64 CPU backend on the same rounded inputs, and the kernel family (sm90). Head dims
 * 64, 96 and 128 (the persistent rows), bf16 and fp16, no mask, causal both ways with Nq != Nk, GQA / MQA, windows,
 * positions with rows that see no key, packed sequences (lengths 1 and 7 among them; aligned to 128 rows, with and
 * without causal and a window: bands on the unmasked kernels), N = 1, BSHD.
 *
 *   ctest -L gpu    or    ./test_gpu_jvp_persist [case-index]   (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_test.h"

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define UNB JFA_WINDOW_UNBOUNDED

typedef struct {
  jfa_dtype_t dt;
  int64_t D, B, Hq, Hkv, Nq, Nk;
  jfa_mask_t mask;
  int64_t qpos, kpos, wl, wr;
  const char *seq_q, *seq_k; /* packed sequences' lengths (B = 1), or NULL */
  int bshd;
  int ctas; /* JFA_TUNE_SM90_CTAS of the third run */
} pcase_t;

static const pcase_t cases[] = {
    {BF, 128, 2, 4, 2, 1000, 1000, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, UNB, UNB, NULL, NULL, 0, 3},
    {FH, 128, 1, 4, 4, 300, 1000, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0, UNB, UNB, NULL, NULL, 1, 1},
    {BF, 64, 2, 2, 1, 1000, 700, JFA_MASK_NONE, 0, 0, UNB, UNB, NULL, NULL, 0, 3},
    {FH, 64, 1, 8, 1, 7, 129, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0, UNB, UNB, NULL, NULL, 0, 1},
    {BF, 96, 2, 2, 2, 513, 513, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, UNB, UNB, NULL, NULL, 1, 2},
    {BF, 128, 1, 2, 2, 1000, 1000, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, 200, 0, NULL, NULL, 0, 3},
    {FH, 64, 1, 2, 2, 700, 700, JFA_MASK_NONE, 0, 0, 128, 64, NULL, NULL, 0, 2},
    {BF, 128, 1, 2, 1, 0, 0, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, UNB, UNB, "300,1,129,7,500", NULL, 1, 3},
    {BF, 96, 1, 2, 2, 0, 0, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0, 64, 0, "200,333", "250,333", 0, 2},
    {BF, 128, 1, 1, 1, 1, 1, JFA_MASK_NONE, 0, 0, UNB, UNB, NULL, NULL, 0, 1},
    {FH, 128, 1, 2, 2, 300, 300, JFA_MASK_CAUSAL_POSITIONS, 0, 37, UNB, UNB, NULL, NULL, 0, 3},
    {BF, 64, 1, 2, 2, 0, 0, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, 100, 0, "129,1000,64", NULL, 1, 3},
    {BF, 128, 1, 2, 2, 2048, 2048, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, UNB, UNB, NULL, NULL, 0, 5},
    /* packed sequences aligned to 128 rows (self-attention): the band (fwd.cuh sm90_fwd_band) in every run */
    {BF, 64, 1, 4, 2, 0, 0, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, UNB, UNB, "256,1024,128,641", NULL, 0, 3},
    {FH, 64, 1, 2, 2, 0, 0, JFA_MASK_NONE, 0, 0, UNB, UNB, "384,128,200", NULL, 1, 2},
    {BF, 64, 1, 2, 1, 0, 0, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0, 100, UNB, "512,256,130", NULL, 0, 3}, /* + window */
    {FH, 128, 1, 2, 2, 0, 0, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, UNB, UNB, "128,256,1", NULL, 0, 1}, /* a one-row tail */
};

/* run r's outputs (o, od, lse, mu as doubles) */
typedef struct {
  double *o, *od, *lse, *mu;
} outs_t;

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const pcase_t *c = &cases[ci];
  int64_t cq[65], ck[65];
  int ns = 0;
  int64_t Nq = c->Nq, Nk = c->Nk;
  if (c->seq_q && (ns = gt_packed_offsets(c->seq_q, c->seq_k, cq, ck, &Nq, &Nk)) < 0) return;
  printf("case %d: %s %s D=%lld B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld mask=%d pos=(%lld,%lld) window=(%lld,%lld) "
         "seqs=%s/%s ctas=%d\n",
         ci, c->dt == BF ? "bf16" : "fp16", c->bshd ? "BSHD" : "BHSD", (long long)c->D, (long long)c->B,
         (long long)c->Hq, (long long)c->Hkv, (long long)Nq, (long long)Nk, (int)c->mask, (long long)c->qpos,
         (long long)c->kpos, (long long)c->wl, (long long)c->wr, c->seq_q ? c->seq_q : "-",
         c->seq_k ? c->seq_k : "-", c->ctas);
  fflush(stdout);
  const double tol = gt_tol(c->dt);
  jfa_attention_params_t prm;
  gt_params_masks(&prm, c->mask, c->qpos, c->kpos, c->wl, c->wr, ns, cq, ck);

  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, D = c->D;
  gbuf_t q = gb_new(c->dt, c->bshd, B, Hq, Nq, D), k = gb_new(c->dt, c->bshd, B, Hkv, Nk, D),
         v = gb_new(c->dt, c->bshd, B, Hkv, Nk, D), qd = gb_new(c->dt, c->bshd, B, Hq, Nq, D),
         kd = gb_new(c->dt, c->bshd, B, Hkv, Nk, D), vd = gb_new(c->dt, c->bshd, B, Hkv, Nk, D);
  gbuf_t o = gb_new(c->dt, c->bshd, B, Hq, Nq, D), od = gb_new(c->dt, c->bshd, B, Hq, Nq, D),
         lse = gb_new(JFA_DTYPE_FLOAT32, 0, B, Hq, Nq, 1), mu = gb_new(JFA_DTYPE_FLOAT32, 0, B, Hq, Nq, 1);
  gbuf_t *ins[] = {&q, &k, &v, &qd, &kd, &vd};
  for (int e = 0; e < 6; ++e) gb_random(ins[e], 1.0);
  const size_t nq = q.n, nr = lse.n;

  double *ro = calloc(nq + 1, 8), *rod = calloc(nq + 1, 8), *rlse = calloc(nr + 1, 8), *rmu = calloc(nr + 1, 8);
  jfa_tensor_t hq = host_f64(q.val, B, Hq, Nq, D), hk = host_f64(k.val, B, Hkv, Nk, D), hv = host_f64(v.val, B, Hkv, Nk, D),
               hqd = host_f64(qd.val, B, Hq, Nq, D), hkd = host_f64(kd.val, B, Hkv, Nk, D),
               hvd = host_f64(vd.val, B, Hkv, Nk, D), ho = host_f64(ro, B, Hq, Nq, D), hod = host_f64(rod, B, Hq, Nq, D),
               hl = host_f64(rlse, B, Hq, Nq, 1), hm = host_f64(rmu, B, Hq, Nq, 1);
  gt_ok(jfa_attention_forward_jvp(cpu, &prm, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
  int64_t empty_rows = 0;
  for (size_t r = 0; r < nr; ++r) empty_rows += rlse[r] == -INFINITY;
  printf("  %lld of %zu rows see no key\n", (long long)empty_rows, nr);

  /* the three runs: fwd.cuh's kernel, the persistent one (default grid), the persistent one on c->ctas CTAs */
  const char *persist[3] = {"0", "1", "1"};
  char ctas[16];
  snprintf(ctas, sizeof ctas, "%d", c->ctas);
  const char *nctas[3] = {NULL, NULL, ctas};
  const char *what[3] = {"fwd.cuh", "persistent", "persistent, few CTAs"};
  char *saved_p = gt_env_copy("JFA_SM90_JVP_PERSIST");
  char *saved_c = gt_env_copy("JFA_TUNE_SM90_CTAS");
  outs_t r[3];
  char nm[160];
  for (int run = 0; run < 3; ++run) {
    gt_set_env("JFA_SM90_JVP_PERSIST", persist[run]);
    gt_set_env("JFA_TUNE_SM90_CTAS", nctas[run]);
    gb_poison(&o), gb_poison(&lse), gb_poison(&od), gb_poison(&mu);
    gt_ok(jfa_attention_forward_jvp(gpu, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
          "forward_jvp");
    gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
    snprintf(nm, sizeof nm, "case %d jvp (%s)", ci, what[run]);
    gt_check_path(gpu, nm, 0, gt_expected_jvp_path(D));
    if (gt_expected_jvp_path(D) == GT_PATH_SM90) {
      /* the route: persistent in runs 1 and 2; windows and packed sequences as gt_expected_route says */
      snprintf(nm, sizeof nm, "case %d jvp route (%s)", ci, what[run]);
      gt_check_route(gpu, nm, GT_ROUTE_PERSIST | GT_ROUTE_MASKED | GT_ROUTE_BAND,
                     (run > 0 ? GT_ROUTE_PERSIST : 0) |
                         gt_expected_route(c->wl != UNB || c->wr != UNB, gt_packed_kind(D, 1, cq, ck, ns), 0, 1));
    }
    snprintf(nm, sizeof nm, "case %d jvp O (%s)", ci, what[run]), gt_compare(nm, o.val, ro, nq, tol);
    snprintf(nm, sizeof nm, "case %d jvp lse (%s)", ci, what[run]), gt_compare(nm, lse.val, rlse, nr, tol);
    snprintf(nm, sizeof nm, "case %d jvp Od (%s)", ci, what[run]), gt_compare(nm, od.val, rod, nq, tol);
    snprintf(nm, sizeof nm, "case %d jvp mu (%s)", ci, what[run]), gt_compare(nm, mu.val, rmu, nr, tol);
    r[run].o = malloc(nq * 8), r[run].od = malloc(nq * 8), r[run].lse = malloc(nr * 8), r[run].mu = malloc(nr * 8);
    memcpy(r[run].o, o.val, nq * 8), memcpy(r[run].od, od.val, nq * 8);
    memcpy(r[run].lse, lse.val, nr * 8), memcpy(r[run].mu, mu.val, nr * 8);
  }
  gt_set_env("JFA_SM90_JVP_PERSIST", saved_p);
  gt_set_env("JFA_TUNE_SM90_CTAS", saved_c);
  free(saved_p), free(saved_c);
  for (int run = 1; run < 3; ++run) {
    const int same = !memcmp(r[run].o, r[0].o, nq * 8) && !memcmp(r[run].od, r[0].od, nq * 8) &&
                     !memcmp(r[run].lse, r[0].lse, nr * 8) && !memcmp(r[run].mu, r[0].mu, nr * 8);
    snprintf(nm, sizeof nm, "case %d: %s bitwise fwd.cuh's (o, od, lse, mu)", ci, what[run]);
    tu_expect(nm, same);
  }
  for (int run = 0; run < 3; ++run) free(r[run].o), free(r[run].od), free(r[run].lse), free(r[run].mu);
  free(ro), free(rod), free(rlse), free(rmu);
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &o, &od, &lse, &mu};
  for (int e = 0; e < 10; ++e) gb_free(all[e]);
}

int main(int argc, char **argv) {
  static const int dims[] = {64, 96, 128, 0};
  gt_require_sm90("test_gpu_jvp_persist", gt_expected_jvp_path, dims);
  return gt_main(argc, argv, "test_gpu_jvp_persist", (int)(sizeof cases / sizeof cases[0]), run_case);
}
