/*
 * test_ring_skip.c - white-box test of the ring's block skipping (no MPI needed):
 * for rings of P = 1..8 ranks, contiguous and zigzag, with causal masks, sliding
 * windows and packed sequences (random offsets), the pairs jfa_ring_pairs keeps
 * for every (rank, owner) step must include every (query chunk, key chunk) pair
 * that has a visible (query, key) element by the backend.h contract (soundness),
 * and pairs with none must be left out (counted; windows and short sequences must
 * make the ring skip work). Then the fusion (jfa_ring_fuse_pairs) of the pairs of
 * every step and key half (-1, 0, 1): the fused calls' problems (jfa_ring_problem, by the
 * backend.h contract) must see exactly the globally visible (query, key) elements, each
 * once, and fusing must cut calls (zigzag steps without windows or sequences).
 *
 * Run: ctest --test-dir build -R test_ring_skip   (JFA_TEST_SEED=<n> to repeat)
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "ring/ring_internal.h"
#include "testutil.h"

static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(tu_uniform() * (double)(hi - lo + 1)); }

static int64_t seq_scan(const int64_t *cu, int64_t nseq, int64_t idx) {
  for (int64_t s = 0; s < nseq; ++s)
    if (cu[s] <= idx && idx < cu[s + 1]) return s;
  return -1;
}

/* Whether global query row q sees global key row k (shared offsets, Nq == Nk per sequence). */
static int visible(const jfa_ring_t *r, int64_t q, int64_t k) {
  if (r->nseq > 0 && seq_scan(r->cu, r->nseq, q) != seq_scan(r->cu, r->nseq, k)) return 0;
  int64_t rel = k - q;
  if (r->causal && rel > 0) return 0;
  if (r->windowed && r->win_left >= 0 && rel < -r->win_left) return 0;
  if (r->windowed && r->win_right >= 0 && rel > r->win_right) return 0;
  return 1;
}

static int any_visible(const jfa_ring_t *r, int64_t q0, int64_t nq, int64_t k0, int64_t nk) {
  for (int64_t q = q0; q < q0 + nq; ++q)
    for (int64_t k = k0; k < k0 + nk; ++k)
      if (visible(r, q, k)) return 1;
  return 0;
}

/* Global position of local row `row` of rank `rk` (zigzag: two chunks, else one range). */
static int64_t global_row(const jfa_ring_t *r, int rk, int64_t row) {
  if (r->nchunks == 2 && r->size > 1) {
    int64_t pos, rows;
    int c = row < r->chunk ? 0 : 1;
    jfa_layout_chunk(r->cfg.layout, r->cfg.seq_global, rk, r->size, c, &pos, &rows);
    return pos + row - c * r->chunk;
  }
  return (int64_t)rk * r->n_local + row;
}

/* Whether query i sees key j of a problem (backend.h, packed sequences with equal offsets). */
static int problem_visible(const jfa_problem_t *p, int64_t i, int64_t j) {
  int64_t pq = p->q_pos0 + i, pk = p->k_pos0 + j;
  if (p->nseq > 0) {
    int64_t sq = seq_scan(p->cu_q, p->nseq, pq), sk = seq_scan(p->cu_k, p->nseq, pk);
    if (sq != sk || sq < 0) return 0;
    pq -= p->cu_q[sq];
    pk -= p->cu_k[sk];
  }
  int64_t rel = pk - pq;
  if (p->causal && rel > 0) return 0;
  if (p->windowed && p->win_left >= 0 && rel < -p->win_left) return 0;
  if (p->windowed && p->win_right >= 0 && rel > p->win_right) return 0;
  return 1;
}

/* Fusion check of one ring: for each (rank, owner, key half) the fused calls cover the
   visible elements exactly once and mask the rest. Returns the number of wrong elements. */
static int64_t check_fusion(jfa_ring_t *r, int64_t *calls_before, int64_t *calls_after) {
  int64_t wrong = 0, n = r->n_local;
  unsigned char *cover = (unsigned char *)calloc((size_t)(n * n), 1);
  if (!cover) return 1;
  r->fuse = 1;
  for (int rank = 0; rank < r->size; ++rank) {
    r->rank = rank;
    for (int owner = 0; owner < r->size; ++owner)
      for (int half = -1; half < 2; ++half) {
        jfa_ring_pair_t pairs[4];
        int np = jfa_ring_pairs(r, owner, half, pairs);
        *calls_before += np;
        np = jfa_ring_fuse_pairs(r, owner, pairs, np);
        *calls_after += np;
        memset(cover, 0, (size_t)(n * n));
        for (int c = 0; c < np; ++c) {
          jfa_problem_t p = jfa_ring_problem(r, &pairs[c]);
          for (int64_t i = 0; i < pairs[c].q_rows; ++i)
            for (int64_t j = 0; j < pairs[c].k_rows; ++j)
              if (problem_visible(&p, i, j)) cover[(pairs[c].q_row0 + i) * n + pairs[c].k_row0 + j]++;
        }
        int64_t h0 = 0, hn = n;
        if (half >= 0) jfa_ring_key_half(r, half, &h0, &hn);
        for (int64_t qi = 0; qi < n; ++qi)
          for (int64_t kj = 0; kj < n; ++kj) {
            int in_half = kj >= h0 && kj < h0 + hn;
            int want = in_half && visible(r, global_row(r, rank, qi), global_row(r, owner, kj));
            wrong += cover[qi * n + kj] != want;
          }
      }
  }
  free(cover);
  return wrong;
}

int main(void) {
  tu_init_seed("test_ring_skip");
  int64_t unsound = 0, kept_masked = 0, skipped = 0, kept = 0, too_many = 0;
  int64_t fuse_wrong = 0, calls_before = 0, calls_after = 0;
  int64_t cu[16];
  for (int t = 0; t < 400; ++t) {
    jfa_ring_t r;
    memset(&r, 0, sizeof r);
    r.size = (int)rnd(1, 8);
    jfa_ring_config_init(&r.cfg);
    r.cfg.layout = t % 2 ? JFA_LAYOUT_ZIGZAG : JFA_LAYOUT_CONTIGUOUS;
    r.nchunks = t % 2 ? 2 : 1;
    r.cfg.seq_global = (int64_t)r.size * r.nchunks * rnd(1, 6);
    r.cfg.batch = r.cfg.heads_q = r.cfg.heads_kv = r.cfg.head_dim = 1;
    r.n_local = r.cfg.seq_global / r.size;
    r.chunk = r.n_local / r.nchunks;
    r.scale = 1.0;
    r.causal = tu_uniform() < 0.5;
    r.windowed = tu_uniform() < 0.6;
    r.win_left = r.windowed ? rnd(-1, 6) : -1;
    r.win_right = r.windowed ? rnd(-1, 6) : -1;
    if (tu_uniform() < 0.6) { /* packed sequences with random cuts (empty ones included) */
      r.nseq = rnd(1, 15);
      cu[0] = 0;
      for (int64_t s = 1; s < r.nseq; ++s) cu[s] = rnd(cu[s - 1], r.cfg.seq_global);
      cu[r.nseq] = r.cfg.seq_global;
      r.cu = cu;
    }
    for (int rank = 0; rank < r.size; ++rank) {
      r.rank = rank;
      for (int owner = 0; owner < r.size; ++owner) {
        jfa_ring_pair_t pairs[4];
        int np = jfa_ring_pairs(&r, owner, -1, pairs);
        /* every chunk pair of (rank, owner): kept iff it has a visible element (kept may be conservative) */
        int64_t qp[2], qn[2], kp[2], kn[2];
        int nq = r.nchunks == 2 && r.size > 1 ? 2 : 1;
        for (int c = 0; c < nq; ++c) {
          if (nq == 2) {
            jfa_layout_chunk(r.cfg.layout, r.cfg.seq_global, rank, r.size, c, &qp[c], &qn[c]);
            jfa_layout_chunk(r.cfg.layout, r.cfg.seq_global, owner, r.size, c, &kp[c], &kn[c]);
          } else {
            qp[c] = (int64_t)rank * r.n_local, qn[c] = r.n_local;
            kp[c] = (int64_t)owner * r.n_local, kn[c] = r.n_local;
          }
        }
        for (int a = 0; a < nq; ++a)
          for (int b = 0; b < nq; ++b) {
            int found = 0;
            for (int i = 0; i < np; ++i) found |= pairs[i].q_pos0 == qp[a] && pairs[i].k_pos0 == kp[b];
            int vis = any_visible(&r, qp[a], qn[a], kp[b], kn[b]);
            unsound += vis && !found;
            kept_masked += !vis && found;
            skipped += !found;
            kept += found;
          }
        too_many += np > nq * nq;
      }
    }
    fuse_wrong += check_fusion(&r, &calls_before, &calls_after);
  }
  char label[256];
  snprintf(label, sizeof label, "no pair with a visible element is skipped (%lld kept, %lld skipped, %lld wrong)",
           (long long)kept, (long long)skipped, (long long)unsound);
  tu_expect(label, unsound == 0 && too_many == 0 && skipped > 100);
  snprintf(label, sizeof label, "fully masked pairs are skipped (%lld of %lld kept though fully masked)",
           (long long)kept_masked, (long long)skipped + kept_masked);
  tu_check(label, (double)kept_masked / (double)(skipped + kept_masked + 1), 0.05);
  snprintf(label, sizeof label,
           "fused calls see exactly the visible elements, each once (%lld wrong; %lld calls -> %lld)",
           (long long)fuse_wrong, (long long)calls_before, (long long)calls_after);
  tu_expect(label, fuse_wrong == 0 && calls_after < calls_before);
  { /* a multi-rank call that fails in its run (a kernel's failure on one rank) leaves that rank out of step with its
       peers: jfa_ring_call_status marks its comm failed (later calls fail at once, destroy leaves the pool to the
       transfers that may still use it); a success, or a one-rank ring (no exchanges), leaves the comm usable */
    jfa_comm_t *comm = NULL;
    tu_expect("a single comm", jfa_comm_create_single(&comm) == JFA_SUCCESS);
    jfa_ring_t rr;
    memset(&rr, 0, sizeof(rr));
    rr.comm = comm;
    rr.size = 1;
    jfa_set_error(JFA_ERROR_OUT_OF_MEMORY, __FILE__, __LINE__, "a kernel's failure");
    tu_expect("one rank: a failed call leaves the comm usable",
              jfa_ring_call_status(&rr, JFA_ERROR_OUT_OF_MEMORY) == JFA_ERROR_OUT_OF_MEMORY && !comm->failed);
    rr.size = 2;
    tu_expect("two ranks: a successful call leaves the comm usable",
              jfa_ring_call_status(&rr, JFA_SUCCESS) == JFA_SUCCESS && !comm->failed);
    jfa_set_error(JFA_ERROR_OUT_OF_MEMORY, __FILE__, __LINE__, "a kernel's failure");
    tu_expect("two ranks: a failed run marks the comm failed with the call's status and message",
              jfa_ring_call_status(&rr, JFA_ERROR_OUT_OF_MEMORY) == JFA_ERROR_OUT_OF_MEMORY && comm->failed &&
                  comm->failed_status == JFA_ERROR_OUT_OF_MEMORY && strstr(comm->failure, "a kernel's failure"));
    tu_expect("its barrier then fails at once", jfa_comm_barrier(comm) == JFA_ERROR_OUT_OF_MEMORY &&
                                                    strstr(jfa_get_last_error(), "communicator failed earlier"));
    jfa_comm_destroy(comm);
  }
  { /* the zigzag chunk 1's start 2 P - 1 - r computed in int overflowed for P > 2^30 (wrong position, UB) */
    int64_t pos = -1, rows = -1;
    const int P = INT_MAX;
    const jfa_status_t st = jfa_layout_chunk(JFA_LAYOUT_ZIGZAG, 2 * (int64_t)P, 0, P, 1, &pos, &rows);
    tu_expect("zigzag of INT_MAX ranks, rank 0's chunk 1: rows 1 at 2 INT_MAX - 1",
              st == JFA_SUCCESS && rows == 1 && pos == 2 * (int64_t)P - 1);
  }
  return tu_finish();
}
