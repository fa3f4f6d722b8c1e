/*
 * comm_single.c - the communicator of one rank: the "ring" exchange sends a
 * rank's buffers to itself (a copy), reductions are the identity.
 */
#include <stdlib.h>
#include <string.h>

#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "comm/comm.h"
#include "core/check.h"

static jfa_status_t single_exchange_start(jfa_comm_t *comm, jfa_context_t *ctx,
                                          const jfa_comm_buf_t *bufs, int nbufs) {
  (void)comm;
  for (int i = 0; i < nbufs; ++i) {
    if (bufs[i].bytes == 0 || bufs[i].send == bufs[i].recv) continue;
    if (ctx->device == JFA_DEVICE_CPU) {
      memmove(bufs[i].recv, bufs[i].send, bufs[i].bytes);
    } else {
#ifdef JFA_HAVE_CUDA
      JFA_CUDA_CHECK(cudaMemcpyAsync(bufs[i].recv, bufs[i].send, bufs[i].bytes,
                                     cudaMemcpyDeviceToDevice, (cudaStream_t)ctx->stream));
#else
      JFA_FAIL(JFA_ERROR_UNSUPPORTED, "single comm: CUDA buffers in a build without CUDA");
#endif
    }
  }
  return JFA_SUCCESS;
}

static jfa_status_t single_exchange_wait(jfa_comm_t *comm, jfa_context_t *ctx) {
  (void)comm;
  (void)ctx;
  return JFA_SUCCESS;
}

static jfa_status_t single_allreduce_minmax(jfa_comm_t *comm, const int64_t *in, int64_t *min_out,
                                            int64_t *max_out, int n) {
  (void)comm;
  for (int i = 0; i < n; ++i) min_out[i] = max_out[i] = in[i];
  return JFA_SUCCESS;
}

static jfa_status_t single_barrier(jfa_comm_t *comm) {
  (void)comm;
  return JFA_SUCCESS;
}

static size_t single_staging_bytes(const jfa_comm_t *comm) {
  (void)comm;
  return 0;
}

static void single_destroy(jfa_comm_t *comm) { free(comm); }

static const jfa_comm_ops_t single_ops = {.name = "single",
                                          .exchange_start = single_exchange_start,
                                          .exchange_wait = single_exchange_wait,
                                          .allreduce_minmax = single_allreduce_minmax,
                                          .barrier = single_barrier,
                                          .staging_bytes = single_staging_bytes,
                                          .destroy = single_destroy};

jfa_status_t jfa_comm_create_single(jfa_comm_t **comm) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  *comm = NULL;
  jfa_comm_t *c = (jfa_comm_t *)calloc(1, sizeof(*c));
  if (!c) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "jfa_comm_create_single: out of host memory");
  jfa_status_t st = jfa_comm_init(c, &single_ops);
  if (st != JFA_SUCCESS) {
    free(c);
    return st;
  }
  c->rank = 0;
  c->size = 1;
  *comm = c;
  return JFA_SUCCESS;
}
