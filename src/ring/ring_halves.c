/*
 * ring_halves.c - the travelling key-gradient accumulators of the ring's backward and
 * backward-JVP: nacc accumulators (dK, dV; and dKd, dVd for the backward-JVP) per key half,
 * contiguous in one half slot so that they travel as one buffer; the slots rotate (3, or 2 at
 * P = 1) as half-step u computes in slot u % halves and sends it to half-step u + 2's slot
 * of the next rank.
 */
#include "ring/ring_internal.h"

void jfa_ring_halves_plan(const jfa_ring_t *r, int nacc, size_t *cursor, jfa_ring_halves_t *hv) {
  int64_t row0, rows; /* half 0 is the larger one */
  jfa_ring_key_half(r, 0, &row0, &rows);
  hv->nacc = nacc;
  hv->half_bytes = (size_t)nacc * (size_t)(r->cfg.batch * r->cfg.heads_kv * rows * r->cfg.head_dim) * r->asz;
  hv->halves = r->size > 1 ? 3 : 2;
  hv->off = jfa_ring_carve(cursor, (size_t)hv->halves * hv->half_bytes);
}

void jfa_ring_half_views(const jfa_ring_t *r, const jfa_ring_halves_t *hv, int u, int h, jfa_tensor_t *acc,
                         jfa_comm_buf_t *buf) {
  int64_t row0, rows;
  jfa_ring_key_half(r, h, &row0, &rows);
  const size_t per = (size_t)(r->cfg.batch * r->cfg.heads_kv * r->cfg.head_dim) * r->asz; /* bytes per row */
  unsigned char *slots = (unsigned char *)r->pool + hv->off;
  unsigned char *base = slots + (size_t)(u % hv->halves) * hv->half_bytes;
  for (int i = 0; i < hv->nacc; ++i)
    acc[i] = jfa_ring_view(r, base + (size_t)i * (size_t)rows * per, r->acc, r->cfg.heads_kv, rows, r->cfg.head_dim);
  if (buf) {
    buf->send = base;
    buf->recv = slots + (size_t)((u + 2) % hv->halves) * hv->half_bytes;
    buf->bytes = (size_t)hv->nacc * (size_t)rows * per;
  }
}
