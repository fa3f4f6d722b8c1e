/*
 * context.cu - CUDA context hooks of jfa: device checks at context creation, the
 * per-context workspace cache (grows only when a bigger problem arrives, so the
 * steady state allocates nothing), synchronisation and the device count.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/family.h"

/* JFA_KERNEL_PATH: "simt" (the simt family only), "sm80" (no sm90 family; "mma" is its old
   name and still accepted), else ("sm90", "auto", unset) every family. */
static int path_cap_from_env(void) {
  const char *e = getenv("JFA_KERNEL_PATH");
  if (e && strcmp(e, "simt") == 0) return PATH_SIMT;
  if (e && (strcmp(e, "sm80") == 0 || strcmp(e, "mma") == 0)) return PATH_SM80;
  return PATH_SM90;
}

/* JFA_SM90_BWD=0: the sm90 backward (sm90/bwd.cuh) declines every call (backend.cu), e.g. to compare it
   with sm80's on the same device; on otherwise. */
static int sm90_bwd_from_env(void) {
  const char *e = getenv("JFA_SM90_BWD");
  return !(e && strcmp(e, "0") == 0);
}

extern "C" int jfa_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError(); /* clear the sticky "no device" error */
    return 0;
  }
  return n;
}

extern "C" jfa_status_t jfa_cuda_context_init(jfa_context_t *ctx) {
  int n = jfa_cuda_device_count();
  if (n == 0) JFA_FAIL(JFA_ERROR_UNSUPPORTED, "no CUDA device is visible");
  if (ctx->device_index < 0 || ctx->device_index >= n)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "device_index %d is out of range (%d CUDA devices)", ctx->device_index,
             n);
  CudaState *st;
  JFA_CHECK(jfa_cuda_state(ctx, &st));
  return JFA_SUCCESS;
}

jfa_status_t jfa_cuda_state(jfa_context_t *ctx, CudaState **out) {
  if (!ctx->cuda_state) {
    CudaState *st = (CudaState *)calloc(1, sizeof(CudaState));
    if (!st) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "cannot allocate the CUDA context state");
    DeviceGuard g(ctx->device_index);
    cudaError_t e1 = cudaDeviceGetAttribute(&st->max_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                            ctx->device_index);
    cudaError_t e2 = cudaDeviceGetAttribute(&st->num_sms, cudaDevAttrMultiProcessorCount, ctx->device_index);
    cudaError_t e3 = cudaDeviceGetAttribute(&st->cc_major, cudaDevAttrComputeCapabilityMajor, ctx->device_index);
    cudaError_t e4 = cudaDeviceGetAttribute(&st->cc_minor, cudaDevAttrComputeCapabilityMinor, ctx->device_index);
    if (e1 != cudaSuccess || e2 != cudaSuccess || e3 != cudaSuccess || e4 != cudaSuccess) {
      free(st);
      JFA_CUDA_CHECK(e1 != cudaSuccess ? e1 : e2 != cudaSuccess ? e2 : e3 != cudaSuccess ? e3 : e4);
    }
    st->path_cap = path_cap_from_env();
    st->sm90_bwd = sm90_bwd_from_env();
#ifdef JFA_HAVE_SM90A
    st->sm90a_ok = st->cc_major == 9 && st->cc_minor == 0 && sm90_compiled();
#endif
    st->last_fwd_prec = st->last_bwd_prec = -1;
    st->last_fwd = st->last_bwd = st->last_bwd_jvp = -1;
    st->last_fwd_route = st->last_bwd_route = -1;
    ctx->cuda_state = st;
  }
  *out = (CudaState *)ctx->cuda_state;
  return JFA_SUCCESS;
}

jfa_status_t jfa_cuda_workspace(jfa_context_t *ctx, size_t bytes, void **ws) {
  CudaState *st;
  JFA_CHECK(jfa_cuda_state(ctx, &st));
  if (bytes == 0) bytes = 256;
  if (st->ws_size < bytes) {
    /* Growing synchronises and allocates, which a CUDA graph capture forbids: say so. */
    cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    JFA_CUDA_CHECK(cudaStreamIsCapturing(ctx_stream(ctx), &cap));
    if (cap != cudaStreamCaptureStatusNone)
      JFA_FAIL(JFA_ERROR_CUDA,
               "the workspace must grow to %zu bytes during a CUDA graph capture: run the same call once "
               "before capturing",
               bytes);
    /* The old buffer may still be in use by queued work on the stream. */
    if (st->ws) {
      JFA_CUDA_CHECK(cudaStreamSynchronize(ctx_stream(ctx)));
      JFA_CUDA_CHECK(cudaFree(st->ws));
      st->ws = nullptr;
      st->ws_size = 0;
    }
    size_t sz = align_up(bytes + bytes / 4, 1 << 20);
    cudaError_t e = cudaMalloc(&st->ws, sz);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes of CUDA workspace", sz);
    }
    JFA_CUDA_CHECK(e);
    st->ws_size = sz;
  }
  *ws = st->ws;
  return JFA_SUCCESS;
}

extern "C" void jfa_cuda_context_release(jfa_context_t *ctx) {
  if (!ctx || !ctx->cuda_state) return;
  CudaState *st = (CudaState *)ctx->cuda_state;
  if (st->ws) {
    DeviceGuard g(ctx->device_index);
    cudaStreamSynchronize(ctx_stream(ctx));
    cudaFree(st->ws);
  }
  free(st);
  ctx->cuda_state = nullptr;
}

extern "C" jfa_status_t jfa_cuda_synchronize(jfa_context_t *ctx) {
  DeviceGuard g(ctx->device_index);
  JFA_CUDA_CHECK(cudaStreamSynchronize(ctx_stream(ctx)));
  return JFA_SUCCESS;
}

extern "C" int jfa_cuda_last_kernel(jfa_context_t *ctx, int backward) {
  if (!ctx || !ctx->cuda_state) return -1;
  const CudaState *st = (const CudaState *)ctx->cuda_state;
  return backward == 2 ? st->last_bwd_jvp : backward ? st->last_bwd : st->last_fwd;
}

extern "C" int jfa_cuda_last_route(jfa_context_t *ctx) {
  if (!ctx || !ctx->cuda_state) return -1;
  return ((const CudaState *)ctx->cuda_state)->last_fwd_route;
}

extern "C" int jfa_cuda_last_bwd_route(jfa_context_t *ctx) {
  if (!ctx || !ctx->cuda_state) return -1;
  return ((const CudaState *)ctx->cuda_state)->last_bwd_route;
}

extern "C" int jfa_cuda_last_precision(jfa_context_t *ctx, int backward) {
  if (!ctx || !ctx->cuda_state) return -1;
  const CudaState *st = (const CudaState *)ctx->cuda_state;
  return backward ? st->last_bwd_prec : st->last_fwd_prec;
}
