/*
 * test_ring_gpu.c - ring attention on CUDA ranks equals single-rank attention
 * (float64 on the CPU, same dtype-rounded inputs) within the kernel tolerances
 * (bf16/fp16 1e-2, fp32 1e-5).
 *
 *   mpirun -np 4 --oversubscribe ./test_ring_gpu
 *
 * Several processes may share one GPU (rank -> GPU by local rank modulo the GPU
 * count). The MPI communicator (CUDA buffers staged through pinned host memory)
 * runs with P in {1, 2, 4} (groups of MPI_COMM_WORLD); the NCCL communicator runs
 * with P = min(ranks, GPUs) (NCCL needs one GPU per rank), so P = 1 on one GPU.
 * Exits 77 (CTest "Not Run") on every rank when there is no GPU.
 * Then the kernel family (jfa_cuda_last_kernel) of the ring's forward and JVP calls equals
 * the single-device call's on the same problem (bf16, D = 128 and 64, causal and not,
 * zigzag): the ring's accumulate mode and fused pairs must not make the sm90 family decline
 * (JFA_RING_GENERIC=2 checks the accumulate path at P = 1).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "core/backend.h"

#include "ringtest.h"
#include "testutil.h"

static int wr, ws;

/* Runs a case on groups of P ranks (ranks >= limit sit out) with the MPI or NCCL comm;
   records every output's worst error over the groups. */
static void run(const rt_case_t *c, uint64_t seed, int P, int limit, int use_nccl, int local_dev,
                jfa_context_t *ctx, jfa_context_t *cpu) {
  int groups = limit / P;
  int color = wr < groups * P ? wr / P : MPI_UNDEFINED;
  MPI_Comm g;
  MPI_Comm_split(MPI_COMM_WORLD, color, wr, &g);
  double e[RT_NOUT];
  for (int i = 0; i < RT_NOUT; ++i) e[i] = 0.0;
  int failed = 0;
  if (g != MPI_COMM_NULL) {
    jfa_comm_t *comm = NULL;
    jfa_context_t *nctx = NULL;
    jfa_status_t s;
    if (use_nccl) {
      int dev = -1;
      s = jfa_comm_create_nccl_from_mpi(&comm, &g, &dev);
      if (s == JFA_SUCCESS) s = jfa_context_create(&nctx, JFA_DEVICE_CUDA, dev);
    } else {
      s = jfa_comm_create_mpi(&comm, &g);
    }
    if (s != JFA_SUCCESS) fprintf(stderr, "rank %d: comm: %s\n", wr, jfa_get_last_error());
    if (s == JFA_SUCCESS) s = rt_run_case(c, seed, g, comm, use_nccl ? nctx : ctx, cpu, e);
    if (s != JFA_SUCCESS) failed = 1;
    jfa_comm_destroy(comm);
    jfa_context_destroy(nctx);
    MPI_Comm_free(&g);
  }
  (void)local_dev;
  int anynan = failed, allnan = 0;
  for (int i = 0; i < RT_NOUT; ++i) anynan |= isnan(e[i]);
  MPI_Allreduce(&anynan, &allnan, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, e, RT_NOUT, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  char desc[128];
  rt_describe(c, desc, sizeof(desc));
  double tol = c->dtype == JFA_DTYPE_FLOAT32 ? 1e-5 : 1e-2;
  for (int i = 0; i < RT_NOUT; ++i) {
    char name[256];
    snprintf(name, sizeof(name), "%s %s P=%d %s", use_nccl ? "nccl" : "mpi", desc, P, rt_out_names[i]);
    tu_check(name, allnan ? NAN : e[i], tol);
  }
}

#ifdef JFA_HAVE_CUDA
/* Whether the ring's forward and JVP run on the single-device call's kernel family, with
   groups of P ranks (a P = 1 ring: direct or the ring's steps, by JFA_RING_GENERIC). */
static void check_family(jfa_context_t *ctx, int P, int64_t D, int causal) {
  MPI_Comm g;
  MPI_Comm_split(MPI_COMM_WORLD, wr < ws / P * P ? wr / P : MPI_UNDEFINED, wr, &g);
  if (g == MPI_COMM_NULL) return;
  const int64_t H = 2, n = 256;
  size_t big = (size_t)(H * n * D) * 2, small = (size_t)(H * n) * 4;
  void *buf[10] = {NULL};
  int ok = 1;
  for (int i = 0; i < 10; ++i) ok &= cudaMalloc(&buf[i], i < 8 ? big : small) == cudaSuccess;
  for (int i = 0; i < 10 && ok; ++i) ok &= cudaMemset(buf[i], 0, i < 8 ? big : small) == cudaSuccess;
  jfa_tensor_t t[10];
  for (int i = 0; i < 10; ++i)
    t[i] = jfa_tensor_bhsd(buf[i], i < 8 ? JFA_DTYPE_BFLOAT16 : JFA_DTYPE_FLOAT32, JFA_DEVICE_CUDA, 1, H, n,
                           i < 8 ? D : 1);
  /* q k v qd kd vd o od | lse mu */
  jfa_comm_t *comm = NULL;
  jfa_ring_t *ring = NULL;
  jfa_ring_config_t c;
  jfa_ring_config_init(&c);
  c.batch = 1, c.heads_q = c.heads_kv = H, c.seq_global = n * P, c.head_dim = D;
  c.dtype = JFA_DTYPE_BFLOAT16, c.layout = JFA_LAYOUT_ZIGZAG;
  c.mask = causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c.mask;
  ok = ok && jfa_comm_create_mpi(&comm, &g) == JFA_SUCCESS && jfa_ring_create(&ring, ctx, comm, &c) == JFA_SUCCESS;
  char name[160];
  for (int jvp = 0; jvp < 2 && ok; ++jvp) {
    jfa_status_t s1 = jvp ? jfa_ring_forward_jvp(ring, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6], &t[8],
                                                 &t[7], &t[9])
                          : jfa_ring_forward(ring, &t[0], &t[1], &t[2], &t[6], &t[8]);
    int in_ring = jfa_cuda_last_kernel(ctx, 0);
    jfa_status_t s2 = jvp ? jfa_attention_forward_jvp(ctx, &prm, &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6],
                                                      &t[8], &t[7], &t[9])
                          : jfa_attention_forward(ctx, &prm, &t[0], &t[1], &t[2], &t[6], &t[8]);
    int alone = jfa_cuda_last_kernel(ctx, 0);
    snprintf(name, sizeof name, "P%d D%lld %s %s: the ring's kernel family %d = the single-device call's %d", P,
             (long long)D, causal ? "causal" : "full", jvp ? "JVP" : "forward", in_ring, alone);
    tu_expect(name, s1 == JFA_SUCCESS && s2 == JFA_SUCCESS && in_ring == alone && alone >= 0);
  }
  if (!ok) tu_expect("family check: set-up (cudaMalloc, comm, ring)", 0);
  jfa_ring_destroy(ring);
  jfa_comm_destroy(comm);
  for (int i = 0; i < 10; ++i) cudaFree(buf[i]);
  MPI_Comm_free(&g);
}
#endif

int main(int argc, char **argv) {
  uint64_t seed = rt_init(&argc, &argv, "test_ring_gpu", &wr, &ws);
  int count = 0;
  int have = jfa_cuda_available(&count), all_have = 0;
  MPI_Allreduce(&have, &all_have, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!all_have) {
    printf("test_ring_gpu: no GPU on some rank, not run\n");
    MPI_Finalize();
    return TU_SKIP;
  }
  MPI_Comm node;
  int local = 0;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, wr, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local);
  MPI_Comm_free(&node);
  int dev = local % count;
  jfa_context_t *ctx = NULL, *cpu = NULL;
  if (jfa_context_create(&ctx, JFA_DEVICE_CUDA, dev) != JFA_SUCCESS ||
      jfa_context_create(&cpu, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) {
    fprintf(stderr, "context: %s\n", jfa_get_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }

  rt_case_t cases[24];
  int nc = 0;
  for (int dt = 0; dt < 2; ++dt)
    for (int lay = 0; lay < 2; ++lay)
      for (int causal = 0; causal < 2; ++causal) {
        rt_case_t c = {1, 4, 2, 256, 64, dt ? JFA_DTYPE_FLOAT32 : JFA_DTYPE_BFLOAT16,
                       lay ? JFA_LAYOUT_ZIGZAG : JFA_LAYOUT_CONTIGUOUS, causal, 0, 0, 0, 0, 0, NULL};
        cases[nc++] = c;
      }
  { rt_case_t c = {2, 2, 1, 96, 40, JFA_DTYPE_BFLOAT16, JFA_LAYOUT_ZIGZAG, 1, 0, 0, 0, 0, 0, NULL}; cases[nc++] = c; }
  { rt_case_t c = {1, 2, 2, 128, 128, JFA_DTYPE_FLOAT16, JFA_LAYOUT_CONTIGUOUS, 1, 0, 0, 0, 0, 0, NULL}; cases[nc++] = c; }
  { rt_case_t c = {1, 4, 4, 128, 64, JFA_DTYPE_BFLOAT16, JFA_LAYOUT_ZIGZAG, 0, 1, 0, 0, 0, 0, NULL}; cases[nc++] = c; } /* BSHD */
  /* sliding windows and packed sequences (global positions; steps outside every window or
     sequence are skipped) */
  static const int64_t cu[] = {0, 1, 40, 41, 129, 200, 256}; /* lengths 1, 39, 1, 88, 71, 56 */
  { rt_case_t c = {1, 4, 2, 256, 64, JFA_DTYPE_BFLOAT16, JFA_LAYOUT_ZIGZAG, 1, 0, 1, 32, 0, 0, NULL}; cases[nc++] = c; }
  { rt_case_t c = {1, 2, 2, 256, 64, JFA_DTYPE_FLOAT32, JFA_LAYOUT_CONTIGUOUS, 0, 0, 1, 9, 17, 0, NULL}; cases[nc++] = c; }
  { rt_case_t c = {1, 4, 2, 256, 64, JFA_DTYPE_BFLOAT16, JFA_LAYOUT_ZIGZAG, 1, 0, 0, -1, -1, 6, cu}; cases[nc++] = c; }
  { rt_case_t c = {1, 2, 1, 256, 32, JFA_DTYPE_FLOAT32, JFA_LAYOUT_CONTIGUOUS, 1, 0, 1, 20, -1, 6, cu}; cases[nc++] = c; }
  /* packed sequences on multiples of 128 rows: the sm90 JVP's band in the ring's partial calls (positions of the
     chunks, accumulate mode) */
  static const int64_t cu128[] = {0, 256, 384, 768, 1024};
  { rt_case_t c = {1, 4, 2, 1024, 64, JFA_DTYPE_BFLOAT16, JFA_LAYOUT_ZIGZAG, 1, 0, 0, -1, -1, 4, cu128}; cases[nc++] = c; }
  { rt_case_t c = {1, 2, 2, 1024, 128, JFA_DTYPE_FLOAT16, JFA_LAYOUT_CONTIGUOUS, 1, 0, 1, 100, -1, 4, cu128}; cases[nc++] = c; }

  static const int Ps[] = {1, 2, 4};
  for (int ci = 0; ci < nc; ++ci)
    for (int pi = 0; pi < 3; ++pi)
      if (Ps[pi] <= ws) run(&cases[ci], seed + (uint64_t)ci, Ps[pi], ws, 0, dev, ctx, cpu);

#ifdef JFA_HAVE_NCCL
  {
    int Pn = ws < count ? ws : count;
    run(&cases[1], seed + 1, Pn, Pn, 1, dev, ctx, cpu);  /* bf16 contiguous causal */
    run(&cases[6], seed + 6, Pn, Pn, 1, dev, ctx, cpu);  /* fp32 zigzag full */
  }
#else
  printf("NCCL communicator not built: its checks are not run\n");
#endif
#ifdef JFA_HAVE_CUDA
  for (int causal = 0; causal < 2; ++causal)
    for (int di = 0; di < 2; ++di) {
      check_family(ctx, 1, di ? 64 : 128, causal);
      if (ws >= 2) check_family(ctx, 2, di ? 64 : 128, causal);
    }
#endif

  jfa_context_destroy(ctx);
  jfa_context_destroy(cpu);
  int rc = tu_finish();
  MPI_Finalize();
  return rc;
}
