/*
 * internal.h - declarations shared between the .cu files of jfa's CUDA backend
 * (kernel launchers that are not part of the backend contract).
 */
#ifndef JFA_KERNELS_INTERNAL_H_
#define JFA_KERNELS_INTERNAL_H_

#include "kernels/common.cuh"

/* elementwise.cu: dst = scale * ws (+ dst when accumulate); ws is a contiguous fp32
   (B, H, N, Dws) array; dst a strided tensor of shape (B, H, N, D). */
jfa_status_t launch_scale_add(cudaStream_t st, const float *ws, int64_t Dws, const jfa_tensor_t *dst, float scale,
                              int accumulate);
/* elementwise.cu: delta (contiguous fp32, B*H*N) = rowsum(dout * o). */
jfa_status_t launch_delta(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *o, const jfa_tensor_t *dout,
                          View delta);

/* simt.cu: plain fp32-arithmetic kernels for any dtype, D <= 256, any strides and every mask
   (mk from mask_setup). */
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

/* fwd_tc.cu: tensor-core forward / JVP. Sets *done = false (and does nothing) when
   the problem is not eligible for the fast path; mk from mask_setup. */
jfa_status_t tc_forward(bool *done, jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,
                        const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                        const jfa_tensor_t *vd, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                        const jfa_tensor_t *od, const jfa_tensor_t *mu, int accumulate, const MaskDev *mk);
/* bwd_tc.cu: tensor-core backward over one K/V block: dk, dv written (or added), dq added
   into the contiguous fp32 workspace dq_ws (B, Hq, Nq, Dws) with atomics unless
   skip_dq. Same eligibility convention as tc_forward. */
jfa_status_t tc_backward(bool *done, jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                         const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout, View lse,
                         View delta, float *dq_ws, int64_t Dws, int skip_dq, const jfa_tensor_t *dk,
                         const jfa_tensor_t *dv, int accumulate, const MaskDev *mk);
/* The head dim the tensor-core kernels run for D (0 if none). */
int tc_head_dim(int64_t D);
/* Whether tensors are eligible for the tensor-core path (16-bit dtype, stride[3] == 1,
   16-byte aligned rows). */
bool tc_tensor_ok(const jfa_tensor_t *t);

/* fwd_sm90a.cu (built only for sm_90a; JFA_HAVE_SM90A): the Hopper forward / JVP (wgmma,
   TMA, warp specialisation). sm90a_compiled: whether its kernels have code for the current
   device; sm90a_forward_eligible: whether a call's shapes and tensors fit it. */
bool sm90a_compiled(void);
bool sm90a_forward_eligible(const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,
                            const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                            const jfa_tensor_t *vd);
jfa_status_t sm90a_forward(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,
                           const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                           const jfa_tensor_t *vd, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                           const jfa_tensor_t *od, const jfa_tensor_t *mu, int accumulate, const MaskDev *mk);

#endif /* JFA_KERNELS_INTERNAL_H_ */
