/*
 * tf32_model.h - what the CPU models of the float32 kernels' 3xTF32 products share
 * (f32_fwd_model.c: the forward / JVP; f32_score_model.c: the backward): a seeded generator, the
 * TF32 views of a float32 the tensor core sees, and one instruction's accumulation. Header-only,
 * so each model still builds alone: cc -O2 -o /tmp/m bench/f32_fwd_model.c -lm.
 */
#ifndef JFA_BENCH_TF32_MODEL_H_
#define JFA_BENCH_TF32_MODEL_H_
#include <math.h>
#include <stdint.h>
#include <string.h>

/* xorshift64 (rs: the state; a model mixes its seed into it), uniform in (0, 1), normal */
static uint64_t rs = 88172645463325252ull;
static double urand(void) {
  rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
  return ((double)(rs >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static double nrand(void) { return sqrt(-2 * log(urand())) * cos(2 * M_PI * urand()); }
static float fb(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bf(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float trunc19(float x) { return fb(bf(x) & 0xffffe000u); }          /* what the tensor core reads */
static float rna(float x) { return fb((bf(x) + 0x1000u) & 0xffffe000u); } /* cvt.rna.tf32.f32 */
static float acc_add(float acc, double v) { /* one instruction: exact sum, truncated to float32 */
  const double e = (double)acc + v;
  float f = (float)e;
  if ((double)f != e && fabs((double)f) > fabs(e)) f = nextafterf(f, 0.f);
  return f;
}

#endif /* JFA_BENCH_TF32_MODEL_H_ */
