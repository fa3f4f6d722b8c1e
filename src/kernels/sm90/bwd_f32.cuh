/*
 * bwd_f32.cuh - the sm90 family's float32 backward on Hopper tensor cores (wgmma m64nNk8 TF32,
 * fp32 accumulation; sm_90a only): 3xTF32 by default, one TF32 product with JFA_FLAG_ALLOW_TF32
 * (call_precision), as the sm80 float32 backward (sm80/bwd_f32.cuh), whose arithmetic it keeps
 * (P from the natural-unit lse with the scale as a float pair, dS = P (dP - delta), dK scaled at
 * the end, dQ into the fp32 workspace). Instantiated at D = 64 by inst/bwd_f32_d64.cu
 * (sm90_bwd_f32_d); family.cu takes float32 backward calls at D = 64, unmasked or causal, when it
 * is on (tiles.h kSm90BwdF32, the default; JFA_SM90_F32_BWD=0 / 1 per call overrides it); the others,
 * and all under JFA_SM90_BWD=0, go to the sm80 float32 kernel.
 *
 * Structure (bwd.cuh's producer / consumer warpgroups, fwd_f32.cuh's converters and planes):
 * - A CTA owns BN = 64 keys of one (batch, kv head); 384 threads. Warpgroup 0 (56 registers): warp
 *   0 loads K, V once and streams query blocks of BM rows (32 with 3xTF32, 64 with TF32; tiles.h) (Q, dO by TMA; lse, delta by its
 *   lanes) through ST = 2 stages; warps 1..3 (the converters) write per stage the lo planes of Q and
 *   dO and their transposes Qt, dOt (hi, lo); they also split K and V once per CTA (hi rounded in place, lo
 *   planes, f32b_split_plane) before their first stage, while the consumers wait (a prologue of ~6600 cycles),
 *   unless a.f32_pro (tiles.h kSm90BwdF32Pro, the fifteenth session's, off by default): then the consumers split K
 *   and V (consumer 0 K, 1 V) and convert their stages' first uses themselves, the converters from the second
 *   uses. Warpgroups
 *   1 and 2 (224 registers) are the consumers; consumer c takes the blocks it = c, c + 2, .. (stage
 *   c: the two consumers work on different query blocks at the same time) and accumulates dK, dV
 *   of all 64 keys over its blocks; at the end consumer 1 hands its dK, dV to consumer 0 through
 *   shared memory (stage 1's bytes), which adds them and stores.
 * - Per block (M = 64 keys, N = BM queries; k8 steps):
 *     S^T = K Q^T, dP^T = V dO^T   A = K / V (K_lo / V_lo), B = Q / dO (Q_lo / dO_lo), all K-major
 *                                  as TMA writes them, N = BM; the hi parts of K, V as A fragments
 *                                  loaded from their tiles each block (RS; KREG), only A = K_lo / V_lo
 *                                  from shared memory (SS): the SS products of N = 32 would be bound
 *                                  by shared memory (3 KB a 16-clock wgmma; tuning builds'
 *                                  JFA_TUNE_SM90_F32_BWD_SS=1 runs all three as SS);
 *     P^T, dS^T                    the sm80 float32 kernel's element-wise arithmetic;
 *     dV += P^T dO, dK += dS^T Q   A = P^T / dS^T from the accumulators (f32_acc_as_a: query 2t at
 *                                  position t, 2t + 1 at t + 4), B = dOt / Qt (D rows by BM queries,
 *                                  BM / 32 slabs, written by the converters with that permutation);
 *     dQ^T = K^T dS^T              M = D = 64, N = BM queries, K = 64 keys: A = K^T from registers
 *                                  (K's hi and lo tiles, loaded each block), B = dS as [query][key]
 *                                  (hi, lo), written by the consumer; staged in the dS hi plane once
 *                                  the products are done and added by two TMA reduce-adds (bwd.cuh's
 *                                  cp.reduce.async.bulk.tensor) into the fp32 workspace, or (a.dq_direct:
 *                                  sm90/family.cu sm90_f32_dq_direct) scaled into the float32 dq itself,
 *                                  without the workspace's pass (tuning builds' JFA_TUNE_SM90_F32_BWD_DQ=1:
 *                                  fp32 atomics from the registers into the workspace instead).
 * - 3xTF32 accuracy at large logits (scale S ~ 2500 at q, k ~ N(0, 30^2), where P = exp(scale S
 *   - lse) turns an absolute score error into a relative error of P and of every gradient): the
 *   wgmma accumulator's float32 additions truncate (they do not round to nearest), once per
 *   instruction, at the ulp of the running sum. The score products S^T, dP^T (and dQ^T) therefore
 *   issue the small products (lo * hi, hi * lo) of all their k8 steps first, while the accumulator
 *   is small, and the hi * hi products after them (SMALLFIRST; the sm80 kernel's separate small
 *   accumulator, without its registers): the large sum is truncated 8 times, not 24. And K, V are
 *   split with a rounded hi (f32b_split_plane) because Q's and dO's hi parts are truncated: two
 *   truncated operands make the dropped lo * lo terms coherent with S. Per-instruction truncation
 *   model (bench/f32_score_model.c) of the test's large-logit cases: the first version 0.9-1.6e-3
 *   (the H200: 1.5-1.6e-3), this one 2.6-5.0e-4 (sm80 2.7-7.4e-4; the H200: 4.3-6.9e-4).
 *   BM = 32 (not 64) and dQ^T (not dQ = dS K) because of shared memory: with 3xTF32 every B operand
 *   needs a hi and a lo plane. Per CTA K, V, K_lo, V_lo 64 KB; a stage Q, dO, Q_lo, dO_lo, Qt_hi,
 *   Qt_lo, dOt_hi, dOt_lo = 8 tiles of BM x 64 floats = 64 KB at BM = 32 (128 KB at 64: no room for
 *   two stages); dS hi, lo per consumer 16 KB: 64 + 2 x 64 + 2 x 16 = 224 KB (+ lse, delta, barriers).
 *   A dQ = dS K would need Kt (hi, lo: 32 KB more) and M = 64 queries. TF32 mode: half the planes,
 *   so BM = 64 (K, V 32 KB + 2 stages x 4 tiles of 16 KB + dS 2 x 16 KB = 192 KB; wgmma N = 64 reads
 *   a third less shared memory per product than N = 32). No room left for a dQ staging buffer: dQ
 *   (BM x 64 fp32, BN = D) is staged in the dS hi plane after the dQ products have read it.
 * - Deterministic mode (a.skip_dq): no dS planes, no dQ (the caller's simt_backward_dq). Accumulate
 *   mode: dK, dV added. Causal: bwd_query_blocks skips the blocks before the diagonal, elements
 *   are masked where a block straddles it (both alignments, q_pos0 / k_pos0) or Nk. Rows with lse =
 *   -inf and rows past Nq (lse +inf) give P = 0.
 */
#ifndef JFA_KERNELS_SM90_BWD_F32_CUH_
#define JFA_KERNELS_SM90_BWD_F32_CUH_

#include "kernels/common/probe.cuh"
#include "kernels/sm90/bwd_stats.cuh"
#include "kernels/sm90/fwd_f32.cuh"

template <int D, int BM_, bool PRECISE, bool DM = false> struct Sm90BwdF32 {
  static_assert(D == 64, "the sm90 float32 backward: D = 64");
  static constexpr int BN = 64, BM = BM_, ST = 2, NTHREADS = 384;
  static constexpr int NQ = BM / 8, DT = D / 8, KD = D / 8, KQ = BM / 8, KK = BN / 8;
  static constexpr uint32_t TQ = (uint32_t)BM * D * 4, TK = (uint32_t)BN * D * 4; /* one tile */
  static constexpr uint32_t NKC = PRECISE ? 4 : 2;                                /* K, V (, K_lo, V_lo) */
  static constexpr uint32_t NSP = PRECISE ? 8 : 4; /* Q, dO (, Q_lo, dO_lo), Qt, (Qt_lo,) dOt (, dOt_lo) */
  static constexpr uint32_t NDS = PRECISE ? 2 : 1; /* dS planes per consumer */
  static constexpr uint32_t K_OFF = 0, V_OFF = TK, KLO_OFF = 2 * TK, VLO_OFF = 3 * TK;
  static constexpr uint32_t STAGE_OFF = NKC * TK, STAGE_BYTES = NSP * TQ;
  static constexpr uint32_t DS_OFF = STAGE_OFF + ST * STAGE_BYTES, DS_BYTES = (uint32_t)BM * BN * 4;
  static constexpr uint32_t STAT_OFF = DS_OFF + 2 * NDS * DS_BYTES; /* lse [ST][BM], delta [ST][BM] */
  /* DM (a boolean dense mask): the rows' mask words of the CTA's 64 keys, [ST][BM] */
  static constexpr uint32_t MW_OFF = STAT_OFF + 2 * ST * BM * 4;
  static constexpr uint32_t BAR_OFF = MW_OFF + (DM ? ST * BM * 8 : 0); /* full, conv, empty [ST]; kv, kvc, kve */
  static constexpr size_t SMEM = BAR_OFF + 8 * (3 * ST + 3) + 1024;
  /* the parts of a stage (offsets from its start) */
  static constexpr uint32_t q_raw = 0, do_raw = TQ, q_lo = 2 * TQ, do_lo = 3 * TQ;
  static constexpr uint32_t qt_hi = (PRECISE ? 4 : 2) * TQ, qt_lo = qt_hi + TQ;
  static constexpr uint32_t dot_hi = (PRECISE ? 6 : 3) * TQ, dot_lo = dot_hi + TQ;
  static_assert(TQ % 1024 == 0 && STAGE_OFF % 1024 == 0 && DS_OFF % 1024 == 0, "1024-byte aligned tiles");
  static_assert(BM == 32 || BM == 64, "wgmma N = BM; Qt, dOt: BM / 32 slabs of 128-byte rows of queries");
  static_assert(SMEM <= 232448, "shared memory beyond the sm_90 opt-in limit");
  static_assert(STAGE_BYTES >= 2 * 64 * 128 * 4 / 2, "stage 1 holds consumer 1's dK, dV (32 KB) at the end");
};

/* Element-wise over n float4s at src by NT threads: the lo plane to lo (PRECISE) or src rounded in place (TF32). */
template <bool PRECISE, int NT>
__device__ __forceinline__ void f32b_lo_plane(unsigned char *src, unsigned char *lo, int n, int tid) {
  float4 *r = (float4 *)src;
  uint4 *l = (uint4 *)lo;
#pragma unroll 2
  for (int i = tid; i < n; i += NT) {
    const float4 x = r[i];
    if (PRECISE) l[i] = make_uint4(tf32_lo_of_trunc(x.x), tf32_lo_of_trunc(x.y), tf32_lo_of_trunc(x.z), tf32_lo_of_trunc(x.w));
    else ((uint4 *)r)[i] = make_uint4(tf32_round(x.x), tf32_round(x.y), tf32_round(x.z), tf32_round(x.w));
  }
}

/* K's and V's planes (once per CTA; A operands of the score products, K also of dQ^T), element-wise
   over n float4s: 3xTF32 hi = TF32(x) rounded in place and lo = TF32(x - hi) (tf32_split's split,
   lo rounded too): their lo * lo products, which 3xTF32 drops, then have random signs. Q's and dO's
   hi parts (the B operands) are their tiles as TMA wrote them, read truncated: with K, V truncated
   as well both remainders would have the signs of their elements and every dropped K_lo Q_lo term
   the sign of its K Q term, pulling S toward zero by about 1.2e-7 |S| (3e-4 of P = exp(scale S -
   lse) at the large logits' scale S ~ 2500). TF32: rounded in place. NT threads, tid 0..NT - 1. */
template <bool PRECISE, int NT>
__device__ __forceinline__ void f32b_split_plane(unsigned char *src, unsigned char *lo, int n, int tid) {
  uint4 *r = (uint4 *)src, *l = (uint4 *)lo;
#pragma unroll 2
  for (int i = tid; i < n; i += NT) {
    const float4 x = ((const float4 *)r)[i];
    const uint4 h = make_uint4(tf32_round(x.x), tf32_round(x.y), tf32_round(x.z), tf32_round(x.w));
    r[i] = h;
    if (PRECISE)
      l[i] = make_uint4(tf32_round(x.x - __uint_as_float(h.x)), tf32_round(x.y - __uint_as_float(h.y)),
                        tf32_round(x.z - __uint_as_float(h.z)), tf32_round(x.w - __uint_as_float(h.w)));
  }
}

/* One stage's conversion by NT threads (tid 0..NT - 1: the converters, warps 1..3, or a consumer warpgroup
   converting its stage's first use): Q, dO lo planes (or rounded in place), and Qt, dOt (D rows by BM queries in
   BM / 32 slabs of D x 128 bytes, the queries permuted as fwd_f32.cuh's Vt keys; a warp item: 32 queries by 4
   columns). */
template <int D, int BM_, bool PRECISE, int NT>
__device__ __forceinline__ void f32b_convert_stage(unsigned char *stg, int tid) {
  typedef Sm90BwdF32<D, BM_, PRECISE> C;
  constexpr int BM = C::BM;
  f32b_lo_plane<PRECISE, NT>(stg + C::q_raw, stg + C::q_lo, BM * D / 4, tid);
  f32b_lo_plane<PRECISE, NT>(stg + C::do_raw, stg + C::do_lo, BM * D / 4, tid);
  const int lane = tid & 31, cw = tid >> 5;
  const int pos = (lane & 24) | ((lane & 1) << 2) | ((lane & 7) >> 1); /* query lane's position */
#pragma unroll 1
  for (int it = cw; it < 2 * (BM / 32) * (D / 4); it += NT / 32) {
    const int part = it / ((BM / 32) * (D / 4)), r = it % ((BM / 32) * (D / 4));
    const int qs = r / (D / 4), dc = r % (D / 4), q = qs * 32 + lane;
    const unsigned char *src = stg + (part ? C::do_raw : C::q_raw);
    unsigned char *th = stg + (part ? C::dot_hi : C::qt_hi), *tl = stg + (part ? C::dot_lo : C::qt_lo);
    const float4 x = *(const float4 *)(src + (dc >> 3) * (BM * 128) + q * 128 + (((dc & 7) ^ (q & 7)) << 4));
    const float xe[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int d = dc * 4 + e;
      const int off = qs * (D * 128) + d * 128 + (((pos >> 2) ^ (d & 7)) << 4) + (pos & 3) * 4;
      if (PRECISE) {
        *(float *)(th + off) = xe[e];
        *(uint32_t *)(tl + off) = tf32_lo_of_trunc(xe[e]);
      } else {
        *(uint32_t *)(th + off) = tf32_round(xe[e]);
      }
    }
  }
}

/* acc (+)= A B over one k8 step, both in shared memory: 3xTF32 (A_lo B_hi, A_hi B_lo, A_hi B_hi)
   or A_hi B_hi; first: acc overwritten. SMALLFIRST (3xTF32): pass 0 issues the two small
   products, pass 1 the hi product (the caller runs every k8 step's pass 0 before any pass 1).
   Issues only. */
template <int N, bool PRECISE, bool SMALLFIRST>
__device__ __forceinline__ void f32_ss_step(float *acc, uint64_t ah, uint64_t al, uint64_t bh, uint64_t bl, bool first,
                                            int pass) {
  if (PRECISE) {
    if (!SMALLFIRST || pass == 0) {
      wgmma_tf32_ss<N>(acc, al, bh, first ? 0 : 1);
      wgmma_tf32_ss<N>(acc, ah, bl, 1);
    }
    if (!SMALLFIRST || pass == 1) wgmma_tf32_ss<N>(acc, ah, bh, 1);
  } else {
    wgmma_tf32_ss<N>(acc, ah, bh, first ? 0 : 1);
  }
}

struct Sm90BwdF32Maps {
  CUtensorMap q, k, v, dout;
  CUtensorMap dq; /* the fp32 dQ workspace, or (a.dq_direct) dq itself (DQTMA, unless a.skip_dq) */
};

/* One tile of the float32 backward: BN keys of one (batch, kv head) and the query blocks that see them. */
struct F32bTile {
  int64_t b, hk, n0, qb_start, per_head, total;
};
/* A role's walk over its CTA's tiles (PERSIST): the tile tl, the CTA's blocks before it (G), its tiles with blocks
   before it (tk), and the current tile's blocks (tot). */
struct F32bWalk {
  int tl, G, tk, tot;
};

template <int D, int BM_, bool PRECISE, bool DQTMA, bool KREG, bool SMALLFIRST, bool PERSIST = false, bool DM = false>
__global__ void __launch_bounds__(384, 1) bwd_f32_sm90a_kernel(const __grid_constant__ BwdArgs a,
                                                                const __grid_constant__ Sm90BwdF32Maps tm, int64_t hg) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  typedef Sm90BwdF32<D, BM_, PRECISE, DM> C;
  static_assert(!DM || !PERSIST, "DM: the non-persistent kernel");
  static_assert(C::DS_BYTES == (uint32_t)C::BM * D * 4, "dQ staged in a dS plane (BN = D)");
  static_assert(!PERSIST || C::NDS * C::DS_BYTES >= 128 * (D / 8) * 4 * 4, "PERSIST: the dK / dV handoff in a dS region");
  constexpr int BM = C::BM, BN = C::BN, ST = C::ST, NQ = C::NQ, DT = C::DT;
  extern __shared__ __align__(1024) unsigned char smraw[];
  const uint32_t sbase = (smem_u32(smraw) + 1023u) & ~1023u;
  unsigned char *sm = smraw + (sbase - smem_u32(smraw));
  const uint32_t sK = sbase + C::K_OFF, sV = sbase + C::V_OFF, sSTG = sbase + C::STAGE_OFF;
  float *lse_s = (float *)(sm + C::STAT_OFF), *del_s = lse_s + ST * BM;
  uint64_t *mw_s = (uint64_t *)(sm + C::MW_OFF); /* DM: [ST][BM] */
  const uint32_t bar = sbase + C::BAR_OFF; /* full[ST], conv[ST], empty[ST], kv, kvc, kve */
  const uint32_t bar_conv = bar + 8 * ST, bar_empty = bar + 16 * ST, bar_kv = bar + 24 * ST, bar_kvc = bar_kv + 8;
  const uint32_t bar_kve = bar_kvc + 8; /* PERSIST: the consumers are done with a tile's K and V */

  const jfa_problem_t &p = a.p;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t grp = p.Hq / p.Hkv;
  /* PERSIST (tiles.h kSm90BwdF32Persist): min(SMs, tiles) CTAs, each walking the tiles blockIdx.x, + gridDim.x, .. of
     the (key block, kv head, batch) grid in cta_grouped_of's order; every role runs its part of each tile, the blocks
     of the stages counted from w.G (the CTA's blocks before the tile) and K's and V's barriers by w.tk (its tiles
     with blocks before it: F32bWalk); the producer loads a tile's K and V once the consumers are done with the last ones
     (bar_kve), while they store the last tile's dK and dV, handed between them through their dS planes. Else the
     CTA's own tile (causal calls: key block 0 first in groups of hg (kv head, batch) pairs; common/cta_order.h).
     bench/f32_bwd_persist_protocol.py models PERSIST's synchronisation (test_cpu_f32_bwd_persist_protocol): keep them
     in step. */
  const int64_t nkb = (p.Nk + BN - 1) / BN, ntiles = nkb * p.Hkv * p.B;
  auto tile_of = [&](const cta_xyz_t c) {
    F32bTile x;
    x.b = c.z, x.hk = c.y, x.n0 = c.x * BN;
    const BwdQueryBlocks qbs = bwd_query_blocks<BM, BN, false>(p, a.mk, x.n0);
    x.qb_start = qbs.qb_start, x.per_head = qbs.per_head, x.total = qbs.per_head * grp;
    return x;
  };
  const F32bTile tile0 = tile_of(PERSIST ? cta_grouped_of((int64_t)blockIdx.x, nkb, p.Hkv, p.B, hg, 1) : cta_grouped(hg, 1));
  /* a role's current tile (PERSIST: w.tl's; else the CTA's own), and the step past it, false at the walk's end (the
     host keeps every CTA's blocks below 2^31: w.G is an int) */
  auto enter = [&](F32bWalk &w) {
    const F32bTile t = PERSIST ? tile_of(cta_grouped_of(w.tl, nkb, p.Hkv, p.B, hg, 1)) : tile0;
    w.tot = (int)t.total;
    return t;
  };
  auto next_tile = [&](F32bWalk &w) {
    w.G += w.tot;
    w.tk += w.tot > 0 ? 1 : 0;
    w.tl += (int)gridDim.x;
    return w.tl < ntiles;
  };
  const int64_t total = tile0.total; /* the first tile's: the barriers' setup, the probe */

  /* tuning builds' probe (common/probe.cuh): slot 0 the CTA's start, 1 + c consumer c's first block, 3 + c the end
     of its blocks, 5 + c the end of its dK / dV stores */
  /* the fifteenth session's prologue (a.f32_pro: tiles.h kSm90BwdF32Pro, off by default; pro_old: the converters'
     K / V split before their first stage, as before it; tuning builds' JFA_TUNE_BWD_OLD=1 / 2 too): each consumer
     splits one of K, V and converts its stage's first use itself while the converters wait for the second uses; the
     tensor maps prefetched before the barriers' setup */
  const bool pro_old = PERSIST || a.tune_old != 0 || !a.f32_pro;
  if (threadIdx.x == 0) {
    if (!PERSIST) {
      JFA_PROBE(a.probe, JFA_CTA_LINEAR(), 0);
      JFA_PROBE_ID(a.probe, JFA_CTA_LINEAR(), total);
    }
    if (!pro_old && total > 0) {
      tma_prefetch_desc(&tm.k);
      tma_prefetch_desc(&tm.v);
      tma_prefetch_desc(&tm.q);
      tma_prefetch_desc(&tm.dout);
      if (DQTMA && !a.skip_dq) tma_prefetch_desc(&tm.dq);
    }
#pragma unroll
    for (int s = 0; s < ST; ++s) {
      mbar_init(bar + 8 * s, 32);       /* warp 0's lanes (lane 0 with the TMA bytes) */
      mbar_init(bar_conv + 8 * s, 96);  /* every converter thread */
      mbar_init(bar_empty + 8 * s, 4);  /* the owning consumer's warps */
    }
    mbar_init(bar_kv, 1);
    mbar_init(bar_kvc, pro_old ? 96 : 1); /* pro_old: every converter thread after the K / V split; else consumer 0's
                                             first thread after the consumers' prologue */
    if (PERSIST) mbar_init(bar_kve, 8);  /* every consumer warp after its last block of a tile */
    mbar_fence_init();
  }
  __syncthreads();

  if (warp < 4) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n" ::: "memory");
    if (warp == 0) {
      F32bWalk w = {(int)blockIdx.x, 0, 0, 0};
      do {
      const F32bTile T = enter(w);
      const int64_t b = T.b, hk = T.hk, n0 = T.n0, qb_start = T.qb_start, per_head = T.per_head, total = T.total;
      if (total > 0) {
        if (lane == 0) {
          if (PERSIST && w.tk > 0) mbar_wait(bar_kve, (uint32_t)((w.tk - 1) & 1)); /* the last tile's K, V are free */
          mbar_arrive_expect_tx(bar_kv, 2 * C::TK);
#pragma unroll
          for (int sl = 0; sl < D / 32; ++sl) {
            tma_load_4d(sK + sl * BN * 128, &tm.k, bar_kv, sl * 32, (int)n0, (int)hk, (int)b);
            tma_load_4d(sV + sl * BN * 128, &tm.v, bar_kv, sl * 32, (int)n0, (int)hk, (int)b);
          }
        }
        /* lse and delta of block it's rows (lane l: rows l, l + 32), read one block ahead, and the stage's TMA issued
           before they are written (the barrier's bytes raised first, lane 0's arrival after its writes): neither the
           stats' latency nor the TMA's waits for the other (tuning builds' JFA_TUNE_BWD_OLD=1: read after the stage is
           free, the TMA after them, as before the fourteenth session) */
        float lr[BM / 32], dr[BM / 32];
        uint64_t mr[BM / 32]; /* DM: the lane's rows' mask words of keys n0.. (with the stats) */
        const bool old = !PERSIST && a.tune_old == 1;
        if (!old) bwd_load_stats<BM, false>(a, b, hk * grp, qb_start * BM, lane, lr, dr);
        if (DM && !old) bwd_load_words<BM>(a.mk, b, hk * grp, qb_start * BM, n0, lane, mr);
        for (int64_t it = 0; it < total; ++it) {
          const int64_t gi = w.G + it;
          const int st = (int)(gi % ST), use = (int)(gi / ST);
          if (use > 0) mbar_wait(bar_empty + 8 * st, (uint32_t)((use - 1) & 1));
          const int64_t h = hk * grp + it / per_head, q0 = (qb_start + it % per_head) * BM;
          const uint32_t full = bar + 8 * st, dst = sSTG + st * C::STAGE_BYTES;
          if (old) {
            bwd_load_stats<BM, false>(a, b, h, q0, lane, lr, dr);
            bwd_store_stats<BM>(lse_s + st * BM, del_s + st * BM, lane, lr, dr);
            if (DM) {
              bwd_load_words<BM>(a.mk, b, h, q0, n0, lane, mr);
              bwd_store_words<BM>(mw_s + st * BM, lane, mr);
            }
          }
          if (lane == 0) {
            if (old) mbar_arrive_expect_tx(full, 2 * C::TQ);
            else mbar_expect_tx(full, 2 * C::TQ);
#pragma unroll
            for (int sl = 0; sl < D / 32; ++sl) {
              tma_load_4d(dst + C::q_raw + sl * BM * 128, &tm.q, full, sl * 32, (int)q0, (int)h, (int)b);
              tma_load_4d(dst + C::do_raw + sl * BM * 128, &tm.dout, full, sl * 32, (int)q0, (int)h, (int)b);
            }
          }
          if (!old) bwd_store_stats<BM>(lse_s + st * BM, del_s + st * BM, lane, lr, dr);
          if (DM && !old) bwd_store_words<BM>(mw_s + st * BM, lane, mr);
          if (lane != 0 || !old) mbar_arrive(full);
          if (!old && it + 1 < total) {
            const int64_t hn = hk * grp + (it + 1) / per_head, qn = (qb_start + (it + 1) % per_head) * BM;
            bwd_load_stats<BM, false>(a, b, hn, qn, lane, lr, dr);
            if (DM) bwd_load_words<BM>(a.mk, b, hn, qn, n0, lane, mr);
          }
        }
      }
      } while (PERSIST && next_tile(w));
    } else {
      F32bWalk w = {(int)blockIdx.x, 0, 0, 0};
      do {
      const F32bTile T = enter(w);
      const int64_t total = T.total;
      if (total > 0) {
      /* the converters: every stage from its second use (pro_old: K, V once, then every stage); a stage's
         conversions arrive on its conv barrier, whose phase u is the stage's use u + 1 (pro_old: use u) */
      const int tid = threadIdx.x - 32;
      if (pro_old) {
        mbar_wait(bar_kv, (uint32_t)(w.tk & 1));
        f32b_split_plane<PRECISE, 96>(sm + C::K_OFF, sm + C::KLO_OFF, BN * D / 4, tid);
        f32b_split_plane<PRECISE, 96>(sm + C::V_OFF, sm + C::VLO_OFF, BN * D / 4, tid);
        fence_proxy_async_smem();
        mbar_arrive(bar_kvc);
      }
      /* From the second uses a stage's full barrier is waited with parity 1 first, which a barrier still in its
         phase 0 passes at once (try_wait.parity waits only while the current phase has that parity): so not before
         the consumers' prologue has waited every first use (bar_kvc); no stage is released, hence refilled, before it. */
      if (!pro_old && total > ST) mbar_wait(bar_kvc, 0);
      for (int64_t it = pro_old ? 0 : ST; it < total; ++it) {
        const int64_t gi = w.G + it;
        const int st = (int)(gi % ST);
        mbar_wait(bar + 8 * st, (uint32_t)((gi / ST) & 1));
        f32b_convert_stage<D, BM_, PRECISE, 96>(sm + C::STAGE_OFF + st * C::STAGE_BYTES, tid);
        fence_proxy_async_smem();
        mbar_arrive(bar_conv + 8 * st);
      }
      }
      } while (PERSIST && next_tile(w));
    }
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    const int cw = warp - 4, wg = cw >> 2, wq = cw & 3;
    const int g = lane >> 2, t4 = lane & 3;
    const int st = wg; /* consumer wg owns stage wg (ST = 2): blocks it = wg, wg + 2, .. */
    constexpr float kLog2e = 1.4426950408889634f;
    const float scale_lo = (float)(p.scale - (double)a.scale);
    const uint32_t sQ = sSTG + st * C::STAGE_BYTES;
    unsigned char *dsp = sm + C::DS_OFF + (size_t)wg * C::NDS * C::DS_BYTES;
    const uint32_t sDS = sbase + C::DS_OFF + (uint32_t)wg * C::NDS * C::DS_BYTES;
    const float *lb = lse_s + st * BM, *db = del_s + st * BM;
    const uint64_t *mwb = mw_s + st * BM; /* DM */
    const bool dq_issuer = (threadIdx.x & 127) == 0; /* issues and waits for the warpgroup's reduce-adds */
    F32bWalk w = {(int)blockIdx.x, 0, 0, 0};
    do {
    const F32bTile T = enter(w);
    const int64_t b = T.b, hk = T.hk, n0 = T.n0, qb_start = T.qb_start, per_head = T.per_head, total = T.total;
    float dk[DT][4], dv[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) dk[dt][e] = dv[dt][e] = 0.f;
    if (total > 0) {
      if (pro_old) {
        mbar_wait(bar_kv, (uint32_t)(w.tk & 1));
        mbar_wait(bar_kvc, (uint32_t)(w.tk & 1));
      } else {
        /* consumer 0 splits K, consumer 1 V (128 threads each, while the converters wait for the stages' second
           uses), then each converts its stage's first use; the named barrier publishes both splits */
        const int tid = threadIdx.x & 127;
        mbar_wait(bar_kv, 0);
        if (wg == 0) f32b_split_plane<PRECISE, 128>(sm + C::K_OFF, sm + C::KLO_OFF, BN * D / 4, tid);
        else f32b_split_plane<PRECISE, 128>(sm + C::V_OFF, sm + C::VLO_OFF, BN * D / 4, tid);
        if (wg < total) {
          mbar_wait(bar + 8 * st, 0);
          f32b_convert_stage<D, BM_, PRECISE, 128>(sm + C::STAGE_OFF + st * C::STAGE_BYTES, tid);
        }
        fence_proxy_async_smem();
        named_bar_sync(3, 256);
        if (threadIdx.x == 128) mbar_arrive(bar_kvc); /* the converters may wait for the second uses now */
      }
    }
    const int klim = (int)min((int64_t)BN, p.Nk - n0);
    /* this consumer's blocks: those whose number in the CTA's sequence (w.G + it) is wg modulo 2, in stage wg */
    const int64_t it0 = wg ^ (w.G & 1);
    for (int64_t it = it0; it < total; it += 2) {
      const int64_t use = (w.G + it) / ST;
      const uint32_t par = (uint32_t)(use & 1);
      const int64_t h = hk * grp + it / per_head, q0 = (qb_start + it % per_head) * BM;
      mbar_wait(bar + 8 * st, par);
      if (pro_old) mbar_wait(bar_conv + 8 * st, par);
      else if (use > 0) mbar_wait(bar_conv + 8 * st, (uint32_t)((use - 1) & 1));
      if (!PERSIST && it == wg && (threadIdx.x & 127) == 0) JFA_PROBE(a.probe, JFA_CTA_LINEAR(), 1 + wg);

      /* S^T = K Q^T, dP^T = V dO^T (64 keys x BM queries, k8 steps over D) */
      float s[NQ][4], dp[NQ][4];
      if constexpr (KREG) {
        /* K's and V's hi A fragments from their tiles (rounded in place by the converters, K_lo /
           V_lo the remainders), the rows of this warp's 16 keys (fwd_f32.cuh's f32_q_frags pattern,
           conflict-free): only the lo * hi product reads A from shared memory (3xTF32), a third of
           the SS traffic */
        uint32_t kf[C::KD][4], vf[C::KD][4];
        const int row = wq * 16 + g;
#pragma unroll
        for (int kk = 0; kk < C::KD; ++kk) {
          const int ch = (kk & 3) * 2;
          const uint32_t r0 = (uint32_t)(kk >> 2) * (BN * 128) + (uint32_t)row * 128 + (uint32_t)t4 * 4;
          const uint32_t o0 = r0 + ((uint32_t)(ch ^ g) << 4), o1 = r0 + ((uint32_t)((ch + 1) ^ g) << 4);
          kf[kk][0] = *(const uint32_t *)(sm + C::K_OFF + o0);
          kf[kk][1] = *(const uint32_t *)(sm + C::K_OFF + o0 + 1024);
          kf[kk][2] = *(const uint32_t *)(sm + C::K_OFF + o1);
          kf[kk][3] = *(const uint32_t *)(sm + C::K_OFF + o1 + 1024);
          vf[kk][0] = *(const uint32_t *)(sm + C::V_OFF + o0);
          vf[kk][1] = *(const uint32_t *)(sm + C::V_OFF + o0 + 1024);
          vf[kk][2] = *(const uint32_t *)(sm + C::V_OFF + o1);
          vf[kk][3] = *(const uint32_t *)(sm + C::V_OFF + o1 + 1024);
        }
        wg_fence();
        /* 3xTF32: the small products of every k8 step first, then the hi products (SMALLFIRST) */
#pragma unroll
        for (int kk = 0; kk < C::KD; ++kk) {
          const uint32_t ka = (kk >> 2) * (BN * 128) + (kk & 3) * 32, qa = (kk >> 2) * (BM * 128) + (kk & 3) * 32;
          const uint64_t qh = wg_desc(sQ + C::q_raw + qa, 16, 1024), oh = wg_desc(sQ + C::do_raw + qa, 16, 1024);
          if (PRECISE) {
            wgmma_tf32_ss<BM>(&s[0][0], wg_desc(sbase + C::KLO_OFF + ka, 16, 1024), qh, kk == 0 ? 0 : 1);
            wgmma_tf32_rs<BM>(&s[0][0], kf[kk], wg_desc(sQ + C::q_lo + qa, 16, 1024), 1);
            wgmma_tf32_ss<BM>(&dp[0][0], wg_desc(sbase + C::VLO_OFF + ka, 16, 1024), oh, kk == 0 ? 0 : 1);
            wgmma_tf32_rs<BM>(&dp[0][0], vf[kk], wg_desc(sQ + C::do_lo + qa, 16, 1024), 1);
            if (!SMALLFIRST) {
              wgmma_tf32_rs<BM>(&s[0][0], kf[kk], qh, 1);
              wgmma_tf32_rs<BM>(&dp[0][0], vf[kk], oh, 1);
            }
          } else {
            wgmma_tf32_rs<BM>(&s[0][0], kf[kk], qh, kk == 0 ? 0 : 1);
            wgmma_tf32_rs<BM>(&dp[0][0], vf[kk], oh, kk == 0 ? 0 : 1);
          }
        }
        if (PRECISE && SMALLFIRST) {
#pragma unroll
          for (int kk = 0; kk < C::KD; ++kk) {
            const uint32_t qa = (kk >> 2) * (BM * 128) + (kk & 3) * 32;
            wgmma_tf32_rs<BM>(&s[0][0], kf[kk], wg_desc(sQ + C::q_raw + qa, 16, 1024), 1);
            wgmma_tf32_rs<BM>(&dp[0][0], vf[kk], wg_desc(sQ + C::do_raw + qa, 16, 1024), 1);
          }
        }
        wg_commit();
        wg_wait<0>();
        wg_reg_fence_u<C::KD * 4>(&kf[0][0]);
        wg_reg_fence_u<C::KD * 4>(&vf[0][0]);
      } else {
        wg_fence();
#pragma unroll
        for (int pass = 0; pass < (PRECISE && SMALLFIRST ? 2 : 1); ++pass)
#pragma unroll
          for (int kk = 0; kk < C::KD; ++kk) {
            const uint32_t ka = (kk >> 2) * (BN * 128) + (kk & 3) * 32, qa = (kk >> 2) * (BM * 128) + (kk & 3) * 32;
            f32_ss_step<BM, PRECISE, SMALLFIRST>(&s[0][0], wg_desc(sK + ka, 16, 1024), wg_desc(sbase + C::KLO_OFF + ka, 16, 1024),
                                                 wg_desc(sQ + C::q_raw + qa, 16, 1024), wg_desc(sQ + C::q_lo + qa, 16, 1024),
                                                 kk == 0, pass);
            f32_ss_step<BM, PRECISE, SMALLFIRST>(&dp[0][0], wg_desc(sV + ka, 16, 1024), wg_desc(sbase + C::VLO_OFF + ka, 16, 1024),
                                                 wg_desc(sQ + C::do_raw + qa, 16, 1024), wg_desc(sQ + C::do_lo + qa, 16, 1024),
                                                 kk == 0, pass);
          }
        wg_commit();
        wg_wait<0>();
      }
      wg_reg_fence<NQ * 4>(&s[0][0]);
      wg_reg_fence<NQ * 4>(&dp[0][0]);

      /* P^T, dS^T in place (the sm80 float32 kernel's arithmetic); DM: every block per element, query qi's word's
         bit kl (the CTA's keys are one 64-key word) */
      const bool need_mask = DM || n0 + BN > p.Nk || (p.causal && p.k_pos0 + n0 + BN - 1 > p.q_pos0 + q0);
      int cdiff = 1 << 30;
      if (p.causal) {
        const int64_t cd = (p.q_pos0 + q0) - (p.k_pos0 + n0);
        cdiff = (int)max(min(cd, (int64_t)(1 << 30)), -(int64_t)(1 << 30));
      }
#pragma unroll
      for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int qi = nt * 8 + 2 * t4 + (e & 1), kl = wq * 16 + g + (e >> 1) * 8;
          float pv = p_cap1(exp2f(fmaf(s[nt][e], scale_lo, fmaf(s[nt][e], a.scale, -lb[qi])) * kLog2e));
          if (need_mask && (kl >= klim || kl - qi > cdiff || (DM && !mask_word_bit<BN>(mwb + qi, n0, kl)))) pv = 0.f;
          s[nt][e] = pv;
          dp[nt][e] = pv * (dp[nt][e] - db[qi]);
        }

      /* dV += P^T dO, dK += dS^T Q: k8 step kk = queries 8 kk.. (permuted), B = dOt / Qt */
      {
        uint32_t ph[C::KQ][4], pl[C::KQ][4], sh[C::KQ][4], sl[C::KQ][4];
#pragma unroll
        for (int kk = 0; kk < C::KQ; ++kk) {
          f32_acc_as_a<PRECISE>(s[kk], ph[kk], pl[kk]);
          f32_acc_as_a<PRECISE>(dp[kk], sh[kk], sl[kk]);
        }
        wg_reg_fence<DT * 4>(&dv[0][0]);
        wg_reg_fence<DT * 4>(&dk[0][0]);
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < C::KQ; ++kk) {
          const uint32_t o = (kk >> 2) * (D * 128) + (kk & 3) * 32;
          f32_wg_step<D, PRECISE>(&dv[0][0], ph[kk], pl[kk], wg_desc(sQ + C::dot_hi + o, 16, 1024),
                                  wg_desc(sQ + C::dot_lo + o, 16, 1024), false);
          f32_wg_step<D, PRECISE>(&dk[0][0], sh[kk], sl[kk], wg_desc(sQ + C::qt_hi + o, 16, 1024),
                                  wg_desc(sQ + C::qt_lo + o, 16, 1024), false);
        }
        wg_commit();
        if (!a.skip_dq) {
          /* while those run: dS as [query][key] (hi, lo) for dQ^T = K^T dS^T, keys 32 c.. in slab c
             (BM rows of 128 bytes). The previous block's dQ products read it (every warp has waited for them) and
             (DQTMA) its reduce-adds read the staged dQ from the hi plane (the issuer waits for them). */
          if (DQTMA && dq_issuer) bulk_wait_read();
          named_bar_sync(1 + wg, 128);
#pragma unroll
          for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int qi = nt * 8 + 2 * t4 + (e & 1), kl = wq * 16 + g + (e >> 1) * 8;
              const uint32_t off = (uint32_t)(kl >> 5) * (BM * 128) + (uint32_t)qi * 128 +
                                   ((uint32_t)(((kl & 31) >> 2) ^ (qi & 7)) << 4) + (uint32_t)(kl & 3) * 4;
              if (PRECISE) {
                *(float *)(dsp + off) = dp[nt][e];
                *(uint32_t *)(dsp + C::DS_BYTES + off) = tf32_lo_of_trunc(dp[nt][e]);
              } else {
                *(uint32_t *)(dsp + off) = tf32_round(dp[nt][e]);
              }
            }
          fence_proxy_async_smem();
          named_bar_sync(1 + wg, 128);
        }
        wg_wait<0>();
        wg_reg_fence<DT * 4>(&dv[0][0]);
        wg_reg_fence<DT * 4>(&dk[0][0]);
        wg_reg_fence_u<C::KQ * 4>(&ph[0][0]);
        wg_reg_fence_u<C::KQ * 4>(&pl[0][0]);
        wg_reg_fence_u<C::KQ * 4>(&sh[0][0]);
        wg_reg_fence_u<C::KQ * 4>(&sl[0][0]);
      }
      __syncwarp();
      if (lane == 0) mbar_arrive(bar_empty + 8 * st); /* this warp is done with the stage */

      if (!a.skip_dq) {
        /* dQ^T = K^T dS^T: rows d = 16 wq + g (+ 8), k8 steps over the keys; A = K^T from K's hi
           and lo tiles (a0 = K[8 kk + t][d], a1 = K[8 kk + t][d + 8], a2, a3 keys + 4) */
        uint32_t kh[C::KK][4], kl4[C::KK][4];
        const int d0 = wq * 16 + g;
#pragma unroll
        for (int kk = 0; kk < C::KK; ++kk)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const int key = kk * 8 + t4 + (r >> 1) * 4, d = d0 + (r & 1) * 8;
            const uint32_t o = (d >> 5) * (BN * 128) + key * 128 + ((((d & 31) >> 2) ^ (key & 7)) << 4) + (d & 3) * 4;
            kh[kk][r] = *(const uint32_t *)(sm + C::K_OFF + o);
            kl4[kk][r] = PRECISE ? *(const uint32_t *)(sm + C::KLO_OFF + o) : 0u;
          }
        float dq[NQ][4];
        wg_fence();
#pragma unroll
        for (int pass = 0; pass < (PRECISE && SMALLFIRST ? 2 : 1); ++pass)
#pragma unroll
          for (int kk = 0; kk < C::KK; ++kk) {
            const uint32_t o = (kk >> 2) * (BM * 128) + (kk & 3) * 32;
            const uint64_t bh = wg_desc(sDS + o, 16, 1024), bl = wg_desc(sDS + C::DS_BYTES + o, 16, 1024);
            if (!(PRECISE && SMALLFIRST)) {
              f32_wg_step<BM, PRECISE>(&dq[0][0], kh[kk], kl4[kk], bh, bl, kk == 0);
            } else if (pass == 0) {
              wgmma_tf32_rs<BM>(&dq[0][0], kl4[kk], bh, kk == 0 ? 0 : 1);
              wgmma_tf32_rs<BM>(&dq[0][0], kh[kk], bl, 1);
            } else {
              wgmma_tf32_rs<BM>(&dq[0][0], kh[kk], bh, 1);
            }
          }
        wg_commit();
        wg_wait<0>();
        wg_reg_fence<NQ * 4>(&dq[0][0]);
        wg_reg_fence_u<C::KK * 4>(&kh[0][0]);
        wg_reg_fence_u<C::KK * 4>(&kl4[0][0]);
        if constexpr (DQTMA) {
          /* staged in the dS hi plane (free once every warp has waited for the products: the
             barrier) as two boxes of BM rows x 32 columns in the 128-byte swizzle, then two TMA
             reduce-adds into the workspace, or (a.dq_direct) scaled into dq itself (rows past Nq skipped
             by the map) */
          const float dqs = a.dq_direct ? a.scale : 1.f;
          named_bar_sync(1 + wg, 128);
#pragma unroll
          for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int qi = nt * 8 + 2 * t4 + (e & 1), d = d0 + (e >> 1) * 8;
              const uint32_t off = (uint32_t)(d >> 5) * (BM * 128) + (uint32_t)qi * 128 +
                                   ((uint32_t)(((d & 31) >> 2) ^ (qi & 7)) << 4) + (uint32_t)(d & 3) * 4;
              *(float *)(dsp + off) = dq[nt][e] * dqs;
            }
          fence_proxy_async_smem();
          named_bar_sync(1 + wg, 128);
          if (dq_issuer) {
#pragma unroll
            for (int bx = 0; bx < D / 32; ++bx) {
              if (a.dq_direct) tma_reduce_add_4d(&tm.dq, sDS + bx * (BM * 128), bx * 32, (int)q0, (int)h, (int)b);
              else tma_reduce_add_3d(&tm.dq, sDS + bx * (BM * 128), bx * 32, (int)q0, (int)(b * p.Hq + h));
            }
            bulk_commit();
          }
        } else {
          float *ws = a.dq_ws + (b * p.Hq + h) * p.Nq * a.Dws;
#pragma unroll
          for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
            for (int e = 0; e < 4; ++e) {
              const int64_t i = q0 + nt * 8 + 2 * t4 + (e & 1);
              if (i < p.Nq) atomicAdd(ws + i * a.Dws + d0 + (e >> 1) * 8, dq[nt][e]);
            }
        }
      }
    }

    if (PERSIST && total > 0) {
      __syncwarp();
      if (lane == 0) mbar_arrive(bar_kve); /* this warp is done with the tile's K and V (the last dQ products) */
    }
    if (!PERSIST && (threadIdx.x & 127) == 0) JFA_PROBE(a.probe, JFA_CTA_LINEAR(), 3 + wg);
    const bool old = !PERSIST && a.tune_old == 1;
    /* the reduce-adds read the dS planes until done (their writes land by the kernel's end) */
    if (DQTMA && dq_issuer) {
      if (old) bulk_wait();
      else bulk_wait_read();
    }
    /* The two consumers' dK, dV added through shared memory: consumer 1 hands its dK to consumer 0 through stage 1
       and consumer 0 its dV to consumer 1 through stage 0 (each stage's last TMA and converter writes were waited by
       its consumer; nothing else writes it any more), then consumer 0 stores dK and consumer 1 dV. Tuning builds'
       JFA_TUNE_BWD_OLD=1: consumer 1 hands both to consumer 0, which stores both (before the fourteenth session). */
    /* PERSIST: through the consumers' dS planes instead (16 KB each: the stages may hold the next tile's blocks), once
       the warpgroup knows its issuer's last reduce-adds have read them */
    if (PERSIST) named_bar_sync(1 + wg, 128);
    float *x0 = (float *)(sm + (PERSIST ? C::DS_OFF : C::STAGE_OFF)) + (threadIdx.x & 127);
    float *x1 = (float *)(sm + (PERSIST ? C::DS_OFF + C::NDS * C::DS_BYTES : C::STAGE_OFF + C::STAGE_BYTES)) + (threadIdx.x & 127);
    if (wg == 1) {
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          x1[(dt * 4 + e) * 128] = dk[dt][e];
          if (old) x1[(DT * 4 + dt * 4 + e) * 128] = dv[dt][e];
        }
    } else if (!old) {
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) x0[(dt * 4 + e) * 128] = dv[dt][e];
    }
    named_bar_sync(3, 256);
    if (wg == 0) {
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          dk[dt][e] += x1[(dt * 4 + e) * 128];
          if (old) dv[dt][e] += x1[(DT * 4 + dt * 4 + e) * 128];
        }
    } else if (!old) {
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 4; ++e) dv[dt][e] += x0[(dt * 4 + e) * 128];
    }
    if (PERSIST) named_bar_sync(3, 256); /* both have read the other's plane: the next tile's dS may overwrite it */
    /* (not the tuning builds' TF32 at BM = 32, whose stages of 32 KB lack the room; nor PERSIST) */
    constexpr bool VEC = !PERSIST && 16384 + 64 * (D + 8) * 4 <= C::STAGE_BYTES;
    if (VEC && !old && a.kv_vec16 && !a.accumulate) {
      /* each consumer's sum (consumer 0 dK, scaled; consumer 1 dV) as a [key][column] tile in its own stage's bytes
         after the 16 KB of the handoff (rows of D + 8 floats: conflict-free float2 writes), then stored as 16-byte
         pieces of 4 columns, a row's pieces by consecutive threads (accumulate mode, the ring's, keeps the
         per-element path below, as the 16-bit kernel's: not yet run on a GPU in this form) */
      constexpr int PF = D + 8;
      float *tile = (float *)(sm + C::STAGE_OFF + (size_t)wg * C::STAGE_BYTES + 16384);
      const float sc = wg == 0 ? a.scale : 1.f;
#pragma unroll
      for (int rr = 0; rr < 2; ++rr)
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          const float x0v = wg == 0 ? dk[dt][rr * 2] : dv[dt][rr * 2], x1v = wg == 0 ? dk[dt][rr * 2 + 1] : dv[dt][rr * 2 + 1];
          *(float2 *)(tile + (wq * 16 + g + rr * 8) * PF + dt * 8 + 2 * t4) = make_float2(x0v * sc, x1v * sc);
        }
      named_bar_sync(1 + wg, 128);
      tile_store16<float, D>((const unsigned char *)tile, PF * 4, BN, wg == 0 ? a.dk : a.dv, b, hk, n0, p.Nk,
                             threadIdx.x & 127, 128);
    } else {
      const bool st_k = wg == 0, st_v = old ? wg == 0 : wg == 1;
      if (st_k || st_v) {
#pragma unroll
        for (int rr = 0; rr < 2; ++rr) {
          const int64_t j = n0 + wq * 16 + g + rr * 8;
          if (j >= p.Nk) continue;
#pragma unroll
          for (int dt = 0; dt < DT; ++dt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int d = dt * 8 + 2 * t4 + e;
              if (st_k) store_or_add<float>(a.dk, b, hk, j, d, dk[dt][rr * 2 + e] * a.scale, a.accumulate);
              if (st_v) store_or_add<float>(a.dv, b, hk, j, d, dv[dt][rr * 2 + e], a.accumulate);
            }
        }
      }
    }
    if (!PERSIST && (threadIdx.x & 127) == 0) JFA_PROBE(a.probe, JFA_CTA_LINEAR(), 5 + wg);
    } while (PERSIST && next_tile(w));
  }
#endif
}

template <int D, int BM, bool PRECISE, bool DQTMA, bool KREG = true, bool SMALLFIRST = true, bool DM = false>
static jfa_status_t launch_bwd_f32_sm90a(const BwdArgs &a, const Sm90BwdTensors &t, cudaStream_t st) {
  typedef Sm90BwdF32<D, BM, PRECISE, DM> C;
  Sm90BwdF32Maps tm;
  memset(&tm, 0, sizeof(tm));
  JFA_CHECK(tma_map_bhsd(&tm.q, t.q, C::BM));
  JFA_CHECK(tma_map_bhsd(&tm.dout, t.dout, C::BM));
  JFA_CHECK(tma_map_bhsd(&tm.k, t.k, C::BN));
  JFA_CHECK(tma_map_bhsd(&tm.v, t.v, C::BN));
  if (a.dq_direct && !(DQTMA && !a.skip_dq && t.dq)) JFA_FAIL(JFA_ERROR_INTERNAL, "dq_direct without its TMA reduce-adds");
  if (DQTMA && !a.skip_dq) {
    if (a.dq_direct) JFA_CHECK(tma_map_bhsd(&tm.dq, t.dq, C::BM));
    else JFA_CHECK(tma_map_dq_ws(&tm.dq, a.dq_ws, a.p.B * a.p.Hq, a.p.Nq, a.Dws, C::BM));
  }
  auto kern = bwd_f32_sm90a_kernel<D, BM, PRECISE, DQTMA, KREG, SMALLFIRST, false, DM>;
  JFA_CHECK(smem_optin(kern, C::SMEM));
  dim3 grid((unsigned)((a.p.Nk + C::BN - 1) / C::BN), (unsigned)a.p.Hkv, (unsigned)a.p.B);
  /* the persistent form where tiles.h kSm90BwdF32Persist allows, up to kSm90BwdF32PersistMaxNk keys (tuning builds:
     JFA_TUNE_SM90_F32_BWD_PERSIST=1 at every N / 0 never),
     the default's products only (DQTMA, KREG, SMALLFIRST) and not under JFA_TUNE_BWD_OLD */
  bool persist = tune_switch(kSm90BwdF32Persist && a.p.Nk <= kSm90BwdF32PersistMaxNk, "JFA_TUNE_SM90_F32_BWD_PERSIST");
  persist = persist && a.nsm > 0 && a.tune_old == 0;
  {
    /* every CTA's blocks counted in an int (bwd_f32_sm90a_kernel's F32bWalk): all tiles' blocks below 2^31 */
    const int64_t ntiles = (int64_t)grid.x * grid.y * grid.z, qblocks = (a.p.Nq + C::BM - 1) / C::BM + 1;
    persist = persist && ntiles < ((int64_t)1 << 31) / (qblocks * (a.p.Hq / a.p.Hkv));
  }
  /* causal calls longest first in groups of pairs whose Q, dO and dQ accumulators (float32) fit the L2 budget
     (common/cta_order.h), as sm80's float32 backward; tuning builds' JFA_TUNE_SM80_F32_BWD_HG=g sets the group here
     too (-1: head after head, as before the thirteenth session) */
  const int64_t hg = bwd_causal_group(a.p, a.p.causal && !a.masked, D, 12, "JFA_TUNE_SM80_F32_BWD_HG");
  /* the epilogue through shared memory only where tiles.h kSm90BwdF32VecEpi allows (tuning builds:
     JFA_TUNE_SM90_F32_BWD_EPI=1 / 0 overrides) */
  BwdArgs ak = a;
  bool vec = tune_switch(kSm90BwdF32VecEpi, "JFA_TUNE_SM90_F32_BWD_EPI");
  ak.kv_vec16 = a.kv_vec16 && vec;
  bool pro = tune_switch(kSm90BwdF32Pro, "JFA_TUNE_SM90_F32_BWD_PRO");
  ak.f32_pro = pro ? 1 : 0;
  /* (the default's products; the dK / dV handoff needs 16 KB of dS planes a consumer: not the tuning builds' TF32
     at BM = 32) */
  if constexpr (!DM && DQTMA && KREG && SMALLFIRST && C::NDS * C::DS_BYTES >= 128 * (D / 8) * 4 * 4) {
    if (persist) {
      auto pk = bwd_f32_sm90a_kernel<D, BM, PRECISE, DQTMA, KREG, SMALLFIRST, true>;
      JFA_CHECK(smem_optin(pk, C::SMEM));
      const int64_t ntiles = (int64_t)grid.x * grid.y * grid.z;
      const unsigned nc = (unsigned)(ntiles < a.nsm ? ntiles : a.nsm);
      if (nc > 0) pk<<<nc, C::NTHREADS, C::SMEM, st>>>(ak, tm, hg);
      JFA_LAUNCH_CHECK();
      return JFA_SUCCESS;
    }
  }
  kern<<<grid, C::NTHREADS, C::SMEM, st>>>(ak, tm, hg);
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* The query rows a block (tiles.h: 3xTF32 kSm90BwdF32BM, TF32 kSm90BwdF32BMT); dQ by TMA reduce-adds.
   Tuning builds: JFA_TUNE_SM90_F32_BWD_SS=1 reads K's and V's hi parts of the score products from
   shared memory (SS wgmma) instead of registers (KREG), JFA_TUNE_SM90_F32_BWD_DQ=1 adds dQ by fp32
   atomics instead, JFA_TUNE_SM90_F32_BWD_BM=32
   runs TF32 at BM = 32 (3xTF32's shape), for A / B runs and for telling a shape's bug from the kernel's;
   JFA_TUNE_SM90_F32_BWD_ORDER=1 issues 3xTF32's products in the first version's order (lo * hi,
   hi * lo, hi * hi per k8 step; not SMALLFIRST) with the rounded K, V: for measuring the order's
   cost only; at large logits it is 2-3x less accurate (bench/f32_score_model.c: 0.8-1.3e-3, the
   tests' bound 1.5e-3). */
template <int D> jfa_status_t sm90_bwd_f32_d(const BwdArgs &a, const Sm90BwdTensors &t, bool tf32, cudaStream_t st) {
  constexpr int BM3 = kSm90BwdF32BM, BMT = kSm90BwdF32BMT;
  /* a boolean dense mask (family.cu: tiles.h kSm90BwdF32Dense / JFA_SM90_F32_BWD_DENSE): the default's products with
     the rows' mask words (DM), not persistent */
  if (a.mk.bm_bits) {
    return tf32 ? launch_bwd_f32_sm90a<D, BMT, false, true, true, true, true>(a, t, st)
                : launch_bwd_f32_sm90a<D, BM3, true, true, true, true, true>(a, t, st);
  }
#ifdef JFA_TUNING
  const bool atom = tune_variant("JFA_TUNE_SM90_F32_BWD_DQ") == 1;
  if (!tf32 && tune_variant("JFA_TUNE_SM90_F32_BWD_ORDER") == 1) return launch_bwd_f32_sm90a<D, BM3, true, true, true, false>(a, t, st);
  if (tune_variant("JFA_TUNE_SM90_F32_BWD_SS") == 1)
    return tf32 ? launch_bwd_f32_sm90a<D, BMT, false, true, false>(a, t, st) : launch_bwd_f32_sm90a<D, BM3, true, true, false>(a, t, st);
  if (tf32 && BMT != 32 && tune_variant("JFA_TUNE_SM90_F32_BWD_BM") == 32)
    return atom ? launch_bwd_f32_sm90a<D, 32, false, false>(a, t, st) : launch_bwd_f32_sm90a<D, 32, false, true>(a, t, st);
  if (atom)
    return tf32 ? launch_bwd_f32_sm90a<D, BMT, false, false>(a, t, st) : launch_bwd_f32_sm90a<D, BM3, true, false>(a, t, st);
#endif
  if (tf32) return launch_bwd_f32_sm90a<D, BMT, false, true>(a, t, st);
  return launch_bwd_f32_sm90a<D, BM3, true, true>(a, t, st);
}

#endif /* JFA_KERNELS_SM90_BWD_F32_CUH_ */
