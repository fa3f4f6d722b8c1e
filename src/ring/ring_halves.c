/*
 * ring_halves.c - the travelling key-gradient accumulators of the ring's backward and
 * backward-JVP: nacc accumulators (dK, dV; and dKd, dVd for the backward-JVP) per key half,
 * contiguous in one half slot so that they travel as one buffer; the slots rotate (3, or 2 at
 * P = 1) as half-step u computes in slot u % halves and sends it to half-step u + 2's slot
 * of the next rank.
 */
#include "core/check.h"
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

jfa_status_t jfa_ring_halves_exchange(const jfa_ring_t *r, const jfa_ring_kv_t *kv, int s, int h,
                                      jfa_comm_buf_t *bufs, jfa_ring_prof_t *pf) {
  jfa_comm_t *comm = r->comm;
  if (r->size == 1) return JFA_SUCCESS;
  if (h == 0) {
    if (s > 0) {
      JFA_CHECK(comm->ops->exchange_wait(comm, r->ctx)); /* E2(s-1) */
      jfa_ring_prof_mark(r, pf, "exchange wait", s, h);
    }
    const int nb = 1 + (s == r->size - 1 ? 0 : jfa_ring_kv_bufs(r, kv, s, &bufs[1]));
    JFA_CHECK(comm->ops->exchange_start(comm, r->ctx, bufs, nb)); /* E1(s) */
  } else {
    JFA_CHECK(comm->ops->exchange_wait(comm, r->ctx));           /* E1(s) */
    jfa_ring_prof_mark(r, pf, "exchange wait", s, h);
    JFA_CHECK(comm->ops->exchange_start(comm, r->ctx, bufs, 1)); /* E2(s) */
  }
  jfa_ring_prof_mark(r, pf, "exchange start", s, h);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_halves_home(const jfa_ring_t *r, const jfa_ring_halves_t *hv, const jfa_tensor_t *const *dst,
                                  jfa_ring_prof_t *pf) {
  const int home = r->size > 1 ? 2 * r->size : 0; /* the half-step after P hops (none at P = 1) */
  for (int h = 0; h < 2; ++h) {
    int64_t hrow0, hrows;
    jfa_ring_key_half(r, h, &hrow0, &hrows);
    if (hrows == 0) continue;
    jfa_tensor_t acc[4];
    jfa_ring_half_views(r, hv, home + h, h, acc, NULL);
    for (int i = 0; i < hv->nacc; ++i) {
      if (!dst[i]) continue;
      jfa_tensor_t du = jfa_ring_rows(dst[i], hrow0, hrows);
      JFA_CHECK(jfa_backend_convert(r->ctx, &acc[i], &du));
    }
    jfa_ring_prof_mark(r, pf, "convert dk dv", 0, h);
  }
  return JFA_SUCCESS;
}
