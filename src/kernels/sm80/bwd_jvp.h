/*
 * bwd_jvp.h - the arguments and launcher of the sm80 family's (mma.sync) backward-JVP kernel
 * (bwd_jvp.cuh), instantiated per head dim by inst/bwd_jvp_d<D>.cu and called by
 * family_bwd_jvp.cu.
 */
#ifndef JFA_KERNELS_SM80_BWD_JVP_H_
#define JFA_KERNELS_SM80_BWD_JVP_H_

#include "kernels/sm80/sm80.h"

/* The arguments of the backward-JVP kernel. Views with p == NULL are not written. */
struct BwdJvpArgs {
  jfa_problem_t p;
  View q, k, v, qd, kd, vd, dout, doutd;
  View lse, mu, delta, deltad; /* fp32 per-row statistics */
  View dkd, dvd, dk, dv;       /* dk, dv: written only by the KV instantiation (sm80_bwd_jvp_fuses_kv) */
  MaskDev mk;
  int masked;     /* masks beyond causal: the MASKED instantiation, as the backward */
  float *dqd_ws;  /* contiguous fp32 (B, Hq, Nq, Dws): dQd / scale added with atomics; NULL: no dQ work */
  float *dq_ws;   /* the same for dQ; NULL: not asked */
  int64_t Dws;
  int accumulate, Dreal;
  float scale, scale_log2;
};

/** Query row i's statistics for both families' backward-JVP kernels: lse in log2 units (+inf for a row
 *  without keys, so that its P is 0), mu, Delta and Deltad (x, y, z, w); rows past nq (the problem's Nq): +inf
 *  and zeros. */
__device__ __forceinline__ float4 bwd_jvp_row_stats(const BwdJvpArgs &a, int64_t b, int64_t h, int64_t i, int64_t nq) {
  float l = INFINITY, m = 0.f, dl = 0.f, dld = 0.f;
  if (i < nq) {
    l = ((const float *)a.lse.p)[voff(a.lse, b, h, i, 0)];
    l = l == -INFINITY ? INFINITY : l * 1.4426950408889634f;
    m = ((const float *)a.mu.p)[voff(a.mu, b, h, i, 0)];
    dl = ((const float *)a.delta.p)[voff(a.delta, b, h, i, 0)];
    dld = ((const float *)a.deltad.p)[voff(a.deltad, b, h, i, 0)];
  }
  return make_float4(l, m, dl, dld);
}

/** Bytes of dynamic shared memory of the kernel with NW warps and BM query rows at head dim D
 *  for 16-bit elements: K, Kd, V, Vd (16 NW rows each); Q, Qd, dO, dOd and dS, dSd, twice
 *  (double-buffered); lse, mu, delta, deltad twice; masked: the rows' key intervals twice. */
constexpr size_t sm80_bwd_jvp_smem(int D, int NW, int BM, bool masked) {
  return 2 * ((size_t)4 * 16 * NW * (D + 8) + (size_t)8 * BM * (D + 8) + (size_t)4 * BM * (16 * NW + 8)) +
         sizeof(float) * 8 * BM + (masked ? sizeof(int) * 4 * BM : 0);
}

/** Whether the kernel of head dim D keeps dK and dV in registers next to dKd and dVd (else the
 *  caller takes dK and dV from the backward kernel; bwd_jvp.cuh's top comment says why). */
constexpr bool sm80_bwd_jvp_fuses_kv(int D) { return D <= 64; }

/** The backward-JVP at head dim D (a row OP_BWD_JVP of tiles.h) for the 16-bit type T: dKd, dVd
 *  (and dK, dV when kv and sm80_bwd_jvp_fuses_kv(D)) written or added, dQd (and dQ) added into
 *  the workspaces. inst/bwd_jvp_d<D>.cu instantiates it. */
template <typename T, int D> jfa_status_t sm80_bwd_jvp_d(const BwdJvpArgs &a, bool kv, cudaStream_t st);

#endif /* JFA_KERNELS_SM80_BWD_JVP_H_ */
