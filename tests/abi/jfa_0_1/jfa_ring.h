/*
 * jfa_ring.h - public C API of jfa's ring (sequence-parallel) attention: exact
 * forward, JVP and backward with the sequence split across P ranks (MPI
 * processes, NCCL ranks). Each rank holds N/P query rows and N/P key/value rows;
 * K and V (and their tangents) travel around the ring, and each rank merges the
 * partial attention of every block exactly (log-sum-exp), so the result equals
 * single-device attention over the whole sequence.
 *
 * Valid C11, includable from C++. Needs neither mpi.h nor nccl.h: communicators
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

/** This rank's index in the communicator (0 .. size-1). */
JFA_API jfa_status_t jfa_comm_rank(const jfa_comm_t *comm, int *rank);

/** Number of ranks in the communicator. */
JFA_API jfa_status_t jfa_comm_size(const jfa_comm_t *comm, int *size);

/** Blocks until every rank of the communicator has called it. */
JFA_API jfa_status_t jfa_comm_barrier(jfa_comm_t *comm);

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

/** What a ring computes. Initialise with jfa_ring_config_init(). Must agree on every rank. */
typedef struct {
  int64_t batch;      /**< B */
  int64_t heads_q;    /**< Hq, a multiple of heads_kv (GQA) */
  int64_t heads_kv;   /**< Hkv */
  int64_t seq_global; /**< N, the whole sequence; divisible by P (2P for zigzag) */
  int64_t head_dim;   /**< D */
  jfa_dtype_t dtype;  /**< dtype of q, k, v, o and the tangents and gradients */
  jfa_layout_t layout;
  jfa_mask_t mask;    /**< JFA_MASK_NONE or JFA_MASK_CAUSAL_TOP_LEFT (global positions; Nq == Nk) */
  double scale;       /**< softmax scale; 0 means 1/sqrt(D) */
} jfa_ring_config_t;

/** Fills a config with defaults: zeros, float32, contiguous, no mask, scale 0. */
JFA_API void jfa_ring_config_init(jfa_ring_config_t *config);

/**
 * Creates a ring. Collective: every rank of comm must call it with the same
 * config; a config that differs across ranks (or is invalid on any rank) makes
 * every rank return an error (never a hang). Buffers are allocated later, on the
 * context's device, by the calls (see jfa_ring_memory_bytes). ctx and comm must
 * outlive the ring.
 */
JFA_API jfa_status_t jfa_ring_create(jfa_ring_t **ring, jfa_context_t *ctx, jfa_comm_t *comm,
                             const jfa_ring_config_t *config);

/** Destroys a ring and frees its buffers. NULL is accepted. */
JFA_API jfa_status_t jfa_ring_destroy(jfa_ring_t *ring);

/**
 * Ring forward. Collective. Tensors are this rank's shards (N/P rows, see
 * jfa_layout_shard), shapes and dtypes as in jfa_attention_forward with
 * Nq = Nk = N/P: q (B, Hq, N/P, D), k and v (B, Hkv, N/P, D), o like q,
 * lse (B, Hq, N/P, 1) float32 (float64 also on the CPU) or NULL.
 * Invalid arguments on any rank make every rank return an error.
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
 */
JFA_API jfa_status_t jfa_ring_backward(jfa_ring_t *ring, const jfa_tensor_t *q, const jfa_tensor_t *k,
                               const jfa_tensor_t *v, const jfa_tensor_t *o,
                               const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                               const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                               const jfa_tensor_t *dv);

/**
 * Bytes the ring holds now beyond the caller's inputs and outputs, on the
 * context's device plus pinned host staging of the communicator: O(N/P) per rank.
 * Buffers are allocated by the first call that needs them and kept: two K/V
 * blocks for double buffering (K/V/Kd/Vd once a JVP ran; none at P = 1), float
 * accumulators (o, lse; od, mu for the JVP; reused by the backward) and two
 * float dK/dV blocks once a backward ran. 0 right after jfa_ring_create, and
 * 0 for one rank, whose calls go straight to the single-device backend (unless
 * JFA_RING_GENERIC=1 is set in the environment when the ring is created).
 */
JFA_API jfa_status_t jfa_ring_memory_bytes(const jfa_ring_t *ring, size_t *bytes);

#if defined(MPI_VERSION) && !defined(JFA_RING_NO_MPI_WRAPPERS)
/** jfa_comm_create_mpi taking the MPI_Comm by value (needs mpi.h included first). */
static inline jfa_status_t jfa_comm_create_mpi_comm(jfa_comm_t **comm, MPI_Comm mpi_comm) {
  return jfa_comm_create_mpi(comm, &mpi_comm);
}
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* JFA_RING_H_ */
