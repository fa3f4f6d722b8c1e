/*
 * smem_poison.cu - gt_poison_shared_memory: fills every SM's shared memory with a seeded pattern (finite values or raw
 * bits), so that a kernel run after it which reads shared memory nothing wrote (its stale contents: the previous
 * kernel's) gives different results for different seeds. test_gpu_masks' map pass runs the same calls after different seeds and
 * compares them bitwise (the sm90 JVP's bias tiles left rows past Nq unwritten until the thirty-fifth session).
 */
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" int gt_poison_shared_memory(unsigned seed); /* gpu_test.h's declaration, for the C tests */

/* Each 32-bit word: a hash of (seed, CTA, word); for an even seed with bits 14 and 30 cleared, so that both of its
   16-bit halves are finite (|x| < 2) as bfloat16 and as float16 and the word is finite as a float32 (stale values
   that change results: a vote, a sum), for an odd seed as it comes (NaN and infinity patterns among them: stale
   values multiplied by an exact 0, 0 x NaN = NaN). */
__global__ void __launch_bounds__(1024) smem_poison_kernel(uint32_t seed, int words) {
  const uint32_t keep = seed & 1u ? ~0u : ~((1u << 14) | (1u << 30));
  extern __shared__ uint32_t sm[];
  volatile uint32_t *v = sm;
  for (int i = threadIdx.x; i < words; i += blockDim.x) {
    uint32_t x = seed ^ (uint32_t)(blockIdx.x * 0x9e3779b9u) ^ (uint32_t)i * 0x85ebca6bu;
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    v[i] = x & keep;
  }
}

extern "C" int gt_poison_shared_memory(unsigned seed) {
  int dev = 0, smem = 0, sms = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess)
    return 0;
  if (cudaFuncSetAttribute(smem_poison_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem) != cudaSuccess)
    return 0;
  /* one CTA of the whole shared memory per SM at a time; two waves, so that every SM takes one even where another
     kernel still holds some SMs when the first wave starts (best effort) */
  smem_poison_kernel<<<2 * sms, 1024, smem>>>(seed, smem / 4);
  return cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
}
