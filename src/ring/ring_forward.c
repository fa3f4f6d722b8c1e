/*
 * ring_forward.c - ring forward and forward+JVP.
 *
 * K and V (and Kd, Vd) of each rank travel once around the ring in a double
 * buffer: at step s the rank computes with the block of rank (rank - s) mod P
 * held in slot s%2 while the next block is received into the other slot. Each
 * (query chunk, key chunk) pair that is not fully masked is merged into float
 * accumulators (o, lse, od, mu; filled with the identity first) by
 * jfa_backend_attention_block(accumulate=1); at the end the accumulators are
 * converted into the caller's outputs.
 */
#include <math.h>
#include <stddef.h>

#include "core/check.h"
#include "ring/ring_internal.h"

static jfa_status_t check_forward(jfa_ring_t *r, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                  const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                  const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                  const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                  const jfa_tensor_t *od, const jfa_tensor_t *mu, int jvp) {
  JFA_CHECK(jfa_ring_check_qkv(r, q, "q", 0));
  JFA_CHECK(jfa_ring_check_qkv(r, k, "k", 1));
  JFA_CHECK(jfa_ring_check_qkv(r, v, "v", 1));
  JFA_CHECK(jfa_ring_check_qkv(r, o, "o", 0));
  if (lse) JFA_CHECK(jfa_ring_check_stat(r, lse, "lse"));
  if (jvp) {
    JFA_CHECK(jfa_ring_check_qkv(r, qd, "qd", 0));
    JFA_CHECK(jfa_ring_check_qkv(r, kd, "kd", 1));
    JFA_CHECK(jfa_ring_check_qkv(r, vd, "vd", 1));
    JFA_CHECK(jfa_ring_check_qkv(r, od, "od", 0));
    if (mu) JFA_CHECK(jfa_ring_check_stat(r, mu, "mu"));
  }
  const jfa_tensor_t *outs[4] = {o, lse, jvp ? od : NULL, jvp ? mu : NULL};
  const char *const names[4] = {"o", "lse", "od", "mu"};
  const jfa_tensor_t *ins[6] = {q, k, v, jvp ? qd : NULL, jvp ? kd : NULL, jvp ? vd : NULL};
  JFA_CHECK(jfa_ring_check_aliases(outs, names, 4, ins, 6));
  return JFA_SUCCESS;
}

static jfa_status_t run_forward(jfa_ring_t *r, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                const jfa_tensor_t *od, const jfa_tensor_t *mu, int jvp) {
  jfa_context_t *ctx = r->ctx;
  const jfa_ring_config_t *c = &r->cfg;
  int64_t n = r->n_local, D = c->head_dim;
  size_t kvb = (size_t)r->kv_elems * r->esz;
  int nparts = jvp ? 4 : 2; /* K, V (, Kd, Vd) in each slot */

  /* accumulators: o, od (B, Hq, n, D) and lse, mu (B, Hq, n, 1) of the acc dtype */
  unsigned char *big = (unsigned char *)r->acc_big, *small = (unsigned char *)r->acc_small;
  jfa_tensor_t o_acc = jfa_ring_view(r, big, r->acc, c->heads_q, n, D);
  /* od, mu exist only when the buffers hold two sets (JVP) */
  jfa_tensor_t od_acc = jfa_ring_view(r, jvp ? big + (size_t)r->q_elems * r->asz : big, r->acc, c->heads_q, n, D);
  jfa_tensor_t lse_acc = jfa_ring_view(r, small, r->acc, c->heads_q, n, 1);
  jfa_tensor_t mu_acc = jfa_ring_view(r, jvp ? small + (size_t)r->q_rows * r->asz : small, r->acc, c->heads_q, n, 1);
  JFA_CHECK(jfa_backend_fill(ctx, &o_acc, 0.0));
  JFA_CHECK(jfa_backend_fill(ctx, &lse_acc, -INFINITY));
  if (jvp) {
    JFA_CHECK(jfa_backend_fill(ctx, &od_acc, 0.0));
    JFA_CHECK(jfa_backend_fill(ctx, &mu_acc, 0.0));
  }

  /* slot 0 <- this rank's K, V (, Kd, Vd), contiguous so that one message carries them
     (one rank sends nothing: it computes on the caller's tensors) */
  const jfa_tensor_t *src[4] = {k, v, kd, vd};
  if (r->size > 1) {
    for (int i = 0; i < nparts; ++i) {
      jfa_tensor_t dst = jfa_ring_view(r, (unsigned char *)r->kv[0] + i * kvb, c->dtype, c->heads_kv, n, D);
      JFA_CHECK(jfa_backend_convert(ctx, src[i], &dst));
    }
  }

  for (int s = 0; s < r->size; ++s) {
    int cur = s % 2, nxt = 1 - cur;
    int last = s == r->size - 1;
    if (!last) {
      jfa_comm_buf_t buf = {r->kv[cur], r->kv[nxt], (size_t)nparts * kvb};
      JFA_CHECK(r->comm->ops->exchange_start(r->comm, ctx, &buf, 1));
    }
    int owner = (r->rank - s + r->size) % r->size;
    jfa_ring_pair_t pairs[4];
    int np = jfa_ring_pairs(r, owner, -1, pairs);
    jfa_tensor_t kb = *k, vb = *v, kdb = *k, vdb = *v; /* one rank: the caller's tensors */
    if (jvp) {
      kdb = *kd;
      vdb = *vd;
    }
    if (r->size > 1) {
      unsigned char *slot = (unsigned char *)r->kv[cur];
      kb = jfa_ring_view(r, slot, c->dtype, c->heads_kv, n, D);
      vb = jfa_ring_view(r, slot + kvb, c->dtype, c->heads_kv, n, D);
      if (jvp) {
        kdb = jfa_ring_view(r, slot + 2 * kvb, c->dtype, c->heads_kv, n, D);
        vdb = jfa_ring_view(r, slot + 3 * kvb, c->dtype, c->heads_kv, n, D);
      }
    }
    for (int i = 0; i < np; ++i) {
      const jfa_ring_pair_t *pr = &pairs[i];
      jfa_problem_t p = jfa_ring_problem(r, pr);
      jfa_tensor_t qa = jfa_ring_rows(q, pr->q_row0, pr->q_rows);
      jfa_tensor_t ka = jfa_ring_rows(&kb, pr->k_row0, pr->k_rows);
      jfa_tensor_t va = jfa_ring_rows(&vb, pr->k_row0, pr->k_rows);
      jfa_tensor_t oa = jfa_ring_rows(&o_acc, pr->q_row0, pr->q_rows);
      jfa_tensor_t la = jfa_ring_rows(&lse_acc, pr->q_row0, pr->q_rows);
      if (jvp) {
        jfa_tensor_t qda = jfa_ring_rows(qd, pr->q_row0, pr->q_rows);
        jfa_tensor_t kda = jfa_ring_rows(&kdb, pr->k_row0, pr->k_rows);
        jfa_tensor_t vda = jfa_ring_rows(&vdb, pr->k_row0, pr->k_rows);
        jfa_tensor_t oda = jfa_ring_rows(&od_acc, pr->q_row0, pr->q_rows);
        jfa_tensor_t mua = jfa_ring_rows(&mu_acc, pr->q_row0, pr->q_rows);
        JFA_CHECK(jfa_backend_attention_block(ctx, &p, &qa, &ka, &va, &qda, &kda, &vda, &oa, &la,
                                              &oda, &mua, 1));
      } else {
        JFA_CHECK(jfa_backend_attention_block(ctx, &p, &qa, &ka, &va, NULL, NULL, NULL, &oa, &la,
                                              NULL, NULL, 1));
      }
    }
    if (!last) JFA_CHECK(r->comm->ops->exchange_wait(r->comm, ctx));
  }

  JFA_CHECK(jfa_backend_convert(ctx, &o_acc, o));
  if (lse) JFA_CHECK(jfa_backend_convert(ctx, &lse_acc, lse));
  if (jvp) {
    JFA_CHECK(jfa_backend_convert(ctx, &od_acc, od));
    if (mu) JFA_CHECK(jfa_backend_convert(ctx, &mu_acc, mu));
  }
  JFA_CHECK(r->comm->ops->wait_stream(r->comm, ctx)); /* bounded by the comm's timeout (NCCL) */
  return JFA_SUCCESS;
}

static jfa_status_t forward_common(jfa_ring_t *r, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                   const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                   const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                   const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                   const jfa_tensor_t *od, const jfa_tensor_t *mu, int jvp,
                                   const char *what) {
  if (!r) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ring is NULL");
  jfa_status_t local = check_forward(r, q, k, v, qd, kd, vd, o, lse, od, mu, jvp);
  JFA_CHECK(jfa_ring_agree(r, local, what));
  if (r->direct) { /* one rank: single-device attention into the caller's outputs */
    int prev;
    JFA_CHECK(jfa_ring_device_enter(r->ctx, &prev));
    jfa_problem_t p = jfa_ring_problem(r, NULL);
    jfa_status_t st = jfa_backend_attention_block(r->ctx, &p, q, k, v, jvp ? qd : NULL, jvp ? kd : NULL,
                                                  jvp ? vd : NULL, o, lse, jvp ? od : NULL, jvp ? mu : NULL, 0);
    if (st == JFA_SUCCESS && r->ctx->device == JFA_DEVICE_CUDA) st = jfa_cuda_synchronize(r->ctx);
    jfa_ring_device_exit(r->ctx, prev);
    return st;
  }
  /* one rank computes on the caller's K/V and needs no travelling slots */
  JFA_CHECK(jfa_ring_reserve(r, r->size > 1 ? (jvp ? 4 : 2) : 0, jvp ? 2 : 1, 0));
  int prev;
  JFA_CHECK(jfa_ring_device_enter(r->ctx, &prev));
  jfa_status_t st = run_forward(r, q, k, v, qd, kd, vd, o, lse, od, mu, jvp);
  jfa_ring_device_exit(r->ctx, prev);
  return st;
}

jfa_status_t jfa_ring_forward(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                              const jfa_tensor_t *v, const jfa_tensor_t *o,
                              const jfa_tensor_t *lse) {
  return forward_common(ring, q, k, v, NULL, NULL, NULL, o, lse, NULL, NULL, 0, "jfa_ring_forward");
}

jfa_status_t jfa_ring_forward_jvp(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                  const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                  const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                  const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                  const jfa_tensor_t *od, const jfa_tensor_t *mu) {
  return forward_common(ring, q, k, v, qd, kd, vd, o, lse, od, mu, 1, "jfa_ring_forward_jvp");
}
