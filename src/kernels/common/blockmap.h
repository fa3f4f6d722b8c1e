/*
 * blockmap.h - the block map of a dense mask (attn_mask), the rules only: C11 and CUDA alike,
 * so that the CPU test (tests/cpu/test_cpu_blockmap.c) checks the same code the builder
 * kernel (common/mask_blockmap.cu) runs.
 *
 * The map cuts each (batch or 1, head or 1) slice of the mask into tiles of BMAP_TILE rows x
 * BMAP_TILE keys (the kernels' tiles are multiples of it or halves of it) and keeps per tile
 * two flags: BMAP_VISIBLE (some element lets its key through: bool true, or a bias other
 * than -inf) and BMAP_NEEDS (some element must be applied per element: bool false, or a bias
 * other than 0; NaN and +inf biases are both, so they reach the scores). A tile without
 * VISIBLE is empty (its keys are skipped), one without NEEDS is full (no per-element mask),
 * one with both is partial. The flags of a group of tiles are their OR, which keeps the rule.
 * A boolean mask is also bit-packed: one 64-bit word per (row, key tile), bit k = key
 * 64 kt + k visible (keys past Nk are 0); the rows' words are padded to an even count.
 *
 * A mask broadcast over its rows (row stride 0: a key-padding mask (B, 1, 1, Nk) expanded to
 * (B, 1, Nq, Nk)) has one row's map a slice (bmap_dims): its words and its one row tile's
 * flags serve every row and row tile, through strides of 0 between rows and row tiles. A
 * slice's map is then Nk / 64 words, not Nq x Nk / 64 (16 GiB at B = 8, N = 128K).
 */
#ifndef JFA_KERNELS_COMMON_BLOCKMAP_H_
#define JFA_KERNELS_COMMON_BLOCKMAP_H_

#include <stdint.h>

#ifdef __CUDACC__
#define BMAP_FN __host__ __device__ __forceinline__
#else
#define BMAP_FN static inline
#endif

enum { BMAP_TILE = 64, BMAP_VISIBLE = 1, BMAP_NEEDS = 2 };

/** Number of tiles of BMAP_TILE covering n rows or keys. */
BMAP_FN int64_t bmap_tiles(int64_t n) { return (n + BMAP_TILE - 1) / BMAP_TILE; }

/** 64-bit words per row of the bit-packed boolean mask (key tiles, rounded up to even). */
BMAP_FN int64_t bmap_words(int64_t Nk) { return (bmap_tiles(Nk) + 1) / 2 * 2; }

/** Bits of key tile kt that are keys (< Nk). */
BMAP_FN uint64_t bmap_valid(int64_t Nk, int64_t kt) {
  const int64_t n = Nk - kt * BMAP_TILE;
  return n >= 64 ? ~(uint64_t)0 : (n <= 0 ? (uint64_t)0 : (((uint64_t)1 << n) - 1));
}

/** The flags of one row of one key tile: vis = visible bits, need = bits to apply per element
 *  (both already limited to the valid keys). */
BMAP_FN int bmap_row_flags(uint64_t vis, uint64_t need) {
  return (vis ? BMAP_VISIBLE : 0) | (need ? BMAP_NEEDS : 0);
}

/** The flags of a boolean mask's row word (valid: bmap_valid of its tile). */
BMAP_FN int bmap_word_flags(uint64_t word, uint64_t valid) {
  return bmap_row_flags(word & valid, ~word & valid);
}

/** Whether column c (0 <= c < BN) of a key block at kb0 (a multiple of BN; BN a power of two
 *  from 8 to 256) is set in a row's words w, where w[0] is the word of key tile kb0 / 64. */
BMAP_FN int bmap_bit(const uint64_t *w, int64_t kb0, int c, int BN) {
  const int sh = (BN >= 64 ? 0 : (int)(kb0 & 63)) + c;
  return (int)((w[BN >= 64 ? c >> 6 : 0] >> (sh & 63)) & 1u);
}

/** The map's sizes and strides for one call (slices of the mask, Nq x Nk each; row_bcast: the mask's
 *  rows are all one row, stride 0). Words and flags of slice s, row i / row tile rt, key tile kt lie at
 *  s * word_slice + i * word_row + kt and s * flag_slice + rt * flag_rtile + kt. */
typedef struct {
  int64_t rows, rtiles;           /* rows and row tiles built a slice: Nq (1 broadcast), bmap_tiles(rows) */
  int64_t kt, kw;                 /* key tiles, words a row */
  int64_t word_slice, word_row;   /* words between slices, between rows (0 broadcast) */
  int64_t flag_slice, flag_rtile; /* flags between slices, between row tiles (0 broadcast) */
} BmapDims;

BMAP_FN BmapDims bmap_dims(int64_t Nq, int64_t Nk, int row_bcast) {
  BmapDims d;
  d.rows = row_bcast ? (Nq > 0 ? 1 : 0) : Nq;
  d.rtiles = bmap_tiles(d.rows);
  d.kt = bmap_tiles(Nk);
  d.kw = bmap_words(Nk);
  d.word_slice = d.rows * d.kw;
  d.word_row = row_bcast ? 0 : d.kw;
  d.flag_slice = d.rtiles * d.kt;
  d.flag_rtile = row_bcast ? 0 : d.kt;
  return d;
}

/** Whether a tile (or group) with these flags is empty (no key visible to any row). */
BMAP_FN int bmap_empty(int flags) { return (flags & BMAP_VISIBLE) == 0; }
/** Whether it needs the mask per element (partial); 0: full or empty. */
BMAP_FN int bmap_partial(int flags) { return flags == (BMAP_VISIBLE | BMAP_NEEDS); }

#endif /* JFA_KERNELS_COMMON_BLOCKMAP_H_ */
