/*
 * comm.c - the public jfa_comm_* calls shared by every communicator (rank, size,
 * barrier, timeout, destroy), the fault guard around every implementation's
 * operations (a failed operation marks the communicator failed; later ones fail
 * at once), the bounded-wait helpers, and the UNSUPPORTED stand-ins for
 * communicators this build lacks (MPI, NCCL).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */

#include "comm/comm.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/check.h"

/* ------------------------------------------------------------------------- */
/* bounded waits                                                              */

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void jfa_comm_wait_begin(jfa_comm_wait_t *w, double timeout) {
  w->start = now_seconds();
  w->timeout = timeout;
  w->polls = 0;
}

int jfa_comm_wait_poll(jfa_comm_wait_t *w) {
  double waited = now_seconds() - w->start;
  if (w->timeout > 0 && waited >= w->timeout) return 0;
  ++w->polls;
  /* no sleep for the first 1 ms (transfers in flight progress only inside MPI calls, and
     the data is usually about to arrive), then 20 us sleeps (about 70 us with Linux's timer
     slack), then 200 us after 100 ms, so a rank waiting on a slow or stopped neighbour
     does not burn a core */
  if (waited < 1e-3) return 1;
  long us = waited < 0.1 ? 20 : 200;
  struct timespec d = {0, us * 1000L};
  while (nanosleep(&d, &d) != 0 && errno == EINTR) {
  }
  return 1;
}

/* ------------------------------------------------------------------------- */
/* the fault guard                                                            */

void jfa_comm_mark_failed(jfa_comm_t *comm, jfa_status_t status) {
  if (comm->failed) return;
  comm->failed = 1;
  comm->failed_status = status;
  const char *msg = jfa_get_last_error();
  snprintf(comm->failure, sizeof comm->failure, "%s", msg && msg[0] ? msg : jfa_status_string(status));
}

static jfa_status_t check_alive(const jfa_comm_t *comm) {
  if (comm->failed)
    return jfa_set_error(comm->failed_status, __FILE__, __LINE__,
                         "rank %d: communicator failed earlier: %s; destroy it", comm->rank, comm->failure);
  return JFA_SUCCESS;
}

/* The status of an operation; a failure marks the communicator failed. */
static jfa_status_t guarded(jfa_comm_t *comm, jfa_status_t st) {
  if (st != JFA_SUCCESS) jfa_comm_mark_failed(comm, st);
  return st;
}

static jfa_status_t guard_exchange_start(jfa_comm_t *comm, jfa_context_t *ctx, const jfa_comm_buf_t *bufs,
                                         int nbufs) {
  JFA_CHECK(check_alive(comm));
  return guarded(comm, comm->impl_ops->exchange_start(comm, ctx, bufs, nbufs));
}

static jfa_status_t guard_exchange_wait(jfa_comm_t *comm, jfa_context_t *ctx) {
  JFA_CHECK(check_alive(comm));
  return guarded(comm, comm->impl_ops->exchange_wait(comm, ctx));
}

static jfa_status_t guard_allreduce_minmax(jfa_comm_t *comm, const int64_t *in, int64_t *min_out,
                                           int64_t *max_out, int n) {
  JFA_CHECK(check_alive(comm));
  if (n < 0 || n > JFA_COMM_MAX_REDUCE)
    JFA_FAIL(JFA_ERROR_INTERNAL, "communicator: allreduce of %d values (at most %d)", n, JFA_COMM_MAX_REDUCE);
  return guarded(comm, comm->impl_ops->allreduce_minmax(comm, in, min_out, max_out, n));
}

static jfa_status_t guard_barrier(jfa_comm_t *comm) {
  JFA_CHECK(check_alive(comm));
  return guarded(comm, comm->impl_ops->barrier(comm));
}

static jfa_status_t guard_wait_stream(jfa_comm_t *comm, jfa_context_t *ctx) {
  JFA_CHECK(check_alive(comm));
  if (comm->impl_ops->wait_stream) return guarded(comm, comm->impl_ops->wait_stream(comm, ctx));
  if (ctx->device == JFA_DEVICE_CUDA) return guarded(comm, jfa_cuda_synchronize(ctx));
  return JFA_SUCCESS;
}

static size_t guard_staging_bytes(const jfa_comm_t *comm) { return comm->impl_ops->staging_bytes(comm); }

static void guard_destroy(jfa_comm_t *comm) { comm->impl_ops->destroy(comm); }

jfa_status_t jfa_comm_env_timeout(double *seconds) {
  *seconds = JFA_COMM_DEFAULT_TIMEOUT;
  const char *s = getenv("JFA_COMM_TIMEOUT");
  if (!s) return JFA_SUCCESS;
  while (isspace((unsigned char)*s)) ++s;
  if (!*s) return JFA_SUCCESS;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  while (end && isspace((unsigned char)*end)) ++end;
  if (end == s || !end || *end || isnan(v))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "JFA_COMM_TIMEOUT='%s' is not a number of seconds (0 or negative: wait forever)", s);
  *seconds = isinf(v) || v <= 0 ? 0 : v;
  return JFA_SUCCESS;
}

jfa_status_t jfa_comm_init(jfa_comm_t *comm, const jfa_comm_ops_t *impl_ops) {
  comm->impl_ops = impl_ops;
  comm->guard.name = impl_ops->name;
  comm->guard.exchange_start = guard_exchange_start;
  comm->guard.exchange_wait = guard_exchange_wait;
  comm->guard.allreduce_minmax = guard_allreduce_minmax;
  comm->guard.barrier = guard_barrier;
  comm->guard.staging_bytes = guard_staging_bytes;
  comm->guard.destroy = guard_destroy;
  comm->guard.wait_stream = guard_wait_stream;
  comm->ops = &comm->guard;
  comm->device_index = -1;
  comm->failed = 0;
  comm->failed_status = JFA_SUCCESS;
  comm->failure[0] = '\0';
  return jfa_comm_env_timeout(&comm->timeout);
}

/* ------------------------------------------------------------------------- */
/* public calls                                                               */

jfa_status_t jfa_comm_rank(const jfa_comm_t *comm, int *rank) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  if (!rank) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "rank is NULL");
  *rank = comm->rank;
  return JFA_SUCCESS;
}

jfa_status_t jfa_comm_size(const jfa_comm_t *comm, int *size) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  if (!size) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "size is NULL");
  *size = comm->size;
  return JFA_SUCCESS;
}

jfa_status_t jfa_comm_set_timeout(jfa_comm_t *comm, double seconds) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  if (isnan(seconds)) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "seconds is NaN (0 or negative: wait forever)");
  comm->timeout = isinf(seconds) || seconds <= 0 ? 0 : seconds;
  return JFA_SUCCESS;
}

jfa_status_t jfa_comm_get_timeout(const jfa_comm_t *comm, double *seconds) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  if (!seconds) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "seconds is NULL");
  *seconds = comm->timeout;
  return JFA_SUCCESS;
}

jfa_status_t jfa_comm_barrier(jfa_comm_t *comm) {
  if (!comm) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "comm is NULL");
  JFA_CHECK(comm->ops->barrier(comm));
  return JFA_SUCCESS;
}

jfa_status_t jfa_comm_destroy(jfa_comm_t *comm) {
  if (!comm) return JFA_SUCCESS;
  comm->ops->destroy(comm); /* frees comm itself */
  return JFA_SUCCESS;
}

#ifndef JFA_HAVE_MPI
jfa_status_t jfa_comm_create_mpi(jfa_comm_t **comm, const void *mpi_comm) {
  (void)mpi_comm;
  if (comm) *comm = NULL;
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "jfa_comm_create_mpi: jfa was built without MPI (JFA_ENABLE_MPI=OFF)");
}
#endif

#ifndef JFA_HAVE_NCCL
jfa_status_t jfa_comm_create_nccl(jfa_comm_t **comm, void *nccl_comm, int device_index) {
  (void)nccl_comm;
  (void)device_index;
  if (comm) *comm = NULL;
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "jfa_comm_create_nccl: jfa was built without NCCL (JFA_ENABLE_NCCL=OFF)");
}
#endif

#ifndef JFA_HAVE_NCCL
jfa_status_t jfa_comm_nccl_unique_id(void *id, size_t bytes) {
  (void)id;
  (void)bytes;
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "jfa_comm_nccl_unique_id: jfa was built without NCCL (JFA_ENABLE_NCCL=OFF)");
}

jfa_status_t jfa_comm_create_nccl_from_id(jfa_comm_t **comm, const void *id, size_t bytes, int rank, int size,
                                          int device_index) {
  (void)id, (void)bytes, (void)rank, (void)size, (void)device_index;
  if (comm) *comm = NULL;
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "jfa_comm_create_nccl_from_id: jfa was built without NCCL (JFA_ENABLE_NCCL=OFF)");
}
#endif

#if !defined(JFA_HAVE_NCCL) || !defined(JFA_HAVE_MPI)
jfa_status_t jfa_comm_create_nccl_from_mpi(jfa_comm_t **comm, const void *mpi_comm,
                                           int *device_index) {
  (void)mpi_comm;
  (void)device_index;
  if (comm) *comm = NULL;
  JFA_FAIL(JFA_ERROR_UNSUPPORTED,
           "jfa_comm_create_nccl_from_mpi: jfa was built without NCCL or without MPI");
}
#endif
