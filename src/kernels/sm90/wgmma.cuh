/*
 * wgmma.cuh - the sm_90a primitives of the sm90 family (jfa's Hopper kernels), as inline PTX in C style:
 * mbarriers (transaction-counted barriers the TMA engine completes), TMA tile loads
 * (cp.async.bulk.tensor), wgmma shared-memory matrix descriptors for the 128-byte
 * swizzled layout that TMA writes, and warpgroup matrix multiplies (wgmma.mma_async,
 * bf16/fp16 in, fp32 accumulate, m64 x n{32,48,64,80,96,112,128,176} x k16 with A from shared memory
 * (n32 also with B transposed), n{32,64,96,128} with A from registers).
 *
 * Only translation units compiled for sm_90a (sm90/family.cu, sm90/inst/) include this.
 *
 * Layout convention: a tile of R rows by 64 columns of 16-bit values is stored as TMA
 * writes it with CU_TENSOR_MAP_SWIZZLE_128B: row r at byte 128 r, its 16-byte chunks
 * permuted by (r % 8); tiles start at 1024-byte boundaries. Wider rows (D > 64) are
 * ceil(D / 64) such tiles, one per 64-column half (slab).
 *   - K-major operand (rows = M or N, columns = K: Q, K): descriptor with SBO = 1024
 *     (8-row groups); a k16 step inside the 64-column half advances the start by 32 bytes.
 *   - MN-major operand (rows = K, columns = N: V as the B of P V): SBO = 1024 (8 rows of
 *     K), LBO = the byte distance between the 64-column halves; a k16 step advances the
 *     start by 16 rows = 2048 bytes.
 */
#ifndef JFA_KERNELS_SM90_WGMMA_CUH_
#define JFA_KERNELS_SM90_WGMMA_CUH_

#include <cuda.h>
#include <stdint.h>

#include "kernels/common/view.cuh"

/* ---------------------------------------------------------------------------- */
/* mbarrier                                                                        */

__device__ __forceinline__ void mbar_init(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
/* Makes the initialised barriers visible to the async proxy (TMA) before first use. */
__device__ __forceinline__ void mbar_fence_init() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
/* Arrives once and adds `bytes` to the transactions the current phase waits for. */
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
/* The transaction bytes of the barrier's current phase raised without an arrival (the thread arrives later, after
   its other writes that the phase covers). */
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.expect_tx.relaxed.cta.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
/* Waits until the phase of parity `parity` has completed. */
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done;
  do {
    asm volatile(
        "{\n"
        ".reg .pred p;\n"
        "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        "selp.u32 %0, 1, 0, p;\n"
        "}\n"
        : "=r"(done)
        : "r"(bar), "r"(parity)
        : "memory");
  } while (!done);
}

/* Named barriers (ids 1..15; 0 is __syncthreads): sync waits until n threads have arrived
   at id, counting itself; arrive only counts itself. */
__device__ __forceinline__ void named_bar_sync(int id, int n) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}
__device__ __forceinline__ void named_bar_arrive(int id, int n) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}
/* named_bar_sync for a barrier generation whose waiting threads reach it from different barrier
   instructions (role branches: consumer A's code and consumer B's). bar.sync is barrier.sync.aligned,
   which promises that every waiting thread executes the same instruction (PTX ISA: undefined
   otherwise); barrier.sync (not aligned) allows it. ptxas emits the same SASS for both on sm_90a (the
   default kernels' machine code is byte-identical), so this states the code's contract in PTX; whether
   compute-sanitizer synccheck, which reported "Divergent thread(s) in block" at the backward-JVP's
   barrier 2 (H200, seventh session of 2026-12-02, bench/RESULTS.md), stops reporting it is not yet
   measured. An arrive (bar.arrive) with a single waiting site, the forward's ping-pong, is legal. */
__device__ __forceinline__ void named_bar_sync_roles(int id, int n) {
  asm volatile("barrier.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory");
}

/* ---------------------------------------------------------------------------- */
/* TMA                                                                             */

/* Loads the box at coordinates (c0 = column, c1 = row, c2 = head, c3 = batch) of a 4-D
   tensor map into shared memory at dst; completes `bar`'s transactions (the whole box's
   bytes, out-of-bounds elements written as zeros). */
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const CUtensorMap *map, uint32_t bar, int c0, int c1,
                                            int c2, int c3) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4, %5, "
      "%6}], [%2];\n" ::"r"(dst),
      "l"((uint64_t)map), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
      : "memory");
}
/* Adds (fp32) the box at src in shared memory into the box at (c0 = column, c1 = row, c2 =
   batch * heads + head) of a 3-D map; tracked by the issuing thread's bulk async-groups
   (bulk_commit, bulk_wait_read / bulk_wait). Elements out of the map's bounds are skipped. */
__device__ __forceinline__ void tma_reduce_add_3d(const CUtensorMap *map, uint32_t src, int c0, int c1, int c2) {
  asm volatile("cp.reduce.async.bulk.tensor.3d.global.shared::cta.add.tile.bulk_group [%0, {%2, %3, %4}], [%1];\n" ::"l"(
                   (uint64_t)map),
               "r"(src), "r"(c0), "r"(c1), "r"(c2)
               : "memory");
}
/* The same over a (D, N, H, B) map (tma_map_bhsd): the float32 backward's dQ into dq itself. */
__device__ __forceinline__ void tma_reduce_add_4d(const CUtensorMap *map, uint32_t src, int c0, int c1, int c2, int c3) {
  asm volatile("cp.reduce.async.bulk.tensor.4d.global.shared::cta.add.tile.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n" ::"l"(
                   (uint64_t)map),
               "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
               : "memory");
}
__device__ __forceinline__ void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
/* Waits until the issuing thread's bulk groups have read their shared memory (reusable). */
__device__ __forceinline__ void bulk_wait_read() { asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory"); }
/* Waits until they have completed (their global writes done). */
__device__ __forceinline__ void bulk_wait() { asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory"); }
__device__ __forceinline__ void tma_prefetch_desc(const CUtensorMap *map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"((uint64_t)map) : "memory");
}

/* ---------------------------------------------------------------------------- */
/* wgmma                                                                           */

/* Shared-memory matrix descriptor, 128-byte swizzle (see the layout convention above). */
__device__ __forceinline__ uint64_t wg_desc(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
  return (uint64_t)((saddr & 0x3FFFFu) >> 4) | ((uint64_t)((lbo >> 4) & 0x3FFFu) << 16) |
         ((uint64_t)((sbo >> 4) & 0x3FFFu) << 32) | (1ull << 62);
}

/* Four 8 x 8 16-bit matrices from registers r[0..3] (matrix j: lane 4 row + col / 2 holds (row, col),
   (row, col + 1) packed) to shared memory transposed: lane 8 j + i gives the address of row i of
   matrix j's transpose (column i of the fragment, 16 bytes). */
__device__ __forceinline__ void stmatrix_x4_trans(uint32_t saddr, const uint32_t *r) {
  asm volatile("stmatrix.sync.aligned.m8n8.x4.trans.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(saddr), "r"(r[0]),
               "r"(r[1]), "r"(r[2]), "r"(r[3])
               : "memory");
}
/* Four 8 x 8 16-bit matrices from shared memory to registers r[0..3], transposed (stmatrix_x4_trans's inverse):
   lane 8 j + i gives the address of row i of stored matrix j (16 bytes); lane 4 c + t then holds, packed in r[j],
   its elements (row 2 t, column c) and (row 2 t + 1, column c), the low half the first. */
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t saddr, uint32_t *r) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(saddr)
               : "memory");
}
__device__ __forceinline__ void wg_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wg_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wg_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
/* Keeps the compiler from moving accesses of accumulator registers across wgmma issue/wait. */
template <int N> __device__ __forceinline__ void wg_reg_fence(float *r) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+f"(r[i])::"memory");
}
template <int N> __device__ __forceinline__ void wg_reg_fence_u(uint32_t *r) {
#pragma unroll
  for (int i = 0; i < N; ++i) asm volatile("" : "+r"(r[i])::"memory");
}

/* Operand lists of the accumulators: 16 (n32), 32 (n64) or 64 (n128) fp32 registers per thread. */
#define JFA_WG_F8(d, i)                                                                                          \
  "+f"(d[(i)]), "+f"(d[(i) + 1]), "+f"(d[(i) + 2]), "+f"(d[(i) + 3]), "+f"(d[(i) + 4]), "+f"(d[(i) + 5]),      \
      "+f"(d[(i) + 6]), "+f"(d[(i) + 7])
#define JFA_WG_F16(d) JFA_WG_F8(d, 0), JFA_WG_F8(d, 8)
#define JFA_WG_F24(d) JFA_WG_F16(d), JFA_WG_F8(d, 16)
#define JFA_WG_F32(d) JFA_WG_F16(d), JFA_WG_F8(d, 16), JFA_WG_F8(d, 24)
#define JFA_WG_F40(d) JFA_WG_F32(d), JFA_WG_F8(d, 32)
#define JFA_WG_F48(d) JFA_WG_F40(d), JFA_WG_F8(d, 40)
#define JFA_WG_F56(d) JFA_WG_F48(d), JFA_WG_F8(d, 48)
#define JFA_WG_F64(d) JFA_WG_F56(d), JFA_WG_F8(d, 56)
#define JFA_WG_F88(d) JFA_WG_F64(d), JFA_WG_F8(d, 64), JFA_WG_F8(d, 72), JFA_WG_F8(d, 80)
#define JFA_WG_ACC16 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}"
#define JFA_WG_ACC24 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23}"
#define JFA_WG_ACC32                                                                                             \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
  "%23, %24, %25, %26, %27, %28, %29, %30, %31}"
#define JFA_WG_ACC64                                                                                             \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
  "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, "   \
  "%44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}"
#define JFA_WG_ACC88                                                                                             \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, "  \
  "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, "   \
  "%44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, %64, "   \
  "%65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, %84, %85, "   \
  "%86, %87}"
#define JFA_WG_ACC40 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, " \
  "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39}"
#define JFA_WG_ACC48 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, " \
  "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, " \
  "%44, %45, %46, %47}"
#define JFA_WG_ACC56 \
  "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, " \
  "%23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, " \
  "%44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55}"

/* d (+)= A B, A (64 x 16) and B (16 x N) in shared memory (descriptors), both K-major
   unless TB (B N-major). scale_d = 0 overwrites d. */
template <typename T, int N, int TB> __device__ __forceinline__ void wgmma_ss(float *d, uint64_t da, uint64_t db, int scale_d);
/* d (+)= A B with A from registers (4 x 32-bit per thread: the mma.m16n8k16 A fragment of
   the warp's 16 rows). */
template <typename T, int N, int TB>
__device__ __forceinline__ void wgmma_rs(float *d, const uint32_t *a, uint64_t db, int scale_d);

/* O0..O5: the operand numbers after the accumulators ("%16".. for n32, "%32".. for n64, "%64".. for n128). */
#define JFA_WGMMA_SS1(TY, PTXT, NN, TB, ACC, FL, O0, O1, O2)                                                     \
  template <>                                                                                                    \
  __device__ __forceinline__ void wgmma_ss<TY, NN, TB>(float *d, uint64_t da, uint64_t db, int scale_d) {       \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " O2 ", 0;\n"                                                \
                 "wgmma.mma_async.sync.aligned.m64n" #NN "k16.f32." PTXT "." PTXT " " ACC ", " O0 ", " O1        \
                 ", p, 1, 1, 0, " #TB ";\n}\n"                                                                    \
                 : FL(d)                                                                                         \
                 : "l"(da), "l"(db), "r"(scale_d));                                                              \
  }
#define JFA_WGMMA_RS1(TY, PTXT, NN, ACC, FL, O0, O1, O2, O3, O4, O5)                                             \
  template <>                                                                                                    \
  __device__ __forceinline__ void wgmma_rs<TY, NN, 1>(float *d, const uint32_t *a, uint64_t db, int scale_d) {  \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, " O5 ", 0;\n"                                                \
                 "wgmma.mma_async.sync.aligned.m64n" #NN "k16.f32." PTXT "." PTXT " " ACC ", {" O0 ", " O1      \
                 ", " O2 ", " O3 "}, " O4 ", p, 1, 1, 1;\n}\n"                                                     \
                 : FL(d)                                                                                         \
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(scale_d));                           \
  }
#define JFA_WGMMA_ALL(TY, PTXT)                                                                                  \
  JFA_WGMMA_SS1(TY, PTXT, 32, 0, JFA_WG_ACC16, JFA_WG_F16, "%16", "%17", "%18")                                 \
  JFA_WGMMA_SS1(TY, PTXT, 32, 1, JFA_WG_ACC16, JFA_WG_F16, "%16", "%17", "%18")                                 \
  JFA_WGMMA_SS1(TY, PTXT, 48, 0, JFA_WG_ACC24, JFA_WG_F24, "%24", "%25", "%26")                                 \
  JFA_WGMMA_SS1(TY, PTXT, 64, 0, JFA_WG_ACC32, JFA_WG_F32, "%32", "%33", "%34")                                 \
  JFA_WGMMA_SS1(TY, PTXT, 80, 0, JFA_WG_ACC40, JFA_WG_F40, "%40", "%41", "%42")                                 \
  JFA_WGMMA_SS1(TY, PTXT, 96, 0, JFA_WG_ACC48, JFA_WG_F48, "%48", "%49", "%50")                                 \
  JFA_WGMMA_SS1(TY, PTXT, 112, 0, JFA_WG_ACC56, JFA_WG_F56, "%56", "%57", "%58")                                \
  JFA_WGMMA_RS1(TY, PTXT, 96, JFA_WG_ACC48, JFA_WG_F48, "%48", "%49", "%50", "%51", "%52", "%53")               \
  JFA_WGMMA_SS1(TY, PTXT, 64, 1, JFA_WG_ACC32, JFA_WG_F32, "%32", "%33", "%34")                                 \
  JFA_WGMMA_SS1(TY, PTXT, 128, 0, JFA_WG_ACC64, JFA_WG_F64, "%64", "%65", "%66")                                \
  JFA_WGMMA_SS1(TY, PTXT, 176, 0, JFA_WG_ACC88, JFA_WG_F88, "%88", "%89", "%90")                                \
  JFA_WGMMA_SS1(TY, PTXT, 128, 1, JFA_WG_ACC64, JFA_WG_F64, "%64", "%65", "%66")                                \
  JFA_WGMMA_RS1(TY, PTXT, 32, JFA_WG_ACC16, JFA_WG_F16, "%16", "%17", "%18", "%19", "%20", "%21")               \
  JFA_WGMMA_RS1(TY, PTXT, 64, JFA_WG_ACC32, JFA_WG_F32, "%32", "%33", "%34", "%35", "%36", "%37")               \
  JFA_WGMMA_RS1(TY, PTXT, 128, JFA_WG_ACC64, JFA_WG_F64, "%64", "%65", "%66", "%67", "%68", "%69")
JFA_WGMMA_ALL(__nv_bfloat16, "bf16")
JFA_WGMMA_ALL(__half, "f16")

/* The fp32 accumulator tiles x[2 kk], x[2 kk + 1] (8 columns each, the m64nN fragment) packed to 16-bit
   as the A fragment of k16 step kk, kk < K16: a product's result as the next product's A operand from
   registers (P for P V, dS for dS^T Q: the fragment layouts coincide, no shuffles). */
template <typename T, int K16>
__device__ __forceinline__ void wg_acc_to_a(uint32_t (*f)[4], const float (*x)[4]) {
#pragma unroll
  for (int kk = 0; kk < K16; ++kk) {
    f[kk][0] = pack2<T>(x[2 * kk][0], x[2 * kk][1]);
    f[kk][1] = pack2<T>(x[2 * kk][2], x[2 * kk][3]);
    f[kk][2] = pack2<T>(x[2 * kk + 1][0], x[2 * kk + 1][1]);
    f[kk][3] = pack2<T>(x[2 * kk + 1][2], x[2 * kk + 1][3]);
  }
}

/* acc (+)= A B over one k16 step for the columns [C0, C1) of B, a 16-row MN-major tile at sB in
   64-column slabs `slab` bytes apart (the layout of wgmma.cuh): wgmma pieces of 128 columns (two
   whole slabs), 64 (one slab) or 32 (half a slab, 64 bytes into its rows at C0 % 64 = 32), each a
   canonical MN-major layout (the PTX ISA's; a piece across a slab boundary at 32 would not be).
   acc holds the columns from C0: (C1 - C0) / 2 fp32 a thread. A from registers (RS) or, with
   RS = false, from shared memory (descriptor da). The backward's dK / dV / dQ products and the forward's
   P V (fwd.cuh mma_pv_cols). */
template <typename T, int C0, int C1, bool RS>
__device__ __forceinline__ void sm90_mm_cols(float *acc, const uint32_t *a, uint64_t da, uint32_t sB, uint32_t slab,
                                             int scale_d) {
  if constexpr (C0 < C1) {
    constexpr int W = (C0 % 64 == 0 && C0 + 128 <= C1) ? 128 : (C0 % 64 == 0 && C0 + 64 <= C1) ? 64 : 32;
    static_assert(C0 % 32 == 0 && C0 + W <= C1, "sm90 column pieces");
    const uint64_t db = wg_desc(sB + (uint32_t)(C0 / 64) * slab + (uint32_t)(C0 % 64) * 2, slab, 1024);
    if constexpr (RS) wgmma_rs<T, W, 1>(acc, a, db, scale_d);
    else wgmma_ss<T, W, 1>(acc, da, db, scale_d);
    sm90_mm_cols<T, C0 + W, C1, RS>(acc + W / 2, a, da, sB, slab, scale_d);
  }
}

#endif /* JFA_KERNELS_SM90_WGMMA_CUH_ */
