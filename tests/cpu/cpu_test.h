/*
 * cpu_test.h - helpers of the CPU tests: host tensors that keep their values as
 * doubles next to their storage, and an independent, naive float64 reference of
 * attention (explicit S and P matrices) for the forward, JVP and backward.
 */
#ifndef JFA_CPU_TEST_H_
#define JFA_CPU_TEST_H_

#include <stdint.h>

#include "jfa.h"
#include "testutil.h"

/** A host tensor: storage (t.data) plus a contiguous BHSD copy of its values (val). */
typedef struct {
  jfa_tensor_t t;
  double *val;
  size_t n;
} tbuf_t;

/** Allocates storage of a dtype in BHSD (bshd = 0) or BSHD (bshd = 1) order. */
tbuf_t tb_new(jfa_dtype_t dtype, int bshd, int64_t B, int64_t H, int64_t S, int64_t D);
/** Writes values (rounded to the dtype) into storage; val receives the stored values. */
void tb_set(tbuf_t *b, const double *values);
/** Fills storage with random normal values times scale; val receives them. */
void tb_random(tbuf_t *b, double scale);
/** Poisons the storage with NaN. */
void tb_poison(tbuf_t *b);
/** Reads the storage into val. */
void tb_get(tbuf_t *b);
/** Frees storage and values. */
void tb_free(tbuf_t *b);

/** A problem's shapes and params with its element counts (q-like, k-like, statistics). */
typedef struct {
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_attention_params_t params;
  size_t nq, nk, ns;
} cpu_prob_t;

/** The problem (B, Hq, Hkv, Nq, Nk, D) with default params but the causal mode and positions. */
cpu_prob_t cpu_prob(int64_t B, int64_t Hq, int64_t Hkv, int64_t Nq, int64_t Nk, int64_t D, jfa_mask_t mask,
                    int64_t qpos, int64_t kpos);

/** float64 BHSD views over a caller's array: of q's shape, of k's shape, of a statistic (lse, mu). */
jfa_tensor_t cpu_tq(const cpu_prob_t *p, double *x);
jfa_tensor_t cpu_tk(const cpu_prob_t *p, double *x);
jfa_tensor_t cpu_ts(const cpu_prob_t *p, double *x);
/** n doubles: normal values (cpu_rnd) or NaN poison (cpu_poisoned); free() them. */
double *cpu_rnd(size_t n);
double *cpu_poisoned(size_t n);
/** dst = x + a * t over n doubles. */
void cpu_axpy(double *dst, const double *x, double a, const double *t, size_t n);

/** Geometry of the reference (positions already resolved). */
typedef struct {
  int64_t B, Hq, Hkv, Nq, Nk, D;
  double scale;
  int causal;
  int64_t q_pos0, k_pos0;
  int64_t win_left, win_right;     /* -1: unbounded side */
  int64_t nseq;                    /* packed sequences (0: none) */
  const int64_t *cu_q, *cu_k;      /* nseq + 1 offsets each */
  int seq_bottom_right;            /* alignment inside each sequence */
  const double *bias;              /* dense mask as a full (B, Hq, Nq, Nk) additive bias (-inf masks), or NULL */
} ref_problem_t;

/**
 * Resolves public params (scale 0 = 1/sqrt(D) unless JFA_PARAMS_SCALE_AS_GIVEN, mask modes, windows, packed sequences) into a
 * reference problem. The dense mask is not read: set bias (see ref_dense_bias).
 */
ref_problem_t ref_problem(int64_t B, int64_t Hq, int64_t Hkv, int64_t Nq, int64_t Nk, int64_t D,
                          const jfa_attention_params_t *params);

/**
 * Naive forward (+ JVP when qd != NULL) on contiguous BHSD doubles:
 * O, lse (B*Hq*Nq), Od, mu. Fully masked rows give O = Od = 0, lse = -inf, mu = 0.
 */
void ref_forward(const ref_problem_t *p, const double *q, const double *k, const double *v, const double *qd,
                 const double *kd, const double *vd, double *o, double *lse, double *od, double *mu);

/** Naive backward: dQ, dK, dV (dK, dV summed over GQA groups) from dO. */
void ref_backward(const ref_problem_t *p, const double *q, const double *k, const double *v, const double *dout,
                  double *dq, double *dk, double *dv);

/**
 * Expands a dense mask tensor of params (bool or additive, broadcast over batch
 * or heads) into a full (B, Hq, Nq, Nk) additive bias; free() the result.
 */
double *ref_dense_bias(const jfa_tensor_t *mask, int64_t B, int64_t Hq, int64_t Nq, int64_t Nk);

/** Whether key j is visible to query i by the reference's definition (dense mask included). */
int ref_visible(const ref_problem_t *p, int64_t b, int64_t h, int64_t i, int64_t j);

/** Sum of a[i] * b[i]. */
double dot_n(const double *a, const double *b, size_t n);

/** Packed sequence s with cu[s] <= idx < cu[s+1] (a linear scan, the definition), or -1. */
int64_t ref_seq(const int64_t *cu, int64_t nseq, int64_t idx);

#endif /* JFA_CPU_TEST_H_ */
