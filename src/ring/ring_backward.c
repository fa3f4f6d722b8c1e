/*
 * ring_backward.c - ring backward.
 *
 * delta = rowsum(dO * O) is computed locally. K and V travel around the ring as
 * in the forward (jfa_ring_kv_t); float accumulators dK, dV travel with them:
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
 * accumulators is ever needed. A half's accumulators are busy for three half
 * steps (received, computed, sent), so three half-block slots rotate (see
 * bwd_plan_t). dQ accumulates in the caller's dq when it is a dense tensor of the
 * accumulator dtype. The accumulators travel in the accumulator dtype: rounding
 * them to bf16 at every hop would change the sums (the project merges in fp32).
 * The pairs of a key half are fused into one call where exact (jfa_ring_fuse_pairs).
 * With one rank (jfa_ring_single) nothing travels: one call over all keys writes the
 * caller's dq, dk, dv in overwrite mode (no accumulators, fills or converts).
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

/* Where a backward's buffers live (see "Memory" in ring_internal.h). The dK/dV
   accumulators of key half h of the block computed at step s (half-step u = 2s + h)
   are in half slot u % halves: received during half-step u - 1, computed at u, sent
   during u + 1, so three half slots rotate (two at P = 1, where nothing travels). */
typedef struct {
  jfa_ring_kv_t kv;
  int dq_in_place;
  size_t dq_off, delta_off;
  jfa_ring_halves_t dkv; /* dK, dV in half slots */
  int single;            /* jfa_ring_single: delta only, one call into the outputs */
  size_t bytes;
} bwd_plan_t;

static void plan_backward(const jfa_ring_t *r, const jfa_tensor_t *k, const jfa_tensor_t *v,
                          const jfa_tensor_t *dq, bwd_plan_t *pl) {
  size_t cursor = 0;
  const jfa_tensor_t *parts[2] = {k, v};
  jfa_ring_kv_plan(r, parts, 2, &cursor, &pl->kv);
  pl->single = jfa_ring_single(r);
  pl->dq_in_place = pl->single || jfa_ring_acc_in_place(r, dq);
  pl->dq_off = pl->dq_in_place ? 0 : jfa_ring_carve(&cursor, (size_t)r->q_elems * r->asz);
  pl->delta_off = jfa_ring_carve(&cursor, (size_t)r->q_rows * r->asz);
  if (!pl->single) jfa_ring_halves_plan(r, 2, &cursor, &pl->dkv);
  pl->bytes = cursor;
}

/* The one step of one rank: one call over all keys, in overwrite mode into the outputs. */
static jfa_status_t run_single(jfa_ring_t *r, const bwd_plan_t *pl, const jfa_tensor_t *q,
                               const jfa_tensor_t *lse, const jfa_tensor_t *dout, const jfa_tensor_t *delta,
                               const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv,
                               jfa_ring_prof_t *pf) {
  jfa_ring_pair_t pairs[4];
  int np = jfa_ring_fuse_pairs(r, r->rank, pairs, jfa_ring_pairs(r, r->rank, -1, pairs));
  if (np != 1 || pairs[0].q_rows != r->n_local || pairs[0].k_rows != r->n_local)
    JFA_FAIL(JFA_ERROR_INTERNAL, "ring backward: one rank's step is not one call over all rows (%d calls)", np);
  jfa_problem_t p = jfa_ring_problem(r, &pairs[0]);
  jfa_tensor_t kb = jfa_ring_kv_block(r, &pl->kv, 0, 0), vb = jfa_ring_kv_block(r, &pl->kv, 0, 1);
  JFA_CHECK(jfa_backend_attention_backward_block(r->ctx, &p, q, &kb, &vb, dout, lse, delta, dq, dk, dv, 0));
  jfa_ring_prof_mark(r, pf, "bwd overwrite", 0, 0);
  JFA_CHECK(r->comm->ops->wait_stream(r->comm, r->ctx));
  jfa_ring_prof_mark(r, pf, "stream wait", 0, 0);
  return JFA_SUCCESS;
}

static jfa_status_t run_backward(jfa_ring_t *r, const bwd_plan_t *pl, const jfa_tensor_t *q,
                                 const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                 const jfa_tensor_t *dout, const jfa_tensor_t *dq,
                                 const jfa_tensor_t *dk, const jfa_tensor_t *dv, jfa_ring_prof_t *pf) {
  jfa_context_t *ctx = r->ctx;
  const jfa_ring_config_t *c = &r->cfg;
  jfa_comm_t *comm = r->comm;
  const int P = r->size;
  int64_t n = r->n_local, D = c->head_dim;
  unsigned char *pool = (unsigned char *)r->pool;

  jfa_tensor_t dq_acc = pl->dq_in_place ? *dq : jfa_ring_view(r, pool + pl->dq_off, r->acc, c->heads_q, n, D);
  jfa_tensor_t delta = jfa_ring_view(r, pool + pl->delta_off, r->acc, c->heads_q, n, 1);
  jfa_problem_t whole = jfa_ring_problem(r, NULL);
  JFA_CHECK(jfa_backend_attention_delta(ctx, &whole, o, dout, &delta));
  jfa_ring_prof_mark(r, pf, "delta", 0, 0);
  if (pl->single) return run_single(r, pl, q, lse, dout, &delta, dq, dk, dv, pf);
  JFA_CHECK(jfa_backend_fill(ctx, &dq_acc, 0.0));
  jfa_ring_prof_mark(r, pf, "fill dq", 0, 0);
  JFA_CHECK(jfa_ring_kv_load(r, &pl->kv));
  if (pl->kv.slots > 0 && !pl->kv.from_caller) jfa_ring_prof_mark(r, pf, "kv load", 0, 0);

  /* Step s: the block of rank (rank - s) mod P, its key half h's dK/dV accumulators in
     half slot (2s + h) % 3. Per step:
       compute key half 0            | E2(s-1) in flight: half 1's accumulators of this block
       wait E2(s-1); start E1(s)     E1 = half 0's accumulators (+ the next K/V block)
       compute key half 1            | E1(s) in flight
       wait E1(s); start E2(s)       E2 = half 1's accumulators
     so each transfer overlaps a half step of compute; after the last step both
     halves travel home to their owner. */
  for (int s = 0; s < P; ++s) {
    int owner = (r->rank - s + P) % P;
    jfa_tensor_t kb = jfa_ring_kv_block(r, &pl->kv, s, 0), vb = jfa_ring_kv_block(r, &pl->kv, s, 1);
    for (int h = 0; h < 2; ++h) {
      jfa_tensor_t dkv[2]; /* dK, dV of this key half */
      jfa_comm_buf_t bufs[1 + 2];
      jfa_ring_half_views(r, &pl->dkv, 2 * s + h, h, dkv, &bufs[0]);
      if (s == 0) { /* the own block's accumulators start here */
        JFA_CHECK(jfa_backend_fill(ctx, &dkv[0], 0.0));
        JFA_CHECK(jfa_backend_fill(ctx, &dkv[1], 0.0));
        jfa_ring_prof_mark(r, pf, "fill dk dv", s, h);
      }
      int64_t hrow0, hrows;
      jfa_ring_key_half(r, h, &hrow0, &hrows);
      jfa_ring_pair_t pairs[4];
      int np = jfa_ring_fuse_pairs(r, owner, pairs, jfa_ring_pairs(r, owner, h, pairs));
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
        jfa_tensor_t dka = jfa_ring_rows(&dkv[0], pr->k_row0 - hrow0, pr->k_rows);
        jfa_tensor_t dva = jfa_ring_rows(&dkv[1], pr->k_row0 - hrow0, pr->k_rows);
        JFA_CHECK(jfa_backend_attention_backward_block(ctx, &p, &qa, &ka, &va, &doa, &la, &dla, &dqa,
                                                       &dka, &dva, 1));
        jfa_ring_prof_mark(r, pf, "bwd merge", s, 2 * h + i);
      }
      JFA_CHECK(jfa_ring_halves_exchange(r, &pl->kv, s, h, bufs, pf));
    }
  }
  if (P > 1) {
    JFA_CHECK(comm->ops->exchange_wait(comm, ctx)); /* E2(P-1) */
    jfa_ring_prof_mark(r, pf, "exchange wait", P, 0);
  }

  const jfa_tensor_t *const dkv_out[2] = {dk, dv};
  JFA_CHECK(jfa_ring_halves_home(r, &pl->dkv, dkv_out, pf));
  if (!pl->dq_in_place) {
    JFA_CHECK(jfa_backend_convert(ctx, &dq_acc, dq));
    jfa_ring_prof_mark(r, pf, "convert dq", 0, 0);
  }
  JFA_CHECK(r->comm->ops->wait_stream(r->comm, ctx)); /* bounded by the comm's timeout (NCCL) */
  jfa_ring_prof_mark(r, pf, "stream wait", 0, 0);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_backward(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                               const jfa_tensor_t *v, const jfa_tensor_t *o,
                               const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                               const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                               const jfa_tensor_t *dv) {
  if (!ring) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ring is NULL");
  jfa_status_t local = check_backward(ring, q, k, v, o, lse, dout, dq, dk, dv);
  /* some rank's float32 lse cannot carry its rows (exact_lse.c): agreed with the arguments (not scanned at one
     rank: the single-device backward recomputes such rows itself) */
  int exact = 0;
  JFA_CHECK(jfa_ring_agree_any(ring, local, "jfa_ring_backward",
                               local == JFA_SUCCESS && !ring->direct && jfa_ring_lse_needed(ring, lse), &exact));
  jfa_ring_prof_t pf;
  if (ring->direct) { /* one rank: the single-device backward into the caller's gradients */
    int prev;
    JFA_CHECK(jfa_ring_device_enter(ring->ctx, &prev));
    jfa_ring_prof_begin(ring, &pf, "jfa_ring_backward");
    jfa_problem_t p = jfa_ring_problem(ring, NULL);
    jfa_status_t st = jfa_backend_attention_backward(ring->ctx, &p, q, k, v, o, lse, dout, dq, dk, dv);
    return jfa_ring_direct_end(ring, &pf, "bwd direct", st, prev);
  }
  jfa_ring_lse_t ex; /* a float32 lse that cannot carry its rows: the float64 one of a second ring forward */
  JFA_CHECK(jfa_ring_exact_lse(ring, q, k, v, lse, exact, &ex, "jfa_ring_backward"));
  bwd_plan_t pl;
  plan_backward(ring, k, v, dq, &pl);
  int prev;
  jfa_status_t st = jfa_ring_reserve(ring, pl.bytes);
  if (st == JFA_SUCCESS) st = jfa_ring_device_enter(ring->ctx, &prev);
  if (st != JFA_SUCCESS) {
    jfa_ring_exact_lse_free(&ex);
    return st;
  }
  jfa_ring_prof_begin(ring, &pf, "jfa_ring_backward");
  st = run_backward(ring, &pl, q, o, ex.use, dout, dq, dk, dv, &pf);
  jfa_ring_prof_end(ring, &pf, st);
  jfa_ring_device_exit(ring->ctx, prev);
  jfa_ring_exact_lse_free(&ex);
  return jfa_ring_call_status(ring, st);
}
