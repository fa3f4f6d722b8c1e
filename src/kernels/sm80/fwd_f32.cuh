/*
 * fwd_f32.cuh - the sm80 family's float32 forward and fused forward+JVP on tensor cores
 * (mma.sync m16n8k8 TF32, fp32 accumulation; primitives and fragment layouts in tf32.cuh).
 *
 * The structure is that of the 16-bit kernel (fwd.cuh): a CTA owns BM = 16 * MT * NW query
 * rows of one (batch, head), each warp 16 * MT of them with its O (and U) accumulators and
 * running statistics in registers; K/V (and Kd/Vd) blocks of BN keys stream through a
 * two-stage cp.async pipeline (one barrier per block); the online softmax, the tangent's
 * running-mu reference, the masks (MASKED instantiation: per-row key intervals, dense mask)
 * and the epilogue (accumulate mode for the ring included) are common/softmax.cuh's.
 * Shared rows have a stride of D + 4 floats: ldmatrix (Q, K: each 16-byte row of 4 floats is
 * one 8-column b16 row, so ldmatrix.x4 hands a thread exactly the TF32 A fragment of a 16x8
 * slice, or the B fragments of two 8-key tiles) and the scalar V loads are conflict-free.
 * P V reuses the accumulator of S as its A operand with the key permutation of tf32.cuh
 * (a = c0, c2, c1, c3; V rows 2t and 2t + 1), so P never leaves registers.
 *
 * Precision (PRECISE): 3xTF32 by default (every operand split into a TF32 high part and a
 * TF32 remainder, three products: lo*hi, hi*lo, then hi*hi, float32 accuracy); one TF32
 * product when the context has JFA_FLAG_ALLOW_TF32. Both S = Q K^T (Sd = Qd K^T + Q Kd^T)
 * and O = P V (U = P (Sd - c) V + P Vd) go through the same product. Each product pass is
 * issued over all the independent accumulators of a step (two key or column tiles times the
 * MT slabs) before the next pass (mma_pass), so that consecutive mmas do not wait for each
 * other's accumulator.
 *
 * The split: in registers, right after each fragment load from shared memory (tf32_split;
 * tf32_round only with one product). Q's fragments are split once per (k-step, block) and
 * reused over the BN / 8 key tiles; a K or V fragment is split once per warp and reused over
 * the MT row slabs and the three products. A split pass once per tile in shared memory
 * (hi / lo arrays) would split each element once per CTA instead of once per warp, but needs
 * a third tile per operand in shared memory (the JVP at D = 128 would not fit with BN = 32)
 * and a second barrier per block; the register split keeps the 16-bit kernel's pipeline and
 * its shared-memory budget (tiles.h lists the bytes). The MT = 2 rows amortise it over two
 * slabs where the registers allow. Cost (sm_80/sm_90 code, counted from cubin sizes):
 * cvt.rna.tf32.f32 3 instructions, tf32_split 3 (integer rounding of hi, FADD for lo; 8 with two
 * cvt before f32fast): with MT = 2 a K or V element's split serves 6 mmas; Q's, 12 per slab and
 * k-step, serves 3 BN / 8 mmas. Per warp and block (D = 64, BN = 64, MT = 2): 768 mmas, 384
 * split elements (1152 instructions), 48 ldmatrix and 128 scalar loads, ~460 of softmax
 * (bench/RESULTS.md "f32fast: predictions"). A split pass in shared memory (once per CTA, not
 * per warp) would save about 4% of that at D = 64 and does not fit two CTAs per SM at D = 128.
 *
 * Column slices (NS > 1, the JVP at D > 128), as fwd.cuh: O and U of a full row do not fit in
 * registers, so NS neighbouring CTAs per query block each compute S and Sd over the full D and
 * accumulate O and U for D / NS columns (V, Vd tiles of those columns; slice 0 writes lse and mu;
 * accumulate mode in two launches, slices 1.. first). Shared memory then holds Q and Qd unpadded
 * with XOR-swizzled 16-byte chunks (f32_load_q_swz: ldmatrix stays conflict-free) and Sd's two
 * products accumulate apart (SD2): one CTA of 4 warps per SM at D = 256 (tiles.h has the budget).
 * Head dims that are not a multiple of the instantiated D are zero-filled by the loads and
 * masked at the store. Tiles: tiles.h (dtype JFA_DTYPE_FLOAT32 rows); instantiated per head
 * dim by inst/fwd_f32_d<D>.cu and inst/jvp_f32_d<D>.cu (sm80_fwd_f32_d); family.cu decides
 * when it runs (float32 tensors with 16-byte aligned rows and strides, unit stride on D).
 */
#ifndef JFA_KERNELS_SM80_FWD_F32_CUH_
#define JFA_KERNELS_SM80_FWD_F32_CUH_

#include <limits.h>

#include "kernels/common/softmax.cuh"
#include "kernels/sm80/mma.cuh"
#include "kernels/sm80/sm80.h"
#include "kernels/sm80/tf32.cuh"

/* n registers of float bit patterns (from ldmatrix) split in place into hi / lo. */
template <bool PRECISE, int N>
__device__ __forceinline__ void f32_split_regs(const uint32_t *raw, uint32_t *hi, uint32_t *lo) {
#pragma unroll
  for (int i = 0; i < N; ++i) f32_split<PRECISE>(__uint_as_float(raw[i]), hi[i], lo[i]);
}

/* Product PASS of c += a * b: 0 a_lo b_hi, 1 a_hi b_lo, 2 a_hi b_hi (3xTF32 runs the three, the
   small ones first; one TF32 product only pass 2). The kernel issues each pass over all its
   independent accumulators before the next (mma_3xtf32 chains the three on one accumulator,
   each waiting for the previous one's result). */
template <int PASS>
__device__ __forceinline__ void mma_pass(float *c, const uint32_t *a_hi, const uint32_t *a_lo, const uint32_t *b_hi,
                                         const uint32_t *b_lo) {
  if (PASS == 0) mma_tf32(c, a_lo, b_hi);
  if (PASS == 1) mma_tf32(c, a_hi, b_lo);
  if (PASS == 2) mma_tf32(c, a_hi, b_hi);
}

/* One product pass of S (and Sd = Qd K^T + Q Kd^T) for the key tiles 2 np, 2 np + 1 of every slab. */
template <int PASS, int MT, int NT, bool JVP, bool SD2 = false>
__device__ __forceinline__ void f32_s_pass(float (&s)[MT][NT][4], float (&sd)[JVP ? MT : 1][JVP ? NT : 1][4],
                                           float (&sd2)[SD2 ? MT : 1][SD2 ? NT : 1][4], int np,
                                           uint32_t (&qh)[MT][4], uint32_t (&ql)[MT][4],
                                           uint32_t (&qdh)[JVP ? MT : 1][4],
                                           uint32_t (&qdl)[JVP ? MT : 1][4], const uint32_t *kh,
                                           const uint32_t *kl, const uint32_t *kdh, const uint32_t *kdl) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      mma_pass<PASS>(s[mt][2 * np + e], qh[mt], ql[mt], kh + 2 * e, kl + 2 * e);
      if (JVP) {
        const int jm = JVP ? mt : 0, n = JVP ? 2 * np + e : 0;
        mma_pass<PASS>(sd[jm][n], qdh[jm], qdl[jm], kh + 2 * e, kl + 2 * e);
        if (SD2) mma_pass<PASS>(sd2[SD2 ? jm : 0][SD2 ? n : 0], qh[mt], ql[mt], kdh + 2 * e, kdl + 2 * e);
        else mma_pass<PASS>(sd[jm][n], qh[mt], ql[mt], kdh + 2 * e, kdl + 2 * e);
      }
    }
}

/* One product pass of O += P V (and U += P (Sd - c) V + P Vd) for the column tiles 2 dp, 2 dp + 1. */
template <int PASS, int MT, int DT, bool JVP>
__device__ __forceinline__ void f32_pv_pass(float (&o)[MT][DT][4], float (&u)[JVP ? MT : 1][JVP ? DT : 1][4], int dp,
                                            uint32_t (&ph)[MT][4], uint32_t (&pl)[MT][4],
                                            uint32_t (&pdh)[JVP ? MT : 1][4],
                                            uint32_t (&pdl)[JVP ? MT : 1][4], uint32_t (&vh)[2][2],
                                            uint32_t (&vl)[2][2], uint32_t (&vdh)[JVP ? 2 : 1][2],
                                            uint32_t (&vdl)[JVP ? 2 : 1][2]) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      mma_pass<PASS>(o[mt][2 * dp + e], ph[mt], pl[mt], vh[e], vl[e]);
      if (JVP) {
        const int jm = JVP ? mt : 0, n = JVP ? 2 * dp + e : 0, ev = JVP ? e : 0;
        mma_pass<PASS>(u[jm][n], pdh[jm], pdl[jm], vh[e], vl[e]);
        mma_pass<PASS>(u[jm][n], ph[mt], pl[mt], vdh[ev], vdl[ev]);
      }
    }
}

template <int D, int BN, int NW, int MT, bool JVP, int NS = 1>
struct FwdF32 {
  static constexpr int BM = 16 * MT * NW, DS = D + 4, NT = BN / 8, KS = D / 8;
  static constexpr int NTHREADS = NW * 32;
  /* column slices (NS > 1): DV output columns, V and Vd tiles of row stride DVS (conflict-free
     scalar loads: DVS = 4 mod 16 floats), DT = DV / 8 column tiles */
  static constexpr int DV = D / NS, DVS = DV + 4, DT = DV / 8;
  static_assert(DV * NS == D && DV % 16 == 0, "fwd_f32: column slices of 16-column multiples");
  /* NS > 1: Q (and Qd) unpadded (row stride D) with the 16-byte chunks of row r XOR-swizzled by
     r & 7 (f32_load_q_swz), which keeps ldmatrix conflict-free and saves 16 bytes a row: at
     D = 256 the 2 KiB that make 64 rows fit 227 KiB */
  static constexpr bool QSW = NS > 1;
  static constexpr int QS = QSW ? D : DS;
  static_assert(!QSW || D % 32 == 0, "fwd_f32: the Q swizzle needs rows of 8-chunk multiples");
  /* one pipeline stage: K, V (, Kd, Vd); the offsets of V, Kd, Vd in it (floats) */
  static constexpr int STAGE = (JVP ? 2 : 1) * BN * (DS + DVS), OFF_V = BN * DS, OFF_KD = BN * (DS + DVS),
                       OFF_VD = 2 * BN * DS + BN * DVS;
  static constexpr size_t smem_bytes() {
    return sizeof(float) * ((size_t)(JVP ? 2 : 1) * BM * QS + (size_t)2 * STAGE);
  }
};

/* cp.async a ROWS x D float tile (rows r0.. of slice (b, h)) into shared memory of row stride D,
   the 16-byte chunk c of row r at chunk c ^ (r & 7); zero-fills rows >= n and columns >= Dreal. */
template <int D, int ROWS, int NTHREADS>
__device__ __forceinline__ void f32_load_q_swz(float *dst, const View &v, int64_t b, int64_t h, int64_t r0,
                                               int64_t n, int Dreal) {
  constexpr int CH = D / 4;
  const float *base = (const float *)v.p;
#pragma unroll 4
  for (int idx = threadIdx.x; idx < ROWS * CH; idx += NTHREADS) {
    const int r = idx / CH, c = idx % CH;
    const int64_t row = r0 + r;
    int bytes = 0;
    const float *src = base;
    if (row < n) {
      const int rem = Dreal - c * 4;
      bytes = rem >= 4 ? 16 : (rem > 0 ? rem * 4 : 0);
      if (bytes) src = base + b * v.sb + h * v.sh + row * v.ss + c * 4;
    }
    cp_async16(dst + r * D + ((c ^ (r & 7)) * 4), src, bytes);
  }
}

template <int D, int BN, int NW, int MT, bool JVP, bool MASKED, bool PRECISE, int NS>
__global__ void __launch_bounds__(NW * 32, 1) fwd_f32_kernel(const FwdArgs a) {
  typedef FwdF32<D, BN, NW, MT, JVP, NS> C;
  constexpr int BM = C::BM, DS = C::DS, NT = C::NT, DT = C::DT, KS = C::KS, STAGE = C::STAGE;
  constexpr int NTHREADS = C::NTHREADS, DV = C::DV, DVS = C::DVS, QS = C::QS;
  constexpr bool QSW = C::QSW;
  /* NS > 1: Sd's two products in two accumulators (Qd K^T in sd, Q Kd^T in sd2, added after the
     k-steps): two independent chains where a CTA has one warp per scheduler */
  constexpr bool SD2 = JVP && NS > 1;
  static_assert(BN % 16 == 0 && D % 8 == 0, "fwd_f32: BN a multiple of 16, D of 8");
  extern __shared__ __align__(16) unsigned char smraw[];
  float *Qs = (float *)smraw;
  float *KV = Qs + (JVP ? 2 : 1) * BM * QS;

  const jfa_problem_t &p = a.p;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t4 = lane & 3;
  const int64_t b = blockIdx.z, h = blockIdx.y, hk = h / (p.Hq / p.Hkv);
  /* column slice sl (NS > 1): output columns [c0, c0 + DV); the slices of a query block are neighbours
     in blockIdx.x (a.slice_pass: the grid holds slices 1.. or slice 0 only, see launch_fwd_f32_m) */
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
  /* masked: the rows' key intervals, their union [kbeg, kend) and intersection [kin_lo, kin_hi) */
  int *s_lo = (int *)(KV + 2 * STAGE), *s_hi = s_lo + BM;
  int kin_lo = 0, kin_hi = 0;
  if (MASKED) {
    mask_rows_to_smem(a.mk, m0, BM, NTHREADS, s_lo, s_hi);
    __syncthreads();
    const CtaKeys ck = mask_cta_keys(a.mk, m0, BM, s_lo, s_hi);
    kbeg = ck.kbeg;
    kend = ck.kend;
    kin_lo = ck.kin_lo;
    kin_hi = a.mk.dm_kind ? 0 : ck.kin_hi; /* a dense mask: every block is masked per element */
  }
  const int jb0 = (int)(kbeg / BN), nblk = (int)((kend + BN - 1) / BN);

  if (QSW) {
    f32_load_q_swz<D, BM, NTHREADS>(Qs, a.q, b, h, m0, p.Nq, a.Dreal);
    if (JVP) f32_load_q_swz<D, BM, NTHREADS>(Qs + BM * QS, a.qd, b, h, m0, p.Nq, a.Dreal);
  } else {
    tc_load_tile<float, D, BM, NTHREADS>(Qs, a.q, b, h, m0, p.Nq, a.Dreal);
    if (JVP) tc_load_tile<float, D, BM, NTHREADS>(Qs + BM * DS, a.qd, b, h, m0, p.Nq, a.Dreal);
  }
  if (jb0 < nblk) {
    float *first = KV + (jb0 & 1) * STAGE;
    const int64_t k0 = (int64_t)jb0 * BN;
    tc_load_tile<float, D, BN, NTHREADS>(first, a.k, b, hk, k0, p.Nk, a.Dreal);
    tc_load_tile<float, DV, BN, NTHREADS>(first + C::OFF_V, a.v, b, hk, k0, p.Nk, a.Dreal, c0);
    if (JVP) {
      tc_load_tile<float, D, BN, NTHREADS>(first + C::OFF_KD, a.kd, b, hk, k0, p.Nk, a.Dreal);
      tc_load_tile<float, DV, BN, NTHREADS>(first + C::OFF_VD, a.vd, b, hk, k0, p.Nk, a.Dreal, c0);
    }
  }
  cp_async_commit();

  float o[MT][DT][4];
  float u[JVP ? MT : 1][JVP ? DT : 1][4];
  float mrow[MT][2], lrow[MT][2], nrow[MT][2], crow[JVP ? MT : 1][2];
  fwd_init_state<MT, DT, JVP>(o, u, mrow, lrow, nrow, crow);

  /* 32-bit shared addresses of this lane's ldmatrix rows (bytes): Q's A fragment (rows
     (lane & 7) + 8 ((lane >> 3) & 1), columns 4 (lane >> 4)) and K's B fragments of two
     8-key tiles (keys (lane & 7) + 8 (lane >> 4), columns 4 ((lane >> 3) & 1)) */
  /* swizzled (QSW): the lane's row has r & 7 = lane & 7, so chunk 2 kk + (lane >> 4) lies at
     (2 kk) ^ qx with qx = (lane >> 4) ^ (lane & 7) (2 kk is even) */
  const uint32_t qx = (uint32_t)((lane >> 4) ^ (lane & 7));
  const uint32_t sQ = smem_u32(Qs) + ((wrow + (lane & 7) + ((lane >> 3) & 1) * 8) * QS + (QSW ? 0 : (lane >> 4) * 4)) * 4;
  const uint32_t sQd = sQ + BM * QS * 4;
  const uint32_t k_lane = (((lane & 7) + (lane >> 4) * 8) * DS + ((lane >> 3) & 1) * 4) * 4;
  const uint32_t sKV = smem_u32(KV);
  /* V's B fragment (element offset): b0 = V[2 t4][g], b1 = V[2 t4 + 1][g] of each 8 x 8 tile */
  const int v_lane = 2 * t4 * DVS + g;

  for (int jb = jb0; jb < nblk; ++jb) {
    cp_async_wait<0>();
    __syncthreads();
    if (jb + 1 < nblk) {
      float *nxt = KV + ((jb + 1) & 1) * STAGE;
      const int64_t k0 = (int64_t)(jb + 1) * BN;
      tc_load_tile<float, D, BN, NTHREADS>(nxt, a.k, b, hk, k0, p.Nk, a.Dreal);
      tc_load_tile<float, DV, BN, NTHREADS>(nxt + C::OFF_V, a.v, b, hk, k0, p.Nk, a.Dreal, c0);
      if (JVP) {
        tc_load_tile<float, D, BN, NTHREADS>(nxt + C::OFF_KD, a.kd, b, hk, k0, p.Nk, a.Dreal);
        tc_load_tile<float, DV, BN, NTHREADS>(nxt + C::OFF_VD, a.vd, b, hk, k0, p.Nk, a.Dreal, c0);
      }
    }
    cp_async_commit();

    const int stage = (jb & 1) * STAGE; /* floats */
    const uint32_t sK = sKV + stage * 4 + k_lane;
    const uint32_t sKd = sK + C::OFF_KD * 4;
    const float *Vs = KV + stage + C::OFF_V + v_lane;
    const float *Vds = Vs + (C::OFF_VD - C::OFF_V);

    /* a boolean dense mask's bits: this warp's rows' words of the block, loaded before the
       products that hide their latency (as fwd.cuh's; the sixteenth session's H200 call 3 measured
       no change from loading them after the products: 17.30 -> 17.16 ms at D = 64, N = 4096, the
       masked forward still at half the unmasked kernel's rate for another reason) */
    uint64_t dw[MT][2][NT > 8 ? NT / 8 : 1];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        if (MASKED && a.mk.bm_bits)
          mask_row_words(a.mk, b, h, m0 + wrow + mt * 16 + g + rr * 8, (int64_t)jb * BN, dw[mt][rr]);
        else
#pragma unroll
          for (int w = 0; w < (NT > 8 ? NT / 8 : 1); ++w) dw[mt][rr][w] = 0;
      }

    /* S = Q K^T (and Sd = Qd K^T + Q Kd^T) */
    float s[MT][NT][4];
    float sd[JVP ? MT : 1][JVP ? NT : 1][4];
    float sd2[SD2 ? MT : 1][SD2 ? NT : 1][4];
#pragma unroll
    for (int mt = 0; mt < MT; ++mt)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[mt][nt][e] = 0.f;
          if (JVP) sd[JVP ? mt : 0][JVP ? nt : 0][e] = 0.f;
          if (SD2) sd2[SD2 ? mt : 0][SD2 ? nt : 0][e] = 0.f;
        }
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) {
      uint32_t qh[MT][4], ql[MT][4], qdh[JVP ? MT : 1][4], qdl[JVP ? MT : 1][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        const uint32_t off = QSW ? (uint32_t)(mt * 16 * QS + (2 * kk & ~7) * 4) * 4 + (((2 * kk) & 7) ^ qx) * 16
                                 : (uint32_t)(mt * 16 * DS + kk * 8) * 4;
        uint32_t raw[4];
        ldsm_x4_a(raw, sQ + off);
        f32_split_regs<PRECISE, 4>(raw, qh[mt], ql[mt]);
        if (JVP) {
          ldsm_x4_a(raw, sQd + off);
          f32_split_regs<PRECISE, 4>(raw, qdh[JVP ? mt : 0], qdl[JVP ? mt : 0]);
        }
      }
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        const uint32_t koff = (np * 16 * DS + kk * 8) * 4;
        uint32_t raw[4], kh[4], kl[4], kdh[JVP ? 4 : 1], kdl[JVP ? 4 : 1];
        ldsm_x4_a(raw, sK + koff);
        f32_split_regs<PRECISE, 4>(raw, kh, kl);
        if (JVP) {
          ldsm_x4_a(raw, sKd + koff);
          f32_split_regs<PRECISE, JVP ? 4 : 1>(raw, kdh, kdl);
        }
        f32_s_pass<PRECISE ? 0 : 2, MT, NT, JVP, SD2>(s, sd, sd2, np, qh, ql, qdh, qdl, kh, kl, kdh, kdl);
        if (PRECISE) {
          f32_s_pass<1, MT, NT, JVP, SD2>(s, sd, sd2, np, qh, ql, qdh, qdl, kh, kl, kdh, kdl);
          f32_s_pass<2, MT, NT, JVP, SD2>(s, sd, sd2, np, qh, ql, qdh, qdl, kh, kl, kdh, kdl);
        }
      }
    }
    if (SD2)
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e)
            sd[JVP ? mt : 0][JVP ? nt : 0][e] += sd2[SD2 ? mt : 0][SD2 ? nt : 0][e];

    /* mask, online softmax: a dense mask applies per element in every block (its block map is
       not read here; dw was loaded before the products) */
    BlockMask bm = fwd_block_mask<BN, MASKED>(a, m0, (int64_t)jb * BN, kin_lo, kin_hi);
    if (MASKED && a.mk.dm_kind) bm.dense = true;
    fwd_softmax_block<MT, NT, DT, JVP, MASKED, false, false, 0, false, false, true>(a, bm, b, h, m0, wrow, g, t4, s_lo,
                                                                                   s_hi, s, sd, o, u, mrow, lrow, nrow,
                                                                                   crow, dw);

    /* O += P V;  U += (P (Sd - c)) V + P Vd: one 8-key tile j per step */
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      uint32_t ph[MT][4], pl[MT][4], pdh[JVP ? MT : 1][4], pdl[JVP ? MT : 1][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        f32_acc_as_a<PRECISE>(s[mt][j], ph[mt], pl[mt]);
        if (JVP) f32_acc_as_a<PRECISE>(sd[JVP ? mt : 0][JVP ? j : 0], pdh[JVP ? mt : 0], pdl[JVP ? mt : 0]);
      }
#pragma unroll
      for (int dp = 0; dp < DT / 2; ++dp) {
        /* two 8-column tiles of V (and Vd) per step: 2 MT (4 MT) independent accumulators per pass */
        uint32_t vh[2][2], vl[2][2], vdh[JVP ? 2 : 1][2], vdl[JVP ? 2 : 1][2];
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const int voff = j * 8 * DVS + (2 * dp + e) * 8;
          f32_split<PRECISE>(Vs[voff], vh[e][0], vl[e][0]);
          f32_split<PRECISE>(Vs[voff + DVS], vh[e][1], vl[e][1]);
          if (JVP) {
            f32_split<PRECISE>(Vds[voff], vdh[JVP ? e : 0][0], vdl[JVP ? e : 0][0]);
            f32_split<PRECISE>(Vds[voff + DVS], vdh[JVP ? e : 0][1], vdl[JVP ? e : 0][1]);
          }
        }
        f32_pv_pass<PRECISE ? 0 : 2, MT, DT, JVP>(o, u, dp, ph, pl, pdh, pdl, vh, vl, vdh, vdl);
        if (PRECISE) {
          f32_pv_pass<1, MT, DT, JVP>(o, u, dp, ph, pl, pdh, pdl, vh, vl, vdh, vdl);
          f32_pv_pass<2, MT, DT, JVP>(o, u, dp, ph, pl, pdh, pdl, vh, vl, vdh, vdl);
        }
      }
    }
  }
  cp_async_wait<0>();

  /* every slice has the same statistics; slice 0 writes lse and mu */
  fwd_epilogue<float, MT, DT, JVP>(a, b, h, m0 + wrow, g, t4, o, u, mrow, lrow, nrow, crow, c0, sl == 0);
}

template <int D, int BN, int NW, int MT, bool JVP, bool MASKED, bool PRECISE, int NS>
static jfa_status_t launch_fwd_f32_m(const FwdArgs &a, cudaStream_t st) {
  typedef FwdF32<D, BN, NW, MT, JVP, NS> C;
  auto kern = fwd_f32_kernel<D, BN, NW, MT, JVP, MASKED, PRECISE, NS>;
  const size_t smem = C::smem_bytes() + (MASKED ? 2 * C::BM * sizeof(int) : 0);
  JFA_CHECK(smem_optin(kern, smem));
  const unsigned nqb = (unsigned)((a.p.Nq + C::BM - 1) / C::BM);
  if (NS > 1 && a.accumulate) {
    /* accumulate mode: every slice merges with the lse (and mu) already there, which slice 0
       rewrites; so slices 1.. run first, slice 0 in a second launch (stream order; fwd.cuh) */
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

/* The float32 forward / JVP at head dim D in one precision, tuning variant V: the tiles.h row of
   the call's mask class. */
template <int D, bool JVP, bool PRECISE, int V>
static jfa_status_t sm80_fwd_f32_p(const FwdArgs &a, cudaStream_t st) {
  constexpr int op = JVP ? OP_JVP : OP_FWD;
  constexpr Sm80Tile c = sm80_tile(op, JFA_DTYPE_FLOAT32, D, MASK_CLASS_CAUSAL, V);
  constexpr Sm80Tile m = sm80_tile(op, JFA_DTYPE_FLOAT32, D, MASK_CLASS_ANY, V);
  static_assert(c.D == D && m.D == D && c.dtype == JFA_DTYPE_FLOAT32 && m.dtype == JFA_DTYPE_FLOAT32,
                "no sm80 float32 forward / JVP tiles for this head dim");
  static_assert(FwdF32<D, c.BN, c.NW, c.MT, JVP, c.NS>::smem_bytes() == sm80_f32_fwd_smem_bytes(c, false) &&
                    FwdF32<D, m.BN, m.NW, m.MT, JVP, m.NS>::smem_bytes() + 2 * 16 * m.MT * m.NW * sizeof(int) ==
                        sm80_f32_fwd_smem_bytes(m, true),
                "tiles.h sm80_f32_fwd_smem_bytes and FwdF32::smem_bytes disagree");
  if (!a.masked) return launch_fwd_f32_m<D, c.BN, c.NW, c.MT, JVP, false, PRECISE, c.NS>(a, st);
  return launch_fwd_f32_m<D, m.BN, m.NW, m.MT, JVP, true, PRECISE, m.NS>(a, st);
}

template <int D, bool JVP>
jfa_status_t sm80_fwd_f32_d(const FwdArgs &a, bool tf32, cudaStream_t st) {
#ifdef JFA_TUNING
  /* JFA_TUNE_FWD / JFA_TUNE_JVP=1: the float32 rows of variant 1 (tiles.h), where D has one */
  if constexpr (sm80_has_tile(JVP ? OP_JVP : OP_FWD, JFA_DTYPE_FLOAT32, D, 1)) {
    if (tune_variant(JVP ? "JFA_TUNE_JVP" : "JFA_TUNE_FWD") == 1) {
      if (tf32) return sm80_fwd_f32_p<D, JVP, false, 1>(a, st);
      return sm80_fwd_f32_p<D, JVP, true, 1>(a, st);
    }
  }
#endif
  if (tf32) return sm80_fwd_f32_p<D, JVP, false, 0>(a, st);
  return sm80_fwd_f32_p<D, JVP, true, 0>(a, st);
}

#endif /* JFA_KERNELS_SM80_FWD_F32_CUH_ */
