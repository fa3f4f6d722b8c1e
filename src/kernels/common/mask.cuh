/*
 * mask.cuh - the visibility rule of jfa_problem_t (core/backend.h) on the device:
 * MaskDev (causal, sliding window, packed sequences, dense mask), per-row key intervals,
 * per-key-block query ranges, the dense mask's additive term, and the host side that
 * fills MaskDev for a call (mask.cu).
 */
#ifndef JFA_KERNELS_COMMON_MASK_CUH_
#define JFA_KERNELS_COMMON_MASK_CUH_

#include <string.h>

#include "kernels/common/blockmap.h"
#include "kernels/common/view.cuh"

/** Device form of the visibility rule of jfa_problem_t (core/backend.h). Causal mask,
 *  sliding window and packed sequences give each query row one interval [lo, hi) of
 *  visible keys (mask_row_keys); the dense mask (dm_kind != 0) comes with its block map
 *  (blockmap.h, built by mask_setup): per BMAP_TILE x BMAP_TILE tile of each (batch or 1,
 *  head or 1) slice its flags (empty / full / partial), and for a boolean mask its bits.
 *  Indices are local to the block (query i, key j); cu_q / cu_k are device copies (or the caller's device arrays:
 *  JFA_PARAMS_SEQLENS_DEVICE, whose values nothing checked; every range derived from them is clamped). */
enum { MASK_DENSE_NONE = 0, MASK_DENSE_BOOL, MASK_DENSE_F32, MASK_DENSE_F16, MASK_DENSE_BF16 };
struct MaskDev {
  int causal, windowed, br, dm_kind;
  /* an additive dense mask the sm80 16-bit kernels stage in shared memory (mask_bias_tile_async) and the block map
     reads 16 bytes a lane: unit key stride, 16-byte aligned base and strides (mask_setup); sm80/family.cu clears it
     in a call's copy where the kernels do not stage tiles */
  int bias_vec;
  int64_t wl, wr, q_pos0, k_pos0, Nq, Nk, nseq;
  const int64_t *cu_q, *cu_k;
  View dm; /* (b, h, i, j); stride 0 on broadcast axes */
  const unsigned char *bm_flags; /* [slice][row tile][key tile]: mask_flags_at */
  const uint64_t *bm_bits;       /* boolean masks: [slice][row][bm_kw] bit-packed rows (mask_words_at), or NULL */
  int64_t bm_sb, bm_sh;          /* slice of (b, h): b * bm_sb + h * bm_sh */
  int64_t bm_kt, bm_kw;          /* key tiles, words a row */
  /* strides (blockmap.h BmapDims): words a slice, a row; flags a slice, a row tile. A mask broadcast over its rows
     has one row a slice, at strides 0 between rows and row tiles */
  int64_t bm_ws, bm_rw, bm_fs, bm_ft;
};

/** The block map's flags of slice s, row tile rt, key tile 0 (index by key tile). */
__host__ __device__ __forceinline__ const unsigned char *mask_flags_at(const MaskDev &m, int64_t s, int64_t rt) {
  return m.bm_flags + s * m.bm_fs + rt * m.bm_ft;
}

/** A boolean mask's words of slice s, row i, key tile 0 (index by key tile; row i + r at r * bm_rw further). */
__host__ __device__ __forceinline__ const uint64_t *mask_words_at(const MaskDev &m, int64_t s, int64_t i) {
  return m.bm_bits + s * m.bm_ws + i * m.bm_rw;
}

/** The sequence s in [0, n) with cu[s] <= x < cu[s + 1] (needs cu[0] <= x < cu[n]; skips empty ones). softmax.cuh
 *  fwd_tile_keys runs the same search in 32 bits (the persistent JVP's producer warps have 24 registers). */
__host__ __device__ __forceinline__ int64_t mask_seq_of(const int64_t *cu, int64_t n, int64_t x) {
  int64_t a = 0, z = n; /* cu[a] <= x < cu[z] */
  while (z - a > 1) {
    const int64_t mid = (a + z) >> 1;
    if (cu[mid] <= x) a = mid;
    else z = mid;
  }
  return a;
}

/** Keys [*lo, *hi) visible to query row i (before the dense mask); *lo == *hi when none; 0 <= *lo <= *hi <= Nk. */
__host__ __device__ __forceinline__ void mask_row_keys(const MaskDev &m, int64_t i, int64_t *lo, int64_t *hi) {
  int64_t kstart = 0, kend = m.Nk;
  int64_t d = m.q_pos0 + i - m.k_pos0; /* key j has rel = pos_k - pos_q = j - d */
  if (m.nseq > 0) {
    const int64_t r = m.q_pos0 + i;
    if (r < m.cu_q[0] || r >= m.cu_q[m.nseq]) {
      *lo = *hi = 0;
      return;
    }
    const int64_t a = mask_seq_of(m.cu_q, m.nseq, r);
    const int64_t q0 = m.cu_q[a], k0 = m.cu_k[a], k1 = m.cu_k[a + 1];
    const int64_t pos_q = r - q0 + (m.br ? (k1 - k0) - (m.cu_q[a + 1] - q0) : 0);
    kstart = k0 - m.k_pos0;
    kend = k1 - m.k_pos0;
    d = pos_q + k0 - m.k_pos0;
  }
  int64_t l = kstart > 0 ? kstart : 0, h = kend < m.Nk ? kend : m.Nk;
  if (m.causal && h > d + 1) h = d + 1;
  if (m.windowed && m.wr >= 0 && h > d + m.wr + 1) h = d + m.wr + 1;
  if (m.windowed && m.wl >= 0 && l < d - m.wl) l = d - m.wl;
  if (l > m.Nk) l = m.Nk; /* an empty interval inside [0, Nk] too (device offsets are unchecked: any values) */
  if (h < l) h = l;
  *lo = l;
  *hi = h;
}

/** Query rows [*ilo, *ihi) that may see a key of [j0, j1) (j0 < j1 <= Nk), before the dense
 *  mask: conservative (the band of causal / window is used within one packed sequence). */
__host__ __device__ __forceinline__ void mask_query_range(const MaskDev &m, int64_t j0, int64_t j1, int64_t *ilo,
                                                          int64_t *ihi) {
  int64_t lo = 0, hi = m.Nq, off = m.q_pos0 - m.k_pos0; /* row i has d = i + off (rel = j - d) */
  bool band = true;
  if (m.nseq > 0) {
    const int64_t g0 = m.k_pos0 + j0, g1 = m.k_pos0 + j1 - 1;
    if (g1 < m.cu_k[0] || g0 >= m.cu_k[m.nseq]) {
      *ilo = *ihi = 0;
      return;
    }
    const int64_t s0 = g0 < m.cu_k[0] ? 0 : mask_seq_of(m.cu_k, m.nseq, g0);
    const int64_t s1 = g1 >= m.cu_k[m.nseq] ? m.nseq - 1 : mask_seq_of(m.cu_k, m.nseq, g1);
    lo = m.cu_q[s0] - m.q_pos0;
    hi = m.cu_q[s1 + 1] - m.q_pos0;
    band = s0 == s1;
    if (band) {
      const int64_t lq = m.cu_q[s0 + 1] - m.cu_q[s0], lk = m.cu_k[s0 + 1] - m.cu_k[s0];
      off = m.q_pos0 - m.cu_q[s0] + (m.br ? lk - lq : 0) + m.cu_k[s0] - m.k_pos0;
    }
  }
  if (band) {
    /* visible needs j - d <= hr (causal: 0, window: win_right) and j - d >= -win_left */
    bool has_hr = m.causal != 0;
    int64_t hr = 0;
    if (m.windowed && m.wr >= 0) hr = has_hr ? min(hr, m.wr) : m.wr, has_hr = true;
    if (has_hr) lo = max(lo, j0 - hr - off);
    if (m.windowed && m.wl >= 0) hi = min(hi, j1 + m.wl - off);
  }
  lo = min(max(lo, (int64_t)0), m.Nq); /* inside [0, Nq] even when empty (device offsets are unchecked) */
  hi = min(hi, m.Nq);
  if (hi < lo) hi = lo;
  *ilo = lo;
  *ihi = hi;
}

/** Key range of a CTA's query rows [m0, m0 + BM) under the interval masks: the union
 *  [kbeg, kend) of the rows' intervals (what the CTA loads) and the keys [kin_lo, kin_hi)
 *  inside every row's interval (a key block inside it needs no per-element mask). */
struct CtaKeys {
  int kbeg, kend, kin_lo, kin_hi;
};

/** Puts the key intervals of rows m0.. (BM of them; rows >= Nq get an empty one) into s_lo,
 *  s_hi (shared memory, CTA-local rows; ints: the families take masks only with Nk < 2^30).
 *  Every thread of the CTA (nthreads of them) calls it; the caller syncs before reading. */
__device__ __forceinline__ void mask_rows_to_smem(const MaskDev &m, int64_t m0, int BM, int nthreads, int *s_lo,
                                                  int *s_hi) {
  for (int r = threadIdx.x; r < BM; r += nthreads) {
    int64_t lo = 0, hi = 0;
    if (m0 + r < m.Nq) mask_row_keys(m, m0 + r, &lo, &hi);
    s_lo[r] = (int)lo;
    s_hi[r] = (int)hi;
  }
}

/** The CtaKeys of rows m0.. from the intervals mask_rows_to_smem wrote (after a barrier)
 *  (the dense mask's classes come from its block map: mask_map_flags). Every lane of every warp
 *  calls it (whole warps: warp reductions): lane l takes rows l, l + 32, .., the warp reduces, so
 *  each warp reads BM / 32 rows a lane instead of walking all BM (min / max: the same result). */
__device__ __forceinline__ CtaKeys mask_cta_keys(const MaskDev &m, int64_t m0, int BM, const int *s_lo,
                                                 const int *s_hi) {
  int ulo = 0x7fffffff, uhi = 0, ilo = 0, ihi = 0x7fffffff;
  for (int r = (int)(threadIdx.x & 31); r < BM && m0 + r < m.Nq; r += 32) {
    const int lo = s_lo[r], hi = s_hi[r];
    if (lo < hi) ulo = min(ulo, lo), uhi = max(uhi, hi);
    ilo = max(ilo, lo);
    ihi = min(ihi, hi);
  }
  ulo = __reduce_min_sync(0xffffffffu, ulo);
  uhi = __reduce_max_sync(0xffffffffu, uhi);
  ilo = __reduce_max_sync(0xffffffffu, ilo);
  ihi = __reduce_min_sync(0xffffffffu, ihi);
  CtaKeys c;
  c.kbeg = ulo < uhi ? ulo : 0;
  c.kend = ulo < uhi ? uhi : 0;
  c.kin_lo = ilo;
  c.kin_hi = ihi;
  return c;
}

/** The key intervals of rows row0 + lane + 32 r (r < R; rows >= nq get an empty one) into iv, and over
 *  the rows < nq their union and intersection, reduced over the warp: (ulo, uhi, ilo, ihi), the union
 *  empty as ulo >= uhi. Every lane of one warp calls it, the intervals computed before any wait so that
 *  their latency (a packed sequence's binary search) can pass (the sm90 backward-JVP's producer warp 1;
 *  the sm90 backward's warp 1 has the same code inline: calling this there changes the masked D = 192
 *  kernel's machine code, not yet re-run on a GPU; ints: the families take masks only with Nq, Nk < 2^30). */
template <int R>
__device__ __forceinline__ int4 mask_warp_rows(const MaskDev &m, int row0, int nq, int lane, int2 (&iv)[R]) {
  int ulo = 0x7fffffff, uhi = 0, ilo = 0, ihi = 0x7fffffff;
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int i = row0 + lane + 32 * r;
    int lo = 0, hi = 0;
    if (i < nq) {
      int64_t lo64, hi64;
      mask_row_keys(m, i, &lo64, &hi64);
      lo = (int)lo64;
      hi = (int)hi64;
      ilo = max(ilo, lo);
      ihi = min(ihi, hi);
      if (lo < hi) ulo = min(ulo, lo), uhi = max(uhi, hi);
    }
    iv[r] = make_int2(lo, hi);
  }
  ulo = __reduce_min_sync(0xffffffffu, ulo);
  uhi = __reduce_max_sync(0xffffffffu, uhi);
  ilo = __reduce_max_sync(0xffffffffu, ilo);
  ihi = __reduce_min_sync(0xffffffffu, ihi);
  return make_int4(ulo, uhi, ilo, ihi);
}

/** The block map's flags (blockmap.h) of rows [r0, r1) and keys [k0, k1) (both non-empty,
 *  inside the problem) of slice (b, h): the OR over the BMAP_TILE tiles they touch.
 *  BMAP_VISIBLE alone (full) without a dense mask. */
__device__ __forceinline__ int mask_map_flags(const MaskDev &m, int64_t b, int64_t h, int64_t r0, int64_t r1,
                                              int64_t k0, int64_t k1) {
  if (!m.dm_kind) return BMAP_VISIBLE;
  const int64_t s = b * m.bm_sb + h * m.bm_sh;
  int fl = 0;
  for (int64_t rt = r0 / BMAP_TILE; rt <= (r1 - 1) / BMAP_TILE; ++rt) {
    const unsigned char *f = mask_flags_at(m, s, rt);
    for (int64_t kt = k0 / BMAP_TILE; kt <= (k1 - 1) / BMAP_TILE; ++kt) fl |= f[kt];
  }
  return fl;
}

/** The first key block jb' >= jb (of BN keys; jb' < nblk) that the dense mask does not empty
 *  for rows [r0, r1), or nblk. jb itself without a dense mask. */
__device__ __forceinline__ int mask_next_block(const MaskDev &m, int64_t b, int64_t h, int64_t r0, int64_t r1, int jb,
                                               int nblk, int BN) {
  if (!m.dm_kind) return jb;
  for (; jb < nblk; ++jb) {
    const int64_t k0 = (int64_t)jb * BN;
    if (!bmap_empty(mask_map_flags(m, b, h, r0, r1, k0, min(k0 + BN, m.Nk)))) return jb;
  }
  return nblk;
}

/** A row's bits of a boolean mask for the keys of one block, loaded ahead of the softmax:
 *  NWD 64-bit words (keys kb0 & ~63 ..), 0 past Nq. */
template <int NWD>
__device__ __forceinline__ void mask_row_words(const MaskDev &m, int64_t b, int64_t h, int64_t i, int64_t kb0,
                                               uint64_t (&w)[NWD]) {
  const uint64_t *row = mask_words_at(m, b * m.bm_sb + h * m.bm_sh, i) + (kb0 >> 6);
#pragma unroll
  for (int k = 0; k < NWD; ++k) w[k] = i < m.Nq && (kb0 >> 6) + k < m.bm_kw ? row[k] : 0;
}

/** Whether column c (0 <= c < BN) of the block at kb0 is visible in a row's words
 *  (mask_row_words with NWD = BN > 64 ? BN / 64 : 1). */
template <int BN>
__device__ __forceinline__ bool mask_word_bit(const uint64_t *w, int64_t kb0, int c) {
  return bmap_bit(w, kb0, c, BN) != 0;
}

/** Bits [lo, hi) of a 64-bit word (0 <= lo, hi <= 64; none when hi <= lo): a row's visible keys of one
 *  word, to combine with a boolean mask's bits (the sm90 forwards' BITS). */
__device__ __forceinline__ uint64_t bits_range(int lo, int hi) {
  const uint64_t h = hi >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << hi) - 1);
  const uint64_t l = lo >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << lo) - 1);
  return h & ~l;
}

/** Word k (keys 64 k.. of a block) of a row's visible keys [rlo, rhi), both relative to the block's first key: the
 *  sm90 MASKED forwards' per-row visibility bits (fwd.cuh block_bits, fwd_persist.cuh persist_block_bits). */
__device__ __forceinline__ uint64_t interval_word(int rlo, int rhi, int k) {
  return bits_range(min(max(rlo - 64 * k, 0), 64), min(max(rhi - 64 * k, 0), 64));
}

/** Issues cp.async copies of a boolean mask's bits of rows q0.. (BM of them) for keys n0..
 *  (NWB words, n0 a multiple of 64) into dst[BM][NWB] (shared memory, 8-byte aligned); rows
 *  past Nq are zero-filled. The caller commits and waits with its other copies. */
template <int BM, int NWB, int NTHREADS>
__device__ __forceinline__ void mask_words_async(uint64_t *dst, const MaskDev &m, int64_t b, int64_t h, int64_t q0,
                                                 int64_t n0) {
  const uint64_t *base = mask_words_at(m, b * m.bm_sb + h * m.bm_sh, 0) + (n0 >> 6);
  for (int idx = threadIdx.x; idx < BM * NWB; idx += NTHREADS) {
    const int r = idx / NWB, w = idx % NWB;
    const int64_t i = q0 + r;
    const bool ok = i < m.Nq && (n0 >> 6) + w < m.bm_kw;
    const uint64_t *src = ok ? base + i * m.bm_rw + w : m.bm_bits;
    const uint32_t sa = (uint32_t)__cvta_generic_to_shared(dst + idx);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8, %2;\n" ::"r"(sa), "l"(src), "r"(ok ? 8 : 0));
  }
}

/** Bytes of an element of an additive dense mask (MASK_DENSE_F32, _F16, _BF16). */
__host__ __device__ __forceinline__ int mask_bias_esize(int kind) { return kind == MASK_DENSE_F32 ? 4 : 2; }

/** Whether m is an additive dense mask of 16-bit biases (the kind the sm90 forward / JVP stage, family.cu). */
__host__ __device__ __forceinline__ bool mask_bias16(const MaskDev &m) {
  return m.dm_kind == MASK_DENSE_F16 || m.dm_kind == MASK_DENSE_BF16;
}

/** An additive dense mask's element as a float. */
__device__ __forceinline__ float mask_elem_float(float x) { return x; }
__device__ __forceinline__ float mask_elem_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float mask_elem_float(__nv_bfloat16 x) { return __bfloat162float(x); }

/** A 16-bit bias (kind MASK_DENSE_F16 or _BF16) from its bits, as a float. */
__device__ __forceinline__ float mask_bias16_float(int kind, unsigned short bits) {
  return kind == MASK_DENSE_F16 ? __half2float(__ushort_as_half(bits)) : __bfloat162float(__ushort_as_bfloat16(bits));
}

/** Two 16-bit biases packed in x (the first in the low half), bf16 (BF16) or fp16, as floats (exact): the sm90
 *  backward's ldmatrix fragments, converted with the kind known at compile time. */
template <bool BF16> __device__ __forceinline__ float2 mask_bias16x2_float(uint32_t x) {
  if constexpr (BF16) return make_float2(__uint_as_float(x << 16), __uint_as_float(x & 0xffff0000u));
  else return __half22float2(*reinterpret_cast<const __half2 *>(&x));
}

/** Element idx of an additive dense mask's data p (kind MASK_DENSE_F32, _F16 or _BF16) as a float. */
__device__ __forceinline__ float mask_bias_value(int kind, const void *p, int64_t idx) {
  if (kind == MASK_DENSE_F32) return mask_elem_float(((const float *)p)[idx]);
  if (kind == MASK_DENSE_F16) return mask_elem_float(((const __half *)p)[idx]);
  return mask_elem_float(((const __nv_bfloat16 *)p)[idx]);
}

template <int ES, int ROWS, int COLS, int NTHREADS>
__device__ __forceinline__ void mask_bias_tile_es(unsigned char *dst, int pitch, const MaskDev &m, int64_t b,
                                                  int64_t h, int64_t q0, int64_t k0) {
  constexpr int PER = 16 / ES, CPR = COLS / PER; /* elements a chunk, chunks a row */
  static_assert(COLS % PER == 0, "the tile's keys in 16-byte chunks");
  const unsigned char *base = (const unsigned char *)m.dm.p;
  const int64_t off0 = b * m.dm.sb + h * m.dm.sh + k0;
  const uint32_t sdst = (uint32_t)__cvta_generic_to_shared(dst);
#pragma unroll 2
  for (int idx = threadIdx.x; idx < ROWS * CPR; idx += NTHREADS) {
    const int r = idx / CPR, c = idx % CPR;
    const int64_t i = q0 + r, left = m.Nk - k0 - (int64_t)c * PER;
    const int bytes = i < m.Nq && left > 0 ? (left >= PER ? 16 : (int)left * ES) : 0;
    const unsigned char *src = bytes ? base + (off0 + i * m.dm.ss + (int64_t)c * PER) * ES : base;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(sdst + r * pitch + c * 16), "l"(src),
                 "r"(bytes));
  }
}

/** Issues cp.async copies of an additive dense mask's tile (m.bias_vec: unit key stride, 16-byte aligned base and
 *  strides) of rows q0.. (ROWS) and keys k0.. (COLS, k0 a multiple of 8) into dst (shared memory, 16-byte aligned,
 *  rows pitch bytes apart); rows past Nq and keys past Nk are zero-filled. The caller commits and waits with its
 *  other copies; mask_bias_at reads an element. */
template <int ROWS, int COLS, int NTHREADS>
__device__ __forceinline__ void mask_bias_tile_async(unsigned char *dst, int pitch, const MaskDev &m, int64_t b,
                                                     int64_t h, int64_t q0, int64_t k0) {
  if (m.dm_kind == MASK_DENSE_F32) mask_bias_tile_es<4, ROWS, COLS, NTHREADS>(dst, pitch, m, b, h, q0, k0);
  else mask_bias_tile_es<2, ROWS, COLS, NTHREADS>(dst, pitch, m, b, h, q0, k0);
}

/** The bias at (row r, key c) of a tile that mask_bias_tile_async staged (pitch bytes a row). */
__device__ __forceinline__ float mask_bias_at(const unsigned char *t, int pitch, int kind, int r, int c) {
  return mask_bias_value(kind, t + r * pitch, c);
}

/** The biases at (row r, keys c and c + 1; c even) of a tile that mask_bias_tile_async staged: one load. */
__device__ __forceinline__ float2 mask_bias_pair(const unsigned char *t, int pitch, int kind, int r, int c) {
  const unsigned char *row = t + r * pitch;
  if (kind == MASK_DENSE_F32) return *(const float2 *)(row + 4 * c);
  if (kind == MASK_DENSE_F16) return __half22float2(*(const __half2 *)(row + 2 * c));
  return __bfloat1622float2(*(const __nv_bfloat162 *)(row + 2 * c));
}

/* A 16-bit additive mask's tile of ROWS rows x COLS keys (a power of two >= 32) in the sm90 forward's swizzled layouts:
   COLS >= 64, as TMA's 128-byte swizzle writes it (fwd.cuh: one box of 64 keys x ROWS rows a slab, 1024-byte aligned):
   slab c / 64 of ROWS rows of 128 bytes, 16-byte chunk (c / 8) % 8 of row r at chunk ((c / 8) % 8) ^ (r % 8); COLS =
   32 (copied by producer warp 1's cp.async, mask_bias_tile_swz_warp): rows of 64 bytes, chunk c / 8 of row r at
   (c / 8) ^ ((r / 2) % 4). Either way the eight rows g of an mma fragment's column pair (chunk nt, word t4) fall into
   eight different banks' words. The byte offset of (row r, key c), slab = ROWS * 128: */
template <int COLS>
__device__ __forceinline__ uint32_t mask_bias_swz_off(int r, int c, uint32_t slab) {
  static_assert(COLS >= 32 && (COLS & (COLS - 1)) == 0, "swizzled bias tiles: a power of two >= 32 keys a row");
  if constexpr (COLS >= 64)
    return (uint32_t)(c >> 6) * slab + (uint32_t)(r * 128 + 16 * (((c >> 3) & 7) ^ (r & 7)) + 2 * (c & 7));
  else return (uint32_t)(r * 64 + 16 * ((c >> 3) ^ ((r >> 1) & 3)) + 2 * (c & 7));
}

/** One warp's cp.async copies of a 16-bit additive dense mask's tile (m.bias_vec) of 32 keys a row in the layout above:
 *  the tile's trows rows, of which rows q0 .. q0 + nrows - 1 are the mask's and the rest (rows past Nq) zeros, as TMA's
 *  out-of-bounds fill leaves them in the wider tiles; keys k0 .. k0 + 31 (k0 a multiple of 8; keys past Nk zero-filled)
 *  into sdst (shared memory, 16-byte aligned). The rows past Nq must not keep what shared memory held before: their
 *  scores, never stored, still take part in the JVP's warp-wide vote on when the tangent's reference moves
 *  (softmax.cuh), so stale values there made od's rounding depend on the previous kernel (test_gpu_masks case 79,
 *  thirty-fifth session). The caller commits / arrives. */
template <int COLS>
__device__ __forceinline__ void mask_bias_tile_swz_warp(uint32_t sdst, const MaskDev &m, int64_t b, int64_t h,
                                                        int64_t q0, int nrows, int trows, int64_t k0, int lane) {
  static_assert(COLS == 32, "wider tiles come by TMA");
  constexpr int CPR = COLS / 8, RSTEP = 32 / CPR; /* a lane keeps its chunk c; rows RSTEP apart */
  const int c = lane % CPR;
  const int64_t left = m.Nk - k0 - 8 * c;
  const int bytes = left >= 8 ? 16 : left > 0 ? (int)left * 2 : 0;
  const unsigned char *base = (const unsigned char *)m.dm.p;
  int64_t off = (b * m.dm.sb + h * m.dm.sh + (q0 + lane / CPR) * m.dm.ss + k0 + 8 * c) * 2;
  const int64_t step = (int64_t)RSTEP * m.dm.ss * 2;
#pragma unroll 1
  for (int r = lane / CPR; r < trows; r += RSTEP, off += step) {
    const uint32_t dst = sdst + mask_bias_swz_off<COLS>(r, 8 * c, 0);
    const int nb = r < nrows ? bytes : 0; /* 0: sixteen zero bytes (the source is not read) */
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(nb ? base + off : base), "r"(nb)
                 : "memory");
  }
}

/** The biases at (row r, keys c and c + 1; c even) of a tile in the layouts above at shared-memory address t (kind
 *  MASK_DENSE_F16 or _BF16): one 4-byte load (32-bit shared addresses: generic ones cost the sm90 consumers 64-bit
 *  address registers, and spills). */
template <int COLS>
__device__ __forceinline__ float2 mask_bias_pair_swz(uint32_t t, uint32_t slab, int kind, int r, int c) {
  const uint32_t at = t + mask_bias_swz_off<COLS>(r, c, slab);
  uint32_t x;
  asm volatile("ld.shared.b32 %0, [%1];\n" : "=r"(x) : "r"(at));
  return make_float2(mask_bias16_float(kind, (unsigned short)x), mask_bias16_float(kind, (unsigned short)(x >> 16)));
}

/** The dense mask's additive term for (b, h, i, j): bias, or 0 / -inf for a boolean mask. */
__device__ __forceinline__ float mask_dense(const MaskDev &m, int64_t b, int64_t h, int64_t i, int64_t j) {
  const int64_t off = b * m.dm.sb + h * m.dm.sh + i * m.dm.ss + j * m.dm.sd;
  switch (m.dm_kind) {
    case MASK_DENSE_BOOL: return ((const unsigned char *)m.dm.p)[off] ? 0.f : -INFINITY;
    case MASK_DENSE_F32:
    case MASK_DENSE_F16:
    case MASK_DENSE_BF16: return mask_bias_value(m.dm_kind, m.dm.p, off);
    default: return 0.f;
  }
}

/** An additive dense mask's biases of row i for the columns a thread of an mma fragment holds in a block at kb0:
 *  bv[nt][e] for column kb0 + 8 nt + 2 t4 + e, clamped to the last key (Nk - 1: the caller masks the columns past
 *  it), one switch on the mask's dtype for the row (mask_dense's per element); a boolean mask gives 0 / -inf. */
template <int NT>
__device__ __forceinline__ void mask_bias_row(const MaskDev &m, int64_t b, int64_t h, int64_t i, int64_t kb0, int t4,
                                              int64_t Nk, float (&bv)[NT][2]) {
  const int64_t base = b * m.dm.sb + h * m.dm.sh + i * m.dm.ss;
  int64_t off[NT][2];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) off[nt][e] = base + min(kb0 + nt * 8 + 2 * t4 + e, Nk - 1) * m.dm.sd;
  switch (m.dm_kind) {
    case MASK_DENSE_F32:
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) bv[nt][e] = ((const float *)m.dm.p)[off[nt][e]];
      break;
    case MASK_DENSE_F16:
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) bv[nt][e] = __half2float(((const __half *)m.dm.p)[off[nt][e]]);
      break;
    case MASK_DENSE_BF16:
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) bv[nt][e] = __bfloat162float(((const __nv_bfloat16 *)m.dm.p)[off[nt][e]]);
      break;
    default:
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int e = 0; e < 2; ++e) bv[nt][e] = mask_dense(m, b, h, i, min(kb0 + nt * 8 + 2 * t4 + e, Nk - 1));
  }
}

/** An additive dense mask's biases for the elements a thread of a transposed mma fragment holds (the backward's S^T:
 *  keys along its rows, queries along its columns): bv[nt][e] for query min(q0 + 8 nt + 2 t4 + (e & 1), Nq - 1) and
 *  key ka (e < 2) or kb (e >= 2) (the caller clamps the keys to the last one and masks what lies past Nq / Nk). The
 *  (batch, head) base and the keys' offsets once, each element one 64-bit add and a load, one switch on the dtype
 *  for the fragment (mask_dense's was per element, with four 64-bit products). */
template <int NQ, typename E>
__device__ __forceinline__ void mask_bias_cols_es(const E *p, int64_t base, int64_t ss, int64_t oa, int64_t ob,
                                                  int64_t q0, int t4, int64_t Nq, float (&bv)[NQ][4]) {
#pragma unroll
  for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const E *row = p + base + min(q0 + nt * 8 + 2 * t4 + e, Nq - 1) * ss;
      bv[nt][e] = mask_elem_float(row[oa]);
      bv[nt][e + 2] = mask_elem_float(row[ob]);
    }
}
template <int NQ>
__device__ __forceinline__ void mask_bias_cols(const MaskDev &m, int64_t b, int64_t h, int64_t q0, int t4, int64_t ka,
                                               int64_t kb, int64_t Nq, float (&bv)[NQ][4]) {
  const int64_t base = b * m.dm.sb + h * m.dm.sh, oa = ka * m.dm.sd, ob = kb * m.dm.sd;
  switch (m.dm_kind) {
    case MASK_DENSE_F32: mask_bias_cols_es<NQ>((const float *)m.dm.p, base, m.dm.ss, oa, ob, q0, t4, Nq, bv); break;
    case MASK_DENSE_F16: mask_bias_cols_es<NQ>((const __half *)m.dm.p, base, m.dm.ss, oa, ob, q0, t4, Nq, bv); break;
    case MASK_DENSE_BF16:
      mask_bias_cols_es<NQ>((const __nv_bfloat16 *)m.dm.p, base, m.dm.ss, oa, ob, q0, t4, Nq, bv);
      break;
    default:
#pragma unroll
      for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
        for (int e = 0; e < 4; ++e) bv[nt][e] = mask_dense(m, b, h, min(q0 + nt * 8 + 2 * t4 + (e & 1), Nq - 1), e < 2 ? ka : kb);
  }
}

/** Whether p has masks beyond causal (window, packed sequences, dense mask): the mask class
 *  of the tile configurations (MASK_CLASS_ANY; otherwise MASK_CLASS_CAUSAL). */
static inline bool problem_has_masks(const jfa_problem_t *p) {
  return p->windowed || p->nseq > 0 || p->dmask != nullptr;
}
/** Whether p's packed sequences are aligned to blocks of bm query rows and bn keys: self-attention offsets (cu_q and
 *  cu_k equal), every boundary inside the query rows a multiple of bm rows from q_pos0 and every boundary inside the
 *  keys a multiple of bn keys from k_pos0 (host arrays: jfa_problem_t's cu_q / cu_k). Then every block of bm rows and
 *  every block of bn keys lie in one sequence, where the per-sequence positions differ from the global ones by the same
 *  offset for queries and keys: the causal and window tests of the global rows hold (the sm90 bands: bwd.cuh
 *  sm90_bwd_band, fwd.cuh sm90_fwd_band). */
static inline bool mask_packed_aligned(const jfa_problem_t *p, int64_t bm, int64_t bn) {
  if (p->nseq <= 0 || !p->cu_q || !p->cu_k || p->seq_dev) return false; /* seq_dev: the host cannot read them */
  for (int64_t s = 0; s <= p->nseq; ++s) {
    if (p->cu_q[s] != p->cu_k[s]) return false;
    const int64_t bq = p->cu_q[s] - p->q_pos0, bk = p->cu_k[s] - p->k_pos0;
    if ((bq > 0 && bq < p->Nq && bq % bm != 0) || (bk > 0 && bk < p->Nk && bk % bn != 0)) return false;
  }
  return true;
}
/** MaskDev's fields from p (mask_setup's first step), the offsets left as p's host arrays (mask_setup uploads them;
 *  test_cpu_band runs the device functions on the host with them), no dense mask. */
static inline void mask_dev_fill(MaskDev *m, const jfa_problem_t *p) {
  memset(m, 0, sizeof(*m));
  m->causal = p->causal;
  m->windowed = p->windowed;
  m->wl = p->win_left;
  m->wr = p->win_right;
  m->q_pos0 = p->q_pos0;
  m->k_pos0 = p->k_pos0;
  m->Nq = p->Nq;
  m->Nk = p->Nk;
  m->nseq = p->nseq;
  m->br = p->seq_bottom_right;
  m->cu_q = p->cu_q;
  m->cu_k = p->cu_k;
}
/** Bytes of workspace mask_setup needs (after the caller's own use of the workspace, at a
 *  256-byte aligned offset): the packed-sequence offsets and the dense mask's block map
 *  (mask_blockmap.cu). */
size_t mask_ws_bytes(const jfa_problem_t *p);
/** Fills m from p; uploads cu_q / cu_k (host) to ws (mask_ws_bytes(p) bytes of device memory)
 *  and builds the dense mask's block map there, on the context's stream (mask.cu). */
jfa_status_t mask_setup(jfa_context_t *ctx, const jfa_problem_t *p, void *ws, MaskDev *m);
/** Builds the block map of p's dense mask (m->dm, dm_kind set) in ws and points m at it
 *  (mask_blockmap.cu). No-op without a dense mask. */
jfa_status_t mask_blockmap_build(cudaStream_t st, const jfa_problem_t *p, void *ws, MaskDev *m);

#endif /* JFA_KERNELS_COMMON_MASK_CUH_ */
