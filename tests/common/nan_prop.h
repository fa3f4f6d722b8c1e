/*
 * nan_prop.h - NaN propagation checks shared by the CPU and GPU tests: one NaN placed in
 * q, k, v, a tangent, dO or an additive mask must give NaN in the outputs it reaches (never
 * a zero row, as a running max that drops NaN would), and nothing outside the batch it is
 * in: a NaN query, query tangent, dO entry or mask entry only its own row; a NaN key or value
 * (or their tangents) at least the rows that attend to it, and possibly other rows of its
 * head through 0 * NaN, as in SDPA's math (softmax(S) @ V). The device is abstracted by a few buffer functions, so the same
 * cases run on every backend and kernel family.
 */
#ifndef JFA_NAN_PROP_H_
#define JFA_NAN_PROP_H_

#include <stdint.h>

#include "jfa.h"

/** A tensor on some device with its values as contiguous BHSD doubles (val). */
typedef struct {
  jfa_tensor_t t;
  double *val;
  size_t n;
  void *impl; /* the device layer's own buffer */
} np_buf_t;

/** The device layer: a context and how to allocate, upload, download and free tensors. */
typedef struct {
  jfa_context_t *ctx;
  jfa_dtype_t dtype;      /* q, k, v, tangents, dO, o, od, dq, dk, dv */
  jfa_dtype_t stat_dtype; /* lse, mu and the merge accumulators */
  np_buf_t (*alloc)(jfa_dtype_t dtype, int64_t B, int64_t H, int64_t S, int64_t D);
  void (*set)(np_buf_t *b, const double *values); /* upload values rounded to the dtype */
  void (*get)(np_buf_t *b);                       /* download into val */
  void (*release)(np_buf_t *b);
} np_device_t;

/**
 * Runs every NaN case (a NaN in q, k, v, qd, kd, vd, dO, an additive mask entry, and a
 * merge partial) for head dim D on the device, recording checks with tu_check/tu_expect
 * under names prefixed by label. Problem: B = 2, Hq = 2, Hkv = 1, Nq = 37, Nk = 45,
 * causal bottom-right, every case once without and once with a window (window_left = 32: the NaN key on
 * the NaN row's window edge, hidden from the last two rows); the NaN always lands in batch 0, so batch 1
 * must stay finite.
 */
void np_run(const np_device_t *dev, int64_t D, const char *label);

#endif /* JFA_NAN_PROP_H_ */
