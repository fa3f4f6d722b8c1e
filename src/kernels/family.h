/*
 * family.h - the interface every kernel family of jfa's CUDA backend exposes to the
 * dispatch tables of backend.cu (one call struct per op; per family and op, "can it take
 * this call" and "run it"), and the launchers shared between families.
 *
 * A family is a folder of src/kernels: simt/ (fp32 arithmetic, any call), sm80/ (mma.sync,
 * sm_80+), sm90/ (wgmma + TMA, sm_90a only). For each op it supports, a family defines
 *   const char *<family>_<op>_why_not(const <Op>Call &c);   NULL: it takes the call;
 *                                                             else why not (a constant string)
 *   jfa_status_t <family>_<op>_run(const <Op>Call &c);      runs it (only after why_not said NULL)
 * The forward and the fused forward+JVP share FwdCall (c.qd != NULL for the JVP).
 */
#ifndef JFA_KERNELS_FAMILY_H_
#define JFA_KERNELS_FAMILY_H_

#include "kernels/common/host.cuh"
#include "kernels/common/mask.cuh"
#include "kernels/common/view.cuh"

/* ---------------------------------------------------------------------------- */
/* The calls the dispatch tables hand to a family                                  */

/** A forward (qd == NULL) or fused forward+JVP call; mk from mask_setup. */
struct FwdCall {
  jfa_context_t *ctx;
  CudaState *cs;
  const jfa_problem_t *p;
  const jfa_tensor_t *q, *k, *v, *qd, *kd, *vd, *o, *lse, *od, *mu;
  int accumulate;
  const MaskDev *mk;
};

/** A backward call over one K/V block: dq, dk, dv written (or added when accumulate) from
 *  lse and delta (views of fp32). dq_ws: the contiguous fp32 (B, Hq, Nq, Dws) workspace a
 *  family may use to accumulate dQ; deterministic: JFA_FLAG_DETERMINISTIC (no atomics). */
struct BwdCall {
  jfa_context_t *ctx;
  CudaState *cs;
  const jfa_problem_t *p;
  const jfa_tensor_t *q, *k, *v, *dout;
  View lse, delta;
  float *dq_ws;
  int64_t Dws;
  int deterministic;
  const jfa_tensor_t *dq, *dk, *dv;
  int accumulate;
  const MaskDev *mk;
};

/** A backward-JVP call over one K/V block (second order): dqd, dkd, dvd (and dq, dk, dv, each
 *  optional: NULL) written, or added when accumulate, from the fp32 statistics lse, mu, delta,
 *  deltad (views). ws: contiguous fp32 (B, Hq, Nq, Dws) workspaces a family may use to
 *  accumulate dQd (dqd_ws) and dQ (dq_ws); deterministic: JFA_FLAG_DETERMINISTIC. */
struct BwdJvpCall {
  jfa_context_t *ctx;
  CudaState *cs;
  const jfa_problem_t *p;
  const jfa_tensor_t *q, *k, *v, *qd, *kd, *vd, *dout, *doutd;
  View lse, mu, delta, deltad;
  float *dqd_ws, *dq_ws;
  int64_t Dws;
  int deterministic;
  const jfa_tensor_t *dqd, *dkd, *dvd, *dq, *dk, *dv;
  int accumulate;
  const MaskDev *mk;
};

/* ---------------------------------------------------------------------------- */
/* The families                                                                   */

/* simt/family.cu: takes every call backend.cu lets through (any dtype but float64, D <= 256,
   any strides, every mask). */
const char *simt_fwd_why_not(const FwdCall &c);
jfa_status_t simt_fwd_run(const FwdCall &c);
const char *simt_bwd_why_not(const BwdCall &c);
jfa_status_t simt_bwd_run(const BwdCall &c);
/* simt/bwd_jvp.cu: the backward-JVP, every call. */
const char *simt_bwd_jvp_why_not(const BwdJvpCall &c);
jfa_status_t simt_bwd_jvp_run(const BwdJvpCall &c);

/* sm80/family.cu: bf16/fp16, aligned tensors (sm80_tensor_ok), head dims of sm80/tiles.h
   built into this library (JFA_HEAD_DIMS); the forward, JVP and backward also float32
   (sm80_tensor_ok_f32, TF32 tensor cores). */
const char *sm80_fwd_why_not(const FwdCall &c);
jfa_status_t sm80_fwd_run(const FwdCall &c);
const char *sm80_bwd_why_not(const BwdCall &c);
jfa_status_t sm80_bwd_run(const BwdCall &c);
/* sm80/family.cu, shared by the sm80 and sm90 backwards: the kernel arguments of a backward call
   (sm80/sm80.h BwdArgs; masked when the problem has masks), after clearing on the call's stream the fp32 dQ
   workspace (unless deterministic) or, dq_direct (the float32 kernels' dQ added into dq itself), dq (unless
   accumulating onto it); and its end without dq_direct: dq scaled from the workspace (launch_scale_add) or,
   deterministic, from the simt family's dQ kernel (the kernel skipped dQ). bwd_dq_direct_ok: the conditions on
   the call that both float32 backwards' dq_direct share (not deterministic, dq asked for, a dense span unless
   accumulating: the memset clears dq's elements and nothing else); each family adds its own on dq's layout. */
struct BwdArgs;
jfa_status_t bwd_args_begin(const BwdCall &c, BwdArgs *a, bool dq_direct = false);
jfa_status_t bwd_dq_finish(const BwdCall &c);
bool bwd_dq_direct_ok(const BwdCall &c);
/* The deterministic mode of the sm80 / sm90 backwards and backward-JVPs takes dQ (and dQd) from the simt family's dQ
   kernels (grid y = Hq) after their own kernels wrote dK, dV: those rows decline calls the simt kernels could not
   launch, so that such a call fails (or falls through) before anything is written. */
static inline const char *det_dq_why_not(const jfa_problem_t *p, int deterministic) {
  return deterministic && p->Hq > 65535 ? "deterministic with more than 65535 query heads (the simt dQ kernel's grid)"
                                        : nullptr;
}
/* sm80/family_bwd_jvp.cu: the backward-JVP (bf16/fp16, D <= 128, aligned q/k/v and tangents). */
const char *sm80_bwd_jvp_why_not(const BwdJvpCall &c);
jfa_status_t sm80_bwd_jvp_run(const BwdJvpCall &c);

/* sm90/family.cu (built only for sm_90a; JFA_HAVE_SM90A): the forward and JVP for bf16/fp16,
   D = 64 or 128, no masks beyond causal, TMA-describable tensors, on compute capability 9.0.
   sm90_compiled: whether its kernels have code for the current device. */
bool sm90_compiled(void);
const char *sm90_fwd_why_not(const FwdCall &c);
jfa_status_t sm90_fwd_run(const FwdCall &c);
/* sm90/family.cu: the backward (sm90/bwd.cuh), unless JFA_SM90_BWD=0 (CudaState.sm90_bwd);
   bf16/fp16, D = 64, 96, 128, 192 or 256, causal, the interval masks (windows, positions, packed
   sequences) and, at D = 64 and 128, boolean dense masks (no additive one), TMA-describable q, k, v, dout. */
const char *sm90_bwd_why_not(const BwdCall &c);
jfa_status_t sm90_bwd_run(const BwdCall &c);
/* sm90/family.cu: the backward-JVP (sm90/bwd_jvp.cuh), on unless JFA_SM90_BWD_JVP=0 (tiles.h
   kSm90BwdJvp): bf16/fp16, D = 64 or 128, causal and interval masks (no dense mask), TMA-describable
   tensors; the first-order
   outputs (dk and dv, dq) from the sm90 backward. */
const char *sm90_bwd_jvp_why_not(const BwdJvpCall &c);
jfa_status_t sm90_bwd_jvp_run(const BwdJvpCall &c);

/* ---------------------------------------------------------------------------- */
/* Pieces shared between families                                                 */

/* common/elementwise.cu: dst = scale * ws (+ dst when accumulate); ws is a contiguous fp32
   (B, H, N, Dws) array; dst a strided tensor of shape (B, H, N, D). */
jfa_status_t launch_scale_add(cudaStream_t st, const float *ws, int64_t Dws, const jfa_tensor_t *dst, float scale,
                              int accumulate);
/* common/elementwise.cu: delta (contiguous fp32, B*H*N) = rowsum(dout * o). */
jfa_status_t launch_delta(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *o, const jfa_tensor_t *dout,
                          View delta);

/* simt/simt.cu: plain fp32-arithmetic kernels for any dtype, D <= 256, any strides and every mask
   (mk from mask_setup). The sm80 backward's deterministic mode takes its dQ from simt_backward_dq. */
jfa_status_t simt_forward(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,
                          const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                          const jfa_tensor_t *vd, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                          const jfa_tensor_t *od, const jfa_tensor_t *mu, int accumulate, const MaskDev &mk);
/* dq (strided, accumulate or overwrite) from q, k, v, dout, lse, delta (views of fp32). */
jfa_status_t simt_backward_dq(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q,
                              const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout, View lse,
                              View delta, const jfa_tensor_t *dq, int accumulate, const MaskDev &mk);
jfa_status_t simt_backward_dkdv(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q,
                                const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout, View lse,
                                View delta, const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate,
                                const MaskDev &mk);

/* simt/bwd_jvp.cu: dqd and dq (each strided, NULL skipped; accumulate or overwrite) of the
   backward-JVP, a warp per query row, no atomics (the sm80 family's deterministic mode). */
jfa_status_t simt_backward_jvp_dq(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q,
                                  const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                  const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
                                  const jfa_tensor_t *doutd, View lse, View mu, View delta, View deltad,
                                  const jfa_tensor_t *dqd, const jfa_tensor_t *dq, int accumulate, const MaskDev &mk);

/* sm80/family.cu: whether a tensor is eligible for the tensor-core kernels (16-bit dtype,
   stride[3] == 1, 16-byte aligned base and strides); the sm90 TMA rule builds on it. */
bool sm80_tensor_ok(const jfa_tensor_t *t);
/* sm80/family.cu: the same for the float32 tensor-core kernels (float32, stride[3] == 1,
   16-byte aligned base, strides a multiple of 4 elements). */
bool sm80_tensor_ok_f32(const jfa_tensor_t *t);

#endif /* JFA_KERNELS_FAMILY_H_ */
