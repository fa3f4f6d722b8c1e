/*
 * gpu_test.c - implementation of gpu_test.h (see there).
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv, strdup, clock_gettime */
#include "gpu_test.h"

#include "core/backend.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void cuda_ok(cudaError_t e, const char *what) {
  if (e != cudaSuccess) {
    fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    exit(1);
  }
}

gbuf_t gb_new(jfa_dtype_t dtype, int bshd, int64_t B, int64_t H, int64_t S, int64_t D) {
  gbuf_t b;
  memset(&b, 0, sizeof(b));
  b.n = (size_t)(B * H * S * D);
  b.bytes = b.n * jfa_dtype_size(dtype);
  void *p = NULL;
  cuda_ok(cudaMalloc(&p, b.bytes ? b.bytes : 1), "cudaMalloc");
  b.t = bshd ? jfa_tensor_bshd(p, dtype, JFA_DEVICE_CUDA, B, S, H, D)
             : jfa_tensor_bhsd(p, dtype, JFA_DEVICE_CUDA, B, H, S, D);
  b.val = (double *)calloc(b.n ? b.n : 1, sizeof(double));
  return b;
}

/* host staging with the device tensor's strides */
static void *staging(const gbuf_t *b, jfa_tensor_t *ht) {
  void *h = malloc(b->bytes ? b->bytes : 1);
  *ht = b->t;
  ht->data = h;
  ht->device = JFA_DEVICE_CPU;
  return h;
}

void gb_set(gbuf_t *b, const double *values) {
  for (size_t i = 0; i < b->n; ++i) b->val[i] = tu_round(values[i], b->t.dtype);
  jfa_tensor_t ht;
  void *h = staging(b, &ht);
  tu_scatter(b->val, &ht);
  cuda_ok(cudaMemcpy(b->t.data, h, b->bytes, cudaMemcpyHostToDevice), "upload");
  free(h);
}

void gb_random(gbuf_t *b, double scale) {
  double *x = (double *)malloc((b->n ? b->n : 1) * sizeof(double));
  tu_fill_normal(x, b->n, scale);
  gb_set(b, x);
  free(x);
}

void gb_poison(gbuf_t *b) {
  void *h = malloc(b->bytes ? b->bytes : 1);
  tu_poison(h, b->n, b->t.dtype);
  cuda_ok(cudaMemcpy(b->t.data, h, b->bytes, cudaMemcpyHostToDevice), "poison");
  free(h);
}

void gb_get(gbuf_t *b) {
  cuda_ok(cudaDeviceSynchronize(), "synchronize");
  jfa_tensor_t ht;
  void *h = staging(b, &ht);
  cuda_ok(cudaMemcpy(h, b->t.data, b->bytes, cudaMemcpyDeviceToHost), "download");
  tu_gather(&ht, b->val);
  free(h);
}

void gb_free(gbuf_t *b) {
  cudaFree(b->t.data);
  free(b->val);
  memset(b, 0, sizeof(*b));
}

double *gb_snapshot(gbuf_t *const *b, int n) {
  size_t tot = 0;
  for (int i = 0; i < n; ++i) tot += b[i]->n;
  double *s = (double *)malloc((tot + 1) * sizeof(double)), *w = s;
  for (int i = 0; i < n; ++i) gb_get(b[i]), memcpy(w, b[i]->val, b[i]->n * sizeof(double)), w += b[i]->n;
  return s;
}

int gb_same(gbuf_t *const *b, int n, const double *ref) { return gb_first_diff(b, n, ref, NULL) < 0; }

int gb_first_diff(gbuf_t *const *b, int n, const double *ref, size_t *count) {
  const double *r = ref;
  for (int i = 0; i < n; ++i) {
    gb_get(b[i]);
    size_t d = 0;
    for (size_t x = 0; x < b[i]->n; ++x) d += memcmp(&b[i]->val[x], &r[x], sizeof(double)) != 0;
    r += b[i]->n;
    if (d) {
      if (count) *count = d;
      return i;
    }
  }
  if (count) *count = 0;
  return -1;
}

jfa_tensor_t host_f64(double *val, int64_t B, int64_t H, int64_t S, int64_t D) {
  return jfa_tensor_bhsd(val, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, S, D);
}

void gt_require_gpu(void) {
  int n = 0;
  if (!jfa_cuda_available(&n)) {
    printf("no CUDA GPU: skipped\n");
    exit(TU_SKIP);
  }
}

void gt_ok(jfa_status_t s, const char *what) {
  if (s != JFA_SUCCESS) {
    fprintf(stderr, "%s failed: %s: %s\n", what, jfa_status_string(s), jfa_get_last_error());
    tu_expect(what, 0);
    exit(tu_finish() ? tu_finish() : 1);
  }
}

int gt_parse_lens(const char *s, int64_t *lens, int max) {
  int n = 0;
  while (s && *s && n < max) {
    lens[n++] = strtoll(s, (char **)&s, 10);
    if (*s == ',') ++s;
  }
  return n;
}

int gt_packed_offsets(const char *seq_q, const char *seq_k, int64_t *cq, int64_t *ck, int64_t *Nq, int64_t *Nk) {
  int64_t lq[64], lk[64];
  const int ns = gt_parse_lens(seq_q, lq, 64);
  if (gt_parse_lens(seq_k ? seq_k : seq_q, lk, 64) != ns) {
    tu_expect("case table: seq_q and seq_k have the same count", 0);
    return -1;
  }
  cq[0] = ck[0] = 0;
  for (int s = 0; s < ns; ++s) cq[s + 1] = cq[s] + lq[s], ck[s + 1] = ck[s] + lk[s];
  *Nq = cq[ns], *Nk = ck[ns];
  return ns;
}

jfa_tensor_t gt_rows(const jfa_tensor_t *t, int axis, int64_t r0, int64_t n) {
  jfa_tensor_t v = *t;
  v.data = (char *)t->data + (size_t)(r0 * t->stride[axis]) * jfa_dtype_size(t->dtype);
  v.shape[axis] = n;
  return v;
}

int gt_row_zero(const double *x, int64_t r, int64_t D) {
  for (int64_t d = 0; d < D; ++d)
    if (x[r * D + d] != 0.0) return 0;
  return 1;
}

double gt_tol(jfa_dtype_t dtype) {
  switch (dtype) {
    case JFA_DTYPE_BFLOAT16: return 1e-2;
    case JFA_DTYPE_FLOAT16: return 2e-3;
    case JFA_DTYPE_FLOAT32: return 1e-5;
    default: return 1e-12;
  }
}

int gt_compare(const char *name, const double *got, const double *ref, size_t n, double tol) {
  return gt_compare_floor(name, got, ref, n, tol, 0.0);
}

int gt_compare_floor(const char *name, const double *got, const double *ref, size_t n, double tol, double floor_rms) {
  size_t nan = tu_count_nan(got, n);
  if (nan) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%s: %zu NaN / unwritten elements of %zu", name, nan, n);
    return tu_expect(buf, 0);
  }
  return tu_check(name, tu_rel_err_floor(got, ref, n, floor_rms), tol);
}

void gt_require_sm90(const char *name, int (*path_of)(int64_t), const int *dims) {
  gt_require_gpu();
  for (int i = 0; dims[i] != 0; ++i)
    if (path_of(dims[i]) == GT_PATH_SM90) return;
  printf("%s: none of its head dims runs on the sm90 family here (not compute capability 9.0 with the sm_90a "
         "kernels, JFA_HEAD_DIMS, or JFA_KERNEL_PATH): nothing to compare\n", name);
  exit(TU_SKIP);
}

int gt_main(int argc, char **argv, const char *name, int ncases, gt_case_fn run_case) {
  gt_require_gpu();
  tu_init_seed(name);
  jfa_context_t *gpu = NULL, *cpu = NULL;
  gt_ok(jfa_context_create(&gpu, JFA_DEVICE_CUDA, 0), "context_create(CUDA)");
  gt_ok(jfa_context_create(&cpu, JFA_DEVICE_CPU, 0), "context_create(CPU)");
  if (argc > 1) {
    run_case(atoi(argv[1]) % ncases, gpu, cpu);
  } else {
    /* each case's wall time (the device suite's budget: which cases cost the time) */
    double total = 0.0;
    for (int i = 0; i < ncases; ++i) {
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      run_case(i, gpu, cpu);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      const double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
      total += sec;
      if (sec >= 1.0) printf("  (case %d took %.1f s)\n", i, sec);
    }
    printf("  (%d cases in %.1f s)\n", ncases, total);
  }
  jfa_context_destroy(gpu);
  jfa_context_destroy(cpu);
  return tu_finish();
}

/* Whether this build compiled the tensor-core row a 16-bit call at head dim D runs at (the sm80 rows 32, 64, 96, 128,
   160, 192, 256: D rounded up; the sm90 head dims are rows of their own): a development build's head-dim subset
   (JFA_HEAD_DIMS, src/kernels/sources.cmake) leaves the others to simt. */
static int row_built(int64_t D) {
#ifdef JFA_TEST_HEAD_DIMS_MASK
  static const int rows[] = {32, 64, 96, 128, 160, 192, 256};
  for (int i = 0; i < 7; ++i)
    if (D <= rows[i]) return (int)((JFA_TEST_HEAD_DIMS_MASK >> (rows[i] / 32)) & 1);
  return 0;
#else
  (void)D;
  return 1;
#endif
}

/* The family of a 16-bit call at head dim D whose sm90 kernels take head dims `dims` (0-ended). */
static int expected_path(int64_t D, const int *dims) {
  const char *e = getenv("JFA_KERNEL_PATH");
  if (e && strcmp(e, "simt") == 0) return GT_PATH_SIMT;
  if (!row_built(D)) return GT_PATH_SIMT;
  int sm90 = 0;
#ifdef JFA_HAVE_SM90A
  int major = 0, minor = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) == cudaSuccess &&
      cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0) == cudaSuccess)
    sm90 = major == 9 && minor == 0;
#endif
  int taken = 0;
  for (int i = 0; dims[i]; ++i) taken |= D == dims[i];
  /* JFA_KERNEL_PATH=sm80, or mma (its old name): no sm90 family */
  if (sm90 && taken && !(e && (strcmp(e, "sm80") == 0 || strcmp(e, "mma") == 0))) return GT_PATH_SM90;
  return GT_PATH_SM80;
}

int gt_expected_path(int64_t D) {
  static const int dims[] = {64, 96, 128, 192, 256, 0};
  return expected_path(D, dims);
}

int gt_expected_jvp_path(int64_t D) {
  static const int dims[] = {64, 96, 128, 192, 256, 0};
  return expected_path(D, dims);
}

int gt_expected_bwd_path(int64_t D) {
  static const int dims[] = {64, 96, 128, 192, 256, 0};
  const int f = expected_path(D, dims);
  if (f != GT_PATH_SM90) return f;
  const char *e = getenv("JFA_SM90_BWD");
  return e && strcmp(e, "0") == 0 ? GT_PATH_SM80 : GT_PATH_SM90;
}

int gt_expected_f32_path(int64_t D, int jvp, int beyond_causal) {
  const char *e = getenv("JFA_KERNEL_PATH");
  if (e && strcmp(e, "simt") == 0) return GT_PATH_SIMT;
  /* the sm80 float32 rows (sm80/tiles.h): D up to 256, run at the next row up with float32 tiles, where the build
     compiled that row (JFA_HEAD_DIMS) */
  /* (the forward has no float32 rows at 160 / 192: it runs them on the D = 256 row, sm80/family.cu call_head_dim) */
  if (D % 4 != 0 || D > 256 || !row_built(!jvp && D > 128 ? 256 : D)) return GT_PATH_SIMT;
#ifdef JFA_SM90_F32
  static const int fwd_dims[] = {32, 64, 128, 0}, jvp_dims[] = {32, 64, 0};
  if (!beyond_causal && expected_path(D, jvp ? jvp_dims : fwd_dims) == GT_PATH_SM90) return GT_PATH_SM90;
#endif
  return GT_PATH_SM80;
}

/* src/kernels/sm90/tiles.h kSm90F32Dense (boolean dense masks on the sm90 float32 forward / JVP): keep in step */
#define GT_SM90_F32_DENSE_DEFAULT 1

/* A library switch's state as the tests expect it: env when set ("0" off), else the library's default (mirrored). */
static int env_on(const char *env, int dflt) {
  const char *e = getenv(env);
  return e ? strcmp(e, "0") != 0 : dflt;
}

int gt_sm90_f32_dense_on(void) { return env_on("JFA_SM90_F32_DENSE", GT_SM90_F32_DENSE_DEFAULT); }

/* src/kernels/sm90/tiles.h kSm90Bias (16-bit additive masks of aligned rows on the sm90 forward / JVP; on): keep in
   step */
#define GT_SM90_BIAS_DEFAULT 1

int gt_sm90_bias_on(void) { return env_on("JFA_SM90_BIAS", GT_SM90_BIAS_DEFAULT); }

/* src/kernels/sm90/tiles.h kSm90PadDense (16-bit calls with a dense mask at a head dim below 64, a multiple of 8, on
   the D = 64 sm90 kernels; on): keep in step */
#define GT_SM90_PAD_DENSE_DEFAULT 1

int gt_dense_dim(int64_t D) {
  const int pad = D >= 8 && D < 64 && D % 8 == 0 && env_on("JFA_SM90_PAD_DENSE", GT_SM90_PAD_DENSE_DEFAULT);
  return pad ? 64 : (int)D;
}

int gt_expected_dense_path(int64_t D) {
  const int Dk = gt_dense_dim(D);
  if (Dk != D && gt_expected_path(Dk) == GT_PATH_SM90) return GT_PATH_SM90;
  return gt_expected_path(D);
}

int gt_expected_dense_bwd_path(int64_t D, int bias16) {
  const int Dk = gt_dense_dim(D);
  const int e = bias16 ? gt_expected_bwd_bias_path(Dk) : gt_expected_bwd_path(Dk);
  if (Dk != D && e == GT_PATH_SM90) return GT_PATH_SM90;
  return bias16 ? gt_expected_bwd_bias_path(D) : gt_expected_bwd_path(D);
}

/* src/kernels/sm90/tiles.h sm90_fwd_band_on (windows as bands on the unmasked kernels: the JVP's, not the
   forward's, since the twenty-first session): keep in step */
#define GT_SM90_FWD_BAND_JVP 1
#define GT_SM90_FWD_BAND_FWD 0

int gt_expected_route(int windowed, int packed, int dense, int jvp) {
  const int band_on = env_on("JFA_SM90_FWD_BAND", jvp ? GT_SM90_FWD_BAND_JVP : GT_SM90_FWD_BAND_FWD);
  const int packed_band = packed == 2 && env_on("JFA_SM90_FWD_PACKED_BAND", 1);
  if (packed < 0 && !dense) return -1;
  if (!dense && band_on && (packed ? packed_band : windowed)) return GT_ROUTE_BAND;
  return windowed || packed || dense ? GT_ROUTE_MASKED : 0;
}

int gt_packed_kind(int64_t D, int jvp, const int64_t *cq, const int64_t *ck, int ns) {
  if (ns <= 0) return 0;
  /* fwd.cuh sm90_fwd_variant's alignment, row 0's tiles: lcm(row block, key block); the JVP's row blocks 128 (64 at D
     = 192 / 256, the column split), its key blocks 128 / 64 / 64 / 64 / 64 at D = 64 / 96 / 128 / 192 / 256 (D = 192
     at 48 before the thirty-eighth session: aligned to 192 then); the
     forward's rows 192 at D = 64 / 96 (three consumers), else 128, its keys 128 / 96 / 128 / 112 / 80, and at D = 64
     / 128 (persistent kernels) also 128 rows and 128 keys */
  int64_t align;
  if (jvp) align = D == 192 || D == 256 ? 64 : 128;
  else align = D == 64 ? 384 : D == 96 ? 192 : D == 192 ? 896 : D == 256 ? 640 : 128;
  const int64_t N = cq[ns];
  int aligned = 1;
  for (int s = 0; s <= ns; ++s) {
    if (cq[s] != ck[s]) return 1;
    if (cq[s] > 0 && cq[s] < N && cq[s] % align != 0) aligned = 0;
  }
  /* tuning variants: other blocks (80 keys at D = 128, 176 at D = 64, ..) */
  if (getenv("JFA_TUNE_SM90A")) return -1;
  return aligned ? 2 : 1;
}

int gt_expected_fwd_persist(int64_t D, int windowed, int packed, int dense) {
  if (getenv("JFA_TUNE_SM90A")) return -1; /* tuning variants pick their own kernels */
  if (dense) return 0;
  return D == 128 || (D == 64 && (windowed || packed));
}

void gt_params_masks(jfa_attention_params_t *prm, jfa_mask_t mask, int64_t qpos, int64_t kpos, int64_t wl, int64_t wr,
                     int64_t ns, const int64_t *cq, const int64_t *ck) {
  jfa_attention_params_init(prm);
  prm->mask = mask;
  prm->q_position = qpos;
  prm->k_position = kpos;
  prm->window_left = wl;
  prm->window_right = wr;
  if (ns) prm->cu_seqlens_q = cq, prm->cu_seqlens_k = ck, prm->num_seqs = ns;
}

char *gt_env_copy(const char *name) {
  const char *v = getenv(name);
  return v ? strdup(v) : NULL;
}

void gt_set_env(const char *name, const char *value) {
  if (value) setenv(name, value, 1);
  else unsetenv(name);
}

/* The check of both: the route got (what: "" or "backward ") in the bits against want (< 0: no expectation, passes) */
static int check_route_bits(const char *name, const char *what, int got, int bits, int want) {
  if (want < 0) return 1; /* no expectation (gt_expected_route: tuning variants' packed sequences) */
  char msg[256];
  snprintf(msg, sizeof(msg), "%s %stook route %d (expected %d in bits %d: persistent 1, masked 2, band 4)", name, what,
           got, want, bits);
  return tu_expect(msg, got >= 0 && (got & bits) == want);
}

int gt_check_route(jfa_context_t *gpu, const char *name, int bits, int want) {
  return check_route_bits(name, "", jfa_cuda_last_route(gpu), bits, want);
}

int gt_check_bwd_route(jfa_context_t *gpu, const char *name, int bits, int want) {
  return check_route_bits(name, "backward ", jfa_cuda_last_bwd_route(gpu), bits, want);
}

/* src/kernels/sm90/tiles.h kSm90BwdPersist / kSm90BwdPersistMaxNk (the persistent 16-bit backward: off by default):
   keep in step */
#define GT_SM90_BWD_PERSIST_DEFAULT 0
#define GT_SM90_BWD_PERSIST_MAX_NK 4096

int gt_expected_bwd_persist(int64_t Nk) {
  if (getenv("JFA_TUNE_SM90_BWD") || getenv("JFA_TUNE_BWD_OLD")) return -1; /* tuning variants pick their kernels */
  return env_on("JFA_SM90_BWD_PERSIST", GT_SM90_BWD_PERSIST_DEFAULT && Nk <= GT_SM90_BWD_PERSIST_MAX_NK);
}

/* src/kernels/sm90/tiles.h kSm90BwdBias (16-bit additive masks of aligned rows on the sm90 backward but at D = 256;
   on): keep in step */
#define GT_SM90_BWD_BIAS_DEFAULT 1

int gt_sm90_bwd_bias_on(void) { return env_on("JFA_SM90_BWD_BIAS", GT_SM90_BWD_BIAS_DEFAULT); }

int gt_expected_bwd_bias_path(int64_t D) {
  const int f = gt_expected_bwd_path(D);
  return f == GT_PATH_SM90 && (D == 256 || !gt_sm90_bwd_bias_on()) ? GT_PATH_SM80 : f;
}

/* src/kernels/sm90/tiles.h kSm90BwdF32Dense (boolean dense masks on the sm90 float32 backward; on): keep in step */
#define GT_SM90_F32_BWD_DENSE_DEFAULT 1

int gt_sm90_f32_bwd_dense_on(void) { return env_on("JFA_SM90_F32_BWD_DENSE", GT_SM90_F32_BWD_DENSE_DEFAULT); }

/* src/kernels/sm90/tiles.h kSm90BwdF32 (the sm90 float32 backward on by default): keep in step */
#define GT_SM90_F32_BWD_DEFAULT 1
/* src/kernels/sm80/tiles.h kSm80F32Bwd256 (the float32 D = 256 backward on by default): keep in step */
#define GT_SM80_F32_BWD256_DEFAULT 1

int gt_expected_f32_bwd_path(int64_t D, int beyond_causal) {
  const char *e = getenv("JFA_KERNEL_PATH");
  if (e && strcmp(e, "simt") == 0) return GT_PATH_SIMT;
  /* the sm80 float32 backward rows (sm80/tiles.h): 32..128 (D run at the next row up) and 128 < D <= 256
     at the D = 256 row (two column slices), unless JFA_SM80_F32_BWD256=0 (the test_gpu_f32_backward_nowide
     entry) leaves those to simt; a row the build did not compile (JFA_HEAD_DIMS) too: the D = 256 row for D > 128 */
  if (D % 4 != 0 || D > 256 || !row_built(D > 128 ? 256 : D)) return GT_PATH_SIMT;
  if (D > 128) {
    return env_on("JFA_SM80_F32_BWD256", GT_SM80_F32_BWD256_DEFAULT) ? GT_PATH_SM80 : GT_PATH_SIMT;
  }
#ifdef JFA_SM90_F32
  static const int dims[] = {64, 0};
  const int enabled = env_on("JFA_SM90_F32_BWD", GT_SM90_F32_BWD_DEFAULT);
  if (enabled && !beyond_causal && env_on("JFA_SM90_BWD", 1) && expected_path(D, dims) == GT_PATH_SM90)
    return GT_PATH_SM90;
#endif
  (void)beyond_causal;
  return GT_PATH_SM80;
}

/* src/kernels/sm90/tiles.h kSm90BwdJvp (the sm90 backward-JVP on by default): keep in step */
#define GT_SM90_BWD_JVP_DEFAULT 1

int gt_expected_bwd_jvp_path(jfa_dtype_t dtype, int64_t D, int dense, int first_order) {
  const char *e = getenv("JFA_KERNEL_PATH");
  if (e && strcmp(e, "simt") == 0) return GT_PATH_SIMT;
  const int half = dtype == JFA_DTYPE_BFLOAT16 || dtype == JFA_DTYPE_FLOAT16;
  if (!half || D > 128 || !row_built(D)) return GT_PATH_SIMT;
  static const int dims[] = {64, 128, 0};
  const int enabled = env_on("JFA_SM90_BWD_JVP", GT_SM90_BWD_JVP_DEFAULT);
  const int bwd_off = !env_on("JFA_SM90_BWD", 1);
  if (enabled && !dense && !(first_order && bwd_off) && expected_path(D, dims) == GT_PATH_SM90)
    return GT_PATH_SM90;
  return GT_PATH_SM80;
}

int gt_check_path(jfa_context_t *gpu, const char *name, int backward, int want) {
  const int got = jfa_cuda_last_kernel(gpu, backward);
  static const char *names[] = {"simt", "sm80", "sm90"};
  char msg[256];
  snprintf(msg, sizeof(msg), "%s ran on %s (expected %s)", name, got >= 0 && got <= 2 ? names[got] : "?",
           names[want]);
  return tu_expect(msg, got == want);
}

int gt_tensor_core_dim(jfa_dtype_t dtype, int64_t D) {
  return (dtype == JFA_DTYPE_BFLOAT16 || dtype == JFA_DTYPE_FLOAT16) && D % 8 == 0 && D > 0 && D <= 256 && row_built(D);
}

int gt_check_tensor_core(jfa_context_t *gpu, const char *name, int backward) {
  const char *e = getenv("JFA_KERNEL_PATH");
  const int got = jfa_cuda_last_kernel(gpu, backward);
  static const char *names[] = {"simt", "sm80", "sm90"};
  int ok;
  const char *want;
  if (e && strcmp(e, "simt") == 0) {
    ok = got == GT_PATH_SIMT, want = "simt";
  } else if (e && (strcmp(e, "sm80") == 0 || strcmp(e, "mma") == 0)) {
    ok = got == GT_PATH_SM80, want = "sm80";
  } else {
    ok = got == GT_PATH_SM80 || got == GT_PATH_SM90, want = "sm80 or sm90";
  }
  char msg[256];
  snprintf(msg, sizeof(msg), "%s ran on %s (expected %s)", name, got >= 0 && got <= 2 ? names[got] : "?", want);
  return tu_expect(msg, ok);
}
