/*
 * test_gpu_sm90_variants.c - the sm90 forward's variants at D = 128 (tuning builds,
 * -DJFA_TUNING=ON: JFA_TUNE_SM90A=3 to 9, src/kernels/sm90/tiles.h) against the float64 CPU
 * backend and against variant 0, the default (PVLAG, BN = 128, 2 stages), in one process: the
 * variant is read from the environment at each call, so each case runs variant 0 and then each
 * other variant on the same inputs. PVLAG reorders the products (the P V of block j issued after
 * the S of block j + 1) but not the arithmetic (O *= alpha(j), then O += P(j) V(j), the same
 * softmax), so at variant 0's BN = 128 (variants 3 and 4, and 6: the order before PVLAG) o and lse
 * must be bitwise those of variant 0; variant 5 (BN = 176) blocks the keys differently, so only
 * the tolerance applies. Each case runs again at D = 64 (and those up to 1000 x 1000 without packed
 * sequences at D = 96, 192, 256) with that head dim's variants (variants_d: PVLAG, or at 96 / 192 / 256,
 * where PVLAG is the default, the order before it; bitwise variant 0's results where they block the keys
 * as it does). All within the dtype's tolerance of float64. Cases: bf16 / fp16,
 * N = 1, 7, 129, 1000, 4096 (partial last blocks, the stage ring wrapping many times), causal
 * (both alignments, positions with fully masked rows), GQA, MQA, BSHD, and masked calls
 * (MASK_CLASS_ANY): sliding windows (alone, with both causal alignments, one- and two-sided, with
 * positions leaving rows fully masked), packed sequences with empty ones, a boolean dense mask whose
 * 64 x 64 tiles are empty, full or partial (key blocks empty for a whole CTA: the live-block skip
 * list; rows and a head fully masked). Variants 3 to 6 run variant 0's masked kernel, variant 7
 * (PVLAGM) the masked kernel in the PVLAG order: bitwise variant 0's results (same arithmetic).
 * Variant 8 (the persistent kernel, fwd_persist.cuh: min(SMs, tiles) CTAs, each running many tiles)
 * runs at its own grid and at 7 and 1 CTAs (JFA_TUNE_SM90_CTAS), at 7 with fwd_epilogue's stores
 * (JFA_TUNE_SM90_SCALAR_O=1) instead of its 16-byte ones, and at 5 in either tile order
 * (JFA_TUNE_SM90_ORDER=0 / 1), bitwise variant 0's results; variant 9 (the same with a tile's last
 * P V issued with the next tile's first S) likewise (order 1 puts tiles without keys between others:
 * its pending P V flushed before them); the cases from 19 on have 128-192 tiles (causal Nq != Nk with GQA, a causal window in BSHD, packed
 * sequences with a window and a query without keys, positions leaving rows without keys, a
 * two-sided window with positions, NaN in Q and K: NaN out exactly where the reference has NaN).
 * Variants 10, 11, 12 at D = 128 (the persistent kernel; 10 also at 7 CTAs) and 10, 11, 12, 16, 17 at D = 64
 * (row 0's OVERLAP kernel): EXPF, 2, 4, 1 (D = 128) / 2, 4, 6, 1, 3 (D = 64) of each 16 exponentials of a row on
 * the FMA pipe (common/exp2_poly.h), not bitwise variant 0 (the probabilities' last bits differ from
 * ex2.approx's): against float64 within the tolerance, rows without keys exactly O = 0 and lse = -inf, NaN
 * exactly where the reference has NaN; masked calls run variant 0's kernels there.
 * Outputs are poisoned (NaN) before each call.
 * Registered only in tuning builds; exits 77 (CTest "Not Run") without a GPU or off compute
 * capability 9.0 with the sm_90a kernels (where no variant runs).
 *
 *   ./test_gpu_sm90_variants [case-index]   (JFA_TEST_SEED=... to repeat; JFA_TEST_SM90_ONLY=v: variants 0
 *                                           and v only, e.g. under compute-sanitizer)
 */
#define _POSIX_C_SOURCE 200809L
#include <cuda_runtime_api.h>
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
  int64_t wleft;             /* > 0: a sliding window of wleft keys back (a masked call) */
  int64_t wright;            /* > 0: and of wright keys ahead (else unbounded) */
  const char *seq_q, *seq_k; /* packed sequence lengths ("1,0,129"), NULL: none (B = 1) */
  int dense;                 /* a boolean dense mask of empty, full and partial tiles (dense_visible) */
  int nan;                   /* NaN in Q (row 300 of batch 0, head 0) and in K (key 1000 of batch 0, head 0) */
} vcase_t;

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define POS JFA_MASK_CAUSAL_POSITIONS
#define NPOS JFA_MASK_POSITIONS

static const vcase_t cases[] = {
    /* dt bshd B Hq Hkv Nq Nk mask qpos kpos wleft wright seq_q seq_k dense nan */
    {BF, 0, 2, 4, 4, 1000, 1000, NONE, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {BF, 0, 1, 2, 2, 4096, 4096, NONE, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {FH, 0, 1, 2, 2, 4096, 4096, BR, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {BF, 1, 1, 16, 2, 129, 1000, TL, 0, 0, 0, 0, NULL, NULL, 0, 0}, /* GQA 8:1 */
    {FH, 0, 1, 2, 2, 1000, 300, BR, 0, 0, 0, 0, NULL, NULL, 0, 0}, /* rows < 700 fully masked */
    {BF, 0, 1, 1, 1, 1, 1, NONE, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {FH, 1, 2, 2, 2, 7, 129, NONE, 0, 0, 0, 0, NULL, NULL, 0, 0},
    {FH, 0, 1, 4, 1, 200, 300, POS, 0, 10, 0, 0, NULL, NULL, 0, 0}, /* MQA, rows 0..9 fully masked */
    {BF, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, 100, 0, NULL, NULL, 0, 0}, /* masked calls (MASK_CLASS_ANY) */
    {BF, 0, 1, 2, 2, 4096, 4096, NONE, 0, 0, 300, 200, NULL, NULL, 0, 0}, /* two-sided window, many blocks */
    {FH, 0, 1, 2, 2, 700, 1000, BR, 0, 0, 256, 0, NULL, NULL, 0, 0}, /* window, bottom-right */
    {BF, 1, 1, 8, 2, 1000, 700, TL, 0, 0, 129, 0, NULL, NULL, 0, 0}, /* window, top-left, GQA 4:1: rows > 828 none */
    {FH, 0, 1, 4, 1, 300, 600, POS, 500, 0, 64, 0, NULL, NULL, 0, 0}, /* MQA, causal positions: rows > 163 see no key */
    {BF, 0, 1, 2, 2, 200, 300, NPOS, 550, 300, 30, 10, NULL, NULL, 0, 0}, /* positions, two-sided: rows >= 80 none */
    /* packed sequences: empty ones (no queries, no keys, both), queries without keys (fully masked) */
    {BF, 1, 1, 4, 2, 0, 0, TL, 0, 0, 0, 0, "300,0,129,1,700,0,64", "300,5,0,1,900,0,200", 0, 0},
    {FH, 1, 1, 2, 2, 0, 0, BR, 0, 0, 100, 0, "1000,7,300", "1300,7,100", 0, 0}, /* packed + window */
    {BF, 0, 2, 4, 2, 1000, 1000, NONE, 0, 0, 0, 0, NULL, NULL, 1, 0}, /* dense, GQA, a head fully masked */
    {FH, 1, 1, 2, 2, 700, 1500, BR, 0, 0, 0, 0, NULL, NULL, 1, 0}, /* dense + causal */
    {BF, 0, 1, 2, 2, 1200, 1200, TL, 0, 0, 500, 0, NULL, NULL, 1, 0}, /* dense + window */
    /* many tiles (variant 8 at 7 and 1 CTAs: tens of tiles a CTA, its ring and parities wrapping) */
    {BF, 0, 2, 8, 2, 1500, 2100, BR, 0, 0, 0, 0, NULL, NULL, 0, 0}, /* causal Nq != Nk, GQA 4:1, 192 tiles */
    {FH, 1, 2, 4, 4, 2500, 2500, TL, 0, 0, 700, 0, NULL, NULL, 0, 0}, /* causal window, BSHD, 160 tiles */
    {BF, 1, 1, 4, 2, 0, 0, BR, 0, 0, 300, 0, "2000,0,700,1,1500", "2100,3,700,0,1400", 0, 0}, /* packed + window */
    {BF, 0, 2, 4, 4, 2000, 1200, POS, 0, 900, 0, 0, NULL, NULL, 0, 0}, /* rows < 900 see no key */
    {FH, 0, 1, 4, 2, 1500, 1500, NPOS, 1000, 0, 300, 100, NULL, NULL, 0, 0}, /* positions, two-sided: rows > 800 none */
    {BF, 0, 1, 4, 2, 2000, 2000, TL, 0, 0, 0, 0, NULL, NULL, 0, 1}, /* NaN in, causal */
    {FH, 1, 1, 4, 4, 2000, 2000, BR, 0, 0, 900, 0, NULL, NULL, 0, 1}, /* NaN in, window */
};

/* The dense mask of a case (dense = 1): entry (h, i, j) visible or not, by 64 x 64 tiles (the
   block map's) and 128-key blocks: key blocks kb % 5 == 1 empty for every row (the CTA skips them),
   kb % 5 == 3 full; row tiles rt % 4 == 3 fully masked; otherwise the tiles (rt + kt) % 3 == 0
   full, 1 empty, 2 partial (about 25% masked, from r); the last head of several fully masked. */
static int dense_visible(int64_t h, int64_t Hq, int64_t i, int64_t j, double r) {
  const int64_t kb = j / 128, rt = i / 64, kt = j / 64;
  if (Hq > 1 && h == Hq - 1) return 0;
  if (rt % 4 == 3 || kb % 5 == 1) return 0;
  if (kb % 5 == 3) return 1;
  if ((rt + kt) % 3 == 0) return 1;
  if ((rt + kt) % 3 == 1) return 0;
  return fabs(r) <= 1.15;
}

/* The variants of the D = 128 forward (tiles.h) and whether they block the keys as variant 0
   does (BN = 128) with its arithmetic (bitwise its results). EXPF (10, 11, 12: 2, 4, 1 of each 16
   exponentials on the FMA pipe, common/exp2_poly.h) changes the probabilities' last bits: the tolerance only; 13
   (the persistent row 0 with MPASS, the softmax's mask as a pass of its own; masked calls too; row 0 since the tenth
   session) bitwise */
static const struct {
  int v, bitwise, ctas; /* ctas > 0: JFA_TUNE_SM90_CTAS (variant 8's grid) */
  int scalar_o;         /* variant 8: JFA_TUNE_SM90_SCALAR_O=1 (fwd_epilogue's stores, not the 16-byte pieces) */
  int order;            /* variant 8: JFA_TUNE_SM90_ORDER (0 longest first, 1 variant 0's grid order; -1: by call) */
} variants[] = {{3, 1, 0, 0, -1},  {4, 1, 0, 0, -1},  {5, 0, 0, 0, -1},  {6, 1, 0, 0, -1}, {7, 1, 0, 0, -1},
                {8, 1, 0, 0, -1},  {8, 1, 7, 0, -1},  {8, 1, 1, 0, -1},  {8, 1, 7, 1, -1}, {8, 1, 5, 0, 0},
                {8, 1, 5, 0, 1},   {9, 1, 0, 0, -1},  {9, 1, 7, 0, -1},  {9, 1, 1, 0, -1}, {9, 1, 7, 1, -1},
                {9, 1, 5, 0, 1},   {10, 0, 0, 0, -1}, {10, 0, 7, 0, -1}, {11, 0, 0, 0, -1}, {12, 0, 0, 0, -1},
                {13, 1, 0, 0, -1}, {13, 1, 7, 0, -1}};

/* NaN cases: o / lse against the reference where it is not NaN (NaN masked out of both), and the NaN
   positions must match exactly; otherwise gt_compare */
static void compare_nan(const char *nm, const double *got, const double *ref, size_t n, double tol, int nan) {
  if (!nan) {
    gt_compare(nm, got, ref, n, tol);
    return;
  }
  double *g = malloc(n * sizeof(double)), *r = malloc(n * sizeof(double));
  size_t mism = 0, nref = 0;
  for (size_t i = 0; i < n; ++i) {
    const int rn = isnan(ref[i]), gn = isnan(got[i]);
    nref += rn;
    mism += rn != gn;
    g[i] = rn || gn ? 0.0 : got[i];
    r[i] = rn || gn ? 0.0 : ref[i];
  }
  char buf[256];
  snprintf(buf, sizeof(buf), "%s: NaN exactly where the reference has NaN (%zu there, %zu differ)", nm, nref, mism);
  tu_expect(buf, mism == 0 && nref > 0);
  gt_compare(nm, g, r, n, tol);
  free(g), free(r);
}

/* The variants of the other head dims (tiles.h, eighth session): D = 64's 13, 14 (PVLAG at BN = 128, 3 / 4
   stages: variant 0's BN and arithmetic in another order, bitwise its OVERLAP results) and 15 (PVLAG at BN =
   176: the keys blocked otherwise, the tolerance only); D = 96's and 192's 10 (the order before PVLAG, which
   is row 0 since the eighth session; the same tiles: bitwise), 192's 11 (PVLAG at BN = 64) and 256's 10 (the old
   order at BN = 80: the tolerance only); D = 64's EXPF variants (10, 11, 12, 16, 17: 2, 4, 6, 1, 3 of each 16
   exponentials on the FMA pipe) the tolerance only; D = 64's three-consumer variants (issue 19, tiles.h NC = 3:
   192 query rows a CTA; 18 BN = 128, 19 OVERLAP at BN = 64, 20 PVLAG at BN = 128 (row 0 since the ninth
   session), 21 OVERLAP at BN = 80; masked cases run variant 22's masked kernel): 18 and 20 bitwise (blocks of
   128 keys in the same arithmetic per row; the ninth session's H200 timing run saw them equal to the old row 0),
   19 and 21 the tolerance only; 22 (row 0 before the ninth session, OVERLAP at BN = 128: 13 and 14's bitwise
   reference then) bitwise; 23 and 24 (20 and 22 with MPASS, the softmax's mask as a pass of its own; 24's masked
   cases on its own masked kernel with MPASS; 23 is row 0 with its masked tiles before the nineteenth session) bitwise; 96's, 192's and 256's
   25 (row 0 without MPASS, the row before the tenth session) bitwise; 96's 26 (row 0 without PAD: P V over 96
   columns as 64 + 32, not 128) the tolerance only; 96's 27 (row 0 persistent, fwd_persist.cuh at D = 96; also
   at 7 CTAs: many tiles a CTA) bitwise, 28 (26 persistent) the tolerance only; 64's 29 (the persistent kernel, two
   consumers, PVLAG at BN = 128 with MPASS: row 0's arithmetic per row) bitwise, also at 7 CTAs; 64's 30 (29 not
   persistent: row 0's masked kernel from the nineteenth session to the twenty-second, now row 0's masked calls but
   dense masks and accumulate mode run 29) bitwise; 96's 31 (three consumers at BN = 96: row 0 since the
   twenty-third session) bitwise, 32 (the row 0 before it: two consumers, PAD, BN = 128; row 0's masked kernel) the
   tolerance only, and the variants that reproduced that row (10, 25, 27) bitwise 32's. ref: the variant whose
   outputs a variant's must equal bitwise (0, or one run before it at the same head dim), -1: the tolerance only;
   256's 33 (row 0 before the twenty-fourth session, at 64 keys a block; row 0 takes 80 since) the tolerance only,
   and 256's 25 (33 without MPASS) bitwise 33's; 64's 34 (the persistent forward with three consumer warpgroups,
   192 rows a tile: row 0's arithmetic per row) bitwise, also at 7 CTAs;
   ctas: JFA_TUNE_SM90_CTAS (0: unset) */
static const struct {
  int D, v, ref, ctas;
} variants_d[] = {{64, 13, 0, 0},   {64, 14, 0, 0},   {64, 15, -1, 0},  {64, 10, -1, 0},  {64, 11, -1, 0},
                  {64, 12, -1, 0},  {64, 16, -1, 0},  {64, 17, -1, 0},  {64, 18, 0, 0},   {64, 19, -1, 0},
                  {64, 20, 0, 0},   {64, 21, -1, 0},  {64, 22, 0, 0},   {64, 23, 0, 0},   {64, 24, 0, 0},
                  {96, 32, -1, 0},  {96, 10, 32, 0},  {192, 10, 0, 0},  {192, 11, -1, 0}, {256, 10, -1, 0},
                  {256, 33, -1, 0}, {96, 25, 32, 0},  {192, 25, 0, 0},  {256, 25, 33, 0}, {96, 26, -1, 0},
                  {96, 27, 32, 0},  {96, 27, 32, 7},  {96, 28, -1, 0},  {64, 29, 0, 0},   {64, 29, 0, 7},
                  {64, 30, 0, 0},   {96, 31, 0, 0},   {64, 34, 0, 0},   {64, 34, 0, 7}};
#define NVD ((int)(sizeof(variants_d) / sizeof(variants_d[0])))

static void run_case_d(int ci, int64_t D, jfa_context_t *gpu, jfa_context_t *cpu) {
  const vcase_t *c = &cases[ci];
  int64_t cq[65], ck[65], Nq = c->Nq, Nk = c->Nk;
  int ns = 0;
  if (c->seq_q && (ns = gt_packed_offsets(c->seq_q, c->seq_k, cq, ck, &Nq, &Nk)) < 0) return;
  const int masked = c->wleft > 0 || c->wright > 0 || ns > 0 || c->dense;
  char name[320];
  snprintf(name, sizeof(name),
           "case %d D=%lld: %s %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld mask=%d pos=(%lld,%lld) window=(%lld,%lld) "
           "seqs=%s/%s dense=%d",
           ci, (long long)D, c->dt == BF ? "bf16" : "fp16", c->bshd ? "BSHD" : "BHSD", (long long)c->B, (long long)c->Hq,
           (long long)c->Hkv, (long long)Nq, (long long)Nk, (int)c->mask, (long long)c->qpos, (long long)c->kpos,
           (long long)c->wleft, (long long)c->wright, c->seq_q ? c->seq_q : "-", c->seq_k ? c->seq_k : "-", c->dense);
  printf("%s\n", name);
  fflush(stdout);
  const double tol = gt_tol(c->dt);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.q_position = c->qpos;
  prm.k_position = c->kpos;
  if (c->wleft > 0) prm.window_left = c->wleft;
  if (c->wright > 0) prm.window_right = c->wright;
  if (ns) prm.cu_seqlens_q = cq, prm.cu_seqlens_k = ck, prm.num_seqs = ns;

  gbuf_t q = gb_new(c->dt, c->bshd, c->B, c->Hq, Nq, D), k = gb_new(c->dt, c->bshd, c->B, c->Hkv, Nk, D),
         v = gb_new(c->dt, c->bshd, c->B, c->Hkv, Nk, D);
  gbuf_t o = gb_new(c->dt, c->bshd, c->B, c->Hq, Nq, D), lse = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, Nq, 1);
  gb_random(&q, 1.0);
  gb_random(&k, 1.0);
  gb_random(&v, 1.0);
  if (c->nan) {
    q.val[300 * D + 5] = NAN; /* batch 0, head 0, row 300 */
    k.val[1000 * D + 7] = NAN; /* batch 0, kv head 0, key 1000 */
    gb_set(&q, q.val);
    gb_set(&k, k.val);
  }

  const size_t nq = q.n, nr = lse.n;
  double *ro = calloc(nq, 8), *rlse = calloc(nr, 8), *o0 = calloc(nq, 8), *l0 = calloc(nr, 8), *orf = calloc(nq, 8),
         *lrf = calloc(nr, 8);
  int rv = -1; /* the variant whose outputs orf, lrf hold (a later entry's ref) */
  jfa_tensor_t hq = host_f64(q.val, c->B, c->Hq, Nq, D), hk = host_f64(k.val, c->B, c->Hkv, Nk, D),
               hv = host_f64(v.val, c->B, c->Hkv, Nk, D), ho = host_f64(ro, c->B, c->Hq, Nq, D),
               hl = host_f64(rlse, c->B, c->Hq, Nq, 1);
  /* the dense mask (B, Hq, Nq, Nk): the same bytes on the host (the reference) and the device */
  jfa_attention_params_t pg = prm;
  unsigned char *mh = NULL;
  void *md = NULL;
  jfa_tensor_t mhost, mdev;
  if (c->dense) {
    const size_t nm = (size_t)(c->B * c->Hq * Nq * Nk);
    double *r = malloc(nm * sizeof(double));
    mh = malloc(nm);
    tu_fill_normal(r, nm, 1.0);
    size_t x = 0;
    for (int64_t bb = 0; bb < c->B; ++bb)
      for (int64_t hh = 0; hh < c->Hq; ++hh)
        for (int64_t i = 0; i < Nq; ++i)
          for (int64_t j = 0; j < Nk; ++j, ++x) mh[x] = (unsigned char)dense_visible(hh, c->Hq, i, j, r[x]);
    free(r);
    if (cudaMalloc(&md, nm) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(mask)");
    cudaMemcpy(md, mh, nm, cudaMemcpyHostToDevice);
    mhost = jfa_tensor_bhsd(mh, JFA_DTYPE_BOOL, JFA_DEVICE_CPU, c->B, c->Hq, Nq, Nk);
    mdev = jfa_tensor_bhsd(md, JFA_DTYPE_BOOL, JFA_DEVICE_CUDA, c->B, c->Hq, Nq, Nk);
    prm.attn_mask = &mhost;
    pg.attn_mask = &mdev;
  }
  gt_ok(jfa_attention_forward(cpu, &prm, &hq, &hk, &hv, &ho, &hl), "cpu forward");
  size_t empty_rows = 0;
  for (size_t r = 0; r < nr; ++r) empty_rows += rlse[r] == -INFINITY;
  printf("  %zu of %zu rows see no key\n", empty_rows, nr);

  char nm[96];
  const char *only = getenv("JFA_TEST_SM90_ONLY"); /* e.g. 8: variant 0 and that one (sanitizer runs) */
  /* D = 128: the table above; other head dims: their entries of variants_d */
  const int d64 = D != 128, nvar = d64 ? NVD : (int)(sizeof(variants) / sizeof(variants[0]));
  for (int vi = -1; vi < nvar; ++vi) {
    if (d64 && vi >= 0 && variants_d[vi].D != D) continue;
    const int var = vi < 0 ? 0 : d64 ? variants_d[vi].v : variants[vi].v;
    const int ctas = vi < 0 ? 0 : d64 ? variants_d[vi].ctas : variants[vi].ctas;
    if (only && var != 0 && var != atoi(only)) continue;
    char val[16];
    snprintf(val, sizeof(val), "%d", var);
    setenv("JFA_TUNE_SM90A", val, 1);
    if (ctas > 0) {
      snprintf(val, sizeof(val), "%d", ctas);
      setenv("JFA_TUNE_SM90_CTAS", val, 1);
    } else {
      unsetenv("JFA_TUNE_SM90_CTAS");
    }
    const int scalar_o = vi >= 0 && !d64 && variants[vi].scalar_o, order = vi >= 0 && !d64 ? variants[vi].order : -1;
    if (scalar_o) setenv("JFA_TUNE_SM90_SCALAR_O", "1", 1);
    else unsetenv("JFA_TUNE_SM90_SCALAR_O");
    if (order >= 0) setenv("JFA_TUNE_SM90_ORDER", order ? "1" : "0", 1);
    else unsetenv("JFA_TUNE_SM90_ORDER");
    const char *how = scalar_o ? " scalar o" : order == 0 ? " order 0" : order == 1 ? " order 1" : "";
    gb_poison(&o);
    gb_poison(&lse);
    gt_ok(jfa_attention_forward(gpu, &pg, &q.t, &k.t, &v.t, &o.t, &lse.t), "forward");
    gb_get(&o);
    gb_get(&lse);
    snprintf(nm, sizeof(nm), "case %d D=%d variant %d ctas %d%s fwd", ci, (int)D, var, ctas, how);
    if (masked) gt_check_tensor_core(gpu, nm, 0);
    else gt_check_path(gpu, nm, 0, GT_PATH_SM90);
    snprintf(nm, sizeof(nm), "case %d D=%d variant %d ctas %d%s O", ci, (int)D, var, ctas, how);
    compare_nan(nm, o.val, ro, nq, tol, c->nan);
    snprintf(nm, sizeof(nm), "case %d D=%d variant %d ctas %d%s lse", ci, (int)D, var, ctas, how);
    compare_nan(nm, lse.val, rlse, nr, tol, c->nan);
    size_t bad = 0; /* rows without a visible key: exactly O = 0, lse = -inf */
    for (size_t r = 0; r < nr; ++r)
      if (rlse[r] == -INFINITY) bad += !(lse.val[r] == -INFINITY && gt_row_zero(o.val, (int64_t)r, D));
    snprintf(nm, sizeof(nm), "case %d D=%d variant %d ctas %d%s: rows without keys O = 0, lse = -inf (%zu bad)", ci, (int)D, var,
             ctas, how, bad);
    tu_expect(nm, bad == 0);
    const int ref = vi < 0 ? -1 : d64 ? variants_d[vi].ref : variants[vi].bitwise ? 0 : -1;
    if (var == 0) {
      memcpy(o0, o.val, nq * 8);
      memcpy(l0, lse.val, nr * 8);
    } else if (ref >= 0 && (ref == 0 || ref == rv || !only)) { /* JFA_TEST_SM90_ONLY may leave ref unrun */
      const double *oref = ref == 0 ? o0 : orf, *lref = ref == 0 ? l0 : lrf;
      size_t diff = 0;
      for (size_t i = 0; i < nq; ++i) diff += memcmp(&o.val[i], &oref[i], 8) != 0;
      for (size_t i = 0; i < nr; ++i) diff += memcmp(&lse.val[i], &lref[i], 8) != 0;
      snprintf(nm, sizeof(nm), "case %d D=%d variant %d ctas %d%s: o and lse bitwise those of variant %d (%zu differ)", ci,
               (int)D, var, ctas, how, ref, diff);
      tu_expect(nm, (ref == 0 || ref == rv) && diff == 0);
    }
    if (d64 && var != 0 && var != rv) {
      int later = 0; /* whether a later entry of this head dim compares with this variant */
      for (int w = vi + 1; w < nvar; ++w) later |= variants_d[w].D == D && variants_d[w].ref == var;
      if (later) {
        memcpy(orf, o.val, nq * 8);
        memcpy(lrf, lse.val, nr * 8);
        rv = var;
      }
    }
  }
  unsetenv("JFA_TUNE_SM90A");
  unsetenv("JFA_TUNE_SM90_CTAS");
  unsetenv("JFA_TUNE_SM90_SCALAR_O");
  unsetenv("JFA_TUNE_SM90_ORDER");

  free(ro), free(rlse), free(o0), free(l0), free(orf), free(lrf), free(mh);
  if (md) cudaFree(md);
  gbuf_t *all[] = {&q, &k, &v, &o, &lse};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) gb_free(all[i]);
}

/* the head dims with variants: D = 128 first (every case), then the others */
static const int64_t kDims[] = {128, 64, 96, 192, 256};
#define NDIMS ((int)(sizeof(kDims) / sizeof(kDims[0])))

/* each case at D = 128 and at the other head dims with variants (the cases up to 1000 x 1000 at D = 96, 192,
   256: the float64 reference's time), where the build has them on the sm90 family */
static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const vcase_t *c = &cases[ci];
  for (int i = 0; i < NDIMS; ++i) {
    if (kDims[i] > 64 && kDims[i] != 128 && (c->seq_q != NULL || c->Nq * c->Nk > 1000 * 1000)) continue;
    if (gt_expected_path(kDims[i]) == GT_PATH_SM90) run_case_d(ci, kDims[i], gpu, cpu);
  }
}

int main(int argc, char **argv) {
  gt_require_gpu();
  int any = 0; /* a head dim with variants whose forward runs the sm90 family here */
  for (int i = 0; i < NDIMS; ++i) any |= gt_expected_path(kDims[i]) == GT_PATH_SM90;
  if (!any) {
    printf("test_gpu_sm90_variants: no forward of a head dim with variants runs on the sm90 family here (not compute "
           "capability 9.0 with the sm_90a kernels, JFA_HEAD_DIMS, or JFA_KERNEL_PATH): no variant to compare\n");
    return 77;
  }
  return gt_main(argc, argv, "test_gpu_sm90_variants", (int)(sizeof(cases) / sizeof(cases[0])), run_case);
}
