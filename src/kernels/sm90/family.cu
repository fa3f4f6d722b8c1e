/*
 * family.cu - the sm90 family's (wgmma + TMA, sm_90a) rows of the forward and JVP tables
 * (family.h) and its backward row (off under JFA_SM90_BWD=0): which calls it takes (the forward
 * and the JVP at D = 64, 96, 128, 192, 256, the backward at the same; float32's forward at 64 and 128
 * and JVP at 64 in JFA_SM90_F32 builds, its backward at 64 there unless JFA_SM90_F32_BWD=0) and the calls into the per-head-dim instantiations (inst/).
 * Built for sm_90a only, with the kernels (JFA_SM90A_SOURCES).
 */
#include "kernels/family.h"
#include "kernels/sm90/sm90.h"
#include "kernels/sm90/tma.h"

/* Whether the sm_90a image loads here: a row 0 kernel of any head dim this build has (JFA_HEAD_DIMS; a build of
   D = 96 alone once found none and ran every call on sm80) */
bool sm90_compiled(void) {
  if constexpr (head_dim_built(128)) return sm90_probe_d<128>();
  if constexpr (head_dim_built(64)) return sm90_probe_d<64>();
  if constexpr (head_dim_built(96)) return sm90_probe_d<96>();
  if constexpr (head_dim_built(192)) return sm90_probe_d<192>();
  if constexpr (head_dim_built(256)) return sm90_probe_d<256>();
  return false;
}

#ifdef JFA_SM90_F32
/* Whether p's masks beyond causal, if any, are a boolean dense mask alone (no window, no packed sequences): what the
   float32 kernels' DM takes (fwd_f32.cuh, bwd_f32.cuh). */
static bool f32_masks_dm_ok(const jfa_problem_t *p) {
  return !problem_has_masks(p) || (!p->windowed && p->nseq == 0 && p->dmask && p->dmask->dtype == JFA_DTYPE_BOOL);
}

/* The float32 kernel (fwd_f32.cuh): D = 32, 64 and 128 (the JVP 32 and 64), unmasked, causal, or with a boolean
   dense mask (and causal). */
static const char *fwd_f32_why_not(const FwdCall &c) {
  const jfa_problem_t *p = c.p;
  const bool jvp = c.qd != nullptr;
  if (p->D != 32 && p->D != 64 && p->D != 128) return "float32 head dim not 32, 64 or 128";
  if (jvp && p->D == 128) return "float32 JVP head dim 128 (the 3xTF32 planes of D = 128 do not fit)";
  if (!head_dim_built((int)p->D)) return "head dim not in this build (JFA_HEAD_DIMS)";
  /* a boolean dense mask (fwd_f32.cuh's DM), with or without causal; windows, packed sequences and additive masks
     run on the sm80 float32 kernel */
  if (!f32_masks_dm_ok(p))
    return "float32 with windows, packed sequences or an additive mask (the sm80 float32 kernel takes them)";
  /* boolean dense masks: kSm90F32Dense (tiles.h: on), JFA_SM90_F32_DENSE=0 / 1 per call */
  if (p->dmask && !env_switch(kSm90F32Dense, "JFA_SM90_F32_DENSE"))
    return "float32 with a dense mask: JFA_SM90_F32_DENSE=0 (tiles.h kSm90F32Dense)";
  if (!(p->scale > 0)) return "scale <= 0 (the FAST softmax needs scale > 0)";
  if (p->B > 65535 || p->Hq > 65535 || p->Nq >= ((int64_t)1 << 31) || p->Nk >= ((int64_t)1 << 31))
    return "B or Hq above 65535, or Nq or Nk >= 2^31";
  if (!tma_tensor_ok_f32(c.q) || !tma_tensor_ok_f32(c.k) || !tma_tensor_ok_f32(c.v))
    return "q, k, v: float32 not TMA-describable";
  if (jvp && (!tma_tensor_ok_f32(c.qd) || !tma_tensor_ok_f32(c.kd) || !tma_tensor_ok_f32(c.vd)))
    return "qd, kd, vd: float32 not TMA-describable";
  return nullptr;
}

static jfa_status_t fwd_f32_dispatch(const FwdCall &c, const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st) {
  const bool jvp = c.qd != nullptr, tf32 = call_precision(c.ctx, c.q->dtype, PATH_SM90) == PREC_TF32;
  if constexpr (head_dim_built(32)) {
    if (a.Dreal == 32) return jvp ? sm90_fwd_f32_d<32, true>(a, t, tf32, st) : sm90_fwd_f32_d<32, false>(a, t, tf32, st);
  }
  if constexpr (head_dim_built(64)) {
    if (a.Dreal == 64) return jvp ? sm90_fwd_f32_d<64, true>(a, t, tf32, st) : sm90_fwd_f32_d<64, false>(a, t, tf32, st);
  }
  if constexpr (head_dim_built(128)) {
    if (a.Dreal == 128 && !jvp) return sm90_fwd_f32_d<128, false>(a, t, tf32, st);
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no sm90 float32 %s kernel for head dim %d", jvp ? "JVP" : "forward", a.Dreal);
}
#endif

/* The head dim of the sm90 16-bit kernels that run a call of op (OP_FWD, OP_JVP, OP_BWD): the call's own where
   tiles.h has a row for it; 64 for a call with a dense mask whose head dim is a multiple of 8 below 64 (tiles.h
   kSm90PadDense, JFA_SM90_PAD_DENSE=1 / 0 per call: its columns zero-padded by the loads, the epilogues bounded by
   the call's D); 0: none. */
static int sm90_call_dim(int op, const jfa_problem_t *p, jfa_dtype_t dtype) {
  if (sm90_has_tile(op, (int)dtype, (int)p->D, 0)) return (int)p->D;
  if (p->dmask && p->D >= 8 && p->D < 64 && p->D % 8 == 0 && env_switch(kSm90PadDense, "JFA_SM90_PAD_DENSE"))
    return 64;
  return 0;
}

/* Whether the masked forward / JVP kernel of head dim D has room for a 16-bit additive mask's tiles (fwd.cuh). */
static bool fwd_bias_fits(int D, bool jvp) {
  if constexpr (head_dim_built(64)) {
    if (D == 64) return jvp ? sm90_fwd_bias_fits_d<64, true>() : sm90_fwd_bias_fits_d<64, false>();
  }
  if constexpr (head_dim_built(96)) {
    if (D == 96) return jvp ? sm90_fwd_bias_fits_d<96, true>() : sm90_fwd_bias_fits_d<96, false>();
  }
  if constexpr (head_dim_built(128)) {
    if (D == 128) return jvp ? sm90_fwd_bias_fits_d<128, true>() : sm90_fwd_bias_fits_d<128, false>();
  }
  if constexpr (head_dim_built(192)) {
    if (D == 192) return jvp ? sm90_fwd_bias_fits_d<192, true>() : sm90_fwd_bias_fits_d<192, false>();
  }
  if constexpr (head_dim_built(256)) {
    if (D == 256) return jvp ? sm90_fwd_bias_fits_d<256, true>() : sm90_fwd_bias_fits_d<256, false>();
  }
  return false;
}

/* What the sm90 kernels' bias tiles (forward, JVP and backward) need of an additive dense mask: 16-bit biases with unit
   key stride and 16-byte aligned rows (MaskDev.bias_vec, mask.cu; TMA-describable), |scale| >= 2^-60 (the kernels add
   bias / scale to the raw scores). */
static const char *bias_tiles_why_not(const jfa_problem_t *p, const MaskDev *mk) {
  if (!mask_bias16(*mk)) return "float32 additive dense mask (the sm90 kernels stage 16-bit biases; the sm80 family takes it)";
  if (!mk->bias_vec || !tma_tensor_ok(p->dmask))
    return "additive dense mask without unit key stride and 16-byte aligned rows (the sm80 family takes it)";
  if (!(fabs(p->scale) >= 0x1p-60)) return "additive dense mask with |scale| < 2^-60 (the kernels add bias / scale)";
  return nullptr;
}

/* An additive dense mask on the 16-bit forward / JVP (tiles.h kSm90Bias): bias_tiles_why_not's, where the masked
   kernel of head dim Dk (sm90_call_dim's) leaves room for the tiles. */
static const char *fwd_bias_why_not(const FwdCall &c, int Dk) {
  if (!env_switch(kSm90Bias, "JFA_SM90_BIAS"))
    return "additive dense mask: the sm90 forward's bias tiles are off (JFA_SM90_BIAS=0, tiles.h kSm90Bias)";
  if (const char *no = bias_tiles_why_not(c.p, c.mk)) return no;
  if (!fwd_bias_fits(Dk, c.qd != nullptr))
    return "additive dense mask: no room for its tiles beside the masked kernel's stages (the sm80 family takes it)";
  return nullptr;
}

const char *sm90_fwd_why_not(const FwdCall &c) {
  const jfa_problem_t *p = c.p;
  if (!c.cs->sm90a_ok) return "not a compute capability 9.0 device with the sm_90a kernels";
  if (c.q->dtype == JFA_DTYPE_FLOAT32) {
#ifdef JFA_SM90_F32
    return fwd_f32_why_not(c);
#else
    return "float32 (the sm90 float32 kernel is not in this build: JFA_SM90_F32=OFF)";
#endif
  }
  const int Dk = sm90_call_dim(c.qd ? OP_JVP : OP_FWD, p, c.q->dtype);
  if (!Dk)
    return "head dim not 64, 96, 128, 192 or 256 (no row in sm90/tiles.h), nor a multiple of 8 below 64 with a dense "
           "mask (tiles.h kSm90PadDense, JFA_SM90_PAD_DENSE)";
  if (!head_dim_built(Dk)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (p->dmask && p->dmask->dtype != JFA_DTYPE_BOOL) {
    const char *no = fwd_bias_why_not(c, Dk);
    if (no) return no;
  }
  if (problem_has_masks(p) && (p->Nq >= (1 << 30) || p->Nk >= (1 << 30)))
    return "masks with Nq or Nk >= 2^30 (int key intervals)";
  if (!(p->scale > 0)) return "scale <= 0 (the FAST softmax needs scale > 0)";
  if (p->B > 65535 || p->Hq > 65535 || p->Nq >= ((int64_t)1 << 31) || p->Nk >= ((int64_t)1 << 31))
    return "B or Hq above 65535, or Nq or Nk >= 2^31";
  if (!tma_tensor_ok(c.q) || !tma_tensor_ok(c.k) || !tma_tensor_ok(c.v)) return "q, k, v: not TMA-describable";
  if (c.qd && (!tma_tensor_ok(c.qd) || !tma_tensor_ok(c.kd) || !tma_tensor_ok(c.vd)))
    return "qd, kd, vd: not TMA-describable";
  return nullptr;
}

/* The forward / JVP kernel of head dim Dk (sm90_call_dim: the call's D, or 64 for a padded one). */
template <typename T>
static jfa_status_t fwd_dispatch(const FwdArgs &a, const Sm90Tensors &t, bool jvp, int Dk, cudaStream_t st) {
  if constexpr (head_dim_built(64)) {
    if (Dk == 64) return jvp ? sm90_fwd_d<T, 64, true>(a, t, st) : sm90_fwd_d<T, 64, false>(a, t, st);
  }
  if constexpr (head_dim_built(96)) {
    if (Dk == 96) return jvp ? sm90_fwd_d<T, 96, true>(a, t, st) : sm90_fwd_d<T, 96, false>(a, t, st);
  }
  if constexpr (head_dim_built(128)) {
    if (Dk == 128) return jvp ? sm90_fwd_d<T, 128, true>(a, t, st) : sm90_fwd_d<T, 128, false>(a, t, st);
  }
  if constexpr (head_dim_built(192)) {
    if (Dk == 192) return jvp ? sm90_fwd_d<T, 192, true>(a, t, st) : sm90_fwd_d<T, 192, false>(a, t, st);
  }
  if constexpr (head_dim_built(256)) {
    if (Dk == 256) return jvp ? sm90_fwd_d<T, 256, true>(a, t, st) : sm90_fwd_d<T, 256, false>(a, t, st);
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no sm90 %s kernel for head dim %d (kernel %d)", jvp ? "JVP" : "forward", a.Dreal, Dk);
}

/* The route the 16-bit forward or backward being launched on this thread took (sm90.h SM90_ROUTE_*; fwd.cuh and bwd.cuh
   note it at their launches), which sm90_fwd_run / sm90_bwd_run keep in the context's CudaState for
   jfa_cuda_last_route. */
static thread_local int t_route = 0;
void sm90_route_note(int route) { t_route = route; }

jfa_status_t sm90_fwd_run(const FwdCall &c) {
  FwdArgs a;
  fwd_args_init(&a, c.p, c.q, c.k, c.v, c.qd, c.kd, c.vd, c.o, c.lse, c.od, c.mu, c.accumulate, c.mk);
  a.nsm = c.cs->num_sms; /* the persistent kernels' grid (fwd_persist.cuh persist_shape, fwd.cuh sm90_persist_fits) */
  /* a 16-bit additive mask (fwd_bias_why_not took it): its tiles by TMA */
  const Sm90Tensors t = {c.q, c.k, c.v, c.qd, c.kd, c.vd, mask_bias16(*c.mk) ? c.p->dmask : nullptr};
  cudaStream_t st = ctx_stream(c.ctx);
  t_route = 0;
#ifdef JFA_SM90_F32
  if (c.q->dtype == JFA_DTYPE_FLOAT32) return fwd_f32_dispatch(c, a, t, st);
#endif
  const int Dk = sm90_call_dim(c.qd ? OP_JVP : OP_FWD, c.p, c.q->dtype);
  const jfa_status_t s = c.q->dtype == JFA_DTYPE_BFLOAT16 ? fwd_dispatch<__nv_bfloat16>(a, t, c.qd != nullptr, Dk, st)
                                                         : fwd_dispatch<__half>(a, t, c.qd != nullptr, Dk, st);
  c.cs->last_fwd_route = t_route;
  return s;
}

/* ---- backward (bwd.cuh): declines every call under JFA_SM90_BWD=0 (backend.cu) ---- */

/* The extents every sm90 backward takes (16-bit, float32, backward-JVP): its grid's y / z axes (Hkv, B), 32-bit row
   counters, the kernels' (int) b * Hq + h and the dQ workspace's TMA map. */
static bool bwd_extents_ok(const jfa_problem_t *p) {
  return p->B <= 65535 && p->Hkv <= 65535 && p->Nq < ((int64_t)1 << 31) && p->Nk < ((int64_t)1 << 31) &&
         p->B * p->Hq < ((int64_t)1 << 31);
}

#ifdef JFA_SM90_F32
/* The float32 backward (bwd_f32.cuh) runs when JFA_SM90_F32_BWD=1 (read per call), else
   kSm90BwdF32 (tiles.h: on); JFA_SM90_F32_BWD=0 turns it off. */
static bool sm90_bwd_f32_on(void) { return env_switch(kSm90BwdF32, "JFA_SM90_F32_BWD"); }

/* The float32 backward: D = 64, unmasked, causal (both alignments), or with a boolean dense mask where
   kSm90BwdF32Dense (tiles.h: on) or JFA_SM90_F32_BWD_DENSE per call allows. */
static const char *bwd_f32_why_not(const BwdCall &c) {
  const jfa_problem_t *p = c.p;
  if (!sm90_bwd_f32_on()) return "the sm90 float32 backward is off (JFA_SM90_F32_BWD; tiles.h kSm90BwdF32)";
  if (p->D != 64) return "float32 backward head dim not 64 (the 3xTF32 planes of its stages fill the shared memory)";
  if (!head_dim_built(64)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (!f32_masks_dm_ok(p))
    return "float32 backward with windows, packed sequences or an additive mask (the sm80 float32 kernel takes them)";
  if (p->dmask && !env_switch(kSm90BwdF32Dense, "JFA_SM90_F32_BWD_DENSE"))
    return "float32 backward with a dense mask: off (JFA_SM90_F32_BWD_DENSE=0 for this call, or tiles.h kSm90BwdF32Dense)";
  if (!bwd_extents_ok(p)) return "B or Hkv above 65535, or Nq, Nk or B * Hq >= 2^31";
  if (!tma_tensor_ok_f32(c.q) || !tma_tensor_ok_f32(c.k) || !tma_tensor_ok_f32(c.v) || !tma_tensor_ok_f32(c.dout))
    return "q, k, v, dout: float32 not TMA-describable";
  return nullptr;
}
#endif

/* Whether the masked backward of head dim D has room for a 16-bit additive mask's tiles (bwd.cuh BIAS_OK). */
static bool bwd_bias_fits(int D) {
  if constexpr (head_dim_built(64)) {
    if (D == 64) return sm90_bwd_bias_fits_d<64>();
  }
  if constexpr (head_dim_built(96)) {
    if (D == 96) return sm90_bwd_bias_fits_d<96>();
  }
  if constexpr (head_dim_built(128)) {
    if (D == 128) return sm90_bwd_bias_fits_d<128>();
  }
  if constexpr (head_dim_built(192)) {
    if (D == 192) return sm90_bwd_bias_fits_d<192>();
  }
  if constexpr (head_dim_built(256)) {
    if (D == 256) return sm90_bwd_bias_fits_d<256>();
  }
  return false;
}

/* An additive dense mask on the 16-bit backward (tiles.h kSm90BwdBias): bias_tiles_why_not's, where the masked kernel
   of head dim Dk (sm90_call_dim's) has room for the tiles (not at D = 256). */
static const char *bwd_bias_why_not(const BwdCall &c, int Dk) {
  if (!env_switch(kSm90BwdBias, "JFA_SM90_BWD_BIAS"))
    return "additive dense mask: the sm90 backward's bias tiles are off (JFA_SM90_BWD_BIAS=0, tiles.h kSm90BwdBias)";
  if (const char *no = bias_tiles_why_not(c.p, c.mk)) return no;
  if (!bwd_bias_fits(Dk))
    return "additive dense mask: no room for its tiles beside the masked backward's stages (D = 256; sm80 takes it)";
  return nullptr;
}

const char *sm90_bwd_why_not(const BwdCall &c) {
  const jfa_problem_t *p = c.p;
  if (!c.cs->sm90_bwd) return "the sm90 backward is off (JFA_SM90_BWD=0 when the context was created)";
  if (!c.cs->sm90a_ok) return "not a compute capability 9.0 device with the sm_90a kernels";
  if (const char *no = det_dq_why_not(p, c.deterministic)) return no;
  if (c.q->dtype == JFA_DTYPE_FLOAT32) {
#ifdef JFA_SM90_F32
    return bwd_f32_why_not(c);
#else
    return "float32 (the sm90 float32 kernels are not in this build: JFA_SM90_F32=OFF)";
#endif
  }
  const int Dk = sm90_call_dim(OP_BWD, p, c.q->dtype);
  if (!Dk)
    return "head dim not 64, 96, 128, 192 or 256 (no row in sm90/tiles.h), nor a multiple of 8 below 64 with a dense "
           "mask (tiles.h kSm90PadDense, JFA_SM90_PAD_DENSE)";
  if (!head_dim_built(Dk)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (p->dmask && p->dmask->dtype != JFA_DTYPE_BOOL) {
    const char *no = bwd_bias_why_not(c, Dk);
    if (no) return no;
  }
  if (problem_has_masks(p) && (p->Nq >= (1 << 30) || p->Nk >= (1 << 30)))
    return "masks with Nq or Nk >= 2^30 (int key intervals)";
  if (!bwd_extents_ok(p)) return "B or Hkv above 65535, or Nq, Nk or B * Hq >= 2^31";
  if (!tma_tensor_ok(c.q) || !tma_tensor_ok(c.k) || !tma_tensor_ok(c.v) || !tma_tensor_ok(c.dout))
    return "q, k, v, dout: not TMA-describable";
  return nullptr;
}

/* The backward kernel of head dim Dk (sm90_call_dim: the call's D, or 64 for a padded one). */
template <typename T>
static jfa_status_t bwd_dispatch(const BwdArgs &a, const Sm90BwdTensors &t, int Dk, cudaStream_t st) {
  if constexpr (head_dim_built(64)) {
    if (Dk == 64) return sm90_bwd_d<T, 64>(a, t, st);
  }
  if constexpr (head_dim_built(96)) {
    if (Dk == 96) return sm90_bwd_d<T, 96>(a, t, st);
  }
  if constexpr (head_dim_built(128)) {
    if (Dk == 128) return sm90_bwd_d<T, 128>(a, t, st);
  }
  if constexpr (head_dim_built(192)) {
    if (Dk == 192) return sm90_bwd_d<T, 192>(a, t, st);
  }
  if constexpr (head_dim_built(256)) {
    if (Dk == 256) return sm90_bwd_d<T, 256>(a, t, st);
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no sm90 backward kernel for head dim %d (kernel %d)", a.Dreal, Dk);
}

/* Whether the float32 backward adds dQ (scaled) into dq itself, by TMA reduce-adds through a map of dq, rather than
   into the fp32 workspace that bwd_dq_finish then scales into dq (a pass over both): where tiles.h
   kSm90BwdF32DqDirect allows (tuning builds: JFA_TUNE_SM90_F32_BWD_DQD=1 / 0), not deterministic (no dQ in the
   kernel), dq TMA-describable, and dense unless accumulating (a memset clears it first). Tuning builds: not under
   JFA_TUNE_BWD_OLD (A / B runs) nor JFA_TUNE_SM90_F32_BWD_DQ=1 (dQ by atomics into the workspace). */
static bool sm90_f32_dq_direct(const BwdCall &c) {
  const bool on = tune_switch(kSm90BwdF32DqDirect, "JFA_TUNE_SM90_F32_BWD_DQD");
#ifdef JFA_TUNING
  if (tune_variant("JFA_TUNE_BWD_OLD") != 0 || tune_variant("JFA_TUNE_SM90_F32_BWD_DQ") == 1) return false;
#endif
  return on && bwd_dq_direct_ok(c) && tma_tensor_ok_f32(c.dq);
}

/* As sm80_bwd_run: dk, dv written (or added) by the kernel; dq through the fp32 workspace (the
   kernel's TMA reduce-adds; bwd_args_begin, bwd_dq_finish), or for float32 (sm90_f32_dq_direct) into dq. */
jfa_status_t sm90_bwd_run(const BwdCall &c) {
  BwdArgs a;
  const Sm90BwdTensors t = {c.q, c.k, c.v, c.dout, c.dq, mask_bias16(*c.mk) ? c.p->dmask : nullptr};
#ifdef JFA_SM90_F32
  if (c.q->dtype == JFA_DTYPE_FLOAT32) {
    const bool tf32 = call_precision(c.ctx, c.q->dtype, PATH_SM90) == PREC_TF32;
    const bool direct = sm90_f32_dq_direct(c);
    JFA_CHECK(bwd_args_begin(c, &a, direct));
    a.nsm = c.cs->num_sms;
    if constexpr (head_dim_built(64)) {
      if (a.Dreal == 64) {
        JFA_CHECK(sm90_bwd_f32_d<64>(a, t, tf32, ctx_stream(c.ctx)));
        return direct ? JFA_SUCCESS : bwd_dq_finish(c);
      }
    }
    JFA_FAIL(JFA_ERROR_INTERNAL, "no sm90 float32 backward kernel for head dim %d", a.Dreal);
  }
#endif
  JFA_CHECK(bwd_args_begin(c, &a));
  a.nsm = c.cs->num_sms; /* the persistent unmasked kernel's grid (bwd.cuh sm90_bwd_persist) */
  const int Dk = sm90_call_dim(OP_BWD, c.p, c.q->dtype);
  t_route = 0;
  if (c.q->dtype == JFA_DTYPE_BFLOAT16)
    JFA_CHECK(bwd_dispatch<__nv_bfloat16>(a, t, Dk, ctx_stream(c.ctx)));
  else
    JFA_CHECK(bwd_dispatch<__half>(a, t, Dk, ctx_stream(c.ctx)));
  c.cs->last_bwd_route = t_route;
  return bwd_dq_finish(c);
}

/* ---- backward-JVP (bwd_jvp.cuh) ---- */

/* It runs unless JFA_SM90_BWD_JVP=0 (read per call, as JFA_SM90_F32_BWD; =1 forces it on), by
   kSm90BwdJvp (tiles.h: on). */
static bool sm90_bwd_jvp_on(void) { return env_switch(kSm90BwdJvp, "JFA_SM90_BWD_JVP"); }

/* The backward call of a backward-JVP call's first-order outputs (dq, dk, dv): the sm90 backward
   (bwd.cuh) computes them beside the backward-JVP kernel, into the dQ workspace c.dq_ws. */
static BwdCall bwd_jvp_first_order(const BwdJvpCall &c) {
  const BwdCall b = {c.ctx, c.cs, c.p, c.q, c.k, c.v, c.dout, c.lse, c.delta, c.dq_ws, c.Dws, c.deterministic,
                     c.dq, c.dk, c.dv, c.accumulate, c.mk};
  return b;
}

/* bf16 / fp16 at D = 64 and 128, unmasked, causal (both alignments) or with interval masks (windows,
   positions, packed sequences; no dense mask), TMA-describable tensors; the first-order outputs, when
   asked, as dk and dv (and dq) from the sm90 backward, which must take them. */
const char *sm90_bwd_jvp_why_not(const BwdJvpCall &c) {
  const jfa_problem_t *p = c.p;
  if (!sm90_bwd_jvp_on()) return "the sm90 backward-JVP is off (JFA_SM90_BWD_JVP; tiles.h kSm90BwdJvp)";
  if (!c.cs->sm90a_ok) return "not a compute capability 9.0 device with the sm_90a kernels";
  if (c.q->dtype != JFA_DTYPE_BFLOAT16 && c.q->dtype != JFA_DTYPE_FLOAT16) return "not bf16 / fp16";
  if (const char *no = det_dq_why_not(p, c.deterministic)) return no;
  if (!sm90_has_tile(OP_BWD_JVP, (int)c.q->dtype, (int)p->D, 0)) return "head dim not 64 or 128 (sm90/tiles.h)";
  if (!head_dim_built((int)p->D)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (p->Nq == 0 || p->Nk == 0) return "Nq or Nk = 0 (no TMA map of an empty tensor)";
  if (p->dmask) return "dense mask (the sm80 kernel takes it)";
  if (problem_has_masks(p) && (p->Nq >= (1 << 30) || p->Nk >= (1 << 30)))
    return "masks with Nq or Nk >= 2^30 (int key intervals)";
  if (!bwd_extents_ok(p)) return "B or Hkv above 65535, or Nq, Nk or B * Hq >= 2^31";
  if (!tma_tensor_ok(c.q) || !tma_tensor_ok(c.k) || !tma_tensor_ok(c.v) || !tma_tensor_ok(c.dout))
    return "q, k, v, dout: not TMA-describable";
  if (!tma_tensor_ok(c.qd) || !tma_tensor_ok(c.kd) || !tma_tensor_ok(c.vd) || !tma_tensor_ok(c.doutd))
    return "qd, kd, vd, doutd: not TMA-describable";
  if ((c.dk == nullptr) != (c.dv == nullptr)) return "dk without dv (or dv without dk): the sm90 backward writes both";
  if (c.dq && !c.dk) return "dq without dk, dv (the sm90 backward that computes it writes all three)";
  if (c.dk && sm90_bwd_why_not(bwd_jvp_first_order(c)))
    return "first-order outputs asked and the sm90 backward declines them (e.g. JFA_SM90_BWD=0)";
  return nullptr;
}

template <typename T>
static jfa_status_t bwd_jvp_dispatch(const BwdJvpArgs &a, const Sm90BwdJvpTensors &t, cudaStream_t st) {
  if constexpr (head_dim_built(64)) {
    if (a.Dreal == 64) return sm90_bwd_jvp_d<T, 64>(a, t, st);
  }
  if constexpr (head_dim_built(128)) {
    if (a.Dreal == 128) return sm90_bwd_jvp_d<T, 128>(a, t, st);
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no sm90 backward-JVP kernel for head dim %d", a.Dreal);
}

/* As sm80_bwd_jvp_run: dKd, dVd written (or added) by the kernel, dQd through the fp32 workspace (its TMA
   reduce-adds), scaled into dqd; deterministic: the kernel skips dQd and the simt kernel gives dQd and dQ.
   The first-order outputs from the sm90 backward (dK, dV; dQ through its own workspace unless
   deterministic or not asked). */
jfa_status_t sm90_bwd_jvp_run(const BwdJvpCall &c) {
  const jfa_problem_t *p = c.p;
  cudaStream_t st = ctx_stream(c.ctx);
  const bool want_dq = c.dq != nullptr, want_kv = c.dk != nullptr;
  if (!c.deterministic)
    JFA_CUDA_CHECK(cudaMemsetAsync(c.dqd_ws, 0, (size_t)(p->B * p->Hq * p->Nq * c.Dws) * sizeof(float), st));
  BwdJvpArgs a{};
  a.p = *p;
  a.mk = *c.mk;
  a.masked = problem_has_masks(p) ? 1 : 0; /* windows, packed sequences: the MASKED instantiation */
  a.q = make_view(c.q), a.k = make_view(c.k), a.v = make_view(c.v);
  a.qd = make_view(c.qd), a.kd = make_view(c.kd), a.vd = make_view(c.vd);
  a.dout = make_view(c.dout), a.doutd = make_view(c.doutd);
  a.lse = c.lse, a.mu = c.mu, a.delta = c.delta, a.deltad = c.deltad;
  a.dkd = make_view(c.dkd), a.dvd = make_view(c.dvd);
  a.dqd_ws = c.deterministic ? nullptr : c.dqd_ws;
  a.dq_ws = nullptr;
  a.Dws = c.Dws;
  a.accumulate = c.accumulate;
  a.Dreal = (int)p->D;
  a.scale = (float)p->scale;
  a.scale_log2 = (float)(p->scale * 1.4426950408889634);
  const Sm90BwdJvpTensors t = {c.q, c.k, c.v, c.qd, c.kd, c.vd, c.dout, c.doutd};
  const bool bf = c.q->dtype == JFA_DTYPE_BFLOAT16;
  JFA_CHECK(bf ? bwd_jvp_dispatch<__nv_bfloat16>(a, t, st) : bwd_jvp_dispatch<__half>(a, t, st));
  if (want_kv) {
    /* dK, dV (and dQ) from the sm90 backward; its dQ skipped where not asked or deterministic */
    BwdCall bc = bwd_jvp_first_order(c);
    bc.deterministic = c.deterministic || !want_dq;
    BwdArgs b;
    JFA_CHECK(bwd_args_begin(bc, &b));
    const Sm90BwdTensors bt = {c.q, c.k, c.v, c.dout};
    const int Dk = sm90_call_dim(OP_BWD, bc.p, c.q->dtype); /* D itself: sm90_bwd_jvp_why_not takes no dense mask */
    JFA_CHECK(bf ? bwd_dispatch<__nv_bfloat16>(b, bt, Dk, st) : bwd_dispatch<__half>(b, bt, Dk, st));
  }
  if (c.deterministic)
    return simt_backward_jvp_dq(st, p, c.q, c.k, c.v, c.qd, c.kd, c.vd, c.dout, c.doutd, c.lse, c.mu, c.delta,
                                c.deltad, c.dqd, c.dq, c.accumulate, *c.mk);
  if (c.dqd) JFA_CHECK(launch_scale_add(st, c.dqd_ws, c.Dws, c.dqd, (float)p->scale, c.accumulate));
  if (want_dq) JFA_CHECK(launch_scale_add(st, c.dq_ws, c.Dws, c.dq, (float)p->scale, c.accumulate));
  return JFA_SUCCESS;
}
