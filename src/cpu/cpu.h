/*
 * cpu.h - private helpers of the CPU backend: element access of float64/float32
 * strided tensors, whole-tensor copies into contiguous float64 arrays, the exact
 * log-sum-exp merge of one row, and OpenMP thread selection.
 */
#ifndef JFA_CPU_CPU_H_
#define JFA_CPU_CPU_H_

#include <math.h>
#include <stdlib.h>

#include "core/backend.h"
#include "core/check.h"

#ifdef _OPENMP
#include <omp.h>
#define JFA_OMP_PARALLEL_FOR(nt) _Pragma("omp parallel for schedule(dynamic, 4) num_threads(nt)")
static inline int jfa_cpu_thread_id(void) { return omp_get_thread_num(); }
#else
/* without OpenMP the thread count is read and dropped (else -Wunused-variable: a -Werror build without OpenMP fails) */
#define JFA_OMP_PARALLEL_FOR(nt) (void)(nt);
static inline int jfa_cpu_thread_id(void) { return 0; }
#endif

/**
 * Number of threads a CPU call uses: ctx->num_threads, else the OpenMP default;
 * 1 when the call's work (about the number of multiply-adds) is too small to share.
 */
int jfa_cpu_num_threads(const jfa_context_t *ctx, double work);

/** Element offset of (b, h, s, d). */
static inline int64_t jfa_cpu_off(const jfa_tensor_t *t, int64_t b, int64_t h, int64_t s, int64_t d) {
  return b * t->stride[0] + h * t->stride[1] + s * t->stride[2] + d * t->stride[3];
}

/** Reads element `off` of a float64 or float32 tensor. */
static inline double jfa_cpu_ld(const jfa_tensor_t *t, int64_t off) {
  return t->dtype == JFA_DTYPE_FLOAT64 ? ((const double *)t->data)[off] : (double)((const float *)t->data)[off];
}

/** Writes element `off` of a float64 or float32 tensor. */
static inline void jfa_cpu_st(const jfa_tensor_t *t, int64_t off, double x) {
  if (t->dtype == JFA_DTYPE_FLOAT64) ((double *)t->data)[off] = x;
  else ((float *)t->data)[off] = (float)x;
}

/** Dot product of n doubles with four partial sums (independent chains run faster;
 *  the order is fixed, so results do not depend on threads or layouts). */
static inline double jfa_cpu_dot(const double *a, const double *b, int64_t n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int64_t d = 0;
  for (; d + 4 <= n; d += 4) {
    s0 += a[d] * b[d];
    s1 += a[d + 1] * b[d + 1];
    s2 += a[d + 2] * b[d + 2];
    s3 += a[d + 3] * b[d + 3];
  }
  for (; d < n; ++d) s0 += a[d] * b[d];
  return (s0 + s1) + (s2 + s3);
}

/* --- Visibility (visibility.c): the one definition of which keys a query row sees. --- */

/** Packed sequence holding index idx (cu[s] <= idx < cu[s+1], the last such s when
 *  offsets repeat), or -1 when idx lies outside [cu[0], cu[nseq]). */
int64_t jfa_cpu_sequence_of(const int64_t *cu, int64_t nseq, int64_t idx);

/** Keys [*lo, *hi) of the block that pass the causal, window and packed-sequence
 *  masks for query row i (exact; empty when *lo == *hi). */
void jfa_cpu_key_range(const jfa_problem_t *p, int64_t i, int64_t *lo, int64_t *hi);

/** Query rows [*lo, *hi) for which key j passes the same masks: exactly the rows i
 *  whose jfa_cpu_key_range contains j. */
void jfa_cpu_query_range(const jfa_problem_t *p, int64_t j, int64_t *lo, int64_t *hi);

/**
 * The dense mask's term for (b, h, i, j), added to scale * q.k: 0 without a dense
 * mask or for a true boolean entry, -inf for a false one, else the additive bias
 * (-inf masks). A key inside the range is visible iff this is not -inf.
 */
/* Writes (accumulate == 0) or adds (accumulate != 0) a row of D values at (b, h, s); t may be NULL. */
static inline void jfa_cpu_put_row(const jfa_tensor_t *t, int64_t b, int64_t h, int64_t s, const double *x, int64_t D,
                                   int accumulate) {
  if (!t) return;
  for (int64_t d = 0; d < D; ++d) {
    int64_t off = jfa_cpu_off(t, b, h, s, d);
    jfa_cpu_st(t, off, accumulate ? jfa_cpu_ld(t, off) + x[d] : x[d]);
  }
}

/* P = exp(x) for x = S - lse, capped at 1: a rounded (float32) lse below the row's max score must
   not give inf (a NaN stays NaN). */
static inline double jfa_cpu_prob(double x) {
  const double p = exp(x);
  return p > 1.0 ? 1.0 : p;
}

static inline double jfa_cpu_mask_bias(const jfa_problem_t *p, int64_t b, int64_t h, int64_t i, int64_t j) {
  const jfa_tensor_t *m = p->dmask;
  if (!m) return 0.0;
  int64_t off = (m->shape[0] == 1 ? 0 : b) * m->stride[0] + (m->shape[1] == 1 ? 0 : h) * m->stride[1] +
                i * m->stride[2] + j * m->stride[3];
  if (m->dtype == JFA_DTYPE_BOOL) return ((const unsigned char *)m->data)[off] ? 0.0 : -INFINITY;
  return jfa_cpu_ld(m, off);
}

/** The rows whose |lse| reaches this have their statistics recomputed by the single-device backwards
 *  (row_shift.c), and make a CPU ring backward given a float32 lse use a float64 one (ring/exact_lse.c). */
#define JFA_CPU_SHIFT_LSE 1024.0

/** Whether a row's lse cannot carry its probabilities to a backward's precision: |lse| >= JFA_CPU_SHIFT_LSE, +-inf
 *  included (a float32 lse's overflow); a NaN lse stays as it is. */
static inline int jfa_cpu_lse_too_large(double lse) { return !isnan(lse) && fabs(lse) >= JFA_CPU_SHIFT_LSE; }

/** For every query row r of the float64 copies Q (B,Hq,Nq,D) and K (B,Hkv,Nk,D) with |L[r]| >= JFA_CPU_SHIFT_LSE
 *  (+-inf included) whose visible scores (those at -inf skipped) have a finite max m and sum: SH[r] = m and
 *  L[r] = log(sum exp(S - m)); else SH[r] = 0 and L[r] kept. The backward's P is exp((S - SH) - L) (row_shift.c says why). */
void jfa_cpu_row_shift(jfa_context_t *ctx, const jfa_problem_t *p, const double *Q, const double *K, double *L,
                       double *SH);

/** Returns JFA_ERROR_UNSUPPORTED unless t is NULL, float64 or float32. */
jfa_status_t jfa_cpu_check_dtype(const jfa_tensor_t *t, const char *name);

/** Copies a whole tensor into a new contiguous BHSD float64 array (*out; free() it). */
jfa_status_t jfa_cpu_load(const jfa_context_t *ctx, const jfa_tensor_t *t, const char *name, double **out);

/**
 * Merges one partial row (o_p, lse_p, od_p, mu_p) into accumulators held as doubles,
 * exactly as jfa_attention_merge; od/mu ignored when jvp == 0. -inf on both sides
 * leaves (0, -inf, 0, 0). nan_empty (the accumulate mode of the block calls, which the ring
 * uses): an empty side (lse = -inf) whose mu is NaN makes the merged mu and od NaN (cpu/
 * forward.c's empty partials of infinite keys under a tangent); 0 (jfa_attention_merge, as
 * the CUDA merge): an empty side is not read.
 */
void jfa_cpu_merge_row(int64_t D, int jvp, double *o, double *lse, double *od, double *mu, const double *o_p,
                       double lse_p, const double *od_p, double mu_p, int nan_empty);

#endif /* JFA_CPU_CPU_H_ */
