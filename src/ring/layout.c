/*
 * layout.c - how the global sequence is split across ranks (contiguous or
 * zigzag chunks) and the copies between a full-sequence tensor and a rank's
 * local shard (jfa_backend_convert on row views: no extra memory).
 */
#include "core/check.h"
#include "core/overlap.h"
#include "ring/ring_internal.h"

jfa_status_t jfa_layout_chunk(jfa_layout_t layout, int64_t seq_global, int rank, int size,
                              int chunk, int64_t *position, int64_t *rows) {
  if (size < 1) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "size must be >= 1 (got %d)", size);
  if (rank < 0 || rank >= size)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "rank %d out of range [0, %d)", rank, size);
  if (seq_global < 1) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "seq_global must be >= 1 (got %lld)",
                               (long long)seq_global);
  if (!position || !rows) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "position and rows must not be NULL");
  if (layout == JFA_LAYOUT_CONTIGUOUS) {
    if (seq_global % size != 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
               "seq_global %lld does not divide by the %d ranks (contiguous layout)",
               (long long)seq_global, size);
    if (chunk != 0) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "chunk %d: the contiguous layout has one chunk", chunk);
    *rows = seq_global / size;
    *position = (int64_t)rank * *rows;
    return JFA_SUCCESS;
  }
  if (layout == JFA_LAYOUT_ZIGZAG) {
    if (seq_global % (2 * (int64_t)size) != 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
               "seq_global %lld does not divide by 2 * %d ranks (zigzag layout)",
               (long long)seq_global, size);
    if (chunk != 0 && chunk != 1)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "chunk %d: the zigzag layout has chunks 0 and 1", chunk);
    *rows = seq_global / (2 * (int64_t)size);
    *position = (chunk == 0 ? (int64_t)rank : 2 * (int64_t)size - 1 - rank) * *rows;
    return JFA_SUCCESS;
  }
  JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "layout %d is not a jfa_layout_t", (int)layout);
}

/* Checks full/local of one shard copy; sets *nchunks. */
static jfa_status_t check_pair(jfa_context_t *ctx, jfa_layout_t layout, int rank, int size,
                               const jfa_tensor_t *full, const jfa_tensor_t *local, int to_local, int *nchunks) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (!full) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "full is NULL");
  if (!local) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "local is NULL");
  JFA_CHECK(jfa_check_tensor(full, "full", ctx->device));
  JFA_CHECK(jfa_check_tensor(local, "local", ctx->device));
  int64_t pos, rows;
  JFA_CHECK(jfa_layout_chunk(layout, full->shape[2], rank, size, 0, &pos, &rows));
  *nchunks = layout == JFA_LAYOUT_ZIGZAG ? 2 : 1;
  int64_t n_local = rows * *nchunks;
  if (full->shape[0] != local->shape[0] || full->shape[1] != local->shape[1] ||
      full->shape[3] != local->shape[3] || local->shape[2] != n_local)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "local shape (%lld, %lld, %lld, %lld) must be (%lld, %lld, %lld, %lld): full's with "
             "seq %lld / %d ranks",
             (long long)local->shape[0], (long long)local->shape[1], (long long)local->shape[2],
             (long long)local->shape[3], (long long)full->shape[0], (long long)full->shape[1],
             (long long)n_local, (long long)full->shape[3], (long long)full->shape[2], size);
  if (jfa_tensors_overlap(full, local)) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "full and local overlap");
  JFA_CHECK(to_local ? jfa_check_output_strides(local, "local") : jfa_check_output_strides(full, "full"));
  return JFA_SUCCESS;
}

static jfa_status_t copy_chunks(jfa_context_t *ctx, jfa_layout_t layout, int rank, int size,
                                const jfa_tensor_t *full, const jfa_tensor_t *local, int to_local) {
  int nchunks = 0;
  JFA_CHECK(check_pair(ctx, layout, rank, size, full, local, to_local, &nchunks));
  for (int c = 0; c < nchunks; ++c) {
    int64_t pos, rows;
    JFA_CHECK(jfa_layout_chunk(layout, full->shape[2], rank, size, c, &pos, &rows));
    jfa_tensor_t f = jfa_ring_rows(full, pos, rows);
    jfa_tensor_t l = jfa_ring_rows(local, c * rows, rows);
    if (to_local)
      JFA_CHECK(jfa_backend_convert(ctx, &f, &l));
    else
      JFA_CHECK(jfa_backend_convert(ctx, &l, &f));
  }
  return JFA_SUCCESS;
}

jfa_status_t jfa_layout_shard(jfa_context_t *ctx, jfa_layout_t layout, int rank, int size,
                              const jfa_tensor_t *full, const jfa_tensor_t *local) {
  return copy_chunks(ctx, layout, rank, size, full, local, 1);
}

jfa_status_t jfa_layout_unshard(jfa_context_t *ctx, jfa_layout_t layout, int rank, int size,
                                const jfa_tensor_t *local, const jfa_tensor_t *full) {
  return copy_chunks(ctx, layout, rank, size, full, local, 0);
}
