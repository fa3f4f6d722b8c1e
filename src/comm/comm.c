/*
 * comm.c - the public jfa_comm_* calls shared by every communicator (rank, size,
 * barrier, destroy) and the UNSUPPORTED stand-ins for communicators this build
 * lacks (MPI, NCCL).
 */
#include "comm/comm.h"

#include <stddef.h>

#include "core/check.h"

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
