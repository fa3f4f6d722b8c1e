/* fwd_f32_d96.cu - the sm80 float32 forward at head dim 96 (3xTF32 and TF32; tiles: sm80/tiles.h). */
#include "kernels/sm80/fwd_f32.cuh"

template jfa_status_t sm80_fwd_f32_d<96, false>(const FwdArgs &a, bool tf32, cudaStream_t st);
