/*
 * test_gpu_f32.c - the float32 CUDA forward and fused forward+JVP in both precisions
 * (3xTF32, the default, and one TF32 product with JFA_FLAG_ALLOW_TF32) against the float64
 * CPU backend: odd sizes, D in {40, 64, 96, 128, 160, 192, 200, 256} (D = 33 runs on the simt
 * family; the JVP at D > 128 in two column slices; the forward at D = 160, 192, 200 and the JVP
 * at 200 on the D = 256 kernels, zero-filled), causal masks with Nq != Nk and fully masked rows, a sliding
 * window (the MASKED instantiation), GQA, BSHD, large logits (q, k ~ N(0, 30^2)) and accumulate
 * mode over two K/V halves (at D > 128 two launches: slices 1.., then slice 0). Outputs are
 * poisoned (NaN) before each call. Checks which kernel family and which float32 arithmetic ran
 * (jfa_cuda_last_kernel, jfa_cuda_last_precision).
 *
 * Tolerances (norm-wise relative error, bound() below): 3xTF32 float32's 1e-5, TF32 1e-2
 * (10-bit mantissas: about 5e-4 per product); the large-logit cases have their own (scores
 * of |S| ~ 900 in float32), and on the sm90 family in 3xTF32 lse's absolute error (its mean, the
 * accumulator's truncation bias, and its rms; check_lse_abs) and mu's (rms) at large logits: tuning
 * builds' JFA_TUNE_SM90_F32_FWD_ORDER=1 (the score products' order before SMALLFIRST) fails the lse
 * check by the model. Each tensor-core output's error is printed next to the simt
 * family's on the same inputs (a context capped at simt), the accuracy yardstick.
 *
 * ctest runs it three times: default (float32 on the sm90 family at D = 64 and 128, the JVP at
 * 64, unmasked or causal, on an H100/H200 in JFA_SM90_F32 builds; sm80 elsewhere), JFA_KERNEL_PATH=sm80
 * (sm80 for every tensor-core call) and JFA_KERNEL_PATH=simt (every call on simt, the flag
 * without effect, both modes held to float32's tolerance). Both tensor-core families are held
 * to the same bounds.
 *
 *   ./test_gpu_f32 [case-index]   (JFA_TEST_SEED=... to repeat). Exits 77 without a GPU.
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
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_mask_t mask;
  int64_t qpos, kpos, wl, wr;
  double qk_scale; /* q and k ~ N(0, qk_scale^2) */
} fcase_t;

#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define POS JFA_MASK_CAUSAL_POSITIONS
#define UNB JFA_WINDOW_UNBOUNDED

static const fcase_t cases[] = {
    /* bshd B Hq Hkv   Nq    Nk    D  mask  qpos kpos  wl   wr  qk */
    {0, 2, 4, 4, 64, 64, 64, NONE, 0, 0, UNB, UNB, 1.0},
    /* D = 32 (the sm90 float32 kernel's since the sixth session): odd sizes, causal Nq != Nk with GQA,
       large logits */
    {0, 1, 2, 2, 7, 7, 32, NONE, 0, 0, UNB, UNB, 1.0},
    {1, 1, 8, 2, 129, 300, 32, BR, 0, 0, UNB, UNB, 1.0},
    {0, 1, 2, 2, 1000, 1000, 32, TL, 0, 0, UNB, UNB, 1.0},
    {0, 1, 4, 2, 500, 500, 32, NONE, 0, 0, UNB, UNB, 30.0},
    {0, 1, 2, 2, 1, 1, 64, NONE, 0, 0, UNB, UNB, 1.0},
    {1, 1, 2, 2, 7, 7, 40, TL, 0, 0, UNB, UNB, 1.0},          /* D = 40 -> the D = 64 kernel */
    {0, 1, 2, 2, 129, 200, 128, BR, 0, 0, UNB, UNB, 1.0},     /* Nq != Nk */
    {1, 1, 16, 2, 129, 129, 64, TL, 0, 0, UNB, UNB, 1.0},     /* GQA 8:1, BSHD */
    {0, 1, 4, 1, 200, 300, 96, NONE, 0, 0, UNB, UNB, 1.0},    /* MQA */
    {0, 1, 2, 2, 1000, 1000, 96, TL, 0, 0, UNB, UNB, 1.0},
    {1, 1, 2, 1, 1000, 700, 128, BR, 0, 0, UNB, UNB, 1.0},    /* rows < 300 fully masked */
    {0, 1, 2, 2, 64, 64, 64, POS, 0, 10, UNB, UNB, 1.0},      /* rows 0..9 fully masked */
    {0, 1, 2, 2, 77, 300, 32, POS, 500, 300, UNB, UNB, 1.0},  /* global positions */
    {0, 1, 2, 2, 300, 300, 64, NONE, 0, 0, 40, 0, 1.0},       /* sliding window: MASKED */
    {0, 1, 2, 1, 129, 257, 256, TL, 0, 0, UNB, UNB, 1.0},     /* D = 256: JVP in two column slices */
    {0, 1, 2, 2, 100, 100, 33, TL, 0, 0, UNB, UNB, 1.0},      /* rows not 16-byte aligned: simt */
    {0, 1, 4, 2, 500, 500, 64, NONE, 0, 0, UNB, UNB, 30.0},   /* large logits */
    {1, 1, 4, 4, 257, 513, 128, BR, 0, 0, UNB, UNB, 30.0},    /* large logits, causal */
    {0, 1, 2, 2, 2048, 2048, 128, TL, 0, 0, UNB, UNB, 1.0},
    /* 16: the JVP at D > 128 (two column slices; Q swizzled) */
    {0, 1, 2, 2, 1, 1, 256, NONE, 0, 0, UNB, UNB, 1.0},
    {0, 1, 4, 1, 1000, 1000, 256, NONE, 0, 0, UNB, UNB, 1.0}, /* MQA, accumulate over 500 + 500 keys */
    {1, 1, 4, 2, 1000, 700, 256, BR, 0, 0, UNB, UNB, 1.0},    /* GQA, BSHD, rows < 300 fully masked */
    {0, 1, 2, 2, 300, 300, 256, NONE, 0, 0, 40, 0, 1.0},      /* sliding window: MASKED */
    {0, 1, 2, 2, 64, 64, 256, POS, 0, 10, UNB, UNB, 1.0},     /* rows 0..9 fully masked */
    {0, 1, 4, 2, 500, 500, 256, NONE, 0, 0, UNB, UNB, 30.0},  /* large logits, accumulate */
    {0, 1, 2, 2, 129, 200, 200, TL, 0, 0, UNB, UNB, 1.0},     /* D = 200 -> the D = 256 kernel */
    {0, 1, 2, 2, 7, 7, 160, NONE, 0, 0, UNB, UNB, 1.0},
    {0, 1, 4, 2, 333, 513, 160, BR, 0, 0, UNB, UNB, 1.0},
    {0, 1, 4, 1, 200, 300, 192, NONE, 0, 0, UNB, UNB, 1.0},   /* MQA, accumulate */
    {1, 1, 2, 2, 257, 129, 192, TL, 0, 0, UNB, UNB, 30.0},    /* large logits, Nq > Nk causal */
    /* coverage audit: D = 128 unmasked (the sm90 float32 forward; its JVP on sm80), GQA 2:1, Nq != Nk: the only
       D = 128 case of accumulate mode (the accumulate checks take unmasked BHSD cases) */
    {0, 1, 4, 2, 200, 300, 128, NONE, 0, 0, UNB, UNB, 1.0},
};

static jfa_context_t *g_simt; /* a context capped at the simt family (the accuracy baseline) */

/* The family a float32 call must run on (gt_expected_f32_path): sm90 at D = 32 / 64 / 128 (the JVP 32 / 64)
   without a window where the build and device have it, else sm80 for aligned rows (D a multiple
   of 4 here, the tensors being packed) with D <= 256, else simt; simt under JFA_KERNEL_PATH=simt. */
static int expected_path(const fcase_t *c, int jvp) {
  return gt_expected_f32_path(c->D, jvp, c->wl != UNB || c->wr != UNB);
}

static void check_ran(jfa_context_t *gpu, const char *what, int want_path, int tf32) {
  char nm[256];
  gt_check_path(gpu, what, 0, want_path);
  const int want = want_path == GT_PATH_SIMT ? 0 : tf32 ? 1 : 3;
  const int got = jfa_cuda_last_precision(gpu, 0);
  snprintf(nm, sizeof(nm), "%s: float32 arithmetic %d (0 native, 1 TF32, 3 3xTF32), expected %d", what, got, want);
  tu_expect(nm, got == want);
}

/* The arithmetic a call ran in: float32 (simt), 3xTF32, one TF32 product. */
enum { AR_F32 = 0, AR_3X = 1, AR_TF32 = 2 };

/* The bound of an output (norm-wise relative error against float64). Unit-scale logits:
   float32's 1e-5 for simt and 3xTF32, 1e-2 for TF32. Large logits (|S| ~ 900): a float32 score
   is off by ~ |S| 2^-24 ~ 5e-5 at best (3xTF32 with float32 accumulation: ~2e-4), which moves
   the probabilities of rows whose two largest logits nearly tie by that much, relative; Od and
   mu carry it times |Sd| ~ 40 (O, lse far less: most rows are one-hot). simt scores in double
   and keeps 1e-5. So 3xTF32: O, lse 1e-4, Od, mu 2e-3; TF32 (scores off by ~0.1): O, lse 0.1,
   Od, mu 1 (written, finite, of the right size). */
/* 3xTF32 at unit-scale logits: the mma accumulators' float32 additions (not rounded to nearest)
   over Nk keys: Od 1.006e-5 at Nk = 2048 on the H200 (2026-12-02), growing about as sqrt(Nk);
   the bound grows from float32's 1e-5 (Nk <= 250) as 2 sqrt(Nk / 1000) times it */
static double g_nk_grow = 1.0;

static double bound(int ar, int large, int tangent) {
  /* simt at large logits, tangents: the accumulate mode's float32 merge (Od_c + (mu_c - mu) O_c,
     |mu| ~ |Sd| ~ 40) adds ~ 40 float32 roundings: 5.0e-5 measured on the H200 (2026-12-02) */
  if (ar == AR_F32) return large && tangent ? 1e-4 : gt_tol(JFA_DTYPE_FLOAT32);
  if (!large) return ar == AR_3X ? gt_tol(JFA_DTYPE_FLOAT32) * g_nk_grow : 1e-2;
  if (ar == AR_3X) return tangent ? 2e-3 : 1e-4;
  return tangent ? 1.0 : 0.1;
}

/* Large logits, sm90's 3xTF32: lse's and mu's ABSOLUTE errors against float64 (the relative
   norm-wise check above compares lse, ~2700 here, at 1e-4, i.e. +-0.3 absolute, and cannot see a
   bias of 1e-3 that is a 1e-3 relative error of every probability P = exp(S - lse) that a backward
   forms from this lse).
   Derivation of the lse bound (bench/f32_fwd_model.c; bench/RESULTS.md, sixth session of
   2026-12-02): the wgmma accumulator adds each instruction's products exactly and truncates the
   sum toward zero to float32, an expected loss of half an ulp of the running sum. An ulp of x is
   2^-23 x / t for x = 2^e t, t in [1, 2): 0.72 2^-23 |x| on average. With the SMALLFIRST order
   (the small products of all KS = D / 8 k8 steps while the sum is small, then the KS hi * hi
   products) the large sum is truncated KS times at about j / KS of the final score |S| (step j):
   a bias toward zero of sum_j 0.36 2^-23 (j / KS) |S| = 0.36 2^-23 (KS + 1) / 2 |S| =: 0.36 u |S|.
   The rows' lse is their largest score plus a log of at most a few units, so mean(lse - lse64) is
   about -0.36 u mean|lse| and the rms error about as large. The order before the fix (lo * hi,
   hi * lo, hi * hi per k8 step into one accumulator) truncates 3 KS times, the two small products
   of step j at the ulp of the sum of steps < j: sum_j 0.36 2^-23 (3 j - 2) / KS |S| = 0.36 2^-23
   (3 (KS + 1) / 2 - 2) |S|, i.e. 0.92 u (D = 64) / 0.99 u (D = 128). The model (seeds 1-6 of cases
   13 and 14, float32 softmax statistics): the fix -0.29 .. -0.32 u mean, 0.32 .. 0.36 u rms; the old
   order -0.88 .. -0.92 u mean, 0.93 .. 0.96 u rms. Bound: |mean| and rms <= 0.6 u (u as above with
   mean|lse64| for |S|): the fixed kernel passes with a margin of 1.7-2x, the old order fails by
   1.45-1.6x (tuning builds: JFA_TUNE_SM90_F32_FWD_ORDER=1 runs it; the sm80 forward, per step
   with K split as Q: -0.94 u / 0.98-0.99 u by the model). Noise: lse's float32 roundings (and accumulate mode's
   merge) are unbiased and ~1e-4 a row, 1 / sqrt(rows) of that in the mean.
   mu: its error comes from the scores' truncation noise (not their common bias, which cancels in
   P) times the spread of the tangent scores in rows whose largest scores nearly tie, and does not
   tell the two orders apart (model rms, the fix: 0.6-4.0e-4 at D = 64, 2.4-9.1e-4 at D = 128; the
   old order 1.6-5.7e-4 / 6.9-9.5e-4); its bound, rms <= 2e-3 absolute, is the model's largest
   with a 2.2x margin (the relative check above allows 2e-3 of |mu| ~ 44, i.e. 0.09). sm80's forward
   still issues its products per k8 step (the old order's bias): its statistics are printed, not
   checked. */
static void check_lse_abs(const char *what, const double *got, const double *ref, size_t n, int64_t D, int check) {
  double mean = 0, rms = 0, mag = 0;
  size_t m = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!isfinite(ref[i])) continue;
    const double e = got[i] - ref[i];
    mean += e, rms += e * e, mag += fabs(ref[i]), ++m;
  }
  if (m == 0) return;
  mean /= (double)m, rms = sqrt(rms / (double)m), mag /= (double)m;
  const double u = ldexp(1.0, -23) * (double)(D / 8 + 1) / 2.0 * mag, bnd = 0.6 * u;
  char nm[256];
  printf("       %s absolute: mean %+.3e (%+.2f u), rms %.3e (%.2f u), u = %.3e%s\n", what, mean, mean / u, rms, rms / u,
         u, check ? "" : " (not checked)");
  if (!check) return;
  snprintf(nm, sizeof(nm), "%s absolute: |mean error| (the truncation bias)", what);
  tu_check(nm, fabs(mean), bnd);
  snprintf(nm, sizeof(nm), "%s absolute: rms error", what);
  tu_check(nm, rms, bnd);
}

static void check_mu_abs(const char *what, const double *got, const double *ref, size_t n) {
  double rms = 0;
  for (size_t i = 0; i < n; ++i) rms += (got[i] - ref[i]) * (got[i] - ref[i]);
  char nm[256];
  snprintf(nm, sizeof(nm), "%s absolute: rms error", what);
  tu_check(nm, sqrt(rms / (double)(n ? n : 1)), 2e-3);
}

/* lse's and mu's (lse's tangent) norm-wise errors have a floor of one natural-log unit: an absolute
   error e of lse is a relative error e of every probability exp(S - lse), whatever lse's own size;
   at Nq = Nk = 1 lse is the one score s q.k, near zero for some seeds, while TF32's rounding of it
   scales with the terms s |q_i k_i| summed (case 5 failed at 1.05e-2 > 1e-2 that way on the H200,
   seventh session). */
#define LSE_FLOOR 1.0

/* One output against float64; prints its error next to the simt family's on the same inputs
   (the "within 2x of today's float32 kernel", for the record: simt's scores are
   accumulated in double, which no float32-accumulating tensor-core product matches). */
static void check_out(const char *what, const double *got, const double *ref, const double *simt, size_t n, int ar,
                      int large, int tangent, double floor_rms) {
  if (!gt_compare_floor(what, got, ref, n, bound(ar, large, tangent), floor_rms) || !simt || ar == AR_F32) return;
  const double e = tu_rel_err(got, ref, n), es = tu_rel_err(simt, ref, n);
  printf("       %s: %.3e, simt %.3e (ratio %.1f)\n", what, e, es, es > 0 ? e / es : INFINITY);
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const fcase_t *c = &cases[ci];
  const jfa_dtype_t F = JFA_DTYPE_FLOAT32;
  printf("case %d: fp32 %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld mask=%d pos=(%lld,%lld) window=(%lld,%lld) "
         "qk~N(0,%g^2)\n",
         ci, c->bshd ? "BSHD" : "BHSD", (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)c->Nq,
         (long long)c->Nk, (long long)c->D, (int)c->mask, (long long)c->qpos, (long long)c->kpos, (long long)c->wl,
         (long long)c->wr, c->qk_scale);
  fflush(stdout);
  g_nk_grow = fmax(1.0, 2.0 * sqrt((double)c->Nk / 1000.0));
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.q_position = c->qpos;
  prm.k_position = c->kpos;
  prm.window_left = c->wl;
  prm.window_right = c->wr;

  gbuf_t q = gb_new(F, c->bshd, c->B, c->Hq, c->Nq, c->D), k = gb_new(F, c->bshd, c->B, c->Hkv, c->Nk, c->D),
         v = gb_new(F, c->bshd, c->B, c->Hkv, c->Nk, c->D), qd = gb_new(F, c->bshd, c->B, c->Hq, c->Nq, c->D),
         kd = gb_new(F, c->bshd, c->B, c->Hkv, c->Nk, c->D), vd = gb_new(F, c->bshd, c->B, c->Hkv, c->Nk, c->D);
  gbuf_t o = gb_new(F, c->bshd, c->B, c->Hq, c->Nq, c->D), od = gb_new(F, c->bshd, c->B, c->Hq, c->Nq, c->D),
         lse = gb_new(F, 0, c->B, c->Hq, c->Nq, 1), mu = gb_new(F, 0, c->B, c->Hq, c->Nq, 1);
  gb_random(&q, c->qk_scale);
  gb_random(&k, c->qk_scale);
  gb_random(&v, 1.0);
  gb_random(&qd, 1.0);
  gb_random(&kd, 1.0);
  gb_random(&vd, 1.0);

  /* float64 reference on the CPU backend */
  const size_t nq = q.n, nr = lse.n;
  double *ro = calloc(nq, 8), *rod = calloc(nq, 8), *rlse = calloc(nr, 8), *rmu = calloc(nr, 8);
  jfa_tensor_t hq = host_f64(q.val, c->B, c->Hq, c->Nq, c->D), hk = host_f64(k.val, c->B, c->Hkv, c->Nk, c->D),
               hv = host_f64(v.val, c->B, c->Hkv, c->Nk, c->D), hqd = host_f64(qd.val, c->B, c->Hq, c->Nq, c->D),
               hkd = host_f64(kd.val, c->B, c->Hkv, c->Nk, c->D), hvd = host_f64(vd.val, c->B, c->Hkv, c->Nk, c->D),
               ho = host_f64(ro, c->B, c->Hq, c->Nq, c->D), hod = host_f64(rod, c->B, c->Hq, c->Nq, c->D),
               hl = host_f64(rlse, c->B, c->Hq, c->Nq, 1), hm = host_f64(rmu, c->B, c->Hq, c->Nq, 1);
  gt_ok(jfa_attention_forward_jvp(cpu, &prm, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");

  /* the simt family's float32 results on the same inputs (its error is the accuracy bar) */
  double *so = calloc(nq, 8), *sod = calloc(nq, 8), *slse = calloc(nr, 8), *smu = calloc(nr, 8);
  gt_ok(jfa_attention_forward_jvp(g_simt, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
        "simt forward_jvp");
  gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
  memcpy(so, o.val, nq * 8), memcpy(sod, od.val, nq * 8), memcpy(slse, lse.val, nr * 8), memcpy(smu, mu.val, nr * 8);
  gt_check_path(g_simt, "simt context", 0, GT_PATH_SIMT);

  char nm[160];
  for (int tf32 = 0; tf32 < 2; ++tf32) {
    const char *md = tf32 ? "tf32" : "3xtf32";
    gt_ok(jfa_context_set_flags(gpu, tf32 ? JFA_FLAG_ALLOW_TF32 : 0), "set_flags");
    /* the arithmetic each call runs in (simt: float32, whatever the flag) */
    const int ar_tc = tf32 ? AR_TF32 : AR_3X, large = c->qk_scale > 1.0;
    const int ar_fwd = expected_path(c, 0) != GT_PATH_SIMT ? ar_tc : AR_F32;
    const int ar_jvp = expected_path(c, 1) != GT_PATH_SIMT ? ar_tc : AR_F32;

    /* forward */
    gb_poison(&o);
    gb_poison(&lse);
    gt_ok(jfa_attention_forward(gpu, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t), "forward");
    gb_get(&o);
    gb_get(&lse);
    snprintf(nm, sizeof(nm), "case %d %s fwd", ci, md);
    check_ran(gpu, nm, expected_path(c, 0), tf32);
    snprintf(nm, sizeof(nm), "case %d %s fwd O", ci, md);
    check_out(nm, o.val, ro, so, nq, ar_fwd, large, 0, 0.0);
    snprintf(nm, sizeof(nm), "case %d %s fwd lse", ci, md);
    check_out(nm, lse.val, rlse, slse, nr, ar_fwd, large, 0, LSE_FLOOR);
    /* large logits, 3xTF32: lse's absolute error (checked on sm90, printed on sm80) */
    const int abs_fwd = large && ar_fwd == AR_3X, abs_jvp = large && ar_jvp == AR_3X;
    const int sm90_fwd = expected_path(c, 0) == GT_PATH_SM90, sm90_jvp = expected_path(c, 1) == GT_PATH_SM90;
    if (abs_fwd) check_lse_abs(nm, lse.val, rlse, nr, c->D, sm90_fwd);
    if (abs_fwd && !tf32) {
      snprintf(nm, sizeof(nm), "case %d simt fwd lse", ci);
      check_lse_abs(nm, slse, rlse, nr, c->D, 0);
    }

    /* fused forward+JVP */
    gb_poison(&o), gb_poison(&lse), gb_poison(&od), gb_poison(&mu);
    gt_ok(jfa_attention_forward_jvp(gpu, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
          "forward_jvp");
    gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
    snprintf(nm, sizeof(nm), "case %d %s jvp", ci, md);
    check_ran(gpu, nm, expected_path(c, 1), tf32);
    snprintf(nm, sizeof(nm), "case %d %s jvp O", ci, md);
    check_out(nm, o.val, ro, so, nq, ar_jvp, large, 0, 0.0);
    snprintf(nm, sizeof(nm), "case %d %s jvp lse", ci, md);
    check_out(nm, lse.val, rlse, slse, nr, ar_jvp, large, 0, LSE_FLOOR);
    if (abs_jvp) check_lse_abs(nm, lse.val, rlse, nr, c->D, sm90_jvp);
    snprintf(nm, sizeof(nm), "case %d %s jvp Od", ci, md);
    check_out(nm, od.val, rod, sod, nq, ar_jvp, large, 1, 0.0);
    snprintf(nm, sizeof(nm), "case %d %s jvp mu", ci, md);
    check_out(nm, mu.val, rmu, smu, nr, ar_jvp, large, 1, LSE_FLOOR);
    if (abs_jvp && sm90_jvp) check_mu_abs(nm, mu.val, rmu, nr);

    /* accumulate mode (the ring's): the JVP over two K/V halves merged into float32 accumulators */
    if (c->mask != JFA_MASK_NONE || c->wl != UNB || c->bshd || c->B * c->Hq * c->Nq * c->D > (1 << 22)) continue;
    jfa_problem_t p;
    memset(&p, 0, sizeof(p));
    p.B = c->B, p.Hq = c->Hq, p.Hkv = c->Hkv, p.Nq = c->Nq, p.Nk = c->Nk, p.D = c->D;
    p.scale = 1.0 / sqrt((double)c->D);
    gt_ok(jfa_cuda_fill(gpu, &o.t, 0.0), "fill");
    gt_ok(jfa_cuda_fill(gpu, &od.t, 0.0), "fill");
    gt_ok(jfa_cuda_fill(gpu, &mu.t, 0.0), "fill");
    gt_ok(jfa_cuda_fill(gpu, &lse.t, -INFINITY), "fill");
    const int64_t h1 = c->Nk / 8 * 4; /* rows stay 16-byte aligned */
    const int64_t r0[2] = {0, h1}, rn[2] = {h1, c->Nk - h1};
    for (int s = 0; s < 2; ++s) {
      if (rn[s] == 0) continue;
      jfa_problem_t ph = p;
      ph.Nk = rn[s];
      jfa_tensor_t kh = gt_rows(&k.t, 2, r0[s], rn[s]), vh = gt_rows(&v.t, 2, r0[s], rn[s]),
                   kdh = gt_rows(&kd.t, 2, r0[s], rn[s]), vdh = gt_rows(&vd.t, 2, r0[s], rn[s]);
      gt_ok(jfa_cuda_attention_block(gpu, &ph, &q.t, &kh, &vh, &qd.t, &kdh, &vdh, &o.t, &lse.t, &od.t, &mu.t, 1),
            "attention_block(accumulate)");
      snprintf(nm, sizeof(nm), "case %d %s accumulate half %d", ci, md, s);
      check_ran(gpu, nm, expected_path(c, 1), tf32);
    }
    gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
    snprintf(nm, sizeof(nm), "case %d %s accumulate O", ci, md);
    check_out(nm, o.val, ro, NULL, nq, ar_jvp, large, 0, 0.0);
    snprintf(nm, sizeof(nm), "case %d %s accumulate lse", ci, md);
    check_out(nm, lse.val, rlse, NULL, nr, ar_jvp, large, 0, LSE_FLOOR);
    if (abs_jvp) check_lse_abs(nm, lse.val, rlse, nr, c->D, sm90_jvp);
    snprintf(nm, sizeof(nm), "case %d %s accumulate Od", ci, md);
    check_out(nm, od.val, rod, NULL, nq, ar_jvp, large, 1, 0.0);
    snprintf(nm, sizeof(nm), "case %d %s accumulate mu", ci, md);
    check_out(nm, mu.val, rmu, NULL, nr, ar_jvp, large, 1, LSE_FLOOR);

    /* the plain forward in accumulate mode (qd = NULL: the ring's jfa_ring_forward steps), on the forward's family
       (sm90 at D = 32, 64, 128, whose JVP at 128 runs on sm80) */
    gt_ok(jfa_cuda_fill(gpu, &o.t, 0.0), "fill");
    gt_ok(jfa_cuda_fill(gpu, &lse.t, -INFINITY), "fill");
    for (int s = 0; s < 2; ++s) {
      if (rn[s] == 0) continue;
      jfa_problem_t ph = p;
      ph.Nk = rn[s];
      jfa_tensor_t kh = gt_rows(&k.t, 2, r0[s], rn[s]), vh = gt_rows(&v.t, 2, r0[s], rn[s]);
      gt_ok(jfa_cuda_attention_block(gpu, &ph, &q.t, &kh, &vh, NULL, NULL, NULL, &o.t, &lse.t, NULL, NULL, 1),
            "attention_block(forward, accumulate)");
      snprintf(nm, sizeof(nm), "case %d %s forward accumulate half %d", ci, md, s);
      check_ran(gpu, nm, expected_path(c, 0), tf32);
    }
    gb_get(&o), gb_get(&lse);
    snprintf(nm, sizeof(nm), "case %d %s forward accumulate O", ci, md);
    check_out(nm, o.val, ro, NULL, nq, ar_fwd, large, 0, 0.0);
    snprintf(nm, sizeof(nm), "case %d %s forward accumulate lse", ci, md);
    check_out(nm, lse.val, rlse, NULL, nr, ar_fwd, large, 0, LSE_FLOOR);
  }
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");

  free(ro), free(rod), free(rlse), free(rmu), free(so), free(sod), free(slse), free(smu);
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &o, &od, &lse, &mu};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) gb_free(all[i]);
}

int main(int argc, char **argv) {
  gt_require_gpu();
  /* the simt baseline: a context created while JFA_KERNEL_PATH=simt (read at creation) */
  const char *e = getenv("JFA_KERNEL_PATH");
  char *saved = e ? strdup(e) : NULL;
  setenv("JFA_KERNEL_PATH", "simt", 1);
  gt_ok(jfa_context_create(&g_simt, JFA_DEVICE_CUDA, 0), "context_create(CUDA, simt)");
  if (saved) {
    setenv("JFA_KERNEL_PATH", saved, 1);
    free(saved);
  } else {
    unsetenv("JFA_KERNEL_PATH");
  }
  const int rc = gt_main(argc, argv, "test_gpu_f32", (int)(sizeof(cases) / sizeof(cases[0])), run_case);
  jfa_context_destroy(g_simt);
  return rc;
}
