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

/** Whether a tile (or group) with these flags is empty (no key visible to any row). */
BMAP_FN int bmap_empty(int flags) { return (flags & BMAP_VISIBLE) == 0; }
/** Whether it needs the mask per element (partial); 0: full or empty. */
BMAP_FN int bmap_partial(int flags) { return flags == (BMAP_VISIBLE | BMAP_NEEDS); }

#endif /* JFA_KERNELS_COMMON_BLOCKMAP_H_ */
