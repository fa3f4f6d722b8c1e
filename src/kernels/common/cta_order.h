/*
 * cta_order.h - the order in which a grid's CTAs take their work, the rules only: C11 and CUDA alike, so that the
 * CPU test (tests/cpu/test_cpu_cta_order.c) checks the same code the kernels run (common/cta_order.cuh).
 *
 * The kernels' grids are (blocks, heads, batches) and launch x fastest: head after head, a head's CTAs together,
 * so that the CTAs at work share its K and V (forward) or its Q, dO and dQ (backward) in L2. Under a causal mask
 * a CTA's work grows or shrinks with x (the forward's query tiles are numbered from the last, the backward's key
 * blocks from the first: x = 0 is the longest), so the greedy hardware schedule ends on the last heads' longest
 * CTAs: a makespan model (bench/RESULTS.md, thirteenth session) puts that tail at 3-7% over the ideal at N = 4096
 * (B = 4, 16 or 32 heads), against < 1% with every head's longest CTAs first. Fully longest first spreads the
 * CTAs at work over every head, whose keys and values then come from DRAM once per CTA instead of once per head:
 * cta_grouped_of takes groups of hg (head, batch) pairs, longest first within a group, and causal_group_pairs
 * sizes hg so that a group's working set stays within an L2 budget.
 */
#ifndef JFA_KERNELS_COMMON_CTA_ORDER_H_
#define JFA_KERNELS_COMMON_CTA_ORDER_H_

#include <stdint.h>

#ifdef __CUDACC__
#define CTA_FN __host__ __device__ __forceinline__
#else
#define CTA_FN static inline
#endif

/** A CTA's coordinates in its (nx, ny, nz) grid. */
typedef struct {
  int64_t x, y, z;
} cta_xyz_t;

/** Default L2 budget of a group's working set (bytes): about half of an H100 / H200's 50 MB. */
#define CTA_GROUP_BUDGET ((int64_t)24 << 20)

/** The coordinates that the CTA launched L-th (L = x + nx (y + ny z), x fastest) of an (nx, ny, nz) grid works on.
 *  hg <= 0: its own. hg > 0: the (y, z) pairs (pair y + ny z) in groups of hg, each group's CTAs by x, then pair,
 *  then the ns neighbours of x (x = ns xo + xi, nx a multiple of ns: the column slices of one block stay together),
 *  x = 0 first; the last group may hold fewer pairs. A bijection of the grid either way. */
CTA_FN cta_xyz_t cta_grouped_of(int64_t L, int64_t nx, int64_t ny, int64_t nz, int64_t hg, int64_t ns) {
  const int64_t nhb = ny * nz;
  int64_t x, hb;
  if (hg <= 0) {
    x = L % nx;
    hb = L / nx;
  } else {
    const int64_t per = nx * hg, g0 = L / per * hg, r = L % per;
    const int64_t gc = nhb - g0 < hg ? nhb - g0 : hg; /* pairs in this group */
    const int64_t r2 = r / ns;
    x = r2 / gc * ns + r % ns;
    hb = g0 + r2 % gc;
  }
  cta_xyz_t c;
  c.x = x;
  c.y = hb % ny;
  c.z = hb / ny;
  return c;
}

/** hg for a causal call whose CTAs of one (y, z) pair stream pair_bytes of tensors that the pair's CTAs share
 *  (forward: that head's K and V, the JVP's with their tangents; backward: the kv head's query heads' Q, dO and dQ
 *  accumulators): the largest divisor of npairs whose pairs fit in budget bytes (1 is head after head again,
 *  longest first within the head, as every grid has it). A divisor, so that the groups are equal: in the makespan
 *  model a last group smaller than the others brings the tail back (64 pairs of 32 tiles on 132 SMs: 4 or 8 pairs
 *  a group 0.2-0.3% over the ideal, 6 pairs 4.2%). */
CTA_FN int64_t causal_group_pairs(int64_t pair_bytes, int64_t npairs, int64_t budget) {
  int64_t g = pair_bytes > 0 ? budget / pair_bytes : npairs;
  if (g > npairs) g = npairs;
  while (g > 1 && npairs % g != 0) --g;
  return g < 1 ? 1 : g;
}

/** A persistent kernel's walk in pairs of causal tiles (sm90/fwd_persist.cuh's order >= 2: JFA_TUNE_SM90_ORDER=2):
 *  step k of CTA c's walk (G CTAs) over nqb query blocks of hbn (head, batch) pairs. Units of two tiles of one pair,
 *  query blocks nqb - 1 - x and x, whose causal key blocks add up to nqb + 1 whatever x (so that a static walk over
 *  units is balanced, as a list sorted longest first over every head is), in the snake over units (unit r G + c in
 *  even rounds r, r G + G - 1 - c in odd ones; step k is half k & 1 of round k / 2's unit), numbered in groups of hg
 *  pairs (causal_group_pairs' L2-sized groups; hg divides hbn), x outer within a group (the CTAs at work share hg
 *  heads' keys in L2). Returns 0 with *qb and *hb, 1 for the absent second half of an odd nqb's middle unit (no
 *  tile), 2 past the last unit. 32-bit (the launchers take fewer than 2^31 tiles). */
CTA_FN int cta_pair_of(uint32_t k, uint32_t G, uint32_t c, uint32_t nqb, uint32_t hbn, uint32_t hg, uint32_t *qb,
                       uint32_t *hb) {
  const uint32_t r = k >> 1, npu = (nqb + 1) >> 1;
  const uint32_t u = r * G + ((r & 1) ? G - 1 - c : c);
  if (u >= npu * hbn) return 2;
  const uint32_t per = npu * hg, r2 = u % per, x = r2 / hg;
  *hb = u / per * hg + r2 % hg;
  if (k & 1) {
    if (x == nqb - 1 - x) return 1;
    *qb = x;
  } else {
    *qb = nqb - 1 - x;
  }
  return 0;
}

#endif /* JFA_KERNELS_COMMON_CTA_ORDER_H_ */
