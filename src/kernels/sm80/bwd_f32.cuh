/*
 * bwd_f32.cuh - the sm80 family's float32 backward on tensor cores (mma.sync m16n8k8 TF32,
 * tf32.cuh): 3xTF32 (PRECISE, float32 products; the default) or one TF32 product
 * (JFA_FLAG_ALLOW_TF32), fp32 accumulation. The structure is bwd.cuh's (FlashAttention-2
 * style): a CTA owns BN = 16 NW keys of one (batch, kv head), each warp 16 of them with their
 * dK, dV accumulators in registers; the CTA loops over the query heads of the GQA group and
 * over query blocks of BM rows (Q, dO, lse, delta double-buffered through cp.async);
 *   S^T = K Q^T, P^T = exp(scale S^T - lse), dP^T = V dO^T, dS^T = P^T (dP^T - delta),
 *   dV += P^T dO, dK += dS^T Q, dQ += dS K (fp32 atomics into the workspace, or scaled into the
 *   float32 dq itself where family.cu sm80_f32_dq_direct allows; skipped in deterministic
 *   mode). Masks, causal query-block skipping, fully masked rows (lse = -inf: P = 0), NaN
 *   propagation (p_cap1) and the accumulate mode as in bwd.cuh. Tiles: the
 *   float32 rows of tiles.h; inst/bwd_f32_d<D>.cu instantiates per head dim.
 * Column slices (NS > 1, D = 256): dK and dV of a full row do not fit in registers, so NS
 * neighbouring CTAs per key block each compute S^T and dP^T over the full D (K, V, Q, dO whole
 * in shared memory) and accumulate dK, dV and add dQ for D / NS columns [c0, c0 + D / NS) only:
 * the score products cost NS times (about 70% of the unsliced arithmetic efficiency at NS = 2).
 * There (3xTF32) S^T's hi * hi products are summed in chunks of SCH = 4 k8 steps, each chunk added
 * to S by a float add: 32 truncations of the running S (the mma accumulator rounds toward zero)
 * gave the large-logit test 1.55e-3 on the H200 (bound 1.5e-3).
 *
 * Shared memory holds float32 rows of stride D + 4 floats (K, V, Q, dO; = 4 mod 32 words) and
 * dS as [query][key] rows of stride BN + 8 (= 8 mod 32). Fragments (m16n8k8, g = lane / 4,
 * t = lane % 4; A 16 x 8 row-major: a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4],
 * a3 = A[g+8][t+4]; B 8 x 8: b0 = B[t][g], b1 = B[t+4][g]; C: c0,c1 = C[g][2t,2t+1],
 * c2,c3 = C[g+8][2t,2t+1]). A k8 slice may be permuted (the same permutation in A and B):
 *
 *  S^T = K Q^T (m = key, n = query, k = d), and dP^T = V dO^T alike: A = K[key][d] and
 *    B[d][q] = Q[q][d] are both "row g, word t" of an 8 x 4-float block, which is what
 *    ldmatrix (b16) hands lane (g, t) for 32-bit data: one ldmatrix.x4 gives a0..a3 of K
 *    (matrices: rows 0-7 / 8-15 x words 0-3 / 4-7) or b0, b1 of two query n-tiles of Q.
 *    16-byte rows at stride = 4 mod 32 words: conflict-free.
 *  dV += P^T dO (m = key, n = d, k = query), and dK += dS^T Q alike: A from the accumulator
 *    of S^T, which holds queries 2t, 2t+1 of n-tile nt; the k8 slice = n-tile nt with
 *    position t <-> query 2t, t + 4 <-> query 2t + 1 (tf32.cuh): a0 = c0, a1 = c2, a2 = c1,
 *    a3 = c3; b0 = dO[2t][g], b1 = dO[2t + 1][g]: scalar loads, bank 8t + g, conflict-free.
 *  dQ += dS K (m = query, n = d, k = key): B = K[key][d] needs the same permutation
 *    (b0 = K[2t][g], b1 = K[2t + 1][g], bank 8t + g), so A = dS[q][key] is read as
 *    (a0, a2) = dS[g][2t, 2t + 1] and (a1, a3) = dS[g + 8][2t, 2t + 1]: 8-byte loads, per
 *    half-warp words 8g + 2t (stride = 8 mod 32), conflict-free. (The dS stores, dS[2t + e][g],
 *    conflict 2-way; once per element against the dQ warps' loads.)
 * 3xTF32: every operand is split (tf32_split: hi, lo; 3 instructions) once where it is loaded
 * and reused from registers: K, V fragments over the query n-tiles, P and dS over the d n-tiles,
 * dS over the dQ slice's d n-tiles. Q and dO, which every warp reads whole (B operands of S^T,
 * dP^T and of dK, dV), are split once per block with SPLIT (tiles.h: D = 64, 128): each thread
 * splits its own cp.async chunks after its wait into hi (in place) and lo planes, the barrier
 * that follows publishes them, the warps load both (f32_split_own; 8x fewer splits of them with
 * 8 warps, for 16 BM (D + 4) more bytes of shared memory). SPLIT 2 (D = 64) also splits K once
 * per CTA (A operand of S^T, B operand of dQ; 4 BN (D + 4) bytes more). TF32: K, V, Q, dO are
 * rounded once in shared memory (each thread its own cp.async chunks, f32_round_own), dS where
 * it is stored; P and dS in registers.
 */
#ifndef JFA_KERNELS_SM80_BWD_F32_CUH_
#define JFA_KERNELS_SM80_BWD_F32_CUH_

#include "kernels/common/cta_order.cuh"
#include "kernels/sm80/bwd.cuh"
#include "kernels/sm80/tf32.cuh"

template <int D, int NW, int BM, int SPLIT, int NS = 1>
struct BwdF32 {
  static constexpr int BN = 16 * NW, DS = D + 4, BNS = BN + 8, NQ = BM / 8, DT = D / 8;
  static constexpr int NTHREADS = NW * 32;
  /* column slices (NS > 1, D > 128): dK, dV and dQ of DV = D / NS columns a CTA (DTV n-tiles) */
  static constexpr int DV = D / NS, DTV = DV / 8;
  static_assert(DV * NS == D && DV % 32 == 0, "float32 backward: column slices of 32-column multiples");
  /* SPLIT >= 1: the lo plane of a Q / dO element sits LO floats after its hi (buffers [2][BM][DS]
     of Q, then of dO, then their lo planes in the same order); SPLIT 2: K's lo plane follows them,
     KLO floats after K */
  static constexpr int LO = 4 * BM * DS, KLO = 2 * BN * DS + 8 * BM * DS;
  static_assert(BM % 16 == 0 && D % 32 == 0, "float32 backward tiles: BM multiple of 16, D of 32");
  /* masked: the rows' key intervals ([2][BM] lo, hi) and a boolean dense mask's bits ([2][BM][BN / 64] words,
     16-byte aligned) */
  static constexpr int NWB = BN / 64;
  static_assert(BN % 64 == 0, "the dense mask's words need BN to be a multiple of 64");
  static constexpr size_t smem_bytes(bool masked) {
    return sizeof(float) * ((size_t)2 * BN * DS + (size_t)(SPLIT ? 8 : 4) * BM * DS + (size_t)2 * BM * BNS +
                            (size_t)4 * BM + (size_t)(SPLIT >= 2 ? BN * DS : 0)) +
           (masked ? sizeof(int) * 4 * BM + 16 + sizeof(uint64_t) * 2 * BM * NWB : 0);
  }
  /* the kernel leaves SPLIT out of its sm_8x code: no sm_8x device has more than 163 KiB */
  static_assert(SPLIT == 0 || smem_bytes(false) > 163 * 1024, "a SPLIT row that an sm_8x device could take");
};

/* An operand read from shared memory: split (PRECISE), or already TF32 there (f32_round_own). */
template <bool PRECISE>
__device__ __forceinline__ void f32_operand(float x, uint32_t &hi, uint32_t &lo) {
  if (PRECISE) tf32_split(x, &hi, &lo);
  else hi = __float_as_uint(x);
}
/* The same in place on n fragment registers holding float bits (from ldmatrix). */
template <bool PRECISE, int N>
__device__ __forceinline__ void f32_operand_regs(uint32_t *hi, uint32_t *lo) {
  if (PRECISE) {
#pragma unroll
    for (int e = 0; e < N; ++e) tf32_split(__uint_as_float(hi[e]), &hi[e], &lo[e]);
  }
}

/* TF32 mode: the chunks this thread copied with tc_load_tile<float, D, ROWS, NTHREADS> (the same
   mapping: both of its paths give thread t the chunks t + k NTHREADS) rounded to TF32 in place, once, after its cp_async_wait (a thread's own copies are
   visible to it; the barrier that follows publishes them). */
template <int D, int ROWS, int NTHREADS>
__device__ __forceinline__ void f32_round_own(float *dst) {
  constexpr int CH = D / 4, DS = D + 4;
#pragma unroll 4
  for (int idx = threadIdx.x; idx < ROWS * CH; idx += NTHREADS) {
    float4 *p4 = reinterpret_cast<float4 *>(dst + (idx / CH) * DS + (idx % CH) * 4);
    float4 x = *p4;
    x.x = __uint_as_float(tf32_round(x.x));
    x.y = __uint_as_float(tf32_round(x.y));
    x.z = __uint_as_float(tf32_round(x.z));
    x.w = __uint_as_float(tf32_round(x.w));
    *p4 = x;
  }
}

/* 3xTF32 with SPLIT: the chunks this thread copied (f32_round_own's mapping) split in place into
   hi, their lo at LO floats further, once per block, after its cp_async_wait and before the barrier
   that publishes them (no barrier of its own: every warp is past the block that last read them). */
template <int D, int ROWS, int NTHREADS, int LO>
__device__ __forceinline__ void f32_split_own(float *dst) {
  constexpr int CH = D / 4, DS = D + 4;
#pragma unroll 4
  for (int idx = threadIdx.x; idx < ROWS * CH; idx += NTHREADS) {
    float4 *p4 = reinterpret_cast<float4 *>(dst + (idx / CH) * DS + (idx % CH) * 4);
    const float4 x = *p4;
    uint4 h, l;
    tf32_split(x.x, &h.x, &l.x);
    tf32_split(x.y, &h.y, &l.y);
    tf32_split(x.z, &h.z, &l.z);
    tf32_split(x.w, &h.w, &l.w);
    reinterpret_cast<uint4 *>(p4)[0] = h;
    reinterpret_cast<uint4 *>(p4)[LO / 4] = l;
  }
}

/* A B operand element of Q, dO (SPLIT >= 1) or K (SPLIT 2) read from shared memory: hi and lo
   from their planes (SPLIT), else f32_operand. */
template <bool PRECISE, bool SPLIT, int LO>
__device__ __forceinline__ void f32_operand_qo(const float *x, uint32_t &hi, uint32_t &lo) {
  if (PRECISE && SPLIT) {
    hi = __float_as_uint(x[0]);
    lo = __float_as_uint(x[LO]);
  } else {
    f32_operand<PRECISE>(x[0], hi, lo);
  }
}

template <int D, int NW, int BM, bool PRECISE, bool MASKED, int SPLIT, int NS>
__global__ void __launch_bounds__(NW * 32) bwd_f32_kernel(const BwdArgs a, int64_t hg) {
  typedef BwdF32<D, NW, BM, SPLIT, NS> C;
  constexpr int BN = C::BN, DS = C::DS, BNS = C::BNS, NQ = C::NQ, DT = C::DT, NTHREADS = C::NTHREADS;
  constexpr int DTV = C::DTV;
  constexpr int LO = C::LO, KLO = C::KLO;
  static_assert(!SPLIT || PRECISE, "SPLIT: 3xTF32 only");
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
  /* SPLIT tiles need more shared memory (171 KiB and up, BwdF32) than any sm_8x device has: the
     launcher takes the tiles without SPLIT there. Their sm_8x code is left out (at D = 128 it
     would take 255 registers and spill). */
  if constexpr (SPLIT != 0) {
    __trap();
    return;
  }
#endif
  extern __shared__ __align__(16) unsigned char smraw[];
  float *Ks = (float *)smraw;
  float *Vs = Ks + BN * DS;
  float *Qs = Vs + BN * DS;        /* [2][BM][DS] */
  float *dOs = Qs + 2 * BM * DS;   /* [2][BM][DS]; SPLIT: then the lo planes of both, [2][2][BM][DS] */
  /* SPLIT 2: K's lo plane [BN][DS] after those */
  float *dSs = dOs + (SPLIT ? 6 : 2) * BM * DS + (SPLIT >= 2 ? BN * DS : 0); /* [2][BM][BNS] */
  float *lse_s = dSs + 2 * BM * BNS; /* [2][BM], +inf = no contribution */
  float *del_s = lse_s + 2 * BM;   /* [2][BM] */
  int *klo_s = (int *)(del_s + 2 * BM); /* [2][BM] key intervals of the rows (masked only) */
  int *khi_s = klo_s + 2 * BM;          /* [2][BM] */
  /* [2][BM][NWB] (masked only): a boolean dense mask's bits of the rows, for blocks its map does not call full */
  constexpr int NWB = C::NWB;
  uint64_t *bits_s = (uint64_t *)(((uintptr_t)(khi_s + 2 * BM) + 15) & ~(uintptr_t)15);

  const jfa_problem_t &p = a.p;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t4 = lane & 3;
  /* causal calls: key block 0 first in groups of hg (kv head, batch) pairs (common/cta_order.h) */
  const cta_xyz_t cta = cta_grouped(hg, NS);
  const int64_t b = cta.z, hk = cta.y, grp = p.Hq / p.Hkv;
  /* column slice (NS > 1): dK, dV, dQ columns [c0, c0 + D / NS); the slices of a key block are
     neighbours in the launch order and compute the same S^T and dP^T over the full D */
  const int c0 = NS > 1 ? (int)(cta.x % NS) * C::DV : 0;
  const int64_t n0 = (NS > 1 ? cta.x / NS : cta.x) * BN;
  const int wk = warp * 16;
  constexpr float kLog2e = 1.4426950408889634f;
  const float scale_lo = (float)(p.scale - (double)a.scale); /* scale = a.scale + scale_lo */

  const BwdQueryBlocks qbs = bwd_query_blocks<BM, BN, MASKED>(p, a.mk, n0);
  const int64_t qb_start = qbs.qb_start, nqb = qbs.nqb, per_head = qbs.per_head;
  const int64_t total = per_head * grp;

  /* masked: the dense mask's block-map flags of the block being prefetched (BMAP_VISIBLE alone: full, no
     per-element test; otherwise partial or empty, masked per element: a boolean mask through its bits in bits_s,
     copied with the block's Q and dO, an additive one from the mask itself) */
  int pf_dfl = BMAP_VISIBLE;
  const int64_t klast = min(n0 + BN, p.Nk);

  tc_load_tile<float, D, BN, NTHREADS>(Ks, a.k, b, hk, n0, p.Nk, a.Dreal);
  tc_load_tile<float, D, BN, NTHREADS>(Vs, a.v, b, hk, n0, p.Nk, a.Dreal);

  auto prefetch = [&](int64_t h, int64_t q0, int buf) {
    tc_load_tile<float, D, BM, NTHREADS>(Qs + buf * BM * DS, a.q, b, h, q0, p.Nq, a.Dreal);
    tc_load_tile<float, D, BM, NTHREADS>(dOs + buf * BM * DS, a.dout, b, h, q0, p.Nq, a.Dreal);
    if (MASKED && a.mk.dm_kind) {
      pf_dfl = mask_map_flags(a.mk, b, h, q0, min(q0 + BM, p.Nq), n0, klast);
      if (pf_dfl != BMAP_VISIBLE && a.mk.bm_bits)
        mask_words_async<BM, NWB, NTHREADS>(bits_s + buf * BM * NWB, a.mk, b, h, q0, n0);
    }
    for (int r = threadIdx.x; r < BM; r += NTHREADS) {
      const int64_t i = q0 + r;
      float l = INFINITY, dl = 0.f;
      if (i < p.Nq) {
        l = ((const float *)a.lse.p)[voff(a.lse, b, h, i, 0)];
        l = l == -INFINITY ? INFINITY : l;
        dl = ((const float *)a.delta.p)[voff(a.delta, b, h, i, 0)];
      }
      lse_s[buf * BM + r] = l;
      del_s[buf * BM + r] = dl;
      if (MASKED) {
        int64_t lo = 0, hi = 0;
        if (i < p.Nq) mask_row_keys(a.mk, i, &lo, &hi);
        klo_s[buf * BM + r] = (int)lo;
        khi_s[buf * BM + r] = (int)hi;
      }
    }
  };
  int64_t h_cur = hk * grp, qb_cur = qb_start;
  if (total > 0) prefetch(h_cur, qb_cur * BM, 0);
  cp_async_commit();

  float dk[DTV][4], dv[DTV][4];
#pragma unroll
  for (int dt = 0; dt < DTV; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[dt][e] = dv[dt][e] = 0.f;

  /* ldmatrix row addresses (bytes) of this lane for 32-bit data (an 8 x 8 b16 matrix = 8 rows x 4 floats):
     A of the warp's K / V rows: matrix m = lane / 8 -> rows (m & 1) * 8, words (m >> 1) * 4;
     B of Q / dO (two query n-tiles): matrix m -> rows (m >> 1) * 8, words (m & 1) * 4. */
  const uint32_t a_lane = ((wk + (lane & 7) + ((lane >> 3) & 1) * 8) * DS + (lane >> 4) * 4) * 4;
  const uint32_t b_lane = (((lane & 7) + (lane >> 4) * 8) * DS + ((lane >> 3) & 1) * 4) * 4;
  const uint32_t sK = smem_u32(Ks), sV = smem_u32(Vs), sQ = smem_u32(Qs), sO = smem_u32(dOs);

  /* dQ[BM x D] += dS K for the dS tile in buffer dbuf (query block q0 of head h): warp ->
     (m-tile of 16 queries, slice of NP d n-tiles) */
  auto dq_step = [&](int dbuf, int64_t h, int64_t q0) {
    constexpr int MTILES = BM / 16, WSPLIT = NW / MTILES, NP = DTV / WSPLIT;
    static_assert(NW % MTILES == 0 && DTV % WSPLIT == 0, "bad dQ split");
    const int mt = warp % MTILES, sl = warp / MTILES;
    const float *ds = dSs + dbuf * BM * BNS + (mt * 16 + g) * BNS + 2 * t4;
    const float *kr = Ks + 2 * t4 * DS + c0 + sl * NP * 8 + g;
    float acc[NP][4];
#pragma unroll
    for (int j = 0; j < NP; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[j][e] = 0.f;
#pragma unroll 2
    for (int kk = 0; kk < BN / 8; ++kk) {
      const float2 x0 = *reinterpret_cast<const float2 *>(ds + kk * 8);
      const float2 x1 = *reinterpret_cast<const float2 *>(ds + 8 * BNS + kk * 8);
      uint32_t as[4], asl[4];
      f32_operand<PRECISE>(x0.x, as[0], asl[0]); /* TF32: dS stored rounded */
      f32_operand<PRECISE>(x1.x, as[1], asl[1]);
      f32_operand<PRECISE>(x0.y, as[2], asl[2]);
      f32_operand<PRECISE>(x1.y, as[3], asl[3]);
      const float *krow = kr + kk * 8 * DS;
#pragma unroll
      for (int j = 0; j < NP; ++j) {
        uint32_t bk[2], bkl[2];
        f32_operand_qo<PRECISE, (SPLIT >= 2), KLO>(krow + j * 8, bk[0], bkl[0]);
        f32_operand_qo<PRECISE, (SPLIT >= 2), KLO>(krow + DS + j * 8, bk[1], bkl[1]);
        mma_3xtf32<PRECISE>(acc[j], as, asl, bk, bkl);
      }
    }
    const int64_t i_a = q0 + mt * 16 + g, i_b = i_a + 8;
    /* into the workspace, or (a.dq_direct: family.cu sm80_f32_dq_direct) scaled into dq itself, whose columns are
       contiguous and rows 8-byte aligned there */
    float *rowa, *rowb;
    float sc = 1.f;
    if (a.dq_direct) {
      rowa = (float *)a.dq.p + b * a.dq.sb + h * a.dq.sh + i_a * a.dq.ss;
      rowb = rowa + 8 * a.dq.ss;
      sc = a.scale;
    } else {
      rowa = a.dq_ws + ((b * p.Hq + h) * p.Nq + i_a) * a.Dws;
      rowb = rowa + 8 * a.Dws;
    }
#pragma unroll
    for (int j = 0; j < NP; ++j) {
      const int d = c0 + (sl * NP + j) * 8 + 2 * t4; /* even; the workspace row stride Dws is a multiple of 8 */
      if (d + 1 < a.Dreal) {
        if (i_a < p.Nq) atomic_add2(rowa + d, sc * acc[j][0], sc * acc[j][1]);
        if (i_b < p.Nq) atomic_add2(rowb + d, sc * acc[j][2], sc * acc[j][3]);
      } else if (d < a.Dreal) {
        if (i_a < p.Nq) atomicAdd(rowa + d, sc * acc[j][0]);
        if (i_b < p.Nq) atomicAdd(rowb + d, sc * acc[j][2]);
      }
    }
  };

  int64_t h_prev = 0, q0_prev = 0; /* the block whose dS waits for its dQ */
  for (int64_t it = 0; it < total; ++it) {
    const int buf = (int)(it & 1);
    /* Q/dO/lse/delta of this block and dS of the last one are visible; every warp is done with
       the other Q/dO buffer (last block) and with dS buffer buf (dQ of the block before) */
    cp_async_wait<0>();
    if (!PRECISE) { /* TF32 operands rounded once in shared memory */
      if (it == 0) {
        f32_round_own<D, BN, NTHREADS>(Ks);
        f32_round_own<D, BN, NTHREADS>(Vs);
      }
      f32_round_own<D, BM, NTHREADS>(Qs + buf * BM * DS);
      f32_round_own<D, BM, NTHREADS>(dOs + buf * BM * DS);
    }
    if (SPLIT >= 2 && it == 0) f32_split_own<D, BN, NTHREADS, KLO>(Ks); /* K: once per CTA */
    if (SPLIT) { /* 3xTF32: Q and dO split once per block, hi in place, lo LO floats further */
      f32_split_own<D, BM, NTHREADS, LO>(Qs + buf * BM * DS);
      f32_split_own<D, BM, NTHREADS, LO>(dOs + buf * BM * DS);
    }
    __syncthreads();
    /* this block's dense-mask class (read before the next prefetch sets pf_dfl) */
    const bool dmask = MASKED && a.mk.dm_kind && pf_dfl != BMAP_VISIBLE;
    const int64_t h = h_cur, q0 = qb_cur * BM;
    if (++qb_cur == nqb) {
      qb_cur = qb_start;
      ++h_cur;
    }
    if (it + 1 < total) prefetch(h_cur, qb_cur * BM, buf ^ 1);
    cp_async_commit();
    if (!a.skip_dq && it > 0) dq_step(buf ^ 1, h_prev, q0_prev);
    const uint32_t sQb = sQ + buf * BM * DS * 4, sOb = sO + buf * BM * DS * 4;
    const float *Qb = Qs + buf * BM * DS, *dOb = dOs + buf * BM * DS;
    const float *lb = lse_s + buf * BM, *db = del_s + buf * BM;

    /* an additive dense mask (dmask without bits: a block its map does not call full): this thread's elements' biases,
       loaded before the products that hide their latency (query and key clamped to the last ones: past Nq lse is +inf,
       past Nk the key interval zeroes P) and added in the exponent as bias - lse, one exponential an element (the code
       before the sixteenth session read each bias inside the mask's branches after a first exponential, then took a
       second one) */
    const bool dadd = MASKED && dmask && !a.mk.bm_bits;
    float bias[MASKED ? NQ : 1][4];
    auto load_bias = [&]() {
#pragma unroll
      for (int nt = 0; nt < (MASKED ? NQ : 1); ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) bias[nt][e] = 0.f;
      if (dadd)
        mask_bias_cols<MASKED ? NQ : 1>(a.mk, b, h, q0, t4, min(n0 + wk + g, p.Nk - 1), min(n0 + wk + g + 8, p.Nk - 1),
                                        p.Nq, bias);
    };
    /* BM <= 32 (4 n-tiles, 16 registers): before the products; more (D = 32's 64 queries: ptxas spilled 24 bytes
       more) after them */
    constexpr bool BIAS_EARLY = NQ <= 4;
    if (BIAS_EARLY) load_bias();

    /* S^T = K Q^T and dP^T = V dO^T, 16 keys x BM queries per warp */
    float st[NQ][4], dpt[NQ][4];
#pragma unroll
    for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[nt][e] = dpt[nt][e] = 0.f;
    /* 3xTF32: S^T's two small products go to their own accumulator (added at the end), so the
       running sum of the large scores is rounded once per k8 step, not three times */
    float stl[PRECISE ? NQ : 1][4];
#pragma unroll
    for (int nt = 0; nt < (PRECISE ? NQ : 1); ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) stl[nt][e] = 0.f;
    /* 3xTF32 in column slices (D = 256, 32 k8 steps): the large products in chunks of SCH k8 steps, each
       chunk summed from zero in stc and added to st by a float add (round to nearest), so that the
       truncating accumulator truncates chunk sums (~1/3 of S) 32 times instead of the running S: the
       CPU model (f32_score_model, D = 256, N = 300, q, k ~ N(0, 30^2)) 1.7-2.6e-3 -> 2.0-3.3e-4 */
    constexpr int SCH = (PRECISE && NS > 1) ? 4 : 0;
    static_assert(SCH == 0 || DT % (SCH ? SCH : 1) == 0, "score chunks of whole k8 steps");
    float stc[SCH ? NQ : 1][4];
#pragma unroll
    for (int nt = 0; nt < (SCH ? NQ : 1); ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) stc[nt][e] = 0.f;
#pragma unroll 2
    for (int kk = 0; kk < DT; ++kk) {
      uint32_t ak[4], av[4], akl[4], avl[4];
      ldsm_x4_a(ak, sK + a_lane + kk * 32);
      ldsm_x4_a(av, sV + a_lane + kk * 32);
      if (SPLIT >= 2) ldsm_x4_a(akl, sK + KLO * 4 + a_lane + kk * 32);
      else f32_operand_regs<PRECISE, 4>(ak, akl);
      f32_operand_regs<PRECISE, 4>(av, avl);
#pragma unroll
      for (int np = 0; np < NQ / 2; ++np) {
        const uint32_t off = b_lane + (np * 16 * DS + kk * 8) * 4;
        uint32_t bq[4], bo[4], bql[4], bol[4];
        ldsm_x4_a(bq, sQb + off);
        ldsm_x4_a(bo, sOb + off);
        if (SPLIT) {
          ldsm_x4_a(bql, sQb + LO * 4 + off);
          ldsm_x4_a(bol, sOb + LO * 4 + off);
        } else {
          f32_operand_regs<PRECISE, 4>(bq, bql);
          f32_operand_regs<PRECISE, 4>(bo, bol);
        }
        if (PRECISE) {
          mma_tf32(stl[PRECISE ? 2 * np : 0], akl, bq);
          mma_tf32(stl[PRECISE ? 2 * np : 0], ak, bql);
          mma_tf32(stl[PRECISE ? 2 * np + 1 : 0], akl, bq + 2);
          mma_tf32(stl[PRECISE ? 2 * np + 1 : 0], ak, bql + 2);
        }
        if (SCH) {
          mma_tf32(stc[SCH ? 2 * np : 0], ak, bq);
          mma_tf32(stc[SCH ? 2 * np + 1 : 0], ak, bq + 2);
        } else {
          mma_tf32(st[2 * np], ak, bq);
          mma_tf32(st[2 * np + 1], ak, bq + 2);
        }
        mma_3xtf32<PRECISE>(dpt[2 * np], av, avl, bo, bol);
        mma_3xtf32<PRECISE>(dpt[2 * np + 1], av, avl, bo + 2, bol + 2);
      }
      if (SCH && kk % (SCH ? SCH : 1) == (SCH ? SCH : 1) - 1) {
#pragma unroll
        for (int nt = 0; nt < (SCH ? NQ : 1); ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            st[nt][e] += stc[nt][e];
            stc[nt][e] = 0.f;
          }
      }
    }

    if (PRECISE) {
#pragma unroll
      for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) st[nt][e] += stl[PRECISE ? nt : 0][e];
    }

    /* P^T and dS^T (in place: st <- P, dpt <- dS). The exponent in natural units,
       scale S - lse with the scale as a float pair (two fmas), then times log2(e): near the
       row's maximum it is small and keeps float32 accuracy where S and lse are large. */
    if (!BIAS_EARLY) load_bias();
    const int klim = (int)min((int64_t)BN, p.Nk - n0);
    /* MASKED with a dense mask alone (no causal, window or packed sequences) in a block of Nq's rows: every row's key
       interval is [0, Nk), so the block needs no per-element test when its keys are all below Nk (klim = BN) and the
       mask is additive (which acts through the exponent) or its map calls the block full. 18.5% of the instructions of a float32 D = 64 N =
       2048 backward with a bias were its mask's before (H200 ncu, eighteenth session: 2.87 G against 2.37 G) */
    const bool rows_all = MASKED && !a.mk.causal && !a.mk.windowed && a.mk.nseq == 0 && q0 + BM <= p.Nq;
    const bool need_mask = MASKED ? !rows_all || klim < BN || (dmask && a.mk.bm_bits)
                                  : n0 + BN > p.Nk || (p.causal && p.k_pos0 + n0 + BN - 1 > p.q_pos0 + q0);
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
        /* MASKED: bias - lse (0 - lse where no bias: -lse up to the sign of a zero, the same exponential); else -lse */
        const float off = MASKED ? bias[MASKED ? nt : 0][e] - lb[qi] : -lb[qi];
        float pv = p_cap1(exp2f(fmaf(st[nt][e], scale_lo, fmaf(st[nt][e], a.scale, off)) * kLog2e));
        if (need_mask) {
          const int kl = wk + g + (e >> 1) * 8;
          if (!MASKED) {
            if (kl >= klim || kl - qi > cdiff) pv = 0.f;
          } else {
            const int kj = (int)n0 + kl;
            if (kj < klo_s[buf * BM + qi] || kj >= khi_s[buf * BM + qi])
              pv = 0.f;
            else if (dmask && a.mk.bm_bits && !mask_word_bit<BN>(bits_s + (buf * BM + qi) * NWB, n0, kl))
              pv = 0.f;
          }
        }
        st[nt][e] = pv;
        dpt[nt][e] = pv * (dpt[nt][e] - db[qi]);
      }

    /* dV += P^T dO, dK += dS^T Q: k8 slice = query n-tile nt (position t <-> query 2t, t + 4 <-> 2t + 1) */
#pragma unroll
    for (int nt = 0; nt < NQ; ++nt) {
      uint32_t ap[4], apl[4], as[4], asl[4];
      f32_split<PRECISE>(st[nt][0], ap[0], apl[0]);
      f32_split<PRECISE>(st[nt][2], ap[1], apl[1]);
      f32_split<PRECISE>(st[nt][1], ap[2], apl[2]);
      f32_split<PRECISE>(st[nt][3], ap[3], apl[3]);
      f32_split<PRECISE>(dpt[nt][0], as[0], asl[0]);
      f32_split<PRECISE>(dpt[nt][2], as[1], asl[1]);
      f32_split<PRECISE>(dpt[nt][1], as[2], asl[2]);
      f32_split<PRECISE>(dpt[nt][3], as[3], asl[3]);
      const float *orow = dOb + (nt * 8 + 2 * t4) * DS + c0 + g, *qrow = Qb + (nt * 8 + 2 * t4) * DS + c0 + g;
#pragma unroll
      for (int dt = 0; dt < DTV; ++dt) {
        uint32_t bo[2], bol[2], bq[2], bql[2];
        f32_operand_qo<PRECISE, (SPLIT != 0), LO>(orow + dt * 8, bo[0], bol[0]);
        f32_operand_qo<PRECISE, (SPLIT != 0), LO>(orow + DS + dt * 8, bo[1], bol[1]);
        f32_operand_qo<PRECISE, (SPLIT != 0), LO>(qrow + dt * 8, bq[0], bql[0]);
        f32_operand_qo<PRECISE, (SPLIT != 0), LO>(qrow + DS + dt * 8, bq[1], bql[1]);
        mma_3xtf32<PRECISE>(dv[dt], ap, apl, bo, bol);
        mma_3xtf32<PRECISE>(dk[dt], as, asl, bq, bql);
      }
    }

    if (!a.skip_dq) {
      /* dS -> smem buffer buf as [query][key]; its dQ is added in the next iteration */
      float *dSb = dSs + buf * BM * BNS;
#pragma unroll
      for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int qi = nt * 8 + 2 * t4 + (e & 1), kr = wk + g + (e >> 1) * 8;
          dSb[qi * BNS + kr] = PRECISE ? dpt[nt][e] : __uint_as_float(tf32_round(dpt[nt][e]));
        }
      h_prev = h;
      q0_prev = q0;
    }
  }
  cp_async_wait<0>();
  if (!a.skip_dq && total > 0) {
    __syncthreads();
    dq_step((int)((total - 1) & 1), h_prev, q0_prev);
  }

  /* store dK (scaled), dV */
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int64_t j = n0 + wk + g + rr * 8;
    if (j >= p.Nk) continue;
#pragma unroll
    for (int dt = 0; dt < DTV; ++dt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int d = c0 + dt * 8 + 2 * t4 + e;
        if (d >= a.Dreal) continue;
        const float xk = dk[dt][rr * 2 + e] * a.scale, xv = dv[dt][rr * 2 + e];
        float *pk = (float *)a.dk.p + voff(a.dk, b, hk, j, d), *pv = (float *)a.dv.p + voff(a.dv, b, hk, j, d);
        if (a.accumulate) {
          *pk += xk;
          *pv += xv;
        } else {
          *pk = xk;
          *pv = xv;
        }
      }
  }
}

template <int D, int NW, int BM, bool PRECISE, bool MASKED, int SPLIT, int NS>
static jfa_status_t launch_bwd_f32_m(const BwdArgs &a, cudaStream_t st) {
  typedef BwdF32<D, NW, BM, SPLIT, NS> C;
  auto kern = bwd_f32_kernel<D, NW, BM, PRECISE, MASKED, SPLIT, NS>;
  const size_t smem = C::smem_bytes(MASKED);
  JFA_CHECK(smem_optin(kern, smem));
  dim3 grid((unsigned)((a.p.Nk + C::BN - 1) / C::BN * NS), (unsigned)a.p.Hkv, (unsigned)a.p.B);
  /* causal calls (no other mask) longest first in groups of pairs whose Q, dO (float32) and dQ accumulators fit
     the L2 budget (common/cta_order.h); tuning builds' JFA_TUNE_SM80_F32_BWD_HG=g sets the group (-1: head after
     head, as before the thirteenth session) */
  const int64_t hg = bwd_causal_group(a.p, a.p.causal && !a.masked, D, 12, "JFA_TUNE_SM80_F32_BWD_HG");
  kern<<<grid, C::NTHREADS, smem, st>>>(a, hg);
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* Dynamic shared memory a block of the current device may opt into (bytes; 0 if unknown). */
static inline size_t f32_device_smem_optin() {
  int dev = 0, v = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&v, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
    return 0;
  return (size_t)v;
}

/* Whether kernel k's code on this device was compiled for compute capability 9.0 or later: the SPLIT bodies (left out,
   __trap() in their place, below 9.0; bwd_f32_kernel). A build whose sm80 objects carry only compute_8x code (e.g.
   CMAKE_CUDA_ARCHITECTURES=80) has the driver compile that PTX on an H100 / H200, whose shared memory would otherwise
   choose a SPLIT that traps and leaves the context unusable. The query fails only where the launch would. */
template <typename K>
static bool f32_split_compiled(K k) {
  cudaFuncAttributes fa;
  if (cudaFuncGetAttributes(&fa, (const void *)k) != cudaSuccess) {
    (void)cudaGetLastError(); /* not sticky: the non-SPLIT launch reports what it meets */
    return false;
  }
  return fa.ptxVersion >= 90;
}

/* One mask class's tiles: 3xTF32 with the row's SPLIT S where the device has the shared memory (and the kernel's code
   has its SPLIT body: f32_split_compiled), else with S - 1, ..., 0 (an A100's 163 KiB takes none of them); TF32
   without. */
template <int D, int NW, int BM, bool PRECISE, bool MASKED, int S, int NS>
static jfa_status_t launch_bwd_f32_s(const BwdArgs &a, cudaStream_t st) {
  if constexpr (PRECISE && S > 0) {
    if (BwdF32<D, NW, BM, S, NS>::smem_bytes(MASKED) <= f32_device_smem_optin() &&
        f32_split_compiled(bwd_f32_kernel<D, NW, BM, true, MASKED, S, NS>))
      return launch_bwd_f32_m<D, NW, BM, true, MASKED, S, NS>(a, st);
    return launch_bwd_f32_s<D, NW, BM, PRECISE, MASKED, S - 1, NS>(a, st);
  } else {
    return launch_bwd_f32_m<D, NW, BM, PRECISE, MASKED, 0, NS>(a, st);
  }
}

/* The float32 backward of tuning variant V (tiles.h) at head dim D: the row of the call's mask class. */
template <int D, int V, bool PRECISE>
static jfa_status_t sm80_bwd_f32_variant(const BwdArgs &a, cudaStream_t st) {
  constexpr Sm80Tile c = sm80_tile(OP_BWD, JFA_DTYPE_FLOAT32, D, MASK_CLASS_CAUSAL, V);
  constexpr Sm80Tile m = sm80_tile(OP_BWD, JFA_DTYPE_FLOAT32, D, MASK_CLASS_ANY, V);
  static_assert(c.D == D && m.D == D && c.dtype == JFA_DTYPE_FLOAT32 && m.dtype == JFA_DTYPE_FLOAT32,
                "no sm80 float32 backward tiles for this head dim");
  static_assert(BwdF32<D, c.NW, c.BM, 0, c.NS>::smem_bytes(false) == sm80_f32_bwd_smem_bytes(c, false) &&
                    BwdF32<D, m.NW, m.BM, 0, m.NS>::smem_bytes(true) == sm80_f32_bwd_smem_bytes(m, true),
                "tiles.h sm80_f32_bwd_smem_bytes and BwdF32::smem_bytes disagree");
  if (!a.masked) return launch_bwd_f32_s<D, c.NW, c.BM, PRECISE, false, c.SPLIT, c.NS>(a, st);
  return launch_bwd_f32_s<D, m.NW, m.BM, PRECISE, true, m.SPLIT, m.NS>(a, st);
}

template <int D>
jfa_status_t sm80_bwd_f32_d(const BwdArgs &a, bool tf32, cudaStream_t st) {
#ifdef JFA_TUNING
  /* JFA_TUNE_BWD=1: 4-warp tiles; =2: variant 0's tiles without SPLIT (the register split);
     =3: SPLIT 1 (no K plane) where variant 0 has 2 */
  if constexpr (sm80_has_tile(OP_BWD, JFA_DTYPE_FLOAT32, D, 1)) {
    if (tune_variant("JFA_TUNE_BWD") == 1)
      return tf32 ? sm80_bwd_f32_variant<D, 1, false>(a, st) : sm80_bwd_f32_variant<D, 1, true>(a, st);
  }
  if constexpr (sm80_has_tile(OP_BWD, JFA_DTYPE_FLOAT32, D, 2)) {
    if (tune_variant("JFA_TUNE_BWD") == 2)
      return tf32 ? sm80_bwd_f32_variant<D, 2, false>(a, st) : sm80_bwd_f32_variant<D, 2, true>(a, st);
  }
  if constexpr (sm80_has_tile(OP_BWD, JFA_DTYPE_FLOAT32, D, 3)) {
    if (tune_variant("JFA_TUNE_BWD") == 3)
      return tf32 ? sm80_bwd_f32_variant<D, 3, false>(a, st) : sm80_bwd_f32_variant<D, 3, true>(a, st);
  }
#endif
  /* causal calls without other masks: tiles.h sm80_f32_bwd_causal_variant (variant 1 at D = 128, Nk <= 1024: only
     the head dims where it can be 1 instantiate it; tuning builds' JFA_TUNE_SM80_F32_BWD_CAUSAL=0 runs row 0 there) */
  if constexpr (sm80_f32_bwd_causal_variant(D, 1) == 1 && sm80_has_tile(OP_BWD, JFA_DTYPE_FLOAT32, D, 1)) {
    bool vc = a.p.causal && !a.masked && sm80_f32_bwd_causal_variant(D, a.p.Nk) == 1;
#ifdef JFA_TUNING
    if (getenv("JFA_TUNE_SM80_F32_BWD_CAUSAL")) vc = vc && tune_variant("JFA_TUNE_SM80_F32_BWD_CAUSAL") == 1;
#endif
    if (vc) return tf32 ? sm80_bwd_f32_variant<D, 1, false>(a, st) : sm80_bwd_f32_variant<D, 1, true>(a, st);
  }
  return tf32 ? sm80_bwd_f32_variant<D, 0, false>(a, st) : sm80_bwd_f32_variant<D, 0, true>(a, st);
}

#endif /* JFA_KERNELS_SM80_BWD_F32_CUH_ */
