/*
 * ring_internal.h - private state of a jfa_ring_t shared by the files of
 * src/ring (lifecycle and checks in ring.c, forward/JVP in ring_forward.c,
 * backward in ring_backward.c, buffers in ring_mem.c).
 */
#ifndef JFA_RING_RING_INTERNAL_H_
#define JFA_RING_RING_INTERNAL_H_

#include <stddef.h>
#include <stdint.h>

#include "comm/comm.h"
#include "core/backend.h"
#include "jfa_ring.h"

/* One (query chunk, key chunk) pair of a ring step: local row offsets and global positions. */
typedef struct {
  int64_t q_row0, k_row0; /* first local row of the chunks */
  int64_t q_pos0, k_pos0; /* their global positions */
  int64_t q_rows, k_rows; /* rows of each chunk */
} jfa_ring_pair_t;

struct jfa_ring {
  jfa_context_t *ctx;
  jfa_comm_t *comm;
  jfa_ring_config_t cfg;
  int rank, size;
  int64_t n_local;   /* N / P */
  int nchunks;       /* 1 (contiguous) or 2 (zigzag) */
  int64_t chunk;     /* rows per chunk */
  double scale;      /* resolved */
  int causal;
  int windowed;      /* a window side is bounded */
  int64_t win_left, win_right; /* resolved windows (-1 = unbounded side) */
  int64_t nseq;      /* packed sequences over the global sequence (0: none) */
  int64_t *cu;       /* their nseq + 1 offsets (owned copy of cfg.cu_seqlens), or NULL */
  jfa_dtype_t acc;   /* accumulator dtype of the device */
  size_t esz, asz;   /* bytes per element: cfg.dtype, acc */
  int64_t kv_elems;  /* B * Hkv * n_local * D */
  int64_t q_elems;   /* B * Hq * n_local * D */
  int64_t q_rows;    /* B * Hq * n_local */
  void *kv[2];       /* double buffer: K, V (, Kd, Vd) (kv_elems each, cfg.dtype); unused at P = 1 */
  void *acc_big;     /* forward: o, od accumulators; backward: dq accumulator */
  void *acc_small;   /* forward: lse, mu accumulators; backward: delta */
  void *dkv[2];      /* backward double buffer: dK, dV accumulators (kv_elems each, acc dtype) */
  int direct;        /* one rank and no JFA_RING_GENERIC=1: calls go straight to the backend */
  int kv_parts;      /* blocks per kv slot allocated so far (0, 2 or 4) */
  int acc_parts;     /* accumulator sets allocated so far (0, 1 or 2) */
  size_t bytes;      /* total of the above */
};

/* Makes sure the buffers hold kv_parts blocks per K/V slot, acc_parts accumulator
   sets and (dkv) the dK/dV slots, growing them when needed; then agrees across
   ranks on success (collective). */
jfa_status_t jfa_ring_reserve(jfa_ring_t *r, int kv_parts, int acc_parts, int dkv);

/* Allocates/frees ring memory on the context's device (ring_mem.c). */
jfa_status_t jfa_ring_alloc(const jfa_context_t *ctx, size_t bytes, void **ptr);
void jfa_ring_free(const jfa_context_t *ctx, void *ptr);
/* Makes the context's GPU current (CUDA), remembering the previous one; no-op on the CPU. */
jfa_status_t jfa_ring_device_enter(const jfa_context_t *ctx, int *prev);
void jfa_ring_device_exit(const jfa_context_t *ctx, int prev);

/* A contiguous (B, H, rows, D) tensor view of ring memory on the context's device. */
jfa_tensor_t jfa_ring_view(const jfa_ring_t *r, void *data, jfa_dtype_t dtype, int64_t heads,
                           int64_t rows, int64_t dim);
/* Rows [row0, row0 + rows) of a tensor (a view, no copy). */
jfa_tensor_t jfa_ring_rows(const jfa_tensor_t *t, int64_t row0, int64_t rows);
/* The problem of one pair (Nq = Nk = pair rows) or of the whole shard (pair NULL). */
jfa_problem_t jfa_ring_problem(const jfa_ring_t *r, const jfa_ring_pair_t *pair);
/* Whether no query of a pair sees any key of it (causal, window and sequence bounds). */
int jfa_ring_pair_fully_masked(const jfa_ring_t *r, const jfa_ring_pair_t *pair);
/* The pairs of a step where this rank's queries meet the K/V block of `owner` (all of
   it for khalf < 0, else only key half 0 or 1), fully masked ones left out; returns
   their count (0..4). */
int jfa_ring_pairs(const jfa_ring_t *r, int owner, int khalf, jfa_ring_pair_t pairs[4]);
/* Local rows [row0, row0 + rows) of key half 0 or 1 of a block (zigzag: its chunks;
   otherwise the first ceil(n/2) rows and the rest). */
void jfa_ring_key_half(const jfa_ring_t *r, int half, int64_t *row0, int64_t *rows);

/* Collective agreement on a local status: every rank returns an error when any rank's
   local check failed (the failing rank keeps its own message). */
jfa_status_t jfa_ring_agree(jfa_ring_t *r, jfa_status_t local, const char *what);

/* Argument checks of one call (ring.c); set the last error naming the argument. */
jfa_status_t jfa_ring_check_qkv(const jfa_ring_t *r, const jfa_tensor_t *t, const char *name,
                                int is_kv);
jfa_status_t jfa_ring_check_stat(const jfa_ring_t *r, const jfa_tensor_t *t, const char *name);
/* Fails when any output overlaps any other listed tensor (NULLs skipped). */
jfa_status_t jfa_ring_check_aliases(const jfa_tensor_t *const *outs, const char *const *out_names,
                                    int nout, const jfa_tensor_t *const *ins, int nin);

#endif /* JFA_RING_RING_INTERNAL_H_ */
