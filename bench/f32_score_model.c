/*
 * f32_score_model.c - a CPU model of the float32 backward's 3xTF32 score products at large logits
 * (test_gpu_f32_backward's cases 8 and 30: q, k ~ N(0, 30^2), D = 64, lse and O from float64
 * rounded to float32), for telling the sm90 kernel's operand splits and product orders apart
 * without a GPU. The tensor core is modelled per instruction (one k8 step): TF32 operands (the top
 * 19 bits of what it is given), exact products, their sum added to the accumulator and the result
 * truncated toward zero to float32 (the wgmma / mma accumulator does not round to nearest). Only
 * S = K Q^T is emulated; P = exp2((scale S - lse) log2 e) in float32 as the kernels, the rest
 * (dP, dS, the gradient sums) in double, and the errors are test_gpu_f32_backward's (norm-wise,
 * dQ / dK against a floor of a tenth of dV's size).
 *   cc -O2 -o /tmp/f32_score_model bench/f32_score_model.c -lm
 *   /tmp/f32_score_model 256 0 1     # N, causal, seed: case 8's shape (B = 1, H = 2, N = 256)
 *   /tmp/f32_score_model 1000 1 1    # case 30's (N = 1000, causal)
 *   /tmp/f32_score_model 300 0 1 256 # N, causal, seed, D (default 64; scale 1 / sqrt(D)): case 36's shape
 * 2026-12-02, seeds 1-3 of case 8 and 1-2 of case 30: sm80 (rounded hi, small products in their own
 * accumulator) 2.7-7.4e-4 (the H200: 4.3-6.9e-4); the first sm90 version (hi parts truncated on
 * both sides, lo * hi, hi * lo, hi * hi per k8 step into one accumulator) 0.9-1.6e-3 (the H200:
 * 1.5-1.6e-3); its fix (K rounded, the small products of all k8 steps first) 2.6-5.0e-4.
 * 2026-12-02 (sixth session), D = 256 (case 36: N = 300, seeds 1-2): sm80's order 1.7-2.6e-3 (the H200's
 * two-slice kernel: dV 1.55-1.58e-3), with the hi * hi products in chunks of 4 k8 steps added to S by
 * round-to-nearest float adds (the slices kernel's SCH) 2.0-3.3e-4; D = 128 causal (case 9) 4.4-9.1e-4
 * (the H200 4-7e-4).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf32_model.h"

/* operand splits: SPLIT_SM80 tf32_split (hi rounded, lo = x - hi read truncated); SPLIT_ROUND the
   sm90 K, V planes (hi rounded, lo = TF32(x - hi)); SPLIT_TRUNC a tile as TMA wrote it (hi = x read
   truncated, lo = TF32(x - trunc x)) */
enum { SPLIT_SM80, SPLIT_ROUND, SPLIT_TRUNC };
static void split(float x, int mode, float *h, float *l) {
  const float hh = mode == SPLIT_TRUNC ? trunc19(x) : rna(x);
  *h = hh;
  *l = mode == SPLIT_SM80 ? trunc19(x - hh) : rna(x - hh);
}
/* product orders: ORD_STEP lo * hi, hi * lo, hi * hi per k8 step into one accumulator; ORD_SEP the
   small products into their own accumulator, added at the end (sm80); ORD_SMALLFIRST the small
   products of every k8 step, then the hi * hi ones, one accumulator (sm90's fix) */
enum { ORD_STEP, ORD_SEP, ORD_SMALLFIRST, ORD_SEPCHUNK };
static float dot3(const float *a, const float *b, int D, int sa, int sb, int ord) {
  float acc = 0.f, accl = 0.f, chunk = 0.f;
  for (int pass = 0; pass < (ord == ORD_SMALLFIRST ? 2 : 1); ++pass)
    for (int k0 = 0; k0 < D; k0 += 8) {
      double lh = 0, hl = 0, hh = 0;
      for (int k = k0; k < k0 + 8; ++k) {
        float ah, al, bh, bl;
        split(a[k], sa, &ah, &al);
        split(b[k], sb, &bh, &bl);
        lh += (double)al * bh, hl += (double)ah * bl, hh += (double)ah * bh;
      }
      if (ord == ORD_STEP) acc = acc_add(acc_add(acc_add(acc, lh), hl), hh);
      else if (ord == ORD_SEP) accl = acc_add(acc_add(accl, lh), hl), acc = acc_add(acc, hh);
      else if (ord == ORD_SEPCHUNK) { accl = acc_add(acc_add(accl, lh), hl); chunk = acc_add(chunk, hh);
        if ((k0 / 8) % 4 == 3 || k0 + 8 >= D) acc = acc + chunk, chunk = 0.f; }
      else if (pass == 0) acc = acc_add(acc_add(acc, lh), hl);
      else acc = acc_add(acc, hh);
    }
  return ord == ORD_SEP || ord == ORD_SEPCHUNK ? acc + accl : acc;
}
static double rel_err(const double *g, const double *r, size_t n, double floor_rms) {
  double a = 0, b = 0;
  for (size_t i = 0; i < n; ++i) a += (g[i] - r[i]) * (g[i] - r[i]), b += r[i] * r[i];
  b = fmax(b, floor_rms * floor_rms * (double)n);
  return sqrt(a / b);
}

enum { NM = 6 };
static const char *kName[NM] = {"sm80 (rounded hi, separate small acc)", "sm90 first (both truncated, per step)",
                                "sm90 fix (K rounded, small first)", "sm90 order only (both truncated)",
                                "sm90 ORDER=1 (K rounded, per step)", "sm80 + hi*hi in chunks of 4 k8, RN adds"};
static const int kSplitK[NM] = {SPLIT_SM80, SPLIT_TRUNC, SPLIT_ROUND, SPLIT_TRUNC, SPLIT_ROUND, SPLIT_SM80};
static const int kSplitQ[NM] = {SPLIT_SM80, SPLIT_TRUNC, SPLIT_TRUNC, SPLIT_TRUNC, SPLIT_TRUNC, SPLIT_SM80};
static const int kOrder[NM] = {ORD_SEP, ORD_STEP, ORD_SMALLFIRST, ORD_SMALLFIRST, ORD_STEP, ORD_SEPCHUNK};

int main(int argc, char **argv) {
  const int N = argc > 1 ? atoi(argv[1]) : 256, causal = argc > 2 ? atoi(argv[2]) : 0, H = 2, D = argc > 4 ? atoi(argv[4]) : 64;
  rs ^= (uint64_t)(argc > 3 ? atoi(argv[3]) : 1) * 0x9E3779B97F4A7C15ull;
  const double sc = 1.0 / sqrt((double)D);
  const size_t nd = (size_t)H * N * D;
  float *q = malloc(4 * nd), *k = malloc(4 * nd), *v = malloc(4 * nd), *dO = malloc(4 * nd);
  for (size_t i = 0; i < nd; ++i) q[i] = (float)(30 * nrand());
  for (size_t i = 0; i < nd; ++i) k[i] = (float)(30 * nrand());
  for (size_t i = 0; i < nd; ++i) v[i] = (float)nrand();
  for (size_t i = 0; i < nd; ++i) dO[i] = (float)nrand();
  double *ref[3], *got[NM][3];
  for (int e = 0; e < 3; ++e) {
    ref[e] = calloc(nd, 8);
    for (int m = 0; m < NM; ++m) got[m][e] = calloc(nd, 8);
  }
  double *S = malloc(8 * (size_t)N * N), *o = malloc(8 * (size_t)D);
  for (int h = 0; h < H; ++h) {
    const size_t hb = (size_t)h * N * D;
    const float *Q = q + hb, *K = k + hb, *V = v + hb, *G = dO + hb;
    for (int i = 0; i < N; ++i) {
      double mx = -INFINITY, l = 0, dl = 0, dl32 = 0;
      for (int j = 0; j < N; ++j) {
        double s = 0;
        for (int d = 0; d < D; ++d) s += (double)Q[i * D + d] * K[j * D + d];
        S[(size_t)i * N + j] = causal && j > i ? -INFINITY : s * sc;
        mx = fmax(mx, S[(size_t)i * N + j]);
      }
      for (int j = 0; j < N; ++j) l += exp(S[(size_t)i * N + j] - mx);
      const double L = mx + log(l);
      for (int d = 0; d < D; ++d) o[d] = 0;
      for (int j = 0; j < N; ++j)
        for (int d = 0; d < D; ++d) o[d] += exp(S[(size_t)i * N + j] - L) * V[j * D + d];
      for (int d = 0; d < D; ++d) dl += o[d] * G[i * D + d], dl32 += (double)(float)o[d] * G[i * D + d];
      const float lse = (float)L, delta = (float)dl32; /* what the GPU backward gets */
      for (int j = 0; j <= (causal ? i : N - 1); ++j) {
        double dp = 0;
        for (int d = 0; d < D; ++d) dp += (double)G[i * D + d] * V[j * D + d];
        for (int m = -1; m < NM; ++m) {
          double p, ds;
          if (m < 0) {
            p = exp(S[(size_t)i * N + j] - L), ds = p * (dp - dl);
          } else {
            const float s = dot3(&K[j * D], &Q[i * D], D, kSplitK[m], kSplitQ[m], kOrder[m]);
            p = exp2f(fmaf(s, (float)sc, -lse) * 1.4426950408889634f), ds = p * (dp - (double)delta);
          }
          double **out = m < 0 ? ref : got[m];
          for (int d = 0; d < D; ++d) {
            out[0][hb + i * D + d] += sc * ds * K[j * D + d];
            out[1][hb + j * D + d] += sc * ds * Q[i * D + d];
            out[2][hb + j * D + d] += p * G[i * D + d];
          }
        }
      }
    }
  }
  double rms_dv = 0;
  for (size_t i = 0; i < nd; ++i) rms_dv += ref[2][i] * ref[2][i];
  rms_dv = sqrt(rms_dv / (double)nd);
  printf("N = %d, causal %d: relative errors (test_gpu_f32_backward's measure)\n", N, causal);
  for (int m = 0; m < NM; ++m)
    printf("  %-40s dQ %.3e dK %.3e dV %.3e\n", kName[m], rel_err(got[m][0], ref[0], nd, 0.1 * rms_dv),
           rel_err(got[m][1], ref[1], nd, 0.1 * rms_dv), rel_err(got[m][2], ref[2], nd, 0.0));
  return 0;
}
