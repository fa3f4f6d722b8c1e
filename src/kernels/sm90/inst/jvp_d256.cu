/* jvp_d256.cu - the sm90 fused forward+JVP at head dim 256 (bf16, fp16; column split: sm90/tiles.h; sm_90a only). */
#include "kernels/sm90/fwd.cuh"

template jfa_status_t sm90_fwd_d<__nv_bfloat16, 256, true>(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st);
template jfa_status_t sm90_fwd_d<__half, 256, true>(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st);
template bool sm90_fwd_bias_fits_d<256, true>(void);
