/*
 * fwd.cuh - the sm80 family's (mma.sync m16n8k16, ldmatrix, cp.async) forward and
 * fused forward+JVP kernel of jfa, for bf16 and fp16 with fp32 accumulation.
 *
 * A CTA owns BM = 16 * MT * NW query rows of one (batch, head); each warp owns
 * 16 * MT of them and keeps its O (and, for the JVP, U) accumulators, running max
 * m, sum l (and nu) in registers. K/V (and Kd/Vd) blocks of BN keys stream through
 * a two-stage cp.async pipeline in padded shared memory (row stride D + 8, which
 * makes ldmatrix conflict-free). Per block:
 *   S = Q K^T, Sd = Qd K^T + Q Kd^T (two mmas into one fragment), online softmax
 *   in fp32 registers (exp2 domain), O += P V, U += (P*(Sd - c)) V + P Vd.
 * The tangent is accumulated against a reference c, moved to the running mu = nu/l
 * whenever the max of a row of the warp rises (a new dominant key): when c moves,
 * U += (c_old - c_new) O~, so that U = sum_j p_j (Sd_j - c) V_j + p_j Vd_j holds for the
 * current c and the packed P*(Sd - c) is small for the dominant keys (no cancellation in
 * Od even when the softmax is nearly one-hot).
 * End: O = O~/l, mu = nu/l, Od = U/l - (mu - c) O, lse = m + log l.
 * Head dims that are not a multiple of the instantiated D are zero-filled by the
 * loads (cp.async src-size) and masked at the store. Causal blocks above the
 * diagonal are skipped; blocks that cross it or the key tail are masked per element.
 * One barrier per key block: the prefetch of block jb + 1 is issued after block jb's
 * barrier, so warps may drift by a phase (softmax of one overlaps mmas of another).
 * Other masks (a.masked: windows, packed sequences, dense masks) go through the same
 * loop: each CTA first puts its rows' key intervals [lo, hi) (mask_row_keys) in shared
 * memory (2 * BM ints after the tiles), iterates only over the key blocks in the union
 * of those intervals, and masks per element only the blocks not inside every row's
 * interval. A dense mask comes with its block map (common/blockmap.h, built once per call):
 * blocks it empties for the CTA's rows are not loaded, blocks it leaves full take no
 * per-element mask, and a partial block of a boolean mask reads its rows' bits (one 64-bit
 * word per row, loaded before the block's products), a bias is added per element in fp32:
 * read from a tile of BM x BN biases that cp.async brings in with the block's K and V
 * (mask_bias_tile_async; two stages after the key intervals, where the mask's layout allows,
 * MaskDev.bias_vec, and the device has the bytes, sm80_bias_tiles_bytes), else from global memory.
 * Column slices (NS > 1, the JVP at D > 128): O and U of a full row of D > 128 columns do
 * not fit in a warp's registers next to S and Sd, so the grid has NS CTAs per query block
 * (neighbours in blockIdx.x, so they read the same K blocks from L2 at about the same time),
 * each computing S and Sd over the full D but accumulating O and U for its D / NS columns
 * [c0, c0 + D / NS) only, with V and Vd tiles of those columns (row stride D / NS + 8).
 * Every slice carries the same m, l, nu and c (the same arithmetic on the same scores);
 * slice 0 writes lse and mu. The scores cost NS times (2/3 of the JVP's mma work is S and
 * Sd): with NS = 2 about 60% of the arithmetic efficiency of an unsliced kernel, against
 * the CUDA-core fallback otherwise. Accumulate mode: every slice merges with the lse and mu
 * already in memory, which slice 0 rewrites, so slices 1.. run in a first launch and slice 0
 * in a second (FwdArgs.slice_pass).
 * Accumulate mode merges the result into fp32 accumulators in the epilogue. The online
 * softmax and the epilogue are shared with the sm90 kernel (common/softmax.cuh).
 * Tiles from tiles.h; instantiated per head dim by inst/fwd_d<D>.cu and inst/jvp_d<D>.cu
 * (sm80_fwd_d), which compile in parallel; family.cu decides when it runs.
 */
#ifndef JFA_KERNELS_SM80_FWD_CUH_
#define JFA_KERNELS_SM80_FWD_CUH_

#include <limits.h>

#include "kernels/common/softmax.cuh"
#include "kernels/sm80/mma.cuh"
#include "kernels/sm80/sm80.h"

template <typename T, int D, int BN, int NW, int MT, bool JVP, bool QREG, int NS = 1>
struct FwdTC {
  static constexpr int BM = 16 * MT * NW, DS = D + 8, NT = BN / 8, KS = D / 16;
  static constexpr int NTHREADS = NW * 32;
  /* column slices: DV output columns (V, Vd tiles of row stride DVS), DT = DV / 8 chunks */
  static constexpr int DV = D / NS, DVS = DV + 8, DT = DV / 8;
  static_assert(DV * NS == D && DV % 16 == 0, "column slices of 16-column multiples");
  /* one pipeline stage: K, V (, Kd, Vd); the offsets of V, Kd, Vd in it (elements) */
  static constexpr int STAGE = (JVP ? 2 : 1) * BN * (DS + DVS), OFF_V = BN * DS, OFF_KD = BN * (DS + DVS),
                       OFF_VD = 2 * BN * DS + BN * DVS;
  static constexpr size_t smem_bytes() { return sizeof(T) * ((size_t)(JVP ? 2 : 1) * BM * DS + (size_t)2 * STAGE); }
};

template <typename T, int D, int BN, int NW, int MT, bool JVP, bool QREG, bool MASKED, int NS, bool MPASS = false>
/* the D = 64 forward with Q read from shared memory fits 3 CTAs of 4 warps per SM in registers */
__global__ void __launch_bounds__(NW * 32, (!JVP && !QREG && !MASKED && D == 64 && NW == 4) ? 3 : 1)
    fwd_tc_kernel(const FwdArgs a) {
  typedef FwdTC<T, D, BN, NW, MT, JVP, QREG, NS> C;
  constexpr int BM = C::BM, DS = C::DS, NT = C::NT, DT = C::DT, KS = C::KS, STAGE = C::STAGE;
  constexpr int NTHREADS = C::NTHREADS, DV = C::DV, DVS = C::DVS;
  extern __shared__ __align__(16) unsigned char smraw[];
  T *Qs = (T *)smraw;
  T *Qds = Qs + BM * DS;
  T *KV = Qs + (JVP ? 2 : 1) * BM * DS;

  const jfa_problem_t &p = a.p;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t4 = lane & 3;
  const int64_t b = blockIdx.z, h = blockIdx.y, hk = h / (p.Hq / p.Hkv);
  /* column slice sl (NS > 1): output columns [c0, c0 + DV); the slices of a query block are neighbours
     (a.slice_pass: the grid holds slices 1.. or slice 0 only, see launch_fwd_tc_m) */
  const int nsl = NS == 1 || a.slice_pass == 0 ? NS : a.slice_pass == 1 ? NS - 1 : 1;
  const int sl = NS == 1 || a.slice_pass == 2 ? 0
                 : a.slice_pass == 0      ? (int)(blockIdx.x % NS)
                                          : 1 + (int)(blockIdx.x % nsl);
  const int c0 = sl * DV;
  const int64_t m0 = (int64_t)(gridDim.x / nsl - 1 - blockIdx.x / nsl) * BM; /* longest (causal) blocks first */
  const int wrow = warp * 16 * MT;

  int64_t kbeg = 0, kend = p.Nk;
  if (p.causal) {
    int64_t last_q = min(m0 + BM, p.Nq) - 1;
    kend = min(p.Nk, max((int64_t)0, p.q_pos0 + last_q - p.k_pos0 + 1));
  }
  /* masked: key intervals of the CTA's rows (ints: the launcher checks Nk < 2^30), their union
     [kbeg, kend), and [kin_lo, kin_hi): keys inside every row's interval */
  int *s_lo = (int *)(KV + 2 * STAGE), *s_hi = s_lo + BM;
  /* masked, an additive dense mask staged in shared memory (a.mk.bias_vec): [2][BM] rows of bpitch bytes */
  unsigned char *bias_s = (unsigned char *)(((uintptr_t)(s_hi + BM) + 15) & ~(uintptr_t)15);
  const bool btile = MASKED && a.mk.bias_vec;
  const int bpitch = sm80_bias_pitch(BN, mask_bias_esize(a.mk.dm_kind));
  int kin_lo = 0, kin_hi = 0;
  if (MASKED) {
    mask_rows_to_smem(a.mk, m0, BM, NTHREADS, s_lo, s_hi);
    __syncthreads();
    const CtaKeys ck = mask_cta_keys(a.mk, m0, BM, s_lo, s_hi);
    kbeg = ck.kbeg;
    kend = ck.kend;
    kin_lo = ck.kin_lo;
    kin_hi = ck.kin_hi;
  }
  const int nblk = (int)((kend + BN - 1) / BN);
  /* MASKED with a dense mask: key blocks its block map empties for these rows are skipped */
  const int64_t rq1 = min(m0 + BM, p.Nq);
  const int jb0 = MASKED ? mask_next_block(a.mk, b, h, m0, rq1, (int)(kbeg / BN), nblk, BN) : (int)(kbeg / BN);

  tc_load_tile<T, D, BM, NTHREADS>(Qs, a.q, b, h, m0, p.Nq, a.Dreal);
  if (JVP) tc_load_tile<T, D, BM, NTHREADS>(Qds, a.qd, b, h, m0, p.Nq, a.Dreal);
  if (jb0 < nblk) {
    T *first = KV;
    const int64_t k0 = (int64_t)jb0 * BN;
    tc_load_tile<T, D, BN, NTHREADS>(first, a.k, b, hk, k0, p.Nk, a.Dreal);
    tc_load_tile<T, DV, BN, NTHREADS>(first + C::OFF_V, a.v, b, hk, k0, p.Nk, a.Dreal, c0);
    if (JVP) {
      tc_load_tile<T, D, BN, NTHREADS>(first + C::OFF_KD, a.kd, b, hk, k0, p.Nk, a.Dreal);
      tc_load_tile<T, DV, BN, NTHREADS>(first + C::OFF_VD, a.vd, b, hk, k0, p.Nk, a.Dreal, c0);
    }
    if (btile) mask_bias_tile_async<BM, BN, NTHREADS>(bias_s, bpitch, a.mk, b, h, m0, k0);
  }
  cp_async_commit();

  float o[MT][DT][4];
  float u[JVP ? MT : 1][JVP ? DT : 1][4];
  /* lrow, nrow: per-lane partial sums (reduced over the row's 4 lanes at the end, and in the JVP
     whenever the reference crow moves to the running mu = nu / l) */
  float mrow[MT][2], lrow[MT][2], nrow[MT][2], crow[JVP ? MT : 1][2];
  fwd_init_state<MT, DT, JVP>(o, u, mrow, lrow, nrow, crow);
  uint32_t qf[QREG ? MT : 1][QREG ? KS : 1][4];
  /* 32-bit shared addresses of this lane's ldmatrix rows (byte offsets; tile offsets are constants) */
  constexpr int ES = (int)sizeof(T);
  const uint32_t sQ = smem_u32(Qs) + ((wrow + (lane & 15)) * DS + (lane >> 4) * 8) * ES;
  const uint32_t sQd = sQ + BM * DS * ES;
  const uint32_t k_lane = (((lane & 7) + ((lane >> 4) << 3)) * DS + ((lane >> 3) & 1) * 8) * ES;
  const uint32_t v_lane = (((lane & 7) + ((lane >> 3) & 1) * 8) * DVS + (lane >> 4) * 8) * ES;
  const uint32_t sKV = smem_u32(KV);
  uint32_t qdf[(QREG && JVP) ? MT : 1][(QREG && JVP) ? KS : 1][4];

  /* key block jb is the it-th loaded (buffer it & 1); jn the next one not empty */
  int jn = jb0;
  for (int jb = jb0, it = 0; jb < nblk; jb = jn, ++it) {
    jn = MASKED ? mask_next_block(a.mk, b, h, m0, rq1, jb + 1, nblk, BN) : jb + 1;
    /* one barrier per key block: block jb has landed, and every warp is done with the block
       before, whose buffer the prefetch of block jn then overwrites */
    cp_async_wait<0>();
    __syncthreads();
    if (jn < nblk) {
      T *nxt = KV + ((it + 1) & 1) * STAGE;
      const int64_t k0 = (int64_t)jn * BN;
      tc_load_tile<T, D, BN, NTHREADS>(nxt, a.k, b, hk, k0, p.Nk, a.Dreal);
      tc_load_tile<T, DV, BN, NTHREADS>(nxt + C::OFF_V, a.v, b, hk, k0, p.Nk, a.Dreal, c0);
      if (JVP) {
        tc_load_tile<T, D, BN, NTHREADS>(nxt + C::OFF_KD, a.kd, b, hk, k0, p.Nk, a.Dreal);
        tc_load_tile<T, DV, BN, NTHREADS>(nxt + C::OFF_VD, a.vd, b, hk, k0, p.Nk, a.Dreal, c0);
      }
      if (btile)
        mask_bias_tile_async<BM, BN, NTHREADS>(bias_s + ((it + 1) & 1) * BM * bpitch, bpitch, a.mk, b, h, m0, k0);
    }
    cp_async_commit();

    const uint32_t sK = sKV + (it & 1) * STAGE * ES + k_lane;
    const uint32_t sKd = sK + C::OFF_KD * ES;
    const uint32_t sV = sKV + (it & 1) * STAGE * ES + C::OFF_V * ES + v_lane;
    const uint32_t sVd = sV + (C::OFF_VD - C::OFF_V) * ES;

    if (QREG && jb == jb0) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int kk = 0; kk < KS; ++kk) {
          const uint32_t off = (mt * 16 * DS + kk * 16) * ES;
          ldsm_x4_a(qf[QREG ? mt : 0][QREG ? kk : 0], sQ + off);
          if (JVP) ldsm_x4_a(qdf[(QREG && JVP) ? mt : 0][(QREG && JVP) ? kk : 0], sQd + off);
        }
    }

    /* the dense mask's class of this block (block map), and for a partial block of a boolean
       mask this warp's rows' bits, loaded before the products that hide their latency */
    const int64_t kb0 = (int64_t)jb * BN;
    bool dense_part = false;
    uint64_t dw[MT][2][NT > 8 ? NT / 8 : 1];
    if (MASKED && a.mk.dm_kind) {
      dense_part = bmap_partial(mask_map_flags(a.mk, b, h, m0, rq1, kb0, min(kb0 + BN, p.Nk)));
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int rr = 0; rr < 2; ++rr) {
          if (dense_part && a.mk.bm_bits) mask_row_words(a.mk, b, h, m0 + wrow + mt * 16 + g + rr * 8, kb0, dw[mt][rr]);
          else
#pragma unroll
            for (int k = 0; k < (NT > 8 ? NT / 8 : 1); ++k) dw[mt][rr][k] = 0;
        }
    }

    /* S = Q K^T (and Sd) */
    float s[MT][NT][4];
    float sd[JVP ? MT : 1][JVP ? NT : 1][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[mt][nt][e] = 0.f;
          if (JVP) sd[JVP ? mt : 0][JVP ? nt : 0][e] = 0.f;
        }
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) {
      uint32_t af[MT][4], adf[JVP ? MT : 1][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        if (QREG) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            af[mt][e] = qf[QREG ? mt : 0][QREG ? kk : 0][e];
            if (JVP) adf[JVP ? mt : 0][e] = qdf[(QREG && JVP) ? mt : 0][(QREG && JVP) ? kk : 0][e];
          }
        } else {
          const uint32_t off = (mt * 16 * DS + kk * 16) * ES;
          ldsm_x4_a(af[mt], sQ + off);
          if (JVP) ldsm_x4_a(adf[JVP ? mt : 0], sQd + off);
        }
      }
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        const uint32_t koff = (np * 16 * DS + kk * 16) * ES;
        uint32_t bk[4];
        ldsm_x4_a(bk, sK + koff);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma16816<T>(s[mt][2 * np], af[mt], bk);
          mma16816<T>(s[mt][2 * np + 1], af[mt], bk + 2);
        }
        if (JVP) {
          uint32_t bkd[4];
          ldsm_x4_a(bkd, sKd + koff);
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            const int jm = JVP ? mt : 0;
            mma16816<T>(sd[jm][JVP ? 2 * np : 0], adf[jm], bk);
            mma16816<T>(sd[jm][JVP ? 2 * np + 1 : 0], adf[jm], bk + 2);
            mma16816<T>(sd[jm][JVP ? 2 * np : 0], af[mt], bkd);
            mma16816<T>(sd[jm][JVP ? 2 * np + 1 : 0], af[mt], bkd + 2);
          }
        }
      }
    }

    /* mask, online softmax */
    BlockMask bm = fwd_block_mask<BN, MASKED>(a, m0, kb0, kin_lo, kin_hi);
    bm.dense = dense_part;
    bm.need = bm.need || dense_part;
    if (btile) {
      bm.bias = bias_s + (it & 1) * BM * bpitch;
      bm.bias_pitch = bpitch;
    }
    fwd_softmax_block<MT, NT, DT, JVP, MASKED, false, false, 0, MPASS>(a, bm, b, h, m0, wrow, g, t4, s_lo, s_hi, s, sd,
                                                                         o, u, mrow, lrow, nrow, crow, dw);

    /* O += P V;  U += (P*Sd) V + P Vd */
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      uint32_t ap[MT][4], apd[JVP ? MT : 1][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        ap[mt][0] = pack2<T>(s[mt][2 * kk][0], s[mt][2 * kk][1]);
        ap[mt][1] = pack2<T>(s[mt][2 * kk][2], s[mt][2 * kk][3]);
        ap[mt][2] = pack2<T>(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
        ap[mt][3] = pack2<T>(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        if (JVP) {
          const int jm = JVP ? mt : 0, n0 = JVP ? 2 * kk : 0, n1 = JVP ? 2 * kk + 1 : 0;
          apd[jm][0] = pack2<T>(sd[jm][n0][0], sd[jm][n0][1]);
          apd[jm][1] = pack2<T>(sd[jm][n0][2], sd[jm][n0][3]);
          apd[jm][2] = pack2<T>(sd[jm][n1][0], sd[jm][n1][1]);
          apd[jm][3] = pack2<T>(sd[jm][n1][2], sd[jm][n1][3]);
        }
      }
#pragma unroll
      for (int np = 0; np < DV / 16; ++np) {
        const uint32_t voff = (kk * 16 * DVS + np * 16) * ES;
        uint32_t bv[4];
        ldsm_x4_t_a(bv, sV + voff);
#pragma unroll
        for (int mt = 0; mt < MT; ++mt) {
          mma16816<T>(o[mt][2 * np], ap[mt], bv);
          mma16816<T>(o[mt][2 * np + 1], ap[mt], bv + 2);
          if (JVP) {
            const int jm = JVP ? mt : 0;
            mma16816<T>(u[jm][JVP ? 2 * np : 0], apd[jm], bv);
            mma16816<T>(u[jm][JVP ? 2 * np + 1 : 0], apd[jm], bv + 2);
          }
        }
        if (JVP) {
          uint32_t bvd[4];
          ldsm_x4_t_a(bvd, sVd + voff);
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            const int jm = JVP ? mt : 0;
            mma16816<T>(u[jm][JVP ? 2 * np : 0], ap[mt], bvd);
            mma16816<T>(u[jm][JVP ? 2 * np + 1 : 0], ap[mt], bvd + 2);
          }
        }
      }
    }
  }
  cp_async_wait<0>();

  /* every slice has the same statistics; slice 0 writes lse and mu */
  fwd_epilogue<T, MT, DT, JVP>(a, b, h, m0 + wrow, g, t4, o, u, mrow, lrow, nrow, crow, c0, sl == 0);
}

template <typename T, int D, int BN, int NW, int MT, bool JVP, bool QREG, bool MASKED, int NS, bool MPASS = false>
static jfa_status_t launch_fwd_tc_m(const FwdArgs &a, cudaStream_t st) {
  typedef FwdTC<T, D, BN, NW, MT, JVP, QREG, NS> C;
  auto kern = fwd_tc_kernel<T, D, BN, NW, MT, JVP, QREG, MASKED, NS, MPASS>;
  /* masked: the key intervals, and an additive mask's tiles where a.mk.bias_vec (family.cu checked the bytes) */
  const size_t smem = C::smem_bytes() + (MASKED ? 2 * C::BM * sizeof(int) : 0) +
                      (MASKED && a.mk.bias_vec ? sm80_bias_tiles_bytes(C::BM, BN, mask_bias_esize(a.mk.dm_kind)) : 0);
  JFA_CHECK(smem_optin(kern, smem)); /* from 40 KiB: static bytes count toward 48 */
  const unsigned nqb = (unsigned)((a.p.Nq + C::BM - 1) / C::BM);
  if (NS > 1 && a.accumulate) {
    /* accumulate mode: every slice merges with the lse (and mu) already there, which slice 0
       rewrites; so slices 1.. run first, slice 0 in a second launch (stream order) */
    FwdArgs a2 = a;
    a2.slice_pass = 1;
    kern<<<dim3(nqb * (NS - 1), (unsigned)a.p.Hq, (unsigned)a.p.B), C::NTHREADS, smem, st>>>(a2);
    JFA_LAUNCH_CHECK();
    a2.slice_pass = 2;
    kern<<<dim3(nqb, (unsigned)a.p.Hq, (unsigned)a.p.B), C::NTHREADS, smem, st>>>(a2);
    JFA_LAUNCH_CHECK();
    return JFA_SUCCESS;
  }
  dim3 grid(nqb * NS, (unsigned)a.p.Hq, (unsigned)a.p.B);
  kern<<<grid, C::NTHREADS, smem, st>>>(a);
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* The forward / JVP of tuning variant V (tiles.h) at head dim D: the row of the call's mask class. */
template <typename T, int D, bool JVP, int V>
static jfa_status_t sm80_fwd_variant(const FwdArgs &a, cudaStream_t st) {
  constexpr int op = JVP ? OP_JVP : OP_FWD;
  constexpr Sm80Tile c = sm80_tile(op, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, V);
  constexpr Sm80Tile m = sm80_tile(op, DtypeOf<T>::value, D, MASK_CLASS_ANY, V);
  static_assert(c.D == D && m.D == D, "no sm80 forward / JVP tiles for this head dim");
  typedef FwdTC<T, D, c.BN, c.NW, c.MT, JVP, c.QREG, c.NS> Cc;
  typedef FwdTC<T, D, m.BN, m.NW, m.MT, JVP, m.QREG, m.NS> Cm;
  static_assert(Cc::smem_bytes() == sm80_smem_bytes(c, false) &&
                    Cm::smem_bytes() + 2 * Cm::BM * sizeof(int) == sm80_smem_bytes(m, true),
                "tiles.h sm80_smem_bytes and FwdTC::smem_bytes disagree");
  if (!a.masked) return launch_fwd_tc_m<T, D, c.BN, c.NW, c.MT, JVP, c.QREG, false, c.NS, c.MPASS>(a, st);
  return launch_fwd_tc_m<T, D, m.BN, m.NW, m.MT, JVP, m.QREG, true, m.NS>(a, st); /* MPASS: unmasked kernels only */
}

template <typename T, int D, bool JVP>
jfa_status_t sm80_fwd_d(const FwdArgs &a, cudaStream_t st) {
#ifdef JFA_TUNING
  constexpr int op = JVP ? OP_JVP : OP_FWD, dt = DtypeOf<T>::value;
  const int v = tune_variant(JVP ? "JFA_TUNE_JVP" : "JFA_TUNE_FWD");
  if constexpr (sm80_has_tile(op, dt, D, 1)) {
    if (v == 1) return sm80_fwd_variant<T, D, JVP, 1>(a, st);
  }
  if constexpr (sm80_has_tile(op, dt, D, 2)) {
    if (v == 2) return sm80_fwd_variant<T, D, JVP, 2>(a, st);
  }
  if constexpr (sm80_has_tile(op, dt, D, 3)) {
    if (v == 3) return sm80_fwd_variant<T, D, JVP, 3>(a, st);
  }
  if constexpr (sm80_has_tile(op, dt, D, 9)) {
    if (v == 9) return sm80_fwd_variant<T, D, JVP, 9>(a, st);
  }
#endif
  return sm80_fwd_variant<T, D, JVP, 0>(a, st);
}

#endif /* JFA_KERNELS_SM80_FWD_CUH_ */
