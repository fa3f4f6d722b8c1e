/*
 * jvp_tc.cu - tensor-core fused forward+JVP instantiations of jfa (kernel in
 * fwd_tc.cuh), one per head dim up to 128 and 16-bit dtype. Compiled apart from
 * fwd_tc.cu so the two build in parallel. D = 256 takes the SIMT path (O and U
 * accumulators of 256 columns do not fit in registers).
 */
#include <stdlib.h>

#include "kernels/fwd_tc.cuh"

template <typename T>
static jfa_status_t jvp_dispatch(const FwdArgs &a, int Dk, cudaStream_t st) {
#ifdef JFA_TUNING
  /* Tuning builds only: JFA_TUNE_JVP=<n> picks another tile shape for D = 128. */
  const char *e = getenv("JFA_TUNE_JVP");
  const int v = e ? atoi(e) : 0;
  if (Dk == 128 && v == 1) return launch_fwd_tc<T, 128, 32, 4, 1, true, false>(a, st);
  if (Dk == 64 && v == 1) return launch_fwd_tc<T, 64, 64, 4, 1, true, true>(a, st);
#endif
  switch (Dk) {
    case 32: return launch_fwd_tc<T, 32, 64, 8, 1, true, true>(a, st);
    case 64: return launch_fwd_tc<T, 64, 64, 8, 1, true, true>(a, st);
    case 96: return launch_fwd_tc<T, 96, 32, 8, 1, true, false>(a, st);
    case 128: return launch_fwd_tc<T, 128, 32, 8, 1, true, false>(a, st);
    default: JFA_FAIL(JFA_ERROR_INTERNAL, "no JVP kernel for head dim %d", Dk);
  }
}

jfa_status_t tc_launch_jvp(const FwdArgs &a, jfa_dtype_t dtype, int Dk, cudaStream_t st) {
  if (dtype == JFA_DTYPE_BFLOAT16) return jvp_dispatch<__nv_bfloat16>(a, Dk, st);
  return jvp_dispatch<__half>(a, Dk, st);
}
