/*
 * test_gpu_streams.c - calls that overlap on the device. A context keeps one workspace (the backward's delta and
 * dQ accumulator, the packed-sequence offsets, a dense mask's block map; src/kernels/common/context.cu) for every
 * stream it is used on and for the CUDA graphs that capture its calls, and a kernel's dynamic shared-memory attribute
 * belongs to the process. Each case runs the calls one at a time first (the reference), then overlapped, and checks
 * the overlapped outputs bitwise against the reference (deterministic mode: the backward's dQ adds in a fixed order)
 * and the reference against the float64 CPU backend where that is cheap:
 *   0. one context, a large backward on stream 1 and at once a smaller one on stream 2 (the second call's delta and
 *      zeroed dQ accumulator would land in the first's workspace while its kernels run);
 *   1. the same with forwards of packed sequences (the second call's offsets replacing the first's under its kernel)
 *      and of a boolean dense mask (its block map);
 *   2. a backward captured in a CUDA graph, replayed on stream 1 while an eager backward of another shape runs on
 *      stream 2, after an eager call that grew the workspace (the graph keeps its buffer, never freed under it);
 *   3. two threads, each with its own context on the simt family, forwards at D = 256 and D = 128 in a loop (the
 *      kernels' shared-memory attribute is only ever raised: lowered by one thread, it failed the other's launch);
 *   4. a non-sticky CUDA error left pending by the application (a refused cudaMalloc) before a forward: the call
 *      refuses at once, naming it, with its outputs untouched (before, its first launch check read the error after
 *      the kernels were queued), and the same call then succeeds;
 *   5. the buffers CUDA graphs captured are freed once the graphs are destroyed (a fresh context; counted by
 *      jfa_cuda_graph_workspaces, freed at jfa_context_synchronize): graph 0 captures two backwards, graphs 1 and 2
 *      are captured back to back (one buffer), an eager backward after each round: two buffers held while all live;
 *      graph 0 and its executable destroyed free its buffer; graph 1 destroyed keeps the buffer graph 2 shares, and
 *      graph 2's cudaGraph_t destroyed with its executable alive (torch.cuda.CUDAGraph's way) keeps it too, the
 *      executable replaying bitwise the eager backward; the executable destroyed right after a launch, unsynchronised,
 *      lets that launch finish bitwise and then frees the last buffer (before the thirty-eighth session every such
 *      buffer lived until the context was destroyed: device memory grew a workspace a round).
 *
 *   ctest -L gpu    or    ./test_gpu_streams [case-index]   (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime.h>

#include "core/backend.h" /* jfa_cuda_graph_workspaces */
#include "gpu_test.h"

#define BF JFA_DTYPE_BFLOAT16

static void cu(cudaError_t e, const char *what) {
  if (e != cudaSuccess) {
    fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(e));
    exit(1);
  }
}

/* One attention problem on the device: inputs, the forward's outputs and the backward's. */
typedef struct {
  int64_t B, H, N, D;
  jfa_attention_params_t prm;
  gbuf_t q, k, v, o, lse, dout, dq, dk, dv;
} prob_t;

static void prob_new(prob_t *p, int64_t B, int64_t H, int64_t N, int64_t D, jfa_mask_t mask) {
  p->B = B, p->H = H, p->N = N, p->D = D;
  jfa_attention_params_init(&p->prm);
  p->prm.mask = mask;
  gbuf_t *in[] = {&p->q, &p->k, &p->v, &p->dout};
  for (int i = 0; i < 4; ++i) {
    *in[i] = gb_new(BF, 0, B, H, N, D);
    gb_random(in[i], 1.0);
  }
  p->o = gb_new(BF, 0, B, H, N, D), p->lse = gb_new(JFA_DTYPE_FLOAT32, 0, B, H, N, 1);
  p->dq = gb_new(BF, 0, B, H, N, D), p->dk = gb_new(BF, 0, B, H, N, D), p->dv = gb_new(BF, 0, B, H, N, D);
}

static void prob_free(prob_t *p) {
  gbuf_t *all[] = {&p->q, &p->k, &p->v, &p->dout, &p->o, &p->lse, &p->dq, &p->dk, &p->dv};
  for (int i = 0; i < 9; ++i) gb_free(all[i]);
}

static jfa_status_t fwd(jfa_context_t *g, prob_t *p) {
  return jfa_attention_forward(g, &p->prm, &p->q.t, &p->k.t, &p->v.t, &p->o.t, &p->lse.t);
}

static jfa_status_t bwd(jfa_context_t *g, prob_t *p) {
  return jfa_attention_backward(g, &p->prm, &p->q.t, &p->k.t, &p->v.t, &p->o.t, &p->lse.t, &p->dout.t, &p->dq.t,
                                &p->dk.t, &p->dv.t);
}

/* The backward's outputs of p against the float64 CPU backend (the reference runs' check). */
static void check_bwd_cpu(jfa_context_t *cpu, prob_t *p, const char *name) {
  const size_t n = p->q.n;
  double *ro = calloc(n + 1, 8), *rl = calloc(p->lse.n + 1, 8), *rq = calloc(n + 1, 8), *rk = calloc(n + 1, 8),
         *rv = calloc(n + 1, 8);
  jfa_tensor_t hq = host_f64(p->q.val, p->B, p->H, p->N, p->D), hk = host_f64(p->k.val, p->B, p->H, p->N, p->D),
               hv = host_f64(p->v.val, p->B, p->H, p->N, p->D), hdo = host_f64(p->dout.val, p->B, p->H, p->N, p->D),
               ho = host_f64(ro, p->B, p->H, p->N, p->D), hl = host_f64(rl, p->B, p->H, p->N, 1),
               hdq = host_f64(rq, p->B, p->H, p->N, p->D), hdk = host_f64(rk, p->B, p->H, p->N, p->D),
               hdv = host_f64(rv, p->B, p->H, p->N, p->D);
  gt_ok(jfa_attention_forward(cpu, &p->prm, &hq, &hk, &hv, &ho, &hl), "cpu forward");
  gt_ok(jfa_attention_backward(cpu, &p->prm, &hq, &hk, &hv, &ho, &hl, &hdo, &hdq, &hdk, &hdv), "cpu backward");
  char nm[128];
  const double tol = gt_tol(BF);
  gb_get(&p->dq), gb_get(&p->dk), gb_get(&p->dv);
  snprintf(nm, sizeof nm, "%s: dq (reference run)", name), gt_compare(nm, p->dq.val, rq, n, tol);
  snprintf(nm, sizeof nm, "%s: dk (reference run)", name), gt_compare(nm, p->dk.val, rk, n, tol);
  snprintf(nm, sizeof nm, "%s: dv (reference run)", name), gt_compare(nm, p->dv.val, rv, n, tol);
  free(ro), free(rl), free(rq), free(rk), free(rv);
}

/* gb_poison copies on the legacy stream, which the non-blocking streams here do not wait for: synchronised after */
static void poison_grads(prob_t *p) {
  gb_poison(&p->dq), gb_poison(&p->dk), gb_poison(&p->dv);
  cu(cudaDeviceSynchronize(), "sync");
}

/* op on a on stream s1 and at once op on b on stream s2 (the context's stream set before each), then the device
   synchronised: the overlapped runs of cases 0 and 1 */
static void overlapped(jfa_context_t *g, jfa_status_t (*op)(jfa_context_t *, prob_t *), prob_t *a, cudaStream_t s1,
                       prob_t *b, cudaStream_t s2) {
  gt_ok(jfa_context_set_stream(g, s1), "set_stream");
  gt_ok(op(g, a), "call a (s1)");
  gt_ok(jfa_context_set_stream(g, s2), "set_stream");
  gt_ok(op(g, b), "call b (s2)");
  cu(cudaDeviceSynchronize(), "sync");
}

/* Case 0: a large backward on s1, at once a smaller one on s2, one context. */
static void case_two_stream_backwards(jfa_context_t *gpu, jfa_context_t *cpu) {
  cudaStream_t s1, s2;
  cu(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking), "stream");
  cu(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking), "stream");
  gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_DETERMINISTIC), "set_flags");
  prob_t a, b;
  prob_new(&a, 2, 16, 4096, 64, JFA_MASK_NONE);
  prob_new(&b, 1, 2, 300, 64, JFA_MASK_CAUSAL_TOP_LEFT);
  /* the reference: one at a time, a first (its workspace the larger: no growth below) */
  gt_ok(jfa_context_set_stream(gpu, s1), "set_stream");
  gt_ok(fwd(gpu, &a), "forward a"), gt_ok(fwd(gpu, &b), "forward b");
  gt_ok(bwd(gpu, &a), "backward a"), cu(cudaStreamSynchronize(s1), "sync");
  gt_ok(bwd(gpu, &b), "backward b"), cu(cudaStreamSynchronize(s1), "sync");
  gbuf_t *ga[] = {&a.dq, &a.dk, &a.dv}, *gb[] = {&b.dq, &b.dk, &b.dv};
  double *ra = gb_snapshot(ga, 3), *rb = gb_snapshot(gb, 3);
  check_bwd_cpu(cpu, &b, "case 0 b");
  for (int rep = 0; rep < 5; ++rep) {
    poison_grads(&a), poison_grads(&b);
    overlapped(gpu, bwd, &a, s1, &b, s2);
    char nm[96];
    snprintf(nm, sizeof nm, "case 0 rep %d: backward a on s1 bitwise its one-at-a-time run", rep);
    tu_expect(nm, gb_same(ga, 3, ra));
    snprintf(nm, sizeof nm, "case 0 rep %d: backward b on s2 bitwise its one-at-a-time run", rep);
    tu_expect(nm, gb_same(gb, 3, rb));
  }
  gt_ok(jfa_context_set_stream(gpu, NULL), "set_stream");
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");
  free(ra), free(rb);
  prob_free(&a), prob_free(&b);
  cudaStreamDestroy(s1), cudaStreamDestroy(s2);
}

/* Case 1: forwards whose masks live in the workspace (packed-sequence offsets, a dense mask's block map), a large
   one on s1 and at once another on s2. */
static void case_two_stream_masked_forwards(jfa_context_t *gpu, jfa_context_t *cpu) {
  (void)cpu;
  cudaStream_t s1, s2;
  cu(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking), "stream");
  cu(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking), "stream");
  for (int kind = 0; kind < 2; ++kind) {
    prob_t a, b;
    const int64_t Na = 4096, Nb = 1024;
    prob_new(&a, 1, 32, Na, 128, JFA_MASK_CAUSAL_TOP_LEFT);
    prob_new(&b, 1, 2, Nb, 128, JFA_MASK_CAUSAL_TOP_LEFT);
    int64_t ca[5] = {0, 1000, 1001, 3000, Na}, cb[4] = {0, 7, 600, Nb};
    unsigned char *dma = NULL, *dmb = NULL;
    jfa_tensor_t ma, mb;
    if (kind == 0) {
      a.prm.cu_seqlens_q = a.prm.cu_seqlens_k = ca, a.prm.num_seqs = 4;
      b.prm.cu_seqlens_q = b.prm.cu_seqlens_k = cb, b.prm.num_seqs = 3;
    } else {
      /* boolean masks (1, 1, N, N): a's keeps keys j <= i + 64 but a stripe of 128 keys in five, b's every third */
      unsigned char *ha = malloc((size_t)(Na * Na)), *hb = malloc((size_t)(Nb * Nb));
      for (int64_t i = 0; i < Na; ++i)
        for (int64_t j = 0; j < Na; ++j) ha[i * Na + j] = j <= i + 64 && (j / 128) % 5 != 2;
      for (int64_t i = 0; i < Nb; ++i)
        for (int64_t j = 0; j < Nb; ++j) hb[i * Nb + j] = j % 3 == 0;
      cu(cudaMalloc((void **)&dma, (size_t)(Na * Na)), "cudaMalloc"), cu(cudaMalloc((void **)&dmb, (size_t)(Nb * Nb)), "cudaMalloc");
      cu(cudaMemcpy(dma, ha, (size_t)(Na * Na), cudaMemcpyHostToDevice), "upload");
      cu(cudaMemcpy(dmb, hb, (size_t)(Nb * Nb), cudaMemcpyHostToDevice), "upload");
      free(ha), free(hb);
      ma = jfa_tensor_bhsd(dma, JFA_DTYPE_BOOL, JFA_DEVICE_CUDA, 1, 1, Na, Na);
      mb = jfa_tensor_bhsd(dmb, JFA_DTYPE_BOOL, JFA_DEVICE_CUDA, 1, 1, Nb, Nb);
      a.prm.mask = b.prm.mask = JFA_MASK_NONE;
      a.prm.attn_mask = &ma, b.prm.attn_mask = &mb;
    }
    gt_ok(jfa_context_set_stream(gpu, s1), "set_stream");
    gt_ok(fwd(gpu, &a), "forward a"), cu(cudaStreamSynchronize(s1), "sync");
    gt_ok(fwd(gpu, &b), "forward b"), cu(cudaStreamSynchronize(s1), "sync");
    gbuf_t *oa[] = {&a.o, &a.lse}, *ob[] = {&b.o, &b.lse};
    double *ra = gb_snapshot(oa, 2), *rb = gb_snapshot(ob, 2);
    for (int rep = 0; rep < 5; ++rep) {
      gb_poison(&a.o), gb_poison(&a.lse), gb_poison(&b.o), gb_poison(&b.lse);
      cu(cudaDeviceSynchronize(), "sync");
      overlapped(gpu, fwd, &a, s1, &b, s2);
      char nm[128];
      snprintf(nm, sizeof nm, "case 1 %s rep %d: forward a on s1 bitwise its one-at-a-time run",
               kind ? "dense mask" : "packed sequences", rep);
      tu_expect(nm, gb_same(oa, 2, ra));
      snprintf(nm, sizeof nm, "case 1 %s rep %d: forward b on s2 bitwise its one-at-a-time run",
               kind ? "dense mask" : "packed sequences", rep);
      tu_expect(nm, gb_same(ob, 2, rb));
    }
    free(ra), free(rb);
    if (kind == 1) cudaFree(dma), cudaFree(dmb);
    prob_free(&a), prob_free(&b);
  }
  gt_ok(jfa_context_set_stream(gpu, NULL), "set_stream");
  cudaStreamDestroy(s1), cudaStreamDestroy(s2);
}

/* Case 2: a captured backward replayed on s1 while eager backwards run on s2, after an eager call grew the
   workspace past the captured one. */
static void case_graph_and_eager(jfa_context_t *gpu, jfa_context_t *cpu) {
  cudaStream_t s1, s2;
  cu(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking), "stream");
  cu(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking), "stream");
  gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_DETERMINISTIC), "set_flags");
  prob_t a, b, big;
  prob_new(&a, 2, 8, 2048, 64, JFA_MASK_CAUSAL_TOP_LEFT);
  prob_new(&b, 1, 4, 1000, 64, JFA_MASK_NONE);
  prob_new(&big, 2, 16, 4096, 64, JFA_MASK_NONE);
  gt_ok(jfa_context_set_stream(gpu, s1), "set_stream");
  gt_ok(fwd(gpu, &a), "forward a"), gt_ok(fwd(gpu, &b), "forward b"), gt_ok(fwd(gpu, &big), "forward big");
  gt_ok(bwd(gpu, &a), "backward a"), cu(cudaStreamSynchronize(s1), "sync"); /* sizes the workspace for a */
  gbuf_t *ga[] = {&a.dq, &a.dk, &a.dv}, *gb[] = {&b.dq, &b.dk, &b.dv};
  double *ra = gb_snapshot(ga, 3);
  gt_ok(bwd(gpu, &b), "backward b"), cu(cudaStreamSynchronize(s1), "sync");
  double *rb = gb_snapshot(gb, 3);
  check_bwd_cpu(cpu, &b, "case 2 b");
  /* capture a's backward */
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cu(cudaStreamBeginCapture(s1, cudaStreamCaptureModeThreadLocal), "begin capture");
  const jfa_status_t cs = bwd(gpu, &a);
  cu(cudaStreamEndCapture(s1, &graph), "end capture");
  gt_ok(cs, "backward a (captured)");
  cu(cudaGraphInstantiate(&exec, graph, 0), "instantiate");
  /* an eager call that needs more workspace than the graph's buffer (the buffer the graph keeps) */
  gt_ok(bwd(gpu, &big), "backward big (grows the workspace)");
  cu(cudaStreamSynchronize(s1), "sync");
  for (int rep = 0; rep < 5; ++rep) {
    poison_grads(&a), poison_grads(&b);
    cu(cudaGraphLaunch(exec, s1), "graph launch");
    gt_ok(jfa_context_set_stream(gpu, s2), "set_stream");
    gt_ok(bwd(gpu, &b), "backward b (s2, eager)");
    gt_ok(jfa_context_set_stream(gpu, s1), "set_stream");
    cu(cudaDeviceSynchronize(), "sync");
    char nm[96];
    snprintf(nm, sizeof nm, "case 2 rep %d: graph's backward a bitwise its eager run", rep);
    tu_expect(nm, gb_same(ga, 3, ra));
    snprintf(nm, sizeof nm, "case 2 rep %d: eager backward b beside the graph bitwise its run", rep);
    tu_expect(nm, gb_same(gb, 3, rb));
  }
  cudaGraphExecDestroy(exec), cudaGraphDestroy(graph);
  gt_ok(jfa_context_set_stream(gpu, NULL), "set_stream");
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");
  free(ra), free(rb);
  prob_free(&a), prob_free(&b), prob_free(&big);
  cudaStreamDestroy(s1), cudaStreamDestroy(s2);
}

/* Case 3: two threads on the simt family, forwards at different head dims (dynamic shared memory) in a loop. */
typedef struct {
  int64_t D;
  int iters, failures;
  char msg[256];
  jfa_context_t *g;
} thr_t;

static void *thread_main(void *arg) {
  thr_t *t = (thr_t *)arg;
  prob_t p;
  prob_new(&p, 1, 2, 256, t->D, JFA_MASK_NONE);
  /* launches only (a launch above the attribute fails at once): the other thread's settings land between them */
  for (int i = 0; i < t->iters; ++i) {
    if (fwd(t->g, &p) != JFA_SUCCESS) {
      if (!t->failures++) snprintf(t->msg, sizeof t->msg, "%s", jfa_get_last_error());
    }
  }
  if (jfa_context_synchronize(t->g) != JFA_SUCCESS && !t->failures++)
    snprintf(t->msg, sizeof t->msg, "%s", jfa_get_last_error());
  prob_free(&p);
  return NULL;
}

static void case_threads_smem(jfa_context_t *gpu, jfa_context_t *cpu) {
  (void)gpu, (void)cpu;
  char *saved = gt_env_copy("JFA_KERNEL_PATH");
  gt_set_env("JFA_KERNEL_PATH", "simt"); /* read when the contexts are created */
  thr_t t[2] = {{256, 2000, 0, "", NULL}, {128, 2000, 0, "", NULL}};
  for (int i = 0; i < 2; ++i) gt_ok(jfa_context_create(&t[i].g, JFA_DEVICE_CUDA, 0), "context");
  gt_set_env("JFA_KERNEL_PATH", saved);
  free(saved);
  pthread_t th[2];
  for (int i = 0; i < 2; ++i) pthread_create(&th[i], NULL, thread_main, &t[i]);
  for (int i = 0; i < 2; ++i) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; ++i) {
    char nm[128];
    snprintf(nm, sizeof nm, "case 3: thread at D = %lld, %d simt forwards beside the other thread's", (long long)t[i].D,
             t[i].iters);
    if (t[i].failures) printf("  %d failures, the first: %s\n", t[i].failures, t[i].msg);
    tu_expect(nm, t[i].failures == 0);
    snprintf(nm, sizeof nm, "case 3: thread at D = %lld ran on simt", (long long)t[i].D);
    gt_check_path(t[i].g, nm, 0, GT_PATH_SIMT);
    jfa_context_destroy(t[i].g);
  }
}

static void case_pending_error(jfa_context_t *gpu, jfa_context_t *cpu) {
  (void)cpu;
  prob_t p;
  prob_new(&p, 1, 2, 300, 64, JFA_MASK_CAUSAL_TOP_LEFT);
  gb_poison(&p.o), gb_poison(&p.lse);
  gbuf_t *outs[2] = {&p.o, &p.lse};
  double *before = gb_snapshot(outs, 2);
  void *huge = NULL;
  const cudaError_t e = cudaMalloc(&huge, (size_t)1 << 62); /* refused: cudaErrorMemoryAllocation left pending */
  tu_expect("case 4: the application's refused cudaMalloc", e != cudaSuccess && huge == NULL);
  const jfa_status_t s1 = fwd(gpu, &p);
  cu(cudaDeviceSynchronize(), "sync");
  tu_expect("case 4: a forward after it: JFA_ERROR_CUDA naming the pending error, outputs untouched",
            s1 == JFA_ERROR_CUDA && strstr(jfa_get_last_error(), "pending") != NULL && gb_same(outs, 2, before));
  const jfa_status_t s2 = fwd(gpu, &p);
  cu(cudaDeviceSynchronize(), "sync");
  tu_expect("case 4: the same forward again succeeds and writes its outputs",
            s2 == JFA_SUCCESS && !gb_same(outs, 2, before));
  free(before);
  prob_free(&p);
}

/* jfa_context_synchronize (which frees the buffers of destroyed graphs) until the context holds `want` graph buffers,
   at most `tries` times 5 ms apart (the graphs' user objects are released on CUDA's own thread); returns the count it
   saw last. */
static int sync_until(jfa_context_t *g, int want, int tries) {
  int n = -1;
  for (int t = 0; t < tries; ++t) {
    gt_ok(jfa_context_synchronize(g), "synchronize");
    n = jfa_cuda_graph_workspaces(g);
    if (n == want) break;
    const struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  return n;
}

/* One capture on s of `calls` backwards of p, instantiated. */
static void capture_bwd(jfa_context_t *g, prob_t *p, cudaStream_t s, int calls, cudaGraph_t *graph,
                        cudaGraphExec_t *exec) {
  cu(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "begin capture");
  jfa_status_t cs = JFA_SUCCESS;
  for (int c = 0; c < calls && cs == JFA_SUCCESS; ++c) cs = bwd(g, p);
  cu(cudaStreamEndCapture(s, graph), "end capture");
  gt_ok(cs, "backward (captured)");
  cu(cudaGraphInstantiate(exec, *graph, 0), "instantiate");
}

/* exec replayed on s (outputs poisoned first): bitwise the eager backward's outputs ref */
static void replay_check(cudaGraphExec_t exec, cudaStream_t s, prob_t *p, const double *ref, const char *what) {
  gbuf_t *ga[] = {&p->dq, &p->dk, &p->dv};
  poison_grads(p);
  cu(cudaGraphLaunch(exec, s), "graph launch");
  cu(cudaStreamSynchronize(s), "sync");
  char nm[160];
  snprintf(nm, sizeof nm, "case 5: %s replays bitwise the eager backward", what);
  tu_expect(nm, gb_same(ga, 3, ref));
}

static void case_graph_buffers_freed(jfa_context_t *gpu0, jfa_context_t *cpu) {
  (void)gpu0, (void)cpu;
  jfa_context_t *gpu = NULL;
  gt_ok(jfa_context_create(&gpu, JFA_DEVICE_CUDA, 0), "context");
  cudaStream_t s1;
  cu(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking), "stream");
  gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_DETERMINISTIC), "set_flags");
  gt_ok(jfa_context_set_stream(gpu, s1), "set_stream");
  prob_t a;
  prob_new(&a, 1, 4, 1000, 64, JFA_MASK_CAUSAL_TOP_LEFT);
  gt_ok(fwd(gpu, &a), "forward"), gt_ok(bwd(gpu, &a), "backward"), cu(cudaStreamSynchronize(s1), "sync");
  gbuf_t *ga[] = {&a.dq, &a.dk, &a.dv};
  double *ra = gb_snapshot(ga, 3);
  tu_expect("case 5: no graph buffer before any capture", jfa_cuda_graph_workspaces(gpu) == 0);
  cudaGraph_t graph[3];
  cudaGraphExec_t exec[3];
  /* graph 0: two captured backwards on one buffer; an eager call then takes a new one */
  capture_bwd(gpu, &a, s1, 2, &graph[0], &exec[0]);
  gt_ok(bwd(gpu, &a), "backward (eager after the capture)"), cu(cudaStreamSynchronize(s1), "sync");
  /* graphs 1 and 2: captured back to back (no eager call between): they share the next buffer */
  capture_bwd(gpu, &a, s1, 1, &graph[1], &exec[1]);
  capture_bwd(gpu, &a, s1, 1, &graph[2], &exec[2]);
  gt_ok(bwd(gpu, &a), "backward (eager after the captures)"), cu(cudaStreamSynchronize(s1), "sync");
  tu_expect("case 5: the eager backwards between the captures bitwise the first", gb_same(ga, 3, ra));
  char nm[160];
  int n = sync_until(gpu, 1, 20);
  snprintf(nm, sizeof nm, "case 5: three graphs on two buffers, all alive: both kept (%d held)", n);
  tu_expect(nm, n == 2);
  cu(cudaGraphExecDestroy(exec[0]), "exec destroy"), cu(cudaGraphDestroy(graph[0]), "graph destroy");
  n = sync_until(gpu, 1, 400);
  snprintf(nm, sizeof nm, "case 5: graph 0 and its executable destroyed: its buffer freed (%d held)", n);
  tu_expect(nm, n == 1);
  cu(cudaGraphExecDestroy(exec[1]), "exec destroy"), cu(cudaGraphDestroy(graph[1]), "graph destroy");
  n = sync_until(gpu, 0, 20);
  snprintf(nm, sizeof nm, "case 5: graph 1 destroyed, graph 2 on the same buffer alive: kept (%d held)", n);
  tu_expect(nm, n == 1);
  replay_check(exec[2], s1, &a, ra, "graph 2 (graph 1 destroyed)");
  /* graph 2's cudaGraph_t destroyed, its executable alive (torch.cuda.CUDAGraph keeps only the executable) */
  cu(cudaGraphDestroy(graph[2]), "graph destroy");
  n = sync_until(gpu, 0, 20);
  snprintf(nm, sizeof nm, "case 5: graph 2 destroyed, its executable alive: kept (%d held)", n);
  tu_expect(nm, n == 1);
  replay_check(exec[2], s1, &a, ra, "graph 2's executable (its graph destroyed)");
  /* the executable destroyed right after a launch, unsynchronised: the release waits for the launch */
  poison_grads(&a);
  cu(cudaGraphLaunch(exec[2], s1), "graph launch");
  cu(cudaGraphExecDestroy(exec[2]), "exec destroy (launch in flight)");
  cu(cudaStreamSynchronize(s1), "sync");
  tu_expect("case 5: the last launch (its executable destroyed in flight) bitwise the eager backward",
            gb_same(ga, 3, ra));
  n = sync_until(gpu, 0, 400);
  snprintf(nm, sizeof nm, "case 5: every graph destroyed: no graph buffer held (%d)", n);
  tu_expect(nm, n == 0);
  gt_ok(bwd(gpu, &a), "backward (eager)"), cu(cudaStreamSynchronize(s1), "sync");
  tu_expect("case 5: an eager backward after it all bitwise the first", gb_same(ga, 3, ra));
  free(ra);
  prob_free(&a);
  gt_ok(jfa_context_destroy(gpu), "context destroy");
  cudaStreamDestroy(s1);
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  static const char *names[] = {"two streams, backwards", "two streams, masked forwards", "a graph beside eager calls",
                                "threads, shared-memory attribute", "an error pending before a call",
                                "graph buffers freed with their graphs"};
  printf("case %d: %s\n", ci, names[ci]);
  fflush(stdout);
  switch (ci) {
    case 0: case_two_stream_backwards(gpu, cpu); break;
    case 1: case_two_stream_masked_forwards(gpu, cpu); break;
    case 2: case_graph_and_eager(gpu, cpu); break;
    case 3: case_threads_smem(gpu, cpu); break;
    case 4: case_pending_error(gpu, cpu); break;
    default: case_graph_buffers_freed(gpu, cpu); break;
  }
}

int main(int argc, char **argv) { return gt_main(argc, argv, "test_gpu_streams", 6, run_case); }
