/*
 * family.cu - the simt family's rows of the dispatch tables (family.h): it takes every
 * call that reaches it (backend.cu has already refused float64 and D > 256) that the device can launch (heads on
 * its grid's y axis, its shared memory: simt_limits_why_not), so it is the last row of each table and the fallback
 * of the tensor-core families.
 */
#include "kernels/family.h"
#include "kernels/simt/simt_common.cuh"

const char *simt_fwd_why_not(const FwdCall &c) {
  return simt_limits_why_not(c.cs, c.p, simt_fwd_smem((int)c.p->D, c.qd != nullptr) + SIMT_KEY_RANGE_SMEM, false);
}

jfa_status_t simt_fwd_run(const FwdCall &c) {
  return simt_forward(ctx_stream(c.ctx), c.p, c.q, c.k, c.v, c.qd, c.kd, c.vd, c.o, c.lse, c.od, c.mu, c.accumulate,
                      *c.mk);
}

const char *simt_bwd_why_not(const BwdCall &c) {
  const int D = (int)c.p->D; /* the dQ kernel's static bytes against the dK / dV kernel's larger dynamic ones */
  return simt_limits_why_not(c.cs, c.p, std::max(simt_bwd_dq_smem(D) + SIMT_KEY_RANGE_SMEM, simt_bwd_dkdv_smem(D)),
                             true);
}

/* dQ (a warp per query row), then dK, dV (a warp per key row): deterministic, no workspace. */
jfa_status_t simt_bwd_run(const BwdCall &c) {
  cudaStream_t st = ctx_stream(c.ctx);
  JFA_CHECK(simt_backward_dq(st, c.p, c.q, c.k, c.v, c.dout, c.lse, c.delta, c.dq, c.accumulate, *c.mk));
  JFA_CHECK(simt_backward_dkdv(st, c.p, c.q, c.k, c.v, c.dout, c.lse, c.delta, c.dk, c.dv, c.accumulate, *c.mk));
  return JFA_SUCCESS;
}
