/*
 * comm.h - private interface of jfa's communicators (src/comm): the ring
 * neighbour exchange of several buffers at once, started asynchronously and
 * waited on (double buffering: the next block travels while the current one is
 * computed), a small int64 min/max allreduce for setup checks, and a barrier.
 *
 * Implementations: comm_single.c (one rank), comm_mpi.c (JFA_HAVE_MPI),
 * comm_nccl.c (JFA_HAVE_NCCL), comm_callbacks.c. At most one exchange is in
 * flight per comm.
 *
 * Faults (comm.c): comm->ops is a guard around the implementation's ops
 * (comm->impl_ops): a failed operation marks the communicator failed, and every
 * later operation returns an error at once. Implementations bound their waits
 * by comm->timeout (jfa_comm_wait_begin / jfa_comm_wait_poll), so a rank that
 * failed, stopped or exited makes the others return an error instead of hanging.
 */
#ifndef JFA_COMM_COMM_H_
#define JFA_COMM_COMM_H_

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"
#include "jfa_ring.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One buffer of an exchange: `bytes` of send go to the next rank, recv is filled from the previous. */
typedef struct {
  const void *send;
  void *recv;
  size_t bytes;
} jfa_comm_buf_t;

#define JFA_COMM_MAX_BUFS 8

typedef struct jfa_comm_ops {
  const char *name;
  /* Starts sending bufs[i].send to rank (rank+1)%size and receiving bufs[i].recv from
     (rank-1+size)%size. Buffers live on ctx's device; on CUDA the sends read data that
     work queued on ctx's stream before this call produced. */
  jfa_status_t (*exchange_start)(jfa_comm_t *comm, jfa_context_t *ctx, const jfa_comm_buf_t *bufs,
                                 int nbufs);
  /* Waits for the exchange started last; on CUDA, later work on ctx's stream sees the data. */
  jfa_status_t (*exchange_wait)(jfa_comm_t *comm, jfa_context_t *ctx);
  /* Elementwise min and max over ranks of n int64 values (host memory, blocking). */
  jfa_status_t (*allreduce_minmax)(jfa_comm_t *comm, const int64_t *in, int64_t *min_out,
                                   int64_t *max_out, int n);
  jfa_status_t (*barrier)(jfa_comm_t *comm);
  /* Pinned host bytes the comm holds for staging (0 when none). */
  size_t (*staging_bytes)(const jfa_comm_t *comm);
  /* Frees comm and what it owns; must not block on other ranks when comm->failed is set. */
  void (*destroy)(jfa_comm_t *comm);
  /* Waits until the work queued on ctx's stream is done (CUDA; nothing on the CPU), within
     comm->timeout: the ring's end-of-call synchronisation. NULL in an implementation's
     table: jfa_cuda_synchronize on CUDA contexts. */
  jfa_status_t (*wait_stream)(jfa_comm_t *comm, jfa_context_t *ctx);
} jfa_comm_ops_t;

#define JFA_COMM_FAILURE_BYTES 640

struct jfa_comm {
  const jfa_comm_ops_t *ops; /* &guard: what the ring calls */
  int rank, size;
  void *impl;        /* private to the implementation */
  const jfa_comm_ops_t *impl_ops; /* the implementation's ops */
  jfa_comm_ops_t guard;           /* checks failed, calls impl_ops, marks failed on errors */
  double timeout;                 /* seconds a wait may take; <= 0: forever */
  int device_index;               /* the GPU an NCCL communicator's transfers run on; -1 for the others */
  int failed;                     /* an operation failed: later ones fail at once */
  jfa_status_t failed_status;
  char failure[JFA_COMM_FAILURE_BYTES]; /* the message of the failure */
};

/** Default of comm->timeout in seconds when JFA_COMM_TIMEOUT is not set. */
#define JFA_COMM_DEFAULT_TIMEOUT 300.0

/** JFA_COMM_TIMEOUT (seconds; <= 0 or inf: 0, forever), else the default; NaN or text is an error. */
jfa_status_t jfa_comm_env_timeout(double *seconds);

/**
 * Sets up the shared part of a new communicator: impl_ops, the guarded ops and the
 * timeout from JFA_COMM_TIMEOUT (JFA_ERROR_INVALID_ARGUMENT when it is not a number).
 */
jfa_status_t jfa_comm_init(jfa_comm_t *comm, const jfa_comm_ops_t *impl_ops);

/** Marks comm failed with the current last error message (kept for later calls). */
void jfa_comm_mark_failed(jfa_comm_t *comm, jfa_status_t status);

/** A bounded wait: begin it, then call poll after each unsuccessful test. */
typedef struct {
  double start, timeout;
  unsigned polls;
} jfa_comm_wait_t;

/** Starts a wait of at most timeout seconds (<= 0: forever). */
void jfa_comm_wait_begin(jfa_comm_wait_t *w, double timeout);
/** Returns 0 once the timeout has passed, else 1 after a pause (none for 1 ms, then 20-200 us). */
int jfa_comm_wait_poll(jfa_comm_wait_t *w);

#ifdef JFA_HAVE_MPI
/** Whether MPI may be called now (MPI_Init called, MPI_Finalize not yet): JFA_ERROR_INVALID_ARGUMENT naming `what`
 *  otherwise (an MPI call then would abort the process). comm_mpi.c; the NCCL-over-MPI constructor checks it too. */
jfa_status_t jfa_comm_mpi_usable(const char *what);
#endif

/** Largest number of int64 values allreduce_minmax accepts. */
#define JFA_COMM_MAX_REDUCE 64

#ifdef __cplusplus
}
#endif

#endif /* JFA_COMM_COMM_H_ */
