/*
 * jfa_ring.h - public C API of jfa's ring (sequence-parallel) attention: exact
 * forward, JVP and backward with the sequence split across P ranks (MPI
 * processes, NCCL ranks). Each rank holds N/P query rows and N/P key/value rows;
 * K and V (and their tangents) travel around the ring, and each rank merges the
 * partial attention of every block exactly (log-sum-exp), so the result equals
 * single-device attention over the whole sequence.
 *
 * Valid C89 to C17, includable from C++ (as jfa.h). Needs neither mpi.h nor nccl.h: communicators
 * are passed as pointers (const void *mpi_comm points to an MPI_Comm; void
 * *nccl_comm is an ncclComm_t). Every call returns a jfa_status_t; the message of
 * a failure is in jfa_get_last_error().
 *
 * Typical use (one rank):
 *   jfa_comm_t *comm;  jfa_comm_create_mpi(&comm, &mpi_comm_world);
 *   jfa_ring_config_t cfg;  jfa_ring_config_init(&cfg);  cfg.batch = ...;
 *   jfa_ring_t *ring;  jfa_ring_create(&ring, ctx, comm, &cfg);
 *   jfa_ring_forward(ring, &q, &k, &v, &o, &lse);     (local shards, N/P rows)
 *   jfa_ring_destroy(ring);  jfa_comm_destroy(comm);
 */
#ifndef JFA_RING_H_
#define JFA_RING_H_

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------- */
/* Communicators                                                              */

/** Opaque communicator: who the ring neighbours are and how bytes move between them. */
typedef struct jfa_comm jfa_comm_t;

/** A communicator of one rank (no communication; the ring equals single-device attention). */
JFA_API jfa_status_t jfa_comm_create_single(jfa_comm_t **comm);

/**
 * A communicator over an MPI communicator (mpi_comm points to an MPI_Comm; the
 * communicator is duplicated, so the caller may free its own). Host tensors are
 * sent directly. CUDA tensors are sent directly when the MPI library is
 * CUDA-aware and JFA_MPI_CUDA_AWARE=1 is set in the environment; otherwise they
 * are staged through pinned host memory (which also lets several processes
 * share one GPU). Returns JFA_ERROR_UNSUPPORTED when jfa was built without MPI.
 * MPI must be initialised (MPI_THREAD_SINGLE is enough when one thread calls jfa).
 */
JFA_API jfa_status_t jfa_comm_create_mpi(jfa_comm_t **comm, const void *mpi_comm);

/**
 * A communicator over a caller's NCCL communicator (nccl_comm is an ncclComm_t,
 * not owned: the caller destroys it after jfa_comm_destroy). CUDA tensors only.
 * Transfers run on a communication stream of the GPU device_index, ordered
 * against the context's stream by CUDA events.
 * Returns JFA_ERROR_UNSUPPORTED when jfa was built without NCCL.
 */
JFA_API jfa_status_t jfa_comm_create_nccl(jfa_comm_t **comm, void *nccl_comm, int device_index);

/**
 * Creates an NCCL communicator over the ranks of an MPI communicator (mpi_comm
 * points to an MPI_Comm): the unique id is broadcast with MPI, and the GPU is
 * chosen by the local rank on the node (MPI_Comm_split_type(MPI_COMM_TYPE_SHARED))
 * modulo the number of visible GPUs. *device_index receives that GPU (create the
 * jfa context on it). The NCCL communicator is owned and destroyed by jfa_comm_destroy.
 * Needs both MPI and NCCL in the build, else JFA_ERROR_UNSUPPORTED.
 */
JFA_API jfa_status_t jfa_comm_create_nccl_from_mpi(jfa_comm_t **comm, const void *mpi_comm,
                                           int *device_index);

/** Bytes of an NCCL unique id (NCCL_UNIQUE_ID_BYTES). */
#define JFA_NCCL_UNIQUE_ID_BYTES 128

/**
 * Writes a new NCCL unique id (ncclGetUniqueId) into id (bytes must be
 * JFA_NCCL_UNIQUE_ID_BYTES). One rank makes it and sends it to the others by any
 * means (MPI, torch.distributed, a file), then every rank calls
 * jfa_comm_create_nccl_from_id. Returns JFA_ERROR_UNSUPPORTED without NCCL.
 */
JFA_API jfa_status_t jfa_comm_nccl_unique_id(void *id, size_t bytes);

/**
 * Creates an NCCL communicator of `size` ranks from a unique id made by
 * jfa_comm_nccl_unique_id: collective (ncclCommInitRank) over the ranks that
 * pass the same id, this one being `rank`, on GPU device_index. The NCCL
 * communicator is owned and destroyed by jfa_comm_destroy. Returns
 * JFA_ERROR_UNSUPPORTED without NCCL.
 */
JFA_API jfa_status_t jfa_comm_create_nccl_from_id(jfa_comm_t **comm, const void *id, size_t bytes,
                                                  int rank, int size, int device_index);

/**
 * Transport of a communicator implemented by the caller (for example over
 * torch.distributed): the ring calls these from the thread that called jfa.
 * Each returns 0 on success; any other value fails the jfa call with
 * JFA_ERROR_INTERNAL ("communicator callback failed"). Buffers are on the
 * context's device. On CUDA, jfa has synchronised the context's stream before
 * exchange_start (the send buffers are complete); the received bytes must be in
 * place, for work queued afterwards on the context's stream, when exchange_wait
 * returns (copies queued on that stream satisfy this).
 */
typedef struct {
  uint64_t struct_tag;  /**< JFA_STRUCT_TAG(JFA_STRUCT_COMM_CALLBACKS, version): set by the init */
  uint64_t struct_size; /**< sizeof(jfa_comm_callbacks_t) of the caller's header: set by the init */
  void *user; /**< passed back to every callback */
  /** Starts sending send[i] (bytes[i] bytes, i < nbufs) to rank (rank + 1) % size and
   *  receiving recv[i] from rank (rank - 1 + size) % size. */
  int (*exchange_start)(void *user, int nbufs, const void *const *send, void *const *recv,
                        const size_t *bytes);
  /** Waits for the exchange started last. */
  int (*exchange_wait)(void *user);
  /** Elementwise min and max over all ranks of n int64 values (host memory). */
  int (*allreduce_minmax)(void *user, const int64_t *in, int64_t *min_out, int64_t *max_out, int n);
  /** Returns when every rank has called it. */
  int (*barrier)(void *user);
  /** Called once by jfa_comm_destroy (may be NULL). */
  void (*destroy)(void *user);
} jfa_comm_callbacks_t;

/** Layout version of jfa_comm_callbacks_t in this header (1: jfa 0.3). A struct
 *  without a tag is read as the untagged layout of jfa 0.2 (user .. destroy). */
#define JFA_COMM_CALLBACKS_VERSION 1u

/**
 * Fills `size` bytes of callbacks with layout `version`: tag, size and NULL
 * everywhere else. JFA_ERROR_ABI_MISMATCH (nothing written) for a version or size
 * this library does not know. Call it through jfa_comm_callbacks_init(&cb).
 */
JFA_API jfa_status_t jfa_comm_callbacks_init_versioned(jfa_comm_callbacks_t *callbacks, uint64_t size,
                                                       uint32_t version);

/** Initialises a jfa_comm_callbacks_t of this header (then set user and the callbacks). */
#define jfa_comm_callbacks_init(callbacks) \
  jfa_comm_callbacks_init_versioned((callbacks), sizeof(jfa_comm_callbacks_t), JFA_COMM_CALLBACKS_VERSION)

/**
 * A communicator whose transport is the caller's callbacks (copied; `user` must
 * outlive the communicator). rank and size are this rank's place in the ring.
 * callbacks must come from jfa_comm_callbacks_init (see the versioned structs in jfa.h).
 */
JFA_API jfa_status_t jfa_comm_create_callbacks(jfa_comm_t **comm, const jfa_comm_callbacks_t *callbacks,
                                               int rank, int size);

/** This rank's index in the communicator (0 .. size-1). */
JFA_API jfa_status_t jfa_comm_rank(const jfa_comm_t *comm, int *rank);

/** Number of ranks in the communicator. */
JFA_API jfa_status_t jfa_comm_size(const jfa_comm_t *comm, int *size);

/** Blocks until every rank of the communicator has called it. */
JFA_API jfa_status_t jfa_comm_barrier(jfa_comm_t *comm);

/**
 * Sets how long, in seconds, any wait of this communicator may take (a ring
 * exchange, the setup checks' allreduce, a barrier, the end-of-call
 * synchronisation on NCCL) before the call returns an error (JFA_ERROR_MPI,
 * JFA_ERROR_NCCL): a rank that failed, stopped or exited then makes every other
 * rank return within about this time instead of hanging. 0 or negative (or
 * infinity) waits forever; NaN is rejected (JFA_ERROR_INVALID_ARGUMENT). The
 * default is JFA_COMM_TIMEOUT from the environment (seconds, read when the
 * communicator is created; a value that is not a number fails the creation with
 * JFA_ERROR_INVALID_ARGUMENT), else 300 seconds. The MPI and NCCL communicators
 * bound their waits by it; a callbacks communicator's waits are its callbacks' own
 * (jfa_comm_create_callbacks: jfa cannot bound them). A timeout or any other failure of
 * a communicator operation marks it failed: every later call on it returns an
 * error at once ("communicator failed earlier: ...; destroy it"), and
 * jfa_ring_destroy / jfa_comm_destroy still return without waiting on the other
 * ranks. A ring call that fails on one rank after its ranks agreed to run it (a
 * kernel's failure, out of memory inside the call) marks that rank's comm failed
 * too: its peers still expect its exchanges (even when every rank failed at the
 * same step: no rank can tell); recreate the comm and the ring. jfa_ring_destroy
 * with a failed comm leaves the ring's buffers allocated (transfers that never
 * completed may still use them); abort a caller-owned NCCL comm (ncclCommAbort) before
 * jfa_context_destroy, whose cudaFree would wait for its stuck kernels. After such
 * a failure an MPI program should end with MPI_Abort (see launch/README.md). Set
 * the same timeout on every rank, longer than the slowest rank's compute between two exchanges and than the time by which one
 * rank may reach a collective call (jfa_ring_create, a ring call, a barrier)
 * after the others (e.g. while one rank writes a checkpoint).
 */
JFA_API jfa_status_t jfa_comm_set_timeout(jfa_comm_t *comm, double seconds);

/** The communicator's timeout in seconds (0: wait forever); see jfa_comm_set_timeout. */
JFA_API jfa_status_t jfa_comm_get_timeout(const jfa_comm_t *comm, double *seconds);

/** Destroys a communicator and what it owns. NULL is accepted. */
JFA_API jfa_status_t jfa_comm_destroy(jfa_comm_t *comm);

/* ------------------------------------------------------------------------- */
/* Sequence layouts                                                           */

/** How the global sequence is split across the P ranks. */
typedef enum {
  /** Rank r holds rows [r N/P, (r+1) N/P). */
  JFA_LAYOUT_CONTIGUOUS = 0,
  /** 2P chunks of N/(2P) rows; rank r holds chunks r and 2P-1-r (balances causal work). */
  JFA_LAYOUT_ZIGZAG = 1
} jfa_layout_t;

/**
 * Global position of the first row of local chunk `chunk` of `rank`: for
 * CONTIGUOUS one chunk of N/P rows, for ZIGZAG two chunks of N/(2P) rows.
 * Returns JFA_ERROR_INVALID_ARGUMENT when N does not divide by P (2P for zigzag).
 */
JFA_API jfa_status_t jfa_layout_chunk(jfa_layout_t layout, int64_t seq_global, int rank, int size,
                              int chunk, int64_t *position, int64_t *rows);

/**
 * Copies this rank's rows of a full-sequence tensor (shape (B, H, N, D)) into
 * its local tensor (shape (B, H, N/P, D)), converting dtypes if they differ.
 * Both tensors must be on the context's device.
 */
JFA_API jfa_status_t jfa_layout_shard(jfa_context_t *ctx, jfa_layout_t layout, int rank, int size,
                              const jfa_tensor_t *full, const jfa_tensor_t *local);

/**
 * The reverse of jfa_layout_shard: writes a rank's local tensor into its rows
 * of a full-sequence tensor, leaving the other rows untouched. Calling it for
 * every rank's local tensor (e.g. after an MPI gather) rebuilds the full tensor.
 */
JFA_API jfa_status_t jfa_layout_unshard(jfa_context_t *ctx, jfa_layout_t layout, int rank, int size,
                                const jfa_tensor_t *local, const jfa_tensor_t *full);

/* ------------------------------------------------------------------------- */
/* Ring attention                                                             */

/** Opaque ring: a configuration, a context, a communicator and O(N/P) buffers. */
typedef struct jfa_ring jfa_ring_t;

/**
 * What a ring computes. Initialise with jfa_ring_config_init(). Must agree on every rank.
 *
 * Masks: causal (mask), sliding windows and packed sequences, all over the GLOBAL
 * sequence, combine as in jfa.h (a key is visible when every mask lets it
 * through). Windows use global positions: key j is visible to query i only if
 * -window_left <= j - i <= window_right (inside a packed sequence the positions
 * are relative to the sequence, which gives the same difference). Packed
 * sequences (cu_seqlens, num_seqs): the global sequence holds num_seqs sequences
 * back to back, sequence s being rows [cu_seqlens[s], cu_seqlens[s+1]) for
 * queries and keys alike; a query attends only to keys of its own sequence.
 * Dense masks (jfa_attention_params_t.attn_mask) are not supported by the ring.
 * Blocks that no query of a rank can see (causal, window or sequence bounds) are
 * skipped, so windows and short sequences cost less than full attention.
 */
typedef struct {
  uint64_t struct_tag;  /**< JFA_STRUCT_TAG(JFA_STRUCT_RING_CONFIG, version): set by the init */
  uint64_t struct_size; /**< sizeof(jfa_ring_config_t) of the caller's header: set by the init */
  int64_t batch;      /**< B */
  int64_t heads_q;    /**< Hq, a multiple of heads_kv (GQA) */
  int64_t heads_kv;   /**< Hkv */
  int64_t seq_global; /**< N, the whole sequence; divisible by P (2P for zigzag) */
  int64_t head_dim;   /**< D */
  jfa_dtype_t dtype;  /**< dtype of q, k, v, o and the tangents and gradients */
  jfa_layout_t layout;
  jfa_mask_t mask;    /**< JFA_MASK_NONE or JFA_MASK_CAUSAL_TOP_LEFT (global positions; Nq == Nk, so
                           JFA_MASK_CAUSAL_BOTTOM_RIGHT is accepted as the same mask, and
                           JFA_MASK_BOTTOM_RIGHT as JFA_MASK_NONE) */
  double scale;       /**< softmax scale; 0 means 1/sqrt(D) unless flags has JFA_PARAMS_SCALE_AS_GIVEN;
                           finite, |scale| <= JFA_SCALE_MAX, may be negative */
  int64_t window_left;  /**< sliding window: keys at most this far before the query (global
                             positions), or JFA_WINDOW_UNBOUNDED (-1, the default) */
  int64_t window_right; /**< keys at most this far after the query, or JFA_WINDOW_UNBOUNDED */
  const int64_t *cu_seqlens; /**< packed sequences (batch 1): num_seqs + 1 host int64 offsets over
                                  the global sequence (0 .. seq_global, non-decreasing), the same
                                  for queries and keys; copied by jfa_ring_create. NULL: none */
  int64_t num_seqs;          /**< number of packed sequences (0 when cu_seqlens is NULL; at most seq_global + 1) */
  uint32_t flags;            /**< JFA_PARAMS_* bits of jfa.h (JFA_PARAMS_SCALE_AS_GIVEN; JFA_PARAMS_SEQLENS_DEVICE
                                  is refused: JFA_ERROR_UNSUPPORTED); 0 by default */
} jfa_ring_config_t;

/** Layout version of jfa_ring_config_t in this header (1: jfa 0.3, the fields of 0.2 and flags). */
#define JFA_RING_CONFIG_VERSION 1u

/**
 * Fills `size` bytes of config with layout `version`: tag, size and the defaults
 * (zeros, float32, contiguous, no mask, scale 0, unbounded windows, no packed
 * sequences, flags 0). JFA_ERROR_ABI_MISMATCH (nothing written) for a version or
 * size this library does not know. Call it through jfa_ring_config_init(&config).
 */
JFA_API jfa_status_t jfa_ring_config_init_versioned(jfa_ring_config_t *config, uint64_t size, uint32_t version);

/** Initialises a jfa_ring_config_t of this header (see jfa_ring_config_init_versioned).
 *  (The library also exports a function of this name: jfa 0.1's, for binaries built against 0.1.) */
#define jfa_ring_config_init(config) \
  jfa_ring_config_init_versioned((config), sizeof(jfa_ring_config_t), JFA_RING_CONFIG_VERSION)

/**
 * Creates a ring. Collective: every rank of comm must call it with the same
 * config; a config that differs across ranks (or is invalid, or comes with a NULL
 * ring or ctx, on any rank) makes every rank return an error (never a hang; a NULL
 * comm cannot be told to the other ranks). The comparison covers every field,
 * the windows, and num_seqs with a checksum of the cu_seqlens values. Buffers are allocated later, on the
 * context's device, by the calls (see jfa_ring_memory_bytes). ctx and comm must
 * outlive the ring.
 *
 * A ring and its comm serve one call at a time: issue ring calls from one thread,
 * in the same order on every rank (calls of two threads on one ring fail as calls
 * that differ across ranks, and leave the comm failed). A NCCL comm runs beside
 * the application's own NCCL communicators: as NCCL asks of concurrent
 * communicators, issue ring calls and the application's collectives in the same
 * order on every rank (or in separate phases), else they may deadlock.
 */
JFA_API jfa_status_t jfa_ring_create(jfa_ring_t **ring, jfa_context_t *ctx, jfa_comm_t *comm,
                             const jfa_ring_config_t *config);

/** Destroys a ring and frees its buffers. NULL is accepted. */
JFA_API jfa_status_t jfa_ring_destroy(jfa_ring_t *ring);

/**
 * Replaces the packed-sequence offsets of a ring created with packed sequences
 * (config.cu_seqlens): num_seqs + 1 host int64 values over the global sequence,
 * checked as the config's (non-decreasing from 0 to seq_global, batch 1; copied, so
 * the array need not outlive the call). The ring's later calls use them, backward
 * ones included: set a forward's offsets again before its backward if another
 * packing ran in between. Keeps the ring's buffers (their size does not depend on
 * the offsets): one ring serves batches packed differently, without a new ring and
 * its buffers each. Collective: every rank calls it with the same offsets, in the
 * same place among its ring calls; offsets that differ across ranks (by num_seqs
 * or a checksum of the values), or are invalid on any rank, make every rank return
 * an error and keep its offsets. JFA_ERROR_UNSUPPORTED for a ring created without
 * packed sequences (jfa 0.4).
 */
JFA_API jfa_status_t jfa_ring_set_seqlens(jfa_ring_t *ring, const int64_t *cu_seqlens, int64_t num_seqs);

/**
 * Ring forward. Collective. Tensors are this rank's shards (N/P rows, see
 * jfa_layout_shard), shapes and dtypes as in jfa_attention_forward with
 * Nq = Nk = N/P: q (B, Hq, N/P, D), k and v (B, Hkv, N/P, D), o like q,
 * lse (B, Hq, N/P, 1) float32 (float64 also on the CPU) or NULL.
 * Invalid arguments on any rank make every rank return an error (but a NULL ring:
 * that rank returns alone, as it has no communicator to tell the others).
 * On return the results are complete (the context's stream is synchronised).
 */
JFA_API jfa_status_t jfa_ring_forward(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                              const jfa_tensor_t *v, const jfa_tensor_t *o,
                              const jfa_tensor_t *lse);

/**
 * Ring forward with JVP: as jfa_attention_forward_jvp on local shards (qd, kd,
 * vd like q, k, v; od like o; mu like lse; lse and mu may be NULL). Collective.
 */
JFA_API jfa_status_t jfa_ring_forward_jvp(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                  const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                  const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                  const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                  const jfa_tensor_t *od, const jfa_tensor_t *mu);

/**
 * Ring backward: as jfa_attention_backward on local shards, with the o and lse
 * of the ring forward (lse is required). dq, dk and dv receive this rank's rows
 * of the full-sequence gradients. Collective.
 * A float32 lse that cannot carry its rows to the backward's precision (|lse| >= 1024,
 * where its rounding is up to 6e-5 of every P of the row, or +-inf where the float64
 * forward's lse lay beyond float32's range) is, on a CPU ring, replaced by a float64 lse
 * from the ring forward run again when any rank has such a row (one more ring forward
 * in those calls, and a scratch o shard): the gradients are then as accurate as with a
 * float64 lse. At P = 1 the ring's backward is the single-device call, which recomputes
 * such rows from their own scores instead (its rows below 1024 keep the float32 lse's
 * rounding, up to ~3e-5 of P, where a rerun at P >= 2 makes every row float64's).
 * CUDA rings read the given float32 lse, as the single-device GPU
 * backwards do (include/jfa.h). Rows whose float64 lse cannot carry them either
 * (|lse| beyond ~1e13 with scores tied within its rounding) are not recomputed from
 * their scores as the single-device CPU backward does.
 * A row whose visible keys all score -inf (infinite keys, not a mask) gives O = 0 and
 * lse = -inf in the ring (its forward treats each rank's block as a partial: a block of
 * such keys adds nothing), as the CUDA kernels give; a single CPU call gives it NaN. Such
 * a block still passes on the NaN that its keys' tangents or values make (0 x inf): a
 * non-finite Sd or Vd as a NaN Od and mu (the single call: Od, and mu where Sd is), a
 * non-finite V as a NaN row, its lse included (the single call: the affected O entries).
 * Other infinite inputs: the ring's non-finite outputs are where the single call's are,
 * but an infinite one may be NaN in the other (an infinite V's Od: NaN in the ring's
 * merge, (mu_c - mu) x inf, where the single call gives +-inf; a probability that
 * underflows to 0 in the single call times an infinite V or tangent: NaN there, +-inf in
 * the ring, whose block-local P did not underflow).
 */
JFA_API jfa_status_t jfa_ring_backward(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                               const jfa_tensor_t *v, const jfa_tensor_t *o,
                               const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                               const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                               const jfa_tensor_t *dv);

/**
 * Ring backward-JVP (second order): as jfa_attention_backward_jvp on local shards,
 * with the o, lse, od and mu of jfa_ring_forward_jvp (lse and mu are required).
 * dqd, dkd, dvd receive this rank's rows of the full-sequence tangents of the
 * gradients; dq, dk, dv (all three, or all NULL) the gradients themselves. The
 * tangents kd, vd travel beside k, v, and the dK/dV tangents travel home with dK/dV.
 * Collective. Buffers: 4SX + 6aX (4aX at P = 1) + 2 lse shards (delta, deltad), plus
 * a dqd (and dq) accumulator unless dense of the accumulator dtype (units as in
 * jfa_ring_memory_bytes). A float32 lse is replaced as in jfa_ring_backward.
 */
JFA_API jfa_status_t jfa_ring_backward_jvp(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                                   const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                   const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                   const jfa_tensor_t *o, const jfa_tensor_t *lse,
                                   const jfa_tensor_t *od, const jfa_tensor_t *mu,
                                   const jfa_tensor_t *dout, const jfa_tensor_t *doutd,
                                   const jfa_tensor_t *dqd, const jfa_tensor_t *dkd,
                                   const jfa_tensor_t *dvd, const jfa_tensor_t *dq,
                                   const jfa_tensor_t *dk, const jfa_tensor_t *dv);

/**
 * Bytes the ring holds now beyond the caller's inputs and outputs, on the
 * context's device plus pinned host staging of the communicator: O(N/P) per rank.
 * The calls carve their buffers out of one pool, allocated by the first call that
 * needs it, grown to the largest call made so far (a JVP followed by a backward
 * holds the larger of the two, not the sum) and kept until
 * jfa_ring_release_memory or jfa_ring_destroy. In units of one K shard X (B Hkv
 * N/P D elements of config.dtype), with a = accumulator bytes / dtype bytes
 * (accumulators are float32 on CUDA, float64 on the CPU) and S = 0 K/V slots at
 * P = 1, 1 at P = 2 when k, v (kd, vd) are dense, else 2 (double buffer):
 * forward 2SX, JVP 4SX, backward 2SX + 3aX (dK/dV half-block slots; 2aX at
 * P = 1), plus an accumulator for each output (o, od, lse, mu, dq; Hq/Hkv aX for
 * o, od, dq) that is not a dense tensor of the accumulator dtype (such outputs
 * are accumulated into in place), plus the backward's delta (one lse).
 * 0 right after jfa_ring_create, and 0 for one rank, whose calls go straight to
 * the single-device backend (unless JFA_RING_GENERIC=1 is set in the environment
 * when the ring is created: then the backward's delta only; =2: the formula above).
 */
JFA_API jfa_status_t jfa_ring_memory_bytes(const jfa_ring_t *ring, size_t *bytes);

/**
 * Frees the ring's buffers now (e.g. between a training step's ring calls and
 * work that needs the memory); the next call allocates them again. Local (not
 * collective); the communicator's staging is kept. jfa_ring_memory_bytes then
 * reports only that staging. With a failed comm (jfa_comm_set_timeout) the buffers
 * are left allocated instead, as jfa_ring_destroy leaves them, until the process
 * ends: transfers that never completed may still use them.
 */
JFA_API jfa_status_t jfa_ring_release_memory(jfa_ring_t *ring);

#if defined(MPI_VERSION) && !defined(JFA_RING_NO_MPI_WRAPPERS)
/* inline is C99's (and C++'s): a C89 translation unit gets GNU C's __inline__, or a plain static function */
#if defined(__cplusplus) || (defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L)
#define JFA_RING_INLINE_ static inline
#elif defined(__GNUC__)
#define JFA_RING_INLINE_ static __inline__
#else
#define JFA_RING_INLINE_ static
#endif
/** jfa_comm_create_mpi taking the MPI_Comm by value (needs mpi.h included first). */
JFA_RING_INLINE_ jfa_status_t jfa_comm_create_mpi_comm(jfa_comm_t **comm, MPI_Comm mpi_comm) {
  return jfa_comm_create_mpi(comm, &mpi_comm);
}
#undef JFA_RING_INLINE_
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* JFA_RING_H_ */
