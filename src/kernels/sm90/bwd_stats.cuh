/*
 * bwd_stats.cuh - the per-row statistics that the sm90 backwards' producers (bwd.cuh, bwd_f32.cuh) read from global
 * memory into a lane's registers one block ahead and write into a stage's shared memory: lse (-inf, a fully masked
 * row, as +inf so that its P is 0; rows past Nq +inf) and Delta (rows past Nq 0).
 */
#ifndef JFA_KERNELS_SM90_BWD_STATS_CUH_
#define JFA_KERNELS_SM90_BWD_STATS_CUH_

#include "kernels/sm80/sm80.h" /* BwdArgs */

/* Rows q0 + lane + 32 r (r < BM / 32) of head h: lse in base 2 (LOG2: the 16-bit kernel's exp2 of scaled scores)
   or in natural units (the float32 kernel's), and Delta. */
template <int BM, bool LOG2>
static __device__ __forceinline__ void bwd_load_stats(const BwdArgs &a, int64_t b, int64_t h, int64_t q0, int lane,
                                                      float *lr, float *dr) {
#pragma unroll
  for (int r = 0; r < BM / 32; ++r) {
    const int64_t i = q0 + lane + 32 * r;
    float l = INFINITY, dl = 0.f;
    if (i < a.p.Nq) {
      l = ((const float *)a.lse.p)[voff(a.lse, b, h, i, 0)];
      l = l == -INFINITY ? INFINITY : LOG2 ? l * 1.4426950408889634f : l;
      dl = ((const float *)a.delta.p)[voff(a.delta, b, h, i, 0)];
    }
    lr[r] = l;
    dr[r] = dl;
  }
}

/* The lane's rows (bwd_load_stats) into a stage's lse / Delta arrays ls, ds */
template <int BM>
static __device__ __forceinline__ void bwd_store_stats(float *ls, float *ds, int lane, const float *lr, const float *dr) {
#pragma unroll
  for (int r = 0; r < BM / 32; ++r) {
    ls[lane + 32 * r] = lr[r];
    ds[lane + 32 * r] = dr[r];
  }
}

#endif /* JFA_KERNELS_SM90_BWD_STATS_CUH_ */
