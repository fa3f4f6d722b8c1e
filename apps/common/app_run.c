/*
 * app_run.c - progress lines with elapsed time (rank 0, unless --quiet) and the
 * timing loop of the programs: warm-up, then the median of the timed calls, with
 * fewer calls when one is long so that a run at scale stays within minutes.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"

static double g_t0 = 0.0;
static int g_print = 1;

double app_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void app_progress_init(int rank, int quiet) {
  g_t0 = app_now();
  g_print = rank == 0 && !quiet;
}

double app_elapsed(void) { return app_now() - g_t0; }

void app_say(const char *fmt, ...) {
  if (!g_print) return;
  va_list ap;
  va_start(ap, fmt);
  printf("  [%8.1f s] ", app_elapsed());
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

/* ---- a call in flight: a line every few seconds while it runs (the ring's steps are not
   reported one by one; this keeps a call of minutes from being silent) ---- */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  const char *name;
  double t0;
} watch_t;

static void *watch_main(void *arg) {
  watch_t *w = (watch_t *)arg;
  pthread_mutex_lock(&w->mu);
  double next = w->t0 + 5.0;
  while (!w->done) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the condition variable's clock */
    ts.tv_sec += 1;
    pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    if (!w->done && app_now() >= next) {
      app_say("%s: call running for %.0f s", w->name, app_now() - w->t0);
      next += app_now() - w->t0 < 60.0 ? 5.0 : 30.0;
    }
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

/* One call of fn with the watcher running (only where progress prints). */
static double watched_call(const char *name, app_call_fn fn, void *arg) {
  if (!g_print) return fn(arg);
  watch_t w;
  pthread_t tid;
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  w.done = 0, w.name = name, w.t0 = app_now();
  const int started = pthread_create(&tid, NULL, watch_main, &w) == 0;
  const double t = fn(arg);
  if (started) {
    pthread_mutex_lock(&w.mu);
    w.done = 1;
    pthread_cond_signal(&w.cv);
    pthread_mutex_unlock(&w.mu);
    pthread_join(tid, NULL);
  }
  pthread_cond_destroy(&w.cv);
  pthread_mutex_destroy(&w.mu);
  return t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double app_median(double *x, int n) {
  qsort(x, (size_t)n, sizeof(double), cmp_double);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* The call count when one call takes t seconds: o->iters, cut to fill the budget (>= 1). */
static int count_for(const app_opts_t *o, double t) {
  int n = o->iters;
  if (o->budget > 0 && t > 0 && (double)n * t > o->budget) {
    n = (int)(o->budget / t);
    if (n < 1) n = 1;
  }
  return n;
}

double app_time_op(const app_opts_t *o, const char *name, app_call_fn fn, void *arg, int *iters_done) {
  double tw = 0.0;
  for (int w = 0; w < o->warmup; ++w) {
    app_say("%s: warm-up call %d of %d", name, w + 1, o->warmup);
    tw = watched_call(name, fn, arg);
  }
  if (o->warmup > 0) app_say("%s: warm-up took %.3f s", name, tw);
  if (o->warmup > 0 && o->budget > 0 && tw > o->budget) { /* one call over the budget: it is the measurement */
    app_say("%s: the warm-up call is over the budget (%.3g s): it is the time reported", name, o->budget);
    if (iters_done) *iters_done = 0;
    return tw;
  }
  int n = o->warmup > 0 ? count_for(o, tw) : o->iters;
  double *ts = (double *)malloc((size_t)n * sizeof(double));
  double t_said = app_now();
  int done = 0;
  app_say("%s: %d timed call%s", name, n, n == 1 ? "" : "s");
  for (int it = 0; it < n; ++it) {
    ts[done++] = watched_call(name, fn, arg);
    if (it == 0 && o->warmup == 0) n = count_for(o, ts[0]);
    if (app_now() - t_said > 2.0 && it + 1 < n) { /* a line every few seconds at most */
      app_say("%s: %d of %d timed calls done", name, done, n);
      t_said = app_now();
    }
  }
  double med = app_median(ts, done);
  free(ts);
  if (iters_done) *iters_done = done;
  return med;
}

int app_poison(const jfa_tensor_t *t) {
  const size_t bytes = (size_t)jfa_tensor_numel(t) * jfa_dtype_size(t->dtype);
  if (t->device == JFA_DEVICE_CUDA) return app_memset_cuda(t->data, 0xFF, bytes);
  memset(t->data, 0xFF, bytes);
  return 0;
}

int app_read_rows(const jfa_tensor_t *t, int64_t b, int64_t h, int64_t l0, int64_t count, double *out) {
  const int64_t Dt = t->shape[3];
  const size_t es = jfa_dtype_size(t->dtype), n = (size_t)(count * Dt);
  const char *src = (const char *)t->data + (size_t)(((b * t->shape[1] + h) * t->shape[2] + l0) * Dt) * es;
  if (t->device != JFA_DEVICE_CUDA) return jfa_convert_host(src, t->dtype, out, JFA_DTYPE_FLOAT64, n) ? -1 : 0;
  void *tmp = malloc(n * es);
  int rc = tmp ? app_memcpy_cuda(tmp, src, n * es, 1) : -1;
  if (!rc) rc = jfa_convert_host(tmp, t->dtype, out, JFA_DTYPE_FLOAT64, n) ? -1 : 0;
  free(tmp);
  return rc;
}

void *app_alloc(jfa_device_t dev, size_t bytes) {
  if (!bytes) bytes = 1;
  return dev == JFA_DEVICE_CPU ? malloc(bytes) : app_malloc_cuda(bytes);
}

void app_free(jfa_device_t dev, void *p) {
  if (dev == JFA_DEVICE_CPU) free(p);
  else app_free_cuda(p);
}
