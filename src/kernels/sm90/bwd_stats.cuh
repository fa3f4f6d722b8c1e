/*
 * bwd_stats.cuh - the per-row statistics that the sm90 backwards' producers (bwd.cuh, bwd_f32.cuh) read from global
 * memory into a lane's registers one block ahead and write into a stage's shared memory: lse (-inf, a fully masked
 * row, as +inf so that its P is 0; rows past Nq +inf) and Delta (rows past Nq 0); and for the float32 backward with
 * a boolean dense mask the rows' mask words of the CTA's keys.
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

/* The lane's rows' (q0 + lane + 32 r) words of a boolean mask's bit-packed rows (common/mask.cuh MaskDev) for the
   64 keys from n0 (a multiple of 64): bit k is key n0 + k; 0 past Nq (the sm90 float32 backward's DM). */
template <int BM>
static __device__ __forceinline__ void bwd_load_words(const MaskDev &m, int64_t b, int64_t h, int64_t q0, int64_t n0,
                                                      int lane, uint64_t *mr) {
#pragma unroll
  for (int r = 0; r < BM / 32; ++r) {
    uint64_t w[1];
    mask_row_words(m, b, h, q0 + lane + 32 * r, n0, w);
    mr[r] = w[0];
  }
}

/* The lane's rows' words (bwd_load_words) into a stage's array ws */
template <int BM>
static __device__ __forceinline__ void bwd_store_words(uint64_t *ws, int lane, const uint64_t *mr) {
#pragma unroll
  for (int r = 0; r < BM / 32; ++r) ws[lane + 32 * r] = mr[r];
}

#endif /* JFA_KERNELS_SM90_BWD_STATS_CUH_ */
