/*
 * comm_mpi.c - the MPI communicator: ring neighbour exchange with MPI_Isend /
 * MPI_Irecv (messages over 1 GiB are split), min/max allreduce and barrier on a
 * duplicate of the caller's communicator (errors return, never abort).
 *
 * CUDA buffers: with JFA_MPI_CUDA_AWARE=1 (a CUDA-aware MPI) device pointers go
 * to MPI directly; otherwise they are staged through pinned host buffers: the
 * start copies the send buffers device->host on a communication stream (after
 * the work already queued on the context's stream) and posts the messages; the
 * wait completes them and copies host->device on the communication stream, and
 * the context's stream waits on that with an event.
 *
 * Faults: no call blocks without bound. The exchange is waited on with
 * MPI_Testall, the allreduce is MPI_Iallreduce and the barrier MPI_Ibarrier,
 * polled with short sleeps until comm->timeout (jfa_comm_set_timeout). On a
 * timeout the call returns JFA_ERROR_MPI naming the ranks waited on; the
 * exchange's requests are cancelled and freed at once (so the ring may free its
 * buffers), a timed-out collective's requests and buffers are left to MPI (they
 * cannot be cancelled), and destroy skips MPI_Comm_free (collective, so it could
 * wait on the failed rank): the duplicate communicator is leaked.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "comm/comm.h"
#include "core/check.h"

#define MPI_CHUNK ((size_t)1 << 30) /* bytes per message (fits an int count) */
/* Tags of the exchange's buffers: MPI_TAG_BASE + the buffer's index. The communicator is jfa's own duplicate, so
   small tags are private; MPI guarantees tags up to 32767 only (MPI_TAG_UB: Intel MPI's 524287, Cray MPICH's
   2097151 refused the 0x6a6600 base this had). */
#define MPI_TAG_BASE 64
#define MPI_TAG_MAX_INDEX 32000

typedef struct {
  MPI_Comm comm;
  MPI_Request *reqs;  /* of the exchange in flight: Irecv at even, Isend at odd indices */
  int nreq, cap_req;
  int abandoned;      /* requests were cancelled and freed after a timeout */
  int64_t *red;       /* 4 * JFA_COMM_MAX_REDUCE: allreduce in (min, max) and out (min, max) */
  int coll_pending;   /* a timed-out collective still owns red: leak it */
  int cuda_aware;
  /* staging of CUDA buffers through pinned host memory */
  int staged;                      /* the exchange in flight is staged */
  jfa_comm_buf_t bufs[JFA_COMM_MAX_BUFS];
  int nbufs;
  unsigned char *h_send, *h_recv;  /* pinned, stage_cap bytes each */
  size_t stage_cap;
#ifdef JFA_HAVE_CUDA
  cudaStream_t stream;
  cudaEvent_t ev_ready, ev_done;
  int cuda_init;
#endif
} mpi_impl_t;

static jfa_status_t add_requests(mpi_impl_t *m, int more) {
  if (m->nreq + more <= m->cap_req) return JFA_SUCCESS;
  int cap = m->cap_req ? m->cap_req : 16;
  while (cap < m->nreq + more) cap *= 2;
  MPI_Request *r = (MPI_Request *)realloc(m->reqs, (size_t)cap * sizeof(*r));
  if (!r) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "MPI comm: out of host memory for requests");
  m->reqs = r;
  m->cap_req = cap;
  return JFA_SUCCESS;
}

/* Posts the receive from prev and the send to next of one buffer (in chunks). */
static jfa_status_t post(jfa_comm_t *comm, mpi_impl_t *m, const void *send, void *recv,
                         size_t bytes, int index) {
  int next = (comm->rank + 1) % comm->size, prev = (comm->rank - 1 + comm->size) % comm->size;
  if (index < 0 || index > MPI_TAG_MAX_INDEX) JFA_FAIL(JFA_ERROR_INTERNAL, "MPI comm: buffer index %d", index);
  size_t nchunks = (bytes + MPI_CHUNK - 1) / MPI_CHUNK;
  if (nchunks > (size_t)INT_MAX / 4) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "MPI comm: message too large");
  JFA_CHECK(add_requests(m, 2 * (int)nchunks));
  for (size_t c = 0; c < nchunks; ++c) {
    size_t off = c * MPI_CHUNK;
    int count = (int)(bytes - off < MPI_CHUNK ? bytes - off : MPI_CHUNK);
    int tag = MPI_TAG_BASE + index;
    JFA_MPI_CHECK(MPI_Irecv((unsigned char *)recv + off, count, MPI_BYTE, prev, tag, m->comm,
                            &m->reqs[m->nreq++]));
    JFA_MPI_CHECK(MPI_Isend((const unsigned char *)send + off, count, MPI_BYTE, next, tag, m->comm,
                            &m->reqs[m->nreq++]));
  }
  return JFA_SUCCESS;
}

#ifdef JFA_HAVE_CUDA
static jfa_status_t cuda_init(mpi_impl_t *m) {
  if (m->cuda_init) return JFA_SUCCESS;
  JFA_CUDA_CHECK(cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking));
  JFA_CUDA_CHECK(cudaEventCreateWithFlags(&m->ev_ready, cudaEventDisableTiming));
  JFA_CUDA_CHECK(cudaEventCreateWithFlags(&m->ev_done, cudaEventDisableTiming));
  m->cuda_init = 1;
  return JFA_SUCCESS;
}

static jfa_status_t ensure_stage(mpi_impl_t *m, size_t bytes) {
  if (bytes <= m->stage_cap) return JFA_SUCCESS;
  if (m->h_send) cudaFreeHost(m->h_send);
  if (m->h_recv) cudaFreeHost(m->h_recv);
  m->h_send = m->h_recv = NULL;
  m->stage_cap = 0;
  JFA_CUDA_CHECK(cudaMallocHost((void **)&m->h_send, bytes));
  JFA_CUDA_CHECK(cudaMallocHost((void **)&m->h_recv, bytes));
  m->stage_cap = bytes;
  return JFA_SUCCESS;
}
#endif

/* Polls reqs[0..n) until all complete (*done = 1) or comm's timeout passes (*done = 0). */
static jfa_status_t poll_requests(jfa_comm_t *comm, int n, MPI_Request *reqs, int *done) {
  jfa_comm_wait_t w;
  jfa_comm_wait_begin(&w, comm->timeout);
  for (;;) {
    int flag = 0;
    JFA_MPI_CHECK(MPI_Testall(n, reqs, &flag, MPI_STATUSES_IGNORE));
    if (flag) {
      *done = 1;
      return JFA_SUCCESS;
    }
    if (!jfa_comm_wait_poll(&w)) {
      *done = 0;
      return JFA_SUCCESS;
    }
  }
}

/* Cancels and frees the exchange's outstanding requests (never waits). Sets *recv_pending and
   *send_pending to whether a receive or a send had not completed. */
static void abandon_requests(mpi_impl_t *m, int *recv_pending, int *send_pending) {
  *recv_pending = *send_pending = 0;
  for (int i = 0; i < m->nreq; ++i) {
    if (m->reqs[i] == MPI_REQUEST_NULL) continue;
    int flag = 0;
    if (MPI_Request_get_status(m->reqs[i], &flag, MPI_STATUS_IGNORE) == MPI_SUCCESS && flag) {
      MPI_Request_free(&m->reqs[i]); /* complete: frees it */
      continue;
    }
    if (i % 2 == 0)
      *recv_pending = 1;
    else
      *send_pending = 1;
    MPI_Cancel(&m->reqs[i]);
    MPI_Request_free(&m->reqs[i]);
  }
  m->nreq = 0;
  m->abandoned = 1;
}

/* Completes the exchange in flight within the timeout; on a timeout (or an MPI error) its
   requests are abandoned and the error names the neighbours and which side is pending.
   `what` says which exchange ("ring exchange", or the one an earlier failed call left). */
static jfa_status_t complete_exchange(jfa_comm_t *comm, const char *what) {
  mpi_impl_t *m = (mpi_impl_t *)comm->impl;
  if (m->nreq > 0) {
    int done = 0;
    jfa_status_t st = poll_requests(comm, m->nreq, m->reqs, &done);
    if (st != JFA_SUCCESS || !done) {
      int rp = 0, sp = 0;
      abandon_requests(m, &rp, &sp);
      JFA_CHECK(st);
      int next = (comm->rank + 1) % comm->size, prev = (comm->rank - 1 + comm->size) % comm->size;
      JFA_FAIL(JFA_ERROR_MPI,
               "rank %d: %s with ranks %d (recv: %s) and %d (send: %s) did not complete in %g s: "
               "a rank failed, stopped or exited (timeout: jfa_comm_set_timeout or JFA_COMM_TIMEOUT)",
               comm->rank, what, prev, rp ? "pending" : "done", next, sp ? "pending" : "done", comm->timeout);
    }
  }
  m->nreq = 0;
  return JFA_SUCCESS;
}

/* MPI_Init called and MPI_Finalize not yet: no MPI call is allowed otherwise (Open MPI aborts the process), so
   every operation of the communicator checks first (what: the operation, for the message). */
jfa_status_t jfa_comm_mpi_usable(const char *what) {
  int inited = 0, finalized = 0;
  JFA_MPI_CHECK(MPI_Initialized(&inited));
  if (!inited) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: MPI is not initialised (call MPI_Init first)", what);
  JFA_MPI_CHECK(MPI_Finalized(&finalized));
  if (finalized) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: MPI is finalised (MPI_Finalize was called)", what);
  return JFA_SUCCESS;
}

static jfa_status_t mpi_exchange_start(jfa_comm_t *comm, jfa_context_t *ctx,
                                       const jfa_comm_buf_t *bufs, int nbufs) {
  mpi_impl_t *m = (mpi_impl_t *)comm->impl;
  JFA_CHECK(jfa_comm_mpi_usable("MPI comm: ring exchange"));
  if (nbufs > JFA_COMM_MAX_BUFS) JFA_FAIL(JFA_ERROR_INTERNAL, "MPI comm: too many buffers (%d)", nbufs);
  if (m->nreq > 0) { /* an error on this rank left one in flight: its data is dropped */
    JFA_CHECK(complete_exchange(comm, "the ring exchange left in flight by an earlier failed call"));
    m->staged = 0;
  }
  m->nreq = 0;
  m->staged = 0;
  if (ctx->device == JFA_DEVICE_CPU) {
    for (int i = 0; i < nbufs; ++i) JFA_CHECK(post(comm, m, bufs[i].send, bufs[i].recv, bufs[i].bytes, i));
    return JFA_SUCCESS;
  }
#ifdef JFA_HAVE_CUDA
  cudaStream_t cs = (cudaStream_t)ctx->stream;
  if (m->cuda_aware) {
    JFA_CUDA_CHECK(cudaStreamSynchronize(cs));
    for (int i = 0; i < nbufs; ++i) JFA_CHECK(post(comm, m, bufs[i].send, bufs[i].recv, bufs[i].bytes, i));
    return JFA_SUCCESS;
  }
  JFA_CHECK(cuda_init(m));
  size_t total = 0;
  for (int i = 0; i < nbufs; ++i) total += bufs[i].bytes;
  JFA_CHECK(ensure_stage(m, total));
  JFA_CUDA_CHECK(cudaEventRecord(m->ev_ready, cs));
  JFA_CUDA_CHECK(cudaStreamWaitEvent(m->stream, m->ev_ready, 0));
  size_t off = 0;
  for (int i = 0; i < nbufs; ++i) {
    JFA_CUDA_CHECK(cudaMemcpyAsync(m->h_send + off, bufs[i].send, bufs[i].bytes,
                                   cudaMemcpyDeviceToHost, m->stream));
    off += bufs[i].bytes;
  }
  JFA_CUDA_CHECK(cudaStreamSynchronize(m->stream));
  off = 0;
  for (int i = 0; i < nbufs; ++i) {
    JFA_CHECK(post(comm, m, m->h_send + off, m->h_recv + off, bufs[i].bytes, i));
    m->bufs[i] = bufs[i];
    off += bufs[i].bytes;
  }
  m->nbufs = nbufs;
  m->staged = 1;
  return JFA_SUCCESS;
#else
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "MPI comm: CUDA buffers in a build without CUDA");
#endif
}

static jfa_status_t mpi_exchange_wait(jfa_comm_t *comm, jfa_context_t *ctx) {
  mpi_impl_t *m = (mpi_impl_t *)comm->impl;
  (void)m; /* used only with CUDA */
  JFA_CHECK(jfa_comm_mpi_usable("MPI comm: ring exchange wait"));
  JFA_CHECK(complete_exchange(comm, "ring exchange"));
#ifdef JFA_HAVE_CUDA
  if (m->staged) {
    m->staged = 0;
    size_t off = 0;
    for (int i = 0; i < m->nbufs; ++i) {
      JFA_CUDA_CHECK(cudaMemcpyAsync(m->bufs[i].recv, m->h_recv + off, m->bufs[i].bytes,
                                     cudaMemcpyHostToDevice, m->stream));
      off += m->bufs[i].bytes;
    }
    JFA_CUDA_CHECK(cudaEventRecord(m->ev_done, m->stream));
    JFA_CUDA_CHECK(cudaStreamWaitEvent((cudaStream_t)ctx->stream, m->ev_done, 0));
  }
#else
  (void)ctx;
#endif
  return JFA_SUCCESS;
}

/* Waits for nreq collective requests (of `what`) within the timeout; on a timeout they are
   left to MPI (a collective cannot be cancelled) and red is never freed. */
static jfa_status_t wait_collective(jfa_comm_t *comm, MPI_Request *reqs, int nreq, const char *what) {
  mpi_impl_t *m = (mpi_impl_t *)comm->impl;
  int done = 0;
  jfa_status_t st = poll_requests(comm, nreq, reqs, &done);
  if (st != JFA_SUCCESS || !done) m->coll_pending = 1;
  JFA_CHECK(st);
  if (!done)
    JFA_FAIL(JFA_ERROR_MPI,
             "rank %d: %s over ranks 0..%d did not complete in %g s: a rank failed, stopped, exited or "
             "did not make the same jfa call (timeout: jfa_comm_set_timeout or JFA_COMM_TIMEOUT)",
             comm->rank, what, comm->size - 1, comm->timeout);
  return JFA_SUCCESS;
}

static jfa_status_t mpi_allreduce_minmax(jfa_comm_t *comm, const int64_t *in, int64_t *min_out,
                                         int64_t *max_out, int n) {
  mpi_impl_t *m = (mpi_impl_t *)comm->impl;
  JFA_CHECK(jfa_comm_mpi_usable("MPI comm: allreduce"));
  if (n > JFA_COMM_MAX_REDUCE) JFA_FAIL(JFA_ERROR_INTERNAL, "MPI comm: allreduce of %d values", n);
  /* the comm's own buffers: a collective that times out may still write them later */
  int64_t *in_min = m->red, *in_max = m->red + JFA_COMM_MAX_REDUCE;
  int64_t *out_min = m->red + 2 * JFA_COMM_MAX_REDUCE, *out_max = m->red + 3 * JFA_COMM_MAX_REDUCE;
  memcpy(in_min, in, (size_t)n * sizeof(int64_t));
  memcpy(in_max, in, (size_t)n * sizeof(int64_t));
  MPI_Request reqs[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  JFA_MPI_CHECK(MPI_Iallreduce(in_min, out_min, n, MPI_INT64_T, MPI_MIN, m->comm, &reqs[0]));
  int err = MPI_Iallreduce(in_max, out_max, n, MPI_INT64_T, MPI_MAX, m->comm, &reqs[1]);
  if (err != MPI_SUCCESS) m->coll_pending = 1; /* reqs[0] stays in flight */
  JFA_MPI_CHECK(err);
  char what[64];
  snprintf(what, sizeof what, "allreduce (min/max of %d values)", n);
  JFA_CHECK(wait_collective(comm, reqs, 2, what));
  memcpy(min_out, out_min, (size_t)n * sizeof(int64_t));
  memcpy(max_out, out_max, (size_t)n * sizeof(int64_t));
  return JFA_SUCCESS;
}

static jfa_status_t mpi_barrier(jfa_comm_t *comm) {
  mpi_impl_t *m = (mpi_impl_t *)comm->impl;
  JFA_CHECK(jfa_comm_mpi_usable("MPI comm: barrier"));
  MPI_Request req = MPI_REQUEST_NULL;
  JFA_MPI_CHECK(MPI_Ibarrier(m->comm, &req));
  JFA_CHECK(wait_collective(comm, &req, 1, "barrier"));
  return JFA_SUCCESS;
}

static size_t mpi_staging_bytes(const jfa_comm_t *comm) {
  const mpi_impl_t *m = (const mpi_impl_t *)comm->impl;
  return 2 * m->stage_cap;
}

static void mpi_destroy(jfa_comm_t *comm) {
  mpi_impl_t *m = (mpi_impl_t *)comm->impl;
  if (m) {
    int finalized = 0;
    MPI_Finalized(&finalized); /* no MPI call is allowed after MPI_Finalize */
    if (m->nreq > 0 && !finalized) { /* an exchange was started and not waited on (an error in between) */
      int done = 0;
      if (comm->failed || poll_requests(comm, m->nreq, m->reqs, &done) != JFA_SUCCESS || !done) {
        int rp, sp;
        abandon_requests(m, &rp, &sp);
      }
    }
    /* MPI may still write a buffer of a request it could not cancel: leak those buffers */
    int leak = m->abandoned || m->coll_pending;
#ifdef JFA_HAVE_CUDA
    if (!leak && m->h_send) cudaFreeHost(m->h_send);
    if (!leak && m->h_recv) cudaFreeHost(m->h_recv);
    if (m->cuda_init) {
      cudaStreamDestroy(m->stream);
      cudaEventDestroy(m->ev_ready);
      cudaEventDestroy(m->ev_done);
    }
#endif
    /* MPI_Comm_free is collective and could wait on a failed rank: skipped (leaked) then */
    if (!finalized && !comm->failed && !leak && m->comm != MPI_COMM_NULL) MPI_Comm_free(&m->comm);
    free(m->reqs);
    if (!leak) free(m->red);
    free(m);
  }
  free(comm);
}

static const jfa_comm_ops_t mpi_ops = {.name = "mpi",
                                       .exchange_start = mpi_exchange_start,
                                       .exchange_wait = mpi_exchange_wait,
                                       .allreduce_minmax = mpi_allreduce_minmax,
                                       .barrier = mpi_barrier,
                                       .staging_bytes = mpi_staging_bytes,
                                       .destroy = mpi_destroy};

jfa_status_t jfa_comm_create_mpi(jfa_comm_t **comm, const void *mpi_comm) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  *comm = NULL;
  if (!mpi_comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "mpi_comm is NULL (pass a pointer to an MPI_Comm)");
  JFA_CHECK(jfa_comm_mpi_usable("mpi_comm"));
  MPI_Comm user = *(const MPI_Comm *)mpi_comm;
  if (user == MPI_COMM_NULL) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "mpi_comm is MPI_COMM_NULL");
  jfa_comm_t *c = (jfa_comm_t *)calloc(1, sizeof(*c));
  mpi_impl_t *m = (mpi_impl_t *)calloc(1, sizeof(*m));
  if (!c || !m) {
    free(c);
    free(m);
    JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "jfa_comm_create_mpi: out of host memory");
  }
  m->comm = MPI_COMM_NULL;
  c->impl = m;
  jfa_status_t st = jfa_comm_init(c, &mpi_ops); /* reads JFA_COMM_TIMEOUT */
  m->red = (int64_t *)calloc(4 * JFA_COMM_MAX_REDUCE, sizeof(int64_t));
  if (st != JFA_SUCCESS || !m->red) {
    free(m->red);
    free(m);
    free(c);
    if (st != JFA_SUCCESS) return st;
    JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "jfa_comm_create_mpi: out of host memory");
  }
  int err = MPI_Comm_dup(user, &m->comm);
  if (err == MPI_SUCCESS) err = MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
  if (err == MPI_SUCCESS) err = MPI_Comm_rank(m->comm, &c->rank);
  if (err == MPI_SUCCESS) err = MPI_Comm_size(m->comm, &c->size);
  if (err != MPI_SUCCESS) {
    mpi_destroy(c);
    JFA_FAIL(JFA_ERROR_MPI, "jfa_comm_create_mpi: MPI_Comm_dup/rank/size failed (code %d)", err);
  }
  const char *aware = getenv("JFA_MPI_CUDA_AWARE");
  m->cuda_aware = aware && aware[0] == '1';
  *comm = c;
  return JFA_SUCCESS;
}
