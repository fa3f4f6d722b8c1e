/*
 * test_gpu_f32_backward.c - the float32 backward on the GPU against the float64 CPU backend,
 * in three configurations per case: the simt family (a context made under
 * JFA_KERNEL_PATH=simt), the tensor-core kernel in 3xTF32 (the default) and in TF32
 * (JFA_FLAG_ALLOW_TF32): sm80's, or at D = 64 unmasked / causal the sm90 one (sm90/bwd_f32.cuh)
 * (the default; JFA_SM90_F32_BWD=0, the _sm80 CTest entry, and JFA_SM90_BWD=0, _nosm90bwd, keep
 * sm80). Cases: odd sizes, D in {32, 40, 64, 96, 128, 160, 200, 256} on the tensor cores (above 128
 * sm80's two-slice kernel; JFA_SM80_F32_BWD256=0, the _nowide entry, leaves them to simt), D = 33 on
 * the simt family, causal top-left / bottom-right with Nq != Nk, fully masked rows, GQA 8:1,
 * MQA, BSHD, large logits (q, k ~ N(0, 30^2)), sliding window, packed sequences, dense masks;
 * the accumulate mode over two key halves (the ring's) and the deterministic mode (two runs
 * bitwise equal). The backward gets the reference O and lse rounded to float32, so only the
 * backward is measured; outputs are poisoned (NaN) before each call and the family that ran is
 * checked (jfa_cuda_last_kernel). The last case (index NCASES, run_dq_layouts) gives the backward dq views that
 * sm80's dQ-into-dq path must decline (padded rows, a base not 8-byte aligned) or take (padded rows in accumulate
 * mode), checking the floats around them untouched.
 * Tolerances (relative error, norm-wise): simt and 3xTF32 1e-5 (gt_tol); on large logits the
 * 3xTF32 error within 2x the simt kernel's (and the simt kernel's within 2e-3); TF32 5e-3 (on
 * large logits TF32 scores are off by units: only every element written, finite).
 *
 *   ctest -L gpu    or    ./test_gpu_f32_backward [case-index]   (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv, strdup */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "gpu_test.h"

#define F32 JFA_DTYPE_FLOAT32
#define UNB JFA_WINDOW_UNBOUNDED
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define CPOS JFA_MASK_CAUSAL_POSITIONS
enum { DN_NONE = 0, DN_BOOL, DN_F32 };

typedef struct {
  int bshd;
  int64_t B, Hq, Hkv, Nq, Nk, D; /* Nq, Nk: the sums of seq_q / seq_k when those are set */
  jfa_mask_t mask;
  int64_t qpos, kpos;
  int64_t wl, wr;
  const char *seq_q, *seq_k;
  int dense;
  double sigma; /* q, k ~ N(0, sigma^2) */
  int acc, det; /* also the accumulate mode / the deterministic mode */
} fcase_t;

static const fcase_t cases[] = {
    /* bshd B Hq Hkv Nq Nk D mask qpos kpos wl wr seq_q seq_k dense sigma acc det */
    {0, 1, 2, 2, 129, 129, 64, TL, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 1},
    {1, 1, 4, 2, 1000, 1000, 128, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1},
    {0, 1, 16, 2, 129, 129, 64, TL, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 0},   /* GQA 8:1 */
    {0, 1, 4, 1, 200, 300, 128, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1}, /* MQA */
    {0, 1, 2, 2, 129, 300, 96, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 0},    /* Nq < Nk */
    {0, 1, 2, 2, 1000, 64, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 0},    /* rows < 936 fully masked */
    {1, 1, 2, 2, 129, 257, 40, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 0},  /* D = 40 -> 64 */
    {0, 1, 2, 2, 100, 100, 40, CPOS, 0, 10, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1}, /* rows 0..9 fully masked */
    {0, 1, 2, 2, 256, 256, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 30, 0, 0}, /* large logits */
    {0, 1, 2, 2, 300, 300, 128, TL, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 30, 0, 0},
    {1, 1, 8, 1, 333, 200, 96, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 30, 0, 0},   /* MQA, Nq > Nk */
    {0, 2, 2, 2, 7, 33, 32, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 1},
    {0, 1, 2, 2, 1, 1, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 0},
    {1, 2, 3, 3, 333, 333, 96, TL, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1},
    {0, 1, 2, 2, 2048, 2048, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1},
    {0, 1, 2, 1, 1024, 1500, 128, TL, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 0},
    {0, 1, 2, 1, 77, 130, 40, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 1},     /* test_gpu_modes' */
    /* masks beyond causal (the MASKED instantiation) */
    {0, 1, 2, 2, 300, 300, 64, TL, 0, 0, 64, UNB, NULL, NULL, DN_NONE, 1, 1, 1},      /* window */
    {1, 1, 8, 2, 257, 257, 128, NONE, 0, 0, 64, 64, NULL, NULL, DN_NONE, 1, 0, 0},    /* window, GQA */
    {1, 1, 2, 2, 0, 0, 32, BR, 0, 0, 64, UNB, "1,7,129", "3,7,100", DN_NONE, 1, 1, 0}, /* packed + window */
    {1, 1, 4, 2, 0, 0, 96, TL, 0, 0, UNB, UNB, "1,7,0,129,64", NULL, DN_NONE, 1, 0, 1},
    {0, 1, 2, 2, 129, 129, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 1, 1, 0},    /* bias */
    {0, 2, 4, 2, 200, 129, 96, TL, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 0, 1},     /* bool + causal */
    {0, 1, 2, 2, 200, 200, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 30, 0, 0},  /* large logits, bool */
    /* D = 64 unmasked / causal: the sm90 float32 backward's (the default), odd sizes, both
       causal alignments with Nq != Nk, GQA, MQA, fully masked rows */
    {0, 2, 2, 2, 7, 7, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1},
    {0, 1, 2, 2, 1000, 1000, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 1},
    {0, 1, 2, 2, 129, 300, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 0},   /* Nq < Nk */
    {1, 1, 4, 2, 300, 129, 64, TL, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1},   /* Nq > Nk, GQA 2:1 */
    {0, 1, 4, 1, 200, 333, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 0}, /* MQA */
    {0, 1, 2, 2, 100, 100, 64, CPOS, 0, 10, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1}, /* rows 0..9 fully masked */
    {0, 1, 2, 2, 1000, 1000, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 30, 0, 0}, /* large logits, causal */
    /* the simt family's: rows not 16-byte aligned */
    {0, 1, 2, 2, 100, 100, 33, CPOS, 0, 10, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 0},
    /* 32: D = 256 (sm80's two-slice kernel; simt under JFA_SM80_F32_BWD256=0) */
    {0, 1, 2, 1, 64, 100, 256, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 0},
    {1, 2, 2, 1, 65, 100, 256, BR, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 0, 0},
    {0, 1, 4, 2, 333, 200, 256, TL, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 1},  /* Nq > Nk, GQA */
    {0, 1, 2, 2, 100, 100, 256, CPOS, 0, 10, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1}, /* rows 0..9 fully masked */
    {0, 1, 2, 2, 300, 300, 256, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 30, 0, 0}, /* large logits */
    {0, 2, 2, 2, 1, 1, 256, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 0},
    {1, 1, 2, 2, 129, 257, 200, BR, 0, 0, 64, UNB, NULL, NULL, DN_NONE, 1, 0, 0},    /* D = 200, window */
    {0, 1, 2, 2, 1000, 1000, 256, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 0},
    {0, 1, 4, 2, 257, 333, 160, TL, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 1},   /* D = 160 -> 256 */
    /* coverage audit (appended: the indices above stay). 41, 42: the sm90 float32 backward's non-persistent kernel
       (Nk > 512: tiles.h kSm90BwdF32PersistMaxNk; the key halves of the accumulate mode too) with GQA of Hkv > 1, BSHD,
       Nq != Nk both ways, rows that see no key, deterministic; every sm90 case of more than 512 keys above is
       Hq = Hkv, Nq = Nk, BHSD */
    {1, 1, 8, 2, 700, 1100, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 1, 1},   /* GQA 4:1, Nq < Nk */
    {0, 1, 4, 2, 1200, 600, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_NONE, 1, 0, 1},   /* rows < 600 see no key */
    /* 43: a boolean mask at unit logits on the sm90 float32 backward (DM): TF32 checked against float64 (case 23's
       large logits check only that TF32's outputs are finite), GQA 2:1, Nq > Nk bottom-right, accumulate and
       deterministic modes */
    {0, 1, 4, 2, 300, 200, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 1, 1},
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

enum { M_SIMT = 0, M_3X, M_TF32, NMODES };
static const char *kModeName[NMODES] = {"simt", "3xTF32", "TF32"};
static jfa_context_t *g_ctx[NMODES];
static int g_env_simt; /* JFA_KERNEL_PATH=simt for the whole run */

/* A dense mask (B, Hq, Nq, Nk), contiguous: ~25% masked entries, rows i % 13 == 5 fully masked. */
typedef struct {
  jfa_tensor_t dev, host;
  void *dptr, *hptr;
} dmask_t;

static void make_dense(dmask_t *m, int kind, int64_t B, int64_t H, int64_t Nq, int64_t Nk) {
  const size_t n = (size_t)(B * H * Nq * Nk);
  double *r = malloc((n ? n : 1) * sizeof(double));
  tu_fill_normal(r, n, 1.0);
  const jfa_dtype_t mdt = kind == DN_BOOL ? JFA_DTYPE_BOOL : F32;
  void *stage = malloc((n ? n : 1) * jfa_dtype_size(mdt));
  if (kind == DN_BOOL) {
    unsigned char *hb = malloc(n ? n : 1);
    for (size_t x = 0; x < n; ++x) {
      const int64_t i = (int64_t)(x / (size_t)Nk) % Nq;
      hb[x] = !(fabs(r[x]) > 1.15 || i % 13 == 5);
    }
    memcpy(stage, hb, n);
    m->hptr = hb;
  } else {
    double *hd = malloc((n ? n : 1) * sizeof(double));
    for (size_t x = 0; x < n; ++x) {
      const int64_t i = (int64_t)(x / (size_t)Nk) % Nq;
      hd[x] = (fabs(r[x]) > 1.15 || i % 13 == 5) ? -INFINITY : tu_round(r[x] * 0.7, F32);
      ((float *)stage)[x] = (float)hd[x];
    }
    m->hptr = hd;
  }
  m->host = jfa_tensor_bhsd(m->hptr, kind == DN_BOOL ? JFA_DTYPE_BOOL : JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, B, H, Nq, Nk);
  if (cudaMalloc(&m->dptr, (n ? n : 1) * jfa_dtype_size(mdt)) != cudaSuccess)
    gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(mask)");
  cudaMemcpy(m->dptr, stage, n * jfa_dtype_size(mdt), cudaMemcpyHostToDevice);
  m->dev = jfa_tensor_bhsd(m->dptr, mdt, JFA_DEVICE_CUDA, B, H, Nq, Nk);
  free(stage), free(r);
}

/* The family a mode must run on (beyond: masks other than causal): the sm90 float32 backward at D = 64
   where gt_expected_f32_bwd_path says so (JFA_SM90_F32_BWD), else sm80 up to D = 256 (up to 128 under
   JFA_SM80_F32_BWD256=0), else simt. */
static int want_path(int mode, int64_t D, int beyond) {
  if (mode == M_SIMT || g_env_simt) return GT_PATH_SIMT;
  return gt_expected_f32_bwd_path(D, beyond);
}

/* Runs the backward of mode m (flags | the mode's own) on that mode's context. */
static void backward_call(int m, unsigned flags, const jfa_attention_params_t *pg, gbuf_t *q, gbuf_t *k, gbuf_t *v,
                          gbuf_t *o, gbuf_t *lse, gbuf_t *dout, gbuf_t *dq, gbuf_t *dk, gbuf_t *dv) {
  gt_ok(jfa_context_set_flags(g_ctx[m], flags | (m == M_TF32 ? JFA_FLAG_ALLOW_TF32 : 0u)), "set_flags");
  gb_poison(dq), gb_poison(dk), gb_poison(dv);
  const jfa_status_t s =
      jfa_attention_backward(g_ctx[m], pg, &q->t, &k->t, &v->t, &o->t, &lse->t, &dout->t, &dq->t, &dk->t, &dv->t);
  gt_ok(s, "backward");
  gb_get(dq), gb_get(dk), gb_get(dv);
}

static double max3(double a, double b, double c) { return fmax(a, fmax(b, c)); }

/* The float64 reference of a case's forward and backward (the CPU backend on q, k, v, dout's stored values, params
   p), into ro, rlse, rdq, rdk, rdv (B Hq Nq D, B Hq Nq, B Hkv Nk D floats); o and lse then hold the reference O and lse
   rounded to float32, which the GPU backward reads. */
static void reference(jfa_context_t *cpu, const jfa_attention_params_t *p, gbuf_t *q, gbuf_t *k, gbuf_t *v,
                      gbuf_t *dout, gbuf_t *o, gbuf_t *lse, int64_t B, int64_t Hq, int64_t Hkv, int64_t Nq, int64_t Nk,
                      int64_t D, double *ro, double *rlse, double *rdq, double *rdk, double *rdv) {
  jfa_tensor_t hq = host_f64(q->val, B, Hq, Nq, D), hk = host_f64(k->val, B, Hkv, Nk, D),
               hv = host_f64(v->val, B, Hkv, Nk, D), hdo = host_f64(dout->val, B, Hq, Nq, D),
               ho = host_f64(ro, B, Hq, Nq, D), hl = host_f64(rlse, B, Hq, Nq, 1), hdq = host_f64(rdq, B, Hq, Nq, D),
               hdk = host_f64(rdk, B, Hkv, Nk, D), hdv = host_f64(rdv, B, Hkv, Nk, D);
  gt_ok(jfa_attention_forward(cpu, p, &hq, &hk, &hv, &ho, &hl), "cpu forward");
  gt_ok(jfa_attention_backward(cpu, p, &hq, &hk, &hv, &ho, &hl, &hdo, &hdq, &hdk, &hdv), "cpu backward");
  gb_set(o, ro);
  gb_set(lse, rlse);
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  (void)gpu;
  const fcase_t *c = &cases[ci];
  int64_t cq[65], ck[65];
  int ns = 0;
  int64_t Nq = c->Nq, Nk = c->Nk;
  if (c->seq_q && (ns = gt_packed_offsets(c->seq_q, c->seq_k, cq, ck, &Nq, &Nk)) < 0) return;
  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, D = c->D;
  printf("case %d: fp32 %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld mask=%d pos=(%lld,%lld) window=(%lld,%lld) "
         "seqs=%s/%s dense=%d sigma=%g\n",
         ci, c->bshd ? "BSHD" : "BHSD", (long long)B, (long long)Hq, (long long)Hkv, (long long)Nq, (long long)Nk,
         (long long)D, (int)c->mask, (long long)c->qpos, (long long)c->kpos, (long long)c->wl, (long long)c->wr,
         c->seq_q ? c->seq_q : "-", c->seq_k ? c->seq_k : "-", c->dense, c->sigma);
  fflush(stdout);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.q_position = c->qpos;
  prm.k_position = c->kpos;
  prm.window_left = c->wl;
  prm.window_right = c->wr;
  if (ns) prm.cu_seqlens_q = cq, prm.cu_seqlens_k = ck, prm.num_seqs = ns;
  dmask_t dm;
  memset(&dm, 0, sizeof(dm));
  if (c->dense) make_dense(&dm, c->dense, B, Hq, Nq, Nk);
  jfa_attention_params_t pc = prm, pg = prm;
  if (c->dense) pc.attn_mask = &dm.host, pg.attn_mask = &dm.dev;

  gbuf_t q = gb_new(F32, c->bshd, B, Hq, Nq, D), k = gb_new(F32, c->bshd, B, Hkv, Nk, D),
         v = gb_new(F32, c->bshd, B, Hkv, Nk, D), dout = gb_new(F32, c->bshd, B, Hq, Nq, D),
         o = gb_new(F32, c->bshd, B, Hq, Nq, D), lse = gb_new(F32, 0, B, Hq, Nq, 1),
         dq = gb_new(F32, c->bshd, B, Hq, Nq, D), dk = gb_new(F32, c->bshd, B, Hkv, Nk, D),
         dv = gb_new(F32, c->bshd, B, Hkv, Nk, D);
  gb_random(&q, c->sigma);
  gb_random(&k, c->sigma);
  gb_random(&v, 1.0);
  gb_random(&dout, 1.0);

  /* float64 reference; the GPU backward gets its O and lse rounded to float32 */
  const size_t nq = q.n, nk = k.n, nr = lse.n;
  double *ro = calloc(nq + 1, 8), *rlse = calloc(nr + 1, 8), *rdq = calloc(nq + 1, 8), *rdk = calloc(nk + 1, 8),
         *rdv = calloc(nk + 1, 8);
  reference(cpu, &pc, &q, &k, &v, &dout, &o, &lse, B, Hq, Hkv, Nq, Nk, D, ro, rlse, rdq, rdk, rdv);
  int64_t empty_rows = 0;
  for (size_t r = 0; r < nr; ++r) empty_rows += rlse[r] == -INFINITY;
  printf("  %lld of %zu rows see no key\n", (long long)empty_rows, nr);

  char nm[192];
  const int large = c->sigma > 1.0;
  /* a boolean dense mask is not beyond the sm90 float32 backward where it takes them (gt_sm90_f32_bwd_dense_on) */
  const int beyond = c->wl != UNB || c->wr != UNB || ns > 0 ||
                     (c->dense != DN_NONE && !(c->dense == DN_BOOL && gt_sm90_f32_bwd_dense_on()));
  /* TF32 rounds each operand to 2^-11: 1e-2, as test_gpu_f32's TF32 bound. 5e-3 failed once on the H200
     (2026-12-02 sixth session, sm80, case 12: Nq = Nk = 1, dK 5.6e-3, where dS = P (dP - Delta) is pure
     rounding: TF32's dP - float32's Delta against a tenth of dV's size) */
  const double tol32 = gt_tol(F32), tol_tf32 = 1e-2;
  /* 3xTF32 sums dK, dV over Nq queries in the mma accumulators, whose float32 additions do not
     round to nearest: 1.8e-5 at Nq = 1000 and 2.2e-5 at Nq = 2048 against simt's 1e-6 (H200,
     2026-12-02), growing about as sqrt(Nq); at large logits the float32 scores (simt sums them
     in double) give up to 6.9e-4 (simt 8e-5). A CTA sums a key's dK, dV over the queries of every head of its
     GQA group (one (batch, kv head) a CTA, sm90/bwd_f32.cuh and sm80's): Nq Hq / Hkv terms. The two measurements
     were at ~2000 terms (Nq = 1000, GQA 2:1; Nq = 2048, Hq = Hkv), so beyond 2000 terms the bound grows with
     that count too (case 41: Nq = 700, GQA 4:1, 2800 terms; no other case's bound changes) */
  const double terms = fmax((double)Nq / 1000.0, (double)Nq * (double)(Hq / Hkv) / 2000.0);
  const double tol3x = large ? 1.5e-3 : 3e-5 * sqrt(fmax(1.0, terms));
  /* dQ, dK vanish by cancellation when a row sees one key (Nq = Nk = 1: dS = P (dP - Delta) = 0):
     their error is measured against a floor of a tenth of dV's size (a float64 reference of
     1e-17 would make any float32 rounding a relative error of 1e9; with 1e-3 of it the H200 gave
     1.3e-4 for simt, whose float32 dP - Delta rounds to ~1e-7 |dO| |V|) */
  double rms_dv = 0;
  for (size_t x = 0; x < dv.n; ++x) rms_dv += rdv[x] * rdv[x];
  rms_dv = sqrt(rms_dv / (double)(dv.n ? dv.n : 1));
  /* the rounding of dP - Delta (two float32 sums of D products, times s |K|) grows about as sqrt(D)
     against this floor: at D = 256 a tenth of dV's size read simt's rounding as 1.43e-5 against the
     1e-5 bound (H200, eighth session, case 37 under JFA_SM80_F32_BWD256=0); the floor scales with
     D / 64 above D = 64 (2x margin over sqrt) */
  const double floor_qk = 0.1 * rms_dv * fmax(1.0, (double)D / 64.0);
  /* TF32 rounds dP's operands to 2^-11, 8192x float32's 2^-24, while its bound (1e-2) is 1000x float32's
     (1e-5): against the float32 floor its pure rounding at Nq = Nk = 1 reads 20 units of 2^-11 against a
     bound of 20 (case 12 failed at 1.1e-2, H100, forty-fourth session; simt's 22 units of 2^-24 sit under
     a bound of 168). TF32's floor is 10x the float32 one, which keeps the margin float32's floor has */
  const double floor_qk_tf32 = 10.0 * floor_qk;
  double err[NMODES][3];
  for (int m = 0; m < NMODES; ++m) {
    backward_call(m, 0u, &pg, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
    snprintf(nm, sizeof(nm), "case %d %s", ci, kModeName[m]);
    gt_check_path(g_ctx[m], nm, 1, want_path(m, D, beyond));
    gbuf_t *got[3] = {&dq, &dk, &dv};
    const double *ref[3] = {rdq, rdk, rdv};
    static const char *gname[3] = {"dQ", "dK", "dV"};
    for (int e = 0; e < 3; ++e) {
      const size_t n = got[e]->n;
      const size_t nan = tu_count_nan(got[e]->val, n);
      const double fl = e == 2 ? 0.0 : m == M_TF32 ? floor_qk_tf32 : floor_qk;
      err[m][e] = nan ? NAN : tu_rel_err_floor(got[e]->val, ref[e], n, fl);
      snprintf(nm, sizeof(nm), "case %d %s %s: every element written, no NaN (%zu of %zu NaN)", ci, kModeName[m],
               gname[e], nan, n);
      tu_expect(nm, nan == 0);
      int finite = 1;
      for (size_t x = 0; x < n; ++x) finite &= isfinite(got[e]->val[x]) != 0;
      snprintf(nm, sizeof(nm), "case %d %s %s finite", ci, kModeName[m], gname[e]);
      tu_expect(nm, finite);
    }
    printf("  %-6s rel err dQ %.3e dK %.3e dV %.3e\n", kModeName[m], err[m][0], err[m][1], err[m][2]);
    /* exact zeros where nothing is visible: rows without keys (dQ), keys without queries (dK, dV) */
    int64_t bad = 0;
    for (int64_t r = 0; r < B * Hq * Nq; ++r)
      if (rlse[r] == -INFINITY) bad += !gt_row_zero(dq.val, r, D);
    for (int64_t r = 0; r < B * Hkv * Nk; ++r)
      if (gt_row_zero(rdk, r, D) && gt_row_zero(rdv, r, D))
        bad += !(gt_row_zero(dk.val, r, D) && gt_row_zero(dv.val, r, D));
    snprintf(nm, sizeof(nm), "case %d %s: exact zero gradients where nothing is visible (%lld bad rows)", ci,
             kModeName[m], (long long)bad);
    tu_expect(nm, bad == 0);
  }
  for (int e = 0; e < 3; ++e) {
    static const char *gname[3] = {"dQ", "dK", "dV"};
    if (!large) {
      snprintf(nm, sizeof(nm), "case %d simt %s", ci, gname[e]), tu_check(nm, err[M_SIMT][e], tol32);
      snprintf(nm, sizeof(nm), "case %d 3xTF32 %s (simt's %.2e)", ci, gname[e], err[M_SIMT][e]);
      tu_check(nm, err[M_3X][e], fmax(tol3x, tol32));
      snprintf(nm, sizeof(nm), "case %d TF32 %s", ci, gname[e]),
          tu_check(nm, err[M_TF32][e], want_path(M_TF32, D, beyond) == GT_PATH_SIMT ? tol32 : tol_tf32);
    } else {
      snprintf(nm, sizeof(nm), "case %d simt %s (large logits)", ci, gname[e]), tu_check(nm, err[M_SIMT][e], 2e-3);
      snprintf(nm, sizeof(nm), "case %d 3xTF32 %s (large logits, simt's %.2e)", ci, gname[e], err[M_SIMT][e]);
      tu_check(nm, err[M_3X][e], tol3x);
    }
  }
  printf("  3xTF32 / simt error ratio (max over dQ, dK, dV): %.2f\n",
         max3(err[M_3X][0], err[M_3X][1], err[M_3X][2]) / fmax(max3(err[M_SIMT][0], err[M_SIMT][1], err[M_SIMT][2]), 1e-300));

  /* deterministic mode: no atomics; two runs bitwise equal, and as accurate */
  if (c->det) {
    for (int m = M_3X; m < NMODES; ++m) {
      gbuf_t *outs[3] = {&dq, &dk, &dv};
      /* shared memory left by another pattern before each run (finite, then raw bits): the first kernel of the call
         that reads shared memory it did not write makes the two runs differ */
      int poisoned = gt_poison_shared_memory(0x5eed2000u + 8u * (unsigned)ci + 2u * (unsigned)m);
      backward_call(m, JFA_FLAG_DETERMINISTIC, &pg, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
      snprintf(nm, sizeof(nm), "case %d %s deterministic", ci, kModeName[m]);
      gt_check_path(g_ctx[m], nm, 1, want_path(m, D, beyond));
      double *keep = gb_snapshot(outs, 3);
      poisoned &= gt_poison_shared_memory(0x5eed2000u + 8u * (unsigned)ci + 2u * (unsigned)m + 1u);
      backward_call(m, JFA_FLAG_DETERMINISTIC, &pg, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
      const int same = gb_same(outs, 3, keep);
      snprintf(nm, sizeof(nm), "case %d %s deterministic: two runs bitwise equal (shared memory poisoned before each: %d)",
               ci, kModeName[m], poisoned);
      tu_expect(nm, same && poisoned);
      const double t = want_path(m, D, beyond) == GT_PATH_SIMT ? (large ? 2e-3 : tol32) : m == M_3X ? tol3x : tol_tf32;
      snprintf(nm, sizeof(nm), "case %d %s deterministic dQ", ci, kModeName[m]), gt_compare(nm, dq.val, rdq, nq, t);
      snprintf(nm, sizeof(nm), "case %d %s deterministic dK", ci, kModeName[m]), gt_compare(nm, dk.val, rdk, nk, t);
      snprintf(nm, sizeof(nm), "case %d %s deterministic dV", ci, kModeName[m]), gt_compare(nm, dv.val, rdv, nk, t);
      free(keep);
    }
  }

  /* accumulate mode (the ring's): the backend over two key halves adds into float32 dq, dk, dv */
  if (c->acc) {
    jfa_problem_t whole;
    memset(&whole, 0, sizeof(whole));
    whole.B = B, whole.Hq = Hq, whole.Hkv = Hkv, whole.Nq = Nq, whole.Nk = Nk, whole.D = D;
    whole.scale = 1.0 / sqrt((double)D);
    whole.causal = c->mask == TL || c->mask == BR || c->mask == CPOS;
    whole.q_pos0 = (c->mask == BR && !ns) ? Nk - Nq : c->mask == CPOS ? c->qpos : 0;
    whole.k_pos0 = c->mask == CPOS ? c->kpos : 0;
    whole.windowed = c->wl != UNB || c->wr != UNB;
    whole.win_left = c->wl, whole.win_right = c->wr;
    whole.nseq = ns, whole.cu_q = ns ? cq : NULL, whole.cu_k = ns ? ck : NULL;
    whole.seq_bottom_right = ns && c->mask == BR;
    gbuf_t delta = gb_new(F32, 0, B, Hq, Nq, 1);
    gt_ok(jfa_cuda_attention_delta(g_ctx[M_3X], &whole, &o.t, &dout.t, &delta.t), "attention_delta");
    const int64_t h1 = Nk / 16 > 0 ? Nk / 16 * 8 : Nk / 2;
    const int64_t r0[2] = {0, h1}, rn[2] = {h1, Nk - h1};
    for (int m = M_3X; m < NMODES; ++m) {
      gt_ok(jfa_context_set_flags(g_ctx[m], m == M_TF32 ? JFA_FLAG_ALLOW_TF32 : 0u), "set_flags");
      gt_ok(jfa_cuda_fill(g_ctx[m], &dq.t, 0.0), "fill");
      gt_ok(jfa_cuda_fill(g_ctx[m], &dk.t, 0.0), "fill");
      gt_ok(jfa_cuda_fill(g_ctx[m], &dv.t, 0.0), "fill");
      for (int s = 0; s < 2; ++s) {
        if (rn[s] == 0) continue;
        jfa_problem_t p = whole;
        p.Nk = rn[s];
        p.k_pos0 = whole.k_pos0 + r0[s];
        jfa_tensor_t mk;
        if (c->dense) mk = gt_rows(&dm.dev, 3, r0[s], rn[s]), p.dmask = &mk;
        jfa_tensor_t k2 = gt_rows(&k.t, 2, r0[s], rn[s]), v2 = gt_rows(&v.t, 2, r0[s], rn[s]),
                     dk2 = gt_rows(&dk.t, 2, r0[s], rn[s]), dv2 = gt_rows(&dv.t, 2, r0[s], rn[s]);
        gt_ok(jfa_cuda_attention_backward_block(g_ctx[m], &p, &q.t, &k2, &v2, &dout.t, &lse.t, &delta.t, &dq.t, &dk2,
                                                &dv2, 1),
              "attention_backward_block(accumulate)");
        snprintf(nm, sizeof(nm), "case %d %s accumulate half %d", ci, kModeName[m], s);
        /* a half's rows are 16-byte aligned when its first row is (D % 4 == 0 here) */
        gt_check_path(g_ctx[m], nm, 1, want_path(m, D, beyond));
      }
      gb_get(&dq), gb_get(&dk), gb_get(&dv);
      const double t = want_path(m, D, beyond) == GT_PATH_SIMT ? tol32 : m == M_3X ? tol3x : tol_tf32;
      /* dQ, dK against the same floor as above (a tenth of dV's size): at Nq = Nk = 1 (case 37) their
         float64 reference is ~1e-16 (its dP and Delta summed in two orders), and without the floor any
         float32 kernel's rounding of dP - Delta (~1e-6) read as 1e9-1e12 (H200, sixth session) */
      const double fl = m == M_TF32 ? floor_qk_tf32 : floor_qk;
      snprintf(nm, sizeof(nm), "case %d %s accumulate dQ", ci, kModeName[m]),
          tu_check(nm, tu_rel_err_floor(dq.val, rdq, nq, fl), t);
      snprintf(nm, sizeof(nm), "case %d %s accumulate dK", ci, kModeName[m]),
          tu_check(nm, tu_rel_err_floor(dk.val, rdk, nk, fl), t);
      snprintf(nm, sizeof(nm), "case %d %s accumulate dV", ci, kModeName[m]), gt_compare(nm, dv.val, rdv, nk, t);
    }
    gb_free(&delta);
  }

  free(ro), free(rlse), free(rdq), free(rdk), free(rdv);
  gbuf_t *all[] = {&q, &k, &v, &dout, &o, &lse, &dq, &dk, &dv};
  for (size_t e = 0; e < sizeof(all) / sizeof(all[0]); ++e) gb_free(all[e]);
  if (c->dense) cudaFree(dm.dptr), free(dm.hptr);
}

/* A float32 dq on the device in row stride rs >= D (BHSD otherwise) at `off` floats past a fresh allocation's start,
   every float of the allocation first set to `fill`, the call's elements then to `start` (the accumulate mode's
   existing values). */
typedef struct {
  float *base;
  size_t nalloc;
  jfa_tensor_t t;
} dq_buf_t;

static dq_buf_t dq_layout(int64_t B, int64_t H, int64_t N, int64_t D, int64_t rs, size_t off, float fill, float start) {
  dq_buf_t d;
  d.nalloc = off + (size_t)(B * H * N * rs);
  float *h = malloc(d.nalloc * sizeof(float));
  for (size_t x = 0; x < d.nalloc; ++x) h[x] = fill;
  for (int64_t r = 0; r < B * H * N; ++r)
    for (int64_t c = 0; c < D; ++c) h[off + (size_t)(r * rs + c)] = start;
  if (cudaMalloc((void **)&d.base, d.nalloc * sizeof(float)) != cudaSuccess)
    gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(dq)");
  cudaMemcpy(d.base, h, d.nalloc * sizeof(float), cudaMemcpyHostToDevice);
  free(h);
  d.t = jfa_tensor_bhsd(d.base + off, F32, JFA_DEVICE_CUDA, B, H, N, D);
  d.t.stride[2] = rs, d.t.stride[1] = N * rs, d.t.stride[0] = H * N * rs;
  return d;
}

/* The last case: dq layouts the float32 backward's dQ-into-dq path (sm80/family.cu sm80_f32_dq_direct) must decline
   or handle, at D = 128 causal with GQA 2:1 in 3xTF32 (sm80's kernel): rows padded to D + 2 floats (not a dense span:
   the fp32 workspace and its scale-add pass), a base 4 bytes past an 8-byte boundary (the two-column atomics need 8:
   the workspace), and the padded rows in accumulate mode (dQ added into the strided dq by the kernel itself). Each
   against the float64 reference; the floats outside the call's elements keep their sentinel; what the call's elements
   held before is kept under accumulate. The same checks pass with JFA_SM80_F32_DQ_DIRECT=0 (every layout through the
   workspace: the _sm80dqws entry). */
static void run_dq_layouts(jfa_context_t *cpu) {
  const int64_t B = 2, Hq = 4, Hkv = 2, N = 129, D = 128;
  const float sentinel = 7.0f, start = 0.25f;
  printf("case dq-layouts: float32 B %lld Hq %lld Hkv %lld N %lld D %lld causal, 3xTF32\n", (long long)B,
         (long long)Hq, (long long)Hkv, (long long)N, (long long)D);
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm); /* a zeroed struct reads as jfa 0.1's layout, whose causal mode is ignored */
  prm.mask = TL;
  prm.window_left = prm.window_right = UNB;
  gbuf_t q = gb_new(F32, 0, B, Hq, N, D), k = gb_new(F32, 0, B, Hkv, N, D), v = gb_new(F32, 0, B, Hkv, N, D),
         dout = gb_new(F32, 0, B, Hq, N, D), o = gb_new(F32, 0, B, Hq, N, D), lse = gb_new(F32, 0, B, Hq, N, 1),
         dk = gb_new(F32, 0, B, Hkv, N, D), dv = gb_new(F32, 0, B, Hkv, N, D), delta = gb_new(F32, 0, B, Hq, N, 1);
  gb_random(&q, 1.0), gb_random(&k, 1.0), gb_random(&v, 1.0), gb_random(&dout, 1.0);
  const size_t nq = q.n, nk = k.n;
  double *ro = calloc(nq, 8), *rlse = calloc(lse.n, 8), *rdq = calloc(nq, 8), *rdk = calloc(nk, 8),
         *rdv = calloc(nk, 8);
  reference(cpu, &prm, &q, &k, &v, &dout, &o, &lse, B, Hq, Hkv, N, N, D, ro, rlse, rdq, rdk, rdv);
  double rms_dv = 0;
  for (size_t x = 0; x < nk; ++x) rms_dv += rdv[x] * rdv[x];
  const double floor_qk = 0.1 * sqrt(rms_dv / (double)nk) * (double)D / 64.0, tol = fmax(3e-5, gt_tol(F32));
  jfa_problem_t whole;
  memset(&whole, 0, sizeof(whole));
  whole.B = B, whole.Hq = Hq, whole.Hkv = Hkv, whole.Nq = N, whole.Nk = N, whole.D = D;
  whole.scale = 1.0 / sqrt((double)D);
  whole.causal = 1;
  gt_ok(jfa_cuda_attention_delta(g_ctx[M_3X], &whole, &o.t, &dout.t, &delta.t), "attention_delta");
  gt_ok(jfa_context_set_flags(g_ctx[M_3X], 0u), "set_flags");
  static const char *lname[3] = {"rows padded to D + 2", "base 4 bytes past 8-byte alignment",
                                 "rows padded to D + 2, accumulate mode"};
  const int64_t rs[3] = {D + 2, D, D + 2};
  const size_t off[3] = {0, 1, 0};
  for (int l = 0; l < 3; ++l) {
    const int acc = l == 2;
    dq_buf_t d = dq_layout(B, Hq, N, D, rs[l], off[l], sentinel, acc ? start : NAN);
    if (acc)
      gt_ok(jfa_cuda_attention_backward_block(g_ctx[M_3X], &whole, &q.t, &k.t, &v.t, &dout.t, &lse.t, &delta.t, &d.t,
                                              &dk.t, &dv.t, 1),
            "attention_backward_block(accumulate)");
    else
      gt_ok(jfa_attention_backward(g_ctx[M_3X], &prm, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &d.t, &dk.t, &dv.t),
            "backward");
    char nm[192];
    snprintf(nm, sizeof(nm), "case dq-layouts, %s", lname[l]);
    gt_check_path(g_ctx[M_3X], nm, 1, want_path(M_3X, D, 0));
    float *h = malloc(d.nalloc * sizeof(float));
    cudaMemcpy(h, d.base, d.nalloc * sizeof(float), cudaMemcpyDeviceToHost);
    double *got = malloc(nq * sizeof(double));
    size_t kept = 0, outside = 0;
    for (size_t x = 0; x < d.nalloc; ++x) {
      const int64_t y = (int64_t)x - (int64_t)off[l];
      const int inside = y >= 0 && y % rs[l] < D && (size_t)(y / rs[l]) < (size_t)(B * Hq * N);
      if (inside) got[(size_t)(y / rs[l]) * (size_t)D + (size_t)(y % rs[l])] = (double)h[x] - (acc ? start : 0.0);
      else outside++, kept += h[x] == sentinel;
    }
    snprintf(nm, sizeof(nm), "case dq-layouts, %s: the %zu floats outside dq keep their sentinel", lname[l], outside);
    tu_expect(nm, kept == outside);
    snprintf(nm, sizeof(nm), "case dq-layouts, %s: dQ", lname[l]);
    gt_compare_floor(nm, got, rdq, nq, tol, floor_qk);
    free(got), free(h);
    cudaFree(d.base);
  }
  free(ro), free(rlse), free(rdq), free(rdk), free(rdv);
  gbuf_t *all[] = {&q, &k, &v, &dout, &o, &lse, &dk, &dv, &delta};
  for (size_t e = 0; e < sizeof(all) / sizeof(all[0]); ++e) gb_free(all[e]);
}

/* The cases of the table, then the dq layouts (case NCASES). */
static void run_any_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  if (ci < NCASES) run_case(ci, gpu, cpu);
  else run_dq_layouts(cpu);
}

int main(int argc, char **argv) {
  gt_require_gpu();
  const char *e = getenv("JFA_KERNEL_PATH");
  g_env_simt = e && strcmp(e, "simt") == 0;
  /* a context reads JFA_KERNEL_PATH when it is created: the simt one under JFA_KERNEL_PATH=simt */
  char *old = e ? strdup(e) : NULL;
  setenv("JFA_KERNEL_PATH", "simt", 1);
  gt_ok(jfa_context_create(&g_ctx[M_SIMT], JFA_DEVICE_CUDA, 0), "context_create(CUDA, simt)");
  if (old) setenv("JFA_KERNEL_PATH", old, 1);
  else unsetenv("JFA_KERNEL_PATH");
  free(old);
  for (int m = 0; m < NMODES; ++m)
    if (m != M_SIMT) gt_ok(jfa_context_create(&g_ctx[m], JFA_DEVICE_CUDA, 0), "context_create(CUDA)");
  const int rc = gt_main(argc, argv, "test_gpu_f32_backward", NCASES + 1, run_any_case);
  for (int m = 0; m < NMODES; ++m) jfa_context_destroy(g_ctx[m]);
  return rc;
}
