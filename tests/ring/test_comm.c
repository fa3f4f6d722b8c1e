/*
 * test_comm.c - the communicators' ring exchange, min/max allreduce and barrier.
 *
 *   mpirun -np 3 --oversubscribe ./test_comm          (CPU: single and MPI comms)
 *   mpirun -np 2 --oversubscribe ./test_comm gpu      (CUDA: MPI staged, NCCL; 77 without GPU)
 *
 * Each rank fills several buffers (sizes 1 byte .. 1 MiB + 3) with a pattern of
 * (rank, buffer, index), runs exchange_start / exchange_wait a few times in a
 * row (the ring's double buffering) and checks that every byte came from the
 * previous rank. The NCCL comm runs with P = min(ranks, GPUs): on one GPU that
 * is P = 1, a send to itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "comm/comm.h"
#include "ringtest.h"
#include "testutil.h"

/* The tags of the comm's point-to-point messages, seen through the MPI profiling interface (this executable's
   MPI_Isend / MPI_Irecv bind the static library's calls): MPI guarantees tags up to 32767 only (MPI_TAG_UB), and
   Intel MPI (524287) and Cray MPICH (2097151) refused the tags above that which the comm once used. */
static int g_min_tag = 1 << 30, g_max_tag = -1;
static void note_tag(int tag) {
  if (tag < g_min_tag) g_min_tag = tag;
  if (tag > g_max_tag) g_max_tag = tag;
}
int MPI_Isend(const void *buf, int count, MPI_Datatype dt, int dest, int tag, MPI_Comm comm, MPI_Request *req) {
  note_tag(tag);
  return PMPI_Isend(buf, count, dt, dest, tag, comm, req);
}
int MPI_Irecv(void *buf, int count, MPI_Datatype dt, int src, int tag, MPI_Comm comm, MPI_Request *req) {
  note_tag(tag);
  return PMPI_Irecv(buf, count, dt, src, tag, comm, req);
}

#define NB 4
static const size_t sizes[NB] = {1, 1000, 65536 + 7, (1u << 20) + 3};

static unsigned char pattern(int rank, int round, int buf, size_t i) {
  return (unsigned char)(rank * 31 + round * 17 + buf * 7 + (int)(i % 251));
}

/* Runs rounds of exchanges on comm with buffers on ctx's device; returns the number of bad bytes. */
static long run_exchange(jfa_comm_t *comm, jfa_context_t *ctx, int rounds) {
  jfa_device_t dev;
  int devidx;
  jfa_context_get_device(ctx, &dev, &devidx);
  int rank = comm->rank, P = comm->size, prev = (rank - 1 + P) % P;
  void *send[NB], *recv[NB];
  unsigned char *host = (unsigned char *)malloc(sizes[NB - 1]);
  long bad = 0;
  for (int b = 0; b < NB; ++b) {
    if (dev == JFA_DEVICE_CPU) {
      send[b] = malloc(sizes[b]);
      recv[b] = malloc(sizes[b]);
    } else {
#ifdef JFA_HAVE_CUDA
      cudaSetDevice(devidx);
      cudaMalloc(&send[b], sizes[b]);
      cudaMalloc(&recv[b], sizes[b]);
#endif
    }
  }
  for (int round = 0; round < rounds; ++round) {
    jfa_comm_buf_t bufs[NB];
    for (int b = 0; b < NB; ++b) {
      for (size_t i = 0; i < sizes[b]; ++i) host[i] = pattern(rank, round, b, i);
      if (dev == JFA_DEVICE_CPU) {
        memcpy(send[b], host, sizes[b]);
        memset(recv[b], 0xEE, sizes[b]);
      } else {
#ifdef JFA_HAVE_CUDA
        cudaMemcpy(send[b], host, sizes[b], cudaMemcpyHostToDevice);
        cudaMemset(recv[b], 0xEE, sizes[b]);
        cudaDeviceSynchronize();
#endif
      }
      bufs[b].send = send[b];
      bufs[b].recv = recv[b];
      bufs[b].bytes = sizes[b];
    }
    jfa_status_t s = comm->ops->exchange_start(comm, ctx, bufs, NB);
    if (s == JFA_SUCCESS) s = comm->ops->exchange_wait(comm, ctx);
    if (s == JFA_SUCCESS) s = jfa_context_synchronize(ctx);
    if (s != JFA_SUCCESS) {
      fprintf(stderr, "rank %d: exchange: %s\n", rank, jfa_get_last_error());
      bad += 1;
      break;
    }
    for (int b = 0; b < NB; ++b) {
      if (dev == JFA_DEVICE_CPU) {
        memcpy(host, recv[b], sizes[b]);
      } else {
#ifdef JFA_HAVE_CUDA
        cudaMemcpy(host, recv[b], sizes[b], cudaMemcpyDeviceToHost);
#endif
      }
      for (size_t i = 0; i < sizes[b]; ++i) bad += host[i] != pattern(prev, round, b, i);
    }
  }
  for (int b = 0; b < NB; ++b) {
    if (dev == JFA_DEVICE_CPU) {
      free(send[b]);
      free(recv[b]);
    } else {
#ifdef JFA_HAVE_CUDA
      cudaFree(send[b]);
      cudaFree(recv[b]);
#endif
    }
  }
  free(host);
  return bad;
}

/* min/max allreduce of (rank, -rank, 7) and a barrier. */
static int check_reduce(jfa_comm_t *comm) {
  int64_t in[3] = {comm->rank, -comm->rank, 7}, lo[3], hi[3];
  if (comm->ops->allreduce_minmax(comm, in, lo, hi, 3) != JFA_SUCCESS) return 0;
  if (jfa_comm_barrier(comm) != JFA_SUCCESS) return 0;
  int P = comm->size;
  return lo[0] == 0 && hi[0] == P - 1 && lo[1] == -(P - 1) && hi[1] == 0 && lo[2] == 7 && hi[2] == 7;
}

/* the same verdict on every rank of MPI_COMM_WORLD */
static void expect_world(const char *name, int ok) {
  int all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  tu_expect(name, all);
}

int main(int argc, char **argv) {
  int wr, ws;
  rt_init(&argc, &argv, "test_comm", &wr, &ws);
  int gpu = argc > 1 && !strcmp(argv[1], "gpu");
  MPI_Comm world = MPI_COMM_WORLD;
  if (!gpu) {
    jfa_context_t *cpu = NULL;
    jfa_context_create(&cpu, JFA_DEVICE_CPU, 0);
    jfa_comm_t *single = NULL, *mpi = NULL;
    expect_world("create single", jfa_comm_create_single(&single) == JFA_SUCCESS);
    expect_world("single: rank 0 of 1", single->rank == 0 && single->size == 1);
    expect_world("single: exchange copies to itself", run_exchange(single, cpu, 2) == 0);
    expect_world("single: allreduce and barrier", check_reduce(single));
    expect_world("create mpi", jfa_comm_create_mpi(&mpi, &world) == JFA_SUCCESS);
    int r = -1, s = -1;
    jfa_comm_rank(mpi, &r);
    jfa_comm_size(mpi, &s);
    expect_world("mpi: rank and size", r == wr && s == ws);
    expect_world("mpi: exchange of 4 host buffers, 3 rounds", run_exchange(mpi, cpu, 3) == 0);
    printf("mpi: tags %d..%d\n", g_min_tag, g_max_tag);
    expect_world("mpi: its messages' tags in MPI's guaranteed range (0..32767)",
                 ws == 1 || (g_max_tag >= 0 && g_min_tag >= 0 && g_max_tag <= 32767));
    expect_world("mpi: allreduce and barrier", check_reduce(mpi));
    {
      jfa_comm_t *x = (jfa_comm_t *)(uintptr_t)1;
      expect_world("mpi: NULL mpi_comm is INVALID_ARGUMENT",
                   jfa_comm_create_mpi(&x, NULL) == JFA_ERROR_INVALID_ARGUMENT && x == NULL);
      expect_world("rank: NULL comm is INVALID_ARGUMENT", jfa_comm_rank(NULL, &r) == JFA_ERROR_INVALID_ARGUMENT);
      expect_world("destroy NULL is fine", jfa_comm_destroy(NULL) == JFA_SUCCESS);
    }
    jfa_comm_destroy(single);
    jfa_comm_destroy(mpi);
    jfa_context_destroy(cpu);
  } else {
    int count = 0, have = jfa_cuda_available(&count), all = 0;
    MPI_Allreduce(&have, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all) {
      printf("test_comm gpu: no GPU, not run\n");
      MPI_Finalize();
      return TU_SKIP;
    }
    MPI_Comm node;
    int local = 0;
    MPI_Comm_split_type(world, MPI_COMM_TYPE_SHARED, wr, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
    jfa_context_t *ctx = NULL;
    expect_world("CUDA context", jfa_context_create(&ctx, JFA_DEVICE_CUDA, local % count) == JFA_SUCCESS);
    jfa_comm_t *mpi = NULL;
    expect_world("create mpi", jfa_comm_create_mpi(&mpi, &world) == JFA_SUCCESS);
    expect_world("mpi: exchange of 4 device buffers (staged), 3 rounds", run_exchange(mpi, ctx, 3) == 0);
    size_t staged = mpi->ops->staging_bytes(mpi);
    expect_world("mpi: staging is pinned host memory of 2 x the exchange", staged >= 2 * (sizes[0] + sizes[1] + sizes[2] + sizes[3]));
    jfa_comm_destroy(mpi);
#ifdef JFA_HAVE_NCCL
    {
      int Pn = ws < count ? ws : count;
      MPI_Comm g;
      MPI_Comm_split(world, wr < Pn ? 0 : MPI_UNDEFINED, wr, &g);
      int ok = 1;
      if (g != MPI_COMM_NULL) {
        jfa_comm_t *nc = NULL;
        int dev = -1;
        jfa_context_t *nctx = NULL;
        ok = jfa_comm_create_nccl_from_mpi(&nc, &g, &dev) == JFA_SUCCESS;
        if (!ok) fprintf(stderr, "nccl: %s\n", jfa_get_last_error());
        if (ok) ok = jfa_context_create(&nctx, JFA_DEVICE_CUDA, dev) == JFA_SUCCESS;
        if (ok) ok = nc->size == Pn && run_exchange(nc, nctx, 3) == 0;
        if (ok) ok = check_reduce(nc);
        jfa_comm_destroy(nc);
        jfa_context_destroy(nctx);
        MPI_Comm_free(&g);
      }
      char name[128];
      snprintf(name, sizeof(name), "nccl P=%d: exchange, allreduce, barrier", Pn);
      expect_world(name, ok);
    }
#else
    printf("NCCL not built: its checks are not run\n");
#endif
    jfa_context_destroy(ctx);
  }
  int rc = tu_finish();
  MPI_Finalize();
  return rc;
}
