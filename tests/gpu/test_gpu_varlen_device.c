/*
 * test_gpu_varlen_device.c - packed sequences with device offsets (JFA_PARAMS_SEQLENS_DEVICE, include/jfa.h), the
 * form a CUDA graph can capture:
 *   - eager: the forward+JVP and the backward with the offsets in device memory are bitwise the same calls with
 *     host offsets (an unaligned packing, so the same kernels run; deterministic backward), on the same kernel
 *     family, and within the dtype's tolerance of the float64 CPU reference;
 *   - graph: the forward+JVP and the backward captured with packing A and replayed after packing B (same number of
 *     sequences and tokens, other boundaries) was written into the same device arrays give B's eager results
 *     bitwise, then A's again after A is written back;
 *   - refusals, nothing written: host memory with the flag (JFA_ERROR_INVALID_ARGUMENT), the flag without offsets.
 * Cases: 0 bf16 D = 64 causal, GQA 4:2; 1 fp16 D = 128; 2 float32 D = 64 bottom-right causal with a window;
 * 3 bf16 D = 96 causal. Exits 77 without a GPU.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "gpu_test.h"

#define NS 4
/* two packings of the same 260 tokens into NS sequences (an empty one in A), boundaries off every block size */
static const int64_t kPackA[NS + 1] = {0, 37, 167, 167, 260};
static const int64_t kPackB[NS + 1] = {0, 100, 161, 211, 260};

typedef struct {
  gbuf_t q, k, v, qd, kd, vd, o, lse, od, mu, dout, dq, dk, dv;
} bufs_t;

static void cu(cudaError_t e, const char *what) {
  if (e != cudaSuccess) {
    printf("[FAIL] %s: %s\n", what, cudaGetErrorString(e));
    exit(1);
  }
}

static gbuf_t *all(bufs_t *b, int i) {
  gbuf_t *x[] = {&b->q, &b->k, &b->v, &b->qd, &b->kd, &b->vd, &b->o, &b->lse, &b->od, &b->mu, &b->dout,
                 &b->dq, &b->dk, &b->dv};
  return x[i];
}
enum { NBUF = 14, NOUT = 7 };

/* the outputs: o, lse, od, mu, dq, dk, dv */
static void outputs(bufs_t *b, gbuf_t *out[NOUT]) {
  gbuf_t *x[NOUT] = {&b->o, &b->lse, &b->od, &b->mu, &b->dq, &b->dk, &b->dv};
  memcpy(out, x, sizeof x);
}

static void poison_outputs(bufs_t *b) {
  gbuf_t *out[NOUT];
  outputs(b, out);
  for (int i = 0; i < NOUT; ++i) gb_poison(out[i]);
}

/* the forward+JVP then the backward of params prm */
static jfa_status_t run(jfa_context_t *ctx, const jfa_attention_params_t *prm, bufs_t *b) {
  jfa_status_t s = jfa_attention_forward_jvp(ctx, prm, &b->q.t, &b->k.t, &b->v.t, &b->qd.t, &b->kd.t, &b->vd.t,
                                             &b->o.t, &b->lse.t, &b->od.t, &b->mu.t);
  if (s != JFA_SUCCESS) return s;
  return jfa_attention_backward(ctx, prm, &b->q.t, &b->k.t, &b->v.t, &b->o.t, &b->lse.t, &b->dout.t, &b->dq.t,
                                &b->dk.t, &b->dv.t);
}

/* the float64 CPU reference of prm (host offsets) against the GPU's outputs in b */
static void check_reference(jfa_context_t *cpu, const jfa_attention_params_t *prm, bufs_t *b, jfa_dtype_t dt,
                            const char *what) {
  const int64_t H = b->q.t.shape[1], Hk = b->k.t.shape[1], N = b->q.t.shape[2], D = b->q.t.shape[3];
  const size_t nq = (size_t)(H * N * D), nk = (size_t)(Hk * N * D), ns = (size_t)(H * N);
  double *r[8];
  size_t sz[8] = {nq, ns, nq, ns, nq, nk, nk};
  for (int i = 0; i < 7; ++i) r[i] = (double *)calloc(sz[i], sizeof(double));
  jfa_tensor_t q = host_f64(b->q.val, 1, H, N, D), k = host_f64(b->k.val, 1, Hk, N, D),
               v = host_f64(b->v.val, 1, Hk, N, D), qd = host_f64(b->qd.val, 1, H, N, D),
               kd = host_f64(b->kd.val, 1, Hk, N, D), vd = host_f64(b->vd.val, 1, Hk, N, D),
               dout = host_f64(b->dout.val, 1, H, N, D);
  jfa_tensor_t o = host_f64(r[0], 1, H, N, D), lse = host_f64(r[1], 1, H, N, 1), od = host_f64(r[2], 1, H, N, D),
               mu = host_f64(r[3], 1, H, N, 1), dq = host_f64(r[4], 1, H, N, D), dk = host_f64(r[5], 1, Hk, N, D),
               dv = host_f64(r[6], 1, Hk, N, D);
  gt_ok(jfa_attention_forward_jvp(cpu, prm, &q, &k, &v, &qd, &kd, &vd, &o, &lse, &od, &mu), "CPU forward+JVP");
  gt_ok(jfa_attention_backward(cpu, prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv), "CPU backward");
  gbuf_t *got[7] = {&b->o, &b->lse, &b->od, &b->mu, &b->dq, &b->dk, &b->dv};
  static const char *names[7] = {"o", "lse", "od", "mu", "dq", "dk", "dv"};
  const double tol = dt == JFA_DTYPE_FLOAT32 ? 3e-5 : gt_tol(dt); /* test_gpu_masks: 3e-5 for float32 dK, dV */
  for (int i = 0; i < 7; ++i) {
    gb_get(got[i]);
    char nm[320];
    snprintf(nm, sizeof nm, "%s: %s against the float64 reference", what, names[i]);
    gt_compare(nm, got[i]->val, r[i], sz[i], tol);
    free(r[i]);
  }
}

static void set_offsets(int64_t *dev, const int64_t *pack) {
  int64_t h[2 * (NS + 1)];
  memcpy(h, pack, sizeof(int64_t) * (NS + 1));
  memcpy(h + NS + 1, pack, sizeof(int64_t) * (NS + 1)); /* self-attention: the keys' offsets the same */
  cu(cudaMemcpy(dev, h, sizeof h, cudaMemcpyHostToDevice), "offsets to the device");
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  static const jfa_dtype_t dts[4] = {JFA_DTYPE_BFLOAT16, JFA_DTYPE_FLOAT16, JFA_DTYPE_FLOAT32, JFA_DTYPE_BFLOAT16};
  static const int64_t Ds[4] = {64, 128, 64, 96}, Hks[4] = {2, 4, 4, 4};
  static const jfa_mask_t masks[4] = {JFA_MASK_CAUSAL_TOP_LEFT, JFA_MASK_NONE, JFA_MASK_CAUSAL_BOTTOM_RIGHT,
                                      JFA_MASK_CAUSAL_TOP_LEFT};
  const jfa_dtype_t dt = dts[ci];
  const int64_t H = 4, Hk = Hks[ci], N = kPackA[NS], D = Ds[ci];
  char what[128];
  snprintf(what, sizeof what, "case %d (%s D = %lld, Hq %lld / Hkv %lld, mask %d%s)", ci, jfa_dtype_name(dt),
           (long long)D, (long long)H, (long long)Hk, (int)masks[ci], ci == 2 ? ", window 40 / 0" : "");
  printf("== %s\n", what);
  bufs_t b;
  b.q = gb_new(dt, 0, 1, H, N, D), b.k = gb_new(dt, 0, 1, Hk, N, D), b.v = gb_new(dt, 0, 1, Hk, N, D);
  b.qd = gb_new(dt, 0, 1, H, N, D), b.kd = gb_new(dt, 0, 1, Hk, N, D), b.vd = gb_new(dt, 0, 1, Hk, N, D);
  b.o = gb_new(dt, 0, 1, H, N, D), b.lse = gb_new(JFA_DTYPE_FLOAT32, 0, 1, H, N, 1);
  b.od = gb_new(dt, 0, 1, H, N, D), b.mu = gb_new(JFA_DTYPE_FLOAT32, 0, 1, H, N, 1);
  b.dout = gb_new(dt, 0, 1, H, N, D), b.dq = gb_new(dt, 0, 1, H, N, D);
  b.dk = gb_new(dt, 0, 1, Hk, N, D), b.dv = gb_new(dt, 0, 1, Hk, N, D);
  for (int i = 0; i < 6; ++i) gb_random(all(&b, i), 1.0);
  gb_random(&b.dout, 1.0);
  gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_DETERMINISTIC), "set_flags"); /* bitwise backwards */
  cudaStream_t st;
  cu(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking), "stream");
  gt_ok(jfa_context_set_stream(gpu, st), "set_stream");

  jfa_attention_params_t ph, pd; /* host offsets; device offsets */
  int64_t hostA[2][NS + 1], hostB[2][NS + 1];
  memcpy(hostA[0], kPackA, sizeof kPackA), memcpy(hostA[1], kPackA, sizeof kPackA);
  memcpy(hostB[0], kPackB, sizeof kPackB), memcpy(hostB[1], kPackB, sizeof kPackB);
  gt_params_masks(&ph, masks[ci], 0, 0, ci == 2 ? 40 : JFA_WINDOW_UNBOUNDED, ci == 2 ? 0 : JFA_WINDOW_UNBOUNDED, NS,
                  hostA[0], hostA[1]);
  pd = ph;
  int64_t *dev = NULL;
  cu(cudaMalloc((void **)&dev, 2 * (NS + 1) * sizeof(int64_t)), "cudaMalloc offsets");
  pd.cu_seqlens_q = dev;
  pd.cu_seqlens_k = dev + NS + 1;
  pd.flags |= JFA_PARAMS_SEQLENS_DEVICE;

  /* eager, packing A: host offsets, then device offsets */
  ph.cu_seqlens_q = hostA[0], ph.cu_seqlens_k = hostA[1];
  poison_outputs(&b);
  gt_ok(run(gpu, &ph, &b), "host offsets A");
  const int fam_f = jfa_cuda_last_kernel(gpu, 0), fam_b = jfa_cuda_last_kernel(gpu, 1);
  gbuf_t *outs[NOUT];
  outputs(&b, outs);
  double *refA = gb_snapshot(outs, NOUT);
  char nm[320];
  snprintf(nm, sizeof nm, "%s: host offsets", what);
  check_reference(cpu, &ph, &b, dt, nm);
  set_offsets(dev, kPackA);
  poison_outputs(&b);
  gt_ok(run(gpu, &pd, &b), "device offsets A");
  snprintf(nm, sizeof nm, "%s: device offsets A, forward+JVP and backward bitwise the host offsets'", what);
  tu_expect(nm, gb_same(outs, NOUT, refA));
  snprintf(nm, sizeof nm, "%s: device offsets, forward", what);
  gt_check_path(gpu, nm, 0, fam_f);
  snprintf(nm, sizeof nm, "%s: device offsets, backward", what);
  gt_check_path(gpu, nm, 1, fam_b);
  snprintf(nm, sizeof nm, "%s: device offsets A", what);
  check_reference(cpu, &ph, &b, dt, nm);

  /* packing B eagerly with host offsets (the graph's expected results) */
  ph.cu_seqlens_q = hostB[0], ph.cu_seqlens_k = hostB[1];
  poison_outputs(&b);
  gt_ok(run(gpu, &ph, &b), "host offsets B");
  double *refB = gb_snapshot(outs, NOUT);

  /* a graph captured with A in the device arrays, replayed with B, then A */
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  set_offsets(dev, kPackA);
  cu(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal), "begin capture");
  const jfa_status_t cs = run(gpu, &pd, &b);
  cu(cudaStreamEndCapture(st, &graph), "end capture");
  gt_ok(cs, "device offsets (captured)");
  cu(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  for (int rep = 0; rep < 2; ++rep) {
    set_offsets(dev, rep == 0 ? kPackB : kPackA);
    poison_outputs(&b);
    cu(cudaDeviceSynchronize(), "sync");
    cu(cudaGraphLaunch(exec, st), "graph launch");
    snprintf(nm, sizeof nm, "%s: the graph replayed with packing %s written into its arrays: bitwise %s's eager run",
             what, rep == 0 ? "B" : "A", rep == 0 ? "B" : "A");
    tu_expect(nm, gb_same(outs, NOUT, rep == 0 ? refB : refA));
  }
  cudaGraphExecDestroy(exec), cudaGraphDestroy(graph);

  /* without the flag a capture is refused (host offsets), nothing written */
  poison_outputs(&b);
  cu(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal), "begin capture");
  const jfa_status_t hs = jfa_attention_forward_jvp(gpu, &ph, &b.q.t, &b.k.t, &b.v.t, &b.qd.t, &b.kd.t, &b.vd.t,
                                                    &b.o.t, &b.lse.t, &b.od.t, &b.mu.t);
  cu(cudaStreamEndCapture(st, &graph), "end capture");
  cudaGraphDestroy(graph);
  snprintf(nm, sizeof nm, "%s: host offsets during a capture refused (JFA_ERROR_UNSUPPORTED)", what);
  tu_expect(nm, hs == JFA_ERROR_UNSUPPORTED);

  /* refusals: host memory with the flag; the flag without offsets; nothing written */
  jfa_attention_params_t bad = pd;
  bad.cu_seqlens_q = hostA[0], bad.cu_seqlens_k = hostA[1];
  poison_outputs(&b);
  const jfa_status_t s1 = run(gpu, &bad, &b);
  jfa_attention_params_t none = pd;
  none.cu_seqlens_q = none.cu_seqlens_k = NULL, none.num_seqs = 0;
  const jfa_status_t s2 = run(gpu, &none, &b);
  snprintf(nm, sizeof nm, "%s: host offsets with JFA_PARAMS_SEQLENS_DEVICE refused (%s: %s)", what,
           jfa_status_string(s1), jfa_get_last_error());
  tu_expect(nm, s1 == JFA_ERROR_INVALID_ARGUMENT);
  snprintf(nm, sizeof nm, "%s: JFA_PARAMS_SEQLENS_DEVICE without offsets refused", what);
  tu_expect(nm, s2 == JFA_ERROR_INVALID_ARGUMENT);
  int untouched = 1;
  for (int i = 0; i < NOUT; ++i) {
    gb_get(outs[i]);
    untouched &= tu_count_nan(outs[i]->val, outs[i]->n) == outs[i]->n;
  }
  snprintf(nm, sizeof nm, "%s: the refused calls wrote nothing", what);
  tu_expect(nm, untouched);

  gt_ok(jfa_context_set_stream(gpu, NULL), "set_stream");
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");
  cudaStreamDestroy(st);
  cudaFree(dev);
  free(refA), free(refB);
  for (int i = 0; i < NBUF; ++i) gb_free(all(&b, i));
}

int main(int argc, char **argv) { return gt_main(argc, argv, "test_gpu_varlen_device", 4, run_case); }
