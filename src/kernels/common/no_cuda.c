/*
 * no_cuda.c - the jfa_cuda_* backend of a build without CUDA: every entry point
 * returns JFA_ERROR_UNSUPPORTED with a message saying so. Compiled instead of the
 * .cu files when JFA_ENABLE_CUDA is OFF.
 */
#include "core/backend.h"
#include "core/check.h"

#define JFA_NO_CUDA() JFA_FAIL(JFA_ERROR_UNSUPPORTED, "jfa was built without CUDA (JFA_ENABLE_CUDA=OFF)")

jfa_status_t jfa_cuda_attention_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                      const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                      const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
                                      const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu,
                                      int accumulate) {
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_attention_delta(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                      const jfa_tensor_t *dout, const jfa_tensor_t *delta) {
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_attention_backward_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                               const jfa_tensor_t *k, const jfa_tensor_t *v,
                                               const jfa_tensor_t *dout, const jfa_tensor_t *lse,
                                               const jfa_tensor_t *delta, const jfa_tensor_t *dq,
                                               const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate) {
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_attention_backward(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                         const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *o,
                                         const jfa_tensor_t *lse, const jfa_tensor_t *dout, const jfa_tensor_t *dq,
                                         const jfa_tensor_t *dk, const jfa_tensor_t *dv) {
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_attention_merge(jfa_context_t *ctx, const jfa_tensor_t *o_acc, const jfa_tensor_t *lse_acc,
                                      const jfa_tensor_t *od_acc, const jfa_tensor_t *mu_acc,
                                      const jfa_tensor_t *o_part, const jfa_tensor_t *lse_part,
                                      const jfa_tensor_t *od_part, const jfa_tensor_t *mu_part) {
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_attention_backward_jvp_block(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *lse, const jfa_tensor_t *mu, const jfa_tensor_t *delta,
    const jfa_tensor_t *deltad, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate) {
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_attention_delta_jvp(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                          const jfa_tensor_t *od, const jfa_tensor_t *dout,
                                          const jfa_tensor_t *doutd, const jfa_tensor_t *delta,
                                          const jfa_tensor_t *deltad) {
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_attention_backward_jvp(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
    const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv) {
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_convert(jfa_context_t *ctx, const jfa_tensor_t *src, const jfa_tensor_t *dst) { JFA_NO_CUDA(); }

jfa_status_t jfa_cuda_fill(jfa_context_t *ctx, const jfa_tensor_t *dst, double value) { JFA_NO_CUDA(); }

jfa_status_t jfa_cuda_context_init(jfa_context_t *ctx) { JFA_NO_CUDA(); }

void jfa_cuda_context_release(jfa_context_t *ctx) { (void)ctx; }

jfa_status_t jfa_cuda_synchronize(jfa_context_t *ctx) { JFA_NO_CUDA(); }

int jfa_cuda_device_count(void) { return 0; }

int jfa_cuda_last_kernel(jfa_context_t *ctx, int backward) {
  (void)ctx;
  (void)backward;
  return -1;
}

int jfa_cuda_last_route(jfa_context_t *ctx) {
  (void)ctx;
  return -1;
}

int jfa_cuda_last_bwd_route(jfa_context_t *ctx) {
  (void)ctx;
  return -1;
}

int jfa_cuda_graph_workspaces(jfa_context_t *ctx) {
  (void)ctx;
  return 0;
}

int jfa_cuda_last_precision(jfa_context_t *ctx, int backward) {
  (void)ctx;
  (void)backward;
  return -1;
}

jfa_status_t jfa_cuda_mask_map_bytes(const jfa_problem_t *p, uint64_t *bytes) {
  (void)p, (void)bytes;
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_mask_map_build(jfa_context_t *ctx, const jfa_problem_t *p, void *map) {
  (void)ctx, (void)p, (void)map;
  JFA_NO_CUDA();
}

jfa_status_t jfa_cuda_check_device_memory(const jfa_context_t *ctx, const void *ptr, const char *name) {
  (void)ctx, (void)ptr, (void)name;
  JFA_NO_CUDA();
}
