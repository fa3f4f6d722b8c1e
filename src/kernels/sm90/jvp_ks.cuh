/*
 * jvp_ks.cuh - the key split of the sm90 fused forward+JVP at D = 192 (tiles.h KS rows; bf16 / fp16, unmasked and
 * causal calls and bands), since the thirty-ninth session. Included by fwd.cuh before its kernel, whose consumers
 * run ks_consumer where the row has KS (the producer, the rows' keys, the epilogue are fwd.cuh's).
 *
 * Why: at D = 192, O and U of 64 rows take 192 registers a thread, so a consumer warpgroup cannot own its rows'
 * whole outputs; the column split (CS, CSE) has both consumers on the same 64 rows, each with 96 columns of O and U,
 * and each computes S = Q K^T and Sd = Qd K^T + Q Kd^T over all of the block's keys: 9 units of tensor work a block
 * (4.5 a consumer) for 6 useful. Here consumer c computes S and Sd for keys [32 c, 32 c + 32) of each block of 64
 * (1.5 units) and P V, P (Sd - c) V, P Vd for its 96 columns over all 64 keys (1.5 units): 6 units for 6.
 *
 * How (per block i; both consumers in step, as they must swap data every block):
 * - S(i) and Sd(i) of this consumer's 32 keys landed (issued in block i - 1); the K(i) stage and the V(i - 1)
 *   stage are released; S(i + 1), Sd(i + 1) issued into the second pair of accumulators, so that the tensor
 *   cores run them during this block's softmax.
 * - the softmax (ks_softmax: common/softmax.cuh's fwd_softmax_block in its FAST, non-LEAN form, the same
 *   arithmetic): each warp's 16 rows' maxima over its 32 keys go to shared memory (xm), and after a barrier of the
 *   two warps that hold the same rows (64 threads, one named barrier per warp pair) both take the maximum of the
 *   two, so alpha and the probabilities are identical to those of one consumer that saw all 64 keys. The tangent's
 *   reference c moves where a row of the warp pair's maximum rose (the same vote in both warps: the same rows, the
 *   same maxima): then the two halves' l and nu go through shared memory (xs) and a second pair barrier, and both
 *   take c = (nu0 + nu1) / (l0 + l1), bitwise the same (a + b = b + a). l and nu stay per half until the epilogue.
 * - P and P (Sd - c) (16-bit) of this consumer's keys into the block's exchange buffers (64 rows x 64 keys each, the
 *   128-byte swizzle of a K-major wgmma A operand, double-buffered by block parity), fence.proxy.async, a named
 *   barrier of both consumers (256 threads).
 * - P V (i): this consumer's two k16 steps of keys with A from registers (RS), the other's two from the exchange
 *   buffer (SS), each as the even split's wgmma pieces of 64 + 32 columns (fwd.cuh mma_pv, CSE).
 * - The epilogue: the halves' l and nu summed through xs (the totals on lane t4 = 0 of each quad, zero on the others,
 *   so that fwd_epilogue's quad sums give them exactly), then fwd.cuh's CSE epilogue.
 * Buffer reuse: xm and xs are single (a consumer writes them again only after the 256-thread barrier of the block,
 * which the other passes after reading them); the exchange buffers of block i are read by the other consumer's
 * P V (i), waited at its block i + 1, before the barrier of block i + 1 that precedes their next write (block i + 2).
 * The producer loads K(i + 1) before V(i) (fwd.cuh: K ring of ST stages, V ring of STV), since S(i + 1) is
 * issued before P V (i).
 * Shared memory (BN = 64, ST = 2, STV = 1): Q, Qd 48 KB + K, Kd 2 x 48 KB + V, Vd 48 KB + the exchange 32 KB + xs
 * 1 KB: 227 KB (Ks::SMEM); xm uses the unmasked kernel's unused interval room (Sm90Fwd::MASK_OFF, 512 bytes).
 * Registers a consumer: O, U 96 + S, Sd 32 + the next S, Sd 32 + P, P (Sd - c) 16 + the rows' statistics.
 */
#ifndef JFA_KERNELS_SM90_JVP_KS_CUH_
#define JFA_KERNELS_SM90_JVP_KS_CUH_

/* The key split's shared memory beyond Sm90Fwd's (offsets from the 1024-aligned base): the exchange buffers (P, then
   P (Sd - c), 8 KB each, two block parities) and xs (float2 [2][64]); xm (float [2][64]) at MASK_OFF */
template <class C> struct Ks {
  static constexpr uint32_t X_OFF = C::DMW_OFF, X_BUF = 8192, XS_OFF = X_OFF + 4 * X_BUF;
  static constexpr size_t SMEM = XS_OFF + 2 * 64 * 8 + 1024;
  static_assert(C::BM == 64 && C::DMW_OFF % 1024 == 0, "64 rows a CTA; the exchange buffers 1024-aligned");
  static_assert(C::MASK_OFF + 2 * 64 * 4 <= C::DMW_OFF, "xm in the interval room");
  static_assert(SMEM <= 232448, "shared memory beyond the sm_90 opt-in limit");
};

/* S = Q K^T and Sd = Qd K^T + Q Kd^T of the CTA's 64 rows against 32 keys of the stage at kv (kv: the stage plus
   this consumer's keys' byte offset, 32 rows of 128 bytes); k16 steps along D, 4 per 64-column slab. Issues only. */
template <typename T, int D, int BN, int ST, int STV>
__device__ __forceinline__ void mma_scores_ks(float (&s)[1][4][4], float (&sd)[1][4][4], uint32_t sQ, uint32_t sQd,
                                              uint32_t kv) {
  typedef Sm90Fwd<D, BN, true, ST, true, false, STV> C;
  const uint32_t sK = kv, sKd = kv + C::KD_OFF;
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t qo = (kk >> 2) * C::HALF_Q + (kk & 3) * 32, ko = (kk >> 2) * C::HALF_K + (kk & 3) * 32;
    wgmma_ss<T, 32, 0>(&s[0][0][0], wg_desc(sQ + qo, 16, 1024), wg_desc(sK + ko, 16, 1024), kk > 0);
  }
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t qo = (kk >> 2) * C::HALF_Q + (kk & 3) * 32, ko = (kk >> 2) * C::HALF_K + (kk & 3) * 32;
    wgmma_ss<T, 32, 0>(&sd[0][0][0], wg_desc(sQd + qo, 16, 1024), wg_desc(sK + ko, 16, 1024), kk > 0);
  }
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    const uint32_t qo = (kk >> 2) * C::HALF_Q + (kk & 3) * 32, ko = (kk >> 2) * C::HALF_K + (kk & 3) * 32;
    wgmma_ss<T, 32, 0>(&sd[0][0][0], wg_desc(sQ + qo, 16, 1024), wg_desc(sKd + ko, 16, 1024), 1);
  }
}

/* The softmax of one block for this consumer's 32 keys (keys 32 wg.. of the block), both consumers' row maxima and
   (where a row's maximum rose) row sums combined through shared memory: fwd_softmax_block's FAST, non-LEAN
   arithmetic (s: raw scores in, P out; sd: Sd in, P (s Sd - c) out; o, u rescaled; l and nu per half). */
template <int DT>
__device__ __forceinline__ void ks_softmax(const FwdArgs &a, const BlockMask &bm, int wg, int wrow, int g, int t4,
                                           float (&s)[1][4][4], float (&sd)[1][4][4], float (&o)[1][DT][4],
                                           float (&u)[1][DT][4], float (&mrow)[1][2], float (&lrow)[1][2],
                                           float (&nrow)[1][2], float (&crow)[1][2], float *xm, float2 *xs, int pbar) {
  if (bm.need) {
    const uint64_t dw0[1] = {0};
#pragma unroll
    for (int rr = 0; rr < 2; ++rr)
#pragma unroll
      for (int nt = 0; nt < 4; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e)
          if (!fwd_elem_visible<false>(bm, dw0, nt, e, 32 * wg + nt * 8 + 2 * t4 + e, wrow + g + rr * 8))
            s[0][nt][rr * 2 + e] = -INFINITY;
  }
  const int r0 = wrow + g, ow = wg ^ 1;
  float mx[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    float m = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) m = fmax_nan(m, s[0][nt][rr * 2 + e]);
    m = fmax_nan(m, __shfl_xor_sync(0xffffffffu, m, 1));
    m = fmax_nan(m, __shfl_xor_sync(0xffffffffu, m, 2));
    mx[rr] = m * a.scale_log2; /* scale > 0: the max of the scaled scores */
  }
  if (t4 == 0) {
    xm[wg * 64 + r0] = mx[0];
    xm[wg * 64 + r0 + 8] = mx[1];
  }
  named_bar_sync(pbar, 64);
  mx[0] = fmax_nan(mx[0], xm[ow * 64 + r0]);
  mx[1] = fmax_nan(mx[1], xm[ow * 64 + r0 + 8]);
  float alpha[2], ps[2], psd[2];
  bool moved[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const float mnew = fmax_nan(mrow[0][rr], mx[rr]); /* NaN stays NaN: the row comes out NaN */
    const float muse = mnew == -INFINITY ? 0.f : mnew;
    alpha[rr] = exp2_ftz(mrow[0][rr] - muse);
    moved[rr] = mnew > mrow[0][rr];
    mrow[0][rr] = mnew;
    float p_s = 0.f, p_sd = 0.f;
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float pv = exp2_ftz(fmaf(s[0][nt][rr * 2 + e], a.scale_log2, -muse));
        s[0][nt][rr * 2 + e] = pv;
        p_s += pv;
        float &sdr = sd[0][nt][rr * 2 + e];
        sdr *= a.scale;
        p_sd += pv * sdr;
      }
    ps[rr] = p_s;
    psd[rr] = p_sd;
  }
  /* the reference c moves to the running mu = nu / l (both halves' sums) where a row of the warp's maximum rose */
  const bool mv0 = __any_sync(0xffffffffu, moved[0]), mv1 = __any_sync(0xffffffffu, moved[1]);
  float shift[2] = {0.f, 0.f};
  if (mv0 || mv1) {
    float lf[2], nf[2];
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      lf[rr] = lrow[0][rr] * alpha[rr] + ps[rr];
      nf[rr] = nrow[0][rr] * alpha[rr] + psd[rr];
      lf[rr] += __shfl_xor_sync(0xffffffffu, lf[rr], 1);
      lf[rr] += __shfl_xor_sync(0xffffffffu, lf[rr], 2);
      nf[rr] += __shfl_xor_sync(0xffffffffu, nf[rr], 1);
      nf[rr] += __shfl_xor_sync(0xffffffffu, nf[rr], 2);
    }
    if (t4 == 0) {
      xs[wg * 64 + r0] = make_float2(lf[0], nf[0]);
      xs[wg * 64 + r0 + 8] = make_float2(lf[1], nf[1]);
    }
    named_bar_sync(pbar, 64);
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      if (rr ? mv1 : mv0) {
        const float2 q = xs[ow * 64 + r0 + rr * 8];
        const float lt = lf[rr] + q.x, nt = nf[rr] + q.y;
        const float cnew = lt != 0.f ? nt / lt : 0.f;
        shift[rr] = crow[0][rr] - cnew;
        crow[0][rr] = cnew;
      }
    }
  }
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    nrow[0][rr] = nrow[0][rr] * alpha[rr] + psd[rr];
    const float c = crow[0][rr];
#pragma unroll
    for (int nt = 0; nt < 4; ++nt)
#pragma unroll
      for (int e = 0; e < 2; ++e) sd[0][nt][rr * 2 + e] = s[0][nt][rr * 2 + e] * (sd[0][nt][rr * 2 + e] - c);
    lrow[0][rr] = lrow[0][rr] * alpha[rr] + ps[rr];
#pragma unroll
    for (int dt = 0; dt < DT; ++dt) {
      o[0][dt][rr * 2] *= alpha[rr];
      o[0][dt][rr * 2 + 1] *= alpha[rr];
      /* U = alpha U + (c_old - c_new) O~ with O~ already rescaled, before this block is added */
      u[0][dt][rr * 2] = fmaf(shift[rr], o[0][dt][rr * 2], u[0][dt][rr * 2] * alpha[rr]);
      u[0][dt][rr * 2 + 1] = fmaf(shift[rr], o[0][dt][rr * 2 + 1], u[0][dt][rr * 2 + 1] * alpha[rr]);
    }
  }
}

/* P and P (Sd - c) of this consumer's keys packed into the A fragments of its two k16 steps (ap, apd) and stored into
   the exchange buffers pb, tb (64 rows x 64 keys, 128 bytes a row, 16-byte chunk c of row r at c ^ (r % 8): a K-major
   wgmma A operand; a warp's stores fall on 32 distinct banks), then made visible to wgmma (the async proxy). */
template <typename T>
__device__ __forceinline__ void ks_pack_store(const float (&s)[1][4][4], const float (&sd)[1][4][4],
                                              uint32_t (&ap)[2][4], uint32_t (&apd)[2][4], unsigned char *pb,
                                              unsigned char *tb, int wg, int wrow, int g, int t4) {
  wg_acc_to_a<T, 2>(ap, s[0]);
  wg_acc_to_a<T, 2>(apd, sd[0]);
#pragma unroll
  for (int k = 0; k < 2; ++k)
#pragma unroll
    for (int x = 0; x < 4; ++x) {
      /* fragment x of k16 step k: accumulator tile 2 k + x / 2, row g + 8 (x % 2), keys 2 t4, 2 t4 + 1 */
      const int r = wrow + g + 8 * (x & 1), ch = (4 * wg + 2 * k + (x >> 1)) ^ (r & 7);
      const int off = r * 128 + ch * 16 + 4 * t4;
      *(uint32_t *)(pb + off) = ap[k][x];
      *(uint32_t *)(tb + off) = apd[k][x];
    }
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); /* visible to wgmma (async proxy) */
}

/* O += P V, U += P (Sd - c) V + P Vd for this consumer's 96 columns (the even split's pieces: 64 columns of slab
   2 wg, then 32 of slab 1) over the block's 64 keys: its own two k16 steps from registers, the other consumer's two
   from the exchange buffers pb, tb (shared-memory addresses). sv: the V stage (V, then Vd). Issues only. */
template <typename T, int D, int BN, int ST, int STV>
__device__ __forceinline__ void ks_pv(float (&o)[1][D / 16][4], float (&u)[1][D / 16][4], const uint32_t (&ap)[2][4],
                                      const uint32_t (&apd)[2][4], uint32_t sv, uint32_t pb, uint32_t tb, int wg) {
  typedef Sm90Fwd<D, BN, true, ST, true, false, STV> C;
  const uint32_t v0 = sv + C::V_OFF, vd0 = sv + C::VD_OFF;
  const uint32_t pa = (uint32_t)wg * 2 * C::HALF_K, pc = C::HALF_K + (uint32_t)wg * 64; /* the pieces' bytes */
  float *oo = &o[0][0][0], *uu = &u[0][0][0];
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const uint32_t kb = (uint32_t)(2 * wg + k) * 2048; /* 16 keys of 128 bytes */
    const uint64_t va = wg_desc(v0 + pa + kb, C::HALF_K, 1024), vc = wg_desc(v0 + pc + kb, C::HALF_K, 1024);
    wgmma_rs<T, 64, 1>(oo, ap[k], va, 1);
    wgmma_rs<T, 32, 1>(oo + 32, ap[k], vc, 1);
    wgmma_rs<T, 64, 1>(uu, apd[k], va, 1);
    wgmma_rs<T, 32, 1>(uu + 32, apd[k], vc, 1);
    const uint64_t wa = wg_desc(vd0 + pa + kb, C::HALF_K, 1024), wc = wg_desc(vd0 + pc + kb, C::HALF_K, 1024);
    wgmma_rs<T, 64, 1>(uu, ap[k], wa, 1);
    wgmma_rs<T, 32, 1>(uu + 32, ap[k], wc, 1);
  }
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const int kt = 2 * (wg ^ 1) + k; /* the other consumer's k16 step */
    const uint32_t kb = (uint32_t)kt * 2048;
    const uint64_t da = wg_desc(pb + kt * 32, 16, 1024), dt = wg_desc(tb + kt * 32, 16, 1024);
    const uint64_t va = wg_desc(v0 + pa + kb, C::HALF_K, 1024), vc = wg_desc(v0 + pc + kb, C::HALF_K, 1024);
    wgmma_ss<T, 64, 1>(oo, da, va, 1);
    wgmma_ss<T, 32, 1>(oo + 32, da, vc, 1);
    wgmma_ss<T, 64, 1>(uu, dt, va, 1);
    wgmma_ss<T, 32, 1>(uu + 32, dt, vc, 1);
    const uint64_t wa = wg_desc(vd0 + pa + kb, C::HALF_K, 1024), wc = wg_desc(vd0 + pc + kb, C::HALF_K, 1024);
    wgmma_ss<T, 64, 1>(uu, da, wa, 1);
    wgmma_ss<T, 32, 1>(uu + 32, da, wc, 1);
  }
}

/* One consumer warpgroup of the key split (wg: 0 or 1; cw: its warp among the consumers' 8): the CTA's nlive key
   blocks jb0.. (the K ring's stages at sKV, barriers bar; the V ring's at sVR, barriers vbar), leaving o, u (its 96
   columns, the even split's order) and the rows' statistics (l and nu summed over both halves on lane t4 = 0 of each
   quad, zero on the others) for fwd.cuh's epilogue. sg: the generic address of the 1024-aligned base sbase. */
template <typename T, int D, int BN, int ST, int STV>
__device__ __forceinline__ void ks_consumer(const FwdArgs &a, int64_t m0, int jb0, int nlive, uint32_t sbase,
                                            unsigned char *sg, uint32_t sQ, uint32_t sQd, uint32_t sKV, uint32_t sVR,
                                            uint32_t bar, uint32_t vbar, int wg, int cw, int lane,
                                            float (&o)[1][D / 16][4], float (&u)[1][D / 16][4], float (&mrow)[1][2],
                                            float (&lrow)[1][2], float (&nrow)[1][2], float (&crow)[1][2]) {
  typedef Sm90Fwd<D, BN, true, ST, true, false, STV> C;
  typedef Ks<C> L;
  constexpr int DT = D / 16;
  static_assert(BN == 64 && STV > 0 && D == 192, "the key split: two halves of 32 keys, the two rings, D = 192");
  const int wrow = (cw & 3) * 16, g = lane >> 2, t4 = lane & 3;
  const uint32_t koff = (uint32_t)wg * 32 * 128; /* this consumer's keys in a K slab */
  float *xm = (float *)(sg + C::MASK_OFF);
  float2 *xs = (float2 *)(sg + L::XS_OFF);
  const int pbar = 5 + (cw & 3); /* the named barrier of the two warps holding these rows */
  float s[1][4][4], sd[1][4][4], sn[1][4][4], sdn[1][4][4];
  uint32_t ap[2][4], apd[2][4];
  auto issue_s = [&](int i, float(&ds)[1][4][4], float(&dsd)[1][4][4]) {
    mbar_wait(bar + 8 * (i % ST), (uint32_t)((i / ST) & 1));
    wg_fence();
    mma_scores_ks<T, D, BN, ST, STV>(ds, dsd, sQ, sQd, sKV + (i % ST) * C::STAGE_BYTES + koff);
    wg_commit();
  };
  if (nlive > 0) issue_s(0, s, sd);
  for (int i = 0; i < nlive; ++i) {
    wg_wait<0>(); /* S(i), Sd(i) and P V (i - 1) */
    wg_reg_fence<16>(&sn[0][0][0]);
    wg_reg_fence<16>(&sdn[0][0][0]);
    wg_reg_fence<DT * 4>(&o[0][0][0]);
    wg_reg_fence<DT * 4>(&u[0][0][0]);
    wg_reg_fence_u<8>(&ap[0][0]);
    wg_reg_fence_u<8>(&apd[0][0]);
    if (i > 0) {
#pragma unroll
      for (int nt = 0; nt < 4; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          s[0][nt][e] = sn[0][nt][e];
          sd[0][nt][e] = sdn[0][nt][e];
        }
    }
    wg_reg_fence<16>(&s[0][0][0]);
    wg_reg_fence<16>(&sd[0][0][0]);
    __syncwarp();
    if (lane == 0) {
      mbar_arrive(bar + 8 * (ST + i % ST));                          /* this warp is done with K(i), Kd(i) */
      if (i > 0) mbar_arrive(vbar + 8 * (STV + (i - 1) % STV));      /* and with V(i - 1), Vd(i - 1) */
    }
    if (i + 1 < nlive) issue_s(i + 1, sn, sdn); /* run by the tensor cores during this block's softmax */
    const BlockMask bm = fwd_block_mask<BN, false, 64>(a, m0, (int64_t)(jb0 + i) * BN, 0, 0);
    ks_softmax<DT>(a, bm, wg, wrow, g, t4, s, sd, o, u, mrow, lrow, nrow, crow, xm, xs, pbar);
    const uint32_t xb = L::X_OFF + (uint32_t)(i & 1) * 2 * L::X_BUF;
    ks_pack_store<T>(s, sd, ap, apd, sg + xb, sg + xb + L::X_BUF, wg, wrow, g, t4);
    named_bar_sync(4, 256); /* both consumers' halves of P, P (Sd - c) stored */
    mbar_wait(vbar + 8 * (i % STV), (uint32_t)((i / STV) & 1)); /* V(i), Vd(i) */
    wg_reg_fence<DT * 4>(&o[0][0][0]);
    wg_reg_fence<DT * 4>(&u[0][0][0]);
    wg_reg_fence_u<8>(&ap[0][0]);
    wg_reg_fence_u<8>(&apd[0][0]);
    wg_fence();
    ks_pv<T, D, BN, ST, STV>(o, u, ap, apd, sVR + (i % STV) * C::VSTAGE_BYTES, sbase + xb, sbase + xb + L::X_BUF, wg);
    wg_commit();
  }
  if (nlive > 0) {
    wg_wait<0>();
    wg_reg_fence<DT * 4>(&o[0][0][0]);
    wg_reg_fence<DT * 4>(&u[0][0][0]);
    __syncwarp();
    if (lane == 0) mbar_arrive(vbar + 8 * (STV + (nlive - 1) % STV));
  }
  /* l and nu: this half's over the quad, plus the other half's (xs is free: the other consumer read it before the
     block's 256-thread barrier) */
  float lq[2], nq[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    lq[rr] = lrow[0][rr];
    lq[rr] += __shfl_xor_sync(0xffffffffu, lq[rr], 1);
    lq[rr] += __shfl_xor_sync(0xffffffffu, lq[rr], 2);
    nq[rr] = nrow[0][rr];
    nq[rr] += __shfl_xor_sync(0xffffffffu, nq[rr], 1);
    nq[rr] += __shfl_xor_sync(0xffffffffu, nq[rr], 2);
  }
  const int r0 = wrow + g, ow = wg ^ 1;
  if (t4 == 0) {
    xs[wg * 64 + r0] = make_float2(lq[0], nq[0]);
    xs[wg * 64 + r0 + 8] = make_float2(lq[1], nq[1]);
  }
  named_bar_sync(pbar, 64);
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    const float2 q = xs[ow * 64 + r0 + rr * 8];
    lrow[0][rr] = t4 == 0 ? lq[rr] + q.x : 0.f;
    nrow[0][rr] = t4 == 0 ? nq[rr] + q.y : 0.f;
  }
}

#endif /* JFA_KERNELS_SM90_JVP_KS_CUH_ */
