/*
 * test_abi_old_caller.c - a caller of jfa 0.1 against today's library. Compiled
 * against tests/abi/jfa_0_1/ (jfa.h and jfa_ring.h exactly as at commit ecb13f5,
 * the last 0.1 header: params of four untagged fields, ring config of nine) and
 * linked with today's libjfa.so, it checks that
 *  - 0.1's jfa_attention_params_init and jfa_ring_config_init write only the 0.1
 *    structs, and the calls read only them (each struct ends at a page followed by
 *    an inaccessible guard page: a byte more, read or written, is a crash);
 *  - forward and JVP with default params, causal modes, positions and a scale,
 *    and a ring of one rank, match a naive float64 reference (later fields take
 *    their defaults);
 *  - tagged structs this library does not know (unknown size, version or kind) are
 *    refused with JFA_ERROR_ABI_MISMATCH (8) and a message, reading nothing past
 *    their 16-byte header (guard page again), outputs untouched.
 *
 * Run: ctest --test-dir build -R test_abi_old_caller
 */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jfa.h"      /* tests/abi/jfa_0_1/jfa.h: the 0.1 header */
#include "jfa_ring.h" /* tests/abi/jfa_0_1/jfa_ring.h */

#define ABI_MISMATCH 8 /* JFA_ERROR_ABI_MISMATCH of today's jfa.h (0.1 had no such status) */
#define TAG(kind, version) ((0xFFF71FA0ull << 32) | ((uint64_t)(kind) << 16) | (uint64_t)(version))

static int failures, passes;
static void expect(const char *what, int ok) {
  printf("[%s] %s\n", ok ? "PASS" : "FAIL", what);
  if (ok) ++passes;
  else {
    ++failures;
    printf("       last error: %s\n", jfa_get_last_error());
  }
}

/* `bytes` of memory ending exactly where an inaccessible page begins. */
static void *at_page_end(size_t bytes) {
  long page = sysconf(_SC_PAGESIZE);
  unsigned char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED || mprotect(m + page, (size_t)page, PROT_NONE) != 0) {
    perror("mmap");
    exit(1);
  }
  memset(m, 0xA5, (size_t)page);
  return m + page - bytes;
}

enum { B = 1, H = 2, NQ = 5, NK = 7, D = 4 };
static double q[B * H * NQ * D], k[B * H * NK * D], v[B * H * NK * D], qd[B * H * NQ * D], kd[B * H * NK * D],
    vd[B * H * NK * D];
static double o[B * H * NQ * D], od[B * H * NQ * D], lse[B * H * NQ], mu[B * H * NQ];

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double uniform_pm1(void) {
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

/* Naive forward + JVP of one problem: visible iff !causal or kpos + j <= qpos + i. */
static double reference_error(double scale, int causal, int64_t qpos, int64_t kpos, int64_t nq, int64_t nk,
                              const double *O, const double *L, const double *Od, const double *Mu) {
  double err = 0.0, norm = 0.0;
  for (int h = 0; h < H; ++h)
    for (int64_t i = 0; i < nq; ++i) {
      const double *qi = q + (h * nq + i) * D, *qdi = qd + (h * nq + i) * D;
      double s[64], sd[64], m = -INFINITY;
      for (int64_t j = 0; j < nk; ++j) {
        const double *kj = k + (h * nk + j) * D, *kdj = kd + (h * nk + j) * D;
        double dot = 0, dotd = 0;
        for (int d = 0; d < D; ++d) dot += qi[d] * kj[d], dotd += qdi[d] * kj[d] + qi[d] * kdj[d];
        s[j] = (!causal || kpos + j <= qpos + i) ? scale * dot : -INFINITY;
        sd[j] = scale * dotd;
        if (s[j] > m) m = s[j];
      }
      double l = 0, mur = 0, ref_o[D] = {0}, ref_od[D] = {0};
      for (int64_t j = 0; j < nk; ++j) l += s[j] == -INFINITY ? 0 : exp(s[j] - m);
      for (int64_t j = 0; j < nk; ++j) mur += (s[j] == -INFINITY ? 0 : exp(s[j] - m) / l) * sd[j];
      for (int64_t j = 0; j < nk; ++j) {
        double p = s[j] == -INFINITY ? 0 : exp(s[j] - m) / l;
        for (int d = 0; d < D; ++d) {
          ref_o[d] += p * v[(h * nk + j) * D + d];
          ref_od[d] += p * (sd[j] - mur) * v[(h * nk + j) * D + d] + p * vd[(h * nk + j) * D + d];
        }
      }
      const int64_t r = h * nq + i;
      for (int d = 0; d < D; ++d) {
        err += pow(O[r * D + d] - ref_o[d], 2) + (Od ? pow(Od[r * D + d] - ref_od[d], 2) : 0);
        norm += ref_o[d] * ref_o[d];
      }
      err += pow(L[r] - (m + log(l)), 2) + (Mu ? pow(Mu[r] - mur, 2) : 0);
      norm += pow(m + log(l), 2);
    }
  return sqrt(err / norm);
}

static void poison(void) {
  for (size_t i = 0; i < sizeof o / sizeof o[0]; ++i) o[i] = od[i] = NAN;
  for (size_t i = 0; i < sizeof lse / sizeof lse[0]; ++i) lse[i] = mu[i] = NAN;
}
static int untouched(void) {
  for (size_t i = 0; i < sizeof o / sizeof o[0]; ++i)
    if (!isnan(o[i])) return 0;
  for (size_t i = 0; i < sizeof lse / sizeof lse[0]; ++i)
    if (!isnan(lse[i])) return 0;
  return 1;
}

int main(void) {
  int version = jfa_version();
  printf("header 0.1 (JFA_VERSION %d), library jfa_version() = %d\n", JFA_VERSION, version);
  expect("the library is newer than the 0.1 header it serves", version >= 300);
  for (size_t i = 0; i < sizeof q / sizeof q[0]; ++i) q[i] = uniform_pm1(), qd[i] = uniform_pm1();
  for (size_t i = 0; i < sizeof k / sizeof k[0]; ++i)
    k[i] = uniform_pm1(), v[i] = uniform_pm1(), kd[i] = uniform_pm1(), vd[i] = uniform_pm1();

  jfa_context_t *ctx = NULL;
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;
  jfa_tensor_t tq = jfa_tensor_bhsd(q, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NQ, D);
  jfa_tensor_t tk = jfa_tensor_bhsd(k, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NK, D);
  jfa_tensor_t tv = jfa_tensor_bhsd(v, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NK, D);
  jfa_tensor_t tqd = jfa_tensor_bhsd(qd, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NQ, D);
  jfa_tensor_t tkd = jfa_tensor_bhsd(kd, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NK, D);
  jfa_tensor_t tvd = jfa_tensor_bhsd(vd, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NK, D);
  jfa_tensor_t to = jfa_tensor_bhsd(o, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NQ, D);
  jfa_tensor_t tod = jfa_tensor_bhsd(od, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NQ, D);
  jfa_tensor_t tl = jfa_tensor_bhsd(lse, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NQ, 1);
  jfa_tensor_t tmu = jfa_tensor_bhsd(mu, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NQ, 1);
  char what[256];

  /* 0.1 params: the init writes 32 bytes, and the calls read no more (guard page) */
  jfa_attention_params_t *p = at_page_end(sizeof *p);
  jfa_attention_params_init(p);
  expect("0.1 init: sizeof(params) == 32 and defaults written", sizeof *p == 32 && p->scale == 0.0 &&
                                                                     p->mask == JFA_MASK_NONE && p->q_position == 0 &&
                                                                     p->k_position == 0);
  const double s_default = 1.0 / sqrt((double)D);
  struct {
    double scale;
    jfa_mask_t mask;
    int64_t qpos, kpos;
    double ref_scale;
    int causal;
    int64_t ref_qpos, ref_kpos;
  } cases[] = {{0.0, JFA_MASK_NONE, 0, 0, s_default, 0, 0, 0},
               {0.0, JFA_MASK_CAUSAL_TOP_LEFT, 0, 0, s_default, 1, 0, 0},
               {0.7, JFA_MASK_CAUSAL_BOTTOM_RIGHT, 0, 0, 0.7, 1, NK - NQ, 0},
               {-0.4, JFA_MASK_CAUSAL_POSITIONS, 12, 10, -0.4, 1, 12, 10}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    jfa_attention_params_init(p);
    p->scale = cases[c].scale, p->mask = cases[c].mask, p->q_position = cases[c].qpos, p->k_position = cases[c].kpos;
    poison();
    jfa_status_t st = jfa_attention_forward_jvp(ctx, p, &tq, &tk, &tv, &tqd, &tkd, &tvd, &to, &tl, &tod, &tmu);
    double err = st == JFA_SUCCESS ? reference_error(cases[c].ref_scale, cases[c].causal, cases[c].ref_qpos,
                                                     cases[c].ref_kpos, NQ, NK, o, lse, od, mu)
                                   : INFINITY;
    snprintf(what, sizeof what, "0.1 params (scale %g, mask %d): forward+JVP match the reference (rel err %.2e)",
             cases[c].scale, (int)cases[c].mask, err);
    expect(what, st == JFA_SUCCESS && err < 1e-12);
  }
  poison();
  expect("NULL params (the defaults)", jfa_attention_forward(ctx, NULL, &tq, &tk, &tv, &to, &tl) == JFA_SUCCESS &&
                                           reference_error(s_default, 0, 0, 0, NQ, NK, o, lse, NULL, NULL) < 1e-12);
  jfa_attention_params_init(p);
  p->scale = NAN; /* 0.1's rule still holds for its layout */
  poison();
  expect("0.1 params with a NaN scale: JFA_ERROR_INVALID_ARGUMENT, nothing written",
         jfa_attention_forward(ctx, p, &tq, &tk, &tv, &to, &tl) == JFA_ERROR_INVALID_ARGUMENT && untouched());

  /* tagged structs this library does not know: refused, nothing read past the header */
  uint64_t *hdr = at_page_end(16);
  struct {
    uint64_t tag, size;
    const char *what;
  } bad[] = {{TAG(1, 1), 40, "params tag, version 1, size 40"},
             {TAG(1, 1), 200, "params tag, version 1, size 200"},
             {TAG(1, 2), 112, "params tag, version 2 (a newer header)"},
             {TAG(1, 0), 16, "params tag, version 0"},
             {TAG(2, 1), 120, "a ring config's tag"},
             {TAG(9, 1), 104, "an unknown kind"}};
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; ++c) {
    hdr[0] = bad[c].tag, hdr[1] = bad[c].size;
    poison();
    jfa_status_t st = jfa_attention_forward(ctx, (const jfa_attention_params_t *)(void *)hdr, &tq, &tk, &tv, &to, &tl);
    snprintf(what, sizeof what, "%s: JFA_ERROR_ABI_MISMATCH with a message, outputs untouched (got %d: %s)",
             bad[c].what, (int)st, jfa_get_last_error());
    expect(what, (int)st == ABI_MISMATCH && strstr(jfa_get_last_error(), "params") && untouched());
  }

  /* the 0.1 ring config: nine fields, a ring of one rank */
  jfa_ring_config_t *cfg = at_page_end(sizeof *cfg);
  jfa_ring_config_init(cfg);
  expect("0.1 ring init: sizeof(config) == 64, defaults written",
         sizeof *cfg == 64 && cfg->dtype == JFA_DTYPE_FLOAT32 && cfg->batch == 0 && cfg->scale == 0.0);
  cfg->batch = B, cfg->heads_q = H, cfg->heads_kv = H, cfg->seq_global = NK, cfg->head_dim = D;
  cfg->dtype = JFA_DTYPE_FLOAT64, cfg->mask = JFA_MASK_CAUSAL_TOP_LEFT, cfg->scale = 0.3;
  jfa_comm_t *comm = NULL;
  jfa_ring_t *ring = NULL;
  jfa_tensor_t rq = jfa_tensor_bhsd(k, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NK, D); /* Nq = Nk in a ring */
  static double ro[B * H * NK * D], rl[B * H * NK];
  jfa_tensor_t tro = jfa_tensor_bhsd(ro, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NK, D);
  jfa_tensor_t trl = jfa_tensor_bhsd(rl, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, NK, 1);
  int ok = jfa_comm_create_single(&comm) == JFA_SUCCESS && jfa_ring_create(&ring, ctx, comm, cfg) == JFA_SUCCESS &&
           jfa_ring_forward(ring, &rq, &tk, &tv, &tro, &trl) == JFA_SUCCESS;
  double rerr = INFINITY;
  if (ok) { /* the reference with q = k (a ring has Nq = Nk), causal top-left, scale 0.3 */
    double e = 0, n = 0;
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < NK; ++i) {
        double s[NK], m = -INFINITY, l = 0, ref[D] = {0};
        for (int j = 0; j < NK; ++j) {
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += k[(h * NK + i) * D + d] * k[(h * NK + j) * D + d];
          s[j] = j <= i ? 0.3 * dot : -INFINITY;
          if (s[j] > m) m = s[j];
        }
        for (int j = 0; j <= i; ++j) l += exp(s[j] - m);
        for (int j = 0; j <= i; ++j)
          for (int d = 0; d < D; ++d) ref[d] += exp(s[j] - m) / l * v[(h * NK + j) * D + d];
        for (int d = 0; d < D; ++d) e += pow(ro[(h * NK + i) * D + d] - ref[d], 2), n += ref[d] * ref[d];
        e += pow(rl[h * NK + i] - (m + log(l)), 2), n += pow(m + log(l), 2);
      }
    rerr = sqrt(e / n);
  }
  snprintf(what, sizeof what, "0.1 ring config: a ring of one rank matches the reference (rel err %.2e)", rerr);
  expect(what, ok && rerr < 1e-12);
  jfa_ring_destroy(ring);
  ring = NULL;
  hdr[0] = TAG(2, 1), hdr[1] = 64;
  jfa_status_t st = jfa_ring_create(&ring, ctx, comm, (const jfa_ring_config_t *)(void *)hdr);
  snprintf(what, sizeof what, "ring config tag with size 64: JFA_ERROR_ABI_MISMATCH, no ring (got %d: %s)", (int)st,
           jfa_get_last_error());
  expect(what, (int)st == ABI_MISMATCH && ring == NULL);
  hdr[0] = TAG(1, 1), hdr[1] = 104;
  st = jfa_ring_create(&ring, ctx, comm, (const jfa_ring_config_t *)(void *)hdr);
  expect("params passed as a ring config: JFA_ERROR_ABI_MISMATCH", (int)st == ABI_MISMATCH && ring == NULL);

  jfa_comm_destroy(comm);
  jfa_context_destroy(ctx);
  printf("%d passed, %d failed\n", passes, failures);
  return failures ? 1 : 0;
}
