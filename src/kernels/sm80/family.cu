/*
 * family.cu - the sm80 family's (mma.sync, sm_80+) rows of the dispatch tables (family.h):
 * which calls its forward, JVP and backward take (16-bit dtype, aligned tensors, a head dim of
 * tiles.h that is built; float32 on TF32 tensor cores, fwd_f32.cuh and bwd_f32.cuh), and the
 * calls into the per-head-dim instantiations (inst/).
 */
#include <string.h>

#include "kernels/family.h"
#include "kernels/sm80/sm80.h"

/* 16-byte aligned base, unit stride along D, the other strides a multiple of mult elements
   (16 bytes: 8 16-bit or 4 float32 elements). */
static bool aligned_rows(const jfa_tensor_t *t, int64_t mult) {
  if (t->stride[3] != 1 || ((uintptr_t)t->data & 15u) != 0) return false;
  for (int i = 0; i < 3; ++i)
    if (t->stride[i] % mult != 0) return false;
  return true;
}

bool sm80_tensor_ok(const jfa_tensor_t *t) {
  return t && (t->dtype == JFA_DTYPE_FLOAT16 || t->dtype == JFA_DTYPE_BFLOAT16) && aligned_rows(t, 8);
}

bool sm80_tensor_ok_f32(const jfa_tensor_t *t) { return t && t->dtype == JFA_DTYPE_FLOAT32 && aligned_rows(t, 4); }

/* The head dim a call of op runs at: sm80_head_dim's row, and for float32 the next row up with
   float32 tiles (the forward and the backward have none at 160 / 192: they run at 256, the loads
   zero-filling the columns past D); 0 if none. */
static int call_head_dim(int op, const jfa_tensor_t *q, int64_t D) {
  int Dk = sm80_head_dim(D);
  if (q->dtype == JFA_DTYPE_FLOAT32)
    while (Dk != 0 && !sm80_has_tile(op, JFA_DTYPE_FLOAT32, Dk, 0)) Dk = Dk < 256 ? sm80_head_dim(Dk + 1) : 0;
  return Dk;
}

/* The tiles of a call (its op and mask class at head dim Dk; variant 0: a tuning variant, which
   JFA_TUNING builds run on request, is the tuner's choice on an H100/H200). */
static Sm80Tile call_tile(int op, const jfa_problem_t *p, const jfa_tensor_t *q, int Dk) {
  return sm80_tile(op, (int)q->dtype, Dk, problem_has_masks(p) ? MASK_CLASS_ANY : MASK_CLASS_CAUSAL, 0);
}

const char *sm80_fwd_why_not(const FwdCall &c) {
  const jfa_problem_t *p = c.p;
  const bool jvp = c.qd != nullptr;
  const int Dk = call_head_dim(jvp ? OP_JVP : OP_FWD, c.q, p->D);
  if (Dk == 0) return "head dim above 256";
  if (!head_dim_built(Dk)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (c.q->dtype == JFA_DTYPE_FLOAT32) {
    if (sm80_f32_fwd_smem_bytes(call_tile(jvp ? OP_JVP : OP_FWD, p, c.q, Dk), problem_has_masks(p)) >
        (size_t)c.cs->max_smem_optin)
      return "the float32 tiles of this head dim need more shared memory than the device has";
    if (!sm80_tensor_ok_f32(c.q) || !sm80_tensor_ok_f32(c.k) || !sm80_tensor_ok_f32(c.v))
      return "q, k, v: float32 without 16-byte aligned rows and strides";
    if (jvp && (!sm80_tensor_ok_f32(c.qd) || !sm80_tensor_ok_f32(c.kd) || !sm80_tensor_ok_f32(c.vd)))
      return "qd, kd, vd: float32 without 16-byte aligned rows and strides";
  } else {
    if (sm80_smem_bytes(call_tile(jvp ? OP_JVP : OP_FWD, p, c.q, Dk), problem_has_masks(p)) >
        (size_t)c.cs->max_smem_optin)
      return "the tiles of this head dim need more shared memory than the device has";
    if (!sm80_tensor_ok(c.q) || !sm80_tensor_ok(c.k) || !sm80_tensor_ok(c.v))
      return "q, k, v: not 16-bit with aligned rows and strides";
    if (jvp && (!sm80_tensor_ok(c.qd) || !sm80_tensor_ok(c.kd) || !sm80_tensor_ok(c.vd)))
      return "qd, kd, vd: not 16-bit with aligned rows and strides";
  }
  return sm80_limits_why_not(p, p->Hq, "B or Hq above 65535 (grid)");
}

template <typename T>
static jfa_status_t fwd_dispatch(const FwdArgs &a, int Dk, bool jvp, cudaStream_t st) {
  if (jvp) {
    switch (Dk) {
      SM80_CASE(32, (sm80_fwd_d<T, 32, true>(a, st)))
      SM80_CASE(64, (sm80_fwd_d<T, 64, true>(a, st)))
      SM80_CASE(96, (sm80_fwd_d<T, 96, true>(a, st)))
      SM80_CASE(128, (sm80_fwd_d<T, 128, true>(a, st)))
      SM80_CASE(160, (sm80_fwd_d<T, 160, true>(a, st)))
      SM80_CASE(192, (sm80_fwd_d<T, 192, true>(a, st)))
      SM80_CASE(256, (sm80_fwd_d<T, 256, true>(a, st)))
      default: break;
    }
    JFA_FAIL(JFA_ERROR_INTERNAL, "no JVP kernel for head dim %d", Dk);
  }
  switch (Dk) {
    SM80_CASE(32, (sm80_fwd_d<T, 32, false>(a, st)))
    SM80_CASE(64, (sm80_fwd_d<T, 64, false>(a, st)))
    SM80_CASE(96, (sm80_fwd_d<T, 96, false>(a, st)))
    SM80_CASE(128, (sm80_fwd_d<T, 128, false>(a, st)))
    SM80_CASE(160, (sm80_fwd_d<T, 160, false>(a, st)))
    SM80_CASE(192, (sm80_fwd_d<T, 192, false>(a, st)))
    SM80_CASE(256, (sm80_fwd_d<T, 256, false>(a, st)))
    default: break;
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no forward kernel for head dim %d", Dk);
}

/* The float32 kernels (fwd_f32.cuh): tf32 = one TF32 product, else 3xTF32. */
static jfa_status_t fwd_f32_dispatch(const FwdArgs &a, int Dk, bool jvp, bool tf32, cudaStream_t st) {
  if (jvp) {
    switch (Dk) {
      SM80_CASE(32, (sm80_fwd_f32_d<32, true>(a, tf32, st)))
      SM80_CASE(64, (sm80_fwd_f32_d<64, true>(a, tf32, st)))
      SM80_CASE(96, (sm80_fwd_f32_d<96, true>(a, tf32, st)))
      SM80_CASE(128, (sm80_fwd_f32_d<128, true>(a, tf32, st)))
      SM80_CASE(160, (sm80_fwd_f32_d<160, true>(a, tf32, st)))
      SM80_CASE(192, (sm80_fwd_f32_d<192, true>(a, tf32, st)))
      SM80_CASE(256, (sm80_fwd_f32_d<256, true>(a, tf32, st)))
      default: break;
    }
    JFA_FAIL(JFA_ERROR_INTERNAL, "no float32 JVP kernel for head dim %d", Dk);
  }
  switch (Dk) {
    SM80_CASE(32, (sm80_fwd_f32_d<32, false>(a, tf32, st)))
    SM80_CASE(64, (sm80_fwd_f32_d<64, false>(a, tf32, st)))
    SM80_CASE(96, (sm80_fwd_f32_d<96, false>(a, tf32, st)))
    SM80_CASE(128, (sm80_fwd_f32_d<128, false>(a, tf32, st)))
    SM80_CASE(256, (sm80_fwd_f32_d<256, false>(a, tf32, st)))
    default: break;
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no float32 forward kernel for head dim %d", Dk);
}

/* The 16-bit kernels stage an additive mask's tiles in shared memory (MaskDev.bias_vec) where tiles.h
   kSm80BiasTiles (or JFA_SM80_BIAS_TILES per call) allows and the device has the bytes beyond the row's; the float32
   kernels read the biases from global memory. */
void sm80_bias_tiles_fit(MaskDev *mk, const CudaState *cs, int op, const jfa_problem_t *p, const jfa_tensor_t *q,
                         int Dk) {
  if (!mk->bias_vec) return;
  if (!env_switch(kSm80BiasTiles, "JFA_SM80_BIAS_TILES")) {
    mk->bias_vec = 0;
    return;
  }
  const Sm80Tile t = call_tile(op, p, q, Dk);
  if (q->dtype == JFA_DTYPE_FLOAT32 ||
      sm80_smem_bytes(t, true) + sm80_bias_smem_bytes(t, mask_bias_esize(mk->dm_kind)) > (size_t)cs->max_smem_optin)
    mk->bias_vec = 0;
}

jfa_status_t sm80_fwd_run(const FwdCall &c) {
  FwdArgs a;
  fwd_args_init(&a, c.p, c.q, c.k, c.v, c.qd, c.kd, c.vd, c.o, c.lse, c.od, c.mu, c.accumulate, c.mk);
  const int Dk = call_head_dim(c.qd != nullptr ? OP_JVP : OP_FWD, c.q, c.p->D);
  sm80_bias_tiles_fit(&a.mk, c.cs, c.qd != nullptr ? OP_JVP : OP_FWD, c.p, c.q, Dk);
  cudaStream_t st = ctx_stream(c.ctx);
  if (c.q->dtype == JFA_DTYPE_FLOAT32)
    return fwd_f32_dispatch(a, Dk, c.qd != nullptr, call_precision(c.ctx, c.q->dtype, PATH_SM80) == PREC_TF32, st);
  if (c.q->dtype == JFA_DTYPE_BFLOAT16) return fwd_dispatch<__nv_bfloat16>(a, Dk, c.qd != nullptr, st);
  return fwd_dispatch<__half>(a, Dk, c.qd != nullptr, st);
}

/* ---- float32 backward (bwd_f32.cuh, TF32 tensor cores) ---- */
template <int D>
static jfa_status_t bwd_f32_case(const BwdArgs &a, bool tf32, cudaStream_t st) {
  if constexpr (head_dim_built(D)) return sm80_bwd_f32_d<D>(a, tf32, st);
  JFA_FAIL(JFA_ERROR_INTERNAL, "no float32 backward kernel for head dim %d", D);
}

static jfa_status_t bwd_f32_dispatch(const BwdArgs &a, int Dk, bool tf32, cudaStream_t st) {
  switch (Dk) {
    case 32: return bwd_f32_case<32>(a, tf32, st);
    case 64: return bwd_f32_case<64>(a, tf32, st);
    case 96: return bwd_f32_case<96>(a, tf32, st);
    case 128: return bwd_f32_case<128>(a, tf32, st);
    case 256: return bwd_f32_case<256>(a, tf32, st);
    default: break;
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no float32 backward kernel for head dim %d", Dk);
}
/* ---- end float32 backward ---- */

const char *sm80_bwd_why_not(const BwdCall &c) {
  const jfa_problem_t *p = c.p;
  const int Dk = call_head_dim(OP_BWD, c.q, p->D);
  if (Dk == 0) return "head dim above 256";
  if (!head_dim_built(Dk)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (const char *no = det_dq_why_not(p, c.deterministic)) return no;
  if (c.q->dtype == JFA_DTYPE_FLOAT32) {
    /* The D = 256 two-slice float32 backward (bwd_f32.cuh; 128 < D <= 256): on unless
       JFA_SM80_F32_BWD256=0 (read per call, as JFA_SM90_BWD_JVP), which leaves D > 128 to simt
       (test_gpu_f32_backward_nowide). Its history: bench/RESULTS.md, sixth and seventh sessions. */
    const char *wide_env = getenv("JFA_SM80_F32_BWD256");
    const bool wide = wide_env ? strcmp(wide_env, "0") != 0 : kSm80F32Bwd256;
    if (Dk > 128 && !wide) return "float32 backward head dim above 128 (JFA_SM80_F32_BWD256=0)";
    if (sm80_f32_bwd_smem_bytes(call_tile(OP_BWD, p, c.q, Dk), problem_has_masks(p)) > (size_t)c.cs->max_smem_optin)
      return "the float32 backward tiles of this head dim need more shared memory than the device has";
    if (!sm80_tensor_ok_f32(c.q) || !sm80_tensor_ok_f32(c.k) || !sm80_tensor_ok_f32(c.v) ||
        !sm80_tensor_ok_f32(c.dout))
      return "q, k, v, dout (float32): not with 16-byte aligned rows and strides multiple of 4";
  } else if (sm80_smem_bytes(call_tile(OP_BWD, p, c.q, Dk), problem_has_masks(p)) > (size_t)c.cs->max_smem_optin) {
    return "the tiles of this head dim need more shared memory than the device has";
  } else if (!sm80_tensor_ok(c.q) || !sm80_tensor_ok(c.k) || !sm80_tensor_ok(c.v) || !sm80_tensor_ok(c.dout)) {
    return "q, k, v, dout: not 16-bit with aligned rows and strides";
  }
  return sm80_limits_why_not(p, p->Hkv, "B or Hkv above 65535 (grid)");
}

template <typename T>
static jfa_status_t bwd_dispatch(const BwdArgs &a, int Dk, cudaStream_t st) {
  switch (Dk) {
    SM80_CASE(32, (sm80_bwd_d<T, 32>(a, st)))
    SM80_CASE(64, (sm80_bwd_d<T, 64>(a, st)))
    SM80_CASE(96, (sm80_bwd_d<T, 96>(a, st)))
    SM80_CASE(128, (sm80_bwd_d<T, 128>(a, st)))
    SM80_CASE(160, (sm80_bwd_d<T, 160>(a, st)))
    SM80_CASE(192, (sm80_bwd_d<T, 192>(a, st)))
    SM80_CASE(256, (sm80_bwd_d<T, 256>(a, st)))
    default: break;
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no backward kernel for head dim %d", Dk);
}

jfa_status_t bwd_args_begin(const BwdCall &c, BwdArgs *a, bool dq_direct) {
  const jfa_problem_t *p = c.p;
  if (dq_direct) {
    if (!c.accumulate)
      JFA_CUDA_CHECK(cudaMemsetAsync(c.dq->data, 0, (size_t)jfa_tensor_numel(c.dq) * sizeof(float), ctx_stream(c.ctx)));
  } else if (!c.deterministic) {
    JFA_CUDA_CHECK(cudaMemsetAsync(c.dq_ws, 0, (size_t)(p->B * p->Hq * p->Nq * c.Dws) * sizeof(float),
                                   ctx_stream(c.ctx)));
  }
  memset(a, 0, sizeof(*a));
  if (dq_direct) {
    a->dq_direct = 1;
    a->dq = make_view(c.dq);
  }
  a->p = *p;
  a->mk = *c.mk;
  a->masked = problem_has_masks(p) ? 1 : 0;
  a->q = make_view(c.q);
  a->k = make_view(c.k);
  a->v = make_view(c.v);
  a->dout = make_view(c.dout);
  a->lse = c.lse;
  a->delta = c.delta;
  a->dk = make_view(c.dk);
  a->dv = make_view(c.dv);
  a->dq_ws = c.dq_ws;
  a->Dws = c.Dws;
  a->skip_dq = c.deterministic ? 1 : 0;
  a->accumulate = c.accumulate;
  {
    const int64_t elt = c.dk->dtype == JFA_DTYPE_FLOAT32 ? 4 : 2; /* the outputs' dtype (float32 in accumulate mode) */
    a->kv_vec16 = c.dk->dtype == c.dv->dtype && view_vec16(a->dk, elt) && view_vec16(a->dv, elt);
  }
  a->Dreal = (int)p->D;
  a->scale = (float)p->scale;
  a->scale_log2 = (float)(p->scale * 1.4426950408889634);
  a->bias_mul = (float)(1.0 / p->scale);
#ifdef JFA_TUNING
  a->tune_old = tune_variant("JFA_TUNE_BWD_OLD");
  const char *pe = getenv("JFA_TUNE_PROBE_PTR");
  a->probe = pe ? (unsigned long long *)(uintptr_t)strtoull(pe, nullptr, 0) : nullptr;
#endif
  return JFA_SUCCESS;
}

jfa_status_t bwd_dq_finish(const BwdCall &c) {
  const jfa_problem_t *p = c.p;
  cudaStream_t st = ctx_stream(c.ctx);
  if (c.deterministic)
    return simt_backward_dq(st, p, c.q, c.k, c.v, c.dout, c.lse, c.delta, c.dq, c.accumulate, *c.mk);
  return launch_scale_add(st, c.dq_ws, c.Dws, c.dq, (float)p->scale, c.accumulate);
}

/* Whether t's elements cover its whole span [data, data + numel) (strides are non-negative: jfa_check_tensor): a
   memset of the span clears every element and nothing else. */
static bool dense_span(const jfa_tensor_t *t) {
  const int64_t n = jfa_tensor_numel(t);
  int64_t last = 0;
  for (int i = 0; i < 4; ++i) last += (t->shape[i] - 1) * t->stride[i];
  return n == 0 || last + 1 == n;
}

bool bwd_dq_direct_ok(const BwdCall &c) { return !c.deterministic && c.dq && (c.accumulate || dense_span(c.dq)); }

/* Whether the float32 backward adds dQ (scaled) straight into dq by atomics (bwd_f32.cuh dq_step) rather than into
   the fp32 workspace that bwd_dq_finish then scales into dq (a pass over both): where tiles.h kSm80BwdF32DqDirect
   allows (JFA_SM80_F32_DQ_DIRECT=0 / 1 per call), bwd_dq_direct_ok, and dq with unit column stride and 8-byte
   aligned rows (the kernel's two-column atomics). */
static bool sm80_f32_dq_direct(const BwdCall &c) {
  if (c.q->dtype != JFA_DTYPE_FLOAT32 || !bwd_dq_direct_ok(c)) return false;
  if (!env_switch(kSm80BwdF32DqDirect, "JFA_SM80_F32_DQ_DIRECT")) return false;
  const jfa_tensor_t *t = c.dq;
  if (t->stride[3] != 1 || ((uintptr_t)t->data & 7) != 0) return false;
  for (int i = 0; i < 3; ++i)
    if (t->shape[i] > 1 && (t->stride[i] & 1)) return false;
  return true;
}

/* dk, dv written (or added) by the kernel over the K/V block; dq through the fp32 workspace
   (bwd_args_begin, bwd_dq_finish), or for float32 (sm80_f32_dq_direct) added into dq by the kernel. */
jfa_status_t sm80_bwd_run(const BwdCall &c) {
  BwdArgs a;
  cudaStream_t st = ctx_stream(c.ctx);
  const bool direct = sm80_f32_dq_direct(c);
  JFA_CHECK(bwd_args_begin(c, &a, direct));
  const int Dk = call_head_dim(OP_BWD, c.q, c.p->D);
  sm80_bias_tiles_fit(&a.mk, c.cs, OP_BWD, c.p, c.q, Dk);
  if (c.q->dtype == JFA_DTYPE_FLOAT32)
    JFA_CHECK(bwd_f32_dispatch(a, Dk, call_precision(c.ctx, c.q->dtype, PATH_SM80) == PREC_TF32, st));
  else if (c.q->dtype == JFA_DTYPE_BFLOAT16)
    JFA_CHECK(bwd_dispatch<__nv_bfloat16>(a, Dk, st));
  else
    JFA_CHECK(bwd_dispatch<__half>(a, Dk, st));
  return direct ? JFA_SUCCESS : bwd_dq_finish(c);
}
