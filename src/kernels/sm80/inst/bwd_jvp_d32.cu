/* bwd_jvp_d32.cu - the sm80 backward-JVP at head dim 32 (bf16, fp16; tiles: sm80/tiles.h). */
#include "kernels/sm80/bwd_jvp.cuh"

template jfa_status_t sm80_bwd_jvp_d<__nv_bfloat16, 32>(const BwdJvpArgs &a, bool kv, cudaStream_t st);
template jfa_status_t sm80_bwd_jvp_d<__half, 32>(const BwdJvpArgs &a, bool kv, cudaStream_t st);
