/*
 * bwd.cuh - the sm90 family's (Hopper, sm_90a) backward of jfa (the default on sm_90 for the
 * calls family.cu takes; JFA_SM90_BWD=0 turns it off, backend.cu): wgmma fed by TMA through an mbarrier
 * pipeline, FlashAttention-3 style, bf16/fp16 in, fp32 accumulation. Compiled only for sm_90a,
 * per head dim (64, 96, 128, 192, 256) by inst/bwd_d<D>.cu (sm90_bwd_d); tiles from tiles.h (OP_BWD rows);
 * family.cu takes causal (both alignments: q_pos0 / k_pos0), the interval masks (windows,
 * positions, packed sequences), boolean dense masks and (but at D = 256) 16-bit additive masks with aligned rows,
 * TMA-describable q, k, v, dout.
 *
 * A CTA owns BN = 64 * NWG keys of one (batch, kv head) and has 1 + NWG warpgroups:
 *   - warpgroup 0, the producer (registers lowered to 24 with setmaxnreg): lane 0 of warp 0
 *     loads the CTA's K and V once (TMA), then for each (query head of the GQA group, query
 *     block of BM = 64 rows) waits for a stage to be released (mbarrier `empty`), and the 32
 *     lanes of warp 0 write the block's lse (log2 units, +inf for fully masked rows and rows
 *     past Nq) and delta into the stage and arrive on its `full` mbarrier, lane 0 with the
 *     expected bytes of the TMA loads of Q and dO it then issues;
 *   - warpgroups 1..NWG, the consumers (registers raised to 240): each owns 64 keys (dK, dV
 *     of 64 keys x D in registers for the whole loop) and, per query block,
 *       S^T = K Q^T, dP^T = V dO^T             wgmma, A = K / V, B = Q / dO (all K-major, smem),
 *       P^T = p_cap1(exp2(scale_log2 S^T - lse)), masked (causal, keys past Nk),
 *       dS^T = P^T (dP^T - delta)              (the sm80 kernel's arithmetic, element by element),
 *       dV += P^T dO, dK += dS^T Q             wgmma, A = P^T / dS^T from registers (the accumulator
 *                                              converted to 16 bits), B = dO / Q MN-major (smem),
 *       dS (16-bit, 64 queries x its 64 keys) -> shared memory in the 128-byte swizzled layout
 *       (double-buffered per warpgroup; fence.proxy.async, then a warpgroup named barrier),
 *       dQ_partial = dS K                      wgmma, A = dS K-major, B = K MN-major, per 64-column
 *                                              half of D (32 accumulator registers),
 *       staged in shared memory (BM x 64 fp32 per consumer, two 128-byte-swizzled boxes of 32
 *       columns) and added into the fp32 dQ workspace by TMA reduce-adds
 *       (cp.reduce.async.bulk.tensor; the caller scales it into dq, launch_scale_add), then
 *       releases the stage (one arrival per warp). Each consumer warpgroup adds the dQ of its
 *       own 64 keys (no exchange between the consumers, no cross-warpgroup barrier): every dQ
 *       element is reduced twice per CTA. This is SM90_DQ_TMA, the masked kernel's (and tuning builds'
 *       JFA_TUNE_SM90_BWD=3).
 *       H200, bench/RESULTS.md 2026-12-02 run 4: the reduce-adds run the backward 1.05-1.29x
 *       faster than fp32 float2 atomics from registers (SM90_DQ_ATOMIC2, kept for tuning
 *       builds, JFA_TUNE_SM90_BWD=1), float4 atomics were slower than both.
 *       SM90_DQ_SPLIT, the unmasked kernel's default before SPLITO (tiles.h sm90_bwd_dq; H200: 1.04-1.08x
 *       SM90_DQ_TMA; tuning builds' JFA_TUNE_SM90_BWD=4):
 *       the consumers split dQ's columns instead of its keys. After writing its dS, each
 *       consumer syncs on one 256-thread named barrier with the other (instead of its own
 *       128-thread one), then computes dQ[:, its D / 2 columns] = dS K over all 128 keys (8 k16
 *       steps, 4 from each consumer's dS buffer; wgmma N = 64 at D = 128, N = 32 at D = 64),
 *       stages it (BM x D / 2 fp32) and reduce-adds it: each dQ element added once per CTA,
 *       half the reduce-add traffic, the same tensor-core work. The dS double buffers stay safe
 *       across consumers: buffer dsb is rewritten at iteration it + 2 only after the barrier of
 *       it + 1, where each consumer arrives after waiting for its dQ products of iteration it.
 *       Unmasked / causal kernel only: the MASKED one skips empty blocks per consumer, so the
 *       consumers would not meet at the barrier; it keeps SM90_DQ_TMA.
 * Why a producer warp and not "every warp loads": the forward's structure (TMA + full/empty
 * mbarriers + setmaxnreg) is reused as is; a load by every warp would need cp.async into the
 * swizzled layout by hand. ptxas allocates each side within its setmaxnreg count: 0 spills for
 * both head dims (-Xptxas -v reports the launch's 168); without setmaxnreg the D = 128 kernel
 * spills 5.4 KB. Measured by lowering the consumers' count: at D = 128 they need 217..232
 * registers (152 bytes of spills at 216), at D = 64 they fit in 168. What this version leaves out (FA3 has it): ping-pong between the
 * consumers, overlapping the next block's S with this block's softmax, one dQ reduce-add per
 * CTA in the masked kernel (the unmasked one has it, SM90_DQ_SPLIT; the masked one has FA3's order only
 * as SM90_DQ_TMAO, a tuning variant), lse / delta by TMA. BM = 128 at D = 64 (FA3's shape; tiles.h
 * sm90_bwd_bm: the unmasked kernel's default since the twelfth session, TMAO with BMQ, dV issued after dS, DVL,
 * for registers; JFA_TUNE_SM90_BWD=11 runs the 64 rows before); three consumers (192 keys a CTA, registers
 * 24 / 160) JFA_TUNE_SM90_BWD=10.
 * Causal: the query blocks before the first that sees key n0 are skipped; within a block keys
 * are masked per element only where the block straddles the diagonal or Nk.
 * Interval masks (MASKED, a.masked: windows, positions, packed sequences, causal with them; the
 * sm90 forward's and the sm80 backward's rule): the CTA walks only the query blocks that
 * mask_query_range gives for its keys (bwd_query_blocks, the sm80 backward's); warp 1 of the
 * producer writes each stage's rows' key intervals [lo, hi) (mask_row_keys) and their union /
 * intersection, and arrives on the stage's `full` with warp 0; each consumer warpgroup then
 * classifies its 64 keys against the block's rows: empty (skipped: no products, no dQ
 * reduce-add, the stage released), full (inside every row's interval: no per-element test) or
 * partial (per element: key in its row's [lo, hi)). Fully masked rows (lo == hi) add nothing.
 * A boolean dense mask (its bit-packed rows and block map, common/blockmap.h, built per call) adds
 * the class of its BMAP_TILE tile, which is exactly one consumer's 64 keys x one 64-row block (CS: the CTA's 64
 * keys, both consumers' x the block): producer warps 2 and 3 (one per tile) read the tile's flags and, for a partial tile, the 64
 * rows' words, transpose them by ballots into one 64-bit word per key (bit r: row r sees it) and
 * put both into the stage beside the intervals (arriving on `full` too). The consumer skips an
 * empty tile (as an empty interval class), takes a full one without a per-element test, and in a
 * partial one tests bit qi of its two keys' words, pre-shifted by 2 t4 so that every element's
 * bit is at a constant position (two instructions per element); the interval test still applies
 * where the intervals leave the keys partial. The bits of rows past Nq and keys past Nk are 0.
 * A 16-bit additive mask with aligned rows (family.cu bwd_bias_why_not; since the nineteenth session) takes the same
 * classes from its block map: warp 2 + c brings a partial tile's biases (64 rows x 64 keys) by TMA into bias tile c
 * (one per tile after the barriers, SMEM_BIAS: not per stage, which would pass 227 KB at D = 128; none at D = 256,
 * whose masked column split lacks 2 KB) once its consumers have read the previous one (mbarrier bfree[c]); the
 * consumers add bias / scale to S^T, read by ldmatrix .trans (H200, bf16 D = 128 N = 4096: 301 TFLOP/s, sm80's 88).
 * Register counts 40 / 232 (setmaxnreg) instead of 24 / 240: warp 1's loop spills at 24 and 32; the masked D = 192
 * column split 48 / 224 (its dense-mask loops spilled 8 bytes at 40).
 * The MASKED = false instantiation is the causal-only kernel, unchanged (the same SASS). Rows with
 * lse = -inf contribute nothing (P = 0). Deterministic mode: the kernel skips its dQ
 * (a.skip_dq) and the caller takes dQ from simt_backward_dq, as sm80 does. Accumulate mode
 * (the ring's): dK, dV added in fp32 at the end, dQ by launch_scale_add.
 * Tiles are stored as TMA writes them (64-column halves, 128-byte swizzle; layout in wgmma.cuh).
 * A call with a dense mask at a head dim below 64 (a multiple of 8: tiles.h kSm90PadDense) runs the D = 64 kernel: its
 * loads fill the columns past the call's D with zeros (TMA's box is 64 columns), its dK / dV epilogues write columns
 * below a.Dreal only, and its dQ reduce-adds past the workspace's Dws columns fall outside the map and are dropped.
 * Head dims past 128 and between (the forward's slab layout, tiles.h): the tiles hold ceil(D / 64)
 * slabs, TMA zero-filling columns 96..127 at D = 96 (S^T and dP^T then sum over D / 16 k16 steps
 * only). The products whose N is a column range of D (dV, dK; dQ) run as wgmma pieces of 128, 64
 * or 32 columns, each within whole slabs or one half slab (sm90_mm_cols), never across a slab
 * boundary at 32 columns (not a canonical MN-major layout): at D = 96 64 + 32. SM90_DQ_SPLIT at
 * D = 96 gives consumer 0 columns 0..63 and consumer 1 64..95 (2:1 dQ work; a 48 / 48 split would
 * cut a slab at 48). At D = 192 / 256 (CS, tiles.h) dK and dV of 64 keys would need 192 / 256
 * registers a thread: a CTA takes 64 keys, both consumers compute the same S^T and dP^T, each
 * writes half of the queries' dS into one shared buffer (both meet at a 256-thread barrier), each
 * accumulates dK / dV for its D / 2 columns and adds dQ for them over the 64 keys, 32 columns at
 * a time (SM90_DQ_CS: chunk ch + 1's products issued before chunk ch is staged). MASKED works the
 * same (both consumers own the same keys, so they classify blocks alike and meet at every
 * barrier). ptxas: 0 spills in every instantiation at the launch's 168 (24 / 240, masked 40 /
 * 232); lowering the consumers' count shows D = 96 needs <= 200, D = 192 201..216, D = 256 217..240.
 * SM90_DQ_CSX (tuning builds, JFA_TUNE_SM90_BWD=5, unmasked D = 192): CS without the duplicated
 * score products; consumer 0 computes S^T and P, consumer 1 dP^T; P goes to consumer 1 and dS
 * back in fp32 through a 16 KB buffer indexed by thread (barriers 5 and 6), consumer 1 writes the
 * block's 16-bit dS for dQ (one dS buffer: it is rewritten only after barrier 5 of the next block,
 * where consumer 0 arrives after its dQ products). 0 spills.
 * SM90_DQ_SPLITO (the unmasked kernel's default at D = 64 / 96 / 128 since the fifth session of 2026-12-02;
 * tuning builds: JFA_TUNE_SM90_BWD=4 runs SPLIT, =7 SPLITO with 3 stages; issue 19):
 * SM90_DQ_SPLIT in FlashAttention-3's order of issue and waits (hopper/mainloop_bwd_sm90_tma_gmma_ws.hpp),
 * so that the tensor cores are not idle while both consumers (in step through the dS barrier)
 * compute: S^T and dP^T in two commit groups, P (FFMA + ex2.approx.ftz, the per-element mask only
 * in blocks that need it) once S^T is done while dP^T runs; dV += P^T dO issued before dS, which
 * is computed and stored while dV runs (stmatrix .trans of the packed fragments: 4 instructions a
 * thread instead of 32 conversions and 16-bit stores); after the dS barrier dQ's products, then
 * dK's, and dQ waited alone: it is staged and reduce-added while dK runs. The same products in the same order per
 * accumulator; P differs from SM90_DQ_SPLIT's only where it is below 2^-126 (flushed to zero).
 * ptxas: 0 spills at 240; the consumers need 233..240 at D = 128 (16 bytes of spills at 232).
 * SM90_DQ_TMAO (tuning builds: JFA_TUNE_SM90_BWD=9, masked and unmasked calls at D = 64 / 96 / 128; issue 18):
 * SPLITO's order with SM90_DQ_TMA's per-consumer dQ adds, so that the MASKED kernel can take it (its consumers
 * never meet). P as SPLITO (FFMA + ex2.approx.ftz; MASKED: the interval test only where the block is not
 * full for the consumer's keys, the dense bit test only in a partial tile), dS by stmatrix .trans; then
 * dQ's slab 0 (64 columns), dK, the wait for slab 0 (dK runs while it is staged and reduce-added) and at
 * D = 96 / 128 slab 1, issued before slab 0 is staged and waited for alone. The masked D = 128 kernel (232
 * registers) spilled 16 bytes with dV issued before dS (P^T's fragments live beside P, dP, dK and dV):
 * there (DVL) dV is issued once dS is computed, and runs while dS is written and dQ's products are issued.
 * Against the masked kernel's default (SM90_DQ_TMA) dK and dV are bitwise equal where every P >= 2^-126
 * (exp2f there, ex2.approx.ftz here); dQ's reduce-adds come in another order. ptxas: 0 spills at 232 /
 * 240 (D = 64, 96, 128, masked and not).
 * SM90_DQ_CSO (tuning builds, JFA_TUNE_SM90_BWD=6 at D = 192 / 256, unmasked; issue 18): the column
 * split in SPLITO's order: S^T and dP^T in two groups, P while dP^T runs, dV (its D / 2 columns) issued
 * before dS, dS stored by stmatrix .trans (consumer 0 the queries 0..31, consumer 1 32..63), the
 * 256-thread barrier, dQ's first 32-column chunk, dK, then the other chunks: chunk 0 is staged while
 * dK and chunk 1 run. P as SPLITO's (ex2.approx.ftz). ptxas: 0 spills at 240; the consumers need
 * 233..240 at D = 256 (16 bytes of spills at 232, the default CS kernel 217..224), <= 216 at D = 192.
 */
#ifndef JFA_KERNELS_SM90_BWD_CUH_
#define JFA_KERNELS_SM90_BWD_CUH_

#include <string.h>

#include <type_traits>

#include "kernels/common/cta_order.cuh"
#include "kernels/common/probe.cuh"
#include "kernels/common/softmax.cuh"
#include "kernels/sm90/bwd_stats.cuh"
#include "kernels/sm90/sm90.h"
#include "kernels/sm90/tma.h"
#include "kernels/sm90/wgmma.cuh"

/* How the consumers add their dQ partials into the fp32 workspace (tiles.h picks; tuning builds
   take JFA_TUNE_SM90_BWD): */
enum {
  SM90_DQ_ATOMIC2 = 0, /* fp32 float2 atomics straight from the accumulator registers */
  SM90_DQ_TMA = 2,     /* the partial into shared memory (16 KB per consumer per 64 columns), then
                          one TMA reduce-add per 32-column box (cp.reduce.async.bulk.tensor) */
  SM90_DQ_SPLIT = 3,   /* the consumers split dQ's columns (D = 64: 32 + 32, 96: 64 + 32, 128: 64 +
                          64) and sum over all BN keys (both dS buffers), then stage and reduce-add
                          as SM90_DQ_TMA: each dQ element added once per CTA. Unmasked / causal
                          kernel only (MASKED = false) */
  SM90_DQ_CS = 4,      /* the column-split kernel's (CS, D = 192 / 256): each consumer computes dQ
                          for its D / 2 columns over the CTA's 64 keys, 32 columns at a time
                          (an 8 KB staging box), one reduce-add per element per CTA */
  SM90_DQ_CSX = 5,     /* CS with the score products exchanged (XS; tuning builds'
                          JFA_TUNE_SM90_BWD=5 where the shared memory takes it: D = 192): consumer
                          0 computes S^T only, consumer 1 dP^T only; P (fp32) goes to consumer 1
                          and dS (fp32) back through a 16 KB buffer in the registers' order, and
                          consumer 1 writes the block's 16-bit dS for dQ. 5 units of 64 x 64 x D
                          tensor work a block instead of CS's 7, for two 256-thread barriers and
                          32 KB of shared-memory traffic a consumer */
  SM90_DQ_SPLITO = 6,  /* SM90_DQ_SPLIT with the tensor work overlapped (OVL; the unmasked kernel's
                          default at D <= 128 since the fifth session of 2026-12-02, tiles.h
                          sm90_bwd_dq; tuning builds: =4 runs SPLIT, =7 SPLITO with 3 stages): FlashAttention-3's
                          order of issue and waits. S^T and dP^T in two commit groups, P computed
                          while dP^T runs; dV += P^T dO issued before dS (it runs while dS is
                          computed and written); dQ issued before dK and waited alone, so that dK
                          runs while dQ is staged and reduce-added. P by one FFMA and ex2.approx.ftz
                          (a P below 2^-126 flushes to 0); dS to shared memory by stmatrix .trans */
  SM90_DQ_TMAO = 7,    /* SM90_DQ_TMA in SPLITO's order (OVL; tuning builds: JFA_TUNE_SM90_BWD=9, masked
                          and unmasked D <= 128 calls; issue 18): each consumer still adds the dQ of its
                          own 64 keys (no barrier between the consumers, so the MASKED kernel's consumers
                          keep skipping their empty blocks apart), with SPLITO's score commit groups, P by
                          FFMA + ex2.approx.ftz (MASKED: the interval / dense test only in blocks that are
                          not full), dV issued before dS, dS by stmatrix .trans; then dQ's first 64-column
                          slab issued before dK and staged while dK (and, at D = 96 / 128, the second
                          slab's products, issued once the first is done) run */
  SM90_DQ_CSO = 8      /* SM90_DQ_CS in SM90_DQ_SPLITO's order (tuning builds' JFA_TUNE_SM90_BWD=6 at D =
                          192 / 256, unmasked kernel): S^T and dP^T in two groups, P while dP^T runs, dV
                          issued before dS, dS by stmatrix (each consumer its half of the queries); after
                          the dS barrier dQ's first 32-column chunk, then dK, then the other chunks, each
                          chunk staged while the next (and dK) run */
};

/* Tile shapes and shared-memory layout of one instantiation (offsets from a 1024-aligned base).
   CS (the column split, D = 192 / 256): BN = 64 keys and two consumers on the same keys, each
   owning dK / dV for half of D's columns; they share NDS dS buffers (2, or 1 where two would
   pass the 227 KB: the masked D = 256 kernel). Else each consumer owns 64 of the BN keys and
   has its own two dS buffers. */
template <int D, int BN, int ST, int DQ = SM90_DQ_ATOMIC2, bool MASKED = false, bool CS = false, int BMQ = 64,
          bool PERSIST = false>
struct Sm90Bwd {
  static constexpr bool XS = DQ == SM90_DQ_CSX; /* CS with the score products exchanged */
  static constexpr bool TMAO = DQ == SM90_DQ_TMAO;               /* TMA, overlapped order */
  static constexpr bool OVL = DQ == SM90_DQ_SPLITO || TMAO;      /* the overlapped order (SPLITO, TMAO) */
  /* TMAO, masked, D = 128, BMQ = 128 and three consumers (160 registers): dV issued after dS is computed, not
     before (registers: bwd.cuh, OVL; ptxas: 48 bytes of spills in the last two without it) */
  static constexpr bool DVL = TMAO && ((MASKED && D > 96) || BMQ == 128 || (!CS && BN == 192));
  static constexpr bool SPLIT = DQ == SM90_DQ_SPLIT || DQ == SM90_DQ_SPLITO; /* the column split of dQ's adds */
  static constexpr bool CSO = DQ == SM90_DQ_CSO;                 /* CS, overlapped order */
  static constexpr bool OV = OVL || CSO;                         /* FlashAttention-3's order (SPLITO, TMAO, CSO) */
  /* BM query rows a stage: 64, or (BMQ = 128, TMAO's unmasked kernel: D = 64's default, tiles.h sm90_bwd_bm) 128:
     S^T and dP^T of 64 keys x 128 queries a consumer, dV / dK over 8 k16 steps, dQ in two halves of 64 rows */
  static constexpr int BM = BMQ, NH = (D + 63) / 64, NWG = CS ? 2 : BN / 64, NTHREADS = 128 * (1 + NWG);
  static constexpr int DQ_ROWS = 64; /* rows of a dQ reduce-add box (the dQ map's, sm90_dq_reduce) */
  /* the dK / dV columns of one consumer (CS: D / 2, consumer w from w D / 2; else all D) */
  static constexpr int DW = CS ? D / 2 : D;
  /* SM90_DQ_SPLIT: consumer 0 adds dQ's columns [0, SPLIT_C), consumer 1 [SPLIT_C, D) (the
     wgmma B operand of each within one 64-column slab: canonical MN-major layouts) */
  static constexpr int SPLIT_C = D == 64 ? 32 : 64;
  static constexpr uint32_t HALF_Q = BM * 128, HALF_K = BN * 128; /* bytes of one 64-column slab */
  static constexpr uint32_t K_BYTES = NH * HALF_K;                 /* K (and V) */
  static constexpr uint32_t STAGE_BYTES = 2 * NH * HALF_Q;         /* Q, then dO */
  static constexpr uint32_t DS_BYTES = BM * 128;                   /* one dS buffer: BM queries x 64 keys */
  /* per consumer: BM x 64 fp32 (SM90_DQ_TMA), BM x its SM90_DQ_SPLIT columns, BM x 32 (SM90_DQ_CS) */
  static constexpr uint32_t DQ_BYTES = DQ == SM90_DQ_TMA || TMAO ? DQ_ROWS * 64 * 4
                                       : SPLIT ? DQ_ROWS * (SPLIT_C > D - SPLIT_C ? SPLIT_C : D - SPLIT_C) * 4
                                       : DQ == SM90_DQ_CS || XS || CSO ? DQ_ROWS * 32 * 4
                                                                : 0;
  /* XS: the exchange buffer, one warpgroup's 64 x 64 fp32 fragment (float4 i of thread t at 16 (128 i + t)) */
  static constexpr uint32_t X_BYTES = XS ? 128 * 32 * 4 : 0;
  static constexpr uint32_t MSK_BYTES = MASKED ? ST * (BM * 8 + 16) : 0;
  /* DENSE: the masked kernel takes dense masks (boolean words; 16-bit biases where SMEM_BIAS fits), by block-map
     tiles of 64 keys x 64 rows: NTILE a stage, one per consumer (CS: one, both consumers own the CTA's 64 keys) */
  static constexpr bool DENSE = MASKED;
  static constexpr int NTILE = CS ? 1 : NWG;
  /* DENSE: per stage and tile its 64 keys' column words (bit r: row r of the block sees the key; uint64
     [ST][NTILE][64]), then the block map's flags of the tile (int [ST][NTILE], padded to 16 bytes) */
  static constexpr uint32_t DMW_BYTES = DENSE ? ST * NTILE * 64 * 8 : 0;
  static constexpr uint32_t DFL_BYTES = DENSE ? (ST * NTILE * 4 + 15) / 16 * 16 : 0;
  /* mbarriers: full[ST], empty[ST], kv, and (DENSE) bfree[NTILE]: tile c's biases read (a 16-bit additive mask), or
     (PERSIST) kve: every consumer warp is done with a tile's K and V */
  static constexpr uint32_t NBAR = 2 * ST + 1 + (DENSE ? NTILE : 0) + (PERSIST ? 1 : 0);
  /* the bytes with nds dS buffers (+ 1024 slack to align the base) */
  static constexpr size_t smem_for(uint32_t nds) {
    return 2 * K_BYTES + ST * STAGE_BYTES + nds * DS_BYTES + NWG * DQ_BYTES + X_BYTES + 2 * ST * BM * 4 + MSK_BYTES +
           DMW_BYTES + DFL_BYTES + 8 * NBAR + 1024;
  }
  /* dS buffers (XS: one; consumer 1 rewrites it after the exchange's first barrier, where consumer 0
     arrives after its dQ products of the block before) */
  static constexpr uint32_t NDS = XS ? 1 : CS ? (smem_for(2) <= 232448 ? 2 : 1) : 2 * NWG;
  static constexpr uint32_t STAGE_OFF = 2 * K_BYTES;
  /* whether accumulate mode's float32 [key][column] epilogue tile (BN rows of 4 D + 32 bytes) fits K's, V's and the
     stages' bytes (bwd_sm90a_kernel's epilogue) */
  static constexpr bool ACCV = (size_t)BN * (4 * D + 32) <= (size_t)STAGE_OFF + (size_t)ST * STAGE_BYTES;
  static constexpr uint32_t DS_OFF = STAGE_OFF + ST * STAGE_BYTES; /* [NWG][2] (CS: [NDS]) dS buffers */
  static constexpr uint32_t DQ_OFF = DS_OFF + NDS * DS_BYTES;      /* [NWG] dQ staging buffers */
  static constexpr uint32_t X_OFF = DQ_OFF + NWG * DQ_BYTES;    /* XS: the exchange buffer */
  static constexpr uint32_t STAT_OFF = X_OFF + X_BYTES;         /* lse [ST][BM], delta [ST][BM] */
  /* MASKED: the rows' key intervals int2 (lo, hi) [ST][BM], then per stage the int4 (union lo, union
     hi, intersection lo, intersection hi) of the block's rows (rows past Nq left out) */
  static constexpr uint32_t MSK_OFF = STAT_OFF + 2 * ST * BM * 4;
  static constexpr uint32_t DMW_OFF = MSK_OFF + MSK_BYTES;
  static constexpr uint32_t DFL_OFF = DMW_OFF + DMW_BYTES;
  static constexpr uint32_t BAR_OFF = DFL_OFF + DFL_BYTES; /* full[ST], empty[ST], kv, bfree[NTILE] */
  static constexpr size_t SMEM = BAR_OFF + 8 * NBAR + 1024; /* + slack to align the base */
  static_assert(SMEM == smem_for(NDS), "sm90 backward layout");
  /* PERSIST (the persistent unmasked kernel, bwd_sm90a_kernel): the epilogue's [key][column] tiles of dK and dV in
     the dS buffers and the dQ staging buffers (EPI_BYTES from DS_OFF), since K, V and the stages may already hold the
     next tile's: 16-bit rows of EPI_P bytes (16 more than D's: conflict-free fragment writes), or in accumulate mode
     float32 rows of EPI_P4 (32 more). A pass stages epi_tensors(P) of the two (both, or dK then dV) for epi_rows(P)
     of the BN keys (all, or one consumer's 64): 16-bit one pass at D = 64 / 96, two at 128; float32 one at 64, two
     at 96, four at 128. */
  static constexpr uint32_t EPI_P = 2 * D + 16, EPI_P4 = 4 * D + 32, EPI_BYTES = NDS * DS_BYTES + NWG * DQ_BYTES;
  __host__ __device__ static constexpr int epi_rows(uint32_t P) { return (size_t)BN * P <= EPI_BYTES ? BN : 64; }
  __host__ __device__ static constexpr int epi_tensors(uint32_t P) { return 2 * (size_t)epi_rows(P) * P <= EPI_BYTES ? 2 : 1; }
  static_assert(!PERSIST || (!MASKED && !CS && !XS && NWG == 2 && OVL && X_BYTES == 0 &&
                             (size_t)epi_rows(EPI_P4) * EPI_P4 <= EPI_BYTES),
                "PERSIST: the unmasked kernel of two consumers in the overlapped order (SPLITO, TMAO)");
  /* DENSE with a 16-bit additive mask (the launch's SMEM_BIAS bytes instead of SMEM): one bias tile per block-map
     tile after the barriers, BM rows x its 64 keys as TMA's 128-byte swizzle writes them (row r's 16-byte chunk c at
     chunk c ^ (r % 8)), rewritten for the tile's next partial block once its consumers have read this one (bfree) */
  static constexpr uint32_t BIAS_TILE = BM * 128;
  static constexpr uint32_t BIAS_OFF = (BAR_OFF + 8 * NBAR + 1023) / 1024 * 1024;
  static constexpr size_t SMEM_BIAS = DENSE ? BIAS_OFF + NTILE * BIAS_TILE + 1024 : SMEM;
  /* whether the bias tiles fit the 227 KB (not the masked D = 256 column split: 2 KB short) */
  static constexpr bool BIAS_OK = DENSE && SMEM_BIAS <= 232448;
  /* D multiple of 32 (the dQ boxes, the 32-column wgmma pieces); D <= 128 unless CS (dK and dV of
     64 keys x D in registers: 2 D / 2 fp32 a thread) */
  static_assert(BN % 64 == 0 && BN <= 256 && D % 32 == 0 && D >= 64 && D <= 256 && (CS || D <= 128) &&
                    (!CS || (BN == 64 && D % 64 == 0)),
                "bad sm90 backward tile");
  static_assert((DQ == SM90_DQ_CS || DQ == SM90_DQ_CSX || DQ == SM90_DQ_CSO) == CS,
                "SM90_DQ_CS(X / O) is the column-split kernel's dQ");
  static_assert(!CSO || !MASKED, "SM90_DQ_CSO: unmasked kernel (p_only's mask is causal / Nk)");
  /* SM90_DQ_SPLIT: two consumers that meet at every block (the masked kernel skips empty blocks per
     consumer, so it keeps its own dQ adds) */
  static_assert(!SPLIT || (NWG == 2 && !MASKED), "SM90_DQ_SPLIT: two consumers, unmasked kernel");
  /* SM90_DQ_TMAO: dQ in at most two 64-column slabs (D <= 128), each consumer on its own 64 keys */
  static_assert(!TMAO || (!CS && NH <= 2), "SM90_DQ_TMAO: D <= 128, not the column split");
  /* the swizzled tiles (K, V, each stage's Q and dO halves, the dS buffers) start at 1024-byte
     boundaries, which the 128-byte swizzle of TMA and of the wgmma descriptors assumes */
  static_assert(HALF_Q % 1024 == 0 && HALF_K % 1024 == 0 && STAGE_OFF % 1024 == 0 && DS_OFF % 1024 == 0 &&
                    DS_BYTES % 1024 == 0 && STAGE_BYTES % 1024 == 0 && DQ_OFF % 1024 == 0 && DQ_BYTES % 1024 == 0,
                "sm90 backward tiles not 1024-byte aligned");
  static_assert(BAR_OFF % 8 == 0 && MSK_OFF % 16 == 0 && DMW_OFF % 16 == 0, "mbarriers need 8-byte alignment, the int4 16");
  /* MASKED: producer warps 2 .. 1 + NWG write the consumers' dense-mask words (one each), and
     each consumer's 64 keys and each block's BM rows are one block-map tile */
  static_assert(!DENSE || (NWG <= 2 && BM == BMAP_TILE), "sm90 backward: dense-mask tiles");
  /* 128 query rows a stage: TMAO's unmasked kernel only (its dQ in two halves; masked kernels' tiles are 64 rows) */
  static_assert(BM == 64 || (BM == 128 && TMAO && !MASKED), "BMQ = 128: SM90_DQ_TMAO, unmasked");
  static_assert(2 * K_BYTES < (1u << 20) && STAGE_BYTES < (1u << 20), "mbarrier transaction count overflow");
};

/* A compile-time loop: f(integral_constant<int, I>) for I = I0 .. I1 - 1. */
template <int I0, int I1, typename F> __device__ __forceinline__ void sm90_static_for(F &&f) {
  if constexpr (I0 < I1) {
    f(std::integral_constant<int, I0>{});
    sm90_static_for<I0 + 1, I1>(f);
  }
}

/* The first column of dK / dV accumulator tile dt (8 columns) of consumer wg: 8 dt, or under the
   column split its half's (D / 2) dt, but for D = 192 (DW = 96), whose second consumer holds
   columns 128..191 then 96..127 (the same 64 + 32 pieces as the first's 0..63, 64..95). */
template <bool CS, int DW>
__device__ __forceinline__ int kv_col(int wg, int dt) {
  if constexpr (!CS) return dt * 8;
  else if constexpr (DW % 64 == 0) return wg * DW + dt * 8;
  else return wg == 0 ? dt * 8 : dt < 8 ? 128 + dt * 8 : 32 + dt * 8;
}

/* The TMA maps of one call (passed by value in kernel parameter space). */
struct Sm90BwdMaps {
  CUtensorMap q, k, v, dout;
  CUtensorMap dq; /* the fp32 dQ workspace (SM90_DQ_TMA only) */
  CUtensorMap bias; /* DENSE with a 16-bit additive mask: boxes of 64 keys x BM rows (else zero) */
};

/* dst[0..1] += (x, y): one fp32 vector atomic (sm_90). */
__device__ __forceinline__ void sm90_atomic_add2(float *dst, float x, float y) {
  atomicAdd(reinterpret_cast<float2 *>(dst), make_float2(x, y));
}

/* Stages a consumer warpgroup's dQ partial (NCOL fp32 columns of its wgmma fragments: acc[nt]
   holds columns 8 nt + 2 t4, + 1 of rows ra and ra + 8) in its staging buffer dqw (shared address
   sdqw) as NCOL / 32 boxes of BM rows x 32 columns, 128-byte swizzled as TMA reads them: (r, c) at
   128 r + 16 ((c / 4) ^ (r % 8)) + 4 (c % 4); then the issuing thread reduce-adds the boxes into
   the fp32 workspace at columns col0.. of rows q0.. of slice z. The buffer is free once the
   previous reduce-adds have read it (bulk_wait_read); bar: the warpgroup's named barrier. */
template <int BM, int NCOL>
__device__ __forceinline__ void sm90_dq_reduce(const float (&acc)[NCOL / 8][4], unsigned char *dqw, uint32_t sdqw,
                                               const CUtensorMap *map, bool issuer, int bar, int ra, int t4,
                                               int col0, int q0, int z) {
  if (issuer) bulk_wait_read();
  named_bar_sync(bar, 128);
#pragma unroll
  for (int nt = 0; nt < NCOL / 8; ++nt) {
    const int cc = (nt & 3) * 8 + 2 * t4;
    const uint32_t box = (uint32_t)(nt >> 2) * (BM * 128);
    const uint32_t oa = box + (uint32_t)ra * 128 + ((uint32_t)((cc >> 2) ^ (ra & 7)) << 4) + (cc & 3) * 4;
    *(float2 *)(dqw + oa) = make_float2(acc[nt][0], acc[nt][1]);
    *(float2 *)(dqw + oa + 8 * 128) = make_float2(acc[nt][2], acc[nt][3]); /* row ra + 8: same swizzle */
  }
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); /* visible to the TMA (async proxy) */
  named_bar_sync(bar, 128);
  if (issuer) {
#pragma unroll
    for (int bx = 0; bx < NCOL / 32; ++bx) tma_reduce_add_3d(map, sdqw + bx * (BM * 128), col0 + bx * 32, q0, z);
    bulk_commit();
  }
}

/* The CTA's (batch, kv head, first key) from its index in the 1-D grid of nkb key blocks x Hkv x B. hg = 0: the
   key block fastest (a head's CTAs together: its Q, dO and dQ shared in L2 by the CTAs at work), as a 3-D grid
   would launch them. hg > 0 (causal calls since the thirteenth session: launch_bwd_sm90a; tuning builds'
   JFA_TUNE_SM90_BWD_HG): groups of hg (batch, kv head) pairs (common/cta_order.h's cta_grouped_of on a 1-D grid), each
   group's CTAs by key block then pair, key block 0 first: under causal masks key block 0 sees the most query
   blocks, so each group launches its longest CTAs first (the greedy schedule's tail is then short) while the CTAs
   at work share at most ~hg heads' Q, dO and dQ. tl: the tile's index in that order (blockIdx.x, or the persistent
   kernel's walk). */
template <int BN>
__device__ __forceinline__ void bwd_cta_of(const jfa_problem_t &p, int hg, int64_t tl, int64_t *b, int64_t *hk,
                                           int64_t *n0) {
  const cta_xyz_t c = cta_grouped_of(tl, (p.Nk + BN - 1) / BN, p.Hkv, p.B, hg, 1);
  *hk = c.y;
  *b = c.z;
  *n0 = c.x * BN;
}

/* MP: softmax_ds's per-element mask under one branch per block (need_mask or a partial dense tile), as p_only's
   already is, instead of inside every block's loop (tiles.h kSm90BwdMp: the default since the tenth session) */
template <typename T, int D, int BN, int ST, int DQ, bool MASKED, bool CS, bool MP = false, int BMQ = 64,
          bool PERSIST = false>
__global__ void __launch_bounds__(Sm90Bwd<D, BN, ST, DQ, MASKED, CS, BMQ, PERSIST>::NTHREADS, 1)
    bwd_sm90a_kernel(const __grid_constant__ BwdArgs a, const __grid_constant__ Sm90BwdMaps tm, int hg) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  typedef Sm90Bwd<D, BN, ST, DQ, MASKED, CS, BMQ, PERSIST> C;
  constexpr int BM = C::BM, NH = C::NH, NQ = BM / 8, DT = C::DW / 8, KQ = BM / 16;
  extern __shared__ __align__(1024) unsigned char smraw[];
  const uint32_t sbase = (smem_u32(smraw) + 1023u) & ~1023u;
  unsigned char *gbase = smraw + (sbase - smem_u32(smraw)); /* the same base, generic pointer */
  const uint32_t sK = sbase, sV = sbase + C::K_BYTES, sSTG = sbase + C::STAGE_OFF, sDS = sbase + C::DS_OFF;
  float *lse_s = (float *)(gbase + C::STAT_OFF), *del_s = lse_s + ST * BM;
  int2 *iv_s = (int2 *)(gbase + C::MSK_OFF);         /* MASKED: [ST][BM] rows' key intervals */
  int4 *cls_s = (int4 *)(gbase + C::MSK_OFF + ST * BM * 8); /* MASKED: [ST] union / intersection */
  uint64_t *dmw_s = (uint64_t *)(gbase + C::DMW_OFF); /* MASKED, boolean dense mask: [ST][NWG][64] */
  int *dfl_s = (int *)(gbase + C::DFL_OFF);            /* its tiles' block-map flags [ST][NWG] */
  /* MASKED with a boolean dense mask (its bits and block map, common/mask.cuh): producer warps
     2 .. 1 + NWG also write each stage's dense words and flags, and arrive on its `full` */
  const bool dense = C::DENSE && a.mk.bm_bits != nullptr;
  /* DENSE with a 16-bit additive mask (family.cu: bwd_bias_why_not; the launch gave SMEM_BIAS bytes and the bias
     map): producer warp 2 + c classes tile c by the block map, as for boolean words, and brings a partial tile's
     biases by TMA into bias tile c; its consumers add them to their scores */
  const bool biasd = C::BIAS_OK && mask_bias16(a.mk);
  const bool dmap = dense || biasd;
  const uint32_t bar = sbase + C::BAR_OFF; /* full[ST], empty[ST], kv, bfree[NTILE] */
  const uint32_t bar_kv = bar + 16 * ST, bar_bfree = bar_kv + 8;
  const uint32_t bar_kve = bar_kv + 8; /* PERSIST (no bfree: the unmasked kernel) */

  const jfa_problem_t &p = a.p;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t grp = p.Hq / p.Hkv;
  /* The tile: BN keys [n0, n0 + BN) of one (batch b, kv head hk), the query blocks [qb_start, nqb) that may see
     them (causal, or MASKED: the rows of mask_query_range; the sm80 backward's function) and the iterations (GQA
     heads x blocks). Computed by every thread: the producer and the consumers walk the same blocks. */
  int64_t b, hk, n0, qb_start, nqb, total;
  auto enter = [&](int64_t tl) {
    bwd_cta_of<BN>(p, hg, tl, &b, &hk, &n0);
    /* a band (sm90_bwd_band: windows, aligned packed sequences) in the unmasked kernel: mask_query_range's rows */
    const BwdQueryBlocks qbs = (!MASKED && (a.mk.windowed || a.mk.nseq > 0))
                                   ? bwd_query_blocks<BM, BN, true>(p, a.mk, n0)
                                   : bwd_query_blocks<BM, BN, MASKED>(p, a.mk, n0);
    qb_start = qbs.qb_start, nqb = qbs.nqb;
    total = qbs.per_head * grp;
  };
  enter(blockIdx.x);
  /* PERSIST (the persistent unmasked kernel: launch_bwd_sm90a, tiles.h kSm90BwdPersist): min(SMs, tiles) CTAs, each
     walking the tiles of bwd_cta_of's order in the forward's static snake (fwd_persist.cuh): in round r of G =
     gridDim.x CTAs, CTA c takes tile r G + c (r even) or r G + G - 1 - c (r odd), so that the rounds of causal
     calls' tiles, longest first, even out across the CTAs. Every role runs its part of each tile in
     turn; the stages' rounds (st, ph) and the dS buffers (dsb) run on across tiles (both sides count the same
     blocks), K's and V's barrier kv completes once per tile with blocks (its phase: tk, the walk's tiles with blocks
     before the current one). The producer loads a tile's K and V once every consumer warp has arrived on kve after
     its last block of the tile before (the tile's stages follow as the consumers release them), so that they land
     while the consumers store that tile's dK and dV, through the dS and dQ staging buffers (not K, V or the
     stages). bench/bwd_persist_protocol.py models this synchronisation (test_cpu_bwd_persist_protocol): keep them in
     step. */
  int tl = blockIdx.x, tk = 0, rw = 0; /* the tile, tk, the walk's round (sm90_bwd_persist: fewer than 2^29 tiles) */
  /* the walk's next tile (PERSIST), false at its end */
  auto next_tile = [&]() {
    if constexpr (!PERSIST) return false;
    tk += total > 0 ? 1 : 0;
    ++rw;
    tl = rw * (int)gridDim.x + ((rw & 1) ? (int)gridDim.x - 1 - (int)blockIdx.x : (int)blockIdx.x);
    if (tl >= (p.Nk + BN - 1) / BN * p.Hkv * p.B) return false;
    enter(tl);
    return true;
  };

  /* tuning builds' probe (common/probe.cuh): slot 0 the CTA's start, 1 + c consumer c's first block, 3 + c the end
     of its blocks, 5 + c the end of its dK / dV stores (c < 2) */
  if (threadIdx.x == 0) {
    JFA_PROBE(a.probe, JFA_CTA_LINEAR(), 0);
    JFA_PROBE_ID(a.probe, JFA_CTA_LINEAR(), total);
    /* the tensor maps fetched ahead of the first loads (tuning builds' JFA_TUNE_BWD_OLD=1 / 2: not, as before the
       fifteenth session) */
    if (a.tune_old == 0 && (PERSIST || total > 0)) {
      tma_prefetch_desc(&tm.k);
      tma_prefetch_desc(&tm.v);
      tma_prefetch_desc(&tm.q);
      tma_prefetch_desc(&tm.dout);
      if ((DQ == SM90_DQ_TMA || C::TMAO || C::SPLIT || CS) && !a.skip_dq) tma_prefetch_desc(&tm.dq);
    }
#pragma unroll
    for (int s = 0; s < ST; ++s) {
      /* the producer warps' lanes (lse / delta, MASKED: intervals, dense: the dense words) */
      mbar_init(bar + 8 * s, MASKED ? (dmap ? 64 + 32 * C::NTILE : 64) : 32);
      mbar_init(bar + 8 * (ST + s), 4 * C::NWG); /* one arrival per consumer warp */
    }
    mbar_init(bar_kv, 1);
    if constexpr (C::DENSE) {
#pragma unroll
      for (int c = 0; c < C::NTILE; ++c) mbar_init(bar_bfree + 8 * c, CS ? 4 * C::NWG : 4); /* one arrival per warp reading tile c */
    }
    if constexpr (PERSIST) mbar_init(bar_kve, 4 * C::NWG); /* every consumer warp after its last block of a tile */
    mbar_fence_init();
  }
  __syncthreads();

  if (warp < 4) {
    /* producer warpgroup: warp 0 works, the three others idle */
    /* MASKED: 40 (warp 1's interval loop spills at 24 and 32; the consumers take 232) */
    /* the masked D = 192 column split: 48 / 224 (its dense-mask loops spilled 8 bytes at 40; its consumers need <= 224) */
    if constexpr (MASKED && CS && D == 192) asm volatile("setmaxnreg.dec.sync.aligned.u32 48;\n" ::: "memory");
    else if constexpr (MASKED) asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
    else asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory"); /* NWG = 3 too */
    if constexpr (PERSIST) {
      if (warp == 0) {
        /* the persistent producer (PERSIST): warp 0's loads as below, tile after tile of the walk, its state in 32
           bits (sm90_bwd_persist: fewer than 2^29 tiles, rows and heads < 2^30) for its 24 registers (ptxas still
           spills ~290-350 bytes of it, ~500 in 64 bits; splitting the stats off to warp 1 saved nothing); the stats
           read once the stage's TMA is issued. The stages' round (st, ph) runs on across tiles; gw: the blocks of the
           walk so far, up to ST (each stage's first use waits for no release). A tile's K and V are loaded after its
           first block's stage, as soon as every consumer warp is past its last block of the tile before (kve): that
           stage, released by the tile before's last block but one, then lands while the consumers finish the tile
           before. */
        int st = 0, gw = 0;
        uint32_t ph = 0;
        do {
          if (total == 0) continue; /* (to the walk's next tile) */
          const int bb = (int)b, qs = (int)qb_start, qe = (int)nqb, tot = (int)total;
          int h = (int)(hk * grp), qb = qs;
          for (int it = 0; it < tot; ++it) {
            if (gw + it >= ST) mbar_wait(bar + 8 * (ST + st), ph ^ 1u); /* the consumers released the stage */
            const int q0 = qb * BM;
            const uint32_t full = bar + 8 * st;
            if (lane == 0) {
              mbar_expect_tx(full, C::STAGE_BYTES);
              const uint32_t dst = sSTG + st * C::STAGE_BYTES;
#pragma unroll
              for (int hh = 0; hh < NH; ++hh) {
                tma_load_4d(dst + hh * C::HALF_Q, &tm.q, full, hh * 64, q0, h, bb);
                tma_load_4d(dst + (NH + hh) * C::HALF_Q, &tm.dout, full, hh * 64, q0, h, bb);
              }
            }
            float lr[BM / 32], dr[BM / 32];
            bwd_load_stats<BM, true>(a, bb, h, q0, lane, lr, dr);
            bwd_store_stats<BM>(lse_s + st * BM, del_s + st * BM, lane, lr, dr);
            mbar_arrive(full);
            if (it == 0 && lane == 0) {
              /* the tile before's K and V are free once every consumer warp is past its last block */
              if (tk > 0) mbar_wait(bar_kve, (uint32_t)((tk - 1) & 1));
              mbar_arrive_expect_tx(bar_kv, 2 * C::K_BYTES);
#pragma unroll
              for (int hh = 0; hh < NH; ++hh) {
                tma_load_4d(sK + hh * C::HALF_K, &tm.k, bar_kv, hh * 64, (int)n0, (int)hk, bb);
                tma_load_4d(sV + hh * C::HALF_K, &tm.v, bar_kv, hh * 64, (int)n0, (int)hk, bb);
              }
            }
            if (++qb == qe) {
              qb = qs;
              ++h;
            }
            if (++st == ST) {
              st = 0;
              ph ^= 1u;
            }
          }
          gw = min(ST, gw + tot);
        } while (next_tile());
      }
    } else if (warp == 0 && total > 0) {
      if (lane == 0) {
        mbar_arrive_expect_tx(bar_kv, 2 * C::K_BYTES);
#pragma unroll
        for (int hh = 0; hh < NH; ++hh) {
          tma_load_4d(sK + hh * C::HALF_K, &tm.k, bar_kv, hh * 64, (int)n0, (int)hk, (int)b);
          tma_load_4d(sV + hh * C::HALF_K, &tm.v, bar_kv, hh * 64, (int)n0, (int)hk, (int)b);
        }
      }
      int64_t h = hk * grp, qb = qb_start;
      int st = 0;
      uint32_t ph = 0; /* parity of the current round of the stages */
      /* lse and Delta of the block's rows (lane l: rows l, l + 32, ...), read from global memory one
         iteration ahead, so that their latency passes while the stage is still in use */
      float lr[BM / 32], dr[BM / 32];
      bwd_load_stats<BM, true>(a, b, h, qb * BM, lane, lr, dr);
      for (int64_t it = 0; it < total; ++it) {
        if (it >= ST) mbar_wait(bar + 8 * (ST + st), ph ^ 1u); /* the consumers released the stage */
        const int64_t q0 = qb * BM;
        const uint32_t full = bar + 8 * st;
        /* the stage's TMA before the stats' writes, which wait for their loads (the first block's latency): the
           barrier's bytes raised first, lane 0's arrival after its writes (tuning builds' JFA_TUNE_BWD_OLD=1: the
           writes first, as before the fourteenth session) */
        const bool tma_first = a.tune_old != 1;
        if (lane == 0) {
          if (tma_first) mbar_expect_tx(full, C::STAGE_BYTES);
          else bwd_store_stats<BM>(lse_s + st * BM, del_s + st * BM, lane, lr, dr);
          if (!tma_first) mbar_arrive_expect_tx(full, C::STAGE_BYTES);
          const uint32_t dst = sSTG + st * C::STAGE_BYTES;
#pragma unroll
          for (int hh = 0; hh < NH; ++hh) {
            tma_load_4d(dst + hh * C::HALF_Q, &tm.q, full, hh * 64, (int)q0, (int)h, (int)b);
            tma_load_4d(dst + (NH + hh) * C::HALF_Q, &tm.dout, full, hh * 64, (int)q0, (int)h, (int)b);
          }
        }
        if (lane != 0 || tma_first) {
          bwd_store_stats<BM>(lse_s + st * BM, del_s + st * BM, lane, lr, dr);
          mbar_arrive(full);
        }
        if (++qb == nqb) {
          qb = qb_start;
          ++h;
        }
        if (it + 1 < total) bwd_load_stats<BM, true>(a, b, h, qb * BM, lane, lr, dr);
        if (++st == ST) {
          st = 0;
          ph ^= 1u;
        }
      }
    } else if constexpr (MASKED) {
      if (warp == 1 && total > 0) {
        /* warp 1 (MASKED): per stage, the key intervals of the block's rows (mask_row_keys: window,
           positions, packed sequences, causal; empty past Nq) and the union / intersection of those
           of the rows < Nq, then its 32 arrivals on the stage's `full` (beside warp 0's: the binary
           searches of packed sequences overlap warp 0's loads). 32-bit state (blocks < 2^24, rows
           < 2^30: family.cu); the same blocks in the same order as warp 0 (grp heads x blocks
           qb_start..), the intervals do not depend on the head. */
        const int qbs0 = (int)qb_start, qbe = (int)nqb, ng = (int)grp, nq = (int)p.Nq;
        int st = 0, wait_in = -ST; /* the stage's previous use is awaited once wait_in >= 0 */
        uint32_t ph = 0;
        for (int hg = 0; hg < ng; ++hg)
          for (int qb = qbs0; qb < qbe; ++qb) {
            /* the rows' intervals first (packed sequences: binary searches in global memory), then
               the wait for the stage, so that their latency passes while the stage is in use
               (common/mask.cuh's mask_warp_rows computes the same; inline here, since calling it
               changes the masked D = 192 kernel's machine code, not yet re-run on a GPU) */
            int ulo = 0x7fffffff, uhi = 0, ilo = 0, ihi = 0x7fffffff;
            int2 iv[BM / 32];
#pragma unroll
            for (int r = 0; r < BM / 32; ++r) {
              const int i = qb * BM + lane + 32 * r;
              int lo = 0, hi = 0;
              if (i < nq) {
                int64_t lo64, hi64;
                mask_row_keys(a.mk, i, &lo64, &hi64);
                lo = (int)lo64;
                hi = (int)hi64;
                ilo = max(ilo, lo);
                ihi = min(ihi, hi);
                if (lo < hi) ulo = min(ulo, lo), uhi = max(uhi, hi);
              }
              iv[r] = make_int2(lo, hi);
            }
            ulo = __reduce_min_sync(0xffffffffu, ulo);
            uhi = __reduce_max_sync(0xffffffffu, uhi);
            ilo = __reduce_max_sync(0xffffffffu, ilo);
            ihi = __reduce_min_sync(0xffffffffu, ihi);
            if (wait_in >= 0) mbar_wait(bar + 8 * (ST + st), ph ^ 1u); /* the consumers released it */
            else ++wait_in;
#pragma unroll
            for (int r = 0; r < BM / 32; ++r) iv_s[st * BM + lane + 32 * r] = iv[r];
            if (lane == 0) cls_s[st] = make_int4(ulo, uhi, ilo, ihi);
            mbar_arrive(bar + 8 * st);
            if (++st == ST) {
              st = 0;
              ph ^= 1u;
            }
          }
      } else if (dense && warp >= 2 && warp < 2 + C::NTILE && total > 0) {
        /* warp 2 + c (boolean dense mask): per stage, the block-map flags of tile c (consumer c's 64 keys, CS: the
           CTA's 64 keys, both consumers' x the block's 64 rows) and, for a partial tile, its 64 keys' column
           words: bit r of key k's word = row q0 + r sees key k. The rows' words (bmap layout, one
           64-bit word per row and key tile) are read from global memory (lane l: rows l, l + 32)
           and transposed by ballots, so that each consumer thread tests its elements' bits at
           constant positions of its two keys' words. Rows past Nq read as 0 (never visible).
           The same blocks in the same order as warps 0 and 1; arrives on `full` with its 32 lanes. */
        const int cwg = warp - 2;
        const int64_t kt = (n0 >> 6) + cwg; /* the consumer's key tile */
        const MaskDev &m = a.mk;
        int st = 0, wait_in = -ST;
        uint32_t ph = 0;
        for (int64_t hg = 0; hg < grp; ++hg)
          for (int64_t qb = qb_start; qb < nqb; ++qb) {
            /* the flags, the words and their transpose into registers first (global memory and
               ballots: they overlap the consumers' work on the stage), then the stage's release */
            const int64_t slice = b * m.bm_sb + (hk * grp + hg) * m.bm_sh;
            const int fl = kt < m.bm_kt ? (int)mask_flags_at(m, slice, qb)[kt] : 0;
            uint32_t c0l = 0, c0h = 0, c1l = 0, c1h = 0; /* lane l: the words of keys l, l + 32 */
            if (bmap_partial(fl)) {
              const int64_t i0 = qb * BM + lane, i1 = i0 + 32;
              const uint64_t *rows = mask_words_at(m, slice, i0) + kt;
              const uint64_t r0 = i0 < m.Nq ? rows[0] : 0, r1 = i1 < m.Nq ? rows[32 * m.bm_rw] : 0;
              const uint32_t r0l = (uint32_t)r0, r0h = (uint32_t)(r0 >> 32), r1l = (uint32_t)r1,
                             r1h = (uint32_t)(r1 >> 32);
#pragma unroll 1
              for (int k = 0; k < 32; ++k) {
                const uint32_t bit = 1u << k;
                const uint32_t a0 = __ballot_sync(0xffffffffu, (r0l & bit) != 0);
                const uint32_t a1 = __ballot_sync(0xffffffffu, (r1l & bit) != 0);
                const uint32_t b0 = __ballot_sync(0xffffffffu, (r0h & bit) != 0);
                const uint32_t b1 = __ballot_sync(0xffffffffu, (r1h & bit) != 0);
                if (lane == k) c0l = a0, c0h = a1, c1l = b0, c1h = b1;
              }
            }
            if (wait_in >= 0) mbar_wait(bar + 8 * (ST + st), ph ^ 1u); /* the consumers released it */
            else ++wait_in;
            if (bmap_partial(fl)) {
              uint64_t *dst = dmw_s + (st * C::NTILE + cwg) * 64;
              dst[lane] = ((uint64_t)c0h << 32) | c0l;
              dst[lane + 32] = ((uint64_t)c1h << 32) | c1l;
            }
            if (lane == 0) dfl_s[st * C::NTILE + cwg] = fl;
            mbar_arrive(bar + 8 * st);
            if (++st == ST) {
              st = 0;
              ph ^= 1u;
            }
          }
      } else if (biasd && warp >= 2 && warp < 2 + C::NTILE && total > 0) {
        /* warp 2 + c (16-bit additive mask): per stage, the block-map flags of tile c (as above) and, for a partial
           tile, its biases (BM rows x the tile's 64 keys; rows past Nq, keys past Nk: zeros; a broadcast axis at
           coordinate 0) by TMA into bias tile c, once its consumers have read the previous one (bfree: load
           nb waits for phase nb - 1), the bytes counted on the stage's `full` (expected before this warp's
           arrival). The same blocks in the same order as warps 0 and 1; arrives on `full` with its 32 lanes. */
        const int cwg = warp - 2;
        const int kt = (int)(n0 >> 6) + cwg; /* the consumer's key tile */
        const MaskDev &m = a.mk;
        const uint32_t sbias = sbase + C::BIAS_OFF + (uint32_t)cwg * C::BIAS_TILE, bfree = bar_bfree + 8 * cwg;
        const int hb = m.dm.sb ? (int)b : 0;
        int st = 0, wait_in = -ST;
        uint32_t ph = 0, nb = 0;
        for (int hg = 0; hg < (int)grp; ++hg) {
          const int hm = m.dm.sh ? (int)(hk * grp) + hg : 0;
          const unsigned char *fmap = mask_flags_at(m, b * m.bm_sb + (hk * grp + hg) * m.bm_sh, 0) + kt;
          for (int qb = (int)qb_start; qb < (int)nqb; ++qb) {
            const int fl = kt < m.bm_kt ? (int)fmap[(int64_t)qb * m.bm_ft] : 0;
            if (wait_in >= 0) mbar_wait(bar + 8 * (ST + st), ph ^ 1u); /* the consumers released it */
            else ++wait_in;
            if (bmap_partial(fl)) {
              if (nb > 0) mbar_wait(bfree, (nb - 1) & 1u);
              ++nb;
              if (lane == 0) {
                mbar_expect_tx(bar + 8 * st, C::BIAS_TILE);
                tma_load_4d(sbias, &tm.bias, bar + 8 * st, kt * 64, qb * BM, hm, hb);
              }
            }
            if (lane == 0) dfl_s[st * C::NTILE + cwg] = fl;
            mbar_arrive(bar + 8 * st);
            if (++st == ST) {
              st = 0;
              ph ^= 1u;
            }
          }
        }
      }
    }
  } else {
    /* consumer warpgroups: 64 keys each (CS: the same 64, half of the columns each), 16 per warp */
    /* MASKED: 232, so that 40 + 2 x 232 = 3 x 168, the launch's count (ptxas: no spills) */
    if constexpr (MASKED && CS && D == 192) asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    else if constexpr (MASKED) asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    else if constexpr (C::NWG == 3) asm volatile("setmaxnreg.inc.sync.aligned.u32 160;\n" ::: "memory"); /* 24 + 3 x 160 <= 4 x 128 */
    else asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
    const int cw = warp - 4, wg = cw >> 2, wq = cw & 3;
    const int wt = CS ? 0 : wg; /* DENSE: this warpgroup's block-map tile of a stage (CS: the CTA's one) */
    const int g = lane >> 2, t4 = lane & 3;
    const uint32_t krow = CS ? 0u : (uint32_t)wg * 64 * 128; /* its keys inside a K / V slab */
    const uint32_t sDSw = sDS + (CS ? 0u : (uint32_t)wg * 2 * C::DS_BYTES);
    unsigned char *dsw = gbase + C::DS_OFF + (CS ? (size_t)0 : (size_t)wg * 2 * C::DS_BYTES);
    unsigned char *dqw = gbase + C::DQ_OFF + (size_t)wg * C::DQ_BYTES; /* staging (TMA, SPLIT, CS) */
    const uint32_t sDQw = sbase + C::DQ_OFF + (uint32_t)wg * C::DQ_BYTES;
    const bool dq_issuer = (threadIdx.x & 127) == 0; /* issues and waits for the warpgroup's reduce-adds */
    /* the warpgroup's named barriers: 1 + wg (its dS written), 1 + NWG + wg (its dQ staging) */
    const int dqbar = 1 + C::NWG + wg;
    /* CS: this warpgroup's dK / dV columns start at dcol (its slab bytes: dcol / 64 slabs in) */
    const int dcol = CS ? wg * C::DW : 0;
    /* PERSIST: the stage, its round and this warpgroup's dS buffer carried from tile to tile */
    int st_w = 0, dsb_w = 0;
    uint32_t ph_w = 0;
    do {
    const int64_t nw0 = CS ? n0 : n0 + wg * 64; /* this warpgroup's first key */
    float dk[DT][4], dv[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) dk[dt][e] = dv[dt][e] = 0.f;
    if (total > 0) mbar_wait(bar_kv, PERSIST ? (uint32_t)(tk & 1) : 0u);

    /* keys of this warpgroup that exist (local index < klim) */
    const int klim = (int)max((int64_t)0, min((int64_t)64, p.Nk - nw0));
    int64_t h = hk * grp, qb = qb_start;
    int st = st_w, dsb = dsb_w;
    uint32_t ph = ph_w;
    for (int64_t it = 0; it < total; ++it) {
      const int64_t hcur = h, q0 = qb * BM;
      if (++qb == nqb) {
        qb = qb_start;
        ++h;
      }
      const uint32_t sQ = sSTG + st * C::STAGE_BYTES, sO = sQ + NH * C::HALF_Q;
      mbar_wait(bar + 8 * st, ph);
      if (it == 0 && wg < 2 && (threadIdx.x & 127) == 0) JFA_PROBE(a.probe, JFA_CTA_LINEAR(), 1 + wg);

      /* MASKED: the class of this warpgroup's keys [nw0, nw0 + 64) for the block's rows, from the
         union / intersection of their intervals (the producer's cls_s): empty (no row sees one of
         them: no products, no dQ reduce-add, dK / dV unchanged; the stage is released all the same),
         full (inside every row's interval: no per-element test) or partial. Uniform over the
         warpgroup, so its named barriers stay matched. */
      bool live = true, mfull = false, dpart = false, bpart = false;
      uint64_t dwa = 0, dwb = 0; /* dense: the column words of this thread's keys, shifted by 2 t4 */
      if constexpr (MASKED) {
        const int4 c = cls_s[st];
        const int k0 = (int)nw0;
        live = c.x < c.y && c.x < k0 + 64 && c.y > k0;
        mfull = c.z <= k0 && c.w >= k0 + 64;
        /* a dense mask's class of the tile (block map): empty skips it like the intervals', full needs no
           per-element work, partial tests each element's bit (boolean: dpart) or adds its bias (bpart) */
        if (dmap) {
          const int fl = dfl_s[st * C::NTILE + wt];
          live = live && !bmap_empty(fl);
          dpart = dense && bmap_partial(fl);
          bpart = biasd && bmap_partial(fl);
          /* a partial bias tile the intervals leave empty: released unread (the producer loaded it all the same) */
          if (bpart && !live) {
            __syncwarp();
            if (lane == 0) mbar_arrive(bar_bfree + 8 * wt);
          }
        }
      }
      if (live) {
        /* S^T = K Q^T, dP^T = V dO^T: 64 keys x BM queries, k16 steps along D (XS: consumer 0 the
           first, consumer 1 the second, both into dp: no branch, one register layout) */
        float s[NQ][4], dp[NQ][4];
        wg_fence();
        auto score_products = [&](float *acc, uint32_t sA, uint32_t sB) {
#pragma unroll
          for (int kk = 0; kk < D / 16; ++kk) {
            const uint32_t ko = (kk >> 2) * C::HALF_K + krow + (kk & 3) * 32, qo = (kk >> 2) * C::HALF_Q + (kk & 3) * 32;
            wgmma_ss<T, BM, 0>(acc, wg_desc(sA + ko, 16, 1024), wg_desc(sB + qo, 16, 1024), kk > 0);
          }
        };
        if constexpr (C::XS) {
          score_products(&dp[0][0], wg == 0 ? sK : sV, wg == 0 ? sQ : sO);
        } else if constexpr (C::OV) {
          /* OVL: two commit groups; P is computed once S^T is done, while dP^T runs (dp is waited
             for below, before dS) */
          score_products(&s[0][0], sK, sQ);
          wg_commit();
          score_products(&dp[0][0], sV, sO);
          wg_commit();
          wg_wait<1>();
          wg_reg_fence<NQ * 4>(&s[0][0]);
        } else {
          score_products(&s[0][0], sK, sQ);
          score_products(&dp[0][0], sV, sO);
        }
        if constexpr (!C::OV) {
          wg_commit();
          wg_wait<0>();
          if constexpr (!C::XS) wg_reg_fence<NQ * 4>(&s[0][0]); /* XS: s is not live yet */
          wg_reg_fence<NQ * 4>(&dp[0][0]);
        }
        /* a partial tile of a 16-bit additive mask: its biases added to the raw scores as bias / scale (the sm90
           forward's FAST arithmetic: P below is exp2((S + bias / scale) scale log2(e) - lse)), read from the
           consumer's bias tile by ldmatrix .trans (the tile is [query][key], S^T's fragments [key][query]): matrix j
           of pair pr holds queries 16 pr + 8 (j >> 1).. x keys 16 wq + 8 (j & 1)..; lane 8 j + i gives query row 16 pr
           + 8 (j >> 1) + i, its 16-byte chunk 2 wq + (j & 1) swizzled by i; register j then holds this thread's
           (query 8 nt + 2 t4 and + 1, key kl) of tile nt = 2 pr + (j >> 1), e = 2 (j & 1) + 0 / 1. Then the tile is
           released to producer warp 2 + wg (bfree). A -inf bias gives P = 0, a NaN one a NaN P (the row's lse is NaN). */
        if constexpr (C::BIAS_OK) {
          if (bpart) {
            /* the lane's address from %tid.x read here (asm volatile: not hoisted out of the block loop, where it
               would hold a register through every block: ptxas spilled 12 bytes of the D = 128 consumers so) */
            uint32_t tid;
            asm volatile("mov.u32 %0, %%tid.x;\n" : "=r"(tid));
            const uint32_t mj = (tid >> 3) & 3, mi = tid & 7, twq = (tid >> 5) & 3, twg = CS ? 0u : (tid >> 7) - 1;
            const uint32_t la = sbase + C::BIAS_OFF + twg * C::BIAS_TILE + (8 * (mj >> 1) + mi) * 128 +
                                (((2 * twq + (mj & 1)) ^ mi) << 4);
            auto add_bias = [&](auto bf16) {
#pragma unroll
              for (int pr = 0; pr < NQ / 2; ++pr) {
                uint32_t r[4];
                ldmatrix_x4_trans(la + pr * 2048, r);
#pragma unroll
                for (int j = 0; j < 4; ++j) {
                  const float2 f = mask_bias16x2_float<decltype(bf16)::value>(r[j]);
                  float *x = &s[2 * pr + (j >> 1)][2 * (j & 1)];
                  x[0] = fmaf(f.x, a.bias_mul, x[0]);
                  x[1] = fmaf(f.y, a.bias_mul, x[1]);
                }
              }
            };
            if (a.mk.dm_kind == MASK_DENSE_BF16) add_bias(std::true_type{});
            else add_bias(std::false_type{});
            __syncwarp();
            if (lane == 0) mbar_arrive(bar_bfree + 8 * wt);
          }
        }
        if constexpr (C::DENSE) {
          /* a partial boolean tile: this thread's two keys' words, read here rather than before the score products
             (four registers fewer through them; the stage is in use until the block's end) */
          if (dpart) {
            const uint64_t *cw = dmw_s + (st * C::NTILE + wt) * 64 + wq * 16 + g;
            dwa = cw[0] >> (2 * t4);
            dwb = cw[8] >> (2 * t4);
          }
        }

        /* P^T and dS^T in place (s <- P, dp <- dS). Key kl (local to the warpgroup) is visible to
           query qi (local to the block) iff kl < klim and clo <= kl - qi <= cdiff (causal and a band's
           right side give cdiff, its left side clo), or, MASKED, iff nw0 + kl is in the row's interval
           [lo, hi) (which holds causal and ends at Nk). */
        const float *lb = lse_s + st * BM, *db = del_s + st * BM;
        const int2 *ivb = iv_s + st * BM;
        int cdiff = 1 << 30, clo = -(1 << 30);
        if (!MASKED) {
          /* key nw0 + kl of query q0 + qi: rel = pos_k - pos_q = (kl - qi) - cd */
          const int64_t cd = (p.q_pos0 + q0) - (p.k_pos0 + nw0);
          auto clampi = [](int64_t x) { return (int)max(min(x, (int64_t)(1 << 30)), -(int64_t)(1 << 30)); };
          if (p.causal) cdiff = clampi(cd);
          if (a.mk.windowed) {
            if (a.mk.wr >= 0) cdiff = min(cdiff, clampi(cd + a.mk.wr));
            if (a.mk.wl >= 0) clo = clampi(cd - a.mk.wl);
          }
        }
        const bool need_mask = MASKED ? !mfull : (nw0 + 64 > p.Nk || cdiff < 63 || clo > -(BM - 1));
        /* MASKED: P of element e of tile nt (query qi, key kl) zeroed where the mask hides it: the row's
           interval (where need_mask) and, in a dense partial tile, bit qi of key kl's word (qi - 2 t4 =
           8 nt + (e & 1): a constant position) */
        auto mask_p = [&](float &pv, int qi, int kl, int nt, int e) {
          if (need_mask) {
            const int2 iv = ivb[qi];
            const int kj = (int)nw0 + kl;
            if (kj < iv.x || kj >= iv.y) pv = 0.f;
          }
          if (dpart && !(((e >> 1) ? dwb : dwa) >> (nt * 8 + (e & 1)) & 1u)) pv = 0.f;
        };
        /* P from the scores sc (s <- P; DSV: dp <- dS = P (dP - delta) as well); MK false: no element masked
           (MP: the block needs no mask) */
        auto softmax_ds_mk = [&](const float *sc, auto dsv, auto mk) {
#pragma unroll
          for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int qi = nt * 8 + 2 * t4 + (e & 1), kl = wq * 16 + g + (e >> 1) * 8;
              float pv = p_cap1(exp2f(sc[nt * 4 + e] * a.scale_log2 - lb[qi]));
              if constexpr (!decltype(mk)::value) {
              } else if constexpr (MASKED) {
                mask_p(pv, qi, kl, nt, e);
              } else {
                if (need_mask && (kl >= klim || kl - qi > cdiff || kl - qi < clo)) pv = 0.f;
              }
              s[nt][e] = pv;
              if constexpr (decltype(dsv)::value) dp[nt][e] = pv * (dp[nt][e] - db[qi]);
            }
        };
        auto softmax_ds = [&](const float *sc, auto dsv) {
          if constexpr (MP) {
            if (need_mask || dpart) softmax_ds_mk(sc, dsv, std::true_type{});
            else softmax_ds_mk(sc, dsv, std::false_type{});
          } else {
            softmax_ds_mk(sc, dsv, std::true_type{});
          }
        };
        if constexpr (C::XS) {
          /* the exchange (barriers 5 and 6, both consumers): consumer 0 writes P, consumer 1 reads
             it, writes dS = P (dP - delta) over it (each thread the same elements: no hazard
             between threads) and the 16-bit dS for dQ; consumer 0 reads dS after barrier 6.
             Consumer 0 writes the next block's P only after barrier 6, consumer 1 reads it only
             after that block's barrier 5. */
          float4 *xb = (float4 *)(gbase + C::X_OFF) + (threadIdx.x & 127);
          if (wg == 0) {
            softmax_ds(&dp[0][0], std::false_type{}); /* the scores are in dp (XS) */
#pragma unroll
            for (int nt = 0; nt < NQ; ++nt) xb[nt * 128] = make_float4(s[nt][0], s[nt][1], s[nt][2], s[nt][3]);
            named_bar_sync_roles(5, 256); /* consumer 1 waits at its own sites (barriers 5, 6) */
            named_bar_sync_roles(6, 256);
#pragma unroll
            for (int nt = 0; nt < NQ; ++nt) {
              const float4 x = xb[nt * 128];
              dp[nt][0] = x.x, dp[nt][1] = x.y, dp[nt][2] = x.z, dp[nt][3] = x.w;
            }
          } else {
            named_bar_sync_roles(5, 256);
#pragma unroll
            for (int nt = 0; nt < NQ; ++nt) {
              const float4 x = xb[nt * 128];
              s[nt][0] = x.x, s[nt][1] = x.y, s[nt][2] = x.z, s[nt][3] = x.w;
#pragma unroll
              for (int e = 0; e < 4; ++e) dp[nt][e] = s[nt][e] * (dp[nt][e] - db[nt * 8 + 2 * t4 + (e & 1)]);
              xb[nt * 128] = make_float4(dp[nt][0], dp[nt][1], dp[nt][2], dp[nt][3]);
            }
            if (!a.skip_dq) {
              /* the block's dS (all queries, 16-bit) into the one dS buffer, as below */
              unsigned char *dsp = dsw;
#pragma unroll
              for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                  const int qi = nt * 8 + 2 * t4 + (e & 1), kl = wq * 16 + g + (e >> 1) * 8;
                  const uint32_t off = (uint32_t)qi * 128 + ((uint32_t)((kl >> 3) ^ (qi & 7)) << 4) + (uint32_t)(kl & 7) * 2;
                  *(T *)(dsp + off) = from_f<T>(dp[nt][e]);
                }
              asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); /* visible to wgmma (async proxy) */
            }
            named_bar_sync_roles(6, 256);
          }
        } else if constexpr (C::OV) {
          /* P only (dP^T may still run): one FFMA and one ex2.approx.ftz a probability (P below
             2^-126 flushes to zero), and the per-element mask only in blocks that need it (MASKED,
             TMAO: the interval test where the keys are not full for every row, the dense bit test
             in a partial tile: mask_p, as softmax_ds) */
          auto p_only = [&](auto mk) {
#pragma unroll
            for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
              for (int e = 0; e < 4; ++e) {
                const int qi = nt * 8 + 2 * t4 + (e & 1), kl = wq * 16 + g + (e >> 1) * 8;
                float pv = p_cap1(exp2_ftz(fmaf(s[nt][e], a.scale_log2, -lb[qi])));
                if constexpr (decltype(mk)::value) {
                  if constexpr (MASKED) {
                    mask_p(pv, qi, kl, nt, e);
                  } else {
                    if (kl >= klim || kl - qi > cdiff || kl - qi < clo) pv = 0.f;
                  }
                }
                s[nt][e] = pv;
              }
          };
          if (need_mask || dpart) p_only(std::true_type{});
          else p_only(std::false_type{});
        } else {
          softmax_ds(&s[0][0], std::true_type{});
        }

        /* CSO: acc += (the A fragments fr) B over this warpgroup's D / 2 columns of B (dO or Q at sB),
           the pieces of the CS products below (D = 256: whole slabs from dcol; D = 192: 64 + 32
           columns, the same instructions in both warpgroups, addresses from wg) */
        auto cs_issue = [&](float *acc, const uint32_t(*fr)[4], uint32_t sB) {
          if constexpr (C::DW % 64 == 0) {
            const uint32_t bofs = (uint32_t)(dcol >> 6) * C::HALF_Q;
#pragma unroll
            for (int kk = 0; kk < KQ; ++kk)
              sm90_mm_cols<T, 0, C::DW, true>(acc, fr[kk], 0, sB + bofs + kk * 2048, C::HALF_Q, 1);
          } else {
            static_assert(C::DW == 96, "CS pieces: 64 + 32 columns");
            const uint32_t pa = wg == 0 ? 0u : 2u * C::HALF_Q, pb = C::HALF_Q + (wg == 0 ? 0u : 64u);
#pragma unroll
            for (int kk = 0; kk < KQ; ++kk) {
              wgmma_rs<T, 64, 1>(acc, fr[kk], wg_desc(sB + pa + kk * 2048, C::HALF_Q, 1024), 1);
              wgmma_rs<T, 32, 1>(acc + 32, fr[kk], wg_desc(sB + pb + kk * 2048, C::HALF_Q, 1024), 1);
            }
          }
        };
        (void)cs_issue;

        /* the A fragments of P^T and dS^T (k16 steps over the block's queries) */
        uint32_t ap[KQ][4], as[KQ][4];
        if constexpr (C::OV) {
          /* OVL, CSO: dV += P^T dO issued now (it runs while dS is computed and written), then dP^T
             waited for (the groups complete in order: S^T, dP^T, dV) and dS = P (dP - delta).
             DVL (TMAO, masked D = 128): dP^T waited for first, dS computed, then dV issued (it runs
             while dS is written and dQ's products are issued): P^T's fragments live beside P, dP and
             dK / dV spilled 16 bytes at the masked kernel's 232 registers */
          auto issue_dv = [&]() {
            wg_acc_to_a<T, KQ>(ap, s);
            wg_reg_fence<DT * 4>(&dv[0][0]);
            wg_fence();
            if constexpr (CS) {
              cs_issue(&dv[0][0], ap, sO);
            } else {
#pragma unroll
              for (int kk = 0; kk < KQ; ++kk)
                sm90_mm_cols<T, 0, D, true>(&dv[0][0], ap[kk], 0, sO + kk * 2048, C::HALF_Q, 1);
            }
            wg_commit();
          };
          if constexpr (!C::DVL) {
            issue_dv();
            wg_wait<1>();
          } else {
            wg_wait<0>();
          }
          wg_reg_fence<NQ * 4>(&dp[0][0]);
          const float *dbo = del_s + st * BM;
#pragma unroll
          for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) dp[nt][e] = s[nt][e] * (dp[nt][e] - dbo[nt * 8 + 2 * t4 + (e & 1)]);
          wg_acc_to_a<T, KQ>(as, dp);
          if constexpr (C::DVL) issue_dv();
        } else {
          wg_acc_to_a<T, KQ>(ap, s);
          wg_acc_to_a<T, KQ>(as, dp);
        }

        /* dS (queries x this warpgroup's 64 keys, 16-bit) -> shared memory, K-major for dQ = dS K,
           128-byte swizzle: element (q, k) at byte 128 q + 16 ((k / 8) ^ (q % 8)) + 2 (k % 8).
           Buffer dsb was last read by the dQ products of iteration it - 2, which every warp of
           this warpgroup waited for before the named barrier of iteration it - 1 (SM90_DQ_SPLIT
           and CS: the products of both warpgroups read it, and both wait for them before the
           barrier of it - 1, which is common to both). CS: both warpgroups hold the same dS (the
           same keys); each writes half of its queries into the shared buffer. With one buffer
           (C::NDS == 1) both first meet at barrier 2, each after its dQ products of it - 1. */
        if (!C::XS && !a.skip_dq) { /* XS: written by consumer 1 above */
          if constexpr (CS && C::NDS == 1) named_bar_sync(2, 256);
          unsigned char *dsp = dsw + (size_t)dsb * C::DS_BYTES;
          /* query tiles [NT0, NT1) of the fragment (compile-time indices: dp stays in registers) */
          auto write_ds = [&](auto t0, auto t1) {
#pragma unroll
            for (int nt = decltype(t0)::value; nt < decltype(t1)::value; ++nt)
#pragma unroll
              for (int e = 0; e < 4; ++e) {
                const int qi = nt * 8 + 2 * t4 + (e & 1), kl = wq * 16 + g + (e >> 1) * 8;
                const uint32_t off = (uint32_t)qi * 128 + ((uint32_t)((kl >> 3) ^ (qi & 7)) << 4) + (uint32_t)(kl & 7) * 2;
                *(T *)(dsp + off) = from_f<T>(dp[nt][e]);
              }
          };
          if constexpr (C::OV) {
            /* the packed dS^T fragments (as) by stmatrix .trans: matrix j of as[kk] holds keys 16 wq +
               8 (j & 1).. x queries 16 kk + 8 (j >> 1)..; lane 8 j + i writes query row 16 kk + 8 (j >> 1)
               + i, its 8 keys at 16-byte chunk 2 wq + (j & 1) of the swizzled row. CSO: consumer 0 the
               queries 0..31 (kk = 0, 1), consumer 1 32..63 */
            const int mj = lane >> 3, mi = lane & 7;
            const uint32_t sa = sDSw + (uint32_t)dsb * C::DS_BYTES + (uint32_t)(8 * (mj >> 1) + mi) * 128 +
                                ((uint32_t)((2 * wq + (mj & 1)) ^ mi) << 4);
            if constexpr (!CS) {
#pragma unroll
              for (int kk = 0; kk < KQ; ++kk) stmatrix_x4_trans(sa + kk * 2048, as[kk]);
            } else if (wg == 0) {
#pragma unroll
              for (int kk = 0; kk < KQ / 2; ++kk) stmatrix_x4_trans(sa + kk * 2048, as[kk]);
            } else {
#pragma unroll
              for (int kk = KQ / 2; kk < KQ; ++kk) stmatrix_x4_trans(sa + kk * 2048, as[kk]);
            }
          } else if constexpr (!CS) write_ds(std::integral_constant<int, 0>{}, std::integral_constant<int, NQ>{});
          else if (wg == 0) write_ds(std::integral_constant<int, 0>{}, std::integral_constant<int, NQ / 2>{});
          else write_ds(std::integral_constant<int, NQ / 2>{}, std::integral_constant<int, NQ>{});
          asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); /* visible to wgmma (async proxy) */
          /* SM90_DQ_SPLIT, CS: both consumers (each reads the other's dS), else this warpgroup */
          if constexpr (C::SPLIT || CS) named_bar_sync(1, 128 * C::NWG);
          else named_bar_sync(1 + wg, 128);
        }

        /* dV += P^T dO, dK += dS^T Q over this warpgroup's columns (all D, CS: its D / 2 from dcol):
           k16 steps over the queries (16 rows = 2048 bytes), B MN-major, in whole-slab or
           half-slab pieces (sm90_mm_cols; at D = 96 64 + 32 columns, CS at D = 192: 64 + 32 and
           32 + 64). OVL: dV was issued above, dK is issued after dQ's products (below) */
        if constexpr (!C::OV) {
        wg_reg_fence<DT * 4>(&dv[0][0]);
        wg_reg_fence<DT * 4>(&dk[0][0]);
        wg_fence();
        {
          /* the pieces of columns [C0, C0 + DW) of dO / Q, bofs bytes further in */
          auto kv_products = [&](auto c0t, uint32_t bofs) {
            constexpr int C0 = decltype(c0t)::value, C1 = C0 + C::DW;
#pragma unroll
            for (int kk = 0; kk < KQ; ++kk)
              sm90_mm_cols<T, C0, C1, true>(&dv[0][0], ap[kk], 0, sO + bofs + kk * 2048, C::HALF_Q, 1);
#pragma unroll
            for (int kk = 0; kk < KQ; ++kk)
              sm90_mm_cols<T, C0, C1, true>(&dk[0][0], as[kk], 0, sQ + bofs + kk * 2048, C::HALF_Q, 1);
          };
          if constexpr (!CS) {
            kv_products(std::integral_constant<int, 0>{}, 0u);
          } else if constexpr (C::DW % 64 == 0) {
            /* D = 256: both warpgroups' columns are whole slabs (the same pieces, dcol / 64 slabs in) */
            kv_products(std::integral_constant<int, 0>{}, (uint32_t)(dcol >> 6) * C::HALF_Q);
          } else {
            /* D = 192: the same two pieces in both warpgroups, a whole slab then a half slab (no
               branch: a branch on wg between differently shaped products made ptxas serialise every
               wgmma of the kernel, C7520 / C7511): the first takes columns 0..63, 64..95, the second
               128..191, 96..127, so its accumulator holds them in that order (kv_col) */
            static_assert(C::DW == 96, "CS pieces: 64 + 32 columns");
            const uint32_t pa = wg == 0 ? 0u : 2u * C::HALF_Q, pb = C::HALF_Q + (wg == 0 ? 0u : 64u);
#pragma unroll
            for (int kk = 0; kk < KQ; ++kk) {
              wgmma_rs<T, 64, 1>(&dv[0][0], ap[kk], wg_desc(sO + pa + kk * 2048, C::HALF_Q, 1024), 1);
              wgmma_rs<T, 32, 1>(&dv[8][0], ap[kk], wg_desc(sO + pb + kk * 2048, C::HALF_Q, 1024), 1);
            }
#pragma unroll
            for (int kk = 0; kk < KQ; ++kk) {
              wgmma_rs<T, 64, 1>(&dk[0][0], as[kk], wg_desc(sQ + pa + kk * 2048, C::HALF_Q, 1024), 1);
              wgmma_rs<T, 32, 1>(&dk[8][0], as[kk], wg_desc(sQ + pb + kk * 2048, C::HALF_Q, 1024), 1);
            }
          }
        }
        wg_commit();
        }

        /* SPLIT's OVL and TMAO: dK += dS^T Q over all D columns, issued where each order puts it */
        auto issue_dk = [&]() {
          wg_reg_fence<DT * 4>(&dk[0][0]);
          wg_fence();
#pragma unroll
          for (int kk = 0; kk < KQ; ++kk)
            sm90_mm_cols<T, 0, D, true>(&dk[0][0], as[kk], 0, sQ + kk * 2048, C::HALF_Q, 1);
          wg_commit();
        };
        if constexpr (CS) {
          /* CSO: dK += dS^T Q over this warpgroup's columns, issued after dQ's first chunk (or alone
             without dQ) */
          auto cs_dk = [&]() {
            wg_reg_fence<DT * 4>(&dk[0][0]);
            wg_fence();
            cs_issue(&dk[0][0], as, sQ);
            wg_commit();
          };
          if constexpr (C::CSO) {
            if (a.skip_dq) cs_dk();
          }
          if (!a.skip_dq) {
            /* dQ[BM x this warpgroup's D / 2 columns] += dS K over the CTA's 64 keys, 32 columns at
               a time (16 accumulator registers), the products of chunk ch + 1 issued before chunk ch
               is staged (two accumulators): staged as one box of BM x 32 fp32 (the buffer is free
               once the previous reduce-add has read it) and reduce-added, one add per element per
               CTA. The shared dS buffer dsb: see above. CSO: dK issued after chunk 0, which is
               waited for alone (the groups: dV, chunk 0, dK, chunk 1, ..): chunk 0 is staged while
               dK and chunk 1 run, chunk ch > 0 while chunk ch + 1 runs. */
            constexpr int NCH = C::DW / 32;
            const uint32_t sdS = sDSw + (uint32_t)dsb * C::DS_BYTES;
            const int z = (int)(b * p.Hq + hcur);
            float acc[2][4][4];
            /* issue chunk ch's products into acc[ch & 1]; c: a multiple of 32, within one slab */
            auto dq_issue = [&](int ch) {
              const int c = dcol + ch * 32;
              wg_fence();
#pragma unroll
              for (int kk = 0; kk < 4; ++kk)
                wgmma_ss<T, 32, 1>(&acc[ch & 1][0][0], wg_desc(sdS + kk * 32, 16, 1024),
                                   wg_desc(sK + (uint32_t)(c >> 6) * C::HALF_K + (uint32_t)(c & 63) * 2 + kk * 2048,
                                           C::HALF_K, 1024),
                                   kk > 0);
              wg_commit();
            };
            dq_issue(0);
            if constexpr (C::CSO) {
              cs_dk();
              wg_wait<1>(); /* dV and chunk 0 done; dK runs */
            }
#pragma unroll
            for (int ch = 0; ch < NCH; ++ch) {
              if (ch + 1 < NCH) {
                wg_reg_fence<16>(&acc[(ch + 1) & 1][0][0]); /* its staging (chunk ch - 1) read it */
                dq_issue(ch + 1);
                if (!C::CSO || ch > 0) wg_wait<1>();
              } else {
                wg_wait<0>();
              }
              wg_reg_fence<16>(&acc[ch & 1][0][0]);
              if (dq_issuer) bulk_wait_read();
              named_bar_sync(dqbar, 128);
              const int ra = wq * 16 + g;
#pragma unroll
              for (int nt = 0; nt < 4; ++nt) {
                const int cc = nt * 8 + 2 * t4;
                const uint32_t oa = (uint32_t)ra * 128 + ((uint32_t)((cc >> 2) ^ (ra & 7)) << 4) + (cc & 3) * 4;
                *(float2 *)(dqw + oa) = make_float2(acc[ch & 1][nt][0], acc[ch & 1][nt][1]);
                *(float2 *)(dqw + oa + 8 * 128) = make_float2(acc[ch & 1][nt][2], acc[ch & 1][nt][3]);
              }
              asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); /* visible to the TMA (async proxy) */
              named_bar_sync(dqbar, 128);
              if (dq_issuer) {
                tma_reduce_add_3d(&tm.dq, sDQw, dcol + ch * 32, (int)q0, z);
                bulk_commit();
              }
            }
            if constexpr (C::NDS == 2) dsb ^= 1;
          }
        } else if constexpr (C::SPLIT) {
          /* OVL: dK += dS^T Q (issue_dk), issued after the dQ products (or alone without dQ) */
          if constexpr (C::OVL) {
            if (a.skip_dq) issue_dk();
          }
          if (!a.skip_dq) {
            /* dQ[BM x this warpgroup's columns: [0, SPLIT_C) or [SPLIT_C, D)] += dS K over all BN =
               128 keys: k16 step kk takes keys 16 kk.. from the dS buffer of consumer kk / 4
               (columns 16 (kk % 4)..) and K's rows 16 kk.. (MN-major; the columns within one
               64-column slab, at a 32-column offset where SPLIT_C is not a slab boundary).
               The other consumer's buffer dsb: written before the 256-thread barrier just passed
               (fence.proxy.async by its writers), and not rewritten (iteration it + 2) before the
               barrier of iteration it + 1, where this warpgroup arrives only after waiting for
               these products (wg_wait below). */
            auto split_dq = [&](auto c0t, auto c1t) {
              constexpr int C0 = decltype(c0t)::value, NC = decltype(c1t)::value - C0, KS = BN / 16;
              const uint32_t sdS0 = sDS + (uint32_t)dsb * C::DS_BYTES;
              float acc[NC / 8][4];
              wg_fence();
#pragma unroll
              for (int kk = 0; kk < KS; ++kk)
                sm90_mm_cols<T, C0, C0 + NC, false>(
                    &acc[0][0], nullptr,
                    wg_desc(sdS0 + (uint32_t)(kk >> 2) * 2 * C::DS_BYTES + (kk & 3) * 32, 16, 1024),
                    sK + kk * 2048, C::HALF_K, kk > 0);
              wg_commit();
              if constexpr (C::OVL) {
                issue_dk();
                wg_wait<1>(); /* dQ's products (and dV's) done; dK's run while dQ is staged */
              } else {
                wg_wait<0>();
              }
              wg_reg_fence<NC / 2>(&acc[0][0]);
              /* staged as SM90_DQ_TMA stages a 64-column slab: NC / 32 boxes of BM x 32 fp32 */
              sm90_dq_reduce<C::DQ_ROWS, NC>(acc, dqw, sDQw, &tm.dq, dq_issuer, dqbar, wq * 16 + g, t4, C0, (int)q0,
                                     (int)(b * p.Hq + hcur));
            };
            if (wg == 0) split_dq(std::integral_constant<int, 0>{}, std::integral_constant<int, C::SPLIT_C>{});
            else split_dq(std::integral_constant<int, C::SPLIT_C>{}, std::integral_constant<int, D>{});
            dsb ^= 1;
          }
        } else if constexpr (C::TMAO) {
          /* dQ[BM x D] += dS K over this warpgroup's 64 keys (SM90_DQ_TMA's products and adds) in the
             overlapped order: slab 0's products, then dK += dS^T Q, then the wait for slab 0 (and dV:
             the groups complete in order), whose staging and reduce-add run while dK does; at D = 96 /
             128 slab 1's products are issued before slab 0 is staged (its accumulator is taken only
             once dV is done and P^T's fragments are free) and waited for alone. BM = 128 (D = 64): the
             rows in two halves of 64 (wgmma's M), the second half's products issued once the first
             half's are staged (one accumulator) and its reduce-add issued after the first's. */
          if (a.skip_dq) {
            issue_dk();
          } else {
            const uint32_t sdS = sDSw + (uint32_t)dsb * C::DS_BYTES;
            const int z = (int)(b * p.Hq + hcur);
            constexpr int W0 = D < 64 ? D : 64, W1 = D - W0;
            static_assert(BM == 64 || W1 == 0, "BM = 128: D <= 64");
            /* slab hh's products (W columns from 64 hh) of query rows 64 mh.. into acc, one commit group */
            auto dq_issue = [&](auto hht, float *acc, int mh) {
              constexpr int hh = decltype(hht)::value, W = hh == 0 ? W0 : W1;
              wg_fence();
#pragma unroll
              for (int kk = 0; kk < 4; ++kk)
                wgmma_ss<T, W, 1>(acc, wg_desc(sdS + (uint32_t)mh * (64 * 128) + kk * 32, 16, 1024),
                                  wg_desc(sK + hh * C::HALF_K + krow + kk * 2048, C::HALF_K, 1024), kk > 0);
              wg_commit();
            };
            float acc0[W0 / 8][4];
            dq_issue(std::integral_constant<int, 0>{}, &acc0[0][0], 0);
            issue_dk();
            wg_wait<1>(); /* dV's and slab 0's products done; dK's run */
            wg_reg_fence<W0 / 2>(&acc0[0][0]);
            if constexpr (W1 > 0) {
              float acc1[W1 / 8][4];
              dq_issue(std::integral_constant<int, 1>{}, &acc1[0][0], 0);
              sm90_dq_reduce<C::DQ_ROWS, W0>(acc0, dqw, sDQw, &tm.dq, dq_issuer, dqbar, wq * 16 + g, t4, 0, (int)q0, z);
              wg_wait<0>();
              wg_reg_fence<W1 / 2>(&acc1[0][0]);
              sm90_dq_reduce<C::DQ_ROWS, W1>(acc1, dqw, sDQw, &tm.dq, dq_issuer, dqbar, wq * 16 + g, t4, 64, (int)q0, z);
            } else {
              sm90_dq_reduce<C::DQ_ROWS, W0>(acc0, dqw, sDQw, &tm.dq, dq_issuer, dqbar, wq * 16 + g, t4, 0, (int)q0, z);
#pragma unroll
              for (int mh = 1; mh < BM / 64; ++mh) {
                wg_reg_fence<W0 / 2>(&acc0[0][0]); /* its staging above read it */
                dq_issue(std::integral_constant<int, 0>{}, &acc0[0][0], mh);
                wg_wait<0>();
                wg_reg_fence<W0 / 2>(&acc0[0][0]);
                sm90_dq_reduce<C::DQ_ROWS, W0>(acc0, dqw, sDQw, &tm.dq, dq_issuer, dqbar, wq * 16 + g, t4, 0,
                                               (int)q0 + 64 * mh, z);
              }
            }
            dsb ^= 1;
          }
        } else if (!a.skip_dq) {
          /* dQ[BM x D] += dS K, per 64-column slab of D (the last one 32 columns at D = 96); K's
             rows (keys) are the k16 steps */
          const uint32_t sdS = sDSw + (uint32_t)dsb * C::DS_BYTES;
          const int64_t i_a = q0 + wq * 16 + g, i_b = i_a + 8;
          float *rowa = a.dq_ws + ((b * p.Hq + hcur) * p.Nq + i_a) * a.Dws;
          sm90_static_for<0, NH>([&](auto hht) {
            constexpr int hh = decltype(hht)::value, W = D - hh * 64 < 64 ? D - hh * 64 : 64;
            float acc[W / 8][4];
            wg_fence();
#pragma unroll
            for (int kk = 0; kk < 4; ++kk)
              wgmma_ss<T, W, 1>(&acc[0][0], wg_desc(sdS + kk * 32, 16, 1024),
                                wg_desc(sK + hh * C::HALF_K + krow + kk * 2048, C::HALF_K, 1024), kk > 0);
            wg_commit();
            wg_wait<0>();
            wg_reg_fence<W / 2>(&acc[0][0]);
            if constexpr (DQ == SM90_DQ_ATOMIC2) {
#pragma unroll
              for (int nt = 0; nt < W / 8; ++nt) {
                const int d = hh * 64 + nt * 8 + 2 * t4;
                if (i_a < p.Nq) sm90_atomic_add2(rowa + d, acc[nt][0], acc[nt][1]);
                if (i_b < p.Nq) sm90_atomic_add2(rowa + 8 * a.Dws + d, acc[nt][2], acc[nt][3]);
              }
            } else {
              sm90_dq_reduce<C::DQ_ROWS, W>(acc, dqw, sDQw, &tm.dq, dq_issuer, dqbar, wq * 16 + g, t4, hh * 64, (int)q0,
                                    (int)(b * p.Hq + hcur));
            }
          });
          dsb ^= 1;
        }
        wg_wait<0>(); /* dV, dK products: their A registers and this stage's Q / dO are free */
        wg_reg_fence<DT * 4>(&dv[0][0]);
        wg_reg_fence<DT * 4>(&dk[0][0]);
        wg_reg_fence_u<KQ * 4>(&ap[0][0]);
        wg_reg_fence_u<KQ * 4>(&as[0][0]);
      }
      __syncwarp();
      if (lane == 0) mbar_arrive(bar + 8 * (ST + st)); /* this warp is done with the stage */
      if (++st == ST) {
        st = 0;
        ph ^= 1u;
      }
    }

    if constexpr (PERSIST) {
      st_w = st, dsb_w = dsb, ph_w = ph;
      /* every product of the tile (the last dQ's read K) is done: this warp is done with its K and V */
      if (total > 0) {
        __syncwarp();
        if (lane == 0) mbar_arrive(bar_kve);
      }
    }
    if (wg < 2 && (threadIdx.x & 127) == 0) JFA_PROBE(a.probe, JFA_CTA_LINEAR(), 3 + wg);
    if constexpr (DQ == SM90_DQ_TMA || C::TMAO || C::SPLIT || CS) {
      /* the reduce-adds read the staging buffers until done (their writes land by the kernel's end; tuning builds'
         JFA_TUNE_BWD_OLD=1: waited for, as before the fourteenth session) */
      if (dq_issuer) {
        if (a.tune_old == 1) bulk_wait();
        else bulk_wait_read();
      }
    }
    /* dK (scaled) and dV of the CTA's keys (zeros when no query block sees them). Where the tensors allow
       (a.kv_vec16, not accumulate mode): through shared memory, every consumer's fragments into a [key][column] tile
       (dK in the stages' bytes, dV in K's and V's: both free once every consumer is past its last block), then
       16-byte pieces of 8 columns, a row's pieces by consecutive threads (bench/RESULTS.md, fourteenth session: the
       per-fragment 2-byte stores took ~21000 cycles a CTA at D = 128, 5 blocks' time; ~3900 this way: the backward
       +6% at N = 4096, +9% causal, +8% in a causal window). Accumulate mode (float32 accumulators) the same way in
       float32 where a.acc_vec (tiles.h kSm90BwdAccVec: on since the sixteenth session). Else, and under tuning
       builds' JFA_TUNE_BWD_OLD=1, the fragments' elements stored (or added) one by one. PERSIST (sm90_bwd_persist:
       only where a.kv_vec16): the same tiles (16-bit, or float32 added in accumulate mode) in the dS and dQ staging
       buffers (K, V and the stages may hold the next tile's already), in passes of C::epi_tensors tensors and
       C::epi_rows keys where both tensors of all keys do not fit. */
    if constexpr (PERSIST) {
      /* ACC: accumulate mode (the ring's float32 dK / dV accumulators, added) */
      auto epilogue = [&](auto acc_t) {
        constexpr bool ACC = decltype(acc_t)::value;
        typedef typename std::conditional<ACC, float, T>::type E;
        constexpr uint32_t P = ACC ? C::EPI_P4 : C::EPI_P;
        constexpr int RP = C::epi_rows(P), NTP = C::epi_tensors(P); /* rows and tensors a pass */
        unsigned char *tile = gbase + C::DS_OFF;
        const int kl = (int)(nw0 - n0) + wq * 16 + g; /* this thread's first key in the CTA's (and kl + 8) */
#pragma unroll 1
        for (int t0 = 0; t0 < 2; t0 += NTP)
#pragma unroll 1
          for (int r0 = 0; r0 < BN; r0 += RP) {
            /* every consumer is past its last dQ products (which read both consumers' dS under SPLIT) and its
               issuer past its reduce-adds' reads of its staging buffer (above), or past the pass before's stores */
            named_bar_sync(7, 128 * C::NWG);
            if (kl >= r0 && kl < r0 + RP) { /* the pass's rows: this warpgroup's 64 keys or all BN (uniform) */
#pragma unroll
              for (int t = 0; t < NTP; ++t)
#pragma unroll
                for (int rr = 0; rr < 2; ++rr)
#pragma unroll
                  for (int dt = 0; dt < DT; ++dt) {
                    const bool isk = t0 + t == 0;
                    const float x0 = isk ? dk[dt][rr * 2] * a.scale : dv[dt][rr * 2];
                    const float x1 = isk ? dk[dt][rr * 2 + 1] * a.scale : dv[dt][rr * 2 + 1];
                    unsigned char *at = tile + (uint32_t)t * RP * P + (uint32_t)(kl - r0 + rr * 8) * P +
                                        (uint32_t)(dt * 8 + 2 * t4) * (uint32_t)sizeof(E);
                    if constexpr (ACC) *(float2 *)at = make_float2(x0, x1);
                    else *(uint32_t *)at = pack2<T>(x0, x1);
                  }
            }
            named_bar_sync(7, 128 * C::NWG);
#pragma unroll
            for (int t = 0; t < NTP; ++t)
              tile_store16<E, D, ACC>(tile + (uint32_t)t * RP * P, P, RP, t0 + t == 0 ? a.dk : a.dv, b, hk, n0 + r0,
                                      p.Nk, (int)threadIdx.x - 128, 128 * C::NWG, a.Dreal);
          }
        /* every thread has read the tiles: the next tile's dS and dQ staging may overwrite them */
        named_bar_sync(7, 128 * C::NWG);
      };
      if (a.accumulate) epilogue(std::true_type{});
      else epilogue(std::false_type{});
    } else if (a.kv_vec16 && !a.accumulate && a.tune_old != 1) {
      constexpr uint32_t P = (uint32_t)D * 2 + 16; /* a row's bytes: 16 more than D's, conflict-free fragment writes */
      static_assert((size_t)BN * P <= (size_t)ST * C::STAGE_BYTES && (size_t)BN * P <= 2 * (size_t)C::K_BYTES,
                    "the epilogue's dK / dV tiles fit the stages and K, V");
      unsigned char *tk = gbase + C::STAGE_OFF, *tv = gbase;
      named_bar_sync(7, 128 * C::NWG); /* every consumer is done with the stages and K, V */
      const int kl = (int)(nw0 - n0) + wq * 16 + g;
#pragma unroll
      for (int rr = 0; rr < 2; ++rr)
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          const uint32_t off = (uint32_t)(kl + rr * 8) * P + (uint32_t)(kv_col<CS, C::DW>(wg, dt) + 2 * t4) * 2;
          *(uint32_t *)(tk + off) = pack2<T>(dk[dt][rr * 2] * a.scale, dk[dt][rr * 2 + 1] * a.scale);
          *(uint32_t *)(tv + off) = pack2<T>(dv[dt][rr * 2], dv[dt][rr * 2 + 1]);
        }
      named_bar_sync(7, 128 * C::NWG);
      tile_store16<T, D>(tk, P, BN, a.dk, b, hk, n0, p.Nk, (int)threadIdx.x - 128, 128 * C::NWG, a.Dreal);
      tile_store16<T, D>(tv, P, BN, a.dv, b, hk, n0, p.Nk, (int)threadIdx.x - 128, 128 * C::NWG, a.Dreal);
    } else if (C::ACCV && a.kv_vec16 && a.accumulate && a.acc_vec && a.tune_old != 1) {
      /* accumulate mode (the ring's float32 dK / dV accumulators; a.acc_vec: tiles.h kSm90BwdAccVec): the same through
         shared memory in float32, dK then dV through one [key][column] tile over K's, V's and the stages' bytes (rows
         of 4 D + 32 bytes: conflict-free float2 writes by each half-warp), each 16-byte piece of 4 columns added into
         its accumulator by one thread */
      constexpr uint32_t P4 = (uint32_t)D * 4 + 32;
      unsigned char *tile = gbase;
      const int kl = (int)(nw0 - n0) + wq * 16 + g;
#pragma unroll 1
      for (int pass = 0; pass < 2; ++pass) {
        /* pass 0: every consumer is done with the stages and K, V; pass 1: every thread has read the dK tile */
        named_bar_sync(7, 128 * C::NWG);
#pragma unroll
        for (int rr = 0; rr < 2; ++rr)
#pragma unroll
          for (int dt = 0; dt < DT; ++dt) {
            const uint32_t off = (uint32_t)(kl + rr * 8) * P4 + (uint32_t)(kv_col<CS, C::DW>(wg, dt) + 2 * t4) * 4;
            *(float2 *)(tile + off) = pass == 0 ? make_float2(dk[dt][rr * 2] * a.scale, dk[dt][rr * 2 + 1] * a.scale)
                                                : make_float2(dv[dt][rr * 2], dv[dt][rr * 2 + 1]);
          }
        named_bar_sync(7, 128 * C::NWG);
        tile_store16<float, D, true>(tile, P4, BN, pass == 0 ? a.dk : a.dv, b, hk, n0, p.Nk, (int)threadIdx.x - 128,
                                     128 * C::NWG, a.Dreal);
      }
    } else {
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        const int64_t j = nw0 + wq * 16 + g + rr * 8;
        if (j >= p.Nk) continue;
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int d = kv_col<CS, C::DW>(wg, dt) + 2 * t4 + e;
            if (d >= a.Dreal) continue; /* a padded head dim's zero columns (tiles.h kSm90PadDense) */
            store_or_add<T>(a.dk, b, hk, j, d, dk[dt][rr * 2 + e] * a.scale, a.accumulate);
            store_or_add<T>(a.dv, b, hk, j, d, dv[dt][rr * 2 + e], a.accumulate);
          }
      }
    }
    if (wg < 2 && (threadIdx.x & 127) == 0) JFA_PROBE(a.probe, JFA_CTA_LINEAR(), 5 + wg);
    } while (PERSIST && next_tile());
  }
#endif
}

template <typename T, int D, int BN, int ST, int DQ, bool MASKED, bool CS, bool MP = false, int BMQ = 64,
          bool PERSIST = false>
static jfa_status_t launch_bwd_sm90a(const BwdArgs &a, const Sm90BwdTensors &t, cudaStream_t st) {
  typedef Sm90Bwd<D, BN, ST, DQ, MASKED, CS, BMQ, PERSIST> C;
  static_assert(C::SMEM <= 232448, "shared memory beyond the sm_90 opt-in limit");
  Sm90BwdMaps tm;
  memset(&tm, 0, sizeof(tm));
  JFA_CHECK(tma_map_bhsd(&tm.q, t.q, C::BM));
  JFA_CHECK(tma_map_bhsd(&tm.dout, t.dout, C::BM));
  JFA_CHECK(tma_map_bhsd(&tm.k, t.k, BN));
  JFA_CHECK(tma_map_bhsd(&tm.v, t.v, BN));
  if ((DQ == SM90_DQ_TMA || C::TMAO || C::SPLIT || CS) && !a.skip_dq) JFA_CHECK(tma_map_dq_ws(&tm.dq, a.dq_ws, a.p.B * a.p.Hq, a.p.Nq, a.Dws, C::DQ_ROWS));
  /* a 16-bit additive mask (family.cu took it for the DENSE kernel): its tiles by TMA into SMEM_BIAS's bias tiles */
  const bool biasd = MASKED && mask_bias16(a.mk);
  if (biasd) {
    if constexpr (!C::BIAS_OK) {
      JFA_FAIL(JFA_ERROR_INTERNAL, "sm90 backward: an additive mask on a kernel without bias tiles");
    } else {
      if (!t.bias) JFA_FAIL(JFA_ERROR_INTERNAL, "sm90 backward: an additive mask without its tensor");
      JFA_CHECK(sm90_bias_map(&tm.bias, t.bias, C::BM));
    }
  }
  const size_t smem = biasd ? C::SMEM_BIAS : C::SMEM;
  auto kern = bwd_sm90a_kernel<T, D, BN, ST, DQ, MASKED, CS, MP, BMQ, PERSIST>;
  JFA_CHECK(smem_optin(kern, smem));
  /* one dimension: bwd_cta_of */
  const int64_t nkb = (a.p.Nk + BN - 1) / BN, ncta = nkb * a.p.Hkv * a.p.B;
  if (ncta > 0x7fffffff)
    JFA_FAIL(JFA_ERROR_UNSUPPORTED, "sm90 backward: %lld CTAs exceed one grid dimension", (long long)ncta);
  /* causal calls (unmasked kernel): groups of (batch, kv head) pairs whose query heads' Q, dO (16-bit) and dQ
     accumulators fit the L2 budget (common/cta_order.h); tuning builds' JFA_TUNE_SM90_BWD_HG=g sets it (-1:
     head after head, the order before the thirteenth session) */
  const bool plain_causal = a.p.causal && !MASKED && !a.mk.windowed && a.mk.nseq == 0; /* not a band */
  const int hg = (int)bwd_causal_group(a.p, plain_causal, D, 8, "JFA_TUNE_SM90_BWD_HG");
  /* accumulate mode's epilogue through shared memory where tiles.h kSm90BwdAccVec allows (tuning builds:
     JFA_TUNE_SM90_BWD_ACCV=1 / 0 overrides) */
  BwdArgs ak = a;
  ak.acc_vec = tune_switch(kSm90BwdAccVec, "JFA_TUNE_SM90_BWD_ACCV") ? 1 : 0;
  if constexpr (PERSIST) {
    /* min(SMs, tiles) CTAs walking the tiles (sm90_bwd_persist took the call), or JFA_TUNE_SM90_CTAS of them (tests:
       many tiles a CTA, as the persistent forwards') */
    const int force = tune_variant("JFA_TUNE_SM90_CTAS");
    const int64_t nsm = force > 0 ? force : a.nsm;
    const unsigned nc = (unsigned)(ncta < nsm ? ncta : nsm);
    if (nc > 0) kern<<<nc, C::NTHREADS, smem, st>>>(ak, tm, hg);
    sm90_route_note(SM90_ROUTE_PERSIST | (a.masked ? SM90_ROUTE_BAND : 0));
  } else {
    kern<<<(unsigned)ncta, C::NTHREADS, smem, st>>>(ak, tm, hg);
    if (!MASKED && a.masked) sm90_route_note(SM90_ROUTE_BAND);
    else if (MASKED) sm90_route_note(SM90_ROUTE_MASKED);
  }
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* Whether a masked call is a band: windows (with or without causal, any positions) and packed sequences aligned
   to the blocks (common/mask.cuh mask_packed_aligned), no dense mask. At D = 64, 96 and 128 (tiles.h
   sm90_bwd_band_on; D = 64 since the twenty-fifth session) the unmasked kernel runs it (bwd_query_blocks' rows
   through mask_query_range, the per-element test where a block crosses either side of the band), in SPLITO's order
   with one dQ reduce-add per CTA (D = 64: TMAO at 128 query rows a stage), which the MASKED kernel cannot take.
   JFA_SM90_BWD_BAND=0 / 1 per call overrides the table; tuning builds: JFA_TUNE_SM90_BWD_NOBAND=1 runs bands on the
   MASKED kernel, as before the ninth session of 2026-12-02, =2 on the unmasked one at every head dim below 192 (A /
   B runs). */
template <int D, int BN> static inline bool sm90_bwd_band(const BwdArgs &a) {
  bool on = env_switch(sm90_bwd_band_on(D), "JFA_SM90_BWD_BAND");
#ifdef JFA_TUNING
  const int nb = tune_variant("JFA_TUNE_SM90_BWD_NOBAND");
  if (nb == 1 || nb == 2) on = nb == 2;
#endif
  if (!on || !a.masked || a.mk.dm_kind != MASK_DENSE_NONE) return false;
  /* the unmasked kernel's query rows a stage (tiles.h sm90_bwd_bm; its tuning variants' 64 divide it) */
  return a.mk.nseq == 0 ? a.mk.windowed != 0 : mask_packed_aligned(&a.p, sm90_bwd_bm(D), BN);
}

/* Whether a call the unmasked kernel takes (D = 64, 96, 128: unmasked, causal, bands) runs persistent (PERSIST): tiles.h
   kSm90BwdPersist up to kSm90BwdPersistMaxNk keys, JFA_SM90_BWD_PERSIST=1 / 0 per call overriding it (1: at every key
   count); accumulate mode too (its float32 tiles in up to four passes); never without 16-byte dK / dV rows (a.kv_vec16: the epilogue's tile stores), without the device's SM count or under tuning builds'
   JFA_TUNE_BWD_OLD; and within the 32-bit walk (the kernel's tl, tk and its producer's counts): fewer than 2^29 tiles
   of BN keys (the walk's last tl stays below 3 x 2^29), Nq below 2^30 and a tile's blocks (GQA heads x query blocks of
   BM rows) below 2^30. */
template <int BN, int BM> static inline bool sm90_bwd_persist(const BwdArgs &a) {
  if (!env_switch(kSm90BwdPersist && a.p.Nk <= kSm90BwdPersistMaxNk, "JFA_SM90_BWD_PERSIST")) return false;
  const int64_t ntiles = (a.p.Nk + BN - 1) / BN * a.p.Hkv * a.p.B;
  const int64_t blocks = ((a.p.Nq + BM - 1) / BM + 1) * (a.p.Hq / a.p.Hkv);
  return a.nsm > 0 && a.kv_vec16 && a.tune_old == 0 && ntiles < (1 << 29) && a.p.Nq < (1 << 30) &&
         blocks < (1 << 30);
}

template <int D> bool sm90_bwd_bias_fits_d(void) {
  constexpr Sm90Tile m = sm90_tile(OP_BWD, JFA_DTYPE_BFLOAT16, D, MASK_CLASS_ANY, 0);
  return Sm90Bwd<D, m.BN, m.ST, m.CS ? SM90_DQ_CS : sm90_bwd_dq_masked(D), true, m.CS>::BIAS_OK;
}

/* a.masked (interval masks: windows, positions, packed sequences) runs the MASKED instantiation,
   with the tiles of MASK_CLASS_ANY (today the same row), but for bands at D = 64 / 96 / 128 (sm90_bwd_band: the
   unmasked kernel). A CS row (D = 192, 256) runs the column split, masked or not (its consumers share their
   keys, so they meet at every block). */
template <typename T, int D>
jfa_status_t sm90_bwd_d(const BwdArgs &a, const Sm90BwdTensors &t, cudaStream_t st) {
  constexpr Sm90Tile c = sm90_tile(OP_BWD, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, 0);
  constexpr Sm90Tile m = sm90_tile(OP_BWD, DtypeOf<T>::value, D, MASK_CLASS_ANY, 0);
  static_assert(c.D == D && m.D == D, "no sm90 backward tiles for this head dim");
  /* MP (tiles.h kSm90BwdMp) on the default routes whose order computes P in softmax_ds: SM90_DQ_CS (D = 192, and
     masked calls at 192 / 256) and SM90_DQ_TMA (masked calls at D = 96 / 128 but bands) */
  constexpr bool MPC = kSm90BwdMp && sm90_bwd_dq_cs(D) == SM90_DQ_CS;
  constexpr bool MPM = kSm90BwdMp && sm90_bwd_dq_masked(D) == SM90_DQ_TMA;
#ifdef JFA_TUNING
  /* JFA_TUNE_SM90_BWD_MPASS=0 / 1: those routes without / with MP (0: the default before the tenth session) */
  const char *mpe = getenv("JFA_TUNE_SM90_BWD_MPASS");
  if (mpe && (atoi(mpe) != 0) != kSm90BwdMp) {
    constexpr bool MPX = !kSm90BwdMp;
    if constexpr (c.CS) {
      if (a.masked) return launch_bwd_sm90a<T, D, m.BN, m.ST, SM90_DQ_CS, true, true, MPX>(a, t, st);
      if constexpr (sm90_bwd_dq_cs(D) == SM90_DQ_CS)
        return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_CS, false, true, MPX>(a, t, st);
    } else if constexpr (sm90_bwd_dq_masked(D) == SM90_DQ_TMA) {
      if (a.masked && !sm90_bwd_band<D, c.BN>(a))
        return launch_bwd_sm90a<T, D, m.BN, m.ST, SM90_DQ_TMA, true, false, MPX>(a, t, st);
    }
  }
#endif
  if constexpr (c.CS) {
    if (a.masked) return launch_bwd_sm90a<T, D, m.BN, m.ST, SM90_DQ_CS, true, true, kSm90BwdMp>(a, t, st);
#ifdef JFA_TUNING
    /* JFA_TUNE_SM90_BWD=5: the score products exchanged (SM90_DQ_CSX) where it fits (D = 192); =6: the
       overlapped order (SM90_DQ_CSO, as SM90_DQ_SPLITO at D <= 128) */
    const int tv = tune_variant("JFA_TUNE_SM90_BWD");
    if constexpr (Sm90Bwd<D, c.BN, c.ST, SM90_DQ_CSX, false, true>::SMEM <= 232448) {
      if (tv == 5) return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_CSX, false, true>(a, t, st);
    }
    if (tv == 6) return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_CSO, false, true>(a, t, st);
    /* =4: the order before CSO (SM90_DQ_CS; D = 256's default before the sixth session) */
    if (tv == 4) return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_CS, false, true>(a, t, st);
#endif
    /* tiles.h sm90_bwd_dq_cs: CSO at D = 256, CS at 192 */
    return launch_bwd_sm90a<T, D, c.BN, c.ST, sm90_bwd_dq_cs(D), false, true, MPC>(a, t, st);
  } else {
    /* the masked kernel cannot take SM90_DQ_SPLIT / SPLITO (its consumers skip empty blocks apart):
       tiles.h sm90_bwd_dq_masked, TMAO at D = 64, TMA above */
    constexpr int dqm = sm90_bwd_dq_masked(D);
    const bool masked = a.masked && !sm90_bwd_band<D, c.BN>(a);
#ifdef JFA_TUNING
    /* JFA_TUNE_SM90_BWD=9: the masked calls in the overlapped order with per-consumer dQ adds
       (SM90_DQ_TMAO; the unmasked ones below); =3: in the order before it (SM90_DQ_TMA) */
    if (masked && tune_variant("JFA_TUNE_SM90_BWD") == 9)
      return launch_bwd_sm90a<T, D, m.BN, m.ST, SM90_DQ_TMAO, true, false>(a, t, st);
    if (masked && tune_variant("JFA_TUNE_SM90_BWD") == 3)
      return launch_bwd_sm90a<T, D, m.BN, m.ST, SM90_DQ_TMA, true, false>(a, t, st);
#endif
    if (masked) return launch_bwd_sm90a<T, D, m.BN, m.ST, dqm, true, false, MPM>(a, t, st);
#ifdef JFA_TUNING
    /* JFA_TUNE_SM90_BWD=1: the dQ adds by float2 atomics (SM90_DQ_ATOMIC2), =3: TMA reduce-adds
       (SM90_DQ_TMA), =4: one TMA reduce-add per CTA, the consumers splitting dQ's columns
       (SM90_DQ_SPLIT); unmasked calls only, the masked ones keep sm90_bwd_dq_masked's */
    constexpr Sm90Tile c1r = sm90_tile(OP_BWD, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, 1);
    constexpr Sm90Tile c1 = c1r.D == D ? c1r : c;
    constexpr Sm90Tile c2r = sm90_tile(OP_BWD, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, 2);
    constexpr Sm90Tile c3r = sm90_tile(OP_BWD, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, 3);
    switch (tune_variant("JFA_TUNE_SM90_BWD")) {
      case 1: return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_ATOMIC2, false, false>(a, t, st);
      case 3: return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_TMA, false, false>(a, t, st);
      case 4: return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_SPLIT, false, false>(a, t, st);
      /* =6: SM90_DQ_SPLITO (the overlapped order, the default); =7: the same with the stages of
         tiles.h's tuning row 1 (D = 128: 3 instead of 2; a row's absence: row 0's) */
      case 6: return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_SPLITO, false, false>(a, t, st);
      case 7: return launch_bwd_sm90a<T, D, c1.BN, c1.ST, SM90_DQ_SPLITO, false, false>(a, t, st);
      /* =9: SM90_DQ_TMAO (SM90_DQ_TMA in the overlapped order; masked calls: above) */
      case 9: return launch_bwd_sm90a<T, D, c.BN, c.ST, SM90_DQ_TMAO, false, false>(a, t, st);
      /* =10: SM90_DQ_TMAO at the tiles of tiles.h's tuning row 2 where there is one (D = 64: three consumers) */
      case 10:
        if constexpr (c2r.D == D) return launch_bwd_sm90a<T, D, c2r.BN, c2r.ST, SM90_DQ_TMAO, false, false>(a, t, st);
        break;
      /* =11: SM90_DQ_TMAO with 64 query rows a stage at tiles.h's tuning row 3 where there is one (D = 64: the
         default before the twelfth session, 3 stages) */
      case 11:
        if constexpr (c3r.D == D) return launch_bwd_sm90a<T, D, c3r.BN, c3r.ST, SM90_DQ_TMAO, false, false>(a, t, st);
        break;
      default: break;
    }
#endif
    /* tiles.h sm90_bwd_bm: 128 query rows a stage at D = 64 (TMAO only) */
    static_assert(sm90_bwd_bm(D) == 64 || sm90_bwd_dq(D) == SM90_DQ_TMAO, "BMQ = 128: SM90_DQ_TMAO");
    if (sm90_bwd_persist<c.BN, sm90_bwd_bm(D)>(a))
      return launch_bwd_sm90a<T, D, c.BN, c.ST, sm90_bwd_dq(D), false, false, false, sm90_bwd_bm(D), true>(a, t, st);
    return launch_bwd_sm90a<T, D, c.BN, c.ST, sm90_bwd_dq(D), false, false, false, sm90_bwd_bm(D)>(a, t, st);
  }
}

#endif /* JFA_KERNELS_SM90_BWD_CUH_ */
