/*
 * test_ring_bwd_jvp.c - the ring backward-JVP (jfa_ring_backward_jvp, second order) on
 * CPU ranks equals the single-rank call (jfa_attention_backward_jvp, float64, on the
 * full sequence), for P = 1, 2, 3, 4 (groups of MPI_COMM_WORLD; ranks left over sit a P
 * out): contiguous and zigzag layouts, causal and not, GQA, sliding windows, packed
 * sequences, float64 and float32. The ring's own forward JVP (jfa_ring_forward_jvp)
 * gives o, lse, od, mu; outputs (dqd, dkd, dvd and dq, dk, dv; in one case dq, dk, dv
 * NULL) are poisoned with NaN first, gathered over the group with jfa_layout_unshard
 * and compared by relative error (float64 1e-12, float32 1e-5).
 * With the argument "gpu": the same on CUDA contexts (every rank on GPU local_rank % count,
 * so processes may share one GPU), bf16, fp16 and fp32 (tolerances 2e-2, 4e-3, 2e-5);
 * exits 77 (Not Run) when a rank has no GPU.
 *
 *   mpirun -np 4 --oversubscribe ./test_ring_bwd_jvp [gpu]   (JFA_RING_GENERIC=1: the ring machinery at P = 1)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef JFA_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#include "ringtest.h"
#include "testutil.h"

typedef struct {
  int64_t B, Hq, Hkv, N, D;
  jfa_dtype_t dt;
  jfa_layout_t layout;
  int causal;
  int64_t wl, wr;
  int64_t nseq;
  const int64_t *cu;
  int first; /* ask for dq, dk, dv too */
} bcase_t;

enum { NIN = 8, NOUT = 6 }; /* q k v qd kd vd dout doutd; dqd dkd dvd dq dk dv */
static const int in_kv[NIN] = {0, 1, 1, 0, 1, 1, 0, 0};
static const int out_kv[NOUT] = {0, 1, 1, 0, 1, 1};
static const char *const out_names[NOUT] = {"dQd", "dKd", "dVd", "dQ", "dK", "dV"};

static jfa_tensor_t t_of(void *p, jfa_dtype_t dt, const bcase_t *c, int kv, int64_t n, int64_t d) {
  return jfa_tensor_bhsd(p, dt, JFA_DEVICE_CPU, c->B, kv ? c->Hkv : c->Hq, n, d);
}

static void *xalloc(size_t n, size_t es) {
  void *p = calloc(n ? n : 1, es);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return p;
}

/* n values of src (float64, host) as a buffer of dt on the host (gpu = 0) or the GPU. */
static void *stage(const double *src, size_t n, jfa_dtype_t dt, int gpu) {
  void *h = xalloc(n, jfa_dtype_size(dt));
  if (jfa_convert_host(src, JFA_DTYPE_FLOAT64, h, dt, n) != JFA_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 1);
  if (!gpu) return h;
#ifdef JFA_HAVE_CUDA
  void *d = NULL;
  if (cudaMalloc(&d, n * jfa_dtype_size(dt) + 16) != cudaSuccess ||
      cudaMemcpy(d, h, n * jfa_dtype_size(dt), cudaMemcpyHostToDevice) != cudaSuccess)
    MPI_Abort(MPI_COMM_WORLD, 1);
  free(h);
  return d;
#else
  MPI_Abort(MPI_COMM_WORLD, 1);
  return NULL;
#endif
}

/* The reverse: n values of dt at p (host or GPU) into float64 dst. */
static void unstage(const void *p, size_t n, jfa_dtype_t dt, int gpu, double *dst) {
  const void *h = p;
  void *tmp = NULL;
#ifdef JFA_HAVE_CUDA
  if (gpu) {
    tmp = xalloc(n, jfa_dtype_size(dt));
    if (cudaMemcpy(tmp, p, n * jfa_dtype_size(dt), cudaMemcpyDeviceToHost) != cudaSuccess) MPI_Abort(MPI_COMM_WORLD, 1);
    h = tmp;
  }
#endif
  if (jfa_convert_host(h, dt, dst, JFA_DTYPE_FLOAT64, n) != JFA_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 1);
  free(tmp);
}

static void release(void *p, int gpu) {
#ifdef JFA_HAVE_CUDA
  if (gpu) {
    cudaFree(p);
    return;
  }
#endif
  (void)gpu;
  free(p);
}

/* Runs one case on a group; err[i] = rel err of output i over the full sequence (same on every rank). */
static jfa_status_t run(const bcase_t *c, MPI_Comm g, jfa_context_t *ctx, jfa_context_t *cpu, double err[NOUT]) {
  jfa_device_t dev;
  int dev_index;
  jfa_context_get_device(ctx, &dev, &dev_index);
  const int gpu = dev == JFA_DEVICE_CUDA;
  int rank, P;
  MPI_Comm_rank(g, &rank);
  MPI_Comm_size(g, &P);
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, N = c->N, D = c->D, n = N / P;
  const size_t fq = (size_t)(B * Hq * N * D), fk = (size_t)(B * Hkv * N * D), fs = (size_t)(B * Hq * N);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  prm.window_left = c->wl, prm.window_right = c->wr;
  if (c->nseq) prm.cu_seqlens_q = prm.cu_seqlens_k = c->cu, prm.num_seqs = c->nseq;

  /* full inputs (the same on every rank: the generator was seeded identically), rounded to dt */
  double *full[NIN], *rout[NOUT];
  for (int i = 0; i < NIN; ++i) {
    const size_t m = in_kv[i] ? fk : fq;
    full[i] = xalloc(m, sizeof(double));
    for (size_t e = 0; e < m; ++e) full[i][e] = tu_round(rt_normal(), c->dt);
  }
  for (int i = 0; i < NOUT; ++i) rout[i] = xalloc(out_kv[i] ? fk : fq, sizeof(double));
  double *ro = xalloc(fq, 8), *rod = xalloc(fq, 8), *rl = xalloc(fs, 8), *rm = xalloc(fs, 8);
  jfa_tensor_t ft[NIN], rt[NOUT];
  for (int i = 0; i < NIN; ++i) ft[i] = t_of(full[i], JFA_DTYPE_FLOAT64, c, in_kv[i], N, D);
  for (int i = 0; i < NOUT; ++i) rt[i] = t_of(rout[i], JFA_DTYPE_FLOAT64, c, out_kv[i], N, D);
  jfa_tensor_t to = t_of(ro, JFA_DTYPE_FLOAT64, c, 0, N, D), tod = t_of(rod, JFA_DTYPE_FLOAT64, c, 0, N, D),
               tl = t_of(rl, JFA_DTYPE_FLOAT64, c, 0, N, 1), tm = t_of(rm, JFA_DTYPE_FLOAT64, c, 0, N, 1);
  jfa_status_t st = jfa_attention_forward_jvp(cpu, &prm, &ft[0], &ft[1], &ft[2], &ft[3], &ft[4], &ft[5], &to, &tl,
                                              &tod, &tm);
  if (st == JFA_SUCCESS)
    st = jfa_attention_backward_jvp(cpu, &prm, &ft[0], &ft[1], &ft[2], &ft[3], &ft[4], &ft[5], &to, &tl, &tod, &tm,
                                    &ft[6], &ft[7], &rt[0], &rt[1], &rt[2], &rt[3], &rt[4], &rt[5]);
  if (st != JFA_SUCCESS) fprintf(stderr, "reference: %s\n", jfa_get_last_error());

  /* local shards: float64 on the host (jfa_layout_shard), staged in dt on the ring's device */
  void *loc[NIN], *lout[NOUT];
  jfa_tensor_t lt[NIN], lo[NOUT];
  const size_t nl_q = (size_t)(B * Hq * n * D), nl_k = (size_t)(B * Hkv * n * D), nl_s = (size_t)(B * Hq * n);
  double *h64 = xalloc(nl_q > nl_k ? nl_q : nl_k, sizeof(double));
  for (int i = 0; i < NIN; ++i) {
    jfa_tensor_t l64 = t_of(h64, JFA_DTYPE_FLOAT64, c, in_kv[i], n, D);
    if (st == JFA_SUCCESS) st = jfa_layout_shard(cpu, c->layout, rank, P, &ft[i], &l64);
    loc[i] = stage(h64, in_kv[i] ? nl_k : nl_q, c->dt, gpu);
    lt[i] = t_of(loc[i], c->dt, c, in_kv[i], n, D);
    lt[i].device = dev;
  }
  for (size_t e = 0; e < (nl_q > nl_k ? nl_q : nl_k); ++e) h64[e] = NAN; /* poison */
  for (int i = 0; i < NOUT; ++i) {
    lout[i] = stage(h64, out_kv[i] ? nl_k : nl_q, c->dt, gpu);
    lo[i] = t_of(lout[i], c->dt, c, out_kv[i], n, D);
    lo[i].device = dev;
  }
  const jfa_dtype_t sdt = c->dt == JFA_DTYPE_FLOAT64 ? JFA_DTYPE_FLOAT64 : JFA_DTYPE_FLOAT32;
  void *lo_o = stage(h64, nl_q, c->dt, gpu), *lo_od = stage(h64, nl_q, c->dt, gpu);
  void *lo_l = stage(h64, nl_s, sdt, gpu), *lo_m = stage(h64, nl_s, sdt, gpu);
  jfa_tensor_t lto = t_of(lo_o, c->dt, c, 0, n, D), ltod = t_of(lo_od, c->dt, c, 0, n, D),
               ltl = t_of(lo_l, sdt, c, 0, n, 1), ltm = t_of(lo_m, sdt, c, 0, n, 1);
  lto.device = ltod.device = ltl.device = ltm.device = dev;

  jfa_comm_t *comm = NULL;
  jfa_ring_t *ring = NULL;
  if (st == JFA_SUCCESS) st = jfa_comm_create_mpi(&comm, &g);
  if (st == JFA_SUCCESS) {
    jfa_ring_config_t cfg;
    jfa_ring_config_init(&cfg);
    cfg.batch = B, cfg.heads_q = Hq, cfg.heads_kv = Hkv, cfg.seq_global = N, cfg.head_dim = D;
    cfg.dtype = c->dt, cfg.layout = c->layout, cfg.mask = prm.mask;
    cfg.window_left = c->wl, cfg.window_right = c->wr;
    cfg.cu_seqlens = c->nseq ? c->cu : NULL, cfg.num_seqs = c->nseq;
    st = jfa_ring_create(&ring, ctx, comm, &cfg);
  }
  if (st == JFA_SUCCESS)
    st = jfa_ring_forward_jvp(ring, &lt[0], &lt[1], &lt[2], &lt[3], &lt[4], &lt[5], &lto, &ltl, &ltod, &ltm);
  if (st == JFA_SUCCESS)
    st = jfa_ring_backward_jvp(ring, &lt[0], &lt[1], &lt[2], &lt[3], &lt[4], &lt[5], &lto, &ltl, &ltod, &ltm, &lt[6],
                               &lt[7], &lo[0], &lo[1], &lo[2], c->first ? &lo[3] : NULL, c->first ? &lo[4] : NULL,
                               c->first ? &lo[5] : NULL);
  if (st != JFA_SUCCESS) fprintf(stderr, "ring: %s\n", jfa_get_last_error());
  jfa_ring_destroy(ring);
  jfa_comm_destroy(comm);

  /* gather: each rank writes its rows into a zeroed full array, summed over the group */
  for (int i = 0; i < NOUT; ++i) {
    err[i] = NAN;
    if (st != JFA_SUCCESS || (i >= 3 && !c->first)) continue;
    const size_t m = out_kv[i] ? fk : fq;
    double *gf = xalloc(m, sizeof(double));
    jfa_tensor_t gt = t_of(gf, JFA_DTYPE_FLOAT64, c, out_kv[i], N, D);
    unstage(lout[i], out_kv[i] ? nl_k : nl_q, c->dt, gpu, h64);
    jfa_tensor_t l64 = t_of(h64, JFA_DTYPE_FLOAT64, c, out_kv[i], n, D);
    if (jfa_layout_unshard(cpu, c->layout, rank, P, &l64, &gt) != JFA_SUCCESS) {
      fprintf(stderr, "unshard: %s\n", jfa_get_last_error());
      st = JFA_ERROR_INTERNAL;
    }
    MPI_Allreduce(MPI_IN_PLACE, gf, (int)m, MPI_DOUBLE, MPI_SUM, g);
    err[i] = tu_rel_err(gf, rout[i], m);
    free(gf);
  }
  int bad = st != JFA_SUCCESS, anybad = 0;
  MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, g);
  for (int i = 0; i < NIN; ++i) free(full[i]);
  for (int i = 0; i < NIN; ++i) release(loc[i], gpu);
  for (int i = 0; i < NOUT; ++i) free(rout[i]), release(lout[i], gpu);
  free(ro), free(rod), free(rl), free(rm), free(h64);
  release(lo_o, gpu), release(lo_od, gpu), release(lo_l, gpu), release(lo_m, gpu);
  return anybad ? JFA_ERROR_INTERNAL : JFA_SUCCESS;
}

int main(int argc, char **argv) {
  int wr, ws;
  uint64_t seed = rt_init(&argc, &argv, "test_ring_bwd_jvp", &wr, &ws);
  const int gpu = argc > 1 && strcmp(argv[1], "gpu") == 0;
  jfa_context_t *cpu = NULL, *ctx = NULL;
  if (jfa_context_create(&cpu, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 1);
  jfa_context_set_num_threads(cpu, 1);
  ctx = cpu;
  if (gpu) {
    int count = 0, have = jfa_cuda_available(&count), all_have = 0;
    MPI_Allreduce(&have, &all_have, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_have) {
      printf("test_ring_bwd_jvp gpu: no GPU on some rank, not run\n");
      jfa_context_destroy(cpu);
      MPI_Finalize();
      return TU_SKIP;
    }
    MPI_Comm node;
    int local = 0;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, wr, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
    if (jfa_context_create(&ctx, JFA_DEVICE_CUDA, local % count) != JFA_SUCCESS) MPI_Abort(MPI_COMM_WORLD, 1);
  }
  static const int64_t cu_mix[] = {0, 1, 8, 8, 30, 31, 96}; /* lengths 1, 7, 0, 22, 1, 65 */
  const bcase_t cases[] = {
      /* B Hq Hkv N D dt layout causal wl wr nseq cu first; N divides by 2 * 3 * 4 */
      {2, 4, 2, 48, 5, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 1, -1, -1, 0, NULL, 1},
      {2, 4, 2, 48, 5, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 1, -1, -1, 0, NULL, 1},
      {1, 3, 3, 48, 7, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 0, -1, -1, 0, NULL, 0}, /* dq, dk, dv NULL */
      {1, 2, 1, 96, 6, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 1, 9, -1, 0, NULL, 1},
      {1, 2, 1, 96, 4, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 0, 3, 5, 0, NULL, 1},
      {1, 4, 2, 96, 6, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 1, -1, -1, 6, cu_mix, 1},
      {1, 2, 1, 96, 5, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 0, 4, -1, 6, cu_mix, 1},
      {2, 4, 2, 48, 12, JFA_DTYPE_FLOAT32, JFA_LAYOUT_ZIGZAG, 1, -1, -1, 0, NULL, 1},
  };
  const bcase_t gcases[] = {
      {1, 4, 2, 96, 64, JFA_DTYPE_BFLOAT16, JFA_LAYOUT_ZIGZAG, 1, -1, -1, 0, NULL, 1},
      {1, 4, 2, 96, 64, JFA_DTYPE_FLOAT16, JFA_LAYOUT_CONTIGUOUS, 0, -1, -1, 0, NULL, 1},
      {2, 2, 1, 48, 40, JFA_DTYPE_FLOAT32, JFA_LAYOUT_ZIGZAG, 1, 9, -1, 0, NULL, 1},
      {1, 4, 2, 96, 32, JFA_DTYPE_BFLOAT16, JFA_LAYOUT_ZIGZAG, 1, -1, -1, 6, cu_mix, 0},
      /* coverage audit: packed sequences (with a causal window at D = 64, without at 128), the sm90 backward-JVP's
         MASKED instantiation (and its first-order outputs from the sm90 backward) in the ring's accumulate mode
         (P = 2); the case above runs D = 32 on sm80 */
      {1, 4, 2, 96, 64, JFA_DTYPE_BFLOAT16, JFA_LAYOUT_ZIGZAG, 1, 20, -1, 6, cu_mix, 1},
      {1, 4, 2, 96, 128, JFA_DTYPE_FLOAT16, JFA_LAYOUT_CONTIGUOUS, 1, -1, -1, 6, cu_mix, 1},
  };
  const int nc = gpu ? (int)(sizeof gcases / sizeof gcases[0]) : (int)(sizeof cases / sizeof cases[0]);
  static const int Ps[] = {1, 2, 3, 4};
  for (int ci = 0; ci < nc; ++ci) {
    const bcase_t *c = gpu ? &gcases[ci] : &cases[ci];
    const double tol = c->dt == JFA_DTYPE_FLOAT64   ? 1e-12
                       : c->dt == JFA_DTYPE_BFLOAT16 ? 2e-2
                       : c->dt == JFA_DTYPE_FLOAT16  ? 4e-3
                       : gpu                         ? 2e-5
                                                     : 1e-5;
    for (int pi = 0; pi < 4; ++pi) {
      const int P = Ps[pi];
      if (P > ws) continue;
      /* one CPU rank without JFA_RING_GENERIC hands the call to jfa_attention_backward_jvp on the CPU,
         the reference itself: nothing to compare (test_ring_bwd_jvp_np1_generic runs P = 1 through
         the ring's own path) */
      if (P == 1 && !gpu && !getenv("JFA_RING_GENERIC")) continue;
      const int groups = ws / P;
      MPI_Comm g;
      MPI_Comm_split(MPI_COMM_WORLD, wr < groups * P ? wr / P : MPI_UNDEFINED, wr, &g);
      double e[NOUT];
      for (int i = 0; i < NOUT; ++i) e[i] = 0.0;
      int failed = 0;
      if (g != MPI_COMM_NULL) {
        rt_seed(seed + (uint64_t)ci); /* the same inputs on every rank and P */
        failed = run(c, g, ctx, cpu, e) != JFA_SUCCESS;
        MPI_Comm_free(&g);
      }
      int anyfail = 0;
      MPI_Allreduce(&failed, &anyfail, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
      /* worst over the groups: a NaN on any rank is reduced as a flag (MPI_MAX of doubles may keep another
         rank's 0 over it, e.g. the rank that sits a P = 3 out) */
      int nan_at[NOUT];
      for (int i = 0; i < NOUT; ++i) nan_at[i] = isnan(e[i]);
      MPI_Allreduce(MPI_IN_PLACE, nan_at, NOUT, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, e, NOUT, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      for (int i = 0; i < NOUT; ++i)
        if (nan_at[i]) e[i] = NAN;
      char name[256];
      snprintf(name, sizeof name, "case %d (%s %s%s B%lld Hq%lld Hkv%lld N%lld D%lld win %lld,%lld seqs %lld) P=%d runs",
               ci, jfa_dtype_name(c->dt), c->layout ? "zigzag" : "contiguous",
               c->causal ? " causal" : "", (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)c->N,
               (long long)c->D, (long long)c->wl, (long long)c->wr, (long long)c->nseq, P);
      tu_expect(name, !anyfail);
      for (int i = 0; i < NOUT; ++i) {
        if (i >= 3 && !c->first) continue;
        snprintf(name, sizeof name, "case %d P=%d %s vs single rank", ci, P, out_names[i]);
        tu_check(name, anyfail ? NAN : e[i], tol);
      }
    }
  }
  if (ctx != cpu) jfa_context_destroy(ctx);
  jfa_context_destroy(cpu);
  int code = tu_finish();
  MPI_Finalize();
  return code;
}
