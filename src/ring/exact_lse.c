/*
 * exact_lse.c - the lse that the CPU ring backwards use when the caller's is float32.
 *
 * A backward forms P = exp(S - lse), so it needs lse to the precision of S - lse. A float32 lse of magnitude
 * >= JFA_CPU_SHIFT_LSE (1024) is off by up to ulp(lse) / 2 = 6e-5 there, which every P of the row carries (the
 * gradients 1e-5 .. 5e-3 off at |lse| 300 .. 65536, float64 data too); one beyond FLT_MAX was stored as +-inf (float64
 * data, or scores beyond float32's range), and P = exp(S - inf) = 0 gave the row zero gradients with success. The
 * single-device CPU backward recomputes such rows from their scores (cpu/row_shift.c); a ring block sees only its
 * block's keys. So when any rank's float32 lse has such a row (agreed with the call's arguments, whatever each rank's
 * lse dtype: a rank with a float64 lse then runs the forward too, as a collective needs), the ring first runs its
 * forward again into a float64 lse (and a scratch o), and the backward reads that: the lse of the same float64 merges
 * that the float32 one was rounded from. The cost is one ring forward, only in those calls; CUDA rings keep the
 * given lse (the GPU backwards read a float32 lse as the single-device GPU calls do: include/jfa.h).
 */
#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"
#include "ring/ring_internal.h"

int jfa_ring_lse_needed(const jfa_ring_t *r, const jfa_tensor_t *lse) {
  if (r->ctx->device != JFA_DEVICE_CPU || !lse || lse->dtype != JFA_DTYPE_FLOAT32) return 0;
  for (int64_t b = 0; b < lse->shape[0]; ++b)
    for (int64_t h = 0; h < lse->shape[1]; ++h)
      for (int64_t i = 0; i < lse->shape[2]; ++i) {
        if (jfa_cpu_lse_too_large(jfa_cpu_ld(lse, jfa_cpu_off(lse, b, h, i, 0)))) return 1; /* row_shift.c's rows */
      }
  return 0;
}

jfa_status_t jfa_ring_exact_lse(jfa_ring_t *r, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                const jfa_tensor_t *lse, int any, jfa_ring_lse_t *out, const char *what) {
  out->lse64 = NULL;
  out->o = NULL;
  out->use = lse;
  if (!any) return JFA_SUCCESS; /* agreed: every rank returns here, or every rank goes on */
  const int64_t B = r->cfg.batch, H = r->cfg.heads_q, n = r->n_local, D = r->cfg.head_dim;
  out->lse64 = (double *)malloc(sizeof(double) * (size_t)(B * H * n));
  out->o = malloc(jfa_dtype_size(q->dtype) * (size_t)(B * H * n * D));
  jfa_status_t st = JFA_SUCCESS;
  if (!out->lse64 || !out->o)
    st = jfa_set_error(JFA_ERROR_OUT_OF_MEMORY, __FILE__, __LINE__,
                       "%s: the float64 lse that a float32 lse of |lse| >= %g needs (%lld rows)", what,
                       JFA_CPU_SHIFT_LSE, (long long)(B * H * n));
  st = jfa_ring_agree(r, st, what);
  if (st == JFA_SUCCESS) {
    out->o_t = jfa_tensor_bhsd(out->o, q->dtype, JFA_DEVICE_CPU, B, H, n, D);
    out->lse_t = jfa_tensor_bhsd(out->lse64, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, n, 1);
    st = jfa_ring_forward(r, q, k, v, &out->o_t, &out->lse_t);
  }
  if (st != JFA_SUCCESS) {
    jfa_ring_exact_lse_free(out);
    return st;
  }
  out->use = &out->lse_t;
  return JFA_SUCCESS;
}

void jfa_ring_exact_lse_free(jfa_ring_lse_t *e) {
  free(e->lse64);
  free(e->o);
  e->lse64 = NULL;
  e->o = NULL;
}
