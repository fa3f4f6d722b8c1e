/*
 * simt_common.cuh - what the SIMT kernels share (simt.cu: forward, JVP, backward;
 * bwd_jvp.cu: the backward-JVP): the CTA shape (a warp per row, 32-row tiles), warp
 * reductions, tile and row loads into shared memory as fp32, dot products (fp32, and
 * fp64 for scores), and the keys visible to any row of a CTA.
 */
#ifndef JFA_KERNELS_SIMT_COMMON_CUH_
#define JFA_KERNELS_SIMT_COMMON_CUH_

#include "kernels/family.h"

#define SIMT_WARPS 8
#define SIMT_TILE 32
#define SIMT_MAXC 8 /* 256 / 32 head dims per lane */

/* Dynamic shared memory of the simt kernels at head dim D (their launches size it so; the why_nots compare it with
   the device's opt-in limit): the forward's rows of Q (and Qd) and tiles of K, V (and Kd, Vd with the JVP); the
   backward's dK / dV kernel, the larger of its two; the backward-JVP's dK / dV kernel, the larger of its two. */
static inline size_t simt_fwd_smem(int D, bool jvp) {
  return (size_t)(2 * SIMT_WARPS * D + (jvp ? 4 : 2) * SIMT_TILE * (D + 1)) * sizeof(float);
}
static inline size_t simt_bwd_dq_smem(int D) {
  return (size_t)(2 * SIMT_WARPS * D + 2 * SIMT_TILE * (D + 1)) * sizeof(float);
}
static inline size_t simt_bwd_dkdv_smem(int D) { return simt_bwd_dq_smem(D) + 2 * SIMT_TILE * sizeof(float); }
static inline size_t simt_bwd_jvp_dq_smem(int D) {
  return (size_t)(4 * SIMT_WARPS * D + 4 * SIMT_TILE * (D + 1)) * sizeof(float);
}
static inline size_t simt_bwd_jvp_dkdv_smem(int D) { return simt_bwd_jvp_dq_smem(D) + 4 * SIMT_TILE * sizeof(float); }

/* The static shared memory of the kernels whose CTAs share their rows' key range (cta_key_range's s_lo, s_hi: the
   forward's and the dQ kernels), which counts against the device's limit with the dynamic bytes. */
#define SIMT_KEY_RANGE_SMEM (2 * SIMT_WARPS * sizeof(int64_t))

/* Why a simt launch of p with its Hq heads on grid.y, the batch B on grid.z (at most 65535 each: core/dispatch.c
   splits larger batches, direct backend calls do not) and blocks of SIMT_WARPS query (and, key_rows, key) rows on
   grid.x (at most 2^31 - 1 blocks: its (unsigned) count wrapped past that, and a call of Nq = 2^35 + 8 computed 8 rows
   and succeeded) whose kernels need `smem` bytes of shared memory, static included, cannot run on the device of cs;
   NULL when it can. */
static inline const char *simt_limits_why_not(const CudaState *cs, const jfa_problem_t *p, size_t smem, bool key_rows) {
  /* key_rows: the backwards' dK / dV kernels take blocks of key rows on grid.x too (the forward: query rows only) */
  const int64_t B = p->B, heads = p->Hq, rows = key_rows && p->Nk > p->Nq ? p->Nk : p->Nq;
  if ((rows + SIMT_WARPS - 1) / SIMT_WARPS > 0x7fffffff)
    return "simt: Nq or Nk above 2^31 - 1 blocks of its rows (its grid's x axis)";
  if (heads > 65535) return "simt: more than 65535 heads (its grid's y axis)";
  if (B > 65535) return "simt: more than 65535 batch entries in one backend call (its grid's z axis)";
  if (smem > (size_t)cs->max_smem_optin)
    return "simt: its kernel at this head dim needs more shared memory than this device allows (on a GPU with 99 "
           "KiB a block: a JVP above D = 174, a backward-JVP above D = 156)";
  return nullptr;
}

static __device__ __forceinline__ float warp_max(float x) {
  for (int o = 16; o; o >>= 1) x = fmax_nan(x, __shfl_xor_sync(0xffffffffu, x, o)); /* NaN propagates */
  return x;
}
static __device__ __forceinline__ float warp_sum(float x) {
  for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

/* Loads rows [r0, r0 + SIMT_TILE) x D of a (b, h) slice into smem (row stride D + 1), zeros beyond n. */
template <typename T>
static __device__ void load_tile(float *dst, const View &v, int64_t b, int64_t h, int64_t r0, int64_t n, int D) {
  for (int idx = threadIdx.x; idx < SIMT_TILE * D; idx += blockDim.x) {
    int r = idx / D, d = idx % D;
    float x = 0.f;
    if (r0 + r < n) x = to_f(((const T *)v.p)[voff(v, b, h, r0 + r, d)]);
    dst[r * (D + 1) + d] = x;
  }
}

template <typename T>
static __device__ void load_rows(float *dst, const View &v, int64_t b, int64_t h, int64_t r0, int64_t n, int D) {
  for (int idx = threadIdx.x; idx < SIMT_WARPS * D; idx += blockDim.x) {
    int r = idx / D, d = idx % D;
    float x = 0.f;
    if (r0 + r < n) x = to_f(((const T *)v.p)[voff(v, b, h, r0 + r, d)]);
    dst[r * D + d] = x;
  }
}

static __device__ __forceinline__ float dot_row(const float *a, const float *b, int D) {
  float s = 0.f;
  for (int d = 0; d < D; ++d) s = fmaf(a[d], b[d], s);
  return s;
}

/* Scores are accumulated in double: with large logits (|s| in the hundreds) an fp32 sum
   would carry ~1e-4 of absolute error into every exp(s - m), which the tangent Od feels
   weighted by Sd - mu. Callers subtract the max or lse in double before exp. */
static __device__ __forceinline__ double dot_row64(const float *a, const float *b, int D) {
  double s = 0.0;
  for (int d = 0; d < D; ++d) s = fma((double)a[d], (double)b[d], s);
  return s;
}

/* Keys [*beg, *end) visible to any row of the CTA, from each warp's row interval [lo, hi)
   (lane-uniform); a barrier: every thread of the CTA must call it. */
static __device__ void cta_key_range(int64_t lo, int64_t hi, int64_t *beg, int64_t *end) {
  __shared__ int64_t s_lo[SIMT_WARPS], s_hi[SIMT_WARPS]; /* SIMT_KEY_RANGE_SMEM */
  const int w = threadIdx.x / 32;
  if ((threadIdx.x & 31) == 0) {
    s_lo[w] = lo < hi ? lo : INT64_MAX;
    s_hi[w] = lo < hi ? hi : INT64_MIN;
  }
  __syncthreads();
  int64_t b = INT64_MAX, e = INT64_MIN;
  for (int x = 0; x < SIMT_WARPS; ++x) {
    b = min(b, s_lo[x]);
    e = max(e, s_hi[x]);
  }
  if (b >= e) b = e = 0;
  *beg = b;
  *end = e;
}

/* The query tiles [*i_start, *i_end) that can see keys [key0, key_last] of a dK/dV CTA: without
   packed sequences, causal and window bounds give q_pos0 + i >= k_pos0 + key0 - win_right and
   q_pos0 + i <= k_pos0 + key_last + win_left; *i_start is rounded down to a tile. */
static __device__ __forceinline__ void simt_query_band(const jfa_problem_t &p, int64_t key0, int64_t key_last,
                                                       int64_t *i_start, int64_t *i_end) {
  int64_t s = 0, e = p.Nq;
  if (p.nseq == 0) {
    if (p.causal) s = max(s, p.k_pos0 + key0 - p.q_pos0);
    if (p.windowed && p.win_right >= 0) s = max(s, p.k_pos0 + key0 - p.win_right - p.q_pos0);
    if (p.windowed && p.win_left >= 0) e = min(e, p.k_pos0 + key_last + p.win_left - p.q_pos0 + 1);
  }
  *i_start = s / SIMT_TILE * SIMT_TILE;
  *i_end = e;
}

/* Runs the statement with T the storage type of dtype dt (float32, float16, bfloat16). */
#define SIMT_DISPATCH(dt, T, ...)                                               \
  switch (dt) {                                                                 \
    case JFA_DTYPE_FLOAT32: { typedef float T; __VA_ARGS__; } break;            \
    case JFA_DTYPE_FLOAT16: { typedef __half T; __VA_ARGS__; } break;           \
    case JFA_DTYPE_BFLOAT16: { typedef __nv_bfloat16 T; __VA_ARGS__; } break;   \
    default: JFA_FAIL(JFA_ERROR_UNSUPPORTED, "dtype %d is not supported on CUDA", (int)(dt)); \
  }

#endif /* JFA_KERNELS_SIMT_COMMON_CUH_ */
