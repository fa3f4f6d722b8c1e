/*
 * test_ring_fault.c - a failed rank makes every other rank return an error
 * within a bounded time (the communicator's timeout), never hang (issue 11).
 *
 *   mpirun -np 3 --oversubscribe ./test_ring_fault skip   (fp32, jfa_comm_set_timeout(2))
 *   mpirun -np 3 --oversubscribe ./test_ring_fault stop   (fp64, JFA_COMM_TIMEOUT=2)
 *   mpirun -np 3 --oversubscribe ./test_ring_fault comm   (the communicator's ops directly)
 *
 * skip: rank 1 does not call jfa_ring_forward (as if it had failed before the
 *       call); the others call it and must return an error.
 * stop: every rank calls jfa_ring_forward in a loop; rank 1 stops itself with
 *       SIGSTOP from a timer (setitimer) while inside a call; the others must
 *       return an error. (A rank that exits cannot be observed: Open MPI's mpirun
 *       ends the whole job when a process exits. The stopped rank stands for it.)
 * comm: rank 1 skips a ring exchange (1 MiB buffers) on one communicator and a
 *       barrier on another; the others' messages must name what is pending
 *       ("ring exchange with ranks 2 (recv: pending) and 1 (send: done)", ...).
 *
 * Every surviving rank checks that its call returned a non-success status with a
 * "did not complete in" message within BOUND_S seconds, that a second call fails
 * at once with "communicator failed earlier", and that jfa_ring_destroy and
 * jfa_comm_destroy return at once. The survivors report to rank 0 over
 * MPI_COMM_WORLD; rank 0 prints the verdict ("fault test: N of N surviving ranks
 * returned an error within ..." or "fault test FAILED: ...") and ends the job
 * with MPI_Abort, which also kills the stopped rank. mpirun's exit code is then
 * not zero: CTest judges the printed verdict (PASS/FAIL_REGULAR_EXPRESSION).
 */
#define _XOPEN_SOURCE 700 /* setitimer, sigaction, nanosleep, clock_gettime, setenv */

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "comm/comm.h"
#include "jfa.h"
#include "jfa_ring.h"

#define FAULTY 1          /* the rank that fails */
#define TIMEOUT_S 2.0     /* the communicator's timeout */
#define BOUND_S 10.0      /* a surviving rank must return within this (measured per call) */
#define AT_ONCE_S 0.5     /* later calls and destroy must take less than this */
#define REPORT_TAG 7101

static int rank_, size_;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void sleep_s(double s) {
  struct timespec d = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  nanosleep(&d, NULL);
}

/* Waits to be killed by rank 0's MPI_Abort; fails loudly if that never comes. */
static void wait_for_abort(void) {
  fflush(stdout);
  for (int i = 0; i < 300; ++i) sleep_s(0.1);
  printf("fault test FAILED: rank %d was not ended by rank 0's MPI_Abort within 30 s\n", rank_);
  fflush(stdout);
  exit(1);
}

/* ---- rank 1 stops itself from a timer ----------------------------------- */

static volatile sig_atomic_t in_call = 0;
/* set just before the SIGSTOP: whatever rank 1 does after it was resumed (mpirun continues a stopped
   process when rank 0's MPI_Abort ends the job, and the call then fails on its gone peers) is not a
   failure of the test */
static volatile sig_atomic_t stopped = 0;

static void stop_handler(int sig) {
  (void)sig;
  static const char inside[] = "rank 1: SIGSTOP on itself inside jfa_ring_forward\n";
  static const char outside[] = "rank 1: SIGSTOP on itself between two jfa_ring_forward calls\n";
  if (in_call) {
    ssize_t w = write(STDOUT_FILENO, inside, sizeof inside - 1);
    (void)w;
  } else {
    ssize_t w = write(STDOUT_FILENO, outside, sizeof outside - 1);
    (void)w;
  }
  stopped = 1;
  raise(SIGSTOP);
}

static void arm_stop_timer(double delay) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = stop_handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it;
  memset(&it, 0, sizeof it);
  it.it_value.tv_sec = (time_t)delay;
  it.it_value.tv_usec = (suseconds_t)((delay - floor(delay)) * 1e6);
  setitimer(ITIMER_REAL, &it, NULL);
}

/* ---- the ring --------------------------------------------------------------- */

typedef struct {
  jfa_tensor_t q, k, v, o, lse;
  void *mem[5];
} shards_t;

static void make_shards(shards_t *s, const jfa_ring_config_t *c) {
  int64_t n = c->seq_global / size_;
  size_t esz = jfa_dtype_size(c->dtype);
  size_t qe = (size_t)(c->batch * c->heads_q * n * c->head_dim), ke = (size_t)(c->batch * c->heads_kv * n * c->head_dim);
  size_t le = (size_t)(c->batch * c->heads_q * n);
  size_t counts[5] = {qe, ke, ke, qe, le};
  for (int i = 0; i < 5; ++i) {
    size_t bytes = counts[i] * (i == 4 ? sizeof(float) : esz);
    s->mem[i] = malloc(bytes);
    if (!s->mem[i]) {
      fprintf(stderr, "out of memory\n");
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
    unsigned char *b = (unsigned char *)s->mem[i];
    for (size_t j = 0; j < counts[i]; ++j) { /* small values, deterministic per rank */
      double x = 0.01 * (double)((j * 7919 + (size_t)rank_ * 104729) % 200) - 1.0;
      if (i == 4 || c->dtype == JFA_DTYPE_FLOAT32) {
        float f = (float)x;
        memcpy(b + j * 4, &f, 4);
      } else {
        memcpy(b + j * 8, &x, 8);
      }
    }
  }
  s->q = jfa_tensor_bhsd(s->mem[0], c->dtype, JFA_DEVICE_CPU, c->batch, c->heads_q, n, c->head_dim);
  s->k = jfa_tensor_bhsd(s->mem[1], c->dtype, JFA_DEVICE_CPU, c->batch, c->heads_kv, n, c->head_dim);
  s->v = jfa_tensor_bhsd(s->mem[2], c->dtype, JFA_DEVICE_CPU, c->batch, c->heads_kv, n, c->head_dim);
  s->o = jfa_tensor_bhsd(s->mem[3], c->dtype, JFA_DEVICE_CPU, c->batch, c->heads_q, n, c->head_dim);
  s->lse = jfa_tensor_bhsd(s->mem[4], JFA_DTYPE_FLOAT32, JFA_DEVICE_CPU, c->batch, c->heads_q, n, 1);
}

static jfa_status_t forward(jfa_ring_t *ring, shards_t *s) {
  in_call = 1;
  jfa_status_t st = jfa_ring_forward(ring, &s->q, &s->k, &s->v, &s->o, &s->lse);
  in_call = 0;
  return st;
}

/* What a surviving rank sends to rank 0. */
typedef struct {
  double ok, call_s, again_s, destroy_s;
} report_t;

/* Sends a surviving rank's result to rank 0, which prints the verdict and ends the job with
   MPI_Abort (the failed rank cannot finalize). Never returns. */
static void finish(int ok, double call_s, double again_s, double destroy_s) {
  report_t mine = {ok, call_s, again_s, destroy_s};
  if (rank_ != 0) {
    MPI_Send(&mine, 4, MPI_DOUBLE, 0, REPORT_TAG, MPI_COMM_WORLD);
    wait_for_abort();
  }
  int survivors = size_ - 1, good = ok;
  double worst = call_s;
  for (int r = 1; r < size_; ++r) {
    if (r == FAULTY) continue;
    report_t rep;
    MPI_Request req;
    MPI_Irecv(&rep, 4, MPI_DOUBLE, r, REPORT_TAG, MPI_COMM_WORLD, &req);
    int flag = 0;
    double until = now() + 20;
    while (!flag && now() < until) {
      MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
      if (!flag) sleep_s(0.001);
    }
    if (!flag) {
      printf("fault test FAILED: rank %d did not report within 20 s\n", r);
      MPI_Cancel(&req);
      MPI_Request_free(&req);
      continue;
    }
    printf("rank %d reported: %s, error after %.2f s, next call %.4f s, destroy %.4f s\n", r,
           rep.ok == 1 ? "ok" : "FAILED", rep.call_s, rep.again_s, rep.destroy_s);
    if (rep.ok == 1) ++good;
    if (rep.call_s > worst) worst = rep.call_s;
  }
  if (good == survivors)
    printf("fault test: %d of %d surviving ranks returned an error within %.2f s (timeout %g s, bound %g s)\n",
           good, survivors, worst, TIMEOUT_S, BOUND_S);
  else
    printf("fault test FAILED: %d of %d surviving ranks passed\n", good, survivors);
  printf("fault test: rank 0 ends the job with MPI_Abort (the failed rank cannot finalize)\n");
  fflush(stdout);
  sleep_s(0.5); /* let mpirun forward the output */
  MPI_Abort(MPI_COMM_WORLD, good == survivors ? 0 : 1);
  exit(1);
}

/* Checks a surviving rank's failed wait: status, message and time. */
static int check_failure(const char *what, jfa_status_t st, double secs, const char *must_contain) {
  const char *msg = jfa_get_last_error();
  if (st == JFA_SUCCESS) {
    printf("fault test FAILED: rank %d: %s succeeded\n", rank_, what);
    return 0;
  }
  printf("rank %d: %s returned %s after %.2f s: %s\n", rank_, what, jfa_status_string(st), secs, msg);
  int ok = 1;
  if (st != JFA_ERROR_MPI || !strstr(msg, "did not complete in 2 s") || !strstr(msg, must_contain)) {
    printf("fault test FAILED: rank %d: expected JFA_ERROR_MPI with \"did not complete in 2 s\" and \"%s\"\n",
           rank_, must_contain);
    ok = 0;
  }
  if (secs > BOUND_S) {
    printf("fault test FAILED: rank %d: the error took %.2f s (bound %g s)\n", rank_, secs, BOUND_S);
    ok = 0;
  }
  return ok;
}

/* comm mode: the communicator's own waits, deterministically. Rank 1 skips a ring exchange
   (1 MiB per buffer: beyond the eager limit, so the sends to rank 1 stay pending too) on one
   communicator and a barrier on another. */
static void run_comm_mode(jfa_context_t *ctx, jfa_comm_t *comm) {
  jfa_comm_t *comm2 = NULL;
  MPI_Comm w = MPI_COMM_WORLD;
  size_t bytes = (size_t)1 << 20;
  unsigned char *send = (unsigned char *)calloc(2 * bytes, 1), *recv = (unsigned char *)calloc(2 * bytes, 1);
  jfa_comm_buf_t bufs[2] = {{send, recv, bytes}, {send + bytes, recv + bytes, bytes}};
  if (!send || !recv || jfa_comm_create_mpi(&comm2, &w) != JFA_SUCCESS ||
      jfa_comm_set_timeout(comm2, TIMEOUT_S) != JFA_SUCCESS) {
    printf("fault test FAILED: rank %d: comm mode setup: %s\n", rank_, jfa_get_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  memset(send, rank_ + 1, 2 * bytes);
  jfa_status_t st = comm->ops->exchange_start(comm, ctx, bufs, 2);
  if (st == JFA_SUCCESS) st = comm->ops->exchange_wait(comm, ctx);
  int prev = (rank_ - 1 + size_) % size_;
  if (st != JFA_SUCCESS || recv[0] != prev + 1 || recv[2 * bytes - 1] != prev + 1 || jfa_comm_barrier(comm2)) {
    printf("fault test FAILED: rank %d: healthy exchange and barrier: %s\n", rank_, jfa_get_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (rank_ == FAULTY) {
    printf("rank %d: skipping a ring exchange and a barrier\n", rank_);
    wait_for_abort();
  }
  int next = (rank_ + 1) % size_, ok = 1;
  char expect[128];
  snprintf(expect, sizeof expect, "rank %d: ring exchange with ranks %d (recv: %s) and %d (send: %s)", rank_, prev,
           prev == FAULTY ? "pending" : "done", next, next == FAULTY ? "pending" : "done");
  double t0 = now();
  st = comm->ops->exchange_start(comm, ctx, bufs, 2);
  if (st == JFA_SUCCESS) st = comm->ops->exchange_wait(comm, ctx);
  double call_s = now() - t0;
  ok &= check_failure("the ring exchange", st, call_s, expect);
  t0 = now();
  jfa_status_t again = comm->ops->exchange_start(comm, ctx, bufs, 2);
  double again_s = now() - t0;
  if (again == JFA_SUCCESS || !strstr(jfa_get_last_error(), "communicator failed earlier") || again_s > AT_ONCE_S) {
    printf("fault test FAILED: rank %d: the next exchange returned %s after %.3f s: %s\n", rank_,
           jfa_status_string(again), again_s, jfa_get_last_error());
    ok = 0;
  }
  t0 = now();
  st = jfa_comm_barrier(comm2);
  double barrier_s = now() - t0;
  snprintf(expect, sizeof expect, "rank %d: barrier over ranks 0..%d", rank_, size_ - 1);
  ok &= check_failure("jfa_comm_barrier", st, barrier_s, expect);
  t0 = now();
  jfa_comm_destroy(comm);
  jfa_comm_destroy(comm2);
  double destroy_s = now() - t0;
  if (destroy_s > AT_ONCE_S) {
    printf("fault test FAILED: rank %d: destroy took %.3f s\n", rank_, destroy_s);
    ok = 0;
  }
  printf("rank %d: next exchange failed in %.4f s, destroy took %.4f s\n", rank_, again_s, destroy_s);
  /* send and recv are not freed: a send MPI could not cancel may still read its buffer */
  finish(ok, call_s > barrier_s ? call_s : barrier_s, again_s, destroy_s);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *mode = argc > 1 ? argv[1] : "skip";
  int stop = strcmp(mode, "stop") == 0, comm_mode = strcmp(mode, "comm") == 0;
  if (!stop && !comm_mode && strcmp(mode, "skip") != 0) {
    if (rank_ == 0) fprintf(stderr, "usage: test_ring_fault skip|stop|comm\n");
    MPI_Finalize();
    return 2;
  }
  if (size_ < 3) {
    if (rank_ == 0) printf("test_ring_fault needs at least 3 ranks, not run\n");
    MPI_Finalize();
    return 77;
  }

  /* setup: the timeout from the environment (stop) or from jfa_comm_set_timeout (skip) */
  if (stop)
    setenv("JFA_COMM_TIMEOUT", "2", 1);
  else
    unsetenv("JFA_COMM_TIMEOUT"); /* the default (300 s) is checked, then replaced */
  jfa_context_t *ctx = NULL;
  jfa_comm_t *comm = NULL;
  MPI_Comm w = MPI_COMM_WORLD;
  double timeout = -1;
  int setup_ok = jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) == JFA_SUCCESS &&
                 jfa_comm_create_mpi(&comm, &w) == JFA_SUCCESS;
  if (setup_ok && !stop) {
    setup_ok = jfa_comm_set_timeout(comm, NAN) == JFA_ERROR_INVALID_ARGUMENT; /* NaN is rejected */
    setup_ok = setup_ok && jfa_comm_get_timeout(comm, &timeout) == JFA_SUCCESS && timeout == 300.0;
    setup_ok = setup_ok && jfa_comm_set_timeout(comm, TIMEOUT_S) == JFA_SUCCESS;
  }
  setup_ok = setup_ok && jfa_comm_get_timeout(comm, &timeout) == JFA_SUCCESS && timeout == TIMEOUT_S;
  if (!setup_ok) {
    printf("fault test FAILED: rank %d: setup (timeout %g): %s\n", rank_, timeout, jfa_get_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  jfa_context_set_num_threads(ctx, 1);
  if (comm_mode) run_comm_mode(ctx, comm);

  jfa_ring_config_t cfg;
  jfa_ring_config_init(&cfg);
  cfg.batch = 1;
  cfg.heads_q = 4;
  cfg.heads_kv = 2;
  cfg.head_dim = 64;
  cfg.seq_global = stop ? 768 * size_ : 64 * size_; /* stop: a healthy call takes ~0.35 s on the 2-core CI machine, well inside the 2 s timeout */
  cfg.dtype = stop ? JFA_DTYPE_FLOAT64 : JFA_DTYPE_FLOAT32;
  cfg.layout = JFA_LAYOUT_ZIGZAG;
  cfg.mask = JFA_MASK_CAUSAL_TOP_LEFT;
  jfa_ring_t *ring = NULL;
  shards_t s;
  make_shards(&s, &cfg);
  if (jfa_ring_create(&ring, ctx, comm, &cfg) != JFA_SUCCESS) {
    printf("fault test FAILED: rank %d: jfa_ring_create: %s\n", rank_, jfa_get_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  /* two healthy calls on every rank: the comm works, and the second (warm) one sizes the stop timer */
  double t0 = 0, healthy_s = 0, slowest = 0;
  for (int i = 0; i < 2; ++i) {
    t0 = now();
    if (forward(ring, &s) != JFA_SUCCESS) {
      printf("fault test FAILED: rank %d: healthy jfa_ring_forward: %s\n", rank_, jfa_get_last_error());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    healthy_s = now() - t0;
  }
  MPI_Allreduce(&healthy_s, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  if (rank_ == 0)
    printf("fault test (%s): %d ranks, %s N=%lld, timeout %g s; a healthy jfa_ring_forward takes %.3f s\n", mode,
           size_, jfa_dtype_name(cfg.dtype), (long long)cfg.seq_global, timeout, slowest);

  if (rank_ == FAULTY) {
    if (!stop) {
      printf("rank %d: skipping jfa_ring_forward (as if it had failed before the call)\n", rank_);
      wait_for_abort();
    }
    arm_stop_timer(0.5 * slowest); /* about the middle of the first call */
    double end = now() + 30;
    while (now() < end) {
      if (forward(ring, &s) != JFA_SUCCESS) {
        if (stopped) wait_for_abort(); /* resumed by the job's end: its peers are gone */
        printf("fault test FAILED: rank %d: jfa_ring_forward failed before the rank was stopped: %s\n", rank_,
               jfa_get_last_error());
        break;
      }
    }
    if (!stopped) printf("fault test FAILED: rank %d was not stopped\n", rank_);
    wait_for_abort();
  }

  /* a surviving rank: the call must fail within the bound */
  jfa_status_t st = JFA_SUCCESS;
  double call_s = 0;
  int calls = 0;
  double end = now() + 30;
  do {
    t0 = now();
    st = forward(ring, &s);
    call_s = now() - t0;
    ++calls;
  } while (stop && st == JFA_SUCCESS && now() < end);
  int ok = 1;
  if (st == JFA_SUCCESS) printf("fault test FAILED: rank %d: %d calls of jfa_ring_forward succeeded\n", rank_, calls);
  char what[64];
  snprintf(what, sizeof what, "call %d of jfa_ring_forward", calls);
  ok = st != JFA_SUCCESS && check_failure(what, st, call_s, "did not complete");
  /* a later call fails at once */
  t0 = now();
  jfa_status_t again = forward(ring, &s);
  double again_s = now() - t0;
  if (again == JFA_SUCCESS || !strstr(jfa_get_last_error(), "communicator failed earlier") || again_s > AT_ONCE_S) {
    printf("fault test FAILED: rank %d: the next call returned %s after %.3f s: %s\n", rank_,
           jfa_status_string(again), again_s, jfa_get_last_error());
    ok = 0;
  }
  int brank = -1;
  if (jfa_comm_barrier(comm) == JFA_SUCCESS || jfa_comm_rank(comm, &brank) != JFA_SUCCESS || brank != rank_) {
    printf("fault test FAILED: rank %d: jfa_comm_barrier succeeded on a failed communicator\n", rank_);
    ok = 0;
  }
  /* destroying the ring and the communicator does not wait on the failed rank */
  t0 = now();
  jfa_ring_destroy(ring);
  jfa_comm_destroy(comm);
  double destroy_s = now() - t0;
  if (destroy_s > AT_ONCE_S) {
    printf("fault test FAILED: rank %d: destroy took %.3f s\n", rank_, destroy_s);
    ok = 0;
  }
  printf("rank %d: next call failed in %.4f s, destroy took %.4f s\n", rank_, again_s, destroy_s);

  finish(ok, call_s, again_s, destroy_s);
  return 1;
}
