/*
 * family_bwd_jvp.cu - the sm80 family's (mma.sync, sm_80+) row of the backward-JVP table
 * (family.h, backend.cu): which calls it takes (16-bit dtype, aligned q/k/v, tangents and
 * cotangents, a head dim <= 128 that is built), and the run: the kernel of bwd_jvp.cuh for
 * dKd, dVd (dK, dV at D <= 64) and the dQd / dQ atomics; at D > 64 dK, dV from the backward
 * kernel (bwd.cuh, its dQ skipped); dQd, dQ scaled out of the workspaces, or in deterministic
 * mode from the simt family's dQ kernel.
 */
#include "kernels/family.h"
#include "kernels/sm80/bwd_jvp.h"

const char *sm80_bwd_jvp_why_not(const BwdJvpCall &c) {
  const jfa_problem_t *p = c.p;
  const int Dk = sm80_head_dim(p->D);
  if (Dk == 0 || Dk > 128) return "head dim above 128";
  if (!head_dim_built(Dk)) return "head dim not in this build (JFA_HEAD_DIMS)";
  if (const char *no = det_dq_why_not(p, c.deterministic)) return no;
  if (!sm80_tensor_ok(c.q) || !sm80_tensor_ok(c.k) || !sm80_tensor_ok(c.v) || !sm80_tensor_ok(c.dout))
    return "q, k, v, dout: not 16-bit with aligned rows and strides";
  if (!sm80_tensor_ok(c.qd) || !sm80_tensor_ok(c.kd) || !sm80_tensor_ok(c.vd) || !sm80_tensor_ok(c.doutd))
    return "qd, kd, vd, doutd: not 16-bit with aligned rows and strides";
  if (!sm80_bwd_jvp_fuses_kv(Dk) && (c.dk == nullptr) != (c.dv == nullptr))
    return "dk without dv (or dv without dk) at D > 64 (the backward kernel writes both)";
  const bool masked = problem_has_masks(p);
  const Sm80Tile t = sm80_tile(OP_BWD_JVP, c.q->dtype, Dk, masked ? MASK_CLASS_ANY : MASK_CLASS_CAUSAL, 0);
  if (sm80_bwd_jvp_smem(Dk, t.NW, t.BM, masked) > (size_t)c.cs->max_smem_optin)
    return "shared memory of the tiles above the device's opt-in limit";
  return sm80_limits_why_not(p, p->Hkv, "B or Hkv above 65535 (grid)");
}

template <typename T>
static jfa_status_t bwd_jvp_dispatch(const BwdJvpArgs &a, bool kv, int Dk, cudaStream_t st) {
  switch (Dk) {
    SM80_CASE(32, (sm80_bwd_jvp_d<T, 32>(a, kv, st)))
    SM80_CASE(64, (sm80_bwd_jvp_d<T, 64>(a, kv, st)))
    SM80_CASE(96, (sm80_bwd_jvp_d<T, 96>(a, kv, st)))
    SM80_CASE(128, (sm80_bwd_jvp_d<T, 128>(a, kv, st)))
    default: break;
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no backward-JVP kernel for head dim %d", Dk);
}

template <typename T>
static jfa_status_t bwd_dispatch_kv(const BwdArgs &a, int Dk, cudaStream_t st) {
  switch (Dk) {
    SM80_CASE(96, (sm80_bwd_d<T, 96>(a, st)))
    SM80_CASE(128, (sm80_bwd_d<T, 128>(a, st)))
    default: break;
  }
  JFA_FAIL(JFA_ERROR_INTERNAL, "no backward kernel for the dK, dV of head dim %d", Dk);
}

jfa_status_t sm80_bwd_jvp_run(const BwdJvpCall &c) {
  const jfa_problem_t *p = c.p;
  cudaStream_t st = ctx_stream(c.ctx);
  const int Dk = sm80_head_dim(p->D);
  const bool want_dq = c.dq != nullptr, want_kv = c.dk != nullptr || c.dv != nullptr;
  const size_t ws_bytes = (size_t)(p->B * p->Hq * p->Nq * c.Dws) * sizeof(float);
  if (!c.deterministic) {
    JFA_CUDA_CHECK(cudaMemsetAsync(c.dqd_ws, 0, ws_bytes, st));
    if (want_dq) JFA_CUDA_CHECK(cudaMemsetAsync(c.dq_ws, 0, ws_bytes, st));
  }
  BwdJvpArgs a{};
  a.p = *p;
  a.mk = *c.mk;
  a.masked = problem_has_masks(p) ? 1 : 0;
  a.q = make_view(c.q), a.k = make_view(c.k), a.v = make_view(c.v);
  a.qd = make_view(c.qd), a.kd = make_view(c.kd), a.vd = make_view(c.vd);
  a.dout = make_view(c.dout), a.doutd = make_view(c.doutd);
  a.lse = c.lse, a.mu = c.mu, a.delta = c.delta, a.deltad = c.deltad;
  a.dkd = make_view(c.dkd), a.dvd = make_view(c.dvd), a.dk = make_view(c.dk), a.dv = make_view(c.dv);
  a.dqd_ws = c.deterministic ? nullptr : c.dqd_ws;
  a.dq_ws = (c.deterministic || !want_dq) ? nullptr : c.dq_ws;
  a.Dws = c.Dws;
  a.accumulate = c.accumulate;
  a.Dreal = (int)p->D;
  a.scale = (float)p->scale;
  a.scale_log2 = (float)(p->scale * 1.4426950408889634);
  const bool bf = c.q->dtype == JFA_DTYPE_BFLOAT16;
  JFA_CHECK(bf ? bwd_jvp_dispatch<__nv_bfloat16>(a, want_kv, Dk, st) : bwd_jvp_dispatch<__half>(a, want_kv, Dk, st));
  if (want_kv && !sm80_bwd_jvp_fuses_kv(Dk)) {
    /* dK, dV from the backward kernel (why_not made sure both are asked) */
    BwdArgs b{}; /* value-initialised: fields this file does not know stay zero */
    b.p = *p;
    b.mk = *c.mk;
    sm80_bias_tiles_fit(&b.mk, c.cs, OP_BWD, p, c.q, Dk); /* the backward kernel's bytes, not the bwd-JVP's */
    b.masked = a.masked;
    b.q = a.q, b.k = a.k, b.v = a.v, b.dout = a.dout;
    b.lse = c.lse, b.delta = c.delta;
    b.dk = a.dk, b.dv = a.dv;
    b.dq_ws = nullptr;
    b.Dws = c.Dws;
    b.skip_dq = 1;
    b.accumulate = c.accumulate;
    b.Dreal = a.Dreal;
    b.scale = a.scale, b.scale_log2 = a.scale_log2, b.bias_mul = (float)(1.0 / p->scale);
    JFA_CHECK(bf ? bwd_dispatch_kv<__nv_bfloat16>(b, Dk, st) : bwd_dispatch_kv<__half>(b, Dk, st));
  }
  if (c.deterministic)
    return simt_backward_jvp_dq(st, p, c.q, c.k, c.v, c.qd, c.kd, c.vd, c.dout, c.doutd, c.lse, c.mu, c.delta,
                                c.deltad, c.dqd, c.dq, c.accumulate, *c.mk);
  if (c.dqd) JFA_CHECK(launch_scale_add(st, c.dqd_ws, c.Dws, c.dqd, (float)p->scale, c.accumulate));
  if (want_dq) JFA_CHECK(launch_scale_add(st, c.dq_ws, c.Dws, c.dq, (float)p->scale, c.accumulate));
  return JFA_SUCCESS;
}
