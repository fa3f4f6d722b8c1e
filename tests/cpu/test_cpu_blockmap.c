/*
 * test_cpu_blockmap.c - the rules of the dense mask's block map (src/kernels/common/blockmap.h,
 * which the CUDA builder and kernels run) against a brute-force reading of the mask: random
 * boolean and bias masks with odd sizes (Nq, Nk of 1, 63, 64, 65, 200, ...) whose tiles are
 * all-true, all-false, mixed or single-element, and bias tiles of 0, -inf, NaN and other
 * values. Builds the words and flags the way mask_blockmap.cu does (row flags per key tile,
 * OR over each tile's rows, OR over groups of tiles as the kernels' blocks read them) and
 * checks: a tile or block is empty iff no element lets a key through, full iff no element
 * needs the mask, and bmap_bit gives every element of every block shape (BN 16 to 128).
 * Masks broadcast over their rows (a key-padding mask expanded, row stride 0) build one row a
 * slice (bmap_dims): every row and block read through its zero strides must match the brute
 * force over the full mask, and the map's size must not grow with Nq.
 *
 * Run: ctest --test-dir build -R test_cpu_blockmap   (JFA_TEST_SEED=<n> to repeat)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/blockmap.h"
#include "testutil.h"

/* One mask: Nq x Nk, vis / need per element (bool: need = !vis; bias: vis = != -inf,
   need = != 0). */
typedef struct {
  int64_t Nq, Nk;
  unsigned char *vis, *need;
} mask_t;

/* Fills a mask by tiles: each 64 x 64 tile picks a pattern (all visible, none, random, one
   element visible, one masked); bias masks pick values 0, -inf, 1.5 and NaN. */
static void make_mask(mask_t *m, int bias) {
  const int64_t RT = bmap_tiles(m->Nq), KT = bmap_tiles(m->Nk);
  for (int64_t rt = 0; rt < RT; ++rt)
    for (int64_t kt = 0; kt < KT; ++kt) {
      const int pat = (int)(tu_uniform() * 5);
      const int64_t r0 = rt * BMAP_TILE, k0 = kt * BMAP_TILE;
      const int64_t r1 = r0 + BMAP_TILE < m->Nq ? r0 + BMAP_TILE : m->Nq;
      const int64_t k1 = k0 + BMAP_TILE < m->Nk ? k0 + BMAP_TILE : m->Nk;
      const int64_t oi = r0 + (int64_t)(tu_uniform() * (double)(r1 - r0));
      const int64_t oj = k0 + (int64_t)(tu_uniform() * (double)(k1 - k0));
      for (int64_t i = r0; i < r1; ++i)
        for (int64_t j = k0; j < k1; ++j) {
          int v = 0;
          double x = 0.0; /* bias value */
          if (pat == 0) v = 1;
          else if (pat == 1) v = 0;
          else if (pat == 2) v = tu_uniform() < 0.5;
          else if (pat == 3) v = (i == oi && j == oj);
          else v = !(i == oi && j == oj);
          if (bias) {
            const double u = tu_uniform();
            x = v ? (pat == 2 && u < 0.3 ? 1.5 : (pat == 2 && u < 0.35 ? NAN : 0.0)) : -INFINITY;
          }
          const int64_t e = i * m->Nk + j;
          if (!bias) {
            m->vis[e] = (unsigned char)v;
            m->need[e] = (unsigned char)!v;
          } else {
            m->vis[e] = !(x == -INFINITY);
            m->need[e] = !(x == 0.0);
          }
        }
    }
}

/* Brute force over rows [r0, r1) x keys [k0, k1): any visible, any needed. */
static int brute_flags(const mask_t *m, int64_t r0, int64_t r1, int64_t k0, int64_t k1) {
  int f = 0;
  for (int64_t i = r0; i < r1; ++i)
    for (int64_t j = k0; j < k1; ++j) {
      if (m->vis[i * m->Nk + j]) f |= BMAP_VISIBLE;
      if (m->need[i * m->Nk + j]) f |= BMAP_NEEDS;
    }
  return f;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* The kernels' blocks over one slice's map (flags from row tile 0 and words from row 0, at strides flag_rtile and
   word_row: bmap_dims's): BM rows x BN keys, the OR over the tiles they touch (mask_map_flags), against the brute
   force over mask m. The map is conservative where a block cuts tiles (it may call a block partial that is full or
   empty, never the other way round) and exact where its keys cover whole tiles and its rows whole tiles, or any rows
   of a mask whose rows are one row (rows_one). Boolean masks: every element's bit through bmap_bit, as the kernels
   read it. */
static int check_blocks(const mask_t *m, const unsigned char *flags, int64_t flag_rtile, const uint64_t *bits,
                        int64_t word_row, int bias, int rows_one) {
  const int64_t Nq = m->Nq, Nk = m->Nk;
  static const int bms[] = {32, 64, 128}, bns[] = {16, 32, 64, 128};
  int ok = 1;
  for (int a = 0; a < 3; ++a)
    for (int c = 0; c < 4; ++c) {
      const int BM = bms[a], BN = bns[c];
      for (int64_t r0 = 0; r0 < Nq; r0 += BM)
        for (int64_t k0 = 0; k0 < Nk; k0 += BN) {
          const int64_t r1 = min64(Nq, r0 + BM), k1 = min64(Nk, k0 + BN);
          int f = 0;
          for (int64_t rt = r0 / 64; rt <= (r1 - 1) / 64; ++rt)
            for (int64_t kt = k0 / 64; kt <= (k1 - 1) / 64; ++kt) f |= flags[rt * flag_rtile + kt];
          const int bf = brute_flags(m, r0, r1, k0, k1);
          if (bmap_empty(f)) ok &= bmap_empty(bf);
          if (!bmap_empty(f) && !bmap_partial(f)) ok &= !bmap_empty(bf) && !bmap_partial(bf);
          if ((rows_one || BM % 64 == 0) && BN % 64 == 0) ok &= f == bf;
          if (!bias)
            for (int64_t i = r0; i < r1; ++i)
              for (int cc = 0; cc < BN && k0 + cc < Nk; ++cc)
                ok &= bmap_bit(bits + i * word_row + k0 / 64, k0, cc, BN) == (int)m->vis[i * Nk + k0 + cc];
        }
    }
  return ok;
}

static int run_case(int64_t Nq, int64_t Nk, int bias) {
  mask_t m = {Nq, Nk, calloc((size_t)(Nq * Nk), 1), calloc((size_t)(Nq * Nk), 1)};
  make_mask(&m, bias);
  const int64_t RT = bmap_tiles(Nq), KT = bmap_tiles(Nk), KW = bmap_words(Nk);
  uint64_t *bits = calloc((size_t)(Nq * KW), sizeof(uint64_t));
  unsigned char *rflags = calloc((size_t)(Nq * KT), 1), *flags = calloc((size_t)(RT * KT), 1);
  int ok = KW % 2 == 0 && KW >= KT && KW <= KT + 1;
  /* the builder's rows pass (bmap_rows_kernel): the words of visible keys and the row flags */
  for (int64_t i = 0; i < Nq; ++i)
    for (int64_t kt = 0; kt < KT; ++kt) {
      uint64_t vis = 0, need = 0;
      for (int k = 0; k < 64; ++k) {
        const int64_t j = kt * 64 + k;
        if (j >= Nk) break;
        if (m.vis[i * Nk + j]) vis |= (uint64_t)1 << k;
        if (m.need[i * Nk + j]) need |= (uint64_t)1 << k;
      }
      bits[i * KW + kt] = vis;
      rflags[i * KT + kt] = (unsigned char)bmap_row_flags(vis, need);
      /* a boolean row word alone gives the same flags (the valid bits are the keys) */
      if (!bias) ok &= bmap_word_flags(vis, bmap_valid(Nk, kt)) == rflags[i * KT + kt];
      ok &= (vis & ~bmap_valid(Nk, kt)) == 0;
    }
  /* the tiles pass (bmap_tiles_kernel) */
  for (int64_t rt = 0; rt < RT; ++rt)
    for (int64_t kt = 0; kt < KT; ++kt) {
      int f = 0;
      for (int64_t r = rt * 64; r < min64(Nq, rt * 64 + 64); ++r) f |= rflags[r * KT + kt];
      flags[rt * KT + kt] = (unsigned char)f;
      ok &= f == brute_flags(&m, rt * 64, min64(Nq, rt * 64 + 64), kt * 64, min64(Nk, kt * 64 + 64));
    }
  /* the kernels' blocks (mask_map_flags, bmap_bit) */
  ok &= check_blocks(&m, flags, KT, bits, KW, bias, 0);
  char name[96];
  snprintf(name, sizeof name, "block map %s Nq=%lld Nk=%lld", bias ? "bias" : "bool", (long long)Nq, (long long)Nk);
  tu_expect(name, ok);
  free(m.vis), free(m.need), free(bits), free(rflags), free(flags);
  return ok;
}

/* A mask whose Nq rows are one row (the row stride 0 of a key-padding mask), over S slices: the map built the way
   mask_blockmap.cu builds it for such masks (bmap_dims(.., 1): one row a slice) and read the way the kernels read it
   (mask_flags_at / mask_words_at: slice s, row i at s * word_slice + i * word_row, row tile rt at s * flag_slice
   + rt * flag_rtile), against the brute force over the expanded mask. The non-broadcast strides of the same sizes
   must be the dense layout's (row i of slice s at (s * Nq + i) * KW), which the kernels read before. */
static int run_broadcast_case(int64_t Nq, int64_t Nk, int64_t S, int bias) {
  const BmapDims d = bmap_dims(Nq, Nk, 1), full = bmap_dims(Nq, Nk, 0);
  int ok = d.rows == 1 && d.rtiles == 1 && d.word_row == 0 && d.flag_rtile == 0 && d.word_slice == d.kw &&
           d.flag_slice == d.kt && d.kt == bmap_tiles(Nk) && d.kw == bmap_words(Nk);
  ok &= full.rows == Nq && full.rtiles == bmap_tiles(Nq) && full.word_row == full.kw &&
        full.word_slice == Nq * full.kw && full.flag_rtile == full.kt && full.flag_slice == bmap_tiles(Nq) * full.kt;
  ok &= bmap_dims(0, Nk, 1).rows == 0; /* no query: nothing built */
  /* one row per slice, expanded to Nq rows for the brute force */
  mask_t *ms = calloc((size_t)S, sizeof(mask_t));
  uint64_t *bits = calloc((size_t)(S * d.word_slice), sizeof(uint64_t));
  unsigned char *flags = calloc((size_t)(S * d.flag_slice), 1);
  for (int64_t s = 0; s < S; ++s) {
    mask_t row = {1, Nk, calloc((size_t)Nk, 1), calloc((size_t)Nk, 1)};
    make_mask(&row, bias);
    ms[s] = (mask_t){Nq, Nk, calloc((size_t)(Nq * Nk), 1), calloc((size_t)(Nq * Nk), 1)};
    for (int64_t i = 0; i < Nq; ++i) {
      memcpy(ms[s].vis + i * Nk, row.vis, (size_t)Nk);
      memcpy(ms[s].need + i * Nk, row.need, (size_t)Nk);
    }
    /* the builder: rows pass over the one row, tiles pass over its one row tile */
    for (int64_t kt = 0; kt < d.kt; ++kt) {
      uint64_t vis = 0, need = 0;
      for (int k = 0; k < 64 && kt * 64 + k < Nk; ++k) {
        if (row.vis[kt * 64 + k]) vis |= (uint64_t)1 << k;
        if (row.need[kt * 64 + k]) need |= (uint64_t)1 << k;
      }
      bits[s * d.word_slice + kt] = vis;
      flags[s * d.flag_slice + kt] = (unsigned char)bmap_row_flags(vis, need);
    }
    free(row.vis), free(row.need);
  }
  for (int64_t s = 0; s < S; ++s) /* the kernels' blocks of each slice, through the zero strides */
    ok &= check_blocks(&ms[s], flags + s * d.flag_slice, d.flag_rtile, bits + s * d.word_slice, d.word_row, bias, 1);
  char name[112];
  snprintf(name, sizeof name, "row-broadcast block map %s Nq=%lld Nk=%lld slices=%lld", bias ? "bias" : "bool",
           (long long)Nq, (long long)Nk, (long long)S);
  tu_expect(name, ok);
  for (int64_t s = 0; s < S; ++s) free(ms[s].vis), free(ms[s].need);
  free(ms), free(bits), free(flags);
  return ok;
}

int main(void) {
  tu_init_seed("test_cpu_blockmap");
  tu_expect("valid bits", bmap_valid(1, 0) == 1u && bmap_valid(64, 0) == ~(uint64_t)0 && bmap_valid(64, 1) == 0 &&
                              bmap_valid(65, 1) == 1u && bmap_valid(200, 3) == 0xffu && bmap_valid(0, 0) == 0);
  tu_expect("classes", bmap_empty(BMAP_NEEDS) && bmap_empty(0) && !bmap_empty(BMAP_VISIBLE) &&
                           bmap_partial(BMAP_VISIBLE | BMAP_NEEDS) && !bmap_partial(BMAP_VISIBLE) &&
                           !bmap_partial(BMAP_NEEDS));
  tu_expect("words per row", bmap_words(1) == 2 && bmap_words(128) == 2 && bmap_words(129) == 4);
  static const int64_t sizes[][2] = {{1, 1}, {7, 129}, {63, 64}, {64, 65}, {130, 200}, {200, 130}, {257, 320}};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; ++k)
    for (int bias = 0; bias < 2; ++bias) run_case(sizes[k][0], sizes[k][1], bias);
  static const int64_t bsizes[][3] = {{1, 1, 1}, {7, 129, 2}, {130, 200, 3}, {257, 65, 2}, {1000, 320, 1}};
  for (size_t k = 0; k < sizeof bsizes / sizeof bsizes[0]; ++k)
    for (int bias = 0; bias < 2; ++bias) run_broadcast_case(bsizes[k][0], bsizes[k][1], bsizes[k][2], bias);
  /* a key-padding mask at B = 8, N = 128K: one row a slice (16 KiB of words, not 16 GiB) */
  const BmapDims big = bmap_dims((int64_t)1 << 17, (int64_t)1 << 17, 1);
  tu_expect("row-broadcast map size at N = 128K", big.word_slice == 2048 && big.flag_slice == 2048);
  return tu_finish();
}
