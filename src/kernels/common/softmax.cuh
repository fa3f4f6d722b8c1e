/*
 * softmax.cuh - the pieces of jfa's tensor-core forward and fused forward+JVP
 * that do not depend on how the scores were multiplied: the kernel arguments, the
 * online softmax of one key block over a warp's score fragments (masking, running
 * max, the tangent's running reference) and the epilogue (normalisation, log-sum-exp,
 * mu, the merge of accumulate mode, the stores).
 *
 * Both the mma.sync kernel (sm80/fwd.cuh, sm_80+) and the wgmma kernel (sm90/fwd.cuh)
 * keep their scores and accumulators in the same per-warp fragment layout: a warp owns
 * 16 * MT query rows; for row slab mt, column chunk j (8 columns) and e = 0..3, element
 * [mt][j][e] is row g + 8 * (e / 2), column 8 j + 2 t4 + e % 2 of the slab, where
 * g = lane / 4 and t4 = lane % 4 (the C fragment of mma.m16n8k16, and of wgmma m64nN
 * per warp of the warpgroup).
 */
#ifndef JFA_KERNELS_COMMON_SOFTMAX_CUH_
#define JFA_KERNELS_COMMON_SOFTMAX_CUH_

#include "kernels/common/exp2_poly.h"
#include "kernels/family.h"

struct FwdArgs {
  jfa_problem_t p;
  View q, k, v, qd, kd, vd, o, lse, od, mu;
  MaskDev mk;
  int masked; /* masks beyond causal: the MASKED instantiation (per-row key intervals in shared
                 memory, dense mask per element); the others keep the causal-only code */
  int accumulate;
  int Dreal;
  float scale, scale_log2;
  int slice_pass; /* sm80 column slices (fwd.cuh): 0 every slice; 1 slices 1.., 2 slice 0 only */
  int band;       /* the sm90 16-bit kernels: a window or packed sequences aligned to the blocks (masked, no dense mask)
                     run by the unmasked kernels (sm90/fwd.cuh sm90_fwd_band): fwd_tile_keys' key range (a tile's
                     sequence, the window's edges), fwd_block_mask's window edges */
  int nsm;        /* the device's SMs (sm90 family.cu): the persistent kernels' grid (sm90/fwd_persist.cuh); 0 elsewhere */
};

/* Fills FwdArgs from a call (the sm80 and sm90 families share it). */
static inline void fwd_args_init(FwdArgs *a, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                 const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                                 const jfa_tensor_t *vd, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                 const jfa_tensor_t *od, const jfa_tensor_t *mu, int accumulate, const MaskDev *mk) {
  a->p = *p;
  a->mk = *mk;
  a->masked = problem_has_masks(p) ? 1 : 0;
  a->q = make_view(q);
  a->k = make_view(k);
  a->v = make_view(v);
  a->qd = make_view(qd);
  a->kd = make_view(kd);
  a->vd = make_view(vd);
  a->o = make_view(o);
  a->lse = make_view(lse);
  a->od = make_view(od);
  a->mu = make_view(mu);
  a->accumulate = accumulate;
  a->slice_pass = 0;
  a->band = 0;
  a->nsm = 0;
  a->Dreal = (int)p->D;
  a->scale = (float)p->scale;
  a->scale_log2 = (float)(p->scale * 1.4426950408889634);
}

/* Per-element masking of one key block: which rule applies (see fwd_softmax_block). */
struct BlockMask {
  bool need;   /* some element of the block may be masked */
  bool ivl;    /* MASKED: some row's key interval cuts the block (need before the dense mask's class is added) */
  int klim;    /* columns >= klim are past the keys */
  int cdiff;   /* causal (and a band's right edge): column c is visible to CTA-local row r only if c - r <= cdiff */
  int clo;     /* a band's left edge (FwdArgs band): column c is visible to CTA-local row r only if c - r >= clo */
  int64_t kb0; /* first key of the block */
  bool dense;  /* MASKED: the dense mask applies per element (a partial block of its block map) */
  const unsigned char *bias; /* sm80: an additive dense mask's tile of the block in shared memory (rows CTA-local, bias_pitch
                                bytes apart: mask_bias_pair), or NULL; the sm90 MASKED kernels (BITS) use bias_s */
  int bias_pitch;            /* its bytes a row (sm80) */
  uint32_t bias_s;           /* the sm90 MASKED kernels: the tile's shared-memory address, or 0 */
  uint32_t bias_slab;        /* and its slabs' bytes (its rows x 128; mask_bias_swz_off) */
};

/* The mask of key block kb0.. (BN keys) for the CTA's rows m0.. (unmasked and causal
   problems; the MASKED path also uses kin_lo / kin_hi, the keys visible to every row).
   BM (the CTA's rows; the sm90 16-bit kernels, 0 elsewhere): unmasked kernels running a band (FwdArgs band) add
   the window's edges, clo and cdiff relative to the block's first key and the CTA's first row, and need the
   per-element test where either edge crosses the block's BM x BN elements. */
template <int BN, bool MASKED, int BM = 0>
__host__ __device__ __forceinline__ BlockMask fwd_block_mask(const FwdArgs &a, int64_t m0, int64_t kb0, int kin_lo,
                                                             int kin_hi) {
  const jfa_problem_t &p = a.p;
  BlockMask bm;
  bm.kb0 = kb0;
  bm.dense = false;
  bm.bias = nullptr;
  bm.bias_pitch = 0;
  bm.bias_s = 0;
  bm.bias_slab = 0;
  bm.need = MASKED ? (kb0 < kin_lo || kb0 + BN > kin_hi)
                   : (kb0 + BN > p.Nk || (p.causal && p.k_pos0 + kb0 + BN - 1 > p.q_pos0 + m0));
  bm.ivl = bm.need;
  bm.klim = (int)min((int64_t)BN, p.Nk - kb0);
  bm.cdiff = 1 << 30;
  bm.clo = -(1 << 30);
  /* key kb0 + c of row m0 + r: rel = pos_k - pos_q = (c - r) - cd */
  const int64_t cd = (p.q_pos0 + m0) - (p.k_pos0 + kb0);
  auto clampi = [](int64_t x) { return (int)max(min(x, (int64_t)(1 << 30)), -(int64_t)(1 << 30)); };
  if (p.causal) bm.cdiff = clampi(cd);
  if constexpr (!MASKED && BM > 0) {
    if (a.band) {
      /* the window: -wl <= rel <= wr (either side unbounded when negative) */
      if (a.mk.wr >= 0) bm.cdiff = min(bm.cdiff, clampi(cd + a.mk.wr));
      if (a.mk.wl >= 0) bm.clo = clampi(cd - a.mk.wl);
      bm.need = bm.need || bm.cdiff < BN - 1 || bm.clo > -(BM - 1);
    }
  }
  return bm;
}

/* The keys [*kbeg, *kend) the unmasked kernels' CTA rows m0.. (BM of them) may see: every key, the causal
   diagonal's of the last row, or (FwdArgs band) from the first row's window start to the last row's end, within
   the rows' sequence where packed sequences are aligned to the blocks (mask_packed_aligned: the BM rows lie in one
   sequence, whose keys start and end at block boundaries, and its positions are the global ones shifted alike for
   queries and keys) (none when that range is empty: rows before or after every key, or outside every sequence). A
   band's rows see rising intervals, so the range holds every row's; its blocks' per-element test is
   fwd_block_mask's (the sequence's edges are block edges: no element test). BAND false (the MASKED kernels, which
   never run a band): without that code. */
template <int BM, bool BAND = true>
__host__ __device__ __forceinline__ void fwd_tile_keys(const FwdArgs &a, int64_t m0, int64_t *kbeg,
                                                       int64_t *kend) {
  const jfa_problem_t &p = a.p;
  const int64_t d1 = p.q_pos0 + min(m0 + BM, p.Nq) - 1 - p.k_pos0; /* the last row's: key j has rel = j - d */
  int64_t lo = 0, hi = p.Nk;
  if (p.causal) hi = min(hi, max((int64_t)0, d1 + 1));
  if (BAND && a.band) {
    if (a.mk.wl >= 0) lo = max(lo, p.q_pos0 + m0 - p.k_pos0 - a.mk.wl);
    if (a.mk.wr >= 0) hi = min(hi, d1 + a.mk.wr + 1);
    if (a.mk.nseq > 0) {
      /* the rows' sequence, searched in 32 bits over cu_q (equal to cu_k; sm90_fwd_band takes offsets and positions
         below 2^31): the persistent JVP's producer warps, which run this, have 24 registers */
      const int64_t *cu = a.mk.cu_q;
      const int r = (int)(a.mk.q_pos0 + m0);
      int s0 = 0, s1 = (int)a.mk.nseq; /* cu[s0] <= r < cu[s1] (cu[0] = 0 <= r) */
      if (r >= (int)cu[s1]) s0 = s1 = 0; /* past the last sequence: no keys */
      while (s1 - s0 > 1) {
        const int mid = (s0 + s1) >> 1;
        if ((int)cu[mid] <= r) s0 = mid;
        else s1 = mid;
      }
      const int kp = (int)a.mk.k_pos0;
      lo = max(lo, (int64_t)((int)cu[s0] - kp));
      hi = s1 == s0 ? 0 : min(hi, (int64_t)((int)cu[s1] - kp));
    }
    if (hi <= lo) lo = hi = 0;
  }
  *kbeg = lo;
  *kend = hi;
}

/* 2^x with subnormal results flushed to zero: one MUFU.EX2 (exp2f also handles subnormals). */
__device__ __forceinline__ float exp2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/* Whether column c of CTA-local row rl is visible in a block that needs the mask, for the unmasked / causal rule
   (keys past Nk, the causal diagonal) or BITS (bit (nt & 7) * 8 + e of the row's word nt / 8: the sm90 MASKED
   path's combined bits); the other MASKED rules stay in fwd_softmax_block. */
template <bool BITS, int NW>
__device__ __forceinline__ bool fwd_elem_visible(const BlockMask &bm, const uint64_t (&dw)[NW], int nt, int e, int c,
                                                 int rl) {
  if constexpr (BITS) return ((dw[nt >> 3] >> ((nt & 7) * 8 + e)) & 1u) != 0;
  else return !(c >= bm.klim || c - rl > bm.cdiff || c - rl < bm.clo);
}

/* The sm90 MASKED kernels' 16-bit additive mask (BITS, FAST): a partial block's tile (bm.bias_s), staged by producer
   warp 1 in the swizzled layout (mask_bias_pair_swz), added to the raw scores as bias / scale (FAST: the max is taken
   over raw scores, scaled after). The visibility test (MPASS's pass, else the max loop's) then sets a key outside the
   rows' intervals to -inf whatever its bias (a NaN bias of a visible key gives a NaN row); a block inside every row's
   interval skips that test (fwd.cuh sets bm.need only from the intervals for an additive mask's partial block, since
   the nineteenth session). One pass with the visibility test in it spilled the D = 128 PVLAG consumers (188 bytes),
   two do not. */
template <int MT, int NT>
__device__ __forceinline__ void fwd_bias_pass(const FwdArgs &a, const BlockMask &bm, int wrow, int g, int t4,
                                              float (&s)[MT][NT][4]) {
  if (!bm.bias_s) return;
  const float bmul = 1.f / a.scale;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int rr = 0; rr < 2; ++rr)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        const int rl = wrow + mt * 16 + g + rr * 8;
        const float2 bb = mask_bias_pair_swz<NT * 8>(bm.bias_s, bm.bias_slab, a.mk.dm_kind, rl, nt * 8 + 2 * t4);
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float &x = s[mt][nt][rr * 2 + e];
          x = fmaf(e ? bb.y : bb.x, bmul, x);
        }
      }
}

/*
 * Online softmax of one key block for a warp's rows (CTA-local rows wrow + 16 mt + g (+ 8)).
 * On entry s holds Q K^T (unscaled) and, for the JVP, sd holds Qd K^T + Q Kd^T; on exit s
 * holds P (exp2 domain, relative to the running max) and sd holds P * (Sd - c), with o and u
 * rescaled to the new max (and u moved to the new reference c, see sm80/fwd.cuh).
 * s_lo / s_hi: the MASKED path's per-row key intervals (CTA-local rows); dw: its rows' bits of a
 * boolean dense mask (mask_row_words, read when bm.dense), a bias is read per element.
 * BITS (the sm90 kernel's MASKED path): dw instead holds each row's final visibility bits of the
 * block (key intervals and boolean dense mask combined, word k for columns 64 k.., shifted right by
 * 2 t4), so that a masked block tests one bit at a constant position per element.
 * FAST (needs scale > 0; an additive mask only as the sm90 MASKED kernels' staged bias / scale, added to the raw
 * scores before the max): the max is taken over the raw scores and each
 * probability is one FFMA and one ex2.approx.ftz (probabilities below 2^-126 of the row's
 * max flush to zero), instead of a multiply, a subtract and exp2f's subnormal handling.
 * EXPF (FAST only; the sm90 16-bit forward's tiles.h EXPF): of each 16 consecutive probabilities of a
 * thread's row (2 nt + e mod 16), the first EXPF take jfa_exp2_poly (common/exp2_poly.h: FMA pipe)
 * instead of MUFU.EX2; 0: every one on MUFU (the code before EXPF).
 * MPASS (unmasked or BITS: the 16-bit forward / JVP rows' tiles.h MPASS, sm90 and sm80): the per-element mask
 * as a pass of its own under one branch on bm.need per block, before the row max, instead of inside the max's loop, which
 * nvcc if-converts into a compare / select chain per element (PTX of the D = 64 forward: setp, sub, setp, or,
 * and, selp per score) that every block runs, unmasked ones included. The same test per element and the max
 * over the same values: the same results, bitwise.
 * LEAN (the sm90 JVPs: 16-bit unmasked / causal at D = 64, 96, 128, and float32): O and U rescaled only when a
 * row of the warp needs it (one vote per row pair: alpha 1 and no reference shift leave them as they are), and Sd
 * scaled once per row sum and inside P (s Sd - c) (one FFMA) instead of per element. H200 (tenth session): the JVP
 * +2-8%, the forward -1 to -10% (D = 96, 256: the branch in the PVLAG order), so the forward does not take it; the
 * JVP's CS (D = 192 / 256) and masked kernels neither (ptxas spilled 48 / 8 bytes). false: every block rescaled.
 * BIASV (sm80's float32 kernels, MASKED, not FAST / BITS / MPASS): an additive dense mask's biases of a row read
 * before its max loop (mask_bias_row) and applied by selects; the same values.
 */
template <int MT, int NT, int DT, bool JVP, bool MASKED, bool FAST = false, bool BITS = false, int EXPF = 0,
          bool MPASS = false, bool LEAN = false, bool BIASV = false>
__device__ __forceinline__ void fwd_softmax_block(const FwdArgs &a, const BlockMask &bm, int64_t b, int64_t h,
                                                  int64_t m0, int wrow, int g, int t4, const int *s_lo,
                                                  const int *s_hi, float (&s)[MT][NT][4],
                                                  float (&sd)[JVP ? MT : 1][JVP ? NT : 1][4],
                                                  float (&o)[MT][DT][4], float (&u)[JVP ? MT : 1][JVP ? DT : 1][4],
                                                  float (&mrow)[MT][2], float (&lrow)[MT][2], float (&nrow)[MT][2],
                                                  float (&crow)[JVP ? MT : 1][2],
                                                  const uint64_t (&dw)[MT][2][NT > 8 ? NT / 8 : 1]) {
  static_assert(EXPF == 0 || (FAST && EXPF <= 16), "EXPF: the FAST softmax, at most 16 of each 16");
  static_assert(!MPASS || BITS || !MASKED, "MPASS: unmasked or BITS");
  static_assert(!(MASKED && BITS) || FAST, "BITS: the sm90 kernels' FAST softmax (raw scores until the max)");
  const int64_t kb0 = bm.kb0;
  /* without MPASS (tuning rows of the sm90 forward / JVP), the bias pass alone before the max loop, whose per-element
     test then hides the keys outside the intervals (before the nineteenth session those rows dropped the biases) */
  if constexpr (!MPASS && MASKED && BITS) fwd_bias_pass<MT, NT>(a, bm, wrow, g, t4, s);
  if constexpr (MPASS) {
    if constexpr (!FAST) {
      /* not FAST (sm80): the scale first, the max loop's multiply moved here, so that a masked score is -inf
         whatever the scale's sign (the same product per element: the same values) */
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 4; ++e) s[mt][nt][e] *= a.scale_log2;
    }
    if constexpr (MASKED && BITS) fwd_bias_pass<MT, NT>(a, bm, wrow, g, t4, s);
    if (bm.need) {
#pragma unroll
      for (int mt = 0; mt < MT; ++mt)
#pragma unroll
        for (int rr = 0; rr < 2; ++rr)
#pragma unroll
          for (int nt = 0; nt < NT; ++nt)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int c = nt * 8 + 2 * t4 + e, rl = wrow + mt * 16 + g + rr * 8;
              if (!fwd_elem_visible<BITS>(bm, dw[mt][rr], nt, e, c, rl)) s[mt][nt][rr * 2 + e] = -INFINITY;
            }
    }
  }
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      const int rl = wrow + mt * 16 + g + rr * 8;
      /* masked: this row's keys relative to the block */
      const int rlo = MASKED && !BITS && bm.need ? s_lo[rl] - (int)kb0 : 0;
      const int rhi = MASKED && !BITS && bm.need ? s_hi[rl] - (int)kb0 : 0;
      float mx = -INFINITY;
      if (BIASV && MASKED && !BITS && !FAST && !MPASS && bm.need && bm.dense && !a.mk.bm_bits) {
        /* BIASV (sm80's float32 forward / JVP), an additive dense mask: the row's biases of the block read first,
           branch-free (mask_bias_row), then each score masked or biased by a select: the same values as the loop
           below, whose per-element branches kept each bias read and its latency apart (not for the 16-bit sm80
           kernels: ptxas spilled 28 bytes in the D = 64 JVP's) */
        float bv[NT][2];
        mask_bias_row<NT>(a.mk, b, h, min(m0 + rl, (int64_t)a.p.Nq - 1), kb0, t4, a.p.Nk, bv);
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int c = nt * 8 + 2 * t4 + e;
            const float val = s[mt][nt][rr * 2 + e] * a.scale_log2;
            s[mt][nt][rr * 2 + e] = c < rlo || c >= rhi ? -INFINITY : val + bv[nt][e] * 1.4426950408889634f;
            mx = fmax_nan(mx, s[mt][nt][rr * 2 + e]);
          }
      } else if (MASKED && !BITS && !FAST && !MPASS && bm.bias && bm.dense) {
        /* an additive mask's partial block staged in shared memory (sm80's 16-bit kernels): a column pair's biases
           one load, the key interval tested only where it cuts the block, no per-element branches (the loop below
           if-converts its chain of tests per element: 8.0 ms of a bf16 D = 128 N = 4096 forward's kernel against
           ~2 unmasked, seventeenth session) */
#pragma unroll
        for (int nt = 0; nt < NT; ++nt) {
          const float2 bb = mask_bias_pair(bm.bias, bm.bias_pitch, a.mk.dm_kind, rl, nt * 8 + 2 * t4);
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int c = nt * 8 + 2 * t4 + e;
            const float val = fmaf(s[mt][nt][rr * 2 + e], a.scale_log2, (e ? bb.y : bb.x) * 1.4426950408889634f);
            s[mt][nt][rr * 2 + e] = bm.ivl && (c < rlo || c >= rhi) ? -INFINITY : val;
            mx = fmax_nan(mx, s[mt][nt][rr * 2 + e]);
          }
        }
      } else
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float val = FAST || MPASS ? s[mt][nt][rr * 2 + e] : s[mt][nt][rr * 2 + e] * a.scale_log2;
          if (!MPASS && bm.need) {
            const int c = nt * 8 + 2 * t4 + e;
            if constexpr (BITS || !MASKED) {
              if (!fwd_elem_visible<BITS>(bm, dw[mt][rr], nt, e, c, rl)) val = -INFINITY;
            } else if (c < rlo || c >= rhi) {
              val = -INFINITY;
            } else if (bm.dense) {
              if (a.mk.bm_bits) {
                if (!mask_word_bit<NT * 8>(dw[mt][rr], kb0, c)) val = -INFINITY;
              } else if (!FAST) { /* FAST: boolean masks only (sm90 family.cu) */
                val += mask_dense(a.mk, b, h, m0 + rl, kb0 + c) * 1.4426950408889634f; /* bm.bias: the pass above */
              }
            }
          }
          s[mt][nt][rr * 2 + e] = val;
          mx = fmax_nan(mx, val);
        }
      mx = fmax_nan(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmax_nan(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      if (FAST) mx *= a.scale_log2; /* scale > 0: the max of the scaled scores */
      const float mnew = fmax_nan(mrow[mt][rr], mx); /* NaN stays NaN: the row comes out NaN */
      const float muse = mnew == -INFINITY ? 0.f : mnew;
      const float alpha = FAST ? exp2_ftz(mrow[mt][rr] - muse) : exp2f(mrow[mt][rr] - muse);
      const bool moved = mnew > mrow[mt][rr]; /* the row's max rose (first visible keys included) */
      mrow[mt][rr] = mnew;
      float ps = 0.f, psd = 0.f;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          const float x = FAST ? fmaf(s[mt][nt][rr * 2 + e], a.scale_log2, -muse) : s[mt][nt][rr * 2 + e] - muse;
          const float pv = EXPF > 0 && (2 * nt + e) % 16 < EXPF ? jfa_exp2_poly(x) : FAST ? exp2_ftz(x) : exp2f(x);
          s[mt][nt][rr * 2 + e] = pv;
          ps += pv;
          if (JVP) {
            float &sdr = sd[JVP ? mt : 0][JVP ? nt : 0][rr * 2 + e];
            if constexpr (!LEAN) sdr *= a.scale; /* LEAN: scaled once per row below and inside P (s Sd - c) */
            psd += pv * sdr;
          }
        }
      if (JVP && LEAN) psd *= a.scale;
      float shift = 0.f;
      if (JVP) {
        /* The reference c moves to the running mu = nu / l (full row sums) when the max of a
           row of the warp rose: that is when a new dominant key can move mu by a lot. Between
           moves c stays, which costs nothing (U keeps its reference; Od = U/l - (mu - c) O at
           the end, with mu - c small). */
        float &cr = crow[JVP ? mt : 0][rr];
        if (__any_sync(0xffffffffu, moved)) {
          float lf = lrow[mt][rr] * alpha + ps, nf = nrow[mt][rr] * alpha + psd;
          lf += __shfl_xor_sync(0xffffffffu, lf, 1);
          lf += __shfl_xor_sync(0xffffffffu, lf, 2);
          nf += __shfl_xor_sync(0xffffffffu, nf, 1);
          nf += __shfl_xor_sync(0xffffffffu, nf, 2);
          const float cnew = lf != 0.f ? nf / lf : 0.f;
          shift = cr - cnew;
          cr = cnew;
        }
        nrow[mt][rr] = nrow[mt][rr] * alpha + psd;
        const float c = cr;
#pragma unroll
        for (int nt = 0; nt < NT; ++nt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            float &sdr = sd[JVP ? mt : 0][JVP ? nt : 0][rr * 2 + e];
            if constexpr (LEAN) sdr = s[mt][nt][rr * 2 + e] * fmaf(sdr, a.scale, -c); /* P (s Sd - c) */
            else sdr = s[mt][nt][rr * 2 + e] * (sdr - c);
          }
      }
      lrow[mt][rr] = lrow[mt][rr] * alpha + ps; /* per-lane partial sums, reduced at the end */
      /* O (and U) rescaled only where a row of the warp needs it: once the running maxima settle, alpha is 1 and the
         reference stays (shift 0) for most blocks, where the rescale would compute o * 1 = o and fma(0, o, u) = u (a
         non-finite o reaches Od through its O term all the same). A NaN alpha != 1: rescaled, NaN kept. */
      if (!LEAN || __any_sync(0xffffffffu, alpha != 1.f || shift != 0.f)) {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt) {
          o[mt][dt][rr * 2] *= alpha;
          o[mt][dt][rr * 2 + 1] *= alpha;
          if (JVP) {
            /* U = alpha U + (c_old - c_new) O~ with O~ already rescaled, before this block is added */
            float *ur = u[JVP ? mt : 0][JVP ? dt : 0];
            ur[rr * 2] = fmaf(shift, o[mt][dt][rr * 2], ur[rr * 2] * alpha);
            ur[rr * 2 + 1] = fmaf(shift, o[mt][dt][rr * 2 + 1], ur[rr * 2 + 1] * alpha);
          }
        }
      }
    }
  }
}

/* Zeroes the accumulators and sets the running statistics of a warp's rows. */
template <int MT, int DT, bool JVP>
__device__ __forceinline__ void fwd_init_state(float (&o)[MT][DT][4], float (&u)[JVP ? MT : 1][JVP ? DT : 1][4],
                                               float (&mrow)[MT][2], float (&lrow)[MT][2], float (&nrow)[MT][2],
                                               float (&crow)[JVP ? MT : 1][2]) {
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        o[mt][dt][e] = 0.f;
        if (JVP) u[JVP ? mt : 0][JVP ? dt : 0][e] = 0.f;
      }
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      mrow[mt][rr] = -INFINITY;
      lrow[mt][rr] = 0.f;
      nrow[mt][rr] = 0.f;
      crow[JVP ? mt : 0][rr] = 0.f;
    }
  }
}

/*
 * Epilogue of a warp's rows (global rows r0 + 16 mt + g (+ 8)): reduces l (and nu) over the
 * row's 4 lanes, normalises, and writes o, lse (and od, mu) in the output dtype T, or merges
 * them into the fp32 accumulators (accumulate mode). Rows >= Nq and columns >= Dreal are
 * skipped. c0: the first output column of the accumulators (a column slice of the sm80 JVP at
 * D > 128); stats: write lse (and mu), false for all slices but one.
 */
template <typename T, int MT, int DT, bool JVP>
__device__ __forceinline__ void fwd_epilogue(const FwdArgs &a, int64_t b, int64_t h, int64_t r0, int g, int t4,
                                             float (&o)[MT][DT][4], float (&u)[JVP ? MT : 1][JVP ? DT : 1][4],
                                             float (&mrow)[MT][2], float (&lrow)[MT][2], float (&nrow)[MT][2],
                                             float (&crow)[JVP ? MT : 1][2], int c0 = 0, bool stats = true) {
  const jfa_problem_t &p = a.p;
  float la[MT][2], ma[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      float l = lrow[mt][rr];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      lrow[mt][rr] = l;
      if (JVP) {
        float nu = nrow[mt][rr];
        nu += __shfl_xor_sync(0xffffffffu, nu, 1);
        nu += __shfl_xor_sync(0xffffffffu, nu, 2);
        nrow[mt][rr] = nu;
      }
      la[mt][rr] = -INFINITY;
      ma[mt][rr] = 0.f;
      const int64_t i = r0 + mt * 16 + g + rr * 8;
      if (a.accumulate && i < p.Nq) {
        la[mt][rr] = ((const float *)a.lse.p)[voff(a.lse, b, h, i, 0)];
        if (JVP) ma[mt][rr] = ((const float *)a.mu.p)[voff(a.mu, b, h, i, 0)];
      }
    }
  __syncwarp();
#pragma unroll
  for (int mt = 0; mt < MT; ++mt)
#pragma unroll
    for (int rr = 0; rr < 2; ++rr) {
      const int64_t i = r0 + mt * 16 + g + rr * 8;
      if (i >= p.Nq) continue;
      const float l = lrow[mt][rr];
      /* l == 0: no visible key (O = 0, lse = -inf); a NaN l (a NaN score) gives NaN everywhere */
      const float inv = l != 0.f ? 1.f / l : 0.f;
      const float lse = l != 0.f ? (mrow[mt][rr] + log2f(l)) * 0.69314718055994531f : -INFINITY;
      const float mu = JVP ? nrow[mt][rr] * inv : 0.f; /* 0 for a row without keys */
      const float cref = JVP ? crow[JVP ? mt : 0][rr] : 0.f; /* U's reference, close to mu */
      float wa = 0.f, wp = 1.f, lse_n = lse, mu_n = mu;
      if (a.accumulate) {
        const float mx = fmax_nan(la[mt][rr], lse);
        wp = 0.f;
        lse_n = -INFINITY;
        mu_n = 0.f;
        if (mx != -INFINITY) {
          const float ea = expf(la[mt][rr] - mx), ep = expf(lse - mx), sum = ea + ep;
          lse_n = mx + logf(sum);
          wa = ea / sum;
          wp = ep / sum;
          mu_n = wa * ma[mt][rr] + wp * mu;
        }
      }
      if (!a.accumulate) {
#pragma unroll
        for (int dt = 0; dt < DT; ++dt)
#pragma unroll
          for (int e = 0; e < 2; ++e) {
            const int d = c0 + dt * 8 + 2 * t4 + e;
            if (d >= a.Dreal) continue;
            const float ov = o[mt][dt][rr * 2 + e] * inv;
            const float odv = JVP ? u[JVP ? mt : 0][JVP ? dt : 0][rr * 2 + e] * inv - (mu - cref) * ov : 0.f;
            ((T *)a.o.p)[voff(a.o, b, h, i, d)] = from_f<T>(ov);
            if (JVP) ((T *)a.od.p)[voff(a.od, b, h, i, d)] = from_f<T>(odv);
          }
      } else {
        /* the merge: the old o (od) of MC column chunks loaded first, then merged and stored (one
           load and one store per element as before, but the loads of a batch in flight together:
           loaded one by one, each waited for the previous store, which may alias for the compiler) */
        constexpr int MC = DT < 4 ? DT : 4;
#pragma unroll
        for (int dt0 = 0; dt0 < DT; dt0 += MC) {
          float oa[MC][2], oda[JVP ? MC : 1][2];
#pragma unroll
          for (int c = 0; c < MC; ++c)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int d = c0 + (dt0 + c) * 8 + 2 * t4 + e;
              oa[c][e] = 0.f;
              if (JVP) oda[JVP ? c : 0][e] = 0.f;
              if (dt0 + c >= DT || d >= a.Dreal) continue;
              oa[c][e] = ((const float *)a.o.p)[voff(a.o, b, h, i, d)];
              if (JVP) oda[JVP ? c : 0][e] = ((const float *)a.od.p)[voff(a.od, b, h, i, d)];
            }
#pragma unroll
          for (int c = 0; c < MC; ++c)
#pragma unroll
            for (int e = 0; e < 2; ++e) {
              const int dt = dt0 + c, d = c0 + dt * 8 + 2 * t4 + e;
              if (dt >= DT || d >= a.Dreal) continue;
              const float ov = o[mt][dt][rr * 2 + e] * inv;
              const float odv = JVP ? u[JVP ? mt : 0][JVP ? dt : 0][rr * 2 + e] * inv - (mu - cref) * ov : 0.f;
              const float oav = oa[c][e];
              if (JVP)
                ((float *)a.od.p)[voff(a.od, b, h, i, d)] =
                    (la[mt][rr] != -INFINITY ? wa * (oda[JVP ? c : 0][e] + (ma[mt][rr] - mu_n) * oav) : 0.f) +
                    (lse != -INFINITY ? wp * (odv + (mu - mu_n) * ov) : 0.f);
              /* an empty partial (lse = -inf) adds nothing; any other is weighed (cpu/merge.c) */
              ((float *)a.o.p)[voff(a.o, b, h, i, d)] =
                  (la[mt][rr] != -INFINITY ? wa * oav : 0.f) + (lse != -INFINITY ? wp * ov : 0.f);
            }
        }
      }
      if (stats && t4 == 0) {
        if (a.lse.p) ((float *)a.lse.p)[voff(a.lse, b, h, i, 0)] = lse_n;
        if (JVP && a.mu.p) ((float *)a.mu.p)[voff(a.mu, b, h, i, 0)] = mu_n;
      }
    }
}

#endif /* JFA_KERNELS_COMMON_SOFTMAX_CUH_ */
