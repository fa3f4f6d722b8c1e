/*
 * family.cu - the sm90 family's (wgmma + TMA, sm_90a) rows of the forward and JVP tables
 * (family.h) and its backward row (off under JFA_SM90_BWD=0): which calls it takes and the calls into the per-head-dim instantiations
 * (inst/). Built for sm_90a only, with the kernels (JFA_SM90A_SOURCES).
 */
#include <string.h>

#include "kernels/family.h"
#include "kernels/sm90/sm90.h"
#include "kernels/sm90/tma.h"

bool sm90_compiled(void) {
  if constexpr (head_dim_built(128)) return sm90_probe_d<128>();
  if constexpr (head_dim_built(64)) return sm90_probe_d<64>();
  return false;
}

const char *sm90_fwd_why_not(const FwdCall &c) {
  const jfa_problem_t *p = c.p;
  if (!c.cs->sm90a_ok) return "not a compute capability 9.0 device with the sm_90a kernels";
  if (p->D != 64 && p->D != 128) return "head dim not 64 or 128";
  if (!head_dim_built((int)p->D)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (p->dmask && p->dmask->dtype != JFA_DTYPE_BOOL) return "additive dense mask (the sm80 family takes it)";
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

template <typename T>
static jfa_status_t fwd_dispatch(const FwdArgs &a, const Sm90Tensors &t, bool jvp, cudaStream_t st) {
  if constexpr (head_dim_built(64)) {
    if (a.Dreal == 64) return jvp ? sm90_fwd_d<T, 64, true>(a, t, st) : sm90_fwd_d<T, 64, false>(a, t, st);
  }
  if constexpr (head_dim_built(128)) {
    if (a.Dreal == 128) return jvp ? sm90_fwd_d<T, 128, true>(a, t, st) : sm90_fwd_d<T, 128, false>(a, t, st);
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no sm90 kernel for head dim %d", a.Dreal);
}

jfa_status_t sm90_fwd_run(const FwdCall &c) {
  FwdArgs a;
  fwd_args_init(&a, c.p, c.q, c.k, c.v, c.qd, c.kd, c.vd, c.o, c.lse, c.od, c.mu, c.accumulate, c.mk);
  const Sm90Tensors t = {c.q, c.k, c.v, c.qd, c.kd, c.vd};
  cudaStream_t st = ctx_stream(c.ctx);
  if (c.q->dtype == JFA_DTYPE_BFLOAT16) return fwd_dispatch<__nv_bfloat16>(a, t, c.qd != nullptr, st);
  return fwd_dispatch<__half>(a, t, c.qd != nullptr, st);
}

/* ---- backward (bwd.cuh): declines every call under JFA_SM90_BWD=0 (backend.cu) ---- */

const char *sm90_bwd_why_not(const BwdCall &c) {
  const jfa_problem_t *p = c.p;
  if (!c.cs->sm90_bwd) return "the sm90 backward is off (JFA_SM90_BWD=0 when the context was created)";
  if (!c.cs->sm90a_ok) return "not a compute capability 9.0 device with the sm_90a kernels";
  if (p->D != 64 && p->D != 128) return "head dim not 64 or 128";
  if (!head_dim_built((int)p->D)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (p->dmask) return "dense mask (the sm80 family takes it)";
  if (problem_has_masks(p) && (p->Nq >= (1 << 30) || p->Nk >= (1 << 30)))
    return "masks with Nq or Nk >= 2^30 (int key intervals)";
  if (p->B > 65535 || p->Hkv > 65535 || p->Nq >= ((int64_t)1 << 31) || p->Nk >= ((int64_t)1 << 31))
    return "B or Hkv above 65535, or Nq or Nk >= 2^31";
  if (!tma_tensor_ok(c.q) || !tma_tensor_ok(c.k) || !tma_tensor_ok(c.v) || !tma_tensor_ok(c.dout))
    return "q, k, v, dout: not TMA-describable";
  return nullptr;
}

template <typename T>
static jfa_status_t bwd_dispatch(const BwdArgs &a, const Sm90BwdTensors &t, cudaStream_t st) {
  if constexpr (head_dim_built(64)) {
    if (a.Dreal == 64) return sm90_bwd_d<T, 64>(a, t, st);
  }
  if constexpr (head_dim_built(128)) {
    if (a.Dreal == 128) return sm90_bwd_d<T, 128>(a, t, st);
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no sm90 backward kernel for head dim %d", a.Dreal);
}

/* As sm80_bwd_run: dk, dv written (or added) by the kernel; dq added into the fp32 workspace with
   atomics, then scaled into dq (launch_scale_add), or, deterministic, from simt_backward_dq (the
   kernel skips its dQ). */
jfa_status_t sm90_bwd_run(const BwdCall &c) {
  const jfa_problem_t *p = c.p;
  cudaStream_t st = ctx_stream(c.ctx);
  if (!c.deterministic)
    JFA_CUDA_CHECK(cudaMemsetAsync(c.dq_ws, 0, (size_t)(p->B * p->Hq * p->Nq * c.Dws) * sizeof(float), st));
  BwdArgs a;
  memset(&a, 0, sizeof(a));
  a.p = *p;
  a.mk = *c.mk;
  a.masked = problem_has_masks(p) ? 1 : 0; /* interval masks only (why_not declines dense ones) */
  a.q = make_view(c.q);
  a.k = make_view(c.k);
  a.v = make_view(c.v);
  a.dout = make_view(c.dout);
  a.lse = c.lse;
  a.delta = c.delta;
  a.dk = make_view(c.dk);
  a.dv = make_view(c.dv);
  a.dq_ws = c.dq_ws;
  a.Dws = c.Dws;
  a.skip_dq = c.deterministic ? 1 : 0;
  a.accumulate = c.accumulate;
  a.Dreal = (int)p->D;
  a.scale = (float)p->scale;
  a.scale_log2 = (float)(p->scale * 1.4426950408889634);
  const Sm90BwdTensors t = {c.q, c.k, c.v, c.dout};
  if (c.q->dtype == JFA_DTYPE_BFLOAT16)
    JFA_CHECK(bwd_dispatch<__nv_bfloat16>(a, t, st));
  else
    JFA_CHECK(bwd_dispatch<__half>(a, t, st));
  if (c.deterministic)
    return simt_backward_dq(st, p, c.q, c.k, c.v, c.dout, c.lse, c.delta, c.dq, c.accumulate, *c.mk);
  return launch_scale_add(st, c.dq_ws, c.Dws, c.dq, (float)p->scale, c.accumulate);
}
