/*
 * app.h - what jfa_attn and jfa_ring share (static library jfa_app): the common
 * command-line options, progress lines with elapsed time, the timing loop, the
 * deterministic inputs (a hash of (tensor, batch, head, position, dim), made on
 * the GPU by a kernel or on the CPU by threads, recomputable anywhere on the host)
 * and the float64 check of sampled (or all) rows against a naive reference that
 * shares no code with src/. The programs keep their main flows only.
 *
 * jfa_app calls only jfa's public API (jfa_convert_host); link it before jfa.
 */
#ifndef JFA_APP_H_
#define JFA_APP_H_

#include <stddef.h>
#include <stdint.h>

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- options ------------------------------------------------------------------ */

/** Options both programs take. Fields left at their "unset" value get the program's default. */
typedef struct {
  jfa_device_t device;
  int device_set;
  jfa_dtype_t dtype;
  int dtype_set;
  int64_t B, Hq, Hkv, N, D;          /* 0: unset */
  int causal;                        /* -1: unset */
  int64_t window_left, window_right; /* JFA_WINDOW_UNBOUNDED (-1) unless --window */
  int64_t nseq;                      /* --varlen: packed sequences (0: none) */
  int64_t *cu;                       /* --varlen: nseq + 1 offsets (malloc'd) */
  int iters;                         /* -1: unset */
  int warmup;
  double budget;   /* seconds of timed calls per op; fewer iterations when a call is long (0: no cap) */
  const char *check; /* auto | full | sample */
  int samples;       /* sampled query rows and key rows when the check samples */
  uint64_t seed;
  int quiet;   /* no progress lines */
  int threads; /* host threads (0: the cores) */
} app_opts_t;

/** Defaults: nothing set, causal unset, seed 12345, warm-up 1, budget 10 s, check auto, 8 samples. */
void app_opts_init(app_opts_t *o);

/**
 * Parses the option at argv[*i] if it is a common one (advancing *i past its values):
 *   --device cpu|cuda  --dtype fp64|fp32|fp16|bf16 (or float64, f32, bfloat16, ...)
 *   --batch B --heads H --kv-heads HKV --seq N --dim D --causal --no-causal
 *   --window L R --varlen L1,L2,... --iters I --warmup W --budget SECONDS
 *   --check auto|full|sample --samples S --seed X --threads T --quiet
 * Returns 1 if consumed, 0 if not a common option, -1 on a bad value (message in err).
 */
int app_parse_common(app_opts_t *o, int argc, char **argv, int *i, char *err, size_t errlen);

/** The usage lines of the common options (for the programs' --help). */
const char *app_common_usage(void);

/** Checks the combination (varlen needs batch 1 and N = the sum, heads divide); 0 ok, -1 (err set). */
int app_opts_finish(app_opts_t *o, char *err, size_t errlen);

/** The tolerance of the relative error of a run in dtype dt against float64 (CPU runs of fp32: 1e-6). */
double app_tolerance(jfa_dtype_t dt, jfa_device_t dev);

/** A rate as "482.1 TFLOP/s", "12.34 GFLOP/s" or "5.67 MFLOP/s" into buf (returns buf). */
const char *app_rate(double flops_per_s, char *buf, size_t len);

/** Host threads to use: o->threads, else the online cores (at most 64). */
int app_threads(const app_opts_t *o);

/** (query, key) pairs visible in one (batch, head) under the masks (causal, window, varlen). */
double app_visible_pairs(const app_opts_t *o);

/* ---- progress and timing ----------------------------------------------------------- */

/** Starts the clock; progress lines print on rank 0 unless quiet. */
void app_progress_init(int rank, int quiet);
/** Seconds since app_progress_init. */
double app_elapsed(void);
/** Wall-clock seconds (monotonic). */
double app_now(void);
/** A progress line "[  12.3 s] ..." (rank 0, not quiet; flushed). */
void app_say(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/** Runs one call of an op, synchronised, and returns its seconds (the same value on every rank). */
typedef double (*app_call_fn)(void *arg);

/**
 * Times an op: o->warmup calls, then the median of up to o->iters calls; when the
 * warm-up (or first) call is long the count is cut so the timed calls take about
 * o->budget seconds (at least one), and a warm-up call longer than the budget is itself
 * the measurement (*iters_done = 0: its one-time costs are small next to it). Progress
 * lines name the op; while a call runs, a line every 5 s (every 30 s after a minute). *iters_done gets the count of timed calls.
 */
double app_time_op(const app_opts_t *o, const char *name, app_call_fn fn, void *arg, int *iters_done);

/** Median of x[0..n) (sorts x). */
double app_median(double *x, int n);

/* ---- deterministic inputs ------------------------------------------------------------ */

/** Input tensors: their number is part of the hash. */
enum { APP_T_Q, APP_T_K, APP_T_V, APP_T_QD, APP_T_KD, APP_T_VD, APP_T_DO, APP_T_N };

/** The per-(tensor, batch, head) hash key. */
uint64_t app_key(uint64_t seed, int t, int64_t b, int64_t h);
/** The value before rounding: uniform on [-sqrt 3, sqrt 3] (unit variance) from (key, position, dim). */
double app_raw(uint64_t key, int64_t pos, int64_t d);
/** Row (tensor t, b, h, global position pos) of D values rounded to dtype dt, as doubles. */
void app_row(uint64_t seed, int t, int64_t b, int64_t h, int64_t pos, int64_t D, jfa_dtype_t dt, double *out);

/**
 * Where a local row lives: local row l is at global position pos0[l / chunk] + l % chunk
 * (one chunk: pos0[0] = 0, chunk = n; the ring's zigzag: two chunks).
 */
typedef struct {
  int64_t chunk;
  int64_t pos0[2];
} app_rows_t;

/**
 * Fills a contiguous (B, H, n, D) tensor of dtype dt with input t. Host memory: with
 * threads; device memory (CUDA builds): with a kernel computing the same values on
 * the current device. Returns 0, or -1 (device fill unavailable or failed).
 */
int app_fill(void *data, jfa_device_t dev, jfa_dtype_t dt, int t, uint64_t seed, int64_t B, int64_t H, int64_t n,
             int64_t D, const app_rows_t *rows, int threads);
/** The device half of app_fill (app_fill_cuda.cu; a stub returning -1 without CUDA). */
int app_fill_cuda(void *data, jfa_dtype_t dt, int t, uint64_t seed, int64_t B, int64_t H, int64_t n, int64_t D,
                  const app_rows_t *rows);

/** splitmix64's finaliser: the hash of the inputs and of the sampled rows (app_fill_cuda.cu
 *  computes the same on the device). */
uint64_t app_mix64(uint64_t z);
/** Tensor storage of bytes on dev (malloc, or cudaMalloc on the current device); NULL when it
 *  cannot be had (or no CUDA). app_free releases it. */
void *app_alloc(jfa_device_t dev, size_t bytes);
void app_free(jfa_device_t dev, void *p);
/** cudaMalloc (NULL on failure or without CUDA) and cudaFree: app_alloc's device half. */
void *app_malloc_cuda(size_t bytes);
void app_free_cuda(void *p);
/** cudaMemcpy device -> host (to_host) or host -> device; 0 ok, -1 failed or no CUDA. */
int app_memcpy_cuda(void *dst, const void *src, size_t bytes, int to_host);
/** cudaMemset and synchronise; 0 ok, -1 failed or no CUDA. */
int app_memset_cuda(void *dst, int byte, size_t bytes);
/** Fills a tensor's storage (contiguous, host or device) with 0xFF bytes: NaN in every float dtype. */
int app_poison(const jfa_tensor_t *t);
/** Rows [l0, l0 + count) of (b, h) of a contiguous (B, H, n, Dt) tensor, host or device, as doubles. */
int app_read_rows(const jfa_tensor_t *t, int64_t b, int64_t h, int64_t l0, int64_t count, double *out);

/* ---- the float64 check ----------------------------------------------------------------- */

/** The problem the check recomputes (global positions, the whole sequence). */
typedef struct {
  int64_t B, Hq, Hkv, N, D;
  int causal;
  int64_t window_left, window_right;
  int64_t nseq;
  const int64_t *cu;
  jfa_dtype_t dtype; /* inputs are rounded to it */
  uint64_t seed;
} app_problem_t;

void app_problem_from_opts(app_problem_t *p, const app_opts_t *o);

/** Whether global query row i sees key j (causal top-left, window, same packed sequence). */
int app_visible(const app_problem_t *p, int64_t i, int64_t j);

/** A checked row: query rows (b, h, i) or key rows (b, hk, i); slot: its key pair (sampled key rows). */
typedef struct {
  int64_t b, h, i;
  int slot;
} app_row_t;

/** Outputs the check compares, in this order: the JVP's O, lse, Od, mu, the backward's dQ, dK, dV, and the plain
 *  forward's own O and lse (written to tensors of their own, so that each op's outputs are checked). */
enum { APP_O, APP_LSE, APP_OD, APP_MU, APP_DQ, APP_DK, APP_DV, APP_OF, APP_LSEF, APP_NOUT };
extern const char *const app_out_name[APP_NOUT];

/** The rows to check. Query row r's results: qgot[r * APP_QW(D) ...] = O[D], Od[D], dQ[D], lse, mu, then the
 *  plain forward's O[D], lse; key row r's: kgot[r * APP_KW(D) ...] = dK[D], dV[D]. */
#define APP_QW(D) (4 * (D) + 3)
#define APP_KW(D) (2 * (D))
typedef struct {
  int full;         /* every row of every (batch, head) */
  int64_t nq, nk;   /* rows */
  app_row_t *q, *k; /* malloc'd */
  int nslots;       /* sampled: the (batch, kv head) pairs the key rows come from (<= 2) */
  int64_t slot_b[2], slot_hk[2];
} app_sample_t;

/**
 * Chooses the rows: every row when full, else `samples` query rows over all (batch, head)
 * and `samples` key rows from at most two (batch, kv head) pairs, the last pair and one drawn
 * (deterministic in the seed). The first and last row of each of `nchunks` equal chunks of the
 * sequence come first (at least 2 nchunks of each: the ring passes its ranks' chunks, so that
 * every rank's rows are checked; the tensors' first and last rows among them). Free with
 * app_sample_free.
 */
void app_sample_rows(const app_problem_t *p, int full, int samples, int nchunks, uint64_t seed, app_sample_t *s);
void app_sample_free(app_sample_t *s);
/** Whether the check covers every row: --check full, or auto and the problem is small. */
int app_check_full(const app_opts_t *o, double visible_pairs);

/** Relative errors (root of sum of squared errors over sum of squared references); NaN when any
 *  compared value is NaN (unwritten or poisoned) or infinities differ. */
typedef struct {
  double err[APP_NOUT];
  double row_err[APP_NOUT]; /* the worst row's error norm over the rows' RMS reference norm */
  double seconds;
  int unchecked; /* the reference could not be computed (out of memory): the errors are NaN, nothing was compared */
} app_check_result_t;
/** A row may be this many times the tolerance off (against the rows' RMS norm) where the whole tensor must be within
 *  it: a row's rounding varies with its norm, and one wrong row (a zeroed one) is then no longer diluted. */
#define APP_ROW_TOL 10.0
/** lse and mu are float32 whatever the dtype (computed from the dtype's values with float32 sums, merged in float32):
 *  their tolerance is at most this, not the 16-bit outputs' (bf16's 2e-2 let lse be ~0.2 off at N = 4096). */
#define APP_STAT_TOL 1e-4

/**
 * The float64 reference of the chosen rows compared with qgot and kgot. Every row (s->full):
 * jfa_ref64 (tests/common/ref64.h) on the whole problem, with its own lse and Delta.
 * Sampled rows: a naive reference of each row from the hash (the formulas of README.md
 * written out, masks by definition), split into items of at most 16384 keys or queries run
 * on threads; key rows use the run's lse and Delta = dO.O (each itself checked on the query
 * samples), stats_lse / stats_delta indexed [(slot * (Hq / Hkv) + h % (Hq / Hkv)) * N + i].
 */
void app_check(const app_problem_t *p, const app_sample_t *s, const double *qgot, const double *kgot,
               const double *stats_lse, const double *stats_delta, int threads, app_check_result_t *res);

/** Prints the errors against tol (lse and mu: against min(tol, APP_STAT_TOL)) and the check's time; returns 1 if every
 *  error is within its tolerance and every worst row's within APP_ROW_TOL times it (not NaN), 0 if not, and -1 if the
 *  reference could not be computed (res->unchecked: the apps then exit 2, an error, not 1, a failed check). */
int app_check_report(const app_check_result_t *res, const app_sample_t *s, double tol);
/** The programs' exit status for app_check_report's result: 0 passed, 1 failed, 2 not checked (the check could not
 *  run: an error, as the programs' others). */
int app_check_exit(int pass);

#ifdef __cplusplus
}
#endif

#endif /* JFA_APP_H_ */
