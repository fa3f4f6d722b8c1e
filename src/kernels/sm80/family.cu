/*
 * fwd_tc.cu - tensor-core forward of jfa (kernel in fwd_tc.cuh): eligibility of a
 * problem for the fast path and the per-head-dim instantiations (bf16, fp16).
 * Tile shapes: BM query rows = 16 * MT * NW per CTA, BN keys per block.
 */
#include <stdlib.h>

#include "kernels/fwd_tc.cuh"

int tc_head_dim(int64_t D) {
  if (D <= 32) return 32;
  if (D <= 64) return 64;
  if (D <= 96) return 96;
  if (D <= 128) return 128;
  if (D <= 256) return 256;
  return 0;
}

bool tc_tensor_ok(const jfa_tensor_t *t) {
  if (!t) return false;
  if (t->dtype != JFA_DTYPE_FLOAT16 && t->dtype != JFA_DTYPE_BFLOAT16) return false;
  if (t->stride[3] != 1 || ((uintptr_t)t->data & 15u) != 0) return false;
  for (int i = 0; i < 3; ++i)
    if (t->stride[i] % 8 != 0) return false;
  return true;
}

#ifdef JFA_TUNING
/* Tuning builds only (-DJFA_TUNING=ON): JFA_TUNE_FWD=<n> picks another tile shape. */
template <typename T>
static bool fwd_tune(const FwdArgs &a, int Dk, cudaStream_t st, jfa_status_t *s) {
  const char *e = getenv("JFA_TUNE_FWD");
  const int v = e ? atoi(e) : 0;
  if (v == 0) return false;
  if (Dk == 128 && v == 1) *s = launch_fwd_tc<T, 128, 32, 4, 2, false, false>(a, st);
  else if (Dk == 64 && v == 1) *s = launch_fwd_tc<T, 64, 128, 4, 1, false, true>(a, st);
  else if (Dk == 64 && v == 2) *s = launch_fwd_tc<T, 64, 64, 8, 1, false, true>(a, st);
  else if (Dk == 64 && v == 3) *s = launch_fwd_tc<T, 64, 64, 4, 2, false, true>(a, st); /* Q in registers */
  else return false;
  return true;
}
#endif

template <typename T>
static jfa_status_t fwd_dispatch(const FwdArgs &a, int Dk, cudaStream_t st) {
#ifdef JFA_TUNING
  jfa_status_t ts;
  if (fwd_tune<T>(a, Dk, st, &ts)) return ts;
#endif
  switch (Dk) {
    case 32: return launch_fwd_tc<T, 32, 64, 4, 1, false, true>(a, st);
    case 64: return launch_fwd_tc<T, 64, 64, 4, 2, false, false>(a, st); /* 168 registers: 3 CTAs/SM */
    case 96: return launch_fwd_tc<T, 96, 64, 4, 2, false, false>(a, st);
    case 128: return launch_fwd_tc<T, 128, 64, 4, 2, false, false>(a, st);
    case 256: return launch_fwd_tc<T, 256, 32, 4, 1, false, false>(a, st);
    default: JFA_FAIL(JFA_ERROR_INTERNAL, "no forward kernel for head dim %d", Dk);
  }
}

jfa_status_t tc_forward(bool *done, jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,
                        const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                        const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,
                        const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu, int accumulate,
                        const MaskDev *mk) {
  *done = false;
  const bool jvp = qd != nullptr;
  const int Dk = tc_head_dim(p->D);
  if (Dk == 0 || (jvp && Dk > 128)) return JFA_SUCCESS;
  if (!tc_tensor_ok(q) || !tc_tensor_ok(k) || !tc_tensor_ok(v)) return JFA_SUCCESS;
  if (jvp && (!tc_tensor_ok(qd) || !tc_tensor_ok(kd) || !tc_tensor_ok(vd))) return JFA_SUCCESS;
  if (p->B > 65535 || p->Hq > 65535) return JFA_SUCCESS;
  const bool masked = problem_has_masks(p);
  if (masked && (p->Nq >= (1 << 30) || p->Nk >= (1 << 30))) return JFA_SUCCESS; /* int key intervals */
  FwdArgs a;
  fwd_args_init(&a, p, q, k, v, qd, kd, vd, o, lse, od, mu, accumulate, mk);
  cudaStream_t st = ctx_stream(ctx);
  if (jvp) {
    JFA_CHECK(tc_launch_jvp(a, q->dtype, Dk, st));
  } else if (q->dtype == JFA_DTYPE_BFLOAT16) {
    JFA_CHECK(fwd_dispatch<__nv_bfloat16>(a, Dk, st));
  } else {
    JFA_CHECK(fwd_dispatch<__half>(a, Dk, st));
  }
  *done = true;
  return JFA_SUCCESS;
}
