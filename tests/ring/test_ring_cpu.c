/*
 * test_ring_cpu.c - ring attention on CPU ranks equals single-rank attention.
 *
 *   mpirun -np 8 --oversubscribe ./test_ring_cpu
 *
 * MPI_COMM_WORLD is split into groups of P ranks for every P in {1, 2, 3, 4, 8}
 * that fits the world (ranks left over sit out that P). Every case (fp64 and
 * fp32, contiguous and zigzag, causal and not, GQA and MHA, one row per chunk)
 * runs on every P with the same inputs; causal given as TOP_LEFT and as BOTTOM_RIGHT; every output (O, lse, Od, mu, and O, lse
 * of the plain forward, dQ, dK, dV) is compared with the independent float64
 * reference (ref64.h) over the full sequence, every row, each rank's rows picked
 * by the documented layout formula. Also: the error does not grow with P
 * (err(P=8) <= 10 err(P=2) + floor), the one-rank communicator at P=1, and
 * fully masked blocks (causal: early queries against late keys) leave no NaN.
 * Local tensors are BHSD, (B, S, H, D) views, or padded views with a non-unit
 * stride on every axis (head dim included, lse and mu too).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ringtest.h"
#include "testutil.h"

static const int Ps[] = {1, 2, 3, 4, 8};
#define NP ((int)(sizeof(Ps) / sizeof(Ps[0])))

int main(int argc, char **argv) {
  int wr, ws;
  uint64_t seed = rt_init(&argc, &argv, "test_ring_cpu", &wr, &ws);
  jfa_context_t *cpu = NULL;
  if (jfa_context_create(&cpu, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) {
    fprintf(stderr, "context: %s\n", jfa_get_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  jfa_context_set_num_threads(cpu, 1);

  /* cases: N divides by 2 * 3 * 8 = 48 so every P runs both layouts */
  rt_case_t cases[48];
  int nc = 0;
  for (int dt = 0; dt < 2; ++dt)
    for (int lay = 0; lay < 2; ++lay)
      for (int causal = 0; causal < 2; ++causal) {
        rt_case_t c = {2, 4, 2, 48, 12, dt ? JFA_DTYPE_FLOAT32 : JFA_DTYPE_FLOAT64,
                       lay ? JFA_LAYOUT_ZIGZAG : JFA_LAYOUT_CONTIGUOUS, causal, 0, 0, 0, 0, 0, NULL};
        cases[nc++] = c;
      }
  { rt_case_t c = {1, 3, 3, 96, 5, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 1, 0, 0, 0, 0, 0, NULL}; cases[nc++] = c; } /* MHA, odd D */
  { rt_case_t c = {1, 6, 1, 48, 7, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 1, 0, 0, 0, 0, 0, NULL}; cases[nc++] = c; } /* MQA */
  { rt_case_t c = {2, 4, 2, 48, 6, JFA_DTYPE_FLOAT32, JFA_LAYOUT_ZIGZAG, 1, 1, 0, 0, 0, 0, NULL}; cases[nc++] = c; } /* BSHD views */
  { rt_case_t c = {2, 4, 2, 48, 5, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 1, 2, 0, 0, 0, 0, NULL}; cases[nc++] = c; } /* padded */
  { rt_case_t c = {1, 2, 1, 48, 4, JFA_DTYPE_FLOAT32, JFA_LAYOUT_CONTIGUOUS, 0, 2, 1, 3, 2, 0, NULL}; cases[nc++] = c; }
  /* causal given as JFA_MASK_CAUSAL_BOTTOM_RIGHT (config.mask; the same mask as TOP_LEFT since Nq == Nk) */
  { rt_case_t c = {2, 4, 2, 48, 6, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 2, 0, 0, 0, 0, 0, NULL}; cases[nc++] = c; }
  { rt_case_t c = {1, 2, 1, 96, 5, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 2, 0, 1, 5, 0, 0, NULL}; cases[nc++] = c; }
  /* sliding windows (global positions) and packed sequences (lengths 1, 7 and longer,
     empty ones, sequences crossing rank boundaries), contiguous and zigzag */
  static const int64_t cu_mix[] = {0, 1, 8, 8, 30, 31, 96};      /* 1, 7, 0, 22, 1, 65 */
  static const int64_t cu_many[] = {0, 7, 14, 21, 28, 35, 42, 48}; /* 7 x 7 and 6 */
  for (int lay = 0; lay < 2; ++lay) {
    jfa_layout_t L = lay ? JFA_LAYOUT_ZIGZAG : JFA_LAYOUT_CONTIGUOUS;
    { rt_case_t c = {2, 4, 2, 96, 6, JFA_DTYPE_FLOAT64, L, 1, 0, 1, 5, 0, 0, NULL}; cases[nc++] = c; }
    { rt_case_t c = {1, 2, 1, 96, 5, JFA_DTYPE_FLOAT64, L, 0, 0, 1, 3, 9, 0, NULL}; cases[nc++] = c; }
    { rt_case_t c = {1, 2, 2, 48, 4, JFA_DTYPE_FLOAT64, L, 0, 0, 1, 0, 0, 0, NULL}; cases[nc++] = c; } /* window 0 */
    { rt_case_t c = {1, 4, 2, 96, 6, JFA_DTYPE_FLOAT64, L, 1, 0, 0, -1, -1, 6, cu_mix}; cases[nc++] = c; }
    { rt_case_t c = {1, 2, 1, 96, 5, JFA_DTYPE_FLOAT64, L, 0, 0, 0, -1, -1, 6, cu_mix}; cases[nc++] = c; }
    { rt_case_t c = {1, 2, 1, 48, 4, JFA_DTYPE_FLOAT32, L, 1, 0, 1, 2, 0, 7, cu_many}; cases[nc++] = c; }
    { rt_case_t c = {1, 3, 1, 96, 4, JFA_DTYPE_FLOAT64, L, 1, 0, 1, 4, -1, 6, cu_mix}; cases[nc++] = c; }
  }

  for (int ci = 0; ci < nc; ++ci) {
    const rt_case_t *c = &cases[ci];
    char desc[128];
    rt_describe(c, desc, sizeof(desc));
    double errs[NP][RT_NOUT];
    int ran[NP] = {0};
    double tol = c->dtype == JFA_DTYPE_FLOAT64 ? 1e-12 : 1e-6;
    for (int pi = 0; pi < NP; ++pi) {
      int P = Ps[pi];
      if (P > ws) continue;
      ran[pi] = 1;
      int groups = ws / P;
      int color = wr < groups * P ? wr / P : MPI_UNDEFINED;
      MPI_Comm g;
      MPI_Comm_split(MPI_COMM_WORLD, color, wr, &g);
      double e[RT_NOUT];
      for (int i = 0; i < RT_NOUT; ++i) e[i] = 0.0;
      int failed = 0;
      if (g != MPI_COMM_NULL) {
        jfa_comm_t *comm = NULL;
        jfa_status_t s = jfa_comm_create_mpi(&comm, &g);
        if (s == JFA_SUCCESS) s = rt_run_case(c, seed + (uint64_t)ci, g, comm, cpu, cpu, e);
        if (s != JFA_SUCCESS) failed = 1;
        jfa_comm_destroy(comm);
        MPI_Comm_free(&g);
      }
      /* worst over the groups (a NaN anywhere counts as a failure) */
      int anynan = failed;
      for (int i = 0; i < RT_NOUT; ++i) anynan |= isnan(e[i]);
      int allnan = 0;
      MPI_Allreduce(&anynan, &allnan, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, e, RT_NOUT, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      for (int i = 0; i < RT_NOUT; ++i) {
        errs[pi][i] = allnan ? NAN : e[i];
        char name[256];
        snprintf(name, sizeof(name), "%s P=%d %s", desc, P, rt_out_names[i]);
        tu_check(name, errs[pi][i], tol);
      }
    }
    /* the error must not grow with P */
    if (ran[1] && ran[NP - 1]) {
      double floor = c->dtype == JFA_DTYPE_FLOAT64 ? 1e-15 : 1e-7;
      for (int i = 0; i < RT_NOUT; ++i) {
        char name[256];
        snprintf(name, sizeof(name), "%s growth %s: err(P=%d) - 10 err(P=2) - floor", desc,
                 rt_out_names[i], Ps[NP - 1]);
        double excess = errs[NP - 1][i] - (10.0 * errs[1][i] + floor);
        tu_check(name, excess > 0 ? excess : 0.0, 0.0);
      }
    }
  }

  /* the packed cases again on the largest P, each ring created with one sequence over the whole global sequence and
     given the case's offsets by jfa_ring_set_seqlens (buffers kept): the same answers against the reference */
  {
    int P = 1;
    for (int pi = 0; pi < NP; ++pi)
      if (Ps[pi] <= ws) P = Ps[pi];
    MPI_Comm g;
    MPI_Comm_split(MPI_COMM_WORLD, wr < P ? 0 : MPI_UNDEFINED, wr, &g);
    rt_set_offsets_after_create(1);
    int npacked = 0;
    for (int ci = 0; ci < nc; ++ci) {
      const rt_case_t *c = &cases[ci];
      if (c->num_seqs == 0) continue;
      ++npacked;
      char desc[128];
      rt_describe(c, desc, sizeof(desc));
      double e[RT_NOUT];
      for (int i = 0; i < RT_NOUT; ++i) e[i] = 0.0;
      int failed = 0, anyfail = 0;
      if (g != MPI_COMM_NULL) {
        jfa_comm_t *comm = NULL;
        jfa_status_t s = jfa_comm_create_mpi(&comm, &g);
        if (s == JFA_SUCCESS) s = rt_run_case(c, seed + (uint64_t)ci, g, comm, cpu, cpu, e);
        failed = s != JFA_SUCCESS;
        jfa_comm_destroy(comm);
      }
      MPI_Allreduce(&failed, &anyfail, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
      MPI_Allreduce(MPI_IN_PLACE, e, RT_NOUT, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      for (int i = 0; i < RT_NOUT; ++i) {
        char name[256];
        snprintf(name, sizeof(name), "%s P=%d, offsets given by jfa_ring_set_seqlens: %s", desc, P, rt_out_names[i]);
        tu_check(name, anyfail ? NAN : e[i], c->dtype == JFA_DTYPE_FLOAT64 ? 1e-12 : 1e-6);
      }
    }
    rt_set_offsets_after_create(0);
    if (g != MPI_COMM_NULL) MPI_Comm_free(&g);
    tu_expect("packed cases run with offsets set after creation", npacked >= 8);
  }

  /* the one-rank communicator equals single-rank attention */
  {
    MPI_Comm self = MPI_COMM_SELF;
    jfa_comm_t *single = NULL;
    double e[RT_NOUT];
    jfa_status_t s = jfa_comm_create_single(&single);
    rt_case_t c = {2, 4, 2, 7, 5, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 1, 0, 0, 0, 0, 0, NULL}; /* N = 7 at P = 1 */
    if (s == JFA_SUCCESS) s = rt_run_case(&c, seed + 100, self, single, cpu, cpu, e);
    jfa_comm_destroy(single);
    tu_expect("single comm N=7 runs", s == JFA_SUCCESS);
    for (int i = 0; i < RT_NOUT; ++i) {
      char name[128];
      snprintf(name, sizeof(name), "single comm N=7 %s", rt_out_names[i]);
      tu_check(name, s == JFA_SUCCESS ? e[i] : NAN, 1e-12);
    }
    rt_case_t c1 = {1, 2, 1, 1, 3, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 1, 0, 0, 0, 0, 0, NULL}; /* N = 1 */
    s = jfa_comm_create_single(&single);
    if (s == JFA_SUCCESS) s = rt_run_case(&c1, seed + 101, self, single, cpu, cpu, e);
    jfa_comm_destroy(single);
    for (int i = 0; i < RT_NOUT; ++i) {
      char name[128];
      snprintf(name, sizeof(name), "single comm N=1 %s", rt_out_names[i]);
      tu_check(name, s == JFA_SUCCESS ? e[i] : NAN, 1e-12);
    }
  }

  /* one row per rank (N = P, contiguous; every block but the diagonal is fully masked for
     half of the ranks) over the whole world */
  {
    jfa_comm_t *comm = NULL;
    MPI_Comm w = MPI_COMM_WORLD;
    double e[RT_NOUT];
    rt_case_t c = {1, 2, 2, ws, 4, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 1, 0, 0, 0, 0, 0, NULL};
    jfa_status_t s = jfa_comm_create_mpi(&comm, &w);
    if (s == JFA_SUCCESS) s = rt_run_case(&c, seed + 200, w, comm, cpu, cpu, e);
    jfa_comm_destroy(comm);
    int ok = s == JFA_SUCCESS, all = 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    for (int i = 0; i < RT_NOUT; ++i) {
      char name[128];
      snprintf(name, sizeof(name), "N=P=%d one row per rank %s", ws, rt_out_names[i]);
      tu_check(name, all ? e[i] : NAN, 1e-12);
    }
  }

  jfa_context_destroy(cpu);
  int rc = tu_finish();
  MPI_Finalize();
  return rc;
}
