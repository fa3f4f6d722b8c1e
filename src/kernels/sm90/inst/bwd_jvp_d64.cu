/* bwd_jvp_d64.cu - the sm90 backward-JVP at head dim 64 (bf16, fp16; tiles: sm90/tiles.h; sm_90a only). */
#include "kernels/sm90/bwd_jvp.cuh"

template jfa_status_t sm90_bwd_jvp_d<__nv_bfloat16, 64>(const BwdJvpArgs &a, const Sm90BwdJvpTensors &t,
                                                       cudaStream_t st);
template jfa_status_t sm90_bwd_jvp_d<__half, 64>(const BwdJvpArgs &a, const Sm90BwdJvpTensors &t, cudaStream_t st);
