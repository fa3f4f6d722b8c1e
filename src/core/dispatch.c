/*
 * dispatch.c - jfa_backend_*: forwards each backend call to the CPU (jfa_cpu_*)
 * or CUDA (jfa_cuda_*) backend according to the context's device.
 */
#include "core/backend.h"
#include "core/check.h"

#define JFA_DISPATCH(ctx, call_args)                                                      \
  do {                                                                                    \
    if (!(ctx)) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");                      \
    jfa_status_t s_ = (ctx)->device == JFA_DEVICE_CUDA ? jfa_cuda_##call_args : jfa_cpu_##call_args; \
    if (s_ != JFA_SUCCESS) jfa_error_trace(__FILE__, __LINE__);                           \
    return s_;                                                                            \
  } while (0)

jfa_status_t jfa_backend_attention_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                         const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                         const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
                                         const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu,
                                         int accumulate) {
  JFA_DISPATCH(ctx, attention_block(ctx, p, q, k, v, qd, kd, vd, o, lse, od, mu, accumulate));
}

jfa_status_t jfa_backend_attention_delta(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                         const jfa_tensor_t *dout, const jfa_tensor_t *delta) {
  JFA_DISPATCH(ctx, attention_delta(ctx, p, o, dout, delta));
}

jfa_status_t jfa_backend_attention_backward_block(jfa_context_t *ctx, const jfa_problem_t *p,
                                                  const jfa_tensor_t *q, const jfa_tensor_t *k,
                                                  const jfa_tensor_t *v, const jfa_tensor_t *dout,
                                                  const jfa_tensor_t *lse, const jfa_tensor_t *delta,
                                                  const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                                  const jfa_tensor_t *dv, int accumulate) {
  JFA_DISPATCH(ctx, attention_backward_block(ctx, p, q, k, v, dout, lse, delta, dq, dk, dv, accumulate));
}

jfa_status_t jfa_backend_attention_backward(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                            const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *o,
                                            const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                            const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                            const jfa_tensor_t *dv) {
  JFA_DISPATCH(ctx, attention_backward(ctx, p, q, k, v, o, lse, dout, dq, dk, dv));
}

jfa_status_t jfa_backend_attention_backward_jvp_block(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *lse, const jfa_tensor_t *mu, const jfa_tensor_t *delta,
    const jfa_tensor_t *deltad, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate) {
  JFA_DISPATCH(ctx, attention_backward_jvp_block(ctx, p, q, k, v, qd, kd, vd, dout, doutd, lse, mu, delta, deltad,
                                                 dqd, dkd, dvd, dq, dk, dv, accumulate));
}

jfa_status_t jfa_backend_attention_delta_jvp(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                             const jfa_tensor_t *od, const jfa_tensor_t *dout,
                                             const jfa_tensor_t *doutd, const jfa_tensor_t *delta,
                                             const jfa_tensor_t *deltad) {
  JFA_DISPATCH(ctx, attention_delta_jvp(ctx, p, o, od, dout, doutd, delta, deltad));
}

jfa_status_t jfa_backend_attention_backward_jvp(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
    const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv) {
  JFA_DISPATCH(ctx, attention_backward_jvp(ctx, p, q, k, v, qd, kd, vd, o, lse, od, mu, dout, doutd, dqd, dkd, dvd,
                                           dq, dk, dv));
}

jfa_status_t jfa_backend_attention_merge(jfa_context_t *ctx, const jfa_tensor_t *o_acc,
                                         const jfa_tensor_t *lse_acc, const jfa_tensor_t *od_acc,
                                         const jfa_tensor_t *mu_acc, const jfa_tensor_t *o_part,
                                         const jfa_tensor_t *lse_part, const jfa_tensor_t *od_part,
                                         const jfa_tensor_t *mu_part) {
  JFA_DISPATCH(ctx, attention_merge(ctx, o_acc, lse_acc, od_acc, mu_acc, o_part, lse_part, od_part, mu_part));
}

jfa_status_t jfa_backend_convert(jfa_context_t *ctx, const jfa_tensor_t *src, const jfa_tensor_t *dst) {
  JFA_DISPATCH(ctx, convert(ctx, src, dst));
}

jfa_status_t jfa_backend_fill(jfa_context_t *ctx, const jfa_tensor_t *dst, double value) {
  JFA_DISPATCH(ctx, fill(ctx, dst, value));
}
