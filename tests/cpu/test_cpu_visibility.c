/*
 * test_cpu_visibility.c - white-box test of the CPU backend's visibility ranges
 * (src/cpu/visibility.c) against a brute-force reading of the jfa_problem_t
 * contract in src/core/backend.h: on thousands of random blocks (causal or not,
 * windows with open sides, packed sequences with empty ones and Nq != Nk per
 * sequence, both alignments, blocks at global offsets as the ring builds them),
 * jfa_cpu_key_range(i) must be exactly the keys visible to row i,
 * jfa_cpu_query_range(j) exactly the rows that see key j, and
 * jfa_problem_fully_masked() may only claim "fully masked" when no pair is visible.
 *
 * Run: ctest --test-dir build -R test_cpu_visibility   (JFA_TEST_SEED=<n> to repeat)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "cpu_test.h"
#include "testutil.h"

static int64_t rnd(int64_t lo, int64_t hi) { /* uniform in [lo, hi] */
  return lo + (int64_t)(tu_uniform() * (double)(hi - lo + 1));
}

/* The contract of backend.h, read literally. */
static int contract_visible(const jfa_problem_t *p, int64_t i, int64_t j) {
  int64_t pos_q = p->q_pos0 + i, pos_k = p->k_pos0 + j;
  if (p->nseq > 0) {
    int64_t s = ref_seq(p->cu_q, p->nseq, p->q_pos0 + i);
    if (s < 0 || ref_seq(p->cu_k, p->nseq, p->k_pos0 + j) != s) return 0;
    int64_t lq = p->cu_q[s + 1] - p->cu_q[s], lk = p->cu_k[s + 1] - p->cu_k[s];
    pos_q = p->q_pos0 + i - p->cu_q[s] + (p->seq_bottom_right ? lk - lq : 0);
    pos_k = p->k_pos0 + j - p->cu_k[s];
  }
  int64_t rel = pos_k - pos_q;
  if (p->causal && rel > 0) return 0;
  if (p->windowed && p->win_left >= 0 && rel < -p->win_left) return 0;
  if (p->windowed && p->win_right >= 0 && rel > p->win_right) return 0;
  return 1;
}

/* Random offsets: nseq sequences with lengths in [0, maxlen] (empty ones included). */
static void random_offsets(int64_t *cu, int64_t nseq, int64_t maxlen) {
  cu[0] = 0;
  for (int64_t s = 0; s < nseq; ++s) cu[s + 1] = cu[s] + (tu_uniform() < 0.15 ? 0 : rnd(1, maxlen));
}

int main(void) {
  tu_init_seed("test_cpu_visibility");
  const int trials = 3000;
  int64_t bad_key = 0, bad_query = 0, bad_masked = 0, claimed_masked = 0, pairs_checked = 0;
  int64_t cu_q[9], cu_k[9];
  for (int t = 0; t < trials; ++t) {
    jfa_problem_t p;
    memset(&p, 0, sizeof p);
    p.B = p.Hq = p.Hkv = p.D = 1;
    p.scale = 1.0;
    p.causal = tu_uniform() < 0.5;
    p.windowed = tu_uniform() < 0.7;
    p.win_left = p.windowed ? rnd(-1, 12) : -1;
    p.win_right = p.windowed ? rnd(-1, 12) : -1;
    if (t % 2 == 0) { /* packed sequences, a block at global offsets inside them */
      p.nseq = rnd(1, 8);
      random_offsets(cu_q, p.nseq, 12);
      random_offsets(cu_k, p.nseq, 12);
      if (cu_q[p.nseq] == 0 || cu_k[p.nseq] == 0) continue;
      p.cu_q = cu_q, p.cu_k = cu_k;
      p.seq_bottom_right = tu_uniform() < 0.5;
      p.Nq = rnd(1, cu_q[p.nseq]);
      p.Nk = rnd(1, cu_k[p.nseq]);
      p.q_pos0 = rnd(0, cu_q[p.nseq] - p.Nq);
      p.k_pos0 = rnd(0, cu_k[p.nseq] - p.Nk);
    } else { /* global positions, as the ring's blocks and JFA_MASK_POSITIONS */
      p.Nq = rnd(1, 30);
      p.Nk = rnd(1, 30);
      p.q_pos0 = rnd(-20, 60);
      p.k_pos0 = rnd(-20, 60);
    }
    int any = 0;
    for (int64_t i = 0; i < p.Nq; ++i) {
      int64_t lo, hi;
      jfa_cpu_key_range(&p, i, &lo, &hi);
      for (int64_t j = 0; j < p.Nk; ++j) {
        int v = contract_visible(&p, i, j);
        any |= v;
        bad_key += v != (j >= lo && j < hi);
        ++pairs_checked;
      }
      bad_key += lo < 0 || hi > p.Nk || lo > hi;
    }
    for (int64_t j = 0; j < p.Nk; ++j) {
      int64_t lo, hi;
      jfa_cpu_query_range(&p, j, &lo, &hi);
      for (int64_t i = 0; i < p.Nq; ++i) bad_query += contract_visible(&p, i, j) != (i >= lo && i < hi);
      bad_query += lo < 0 || hi > p.Nq || lo > hi;
    }
    if (jfa_problem_fully_masked(&p)) {
      ++claimed_masked;
      bad_masked += any;
    }
  }
  char label[256];
  snprintf(label, sizeof label, "jfa_cpu_key_range equals the contract (%lld pairs, %lld mismatches)",
           (long long)pairs_checked, (long long)bad_key);
  tu_expect(label, bad_key == 0 && pairs_checked > 100000);
  snprintf(label, sizeof label, "jfa_cpu_query_range equals the contract (%lld mismatches)", (long long)bad_query);
  tu_expect(label, bad_query == 0);
  snprintf(label, sizeof label, "jfa_problem_fully_masked never hides a visible pair (%lld blocks claimed, %lld wrong)",
           (long long)claimed_masked, (long long)bad_masked);
  tu_expect(label, bad_masked == 0 && claimed_masked > 50);

  /* sequence lookup with empty sequences and indices outside the offsets */
  const int64_t cu[] = {0, 0, 3, 3, 3, 7, 8};
  int ok = jfa_cpu_sequence_of(cu, 6, -1) == -1 && jfa_cpu_sequence_of(cu, 6, 8) == -1;
  for (int64_t idx = 0; idx < 8; ++idx) ok &= jfa_cpu_sequence_of(cu, 6, idx) == ref_seq(cu, 6, idx);
  tu_expect("jfa_cpu_sequence_of: empty sequences skipped, out-of-range indices give -1", ok);
  return tu_finish();
}
