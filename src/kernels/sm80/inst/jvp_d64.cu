/* jvp_d64.cu - the sm80 fused forward+JVP at head dim 64 (bf16, fp16; tiles: sm80/tiles.h). */
#include "kernels/sm80/fwd.cuh"

template jfa_status_t sm80_fwd_d<__nv_bfloat16, 64, true>(const FwdArgs &a, cudaStream_t st);
template jfa_status_t sm80_fwd_d<__half, 64, true>(const FwdArgs &a, cudaStream_t st);
