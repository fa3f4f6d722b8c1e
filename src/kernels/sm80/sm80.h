/*
 * sm80.h - the launchers of the sm80 family (mma.sync, sm_80+) that its family.cu calls:
 * one function template per op, instantiated per head dim by the files of inst/ (so the
 * head dims compile in parallel and a development build can leave some out).
 */
#ifndef JFA_KERNELS_SM80_SM80_H_
#define JFA_KERNELS_SM80_SM80_H_

#include "kernels/common/softmax.cuh"
#include "kernels/sm80/tiles.h"

/* The arguments of the backward kernel (bwd.cuh). */
struct BwdArgs {
  jfa_problem_t p;
  View q, k, v, dout, lse, delta, dk, dv;
  MaskDev mk;
  int masked; /* masks beyond causal: the MASKED instantiation (query range from mask_query_range,
                 per-row key intervals); the others keep the causal-only code */
  float *dq_ws;
  int64_t Dws;
  int skip_dq, accumulate, Dreal;
  float scale, scale_log2;
  float bias_mul; /* 1 / scale: the sm90 backward adds a 16-bit additive mask's biases as bias / scale (sm90/bwd.cuh) */
  int tune_old; /* tuning builds' JFA_TUNE_BWD_OLD (bwd_args_begin; 0 otherwise), for A / B runs in one process:
                   1 the sm90 backwards' prologue and end as before the fourteenth session (sm90/bwd.cuh,
                   bwd_f32.cuh), 2 as before the fifteenth (the float32 kernel's K / V split by its converters, no
                   tensor-map prefetch) */
  int nsm;       /* the device's SMs (sm90 family.cu): the sm90 float32 backward's persistent grid (tiles.h
                    kSm90BwdF32Persist) */
  int acc_vec;   /* the sm90 16-bit backward's accumulate-mode epilogue through shared memory (bwd.cuh; tiles.h
                    kSm90BwdAccVec) */
  int f32_pro;   /* the sm90 float32 backward's prologue of the fifteenth session (bwd_f32.cuh; tiles.h kSm90BwdF32Pro) */
  int dq_direct; /* the float32 backwards: dQ, scaled, added into the float32 dq output itself instead of the
                    workspace dq_ws (sm90/bwd_f32.cuh by TMA reduce-adds, sm90/family.cu sm90_f32_dq_direct;
                    sm80/bwd_f32.cuh by atomics into `dq`, sm80/family.cu sm80_f32_dq_direct) */
  View dq;       /* dq itself where sm80's float32 backward adds into it (dq_direct) */
  int kv_vec16; /* dK and dV storable as 16-byte pieces (8 columns of 16-bit, 4 of float32: columns contiguous, the
                   other strides multiples of 8 / 4 elements, 16-byte aligned bases): the sm90 backwards' epilogues
                   (bwd.cuh: 16-bit outputs; bwd_f32.cuh: float32) */
  unsigned long long *probe; /* tuning builds' JFA_TUNE_PROBE_PTR (common/probe.cuh; nullptr otherwise): per-CTA clock
                                stamps of the sm90 backwards */
};

/* The query blocks (of BM rows) that may see keys [n0, n0 + BN): [qb_start, nqb) (per_head of
   them) of every query head (interval masks through mask_query_range, causal from the positions). The
   sm80 backward kernels (bwd.cuh, bwd_f32.cuh, bwd_jvp.cuh) and the sm90 one (sm90/bwd.cuh) walk
   per_head blocks per query head. */
struct BwdQueryBlocks {
  int64_t qb_start, nqb, per_head;
};
template <int BM, int BN, bool MASKED>
__device__ __forceinline__ BwdQueryBlocks bwd_query_blocks(const jfa_problem_t &p, const MaskDev &mk, int64_t n0) {
  int64_t i_min = 0, i_max = p.Nq; /* query rows that may see keys [n0, n0 + BN) */
  if (MASKED) mask_query_range(mk, n0, min(n0 + BN, p.Nk), &i_min, &i_max);
  else if (p.causal) i_min = max((int64_t)0, p.k_pos0 + n0 - p.q_pos0);
  BwdQueryBlocks r;
  r.qb_start = i_min / BM;
  r.nqb = (!MASKED || i_max > i_min) ? (i_max + BM - 1) / BM : r.qb_start; /* end of the blocks */
  r.per_head = r.qb_start < r.nqb ? r.nqb - r.qb_start : 0;
  return r;
}

/** Forward (JVP = false) or fused forward+JVP at head dim D (a row of tiles.h) for the 16-bit
 *  type T; inst/fwd_d<D>.cu and inst/jvp_d<D>.cu instantiate it. */
template <typename T, int D, bool JVP> jfa_status_t sm80_fwd_d(const FwdArgs &a, cudaStream_t st);
/** The float32 forward (JVP = false) or fused forward+JVP at head dim D on TF32 tensor cores
 *  (fwd_f32.cuh): 3xTF32, or one TF32 product when tf32; inst/fwd_f32_d<D>.cu and
 *  inst/jvp_f32_d<D>.cu instantiate it. */
template <int D, bool JVP> jfa_status_t sm80_fwd_f32_d(const FwdArgs &a, bool tf32, cudaStream_t st);
/** Backward at head dim D for T; inst/bwd_d<D>.cu instantiates it. */
template <typename T, int D> jfa_status_t sm80_bwd_d(const BwdArgs &a, cudaStream_t st);
/** float32 backward at head dim D on TF32 tensor cores (bwd_f32.cuh): 3xTF32, or one TF32
 *  product when tf32; inst/bwd_f32_d<D>.cu instantiates it. */
template <int D> jfa_status_t sm80_bwd_f32_d(const BwdArgs &a, bool tf32, cudaStream_t st);

/** Clears mk->bias_vec (an additive mask's tiles read from global memory instead of staged in shared memory) where
 *  the 16-bit kernel of `op` (OP_FWD, OP_JVP, OP_BWD) at head dim Dk would not fit the device with them, where
 *  JFA_SM80_BIAS_TILES=0 or tiles.h says so, and for float32 (family.cu). Every run that launches a 16-bit kernel
 *  with a copy of the call's MaskDev calls it on that copy. */
void sm80_bias_tiles_fit(MaskDev *mk, const CudaState *cs, int op, const jfa_problem_t *p, const jfa_tensor_t *q,
                         int Dk);

/** The launch limits every sm80 row shares: grid.y / grid.z (B and the grid's heads, `heads`), the kernels' int
 *  block counts (Nq, Nk below 2^31: K and V broadcast along the sequence at stride 0 make any Nk fit in memory, and a
 *  count of 2^37 keys wrapped negative: o = 0, lse = -inf, success) and the int key intervals of masks; NULL when the
 *  call is within them, else why not. */
static inline const char *sm80_limits_why_not(const jfa_problem_t *p, int64_t heads, const char *grid_msg) {
  if (p->B > 65535 || heads > 65535) return grid_msg;
  if (p->Nq >= ((int64_t)1 << 31) || p->Nk >= ((int64_t)1 << 31)) return "Nq or Nk >= 2^31 (int block counts)";
  if (problem_has_masks(p) && (p->Nq >= (1 << 30) || p->Nk >= (1 << 30)))
    return "masks with Nq or Nk >= 2^30 (int key intervals)";
  return nullptr;
}

/* case D: the instantiation of head dim D, when it is built (if constexpr: no reference to it
   otherwise, why_not has declined the call). */
#define SM80_CASE(D, CALL)                        \
  case D:                                         \
    if constexpr (head_dim_built(D)) return CALL; \
    break;

#endif /* JFA_KERNELS_SM80_SM80_H_ */
