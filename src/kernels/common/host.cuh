/*
 * host.cuh - host-side helpers of every CUDA family: the private CUDA state of a context
 * (workspace, device properties, the kernel-path cap and the family that ran last), the
 * device guard, the context's stream and the launch check.
 */
#ifndef JFA_KERNELS_COMMON_HOST_CUH_
#define JFA_KERNELS_COMMON_HOST_CUH_

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/check.h"

/** Kernel families (the folders of src/kernels), fastest last; JFA_KERNEL_PATH caps which
 *  ones a context may use (simt, sm80 or its old name mma, sm90 / auto). The values are those
 *  jfa_cuda_last_kernel reports (core/backend.h: 0 SIMT, 1 mma.sync, 2 sm_90a). */
enum KernelPath { PATH_SIMT = 0, PATH_SM80 = 1, PATH_SM90 = 2 };

/** The ops of the dispatch tables (backend.cu) and of the tile configurations. */
enum KernelOp { OP_FWD = 0, OP_JVP = 1, OP_BWD = 2, OP_BWD_JVP = 3 };

/** A workspace buffer CUDA graphs captured and its lifetime (context.cu). */
struct GraphWs;

/** Private CUDA state of a context (ctx->cuda_state): a growing workspace. */

struct CudaState {
  void *ws;
  size_t ws_size;
  /* The workspace across streams and graphs (context.cu, jfa_cuda_workspace / _done): ws_done is recorded on the
     stream of the last call that used ws (ws_pending once recorded), which the next call waits for; ws_graph: a CUDA
     graph captured a call that used ws, so ws is the graph's from then on and the next call outside a capture takes
     a new buffer; ws_rec: its lifetime record (a CUDA user object the capturing graphs hold); retired: such
     buffers, each freed once its graphs are destroyed, where the context next allocates a workspace or synchronises
     (or with the context). */
  cudaEvent_t ws_done;
  int ws_pending, ws_graph;
  GraphWs *ws_rec;
  GraphWs **retired;
  int n_retired, cap_retired;
  int max_smem_optin; /* bytes of dynamic shared memory a block may opt into */
  int num_sms;
  int cc_major, cc_minor;
  int path_cap;       /* highest KernelPath allowed (JFA_KERNEL_PATH=simt|sm80|sm90) */
  int sm90a_ok;       /* the device is sm_90 and the sm90 family's (sm_90a) kernels have code for it */
  int sm90_bwd;       /* 0 when JFA_SM90_BWD=0 at context creation: the sm90 backward row is off */
  int last_fwd, last_bwd; /* KernelPath of the last forward / backward (tests check the dispatch) */
  int last_fwd_prec, last_bwd_prec; /* their KernelPrecision (jfa_cuda_last_precision) */
  int last_bwd_jvp;       /* KernelPath of the last backward-JVP */
  int last_fwd_route;     /* the last forward's route within its family (sm90: SM90_ROUTE_* bits; 0 elsewhere) */
  int last_bwd_route;     /* the last backward's, as last_fwd_route (the sm90 16-bit backward; 0 elsewhere) */
};

/** The arithmetic of a float32 call on a tensor-core family, as jfa_cuda_last_precision reports
 *  it: PREC_NATIVE for every call that is not one (16-bit inputs, the simt family), else one
 *  TF32 product (JFA_FLAG_ALLOW_TF32 on the context) or 3xTF32 (the default). */
enum KernelPrecision { PREC_NATIVE = 0, PREC_TF32 = 1, PREC_3XTF32 = 3 };
static inline int call_precision(const jfa_context_t *ctx, jfa_dtype_t dtype, int path) {
  if (dtype != JFA_DTYPE_FLOAT32 || path == PATH_SIMT) return PREC_NATIVE;
  return (ctx->flags & JFA_FLAG_ALLOW_TF32) ? PREC_TF32 : PREC_3XTF32;
}

/** Makes ctx->device_index current for the lifetime of the guard, then restores. A failure to make it current is
 *  kept (ok()), its error cleared: a call must not run on another GPU, nor leave the error for a later launch check. */
struct DeviceGuard {
  int prev, dev;
  bool changed;
  cudaError_t err;
  explicit DeviceGuard(int d) : prev(-1), dev(d), changed(false), err(cudaSuccess) {
    err = cudaGetDevice(&prev);
    if (err == cudaSuccess && prev != dev) {
      err = cudaSetDevice(dev);
      changed = err == cudaSuccess;
    }
    if (err != cudaSuccess) (void)cudaGetLastError();
  }
  /** JFA_ERROR_CUDA when the context's GPU could not be made current. */
  jfa_status_t ok() const {
    if (err != cudaSuccess)
      JFA_FAIL(JFA_ERROR_CUDA, "cannot make the context's GPU %d current: " JFA_CUDA_ERR_FMT, dev,
               JFA_CUDA_ERR_ARGS(err));
    return JFA_SUCCESS;
  }
  ~DeviceGuard() {
    if (changed && cudaSetDevice(prev) != cudaSuccess) (void)cudaGetLastError();
  }
};
/** A DeviceGuard named g for ctx's GPU, the calling function returning its failure. */
#define JFA_DEVICE_GUARD(g, ctx)     \
  DeviceGuard g((ctx)->device_index); \
  JFA_CHECK(g.ok())

static inline cudaStream_t ctx_stream(const jfa_context_t *ctx) { return (cudaStream_t)ctx->stream; }

/* Defined in context.cu. */
jfa_status_t jfa_cuda_state(jfa_context_t *ctx, CudaState **st);
/** Returns a device workspace of at least bytes (cached in the context; grows only), ordered after the last call
 *  that used it, and in *capturing whether the context's stream is capturing a CUDA graph. A call that takes it
 *  ends with jfa_cuda_workspace_done (WorkspaceUse). */
jfa_status_t jfa_cuda_workspace(jfa_context_t *ctx, size_t bytes, void **ws, bool *capturing);
/** Marks the workspace as used by the work now on the context's stream (the event the next call waits for); nothing
 *  under a graph capture (capturing: jfa_cuda_workspace's answer). Errors are dropped (the event then keeps its last
 *  record). */
void jfa_cuda_workspace_done(jfa_context_t *ctx, bool capturing);

/** The entry points' hold on the workspace: jfa_cuda_workspace_done when the call ends, on every path. */
struct WorkspaceUse {
  jfa_context_t *ctx;
  bool taken, capturing;
  explicit WorkspaceUse(jfa_context_t *c) : ctx(c), taken(false), capturing(false) {}
  jfa_status_t take(size_t bytes, void **ws) {
    const jfa_status_t s = jfa_cuda_workspace(ctx, bytes, ws, &capturing);
    taken = s == JFA_SUCCESS; /* a take that failed (before or at its wait) must not mark the workspace as this
                                 stream's */
    return s;
  }
  ~WorkspaceUse() {
    if (taken) jfa_cuda_workspace_done(ctx, capturing);
  }
};

/** Checks the last launch. */
#define JFA_LAUNCH_CHECK() JFA_CUDA_CHECK(cudaGetLastError())

/* The x extent of a 1-D grid of `blocks` blocks (kernels without a grid-stride loop, one block per few rows): refused
   from 2^31 blocks (the limit), where a cast to unsigned would, from 2^32, launch a smaller grid that covers only part
   of the rows. No tensor a GPU holds comes near (2^34 rows and more). */
static inline jfa_status_t grid_1d(int64_t blocks, const char *what, unsigned *x) {
  if (blocks >= ((int64_t)1 << 31))
    JFA_FAIL(JFA_ERROR_UNSUPPORTED, "%s: %lld blocks in a 1-D grid (2^31 - 1 at most)", what, (long long)blocks);
  *x = (unsigned)(blocks > 0 ? blocks : 1);
  return JFA_SUCCESS;
}

static inline size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/** A caller's device buffer (what names it in the message), which the kernels read as they read q: device memory
 *  of the context's GPU, or managed memory. Host memory (pageable, pinned or mapped) is refused: a kernel would
 *  fault on it, or read it across the bus while the host may change it. Device packed-sequence offsets
 *  (JFA_PARAMS_SEQLENS_DEVICE) and the caller's block map (params->mask_map). */
static inline jfa_status_t device_memory_where(const jfa_context_t *ctx, const void *a, const char *what) {
  cudaPointerAttributes at;
  JFA_CUDA_CHECK(cudaPointerGetAttributes(&at, a));
  if (at.type == cudaMemoryTypeManaged) return JFA_SUCCESS;
  if (at.type != cudaMemoryTypeDevice)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: %p is host memory; it must be device memory of the context's GPU (%d)",
             what, a, ctx->device_index);
  if (at.device != ctx->device_index)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: %p is memory of GPU %d, the context's is GPU %d", what, a, at.device,
             ctx->device_index);
  return JFA_SUCCESS;
}

/** What every CUDA entry point refuses (before it writes anything): float64 inputs, head dims past 256, device
 *  packed-sequence offsets or a block map (params->mask_map) that the context's GPU cannot read. */
static inline jfa_status_t cuda_call_checks(const jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q) {
  /* a non-sticky error an earlier launch of this thread left pending (another library's, an unchecked one) would be
     read by this call's first launch check, after its kernels were queued: reported here, before anything is written
     (and so cleared) */
  const cudaError_t pending = cudaGetLastError();
  if (pending != cudaSuccess && pending != cudaErrorNotReady) /* a stream / event query's "not yet": no error */
    JFA_FAIL(JFA_ERROR_CUDA, "a CUDA error was pending when this call began (an earlier launch or call of this thread, "
             "not this call's): " JFA_CUDA_ERR_FMT, JFA_CUDA_ERR_ARGS(pending));
  if (q->dtype == JFA_DTYPE_FLOAT64) JFA_FAIL(JFA_ERROR_UNSUPPORTED, "q: float64 is not supported on CUDA");
  if (p->D > 256)
    JFA_FAIL(JFA_ERROR_UNSUPPORTED, "q: head dim D = %lld is not supported on CUDA (D <= 256)", (long long)p->D);
  if (p->nseq > 0 && p->seq_dev) {
    JFA_CHECK(device_memory_where(ctx, p->cu_q, "params->cu_seqlens_q (JFA_PARAMS_SEQLENS_DEVICE)"));
    JFA_CHECK(device_memory_where(ctx, p->cu_k, "params->cu_seqlens_k (JFA_PARAMS_SEQLENS_DEVICE)"));
  }
  if (p->dmap) JFA_CHECK(device_memory_where(ctx, p->dmap, "params->mask_map"));
  return JFA_SUCCESS;
}

/** A statistic or accumulator the CUDA kernels keep in float32 (NULL passes). */
static inline jfa_status_t need_f32(const jfa_tensor_t *t, const char *name) {
  if (t && t->dtype != JFA_DTYPE_FLOAT32)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s must be float32 on CUDA (dtype %s)", name, jfa_dtype_name(t->dtype));
  return JFA_SUCCESS;
}

/** Raises kernel's cudaFuncAttributeMaxDynamicSharedMemorySize on the current device to smem bytes where it is
 *  lower, never lowers it (context.cu): the attribute is the device context's, shared by threads, so a call that
 *  lowered it for its own launch would fail another thread's launch between that thread's setting and its launch. */
jfa_status_t jfa_cuda_smem_raise(const void *kernel, size_t smem);

/** Lets kernel use smem bytes of dynamic shared memory past the default 48 KiB, which counts its static shared
 *  memory too: asked from 40 KiB of dynamic bytes on (no kernel here declares 8 KiB of static ones). */
template <typename F>
static inline jfa_status_t smem_optin(F kernel, size_t smem) {
  return smem > 40 * 1024 ? jfa_cuda_smem_raise((const void *)kernel, smem) : JFA_SUCCESS;
}

/** The mask classes of the tile configurations (sm80/tiles.h, sm90/tiles.h): MASK_CLASS_CAUSAL
 *  for no mask or a causal one, MASK_CLASS_ANY when problem_has_masks (window, packed
 *  sequences, dense mask). */
enum MaskClass { MASK_CLASS_CAUSAL = 0, MASK_CLASS_ANY = 1 };

/** Whether the instantiations of head dim D are in this build. -DJFA_HEAD_DIMS=<list> (CMake)
 *  builds a subset for development and defines JFA_HEAD_DIMS_MASK (bit D / 32 per head dim);
 *  without it every head dim is built. constexpr: the calls into a head dim's instantiations
 *  sit under `if constexpr (head_dim_built(D))`, so a build without them links. */
constexpr bool head_dim_built(int D) {
#ifdef JFA_HEAD_DIMS_MASK
  return D > 0 && D % 32 == 0 && D <= 256 && ((JFA_HEAD_DIMS_MASK >> (D / 32)) & 1) != 0;
#else
  return D > 0;
#endif
}

/** Tuning builds (-DJFA_TUNING=ON): the variant an environment variable (JFA_TUNE_FWD, _JVP,
 *  _BWD, _SM90A) asks for; 0, the default tiles, when unset. */
static inline int tune_variant(const char *env) {
  const char *e = getenv(env);
  return e ? atoi(e) : 0;
}

/** A tiles.h switch (dflt) as every build's environment variable env overrides it per call when set ("0" off,
 *  anything else on): the families' run-time switches (JFA_SM90_F32_BWD, JFA_SM90_BWD_JVP, ..). */
static inline bool env_switch(bool dflt, const char *env) {
  const char *e = getenv(env);
  return e ? strcmp(e, "0") != 0 : dflt;
}

/** A tiles.h switch (dflt) as tuning builds' environment variable env overrides it when set ("1" on, anything else
 *  off); dflt otherwise. */
static inline bool tune_switch(bool dflt, const char *env) {
#ifdef JFA_TUNING
  if (getenv(env)) return tune_variant(env) == 1;
#else
  (void)env;
#endif
  return dflt;
}

#endif /* JFA_KERNELS_COMMON_HOST_CUH_ */
