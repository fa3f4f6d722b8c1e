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
  int mode;               /* JFA_RING_PAIR_*: how jfa_ring_problem masks it */
} jfa_ring_pair_t;

/* How a pair's problem is masked (jfa_ring_problem). Pairs of jfa_ring_pairs are MASKED;
   jfa_ring_fuse_pairs makes the others, one call over the rows of several pairs. */
enum {
  JFA_RING_PAIR_MASKED = 0,      /* the ring's masks at the pair's global positions */
  JFA_RING_PAIR_ALL = 1,         /* every query sees every key: no mask at all */
  JFA_RING_PAIR_LOCAL_CAUSAL = 2 /* causal over the local rows (positions = local rows) */
};

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
  void *pool;        /* the ring's one buffer (see "Memory" below); NULL until a call needs it */
  int direct;        /* one rank and no JFA_RING_GENERIC: calls go straight to the backend */
  int generic;       /* JFA_RING_GENERIC: 0, 1 (the ring's steps at P = 1, its one step's calls
                        writing the outputs), 2 (at P = 1 too, every call merged into the
                        accumulators, as every step but the single one of P = 1) */
  int fuse;          /* fuse a step's pairs into one call where exact (JFA_RING_FUSE=0: off) */
  int profile;       /* JFA_RING_PROFILE: 0 off, 1 per-phase sums, 2 and every phase */
  size_t bytes;      /* bytes of pool */
  int64_t agreements; /* jfa_ring_agree's calls so far: every rank's count and call must match */
};

/* Whether a call of the ring writes its outputs straight from its one step (one rank, not
   JFA_RING_GENERIC=2): the step's calls are the only contribution to every output row, so
   they run in overwrite mode into the caller's tensors (no accumulators, fills, converts). */
static inline int jfa_ring_single(const jfa_ring_t *r) { return r->size == 1 && r->generic < 2; }

/*
 * Memory. Every call carves its buffers out of one pool (r->pool), grown to the
 * largest call made so far and kept until jfa_ring_release_memory or destroy:
 * a forward+JVP followed by a backward holds the larger of the two, not the sum.
 * Per rank, in units of the caller's tensors, X = one K (or V) shard (B Hkv N/P D
 * elements of cfg.dtype), Q = one q shard = (Hq/Hkv) X, a = acc size / dtype size
 * (2 for bf16/fp16 on CUDA, 1 for fp32 on CUDA and fp64 on the CPU, 2 for fp32 on
 * the CPU), L = one lse shard in the acc dtype (B Hq N/P values), and
 * S = K/V slots = 0 at P = 1, 1 at P = 2 when the caller's K, V (, Kd, Vd) are dense
 * (step 0 computes on and sends from them), else 2 (double buffer):
 *   forward       2 S X  + [o not dense acc dtype] a Q + [lse absent or not dense acc] L
 *   forward+JVP   4 S X  + the same for o and od, lse and mu
 *   backward      2 S X  + [dq not dense acc dtype] a Q + L (delta)
 *                        + dK/dV: 3 half-block slots (2 at P = 1) of dK and dV in the acc
 *                          dtype = 3 a X (2 a X at P = 1; halves of odd N/P round up)
 * (a dense tensor of the acc dtype is accumulated into in place: the same fp32/fp64
 * merges, without the final convert). One rank with JFA_RING_GENERIC=1 (jfa_ring_single):
 * no accumulators, the forward and JVP hold nothing, the backward L (delta), the
 * backward-JVP 2 L (delta, deltad). Before (c9ed359): separate buffers, the
 * K/V double buffer always 2 slots, dK/dV 2 whole-block slots (4 a X), and the
 * backward's dK/dV added to the forward's: forward 4X + aQ + L, JVP 8X + 2(aQ + L),
 * backward 4X + aQ + L + 4aX, after JVP + backward 8X + 2(aQ + L) + 4aX. At 1M tokens
 * (bf16, P = 2, Hq = Hkv): 20 X before, 10 X after (caller's tensors of a JVP and a
 * backward: q k v qd kd vd o od dout dq dk dv = 12 X).
 */

/* The lse that a CPU ring backward reads (exact_lse.c). jfa_ring_lse_needed: whether this rank's lse is a float32 one
   of a CPU ring with a row it cannot carry to the backward's precision (|lse| >= JFA_CPU_SHIFT_LSE or +-inf); the
   backward agrees on it with its arguments (jfa_ring_agree_any: every rank, whatever its lse's dtype). Given that
   agreed `any`, jfa_ring_exact_lse sets `use` to the caller's lse, or to a float64 lse from a ring forward run again
   (lse_t over lse64, with a scratch o: collective); free with jfa_ring_exact_lse_free. */
typedef struct {
  const jfa_tensor_t *use;
  double *lse64;
  void *o;
  jfa_tensor_t lse_t, o_t;
} jfa_ring_lse_t;
int jfa_ring_lse_needed(const jfa_ring_t *r, const jfa_tensor_t *lse);
jfa_status_t jfa_ring_exact_lse(jfa_ring_t *r, const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                const jfa_tensor_t *lse, int any, jfa_ring_lse_t *out, const char *what);
void jfa_ring_exact_lse_free(jfa_ring_lse_t *e);

/* Grows the pool to at least `bytes` (its contents are not kept: every call starts
   afresh), then agrees across ranks on success (collective). */
jfa_status_t jfa_ring_reserve(jfa_ring_t *r, size_t bytes);
/* The status of a multi-rank ring call's run (after its agreed checks and reserve): a failure there (a kernel's, a
   comm's) leaves this rank out of step with peers that still expect its exchanges, so the comm is marked failed
   (ring.c): this rank's later calls then fail at once as its peers' do (they return within the comm's timeout), and
   destroy leaves the buffers transfers may still use. */
jfa_status_t jfa_ring_call_status(jfa_ring_t *r, jfa_status_t st);

/* Offset of a sub-buffer of `bytes` in the pool laid out so far (*cursor bytes), the
   cursor moved past it (256-byte aligned, so views of any dtype are aligned). */
size_t jfa_ring_carve(size_t *cursor, size_t bytes);

/* Whether t is a dense (B, H, S, D) tensor (strides of a contiguous BHSD array). */
int jfa_ring_dense(const jfa_tensor_t *t);

/* Whether the ring may accumulate into the caller's tensor t itself: present, dense,
   of the accumulator dtype (the merges are the same; no final convert). */
int jfa_ring_acc_in_place(const jfa_ring_t *r, const jfa_tensor_t *t);

/* The travelling K/V blocks (forward: K, V (, Kd, Vd); backward: K, V). Step s computes
   on the block of rank (rank - s) mod P while the next one is received. */
typedef struct {
  const jfa_tensor_t *parts[4]; /* the caller's tensors */
  int nparts;
  int from_caller; /* step 0 computes on and sends the caller's (dense) tensors, no copy */
  int slots;       /* slots in the pool (0 at P = 1; 1 at P = 2 from the caller; else 2) */
  size_t off;      /* pool offset of slot 0 */
  size_t slot_bytes;
} jfa_ring_kv_t;

/* Plans the K/V slots of a call with the given parts, carving them at *cursor. */
void jfa_ring_kv_plan(const jfa_ring_t *r, const jfa_tensor_t *const *parts, int nparts,
                      size_t *cursor, jfa_ring_kv_t *kv);
/* Before step 0: copies the caller's parts into slot 0 unless they are sent from where they are. */
jfa_status_t jfa_ring_kv_load(const jfa_ring_t *r, const jfa_ring_kv_t *kv);
/* Part i of the block computed at step s (a view of a slot, or the caller's tensor). */
jfa_tensor_t jfa_ring_kv_block(const jfa_ring_t *r, const jfa_ring_kv_t *kv, int step, int i);
/* Appends to bufs the exchange that sends step s's block and receives step s+1's;
   returns the number of buffers appended (nparts: one message a part, whichever each rank sends from). */
int jfa_ring_kv_bufs(const jfa_ring_t *r, const jfa_ring_kv_t *kv, int step, jfa_comm_buf_t *bufs);

/* Allocates/frees ring memory on the context's device (ring_mem.c). */
jfa_status_t jfa_ring_alloc(const jfa_context_t *ctx, size_t bytes, void **ptr);
void jfa_ring_free(const jfa_context_t *ctx, void *ptr);
/* Makes the context's GPU current (CUDA), remembering the previous one; no-op on the CPU. */
jfa_status_t jfa_ring_device_enter(const jfa_context_t *ctx, int *prev);
void jfa_ring_device_exit(const jfa_context_t *ctx, int prev);

/* views.c: a contiguous (B, H, rows, D) tensor view of ring memory on the context's device. */
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
/* Fuses the pairs of one step (owner, as given to jfa_ring_pairs) into one call over the
   rectangle of their query and key rows where that is exact (no window, no packed sequences;
   the rectangle's rows contiguous; every pair fully visible: JFA_RING_PAIR_ALL; or the own
   block under causal, where global positions grow with local rows: LOCAL_CAUSAL); the pairs
   left out of the rectangle are fully masked by construction. Returns the new count. */
int jfa_ring_fuse_pairs(const jfa_ring_t *r, int owner, jfa_ring_pair_t *pairs, int n);
/* Local rows [row0, row0 + rows) of key half 0 or 1 of a block (zigzag: its chunks;
   otherwise the first ceil(n/2) rows and the rest). */
void jfa_ring_key_half(const jfa_ring_t *r, int half, int64_t *row0, int64_t *rows);

/* The key-gradient accumulators that travel in half slots (ring_halves.c): nacc accumulators of
   (B, Hkv, rows of the larger key half, D) per slot, `halves` slots from pool offset `off`. */
typedef struct {
  size_t off, half_bytes;
  int halves, nacc;
} jfa_ring_halves_t;
/* Plans the half slots of nacc accumulators, carving them at *cursor. */
void jfa_ring_halves_plan(const jfa_ring_t *r, int nacc, size_t *cursor, jfa_ring_halves_t *hv);
/* The nacc accumulators (acc[0..nacc)) of key half h at half-step u, and (buf != NULL) the
   buffer that sends them to half-step u + 2's slot of the next rank. */
void jfa_ring_half_views(const jfa_ring_t *r, const jfa_ring_halves_t *hv, int u, int h, jfa_tensor_t *acc,
                         jfa_comm_buf_t *buf);

/* Opt-in per-phase timing of one call (ring_profile.c, JFA_RING_PROFILE). */
#define JFA_RING_PROF_MAX 96
typedef struct {
  int on, n, dropped; /* dropped: marks past JFA_RING_PROF_MAX (not timed) */
  const char *what;
  const char *name[JFA_RING_PROF_MAX]; /* phase i ends at mark i + 1 (mark 0: the start) */
  int step[JFA_RING_PROF_MAX], idx[JFA_RING_PROF_MAX];
  void *ev[JFA_RING_PROF_MAX + 1]; /* cudaEvent_t of each mark (CUDA) */
  double t[JFA_RING_PROF_MAX + 1]; /* host clock of each mark (seconds) */
} jfa_ring_prof_t;
/* Starts the timing of a call (no-op unless r->profile); after jfa_ring_device_enter. */
void jfa_ring_prof_begin(const jfa_ring_t *r, jfa_ring_prof_t *pf, const char *what);
/* Ends phase `name` (a string constant) of step `step`, part `idx`, here on the stream. */
void jfa_ring_prof_mark(const jfa_ring_t *r, jfa_ring_prof_t *pf, const char *name, int step, int idx);

/* The half slots' steps shared by the backward and the backward-JVP (ring_halves.c):
   jfa_ring_halves_exchange, after key half h of step s (nothing at P = 1): half 0 waits for
   E2(s-1) and starts E1(s) with its accumulators (bufs[0]) and, but at the last step, the next
   K/V block (kv's buffers after it); half 1 waits for E1(s) and starts E2(s).
   jfa_ring_halves_home, after the last hop: each key half's accumulators (at the half-step home
   of P hops) converted into the rows of dst[i] (NULL: skipped), in order i = 0..nacc-1. */
jfa_status_t jfa_ring_halves_exchange(const jfa_ring_t *r, const jfa_ring_kv_t *kv, int s, int h,
                                      jfa_comm_buf_t *bufs, jfa_ring_prof_t *pf);
jfa_status_t jfa_ring_halves_home(const jfa_ring_t *r, const jfa_ring_halves_t *hv, const jfa_tensor_t *const *dst,
                                  jfa_ring_prof_t *pf);
/* Waits for the last mark and prints the phases to stderr (when st succeeded); frees the events. */
void jfa_ring_prof_end(const jfa_ring_t *r, jfa_ring_prof_t *pf, jfa_status_t st);
/* The end of a one-rank direct call (ring_profile.c): marks it `mark`, synchronises a CUDA context
   after a success, ends the timing, restores the device (prev from jfa_ring_device_enter); st. */
jfa_status_t jfa_ring_direct_end(const jfa_ring_t *r, jfa_ring_prof_t *pf, const char *mark, jfa_status_t st,
                                 int prev);

/* Collective agreement on a local status: every rank returns an error when any rank's
   local check failed (the failing rank keeps its own message). */
jfa_status_t jfa_ring_agree(jfa_ring_t *r, jfa_status_t local, const char *what);
/** jfa_ring_agree, in the same collective, and *any = whether some rank's flag is set (0 on an error). */
jfa_status_t jfa_ring_agree_any(jfa_ring_t *r, jfa_status_t local, const char *what, int flag, int *any);
/** jfa_ring_agree, and nvals values (at most 13, named by names for the message) equal on every rank (else an
 *  error on every rank). */
jfa_status_t jfa_ring_agree_values(jfa_ring_t *r, jfa_status_t local, const char *what, const int64_t *vals,
                                   const char *const *names, int nvals);

/* Argument checks of one call (ring.c); set the last error naming the argument. */
jfa_status_t jfa_ring_check_qkv(const jfa_ring_t *r, const jfa_tensor_t *t, const char *name,
                                int is_kv);
jfa_status_t jfa_ring_check_stat(const jfa_ring_t *r, const jfa_tensor_t *t, const char *name);
/* Fails when any output overlaps any other listed tensor (NULLs skipped). */
jfa_status_t jfa_ring_check_aliases(const jfa_tensor_t *const *outs, const char *const *out_names,
                                    int nout, const jfa_tensor_t *const *ins, int nin);

#endif /* JFA_RING_RING_INTERNAL_H_ */
