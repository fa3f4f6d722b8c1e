/*
 * dispatch.c - jfa_backend_*: forwards each backend call to the CPU (jfa_cpu_*)
 * or CUDA (jfa_cuda_*) backend according to the context's device; a CUDA call of more than 65535 batch
 * entries as calls over chunks of the batch.
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

/* ---- batches beyond a CUDA grid axis ----------------------------------------------------------
   Every CUDA kernel family puts the batch (or batch x heads) on a grid axis of at most 65535 blocks, or declines
   the call; a CUDA call with more batch entries runs as calls of at most that many, each on views of its entries
   (the batch entries are independent in every op; a dense mask broadcast over the batch stays whole). */
enum { CUDA_MAX_BATCH = 65535, MAX_CHUNK_TENSORS = 20 };

typedef struct {
  jfa_problem_t p;
  jfa_tensor_t mask;
  jfa_tensor_t views[MAX_CHUNK_TENSORS];
  const jfa_tensor_t *t[MAX_CHUNK_TENSORS]; /* the views, NULL where the call's tensor is NULL */
} batch_chunk_t;

static int cuda_chunked(const jfa_context_t *ctx, const jfa_problem_t *p) {
  return ctx && ctx->device == JFA_DEVICE_CUDA && p->B > CUDA_MAX_BATCH;
}

/* Views of batch entries [b0, b0 + nb) of the call's n tensors (all of batch p->B: validated) and its problem. */
static void batch_chunk(batch_chunk_t *c, const jfa_problem_t *p, const jfa_tensor_t *const *ts, int n, int64_t b0,
                        int64_t nb) {
  c->p = *p;
  c->p.B = nb;
  if (p->dmask && p->dmask->shape[0] != 1) {
    c->mask = jfa_tensor_slice(p->dmask, 0, b0, nb);
    c->p.dmask = &c->mask;
    c->p.dmap = NULL; /* the caller's map is the whole batch's: each chunk builds its own (jfa.h) */
  }
  for (int i = 0; i < n; ++i) {
    c->t[i] = NULL;
    if (!ts[i]) continue;
    c->views[i] = jfa_tensor_slice(ts[i], 0, b0, nb);
    c->t[i] = &c->views[i];
  }
}

/* The caller's block map, checked as an unchunked call checks it (cuda_call_checks) before the chunks of a per-batch
   mask drop it: a host or another GPU's buffer is refused, not ignored. */
static jfa_status_t chunked_map_checks(const jfa_context_t *ctx, const jfa_problem_t *p) {
  return p->dmap ? jfa_cuda_check_device_memory(ctx, p->dmap, "params->mask_map") : JFA_SUCCESS;
}

/* The call over its batch in chunks: CALL uses c.p and c.t[0..n) (a batch_chunk_t c in scope). */
#define JFA_CUDA_BATCH_CHUNKS(p, ts, CALL)                                                 \
  do {                                                                                     \
    const int n_ = (int)(sizeof(ts) / sizeof((ts)[0]));                                    \
    JFA_CHECK(chunked_map_checks(ctx, (p)));                                               \
    for (int64_t b0_ = 0; b0_ < (p)->B; b0_ += CUDA_MAX_BATCH) {                           \
      batch_chunk_t c;                                                                     \
      const int64_t nb_ = (p)->B - b0_ < CUDA_MAX_BATCH ? (p)->B - b0_ : CUDA_MAX_BATCH;   \
      batch_chunk(&c, (p), (ts), n_, b0_, nb_);                                            \
      JFA_CHECK(CALL);                                                                     \
    }                                                                                      \
    return JFA_SUCCESS;                                                                    \
  } while (0)

jfa_status_t jfa_backend_attention_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                         const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                         const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
                                         const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu,
                                         int accumulate) {
  if (cuda_chunked(ctx, p)) {
    const jfa_tensor_t *ts[] = {q, k, v, qd, kd, vd, o, lse, od, mu};
    JFA_CUDA_BATCH_CHUNKS(p, ts, jfa_cuda_attention_block(ctx, &c.p, c.t[0], c.t[1], c.t[2], c.t[3], c.t[4], c.t[5],
                                                           c.t[6], c.t[7], c.t[8], c.t[9], accumulate));
  }
  JFA_DISPATCH(ctx, attention_block(ctx, p, q, k, v, qd, kd, vd, o, lse, od, mu, accumulate));
}

jfa_status_t jfa_backend_attention_delta(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                         const jfa_tensor_t *dout, const jfa_tensor_t *delta) {
  if (cuda_chunked(ctx, p)) {
    const jfa_tensor_t *ts[] = {o, dout, delta};
    JFA_CUDA_BATCH_CHUNKS(p, ts, jfa_cuda_attention_delta(ctx, &c.p, c.t[0], c.t[1], c.t[2]));
  }
  JFA_DISPATCH(ctx, attention_delta(ctx, p, o, dout, delta));
}

jfa_status_t jfa_backend_attention_backward_block(jfa_context_t *ctx, const jfa_problem_t *p,
                                                  const jfa_tensor_t *q, const jfa_tensor_t *k,
                                                  const jfa_tensor_t *v, const jfa_tensor_t *dout,
                                                  const jfa_tensor_t *lse, const jfa_tensor_t *delta,
                                                  const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                                  const jfa_tensor_t *dv, int accumulate) {
  if (cuda_chunked(ctx, p)) {
    const jfa_tensor_t *ts[] = {q, k, v, dout, lse, delta, dq, dk, dv};
    JFA_CUDA_BATCH_CHUNKS(p, ts, jfa_cuda_attention_backward_block(ctx, &c.p, c.t[0], c.t[1], c.t[2], c.t[3], c.t[4],
                                                                    c.t[5], c.t[6], c.t[7], c.t[8], accumulate));
  }
  JFA_DISPATCH(ctx, attention_backward_block(ctx, p, q, k, v, dout, lse, delta, dq, dk, dv, accumulate));
}

jfa_status_t jfa_backend_attention_backward(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                            const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *o,
                                            const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                            const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                            const jfa_tensor_t *dv) {
  if (cuda_chunked(ctx, p)) {
    const jfa_tensor_t *ts[] = {q, k, v, o, lse, dout, dq, dk, dv};
    JFA_CUDA_BATCH_CHUNKS(p, ts, jfa_cuda_attention_backward(ctx, &c.p, c.t[0], c.t[1], c.t[2], c.t[3], c.t[4], c.t[5],
                                                              c.t[6], c.t[7], c.t[8]));
  }
  JFA_DISPATCH(ctx, attention_backward(ctx, p, q, k, v, o, lse, dout, dq, dk, dv));
}

jfa_status_t jfa_backend_attention_backward_jvp_block(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *lse, const jfa_tensor_t *mu, const jfa_tensor_t *delta,
    const jfa_tensor_t *deltad, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate) {
  if (cuda_chunked(ctx, p)) {
    const jfa_tensor_t *ts[] = {q, k, v, qd, kd, vd, dout, doutd, lse, mu, delta, deltad, dqd, dkd, dvd, dq, dk, dv};
    JFA_CUDA_BATCH_CHUNKS(p, ts, jfa_cuda_attention_backward_jvp_block(
                                     ctx, &c.p, c.t[0], c.t[1], c.t[2], c.t[3], c.t[4], c.t[5], c.t[6], c.t[7], c.t[8],
                                     c.t[9], c.t[10], c.t[11], c.t[12], c.t[13], c.t[14], c.t[15], c.t[16], c.t[17],
                                     accumulate));
  }
  JFA_DISPATCH(ctx, attention_backward_jvp_block(ctx, p, q, k, v, qd, kd, vd, dout, doutd, lse, mu, delta, deltad,
                                                 dqd, dkd, dvd, dq, dk, dv, accumulate));
}

jfa_status_t jfa_backend_attention_delta_jvp(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                             const jfa_tensor_t *od, const jfa_tensor_t *dout,
                                             const jfa_tensor_t *doutd, const jfa_tensor_t *delta,
                                             const jfa_tensor_t *deltad) {
  if (cuda_chunked(ctx, p)) {
    const jfa_tensor_t *ts[] = {o, od, dout, doutd, delta, deltad};
    JFA_CUDA_BATCH_CHUNKS(p, ts, jfa_cuda_attention_delta_jvp(ctx, &c.p, c.t[0], c.t[1], c.t[2], c.t[3], c.t[4], c.t[5]));
  }
  JFA_DISPATCH(ctx, attention_delta_jvp(ctx, p, o, od, dout, doutd, delta, deltad));
}

jfa_status_t jfa_backend_attention_backward_jvp(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
    const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv) {
  if (cuda_chunked(ctx, p)) {
    const jfa_tensor_t *ts[] = {q, k, v, qd, kd, vd, o, lse, od, mu, dout, doutd, dqd, dkd, dvd, dq, dk, dv};
    JFA_CUDA_BATCH_CHUNKS(p, ts, jfa_cuda_attention_backward_jvp(
                                     ctx, &c.p, c.t[0], c.t[1], c.t[2], c.t[3], c.t[4], c.t[5], c.t[6], c.t[7], c.t[8],
                                     c.t[9], c.t[10], c.t[11], c.t[12], c.t[13], c.t[14], c.t[15], c.t[16], c.t[17]));
  }
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
