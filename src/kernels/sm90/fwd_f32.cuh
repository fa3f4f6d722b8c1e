/*
 * fwd_f32.cuh - the sm90 family's float32 forward and fused forward+JVP on Hopper tensor cores
 * (wgmma m64nNk8 with TF32 operands, fp32 accumulation; sm_90a only), 3xTF32 by default and one
 * TF32 product when the context has JFA_FLAG_ALLOW_TF32 (call_precision, as the sm80 float32
 * kernels). Instantiated per head dim by inst/{fwd,jvp}_f32_d<D>.cu (sm90_fwd_f32_d); tiles:
 * tiles.h (dtype JFA_DTYPE_FLOAT32 rows); family.cu takes float32 at D = 64 and 128 (the JVP at
 * 64), unmasked or causal, TMA-describable tensors, on sm_90, in builds with JFA_SM90_F32=ON.
 *
 * Design (the bf16 kernel's, fwd.cuh, where it can be):
 * - A CTA owns BM = 128 query rows of one (batch, head); 384 threads in three warpgroups.
 *   Warpgroup 0 (registers lowered to 56): warp 0 lane 0 loads Q (and Qd) once and streams the
 *   K, V (and Kd, Vd) blocks of BN keys through ST stages with TMA (mbarrier `full`, released by
 *   `empty`); warps 1..3 (96 threads, the converters) turn each landed stage into wgmma operands
 *   (below) and signal mbarrier `conv`. Warpgroups 1 and 2 (the consumers, 224 registers) own 64
 *   rows each and take turns issuing their score products (named barriers 1 and 2, ping-pong).
 * - Shared memory: TMA writes float32 tiles in the 128-byte swizzle, one 128-byte row being 32
 *   elements: a tile of R rows by D columns is D / 32 slabs of R x 128 bytes (slab s holds
 *   columns 32 s.., row r at 128 r, 16-byte chunk c at c ^ (r % 8)). As a K-major wgmma operand
 *   a k8 step is 32 bytes inside the row (wgmma_tf32.cuh).
 * - S = Q K^T: A = Q from registers, B = K from shared memory (K-major as TMA writes it, N = BN).
 *   Each consumer thread loads its rows' Q fragments (a0 = Q[g][t], a1 = Q[g + 8][t], a2 =
 *   Q[g][t + 4], a3 = Q[g + 8][t + 4]: conflict-free scalar loads, the swizzle spreads the 8 rows
 *   g over the 8 chunks) per key block and splits them in registers (tf32_split: hi rounded, lo =
 *   x - hi), QC k8 steps at a time (a chunk's registers are reused after a wgmma wait), or once per
 *   CTA where the registers allow (tiles.h QREG: the D = 64 forward, 64 registers). Q's hi / lo
 *   planes in shared memory would cost BM D 4 bytes each (32 KB at D = 64; the JVP's four 128 KB),
 *   which the stages need; the reload is D / 8 scalar loads and splits per thread and block.
 * - B operands need their hi / lo planes in shared memory, written by the converters once per
 *   stage (not per consumer): K's hi is K itself as TMA wrote it (the tensor core reads a .tf32
 *   operand's top 19 bits, i.e. truncates), its lo plane K_lo = TF32(x - trunc(x)) (rounded:
 *   |error| <= 2^-21 |x|, as tf32_split's); with one TF32 product K is rounded in place instead
 *   (cvt.rna, as the sm80 kernel's TF32 mode; truncation would bias every score by -2^-11).
 * - O = P V: A = P from registers: the S accumulator's fragment of 8 keys (c0, c1 = row g, keys
 *   2t, 2t + 1; c2, c3 = row g + 8) is the A fragment of a k8 step with the keys permuted (key 2t at
 *   position t, 2t + 1 at t + 4: f32_acc_as_a of sm80/tf32.cuh, no shuffles). B = V must be K-major
 *   (keys contiguous): the converters transpose each V tile into Vt (D rows by BN keys, BN / 32
 *   slabs of D x 128 bytes, the same swizzle) and apply the key permutation in the same store
 *   (position (k & ~7) | (k & 1) << 2 | (k & 7) >> 1 for key k of the slab). A warp transposes 32
 *   keys by 4 columns: one 16-byte load per lane (the swizzle makes it conflict-free), then four
 *   stores, each a row d of Vt with the 32 positions over 32 banks. 3xTF32 writes Vt_hi = x (read
 *   truncated) and Vt_lo = TF32(x - trunc(x)); TF32 writes Vt = TF32(x). (FlashAttention-3
 *   transposes V in its producer for FP8; the idea, not its code.)
 * - The JVP: Sd = Qd K^T + Q Kd^T (a second pass of Qd fragments), U = (P (Sd - c)) V + P Vd, with
 *   Kd, Vd converted as K, V. 3xTF32 issues every product as lo*hi, hi*lo, hi*hi, TF32 hi*hi alone;
 *   the converters write after each thread's fence.proxy.async and one arrival each on `conv`, so
 *   that wgmma (the async proxy) reads their stores.
 * - SMALLFIRST (3xTF32, since the sixth session of 2026-12-02): the wgmma accumulator truncates its
 *   sum toward zero once per instruction, so the score products issue the small products (lo*hi,
 *   hi*lo) of every k8 step first, while the sum is small, and the hi*hi products after them: S and
 *   the JVP's Q Kd^T (Qd K^T, added after them, keeps its per-step order: Sd is ~1/60 of S and its
 *   order moves mu by < 1e-5, bench/f32_fwd_model.c). In the per-step order lse carried a bias
 *   toward zero of ~0.9 u (u = 2^-23 (D / 8 + 1) / 2 |lse|: -1.3e-3 at D = 64, -2.5e-3 at D = 128 with
 *   |lse| ~ 2700), now ~0.3 u (test_gpu_f32 checks lse's absolute error at large logits). The D = 128
 *   forward keeps Q's hi fragments of all 16 steps (qha, 64 registers) and reloads the lo ones per
 *   chunk. P V is issued per step as before: O carries over the blocks, so its sum is large for every
 *   product and the order within a block would not change its truncations. Tuning builds:
 *   JFA_TUNE_SM90_F32_FWD_ORDER=1 runs the per-step order (variant 0's tiles).
 * - Softmax (running max, the tangent's running mu reference, NaN propagation, fully masked rows),
 *   the causal block limits and the epilogue (plain stores or accumulate mode's merge) are
 *   common/softmax.cuh's, in the FAST form of the bf16 kernel (scale > 0). Masks other than causal
 *   are declined to the sm80 float32 kernel (family.cu).
 * Shared memory per stage, in tiles of BN x D floats: K, V (, Kd, Vd) as TMA writes them, then per
 * operand set K_lo, Vt_hi, Vt_lo with 3xTF32 (Vt alone with TF32): D = 64 forward 5 x 16 KB at
 * BN = 64, 2 stages + Q 32 KB = 192 KB; D = 128 forward 5 x 16 KB at BN = 32, 2 stages + Q 64 KB
 * = 224 KB; D = 64 JVP 10 x 8 KB at BN = 32, 2 stages + Q, Qd 64 KB = 224 KB. The D = 128 JVP
 * (Q, Qd 128 KB) has no room for two stages of ten tiles and stays on sm80. TF32 stages hold 3
 * tiles (JVP 6): tiles.h's BNT / STT give the D = 64 forward BN = 128 (224 KB), the others 3 stages.
 * Tuning variant 2 of the D = 64 JVP (tiles.h, JFA_TUNE_SM90A): QREG in the JVP (Q's fragments
 * kept; Qd's kept in TF32, reloaded in 2-step chunks overlapping the products in 3xTF32). Variants
 * that stacked K / Kd and V / Vd into wider products, batched the converters' loads, reordered the Qd
 * products or put Q in a stage's bytes measured no faster on the H200 (bench/RESULTS.md, fifth
 * session) and were removed.
 */
#ifndef JFA_KERNELS_SM90_FWD_F32_CUH_
#define JFA_KERNELS_SM90_FWD_F32_CUH_

#include "kernels/common/cta_order.cuh"
#include "kernels/common/softmax.cuh"
#include "kernels/sm80/tf32.cuh"
#include "kernels/sm90/sm90.h"
#include "kernels/sm90/tma.h"
#include "kernels/sm90/wgmma_tf32.cuh"

/* Tile shapes and shared-memory layout of one instantiation (offsets in bytes). */
template <int D, int BN, bool JVP, int ST, bool PRECISE> struct Sm90F32 {
  static_assert(D % 32 == 0 && BN % 32 == 0 && BN <= 128, "whole 128-byte slabs of columns and of keys");
  static constexpr int BM = 128, NT = BN / 8, DT = D / 8, KS = D / 8, NTHREADS = 384;
  static constexpr int QC = KS < 8 ? KS : 8; /* k8 steps of Q fragments in registers at a time */
  static constexpr int NSET = JVP ? 2 : 1;   /* operand sets: (K, V), (Kd, Vd) */
  static constexpr int NCONV = PRECISE ? 3 : 1; /* converted tiles a set: K_lo, Vt_hi, Vt_lo / Vt */
  static constexpr uint32_t TILE = (uint32_t)BN * D * 4, Q_TILE = (uint32_t)BM * D * 4;
  static constexpr uint32_t TMA_BYTES = 2 * NSET * TILE, STAGE_BYTES = TMA_BYTES + NSET * NCONV * TILE;
  static constexpr uint32_t Q_OFF = 0, QD_OFF = Q_TILE /* JVP only */, KV_OFF = NSET * Q_TILE;
  static constexpr uint32_t BAR_OFF = KV_OFF + ST * STAGE_BYTES;
  static constexpr size_t SMEM = BAR_OFF + 256 + 1024; /* barriers; slack to align the base to 1024 */
  /* the pitch of a K column slab (32 columns) and of a Vt key slab (32 keys) */
  static constexpr uint32_t KP = (uint32_t)BN * 128, VP = (uint32_t)D * 128;
  /* the parts of a stage: set s's K (Kd) and V (Vd) as TMA writes them, K_lo, Vt (hi), Vt_lo */
  __host__ __device__ static constexpr uint32_t k_raw(int s) { return (uint32_t)(2 * s) * TILE; }
  __host__ __device__ static constexpr uint32_t v_raw(int s) { return (uint32_t)(2 * s + 1) * TILE; }
  __host__ __device__ static constexpr uint32_t k_lo(int s) { return TMA_BYTES + (uint32_t)(s * NCONV) * TILE; }
  __host__ __device__ static constexpr uint32_t vt_hi(int s) {
    return TMA_BYTES + (uint32_t)(s * NCONV + (PRECISE ? 1 : 0)) * TILE;
  }
  __host__ __device__ static constexpr uint32_t vt_lo(int s) { return vt_hi(s) + TILE; }
};

/* x minus the TF32 value the tensor core reads from x (its top 19 bits), rounded to TF32: the lo
   part of an operand whose hi part is x itself. */
__device__ __forceinline__ uint32_t tf32_lo_of_trunc(float x) {
  return tf32_round(x - __uint_as_float(__float_as_uint(x) & 0xffffe000u));
}

/* The converters' share of one stage (tid 0..95 of warps 1..3): K (Kd) to K_lo (3xTF32) or
   rounded in place (TF32); V (Vd) transposed into Vt (hi, lo) with the key permutation. */
template <int D, int BN, bool JVP, int ST, bool PRECISE>
__device__ __forceinline__ void f32_convert_stage(unsigned char *stg, int tid) {
  typedef Sm90F32<D, BN, JVP, ST, PRECISE> C;
  const int lane = tid & 31, cw = tid >> 5;
  /* this lane's key position in a transposed slab */
  const int pos = (lane & 24) | ((lane & 1) << 2) | ((lane & 7) >> 1);
#pragma unroll
  for (int s = 0; s < C::NSET; ++s) {
    /* K: element-wise, the lo plane in the same (swizzled) layout */
    {
      float4 *kr = (float4 *)(stg + C::k_raw(s));
      uint4 *kl = (uint4 *)(stg + C::k_lo(s));
#pragma unroll 2
      for (int i = tid; i < BN * D / 4; i += 96) {
        const float4 x = kr[i];
        if (PRECISE) {
          kl[i] = make_uint4(tf32_lo_of_trunc(x.x), tf32_lo_of_trunc(x.y), tf32_lo_of_trunc(x.z), tf32_lo_of_trunc(x.w));
        } else {
          ((uint4 *)kr)[i] = make_uint4(tf32_round(x.x), tf32_round(x.y), tf32_round(x.z), tf32_round(x.w));
        }
      }
    }
    /* V: warp items of 32 keys (one slab of Vt) by 4 columns */
    const unsigned char *vr = stg + C::v_raw(s);
    unsigned char *vh = stg + C::vt_hi(s), *vl = stg + C::vt_lo(s);
#pragma unroll 1
    for (int it = cw; it < (BN / 32) * (D / 4); it += 3) {
      const int ks = it / (D / 4), dc = it % (D / 4), key = ks * 32 + lane;
      const float4 x = *(const float4 *)(vr + (dc >> 3) * (BN * 128) + key * 128 + (((dc & 7) ^ (key & 7)) << 4));
      const float xe[4] = {x.x, x.y, x.z, x.w};
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int d = dc * 4 + e;
        const int off = ks * (int)C::VP + d * 128 + ((((pos >> 2) ^ (d & 7))) << 4) + (pos & 3) * 4;
        if (PRECISE) {
          *(float *)(vh + off) = xe[e];
          *(uint32_t *)(vl + off) = tf32_lo_of_trunc(xe[e]);
        } else {
          *(uint32_t *)(vh + off) = tf32_round(xe[e]);
        }
      }
    }
  }
}

/* A fragments (hi, lo) of QC k8 steps from kk0 of this warp's rows (row: the CTA-local row of
   a0) of a Q tile (generic pointer; slabs of BM rows) in the 128-byte swizzle. */
template <int QC, int BM, bool PRECISE>
__device__ __forceinline__ void f32_q_frags(uint32_t (&hi)[QC][4], uint32_t (&lo)[QC][4], const unsigned char *tile,
                                            int row, int g, int t4, int kk0) {
#pragma unroll
  for (int c = 0; c < QC; ++c) {
    const int kk = kk0 + c, ch = (kk & 3) * 2;
    const unsigned char *r0 = tile + (kk >> 2) * (BM * 128) + row * 128 + t4 * 4;
    const float x0 = *(const float *)(r0 + ((ch ^ g) << 4)), x1 = *(const float *)(r0 + 1024 + ((ch ^ g) << 4));
    const float x2 = *(const float *)(r0 + (((ch + 1) ^ g) << 4));
    const float x3 = *(const float *)(r0 + 1024 + (((ch + 1) ^ g) << 4));
    f32_split<PRECISE>(x0, hi[c][0], lo[c][0]);
    f32_split<PRECISE>(x1, hi[c][1], lo[c][1]);
    f32_split<PRECISE>(x2, hi[c][2], lo[c][2]);
    f32_split<PRECISE>(x3, hi[c][3], lo[c][3]);
  }
}

/* A fragments as f32_q_frags, with the hi parts kept at their k8 step (hi[kk0 + c]) in an array of
   all KH steps and the lo parts in a chunk buffer (lo[c]): the D = 128 forward's SMALLFIRST order
   issues the hi * hi products of both chunks after the small ones of both. */
template <int QC, int BM, int KH>
__device__ __forceinline__ void f32_q_frags_hk(uint32_t (&hi)[KH][4], uint32_t (&lo)[QC][4], const unsigned char *tile,
                                               int row, int g, int t4, int kk0) {
#pragma unroll
  for (int c = 0; c < QC; ++c) {
    const int kk = kk0 + c, ch = (kk & 3) * 2;
    const unsigned char *r0 = tile + (kk >> 2) * (BM * 128) + row * 128 + t4 * 4;
    const float x0 = *(const float *)(r0 + ((ch ^ g) << 4)), x1 = *(const float *)(r0 + 1024 + ((ch ^ g) << 4));
    const float x2 = *(const float *)(r0 + (((ch + 1) ^ g) << 4));
    const float x3 = *(const float *)(r0 + 1024 + (((ch + 1) ^ g) << 4));
    f32_split<true>(x0, hi[kk][0], lo[c][0]);
    f32_split<true>(x1, hi[kk][1], lo[c][1]);
    f32_split<true>(x2, hi[kk][2], lo[c][2]);
    f32_split<true>(x3, hi[kk][3], lo[c][3]);
  }
}

/* acc (+)= A B^T over one k8 step: 3xTF32 lo*hi, hi*lo, hi*hi (B's hi at bh, lo at bl), or
   hi*hi; first: acc is overwritten by the first product. Issues only. */
template <int N, bool PRECISE>
__device__ __forceinline__ void f32_wg_step(float *acc, const uint32_t *ah, const uint32_t *al, uint64_t bh,
                                            uint64_t bl, bool first) {
  if (PRECISE) {
    wgmma_tf32_rs<N>(acc, al, bh, first ? 0 : 1);
    wgmma_tf32_rs<N>(acc, ah, bl, 1);
    wgmma_tf32_rs<N>(acc, ah, bh, 1);
  } else {
    wgmma_tf32_rs<N>(acc, ah, bh, first ? 0 : 1);
  }
}

/* One part of 3xTF32's products over one k8 step: part 0 the small ones (lo*hi, hi*lo; first: acc
   overwritten by the first), part 1 hi*hi. Issues only. */
template <int N>
__device__ __forceinline__ void f32_wg_part(float *acc, const uint32_t *ah, const uint32_t *al, uint64_t bh,
                                            uint64_t bl, bool first, int part) {
  if (part == 0) {
    wgmma_tf32_rs<N>(acc, al, bh, first ? 0 : 1);
    wgmma_tf32_rs<N>(acc, ah, bl, 1);
  } else {
    wgmma_tf32_rs<N>(acc, ah, bh, 1);
  }
}

/* The score products of k8 step kk of block stage kv: pass 0 (A = Q's fragments) S (, Q Kd^T into
   Sd), pass 1 (A = Qd's) Qd K^T into Sd; part < 0 all of a step's products, 0 / 1 (3xTF32, pass 0:
   SMALLFIRST) its small / hi * hi products. Issues only. */
template <int D, int BN, bool JVP, int ST, bool PRECISE>
__device__ __forceinline__ void f32_s_step(float *s, float *sd, const uint32_t *ah, const uint32_t *al, uint32_t kv,
                                           int kk, int pass, int part = -1) {
  typedef Sm90F32<D, BN, JVP, ST, PRECISE> C;
  const uint32_t ko = (kk >> 2) * C::KP + (kk & 3) * 32;
  const uint64_t k_h = wg_desc(kv + C::k_raw(0) + ko, 16, 1024), k_l = wg_desc(kv + C::k_lo(0) + ko, 16, 1024);
  if (pass == 0) {
    if (part < 0) {
      f32_wg_step<BN, PRECISE>(s, ah, al, k_h, k_l, kk == 0);
    } else {
      f32_wg_part<BN>(s, ah, al, k_h, k_l, part == 0 && kk == 0, part);
    }
    if (JVP) {
      const uint64_t kd_h = wg_desc(kv + C::k_raw(1) + ko, 16, 1024);
      const uint64_t kd_l = wg_desc(kv + C::k_lo(1) + ko, 16, 1024);
      if (part < 0) {
        f32_wg_step<BN, PRECISE>(sd, ah, al, kd_h, kd_l, kk == 0);
      } else {
        f32_wg_part<BN>(sd, ah, al, kd_h, kd_l, part == 0 && kk == 0, part);
      }
    }
  } else {
    f32_wg_step<BN, PRECISE>(sd, ah, al, k_h, k_l, false);
  }
}

/* QREG in the JVP: Qd's fragments reloaded per block in chunks of QDC k8 steps, two chunks in flight */
constexpr int kF32Qdc = 2;

template <int D, int BN, bool JVP, int ST, bool PRECISE, bool QREG, bool SF, bool MPASS = false, bool DM = false>
__global__ void __launch_bounds__(384, 1) fwd_f32_sm90a_kernel(const __grid_constant__ FwdArgs a,
                                                                const __grid_constant__ Sm90Maps tm, int64_t hg) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  typedef Sm90F32<D, BN, JVP, ST, PRECISE> C;
  constexpr int NT = C::NT, DT = C::DT, BM = C::BM, QC = C::QC, NCH = C::KS / QC;
  constexpr int QDC = kF32Qdc, NQD = C::KS / QDC;
  constexpr bool QDKEEP = QREG && JVP && !PRECISE;
  constexpr bool SMALL1 = PRECISE && SF; /* 3xTF32 in the SMALLFIRST order (Q's products) */
  static_assert(!SMALL1 || NCH <= 2, "SMALLFIRST: Q in one or two chunks");
  static_assert(!SMALL1 || NCH == 1 || (!JVP && !QREG), "SMALLFIRST in two chunks: the forward without QREG");
  static_assert(!QREG || NCH == 1, "Q's fragments kept in registers: one chunk");
  static_assert(!QREG || !JVP || C::KS % QDC == 0, "QREG JVP: whole chunks of Qd");
  extern __shared__ __align__(1024) unsigned char smraw[];
  const uint32_t sbase = (smem_u32(smraw) + 1023u) & ~1023u;
  unsigned char *sm = smraw + (sbase - smem_u32(smraw)); /* generic pointer to sbase */
  const uint32_t sKV = sbase + C::KV_OFF, sQ = sbase + C::Q_OFF;
  unsigned char *smq = sm + C::Q_OFF, *smqd = sm + C::QD_OFF; /* generic pointers to the Q, Qd tiles */
  const uint32_t bar = sbase + C::BAR_OFF; /* full[ST], conv[ST], empty[ST], q */
  const uint32_t bar_conv = bar + 8 * ST, bar_empty = bar + 16 * ST, bar_q = bar + 24 * ST;

  const jfa_problem_t &p = a.p;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  /* longest (causal) blocks first, causal calls in groups of hg heads (common/cta_order.cuh) */
  const cta_xyz_t cta = cta_grouped(hg, 1);
  const int64_t b = cta.z, h = cta.y, hk = h / (p.Hq / p.Hkv);
  const int64_t m0 = (int64_t)(gridDim.x - 1 - cta.x) * BM;
  int64_t kend = p.Nk;
  if (p.causal) {
    const int64_t last_q = min(m0 + BM, p.Nq) - 1;
    kend = min(p.Nk, max((int64_t)0, p.q_pos0 + last_q - p.k_pos0 + 1));
  }
  const int nblk = (int)((kend + BN - 1) / BN);

  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < ST; ++s) {
      mbar_init(bar + 8 * s, 1);
      mbar_init(bar_conv + 8 * s, 96); /* every converter thread */
      mbar_init(bar_empty + 8 * s, 8); /* one arrival per consumer warp */
    }
    mbar_init(bar_q, 1);
    mbar_fence_init();
  }
  __syncthreads();

  if (warp < 4) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n" ::: "memory");
    if (warp == 0) {
      /* the TMA producer */
      if (lane == 0 && nblk > 0) {
        const CUtensorMap *mk[4] = {&tm.k, &tm.v, &tm.kd, &tm.vd};
        mbar_arrive_expect_tx(bar_q, C::NSET * C::Q_TILE);
#pragma unroll
        for (int sl = 0; sl < D / 32; ++sl) {
          tma_load_4d(sQ + sl * BM * 128, &tm.q, bar_q, sl * 32, (int)m0, (int)h, (int)b);
          if (JVP) tma_load_4d(sbase + C::QD_OFF + sl * BM * 128, &tm.qd, bar_q, sl * 32, (int)m0, (int)h, (int)b);
        }
        for (int j = 0; j < nblk; ++j) {
          const int st = j % ST, use = j / ST;
          if (use > 0) mbar_wait(bar_empty + 8 * st, (uint32_t)((use - 1) & 1));
          const uint32_t full = bar + 8 * st, dst = sKV + st * C::STAGE_BYTES;
          mbar_arrive_expect_tx(full, C::TMA_BYTES);
#pragma unroll
          for (int part = 0; part < 2 * C::NSET; ++part)
#pragma unroll
            for (int sl = 0; sl < D / 32; ++sl) {
              /* parts: K, V, Kd, Vd; K (Kd) slabs at the K pitch, V (Vd) at BN rows */
              const uint32_t off = (part & 1) ? C::v_raw(part >> 1) + sl * BN * 128 : C::k_raw(part >> 1) + sl * C::KP;
              tma_load_4d(dst + off, mk[part], full, sl * 32, j * BN, (int)hk, (int)b);
            }
        }
      }
    } else {
      /* the converters */
      const int tid = threadIdx.x - 32;
      for (int j = 0; j < nblk; ++j) {
        const int st = j % ST;
        mbar_wait(bar + 8 * st, (uint32_t)((j / ST) & 1));
        f32_convert_stage<D, BN, JVP, ST, PRECISE>(sm + C::KV_OFF + st * C::STAGE_BYTES, tid);
        fence_proxy_async_smem();
        mbar_arrive(bar_conv + 8 * st);
      }
    }
  } else {
    /* consumer warpgroups: 64 rows each, 16 per warp */
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    const int cw = warp - 4, wg = cw >> 2;
    const int wrow = wg * 64 + (cw & 3) * 16; /* CTA-local first row of this warp */
    const int g = lane >> 2, t4 = lane & 3;
    float o[1][DT][4];
    float u[1][JVP ? DT : 1][4];
    float mrow[1][2], lrow[1][2], nrow[1][2], crow[1][2];
    fwd_init_state<1, DT, JVP>(o, u, mrow, lrow, nrow, crow);
    if (nblk > 0) mbar_wait(bar_q, 0);

    float s[1][NT][4], sd[1][JVP ? NT : 1][4];
    uint32_t qh[QC][4], ql[QC][4];
    uint32_t qha[SMALL1 && NCH > 1 ? C::KS : 1][4]; /* SMALLFIRST in two chunks: Q's hi fragments of every step */
    uint32_t qdh[QREG && JVP ? 2 : 1][QDC][4], qdl[QREG && JVP ? 2 : 1][QDC][4];
    if (QREG && nblk > 0) f32_q_frags<QC, BM, PRECISE>(qh, ql, smq, wrow + g, g, t4, 0);
    /* QDKEEP (QREG JVP, TF32: one plane a fragment): Qd's fragments kept as well */
    uint32_t qdk[QDKEEP ? QC : 1][4], qdk_lo[QDKEEP ? QC : 1][4]; /* qdk_lo: f32_split<false>'s zeros, unread */
    if constexpr (QDKEEP) {
      if (nblk > 0) f32_q_frags<QC, BM, PRECISE>(qdk, qdk_lo, smqd, wrow + g, g, t4, 0);
    }
    /* DM (a boolean dense mask, family.cu): this lane's two rows' mask words of the block, then in place their
       visibility bits (the words and the causal / key-count limits combined: fwd_softmax_block's BITS); unmasked
       and causal: never read */
    constexpr int NWD = NT > 8 ? NT / 8 : 1;
    uint64_t dw[1][2][NWD];
#pragma unroll
    for (int w = 0; w < NWD; ++w) dw[0][0][w] = dw[0][1][w] = 0;
    if (wg == 1 && nblk > 0) named_bar_arrive(1, 256); /* warpgroup 0 takes the tensor cores first */
    for (int j = 0; j < nblk; ++j) {
      const int st = j % ST;
      const uint32_t kv = sKV + st * C::STAGE_BYTES;
      if constexpr (QREG && JVP) {
        /* S = Q K^T, Sd = Q Kd^T + Qd K^T: Q's fragments kept (TF32: Qd's too, QDKEEP); 3xTF32 reloads
           Qd's in chunks of QDC k8 steps, the first before this turn, each next one while the
           previous chunk's products run */
        if (!QDKEEP) f32_q_frags<QDC, BM, PRECISE>(qdh[0], qdl[0], smqd, wrow + g, g, t4, 0);
        mbar_wait(bar_conv + 8 * st, (uint32_t)((j / ST) & 1));
        named_bar_sync(1 + wg, 256);
        wg_fence();
        if constexpr (SMALL1) {
          /* SMALLFIRST: S's and Q Kd^T's small products of every k8 step, then their hi * hi ones */
#pragma unroll
          for (int part = 0; part < 2; ++part)
#pragma unroll
            for (int kk = 0; kk < C::KS; ++kk)
              f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qh[kk], ql[kk], kv, kk, 0, part);
        } else {
#pragma unroll
          for (int kk = 0; kk < C::KS; ++kk)
            f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qh[kk], ql[kk], kv, kk, 0);
        }
        if constexpr (QDKEEP) {
#pragma unroll
          for (int kk = 0; kk < C::KS; ++kk)
            f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qdk[kk], qdk[kk], kv, kk, 1);
          wg_commit();
        } else {
#pragma unroll
          for (int cd = 0; cd < NQD; ++cd) {
            if (cd > 0) {
              if (cd >= 2) wg_wait<1>(); /* chunk cd - 2 has read this buffer */
              f32_q_frags<QDC, BM, PRECISE>(qdh[cd & 1], qdl[cd & 1], smqd, wrow + g, g, t4, cd * QDC);
              wg_fence();
            }
#pragma unroll
            for (int c = 0; c < QDC; ++c)
              f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qdh[cd & 1][c], qdl[cd & 1][c], kv,
                                                  cd * QDC + c, 1);
            wg_commit();
          }
        }
      } else if constexpr (SMALL1 && NCH > 1) {
        /* the D = 128 forward, SMALLFIRST: the small products of both chunks of Q's fragments, then
           the hi * hi products of every k8 step (hi parts kept, qha; lo parts in one chunk buffer) */
        f32_q_frags_hk<QC, BM, C::KS>(qha, ql, smq, wrow + g, g, t4, 0);
        mbar_wait(bar_conv + 8 * st, (uint32_t)((j / ST) & 1));
        named_bar_sync(1 + wg, 256);
        wg_fence();
#pragma unroll
        for (int c = 0; c < QC; ++c)
          f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qha[c], ql[c], kv, c, 0, 0);
        wg_commit();
#pragma unroll
        for (int ch = 1; ch < NCH; ++ch) {
          wg_wait<0>(); /* the previous chunk has read ql */
          f32_q_frags_hk<QC, BM, C::KS>(qha, ql, smq, wrow + g, g, t4, ch * QC);
          wg_fence();
#pragma unroll
          for (int c = 0; c < QC; ++c)
            f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qha[ch * QC + c], ql[c], kv, ch * QC + c,
                                                0, 0);
        }
#pragma unroll
        for (int kk = 0; kk < C::KS; ++kk)
          f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qha[kk], ql[0], kv, kk, 0, 1);
        wg_commit();
      } else {
        /* S = Q K^T (, Sd = Q Kd^T + Qd K^T): pass 0 with Q's fragments, pass 1 (JVP) with Qd's,
           NCH chunks of QC k8 steps each; the fragments of the first chunk before this turn */
        if (!QREG) f32_q_frags<QC, BM, PRECISE>(qh, ql, smq, wrow + g, g, t4, 0);
        mbar_wait(bar_conv + 8 * st, (uint32_t)((j / ST) & 1));
        named_bar_sync(1 + wg, 256);
#pragma unroll
        for (int it = 0; it < (JVP ? 2 : 1) * NCH; ++it) {
          const int pass = it / NCH, ch = it % NCH;
          if (it > 0) {
            wg_wait<0>(); /* the previous chunk has read qh, ql */
            f32_q_frags<QC, BM, PRECISE>(qh, ql, pass ? smqd : smq, wrow + g, g, t4, ch * QC);
          }
          wg_fence();
          if (SMALL1 && pass == 0) {
            /* SMALLFIRST (one chunk): the small products of every k8 step, then the hi * hi ones */
#pragma unroll
            for (int part = 0; part < 2; ++part)
#pragma unroll
              for (int c = 0; c < QC; ++c)
                f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qh[c], ql[c], kv, c, 0, part);
          } else {
#pragma unroll
            for (int c = 0; c < QC; ++c)
              f32_s_step<D, BN, JVP, ST, PRECISE>(&s[0][0][0], &sd[0][0][0], qh[c], ql[c], kv, ch * QC + c, pass);
          }
          wg_commit();
        }
      }
      if (!(wg == 1 && j == nblk - 1)) named_bar_arrive(2 - wg, 256);
      /* DM: the rows' mask words of block j (the bit-packed rows of its block map, from L2), loaded while the score
         products run (issued here, not before them: held across the products, the 3xTF32 JVP spilled) */
      if constexpr (DM) {
#pragma unroll
        for (int rr = 0; rr < 2; ++rr) mask_row_words(a.mk, b, h, m0 + wrow + g + rr * 8, (int64_t)j * BN, dw[0][rr]);
      }
      wg_wait<0>();
      wg_reg_fence<NT * 4>(&s[0][0][0]);
      if (JVP) wg_reg_fence<NT * 4>(&sd[0][0][0]);

      BlockMask bm = fwd_block_mask<BN, false>(a, m0, (int64_t)j * BN, 0, 0);
      if constexpr (DM) {
        /* every block per element: row rl sees columns c < klim with c - rl <= cdiff (causal) whose mask bit is
           set; BN < 64: the block is part of its word (bits from key kb0 % 64) */
        bm.need = true;
        const int sh = BN < 64 ? (int)(bm.kb0 & 63) : 0;
#pragma unroll
        for (int rr = 0; rr < 2; ++rr) {
          const int rl = wrow + g + rr * 8;
          const int hi = (int)min((int64_t)bm.klim, max((int64_t)0, (int64_t)bm.cdiff + rl + 1));
#pragma unroll
          for (int k = 0; k < NWD; ++k)
            dw[0][rr][k] = (bits_range(0, min(max(hi - 64 * k, 0), 64)) & (dw[0][rr][k] >> sh)) >> (2 * t4);
        }
      }
      fwd_softmax_block<1, NT, DT, JVP, DM, true, DM, 0, MPASS, JVP>(a, bm, b, h, m0, wrow, g, t4, nullptr, nullptr, s,
                                                                     sd, o, u, mrow, lrow, nrow, crow, dw);

      /* O += P V (, U += P (Sd - c) V + P Vd): P's fragments as A (the key permutation of Vt) */
      uint32_t ph[NT][4], pl[NT][4], pdh[JVP ? NT : 1][4], pdl[JVP ? NT : 1][4];
#pragma unroll
      for (int kk = 0; kk < NT; ++kk) {
        f32_acc_as_a<PRECISE>(s[0][kk], ph[kk], pl[kk]);
        if (JVP) f32_acc_as_a<PRECISE>(sd[0][JVP ? kk : 0], pdh[JVP ? kk : 0], pdl[JVP ? kk : 0]);
      }
      wg_reg_fence<DT * 4>(&o[0][0][0]);
      if (JVP) wg_reg_fence<DT * 4>(&u[0][0][0]);
      wg_fence();
#pragma unroll
      for (int kk = 0; kk < NT; ++kk) {
        const uint32_t vo = (kk >> 2) * C::VP + (kk & 3) * 32;
        const uint64_t v_h = wg_desc(kv + C::vt_hi(0) + vo, 16, 1024), v_l = wg_desc(kv + C::vt_lo(0) + vo, 16, 1024);
        f32_wg_step<D, PRECISE>(&o[0][0][0], ph[kk], pl[kk], v_h, v_l, false);
        if (JVP) {
          const uint64_t vd_h = wg_desc(kv + C::vt_hi(1) + vo, 16, 1024);
          const uint64_t vd_l = wg_desc(kv + C::vt_lo(1) + vo, 16, 1024);
          f32_wg_step<D, PRECISE>(&u[0][0][0], pdh[JVP ? kk : 0], pdl[JVP ? kk : 0], v_h, v_l, false);
          f32_wg_step<D, PRECISE>(&u[0][0][0], ph[kk], pl[kk], vd_h, vd_l, false);
        }
      }
      wg_commit();
      wg_wait<0>();
      wg_reg_fence<DT * 4>(&o[0][0][0]);
      if (JVP) wg_reg_fence<DT * 4>(&u[0][0][0]);
      __syncwarp();
      if (lane == 0) mbar_arrive(bar_empty + 8 * st); /* this warp is done with block j */
    }
    fwd_epilogue<float, 1, DT, JVP>(a, b, h, m0 + wrow, g, t4, o, u, mrow, lrow, nrow, crow);
  }
#endif
}

template <int D, int BN, bool JVP, int ST, bool PRECISE, bool QREG, bool SF = true, bool MPASS = false, bool DM = false>
static jfa_status_t launch_f32_sm90a(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st) {
  typedef Sm90F32<D, BN, JVP, ST, PRECISE> C;
  static_assert(C::SMEM <= 232448, "shared memory beyond the sm_90 opt-in limit");
  Sm90Maps tm;
  JFA_CHECK(sm90_fwd_maps(&tm, t, C::BM, BN, JVP));
  auto kern = fwd_f32_sm90a_kernel<D, BN, JVP, ST, PRECISE, QREG, SF, MPASS, DM>;
  JFA_CHECK(smem_optin(kern, C::SMEM));
  dim3 grid((unsigned)((a.p.Nq + C::BM - 1) / C::BM), (unsigned)a.p.Hq, (unsigned)a.p.B);
  const int64_t hg = fwd_causal_group(a.p, a.masked, D, 4, JVP ? 4 : 2, "JFA_TUNE_SM90_FWD_HG");
  kern<<<grid, C::NTHREADS, C::SMEM, st>>>(a, tm, hg);
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* The float32 forward / JVP of tuning variant V (tiles.h) at head dim D; SF = false: 3xTF32's score
   products in the order before SMALLFIRST (tuning builds' JFA_TUNE_SM90_F32_FWD_ORDER=1 only); DM: with a boolean
   dense mask (variant 0 only: sm90_fwd_f32_d). */
template <int D, bool JVP, int V, bool SF = true, bool DM = false>
static jfa_status_t sm90_fwd_f32_variant(const FwdArgs &a, const Sm90Tensors &t, bool tf32, cudaStream_t st) {
  constexpr Sm90Tile c = sm90_tile(JVP ? OP_JVP : OP_FWD, JFA_DTYPE_FLOAT32, D, MASK_CLASS_CAUSAL, V);
  static_assert(c.D == D && c.dtype == JFA_DTYPE_FLOAT32, "no sm90 float32 tiles for this head dim");
  if (tf32)
    return launch_f32_sm90a<D, c.BNT ? c.BNT : c.BN, JVP, c.STT ? c.STT : c.ST, false, c.QREG, true, c.MPASS, DM>(a, t,
                                                                                                                st);
  return launch_f32_sm90a<D, c.BN, JVP, c.ST, true, c.QREG, SF, c.MPASS, DM>(a, t, st);
}

/* Tuning builds: float32 variant v (JFA_TUNE_SM90A) if tiles.h has it for this op and head dim,
   tried from V up to the table's last variant; else variant 0 (as sm90_fwd_tuned). */
template <int D, bool JVP, int V>
static jfa_status_t sm90_fwd_f32_tuned(const FwdArgs &a, const Sm90Tensors &t, bool tf32, cudaStream_t st, int v) {
  if constexpr (V > sm90_max_variant()) {
    return sm90_fwd_f32_variant<D, JVP, 0>(a, t, tf32, st);
  } else {
    if constexpr (sm90_has_tile(JVP ? OP_JVP : OP_FWD, JFA_DTYPE_FLOAT32, D, V))
      if (v == V) return sm90_fwd_f32_variant<D, JVP, V>(a, t, tf32, st);
    return sm90_fwd_f32_tuned<D, JVP, V + 1>(a, t, tf32, st, v);
  }
}

template <int D, bool JVP>
jfa_status_t sm90_fwd_f32_d(const FwdArgs &a, const Sm90Tensors &t, bool tf32, cudaStream_t st) {
  /* a boolean dense mask (family.cu: with or without causal, no other mask): variant 0's tiles with DM, every block's
     visibility per element from the mask's bit-packed rows */
  if (a.masked) {
    if (!a.mk.bm_bits) JFA_FAIL(JFA_ERROR_INTERNAL, "the sm90 float32 kernel's dense mask without its bit-packed rows");
    return sm90_fwd_f32_variant<D, JVP, 0, true, true>(a, t, tf32, st);
  }
#ifdef JFA_TUNING
  /* the score products' order before SMALLFIRST (variant 0's tiles): for the A / B of its cost and
     for showing test_gpu_f32's large-logit lse check failing on it */
  if (!tf32 && tune_variant("JFA_TUNE_SM90_F32_FWD_ORDER") == 1) return sm90_fwd_f32_variant<D, JVP, 0, false>(a, t, tf32, st);
  return sm90_fwd_f32_tuned<D, JVP, 1>(a, t, tf32, st, tune_variant("JFA_TUNE_SM90A"));
#else
  return sm90_fwd_f32_variant<D, JVP, 0>(a, t, tf32, st);
#endif
}

#endif /* JFA_KERNELS_SM90_FWD_F32_CUH_ */
