/*
 * ring.c - lifecycle of a jfa_ring_t (create with the cross-rank setup check,
 * destroy, memory), the collective agreement on argument checks, and the small
 * helpers the forward and backward share (step pairs, problems; the tensor views are
 * in views.c, which layout.c and ring_mem.c use too, so no two files call each other).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "core/overlap.h"
#include "core/params.h"
#include "core/validate.h"
#include "ring/ring_config.h"
#include "ring/ring_internal.h"

/* ------------------------------------------------------------------------- */
/* helpers                                                                    */

jfa_problem_t jfa_ring_problem(const jfa_ring_t *r, const jfa_ring_pair_t *pair) {
  jfa_problem_t p;
  memset(&p, 0, sizeof p); /* no window, dense mask or packed sequences */
  p.B = r->cfg.batch;
  p.Hq = r->cfg.heads_q;
  p.Hkv = r->cfg.heads_kv;
  p.D = r->cfg.head_dim;
  p.scale = r->scale;
  p.causal = r->causal;
  p.windowed = r->windowed;
  p.win_left = r->win_left;
  p.win_right = r->win_right;
  p.nseq = r->nseq; /* global offsets; the pair's positions are global row indices */
  p.cu_q = p.cu_k = r->cu;
  p.seq_bottom_right = 0; /* every sequence has as many queries as keys: both alignments agree */
  p.partial = 1;          /* every rank count alike, one included: a row whose keys all score -inf gives 0 */
  if (pair) {
    p.Nq = pair->q_rows;
    p.Nk = pair->k_rows;
    p.q_pos0 = pair->q_pos0;
    p.k_pos0 = pair->k_pos0;
    if (pair->mode != JFA_RING_PAIR_MASKED) { /* fused: no window, no sequences (jfa_ring_fuse_pairs) */
      p.windowed = 0;
      p.win_left = p.win_right = -1;
      p.nseq = 0;
      p.cu_q = p.cu_k = NULL;
      p.causal = pair->mode == JFA_RING_PAIR_LOCAL_CAUSAL;
      p.q_pos0 = p.causal ? pair->q_row0 : 0;
      p.k_pos0 = p.causal ? pair->k_row0 : 0;
    }
  } else {
    p.Nq = p.Nk = r->n_local;
    p.q_pos0 = p.k_pos0 = 0;
  }
  return p;
}

/* Whether a ring mask mode is causal (the modes check_config accepts; Nq == Nk: the alignments agree). */
static int ring_mask_causal(jfa_mask_t m) { return m == JFA_MASK_CAUSAL_TOP_LEFT || m == JFA_MASK_CAUSAL_BOTTOM_RIGHT; }

/* Local rows of a rank as chunks: zigzag's two (more than one rank), else one of
   n rows (one rank: zigzag's chunks are rows [0, N/2), [N/2, N), i.e. contiguous). */
static int chunks_of(const jfa_ring_t *r, int rank, int64_t row0[2], int64_t rows[2], int64_t pos0[2]) {
  if (r->nchunks == 2 && r->size > 1) {
    for (int c = 0; c < 2; ++c) {
      jfa_layout_chunk(r->cfg.layout, r->cfg.seq_global, rank, r->size, c, &pos0[c], &rows[c]);
      row0[c] = c * rows[c];
    }
    return 2;
  }
  row0[0] = 0;
  rows[0] = r->n_local;
  pos0[0] = (int64_t)rank * r->n_local;
  return 1;
}

void jfa_ring_key_half(const jfa_ring_t *r, int half, int64_t *row0, int64_t *rows) {
  if (r->nchunks == 2 && r->size > 1) { /* zigzag: the halves are the two chunks */
    *row0 = half * r->chunk;
    *rows = r->chunk;
    return;
  }
  int64_t h0 = (r->n_local + 1) / 2;
  *row0 = half == 0 ? 0 : h0;
  *rows = half == 0 ? h0 : r->n_local - h0;
}

/* Packed sequence holding global row idx (the last s with cu[s] <= idx). */
static int64_t sequence_of(const jfa_ring_t *r, int64_t idx) {
  int64_t lo = 0, hi = r->nseq - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (r->cu[mid] <= idx) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

int jfa_ring_pair_fully_masked(const jfa_ring_t *r, const jfa_ring_pair_t *pair) {
  jfa_problem_t p = jfa_ring_problem(r, pair);
  /* Queries and keys share the offsets and each sequence has as many of both, so
     inside a sequence pos_k - pos_q = k - q in global rows: the causal and window
     bounds on global rows hold with or without packed sequences. */
  p.nseq = 0;
  if (jfa_problem_fully_masked(&p)) return 1;
  if (r->nseq == 0) return 0;
  /* the sequences the rows touch are contiguous ranges; no common one: nothing visible */
  int64_t qs0 = sequence_of(r, pair->q_pos0), qs1 = sequence_of(r, pair->q_pos0 + pair->q_rows - 1);
  int64_t ks0 = sequence_of(r, pair->k_pos0), ks1 = sequence_of(r, pair->k_pos0 + pair->k_rows - 1);
  return ks1 < qs0 || ks0 > qs1;
}

int jfa_ring_pairs(const jfa_ring_t *r, int owner, int khalf, jfa_ring_pair_t pairs[4]) {
  int64_t qr0[2], qrows[2], qpos[2], kr0[2], krows[2], kpos[2];
  int nq = chunks_of(r, r->rank, qr0, qrows, qpos);
  int nk = chunks_of(r, owner, kr0, krows, kpos);
  if (khalf >= 0) { /* keep only the keys of that half */
    int64_t h0, hn;
    jfa_ring_key_half(r, khalf, &h0, &hn);
    if (nk == 2) {
      kr0[0] = kr0[khalf];
      krows[0] = krows[khalf];
      kpos[0] = kpos[khalf];
    } else {
      kpos[0] += h0;
      kr0[0] = h0;
      krows[0] = hn;
    }
    nk = 1;
  }
  int n = 0;
  for (int a = 0; a < nq; ++a)
    for (int b = 0; b < nk; ++b) {
      if (qrows[a] == 0 || krows[b] == 0) continue;
      jfa_ring_pair_t pr = {qr0[a], kr0[b], qpos[a], kpos[b], qrows[a], krows[b], JFA_RING_PAIR_MASKED};
      if (!jfa_ring_pair_fully_masked(r, &pr)) pairs[n++] = pr;
    }
  return n;
}

/* Distinct chunks of the pairs' query (keys = 0) or key (keys = 1) side: whether they tile
   one range of local rows [*row0, *row0 + *rows); their count in *count. */
static int tile_rows(const jfa_ring_pair_t *pairs, int n, int keys, int64_t *row0, int64_t *rows, int *count) {
  int64_t seen[4], lo = INT64_MAX, hi = INT64_MIN, sum = 0;
  int m = 0;
  for (int i = 0; i < n; ++i) {
    int64_t r0 = keys ? pairs[i].k_row0 : pairs[i].q_row0, nr = keys ? pairs[i].k_rows : pairs[i].q_rows;
    int dup = 0;
    for (int j = 0; j < m; ++j) dup |= seen[j] == r0;
    if (dup) continue;
    seen[m++] = r0;
    sum += nr;
    if (r0 < lo) lo = r0;
    if (r0 + nr > hi) hi = r0 + nr;
  }
  *row0 = lo;
  *rows = hi - lo;
  *count = m;
  return m > 0 && sum == hi - lo; /* distinct chunks are disjoint: they tile it iff no gap */
}

int jfa_ring_fuse_pairs(const jfa_ring_t *r, int owner, jfa_ring_pair_t *pairs, int n) {
  if (!r->fuse || n < 2 || r->windowed || r->nseq > 0) return n;
  int64_t q0, nq, k0, nk;
  int cq, ck;
  if (!tile_rows(pairs, n, 0, &q0, &nq, &cq) || !tile_rows(pairs, n, 1, &k0, &nk, &ck)) return n;
  int all_visible = n == cq * ck; /* the rectangle holds no left-out (fully masked) pair */
  for (int i = 0; i < n && all_visible; ++i) /* causal: the first query sees the last key */
    if (r->causal && pairs[i].k_pos0 + pairs[i].k_rows - 1 > pairs[i].q_pos0) all_visible = 0;
  int mode;
  if (all_visible) mode = JFA_RING_PAIR_ALL;
  else if (r->causal && owner == r->rank) mode = JFA_RING_PAIR_LOCAL_CAUSAL; /* see below */
  else return n;
  /* LOCAL_CAUSAL: queries and keys are the rank's own rows, whose global positions grow with
     the local row (contiguous: one range; zigzag: chunk 0 precedes chunk 1), so pos_k <= pos_q
     iff k_row <= q_row: the causal mask over local rows is the global one, and the pairs left
     out of the rectangle (fully masked) are masked by it too. */
  jfa_ring_pair_t f = {q0, k0, pairs[0].q_pos0, pairs[0].k_pos0, nq, nk, mode};
  pairs[0] = f;
  return 1;
}

/* A code of the agreement's call site (its `what`), so that ranks in different ring calls see it differ. */
static int64_t agree_code(const char *what) {
  uint64_t h = 5381;
  for (const char *c = what; *c; ++c) h = h * 33 + (unsigned char)*c;
  return (int64_t)(h & 0x7fffffffffffull);
}

/* Words of every collective check of the ring (the agreement below, jfa_ring_create's config check): one size, so
   that a rank in one while the others are in the other (a rank failing a call while they create a ring) pairs a
   collective of the same size and every rank sees the difference (word 0 is each one's error flag). */
enum { RING_CHECK_WORDS = 16 };

/* The agreement's collective: words 0-2 (this rank's error flag, the call site's code, its call count) put into
   `in` (whose words 3.. the caller filled), every rank's minimum and maximum of each word into lo and hi, and the
   checks of words 0-2: this rank's own error first, then a call that differs, then another rank's error. */
static jfa_status_t agree_words(jfa_ring_t *r, jfa_status_t local, const char *what, int64_t *in, int64_t *lo,
                                int64_t *hi) {
  in[0] = local == JFA_SUCCESS ? 0 : 1;
  in[1] = agree_code(what);
  in[2] = r->agreements++;
  jfa_status_t st = r->comm->ops->allreduce_minmax(r->comm, in, lo, hi, RING_CHECK_WORDS);
  if (local != JFA_SUCCESS) return local; /* keeps this rank's message */
  JFA_CHECK(st);
  if (lo[1] != hi[1] || lo[2] != hi[2])
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "%s: the ranks' ring calls differ (another rank is in a different jfa_ring call, or has skipped or "
             "repeated one: every rank makes the same ring calls in the same order; this rank's call %lld)",
             what, (long long)in[2]);
  if (hi[0] != 0)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: another rank rejected its arguments (see its error)", what);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_agree_values(jfa_ring_t *r, jfa_status_t local, const char *what, const int64_t *vals,
                                   const char *const *names, int nvals) {
  /* jfa_ring_agree's three words, then the values (in the same collective of RING_CHECK_WORDS words) */
  int64_t in[RING_CHECK_WORDS] = {0}, lo[RING_CHECK_WORDS] = {0}, hi[RING_CHECK_WORDS] = {0};
  for (int i = 0; i < nvals && 3 + i < RING_CHECK_WORDS; ++i) in[3 + i] = vals[i];
  jfa_status_t st = agree_words(r, local, what, in, lo, hi);
  if (st != JFA_SUCCESS) return st; /* its message as set (no trace line added) */
  for (int i = 3; i < 3 + nvals && i < RING_CHECK_WORDS; ++i)
    if (lo[i] != hi[i])
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: %s differs across ranks (min %lld, max %lld, this rank %lld)", what,
               names[i - 3], (long long)lo[i], (long long)hi[i], (long long)in[i]);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_agree(jfa_ring_t *r, jfa_status_t local, const char *what) {
  return jfa_ring_agree_values(r, local, what, NULL, NULL, 0);
}

jfa_status_t jfa_ring_agree_any(jfa_ring_t *r, jfa_status_t local, const char *what, int flag, int *any) {
  /* jfa_ring_agree's words, then the flag (word 3 of the same collective), whose maximum is the answer */
  int64_t in[RING_CHECK_WORDS] = {0}, lo[RING_CHECK_WORDS] = {0}, hi[RING_CHECK_WORDS] = {0};
  in[3] = flag != 0;
  *any = 0;
  jfa_status_t st = agree_words(r, local, what, in, lo, hi);
  if (st == JFA_SUCCESS) *any = hi[3] != 0;
  return st;
}

jfa_status_t jfa_ring_check_qkv(const jfa_ring_t *r, const jfa_tensor_t *t, const char *name,
                                int is_kv) {
  if (!t) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s is NULL", name);
  JFA_CHECK(jfa_check_tensor(t, name, r->ctx->device));
  int64_t h = is_kv ? r->cfg.heads_kv : r->cfg.heads_q;
  if (t->shape[0] != r->cfg.batch || t->shape[1] != h || t->shape[2] != r->n_local ||
      t->shape[3] != r->cfg.head_dim)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "%s has shape (%lld, %lld, %lld, %lld), the ring expects (%lld, %lld, %lld, %lld) "
             "(local shard: seq_global %lld / %d ranks)",
             name, (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2],
             (long long)t->shape[3], (long long)r->cfg.batch, (long long)h, (long long)r->n_local,
             (long long)r->cfg.head_dim, (long long)r->cfg.seq_global, r->size);
  if (t->dtype != r->cfg.dtype)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s has dtype %d, the ring's config says %d", name,
             (int)t->dtype, (int)r->cfg.dtype);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_check_stat(const jfa_ring_t *r, const jfa_tensor_t *t, const char *name) {
  JFA_CHECK(jfa_check_tensor(t, name, r->ctx->device));
  if (t->shape[0] != r->cfg.batch || t->shape[1] != r->cfg.heads_q || t->shape[2] != r->n_local ||
      t->shape[3] != 1)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "%s has shape (%lld, %lld, %lld, %lld), the ring expects (%lld, %lld, %lld, 1)", name,
             (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2],
             (long long)t->shape[3], (long long)r->cfg.batch, (long long)r->cfg.heads_q,
             (long long)r->n_local);
  int ok = t->dtype == JFA_DTYPE_FLOAT32 ||
           (t->dtype == JFA_DTYPE_FLOAT64 && r->ctx->device == JFA_DEVICE_CPU);
  if (!ok)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s must be float32 (or float64 on the CPU), got dtype %d",
             name, (int)t->dtype);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_check_aliases(const jfa_tensor_t *const *outs, const char *const *out_names,
                                    int nout, const jfa_tensor_t *const *ins, int nin) {
  for (int i = 0; i < nout; ++i) {
    if (!outs[i]) continue;
    JFA_CHECK(jfa_check_output_strides(outs[i], out_names[i])); /* no two elements at one address (jfa.h) */
    for (int j = 0; j < nin; ++j)
      if (ins[j] && jfa_tensors_overlap(outs[i], ins[j]))
        JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s overlaps an input tensor", out_names[i]);
    for (int j = i + 1; j < nout; ++j)
      if (outs[j] && jfa_tensors_overlap(outs[i], outs[j]))
        JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s overlaps %s", out_names[i], out_names[j]);
  }
  return JFA_SUCCESS;
}

/* ------------------------------------------------------------------------- */
/* lifecycle                                                                  */

/* Packed-sequence offsets of the global sequence (the config's, or jfa_ring_set_seqlens'): num_seqs + 1 host values,
   non-decreasing from 0 to seq_global, batch 1. `who` prefixes the names in the messages ("config." or ""). */
static jfa_status_t check_offsets(const int64_t *cu, int64_t num_seqs, int64_t seq_global, int64_t batch,
                                  const char *who) {
  if (num_seqs < 1 || num_seqs > seq_global + 1)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "%snum_seqs %lld must be between 1 and seq_global + 1 = %lld with %scu_seqlens (the ring's bound on its "
             "copy of the offsets; empty sequences count)",
             who, (long long)num_seqs, (long long)(seq_global + 1), who);
  if (batch != 1)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%scu_seqlens: packed sequences need batch 1 (config.batch = %lld)", who,
             (long long)batch);
  return jfa_check_cu_seqlens(cu, num_seqs, seq_global, who[0] ? "config.cu_seqlens" : "cu_seqlens", "seq_global");
}
/* Local checks of the config (identical on every rank when the configs agree). */
static jfa_status_t check_config(const jfa_context_t *ctx, const jfa_comm_t *comm,
                                 const jfa_ring_config_t *c) {
  if (c->batch < 1) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.batch must be >= 1 (got %lld)", (long long)c->batch);
  if (c->heads_q < 1) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.heads_q must be >= 1 (got %lld)", (long long)c->heads_q);
  if (c->heads_kv < 1 || c->heads_q % c->heads_kv != 0)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.heads_kv (%lld) must be >= 1 and divide heads_q (%lld)",
             (long long)c->heads_kv, (long long)c->heads_q);
  if (c->head_dim < 1) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.head_dim must be >= 1 (got %lld)", (long long)c->head_dim);
  if (c->seq_global < 1) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.seq_global must be >= 1 (got %lld)", (long long)c->seq_global);
  /* the tensors' own limit (core/validate.c: 2^52 elements), before the ring multiplies the sizes in int64 */
  if ((double)c->batch * (double)c->heads_q * (double)c->seq_global * (double)c->head_dim > 0x1p52)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "config: batch %lld x heads_q %lld x seq_global %lld x head_dim %lld is more than jfa's limit of 2^52 "
             "elements",
             (long long)c->batch, (long long)c->heads_q, (long long)c->seq_global, (long long)c->head_dim);
  if (c->layout != JFA_LAYOUT_CONTIGUOUS && c->layout != JFA_LAYOUT_ZIGZAG)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.layout %d is not a jfa_layout_t", (int)c->layout);
  int64_t pos, rows;
  JFA_CHECK(jfa_layout_chunk(c->layout, c->seq_global, comm->rank, comm->size, 0, &pos, &rows));
  if (c->mask != JFA_MASK_NONE && c->mask != JFA_MASK_CAUSAL_TOP_LEFT &&
      c->mask != JFA_MASK_CAUSAL_BOTTOM_RIGHT && c->mask != JFA_MASK_BOTTOM_RIGHT)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "config.mask %d: the ring supports JFA_MASK_NONE and causal over the global sequence "
             "(TOP_LEFT; the BOTTOM_RIGHT modes are the same as TOP_LEFT and NONE since Nq == Nk)", (int)c->mask);
  if (c->window_left < JFA_WINDOW_UNBOUNDED)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.window_left %lld is invalid (>= 0, or JFA_WINDOW_UNBOUNDED = -1)",
             (long long)c->window_left);
  if (c->window_right < JFA_WINDOW_UNBOUNDED)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.window_right %lld is invalid (>= 0, or JFA_WINDOW_UNBOUNDED = -1)",
             (long long)c->window_right);
  if (!c->cu_seqlens && c->num_seqs != 0)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.num_seqs %lld without config.cu_seqlens (must be 0)",
             (long long)c->num_seqs);
  if (c->flags & JFA_PARAMS_SEQLENS_DEVICE) /* before cu_seqlens is read: it might be device memory */
    JFA_FAIL(JFA_ERROR_UNSUPPORTED, "config.flags: JFA_PARAMS_SEQLENS_DEVICE is not supported by the ring (it splits "
                                    "config.cu_seqlens over the ranks on the host, at creation)");
  if (c->cu_seqlens) JFA_CHECK(check_offsets(c->cu_seqlens, c->num_seqs, c->seq_global, c->batch, "config."));
  if (!isfinite(c->scale) || fabs(c->scale) > JFA_SCALE_MAX)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.scale must be finite with |scale| <= JFA_SCALE_MAX = 2^16 (got %g)",
             c->scale);
  if (c->flags & ~(uint32_t)JFA_PARAMS_KNOWN_FLAGS)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.flags: unknown bits 0x%x",
             (unsigned)(c->flags & ~(uint32_t)JFA_PARAMS_KNOWN_FLAGS));
  switch (c->dtype) {
    case JFA_DTYPE_FLOAT64:
      if (ctx->device != JFA_DEVICE_CPU)
        JFA_FAIL(JFA_ERROR_UNSUPPORTED, "config.dtype float64 is supported on the CPU only");
      break;
    case JFA_DTYPE_FLOAT32: break;
    case JFA_DTYPE_FLOAT16:
    case JFA_DTYPE_BFLOAT16:
      if (ctx->device != JFA_DEVICE_CUDA)
        JFA_FAIL(JFA_ERROR_UNSUPPORTED, "config.dtype float16/bfloat16 is supported on CUDA only");
      break;
    default: JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config.dtype %d is not a jfa_dtype_t", (int)c->dtype);
  }
  if (strcmp(comm->ops->name, "nccl") == 0 && ctx->device != JFA_DEVICE_CUDA)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm: an NCCL communicator needs a CUDA context");
  /* else the first exchange failed on this rank with a bare CUDA error while its peers waited out the timeout */
  if (comm->device_index >= 0 && ctx->device == JFA_DEVICE_CUDA && comm->device_index != ctx->device_index)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm: the NCCL communicator's GPU %d is not the context's GPU %d",
             comm->device_index, ctx->device_index);
  return JFA_SUCCESS;
}

static void release(jfa_ring_t *r) {
  jfa_ring_free(r->ctx, r->pool);
  r->pool = NULL;
  r->bytes = 0;
}

static jfa_status_t reserve_local(jfa_ring_t *r, size_t bytes) {
  if (bytes == 0 || (bytes <= r->bytes && r->pool)) return JFA_SUCCESS; /* 0: the call needs no buffer */
  release(r);
  JFA_CHECK(jfa_ring_alloc(r->ctx, bytes, &r->pool));
  r->bytes = bytes;
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_reserve(jfa_ring_t *r, size_t bytes) {
  int prev;
  jfa_status_t local = jfa_ring_device_enter(r->ctx, &prev);
  if (local == JFA_SUCCESS) {
    local = reserve_local(r, bytes);
    jfa_ring_device_exit(r->ctx, prev);
  }
  /* an allocation failure on one rank fails every rank */
  return jfa_ring_agree(r, local, "ring buffers");
}

/* Fields compared across ranks by the setup check. */
enum {
  F_BAD, F_B, F_HQ, F_HKV, F_N, F_D, F_DTYPE, F_LAYOUT, F_MASK, F_SCALE, F_DEVICE, F_SIZE,
  F_WL, F_WR, F_NSEQ, F_CUSUM, F_COUNT
};
_Static_assert((int)F_COUNT == (int)RING_CHECK_WORDS, "the config check and the agreement are collectives of one size");
static const char *const field_names[F_COUNT] = {
    "local check", "batch", "heads_q", "heads_kv", "seq_global", "head_dim", "dtype",
    "layout",      "mask",  "scale",   "device",   "comm size", "window_left", "window_right",
    "num_seqs",    "cu_seqlens (checksum)"};

/* FNV-1a over the offsets' bytes (0 without packed sequences): equal arrays, equal sums. */
static int64_t offsets_checksum(const int64_t *cu, int64_t nseq) {
  if (!cu) return 0;
  uint64_t h = 1469598103934665603ull;
  for (int64_t s = 0; s <= nseq; ++s) {
    uint64_t x = (uint64_t)cu[s];
    for (int b = 0; b < 8; ++b) {
      h ^= (x >> (8 * b)) & 0xffu;
      h *= 1099511628211ull;
    }
  }
  int64_t out;
  memcpy(&out, &h, sizeof out);
  return out;
}

jfa_status_t jfa_ring_create(jfa_ring_t **ring, jfa_context_t *ctx, jfa_comm_t *comm,
                             const jfa_ring_config_t *config) {
  if (ring) *ring = NULL;
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL"); /* the one argument without which no rank can be told */
  /* A NULL ring or ctx is this rank's error like an invalid config: the rank still joins the check below, so that
     the others return the error too rather than wait in it (and this rank's next collective does not meet theirs) */
  jfa_status_t local = JFA_SUCCESS;
  if (!ring) local = jfa_set_error(JFA_ERROR_INVALID_ARGUMENT, __FILE__, __LINE__, "ring is NULL");
  else if (!ctx) local = jfa_set_error(JFA_ERROR_INVALID_ARGUMENT, __FILE__, __LINE__, "ctx is NULL");
  jfa_ring_config_t cfg; /* the caller's layout read into the current one (defaults if it fails) */
  if (local == JFA_SUCCESS) local = jfa_ring_config_read(config, &cfg);
  else jfa_ring_config_defaults(&cfg);
  const jfa_ring_config_t *c = &cfg;
  if (local == JFA_SUCCESS) local = check_config(ctx, comm, c);
  int64_t v[F_COUNT], lo[F_COUNT], hi[F_COUNT];
  /* the resolved scale (0 means 1/sqrt(D) unless JFA_PARAMS_SCALE_AS_GIVEN) is what must agree */
  double scale = jfa_params_scale(c->scale, c->flags, c->head_dim);
  int64_t scale_bits;
  memcpy(&scale_bits, &scale, sizeof(scale_bits));
  v[F_BAD] = local != JFA_SUCCESS;
  v[F_B] = c->batch;
  v[F_HQ] = c->heads_q;
  v[F_HKV] = c->heads_kv;
  v[F_N] = c->seq_global;
  v[F_D] = c->head_dim;
  v[F_DTYPE] = c->dtype;
  v[F_LAYOUT] = c->layout;
  v[F_MASK] = ring_mask_causal(c->mask);
  v[F_SCALE] = scale_bits;
  v[F_DEVICE] = ctx ? (int64_t)ctx->device : -1;
  v[F_SIZE] = comm->size;
  int ok_local = local == JFA_SUCCESS;
  v[F_WL] = ok_local ? c->window_left : 0;
  v[F_WR] = ok_local ? c->window_right : 0;
  v[F_NSEQ] = ok_local ? c->num_seqs : 0;
  v[F_CUSUM] = ok_local ? offsets_checksum(c->cu_seqlens, c->num_seqs) : 0;
  jfa_status_t st = comm->ops->allreduce_minmax(comm, v, lo, hi, F_COUNT);
  if (local != JFA_SUCCESS) return local;
  JFA_CHECK(st);
  if (hi[F_BAD])
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "jfa_ring_create: another rank's config is invalid, or another rank failed "
             "a ring call here (see its error)");
  for (int i = 1; i < F_COUNT; ++i) {
    if (i == F_SCALE && lo[i] != hi[i]) /* the resolved scale's bits: this rank's value, as a number */
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "jfa_ring_create: config.scale differs across ranks (this rank's resolved "
               "scale %.17g)", scale);
    if (lo[i] != hi[i])
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
               "jfa_ring_create: config.%s differs across ranks (min %lld, max %lld, this rank %lld)",
               field_names[i], (long long)lo[i], (long long)hi[i], (long long)v[i]);
  }

  jfa_ring_t *r = (jfa_ring_t *)calloc(1, sizeof(*r));
  if (!r) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "jfa_ring_create: out of host memory");
  r->ctx = ctx;
  r->comm = comm;
  r->cfg = *c;
  r->rank = comm->rank;
  r->size = comm->size;
  r->nchunks = c->layout == JFA_LAYOUT_ZIGZAG ? 2 : 1;
  r->n_local = c->seq_global / comm->size;
  r->chunk = r->n_local / r->nchunks;
  r->scale = scale;
  r->causal = ring_mask_causal(c->mask);
  r->win_left = c->window_left > JFA_WINDOW_MAX ? JFA_WINDOW_MAX : c->window_left;
  r->win_right = c->window_right > JFA_WINDOW_MAX ? JFA_WINDOW_MAX : c->window_right;
  r->windowed = r->win_left >= 0 || r->win_right >= 0;
  if (c->cu_seqlens) {
    r->cu = (int64_t *)malloc((size_t)(c->num_seqs + 1) * sizeof(int64_t));
    if (!r->cu) {
      free(r);
      JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "jfa_ring_create: out of host memory for cu_seqlens");
    }
    memcpy(r->cu, c->cu_seqlens, (size_t)(c->num_seqs + 1) * sizeof(int64_t));
    r->nseq = c->num_seqs;
  }
  r->cfg.cu_seqlens = r->cu; /* the caller's array need not outlive the ring */
  r->acc = jfa_acc_dtype(ctx->device);
  r->esz = jfa_dtype_size(c->dtype);
  r->asz = jfa_dtype_size(r->acc);
  r->kv_elems = c->batch * c->heads_kv * r->n_local * c->head_dim;
  r->q_elems = c->batch * c->heads_q * r->n_local * c->head_dim;
  r->q_rows = c->batch * c->heads_q * r->n_local;
  /* One rank needs no ring: its calls are the single-device backend calls (accumulate = 0,
     the caller's outputs, no buffers). JFA_RING_GENERIC=1 keeps the ring's steps at P = 1
     (its one step writes the outputs, see jfa_ring_single), =2 its accumulators and key halves
     too (every call merged, as at P > 1), to test or measure them; JFA_RING_FUSE=0 keeps one
     call per pair; JFA_RING_PROFILE=1 (or 2) prints each call's phases (ring_profile.c). */
  const char *generic = getenv("JFA_RING_GENERIC"), *fuse = getenv("JFA_RING_FUSE");
  const char *profile = getenv("JFA_RING_PROFILE");
  r->generic = generic && (generic[0] == '1' || generic[0] == '2') ? generic[0] - '0' : 0;
  r->direct = comm->size == 1 && r->generic == 0;
  r->fuse = !(fuse && fuse[0] == '0');
  r->profile = profile && (profile[0] == '1' || profile[0] == '2') ? profile[0] - '0' : 0;

  *ring = r;
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_call_status(jfa_ring_t *r, jfa_status_t st) {
  if (st != JFA_SUCCESS && r->size > 1) jfa_comm_mark_failed(r->comm, st);
  return st;
}

/* Frees the pool on the context's device. */
static void release_on_device(jfa_ring_t *r) {
  /* a failed comm may still have transfers into the pool in flight (a peer's exchange that never came: NCCL kernels
     spinning, MPI requests it could not cancel), which cudaFree would wait for forever, or write freed memory: the
     pool is left (leaked) then, as the comms leave their own staging buffers */
  if (r->comm && r->comm->failed) {
    r->pool = NULL;
    r->bytes = 0;
    return;
  }
  int prev;
  jfa_status_t st = jfa_ring_device_enter(r->ctx, &prev);
  release(r);
  if (st == JFA_SUCCESS) jfa_ring_device_exit(r->ctx, prev);
}

jfa_status_t jfa_ring_destroy(jfa_ring_t *ring) {
  if (!ring) return JFA_SUCCESS;
  release_on_device(ring);
  free(ring->cu);
  free(ring);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_set_seqlens(jfa_ring_t *ring, const int64_t *cu_seqlens, int64_t num_seqs) {
  if (!ring) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ring is NULL");
  jfa_ring_t *r = ring;
  /* this rank's checks, and its copy made before the collective, so that every rank replaces its offsets or none */
  jfa_status_t local = JFA_SUCCESS;
  int64_t *cu = NULL;
  if (!r->cu)
    local = jfa_set_error(JFA_ERROR_UNSUPPORTED, __FILE__, __LINE__,
                          "jfa_ring_set_seqlens: the ring was created without packed sequences (config.cu_seqlens "
                          "NULL): create it with some");
  else if (!cu_seqlens)
    local = jfa_set_error(JFA_ERROR_INVALID_ARGUMENT, __FILE__, __LINE__, "jfa_ring_set_seqlens: cu_seqlens is NULL");
  else
    local = check_offsets(cu_seqlens, num_seqs, r->cfg.seq_global, r->cfg.batch, "");
  if (local == JFA_SUCCESS) {
    cu = (int64_t *)malloc((size_t)(num_seqs + 1) * sizeof(int64_t));
    if (!cu) local = jfa_set_error(JFA_ERROR_OUT_OF_MEMORY, __FILE__, __LINE__, "jfa_ring_set_seqlens: out of host memory");
    else memcpy(cu, cu_seqlens, (size_t)(num_seqs + 1) * sizeof(int64_t));
  }
  const int ok = local == JFA_SUCCESS;
  const int64_t sums[2] = {ok ? num_seqs : 0, ok ? offsets_checksum(cu_seqlens, num_seqs) : 0};
  static const char *const names[2] = {"num_seqs", "cu_seqlens (checksum)"};
  jfa_status_t st = jfa_ring_agree_values(r, local, "jfa_ring_set_seqlens", sums, names, 2);
  if (st != JFA_SUCCESS) {
    free(cu);
    return st;
  }
  free(r->cu);
  r->cu = cu;
  r->nseq = num_seqs;
  r->cfg.cu_seqlens = cu;
  r->cfg.num_seqs = num_seqs;
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_release_memory(jfa_ring_t *ring) {
  if (!ring) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ring is NULL");
  release_on_device(ring);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_memory_bytes(const jfa_ring_t *ring, size_t *bytes) {
  if (!ring) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ring is NULL");
  if (!bytes) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "bytes is NULL");
  *bytes = ring->bytes + ring->comm->ops->staging_bytes(ring->comm);
  return JFA_SUCCESS;
}
