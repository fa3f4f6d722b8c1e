/*
 * jfa_bench.c - the one benchmark driver of jfa's CUDA kernels: forward, fused
 * forward+JVP and backward. Every mode prints the same rows:
 *   op, family (the kernel family that ran: simt, sm80, sm90; float32 on the sm80 and sm90
 *   families says its arithmetic: sm80-3x (3xTF32) or sm80-tf32, sm90-3x or sm90-tf32), dtype, B, H, N, D, mask,
 *   ms (median over many runs, CUDA events, after warm-up), TFLOP/s, err
 * as a table (default), CSV (--format csv, or --csv) or JSON lines (--format json: one
 * object per row). The table ends with a summary line (rows, largest error).
 *
 * Dense shapes: TFLOP/s with fwd = 4 B H N^2 D, halved when causal; JVP = 3x fwd; bwd = 2.5x
 * fwd; err is the relative error of sampled rows against a float64 host reference (fwd: O
 * rows, jvp: Od rows, bwd: dQ rows and dK/dV rows; the dK/dV reference takes the device's lse
 * and O, themselves checked by fwd).
 *   jfa_bench                      default sweep: bf16, B*N = 16384, H*D = 2048,
 *                                  N in {1024, 4096, 16384}, D in {64, 128}, causal off/on
 *   jfa_bench --case N D causal [dtype]   one shape (dtype: bf16, fp16, fp32)
 *   --dtype bf16|fp16|fp32         the default sweep's dtype (bf16)
 *   --tf32                         float32 in one TF32 product (JFA_FLAG_ALLOW_TF32; default
 *                                  3xTF32): e.g. jfa_bench --tf32 --case 4096 128 0 fp32
 *   JFA_BENCH_ITERS=n              timed runs per case (default 20)
 *   JFA_SM90_BWD=0                 the backward on sm80 where the sm90 backward would run (its
 *                                  bwd rows say sm80), e.g. JFA_SM90_BWD=0 jfa_bench --case 4096 128 0
 *   jfa_bench --bwd-jvp N D causal [dtype]   the backward-JVP (second order) beside the backward:
 *                                  rows bwd, bj (dQd, dKd, dVd), bj1 (and dQ, dK, dV); bench_bwd_jvp
 *   JFA_SM90_BWD_JVP=0             the backward-JVP on sm80 instead of sm90 (the default),
 *                                  e.g. JFA_SM90_BWD_JVP=0 jfa_bench --bwd-jvp 4096 128 0
 *   jfa_bench --bwd-jvp-window N D W [dtype]   the same rows with --window's mask (causal sliding
 *                                  window of W keys back, B = 1, H = 2048 / D; TFLOP/s over the
 *                                  visible pairs): the sm90 kernel's MASKED instantiation
 *   JFA_SM90_F32_BWD=0             the float32 backward at D = 64 on sm80 instead of sm90 (the
 *                                  default), e.g. JFA_SM90_F32_BWD=0 jfa_bench --case 4096 64 0 fp32
 *
 * Masks (bf16; TFLOP/s over the visible (query, key) pairs P: fwd = 4 P D per head, JVP 3x,
 * bwd 2.5x; err is not checked here ("-" / empty / null): the masks' accuracy is
 * tests/gpu/test_gpu_masks' job):
 *   jfa_bench --window N D W       causal sliding window of W keys back, B = 1, H = 2048 / D
 *                                  (mask window:W)
 *   jfa_bench --causal B N D       causal, B rows of N (the dense reference of the above)
 *   jfa_bench --varlen S L D       S causal documents of L tokens packed in one row (B = 1;
 *                                  mask varlen:S)
 *   jfa_bench --batch S L D        the same documents as a batch of S rows of L (causal)
 *   jfa_bench --dense N D          boolean mask (1, 1, N, N), half the keys of each row, B = 1
 *   jfa_bench --dense-full B N D   boolean mask (B, H, N, N), one per batch and head (bench_lanes.py's dense
 *                                  lane: the block map's build reads all of it each call), half the keys of each
 *                                  row (one random (N, N) slice copied to every (batch, head)); mask dense-full
 *   jfa_bench --nomask N D         the unmasked run of the same shape
 *   jfa_bench --keypad B N D       key-padding mask: (B, 1, N, N) boolean at row stride 0 (the binding's
 *                                  (B, 1, 1, N) expanded; a block map of one row a slice), batch b keeping
 *                                  its first N - (b + 1) N / (4 B) keys (mask keypad)
 *   jfa_bench --keypad-full B N D  the same mask materialised (row stride N: a map of every row;
 *                                  mask keypad-full)
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h" /* jfa_cuda_last_kernel: the family that ran */
#include "jfa.h"

#define CK(x)                                                                              \
  do {                                                                                     \
    cudaError_t e_ = (x);                                                                  \
    if (e_ != cudaSuccess) {                                                               \
      fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_));  \
      exit(1);                                                                             \
    }                                                                                      \
  } while (0)
#define JK(x)                                                                                        \
  do {                                                                                               \
    jfa_status_t s_ = (x);                                                                           \
    if (s_ != JFA_SUCCESS) {                                                                         \
      fprintf(stderr, "%s:%d %s: %s %s\n", __FILE__, __LINE__, #x, jfa_status_string(s_), jfa_get_last_error()); \
      exit(1);                                                                                       \
    }                                                                                                \
  } while (0)

static uint64_t rng = 88172645463325252ull;
static double urand(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (double)(rng >> 11) * (1.0 / 9007199254740992.0);
}
static double nrand(void) {
  double u1 = urand(), u2 = urand();
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* host conversions */
static float h2f(uint16_t h, jfa_dtype_t dt) {
  uint32_t u;
  if (dt == JFA_DTYPE_BFLOAT16) {
    u = (uint32_t)h << 16;
  } else {
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e == 0) {
      float f = ldexpf((float)m, -24);
      return (h & 0x8000) ? -f : f;
    }
    if (e == 31) u = s | 0x7f800000u | (m << 13);
    else u = s | ((e - 15 + 127) << 23) | (m << 13);
  }
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static uint16_t f2h(float f, jfa_dtype_t dt) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if (dt == JFA_DTYPE_BFLOAT16) {
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
  }
  /* fp16: inputs are normal draws, well inside the normal range */
  uint32_t s = (u >> 16) & 0x8000u, e = (u >> 23) & 0xff, m = u & 0x7fffffu;
  int ee = (int)e - 127 + 15;
  if (ee <= 0) return (uint16_t)s;
  uint32_t r = ((uint32_t)ee << 10) | (m >> 13);
  uint32_t rem = m & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++;
  return (uint16_t)(s | r);
}

typedef struct {
  jfa_dtype_t dt;
  int64_t B, H, N, D;
  size_t n, esz;
  void *dev[7]; /* q k v qd kd vd dout */
  float *host[7];
  void *o, *od, *dq, *dk, *dv;
  float *lse, *mu;
  void *doutd, *dqd, *dkd, *dvd; /* the backward-JVP's (bench_bwd_jvp only) */
} bench_t;

static jfa_tensor_t T(const bench_t *b, void *p) {
  return jfa_tensor_bshd(p, b->dt, JFA_DEVICE_CUDA, b->B, b->N, b->H, b->D);
}
static jfa_tensor_t S(const bench_t *b, float *p) {
  return jfa_tensor_bhsd(p, JFA_DTYPE_FLOAT32, JFA_DEVICE_CUDA, b->B, b->H, b->N, 1);
}
/* element (b, h, n, d) of BSHD storage */
static size_t idx(const bench_t *b, int64_t bb, int64_t h, int64_t n, int64_t d) {
  return (size_t)(((bb * b->N + n) * b->H + h) * b->D + d);
}

/* The inputs: N(0, 1) values drawn from a table of NTAB normal samples (in the dtype: the 16-bit pattern and its
   float value) by 16 random bits each, so that the seven tensors of a shape (235M values at B N = 16384, H D = 2048)
   take ~1 s on the host instead of the ~8 s of a Box-Muller draw and a conversion each (the thirty-eighth session's
   device calls spent ~10 s a jfa_bench --case on the host); the same values for every dtype's table index. */
#define NTAB 65536
static void setup(bench_t *b) {
  b->n = (size_t)(b->B * b->H * b->N * b->D);
  b->esz = jfa_dtype_size(b->dt);
  static float tabf[NTAB];
  static uint16_t tabh[NTAB];
  for (int i = 0; i < NTAB; ++i) {
    float x = (float)nrand();
    if (b->dt != JFA_DTYPE_FLOAT32) {
      tabh[i] = f2h(x, b->dt);
      x = h2f(tabh[i], b->dt);
    }
    tabf[i] = x;
  }
  void *stage = malloc(b->n * b->esz);
  /* the host copies: batch 0 only (its N H D elements first in BSHD), all the references read */
  const size_t n0 = (size_t)(b->N * b->H * b->D);
  for (int t = 0; t < 7; ++t) {
    b->host[t] = (float *)malloc(n0 * sizeof(float));
    for (size_t i = 0; i < b->n; ++i) {
      rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
      const unsigned e = (unsigned)(rng >> 48);
      if (b->dt == JFA_DTYPE_FLOAT32) ((float *)stage)[i] = tabf[e];
      else ((uint16_t *)stage)[i] = tabh[e];
      if (i < n0) b->host[t][i] = tabf[e];
    }
    CK(cudaMalloc(&b->dev[t], b->n * b->esz));
    CK(cudaMemcpy(b->dev[t], stage, b->n * b->esz, cudaMemcpyHostToDevice));
  }
  free(stage);
  void **outs[5] = {&b->o, &b->od, &b->dq, &b->dk, &b->dv};
  for (int t = 0; t < 5; ++t) CK(cudaMalloc(outs[t], b->n * b->esz));
  CK(cudaMalloc((void **)&b->lse, (size_t)(b->B * b->H * b->N) * 4));
  CK(cudaMalloc((void **)&b->mu, (size_t)(b->B * b->H * b->N) * 4));
}

static void teardown(bench_t *b) {
  for (int t = 0; t < 7; ++t) {
    cudaFree(b->dev[t]);
    free(b->host[t]);
  }
  cudaFree(b->o), cudaFree(b->od), cudaFree(b->dq), cudaFree(b->dk), cudaFree(b->dv), cudaFree(b->lse), cudaFree(b->mu);
}

static void download(const bench_t *b, const void *dev, float *out, size_t n, int is_f32) {
  size_t esz = is_f32 ? 4 : b->esz;
  void *h = malloc(n * esz);
  CK(cudaMemcpy(h, dev, n * esz, cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < n; ++i)
    out[i] = (is_f32 || b->dt == JFA_DTYPE_FLOAT32) ? ((float *)h)[i] : h2f(((uint16_t *)h)[i], b->dt);
  free(h);
}

/* float64 reference of one query row (b = 0, head h): o, od, mu, lse, dq */
static void ref_row(const bench_t *b, int64_t h, int64_t i, int causal, double *o, double *od, double *dq, double *lse_out) {
  const int64_t N = b->N, D = b->D;
  const double sc = 1.0 / sqrt((double)D);
  const float *q = b->host[0], *k = b->host[1], *v = b->host[2], *qd = b->host[3], *kd = b->host[4], *vd = b->host[5],
              *dout = b->host[6];
  double *s = malloc(N * 8), *sd = malloc(N * 8), *dp = malloc(N * 8);
  int64_t nk = causal ? i + 1 : N;
  double mx = -INFINITY;
  for (int64_t j = 0; j < nk; ++j) {
    double a = 0, c = 0;
    for (int64_t d = 0; d < D; ++d) {
      a += (double)q[idx(b, 0, h, i, d)] * k[idx(b, 0, h, j, d)];
      c += (double)qd[idx(b, 0, h, i, d)] * k[idx(b, 0, h, j, d)] + (double)q[idx(b, 0, h, i, d)] * kd[idx(b, 0, h, j, d)];
    }
    s[j] = a * sc;
    sd[j] = c * sc;
    if (s[j] > mx) mx = s[j];
  }
  double l = 0, mu = 0;
  for (int64_t j = 0; j < nk; ++j) l += exp(s[j] - mx);
  for (int64_t j = 0; j < nk; ++j) {
    s[j] = exp(s[j] - mx) / l;
    mu += s[j] * sd[j];
  }
  *lse_out = mx + log(l);
  for (int64_t d = 0; d < D; ++d) {
    double a = 0, c = 0;
    for (int64_t j = 0; j < nk; ++j) {
      a += s[j] * v[idx(b, 0, h, j, d)];
      c += s[j] * (sd[j] - mu) * v[idx(b, 0, h, j, d)] + s[j] * vd[idx(b, 0, h, j, d)];
    }
    o[d] = a;
    od[d] = c;
  }
  double delta = 0;
  for (int64_t d = 0; d < D; ++d) delta += (double)dout[idx(b, 0, h, i, d)] * o[d];
  for (int64_t j = 0; j < nk; ++j) {
    double a = 0;
    for (int64_t d = 0; d < D; ++d) a += (double)dout[idx(b, 0, h, i, d)] * v[idx(b, 0, h, j, d)];
    dp[j] = s[j] * (a - delta);
  }
  for (int64_t d = 0; d < D; ++d) {
    double a = 0;
    for (int64_t j = 0; j < nk; ++j) a += dp[j] * k[idx(b, 0, h, j, d)];
    dq[d] = a * sc;
  }
  free(s), free(sd), free(dp);
}

/* dK, dV of key row j (b = 0, head h) from the device's lse and O */
static void ref_key_row(const bench_t *b, int64_t h, int64_t j, int causal, const float *lse, const float *o, double *dk,
                        double *dv) {
  const int64_t N = b->N, D = b->D;
  const double sc = 1.0 / sqrt((double)D);
  const float *q = b->host[0], *k = b->host[1], *v = b->host[2], *dout = b->host[6];
  for (int64_t d = 0; d < D; ++d) dk[d] = dv[d] = 0;
  for (int64_t i = causal ? j : 0; i < N; ++i) {
    double s = 0, dp = 0, delta = 0;
    for (int64_t d = 0; d < D; ++d) {
      s += (double)q[idx(b, 0, h, i, d)] * k[idx(b, 0, h, j, d)];
      dp += (double)dout[idx(b, 0, h, i, d)] * v[idx(b, 0, h, j, d)];
      delta += (double)dout[idx(b, 0, h, i, d)] * o[idx(b, 0, h, i, d)];
    }
    double p = exp(s * sc - lse[h * N + i]);
    double ds = p * (dp - delta);
    for (int64_t d = 0; d < D; ++d) {
      dv[d] += p * dout[idx(b, 0, h, i, d)];
      dk[d] += sc * ds * q[idx(b, 0, h, i, d)];
    }
  }
}

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* op: 0 fwd, 1 jvp, 2 bwd, 3 backward-JVP (dQd, dKd, dVd), 4 backward-JVP with dQ, dK, dV too */
static void run_op(jfa_context_t *ctx, bench_t *b, int op, const jfa_attention_params_t *prm) {
  jfa_tensor_t q = T(b, b->dev[0]), k = T(b, b->dev[1]), v = T(b, b->dev[2]), qd = T(b, b->dev[3]), kd = T(b, b->dev[4]),
               vd = T(b, b->dev[5]), dout = T(b, b->dev[6]), o = T(b, b->o), od = T(b, b->od), dq = T(b, b->dq),
               dk = T(b, b->dk), dv = T(b, b->dv), lse = S(b, b->lse), mu = S(b, b->mu);
  if (op == 0) JK(jfa_attention_forward(ctx, prm, &q, &k, &v, &o, &lse));
  if (op == 1) JK(jfa_attention_forward_jvp(ctx, prm, &q, &k, &v, &qd, &kd, &vd, &o, &lse, &od, &mu));
  if (op == 2) JK(jfa_attention_backward(ctx, prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv));
  if (op == 3 || op == 4) {
    jfa_tensor_t doutd = T(b, b->doutd), dqd = T(b, b->dqd), dkd = T(b, b->dkd), dvd = T(b, b->dvd);
    const int fo = op == 4;
    JK(jfa_attention_backward_jvp(ctx, prm, &q, &k, &v, &qd, &kd, &vd, &o, &lse, &od, &mu, &dout, &doutd, &dqd, &dkd,
                                  &dvd, fo ? &dq : NULL, fo ? &dk : NULL, fo ? &dv : NULL));
  }
}

/* Median time in ms of op (after 3 warm-ups) over iters runs, each between two CUDA events. */
static double median_ms(jfa_context_t *ctx, bench_t *b, int op, const jfa_attention_params_t *prm, int iters) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  float *times = malloc(iters * sizeof(float));
  for (int w = 0; w < 3; ++w) run_op(ctx, b, op, prm);
  CK(cudaDeviceSynchronize());
  for (int it = 0; it < iters; ++it) {
    CK(cudaEventRecord(e0, 0));
    run_op(ctx, b, op, prm);
    CK(cudaEventRecord(e1, 0));
    CK(cudaEventSynchronize(e1));
    CK(cudaEventElapsedTime(&times[it], e0, e1));
  }
  qsort(times, iters, sizeof(float), cmp_f);
  const double ms = times[iters / 2];
  free(times);
  cudaEventDestroy(e0), cudaEventDestroy(e1);
  return ms;
}

static double rel(const double *a, const double *r, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num += (a[i] - r[i]) * (a[i] - r[i]);
    den += r[i] * r[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ------------------------------------------------------------------------- */
/* Output: one row format for every mode                                      */

enum { FMT_TABLE = 0, FMT_CSV = 1, FMT_JSON = 2 };
static int g_fmt = FMT_TABLE;
static int g_rows = 0;
static double g_max_err = -1;

typedef struct {
  const char *op, *family, *dtype;
  int64_t B, H, N, D;
  char mask[32];
  double ms, tflops, err; /* err < 0: not checked */
} row_t;

static const char *family_name(int path, int prec) {
  static const char *names[] = {"simt", "sm80", "sm90"};
  if (path == 1 && prec == 1) return "sm80-tf32";
  if (path == 1 && prec == 3) return "sm80-3x";
  if (path == 2 && prec == 1) return "sm90-tf32";
  if (path == 2 && prec == 3) return "sm90-3x";
  return path >= 0 && path <= 2 ? names[path] : "?";
}

static const char *dtype_name(jfa_dtype_t dt) {
  return dt == JFA_DTYPE_BFLOAT16 ? "bf16" : dt == JFA_DTYPE_FLOAT16 ? "fp16" : "fp32";
}

static void print_header(void) {
  if (g_fmt == FMT_CSV)
    printf("op,family,dtype,B,H,N,D,mask,ms,tflops,err\n");
  else if (g_fmt == FMT_TABLE)
    printf("%-4s %-9s %-5s %4s %4s %6s %4s %-12s %10s %9s %10s\n", "op", "family", "dtype", "B", "H", "N", "D",
           "mask", "ms", "TFLOP/s", "err");
}

static void emit(const row_t *r) {
  char err[32];
  ++g_rows;
  if (r->err >= 0 && r->err > g_max_err) g_max_err = r->err;
  if (g_fmt == FMT_CSV) {
    if (r->err >= 0) snprintf(err, sizeof err, "%.2e", r->err);
    else err[0] = 0;
    printf("%s,%s,%s,%lld,%lld,%lld,%lld,%s,%.4f,%.1f,%s\n", r->op, r->family, r->dtype, (long long)r->B,
           (long long)r->H, (long long)r->N, (long long)r->D, r->mask, r->ms, r->tflops, err);
  } else if (g_fmt == FMT_JSON) {
    if (r->err >= 0) snprintf(err, sizeof err, "%.3e", r->err);
    else snprintf(err, sizeof err, "null");
    printf("{\"op\": \"%s\", \"family\": \"%s\", \"dtype\": \"%s\", \"B\": %lld, \"H\": %lld, \"N\": %lld, "
           "\"D\": %lld, \"mask\": \"%s\", \"ms\": %.4f, \"tflops\": %.2f, \"err\": %s}\n",
           r->op, r->family, r->dtype, (long long)r->B, (long long)r->H, (long long)r->N, (long long)r->D, r->mask,
           r->ms, r->tflops, err);
  } else {
    if (r->err >= 0) snprintf(err, sizeof err, "%10.2e", r->err);
    else snprintf(err, sizeof err, "%10s", "-");
    printf("%-4s %-9s %-5s %4lld %4lld %6lld %4lld %-12s %10.3f %9.1f %s\n", r->op, r->family, r->dtype,
           (long long)r->B, (long long)r->H, (long long)r->N, (long long)r->D, r->mask, r->ms, r->tflops, err);
  }
  fflush(stdout);
}

static void print_summary(void) {
  if (g_fmt != FMT_TABLE) return;
  if (g_max_err >= 0) printf("# %d rows, largest err %.2e\n", g_rows, g_max_err);
  else printf("# %d rows, no error checked\n", g_rows);
}

static void bench_case(jfa_context_t *ctx, jfa_dtype_t dt, int64_t N, int64_t D, int causal, int iters) {
  bench_t b;
  memset(&b, 0, sizeof(b));
  b.dt = dt;
  b.N = N;
  b.D = D;
  b.B = 16384 / N > 0 ? 16384 / N : 1;
  b.H = 2048 / D > 0 ? 2048 / D : 1;
  setup(&b);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  const char *opn[3] = {"fwd", "jvp", "bwd"};
  const double mult[3] = {1.0, 3.0, 2.5};
  run_op(ctx, &b, 0, &prm); /* o, lse for the backward */
  for (int op = 0; op < 3; ++op) {
    double ms = median_ms(ctx, &b, op, &prm, iters);
    const int path = jfa_cuda_last_kernel(ctx, op == 2), prec = jfa_cuda_last_precision(ctx, op == 2);
    double flops = 4.0 * b.B * b.H * (double)N * N * D * (causal ? 0.5 : 1.0) * mult[op];
    double tflops = flops / (ms * 1e-3) / 1e12;
    /* error on sampled rows of batch 0 */
    const int64_t rows[3] = {0, N / 2 + 1, N - 1};
    const int64_t heads[3] = {0, b.H / 2, b.H - 1};
    /* batch 0 only (the references read no other): its N H D elements first in BSHD, its H N rows of lse first */
    const size_t n0 = (size_t)(b.H * N * D), nrow = (size_t)(b.H * N);
    float *got = malloc(n0 * 4), *lse = malloc(nrow * 4), *o = malloc(n0 * 4);
    double *r0 = malloc(D * 8), *r1 = malloc(D * 8), *r2 = malloc(D * 8), *g = malloc(D * 8);
    double num = 0, den = 0;
    download(&b, op == 0 ? b.o : op == 1 ? b.od : b.dq, got, n0, 0);
    if (op == 2) {
      download(&b, b.lse, lse, nrow, 1);
      download(&b, b.o, o, n0, 0);
    }
    for (int s = 0; s < 3; ++s) {
      double l;
      ref_row(&b, heads[s], rows[s], causal, r0, r1, r2, &l);
      const double *r = op == 0 ? r0 : op == 1 ? r1 : r2;
      for (int64_t d = 0; d < D; ++d) {
        g[d] = got[idx(&b, 0, heads[s], rows[s], d)];
        num += (g[d] - r[d]) * (g[d] - r[d]);
        den += r[d] * r[d];
      }
    }
    if (op == 2) {
      float *gk = malloc(n0 * 4), *gv = malloc(n0 * 4);
      download(&b, b.dk, gk, n0, 0);
      download(&b, b.dv, gv, n0, 0);
      /* lse is (B, H, N) contiguous; batch 0 first */
      for (int s = 0; s < 2; ++s) {
        ref_key_row(&b, heads[s], rows[s], causal, lse, o, r0, r1);
        for (int64_t d = 0; d < D; ++d) {
          double x = gk[idx(&b, 0, heads[s], rows[s], d)], y = gv[idx(&b, 0, heads[s], rows[s], d)];
          num += (x - r0[d]) * (x - r0[d]) + (y - r1[d]) * (y - r1[d]);
          den += r0[d] * r0[d] + r1[d] * r1[d];
        }
      }
      free(gk), free(gv);
    }
    double err = den > 0 ? sqrt(num / den) : sqrt(num);
    (void)rel;
    row_t r = {opn[op], family_name(path, prec), dtype_name(dt), b.B, b.H, N, D, "", ms, tflops, err};
    snprintf(r.mask, sizeof r.mask, "%s", causal ? "causal" : "none");
    emit(&r);
    free(got), free(lse), free(o), free(r0), free(r1), free(r2), free(g);
  }
  teardown(&b);
}

/* The backward-JVP (second order) at one dense shape (B = 16384 / N, H = 2048 / D as the sweep): rows bwd
   (the backward, for the ratio), bj (jfa_attention_backward_jvp: dQd, dKd, dVd) and bj1 (with dQ, dK, dV);
   TFLOP/s over the units of 4 N^2 D per (batch, head) (halved when causal): the backward 5 / 2 x fwd, bj 12 / 2
   (S 1, Sd 2, dP 1, dPd 2, dVd 2, dKd 2, dQd 2), bj1 15 / 2 (+ dQ, dK, dV); the target: bj <= 2.5x
   bwd's ms. err not checked (tests/gpu/test_gpu_backward_jvp's job). The family: jfa_cuda_last_kernel(ctx, 2),
   e.g. jfa_bench --bwd-jvp 4096 128 0 (sm90) against JFA_SM90_BWD_JVP=0 jfa_bench --bwd-jvp 4096 128 0 (sm80).
   W >= 0: --window's shape and mask instead (B = 1, causal with window_left = W, TFLOP/s over the visible
   pairs as bench_mask), e.g. jfa_bench --bwd-jvp-window 16384 128 2048. */
static void bench_bwd_jvp(jfa_context_t *ctx, jfa_dtype_t dt, int64_t N, int64_t D, int causal, int64_t W,
                          int iters) {
  bench_t b;
  memset(&b, 0, sizeof(b));
  b.dt = dt;
  b.N = N;
  b.D = D;
  b.B = W >= 0 ? 1 : 16384 / N > 0 ? 16384 / N : 1;
  b.H = 2048 / D > 0 ? 2048 / D : 1;
  setup(&b);
  void **extra[4] = {&b.doutd, &b.dqd, &b.dkd, &b.dvd};
  for (int t = 0; t < 4; ++t) CK(cudaMalloc(extra[t], b.n * b.esz));
  CK(cudaMemcpy(b.doutd, b.dev[4], b.n * b.esz, cudaMemcpyDeviceToDevice)); /* dOd: kd's normal draws */
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = causal || W >= 0 ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  double pairs = (double)b.B * N * N * (causal ? 0.5 : 1.0); /* (query, key) pairs counted, all batches */
  if (W >= 0) {
    prm.window_left = W;
    pairs = 0;
    for (int64_t i = 0; i < N; ++i) pairs += (double)(i < W ? i + 1 : W + 1);
  }
  run_op(ctx, &b, 1, &prm); /* o, lse, od, mu */
  static const char *opn[3] = {"bwd", "bj", "bj1"};
  static const double units[3] = {5.0, 12.0, 15.0};
  for (int r = 0; r < 3; ++r) {
    const int op = r + 2;
    const double ms = median_ms(ctx, &b, op, &prm, iters);
    const int path = jfa_cuda_last_kernel(ctx, op == 2 ? 1 : 2);
    const double flops = 4.0 * b.H * pairs * D * units[r] / 2.0;
    row_t row = {opn[r], family_name(path, 0), dtype_name(dt), b.B, b.H, N, D, "", ms, flops / (ms * 1e-3) / 1e12, -1};
    if (W >= 0) snprintf(row.mask, sizeof row.mask, "window:%lld", (long long)W);
    else snprintf(row.mask, sizeof row.mask, "%s", causal ? "causal" : "none");
    emit(&row);
  }
  for (int t = 0; t < 4; ++t) cudaFree(*extra[t]);
  teardown(&b);
}

/* Masked runs: kind 0 window (causal, window_left = W), 1 causal, 2 varlen, 3 batch, 4 dense, 5 none, 6 key padding
   (row stride 0), 7 key padding materialised, 8 dense (B, H, N, N) */
static void bench_mask(jfa_context_t *ctx, int kind, int64_t B, int64_t N, int64_t D, int64_t W, int64_t S, int iters) {
  bench_t b;
  memset(&b, 0, sizeof(b));
  b.dt = JFA_DTYPE_BFLOAT16;
  b.B = B, b.N = N, b.D = D;
  b.H = 2048 / D > 0 ? 2048 / D : 1;
  setup(&b);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = (kind <= 3) ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  double pairs = 0; /* visible pairs per (batch, head) row set, all batches */
  int64_t *cu = NULL;
  unsigned char *mh = NULL;
  void *md = NULL;
  jfa_tensor_t mt;
  if (kind == 0) {
    prm.window_left = W;
    for (int64_t i = 0; i < N; ++i) pairs += (double)(i < W ? i + 1 : W + 1);
  } else if (kind == 1 || kind == 3) {
    pairs = (double)B * N * (N + 1) / 2;
  } else if (kind == 2) {
    cu = malloc((size_t)(S + 1) * sizeof(int64_t));
    for (int64_t s = 0; s <= S; ++s) cu[s] = s * (N / S);
    prm.cu_seqlens_q = prm.cu_seqlens_k = cu;
    prm.num_seqs = S;
    const int64_t L = N / S;
    pairs = (double)S * L * (L + 1) / 2;
  } else if (kind == 4 || kind == 8) {
    const int64_t ns = kind == 8 ? B * b.H : 1; /* slices: one random (N, N) slice copied to each */
    mh = malloc((size_t)(N * N));
    for (int64_t i = 0; i < N * N; ++i) mh[i] = urand() < 0.5, pairs += mh[i];
    if (kind == 8) pairs *= (double)B; /* per head, all batches (the rate's 4 H pairs D counts the heads) */
    CK(cudaMalloc(&md, (size_t)(ns * N * N)));
    for (int64_t e = 0; e < ns; ++e) CK(cudaMemcpy((char *)md + e * N * N, mh, (size_t)(N * N), cudaMemcpyHostToDevice));
    mt = jfa_tensor_bhsd(md, JFA_DTYPE_BOOL, JFA_DEVICE_CUDA, kind == 8 ? B : 1, kind == 8 ? b.H : 1, N, N);
    prm.attn_mask = &mt;
  } else if (kind == 6 || kind == 7) {
    const int64_t rows = kind == 6 ? 1 : N;
    mh = malloc((size_t)(B * rows * N));
    for (int64_t e = 0; e < B; ++e) {
      const int64_t keep = N - (e + 1) * N / (4 * B);
      pairs += (double)N * keep;
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < N; ++j) mh[(e * rows + i) * N + j] = j < keep;
    }
    CK(cudaMalloc(&md, (size_t)(B * rows * N)));
    CK(cudaMemcpy(md, mh, (size_t)(B * rows * N), cudaMemcpyHostToDevice));
    mt = jfa_tensor_bhsd(md, JFA_DTYPE_BOOL, JFA_DEVICE_CUDA, B, 1, N, N);
    if (kind == 6) mt.stride[2] = 0, mt.stride[1] = mt.stride[0] = N;
    prm.attn_mask = &mt;
  } else {
    pairs = (double)B * N * N;
  }
  const char *opn[3] = {"fwd", "jvp", "bwd"};
  const double mult[3] = {1.0, 3.0, 2.5};
  run_op(ctx, &b, 0, &prm); /* o, lse for the backward */
  for (int op = 0; op < 3; ++op) {
    const double ms = median_ms(ctx, &b, op, &prm, iters);
    const double tflops = 4.0 * b.H * pairs * D * mult[op] / (ms * 1e-3) / 1e12;
    const int path = jfa_cuda_last_kernel(ctx, op == 2), prec = jfa_cuda_last_precision(ctx, op == 2);
    row_t r = {opn[op], family_name(path, prec), "bf16", b.B, b.H, N, D, "", ms, tflops, -1};
    if (kind == 0) snprintf(r.mask, sizeof r.mask, "window:%lld", (long long)W);
    else if (kind == 2) snprintf(r.mask, sizeof r.mask, "varlen:%lld", (long long)S);
    else snprintf(r.mask, sizeof r.mask, "%s",
                  kind == 4   ? "dense"
                  : kind == 8 ? "dense-full"
                  : kind == 5 ? "none"
                  : kind == 6 ? "keypad"
                  : kind == 7 ? "keypad-full"
                              : "causal");
    emit(&r);
  }
  free(cu), free(mh);
  if (md) cudaFree(md);
  teardown(&b);
}

static int parse_dtype(const char *s, jfa_dtype_t *dt) {
  if (!strcmp(s, "bf16")) *dt = JFA_DTYPE_BFLOAT16;
  else if (!strcmp(s, "fp16")) *dt = JFA_DTYPE_FLOAT16;
  else if (!strcmp(s, "fp32")) *dt = JFA_DTYPE_FLOAT32;
  else return 0;
  return 1;
}

int main(int argc, char **argv) {
  int n = 0;
  unsigned flags = 0;
  jfa_dtype_t sweep_dt = JFA_DTYPE_BFLOAT16;
  /* flags first: --csv, --json, --format table|csv|json, --tf32, --dtype (anywhere on the line) */
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--tf32")) flags |= JFA_FLAG_ALLOW_TF32;
    else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
      if (!parse_dtype(argv[++i], &sweep_dt)) {
        fprintf(stderr, "jfa_bench: --dtype: expected bf16, fp16 or fp32, got '%s'\n", argv[i]);
        return 2;
      }
    } else if (!strcmp(argv[i], "--csv")) g_fmt = FMT_CSV;
    else if (!strcmp(argv[i], "--json")) g_fmt = FMT_JSON;
    else if (!strcmp(argv[i], "--format") && i + 1 < argc) {
      const char *f = argv[++i];
      if (!strcmp(f, "csv")) g_fmt = FMT_CSV;
      else if (!strcmp(f, "json")) g_fmt = FMT_JSON;
      else if (!strcmp(f, "table")) g_fmt = FMT_TABLE;
      else {
        fprintf(stderr, "jfa_bench: --format: expected table, csv or json, got '%s'\n", f);
        return 2;
      }
    }
  }
  if (!jfa_cuda_available(&n)) {
    printf("no CUDA GPU\n");
    return 77;
  }
  int iters = getenv("JFA_BENCH_ITERS") ? atoi(getenv("JFA_BENCH_ITERS")) : 20;
  if (iters < 1) iters = 1;
  jfa_context_t *ctx;
  JK(jfa_context_create(&ctx, JFA_DEVICE_CUDA, 0));
  JK(jfa_context_set_flags(ctx, flags));
  print_header();
  for (int i = 1; i < argc; ++i) {
    const int more = argc - 1 - i;
#define ARG(k) atoll(argv[i + (k)])
    int done = 1;
    if (!strcmp(argv[i], "--window") && more >= 3) bench_mask(ctx, 0, 1, ARG(1), ARG(2), ARG(3), 0, iters);
    else if (!strcmp(argv[i], "--causal") && more >= 3) bench_mask(ctx, 1, ARG(1), ARG(2), ARG(3), 0, 0, iters);
    else if (!strcmp(argv[i], "--varlen") && more >= 3) bench_mask(ctx, 2, 1, ARG(1) * ARG(2), ARG(3), 0, ARG(1), iters);
    else if (!strcmp(argv[i], "--batch") && more >= 3) bench_mask(ctx, 3, ARG(1), ARG(2), ARG(3), 0, 0, iters);
    else if (!strcmp(argv[i], "--dense") && more >= 2) bench_mask(ctx, 4, 1, ARG(1), ARG(2), 0, 0, iters);
    else if (!strcmp(argv[i], "--dense-full") && more >= 3) bench_mask(ctx, 8, ARG(1), ARG(2), ARG(3), 0, 0, iters);
    else if (!strcmp(argv[i], "--nomask") && more >= 2) bench_mask(ctx, 5, 1, ARG(1), ARG(2), 0, 0, iters);
    else if (!strcmp(argv[i], "--keypad") && more >= 3) bench_mask(ctx, 6, ARG(1), ARG(2), ARG(3), 0, 0, iters);
    else if (!strcmp(argv[i], "--keypad-full") && more >= 3)
      bench_mask(ctx, 7, ARG(1), ARG(2), ARG(3), 0, 0, iters);
    else if (!strcmp(argv[i], "--bwd-jvp") && more >= 3) {
      jfa_dtype_t dt = sweep_dt;
      if (more >= 4) parse_dtype(argv[i + 4], &dt);
      bench_bwd_jvp(ctx, dt, ARG(1), ARG(2), (int)ARG(3), -1, iters);
    } else if (!strcmp(argv[i], "--bwd-jvp-window") && more >= 3) {
      jfa_dtype_t dt = sweep_dt;
      if (more >= 4) parse_dtype(argv[i + 4], &dt);
      bench_bwd_jvp(ctx, dt, ARG(1), ARG(2), 0, ARG(3), iters);
    } else if (!strcmp(argv[i], "--case") && more >= 3) {
      jfa_dtype_t dt = sweep_dt;
      if (more >= 4) parse_dtype(argv[i + 4], &dt);
      bench_case(ctx, dt, ARG(1), ARG(2), (int)ARG(3), iters);
    } else
      done = 0;
#undef ARG
    if (done) {
      print_summary();
      jfa_context_destroy(ctx);
      return 0;
    }
  }
  const int64_t Ns[3] = {1024, 4096, 16384}, Ds[2] = {64, 128};
  for (int di = 0; di < 2; ++di)
    for (int ni = 0; ni < 3; ++ni)
      for (int c = 0; c < 2; ++c) bench_case(ctx, sweep_dt, Ns[ni], Ds[di], c, iters);
  print_summary();
  jfa_context_destroy(ctx);
  return 0;
}
