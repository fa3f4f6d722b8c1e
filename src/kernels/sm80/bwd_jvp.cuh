/*
 * bwd_jvp.cuh - the sm80 family's (mma.sync m16n8k16) backward-JVP kernel of jfa (second
 * order, jfa_attention_backward_jvp), bf16 and fp16 with fp32 accumulation, in the style of
 * bwd.cuh. Tiles: rows OP_BWD_JVP of tiles.h; instantiated per head dim by
 * inst/bwd_jvp_d<D>.cu; family_bwd_jvp.cu decides when it runs.
 *
 * A CTA owns BN = 16 * NW keys of one (batch, kv head); each warp owns 16 of them. The CTA loops
 * over the query heads of its GQA group and over query blocks of BM rows (Q, Qd, dO, dOd and the
 * row statistics lse, mu, delta, deltad double-buffered through cp.async). Per block, transposed
 * (keys x queries) as in bwd.cuh, with s the scale:
 *   S^T = K Q^T, Sd^T = Kd Q^T + K Qd^T, dP^T = V dO^T, dPd^T = Vd dO^T + V dOd^T,
 *   P = exp(s S - lse), Pd = P (s Sd - mu), dS = P (dP - delta), dSd = Pd (dP - delta) + P (dPd - deltad),
 *   dVd += Pd^T dO + P^T dOd, dKd += dSd^T Q + dS^T Qd   (registers; scaled by s at the end)
 *   [dV += P^T dO, dK += dS^T Q]                          (the KV instantiation)
 * dS and dSd go through shared memory (double-buffered, one barrier per block as bwd.cuh) and
 * dQd += dSd K + dS Kd [dQ += dS K] are added with fp32 atomics into contiguous workspaces,
 * scaled afterwards; deterministic mode skips them (the caller takes dQd and dQ from the SIMT
 * kernel). Masked elements (causal, windows, packed sequences, a dense -inf) give P = Pd = dS =
 * dSd = 0 exactly; rows with lse = -inf contribute nothing; NaN inputs of a visible element
 * propagate (p_cap1 keeps NaN).
 *
 * The split (register pressure). Each key-side accumulator holds 16 keys x D fp32 per warp, D / 2
 * registers per thread: dK, dV, dKd, dVd together are 2 D, 256 at D = 128, past the 255 of a
 * thread before the four score tiles (2 BM registers) are counted. So:
 *   D <= 64  one kernel does everything (the KV instantiation, when dK, dV are asked);
 *   D = 96, 128  this kernel keeps dKd, dVd only (and still adds dQ: dS is in shared memory
 *            anyway), and dK, dV come from the backward kernel (bwd.cuh, its dQ skipped).
 * Arithmetic, in units of one 16 x BM x D product per warp and block: the backward does 5
 * (S, dP, dV, dK, dQ); this kernel 12 (S 1, Sd 2, dP 1, dPd 2, dVd 2, dKd 2, dQd 2) = 2.4x the
 * backward, 15 = 3.0x with the first order fused; the split at D >= 96 costs 12 + 1 (dQ) + 4
 * (backward kernel without its dQ: S, dP, dV, dK) = 17 = 3.4x, 13% more than fused, instead of
 * spilling. (Splitting into a dV/dVd kernel and a dK/dKd/dQ/dQd kernel instead would recompute
 * S and Sd: 18.)
 * Tiles (tiles.h): 8 warps (128 keys per CTA, so that the Q-side tiles serve 128 keys and the
 * dQd/dQ atomics are half those of 64-key blocks), BM = 32 at D <= 64 and 16 at D = 96, 128
 * (registers: 240-255 per thread without spills; shared memory 146-192 KiB, one CTA per SM); a
 * device whose opt-in shared memory is smaller (sm_80 at D = 128) goes to the simt family.
 */
#ifndef JFA_KERNELS_SM80_BWD_JVP_CUH_
#define JFA_KERNELS_SM80_BWD_JVP_CUH_

#include "kernels/sm80/bwd.cuh" /* atomic_add2, and fwd.cuh's tc_load_tile */
#include "kernels/sm80/bwd_jvp.h"

template <typename T, int D, int NW, int BM>
struct BwdJvpTC {
  static constexpr int BN = 16 * NW, DS = D + 8, BNS = BN + 8, NQ = BM / 8, DT = D / 8, KS = D / 16;
  static constexpr int NTHREADS = NW * 32;
  static_assert(sizeof(T) == 2, "16-bit elements");
  static constexpr size_t smem_bytes(bool masked) { return sm80_bwd_jvp_smem(D, NW, BM, masked); }
};

template <typename T, int D, int NW, int BM, bool KV, bool MASKED>
__global__ void __launch_bounds__(NW * 32) bwd_jvp_tc_kernel(const BwdJvpArgs a) {
  typedef BwdJvpTC<T, D, NW, BM> C;
  constexpr int BN = C::BN, DS = C::DS, BNS = C::BNS, NQ = C::NQ, DT = C::DT, KS = C::KS, NTHREADS = C::NTHREADS;
  static_assert(BM % 16 == 0 && D % 16 == 0, "bad backward-JVP tiles");
  extern __shared__ __align__(16) unsigned char smraw[];
  T *Ks = (T *)smraw;
  T *Kds = Ks + BN * DS;
  T *Vs = Kds + BN * DS;
  T *Vds = Vs + BN * DS;
  T *Qs = Vds + BN * DS;      /* [2][BM][DS] */
  T *Qds = Qs + 2 * BM * DS;  /* [2][BM][DS] */
  T *dOs = Qds + 2 * BM * DS; /* [2][BM][DS] */
  T *dOds = dOs + 2 * BM * DS;
  T *dSs = dOds + 2 * BM * DS; /* [2][BM][BNS] */
  T *dSds = dSs + 2 * BM * BNS;
  float *lse_s = (float *)(dSds + 2 * BM * BNS); /* [2][BM], log2 units, +inf = no contribution */
  float *mu_s = lse_s + 2 * BM;
  float *del_s = mu_s + 2 * BM;
  float *deld_s = del_s + 2 * BM;
  int *klo_s = (int *)(deld_s + 2 * BM); /* [2][BM] key intervals of the rows (masked only) */
  int *khi_s = klo_s + 2 * BM;

  const jfa_problem_t &p = a.p;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, t4 = lane & 3;
  const int64_t b = blockIdx.z, hk = blockIdx.y, grp = p.Hq / p.Hkv;
  const int64_t n0 = (int64_t)blockIdx.x * BN;
  const int wk = warp * 16;
  const bool dq_on = a.dqd_ws != nullptr, want_dq = a.dq_ws != nullptr;

  const BwdQueryBlocks qbs = bwd_query_blocks<BM, BN, MASKED>(p, a.mk, n0);
  const int64_t qb_start = qbs.qb_start, nqb = qbs.nqb, per_head = qbs.per_head;
  const int64_t total = per_head * grp;

  tc_load_tile<T, D, BN, NTHREADS>(Ks, a.k, b, hk, n0, p.Nk, a.Dreal);
  tc_load_tile<T, D, BN, NTHREADS>(Kds, a.kd, b, hk, n0, p.Nk, a.Dreal);
  tc_load_tile<T, D, BN, NTHREADS>(Vs, a.v, b, hk, n0, p.Nk, a.Dreal);
  tc_load_tile<T, D, BN, NTHREADS>(Vds, a.vd, b, hk, n0, p.Nk, a.Dreal);

  auto prefetch = [&](int64_t h, int64_t q0, int buf) {
    tc_load_tile<T, D, BM, NTHREADS>(Qs + buf * BM * DS, a.q, b, h, q0, p.Nq, a.Dreal);
    tc_load_tile<T, D, BM, NTHREADS>(Qds + buf * BM * DS, a.qd, b, h, q0, p.Nq, a.Dreal);
    tc_load_tile<T, D, BM, NTHREADS>(dOs + buf * BM * DS, a.dout, b, h, q0, p.Nq, a.Dreal);
    tc_load_tile<T, D, BM, NTHREADS>(dOds + buf * BM * DS, a.doutd, b, h, q0, p.Nq, a.Dreal);
    for (int r = threadIdx.x; r < BM; r += NTHREADS) {
      const int64_t i = q0 + r;
      const float4 rs = bwd_jvp_row_stats(a, b, h, i, p.Nq);
      const float l = rs.x, m = rs.y, dl = rs.z, dld = rs.w;
      lse_s[buf * BM + r] = l;
      mu_s[buf * BM + r] = m;
      del_s[buf * BM + r] = dl;
      deld_s[buf * BM + r] = dld;
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

  float dkd[DT][4], dvd[DT][4];
  float dk[KV ? DT : 1][4], dv[KV ? DT : 1][4];
#pragma unroll
  for (int dt = 0; dt < DT; ++dt)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      dkd[dt][e] = dvd[dt][e] = 0.f;
      if constexpr (KV) dk[dt][e] = dv[dt][e] = 0.f;
    }
  constexpr int ES = (int)sizeof(T);
  const uint32_t a_lane = ((wk + (lane & 15)) * DS + (lane >> 4) * 8) * ES;                      /* A, key rows */
  const uint32_t b_lane = (((lane & 7) + ((lane >> 4) << 3)) * DS + ((lane >> 3) & 1) * 8) * ES; /* B, non-trans */
  const uint32_t t_lane = (((lane & 7) + ((lane >> 3) & 1) * 8) * DS + (lane >> 4) * 8) * ES;    /* B, trans */
  const uint32_t sK = smem_u32(Ks), sKd = smem_u32(Kds), sV = smem_u32(Vs), sVd = smem_u32(Vds);
  const uint32_t sQ = smem_u32(Qs), sQd = smem_u32(Qds), sO = smem_u32(dOs), sOd = smem_u32(dOds);
  const uint32_t a_ds = ((lane & 15) * BNS + (lane >> 4) * 8) * ES; /* A frags of dS, dSd ([query][key]) */
  const uint32_t sdS = smem_u32(dSs) + a_ds, sdSd = smem_u32(dSds) + a_ds;

  /* dQd[BM x D] += dSd K + dS Kd (and dQ += dS K) for the tiles in buffer dbuf (query block q0
     of head h): warp -> (16-row m-tile, every SPLIT-th 16-column slice of D) */
  auto dq_step = [&](int dbuf, int64_t h, int64_t q0) {
    constexpr int MTILES = BM / 16, SPLIT = NW / MTILES;
    static_assert(NW % MTILES == 0, "bad dQ split");
    const int mt = warp % MTILES, sl = warp / MTILES;
    const uint32_t aoff = (dbuf * BM * BNS + mt * 16 * BNS) * ES;
    const int64_t i_a = q0 + mt * 16 + g, i_b = i_a + 8;
    const int64_t rowoff = ((b * p.Hq + h) * p.Nq + i_a) * a.Dws;
    for (int np = sl; np < D / 16; np += SPLIT) {
      float acd[2][4], acq[2][4];
#pragma unroll
      for (int e = 0; e < 4; ++e) acd[0][e] = acd[1][e] = acq[0][e] = acq[1][e] = 0.f;
#pragma unroll
      for (int kk = 0; kk < BN / 16; ++kk) {
        uint32_t as[4], asd[4], bk[4], bkd[4];
        ldsm_x4_a(as, sdS + aoff + kk * 16 * ES);
        ldsm_x4_a(asd, sdSd + aoff + kk * 16 * ES);
        const uint32_t off = t_lane + (kk * 16 * DS + np * 16) * ES;
        ldsm_x4_t_a(bk, sK + off);
        ldsm_x4_t_a(bkd, sKd + off);
        mma16816<T>(acd[0], asd, bk);
        mma16816<T>(acd[1], asd, bk + 2);
        mma16816<T>(acd[0], as, bkd);
        mma16816<T>(acd[1], as, bkd + 2);
        if (want_dq) {
          mma16816<T>(acq[0], as, bk);
          mma16816<T>(acq[1], as, bk + 2);
        }
      }
#pragma unroll
      for (int w2 = 0; w2 < 2; ++w2) {
        if (w2 == 1 && !want_dq) break;
        float *rowa = (w2 ? a.dq_ws : a.dqd_ws) + rowoff, *rowb = rowa + 8 * a.Dws;
        float(*acc)[4] = w2 ? acq : acd;
#pragma unroll
        for (int half = 0; half < 2; ++half) {
          const int d = np * 16 + half * 8 + 2 * t4; /* even; Dws is a multiple of 8 */
          if (d + 1 < a.Dreal) {
            if (i_a < p.Nq) atomic_add2(rowa + d, acc[half][0], acc[half][1]);
            if (i_b < p.Nq) atomic_add2(rowb + d, acc[half][2], acc[half][3]);
          } else if (d < a.Dreal) {
            if (i_a < p.Nq) atomicAdd(rowa + d, acc[half][0]);
            if (i_b < p.Nq) atomicAdd(rowb + d, acc[half][2]);
          }
        }
      }
    }
  };

  int64_t h_prev = 0, q0_prev = 0; /* the block whose dS, dSd wait for their dQ */
  for (int64_t it = 0; it < total; ++it) {
    const int buf = (int)(it & 1);
    cp_async_wait<0>();
    __syncthreads();
    const int64_t h = h_cur, q0 = qb_cur * BM;
    if (++qb_cur == nqb) {
      qb_cur = qb_start;
      ++h_cur;
    }
    if (it + 1 < total) prefetch(h_cur, qb_cur * BM, buf ^ 1);
    cp_async_commit();
    if (dq_on && it > 0) dq_step(buf ^ 1, h_prev, q0_prev);
    const uint32_t bo_ = buf * BM * DS * ES;
    const float *lb = lse_s + buf * BM, *mb = mu_s + buf * BM, *db = del_s + buf * BM, *ddb = deld_s + buf * BM;

    /* S^T, Sd^T, then dP^T, dPd^T: 16 keys x BM queries per warp */
    float st[NQ][4], sdt[NQ][4], dpt[NQ][4], dpdt[NQ][4];
#pragma unroll
    for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[nt][e] = sdt[nt][e] = dpt[nt][e] = dpdt[nt][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) {
      uint32_t ak[4], akd[4];
      ldsm_x4_a(ak, sK + a_lane + kk * 16 * ES);
      ldsm_x4_a(akd, sKd + a_lane + kk * 16 * ES);
#pragma unroll
      for (int np = 0; np < NQ / 2; ++np) {
        const uint32_t off = bo_ + b_lane + (np * 16 * DS + kk * 16) * ES;
        uint32_t bq[4], bqd[4];
        ldsm_x4_a(bq, sQ + off);
        ldsm_x4_a(bqd, sQd + off);
        mma16816<T>(st[2 * np], ak, bq);
        mma16816<T>(st[2 * np + 1], ak, bq + 2);
        mma16816<T>(sdt[2 * np], akd, bq);
        mma16816<T>(sdt[2 * np + 1], akd, bq + 2);
        mma16816<T>(sdt[2 * np], ak, bqd);
        mma16816<T>(sdt[2 * np + 1], ak, bqd + 2);
      }
    }
#pragma unroll
    for (int kk = 0; kk < KS; ++kk) {
      uint32_t av[4], avd[4];
      ldsm_x4_a(av, sV + a_lane + kk * 16 * ES);
      ldsm_x4_a(avd, sVd + a_lane + kk * 16 * ES);
#pragma unroll
      for (int np = 0; np < NQ / 2; ++np) {
        const uint32_t off = bo_ + b_lane + (np * 16 * DS + kk * 16) * ES;
        uint32_t bo[4], bod[4];
        ldsm_x4_a(bo, sO + off);
        ldsm_x4_a(bod, sOd + off);
        mma16816<T>(dpt[2 * np], av, bo);
        mma16816<T>(dpt[2 * np + 1], av, bo + 2);
        mma16816<T>(dpdt[2 * np], avd, bo);
        mma16816<T>(dpdt[2 * np + 1], avd, bo + 2);
        mma16816<T>(dpdt[2 * np], av, bod);
        mma16816<T>(dpdt[2 * np + 1], av, bod + 2);
      }
    }

    /* P, Pd, dS, dSd in place (st, sdt, dpt, dpdt); masked elements exactly 0 */
    const bool need_mask = MASKED || n0 + BN > p.Nk || (p.causal && p.k_pos0 + n0 + BN - 1 > p.q_pos0 + q0);
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
        float pv = p_cap1(exp2f(st[nt][e] * a.scale_log2 - lb[qi]));
        bool vis = true;
        if (need_mask) {
          const int kl = wk + g + (e >> 1) * 8;
          if (!MASKED) {
            vis = kl < klim && kl - qi <= cdiff;
          } else {
            const int kj = (int)n0 + kl;
            if (kj < klo_s[buf * BM + qi] || kj >= khi_s[buf * BM + qi]) {
              vis = false;
            } else if (a.mk.dm_kind) {
              const float bias = mask_dense(a.mk, b, h, q0 + qi, kj);
              vis = bias != -INFINITY;
              pv = p_cap1(exp2f(st[nt][e] * a.scale_log2 + bias * 1.4426950408889634f - lb[qi]));
            }
          }
        }
        const float pd = pv * (sdt[nt][e] * a.scale - mb[qi]);
        const float dp = dpt[nt][e] - db[qi];
        const float ds = pv * dp, dsd = pd * dp + pv * (dpdt[nt][e] - ddb[qi]);
        st[nt][e] = vis ? pv : 0.f;
        sdt[nt][e] = vis ? pd : 0.f;
        dpt[nt][e] = vis ? ds : 0.f;
        dpdt[nt][e] = vis ? dsd : 0.f;
      }

    if (dq_on) {
      /* dS, dSd -> smem buffer buf as [query][key]; their dQ is added in the next iteration */
      T *dSb = dSs + buf * BM * BNS, *dSdb = dSds + buf * BM * BNS;
#pragma unroll
      for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int qi = nt * 8 + 2 * t4 + (e & 1), kr = wk + g + (e >> 1) * 8;
          dSb[qi * BNS + kr] = from_f<T>(dpt[nt][e]);
          dSdb[qi * BNS + kr] = from_f<T>(dpdt[nt][e]);
        }
      h_prev = h;
      q0_prev = q0;
    }

    /* dVd += Pd^T dO + P^T dOd, dKd += dSd^T Q + dS^T Qd [dV += P^T dO, dK += dS^T Q] */
#pragma unroll
    for (int kk = 0; kk < BM / 16; ++kk) {
      uint32_t ap[4], apd[4], as[4], asd[4];
#define BJ_PACK(dst, src)                                          \
  dst[0] = pack2<T>(src[2 * kk][0], src[2 * kk][1]);               \
  dst[1] = pack2<T>(src[2 * kk][2], src[2 * kk][3]);               \
  dst[2] = pack2<T>(src[2 * kk + 1][0], src[2 * kk + 1][1]);       \
  dst[3] = pack2<T>(src[2 * kk + 1][2], src[2 * kk + 1][3]);
      BJ_PACK(ap, st)
      BJ_PACK(apd, sdt)
      BJ_PACK(as, dpt)
      BJ_PACK(asd, dpdt)
#undef BJ_PACK
#pragma unroll
      for (int np = 0; np < D / 16; ++np) {
        const uint32_t off = bo_ + t_lane + (kk * 16 * DS + np * 16) * ES;
        uint32_t b0[4], b1[4];
        ldsm_x4_t_a(b0, sO + off);
        ldsm_x4_t_a(b1, sOd + off);
        mma16816<T>(dvd[2 * np], apd, b0);
        mma16816<T>(dvd[2 * np + 1], apd, b0 + 2);
        mma16816<T>(dvd[2 * np], ap, b1);
        mma16816<T>(dvd[2 * np + 1], ap, b1 + 2);
        if constexpr (KV) {
          mma16816<T>(dv[2 * np], ap, b0);
          mma16816<T>(dv[2 * np + 1], ap, b0 + 2);
        }
        ldsm_x4_t_a(b0, sQ + off);
        ldsm_x4_t_a(b1, sQd + off);
        mma16816<T>(dkd[2 * np], asd, b0);
        mma16816<T>(dkd[2 * np + 1], asd, b0 + 2);
        mma16816<T>(dkd[2 * np], as, b1);
        mma16816<T>(dkd[2 * np + 1], as, b1 + 2);
        if constexpr (KV) {
          mma16816<T>(dk[2 * np], as, b0);
          mma16816<T>(dk[2 * np + 1], as, b0 + 2);
        }
      }
    }
  }
  cp_async_wait<0>();
  if (dq_on && total > 0) {
    __syncthreads();
    dq_step((int)((total - 1) & 1), h_prev, q0_prev);
  }

  /* store dKd, dK (scaled), dVd, dV */
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const int64_t j = n0 + wk + g + rr * 8;
    if (j >= p.Nk) continue;
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int d = dt * 8 + 2 * t4 + e;
        if (d >= a.Dreal) continue;
        store_or_add<T>(a.dkd, b, hk, j, d, dkd[dt][rr * 2 + e] * a.scale, a.accumulate);
        store_or_add<T>(a.dvd, b, hk, j, d, dvd[dt][rr * 2 + e], a.accumulate);
        if constexpr (KV) {
          store_or_add<T>(a.dk, b, hk, j, d, dk[dt][rr * 2 + e] * a.scale, a.accumulate);
          store_or_add<T>(a.dv, b, hk, j, d, dv[dt][rr * 2 + e], a.accumulate);
        }
      }
  }
}

template <typename T, int D, int NW, int BM, bool KV, bool MASKED>
static jfa_status_t launch_bwd_jvp_tc(const BwdJvpArgs &a, cudaStream_t st) {
  typedef BwdJvpTC<T, D, NW, BM> C;
  auto kern = bwd_jvp_tc_kernel<T, D, NW, BM, KV, MASKED>;
  const size_t smem = C::smem_bytes(MASKED);
  JFA_CHECK(smem_optin(kern, smem));
  dim3 grid((unsigned)((a.p.Nk + C::BN - 1) / C::BN), (unsigned)a.p.Hkv, (unsigned)a.p.B);
  kern<<<grid, C::NTHREADS, smem, st>>>(a);
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* Tuning variant V (tiles.h) at head dim D, with or without dK, dV (KV). */
template <typename T, int D, bool KV, int V>
static jfa_status_t sm80_bwd_jvp_kv(const BwdJvpArgs &a, cudaStream_t st) {
  constexpr Sm80Tile c = sm80_tile(OP_BWD_JVP, DtypeOf<T>::value, D, MASK_CLASS_CAUSAL, V);
  constexpr Sm80Tile m = sm80_tile(OP_BWD_JVP, DtypeOf<T>::value, D, MASK_CLASS_ANY, V);
  static_assert(c.D == D && m.D == D, "no sm80 backward-JVP tiles for this head dim");
  if (!a.masked) return launch_bwd_jvp_tc<T, D, c.NW, c.BM, KV, false>(a, st);
  return launch_bwd_jvp_tc<T, D, m.NW, m.BM, KV, true>(a, st);
}

template <typename T, int D, int V>
static jfa_status_t sm80_bwd_jvp_variant(const BwdJvpArgs &a, bool kv, cudaStream_t st) {
  if constexpr (sm80_bwd_jvp_fuses_kv(D)) {
    if (kv) return sm80_bwd_jvp_kv<T, D, true, V>(a, st);
  }
  return sm80_bwd_jvp_kv<T, D, false, V>(a, st);
}

template <typename T, int D>
jfa_status_t sm80_bwd_jvp_d(const BwdJvpArgs &a, bool kv, cudaStream_t st) {
#ifdef JFA_TUNING
  if constexpr (sm80_has_tile(OP_BWD_JVP, DtypeOf<T>::value, D, 1)) {
    if (tune_variant("JFA_TUNE_BWD_JVP") == 1) return sm80_bwd_jvp_variant<T, D, 1>(a, kv, st);
  }
#endif
  return sm80_bwd_jvp_variant<T, D, 0>(a, kv, st);
}

#endif /* JFA_KERNELS_SM80_BWD_JVP_CUH_ */
