/*
 * api.c - the public attention calls of jfa.h: validate every argument first
 * (validate.c: nothing is written on error; params are read by params.c and
 * resolved into a jfa_problem_t), then call the backend through dispatch.c.
 */
#include "core/backend.h"
#include "core/check.h"
#include "core/validate.h"

jfa_status_t jfa_attention_forward(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                   const jfa_tensor_t *q, const jfa_tensor_t *k,
                                   const jfa_tensor_t *v, const jfa_tensor_t *o,
                                   const jfa_tensor_t *lse) {
  jfa_problem_t p;
  JFA_CHECK(jfa_validate_forward(ctx, params, q, k, v, NULL, NULL, NULL, o, lse, NULL, NULL, 0, &p));
  JFA_CHECK(jfa_backend_attention_block(ctx, &p, q, k, v, NULL, NULL, NULL, o, lse, NULL, NULL, 0));
  return JFA_SUCCESS;
}

jfa_status_t jfa_attention_forward_jvp(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                       const jfa_tensor_t *q, const jfa_tensor_t *k,
                                       const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                       const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                       const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                       const jfa_tensor_t *od, const jfa_tensor_t *mu) {
  jfa_problem_t p;
  JFA_CHECK(jfa_validate_forward(ctx, params, q, k, v, qd, kd, vd, o, lse, od, mu, 1, &p));
  JFA_CHECK(jfa_backend_attention_block(ctx, &p, q, k, v, qd, kd, vd, o, lse, od, mu, 0));
  return JFA_SUCCESS;
}

jfa_status_t jfa_attention_backward(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                    const jfa_tensor_t *q, const jfa_tensor_t *k,
                                    const jfa_tensor_t *v, const jfa_tensor_t *o,
                                    const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                    const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                    const jfa_tensor_t *dv) {
  jfa_problem_t p;
  JFA_CHECK(jfa_validate_backward(ctx, params, q, k, v, o, lse, dout, dq, dk, dv, &p));
  JFA_CHECK(jfa_backend_attention_backward(ctx, &p, q, k, v, o, lse, dout, dq, dk, dv));
  return JFA_SUCCESS;
}

jfa_status_t jfa_attention_backward_jvp(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                        const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                        const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                        const jfa_tensor_t *o, const jfa_tensor_t *lse, const jfa_tensor_t *od,
                                        const jfa_tensor_t *mu, const jfa_tensor_t *dout,
                                        const jfa_tensor_t *doutd, const jfa_tensor_t *dqd,
                                        const jfa_tensor_t *dkd, const jfa_tensor_t *dvd, const jfa_tensor_t *dq,
                                        const jfa_tensor_t *dk, const jfa_tensor_t *dv) {
  jfa_problem_t p;
  JFA_CHECK(jfa_validate_backward_jvp(ctx, params, q, k, v, qd, kd, vd, o, lse, od, mu, dout, doutd, dqd, dkd, dvd,
                                      dq, dk, dv, &p));
  JFA_CHECK(jfa_backend_attention_backward_jvp(ctx, &p, q, k, v, qd, kd, vd, o, lse, od, mu, dout, doutd, dqd, dkd,
                                               dvd, dq, dk, dv));
  return JFA_SUCCESS;
}

jfa_status_t jfa_attention_merge(jfa_context_t *ctx,
                                 const jfa_tensor_t *o_acc, const jfa_tensor_t *lse_acc,
                                 const jfa_tensor_t *od_acc, const jfa_tensor_t *mu_acc,
                                 const jfa_tensor_t *o_part, const jfa_tensor_t *lse_part,
                                 const jfa_tensor_t *od_part, const jfa_tensor_t *mu_part) {
  JFA_CHECK(jfa_validate_merge(ctx, o_acc, lse_acc, od_acc, mu_acc, o_part, lse_part, od_part, mu_part));
  JFA_CHECK(jfa_backend_attention_merge(ctx, o_acc, lse_acc, od_acc, mu_acc, o_part, lse_part, od_part, mu_part));
  return JFA_SUCCESS;
}
