/*
 * jfa.h - public C API of jfa: exact attention with forward-mode derivatives (JVP)
 * and backward, on the CPU and on CUDA GPUs.
 *
 * Valid C11, includable from C++. Every call returns a jfa_status_t; on failure
 * jfa_get_last_error() gives a message naming the offending argument (per thread).
 * Bad input returns an error before anything is written.
 *
 * Math (per batch and head, s = scale, default 1/sqrt(D)):
 *   S = s Q K^T (masked entries -inf), P = softmax_rows(S), O = P V,
 *   lse_i = log sum_j exp(S_ij)                                  (natural log)
 *   JVP:  Sd = s (Qd K^T + Q Kd^T),  mu_i = sum_j P_ij Sd_ij      (tangent of lse)
 *         Od_i = sum_j P_ij (Sd_ij - mu_i) V_j + sum_j P_ij Vd_j
 *   Backward from dO: Delta_i = sum_d dO_id O_id, dS = P * (dO V^T - Delta),
 *         dQ = s dS K, dK = s dS^T Q, dV = P^T dO (summed over a GQA group).
 * A fully masked row gives O = Od = 0, lse = -inf, mu = 0 and zero gradients.
 *
 * The ring (sequence-parallel) API lives in jfa_ring.h.
 */
#ifndef JFA_H_
#define JFA_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Marks the functions a shared libjfa exports (everything else stays hidden). */
#if defined(_WIN32)
#define JFA_API
#elif defined(__GNUC__) || defined(__clang__)
#define JFA_API __attribute__((visibility("default")))
#else
#define JFA_API
#endif

#define JFA_VERSION_MAJOR 0
#define JFA_VERSION_MINOR 1
#define JFA_VERSION_PATCH 0
/** Version as one integer: major * 10000 + minor * 100 + patch. */
#define JFA_VERSION_CODE(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define JFA_VERSION JFA_VERSION_CODE(JFA_VERSION_MAJOR, JFA_VERSION_MINOR, JFA_VERSION_PATCH)

/** Status returned by every jfa call. */
typedef enum {
  JFA_SUCCESS = 0,
  JFA_ERROR_INVALID_ARGUMENT = 1, /**< a null pointer, bad size, shape, stride, dtype, device or alias */
  JFA_ERROR_UNSUPPORTED = 2,      /**< valid request this build or backend cannot do (e.g. fp16 on CPU) */
  JFA_ERROR_CUDA = 3,             /**< a CUDA runtime call failed */
  JFA_ERROR_NCCL = 4,             /**< an NCCL call failed */
  JFA_ERROR_MPI = 5,              /**< an MPI call failed */
  JFA_ERROR_OUT_OF_MEMORY = 6,    /**< host or device allocation failed */
  JFA_ERROR_INTERNAL = 7,         /**< a bug in jfa, or a collective that disagreed across ranks */
  JFA_NUM_STATUS = 8
} jfa_status_t;

/** Element types. float64 is CPU only; float16/bfloat16 are CUDA only. */
typedef enum {
  JFA_DTYPE_FLOAT64 = 0,
  JFA_DTYPE_FLOAT32 = 1,
  JFA_DTYPE_FLOAT16 = 2,
  JFA_DTYPE_BFLOAT16 = 3
} jfa_dtype_t;

/** Where a tensor's memory lives. */
typedef enum {
  JFA_DEVICE_CPU = 0,
  JFA_DEVICE_CUDA = 1
} jfa_device_t;

/**
 * A strided 4-d tensor view over memory the caller owns.
 * Axes are (batch, heads, seq, head_dim): shape[0..3]. Strides are in elements,
 * so BHSD, BSHD and views of larger buffers all work without copies.
 * Statistics (lse, mu, delta) are tensors of shape (B, H, N, 1).
 */
typedef struct {
  void *data;
  jfa_dtype_t dtype;
  jfa_device_t device;
  int64_t shape[4];
  int64_t stride[4];
} jfa_tensor_t;

/** Causal masking. Key j is visible to query i iff k_position + j <= q_position + i. */
typedef enum {
  JFA_MASK_NONE = 0,
  JFA_MASK_CAUSAL_TOP_LEFT = 1,     /**< q_position = k_position = 0 (PyTorch is_causal) */
  JFA_MASK_CAUSAL_BOTTOM_RIGHT = 2, /**< q_position = Nk - Nq, k_position = 0 (FlashAttention) */
  JFA_MASK_CAUSAL_POSITIONS = 3     /**< the caller's q_position and k_position (global offsets) */
} jfa_mask_t;

/** Options of one attention call. Initialise with jfa_attention_params_init(). */
typedef struct {
  double scale;       /**< softmax scale; 0 means 1/sqrt(D). Must be finite. */
  jfa_mask_t mask;    /**< masking mode */
  int64_t q_position; /**< global position of query row 0 (JFA_MASK_CAUSAL_POSITIONS only) */
  int64_t k_position; /**< global position of key row 0 (JFA_MASK_CAUSAL_POSITIONS only) */
} jfa_attention_params_t;

/** Opaque execution context: device, CUDA stream, flags and cached workspace. */
typedef struct jfa_context jfa_context_t;

/** Context flags (bitwise or). */
enum {
  JFA_FLAG_DETERMINISTIC = 1u << 0, /**< bitwise reproducible results (no float atomics in the backward) */
  JFA_FLAG_ALLOW_TF32 = 1u << 1     /**< float32 inputs may use TF32 tensor cores on CUDA (less accurate) */
};

/* ------------------------------------------------------------------------- */
/* Version and errors                                                         */

/** Returns JFA_VERSION of the library that is linked (may differ from the header's). */
JFA_API int jfa_version(void);

/** Returns a static, human-readable name for a status ("JFA_ERROR_INVALID_ARGUMENT: ..."). */
JFA_API const char *jfa_status_string(jfa_status_t status);

/**
 * Returns the detail message of the last failed jfa call on the calling thread
 * ("" if none). The text stays valid until the next failed jfa call on this thread.
 */
JFA_API const char *jfa_get_last_error(void);

/** Returns the size in bytes of one element of a dtype (0 for an unknown dtype). */
JFA_API size_t jfa_dtype_size(jfa_dtype_t dtype);

/** Returns a static name for a dtype ("float64", "float32", "float16", "bfloat16"; "unknown" otherwise). */
JFA_API const char *jfa_dtype_name(jfa_dtype_t dtype);

/* ------------------------------------------------------------------------- */
/* Tensors                                                                    */

/**
 * Describes a contiguous tensor in (batch, heads, seq, dim) order, the layout
 * of torch.Tensor of shape [B, H, S, D].
 */
JFA_API jfa_tensor_t jfa_tensor_bhsd(void *data, jfa_dtype_t dtype, jfa_device_t device,
                             int64_t batch, int64_t heads, int64_t seq, int64_t dim);

/**
 * Describes a contiguous tensor stored in (batch, seq, heads, dim) order, the
 * layout of FlashAttention's [B, S, H, D], viewed with jfa's axis order.
 */
JFA_API jfa_tensor_t jfa_tensor_bshd(void *data, jfa_dtype_t dtype, jfa_device_t device,
                             int64_t batch, int64_t seq, int64_t heads, int64_t dim);

/** Number of elements of a tensor's shape. */
JFA_API int64_t jfa_tensor_numel(const jfa_tensor_t *t);

/**
 * Converts n contiguous values in host memory from one dtype to another (any
 * pair; float16 and bfloat16 round to nearest even, overflow goes to +-inf, NaN
 * stays NaN). For preparing GPU inputs from host data and reading results back.
 * src and dst must not overlap (in place only when src == dst and the dtypes are
 * equal). Returns JFA_ERROR_INVALID_ARGUMENT for NULL pointers (n > 0), an
 * unknown dtype or overlapping buffers, and writes nothing then.
 */
JFA_API jfa_status_t jfa_convert_host(const void *src, jfa_dtype_t src_dtype, void *dst,
                                      jfa_dtype_t dst_dtype, size_t n);

/* ------------------------------------------------------------------------- */
/* Contexts                                                                   */

/**
 * Creates a context for a device. For JFA_DEVICE_CUDA, device_index selects the
 * GPU (the context sets it current around each call); for the CPU it is ignored.
 * Returns JFA_ERROR_UNSUPPORTED for CUDA when the build or machine has no GPU.
 */
JFA_API jfa_status_t jfa_context_create(jfa_context_t **ctx, jfa_device_t device, int device_index);

/** Destroys a context and frees its workspace. NULL is accepted. */
JFA_API jfa_status_t jfa_context_destroy(jfa_context_t *ctx);

/** Sets the CUDA stream (a cudaStream_t) for later calls; NULL is the default stream. */
JFA_API jfa_status_t jfa_context_set_stream(jfa_context_t *ctx, void *cuda_stream);

/** Returns the context's CUDA stream (NULL for the default stream or a CPU context). */
JFA_API jfa_status_t jfa_context_get_stream(const jfa_context_t *ctx, void **cuda_stream);

/** Sets the flags (JFA_FLAG_*). */
JFA_API jfa_status_t jfa_context_set_flags(jfa_context_t *ctx, unsigned flags);

/** Returns the context's device. */
JFA_API jfa_status_t jfa_context_get_device(const jfa_context_t *ctx, jfa_device_t *device, int *device_index);

/**
 * Sets how many CPU threads the CPU backend uses (0: the OpenMP default).
 * Ignored by CUDA contexts.
 */
JFA_API jfa_status_t jfa_context_set_num_threads(jfa_context_t *ctx, int num_threads);

/** Waits until all work queued by this context's calls has finished. */
JFA_API jfa_status_t jfa_context_synchronize(jfa_context_t *ctx);

/**
 * Returns whether CUDA is compiled in and a GPU is present (1) or not (0).
 * Never fails; *count receives the number of visible GPUs when count != NULL.
 */
JFA_API int jfa_cuda_available(int *count);

/* ------------------------------------------------------------------------- */
/* Attention                                                                  */

/** Fills params with the defaults: scale 0 (1/sqrt(D)), no mask, positions 0. */
JFA_API void jfa_attention_params_init(jfa_attention_params_t *params);

/**
 * Forward attention.
 *   q (B, Hq, Nq, D), k and v (B, Hkv, Nk, D), Hq a multiple of Hkv.
 *   o (B, Hq, Nq, D), same dtype and device as q.
 *   lse (B, Hq, Nq, 1), float32 (float64 also allowed on the CPU), or NULL.
 * params may be NULL (defaults). Calls on CUDA are asynchronous on the context's stream.
 */
JFA_API jfa_status_t jfa_attention_forward(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                   const jfa_tensor_t *q, const jfa_tensor_t *k,
                                   const jfa_tensor_t *v, const jfa_tensor_t *o,
                                   const jfa_tensor_t *lse);

/**
 * Fused forward and JVP: O and lse as jfa_attention_forward, plus the tangents
 * Od (shape and dtype of o) and mu, the tangent of lse (shape and dtype of lse),
 * for the input tangents qd, kd, vd (shapes and dtype of q, k, v).
 * lse and mu may be NULL (both or either).
 */
JFA_API jfa_status_t jfa_attention_forward_jvp(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                       const jfa_tensor_t *q, const jfa_tensor_t *k,
                                       const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                       const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                       const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                       const jfa_tensor_t *od, const jfa_tensor_t *mu);

/**
 * Backward: gradients dq, dk, dv (shapes and dtype of q, k, v) of a loss whose
 * gradient with respect to O is dout, using the o and lse saved by the forward
 * with the same params. With GQA, dk and dv sum over the query heads of a group.
 */
JFA_API jfa_status_t jfa_attention_backward(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                    const jfa_tensor_t *q, const jfa_tensor_t *k,
                                    const jfa_tensor_t *v, const jfa_tensor_t *o,
                                    const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                    const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                    const jfa_tensor_t *dv);

/**
 * Merges a partial result (computed over a subset of the keys) into running
 * accumulators, exactly:
 *   lse = logaddexp(lse_acc, lse_part), w_a = exp(lse_acc - lse), w_p = exp(lse_part - lse),
 *   o = w_a o_acc + w_p o_part, mu = w_a mu_acc + w_p mu_part,
 *   od = w_a (od_acc + (mu_acc - mu) o_acc) + w_p (od_part + (mu_part - mu) o_part).
 * Rows with lse = -inf on both sides stay (0, -inf, 0, 0). The accumulators are
 * float32 (float64 allowed on the CPU); the partial may be of any dtype the device
 * supports. od_* and mu_* may all be NULL (forward only). Shapes as in the forward.
 */
JFA_API jfa_status_t jfa_attention_merge(jfa_context_t *ctx,
                                 const jfa_tensor_t *o_acc, const jfa_tensor_t *lse_acc,
                                 const jfa_tensor_t *od_acc, const jfa_tensor_t *mu_acc,
                                 const jfa_tensor_t *o_part, const jfa_tensor_t *lse_part,
                                 const jfa_tensor_t *od_part, const jfa_tensor_t *mu_part);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* JFA_H_ */
