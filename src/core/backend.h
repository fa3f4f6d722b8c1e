/*
 * backend.h - the private contract between jfa's front end (src/core: argument
 * validation and dispatch), its compute backends (src/cpu in plain C, src/kernels
 * in CUDA) and the ring (src/ring).
 *
 * The front end validates every tensor before a backend sees it, so backends may
 * assume: shapes agree, Hq % Hkv == 0, dtypes and devices are supported, outputs
 * do not alias inputs. Backends still return a status for failures of their own
 * (allocation, CUDA errors) and never exit.
 *
 * Two modes for the forward and the backward, so that the ring reuses the same
 * kernels over K/V blocks:
 *   accumulate == 0  outputs are overwritten with this call's result, in the
 *                    outputs' own dtype (the single-device public API).
 *   accumulate != 0  outputs are accumulators of jfa_acc_dtype(device) (float64 on
 *                    the CPU, float32 on CUDA) and this call's result over the
 *                    given K/V block is merged (forward: log-sum-exp merge, see
 *                    jfa_attention_merge in jfa.h) or added (backward) into them.
 *                    Before the first block the ring fills them with the identity
 *                    (o = od = mu = 0, lse = -inf; dq = dk = dv = 0).
 */
#ifndef JFA_CORE_BACKEND_H_
#define JFA_CORE_BACKEND_H_

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Execution context (jfa_context_t of the public API). */
struct jfa_context {
  jfa_device_t device;
  int device_index;
  void *stream;       /* cudaStream_t, NULL = default stream */
  unsigned flags;     /* JFA_FLAG_* */
  int num_threads;    /* CPU backend, 0 = OpenMP default */
  void *cuda_state;   /* private to src/kernels (workspace cache, events); NULL until used */
};

/**
 * Geometry and masking of one attention call over one K/V block.
 *
 * Visibility of key j to query i is the conjunction of:
 *  - causal:  rel <= 0, with rel = pos_k(j) - pos_q(i);
 *  - window (windowed != 0): -win_left <= rel <= win_right (a side < 0 is unbounded);
 *  - packed sequences (nseq > 0): query index q_pos0 + i lies in sequence s
 *    (cu_q[s] <= q_pos0 + i < cu_q[s+1]) and key index k_pos0 + j in the same
 *    sequence's keys (cu_k[s] <= k_pos0 + j < cu_k[s+1]); positions are then
 *    relative to the sequence: pos_q = q_pos0 + i - cu_q[s] + (seq_bottom_right ?
 *    len_k(s) - len_q(s) : 0), pos_k = k_pos0 + j - cu_k[s];
 *    without packed sequences pos_q = q_pos0 + i, pos_k = k_pos0 + j;
 *  - dense mask (dmask != NULL): dmask[b|0, h|0, i, j] nonzero (bool) or the
 *    additive bias is added to scale * q.k (float; -inf masks).
 */
typedef struct {
  int64_t B, Hq, Hkv, Nq, Nk, D;
  double scale;    /* resolved: the default replaced; 0 or negative when the caller asked for it */
  int causal;      /* 0 or 1 */
  int64_t q_pos0;  /* global position (or packed-sequence index) of query row 0 */
  int64_t k_pos0;  /* global position (or packed-sequence index) of key row 0 */
  int windowed;                  /* 0: no sliding window (zero-initialised problems have none) */
  int64_t win_left, win_right;   /* sliding window when windowed, < 0 = unbounded side */
  const jfa_tensor_t *dmask;     /* dense mask view of this block (rows, keys), or NULL */
  int64_t nseq;                  /* packed sequences (0: none) */
  const int64_t *cu_q, *cu_k;    /* nseq + 1 offsets each, host memory (NULL when nseq == 0) unless seq_dev */
  int seq_dev;                   /* cu_q / cu_k are CUDA device memory (JFA_PARAMS_SEQLENS_DEVICE): the host must
                                    not read them; their values were not checked */
  int seq_bottom_right;          /* causal/window alignment inside each packed sequence */
  const void *dmap;              /* CUDA: the caller's block map of dmask (jfa_attention_mask_map_build), or NULL:
                                    the call builds one in its workspace */
  uint64_t dmap_bytes;           /* its size (checked: jfa_cuda_mask_map_bytes) */
  int partial;                   /* 1: the keys are one block of each row's (the ring's calls): a row whose visible
                                    keys all score -inf is an empty partial (O = 0, lse = -inf; a merge adds
                                    nothing), as the CUDA kernels give; 0 (whole rows): the CPU gives that row NaN */
} jfa_problem_t;

/** Largest window side that matters: positions are within 2^52 and extents within
 *  2^40, so |pos_k - pos_q| < 2^54 and any larger side is equivalent. The front end
 *  and the ring clamp window sides to it, so position arithmetic cannot overflow. */
#define JFA_WINDOW_MAX ((int64_t)1 << 54)

/** The accumulator dtype of a device: float64 on the CPU, float32 on CUDA. */
static inline jfa_dtype_t jfa_acc_dtype(jfa_device_t device) {
  return device == JFA_DEVICE_CPU ? JFA_DTYPE_FLOAT64 : JFA_DTYPE_FLOAT32;
}

/** Whether no key of the block is visible to any query (the ring skips such steps).
 *  Conservative: 0 when it cannot tell cheaply (packed sequences are the caller's to check). */
static inline int jfa_problem_fully_masked(const jfa_problem_t *p) {
  if (p->nseq > 0) return 0;
  /* rel = pos_k - pos_q ranges over [k_pos0 - (q_pos0 + Nq - 1), k_pos0 + Nk - 1 - q_pos0] */
  int64_t rel_min = p->k_pos0 - (p->q_pos0 + p->Nq - 1), rel_max = p->k_pos0 + p->Nk - 1 - p->q_pos0;
  if (p->causal && rel_min > 0) return 1;
  if (p->windowed && p->win_right >= 0 && rel_min > p->win_right) return 1;
  if (p->windowed && p->win_left >= 0 && rel_max < -p->win_left) return 1;
  return 0;
}

/* Each backend provides the functions below under its prefix: jfa_cpu_* and jfa_cuda_*. */
#define JFA_DECLARE_BACKEND(prefix)                                                          \
  /* Forward over one K/V block; JVP too when qd != NULL (then kd, vd, od non-NULL).         \
     lse, od (forward only) and mu may be NULL when accumulate == 0. */                      \
  jfa_status_t prefix##_attention_block(                                                     \
      jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,                     \
      const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,                  \
      const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *o,                 \
      const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu,               \
      int accumulate);                                                                       \
  /* delta (B, Hq, Nq, 1, acc dtype) = rowsum(dout * o). */                                  \
  jfa_status_t prefix##_attention_delta(jfa_context_t *ctx, const jfa_problem_t *p,          \
                                        const jfa_tensor_t *o, const jfa_tensor_t *dout,     \
                                        const jfa_tensor_t *delta);                          \
  /* Backward over one K/V block with the global lse and delta. */                           \
  jfa_status_t prefix##_attention_backward_block(                                            \
      jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,                     \
      const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout,                \
      const jfa_tensor_t *lse, const jfa_tensor_t *delta, const jfa_tensor_t *dq,            \
      const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate);                       \
  /* The whole single-device backward of jfa.h (delta computed inside, lse given). */       \
  jfa_status_t prefix##_attention_backward(                                                  \
      jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q,                     \
      const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *o,                   \
      const jfa_tensor_t *lse, const jfa_tensor_t *dout, const jfa_tensor_t *dq,             \
      const jfa_tensor_t *dk, const jfa_tensor_t *dv);                                       \
  /* jfa_attention_merge of jfa.h (od_*, mu_* may all be NULL). */                           \
  jfa_status_t prefix##_attention_merge(                                                     \
      jfa_context_t *ctx, const jfa_tensor_t *o_acc, const jfa_tensor_t *lse_acc,            \
      const jfa_tensor_t *od_acc, const jfa_tensor_t *mu_acc, const jfa_tensor_t *o_part,    \
      const jfa_tensor_t *lse_part, const jfa_tensor_t *od_part,                             \
      const jfa_tensor_t *mu_part);                                                          \
  /* dst = src element-wise (same shape, any dtypes, any strides, same device). */           \
  jfa_status_t prefix##_convert(jfa_context_t *ctx, const jfa_tensor_t *src,                 \
                                const jfa_tensor_t *dst);                                    \
  /* every element of dst = value (-INFINITY allowed). */                                    \
  jfa_status_t prefix##_fill(jfa_context_t *ctx, const jfa_tensor_t *dst, double value);

JFA_DECLARE_BACKEND(jfa_cpu)
JFA_DECLARE_BACKEND(jfa_cuda)

/* Backward-JVP (jfa_attention_backward_jvp; src/cpu/backward_jvp.c, the CUDA kernels, no_cuda.c).
   _block: over one K/V block with the global row statistics lse, mu, delta = rowsum(dout * o)
   and deltad = rowsum(doutd * o + dout * od) (all (B, Hq, Nq, 1)); dq, dk, dv may be NULL.
   accumulate as for the backward (outputs then of jfa_acc_dtype, added into). */
#define JFA_DECLARE_BACKWARD_JVP(prefix)                                                                  \
  jfa_status_t prefix##_attention_backward_jvp_block(                                                     \
      jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,           \
      const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd,      \
      const jfa_tensor_t *dout, const jfa_tensor_t *doutd, const jfa_tensor_t *lse,                       \
      const jfa_tensor_t *mu, const jfa_tensor_t *delta, const jfa_tensor_t *deltad,                      \
      const jfa_tensor_t *dqd, const jfa_tensor_t *dkd, const jfa_tensor_t *dvd, const jfa_tensor_t *dq,  \
      const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate);                                    \
  /* delta and deltad of the block call above (acc dtype). */                                            \
  jfa_status_t prefix##_attention_delta_jvp(jfa_context_t *ctx, const jfa_problem_t *p,                   \
                                            const jfa_tensor_t *o, const jfa_tensor_t *od,                \
                                            const jfa_tensor_t *dout, const jfa_tensor_t *doutd,          \
                                            const jfa_tensor_t *delta, const jfa_tensor_t *deltad);       \
  /* The whole single-device call of jfa.h. */                                                           \
  jfa_status_t prefix##_attention_backward_jvp(                                                           \
      jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,           \
      const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd,      \
      const jfa_tensor_t *o, const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu,     \
      const jfa_tensor_t *dout, const jfa_tensor_t *doutd, const jfa_tensor_t *dqd,                       \
      const jfa_tensor_t *dkd, const jfa_tensor_t *dvd, const jfa_tensor_t *dq, const jfa_tensor_t *dk,   \
      const jfa_tensor_t *dv);
JFA_DECLARE_BACKWARD_JVP(jfa_cpu)
JFA_DECLARE_BACKWARD_JVP(jfa_cuda)
JFA_DECLARE_BACKWARD_JVP(jfa_backend)

/* The block map of a dense mask (jfa_attention_mask_map_bytes / _build; kernels/common/mask_blockmap.cu, no_cuda.c):
   its bytes for p's dmask, Nq and Nk (0 without rows or keys), and its build into map (device memory of the context's
   GPU, checked by the caller) in the context's stream. */
jfa_status_t jfa_cuda_mask_map_bytes(const jfa_problem_t *p, uint64_t *bytes);
jfa_status_t jfa_cuda_mask_map_build(jfa_context_t *ctx, const jfa_problem_t *p, void *map);
/* Where a caller's map lives: JFA_ERROR_INVALID_ARGUMENT unless device memory of the context's GPU. */
jfa_status_t jfa_cuda_check_device_memory(const jfa_context_t *ctx, const void *ptr, const char *name);

/* CUDA context hooks (src/kernels; stubs returning JFA_ERROR_UNSUPPORTED when built without CUDA). */
jfa_status_t jfa_cuda_context_init(jfa_context_t *ctx);    /* checks the device exists */
void jfa_cuda_context_release(jfa_context_t *ctx);         /* frees cuda_state */
jfa_status_t jfa_cuda_synchronize(jfa_context_t *ctx);     /* cudaStreamSynchronize(ctx->stream) */
int jfa_cuda_device_count(void);                           /* 0 without CUDA or GPU */
/* The kernel family of the context's last forward (backward = 0), backward (1) or backward-JVP (2) call:
   0 SIMT, 1 mma.sync, 2 sm_90a (wgmma/TMA), -1 none yet. For the tests of the dispatch;
   exported from the shared library (not part of jfa.h) for the Python tests. */
JFA_API int jfa_cuda_last_kernel(jfa_context_t *ctx, int backward);
/* The route of the context's last forward within its family, for the tests of the per-call switches: the sm90
   family's 16-bit forward / JVP as bits (1 a persistent kernel, 2 the MASKED instantiation, 4 a window on the
   unmasked kernel: sm90/sm90.h SM90_ROUTE_*), 0 for the other families and float32; -1 none yet. Exported as above. */
JFA_API int jfa_cuda_last_route(jfa_context_t *ctx);
/* The same for the context's last backward: the sm90 family's 16-bit backward as bits (1 the persistent unmasked
   kernel, 2 the MASKED instantiation, 4 a band on the unmasked kernel), 0 for the other families and float32; -1 none
   yet. Exported as above. */
JFA_API int jfa_cuda_last_bwd_route(jfa_context_t *ctx);
/* How many workspace buffers of CUDA graphs the context still holds after retiring them (context.cu: each is freed,
   once its graphs and their executables are destroyed, where the context next allocates a workspace or synchronises);
   for test_gpu_streams. Exported as above. */
JFA_API int jfa_cuda_graph_workspaces(jfa_context_t *ctx);
/* The arithmetic of that call: 0 native (16-bit inputs, or the SIMT family), 1 float32 in one
   TF32 product (JFA_FLAG_ALLOW_TF32), 3 float32 in 3xTF32; -1 none yet. Exported as above. */
JFA_API int jfa_cuda_last_precision(jfa_context_t *ctx, int backward);

/* Dispatch by ctx->device to the backend functions above (src/core/dispatch.c). */
JFA_DECLARE_BACKEND(jfa_backend)

/* Validation helpers (src/core/validate.c), each sets the last error naming `name`. */
jfa_status_t jfa_check_tensor(const jfa_tensor_t *t, const char *name, jfa_device_t device);
/** The view of entries [start, start + n) of t along axis (0..3): the same strides, no copy (tensor.c). */
jfa_tensor_t jfa_tensor_slice(const jfa_tensor_t *t, int axis, int64_t start, int64_t n);
/** Whether the byte ranges spanned by two tensors overlap (NULL never overlaps). */
int jfa_tensors_overlap(const jfa_tensor_t *a, const jfa_tensor_t *b);

#ifdef __cplusplus
}
#endif

#endif /* JFA_CORE_BACKEND_H_ */
