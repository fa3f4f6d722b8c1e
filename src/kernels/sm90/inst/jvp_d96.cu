/* jvp_d96.cu - the sm90 fused forward+JVP at head dim 96 (bf16, fp16; tiles: sm90/tiles.h; sm_90a only). */
#include "kernels/sm90/fwd.cuh"

template jfa_status_t sm90_fwd_d<__nv_bfloat16, 96, true>(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st);
template jfa_status_t sm90_fwd_d<__half, 96, true>(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st);
template bool sm90_fwd_bias_fits_d<96, true>(void);
