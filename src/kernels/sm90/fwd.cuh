/*
 * fwd.cuh - the sm90 family's (Hopper, sm_90a) forward and fused forward+JVP of jfa:
 * wgmma fed by TMA through an mbarrier pipeline, with warp specialisation. Compiled only
 * for sm_90a (wgmma and setmaxnreg need the arch-specific target), per head dim by
 * inst/{fwd,jvp}_d<D>.cu (sm90_fwd_d); tiles from tiles.h; family.cu takes bf16/fp16,
 * D = 64, 96, 128, 192 or 256, causal, the interval masks (windows, positions, packed sequences) and
 * dense masks (boolean; additive with 16-bit biases of aligned rows: their tiles staged in the stages, Sm90Fwd
 * DMW_OFF), TMA-describable tensors, on sm_90.
 *
 * A CTA owns BM = 128 query rows of one (batch, head) (64 in the JVP's column split at D = 192
 * and 256, CS: both consumers on the same rows, each with half of O's and U's columns) and has
 * three warpgroups:
 *   - warpgroup 0, the producer (registers lowered to 24 with setmaxnreg, MASKED 32): one thread
 *     loads Q (and Qd) once, then streams the K, V (and Kd, Vd) blocks of BN keys
 *     through ST shared-memory stages: it waits for a stage to be released (mbarrier
 *     `empty`), then issues the TMA loads, which complete the stage's `full` mbarrier;
 *   - warpgroups 1 and 2, the consumers (registers raised to 240, MASKED 232): each owns 64 rows
 *     and, per key block,
 *       S = Q K^T                              wgmma, A and B from shared memory,
 *       Sd = Qd K^T + Q Kd^T                   (JVP) into a second accumulator,
 *       online softmax (common/softmax.cuh: the same code as the mma.sync kernel, in its FAST
 *       form: one FFMA and one ex2.approx.ftz per probability),
 *       O += P V,  U += P (Sd - c) V + P Vd    wgmma, A = P from registers, B = V N-major,
 *     then releases the stage (one arrival per consumer warp).
 *     The two consumers take turns issuing their score products (named barriers 1 and 2,
 *     "ping-pong"), so one's softmax overlaps the other's products (tiles.h NC = 3, the D = 64 forward's row 0
 *     since the ninth session and tuning variants 18-21: three consumer warpgroups, BM = 192 rows, 512 threads,
 *     the consumers at 160 registers, the turns a round robin 0 -> 1 -> 2 on named barriers 1, 2, 3; its
 *     unmasked and causal calls, masked ones run the two-consumer kernel of row 0's MASKV: at D = 64 the persistent
 *     one, fwd_persist.cuh, whose three-consumer form (MASKP, variant 34) takes windows without packed sequences, and
 *     its unmasked form plain causal calls of up to 4096 keys, since the twenty-fifth session; at D = 96, row 0
 *     since the twenty-third session too, the padded row before; since the twenty-sixth session each of the three
 *     warpgroups, here in the PVLAG order and in fwd_persist.cuh, computes only the key blocks its 64 rows may see,
 *     fwd_consumer_blocks, and takes the others as turns without products: CSKIP, JFA_SM90_FWD_CSKIP=0 per call
 *     every block). The D = 64
 *     forward's tuning variant 22 (row 0 before) issues the S of block j + 1 before the softmax of block j
 *     (OVERLAP, a second score accumulator); at D = 128 and in the JVP the registers do not allow it without spills, but
 *     for the JVP's even column splits (tuning variants: 5 at D = 192, 1 at D = 256; S and Sd into
 *     sn and sdn; masked calls run variant 0's order).
 * Two rings (tiles.h STV; the JVP's row 0 at D = 256 since the eighth session and at D = 192 since the thirty-eighth,
 * tuning variants 2, 3 at D = 256 and 7-10, 12, 13 at D = 192; unmasked calls and bands): K, Kd in ST stages and
 * V, Vd in STV stages with their own full / empty barriers (vbar); a consumer releases K(j) once its
 * score products are waited and waits for V(j) only before its P V, so that blocks of 48 or 64 keys
 * fit beside Q and Qd (one ring of two stages of 48 would need 256 KB).
 * Tiles are stored as TMA writes them, in 64-column slabs with the 128-byte swizzle
 * (layout in wgmma.cuh): ceil(D / 64) of them, at D = 96 the second one's last 32 columns
 * zeros (TMA fills columns past D); S = Q K^T takes D / 16 k16 steps, P V one wgmma per two
 * slabs (mma_pv_cols). Rows past Nq / keys past Nk are read as zeros by TMA, keys
 * masked by the shared softmax; causal blocks above the diagonal are not loaded.
 * Interval masks (MASKED): every thread first writes its share of the CTA's rows' key
 * intervals [lo, hi) (mask_row_keys) to shared memory; the producer loads only the key
 * blocks of their union, and the softmax masks per element only the blocks not inside every
 * row's interval (the partial blocks: a window's two edges, a sequence boundary); the full
 * blocks run the unmasked FAST softmax. A boolean dense mask adds its block map's class
 * (common/blockmap.h), read by producer warp 1 a stage ahead of the consumers: a block it leaves
 * full takes no per-element mask; for a partial one warp 1 also copies the rows' bits (one 64-bit
 * word per row and 64 keys) into the stage by cp.async, and its lanes arrive on the stage's
 * `full` when the copies land (cp.async.mbarrier.arrive.noinc); one it empties is skipped: when
 * the CTA has at most LIVE_MAX key blocks, every warp first marks the blocks the map leaves
 * non-empty for its rows (one bit each in shared memory) and every role (TMA thread, warp 1,
 * consumers) walks only those (fwd_next_live): neither loaded nor computed; past LIVE_MAX they
 * are loaded and masked per element. In a masked block each consumer thread combines, once per block, each of
 * its two rows' key interval with the dense words into the row's visibility bits, shifted right
 * by 2 t4, so that the softmax tests one bit at a constant position per element
 * (fwd_softmax_block's BITS). Before (per block, in the consumers): the block map's flags and
 * then the rows' words read from global memory ahead of the scores, two dependent latencies on
 * the ping-pong's critical path, and a run-time shift plus the interval compares per element.
 * The epilogue (common/softmax.cuh) is the mma.sync kernel's: plain stores of o, lse (and
 * od, mu), or the fp32 merge of accumulate mode (ring).
 */
#ifndef JFA_KERNELS_SM90_FWD_CUH_
#define JFA_KERNELS_SM90_FWD_CUH_

#include <numeric>

#include "kernels/common/cta_order.cuh"
#include "kernels/common/softmax.cuh"
#include "kernels/sm90/sm90.h"
#include "kernels/sm90/tma.h"
#include "kernels/sm90/wgmma.cuh"

/* Tile shapes and shared-memory layout of one instantiation. STV (tiles.h; unmasked, not PVLAG nor
   OVERLAP): K (and Kd) and V (and Vd) in two rings, ST stages of K, Kd and STV of V, Vd, each ring
   with its full / empty barriers (the consumers release K once their score products are done, V after
   P V), so that the stages fit more keys; 0: one ring of ST stages of K, V (, Kd, Vd). */
template <int D, int BN, bool JVP, int ST, bool CS = false, bool MASKED = false, int STV = 0, int NC = 0>
struct Sm90Fwd {
  static_assert(D % 16 == 0 && BN % 16 == 0 && BN <= 256, "wgmma k16 steps over D and over the keys");
  static_assert(NC == 0 || (NC == 3 && !CS && !JVP && !MASKED && STV == 0), "NC = 3: the 16-bit forward, unmasked");
  /* NH column slabs of 64 (the last one part zeros when 64 does not divide D); CS (column
     split): both consumers take the same 64 rows; NCW consumer warpgroups (tiles.h NC; 0: 2) */
  static constexpr int NCW = NC ? NC : 2;
  static constexpr int BM = CS ? 64 : 64 * NCW, NH = (D + 63) / 64, NPART = JVP ? 4 : 2, NQ = JVP ? 2 : 1;
  static constexpr int NT = BN / 8, DT = D / 8, NTHREADS = 128 * (NCW + 1);
  static constexpr uint32_t HALF_Q = BM * 128, HALF_K = BN * 128; /* bytes of one 64-column half */
  /* STAGE_BYTES: a stage of the (K) ring; STV: VSTAGE_BYTES a stage of the V ring, from V_RING */
  static constexpr uint32_t Q_BYTES = NH * HALF_Q, STAGE_BYTES = (STV ? NPART / 2 : NPART) * NH * HALF_K;
  static constexpr uint32_t VSTAGE_BYTES = STV ? NPART / 2 * NH * HALF_K : 0;
  static constexpr uint32_t V_RING = NQ * Q_BYTES + ST * STAGE_BYTES; /* from the K ring's start */
  /* where Kd is from K, V and Vd from the V address of mma_pv (one ring: parts K, V, Kd, Vd of a stage) */
  static constexpr uint32_t KD_OFF = (STV ? 1 : 2) * NH * HALF_K, V_OFF = STV ? 0 : NH * HALF_K,
                            VD_OFF = (STV ? 1 : 3) * NH * HALF_K;
  static constexpr uint32_t BAR_OFF = V_RING + STV * VSTAGE_BYTES;
  static constexpr uint32_t MASK_OFF = BAR_OFF + 256; /* MASKED: the rows' key intervals, 2 * BM ints */
  /* MASKED with a dense mask (boolean, or 16-bit additive): the class of each stage's block (int [ST]) */
  static constexpr int NW = BN / 64 > 0 ? BN / 64 : 1;
  static constexpr uint32_t DFL_OFF = MASK_OFF + 2 * BM * sizeof(int);
  /* MASKED, dense mask: which of the CTA's key blocks the mask leaves non-empty (one bit
     per block, LIVE_MAX blocks at most: past that every block is loaded, fwd_next_live) */
  static constexpr int LIVE_MAX = 2048;
  static constexpr uint32_t LIVE_OFF = DFL_OFF + (MASKED ? ST * 4 : 0);
  /* MASKED, then per stage what producer warp 1 copies for a partial block, at DMW_OFF (1024-byte aligned): a boolean
     mask's rows' words of the block (NW = BN / 64 a row, uint64 [ST][BM][NW]), or in their place a 16-bit additive
     mask's tile of the CTA's rows x the block's keys (BIAS_STAGE bytes a stage: BN >= 64 by TMA,
     boxes of 64 keys x BM rows with the 128-byte swizzle; BN = 32 by warp 1's cp.async; common/mask.cuh
     mask_bias_swz_off: the consumers' fragment reads are free of bank conflicts; family.cu takes such masks where
     SMEM_BIAS fits: the launch asks for SMEM_BIAS bytes then, SMEM otherwise). The two share the room: at D = 128
     (forward BN = 128, 2 stages; JVP BN = 64) the tiles fit beside the stages exactly, not beside the words too. */
  static constexpr uint32_t DMW_OFF = (uint32_t)((LIVE_OFF + (MASKED ? LIVE_MAX / 8 : 0) + 1023) / 1024 * 1024);
  static constexpr uint32_t BIAS_OFF = DMW_OFF;
  static constexpr uint32_t BIAS_STAGE = MASKED ? BM * BN * 2 : 0;
  /* barriers, key intervals, classes, live blocks, dense words (or bias tiles), and slack to align the base */
  static constexpr size_t SMEM = DMW_OFF + (MASKED ? ST * BM * NW * 8 : 0) + 1024;
  static constexpr size_t SMEM_BIAS = BIAS_OFF + (size_t)ST * BIAS_STAGE + 1024;
  static_assert(!MASKED || BN % 64 == 0 || 64 % BN == 0, "MASKED: key blocks of whole 64-key words, or parts of one");
  static_assert(DMW_OFF % 1024 == 0 && BIAS_STAGE % 1024 == 0, "the words' cp.async, the bias tiles' 128-byte swizzle");
};

/* Arrives on the mbarrier at bar once this thread's earlier cp.async copies have landed; counts as
   one of the arrivals the barrier was initialised with (.noinc: CPA_ARRIVALS per warp-1 lane).
   Diagnostic builds (-DJFA_SM90_FWD_CPASYNC_WAIT=1 or 2 in the CUDA flags), the same results:
   1: the thread waits for its copies (cp.async.wait_all) and arrives itself (still counted), an
      arrival that compute-sanitizer's racecheck sees as a release by the writing thread;
   2: cp.async.mbarrier.arrive without .noinc (the form of cuda::memcpy_async with a cuda::barrier):
      the barrier's pending count is raised until the copies land, not counted (CPA_ARRIVALS 0).
   compute-sanitizer may not model the asynchronous arrival of .noinc as ordering the copies before
   the consumers' reads of the stage's words (dmw_s): racecheck hazards between this function's
   cp.async writes and those reads that vanish in build 1 (or 2) are such false positives. Build 1
   stalls warp 1 on each partial block's copies, hence not the default; build 2 would not. */
#ifndef JFA_SM90_FWD_CPASYNC_WAIT
#define JFA_SM90_FWD_CPASYNC_WAIT 0
#endif
constexpr int CPA_ARRIVALS = JFA_SM90_FWD_CPASYNC_WAIT == 2 ? 0 : 1;
__device__ __forceinline__ void cp_async_mbar_arrive(uint32_t bar) {
#if JFA_SM90_FWD_CPASYNC_WAIT == 1
  asm volatile("cp.async.wait_all;\n" ::: "memory");
  mbar_arrive(bar);
#elif JFA_SM90_FWD_CPASYNC_WAIT == 2
  asm volatile("cp.async.mbarrier.arrive.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
#else
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
#endif
}

/* The first key block j' >= j (j' < nblk) whose bit is set in live (shared memory; bits past
   nblk are 0), or nblk; j itself when the blocks are not skipped (skip false). */
__device__ __forceinline__ int fwd_next_live(const uint32_t *live, bool skip, int j, int nblk) {
  if (!skip) return j;
  while (j < nblk) {
    const uint32_t w = live[j >> 5] >> (j & 31);
    if (w) return j + __ffs((int)w) - 1;
    j = (j | 31) + 1;
  }
  return nblk;
}

/* S = Q K^T (, Sd = Qd K^T + Q Kd^T) of one warpgroup's 64 rows (qrow: their byte offset in
   a Q half) against the stage at kv: k16 steps along D, 4 per 64-column half. Issues only. */
template <typename T, int D, int BN, bool JVP, int ST, bool CS, int STV = 0, int NC = 0>
__device__ __forceinline__ void mma_scores(float (&s)[1][BN / 8][4], float (&sd)[1][JVP ? BN / 8 : 1][4],
                                           uint32_t sQ, uint32_t sQd, uint32_t qrow, uint32_t kv) {
  typedef Sm90Fwd<D, BN, JVP, ST, CS, false, STV, NC> C;
  const uint32_t sK = kv, sKd = kv + C::KD_OFF;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t qo = (kk >> 2) * C::HALF_Q + qrow + (kk & 3) * 32, ko = (kk >> 2) * C::HALF_K + (kk & 3) * 32;
    wgmma_ss<T, BN, 0>(&s[0][0][0], wg_desc(sQ + qo, 16, 1024), wg_desc(sK + ko, 16, 1024), kk > 0);
  }
  if (JVP) {
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const uint32_t qo = (kk >> 2) * C::HALF_Q + qrow + (kk & 3) * 32, ko = (kk >> 2) * C::HALF_K + (kk & 3) * 32;
      wgmma_ss<T, BN, 0>(&sd[0][0][0], wg_desc(sQd + qo, 16, 1024), wg_desc(sK + ko, 16, 1024), kk > 0);
    }
#pragma unroll
    for (int kk = 0; kk < D / 16; ++kk) {
      const uint32_t qo = (kk >> 2) * C::HALF_Q + qrow + (kk & 3) * 32, ko = (kk >> 2) * C::HALF_K + (kk & 3) * 32;
      wgmma_ss<T, BN, 0>(&sd[0][0][0], wg_desc(sQ + qo, 16, 1024), wg_desc(sKd + ko, 16, 1024), 1);
    }
  }
}

/* acc (+)= P B for the DA columns of V (or Vd) at sv: k16 steps over the keys, 16 rows = 2048
   bytes each, B read N-major in wgmma pieces within whole slabs (sm90_mm_cols, wgmma.cuh: 128
   columns over two slabs, 64, or 32 of one; at D = 96 without tiles.h PAD 64 + 32; with PAD, D = 96
   runs DA = 128, the last 32 columns zeros from TMA). Issues only. */
template <typename T, int DA, int BN>
__device__ __forceinline__ void mma_pv_cols(float *acc, const uint32_t (&ap)[BN / 16][4], uint32_t sv) {
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) sm90_mm_cols<T, 0, DA, true>(acc, ap[kk], 0, sv + kk * 2048, BN * 128, 1);
}

/* P (and, JVP, P (Sd - c)) packed into the 16-bit A fragments of the k16 steps over the block's keys (the consumers'
   loop without PVLAG, here and in jvp_persist.cuh) */
template <typename T, int BN, bool JVP>
__device__ __forceinline__ void fwd_pack_p(const float (&s)[1][BN / 8][4], const float (&sd)[1][JVP ? BN / 8 : 1][4],
                                           uint32_t (&ap)[BN / 16][4], uint32_t (&apd)[JVP ? BN / 16 : 1][4]) {
#pragma unroll
  for (int kk = 0; kk < BN / 16; ++kk) {
    ap[kk][0] = pack2<T>(s[0][2 * kk][0], s[0][2 * kk][1]);
    ap[kk][1] = pack2<T>(s[0][2 * kk][2], s[0][2 * kk][3]);
    ap[kk][2] = pack2<T>(s[0][2 * kk + 1][0], s[0][2 * kk + 1][1]);
    ap[kk][3] = pack2<T>(s[0][2 * kk + 1][2], s[0][2 * kk + 1][3]);
    if (JVP) {
      const int jk = JVP ? kk : 0, n0 = JVP ? 2 * kk : 0, n1 = JVP ? 2 * kk + 1 : 0;
      apd[jk][0] = pack2<T>(sd[0][n0][0], sd[0][n0][1]);
      apd[jk][1] = pack2<T>(sd[0][n0][2], sd[0][n0][3]);
      apd[jk][2] = pack2<T>(sd[0][n1][0], sd[0][n1][1]);
      apd[jk][3] = pack2<T>(sd[0][n1][2], sd[0][n1][3]);
    }
  }
}

/* PVLAG, once no P V is in flight: O *= alpha (the running max's rescale of row pair x & 2) and the
   probabilities s packed into the 16-bit A fragments ap (the forward's and the persistent forward's
   consumers). Every block: skipping it where alpha is 1 (softmax.cuh LEAN) lost 1-10% (tenth session). */
template <typename T, int DT, int NT, int BN>
__device__ __forceinline__ void fwd_rescale_pack(float (&o)[1][DT][4], float (&s)[1][NT][4],
                                                 const float (&alpha)[1][1][4], uint32_t (&ap)[BN / 16][4]) {
  wg_reg_fence<DT * 4>(&o[0][0][0]);
  wg_reg_fence<NT * 4>(&s[0][0][0]);
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) o[0][dt][e] *= alpha[0][0][e & 2];
  wg_acc_to_a<T, BN / 16>(ap, s[0]);
}

/* O += P V (, U += P (Sd - c) V + P Vd) against the stage at kv, for the columns of V from
   slab s0 on: DA of them, or (CS, second consumer at D = 192) the last 64. Issues only.
   CS at D = 192 with the even split (DA = 96, tiles.h CSE): consumer s0 / 2 takes the columns
   96 s0 / 2 .. + 95 as one wgmma of 64 columns (a whole slab: 0 or 2, from s0) into acc columns
   0..63 and one of 32 (half of slab 1: its first or its second 32 columns) into 64..95, each a
   canonical MN-major layout (as the backward's sm90_mm_cols pieces at D = 192); both consumers
   issue the same instructions (no branch) on addresses that depend on s0. */
template <typename T, int D, int DA, int BN, bool JVP, int ST, bool CS, int STV = 0>
__device__ __forceinline__ void mma_pv(float (&o)[1][DA / 8][4], float (&u)[1][JVP ? DA / 8 : 1][4],
                                       const uint32_t (&ap)[BN / 16][4], const uint32_t (&apd)[JVP ? BN / 16 : 1][4],
                                       uint32_t kv, int s0) {
  typedef Sm90Fwd<D, BN, JVP, ST, CS, false, STV> C;
  const uint32_t sV = kv + C::V_OFF + s0 * C::HALF_K, sVd = kv + C::VD_OFF + s0 * C::HALF_K;
  constexpr int DR = CS ? D - DA : DA; /* the second consumer's columns under CS */
  static_assert(!CS || (DA == 128 && (DR == 128 || DR == 64)) || (D == 192 && DA == 96),
                "column split: 128 columns, then 128 or 64; or 96 + 96");
  if constexpr (CS && DA == 96) {
    const uint32_t v0 = kv + C::V_OFF, vd0 = kv + C::VD_OFF;
    const uint32_t pa = (uint32_t)s0 * C::HALF_K, pb = C::HALF_K + (uint32_t)s0 * 32; /* the pieces' bytes */
    auto cols = [&](float *acc, const uint32_t(&a)[BN / 16][4], uint32_t sv) {
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        wgmma_rs<T, 64, 1>(acc, a[kk], wg_desc(sv + pa + kk * 2048, C::HALF_K, 1024), 1);
        wgmma_rs<T, 32, 1>(acc + 32, a[kk], wg_desc(sv + pb + kk * 2048, C::HALF_K, 1024), 1);
      }
    };
    cols(&o[0][0][0], ap, v0);
    if constexpr (JVP) {
      cols(&u[0][0][0], apd, v0);
      cols(&u[0][0][0], ap, vd0);
    }
  } else if (!CS || DR == DA || s0 == 0) {
    /* CS at D = 192, 128 + 64 (s0: 0 or 2, warp-uniform for the compiler): each path has its own
       wgmma fence, so that ptxas need not inject one (C7519) where the paths' accumulators differ */
    if constexpr (CS && DR != DA) wg_fence();
    mma_pv_cols<T, DA, BN>(&o[0][0][0], ap, sV);
    if constexpr (JVP) {
      mma_pv_cols<T, DA, BN>(&u[0][0][0], apd, sV);
      mma_pv_cols<T, DA, BN>(&u[0][0][0], ap, sVd);
    }
  } else {
    wg_fence();
    mma_pv_cols<T, DR, BN>(&o[0][0][0], ap, sV);
    if constexpr (JVP) {
      mma_pv_cols<T, DR, BN>(&u[0][0][0], apd, sV);
      mma_pv_cols<T, DR, BN>(&u[0][0][0], ap, sVd);
    }
  }
}

/* PVLAG: a last P V alone (the forward's last block; the persistent forward's last block of a tile):
   waits for V stage sp's full barrier (vbar + 8 sp, round parity ph), issues P V against the stage
   (skv + sp stage_bytes), waits for it, and releases the stage (this warp's arrival on vbar + 8 (ST + sp)). */
template <typename T, int D, int DA, int BN, bool JVP, int ST, bool CS, typename I>
__device__ __forceinline__ void fwd_last_pv(float (&o)[1][DA / 8][4], float (&u)[1][JVP ? DA / 8 : 1][4],
                                            uint32_t (&ap)[BN / 16][4], const uint32_t (&apd)[JVP ? BN / 16 : 1][4],
                                            uint32_t vbar, I sp, uint32_t ph, uint32_t skv, uint32_t stage_bytes,
                                            int lane) {
  mbar_wait(vbar + 8 * sp, ph);
  wg_reg_fence<DA / 8 * 4>(&o[0][0][0]);
  wg_reg_fence_u<BN / 16 * 4>(&ap[0][0]);
  wg_fence();
  mma_pv<T, D, DA, BN, JVP, ST, CS>(o, u, ap, apd, skv + sp * stage_bytes, 0);
  wg_commit();
  wg_wait<0>();
  wg_reg_fence<DA / 8 * 4>(&o[0][0][0]);
  __syncwarp();
  if (lane == 0) mbar_arrive(vbar + 8 * (ST + sp));
}

/* The ping-pong's next turn: the named barrier (1 ..) on which consumer warpgroup wg of NCW arrives after
   issuing its products, the one its successor waits on: two consumers 2 - wg (1 + wg waits), three a
   round robin 0 -> 1 -> 2 -> 0 (consumer c waits on 1 + c) */
template <int NCW> __device__ __forceinline__ int pp_next_bar(int wg) {
  if constexpr (NCW == 2) return 2 - wg;
  else return wg == NCW - 1 ? 1 : wg + 2;
}

/* Three consumers (CSKIP: fwd_persist.cuh's persistent kernel, and this file's NC = 3 kernel in the PVLAG order): the
   key blocks [x, y) of a tile's nblk (from jb0) that the 64 rows m0 + 64 wg.. of consumer warpgroup wg may see; every
   other block is masked for each of its rows, so the warpgroup skips its products (the same bits: such a block leaves
   a row's running max, sum and O as they are). Unmasked kernels: fwd_tile_keys' range of the 64 rows (none past Nq);
   MASKED (the persistent kernel): the union of the rows' intervals in the tile's ring entry (s_lo / s_hi, CTA-local
   rows; an empty interval adds nothing), by a warp reduction. */
template <int BN, bool MASKED>
__device__ __forceinline__ int2 fwd_consumer_blocks(const FwdArgs &a, int64_t m0, int wg, int jb0, int nblk,
                                                    const int *s_lo, const int *s_hi, int lane) {
  int64_t lo = 0, hi = 0;
  if constexpr (MASKED) {
    int l = 0x7fffffff, h = -0x7fffffff;
    for (int r = 64 * wg + lane; r < 64 * wg + 64; r += 32) {
      const int rl = s_lo[r], rh = s_hi[r];
      if (rh > rl) {
        l = min(l, rl);
        h = max(h, rh);
      }
    }
#pragma unroll
    for (int x = 16; x; x >>= 1) {
      l = min(l, __shfl_xor_sync(0xffffffffu, l, x));
      h = max(h, __shfl_xor_sync(0xffffffffu, h, x));
    }
    if (h > l) lo = l, hi = h;
  } else {
    const int64_t r0 = m0 + 64 * wg;
    if (r0 < a.p.Nq) fwd_tile_keys<64>(a, r0, &lo, &hi);
  }
  int x = 0, y = 0;
  if (hi > lo) {
    x = max(0, (int)(lo / BN) - jb0);
    y = max(x, min(nblk, (int)((hi + BN - 1) / BN) - jb0));
  }
  /* from lane 0: bounds the compiler knows to be warp-uniform (a branch on a value it cannot prove so puts the
     wgmma in a divergent path, which ptxas serialises: C7518) */
  return make_int2(__shfl_sync(0xffffffffu, x, 0), __shfl_sync(0xffffffffu, y, 0));
}

/* DA: the accumulators' columns, D or (tiles.h, PAD) D rounded up to whole 64-column slabs, or
   (CS, the column split of the JVP at D = 192 / 256) 128: both consumers take the CTA's 64
   rows, the first O's and U's columns 0..127, the second the rest; or (tiles.h CSE, D = 192) 96:
   the first columns 0..95, the second 96..191 (mma_pv). PVLAG (tiles.h; 16-bit forward:
   unmasked and causal calls, and MASKED ones in the rows with PVLAGM): the P V of block j issued after
   the S of block j + 1 (the consumers' PVLAG loop). EXPF (tiles.h; 16-bit forward): of each 16 probabilities
   of a row, EXPF on the FMA pipe (fwd_softmax_block, common/exp2_poly.h). NC (tiles.h; 0: 2): consumer
   warpgroups; 3 (16-bit forward, unmasked and causal): BM = 192 rows, 512 threads, the producer at 24
   registers and the consumers at 160 (128 x 24 + 384 x 160 = 64512 of 65536), the ping-pong a round robin */
template <typename T, int D, int DA, int BN, bool JVP, int ST, bool OVERLAP, bool MASKED, bool CS, bool PVLAG = false,
          int STV = 0, int EXPF = 0, int NC = 0, bool MPASS = false, bool LEANCS = false>
__global__ void __launch_bounds__(NC ? 128 * (NC + 1) : 384, 1) fwd_sm90a_kernel(const __grid_constant__ FwdArgs a,
                                                                              const __grid_constant__ Sm90Maps tm,
                                                                              int64_t hg, int cskip) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  typedef Sm90Fwd<D, BN, JVP, ST, CS, MASKED, STV, NC> C;
  constexpr int NCW = C::NCW;
  /* three consumers in the PVLAG order (D = 64's and D = 96's unmasked and causal calls): each warpgroup computes only
     the key blocks its 64 rows may see (as fwd_persist.cuh's CSKIP; cskip: the launch's JFA_SM90_FWD_CSKIP) */
  constexpr bool CSKIP = NC == 3 && PVLAG && !MASKED && !JVP;
  static_assert(NC == 0 || (NC == 3 && !EXPF), "NC = 3: without EXPF (and unmasked, not the JVP: Sm90Fwd)");
  constexpr int NT = C::NT, DT = DA / 8, NH = C::NH, NW = C::NW;
  static_assert(CS ? (DA == 128 || 2 * DA == D) : (DA == D || DA == NH * 64),
                "accumulator columns: D, whole slabs, or 128 or D / 2 (CS)");
  static_assert(!MASKED || (BN & (BN - 1)) == 0, "masked blocks of a power of two keys (the dense mask's words)");
  static_assert(!PVLAG || (!JVP && !OVERLAP && !CS), "PVLAG: the 16-bit forward only");
  static_assert((4 * ST + 1) * 8 <= C::MASK_OFF - C::BAR_OFF, "PVLAG: the V barriers after bar_q");
  static_assert((2 * ST + 2 * STV + 1) * 8 <= C::MASK_OFF - C::BAR_OFF, "STV: the V ring's barriers after bar_q");
  static_assert(!STV || (!MASKED && !PVLAG && !OVERLAP), "the two rings (STV): unmasked, S, softmax, P V per block");
  static_assert(!EXPF || !JVP, "EXPF: the forward only");
  static_assert(!LEANCS || (JVP && CS && !MASKED), "LEANCS: the column split's unmasked JVP");
  extern __shared__ __align__(1024) unsigned char smraw[];
  const uint32_t sbase = (smem_u32(smraw) + 1023u) & ~1023u;
  const uint32_t sQ = sbase, sQd = sbase + C::Q_BYTES, sKV = sbase + C::NQ * C::Q_BYTES;
  const uint32_t bar = sbase + C::BAR_OFF; /* full[ST], empty[ST], q */
  const uint32_t bar_q = bar + 16 * ST;
  /* PVLAG: the stages' V halves have their own barriers, vfull[ST] and vempty[ST] (full and empty
     then count K's loads and releases); STV: the V ring's, vfull[STV] and vempty[STV] */
  const uint32_t vbar = bar_q + 8;
  const uint32_t sVR = sbase + C::V_RING; /* STV: the V ring */

  const jfa_problem_t &p = a.p;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  /* longest (causal) blocks first: x counts the query tiles from the last; causal calls in groups of hg heads
     (common/cta_order.cuh) */
  const cta_xyz_t cta = cta_grouped(hg, 1);
  const int64_t b = cta.z, h = cta.y, hk = h / (p.Hq / p.Hkv);
  const int64_t m0 = (int64_t)(gridDim.x - 1 - cta.x) * C::BM;
  /* the keys of the CTA's rows: causal, or a band's (fwd_tile_keys); MASKED from the rows' intervals below */
  int64_t kbeg, kend;
  fwd_tile_keys<C::BM, !MASKED>(a, m0, &kbeg, &kend);
  /* MASKED (windows, packed sequences: interval masks only, family.cu): the rows' key
     intervals in shared memory, the CTA's key blocks jb0.. from their union, and the keys
     inside every row's interval (blocks there take no per-element mask) */
  int *s_lo = (int *)(smraw + (sbase - smem_u32(smraw)) + C::MASK_OFF), *s_hi = s_lo + C::BM;
  /* MASKED with a boolean dense mask: the stages' rows' words and block classes (producer warp 1) */
  const uint64_t *dmw_s = (const uint64_t *)(smraw + (sbase - smem_u32(smraw)) + C::DMW_OFF);
  int *dfl_s = (int *)(smraw + (sbase - smem_u32(smraw)) + C::DFL_OFF);
  const bool dense = MASKED && a.mk.bm_bits != nullptr;
  /* MASKED with a 16-bit additive dense mask (family.cu): its block map's classes as a boolean mask's, a partial
     block's biases staged by warp 1 into the stage's bias tile (BIAS_OFF) instead of words */
  const bool biasd = MASKED && mask_bias16(a.mk);
  const bool dmap = dense || biasd;
  if (MASKED) mask_rows_to_smem(a.mk, m0, C::BM, C::NTHREADS, s_lo, s_hi);
  int kin_lo = 0, kin_hi = 0;

  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < ST; ++s) {
      /* the TMA thread, and with a dense mask warp 1's lanes (their class) and, CPA_ARRIVALS, the
         arrivals of their copies (cp_async_mbar_arrive) */
      mbar_init(bar + 8 * s, dmap ? 1 + 32 * (1 + CPA_ARRIVALS) : 1);
      mbar_init(bar + 8 * (ST + s), 4 * NCW); /* one arrival per consumer warp */
    }
    mbar_init(bar_q, 1);
    if (PVLAG) {
#pragma unroll
      for (int s = 0; s < ST; ++s) {
        mbar_init(vbar + 8 * s, 1);
        mbar_init(vbar + 8 * (ST + s), 4 * NCW);
      }
    }
    if (STV) {
#pragma unroll
      for (int s = 0; s < STV; ++s) {
        mbar_init(vbar + 8 * s, 1);
        mbar_init(vbar + 8 * (STV + s), 8);
      }
    }
    mbar_fence_init();
  }
  __syncthreads();
  if (MASKED) {
    const CtaKeys ck = mask_cta_keys(a.mk, m0, C::BM, s_lo, s_hi);
    kbeg = ck.kbeg;
    kend = ck.kend;
    kin_lo = ck.kin_lo;
    kin_hi = ck.kin_hi;
  }
  /* key blocks jb0 .. jb0 + nblk - 1; block j of the loops below is key block jb0 + j */
  const int jb0 = (int)(kbeg / BN);
  const int nblk = (int)((kend + BN - 1) / BN) - jb0;
  /* a boolean dense mask's empty blocks are skipped (not loaded, not computed): every warp marks
     the blocks the block map leaves non-empty for the CTA's rows (one bit each, a ballot per 32
     blocks), then every role walks the nlive marked blocks (fwd_next_live): iteration i (stage
     i % ST) is block jl. More than LIVE_MAX blocks: none skipped (empty ones masked per element). */
  uint32_t *live_s = (uint32_t *)(smraw + (sbase - smem_u32(smraw)) + C::LIVE_OFF);
  const bool skip = dmap && nblk <= C::LIVE_MAX;
  int nlive = nblk;
  if (skip) {
    const int64_t r1 = min(m0 + C::BM, p.Nq);
    for (int base = warp * 32; base < nblk; base += C::NTHREADS) {
      const int j = base + lane;
      bool lv = false;
      if (j < nblk) {
        const int64_t k0 = (int64_t)(jb0 + j) * BN;
        lv = !bmap_empty(mask_map_flags(a.mk, b, h, m0, r1, k0, min(k0 + BN, p.Nk)));
      }
      const uint32_t bal = __ballot_sync(0xffffffffu, lv);
      if (lane == 0) live_s[base >> 5] = bal;
    }
    __syncthreads();
    nlive = 0;
    for (int w = 0; w < (nblk + 31) / 32; ++w) nlive += __popc(live_s[w]);
  }

  if (warp < 4) {
    /* producer warpgroup */
    /* MASKED: 40 (warp 1's dense-mask loop and the live-block walk spill at 24, its bias copies at 32; 128 x 40 +
       256 x 232 <= 384 x 168, the launch's count) */
    if constexpr (MASKED) asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
    else asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
    if (warp == 0 && lane == 0 && nlive > 0) {
      const CUtensorMap *mk[4] = {&tm.k, &tm.v, &tm.kd, &tm.vd};
      mbar_arrive_expect_tx(bar_q, C::NQ * C::Q_BYTES);
#pragma unroll
      for (int hh = 0; hh < NH; ++hh) {
        tma_load_4d(sQ + hh * C::HALF_Q, &tm.q, bar_q, hh * 64, (int)m0, (int)h, (int)b);
        if (JVP) tma_load_4d(sQd + hh * C::HALF_Q, &tm.qd, bar_q, hh * 64, (int)m0, (int)h, (int)b);
      }
      int st = 0;
      uint32_t ph = 0; /* parity of the stages' current round */
      if constexpr (PVLAG) {
        /* K and V of block i (MASKED: the i-th live block jl) into stage i % ST, each when the
           consumers released its half */
        for (int i = 0, jl = fwd_next_live(live_s, skip, 0, nblk); i < nlive;
             ++i, jl = fwd_next_live(live_s, skip, jl + 1, nblk)) {
          const uint32_t dst = sKV + st * C::STAGE_BYTES;
          const int kblk = jb0 + (MASKED ? jl : i);
          if (i >= ST) mbar_wait(bar + 8 * (ST + st), ph ^ 1u);
          mbar_arrive_expect_tx(bar + 8 * st, NH * C::HALF_K);
#pragma unroll
          for (int hh = 0; hh < NH; ++hh)
            tma_load_4d(dst + hh * C::HALF_K, &tm.k, bar + 8 * st, hh * 64, kblk * BN, (int)hk, (int)b);
          if (i >= ST) mbar_wait(vbar + 8 * (ST + st), ph ^ 1u);
          mbar_arrive_expect_tx(vbar + 8 * st, NH * C::HALF_K);
#pragma unroll
          for (int hh = 0; hh < NH; ++hh)
            tma_load_4d(dst + (NH + hh) * C::HALF_K, &tm.v, vbar + 8 * st, hh * 64, kblk * BN, (int)hk, (int)b);
          if (++st == ST) {
            st = 0;
            ph ^= 1u;
          }
        }
      }
      if constexpr (STV > 0) {
        /* the two rings: K, Kd of block i into K stage i % ST, then V, Vd into V stage i % STV, each
           once the consumers released it (V(i - STV)'s release comes before K(i - ST)'s in every
           consumer: the order of the waits cannot stall a load another consumer waits for) */
        for (int i = 0; i < nlive; ++i) {
          const int kblk = jb0 + i, sv = i % STV;
          const uint32_t dst = sKV + st * C::STAGE_BYTES, vdst = sVR + sv * C::VSTAGE_BYTES;
          if (i >= ST) mbar_wait(bar + 8 * (ST + st), ph ^ 1u);
          mbar_arrive_expect_tx(bar + 8 * st, C::STAGE_BYTES);
#pragma unroll
          for (int part = 0; part < C::NPART / 2; ++part)
#pragma unroll
            for (int hh = 0; hh < NH; ++hh)
              tma_load_4d(dst + (part * NH + hh) * C::HALF_K, mk[2 * part], bar + 8 * st, hh * 64, kblk * BN,
                          (int)hk, (int)b);
          if (i >= STV) mbar_wait(vbar + 8 * (STV + sv), (uint32_t)(((i / STV) & 1) ^ 1));
          mbar_arrive_expect_tx(vbar + 8 * sv, C::VSTAGE_BYTES);
#pragma unroll
          for (int part = 0; part < C::NPART / 2; ++part)
#pragma unroll
            for (int hh = 0; hh < NH; ++hh)
              tma_load_4d(vdst + (part * NH + hh) * C::HALF_K, mk[2 * part + 1], vbar + 8 * sv, hh * 64, kblk * BN,
                          (int)hk, (int)b);
          if (++st == ST) {
            st = 0;
            ph ^= 1u;
          }
        }
      }
      for (int i = 0, j = fwd_next_live(live_s, skip, 0, nblk); !PVLAG && !STV && i < nlive;
           ++i, j = fwd_next_live(live_s, skip, j + 1, nblk)) {
        if (i >= ST) mbar_wait(bar + 8 * (ST + st), ph ^ 1u); /* the consumers released the stage */
        const uint32_t full = bar + 8 * st, dst = sKV + st * C::STAGE_BYTES;
        mbar_arrive_expect_tx(full, C::STAGE_BYTES);
#pragma unroll
        for (int part = 0; part < C::NPART; ++part)
#pragma unroll
          for (int hh = 0; hh < NH; ++hh)
            tma_load_4d(dst + (part * NH + hh) * C::HALF_K, mk[part], full, hh * 64, (jb0 + j) * BN, (int)hk,
                        (int)b);
        if (++st == ST) {
          st = 0;
          ph ^= 1u;
        }
      }
    } else if (MASKED && dmap && warp == 1 && nlive > 0) {
      /* warp 1 (dense mask): per block, a stage ahead of the consumers, the block map's class of the CTA's rows x
         the block's keys and, for a partial block, a 16-bit additive mask's tile (TMA; at 32 keys a block cp.async)
         or a boolean mask's rows' words (NW per row, cp.async) into the stage (a boolean mask's rows past Nq left as
         they are: their key intervals are empty, so the consumers' bits are 0 there all the same; a bias tile's rows
         past Nq zeros, by TMA's fill or by the cp.async copies: mask_bias_tile_swz_warp); its lanes arrive on the
         stage's `full` when their copies land and after the class is written. */
      /* 32-bit state where it fits (the family takes masks with Nq, Nk < 2^30; the producer has 24
         registers) */
      const MaskDev &m = a.mk;
      const int64_t slice = b * m.bm_sb + h * m.bm_sh;
      const int nrows = (int)(min(m0 + C::BM, p.Nq) - m0);
      /* the flags of the block's tiles, OR-ed over the lanes (mask_map_flags): lane l reads row tile
         m0 / 64 + (l >> 1) (if it has rows) and key tile kt0 + (l & 1) (if < NW and a tile of keys):
         kt0 < flim */
      const int frt = lane >> 1, fkt = lane & 1;
      const int flim = (frt < C::BM / BMAP_TILE && frt * BMAP_TILE < nrows && fkt < NW) ? (int)m.bm_kt - fkt : 0;
      const unsigned char *fmap = mask_flags_at(m, slice, m0 / BMAP_TILE + frt) + fkt;
      /* this lane's copies: word lane % NW of rows lane / NW + i 32 / NW (rows < nrows; a mask broadcast over its
         rows reads its one row's words for every row: bm_rw 0) */
      const int nlim = nrows - lane / NW, kstep = (32 / NW) * (int)m.bm_rw; /* words: < 2^25 */
      const uint64_t *rows = mask_words_at(m, slice, m0 + lane / NW) + lane % NW;
      int st = 0;
      uint32_t ph = 0; /* parity of the stages' current round */
      for (int i = 0, j = fwd_next_live(live_s, skip, 0, nblk); i < nlive;
           ++i, j = fwd_next_live(live_s, skip, j + 1, nblk)) {
        /* the class first (global memory), then the stage's release, then the copies into it */
        const int kt0 = (jb0 + j) * BN / BMAP_TILE; /* BN < 64 (the JVP's CS): the word holding the block */
        const int fl = (int)__reduce_or_sync(0xffffffffu, kt0 < flim ? (unsigned)fmap[kt0] : 0u);
        if (i >= ST) mbar_wait(bar + 8 * (ST + st), ph ^ 1u); /* the consumers released the stage */
        if (bmap_partial(fl) && biasd) {
          const uint32_t dst = sbase + C::BIAS_OFF + st * C::BIAS_STAGE;
          if constexpr (MASKED && BN >= 64) {
            /* the tile by TMA, a box of 64 keys x BM rows a slab (rows past Nq, keys past Nk: zeros), counted on the
               stage's `full` (its bytes expected before this lane's arrival below); broadcast axes at 0 */
            if (lane == 0) {
              mbar_expect_tx(bar + 8 * st, C::BIAS_STAGE);
#pragma unroll
              for (int sl = 0; sl < BN / 64; ++sl)
                tma_load_4d(dst + sl * C::BM * 128, &tm.bias, bar + 8 * st, (jb0 + j) * BN + 64 * sl, (int)m0,
                            m.dm.sh ? (int)h : 0, m.dm.sb ? (int)b : 0);
            }
          } else if constexpr (MASKED) {
            mask_bias_tile_swz_warp<BN>(dst, m, b, h, m0, nrows, C::BM, (int64_t)(jb0 + j) * BN, lane);
          }
        } else if (bmap_partial(fl)) {
          const uint64_t *src = rows + kt0;
          uint32_t sa = sbase + C::DMW_OFF + (uint32_t)(st * C::BM * NW + lane) * 8;
#pragma unroll 1
          for (int r = 0; r < nlim; r += 32 / NW, src += kstep, sa += 256)
            asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(sa), "l"(src) : "memory");
        }
        cp_async_mbar_arrive(bar + 8 * st);
        if (lane == 0) dfl_s[st] = fl;
        mbar_arrive(bar + 8 * st);
        if (++st == ST) {
          st = 0;
          ph ^= 1u;
        }
      }
    }
  } else {
    /* consumer warpgroups: 64 rows each, 16 per warp */
    /* MASKED: 232, so that 32 + 2 x 232 <= 3 x 168, the launch's count; NC = 3: 160 (24 + 3 x 160 <= 4 x 128) */
    if constexpr (NCW == 3) asm volatile("setmaxnreg.inc.sync.aligned.u32 160;\n" ::: "memory");
    else if constexpr (MASKED) asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    else asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
    const int cw = warp - 4, wg = cw >> 2;
    const int wrow = (CS ? 0 : wg * 64) + (cw & 3) * 16; /* CTA-local first row of this warp */
    const int g = lane >> 2, t4 = lane & 3;
    /* CS at D = 192: which columns (128 or 64) this warpgroup takes, in a register the compiler knows
       to be warp-uniform (a shuffle from lane 0): a branch on wg itself puts wgmma in a divergent path,
       where ptxas serialises every wgmma of the kernel (C7520) */
    int wgu = wg;
    if constexpr (CS && D != 2 * DA) wgu = __shfl_sync(0xffffffffu, wg, 0);
    float o[1][DT][4];
    float u[1][JVP ? DT : 1][4];
    float mrow[1][2], lrow[1][2], nrow[1][2], crow[1][2];
    fwd_init_state<1, DT, JVP>(o, u, mrow, lrow, nrow, crow);
    const uint32_t qrow = CS ? 0u : (uint32_t)wg * 64 * 128; /* this warpgroup's rows inside a Q half */
    if (nlive > 0) mbar_wait(bar_q, 0);

    /* OVERLAP (forward, D = 64): the S of block j + 1 is issued before the softmax of block j,
       into sn, so that the tensor cores compute it while this warpgroup runs the softmax. */
    /* the JVP's OVERLAP (second S and Sd accumulators, sn and sdn): only the column split's even halves
       (D = 192 CSE: O 48 + U 48 + S, Sd, sn, sdn 4 x 16 + P 8 + 8 at BN = 32; D = 256: O and U 64 + 64)
       leave the registers for them (the masked kernels run variant 0's order: sm90_fwd_variant) */
    static_assert(!(OVERLAP && JVP) || (CS && 2 * DA == D), "the JVP has no registers for a second score accumulator");
    float s[1][NT][4], sn[1][OVERLAP ? NT : 1][4];
    float sd[1][JVP ? NT : 1][4], sdn[1][OVERLAP && JVP ? NT : 1][4];
    uint32_t ap[BN / 16][4], apd[JVP ? BN / 16 : 1][4];
    /* MASKED: the visibility bits of this lane's two rows in the block (key intervals and boolean
       dense mask combined; fwd_softmax_block's BITS) */
    uint64_t dw[1][2][NT > 8 ? NT / 8 : 1];
    /* the mask of the key block kb0.. in stage st and (MASKED) this lane's rows' visibility bits into
       dw: the key intervals (when the block is not inside every row's) and the boolean dense mask's
       class from producer warp 1 (full: no per-element mask; partial: the rows' words it copied into
       the stage; empty: every key masked: the block is loaded and computed all the same). The class
       and words live in the stage: read before the consumers release it (PVLAG: its K half), after
       which warp 1 overwrites them with those of block i + ST. */
    auto block_bits = [&](int st, int64_t kb0) {
      BlockMask bm = fwd_block_mask<BN, MASKED, C::BM>(a, m0, kb0, kin_lo, kin_hi);
      if constexpr (MASKED) {
        const int fl = dmap ? dfl_s[st] : BMAP_VISIBLE;
        /* the per-element visibility test where the intervals cut the block, a boolean mask's block is not full or
           the block is empty; an additive mask's partial block takes only the bias pass (the softmax's, on
           bm.bias_s) where the intervals hold every key (before the nineteenth session the visibility pass too:
           H200, D = 64 bias lane forward 150 TFLOP/s with it) */
        /* (the D = 256 forward keeps the visibility pass for them: ptxas spilled 12 bytes of its masked consumers without) */
        constexpr bool BIAS_IVL = !(D == 256 && !JVP);
        bm.need = bm.need || (biasd && BIAS_IVL ? bmap_empty(fl) : fl != BMAP_VISIBLE);
        /* an additive mask's partial block: its tile in the stage (the softmax's bias pass reads it) */
        if (biasd && bmap_partial(fl)) {
          bm.bias_s = sbase + C::BIAS_OFF + st * C::BIAS_STAGE;
          bm.bias_slab = C::BM * 128;
        }
        if (bm.need) {
#pragma unroll
          for (int rr = 0; rr < 2; ++rr) {
            const int rl = wrow + g + rr * 8;
            const int rlo = s_lo[rl] - (int)kb0, rhi = s_hi[rl] - (int)kb0;
#pragma unroll
            for (int k = 0; k < NW; ++k) {
              uint64_t x = interval_word(rlo, rhi, k);
              /* BN < 64: the block is part of its word (bits from key kb0 % 64) */
              if (bmap_partial(fl) && dense) x &= dmw_s[(st * C::BM + rl) * NW + k] >> (BN < 64 ? (int)(kb0 & 63) : 0);
              else if (bmap_empty(fl)) x = 0;
              dw[0][rr][NT > 8 ? k : 0] = x >> (2 * t4);
            }
          }
        }
      }
      return bm;
    };
    /* issues the scores of block i (ping-pong: the consumers take turns issuing, in a round robin of NCW;
       each waits on barrier 1 + wg, the arriving warpgroup and it 256 threads, and passes the turn on
       (pp_next_bar) except the last one after the last block) */
    auto issue_scores = [&](int i, float (&dst)[1][NT][4], float (&dstd)[1][JVP ? NT : 1][4]) {
      mbar_wait(bar + 8 * (i % ST), (uint32_t)((i / ST) & 1));
      named_bar_sync(1 + wg, 256);
      wg_fence();
      mma_scores<T, D, BN, JVP, ST, CS, STV, NC>(dst, dstd, sQ, sQd, qrow, sKV + (i % ST) * C::STAGE_BYTES);
      wg_commit();
      if (!(wg == NCW - 1 && i == nlive - 1)) named_bar_arrive(pp_next_bar<NCW>(wg), 256);
    };
    /* warpgroup 0 takes the tensor cores first */
    if (wg == NCW - 1 && nlive > 0) named_bar_arrive(1, 256);
    if (OVERLAP && nlive > 0) {
      issue_scores(0, s, sd);
      wg_wait<0>();
      wg_reg_fence<NT * 4>(&s[0][0][0]);
      if (JVP) wg_reg_fence<NT * 4>(&sd[0][0][0]);
    }
    if constexpr (PVLAG) {
      /* PVLAG (FlashAttention-3's order): iteration i issues S(i) and then P(i - 1) V(i - 1) (one
         ping-pong turn, two commit groups), waits for S(i) only (wait_group 1) and releases K(i),
         runs the softmax of block i while the tensor cores run P(i - 1) V(i - 1), then waits for
         that (wait_group 0), releases V(i - 1), rescales O by the block's alpha and packs P(i) into
         ap, the A operand of the next iteration's P V. Live across the softmax: O (in flight), S,
         and P(i - 1) (in flight, 16-bit packed): 64 + 64 + 32 registers a thread at D = BN = 128.
         The arithmetic is variant 0's, in the same order (O *= alpha(i), then O += P(i) V(i)): the
         softmax gets a one-column stand-in for O, which it scales by alpha (1 * alpha = alpha).
         Block 0 is peeled (no P V before it) so that every wgmma wait of the loop is unconditional:
         ptxas serialises the wgmma (C7514) when the groups in flight depend on a branch.
         MASKED: iteration i takes the i-th live block (fwd_next_live, as the producer's TMA thread and
         warp 1); its mask and visibility bits (block_bits: the interval bits and, with a dense mask,
         the class dfl_s and words dmw_s that warp 1 put in stage i % ST, counted on K's `full`) are
         read while S(i) and P(i - 1) V(i - 1) run, before K(i)'s release (its `empty`, which warp 1
         waits for before it overwrites them); V(i) stays held until P(i) V(i) is waited. The softmax
         is variant 0's masked one (BITS), so fully masked rows keep m = -inf, alpha = 0, P = 0: O = 0,
         lse = -inf, and a NaN score still gives a NaN row. */
      float alpha[1][1][4];
      /* waits for K(i) and V(i - 1) (PV) and issues S(i) and P(i - 1) V(i - 1) in this consumer's turn */
      auto issue = [&](int i, bool pv) {
        const int st = i % ST, sp = (i + ST - 1) % ST;
        mbar_wait(bar + 8 * st, (uint32_t)((i / ST) & 1));
        if (pv) mbar_wait(vbar + 8 * sp, (uint32_t)(((i - 1) / ST) & 1));
        named_bar_sync(1 + wg, 256);
        /* O's rescale and P's packing (previous iteration) before the wgmma fence */
        wg_reg_fence<DT * 4>(&o[0][0][0]);
        wg_reg_fence_u<BN / 16 * 4>(&ap[0][0]);
        wg_fence();
        mma_scores<T, D, BN, JVP, ST, CS, 0, NC>(s, sd, sQ, sQd, qrow, sKV + st * C::STAGE_BYTES);
        wg_commit();
        if (pv) {
          mma_pv<T, D, DA, BN, JVP, ST, CS>(o, u, ap, apd, sKV + sp * C::STAGE_BYTES, 0);
          wg_commit();
        }
        if (!(wg == NCW - 1 && i == nlive - 1)) named_bar_arrive(pp_next_bar<NCW>(wg), 256);
      };
      /* after S(i) has landed: releases K(i), the softmax of block i (alpha: its rescale of O).
         MASKED: bmk and dw, block i's mask and bits (block_bits), were read from stage i % ST
         (its dense class and words) before this release lets warp 1 overwrite them */
      BlockMask bmk;
      auto softmax = [&](int i) {
        wg_reg_fence<NT * 4>(&s[0][0][0]);
        __syncwarp();
        /* this warp is done with K(i); an additive mask's tile in the stage is read by the softmax: released after */
        if (lane == 0 && !biasd) mbar_arrive(bar + 8 * (ST + i % ST));
        const BlockMask bm = MASKED ? bmk : fwd_block_mask<BN, false, C::BM>(a, m0, (int64_t)(jb0 + i) * BN, kin_lo, kin_hi);
#pragma unroll
        for (int e = 0; e < 4; ++e) alpha[0][0][e] = 1.f;
        fwd_softmax_block<1, NT, 1, false, MASKED, true, MASKED, EXPF, MPASS>(a, bm, b, h, m0, wrow, g, t4, s_lo, s_hi, s,
                                                                       sd, alpha, u, mrow, lrow, nrow, crow, dw);
        if (biasd) {
          __syncwarp();
          if (lane == 0) mbar_arrive(bar + 8 * (ST + i % ST));
        }
      };
      /* once no P V is in flight: O *= alpha, P(i) packed into ap */
      auto rescale_pack = [&]() { fwd_rescale_pack<T, DT, NT, BN>(o, s, alpha, ap); };
      if constexpr (CSKIP) {
        /* this warpgroup's live blocks [ilo, ihi) in the loop below's order (the first peeled, the last P V alone),
           the CTA's other blocks a turn without products that releases their K and V halves once they have landed
           (unmasked kernel: nlive = nblk, block i in stage i % ST) */
        int2 cr = make_int2(0, nlive);
        if (cskip && nlive > 0) cr = fwd_consumer_blocks<BN, false>(a, m0, wg, jb0, nlive, s_lo, s_hi, lane);
        const int ilo = cr.x, ihi = cr.y;
        auto skip_turn = [&](int i) {
          const int st = i % ST;
          const uint32_t ph = (uint32_t)((i / ST) & 1);
          mbar_wait(bar + 8 * st, ph);
          named_bar_sync(1 + wg, 256);
          if (!(wg == NCW - 1 && i == nlive - 1)) named_bar_arrive(pp_next_bar<NCW>(wg), 256);
          mbar_wait(vbar + 8 * st, ph);
          __syncwarp();
          if (lane == 0) {
            mbar_arrive(bar + 8 * (ST + st));
            mbar_arrive(vbar + 8 * (ST + st));
          }
        };
        for (int i = 0; i < ilo; ++i) skip_turn(i);
        if (ilo < ihi) {
          issue(ilo, false);
          wg_wait<0>();
          softmax(ilo);
          rescale_pack();
          for (int i = ilo + 1; i < ihi; ++i) {
            issue(i, true);
            wg_wait<1>();
            softmax(i);
            wg_wait<0>();
            __syncwarp();
            if (lane == 0) mbar_arrive(vbar + 8 * (ST + (i - 1) % ST));
            rescale_pack();
          }
          const int sp = (ihi - 1) % ST;
          fwd_last_pv<T, D, DA, BN, JVP, ST, CS>(o, u, ap, apd, vbar, sp, (uint32_t)(((ihi - 1) / ST) & 1), sKV,
                                                 C::STAGE_BYTES, lane);
        }
        for (int i = ihi; i < nlive; ++i) skip_turn(i);
      }
      /* MASKED: iteration i takes the i-th live block jl (fwd_next_live) */
      int jl = fwd_next_live(live_s, skip, 0, nblk);
      if (!CSKIP && nlive > 0) {
        issue(0, false);
        if constexpr (MASKED) bmk = block_bits(0, (int64_t)(jb0 + jl) * BN);
        wg_wait<0>();
        softmax(0);
        rescale_pack();
      }
      for (int i = 1; !CSKIP && i < nlive; ++i) {
        issue(i, true);
        if constexpr (MASKED) {
          jl = fwd_next_live(live_s, skip, jl + 1, nblk);
          bmk = block_bits(i % ST, (int64_t)(jb0 + jl) * BN); /* while S(i) and P(i - 1) V(i - 1) run */
        }
        wg_wait<1>(); /* S(i); P(i - 1) V(i - 1) may still run */
        softmax(i);
        wg_wait<0>(); /* P(i - 1) V(i - 1) */
        __syncwarp();
        if (lane == 0) mbar_arrive(vbar + 8 * (ST + (i - 1) % ST)); /* this warp is done with V(i - 1) */
        rescale_pack();
      }
      if (!CSKIP && nlive > 0) {
        /* the last block's P V */
        const int sp = (nlive - 1) % ST;
        fwd_last_pv<T, D, DA, BN, JVP, ST, CS>(o, u, ap, apd, vbar, sp, (uint32_t)(((nlive - 1) / ST) & 1), sKV,
                                               C::STAGE_BYTES, lane);
      }
    }
    for (int i = 0, jl = fwd_next_live(live_s, skip, 0, nblk); !PVLAG && i < nlive;
         ++i, jl = fwd_next_live(live_s, skip, jl + 1, nblk)) {
      /* iteration i: stage i % ST holds key block jb0 + jl */
      const int j = i, st = i % ST;
      const int64_t kb0 = (int64_t)(jb0 + jl) * BN;
      if constexpr (!OVERLAP) issue_scores(j, s, sd); /* waits for iteration j's stage */
      else if (j + 1 < nlive) issue_scores(j + 1, sn, sdn); /* iteration j's stage was awaited before */

      /* MASKED: the rows' visibility bits of the block while the scores are computed */
      BlockMask bm = block_bits(st, kb0);
      if constexpr (!OVERLAP) {
        wg_wait<0>();
        wg_reg_fence<NT * 4>(&s[0][0][0]);
        if (JVP) wg_reg_fence<NT * 4>(&sd[0][0][0]);
      }
      if constexpr (STV > 0) {
        __syncwarp();
        if (lane == 0) mbar_arrive(bar + 8 * (ST + st)); /* STV: this warp is done with K(j), Kd(j) */
      }
      /* LEAN (softmax.cuh): the JVP but where it costs spills (CS: D = 256, and the masked kernels: ptxas; the D = 192
         rows with tiles.h LEANCS take it) */
      constexpr bool LEAN = JVP && (!CS || LEANCS) && !MASKED;
      fwd_softmax_block<1, NT, DT, JVP, MASKED, true, MASKED, EXPF, MPASS, LEAN>(a, bm, b, h, m0, wrow, g, t4, s_lo, s_hi, s,
                                                                                sd, o, u, mrow, lrow, nrow, crow, dw);
      fwd_pack_p<T, BN, JVP>(s, sd, ap, apd);
      wg_reg_fence<DT * 4>(&o[0][0][0]);
      if (JVP) wg_reg_fence<DT * 4>(&u[0][0][0]);
      if constexpr (STV > 0) mbar_wait(vbar + 8 * (j % STV), (uint32_t)((j / STV) & 1)); /* V(j), Vd(j) */
      if constexpr (!CS || D == 2 * DA) wg_fence(); /* (CS at D = 192: in mma_pv's two paths) */
      if constexpr (STV > 0)
        mma_pv<T, D, DA, BN, JVP, ST, CS, STV>(o, u, ap, apd, sVR + (j % STV) * C::VSTAGE_BYTES, CS ? wgu * 2 : 0);
      else mma_pv<T, D, DA, BN, JVP, ST, CS>(o, u, ap, apd, sKV + st * C::STAGE_BYTES, CS ? wgu * 2 : 0);
      wg_commit();
      wg_wait<0>(); /* this block's P V (and, OVERLAP, the next block's S) */
      wg_reg_fence<DT * 4>(&o[0][0][0]);
      if (JVP) wg_reg_fence<DT * 4>(&u[0][0][0]);
      __syncwarp();
      if constexpr (STV > 0) {
        if (lane == 0) mbar_arrive(vbar + 8 * (STV + j % STV)); /* this warp is done with V(j), Vd(j) */
      } else {
        if (lane == 0) mbar_arrive(bar + 8 * (ST + st)); /* this warp is done with block j */
      }
      if constexpr (OVERLAP) {
        if (j + 1 < nlive) {
          wg_reg_fence<NT * 4>(&sn[0][0][0]);
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) s[0][nt][e] = sn[0][nt][e];
          if constexpr (OVERLAP && JVP) {
            wg_reg_fence<NT * 4>(&sdn[0][0][0]);
#pragma unroll
            for (int nt = 0; nt < NT; ++nt)
#pragma unroll
              for (int e = 0; e < 4; ++e) sd[0][nt][e] = sdn[0][nt][e];
          }
        }
      }
    }

    if constexpr (CS && DA == 96) {
      /* the even split: consumer 1's accumulators hold its columns 128..191 in 0..63 and 96..127 in
         64..95 (mma_pv); rotated into column order (once, selects) for the epilogue */
      float o2[DT][4], u2[DT][4];
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const float x = o[0][(dt + 8) % DT][e], y = u[0][(dt + 8) % DT][e];
          o2[dt][e] = wg ? x : o[0][dt][e];
          u2[dt][e] = wg ? y : u[0][dt][e];
        }
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          o[0][dt][e] = o2[dt][e];
          u[0][dt][e] = u2[dt][e];
        }
    }
    if constexpr (CS) {
      /* both consumers hold the rows' statistics (the same scores, the same softmax): the first
         writes lse (and mu); in accumulate mode the second merges its columns first, reading the
         old lse / mu before the first overwrites them (named barrier 3) */
      if (wg == 0 && a.accumulate) named_bar_sync(3, 256);
      fwd_epilogue<T, 1, DT, JVP>(a, b, h, m0 + wrow, g, t4, o, u, mrow, lrow, nrow, crow, wg * DA, wg == 0);
      if (wg == 1 && a.accumulate) named_bar_arrive(3, 256);
    } else {
      fwd_epilogue<T, 1, DT, JVP>(a, b, h, m0 + wrow, g, t4, o, u, mrow, lrow, nrow, crow);
    }
  }
#endif
}

/* Whether a launch of NC consumer warpgroups (3: fwd_sm90a_kernel's and fwd_persist_sm90a_kernel's CSKIP) has each
   skip the key blocks masked for all of its rows; JFA_SM90_FWD_CSKIP=0 per call: every consumer computes every block,
   as before the twenty-sixth session */
static inline int sm90_fwd_cskip(int nc) { return nc == 3 && env_switch(true, "JFA_SM90_FWD_CSKIP"); }

template <typename T, int D, int DA, int BN, bool JVP, int ST, bool OVERLAP, bool MASKED, bool CS, bool PVLAG = false,
          int STV = 0, int EXPF = 0, int NC = 0, bool MPASS = false, bool LEANCS = false>
static jfa_status_t launch_sm90a(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st) {
  typedef Sm90Fwd<D, BN, JVP, ST, CS, MASKED, STV, NC> C;
  static_assert(C::SMEM <= 232448, "shared memory beyond the sm_90 opt-in limit");
  /* the boxes must match the stage bytes the kernel expects: BM rows of Q, BN of K/V */
  Sm90Maps tm;
  JFA_CHECK(sm90_fwd_maps(&tm, t, C::BM, BN, JVP));
  auto kern = fwd_sm90a_kernel<T, D, DA, BN, JVP, ST, OVERLAP, MASKED, CS, PVLAG, STV, EXPF, NC, MPASS, LEANCS>;
  /* a 16-bit additive dense mask: the stages' bias tiles too (family.cu takes it where SMEM_BIAS fits) */
  const bool biasd = MASKED && mask_bias16(a.mk);
  if (biasd && C::SMEM_BIAS > 232448)
    JFA_FAIL(JFA_ERROR_INTERNAL, "sm90 forward: no room for an additive mask's tiles (%zu bytes)", (size_t)C::SMEM_BIAS);
  const size_t smem = biasd ? C::SMEM_BIAS : C::SMEM;
  JFA_CHECK(smem_optin(kern, smem));
  dim3 grid((unsigned)((a.p.Nq + C::BM - 1) / C::BM), (unsigned)a.p.Hq, (unsigned)a.p.B);
  const int64_t hg = fwd_causal_group(a.p, a.masked, D, sizeof(T), JVP ? 4 : 2, "JFA_TUNE_SM90_FWD_HG");
  kern<<<grid, C::NTHREADS, smem, st>>>(a, tm, hg, sm90_fwd_cskip(NC));
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

template <typename T, int D, int DA, int ST, bool MASKED, bool XT, int EXPF = 0, bool MPASS = false, int NC = 0>
static jfa_status_t launch_persist_sm90a(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st); /* fwd_persist.cuh */
template <typename T, int D, int DA, int BN, int ST, bool MASKED, bool MPASS>
static jfa_status_t launch_jvp_persist_sm90a(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st); /* jvp_persist.cuh */

/* The tiles masked calls of tuning variant V (tiles.h) at head dim D run: this variant's masked tiles (PVLAGM: in the
   PVLAG order too), or variant 0's where its stages leave no room for the MASKED kernel's dense-mask words or it has
   an order the masked kernel lacks (PVLAG without PVLAGM; the JVP's OVERLAP: at D = 256 its masked kernel, with 232
   registers, spills; the two rings, STV); a row 0 with MASKV (an NC row 0: D = 64 and 96; D = 192's JVP, whose row 0
   is an STV row): the masked tiles of the variant its MASKV names. */
template <int D, bool JVP, int V>
constexpr Sm90Tile sm90_fwd_masked_tile() {
  constexpr Sm90Tile c = sm90_tile(JVP ? OP_JVP : OP_FWD, JFA_DTYPE_BFLOAT16, D, MASK_CLASS_CAUSAL, V);
  constexpr Sm90Tile m = sm90_tile(JVP ? OP_JVP : OP_FWD, JFA_DTYPE_BFLOAT16, D, MASK_CLASS_ANY, V);
  constexpr Sm90Tile r0 = sm90_tile(JVP ? OP_JVP : OP_FWD, JFA_DTYPE_BFLOAT16, D, MASK_CLASS_ANY, 0);
  constexpr Sm90Tile m0 =
      r0.NC || r0.MASKV ? sm90_tile(JVP ? OP_JVP : OP_FWD, JFA_DTYPE_BFLOAT16, D, MASK_CLASS_ANY, r0.MASKV) : r0;
  static_assert(m0.D == D && !m0.NC,
                "an NC row 0 needs MASKV, and a MASKV names a variant of this head dim with two consumers");
  constexpr bool own = !m.NC && !(V == 0 && r0.MASKV) && (m.PVLAGM || (!m.PVLAG && !(JVP && m.OVERLAP) && !m.STV &&
                                                Sm90Fwd<D, m.BN, JVP, m.ST, c.CS, true>::SMEM <= 232448));
  return own ? m : m0;
}

template <int D, bool JVP>
bool sm90_fwd_bias_fits_d(void) {
  constexpr Sm90Tile c = sm90_tile(JVP ? OP_JVP : OP_FWD, JFA_DTYPE_BFLOAT16, D, MASK_CLASS_CAUSAL, 0);
  constexpr Sm90Tile mm = sm90_fwd_masked_tile<D, JVP, 0>();
  return Sm90Fwd<D, mm.BN, JVP, mm.ST, c.CS, true>::SMEM_BIAS <= 232448;
}

/* Whether a masked call is a band the unmasked kernels run (tiles.h sm90_fwd_band_on; JFA_SM90_FWD_BAND=1 / 0 per
   call): a window (either side, with or without causal, any positions) or packed sequences aligned to blocks of bm
   query rows and bn keys (common/mask.cuh mask_packed_aligned: every row block of the kernels that may run the band
   lies in one sequence; since the twenty-seventh session, JFA_SM90_FWD_PACKED_BAND=0 per call: their MASKED
   kernels), with or without a window, no dense mask. Each CTA then loads the keys from its first row's window start
   (its sequence's first key) to its last row's end (fwd_tile_keys) and tests elements only in the blocks either
   window edge or the causal diagonal crosses (fwd_block_mask's clo and cdiff), on the unmasked kernels' code (LEAN,
   the two rings at D = 256, three consumers at D = 64), as bwd.cuh sm90_bwd_band does for the backward; *a: a copy
   of the call's arguments, whose FwdArgs band it sets. */
static inline bool sm90_fwd_band(int D, bool jvp, int64_t bm, int64_t bn, FwdArgs *a) {
  if (!a->masked || a->mk.dm_kind != MASK_DENSE_NONE) return false;
  const jfa_problem_t &p = a->p;
  if (p.nseq == 0) {
    if (!a->mk.windowed) return false;
  } else {
    /* packed sequences aligned to the blocks (host offsets: mask_packed_aligned declines device ones before any read),
       offsets and positions below 2^31, the count below 2^30 (fwd_tile_keys' 32-bit search) */
    if (!mask_packed_aligned(&p, bm, bn)) return false;
    const int64_t big = (int64_t)1 << 31;
    const bool fits = p.nseq < big / 2 && p.cu_q[p.nseq] < big && p.q_pos0 >= 0 && p.q_pos0 + p.Nq < big &&
                      p.k_pos0 >= 0 && p.k_pos0 < big;
    if (!fits || !env_switch(true, "JFA_SM90_FWD_PACKED_BAND")) return false;
  }
  if (!env_switch(sm90_fwd_band_on(D, jvp), "JFA_SM90_FWD_BAND")) return false;
  a->band = 1;
  return true;
}

/* The persistent kernels' 32-bit limits (fwd_persist.cuh, jvp_persist.cuh): fewer than 2^31 tiles (persist_tile_of's
   arithmetic), and fewer than 2^32 - 64 key blocks (of 32 keys at the least) a CTA on `grid` CTAs (the stages' ring
   and phases). persist_shape checks them at launch, sm90_persist_fits before the route is chosen. */
static inline bool persist_tiles_ok(int64_t ntiles) { return ntiles < ((int64_t)1 << 31); }
static inline bool persist_blocks_ok(int64_t ntiles, int64_t grid, int64_t Nk) {
  return grid <= 0 || (ntiles + grid - 1) / grid * ((Nk + 31) / 32) < ((int64_t)1 << 32) - 64;
}

/* Whether the persistent forward / JVP can take the call: those limits for tiles of 64 rows (the kernels' are 64 rows
   or more) on the device's SMs (a.nsm), so that a call beyond them (tens of millions of keys with hundreds of
   thousands of query rows) runs the non-persistent kernels rather than failing in persist_shape. */
static bool sm90_persist_fits(const FwdArgs &a) {
  const int64_t ntiles = (a.p.Nq + 63) / 64 * a.p.Hq * a.p.B;
  return a.nsm > 0 && persist_tiles_ok(ntiles) && persist_blocks_ok(ntiles, ntiles < a.nsm ? ntiles : a.nsm, a.p.Nk);
}

/* The forward / JVP of tuning variant V (tiles.h) at head dim D. */

template <typename T, int D, bool JVP, int V>
static jfa_status_t sm90_fwd_variant(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st) {
  constexpr Sm90Tile c = sm90_tile(JVP ? OP_JVP : OP_FWD, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, V);
  constexpr Sm90Tile m = sm90_tile(JVP ? OP_JVP : OP_FWD, DtypeOf<T>::value, D, MASK_CLASS_ANY, V);
  static_assert(c.D == D && m.D == D, "no sm90 tiles for this head dim");
  constexpr int DA = c.CSE ? D / 2 : c.CS ? 128 : c.PAD ? (D + 63) / 64 * 64 : D;
  /* masked calls (sm90_fwd_masked_tile); EXPF's share of exponentials is left to unmasked calls. DAM: their P V
     columns (the masked tiles' PAD: an NC row 0's masked calls keep the two-consumer row's, D = 96's padded ones) */
  constexpr Sm90Tile mm = sm90_fwd_masked_tile<D, JVP, V>();
  constexpr int DAM = c.CSE ? D / 2 : c.CS ? 128 : mm.PAD ? (D + 63) / 64 * 64 : D;
  /* the unmasked kernels' arguments: a band (sm90_fwd_band: a window, or packed sequences aligned to the row and key
     blocks of every kernel below that may take it: c's, BMC rows and c.BN keys, which the persistent JVP shares, and
     for a forward with a persistent kernel (pr.PERSIST, MASKP: D = 64 and 128) also 128 rows and 128 keys) runs them
     with the window's edges and the sequences' */
  FwdArgs u = a;
  constexpr int64_t BMC = c.CS ? 64 : c.NC ? 64 * c.NC : 128;
  constexpr bool PFWD = !JVP && ((c.PERSIST ? c : mm).PERSIST || c.MASKP);
  const bool band = sm90_fwd_band(D, JVP, PFWD ? std::lcm(BMC, (int64_t)128) : BMC,
                                   PFWD ? std::lcm((int64_t)c.BN, (int64_t)128) : (int64_t)c.BN, &u);
  const bool unmasked = !a.masked || band;
  /* the route jfa_cuda_last_route reports (sm90.h; a persistent kernel adds SM90_ROUTE_PERSIST) */
  const int route = band ? SM90_ROUTE_BAND : unmasked ? 0 : SM90_ROUTE_MASKED;
  /* the persistent forward (fwd_persist.cuh), pr's tiles: a PERSIST row's calls (row 0 at D = 128 = variant 8, 9:
     PERSIST_XT; tuning variants at D = 96 / 64, 34 with three consumers), or an NC row 0's masked ones where its
     masked tiles are a PERSIST row (D = 64: MASKV = 29; positions, packed sequences, windows too under
     JFA_SM90_FWD_NC3=0; its unmasked and causal calls run the three consumers below, short causal ones MASKP's kernel
     next). Boolean dense masks run the row's PVLAGM kernel below, and accumulate mode (the ring's partial calls,
     beside its communication kernels) the non-persistent one */
  constexpr Sm90Tile pr = c.PERSIST ? c : mm;
  /* an NC row's calls on MASKP's persistent kernel with three consumer warpgroups (D = 64 row 0: variant 34, since the
     twenty-fifth session), outside accumulate mode:
     - windows and (since the twenty-seventh session) packed sequences, no dense mask: its MASKED form, or its
       unmasked one where the call runs as a band (sm90_fwd_band). Packed sequences lost 6% on 8 x 2048 on variant 34
       before the consumer skip (a tile of 192 rows straddles sequence boundaries) and gain 2-6% with it
       (bench/RESULTS.md, twenty-seventh session call 1). JFA_SM90_FWD_NC3=0 per call: pr's below, MASKV's two
       consumers. (Positions alone are not masked calls: the causal kernels take them.)
     - plain causal calls of up to sm90_fwd_nc3p_causal_max_nk keys: its unmasked form, as tuning builds'
       JFA_TUNE_SM90A=34, bitwise the three consumers below (JFA_SM90_FWD_NC3P=1 / 0 per call: every unmasked or
       causal call / none). */
  if constexpr (!JVP && c.MASKP) {
    constexpr Sm90Tile mp = sm90_tile(OP_FWD, DtypeOf<T>::value, D, MASK_CLASS_ANY, c.MASKP);
    static_assert(c.NC && mp.D == D && mp.PERSIST && mp.NC == 3 && mp.BN == 128 && mp.PVLAG && !mp.PAD &&
                      !mp.PERSIST_XT && !mp.EXPF,
                  "MASKP: a PERSIST row with three consumer warpgroups (fwd_persist.cuh NC)");
    const bool take = !a.masked ? env_switch(a.p.causal && a.p.Nk <= sm90_fwd_nc3p_causal_max_nk(D), "JFA_SM90_FWD_NC3P")
                                : a.mk.dm_kind == MASK_DENSE_NONE && env_switch(true, "JFA_SM90_FWD_NC3");
    if (!a.accumulate && take && sm90_persist_fits(a)) {
      sm90_route_note(SM90_ROUTE_PERSIST | route);
      if (unmasked) return launch_persist_sm90a<T, D, D, mp.ST, false, false, 0, mp.MPASS, 3>(u, t, st);
      return launch_persist_sm90a<T, D, D, mp.ST, true, false, 0, mp.MPASS, 3>(a, t, st);
    }
  }
  if constexpr (!JVP && pr.PERSIST) {
    static_assert(pr.BN == 128 && !pr.CS && (!pr.NC || (pr.NC == 3 && !pr.PERSIST_XT && !pr.EXPF)) && pr.PVLAG,
                  "PERSIST: the PVLAG tiles at 128 keys a block, two consumers or (not XT, not EXPF) three "
                  "(fwd_persist.cuh Sm90Persist)");
    constexpr int DAP = pr.PAD ? (D + 63) / 64 * 64 : D;
    if (!a.accumulate && (unmasked ? c.PERSIST || band : a.mk.dm_kind == MASK_DENSE_NONE) && sm90_persist_fits(a)) {
      sm90_route_note(SM90_ROUTE_PERSIST | route);
      if (unmasked)
        return launch_persist_sm90a<T, D, DAP, pr.ST, false, pr.PERSIST_XT, pr.EXPF, pr.MPASS, pr.NC>(u, t, st);
      return launch_persist_sm90a<T, D, DAP, pr.ST, true, pr.PERSIST_XT, 0, pr.MPASS, pr.NC>(a, t, st);
    }
  }
  if constexpr (JVP && V == 0 && !c.CS && !c.STV && !c.OVERLAP && !mm.CS && !mm.STV && !mm.OVERLAP) {
    /* the persistent JVP (jvp_persist.cuh; tiles.h sm90_jvp_persist_default, JFA_SM90_JVP_PERSIST per call): row 0's
       tiles for unmasked and causal calls, its masked tiles for interval masks; accumulate mode (the ring's partial
       calls) and dense masks run the kernels below */
    if (!a.accumulate &&
        env_switch(sm90_jvp_persist_default(D, a.p.causal && !a.masked, a.p.Nk, band && a.mk.nseq > 0),
                   "JFA_SM90_JVP_PERSIST") &&
        sm90_persist_fits(a)) {
      sm90_route_note(SM90_ROUTE_PERSIST | route); /* the note before the kernels below replaces it where they run */
      if (unmasked) return launch_jvp_persist_sm90a<T, D, DA, c.BN, c.ST, false, c.MPASS>(u, t, st);
      if (a.mk.dm_kind == MASK_DENSE_NONE) return launch_jvp_persist_sm90a<T, D, DA, mm.BN, mm.ST, true, mm.MPASS>(a, t, st);
    }
  }
  sm90_route_note(route);
  if (unmasked)
    return launch_sm90a<T, D, DA, c.BN, JVP, c.ST, c.OVERLAP, false, c.CS, c.PVLAG, c.STV, c.EXPF, c.NC, c.MPASS,
                        c.LEANCS>(u, t, st);
  return launch_sm90a<T, D, DAM, mm.BN, JVP, mm.ST, mm.OVERLAP, true, c.CS, mm.PVLAGM, 0, 0, 0, mm.MPASS>(a, t, st);
}

/* Tuning builds: tuning variant v (JFA_TUNE_SM90A) if tiles.h has it for this op and head dim,
   tried from V up to the table's last variant; else variant 0. */
template <typename T, int D, bool JVP, int V>
static jfa_status_t sm90_fwd_tuned(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st, int v) {
  if constexpr (V > sm90_max_variant()) {
    return sm90_fwd_variant<T, D, JVP, 0>(a, t, st);
  } else {
    if constexpr (sm90_has_tile(JVP ? OP_JVP : OP_FWD, DtypeOf<T>::value, D, V))
      if (v == V) return sm90_fwd_variant<T, D, JVP, V>(a, t, st);
    return sm90_fwd_tuned<T, D, JVP, V + 1>(a, t, st, v);
  }
}

template <typename T, int D, bool JVP>
jfa_status_t sm90_fwd_d(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st) {
#ifdef JFA_TUNING
  return sm90_fwd_tuned<T, D, JVP, 1>(a, t, st, tune_variant("JFA_TUNE_SM90A"));
#else
  return sm90_fwd_variant<T, D, JVP, 0>(a, t, st);
#endif
}

template <int D>
bool sm90_probe_d(void) {
  /* row 0's unmasked forward kernel (the one sm90_fwd_variant launches; at D = 128 the non-persistent one,
     which accumulate-mode calls launch): any kernel of the image tells, and this one is compiled anyway */
  constexpr Sm90Tile c = sm90_tile(OP_FWD, JFA_DTYPE_BFLOAT16, D, MASK_CLASS_CAUSAL, 0);
  constexpr int DA = c.CSE ? D / 2 : c.CS ? 128 : c.PAD ? (D + 63) / 64 * 64 : D;
  cudaFuncAttributes attr;
  const bool ok = cudaFuncGetAttributes(&attr, fwd_sm90a_kernel<__nv_bfloat16, D, DA, c.BN, false, c.ST, c.OVERLAP,
                                                                false, c.CS, c.PVLAG, c.STV, c.EXPF, c.NC, c.MPASS>) ==
                       cudaSuccess;
  if (!ok) cudaGetLastError();
  return ok;
}

#include "kernels/sm90/fwd_persist.cuh"
#include "kernels/sm90/jvp_persist.cuh"

#endif /* JFA_KERNELS_SM90_FWD_CUH_ */
