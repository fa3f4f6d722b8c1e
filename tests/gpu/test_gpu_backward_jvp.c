/*
 * test_gpu_backward_jvp.c - the CUDA backward-JVP (jfa_attention_backward_jvp, second
 * order) against the float64 CPU backend on the same rounded inputs, in bf16, fp16 and
 * fp32: no mask with GQA, causal bottom-right with Nq != Nk (rows without keys), positions,
 * sliding windows, packed sequences, boolean and additive (float32) dense masks (a fully
 * masked row among them), odd N (1, 7, 129, 1000), D = 5, 8, 24, 32, 40, 48, 64, 96, 128, 256.
 * End to end: the GPU's own forward JVP (o, lse, od, mu) feeds the GPU backward-JVP; the CPU
 * does the same in float64. Outputs are poisoned with NaN first; dq, dk, dv are checked against
 * the CPU's (asked for in one run, NULL in another, which must give the same dkd, dvd bit for
 * bit, and dqd bit for bit on the simt family, within a quarter of the tolerance where the sm80
 * family adds dQd with atomics). Rows without a visible key must give exactly dQd = dQ = 0.
 * Tolerance: 2x gt_tol of the dtype (relative Frobenius error).
 * The family that ran (jfa_cuda_last_kernel(ctx, 2)): sm80 (mma.sync, sm80/bwd_jvp.cuh) for
 * bf16/fp16 with D <= 128, simt otherwise or with JFA_KERNEL_PATH=simt; by default (and under
 * JFA_SM90_BWD_JVP=1, the _sm90 CTest entries) sm90 (sm90/bwd_jvp.cuh) for bf16/fp16 at D = 64, 128
 * without a dense mask on an sm_90 device (gt_expected_bwd_jvp_path). Cases with `nan_in` run once more with a NaN in q. Each 16-bit case also
 * runs in deterministic mode (dQd, dQ from the simt kernel; two runs bitwise equal) and on a
 * second context forced to the simt family (JFA_KERNEL_PATH=simt).
 * Also the backend's block call in accumulate mode over two key halves (the ring's use).
 *
 *   ctest -L gpu    or    ./test_gpu_backward_jvp [case-index]   (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "gpu_test.h"

#define UNB JFA_WINDOW_UNBOUNDED
enum { DN_NONE = 0, DN_BOOL, DN_F32 };

typedef struct {
  jfa_dtype_t dt;
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_mask_t mask;
  int64_t qpos, kpos, wl, wr;
  int packed; /* 1: three packed sequences of lengths (Nq/3, Nq/3, rest) x (Nk/3, Nk/3, rest) */
  int dense;
  int nan_in; /* 1: once more with a NaN in q (batch 0, one row): NaN in that row's dQd and in batch 0's dKd,
              dVd, none in batch 1 */
  int bshd;   /* 1: q, k, v, their tangents, dout, doutd, o, od and the gradients stored (B, S, H, D) (jfa.torch hands
                 a transposed (B, L, H, D) view's strides through); lse, mu and the accumulators stay BHSD */
} bcase_t;

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define F32 JFA_DTYPE_FLOAT32
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define CPOS JFA_MASK_CAUSAL_POSITIONS

static const bcase_t cases[] = {
    /* dt B Hq Hkv Nq Nk D mask qpos kpos wl wr packed dense nan_in bshd */
    {BF, 2, 4, 2, 129, 129, 64, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},
    {FH, 2, 4, 2, 129, 129, 64, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},
    {F32, 2, 4, 2, 129, 129, 64, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},
    {BF, 1, 2, 1, 200, 77, 40, BR, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0}, /* Nq > Nk: rows without keys */
    {FH, 1, 2, 1, 77, 200, 40, BR, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},
    {F32, 1, 2, 1, 200, 77, 40, BR, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},
    {BF, 1, 2, 2, 100, 150, 96, CPOS, 10, 60, UNB, UNB, 0, DN_NONE, 0, 0},
    {BF, 1, 3, 1, 257, 257, 128, TL, 0, 0, 32, UNB, 0, DN_NONE, 0, 0}, /* causal window */
    {F32, 1, 2, 2, 300, 300, 24, NONE, 0, 0, 7, 3, 0, DN_NONE, 0, 0},
    {BF, 1, 4, 2, 190, 170, 64, BR, 0, 0, UNB, UNB, 1, DN_NONE, 0, 0}, /* packed, bottom-right */
    {FH, 1, 2, 2, 190, 170, 48, TL, 0, 0, 5, UNB, 1, DN_NONE, 0, 0},
    {BF, 2, 2, 1, 65, 90, 32, NONE, 0, 0, UNB, UNB, 0, DN_BOOL, 0, 0},
    {F32, 2, 2, 1, 65, 90, 32, BR, 0, 0, UNB, UNB, 0, DN_F32, 0, 0},
    {FH, 1, 2, 2, 33, 47, 256, NONE, 0, 0, UNB, UNB, 0, DN_F32, 0, 0},
    {BF, 1, 1, 1, 1, 1, 8, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0}, /* N = 1 */
    {F32, 1, 2, 1, 7, 7, 5, TL, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},   /* N = 7, D = 5 */
    /* the sm80 family (sm80/bwd_jvp.cuh): each head dim of its tiles, dK/dV fused (D <= 64) and
       from the backward kernel (D = 96, 128) */
    {BF, 1, 1, 1, 1, 1, 64, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},     /* N = 1 */
    {FH, 1, 2, 1, 7, 7, 96, TL, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},       /* N = 7 */
    {BF, 1, 4, 1, 1000, 1000, 128, BR, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0}, /* N = 1000, GQA 4:1, causal */
    {FH, 2, 2, 2, 1000, 1000, 64, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},
    {BF, 1, 4, 2, 129, 300, 128, BR, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},  /* Nq < Nk causal */
    {FH, 1, 2, 1, 300, 129, 128, BR, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},  /* Nq > Nk: rows without keys */
    {BF, 1, 2, 1, 300, 129, 64, TL, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},   /* top-left, Nq > Nk */
    {FH, 2, 4, 2, 257, 257, 96, NONE, 0, 0, 40, 9, 0, DN_NONE, 0, 0},     /* window (both sides) */
    {BF, 1, 2, 2, 129, 129, 40, NONE, 0, 0, UNB, UNB, 0, DN_BOOL, 0, 0},   /* D = 40, dense boolean, row 3 empty */
    {FH, 1, 2, 1, 200, 333, 128, NONE, 0, 0, UNB, UNB, 0, DN_F32, 0, 0},   /* additive dense mask, D = 128 */
    {BF, 1, 2, 2, 129, 129, 32, BR, 0, 0, UNB, UNB, 1, DN_NONE, 0, 0},     /* packed sequences, D = 32 */
    /* the sm90 family (sm90/bwd_jvp.cuh, under JFA_SM90_BWD_JVP=1: the _sm90 CTest entry): D = 64 and 128,
       unmasked and causal (both alignments, positions), odd N, GQA 8:1, partial blocks of 64 keys / rows */
    {FH, 1, 1, 1, 1, 1, 128, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},         /* N = 1 */
    {BF, 1, 2, 1, 7, 7, 64, TL, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},            /* N = 7, causal */
    {BF, 1, 8, 1, 257, 193, 128, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},     /* GQA 8:1 */
    {FH, 2, 2, 1, 1000, 1000, 128, TL, 0, 0, UNB, UNB, 0, DN_NONE, 1, 0},  /* N = 1000, causal; NaN */
    {BF, 2, 2, 2, 129, 129, 64, NONE, 0, 0, UNB, UNB, 0, DN_NONE, 1, 0},   /* NaN, D = 64 */
    {BF, 1, 2, 1, 150, 100, 128, CPOS, 60, 10, UNB, UNB, 0, DN_NONE, 0, 0},   /* positions: q ahead */
    {FH, 1, 2, 2, 100, 150, 64, CPOS, 10, 60, UNB, UNB, 0, DN_NONE, 0, 0},    /* positions: k ahead, rows without keys */
    {BF, 1, 2, 1, 1100, 1033, 64, BR, 0, 0, UNB, UNB, 0, DN_NONE, 0, 0},     /* Nq > Nk causal, partial blocks */
    /* its MASKED instantiation: windows (blocks of 64 keys that no row of a block sees: skipped), packed */
    {FH, 2, 4, 2, 257, 257, 64, NONE, 0, 0, 40, 9, 0, DN_NONE, 0, 0},      /* window (both sides), GQA */
    {BF, 1, 2, 2, 400, 400, 128, TL, 0, 0, 5, UNB, 0, DN_NONE, 0, 0},      /* causal window of 5: empty tiles */
    {BF, 1, 4, 1, 300, 280, 128, TL, 0, 0, UNB, UNB, 1, DN_NONE, 0, 0},    /* packed sequences, GQA 4:1 */
    /* coverage audit (appended: the indices above stay): the sm90 backward-JVP on BSHD tensors (every case above is
       BHSD), packed sequences with a causal window (its MASKED instantiation; the first-order outputs from the MASKED
       sm90 backward), fp16 in the MASKED instantiation at D = 128, GQA of Hkv > 1 with Nq < Nk bottom-right and NaN */
    {BF, 1, 4, 2, 300, 300, 128, TL, 0, 0, 64, UNB, 1, DN_NONE, 0, 1},  /* packed + causal window, GQA 2:1, BSHD */
    {FH, 2, 4, 2, 257, 300, 64, BR, 0, 0, UNB, UNB, 0, DN_NONE, 1, 1},  /* GQA 2:1, Nq < Nk, BSHD; NaN */
    {FH, 1, 2, 2, 400, 400, 128, TL, 0, 0, 100, UNB, 0, DN_NONE, 0, 1}, /* fp16 causal window, BSHD */
};

/* The family the backward-JVP must run on (jfa_cuda_last_kernel(ctx, 2)); first_order: dq, dk, dv asked. */
static int expected_bj_path(const bcase_t *c, int first_order) {
  return gt_expected_bwd_jvp_path(c->dt, c->D, c->dense != DN_NONE, first_order);
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const bcase_t *c = &cases[ci];
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Nq = c->Nq, Nk = c->Nk, D = c->D;
  printf("case %d: %s %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld mask=%d pos=(%lld,%lld) window=(%lld,%lld) "
         "packed=%d dense=%d\n",
         ci, c->dt == BF ? "bf16" : c->dt == FH ? "fp16" : "fp32", c->bshd ? "BSHD" : "BHSD", (long long)B, (long long)Hq,
         (long long)Hkv,
         (long long)Nq, (long long)Nk, (long long)D, (int)c->mask, (long long)c->qpos, (long long)c->kpos,
         (long long)c->wl, (long long)c->wr, c->packed, c->dense);
  fflush(stdout);
  const double tol = 2.0 * gt_tol(c->dt);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask, prm.q_position = c->qpos, prm.k_position = c->kpos;
  prm.window_left = c->wl, prm.window_right = c->wr;
  int64_t cq[4] = {0, Nq / 3, 2 * (Nq / 3), Nq}, ck[4] = {0, Nk / 3, 2 * (Nk / 3), Nk};
  if (c->packed) prm.cu_seqlens_q = cq, prm.cu_seqlens_k = ck, prm.num_seqs = 3;

  /* dense mask: (B, 1, Nq, Nk), ~25% masked, row 3 fully masked */
  jfa_tensor_t mhost, mdev;
  void *mh = NULL, *md = NULL;
  if (c->dense) {
    const size_t n = (size_t)(B * Nq * Nk);
    const jfa_dtype_t mdt = c->dense == DN_BOOL ? JFA_DTYPE_BOOL : JFA_DTYPE_FLOAT32;
    double *r = malloc(n * sizeof(double)), *hv = malloc(n * sizeof(double));
    unsigned char *hb = malloc(n);
    float *hf = malloc(n * sizeof(float));
    tu_fill_normal(r, n, 1.0);
    for (size_t x = 0; x < n; ++x) {
      const int masked = fabs(r[x]) > 1.15 || (int64_t)(x / (size_t)Nk) % Nq == 3;
      hb[x] = !masked;
      hf[x] = masked ? -INFINITY : (float)(0.7 * r[x]);
      hv[x] = hf[x];
    }
    if (mdt == JFA_DTYPE_BOOL) {
      mh = hb, free(hv), free(hf);
      mhost = jfa_tensor_bhsd(hb, mdt, JFA_DEVICE_CPU, B, 1, Nq, Nk);
    } else {
      mh = hv, free(hb);
      mhost = jfa_tensor_bhsd(hv, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, 1, Nq, Nk);
    }
    const size_t bytes = n * jfa_dtype_size(mdt);
    if (cudaMalloc(&md, bytes) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(mask)");
    cudaMemcpy(md, mdt == JFA_DTYPE_BOOL ? (void *)hb : (void *)hf, bytes, cudaMemcpyHostToDevice);
    mdev = jfa_tensor_bhsd(md, mdt, JFA_DEVICE_CUDA, B, 1, Nq, Nk);
    if (mdt != JFA_DTYPE_BOOL) free(hf);
    free(r);
  }
  jfa_attention_params_t pc = prm, pg = prm;
  if (c->dense) pc.attn_mask = &mhost, pg.attn_mask = &mdev;

  const int L = c->bshd; /* the layout of q, k, v, their tangents, dout, doutd, o, od and the gradients */
  gbuf_t q = gb_new(c->dt, L, B, Hq, Nq, D), k = gb_new(c->dt, L, B, Hkv, Nk, D), v = gb_new(c->dt, L, B, Hkv, Nk, D),
         qd = gb_new(c->dt, L, B, Hq, Nq, D), kd = gb_new(c->dt, L, B, Hkv, Nk, D),
         vd = gb_new(c->dt, L, B, Hkv, Nk, D), dout = gb_new(c->dt, L, B, Hq, Nq, D),
         doutd = gb_new(c->dt, L, B, Hq, Nq, D);
  gbuf_t o = gb_new(c->dt, L, B, Hq, Nq, D), od = gb_new(c->dt, L, B, Hq, Nq, D), lse = gb_new(F32, 0, B, Hq, Nq, 1),
         mu = gb_new(F32, 0, B, Hq, Nq, 1);
  gbuf_t dqd = gb_new(c->dt, L, B, Hq, Nq, D), dkd = gb_new(c->dt, L, B, Hkv, Nk, D),
         dvd = gb_new(c->dt, L, B, Hkv, Nk, D), dq = gb_new(c->dt, L, B, Hq, Nq, D),
         dk = gb_new(c->dt, L, B, Hkv, Nk, D), dv = gb_new(c->dt, L, B, Hkv, Nk, D);
  gbuf_t *ins[] = {&q, &k, &v, &qd, &kd, &vd, &dout, &doutd};
  for (int e = 0; e < 8; ++e) gb_random(ins[e], 1.0);

  /* float64 reference on the rounded inputs */
  const size_t nq = q.n, nk = k.n, nr = lse.n;
  double *ro = calloc(nq + 1, 8), *rod = calloc(nq + 1, 8), *rl = calloc(nr + 1, 8), *rm = calloc(nr + 1, 8);
  double *r6[6] = {calloc(nq + 1, 8), calloc(nk + 1, 8), calloc(nk + 1, 8),
                   calloc(nq + 1, 8), calloc(nk + 1, 8), calloc(nk + 1, 8)};
  jfa_tensor_t hq = host_f64(q.val, B, Hq, Nq, D), hk = host_f64(k.val, B, Hkv, Nk, D),
               hv = host_f64(v.val, B, Hkv, Nk, D), hqd = host_f64(qd.val, B, Hq, Nq, D),
               hkd = host_f64(kd.val, B, Hkv, Nk, D), hvd = host_f64(vd.val, B, Hkv, Nk, D),
               hdo = host_f64(dout.val, B, Hq, Nq, D), hdod = host_f64(doutd.val, B, Hq, Nq, D),
               ho = host_f64(ro, B, Hq, Nq, D), hod = host_f64(rod, B, Hq, Nq, D), hl = host_f64(rl, B, Hq, Nq, 1),
               hm = host_f64(rm, B, Hq, Nq, 1);
  jfa_tensor_t h6[6] = {host_f64(r6[0], B, Hq, Nq, D),  host_f64(r6[1], B, Hkv, Nk, D),
                        host_f64(r6[2], B, Hkv, Nk, D), host_f64(r6[3], B, Hq, Nq, D),
                        host_f64(r6[4], B, Hkv, Nk, D), host_f64(r6[5], B, Hkv, Nk, D)};
  gt_ok(jfa_attention_forward_jvp(cpu, &pc, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
  gt_ok(jfa_attention_backward_jvp(cpu, &pc, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm, &hdo, &hdod,
                                   &h6[0], &h6[1], &h6[2], &h6[3], &h6[4], &h6[5]),
        "cpu backward_jvp");

  /* the GPU, end to end */
  gt_ok(jfa_attention_forward_jvp(gpu, &pg, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
        "forward_jvp");
  gbuf_t *outs[6] = {&dqd, &dkd, &dvd, &dq, &dk, &dv};
  static const char *names[6] = {"dQd", "dKd", "dVd", "dQ", "dK", "dV"};
  for (int e = 0; e < 6; ++e) gb_poison(outs[e]);
  gt_ok(jfa_attention_backward_jvp(gpu, &pg, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t,
                                   &dout.t, &doutd.t, &dqd.t, &dkd.t, &dvd.t, &dq.t, &dk.t, &dv.t),
        "backward_jvp");
  char nm[160];
  const int want_path = expected_bj_path(c, 1), want_path0 = expected_bj_path(c, 0);
  snprintf(nm, sizeof nm, "case %d backward_jvp", ci);
  gt_check_path(gpu, nm, 2, want_path);
  for (int e = 0; e < 6; ++e) {
    gb_get(outs[e]);
    snprintf(nm, sizeof nm, "case %d %s", ci, names[e]);
    gt_compare(nm, outs[e]->val, r6[e], outs[e]->n, tol);
  }
  /* rows without a visible key: exactly zero */
  int64_t bad = 0, empty = 0;
  for (size_t r = 0; r < nr; ++r)
    if (rl[r] == -INFINITY)
      empty++, bad += !(gt_row_zero(dqd.val, (int64_t)r, D) && gt_row_zero(dq.val, (int64_t)r, D));
  snprintf(nm, sizeof nm, "case %d: %lld rows without keys give dQd = dQ = 0 exactly (%lld bad)", ci, (long long)empty,
           (long long)bad);
  tu_expect(nm, bad == 0);

  /* without dq, dk, dv: the same second-order outputs; dKd, dVd bit for bit (no atomics in
     either family), dQd too on the simt family (the sm80 family adds it with atomics) */
  double *keep[3];
  for (int e = 0; e < 3; ++e) {
    keep[e] = malloc(outs[e]->n * sizeof(double));
    memcpy(keep[e], outs[e]->val, outs[e]->n * sizeof(double));
    gb_poison(outs[e]);
  }
  gt_ok(jfa_attention_backward_jvp(gpu, &pg, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t,
                                   &dout.t, &doutd.t, &dqd.t, &dkd.t, &dvd.t, NULL, NULL, NULL),
        "backward_jvp (no first order)");
  snprintf(nm, sizeof nm, "case %d backward_jvp (no first order)", ci);
  gt_check_path(gpu, nm, 2, want_path0);
  for (int e = 0; e < 3; ++e) {
    gb_get(outs[e]);
    const int same = memcmp(keep[e], outs[e]->val, outs[e]->n * sizeof(double)) == 0;
    if (want_path != want_path0) {
      /* two families (JFA_SM90_BWD=0 sends the first-order call to sm80): each against float64 above / here */
      snprintf(nm, sizeof nm, "case %d no first order %s (on another family than the first run)", ci, names[e]);
      gt_compare(nm, outs[e]->val, r6[e], outs[e]->n, tol);
    } else if (e == 0 && want_path != GT_PATH_SIMT) {
      snprintf(nm, sizeof nm, "case %d: dq, dk, dv = NULL: dQd within tol/4 of the first run", ci);
      gt_compare(nm, outs[e]->val, keep[e], outs[e]->n, tol / 4);
    } else {
      snprintf(nm, sizeof nm, "case %d: dq, dk, dv = NULL gives the same %s bit for bit", ci, names[e]);
      tu_expect(nm, same);
    }
    free(keep[e]);
  }

  /* 16-bit: deterministic mode (dQd, dQ from the simt dQ kernel; bitwise repeatable), then a
     context forced to the simt family */
  if (c->dt != F32) {
    double *first[6];
    for (int r = 0; r < 2; ++r) {
      gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_DETERMINISTIC), "set_flags");
      for (int e = 0; e < 6; ++e) gb_poison(outs[e]);
      gt_ok(jfa_attention_backward_jvp(gpu, &pg, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t,
                                       &dout.t, &doutd.t, &dqd.t, &dkd.t, &dvd.t, &dq.t, &dk.t, &dv.t),
            "backward_jvp (deterministic)");
      gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");
      snprintf(nm, sizeof nm, "case %d backward_jvp (deterministic)", ci);
      gt_check_path(gpu, nm, 2, want_path);
      for (int e = 0; e < 6; ++e) {
        gb_get(outs[e]);
        if (r == 0) {
          snprintf(nm, sizeof nm, "case %d deterministic %s", ci, names[e]);
          gt_compare(nm, outs[e]->val, r6[e], outs[e]->n, tol);
          first[e] = malloc(outs[e]->n * sizeof(double));
          memcpy(first[e], outs[e]->val, outs[e]->n * sizeof(double));
        } else {
          snprintf(nm, sizeof nm, "case %d deterministic %s bitwise repeatable", ci, names[e]);
          tu_expect(nm, memcmp(first[e], outs[e]->val, outs[e]->n * sizeof(double)) == 0);
          free(first[e]);
        }
      }
    }
    const char *prev = getenv("JFA_KERNEL_PATH");
    char *saved = prev ? strdup(prev) : NULL;
    setenv("JFA_KERNEL_PATH", "simt", 1);
    jfa_context_t *simt = NULL;
    gt_ok(jfa_context_create(&simt, JFA_DEVICE_CUDA, 0), "context_create(CUDA, simt)");
    if (saved) setenv("JFA_KERNEL_PATH", saved, 1);
    else unsetenv("JFA_KERNEL_PATH");
    free(saved);
    for (int e = 0; e < 6; ++e) gb_poison(outs[e]);
    gt_ok(jfa_attention_backward_jvp(simt, &pg, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t,
                                     &dout.t, &doutd.t, &dqd.t, &dkd.t, &dvd.t, &dq.t, &dk.t, &dv.t),
          "backward_jvp (simt)");
    snprintf(nm, sizeof nm, "case %d backward_jvp (JFA_KERNEL_PATH=simt)", ci);
    gt_check_path(simt, nm, 2, GT_PATH_SIMT);
    for (int e = 0; e < 6; ++e) {
      gb_get(outs[e]);
      snprintf(nm, sizeof nm, "case %d simt %s", ci, names[e]);
      gt_compare(nm, outs[e]->val, r6[e], outs[e]->n, tol);
    }
    jfa_context_destroy(simt);
  }

  /* accumulate mode over two key halves (no packed sequences / dense masks: their block views are the ring's) */
  if (!c->packed && !c->dense && Nk >= 2 && B * Hq * Nq > 0) {
    const int64_t h0 = Nk / 2;
    jfa_problem_t p;
    memset(&p, 0, sizeof p);
    p.B = B, p.Hq = Hq, p.Hkv = Hkv, p.Nq = Nq, p.Nk = Nk, p.D = D;
    p.scale = 1.0 / sqrt((double)D);
    p.causal = c->mask == TL || c->mask == BR || c->mask == CPOS;
    p.q_pos0 = c->mask == BR ? Nk - Nq : (c->mask == CPOS ? c->qpos : 0);
    p.k_pos0 = c->mask == CPOS ? c->kpos : 0;
    p.windowed = c->wl >= 0 || c->wr >= 0;
    p.win_left = c->wl, p.win_right = c->wr;
    gbuf_t delta = gb_new(F32, 0, B, Hq, Nq, 1), deltad = gb_new(F32, 0, B, Hq, Nq, 1);
    gbuf_t acc[6] = {gb_new(F32, 0, B, Hq, Nq, D),  gb_new(F32, 0, B, Hkv, Nk, D), gb_new(F32, 0, B, Hkv, Nk, D),
                     gb_new(F32, 0, B, Hq, Nq, D),  gb_new(F32, 0, B, Hkv, Nk, D), gb_new(F32, 0, B, Hkv, Nk, D)};
    gt_ok(jfa_cuda_attention_delta_jvp(gpu, &p, &o.t, &od.t, &dout.t, &doutd.t, &delta.t, &deltad.t), "delta_jvp");
    for (int e = 0; e < 6; ++e) {
      double *z = calloc(acc[e].n, sizeof(double));
      gb_set(&acc[e], z);
      free(z);
    }
    for (int half = 0; half < 2; ++half) {
      const int64_t j0 = half ? h0 : 0, n = half ? Nk - h0 : h0;
      jfa_problem_t pb = p;
      pb.Nk = n;
      pb.k_pos0 = p.k_pos0 + j0;
      jfa_tensor_t kb = k.t, vb = v.t, kdb = kd.t, vdb = vd.t, a6[6];
      jfa_tensor_t *kv[4] = {&kb, &vb, &kdb, &vdb};
      for (int e = 0; e < 4; ++e) {
        kv[e]->data = (char *)kv[e]->data + (size_t)(j0 * kv[e]->stride[2]) * jfa_dtype_size(c->dt);
        kv[e]->shape[2] = n;
      }
      for (int e = 0; e < 6; ++e) {
        a6[e] = acc[e].t;
        if (e == 1 || e == 2 || e == 4 || e == 5) {
          a6[e].data = (char *)a6[e].data + (size_t)(j0 * a6[e].stride[2]) * sizeof(float);
          a6[e].shape[2] = n;
        }
      }
      gt_ok(jfa_cuda_attention_backward_jvp_block(gpu, &pb, &q.t, &kb, &vb, &qd.t, &kdb, &vdb, &dout.t, &doutd.t,
                                                  &lse.t, &mu.t, &delta.t, &deltad.t, &a6[0], &a6[1], &a6[2], &a6[3],
                                                  &a6[4], &a6[5], 1),
            "backward_jvp_block(accumulate)");
      snprintf(nm, sizeof nm, "case %d backward_jvp_block(accumulate), half %d", ci, half);
      gt_check_path(gpu, nm, 2, want_path);
    }
    for (int e = 0; e < 6; ++e) {
      gb_get(&acc[e]);
      snprintf(nm, sizeof nm, "case %d accumulate over two key halves: %s", ci, names[e]);
      gt_compare(nm, acc[e].val, r6[e], acc[e].n, tol);
      gb_free(&acc[e]);
    }
    gb_free(&delta), gb_free(&deltad);
  }

  /* NaN in -> NaN out: q of batch 0, head 0, a row that sees keys (causal top-left: every row sees key 0),
     set to NaN in one element; without first order. That row's dQd and batch 0's dKd, dVd get NaN (the
     keys the row sees), batch 1 stays finite. */
  if (c->nan_in) {
    const int64_t r = Nq / 2;
    double *qv = malloc(q.n * sizeof(double));
    memcpy(qv, q.val, q.n * sizeof(double));
    qv[r * D + 1] = NAN;
    gb_set(&q, qv);
    for (int e = 0; e < 3; ++e) gb_poison(outs[e]);
    gt_ok(jfa_attention_backward_jvp(gpu, &pg, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t,
                                     &dout.t, &doutd.t, &dqd.t, &dkd.t, &dvd.t, NULL, NULL, NULL),
          "backward_jvp (NaN in q)");
    snprintf(nm, sizeof nm, "case %d backward_jvp (NaN in q)", ci);
    gt_check_path(gpu, nm, 2, want_path0);
    for (int e = 0; e < 3; ++e) gb_get(outs[e]);
    int row_nan = 0, kd_nan = 0, vd_nan = 0, other = 0;
    for (int64_t d = 0; d < D; ++d) row_nan |= isnan(dqd.val[r * D + d]);
    const size_t kb = (size_t)(Hkv * Nk * D), qb = (size_t)(Hq * Nq * D);
    for (size_t x = 0; x < kb; ++x) kd_nan |= isnan(dkd.val[x]), vd_nan |= isnan(dvd.val[x]);
    for (size_t x = kb; x < dkd.n; ++x) other |= isnan(dkd.val[x]) || isnan(dvd.val[x]);
    for (size_t x = qb; x < dqd.n; ++x) other |= isnan(dqd.val[x]);
    snprintf(nm, sizeof nm, "case %d: NaN in q reaches its row's dQd (%d), batch 0's dKd (%d) and dVd (%d), not batch 1 (%d)",
             ci, row_nan, kd_nan, vd_nan, other);
    tu_expect(nm, row_nan && kd_nan && vd_nan && (B < 2 || !other));
    free(qv);
  }

  for (int e = 0; e < 8; ++e) gb_free(ins[e]);
  gb_free(&o), gb_free(&od), gb_free(&lse), gb_free(&mu);
  for (int e = 0; e < 6; ++e) gb_free(outs[e]), free(r6[e]);
  free(ro), free(rod), free(rl), free(rm);
  if (c->dense) free(mh), cudaFree(md);
}

int main(int argc, char **argv) {
  return gt_main(argc, argv, "test_gpu_backward_jvp", (int)(sizeof cases / sizeof cases[0]), run_case);
}
