/* fwd_d192.cu - the sm90 forward at head dim 192 (bf16, fp16; tiles: sm90/tiles.h; sm_90a only). */
#include "kernels/sm90/fwd.cuh"

template jfa_status_t sm90_fwd_d<__nv_bfloat16, 192, false>(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st);
template jfa_status_t sm90_fwd_d<__half, 192, false>(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st);
template bool sm90_probe_d<192>(void);
template bool sm90_fwd_bias_fits_d<192, false>(void);
