/* bwd_d128.cu - the sm90 backward at head dim 128 (bf16, fp16; tiles: sm90/tiles.h; sm_90a only). */
#include "kernels/sm90/bwd.cuh"

template jfa_status_t sm90_bwd_d<__nv_bfloat16, 128>(const BwdArgs &a, const Sm90BwdTensors &t, cudaStream_t st);
template jfa_status_t sm90_bwd_d<__half, 128>(const BwdArgs &a, const Sm90BwdTensors &t, cudaStream_t st);
template bool sm90_bwd_bias_fits_d<128>(void);
