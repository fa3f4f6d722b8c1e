/*
 * test_cpu_cta_order.c - the order of the grids' CTAs (src/kernels/common/cta_order.h, which the forward and
 * backward kernels run): cta_grouped_of is a bijection of every (nx, ny, nz) grid for every group size (odd sizes,
 * a last group with fewer pairs, column slices ns = 2), hg <= 0 is the launch order itself, and with hg > 0 every
 * group runs x = 0 (a causal call's longest CTAs) first, a block's slices next to each other; causal_group_pairs
 * picks the largest divisor of the pairs within the budget; cta_pair_of's walks take every tile once, in units of
 * equal causal work.
 *
 * Run: ctest --test-dir build -R test_cpu_cta_order   (JFA_TEST_SEED=<n> to repeat)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/common/cta_order.h"
#include "testutil.h"

/* Checks one grid and group size; returns the number of violations (printed once). */
static int check_grid(int64_t nx, int64_t ny, int64_t nz, int64_t hg, int64_t ns) {
  const int64_t n = nx * ny * nz;
  unsigned char *seen = (unsigned char *)calloc((size_t)n, 1);
  int bad = 0;
  int64_t prev_x = -1, prev_group = -1;
  for (int64_t L = 0; L < n; ++L) {
    const cta_xyz_t c = cta_grouped_of(L, nx, ny, nz, hg, ns);
    if (c.x < 0 || c.x >= nx || c.y < 0 || c.y >= ny || c.z < 0 || c.z >= nz) {
      ++bad;
      continue;
    }
    const int64_t id = c.x + nx * (c.y + ny * c.z);
    if (seen[id]++) ++bad; /* twice: not a bijection */
    if (hg <= 0) {
      if (id != L) ++bad; /* the launch order itself */
      continue;
    }
    const int64_t hb = c.y + ny * c.z, group = hb / hg;
    /* groups in order; inside a group, block columns x / ns non-decreasing (longest first) */
    if (group < prev_group) ++bad;
    if (group == prev_group && c.x / ns < prev_x / ns) ++bad;
    /* a block's ns slices launch together: L's neighbours within the slice run share the block and pair */
    if (L % ns != 0) {
      const cta_xyz_t p = cta_grouped_of(L - 1, nx, ny, nz, hg, ns);
      if (p.x / ns != c.x / ns || p.y != c.y || p.z != c.z || p.x % ns + 1 != c.x % ns) ++bad;
    }
    prev_group = group;
    prev_x = c.x;
  }
  for (int64_t i = 0; i < n; ++i)
    if (!seen[i]) ++bad; /* never reached */
  free(seen);
  if (bad)
    printf("  grid (%lld, %lld, %lld) hg %lld ns %lld: %d violations\n", (long long)nx, (long long)ny, (long long)nz,
           (long long)hg, (long long)ns, bad);
  return bad;
}

int main(void) {
  tu_init_seed("test_cpu_cta_order");
  int bad = 0, grids = 0;
  static const int64_t shapes[][3] = {{1, 1, 1}, {7, 1, 1}, {1, 5, 3}, {32, 16, 4}, {22, 32, 4}, {3, 7, 5}, {129, 2, 1}};
  static const int64_t hgs[] = {-1, 0, 1, 2, 3, 4, 6, 7, 64, 1000};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
    for (size_t h = 0; h < sizeof hgs / sizeof hgs[0]; ++h)
      for (int64_t ns = 1; ns <= 2; ++ns) {
        bad += check_grid(shapes[s][0] * ns, shapes[s][1], shapes[s][2], hgs[h], ns);
        ++grids;
      }
  /* random grids and group sizes */
  for (int r = 0; r < 200; ++r) {
    const int64_t ns = 1 + (int64_t)(tu_uniform() * 2);
    const int64_t nx = (1 + (int64_t)(tu_uniform() * 40)) * ns, ny = 1 + (int64_t)(tu_uniform() * 9),
                  nz = 1 + (int64_t)(tu_uniform() * 5), hg = (int64_t)(tu_uniform() * 12) - 1;
    bad += check_grid(nx, ny, nz, hg, ns);
    ++grids;
  }
  printf("%d grids checked\n", grids);
  tu_expect("cta_grouped_of: a bijection, the launch order at hg <= 0, longest first per group, slices together",
            bad == 0);
  /* cta_pair_of: the CTAs' walks together take every (query block, pair) once; each unit's two tiles hold nqb + 1
     causal key blocks; a CTA's steps end with 2 and never return a tile after it; its units' pairs run group by
     group */
  int pbad = 0, walks = 0;
  for (int r = 0; r < 300; ++r) {
    const uint32_t nqb = 1 + (uint32_t)(tu_uniform() * 33), G = 1 + (uint32_t)(tu_uniform() * 140);
    const uint32_t hbn = 1 + (uint32_t)(tu_uniform() * 24);
    uint32_t hg = 1 + (uint32_t)(tu_uniform() * hbn);
    while (hbn % hg) --hg;
    unsigned char *seen = (unsigned char *)calloc((size_t)nqb * hbn, 1);
    for (uint32_t c = 0; c < G; ++c) {
      uint32_t prev_q = 0, prev_h = 0;
      for (uint32_t k = 0;; ++k) {
        uint32_t qb = 0, hb = 0;
        const int w = cta_pair_of(k, G, c, nqb, hbn, hg, &qb, &hb);
        if (w == 2) break;
        if (w == 1) {
          pbad += (k & 1) == 0 || nqb % 2 == 0; /* only an odd nqb's middle unit lacks a second half */
          continue;
        }
        if (qb >= nqb || hb >= hbn || seen[(size_t)hb * nqb + qb]++) {
          ++pbad;
          continue;
        }
        if (k & 1) pbad += hb != prev_h || qb + prev_q + 2 != nqb + 1; /* the unit's (qb + 1) key blocks: nqb + 1 */
        prev_q = qb, prev_h = hb;
      }
    }
    for (size_t i = 0; i < (size_t)nqb * hbn; ++i) pbad += seen[i] != 1;
    free(seen);
    ++walks;
  }
  printf("%d pair walks checked\n", walks);
  tu_expect("cta_pair_of: every tile once over the CTAs' walks, a unit's two tiles nqb + 1 key blocks of one pair",
            pbad == 0);
  /* group sizes: the largest divisor of the pairs within the budget; at least 1, at most the pairs */
  const int64_t MB = (int64_t)1 << 20;
  tu_expect("causal_group_pairs",
            causal_group_pairs(1 * MB, 128, 24 * MB) == 16 && causal_group_pairs(4 * MB, 64, 24 * MB) == 4 &&
                causal_group_pairs(2 * MB, 64, 24 * MB) == 8 && causal_group_pairs(16 * MB, 16, 24 * MB) == 1 &&
                causal_group_pairs(100 * MB, 64, 24 * MB) == 1 && causal_group_pairs(1, 7, 24 * MB) == 7 &&
                causal_group_pairs(1 * MB, 67, 24 * MB) == 1 && causal_group_pairs(0, 5, 24 * MB) == 5 &&
                causal_group_pairs(3 * MB, 1, 24 * MB) == 1);
  return tu_finish();
}
