/*
 * test_gpu_sm90_bwd.c - the Hopper backward (src/kernels/sm90/bwd.cuh, taken unless
 * JFA_SM90_BWD=0) against the float64 CPU backend: bf16 and fp16,
 * D = 64 and 128 (and D = 40, 120, 100, which it declines: sm80 at 64 / 128, or simt for rows
 * that are not 16-byte aligned), D = 96 (64 + 32-column products, the TMA zero-filling columns
 * 96..127 of the second slab) and D = 192 / 256 (the column-split kernel, CS: both consumers on the
 * same 64 keys, each owning half of dK's and dV's columns; cases appended after the D = 64 / 128
 * ones so that their indices stay), N = 1, 7, 129, 1000, 4096, Nq != Nk with both causal alignments, positions
 * with fully masked rows, GQA 8:1 and MQA, BSHD and BHSD, large logits (q, k ~ N(0, 30^2)), and the
 * interval masks it takes since issue 18 (MASKED: windows causal or two-sided, positions with
 * Nq != Nk, packed sequences with empty ones and rows or keys that see nothing, GQA / MQA),
 * whose query blocks mix the three classes per consumer (empty, full, partial), and boolean dense
 * masks (bit-packed, classed by the block map per 64 x 64 tile, also with causal, windows, packed
 * sequences, GQA / MQA, broadcast), and at Nq = 1, Nk = 7 fixed boolean masks (every key, none, one,
 * two: 24 draws each). Rows without a
 * visible key must give exactly dQ = 0 and keys no query sees exactly dK = dV = 0.
 * The float64 reference of the backward takes the GPU forward's o and lse, the inputs the backward
 * under test gets (its O and lse are checked against the float64 forward first): dS = P (dP - delta)
 * cancels where a row sees few keys (at Nq = 1 with two keys dQ and dK are a difference of two
 * nearly equal terms), and delta from the 16-bit O shifts it by ~2^-9 |dO| |O|: against a reference
 * with the exact O that alone gave relative errors of dQ and dK up to ~0.1 (case 53, some seeds).
 * Outputs are poisoned (NaN) before each call; the test checks which family ran (sm90 where
 * JFA_SM90_BWD is not 0 and the device is an sm_90 with the sm_90a kernels, else sm80 / simt). Every
 * case also runs on a second context created with JFA_SM90_BWD=0 (the sm80 backward on the same
 * inputs), whose error is printed; at large logits the sm90 errors must be within 1.5x of it
 * (plus the dtype's tolerance floor) and both within 3x the dtype's tolerance, the forward's lse within it and O
 * within 0.1 (near ties). The deterministic mode (JFA_FLAG_DETERMINISTIC: the
 * kernel's dK, dV, dQ from simt) is checked on a third context: two runs bitwise equal and
 * within tolerance. Nothing here depends on how the kernel adds dQ: in a tuning build
 * (-DJFA_TUNING=ON) JFA_TUNE_SM90_BWD=1 / 3 / 4 runs the unmasked cases with the float2 atomics,
 * the per-consumer TMA reduce-adds or the column split (one reduce-add per CTA, bwd.cuh), the
 * same checks for each (the masked cases keep the default); =5 runs the unmasked D = 192 cases
 * with the score products exchanged between the consumers (SM90_DQ_CSX); =6 / 7 the unmasked
 * D = 64 / 96 / 128 cases with the overlapped order (SM90_DQ_SPLITO; 7 with 3 stages at D = 128),
 * 6 also the unmasked D = 192 / 256 cases in that order (the column split's SM90_DQ_CSO: P by
 * ex2.approx.ftz, so not bitwise the default's);
 * =9 the masked and unmasked D = 64 / 96 / 128 cases with SM90_DQ_TMAO (SPLITO's order, each consumer
 * adding its own dQ: the masked kernel's candidate, issue 18): unmasked, dK and dV must also be
 * bitwise the default SPLITO's on the same inputs (cases without large logits); masked, whether they
 * are bitwise the default's is printed (P's formula differs); =10 the unmasked D = 64 cases with
 * SM90_DQ_TMAO at three consumers (192 keys a CTA: tiles.h's tuning row 2), the same checks (a
 * consumer's extra query blocks below the diagonal add exact zeros to its dK, dV); =11 the same with
 * 64 query rows a stage (the default before the twelfth session, 128 since; tiles.h's tuning row 3:
 * dV's and dK's k16 steps in the same order, the same bits). CTest:
 * test_gpu_sm90_bwd_tune<n> in tuning builds.
 *
 *   ./test_gpu_sm90_bwd [case-index]   (JFA_TEST_SEED=... to repeat; JFA_TEST_OWN_REF=1: the old reference)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h" /* jfa_cuda_last_bwd_route */
#include "gpu_test.h"

typedef struct {
  jfa_dtype_t dt;
  int bshd;
  int64_t B, Hq, Hkv, Nq, Nk, D;
  jfa_mask_t mask;
  int64_t qpos, kpos;
  double qk_scale; /* standard deviation of q and k (30: large logits) */
  int det;         /* also run the deterministic mode */
  /* interval masks (left out: none) */
  int win;                   /* a sliding window (wl, wr) */
  int64_t wl, wr;            /* window sides (JFA_WINDOW_UNBOUNDED: that side open) */
  const char *seq_q, *seq_k; /* packed sequence lengths ("1,7,129"; Nq, Nk their sums), NULL: none;
                                seq_k NULL = seq_q */
  int dense;                 /* a boolean dense mask (make_mask): 0 none, 1 per (batch, head), 2 broadcast,
                                per (batch, head) with fixed rows: 3 every key, 4 none, 5 key Nk / 2,
                                6 keys 0 and Nk - 1 (DM_ALL ..; those cases run DM_DRAWS draws) */
} tcase_t;

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define POS JFA_MASK_CAUSAL_POSITIONS
#define NPOS JFA_MASK_POSITIONS
#define UNB JFA_WINDOW_UNBOUNDED

static const tcase_t cases[] = {
    /* dt bshd B  Hq Hkv   Nq    Nk    D  mask  qpos kpos  qk  det  win wl wr seq_q seq_k dense */
    {BF, 0, 2, 4, 4, 64, 64, 64, NONE, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 1, 1, 64, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 1, 2, 2, 1, 1, 128, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 1, 1, 2, 2, 7, 7, 64, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 2, 2, 2, 7, 33, 128, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 129, 200, 128, BR, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0}, /* Nq < Nk, bottom-right */
    {FH, 1, 1, 2, 2, 200, 129, 64, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},  /* Nq > Nk, bottom-right: rows < 71 fully masked */
    {BF, 1, 1, 2, 2, 129, 300, 64, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},  /* Nq < Nk, top-left */
    {FH, 0, 1, 2, 2, 300, 129, 128, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* Nq > Nk, top-left */
    {BF, 1, 1, 16, 2, 129, 129, 64, TL, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0}, /* GQA 8:1 */
    {FH, 0, 1, 16, 2, 257, 300, 128, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* GQA 8:1 */
    {BF, 0, 1, 4, 1, 200, 300, 128, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* MQA */
    {FH, 1, 2, 4, 1, 1000, 1000, 64, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},  /* MQA */
    {BF, 0, 1, 2, 2, 1000, 1000, 64, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 1, 1, 8, 1, 1000, 1000, 128, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 4096, 4096, 128, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 1, 1, 2, 2, 4096, 4096, 64, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 1, 2, 2, 4096, 4096, 64, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 64, 64, 64, POS, 0, 10, 1, 1, 0, 0, 0, NULL, NULL, 0},     /* rows 0..9 fully masked */
    {FH, 1, 1, 2, 2, 200, 300, 128, POS, 0, 70, 1, 0, 0, 0, 0, NULL, NULL, 0},  /* rows 0..69 fully masked */
    {BF, 0, 1, 2, 2, 1000, 64, 64, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},     /* rows < 936 fully masked */
    {FH, 0, 1, 2, 2, 77, 300, 128, POS, 500, 300, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* global positions */
    {BF, 0, 1, 2, 2, 77, 300, 64, POS, 100, 300, 1, 0, 0, 0, 0, NULL, NULL, 0},  /* every row fully masked */
    /* large logits: q, k ~ N(0, 30^2) */
    {BF, 0, 1, 2, 2, 512, 512, 64, TL, 0, 0, 30, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 1, 2, 2, 512, 512, 64, TL, 0, 0, 30, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 1, 1, 4, 2, 512, 700, 128, BR, 0, 0, 30, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 1, 2, 2, 300, 300, 128, NONE, 0, 0, 30, 0, 0, 0, 0, NULL, NULL, 0},
    /* head dims the sm90 backward declines: sm80 (multiples of 8), simt (rows not 16-byte aligned) */
    {BF, 0, 1, 2, 2, 129, 257, 40, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 1, 1, 2, 2, 200, 200, 120, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* sm80 at 128 (a JFA_HEAD_DIMS="64;128" build has it) */
    {BF, 0, 1, 2, 2, 100, 100, 100, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    /* interval masks (the MASKED kernel): windows */
    {BF, 0, 1, 2, 2, 1000, 1000, 64, TL, 0, 0, 1, 1, 1, 100, UNB, NULL, NULL, 0}, /* causal window */
    {FH, 1, 1, 4, 2, 700, 700, 128, NONE, 0, 0, 1, 0, 1, 150, 70, NULL, NULL, 0}, /* both sides, GQA */
    {BF, 0, 1, 2, 2, 600, 1100, 128, BR, 0, 0, 1, 0, 1, 300, UNB, NULL, NULL, 0}, /* Nq < Nk, bottom-right */
    {FH, 0, 1, 2, 2, 300, 300, 64, NONE, 0, 0, 1, 0, 1, 0, 0, NULL, NULL, 0},     /* the diagonal only */
    {BF, 1, 1, 2, 2, 200, 200, 64, NONE, 0, 0, 1, 0, 1, UNB, 5, NULL, NULL, 0},   /* right side only */
    {BF, 0, 1, 4, 1, 300, 500, 128, BR, 0, 0, 1, 0, 1, 64, UNB, NULL, NULL, 0},   /* MQA */
    {BF, 0, 1, 2, 2, 4096, 4096, 128, TL, 0, 0, 1, 0, 1, 1000, UNB, NULL, NULL, 0}, /* many full blocks */
    {FH, 1, 1, 2, 2, 2048, 2048, 64, TL, 0, 0, 1, 0, 1, 511, UNB, NULL, NULL, 0},
    /* positions (Nq != Nk): keys j < 170 seen by no query (CTAs with no block), rows >= 130 see no key */
    {FH, 0, 1, 2, 2, 200, 300, 128, NPOS, 500, 300, 1, 0, 1, 30, 10, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 77, 300, 64, POS, 500, 300, 1, 0, 1, 100, UNB, NULL, NULL, 0},
    {BF, 1, 1, 8, 2, 129, 900, 64, NPOS, 0, 0, 1, 0, 1, 0, 600, NULL, NULL, 0}, /* GQA 4:1, keys >= 729 unseen */
    /* packed sequences: empty ones, a sequence with queries but no key (fully masked rows), one
       with keys but no query (keys no query sees) */
    {BF, 1, 1, 4, 2, 0, 0, 64, TL, 0, 0, 1, 1, 0, 0, 0, "1,7,0,129,64", NULL, 0},
    {FH, 1, 1, 2, 2, 0, 0, 128, BR, 0, 0, 1, 0, 0, 0, 0, "5,700,40", "9,650,100", 0},
    {BF, 0, 1, 2, 2, 0, 0, 128, TL, 0, 0, 1, 0, 1, 33, UNB, "129,1,400,7", NULL, 0}, /* + window */
    {FH, 1, 1, 2, 2, 0, 0, 64, NONE, 0, 0, 1, 0, 0, 0, 0, "10,20,0,64", "0,30,5,70", 0},
    {BF, 1, 1, 2, 1, 0, 0, 64, BR, 0, 0, 1, 0, 1, 1, 0, "33,0,129", "40,5,100", 0},
    {BF, 0, 1, 2, 2, 0, 0, 128, TL, 0, 0, 1, 0, 0, 0, 0, "3,64,1,500,129,7,300", NULL, 0},
    /* large logits with a window: within 1.5x of the sm80 kernel's error */
    {BF, 0, 1, 2, 2, 512, 512, 64, TL, 0, 0, 30, 0, 1, 100, UNB, NULL, NULL, 0},
    {FH, 1, 1, 4, 2, 0, 0, 128, BR, 0, 0, 30, 0, 1, 64, UNB, "300,1,211", "350,3,200", 0},
    /* boolean dense masks (the MASKED kernel with the block map's classes and bits per tile) */
    {BF, 0, 2, 4, 2, 300, 300, 64, NONE, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 1},
    {FH, 1, 1, 2, 2, 129, 1000, 128, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 1},    /* Nq < Nk */
    {BF, 0, 1, 8, 2, 1000, 333, 128, BR, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 2},      /* GQA 4:1, causal */
    {FH, 0, 1, 4, 1, 777, 777, 64, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 1},        /* MQA, causal */
    {BF, 1, 1, 2, 2, 1, 7, 64, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 1},          /* tiny */
    {BF, 0, 1, 2, 2, 700, 700, 128, TL, 0, 0, 1, 0, 1, 200, UNB, NULL, NULL, 1},   /* + causal window */
    {FH, 0, 1, 2, 2, 0, 0, 64, BR, 0, 0, 1, 0, 0, 0, 0, "9,300,0,257", "20,200,5,300", 2}, /* + sequences */
    {BF, 0, 1, 2, 2, 2048, 2048, 128, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 1},
    {BF, 0, 1, 2, 2, 512, 512, 128, TL, 0, 0, 30, 0, 0, 0, 0, NULL, NULL, 1},      /* large logits */
    /* fixed boolean masks at Nq = 1, Nk = 7 (the row of each head: every key, none: lse = -inf and the
       forward's CTA without a live block, one key: dQ = dK = 0 exactly, two keys: dQ and dK cancel) */
    {BF, 1, 1, 2, 2, 1, 7, 64, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 3},
    {BF, 1, 1, 2, 2, 1, 7, 64, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 4},
    {BF, 1, 1, 2, 2, 1, 7, 64, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 5},
    {BF, 1, 1, 2, 2, 1, 7, 64, NONE, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 6},
    {FH, 0, 1, 2, 2, 1, 7, 128, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 3},
    {FH, 0, 1, 2, 2, 1, 7, 128, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 4},
    {FH, 0, 1, 2, 2, 1, 7, 128, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 6},
    /* D = 96 (since the sm90 backward takes it): odd N, Nq != Nk both alignments, GQA / MQA,
       fully masked rows, large logits, interval masks, deterministic mode */
    {BF, 0, 2, 4, 4, 64, 64, 96, NONE, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 1, 2, 2, 1, 1, 96, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 1, 1, 2, 2, 7, 7, 96, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 2, 2, 2, 7, 33, 96, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 129, 200, 96, BR, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0}, /* Nq < Nk, bottom-right */
    {FH, 1, 1, 2, 2, 200, 129, 96, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* rows < 71 fully masked */
    {BF, 1, 1, 2, 2, 300, 129, 96, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* Nq > Nk, top-left */
    {BF, 1, 1, 16, 2, 129, 129, 96, TL, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0}, /* GQA 8:1 */
    {FH, 0, 1, 4, 1, 1000, 1000, 96, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* MQA */
    {BF, 0, 1, 2, 2, 1000, 1000, 96, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 64, 64, 96, POS, 0, 10, 1, 1, 0, 0, 0, NULL, NULL, 0},  /* rows 0..9 fully masked */
    {FH, 0, 1, 2, 2, 77, 300, 96, POS, 100, 300, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* every row fully masked */
    {BF, 0, 1, 2, 2, 512, 512, 96, TL, 0, 0, 30, 0, 0, 0, 0, NULL, NULL, 0}, /* large logits */
    {BF, 0, 1, 2, 2, 1000, 1000, 96, TL, 0, 0, 1, 1, 1, 100, UNB, NULL, NULL, 0}, /* causal window */
    {FH, 1, 1, 4, 2, 700, 700, 96, NONE, 0, 0, 1, 0, 1, 150, 70, NULL, NULL, 0},  /* both sides, GQA */
    {FH, 0, 1, 2, 2, 200, 300, 96, NPOS, 500, 300, 1, 0, 1, 30, 10, NULL, NULL, 0},
    {BF, 1, 1, 4, 2, 0, 0, 96, TL, 0, 0, 1, 1, 0, 0, 0, "1,7,0,129,64", NULL, 0},
    {FH, 1, 1, 2, 1, 0, 0, 96, BR, 0, 0, 1, 0, 1, 1, 0, "33,0,129", "40,5,100", 0},
    /* D = 192 and 256 (the column split) */
    {BF, 0, 2, 4, 4, 64, 64, 192, NONE, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 1, 2, 2, 1, 1, 256, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 1, 1, 2, 2, 7, 7, 192, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {FH, 0, 2, 2, 2, 7, 33, 256, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 129, 200, 256, BR, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0}, /* Nq < Nk, bottom-right */
    {FH, 1, 1, 2, 2, 200, 129, 192, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* rows < 71 fully masked */
    {BF, 1, 1, 2, 2, 129, 300, 256, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* Nq < Nk, top-left */
    {FH, 0, 1, 2, 2, 300, 129, 192, TL, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* Nq > Nk, top-left */
    {BF, 1, 1, 16, 2, 129, 129, 256, TL, 0, 0, 1, 1, 0, 0, 0, NULL, NULL, 0}, /* GQA 8:1 */
    {FH, 0, 1, 16, 2, 257, 300, 192, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* GQA 8:1 */
    {BF, 0, 1, 4, 1, 200, 300, 256, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* MQA */
    {FH, 1, 2, 4, 1, 1000, 1000, 192, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* MQA */
    {BF, 0, 1, 2, 2, 1000, 1000, 256, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 1000, 1000, 192, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},
    {BF, 0, 1, 2, 2, 64, 64, 256, POS, 0, 10, 1, 1, 0, 0, 0, NULL, NULL, 0},     /* rows 0..9 fully masked */
    {FH, 1, 1, 2, 2, 200, 300, 192, POS, 0, 70, 1, 0, 0, 0, 0, NULL, NULL, 0},   /* rows 0..69 fully masked */
    {BF, 0, 1, 2, 2, 1000, 64, 256, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 0},     /* rows < 936 fully masked */
    {BF, 0, 1, 2, 2, 77, 300, 192, POS, 100, 300, 1, 0, 0, 0, 0, NULL, NULL, 0}, /* every row fully masked */
    {BF, 0, 1, 2, 2, 512, 512, 256, TL, 0, 0, 30, 0, 0, 0, 0, NULL, NULL, 0},    /* large logits */
    {FH, 0, 1, 2, 2, 300, 300, 192, NONE, 0, 0, 30, 0, 0, 0, 0, NULL, NULL, 0},
    /* interval masks (the MASKED column-split kernel; at D = 256 with one dS buffer) */
    {BF, 0, 1, 2, 2, 1000, 1000, 256, TL, 0, 0, 1, 1, 1, 100, UNB, NULL, NULL, 0}, /* causal window */
    {FH, 1, 1, 4, 2, 700, 700, 192, NONE, 0, 0, 1, 0, 1, 150, 70, NULL, NULL, 0},  /* both sides, GQA */
    {BF, 0, 1, 2, 2, 600, 1100, 192, BR, 0, 0, 1, 1, 1, 300, UNB, NULL, NULL, 0},  /* Nq < Nk, bottom-right */
    {FH, 0, 1, 2, 2, 300, 300, 256, NONE, 0, 0, 1, 0, 1, 0, 0, NULL, NULL, 0},     /* the diagonal only */
    {BF, 0, 1, 4, 1, 300, 500, 256, BR, 0, 0, 1, 0, 1, 64, UNB, NULL, NULL, 0},    /* MQA */
    {FH, 0, 1, 2, 2, 200, 300, 256, NPOS, 500, 300, 1, 0, 1, 30, 10, NULL, NULL, 0},
    {BF, 1, 1, 8, 2, 129, 900, 192, NPOS, 0, 0, 1, 0, 1, 0, 600, NULL, NULL, 0},  /* GQA 4:1, keys >= 729 unseen */
    {BF, 1, 1, 4, 2, 0, 0, 256, TL, 0, 0, 1, 1, 0, 0, 0, "1,7,0,129,64", NULL, 0},
    {FH, 1, 1, 2, 2, 0, 0, 192, BR, 0, 0, 1, 0, 0, 0, 0, "5,700,40", "9,650,100", 0},
    {FH, 1, 1, 2, 2, 0, 0, 256, NONE, 0, 0, 1, 0, 0, 0, 0, "10,20,0,64", "0,30,5,70", 0},
    {BF, 0, 1, 2, 2, 512, 512, 192, TL, 0, 0, 30, 0, 1, 100, UNB, NULL, NULL, 0}, /* large logits, window */
    /* boolean dense masks at the head dims whose sm90 backward does not read them: sm80 */
    {BF, 0, 1, 2, 2, 300, 300, 96, NONE, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 1},
    {FH, 1, 1, 4, 2, 257, 300, 192, BR, 0, 0, 1, 0, 0, 0, 0, NULL, NULL, 2},
    /* coverage audit (appended: the indices above stay): D = 128's band (a causal window) and its MASKED kernel (packed
       sequences, Nq != Nk per sequence) with GQA of Hkv > 1, in the deterministic mode too (the kernel without its dQ,
       dQ from simt): no D = 128 band or MASKED case above runs it */
    {BF, 1, 1, 8, 2, 600, 600, 128, TL, 0, 0, 1, 1, 1, 200, UNB, NULL, NULL, 0},
    {FH, 0, 1, 4, 2, 0, 0, 128, BR, 0, 0, 1, 1, 0, 0, 0, "100,300,57", "150,250,80", 0},
};

/* make_mask's fixed rows (tcase_t.dense), and the draws of a case with one (the inputs are random:
   two keys cancel badly in ~14% of draws) */
enum { DM_ALL = 3, DM_NONE, DM_ONE, DM_TWO, DM_DRAWS = 24 };

static jfa_context_t *g_ref80; /* JFA_SM90_BWD=0: the sm80 backward on the same inputs */
static jfa_context_t *g_det;   /* JFA_FLAG_DETERMINISTIC (JFA_SM90_BWD as the test runs) */

/* The family the backward must run on for a case (the interval masks included: sm90 at D = 64, 96, 128,
   192, 256). */
static int want_path(const tcase_t *c) {
  const char *kp = getenv("JFA_KERNEL_PATH");
  if (kp && strcmp(kp, "simt") == 0) return GT_PATH_SIMT;
  if (!gt_tensor_core_dim(c->dt, c->D)) return GT_PATH_SIMT;
  return gt_expected_bwd_path(c->D); /* boolean dense masks (c->dense) too */
}

/* A boolean dense mask for a case (c->dense: 1 one per (batch, head), 2 broadcast (1, 1, Nq, Nk)):
   per 64 x 64 tile of each slice full, empty, random half or sparse (1 in 8), and rows
   i % 97 == 5, the keys of tile 1 (64..127, when Nk > 128) and keys 256..383 (a whole 128-key
   block: the forward skips it for every CTA) see nothing; c->dense >= DM_ALL: every row the same
   fixed keys, per (batch, head). host: the CPU copy,
   dev: the device one (freed by the caller: *hbuf, *dptr). */
static void make_mask(const tcase_t *c, int64_t Nq, int64_t Nk, jfa_tensor_t *host, jfa_tensor_t *dev, void **hbuf,
                      void **dptr) {
  const int64_t mB = c->dense == 2 ? 1 : c->B, mH = c->dense == 2 ? 1 : c->Hq;
  const int64_t RT = (Nq + 63) / 64, KT = (Nk + 63) / 64;
  const size_t n = (size_t)(mB * mH * Nq * Nk);
  unsigned char *hb = malloc(n ? n : 1);
  int *pat = malloc((size_t)(mB * mH * RT * KT + 1) * sizeof(int));
  if (!hb || !pat) {
    tu_expect("host allocation", 0);
    exit(1);
  }
  for (int64_t t = 0; t < mB * mH * RT * KT; ++t) pat[t] = (int)(tu_uniform() * 4);
  size_t x = 0;
  for (int64_t s = 0; s < mB * mH; ++s)
    for (int64_t i = 0; i < Nq; ++i)
      for (int64_t j = 0; j < Nk; ++j, ++x) {
        const int pt = pat[(s * RT + i / 64) * KT + j / 64];
        int vis = pt == 0 ? 1 : pt == 1 ? 0 : pt == 2 ? tu_uniform() < 0.5 : tu_uniform() < 0.125;
        if (i % 97 == 5 || (Nk > 128 && j / 64 == 1) || j / 128 == 2) vis = 0;
        if (c->dense >= DM_ALL)
          vis = c->dense == DM_ALL   ? 1
                : c->dense == DM_ONE ? j == Nk / 2
                : c->dense == DM_TWO ? j == 0 || j == Nk - 1
                                     : 0;
        hb[x] = (unsigned char)vis;
      }
  free(pat);
  *hbuf = hb;
  *host = jfa_tensor_bhsd(hb, JFA_DTYPE_BOOL, JFA_DEVICE_CPU, mB, mH, Nq, Nk);
  if (cudaMalloc(dptr, n + 16) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(mask)");
  cudaMemcpy(*dptr, hb, n, cudaMemcpyHostToDevice);
  *dev = jfa_tensor_bhsd(*dptr, JFA_DTYPE_BOOL, JFA_DEVICE_CUDA, mB, mH, Nq, Nk);
}

/* The backward on ctx into poisoned dq, dk, dv (downloaded into their val). */
static void run_bwd(jfa_context_t *ctx, const jfa_attention_params_t *prm, gbuf_t *q, gbuf_t *k, gbuf_t *v, gbuf_t *o,
                    gbuf_t *lse, gbuf_t *dout, gbuf_t *dq, gbuf_t *dk, gbuf_t *dv) {
  gb_poison(dq);
  gb_poison(dk);
  gb_poison(dv);
  gt_ok(jfa_attention_backward(ctx, prm, &q->t, &k->t, &v->t, &o->t, &lse->t, &dout->t, &dq->t, &dk->t, &dv->t),
        "backward");
  gb_get(dq);
  gb_get(dk);
  gb_get(dv);
}

static void run_draw(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const tcase_t *c = &cases[ci];
  int64_t cq[65], ck[65];
  int ns = 0;
  int64_t Nq = c->Nq, Nk = c->Nk;
  if (c->seq_q && (ns = gt_packed_offsets(c->seq_q, c->seq_k, cq, ck, &Nq, &Nk)) < 0) return;
  printf("case %d: %s %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld mask=%d pos=(%lld,%lld) qk~N(0,%g^2)", ci,
         c->dt == BF ? "bf16" : "fp16", c->bshd ? "BSHD" : "BHSD", (long long)c->B, (long long)c->Hq,
         (long long)c->Hkv, (long long)Nq, (long long)Nk, (long long)c->D, (int)c->mask, (long long)c->qpos,
         (long long)c->kpos, c->qk_scale);
  if (c->win) printf(" window=(%lld,%lld)", (long long)c->wl, (long long)c->wr);
  if (ns) printf(" seqs=%s/%s", c->seq_q, c->seq_k ? c->seq_k : c->seq_q);
  if (c->dense)
    printf(" dense bool mask%s", c->dense == 2 ? " (1, 1, Nq, Nk)" : c->dense >= DM_ALL ? " (fixed rows)" : "");
  printf("\n");
  fflush(stdout);
  const double tol = gt_tol(c->dt);
  char nm[192];
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = c->mask;
  prm.q_position = c->qpos;
  prm.k_position = c->kpos;
  if (c->win) prm.window_left = c->wl, prm.window_right = c->wr;
  if (ns) prm.cu_seqlens_q = cq, prm.cu_seqlens_k = ck, prm.num_seqs = ns;
  /* the CPU calls take prmc (the mask's host copy), the GPU ones prm */
  jfa_attention_params_t prmc = prm;
  jfa_tensor_t mhost, mdev;
  void *mhbuf = NULL, *mdptr = NULL;
  if (c->dense) {
    make_mask(c, Nq, Nk, &mhost, &mdev, &mhbuf, &mdptr);
    prm.attn_mask = &mdev;
    prmc.attn_mask = &mhost;
  }

  gbuf_t q = gb_new(c->dt, c->bshd, c->B, c->Hq, Nq, c->D), k = gb_new(c->dt, c->bshd, c->B, c->Hkv, Nk, c->D),
         v = gb_new(c->dt, c->bshd, c->B, c->Hkv, Nk, c->D), dout = gb_new(c->dt, c->bshd, c->B, c->Hq, Nq, c->D);
  gbuf_t o = gb_new(c->dt, c->bshd, c->B, c->Hq, Nq, c->D), lse = gb_new(JFA_DTYPE_FLOAT32, 0, c->B, c->Hq, Nq, 1),
         dq = gb_new(c->dt, c->bshd, c->B, c->Hq, Nq, c->D), dk = gb_new(c->dt, c->bshd, c->B, c->Hkv, Nk, c->D),
         dv = gb_new(c->dt, c->bshd, c->B, c->Hkv, Nk, c->D);
  gb_random(&q, c->qk_scale);
  gb_random(&k, c->qk_scale);
  gb_random(&v, 1.0);
  gb_random(&dout, 1.0);

  /* float64 reference on the CPU backend: its forward here, its backward below (on the GPU forward's o, lse) */
  const size_t nq = q.n, nk = k.n, nr = lse.n;
  double *ro = calloc(nq, 8), *rlse = calloc(nr, 8), *rdq = calloc(nq, 8), *rdk = calloc(nk, 8), *rdv = calloc(nk, 8);
  double *sdq = calloc(nq, 8), *sdk = calloc(nk, 8), *sdv = calloc(nk, 8);
  if (!ro || !rlse || !rdq || !rdk || !rdv || !sdq || !sdk || !sdv) {
    tu_expect("host allocation", 0);
    exit(1);
  }
  jfa_tensor_t hq = host_f64(q.val, c->B, c->Hq, Nq, c->D), hk = host_f64(k.val, c->B, c->Hkv, Nk, c->D),
               hv = host_f64(v.val, c->B, c->Hkv, Nk, c->D), hdo = host_f64(dout.val, c->B, c->Hq, Nq, c->D),
               ho = host_f64(ro, c->B, c->Hq, Nq, c->D), hl = host_f64(rlse, c->B, c->Hq, Nq, 1),
               hdq = host_f64(rdq, c->B, c->Hq, Nq, c->D), hdk = host_f64(rdk, c->B, c->Hkv, Nk, c->D),
               hdv = host_f64(rdv, c->B, c->Hkv, Nk, c->D);
  gt_ok(jfa_attention_forward(cpu, &prmc, &hq, &hk, &hv, &ho, &hl), "cpu forward");

  /* the GPU's own forward (o, lse), checked against the float64 one; the reference backward then
     takes them (the backward's inputs: see the top of the file), then the backward on the sm80
     reference context */
  gb_poison(&o);
  gb_poison(&lse);
  gt_ok(jfa_attention_forward(gpu, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t), "forward");
  gb_get(&o);
  gb_get(&lse);
  /* large logits: lse (smooth in the scores) to the dtype's tolerance; O within 0.1 only (a near tie of two scores
     moves a row's O by up to its V rows' difference), which still fails NaN, unwritten rows and wrong scaling */
  snprintf(nm, sizeof(nm), "case %d fwd O", ci);
  gt_compare(nm, o.val, ro, nq, c->qk_scale <= 1 ? tol : 0.1);
  snprintf(nm, sizeof(nm), "case %d fwd lse", ci);
  gt_compare(nm, lse.val, rlse, nr, tol);
  /* JFA_TEST_OWN_REF=1: the reference backward on its own forward's o and lse instead (the reference
     before 22cc317, which fails dQ / dK of correct kernels at some seeds: kept to show that) */
  const int own = getenv("JFA_TEST_OWN_REF") && atoi(getenv("JFA_TEST_OWN_REF"));
  jfa_tensor_t hgo = host_f64(o.val, c->B, c->Hq, Nq, c->D), hgl = host_f64(lse.val, c->B, c->Hq, Nq, 1);
  gt_ok(jfa_attention_backward(cpu, &prmc, &hq, &hk, &hv, own ? &ho : &hgo, own ? &hl : &hgl, &hdo, &hdq, &hdk, &hdv),
        "cpu backward");
  run_bwd(g_ref80, &prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
  memcpy(sdq, dq.val, nq * 8);
  memcpy(sdk, dk.val, nk * 8);
  memcpy(sdv, dv.val, nk * 8);
  const double e80[3] = {tu_rel_err(sdq, rdq, nq), tu_rel_err(sdk, rdk, nk), tu_rel_err(sdv, rdv, nk)};

  /* the backward under test */
  run_bwd(gpu, &prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
  snprintf(nm, sizeof(nm), "case %d bwd", ci);
  gt_check_path(gpu, nm, 1, want_path(c));
  /* its route (jfa_cuda_last_bwd_route) on the sm90 16-bit kernels: calls without masks beyond causal never on the
     MASKED instantiation; at D = 64, 96, 128 a call on the unmasked kernel (no masks, or a band) persistent exactly as
     gt_expected_bwd_persist says (JFA_SM90_BWD_PERSIST), the MASKED and column-split kernels never */
  const int masked = c->win || c->seq_q || c->dense || c->mask == POS || c->mask == NPOS;
  int persist = 0; /* the persistent kernel ran */
  if (want_path(c) == GT_PATH_SM90) {
    const int route = jfa_cuda_last_bwd_route(gpu);
    if (!masked) gt_check_bwd_route(gpu, nm, GT_ROUTE_MASKED, 0);
    const int unmasked_kernel = (c->D == 64 || c->D == 96 || c->D == 128) && route >= 0 && !(route & GT_ROUTE_MASKED);
    const int wp = unmasked_kernel ? gt_expected_bwd_persist(Nk) : 0;
    gt_check_bwd_route(gpu, nm, GT_ROUTE_PERSIST, wp);
    persist = route >= 0 && (route & GT_ROUTE_PERSIST) != 0;
  }
  const double e90[3] = {tu_rel_err(dq.val, rdq, nq), tu_rel_err(dk.val, rdk, nk), tu_rel_err(dv.val, rdv, nk)};
  printf("  rel err dQ dK dV: this run %.3g %.3g %.3g, sm80 context %.3g %.3g %.3g\n", e90[0], e90[1], e90[2],
         e80[0], e80[1], e80[2]);
  /* large logits: within 1.5x of the sm80 kernel's error on the same inputs (floor: the dtype's tolerance / 4), and
     both within 3x the dtype's tolerance (bench/RESULTS.md, bwd_logits.py: dQ / dK 0.55-0.9x of it at D = 64 / 128,
     as cuDNN's and flash's), so that a bug the two kernels share cannot loosen the bound */
  double tq = tol, tk = tol, tv = tol;
  if (c->qk_scale > 1) {
    tq = fmin(fmax(tol / 4, 1.5 * e80[0]), 3 * tol);
    tk = fmin(fmax(tol / 4, 1.5 * e80[1]), 3 * tol);
    tv = fmin(fmax(tol / 4, 1.5 * e80[2]), 3 * tol);
    snprintf(nm, sizeof(nm), "case %d bwd (sm80 context, large logits) dQ, dK, dV within 3x the tolerance", ci);
    tu_check(nm, tu_worst(tu_worst(e80[0], e80[1]), e80[2]), 3 * tol);
  }
  snprintf(nm, sizeof(nm), "case %d bwd dQ", ci);
  gt_compare(nm, dq.val, rdq, nq, tq);
  snprintf(nm, sizeof(nm), "case %d bwd dK", ci);
  gt_compare(nm, dk.val, rdk, nk, tk);
  snprintf(nm, sizeof(nm), "case %d bwd dV", ci);
  gt_compare(nm, dv.val, rdv, nk, tv);
  /* exact zeros where nothing is visible: rows without a key (dQ), keys no query sees (dK, dV) */
  int64_t bad_rows = 0, bad_keys = 0, empty_rows = 0, empty_keys = 0;
  for (size_t r = 0; r < nr; ++r)
    if (rlse[r] == -INFINITY) ++empty_rows, bad_rows += !gt_row_zero(dq.val, (int64_t)r, c->D);
  for (int64_t r = 0; r < c->B * c->Hkv * Nk; ++r)
    if (gt_row_zero(rdk, r, c->D) && gt_row_zero(rdv, r, c->D))
      ++empty_keys, bad_keys += !(gt_row_zero(dk.val, r, c->D) && gt_row_zero(dv.val, r, c->D));
  snprintf(nm, sizeof(nm), "case %d: %lld rows without keys exactly dQ = 0 (%lld bad), %lld keys without queries "
           "exactly dK = dV = 0 (%lld bad)", ci, (long long)empty_rows, (long long)bad_rows, (long long)empty_keys,
           (long long)bad_keys);
  tu_expect(nm, bad_rows == 0 && bad_keys == 0);

  /* the persistent kernel (JFA_SM90_BWD_PERSIST=1 or its default): the call again with JFA_SM90_BWD_PERSIST=0 on the
     same inputs (the kernel of one CTA a tile). dK and dV must be bitwise equal: the same products of each key tile
     in the same order and the same 16-bit conversions; only the CTAs' walk and the bytes that stage the epilogue
     differ. dQ within tolerance (its reduce-adds come in another order). */
  if (persist) {
    char *saved = gt_env_copy("JFA_SM90_BWD_PERSIST");
    memcpy(sdk, dk.val, nk * 8);
    memcpy(sdv, dv.val, nk * 8);
    gt_set_env("JFA_SM90_BWD_PERSIST", "0");
    run_bwd(gpu, &prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
    gt_set_env("JFA_SM90_BWD_PERSIST", saved);
    free(saved);
    snprintf(nm, sizeof(nm), "case %d bwd (JFA_SM90_BWD_PERSIST=0)", ci);
    gt_check_bwd_route(gpu, nm, GT_ROUTE_PERSIST, 0);
    snprintf(nm, sizeof(nm), "case %d non-persistent kernel's dQ", ci);
    gt_compare(nm, dq.val, rdq, nq, tq);
    snprintf(nm, sizeof(nm), "case %d dK, dV bitwise the non-persistent kernel's", ci);
    tu_expect(nm, memcmp(sdk, dk.val, nk * 8) == 0 && memcmp(sdv, dv.val, nk * 8) == 0);
  }

  /* JFA_TUNE_SM90_BWD=9 (tuning builds: SM90_DQ_TMAO, masked and unmasked at D <= 128): the call again
     with the variable unset (the default kernel on the same inputs: the unmasked calls' SPLITO, the
     masked ones' SM90_DQ_TMA), its dQ within tolerance. Unmasked: dK and dV must be bitwise SPLITO's (the
     same products per accumulator in the same order, the same P formula and dS). Masked: P's formula
     differs (ex2.approx.ftz of an FFMA against the old path's exp2f, which ptxas may or may not fuse into
     the same FFMA; equal where P >= 2^-126 if fused), so only printed whether they are bitwise equal; the
     float64 checks above are the test. Large-logit cases (P below 2^-126 likely) left out. dQ's
     reduce-adds come in another order either way. */
  const char *tune = getenv("JFA_TUNE_SM90_BWD");
  const int tmao = tune && (strcmp(tune, "9") == 0 || ((strcmp(tune, "10") == 0 || strcmp(tune, "11") == 0) && c->D == 64));
  if (tmao && c->qk_scale <= 1 && c->D <= 128 && want_path(c) == GT_PATH_SM90) {
    const char *tname = strcmp(tune, "9") == 0 ? "9" : strcmp(tune, "10") == 0 ? "10" : "11";
    memcpy(sdk, dk.val, nk * 8);
    memcpy(sdv, dv.val, nk * 8);
    unsetenv("JFA_TUNE_SM90_BWD");
    run_bwd(gpu, &prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
    setenv("JFA_TUNE_SM90_BWD", tname, 1);
    snprintf(nm, sizeof(nm), "case %d default kernel's dQ", ci);
    gt_compare(nm, dq.val, rdq, nq, tol);
    const int same = memcmp(sdk, dk.val, nk * 8) == 0 && memcmp(sdv, dv.val, nk * 8) == 0;
    if (masked) {
      printf("  masked: dK, dV %s the default kernel's (JFA_TUNE_SM90_BWD=%s; rel diff dK %.3g dV %.3g)\n",
             same ? "bitwise" : "NOT bitwise", tname, tu_rel_err(sdk, dk.val, nk), tu_rel_err(sdv, dv.val, nk));
    } else {
      snprintf(nm, sizeof(nm), "case %d dK, dV bitwise the default's (JFA_TUNE_SM90_BWD=%s)", ci, tname);
      tu_expect(nm, same);
    }
  }

  if (c->det) {
    /* deterministic: the same family (its dQ from simt), two runs bitwise equal */
    run_bwd(g_det, &prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
    snprintf(nm, sizeof(nm), "case %d bwd deterministic", ci);
    gt_check_path(g_det, nm, 1, want_path(c));
    memcpy(sdq, dq.val, nq * 8);
    memcpy(sdk, dk.val, nk * 8);
    memcpy(sdv, dv.val, nk * 8);
    snprintf(nm, sizeof(nm), "case %d det dQ", ci);
    gt_compare(nm, dq.val, rdq, nq, tol);
    snprintf(nm, sizeof(nm), "case %d det dK", ci);
    gt_compare(nm, dk.val, rdk, nk, tol);
    snprintf(nm, sizeof(nm), "case %d det dV", ci);
    gt_compare(nm, dv.val, rdv, nk, tol);
    run_bwd(g_det, &prm, &q, &k, &v, &o, &lse, &dout, &dq, &dk, &dv);
    snprintf(nm, sizeof(nm), "case %d det bitwise reproducible", ci);
    tu_expect(nm, memcmp(sdq, dq.val, nq * 8) == 0 && memcmp(sdk, dk.val, nk * 8) == 0 &&
                      memcmp(sdv, dv.val, nk * 8) == 0);
  }

  free(ro), free(rlse), free(rdq), free(rdk), free(rdv), free(sdq), free(sdk), free(sdv);
  gbuf_t *all[] = {&q, &k, &v, &dout, &o, &lse, &dq, &dk, &dv};
  for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) gb_free(all[i]);
  if (c->dense) cudaFree(mdptr), free(mhbuf);
}

/* A case: DM_DRAWS draws of its inputs with a fixed mask (make_mask), else one. */
static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const int draws = cases[ci].dense >= DM_ALL ? DM_DRAWS : 1;
  for (int d = 0; d < draws; ++d) run_draw(ci, gpu, cpu);
}

/* A CUDA context created with JFA_SM90_BWD set to val (NULL: unset) for its creation only. */
static jfa_context_t *context_with(const char *val) {
  const char *cur = getenv("JFA_SM90_BWD");
  char *saved = cur ? strdup(cur) : NULL;
  if (val) setenv("JFA_SM90_BWD", val, 1);
  else unsetenv("JFA_SM90_BWD");
  jfa_context_t *ctx = NULL;
  gt_ok(jfa_context_create(&ctx, JFA_DEVICE_CUDA, 0), "context_create(CUDA)");
  if (saved) setenv("JFA_SM90_BWD", saved, 1);
  else unsetenv("JFA_SM90_BWD");
  free(saved);
  return ctx;
}

int main(int argc, char **argv) {
  const int ncases = (int)(sizeof(cases) / sizeof(cases[0]));
  gt_require_gpu();
  tu_init_seed("test_gpu_sm90_bwd");
  const char *sb = getenv("JFA_SM90_BWD");
  const char *tv = getenv("JFA_TUNE_SM90_BWD");
  printf("JFA_SM90_BWD=%s JFA_TUNE_SM90_BWD=%s\n", sb ? sb : "(unset)", tv ? tv : "(unset)");
  jfa_context_t *gpu = NULL, *cpu = NULL;
  gt_ok(jfa_context_create(&gpu, JFA_DEVICE_CUDA, 0), "context_create(CUDA)");
  gt_ok(jfa_context_create(&cpu, JFA_DEVICE_CPU, 0), "context_create(CPU)");
  g_ref80 = context_with("0");
  g_det = context_with(sb);
  gt_ok(jfa_context_set_flags(g_det, JFA_FLAG_DETERMINISTIC), "set_flags(DETERMINISTIC)");
  if (argc > 1) {
    run_case(atoi(argv[1]) % ncases, gpu, cpu);
  } else {
    for (int i = 0; i < ncases; ++i) run_case(i, gpu, cpu);
  }
  jfa_context_destroy(g_det);
  jfa_context_destroy(g_ref80);
  jfa_context_destroy(gpu);
  jfa_context_destroy(cpu);
  return tu_finish();
}
