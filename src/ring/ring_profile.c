/*
 * ring_profile.c - opt-in timing of one ring call by phase (JFA_RING_PROFILE=1, read at
 * jfa_ring_create): the ring marks the end of each phase (fills, attention calls per step,
 * converts, exchange starts and waits); on CUDA each mark records an event on the context's
 * stream, on the CPU (synchronous backend) it reads the monotonic clock. At the end of the
 * call the phases are summed by name and printed to stderr, one line per name (and, with
 * JFA_RING_PROFILE=2, one per phase in order), each line starting "jfa_ring_profile: rank R/P". Off (the default) every function returns at
 * its first test: no events, no clock reads, no output.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, CLOCK_MONOTONIC (-std=c11 hides them; gcc's -fopenmp happened to define them) */
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "ring/ring_internal.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Records mark i (0: the start): an event on the context's stream (CUDA), else the clock. */
static void stamp(const jfa_ring_t *r, jfa_ring_prof_t *pf, int i) {
  pf->t[i] = now_s();
#ifdef JFA_HAVE_CUDA
  pf->ev[i] = NULL;
  if (r->ctx->device == JFA_DEVICE_CUDA) {
    cudaEvent_t e;
    if (cudaEventCreate(&e) == cudaSuccess) {
      cudaEventRecord(e, (cudaStream_t)r->ctx->stream);
      pf->ev[i] = (void *)e;
    } else {
      cudaGetLastError();
    }
  }
#else
  (void)r;
#endif
}

void jfa_ring_prof_begin(const jfa_ring_t *r, jfa_ring_prof_t *pf, const char *what) {
  pf->on = r->profile;
  if (!pf->on) return;
  pf->n = 0;
  pf->dropped = 0;
  pf->what = what;
  stamp(r, pf, 0);
}

void jfa_ring_prof_mark(const jfa_ring_t *r, jfa_ring_prof_t *pf, const char *name, int step, int idx) {
  if (!pf->on) return;
  if (pf->n >= JFA_RING_PROF_MAX) { /* the phases after the first JFA_RING_PROF_MAX are not timed */
    ++pf->dropped;
    return;
  }
  int i = pf->n++;
  pf->name[i] = name;
  pf->step[i] = step;
  pf->idx[i] = idx;
  stamp(r, pf, i + 1);
}

/* Milliseconds of phase i (between marks i and i + 1): events when both were recorded. */
static double phase_ms(const jfa_ring_prof_t *pf, int i) {
#ifdef JFA_HAVE_CUDA
  if (pf->ev[i] && pf->ev[i + 1]) {
    float ms = 0.f;
    if (cudaEventElapsedTime(&ms, (cudaEvent_t)pf->ev[i], (cudaEvent_t)pf->ev[i + 1]) == cudaSuccess)
      return (double)ms;
    cudaGetLastError();
    return -1.0;
  }
#endif
  return 1e3 * (pf->t[i + 1] - pf->t[i]);
}

void jfa_ring_prof_end(const jfa_ring_t *r, jfa_ring_prof_t *pf, jfa_status_t st) {
  if (!pf->on) return;
#ifdef JFA_HAVE_CUDA
  if (pf->n > 0 && pf->ev[pf->n]) cudaEventSynchronize((cudaEvent_t)pf->ev[pf->n]);
#endif
  double wall = 1e3 * (now_s() - pf->t[0]);
  if (st == JFA_SUCCESS) {
    double total = 0.0;
    for (int i = 0; i < pf->n; ++i) total += phase_ms(pf, i);
    char fam[64] = "";
    if (r->ctx->device == JFA_DEVICE_CUDA) /* the kernel families of the last calls: 0 simt, 1 sm80, 2 sm90 */
      snprintf(fam, sizeof fam, ", last kernel family fwd %d bwd %d", jfa_cuda_last_kernel(r->ctx, 0),
               jfa_cuda_last_kernel(r->ctx, 1));
    fprintf(stderr, "jfa_ring_profile: rank %d/%d %s (%s%s%s): %d phases%s, %.4f ms on the stream, %.4f ms wall\n",
            r->rank, r->size, pf->what, r->direct ? "direct" : "ring",
            r->ctx->device == JFA_DEVICE_CUDA ? ", CUDA events" : ", host clock", fam, pf->n,
            pf->dropped ? " (later ones not timed: too many)" : "", total, wall);
    /* one line per phase name, in the order of first appearance */
    for (int i = 0; i < pf->n; ++i) {
      int seen = 0;
      for (int j = 0; j < i && !seen; ++j) seen = strcmp(pf->name[j], pf->name[i]) == 0;
      if (seen) continue;
      double sum = 0.0;
      int count = 0;
      for (int j = i; j < pf->n; ++j)
        if (strcmp(pf->name[j], pf->name[i]) == 0) {
          sum += phase_ms(pf, j);
          ++count;
        }
      fprintf(stderr, "jfa_ring_profile: rank %d/%d   %-16s %10.4f ms  %5.1f%%  (%d)\n", r->rank, r->size, pf->name[i], sum,
              total > 0 ? 100.0 * sum / total : 0.0, count);
    }
    if (r->profile >= 2)
      for (int i = 0; i < pf->n; ++i)
        fprintf(stderr, "jfa_ring_profile: rank %d/%d     #%-3d %-16s step %d part %d  %10.4f ms\n", r->rank, r->size,
                i, pf->name[i], pf->step[i], pf->idx[i], phase_ms(pf, i));
  }
#ifdef JFA_HAVE_CUDA
  for (int i = 0; i <= pf->n; ++i)
    if (pf->ev[i]) cudaEventDestroy((cudaEvent_t)pf->ev[i]);
#endif
  pf->on = 0;
}

jfa_status_t jfa_ring_direct_end(const jfa_ring_t *r, jfa_ring_prof_t *pf, const char *mark, jfa_status_t st,
                                 int prev) {
  jfa_ring_prof_mark(r, pf, mark, 0, 0);
  if (st == JFA_SUCCESS && r->ctx->device == JFA_DEVICE_CUDA) st = jfa_cuda_synchronize(r->ctx);
  jfa_ring_prof_end(r, pf, st);
  jfa_ring_device_exit(r->ctx, prev);
  return st;
}
