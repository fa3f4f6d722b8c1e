/*
 * jfa_attn.c - single-device command-line program: makes deterministic inputs where
 * they live (a kernel on the GPU, threads on the CPU), times jfa's forward, fused
 * forward+JVP and backward, and checks the results against a naive float64
 * reference (apps/common: every row when the problem is small, else sampled query
 * and key rows), printing progress with elapsed time. Exits 1 if the check fails.
 * --window L R adds a sliding window (-1 = unbounded side); --varlen L1,L2,...
 * packs sequences of those lengths (batch 1, N = their sum). Exit status: 0 passed,
 * 1 check failed, 2 error (a check whose reference could not be computed included), 77 --device cuda without a
 * usable GPU (skipped).
 *
 * Usage: jfa_attn [options]   (jfa_attn --help lists them)
 *   e.g.  ./build/apps/jfa_attn --device cpu --seq 512 --dim 64 --causal
 *         ./build/apps/jfa_attn --device cpu --causal --window 64 0 --varlen 1,7,129,300
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "jfa.h"

static void fail(const char *what) {
  fprintf(stderr, "jfa_attn: %s\n", what);
  exit(2);
}

static void check_status(jfa_status_t st, const char *what) {
  if (st == JFA_SUCCESS) return;
  fprintf(stderr, "jfa_attn: %s failed: %s\n  %s\n", what, jfa_status_string(st), jfa_get_last_error());
  exit(2);
}

static void *dev_alloc(jfa_device_t dev, size_t bytes) {
  void *p = app_alloc(dev, bytes);
  if (!p) fail("out of memory (or no CUDA)");
  return p;
}

static app_opts_t parse(int argc, char **argv) {
  app_opts_t o;
  app_opts_init(&o);
  char err[256];
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: jfa_attn\n%s", app_common_usage());
      exit(0);
    }
    int r = app_parse_common(&o, argc, argv, &i, err, sizeof err);
    if (r < 0) fail(err);
    if (r == 0) {
      fprintf(stderr, "jfa_attn: unknown option %s\nusage: jfa_attn\n%s", argv[i], app_common_usage());
      exit(2);
    }
  }
  if (!o.device_set) o.device = jfa_cuda_available(NULL) ? JFA_DEVICE_CUDA : JFA_DEVICE_CPU;
  if (o.device == JFA_DEVICE_CUDA && !jfa_cuda_available(NULL)) {
    fprintf(stderr, "jfa_attn: --device cuda but no usable GPU (or a build without CUDA): skipped (exit 77)\n");
    exit(77);
  }
  const int gpu = o.device == JFA_DEVICE_CUDA;
  if (!o.dtype_set) o.dtype = gpu ? JFA_DTYPE_BFLOAT16 : JFA_DTYPE_FLOAT32;
  if (o.iters < 0) o.iters = gpu ? 20 : 3;
  if (o.causal < 0) o.causal = 0;
  if (!o.B) o.B = gpu ? 2 : 1;
  if (!o.Hq) o.Hq = gpu ? 16 : 4;
  if (!o.Hkv) o.Hkv = o.Hq;
  if (!o.N && !o.nseq) o.N = gpu ? 4096 : 512;
  if (!o.D) o.D = gpu ? 128 : 64;
  if (app_opts_finish(&o, err, sizeof err)) fail(err);
  return o;
}

/* ---- the ops, as timed calls ---- */
/* inputs, then outputs: the JVP's O, lse, Od, mu (which the backward takes), the backward's dQ, dK, dV, and the plain
   forward's own O and lse (X_OF, X_LSEF: each op's outputs are checked) */
enum { X_Q, X_K, X_V, X_QD, X_KD, X_VD, X_DO, X_O, X_LSE, X_OD, X_MU, X_DQ, X_DK, X_DV, X_OF, X_LSEF, X_N };
typedef struct {
  jfa_context_t *ctx;
  const jfa_attention_params_t *prm;
  jfa_tensor_t *t;
  int op;
} call_t;

static double run_call(void *arg) {
  call_t *c = (call_t *)arg;
  jfa_tensor_t *t = c->t;
  const double t0 = app_now();
  jfa_status_t st;
  if (c->op == 0) st = jfa_attention_forward(c->ctx, c->prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_OF], &t[X_LSEF]);
  else if (c->op == 1)
    st = jfa_attention_forward_jvp(c->ctx, c->prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_QD], &t[X_KD], &t[X_VD],
                                   &t[X_O], &t[X_LSE], &t[X_OD], &t[X_MU]);
  else
    st = jfa_attention_backward(c->ctx, c->prm, &t[X_Q], &t[X_K], &t[X_V], &t[X_O], &t[X_LSE], &t[X_DO],
                                &t[X_DQ], &t[X_DK], &t[X_DV]);
  check_status(st, c->op == 0 ? "forward" : c->op == 1 ? "forward_jvp" : "backward");
  check_status(jfa_context_synchronize(c->ctx), "jfa_context_synchronize");
  return app_now() - t0;
}

static void read_rows(const jfa_tensor_t *t, int64_t b, int64_t h, int64_t l0, int64_t n, double *out) {
  if (app_read_rows(t, b, h, l0, n, out)) fail("reading results back failed");
}

int main(int argc, char **argv) {
  app_opts_t o = parse(argc, argv);
  app_progress_init(0, o.quiet);
  const int64_t B = o.B, H = o.Hq, Hkv = o.Hkv, N = o.N, D = o.D;
  const jfa_dtype_t sdt = o.dtype == JFA_DTYPE_FLOAT64 ? JFA_DTYPE_FLOAT64 : JFA_DTYPE_FLOAT32;
  printf("jfa_attn: device=%s dtype=%s B=%lld H=%lld Hkv=%lld N=%lld D=%lld causal=%d iters=%d seed=%llu\n",
         o.device == JFA_DEVICE_CUDA ? "cuda" : "cpu", jfa_dtype_name(o.dtype), (long long)B, (long long)H,
         (long long)Hkv, (long long)N, (long long)D, o.causal, o.iters, (unsigned long long)o.seed);
  if (o.window_left >= 0 || o.window_right >= 0)
    printf("  window: left %lld, right %lld\n", (long long)o.window_left, (long long)o.window_right);
  if (o.nseq > 0) printf("  packed sequences: %lld, N = %lld\n", (long long)o.nseq, (long long)N);
  fflush(stdout);

  jfa_context_t *ctx = NULL;
  check_status(jfa_context_create(&ctx, o.device, 0), "jfa_context_create");

  /* inputs made where they live; outputs poisoned with NaN (each must be written) */
  app_say("making inputs (7 tensors, %s)", o.device == JFA_DEVICE_CUDA ? "on the GPU" : "host threads");
  const double t_in = app_now();
  const app_rows_t rows = {N, {0, 0}};
  jfa_tensor_t t[X_N];
  for (int i = 0; i < X_N; ++i) {
    const int kv = i == X_K || i == X_V || i == X_KD || i == X_VD || i == X_DK || i == X_DV;
    const int stat = i == X_LSE || i == X_MU || i == X_LSEF;
    const jfa_dtype_t dt = stat ? sdt : o.dtype;
    const int64_t Hh = kv ? Hkv : H, Dt = stat ? 1 : D;
    t[i] = jfa_tensor_bhsd(dev_alloc(o.device, (size_t)(B * Hh * N * Dt) * jfa_dtype_size(dt)), dt, o.device, B,
                           Hh, N, Dt);
    if (i <= X_DO) {
      if (app_fill(t[i].data, o.device, dt, i, o.seed, B, Hh, N, Dt, &rows, app_threads(&o)))
        fail("making the inputs failed");
    } else if (app_poison(&t[i])) {
      fail("poisoning the outputs failed");
    }
  }
  app_say("inputs made in %.2f s", app_now() - t_in);

  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = o.causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
  prm.window_left = o.window_left;
  prm.window_right = o.window_right;
  if (o.nseq > 0) prm.cu_seqlens_q = prm.cu_seqlens_k = o.cu, prm.num_seqs = o.nseq;

  /* timing: forward, forward+JVP, backward; the last JVP and backward give the checked results */
  const double pairs = app_visible_pairs(&o);
  const double fwd_flops = 4.0 * (double)B * (double)H * pairs * (double)D;
  const char *op_name[3] = {"forward", "forward+jvp", "backward"};
  const double op_flops[3] = {fwd_flops, 3.0 * fwd_flops, 2.5 * fwd_flops};
  for (int op = 0; op < 3; ++op) {
    call_t c = {ctx, &prm, t, op};
    int n = 0;
    const double med = app_time_op(&o, op_name[op], run_call, &c, &n);
    char rate[32];
    char count[48];
    if (n) snprintf(count, sizeof count, "median of %d", n);
    else snprintf(count, sizeof count, "the warm-up call, over --budget");
    printf("  %-12s %10.3f ms  %s (%s)\n", op_name[op], 1e3 * med, app_rate(op_flops[op] / med, rate, 32), count);
    fflush(stdout);
  }

  /* the check: the device's rows against the naive float64 reference */
  app_problem_t p;
  app_problem_from_opts(&p, &o);
  app_sample_t s;
  app_sample_rows(&p, app_check_full(&o, pairs), o.samples, 1, o.seed, &s);
  app_say("check: reading %lld query rows and %lld key rows back", (long long)s.nq, (long long)s.nk);
  double *qgot = (double *)malloc((size_t)s.nq * (size_t)APP_QW(D) * sizeof(double));
  double *kgot = (double *)malloc((size_t)s.nk * (size_t)APP_KW(D) * sizeof(double));
  if (!qgot || !kgot) fail("out of memory");
  for (int64_t r = 0; r < s.nq; ++r) {
    const app_row_t x = s.q[r];
    double *g = qgot + (size_t)r * (size_t)APP_QW(D);
    read_rows(&t[X_O], x.b, x.h, x.i, 1, g);
    read_rows(&t[X_OD], x.b, x.h, x.i, 1, g + D);
    read_rows(&t[X_DQ], x.b, x.h, x.i, 1, g + 2 * D);
    read_rows(&t[X_LSE], x.b, x.h, x.i, 1, g + 3 * D);
    read_rows(&t[X_MU], x.b, x.h, x.i, 1, g + 3 * D + 1);
    read_rows(&t[X_OF], x.b, x.h, x.i, 1, g + 3 * D + 2);
    read_rows(&t[X_LSEF], x.b, x.h, x.i, 1, g + 4 * D + 2);
  }
  for (int64_t r = 0; r < s.nk; ++r) {
    const app_row_t x = s.k[r];
    read_rows(&t[X_DK], x.b, x.h, x.i, 1, kgot + (size_t)r * (size_t)APP_KW(D));
    read_rows(&t[X_DV], x.b, x.h, x.i, 1, kgot + (size_t)r * (size_t)APP_KW(D) + D);
  }
  /* sampled key rows use the run's lse and Delta = dO.O of the query heads of their pairs */
  const int64_t g = H / Hkv;
  double *slse = NULL, *sdel = NULL;
  if (!s.full) {
    slse = (double *)malloc((size_t)(s.nslots * g * N) * sizeof(double));
    sdel = (double *)malloc((size_t)(s.nslots * g * N) * sizeof(double));
    const int64_t CH = 4096;
    double *ob = (double *)malloc((size_t)(CH * D) * sizeof(double)), *db = (double *)malloc((size_t)(CH * D) * 8);
    if (!slse || !sdel || !ob || !db) fail("out of memory");
    for (int sl = 0; sl < s.nslots; ++sl)
      for (int64_t hg = 0; hg < g; ++hg) {
        const int64_t b = s.slot_b[sl], h = s.slot_hk[sl] * g + hg, base = (sl * g + hg) * N;
        read_rows(&t[X_LSE], b, h, 0, N, slse + base);
        for (int64_t i0 = 0; i0 < N; i0 += CH) {
          const int64_t n = N - i0 < CH ? N - i0 : CH;
          read_rows(&t[X_O], b, h, i0, n, ob);
          read_rows(&t[X_DO], b, h, i0, n, db);
          for (int64_t i = 0; i < n; ++i) {
            double d = 0;
            for (int64_t x = 0; x < D; ++x) d += ob[i * D + x] * db[i * D + x];
            sdel[base + i0 + i] = d;
          }
        }
      }
    free(ob);
    free(db);
  }
  app_say("check: computing the reference on %d threads", app_threads(&o));
  app_check_result_t res;
  app_check(&p, &s, qgot, kgot, slse, sdel, app_threads(&o), &res);
  const int pass = app_check_report(&res, &s, app_tolerance(o.dtype, o.device));
  printf("jfa_attn: %s (%.1f s in all)\n", pass > 0 ? "check passed" : pass == 0 ? "CHECK FAILED" : "NOT CHECKED",
         app_elapsed());

  free(qgot);
  free(kgot);
  free(slse);
  free(sdel);
  app_sample_free(&s);
  for (int i = 0; i < X_N; ++i) app_free(o.device, t[i].data);
  jfa_context_destroy(ctx);
  free(o.cu);
  return app_check_exit(pass);
}
