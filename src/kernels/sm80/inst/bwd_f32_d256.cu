/* bwd_f32_d256.cu - the sm80 float32 (TF32 / 3xTF32) backward at head dim 256 (tiles: sm80/tiles.h). */
#include "kernels/sm80/bwd_f32.cuh"

template jfa_status_t sm80_bwd_f32_d<256>(const BwdArgs &a, bool tf32, cudaStream_t st);
