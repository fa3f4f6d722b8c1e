/*
 * ring_forward.c - ring forward and forward+JVP.
 *
 * K and V (and Kd, Vd) of each rank travel once around the ring: at step s the
 * rank computes with the block of rank (rank - s) mod P while the next block is
 * received into another slot (step 0 computes on and sends the caller's own
 * tensors when they are dense; see jfa_ring_kv_t). The (query chunk, key chunk)
 * pairs of a step that are not fully masked are fused into one call where that is
 * exact (jfa_ring_fuse_pairs), and each call is merged into float accumulators
 * (o, lse, od, mu) by jfa_backend_attention_block (accumulate=1); at the end the
 * accumulators are converted into the caller's outputs. An output that is a dense
 * tensor of the accumulator dtype is itself the accumulator (the same merges;
 * nothing to convert). Only lse (-inf) and mu (0) are filled first: a merge with
 * lse = -inf weighs the old o and od by zero and never reads them (the kernels and
 * the CPU merge skip a zero weight's term, so even NaN there is ignored), and every
 * query row is merged at step 0 (its own diagonal pair is never fully masked), so
 * o and od need no fill. With one rank (jfa_ring_single) the one step's one call is
 * the only contribution: it writes the caller's outputs in overwrite mode.
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

/* Where a forward's accumulators and K/V slots live: the caller's tensor itself when
   it is a dense tensor of the acc dtype (acc_in_place), else a pool offset. */
typedef struct {
  jfa_ring_kv_t kv;
  const jfa_tensor_t *out[4]; /* o, lse, od, mu (NULL: not computed or not wanted) */
  int in_place[4];
  size_t off[4];
  int single;   /* jfa_ring_single: the one call writes the outputs (no accumulators) */
  size_t bytes; /* the pool this call needs */
} fwd_plan_t;

static void plan_forward(const jfa_ring_t *r, const jfa_tensor_t *const *kv_parts, int jvp,
                         const jfa_tensor_t *const *outs, fwd_plan_t *pl) {
  size_t cursor = 0;
  jfa_ring_kv_plan(r, kv_parts, jvp ? 4 : 2, &cursor, &pl->kv);
  pl->single = jfa_ring_single(r);
  for (int i = 0; i < 4; ++i) {
    int big = i % 2 == 0, wanted = i < 2 || jvp;
    pl->out[i] = wanted ? outs[i] : NULL;
    pl->in_place[i] = pl->single || jfa_ring_acc_in_place(r, pl->out[i]);
    pl->off[i] = 0;
    if (wanted && !pl->in_place[i])
      pl->off[i] = jfa_ring_carve(&cursor, (size_t)(big ? r->q_elems : r->q_rows) * r->asz);
  }
  pl->bytes = cursor;
}

static jfa_status_t run_forward(jfa_ring_t *r, const fwd_plan_t *pl, const jfa_tensor_t *q,
                                const jfa_tensor_t *qd, int jvp, jfa_ring_prof_t *pf) {
  jfa_context_t *ctx = r->ctx;
  const jfa_ring_config_t *c = &r->cfg;
  int64_t n = r->n_local, D = c->head_dim;
  const int acc_mode = !pl->single; /* 0: the one call overwrites the caller's outputs */

  /* accumulators: o, od (B, Hq, n, D) and lse, mu (B, Hq, n, 1) of the acc dtype; single:
     the caller's outputs (lse, mu may be NULL). Only lse and mu are filled (see the top). */
  jfa_tensor_t acc[4];
  const jfa_tensor_t *accp[4] = {NULL, NULL, NULL, NULL};
  static const double identity[4] = {0.0, -INFINITY, 0.0, 0.0};
  for (int i = 0; i < (jvp ? 4 : 2); ++i) {
    if (pl->in_place[i]) {
      if (!pl->out[i]) continue;
      acc[i] = *pl->out[i];
    } else {
      acc[i] = jfa_ring_view(r, (unsigned char *)r->pool + pl->off[i], r->acc, c->heads_q, n, i % 2 ? 1 : D);
    }
    accp[i] = &acc[i];
    if (acc_mode && i % 2 == 1) {
      JFA_CHECK(jfa_backend_fill(ctx, &acc[i], identity[i]));
      jfa_ring_prof_mark(r, pf, i == 1 ? "fill lse" : "fill mu", 0, 0);
    }
  }

  JFA_CHECK(jfa_ring_kv_load(r, &pl->kv));
  if (pl->kv.slots > 0 && !pl->kv.from_caller) jfa_ring_prof_mark(r, pf, "kv load", 0, 0);
  for (int s = 0; s < r->size; ++s) {
    if (s < r->size - 1) {
      jfa_comm_buf_t bufs[4];
      int nb = jfa_ring_kv_bufs(r, &pl->kv, s, bufs);
      JFA_CHECK(r->comm->ops->exchange_start(r->comm, ctx, bufs, nb));
      jfa_ring_prof_mark(r, pf, "exchange start", s, 0);
    }
    int owner = (r->rank - s + r->size) % r->size;
    jfa_ring_pair_t pairs[4];
    int np = jfa_ring_fuse_pairs(r, owner, pairs, jfa_ring_pairs(r, owner, -1, pairs));
    if (!acc_mode && (np != 1 || pairs[0].q_rows != n || pairs[0].k_rows != n))
      JFA_FAIL(JFA_ERROR_INTERNAL, "ring forward: one rank's step is not one call over all rows (%d calls)", np);
    jfa_tensor_t kb = jfa_ring_kv_block(r, &pl->kv, s, 0), vb = jfa_ring_kv_block(r, &pl->kv, s, 1);
    jfa_tensor_t kdb = kb, vdb = vb;
    if (jvp) {
      kdb = jfa_ring_kv_block(r, &pl->kv, s, 2);
      vdb = jfa_ring_kv_block(r, &pl->kv, s, 3);
    }
    for (int i = 0; i < np; ++i) {
      const jfa_ring_pair_t *pr = &pairs[i];
      jfa_problem_t p = jfa_ring_problem(r, pr);
      jfa_tensor_t qa = jfa_ring_rows(q, pr->q_row0, pr->q_rows);
      jfa_tensor_t ka = jfa_ring_rows(&kb, pr->k_row0, pr->k_rows);
      jfa_tensor_t va = jfa_ring_rows(&vb, pr->k_row0, pr->k_rows);
      jfa_tensor_t rows[4]; /* o, lse, od, mu rows of the pair (NULL where absent) */
      const jfa_tensor_t *rp[4] = {NULL, NULL, NULL, NULL};
      for (int e = 0; e < 4; ++e)
        if (accp[e]) {
          rows[e] = jfa_ring_rows(accp[e], pr->q_row0, pr->q_rows);
          rp[e] = &rows[e];
        }
      if (jvp) {
        jfa_tensor_t qda = jfa_ring_rows(qd, pr->q_row0, pr->q_rows);
        jfa_tensor_t kda = jfa_ring_rows(&kdb, pr->k_row0, pr->k_rows);
        jfa_tensor_t vda = jfa_ring_rows(&vdb, pr->k_row0, pr->k_rows);
        JFA_CHECK(jfa_backend_attention_block(ctx, &p, &qa, &ka, &va, &qda, &kda, &vda, rp[0], rp[1], rp[2],
                                              rp[3], acc_mode));
      } else {
        JFA_CHECK(jfa_backend_attention_block(ctx, &p, &qa, &ka, &va, NULL, NULL, NULL, rp[0], rp[1], NULL,
                                              NULL, acc_mode));
      }
      jfa_ring_prof_mark(r, pf, acc_mode ? "attn merge" : "attn overwrite", s, i);
    }
    if (s < r->size - 1) {
      JFA_CHECK(r->comm->ops->exchange_wait(r->comm, ctx));
      jfa_ring_prof_mark(r, pf, "exchange wait", s, 0);
    }
  }

  for (int i = 0; i < (jvp ? 4 : 2); ++i)
    if (pl->out[i] && !pl->in_place[i]) {
      JFA_CHECK(jfa_backend_convert(ctx, &acc[i], pl->out[i]));
      jfa_ring_prof_mark(r, pf, i % 2 ? "convert lse mu" : "convert o od", 0, i);
    }
  JFA_CHECK(r->comm->ops->wait_stream(r->comm, ctx)); /* bounded by the comm's timeout (NCCL) */
  jfa_ring_prof_mark(r, pf, "stream wait", 0, 0);
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
  jfa_ring_prof_t pf;
  if (r->direct) { /* one rank: single-device attention into the caller's outputs */
    int prev;
    JFA_CHECK(jfa_ring_device_enter(r->ctx, &prev));
    jfa_ring_prof_begin(r, &pf, what);
    jfa_problem_t p = jfa_ring_problem(r, NULL);
    jfa_status_t st = jfa_backend_attention_block(r->ctx, &p, q, k, v, jvp ? qd : NULL, jvp ? kd : NULL,
                                                  jvp ? vd : NULL, o, lse, jvp ? od : NULL, jvp ? mu : NULL, 0);
    return jfa_ring_direct_end(r, &pf, "attn direct", st, prev);
  }
  const jfa_tensor_t *parts[4] = {k, v, kd, vd}, *outs[4] = {o, lse, od, mu};
  fwd_plan_t pl;
  plan_forward(r, parts, jvp, outs, &pl);
  JFA_CHECK(jfa_ring_reserve(r, pl.bytes));
  int prev;
  JFA_CHECK(jfa_ring_device_enter(r->ctx, &prev));
  jfa_ring_prof_begin(r, &pf, what);
  jfa_status_t st = run_forward(r, &pl, q, qd, jvp, &pf);
  jfa_ring_prof_end(r, &pf, st);
  jfa_ring_device_exit(r->ctx, prev);
  return jfa_ring_call_status(r, st);
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
