/*
 * ring_backward.c - ring backward.
 *
 * delta = rowsum(dO * O) is computed locally. K and V travel around the ring in
 * a double buffer as in the forward; float accumulators dK, dV travel with them:
 * at step s the rank adds its queries' contribution to the dK, dV of the block of
 * rank (rank - s) mod P (jfa_backend_attention_backward_block, accumulate=1) and
 * passes them on, so after P steps (P hops) each block's gradients are back at
 * their owner. dQ accumulates locally.
 *
 * A block's accumulators are needed by the next rank right after this rank is
 * done with them, so to overlap their hop with compute each block is split into
 * two key halves (zigzag: its two chunks) with separate accumulators: half 0's
 * travel while half 1 is computed, and half 1's while the next step's half 0 is
 * computed (see the loop). The halves are disjoint rows, so no addition of
 * accumulators is ever needed.
 */
#include <stddef.h>

#include "core/check.h"
#include "ring/ring_internal.h"

static jfa_status_t check_backward(jfa_ring_t *r, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                   const jfa_tensor_t *v, const jfa_tensor_t *o,
                                   const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                   const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                   const jfa_tensor_t *dv) {
  JFA_CHECK(jfa_ring_check_qkv(r, q, "q", 0));
  JFA_CHECK(jfa_ring_check_qkv(r, k, "k", 1));
  JFA_CHECK(jfa_ring_check_qkv(r, v, "v", 1));
  JFA_CHECK(jfa_ring_check_qkv(r, o, "o", 0));
  if (!lse) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "lse is NULL (the backward needs the forward's lse)");
  JFA_CHECK(jfa_ring_check_stat(r, lse, "lse"));
  JFA_CHECK(jfa_ring_check_qkv(r, dout, "dout", 0));
  JFA_CHECK(jfa_ring_check_qkv(r, dq, "dq", 0));
  JFA_CHECK(jfa_ring_check_qkv(r, dk, "dk", 1));
  JFA_CHECK(jfa_ring_check_qkv(r, dv, "dv", 1));
  const jfa_tensor_t *outs[3] = {dq, dk, dv};
  const char *const names[3] = {"dq", "dk", "dv"};
  const jfa_tensor_t *ins[6] = {q, k, v, o, lse, dout};
  JFA_CHECK(jfa_ring_check_aliases(outs, names, 3, ins, 6));
  return JFA_SUCCESS;
}

/* The dK, dV accumulators of key half h of a block in dK/dV slot `slot`: each half is
   its own contiguous [dK (B, Hkv, rows, D) | dV (same)] so that it travels alone. */
static void half_views(const jfa_ring_t *r, int slot, int h, jfa_tensor_t *dk, jfa_tensor_t *dv,
                       jfa_comm_buf_t *buf) {
  int64_t row0, rows, r0, r1;
  jfa_ring_key_half(r, h, &row0, &rows);
  jfa_ring_key_half(r, 0, &r0, &r1);
  size_t per = (size_t)(r->cfg.batch * r->cfg.heads_kv * r->cfg.head_dim) * r->asz; /* bytes per row */
  size_t off = h == 0 ? 0 : 2 * (size_t)r1 * per;
  unsigned char *base = (unsigned char *)r->dkv[slot] + off;
  *dk = jfa_ring_view(r, base, r->acc, r->cfg.heads_kv, rows, r->cfg.head_dim);
  *dv = jfa_ring_view(r, base + (size_t)rows * per, r->acc, r->cfg.heads_kv, rows, r->cfg.head_dim);
  if (buf) { /* half h of this slot goes to the same half of the other slot */
    buf->send = base;
    buf->recv = (unsigned char *)r->dkv[1 - slot] + off;
    buf->bytes = 2 * (size_t)rows * per;
  }
}

static jfa_status_t run_backward(jfa_ring_t *r, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                 const jfa_tensor_t *v, const jfa_tensor_t *o,
                                 const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                 const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                 const jfa_tensor_t *dv) {
  jfa_context_t *ctx = r->ctx;
  const jfa_ring_config_t *c = &r->cfg;
  jfa_comm_t *comm = r->comm;
  const int P = r->size;
  int64_t n = r->n_local, D = c->head_dim;
  size_t kvb = (size_t)r->kv_elems * r->esz; /* one K or V block */

  jfa_tensor_t dq_acc = jfa_ring_view(r, r->acc_big, r->acc, c->heads_q, n, D);
  jfa_tensor_t delta = jfa_ring_view(r, r->acc_small, r->acc, c->heads_q, n, 1);
  JFA_CHECK(jfa_backend_fill(ctx, &dq_acc, 0.0));
  jfa_problem_t whole = jfa_ring_problem(r, NULL);
  JFA_CHECK(jfa_backend_attention_delta(ctx, &whole, o, dout, &delta));

  if (P > 1) { /* one rank sends nothing: it computes on the caller's k, v */
    jfa_tensor_t k0 = jfa_ring_view(r, r->kv[0], c->dtype, c->heads_kv, n, D);
    jfa_tensor_t v0 = jfa_ring_view(r, (unsigned char *)r->kv[0] + kvb, c->dtype, c->heads_kv, n, D);
    JFA_CHECK(jfa_backend_convert(ctx, k, &k0));
    JFA_CHECK(jfa_backend_convert(ctx, v, &v0));
  }
  jfa_tensor_t dkv0 = jfa_ring_view(r, r->dkv[0], r->acc, 2 * c->heads_kv, n, D);
  JFA_CHECK(jfa_backend_fill(ctx, &dkv0, 0.0));

  /* Step s: the block of rank (rank - s) mod P is in K/V slot s%2 and its dK/dV
     accumulators in dK/dV slot s%2. Per step:
       compute key half 0            | E2(s-1) in flight: half 1's accumulators of this block
       wait E2(s-1); start E1(s)     E1 = half 0's accumulators (+ the next K/V block)
       compute key half 1            | E1(s) in flight
       wait E1(s); start E2(s)       E2 = half 1's accumulators
     so each transfer overlaps a half step of compute; after the last step both
     halves travel home to their owner. */
  for (int s = 0; s < P; ++s) {
    int cur = s % 2, nxt = 1 - cur, last = s == P - 1;
    int owner = (r->rank - s + P) % P;
    jfa_tensor_t kb = *k, vb = *v; /* one rank: the caller's tensors */
    if (P > 1) {
      unsigned char *slot = (unsigned char *)r->kv[cur];
      kb = jfa_ring_view(r, slot, c->dtype, c->heads_kv, n, D);
      vb = jfa_ring_view(r, slot + kvb, c->dtype, c->heads_kv, n, D);
    }
    for (int h = 0; h < 2; ++h) {
      jfa_tensor_t dkh, dvh;
      jfa_comm_buf_t bufs[2];
      half_views(r, cur, h, &dkh, &dvh, &bufs[0]);
      int64_t hrow0, hrows;
      jfa_ring_key_half(r, h, &hrow0, &hrows);
      jfa_ring_pair_t pairs[4];
      int np = jfa_ring_pairs(r, owner, h, pairs);
      for (int i = 0; i < np; ++i) {
        const jfa_ring_pair_t *pr = &pairs[i];
        jfa_problem_t p = jfa_ring_problem(r, pr);
        jfa_tensor_t qa = jfa_ring_rows(q, pr->q_row0, pr->q_rows);
        jfa_tensor_t doa = jfa_ring_rows(dout, pr->q_row0, pr->q_rows);
        jfa_tensor_t la = jfa_ring_rows(lse, pr->q_row0, pr->q_rows);
        jfa_tensor_t dla = jfa_ring_rows(&delta, pr->q_row0, pr->q_rows);
        jfa_tensor_t dqa = jfa_ring_rows(&dq_acc, pr->q_row0, pr->q_rows);
        jfa_tensor_t ka = jfa_ring_rows(&kb, pr->k_row0, pr->k_rows);
        jfa_tensor_t va = jfa_ring_rows(&vb, pr->k_row0, pr->k_rows);
        jfa_tensor_t dka = jfa_ring_rows(&dkh, pr->k_row0 - hrow0, pr->k_rows);
        jfa_tensor_t dva = jfa_ring_rows(&dvh, pr->k_row0 - hrow0, pr->k_rows);
        JFA_CHECK(jfa_backend_attention_backward_block(ctx, &p, &qa, &ka, &va, &doa, &la, &dla, &dqa,
                                                       &dka, &dva, 1));
      }
      if (P == 1) continue;
      if (h == 0) {
        if (s > 0) JFA_CHECK(comm->ops->exchange_wait(comm, ctx)); /* E2(s-1) */
        int nb = 1;
        if (!last) {
          bufs[1].send = r->kv[cur];
          bufs[1].recv = r->kv[nxt];
          bufs[1].bytes = 2 * kvb;
          nb = 2;
        }
        JFA_CHECK(comm->ops->exchange_start(comm, ctx, bufs, nb)); /* E1(s) */
      } else {
        JFA_CHECK(comm->ops->exchange_wait(comm, ctx));            /* E1(s) */
        JFA_CHECK(comm->ops->exchange_start(comm, ctx, bufs, 1));  /* E2(s) */
      }
    }
  }
  if (P > 1) JFA_CHECK(comm->ops->exchange_wait(comm, ctx)); /* E2(P-1) */

  int home = P % 2; /* after P hops (none at P = 1: slot 0) */
  for (int h = 0; h < 2; ++h) {
    jfa_tensor_t dkh, dvh;
    int64_t hrow0, hrows;
    jfa_ring_key_half(r, h, &hrow0, &hrows);
    if (hrows == 0) continue;
    half_views(r, P > 1 ? home : 0, h, &dkh, &dvh, NULL);
    jfa_tensor_t dku = jfa_ring_rows(dk, hrow0, hrows), dvu = jfa_ring_rows(dv, hrow0, hrows);
    JFA_CHECK(jfa_backend_convert(ctx, &dkh, &dku));
    JFA_CHECK(jfa_backend_convert(ctx, &dvh, &dvu));
  }
  JFA_CHECK(jfa_backend_convert(ctx, &dq_acc, dq));
  JFA_CHECK(r->comm->ops->wait_stream(r->comm, ctx)); /* bounded by the comm's timeout (NCCL) */
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_backward(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                               const jfa_tensor_t *v, const jfa_tensor_t *o,
                               const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                               const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                               const jfa_tensor_t *dv) {
  if (!ring) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ring is NULL");
  jfa_status_t local = check_backward(ring, q, k, v, o, lse, dout, dq, dk, dv);
  JFA_CHECK(jfa_ring_agree(ring, local, "jfa_ring_backward"));
  if (ring->direct) { /* one rank: the single-device backward into the caller's gradients */
    int prev;
    JFA_CHECK(jfa_ring_device_enter(ring->ctx, &prev));
    jfa_problem_t p = jfa_ring_problem(ring, NULL);
    jfa_status_t st = jfa_backend_attention_backward(ring->ctx, &p, q, k, v, o, lse, dout, dq, dk, dv);
    if (st == JFA_SUCCESS && ring->ctx->device == JFA_DEVICE_CUDA) st = jfa_cuda_synchronize(ring->ctx);
    jfa_ring_device_exit(ring->ctx, prev);
    return st;
  }
  JFA_CHECK(jfa_ring_reserve(ring, ring->size > 1 ? 2 : 0, 1, 1));
  int prev;
  JFA_CHECK(jfa_ring_device_enter(ring->ctx, &prev));
  jfa_status_t st = run_backward(ring, q, k, v, o, lse, dout, dq, dk, dv);
  jfa_ring_device_exit(ring->ctx, prev);
  return st;
}
