/*
 * jfa_attn.c - single-device command-line program: runs jfa's forward, fused
 * forward+JVP and backward on random inputs, prints the time per op, and checks
 * the results against the float64 CPU backend (the reference): on the whole
 * problem when it is small, else on samples of query rows (the reference for a
 * slice of Q, with causal positions) and of key rows (the backward over a slice
 * of K and V, with the device's O and lse). Exits non-zero if a check fails.
 * --window L R adds a sliding window (-1 = unbounded side); --varlen L1,L2,...
 * packs sequences of those lengths (batch 1, N = their sum; always checked in full).
 *
 * Usage:
 *   jfa_attn [--device cpu|cuda] [--dtype float64|float32|float16|bfloat16]
 *            [--batch B] [--heads H] [--kv-heads HKV] [--seq N] [--dim D]
 *            [--causal] [--window L R] [--varlen L1,L2,...]
 *            [--iters I] [--check auto|full|sample] [--seed S]
 *   e.g.  ./build/apps/jfa_attn --device cpu --seq 512 --dim 64 --causal
 *         ./build/apps/jfa_attn --device cpu --causal --window 64 0 --varlen 1,7,129,300
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jfa.h"

#ifdef JFA_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

typedef struct {
  jfa_device_t device;
  jfa_dtype_t dtype;
  int64_t B, H, Hkv, N, D;
  int causal, iters;
  int64_t window_left, window_right; /* JFA_WINDOW_UNBOUNDED unless --window */
  int64_t nseq;                      /* --varlen: number of packed sequences (0: none) */
  int64_t *cu_seqlens;               /* --varlen: nseq + 1 offsets */
  const char *check;
  uint64_t seed;
} opts_t;

/* ---- small helpers -------------------------------------------------------- */

static void die(const char *what) {
  fprintf(stderr, "jfa_attn: %s\n", what);
  exit(2);
}

static void check_status(jfa_status_t st, const char *what) {
  if (st == JFA_SUCCESS) return;
  fprintf(stderr, "jfa_attn: %s failed: %s\n  %s\n", what, jfa_status_string(st), jfa_get_last_error());
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) die("out of memory");
  return p;
}

static double now_s(void) {
  struct timespec ts;
  timespec_get(&ts, TIME_UTC);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng_state;
static double uniform01(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
static double normal(void) {
  double u1 = uniform01(), u2 = uniform01();
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* ---- host dtype conversion (the library's, round to nearest even) -------- */

static void to_dtype(const double *src, void *dst, size_t n, jfa_dtype_t dt) {
  jfa_convert_host(src, JFA_DTYPE_FLOAT64, dst, dt, n);
}
static void from_dtype(const void *src, double *dst, size_t n, jfa_dtype_t dt) {
  jfa_convert_host(src, dt, dst, JFA_DTYPE_FLOAT64, n);
}

/* ---- device memory -------------------------------------------------------- */

static void *dev_alloc(const opts_t *o, size_t bytes) {
  if (o->device == JFA_DEVICE_CPU) return xmalloc(bytes);
#ifdef JFA_HAVE_CUDA
  void *p = NULL;
  if (cudaMalloc(&p, bytes ? bytes : 1) != cudaSuccess) die("cudaMalloc failed");
  return p;
#else
  die("built without CUDA");
  return NULL;
#endif
}
static void dev_free(const opts_t *o, void *p) {
  if (o->device == JFA_DEVICE_CPU) free(p);
#ifdef JFA_HAVE_CUDA
  else cudaFree(p);
#endif
}
static void copy_to_dev(const opts_t *o, void *dst, const void *src, size_t bytes) {
  if (o->device == JFA_DEVICE_CPU) memcpy(dst, src, bytes);
#ifdef JFA_HAVE_CUDA
  else if (cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice) != cudaSuccess) die("cudaMemcpy failed");
#endif
}
static void copy_to_host(const opts_t *o, void *dst, const void *src, size_t bytes) {
  if (o->device == JFA_DEVICE_CPU) memcpy(dst, src, bytes);
#ifdef JFA_HAVE_CUDA
  else if (cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost) != cudaSuccess) die("cudaMemcpy failed");
#endif
}

/* A device tensor with a host copy of its values as doubles. */
typedef struct {
  jfa_tensor_t t;
  double *val;
  size_t n;
} buf_t;

static buf_t buf_new(const opts_t *o, jfa_dtype_t dt, int64_t B, int64_t H, int64_t S, int64_t D) {
  buf_t b;
  b.n = (size_t)(B * H * S * D);
  b.t = jfa_tensor_bhsd(dev_alloc(o, b.n * jfa_dtype_size(dt)), dt, o->device, B, H, S, D);
  b.val = (double *)xmalloc(b.n * sizeof(double));
  for (size_t i = 0; i < b.n; ++i) b.val[i] = NAN; /* poison: outputs must overwrite it */
  return b;
}
/* Host values -> storage (rounded to the dtype); val keeps the rounded values. */
static void buf_upload(const opts_t *o, buf_t *b) {
  void *h = xmalloc(b->n * jfa_dtype_size(b->t.dtype));
  to_dtype(b->val, h, b->n, b->t.dtype);
  from_dtype(h, b->val, b->n, b->t.dtype);
  copy_to_dev(o, b->t.data, h, b->n * jfa_dtype_size(b->t.dtype));
  free(h);
}
static void buf_download(const opts_t *o, buf_t *b) {
  void *h = xmalloc(b->n * jfa_dtype_size(b->t.dtype));
  copy_to_host(o, h, b->t.data, b->n * jfa_dtype_size(b->t.dtype));
  from_dtype(h, b->val, b->n, b->t.dtype);
  free(h);
}
static void buf_free(const opts_t *o, buf_t *b) {
  dev_free(o, b->t.data);
  free(b->val);
}

/* A float64 CPU view of rows [s0, s0 + n) of a contiguous BHSD array of doubles. */
static jfa_tensor_t host_rows(double *x, int64_t B, int64_t H, int64_t S, int64_t D, int64_t s0, int64_t n) {
  jfa_tensor_t t = jfa_tensor_bhsd(x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, S, D);
  t.data = x + s0 * D;
  t.shape[2] = n;
  return t;
}

/* ---- options ------------------------------------------------------------ */

static void usage(void) {
  printf("usage: jfa_attn [--device cpu|cuda] [--dtype float64|float32|float16|bfloat16]\n"
         "                [--batch B] [--heads H] [--kv-heads HKV] [--seq N] [--dim D]\n"
         "                [--causal] [--window L R] [--varlen L1,L2,...]\n"
         "                [--iters I] [--check auto|full|sample] [--seed S]\n");
}

/* A window side: an integer >= -1 (-1 = unbounded). */
static int64_t parse_window(const char *s) {
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (!s[0] || *end || v < -1) {
    fprintf(stderr, "jfa_attn: --window: expected two integers >= -1 (-1 = unbounded), got '%s'\n", s);
    exit(2);
  }
  return (int64_t)v;
}

/* --varlen L1,L2,...: lengths >= 0 into offsets (*cu, n + 1 values); returns n. */
static int64_t parse_varlen(const char *s, int64_t **cu) {
  int64_t n = 1;
  for (const char *c = s; *c; ++c) n += *c == ',';
  *cu = (int64_t *)malloc((size_t)(n + 1) * sizeof(int64_t));
  if (!*cu) die("out of memory");
  (*cu)[0] = 0;
  const char *c = s;
  for (int64_t i = 0; i < n; ++i) {
    char *end = NULL;
    long long v = strtoll(c, &end, 10);
    if (end == c || v < 0 || (*end != ',' && *end != '\0')) {
      fprintf(stderr, "jfa_attn: --varlen: expected comma-separated lengths >= 0, got '%s'\n", s);
      exit(2);
    }
    (*cu)[i + 1] = (*cu)[i] + (int64_t)v;
    c = end + 1;
  }
  if ((*cu)[n] <= 0) die("--varlen: the lengths sum to 0");
  return n;
}

static jfa_dtype_t parse_dtype(const char *s) {
  if (!strcmp(s, "float64") || !strcmp(s, "f64")) return JFA_DTYPE_FLOAT64;
  if (!strcmp(s, "float32") || !strcmp(s, "f32")) return JFA_DTYPE_FLOAT32;
  if (!strcmp(s, "float16") || !strcmp(s, "f16") || !strcmp(s, "fp16")) return JFA_DTYPE_FLOAT16;
  if (!strcmp(s, "bfloat16") || !strcmp(s, "bf16")) return JFA_DTYPE_BFLOAT16;
  die("--dtype: expected float64, float32, float16 or bfloat16");
  return JFA_DTYPE_FLOAT32;
}

static int64_t parse_int(const char *name, const char *s) {
  char *end = NULL;
  long long v = strtoll(s, &end, 10);
  if (!s[0] || *end || v <= 0) {
    fprintf(stderr, "jfa_attn: %s: expected a positive integer, got '%s'\n", name, s);
    exit(2);
  }
  return (int64_t)v;
}

static opts_t parse(int argc, char **argv) {
  opts_t o;
  o.device = jfa_cuda_available(NULL) ? JFA_DEVICE_CUDA : JFA_DEVICE_CPU;
  int dtype_set = 0, iters_set = 0;
  int64_t B = 0, H = 0, Hkv = 0, N = 0, D = 0;
  o.causal = 0;
  o.window_left = o.window_right = JFA_WINDOW_UNBOUNDED;
  o.nseq = 0;
  o.cu_seqlens = NULL;
  o.check = "auto";
  o.seed = (uint64_t)time(NULL);
  o.dtype = JFA_DTYPE_FLOAT32;
  o.iters = 0;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage();
      exit(0);
    }
    if (!strcmp(a, "--causal")) {
      o.causal = 1;
      continue;
    }
    if (i + 1 >= argc) {
      usage();
      die("missing value or unknown option");
    }
    const char *v = argv[++i];
    if (!strcmp(a, "--window")) {
      if (i + 1 >= argc) die("--window: expected two values L R");
      o.window_left = parse_window(v);
      o.window_right = parse_window(argv[++i]);
    } else if (!strcmp(a, "--varlen")) {
      free(o.cu_seqlens);
      o.nseq = parse_varlen(v, &o.cu_seqlens);
    } else if (!strcmp(a, "--device")) {
      if (!strcmp(v, "cpu")) o.device = JFA_DEVICE_CPU;
      else if (!strcmp(v, "cuda")) o.device = JFA_DEVICE_CUDA;
      else die("--device: expected cpu or cuda");
    } else if (!strcmp(a, "--dtype")) o.dtype = parse_dtype(v), dtype_set = 1;
    else if (!strcmp(a, "--batch")) B = parse_int(a, v);
    else if (!strcmp(a, "--heads")) H = parse_int(a, v);
    else if (!strcmp(a, "--kv-heads")) Hkv = parse_int(a, v);
    else if (!strcmp(a, "--seq")) N = parse_int(a, v);
    else if (!strcmp(a, "--dim")) D = parse_int(a, v);
    else if (!strcmp(a, "--iters")) o.iters = (int)parse_int(a, v), iters_set = 1;
    else if (!strcmp(a, "--check")) o.check = v;
    else if (!strcmp(a, "--seed")) o.seed = (uint64_t)strtoull(v, NULL, 0);
    else {
      usage();
      fprintf(stderr, "jfa_attn: unknown option %s\n", a);
      exit(2);
    }
  }
  int gpu = o.device == JFA_DEVICE_CUDA;
  if (!dtype_set) o.dtype = gpu ? JFA_DTYPE_BFLOAT16 : JFA_DTYPE_FLOAT32;
  if (!iters_set) o.iters = gpu ? 20 : 3;
  o.B = B ? B : (gpu ? 2 : 1);
  o.H = H ? H : (gpu ? 16 : 4);
  o.Hkv = Hkv ? Hkv : o.H;
  o.N = N ? N : (gpu ? 4096 : 512);
  if (o.nseq > 0) {
    if (B > 1) die("--varlen: packed sequences need --batch 1");
    if (N && N != o.cu_seqlens[o.nseq]) die("--varlen: --seq differs from the sum of the lengths");
    o.B = 1;
    o.N = o.cu_seqlens[o.nseq];
    if (!strcmp(o.check, "sample")) die("--varlen: only the full check is available (--check full or auto)");
  }
  o.D = D ? D : (gpu ? 128 : 64);
  if (strcmp(o.check, "auto") && strcmp(o.check, "full") && strcmp(o.check, "sample"))
    die("--check: expected auto, full or sample");
  return o;
}

/* Tolerance of the relative error against the float64 reference, by storage dtype. */
static double tolerance(jfa_dtype_t d) {
  switch (d) {
    case JFA_DTYPE_FLOAT64: return 1e-10;
    case JFA_DTYPE_FLOAT32: return 1e-4;
    case JFA_DTYPE_FLOAT16: return 5e-3;
    case JFA_DTYPE_BFLOAT16: return 2e-2;
    case JFA_DTYPE_BOOL: break; /* not a data dtype */
  }
  return 0.0;
}

/* (query, key) pairs that the masks leave visible in one (batch, head), for the
 * FLOP count: per row, the keys of its sequence inside the causal bound and window. */
static double visible_pairs(const opts_t *o) {
  double pairs = 0.0;
  int64_t nseq = o->nseq > 0 ? o->nseq : 1;
  for (int64_t s = 0; s < nseq; ++s) {
    int64_t c0 = o->nseq > 0 ? o->cu_seqlens[s] : 0, c1 = o->nseq > 0 ? o->cu_seqlens[s + 1] : o->N;
    for (int64_t i = c0; i < c1; ++i) {
      int64_t lo = c0, hi = c1 - 1;
      if (o->causal && hi > i) hi = i;
      if (o->window_left >= 0 && lo < i - o->window_left) lo = i - o->window_left;
      if (o->window_right >= 0 && hi > i + o->window_right) hi = i + o->window_right;
      if (hi >= lo) pairs += (double)(hi - lo + 1);
    }
  }
  return pairs;
}

/* ---- error accumulation over (possibly sampled) rows ---------------------- */

typedef struct {
  double num, den;
  size_t nan, inf_mismatch;
} err_t;

static void err_add(err_t *e, double got, double ref) {
  if (isnan(got) || isnan(ref)) {
    e->nan++;
    return;
  }
  if (isinf(got) || isinf(ref)) {
    if (got != ref) e->inf_mismatch++;
    return;
  }
  e->num += (got - ref) * (got - ref);
  e->den += ref * ref;
}

static double err_value(const err_t *e) {
  if (e->nan || e->inf_mismatch) return NAN;
  return e->den > 0 ? sqrt(e->num / e->den) : sqrt(e->num);
}

/* Adds rows [s0, s0+n) of every (b, h) of got (full BHSD, S rows) against ref (B, H, n, D). */
static void err_rows(err_t *e, const double *got, const double *ref, int64_t BH, int64_t S, int64_t D, int64_t s0,
                     int64_t n) {
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t d = 0; d < D; ++d) err_add(e, got[(bh * S + s0 + i) * D + d], ref[(bh * n + i) * D + d]);
}

/* ---- main ----------------------------------------------------------------- */

enum { IQ, IK, IV, IQD, IKD, IVD, IDO, NIN };
enum { OO, OLSE, OOD, OMU, ODQ, ODK, ODV, NOUT };
static const char *out_name[NOUT] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV"};

static double median(double *x, int n) {
  for (int i = 1; i < n; ++i)
    for (int j = i; j > 0 && x[j] < x[j - 1]; --j) {
      double t = x[j];
      x[j] = x[j - 1], x[j - 1] = t;
    }
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

int main(int argc, char **argv) {
  opts_t o = parse(argc, argv);
  rng_state = o.seed;
  const int64_t B = o.B, H = o.H, Hkv = o.Hkv, N = o.N, D = o.D;
  const jfa_dtype_t sdt = o.dtype == JFA_DTYPE_FLOAT64 ? JFA_DTYPE_FLOAT64 : JFA_DTYPE_FLOAT32;
  printf("jfa_attn: device=%s dtype=%s B=%lld H=%lld Hkv=%lld N=%lld D=%lld causal=%d iters=%d seed=%llu\n",
         o.device == JFA_DEVICE_CUDA ? "cuda" : "cpu", jfa_dtype_name(o.dtype), (long long)B, (long long)H,
         (long long)Hkv, (long long)N, (long long)D, o.causal, o.iters, (unsigned long long)o.seed);
  if (o.window_left >= 0 || o.window_right >= 0)
    printf("  window: left %lld, right %lld\n", (long long)o.window_left, (long long)o.window_right);
  if (o.nseq > 0) printf("  packed sequences: %lld, N = %lld\n", (long long)o.nseq, (long long)N);

  jfa_context_t *ctx = NULL, *cpu = NULL;
  check_status(jfa_context_create(&ctx, o.device, 0), "jfa_context_create");
  check_status(jfa_context_create(&cpu, JFA_DEVICE_CPU, 0), "jfa_context_create(cpu)");

  buf_t in[NIN], out[NOUT];
  for (int i = 0; i < NIN; ++i) {
    int kv = i == IK || i == IV || i == IKD || i == IVD;
    in[i] = buf_new(&o, o.dtype, B, kv ? Hkv : H, N, D);
    for (size_t j = 0; j < in[i].n; ++j) in[i].val[j] = normal();
    buf_upload(&o, &in[i]);
  }
  for (int i = 0; i < NOUT; ++i) {
    int kv = i == ODK || i == ODV, stat = i == OLSE || i == OMU;
    out[i] = buf_new(&o, stat ? sdt : o.dtype, B, kv ? Hkv : H, N, stat ? 1 : D);
    buf_upload(&o, &out[i]); /* NaN poison */
  }
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = o.causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  prm.window_left = o.window_left;
  prm.window_right = o.window_right;
  if (o.nseq > 0) prm.cu_seqlens_q = prm.cu_seqlens_k = o.cu_seqlens, prm.num_seqs = o.nseq;
  const int masked = o.nseq > 0 || o.window_left >= 0 || o.window_right >= 0;

  /* timing: one warm-up, then the median of iters runs, each synchronised */
  double pairs = masked ? visible_pairs(&o) : (double)N * (double)N * (o.causal ? 0.5 : 1.0);
  double fwd_flops = 4.0 * (double)B * (double)H * pairs * (double)D;
  const char *op_name[3] = {"forward", "forward+jvp", "backward"};
  double op_flops[3] = {fwd_flops, 3.0 * fwd_flops, 2.5 * fwd_flops};
  double *times = (double *)xmalloc((size_t)o.iters * sizeof(double));
  for (int op = 0; op < 3; ++op) {
    for (int it = -1; it < o.iters; ++it) {
      double t0 = now_s();
      jfa_status_t st;
      if (op == 0) st = jfa_attention_forward(ctx, &prm, &in[IQ].t, &in[IK].t, &in[IV].t, &out[OO].t, &out[OLSE].t);
      else if (op == 1)
        st = jfa_attention_forward_jvp(ctx, &prm, &in[IQ].t, &in[IK].t, &in[IV].t, &in[IQD].t, &in[IKD].t,
                                       &in[IVD].t, &out[OO].t, &out[OLSE].t, &out[OOD].t, &out[OMU].t);
      else
        st = jfa_attention_backward(ctx, &prm, &in[IQ].t, &in[IK].t, &in[IV].t, &out[OO].t, &out[OLSE].t,
                                    &in[IDO].t, &out[ODQ].t, &out[ODK].t, &out[ODV].t);
      check_status(st, op_name[op]);
      check_status(jfa_context_synchronize(ctx), "jfa_context_synchronize");
      if (it >= 0) times[it] = now_s() - t0;
    }
    double med = median(times, o.iters);
    double rate = op_flops[op] / med;
    printf("  %-12s %10.3f ms  %9.2f %s (median of %d)\n", op_name[op], 1e3 * med, rate >= 1e12 ? rate * 1e-12 : rate * 1e-9,
           rate >= 1e12 ? "TFLOP/s" : "GFLOP/s", o.iters);
  }
  free(times);
  for (int i = 0; i < NOUT; ++i) buf_download(&o, &out[i]);

  /* the reference: the float64 CPU backend on the same (rounded) inputs */
  double work = (double)B * (double)H * pairs * (double)D;
  int full = !strcmp(o.check, "full") || o.nseq > 0 || (!strcmp(o.check, "auto") && work <= (double)(1 << 27));
  err_t err[NOUT];
  memset(err, 0, sizeof err);
  jfa_attention_params_t rp; /* the sampled checks: slices at explicit positions keep the window */
  jfa_attention_params_init(&rp);
  rp.window_left = o.window_left;
  rp.window_right = o.window_right;
  const jfa_mask_t slice_mask = o.causal ? JFA_MASK_CAUSAL_POSITIONS : JFA_MASK_POSITIONS;
  double *x[NIN];
  for (int i = 0; i < NIN; ++i) x[i] = in[i].val;
  if (full) {
    printf("  check: full problem against the float64 CPU reference\n");
    double *r[NOUT];
    jfa_tensor_t rt[NOUT], it[NIN];
    for (int i = 0; i < NIN; ++i) it[i] = host_rows(x[i], B, in[i].t.shape[1], N, D, 0, N);
    for (int i = 0; i < NOUT; ++i) {
      r[i] = (double *)xmalloc(out[i].n * sizeof(double));
      rt[i] = host_rows(r[i], B, out[i].t.shape[1], N, out[i].t.shape[3], 0, N);
    }
    check_status(jfa_attention_forward_jvp(cpu, &prm, &it[IQ], &it[IK], &it[IV], &it[IQD], &it[IKD], &it[IVD],
                                           &rt[OO], &rt[OLSE], &rt[OOD], &rt[OMU]),
                 "reference forward_jvp");
    check_status(jfa_attention_backward(cpu, &prm, &it[IQ], &it[IK], &it[IV], &rt[OO], &rt[OLSE], &it[IDO], &rt[ODQ],
                                        &rt[ODK], &rt[ODV]),
                 "reference backward");
    for (int i = 0; i < NOUT; ++i) {
      for (size_t j = 0; j < out[i].n; ++j) err_add(&err[i], out[i].val[j], r[i][j]);
      free(r[i]);
    }
  } else {
    /* sampled rows: chunks at the start, middle and end of the sequence */
    const int64_t R = N < 32 ? N : 32;
    int64_t starts[3] = {0, (N - R) / 2, N - R};
    printf("  check: sampled rows {%lld, %lld, %lld} + %lld of every (batch, head) against the float64 CPU "
           "reference; dK/dV rows use the device's O and lse\n",
           (long long)starts[0], (long long)starts[1], (long long)starts[2], (long long)R);
    double *ro = xmalloc((size_t)(B * H * R * D) * 8), *rl = xmalloc((size_t)(B * H * R) * 8),
           *rod = xmalloc((size_t)(B * H * R * D) * 8), *rmu = xmalloc((size_t)(B * H * R) * 8),
           *rdq = xmalloc((size_t)(B * H * R * D) * 8), *sk = xmalloc((size_t)(B * Hkv * R * D) * 8),
           *sv = xmalloc((size_t)(B * Hkv * R * D) * 8), *sq = xmalloc((size_t)(B * H * N * D) * 8);
    for (int c = 0; c < 3; ++c) {
      if (c > 0 && starts[c] == starts[c - 1]) continue;
      int64_t s0 = starts[c];
      /* query rows s0..s0+R: forward, JVP and dQ with Q sliced (causal: q_position = s0) */
      jfa_attention_params_t qp = rp;
      if (o.causal || masked) qp.mask = slice_mask, qp.q_position = s0, qp.k_position = 0;
      jfa_tensor_t q = host_rows(x[IQ], B, H, N, D, s0, R), qd = host_rows(x[IQD], B, H, N, D, s0, R),
                   dO = host_rows(x[IDO], B, H, N, D, s0, R), k = host_rows(x[IK], B, Hkv, N, D, 0, N),
                   v = host_rows(x[IV], B, Hkv, N, D, 0, N), kd = host_rows(x[IKD], B, Hkv, N, D, 0, N),
                   vd = host_rows(x[IVD], B, Hkv, N, D, 0, N);
      jfa_tensor_t to = host_rows(ro, B, H, R, D, 0, R), tl = host_rows(rl, B, H, R, 1, 0, R),
                   tod = host_rows(rod, B, H, R, D, 0, R), tmu = host_rows(rmu, B, H, R, 1, 0, R),
                   tdq = host_rows(rdq, B, H, R, D, 0, R);
      jfa_tensor_t tdk = jfa_tensor_bhsd(sk, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, Hkv, N, D);
      jfa_tensor_t tdv = jfa_tensor_bhsd(sv, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, Hkv, N, D);
      double *dk_full = xmalloc((size_t)(B * Hkv * N * D) * 8), *dv_full = xmalloc((size_t)(B * Hkv * N * D) * 8);
      tdk.data = dk_full, tdv.data = dv_full; /* partial dK/dV of the slice: not compared */
      check_status(jfa_attention_forward_jvp(cpu, &qp, &q, &k, &v, &qd, &kd, &vd, &to, &tl, &tod, &tmu),
                   "reference forward_jvp (rows)");
      check_status(jfa_attention_backward(cpu, &qp, &q, &k, &v, &to, &tl, &dO, &tdq, &tdk, &tdv),
                   "reference backward (rows)");
      free(dk_full), free(dv_full);
      err_rows(&err[OO], out[OO].val, ro, B * H, N, D, s0, R);
      err_rows(&err[OLSE], out[OLSE].val, rl, B * H, N, 1, s0, R);
      err_rows(&err[OOD], out[OOD].val, rod, B * H, N, D, s0, R);
      err_rows(&err[OMU], out[OMU].val, rmu, B * H, N, 1, s0, R);
      err_rows(&err[ODQ], out[ODQ].val, rdq, B * H, N, D, s0, R);
      /* key rows s0..s0+R: dK, dV from the backward over a K/V slice with the device's O and lse */
      jfa_attention_params_t kp = rp;
      if (o.causal || masked) kp.mask = slice_mask, kp.q_position = 0, kp.k_position = s0;
      jfa_tensor_t qf = host_rows(x[IQ], B, H, N, D, 0, N), dof = host_rows(x[IDO], B, H, N, D, 0, N),
                   ks = host_rows(x[IK], B, Hkv, N, D, s0, R), vs = host_rows(x[IV], B, Hkv, N, D, s0, R),
                   of = host_rows(out[OO].val, B, H, N, D, 0, N), lf = host_rows(out[OLSE].val, B, H, N, 1, 0, N),
                   tsq = host_rows(sq, B, H, N, D, 0, N), tsk = host_rows(sk, B, Hkv, R, D, 0, R),
                   tsv = host_rows(sv, B, Hkv, R, D, 0, R);
      check_status(jfa_attention_backward(cpu, &kp, &qf, &ks, &vs, &of, &lf, &dof, &tsq, &tsk, &tsv),
                   "reference backward (key rows)");
      err_rows(&err[ODK], out[ODK].val, sk, B * Hkv, N, D, s0, R);
      err_rows(&err[ODV], out[ODV].val, sv, B * Hkv, N, D, s0, R);
    }
    free(ro), free(rl), free(rod), free(rmu), free(rdq), free(sk), free(sv), free(sq);
  }

  double tol = tolerance(o.dtype);
  int failed = 0;
  for (int i = 0; i < NOUT; ++i) {
    double e = err_value(&err[i]);
    int ok = !isnan(e) && e <= tol;
    failed += !ok;
    printf("  %-4s rel err %.3e (tol %.0e)%s%s\n", out_name[i], e, tol, err[i].nan ? " NaN/unwritten" : "",
           ok ? "" : "  FAIL");
  }
  printf("jfa_attn: %s\n", failed ? "CHECK FAILED" : "check passed");

  for (int i = 0; i < NIN; ++i) buf_free(&o, &in[i]);
  for (int i = 0; i < NOUT; ++i) buf_free(&o, &out[i]);
  jfa_context_destroy(ctx);
  jfa_context_destroy(cpu);
  free(o.cu_seqlens);
  return failed ? 1 : 0;
}
