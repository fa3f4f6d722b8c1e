/*
 * comm_callbacks.c - a communicator whose transport is implemented by the caller
 * (jfa_comm_create_callbacks in jfa_ring.h): the Python binding uses it to run
 * the ring over any torch.distributed process group (gloo on the CPU, or CUDA
 * buffers staged by the callbacks). On CUDA the context's stream is
 * synchronised before each exchange starts, so the callbacks see complete data.
 * A callback that fails marks the communicator failed (comm.c's guard): later
 * calls fail at once. Timeouts are the callbacks' own business.
 */
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "core/abi.h"
#include "core/check.h"

/* The untagged layout of jfa 0.2 (the six fields that follow the tag and size now). */
typedef struct {
  void *user;
  void *fn[5];
} callbacks_v0_t;
_Static_assert(offsetof(jfa_comm_callbacks_t, user) == JFA_STRUCT_HEADER_BYTES &&
                   offsetof(jfa_comm_callbacks_t, destroy) - JFA_STRUCT_HEADER_BYTES == offsetof(callbacks_v0_t, fn[4]),
               "jfa 0.2 callbacks layout");
static const uint64_t callbacks_sizes[] = {0, JFA_LAYOUT_END(jfa_comm_callbacks_t, destroy)};
_Static_assert(JFA_LAYOUT_END(jfa_comm_callbacks_t, destroy) == sizeof(jfa_comm_callbacks_t),
               "a field was appended to jfa_comm_callbacks_t: add its layout version here and in jfa_ring.h");
static const jfa_struct_abi_t callbacks_abi = {"jfa_comm_callbacks_t", "callbacks", JFA_STRUCT_COMM_CALLBACKS,
                                               JFA_COMM_CALLBACKS_VERSION, callbacks_sizes, sizeof(callbacks_v0_t)};

jfa_status_t jfa_comm_callbacks_init_versioned(jfa_comm_callbacks_t *callbacks, uint64_t size, uint32_t version) {
  jfa_comm_callbacks_t d;
  memset(&d, 0, sizeof d);
  return jfa_abi_init(&callbacks_abi, callbacks, size, version, &d);
}

typedef struct {
  jfa_comm_callbacks_t cb;
} cb_impl_t;

#define CB_CALL(comm, what, call)                                                                     \
  do {                                                                                                \
    int rc_ = (call);                                                                                 \
    if (rc_ != 0)                                                                                     \
      JFA_FAIL(JFA_ERROR_INTERNAL, "communicator callback %s failed (returned %d) on rank %d", what, \
               rc_, (comm)->rank);                                                                    \
  } while (0)

static jfa_status_t cb_exchange_start(jfa_comm_t *comm, jfa_context_t *ctx, const jfa_comm_buf_t *bufs,
                                      int nbufs) {
  cb_impl_t *m = (cb_impl_t *)comm->impl;
  if (nbufs > JFA_COMM_MAX_BUFS) JFA_FAIL(JFA_ERROR_INTERNAL, "callback comm: %d buffers", nbufs);
  if (ctx->device == JFA_DEVICE_CUDA) JFA_CHECK(jfa_cuda_synchronize(ctx)); /* sends read finished data */
  const void *send[JFA_COMM_MAX_BUFS];
  void *recv[JFA_COMM_MAX_BUFS];
  size_t bytes[JFA_COMM_MAX_BUFS];
  for (int i = 0; i < nbufs; ++i) {
    send[i] = bufs[i].send;
    recv[i] = bufs[i].recv;
    bytes[i] = bufs[i].bytes;
  }
  CB_CALL(comm, "exchange_start", m->cb.exchange_start(m->cb.user, nbufs, send, recv, bytes));
  return JFA_SUCCESS;
}

static jfa_status_t cb_exchange_wait(jfa_comm_t *comm, jfa_context_t *ctx) {
  (void)ctx;
  cb_impl_t *m = (cb_impl_t *)comm->impl;
  CB_CALL(comm, "exchange_wait", m->cb.exchange_wait(m->cb.user));
  return JFA_SUCCESS;
}

static jfa_status_t cb_allreduce_minmax(jfa_comm_t *comm, const int64_t *in, int64_t *min_out, int64_t *max_out,
                                        int n) {
  cb_impl_t *m = (cb_impl_t *)comm->impl;
  CB_CALL(comm, "allreduce_minmax", m->cb.allreduce_minmax(m->cb.user, in, min_out, max_out, n));
  return JFA_SUCCESS;
}

static jfa_status_t cb_barrier(jfa_comm_t *comm) {
  cb_impl_t *m = (cb_impl_t *)comm->impl;
  CB_CALL(comm, "barrier", m->cb.barrier(m->cb.user));
  return JFA_SUCCESS;
}

static size_t cb_staging_bytes(const jfa_comm_t *comm) {
  (void)comm;
  return 0;
}

static void cb_destroy(jfa_comm_t *comm) {
  cb_impl_t *m = (cb_impl_t *)comm->impl;
  if (m && m->cb.destroy) m->cb.destroy(m->cb.user);
  free(m);
  free(comm);
}

static const jfa_comm_ops_t cb_ops = {.name = "callbacks",
                                      .exchange_start = cb_exchange_start,
                                      .exchange_wait = cb_exchange_wait,
                                      .allreduce_minmax = cb_allreduce_minmax,
                                      .barrier = cb_barrier,
                                      .staging_bytes = cb_staging_bytes,
                                      .destroy = cb_destroy};

jfa_status_t jfa_comm_create_callbacks(jfa_comm_t **comm, const jfa_comm_callbacks_t *callbacks, int rank,
                                       int size) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  *comm = NULL;
  if (!callbacks) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "callbacks is NULL");
  jfa_comm_callbacks_t cb; /* the caller's layout read into the current one */
  memset(&cb, 0, sizeof cb);
  JFA_CHECK(jfa_abi_read(&callbacks_abi, callbacks, &cb, sizeof cb));
  callbacks = &cb;
  if (!callbacks->exchange_start || !callbacks->exchange_wait || !callbacks->allreduce_minmax ||
      !callbacks->barrier)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "callbacks: exchange_start, exchange_wait, allreduce_minmax and barrier are required");
  if (size < 1) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "size: %d ranks, must be >= 1", size);
  if (rank < 0 || rank >= size) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "rank: %d is not in [0, %d)", rank, size);
  jfa_comm_t *c = (jfa_comm_t *)calloc(1, sizeof(*c));
  cb_impl_t *m = (cb_impl_t *)calloc(1, sizeof(*m));
  if (!c || !m) {
    free(c);
    free(m);
    JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "jfa_comm_create_callbacks: out of host memory");
  }
  jfa_status_t st = jfa_comm_init(c, &cb_ops);
  if (st != JFA_SUCCESS) {
    free(c);
    free(m);
    return st;
  }
  m->cb = *callbacks;
  c->impl = m;
  c->rank = rank;
  c->size = size;
  *comm = c;
  return JFA_SUCCESS;
}
