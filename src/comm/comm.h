/*
 * comm.h - private interface of jfa's communicators (src/comm): the ring
 * neighbour exchange of several buffers at once, started asynchronously and
 * waited on (double buffering: the next block travels while the current one is
 * computed), a small int64 min/max allreduce for setup checks, and a barrier.
 *
 * Implementations: comm_single.c (one rank), comm_mpi.c (JFA_HAVE_MPI),
 * comm_nccl.c (JFA_HAVE_NCCL). At most one exchange is in flight per comm.
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
  void (*destroy)(jfa_comm_t *comm);
} jfa_comm_ops_t;

struct jfa_comm {
  const jfa_comm_ops_t *ops;
  int rank, size;
  void *impl;        /* private to the implementation */
};

/** Largest number of int64 values allreduce_minmax accepts. */
#define JFA_COMM_MAX_REDUCE 64

#ifdef __cplusplus
}
#endif

#endif /* JFA_COMM_COMM_H_ */
