/* fwd_d160.cu - the sm80 forward at head dim 160 (bf16, fp16; tiles: sm80/tiles.h). */
#include "kernels/sm80/fwd.cuh"

template jfa_status_t sm80_fwd_d<__nv_bfloat16, 160, false>(const FwdArgs &a, cudaStream_t st);
template jfa_status_t sm80_fwd_d<__half, 160, false>(const FwdArgs &a, cudaStream_t st);
