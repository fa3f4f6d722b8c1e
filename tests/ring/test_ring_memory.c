/*
 * test_ring_memory.c - the ring's buffers (jfa_ring_memory_bytes) equal the
 * formula documented in jfa_ring.h and src/ring/ring_internal.h, call by call.
 *
 *   mpirun -np 2 --oversubscribe ./test_ring_memory      (also -np 3; -np 1 with JFA_RING_GENERIC=1)
 *
 * Per rank, with X = one K shard, a = accumulator bytes / dtype bytes (float64
 * accumulators on the CPU) and S = K/V slots (0 at P = 1, 1 at P = 2 when k, v are
 * dense, else 2), every buffer rounded up to 256 bytes:
 *   forward   S slots of K, V              + o, lse accumulators unless in place
 *   JVP       S slots of K, V, Kd, Vd      + o, lse, od, mu accumulators unless in place
 *   backward  S slots of K, V + dq unless in place + delta + 3 dK/dV half slots (2 at P = 1)
 * An output is accumulated in place when it is a dense tensor of the accumulator
 * dtype (float64 here). The pool keeps the largest call so far (max, not sum);
 * jfa_ring_release_memory frees it. Cases: fp64 (in place) and fp32 (accumulators)
 * BHSD tensors, BSHD views (k, v not dense: copied into 2 slots), contiguous and
 * zigzag, GQA, odd N/P (key halves of unequal size), lse NULL. Zero for one rank
 * unless JFA_RING_GENERIC=1 or 2; with =1 the one step of one rank writes the outputs
 * (no accumulators): nothing for the forward and the JVP, delta (L) for the backward;
 * with =2 (every call merged, as at P > 1) the formula above.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringtest.h"
#include "testutil.h"

typedef struct {
  int64_t Hq, Hkv, n, D; /* n = N / P */
  jfa_dtype_t dtype;
  jfa_layout_t layout;
  int bshd;     /* q, k, v and outputs stored (B, S, H, D) */
  int with_lse; /* forward with an lse (else NULL) */
} mem_case_t;

static size_t up(size_t b) { return (b + 255) / 256 * 256; }
static size_t maxz(size_t a, size_t b) { return a > b ? a : b; }

/* Expected pool bytes of forward (op 0), JVP (1), backward (2); single: one rank whose one
   step writes the outputs (JFA_RING_GENERIC=1). */
static size_t expected(const mem_case_t *m, int P, int op, int single) {
  size_t esz = m->dtype == JFA_DTYPE_FLOAT64 ? 8 : 4, asz = 8;
  if (single) return op == 2 ? up((size_t)(m->Hq * m->n) * asz) : 0;
  size_t X = (size_t)(m->Hkv * m->n * m->D) * esz, Qacc = (size_t)(m->Hq * m->n * m->D) * asz;
  size_t L = (size_t)(m->Hq * m->n) * asz;
  int in_place = m->dtype == JFA_DTYPE_FLOAT64 && !m->bshd; /* o, od, dq */
  int stat_in_place = m->dtype == JFA_DTYPE_FLOAT64 && m->with_lse; /* lse, mu: always BHSD here */
  int kv_dense = !m->bshd || m->Hkv == 1; /* a BSHD view of one head is a dense BHSD tensor */
  size_t S = P == 1 ? 0 : (kv_dense && P == 2 ? 1 : 2);
  size_t big = in_place ? 0 : up(Qacc), small = stat_in_place ? 0 : up(L);
  if (op == 0) return S * up(2 * X) + big + small;
  if (op == 1) return S * up(4 * X) + 2 * big + 2 * small;
  int64_t h0 = m->layout == JFA_LAYOUT_ZIGZAG && P > 1 ? m->n / 2 : (m->n + 1) / 2;
  size_t half = 2 * (size_t)(h0 * m->Hkv * m->D) * asz;
  return S * up(2 * X) + big + up(L) + up((size_t)(P > 1 ? 3 : 2) * half);
}

static jfa_tensor_t make(jfa_dtype_t dt, int bshd, int64_t h, int64_t n, int64_t d) {
  size_t count = (size_t)(h * n * d), esz = dt == JFA_DTYPE_FLOAT64 ? 8 : 4;
  void *p = calloc(count, esz);
  if (!p) {
    fprintf(stderr, "out of memory\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (dt == JFA_DTYPE_FLOAT64) tu_fill_normal((double *)p, count, 1.0);
  else
    for (size_t i = 0; i < count; ++i) ((float *)p)[i] = (float)((double)(i % 13) / 13.0 - 0.5);
  return bshd && d > 1 ? jfa_tensor_bshd(p, dt, JFA_DEVICE_CPU, 1, n, h, d)
                       : jfa_tensor_bhsd(p, dt, JFA_DEVICE_CPU, 1, h, n, d);
}

static void check(const char *what, const char *desc, jfa_ring_t *ring, jfa_status_t st, size_t want) {
  size_t got = 0;
  jfa_ring_memory_bytes(ring, &got);
  if (st != JFA_SUCCESS) printf("  %s %s: %s\n", desc, what, jfa_get_last_error());
  char name[256];
  snprintf(name, sizeof name, "%s: %s holds %zu bytes (formula %zu)", desc, what, got, want);
  tu_expect(name, st == JFA_SUCCESS && got == want);
}

int main(int argc, char **argv) {
  int rank, P;
  rt_init(&argc, &argv, "test_ring_memory", &rank, &P);
  jfa_context_t *cpu;
  jfa_comm_t *comm;
  rt_cpu_world(&cpu, &comm);
  jfa_context_set_num_threads(cpu, 1);
  const char *generic = getenv("JFA_RING_GENERIC");
  int level = generic && (generic[0] == '1' || generic[0] == '2') ? generic[0] - '0' : 0;
  int direct = P == 1 && level == 0, single = P == 1 && level == 1;

  static const mem_case_t cases[] = {
      {4, 2, 12, 8, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 0, 1},     /* in place, GQA */
      {4, 2, 12, 8, JFA_DTYPE_FLOAT32, JFA_LAYOUT_ZIGZAG, 0, 1},     /* fp64 accumulators */
      {2, 2, 9, 5, JFA_DTYPE_FLOAT64, JFA_LAYOUT_CONTIGUOUS, 0, 0},  /* odd n: halves 5 + 4; no lse */
      {4, 2, 12, 6, JFA_DTYPE_FLOAT32, JFA_LAYOUT_CONTIGUOUS, 1, 1}, /* BSHD views: K/V copied */
      {4, 1, 10, 8, JFA_DTYPE_FLOAT64, JFA_LAYOUT_ZIGZAG, 1, 1},     /* BSHD, MQA: k, v dense, o not */
  };
  for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ++ci) {
    const mem_case_t *m = &cases[ci];
    if (m->layout == JFA_LAYOUT_ZIGZAG && m->n % 2) continue;
    char desc[160];
    snprintf(desc, sizeof desc, "P%d %s %s%s Hq%lld Hkv%lld n%lld D%lld%s", P,
             m->dtype == JFA_DTYPE_FLOAT64 ? "fp64" : "fp32",
             m->layout == JFA_LAYOUT_ZIGZAG ? "zigzag" : "contiguous", m->bshd ? " bshd" : "",
             (long long)m->Hq, (long long)m->Hkv, (long long)m->n, (long long)m->D,
             m->with_lse ? "" : " no-lse");
    jfa_ring_config_t c;
    jfa_ring_config_init(&c);
    c.batch = 1, c.heads_q = m->Hq, c.heads_kv = m->Hkv, c.seq_global = m->n * P, c.head_dim = m->D;
    c.dtype = m->dtype, c.layout = m->layout, c.mask = JFA_MASK_CAUSAL_TOP_LEFT;
    jfa_ring_t *ring = NULL;
    if (jfa_ring_create(&ring, cpu, comm, &c) != JFA_SUCCESS) {
      fprintf(stderr, "create: %s\n", jfa_get_last_error());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    jfa_dtype_t dt = m->dtype;
    jfa_tensor_t q = make(dt, m->bshd, m->Hq, m->n, m->D), k = make(dt, m->bshd, m->Hkv, m->n, m->D);
    jfa_tensor_t v = make(dt, m->bshd, m->Hkv, m->n, m->D), o = make(dt, m->bshd, m->Hq, m->n, m->D);
    jfa_tensor_t od = make(dt, m->bshd, m->Hq, m->n, m->D), dout = make(dt, m->bshd, m->Hq, m->n, m->D);
    jfa_tensor_t dq = make(dt, m->bshd, m->Hq, m->n, m->D), dk = make(dt, m->bshd, m->Hkv, m->n, m->D);
    jfa_tensor_t dv = make(dt, m->bshd, m->Hkv, m->n, m->D);
    jfa_tensor_t lse = make(dt, 0, m->Hq, m->n, 1), mu = make(dt, 0, m->Hq, m->n, 1);
    size_t z = 0;
    check("nothing before the first call", desc, ring, JFA_SUCCESS, 0);
    jfa_status_t st = jfa_ring_forward(ring, &q, &k, &v, &o, m->with_lse ? &lse : NULL);
    size_t fwd = direct ? z : expected(m, P, 0, single), jvp = direct ? z : expected(m, P, 1, single);
    size_t bwd = direct ? z : expected(m, P, 2, single);
    check("forward", desc, ring, st, fwd);
    st = jfa_ring_forward_jvp(ring, &q, &k, &v, &q, &k, &v, &o, m->with_lse ? &lse : NULL, &od,
                              m->with_lse ? &mu : NULL);
    check("forward then JVP (the larger)", desc, ring, st, maxz(fwd, jvp));
    if (!m->with_lse) st = jfa_ring_forward(ring, &q, &k, &v, &o, &lse); /* the backward needs lse */
    st = st == JFA_SUCCESS ? jfa_ring_backward(ring, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv) : st;
    check("then backward (max, not sum)", desc, ring, st, maxz(maxz(fwd, jvp), bwd));
    st = jfa_ring_release_memory(ring);
    check("after jfa_ring_release_memory", desc, ring, st, 0);
    st = jfa_ring_backward(ring, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
    check("backward alone", desc, ring, st, bwd);
    jfa_ring_destroy(ring);
    jfa_tensor_t all[] = {q, k, v, o, od, dout, dq, dk, dv, lse, mu};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) free(all[i].data);
  }
  tu_expect("jfa_ring_release_memory(NULL) fails", jfa_ring_release_memory(NULL) != JFA_SUCCESS);
  jfa_comm_destroy(comm);
  jfa_context_destroy(cpu);
  int rc = tu_finish();
  MPI_Finalize();
  return rc;
}
