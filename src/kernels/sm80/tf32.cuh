/*
 * tf32.cuh - the float32 tensor-core primitives of the sm80 family (sm_80 and later):
 * mma.sync m16n8k8 with TF32 inputs and fp32 accumulation, the TF32 rounding of a float,
 * and the 3xTF32 product that keeps float32 accuracy (each operand split into a TF32 high
 * part and a TF32 remainder; three products, the small ones first).
 *
 * Fragment layouts of m16n8k8.tf32 (g = lane / 4, t = lane % 4), PTX ISA "mma.m16n8k8":
 *   A (16 x 8, row): a0 = A[g][t], a1 = A[g + 8][t], a2 = A[g][t + 4], a3 = A[g + 8][t + 4]
 *   B (8 x 8, col):  b0 = B[t][g], b1 = B[t + 4][g]
 *   C (16 x 8):      c0, c1 = C[g][2t], C[g][2t + 1]; c2, c3 = C[g + 8][2t], C[g + 8][2t + 1]
 * C has the layout of m16n8k16's accumulator (the 16-bit kernels' softmax code applies).
 * Reusing an accumulator C of S = Q K^T as the A operand of P V: the thread holds P[g][2t],
 * P[g][2t + 1] where A wants P[g][t], P[g][t + 4]. A reduction over the keys may permute them,
 * so the k8 slice's A position t is key 2t and position t + 4 is key 2t + 1:
 *   a0 = c0, a1 = c2, a2 = c1, a3 = c3, and B (V) rows permuted alike: b0 = V[2t][g], b1 = V[2t + 1][g].
 * Shared-memory rows of stride D + 4 floats make the scalar fragment loads conflict-free
 * (A[g][t]: bank 4g + t; V[2t][g]: bank 8t + g); tc_load_tile<float> (mma.cuh) fills them, f32_split splits
 * an operand element (the float32 forward, fwd_f32.cuh, and backward, bwd_f32.cuh).
 */
#ifndef JFA_KERNELS_SM80_TF32_CUH_
#define JFA_KERNELS_SM80_TF32_CUH_

#include <stdint.h>

#include "kernels/sm80/mma.cuh"

/** x rounded to TF32 (10 mantissa bits, round to nearest, ties away), as the 32-bit pattern
 *  mma.sync takes. */
__device__ __forceinline__ uint32_t tf32_round(float x) {
  uint32_t r;
  asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
  return r;
}

/** x = hi + lo with hi = TF32(x) (round to nearest, ties away: cvt.rna's result) and lo = x - hi exactly
 *  (a float with at most 13 significant bits), 3 instructions (IADD, LOP, FADD; two cvt.rna and an FADD
 *  compile to 8). lo goes to the mma as it is: the tensor core reads the top 19 bits of a TF32 operand,
 *  i.e. truncates lo to 11 significant bits (CUTLASS's fast 3xTF32 relies on the same), an error of at
 *  most 2^-21 |x| (2^-22 when lo was rounded too, the size of the dropped lo*lo term); 3xTF32's product is
 *  then within about 2^-21 relative, below the float32 accumulation over the keys that dominates the
 *  kernels' errors. NaN: a NaN's lo is NaN (FADD) and stays NaN when truncated, so the lo products carry
 *  it even where hi's rounding carries 0x7fffffff into the sign bit; Inf: hi = Inf, lo = NaN (as before).
 *  |x| within half a TF32 ulp of FLT_MAX rounds hi to Inf, as cvt.rna does. */
__device__ __forceinline__ void tf32_split(float x, uint32_t *hi, uint32_t *lo) {
  const uint32_t h = (__float_as_uint(x) + 0x1000u) & 0xffffe000u;
  *hi = h;
  *lo = __float_as_uint(x - __uint_as_float(h));
}

/** c += a * b, m16n8k8, TF32 inputs (bit patterns from tf32_round / tf32_split), fp32 accumulate. */
__device__ __forceinline__ void mma_tf32(float *c, const uint32_t *a, const uint32_t *b) {
  asm volatile(
      "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/** c += a * b in float32 accuracy (3xTF32): the two cross terms, then the high parts. With
 *  PRECISE = false one TF32 product (a_hi * b_hi; the _lo arguments are not read). */
template <bool PRECISE>
__device__ __forceinline__ void mma_3xtf32(float *c, const uint32_t *a_hi, const uint32_t *a_lo, const uint32_t *b_hi,
                                           const uint32_t *b_lo) {
  if (PRECISE) {
    mma_tf32(c, a_lo, b_hi);
    mma_tf32(c, a_hi, b_lo);
  }
  mma_tf32(c, a_hi, b_hi);
}

/* The operand split of one mma input: hi (and lo with PRECISE) as TF32 bit patterns. */
template <bool PRECISE>
__device__ __forceinline__ void f32_split(float x, uint32_t &hi, uint32_t &lo) {
  if (PRECISE) {
    tf32_split(x, &hi, &lo);
  } else {
    hi = tf32_round(x);
    lo = 0u;
  }
}

/** An accumulator fragment of S (or P (Sd - c)) for one 8-key tile as the A operand of P V:
 *  a0 = c0, a1 = c2, a2 = c1, a3 = c3 (key 2t at position t, 2t + 1 at t + 4; see above). The
 *  sm90 float32 kernel (sm90/fwd_f32.cuh) uses it for wgmma's A fragment, which has the same
 *  per-warp layout, with V's keys permuted alike in its transposed shared-memory tile. */
template <bool PRECISE>
__device__ __forceinline__ void f32_acc_as_a(const float *c, uint32_t *hi, uint32_t *lo) {
  f32_split<PRECISE>(c[0], hi[0], lo[0]);
  f32_split<PRECISE>(c[2], hi[1], lo[1]);
  f32_split<PRECISE>(c[1], hi[2], lo[2]);
  f32_split<PRECISE>(c[3], hi[3], lo[3]);
}

#endif /* JFA_KERNELS_SM80_TF32_CUH_ */
