/*
 * jfa_ring.c - the main job: ring attention (forward, JVP, backward) on a long
 * sequence split across MPI ranks, with timings, memory and a float64 check.
 *
 *   mpirun -np P jfa_ring [--comm mpi|nccl] [--layout contiguous|zigzag] [--timer wall|events]
 *          [common options of apps/common: --device --dtype --seq --batch --heads --kv-heads --dim
 *           --causal|--no-causal --window L R --varlen ... --iters --warmup --budget --check
 *           --samples --seed --threads --quiet]
 *
 * Defaults: CUDA (bf16, NCCL when built and every rank has its own GPU, else the
 * MPI comm; N = 16384 per rank, Hq = Hkv = 16, D = 128, causal zigzag) when a GPU
 * is present, else CPU ranks (fp32, N = 256 per rank, Hq = 4, Hkv = 2, D = 64,
 * causal zigzag).
 *
 * Inputs are a deterministic function of (tensor, batch, head, global position,
 * dim) (apps/common), made where they live: a kernel on the GPU, threads on the
 * CPU; rank 0 recomputes any of them for the check. Printed: progress with elapsed
 * time (rank 0; --quiet drops it), the median time per call (the slowest rank per
 * iteration; fewer iterations when a call is long, see --budget) and per ring step
 * (call / P), the rate per rank (fwd = 4 B Hq N^2 D, halved when causal; JVP = 3x,
 * bwd = 2.5x; divided by P), memory per rank, and the check: rank 0 recomputes in
 * float64 (a naive reference, apps/common/app_check.c) O, lse, Od, mu, dQ of query
 * rows, dK, dV of key rows and the plain forward's own O and lse, every row when the
 * problem is small (--check auto), else sampled rows (every rank's chunk edges among
 * them; key rows with the ring's lse and Delta of their query rows), and prints the
 * relative errors and the check's time.
 * At P = 1 it then times the single-device API on the same problem (ring overhead)
 * when the calls are short. Timer: wall (MPI_Wtime around the call, which returns
 * synchronised) or events (CUDA events on the context's stream; CUDA only).
 * Exit status 0 when the check passes, 1 when it fails, 2 on an error (a check whose reference could not be
 * computed included), 77 when --device cuda
 * finds no GPU (skipped).
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

#include "app.h"
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

static void die(const char *what) {
  fprintf(stderr, "rank %d: %s\n", g_rank, what);
  MPI_Abort(MPI_COMM_WORLD, 2);
}

/* ---- options: the common ones plus the ring's ---- */
typedef struct {
  app_opts_t c;
  int nccl;
  jfa_layout_t layout;
  int events; /* --timer events: CUDA events instead of MPI_Wtime */
} opts_t;

static void usage(void) {
  if (g_rank == 0)
    printf("usage: mpirun -np P jfa_ring [--comm mpi|nccl] [--layout contiguous|zigzag] [--timer wall|events]\n%s"
           "  (--seq is the global N; --window and --varlen in global positions)\n",
           app_common_usage());
}

static int parse(int argc, char **argv, opts_t *o) {
  int comm_set = 0;
  char err[256];
  app_opts_init(&o->c);
  o->nccl = 0;
  o->layout = JFA_LAYOUT_ZIGZAG;
  o->events = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(), -1;
    if (!strcmp(a, "--comm") && v && (!strcmp(v, "nccl") || !strcmp(v, "mpi"))) {
      o->nccl = !strcmp(v, "nccl"), comm_set = 1, ++i;
    } else if (!strcmp(a, "--layout") && v && (!strcmp(v, "zigzag") || !strcmp(v, "contiguous"))) {
      o->layout = !strcmp(v, "zigzag") ? JFA_LAYOUT_ZIGZAG : JFA_LAYOUT_CONTIGUOUS, ++i;
    } else if (!strcmp(a, "--timer") && v && (!strcmp(v, "events") || !strcmp(v, "wall"))) {
      o->events = !strcmp(v, "events"), ++i;
    } else {
      int r = app_parse_common(&o->c, argc, argv, &i, err, sizeof err);
      if (r <= 0) {
        if (g_rank == 0) {
          if (r < 0) fprintf(stderr, "jfa_ring: %s\n", err);
          else fprintf(stderr, "jfa_ring: unknown option or bad value: %s%s%s\n", a, v ? " " : "", v ? v : "");
        }
        usage();
        return 0;
      }
    }
  }
  app_opts_t *c = &o->c;
  if (!c->device_set) c->device = jfa_cuda_available(NULL) ? JFA_DEVICE_CUDA : JFA_DEVICE_CPU;
  const int gpu = c->device == JFA_DEVICE_CUDA;
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
  if (!c->N && !c->nseq) c->N = (gpu ? 16384 : 256) * (int64_t)g_size;
  if (!c->B) c->B = 1;
  if (!c->Hkv) c->Hkv = c->Hq ? c->Hq : (gpu ? 16 : 2);
  if (!c->Hq) c->Hq = gpu ? 16 : 4;
  if (!c->D) c->D = gpu ? 128 : 64;
  if (c->causal < 0) c->causal = 1;
  if (!c->dtype_set) c->dtype = gpu ? JFA_DTYPE_BFLOAT16 : JFA_DTYPE_FLOAT32;
  if (c->iters < 0) c->iters = gpu ? 20 : 3;
  if (app_opts_finish(c, err, sizeof err)) {
    if (g_rank == 0) fprintf(stderr, "jfa_ring: %s\n", err);
    return 0;
  }
#ifndef JFA_HAVE_CUDA
  if (o->events) {
    if (g_rank == 0) fprintf(stderr, "jfa_ring: --timer events needs a CUDA build\n");
    return 0;
  }
#endif
  if (o->events && !gpu) {
    if (g_rank == 0) fprintf(stderr, "jfa_ring: --timer events needs --device cuda\n");
    return 0;
  }
  return 1;
}

/* ---- buffers ---- */
static size_t g_dev_bytes = 0; /* caller's tensors */
static void *dalloc(jfa_device_t dev, size_t bytes) {
  g_dev_bytes += bytes;
  void *p = app_alloc(dev, bytes);
  if (!p) die("out of memory for the tensors");
  return p;
}

/* this rank's rows: local row l is at global position rows.pos0[l / chunk] + l % chunk */
static app_rows_t g_rows;
static int64_t g_n;
/* The rows of rank r (g_n of the N, in layout's chunks): what g_rows is for this rank. */
static app_rows_t rank_rows(jfa_layout_t layout, int64_t N, int r) {
  app_rows_t rw;
  rw.chunk = layout == JFA_LAYOUT_ZIGZAG ? g_n / 2 : g_n;
  for (int c = 0; c < 2; ++c) {
    int64_t rows = 0;
    rw.pos0[c] = 0;
    if (c * rw.chunk < g_n) TRY(jfa_layout_chunk(layout, N, r, g_size, c, &rw.pos0[c], &rows));
  }
  return rw;
}
static int64_t local_row(int64_t pos) {
  for (int c = 0; c * g_rows.chunk < g_n; ++c)
    if (g_rows.pos0[c] <= pos && pos < g_rows.pos0[c] + g_rows.chunk) return c * g_rows.chunk + pos - g_rows.pos0[c];
  return -1;
}

/* ---- timed calls ---- */
typedef enum { OP_FWD, OP_JVP, OP_BWD } op_t;
/* inputs, then outputs: the JVP's O, lse, Od, mu (which the backward takes), the backward's dQ, dK, dV, and the plain
   forward's own O and lse (X_OF, X_LSEF: each op's outputs are checked) */
enum { X_Q, X_K, X_V, X_QD, X_KD, X_VD, X_DO, X_O, X_LSE, X_OD, X_MU, X_DQ, X_DK, X_DV, X_OF, X_LSEF, X_N };
typedef struct {
  const opts_t *o;
  jfa_ring_t *ring;
  jfa_context_t *ctx;
  const jfa_attention_params_t *prm; /* non-NULL: the single-device API (P = 1) */
  jfa_tensor_t *t;
  op_t op;
} call_t;

static void run_op(const call_t *c) {
  jfa_tensor_t *t = c->t;
  if (c->prm) {
    if (c->op == OP_FWD) TRY(jfa_attention_forward(c->ctx, c->prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_OF], &t[X_LSEF]));
    if (c->op == OP_JVP)
      TRY(jfa_attention_forward_jvp(c->ctx, c->prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_QD], &t[X_KD], &t[X_VD],
                                    &t[X_O], &t[X_LSE], &t[X_OD], &t[X_MU]));
    if (c->op == OP_BWD)
      TRY(jfa_attention_backward(c->ctx, c->prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_O], &t[X_LSE], &t[X_DO], &t[X_DQ],
                                 &t[X_DK], &t[X_DV]));
    TRY(jfa_context_synchronize(c->ctx));
    return;
  }
  if (c->op == OP_FWD) TRY(jfa_ring_forward(c->ring, &t[X_Q], &t[X_K], &t[X_V], &t[X_OF], &t[X_LSEF]));
  if (c->op == OP_JVP)
    TRY(jfa_ring_forward_jvp(c->ring, &t[X_Q], &t[X_K], &t[X_V], &t[X_QD], &t[X_KD], &t[X_VD], &t[X_O], &t[X_LSE],
                             &t[X_OD], &t[X_MU]));
  if (c->op == OP_BWD)
    TRY(jfa_ring_backward(c->ring, &t[X_Q], &t[X_K], &t[X_V], &t[X_O], &t[X_LSE], &t[X_DO], &t[X_DQ], &t[X_DK],
                          &t[X_DV]));
}

/* One call, synchronised; the slowest rank's seconds (wall or CUDA events). */
static double timed_call(void *arg) {
  const call_t *c = (const call_t *)arg;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
#ifdef JFA_HAVE_CUDA
  cudaEvent_t ev[2] = {NULL, NULL};
  cudaStream_t stream = NULL;
  if (c->o->events) {
    void *sp = NULL;
    TRY(jfa_context_get_stream(c->ctx, &sp));
    stream = (cudaStream_t)sp;
    if (cudaEventCreate(&ev[0]) != cudaSuccess || cudaEventCreate(&ev[1]) != cudaSuccess) die("cudaEventCreate failed");
    cudaEventRecord(ev[0], stream);
  }
#endif
  run_op(c);
  double dt = MPI_Wtime() - t0, mx = 0;
#ifdef JFA_HAVE_CUDA
  if (c->o->events) {
    float ms = 0.0f;
    cudaEventRecord(ev[1], stream);
    if (cudaEventSynchronize(ev[1]) != cudaSuccess || cudaEventElapsedTime(&ms, ev[0], ev[1]) != cudaSuccess)
      die("CUDA event timing failed");
    dt = ms * 1e-3;
    cudaEventDestroy(ev[0]);
    cudaEventDestroy(ev[1]);
  }
#endif
  MPI_Allreduce(&dt, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return mx;
}

/* MPI_Reduce (sum to rank 0) of n doubles, in pieces that fit an int count. */
static void reduce_sum(const double *loc, double *glob, size_t n) {
  const size_t piece = (size_t)1 << 26;
  for (size_t o = 0; o < n; o += piece) {
    const int m = (int)(n - o < piece ? n - o : piece);
    MPI_Reduce(loc + o, g_rank == 0 ? glob + o : NULL, m, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
  }
}

/* The sampled check's statistics, [2][slots x heads][rows]: each rank's own rows (loc, llen = rows g_n a slot and
   head) sent to rank 0, which places them at their global positions in glob (slen = N a slot and head) rank by rank,
   so that no other rank holds arrays of the global length. */
static void gather_stats(const double *loc, double *glob, size_t llen, size_t slen, int64_t N, jfa_layout_t layout) {
  const size_t piece = (size_t)1 << 26;
  if (g_rank != 0) {
    for (size_t o = 0; o < 2 * llen; o += piece)
      MPI_Send(loc + o, (int)(2 * llen - o < piece ? 2 * llen - o : piece), MPI_DOUBLE, 0, 7, MPI_COMM_WORLD);
    return;
  }
  double *buf = g_size > 1 ? (double *)malloc(2 * llen * sizeof(double)) : NULL;
  if (g_size > 1 && !buf) die("out of memory for the check");
  const int64_t lines = (int64_t)(llen / (size_t)g_n); /* slots x heads */
  for (int r = 0; r < g_size; ++r) {
    const double *src = loc;
    if (r > 0) {
      for (size_t o = 0; o < 2 * llen; o += piece)
        MPI_Recv(buf + o, (int)(2 * llen - o < piece ? 2 * llen - o : piece), MPI_DOUBLE, r, 7, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
      src = buf;
    }
    const app_rows_t rw = rank_rows(layout, N, r);
    for (int a = 0; a < 2; ++a) /* lse, then Delta */
      for (int64_t line = 0; line < lines; ++line)
        for (int64_t l = 0; l < g_n; ++l)
          glob[(size_t)a * slen + (size_t)(line * N + rw.pos0[l / rw.chunk] + l % rw.chunk)] =
              src[(size_t)a * llen + (size_t)(line * g_n + l)];
  }
  free(buf);
}

static void read_rows(const jfa_tensor_t *t, int64_t b, int64_t h, int64_t l0, int64_t n, double *out) {
  if (app_read_rows(t, b, h, l0, n, out)) die("reading results back failed");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  opts_t oo;
  const int parsed = parse(argc, argv, &oo);
  if (parsed <= 0) { /* -1: --help (exit 0), 0: a bad option (2) */
    MPI_Finalize();
    return parsed < 0 ? 0 : 2;
  }
  const app_opts_t *o = &oo.c;
  app_progress_init(g_rank, o->quiet);

  /* context and communicator */
  MPI_Comm world = MPI_COMM_WORLD;
  jfa_comm_t *comm = NULL;
  int dev = 0;
  if (o->device == JFA_DEVICE_CUDA) {
    int count = 0;
    if (!jfa_cuda_available(&count)) {
      if (g_rank == 0) fprintf(stderr, "jfa_ring: --device cuda but no GPU (or a build without CUDA): skipped (exit 77)\n");
      MPI_Finalize();
      return 77;
    }
    if (oo.nccl) {
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
    if (oo.nccl) {
      if (g_rank == 0) fprintf(stderr, "jfa_ring: --comm nccl needs --device cuda\n");
      MPI_Finalize();
      return 2;
    }
    TRY(jfa_comm_create_mpi(&comm, &world));
  }
  jfa_context_t *ctx = NULL;
  TRY(jfa_context_create(&ctx, o->device, dev));
#ifdef JFA_HAVE_CUDA
  size_t free0 = 0, total0 = 0;
  if (o->device == JFA_DEVICE_CUDA) {
    cudaSetDevice(dev);
    cudaMemGetInfo(&free0, &total0);
  }
#endif
  /* host threads: the cores shared by this node's ranks */
  int local_size = 1;
  {
    MPI_Comm node;
    MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &local_size);
    MPI_Comm_free(&node);
  }
  int threads = app_threads(o) / (o->threads > 0 ? 1 : local_size);
  if (threads < 1) threads = 1;

  jfa_ring_config_t cfg;
  jfa_ring_config_init(&cfg);
  cfg.batch = o->B;
  cfg.heads_q = o->Hq;
  cfg.heads_kv = o->Hkv;
  cfg.seq_global = o->N;
  cfg.head_dim = o->D;
  cfg.dtype = o->dtype;
  cfg.layout = oo.layout;
  cfg.mask = o->causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  cfg.window_left = o->window_left;
  cfg.window_right = o->window_right;
  cfg.cu_seqlens = o->cu;
  cfg.num_seqs = o->nseq;
  jfa_ring_t *ring = NULL;
  TRY(jfa_ring_create(&ring, ctx, comm, &cfg));
  g_n = o->N / g_size;
  g_rows = rank_rows(oo.layout, o->N, g_rank);

  if (g_rank == 0) {
    printf("jfa_ring: P=%d device=%s comm=%s dtype=%s B=%lld Hq=%lld Hkv=%lld N=%lld (%lld per rank) D=%lld %s %s "
           "seed=%llu\n",
           g_size, o->device == JFA_DEVICE_CUDA ? "cuda" : "cpu", oo.nccl ? "nccl" : "mpi", jfa_dtype_name(o->dtype),
           (long long)o->B, (long long)o->Hq, (long long)o->Hkv, (long long)o->N, (long long)g_n, (long long)o->D,
           o->causal ? "causal" : "full", oo.layout == JFA_LAYOUT_ZIGZAG ? "zigzag" : "contiguous",
           (unsigned long long)o->seed);
    if (o->window_left >= 0 || o->window_right >= 0)
      printf("  window: left %lld, right %lld (global positions)\n", (long long)o->window_left,
             (long long)o->window_right);
    if (o->nseq > 0) printf("  packed sequences: %lld\n", (long long)o->nseq);
    fflush(stdout);
  }

  /* inputs where they live (7 tensors); outputs poisoned with NaN */
  app_say("making inputs (7 tensors of this rank's rows, %s)",
          o->device == JFA_DEVICE_CUDA ? "on the GPU" : "host threads");
  double t_in = app_now();
  const jfa_dtype_t sdt = o->dtype == JFA_DTYPE_FLOAT64 ? JFA_DTYPE_FLOAT64 : JFA_DTYPE_FLOAT32;
  jfa_tensor_t t[X_N];
  for (int i = 0; i < X_N; ++i) {
    const int kv = i == X_K || i == X_V || i == X_KD || i == X_VD || i == X_DK || i == X_DV;
    const int stat = i == X_LSE || i == X_MU || i == X_LSEF;
    const jfa_dtype_t dt = stat ? sdt : o->dtype;
    const int64_t H = kv ? o->Hkv : o->Hq, Dt = stat ? 1 : o->D;
    t[i] = jfa_tensor_bhsd(dalloc(o->device, (size_t)(o->B * H * g_n * Dt) * jfa_dtype_size(dt)), dt, o->device,
                           o->B, H, g_n, Dt);
    if (i <= X_DO) {
      if (app_fill(t[i].data, o->device, dt, i, o->seed, o->B, H, g_n, Dt, &g_rows, threads))
        die("making the inputs failed");
    } else if (app_poison(&t[i])) {
      die("poisoning the outputs failed");
    }
  }
  t_in = app_now() - t_in;
  double t_in_max = 0;
  MPI_Reduce(&t_in, &t_in_max, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  app_say("inputs made in %.2f s (slowest rank)", t_in_max);

  /* timings: forward, forward+JVP, backward (the last JVP and backward give the checked results) */
  const double pairs = app_visible_pairs(o);
  const double fwd_flop = 4.0 * (double)o->B * (double)o->Hq * pairs * (double)o->D;
  const double mult[3] = {1.0, 3.0, 2.5};
  const char *names[3] = {"forward", "forward+JVP", "backward"};
  double tm[3];
  for (int op = 0; op < 3; ++op) {
    call_t c = {&oo, ring, ctx, NULL, t, (op_t)op};
    int n = 0;
    tm[op] = app_time_op(o, names[op], timed_call, &c, &n);
    if (g_rank == 0) {
      char rate[32], count[48];
      if (n) snprintf(count, sizeof count, "median of %d", n);
      else snprintf(count, sizeof count, "the warm-up call, over --budget");
      printf("  %-12s %10.3f ms  (%.3f ms per ring step)  %s per rank  (%s, slowest rank, %s)\n", names[op],
             tm[op] * 1e3, tm[op] * 1e3 / g_size, app_rate(mult[op] * fwd_flop / g_size / tm[op], rate, sizeof rate),
             count, oo.events ? "CUDA events" : "wall");
      fflush(stdout);
    }
  }

  /* memory */
  size_t ring_bytes = 0;
  TRY(jfa_ring_memory_bytes(ring, &ring_bytes));
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double used_dev = 0;
#ifdef JFA_HAVE_CUDA
  if (o->device == JFA_DEVICE_CUDA) {
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
    if (o->device == JFA_DEVICE_CUDA)
      printf(", device memory in use since start %.1f MiB (cudaMemGetInfo; includes other processes on the GPU)",
             memmax[2] / 1048576.0);
    printf(", host max RSS %.1f MiB\n", memmax[3] / 1048576.0);
  }

  /* ---- the check ---- */
  app_problem_t p;
  app_problem_from_opts(&p, o);
  app_sample_t s;
  app_sample_rows(&p, app_check_full(o, pairs), o->samples, oo.layout == JFA_LAYOUT_ZIGZAG ? 2 * g_size : g_size,
                  o->seed, &s);
  app_say("check: gathering %lld query rows and %lld key rows on rank 0", (long long)s.nq, (long long)s.nk);
  const int64_t D = o->D, Hq = o->Hq, N = o->N, g = o->Hq / o->Hkv;
  const size_t qlen = (size_t)s.nq * (size_t)APP_QW(D), klen = (size_t)s.nk * (size_t)APP_KW(D);
  /* the sampled check's lse and Delta of the sampled key pairs' query heads: every rank's own rows (llen), the
     global arrays (slen) on rank 0 only */
  const size_t slen = s.full ? 0 : (size_t)(s.nslots * g * N), llen = s.full ? 0 : (size_t)(s.nslots * g * g_n);
  double *loc = (double *)calloc(qlen + klen + 2 * llen, sizeof(double));
  double *glob = g_rank == 0 ? (double *)calloc(qlen + klen + 2 * slen, sizeof(double)) : NULL;
  if (!loc || (g_rank == 0 && !glob)) die("out of memory for the check");
  for (int64_t r = 0; r < s.nq; ++r) {
    const app_row_t x = s.q[r];
    const int64_t l = local_row(x.i);
    if (l < 0) continue;
    double *q = loc + (size_t)r * (size_t)APP_QW(D);
    read_rows(&t[X_O], x.b, x.h, l, 1, q);
    read_rows(&t[X_OD], x.b, x.h, l, 1, q + D);
    read_rows(&t[X_DQ], x.b, x.h, l, 1, q + 2 * D);
    read_rows(&t[X_LSE], x.b, x.h, l, 1, q + 3 * D);
    read_rows(&t[X_MU], x.b, x.h, l, 1, q + 3 * D + 1);
    read_rows(&t[X_OF], x.b, x.h, l, 1, q + 3 * D + 2);
    read_rows(&t[X_LSEF], x.b, x.h, l, 1, q + 4 * D + 2);
  }
  for (int64_t r = 0; r < s.nk; ++r) {
    const app_row_t x = s.k[r];
    const int64_t l = local_row(x.i);
    if (l < 0) continue;
    read_rows(&t[X_DK], x.b, x.h, l, 1, loc + qlen + (size_t)r * (size_t)APP_KW(D));
    read_rows(&t[X_DV], x.b, x.h, l, 1, loc + qlen + (size_t)r * (size_t)APP_KW(D) + D);
  }
  if (!s.full) { /* the ring's lse and Delta = dO.O of the query heads of the sampled key pairs, local rows */
    double *sl = loc + qlen + klen, *sd = sl + llen;
    const int64_t CH = 4096; /* local rows read back per copy */
    double *lb = (double *)malloc((size_t)CH * sizeof(double));
    double *ob = (double *)malloc((size_t)(CH * D) * sizeof(double)), *db = (double *)malloc((size_t)(CH * D) * 8);
    if (!lb || !ob || !db) die("out of memory for the check");
    for (int k = 0; k < s.nslots; ++k)
      for (int64_t hg = 0; hg < g; ++hg) {
        const int64_t b = s.slot_b[k], h = s.slot_hk[k] * g + hg;
        for (int64_t l0 = 0; l0 < g_n; l0 += CH) {
          const int64_t n = g_n - l0 < CH ? g_n - l0 : CH;
          read_rows(&t[X_LSE], b, h, l0, n, lb);
          read_rows(&t[X_O], b, h, l0, n, ob);
          read_rows(&t[X_DO], b, h, l0, n, db);
          for (int64_t r = 0; r < n; ++r) {
            const size_t gi = (size_t)((k * g + hg) * g_n + l0 + r);
            double dl = 0;
            for (int64_t x = 0; x < D; ++x) dl += ob[r * D + x] * db[r * D + x];
            sl[gi] = lb[r];
            sd[gi] = dl;
          }
        }
      }
    free(lb);
    free(ob);
    free(db);
  }
  reduce_sum(loc, glob, qlen + klen);
  if (!s.full) gather_stats(loc + qlen + klen, glob ? glob + qlen + klen : NULL, llen, slen, o->N, oo.layout);
  int pass = 1;
  if (g_rank == 0) {
    app_say("check: computing the reference on %d threads", app_threads(o));
    app_check_result_t res;
    app_check(&p, &s, glob, glob + qlen, s.full ? NULL : glob + qlen + klen, s.full ? NULL : glob + qlen + klen + slen,
              app_threads(o), &res);
    pass = app_check_report(&res, &s, app_tolerance(o->dtype, o->device));
  }
  MPI_Bcast(&pass, 1, MPI_INT, 0, MPI_COMM_WORLD);
  /* ring overhead at P = 1: the single-device API on the same problem (skipped when calls are long), after the check
     (its calls write the same outputs) */
  if (g_size == 1 && tm[0] + tm[1] + tm[2] <= 3.0) {
    jfa_attention_params_t prm;
    jfa_attention_params_init(&prm);
    prm.mask = cfg.mask;
    prm.window_left = o->window_left;
    prm.window_right = o->window_right;
    if (o->nseq > 0) prm.cu_seqlens_q = prm.cu_seqlens_k = o->cu, prm.num_seqs = o->nseq;
    /* zigzag at P = 1 is rows [0, N/2) then [N/2, N): the same order as contiguous */
    for (int op = 0; op < 3; ++op) {
      call_t c = {&oo, ring, ctx, &prm, t, (op_t)op};
      double td = app_time_op(o, "direct API", timed_call, &c, NULL);
      printf("  %-12s direct %10.3f ms  ring/direct = %.3f (overhead %+.1f%%)\n", names[op], td * 1e3,
             tm[op] / td, (tm[op] / td - 1.0) * 100.0);
    }
  } else if (g_size == 1 && g_rank == 0) {
    printf("  (ring/direct comparison skipped: the calls take over 3 s; at P = 1 the ring calls the same kernels)\n");
  }
  if (g_rank == 0) {
    printf("jfa_ring: %s (%.1f s in all)\n", pass > 0 ? "PASSED" : pass == 0 ? "FAILED" : "NOT CHECKED",
           app_elapsed());
    fflush(stdout);
  }

  (void)Hq;

  free(loc);
  free(glob);
  app_sample_free(&s);
  for (int i = 0; i < X_N; ++i) app_free(o->device, t[i].data);
  free(oo.c.cu);
  jfa_ring_destroy(ring);
  jfa_comm_destroy(comm);
  jfa_context_destroy(ctx);
  MPI_Finalize();
  return app_check_exit(pass);
}
