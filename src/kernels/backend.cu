/*
 * backend.cu - the jfa_cuda_* attention entry points of backend.h: checks each call,
 * manages the workspace (delta and the fp32 dQ accumulator of the backward, the device copy
 * of the packed-sequence offsets) and the device, and hands the call to the first kernel
 * family of the op's table (below, in code) that takes it.
 *
 * Which family runs (first row that fits; JFA_KERNEL_PATH=sm80 (or its old name mma) skips
 * the sm90 rows, =simt every tensor-core row; the families' why_not functions decide, this table
 * summarises them, src/kernels/README.md in prose):
 *
 *   op        device  dtype      head dim   masks            tensors        family (folder)
 *   fwd, JVP  sm_90   bf16/fp16  64, 96, 128, all but bias     TMA-able (1)   sm90/  wgmma + TMA, warp-specialised
 *                                192, 256 (9)
 *   bwd (5)   sm_90   bf16/fp16  64, 96, 128, all but bias   TMA-able (1)   sm90/  wgmma + TMA (bwd.cuh)
 *                                192, 256 (9)
 *   fwd (6)   sm_90   fp32       32, 64,128 causal, bool     TMA-able (1)   sm90/  wgmma TF32 (fwd_f32.cuh)
 *   JVP (6)   sm_90   fp32       32, 64     causal, bool     TMA-able (1)   sm90/  wgmma TF32 (fwd_f32.cuh)
 *   bwd (7)   sm_90   fp32       64         causal, bool     TMA-able (1)   sm90/  wgmma TF32 (bwd_f32.cuh)
 *   fwd       sm_80+  bf16/fp16  <= 256     any              aligned (2)    sm80/  mma.sync
 *   JVP       sm_80+  bf16/fp16  <= 256 (3) any              aligned (2)    sm80/  mma.sync
 *   bwd       sm_80+  bf16/fp16  <= 256 (3) any              aligned (2)    sm80/  mma.sync
 *   fwd       sm_80+  fp32       <= 256 (4) any              aligned (4)    sm80/  mma.sync TF32 (fwd_f32.cuh)
 *   JVP       sm_80+  fp32       <= 256 (3) any              aligned (4)    sm80/  mma.sync TF32 (fwd_f32.cuh)
 *   bwd       sm_80+  fp32       <= 256 (4) any              aligned (4)    sm80/  mma.sync TF32 (bwd_f32.cuh)
 *   all       any     any        <= 256     any              any            simt/  fp32 arithmetic
 *   bwd-JVP (8) sm_90 bf16/fp16  64, 128    all but dense    TMA-able (1)   sm90/  wgmma + TMA (bwd_jvp.cuh)
 *   bwd-JVP   sm_80+  bf16/fp16  <= 128     any              aligned (2)    sm80/  mma.sync (bwd_jvp.cuh)
 *   bwd-JVP   any     any        <= 256     any              any            simt/  fp32 arithmetic
 *
 *   (1) tma_tensor_ok: 16-byte aligned base, unit stride along D, 16-byte multiple strides.
 *   (2) sm80_tensor_ok: the same without the TMA extent limits.
 *   (3) head dims run at the next row of sm80/tiles.h (32, 64, 96, 128, 160, 192, 256); above
 *       128 in two column slices (sm80/fwd.cuh, bwd.cuh); a row whose shared memory exceeds
 *       the device's (the D > 128 JVP / backward and the D = 128 backward on an A100) is
 *       declined to simt.
 *   (4) sm80_tensor_ok_f32: float32, 16-byte aligned base, unit stride along D, strides a
 *       multiple of 4 elements. 3xTF32 unless the context has JFA_FLAG_ALLOW_TF32 (one TF32
 *       product); jfa_cuda_last_precision reports which. Head dims run at the next row with
 *       float32 tiles (forward: 32, 64, 96, 128, 256; JVP also 160, 192; backward 32-128, 256); the
 *       JVP above 128 in two column slices (204-227 KiB of shared memory: H100/H200, declined
 *       elsewhere); the backward's D = 256 two-slice row too (204 KiB), unless JFA_SM80_F32_BWD256=0
 *       (per call; sm80/tiles.h kSm80F32Bwd256, on, is the default) leaves D > 128 to simt/, as do
 *       unaligned views.
 *   (5) Causal and the interval masks (windows, positions, packed sequences; Nq, Nk < 2^30);
 *       boolean dense masks; additive masks of 16-bit biases with aligned rows but at D = 256
 *       (sm90/tiles.h kSm90BwdBias; JFA_SM90_BWD_BIAS=0 per call), the other additive masks
 *       go to sm80. Deterministic and accumulate modes as
 *       sm80. JFA_SM90_BWD=0 at context creation (CudaState.sm90_bwd) turns the row off, to
 *       compare it with sm80's on the same device (tests/gpu/test_gpu_sm90_bwd.c).
 *   (6) JFA_SM90_F32 builds (the default): float32 unmasked, causal or with a boolean dense mask
 *       (JFA_SM90_F32_DENSE=0 per call: not the latter), 3xTF32 or TF32 as the sm80 rows; other
 *       masks go to sm80. The forward rows (16-bit too) take scale > 0 only.
 *   (7) (6), unless switched off: JFA_SM90_F32_BWD=0 (per call; sm90/tiles.h kSm90BwdF32 is the
 *       default, on; JFA_SM90_F32_BWD_DENSE=0: boolean dense masks to sm80); under JFA_SM90_BWD=0
 *       off with the 16-bit row.
 *   (8) Unless switched off: JFA_SM90_BWD_JVP=0 (per call; sm90/tiles.h kSm90BwdJvp, on, is the
 *       default); the first-order outputs from the sm90 backward (bwd.cuh), which must take them.
 *   (9) And with a dense mask at D = 8-56 (multiples of 8) on the D = 64 kernels, the columns past D
 *       zero-padded (sm90/tiles.h kSm90PadDense; JFA_SM90_PAD_DENSE=0 per call: sm80).
 * The sm90 family exists when the build compiled it (JFA_HAVE_SM90A) and runs only on
 * compute capability 9.0 (CudaState.sm90a_ok). A head dim left out of the build
 * (JFA_HEAD_DIMS) makes the sm80 / sm90 rows decline it. Each family's why_not gives the
 * reason it declines a call (family.h).
 */
#include "kernels/family.h"

/* ---------------------------------------------------------------------------- */
/* The dispatch tables: per op, the families in order; the first that takes a call runs it. */

/* A row of an op's table: the family's KernelPath (skipped above CudaState.path_cap; reported by
   jfa_cuda_last_kernel) and its why_not / run for the op's call struct. */
template <typename Call>
struct Row {
  int path;
  const char *(*why_not)(const Call &c);
  jfa_status_t (*run)(const Call &c);
};
typedef Row<FwdCall> FwdRow;
typedef Row<BwdCall> BwdRow;
typedef Row<BwdJvpCall> BwdJvpRow;

/* The forward and the fused JVP (FwdCall with qd set): the same families in the same order;
   each why_not knows its JVP limits. */
static const FwdRow kForward[] = {
#ifdef JFA_HAVE_SM90A
    {PATH_SM90, sm90_fwd_why_not, sm90_fwd_run},
#endif
    {PATH_SM80, sm80_fwd_why_not, sm80_fwd_run},
    {PATH_SIMT, simt_fwd_why_not, simt_fwd_run},
};
static const BwdRow kBackward[] = {
#ifdef JFA_HAVE_SM90A
    {PATH_SM90, sm90_bwd_why_not, sm90_bwd_run}, /* declines every call under JFA_SM90_BWD=0 */
#endif
    {PATH_SM80, sm80_bwd_why_not, sm80_bwd_run},
    {PATH_SIMT, simt_bwd_why_not, simt_bwd_run},
};
/* The backward-JVP (second order, Hessian-vector products). */
static const BwdJvpRow kBackwardJvp[] = {
#ifdef JFA_HAVE_SM90A
    {PATH_SM90, sm90_bwd_jvp_why_not, sm90_bwd_jvp_run}, /* unless JFA_SM90_BWD_JVP=0 (kSm90BwdJvp) */
#endif
    {PATH_SM80, sm80_bwd_jvp_why_not, sm80_bwd_jvp_run},
    {PATH_SIMT, simt_bwd_jvp_why_not, simt_bwd_jvp_run},
};

/* The first row of an op's table that takes the call. */
template <typename Call, size_t N>
static jfa_status_t first_row(const Row<Call> (&rows)[N], const Call &c, const Row<Call> **row) {
  const char *why = "none allowed (JFA_KERNEL_PATH)";
  for (size_t i = 0; i < N; ++i) {
    if (rows[i].path > c.cs->path_cap) continue;
    why = rows[i].why_not(c);
    if (!why) {
      *row = &rows[i];
      return JFA_SUCCESS;
    }
  }
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "no CUDA kernel family takes this call (the last one: %s)", why);
}

extern "C" jfa_status_t jfa_cuda_attention_block(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                                 const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                                 const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
                                                 const jfa_tensor_t *lse, const jfa_tensor_t *od,
                                                 const jfa_tensor_t *mu, int accumulate) {
  JFA_CHECK(cuda_call_checks(ctx, p, q));
  JFA_CHECK(need_f32(lse, "lse"));
  JFA_CHECK(need_f32(mu, "mu"));
  if (accumulate) {
    JFA_CHECK(need_f32(o, "o (accumulator)"));
    JFA_CHECK(need_f32(od, "od (accumulator)"));
    if (!lse) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "lse: the accumulate mode needs the lse accumulator");
    if (qd && !mu) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "mu: the accumulate mode of the JVP needs mu");
  }
  if (qd && (!kd || !vd || !od)) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "kd, vd, od: needed with qd");
  JFA_DEVICE_GUARD(g, ctx);
  if (p->B * p->Hq * p->Nq == 0) return JFA_SUCCESS;
  if (jfa_problem_fully_masked(p) && accumulate) return JFA_SUCCESS; /* merging nothing */
  void *mws = nullptr;
  WorkspaceUse wsu(ctx);
  if (mask_ws_bytes(p)) JFA_CHECK(wsu.take(mask_ws_bytes(p), &mws));
  MaskDev mk;
  JFA_CHECK(mask_setup(ctx, p, mws, &mk));
  CudaState *cs;
  JFA_CHECK(jfa_cuda_state(ctx, &cs));
  const FwdCall c = {ctx, cs, p, q, k, v, qd, kd, vd, o, lse, od, mu, accumulate, &mk};
  const FwdRow *r;
  JFA_CHECK(first_row(kForward, c, &r));
  cs->last_fwd_route = 0; /* the sm90 family's run sets its route */
  JFA_CHECK(r->run(c));
  cs->last_fwd = r->path;
  cs->last_fwd_prec = call_precision(ctx, q->dtype, r->path);
  return JFA_SUCCESS;
}

/* dq/dk/dv given delta (fp32 view) and lse. */
/* Columns and bytes (256-aligned) of the fp32 (B, Hq, Nq, Dws) dQ accumulator of the backward
   (and each of the backward-JVP's two). */
static int64_t dq_ws_cols(const jfa_problem_t *p) { return (p->D + 7) / 8 * 8; }
static size_t dq_ws_bytes(const jfa_problem_t *p) {
  return align_up((size_t)(p->B * p->Hq * p->Nq * dq_ws_cols(p)) * sizeof(float), 256);
}

static jfa_status_t backward_core(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                  const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout, View lse,
                                  View delta, float *dq_ws, const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                  const jfa_tensor_t *dv, int accumulate, const MaskDev &mk) {
  CudaState *cs;
  JFA_CHECK(jfa_cuda_state(ctx, &cs));
  const int det = (ctx->flags & JFA_FLAG_DETERMINISTIC) != 0;
  const BwdCall c = {ctx, cs, p, q, k, v, dout, lse, delta, dq_ws, dq_ws_cols(p), det, dq, dk, dv,
                     accumulate, &mk};
  const BwdRow *r;
  JFA_CHECK(first_row(kBackward, c, &r));
  cs->last_bwd = r->path;
  cs->last_bwd_prec = call_precision(ctx, q->dtype, r->path);
  cs->last_bwd_route = 0; /* the sm90 family's 16-bit run sets its route */
  return r->run(c);
}

/* The gradient outputs (n of them, NULL: not asked for) in q's dtype, or float32 accumulators. */
static jfa_status_t check_grad_dtypes(const jfa_tensor_t *q, const jfa_tensor_t *const *outs, int n, const char *names,
                                      int accumulate) {
  const jfa_dtype_t want = accumulate ? JFA_DTYPE_FLOAT32 : q->dtype;
  for (int i = 0; i < n; ++i)
    if (outs[i] && outs[i]->dtype != want)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s must be %s", names, accumulate ? "float32 accumulators" : "of q's dtype");
  return JFA_SUCCESS;
}

extern "C" jfa_status_t jfa_cuda_attention_backward_block(jfa_context_t *ctx, const jfa_problem_t *p,
                                                          const jfa_tensor_t *q, const jfa_tensor_t *k,
                                                          const jfa_tensor_t *v, const jfa_tensor_t *dout,
                                                          const jfa_tensor_t *lse, const jfa_tensor_t *delta,
                                                          const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                                          const jfa_tensor_t *dv, int accumulate) {
  JFA_CHECK(cuda_call_checks(ctx, p, q));
  JFA_CHECK(need_f32(lse, "lse"));
  JFA_CHECK(need_f32(delta, "delta"));
  const jfa_tensor_t *const grads[3] = {dq, dk, dv};
  JFA_CHECK(check_grad_dtypes(q, grads, 3, "dq, dk, dv", accumulate));
  JFA_DEVICE_GUARD(g, ctx);
  if (jfa_problem_fully_masked(p) && accumulate) return JFA_SUCCESS; /* adds zero */
  /* workspace: the fp32 dQ accumulator, then the device copy of the packed-sequence offsets */
  void *ws = nullptr;
  const size_t dq_bytes = dq_ws_bytes(p);
  WorkspaceUse wsu(ctx);
  JFA_CHECK(wsu.take(dq_bytes + mask_ws_bytes(p), &ws));
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
  JFA_CHECK(cuda_call_checks(ctx, p, q));
  JFA_CHECK(need_f32(lse, "lse"));
  const jfa_tensor_t *const grads[3] = {dq, dk, dv};
  JFA_CHECK(check_grad_dtypes(q, grads, 3, "dq, dk, dv", 0));
  JFA_DEVICE_GUARD(g, ctx);
  const int64_t rows = p->B * p->Hq * p->Nq;
  size_t delta_bytes = align_up((size_t)rows * sizeof(float), 256);
  /* workspace: delta, the fp32 dQ accumulator, the device copy of the packed-sequence offsets */
  const size_t dq_bytes = dq_ws_bytes(p);
  void *ws = nullptr;
  WorkspaceUse wsu(ctx);
  JFA_CHECK(wsu.take(delta_bytes + dq_bytes + mask_ws_bytes(p), &ws));
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

/* ---------------------------------------------------------------------------- */
/* The backward-JVP (second order)                                                */

/* The backward-JVP given the four fp32 statistics; ws: at least 2 dq_ws_bytes(p) +
   mask_ws_bytes(p) of workspace (the dQd and dQ accumulators, then the packed-sequence offsets). */
static jfa_status_t bwd_jvp_core(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                                 const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                 const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
                                 const jfa_tensor_t *doutd, View lse, View mu, View delta, View deltad,
                                 const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
                                 const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv,
                                 int accumulate, void *ws) {
  const size_t dq_bytes = dq_ws_bytes(p);
  MaskDev mk;
  JFA_CHECK(mask_setup(ctx, p, (char *)ws + 2 * dq_bytes, &mk));
  CudaState *cs;
  JFA_CHECK(jfa_cuda_state(ctx, &cs));
  const int det = (ctx->flags & JFA_FLAG_DETERMINISTIC) != 0;
  float *dqd_ws = (float *)ws, *dq_ws = (float *)((char *)ws + dq_bytes);
  const BwdJvpCall c = {ctx, cs, p, q, k, v, qd, kd, vd, dout, doutd, lse, mu, delta, deltad,
                        dqd_ws, dq_ws, dq_ws_cols(p), det, dqd, dkd, dvd, dq, dk, dv, accumulate, &mk};
  const BwdJvpRow *r;
  JFA_CHECK(first_row(kBackwardJvp, c, &r));
  cs->last_bwd_jvp = r->path;
  return r->run(c);
}

extern "C" jfa_status_t jfa_cuda_attention_backward_jvp_block(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *lse, const jfa_tensor_t *mu, const jfa_tensor_t *delta,
    const jfa_tensor_t *deltad, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate) {
  JFA_CHECK(cuda_call_checks(ctx, p, q));
  const jfa_tensor_t *stats[4] = {lse, mu, delta, deltad};
  static const char *snames[4] = {"lse", "mu", "delta", "deltad"};
  for (int i = 0; i < 4; ++i) JFA_CHECK(need_f32(stats[i], snames[i]));
  const jfa_tensor_t *const outs[6] = {dqd, dkd, dvd, dq, dk, dv};
  JFA_CHECK(check_grad_dtypes(q, outs, 6, "dqd, dkd, dvd, dq, dk, dv", accumulate));
  JFA_DEVICE_GUARD(g, ctx);
  if (jfa_problem_fully_masked(p) && accumulate) return JFA_SUCCESS; /* adds zero */
  void *ws = nullptr;
  WorkspaceUse wsu(ctx);
  JFA_CHECK(wsu.take(2 * dq_ws_bytes(p) + mask_ws_bytes(p), &ws));
  return bwd_jvp_core(ctx, p, q, k, v, qd, kd, vd, dout, doutd, make_view(lse), make_view(mu), make_view(delta),
                      make_view(deltad), dqd, dkd, dvd, dq, dk, dv, accumulate, ws);
}

extern "C" jfa_status_t jfa_cuda_attention_backward_jvp(
    jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
    const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
    const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu, const jfa_tensor_t *dout,
    const jfa_tensor_t *doutd, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd,
    const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv) {
  JFA_CHECK(cuda_call_checks(ctx, p, q));
  JFA_CHECK(need_f32(lse, "lse"));
  JFA_CHECK(need_f32(mu, "mu"));
  const jfa_tensor_t *const outs[6] = {dqd, dkd, dvd, dq, dk, dv};
  JFA_CHECK(check_grad_dtypes(q, outs, 6, "dqd, dkd, dvd, dq, dk, dv", 0));
  JFA_DEVICE_GUARD(g, ctx);
  const int64_t rows = p->B * p->Hq * p->Nq;
  /* workspace: the dQd and dQ accumulators, the packed-sequence offsets, then delta and deltad
     (fp32, B*Hq*Nq each) */
  const size_t stat_bytes = align_up((size_t)rows * sizeof(float), 256);
  const size_t front = align_up(2 * dq_ws_bytes(p) + mask_ws_bytes(p), 256);
  void *ws = nullptr;
  WorkspaceUse wsu(ctx);
  JFA_CHECK(wsu.take(front + 2 * stat_bytes, &ws));
  jfa_tensor_t delta =
      jfa_tensor_bhsd((char *)ws + front, JFA_DTYPE_FLOAT32, JFA_DEVICE_CUDA, p->B, p->Hq, p->Nq, 1);
  jfa_tensor_t deltad =
      jfa_tensor_bhsd((char *)ws + front + stat_bytes, JFA_DTYPE_FLOAT32, JFA_DEVICE_CUDA, p->B, p->Hq, p->Nq, 1);
  JFA_CHECK(jfa_cuda_attention_delta_jvp(ctx, p, o, od, dout, doutd, &delta, &deltad));
  return bwd_jvp_core(ctx, p, q, k, v, qd, kd, vd, dout, doutd, make_view(lse), make_view(mu), make_view(&delta),
                      make_view(&deltad), dqd, dkd, dvd, dq, dk, dv, 0, ws);
}
