/*
 * jfa_ring.c - the main job: ring attention (forward, JVP, backward) on a long
 * sequence split across MPI ranks, with timings, memory and a correctness check.
 *
 *   mpirun -np P jfa_ring [--device cpu|cuda] [--comm mpi|nccl] [--seq N] [--batch B]
 *          [--heads Hq] [--kv-heads Hkv] [--dim D] [--causal|--no-causal]
 *          [--layout contiguous|zigzag] [--dtype fp64|fp32|fp16|bf16] [--iters I]
 *          [--warmup W] [--samples S] [--seed X] [--window L R] [--varlen L1,L2,...]
 *          [--timer wall|events]
 *
 * Defaults: CUDA (bf16, NCCL when built and every rank has its own GPU, else the
 * MPI comm; N = 16384 per rank, Hq = Hkv = 16,
 * D = 128, causal zigzag) when a GPU is present, else CPU ranks (fp32, N = 256
 * per rank, Hq = 4, Hkv = 2, D = 64, causal zigzag).
 *
 * Inputs are a deterministic function of (tensor, batch, head, global position,
 * dim), so every rank makes its own shard and rank 0 can recompute any value.
 * Printed: median time per call (the slowest rank per iteration) and per ring
 * step (call / P), TFLOP/s per
 * rank (fwd = 4 B Hq N^2 D, halved when causal; JVP = 3x, bwd = 2.5x; divided by
 * P), memory per rank (the ring's buffers, the caller's tensors, and device
 * memory in use or host max RSS), and the check: rank 0 recomputes in float64
 * O, lse, Od, mu, dQ for sampled query rows and dK, dV for sampled key rows
 * (these with the ring's lse and Delta of all rows, each itself checked on the
 * samples) and prints relative errors against the tolerance of the dtype.
 * At P = 1 it also times the single-device API on the same problem (ring overhead).
 * Timer: wall (default; MPI_Wtime around the call, which returns synchronised) or
 * events (CUDA events on the context's stream: recorded before the call and after
 * it returns, so host time before the first launch is left out; CUDA only).
 * Either way: --warmup calls first, then the median of --iters.
 * Exit status 0 when the check passes, 1 when it fails, 2 on an error.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <mpi.h>
#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "jfa.h"
#include "jfa_ring.h"

static int g_rank = 0, g_size = 1;

#define TRY(call)                                                                               \
  do {                                                                                          \
    jfa_status_t s_ = (call);                                                                   \
    if (s_ != JFA_SUCCESS) {                                                                    \
      fprintf(stderr, "rank %d: %s failed: %s\n  %s\n", g_rank, #call, jfa_status_string(s_),    \
              jfa_get_last_error());                                                            \
      MPI_Abort(MPI_COMM_WORLD, 2);                                                             \
    }                                                                                           \
  } while (0)

/* ---- options ---- */
typedef struct {
  jfa_device_t device;
  int nccl;
  int64_t B, Hq, Hkv, N, D;
  int causal;
  jfa_layout_t layout;
  jfa_dtype_t dtype;
  int iters, warmup, samples;
  int events; /* --timer events: CUDA events instead of MPI_Wtime */
  uint64_t seed;
  int64_t window_left, window_right; /* --window (global positions), -1 = unbounded side */
  int64_t nseq;                      /* --varlen: packed sequences (0: none; batch 1) */
  int64_t *cu;                       /* --varlen: nseq + 1 offsets */
} opts_t;

/* --varlen L1,L2,...: lengths >= 0 into offsets (*cu, n + 1 values); returns n, 0 if malformed. */
static int64_t parse_varlen(const char *s, int64_t **cu) {
  int64_t n = 1;
  for (const char *c = s; *c; ++c) n += *c == ',';
  *cu = (int64_t *)malloc((size_t)(n + 1) * sizeof(int64_t));
  if (!*cu) return 0;
  (*cu)[0] = 0;
  const char *c = s;
  for (int64_t i = 0; i < n; ++i) {
    char *end = NULL;
    long long v = strtoll(c, &end, 10);
    if (end == c || v < 0 || (*end != ',' && *end != '\0')) return 0;
    (*cu)[i + 1] = (*cu)[i] + (int64_t)v;
    c = end + 1;
  }
  return n;
}

/* Whether global query row i sees global key row j (causal, window, same packed sequence). */
static int visible(const opts_t *o, int64_t i, int64_t j) {
  if (o->causal && j > i) return 0;
  if (o->window_left >= 0 && j < i - o->window_left) return 0;
  if (o->window_right >= 0 && j > i + o->window_right) return 0;
  if (o->nseq > 0) {
    int64_t s = 0;
    while (o->cu[s + 1] <= i) ++s; /* the sequence of row i */
    if (j < o->cu[s] || j >= o->cu[s + 1]) return 0;
  }
  return 1;
}

static void usage(void) {
  if (g_rank == 0)
    printf("usage: mpirun -np P jfa_ring [--device cpu|cuda] [--comm mpi|nccl] [--seq N] [--batch B]\n"
           "  [--heads Hq] [--kv-heads Hkv] [--dim D] [--causal|--no-causal] [--layout contiguous|zigzag]\n"
           "  [--dtype fp64|fp32|fp16|bf16] [--iters I] [--warmup W] [--samples S] [--seed X]\n"
           "  [--window L R] [--varlen L1,L2,...]   (global positions; --varlen: batch 1, N = the sum)\n"
           "  [--timer wall|events]   (events: CUDA events on the context's stream)\n");
}

static int parse(int argc, char **argv, opts_t *o) {
  int have_gpu = jfa_cuda_available(NULL);
  int dev_set = 0, comm_set = 0, seq_set = 0, heads_set = 0, kv_set = 0, dim_set = 0, dt_set = 0;
  memset(o, 0, sizeof(*o));
  o->B = 1;
  o->causal = 1;
  o->layout = JFA_LAYOUT_ZIGZAG;
  o->iters = -1;
  o->warmup = 1;
  o->samples = 8;
  o->seed = 12345;
  o->window_left = o->window_right = JFA_WINDOW_UNBOUNDED;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV() do { if (!v) { usage(); return 0; } ++i; } while (0)
    if (!strcmp(a, "--device")) { NEEDV(); o->device = !strcmp(v, "cuda") ? JFA_DEVICE_CUDA : JFA_DEVICE_CPU; dev_set = 1;
      if (strcmp(v, "cuda") && strcmp(v, "cpu")) { usage(); return 0; } }
    else if (!strcmp(a, "--comm")) { NEEDV(); o->nccl = !strcmp(v, "nccl"); comm_set = 1;
      if (strcmp(v, "nccl") && strcmp(v, "mpi")) { usage(); return 0; } }
    else if (!strcmp(a, "--seq")) { NEEDV(); o->N = atoll(v); seq_set = 1; }
    else if (!strcmp(a, "--batch")) { NEEDV(); o->B = atoll(v); }
    else if (!strcmp(a, "--heads")) { NEEDV(); o->Hq = atoll(v); heads_set = 1; }
    else if (!strcmp(a, "--kv-heads")) { NEEDV(); o->Hkv = atoll(v); kv_set = 1; }
    else if (!strcmp(a, "--dim")) { NEEDV(); o->D = atoll(v); dim_set = 1; }
    else if (!strcmp(a, "--causal")) o->causal = 1;
    else if (!strcmp(a, "--no-causal")) o->causal = 0;
    else if (!strcmp(a, "--layout")) { NEEDV(); if (!strcmp(v, "zigzag")) o->layout = JFA_LAYOUT_ZIGZAG;
      else if (!strcmp(v, "contiguous")) o->layout = JFA_LAYOUT_CONTIGUOUS; else { usage(); return 0; } }
    else if (!strcmp(a, "--dtype")) { NEEDV(); dt_set = 1;
      if (!strcmp(v, "fp64")) o->dtype = JFA_DTYPE_FLOAT64; else if (!strcmp(v, "fp32")) o->dtype = JFA_DTYPE_FLOAT32;
      else if (!strcmp(v, "fp16")) o->dtype = JFA_DTYPE_FLOAT16; else if (!strcmp(v, "bf16")) o->dtype = JFA_DTYPE_BFLOAT16;
      else { usage(); return 0; } }
    else if (!strcmp(a, "--iters")) { NEEDV(); o->iters = atoi(v); }
    else if (!strcmp(a, "--warmup")) { NEEDV(); o->warmup = atoi(v); }
    else if (!strcmp(a, "--samples")) { NEEDV(); o->samples = atoi(v); }
    else if (!strcmp(a, "--seed")) { NEEDV(); o->seed = strtoull(v, NULL, 0); }
    else if (!strcmp(a, "--timer")) { NEEDV(); o->events = !strcmp(v, "events");
      if (strcmp(v, "events") && strcmp(v, "wall")) { usage(); return 0; } }
    else if (!strcmp(a, "--window")) { NEEDV(); if (i + 1 >= argc) { usage(); return 0; }
      o->window_left = atoll(v); o->window_right = atoll(argv[++i]);
      if (o->window_left < -1 || o->window_right < -1) { usage(); return 0; } }
    else if (!strcmp(a, "--varlen")) { NEEDV(); free(o->cu); o->nseq = parse_varlen(v, &o->cu);
      if (o->nseq == 0) { usage(); return 0; } }
    else { usage(); return 0; }
#undef NEEDV
  }
  if (!dev_set) o->device = have_gpu ? JFA_DEVICE_CUDA : JFA_DEVICE_CPU;
  int gpu = o->device == JFA_DEVICE_CUDA;
#ifdef JFA_HAVE_NCCL
  if (!comm_set) { /* NCCL needs one GPU per rank: more ranks on a node than GPUs use MPI */
    int count = 0, local_size = 1;
    jfa_cuda_available(&count);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
    int ok = gpu && local_size <= count, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    o->nccl = all;
  }
#else
  if (!comm_set) o->nccl = 0;
#endif
  if (!seq_set) o->N = o->nseq > 0 ? o->cu[o->nseq] : (gpu ? 16384 : 256) * (int64_t)g_size;
  if (o->nseq > 0 && (o->cu[o->nseq] != o->N || o->B != 1)) {
    if (g_rank == 0) fprintf(stderr, "jfa_ring: --varlen needs --batch 1 and lengths summing to N\n");
    usage();
    return 0;
  }
  if (!heads_set) o->Hq = gpu ? 16 : 4;
  if (!kv_set) o->Hkv = heads_set ? o->Hq : (gpu ? 16 : 2);
  if (!dim_set) o->D = gpu ? 128 : 64;
  if (!dt_set) o->dtype = gpu ? JFA_DTYPE_BFLOAT16 : JFA_DTYPE_FLOAT32;
  if (o->iters < 0) o->iters = gpu ? 20 : 3;
  if (o->iters < 1 || o->samples < 1 || o->warmup < 0) { usage(); return 0; }
#ifndef JFA_HAVE_CUDA
  if (o->events) { if (g_rank == 0) printf("jfa_ring: --timer events needs a CUDA build\n"); return 0; }
#endif
  if (o->events && !gpu) { if (g_rank == 0) printf("jfa_ring: --timer events needs --device cuda\n"); return 0; }
  return 1;
}

/* ---- deterministic inputs ---- */
enum { T_Q, T_K, T_V, T_QD, T_KD, T_VD, T_DO };

static uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
static uint64_t g_seed;
/* Uniform with unit variance on [-sqrt 3, sqrt 3], rounded to the dtype. */
static double rawval(int t, int64_t b, int64_t h, int64_t pos, int64_t d) {
  uint64_t k = g_seed * 0x9E3779B97F4A7C15ull;
  k = mix(k ^ (uint64_t)t);
  k = mix(k ^ (uint64_t)b);
  k = mix(k ^ (uint64_t)h);
  k = mix(k ^ (uint64_t)pos);
  k = mix(k ^ (uint64_t)d);
  return ((double)(k >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0) * 1.7320508075688772;
}

/* one element of a dtype's storage <-> double (the library's conversion) */
static void store(void *p, size_t i, jfa_dtype_t dt, double x) {
  jfa_convert_host(&x, JFA_DTYPE_FLOAT64, (char *)p + i * jfa_dtype_size(dt), dt, 1);
}
static double load(const void *p, size_t i, jfa_dtype_t dt) {
  double x = NAN;
  jfa_convert_host((const char *)p + i * jfa_dtype_size(dt), dt, &x, JFA_DTYPE_FLOAT64, 1);
  return x;
}
static jfa_dtype_t g_dt;
static double val(int t, int64_t b, int64_t h, int64_t pos, int64_t d) {
  char buf[8];
  store(buf, 0, g_dt, rawval(t, b, h, pos, d));
  return load(buf, 0, g_dt);
}

/* ---- buffers on the device ---- */
static size_t g_dev_bytes = 0; /* caller's tensors */
static void *dalloc(jfa_device_t dev, size_t bytes) {
  g_dev_bytes += bytes;
  if (dev == JFA_DEVICE_CPU) {
    void *p = malloc(bytes);
    if (!p) { fprintf(stderr, "rank %d: out of host memory\n", g_rank); MPI_Abort(MPI_COMM_WORLD, 2); }
    return p;
  }
#ifdef JFA_HAVE_CUDA
  void *p = NULL;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    fprintf(stderr, "rank %d: cudaMalloc(%zu) failed\n", g_rank, bytes);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  return p;
#else
  return NULL;
#endif
}
static void dfree(jfa_device_t dev, void *p) {
  if (dev == JFA_DEVICE_CPU) free(p);
#ifdef JFA_HAVE_CUDA
  else cudaFree(p);
#endif
}
static void d2h(jfa_device_t dev, void *dst, const void *src, size_t bytes) {
  if (dev == JFA_DEVICE_CPU) memcpy(dst, src, bytes);
#ifdef JFA_HAVE_CUDA
  else cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
#endif
}
static void h2d(jfa_device_t dev, void *dst, const void *src, size_t bytes) {
  if (dev == JFA_DEVICE_CPU) memcpy(dst, src, bytes);
#ifdef JFA_HAVE_CUDA
  else cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
#endif
}

/* global position of local row l */
static const opts_t *g_o;
static int64_t g_n, g_chunk;
static int64_t global_pos(int rank, int64_t l) {
  int64_t pos, rows;
  int c = (int)(l / g_chunk);
  jfa_layout_chunk(g_o->layout, g_o->N, rank, g_size, c, &pos, &rows);
  return pos + l % g_chunk;
}
/* the local row holding global position pos, or -1 */
static int64_t local_row(int rank, int64_t pos) {
  for (int64_t l = 0; l < g_n; l += g_chunk)
    if (global_pos(rank, l) <= pos && pos < global_pos(rank, l) + g_chunk) return l + pos - global_pos(rank, l);
  return -1;
}

/* A local (B, H, n, D) tensor filled with input t (t < 0: left uninitialised). */
static jfa_tensor_t make_local(const opts_t *o, int t, int64_t H, int64_t D, jfa_dtype_t dt) {
  size_t cnt = (size_t)(o->B * H * g_n * D), bytes = cnt * jfa_dtype_size(dt);
  void *d = dalloc(o->device, bytes);
  if (t >= 0) {
    void *h = malloc(bytes);
    for (int64_t b = 0; b < o->B; ++b)
      for (int64_t hh = 0; hh < H; ++hh)
        for (int64_t l = 0; l < g_n; ++l) {
          int64_t pos = global_pos(g_rank, l);
          for (int64_t x = 0; x < D; ++x)
            store(h, (size_t)(((b * H + hh) * g_n + l) * D + x), dt, rawval(t, b, hh, pos, x));
        }
    h2d(o->device, d, h, bytes);
    free(h);
  }
  return jfa_tensor_bhsd(d, dt, o->device, o->B, H, g_n, D);
}

/* Reads element (b, h, l, x) of a contiguous host copy. */
static double at(const void *h, const jfa_tensor_t *t, int64_t b, int64_t hh, int64_t l, int64_t x) {
  return load(h, (size_t)(((b * t->shape[1] + hh) * t->shape[2] + l) * t->shape[3] + x), t->dtype);
}
static void *host_copy(const jfa_tensor_t *t) {
  size_t bytes = (size_t)jfa_tensor_numel(t) * jfa_dtype_size(t->dtype);
  void *h = malloc(bytes);
  d2h(t->device, h, t->data, bytes);
  return h;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* ---- timing ---- */
typedef enum { OP_FWD, OP_JVP, OP_BWD } op_t;
typedef struct {
  jfa_ring_t *ring;
  jfa_tensor_t *t; /* q k v qd kd vd do o lse od mu dq dk dv */
} job_t;
enum { X_Q, X_K, X_V, X_QD, X_KD, X_VD, X_DO, X_O, X_LSE, X_OD, X_MU, X_DQ, X_DK, X_DV, X_N };

static void run_op(job_t *j, op_t op) {
  jfa_tensor_t *t = j->t;
  if (op == OP_FWD) TRY(jfa_ring_forward(j->ring, &t[X_Q], &t[X_K], &t[X_V], &t[X_O], &t[X_LSE]));
  if (op == OP_JVP)
    TRY(jfa_ring_forward_jvp(j->ring, &t[X_Q], &t[X_K], &t[X_V], &t[X_QD], &t[X_KD], &t[X_VD], &t[X_O],
                             &t[X_LSE], &t[X_OD], &t[X_MU]));
  if (op == OP_BWD)
    TRY(jfa_ring_backward(j->ring, &t[X_Q], &t[X_K], &t[X_V], &t[X_O], &t[X_LSE], &t[X_DO], &t[X_DQ],
                          &t[X_DK], &t[X_DV]));
}

static void run_direct(jfa_context_t *ctx, const jfa_attention_params_t *prm, jfa_tensor_t *t, op_t op) {
  if (op == OP_FWD) TRY(jfa_attention_forward(ctx, prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_O], &t[X_LSE]));
  if (op == OP_JVP)
    TRY(jfa_attention_forward_jvp(ctx, prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_QD], &t[X_KD], &t[X_VD], &t[X_O],
                                  &t[X_LSE], &t[X_OD], &t[X_MU]));
  if (op == OP_BWD)
    TRY(jfa_attention_backward(ctx, prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_O], &t[X_LSE], &t[X_DO], &t[X_DQ],
                               &t[X_DK], &t[X_DV]));
  TRY(jfa_context_synchronize(ctx));
}

/* Median over iterations of the slowest rank's time (seconds). */
static double time_op(const opts_t *o, job_t *j, jfa_context_t *ctx, const jfa_attention_params_t *prm,
                      op_t op, int direct) {
  double *ts = (double *)malloc((size_t)o->iters * sizeof(double));
#ifdef JFA_HAVE_CUDA
  cudaEvent_t ev[2] = {NULL, NULL};
  cudaStream_t stream = NULL;
  if (o->events) {
    void *sp = NULL;
    TRY(jfa_context_get_stream(ctx, &sp));
    stream = (cudaStream_t)sp;
    if (cudaEventCreate(&ev[0]) != cudaSuccess || cudaEventCreate(&ev[1]) != cudaSuccess) {
      fprintf(stderr, "rank %d: cudaEventCreate failed\n", g_rank);
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
  }
#endif
  for (int it = -o->warmup; it < o->iters; ++it) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
#ifdef JFA_HAVE_CUDA
    if (o->events) cudaEventRecord(ev[0], stream);
#endif
    if (direct)
      run_direct(ctx, prm, j->t, op);
    else
      run_op(j, op);
    double dt = MPI_Wtime() - t0, mx = 0;
#ifdef JFA_HAVE_CUDA
    if (o->events) {
      float ms = 0.0f;
      cudaEventRecord(ev[1], stream);
      if (cudaEventSynchronize(ev[1]) != cudaSuccess || cudaEventElapsedTime(&ms, ev[0], ev[1]) != cudaSuccess) {
        fprintf(stderr, "rank %d: CUDA event timing failed\n", g_rank);
        MPI_Abort(MPI_COMM_WORLD, 2);
      }
      dt = ms * 1e-3;
    }
#endif
    MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    if (it >= 0) ts[it] = mx;
  }
#ifdef JFA_HAVE_CUDA
  if (o->events) {
    cudaEventDestroy(ev[0]);
    cudaEventDestroy(ev[1]);
  }
#endif
  qsort(ts, (size_t)o->iters, sizeof(double), cmp_double);
  double med = o->iters % 2 ? ts[o->iters / 2] : 0.5 * (ts[o->iters / 2 - 1] + ts[o->iters / 2]);
  free(ts);
  return med;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  opts_t o;
  if (!parse(argc, argv, &o)) {
    MPI_Finalize();
    return 2;
  }
  g_o = &o;
  g_seed = o.seed;
  g_dt = o.dtype;

  /* context and communicator */
  MPI_Comm world = MPI_COMM_WORLD;
  jfa_comm_t *comm = NULL;
  int dev = 0;
  if (o.device == JFA_DEVICE_CUDA) {
    int count = 0;
    if (!jfa_cuda_available(&count)) {
      if (g_rank == 0) fprintf(stderr, "jfa_ring: --device cuda but no GPU (or a build without CUDA)\n");
      MPI_Finalize();
      return 2;
    }
    if (o.nccl) {
      TRY(jfa_comm_create_nccl_from_mpi(&comm, &world, &dev));
    } else {
      MPI_Comm node;
      int local = 0;
      MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
      MPI_Comm_rank(node, &local);
      MPI_Comm_free(&node);
      dev = local % count;
      TRY(jfa_comm_create_mpi(&comm, &world));
    }
  } else {
    if (o.nccl) {
      if (g_rank == 0) fprintf(stderr, "jfa_ring: --comm nccl needs --device cuda\n");
      MPI_Finalize();
      return 2;
    }
    TRY(jfa_comm_create_mpi(&comm, &world));
  }
  jfa_context_t *ctx = NULL;
  TRY(jfa_context_create(&ctx, o.device, dev));
#ifdef JFA_HAVE_CUDA
  size_t free0 = 0, total0 = 0;
  if (o.device == JFA_DEVICE_CUDA) {
    cudaSetDevice(dev);
    cudaMemGetInfo(&free0, &total0);
  }
#endif

  jfa_ring_config_t cfg;
  jfa_ring_config_init(&cfg);
  cfg.batch = o.B;
  cfg.heads_q = o.Hq;
  cfg.heads_kv = o.Hkv;
  cfg.seq_global = o.N;
  cfg.head_dim = o.D;
  cfg.dtype = o.dtype;
  cfg.layout = o.layout;
  cfg.mask = o.causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  cfg.window_left = o.window_left;
  cfg.window_right = o.window_right;
  cfg.cu_seqlens = o.cu;
  cfg.num_seqs = o.nseq;
  jfa_ring_t *ring = NULL;
  TRY(jfa_ring_create(&ring, ctx, comm, &cfg));
  g_n = o.N / g_size;
  g_chunk = o.layout == JFA_LAYOUT_ZIGZAG ? g_n / 2 : g_n;

  static const char *dtn[4] = {"fp64", "fp32", "fp16", "bf16"};
  if (g_rank == 0) {
    printf("jfa_ring: P=%d device=%s comm=%s dtype=%s B=%lld Hq=%lld Hkv=%lld N=%lld (%lld per rank) D=%lld %s %s\n",
           g_size, o.device == JFA_DEVICE_CUDA ? "cuda" : "cpu", o.nccl ? "nccl" : "mpi", dtn[o.dtype],
           (long long)o.B, (long long)o.Hq, (long long)o.Hkv, (long long)o.N, (long long)g_n, (long long)o.D,
           o.causal ? "causal" : "full", o.layout == JFA_LAYOUT_ZIGZAG ? "zigzag" : "contiguous");
    if (o.window_left >= 0 || o.window_right >= 0)
      printf("  window: left %lld, right %lld (global positions)\n", (long long)o.window_left,
             (long long)o.window_right);
    if (o.nseq > 0) printf("  packed sequences: %lld\n", (long long)o.nseq);
    fflush(stdout);
  }

  jfa_dtype_t sdt = o.dtype == JFA_DTYPE_FLOAT64 ? JFA_DTYPE_FLOAT64 : JFA_DTYPE_FLOAT32;
  jfa_tensor_t t[X_N];
  t[X_Q] = make_local(&o, T_Q, o.Hq, o.D, o.dtype);
  t[X_K] = make_local(&o, T_K, o.Hkv, o.D, o.dtype);
  t[X_V] = make_local(&o, T_V, o.Hkv, o.D, o.dtype);
  t[X_QD] = make_local(&o, T_QD, o.Hq, o.D, o.dtype);
  t[X_KD] = make_local(&o, T_KD, o.Hkv, o.D, o.dtype);
  t[X_VD] = make_local(&o, T_VD, o.Hkv, o.D, o.dtype);
  t[X_DO] = make_local(&o, T_DO, o.Hq, o.D, o.dtype);
  t[X_O] = make_local(&o, -1, o.Hq, o.D, o.dtype);
  t[X_LSE] = make_local(&o, -1, o.Hq, 1, sdt);
  t[X_OD] = make_local(&o, -1, o.Hq, o.D, o.dtype);
  t[X_MU] = make_local(&o, -1, o.Hq, 1, sdt);
  t[X_DQ] = make_local(&o, -1, o.Hq, o.D, o.dtype);
  t[X_DK] = make_local(&o, -1, o.Hkv, o.D, o.dtype);
  t[X_DV] = make_local(&o, -1, o.Hkv, o.D, o.dtype);
  job_t job = {ring, t};

  /* timings */
  double fwd_flop = 4.0 * (double)o.B * (double)o.Hq * (double)o.N * (double)o.N * (double)o.D;
  if (o.causal) fwd_flop *= 0.5;
  if (o.nseq > 0 || o.window_left >= 0 || o.window_right >= 0) { /* count the visible pairs */
    double pairs = 0.0;
    for (int64_t i = 0; i < o.N; ++i) {
      int64_t lo = o.window_left >= 0 ? i - o.window_left : 0, hi = o.window_right >= 0 ? i + o.window_right : o.N - 1;
      if (o.causal && hi > i) hi = i;
      for (int64_t j = lo < 0 ? 0 : lo; j <= hi && j < o.N; ++j) pairs += visible(&o, i, j);
    }
    fwd_flop = 4.0 * (double)o.B * (double)o.Hq * pairs * (double)o.D;
  }
  const double mult[3] = {1.0, 3.0, 2.5};
  const char *names[3] = {"forward", "forward+JVP", "backward"};
  double tm[3];
  for (int op = 0; op < 3; ++op) {
    tm[op] = time_op(&o, &job, ctx, NULL, (op_t)op, 0);
    if (g_rank == 0) {
      printf("  %-12s %10.3f ms  (%.3f ms per ring step)  %8.3f TFLOP/s per rank  (median of %d, slowest rank, %s)\n",
             names[op], tm[op] * 1e3, tm[op] * 1e3 / g_size, mult[op] * fwd_flop / g_size / tm[op] * 1e-12, o.iters,
             o.events ? "CUDA events" : "wall");
      fflush(stdout);
    }
  }
  /* final results for the check: JVP then backward (the backward uses the JVP's o and lse) */
  run_op(&job, OP_JVP);
  run_op(&job, OP_BWD);

  /* memory */
  size_t ring_bytes = 0;
  TRY(jfa_ring_memory_bytes(ring, &ring_bytes));
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double used_dev = 0;
#ifdef JFA_HAVE_CUDA
  if (o.device == JFA_DEVICE_CUDA) {
    size_t f1 = 0, t1 = 0;
    cudaMemGetInfo(&f1, &t1);
    used_dev = (double)free0 - (double)f1;
  }
#endif
  double mem[4] = {(double)ring_bytes, (double)g_dev_bytes, used_dev, (double)ru.ru_maxrss * 1024.0}, memmax[4];
  MPI_Reduce(mem, memmax, 4, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (g_rank == 0) {
    printf("  memory per rank (max over ranks): ring buffers %.1f MiB, caller's tensors %.1f MiB",
           memmax[0] / 1048576.0, memmax[1] / 1048576.0);
    if (o.device == JFA_DEVICE_CUDA)
      printf(", device memory in use since start %.1f MiB (cudaMemGetInfo; includes other processes on the GPU)",
             memmax[2] / 1048576.0);
    printf(", host max RSS %.1f MiB\n", memmax[3] / 1048576.0);
  }

  /* ring overhead at P = 1: the single-device API on the same problem */
  if (g_size == 1) {
    jfa_attention_params_t prm;
    jfa_attention_params_init(&prm);
    prm.mask = cfg.mask;
    prm.window_left = o.window_left;
    prm.window_right = o.window_right;
    if (o.nseq > 0) prm.cu_seqlens_q = prm.cu_seqlens_k = o.cu, prm.num_seqs = o.nseq;
    /* zigzag at P = 1 is rows [0, N/2) then [N/2, N): the same order as contiguous */
    for (int op = 0; op < 3; ++op) {
      double td = time_op(&o, &job, ctx, &prm, (op_t)op, 1);
      printf("  %-12s direct %10.3f ms  ring/direct = %.3f (overhead %+.1f%%)\n", names[op], td * 1e3,
             tm[op] / td, (tm[op] / td - 1.0) * 100.0);
    }
    run_op(&job, OP_JVP);
    run_op(&job, OP_BWD);
  }

  /* ---- check against float64 on sampled rows ---- */
  int S = o.samples;
  int64_t *qs = (int64_t *)malloc(3 * (size_t)S * sizeof(int64_t)); /* b, h, global row */
  int64_t *ks = (int64_t *)malloc(3 * (size_t)S * sizeof(int64_t)); /* b, hkv, global row */
  uint64_t st = mix(o.seed + 77);
  for (int s = 0; s < S; ++s) {
    st = mix(st + 1);
    qs[3 * s] = (int64_t)(st % (uint64_t)o.B);
    qs[3 * s + 1] = (int64_t)((st >> 16) % (uint64_t)o.Hq);
    qs[3 * s + 2] = s == 0 ? 0 : s == 1 ? o.N - 1 : (int64_t)((st >> 24) % (uint64_t)o.N);
    st = mix(st + 1);
    ks[3 * s] = (int64_t)(st % (uint64_t)o.B);
    ks[3 * s + 1] = (int64_t)((st >> 16) % (uint64_t)o.Hkv);
    ks[3 * s + 2] = s == 0 ? 0 : s == 1 ? o.N - 1 : (int64_t)((st >> 24) % (uint64_t)o.N);
  }
  const int64_t D = o.D, Hq = o.Hq, N = o.N, g = o.Hq / o.Hkv;
  /* gather: per query sample O, Od, dQ (D each), lse, mu; per key sample dK, dV; all rows' lse, Delta */
  size_t qlen = (size_t)S * (3 * D + 2), klen = (size_t)S * 2 * D, rl = (size_t)(o.B * Hq * N);
  double *loc = (double *)calloc(qlen + klen + 2 * rl, sizeof(double));
  double *glob = g_rank == 0 ? (double *)calloc(qlen + klen + 2 * rl, sizeof(double)) : NULL;
  {
    void *ho = host_copy(&t[X_O]), *hl = host_copy(&t[X_LSE]), *hod = host_copy(&t[X_OD]);
    void *hmu = host_copy(&t[X_MU]), *hdq = host_copy(&t[X_DQ]), *hdk = host_copy(&t[X_DK]);
    void *hdv = host_copy(&t[X_DV]), *hdo = host_copy(&t[X_DO]);
    for (int s = 0; s < S; ++s) {
      int64_t l = local_row(g_rank, qs[3 * s + 2]), b = qs[3 * s], h = qs[3 * s + 1];
      if (l >= 0) {
        double *p = loc + (size_t)s * (3 * D + 2);
        for (int64_t x = 0; x < D; ++x) {
          p[x] = at(ho, &t[X_O], b, h, l, x);
          p[D + x] = at(hod, &t[X_OD], b, h, l, x);
          p[2 * D + x] = at(hdq, &t[X_DQ], b, h, l, x);
        }
        p[3 * D] = at(hl, &t[X_LSE], b, h, l, 0);
        p[3 * D + 1] = at(hmu, &t[X_MU], b, h, l, 0);
      }
      l = local_row(g_rank, ks[3 * s + 2]);
      b = ks[3 * s];
      h = ks[3 * s + 1];
      if (l >= 0) {
        double *p = loc + qlen + (size_t)s * 2 * D;
        for (int64_t x = 0; x < D; ++x) {
          p[x] = at(hdk, &t[X_DK], b, h, l, x);
          p[D + x] = at(hdv, &t[X_DV], b, h, l, x);
        }
      }
    }
    for (int64_t b = 0; b < o.B; ++b)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t l = 0; l < g_n; ++l) {
          size_t gi = (size_t)((b * Hq + h) * N + global_pos(g_rank, l));
          double dl = 0;
          for (int64_t x = 0; x < D; ++x) dl += at(hdo, &t[X_DO], b, h, l, x) * at(ho, &t[X_O], b, h, l, x);
          loc[qlen + klen + gi] = at(hl, &t[X_LSE], b, h, l, 0);
          loc[qlen + klen + rl + gi] = dl;
        }
    free(ho); free(hl); free(hod); free(hmu); free(hdq); free(hdk); free(hdv); free(hdo);
  }
  MPI_Reduce(loc, glob, (int)(qlen + klen + 2 * rl), MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);

  int pass = 1;
  if (g_rank == 0) {
    double scale = 1.0 / sqrt((double)D);
    /* sums of squared errors and references: O, lse, Od, mu, dQ, dK, dV */
    double se[7] = {0}, sr[7] = {0};
    double *qv = (double *)malloc((size_t)D * sizeof(double)), *qdv = (double *)malloc((size_t)D * sizeof(double));
    double *dov = (double *)malloc((size_t)D * sizeof(double)), *acc = (double *)malloc(4 * (size_t)D * sizeof(double));
    double *sc = (double *)malloc((size_t)N * sizeof(double)), *scd = (double *)malloc((size_t)N * sizeof(double));
    for (int s = 0; s < S; ++s) {
      int64_t b = qs[3 * s], h = qs[3 * s + 1], i = qs[3 * s + 2], hk = h / g;
      int64_t jend = o.causal ? i + 1 : N;
      for (int64_t x = 0; x < D; ++x) {
        qv[x] = val(T_Q, b, h, i, x);
        qdv[x] = val(T_QD, b, h, i, x);
        dov[x] = val(T_DO, b, h, i, x);
      }
      double mx = -INFINITY;
      for (int64_t j = 0; j < jend; ++j) {
        sc[j] = scd[j] = 0.0;
        if (!visible(&o, i, j)) continue; /* p = 0 below */
        double a = 0, ad = 0;
        for (int64_t x = 0; x < D; ++x) {
          double kx = val(T_K, b, hk, j, x);
          a += qv[x] * kx;
          ad += qdv[x] * kx + qv[x] * val(T_KD, b, hk, j, x);
        }
        sc[j] = a * scale;
        scd[j] = ad * scale;
        if (sc[j] > mx) mx = sc[j];
      }
      double z = 0, mu = 0;
      for (int64_t j = 0; j < jend; ++j) z += visible(&o, i, j) ? exp(sc[j] - mx) : 0.0;
      double lse = mx + log(z);
      memset(acc, 0, 4 * (size_t)D * sizeof(double)); /* O, sum P Sd V, sum P Vd, dQ */
      for (int64_t j = 0; j < jend; ++j) {
        double p = visible(&o, i, j) ? exp(sc[j] - lse) : 0.0;
        mu += p * scd[j];
        for (int64_t x = 0; x < D; ++x) {
          double vx = val(T_V, b, hk, j, x);
          acc[x] += p * vx;
          acc[D + x] += p * scd[j] * vx;
          acc[2 * D + x] += p * val(T_VD, b, hk, j, x);
        }
      }
      double delta = 0;
      for (int64_t x = 0; x < D; ++x) delta += dov[x] * acc[x];
      for (int64_t j = 0; j < jend; ++j) {
        if (!visible(&o, i, j)) continue;
        double p = exp(sc[j] - lse), dp = 0;
        for (int64_t x = 0; x < D; ++x) dp += dov[x] * val(T_V, b, hk, j, x);
        double ds = p * (dp - delta);
        for (int64_t x = 0; x < D; ++x) acc[3 * D + x] += scale * ds * val(T_K, b, hk, j, x);
      }
      const double *r = glob + (size_t)s * (3 * D + 2);
      for (int64_t x = 0; x < D; ++x) {
        double od = acc[D + x] - mu * acc[x] + acc[2 * D + x];
        se[0] += (r[x] - acc[x]) * (r[x] - acc[x]);
        sr[0] += acc[x] * acc[x];
        se[2] += (r[D + x] - od) * (r[D + x] - od);
        sr[2] += od * od;
        se[4] += (r[2 * D + x] - acc[3 * D + x]) * (r[2 * D + x] - acc[3 * D + x]);
        sr[4] += acc[3 * D + x] * acc[3 * D + x];
      }
      se[1] += (r[3 * D] - lse) * (r[3 * D] - lse);
      sr[1] += lse * lse;
      se[3] += (r[3 * D + 1] - mu) * (r[3 * D + 1] - mu);
      sr[3] += mu * mu;
    }
    /* dK, dV of sampled key rows from the ring's lse and Delta of all query rows */
    const double *glse = glob + qlen + klen, *gdel = glob + qlen + klen + rl;
    for (int s = 0; s < S; ++s) {
      int64_t b = ks[3 * s], hk = ks[3 * s + 1], j = ks[3 * s + 2];
      double *kv = acc, *vv = acc + D, *dk = acc + 2 * D, *dv = acc + 3 * D;
      for (int64_t x = 0; x < D; ++x) {
        kv[x] = val(T_K, b, hk, j, x);
        vv[x] = val(T_V, b, hk, j, x);
        dk[x] = dv[x] = 0;
      }
      for (int64_t h = hk * g; h < (hk + 1) * g; ++h)
        for (int64_t i = o.causal ? j : 0; i < N; ++i) {
          if (!visible(&o, i, j)) continue;
          double a = 0, dp = 0;
          for (int64_t x = 0; x < D; ++x) {
            qv[x] = val(T_Q, b, h, i, x);
            dov[x] = val(T_DO, b, h, i, x);
            a += qv[x] * kv[x];
            dp += dov[x] * vv[x];
          }
          size_t gi = (size_t)((b * Hq + h) * N + i);
          double p = exp(a * scale - glse[gi]), ds = p * (dp - gdel[gi]);
          for (int64_t x = 0; x < D; ++x) {
            dk[x] += scale * ds * qv[x];
            dv[x] += p * dov[x];
          }
        }
      const double *r = glob + qlen + (size_t)s * 2 * D;
      for (int64_t x = 0; x < D; ++x) {
        se[5] += (r[x] - dk[x]) * (r[x] - dk[x]);
        sr[5] += dk[x] * dk[x];
        se[6] += (r[D + x] - dv[x]) * (r[D + x] - dv[x]);
        sr[6] += dv[x] * dv[x];
      }
    }
    double tol = o.dtype == JFA_DTYPE_FLOAT64 ? 1e-10
                 : o.dtype == JFA_DTYPE_FLOAT32 ? (o.device == JFA_DEVICE_CPU ? 1e-6 : 1e-4)
                                                : 2e-2;
    const char *on[7] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV"};
    printf("  check vs float64 on %d sampled query rows and %d key rows (tolerance %.0e):\n", S, S, tol);
    for (int i = 0; i < 7; ++i) {
      double e = sr[i] > 0 ? sqrt(se[i] / sr[i]) : sqrt(se[i]);
      int ok = e <= tol; /* NaN fails */
      pass &= ok;
      printf("    %-4s rel err %.3e  %s\n", on[i], e, ok ? "ok" : "FAIL");
    }
    printf("jfa_ring: %s\n", pass ? "PASSED" : "FAILED");
    free(qv); free(qdv); free(dov); free(acc); free(sc); free(scd);
  }
  MPI_Bcast(&pass, 1, MPI_INT, 0, MPI_COMM_WORLD);

  free(loc);
  free(glob);
  free(qs);
  free(ks);
  for (int i = 0; i < X_N; ++i) dfree(o.device, t[i].data);
  free(o.cu);
  jfa_ring_destroy(ring);
  jfa_comm_destroy(comm);
  jfa_context_destroy(ctx);
  MPI_Finalize();
  return pass ? 0 : 1;
}
