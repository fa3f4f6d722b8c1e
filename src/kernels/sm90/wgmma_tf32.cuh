/*
 * wgmma_tf32.cuh - the TF32 warpgroup matrix multiply of the sm90 family's float32 kernels
 * (sm90/fwd_f32.cuh; sm_90a only): wgmma.mma_async m64nNk8 with TF32 operands and fp32
 * accumulation, A from registers or (the backward, bwd_f32.cuh) shared memory, B from shared memory, and the proxy fence that makes
 * ordinary shared-memory stores visible to wgmma.
 *
 * PTX ISA (wgmma, .tf32): K = 8 per instruction; both A and B K-major (no transpose
 * immediates: only imm-scale-a / imm-scale-b follow scale-d); a .b32 operand holds a float
 * whose low 13 mantissa bits the tensor core ignores. A's register fragment per warp of the
 * warpgroup (16 rows): a0 = A[g][t], a1 = A[g + 8][t], a2 = A[g][t + 4], a3 = A[g + 8][t + 4]
 * (g = lane / 4, t = lane % 4), as mma.m16n8k8's (sm80/tf32.cuh). A K-major B in the 128-byte
 * swizzle is wgmma.cuh's layout with 32 four-byte elements a 128-byte row: a k8 step advances
 * the descriptor's start by 32 bytes inside the row, SBO = 1024 (8-row groups).
 */
#ifndef JFA_KERNELS_SM90_WGMMA_TF32_CUH_
#define JFA_KERNELS_SM90_WGMMA_TF32_CUH_

#include "kernels/sm90/wgmma.cuh"

/* d (+)= A B, m64nNk8 TF32, A from registers (4 x b32), B K-major at descriptor db; scale_d = 0
   overwrites d. */
template <int N> __device__ __forceinline__ void wgmma_tf32_rs(float *d, const uint32_t *a, uint64_t db, int scale_d);

#define JFA_WGMMA_TF32_RS(NN, ACC, FL, O0, O1, O2, O3, O4, O5)                                                   \
  template <>                                                                                                    \
  __device__ __forceinline__ void wgmma_tf32_rs<NN>(float *d, const uint32_t *a, uint64_t db, int scale_d) {    \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " O5 ", 0;\n"                                                \
                 "wgmma.mma_async.sync.aligned.m64n" #NN "k8.f32.tf32.tf32 " ACC ", {" O0 ", " O1 ", " O2       \
                 ", " O3 "}, " O4 ", p, 1, 1;\n}\n"                                                               \
                 : FL(d)                                                                                         \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d));                           \
  }
JFA_WGMMA_TF32_RS(32, JFA_WG_ACC16, JFA_WG_F16, "%16", "%17", "%18", "%19", "%20", "%21")
JFA_WGMMA_TF32_RS(64, JFA_WG_ACC32, JFA_WG_F32, "%32", "%33", "%34", "%35", "%36", "%37")
JFA_WGMMA_TF32_RS(128, JFA_WG_ACC64, JFA_WG_F64, "%64", "%65", "%66", "%67", "%68", "%69")
#undef JFA_WGMMA_TF32_RS

/* d (+)= A B, m64nNk8 TF32, A and B K-major in shared memory (descriptors da, db). */
template <int N> __device__ __forceinline__ void wgmma_tf32_ss(float *d, uint64_t da, uint64_t db, int scale_d);

#define JFA_WGMMA_TF32_SS(NN, ACC, FL, O0, O1, O2)                                                               \
  template <>                                                                                                    \
  __device__ __forceinline__ void wgmma_tf32_ss<NN>(float *d, uint64_t da, uint64_t db, int scale_d) {          \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " O2 ", 0;\n"                                                \
                 "wgmma.mma_async.sync.aligned.m64n" #NN "k8.f32.tf32.tf32 " ACC ", " O0 ", " O1 ", p, 1, 1;\n}\n" \
                 : FL(d)                                                                                         \
                 : "l"(da), "l"(db), "r"(scale_d));                                                              \
  }
JFA_WGMMA_TF32_SS(32, JFA_WG_ACC16, JFA_WG_F16, "%16", "%17", "%18")
JFA_WGMMA_TF32_SS(64, JFA_WG_ACC32, JFA_WG_F32, "%32", "%33", "%34")
#undef JFA_WGMMA_TF32_SS

/* Orders this thread's earlier generic-proxy shared-memory stores before later async-proxy
   accesses (wgmma operand reads, TMA writes) of the CTA's shared memory. */
__device__ __forceinline__ void fence_proxy_async_smem() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}

#endif /* JFA_KERNELS_SM90_WGMMA_TF32_CUH_ */
