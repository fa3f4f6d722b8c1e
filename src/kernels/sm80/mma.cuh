/*
 * mma.cuh - the tensor-core primitives of the sm80 family (sm_80 and later): mma.sync
 * m16n8k16 with fp32 accumulation, ldmatrix (plain and transposed), cp.async and the tile loads
 * built on it (tc_load_tile).
 */
#ifndef JFA_KERNELS_SM80_MMA_CUH_
#define JFA_KERNELS_SM80_MMA_CUH_

#include "kernels/common/view.cuh"

/** c += a * b, m16n8k16, fp32 accumulate; a: 4 regs, b: 2 regs, 16-bit inputs of type T. */
template <typename T> __device__ __forceinline__ void mma16816(float *c, const uint32_t *a, const uint32_t *b);
template <> __device__ __forceinline__ void mma16816<__half>(float *c, const uint32_t *a, const uint32_t *b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float *c, const uint32_t *a, const uint32_t *b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ void ldsm_x4(uint32_t *r, const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t *r, const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}

/* The same with a 32-bit shared-memory address (lets constant offsets fold into the instruction). */
__device__ __forceinline__ void ldsm_x4_a(uint32_t *r, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t_a(uint32_t *r, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}
__device__ __forceinline__ void cp_async16_a(uint32_t saddr, const void *gmem, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(saddr), "l"(gmem), "r"(bytes));
}

/** 16-byte async copy global -> shared; bytes < 16 zero-fills the rest (0: all zeros). */
__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem),
               "r"(bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* cp.async a ROWS x D tile of T (16-bit or float; rows r0.., columns c0.. of slice (b, h)) into smem of
   row stride D + EPC, EPC = 16 / sizeof(T) elements per 16-byte chunk (D + 8 for 16-bit types, D + 4
   for float: the fragment loads' conflict-free strides); zero-fills rows >= n and columns >= Dreal. */
template <typename T, int D, int ROWS, int NTHREADS>
__device__ __forceinline__ void tc_load_tile(T *dst, const View &v, int64_t b, int64_t h, int64_t r0, int64_t n,
                                             int Dreal, int c0 = 0) {
  constexpr int EPC = 16 / (int)sizeof(T), CH = D / EPC, DS = D + EPC;
  const T *base = (const T *)v.p;
  if constexpr (NTHREADS % CH == 0 && ROWS % (NTHREADS / CH) == 0) {
    /* each thread copies one fixed column chunk of every RSTEP-th row: addresses advance by a constant */
    constexpr int RSTEP = NTHREADS / CH;
    const int c = threadIdx.x % CH, rr = threadIdx.x / CH;
    const int rem = Dreal - c0 - c * EPC;
    const int cbytes = rem >= EPC ? 16 : (rem > 0 ? rem * (int)sizeof(T) : 0);
    const T *src = base + b * v.sb + h * v.sh + (r0 + rr) * v.ss + c0 + c * EPC;
    const int64_t step = (int64_t)RSTEP * v.ss;
    const uint32_t sdst = smem_u32(dst + rr * DS + c * EPC);
    const int64_t nrows = n - r0 - rr; /* rows k * RSTEP < nrows are in range */
#pragma unroll
    for (int k = 0; k < ROWS / RSTEP; ++k) {
      const int bytes = (k * RSTEP < nrows) ? cbytes : 0;
      cp_async16_a(sdst + k * RSTEP * DS * (int)sizeof(T), bytes ? (const void *)(src + k * step) : (const void *)base,
                   bytes);
    }
  } else {
#pragma unroll 4
    for (int idx = threadIdx.x; idx < ROWS * CH; idx += NTHREADS) {
      const int r = idx / CH, c = idx % CH;
      const int64_t row = r0 + r;
      int bytes = 0;
      const T *src = base;
      if (row < n) {
        const int rem = Dreal - c0 - c * EPC;
        bytes = rem >= EPC ? 16 : (rem > 0 ? rem * (int)sizeof(T) : 0);
        if (bytes) src = base + b * v.sb + h * v.sh + row * v.ss + c0 + c * EPC;
      }
      cp_async16(dst + r * DS + c * EPC, src, bytes);
    }
  }
}

#endif /* JFA_KERNELS_SM80_MMA_CUH_ */
