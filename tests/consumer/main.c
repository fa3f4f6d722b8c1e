/*
 * main.c - consumer of an installed jfa: runs a small causal attention forward on
 * the CPU through the public API and checks it against a direct computation.
 * Exits 0 when the result matches. Built by tests/consumer/CMakeLists.txt.
 */
#include <jfa.h>
#include <math.h>
#include <stdio.h>

enum { NQ = 3, NK = 4, D = 5 };

/* The larger error, NaN when either is NaN (fmax would drop it). */
static double worst(double a, double b) { return (isnan(a) || isnan(b)) ? NAN : (a > b ? a : b); }

int main(void) {
  double q[NQ * D], k[NK * D], v[NK * D], o[NQ * D], lse[NQ];
  for (int i = 0; i < NQ * D; ++i) q[i] = sin(0.7 * i + 0.1);
  for (int i = 0; i < NK * D; ++i) k[i] = cos(0.3 * i), v[i] = 0.05 * i - 0.4;
  for (int i = 0; i < NQ * D; ++i) o[i] = NAN; /* poison: an unwritten output fails */
  for (int i = 0; i < NQ; ++i) lse[i] = NAN;

  jfa_context_t *ctx = NULL;
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) {
    fprintf(stderr, "context: %s\n", jfa_get_last_error());
    return 1;
  }
  jfa_tensor_t tq = jfa_tensor_bhsd(q, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 1, NQ, D);
  jfa_tensor_t tk = jfa_tensor_bhsd(k, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 1, NK, D);
  jfa_tensor_t tv = jfa_tensor_bhsd(v, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 1, NK, D);
  jfa_tensor_t to = jfa_tensor_bhsd(o, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 1, NQ, D);
  jfa_tensor_t tl = jfa_tensor_bhsd(lse, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 1, NQ, 1);
  jfa_attention_params_t params;
  jfa_attention_params_init(&params);
  params.mask = JFA_MASK_CAUSAL_BOTTOM_RIGHT;
  jfa_status_t st = jfa_attention_forward(ctx, &params, &tq, &tk, &tv, &to, &tl);
  jfa_context_destroy(ctx);
  if (st != JFA_SUCCESS) {
    fprintf(stderr, "forward: %s (%s)\n", jfa_status_string(st), jfa_get_last_error());
    return 1;
  }

  /* direct computation: query i sees keys j <= i + NK - NQ */
  double err = 0.0, scale = 1.0 / sqrt((double)D);
  for (int i = 0; i < NQ; ++i) {
    double s[NK], m = -INFINITY, l = 0.0;
    int jend = i + NK - NQ + 1;
    for (int j = 0; j < jend; ++j) {
      s[j] = 0.0;
      for (int d = 0; d < D; ++d) s[j] += scale * q[i * D + d] * k[j * D + d];
      m = fmax(m, s[j]);
    }
    for (int j = 0; j < jend; ++j) l += exp(s[j] - m);
    err = worst(err, fabs(lse[i] - (m + log(l))));
    for (int d = 0; d < D; ++d) {
      double ref = 0.0;
      for (int j = 0; j < jend; ++j) ref += exp(s[j] - m) / l * v[j * D + d];
      err = worst(err, fabs(o[i * D + d] - ref));
    }
  }
  printf("jfa %d (header %d): max abs error %.3e\n", jfa_version(), JFA_VERSION, err);
  return err < 1e-12 && jfa_version() == JFA_VERSION ? 0 : 1; /* NaN < x is false */
}
