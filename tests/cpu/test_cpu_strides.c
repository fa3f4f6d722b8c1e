/*
 * test_cpu_strides.c - the CPU backend with non-unit strides along every axis,
 * the head dim included, for every input (q, k, v, qd, kd, vd, dO, the dense
 * mask), every output (O, Od, dQ, dK, dV) and the statistics (lse, mu), against
 * the independent float64 reference (ref64.h, which reads the same views through
 * its own strided loader).
 *
 * Each tensor is a view into a larger buffer: its axes are laid out in a random
 * order, the innermost with stride 2 or 3, each outer one padded by 1-3 elements.
 * Input padding holds NaN, so reading a wrong element (e.g. ignoring stride[3])
 * gives NaN; output padding holds a sentinel that must survive (nothing written
 * outside the view), the view itself is NaN-poisoned and must be fully written.
 * Cases: GQA, D not a power of two, no mask, causal bottom-right with Nq > Nk
 * (fully masked rows), a window, packed sequences, dense boolean and additive
 * masks; float64 and float32.
 *
 * Run: ctest --test-dir build -R test_cpu_strides   (JFA_TEST_SEED=<n> to repeat)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref64.h"
#include "testutil.h"

#define SENTINEL 12345.0

/* A strided view over its own buffer. */
typedef struct {
  jfa_tensor_t t;
  size_t span; /* elements of the buffer */
} sview_t;

static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(tu_uniform() * (double)(hi - lo + 1)); }

static double *dalloc(size_t n) {
  double *p = (double *)malloc((n ? n : 1) * sizeof(double));
  if (!p) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  return p;
}

/* A view of shape (B, H, S, D) with non-unit strides on every axis, axes in a random order. */
static sview_t sv_new(jfa_dtype_t dt, int64_t B, int64_t H, int64_t S, int64_t D) {
  sview_t v;
  memset(&v, 0, sizeof v);
  int64_t shape[4] = {B, H, S, D};
  int order[4] = {0, 1, 2, 3};
  for (int i = 3; i > 0; --i) { /* Fisher-Yates: order[0] is the innermost axis */
    int j = (int)rnd(0, i), t = order[i];
    order[i] = order[j], order[j] = t;
  }
  int64_t stride = rnd(2, 3);
  for (int i = 0; i < 4; ++i) {
    v.t.stride[order[i]] = stride;
    stride = stride * shape[order[i]] + rnd(1, 3);
  }
  for (int i = 0; i < 4; ++i) v.t.shape[i] = shape[i];
  v.span = (size_t)stride;
  v.t.dtype = dt;
  v.t.device = JFA_DEVICE_CPU;
  v.t.data = calloc(v.span, jfa_dtype_size(dt));
  if (!v.t.data) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  return v;
}

/* Whether buffer element e lies inside the view (a scan of the view's offsets). */
static unsigned char *sv_inside(const sview_t *v) {
  unsigned char *in = (unsigned char *)calloc(v->span, 1);
  for (int64_t b = 0; b < v->t.shape[0]; ++b)
    for (int64_t h = 0; h < v->t.shape[1]; ++h)
      for (int64_t s = 0; s < v->t.shape[2]; ++s)
        for (int64_t d = 0; d < v->t.shape[3]; ++d)
          in[b * v->t.stride[0] + h * v->t.stride[1] + s * v->t.stride[2] + d * v->t.stride[3]] = 1;
  return in;
}

/* Fills the whole buffer: inside the view random normals (random_inside) or `inside`, padding `pad`. */
static void sv_fill(sview_t *v, int random_inside, double inside, double pad) {
  unsigned char *in = sv_inside(v);
  double *x = dalloc(v->span);
  for (size_t e = 0; e < v->span; ++e) x[e] = in[e] ? (random_inside ? tu_normal() : inside) : pad;
  tu_to_dtype(x, v->t.data, v->span, v->t.dtype);
  free(x), free(in);
}

/* Number of padding elements that no longer hold the sentinel. */
static size_t sv_pad_changed(const sview_t *v) {
  unsigned char *in = sv_inside(v);
  double *x = dalloc(v->span);
  tu_from_dtype(v->t.data, x, v->span, v->t.dtype);
  size_t bad = 0;
  for (size_t e = 0; e < v->span; ++e) bad += !in[e] && x[e] != SENTINEL;
  free(x), free(in);
  return bad;
}

static void sv_free(sview_t *v) { free(v->t.data); }

typedef struct {
  const char *name;
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_mask_t mask;
  int64_t wl, wr;
  int64_t nseq;
  const int64_t *cu_q, *cu_k;
  int dense; /* 0 none, 1 bool, 2 additive */
} scase_t;

static void run_case(const scase_t *c, jfa_context_t *ctx, jfa_dtype_t dt) {
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, Nq = c->Nq, Nk = c->Nk, D = c->D;
  enum { Q, K, V, QD, KD, VD, DO, NIN };
  enum { O, LSE, OD, MU, DQ, DK, DV, O2, LSE2, NOUT };
  const char *out_names[NOUT] = {"O", "lse", "Od", "mu", "dQ", "dK", "dV", "O (fwd)", "lse (fwd)"};
  sview_t in[NIN], out[NOUT];
  for (int i = 0; i < NIN; ++i) {
    int kv = i == K || i == V || i == KD || i == VD;
    in[i] = sv_new(dt, B, kv ? Hkv : Hq, kv ? Nk : Nq, D);
    sv_fill(&in[i], 1, 0.0, NAN);
  }
  const jfa_dtype_t st = dt; /* statistics in the inputs' dtype (float64 or float32) */
  for (int i = 0; i < NOUT; ++i) {
    int kv = i == DK || i == DV, stat = i == LSE || i == MU || i == LSE2;
    out[i] = sv_new(stat ? st : dt, B, kv ? Hkv : Hq, kv ? Nk : Nq, stat ? 1 : D);
    sv_fill(&out[i], 0, NAN, SENTINEL);
  }
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.window_left = c->wl, prm.window_right = c->wr;
  if (c->mask == JFA_MASK_POSITIONS) prm.q_position = 5, prm.k_position = 3;
  if (c->nseq) prm.cu_seqlens_q = c->cu_q, prm.cu_seqlens_k = c->cu_k, prm.num_seqs = c->nseq;
  sview_t mask;
  memset(&mask, 0, sizeof mask);
  if (c->dense) { /* (1, Hq, Nq, Nk) broadcast over batch; strided like the rest */
    mask = sv_new(c->dense == 1 ? JFA_DTYPE_BOOL : dt, 1, Hq, Nq, Nk);
    unsigned char *inside = sv_inside(&mask);
    double *x = dalloc(mask.span);
    for (size_t e = 0; e < mask.span; ++e) {
      double u = tu_uniform();
      if (!inside[e]) x[e] = c->dense == 1 ? 0.0 : NAN;
      else if (c->dense == 1) x[e] = u < 0.7 ? 1.0 : 0.0;
      else x[e] = u < 0.25 ? -INFINITY : tu_normal();
    }
    if (c->dense == 1) {
      for (size_t e = 0; e < mask.span; ++e) ((unsigned char *)mask.t.data)[e] = x[e] != 0.0;
    } else {
      tu_to_dtype(x, mask.t.data, mask.span, dt);
    }
    free(x), free(inside);
    prm.attn_mask = &mask.t;
  }

  jfa_status_t s1 = jfa_attention_forward_jvp(ctx, &prm, &in[Q].t, &in[K].t, &in[V].t, &in[QD].t, &in[KD].t,
                                              &in[VD].t, &out[O].t, &out[LSE].t, &out[OD].t, &out[MU].t);
  jfa_status_t s2 = jfa_attention_backward(ctx, &prm, &in[Q].t, &in[K].t, &in[V].t, &out[O].t, &out[LSE].t,
                                           &in[DO].t, &out[DQ].t, &out[DK].t, &out[DV].t);
  jfa_status_t s3 = jfa_attention_forward(ctx, &prm, &in[Q].t, &in[K].t, &in[V].t, &out[O2].t, &out[LSE2].t);
  char label[256];
  const char *dn = dt == JFA_DTYPE_FLOAT64 ? "fp64" : "fp32";
  snprintf(label, sizeof label, "%s %s: calls succeed", c->name, dn);
  if (!tu_expect(label, s1 == JFA_SUCCESS && s2 == JFA_SUCCESS && s3 == JFA_SUCCESS))
    printf("  %s\n", jfa_get_last_error());

  /* the reference on the same strided views, into contiguous float64 */
  double *ref[NOUT];
  jfa_tensor_t rt[NOUT];
  for (int i = 0; i < NOUT; ++i) {
    const jfa_tensor_t *t = &out[i].t;
    ref[i] = dalloc((size_t)jfa_tensor_numel(t));
    rt[i] = jfa_tensor_bhsd(ref[i], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, t->shape[0], t->shape[1], t->shape[2],
                            t->shape[3]);
  }
  int rok = ref64_forward_jvp(&prm, &in[Q].t, &in[K].t, &in[V].t, &in[QD].t, &in[KD].t, &in[VD].t, &rt[O],
                              &rt[LSE], &rt[OD], &rt[MU]) == 0 &&
            ref64_backward(&prm, &in[Q].t, &in[K].t, &in[V].t, NULL, NULL, &in[DO].t, &rt[DQ], &rt[DK], &rt[DV]) == 0 &&
            ref64_forward(&prm, &in[Q].t, &in[K].t, &in[V].t, &rt[O2], &rt[LSE2]) == 0;
  snprintf(label, sizeof label, "%s %s: reference runs", c->name, dn);
  tu_expect(label, rok);
  const double tol = dt == JFA_DTYPE_FLOAT64 ? 1e-12 : 2e-6;
  for (int i = 0; i < NOUT; ++i) {
    size_t n = (size_t)jfa_tensor_numel(&out[i].t);
    double *got = dalloc(n);
    ref64_load(&out[i].t, got);
    snprintf(label, sizeof label, "%s %s: %s (strides %lld %lld %lld %lld) vs ref64", c->name, dn, out_names[i],
             (long long)out[i].t.stride[0], (long long)out[i].t.stride[1], (long long)out[i].t.stride[2],
             (long long)out[i].t.stride[3]);
    tu_check(label, tu_rel_err(got, ref[i], n), tol);
    snprintf(label, sizeof label, "%s %s: %s padding untouched", c->name, dn, out_names[i]);
    tu_expect(label, sv_pad_changed(&out[i]) == 0);
    free(got);
    free(ref[i]);
  }
  for (int i = 0; i < NIN; ++i) sv_free(&in[i]);
  for (int i = 0; i < NOUT; ++i) sv_free(&out[i]);
  if (c->dense) sv_free(&mask);
}

int main(void) {
  tu_init_seed("test_cpu_strides");
  jfa_context_t *ctx = NULL;
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;
  static const int64_t cu_q[] = {0, 1, 8, 8, 20}, cu_k[] = {0, 3, 5, 9, 23};
  const scase_t cases[] = {
      {"plain GQA", 2, 4, 2, 13, 17, 6, JFA_MASK_NONE, -1, -1, 0, NULL, NULL, 0},
      {"causal bottom-right Nq>Nk", 2, 3, 1, 17, 13, 5, JFA_MASK_CAUSAL_BOTTOM_RIGHT, -1, -1, 0, NULL, NULL, 0},
      {"causal top-left window(3,0)", 1, 4, 2, 19, 19, 7, JFA_MASK_CAUSAL_TOP_LEFT, 3, 0, 0, NULL, NULL, 0},
      {"window(2,4) positions", 2, 2, 2, 11, 15, 4, JFA_MASK_POSITIONS, 2, 4, 0, NULL, NULL, 0},
      {"packed causal", 1, 4, 2, 20, 23, 6, JFA_MASK_CAUSAL_BOTTOM_RIGHT, -1, -1, 4, cu_q, cu_k, 0},
      {"dense bool", 2, 4, 2, 9, 14, 5, JFA_MASK_NONE, -1, -1, 0, NULL, NULL, 1},
      {"dense additive causal", 2, 2, 1, 12, 12, 3, JFA_MASK_CAUSAL_TOP_LEFT, -1, -1, 0, NULL, NULL, 2},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    run_case(&cases[i], ctx, JFA_DTYPE_FLOAT64);
    run_case(&cases[i], ctx, JFA_DTYPE_FLOAT32);
  }
  jfa_context_destroy(ctx);
  return tu_finish();
}
