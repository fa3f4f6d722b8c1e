# Communicators: one rank always; MPI and NCCL when enabled (comm.c supplies
# UNSUPPORTED stand-ins for the ones left out).
list(APPEND JFA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/comm.c ${CMAKE_CURRENT_LIST_DIR}/comm_single.c
            ${CMAKE_CURRENT_LIST_DIR}/comm_callbacks.c)
if(JFA_ENABLE_MPI)
  list(APPEND JFA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/comm_mpi.c)
endif()
if(JFA_ENABLE_NCCL)
  list(APPEND JFA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/comm_nccl.c)
endif()
