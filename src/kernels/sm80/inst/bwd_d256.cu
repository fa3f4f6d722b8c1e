/* bwd_d256.cu - the sm80 backward at head dim 256, in two column slices (bf16, fp16; tiles: sm80/tiles.h). */
#include "kernels/sm80/bwd.cuh"

template jfa_status_t sm80_bwd_d<__nv_bfloat16, 256>(const BwdArgs &a, cudaStream_t st);
template jfa_status_t sm80_bwd_d<__half, 256>(const BwdArgs &a, cudaStream_t st);
