/*
 * test_ring_inf_keys.c - a row whose visible keys in one rank's block all score -inf (infinite keys, not a mask)
 * while its other blocks' keys are finite: the ring's O, lse and gradients are the single-rank call's over the whole
 * sequence (finite where it is finite, NaN exactly where it is NaN), and so are the forward-JVP's Od and mu (NaN where
 * an infinite key meets a query tangent: 0 x inf, in the single call too), float64, contiguous and zigzag, causal and
 * not.
 *
 *   mpirun -np 3 --oversubscribe ./test_ring_inf_keys
 *
 * The CPU block call gave such a row NaN (exp(-inf - -inf): the rule for a whole row whose every visible score is
 * -inf), and the merge carried the NaN into a row that is finite over all its keys, and from it into dQ, dK, dV.
 * The ring's block calls are partial (jfa_problem_t.partial): such a block adds nothing to the row. A row whose keys
 * on every rank all score -inf gives O = 0, lse = -inf in the ring (as the CUDA kernels give; a single CPU call: NaN),
 * checked too.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringtest.h"
#include "testutil.h"

enum { B = 1, HQ = 2, HKV = 1, D = 4 };

/* worst relative difference of got against want over n values: NaN where the NaN patterns differ (a NaN in one
   only) or an element was left unwritten (poison); more_nan: got may also be NaN where want is not (never finite
   where want is NaN) */
static double cmp(const double *got, const double *want, size_t n, int more_nan) {
  double worst = 0.0;
  for (size_t x = 0; x < n; ++x) {
    if (isnan(want[x]) || isnan(got[x])) {
      if (isnan(want[x]) != isnan(got[x]) && !(more_nan && isnan(got[x]))) return NAN;
      continue;
    }
    if (isinf(want[x]) || isinf(got[x])) {
      if (want[x] != got[x]) return NAN;
      continue;
    }
    const double e = fabs(got[x] - want[x]) / (fabs(want[x]) + 1e-300 > 1.0 ? fabs(want[x]) : 1.0);
    if (e > worst) worst = e;
  }
  return worst;
}

int main(int argc, char **argv) {
  int rank, P;
  uint64_t seed = rt_init(&argc, &argv, "test_ring_inf_keys", &rank, &P);
  jfa_context_t *cpu;
  jfa_comm_t *comm;
  rt_cpu_world(&cpu, &comm);
  jfa_context_set_num_threads(cpu, 1);
  const int64_t N = 4 * P, n = N / P;
  for (int ci = 0; ci < 7; ++ci) {
    const jfa_layout_t lay = ci & 1 ? JFA_LAYOUT_ZIGZAG : JFA_LAYOUT_CONTIGUOUS;
    const int causal = (ci >> 1) & 1, all_inf = ci == 4; /* case 4: every key infinite */
    /* case 5 (zigzag, full): the infinite keys' values infinite too (an overflowed token): a row that reads
       them with probability 0 is NaN in the single call (0 x inf) and must be NaN in the ring, whose block of them
       stays a NaN partial (the row NaN there, its lse too: more NaN than the single call, never less) */
    const int inf_v = ci == 5;
    /* case 6 (contiguous, causal): their value tangents Vd infinite, V finite: O, lse and the gradients as the
       single call's exactly (a tangent must not make the primal NaN), Od NaN as there, mu NaN too (a superset) */
    const int inf_vd = ci == 6;
    const size_t nq = (size_t)(B * HQ * N * D), nk = (size_t)(B * HKV * N * D);
    const size_t lq = nq / (size_t)P, lk = nk / (size_t)P;
    double *f[7], *fo = malloc(nq * 8), *fl = malloc(nq / D * 8), *fdq = malloc(nq * 8), *fdk = malloc(nk * 8),
                  *fdv = malloc(nk * 8), *fod = malloc(nq * 8), *fmu = malloc(nq / D * 8);
    size_t fn[7] = {nq, nk, nk, nq, nq, nk, nk}; /* q k v do qd kd vd */
    rt_seed(seed + (uint64_t)ci);
    for (int i = 0; i < 7; ++i) {
      f[i] = (double *)malloc(fn[i] * 8);
      for (size_t x = 0; x < fn[i]; ++x) f[i][x] = rt_normal();
    }
    /* the keys that rank 1 holds (contiguous: rows n .. 2n - 1; zigzag: halves 1 and 2P - 2 of n / 2 rows), or all
       of them, point at +inf along axis 0: a query with q[0] < 0 scores them -inf, one with q[0] > 0 +inf (a NaN
       row, as the math) */
    for (int64_t j = 0; j < N; ++j) {
      const int64_t half = j / (n / 2);
      const int on1 = lay == JFA_LAYOUT_ZIGZAG ? half == 1 || half == 2 * P - 2 : j / n == 1;
      if (all_inf || on1) {
        f[1][j * D] = INFINITY;
        for (int d = 1; d < D; ++d) f[1][j * D + d] = 0.0;
        if (inf_v) f[2][j * D] = INFINITY;
        if (inf_vd) f[6][j * D] = INFINITY;
      }
    }
    for (int64_t r = 0; r < HQ * N; ++r) f[0][r * D] = r % 3 ? -fabs(f[0][r * D]) - 0.1 : fabs(f[0][r * D]) + 0.1;
    jfa_tensor_t tq = jfa_tensor_bhsd(f[0], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, D);
    jfa_tensor_t tk = jfa_tensor_bhsd(f[1], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HKV, N, D);
    jfa_tensor_t tv = jfa_tensor_bhsd(f[2], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HKV, N, D);
    jfa_tensor_t tdo = jfa_tensor_bhsd(f[3], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, D);
    jfa_tensor_t to = jfa_tensor_bhsd(fo, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, D);
    jfa_tensor_t tl = jfa_tensor_bhsd(fl, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, 1);
    jfa_tensor_t tdq = jfa_tensor_bhsd(fdq, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, D);
    jfa_tensor_t tdk = jfa_tensor_bhsd(fdk, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HKV, N, D);
    jfa_tensor_t tdv = jfa_tensor_bhsd(fdv, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HKV, N, D);
    jfa_tensor_t tqd = jfa_tensor_bhsd(f[4], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, D);
    jfa_tensor_t tkd = jfa_tensor_bhsd(f[5], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HKV, N, D);
    jfa_tensor_t tvd = jfa_tensor_bhsd(f[6], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HKV, N, D);
    jfa_tensor_t tod = jfa_tensor_bhsd(fod, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, D);
    jfa_tensor_t tmu = jfa_tensor_bhsd(fmu, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, HQ, N, 1);
    jfa_attention_params_t prm;
    jfa_attention_params_init(&prm);
    prm.mask = causal ? JFA_MASK_CAUSAL_TOP_LEFT : JFA_MASK_NONE;
    int ok = jfa_attention_forward_jvp(cpu, &prm, &tq, &tk, &tv, &tqd, &tkd, &tvd, &to, &tl, &tod, &tmu) ==
                 JFA_SUCCESS &&
             jfa_attention_backward(cpu, &prm, &tq, &tk, &tv, &to, &tl, &tdo, &tdq, &tdk, &tdv) == JFA_SUCCESS;
    if (all_inf) /* the ring's rule for rows of only -inf scores: an empty row (the single call gives NaN), whose
                    tangent is NaN (0 x the infinite keys' tangents, as the single call) */
      for (int64_t r = 0; r < HQ * N; ++r)
        if (f[0][r * D] < 0) {
          fl[r] = -INFINITY;
          for (int d = 0; d < D; ++d) fo[r * D + d] = fdq[r * D + d] = 0.0;
        }

    /* the ring over the world: local shards, outputs poisoned */
    double *l[14];
    size_t ln[14] = {lq, lk, lk, lq, lq, lq / D, lq, lk, lk, lq, lk, lk, lq, lq / D}; /* q k v do o lse dq dk dv
                                                                                       qd kd vd od mu */
    int64_t lh[14] = {HQ, HKV, HKV, HQ, HQ, HQ, HQ, HKV, HKV, HQ, HKV, HKV, HQ, HQ};
    jfa_tensor_t lt[14];
    for (int i = 0; i < 14; ++i) {
      l[i] = (double *)malloc(ln[i] * 8);
      for (size_t x = 0; x < ln[i]; ++x) l[i][x] = NAN;
      lt[i] = jfa_tensor_bhsd(l[i], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, lh[i], n, i == 5 || i == 13 ? 1 : D);
    }
    const jfa_tensor_t *fulls[7] = {&tq, &tk, &tv, &tdo, &tqd, &tkd, &tvd};
    const int lof[7] = {0, 1, 2, 3, 9, 10, 11};
    for (int i = 0; i < 7; ++i) ok &= jfa_layout_shard(cpu, lay, rank, P, fulls[i], &lt[lof[i]]) == JFA_SUCCESS;
    jfa_ring_config_t cfg;
    jfa_ring_config_init(&cfg);
    cfg.batch = B, cfg.heads_q = HQ, cfg.heads_kv = HKV, cfg.seq_global = N, cfg.head_dim = D;
    cfg.dtype = JFA_DTYPE_FLOAT64, cfg.layout = lay, cfg.mask = prm.mask;
    jfa_ring_t *ring = NULL;
    ok &= jfa_ring_create(&ring, cpu, comm, &cfg) == JFA_SUCCESS &&
          jfa_ring_forward_jvp(ring, &lt[0], &lt[1], &lt[2], &lt[9], &lt[10], &lt[11], &lt[4], &lt[5], &lt[12],
                               &lt[13]) == JFA_SUCCESS &&
          jfa_ring_backward(ring, &lt[0], &lt[1], &lt[2], &lt[4], &lt[5], &lt[3], &lt[6], &lt[7], &lt[8]) ==
              JFA_SUCCESS;
    if (!ok) fprintf(stderr, "rank %d: %s\n", rank, jfa_get_last_error());
    jfa_ring_destroy(ring);

    /* each rank's rows of the single-rank outputs, compared; the worst over the world */
    const double *full_out[7] = {fo, fl, fdq, fdk, fdv, fod, fmu};
    const int lidx[7] = {4, 5, 6, 7, 8, 12, 13};
    static const char *names[7] = {"O", "lse", "dQ", "dK", "dV", "Od", "mu"};
    double e[7], w[7];
    for (int i = 0; i < 7; ++i) {
      const int li = lidx[i];
      double *want = (double *)malloc(ln[li] * 8);
      jfa_tensor_t ft = jfa_tensor_bhsd((void *)full_out[i], JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, lh[li], N,
                                        li == 5 || li == 13 ? 1 : D);
      jfa_tensor_t wt = jfa_tensor_bhsd(want, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, lh[li], n,
                                        li == 5 || li == 13 ? 1 : D);
      ok &= jfa_layout_shard(cpu, lay, rank, P, &ft, &wt) == JFA_SUCCESS;
      e[i] = ok ? cmp(l[li], want, ln[li], inf_v || (inf_vd && i >= 5)) : NAN;
      e[i] = isnan(e[i]) ? 1e300 : e[i]; /* MPI_MAX over NaN is unspecified: a mismatch as a huge error */
      free(want);
    }
    MPI_Allreduce(e, w, 7, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    for (int i = 0; i < 7; ++i) {
      char name[160];
      snprintf(name, sizeof name, "%s %s%s P=%d %s: ring against the single-rank call (NaN pattern %s)",
               lay == JFA_LAYOUT_ZIGZAG ? "zigzag" : "contig", causal ? "causal" : "full",
               all_inf ? " every key infinite" : inf_v ? " infinite keys and values" :
               inf_vd ? " infinite keys and value tangents" : "", P, names[i],
               inf_v || (inf_vd && i >= 5) ? "a superset" : "exact");
      tu_check(name, w[i] >= 1e300 ? NAN : w[i], 1e-12);
    }
    for (int i = 0; i < 7; ++i) free(f[i]);
    for (int i = 0; i < 14; ++i) free(l[i]);
    free(fo), free(fl), free(fdq), free(fdk), free(fdv), free(fod), free(fmu);
  }
  jfa_comm_destroy(comm);
  jfa_context_destroy(cpu);
  int rc = tu_finish();
  MPI_Finalize();
  return rc;
}
