/*
 * api.c - the public attention calls of jfa.h: validate every argument first
 * (validate.c: nothing is written on error; params are read by params.c and
 * resolved into a jfa_problem_t), then call the backend through dispatch.c; and the
 * dense mask's block map built once for many calls (jfa_attention_mask_map_*).
 */
#include <stdint.h>
#include <string.h>

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

/* A block map's problem: attn_mask alone, its rows and keys as Nq and Nk (what the map depends on, with the mask's
   shape and strides). */
static jfa_status_t mask_map_problem(const jfa_context_t *ctx, const jfa_tensor_t *m, jfa_problem_t *p) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  JFA_CHECK(jfa_check_tensor(m, "attn_mask", ctx->device));
  const int ok = m->dtype == JFA_DTYPE_BOOL || m->dtype == JFA_DTYPE_FLOAT32 || m->dtype == JFA_DTYPE_FLOAT16 ||
                 m->dtype == JFA_DTYPE_BFLOAT16 || (m->dtype == JFA_DTYPE_FLOAT64 && ctx->device == JFA_DEVICE_CPU);
  if (!ok)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "attn_mask: dtype %s is not a mask's (bool, float32, float16, bfloat16%s)",
             jfa_dtype_name(m->dtype), ctx->device == JFA_DEVICE_CPU ? ", float64" : "");
  if (ctx->device == JFA_DEVICE_CPU && (m->dtype == JFA_DTYPE_FLOAT16 || m->dtype == JFA_DTYPE_BFLOAT16))
    JFA_FAIL(JFA_ERROR_UNSUPPORTED, "attn_mask: %s on a CPU context (the CPU backend's masks are bool, float32 or "
             "float64, as its attention calls take)", jfa_dtype_name(m->dtype));
  memset(p, 0, sizeof *p);
  p->B = m->shape[0], p->Hq = m->shape[1], p->Hkv = 1, p->Nq = m->shape[2], p->Nk = m->shape[3], p->D = 1;
  p->dmask = m;
  return JFA_SUCCESS;
}

jfa_status_t jfa_attention_mask_map_bytes(jfa_context_t *ctx, const jfa_tensor_t *attn_mask, uint64_t *bytes) {
  if (!bytes) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "bytes is NULL");
  jfa_problem_t p;
  JFA_CHECK(mask_map_problem(ctx, attn_mask, &p));
  uint64_t n = 0;
  if (ctx->device == JFA_DEVICE_CUDA) JFA_CHECK(jfa_cuda_mask_map_bytes(&p, &n));
  *bytes = n;
  return JFA_SUCCESS;
}

jfa_status_t jfa_attention_mask_map_build(jfa_context_t *ctx, const jfa_tensor_t *attn_mask, void *map,
                                          uint64_t bytes) {
  jfa_problem_t p;
  JFA_CHECK(mask_map_problem(ctx, attn_mask, &p));
  uint64_t want = 0;
  if (ctx->device == JFA_DEVICE_CUDA) JFA_CHECK(jfa_cuda_mask_map_bytes(&p, &want));
  if (bytes != want)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "bytes: %llu, but attn_mask's block map takes %llu (jfa_attention_mask_map_bytes)",
             (unsigned long long)bytes, (unsigned long long)want);
  if (want == 0) return JFA_SUCCESS; /* a CPU context, or a mask without rows or keys: no map */
  if (!map) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "map is NULL");
  if ((uintptr_t)map % 256 != 0) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "map: %p is not 256-byte aligned", map);
  const jfa_tensor_t whole = jfa_tensor_bhsd(map, JFA_DTYPE_BOOL, ctx->device, 1, 1, 1, (int64_t)want);
  if (jfa_tensors_overlap(&whole, attn_mask))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "map: overlaps attn_mask (the build reads the mask while it writes the map)");
  JFA_CHECK(jfa_cuda_check_device_memory(ctx, map, "map"));
  JFA_CHECK(jfa_cuda_mask_map_build(ctx, &p, map));
  return JFA_SUCCESS;
}
