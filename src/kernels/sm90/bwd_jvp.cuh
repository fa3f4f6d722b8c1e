/*
 * bwd_jvp.cuh - the sm90 family's (Hopper, sm_90a: wgmma fed by TMA through mbarriers) backward-JVP
 * kernel of jfa (second order, jfa_attention_backward_jvp), bf16 / fp16 with fp32 accumulation, at
 * D = 64 and 128, unmasked, causal (both alignments, q_pos0 / k_pos0) or with interval masks (windows,
 * positions, packed sequences: the MASKED instantiation), GQA. On by default (tiles.h kSm90BwdJvp;
 * JFA_SM90_BWD_JVP=0 per call keeps sm80, family.cu). The design is
 * bench/RESULTS.md's "2026-12-02 (fifth session): an sm90 backward-JVP (issue 20)", the AB split;
 * the arithmetic is sm80/bwd_jvp.cuh's (the same per-element formulas, P in fp32):
 *   S^T = K Q^T, Sd^T = Kd Q^T + K Qd^T, dP^T = V dO^T, dPd^T = Vd dO^T + V dOd^T,
 *   P = exp2(s log2e S - lse), Pd = P (s Sd - mu), dS = P (dP - delta), dSd = Pd (dP - delta) + P (dPd - deltad),
 *   dVd += Pd^T dO + P^T dOd, dKd += dSd^T Q + dS^T Qd (scaled by s at the end),
 *   dQd += dSd K + dS Kd (fp32 workspace by TMA reduce-adds; the caller scales it).
 * A CTA owns BN = 64 keys of one (batch, kv head) and walks the query heads of its GQA group and the
 * query blocks of BM = 64 rows (causal: from the first that sees its keys, bwd_query_blocks). Three
 * warpgroups:
 *   - the producer (setmaxnreg 40): warp 0 lane 0 loads K, Kd, V, Vd once and, per block, Q, Qd, dO,
 *     dOd into a stage (TMA, 128-byte swizzle); warp 0's lanes write the block's lse (log2 units, +inf
 *     for rows without keys and past Nq), mu, delta and deltad into the stage;
 *   - consumer A (setmaxnreg 232): S^T and Sd^T (3 units of 64 x 64 x D), P and Pd, which it writes
 *     to shared memory in fp32 (one float4 a thread per 8 columns, in its registers' order) for B,
 *     then dVd += Pd^T dO + P^T dOd (RS: A from registers; 2 units), and dQd's columns [0, D / 2);
 *   - consumer B (232): dP^T and dPd^T (3 units), then, once A's P, Pd are in shared memory (named
 *     barrier 1), dS and dSd in place; both as 16-bit into shared memory (stmatrix .trans, the dS
 *     layout of bwd.cuh: queries x 64 keys, K-major for dQd), named barrier 2 (A and B), dKd += dSd^T Q
 *     + dS^T Qd (RS, 2 units), and dQd's columns [D / 2, D).
 * dQd[:, half] = dSd K[:, half] + dS Kd[:, half] (SS, M = 64 queries, depth 64 keys, N = D / 2: one
 * unit a side) is staged in fp32 and reduce-added (sm90_dq_reduce, bwd.cuh's SPLIT): one add per
 * element per CTA. 6 units a side a block, nothing computed twice (12 = 2.4x the backward's 5).
 * The buffers: A writes block j + 1's P / Pd only after barrier 2 of block j, where B arrives after
 * reading block j's; B writes block j + 1's dS / dSd only after barrier 1 of j + 1, where A arrives
 * after waiting for its dQd products of block j (which read them). A stage is two halves with their own
 * `full` / `empty` mbarriers: Q, Qd with lse, mu (MASKED: the intervals), released by A once Sd^T is done
 * and Pd computed and by B once dKd is done; dO, dOd with delta, deltad, released by B once dS, dSd are
 * computed and by A once dVd is done. The producer refills the dO half first (mid-block), so that at
 * D = 128 (one stage) block j + 1's dO, dOd load during block j's dKd and dQd, and its Q, Qd during the
 * dQd phase; A starts with the Q half, B with the dO half.
 * Shared memory (bf16): K, Kd, V, Vd 4 x 64 x D, a stage 4 x 64 x D (Q, Qd, dO, dOd), dS + dSd 16 KB,
 * the P / Pd exchange 32 KB, dQd staging 2 x 64 x D / 2 fp32: at D = 128 one stage (215 KB of 227;
 * two would need 279), at D = 64 three (201 KB). Tuning variant 1 at D = 128 (tiles.h, JFA_TUNE_SM90_BWD_JVP=1
 * in JFA_TUNING builds, unmasked / causal): the half-stage layout, two buffers of the Q half and one of the
 * dO half, the dQd staging halved (two passes of 32 columns a consumer): 231,992 bytes; the producer then
 * loads block j + 1's Q, Qd at the start of block j.
 * First-order outputs (dQ, dK, dV) are not computed here: family.cu runs the sm90 backward (bwd.cuh)
 * for them, as the sm80 family does at D > 64 (17 units instead of a fused 15; the design's fused
 * instantiation is future work). Deterministic mode: the kernel skips dQd (a.dqd_ws == NULL) and the
 * caller takes dQd, dQ from the simt kernel. Accumulate mode: dKd, dVd added in fp32.
 * Masked elements (causal, keys past Nk) give P = Pd = 0 exactly (and so dS = dSd = 0 where dP is
 * finite); rows with lse = -inf contribute nothing; NaN in a visible element propagates (p_cap1).
 * Interval masks (MASKED, a.masked; bwd.cuh's rule): the CTA walks the query blocks mask_query_range
 * gives for its keys (bwd_query_blocks); producer warp 1 writes each stage's rows' key intervals and their
 * union / intersection (and arrives on `full` with warp 0); both consumers classify the CTA's 64 keys alike
 * (they own the same keys, so their barriers stay matched): empty (skipped: no products, no dQd reduce-add,
 * the stage released), full (no per-element test) or partial (key in its row's [lo, hi)).
 * Not taken here (family.cu declines them to sm80): dense masks, other head dims, float32.
 */
#ifndef JFA_KERNELS_SM90_BWD_JVP_CUH_
#define JFA_KERNELS_SM90_BWD_JVP_CUH_

#include "kernels/sm90/bwd.cuh" /* sm90_dq_reduce; through it wgmma.cuh (sm90_mm_cols) */

/* Tile shapes and shared-memory layout (offsets from a 1024-aligned base). A stage is two halves with
   their own buffers and barriers: STQ of Q, Qd (with lse, mu and, MASKED, the intervals) and STO of dO, dOd
   (with delta, deltad); STQ = STO but for the half-stage layout (tiles.h variant 1 at D = 128: two Q
   halves, one dO half, and the dQd staging in two passes of 32 columns, so that it fits). */
template <int D, int STQ, int STO, bool MASKED> struct Sm90BwdJvp {
  static constexpr int BM = 64, BN = 64, NH = D / 64, NTHREADS = 384, DH = D / 2;
  static constexpr uint32_t HALF = 64 * 128;      /* one 64-column slab of 64 rows */
  static constexpr uint32_t TILE = NH * HALF;     /* one 64 x D tile (K, Kd, V, Vd, Q, Qd, dO, dOd) */
  static constexpr uint32_t KV_BYTES = 4 * TILE;  /* K, Kd, V, Vd */
  static constexpr uint32_t HALF_BYTES = 2 * TILE; /* a stage half: Q, Qd or dO, dOd */
  static constexpr uint32_t DS_BYTES = BM * 128;  /* one 16-bit buffer: BM queries x 64 keys */
  static constexpr uint32_t X_BYTES = 128 * 16 * 16; /* P, Pd: 16 float4 a consumer thread */
  /* dQd staging per consumer: its DH columns in DQP passes (DH / DQP / 32 boxes of BM x 32 fp32 a pass) */
  static constexpr int DQP = STQ != STO && D == 128 ? 2 : 1;
  static constexpr uint32_t DQ_BYTES = BM * (DH / DQP) * 4;
  static constexpr uint32_t Q_OFF = KV_BYTES;                /* [STQ] Q, Qd */
  static constexpr uint32_t O_OFF = Q_OFF + STQ * HALF_BYTES; /* [STO] dO, dOd */
  static constexpr uint32_t DS_OFF = O_OFF + STO * HALF_BYTES; /* dS, then dSd */
  static constexpr uint32_t X_OFF = DS_OFF + 2 * DS_BYTES;
  static constexpr uint32_t DQ_OFF = X_OFF + X_BYTES; /* [2] staging */
  static constexpr uint32_t STAT_OFF = DQ_OFF + 2 * DQ_BYTES; /* lse, mu [STQ][BM], delta, deltad [STO][BM] */
  /* MASKED: the rows' key intervals int2 (lo, hi) [STQ][BM], then per stage the int4 (union lo, union hi,
     intersection lo, intersection hi) of the block's rows (bwd.cuh's) */
  static constexpr uint32_t MSK_OFF = STAT_OFF + 2 * (STQ + STO) * BM * 4;
  static constexpr uint32_t MSK_BYTES = MASKED ? STQ * (BM * 8 + 16) : 0;
  /* fullQ[STQ], emptyQ[STQ], fullO[STO], emptyO[STO], then kv */
  static constexpr uint32_t BAR_OFF = MSK_OFF + MSK_BYTES;
  static constexpr size_t SMEM = BAR_OFF + 8 * (2 * STQ + 2 * STO + 1) + 1024;
  static_assert(D == 64 || D == 128, "sm90 backward-JVP: D = 64 or 128");
  static_assert(STO <= STQ && (!MASKED || STQ == STO), "sm90 backward-JVP: stage halves");
  static_assert(SMEM <= 232448, "sm90 backward-JVP: shared memory beyond the sm_90 opt-in limit");
  static_assert(Q_OFF % 1024 == 0 && HALF_BYTES % 1024 == 0 && DS_OFF % 1024 == 0 && DQ_OFF % 1024 == 0 &&
                    DQ_BYTES % 1024 == 0 && TILE % 1024 == 0,
                "sm90 backward-JVP tiles not 1024-byte aligned");
  static_assert(BAR_OFF % 8 == 0 && MSK_OFF % 16 == 0, "mbarriers need 8-byte alignment, the int4 16");
  static_assert(KV_BYTES < (1u << 20) && HALF_BYTES < (1u << 20), "mbarrier transaction count overflow");
};

/* The TMA maps of one call (kernel parameter space). */
struct Sm90BwdJvpMaps {
  CUtensorMap q, qd, dout, doutd, k, kd, v, vd;
  CUtensorMap dqd; /* the fp32 dQd workspace (unless deterministic) */
};

template <typename T, int D, int STQ, int STO, bool MASKED>
__global__ void __launch_bounds__(384, 1)
    bwd_jvp_sm90a_kernel(const __grid_constant__ BwdJvpArgs a, const __grid_constant__ Sm90BwdJvpMaps tm) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  typedef Sm90BwdJvp<D, STQ, STO, MASKED> C;
  constexpr int BM = C::BM, NH = C::NH, NQ = BM / 8, DT = D / 8, KQ = BM / 16, DH = C::DH;
  /* MASKED at D = 128: setmaxnreg 40 / 232 with the producer's warp 0 in the leaner form (32-bit loop
     state, the statistics one half at a time); the other kernels keep their code (and machine code) */
  constexpr bool P40 = MASKED && D == 128;
  extern __shared__ __align__(1024) unsigned char smraw[];
  const uint32_t sbase = (smem_u32(smraw) + 1023u) & ~1023u;
  unsigned char *gbase = smraw + (sbase - smem_u32(smraw));
  float *lse_s = (float *)(gbase + C::STAT_OFF), *mu_s = lse_s + STQ * BM, *del_s = mu_s + STQ * BM,
        *deld_s = del_s + STO * BM;
  int2 *iv_s = (int2 *)(gbase + C::MSK_OFF);               /* MASKED: [STQ][BM] rows' key intervals */
  int4 *cls_s = (int4 *)(gbase + C::MSK_OFF + STQ * BM * 8); /* MASKED: [STQ] union / intersection */
  const uint32_t bar = sbase + C::BAR_OFF;
  const uint32_t fullQ = bar, emptyQ = bar + 8 * STQ, fullO = bar + 16 * STQ, emptyO = fullO + 8 * STO,
                 bar_kv = emptyO + 8 * STO; /* [STQ] / [STO] each, 8 bytes apart */

  const jfa_problem_t &p = a.p;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.z, hk = blockIdx.y, grp = p.Hq / p.Hkv;
  const int64_t n0 = (int64_t)blockIdx.x * C::BN;
  const BwdQueryBlocks qbs = bwd_query_blocks<BM, C::BN, MASKED>(p, a.mk, n0);
  const int64_t qb_start = qbs.qb_start, nqb = qbs.nqb;
  const int64_t total = qbs.per_head * grp;
  const bool dq_on = a.dqd_ws != nullptr;

  if (threadIdx.x == 0) {
    /* full: warp 0's lanes (the statistics), lane 0 with the bytes; fullQ MASKED: warp 1's (the intervals)
       too. empty: one arrival per consumer warp */
#pragma unroll
    for (int s = 0; s < STQ; ++s) {
      mbar_init(fullQ + 8 * s, MASKED ? 64 : 32);
      mbar_init(emptyQ + 8 * s, 8);
    }
#pragma unroll
    for (int s = 0; s < STO; ++s) {
      mbar_init(fullO + 8 * s, 32);
      mbar_init(emptyO + 8 * s, 8);
    }
    mbar_init(bar_kv, 1);
    mbar_fence_init();
  }
  __syncthreads();

  if (warp < 4) {
    /* producer warpgroup: warp 0 works, the three others idle */
    /* 40 / 232; 72 / 216 for MASKED at D = 64 and the half-stage layout (warp 1's interval loop, the
       two halves' counters; ptxas: 0 spills with these, 8-204 bytes with the other splits of 504 =
       3 x 168 tried). MASKED at D = 128 (P40) takes 40 / 232 too, as bwd.cuh's masked kernel: its
       consumers serialise the wgmma at 216 (ptxas C7512); warp 0 fits 40 in 32-bit loop state with one
       half's statistics at a time (8 row addresses live at once spilled 40-48 bytes) */
    if constexpr ((MASKED && !P40) || STQ != STO) asm volatile("setmaxnreg.dec.sync.aligned.u32 72;\n" ::: "memory");
    else asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
    if (warp == 0 && total > 0) {
      const uint32_t sK = sbase, sKd = sK + C::TILE, sV = sKd + C::TILE, sVd = sV + C::TILE;
      if (lane == 0) {
        mbar_arrive_expect_tx(bar_kv, C::KV_BYTES);
#pragma unroll
        for (int hh = 0; hh < NH; ++hh) {
          tma_load_4d(sK + hh * C::HALF, &tm.k, bar_kv, hh * 64, (int)n0, (int)hk, (int)b);
          tma_load_4d(sKd + hh * C::HALF, &tm.kd, bar_kv, hh * 64, (int)n0, (int)hk, (int)b);
          tma_load_4d(sV + hh * C::HALF, &tm.v, bar_kv, hh * 64, (int)n0, (int)hk, (int)b);
          tma_load_4d(sVd + hh * C::HALF, &tm.vd, bar_kv, hh * 64, (int)n0, (int)hk, (int)b);
        }
      }
      /* P40: 32-bit loop state (family.cu takes masked calls with Nq, Nk < 2^30; B * Hq < 2^31), as
         warp 1's and the consumers' */
      typedef std::conditional_t<P40, int, int64_t> LI;
      LI h = (LI)(hk * grp), qb = (LI)qb_start;
      const LI qbs0 = (LI)qb_start, qbe = (LI)nqb, ntot = (LI)total;
      int sq = 0, so = 0; /* the halves' buffers and the parities of their rounds */
      uint32_t pq = 0, po = 0;
      for (LI it = 0; it < ntot; ++it) {
        /* the rows' statistics (lane l: rows l, l + 32) before the waits, so that their latency passes
           while the stage is still in use (P40: lse, mu loaded after the dO half's wait, while the Q
           half's buffer is still in use) */
        const LI q0 = qb * BM;
        float lr[2], mr[2], dr[2], ddr[2];
        if constexpr (!P40) {
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            const int64_t i = q0 + lane + 32 * r;
            const float4 rs = bwd_jvp_row_stats(a, b, h, i, p.Nq);
            lr[r] = rs.x, mr[r] = rs.y, dr[r] = rs.z, ddr[r] = rs.w;
          }
        }
        /* P40: one half's statistics (qh: lse in log2 units, +inf for rows without keys and past Nq, and
           mu; else delta, deltad), so that warp 0 holds 4 addresses and 4 values at a time, not 8 and 8
           (at 40 registers the 8 addresses spilled) */
        auto load_stats = [&](bool qh) {
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            const LI i = q0 + lane + 32 * r;
            float x = qh ? INFINITY : 0.f, y = 0.f;
            if (i < p.Nq) {
              if (qh) {
                x = ((const float *)a.lse.p)[voff(a.lse, b, h, i, 0)];
                x = x == -INFINITY ? INFINITY : x * 1.4426950408889634f;
                y = ((const float *)a.mu.p)[voff(a.mu, b, h, i, 0)];
              } else {
                x = ((const float *)a.delta.p)[voff(a.delta, b, h, i, 0)];
                y = ((const float *)a.deltad.p)[voff(a.deltad, b, h, i, 0)];
              }
            }
            if (qh) lr[r] = x, mr[r] = y;
            else dr[r] = x, ddr[r] = y;
          }
        };
        /* one half of a block's loads into its ring (NS buffers, slot sl, parity ph): its two row
           statistics (x, y -> sx, sy) and its two tiles (m0, m1: Q, Qd or dO, dOd), then the slot's full
           barrier; the dO half is released mid-block (B after dS, A after dVd), the Q half by A once it
           has Pd, by B once its dKd is done */
        auto load_half = [&](auto nst, int &sl, uint32_t &ph, uint32_t empty, uint32_t full, uint32_t off,
                             float *sx, float *sy, const float *x, const float *y, const CUtensorMap *m0,
                             const CUtensorMap *m1) {
          constexpr int NS = decltype(nst)::value;
          if (it >= NS) mbar_wait(empty + 8 * sl, ph ^ 1u);
#pragma unroll
          for (int r = 0; r < 2; ++r) {
            const int o = sl * BM + lane + 32 * r;
            sx[o] = x[r], sy[o] = y[r];
          }
          const uint32_t dst = sbase + off + sl * C::HALF_BYTES, fb = full + 8 * sl;
          if (lane == 0) {
            mbar_arrive_expect_tx(fb, C::HALF_BYTES);
#pragma unroll
            for (int hh = 0; hh < NH; ++hh) {
              tma_load_4d(dst + hh * C::HALF, m0, fb, hh * 64, (int)q0, (int)h, (int)b);
              tma_load_4d(dst + C::TILE + hh * C::HALF, m1, fb, hh * 64, (int)q0, (int)h, (int)b);
            }
          } else {
            mbar_arrive(fb);
          }
          if (++sl == NS) {
            sl = 0;
            ph ^= 1u;
          }
        };
        auto load_o = [&]() {
          load_half(std::integral_constant<int, STO>{}, so, po, emptyO, fullO, C::O_OFF, del_s, deld_s, dr, ddr,
                    &tm.dout, &tm.doutd);
        };
        auto load_q = [&]() {
          load_half(std::integral_constant<int, STQ>{}, sq, pq, emptyQ, fullQ, C::Q_OFF, lse_s, mu_s, lr, mr, &tm.q,
                    &tm.qd);
        };
        /* the half whose buffer frees first: with as many buffers of each, dO's (released mid-block);
           with more Q buffers (the half-stage layout), Q's (its buffer was released a block earlier) */
        if constexpr (STQ > STO) {
          load_q();
          load_o();
        } else if constexpr (P40) {
          load_stats(false);
          load_o();
          load_stats(true);
          load_q();
        } else {
          load_o();
          load_q();
        }
        if (++qb == qbe) {
          qb = qbs0;
          ++h;
        }
      }
    } else if (MASKED && warp == 1 && total > 0) {
      /* warp 1 (MASKED): per stage, the key intervals of the block's rows (mask_row_keys: windows,
         positions, packed sequences, causal; empty past Nq) and the union / intersection of those of
         the rows < Nq, then its 32 arrivals on the stage's `full` (bwd.cuh's warp 1; 32-bit state:
         family.cu takes masked calls with Nq, Nk < 2^30). The intervals do not depend on the head. */
      const int qbs0 = (int)qb_start, qbe = (int)nqb, ng = (int)grp, nq = (int)p.Nq;
      int st = 0, wait_in = -STQ; /* the stage's previous use is awaited once wait_in >= 0 */
      uint32_t ph = 0;
      for (int hg = 0; hg < ng; ++hg)
        for (int qb = qbs0; qb < qbe; ++qb) {
          int2 iv[BM / 32];
          const int4 cls = mask_warp_rows<BM / 32>(a.mk, qb * BM, nq, lane, iv);
          if (wait_in >= 0) mbar_wait(emptyQ + 8 * st, ph ^ 1u); /* the consumers released it */
          else ++wait_in;
#pragma unroll
          for (int r = 0; r < BM / 32; ++r) iv_s[st * BM + lane + 32 * r] = iv[r];
          if (lane == 0) cls_s[st] = cls;
          mbar_arrive(fullQ + 8 * st);
          if (++st == STQ) {
            st = 0;
            ph ^= 1u;
          }
        }
    }
  } else {
    if constexpr ((MASKED && !P40) || STQ != STO) asm volatile("setmaxnreg.inc.sync.aligned.u32 216;\n" ::: "memory");
    else asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    const int cw = warp - 4, wg = cw >> 2, wq = cw & 3;
    const int g = lane >> 2, t4 = lane & 3;
    const int tid = threadIdx.x & 127;
    const bool dq_issuer = tid == 0;
    /* this consumer's dQd columns [dc0, dc0 + DH) and staging buffer */
    const int dc0 = wg * DH;
    unsigned char *dqw = gbase + C::DQ_OFF + (size_t)wg * C::DQ_BYTES;
    const uint32_t sDQw = sbase + C::DQ_OFF + (uint32_t)wg * C::DQ_BYTES;
    float4 *xb = (float4 *)(gbase + C::X_OFF) + tid; /* P, Pd exchange: float4 i at xb[128 i] */
    /* A: dVd; B: dKd (64 keys x D) */
    float acc[DT][4];
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[dt][e] = 0.f;
    if (total > 0) mbar_wait(bar_kv, 0);
    const int klim = (int)max((int64_t)0, min((int64_t)64, p.Nk - n0));
    /* the dS / dSd stmatrix .trans address of this lane (bwd.cuh's SPLITO): matrix j of a packed
       fragment holds keys 16 wq + 8 (j & 1).. x queries 16 kk + 8 (j >> 1).. */
    const int mj = lane >> 3, mi = lane & 7;
    const uint32_t ds_lane = (uint32_t)(8 * (mj >> 1) + mi) * 128 + ((uint32_t)((2 * wq + (mj & 1)) ^ mi) << 4);

    /* dQd[:, dc0 .. dc0 + DH) = dSd K + dS Kd over the block's 64 keys (4 k16 steps each) as one chain
       into dq; the columns by a runtime offset into K / Kd (a whole slab at D = 128, half a slab at 64),
       so that both consumers run the same instructions (no branch between wgmma: C7520) */
    const uint32_t dq_boff = (uint32_t)(dc0 >> 6) * C::HALF + (uint32_t)(dc0 & 63) * 2;
    auto issue_dqd = [&](float *dq, uint32_t sb) {
      const uint32_t sK = sb, sKd = sb + C::TILE, sDS = sb + C::DS_OFF, sDSd = sDS + C::DS_BYTES;
      wg_fence();
#pragma unroll
      for (int kk = 0; kk < 4; ++kk)
        sm90_mm_cols<T, 0, DH, false>(dq, nullptr, wg_desc(sDSd + kk * 32, 16, 1024), sK + dq_boff + kk * 2048,
                                      C::HALF, kk > 0);
#pragma unroll
      for (int kk = 0; kk < 4; ++kk)
        sm90_mm_cols<T, 0, DH, false>(dq, nullptr, wg_desc(sDS + kk * 32, 16, 1024), sKd + dq_boff + kk * 2048,
                                      C::HALF, 1);
      wg_commit();
    };

    /* 32-bit loop state (family.cu: Nq, Nk < 2^31, B * Hq < 2^31), fewer live registers */
    const int qbs0 = (int)qb_start, qbe = (int)nqb, ntot = (int)total;
    const int64_t cd0 = p.q_pos0 - p.k_pos0 - n0; /* causal: key kl visible to row qi of block q0 iff kl - qi <= cd0 + q0 */
    int h = (int)(hk * grp), qb = qbs0;
    int sq = 0, so = 0; /* the halves' buffers and the parities of their rounds (the producer's) */
    uint32_t pq = 0, po = 0;
    auto advance = [&]() {
      if (++sq == STQ) {
        sq = 0;
        pq ^= 1u;
      }
      if constexpr (STQ == STO) {
        so = sq, po = pq; /* one counter (fewer live registers) */
      } else if (++so == STO) {
        so = 0;
        po ^= 1u;
      }
    };
    for (int it = 0; it < ntot; ++it) {
      const int hcur = h, q0 = qb * BM;
      if (++qb == qbe) {
        qb = qbs0;
        ++h;
      }
      /* the shared addresses from a base the compiler cannot see through: else (one stage: the same
         addresses every block) it hoists every wgmma descriptor out of the loop and keeps them live */
      uint32_t sb = sbase;
      asm volatile("" : "+r"(sb));
      const uint32_t sK = sb, sKd = sK + C::TILE, sV = sKd + C::TILE, sVd = sV + C::TILE;
      const uint32_t sDS = sb + C::DS_OFF, sDSd = sDS + C::DS_BYTES;
      const uint32_t sQ = sb + C::Q_OFF + sq * C::HALF_BYTES, sQd = sQ + C::TILE;
      const uint32_t sO = sb + C::O_OFF + so * C::HALF_BYTES, sOd = sO + C::TILE;
      const float *lb = lse_s + sq * BM, *mb = mu_s + sq * BM, *db = del_s + so * BM, *ddb = deld_s + so * BM;
      const uint32_t fq = fullQ + 8 * sq, eq = emptyQ + 8 * sq, fo = fullO + 8 * so, eo = emptyO + 8 * so;
      /* A starts with Q, Qd (S^T, Sd^T), B with dO, dOd (dP^T, dPd^T); MASKED: both first wait for the Q
         half, which holds the intervals. Every consumer thread waits for both halves before it
         releases them (a release before a half's TMA completed would let the producer arrive on the
         phase still pending) */
      if (MASKED || wg == 0) mbar_wait(fq, pq);
      if (wg == 1) mbar_wait(fo, po);

      /* MASKED: the class of the CTA's 64 keys for the block's rows (the producer's cls_s), the same in
         both consumers (they own the same keys): empty (no row sees one of them: no products, no
         barriers, no dQd reduce-add; the stage released all the same), full (inside every row's
         interval: no per-element test) or partial */
      bool mfull = false;
      if constexpr (MASKED) {
        const int4 c = cls_s[sq];
        const int k0 = (int)n0;
        const bool live = c.x < c.y && c.x < k0 + 64 && c.y > k0;
        mfull = c.z <= k0 && c.w >= k0 + 64;
        if (!live) {
          mbar_wait(fo, po);
          __syncwarp();
          if (lane == 0) {
            mbar_arrive(eq);
            mbar_arrive(eo);
          }
          advance();
          continue;
        }
      }
      const int2 *ivb = iv_s + sq * BM;

      /* the score products: 64 keys x BM queries, k16 steps along D; A: K Q^T into s1, Kd Q^T + K Qd^T
         into s2; B: V dO^T into s1, Vd dO^T + V dOd^T into s2 (one code path, operands by warpgroup) */
      float s1[NQ][4], s2[NQ][4];
      {
        const uint32_t sX = wg == 0 ? sK : sV, sXd = wg == 0 ? sKd : sVd;
        const uint32_t sY = wg == 0 ? sQ : sO, sYd = wg == 0 ? sQd : sOd;
        auto chain = [&](float *acc_, uint32_t sA, uint32_t sB, bool first) {
#pragma unroll
          for (int kk = 0; kk < D / 16; ++kk) {
            const uint32_t o = (kk >> 2) * C::HALF + (kk & 3) * 32;
            wgmma_ss<T, BM, 0>(acc_, wg_desc(sA + o, 16, 1024), wg_desc(sB + o, 16, 1024), (kk > 0 || !first) ? 1 : 0);
          }
        };
        wg_fence();
        chain(&s1[0][0], sX, sY, true);
        wg_commit();
        chain(&s2[0][0], sXd, sY, true);
        chain(&s2[0][0], sX, sYd, false);
        wg_commit();
      }

      /* A: P, Pd in place (s1 <- P, s2 <- Pd), masked elements exactly 0, into the exchange buffer: P once
         S^T is done (while Sd^T runs), then Pd. B: nothing to do before both its products are done */
      const bool need_mask = MASKED ? !mfull : (klim < 64 || (p.causal && 63 > cd0 + q0));
      int cdiff = 1 << 30;
      if (p.causal) cdiff = (int)max(min(cd0 + q0, (int64_t)(1 << 30)), -(int64_t)(1 << 30));
      /* key kl (local) visible to block row qi: MASKED in the row's key interval, else below klim and
         causal (P and Pd alike; called where need_mask) */
      auto visible = [&](int qi, int kl) {
        if constexpr (MASKED) {
          const int2 iv = ivb[qi];
          const int kj = (int)n0 + kl;
          return kj >= iv.x && kj < iv.y;
        } else {
          return kl < klim && kl - qi <= cdiff;
        }
      };
      wg_wait<1>();
      wg_reg_fence<NQ * 4>(&s1[0][0]);
      if (wg == 0) {
#pragma unroll
        for (int nt = 0; nt < NQ; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int qi = nt * 8 + 2 * t4 + (e & 1), kl = wq * 16 + g + (e >> 1) * 8;
            const float pv = p_cap1(exp2f(s1[nt][e] * a.scale_log2 - lb[qi]));
            bool vis = true;
            if (need_mask) vis = visible(qi, kl);
            s1[nt][e] = vis ? pv : 0.f;
          }
          xb[nt * 128] = make_float4(s1[nt][0], s1[nt][1], s1[nt][2], s1[nt][3]);
        }
      }
      uint32_t f1[KQ][4], f2[KQ][4]; /* A: P, Pd; B: dS, dSd (16-bit A fragments) */
      if (wg == 0) {
        /* A: dVd += P^T dOd issued now (it runs while Pd is computed), then Sd^T waited for */
        wg_acc_to_a<T, KQ>(f1, s1);
        mbar_wait(fo, po);
        wg_reg_fence<DT * 4>(&acc[0][0]);
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < KQ; ++kk) sm90_mm_cols<T, 0, D, true>(&acc[0][0], f1[kk], 0, sOd + kk * 2048, C::HALF, 1);
        wg_commit();
        wg_wait<1>();
      } else {
        wg_wait<0>();
      }
      wg_reg_fence<NQ * 4>(&s2[0][0]);

      if (wg == 0) {
#pragma unroll
        for (int nt = 0; nt < NQ; ++nt) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int qi = nt * 8 + 2 * t4 + (e & 1), kl = wq * 16 + g + (e >> 1) * 8;
            const float pd = s1[nt][e] * (s2[nt][e] * a.scale - mb[qi]);
            bool vis = true;
            if (need_mask) vis = visible(qi, kl);
            s2[nt][e] = vis ? pd : 0.f;
          }
          xb[(NQ + nt) * 128] = make_float4(s2[nt][0], s2[nt][1], s2[nt][2], s2[nt][3]);
        }
        __syncwarp();
        if (lane == 0) mbar_arrive(eq); /* A is done with Q, Qd, lse, mu (and the intervals) */
        named_bar_arrive(1, 256); /* P, Pd ready for B */
        wg_acc_to_a<T, KQ>(f2, s2);
        /* dVd += Pd^T dO (k16 steps over the block's queries, B MN-major): the groups in flight are
           P^T dOd's and this one, both reading the stage */
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < KQ; ++kk) sm90_mm_cols<T, 0, D, true>(&acc[0][0], f2[kk], 0, sO + kk * 2048, C::HALF, 1);
        wg_commit();
      } else {
        /* B: dS, dSd in place (s1 <- dS, s2 <- dSd) from A's P, Pd */
        named_bar_sync(1, 256);
#pragma unroll
        for (int nt = 0; nt < NQ; ++nt) {
          const float4 x = xb[nt * 128], y = xb[(NQ + nt) * 128];
          const float pv[4] = {x.x, x.y, x.z, x.w}, pd[4] = {y.x, y.y, y.z, y.w};
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            const int qi = nt * 8 + 2 * t4 + (e & 1);
            const float dp = s1[nt][e] - db[qi];
            s1[nt][e] = pv[e] * dp;
            s2[nt][e] = pd[e] * dp + pv[e] * (s2[nt][e] - ddb[qi]);
          }
        }
        __syncwarp();
        if (lane == 0) mbar_arrive(eo); /* B is done with dO, dOd, delta, deltad */
        wg_acc_to_a<T, KQ>(f1, s1);
        wg_acc_to_a<T, KQ>(f2, s2);
        if (dq_on) {
#pragma unroll
          for (int kk = 0; kk < KQ; ++kk) {
            stmatrix_x4_trans(sDS + ds_lane + kk * 2048, f1[kk]);
            stmatrix_x4_trans(sDSd + ds_lane + kk * 2048, f2[kk]);
          }
          asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); /* visible to wgmma (async proxy) */
        }
      }
      /* barrier 2, one instruction for both consumers (an aligned bar.sync waited at two sites is undefined;
         compute-sanitizer synccheck flagged it): A's P, Pd read by B, B's dS, dSd written */
      named_bar_sync(2, 256);
      if (wg != 0) {
        mbar_wait(fq, pq); /* complete long ago (A waited for it); unmasked B has not yet */
        /* dKd += dSd^T Q + dS^T Qd */
        wg_reg_fence<DT * 4>(&acc[0][0]);
        wg_fence();
#pragma unroll
        for (int kk = 0; kk < KQ; ++kk) sm90_mm_cols<T, 0, D, true>(&acc[0][0], f2[kk], 0, sQ + kk * 2048, C::HALF, 1);
#pragma unroll
        for (int kk = 0; kk < KQ; ++kk) sm90_mm_cols<T, 0, D, true>(&acc[0][0], f1[kk], 0, sQd + kk * 2048, C::HALF, 1);
        wg_commit();
      }

      /* dQd's columns of this consumer (both read dS, dSd after barrier 2), then the stage released
         once the products reading it (dVd / dKd, the group before) are done */
      if (dq_on) {
        float dq[DH / 8][4];
        issue_dqd(&dq[0][0], sb);
        wg_wait<1>();
        wg_reg_fence<DT * 4>(&acc[0][0]);
        wg_reg_fence_u<KQ * 4>(&f1[0][0]);
        wg_reg_fence_u<KQ * 4>(&f2[0][0]);
        __syncwarp();
        if (lane == 0) mbar_arrive(wg == 0 ? eo : eq); /* A: dVd done; B: dKd done */
        wg_wait<0>();
        wg_reg_fence<DH / 2>(&dq[0][0]);
        /* in C::DQP passes of DH / DQP columns (the staging buffer reused: sm90_dq_reduce waits for the
           previous reduce-adds to have read it) */
        constexpr int NP = DH / C::DQP;
#pragma unroll
        for (int ps = 0; ps < C::DQP; ++ps)
          sm90_dq_reduce<BM, NP>(*reinterpret_cast<const float(*)[NP / 8][4]>(&dq[ps * NP / 8][0]), dqw, sDQw,
                                 &tm.dqd, dq_issuer, 3 + wg, wq * 16 + g, t4, dc0 + ps * NP, q0,
                                 (int)b * (int)p.Hq + hcur);
      } else {
        wg_wait<0>();
        wg_reg_fence<DT * 4>(&acc[0][0]);
        wg_reg_fence_u<KQ * 4>(&f1[0][0]);
        wg_reg_fence_u<KQ * 4>(&f2[0][0]);
        __syncwarp();
        if (lane == 0) mbar_arrive(wg == 0 ? eo : eq); /* A: dVd done; B: dKd done */
      }
      advance();
    }
    if (dq_on && dq_issuer) bulk_wait(); /* the reduce-adds read the staging buffer until done */

    /* store dVd (A) or dKd scaled (B) of the warp's 16 keys (zeros when no query block sees them) */
    const View &out = wg == 0 ? a.dvd : a.dkd;
    const float sc = wg == 0 ? 1.f : a.scale;
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      const int64_t j = n0 + wq * 16 + g + rr * 8;
      if (j >= p.Nk) continue;
#pragma unroll
      for (int dt = 0; dt < DT; ++dt)
#pragma unroll
        for (int e = 0; e < 2; ++e)
          store_or_add<T>(out, b, hk, j, dt * 8 + 2 * t4 + e, acc[dt][rr * 2 + e] * sc, a.accumulate);
    }
  }
#endif
}

template <typename T, int D, int STQ, int STO, bool MASKED>
static jfa_status_t launch_bwd_jvp_sm90a(const BwdJvpArgs &a, const Sm90BwdJvpTensors &t, cudaStream_t st) {
  typedef Sm90BwdJvp<D, STQ, STO, MASKED> C;
  Sm90BwdJvpMaps tm;
  memset(&tm, 0, sizeof(tm));
  JFA_CHECK(tma_map_bhsd(&tm.q, t.q, C::BM));
  JFA_CHECK(tma_map_bhsd(&tm.qd, t.qd, C::BM));
  JFA_CHECK(tma_map_bhsd(&tm.dout, t.dout, C::BM));
  JFA_CHECK(tma_map_bhsd(&tm.doutd, t.doutd, C::BM));
  JFA_CHECK(tma_map_bhsd(&tm.k, t.k, C::BN));
  JFA_CHECK(tma_map_bhsd(&tm.kd, t.kd, C::BN));
  JFA_CHECK(tma_map_bhsd(&tm.v, t.v, C::BN));
  JFA_CHECK(tma_map_bhsd(&tm.vd, t.vd, C::BN));
  if (a.dqd_ws) JFA_CHECK(tma_map_dq_ws(&tm.dqd, a.dqd_ws, a.p.B * a.p.Hq, a.p.Nq, a.Dws, C::BM));
  auto kern = bwd_jvp_sm90a_kernel<T, D, STQ, STO, MASKED>;
  JFA_CHECK(smem_optin(kern, C::SMEM));
  dim3 grid((unsigned)((a.p.Nk + C::BN - 1) / C::BN), (unsigned)a.p.Hkv, (unsigned)a.p.B);
  kern<<<grid, C::NTHREADS, C::SMEM, st>>>(a, tm);
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

template <typename T, int D>
jfa_status_t sm90_bwd_jvp_d(const BwdJvpArgs &a, const Sm90BwdJvpTensors &t, cudaStream_t st) {
  constexpr Sm90Tile c = sm90_tile(OP_BWD_JVP, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, 0);
  constexpr Sm90Tile m = sm90_tile(OP_BWD_JVP, DtypeOf<T>::value, D, MASK_CLASS_ANY, 0);
  static_assert(c.D == D && m.D == D && c.BN == 64 && m.BN == 64, "no sm90 backward-JVP tiles for this head dim");
  /* a.masked (windows, packed sequences): the MASKED instantiation */
  if (a.masked) return launch_bwd_jvp_sm90a<T, D, m.ST, m.ST, true>(a, t, st);
#ifdef JFA_TUNING
  /* JFA_TUNE_SM90_BWD_JVP=1: tiles.h's variant 1 where the head dim has one (D = 128: the half-stage
     layout, two Q halves and one dO half) */
  constexpr Sm90Tile c1 = sm90_tile(OP_BWD_JVP, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, 1);
  if constexpr (c1.D == D) {
    if (tune_variant("JFA_TUNE_SM90_BWD_JVP") == 1)
      return launch_bwd_jvp_sm90a<T, D, c1.ST, c1.STO ? c1.STO : c1.ST, false>(a, t, st);
  }
#endif
  return launch_bwd_jvp_sm90a<T, D, c.ST, c.STO ? c.STO : c.ST, false>(a, t, st);
}

#endif /* JFA_KERNELS_SM90_BWD_JVP_CUH_ */
