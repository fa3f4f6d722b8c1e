/* fwd_f32_d32.cu - the sm90 float32 forward at head dim 32 (3xTF32 and TF32; fwd_f32.cuh; sm_90a only). */
#include "kernels/sm90/fwd_f32.cuh"

template jfa_status_t sm90_fwd_f32_d<32, false>(const FwdArgs &a, const Sm90Tensors &t, bool tf32, cudaStream_t st);
