/*
 * test_gpu_fwd_cskip.c - the consumer skip of the sm90 forwards with three consumer warpgroups (CSKIP: 192 query rows a
 * tile over blocks of 128 keys (D = 96: 96), each warpgroup of 64 rows computes only the blocks its rows may see): the
 * persistent variant 34 (src/kernels/sm90/fwd_persist.cuh; D = 64's plain causal calls of up to 4096 keys and its
 * windows) and the non-persistent kernel in the PVLAG order (fwd.cuh; D = 64's unmasked calls and causal ones of more
 * keys, D = 96's unmasked and causal calls): for each case the forward three times in one process, with every
 * consumer on every block of its tile (JFA_SM90_FWD_CSKIP=0, the kernel before the twenty-sixth session), with the
 * skip (the default) and with the skip on a few CTAs (JFA_TUNE_SM90_CTAS: many tiles a CTA, the stage, Q and tile
 * rings turning over many times with warpgroups skipping different blocks), outputs poisoned before each run.
 * Checks: the three bitwise equal (a skipped block leaves a row's running max, sum and O as they are; finite inputs:
 * a NaN value at a key that a row cannot see reaches it through 0 * NaN only where the block is computed, which
 * nan_prop.h allows), o and lse against the float64 CPU backend on the same rounded inputs, the kernel family (sm90)
 * and the route (persistent or not). bf16 and fp16, D = 64: plain causal calls of up to 4096 keys both ways with
 * Nq != Nk (rows past the last tile's end, rows that see no key), GQA / MQA, positions, N = 1, BSHD; windows without
 * packed sequences (the MASKED instantiation: the rows' intervals), one- and two-sided, with positions leaving rows
 * without keys; unmasked calls (the last tile's idle warpgroups) and causal ones of 4500 keys (non-persistent);
 * D = 96: unmasked and causal both ways (non-persistent, blocks of 96 keys); packed sequences on variant 34 (their
 * route since the twenty-seventh session) with boundaries inside tiles and inside warpgroups, bidirectional, with a
 * window, Nq != Nk with an empty sequence, aligned to 384 rows (test_gpu_fwd_cskip_fwdband: a band).
 *
 *   ctest -L gpu    or    ./test_gpu_fwd_cskip [case-index]   (JFA_TEST_SEED=... to repeat)
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
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define CPOS JFA_MASK_CAUSAL_POSITIONS
#define POS JFA_MASK_POSITIONS

typedef struct {
  jfa_dtype_t dt;
  int64_t D;
  int persist; /* the route: variant 34 (persistent), else the non-persistent three consumers */
  int64_t B, Hq, Hkv, Nq, Nk;
  jfa_mask_t mask;
  int64_t qpos, kpos, wl, wr;
  int bshd;
  int ctas; /* JFA_TUNE_SM90_CTAS of the third run */
  int nseq;  /* packed sequences (variant 34 since the twenty-seventh session) */
  int64_t cuq[5], cuk[5];
} ccase_t;

static const ccase_t cases[] = {
    /* variant 34: plain causal (its unmasked instantiation) */
    {BF, 64, 1, 2, 4, 2, 1000, 1000, TL, 0, 0, UNB, UNB, 0, 3, 0, {0}, {0}},  /* the last tile's 40 rows: two warpgroups without rows */
    {FH, 64, 1, 1, 4, 4, 700, 1000, BR, 0, 0, UNB, UNB, 1, 1, 0, {0}, {0}},   /* rows see 300 keys more than top-left */
    {BF, 64, 1, 1, 2, 2, 1000, 64, BR, 0, 0, UNB, UNB, 0, 2, 0, {0}, {0}},    /* rows < 936 see no key: warpgroups without blocks */
    {FH, 64, 1, 1, 8, 1, 7, 129, BR, 0, 0, UNB, UNB, 0, 1, 0, {0}, {0}},      /* MQA */
    {BF, 64, 1, 1, 2, 2, 300, 1200, TL, 0, 0, UNB, UNB, 1, 2, 0, {0}, {0}},   /* keys past every row */
    {FH, 64, 1, 1, 2, 2, 300, 300, CPOS, 0, 37, UNB, UNB, 0, 3, 0, {0}, {0}}, /* rows 0..36 see no key */
    {BF, 64, 1, 1, 1, 1, 1, 1, TL, 0, 0, UNB, UNB, 0, 1, 0, {0}, {0}},
    {BF, 64, 1, 1, 2, 2, 4096, 4096, TL, 0, 0, UNB, UNB, 0, 5, 0, {0}, {0}},  /* the route's longest keys (4096) */
    /* variant 34: windows (the MASKED instantiation) */
    {BF, 64, 1, 1, 2, 2, 1000, 1000, TL, 0, 0, 200, UNB, 0, 3, 0, {0}, {0}},  /* blocks skipped at both ends of a tile */
    {FH, 64, 1, 2, 4, 1, 600, 900, POS, 700, 0, 40, 30, 1, 2, 0, {0}, {0}},   /* rows past every key */
    {BF, 64, 1, 1, 2, 2, 2000, 2000, JFA_MASK_NONE, 0, 0, 300, 300, 0, 7, 0, {0}, {0}}, /* two-sided */
    {FH, 64, 1, 1, 4, 2, 129, 700, BR, 0, 0, 64, UNB, 0, 1, 0, {0}, {0}},     /* GQA, Nq != Nk */
    /* the non-persistent three consumers (PVLAG): D = 64 unmasked and long causal, D = 96 (blocks of 96 keys) */
    {BF, 64, 0, 2, 4, 2, 1000, 1000, JFA_MASK_NONE, 0, 0, UNB, UNB, 0, 1, 0, {0}, {0}}, /* the last tile's two idle warpgroups */
    {FH, 64, 0, 1, 2, 1, 129, 300, JFA_MASK_NONE, 0, 0, UNB, UNB, 1, 1, 0, {0}, {0}},
    {BF, 64, 0, 1, 1, 1, 4500, 4500, TL, 0, 0, UNB, UNB, 0, 1, 0, {0}, {0}},  /* past the persistent route's 4096 keys */
    {FH, 64, 0, 1, 2, 2, 4200, 5000, BR, 0, 0, UNB, UNB, 1, 1, 0, {0}, {0}},
    {BF, 96, 0, 1, 4, 2, 1000, 1000, JFA_MASK_NONE, 0, 0, UNB, UNB, 0, 1, 0, {0}, {0}},
    {FH, 96, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, UNB, UNB, 1, 1, 0, {0}, {0}},
    {BF, 96, 0, 1, 2, 1, 700, 1200, BR, 0, 0, UNB, UNB, 0, 1, 0, {0}, {0}},
    {FH, 96, 0, 1, 2, 2, 1000, 64, BR, 0, 0, UNB, UNB, 0, 1, 0, {0}, {0}},    /* rows < 936 see no key */
    {BF, 96, 0, 1, 2, 2, 300, 300, CPOS, 0, 37, UNB, UNB, 1, 1, 0, {0}, {0}},
    /* variant 34 on packed sequences (MASKED): boundaries inside tiles and inside warpgroups */
    {BF, 64, 1, 1, 2, 2, 1000, 1000, TL, 0, 0, UNB, UNB, 0, 3, 3, {0, 300, 700, 1000}, {0, 300, 700, 1000}},
    {FH, 64, 1, 1, 4, 2, 2048, 2048, TL, 0, 0, UNB, UNB, 1, 2, 4, {0, 128, 1024, 1536, 2048}, {0, 128, 1024, 1536, 2048}},
    {BF, 64, 1, 1, 2, 1, 900, 900, JFA_MASK_NONE, 0, 0, UNB, UNB, 0, 2, 3, {0, 250, 251, 900}, {0, 250, 251, 900}},
    {FH, 64, 1, 1, 2, 2, 1000, 1000, TL, 0, 0, 100, UNB, 0, 3, 2, {0, 500, 1000}, {0, 500, 1000}}, /* and a window */
    {BF, 64, 1, 1, 4, 4, 600, 900, BR, 0, 0, UNB, UNB, 1, 1, 3, {0, 200, 200, 600}, {0, 500, 700, 900}}, /* Nq != Nk */
    /* aligned to 384 rows (test_gpu_fwd_cskip_fwdband: a band on variant 34's unmasked form) */
    {FH, 64, 1, 1, 2, 2, 1600, 1600, TL, 0, 0, UNB, UNB, 0, 2, 3, {0, 768, 1152, 1600}, {0, 768, 1152, 1600}},
};

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const ccase_t *c = &cases[ci];
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Nq = c->Nq, Nk = c->Nk, D = c->D;
  const int windowed = c->wl != UNB || c->wr != UNB;
  printf("case %d: %s %s D=%lld %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld mask=%d pos=(%lld,%lld) window=(%lld,%lld) "
         "ctas=%d sequences=%d\n",
         ci, c->dt == BF ? "bf16" : "fp16", c->bshd ? "BSHD" : "BHSD", (long long)D,
         c->persist ? "persistent" : "non-persistent", (long long)B, (long long)Hq, (long long)Hkv,
         (long long)Nq, (long long)Nk, (int)c->mask, (long long)c->qpos, (long long)c->kpos, (long long)c->wl,
         (long long)c->wr, c->ctas, c->nseq);
  fflush(stdout);
  const double tol = gt_tol(c->dt);
  jfa_attention_params_t prm;
  gt_params_masks(&prm, c->mask, c->qpos, c->kpos, c->wl, c->wr, c->nseq, c->cuq, c->cuk);

  gbuf_t q = gb_new(c->dt, c->bshd, B, Hq, Nq, D), k = gb_new(c->dt, c->bshd, B, Hkv, Nk, D),
         v = gb_new(c->dt, c->bshd, B, Hkv, Nk, D);
  gbuf_t o = gb_new(c->dt, c->bshd, B, Hq, Nq, D), lse = gb_new(JFA_DTYPE_FLOAT32, 0, B, Hq, Nq, 1);
  gb_random(&q, 1.0), gb_random(&k, 1.0), gb_random(&v, 1.0);
  const size_t nq = q.n, nr = lse.n;

  double *ro = calloc(nq + 1, 8), *rlse = calloc(nr + 1, 8);
  jfa_tensor_t hq = host_f64(q.val, B, Hq, Nq, D), hk = host_f64(k.val, B, Hkv, Nk, D),
               hv = host_f64(v.val, B, Hkv, Nk, D), ho = host_f64(ro, B, Hq, Nq, D), hl = host_f64(rlse, B, Hq, Nq, 1);
  gt_ok(jfa_attention_forward(cpu, &prm, &hq, &hk, &hv, &ho, &hl), "cpu forward");
  int64_t empty_rows = 0;
  for (size_t r = 0; r < nr; ++r) empty_rows += rlse[r] == -INFINITY;
  printf("  %lld of %zu rows see no key\n", (long long)empty_rows, nr);

  /* the three runs: every warpgroup on every block, the skip (default grid), the skip on c->ctas CTAs */
  const char *cskip[3] = {"0", NULL, NULL};
  char ctas[16];
  snprintf(ctas, sizeof ctas, "%d", c->ctas);
  const char *nctas[3] = {NULL, NULL, ctas};
  const char *what[3] = {"no skip", "skip", "skip, few CTAs"};
  char *saved_s = gt_env_copy("JFA_SM90_FWD_CSKIP");
  char *saved_c = gt_env_copy("JFA_TUNE_SM90_CTAS");
  /* the route unless a switch moves these calls elsewhere (tuning variants; JFA_SM90_FWD_NC3P: the persistent or the
     non-persistent three consumers for plain causal calls) */
  const int route_known = !getenv("JFA_TUNE_SM90A") && !getenv("JFA_SM90_FWD_NC3P");
  double *ko[3], *kl[3];
  char nm[160];
  for (int run = 0; run < 3; ++run) {
    gt_set_env("JFA_SM90_FWD_CSKIP", cskip[run]);
    gt_set_env("JFA_TUNE_SM90_CTAS", nctas[run]);
    gb_poison(&o), gb_poison(&lse);
    gt_ok(jfa_attention_forward(gpu, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t), "forward");
    gb_get(&o), gb_get(&lse);
    snprintf(nm, sizeof nm, "case %d forward (%s)", ci, what[run]);
    gt_check_path(gpu, nm, 0, gt_expected_path(D));
    if (gt_expected_path(D) == GT_PATH_SM90 && route_known) {
      snprintf(nm, sizeof nm, "case %d forward route (%s)", ci, what[run]);
      gt_check_route(gpu, nm, GT_ROUTE_PERSIST | GT_ROUTE_MASKED | GT_ROUTE_BAND,
                     (c->persist ? GT_ROUTE_PERSIST : 0) |
                         gt_expected_route(windowed, gt_packed_kind(D, 0, c->cuq, c->cuk, c->nseq), 0, 0));
    }
    snprintf(nm, sizeof nm, "case %d O (%s)", ci, what[run]), gt_compare(nm, o.val, ro, nq, tol);
    snprintf(nm, sizeof nm, "case %d lse (%s)", ci, what[run]), gt_compare(nm, lse.val, rlse, nr, tol);
    ko[run] = malloc(nq * 8), kl[run] = malloc(nr * 8);
    memcpy(ko[run], o.val, nq * 8), memcpy(kl[run], lse.val, nr * 8);
  }
  gt_set_env("JFA_SM90_FWD_CSKIP", saved_s);
  gt_set_env("JFA_TUNE_SM90_CTAS", saved_c);
  free(saved_s), free(saved_c);
  for (int run = 1; run < 3; ++run) {
    snprintf(nm, sizeof nm, "case %d: %s bitwise no skip's (o, lse)", ci, what[run]);
    tu_expect(nm, !memcmp(ko[run], ko[0], nq * 8) && !memcmp(kl[run], kl[0], nr * 8));
  }
  for (int run = 0; run < 3; ++run) free(ko[run]), free(kl[run]);
  free(ro), free(rlse);
  gbuf_t *all[] = {&q, &k, &v, &o, &lse};
  for (int e = 0; e < 5; ++e) gb_free(all[e]);
}

int main(int argc, char **argv) {
  static const int dims[] = {64, 96, 0};
  gt_require_sm90("test_gpu_fwd_cskip", gt_expected_path, dims);
  return gt_main(argc, argv, "test_gpu_fwd_cskip", (int)(sizeof cases / sizeof cases[0]), run_case);
}
