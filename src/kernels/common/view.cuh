/*
 * common.cuh - shared pieces of jfa's CUDA backend: strided tensor views passed to
 * kernels, dtype traits (float, half, bfloat16), tensor-core primitives (mma.sync
 * m16n8k16, ldmatrix, cp.async) and the host-side helpers every .cu file uses
 * (device guard, workspace, launch checks).
 */
#ifndef JFA_KERNELS_COMMON_CUH_
#define JFA_KERNELS_COMMON_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stdint.h>

#include "core/backend.h"
#include "core/check.h"

/* ---------------------------------------------------------------------------- */
/* Views passed to kernels                                                         */

/** A strided (B, H, N, D) view: base pointer and element strides. */
struct View {
  void *p;
  int64_t sb, sh, ss, sd;
};

static inline View make_view(const jfa_tensor_t *t) {
  View v;
  v.p = t ? t->data : nullptr;
  v.sb = t ? t->stride[0] : 0;
  v.sh = t ? t->stride[1] : 0;
  v.ss = t ? t->stride[2] : 0;
  v.sd = t ? t->stride[3] : 0;
  return v;
}

__device__ __forceinline__ int64_t voff(const View &v, int64_t b, int64_t h, int64_t s, int64_t d) {
  return b * v.sb + h * v.sh + s * v.ss + d * v.sd;
}

/* ---------------------------------------------------------------------------- */
/* Masks                                                                          */

/** Device form of the visibility rule of jfa_problem_t (core/backend.h). Causal mask,
 *  sliding window and packed sequences give each query row one interval [lo, hi) of
 *  visible keys (mask_row_keys); the dense mask (dm_kind != 0) is applied per element.
 *  Indices are local to the block (query i, key j); cu_q / cu_k are device copies. */
enum { MASK_DENSE_NONE = 0, MASK_DENSE_BOOL, MASK_DENSE_F32, MASK_DENSE_F16, MASK_DENSE_BF16 };
struct MaskDev {
  int causal, windowed, br, dm_kind;
  int64_t wl, wr, q_pos0, k_pos0, Nq, Nk, nseq;
  const int64_t *cu_q, *cu_k;
  View dm; /* (b, h, i, j); stride 0 on broadcast axes */
};

/** The sequence s in [0, n) with cu[s] <= x < cu[s + 1] (needs cu[0] <= x < cu[n]; skips empty ones). */
__device__ __forceinline__ int64_t mask_seq_of(const int64_t *cu, int64_t n, int64_t x) {
  int64_t a = 0, z = n; /* cu[a] <= x < cu[z] */
  while (z - a > 1) {
    const int64_t mid = (a + z) >> 1;
    if (cu[mid] <= x) a = mid;
    else z = mid;
  }
  return a;
}

/** Keys [*lo, *hi) visible to query row i (before the dense mask); *lo == *hi when none. */
__device__ __forceinline__ void mask_row_keys(const MaskDev &m, int64_t i, int64_t *lo, int64_t *hi) {
  int64_t kstart = 0, kend = m.Nk;
  int64_t d = m.q_pos0 + i - m.k_pos0; /* key j has rel = pos_k - pos_q = j - d */
  if (m.nseq > 0) {
    const int64_t r = m.q_pos0 + i;
    if (r < m.cu_q[0] || r >= m.cu_q[m.nseq]) {
      *lo = *hi = 0;
      return;
    }
    const int64_t a = mask_seq_of(m.cu_q, m.nseq, r);
    const int64_t q0 = m.cu_q[a], k0 = m.cu_k[a], k1 = m.cu_k[a + 1];
    const int64_t pos_q = r - q0 + (m.br ? (k1 - k0) - (m.cu_q[a + 1] - q0) : 0);
    kstart = k0 - m.k_pos0;
    kend = k1 - m.k_pos0;
    d = pos_q + k0 - m.k_pos0;
  }
  int64_t l = kstart > 0 ? kstart : 0, h = kend < m.Nk ? kend : m.Nk;
  if (m.causal && h > d + 1) h = d + 1;
  if (m.windowed && m.wr >= 0 && h > d + m.wr + 1) h = d + m.wr + 1;
  if (m.windowed && m.wl >= 0 && l < d - m.wl) l = d - m.wl;
  if (h < l) h = l;
  *lo = l;
  *hi = h;
}

/** Query rows [*ilo, *ihi) that may see a key of [j0, j1) (j0 < j1 <= Nk), before the dense
 *  mask: conservative (the band of causal / window is used within one packed sequence). */
__device__ __forceinline__ void mask_query_range(const MaskDev &m, int64_t j0, int64_t j1, int64_t *ilo,
                                                 int64_t *ihi) {
  int64_t lo = 0, hi = m.Nq, off = m.q_pos0 - m.k_pos0; /* row i has d = i + off (rel = j - d) */
  bool band = true;
  if (m.nseq > 0) {
    const int64_t g0 = m.k_pos0 + j0, g1 = m.k_pos0 + j1 - 1;
    if (g1 < m.cu_k[0] || g0 >= m.cu_k[m.nseq]) {
      *ilo = *ihi = 0;
      return;
    }
    const int64_t s0 = g0 < m.cu_k[0] ? 0 : mask_seq_of(m.cu_k, m.nseq, g0);
    const int64_t s1 = g1 >= m.cu_k[m.nseq] ? m.nseq - 1 : mask_seq_of(m.cu_k, m.nseq, g1);
    lo = m.cu_q[s0] - m.q_pos0;
    hi = m.cu_q[s1 + 1] - m.q_pos0;
    band = s0 == s1;
    if (band) {
      const int64_t lq = m.cu_q[s0 + 1] - m.cu_q[s0], lk = m.cu_k[s0 + 1] - m.cu_k[s0];
      off = m.q_pos0 - m.cu_q[s0] + (m.br ? lk - lq : 0) + m.cu_k[s0] - m.k_pos0;
    }
  }
  if (band) {
    /* visible needs j - d <= hr (causal: 0, window: win_right) and j - d >= -win_left */
    bool has_hr = m.causal != 0;
    int64_t hr = 0;
    if (m.windowed && m.wr >= 0) hr = has_hr ? min(hr, m.wr) : m.wr, has_hr = true;
    if (has_hr) lo = max(lo, j0 - hr - off);
    if (m.windowed && m.wl >= 0) hi = min(hi, j1 + m.wl - off);
  }
  lo = max(lo, (int64_t)0);
  hi = min(hi, m.Nq);
  if (hi < lo) hi = lo;
  *ilo = lo;
  *ihi = hi;
}

/** The dense mask's additive term for (b, h, i, j): bias, or 0 / -inf for a boolean mask. */
__device__ __forceinline__ float mask_dense(const MaskDev &m, int64_t b, int64_t h, int64_t i, int64_t j) {
  const int64_t off = b * m.dm.sb + h * m.dm.sh + i * m.dm.ss + j * m.dm.sd;
  switch (m.dm_kind) {
    case MASK_DENSE_BOOL: return ((const unsigned char *)m.dm.p)[off] ? 0.f : -INFINITY;
    case MASK_DENSE_F32: return ((const float *)m.dm.p)[off];
    case MASK_DENSE_F16: return __half2float(((const __half *)m.dm.p)[off]);
    case MASK_DENSE_BF16: return __bfloat162float(((const __nv_bfloat16 *)m.dm.p)[off]);
    default: return 0.f;
  }
}

/* ---------------------------------------------------------------------------- */
/* Dtype traits                                                                    */

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(double x) { return (float)x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T from_f(float x);
template <> __device__ __forceinline__ float from_f<float>(float x) { return x; }
template <> __device__ __forceinline__ double from_f<double>(float x) { return (double)x; }
template <> __device__ __forceinline__ __half from_f<__half>(float x) { return __float2half_rn(x); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float x) {
  return __float2bfloat16_rn(x);
}

/** Packs two floats into a 32-bit register of two 16-bit values (low = a). */
template <typename T> __device__ __forceinline__ uint32_t pack2(float a, float b);
template <> __device__ __forceinline__ uint32_t pack2<__half>(float a, float b) {
  __half2 h = __floats2half2_rn(a, b);
  return *reinterpret_cast<uint32_t *>(&h);
}
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float a, float b) {
  __nv_bfloat162 h = __floats2bfloat162_rn(a, b);
  return *reinterpret_cast<uint32_t *>(&h);
}

/* ---------------------------------------------------------------------------- */
/* Tensor-core primitives (sm_80+)                                                 */

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

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
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

/* ---------------------------------------------------------------------------- */
/* Host helpers                                                                    */

/** Private CUDA state of a context (ctx->cuda_state): a growing workspace. */
/** Kernel families, fastest last; JFA_KERNEL_PATH caps which ones a context may use. */
enum KernelPath { PATH_SIMT = 0, PATH_MMA = 1, PATH_SM90A = 2 };

struct CudaState {
  void *ws;
  size_t ws_size;
  int max_smem_optin; /* bytes of dynamic shared memory a block may opt into */
  int num_sms;
  int cc_major, cc_minor;
  int path_cap;       /* highest KernelPath allowed (JFA_KERNEL_PATH=simt|mma|auto) */
  int sm90a_ok;       /* the device is sm_90 and the sm_90a kernels have code for it */
  int last_fwd, last_bwd; /* KernelPath of the last forward / backward (tests check the dispatch) */
};

/** Makes ctx->device_index current for the lifetime of the guard, then restores. */
struct DeviceGuard {
  int prev;
  bool changed;
  explicit DeviceGuard(int dev) : prev(-1), changed(false) {
    if (cudaGetDevice(&prev) == cudaSuccess && prev != dev) {
      changed = cudaSetDevice(dev) == cudaSuccess;
    }
  }
  ~DeviceGuard() {
    if (changed) cudaSetDevice(prev);
  }
};

static inline cudaStream_t ctx_stream(const jfa_context_t *ctx) { return (cudaStream_t)ctx->stream; }

/* Defined in context.cu. */
jfa_status_t jfa_cuda_state(jfa_context_t *ctx, CudaState **st);
/** Returns a device workspace of at least bytes (cached in the context; grows only). */
jfa_status_t jfa_cuda_workspace(jfa_context_t *ctx, size_t bytes, void **ws);

/** Whether p has masks beyond causal (window, packed sequences, dense mask). */
static inline bool problem_has_masks(const jfa_problem_t *p) {
  return p->windowed || p->nseq > 0 || p->dmask != nullptr;
}
/** Bytes of workspace mask_setup needs (after the caller's own use of the workspace). */
static inline size_t mask_ws_bytes(const jfa_problem_t *p) {
  return p->nseq > 0 ? (size_t)(2 * (p->nseq + 1)) * sizeof(int64_t) : 0;
}
/** Fills m from p; uploads cu_q / cu_k (host) to ws (mask_ws_bytes(p) bytes of device memory)
 *  on the context's stream. */
jfa_status_t mask_setup(jfa_context_t *ctx, const jfa_problem_t *p, void *ws, MaskDev *m);

/** Checks the last launch. */
#define JFA_LAUNCH_CHECK() JFA_CUDA_CHECK(cudaGetLastError())

static inline size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

#endif /* JFA_KERNELS_COMMON_CUH_ */
