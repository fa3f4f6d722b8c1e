/*
 * cta_order.cuh - the kernels' side of cta_order.h: a CTA's grouped coordinates from blockIdx, and the forward's
 * group size per call (causal calls longest first in groups of heads that share L2).
 */
#ifndef JFA_KERNELS_COMMON_CTA_ORDER_CUH_
#define JFA_KERNELS_COMMON_CTA_ORDER_CUH_

#include <stdint.h>
#include <stdlib.h>

#include "core/backend.h"
#include "kernels/common/cta_order.h"

/** This CTA's coordinates in its 3-D grid under cta_grouped_of (hg <= 0: blockIdx itself). */
__device__ __forceinline__ cta_xyz_t cta_grouped(int64_t hg, int ns) {
  const int64_t nx = gridDim.x, ny = gridDim.y;
  const int64_t L = blockIdx.x + nx * (blockIdx.y + ny * (int64_t)blockIdx.z);
  return cta_grouped_of(L, nx, ny, gridDim.z, hg, ns);
}

/** hg as tuning builds' environment variable tune_env sets it, when set (-1: head after head, as before the
 *  thirteenth session), else hg. */
static inline int64_t tuned_group(int64_t hg, const char *tune_env) {
#ifdef JFA_TUNING
  const char *e = getenv(tune_env);
  if (e) hg = atoi(e);
#else
  (void)tune_env;
#endif
  return hg;
}

/** hg of a forward / JVP grid (query tiles, Hq, B) over elt-byte K and V (ntens = 2; the JVP's with their
 *  tangents: 4): causal calls without other masks group the (head, batch) pairs whose kv heads' tensors fit the
 *  budget; 0 (head after head) otherwise; tuned_group's override. */
static inline int64_t fwd_causal_group(const jfa_problem_t &p, bool masked, int64_t D, int64_t elt, int ntens,
                                       const char *tune_env) {
  const int64_t hg = p.causal && !masked
                         ? causal_group_pairs(p.Nk * D * elt * ntens * p.Hkv / p.Hq, p.Hq * p.B, CTA_GROUP_BUDGET)
                         : 0;
  return tuned_group(hg, tune_env);
}

/** hg of a backward grid (key blocks, Hkv, B): plain causal calls (no other mask, no band) group the (kv head,
 *  batch) pairs whose query heads' Q, dO and dQ accumulators (row_bytes bytes a query row and column together:
 *  16-bit 2 + 2 + 4, float32 4 + 4 + 4) fit the budget; 0 (head after head) otherwise; tuned_group's override. */
static inline int64_t bwd_causal_group(const jfa_problem_t &p, bool plain_causal, int64_t D, int64_t row_bytes,
                                       const char *tune_env) {
  const int64_t hg =
      plain_causal ? causal_group_pairs(p.Hq / p.Hkv * p.Nq * D * row_bytes, p.Hkv * p.B, CTA_GROUP_BUDGET) : 0;
  return tuned_group(hg, tune_env);
}

#endif /* JFA_KERNELS_COMMON_CTA_ORDER_CUH_ */
