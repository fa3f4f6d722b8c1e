/*
 * context.c - execution contexts (device, stream, flags, CPU threads) and
 * jfa_cuda_available. CUDA contexts are initialised and released by src/kernels.
 */
#include <stdlib.h>

#include "core/backend.h"
#include "core/check.h"

#define JFA_KNOWN_FLAGS (JFA_FLAG_DETERMINISTIC | JFA_FLAG_ALLOW_TF32)

jfa_status_t jfa_context_create(jfa_context_t **ctx, jfa_device_t device, int device_index) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx: the output pointer is NULL");
  if (device != JFA_DEVICE_CPU && device != JFA_DEVICE_CUDA)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "device: unknown device %d", (int)device);
  if (device == JFA_DEVICE_CUDA) {
    int count = jfa_cuda_device_count();
    if (count <= 0)
      JFA_FAIL(JFA_ERROR_UNSUPPORTED, "device: CUDA requested but this build or machine has no GPU");
    if (device_index < 0 || device_index >= count)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "device_index: %d is not a GPU (0..%d)", device_index, count - 1);
  }
  jfa_context_t *c = (jfa_context_t *)calloc(1, sizeof *c);
  if (!c) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "ctx: allocating the context failed");
  c->device = device;
  c->device_index = device == JFA_DEVICE_CUDA ? device_index : 0;
  if (device == JFA_DEVICE_CUDA) {
    jfa_status_t s = jfa_cuda_context_init(c);
    if (s != JFA_SUCCESS) {
      jfa_error_trace(__FILE__, __LINE__);
      free(c);
      return s;
    }
  }
  *ctx = c;
  return JFA_SUCCESS;
}

jfa_status_t jfa_context_destroy(jfa_context_t *ctx) {
  if (!ctx) return JFA_SUCCESS;
  if (ctx->device == JFA_DEVICE_CUDA) jfa_cuda_context_release(ctx);
  free(ctx);
  return JFA_SUCCESS;
}

jfa_status_t jfa_context_set_stream(jfa_context_t *ctx, void *cuda_stream) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (ctx->device != JFA_DEVICE_CUDA && cuda_stream)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "cuda_stream: a CPU context takes no CUDA stream (pass NULL)");
  ctx->stream = cuda_stream;
  return JFA_SUCCESS;
}

jfa_status_t jfa_context_get_stream(const jfa_context_t *ctx, void **cuda_stream) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (!cuda_stream) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "cuda_stream: the output pointer is NULL");
  *cuda_stream = ctx->stream;
  return JFA_SUCCESS;
}

jfa_status_t jfa_context_set_flags(jfa_context_t *ctx, unsigned flags) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (flags & ~(unsigned)JFA_KNOWN_FLAGS)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "flags: unknown bits 0x%x", flags & ~(unsigned)JFA_KNOWN_FLAGS);
  ctx->flags = flags;
  return JFA_SUCCESS;
}

jfa_status_t jfa_context_get_device(const jfa_context_t *ctx, jfa_device_t *device, int *device_index) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (!device) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "device: the output pointer is NULL");
  *device = ctx->device;
  if (device_index) *device_index = ctx->device_index;
  return JFA_SUCCESS;
}

jfa_status_t jfa_context_set_num_threads(jfa_context_t *ctx, int num_threads) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (num_threads < 0) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "num_threads: %d is negative", num_threads);
  if (num_threads > JFA_MAX_THREADS)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "num_threads: %d is above jfa's limit %d (OpenMP's runtime fails on "
             "counts far beyond that)", num_threads, JFA_MAX_THREADS);
  ctx->num_threads = num_threads;
  return JFA_SUCCESS;
}

jfa_status_t jfa_context_synchronize(jfa_context_t *ctx) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  if (ctx->device == JFA_DEVICE_CUDA) JFA_CHECK(jfa_cuda_synchronize(ctx));
  return JFA_SUCCESS;
}

int jfa_cuda_available(int *count) {
  int n = jfa_cuda_device_count();
  if (n < 0) n = 0;
  if (count) *count = n;
  return n > 0;
}
