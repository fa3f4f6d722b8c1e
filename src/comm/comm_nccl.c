/*
 * comm_nccl.c - the NCCL communicator (CUDA buffers only): the ring exchange is
 * one ncclGroupStart / ncclSend+ncclRecv per buffer / ncclGroupEnd on a
 * communication stream. The start makes that stream wait (CUDA event) for the
 * work already queued on the context's stream; the wait makes the context's
 * stream wait for the transfers. So a block's transfer runs while the compute
 * queued after the start runs (double buffering), with no host synchronisation.
 * The min/max allreduce runs ncclAllReduce on a small device buffer.
 *
 * Faults: no wait is unbounded where NCCL allows it. Communicators jfa creates
 * are non-blocking (ncclConfig_t.blocking = 0, NCCL >= 2.14): their creation,
 * each group of operations and their finalisation are polled with
 * ncclCommGetAsyncError until done, an error or comm->timeout. The allreduce and
 * the ring's end-of-call synchronisation (wait_stream) poll cudaStreamQuery and
 * ncclCommGetAsyncError instead of cudaStreamSynchronize. On a timeout or an
 * asynchronous error an owned NCCL communicator is aborted (ncclCommAbort, which
 * also ends its kernels) and the jfa communicator is marked failed; a caller's
 * NCCL communicator is not aborted (the caller must, before destroying it).
 * A caller's blocking communicator can still block inside ncclGroupEnd.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>
#include <nccl.h>
#ifdef JFA_HAVE_MPI
#include <mpi.h>
#endif

#include "comm/comm.h"
#include "core/check.h"

#if NCCL_VERSION_CODE >= NCCL_VERSION(2, 14, 0)
#define JFA_NCCL_NONBLOCKING 1 /* ncclConfig_t, ncclCommInitRankConfig, ncclCommFinalize */
#endif

typedef struct {
  ncclComm_t nccl;
  int owned;
  int aborted;        /* ncclCommAbort was called: nccl is gone */
  cudaStream_t stream;
  cudaEvent_t ev_ready, ev_done;
  int64_t *d_scratch; /* 2 * JFA_COMM_MAX_REDUCE int64 */
  int64_t *h_scratch; /* pinned, 4 * JFA_COMM_MAX_REDUCE int64: allreduce in (min, max), out (min, max) */
} nccl_impl_t;

/* Runs the body with the comm's device current, restoring the caller's. */
static jfa_status_t set_device(int device, int *prev) {
  JFA_CUDA_CHECK(cudaGetDevice(prev));
  if (*prev != device) JFA_CUDA_CHECK(cudaSetDevice(device));
  return JFA_SUCCESS;
}

/* Aborts an owned NCCL communicator (ends its kernels, never waits on other ranks). */
static void abort_owned(nccl_impl_t *m) {
  if (m->owned && m->nccl && !m->aborted) {
    ncclCommAbort(m->nccl);
    m->aborted = 1;
    m->nccl = NULL;
  }
}

static const char *abort_note(const nccl_impl_t *m) {
  return m->owned ? "the NCCL communicator was aborted"
                  : "abort the caller's NCCL communicator (ncclCommAbort) before destroying it";
}

/* Polls ncclCommGetAsyncError until nc is no longer ncclInProgress (after a call of a
   non-blocking communicator returned ncclInProgress), within timeout seconds. */
static jfa_status_t settle(ncclComm_t nc, double timeout, int rank, const char *what) {
  jfa_comm_wait_t w;
  jfa_comm_wait_begin(&w, timeout);
  for (;;) {
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(nc, &state);
    if (r != ncclSuccess) state = r;
    if (state == ncclSuccess) return JFA_SUCCESS;
    if (state != ncclInProgress) {
      const char *detail = ncclGetLastError(nc);
      JFA_FAIL(JFA_ERROR_NCCL, "rank %d: %s failed: %s (%s)", rank, what, ncclGetErrorString(state),
               detail ? detail : "");
    }
    if (!jfa_comm_wait_poll(&w))
      JFA_FAIL(JFA_ERROR_NCCL,
               "rank %d: %s did not complete in %g s: a rank failed, stopped or exited (timeout: "
               "jfa_comm_set_timeout or JFA_COMM_TIMEOUT)",
               rank, what, timeout);
  }
}

/* settle on the comm's NCCL communicator; on a failure the owned one is aborted. */
static jfa_status_t settle_comm(jfa_comm_t *comm, const char *what) {
  nccl_impl_t *m = (nccl_impl_t *)comm->impl;
  jfa_status_t st = settle(m->nccl, comm->timeout, comm->rank, what);
  if (st != JFA_SUCCESS) abort_owned(m);
  return st;
}

/* Polls the stream until its work is done, failing on an NCCL asynchronous error or after
   comm's timeout (then the owned NCCL communicator is aborted). */
static jfa_status_t poll_stream(jfa_comm_t *comm, cudaStream_t stream, const char *what) {
  nccl_impl_t *m = (nccl_impl_t *)comm->impl;
  jfa_comm_wait_t w;
  jfa_comm_wait_begin(&w, comm->timeout);
  for (;;) {
    cudaError_t ce = cudaStreamQuery(stream);
    if (ce == cudaSuccess) return JFA_SUCCESS;
    if (ce != cudaErrorNotReady) {
      abort_owned(m);
      JFA_FAIL(JFA_ERROR_CUDA, "rank %d: %s: cudaStreamQuery failed: %s (%s)", comm->rank, what,
               cudaGetErrorString(ce), cudaGetErrorName(ce));
    }
    (void)cudaGetLastError(); /* not ready: no error, not left for a later launch check */
    ncclResult_t state = ncclSuccess;
    ncclResult_t r = ncclCommGetAsyncError(m->nccl, &state);
    if (r != ncclSuccess) state = r;
    if (state != ncclSuccess && state != ncclInProgress) {
      const char *detail = ncclGetLastError(m->nccl);
      char msg[256];
      snprintf(msg, sizeof msg, "%s", detail ? detail : "");
      abort_owned(m);
      JFA_FAIL(JFA_ERROR_NCCL, "rank %d: %s: NCCL asynchronous error: %s (%s); %s", comm->rank, what,
               ncclGetErrorString(state), msg, abort_note(m));
    }
    if (!jfa_comm_wait_poll(&w)) {
      abort_owned(m);
      int next = (comm->rank + 1) % comm->size, prev = (comm->rank - 1 + comm->size) % comm->size;
      JFA_FAIL(JFA_ERROR_NCCL,
               "rank %d: %s (NCCL; ring neighbours %d and %d) did not complete in %g s: a rank failed, "
               "stopped or exited (timeout: jfa_comm_set_timeout or JFA_COMM_TIMEOUT); %s",
               comm->rank, what, prev, next, comm->timeout, abort_note(m));
    }
  }
}

static jfa_status_t nccl_exchange_start(jfa_comm_t *comm, jfa_context_t *ctx,
                                        const jfa_comm_buf_t *bufs, int nbufs) {
  nccl_impl_t *m = (nccl_impl_t *)comm->impl;
  if (ctx->device != JFA_DEVICE_CUDA)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "NCCL comm: the context must be a CUDA context");
  int next = (comm->rank + 1) % comm->size, prev = (comm->rank - 1 + comm->size) % comm->size;
  JFA_CUDA_CHECK(cudaEventRecord(m->ev_ready, (cudaStream_t)ctx->stream));
  JFA_CUDA_CHECK(cudaStreamWaitEvent(m->stream, m->ev_ready, 0));
  JFA_NCCL_CHECK(ncclGroupStart());
  for (int i = 0; i < nbufs; ++i) {
    if (bufs[i].bytes == 0) continue;
    ncclResult_t r = ncclSend(bufs[i].send, bufs[i].bytes, ncclChar, next, m->nccl, m->stream);
    if (r == ncclSuccess || r == ncclInProgress)
      r = ncclRecv(bufs[i].recv, bufs[i].bytes, ncclChar, prev, m->nccl, m->stream);
    if (r != ncclSuccess && r != ncclInProgress) {
      ncclGroupEnd();
      abort_owned(m);
      JFA_FAIL(JFA_ERROR_NCCL, "rank %d: ncclSend/ncclRecv failed: %s", comm->rank, ncclGetErrorString(r));
    }
  }
  ncclResult_t r = ncclGroupEnd();
  if (r != ncclSuccess && r != ncclInProgress) {
    abort_owned(m);
    JFA_FAIL(JFA_ERROR_NCCL, "rank %d: ncclGroupEnd of the ring exchange failed: %s", comm->rank,
             ncclGetErrorString(r));
  }
  if (r == ncclInProgress) JFA_CHECK(settle_comm(comm, "the ring exchange (NCCL group)"));
  return JFA_SUCCESS;
}

static jfa_status_t nccl_exchange_wait(jfa_comm_t *comm, jfa_context_t *ctx) {
  nccl_impl_t *m = (nccl_impl_t *)comm->impl;
  JFA_CUDA_CHECK(cudaEventRecord(m->ev_done, m->stream));
  JFA_CUDA_CHECK(cudaStreamWaitEvent((cudaStream_t)ctx->stream, m->ev_done, 0));
  return JFA_SUCCESS;
}

static jfa_status_t nccl_allreduce_minmax(jfa_comm_t *comm, const int64_t *in, int64_t *min_out,
                                          int64_t *max_out, int n) {
  nccl_impl_t *m = (nccl_impl_t *)comm->impl;
  if (n > JFA_COMM_MAX_REDUCE) JFA_FAIL(JFA_ERROR_INTERNAL, "NCCL comm: allreduce of %d values", n);
  if (!m->nccl) JFA_FAIL(JFA_ERROR_NCCL, "rank %d: the NCCL communicator was aborted", comm->rank);
  int prev;
  JFA_CHECK(set_device(comm->device_index, &prev));
  size_t bytes = (size_t)n * sizeof(int64_t);
  jfa_status_t st = JFA_SUCCESS;
  /* pinned host buffers: copies to pageable memory would block the host until the stream
     reaches them, i.e. until the allreduce completes, past any timeout */
  int64_t *h_in = m->h_scratch, *h_out = m->h_scratch + 2 * JFA_COMM_MAX_REDUCE;
  memcpy(h_in, in, bytes);
  memcpy(h_in + n, in, bytes);
  cudaError_t ce = cudaMemcpyAsync(m->d_scratch, h_in, 2 * bytes, cudaMemcpyHostToDevice, m->stream);
  if (ce != cudaSuccess) {
    st = jfa_set_error(JFA_ERROR_CUDA, __FILE__, __LINE__, "cudaMemcpyAsync failed: %s",
                       cudaGetErrorString(ce));
  } else {
    ncclResult_t r = ncclGroupStart();
    if (r == ncclSuccess || r == ncclInProgress)
      r = ncclAllReduce(m->d_scratch, m->d_scratch, (size_t)n, ncclInt64, ncclMin, m->nccl, m->stream);
    if (r == ncclSuccess || r == ncclInProgress)
      r = ncclAllReduce(m->d_scratch + n, m->d_scratch + n, (size_t)n, ncclInt64, ncclMax, m->nccl,
                        m->stream);
    if (r == ncclInProgress) r = ncclSuccess;
    ncclResult_t r2 = ncclGroupEnd();
    if (r == ncclSuccess) r = r2;
    if (r == ncclInProgress) {
      st = settle_comm(comm, "the allreduce (NCCL group)");
    } else if (r != ncclSuccess) {
      abort_owned(m);
      st = jfa_set_error(JFA_ERROR_NCCL, __FILE__, __LINE__, "rank %d: ncclAllReduce failed: %s", comm->rank,
                         ncclGetErrorString(r));
    }
    if (st == JFA_SUCCESS) {
      ce = cudaMemcpyAsync(h_out, m->d_scratch, 2 * bytes, cudaMemcpyDeviceToHost, m->stream);
      if (ce != cudaSuccess)
        st = jfa_set_error(JFA_ERROR_CUDA, __FILE__, __LINE__, "NCCL allreduce copy failed: %s",
                           cudaGetErrorString(ce));
      else
        st = poll_stream(comm, m->stream, "the allreduce");
    }
    if (st == JFA_SUCCESS) {
      memcpy(min_out, h_out, bytes);
      memcpy(max_out, h_out + n, bytes);
    }
  }
  if (prev != comm->device_index) cudaSetDevice(prev);
  return st;
}

static jfa_status_t nccl_barrier(jfa_comm_t *comm) {
  int64_t x = 0, lo, hi;
  JFA_CHECK(nccl_allreduce_minmax(comm, &x, &lo, &hi, 1));
  return JFA_SUCCESS;
}

static size_t nccl_staging_bytes(const jfa_comm_t *comm) {
  (void)comm;
  return 0;
}

static jfa_status_t nccl_wait_stream(jfa_comm_t *comm, jfa_context_t *ctx) {
  if (ctx->device != JFA_DEVICE_CUDA) return JFA_SUCCESS;
  JFA_CHECK(poll_stream(comm, (cudaStream_t)ctx->stream, "the ring's transfers and compute"));
  return JFA_SUCCESS;
}

/* Finalises (non-blocking, polled within the timeout) and destroys an owned NCCL communicator;
   aborts it instead when it failed or finalising does not complete. */
static void release_nccl(jfa_comm_t *comm, nccl_impl_t *m) {
  if (!m->owned || !m->nccl || m->aborted) return;
  if (comm->failed) {
    abort_owned(m);
    return;
  }
#ifdef JFA_NCCL_NONBLOCKING
  ncclResult_t r = ncclCommFinalize(m->nccl);
  if (r == ncclInProgress && settle(m->nccl, comm->timeout, comm->rank, "ncclCommFinalize") != JFA_SUCCESS)
    r = ncclInternalError;
  if (r != ncclSuccess && r != ncclInProgress) {
    abort_owned(m);
    return;
  }
#endif
  ncclCommDestroy(m->nccl);
  m->nccl = NULL;
}

static void nccl_destroy(jfa_comm_t *comm) {
  nccl_impl_t *m = (nccl_impl_t *)comm->impl;
  if (m) {
    int prev = 0;
    cudaGetDevice(&prev);
    cudaSetDevice(comm->device_index);
    /* transfers still queued (a call that failed on this rank only) must end within the
       timeout, else the comm is failed and an owned NCCL communicator aborted (poll_stream).
       A failed comm whose NCCL communicator is the caller's (not aborted by jfa) may have
       kernels that never end: no synchronisation then, and the scratch buffers are leaked
       (cudaFree and cudaFreeHost would synchronise the device). */
    if (m->stream && m->nccl && !comm->failed && poll_stream(comm, m->stream, "jfa_comm_destroy") != JFA_SUCCESS)
      comm->failed = 1;
    int stuck = comm->failed && !m->aborted;
    release_nccl(comm, m);
    if (m->d_scratch && !stuck) cudaFree(m->d_scratch);
    if (m->h_scratch && !stuck) cudaFreeHost(m->h_scratch);
    if (m->ev_ready) cudaEventDestroy(m->ev_ready);
    if (m->ev_done) cudaEventDestroy(m->ev_done);
    if (m->stream) cudaStreamDestroy(m->stream);
    cudaSetDevice(prev);
    free(m);
  }
  free(comm);
}

static const jfa_comm_ops_t nccl_ops = {.name = "nccl",
                                        .exchange_start = nccl_exchange_start,
                                        .exchange_wait = nccl_exchange_wait,
                                        .allreduce_minmax = nccl_allreduce_minmax,
                                        .barrier = nccl_barrier,
                                        .staging_bytes = nccl_staging_bytes,
                                        .destroy = nccl_destroy,
                                        .wait_stream = nccl_wait_stream};

/* Wraps an ncclComm_t (owned or not) into a jfa_comm_t. */
static jfa_status_t wrap(jfa_comm_t **comm, ncclComm_t nccl, int owned, int device_index) {
  jfa_comm_t *c = (jfa_comm_t *)calloc(1, sizeof(*c));
  nccl_impl_t *m = (nccl_impl_t *)calloc(1, sizeof(*m));
  if (!c || !m) {
    free(c);
    free(m);
    JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "NCCL comm: out of host memory");
  }
  c->impl = m;
  int prev = 0;
  jfa_status_t st = jfa_comm_init(c, &nccl_ops); /* reads JFA_COMM_TIMEOUT */
  c->device_index = device_index; /* the GPU of the comm's stream, events and transfers */
  if (st == JFA_SUCCESS) st = set_device(device_index, &prev);
  if (st != JFA_SUCCESS) {
    free(c);
    free(m);
    return st;
  }
  cudaError_t ce = cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking);
  if (ce == cudaSuccess) ce = cudaEventCreateWithFlags(&m->ev_ready, cudaEventDisableTiming);
  if (ce == cudaSuccess) ce = cudaEventCreateWithFlags(&m->ev_done, cudaEventDisableTiming);
  if (ce == cudaSuccess) ce = cudaMalloc((void **)&m->d_scratch, 2 * JFA_COMM_MAX_REDUCE * sizeof(int64_t));
  if (ce == cudaSuccess) ce = cudaMallocHost((void **)&m->h_scratch, 4 * JFA_COMM_MAX_REDUCE * sizeof(int64_t));
  cudaSetDevice(prev);
  if (ce != cudaSuccess) {
    m->owned = 0;
    nccl_destroy(c);
    JFA_FAIL(JFA_ERROR_CUDA, "NCCL comm setup failed: %s", cudaGetErrorString(ce));
  }
  int rank = 0, size = 0;
  ncclResult_t r = ncclCommUserRank(nccl, &rank);
  if (r == ncclSuccess) r = ncclCommCount(nccl, &size);
  if (r != ncclSuccess) {
    m->owned = 0;
    nccl_destroy(c);
    JFA_FAIL(JFA_ERROR_NCCL, "ncclCommUserRank/ncclCommCount failed: %s", ncclGetErrorString(r));
  }
  m->nccl = nccl;
  m->owned = owned;
  c->rank = rank;
  c->size = size;
  *comm = c;
  return JFA_SUCCESS;
}

jfa_status_t jfa_comm_create_nccl(jfa_comm_t **comm, void *nccl_comm, int device_index) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  *comm = NULL;
  if (!nccl_comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "nccl_comm is NULL");
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || device_index < 0 || device_index >= count)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "device_index %d: not a visible GPU (%d visible)",
             device_index, count);
  return wrap(comm, (ncclComm_t)nccl_comm, 0, device_index);
}

jfa_status_t jfa_comm_nccl_unique_id(void *id, size_t bytes) {
  if (!id) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "id is NULL");
  if (bytes != sizeof(ncclUniqueId))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "bytes: %zu, an NCCL unique id has %zu", bytes, sizeof(ncclUniqueId));
  ncclUniqueId u;
  JFA_NCCL_CHECK(ncclGetUniqueId(&u));
  memcpy(id, &u, sizeof u);
  return JFA_SUCCESS;
}

/* Creates an NCCL communicator on device_index (made current for the call), wrapped and owned:
   non-blocking (NCCL >= 2.14), its initialisation polled within JFA_COMM_TIMEOUT, so a rank
   that never joins makes the others fail instead of hanging. */
static jfa_status_t init_from_id(jfa_comm_t **comm, const ncclUniqueId *id, int rank, int size, int device_index) {
  double timeout = 0;
  JFA_CHECK(jfa_comm_env_timeout(&timeout));
  int prev = 0;
  JFA_CHECK(set_device(device_index, &prev));
  ncclComm_t nc = NULL;
#ifdef JFA_NCCL_NONBLOCKING
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclResult_t r = ncclCommInitRankConfig(&nc, size, *id, rank, &config);
  if (r == ncclInProgress || r == ncclSuccess) {
    jfa_status_t st = nc ? settle(nc, timeout, rank, "ncclCommInitRankConfig") : JFA_SUCCESS;
    if (st != JFA_SUCCESS) {
      ncclCommAbort(nc);
      cudaSetDevice(prev);
      JFA_CHECK(st);
    }
    r = ncclSuccess;
  }
  const char *call = "ncclCommInitRankConfig";
#else
  ncclResult_t r = ncclCommInitRank(&nc, size, *id, rank);
  const char *call = "ncclCommInitRank";
#endif
  if (r != ncclSuccess || !nc) {
    if (nc) ncclCommAbort(nc);
    cudaSetDevice(prev);
    JFA_FAIL(JFA_ERROR_NCCL, "%s (rank %d of %d, GPU %d) failed: %s", call, rank, size, device_index,
             ncclGetErrorString(r));
  }
  jfa_status_t st = wrap(comm, nc, 1, device_index);
  if (st != JFA_SUCCESS) ncclCommAbort(nc); /* never waits on the other ranks */
  cudaSetDevice(prev);
  return st;
}

jfa_status_t jfa_comm_create_nccl_from_id(jfa_comm_t **comm, const void *id, size_t bytes, int rank, int size,
                                          int device_index) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  *comm = NULL;
  if (!id) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "id is NULL");
  if (bytes != sizeof(ncclUniqueId))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "bytes: %zu, an NCCL unique id has %zu", bytes, sizeof(ncclUniqueId));
  if (size < 1) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "size: %d ranks, must be >= 1", size);
  if (rank < 0 || rank >= size) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "rank: %d is not in [0, %d)", rank, size);
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || device_index < 0 || device_index >= count) {
    (void)cudaGetLastError();
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "device_index %d: not a visible GPU (%d visible)", device_index, count);
  }
  ncclUniqueId u;
  memcpy(&u, id, sizeof u);
  return init_from_id(comm, &u, rank, size, device_index);
}

#ifdef JFA_HAVE_MPI
jfa_status_t jfa_comm_create_nccl_from_mpi(jfa_comm_t **comm, const void *mpi_comm,
                                           int *device_index) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  *comm = NULL;
  if (!mpi_comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "mpi_comm is NULL (pass a pointer to an MPI_Comm)");
  JFA_CHECK(jfa_comm_mpi_usable("mpi_comm"));
  MPI_Comm mc = *(const MPI_Comm *)mpi_comm;
  int rank, size, local_rank;
  MPI_Comm local;
  JFA_MPI_CHECK(MPI_Comm_rank(mc, &rank));
  JFA_MPI_CHECK(MPI_Comm_size(mc, &size));
  JFA_MPI_CHECK(MPI_Comm_split_type(mc, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local));
  int err = MPI_Comm_rank(local, &local_rank);
  MPI_Comm_free(&local);
  if (err != MPI_SUCCESS) JFA_FAIL(JFA_ERROR_MPI, "MPI_Comm_rank of the node communicator failed");
  int count = 0;
  cudaError_t ce = cudaGetDeviceCount(&count);
  /* every rank learns whether all have a GPU, so none waits in the broadcast alone */
  int ok = (ce == cudaSuccess && count > 0), all_ok = 0;
  JFA_MPI_CHECK(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, mc));
  if (!all_ok) JFA_FAIL(JFA_ERROR_CUDA, "jfa_comm_create_nccl_from_mpi: a rank sees no GPU");
  int dev = local_rank % count;
  int prev = 0;
  JFA_CHECK(set_device(dev, &prev));
  ncclUniqueId id;
  memset(&id, 0, sizeof(id));
  ncclResult_t r = ncclSuccess;
  if (rank == 0) r = ncclGetUniqueId(&id);
  int got = (r == ncclSuccess), all_got = 0;
  JFA_MPI_CHECK(MPI_Allreduce(&got, &all_got, 1, MPI_INT, MPI_MIN, mc));
  if (!all_got) JFA_FAIL(JFA_ERROR_NCCL, "ncclGetUniqueId failed on rank 0");
  JFA_MPI_CHECK(MPI_Bcast(&id, (int)sizeof(id), MPI_BYTE, 0, mc));
  jfa_status_t st = init_from_id(comm, &id, rank, size, dev);
  cudaSetDevice(prev);
  if (st == JFA_SUCCESS && device_index) *device_index = dev;
  return st;
}
#endif
