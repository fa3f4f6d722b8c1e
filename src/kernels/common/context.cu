/*
 * context.cu - CUDA context hooks of jfa: device checks at context creation, the
 * per-context workspace cache (grows only when a bigger problem arrives, so the
 * steady state allocates nothing; ordered across streams, kept for CUDA graphs that use it),
 * the kernels' shared-memory attribute (raised only), synchronisation and the device count. A buffer CUDA
 * graphs captured lives as long as they do (a CUDA user object, GraphWs).
 */
#include <stdlib.h>
#include <string.h>

#include <atomic>
#include <mutex>
#include <new>

#include "kernels/family.h"

/* JFA_KERNEL_PATH: "simt" (the simt family only), "sm80" (no sm90 family; "mma" is its old
   name and still accepted), else ("sm90", "auto", unset) every family. */
static int path_cap_from_env(void) {
  const char *e = getenv("JFA_KERNEL_PATH");
  if (e && strcmp(e, "simt") == 0) return PATH_SIMT;
  if (e && (strcmp(e, "sm80") == 0 || strcmp(e, "mma") == 0)) return PATH_SM80;
  return PATH_SM90;
}

/* JFA_SM90_BWD=0: the sm90 backward (sm90/bwd.cuh) declines every call (backend.cu), e.g. to compare it
   with sm80's on the same device; on otherwise. */
static int sm90_bwd_from_env(void) {
  const char *e = getenv("JFA_SM90_BWD");
  return !(e && strcmp(e, "0") == 0);
}

extern "C" int jfa_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError(); /* clear the sticky "no device" error */
    return 0;
  }
  return n;
}

extern "C" jfa_status_t jfa_cuda_context_init(jfa_context_t *ctx) {
  int n = jfa_cuda_device_count();
  if (n == 0) JFA_FAIL(JFA_ERROR_UNSUPPORTED, "no CUDA device is visible");
  if (ctx->device_index < 0 || ctx->device_index >= n)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "device_index %d is out of range (%d CUDA devices)", ctx->device_index,
             n);
  CudaState *st;
  JFA_CHECK(jfa_cuda_state(ctx, &st));
  return JFA_SUCCESS;
}

jfa_status_t jfa_cuda_state(jfa_context_t *ctx, CudaState **out) {
  if (!ctx->cuda_state) {
    CudaState *st = (CudaState *)calloc(1, sizeof(CudaState));
    if (!st) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "cannot allocate the CUDA context state");
    DeviceGuard g(ctx->device_index);
    const jfa_status_t gs = g.ok();
    if (gs != JFA_SUCCESS) {
      free(st);
      return gs;
    }
    cudaError_t e1 = cudaDeviceGetAttribute(&st->max_smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                                            ctx->device_index);
    cudaError_t e2 = cudaDeviceGetAttribute(&st->num_sms, cudaDevAttrMultiProcessorCount, ctx->device_index);
    cudaError_t e3 = cudaDeviceGetAttribute(&st->cc_major, cudaDevAttrComputeCapabilityMajor, ctx->device_index);
    cudaError_t e4 = cudaDeviceGetAttribute(&st->cc_minor, cudaDevAttrComputeCapabilityMinor, ctx->device_index);
    if (e1 != cudaSuccess || e2 != cudaSuccess || e3 != cudaSuccess || e4 != cudaSuccess) {
      free(st);
      JFA_CUDA_CHECK(e1 != cudaSuccess ? e1 : e2 != cudaSuccess ? e2 : e3 != cudaSuccess ? e3 : e4);
    }
    st->path_cap = path_cap_from_env();
    st->sm90_bwd = sm90_bwd_from_env();
#ifdef JFA_HAVE_SM90A
    st->sm90a_ok = st->cc_major == 9 && st->cc_minor == 0 && sm90_compiled();
#endif
    st->last_fwd_prec = st->last_bwd_prec = -1;
    st->last_fwd = st->last_bwd = st->last_bwd_jvp = -1;
    st->last_fwd_route = st->last_bwd_route = -1;
    ctx->cuda_state = st;
  }
  *out = (CudaState *)ctx->cuda_state;
  return JFA_SUCCESS;
}

/* A workspace buffer CUDA graphs captured (ws_graph) and its lifetime. At the first captured call that uses the
   buffer the context makes a CUDA user object for it (one reference, the context's) and every captured call gives the
   capturing graph a reference of its own (cudaGraphRetainUserObject; a graph's executables hold their graph's
   references until their launches are done). The context lets go of its reference when it retires the buffer (the
   next call outside a capture); once the last graph and executable are destroyed (an executable's references outlive
   its launches), CUDA runs graph_ws_gone on its own thread (no CUDA call there: it only marks the record), and the
   context frees the buffer where it already allocates or synchronises (sweep_retired: the next call that allocates a
   workspace, as each call after a capture does, jfa_context_synchronize, the context's release), never in other
   calls: cudaFree synchronises the device and, as every such call, is refused while another thread captures in global
   mode (and that capture with it). Before the thirty-eighth session every such buffer lived until the context was
   destroyed, so a loop of captures and eager calls grew the device memory by a workspace each round. A record whose
   user object could not be made or retained is pinned: its buffer waits for the context's release, as before. state:
   0 live, 1 gone (the callback ran), 2 orphaned (the context was released first); whichever of the callback and the
   release comes second frees the record. */
#if CUDART_VERSION >= 11030
typedef cudaUserObject_t jfa_user_object_t;
#else
typedef void *jfa_user_object_t; /* no user objects before CUDA 11.3: always null */
#endif
struct GraphWs {
  void *ptr;
  jfa_user_object_t obj; /* null when it could not be made */
  std::atomic<int> state;
  bool pinned;
};

static void CUDART_CB graph_ws_gone(void *p) {
  GraphWs *r = (GraphWs *)p;
  if (r->state.exchange(1) == 2) delete r; /* the context was released first */
}

/* Lets go of the context's reference to r's user object (none: nothing to do); false when CUDA refused. */
static bool graph_ws_unref(GraphWs *r) {
#if CUDART_VERSION >= 11030
  if (r->obj && cudaUserObjectRelease(r->obj, 1) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
#else
  (void)r;
#endif
  return true;
}

/* A new record of the buffer ptr, without its user object yet (pinned: never to have one). */
static GraphWs *graph_ws_new(void *ptr, bool pinned) {
  GraphWs *r = new (std::nothrow) GraphWs;
  if (!r) return nullptr;
  r->ptr = ptr;
  r->obj = nullptr;
  r->state.store(0);
  r->pinned = pinned;
  return r;
}

/* The context's end of a record whose buffer it has freed (or never will use again): the record itself now, or, where
   the callback may still come, by the callback (orphaned). */
static void graph_ws_drop(GraphWs *r) {
  if (!r->obj || r->state.exchange(2) == 1) delete r;
}

/* A captured call on the stream s uses ws: its lifetime record (made at the buffer's first capture) and a reference
   for the capturing graph. Failures pin the buffer (kept until the context's release) instead of failing the call. */
static void graph_ws_retain(CudaState *st, cudaStream_t s) {
#if CUDART_VERSION < 11030
  (void)st, (void)s; /* no user objects before CUDA 11.3: retire_workspace pins the buffer, as before */
#else
  if (!st->ws_rec) {
    GraphWs *r = graph_ws_new(st->ws, false);
    if (!r) return; /* no record: retire_workspace makes a pinned one */
    if (cudaUserObjectCreate(&r->obj, r, graph_ws_gone, 1, cudaUserObjectNoDestructorSync) != cudaSuccess) {
      (void)cudaGetLastError();
      r->obj = nullptr;
      r->pinned = true;
    }
    st->ws_rec = r;
  }
  GraphWs *r = st->ws_rec;
  if (r->pinned) return;
  cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
  cudaGraph_t g = nullptr;
#if CUDART_VERSION >= 12000
  const cudaError_t e = cudaStreamGetCaptureInfo(s, &cs, nullptr, &g); /* 12.x and 13 take these four */
#else
  const cudaError_t e = cudaStreamGetCaptureInfo_v2(s, &cs, nullptr, &g, nullptr, nullptr);
#endif
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    r->pinned = true;
    return;
  }
  if (cs != cudaStreamCaptureStatusActive) return; /* an invalidated capture makes no graph */
  if (!g || cudaGraphRetainUserObject(g, r->obj, 1, 0) != cudaSuccess) {
    (void)cudaGetLastError();
    r->pinned = true;
  }
#endif
}

/* Retires ws, a buffer CUDA graphs use (ws_graph): kept in retired until they are destroyed (or, pinned, until the
   context's release); the context's reference to its user object let go. */
static jfa_status_t retire_workspace(CudaState *st) {
  if (st->n_retired == st->cap_retired) {
    const int cap = st->cap_retired ? 2 * st->cap_retired : 4;
    GraphWs **r = (GraphWs **)realloc(st->retired, (size_t)cap * sizeof(GraphWs *));
    if (!r) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "cannot keep the workspace a CUDA graph uses");
    st->retired = r;
    st->cap_retired = cap;
  }
  GraphWs *r = st->ws_rec;
  if (!r) {
    /* no record (none could be allocated at the capture): pinned */
    r = graph_ws_new(st->ws, true);
    if (!r) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "cannot keep the workspace a CUDA graph uses");
  } else if (!graph_ws_unref(r)) {
    r->pinned = true; /* the callback may never come: the release's end (graph_ws_drop) orphans the record */
  }
  st->retired[st->n_retired++] = r;
  st->ws = nullptr;
  st->ws_rec = nullptr;
  st->ws_size = 0;
  st->ws_graph = 0;
  st->ws_pending = 0;
  return JFA_SUCCESS;
}

/* Frees the retired buffers whose graphs are all gone (outside a capture: cudaFree is not capturable), best effort:
   a buffer cudaFree refuses is pinned (freed with the context) and its error cleared, so that no later call fails on
   it. */
static void sweep_retired(CudaState *st) {
  int k = 0;
  for (int i = 0; i < st->n_retired; ++i) {
    GraphWs *r = st->retired[i];
    if (!r->pinned && r->state.load() == 1) {
      if (cudaFree(r->ptr) == cudaSuccess) {
        delete r; /* the callback has run: nothing else holds the record */
        continue;
      }
      (void)cudaGetLastError();
      r->pinned = true;
    }
    st->retired[k++] = r;
  }
  st->n_retired = k;
}

/* The workspace of one call. The context keeps one buffer for every stream it is used on:
   - a call waits (on the device) for the work of the last call that used it (ws_done), so that two streams never
     hold it at once (a backward's dQ accumulator zeroed under another's atomics, a mask's offsets or block map
     replaced under a kernel reading them). It waits whatever its stream: a handle is no proof of the same stream
     (cudaStreamPerThread is another stream in each thread; a destroyed stream's handle comes back), and on the
     same stream the wait costs the device nothing;
   - a buffer a CUDA graph captured is the graph's: the next call outside a capture takes a new one (a graph
     replayed later, or concurrently with eager calls, keeps its own), and growing never frees it. A capture does
     not wait for earlier eager calls (synchronise before capturing, as torch.cuda.graph does), and graphs captured
     with no eager call between them share one buffer (replay them one after the other) (jfa.h).
   Growing is refused during a capture (cudaMalloc and the synchronisation are not capturable). */
jfa_status_t jfa_cuda_workspace(jfa_context_t *ctx, size_t bytes, void **ws, bool *capturing_out) {
  CudaState *st;
  JFA_CHECK(jfa_cuda_state(ctx, &st));
  const cudaStream_t s = ctx_stream(ctx);
  cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
  JFA_CUDA_CHECK(cudaStreamIsCapturing(s, &cap));
  const bool capturing = cap != cudaStreamCaptureStatusNone;
  *capturing_out = capturing;
  if (bytes == 0) bytes = 256;
  if (!capturing && st->ws_graph) JFA_CHECK(retire_workspace(st));
  if (st->ws_size < bytes) {
    if (capturing)
      JFA_FAIL(JFA_ERROR_CUDA,
               "the workspace must grow to %zu bytes during a CUDA graph capture: run the same call once "
               "before capturing",
               bytes);
    /* The old buffer may still be in use by queued work on this stream or the last one that used it (cudaFree
       would wait for the whole device anyway; a graph's buffer was retired above). */
    if (st->ws) {
      JFA_CUDA_CHECK(cudaStreamSynchronize(s));
      if (st->ws_pending) JFA_CUDA_CHECK(cudaEventSynchronize(st->ws_done));
      JFA_CUDA_CHECK(cudaFree(st->ws));
      st->ws = nullptr;
      st->ws_size = 0;
      st->ws_pending = 0;
    }
    if (st->n_retired) sweep_retired(st); /* beside this allocation: graphs' buffers whose graphs are gone */
    size_t sz = align_up(bytes + bytes / 4, 1 << 20);
    cudaError_t e = cudaMalloc(&st->ws, sz);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();
      st->ws = nullptr;
      JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "cannot allocate %zu bytes of CUDA workspace", sz);
    }
    JFA_CUDA_CHECK(e);
    st->ws_size = sz;
  } else if (!capturing && st->ws_pending) {
    JFA_CUDA_CHECK(cudaStreamWaitEvent(s, st->ws_done, 0));
  }
  if (capturing) {
    st->ws_graph = 1;
    graph_ws_retain(st, s);
  }
  *ws = st->ws;
  return JFA_SUCCESS;
}

void jfa_cuda_workspace_done(jfa_context_t *ctx, bool capturing) {
  CudaState *st = (CudaState *)ctx->cuda_state;
  if (!st || !st->ws || capturing) return;
  const cudaStream_t s = ctx_stream(ctx);
  if (!st->ws_done && cudaEventCreateWithFlags(&st->ws_done, cudaEventDisableTiming) != cudaSuccess) {
    (void)cudaGetLastError();
    st->ws_done = nullptr;
    return;
  }
  /* on failure the event keeps its last record (the next call then waits for the calls before this one) */
  if (cudaEventRecord(st->ws_done, s) != cudaSuccess) {
    (void)cudaGetLastError();
    return;
  }
  st->ws_pending = 1;
}

/* Raises a kernel's dynamic shared-memory attribute to smem bytes where it is lower: the attribute as the runtime
   holds it now (cudaFuncGetAttributes: per device context, so a reset context is seen). The launches' usual case,
   already high enough (it is never lowered), takes no lock; a raise is read again and set under one lock, so that two
   threads' raises never leave the lower of the two. */
static std::mutex g_smem_mu;

jfa_status_t jfa_cuda_smem_raise(const void *kernel, size_t smem) {
  cudaFuncAttributes fa;
  JFA_CUDA_CHECK(cudaFuncGetAttributes(&fa, kernel));
  if (fa.maxDynamicSharedSizeBytes >= (int)smem) return JFA_SUCCESS;
  std::lock_guard<std::mutex> lock(g_smem_mu);
  JFA_CUDA_CHECK(cudaFuncGetAttributes(&fa, kernel));
  if (fa.maxDynamicSharedSizeBytes >= (int)smem) return JFA_SUCCESS;
  JFA_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  return JFA_SUCCESS;
}

extern "C" void jfa_cuda_context_release(jfa_context_t *ctx) {
  if (!ctx || !ctx->cuda_state) return;
  CudaState *st = (CudaState *)ctx->cuda_state;
  if (st->ws || st->n_retired || st->ws_done) {
    DeviceGuard g(ctx->device_index);
    /* the last call that used the workspace (ws_done; the context's stream may be gone by now), and cudaFree's own
       synchronisation; the retired buffers' graphs must not run any more (jfa.h) */
    if (st->ws_pending) cudaEventSynchronize(st->ws_done);
    if (st->ws) cudaFree(st->ws);
    for (int i = 0; i < st->n_retired; ++i) cudaFree(st->retired[i]->ptr);
    if (st->ws_done) cudaEventDestroy(st->ws_done);
  }
  /* the records: the current buffer's (a graph captured it, not yet retired: the context's reference let go too) and
     the retired ones', each freed now or by its callback */
  if (st->ws_rec) {
    (void)graph_ws_unref(st->ws_rec);
    graph_ws_drop(st->ws_rec);
  }
  for (int i = 0; i < st->n_retired; ++i) graph_ws_drop(st->retired[i]);
  free(st->retired);
  free(st);
  ctx->cuda_state = nullptr;
}

extern "C" jfa_status_t jfa_cuda_synchronize(jfa_context_t *ctx) {
  JFA_DEVICE_GUARD(g, ctx);
  JFA_CUDA_CHECK(cudaStreamSynchronize(ctx_stream(ctx)));
  /* and the buffers of destroyed graphs (graph_ws_gone): outside a capture, as the synchronisation that succeeded */
  CudaState *st = (CudaState *)ctx->cuda_state;
  if (st && st->n_retired) sweep_retired(st);
  return JFA_SUCCESS;
}

extern "C" int jfa_cuda_last_kernel(jfa_context_t *ctx, int backward) {
  if (!ctx || !ctx->cuda_state) return -1;
  const CudaState *st = (const CudaState *)ctx->cuda_state;
  return backward == 2 ? st->last_bwd_jvp : backward ? st->last_bwd : st->last_fwd;
}

extern "C" int jfa_cuda_last_route(jfa_context_t *ctx) {
  if (!ctx || !ctx->cuda_state) return -1;
  return ((const CudaState *)ctx->cuda_state)->last_fwd_route;
}

extern "C" int jfa_cuda_last_bwd_route(jfa_context_t *ctx) {
  if (!ctx || !ctx->cuda_state) return -1;
  return ((const CudaState *)ctx->cuda_state)->last_bwd_route;
}

extern "C" int jfa_cuda_graph_workspaces(jfa_context_t *ctx) {
  if (!ctx || !ctx->cuda_state) return 0;
  return ((const CudaState *)ctx->cuda_state)->n_retired;
}

extern "C" int jfa_cuda_last_precision(jfa_context_t *ctx, int backward) {
  if (!ctx || !ctx->cuda_state) return -1;
  const CudaState *st = (const CudaState *)ctx->cuda_state;
  return backward ? st->last_bwd_prec : st->last_fwd_prec;
}
