/*
 * visibility.c - which keys of a block a query row sees (and which query rows a
 * key is seen by) under the structural masks of jfa_problem_t: causal, sliding
 * window and packed sequences. Each of them bounds the key index to an interval,
 * so the visible set is one range [lo, hi) that the forward and the backward
 * loop over; the dense mask is tested per key inside it (jfa_cpu_mask_bias).
 */
#include "cpu/cpu.h"

/* Window sides clamped so that position arithmetic cannot overflow (see JFA_WINDOW_MAX). */
static int64_t clamp_window(int64_t w) { return w > JFA_WINDOW_MAX ? JFA_WINDOW_MAX : w; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

int64_t jfa_cpu_sequence_of(const int64_t *cu, int64_t nseq, int64_t idx) {
  if (idx < cu[0] || idx >= cu[nseq]) return -1;
  int64_t lo = 0, hi = nseq - 1; /* largest s with cu[s] <= idx; then cu[s+1] > idx */
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (cu[mid] <= idx) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/* Offset of query positions inside sequence s (bottom-right alignment per sequence). */
static int64_t seq_shift(const jfa_problem_t *p, int64_t s) {
  if (!p->seq_bottom_right) return 0;
  return (p->cu_k[s + 1] - p->cu_k[s]) - (p->cu_q[s + 1] - p->cu_q[s]);
}

void jfa_cpu_key_range(const jfa_problem_t *p, int64_t i, int64_t *lo, int64_t *hi) {
  int64_t l = 0, h = p->Nk;
  int64_t pos_q = p->q_pos0 + i, kbase = p->k_pos0; /* pos_k(j) = kbase + j */
  if (p->nseq > 0) {
    int64_t s = jfa_cpu_sequence_of(p->cu_q, p->nseq, p->q_pos0 + i);
    if (s < 0) {
      *lo = *hi = 0;
      return;
    }
    l = max64(l, p->cu_k[s] - p->k_pos0);
    h = min64(h, p->cu_k[s + 1] - p->k_pos0);
    pos_q = p->q_pos0 + i - p->cu_q[s] + seq_shift(p, s);
    kbase = p->k_pos0 - p->cu_k[s];
  }
  /* rel = kbase + j - pos_q */
  if (p->causal) h = min64(h, pos_q - kbase + 1);
  if (p->windowed && p->win_right >= 0) h = min64(h, pos_q - kbase + clamp_window(p->win_right) + 1);
  if (p->windowed && p->win_left >= 0) l = max64(l, pos_q - kbase - clamp_window(p->win_left));
  if (h <= l) l = h = 0; /* empty: keep the range inside the block */
  *lo = l;
  *hi = h;
}

void jfa_cpu_query_range(const jfa_problem_t *p, int64_t j, int64_t *lo, int64_t *hi) {
  int64_t l = 0, h = p->Nq;
  int64_t pos_k = p->k_pos0 + j, qbase = p->q_pos0; /* pos_q(i) = qbase + i */
  if (p->nseq > 0) {
    int64_t s = jfa_cpu_sequence_of(p->cu_k, p->nseq, p->k_pos0 + j);
    if (s < 0) {
      *lo = *hi = 0;
      return;
    }
    l = max64(l, p->cu_q[s] - p->q_pos0);
    h = min64(h, p->cu_q[s + 1] - p->q_pos0);
    pos_k = p->k_pos0 + j - p->cu_k[s];
    qbase = p->q_pos0 - p->cu_q[s] + seq_shift(p, s);
  }
  /* rel = pos_k - qbase - i */
  if (p->causal) l = max64(l, pos_k - qbase);
  if (p->windowed && p->win_right >= 0) l = max64(l, pos_k - qbase - clamp_window(p->win_right));
  if (p->windowed && p->win_left >= 0) h = min64(h, pos_k - qbase + clamp_window(p->win_left) + 1);
  if (h <= l) l = h = 0; /* empty: keep the range inside the block */
  *lo = l;
  *hi = h;
}
