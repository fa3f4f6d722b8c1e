/*
 * test_gpu_modes.c - the CUDA backend's other modes against the float64 CPU
 * backend: accumulate mode of the forward/JVP and of the backward over two K/V
 * halves (== the whole), the public merge, the deterministic backward (bitwise
 * repeatable), a caller's stream, and refusals (D > 256, float64, the deterministic backward and
 * backward-JVP above 65535 query heads) that leave the outputs untouched.
 *
 *   ctest -L gpu    or    ./test_gpu_modes          (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "gpu_test.h"

typedef struct {
  jfa_dtype_t dt;
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_mask_t mask;
  int64_t qpos, kpos;
} mcase_t;

typedef struct {
  gbuf_t q, k, v, qd, kd, vd, dout;
  double *o, *lse, *od, *mu, *dq, *dk, *dv; /* reference */
} prob_t;

static jfa_context_t *g_cpu;

static jfa_tensor_t hv64(double *x, int64_t B, int64_t H, int64_t S, int64_t D) { return host_f64(x, B, H, S, D); }

static void make_problem(prob_t *P, const mcase_t *c, const jfa_attention_params_t *prm) {
  P->q = gb_new(c->dt, 0, c->B, c->Hq, c->Nq, c->D);
  P->qd = gb_new(c->dt, 0, c->B, c->Hq, c->Nq, c->D);
  P->dout = gb_new(c->dt, 0, c->B, c->Hq, c->Nq, c->D);
  P->k = gb_new(c->dt, 0, c->B, c->Hkv, c->Nk, c->D);
  P->v = gb_new(c->dt, 0, c->B, c->Hkv, c->Nk, c->D);
  P->kd = gb_new(c->dt, 0, c->B, c->Hkv, c->Nk, c->D);
  P->vd = gb_new(c->dt, 0, c->B, c->Hkv, c->Nk, c->D);
  gbuf_t *in[] = {&P->q, &P->k, &P->v, &P->qd, &P->kd, &P->vd, &P->dout};
  for (int i = 0; i < 7; ++i) gb_random(in[i], 1.0);
  size_t nq = P->q.n, nk = P->k.n, nr = (size_t)(c->B * c->Hq * c->Nq);
  P->o = calloc(nq, 8), P->od = calloc(nq, 8), P->dq = calloc(nq, 8), P->lse = calloc(nr, 8), P->mu = calloc(nr, 8);
  P->dk = calloc(nk, 8), P->dv = calloc(nk, 8);
  jfa_tensor_t hq = hv64(P->q.val, c->B, c->Hq, c->Nq, c->D), hk = hv64(P->k.val, c->B, c->Hkv, c->Nk, c->D),
               hv = hv64(P->v.val, c->B, c->Hkv, c->Nk, c->D), hqd = hv64(P->qd.val, c->B, c->Hq, c->Nq, c->D),
               hkd = hv64(P->kd.val, c->B, c->Hkv, c->Nk, c->D), hvd = hv64(P->vd.val, c->B, c->Hkv, c->Nk, c->D),
               hdo = hv64(P->dout.val, c->B, c->Hq, c->Nq, c->D), ho = hv64(P->o, c->B, c->Hq, c->Nq, c->D),
               hod = hv64(P->od, c->B, c->Hq, c->Nq, c->D), hl = hv64(P->lse, c->B, c->Hq, c->Nq, 1),
               hm = hv64(P->mu, c->B, c->Hq, c->Nq, 1), hdq = hv64(P->dq, c->B, c->Hq, c->Nq, c->D),
               hdk = hv64(P->dk, c->B, c->Hkv, c->Nk, c->D), hdv = hv64(P->dv, c->B, c->Hkv, c->Nk, c->D);
  gt_ok(jfa_attention_forward_jvp(g_cpu, prm, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
  gt_ok(jfa_attention_backward(g_cpu, prm, &hq, &hk, &hv, &ho, &hl, &hdo, &hdq, &hdk, &hdv), "cpu backward");
}

static void free_problem(prob_t *P) {
  gbuf_t *in[] = {&P->q, &P->k, &P->v, &P->qd, &P->kd, &P->vd, &P->dout};
  for (int i = 0; i < 7; ++i) gb_free(in[i]);
  free(P->o), free(P->od), free(P->dq), free(P->lse), free(P->mu), free(P->dk), free(P->dv);
}

static jfa_problem_t resolve(const mcase_t *c) {
  jfa_problem_t p;
  memset(&p, 0, sizeof(p));
  p.B = c->B, p.Hq = c->Hq, p.Hkv = c->Hkv, p.Nq = c->Nq, p.Nk = c->Nk, p.D = c->D;
  p.scale = 1.0 / sqrt((double)c->D);
  p.causal = c->mask != JFA_MASK_NONE;
  p.q_pos0 = c->mask == JFA_MASK_CAUSAL_BOTTOM_RIGHT ? c->Nk - c->Nq : c->mask == JFA_MASK_CAUSAL_POSITIONS ? c->qpos : 0;
  p.k_pos0 = c->mask == JFA_MASK_CAUSAL_POSITIONS ? c->kpos : 0;
  return p;
}

/* Accumulate mode: forward/JVP and backward over two K/V halves into fp32 accumulators. */
static void test_accumulate(jfa_context_t *gpu, const mcase_t *c, int ci) {
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask, prm.q_position = c->qpos, prm.k_position = c->kpos;
  prob_t P;
  make_problem(&P, c, &prm);
  const double tol = gt_tol(c->dt);
  jfa_problem_t whole = resolve(c);
  gbuf_t o = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, c->D), od = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, c->D),
         lse = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1), mu = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);
  gt_ok(jfa_cuda_fill(gpu, &o.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &od.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &mu.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &lse.t, -INFINITY), "fill");
  const int64_t h1 = (c->Nk / 16 > 0) ? c->Nk / 16 * 8 : c->Nk / 2; /* rows stay 16-byte aligned */
  const int64_t r0[2] = {0, h1}, rn[2] = {h1, c->Nk - h1};
  for (int s = 0; s < 2; ++s) {
    if (rn[s] == 0) continue;
    jfa_problem_t p = whole;
    p.Nk = rn[s];
    p.k_pos0 = whole.k_pos0 + r0[s];
    jfa_tensor_t k = gt_rows(&P.k.t, 2, r0[s], rn[s]), v = gt_rows(&P.v.t, 2, r0[s], rn[s]),
                 kd = gt_rows(&P.kd.t, 2, r0[s], rn[s]), vd = gt_rows(&P.vd.t, 2, r0[s], rn[s]);
    gt_ok(jfa_cuda_attention_block(gpu, &p, &P.q.t, &k, &v, &P.qd.t, &kd, &vd, &o.t, &lse.t, &od.t, &mu.t, 1),
          "attention_block(accumulate)");
  }
  gb_get(&o), gb_get(&od), gb_get(&lse), gb_get(&mu);
  char nm[96];
  snprintf(nm, sizeof(nm), "accumulate case %d: O", ci);
  gt_compare(nm, o.val, P.o, o.n, tol);
  snprintf(nm, sizeof(nm), "accumulate case %d: lse", ci);
  gt_compare(nm, lse.val, P.lse, lse.n, tol);
  snprintf(nm, sizeof(nm), "accumulate case %d: Od", ci);
  gt_compare(nm, od.val, P.od, od.n, tol);
  snprintf(nm, sizeof(nm), "accumulate case %d: mu", ci);
  gt_compare(nm, mu.val, P.mu, mu.n, tol);

  /* the plain forward in accumulate mode (qd = NULL: the ring's jfa_ring_forward steps at P > 1), its own
     instantiations (the JVP above is another kernel at every head dim): O and lse over the same two halves */
  gt_ok(jfa_cuda_fill(gpu, &o.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &lse.t, -INFINITY), "fill");
  for (int s = 0; s < 2; ++s) {
    if (rn[s] == 0) continue;
    jfa_problem_t p = whole;
    p.Nk = rn[s];
    p.k_pos0 = whole.k_pos0 + r0[s];
    jfa_tensor_t k = gt_rows(&P.k.t, 2, r0[s], rn[s]), v = gt_rows(&P.v.t, 2, r0[s], rn[s]);
    gt_ok(jfa_cuda_attention_block(gpu, &p, &P.q.t, &k, &v, NULL, NULL, NULL, &o.t, &lse.t, NULL, NULL, 1),
          "attention_block(forward, accumulate)");
  }
  gb_get(&o), gb_get(&lse);
  snprintf(nm, sizeof(nm), "accumulate case %d: forward O", ci);
  gt_compare(nm, o.val, P.o, o.n, tol);
  snprintf(nm, sizeof(nm), "accumulate case %d: forward lse", ci);
  gt_compare(nm, lse.val, P.lse, lse.n, tol);

  /* backward over halves: delta from the reference O (rounded to the dtype) and lse */
  gbuf_t o16 = gb_new(c->dt, 0, c->B, c->Hq, c->Nq, c->D), lse32 = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1),
         delta = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);
  gb_set(&o16, P.o);
  gb_set(&lse32, P.lse);
  gt_ok(jfa_cuda_attention_delta(gpu, &whole, &o16.t, &P.dout.t, &delta.t), "attention_delta");
  gbuf_t dq = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, c->D), dk = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hkv, c->Nk, c->D),
         dv = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hkv, c->Nk, c->D);
  gt_ok(jfa_cuda_fill(gpu, &dq.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &dk.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &dv.t, 0.0), "fill");
  for (int s = 0; s < 2; ++s) {
    if (rn[s] == 0) continue;
    jfa_problem_t p = whole;
    p.Nk = rn[s];
    p.k_pos0 = whole.k_pos0 + r0[s];
    jfa_tensor_t k = gt_rows(&P.k.t, 2, r0[s], rn[s]), v = gt_rows(&P.v.t, 2, r0[s], rn[s]),
                 dkh = gt_rows(&dk.t, 2, r0[s], rn[s]), dvh = gt_rows(&dv.t, 2, r0[s], rn[s]);
    gt_ok(jfa_cuda_attention_backward_block(gpu, &p, &P.q.t, &k, &v, &P.dout.t, &lse32.t, &delta.t, &dq.t, &dkh, &dvh, 1),
          "attention_backward_block(accumulate)");
  }
  gb_get(&dq), gb_get(&dk), gb_get(&dv);
  snprintf(nm, sizeof(nm), "accumulate case %d: dQ", ci);
  gt_compare(nm, dq.val, P.dq, dq.n, tol);
  snprintf(nm, sizeof(nm), "accumulate case %d: dK", ci);
  gt_compare(nm, dk.val, P.dk, dk.n, tol);
  snprintf(nm, sizeof(nm), "accumulate case %d: dV", ci);
  gt_compare(nm, dv.val, P.dv, dv.n, tol);

  gbuf_t *bufs[] = {&o, &od, &lse, &mu, &o16, &lse32, &delta, &dq, &dk, &dv};
  for (int i = 0; i < 10; ++i) gb_free(bufs[i]);
  free_problem(&P);
}

/* Public merge of two partial JVP results (computed with the public API over key halves). */
static void test_merge(jfa_context_t *gpu, const mcase_t *c, int ci) {
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask, prm.q_position = c->qpos, prm.k_position = c->kpos;
  prob_t P;
  make_problem(&P, c, &prm);
  jfa_problem_t whole = resolve(c);
  const double tol = gt_tol(c->dt);
  gbuf_t o = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, c->D), od = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, c->D),
         lse = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1), mu = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);
  gbuf_t po = gb_new(c->dt, 0, c->B, c->Hq, c->Nq, c->D), pod = gb_new(c->dt, 0, c->B, c->Hq, c->Nq, c->D);
  gbuf_t plse32 = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1), pmu32 = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);
  gt_ok(jfa_cuda_fill(gpu, &o.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &od.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &mu.t, 0.0), "fill");
  gt_ok(jfa_cuda_fill(gpu, &lse.t, -INFINITY), "fill");
  const int64_t h1 = c->Nk / 2;
  const int64_t r0[2] = {0, h1}, rn[2] = {h1, c->Nk - h1};
  for (int s = 0; s < 2; ++s) {
    if (rn[s] == 0) continue;
    jfa_attention_params_t ps = prm;
    ps.mask = whole.causal ? JFA_MASK_CAUSAL_POSITIONS : JFA_MASK_NONE;
    ps.q_position = whole.q_pos0;
    ps.k_position = whole.k_pos0 + r0[s];
    jfa_tensor_t k = gt_rows(&P.k.t, 2, r0[s], rn[s]), v = gt_rows(&P.v.t, 2, r0[s], rn[s]),
                 kd = gt_rows(&P.kd.t, 2, r0[s], rn[s]), vd = gt_rows(&P.vd.t, 2, r0[s], rn[s]);
    gt_ok(jfa_attention_forward_jvp(gpu, &ps, &P.q.t, &k, &v, &P.qd.t, &kd, &vd, &po.t, &plse32.t, &pod.t, &pmu32.t),
          "forward_jvp(part)");
    gt_ok(jfa_attention_merge(gpu, &o.t, &lse.t, &od.t, &mu.t, &po.t, &plse32.t, &pod.t, &pmu32.t), "merge");
  }
  gb_get(&o), gb_get(&od), gb_get(&lse), gb_get(&mu);
  char nm[96];
  snprintf(nm, sizeof(nm), "merge case %d: O", ci);
  gt_compare(nm, o.val, P.o, o.n, tol);
  snprintf(nm, sizeof(nm), "merge case %d: lse", ci);
  gt_compare(nm, lse.val, P.lse, lse.n, tol);
  snprintf(nm, sizeof(nm), "merge case %d: Od", ci);
  gt_compare(nm, od.val, P.od, od.n, tol);
  snprintf(nm, sizeof(nm), "merge case %d: mu", ci);
  gt_compare(nm, mu.val, P.mu, mu.n, tol);
  gbuf_t *bufs[] = {&o, &od, &lse, &mu, &po, &pod, &plse32, &pmu32};
  for (int i = 0; i < 8; ++i) gb_free(bufs[i]);
  free_problem(&P);
}

/* Deterministic mode: two backward runs are bitwise equal, and accurate. */
static void test_deterministic(jfa_context_t *gpu, const mcase_t *c, int ci) {
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask, prm.q_position = c->qpos, prm.k_position = c->kpos;
  prob_t P;
  make_problem(&P, c, &prm);
  const double tol = gt_tol(c->dt);
  gbuf_t o = gb_new(c->dt, 0, c->B, c->Hq, c->Nq, c->D), lse = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, c->Nq, 1);
  gt_ok(jfa_attention_forward(gpu, &prm, &P.q.t, &P.k.t, &P.v.t, &o.t, &lse.t), "forward");
  gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_DETERMINISTIC), "set_flags");
  char nm[96];
  gbuf_t g[2][3];
  for (int r = 0; r < 2; ++r) {
    g[r][0] = gb_new(c->dt, 0, c->B, c->Hq, c->Nq, c->D);
    g[r][1] = gb_new(c->dt, 0, c->B, c->Hkv, c->Nk, c->D);
    g[r][2] = gb_new(c->dt, 0, c->B, c->Hkv, c->Nk, c->D);
    for (int i = 0; i < 3; ++i) gb_poison(&g[r][i]);
    /* shared memory left by another pattern before each run (finite, then raw bits): the first kernel of the call
       that reads shared memory it did not write makes the two runs differ */
    snprintf(nm, sizeof(nm), "deterministic case %d run %d: shared memory poisoned", ci, r + 1);
    tu_expect(nm, gt_poison_shared_memory(0x5eed1000u + 2u * (unsigned)ci + (unsigned)r));
    gt_ok(jfa_attention_backward(gpu, &prm, &P.q.t, &P.k.t, &P.v.t, &o.t, &lse.t, &P.dout.t, &g[r][0].t, &g[r][1].t,
                                 &g[r][2].t),
          "backward(deterministic)");
    for (int i = 0; i < 3; ++i) gb_get(&g[r][i]);
  }
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");
  const char *names[3] = {"dQ", "dK", "dV"};
  double *refs[3] = {P.dq, P.dk, P.dv};
  for (int i = 0; i < 3; ++i) {
    snprintf(nm, sizeof(nm), "deterministic case %d: %s", ci, names[i]);
    gt_compare(nm, g[0][i].val, refs[i], g[0][i].n, tol);
    snprintf(nm, sizeof(nm), "deterministic case %d: %s bitwise repeatable", ci, names[i]);
    tu_expect(nm, memcmp(g[0][i].val, g[1][i].val, g[0][i].n * sizeof(double)) == 0);
  }
  for (int r = 0; r < 2; ++r)
    for (int i = 0; i < 3; ++i) gb_free(&g[r][i]);
  gb_free(&o), gb_free(&lse);
  free_problem(&P);
}

/* The caller's stream. */
static void test_stream(jfa_context_t *gpu) {
  mcase_t c = {JFA_DTYPE_BFLOAT16, 1, 2, 2, 300, 300, 64, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0};
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c.mask;
  prob_t P;
  make_problem(&P, &c, &prm);
  cudaStream_t s;
  cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  gt_ok(jfa_context_set_stream(gpu, s), "set_stream");
  gbuf_t o = gb_new(c.dt, 0, c.B, c.Hq, c.Nq, c.D);
  gb_poison(&o);
  gt_ok(jfa_attention_forward(gpu, &prm, &P.q.t, &P.k.t, &P.v.t, &o.t, NULL), "forward(stream)");
  gt_ok(jfa_context_synchronize(gpu), "synchronize");
  gb_get(&o);
  gt_compare("caller's stream: O", o.val, P.o, o.n, gt_tol(c.dt));
  gt_ok(jfa_context_set_stream(gpu, NULL), "set_stream");
  cudaStreamDestroy(s);
  gb_free(&o);
  free_problem(&P);
}

/* Refusals leave outputs untouched. */
static void test_refusals(jfa_context_t *gpu) {
  gbuf_t q = gb_new(JFA_DTYPE_BFLOAT16, 0, 1, 1, 16, 300), o = gb_new(JFA_DTYPE_BFLOAT16, 0, 1, 1, 16, 300);
  gb_random(&q, 1.0);
  gb_poison(&o);
  jfa_status_t s = jfa_attention_forward(gpu, NULL, &q.t, &q.t, &q.t, &o.t, NULL);
  tu_expect("D = 300 on CUDA returns JFA_ERROR_UNSUPPORTED", s == JFA_ERROR_UNSUPPORTED);
  printf("  message: %s\n", jfa_get_last_error());
  tu_expect("D = 300: message names the head dim", strstr(jfa_get_last_error(), "256") != NULL);
  gb_get(&o);
  tu_expect("D = 300: output untouched", tu_count_nan(o.val, o.n) == o.n);
  gb_free(&q), gb_free(&o);

  gbuf_t q64 = gb_new(JFA_DTYPE_FLOAT64, 0, 1, 1, 16, 64), o64 = gb_new(JFA_DTYPE_FLOAT64, 0, 1, 1, 16, 64);
  gb_random(&q64, 1.0);
  gb_poison(&o64);
  s = jfa_attention_forward(gpu, NULL, &q64.t, &q64.t, &q64.t, &o64.t, NULL);
  tu_expect("float64 on CUDA returns JFA_ERROR_UNSUPPORTED", s == JFA_ERROR_UNSUPPORTED);
  printf("  message: %s\n", jfa_get_last_error());
  gb_get(&o64);
  tu_expect("float64: output untouched", tu_count_nan(o64.val, o64.n) == o64.n);
  gb_free(&q64), gb_free(&o64);
}

/* The deterministic backward and backward-JVP take dQ from the simt dQ kernels (grid y = Hq) after the sm80 / sm90
   kernels wrote dK, dV: with 65536 query heads (one KV head) the call must be refused before anything is written
   (it wrote dK, dV and then failed at the dQ launch); without the flag the same backward runs (the sm90 / sm80 rows
   take Hq > 65535: their grids' y axis is Hkv), or, in a build without D = 64's rows, is refused as well (simt). */
static void test_det_heads(jfa_context_t *gpu) {
  const int64_t B = 1, Hq = 65536, Hkv = 1, N = 1, D = 64;
  const jfa_dtype_t dt = JFA_DTYPE_BFLOAT16;
  gbuf_t q = gb_new(dt, 0, B, Hq, N, D), k = gb_new(dt, 0, B, Hkv, N, D), v = gb_new(dt, 0, B, Hkv, N, D),
         qd = gb_new(dt, 0, B, Hq, N, D), kd = gb_new(dt, 0, B, Hkv, N, D), vd = gb_new(dt, 0, B, Hkv, N, D),
         dout = gb_new(dt, 0, B, Hq, N, D), o = gb_new(dt, 0, B, Hq, N, D), od = gb_new(dt, 0, B, Hq, N, D),
         lse = gb_new(JFA_DTYPE_FLOAT32, 0, B, Hq, N, 1), mu = gb_new(JFA_DTYPE_FLOAT32, 0, B, Hq, N, 1);
  gbuf_t g[6] = {gb_new(dt, 0, B, Hq, N, D), gb_new(dt, 0, B, Hkv, N, D), gb_new(dt, 0, B, Hkv, N, D),
                 gb_new(dt, 0, B, Hq, N, D), gb_new(dt, 0, B, Hkv, N, D), gb_new(dt, 0, B, Hkv, N, D)};
  /* o, lse, od, mu drawn, not computed (a forward with 65536 heads is not this test's subject; the values only have
     to be finite): the backward below is checked for running, not for its values */
  gbuf_t *ins[] = {&q, &k, &v, &qd, &kd, &vd, &dout, &o, &od, &lse, &mu};
  for (int i = 0; i < 11; ++i) gb_random(ins[i], 1.0);
  gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_DETERMINISTIC), "set_flags");
  for (int i = 0; i < 6; ++i) gb_poison(&g[i]);
  jfa_status_t s = jfa_attention_backward(gpu, NULL, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &g[0].t, &g[1].t,
                                          &g[2].t);
  printf("  deterministic backward, 65536 heads: status %d: %s\n", (int)s, s ? jfa_get_last_error() : "");
  tu_expect("deterministic backward with 65536 query heads refused (JFA_ERROR_UNSUPPORTED)",
            s == JFA_ERROR_UNSUPPORTED);
  s = jfa_attention_backward_jvp(gpu, NULL, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t, &dout.t,
                                 &dout.t, &g[3].t, &g[4].t, &g[5].t, &g[0].t, &g[1].t, &g[2].t);
  printf("  deterministic backward-JVP, 65536 heads: status %d: %s\n", (int)s, s ? jfa_get_last_error() : "");
  tu_expect("deterministic backward-JVP with 65536 query heads refused (JFA_ERROR_UNSUPPORTED)",
            s == JFA_ERROR_UNSUPPORTED);
  size_t untouched = 0, n = 0;
  for (int i = 0; i < 6; ++i) gb_get(&g[i]), untouched += tu_count_nan(g[i].val, g[i].n), n += g[i].n;
  tu_expect("refused deterministic calls: every output untouched", untouched == n);
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");
  if (gt_expected_bwd_path(D) == GT_PATH_SIMT) {
    /* a build without D's tensor-core rows (JFA_HEAD_DIMS subsets) leaves D to simt, whose grid's y axis holds at most
       65535 heads: the call is refused there too, before anything is written */
    for (int i = 0; i < 3; ++i) gb_poison(&g[i]);
    s = jfa_attention_backward(gpu, NULL, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &g[0].t, &g[1].t, &g[2].t);
    printf("  backward, 65536 heads, D = %lld on simt (not built on tensor cores): status %d: %s\n", (long long)D,
           (int)s, s ? jfa_get_last_error() : "");
    size_t kept = 0, m = 0;
    for (int i = 0; i < 3; ++i) gb_get(&g[i]), kept += tu_count_nan(g[i].val, g[i].n), m += g[i].n;
    tu_expect("backward with 65536 query heads on simt refused (JFA_ERROR_UNSUPPORTED), outputs untouched",
              s == JFA_ERROR_UNSUPPORTED && kept == m);
  } else {
    gt_ok(jfa_attention_backward(gpu, NULL, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &g[0].t, &g[1].t, &g[2].t),
          "backward (65536 heads, not deterministic)");
    size_t nan = 0;
    for (int i = 0; i < 3; ++i) gb_get(&g[i]), nan += tu_count_nan(g[i].val, g[i].n);
    tu_expect("the same backward without the flag runs (no NaN)", nan == 0);
  }
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &dout, &o, &od, &lse, &mu};
  for (int i = 0; i < 11; ++i) gb_free(all[i]);
  for (int i = 0; i < 6; ++i) gb_free(&g[i]);
}

int main(void) {
  gt_require_gpu();
  tu_init_seed("test_gpu_modes");
  jfa_context_t *gpu = NULL;
  gt_ok(jfa_context_create(&gpu, JFA_DEVICE_CUDA, 0), "context_create(CUDA)");
  gt_ok(jfa_context_create(&g_cpu, JFA_DEVICE_CPU, 0), "context_create(CPU)");
  static const mcase_t acc_cases[] = {
      {JFA_DTYPE_BFLOAT16, 1, 2, 2, 200, 256, 64, JFA_MASK_NONE, 0, 0},
      {JFA_DTYPE_BFLOAT16, 1, 4, 1, 129, 129, 128, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0},
      {JFA_DTYPE_FLOAT16, 1, 2, 2, 100, 64, 96, JFA_MASK_CAUSAL_POSITIONS, 0, 20}, /* fully masked rows */
      {JFA_DTYPE_FLOAT32, 1, 2, 1, 77, 130, 40, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0},
      /* the sm90 JVP's column split (D = 192 / 256: two warpgroups share the rows' lse, mu) */
      {JFA_DTYPE_BFLOAT16, 1, 4, 2, 300, 200, 256, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0},
      {JFA_DTYPE_FLOAT16, 1, 2, 2, 129, 300, 192, JFA_MASK_NONE, 0, 0},
      /* coverage audit: float32 at D = 128 (the sm90 float32 forward, whose JVP runs on sm80) and D = 32 (the sm90
         float32 forward and JVP), GQA of Hkv > 1, causal both alignments */
      {JFA_DTYPE_FLOAT32, 1, 4, 2, 129, 200, 128, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0},
      {JFA_DTYPE_FLOAT32, 1, 4, 2, 100, 300, 32, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0},
  };
  const int nacc = (int)(sizeof(acc_cases) / sizeof(acc_cases[0]));
  for (int i = 0; i < nacc; ++i) {
    printf("accumulate case %d\n", i);
    test_accumulate(gpu, &acc_cases[i], i);
  }
  for (int i = 0; i < nacc; ++i) {
    printf("merge case %d\n", i);
    test_merge(gpu, &acc_cases[i], i);
  }
  static const mcase_t det_cases[] = {
      {JFA_DTYPE_BFLOAT16, 1, 4, 2, 1000, 1000, 128, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0},
      {JFA_DTYPE_FLOAT16, 2, 2, 2, 129, 300, 64, JFA_MASK_NONE, 0, 0},
  };
  for (int i = 0; i < 2; ++i) {
    printf("deterministic case %d\n", i);
    test_deterministic(gpu, &det_cases[i], i);
  }
  test_stream(gpu);
  test_refusals(gpu);
  test_det_heads(gpu);
  jfa_context_destroy(gpu);
  jfa_context_destroy(g_cpu);
  return tu_finish();
}
