/*
 * ringtest.h - shared code of the ring tests (tests/ring): one "case" runs the
 * ring over an MPI group on a context (CPU or CUDA) with fresh seeded inputs and
 * compares every output (O, lse, Od, mu, dQ, dK, dV) with attention over the full
 * sequence by the independent float64 reference (ref64.h: no jfa code, so a bug of
 * the CPU backend cannot cancel), from the same dtype-rounded inputs. Each rank's
 * rows of the reference are picked by the documented layouts written out in the
 * test (not jfa_layout_chunk); jfa_layout_shard/unshard are checked against that
 * pick. Errors are ||ring - ref|| / ||ref||
 * over the whole sequence (sums reduced over the group); poison left or a NaN
 * gives NaN. Outputs are poisoned before every ring call.
 */
#ifndef JFA_RINGTEST_H_
#define JFA_RINGTEST_H_

#include <mpi.h>
#include <stdint.h>

#include "jfa.h"
#include "jfa_ring.h"

enum { RT_O, RT_LSE, RT_OD, RT_MU, RT_O_FWD, RT_LSE_FWD, RT_DQ, RT_DK, RT_DV, RT_NOUT };
extern const char *const rt_out_names[RT_NOUT];

typedef struct {
  int64_t B, Hq, Hkv, N, D;
  jfa_dtype_t dtype;
  jfa_layout_t layout;
  int causal; /* 0: JFA_MASK_NONE, 1: JFA_MASK_CAUSAL_TOP_LEFT, 2: JFA_MASK_CAUSAL_BOTTOM_RIGHT (the same mask: Nq == Nk) */
  int bshd; /* 1: local q, k, v, o, ... stored (B, S, H, D) (stats stay (B, H, S, 1)); 2: padded views
               with a non-unit stride on every axis (head dim 2), stats included; 0: BHSD */
  int windowed;                  /* 0: no window (window_left/right ignored) */
  int64_t window_left, window_right; /* global positions, -1 = unbounded side */
  int64_t num_seqs;              /* packed sequences over the global sequence (0: none; needs B = 1) */
  const int64_t *cu_seqlens;     /* num_seqs + 1 offsets */
} rt_case_t;

/** Deterministic inputs: the same seed gives the same case on every rank and every P. */
void rt_seed(uint64_t seed);
/** A standard normal draw from the generator rt_seed seeds (the same sequence on every rank). */
double rt_normal(void);

/**
 * Runs one case on the ranks of `group` with communicator `comm` (already created
 * over group) and context `ctx`; cpu is a CPU context for jfa_layout_shard/unshard. err[i]
 * receives the relative error of output i (the same value on every rank of group).
 * Returns JFA_SUCCESS or the first failing status of a jfa call (printed).
 */
jfa_status_t rt_run_case(const rt_case_t *c, uint64_t seed, MPI_Comm group, jfa_comm_t *comm,
                         jfa_context_t *ctx, jfa_context_t *cpu, double err[RT_NOUT]);

/** on != 0: rt_run_case creates the ring of a packed case with one sequence over the whole global sequence and then
 *  gives it the case's offsets with jfa_ring_set_seqlens (the ring's buffers kept), instead of creating it with them. */
void rt_set_offsets_after_create(int on);

/** A one-line description of a case ("fp64 zigzag causal B2 Hq4 Hkv2 N48 D12"). */
void rt_describe(const rt_case_t *c, char *buf, size_t n);

/** MPI_Init, seed agreed across MPI_COMM_WORLD (printed by rank 0), stdout of ranks != 0 silenced. */
uint64_t rt_init(int *argc, char ***argv, const char *name, int *world_rank, int *world_size);

/** A CPU context and an MPI communicator over MPI_COMM_WORLD (MPI_Abort with jfa's message if either fails). */
void rt_cpu_world(jfa_context_t **cpu, jfa_comm_t **comm);

#endif /* JFA_RINGTEST_H_ */
