/* header_consumer.c - the public headers as a user includes them, compiled (not run) by
   header_standards.cmake as C89, C99, C11 and C++ with -pedantic-errors -Wall -Wextra -Werror,
   with and without mpi.h before jfa_ring.h (JFA_TEST_WITH_MPI). */
#ifdef JFA_TEST_WITH_MPI
#include <mpi.h>
#endif
#include "jfa.h"
#include "jfa_ring.h"
#include "jfa.h" /* include guards */

int jfa_header_consumer(void);
int jfa_header_consumer(void) {
  jfa_attention_params_t p;
  jfa_ring_config_t c;
  jfa_comm_callbacks_t cb;
  jfa_tensor_t t = jfa_tensor_bhsd(0, JFA_DTYPE_FLOAT32, JFA_DEVICE_CPU, 1, 1, 1, 1);
  int bad = 0;
  bad |= jfa_attention_params_init(&p) != JFA_SUCCESS;
  bad |= jfa_ring_config_init(&c) != JFA_SUCCESS;
  bad |= jfa_comm_callbacks_init(&cb) != JFA_SUCCESS;
  bad |= jfa_tensor_numel(&t) != 1;
#ifdef JFA_TEST_WITH_MPI
  {
    jfa_comm_t *comm = 0;
    bad |= jfa_comm_create_mpi_comm(&comm, MPI_COMM_WORLD) != JFA_SUCCESS;
  }
#endif
  return bad || jfa_version() != JFA_VERSION;
}
