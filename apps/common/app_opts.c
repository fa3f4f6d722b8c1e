/*
 * app_opts.c - the command-line options jfa_attn and jfa_ring share (one parser,
 * one --varlen reader), their defaults and checks, tolerances and rate units.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"

void app_opts_init(app_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->device = JFA_DEVICE_CPU;
  o->dtype = JFA_DTYPE_FLOAT32;
  o->causal = -1;
  o->window_left = o->window_right = JFA_WINDOW_UNBOUNDED;
  o->iters = -1;
  o->warmup = 1;
  o->budget = 10.0;
  o->check = "auto";
  o->samples = 8;
  o->seed = 12345;
}

const char *app_common_usage(void) {
  return "  [--device cpu|cuda] [--dtype fp64|fp32|fp16|bf16] [--batch B] [--heads H] [--kv-heads HKV]\n"
         "  [--seq N] [--dim D] [--causal|--no-causal] [--window L R] [--varlen L1,L2,...]\n"
         "  [--iters I] [--warmup W] [--budget SECONDS] [--check auto|full|sample] [--samples S]\n"
         "  [--seed X] [--threads T] [--quiet]\n";
}

/* A positive integer (or >= min0 when min0 <= 0). */
static int get_int(const char *name, const char *s, long long min0, long long *out, char *err, size_t len) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!s[0] || *end || v < min0 || errno == ERANGE) { /* ERANGE: strtoll's clamp to LLONG_MAX is not the value typed */
    snprintf(err, len, "%s: expected an integer >= %lld%s, got '%s'", name, min0,
             errno == ERANGE ? " within 64 bits" : "", s);
    return -1;
  }
  *out = v;
  return 0;
}

/* --varlen L1,L2,...: lengths >= 0 into offsets (*cu, n + 1 values); returns n, or -1 (a length or the running sum
   beyond int64 included: a wrapped sum could otherwise equal --seq). */
static int64_t parse_varlen(const char *s, int64_t **cu) {
  int64_t n = 1;
  for (const char *c = s; *c; ++c) n += *c == ',';
  *cu = (int64_t *)malloc((size_t)(n + 1) * sizeof(int64_t));
  if (!*cu) return -1;
  (*cu)[0] = 0;
  const char *c = s;
  for (int64_t i = 0; i < n; ++i) {
    char *end = NULL;
    errno = 0;
    long long v = strtoll(c, &end, 10);
    if (end == c || v < 0 || errno == ERANGE || (*end != ',' && *end != '\0') || (*cu)[i] > INT64_MAX - (int64_t)v)
      return -1;
    (*cu)[i + 1] = (*cu)[i] + (int64_t)v;
    c = end + 1;
  }
  return (*cu)[n] > 0 ? n : -1;
}

static int parse_dtype(const char *s, jfa_dtype_t *dt) {
  static const struct {
    const char *name;
    jfa_dtype_t dt;
  } names[] = {{"fp64", JFA_DTYPE_FLOAT64},   {"float64", JFA_DTYPE_FLOAT64}, {"f64", JFA_DTYPE_FLOAT64},
               {"fp32", JFA_DTYPE_FLOAT32},   {"float32", JFA_DTYPE_FLOAT32}, {"f32", JFA_DTYPE_FLOAT32},
               {"fp16", JFA_DTYPE_FLOAT16},   {"float16", JFA_DTYPE_FLOAT16}, {"f16", JFA_DTYPE_FLOAT16},
               {"bf16", JFA_DTYPE_BFLOAT16}, {"bfloat16", JFA_DTYPE_BFLOAT16}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i)
    if (!strcmp(s, names[i].name)) {
      *dt = names[i].dt;
      return 0;
    }
  return -1;
}

int app_parse_common(app_opts_t *o, int argc, char **argv, int *i, char *err, size_t len) {
  const char *a = argv[*i];
  long long x = 0;
  if (!strcmp(a, "--causal")) return o->causal = 1, 1;
  if (!strcmp(a, "--no-causal")) return o->causal = 0, 1;
  if (!strcmp(a, "--quiet")) return o->quiet = 1, 1;
  static const char *const with_value[] = {"--device", "--dtype",  "--batch",  "--heads", "--kv-heads",
                                           "--seq",    "--dim",    "--window", "--varlen", "--iters",
                                           "--warmup", "--budget", "--check",  "--samples", "--seed",
                                           "--threads"};
  int known = 0;
  for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; ++k) known |= !strcmp(a, with_value[k]);
  if (!known) return 0;
  if (*i + 1 >= argc || (!strcmp(a, "--window") && *i + 2 >= argc)) {
    snprintf(err, len, "%s: missing value", a);
    return -1;
  }
  const char *v = argv[++*i];
  if (!strcmp(a, "--device")) {
    if (strcmp(v, "cpu") && strcmp(v, "cuda")) return snprintf(err, len, "--device: expected cpu or cuda"), -1;
    o->device = !strcmp(v, "cuda") ? JFA_DEVICE_CUDA : JFA_DEVICE_CPU;
    o->device_set = 1;
  } else if (!strcmp(a, "--dtype")) {
    if (parse_dtype(v, &o->dtype)) return snprintf(err, len, "--dtype: expected fp64, fp32, fp16 or bf16"), -1;
    o->dtype_set = 1;
  } else if (!strcmp(a, "--window")) {
    long long l = 0, r = 0;
    if (get_int(a, v, -1, &l, err, len) || get_int(a, argv[++*i], -1, &r, err, len)) return -1;
    o->window_left = l, o->window_right = r;
  } else if (!strcmp(a, "--varlen")) {
    free(o->cu);
    o->cu = NULL;
    o->nseq = parse_varlen(v, &o->cu);
    if (o->nseq < 0)
      return snprintf(err, len, "--varlen: expected comma-separated lengths >= 0, not all 0, their sum within 64 bits"),
             -1;
  } else if (!strcmp(a, "--check")) {
    if (strcmp(v, "auto") && strcmp(v, "full") && strcmp(v, "sample"))
      return snprintf(err, len, "--check: expected auto, full or sample"), -1;
    o->check = v;
  } else if (!strcmp(a, "--seed")) {
    char *end = NULL;
    errno = 0;
    o->seed = (uint64_t)strtoull(v, &end, 0);
    if (!v[0] || *end || errno || v[0] == '-') return snprintf(err, len, "--seed: expected an integer >= 0"), -1;
  } else if (!strcmp(a, "--budget")) {
    char *end = NULL;
    o->budget = strtod(v, &end);
    if (!v[0] || *end || !(o->budget >= 0)) return snprintf(err, len, "--budget: expected seconds >= 0"), -1;
  } else {
    int zero_ok = !strcmp(a, "--warmup") || !strcmp(a, "--threads");
    const int is_int = !strcmp(a, "--iters") || !strcmp(a, "--warmup") || !strcmp(a, "--samples") ||
                       !strcmp(a, "--threads");
    if (get_int(a, v, zero_ok ? 0 : 1, &x, err, len)) return -1;
    if (is_int && x > (1 << 30)) return snprintf(err, len, "%s: at most %d", a, 1 << 30), -1;
    /* the check's reference runs on this many threads (each with its own stack and job): a count past any machine's
       cores would fail its allocations and leave the check unrun */
    if (!strcmp(a, "--threads") && x > 4096) return snprintf(err, len, "--threads: at most 4096"), -1;
    if (!strcmp(a, "--batch")) o->B = x;
    else if (!strcmp(a, "--heads")) o->Hq = x;
    else if (!strcmp(a, "--kv-heads")) o->Hkv = x;
    else if (!strcmp(a, "--seq")) o->N = x;
    else if (!strcmp(a, "--dim")) o->D = x;
    else if (!strcmp(a, "--iters")) o->iters = (int)x;
    else if (!strcmp(a, "--warmup")) o->warmup = (int)x;
    else if (!strcmp(a, "--samples")) o->samples = (int)x;
    else o->threads = (int)x;
  }
  return 1;
}

int app_opts_finish(app_opts_t *o, char *err, size_t len) {
  if (o->nseq > 0) {
    if (o->B > 1) return snprintf(err, len, "--varlen: packed sequences need --batch 1"), -1;
    if (o->N && o->N != o->cu[o->nseq]) return snprintf(err, len, "--varlen: --seq differs from the lengths' sum"), -1;
    o->B = 1;
    o->N = o->cu[o->nseq];
  }
  if (o->Hq % o->Hkv) return snprintf(err, len, "--heads must be a multiple of --kv-heads"), -1;
  return 0;
}

double app_tolerance(jfa_dtype_t dt, jfa_device_t dev) {
  switch (dt) {
    case JFA_DTYPE_FLOAT64: return 1e-10;
    case JFA_DTYPE_FLOAT32: return dev == JFA_DEVICE_CPU ? 1e-6 : 1e-4;
    case JFA_DTYPE_FLOAT16: return 5e-3;
    case JFA_DTYPE_BFLOAT16: return 2e-2;
    case JFA_DTYPE_BOOL: break;
  }
  return 0.0;
}

const char *app_rate(double r, char *buf, size_t len) {
  if (r >= 1e12) snprintf(buf, len, "%.1f TFLOP/s", r * 1e-12);
  else if (r >= 1e9) snprintf(buf, len, "%.2f GFLOP/s", r * 1e-9);
  else snprintf(buf, len, "%.2f MFLOP/s", r * 1e-6);
  return buf;
}

int app_threads(const app_opts_t *o) {
  if (o->threads > 0) return o->threads;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

double app_visible_pairs(const app_opts_t *o) {
  double pairs = 0.0;
  int64_t nseq = o->nseq > 0 ? o->nseq : 1;
  int causal = o->causal > 0;
  for (int64_t s = 0; s < nseq; ++s) {
    int64_t c0 = o->nseq > 0 ? o->cu[s] : 0, c1 = o->nseq > 0 ? o->cu[s + 1] : o->N;
    if (!causal && o->window_left < 0 && o->window_right < 0) { /* every pair of the sequence */
      pairs += (double)(c1 - c0) * (double)(c1 - c0);
      continue;
    }
    if (o->window_left < 0 && o->window_right < 0) { /* causal only: counted as half (the FLOP convention) */
      pairs += 0.5 * (double)(c1 - c0) * (double)(c1 - c0);
      continue;
    }
    for (int64_t i = c0; i < c1; ++i) {
      int64_t lo = c0, hi = c1 - 1;
      if (causal && hi > i) hi = i;
      if (o->window_left >= 0 && lo < i - o->window_left) lo = i - o->window_left;
      if (o->window_right >= 0 && hi > i + o->window_right) hi = i + o->window_right;
      if (hi >= lo) pairs += (double)(hi - lo + 1);
    }
  }
  return pairs;
}
