/*
 * jfa.h - public C API of jfa: exact attention with forward-mode derivatives (JVP)
 * and backward, on the CPU and on CUDA GPUs.
 *
 * Valid C89 to C17, includable from C++ (98 to 17; tests/abi/header_standards.cmake).
 * Every call that can fail returns a jfa_status_t (the queries and tensor helpers below
 * return values); on failure jfa_get_last_error() gives a message naming the offending
 * argument (per thread).
 * Bad input returns an error before anything is written.
 *
 * Math (per batch and head, s = scale, default 1/sqrt(D)):
 *   S = s Q K^T (masked entries -inf), P = softmax_rows(S), O = P V,
 *   lse_i = log sum_j exp(S_ij)                                  (natural log)
 *   JVP:  Sd = s (Qd K^T + Q Kd^T),  mu_i = sum_j P_ij Sd_ij      (tangent of lse)
 *         Od_i = sum_j P_ij (Sd_ij - mu_i) V_j + sum_j P_ij Vd_j
 *   Backward from dO: Delta_i = sum_d dO_id O_id, dS = P * (dO V^T - Delta),
 *         dQ = s dS K, dK = s dS^T Q, dV = P^T dO (summed over a GQA group).
 * A fully masked row gives O = Od = 0, lse = -inf, mu = 0 and zero gradients. A row whose
 * visible keys all score -inf through an infinite q or k (not a mask) is not masked: it is
 * NaN, as the math (exp(-inf - -inf)), on the CPU backend (the CUDA kernels not yet).
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

/* The one version number of jfa: CMake's project() reads these three lines (the
 * SONAME is libjfa.so.<major>), jfa_version() returns JFA_VERSION, and the Python
 * binding checks it (README.md, "ABI policy"). */
#define JFA_VERSION_MAJOR 0
#define JFA_VERSION_MINOR 6
#define JFA_VERSION_PATCH 0
/** Version as one integer: major * 10000 + minor * 100 + patch. */
#define JFA_VERSION_CODE(major, minor, patch) ((major) * 10000 + (minor) * 100 + (patch))
#define JFA_VERSION JFA_VERSION_CODE(JFA_VERSION_MAJOR, JFA_VERSION_MINOR, JFA_VERSION_PATCH)

/** Status returned by every jfa call. */
typedef enum {
  JFA_SUCCESS = 0,
  JFA_ERROR_INVALID_ARGUMENT = 1, /**< a null pointer, bad size, shape, stride, dtype, device or alias; in the
                                       ring, also a config or call that differs across ranks (jfa_ring.h) */
  JFA_ERROR_UNSUPPORTED = 2,      /**< valid request this build or backend cannot do (e.g. fp16 on CPU, a head
                                       dim above 256 on CUDA) */
  JFA_ERROR_CUDA = 3,             /**< a CUDA runtime call failed */
  JFA_ERROR_NCCL = 4,             /**< an NCCL call failed */
  JFA_ERROR_MPI = 5,              /**< an MPI call failed */
  JFA_ERROR_OUT_OF_MEMORY = 6,    /**< host or device allocation failed */
  JFA_ERROR_INTERNAL = 7,         /**< a bug in jfa, or a jfa_comm_callbacks_t callback that failed */
  JFA_ERROR_ABI_MISMATCH = 8,     /**< a struct's tag or size is not a layout this library knows (the
                                       caller was built against another jfa header, or skipped its init) */
  JFA_NUM_STATUS = 9
} jfa_status_t;

/** Element types. float64 is CPU only; float16/bfloat16 are CUDA only; bool only for masks. */
typedef enum {
  JFA_DTYPE_FLOAT64 = 0,
  JFA_DTYPE_FLOAT32 = 1,
  JFA_DTYPE_FLOAT16 = 2,
  JFA_DTYPE_BFLOAT16 = 3,
  JFA_DTYPE_BOOL = 4 /**< one byte per element, nonzero = true (dense boolean masks only) */
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
 * Every call refuses (JFA_ERROR_INVALID_ARGUMENT) a view with an extent below 1 (no
 * empty tensors), a negative stride, an extent or stride above 2^40, more than
 * 2^52 elements, or a data pointer not aligned to the element size.
 * A JFA_DEVICE_CUDA tensor's data must be memory the context's GPU addresses (its
 * device memory, or managed / peer memory it can reach). Where q, k, v, the outputs
 * and attn_mask live is not checked per call (a pointer query per tensor would cost
 * microseconds a call): a host pointer faults the kernel, a sticky error that leaves
 * the process's CUDA context unusable (JFA_ERROR_CUDA then, from every CUDA call).
 * The packed-sequence offsets and the block map, rarer, are checked.
 */
typedef struct {
  void *data;
  jfa_dtype_t dtype;
  jfa_device_t device;
  int64_t shape[4];
  int64_t stride[4];
} jfa_tensor_t;

/**
 * Causal masking and row positions. Query row i has position q_pos + i, key row j
 * has position k_pos + j; with a causal mode key j is visible to query i iff
 * k_pos + j <= q_pos + i. The positions also place sliding windows.
 */
typedef enum {
  JFA_MASK_NONE = 0,                /**< not causal; q_pos = k_pos = 0 */
  JFA_MASK_CAUSAL_TOP_LEFT = 1,     /**< q_pos = k_pos = 0 (PyTorch is_causal) */
  JFA_MASK_CAUSAL_BOTTOM_RIGHT = 2, /**< q_pos = Nk - Nq, k_pos = 0 (FlashAttention) */
  JFA_MASK_CAUSAL_POSITIONS = 3,    /**< causal, q_pos = q_position, k_pos = k_position (global offsets) */
  JFA_MASK_POSITIONS = 4,           /**< not causal, q_pos = q_position, k_pos = k_position (for windows) */
  JFA_MASK_BOTTOM_RIGHT = 5         /**< not causal, q_pos = Nk - Nq, k_pos = 0: FlashAttention's alignment of a
                                         window without a causal mask (jfa 0.6; without a window: no mask) */
} jfa_mask_t;

/*
 * Versioned structs. Every struct the caller fills (jfa_attention_params_t here,
 * jfa_ring_config_t and jfa_comm_callbacks_t in jfa_ring.h) begins with
 *   uint64_t struct_tag   JFA_STRUCT_TAG(kind, layout version)
 *   uint64_t struct_size  sizeof the struct as the caller's header declares it
 * both set by the struct's init macro (jfa_attention_params_init(&p), ...), which
 * also fills every field with its default. The library reads exactly struct_size
 * bytes, accepts every layout version up to its own (fields a caller's older
 * layout lacks take their defaults), and refuses an unknown kind, version or
 * size with JFA_ERROR_ABI_MISMATCH, reading nothing further and writing nothing (but the
 * NULL that jfa_ring_create and the jfa_comm_create_* functions store in their handle on
 * every failure, so that a failed creation never leaves a stale handle).
 * Fields are only ever appended, each addition making a new layout version.
 *
 * A struct whose first 8 bytes are not a jfa tag is read as the untagged layout
 * of jfa 0.1 (jfa_attention_params_t: scale, mask, q_position, k_position;
 * jfa_ring_config_t: batch .. scale), with defaults for every later field: the
 * tag's top 32 bits are JFA_STRUCT_MAGIC, which as a double (0.1's first params
 * field) is a NaN and as an int64 (0.1's first ring field) is negative, neither
 * of which 0.1 accepted. So always initialise with the init macro: a struct of
 * this header filled by hand without its tag is taken for the 0.1 layout.
 */
/** Top 32 bits of every struct tag (a NaN as a double, negative as an int64). */
#define JFA_STRUCT_MAGIC 0xFFF71FA0u
/** Kinds of versioned structs (bits 16..31 of a tag). */
#define JFA_STRUCT_ATTENTION_PARAMS 1u
#define JFA_STRUCT_RING_CONFIG 2u
#define JFA_STRUCT_COMM_CALLBACKS 3u
/** The tag of layout `version` of struct `kind`. */
#define JFA_STRUCT_TAG(kind, version) \
  (((uint64_t)JFA_STRUCT_MAGIC << 32) | ((uint64_t)(kind) << 16) | (uint64_t)(version))
/** Layout version of jfa_attention_params_t in this header (1: jfa 0.3, the ten fields of 0.2 and flags;
 *  2: jfa 0.5, mask_map and mask_map_bytes). */
#define JFA_ATTENTION_PARAMS_VERSION 2u

/** A window side without limit (jfa_attention_params_t.window_left / window_right). */
#define JFA_WINDOW_UNBOUNDED ((int64_t)-1)

/**
 * Options of one attention call. Initialise with jfa_attention_params_init(), then
 * set what you need; every kind of mask combines with the others (a key is
 * visible when every mask that is set lets it through).
 *
 * Dense mask (attn_mask): a tensor of shape (B or 1, Hq or 1, Nq, Nk), any
 * strides, on the context's device. JFA_DTYPE_BOOL: nonzero = attend. float32
 * or q's dtype (float64 also on the CPU): an additive bias, S = scale Q K^T + bias
 * (as PyTorch's SDPA), added in the accumulation precision; -inf entries mask;
 * the bias is a constant of the call (no tangent, no gradient). Entries are not
 * scanned: +inf or NaN entries at keys the other masks leave visible give NaN rows. The
 * mask must not overlap an output. On CUDA lse is float32: a row whose visible scores all
 * carry a large negative finite bias (padding rows under -10000, -1e9 or -FLT_MAX fills) has
 * an lse whose float32 rounding (|lse| 2^-24) the backward, which rebuilds P = exp(S - lse),
 * passes on to that row's P: a relative error up to 5e-4 at -1e4, past 1 at -1e9 (the forward
 * and its tangent are right). Harmless where the row's dO is zero (padding rows a loss
 * ignores); else give such keys -inf, use a boolean mask, or subtract each row's largest bias
 * (softmax does not change; lse does). The CPU backend's single-device backward and
 * backward-JVP recompute the statistics of rows whose |lse| >= 1024 from their own scores
 * (float64), so they are right with any dO, in float64 at finfo.min fills too, and where a
 * float32 lse overflowed to +-inf (float64 data or biases beyond FLT_MAX: the stored lse of
 * such a row is +-inf while its output is finite; only a row with no visible key has
 * lse = -inf by definition, and the ring's merge treats any -inf lse as empty: give
 * float64 data a float64 lse). On CUDA (seen on an H100 through the Python binding,
 * bfloat16 and float32): the kernels score in base 2 (bias x log2(e)), so a bias below -FLT_MAX / log2(e) (about
 * -2.36e38: float32's and bfloat16's finfo.min fills) becomes -inf there and its key counts
 * as masked; a row whose every visible key carries one is then a fully masked row (O = Od = 0,
 * lse = -inf, zero gradients) where SDPA and the CPU backend give the mean of V (the bias
 * swamps the scores in their rounding). Use -inf or a boolean mask for padding, or fills above -2e38 (-1e9 say).
 *
 * Sliding window: key j is visible to query i only if
 * -window_left <= pos_k(j) - pos_q(i) <= window_right (positions as in jfa_mask_t;
 * with packed sequences, positions inside each sequence). JFA_WINDOW_UNBOUNDED
 * (-1) leaves a side open; other negative values are invalid.
 *
 * Packed variable-length sequences (cu_seqlens_q, cu_seqlens_k, num_seqs): the
 * FlashAttention varlen convention. q, k, v hold the tokens of num_seqs sequences
 * back to back (batch 1; a (total, H, D) array is the BSHD view (1, H, total, D));
 * sequence s has query rows [cu_seqlens_q[s], cu_seqlens_q[s+1]) and key rows
 * [cu_seqlens_k[s], cu_seqlens_k[s+1]) and attends only within itself. Offsets
 * are host arrays of num_seqs + 1 int64 values, non-decreasing, from 0 to Nq (Nk)
 * (device arrays with JFA_PARAMS_SEQLENS_DEVICE: CUDA graphs).
 * Causal masks and windows apply inside each sequence, aligned top-left or
 * bottom-right per sequence (JFA_MASK_CAUSAL_BOTTOM_RIGHT, JFA_MASK_BOTTOM_RIGHT;
 * JFA_MASK_POSITIONS / CAUSAL_POSITIONS are not allowed with packed sequences).
 *
 * Block map of the dense mask (mask_map, mask_map_bytes; jfa 0.5): see
 * jfa_attention_mask_map_build. NULL (the default): the call builds its own.
 */
typedef struct {
  uint64_t struct_tag;  /**< JFA_STRUCT_TAG(JFA_STRUCT_ATTENTION_PARAMS, version): set by the init */
  uint64_t struct_size; /**< sizeof(jfa_attention_params_t) of the caller's header: set by the init */
  double scale;       /**< softmax scale; 0 means 1/sqrt(D) unless flags has JFA_PARAMS_SCALE_AS_GIVEN.
                           Must be finite with |scale| <= JFA_SCALE_MAX; may be negative. */
  jfa_mask_t mask;    /**< causal mode and positions */
  int64_t q_position; /**< position of query row 0 (JFA_MASK_CAUSAL_POSITIONS, JFA_MASK_POSITIONS) */
  int64_t k_position; /**< position of key row 0 (JFA_MASK_CAUSAL_POSITIONS, JFA_MASK_POSITIONS) */
  const jfa_tensor_t *attn_mask; /**< dense boolean or additive mask, or NULL */
  int64_t window_left;           /**< keys at most this far before the query, or JFA_WINDOW_UNBOUNDED */
  int64_t window_right;          /**< keys at most this far after the query, or JFA_WINDOW_UNBOUNDED */
  const int64_t *cu_seqlens_q;   /**< packed sequences: num_seqs + 1 query offsets (host; the device's with
                                      JFA_PARAMS_SEQLENS_DEVICE), or NULL */
  const int64_t *cu_seqlens_k;   /**< packed sequences: num_seqs + 1 key offsets (as cu_seqlens_q), or NULL */
  int64_t num_seqs;              /**< number of packed sequences, 1 to 2^40 (0 when cu_seqlens_* are NULL) */
  uint32_t flags;                /**< JFA_PARAMS_* bits (0 by default); unknown bits are refused */
  const void *mask_map;          /**< (version 2) attn_mask's block map, built by jfa_attention_mask_map_build,
                                      or NULL: the call builds it */
  uint64_t mask_map_bytes;       /**< (version 2) its size, jfa_attention_mask_map_bytes of attn_mask (0 with
                                      mask_map NULL) */
} jfa_attention_params_t;

/** jfa_attention_params_t.flags (and jfa_ring_config_t.flags): scale is used as given, 0
 *  included (an exact zero scale: uniform softmax over the visible keys). */
#define JFA_PARAMS_SCALE_AS_GIVEN (1u << 0)

/**
 * jfa_attention_params_t.flags (jfa 0.4): cu_seqlens_q and cu_seqlens_k point to memory of the
 * context's device (CUDA: device or managed memory of its GPU), which the kernels read in
 * stream order, as they read q, k and v: no host copy, so a call with packed sequences can
 * be captured in a CUDA graph and replayed with other offsets written into the same arrays
 * (num_seqs stays fixed). The host cannot read them, so their values are not checked: the
 * caller guarantees num_seqs + 1 non-decreasing values from 0 to Nq (Nk), as without the
 * flag. Other values give unspecified results but no access outside the call's tensors
 * and offsets: the kernels clamp each row's keys to [0, Nk) and each key's rows to [0, Nq).
 * Only where the arrays live (JFA_ERROR_INVALID_ARGUMENT for host memory or another GPU)
 * and their 8-byte alignment are checked. The kernel choice cannot use the values either:
 * packed sequences aligned to the Hopper kernels' blocks run their general masked kernels,
 * not the faster bands. Refused without cu_seqlens_q / cu_seqlens_k, and by the ring
 * (jfa_ring_config_t.flags: JFA_ERROR_UNSUPPORTED); on a CPU context the arrays are host
 * memory either way and are checked as without the flag.
 */
#define JFA_PARAMS_SEQLENS_DEVICE (1u << 1)

/**
 * Largest |scale| accepted (2^16); larger finite scales are refused
 * (JFA_ERROR_INVALID_ARGUMENT) rather than give inf/NaN rows. The CUDA forward keeps each
 * row's running max in float32 and forms the exponents against it: once |scale * q.k|
 * passes about 2^30 the max's rounding (half an ulp, hundreds and more) exceeds exp's
 * range and the row comes out inf or NaN (the SIMT kernel and the sm_90a forward; the
 * sm_80 kernels and the CPU backend stay finite). 2^16 keeps |S| under 2^30 for
 * |q.k| up to 2^14, which covers float16 inputs of ordinary size; larger inputs can
 * still reach it, as they overflow SDPA's float16 math.
 * The backward recomputes P = exp(S - lse) from the saved lse: a float32 lse limits
 * its accuracy once |scale * q.k| exceeds about 2^20 (the CPU backend keeps P <= 1,
 * so its results stay finite).
 */
#define JFA_SCALE_MAX 65536.0

/** Opaque execution context: device, CUDA stream, flags and cached workspace. */
typedef struct jfa_context jfa_context_t;

/** Context flags (bitwise or). */
enum {
  JFA_FLAG_DETERMINISTIC = 1u << 0, /**< bitwise reproducible results (no float atomics in the backward) */
  JFA_FLAG_ALLOW_TF32 = 1u << 1     /**< float32 matmuls in one TF32 product on CUDA tensor cores (10-bit
                                         mantissas, about 1e-3 relative error, as torch's "high" float32
                                         matmul precision). Without it float32 calls on the tensor-core
                                         kernels use 3xTF32 (each operand split into a TF32 high part and
                                         remainder, three products: float32 accuracy). Calls that run on
                                         the CUDA-core kernel, and the CPU backend, ignore it. */
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

/** Returns a static name for a dtype ("float64", "float32", "float16", "bfloat16", "bool"; "unknown" otherwise). */
JFA_API const char *jfa_dtype_name(jfa_dtype_t dtype);

/* ------------------------------------------------------------------------- */
/* Tensors                                                                    */

/**
 * Describes a contiguous tensor in (batch, heads, seq, dim) order, the layout
 * of torch.Tensor of shape [B, H, S, D]. Strides are checked products: when a
 * size is negative or batch * heads * seq * dim overflows int64, the strides are
 * set to 0, the last error says why, and every call refuses the view (its shape
 * is too large or invalid). Never undefined behaviour.
 */
JFA_API jfa_tensor_t jfa_tensor_bhsd(void *data, jfa_dtype_t dtype, jfa_device_t device,
                             int64_t batch, int64_t heads, int64_t seq, int64_t dim);

/**
 * Describes a contiguous tensor stored in (batch, seq, heads, dim) order, the
 * layout of FlashAttention's [B, S, H, D], viewed with jfa's axis order. Checked
 * like jfa_tensor_bhsd.
 */
JFA_API jfa_tensor_t jfa_tensor_bshd(void *data, jfa_dtype_t dtype, jfa_device_t device,
                             int64_t batch, int64_t seq, int64_t heads, int64_t dim);

/**
 * Number of elements of a tensor's shape (a checked product). Returns -1, and
 * sets the last error, when a shape entry is negative or the product overflows
 * int64 (e.g. (2^40, 2^40, 2, 2)); 0 when t is NULL or an entry is 0.
 */
JFA_API int64_t jfa_tensor_numel(const jfa_tensor_t *t);

/**
 * Converts n contiguous values in host memory from one dtype to another (any
 * pair; float16 and bfloat16 round to nearest even, overflow goes to +-inf, NaN
 * stays NaN). For preparing GPU inputs from host data and reading results back.
 * src and dst must not overlap (in place only when src == dst and the dtypes are
 * equal). Returns JFA_ERROR_INVALID_ARGUMENT for NULL pointers (n > 0), an
 * unknown dtype, overlapping buffers or n above 2^52 (jfa's element limit), and writes nothing then.
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

/** Destroys a context and frees its workspace (and the buffers CUDA graphs captured that are not freed yet: replay no
 *  graph that captured this context's calls after it). NULL is accepted. */
JFA_API jfa_status_t jfa_context_destroy(jfa_context_t *ctx);

/**
 * Sets the CUDA stream (a cudaStream_t) for later calls; NULL is the default stream.
 *
 * Streams, graphs and threads. A context keeps one device workspace (the backward's delta and dQ accumulator, a
 * mask's offsets and block map). A call that uses it first waits, on the device, for the work of the previous such
 * call, whatever its stream: calls of one context on several streams are correct, and serialised where they share
 * the workspace (a context per stream runs them concurrently). A call captured in a CUDA graph keeps its buffer for
 * the graph: the next call outside a capture takes a new one, so replays and later eager calls never share it. The
 * graph's buffer lives as long as the graphs that captured it (a CUDA user object they hold): once they and their
 * executables are destroyed and their launches done, the context frees it where it allocates or synchronises anyway
 * (its next call that takes a new workspace, as the first call after each capture does; jfa_context_synchronize;
 * jfa_context_destroy), never in other calls (cudaFree synchronises the device). A capture does not wait for the
 * context's earlier calls (synchronise before capturing, as torch.cuda.graph does), and graphs captured with no eager call between them
 * share one buffer (replay those one after the other, and switch streams within a capture only between calls that
 * may share it). The workspace cannot grow during a capture (run the call once before capturing); packed sequences,
 * whose host offsets are copied per call, are refused there. A CUDA context may be used from any thread, by one
 * thread at a time (CPU contexts also concurrently).
 */
JFA_API jfa_status_t jfa_context_set_stream(jfa_context_t *ctx, void *cuda_stream);

/** Returns the context's CUDA stream (NULL for the default stream or a CPU context). */
JFA_API jfa_status_t jfa_context_get_stream(const jfa_context_t *ctx, void **cuda_stream);

/** Sets the flags (JFA_FLAG_*). */
JFA_API jfa_status_t jfa_context_set_flags(jfa_context_t *ctx, unsigned flags);

/** Returns the context's device. */
JFA_API jfa_status_t jfa_context_get_device(const jfa_context_t *ctx, jfa_device_t *device, int *device_index);

/** The most CPU threads jfa_context_set_num_threads takes (beyond machines' hardware threads; OpenMP's runtime
 *  fails on counts far above it). */
#define JFA_MAX_THREADS 4096

/**
 * Sets how many CPU threads the CPU backend uses (0: the OpenMP default; at most JFA_MAX_THREADS, else
 * JFA_ERROR_INVALID_ARGUMENT). Ignored by CUDA contexts. Where the system cannot create the threads, the OpenMP
 * runtime (not jfa) reports it, and GNU libgomp then ends the process: set counts the machine can run.
 */
JFA_API jfa_status_t jfa_context_set_num_threads(jfa_context_t *ctx, int num_threads);

/** Waits until all work queued by this context's calls has finished (CUDA: on its stream), and frees the workspace
 *  buffers of CUDA graphs destroyed since (jfa_context_set_stream says when they are freed). */
JFA_API jfa_status_t jfa_context_synchronize(jfa_context_t *ctx);

/**
 * Returns whether CUDA is compiled in and a GPU is present (1) or not (0).
 * Never fails; *count receives the number of visible GPUs when count != NULL.
 */
JFA_API int jfa_cuda_available(int *count);

/* ------------------------------------------------------------------------- */
/* Attention                                                                  */

/**
 * Fills `size` bytes of params with layout `version` of jfa_attention_params_t:
 * its tag and size, and the defaults (scale 0 = 1/sqrt(D), no mask, positions 0,
 * no dense mask, unbounded windows, no packed sequences, flags 0). Returns
 * JFA_ERROR_ABI_MISMATCH, writing nothing, when version is not one this library
 * knows or size is not that version's size; JFA_ERROR_INVALID_ARGUMENT for NULL.
 * Call it through jfa_attention_params_init(&params).
 */
JFA_API jfa_status_t jfa_attention_params_init_versioned(jfa_attention_params_t *params, uint64_t size,
                                                         uint32_t version);

/** Initialises a jfa_attention_params_t of this header (see jfa_attention_params_init_versioned).
 *  (The library also exports a function of this name: jfa 0.1's, for binaries built against 0.1.) */
#define jfa_attention_params_init(params) \
  jfa_attention_params_init_versioned((params), sizeof(jfa_attention_params_t), JFA_ATTENTION_PARAMS_VERSION)

/**
 * The block map of a dense mask, built once for many calls (jfa 0.5).
 *
 * A CUDA call with params->attn_mask first reads the whole mask to build its block map (which
 * tiles of 64 x 64 are empty, full or partial; a boolean mask also bit-packed): a pass over
 * B x H x Nq x Nk elements, 1 GiB for a (4, 16, 4096, 4096) boolean mask (0.3-0.5 ms on an H200,
 * against ~1.3 ms for that call's forward kernel). Calls that share a mask (a forward and its
 * backward; the layers of a model) can build it once:
 *   - jfa_attention_mask_map_bytes gives the map's size for attn_mask (0 where no map is used:
 *     a CPU context, a mask with no rows or no keys);
 *   - jfa_attention_mask_map_build writes it into `map` (device memory of the context's GPU,
 *     256-byte aligned, `bytes` from jfa_attention_mask_map_bytes), asynchronously in the
 *     context's stream;
 *   - a call given it (params->mask_map, params->mask_map_bytes) skips its own build.
 * The map describes the mask's contents when it was built: a call must pass the same
 * attn_mask view (data pointer, shape, strides, dtype) as the build, unchanged since (rebuild
 * after writing to the mask). The library checks only the size (JFA_ERROR_INVALID_ARGUMENT:
 * mask_map without attn_mask, a size other than jfa_attention_mask_map_bytes, a misaligned or
 * host pointer, a map overlapping an output); another mask of the same geometry, or a mask
 * changed since, gives unspecified results (no access outside the call's tensors and map).
 * On a CPU context a map has 0 bytes and is not read. The ring does not take dense masks. A
 * CUDA call of more than 65535 batch entries with a per-batch mask builds its own maps (one
 * per chunk of the batch), after checking the given one as any call does.
 */
/** Bytes of the block map of attn_mask (4-d, (B or 1, H or 1, Nq, Nk), bool, float32, float16 or
 *  bfloat16 on CUDA, on the context's device) into *bytes; 0 on a CPU context, whose masks are bool,
 *  float32 or float64 (float16 / bfloat16 masks: JFA_ERROR_UNSUPPORTED here; its attention calls refuse them
 *  with JFA_ERROR_INVALID_ARGUMENT, naming the mask dtypes a CPU call takes). */
JFA_API jfa_status_t jfa_attention_mask_map_bytes(jfa_context_t *ctx, const jfa_tensor_t *attn_mask, uint64_t *bytes);

/** Builds attn_mask's block map into map (bytes: jfa_attention_mask_map_bytes), in the context's
 *  stream (asynchronous on CUDA); nothing to do on a CPU context (bytes 0). Refused, writing
 *  nothing, for a size other than jfa_attention_mask_map_bytes, map NULL with bytes > 0, map not
 *  256-byte aligned or not device memory of the context's GPU, or map overlapping attn_mask. */
JFA_API jfa_status_t jfa_attention_mask_map_build(jfa_context_t *ctx, const jfa_tensor_t *attn_mask, void *map,
                                                  uint64_t bytes);

/**
 * Forward attention.
 *   q (B, Hq, Nq, D), k and v (B, Hkv, Nk, D), Hq a multiple of Hkv; on CUDA D <= 256
 *   (JFA_ERROR_UNSUPPORTED above; the CPU takes any D).
 *   o (B, Hq, Nq, D), same dtype and device as q.
 *   lse (B, Hq, Nq, 1), float32 (float64 also allowed on the CPU), or NULL.
 * params may be NULL (defaults). Calls on CUDA are asynchronous on the context's stream.
 *
 * Outputs (here and in every call) may have any strides, padded or permuted or
 * interleaved (e.g. strides (87, 42, 1, 13) over shape (2, 2, 3, 5)), as long as no
 * two of their elements share an address. Different tensors of a call occupy disjoint
 * byte ranges (from the lowest to the highest byte each spans): an output whose range
 * meets an input's or another output's is refused, even where no element is shared
 * (dq, dk, dv interleaved in one packed (B, S, 3, H, D) buffer, say); so are packed-
 * sequence offsets stored inside an output. jfa decides this exactly when the
 * product of (2 n - 1) over the extents n > 1 other than the two largest is at
 * most 2^18 (so for every view of fewer than 2^32 elements). Beyond that a view
 * is accepted only if its strides, sorted ascending, each exceed the span
 * (sum of stride * (extent - 1)) of the smaller ones, as dense and padded
 * layouts and their permutations do.
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
 * with the same params (masks, windows and packed sequences included). With GQA, dk and dv sum over the query heads of a group.
 * P is recomputed as exp(S - lse): where a row's visible scores all sit beyond about 1e15 in
 * magnitude (double) or 1e7 (a float32 lse), e.g. every visible key masked by a -1e30 bias
 * instead of -inf, lse no longer resolves log(sum exp) and that row's gradients are inexact
 * (its forward stays exact). Not on the CPU: its single-device backward recomputes such rows'
 * statistics from their scores (see attn_mask), so their gradients are those of its forward.
 */
JFA_API jfa_status_t jfa_attention_backward(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                    const jfa_tensor_t *q, const jfa_tensor_t *k,
                                    const jfa_tensor_t *v, const jfa_tensor_t *o,
                                    const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                    const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                                    const jfa_tensor_t *dv);

/**
 * Backward-JVP (second order): the tangent of jfa_attention_backward along the
 * tangents qd, kd, vd (of q, k, v) and doutd (of dout). With Pd = P * (Sd - mu),
 * dP = dO V^T, Delta = rowsum(dO * O), dS = P * (dP - Delta),
 * dPd = dOd V^T + dO Vd^T, Deltad = rowsum(dOd * O + dO * Od),
 * dSd = Pd * (dP - Delta) + P * (dPd - Deltad):
 *   dqd = s (dSd K + dS Kd), dkd = s (dSd^T Q + dS^T Qd), dvd = Pd^T dO + P^T dOd
 * (dkd, dvd summed over a GQA group). o, lse, od and mu are those of
 * jfa_attention_forward_jvp for the same q, k, v, qd, kd, vd and params (masks,
 * windows, packed sequences). dqd, dkd, dvd have the shapes and dtype of q, k, v;
 * dq, dk, dv may each be NULL, else they receive the first-order gradients of
 * jfa_attention_backward. A Hessian-vector product of a loss l(O) is this call with
 * doutd = (d^2 l / dO^2) od; for l linear in O (doutd = 0) it is the Hessian of
 * <dout, O> times (qd, kd, vd). Fully masked rows contribute nothing.
 */
JFA_API jfa_status_t jfa_attention_backward_jvp(jfa_context_t *ctx, const jfa_attention_params_t *params,
                                        const jfa_tensor_t *q, const jfa_tensor_t *k,
                                        const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                        const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                        const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                        const jfa_tensor_t *od, const jfa_tensor_t *mu,
                                        const jfa_tensor_t *dout, const jfa_tensor_t *doutd,
                                        const jfa_tensor_t *dqd, const jfa_tensor_t *dkd,
                                        const jfa_tensor_t *dvd, const jfa_tensor_t *dq,
                                        const jfa_tensor_t *dk, const jfa_tensor_t *dv);

/**
 * Merges a partial result (computed over a subset of the keys) into running
 * accumulators, exactly:
 *   lse = logaddexp(lse_acc, lse_part), w_a = exp(lse_acc - lse), w_p = exp(lse_part - lse),
 *   o = w_a o_acc + w_p o_part, mu = w_a mu_acc + w_p mu_part,
 *   od = w_a (od_acc + (mu_acc - mu) o_acc) + w_p (od_part + (mu_part - mu) o_part).
 * Rows with lse = -inf on both sides stay (0, -inf, 0, 0). The accumulators are
 * float32 (float64 allowed on the CPU); o_part may be of any dtype the device
 * supports, od_part of o_part's dtype, lse_part and mu_part float32 (float64 allowed
 * on the CPU). od_* and mu_* may all be NULL (forward only). Shapes as in the forward.
 * A float32 lse_acc merging a float64 lse_part into a value beyond float32's range
 * (which it would store as +-inf beside a finite o, read later as an empty row) is
 * JFA_ERROR_INVALID_ARGUMENT, with nothing written: give lse_acc float64 then.
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
