/*
 * test_gpu_blockmask.c - masks whose key blocks mix the three classes of issue 18 (empty:
 * skipped, full: the unmasked code, partial: masked per element) through the CUDA forward,
 * fused JVP and backward, bf16 and fp16, against the float64 CPU backend:
 *   - dense masks (boolean, float32 bias, bias in q's dtype) built tile by tile (64 x 64):
 *     all-true / zero-bias tiles (full), all-false / -inf tiles (empty), random, single-key
 *     and nonzero-bias tiles (partial), a whole row tile masked (fully masked rows: CTAs
 *     with no block), a whole key tile masked (keys no query sees: backward CTAs with no
 *     block), broadcast batch/head axes, and with causal or window masks on top;
 *   - sliding windows that straddle tiles (widths not multiples of 64, one- and two-sided,
 *     Nq != Nk bottom-right), GQA;
 *   - packed sequences short and long (1, 3, 7, 63, 65, 129, 500, 640, empty ones) with
 *     causal masks and windows inside them, Nq != Nk per sequence.
 * Each call must run on the expected family: interval and boolean dense masks on the sm90
 * family where the unmasked call would (H100/H200 with the sm_90a kernels; the forward and
 * the JVP at D = 64 / 96 / 128 / 192 / 256: gt_expected_path, gt_expected_jvp_path; boolean masks at a head dim
 * below 64, a multiple of 8, on the D = 64 kernels: gt_expected_dense_path), additive masks on sm80; the backward with interval and boolean dense masks on sm90
 * (sm80 under JFA_SM90_BWD=0), with an additive mask on sm80 (JFA_KERNEL_PATH honoured, as
 * gt_expected_path). Rows without
 * a visible key must give exactly O = Od = mu = dQ = 0 and lse = -inf; keys no query sees
 * exactly dK = dV = 0. Fixed boolean masks at Nq = 1, Nk = 7 (every key, none, one, two keys of the
 * row; DN_DRAWS draws each) run the sm90 forward's CTA with one block or none (every block skipped)
 * and the backward's single tile. The float64 backward takes the GPU JVP's o and lse (the inputs of
 * the backward under test; they are checked against the float64 forward before): where a row sees
 * few keys dQ and dK cancel, and delta from the 16-bit O would otherwise move the reference by up to
 * ~10% of them (test_gpu_sm90_bwd.c).
 *
 *   ctest -L gpu    or    ./test_gpu_blockmask [case-index]   (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_test.h"

#define UNB JFA_WINDOW_UNBOUNDED
enum { DN_NONE = 0, DN_BOOL, DN_F32, DN_QT }; /* dense mask: none, bool, float32 bias, bias in q's dtype */
/* boolean masks with fixed rows (make_dense): every key, none, key Nk / 2, keys 0 and Nk - 1; the
   cases run DN_DRAWS draws of their inputs (two keys cancel badly in ~14% of draws) */
enum { DN_ALL = 4, DN_NOKEY, DN_ONE, DN_TWO, DN_DRAWS = 24 };
static int dn_bool(int dense) { return dense == DN_BOOL || dense >= DN_ALL; }

typedef struct {
  jfa_dtype_t dt;
  int64_t B, Hq, Hkv, Nq, Nk, D; /* Nq, Nk: the sums of seq_q / seq_k when those are set */
  jfa_mask_t mask;
  int64_t wl, wr;            /* window sides (UNB, UNB: no window) */
  const char *seq_q, *seq_k; /* packed sequence lengths, NULL: none; seq_k NULL = seq_q */
  int dense, dense_b1, dense_h1;
} bcase_t;

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT

static const bcase_t cases[] = {
    /* dt B Hq Hkv Nq Nk D mask wl wr seq_q seq_k dense b1 h1 */
    /* dense masks by tiles */
    {BF, 2, 4, 2, 300, 330, 64, NONE, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1},
    {FH, 1, 2, 2, 257, 257, 128, TL, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0},
    {BF, 1, 2, 1, 200, 300, 64, NONE, UNB, UNB, NULL, NULL, DN_F32, 1, 0},
    {FH, 1, 2, 2, 300, 300, 128, NONE, UNB, UNB, NULL, NULL, DN_QT, 1, 1},
    {BF, 1, 2, 2, 500, 500, 128, TL, 100, UNB, NULL, NULL, DN_BOOL, 0, 0}, /* + window */
    {FH, 2, 2, 2, 260, 400, 96, NONE, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0},
    {BF, 1, 2, 2, 321, 321, 32, BR, UNB, UNB, NULL, NULL, DN_BOOL, 1, 1},
    {BF, 1, 2, 2, 0, 0, 64, TL, UNB, UNB, "3,200,1,129", NULL, DN_BOOL, 1, 1}, /* + packed sequences */
    /* boolean dense masks through the sm90 backward (D = 64 / 128): odd N, Nq != Nk, GQA / MQA,
       causal both alignments, windows, a per-head mask */
    {BF, 2, 4, 1, 333, 1001, 128, NONE, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0},  /* MQA, Nq < Nk */
    {FH, 1, 8, 2, 1000, 257, 64, BR, UNB, UNB, NULL, NULL, DN_BOOL, 1, 0},     /* GQA 4:1, Nq > Nk */
    {BF, 1, 4, 2, 777, 777, 64, TL, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0},      /* causal, per-head mask */
    {FH, 1, 2, 2, 300, 700, 128, BR, 200, 30, NULL, NULL, DN_BOOL, 0, 1},      /* + two-sided window */
    {BF, 1, 6, 3, 1100, 900, 128, NONE, UNB, UNB, NULL, NULL, DN_BOOL, 1, 1},  /* broadcast both */
    {FH, 1, 2, 1, 0, 0, 128, BR, UNB, UNB, "9,300,0,257", "20,200,5,300", DN_BOOL, 0, 0}, /* + sequences */
    /* windows straddling tiles */
    {BF, 1, 2, 2, 1000, 1000, 64, TL, 100, UNB, NULL, NULL, DN_NONE, 0, 0},
    {FH, 1, 4, 2, 700, 700, 128, NONE, 150, 70, NULL, NULL, DN_NONE, 0, 0},
    {BF, 1, 2, 2, 600, 1100, 128, BR, 300, UNB, NULL, NULL, DN_NONE, 0, 0},
    {FH, 1, 2, 2, 900, 900, 64, TL, 200, UNB, NULL, NULL, DN_NONE, 0, 0},
    {BF, 1, 2, 2, 640, 640, 96, NONE, 64, 64, NULL, NULL, DN_NONE, 0, 0},
    /* packed sequences, short and long */
    {BF, 1, 2, 2, 0, 0, 64, TL, UNB, UNB, "3,64,1,500,129,7,300", NULL, DN_NONE, 0, 0},
    {FH, 1, 2, 1, 0, 0, 128, NONE, 50, UNB, "200,1,0,63,65,640", NULL, DN_NONE, 0, 0},
    {BF, 1, 2, 2, 0, 0, 128, BR, UNB, UNB, "5,700,40", "9,650,100", DN_NONE, 0, 0},
    {FH, 1, 4, 2, 0, 0, 128, TL, 33, UNB, "129,1,400,7", NULL, DN_NONE, 0, 0},
    /* the sm90 forward and JVP at D = 96 / 192 / 256 (masked blocks of 64 keys; 32 in the JVP's
       column split at 192 / 256) */
    {BF, 1, 2, 2, 300, 330, 192, NONE, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1},
    {FH, 1, 4, 2, 257, 257, 256, TL, UNB, UNB, NULL, NULL, DN_BOOL, 1, 0},
    {BF, 1, 2, 2, 600, 700, 256, BR, 130, UNB, NULL, NULL, DN_NONE, 0, 0},
    {FH, 1, 2, 1, 0, 0, 192, TL, 50, UNB, "200,1,0,63,65,300", NULL, DN_NONE, 0, 0},
    {BF, 1, 2, 2, 0, 0, 96, BR, UNB, UNB, "5,300,40", "9,250,100", DN_NONE, 0, 0},
    {FH, 1, 2, 2, 200, 260, 256, NONE, UNB, UNB, NULL, NULL, DN_F32, 0, 0}, /* additive: sm80 */
    /* fixed rows at Nq = 1, Nk = 7 (the sm90 forward: one block, or none when the row sees nothing) */
    {BF, 1, 2, 2, 1, 7, 64, NONE, UNB, UNB, NULL, NULL, DN_ALL, 0, 0},
    {BF, 1, 2, 2, 1, 7, 64, NONE, UNB, UNB, NULL, NULL, DN_NOKEY, 0, 0},
    {BF, 1, 2, 2, 1, 7, 64, NONE, UNB, UNB, NULL, NULL, DN_ONE, 0, 0},
    {BF, 1, 2, 2, 1, 7, 64, NONE, UNB, UNB, NULL, NULL, DN_TWO, 0, 0},
    {FH, 1, 2, 2, 1, 7, 128, BR, UNB, UNB, NULL, NULL, DN_ALL, 0, 0},
    {FH, 1, 2, 2, 1, 7, 128, NONE, UNB, UNB, NULL, NULL, DN_NOKEY, 0, 0},
    {FH, 1, 2, 2, 1, 7, 128, NONE, UNB, UNB, NULL, NULL, DN_TWO, 0, 0},
};

typedef struct {
  jfa_tensor_t dev, host; /* device tensor (contiguous), CPU tensor (bool or float64) */
  void *dptr, *hptr;
} dmask_t;

/* The mask by 64 x 64 tiles: pattern (tile, slice) picks all-true, all-false, random half,
   one key, all but one key, or (bias only) a constant nonzero bias; row tile 2, key tile 3 and
   keys 384..511 (a whole 128-key block: the sm90 forward skips it for every CTA) are all false
   (when they exist), and in row tile 1 the rows i % 7 == 3 see no key. Bias
   masks give visible entries 0 (or the tile's constant, or a random value in random tiles)
   and masked ones -inf. DN_ALL ..: every row the same fixed keys (nothing else applies). */
static void make_dense(dmask_t *m, const bcase_t *c, int64_t Nq, int64_t Nk) {
  const int64_t mB = c->dense_b1 ? 1 : c->B, mH = c->dense_h1 ? 1 : c->Hq;
  const size_t n = (size_t)(mB * mH * Nq * Nk);
  const int64_t RT = (Nq + 63) / 64, KT = (Nk + 63) / 64;
  const jfa_dtype_t mdt = dn_bool(c->dense) ? JFA_DTYPE_BOOL : c->dense == DN_F32 ? JFA_DTYPE_FLOAT32 : c->dt;
  double *val = malloc((n ? n : 1) * sizeof(double));
  int *pat = malloc((size_t)(mB * mH * RT * KT) * sizeof(int));
  int64_t *one = malloc((size_t)(mB * mH * RT * KT) * 2 * sizeof(int64_t));
  for (int64_t t = 0; t < mB * mH * RT * KT; ++t) {
    pat[t] = (int)(tu_uniform() * (dn_bool(c->dense) ? 5 : 6));
    one[2 * t] = (int64_t)(tu_uniform() * 64), one[2 * t + 1] = (int64_t)(tu_uniform() * 64);
  }
  size_t x = 0;
  for (int64_t s = 0; s < mB * mH; ++s)
    for (int64_t i = 0; i < Nq; ++i)
      for (int64_t j = 0; j < Nk; ++j, ++x) {
        const int64_t t = (s * RT + i / 64) * KT + j / 64;
        const int first = i % 64 == one[2 * t] && j % 64 == one[2 * t + 1];
        int vis = 1;
        double bias = 0.0;
        switch (pat[t]) {
          case 0: vis = 1; break;
          case 1: vis = 0; break;
          case 2: vis = tu_uniform() < 0.5, bias = tu_normal() * 0.7; break;
          case 3: vis = first; break;
          case 4: vis = !first; break;
          default: vis = 1, bias = 0.75; break;
        }
        if (i / 64 == 2 || j / 64 == 3 || j / 128 == 3 || (i / 64 == 1 && i % 7 == 3)) vis = 0;
        if (c->dense >= DN_ALL)
          vis = c->dense == DN_ALL   ? 1
              : c->dense == DN_ONE ? j == Nk / 2
              : c->dense == DN_TWO ? j == 0 || j == Nk - 1
                                   : 0;
        val[x] = dn_bool(c->dense) ? (double)vis : (vis ? tu_round(bias, mdt) : -INFINITY);
      }
  if (dn_bool(c->dense)) {
    unsigned char *hb = malloc(n ? n : 1);
    for (size_t e = 0; e < n; ++e) hb[e] = val[e] != 0.0;
    m->hptr = hb;
    m->host = jfa_tensor_bhsd(hb, JFA_DTYPE_BOOL, JFA_DEVICE_CPU, mB, mH, Nq, Nk);
    if (cudaMalloc(&m->dptr, n + 16) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(mask)");
    cudaMemcpy(m->dptr, hb, n, cudaMemcpyHostToDevice);
  } else {
    double *hd = malloc((n ? n : 1) * sizeof(double));
    memcpy(hd, val, n * sizeof(double));
    m->hptr = hd;
    m->host = jfa_tensor_bhsd(hd, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, mB, mH, Nq, Nk);
    const size_t es = jfa_dtype_size(mdt);
    void *stage = malloc((n ? n : 1) * es);
    tu_to_dtype(val, stage, n, mdt);
    if (cudaMalloc(&m->dptr, n * es + 16) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(mask)");
    cudaMemcpy(m->dptr, stage, n * es, cudaMemcpyHostToDevice);
    free(stage);
  }
  m->dev = jfa_tensor_bhsd(m->dptr, mdt, JFA_DEVICE_CUDA, mB, mH, Nq, Nk);
  free(val), free(pat), free(one);
}

static void run_draw(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const bcase_t *c = &cases[ci];
  int64_t cq[65], ck[65];
  int ns = 0;
  int64_t Nq = c->Nq, Nk = c->Nk;
  if (c->seq_q && (ns = gt_packed_offsets(c->seq_q, c->seq_k, cq, ck, &Nq, &Nk)) < 0) return;
  printf("case %d: %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld mask=%d window=(%lld,%lld) seqs=%s/%s "
         "dense=%d (b1=%d h1=%d)\n",
         ci, c->dt == BF ? "bf16" : "fp16", (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)Nq,
         (long long)Nk, (long long)c->D, (int)c->mask, (long long)c->wl, (long long)c->wr, c->seq_q ? c->seq_q : "-",
         c->seq_k ? c->seq_k : "-", c->dense, c->dense_b1, c->dense_h1);
  fflush(stdout);
  const double tol = gt_tol(c->dt);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.window_left = c->wl;
  prm.window_right = c->wr;
  if (ns) prm.cu_seqlens_q = cq, prm.cu_seqlens_k = ck, prm.num_seqs = ns;
  dmask_t dm;
  memset(&dm, 0, sizeof(dm));
  if (c->dense) make_dense(&dm, c, Nq, Nk);

  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, D = c->D;
  gbuf_t q = gb_new(c->dt, 0, B, Hq, Nq, D), k = gb_new(c->dt, 0, B, Hkv, Nk, D), v = gb_new(c->dt, 0, B, Hkv, Nk, D),
         qd = gb_new(c->dt, 0, B, Hq, Nq, D), kd = gb_new(c->dt, 0, B, Hkv, Nk, D),
         vd = gb_new(c->dt, 0, B, Hkv, Nk, D), dout = gb_new(c->dt, 0, B, Hq, Nq, D);
  gbuf_t o = gb_new(c->dt, 0, B, Hq, Nq, D), od = gb_new(c->dt, 0, B, Hq, Nq, D),
         lse = gb_new(JFA_DTYPE_FLOAT32, 0, B, Hq, Nq, 1), mu = gb_new(JFA_DTYPE_FLOAT32, 0, B, Hq, Nq, 1),
         dq = gb_new(c->dt, 0, B, Hq, Nq, D), dk = gb_new(c->dt, 0, B, Hkv, Nk, D), dv = gb_new(c->dt, 0, B, Hkv, Nk, D);
  gbuf_t *ins[] = {&q, &k, &v, &qd, &kd, &vd, &dout};
  for (int e = 0; e < 7; ++e) gb_random(ins[e], 1.0);

  const size_t nq = q.n, nk = k.n, nr = lse.n;
  double *ro = calloc(nq + 1, 8), *rod = calloc(nq + 1, 8), *rlse = calloc(nr + 1, 8), *rmu = calloc(nr + 1, 8),
         *rdq = calloc(nq + 1, 8), *rdk = calloc(nk + 1, 8), *rdv = calloc(nk + 1, 8);
  jfa_tensor_t hq = host_f64(q.val, B, Hq, Nq, D), hk = host_f64(k.val, B, Hkv, Nk, D),
               hv = host_f64(v.val, B, Hkv, Nk, D), hqd = host_f64(qd.val, B, Hq, Nq, D),
               hkd = host_f64(kd.val, B, Hkv, Nk, D), hvd = host_f64(vd.val, B, Hkv, Nk, D),
               hdo = host_f64(dout.val, B, Hq, Nq, D), ho = host_f64(ro, B, Hq, Nq, D),
               hod = host_f64(rod, B, Hq, Nq, D), hl = host_f64(rlse, B, Hq, Nq, 1), hm = host_f64(rmu, B, Hq, Nq, 1),
               hdq = host_f64(rdq, B, Hq, Nq, D), hdk = host_f64(rdk, B, Hkv, Nk, D), hdv = host_f64(rdv, B, Hkv, Nk, D);
  jfa_attention_params_t pc = prm, pg = prm;
  if (c->dense) pc.attn_mask = &dm.host, pg.attn_mask = &dm.dev;
  gt_ok(jfa_attention_forward_jvp(cpu, &pc, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");

  /* the family each op must run on: the unmasked choice, but additive masks leave the sm90
     family (forward, JVP, backward); the sm90 backward takes the interval masks (windows,
     packed sequences) and boolean dense masks (unless JFA_SM90_BWD=0:
     gt_expected_bwd_path) */
  /* (a boolean mask at a head dim below 64, a multiple of 8, runs on the D = 64 sm90 kernels: gt_expected_dense_path) */
  const int additive = c->dense != DN_NONE && !dn_bool(c->dense), boolean = c->dense != DN_NONE && !additive;
  const int e = boolean ? gt_expected_dense_path(D) : gt_expected_path(D);
  const int ej = boolean ? gt_expected_dense_path(D) : gt_expected_jvp_path(D);
  const int want_fwd = (additive && e == GT_PATH_SM90) ? GT_PATH_SM80 : e;
  const int want_jvp = (additive && ej == GT_PATH_SM90) ? GT_PATH_SM80 : ej;
  const int want_bwd = additive  ? (e == GT_PATH_SM90 ? GT_PATH_SM80 : e)
                       : boolean ? gt_expected_dense_bwd_path(D, 0)
                                 : gt_expected_bwd_path(D);

  char nm[128];
  gb_poison(&o), gb_poison(&lse);
  gt_ok(jfa_attention_forward(gpu, &pg, &q.t, &k.t, &v.t, &o.t, &lse.t), "forward");
  snprintf(nm, sizeof(nm), "case %d fwd", ci), gt_check_path(gpu, nm, 0, want_fwd);
  gb_get(&o), gb_get(&lse);
  snprintf(nm, sizeof(nm), "case %d fwd O", ci), gt_compare(nm, o.val, ro, nq, tol);
  snprintf(nm, sizeof(nm), "case %d fwd lse", ci), gt_compare(nm, lse.val, rlse, nr, tol);

  gb_poison(&o), gb_poison(&lse), gb_poison(&od), gb_poison(&mu);
  gt_ok(jfa_attention_forward_jvp(gpu, &pg, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
        "forward_jvp");
  snprintf(nm, sizeof(nm), "case %d jvp", ci), gt_check_path(gpu, nm, 0, want_jvp);
  gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
  snprintf(nm, sizeof(nm), "case %d jvp O", ci), gt_compare(nm, o.val, ro, nq, tol);
  snprintf(nm, sizeof(nm), "case %d jvp lse", ci), gt_compare(nm, lse.val, rlse, nr, tol);
  snprintf(nm, sizeof(nm), "case %d jvp Od", ci), gt_compare(nm, od.val, rod, nq, tol);
  snprintf(nm, sizeof(nm), "case %d jvp mu", ci), gt_compare(nm, mu.val, rmu, nr, tol);

  /* the float64 backward on the JVP's o and lse (the backward's inputs below; top of the file) */
  jfa_tensor_t hgo = host_f64(o.val, B, Hq, Nq, D), hgl = host_f64(lse.val, B, Hq, Nq, 1);
  gt_ok(jfa_attention_backward(cpu, &pc, &hq, &hk, &hv, &hgo, &hgl, &hdo, &hdq, &hdk, &hdv), "cpu backward");
  int64_t empty_rows = 0, empty_keys = 0;
  for (size_t r = 0; r < nr; ++r) empty_rows += rlse[r] == -INFINITY;
  for (int64_t r = 0; r < B * Hkv * Nk; ++r) empty_keys += gt_row_zero(rdk, r, D) && gt_row_zero(rdv, r, D);
  printf("  %lld of %zu rows see no key; %lld of %lld keys get no gradient\n", (long long)empty_rows, nr,
         (long long)empty_keys, (long long)(B * Hkv * Nk));

  gb_poison(&dq), gb_poison(&dk), gb_poison(&dv);
  gt_ok(jfa_attention_backward(gpu, &pg, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &dq.t, &dk.t, &dv.t), "backward");
  snprintf(nm, sizeof(nm), "case %d bwd", ci), gt_check_path(gpu, nm, 1, want_bwd);
  gb_get(&dq), gb_get(&dk), gb_get(&dv);
  snprintf(nm, sizeof(nm), "case %d bwd dQ", ci), gt_compare(nm, dq.val, rdq, nq, tol);
  snprintf(nm, sizeof(nm), "case %d bwd dK", ci), gt_compare(nm, dk.val, rdk, nk, tol);
  snprintf(nm, sizeof(nm), "case %d bwd dV", ci), gt_compare(nm, dv.val, rdv, nk, tol);

  /* exact zeros where nothing is visible (o, od, mu of the JVP call; lse is the same) */
  int64_t bad_rows = 0, bad_keys = 0;
  for (int64_t r = 0; r < (int64_t)nr; ++r)
    if (rlse[r] == -INFINITY)
      bad_rows += !(lse.val[r] == -INFINITY && mu.val[r] == 0.0 && gt_row_zero(o.val, r, D) &&
                    gt_row_zero(od.val, r, D) &&
                    gt_row_zero(dq.val, r, D));
  for (int64_t r = 0; r < B * Hkv * Nk; ++r)
    if (gt_row_zero(rdk, r, D) && gt_row_zero(rdv, r, D))
      bad_keys += !(gt_row_zero(dk.val, r, D) && gt_row_zero(dv.val, r, D));
  snprintf(nm, sizeof(nm), "case %d: rows without keys exactly O = Od = mu = dQ = 0, lse = -inf (%lld bad)", ci,
           (long long)bad_rows);
  tu_expect(nm, bad_rows == 0);
  snprintf(nm, sizeof(nm), "case %d: keys without queries exactly dK = dV = 0 (%lld bad)", ci, (long long)bad_keys);
  tu_expect(nm, bad_keys == 0);
  if (c->dense && c->dense < DN_ALL) {
    snprintf(nm, sizeof(nm), "case %d: the mask has fully masked rows and keys (%lld, %lld)", ci,
             (long long)empty_rows, (long long)empty_keys);
    tu_expect(nm, empty_rows > 0 && empty_keys > 0);
  }

  free(ro), free(rod), free(rlse), free(rmu), free(rdq), free(rdk), free(rdv);
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &dout, &o, &od, &lse, &mu, &dq, &dk, &dv};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) gb_free(all[i]);
  if (c->dense) cudaFree(dm.dptr), free(dm.hptr);
}

/* A case: DN_DRAWS draws of its inputs with a fixed mask (make_dense), else one. */
static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const int draws = cases[ci].dense >= DN_ALL ? DN_DRAWS : 1;
  for (int d = 0; d < draws; ++d) run_draw(ci, gpu, cpu);
}

int main(int argc, char **argv) {
  return gt_main(argc, argv, "test_gpu_blockmask", (int)(sizeof(cases) / sizeof(cases[0])), run_case);
}
