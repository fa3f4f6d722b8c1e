/*
 * ring_backward.c - ring backward.
 *
 * delta = rowsum(dO * O) is computed locally. K and V travel around the ring in
 * a double buffer as in the forward (the next block is received while the
 * current one is computed); float accumulators dK, dV travel with them: at step
 * s the rank adds its queries' contribution to the dK, dV of the block of rank
 * (rank - s) mod P (jfa_backend_attention_backward_block, accumulate=1) and
 * passes them on, so after P steps (P transfers of dK, dV) each block's
 * gradients are back at their owner. dQ accumulates locally. The dK/dV hop
 * depends on the step just computed, so it is not overlapped with compute.
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

static jfa_status_t run_backward(jfa_ring_t *r, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                 const jfa_tensor_t *v, const jfa_tensor_t *o,
                                 const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                 const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                 const jfa_tensor_t *dv) {
  jfa_context_t *ctx = r->ctx;
  const jfa_ring_config_t *c = &r->cfg;
  int64_t n = r->n_local, D = c->head_dim;
  size_t kvb = (size_t)r->kv_elems * r->esz;  /* one K or V block */
  size_t dkvb = (size_t)r->kv_elems * r->asz; /* one dK or dV accumulator */

  jfa_tensor_t dq_acc = jfa_ring_view(r, r->acc_big, r->acc, c->heads_q, n, D);
  jfa_tensor_t delta = jfa_ring_view(r, r->acc_small, r->acc, c->heads_q, n, 1);
  JFA_CHECK(jfa_backend_fill(ctx, &dq_acc, 0.0));
  jfa_problem_t whole = jfa_ring_problem(r, NULL);
  JFA_CHECK(jfa_backend_attention_delta(ctx, &whole, o, dout, &delta));

  if (r->size > 1) { /* one rank sends nothing: it computes on the caller's k, v */
    jfa_tensor_t k0 = jfa_ring_view(r, r->kv[0], c->dtype, c->heads_kv, n, D);
    jfa_tensor_t v0 = jfa_ring_view(r, (unsigned char *)r->kv[0] + kvb, c->dtype, c->heads_kv, n, D);
    JFA_CHECK(jfa_backend_convert(ctx, k, &k0));
    JFA_CHECK(jfa_backend_convert(ctx, v, &v0));
  }
  int d = 0; /* dK/dV slot holding the accumulators of the block being computed */
  jfa_tensor_t dkv0 = jfa_ring_view(r, r->dkv[0], r->acc, 2 * c->heads_kv, n, D);
  JFA_CHECK(jfa_backend_fill(ctx, &dkv0, 0.0));

  for (int s = 0; s < r->size; ++s) {
    int cur = s % 2, nxt = 1 - cur;
    int last = s == r->size - 1;
    if (!last) {
      jfa_comm_buf_t buf = {r->kv[cur], r->kv[nxt], 2 * kvb};
      JFA_CHECK(r->comm->ops->exchange_start(r->comm, ctx, &buf, 1));
    }
    int owner = (r->rank - s + r->size) % r->size;
    jfa_ring_pair_t pairs[4];
    int np = jfa_ring_pairs(r, owner, pairs);
    unsigned char *dslot = (unsigned char *)r->dkv[d];
    jfa_tensor_t kb = *k, vb = *v; /* one rank: the caller's tensors */
    if (r->size > 1) {
      unsigned char *slot = (unsigned char *)r->kv[cur];
      kb = jfa_ring_view(r, slot, c->dtype, c->heads_kv, n, D);
      vb = jfa_ring_view(r, slot + kvb, c->dtype, c->heads_kv, n, D);
    }
    jfa_tensor_t dkb = jfa_ring_view(r, dslot, r->acc, c->heads_kv, n, D);
    jfa_tensor_t dvb = jfa_ring_view(r, dslot + dkvb, r->acc, c->heads_kv, n, D);
    for (int i = 0; i < np; ++i) {
      const jfa_ring_pair_t *pr = &pairs[i];
      jfa_problem_t p = jfa_ring_problem(r, pr);
      jfa_tensor_t qa = jfa_ring_rows(q, pr->q_row0, pr->rows);
      jfa_tensor_t doa = jfa_ring_rows(dout, pr->q_row0, pr->rows);
      jfa_tensor_t la = jfa_ring_rows(lse, pr->q_row0, pr->rows);
      jfa_tensor_t dla = jfa_ring_rows(&delta, pr->q_row0, pr->rows);
      jfa_tensor_t dqa = jfa_ring_rows(&dq_acc, pr->q_row0, pr->rows);
      jfa_tensor_t ka = jfa_ring_rows(&kb, pr->k_row0, pr->rows);
      jfa_tensor_t va = jfa_ring_rows(&vb, pr->k_row0, pr->rows);
      jfa_tensor_t dka = jfa_ring_rows(&dkb, pr->k_row0, pr->rows);
      jfa_tensor_t dva = jfa_ring_rows(&dvb, pr->k_row0, pr->rows);
      JFA_CHECK(jfa_backend_attention_backward_block(ctx, &p, &qa, &ka, &va, &doa, &la, &dla, &dqa,
                                                     &dka, &dva, 1));
    }
    if (!last) JFA_CHECK(r->comm->ops->exchange_wait(r->comm, ctx));
    if (r->size > 1) { /* pass the block's dK, dV on (after the last step: home to their owner) */
      jfa_comm_buf_t dbuf = {r->dkv[d], r->dkv[1 - d], 2 * dkvb};
      JFA_CHECK(r->comm->ops->exchange_start(r->comm, ctx, &dbuf, 1));
      JFA_CHECK(r->comm->ops->exchange_wait(r->comm, ctx));
      d = 1 - d;
    }
  }

  unsigned char *dslot = (unsigned char *)r->dkv[d];
  jfa_tensor_t dk_acc = jfa_ring_view(r, dslot, r->acc, c->heads_kv, n, D);
  jfa_tensor_t dv_acc = jfa_ring_view(r, dslot + dkvb, r->acc, c->heads_kv, n, D);
  JFA_CHECK(jfa_backend_convert(ctx, &dq_acc, dq));
  JFA_CHECK(jfa_backend_convert(ctx, &dk_acc, dk));
  JFA_CHECK(jfa_backend_convert(ctx, &dv_acc, dv));
  if (ctx->device == JFA_DEVICE_CUDA) JFA_CHECK(jfa_cuda_synchronize(ctx));
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
  JFA_CHECK(jfa_ring_reserve(ring, ring->size > 1 ? 2 : 0, 1, 1));
  int prev;
  JFA_CHECK(jfa_ring_device_enter(ring->ctx, &prev));
  jfa_status_t st = run_backward(ring, q, k, v, o, lse, dout, dq, dk, dv);
  jfa_ring_device_exit(ring->ctx, prev);
  return st;
}
