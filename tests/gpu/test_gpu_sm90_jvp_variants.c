/*
 * test_gpu_sm90_jvp_variants.c - the sm90 fused forward+JVP's tuning variants at D = 192 and 256 (tuning
 * builds, -DJFA_TUNING=ON: JFA_TUNE_SM90A=1..13 at D = 192, 1..6 at 256; src/kernels/sm90/tiles.h) against
 * the float64 CPU backend and bitwise against the variant they reproduce, in one process: the variant is
 * read from the environment at each call, so each case runs variant 0 (the default) and then each variant
 * of its head dim on the same inputs. At D = 192 the default is the even column split (96 + 96 columns a
 * consumer) at BN = 64 in two rings (K, Kd in two stages, V, Vd in one; since the thirty-eighth session,
 * variant 11 the split at BN = 48 in one ring of 2 stages before it), and variant 4 the split before that
 * (128 + 64 columns, BN = 32, 3 stages), checked against float64 only (it blocks the keys differently); variant 1 (variant 4 with 2
 * stages), 2 and 3 (the even split at BN = 32, 3 and 2 stages) and 5 (the even split with OVERLAP: the S
 * and Sd of block j + 1 issued before the softmax of block j) block the keys as variant 4 does and
 * compute every output element with the same products in the same order (only the wgmma's N pieces
 * and the issue order differ), so o, lse, od and mu must be bitwise variant 4's; at D = 256 the default
 * (since the eighth session: K, Kd and V, Vd in two rings of one stage, BN = 64) against float64, variant 4
 * (the default before: the column split 128 + 128, BN = 32, 2 stages) against float64 and variant 1
 * (OVERLAP) bitwise 4; variants 2 and 3 (two rings, BN = 48: one K stage and two V stages, and the
 * reverse) against float64, and 3 bitwise 2 (the same key blocks and products; only the stages differ). At
 * D = 128 variant 1, and at D = 96, 256 variant 6 (row 0 without MPASS, the softmax's per-element mask
 * as a pass of its own, which row 0 takes since the tenth session) bitwise variant 0 (at D = 192 bitwise 11, the
 * row 0 before the thirty-eighth session); at D = 64 (row 0 at 128 keys a
 * block since the eleventh session) variant 2 (the row 0 before: 64 keys a block) against float64, variant 1 (2
 * without MPASS) bitwise 2, and 3 (row 0 with 3 stages) bitwise row 0; D = 128's variant 2 (80 keys a block) against
 * float64 only, as D = 96's variant 7 (the padded row, P V over 128 columns: row 0 before the twelfth session, which
 * runs 64 + 32), whose 6 (without MPASS) is bitwise 7 and 2 (row 0 without MPASS) bitwise row 0. D = 192's
 * variants 7-10 (the even split in two rings, STV: BN = 64 with two K stages, two V stages or one of each, and
 * BN = 80): 7 is row 0's tiles of the thirty-eighth session (against float64 since row 0 took the LEAN softmax), 8
 * and 9 bitwise 7 (the same key blocks and products; only the stages differ), 10 against float64; 11 (row 0 before:
 * BN = 48 in one ring) against float64, 12 (7 with MPASS) bitwise 7, 13 (12 with the LEAN softmax: Sd scaled once per
 * row, the rescale skipped where no row needs it; row 0 since the thirty-ninth session) bitwise row 0.
 * Masked calls run variant 0's masked kernel (BN = 32, 2 stages) under every variant; a window is a band
 * on the JVP (the unmasked kernel of the variant: at D = 192 since the thirty-eighth session the two-ring one). Cases: bf16 /
 * fp16, N = 1, 7, 129, 1000, 4096, causal (both alignments, Nq != Nk, positions; rows fully masked: O
 * = Od = 0, lse = -inf, mu = 0 exactly), GQA, MQA, BSHD, a sliding window (a masked call: the even
 * split's masked kernel at BN = 32; the OVERLAP variants run variant 0's order there), NaN inputs (a
 * row of q, a column of v, a key of kd: NaN exactly where the float64 reference has it, the rest
 * within tolerance), and accumulate mode (two K/V halves merged in fp32, as a ring step: the even
 * split's consumer 1 rotates its columns into order before that merge). Outputs are poisoned (NaN)
 * before each call. Registered only in tuning builds; exits 77 (CTest "Not Run") without a GPU or off
 * compute capability 9.0 with the sm_90a kernels; a case whose head dim is not built is skipped.
 *
 *   ./test_gpu_sm90_jvp_variants [case-index]   (JFA_TEST_SEED=... to repeat)
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "gpu_test.h"

typedef struct {
  jfa_dtype_t dt;
  int bshd;
  int64_t B, Hq, Hkv, Nq, Nk;
  jfa_mask_t mask;
  int64_t qpos, kpos;
  int64_t wleft; /* > 0: a sliding window of wleft keys back (a masked call) */
  int nan;       /* NaN in a row of q, a column of v and a key of kd */
  int acc;       /* also accumulate mode over two K/V halves */
  int64_t D;
} vcase_t;

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define POS JFA_MASK_CAUSAL_POSITIONS

static const vcase_t cases[] = {
    /* dt  bshd  B  Hq Hkv   Nq    Nk   mask  qpos kpos wleft nan acc D */
    /* D = 192 (cases 0-11) */
    {BF, 0, 2, 4, 4, 1000, 1000, NONE, 0, 0, 0, 0, 1, 192},
    {BF, 0, 1, 2, 2, 4096, 4096, NONE, 0, 0, 0, 0, 0, 192},
    {FH, 0, 1, 2, 2, 4096, 4096, BR, 0, 0, 0, 0, 0, 192},
    {BF, 1, 1, 16, 2, 129, 1000, TL, 0, 0, 0, 0, 0, 192}, /* GQA 8:1, BSHD, causal Nq != Nk */
    {FH, 0, 1, 2, 2, 1000, 300, BR, 0, 0, 0, 0, 1, 192},  /* rows < 700 fully masked */
    {BF, 0, 1, 1, 1, 1, 1, NONE, 0, 0, 0, 0, 0, 192},
    {FH, 1, 2, 2, 2, 7, 129, NONE, 0, 0, 0, 0, 1, 192},
    {BF, 0, 1, 2, 2, 129, 7, TL, 0, 0, 0, 0, 0, 192},
    {FH, 0, 1, 4, 1, 200, 300, POS, 0, 10, 0, 0, 0, 192}, /* MQA, rows 0..9 fully masked */
    {BF, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, 100, 0, 0, 192}, /* window: a masked call */
    {BF, 0, 2, 2, 2, 300, 500, NONE, 0, 0, 0, 1, 0, 192},
    {FH, 0, 1, 2, 2, 300, 500, BR, 0, 0, 0, 1, 0, 192},
    /* D = 256 (cases 12-19) */
    {BF, 0, 2, 4, 4, 1000, 1000, NONE, 0, 0, 0, 0, 1, 256},
    {FH, 0, 1, 2, 2, 4096, 4096, BR, 0, 0, 0, 0, 0, 256},
    {BF, 1, 1, 16, 2, 129, 1000, TL, 0, 0, 0, 0, 0, 256}, /* GQA 8:1, BSHD, causal Nq != Nk */
    {FH, 0, 1, 2, 2, 1000, 300, BR, 0, 0, 0, 0, 1, 256},  /* rows < 700 fully masked */
    {BF, 0, 1, 1, 1, 1, 1, NONE, 0, 0, 0, 0, 0, 256},
    {FH, 1, 2, 2, 2, 7, 129, NONE, 0, 0, 0, 0, 1, 256},
    {BF, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, 100, 0, 0, 256}, /* window: variant 0's masked kernel */
    {BF, 0, 2, 2, 2, 300, 500, BR, 0, 0, 0, 1, 0, 256},
    /* D = 64 and 128 (cases 20-31): variant 1 (without MPASS, the softmax's mask out of the max's loop) bitwise
       the variant it drops MPASS from (D = 64: 2, 128: 0) */
    {BF, 0, 2, 4, 4, 1000, 1000, NONE, 0, 0, 0, 0, 1, 64},
    {FH, 1, 1, 16, 2, 129, 1000, TL, 0, 0, 0, 0, 0, 64},
    {FH, 0, 1, 2, 2, 1000, 300, BR, 0, 0, 0, 0, 1, 64},
    {BF, 0, 1, 1, 1, 1, 1, NONE, 0, 0, 0, 0, 0, 64},
    {BF, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, 100, 0, 0, 64}, /* window: the masked kernels (BNM = 64) */
    {FH, 0, 1, 2, 2, 300, 500, BR, 0, 0, 0, 1, 0, 64},
    {BF, 0, 2, 4, 4, 1000, 1000, NONE, 0, 0, 0, 0, 1, 128},
    {FH, 1, 1, 16, 2, 129, 1000, TL, 0, 0, 0, 0, 0, 128},
    {FH, 0, 1, 2, 2, 1000, 300, BR, 0, 0, 0, 0, 1, 128},
    {BF, 0, 1, 1, 1, 1, 1, NONE, 0, 0, 0, 0, 0, 128},
    {BF, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, 100, 0, 0, 128},
    {BF, 0, 2, 2, 2, 300, 500, BR, 0, 0, 0, 1, 0, 128},
    /* D = 96 (cases 32-37): variant 7 (the padded row, row 0 before the twelfth session) against float64, 6 (7
       without MPASS) bitwise 7, 2 (row 0 without MPASS) bitwise row 0 */
    {BF, 0, 2, 4, 4, 1000, 1000, NONE, 0, 0, 0, 0, 1, 96},
    {FH, 1, 1, 16, 2, 129, 1000, TL, 0, 0, 0, 0, 0, 96},
    {FH, 0, 1, 2, 2, 1000, 300, BR, 0, 0, 0, 0, 1, 96},
    {BF, 0, 1, 1, 1, 1, 1, NONE, 0, 0, 0, 0, 0, 96},
    {BF, 0, 1, 2, 2, 1000, 1000, TL, 0, 0, 100, 0, 0, 96},
    {FH, 0, 2, 2, 2, 300, 500, BR, 0, 0, 0, 1, 0, 96},
};

/* The tuning variants of the JVP at head dim D (tiles.h), run in this order, and the variant whose results
   they must reproduce bitwise (they block the keys as it does and compute every element with the same
   products in the same order; -1: none, the tolerance only): at D = 192 the default (variant 0, the even
   split at BN = 64 in two rings since the thirty-eighth session, with MPASS and the LEAN softmax since the
   thirty-ninth: 13; 7 its tiles without either, 8 and 9 7's key blocks in other stages, 12 7 with MPASS) blocks the
   keys differently from variant 11 (the default before: BN = 48, one ring;
   6 is 11 without MPASS) and from variant 4 (the default before that: 128 + 64 at BN = 32), which variants 1,
   2, 3, 5 reproduce; keep: this variant's results are the reference of the later ones */
static const struct {
  int D, v, ref, keep;
} variants[] = {{192, 4, -1, 1}, {192, 1, 4, 0}, {192, 2, 4, 0}, {192, 3, 4, 0}, {192, 5, 4, 0},
                 {256, 4, -1, 1}, {256, 1, 4, 0},  {256, 2, -1, 1}, {256, 3, 2, 0}, {64, 2, -1, 1},
                 {64, 1, 2, 0},   {64, 3, 0, 0},  {128, 1, 0, 0},  {128, 2, -1, 0}, {96, 7, -1, 1}, {96, 6, 7, 0},
                 {96, 2, 0, 0},   {256, 6, 0, 0}, {192, 7, -1, 1}, {192, 8, 7, 0},  {192, 9, 7, 0}, {192, 10, -1, 0},
                 {192, 11, -1, 1}, {192, 6, 11, 0}, {192, 12, 7, 0}, {192, 13, 0, 0}};
#define NVAR ((int)(sizeof(variants) / sizeof(variants[0])))

/* How many of the n doubles differ bitwise between a and b. */
static size_t count_diff(const double *a, const double *b, size_t n) {
  size_t d = 0;
  for (size_t i = 0; i < n; ++i) d += memcmp(&a[i], &b[i], 8) != 0;
  return d;
}

/* got against ref where ref may hold NaN: NaN exactly where ref has it (counted into *bad), the rest
   within tol */
static void compare_nan(const char *name, const double *got, const double *ref, size_t n, double tol) {
  double *g = malloc(n * 8), *r = malloc(n * 8);
  size_t bad = 0, nn = 0;
  for (size_t i = 0; i < n; ++i) {
    const int gn = isnan(got[i]) != 0, rn = isnan(ref[i]) != 0;
    bad += gn != rn;
    nn += rn;
    g[i] = gn || rn ? 0.0 : got[i];
    r[i] = gn || rn ? 0.0 : ref[i];
  }
  char nm[400];
  snprintf(nm, sizeof(nm), "%s: NaN where the reference has NaN (%zu of %zu there, %zu differ)", name, nn, n, bad);
  tu_expect(nm, bad == 0 && nn > 0);
  tu_check(name, tu_rel_err(g, r, n), tol);
  free(g), free(r);
}

static jfa_problem_t resolve(const vcase_t *c) {
  jfa_problem_t p;
  memset(&p, 0, sizeof(p));
  p.B = c->B, p.Hq = c->Hq, p.Hkv = c->Hkv, p.Nq = c->Nq, p.Nk = c->Nk, p.D = c->D;
  p.scale = 1.0 / sqrt((double)c->D);
  p.causal = c->mask != JFA_MASK_NONE;
  p.q_pos0 = c->mask == BR ? c->Nk - c->Nq : c->mask == POS ? c->qpos : 0;
  p.k_pos0 = c->mask == POS ? c->kpos : 0;
  return p;
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const vcase_t *c = &cases[ci];
  const int64_t HD = c->D;
  char name[256];
  snprintf(name, sizeof(name),
           "case %d: jvp %s D=%lld B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld mask=%d pos=(%lld,%lld) window=%lld nan=%d "
           "acc=%d",
           ci, c->dt == BF ? "bf16" : "fp16", (long long)HD, (long long)c->B, (long long)c->Hq, (long long)c->Hkv,
           (long long)c->Nq, (long long)c->Nk, (int)c->mask, (long long)c->qpos, (long long)c->kpos,
           (long long)c->wleft, c->nan, c->acc);
  printf("%s%s\n", name, c->bshd ? " BSHD" : "");
  fflush(stdout);
  if (gt_expected_jvp_path(HD) != GT_PATH_SM90) {
    printf("  skipped: the JVP at D = %lld does not run on the sm90 family here\n", (long long)HD);
    return;
  }
  const double tol = gt_tol(c->dt);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.q_position = c->qpos;
  prm.k_position = c->kpos;
  if (c->wleft > 0) prm.window_left = c->wleft;

  gbuf_t q = gb_new(c->dt, c->bshd, c->B, c->Hq, c->Nq, HD), k = gb_new(c->dt, c->bshd, c->B, c->Hkv, c->Nk, HD),
         v = gb_new(c->dt, c->bshd, c->B, c->Hkv, c->Nk, HD), qd = gb_new(c->dt, c->bshd, c->B, c->Hq, c->Nq, HD),
         kd = gb_new(c->dt, c->bshd, c->B, c->Hkv, c->Nk, HD), vd = gb_new(c->dt, c->bshd, c->B, c->Hkv, c->Nk, HD);
  gbuf_t o = gb_new(c->dt, c->bshd, c->B, c->Hq, c->Nq, HD), lse = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1),
         od = gb_new(c->dt, c->bshd, c->B, c->Hq, c->Nq, HD), mu = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);
  gb_random(&q, 1.0);
  gb_random(&k, 1.0);
  gb_random(&v, 1.0);
  gb_random(&qd, 1.0);
  gb_random(&kd, 1.0);
  gb_random(&vd, 1.0);
  if (c->nan) {
    /* (values are BHSD doubles: b, h, row, column) q: batch 0, head 1, row 37, column 150 % D (at D = 192,
       256 the second consumer's slab); v: batch 1 (or 0), head 0, key 200, column 100 % D (the columns the
       even split's consumer 1 holds out of order); kd: batch 0, head 0, key 150 (every column). Keys every
       row sees (causal BR here: q_pos0 = 200), so that the NaN set is exactly the reference's (a key
       masked for some rows of its block may reach them through 0 * NaN: tests/common/nan_prop.h); the
       column is taken modulo D, since a column past D would put the NaN in a later key (key 201 at D = 64,
       which row 0 does not see) */
    const int64_t bv = c->B > 1 ? 1 : 0;
    q.val[((0 * c->Hq + 1) * c->Nq + 37) * HD + 150 % HD] = NAN;
    v.val[((bv * c->Hkv + 0) * c->Nk + 200) * HD + 100 % HD] = NAN;
    for (int64_t d = 0; d < HD; ++d) kd.val[((0 * c->Hkv + 0) * c->Nk + 150) * HD + d] = NAN;
    gb_set(&q, q.val);
    gb_set(&v, v.val);
    gb_set(&kd, kd.val);
  }

  const size_t nq = q.n, nr = lse.n;
  double *ro = calloc(nq, 8), *rlse = calloc(nr, 8), *rod = calloc(nq, 8), *rmu = calloc(nr, 8);
  double *o0 = calloc(nq, 8), *l0 = calloc(nr, 8), *od0 = calloc(nq, 8), *mu0 = calloc(nr, 8);
  double *ok = calloc(nq, 8), *lk = calloc(nr, 8), *odk = calloc(nq, 8), *muk = calloc(nr, 8); /* a keep variant's */
  int kept = -1;
  jfa_tensor_t hq = host_f64(q.val, c->B, c->Hq, c->Nq, HD), hk = host_f64(k.val, c->B, c->Hkv, c->Nk, HD),
               hv = host_f64(v.val, c->B, c->Hkv, c->Nk, HD), hqd = host_f64(qd.val, c->B, c->Hq, c->Nq, HD),
               hkd = host_f64(kd.val, c->B, c->Hkv, c->Nk, HD), hvd = host_f64(vd.val, c->B, c->Hkv, c->Nk, HD),
               ho = host_f64(ro, c->B, c->Hq, c->Nq, HD), hl = host_f64(rlse, c->B, c->Hq, c->Nq, 1),
               hod = host_f64(rod, c->B, c->Hq, c->Nq, HD), hm = host_f64(rmu, c->B, c->Hq, c->Nq, 1);
  gt_ok(jfa_attention_forward_jvp(cpu, &prm, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
  size_t empty_rows = 0;
  for (size_t r = 0; r < nr; ++r) empty_rows += rlse[r] == -INFINITY;
  printf("  %zu of %zu rows see no key\n", empty_rows, nr);

  /* accumulate mode: fp32 outputs, two K/V halves (rows 16-byte aligned) */
  gbuf_t ao = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, HD),
         aod = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, HD),
         alse = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1),
         amu = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);

  char nm[160];
  for (int vi = -1; vi < NVAR; ++vi) {
    if (vi >= 0 && variants[vi].D != HD) continue;
    const int var = vi < 0 ? 0 : variants[vi].v;
    char val[16];
    snprintf(val, sizeof(val), "%d", var);
    setenv("JFA_TUNE_SM90A", val, 1);
    gb_poison(&o);
    gb_poison(&lse);
    gb_poison(&od);
    gb_poison(&mu);
    gt_ok(jfa_attention_forward_jvp(gpu, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
          "forward_jvp");
    gb_get(&o);
    gb_get(&lse);
    gb_get(&od);
    gb_get(&mu);
    snprintf(nm, sizeof(nm), "case %d variant %d jvp", ci, var);
    if (c->wleft > 0) gt_check_tensor_core(gpu, nm, 0);
    else gt_check_path(gpu, nm, 0, GT_PATH_SM90);
    const double *got[4] = {o.val, lse.val, od.val, mu.val}, *ref[4] = {ro, rlse, rod, rmu};
    const size_t cnt[4] = {nq, nr, nq, nr};
    const char *what[4] = {"O", "lse", "Od", "mu"};
    for (int t = 0; t < 4; ++t) {
      snprintf(nm, sizeof(nm), "case %d variant %d %s", ci, var, what[t]);
      if (c->nan) compare_nan(nm, got[t], ref[t], cnt[t], tol);
      else gt_compare(nm, got[t], ref[t], cnt[t], tol);
    }
    size_t bad = 0; /* rows without a visible key: exactly O = Od = 0, lse = -inf, mu = 0 */
    for (size_t r = 0; r < nr; ++r)
      if (rlse[r] == -INFINITY)
        bad += !(lse.val[r] == -INFINITY && mu.val[r] == 0.0 && gt_row_zero(o.val, (int64_t)r, HD) &&
                 gt_row_zero(od.val, (int64_t)r, HD));
    snprintf(nm, sizeof(nm), "case %d variant %d: rows without keys O = Od = 0, lse = -inf, mu = 0 (%zu bad)", ci, var,
             bad);
    tu_expect(nm, bad == 0);
    if (vi < 0 || variants[vi].keep) {
      memcpy(vi < 0 ? o0 : ok, o.val, nq * 8);
      memcpy(vi < 0 ? l0 : lk, lse.val, nr * 8);
      memcpy(vi < 0 ? od0 : odk, od.val, nq * 8);
      memcpy(vi < 0 ? mu0 : muk, mu.val, nr * 8);
      if (vi >= 0) kept = var;
    }
    if (vi >= 0 && variants[vi].ref >= 0) {
      const int r0 = variants[vi].ref == 0;
      tu_expect("the reference variant ran before", r0 || kept == variants[vi].ref);
      const size_t diff = count_diff(o.val, r0 ? o0 : ok, nq) + count_diff(lse.val, r0 ? l0 : lk, nr) +
                          count_diff(od.val, r0 ? od0 : odk, nq) + count_diff(mu.val, r0 ? mu0 : muk, nr);
      snprintf(nm, sizeof(nm), "case %d variant %d: o, lse, od and mu bitwise those of variant %d (%zu differ)", ci, var,
               variants[vi].ref, diff);
      tu_expect(nm, diff == 0);
    }
    if (c->acc) {
      jfa_problem_t whole = resolve(c);
      gt_ok(jfa_cuda_fill(gpu, &ao.t, 0.0), "fill");
      gt_ok(jfa_cuda_fill(gpu, &aod.t, 0.0), "fill");
      gt_ok(jfa_cuda_fill(gpu, &amu.t, 0.0), "fill");
      gt_ok(jfa_cuda_fill(gpu, &alse.t, -INFINITY), "fill");
      const int64_t h1 = (c->Nk / 16 > 0) ? c->Nk / 16 * 8 : c->Nk / 2;
      const int64_t r0[2] = {0, h1}, rn[2] = {h1, c->Nk - h1};
      for (int s = 0; s < 2; ++s) {
        if (rn[s] == 0) continue;
        jfa_problem_t p = whole;
        p.Nk = rn[s];
        p.k_pos0 = whole.k_pos0 + r0[s];
        jfa_tensor_t ks = gt_rows(&k.t, 2, r0[s], rn[s]), vs = gt_rows(&v.t, 2, r0[s], rn[s]),
                     kds = gt_rows(&kd.t, 2, r0[s], rn[s]), vds = gt_rows(&vd.t, 2, r0[s], rn[s]);
        gt_ok(jfa_cuda_attention_block(gpu, &p, &q.t, &ks, &vs, &qd.t, &kds, &vds, &ao.t, &alse.t, &aod.t, &amu.t, 1),
              "attention_block(accumulate)");
      }
      gb_get(&ao), gb_get(&aod), gb_get(&alse), gb_get(&amu);
      const double *agot[4] = {ao.val, alse.val, aod.val, amu.val};
      for (int t = 0; t < 4; ++t) {
        snprintf(nm, sizeof(nm), "case %d variant %d accumulate %s", ci, var, what[t]);
        gt_compare(nm, agot[t], ref[t], cnt[t], tol);
      }
    }
  }
  unsetenv("JFA_TUNE_SM90A");

  free(ro), free(rlse), free(rod), free(rmu), free(o0), free(l0), free(od0), free(mu0);
  free(ok), free(lk), free(odk), free(muk);
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &o, &lse, &od, &mu, &ao, &aod, &alse, &amu};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) gb_free(all[i]);
}

int main(int argc, char **argv) {
  gt_require_gpu();
  int any = 0; /* a head dim of the variant table whose JVP runs the sm90 family here */
  for (int i = 0; i < NVAR; ++i) any |= gt_expected_jvp_path(variants[i].D) == GT_PATH_SM90;
  if (!any) {
    printf("test_gpu_sm90_jvp_variants: no head dim of the variant table runs its JVP on the sm90 family here (not "
           "compute capability 9.0 with the sm_90a kernels, JFA_HEAD_DIMS, or JFA_KERNEL_PATH): no variant to compare\n");
    return 77;
  }
  return gt_main(argc, argv, "test_gpu_sm90_jvp_variants", (int)(sizeof(cases) / sizeof(cases[0])), run_case);
}
