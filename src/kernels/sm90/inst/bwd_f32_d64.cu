/* bwd_f32_d64.cu - the sm90 float32 backward at head dim 64 (3xTF32 and TF32; bwd_f32.cuh; sm_90a only). */
#include "kernels/sm90/bwd_f32.cuh"

template jfa_status_t sm90_bwd_f32_d<64>(const BwdArgs &a, const Sm90BwdTensors &t, bool tf32, cudaStream_t st);
