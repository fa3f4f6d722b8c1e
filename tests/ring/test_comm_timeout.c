/*
 * test_comm_timeout.c - the communicator timeout's settings and the fault guard
 * on one process (issue 11; the multi-rank faults are test_ring_fault.c):
 *
 *   mpirun -np 1 ./test_comm_timeout
 *
 * Checks: JFA_COMM_TIMEOUT is read at creation (unset: 300 s; "1.5"; "0" and
 * negative: forever; text and NaN rejected), jfa_comm_set_timeout / get_timeout
 * (NaN rejected, infinity and negative: forever, NULL rejected), a healthy MPI
 * barrier and allreduce under a timeout, and that a callback that fails marks
 * the communicator failed: later calls (ring and barrier) fail at once with
 * "communicator failed earlier" even when the callbacks work again, and destroy
 * still runs the destroy callback. Last, after MPI_Finalize: an MPI communicator's
 * constructor and barrier refuse (no MPI call then), its destroy succeeds.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "comm/comm.h"
#include "jfa.h"
#include "jfa_ring.h"

static int failures = 0;

static void expect(const char *what, int ok) {
  printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  if (!ok) {
    printf("      last error: %s\n", jfa_get_last_error());
    ++failures;
  }
}

/* A single comm created with JFA_COMM_TIMEOUT=value (NULL: unset); its timeout or NAN on failure. */
static double created_timeout(const char *value, jfa_status_t *status) {
  if (value)
    setenv("JFA_COMM_TIMEOUT", value, 1);
  else
    unsetenv("JFA_COMM_TIMEOUT");
  jfa_comm_t *c = NULL;
  double t = NAN;
  *status = jfa_comm_create_single(&c);
  if (*status == JFA_SUCCESS && jfa_comm_get_timeout(c, &t) != JFA_SUCCESS) t = NAN;
  jfa_comm_destroy(c);
  return t;
}

/* ---- callbacks that fail on demand --------------------------------------- */

typedef struct {
  int fail_allreduce;
  int allreduces, destroyed;
} cb_state_t;

static int cb_start(void *user, int nbufs, const void *const *send, void *const *recv, const size_t *bytes) {
  (void)user, (void)nbufs, (void)send, (void)recv, (void)bytes;
  return 0;
}
static int cb_wait(void *user) {
  (void)user;
  return 0;
}
static int cb_allreduce(void *user, const int64_t *in, int64_t *lo, int64_t *hi, int n) {
  cb_state_t *s = (cb_state_t *)user;
  ++s->allreduces;
  if (s->fail_allreduce) return 5;
  for (int i = 0; i < n; ++i) lo[i] = hi[i] = in[i];
  return 0;
}
static int cb_barrier(void *user) {
  (void)user;
  return 0;
}
static void cb_destroy(void *user) { ((cb_state_t *)user)->destroyed = 1; }

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  setvbuf(stdout, NULL, _IOLBF, 0);

  /* the environment variable, read at creation */
  jfa_status_t st;
  expect("unset: 300 s", created_timeout(NULL, &st) == 300.0 && st == JFA_SUCCESS);
  expect("\"1.5\": 1.5 s", created_timeout("1.5", &st) == 1.5);
  expect("\" 7 \": 7 s", created_timeout(" 7 ", &st) == 7.0);
  expect("\"0\": forever (0)", created_timeout("0", &st) == 0.0);
  expect("\"-3\": forever (0)", created_timeout("-3", &st) == 0.0);
  expect("\"\": the default", created_timeout("", &st) == 300.0);
  created_timeout("abc", &st);
  expect("\"abc\": rejected", st == JFA_ERROR_INVALID_ARGUMENT && strstr(jfa_get_last_error(), "JFA_COMM_TIMEOUT"));
  created_timeout("nan", &st);
  expect("\"nan\": rejected", st == JFA_ERROR_INVALID_ARGUMENT);
  created_timeout("5s", &st);
  expect("\"5s\": rejected", st == JFA_ERROR_INVALID_ARGUMENT);
  unsetenv("JFA_COMM_TIMEOUT");

  /* jfa_comm_set_timeout / jfa_comm_get_timeout */
  jfa_comm_t *mpi = NULL;
  MPI_Comm w = MPI_COMM_WORLD;
  expect("MPI comm created", jfa_comm_create_mpi(&mpi, &w) == JFA_SUCCESS);
  double t = -1;
  expect("set 2.5", jfa_comm_set_timeout(mpi, 2.5) == JFA_SUCCESS && jfa_comm_get_timeout(mpi, &t) == JFA_SUCCESS &&
                        t == 2.5);
  expect("NaN rejected, timeout kept",
         jfa_comm_set_timeout(mpi, NAN) == JFA_ERROR_INVALID_ARGUMENT && jfa_comm_get_timeout(mpi, &t) == JFA_SUCCESS &&
             t == 2.5);
  expect("infinity: forever (0)", jfa_comm_set_timeout(mpi, INFINITY) == JFA_SUCCESS &&
                                      jfa_comm_get_timeout(mpi, &t) == JFA_SUCCESS && t == 0.0);
  expect("negative: forever (0)", jfa_comm_set_timeout(mpi, -1) == JFA_SUCCESS &&
                                      jfa_comm_get_timeout(mpi, &t) == JFA_SUCCESS && t == 0.0);
  expect("NULL comm rejected", jfa_comm_set_timeout(NULL, 1) == JFA_ERROR_INVALID_ARGUMENT &&
                                   jfa_comm_get_timeout(NULL, &t) == JFA_ERROR_INVALID_ARGUMENT);
  expect("NULL seconds rejected", jfa_comm_get_timeout(mpi, NULL) == JFA_ERROR_INVALID_ARGUMENT);
  jfa_comm_set_timeout(mpi, 5);
  int64_t in[3] = {1, -2, 3}, lo[3], hi[3];
  expect("healthy MPI barrier under a timeout", jfa_comm_barrier(mpi) == JFA_SUCCESS);
  expect("healthy MPI allreduce under a timeout", mpi->ops->allreduce_minmax(mpi, in, lo, hi, 3) == JFA_SUCCESS &&
                                                      lo[1] == -2 && hi[2] == 3);
  expect("MPI comm not failed", !mpi->failed);
  jfa_comm_destroy(mpi);

  /* a failing callback marks the communicator failed */
  cb_state_t s;
  memset(&s, 0, sizeof s);
  jfa_comm_callbacks_t cb;
  jfa_comm_callbacks_init(&cb);
  cb.user = &s;
  cb.exchange_start = cb_start, cb.exchange_wait = cb_wait, cb.allreduce_minmax = cb_allreduce;
  cb.barrier = cb_barrier, cb.destroy = cb_destroy;
  jfa_comm_t *comm = NULL;
  jfa_context_t *ctx = NULL;
  jfa_ring_t *ring = NULL;
  expect("callbacks comm and CPU context", jfa_comm_create_callbacks(&comm, &cb, 0, 1) == JFA_SUCCESS &&
                                               jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) == JFA_SUCCESS);
  jfa_ring_config_t cfg;
  jfa_ring_config_init(&cfg);
  cfg.batch = 1;
  cfg.heads_q = cfg.heads_kv = 1;
  cfg.seq_global = 4;
  cfg.head_dim = 4;
  cfg.dtype = JFA_DTYPE_FLOAT64;
  double q[16] = {0}, k[16] = {0}, v[16] = {0}, o[16];
  jfa_tensor_t tq = jfa_tensor_bhsd(q, cfg.dtype, JFA_DEVICE_CPU, 1, 1, 4, 4);
  jfa_tensor_t tk = jfa_tensor_bhsd(k, cfg.dtype, JFA_DEVICE_CPU, 1, 1, 4, 4);
  jfa_tensor_t tv = jfa_tensor_bhsd(v, cfg.dtype, JFA_DEVICE_CPU, 1, 1, 4, 4);
  jfa_tensor_t to = jfa_tensor_bhsd(o, cfg.dtype, JFA_DEVICE_CPU, 1, 1, 4, 4);
  expect("ring created", jfa_ring_create(&ring, ctx, comm, &cfg) == JFA_SUCCESS);
  expect("healthy forward", jfa_ring_forward(ring, &tq, &tk, &tv, &to, NULL) == JFA_SUCCESS);
  s.fail_allreduce = 1;
  st = jfa_ring_forward(ring, &tq, &tk, &tv, &to, NULL);
  expect("forward fails when the callback fails",
         st == JFA_ERROR_INTERNAL && strstr(jfa_get_last_error(), "allreduce_minmax failed"));
  s.fail_allreduce = 0;
  int calls = s.allreduces;
  st = jfa_ring_forward(ring, &tq, &tk, &tv, &to, NULL);
  expect("the next forward fails at once (the callback is not called)",
         st == JFA_ERROR_INTERNAL && s.allreduces == calls &&
             strstr(jfa_get_last_error(), "communicator failed earlier") &&
             strstr(jfa_get_last_error(), "allreduce_minmax failed"));
  expect("barrier fails at once", jfa_comm_barrier(comm) == JFA_ERROR_INTERNAL &&
                                      strstr(jfa_get_last_error(), "communicator failed earlier"));
  jfa_ring_destroy(ring);
  jfa_comm_destroy(comm);
  expect("destroy runs the destroy callback", s.destroyed == 1);
  jfa_context_destroy(ctx);

  /* after MPI_Finalize no MPI call is allowed (Open MPI aborts the process): the MPI communicator's constructor and
     operations refuse instead, and destroy skips its MPI calls */
  MPI_Comm world = MPI_COMM_WORLD;
  jfa_comm_t *late = NULL;
  expect("an MPI comm created before MPI_Finalize", jfa_comm_create_mpi(&late, &world) == JFA_SUCCESS);
  MPI_Finalize();
  jfa_comm_t *x = (jfa_comm_t *)(uintptr_t)1;
  st = jfa_comm_create_mpi(&x, &world);
  expect("jfa_comm_create_mpi after MPI_Finalize: INVALID_ARGUMENT naming the finalised MPI, comm NULL",
         st == JFA_ERROR_INVALID_ARGUMENT && x == NULL && strstr(jfa_get_last_error(), "finalised"));
  st = jfa_comm_barrier(late);
  expect("a barrier of that comm after MPI_Finalize: INVALID_ARGUMENT naming the finalised MPI",
         st == JFA_ERROR_INVALID_ARGUMENT && strstr(jfa_get_last_error(), "finalised"));
  expect("its destroy after MPI_Finalize", jfa_comm_destroy(late) == JFA_SUCCESS);
  printf("test_comm_timeout: %d failure(s)\n", failures);
  return failures ? 1 : 0;
}
