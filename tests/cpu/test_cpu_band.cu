/*
 * test_cpu_band.cu - the sm90 forward / JVP's bands, their device code compiled for the host (no GPU): windows and
 * packed self-attention sequences aligned to the blocks run on the unmasked kernels, each tile of BM query rows
 * loading the keys fwd_tile_keys gives (src/kernels/common/softmax.cuh) and testing elements only in the blocks
 * where fwd_block_mask says so (the causal diagonal, a window's edges, Nk); src/kernels/sm90/fwd.cuh sm90_fwd_band
 * takes packed sequences only where mask_packed_aligned (src/kernels/common/mask.cuh) holds for the kernels' blocks.
 * On thousands of random problems (tiles of 64 / 128 / 192 rows, blocks of 48..128 keys; windows with open sides,
 * causal or not, positions; packed sequences on multiples of the blocks, empty ones, the last of any length, at the
 * global offsets the ring gives its partial calls) every (row, key) pair the band computes as visible must be
 * visible by the contract of core/backend.h read literally, and every visible pair must lie in its tile's keys
 * and, for each warpgroup of 64 rows (the three-consumer kernels' skip, fwd.cuh fwd_consumer_blocks), in that
 * warpgroup's keys; mask_row_keys (the MASKED kernels' rows) must give exactly the contract's keys too, and every
 * row that sees a key of a block of bn keys must lie in mask_query_range's rows for it (the backwards' CTAs, bands
 * included). Unaligned packed sequences must fail mask_packed_aligned. Device offsets (JFA_PARAMS_SEQLENS_DEVICE) of
 * any values keep both ranges inside [0, N], read only the offsets' own entries, and never make a band.
 *
 * Run: ctest --test-dir build -R test_cpu_band   (JFA_TEST_SEED=<n> to repeat; label cpu, built where CUDA is)
 */
#include <numeric>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kernels/common/softmax.cuh"
#include "testutil.h"

static int64_t rnd(int64_t lo, int64_t hi) { /* uniform in [lo, hi] */
  return lo + (int64_t)(tu_uniform() * (double)(hi - lo + 1));
}

/* The sequence s with cu[s] <= x < cu[s + 1] by a linear scan, or -1. */
static int64_t seq_of(const int64_t *cu, int64_t nseq, int64_t x) {
  for (int64_t s = 0; s < nseq; ++s)
    if (cu[s] <= x && x < cu[s + 1]) return s;
  return -1;
}

/* The contract of core/backend.h, read literally. */
static int contract_visible(const jfa_problem_t *p, int64_t i, int64_t j) {
  int64_t pos_q = p->q_pos0 + i, pos_k = p->k_pos0 + j;
  if (p->nseq > 0) {
    const int64_t s = seq_of(p->cu_q, p->nseq, p->q_pos0 + i);
    if (s < 0 || seq_of(p->cu_k, p->nseq, p->k_pos0 + j) != s) return 0;
    const int64_t lq = p->cu_q[s + 1] - p->cu_q[s], lk = p->cu_k[s + 1] - p->cu_k[s];
    pos_q = p->q_pos0 + i - p->cu_q[s] + (p->seq_bottom_right ? lk - lq : 0);
    pos_k = p->k_pos0 + j - p->cu_k[s];
  }
  const int64_t rel = pos_k - pos_q;
  if (p->causal && rel > 0) return 0;
  if (p->windowed && p->win_left >= 0 && rel < -p->win_left) return 0;
  if (p->windowed && p->win_right >= 0 && rel > p->win_right) return 0;
  return 1;
}

/* fwd_tile_keys at a run-time row count */
static void tile_keys(const FwdArgs &a, int bm, int64_t m0, int64_t *lo, int64_t *hi) {
  switch (bm) {
    case 64: fwd_tile_keys<64>(a, m0, lo, hi); break;
    case 128: fwd_tile_keys<128>(a, m0, lo, hi); break;
    default: fwd_tile_keys<192>(a, m0, lo, hi); break;
  }
}

/* fwd_block_mask at run-time block shapes (the unmasked kernels' form: MASKED false, BM rows) */
template <int BN>
static BlockMask block_mask_bn(const FwdArgs &a, int bm, int64_t m0, int64_t kb0) {
  switch (bm) {
    case 64: return fwd_block_mask<BN, false, 64>(a, m0, kb0, 0, 0);
    case 128: return fwd_block_mask<BN, false, 128>(a, m0, kb0, 0, 0);
    default: return fwd_block_mask<BN, false, 192>(a, m0, kb0, 0, 0);
  }
}
static BlockMask block_mask(const FwdArgs &a, int bm, int bn, int64_t m0, int64_t kb0) {
  switch (bn) {
    case 48: return block_mask_bn<48>(a, bm, m0, kb0);
    case 64: return block_mask_bn<64>(a, bm, m0, kb0);
    case 80: return block_mask_bn<80>(a, bm, m0, kb0);
    case 96: return block_mask_bn<96>(a, bm, m0, kb0);
    case 112: return block_mask_bn<112>(a, bm, m0, kb0);
    default: return block_mask_bn<128>(a, bm, m0, kb0);
  }
}

typedef struct {
  long pairs, wrong_band, missed_tile, missed_wg, wrong_rows, missed_qrange;
} tally_t;

/* One problem run as a band with tiles of bm rows and blocks of bn keys: every tile's pairs against the contract. */
static void check_band(const jfa_problem_t *p, int bm, int bn, tally_t *t, const char *what) {
  FwdArgs a;
  memset(&a, 0, sizeof a);
  a.p = *p;
  mask_dev_fill(&a.mk, p); /* mask_setup's fields, the offsets as host arrays */
  a.masked = 1;
  a.band = 1;
  const int64_t Nq = p->Nq, Nk = p->Nk;
  unsigned char *band = (unsigned char *)malloc((size_t)bm * (size_t)Nk);
  for (int64_t m0 = 0; m0 < Nq; m0 += bm) {
    memset(band, 0, (size_t)bm * (size_t)Nk);
    int64_t kb, ke;
    tile_keys(a, bm, m0, &kb, &ke);
    if (ke > kb) {
      const int64_t jb0 = kb / bn, nblk = (ke + bn - 1) / bn - jb0;
      for (int64_t i = 0; i < nblk; ++i) {
        const int64_t kb0 = (jb0 + i) * bn;
        const BlockMask m = block_mask(a, bm, bn, m0, kb0);
        for (int r = 0; r < bm && m0 + r < Nq; ++r)
          for (int c = 0; c < bn && kb0 + c < Nk; ++c)
            if (!m.need || !(c >= m.klim || c - r > m.cdiff || c - r < m.clo)) band[(size_t)r * Nk + kb0 + c] = 1;
      }
    }
    for (int r = 0; r < bm && m0 + r < Nq; ++r) {
      int64_t wl = 0, wh = 0; /* the 64-row warpgroup's keys (fwd_consumer_blocks) */
      fwd_tile_keys<64>(a, m0 + r / 64 * 64, &wl, &wh);
      int64_t lo, hi;
      mask_row_keys(a.mk, m0 + r, &lo, &hi);
      for (int64_t j = 0; j < Nk; ++j) {
        const int v = contract_visible(p, m0 + r, j);
        t->pairs += v;
        if (band[(size_t)r * Nk + j] != v) {
          if (t->wrong_band++ < 5)
            printf("  %s: row %lld key %lld: band %d, contract %d (tile %lld, bm %d, bn %d)\n", what,
                   (long long)(m0 + r), (long long)j, band[(size_t)r * Nk + j], v, (long long)m0, bm, bn);
        }
        if (v && (j < kb || j >= ke)) t->missed_tile++;
        if (v && (j < wl || j >= wh)) t->missed_wg++;
        if (v != (j >= lo && j < hi)) t->wrong_rows++;
      }
    }
  }
  free(band);
  /* the backward's side (mask_query_range: the query rows a CTA of bn keys walks, bwd_query_blocks): every row that
     sees a key of the block inside them */
  for (int64_t j0 = 0; j0 < Nk; j0 += bn) {
    const int64_t j1 = j0 + bn < Nk ? j0 + bn : Nk;
    int64_t ilo, ihi;
    mask_query_range(a.mk, j0, j1, &ilo, &ihi);
    for (int64_t i = 0; i < Nq; ++i)
      for (int64_t j = j0; j < j1; ++j)
        if (contract_visible(p, i, j) && (i < ilo || i >= ihi)) {
          t->missed_qrange++;
          break;
        }
  }
}

/* Offsets of packed sequences over total rows (returns their count, at most 31), every inner boundary a multiple
   of al (the ring's chunks start on such multiples too), empty sequences allowed, the last of any length. */
static int64_t packed_offsets(int64_t *cu, int64_t al, int64_t total) {
  int64_t ns = 0, x = 0;
  cu[0] = 0;
  while (ns < 30) {
    const int64_t step = rnd(0, 3) * al; /* 0: an empty sequence */
    if (x + step >= total || tu_uniform() < 0.15) break;
    x += step;
    cu[++ns] = x;
  }
  cu[++ns] = total;
  return ns;
}

/* Device offsets (JFA_PARAMS_SEQLENS_DEVICE) reach the kernels unchecked: with any values, mask_row_keys must give
   0 <= lo <= hi <= Nk and mask_query_range 0 <= lo <= hi <= Nq (the kernels' ints and loads stay inside the tensors),
   reading the offsets only at indices 0..nseq. The offsets sit at the end of a page followed by an inaccessible one
   (and, in a second pass, at the start of a page after one): a read past either end faults. mask_packed_aligned must
   not read them at all (the host cannot: they sit on an inaccessible page). Returns the ranges outside bounds. */
static long garbage_offsets(long *cases) {
  const long pg = sysconf(_SC_PAGESIZE);
  unsigned char *map = (unsigned char *)mmap(NULL, (size_t)(3 * pg), PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map == MAP_FAILED) return -1;
  mprotect(map, (size_t)pg, PROT_NONE);
  mprotect(map + 2 * pg, (size_t)pg, PROT_NONE);
  long bad = 0;
  for (int it = 0; it < 3000; ++it) {
    const int64_t nseq = rnd(1, 8), n = nseq + 1;
    int64_t *cu = it % 2 ? (int64_t *)(map + pg) : (int64_t *)(map + 2 * pg) - 2 * n; /* q at the start / k at the end */
    int64_t *ck = cu + n;
    jfa_problem_t p;
    memset(&p, 0, sizeof p);
    p.B = p.Hq = p.Hkv = 1;
    p.D = 64;
    p.Nq = rnd(1, 300);
    p.Nk = rnd(1, 300);
    p.nseq = nseq;
    p.cu_q = cu;
    p.cu_k = ck;
    p.seq_dev = 1;
    p.causal = tu_uniform() < 0.5;
    p.seq_bottom_right = tu_uniform() < 0.5;
    p.win_left = p.win_right = JFA_WINDOW_UNBOUNDED;
    if (tu_uniform() < 0.5) {
      p.windowed = 1;
      p.win_left = tu_uniform() < 0.3 ? JFA_WINDOW_UNBOUNDED : rnd(0, 100);
      p.win_right = tu_uniform() < 0.3 ? JFA_WINDOW_UNBOUNDED : rnd(0, 100);
    }
    for (int64_t s = 0; s < 2 * n; ++s) {
      const double u = tu_uniform();
      const int64_t big = (int64_t)1 << 62;
      cu[s] = u < 0.6 ? rnd(-40, 340) : u < 0.8 ? rnd(-big, big) : u < 0.9 ? big : -big;
    }
    if (mask_packed_aligned(&p, 64, 64)) ++bad; /* must refuse without reading (it would fault on the page) */
    MaskDev m;
    mask_dev_fill(&m, &p);
    for (int64_t i = 0; i < p.Nq; ++i) {
      int64_t lo, hi;
      mask_row_keys(m, i, &lo, &hi);
      bad += !(0 <= lo && lo <= hi && hi <= p.Nk);
    }
    for (int64_t j0 = 0; j0 < p.Nk; j0 += 64) {
      int64_t lo, hi;
      mask_query_range(m, j0, std::min(j0 + 64, p.Nk), &lo, &hi);
      bad += !(0 <= lo && lo <= hi && hi <= p.Nq);
    }
    ++*cases;
  }
  /* mask_packed_aligned with device offsets on an inaccessible page: false, without a read */
  jfa_problem_t p;
  memset(&p, 0, sizeof p);
  p.Nq = p.Nk = 128;
  p.nseq = 2;
  p.cu_q = p.cu_k = (const int64_t *)map;
  p.seq_dev = 1;
  bad += mask_packed_aligned(&p, 64, 64);
  munmap(map, (size_t)(3 * pg));
  return bad;
}

int main(void) {
  tu_init_seed("test_cpu_band");
  long garbage_cases = 0;
  const long garbage_bad = garbage_offsets(&garbage_cases);
  printf("device offsets of any values: %ld problems, %ld ranges outside [0, N]\n", garbage_cases, garbage_bad);
  tu_expect("unchecked device offsets give ranges inside [0, Nk] and [0, Nq], read at 0..nseq only, and no band",
            garbage_cases == 3000 && garbage_bad == 0);
  static const int bms[] = {64, 128, 192}, bns[] = {48, 64, 80, 96, 112, 128};
  tally_t t;
  memset(&t, 0, sizeof t);
  long aligned_ok = 0, aligned_cases = 0, unaligned_refused = 0, unaligned_cases = 0;
  char what[160];
  for (int it = 0; it < 1200; ++it) {
    const int bm = bms[rnd(0, 2)], bn = bns[rnd(0, 5)];
    jfa_problem_t p;
    memset(&p, 0, sizeof p);
    p.B = p.Hq = p.Hkv = 1;
    p.D = 64;
    p.win_left = p.win_right = JFA_WINDOW_UNBOUNDED;
    int64_t cu[40];
    const int kind = (int)rnd(0, 2); /* 0: a window alone, 1: packed sequences, 2: packed sequences in a ring chunk */
    if (kind == 0) {
      p.Nq = rnd(1, 700);
      p.Nk = rnd(1, 700);
      p.causal = tu_uniform() < 0.6;
      p.q_pos0 = rnd(0, 400);
      p.k_pos0 = rnd(0, 400);
      p.windowed = 1;
      p.win_left = tu_uniform() < 0.2 ? JFA_WINDOW_UNBOUNDED : rnd(0, 300);
      p.win_right = tu_uniform() < 0.5 ? JFA_WINDOW_UNBOUNDED : rnd(0, 300);
    } else {
      const int64_t l = std::lcm((int64_t)bm, (int64_t)bn), al = l * (l < 400 ? rnd(1, 2) : 1);
      const int64_t total = rnd(1, l < 400 ? 5 : 2) * al + rnd(0, al - 1) + 1;
      p.nseq = packed_offsets(cu, al, total);
      p.cu_q = p.cu_k = cu;
      p.causal = tu_uniform() < 0.7;
      p.seq_bottom_right = p.causal && tu_uniform() < 0.5;
      if (tu_uniform() < 0.4) {
        p.windowed = 1;
        p.win_left = tu_uniform() < 0.3 ? JFA_WINDOW_UNBOUNDED : rnd(0, 2 * al);
        p.win_right = tu_uniform() < 0.6 ? JFA_WINDOW_UNBOUNDED : rnd(0, al);
      }
      if (kind == 1) {
        p.Nq = p.Nk = total;
      } else {
        /* a ring step's partial call: query rows and keys are chunks of the global sequence starting on multiples
           of al (contiguous or zigzag layouts of chunk sizes al, 2 al, ..) */
        const int64_t nch = (total + al - 1) / al;
        const int64_t qc = rnd(0, nch - 1), kc = rnd(0, nch - 1);
        p.q_pos0 = qc * al;
        p.k_pos0 = kc * al;
        p.Nq = std::min(rnd(1, 2) * al, total - p.q_pos0);
        p.Nk = std::min(rnd(1, 2) * al, total - p.k_pos0);
      }
      ++aligned_cases;
      aligned_ok += mask_packed_aligned(&p, bm, bn);
    }
    snprintf(what, sizeof what, "case %d (kind %d, Nq %lld, Nk %lld, causal %d, window %lld / %lld, %lld sequences)",
             it, kind, (long long)p.Nq, (long long)p.Nk, p.causal, (long long)p.win_left, (long long)p.win_right,
             (long long)p.nseq);
    check_band(&p, bm, bn, &t, what);

    /* a packed problem with one inner boundary off the blocks: mask_packed_aligned must refuse it */
    if (kind == 1 && p.nseq >= 2) {
      int64_t cu2[40];
      memcpy(cu2, cu, sizeof(int64_t) * (size_t)(p.nseq + 1));
      int64_t s = 1;
      while (s < p.nseq && (cu2[s] == 0 || cu2[s] >= p.Nq)) ++s;
      if (s < p.nseq && cu2[s] + 1 < cu2[s + 1]) {
        cu2[s] += 1;
        jfa_problem_t q = p;
        q.cu_q = q.cu_k = cu2;
        ++unaligned_cases;
        unaligned_refused += !mask_packed_aligned(&q, bm, bn);
      }
    }
  }
  printf("%ld visible pairs; band wrong %ld, outside the tile's keys %ld, outside the warpgroup's %ld, "
         "mask_row_keys wrong %ld, rows outside mask_query_range %ld; aligned %ld of %ld, unaligned refused %ld of "
         "%ld\n",
         t.pairs, t.wrong_band, t.missed_tile, t.missed_wg, t.wrong_rows, t.missed_qrange, aligned_ok, aligned_cases,
         unaligned_refused, unaligned_cases);
  tu_expect("some pairs visible", t.pairs > 100000);
  tu_expect("the band computes exactly the contract's pairs", t.wrong_band == 0);
  tu_expect("every visible pair inside its tile's keys (fwd_tile_keys)", t.missed_tile == 0);
  tu_expect("every visible pair inside its warpgroup's keys (fwd_tile_keys<64>)", t.missed_wg == 0);
  tu_expect("mask_row_keys gives the contract's keys", t.wrong_rows == 0);
  tu_expect("every row that sees a key block inside mask_query_range's rows", t.missed_qrange == 0);
  tu_expect("packed sequences on the blocks are aligned (mask_packed_aligned)", aligned_ok == aligned_cases);
  tu_expect("a boundary off the blocks is refused", unaligned_cases > 50 && unaligned_refused == unaligned_cases);
  return tu_finish();
}
