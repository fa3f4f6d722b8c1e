/*
 * backend.cu - the jfa_cuda_* attention entry points of backend.h: picks the kernel
 * for each call (the table below), manages the workspace (delta and the fp32 dQ
 * accumulator of the backward, the device copy of the packed-sequence offsets) and
 * the device/stream.
 *
 * Which kernel runs (first row that fits; JFA_KERNEL_PATH=mma skips the sm_90a rows,
 * =simt every tensor-core row):
 *
 *   op        device  dtype      head dim   masks            tensors        kernel
 *   fwd, JVP  sm_90   bf16/fp16  64, 128    none or causal   TMA-able (1)   fwd_sm90a.cu  wgmma + TMA, warp-specialised
 *   fwd       sm_80+  bf16/fp16  <= 256     any              aligned (2)    fwd_tc.cu     mma.sync
 *   JVP       sm_80+  bf16/fp16  <= 128     any              aligned (2)    jvp_tc.cu     mma.sync
 *   bwd       sm_80+  bf16/fp16  <= 128     any              aligned (2)    bwd_tc.cu     mma.sync
 *   all       any     any        <= 256     any              any            simt.cu       fp32 arithmetic
 *   bwd-JVP   any     any        <= 256     any              any            bwd_jvp_simt.cu  fp32 arithmetic
 *             (the second-order call's entry points live in bwd_jvp_simt.cu itself)
 *
 *   (1) tma_tensor_ok: 16-byte aligned base, unit stride along D, 16-byte multiple strides.
 *   (2) tc_tensor_ok: the same without the TMA extent limits.
 * The sm_90a kernels exist when the build compiled them (JFA_HAVE_SM90A) and run only on
 * compute capability 9.0 (CudaState.sm90a_ok).
 */
#include <string.h>

#include "kernels/internal.h"

static jfa_status_t common_checks(const jfa_problem_t *p, const jfa_tensor_t *q) {
  if (q->dtype == JFA_DTYPE_FLOAT64) JFA_FAIL(JFA_ERROR_UNSUPPORTED, "q: float64 is not supported on CUDA");
  if (p->D > 256)
    JFA_FAIL(JFA_ERROR_UNSUPPORTED, "q: head dim D = %lld is not supported on CUDA (D <= 256)", (long long)p->D);
  return JFA_SUCCESS;
}

static jfa_status_t need_f32(const jfa_tensor_t *t, const char *name) {
  if (t && t->dtype != JFA_DTYPE_FLOAT32)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s must be float32 on CUDA (dtype %d)", name, (int)t->dtype);
  return JFA_SUCCESS;
}

jfa_status_t mask_setup(jfa_context_t *ctx, const jfa_problem_t *p, void *ws, MaskDev *m) {
  memset(m, 0, sizeof(*m));
  m->causal = p->causal;
  m->windowed = p->windowed;
  m->wl = p->win_left;
  m->wr = p->win_right;
  m->q_pos0 = p->q_pos0;
  m->k_pos0 = p->k_pos0;
  m->Nq = p->Nq;
  m->Nk = p->Nk;
  m->nseq = p->nseq;
  m->br = p->seq_bottom_right;
  if (p->nseq > 0) {
    if (!p->cu_q || !p->cu_k) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "packed sequences without offsets");
    const size_t n = (size_t)(p->nseq + 1);
    int64_t *d = (int64_t *)ws;
    /* pageable host memory: the copy is staged before cudaMemcpyAsync returns */
    JFA_CUDA_CHECK(cudaMemcpyAsync(d, p->cu_q, n * sizeof(int64_t), cudaMemcpyHostToDevice, ctx_stream(ctx)));
    JFA_CUDA_CHECK(cudaMemcpyAsync(d + n, p->cu_k, n * sizeof(int64_t), cudaMemcpyHostToDevice, ctx_stream(ctx)));
    m->cu_q = d;
    m->cu_k = d + n;
  }
  if (p->dmask) {
    const jfa_tensor_t *t = p->dmask;
    switch (t->dtype) {
      case JFA_DTYPE_BOOL: m->dm_kind = MASK_DENSE_BOOL; break;
      case JFA_DTYPE_FLOAT32: m->dm_kind = MASK_DENSE_F32; break;
      case JFA_DTYPE_FLOAT16: m->dm_kind = MASK_DENSE_F16; break;
      case JFA_DTYPE_BFLOAT16: m->dm_kind = MASK_DENSE_BF16; break;
      default: JFA_FAIL(JFA_ERROR_UNSUPPORTED, "attn_mask: dtype %d is not supported on CUDA", (int)t->dtype);
    }
    m->dm = make_view(t);
    if (t->shape[0] == 1) m->dm.sb = 0;
    if (t->shape[1] == 1) m->dm.sh = 0;
  }
  return JFA_SUCCESS;
}

extern "C" jfa_status_t jfa_cuda_attention_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                                 const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                                 const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
                                                 const jfa_tensor_t *lse, const jfa_tensor_t *od,
                                                 const jfa_tensor_t *mu, int accumulate) {
  JFA_CHECK(common_checks(p, q));
  JFA_CHECK(need_f32(lse, "lse"));
  JFA_CHECK(need_f32(mu, "mu"));
  if (accumulate) {
    JFA_CHECK(need_f32(o, "o (accumulator)"));
    JFA_CHECK(need_f32(od, "od (accumulator)"));
    if (!lse) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "lse: the accumulate mode needs the lse accumulator");
    if (qd && !mu) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "mu: the accumulate mode of the JVP needs mu");
  }
  if (qd && (!kd || !vd || !od)) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "kd, vd, od: needed with qd");
  DeviceGuard g(ctx->device_index);
  if (p->B * p->Hq * p->Nq == 0) return JFA_SUCCESS;
  if (jfa_problem_fully_masked(p) && accumulate) return JFA_SUCCESS; /* merging nothing */
  void *mws = nullptr;
  if (mask_ws_bytes(p)) JFA_CHECK(jfa_cuda_workspace(ctx, mask_ws_bytes(p), &mws));
  MaskDev mk;
  JFA_CHECK(mask_setup(ctx, p, mws, &mk));
  CudaState *cs;
  JFA_CHECK(jfa_cuda_state(ctx, &cs));
#ifdef JFA_HAVE_SM90A
  if (cs->path_cap >= PATH_SM90A && cs->sm90a_ok && sm90a_forward_eligible(p, q, k, v, qd, kd, vd)) {
    JFA_CHECK(sm90a_forward(ctx, p, q, k, v, qd, kd, vd, o, lse, od, mu, accumulate, &mk));
    cs->last_fwd = PATH_SM90A;
    return JFA_SUCCESS;
  }
#endif
  bool done = false;
  if (cs->path_cap >= PATH_MMA)
    JFA_CHECK(tc_forward(&done, ctx, p, q, k, v, qd, kd, vd, o, lse, od, mu, accumulate, &mk));
  if (done) {
    cs->last_fwd = PATH_MMA;
    return JFA_SUCCESS;
  }
  JFA_CHECK(simt_forward(ctx_stream(ctx), p, q, k, v, qd, kd, vd, o, lse, od, mu, accumulate, mk));
  cs->last_fwd = PATH_SIMT;
  return JFA_SUCCESS;
}

/* dq/dk/dv given delta (fp32 view) and lse. */
static jfa_status_t backward_core(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                  const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout, View lse,
                                  View delta, float *dq_ws, const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                  const jfa_tensor_t *dv, int accumulate, const MaskDev &mk) {
  cudaStream_t st = ctx_stream(ctx);
  const bool det = (ctx->flags & JFA_FLAG_DETERMINISTIC) != 0;
  const int64_t Dws = (p->D + 7) / 8 * 8;
  bool done = false;
  CudaState *cs;
  JFA_CHECK(jfa_cuda_state(ctx, &cs));
  if (cs->path_cap >= PATH_MMA) {
    if (!det) {
      JFA_CUDA_CHECK(cudaMemsetAsync(dq_ws, 0, (size_t)(p->B * p->Hq * p->Nq * Dws) * sizeof(float), st));
    }
    JFA_CHECK(
        tc_backward(&done, ctx, p, q, k, v, dout, lse, delta, dq_ws, Dws, det ? 1 : 0, dk, dv, accumulate, &mk));
  }
  cs->last_bwd = done ? PATH_MMA : PATH_SIMT;
  if (done) {
    if (det)
      JFA_CHECK(simt_backward_dq(st, p, q, k, v, dout, lse, delta, dq, accumulate, mk));
    else
      JFA_CHECK(launch_scale_add(st, dq_ws, Dws, dq, (float)p->scale, accumulate));
    return JFA_SUCCESS;
  }
  JFA_CHECK(simt_backward_dq(st, p, q, k, v, dout, lse, delta, dq, accumulate, mk));
  JFA_CHECK(simt_backward_dkdv(st, p, q, k, v, dout, lse, delta, dk, dv, accumulate, mk));
  return JFA_SUCCESS;
}

static jfa_status_t check_grad_dtypes(const jfa_tensor_t *q, const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                      const jfa_tensor_t *dv, int accumulate) {
  jfa_dtype_t want = accumulate ? JFA_DTYPE_FLOAT32 : q->dtype;
  if (dq->dtype != want || dk->dtype != want || dv->dtype != want)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "dq, dk, dv must be %s", accumulate ? "float32 accumulators" : "of q's dtype");
  return JFA_SUCCESS;
}

extern "C" jfa_status_t jfa_cuda_attention_backward_block(jfa_context_t *ctx, const jfa_problem_t *p,
                                                          const jfa_tensor_t *q, const jfa_tensor_t *k,
                                                          const jfa_tensor_t *v, const jfa_tensor_t *dout,
                                                          const jfa_tensor_t *lse, const jfa_tensor_t *delta,
                                                          const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                                          const jfa_tensor_t *dv, int accumulate) {
  JFA_CHECK(common_checks(p, q));
  JFA_CHECK(need_f32(lse, "lse"));
  JFA_CHECK(need_f32(delta, "delta"));
  JFA_CHECK(check_grad_dtypes(q, dq, dk, dv, accumulate));
  DeviceGuard g(ctx->device_index);
  if (jfa_problem_fully_masked(p) && accumulate) return JFA_SUCCESS; /* adds zero */
  const int64_t Dws = (p->D + 7) / 8 * 8;
  /* workspace: the fp32 dQ accumulator, then the device copy of the packed-sequence offsets */
  void *ws = nullptr;
  const size_t dq_bytes = align_up((size_t)(p->B * p->Hq * p->Nq * Dws) * sizeof(float), 256);
  JFA_CHECK(jfa_cuda_workspace(ctx, dq_bytes + mask_ws_bytes(p), &ws));
  MaskDev mk;
  JFA_CHECK(mask_setup(ctx, p, (char *)ws + dq_bytes, &mk));
  JFA_CHECK(backward_core(ctx, p, q, k, v, dout, make_view(lse), make_view(delta), (float *)ws, dq, dk, dv,
                          accumulate, mk));
  return JFA_SUCCESS;
}

extern "C" jfa_status_t jfa_cuda_attention_backward(jfa_context_t *ctx, const jfa_problem_t *p,
                                                    const jfa_tensor_t *q, const jfa_tensor_t *k,
                                                    const jfa_tensor_t *v, const jfa_tensor_t *o,
                                                    const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                                    const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                                    const jfa_tensor_t *dv) {
  JFA_CHECK(common_checks(p, q));
  JFA_CHECK(need_f32(lse, "lse"));
  JFA_CHECK(check_grad_dtypes(q, dq, dk, dv, 0));
  DeviceGuard g(ctx->device_index);
  const int64_t rows = p->B * p->Hq * p->Nq;
  const int64_t Dws = (p->D + 7) / 8 * 8;
  size_t delta_bytes = align_up((size_t)rows * sizeof(float), 256);
  /* workspace: delta, the fp32 dQ accumulator, the device copy of the packed-sequence offsets */
  const size_t dq_bytes = align_up((size_t)(rows * Dws) * sizeof(float), 256);
  void *ws = nullptr;
  JFA_CHECK(jfa_cuda_workspace(ctx, delta_bytes + dq_bytes + mask_ws_bytes(p), &ws));
  MaskDev mk;
  JFA_CHECK(mask_setup(ctx, p, (char *)ws + delta_bytes + dq_bytes, &mk));
  View delta;
  delta.p = ws;
  delta.sb = p->Hq * p->Nq;
  delta.sh = p->Nq;
  delta.ss = 1;
  delta.sd = 0;
  JFA_CHECK(launch_delta(ctx_stream(ctx), p, o, dout, delta));
  JFA_CHECK(backward_core(ctx, p, q, k, v, dout, make_view(lse), delta, (float *)((char *)ws + delta_bytes), dq, dk,
                          dv, 0, mk));
  return JFA_SUCCESS;
}
