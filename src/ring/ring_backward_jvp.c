/*
 * ring_backward_jvp.c - ring backward-JVP (second order, jfa_ring_backward_jvp).
 *
 * The rotation of the backward (ring_backward.c) with more passengers: the tangents
 * Kd, Vd travel beside K and V (the forward-JVP's four K/V parts), and the accumulators
 * of dKd, dVd travel home beside those of dK, dV (one half-block slot holds all four,
 * contiguous, so that a half travels as one buffer). delta = rowsum(dO * O) and
 * deltad = rowsum(dOd * O + dO * Od) are computed locally over the whole shard; each
 * (query chunk, key chunk) pair adds its contribution through
 * jfa_backend_attention_backward_jvp_block (accumulate = 1) with this rank's global
 * lse, mu, delta and deltad, which is exact: Pd = P (Sd - mu) and the products
 * dS, dSd are per element once those row statistics are global.
 * Buffers (carved from the ring's pool): K/V slots of four parts (4 S X), dQd (and dQ)
 * accumulators unless the caller's are dense tensors of the accumulator dtype,
 * delta and deltad (2 L), and 3 half-block slots (2 at P = 1) of four accumulators
 * (6 a X; 4 a X at P = 1). A key half's pairs are fused into one call where exact
 * (jfa_ring_fuse_pairs). With one rank (jfa_ring_single) one call over all keys writes
 * the caller's outputs in overwrite mode (delta and deltad are the only buffers).
 */
#include <stddef.h>
#include <string.h>

#include "core/check.h"
#include "ring/ring_internal.h"

static jfa_status_t check_backward_jvp(jfa_ring_t *r, const jfa_tensor_t *const in[12],
                                       const jfa_tensor_t *const out[6]) {
  static const char *const in_names[12] = {"q", "k", "v", "qd", "kd", "vd", "o", "lse", "od", "mu", "dout", "doutd"};
  static const char *const out_names[6] = {"dqd", "dkd", "dvd", "dq", "dk", "dv"};
  static const int in_kv[12] = {0, 1, 1, 0, 1, 1, 0, -1, 0, -1, 0, 0}; /* -1: a statistic */
  for (int i = 0; i < 12; ++i) {
    if (in_kv[i] < 0) {
      if (!in[i]) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s is NULL (the backward-JVP needs the forward JVP's %s)",
                           in_names[i], in_names[i]);
      JFA_CHECK(jfa_ring_check_stat(r, in[i], in_names[i]));
    } else {
      JFA_CHECK(jfa_ring_check_qkv(r, in[i], in_names[i], in_kv[i]));
    }
  }
  for (int i = 0; i < 6; ++i)
    if (i < 3 || out[i]) JFA_CHECK(jfa_ring_check_qkv(r, out[i], out_names[i], i % 3 != 0));
  JFA_CHECK(jfa_ring_check_aliases(out, out_names, 6, in, 12));
  return JFA_SUCCESS;
}

typedef struct {
  jfa_ring_kv_t kv;
  int in_place[2]; /* dqd, dq accumulate in the caller's tensor */
  size_t q_off[2]; /* else their accumulators' pool offsets */
  size_t delta_off, deltad_off;
  jfa_ring_halves_t dkv; /* dKd, dVd, dK, dV in half slots */
  int single;            /* jfa_ring_single: one call into the outputs */
  size_t bytes;
} bjvp_plan_t;

static void plan(const jfa_ring_t *r, const jfa_tensor_t *const kv4[4], const jfa_tensor_t *dqd,
                 const jfa_tensor_t *dq, bjvp_plan_t *pl) {
  size_t cursor = 0;
  jfa_ring_kv_plan(r, kv4, 4, &cursor, &pl->kv);
  pl->single = jfa_ring_single(r);
  const jfa_tensor_t *qs[2] = {dqd, dq};
  for (int i = 0; i < 2; ++i) {
    pl->in_place[i] = pl->single || !qs[i] || jfa_ring_acc_in_place(r, qs[i]);
    pl->q_off[i] = pl->in_place[i] ? 0 : jfa_ring_carve(&cursor, (size_t)r->q_elems * r->asz);
  }
  pl->delta_off = jfa_ring_carve(&cursor, (size_t)r->q_rows * r->asz);
  pl->deltad_off = jfa_ring_carve(&cursor, (size_t)r->q_rows * r->asz);
  if (!pl->single) jfa_ring_halves_plan(r, 4, &cursor, &pl->dkv);
  pl->bytes = cursor;
}

/* The one step of one rank: one call over all keys, in overwrite mode into the outputs. */
static jfa_status_t run_single(jfa_ring_t *r, const bjvp_plan_t *pl, const jfa_tensor_t *const in[12],
                               const jfa_tensor_t *const out[6], const jfa_tensor_t *delta,
                               const jfa_tensor_t *deltad, jfa_ring_prof_t *pf) {
  jfa_ring_pair_t pairs[4];
  int np = jfa_ring_fuse_pairs(r, r->rank, pairs, jfa_ring_pairs(r, r->rank, -1, pairs));
  if (np != 1 || pairs[0].q_rows != r->n_local || pairs[0].k_rows != r->n_local)
    JFA_FAIL(JFA_ERROR_INTERNAL, "ring backward-JVP: one rank's step is not one call over all rows (%d calls)", np);
  jfa_problem_t p = jfa_ring_problem(r, &pairs[0]);
  jfa_tensor_t blk[4];
  for (int i = 0; i < 4; ++i) blk[i] = jfa_ring_kv_block(r, &pl->kv, 0, i);
  JFA_CHECK(jfa_backend_attention_backward_jvp_block(r->ctx, &p, in[0], &blk[0], &blk[1], in[3], &blk[2], &blk[3],
                                                     in[10], in[11], in[7], in[9], delta, deltad, out[0], out[1],
                                                     out[2], out[3], out[4], out[5], 0));
  jfa_ring_prof_mark(r, pf, "bwd-jvp overwrite", 0, 0);
  JFA_CHECK(r->comm->ops->wait_stream(r->comm, r->ctx));
  jfa_ring_prof_mark(r, pf, "stream wait", 0, 0);
  return JFA_SUCCESS;
}

static jfa_status_t run(jfa_ring_t *r, const bjvp_plan_t *pl, const jfa_tensor_t *const in[12],
                        const jfa_tensor_t *const out[6], jfa_ring_prof_t *pf) {
  jfa_context_t *ctx = r->ctx;
  const jfa_ring_config_t *c = &r->cfg;
  jfa_comm_t *comm = r->comm;
  const int P = r->size;
  const int64_t n = r->n_local, D = c->head_dim;
  unsigned char *pool = (unsigned char *)r->pool;
  const jfa_tensor_t *q = in[0], *qd = in[3], *o = in[6], *lse = in[7], *od = in[8], *mu = in[9], *dout = in[10],
                     *doutd = in[11];
  const int first = out[3] != NULL; /* dq, dk, dv wanted (all or none: the front end's rule below) */

  jfa_tensor_t delta = jfa_ring_view(r, pool + pl->delta_off, r->acc, c->heads_q, n, 1);
  jfa_tensor_t deltad = jfa_ring_view(r, pool + pl->deltad_off, r->acc, c->heads_q, n, 1);
  jfa_problem_t whole = jfa_ring_problem(r, NULL);
  JFA_CHECK(jfa_backend_attention_delta_jvp(ctx, &whole, o, od, dout, doutd, &delta, &deltad));
  jfa_ring_prof_mark(r, pf, "delta", 0, 0);
  if (pl->single) return run_single(r, pl, in, out, &delta, &deltad, pf);
  jfa_tensor_t qacc[2]; /* dQd, dQ accumulators */
  memset(qacc, 0, sizeof qacc);
  for (int i = 0; i < 2; ++i) {
    const jfa_tensor_t *t = out[3 * i];
    if (!t) continue;
    qacc[i] = pl->in_place[i] ? *t : jfa_ring_view(r, pool + pl->q_off[i], r->acc, c->heads_q, n, D);
    JFA_CHECK(jfa_backend_fill(ctx, &qacc[i], 0.0));
    jfa_ring_prof_mark(r, pf, "fill dq", 0, i);
  }
  JFA_CHECK(jfa_ring_kv_load(r, &pl->kv));
  if (pl->kv.slots > 0 && !pl->kv.from_caller) jfa_ring_prof_mark(r, pf, "kv load", 0, 0);

  /* the schedule of ring_backward.c: half 0's accumulators travel while half 1 is computed,
     half 1's while the next step's half 0 is computed */
  for (int s = 0; s < P; ++s) {
    const int owner = (r->rank - s + P) % P;
    jfa_tensor_t blk[4];
    for (int i = 0; i < 4; ++i) blk[i] = jfa_ring_kv_block(r, &pl->kv, s, i);
    for (int h = 0; h < 2; ++h) {
      jfa_tensor_t acc[4];
      jfa_comm_buf_t bufs[1 + 4];
      jfa_ring_half_views(r, &pl->dkv, 2 * s + h, h, acc, &bufs[0]);
      if (s == 0) {
        for (int i = 0; i < 4; ++i) JFA_CHECK(jfa_backend_fill(ctx, &acc[i], 0.0));
        jfa_ring_prof_mark(r, pf, "fill dk dv", s, h);
      }
      int64_t hrow0, hrows;
      jfa_ring_key_half(r, h, &hrow0, &hrows);
      jfa_ring_pair_t pairs[4];
      const int np = jfa_ring_fuse_pairs(r, owner, pairs, jfa_ring_pairs(r, owner, h, pairs));
      for (int i = 0; i < np; ++i) {
        const jfa_ring_pair_t *pr = &pairs[i];
        jfa_problem_t p = jfa_ring_problem(r, pr);
        jfa_tensor_t qa = jfa_ring_rows(q, pr->q_row0, pr->q_rows), qda = jfa_ring_rows(qd, pr->q_row0, pr->q_rows);
        jfa_tensor_t doa = jfa_ring_rows(dout, pr->q_row0, pr->q_rows);
        jfa_tensor_t doda = jfa_ring_rows(doutd, pr->q_row0, pr->q_rows);
        jfa_tensor_t la = jfa_ring_rows(lse, pr->q_row0, pr->q_rows), ma = jfa_ring_rows(mu, pr->q_row0, pr->q_rows);
        jfa_tensor_t dla = jfa_ring_rows(&delta, pr->q_row0, pr->q_rows);
        jfa_tensor_t ddla = jfa_ring_rows(&deltad, pr->q_row0, pr->q_rows);
        jfa_tensor_t dqda = jfa_ring_rows(&qacc[0], pr->q_row0, pr->q_rows);
        jfa_tensor_t dqa = first ? jfa_ring_rows(&qacc[1], pr->q_row0, pr->q_rows) : dqda;
        jfa_tensor_t kvr[4], ar[4];
        for (int e = 0; e < 4; ++e) {
          kvr[e] = jfa_ring_rows(&blk[e], pr->k_row0, pr->k_rows);
          ar[e] = jfa_ring_rows(&acc[e], pr->k_row0 - hrow0, pr->k_rows);
        }
        JFA_CHECK(jfa_backend_attention_backward_jvp_block(
            ctx, &p, &qa, &kvr[0], &kvr[1], &qda, &kvr[2], &kvr[3], &doa, &doda, &la, &ma, &dla, &ddla, &dqda,
            &ar[0], &ar[1], first ? &dqa : NULL, first ? &ar[2] : NULL, first ? &ar[3] : NULL, 1));
        jfa_ring_prof_mark(r, pf, "bwd-jvp merge", s, 2 * h + i);
      }
      JFA_CHECK(jfa_ring_halves_exchange(r, &pl->kv, s, h, bufs, pf));
    }
  }
  if (P > 1) {
    JFA_CHECK(comm->ops->exchange_wait(comm, ctx));
    jfa_ring_prof_mark(r, pf, "exchange wait", P, 0);
  }

  const jfa_tensor_t *const dkv_out[4] = {out[1], out[2], out[4], out[5]}; /* acc order: dkd, dvd, dk, dv */
  JFA_CHECK(jfa_ring_halves_home(r, &pl->dkv, dkv_out, pf));
  for (int i = 0; i < 2; ++i)
    if (out[3 * i] && !pl->in_place[i]) {
      JFA_CHECK(jfa_backend_convert(ctx, &qacc[i], out[3 * i]));
      jfa_ring_prof_mark(r, pf, "convert dq", 0, i);
    }
  JFA_CHECK(comm->ops->wait_stream(comm, ctx)); /* bounded by the comm's timeout (NCCL) */
  jfa_ring_prof_mark(r, pf, "stream wait", 0, 0);
  return JFA_SUCCESS;
}

jfa_status_t jfa_ring_backward_jvp(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                   const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                                   const jfa_tensor_t *vd, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                   const jfa_tensor_t *od, const jfa_tensor_t *mu, const jfa_tensor_t *dout,
                                   const jfa_tensor_t *doutd, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd,
                                   const jfa_tensor_t *dvd, const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                   const jfa_tensor_t *dv) {
  if (!ring) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ring is NULL");
  const jfa_tensor_t *const in[12] = {q, k, v, qd, kd, vd, o, lse, od, mu, dout, doutd};
  const jfa_tensor_t *const out[6] = {dqd, dkd, dvd, dq, dk, dv};
  jfa_status_t local = JFA_SUCCESS;
  if ((dq != NULL) != (dk != NULL) || (dq != NULL) != (dv != NULL))
    local = jfa_set_error(JFA_ERROR_INVALID_ARGUMENT, __FILE__, __LINE__,
                          "dq, dk, dv: give all three or none (the ring carries them together)");
  if (local == JFA_SUCCESS) local = check_backward_jvp(ring, in, out);
  /* whether dq, dk, dv are wanted is part of the call that must agree: the dK/dV accumulators travel through
     every rank, and a rank without them adds nothing to them, so one rank's NULLs would silently leave its
     queries' share out of the other ranks' dk, dv */
  /* some rank's float32 lse cannot carry its rows (exact_lse.c): agreed with the arguments (not scanned at one
     rank: the single-device backward recomputes such rows itself) */
  int exact = 0;
  JFA_CHECK(jfa_ring_agree_any(ring, local, dq ? "jfa_ring_backward_jvp (with dq, dk, dv)"
                                               : "jfa_ring_backward_jvp (without dq, dk, dv)",
                               local == JFA_SUCCESS && !ring->direct && jfa_ring_lse_needed(ring, lse), &exact));
  int prev;
  jfa_ring_prof_t pf;
  if (ring->direct) { /* one rank: the single-device call into the caller's outputs */
    JFA_CHECK(jfa_ring_device_enter(ring->ctx, &prev));
    jfa_ring_prof_begin(ring, &pf, "jfa_ring_backward_jvp");
    jfa_problem_t p = jfa_ring_problem(ring, NULL);
    jfa_status_t st = jfa_backend_attention_backward_jvp(ring->ctx, &p, q, k, v, qd, kd, vd, o, lse, od, mu, dout,
                                                         doutd, dqd, dkd, dvd, dq, dk, dv);
    return jfa_ring_direct_end(ring, &pf, "bwd-jvp direct", st, prev);
  }
  jfa_ring_lse_t ex; /* a float32 lse that cannot carry its rows: the float64 one of a second ring forward */
  JFA_CHECK(jfa_ring_exact_lse(ring, q, k, v, lse, exact, &ex, "jfa_ring_backward_jvp"));
  const jfa_tensor_t *const in_ex[12] = {q, k, v, qd, kd, vd, o, ex.use, od, mu, dout, doutd};
  bjvp_plan_t pl;
  const jfa_tensor_t *const kv4[4] = {k, v, kd, vd};
  plan(ring, kv4, dqd, dq, &pl);
  jfa_status_t st = jfa_ring_reserve(ring, pl.bytes);
  if (st == JFA_SUCCESS) st = jfa_ring_device_enter(ring->ctx, &prev);
  if (st != JFA_SUCCESS) {
    jfa_ring_exact_lse_free(&ex);
    return st;
  }
  jfa_ring_prof_begin(ring, &pf, "jfa_ring_backward_jvp");
  st = run(ring, &pl, in_ex, out, &pf);
  jfa_ring_prof_end(ring, &pf, st);
  jfa_ring_device_exit(ring->ctx, prev);
  jfa_ring_exact_lse_free(&ex);
  return jfa_ring_call_status(ring, st);
}
