/* jvp_d256.cu - the sm80 fused forward+JVP at head dim 256, in two column slices (bf16, fp16; tiles: sm80/tiles.h). */
#include "kernels/sm80/fwd.cuh"

template jfa_status_t sm80_fwd_d<__nv_bfloat16, 256, true>(const FwdArgs &a, cudaStream_t st);
template jfa_status_t sm80_fwd_d<__half, 256, true>(const FwdArgs &a, cudaStream_t st);
