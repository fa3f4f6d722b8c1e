/*
 * tiles.h - the tile configurations of the sm90 family (wgmma + TMA, sm_90a), in one table
 * keyed by (op, dtype, head dim, tuning variant). Mask class MASK_CLASS_ANY (the family takes
 * interval masks and boolean dense masks; family.cu) runs the same tiles: the per-row key
 * intervals live in shared memory, a dense mask's bits in a few registers.
 *
 * bench/RESULTS.md (Hopper runs 3-5): the forward at BN = 128, with OVERLAP at D = 64 (at
 * D = 128 the second score accumulator spills and loses 30%); the JVP keeps four accumulators
 * (S, Sd, O, U) and takes BN = 64 to stay within 240 registers without spills.
 * Variant 0 is what runs; tuning builds (-DJFA_TUNING=ON) also compile variants 1.. of the
 * forward and pick one with JFA_TUNE_SM90A=<n> (a variant a head dim lacks runs variant 0).
 */
#ifndef JFA_KERNELS_SM90_TILES_H_
#define JFA_KERNELS_SM90_TILES_H_

#include "kernels/common/host.cuh"

/** One row. dtype 0: bf16 and fp16 alike. BM = 128 query rows per CTA (two consumer
 *  warpgroups of 64), BN keys per block, ST shared-memory stages, OVERLAP: the S of block
 *  j + 1 issued before the softmax of block j (forward only). */
struct Sm90Tile {
  int op, dtype, D, variant;
  int BN, ST;
  bool OVERLAP;
};

/* clang-format off */
static constexpr Sm90Tile kSm90Tiles[] = {
  /* op      dtype  D  var    BN  ST  OVERLAP */
  {OP_FWD,  0,  64, 0,    128,  3, true},
  {OP_FWD,  0, 128, 0,    128,  2, false},
  {OP_JVP,  0,  64, 0,     64,  3, false},
  {OP_JVP,  0, 128, 0,     64,  2, false},
  /* backward (bwd.cuh): BN keys per CTA (64 per consumer warpgroup), ST stages of
     Q and dO (BM = 64 query rows); OVERLAP unused */
  {OP_BWD,  0,  64, 0,    128,  3, false},
  {OP_BWD,  0, 128, 0,    128,  2, false},
  /* tuning variants (JFA_TUNING builds only; the backward's dQ adds: JFA_TUNE_SM90_BWD, bwd.cuh) */
  {OP_FWD,  0, 128, 1,    128,  3, true},
  {OP_FWD,  0, 128, 2,     64,  4, true},
  {OP_FWD,  0,  64, 1,    128,  3, false},
  {OP_FWD,  0,  64, 2,    128,  5, true},
};
/* clang-format on */

/** How the sm90 backward adds dQ (bwd.cuh: 0 float2 atomics, 2 TMA reduce-adds of each consumer's
 *  partial over its 64 keys, 3 SM90_DQ_SPLIT: the consumers split dQ's columns, one reduce-add per
 *  element per CTA, unmasked kernel only). H200, bench/RESULTS.md 2026-12-02 run 4: the reduce-adds
 *  1.05-1.29x faster than the atomics (float4 atomics, tried, slower than both); 2026-12-02 third
 *  session run 1: SPLIT 1.04-1.08x faster than 2. Masked calls run 2 when this is 3. */
static constexpr int kSm90BwdDq = 3;

/** Whether the table has a row for (op, dtype, D, variant). */
constexpr bool sm90_has_tile(int op, int dtype, int D, int variant) {
  for (const Sm90Tile &r : kSm90Tiles)
    if (r.op == op && (r.dtype == 0 || r.dtype == dtype) && r.D == D && r.variant == variant) return true;
  return false;
}

/** The tiles of (op, dtype, head dim D, mask class, variant); .D == 0 when there is none
 *  (every head dim but 64 and 128). Both mask classes take the same row. */
constexpr Sm90Tile sm90_tile(int op, int dtype, int D, int mask_class, int variant) {
  Sm90Tile t = {op, dtype, 0, variant, 0, 0, false};
  (void)mask_class;
  for (const Sm90Tile &r : kSm90Tiles)
    if (r.op == op && (r.dtype == 0 || r.dtype == dtype) && r.D == D && r.variant == variant) return r;
  return t;
}

#endif /* JFA_KERNELS_SM90_TILES_H_ */
