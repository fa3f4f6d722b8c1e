/*
 * test_gpu_bwd_persist.c - the persistent 16-bit backward (src/kernels/sm90/bwd.cuh PERSIST: the unmasked kernel of
 * D = 64, 96, 128 as min(SMs, tiles) CTAs walking the key tiles in a static snake, the next tile's K / V loaded while
 * the consumers store a tile's dK / dV through the dS and dQ staging buffers; JFA_SM90_BWD_PERSIST per call, tiles.h
 * kSm90BwdPersist). For each case, on the same inputs and the GPU forward's o and lse: the backward with
 * JFA_SM90_BWD_PERSIST=0 (one CTA a tile), =1 on a few CTAs (JFA_TUNE_SM90_CTAS: long walks, zero-block tiles inside
 * them, the stages' rounds, dS buffers and K / V barrier turning over many times) and =1 on the default grid, outputs
 * poisoned (NaN) before each. Checks: the family (sm90) and the route (jfa_cuda_last_bwd_route: persistent or not, a
 * band for windows and aligned packed sequences); dK and dV of the persistent runs bitwise the non-persistent's (the
 * same products per key tile in the same order), their dQ within a quarter of the dtype's tolerance of it (its
 * reduce-adds come in another order) and every output finite; where the shape is small enough, dQ, dK and dV against
 * the float64 CPU backend. The deterministic mode (JFA_FLAG_DETERMINISTIC: the kernel without its dQ, dQ from simt)
 * persistent against non-persistent, bitwise, on the cases marked det; accumulate mode (the ring's block calls into
 * float32 accumulators, whose persistent epilogue takes one, two or four passes) on the cases without windows or
 * packed sequences, the same way. bf16 / fp16, D = 64 / 96 / 128, causal both
 * ways with Nq != Nk (keys past every row: tiles without blocks; rows without keys), unmasked, GQA / MQA, BSHD, N = 1,
 * windows and packed sequences aligned to 128 rows (bands), walks at the SM count (256 and 512 tiles).
 *
 *   ctest -L gpu    or    ./test_gpu_bwd_persist [case-index]   (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h" /* the accumulate-mode block calls (the ring's) */
#include "gpu_test.h"

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define UNB JFA_WINDOW_UNBOUNDED
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT

typedef struct {
  jfa_dtype_t dt;
  int64_t D, B, Hq, Hkv, Nq, Nk;
  jfa_mask_t mask;
  int64_t wl, wr;
  int bshd;
  int ctas; /* JFA_TUNE_SM90_CTAS of the few-CTA run */
  int ref;  /* also against the float64 CPU backend (small shapes) */
  int det;  /* also the deterministic mode */
  int nseq;
  int64_t cuq[6];
} pcase_t;

static const pcase_t cases[] = {
    /* dt  D   B  Hq Hkv  Nq    Nk   mask  wl   wr  bshd ctas ref det nseq cu */
    {BF, 64, 2, 4, 2, 1000, 1000, TL, UNB, UNB, 0, 3, 1, 1, 0, {0}},  /* 32 tiles on 3 CTAs */
    {FH, 128, 1, 8, 2, 300, 1000, TL, UNB, UNB, 0, 2, 1, 0, 0, {0}}, /* GQA; keys past every row: tiles without blocks */
    {BF, 96, 3, 2, 2, 7, 129, NONE, UNB, UNB, 0, 1, 1, 0, 0, {0}},   /* one CTA walks all 12 tiles */
    {FH, 64, 1, 4, 4, 1000, 300, BR, UNB, UNB, 1, 5, 1, 0, 0, {0}},  /* rows < 700 see no key; BSHD */
    {BF, 128, 1, 2, 1, 2048, 2048, TL, 300, UNB, 0, 4, 1, 0, 0, {0}}, /* MQA, a causal window: a band */
    {FH, 64, 1, 2, 2, 2048, 2048, TL, UNB, UNB, 0, 3, 1, 1, 4, {0, 256, 768, 896, 2048}}, /* packed, aligned: a band */
    {BF, 96, 1, 2, 2, 1536, 1536, NONE, 200, 200, 1, 2, 1, 0, 0, {0}}, /* a two-sided window */
    {BF, 64, 1, 1, 1, 1, 1, TL, UNB, UNB, 0, 1, 1, 0, 0, {0}},
    {FH, 128, 2, 2, 2, 129, 129, BR, UNB, UNB, 1, 2, 1, 1, 0, {0}},
    /* a band (tiles ordered head by head) with keys past every row: walks that start on, and pass through, tiles
       without blocks (on 5 CTAs: xx0x000 and 000x0x) */
    {BF, 128, 1, 4, 4, 300, 1000, TL, 100, UNB, 0, 5, 1, 0, 0, {0}},
    /* walks at the SM count: 256 and 512 tiles (no float64 reference: the non-persistent kernel's bits are the check) */
    {BF, 128, 4, 16, 16, 1024, 1024, TL, UNB, UNB, 0, 7, 0, 0, 0, {0}},
    {FH, 96, 2, 8, 8, 2048, 2048, NONE, UNB, UNB, 0, 11, 0, 0, 0, {0}},
    {BF, 64, 4, 8, 4, 2048, 2048, BR, UNB, UNB, 1, 13, 0, 0, 0, {0}},
};

/* The backward on ctx into poisoned dq, dk, dv (downloaded into their val). */
static void run_bwd(jfa_context_t *ctx, const jfa_attention_params_t *prm, gbuf_t *q, gbuf_t *k, gbuf_t *v, gbuf_t *o,
                    gbuf_t *lse, gbuf_t *dout, gbuf_t *dq, gbuf_t *dk, gbuf_t *dv) {
  gb_poison(dq), gb_poison(dk), gb_poison(dv);
  gt_ok(jfa_attention_backward(ctx, prm, &q->t, &k->t, &v->t, &o->t, &lse->t, &dout->t, &dq->t, &dk->t, &dv->t),
        "backward");
  gb_get(dq), gb_get(dk), gb_get(dv);
}

static int all_finite(const double *x, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!isfinite(x[i])) return 0;
  return 1;
}

static jfa_context_t *g_det; /* JFA_FLAG_DETERMINISTIC */

/* Accumulate mode (the ring's block calls: float32 dQ, dK, dV added into), cases without windows or packed sequences:
   the backward over the whole keys into zeroed accumulators, non-persistent and persistent on a few CTAs (its float32
   epilogue tiles in one, two or four passes at D = 64, 96, 128). dK and dV bitwise equal (each added once to zero),
   dQ within a quarter of the tolerance, the route, and against float64 where the case has its reference. */
static void run_accumulate(int ci, const pcase_t *c, jfa_context_t *gpu, gbuf_t *q, gbuf_t *k, gbuf_t *v, gbuf_t *dout,
                           gbuf_t *o, gbuf_t *lse, const double *rdq, const double *rdk, const double *rdv,
                           const char *ctas, int route_known) {
  if (c->wl != UNB || c->wr != UNB || c->nseq > 0) return;
  jfa_problem_t p;
  memset(&p, 0, sizeof(p));
  p.B = c->B, p.Hq = c->Hq, p.Hkv = c->Hkv, p.Nq = c->Nq, p.Nk = c->Nk, p.D = c->D;
  p.scale = 1.0 / sqrt((double)c->D);
  p.causal = c->mask != NONE;
  p.q_pos0 = c->mask == BR ? c->Nk - c->Nq : 0;
  const double tol = gt_tol(c->dt);
  gbuf_t delta = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);
  gt_ok(jfa_cuda_attention_delta(gpu, &p, &o->t, &dout->t, &delta.t), "attention_delta");
  gbuf_t dq = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, c->D), dk = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hkv, c->Nk, c->D),
         dv = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hkv, c->Nk, c->D);
  const size_t nq = dq.n, nk = dk.n;
  double *sdq = malloc(nq * 8), *sdk = malloc(nk * 8), *sdv = malloc(nk * 8);
  const char *pers[2] = {"0", "1"}, *nctas[2] = {NULL, ctas};
  char nm[192];
  for (int run = 0; run < 2; ++run) {
    gt_set_env("JFA_SM90_BWD_PERSIST", pers[run]);
    gt_set_env("JFA_TUNE_SM90_CTAS", nctas[run]);
    gt_ok(jfa_cuda_fill(gpu, &dq.t, 0.0), "fill");
    gt_ok(jfa_cuda_fill(gpu, &dk.t, 0.0), "fill");
    gt_ok(jfa_cuda_fill(gpu, &dv.t, 0.0), "fill");
    gt_ok(jfa_cuda_attention_backward_block(gpu, &p, &q->t, &k->t, &v->t, &dout->t, &lse->t, &delta.t, &dq.t, &dk.t,
                                            &dv.t, 1),
          "attention_backward_block(accumulate)");
    gb_get(&dq), gb_get(&dk), gb_get(&dv);
    snprintf(nm, sizeof nm, "case %d accumulate (%s)", ci, run ? "persistent, few CTAs" : "non-persistent");
    if (route_known) gt_check_bwd_route(gpu, nm, GT_ROUTE_PERSIST, run ? GT_ROUTE_PERSIST : 0);
    if (rdq) {
      char m2[224];
      snprintf(m2, sizeof m2, "%s dQ", nm), gt_compare(m2, dq.val, rdq, nq, tol);
      snprintf(m2, sizeof m2, "%s dK", nm), gt_compare(m2, dk.val, rdk, nk, tol);
      snprintf(m2, sizeof m2, "%s dV", nm), gt_compare(m2, dv.val, rdv, nk, tol);
    }
    if (run == 0) {
      memcpy(sdq, dq.val, nq * 8), memcpy(sdk, dk.val, nk * 8), memcpy(sdv, dv.val, nk * 8);
    } else {
      snprintf(nm, sizeof nm, "case %d accumulate: dK, dV bitwise the non-persistent kernel's", ci);
      tu_expect(nm, !memcmp(sdk, dk.val, nk * 8) && !memcmp(sdv, dv.val, nk * 8));
      snprintf(nm, sizeof nm, "case %d accumulate: dQ against the non-persistent kernel's", ci);
      gt_compare(nm, dq.val, sdq, nq, tol / 4);
    }
  }
  free(sdq), free(sdk), free(sdv);
  gb_free(&delta), gb_free(&dq), gb_free(&dk), gb_free(&dv);
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const pcase_t *c = &cases[ci];
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Nq = c->Nq, Nk = c->Nk, D = c->D;
  const int windowed = c->wl != UNB || c->wr != UNB;
  printf("case %d: %s %s D=%lld B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld mask=%d window=(%lld,%lld) ctas=%d "
         "sequences=%d\n",
         ci, c->dt == BF ? "bf16" : "fp16", c->bshd ? "BSHD" : "BHSD", (long long)D, (long long)B, (long long)Hq,
         (long long)Hkv, (long long)Nq, (long long)Nk, (int)c->mask, (long long)c->wl, (long long)c->wr, c->ctas,
         c->nseq);
  fflush(stdout);
  const double tol = gt_tol(c->dt);
  jfa_attention_params_t prm;
  gt_params_masks(&prm, c->mask, 0, 0, c->wl, c->wr, c->nseq, c->cuq, c->cuq);

  gbuf_t q = gb_new(c->dt, c->bshd, B, Hq, Nq, D), k = gb_new(c->dt, c->bshd, B, Hkv, Nk, D),
         v = gb_new(c->dt, c->bshd, B, Hkv, Nk, D), dout = gb_new(c->dt, c->bshd, B, Hq, Nq, D);
  gbuf_t o = gb_new(c->dt, c->bshd, B, Hq, Nq, D), lse = gb_new(JFA_DTYPE_FLOAT32, 0, B, Hq, Nq, 1),
         dq = gb_new(c->dt, c->bshd, B, Hq, Nq, D), dk = gb_new(c->dt, c->bshd, B, Hkv, Nk, D),
         dv = gb_new(c->dt, c->bshd, B, Hkv, Nk, D);
  gb_random(&q, 1.0), gb_random(&k, 1.0), gb_random(&v, 1.0), gb_random(&dout, 1.0);
  const size_t nq = q.n, nk = k.n;
  gb_poison(&o), gb_poison(&lse);
  gt_ok(jfa_attention_forward(gpu, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t), "forward");
  gb_get(&o), gb_get(&lse);

  /* the float64 backward on the GPU forward's o and lse (test_gpu_sm90_bwd.c says why) */
  double *rdq = NULL, *rdk = NULL, *rdv = NULL;
  if (c->ref) {
    rdq = calloc(nq + 1, 8), rdk = calloc(nk + 1, 8), rdv = calloc(nk + 1, 8);
    jfa_tensor_t hq = host_f64(q.val, B, Hq, Nq, D), hk = host_f64(k.val, B, Hkv, Nk, D),
                 hv = host_f64(v.val, B, Hkv, Nk, D), hdo = host_f64(dout.val, B, Hq, Nq, D),
                 ho = host_f64(o.val, B, Hq, Nq, D), hl = host_f64(lse.val, B, Hq, Nq, 1),
                 hdq = host_f64(rdq, B, Hq, Nq, D), hdk = host_f64(rdk, B, Hkv, Nk, D), hdv = host_f64(rdv, B, Hkv, Nk, D);
    gt_ok(jfa_attention_backward(cpu, &prm, &hq, &hk, &hv, &ho, &hl, &hdo, &hdq, &hdk, &hdv), "cpu backward");
  }

  /* the runs: non-persistent, persistent on c->ctas CTAs, persistent on the default grid */
  char ctas[16];
  snprintf(ctas, sizeof ctas, "%d", c->ctas);
  const char *pers[3] = {"0", "1", "1"}, *nctas[3] = {NULL, ctas, NULL};
  const char *what[3] = {"non-persistent", "persistent, few CTAs", "persistent"};
  char *saved_p = gt_env_copy("JFA_SM90_BWD_PERSIST"), *saved_c = gt_env_copy("JFA_TUNE_SM90_CTAS");
  const int sm90 = gt_expected_bwd_path(D) == GT_PATH_SM90;
  /* the route is known unless a switch moves these calls (tuning variants; JFA_SM90_BWD_BAND: bands on the MASKED
     kernel, never persistent) */
  const int route_known = sm90 && !getenv("JFA_TUNE_SM90_BWD") && !getenv("JFA_TUNE_BWD_OLD") &&
                          !getenv("JFA_SM90_BWD_BAND");
  const int band = windowed || c->nseq > 0; /* windows, packed sequences aligned to 128 rows */
  double *sdq = malloc(nq * 8), *sdk = malloc(nk * 8), *sdv = malloc(nk * 8);
  char nm[192];
  for (int run = 0; run < 3; ++run) {
    gt_set_env("JFA_SM90_BWD_PERSIST", pers[run]);
    gt_set_env("JFA_TUNE_SM90_CTAS", nctas[run]);
    run_bwd(gpu, &prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
    snprintf(nm, sizeof nm, "case %d backward (%s)", ci, what[run]);
    gt_check_path(gpu, nm, 1, gt_expected_bwd_path(D));
    if (route_known)
      gt_check_bwd_route(gpu, nm, GT_ROUTE_PERSIST | GT_ROUTE_MASKED | GT_ROUTE_BAND,
                         (run > 0 ? GT_ROUTE_PERSIST : 0) | (band ? GT_ROUTE_BAND : 0));
    snprintf(nm, sizeof nm, "case %d (%s): dQ, dK, dV finite", ci, what[run]);
    tu_expect(nm, all_finite(dq.val, nq) && all_finite(dk.val, nk) && all_finite(dv.val, nk));
    if (c->ref) {
      snprintf(nm, sizeof nm, "case %d dQ (%s)", ci, what[run]), gt_compare(nm, dq.val, rdq, nq, tol);
      snprintf(nm, sizeof nm, "case %d dK (%s)", ci, what[run]), gt_compare(nm, dk.val, rdk, nk, tol);
      snprintf(nm, sizeof nm, "case %d dV (%s)", ci, what[run]), gt_compare(nm, dv.val, rdv, nk, tol);
    }
    if (run == 0) {
      memcpy(sdq, dq.val, nq * 8), memcpy(sdk, dk.val, nk * 8), memcpy(sdv, dv.val, nk * 8);
    } else {
      snprintf(nm, sizeof nm, "case %d (%s): dK, dV bitwise the non-persistent kernel's", ci, what[run]);
      tu_expect(nm, !memcmp(sdk, dk.val, nk * 8) && !memcmp(sdv, dv.val, nk * 8));
      snprintf(nm, sizeof nm, "case %d (%s): dQ against the non-persistent kernel's", ci, what[run]);
      gt_compare(nm, dq.val, sdq, nq, tol / 4);
    }
  }
  run_accumulate(ci, c, gpu, &q, &k, &v, &dout, &o, &lse, rdq, rdk, rdv, ctas, route_known);
  if (c->det) {
    /* deterministic: the kernel without its dQ (simt's), persistent (few CTAs) against non-persistent, bitwise */
    for (int run = 0; run < 2; ++run) {
      gt_set_env("JFA_SM90_BWD_PERSIST", pers[run]);
      gt_set_env("JFA_TUNE_SM90_CTAS", nctas[run]);
      run_bwd(g_det, &prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
      snprintf(nm, sizeof nm, "case %d deterministic (%s)", ci, what[run]);
      gt_check_path(g_det, nm, 1, gt_expected_bwd_path(D));
      snprintf(nm, sizeof nm, "case %d deterministic (%s): dQ, dK, dV finite", ci, what[run]);
      tu_expect(nm, all_finite(dq.val, nq) && all_finite(dk.val, nk) && all_finite(dv.val, nk));
      if (c->ref && run == 0) { /* the second run is bitwise this one */
        snprintf(nm, sizeof nm, "case %d deterministic dQ", ci), gt_compare(nm, dq.val, rdq, nq, tol);
        snprintf(nm, sizeof nm, "case %d deterministic dK", ci), gt_compare(nm, dk.val, rdk, nk, tol);
        snprintf(nm, sizeof nm, "case %d deterministic dV", ci), gt_compare(nm, dv.val, rdv, nk, tol);
      }
      if (run == 0) {
        memcpy(sdq, dq.val, nq * 8), memcpy(sdk, dk.val, nk * 8), memcpy(sdv, dv.val, nk * 8);
      } else {
        if (route_known) gt_check_bwd_route(g_det, nm, GT_ROUTE_PERSIST, GT_ROUTE_PERSIST);
        snprintf(nm, sizeof nm, "case %d deterministic: persistent bitwise non-persistent (dQ, dK, dV)", ci);
        tu_expect(nm, !memcmp(sdq, dq.val, nq * 8) && !memcmp(sdk, dk.val, nk * 8) && !memcmp(sdv, dv.val, nk * 8));
      }
    }
  }
  gt_set_env("JFA_SM90_BWD_PERSIST", saved_p);
  gt_set_env("JFA_TUNE_SM90_CTAS", saved_c);
  free(saved_p), free(saved_c);
  free(sdq), free(sdk), free(sdv), free(rdq), free(rdk), free(rdv);
  gbuf_t *all[] = {&q, &k, &v, &dout, &o, &lse, &dq, &dk, &dv};
  for (size_t e = 0; e < sizeof all / sizeof all[0]; ++e) gb_free(all[e]);
}

static int g_ncases;
static gt_case_fn g_inner;
/* run_case with the deterministic context created once (gt_main makes the other two) */
static void run_case_det(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  if (!g_det) {
    gt_ok(jfa_context_create(&g_det, JFA_DEVICE_CUDA, 0), "context_create(CUDA)");
    gt_ok(jfa_context_set_flags(g_det, JFA_FLAG_DETERMINISTIC), "set_flags(DETERMINISTIC)");
  }
  g_inner(ci, gpu, cpu);
  if (ci == g_ncases - 1) jfa_context_destroy(g_det), g_det = NULL;
}

int main(int argc, char **argv) {
  static const int dims[] = {64, 96, 128, 0};
  gt_require_sm90("test_gpu_bwd_persist", gt_expected_bwd_path, dims);
  g_ncases = (int)(sizeof cases / sizeof cases[0]);
  g_inner = run_case;
  return gt_main(argc, argv, "test_gpu_bwd_persist", g_ncases, run_case_det);
}
