/*
 * bwd.cuh - the sm80 family's (mma.sync m16n8k16) backward kernel of jfa, FlashAttention-2
 * style, bf16 and fp16 with fp32 accumulation. Tiles from tiles.h; instantiated per head dim
 * by inst/bwd_d<D>.cu (sm80_bwd_d); family.cu decides when it runs.
 *
 * A CTA owns BN = 16 * NW keys of one (batch, kv head); each warp owns 16 of them
 * and keeps their dK, dV accumulators in registers. The CTA loops over the query
 * heads of its GQA group and over query blocks of BM rows (Q, dO, lse, delta
 * double-buffered through cp.async), so dK and dV need no atomics:
 *   S^T = K Q^T, P^T = exp(scale S^T - lse), dP^T = V dO^T, dS^T = P^T (dP^T - delta),
 *   dV += P^T dO, dK += dS^T Q (A operands straight from the accumulator registers),
 *   dS goes through shared memory and dQ += dS K is added with fp32 atomics into a
 *   contiguous workspace (skipped in deterministic mode, where the caller computes dQ
 *   separately). Causal query blocks that see none of the keys are skipped; rows
 *   with lse = -inf (fully masked) contribute nothing.
 * Other masks (a.masked): the CTA iterates over the query blocks of mask_query_range
 * only; each query block's rows carry their key intervals (mask_row_keys, computed
 * with lse and delta into shared memory) and elements are masked against them
 * when the block is not inside every row's interval (__syncthreads_and of the rows' test at
 * the block's barrier). A dense mask comes with its block map (common/blockmap.h): query
 * blocks it empties are skipped (their products and dQ), full ones take no per-element mask, and a
 * partial one reads its rows' bits of a boolean mask from shared memory (cp.async with the
 * block's Q and dO) or adds a bias per element to the logit before the exponential: from a
 * BM x BN tile of biases copied with Q and dO (mask_bias_tile_async, where MaskDev.bias_vec:
 * the mask's layout allows and the device has the bytes), else read from global memory.
 * One barrier per query block: dS is double-buffered in shared memory and the dQ of
 * block it-1 is computed at the start of block it (after that block's barrier), so
 * the dQ mmas and atomics of one warp overlap the S/dP mmas of the others.
 * Column slices (NS > 1, D > 128): dK and dV of 16 keys x D > 128 columns do not fit in a
 * warp's registers next to S^T and dP^T, so the grid has NS CTAs per key block (neighbours
 * in blockIdx.x: they read the same Q / dO blocks from L2 at about the same time); each
 * computes S^T and dP^T over the full D (dS needs all of dP = dO V^T) and accumulates dV,
 * dK and its dQ atomics only for its D / NS columns [c0, c0 + D / NS). S^T and dP^T are
 * computed NS times: with NS = 2 the mma work is 7/5 of the unsliced kernel's. (A design
 * without the recompute: two warps per 16 keys, one computing S^T, P and dV over all D, the
 * other dP^T, dS and dK, exchanging P through shared memory; not done.)
 */
#ifndef JFA_KERNELS_SM80_BWD_CUH_
#define JFA_KERNELS_SM80_BWD_CUH_

#include "kernels/sm80/fwd.cuh"
#include "kernels/sm80/sm80.h"

template <typename T, int D, int NW, int BM>
struct BwdTC {
  static constexpr int BN = 16 * NW, DS = D + 8, BNS = BN + 8, NQ = BM / 8, DT = D / 8, KS = D / 16;
  static constexpr int NTHREADS = NW * 32;
  static constexpr size_t smem_bytes() {
    return sizeof(T) * ((size_t)2 * BN * DS + (size_t)4 * BM * DS + (size_t)2 * BM * BNS) + sizeof(float) * 4 * BM;
  }
};

/* dst[0..1] += (x, y) with fp32 atomics (one vector reduction on sm_90; dst 8-byte aligned). */
__device__ __forceinline__ void atomic_add2(float *dst, float x, float y) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float2 *>(dst), make_float2(x, y));
#else
  atomicAdd(dst, x);
  atomicAdd(dst + 1, y);
#endif
}

template <typename T, int D, int NW, int BM, bool KREG, bool MASKED, int NS>
__global__ void __launch_bounds__(NW * 32) bwd_tc_kernel(const BwdArgs a) {
  typedef BwdTC<T, D, NW, BM> C;
  constexpr int BN = C::BN, DS = C::DS, BNS = C::BNS, NQ = C::NQ, KS = C::KS, NTHREADS = C::NTHREADS;
  /* column slice (NS > 1): this CTA's dK, dV, dQ columns [c0, c0 + DV) */
  constexpr int DV = D / NS, DT = DV / 8;
  static_assert(DV * NS == D && DV % 16 == 0, "column slices of 16-column multiples");
  extern __shared__ __align__(16) unsigned char smraw[];
  T *Ks = (T *)smraw;
  T *Vs = Ks + BN * DS;
  T *Qs = Vs + BN * DS;  /* [2][BM][DS] */
  T *dOs = Qs + 2 * BM * DS; /* [2][BM][DS] */
  T *dSs = dOs + 2 * BM * DS; /* [2][BM][BNS] */
  float *lse_s = (float *)(dSs + 2 * BM * BNS); /* [2][BM], in log2 units, +inf = no contribution */
  float *del_s = lse_s + 2 * BM;            /* [2][BM] */
  int *klo_s = (int *)(del_s + 2 * BM);     /* [2][BM] key intervals of the rows (masked only) */
  int *khi_s = klo_s + 2 * BM;              /* [2][BM] */
  /* [2][BM][BN / 64] (masked only): a boolean dense mask's bits of the rows, for partial blocks */
  uint64_t *bits_s = (uint64_t *)(((uintptr_t)(khi_s + 2 * BM) + 15) & ~(uintptr_t)15);
  static_assert(BN % 64 == 0, "the dense mask's words need BN to be a multiple of 64");
  constexpr int NWB = BN / 64;
  /* [2][BM] rows of bpitch bytes (masked, a.mk.bias_vec): an additive dense mask's tiles */
  unsigned char *bias_s = (unsigned char *)(bits_s + 2 * BM * NWB);
  const bool btile = MASKED && a.mk.bias_vec;
  const int bpitch = sm80_bias_pitch(BN, mask_bias_esize(a.mk.dm_kind));

  const jfa_problem_t &p = a.p;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t4 = lane & 3;
  const int64_t b = blockIdx.z, hk = blockIdx.y, grp = p.Hq / p.Hkv;
  const int c0 = NS > 1 ? (int)(blockIdx.x % NS) * DV : 0; /* the slices of a key block are neighbours */
  const int64_t n0 = (int64_t)(blockIdx.x / NS) * BN;
  const int wk = warp * 16;

  const BwdQueryBlocks qbs = bwd_query_blocks<BM, BN, MASKED>(p, a.mk, n0);
  const int64_t qb_start = qbs.qb_start, nqb = qbs.nqb, per_head = qbs.per_head;
  const int64_t total = per_head * grp;
  const int64_t klast = min(n0 + BN, p.Nk);
  /* masked: the dense mask's block-map flags of the block being prefetched (pf_dfl) and whether
     the key intervals of this thread's rows of it all hold keys [n0, n0 + BN) (pf_full; the
     barrier that follows ANDs it over the CTA: such a block needs no interval mask) */
  int pf_dfl = BMAP_VISIBLE, pf_full = 1;

  tc_load_tile<T, D, BN, NTHREADS>(Ks, a.k, b, hk, n0, p.Nk, a.Dreal);
  tc_load_tile<T, D, BN, NTHREADS>(Vs, a.v, b, hk, n0, p.Nk, a.Dreal);

  auto prefetch = [&](int64_t h, int64_t q0, int buf) {
    tc_load_tile<T, D, BM, NTHREADS>(Qs + buf * BM * DS, a.q, b, h, q0, p.Nq, a.Dreal);
    tc_load_tile<T, D, BM, NTHREADS>(dOs + buf * BM * DS, a.dout, b, h, q0, p.Nq, a.Dreal);
    if (MASKED) {
      pf_full = 1;
      pf_dfl = mask_map_flags(a.mk, b, h, q0, min(q0 + BM, p.Nq), n0, klast);
      if (bmap_partial(pf_dfl) && a.mk.bm_bits)
        mask_words_async<BM, NWB, NTHREADS>(bits_s + buf * BM * NWB, a.mk, b, h, q0, n0);
      if (bmap_partial(pf_dfl) && btile)
        mask_bias_tile_async<BM, BN, NTHREADS>(bias_s + buf * BM * bpitch, bpitch, a.mk, b, h, q0, n0);
    }
    for (int r = threadIdx.x; r < BM; r += NTHREADS) {
      const int64_t i = q0 + r;
      float l = INFINITY, dl = 0.f;
      if (i < p.Nq) {
        l = ((const float *)a.lse.p)[voff(a.lse, b, h, i, 0)];
        l = l == -INFINITY ? INFINITY : l * 1.4426950408889634f;
        dl = ((const float *)a.delta.p)[voff(a.delta, b, h, i, 0)];
      }
      lse_s[buf * BM + r] = l;
      del_s[buf * BM + r] = dl;
      if (MASKED) {
        int64_t lo = 0, hi = 0;
        if (i < p.Nq) {
          mask_row_keys(a.mk, i, &lo, &hi);
          if (lo > n0 || hi < n0 + BN) pf_full = 0;
        }
        klo_s[buf * BM + r] = (int)lo;
        khi_s[buf * BM + r] = (int)hi;
      }
    }
  };
  /* (head, query block) of the current iteration, advanced without divisions */
  int64_t h_cur = hk * grp, qb_cur = qb_start;
  if (total > 0) prefetch(h_cur, qb_cur * BM, 0);
  cp_async_commit();

  float dk[DT][4], dv[DT][4];
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[dt][e] = dv[dt][e] = 0.f;
  uint32_t kf[KREG ? KS : 1][4], vf[KREG ? KS : 1][4];
  /* 32-bit shared addresses of this lane's ldmatrix rows (byte offsets; tile offsets are constants) */
  constexpr int ES = (int)sizeof(T);
  const uint32_t a_lane = ((wk + (lane & 15)) * DS + (lane >> 4) * 8) * ES;   /* A frags of K, V rows */
  const uint32_t b_lane = (((lane & 7) + ((lane >> 4) << 3)) * DS + ((lane >> 3) & 1) * 8) * ES; /* B, non-trans */
  const uint32_t t_lane = (((lane & 7) + ((lane >> 3) & 1) * 8) * DS + (lane >> 4) * 8) * ES;   /* B, trans */
  const uint32_t sK = smem_u32(Ks), sV = smem_u32(Vs), sQ = smem_u32(Qs), sO = smem_u32(dOs);
  const uint32_t sdS = smem_u32(dSs) + ((lane & 15) * BNS + (lane >> 4) * 8) * ES;

  /* dQ[BM x D] += dS K for the dS tile in buffer dbuf (query block q0 of head h):
     warp -> (m-tile, slice of head-dim tiles) */
  auto dq_step = [&](int dbuf, int64_t h, int64_t q0) {
    /* warp sl of an m-tile takes the 16-column tiles sl, sl + SPLIT, ... of the slice */
    constexpr int MTILES = BM / 16, SPLIT = NW / MTILES, NP = (DV / 16 + SPLIT - 1) / SPLIT;
    static_assert(NW % MTILES == 0, "bad dQ split");
    const int mt = warp % MTILES, sl = warp / MTILES;
    uint32_t as[BN / 16][4];
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk)
      ldsm_x4_a(as[kk], sdS + (dbuf * BM * BNS + mt * 16 * BNS + kk * 16) * ES);
    const int64_t i_a = q0 + mt * 16 + g, i_b = i_a + 8;
    float *rowa = a.dq_ws + ((b * p.Hq + h) * p.Nq + i_a) * a.Dws;
    float *rowb = rowa + 8 * a.Dws;
#pragma unroll
    for (int jp = 0; jp < NP; ++jp) {
      const int np = sl + jp * SPLIT;
      if ((DV / 16) % SPLIT != 0 && np >= DV / 16) continue; /* the last round when SPLIT does not divide */
      float acc[2][4];
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[0][e] = acc[1][e] = 0.f;
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        uint32_t bk[4];
        ldsm_x4_t_a(bk, sK + t_lane + (kk * 16 * DS + c0 + np * 16) * ES);
        mma16816<T>(acc[0], as[kk], bk);
        mma16816<T>(acc[1], as[kk], bk + 2);
      }
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int d = c0 + np * 16 + half * 8 + 2 * t4; /* even; the workspace row stride Dws is a multiple of 8 */
        if (d + 1 < a.Dreal) {
          if (i_a < p.Nq) atomic_add2(rowa + d, acc[half][0], acc[half][1]);
          if (i_b < p.Nq) atomic_add2(rowb + d, acc[half][2], acc[half][3]);
        } else if (d < a.Dreal) {
          if (i_a < p.Nq) atomicAdd(rowa + d, acc[half][0]);
          if (i_b < p.Nq) atomicAdd(rowb + d, acc[half][2]);
        }
      }
    }
  };

  int64_t h_prev = 0, q0_prev = 0; /* the block whose dS waits for its dQ */
  bool prev_live = false;           /* that block was computed (not emptied by the dense mask) */
  for (int64_t it = 0; it < total; ++it) {
    const int buf = (int)(it & 1);
    /* Q/dO/lse/delta of this block and dS of the last one are visible; every warp is done with
       the other Q/dO buffer (last block) and with dS buffer buf (dQ of the block before) */
    cp_async_wait<0>();
    const bool ifull = MASKED ? __syncthreads_and(pf_full) != 0 : (__syncthreads(), true);
    const bool dpart = MASKED && bmap_partial(pf_dfl), dempty = MASKED && bmap_empty(pf_dfl);
    const int64_t h = h_cur, q0 = qb_cur * BM;
    if (++qb_cur == nqb) {
      qb_cur = qb_start;
      ++h_cur;
    }
    if (it + 1 < total) prefetch(h_cur, qb_cur * BM, buf ^ 1);
    cp_async_commit();
    if (!a.skip_dq && prev_live) dq_step(buf ^ 1, h_prev, q0_prev);
    if (KREG && it == 0) {
#pragma unroll
      for (int kk = 0; kk < KS; ++kk) {
        ldsm_x4_a(kf[KREG ? kk : 0], sK + a_lane + kk * 16 * ES);
        ldsm_x4_a(vf[KREG ? kk : 0], sV + a_lane + kk * 16 * ES);
      }
    }
    /* a block the dense mask empties for these keys adds nothing: its products are skipped
       (its Q and dO were loaded with the pipeline, which does not read the map ahead) */
    prev_live = !dempty;
    if (dempty) continue;
    const uint32_t sQb = sQ + buf * BM * DS * ES, sOb = sO + buf * BM * DS * ES;
    const float *lb = lse_s + buf * BM, *db = del_s + buf * BM;

    /* S^T = K Q^T and dP^T = V dO^T, 16 keys x BM queries per warp */
    float st[NQ][4], dpt[NQ][4];
#pragma unroll
    for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[nt][e] = dpt[nt][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) {
      uint32_t ak[4], av[4];
      if (KREG) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          ak[e] = kf[KREG ? kk : 0][e];
          av[e] = vf[KREG ? kk : 0][e];
        }
      } else {
        ldsm_x4_a(ak, sK + a_lane + kk * 16 * ES);
        ldsm_x4_a(av, sV + a_lane + kk * 16 * ES);
      }
#pragma unroll
      for (int np = 0; np < NQ / 2; ++np) {
        const uint32_t off = b_lane + (np * 16 * DS + kk * 16) * ES;
        uint32_t bq[4], bo[4];
        ldsm_x4_a(bq, sQb + off);
        ldsm_x4_a(bo, sOb + off);
        mma16816<T>(st[2 * np], ak, bq);
        mma16816<T>(st[2 * np + 1], ak, bq + 2);
        mma16816<T>(dpt[2 * np], av, bo);
        mma16816<T>(dpt[2 * np + 1], av, bo + 2);
      }
    }

    /* P^T and dS^T (in place: st <- P, dpt <- dS) */
    const bool need_mask = MASKED ? (!ifull || dpart)
                                  : (n0 + BN > p.Nk || (p.causal && p.k_pos0 + n0 + BN - 1 > p.q_pos0 + q0));
    /* 32-bit mask in local indices: key kl (n0 + kl) is visible to query qi (q0 + qi) iff
       kl < klim and kl - qi <= cdiff */
    const int klim = (int)min((int64_t)BN, p.Nk - n0);
    int cdiff = 1 << 30;
    if (p.causal) {
      const int64_t cd = (p.q_pos0 + q0) - (p.k_pos0 + n0);
      cdiff = (int)max(min(cd, (int64_t)(1 << 30)), -(int64_t)(1 << 30));
    }
#pragma unroll
    for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int qi = nt * 8 + 2 * t4 + (e & 1);
        /* masked: the exponent's offset (-lse, plus an additive mask's bias in its partial blocks: one
           exponential an element) and the element's visibility */
        float pv;
        if constexpr (!MASKED) {
          pv = p_cap1(exp2f(st[nt][e] * a.scale_log2 - lb[qi]));
          const int kl = wk + g + (e >> 1) * 8;
          if (need_mask && (kl >= klim || kl - qi > cdiff)) pv = 0.f;
        } else {
          float off = -lb[qi];
          bool vis = true;
          if (need_mask) {
            const int kl = wk + g + (e >> 1) * 8, kj = (int)n0 + kl;
            vis = kj >= klo_s[buf * BM + qi] && kj < khi_s[buf * BM + qi];
            if (dpart && a.mk.bm_bits) {
              vis = vis && mask_word_bit<BN>(bits_s + (buf * BM + qi) * NWB, n0, kl);
            } else if (dpart) { /* the tile holds zeros past Nq / Nk; global memory is read inside the interval */
              const float bias = btile ? mask_bias_at(bias_s + buf * BM * bpitch, bpitch, a.mk.dm_kind, qi, kl)
                                 : vis ? mask_dense(a.mk, b, h, q0 + qi, kj)
                                       : 0.f;
              off += bias * 1.4426950408889634f;
            }
          }
          pv = p_cap1(exp2f(st[nt][e] * a.scale_log2 + off));
          if (!vis) pv = 0.f;
        }
        st[nt][e] = pv;
        dpt[nt][e] = pv * (dpt[nt][e] - db[qi]);
      }

    /* dV += P^T dO, dK += dS^T Q */
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk) {
      uint32_t ap[4], as[4];
      ap[0] = pack2<T>(st[2 * kk][0], st[2 * kk][1]);
      ap[1] = pack2<T>(st[2 * kk][2], st[2 * kk][3]);
      ap[2] = pack2<T>(st[2 * kk + 1][0], st[2 * kk + 1][1]);
      ap[3] = pack2<T>(st[2 * kk + 1][2], st[2 * kk + 1][3]);
      as[0] = pack2<T>(dpt[2 * kk][0], dpt[2 * kk][1]);
      as[1] = pack2<T>(dpt[2 * kk][2], dpt[2 * kk][3]);
      as[2] = pack2<T>(dpt[2 * kk + 1][0], dpt[2 * kk + 1][1]);
      as[3] = pack2<T>(dpt[2 * kk + 1][2], dpt[2 * kk + 1][3]);
#pragma unroll
      for (int np = 0; np < DV / 16; ++np) {
        const uint32_t off = t_lane + (kk * 16 * DS + c0 + np * 16) * ES;
        uint32_t bo[4], bq[4];
        ldsm_x4_t_a(bo, sOb + off);
        ldsm_x4_t_a(bq, sQb + off);
        mma16816<T>(dv[2 * np], ap, bo);
        mma16816<T>(dv[2 * np + 1], ap, bo + 2);
        mma16816<T>(dk[2 * np], as, bq);
        mma16816<T>(dk[2 * np + 1], as, bq + 2);
      }
    }

    if (!a.skip_dq) {
      /* dS -> smem buffer buf as [query][key]; its dQ is added in the next iteration */
      T *dSb = dSs + buf * BM * BNS;
#pragma unroll
      for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int qi = nt * 8 + 2 * t4 + (e & 1), kr = wk + g + (e >> 1) * 8;
          dSb[qi * BNS + kr] = from_f<T>(dpt[nt][e]);
        }
      h_prev = h;
      q0_prev = q0;
    }
  }
  cp_async_wait<0>();
  if (!a.skip_dq && prev_live) {
    __syncthreads();
    dq_step((int)((total - 1) & 1), h_prev, q0_prev);
  }

  /* store dK (scaled), dV */
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int64_t j = n0 + wk + g + rr * 8;
    if (j >= p.Nk) continue;
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int d = c0 + dt * 8 + 2 * t4 + e;
        if (d >= a.Dreal) continue;
        store_or_add<T>(a.dk, b, hk, j, d, dk[dt][rr * 2 + e] * a.scale, a.accumulate);
        store_or_add<T>(a.dv, b, hk, j, d, dv[dt][rr * 2 + e], a.accumulate);
      }
  }
}

template <typename T, int D, int NW, int BM, bool KREG, bool MASKED, int NS>
static jfa_status_t launch_bwd_tc_m(const BwdArgs &a, cudaStream_t st) {
  typedef BwdTC<T, D, NW, BM> C;
  auto kern = bwd_tc_kernel<T, D, NW, BM, KREG, MASKED, NS>;
  /* masked: the key intervals, a boolean mask's words, an additive mask's tiles where a.mk.bias_vec (family.cu
     checked the bytes) */
  const size_t smem =
      C::smem_bytes() + (MASKED ? 4 * BM * sizeof(int) + 16 + 2 * BM * (C::BN / 64) * sizeof(uint64_t) : 0) +
      (MASKED && a.mk.bias_vec ? sm80_bias_tiles_bytes(BM, C::BN, mask_bias_esize(a.mk.dm_kind)) : 0);
  JFA_CHECK(smem_optin(kern, smem)); /* from 40 KiB: static bytes count toward 48 */
  dim3 grid((unsigned)((a.p.Nk + C::BN - 1) / C::BN * NS), (unsigned)a.p.Hkv, (unsigned)a.p.B);
  kern<<<grid, C::NTHREADS, smem, st>>>(a);
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* The backward of tuning variant V (tiles.h) at head dim D: the row of the call's mask class. */
template <typename T, int D, int V>
static jfa_status_t sm80_bwd_variant(const BwdArgs &a, cudaStream_t st) {
  constexpr Sm80Tile c = sm80_tile(OP_BWD, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, V);
  constexpr Sm80Tile m = sm80_tile(OP_BWD, DtypeOf<T>::value, D, MASK_CLASS_ANY, V);
  static_assert(c.D == D && m.D == D, "no sm80 backward tiles for this head dim");
  static_assert(BwdTC<T, D, c.NW, c.BM>::smem_bytes() == sm80_smem_bytes(c, false) &&
                    BwdTC<T, D, m.NW, m.BM>::smem_bytes() + 4 * m.BM * sizeof(int) + 16 +
                            2 * m.BM * (BwdTC<T, D, m.NW, m.BM>::BN / 64) * sizeof(uint64_t) ==
                        sm80_smem_bytes(m, true),
                "tiles.h sm80_smem_bytes and BwdTC::smem_bytes disagree");
  if (!a.masked) return launch_bwd_tc_m<T, D, c.NW, c.BM, c.KREG, false, c.NS>(a, st);
  return launch_bwd_tc_m<T, D, m.NW, m.BM, m.KREG, true, m.NS>(a, st);
}

template <typename T, int D>
jfa_status_t sm80_bwd_d(const BwdArgs &a, cudaStream_t st) {
#ifdef JFA_TUNING
  const int v = tune_variant("JFA_TUNE_BWD");
  if constexpr (sm80_has_tile(OP_BWD, DtypeOf<T>::value, D, 1)) {
    if (v == 1) return sm80_bwd_variant<T, D, 1>(a, st);
  }
#endif
  return sm80_bwd_variant<T, D, 0>(a, st);
}

#endif /* JFA_KERNELS_SM80_BWD_CUH_ */
