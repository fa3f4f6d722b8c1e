/*
 * test_gpu_masks.c - every mask kind of jfa_attention_params_t in the CUDA forward,
 * fused JVP and backward against the float64 CPU backend through the public API:
 * sliding windows (0, 1, 64, > N, one-sided), packed sequences (lengths 1, 7, 129,
 * empty ones, Nq != Nk per sequence, top-left and bottom-right), dense boolean and
 * additive masks (float32 and q's dtype, -inf entries, fully masked rows and a fully
 * masked head, broadcast batch/head axes, strided rows: 16-byte aligned ones, which the sm80 16-bit kernels
 * stage in shared memory, and unaligned ones, which they read per element) and their combinations, with
 * GQA, Nq != Nk, positions, BHSD/BSHD, bf16/fp16/fp32 (fp32 and unaligned 16-bit go
 * SIMT), head dims 32 to 256 (16-bit multiples of 8 must run on a tensor-core family; the
 * backward on sm90 where the unmasked call runs there, with an additive mask only for 16-bit biases of aligned rows
 * and not at D = 256, else sm80). Rows without a visible key must give exactly O = Od = mu = 0, lse = -inf
 * and dQ = 0; keys no query sees exactly dK = dV = 0. Accumulate mode is checked
 * through the backend calls (core/dispatch.c's, which split batches above 65535) over two key halves (as
 * test_gpu_modes does). Masks broadcast over their rows (a key-padding mask expanded: row stride 0, a block map of
 * one row a slice) in every family, and the memory that map takes at N = 16384 (mem_case). Every dense-mask case
 * runs once more with a block map the caller built (jfa_attention_mask_map_build, map_pass): bitwise the calls that
 * build their own (deterministic backward), and its refusals. JFA_TEST_MASKS_SKIP_BIG=1 (the CTest entries of one
 * switch within a family, tests/gpu/CMakeLists.txt) skips the cases of more than 65535 batch entries.
 *
 *   ctest -L gpu    or    ./test_gpu_masks [case-index]   (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "gpu_test.h"

#define UNB JFA_WINDOW_UNBOUNDED
enum { DN_NONE = 0, DN_BOOL, DN_F32, DN_QT }; /* dense mask: none, bool, float32 bias, bias in q's dtype */

typedef struct {
  jfa_dtype_t dt;
  int bshd;
  int64_t B, Hq, Hkv, Nq, Nk, D; /* Nq, Nk are the sums of seq_q / seq_k when those are set */
  jfa_mask_t mask;
  int64_t qpos, kpos;
  int64_t wl, wr;            /* window sides (UNB, UNB: no window) */
  const char *seq_q, *seq_k; /* packed sequence lengths ("1,7,129"), NULL: none; seq_k NULL = seq_q */
  int dense, dense_b1, dense_h1; /* 1: the mask's batch / head axis of size 1; 2: of extent B / Hq at stride 0 */
  int accumulate; /* also run the accumulate-mode check */
  int aligned;    /* the dense mask's rows 16 elements apart at least (a multiple of 16), else Nk + 5 */
  int row_bcast;  /* the dense mask's rows are one row, row stride 0 (a key-padding mask expanded over the queries,
                     whose block map is one row a slice); 2: mem_case instead (the map's memory at N = 16384) */
} mcase_t;

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define F32 JFA_DTYPE_FLOAT32
#define NONE JFA_MASK_NONE
#define TL JFA_MASK_CAUSAL_TOP_LEFT
#define BR JFA_MASK_CAUSAL_BOTTOM_RIGHT
#define CPOS JFA_MASK_CAUSAL_POSITIONS
#define POS JFA_MASK_POSITIONS
#define BRN JFA_MASK_BOTTOM_RIGHT /* not causal, a window anchored bottom-right (jfa 0.6) */

static const mcase_t cases[] = {
    /* dt bshd B Hq Hkv Nq Nk D mask qpos kpos wl wr seq_q seq_k dense b1 h1 acc */
    /* sliding windows */
    {BF, 0, 1, 2, 2, 300, 300, 64, TL, 0, 0, 64, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {BF, 0, 1, 2, 2, 300, 300, 64, NONE, 0, 0, 0, 0, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0}, /* w = 0: the diagonal */
    {BF, 0, 1, 2, 2, 300, 300, 64, TL, 0, 0, 1, UNB, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0},
    {BF, 1, 1, 8, 2, 257, 257, 128, NONE, 0, 0, 64, 64, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0}, /* GQA, symmetric */
    {BF, 0, 1, 2, 2, 200, 200, 64, TL, 0, 0, 1000, UNB, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0}, /* w > N */
    {BF, 0, 1, 2, 1, 129, 300, 96, BR, 0, 0, 64, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},   /* Nq != Nk */
    {BF, 0, 1, 2, 2, 100, 200, 64, POS, 500, 300, 30, 10, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0}, /* many rows empty */
    {BF, 0, 1, 2, 2, 77, 300, 32, CPOS, 500, 300, 100, UNB, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0},
    {BF, 0, 1, 2, 2, 200, 200, 64, NONE, 0, 0, UNB, 5, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0}, /* right side only */
    {FH, 1, 2, 4, 2, 300, 300, 64, TL, 0, 0, 64, UNB, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0},
    {F32, 0, 1, 2, 2, 300, 300, 64, TL, 0, 0, 64, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {BF, 0, 1, 2, 2, 100, 100, 60, TL, 0, 0, 7, UNB, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0}, /* unaligned: SIMT */
    /* packed sequences */
    {BF, 1, 1, 2, 2, 0, 0, 64, NONE, 0, 0, UNB, UNB, "1,7,129", NULL, DN_NONE, 0, 0, 1, 0, 0},
    {BF, 1, 1, 4, 2, 0, 0, 64, TL, 0, 0, UNB, UNB, "1,7,0,129,64", NULL, DN_NONE, 0, 0, 1, 0, 0},
    {BF, 1, 1, 2, 2, 0, 0, 128, BR, 0, 0, UNB, UNB, "1,7,129", "5,3,200", DN_NONE, 0, 0, 1, 0, 0}, /* Nq != Nk */
    {BF, 1, 1, 2, 2, 0, 0, 64, TL, 0, 0, UNB, UNB, "1,7,129", "5,3,200", DN_NONE, 0, 0, 0, 0, 0},   /* top-left */
    {BF, 1, 1, 2, 2, 0, 0, 64, TL, 0, 0, 16, UNB, "7,129,300", NULL, DN_NONE, 0, 0, 1, 0, 0},      /* + window */
    {BF, 1, 1, 2, 2, 0, 0, 64, BR, 0, 0, 1, 0, "33,0,129", "40,5,100", DN_NONE, 0, 0, 0, 0, 0},
    {FH, 1, 1, 2, 1, 0, 0, 64, TL, 0, 0, UNB, UNB, "1,7,129,4", NULL, DN_NONE, 0, 0, 0, 0, 0},
    {F32, 1, 1, 2, 2, 0, 0, 32, BR, 0, 0, 64, UNB, "1,7,129", "3,7,100", DN_NONE, 0, 0, 1, 0, 0},
    /* dense masks */
    {BF, 0, 2, 2, 2, 129, 129, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 1, 0, 0},
    {BF, 0, 2, 4, 2, 129, 200, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 1, 0, 0, 0}, /* broadcast both */
    {BF, 1, 2, 4, 1, 200, 129, 64, TL, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 0, 1, 1, 0, 0},    /* + causal */
    {BF, 0, 1, 2, 2, 129, 129, 128, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 1, 0, 0, 0, 0},
    {FH, 0, 1, 2, 2, 300, 300, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 0, 0, 0, 0},
    {F32, 0, 1, 2, 2, 129, 129, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 0, 0, 1, 0, 0},
    {F32, 1, 2, 2, 1, 65, 100, 256, BR, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 0, 0, 0},
    /* float32 boolean masks on the sm90 float32 forward / JVP (fwd_f32.cuh DM; D = 128's JVP on sm80), the
       backward on sm80's float32 kernel with the mask's bits in shared memory: several key blocks, words split
       across blocks (BN 32 / 64 / 128), causal both ways with Nq != Nk, GQA, broadcast mask axes */
    {F32, 0, 2, 2, 2, 129, 129, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 1, 0, 0},
    {F32, 1, 1, 4, 2, 200, 300, 128, BR, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 0, 0, 0, 0},
    {F32, 0, 1, 2, 2, 300, 200, 32, TL, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 1, 0, 0},
    {F32, 1, 2, 2, 1, 1000, 1000, 64, TL, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 0, 0, 0},
    /* combinations */
    {BF, 0, 1, 2, 2, 300, 300, 64, TL, 0, 0, 64, UNB, NULL, NULL, DN_BOOL, 0, 0, 1, 0, 0},       /* window + dense */
    {BF, 1, 1, 2, 2, 0, 0, 64, TL, 0, 0, 16, UNB, "7,129,1", NULL, DN_F32, 1, 1, 1, 0, 0},       /* seqs + window + bias */
    {FH, 1, 1, 4, 2, 0, 0, 64, BR, 0, 0, UNB, 3, "1,7,129", "9,7,150", DN_BOOL, 1, 0, 0, 0, 0}, /* seqs + dense */
    /* head dims: 96, 160, 192, 256 and odd ones (D > 128: the JVP and backward in column slices; the
       accumulate-mode JVP there in two launches) */
    {BF, 0, 1, 2, 2, 300, 300, 256, TL, 0, 0, 64, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},       /* window */
    {FH, 1, 1, 4, 2, 0, 0, 192, BR, 0, 0, UNB, UNB, "1,7,129", "5,3,200", DN_NONE, 0, 0, 1, 0, 0}, /* seqs, GQA */
    {BF, 0, 2, 4, 2, 129, 200, 160, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 0, 0, 0, 0},     /* dense */
    {FH, 0, 1, 2, 1, 200, 129, 200, TL, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 0, 0, 1, 0, 0},        /* bias, D -> 256 */
    {BF, 1, 1, 2, 2, 100, 200, 136, POS, 500, 300, 30, 10, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0},   /* D -> 160 */
    {FH, 0, 1, 2, 2, 300, 300, 96, NONE, 0, 0, 64, 64, NULL, NULL, DN_QT, 0, 0, 0, 0, 0},         /* window + bias */
    {BF, 1, 1, 2, 2, 0, 0, 80, TL, 0, 0, 16, UNB, "7,129,300", NULL, DN_BOOL, 0, 1, 1, 0, 0},     /* D -> 96 */
    {FH, 0, 1, 4, 2, 257, 257, 256, NONE, 0, 0, 64, 64, NULL, NULL, DN_BOOL, 0, 0, 0, 0, 0},      /* window + dense */
    /* bands (windows alone; the sm90 backward runs them on its unmasked kernel at D = 96 / 128) over several
       key blocks: blocks inside the band (no per-element test), blocks crossing either side, blocks outside */
    {BF, 0, 1, 2, 2, 1000, 1000, 128, TL, 0, 0, 300, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {FH, 1, 1, 4, 2, 700, 1000, 128, POS, 0, 300, 200, 50, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0}, /* two sides, GQA */
    {BF, 0, 2, 2, 1, 513, 600, 96, BR, 0, 0, 130, UNB, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0},
    /* and on the forward / JVP's unmasked kernels (fwd.cuh sm90_fwd_band; test_gpu_masks_nofwdband: the MASKED ones):
       D = 64's three consumers (192 rows a CTA) and persistent JVP, D = 192 / 256's column splits; a window narrower
       than a block, rows past every key (positions), both sides */
    {BF, 0, 1, 2, 2, 1000, 1000, 64, TL, 0, 0, 200, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {FH, 1, 2, 4, 1, 600, 900, 64, POS, 700, 0, 40, 30, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0},
    {BF, 0, 1, 2, 2, 700, 700, 192, NONE, 0, 0, 100, 250, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {FH, 1, 1, 2, 2, 500, 800, 256, BR, 0, 0, 70, UNB, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0},
    /* packed sequences whose boundaries are multiples of 128 (self-attention): bands too (common/mask.cuh
       mask_packed_aligned: the backward's, and the JVP's where its blocks divide them); the last one of any length */
    {BF, 1, 1, 2, 2, 0, 0, 128, TL, 0, 0, UNB, UNB, "256,128,384", NULL, DN_NONE, 0, 0, 1, 0, 0},
    {FH, 1, 1, 4, 2, 0, 0, 96, NONE, 0, 0, UNB, UNB, "128,384,128", NULL, DN_NONE, 0, 0, 0, 0, 0}, /* not causal, GQA */
    {BF, 0, 1, 2, 1, 0, 0, 128, BR, 0, 0, 100, UNB, "512,256,200", NULL, DN_NONE, 0, 0, 1, 0, 0},  /* + window */
    /* and the JVP's column splits (blocks of 64 rows and 64 keys: aligned to 64; D = 192 at 48 keys aligned to 192
       before the thirty-eighth session) */
    {FH, 0, 1, 2, 2, 0, 0, 192, TL, 0, 0, UNB, UNB, "384,768,100", NULL, DN_NONE, 0, 0, 0, 0, 0},
    {BF, 1, 1, 4, 2, 0, 0, 256, TL, 0, 0, 90, UNB, "256,64,300", NULL, DN_NONE, 0, 0, 1, 0, 0},
    /* additive masks with 16-byte aligned rows: the sm80 16-bit kernels copy their tiles into shared memory
       (common/mask.cuh mask_bias_tile_async) with the blocks' K / V (forward, JVP) or Q / dO (backward); key
       tails inside a 16-byte chunk (Nk = 257, 1007), several blocks, causal both ways, GQA, broadcast axes,
       float32 biases with 16-bit q, D = 256 (its backward's tiles leave no room: biases from global memory) */
    {BF, 0, 1, 4, 2, 300, 257, 128, BR, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 0, 1, 1, 0},
    {FH, 1, 2, 2, 1, 129, 200, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 0, 1, 1, 1, 0},
    {BF, 1, 1, 2, 2, 1000, 1007, 64, TL, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 1, 0, 0, 1, 0},
    {FH, 0, 1, 2, 2, 300, 300, 96, NONE, 0, 0, 64, 64, NULL, NULL, DN_QT, 0, 0, 1, 1, 0},     /* + window */
    {BF, 0, 1, 2, 1, 200, 129, 256, TL, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 0, 1, 1, 0},
    /* float32 (sm80's float32 kernels read the biases per element: the tiles did not pay there, bench/RESULTS.md) */
    {F32, 0, 1, 2, 2, 300, 257, 64, TL, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 0, 0, 1, 1, 0},
    {F32, 1, 2, 4, 2, 129, 200, 128, BR, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 0, 1, 0, 1, 0},
    {F32, 0, 1, 2, 1, 100, 300, 32, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 1, 0, 1, 1, 0},
    /* 16-bit biases of aligned rows on the sm90 backward (D = 64, 128; bwd.cuh's bias tiles): fp16 with GQA and a
       broadcast head axis; a window with causal over Nk > Nq and a broadcast batch axis (tiles the block map calls
       partial that the intervals leave empty for one consumer: released unread) */
    {FH, 1, 2, 4, 2, 129, 300, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 1, 1, 1, 0},
    {BF, 0, 2, 2, 2, 257, 1000, 128, BR, 0, 0, 200, UNB, NULL, NULL, DN_QT, 1, 0, 0, 1, 0},
    /* dense masks on the sm90 backward at D = 96, 192, 256 (the D = 96 slabs; the column split's one tile for both
       consumers): boolean with GQA / MQA, causal both ways, broadcast axes, a window; biases at D = 192 (D = 256's
       run on sm80: no room for the tile) */
    {BF, 0, 1, 4, 2, 300, 257, 96, BR, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 1, 0, 0},
    {FH, 1, 2, 2, 1, 129, 300, 192, TL, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 0, 1, 0, 0},
    {BF, 0, 1, 4, 2, 257, 200, 192, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 1, 1, 1, 0},
    {FH, 1, 2, 2, 2, 200, 300, 192, BR, 0, 0, 100, UNB, NULL, NULL, DN_QT, 1, 0, 0, 1, 0},
    {BF, 1, 1, 2, 2, 200, 200, 256, BR, 0, 0, 50, UNB, NULL, NULL, DN_BOOL, 0, 0, 0, 0, 0},
    {BF, 0, 1, 2, 1, 129, 129, 96, TL, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 0, 1, 1, 0},
    /* packed sequences whose boundaries are multiples of 128 at D = 64: bands on the sm90 backward's unmasked kernel
       (128 query rows a stage, 128 keys a CTA) since the twenty-fifth session (test_gpu_masks_nobwdband: the MASKED
       one); GQA with a window, the last sequence of any length */
    {BF, 1, 1, 2, 2, 0, 0, 64, TL, 0, 0, UNB, UNB, "256,128,384", NULL, DN_NONE, 0, 0, 1, 0, 0},
    {FH, 0, 1, 4, 2, 0, 0, 64, BR, 0, 0, 100, UNB, "128,512,300", NULL, DN_NONE, 0, 0, 0, 0, 0},
    /* more batch entries than a grid axis holds (65535): core/dispatch.c runs the call in batch chunks, each with
       its entries' views of a per-batch dense mask (a broadcast one whole) */
    {BF, 0, 66000, 2, 1, 5, 9, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 1, 0, 0},
    {FH, 1, 66000, 1, 1, 4, 6, 128, TL, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 0, 0, 0, 0},
    {BF, 0, 66000, 1, 1, 4, 6, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 0, 0, 0, 0},
    /* coverage audit (appended: the indices above stay). 75: a float32 boolean mask at D = 64 (the sm90 float32
       forward / JVP DM and the sm90 float32 backward DM, the only float32 backward that reads a mask) with bottom-right
       causal, Nq > Nk (rows < 100 see no key), GQA 2:1 (Hkv > 1), BSHD; its TF32 pass below (tf32_pass) */
    {F32, 1, 1, 4, 2, 300, 200, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 1, 0, 0},
    /* 76-78: causal sliding windows with GQA of Hkv > 1 (MQA's Hkv = 1 maps every head to kv head 0 and cannot show a
       wrong head map): D = 128 (the persistent MASKED forward, the JVP's band, the backward's band), D = 96 (BSHD,
       bottom-right, Nq < Nk), D = 192 (the JVP's column-split band, the MASKED column-split backward); accumulate too */
    {BF, 0, 1, 8, 2, 512, 512, 128, TL, 0, 0, 200, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {FH, 1, 1, 6, 2, 300, 500, 96, BR, 0, 0, 100, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {BF, 0, 1, 4, 2, 400, 400, 192, TL, 0, 0, 150, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    /* 79, 80: 16-bit biases of aligned rows with GQA of Hkv > 1: D = 256 (the sm90 forward / JVP's bias tiles, the
       backward on sm80), D = 96 (all three on sm90), per (batch, head) and broadcast over heads */
    {BF, 1, 1, 8, 2, 300, 257, 256, BR, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 0, 1, 1, 0},
    {FH, 0, 1, 6, 2, 257, 300, 96, TL, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 1, 1, 1, 0},
    /* 81, 82: sm80's float32 MASKED instantiations that no case above reaches: D = 96 forward / JVP with a window
       (BSHD, GQA, bottom-right, Nq < Nk); D = 160 with a boolean mask (the forward at the D = 256 tiles, the JVP in two
       column slices at 160, the backward's two slices at 256), also in the TF32 pass */
    {F32, 1, 1, 4, 2, 200, 300, 96, BR, 0, 0, 64, UNB, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {F32, 0, 1, 2, 1, 150, 150, 160, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 0, 0, 0},
    /* 83-93: masks broadcast over their rows (row stride 0: the drop-in's key-padding mask (B, 1, 1, S) expanded), whose
       block map is one row a slice read at row strides 0 by every reader: the sm90 forward / JVP producer's words and
       flags (D = 64, 128, 256), the sm90 backward's word transpose (rows l, l + 32) and flag walk (D = 64, 96, 192),
       its bias tiles' flags (16-bit aligned biases), sm80's 16-bit forward / backward (D = 80), the float32 kernels
       (sm90 DM forward / JVP / backward, sm80's mask words in shared memory), simt (D = 60); several row tiles, causal
       both ways, windows, GQA, broadcast batch / head axes, per head with the last head fully masked, accumulate */
    {BF, 0, 2, 4, 2, 300, 257, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 1, 0, 1},
    {FH, 1, 1, 4, 2, 1000, 1000, 128, TL, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 1, 0, 1},
    {BF, 0, 2, 2, 1, 257, 300, 96, BR, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 1, 0, 1},
    {FH, 1, 2, 2, 2, 200, 300, 192, TL, 0, 0, 100, UNB, NULL, NULL, DN_BOOL, 1, 0, 0, 0, 1},
    {BF, 0, 1, 2, 2, 300, 300, 256, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 0, 0, 1},
    {BF, 1, 2, 4, 2, 300, 257, 128, BR, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 1, 1, 1, 1},
    {FH, 0, 1, 4, 2, 257, 300, 64, NONE, 0, 0, 64, 64, NULL, NULL, DN_QT, 0, 0, 1, 1, 1},
    {BF, 0, 2, 2, 1, 300, 200, 80, TL, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 1, 0, 1},
    {F32, 1, 2, 4, 2, 300, 300, 64, BR, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 1, 0, 1},
    {F32, 0, 1, 2, 2, 200, 257, 128, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 0, 0, 1, 1, 1},
    {BF, 0, 1, 2, 2, 100, 130, 60, TL, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 1, 1, 0, 0, 1},
    /* 94: the map's memory: a key-padding mask at N = 16384 (mem_case) */
    {BF, 0, 2, 2, 1, 16384, 16384, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 0, 0, 2},
    /* 95-97: masks a C caller expanded over batch / heads (dense_b1, dense_h1 = 2: extent B / Hq at stride 0; the
       block map keeps one slice for such an axis): boolean, 16-bit aligned biases with causal, and a key-padding mask
       expanded over every axis but the keys */
    {BF, 0, 2, 4, 2, 300, 257, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 2, 2, 1, 0, 0},
    {FH, 1, 2, 2, 2, 257, 300, 128, BR, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 2, 0, 1, 1, 0},
    {BF, 0, 3, 2, 1, 200, 300, 128, TL, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 2, 0, 0, 1},
    /* 98: a float32 bias broadcast over its rows whose head stride (Nk + 5 elements) is not 16-byte aligned: the map's
       element-a-lane row kernel (bmap_rows_kernel) at one row a slice, which no case above reaches (their row-stride-0
       additive masks all take bmap_rows_bias_kernel); sm80 (float32 biases with 16-bit q), several row tiles */
    {BF, 0, 2, 2, 2, 200, 130, 64, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_F32, 0, 0, 0, 0, 1},
    /* 99-101: windows without a causal mask anchored bottom-right (JFA_MASK_BOTTOM_RIGHT, FlashAttention's window_size;
       jfa 0.6): Nq < Nk with GQA at D = 128 (sm90's masked forward, the JVP's band, the backward's band at q_pos0 =
       Nk - Nq), Nq > Nk at D = 64 (rows before Nq - Nk - wr see no key), packed sequences whose query and key lengths
       differ (the per-sequence shift, with causal = 0), accumulate in the first and last */
    {BF, 0, 1, 8, 2, 257, 1000, 128, BRN, 0, 0, 100, 20, NULL, NULL, DN_NONE, 0, 0, 1, 0, 0},
    {FH, 1, 1, 4, 2, 600, 300, 64, BRN, 0, 0, 30, 10, NULL, NULL, DN_NONE, 0, 0, 0, 0, 0},
    {BF, 1, 1, 4, 2, 0, 0, 64, BRN, 0, 0, 4, 2, "1,7,129,0,13", "3,2,140,0,20", DN_NONE, 0, 0, 1, 0, 0},
    /* 102: packed sequences at D = 192 aligned to 64 but not to 192 (boundaries 64, 192, 320): the JVP's column split
       at 64 keys a block since the thirty-eighth session takes them as a band (before, at 48 keys, lcm(64, 48) = 192:
       the MASKED kernel); GQA, accumulate */
    {BF, 1, 1, 4, 2, 0, 0, 192, TL, 0, 0, UNB, UNB, "64,128,128,100", NULL, DN_NONE, 0, 0, 1, 0, 0},
    /* 103-108: dense masks at head dims below 64 (multiples of 8) on the D = 64 sm90 kernels, their columns zero-padded
       (tiles.h kSm90PadDense; the checks above expect sm90 there: gt_expected_dense_path): boolean with GQA, Nq != Nk
       and accumulate mode (D = 32), causal with broadcast mask axes (D = 16, bshd), 16-bit biases of aligned rows with
       MQA (D = 40), the smallest head dim with accumulate mode (D = 8), packed sequences with a window (D = 56); and
       unaligned 16-bit biases, which stay on sm80 (D = 32) */
    {BF, 0, 2, 4, 2, 300, 257, 32, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 0, 1, 0, 0},
    {FH, 1, 1, 2, 2, 200, 200, 16, TL, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 1, 1, 0, 0, 0},
    {BF, 0, 1, 4, 1, 129, 300, 40, BR, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 0, 0, 1, 0},
    {FH, 0, 2, 2, 2, 65, 65, 8, NONE, 0, 0, UNB, UNB, NULL, NULL, DN_BOOL, 0, 1, 1, 0, 0},
    {BF, 1, 1, 2, 2, 0, 0, 56, TL, 0, 0, 16, UNB, "7,129,300", NULL, DN_BOOL, 0, 0, 0, 0, 0},
    {BF, 0, 1, 2, 2, 100, 130, 32, TL, 0, 0, UNB, UNB, NULL, NULL, DN_QT, 0, 0, 0, 0, 0},
};

typedef struct {
  jfa_dtype_t mdt;      /* device dtype of the mask */
  jfa_tensor_t dev, host; /* strided device view, contiguous CPU tensor (bool or float64) */
  void *dptr, *hptr;
} dmask_t;

/* Random mask: ~25% masked entries, rows i % 13 == 5 fully masked, and the last head fully
   masked when the head axis is not broadcast. Device rows have stride Nk + 5 (strided), or Nk rounded up to a
   multiple of 16 (c->aligned). c->row_bcast: every row is row 0 (random entries, the last 7 + 29 b keys of batch b
   masked as padding, no row rule), the device rows one row at stride 0. */
static void make_dense(dmask_t *m, const mcase_t *c, int64_t Nq, int64_t Nk) {
  const int64_t mB = c->dense_b1 ? 1 : c->B, mH = c->dense_h1 ? 1 : c->Hq;
  const int64_t ld = c->aligned ? (Nk + 15) / 16 * 16 : Nk + 5, drows = c->row_bcast ? 1 : Nq;
  const size_t n = (size_t)(mB * mH * Nq * Nk), nd = (size_t)(mB * mH * drows * ld);
  m->mdt = c->dense == DN_BOOL ? JFA_DTYPE_BOOL : c->dense == DN_F32 ? JFA_DTYPE_FLOAT32 : c->dt;
  double *val = malloc(n * sizeof(double)), *r = malloc(n * sizeof(double));
  tu_fill_normal(r, n, 1.0);
  size_t x = 0;
  for (int64_t b = 0; b < mB; ++b)
    for (int64_t h = 0; h < mH; ++h)
      for (int64_t i = 0; i < Nq; ++i)
        for (int64_t j = 0; j < Nk; ++j, ++x) {
          const size_t xr = c->row_bcast ? (size_t)((b * mH + h) * Nq * Nk + j) : x; /* row 0's draw */
          const int rowrule = c->row_bcast ? j >= Nk - (7 + 29 * b) % (Nk / 2 + 1) : i % 13 == 5;
          int masked = fabs(r[xr]) > 1.15 || rowrule || (!c->dense_h1 && mH > 1 && h == mH - 1);
          val[x] = c->dense == DN_BOOL ? (masked ? 0.0 : 1.0) : (masked ? -INFINITY : tu_round(r[xr] * 0.7, m->mdt));
        }
  /* host reference tensor */
  if (c->dense == DN_BOOL) {
    unsigned char *hb = malloc(n ? n : 1);
    for (size_t e = 0; e < n; ++e) hb[e] = val[e] != 0.0;
    m->hptr = hb;
    m->host = jfa_tensor_bhsd(hb, JFA_DTYPE_BOOL, JFA_DEVICE_CPU, mB, mH, Nq, Nk);
  } else {
    double *hd = malloc((n ? n : 1) * sizeof(double));
    memcpy(hd, val, n * sizeof(double));
    m->hptr = hd;
    m->host = jfa_tensor_bhsd(hd, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, mB, mH, Nq, Nk);
  }
  /* device tensor with row stride ld */
  const size_t es = jfa_dtype_size(m->mdt);
  void *stage = calloc(nd ? nd : 1, es);
  jfa_tensor_t st = jfa_tensor_bhsd(stage, m->mdt, JFA_DEVICE_CPU, mB, mH, Nq, Nk);
  st.stride[2] = c->row_bcast ? 0 : ld, st.stride[1] = drows * ld, st.stride[0] = mH * drows * ld;
  /* the host staging keeps size-1 axes; the device view below gets the expanded extents (dense_b1, dense_h1 = 2) */
  if (c->dense == DN_BOOL) {
    x = 0;
    for (int64_t b = 0; b < mB; ++b)
      for (int64_t h = 0; h < mH; ++h)
        for (int64_t i = 0; i < Nq; ++i)
          for (int64_t j = 0; j < Nk; ++j, ++x)
            ((unsigned char *)stage)[b * st.stride[0] + h * st.stride[1] + i * st.stride[2] + j] = val[x] != 0.0;
  } else {
    tu_scatter(val, &st);
  }
  if (cudaMalloc(&m->dptr, nd * es + 16) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(mask)");
  cudaMemcpy(m->dptr, stage, nd * es, cudaMemcpyHostToDevice);
  m->dev = st;
  m->dev.data = m->dptr;
  m->dev.device = JFA_DEVICE_CUDA;
  if (c->dense_b1 == 2) m->dev.shape[0] = c->B, m->dev.stride[0] = 0;
  if (c->dense_h1 == 2) m->dev.shape[1] = c->Hq, m->dev.stride[1] = 0;
  free(stage), free(val), free(r);
}

/* Where case c's last forward (jvp = 0) or JVP ran, when that was the sm90 family in 16 bits: gt_expected_route (ns
   packed sequences at offsets cq / ck: gt_packed_kind), and for the forward gt_expected_fwd_persist. */
static void check_route(jfa_context_t *gpu, const char *nm, const mcase_t *c, int ns, const int64_t *cq,
                        const int64_t *ck, int jvp) {
  if (c->dt == F32 || jfa_cuda_last_kernel(gpu, 0) != GT_PATH_SM90) return;
  const int win = c->wl != UNB || c->wr != UNB, dense = c->dense != DN_NONE;
  const int persist = jvp ? -1 : gt_expected_fwd_persist(c->D, win, ns > 0, dense);
  gt_check_route(gpu, nm, GT_ROUTE_MASKED | GT_ROUTE_BAND | (persist >= 0 ? GT_ROUTE_PERSIST : 0),
                 gt_expected_route(win, gt_packed_kind(c->D, jvp, cq, ck, ns), dense, jvp) |
                     (persist > 0 ? GT_ROUTE_PERSIST : 0));
}

/* float32 with a boolean dense mask once more in TF32 (JFA_FLAG_ALLOW_TF32: jfa.torch sets it for
   torch.set_float32_matmul_precision("high" / "medium")): the sm90 float32 forward / JVP's DM kernels and the sm90
   float32 backward's DM at their TF32 tiles (other key blocks and query rows than 3xTF32's), sm80's float32 kernels
   elsewhere; against the float64 reference at TF32's bound (1e-2, test_gpu_f32 / test_gpu_f32_backward) and with
   the arithmetic reported (jfa_cuda_last_precision: 1 TF32, 0 simt) */
static void tf32_pass(int ci, jfa_context_t *gpu, const jfa_attention_params_t *pg, gbuf_t *q, gbuf_t *k, gbuf_t *v,
                      gbuf_t *qd, gbuf_t *kd, gbuf_t *vd, gbuf_t *dout, gbuf_t *o, gbuf_t *lse, gbuf_t *od, gbuf_t *mu,
                      gbuf_t *dq, gbuf_t *dk, gbuf_t *dv, const double *ro, const double *rlse, const double *rod,
                      const double *rmu, const double *rdq, const double *rdk, const double *rdv, int64_t D) {
  const double t = 1e-2;
  char nm[128];
  gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_ALLOW_TF32), "set_flags(TF32)");
  gb_poison(o), gb_poison(lse);
  gt_ok(jfa_attention_forward(gpu, pg, &q->t, &k->t, &v->t, &o->t, &lse->t), "forward(TF32)");
  gb_get(o), gb_get(lse);
  const int ff = gt_expected_f32_path(D, 0, !gt_sm90_f32_dense_on());
  snprintf(nm, sizeof(nm), "case %d tf32 fwd", ci), gt_check_path(gpu, nm, 0, ff);
  snprintf(nm, sizeof(nm), "case %d tf32 fwd arithmetic %d (1 TF32, 0 simt)", ci, jfa_cuda_last_precision(gpu, 0));
  tu_expect(nm, jfa_cuda_last_precision(gpu, 0) == (ff == GT_PATH_SIMT ? 0 : 1));
  snprintf(nm, sizeof(nm), "case %d tf32 fwd O", ci), gt_compare(nm, o->val, ro, o->n, t);
  snprintf(nm, sizeof(nm), "case %d tf32 fwd lse", ci), gt_compare_floor(nm, lse->val, rlse, lse->n, t, 1.0);

  gb_poison(o), gb_poison(lse), gb_poison(od), gb_poison(mu);
  gt_ok(jfa_attention_forward_jvp(gpu, pg, &q->t, &k->t, &v->t, &qd->t, &kd->t, &vd->t, &o->t, &lse->t, &od->t, &mu->t),
        "forward_jvp(TF32)");
  gb_get(o), gb_get(lse), gb_get(od), gb_get(mu);
  const int fj = gt_expected_f32_path(D, 1, !gt_sm90_f32_dense_on());
  snprintf(nm, sizeof(nm), "case %d tf32 jvp", ci), gt_check_path(gpu, nm, 0, fj);
  snprintf(nm, sizeof(nm), "case %d tf32 jvp O", ci), gt_compare(nm, o->val, ro, o->n, t);
  snprintf(nm, sizeof(nm), "case %d tf32 jvp lse", ci), gt_compare_floor(nm, lse->val, rlse, lse->n, t, 1.0);
  snprintf(nm, sizeof(nm), "case %d tf32 jvp Od", ci), gt_compare(nm, od->val, rod, od->n, t);
  snprintf(nm, sizeof(nm), "case %d tf32 jvp mu", ci), gt_compare_floor(nm, mu->val, rmu, mu->n, t, 1.0);

  /* the backward alone: from the float64 forward's o and lse rounded to float32 (test_gpu_f32_backward's way) */
  gb_set(o, ro), gb_set(lse, rlse);
  gb_poison(dq), gb_poison(dk), gb_poison(dv);
  gt_ok(jfa_attention_backward(gpu, pg, &q->t, &k->t, &v->t, &o->t, &lse->t, &dout->t, &dq->t, &dk->t, &dv->t),
        "backward(TF32)");
  gb_get(dq), gb_get(dk), gb_get(dv);
  const int fb = gt_expected_f32_bwd_path(D, !gt_sm90_f32_bwd_dense_on());
  snprintf(nm, sizeof(nm), "case %d tf32 bwd", ci), gt_check_path(gpu, nm, 1, fb);
  snprintf(nm, sizeof(nm), "case %d tf32 bwd arithmetic %d (1 TF32, 0 simt)", ci, jfa_cuda_last_precision(gpu, 1));
  tu_expect(nm, jfa_cuda_last_precision(gpu, 1) == (fb == GT_PATH_SIMT ? 0 : 1));
  snprintf(nm, sizeof(nm), "case %d tf32 bwd dQ", ci), gt_compare(nm, dq->val, rdq, dq->n, t);
  snprintf(nm, sizeof(nm), "case %d tf32 bwd dK", ci), gt_compare(nm, dk->val, rdk, dk->n, t);
  snprintf(nm, sizeof(nm), "case %d tf32 bwd dV", ci), gt_compare(nm, dv->val, rdv, dv->n, t);
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");
}

/* Device memory in use (cudaMemGetInfo), in bytes, after a device synchronise. */
static int64_t mem_used(void) {
  size_t fr = 0, tot = 0;
  if (cudaDeviceSynchronize() != cudaSuccess || cudaMemGetInfo(&fr, &tot) != cudaSuccess)
    gt_ok(JFA_ERROR_CUDA, "cudaMemGetInfo");
  return (int64_t)(tot - fr);
}

/* Case row_bcast == 2: a key-padding mask's block map is one row a slice. c's forward and JVP with a (B, 1, Nq, Nk)
   boolean mask at row stride 0 (batch b pads its last 5000 (1 - b) keys; a random quarter masked) on a fresh context
   must grow the device memory in use by less than 16 MiB, its workspace included (modules loaded by the same calls
   on the test's context first): a map of every row takes B Nq Nk / 8 bytes of words and B Nq Nk / 64 of row flags
   (72 MiB at B = 2, N = 16384). The same mask materialised (row stride Nk: a map of every row, the same flags and
   words) must give bitwise the same outputs. */
static void mem_case(int ci, jfa_context_t *gpu) {
  const mcase_t *c = &cases[ci];
  const int64_t B = c->B, H = c->Hq, Hkv = c->Hkv, N = c->Nq, Nk = c->Nk, D = c->D;
  printf("case %d: the block map's memory: %s B=%lld H=%lld Hkv=%lld N=%lld Nk=%lld D=%lld, key-padding mask\n", ci,
         c->dt == BF ? "bf16" : "fp16", (long long)B, (long long)H, (long long)Hkv, (long long)N, (long long)Nk,
         (long long)D);
  fflush(stdout);
  unsigned char *row = malloc((size_t)(B * Nk));
  double *r = malloc((size_t)(B * Nk) * sizeof(double));
  tu_fill_normal(r, (size_t)(B * Nk), 1.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < Nk; ++j) row[b * Nk + j] = !(fabs(r[b * Nk + j]) > 1.15 || (b == 0 && j >= Nk - 5000));
  void *dbc = NULL, *dfull = NULL;
  if (cudaMalloc(&dbc, (size_t)(B * Nk)) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(mask)");
  cudaMemcpy(dbc, row, (size_t)(B * Nk), cudaMemcpyHostToDevice);
  jfa_tensor_t mbc = jfa_tensor_bhsd(dbc, JFA_DTYPE_BOOL, JFA_DEVICE_CUDA, B, 1, N, Nk);
  mbc.stride[2] = 0, mbc.stride[1] = Nk, mbc.stride[0] = Nk;
  gbuf_t q = gb_new(c->dt, 0, B, H, N, D), k = gb_new(c->dt, 0, B, Hkv, Nk, D), v = gb_new(c->dt, 0, B, Hkv, Nk, D),
         qd = gb_new(c->dt, 0, B, H, N, D), kd = gb_new(c->dt, 0, B, Hkv, Nk, D), vd = gb_new(c->dt, 0, B, Hkv, Nk, D);
  gbuf_t o[2], lse[2], od[2], mu[2], fo[2], flse[2]; /* [0] broadcast, [1] materialised */
  for (int e = 0; e < 2; ++e) {
    o[e] = gb_new(c->dt, 0, B, H, N, D), od[e] = gb_new(c->dt, 0, B, H, N, D), fo[e] = gb_new(c->dt, 0, B, H, N, D);
    lse[e] = gb_new(F32, 0, B, H, N, 1), mu[e] = gb_new(F32, 0, B, H, N, 1), flse[e] = gb_new(F32, 0, B, H, N, 1);
  }
  gbuf_t *ins[] = {&q, &k, &v, &qd, &kd, &vd};
  for (int e = 0; e < 6; ++e) gb_random(ins[e], 1.0);
  jfa_attention_params_t prm;
  gt_params_masks(&prm, c->mask, 0, 0, c->wl, c->wr, 0, NULL, NULL);
  prm.attn_mask = &mbc;
  char nm[160];
  /* the kernels' modules loaded (and this context's workspace grown) by the same calls on the test's context */
  gt_ok(jfa_attention_forward(gpu, &prm, &q.t, &k.t, &v.t, &fo[0].t, &flse[0].t), "forward (warm-up)");
  gt_ok(jfa_attention_forward_jvp(gpu, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o[0].t, &lse[0].t, &od[0].t,
                                  &mu[0].t),
        "forward_jvp (warm-up)");
  /* cudaMemGetInfo is device-wide: the GPU suite runs 8 tests at once (ctest -j8, 19 entries of this file among
     them), whose allocations and CUDA contexts may land between two readings. Up to 3 fresh contexts, the least growth
     of each call kept: a wrong map grows it every time, another process rarely in all three windows. */
  int64_t grow_fwd = INT64_MAX, grow_jvp = INT64_MAX;
  const int64_t bound = (int64_t)16 << 20;
  for (int t = 0; t < 3 && (grow_fwd >= bound || grow_jvp >= bound); ++t) {
    jfa_context_t *fresh = NULL;
    gt_ok(jfa_context_create(&fresh, JFA_DEVICE_CUDA, 0), "context_create(CUDA)");
    gb_poison(&fo[0]), gb_poison(&flse[0]), gb_poison(&o[0]), gb_poison(&lse[0]), gb_poison(&od[0]), gb_poison(&mu[0]);
    const int64_t used0 = mem_used();
    gt_ok(jfa_attention_forward(fresh, &prm, &q.t, &k.t, &v.t, &fo[0].t, &flse[0].t), "forward (broadcast mask)");
    const int64_t used1 = mem_used();
    gt_ok(jfa_attention_forward_jvp(fresh, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o[0].t, &lse[0].t, &od[0].t,
                                    &mu[0].t),
          "forward_jvp (broadcast mask)");
    const int64_t used2 = mem_used();
    /* a tensor-core family where the build has this head dim's row (JFA_HEAD_DIMS subsets leave it to simt) */
    if (t == 0 && gt_tensor_core_dim(c->dt, D))
      snprintf(nm, sizeof(nm), "case %d broadcast fwd", ci), gt_check_tensor_core(fresh, nm, 0);
    jfa_context_destroy(fresh);
    if (used1 - used0 < grow_fwd) grow_fwd = used1 - used0;
    if (used2 - used1 < grow_jvp) grow_jvp = used2 - used1;
  }
  /* the bound is the tensor-core families' (a build without D's rows runs simt: a D = 192-only build's H100 run grew
     the forward by 18-20 MiB there, thirty-ninth session); simt's growth is printed, not checked */
  const int tc = gt_tensor_core_dim(c->dt, D);
  const char *note = tc ? "" : " (simt: not checked)";
  snprintf(nm, sizeof(nm), "case %d: a key-padding mask's forward grows device memory by %.1f MiB (< 16)%s", ci,
           (double)grow_fwd / 1048576.0, note);
  if (tc) tu_expect(nm, grow_fwd < bound);
  else printf("  %s\n", nm);
  snprintf(nm, sizeof(nm), "case %d: and its JVP by %.1f MiB more (< 16)%s", ci, (double)grow_jvp / 1048576.0, note);
  if (tc) tu_expect(nm, grow_jvp < bound);
  else printf("  %s\n", nm);

  /* the same mask materialised: every row at stride Nk */
  const size_t nfull = (size_t)(B * N * Nk);
  unsigned char *hfull = malloc(nfull);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < N; ++i) memcpy(hfull + (size_t)((b * N + i) * Nk), row + b * Nk, (size_t)Nk);
  if (cudaMalloc(&dfull, nfull) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(materialised mask)");
  cudaMemcpy(dfull, hfull, nfull, cudaMemcpyHostToDevice);
  free(hfull);
  jfa_tensor_t mfull = jfa_tensor_bhsd(dfull, JFA_DTYPE_BOOL, JFA_DEVICE_CUDA, B, 1, N, Nk);
  jfa_attention_params_t pf = prm;
  pf.attn_mask = &mfull;
  gb_poison(&fo[1]), gb_poison(&flse[1]), gb_poison(&o[1]), gb_poison(&lse[1]), gb_poison(&od[1]), gb_poison(&mu[1]);
  gt_ok(jfa_attention_forward(gpu, &pf, &q.t, &k.t, &v.t, &fo[1].t, &flse[1].t), "forward (materialised mask)");
  gt_ok(jfa_attention_forward_jvp(gpu, &pf, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o[1].t, &lse[1].t, &od[1].t,
                                  &mu[1].t),
        "forward_jvp (materialised mask)");
  const char *names[] = {"fwd O", "fwd lse", "jvp O", "jvp lse", "jvp Od", "jvp mu"};
  gbuf_t *pairs[][2] = {{&fo[0], &fo[1]}, {&flse[0], &flse[1]}, {&o[0], &o[1]},
                        {&lse[0], &lse[1]}, {&od[0], &od[1]}, {&mu[0], &mu[1]}};
  for (int e = 0; e < 6; ++e) {
    gb_get(pairs[e][0]), gb_get(pairs[e][1]);
    size_t diff = 0, nan = 0;
    for (size_t x = 0; x < pairs[e][0]->n; ++x) {
      const double a = pairs[e][0]->val[x], b = pairs[e][1]->val[x];
      diff += memcmp(&a, &b, sizeof a) != 0;
      nan += isnan(a);
    }
    snprintf(nm, sizeof(nm), "case %d %s: broadcast mask bitwise the materialised one's (%zu differ, %zu NaN)", ci,
             names[e], diff, nan);
    tu_expect(nm, diff == 0 && nan == 0);
  }
  for (int e = 0; e < 6; ++e) gb_free(ins[e]);
  for (int e = 0; e < 2; ++e) gb_free(&o[e]), gb_free(&lse[e]), gb_free(&od[e]), gb_free(&mu[e]), gb_free(&fo[e]),
                                  gb_free(&flse[e]);
  cudaFree(dbc), cudaFree(dfull);
  free(row), free(r);
}

/* Whether every gt_poison_shared_memory of the map passes ran (map_run). */
static int g_poisoned = 1;

/* The forward+JVP and the backward of pg (deterministic: bitwise comparable) into outs (o, lse, od, mu, dq, dk, dv),
   each call after every SM's shared memory is filled with a pattern from *seed (then advanced; NULL: not filled). */
static jfa_status_t map_run(jfa_context_t *gpu, const jfa_attention_params_t *pg, gbuf_t *q, gbuf_t *k, gbuf_t *v,
                            gbuf_t *qd, gbuf_t *kd, gbuf_t *vd, gbuf_t *dout, gbuf_t **outs, unsigned *seed) {
  for (int i = 0; i < 7; ++i) gb_poison(outs[i]);
  /* seeds s and s ^ 1 for the two calls, then s + 3: each call's pattern alternates between finite and raw bits */
  const unsigned s0 = seed ? *seed : 0u;
  if (seed) {
    g_poisoned &= gt_poison_shared_memory(s0);
    *seed = s0 + 3u;
  }
  jfa_status_t s = jfa_attention_forward_jvp(gpu, pg, &q->t, &k->t, &v->t, &qd->t, &kd->t, &vd->t, &outs[0]->t,
                                             &outs[1]->t, &outs[2]->t, &outs[3]->t);
  if (s != JFA_SUCCESS) return s;
  if (seed) g_poisoned &= gt_poison_shared_memory(s0 ^ 1u);
  return jfa_attention_backward(gpu, pg, &q->t, &k->t, &v->t, &outs[0]->t, &outs[1]->t, &dout->t, &outs[4]->t,
                                &outs[5]->t, &outs[6]->t);
}

/* Expects the 7 outputs of a map_run bitwise those of the run whose gb_snapshot is ref; the check's name (what)
   says which output differs first and in how many elements. */
static void map_expect_same(int ci, const char *what, gbuf_t **outs, const double *ref) {
  static const char *onames[7] = {"o", "lse", "od", "mu", "dq", "dk", "dv"};
  size_t nd = 0;
  const int which = gb_first_diff(outs, 7, ref, &nd);
  char nm[384];
  snprintf(nm, sizeof nm, "case %d map: %s (%s: %zu of %zu differ)", ci, what, which < 0 ? "none" : onames[which], nd,
           which < 0 ? (size_t)0 : outs[which]->n);
  tu_expect(nm, which < 0);
}

/* A block map built once by the caller (jfa_attention_mask_map_bytes / _build, jfa 0.5) and given to the calls
   (params mask_map): the forward+JVP and the deterministic backward bitwise the calls that build their own (which are
   first run twice: the kernels' own determinism), the map read by a second run unchanged (chunked calls: one run);
   refused, nothing written: a size off by 256, a host buffer, a misaligned pointer, a map without attn_mask, and a
   build into a buffer of the wrong size. */
static void map_pass(int ci, jfa_context_t *gpu, const jfa_attention_params_t *pg, const jfa_tensor_t *mask, gbuf_t *q,
                     gbuf_t *k, gbuf_t *v, gbuf_t *qd, gbuf_t *kd, gbuf_t *vd, gbuf_t *dout, gbuf_t **outs) {
  char nm[256];
  gt_ok(jfa_context_set_flags(gpu, JFA_FLAG_DETERMINISTIC), "set_flags");
  /* each call of each run after shared memory filled with another pattern (gt_poison_shared_memory: finite values and
     raw bits in turn): the first kernel of a call that reads shared memory it did not write differs between runs (the
     sm90 JVP's bias tiles, rows past Nq, before the thirty-fifth session: case 79's od, once in ~40 calls with
     whatever the previous kernel left; the calls' later kernels start on what their first left) */
  unsigned seed = 0x5eed0000u + 16u * (unsigned)ci;
  g_poisoned = 1;
  gt_ok(map_run(gpu, pg, q, k, v, qd, kd, vd, dout, outs, &seed), "map pass: own map");
  double *ref = gb_snapshot(outs, 7);
  /* more than 65535 batch entries: chunked calls (dispatch.c), 40-80 M elements an output here, whose per-batch masks'
     chunks build their own maps: one run with the caller's map and the refusals (the device suite's time) */
  const int chunked = q->t.shape[0] > 65535;
  if (!chunked) {
    /* the same calls again: deterministic mode's baseline (a difference here is the kernels', not the map's) */
    gt_ok(map_run(gpu, pg, q, k, v, qd, kd, vd, dout, outs, &seed), "map pass: own map again");
    map_expect_same(ci, "the calls' own map twice, bitwise", outs, ref);
  }
  uint64_t n = 0;
  gt_ok(jfa_attention_mask_map_bytes(gpu, mask, &n), "jfa_attention_mask_map_bytes");
  snprintf(nm, sizeof nm, "case %d map: jfa_attention_mask_map_bytes > 0 (%llu)", ci, (unsigned long long)n);
  tu_expect(nm, n > 0);
  void *map = NULL;
  if (cudaMalloc(&map, n + 512) != cudaSuccess) gt_ok(JFA_ERROR_OUT_OF_MEMORY, "cudaMalloc(map)");
  snprintf(nm, sizeof nm, "case %d map: a build into a buffer of the wrong size refused", ci);
  tu_expect(nm, jfa_attention_mask_map_build(gpu, mask, map, n + 8) == JFA_ERROR_INVALID_ARGUMENT);
  gt_ok(jfa_attention_mask_map_build(gpu, mask, map, n), "jfa_attention_mask_map_build");
  jfa_attention_params_t pm = *pg;
  pm.mask_map = map, pm.mask_map_bytes = n;
  for (int rep = 0; rep < (chunked ? 1 : 2); ++rep) {
    gt_ok(map_run(gpu, &pm, q, k, v, qd, kd, vd, dout, outs, &seed), "map pass: the caller's map");
    snprintf(nm, sizeof nm, "the caller's map (run %d): forward+JVP and backward bitwise the own map's", rep + 1);
    map_expect_same(ci, nm, outs, ref);
  }
  snprintf(nm, sizeof nm, "case %d map: shared memory filled with another pattern before each of those runs", ci);
  tu_expect(nm, g_poisoned);
  /* refusals, nothing written */
  void *host = aligned_alloc(256, (n + 255) / 256 * 256);
  jfa_attention_params_t bad[4] = {pm, pm, pm, pm};
  bad[0].mask_map_bytes = n + 256;
  bad[1].mask_map = host;
  bad[2].mask_map = (const char *)map + 8;
  bad[3].attn_mask = NULL;
  static const char *what[4] = {"a size off by 256", "a host buffer", "a misaligned pointer", "no attn_mask"};
  for (int b = 0; b < 4; ++b) {
    const jfa_status_t st = map_run(gpu, &bad[b], q, k, v, qd, kd, vd, dout, outs, NULL);
    int untouched = 1;
    for (int i = 0; i < 4; ++i) { /* the forward+JVP's outputs (the refused call is the first) */
      gb_get(outs[i]);
      untouched &= tu_count_nan(outs[i]->val, outs[i]->n) == outs[i]->n;
    }
    snprintf(nm, sizeof nm, "case %d map: %s refused (JFA_ERROR_INVALID_ARGUMENT), nothing written (%s)", ci, what[b],
             jfa_get_last_error());
    tu_expect(nm, st == JFA_ERROR_INVALID_ARGUMENT && untouched);
  }
  free(host);
  cudaFree(map);
  free(ref);
  gt_ok(jfa_context_set_flags(gpu, 0), "set_flags");
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const mcase_t *c = &cases[ci];
  if (c->row_bcast == 2) {
    mem_case(ci, gpu);
    return;
  }
  int64_t cq[65], ck[65];
  int ns = 0;
  int64_t Nq = c->Nq, Nk = c->Nk;
  if (c->seq_q && (ns = gt_packed_offsets(c->seq_q, c->seq_k, cq, ck, &Nq, &Nk)) < 0) return;
  const char *skip_big = getenv("JFA_TEST_MASKS_SKIP_BIG");
  if (c->B > 65535 && skip_big && strcmp(skip_big, "1") == 0) {
    /* the entries of one switch within a family (tests/gpu/CMakeLists.txt jfa_gpu_variant): the batch chunks are
       core/dispatch.c's, kernel-independent, and test_gpu_masks and _sm80 run them */
    printf("case %d: B=%lld skipped (JFA_TEST_MASKS_SKIP_BIG: test_gpu_masks and test_gpu_masks_sm80 run it)\n", ci,
           (long long)c->B);
    return;
  }
  printf("case %d: %s %s B=%lld Hq=%lld Hkv=%lld Nq=%lld Nk=%lld D=%lld mask=%d pos=(%lld,%lld) window=(%lld,%lld) "
         "seqs=%s/%s dense=%d (b1=%d h1=%d)\n",
         ci, c->dt == BF ? "bf16" : c->dt == FH ? "fp16" : "fp32", c->bshd ? "BSHD" : "BHSD", (long long)c->B,
         (long long)c->Hq, (long long)c->Hkv, (long long)Nq, (long long)Nk, (long long)c->D, (int)c->mask,
         (long long)c->qpos, (long long)c->kpos, (long long)c->wl, (long long)c->wr, c->seq_q ? c->seq_q : "-",
         c->seq_k ? c->seq_k : "-", c->dense, c->dense_b1, c->dense_h1);
  fflush(stdout);
  const double tol = gt_tol(c->dt);
  /* float32 dK / dV on tensor cores (3xTF32) summed over Nq queries in the mma accumulators, whose float32 additions
     do not round to nearest: test_gpu_f32_backward's bound, 3e-5 sqrt(Nq / 1000) (1.8e-5 measured at Nq = 1000); the
     H200 gave 1.01-1.05e-5 here at Nq = 1000 (case 30, GQA 2:1, sixteenth session), above gt_tol's 1e-5 */
  const double tol_kv = c->dt == F32 && gt_expected_f32_bwd_path(c->D, 1) != GT_PATH_SIMT
                            ? fmax(tol, 3e-5 * sqrt(fmax(1.0, (double)Nq / 1000.0)))
                            : tol;
  jfa_attention_params_t prm;
  gt_params_masks(&prm, c->mask, c->qpos, c->kpos, c->wl, c->wr, ns, cq, ck);
  dmask_t dm;
  memset(&dm, 0, sizeof(dm));
  if (c->dense) make_dense(&dm, c, Nq, Nk);

  const int64_t B = c->B, Hq = c->Hq, Hkv = c->Hkv, D = c->D;
  gbuf_t q = gb_new(c->dt, c->bshd, B, Hq, Nq, D), k = gb_new(c->dt, c->bshd, B, Hkv, Nk, D),
         v = gb_new(c->dt, c->bshd, B, Hkv, Nk, D), qd = gb_new(c->dt, c->bshd, B, Hq, Nq, D),
         kd = gb_new(c->dt, c->bshd, B, Hkv, Nk, D), vd = gb_new(c->dt, c->bshd, B, Hkv, Nk, D),
         dout = gb_new(c->dt, c->bshd, B, Hq, Nq, D);
  gbuf_t o = gb_new(c->dt, c->bshd, B, Hq, Nq, D), od = gb_new(c->dt, c->bshd, B, Hq, Nq, D),
         lse = gb_new(F32, 0, B, Hq, Nq, 1), mu = gb_new(F32, 0, B, Hq, Nq, 1), dq = gb_new(c->dt, c->bshd, B, Hq, Nq, D),
         dk = gb_new(c->dt, c->bshd, B, Hkv, Nk, D), dv = gb_new(c->dt, c->bshd, B, Hkv, Nk, D);
  gbuf_t *ins[] = {&q, &k, &v, &qd, &kd, &vd, &dout};
  for (int e = 0; e < 7; ++e) gb_random(ins[e], 1.0);

  size_t nq = q.n, nk = k.n, nr = lse.n;
  double *ro = calloc(nq + 1, 8), *rod = calloc(nq + 1, 8), *rlse = calloc(nr + 1, 8), *rmu = calloc(nr + 1, 8),
         *rdq = calloc(nq + 1, 8), *rdk = calloc(nk + 1, 8), *rdv = calloc(nk + 1, 8);
  jfa_tensor_t hq = host_f64(q.val, B, Hq, Nq, D), hk = host_f64(k.val, B, Hkv, Nk, D), hv = host_f64(v.val, B, Hkv, Nk, D),
               hqd = host_f64(qd.val, B, Hq, Nq, D), hkd = host_f64(kd.val, B, Hkv, Nk, D),
               hvd = host_f64(vd.val, B, Hkv, Nk, D), hdo = host_f64(dout.val, B, Hq, Nq, D),
               ho = host_f64(ro, B, Hq, Nq, D), hod = host_f64(rod, B, Hq, Nq, D), hl = host_f64(rlse, B, Hq, Nq, 1),
               hm = host_f64(rmu, B, Hq, Nq, 1), hdq = host_f64(rdq, B, Hq, Nq, D), hdk = host_f64(rdk, B, Hkv, Nk, D),
               hdv = host_f64(rdv, B, Hkv, Nk, D);
  jfa_attention_params_t pc = prm, pg = prm;
  if (c->dense) pc.attn_mask = &dm.host, pg.attn_mask = &dm.dev;
  gt_ok(jfa_attention_forward_jvp(cpu, &pc, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
  gt_ok(jfa_attention_backward(cpu, &pc, &hq, &hk, &hv, &ho, &hl, &hdo, &hdq, &hdk, &hdv), "cpu backward");
  int64_t empty_rows = 0, empty_keys = 0;
  for (size_t r = 0; r < nr; ++r) empty_rows += rlse[r] == -INFINITY;
  for (int64_t r = 0; r < B * Hkv * Nk; ++r) empty_keys += gt_row_zero(rdk, r, D) && gt_row_zero(rdv, r, D);
  printf("  %lld of %zu rows see no key; %lld of %lld keys get no gradient\n", (long long)empty_rows, nr,
         (long long)empty_keys, (long long)(B * Hkv * Nk));

  char nm[128];
  gb_poison(&o), gb_poison(&lse);
  gt_ok(jfa_attention_forward(gpu, &pg, &q.t, &k.t, &v.t, &o.t, &lse.t), "forward");
  gb_get(&o), gb_get(&lse);
  const int tc = gt_tensor_core_dim(c->dt, D); /* aligned 16-bit: a tensor-core family must take it */
  if (tc) snprintf(nm, sizeof(nm), "case %d fwd", ci), gt_check_tensor_core(gpu, nm, 0);
  /* 16-bit biases of aligned rows in q's dtype: the sm90 forward / JVP stage their tiles (gt_sm90_bias_on) where the
     call runs there otherwise (at a head dim below 64 on the D = 64 kernels: gt_expected_dense_path); float32 biases
     and unaligned rows run on sm80 */
  const int bias16 = c->dense == DN_QT && c->aligned && c->dt != F32;
  const int dense_path = gt_expected_dense_path(D), bias_path = gt_sm90_bias_on() ? dense_path : GT_PATH_SM80;
  /* a boolean mask at a head dim below 64 (a multiple of 8): the sm90 forward / JVP on the D = 64 kernels, its
     columns zero-padded (tiles.h kSm90PadDense); gt_check_tensor_core alone would pass sm80 */
  const int bool16 = c->dense == DN_BOOL && c->dt != F32 && tc && gt_dense_dim(D) != D;
  if (bool16) snprintf(nm, sizeof(nm), "case %d fwd (boolean, padded D)", ci), gt_check_path(gpu, nm, 0, dense_path);
  if (bias16) snprintf(nm, sizeof(nm), "case %d fwd (16-bit bias)", ci), gt_check_path(gpu, nm, 0, bias_path);
  /* float32 without windows, packed sequences or positions: the sm90 float32 kernel takes boolean dense masks
     (gt_expected_f32_path's beyond-causal masks are the others), the backward runs on sm80 with any dense mask but
     where the sm90 float32 backward takes boolean ones (gt_sm90_f32_bwd_dense_on: D = 64) */
  const int f32_chk = c->dt == F32 && (c->mask == NONE || c->mask == TL || c->mask == BR) && c->wl == UNB &&
                      c->wr == UNB && !c->seq_q;
  const int f32_other = c->dense != DN_NONE && (c->dense != DN_BOOL || !gt_sm90_f32_dense_on());
  if (f32_chk) snprintf(nm, sizeof(nm), "case %d fwd", ci), gt_check_path(gpu, nm, 0, gt_expected_f32_path(D, 0, f32_other));
  snprintf(nm, sizeof(nm), "case %d fwd route", ci), check_route(gpu, nm, c, ns, cq, ck, 0);
  snprintf(nm, sizeof(nm), "case %d fwd O", ci), gt_compare(nm, o.val, ro, nq, tol);
  snprintf(nm, sizeof(nm), "case %d fwd lse", ci), gt_compare(nm, lse.val, rlse, nr, tol);

  gb_poison(&o), gb_poison(&lse), gb_poison(&od), gb_poison(&mu);
  gt_ok(jfa_attention_forward_jvp(gpu, &pg, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
        "forward_jvp");
  gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
  if (tc) snprintf(nm, sizeof(nm), "case %d jvp", ci), gt_check_tensor_core(gpu, nm, 0);
  if (bias16) snprintf(nm, sizeof(nm), "case %d jvp (16-bit bias)", ci), gt_check_path(gpu, nm, 0, bias_path);
  if (bool16) snprintf(nm, sizeof(nm), "case %d jvp (boolean, padded D)", ci), gt_check_path(gpu, nm, 0, dense_path);
  if (f32_chk) snprintf(nm, sizeof(nm), "case %d jvp", ci), gt_check_path(gpu, nm, 0, gt_expected_f32_path(D, 1, f32_other));
  snprintf(nm, sizeof(nm), "case %d jvp route", ci), check_route(gpu, nm, c, ns, cq, ck, 1);
  snprintf(nm, sizeof(nm), "case %d jvp O", ci), gt_compare(nm, o.val, ro, nq, tol);
  snprintf(nm, sizeof(nm), "case %d jvp lse", ci), gt_compare(nm, lse.val, rlse, nr, tol);
  snprintf(nm, sizeof(nm), "case %d jvp Od", ci), gt_compare(nm, od.val, rod, nq, tol);
  snprintf(nm, sizeof(nm), "case %d jvp mu", ci), gt_compare(nm, mu.val, rmu, nr, tol);

  gb_poison(&dq), gb_poison(&dk), gb_poison(&dv);
  gt_ok(jfa_attention_backward(gpu, &pg, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &dq.t, &dk.t, &dv.t), "backward");
  gb_get(&dq), gb_get(&dk), gb_get(&dv);
  /* the backward: interval masks and boolean dense masks on the sm90 family (D = 64, 96, 128, 192, 256) where the
     unmasked call runs there (gt_expected_bwd_path), 16-bit additive masks of aligned
     rows too but at D = 256 (gt_expected_bwd_bias_path), other additive masks on sm80 */
  if (tc) {
    /* dense masks at a head dim below 64 (a multiple of 8): the sm90 backward on the D = 64 kernel (tiles.h
       kSm90PadDense) */
    const int e = c->dense == DN_BOOL || bias16 ? gt_expected_dense_bwd_path(D, bias16) : gt_expected_bwd_path(D);
    const int other_additive = c->dense != DN_NONE && c->dense != DN_BOOL && !bias16;
    snprintf(nm, sizeof(nm), "case %d bwd", ci);
    gt_check_path(gpu, nm, 1, other_additive && e == GT_PATH_SM90 ? GT_PATH_SM80 : e);
  }
  if (f32_chk && c->dense)
    snprintf(nm, sizeof(nm), "case %d bwd", ci),
        gt_check_path(gpu, nm, 1, gt_expected_f32_bwd_path(D, !(c->dense == DN_BOOL && gt_sm90_f32_bwd_dense_on())));
  snprintf(nm, sizeof(nm), "case %d bwd dQ", ci), gt_compare(nm, dq.val, rdq, nq, tol);
  snprintf(nm, sizeof(nm), "case %d bwd dK", ci), gt_compare(nm, dk.val, rdk, nk, tol_kv);
  snprintf(nm, sizeof(nm), "case %d bwd dV", ci), gt_compare(nm, dv.val, rdv, nk, tol_kv);

  /* exact zeros where nothing is visible */
  int64_t bad_rows = 0, bad_keys = 0;
  for (int64_t r = 0; r < (int64_t)nr; ++r)
    if (rlse[r] == -INFINITY)
      bad_rows += !(lse.val[r] == -INFINITY && mu.val[r] == 0.0 && gt_row_zero(o.val, r, D) &&
                    gt_row_zero(od.val, r, D) &&
                    gt_row_zero(dq.val, r, D));
  for (int64_t r = 0; r < B * Hkv * Nk; ++r)
    if (gt_row_zero(rdk, r, D) && gt_row_zero(rdv, r, D))
      bad_keys += !(gt_row_zero(dk.val, r, D) && gt_row_zero(dv.val, r, D));
  snprintf(nm, sizeof(nm), "case %d: rows without keys exactly O = Od = mu = dQ = 0, lse = -inf (%lld bad)", ci,
           (long long)bad_rows);
  tu_expect(nm, bad_rows == 0);
  snprintf(nm, sizeof(nm), "case %d: keys without queries exactly dK = dV = 0 (%lld bad)", ci, (long long)bad_keys);
  tu_expect(nm, bad_keys == 0);

  /* dense masks: once more with a caller-built block map (map_pass) */
  if (c->dense && Nq > 0 && Nk > 0) {
    gbuf_t *outs[7] = {&o, &lse, &od, &mu, &dq, &dk, &dv};
    map_pass(ci, gpu, &pg, &dm.dev, &q, &k, &v, &qd, &kd, &vd, &dout, outs);
  }

  /* float32 without windows, packed sequences or positions, with a boolean mask: once more in TF32 (tf32_pass) */
  if (f32_chk && c->dense == DN_BOOL)
    tf32_pass(ci, gpu, &pg, &q, &k, &v, &qd, &kd, &vd, &dout, &o, &lse, &od, &mu, &dq, &dk, &dv, ro, rlse, rod, rmu, rdq,
              rdk, rdv, D);

  if (c->accumulate) {
    /* the backend in accumulate mode over two key halves, problem built as the front end resolves it */
    jfa_problem_t whole;
    memset(&whole, 0, sizeof(whole));
    whole.B = B, whole.Hq = Hq, whole.Hkv = Hkv, whole.Nq = Nq, whole.Nk = Nk, whole.D = D;
    whole.scale = 1.0 / sqrt((double)D);
    whole.causal = c->mask == TL || c->mask == BR || c->mask == CPOS;
    whole.q_pos0 = ((c->mask == BR || c->mask == BRN) && !ns) ? Nk - Nq : (c->mask == CPOS || c->mask == POS) ? c->qpos : 0;
    whole.k_pos0 = (c->mask == CPOS || c->mask == POS) ? c->kpos : 0;
    whole.windowed = c->wl != UNB || c->wr != UNB;
    whole.win_left = c->wl, whole.win_right = c->wr;
    whole.nseq = ns, whole.cu_q = ns ? cq : NULL, whole.cu_k = ns ? ck : NULL;
    whole.seq_bottom_right = ns && (c->mask == BR || c->mask == BRN);
    gbuf_t ao = gb_new(F32, 0, B, Hq, Nq, D), aod = gb_new(F32, 0, B, Hq, Nq, D), alse = gb_new(F32, 0, B, Hq, Nq, 1),
           amu = gb_new(F32, 0, B, Hq, Nq, 1), adq = gb_new(F32, 0, B, Hq, Nq, D), adk = gb_new(F32, 0, B, Hkv, Nk, D),
           adv = gb_new(F32, 0, B, Hkv, Nk, D), o16 = gb_new(c->dt, c->bshd, B, Hq, Nq, D),
           l32 = gb_new(F32, 0, B, Hq, Nq, 1), delta = gb_new(F32, 0, B, Hq, Nq, 1);
    gt_ok(jfa_cuda_fill(gpu, &ao.t, 0.0), "fill"), gt_ok(jfa_cuda_fill(gpu, &aod.t, 0.0), "fill");
    gt_ok(jfa_cuda_fill(gpu, &amu.t, 0.0), "fill"), gt_ok(jfa_cuda_fill(gpu, &alse.t, -INFINITY), "fill");
    gt_ok(jfa_cuda_fill(gpu, &adq.t, 0.0), "fill"), gt_ok(jfa_cuda_fill(gpu, &adk.t, 0.0), "fill");
    gt_ok(jfa_cuda_fill(gpu, &adv.t, 0.0), "fill");
    gb_set(&o16, ro);
    gb_set(&l32, rlse);
    gt_ok(jfa_backend_attention_delta(gpu, &whole, &o16.t, &dout.t, &delta.t), "attention_delta");
    const int64_t h1 = Nk / 16 > 0 ? Nk / 16 * 8 : Nk / 2;
    const int64_t r0[2] = {0, h1}, rn[2] = {h1, Nk - h1};
    for (int s = 0; s < 2; ++s) {
      if (rn[s] == 0) continue;
      jfa_problem_t p = whole;
      p.Nk = rn[s];
      p.k_pos0 = whole.k_pos0 + r0[s];
      jfa_tensor_t mk;
      if (c->dense) mk = gt_rows(&dm.dev, 3, r0[s], rn[s]), p.dmask = &mk;
      jfa_tensor_t k2 = gt_rows(&k.t, 2, r0[s], rn[s]), v2 = gt_rows(&v.t, 2, r0[s], rn[s]),
                   kd2 = gt_rows(&kd.t, 2, r0[s], rn[s]), vd2 = gt_rows(&vd.t, 2, r0[s], rn[s]),
                   dk2 = gt_rows(&adk.t, 2, r0[s], rn[s]), dv2 = gt_rows(&adv.t, 2, r0[s], rn[s]);
      gt_ok(jfa_backend_attention_block(gpu, &p, &q.t, &k2, &v2, &qd.t, &kd2, &vd2, &ao.t, &alse.t, &aod.t, &amu.t, 1),
            "attention_block(accumulate)");
      gt_ok(jfa_backend_attention_backward_block(gpu, &p, &q.t, &k2, &v2, &dout.t, &l32.t, &delta.t, &adq.t, &dk2,
                                                 &dv2, 1),
            "attention_backward_block(accumulate)");
    }
    gb_get(&ao), gb_get(&aod), gb_get(&alse), gb_get(&amu), gb_get(&adq), gb_get(&adk), gb_get(&adv);
    snprintf(nm, sizeof(nm), "case %d accumulate O", ci), gt_compare(nm, ao.val, ro, nq, tol);
    snprintf(nm, sizeof(nm), "case %d accumulate lse", ci), gt_compare(nm, alse.val, rlse, nr, tol);
    snprintf(nm, sizeof(nm), "case %d accumulate Od", ci), gt_compare(nm, aod.val, rod, nq, tol);
    snprintf(nm, sizeof(nm), "case %d accumulate mu", ci), gt_compare(nm, amu.val, rmu, nr, tol);
    snprintf(nm, sizeof(nm), "case %d accumulate dQ", ci), gt_compare(nm, adq.val, rdq, nq, tol);
    snprintf(nm, sizeof(nm), "case %d accumulate dK", ci), gt_compare(nm, adk.val, rdk, nk, tol_kv);
    snprintf(nm, sizeof(nm), "case %d accumulate dV", ci), gt_compare(nm, adv.val, rdv, nk, tol_kv);
    gbuf_t *acc[] = {&ao, &aod, &alse, &amu, &adq, &adk, &adv, &o16, &l32, &delta};
    for (int e = 0; e < 10; ++e) gb_free(acc[e]);
  }

  free(ro), free(rod), free(rlse), free(rmu), free(rdq), free(rdk), free(rdv);
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &dout, &o, &od, &lse, &mu, &dq, &dk, &dv};
  for (size_t e = 0; e < sizeof(all) / sizeof(all[0]); ++e) gb_free(all[e]);
  if (c->dense) cudaFree(dm.dptr), free(dm.hptr);
}

int main(int argc, char **argv) {
  return gt_main(argc, argv, "test_gpu_masks", (int)(sizeof(cases) / sizeof(cases[0])), run_case);
}
