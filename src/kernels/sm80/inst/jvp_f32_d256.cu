/* jvp_f32_d256.cu - the sm80 float32 fused forward+JVP at head dim 256 (3xTF32 and TF32; tiles: sm80/tiles.h). */
#include "kernels/sm80/fwd_f32.cuh"

template jfa_status_t sm80_fwd_f32_d<256, true>(const FwdArgs &a, bool tf32, cudaStream_t st);
