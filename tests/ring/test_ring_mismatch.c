/*
 * test_ring_mismatch.c - bad or disagreeing arguments make EVERY rank return an
 * error (never a hang; the CTest TIMEOUT bounds it), and nothing is written.
 *
 *   mpirun -np 3 --oversubscribe ./test_ring_mismatch
 *
 * Checks: a config that differs on one rank (seq_global, heads, dtype, layout,
 * mask, windows, packed-sequence offsets or their count), invalid windows and
 * offsets, a sequence that does not divide by P (2P for zigzag), an unsupported
 * dtype, a wrong local tensor shape on one rank in forward / JVP / backward
 * (outputs keep their poison on every rank), and that the ring still works after;
 * different ring calls on the ranks fail on every rank, and K / V in another
 * layout on one rank give the all-BHSD result; a NULL ring or ctx in jfa_ring_create on one rank only fails
 * every rank at once and leaves the comm working.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringtest.h"
#include "testutil.h"

static int rank_, size_;

/* Every rank's status agrees with `expect_error` (1: all failed, 0: all succeeded). */
static void expect_all(const char *name, jfa_status_t s, int expect_error) {
  int failed = s != JFA_SUCCESS, lo = 0, hi = 0;
  MPI_Allreduce(&failed, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&failed, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (s != JFA_SUCCESS && (rank_ == 0 || getenv("JFA_TEST_VERBOSE")))
    fprintf(rank_ == 0 ? stdout : stderr, "  rank %d: %s: %s\n", rank_, jfa_status_string(s), jfa_get_last_error());
  char buf[256];
  snprintf(buf, sizeof(buf), "%s: every rank %s", name, expect_error ? "fails" : "succeeds");
  tu_expect(buf, expect_error ? lo == 1 : hi == 0);
}

static jfa_ring_config_t base_config(void) {
  jfa_ring_config_t c;
  jfa_ring_config_init(&c);
  c.batch = 1;
  c.heads_q = 4;
  c.heads_kv = 2;
  c.seq_global = 12 * size_;
  c.head_dim = 8;
  c.dtype = JFA_DTYPE_FLOAT64;
  c.layout = JFA_LAYOUT_ZIGZAG;
  c.mask = JFA_MASK_CAUSAL_TOP_LEFT;
  return c;
}

static jfa_status_t try_create(jfa_context_t *ctx, jfa_comm_t *comm, const jfa_ring_config_t *c) {
  jfa_ring_t *ring = (jfa_ring_t *)(uintptr_t)1;
  jfa_status_t s = jfa_ring_create(&ring, ctx, comm, c);
  if (s != JFA_SUCCESS && ring != NULL) s = JFA_ERROR_INTERNAL; /* must be NULL on failure */
  jfa_ring_destroy(s == JFA_SUCCESS ? ring : NULL);
  return s;
}

static double *alloc_poisoned(size_t n) {
  double *x = (double *)malloc(n * sizeof(double));
  tu_poison(x, n, JFA_DTYPE_FLOAT64);
  return x;
}

int main(int argc, char **argv) {
  rt_init(&argc, &argv, "test_ring_mismatch", &rank_, &size_);
  if (size_ < 2) {
    printf("test_ring_mismatch needs at least 2 ranks, not run\n");
    MPI_Finalize();
    return TU_SKIP;
  }
  jfa_context_t *cpu;
  jfa_comm_t *comm;
  rt_cpu_world(&cpu, &comm);

  jfa_ring_config_t c = base_config();
  expect_all("agreeing config", try_create(cpu, comm, &c), 0);
  c.seq_global += rank_ == 1 ? 2 * size_ : 0;
  expect_all("seq_global differs on rank 1", try_create(cpu, comm, &c), 1);
  c = base_config();
  if (rank_ == size_ - 1) c.heads_q = 2;
  expect_all("heads_q differs on the last rank", try_create(cpu, comm, &c), 1);
  c = base_config();
  if (rank_ == 0) c.dtype = JFA_DTYPE_FLOAT32;
  expect_all("dtype differs on rank 0", try_create(cpu, comm, &c), 1);
  c = base_config();
  if (rank_ == 1) c.layout = JFA_LAYOUT_CONTIGUOUS;
  expect_all("layout differs on rank 1", try_create(cpu, comm, &c), 1);
  c = base_config();
  if (rank_ == 1) c.mask = JFA_MASK_NONE;
  expect_all("mask differs on rank 1", try_create(cpu, comm, &c), 1);
  c = base_config();
  if (rank_ == 1) c.heads_kv = 3; /* invalid on one rank only */
  expect_all("invalid heads_kv on rank 1", try_create(cpu, comm, &c), 1);
  c = base_config();
  c.seq_global = 2 * size_ + 1;
  c.layout = JFA_LAYOUT_CONTIGUOUS;
  expect_all("seq_global not divisible by P", try_create(cpu, comm, &c), 1);
  c = base_config();
  c.seq_global = 3 * size_; /* divisible by P, not by 2P when P is odd... use P * odd */
  if ((c.seq_global / size_) % 2 == 1) {
    expect_all("zigzag with seq_global not divisible by 2P", try_create(cpu, comm, &c), 1);
  }
  c = base_config();
  c.dtype = JFA_DTYPE_BFLOAT16;
  {
    jfa_status_t s = try_create(cpu, comm, &c);
    expect_all("bfloat16 on CPU ranks", s, 1);
    tu_expect("bfloat16 on CPU gives UNSUPPORTED", s == JFA_ERROR_UNSUPPORTED);
  }
  c = base_config();
  c.mask = JFA_MASK_CAUSAL_POSITIONS;
  expect_all("mask CAUSAL_POSITIONS rejected", try_create(cpu, comm, &c), 1);
  /* sizes whose product passes 2^52 elements (2^63 here: the ring's int64 products overflowed before any check) */
  c = base_config();
  c.batch = (int64_t)1 << 20, c.heads_q = c.heads_kv = (int64_t)1 << 20, c.seq_global = ((int64_t)1 << 21) * size_;
  {
    jfa_status_t s = try_create(cpu, comm, &c);
    expect_all("batch x heads x seq x dim beyond 2^52 elements", s, 1);
    tu_expect("... gives INVALID_ARGUMENT", s == JFA_ERROR_INVALID_ARGUMENT);
  }
  {
    jfa_status_t s = jfa_ring_create(NULL, cpu, comm, &c);
    tu_expect("ring NULL gives INVALID_ARGUMENT", s == JFA_ERROR_INVALID_ARGUMENT);
  }
  /* a NULL ring or ctx on one rank only: that rank still joins the setup check, so every rank fails at once (before,
     it returned alone: the others waited in the check until the comm's timeout, or met this rank's next collective,
     a barrier here, and MPI aborted) and the comm still works (the barrier after each) */
  {
    c = base_config();
    jfa_ring_t *ring1 = NULL;
    double t0 = MPI_Wtime();
    jfa_status_t s = jfa_ring_create(rank_ == size_ - 1 ? NULL : &ring1, cpu, comm, &c);
    double dt = MPI_Wtime() - t0, dt_max = 0;
    expect_all("ring NULL on the last rank only", s, 1);
    MPI_Allreduce(&dt, &dt_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    tu_expect("... every rank within a second", dt_max < 1.0);
    tu_expect("... its handle NULL on the other ranks", rank_ == size_ - 1 || ring1 == NULL);
    expect_all("... then a barrier on the comm", jfa_comm_barrier(comm), 0);
    ring1 = (jfa_ring_t *)(uintptr_t)1;
    t0 = MPI_Wtime();
    s = jfa_ring_create(&ring1, rank_ == 0 ? NULL : cpu, comm, &c);
    dt = MPI_Wtime() - t0;
    expect_all("ctx NULL on rank 0 only", s, 1);
    MPI_Allreduce(&dt, &dt_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    tu_expect("... every rank within a second", dt_max < 1.0);
    tu_expect("... the handle NULL on every rank", ring1 == NULL);
    expect_all("... then a barrier on the comm", jfa_comm_barrier(comm), 0);
  }

  /* windows and packed sequences: disagreement and invalid values */
  c = base_config();
  c.window_left = 4, c.window_right = 0;
  expect_all("agreeing window (4,0)", try_create(cpu, comm, &c), 0);
  if (rank_ == 1) c.window_left = 5;
  expect_all("window_left differs on rank 1", try_create(cpu, comm, &c), 1);
  c = base_config();
  if (rank_ == size_ - 1) c.window_right = 2;
  expect_all("window_right set on the last rank only", try_create(cpu, comm, &c), 1);
  c = base_config();
  c.window_left = -3;
  expect_all("window_left -3 invalid", try_create(cpu, comm, &c), 1);
  {
    int64_t cu[4] = {0, 5, 7, 12 * size_}, cu2[4] = {0, 5, 8, 12 * size_}, bad[4] = {0, 7, 5, 12 * size_};
    c = base_config();
    c.cu_seqlens = cu, c.num_seqs = 3;
    expect_all("agreeing packed sequences", try_create(cpu, comm, &c), 0);
    if (rank_ == 1) c.cu_seqlens = cu2;
    expect_all("cu_seqlens differ on rank 1 (same num_seqs)", try_create(cpu, comm, &c), 1);
    c.cu_seqlens = cu;
    if (rank_ == 0) c.num_seqs = 2, cu[2] = 12 * size_; /* valid on rank 0 too, but a different partition */
    expect_all("num_seqs differs on rank 0", try_create(cpu, comm, &c), 1);
    cu[2] = 7;
    c = base_config();
    c.cu_seqlens = bad, c.num_seqs = 3;
    expect_all("decreasing cu_seqlens", try_create(cpu, comm, &c), 1);
    c.cu_seqlens = NULL;
    expect_all("num_seqs without cu_seqlens", try_create(cpu, comm, &c), 1);
    c = base_config();
    c.cu_seqlens = cu, c.num_seqs = 3, c.batch = 2;
    expect_all("packed sequences with batch 2", try_create(cpu, comm, &c), 1);
    c = base_config();
    c.cu_seqlens = cu, c.num_seqs = 3, c.flags = JFA_PARAMS_SEQLENS_DEVICE; /* the ring splits them on the host */
    expect_all("device offsets (JFA_PARAMS_SEQLENS_DEVICE) refused by the ring", try_create(cpu, comm, &c), 1);

    /* jfa_ring_set_seqlens: collective, agreed, all or none */
    const int64_t N = 12 * size_;
    int64_t one[2] = {0, N}, two[3] = {0, 5, N}, two_b[3] = {0, 6, N}, bad2[3] = {0, N + 1, N};
    c = base_config();
    c.cu_seqlens = one, c.num_seqs = 1;
    jfa_ring_t *pr = NULL;
    jfa_status_t cs = jfa_ring_create(&pr, cpu, comm, &c);
    expect_all("a ring with packed sequences", cs, 0);
    if (cs == JFA_SUCCESS) {
      expect_all("set_seqlens: agreeing offsets", jfa_ring_set_seqlens(pr, two, 2), 0);
      expect_all("set_seqlens: offsets differ on rank 1 (same num_seqs)",
                 jfa_ring_set_seqlens(pr, rank_ == 1 ? two_b : two, 2), 1);
      expect_all("set_seqlens: num_seqs differs on the last rank",
                 rank_ == size_ - 1 ? jfa_ring_set_seqlens(pr, one, 1) : jfa_ring_set_seqlens(pr, two, 2), 1);
      expect_all("set_seqlens: invalid offsets on rank 0 (past seq_global)",
                 jfa_ring_set_seqlens(pr, rank_ == 0 ? bad2 : two, 2), 1);
      expect_all("set_seqlens: NULL offsets on rank 1", jfa_ring_set_seqlens(pr, rank_ == 1 ? NULL : two, 2), 1);
      expect_all("... then the ring still agrees (set_seqlens again)", jfa_ring_set_seqlens(pr, one, 1), 0);
      jfa_ring_destroy(pr);
    }
    c = base_config(); /* without packed sequences */
    pr = NULL;
    cs = jfa_ring_create(&pr, cpu, comm, &c);
    if (cs == JFA_SUCCESS) {
      const jfa_status_t s2 = jfa_ring_set_seqlens(pr, two, 2);
      expect_all("set_seqlens on a ring created without packed sequences", s2, 1);
      tu_expect("... JFA_ERROR_UNSUPPORTED", s2 == JFA_ERROR_UNSUPPORTED);
      jfa_ring_destroy(pr);
    }
    tu_expect("set_seqlens(NULL ring) fails", jfa_ring_set_seqlens(NULL, two, 2) == JFA_ERROR_INVALID_ARGUMENT);
  }

  /* per-call checks: one rank passes a wrong shape */
  c = base_config();
  jfa_ring_t *ring = NULL;
  if (jfa_ring_create(&ring, cpu, comm, &c) != JFA_SUCCESS) {
    fprintf(stderr, "create: %s\n", jfa_get_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int64_t n = c.seq_global / size_, D = c.head_dim;
  size_t nq = (size_t)(c.heads_q * n * D), nk = (size_t)(c.heads_kv * n * D), nr = (size_t)(c.heads_q * n);
  double *q = alloc_poisoned(nq), *k = alloc_poisoned(nk), *v = alloc_poisoned(nk), *o = alloc_poisoned(nq);
  double *lse = alloc_poisoned(nr), *od = alloc_poisoned(nq), *mu = alloc_poisoned(nr), *dq = alloc_poisoned(nq);
  double *dk = alloc_poisoned(nk), *dv = alloc_poisoned(nk), *dout = alloc_poisoned(nq);
  tu_fill_normal(q, nq, 1.0);
  tu_fill_normal(k, nk, 1.0);
  tu_fill_normal(v, nk, 1.0);
  tu_fill_normal(dout, nq, 1.0);
  jfa_dtype_t F = JFA_DTYPE_FLOAT64;
  jfa_device_t C = JFA_DEVICE_CPU;
  jfa_tensor_t tq = jfa_tensor_bhsd(q, F, C, 1, c.heads_q, n, D), tk = jfa_tensor_bhsd(k, F, C, 1, c.heads_kv, n, D);
  jfa_tensor_t tv = jfa_tensor_bhsd(v, F, C, 1, c.heads_kv, n, D), to = jfa_tensor_bhsd(o, F, C, 1, c.heads_q, n, D);
  jfa_tensor_t tl = jfa_tensor_bhsd(lse, F, C, 1, c.heads_q, n, 1), tod = jfa_tensor_bhsd(od, F, C, 1, c.heads_q, n, D);
  jfa_tensor_t tmu = jfa_tensor_bhsd(mu, F, C, 1, c.heads_q, n, 1), tdq = jfa_tensor_bhsd(dq, F, C, 1, c.heads_q, n, D);
  jfa_tensor_t tdk = jfa_tensor_bhsd(dk, F, C, 1, c.heads_kv, n, D), tdv = jfa_tensor_bhsd(dv, F, C, 1, c.heads_kv, n, D);
  jfa_tensor_t tdo = jfa_tensor_bhsd(dout, F, C, 1, c.heads_q, n, D);
  jfa_tensor_t bad_q = tq;
  if (rank_ == 1) bad_q.shape[2] = n / 2; /* a shorter shard on rank 1 */
  expect_all("forward with a wrong q on rank 1", jfa_ring_forward(ring, &bad_q, &tk, &tv, &to, &tl), 1);
  expect_all("JVP with a wrong q on rank 1",
             jfa_ring_forward_jvp(ring, &bad_q, &tk, &tv, &tq, &tk, &tv, &to, &tl, &tod, &tmu), 1);
  {
    jfa_tensor_t bad_lse = tl;
    if (rank_ == 0) bad_lse.dtype = JFA_DTYPE_FLOAT16;
    expect_all("forward with an fp16 lse on rank 0", jfa_ring_forward(ring, &tq, &tk, &tv, &to, &bad_lse), 1);
    jfa_tensor_t alias = to;
    if (rank_ == size_ - 1) alias = tq; /* o aliases q */
    expect_all("forward with o aliasing q on the last rank", jfa_ring_forward(ring, &tq, &tk, &tv, &alias, &tl), 1);
    jfa_tensor_t self = to;
    if (rank_ == 0) self.stride[2] = 0; /* every row of o at one address (jfa_attention_forward refuses it too) */
    expect_all("forward with o's rows at one address on rank 0", jfa_ring_forward(ring, &tq, &tk, &tv, &self, &tl), 1);
    { /* jfa_layout_shard / _unshard into a destination whose rows share an address: refused, nothing written */
      double *full = alloc_poisoned(nq * (size_t)size_), *loc = alloc_poisoned(nq);
      tu_fill_normal(full, nq * (size_t)size_, 1.0);
      jfa_tensor_t tf = jfa_tensor_bhsd(full, F, C, 1, c.heads_q, c.seq_global, D), tloc = to;
      tloc.data = loc, tloc.stride[2] = 0;
      jfa_status_t s1 = jfa_layout_shard(cpu, c.layout, rank_, size_, &tf, &tloc);
      tu_expect("jfa_layout_shard into rows at one address: INVALID_ARGUMENT, nothing written",
                s1 == JFA_ERROR_INVALID_ARGUMENT && tu_count_nan(loc, nq) == nq);
      tloc.stride[2] = to.stride[2];
      jfa_tensor_t tf0 = tf;
      tf0.stride[2] = 0;
      tu_poison(full, nq * (size_t)size_, F);
      jfa_status_t s2 = jfa_layout_unshard(cpu, c.layout, rank_, size_, &tloc, &tf0);
      tu_expect("jfa_layout_unshard into rows at one address: INVALID_ARGUMENT, nothing written",
                s2 == JFA_ERROR_INVALID_ARGUMENT && tu_count_nan(full, nq * (size_t)size_) == nq * (size_t)size_);
      free(full);
      free(loc);
    }
    jfa_tensor_t selfk = tdk;
    if (rank_ == 0) selfk.stride[2] = 0;
    expect_all("backward with dk's rows at one address on rank 0",
               jfa_ring_backward(ring, &tq, &tk, &tv, &to, &tl, &tdo, &tdq, &selfk, &tdv), 1);
  }
  int untouched = tu_count_nan(o, nq) == nq && tu_count_nan(lse, nr) == nr && tu_count_nan(od, nq) == nq &&
                  tu_count_nan(mu, nr) == nr;
  expect_all("outputs untouched after failed forward/JVP", untouched ? JFA_SUCCESS : JFA_ERROR_INTERNAL, 0);
  expect_all("backward with lse NULL on rank 0",
             jfa_ring_backward(ring, &tq, &tk, &tv, &to, rank_ == 0 ? NULL : &tl, &tdo, &tdq, &tdk, &tdv), 1);
  untouched = tu_count_nan(dq, nq) == nq && tu_count_nan(dk, nk) == nk && tu_count_nan(dv, nk) == nk;
  expect_all("gradients untouched after failed backward", untouched ? JFA_SUCCESS : JFA_ERROR_INTERNAL, 0);

  /* the backward-JVP's first-order outputs (dq, dk, dv) given on some ranks and NULL on the last: every rank fails,
     nothing written (before, every rank succeeded and the other ranks' dk, dv lacked the last rank's queries'
     share: the accumulators passed through it untouched) */
  {
    double *dqd = alloc_poisoned(nq), *dkd = alloc_poisoned(nk), *dvd = alloc_poisoned(nk);
    jfa_tensor_t tdqd = jfa_tensor_bhsd(dqd, F, C, 1, c.heads_q, n, D);
    jfa_tensor_t tdkd = jfa_tensor_bhsd(dkd, F, C, 1, c.heads_kv, n, D), tdvd = jfa_tensor_bhsd(dvd, F, C, 1, c.heads_kv, n, D);
    expect_all("forward JVP for the backward-JVP", jfa_ring_forward_jvp(ring, &tq, &tk, &tv, &tq, &tk, &tv, &to, &tl,
                                                                         &tod, &tmu), 0);
    const int last = rank_ == size_ - 1;
    expect_all("backward-JVP with dq, dk, dv NULL on the last rank only",
               jfa_ring_backward_jvp(ring, &tq, &tk, &tv, &tq, &tk, &tv, &to, &tl, &tod, &tmu, &tdo, &tdo, &tdqd,
                                     &tdkd, &tdvd, last ? NULL : &tdq, last ? NULL : &tdk, last ? NULL : &tdv), 1);
    untouched = tu_count_nan(dqd, nq) == nq && tu_count_nan(dkd, nk) == nk && tu_count_nan(dvd, nk) == nk &&
                tu_count_nan(dq, nq) == nq && tu_count_nan(dk, nk) == nk && tu_count_nan(dv, nk) == nk;
    expect_all("outputs untouched after the failed backward-JVP", untouched ? JFA_SUCCESS : JFA_ERROR_INTERNAL, 0);
    expect_all("backward-JVP with dq, dk, dv NULL on every rank",
               jfa_ring_backward_jvp(ring, &tq, &tk, &tv, &tq, &tk, &tv, &to, &tl, &tod, &tmu, &tdo, &tdo, &tdqd,
                                     &tdkd, &tdvd, NULL, NULL, NULL), 0);
    free(dqd), free(dkd), free(dvd);
  }

  /* the ring still works after the errors */
  expect_all("forward after errors", jfa_ring_forward(ring, &tq, &tk, &tv, &to, &tl), 0);
  expect_all("backward after errors", jfa_ring_backward(ring, &tq, &tk, &tv, &to, &tl, &tdo, &tdq, &tdk, &tdv), 0);
  int clean = tu_count_nan(o, nq) == 0 && tu_count_nan(dq, nq) == 0 && tu_count_nan(dk, nk) == 0 &&
              tu_count_nan(dv, nk) == 0 && tu_count_nan(lse, nr) == 0;
  expect_all("outputs written and finite after a good call", clean ? JFA_SUCCESS : JFA_ERROR_INTERNAL, 0);

  /* different ring calls on the ranks (rank 1 a forward, the others a backward): every rank fails (before the
     twenty-eighth session rank 1 returned success with a wrong O and the others waited for the timeout) */
  {
    jfa_status_t st = rank_ == 1 ? jfa_ring_forward(ring, &tq, &tk, &tv, &to, &tl)
                                 : jfa_ring_backward(ring, &tq, &tk, &tv, &to, &tl, &tdo, &tdq, &tdk, &tdv);
    expect_all("rank 1 in jfa_ring_forward, the others in jfa_ring_backward", st, 1);
  }
  /* K and V in another layout on rank 1 (BSHD views of the same values): the same messages whichever layout each
     rank sends from, the same O as the all-BHSD call (one rank sent one packed message against another's two
     before the twenty-eighth session: a wrong O on one rank, a hang on the others) */
  {
    double *ref_o = (double *)malloc(nq * sizeof(double));
    memcpy(ref_o, o, nq * sizeof(double));
    double *kb = (double *)malloc(nk * sizeof(double)), *vb = (double *)malloc(nk * sizeof(double));
    for (int64_t h = 0; h < c.heads_kv; ++h)
      for (int64_t t = 0; t < n; ++t)
        for (int64_t d = 0; d < D; ++d) {
          kb[(t * c.heads_kv + h) * D + d] = k[(h * n + t) * D + d];
          vb[(t * c.heads_kv + h) * D + d] = v[(h * n + t) * D + d];
        }
    jfa_tensor_t sk = tk, sv = tv;
    if (rank_ == 1) sk = jfa_tensor_bshd(kb, F, C, 1, n, c.heads_kv, D), sv = jfa_tensor_bshd(vb, F, C, 1, n, c.heads_kv, D);
    tu_poison(o, nq, F); /* an O left unwritten must not pass as the call before's */
    expect_all("forward with BSHD K / V on rank 1", jfa_ring_forward(ring, &tq, &sk, &sv, &to, &tl), 0);
    double err = 0;
    for (size_t i = 0; i < nq; ++i) err = tu_worst(err, fabs(o[i] - ref_o[i]));
    expect_all("its O equals the all-BHSD call's (every rank)", err <= 1e-12 ? JFA_SUCCESS : JFA_ERROR_INTERNAL, 0);
    expect_all("backward with BSHD K / V on rank 1",
               jfa_ring_backward(ring, &tq, &sk, &sv, &to, &tl, &tdo, &tdq, &tdk, &tdv), 0);
    free(ref_o), free(kb), free(vb);
  }

  jfa_ring_destroy(ring);
  free(q); free(k); free(v); free(o); free(lse); free(od); free(mu); free(dq); free(dk); free(dv); free(dout);
  jfa_comm_destroy(comm);
  jfa_context_destroy(cpu);
  int rc = tu_finish();
  MPI_Finalize();
  return rc;
}
