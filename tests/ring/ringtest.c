/*
 * ringtest.c - implementation of ringtest.h (see there).
 */
#include "ringtest.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "ref64.h"
#include "testutil.h"

const char *const rt_out_names[RT_NOUT] = {"O (jvp)", "lse (jvp)", "Od", "mu", "O (fwd)", "lse (fwd)",
                                           "dQ", "dK", "dV"};

static uint64_t rt_state;
static int rt_reset_offsets; /* rt_set_offsets_after_create */

void rt_set_offsets_after_create(int on) { rt_reset_offsets = on; }
void rt_seed(uint64_t seed) { rt_state = seed * 0x2545F4914F6CDD1Dull + 1; }
static double rt_uniform(void) {
  uint64_t z = (rt_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
double rt_normal(void) {
  double u1 = rt_uniform(), u2 = rt_uniform();
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t rt_init(int *argc, char ***argv, const char *name, int *world_rank, int *world_size) {
  MPI_Init(argc, argv);
  MPI_Comm_rank(MPI_COMM_WORLD, world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, world_size);
  unsigned long long seed = 0;
  if (*world_rank == 0) seed = tu_init_seed(name);
  MPI_Bcast(&seed, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  if (*world_rank != 0 && !getenv("JFA_RING_TEST_VERBOSE")) {
    if (!freopen("/dev/null", "w", stdout)) fprintf(stderr, "cannot silence stdout\n");
  }
  return seed;
}

void rt_cpu_world(jfa_context_t **cpu, jfa_comm_t **comm) {
  MPI_Comm world = MPI_COMM_WORLD;
  *cpu = NULL, *comm = NULL;
  if (jfa_context_create(cpu, JFA_DEVICE_CPU, 0) != JFA_SUCCESS || jfa_comm_create_mpi(comm, &world) != JFA_SUCCESS) {
    fprintf(stderr, "setup: %s\n", jfa_get_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}

void rt_describe(const rt_case_t *c, char *buf, size_t n) {
  static const char *dn[4] = {"fp64", "fp32", "fp16", "bf16"};
  char win[64] = "", seqs[64] = "";
  if (c->windowed)
    snprintf(win, sizeof win, " window(%lld,%lld)", (long long)c->window_left, (long long)c->window_right);
  if (c->num_seqs > 0) snprintf(seqs, sizeof seqs, " %lld seqs", (long long)c->num_seqs);
  snprintf(buf, n, "%s %s %s%s%s%s B%lld Hq%lld Hkv%lld N%lld D%lld", dn[c->dtype],
           c->layout == JFA_LAYOUT_ZIGZAG ? "zigzag" : "contig", c->causal == 2 ? "causal-bottom-right" : c->causal ? "causal" : "full",
           c->bshd == 1 ? " bshd" : c->bshd == 2 ? " padded" : "", win, seqs,
           (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)c->N, (long long)c->D);
}

/* ---- device buffers ---- */
static void *dev_alloc(jfa_device_t dev, size_t bytes) {
  if (dev == JFA_DEVICE_CPU) return malloc(bytes);
#ifdef JFA_HAVE_CUDA
  void *p = NULL;
  if (cudaMalloc(&p, bytes) != cudaSuccess) return NULL;
  return p;
#else
  return NULL;
#endif
}
static void dev_free(jfa_device_t dev, void *p) {
  if (!p) return;
  if (dev == JFA_DEVICE_CPU) {
    free(p);
    return;
  }
#ifdef JFA_HAVE_CUDA
  cudaFree(p);
#endif
}
static void dev_copy(jfa_device_t dev, void *dst, const void *src, size_t bytes, int to_dev) {
  if (dev == JFA_DEVICE_CPU) {
    memcpy(dst, src, bytes);
    return;
  }
#ifdef JFA_HAVE_CUDA
  cudaMemcpy(dst, src, bytes, to_dev ? cudaMemcpyHostToDevice : cudaMemcpyDeviceToHost);
#else
  (void)to_dev;
#endif
}

/* A local tensor: host doubles, host storage of its dtype, device storage. */
typedef struct {
  jfa_tensor_t t; /* on the device */
  double *vals;   /* local values (BHSD) */
  void *host;     /* dtype storage */
  size_t n, span, bytes; /* elements, elements of the storage (padding included), bytes */
} lt_t;

/* storage: 0 BHSD, 1 (B, S, H, D) (statistics stay BHSD), 2 padded views: every axis has a
   non-unit stride (head dim 2, each outer axis padded by one element), statistics included */
static int lt_make(lt_t *x, jfa_device_t dev, jfa_dtype_t dt, int64_t B, int64_t H, int64_t N, int64_t D,
                   int storage) {
  memset(x, 0, sizeof(*x));
  x->n = (size_t)(B * H * N * D);
  size_t span = x->n;
  jfa_tensor_t t = storage == 1 && D > 1 ? jfa_tensor_bshd(NULL, dt, dev, B, N, H, D)
                                         : jfa_tensor_bhsd(NULL, dt, dev, B, H, N, D);
  if (storage == 2) {
    t.stride[3] = 2;
    t.stride[2] = 2 * D + 1;
    t.stride[1] = t.stride[2] * N + 1;
    t.stride[0] = t.stride[1] * H + 1;
    span = (size_t)(t.stride[0] * B);
  }
  x->span = span;
  x->bytes = span * jfa_dtype_size(dt);
  x->vals = (double *)calloc(x->n, sizeof(double));
  x->host = malloc(x->bytes);
  t.data = dev_alloc(dev, x->bytes);
  x->t = t;
  if (x->host) tu_poison(x->host, span, dt); /* padding of inputs reads as NaN */
  return x->vals && x->host && t.data;
}
/* the tensor's layout over the host copy */
static jfa_tensor_t lt_host(const lt_t *x) {
  jfa_tensor_t h = x->t;
  h.data = x->host;
  h.device = JFA_DEVICE_CPU;
  return h;
}
static void lt_free(lt_t *x, jfa_device_t dev) {
  free(x->vals);
  free(x->host);
  dev_free(dev, x->t.data);
}
static void lt_upload(lt_t *x) {
  jfa_tensor_t h = lt_host(x);
  tu_scatter(x->vals, &h);
  dev_copy(x->t.device, x->t.data, x->host, x->bytes, 1);
}
static void lt_poison(lt_t *x) {
  tu_poison(x->host, x->span, x->t.dtype);
  dev_copy(x->t.device, x->t.data, x->host, x->bytes, 1);
}
static void lt_download(lt_t *x) {
  dev_copy(x->t.device, x->host, x->t.data, x->bytes, 0);
  jfa_tensor_t h = lt_host(x);
  tu_gather(&h, x->vals);
}

/* Global row of local row i of `rank` among P, by the documented layouts written out here
   (not through jfa_layout_chunk): contiguous, rank r holds rows [r N/P, (r+1) N/P); zigzag,
   2P chunks of N/(2P) rows, rank r holds chunk r then chunk 2P-1-r. */
static int64_t global_row(jfa_layout_t layout, int64_t N, int rank, int P, int64_t i) {
  if (layout == JFA_LAYOUT_CONTIGUOUS) return rank * N / P + i;
  const int64_t c = N / (2 * P);
  return i < c ? rank * c + i : (2 * (int64_t)P - 1 - rank) * c + (i - c);
}

/* Copies this rank's rows of a full BHSD double array (seq N) into local (seq n). */
static void shard_host(const rt_case_t *c, int rank, int P, const double *full, double *local,
                       int64_t H, int64_t D) {
  int64_t n = c->N / P;
  for (int64_t bh = 0; bh < c->B * H; ++bh)
    for (int64_t i = 0; i < n; ++i)
      memcpy(local + (bh * n + i) * D, full + (bh * c->N + global_row(c->layout, c->N, rank, P, i)) * D,
             (size_t)D * sizeof(double));
}

jfa_status_t rt_run_case(const rt_case_t *c, uint64_t seed, MPI_Comm group, jfa_comm_t *comm,
                         jfa_context_t *ctx, jfa_context_t *cpu, double err[RT_NOUT]) {
  jfa_status_t st = JFA_SUCCESS;
  int rank, P;
  MPI_Comm_rank(group, &rank);
  MPI_Comm_size(group, &P);
  jfa_device_t dev;
  int devidx;
  jfa_context_get_device(ctx, &dev, &devidx);
#ifdef JFA_HAVE_CUDA
  if (dev == JFA_DEVICE_CUDA) cudaSetDevice(devidx); /* the test's own buffers go to the ring's GPU */
#endif
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, N = c->N, D = c->D, n = N / P;
  const size_t nq = (size_t)(B * Hq * N * D), nk = (size_t)(B * Hkv * N * D), nr = (size_t)(B * Hq * N);
  jfa_dtype_t st_dt = (dev == JFA_DEVICE_CPU && c->dtype == JFA_DTYPE_FLOAT64) ? JFA_DTYPE_FLOAT64
                                                                               : JFA_DTYPE_FLOAT32;
  for (int i = 0; i < RT_NOUT; ++i) err[i] = NAN;

  /* full inputs (rounded to the dtype) and float64 references */
  enum { Q, K, V, QD, KD, VD, DO, O, LSE, OD, MU, DQ, DK, DV, NF };
  size_t fn[NF] = {nq, nk, nk, nq, nk, nk, nq, nq, nr, nq, nr, nq, nk, nk};
  int64_t fh[NF] = {Hq, Hkv, Hkv, Hq, Hkv, Hkv, Hq, Hq, Hq, Hq, Hq, Hq, Hkv, Hkv};
  int64_t fd[NF] = {D, D, D, D, D, D, D, D, 1, D, 1, D, D, D};
  double *f[NF] = {0};
  jfa_tensor_t ft[NF];
  for (int i = 0; i < NF; ++i) {
    f[i] = (double *)malloc(fn[i] * sizeof(double));
    if (!f[i]) {
      st = JFA_ERROR_OUT_OF_MEMORY;
      goto done;
    }
    ft[i] = jfa_tensor_bhsd(f[i], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, fh[i], N, fd[i]);
  }
  rt_seed(seed);
  for (int i = Q; i <= DO; ++i)
    for (size_t j = 0; j < fn[i]; ++j) f[i][j] = tu_round(rt_normal(), c->dtype);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->causal == 2 ? JFA_MASK_CAUSAL_BOTTOM_RIGHT : c->causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  if (c->windowed) prm.window_left = c->window_left, prm.window_right = c->window_right;
  if (c->num_seqs > 0)
    prm.cu_seqlens_q = prm.cu_seqlens_k = c->cu_seqlens, prm.num_seqs = c->num_seqs;
  /* the reference: ref64 (naive float64, no jfa code; its own statistics in the backward) */
  if (ref64_forward_jvp(&prm, &ft[Q], &ft[K], &ft[V], &ft[QD], &ft[KD], &ft[VD], &ft[O], &ft[LSE], &ft[OD],
                        &ft[MU]) != 0 ||
      ref64_backward(&prm, &ft[Q], &ft[K], &ft[V], NULL, NULL, &ft[DO], &ft[DQ], &ft[DK], &ft[DV]) != 0) {
    st = JFA_ERROR_INTERNAL;
    goto done;
  }

  /* local shards: inputs through jfa_layout_shard (checked against a host copy) */
  {
    lt_t L[NF + 2];
    memset(L, 0, sizeof(L));
    int ok = 1;
    for (int i = 0; i < NF; ++i) {
      jfa_dtype_t dt = (i == LSE || i == MU) ? st_dt : c->dtype;
      ok &= lt_make(&L[i], dev, dt, B, fh[i], n, fd[i], c->bshd);
    }
    ok &= lt_make(&L[NF], dev, c->dtype, B, Hq, n, D, c->bshd);   /* o of the plain forward */
    ok &= lt_make(&L[NF + 1], dev, st_dt, B, Hq, n, 1, c->bshd);  /* lse of the plain forward */
    jfa_ring_t *ring = NULL;
    if (!ok) {
      st = JFA_ERROR_OUT_OF_MEMORY;
      goto local_done;
    }
    double *tmp = (double *)malloc(nq * sizeof(double));
    for (int i = Q; i <= DO; ++i) {
      jfa_tensor_t lt = jfa_tensor_bhsd(L[i].vals, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, fh[i], n, D);
      jfa_status_t s2 = jfa_layout_shard(cpu, c->layout, rank, P, &ft[i], &lt);
      if (s2 != JFA_SUCCESS) {
        fprintf(stderr, "jfa_layout_shard: %s\n", jfa_get_last_error());
        st = s2;
        break;
      }
      shard_host(c, rank, P, f[i], tmp, fh[i], D);
      if (memcmp(tmp, L[i].vals, L[i].n * sizeof(double)) != 0) {
        fprintf(stderr, "rank %d of %d: jfa_layout_shard disagrees with the documented %s layout (input %d)\n", rank, P,
                c->layout == JFA_LAYOUT_ZIGZAG ? "zigzag" : "contiguous", i);
        st = JFA_ERROR_INTERNAL;
        break;
      }
      if (i == Q) { /* unshard puts exactly this rank's rows back, touching no other row */
        double *full = (double *)malloc(nq * sizeof(double));
        tu_poison(full, nq, JFA_DTYPE_FLOAT64);
        jfa_tensor_t fq = jfa_tensor_bhsd(full, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, Hq, N, D);
        jfa_status_t s3 = jfa_layout_unshard(cpu, c->layout, rank, P, &lt, &fq);
        size_t written = 0, wrong = 0;
        for (size_t j = 0; j < nq; ++j)
          if (!isnan(full[j])) {
            ++written;
            wrong += full[j] != f[Q][j];
          }
        free(full);
        if (s3 != JFA_SUCCESS || written != L[Q].n || wrong) {
          fprintf(stderr, "jfa_layout_unshard: status %d, %zu written (expected %zu), %zu wrong\n", (int)s3,
                  written, L[Q].n, wrong);
          st = JFA_ERROR_INTERNAL;
          break;
        }
      }
      lt_upload(&L[i]);
    }
    free(tmp);
    { /* every rank's shards must be right before the collective ring calls (else all stop here) */
      int mine = st == JFA_SUCCESS, all = 0;
      MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, group);
      if (!all) {
        if (st == JFA_SUCCESS) st = JFA_ERROR_INTERNAL;
        goto local_done;
      }
    }
    for (int i = O; i < NF; ++i) lt_poison(&L[i]);
    lt_poison(&L[NF]);
    lt_poison(&L[NF + 1]);

    jfa_ring_config_t cfg;
    jfa_ring_config_init(&cfg);
    cfg.batch = B;
    cfg.heads_q = Hq;
    cfg.heads_kv = Hkv;
    cfg.seq_global = N;
    cfg.head_dim = D;
    cfg.dtype = c->dtype;
    cfg.layout = c->layout;
    cfg.mask = prm.mask;
    cfg.window_left = prm.window_left;
    cfg.window_right = prm.window_right;
    cfg.cu_seqlens = prm.cu_seqlens_q;
    cfg.num_seqs = prm.num_seqs;
    const int64_t one_seq[2] = {0, N};
    if (rt_reset_offsets && prm.num_seqs > 0) /* created with one sequence, the case's offsets set after */
      cfg.cu_seqlens = one_seq, cfg.num_seqs = 1;
    {
      jfa_status_t s2 = jfa_ring_create(&ring, ctx, comm, &cfg);
      if (s2 == JFA_SUCCESS && rt_reset_offsets && prm.num_seqs > 0)
        s2 = jfa_ring_set_seqlens(ring, prm.cu_seqlens_q, prm.num_seqs);
      if (s2 != JFA_SUCCESS) {
        fprintf(stderr, "jfa_ring_create / set_seqlens: %s\n", jfa_get_last_error());
        st = s2;
        goto local_done;
      }
    }
#define RT_TRY2(call)                                                                          \
  do {                                                                                         \
    jfa_status_t s_ = (call);                                                                  \
    if (s_ != JFA_SUCCESS) {                                                                   \
      fprintf(stderr, "%s failed: %s: %s\n", #call, jfa_status_string(s_), jfa_get_last_error()); \
      st = s_;                                                                                 \
      goto local_done;                                                                         \
    }                                                                                          \
  } while (0)
    RT_TRY2(jfa_ring_forward(ring, &L[Q].t, &L[K].t, &L[V].t, &L[NF].t, &L[NF + 1].t));
    RT_TRY2(jfa_ring_forward_jvp(ring, &L[Q].t, &L[K].t, &L[V].t, &L[QD].t, &L[KD].t, &L[VD].t, &L[O].t,
                                 &L[LSE].t, &L[OD].t, &L[MU].t));
    RT_TRY2(jfa_ring_backward(ring, &L[Q].t, &L[K].t, &L[V].t, &L[O].t, &L[LSE].t, &L[DO].t, &L[DQ].t,
                              &L[DK].t, &L[DV].t));
    {
      /* compare: sums of squared differences and of squared references, reduced over the group */
      int outs[RT_NOUT] = {O, LSE, OD, MU, NF, NF + 1, DQ, DK, DV};
      int refs[RT_NOUT] = {O, LSE, OD, MU, O, LSE, DQ, DK, DV};
      double sums[3 * RT_NOUT], tot[3 * RT_NOUT];
      double *rl = (double *)malloc(nq * sizeof(double));
      for (int i = 0; i < RT_NOUT; ++i) {
        lt_t *x = &L[outs[i]];
        int r = refs[i];
        lt_download(x);
        shard_host(c, rank, P, f[r], rl, fh[r], fd[r]);
        double dd = 0, rr = 0, bad = 0;
        for (size_t j = 0; j < x->n; ++j) {
          double a = x->vals[j], b = rl[j];
          if (isnan(a)) {
            bad += 1;
            continue;
          }
          if (isinf(b) || isinf(a)) {
            if (a != b) bad += 1;
            continue;
          }
          dd += (a - b) * (a - b);
          rr += b * b;
        }
        sums[3 * i] = dd;
        sums[3 * i + 1] = rr;
        sums[3 * i + 2] = bad;
      }
      free(rl);
      MPI_Allreduce(sums, tot, 3 * RT_NOUT, MPI_DOUBLE, MPI_SUM, group);
      for (int i = 0; i < RT_NOUT; ++i) {
        if (tot[3 * i + 2] > 0)
          err[i] = NAN;
        else
          err[i] = tot[3 * i + 1] > 0 ? sqrt(tot[3 * i] / tot[3 * i + 1]) : sqrt(tot[3 * i]);
      }
    }
  local_done:
    jfa_ring_destroy(ring);
    for (int i = 0; i < NF + 2; ++i) lt_free(&L[i], dev);
  }
done:
  for (int i = 0; i < NF; ++i) free(f[i]);
  return st;
}
