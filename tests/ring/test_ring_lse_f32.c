/*
 * test_ring_lse_f32.c - the CPU ring backwards given a float32 lse that cannot carry its rows: the gradients (and the
 * backward-JVP's six outputs) are as accurate as the single-rank call's with the same lse (which recomputes such rows
 * from their scores: row_shift.c), both against the single-rank call with a float64 lse and mu.
 *
 *   mpirun -np 3 --oversubscribe ./test_ring_lse_f32
 *
 * Cases, float64 data with a float32 lse and mu from the ring's forward-JVP, contiguous and zigzag, causal and not:
 *   - |lse| ~ 3000 (each row's scores shifted by +-3000, the softmax spread): the float32 lse is off by up to 1.2e-4
 *     there, and the ring's block backwards read it as given: gradients that far off, where the single-rank call
 *     recomputes those rows;
 *   - scores ~1e40, beyond float32 (float64 data): the float32 lse is +-inf, and the ring gave zero gradients with
 *     success.
 * And only rank 0's rows so shifted (every rank runs the second forward), once with the other ranks' lse and mu float64.
 * Not covered (include/jfa_ring.h): rows whose float64 lse cannot carry them either (|lse| beyond ~1e13 with a spread
 * softmax: scores tied within the lse's rounding), which the single-rank CPU call recomputes from their scores.
 * The ring now runs its forward again into a float64 lse when any rank's float32 lse has such a row (exact_lse.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringtest.h"
#include "testutil.h"

enum { B = 1, HQ = 2, HKV = 1, D = 8, NT = 15 }; /* NT: tensors of a case (below) */

/* largest |got - want| over the local rows, scaled by the largest |want| of the whole tensor (the world's) */
static double max_abs(const double *got, const double *want, size_t n) {
  double e = 0.0;
  for (size_t x = 0; x < n; ++x) {
    const double d = fabs(got[x] - want[x]);
    if (!(d <= e)) e = d; /* NaN: kept */
  }
  return e;
}

int main(int argc, char **argv) {
  int rank, P;
  uint64_t seed = rt_init(&argc, &argv, "test_ring_lse_f32", &rank, &P);
  jfa_context_t *cpu;
  jfa_comm_t *comm;
  rt_cpu_world(&cpu, &comm);
  jfa_context_set_num_threads(cpu, 1);
  const int64_t N = 8 * P, n = N / P;
  for (int ci = 0; ci < 10; ++ci) {
    const jfa_layout_t lay = ci & 1 && ci < 8 ? JFA_LAYOUT_ZIGZAG : JFA_LAYOUT_CONTIGUOUS;
    const int causal = ci < 8 && (ci >> 1) & 1;
    const int huge = ci >> 2 == 1;
    /* cases 8, 9: only rank 0's rows (contiguous) carry the shift, so only its lse needs the float64 one (every rank
       must run the second forward); case 9: ranks other than 0 give a float64 lse and mu (a rank's own choice) */
    const int rank0_only = ci >= 8, mixed = ci == 9 && rank != 0;
    /* the tensors: q k v qd kd vd do dod (inputs), o lse od mu (forward-JVP), dqd dkd dvd dq dk dv (bwd-JVP) */
    enum { Q, K, V, QD, KD, VD, DO, DOD, O, L, OD, MU, DQD, DKD, DVD, DQ, DK, DV, NALL };
    const int heads[NALL] = {HQ, HKV, HKV, HQ, HKV, HKV, HQ, HQ, HQ, HQ, HQ, HQ, HQ, HKV, HKV, HQ, HKV, HKV};
    double *full[NALL], *loc[NALL];
    float *flse = malloc(sizeof(float) * (size_t)(B * HQ * N)), *fmu = malloc(sizeof(float) * (size_t)(B * HQ * N));
    float *llse = malloc(sizeof(float) * (size_t)(B * HQ * n)), *lmu = malloc(sizeof(float) * (size_t)(B * HQ * n));
    jfa_tensor_t ft[NALL], lt[NALL];
    rt_seed(seed + (uint64_t)ci);
    for (int i = 0; i < NALL; ++i) {
      const int64_t dim = i == L || i == MU ? 1 : D;
      const size_t fe = (size_t)(B * heads[i] * N * dim), le = (size_t)(B * heads[i] * n * dim);
      full[i] = (double *)malloc(fe * 8);
      loc[i] = (double *)malloc(le * 8);
      for (size_t x = 0; x < fe; ++x) full[i][x] = i <= DOD ? rt_normal() * (huge && (i == Q || i == K) ? 1e20 : 1) : NAN;
      /* |lse| ~ 3000: every key's component 0 is 1 (its tangent 0) and each query's +-3000 sqrt(D), so each score is
         +-3000 plus a N(0, 1) part and the softmax stays spread (large scores alone make one-hot rows, whose dQ and
         dK vanish whatever the lse); beyond float32 (huge): q, k ~ N(0, 1e40), scores ~1e40, one-hot rows (dV: the
         row's dO at its largest key; an lse of +-inf gave it 0) */
      for (size_t x = 0; x < fe && !huge; x += D)
        if (i == K || i == KD) full[i][x] = i == K ? 1.0 : 0.0;
        else if (i == Q && (!rank0_only || (int64_t)(x / D) % N < n))
          full[i][x] = (x / D % 2 ? -3000.0 : 3000.0) * sqrt((double)D);
      for (size_t x = 0; x < le; ++x) loc[i][x] = NAN;
      ft[i] = jfa_tensor_bhsd(full[i], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, heads[i], N, dim);
      lt[i] = jfa_tensor_bhsd(loc[i], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, heads[i], n, dim);
    }
    /* float32 lse and mu (the caller's choice under test) */
    ft[L] = jfa_tensor_bhsd(flse, JFA_DTYPE_FLOAT32, JFA_DEVICE_CPU, B, HQ, N, 1);
    ft[MU] = jfa_tensor_bhsd(fmu, JFA_DTYPE_FLOAT32, JFA_DEVICE_CPU, B, HQ, N, 1);
    if (!mixed) {
      lt[L] = jfa_tensor_bhsd(llse, JFA_DTYPE_FLOAT32, JFA_DEVICE_CPU, B, HQ, n, 1);
      lt[MU] = jfa_tensor_bhsd(lmu, JFA_DTYPE_FLOAT32, JFA_DEVICE_CPU, B, HQ, n, 1);
    }
    jfa_attention_params_t prm;
    jfa_attention_params_init(&prm);
    prm.mask = causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
    /* the single-rank calls over the whole sequence, forward-JVP then backward-JVP: with float64 lse and mu (the
       reference: full[DQD .. DV]), then with the float32 ones (sg[]: its own error, the bound the ring must meet) */
    double *lse64 = malloc(sizeof(double) * (size_t)(B * HQ * N)), *mu64 = malloc(sizeof(double) * (size_t)(B * HQ * N));
    jfa_tensor_t tl64 = jfa_tensor_bhsd(lse64, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, 1);
    jfa_tensor_t tm64 = jfa_tensor_bhsd(mu64, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, 1);
    int ok = jfa_attention_forward_jvp(cpu, &prm, &ft[Q], &ft[K], &ft[V], &ft[QD], &ft[KD], &ft[VD], &ft[O], &tl64,
                                       &ft[OD], &tm64) == JFA_SUCCESS &&
             jfa_attention_backward_jvp(cpu, &prm, &ft[Q], &ft[K], &ft[V], &ft[QD], &ft[KD], &ft[VD], &ft[O], &tl64,
                                        &ft[OD], &tm64, &ft[DO], &ft[DOD], &ft[DQD], &ft[DKD], &ft[DVD], &ft[DQ],
                                        &ft[DK], &ft[DV]) == JFA_SUCCESS;
    double *sg[NALL] = {0};
    jfa_tensor_t st[NALL];
    for (int i = DQD; i <= DV; ++i) {
      sg[i] = (double *)malloc(sizeof(double) * (size_t)(B * heads[i] * N * D));
      st[i] = jfa_tensor_bhsd(sg[i], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, heads[i], N, D);
    }
    ok &= jfa_attention_forward_jvp(cpu, &prm, &ft[Q], &ft[K], &ft[V], &ft[QD], &ft[KD], &ft[VD], &ft[O], &ft[L],
                                    &ft[OD], &ft[MU]) == JFA_SUCCESS &&
          jfa_attention_backward_jvp(cpu, &prm, &ft[Q], &ft[K], &ft[V], &ft[QD], &ft[KD], &ft[VD], &ft[O], &ft[L],
                                     &ft[OD], &ft[MU], &ft[DO], &ft[DOD], &st[DQD], &st[DKD], &st[DVD], &st[DQ],
                                     &st[DK], &st[DV]) == JFA_SUCCESS;
    int lse_inf = 0;
    for (int64_t r = 0; r < B * HQ * N; ++r) lse_inf |= isinf(flse[r]);

    /* the ring: forward-JVP into float32 lse and mu, then the backward and the backward-JVP from them */
    for (int i = Q; i <= DOD; ++i) ok &= jfa_layout_shard(cpu, lay, rank, P, &ft[i], &lt[i]) == JFA_SUCCESS;
    jfa_ring_config_t cfg;
    jfa_ring_config_init(&cfg);
    cfg.batch = B, cfg.heads_q = HQ, cfg.heads_kv = HKV, cfg.seq_global = N, cfg.head_dim = D;
    cfg.dtype = JFA_DTYPE_FLOAT64, cfg.layout = lay, cfg.mask = prm.mask;
    jfa_ring_t *ring = NULL;
    double *bq = malloc(sizeof(double) * (size_t)(B * HQ * n * D)), *bk = malloc(sizeof(double) * (size_t)(B * n * D)),
           *bv = malloc(sizeof(double) * (size_t)(B * n * D));
    jfa_tensor_t tbq = jfa_tensor_bhsd(bq, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, n, D);
    jfa_tensor_t tbk = jfa_tensor_bhsd(bk, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HKV, n, D);
    jfa_tensor_t tbv = jfa_tensor_bhsd(bv, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HKV, n, D);
    ok &= jfa_ring_create(&ring, cpu, comm, &cfg) == JFA_SUCCESS &&
          jfa_ring_forward_jvp(ring, &lt[Q], &lt[K], &lt[V], &lt[QD], &lt[KD], &lt[VD], &lt[O], &lt[L], &lt[OD],
                               &lt[MU]) == JFA_SUCCESS &&
          jfa_ring_backward(ring, &lt[Q], &lt[K], &lt[V], &lt[O], &lt[L], &lt[DO], &tbq, &tbk, &tbv) == JFA_SUCCESS &&
          jfa_ring_backward_jvp(ring, &lt[Q], &lt[K], &lt[V], &lt[QD], &lt[KD], &lt[VD], &lt[O], &lt[L], &lt[OD],
                                &lt[MU], &lt[DO], &lt[DOD], &lt[DQD], &lt[DKD], &lt[DVD], &lt[DQ], &lt[DK],
                                &lt[DV]) == JFA_SUCCESS;
    if (!ok) fprintf(stderr, "rank %d: %s\n", rank, jfa_get_last_error());
    jfa_ring_destroy(ring);

    /* each output's largest difference from the reference's rows, over its largest value (the world's) */
    const int outs[9] = {DQ, DK, DV, DQD, DKD, DVD, DQ, DK, DV};
    const double *got[9] = {bq, bk, bv, loc[DQD], loc[DKD], loc[DVD], loc[DQ], loc[DK], loc[DV]};
    static const char *names[9] = {"bwd dQ", "bwd dK", "bwd dV", "bwd-jvp dQd", "bwd-jvp dKd", "bwd-jvp dVd",
                                   "bwd-jvp dQ", "bwd-jvp dK", "bwd-jvp dV"};
    double e[18], w[18], single[9];
    for (int i = 0; i < 9; ++i) {
      const int t = outs[i];
      const size_t le = (size_t)(B * heads[t] * n * D), fe = (size_t)(B * heads[t] * N * D);
      double *want = (double *)malloc(le * 8);
      jfa_tensor_t wt = jfa_tensor_bhsd(want, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, heads[t], n, D);
      ok &= jfa_layout_shard(cpu, lay, rank, P, &ft[t], &wt) == JFA_SUCCESS;
      e[i] = ok ? max_abs(got[i], want, le) : NAN;
      e[i] = isnan(e[i]) ? 1e300 : e[i];
      e[9 + i] = 0.0;
      for (size_t x = 0; x < fe; ++x) e[9 + i] = fmax(e[9 + i], fabs(full[t][x]));
      single[i] = max_abs(sg[t], full[t], fe); /* the whole sequence: the same on every rank */
      free(want);
    }
    MPI_Allreduce(e, w, 18, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    for (int i = 0; i < 9; ++i) {
      /* scores ~1e40: the tangents' gradients carry the float32 mu's rounding (|mu| ~ 1e20: 1e13 absolute), in the
         single-rank call as in the ring: not compared */
      if (huge && i >= 3 && i < 6) continue;
      char name[200];
      /* an output that is exactly zero in the reference must be zero */
      const double scale = w[9 + i] > 0 ? w[9 + i] : 1.0;
      const double ring_err = w[i] >= 1e300 ? NAN : w[i] / scale, single_err = single[i] / scale;
      /* the bound: 4 x the single-rank call's error with the same float32 lse (it recomputes the rows of |lse| >=
         1024 and keeps the float32 rounding of the others: up to 3e-5 of P at |lse| ~ 512) + 1e-12 */
      snprintf(name, sizeof name, "%s %s %s P=%d %s (float32 lse%s): ring err %.2e - 4 x single-rank err %.2e"
               " - 1e-12", lay == JFA_LAYOUT_ZIGZAG ? "zigzag" : "contig", causal ? "causal" : "full", huge ? "scores ~1e40" : rank0_only ? (ci == 9 ? "lse ~ +-3000 on rank 0, float64 lse elsewhere" : "lse ~ +-3000 on rank 0") : "lse ~ +-3000", P,
               names[i], lse_inf ? " with +-inf rows" : "", ring_err, single_err);
      const double excess = ring_err - 4.0 * single_err - 1e-12;
      tu_check(name, isnan(excess) ? NAN : excess > 0 ? excess : 0.0, 0.0);
    }
    for (int i = DQD; i <= DV; ++i) free(sg[i]);
    free(lse64), free(mu64);
    for (int i = 0; i < NALL; ++i) free(full[i]), free(loc[i]);
    free(flse), free(fmu), free(llse), free(lmu), free(bq), free(bk), free(bv);
  }
  jfa_comm_destroy(comm);
  jfa_context_destroy(cpu);
  int rc = tu_finish();
  MPI_Finalize();
  return rc;
}
