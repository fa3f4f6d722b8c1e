/*
 * ring_mem.c - the ring's memory on the context's device (host malloc on the
 * CPU, cudaMalloc on CUDA) and switching to the context's GPU.
 */
#include <stdlib.h>

#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "core/check.h"
#include "ring/ring_internal.h"

jfa_status_t jfa_ring_alloc(const jfa_context_t *ctx, size_t bytes, void **ptr) {
  *ptr = NULL;
  if (bytes == 0) bytes = 64;
  if (ctx->device == JFA_DEVICE_CPU) {
    size_t rounded = (bytes + 63) / 64 * 64;
    *ptr = aligned_alloc(64, rounded);
    if (!*ptr) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "ring: cannot allocate %zu bytes of host memory", bytes);
    return JFA_SUCCESS;
  }
#ifdef JFA_HAVE_CUDA
  cudaError_t e = cudaMalloc(ptr, bytes);
  if (e != cudaSuccess) {
    *ptr = NULL;
    cudaGetLastError();
    JFA_FAIL(e == cudaErrorMemoryAllocation ? JFA_ERROR_OUT_OF_MEMORY : JFA_ERROR_CUDA,
             "ring: cudaMalloc(%zu) failed: %s", bytes, cudaGetErrorString(e));
  }
  return JFA_SUCCESS;
#else
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "ring: CUDA memory in a build without CUDA");
#endif
}

void jfa_ring_free(const jfa_context_t *ctx, void *ptr) {
  if (!ptr) return;
  if (ctx->device == JFA_DEVICE_CPU) {
    free(ptr);
    return;
  }
#ifdef JFA_HAVE_CUDA
  cudaFree(ptr);
#endif
}

jfa_status_t jfa_ring_device_enter(const jfa_context_t *ctx, int *prev) {
  *prev = -1;
  if (ctx->device == JFA_DEVICE_CPU) return JFA_SUCCESS;
#ifdef JFA_HAVE_CUDA
  JFA_CUDA_CHECK(cudaGetDevice(prev));
  if (*prev != ctx->device_index) JFA_CUDA_CHECK(cudaSetDevice(ctx->device_index));
  return JFA_SUCCESS;
#else
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "ring: CUDA context in a build without CUDA");
#endif
}

void jfa_ring_device_exit(const jfa_context_t *ctx, int prev) {
#ifdef JFA_HAVE_CUDA
  if (ctx->device != JFA_DEVICE_CPU && prev >= 0 && prev != ctx->device_index) cudaSetDevice(prev);
#else
  (void)ctx;
  (void)prev;
#endif
}
