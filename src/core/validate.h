/*
 * validate.h - private: full argument validation of each public attention call
 * (src/core/validate.c). Each function checks everything, sets the last error
 * naming the offending argument, and on success fills the resolved problem.
 */
#ifndef JFA_CORE_VALIDATE_H_
#define JFA_CORE_VALIDATE_H_

#include "core/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Forward (jvp == 0: qd, kd, vd, od, mu ignored) or forward+JVP (jvp != 0). */
jfa_status_t jfa_validate_forward(const jfa_context_t *ctx, const jfa_attention_params_t *params,
                                  const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                  const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                  const jfa_tensor_t *o, const jfa_tensor_t *lse, const jfa_tensor_t *od,
                                  const jfa_tensor_t *mu, int jvp, jfa_problem_t *p);

/** Backward. */
jfa_status_t jfa_validate_backward(const jfa_context_t *ctx, const jfa_attention_params_t *params,
                                   const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                   const jfa_tensor_t *o, const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                   const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv,
                                   jfa_problem_t *p);

/** Backward-JVP (dq, dk, dv may be NULL). */
jfa_status_t jfa_validate_backward_jvp(const jfa_context_t *ctx, const jfa_attention_params_t *params,
                                       const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                       const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                       const jfa_tensor_t *o, const jfa_tensor_t *lse, const jfa_tensor_t *od,
                                       const jfa_tensor_t *mu, const jfa_tensor_t *dout,
                                       const jfa_tensor_t *doutd, const jfa_tensor_t *dqd,
                                       const jfa_tensor_t *dkd, const jfa_tensor_t *dvd, const jfa_tensor_t *dq,
                                       const jfa_tensor_t *dk, const jfa_tensor_t *dv, jfa_problem_t *p);

/** Merge. */
jfa_status_t jfa_validate_merge(const jfa_context_t *ctx, const jfa_tensor_t *o_acc,
                                const jfa_tensor_t *lse_acc, const jfa_tensor_t *od_acc,
                                const jfa_tensor_t *mu_acc, const jfa_tensor_t *o_part,
                                const jfa_tensor_t *lse_part, const jfa_tensor_t *od_part,
                                const jfa_tensor_t *mu_part);

/**
 * Checks params (NULL means defaults) and resolves scale, causal mode, positions,
 * windows, packed sequences and the dense mask into p (p's shapes must be set).
 * The dense mask is checked against q's dtype and the context's device.
 */
/** One packed-sequence offset array (host memory): nseq + 1 values, non-decreasing from 0 to total. name (e.g.
 *  "params->cu_seqlens_q") and extent (e.g. "Nq") name them in the message. Used by the calls and the ring. */
jfa_status_t jfa_check_cu_seqlens(const int64_t *cu, int64_t nseq, int64_t total, const char *name,
                                  const char *extent);

jfa_status_t jfa_resolve_params(const jfa_attention_params_t *params, jfa_dtype_t qdtype, jfa_device_t device,
                                   jfa_problem_t *p);


#ifdef __cplusplus
}
#endif

#endif /* JFA_CORE_VALIDATE_H_ */
