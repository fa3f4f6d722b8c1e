/*
 * nan_prop.c - implementation of nan_prop.h: the NaN propagation cases, independent of the
 * device (see there).
 */
#include "nan_prop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* NP_MASKA: the additive mask again, its rows NP_LDA floats apart (16-byte aligned: the CUDA families' staged
   tiles and the block map's 16-byte reads; NP_MASK's rows of NP_NK floats are not); NP_MASKQ: the same in q's dtype
   (16-bit on the GPU: the sm90 forward / JVP stage such tiles, family.cu fwd_bias_why_not) */
/* NP_VU, NP_VDU: the NaN in v / vd at a key that row NP_I0 sees with an additive bias of -1e4 there (visible, its
   probability underflowing to 0: 0 * NaN is NaN, as the math; the CPU backend dropped it before the twenty-eighth
   session) */
enum { NP_Q, NP_K, NP_V, NP_QD, NP_KD, NP_VD, NP_DOUT, NP_MASK, NP_MASKA, NP_MASKQ, NP_VU, NP_VDU, NP_NCASES };
static const char *const np_case_name[NP_NCASES] = {
    "q", "k", "v", "qd", "kd", "vd", "dout", "mask", "mask (aligned rows)", "mask (q's dtype, aligned rows)",
    "v (a key whose probability underflows)", "vd (a key whose probability underflows)"};

#define NP_B 2
#define NP_HQ 2
#define NP_HKV 1
#define NP_NQ 37
#define NP_NK 45
#define NP_I0 (NP_NQ - 3) /* the query row that gets the NaN */
#define NP_J0 10          /* the key row that gets the NaN (visible to NP_I0) */
#define NP_LDA 48         /* NP_MASKA and NP_MASKQ: the row stride (elements) */
#define NP_SENTINEL 1000.0 /* written into outputs first: exact in every dtype, never a result */

#define NP_WL 32 /* the window's left side in the windowed pass: NP_J0 on NP_I0's window edge, hidden from the rows after */

/* The pass's window_left (np_run: none, then NP_WL), which np_visible and the calls use. */
static int64_t np_window = JFA_WINDOW_UNBOUNDED;
/* the NaN placed: NAN, or (np_run's third pass) one with its sign bit set, x86's default NaN (inf - inf, 0 * inf),
   which the CPU forward once took for a masked key's -0.0 (a zero row) */
static double np_nan = NAN;

/* causal bottom-right, and the window's left side when there is one: key j is visible to query i */
static int np_visible(int64_t i, int64_t j) {
  const int64_t pi = i + (NP_NK - NP_NQ); /* query i's position among the keys */
  return j <= pi && (np_window == JFA_WINDOW_UNBOUNDED || j >= pi - np_window);
}

/* Which outputs of row (b, h, i) the NaN of case c reaches: bit 0 O, 1 lse, 2 Od, 3 mu. */
static unsigned np_expect_fwd(int c, int64_t b, int64_t h, int64_t i) {
  if (b != 0) return 0;
  const int mine = h == 0 && i == NP_I0, sees = np_visible(i, NP_J0);
  switch (c) {
    case NP_Q: return mine ? 15u : 0u;
    case NP_K: return sees ? 15u : 0u;
    case NP_V:
    case NP_VU: return sees ? 1u | 4u : 0u; /* O and Od; lse and mu do not read V */
    case NP_QD: return mine ? 4u | 8u : 0u;
    case NP_KD: return sees ? 4u | 8u : 0u;
    case NP_VD:
    case NP_VDU: return sees ? 4u : 0u;
    case NP_MASK:
    case NP_MASKA:
    case NP_MASKQ: return i == NP_I0 ? 15u : 0u; /* the mask is (B, 1, Nq, Nk): every head */
    default: return 0u;
  }
}

/* Which outputs of batch 0 the NaN of case c may reach beyond the rows that attend to it: a
   NaN key or value reaches, through 0 * NaN in the products of P (or its tangent) with V and
   of the scores with K, the other rows of its tile or head, as it does in SDPA's math
   (softmax(S) @ V); never another batch. */
static unsigned np_allow_fwd(int c, int64_t b) {
  if (b != 0) return 0;
  switch (c) {
    case NP_K: return 15u;
    case NP_V:
    case NP_VU: return 1u | 4u;
    case NP_KD: return 4u | 8u;
    case NP_VD:
    case NP_VDU: return 4u;
    default: return 0u;
  }
}

/* 1 if row r (width w) of x holds a NaN, 0 if it is all finite, -1 otherwise (inf or sentinel). */
static int np_row_state(const double *x, int64_t r, int64_t w, double sentinel) {
  int nan = 0;
  for (int64_t d = 0; d < w; ++d) {
    const double v = x[r * w + d];
    if (isnan(v)) nan = 1;
    else if (!isfinite(v) || v == sentinel) return -1;
  }
  return nan;
}

/* Checks the rows of a (B, H, N, w) result against an expectation function; returns 1 if all agree. */
static int np_check_rows(const char *what, const double *x, int64_t H, int64_t N, int64_t w, double sentinel,
                         int c, unsigned bit) {
  int ok = 1;
  for (int64_t b = 0; b < NP_B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t i = 0; i < N; ++i) {
        const int want = (np_expect_fwd(c, b, h, i) & bit) != 0, may = (np_allow_fwd(c, b) & bit) != 0;
        const int got = np_row_state(x, (b * H + h) * N + i, w, sentinel);
        if (got != want && !(got == 1 && may)) {
          if (ok)
            fprintf(stderr, "  %s (%s): row (%lld, %lld, %lld) is %s, expected %s\n", what, np_case_name[c],
                    (long long)b, (long long)h, (long long)i,
                    got < 0 ? "unwritten or infinite" : got ? "NaN" : "finite", want ? "NaN" : "finite");
          ok = 0;
        }
      }
  return ok;
}

/* Backward: batch 1 all finite; batch 0 all finite for the tangent cases, else dq row
   (0, 0, I0) and some row of dk hold NaN; nothing unwritten anywhere. */
static int np_check_grads(const np_buf_t *dq, const np_buf_t *dk, const np_buf_t *dv, int64_t D, double sentinel,
                          int c) {
  const int tangent = c == NP_QD || c == NP_KD || c == NP_VD || c == NP_VDU;
  const np_buf_t *g[3] = {dq, dk, dv};
  const int64_t H[3] = {NP_HQ, NP_HKV, NP_HKV}, N[3] = {NP_NQ, NP_NK, NP_NK};
  int ok = 1, dk_nan = 0;
  for (int t = 0; t < 3; ++t)
    for (int64_t b = 0; b < NP_B; ++b)
      for (int64_t h = 0; h < H[t]; ++h)
        for (int64_t i = 0; i < N[t]; ++i) {
          const int s = np_row_state(g[t]->val, (b * H[t] + h) * N[t] + i, D, sentinel);
          if (s < 0 || (s == 1 && (b == 1 || tangent))) ok = 0;
          if (t == 1 && b == 0 && s == 1) dk_nan = 1;
        }
  if (!tangent) {
    ok &= np_row_state(dq->val, (int64_t)NP_I0, D, sentinel) == 1; /* (b, h) = (0, 0) */
    ok &= dk_nan;
  }
  return ok;
}

static np_buf_t np_make(const np_device_t *dev, jfa_dtype_t dt, int64_t H, int64_t N, int64_t D, const double *v) {
  np_buf_t b = dev->alloc(dt, NP_B, H, N, D);
  dev->set(&b, v);
  return b;
}

/* One case: inputs with one NaN, forward + JVP, backward, and the checks. */
static void np_case(const np_device_t *dev, int64_t D, const char *label, int c) {
  const size_t nq = (size_t)NP_B * NP_HQ * NP_NQ * D, nk = (size_t)NP_B * NP_HKV * NP_NK * D;
  const int64_t ldm = c == NP_MASKA || c == NP_MASKQ ? NP_LDA : NP_NK; /* the mask's row stride */
  const size_t nr = (size_t)NP_B * NP_HQ * NP_NQ, nm = (size_t)NP_B * NP_NQ * ldm;
  double *vals[7], *bias = (double *)calloc(nm, sizeof(double));
  const size_t sizes[7] = {nq, nk, nk, nq, nk, nk, nq}; /* q k v qd kd vd dout */
  for (int t = 0; t < 7; ++t) {
    vals[t] = (double *)malloc(sizes[t] * sizeof(double));
    tu_fill_normal(vals[t], sizes[t], 1.0);
  }
  const int64_t d0 = D / 3;
  const size_t qpos = (size_t)NP_I0 * D + d0, kpos = (size_t)NP_J0 * D + d0; /* batch 0, head 0 */
  switch (c) {
    case NP_Q: vals[0][qpos] = np_nan; break;
    case NP_K: vals[1][kpos] = np_nan; break;
    case NP_V: vals[2][kpos] = np_nan; break;
    case NP_QD: vals[3][qpos] = np_nan; break;
    case NP_KD: vals[4][kpos] = np_nan; break;
    case NP_VD: vals[5][kpos] = np_nan; break;
    case NP_DOUT: vals[6][qpos] = np_nan; break;
    case NP_MASK:
    case NP_MASKA:
    case NP_MASKQ: bias[(size_t)NP_I0 * ldm + NP_J0] = np_nan; break;
    case NP_VU: vals[2][kpos] = np_nan, bias[(size_t)NP_I0 * ldm + NP_J0] = -1e4; break;
    case NP_VDU: vals[5][kpos] = np_nan, bias[(size_t)NP_I0 * ldm + NP_J0] = -1e4; break;
  }
  double *sent = (double *)malloc(nq * sizeof(double));
  for (size_t i = 0; i < nq; ++i) sent[i] = NP_SENTINEL;
  const jfa_dtype_t dt = dev->dtype, st = dev->stat_dtype;
  np_buf_t q = np_make(dev, dt, NP_HQ, NP_NQ, D, vals[0]), k = np_make(dev, dt, NP_HKV, NP_NK, D, vals[1]),
           v = np_make(dev, dt, NP_HKV, NP_NK, D, vals[2]), qd = np_make(dev, dt, NP_HQ, NP_NQ, D, vals[3]),
           kd = np_make(dev, dt, NP_HKV, NP_NK, D, vals[4]), vd = np_make(dev, dt, NP_HKV, NP_NK, D, vals[5]),
           dout = np_make(dev, dt, NP_HQ, NP_NQ, D, vals[6]);
  np_buf_t o = np_make(dev, dt, NP_HQ, NP_NQ, D, sent), od = np_make(dev, dt, NP_HQ, NP_NQ, D, sent),
           dq = np_make(dev, dt, NP_HQ, NP_NQ, D, sent), dk = np_make(dev, dt, NP_HKV, NP_NK, D, sent),
           dv = np_make(dev, dt, NP_HKV, NP_NK, D, sent), lse = np_make(dev, st, NP_HQ, NP_NQ, 1, sent),
           mu = np_make(dev, st, NP_HQ, NP_NQ, 1, sent);
  np_buf_t mask = dev->alloc(c == NP_MASKQ ? dt : st, NP_B, 1, NP_NQ, ldm);
  dev->set(&mask, bias);
  mask.t.shape[3] = NP_NK; /* NP_MASKA: a view of the first NP_NK keys of each row */

  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = JFA_MASK_CAUSAL_BOTTOM_RIGHT;
  prm.window_left = np_window;
  if (c == NP_MASK || c == NP_MASKA || c == NP_MASKQ || c == NP_VU || c == NP_VDU) prm.attn_mask = &mask.t;
  char name[160];
  jfa_status_t s = jfa_attention_forward_jvp(dev->ctx, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t,
                                             &od.t, &mu.t);
  snprintf(name, sizeof name, "%s NaN in %s: forward+JVP call", label, np_case_name[c]);
  if (tu_expect(name, s == JFA_SUCCESS)) {
    dev->get(&o), dev->get(&lse), dev->get(&od), dev->get(&mu);
    const np_buf_t *outs[4] = {&o, &lse, &od, &mu};
    static const char *const onames[4] = {"o", "lse", "od", "mu"};
    for (int t = 0; t < 4; ++t) {
      snprintf(name, sizeof name, "%s NaN in %s: %s NaN in the rows it reaches, finite where it cannot reach", label, np_case_name[c],
               onames[t]);
      tu_expect(name, np_check_rows(onames[t], outs[t]->val, NP_HQ, NP_NQ, (t & 1) ? 1 : D,
                                    tu_round(NP_SENTINEL, outs[t]->t.dtype), c, 1u << t));
    }
    s = jfa_attention_backward(dev->ctx, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &dq.t, &dk.t, &dv.t);
    snprintf(name, sizeof name, "%s NaN in %s: backward NaN where it reaches, batch 1 finite", label,
             np_case_name[c]);
    if (s != JFA_SUCCESS) fprintf(stderr, "  backward: %s\n", jfa_get_last_error());
    if (s == JFA_SUCCESS) dev->get(&dq), dev->get(&dk), dev->get(&dv);
    tu_expect(name, s == JFA_SUCCESS && np_check_grads(&dq, &dk, &dv, D, tu_round(NP_SENTINEL, dt), c));
  } else {
    fprintf(stderr, "  forward_jvp: %s\n", jfa_get_last_error());
  }
  np_buf_t *all[15] = {&q, &k, &v, &qd, &kd, &vd, &dout, &o, &od, &dq, &dk, &dv, &lse, &mu, &mask};
  for (int t = 0; t < 15; ++t) dev->release(all[t]);
  for (int t = 0; t < 7; ++t) free(vals[t]);
  free(bias);
  free(sent);
  (void)nr;
}

/* The merge: a NaN lse in a partial (against a finite accumulator and against an empty one,
   lse = -inf, which a max that drops NaN would keep) gives a NaN row; other rows stay finite. */
static void np_merge(const np_device_t *dev, int64_t D, const char *label) {
  const int64_t H = 2, N = 5;
  const size_t n = (size_t)NP_B * H * N * D, nr = (size_t)NP_B * H * N;
  double *x[8];
  for (int t = 0; t < 8; ++t) {
    const size_t m = (t % 2) ? nr : n; /* o lse od mu, o lse od mu */
    x[t] = (double *)malloc(m * sizeof(double));
    tu_fill_normal(x[t], m, 1.0);
  }
  const size_t r1 = 2, r2 = (size_t)N + 3; /* rows (0, 0, 2) and (0, 1, 3) */
  x[5][r1] = NAN;                          /* lse_part */
  x[5][r2] = NAN;
  x[1][r2] = -INFINITY; /* an empty accumulator row: o = od = 0, mu = 0 */
  x[3][r2] = 0.0;
  for (int64_t d = 0; d < D; ++d) x[0][r2 * D + d] = x[2][r2 * D + d] = 0.0;
  /* rows (0, 1, 1) and (0, 0, 4): a NaN in o_part / o_acc whose weight underflows (its lse 1e4 below the other's):
     0 * NaN is NaN in o and od (the math, and a single call over both parts' keys); lse and mu stay finite */
  const size_t r3 = (size_t)N + 1, r4 = 4;
  x[5][r3] = x[1][r3] - 1e4;
  x[4][r3 * D] = NAN;
  x[1][r4] = x[5][r4] - 1e4;
  x[0][r4 * D + D - 1] = NAN;
  np_buf_t b[8];
  for (int t = 0; t < 8; ++t) {
    b[t] = dev->alloc(dev->stat_dtype, NP_B, H, N, (t % 2) ? 1 : D);
    dev->set(&b[t], x[t]);
  }
  jfa_status_t s = jfa_attention_merge(dev->ctx, &b[0].t, &b[1].t, &b[2].t, &b[3].t, &b[4].t, &b[5].t, &b[6].t,
                                       &b[7].t);
  int ok = s == JFA_SUCCESS;
  if (ok) {
    for (int t = 0; t < 4; ++t) {
      dev->get(&b[t]);
      const int64_t w = (t % 2) ? 1 : D;
      for (size_t r = 0; r < nr; ++r)
        ok &= np_row_state(b[t].val, (int64_t)r, w, NAN) == (r == r1 || r == r2 || (t % 2 == 0 && (r == r3 || r == r4)));
    }
  }
  char name[160];
  snprintf(name, sizeof name, "%s merge: a NaN partial lse gives a NaN row (also into an empty row), a NaN o under "
           "an underflowed weight NaN o and od", label);
  tu_expect(name, ok);
  for (int t = 0; t < 8; ++t) {
    dev->release(&b[t]);
    free(x[t]);
  }
}

void np_run(const np_device_t *dev, int64_t D, const char *label) {
  char wlabel[160];
  snprintf(wlabel, sizeof wlabel, "%s window %d", label, NP_WL);
  for (int pass = 0; pass < 2; ++pass) {
    np_window = pass ? NP_WL : JFA_WINDOW_UNBOUNDED;
    for (int c = 0; c < NP_NCASES; ++c) np_case(dev, D, pass ? wlabel : label, c);
  }
  np_window = JFA_WINDOW_UNBOUNDED;
  char slabel[160];
  snprintf(slabel, sizeof slabel, "%s sign-set NaN", label);
  np_nan = copysign(NAN, -1.0);
  for (int c = 0; c < NP_NCASES; ++c) np_case(dev, D, slabel, c);
  np_nan = NAN;
  np_merge(dev, D, label);
}
