/*
 * tiles.h - the tile configurations of the sm90 family (wgmma + TMA, sm_90a), in one table
 * keyed by (op, dtype, head dim, tuning variant). Mask class MASK_CLASS_ANY (the family takes
 * interval masks and boolean dense masks; family.cu) runs the same tiles but for BNM keys a
 * block: the per-row key intervals live in shared memory, a dense mask's bits in a few registers.
 *
 * bench/RESULTS.md (Hopper runs 3-5): the forward at BN = 128, with OVERLAP at D = 64 (at
 * D = 128 the second score accumulator spills and loses 30%; since the ninth session of 2026-12-02 the D = 64
 * forward runs three consumer warpgroups in the PVLAG order instead, NC below); the JVP keeps four accumulators
 * (S, Sd, O, U) and takes BN = 64 to stay within 240 registers without spills.
 * Head dims 96, 192, 256 (forward and JVP; none tuned on a GPU yet): the tiles hold ceil(D / 64) column slabs of
 * 64 (the last one half empty at 96, zeros from TMA); FlashAttention-3's shapes (hopper/tile_size.h)
 * guided BN: at D = 256 the O accumulator takes 128 registers a thread and the shared memory
 * 64 KB of Q plus 80 KB a stage, so BN = 80 with 2 stages (226 KB of 227); at D = 192, BN = 112
 * (O 96 registers, S 56). Since the eighth session D = 96, 192 and 256 run the PVLAG order (below),
 * D = 256 at BN = 64 (P V's P of the previous block lives across the softmax), at BN = 80 again since the
 * twenty-fourth session (32 bytes of spill stores with CUDA 13.0, measured +3-5% all the same). Masked calls run BNM keys a block (a power of two: a boolean dense
 * mask's bits come in 64-bit words per 64 keys). The JVP at D = 192 / 256: O and U alone would
 * be 192 / 256 registers a thread, past the consumers' 240 with S, Sd and P added, so it splits
 * the columns (CS): a CTA takes 64 rows, both consumer warpgroups compute their S and Sd (the
 * score products done twice: 1.5x the JVP's tensor work) and the softmax, and each accumulates
 * O and U for its 128 columns (at 256: O 64 + U 64 + S 16 + Sd 16 + P 16 registers). Shared
 * memory sets BN: Q and Qd 64 KB and 64 KB a stage of K, V, Kd, Vd at BN = 32 (D = 256, 2 stages;
 * D = 192: 48 + 3 x 48 KB; since the eighth session D = 256 takes BN = 64 in two rings of one stage, STV). D = 192 before 2026-12-02 (fifth session) ran at 165 TFLOP/s against 298
 * at 256 because ptxas serialised every wgmma of its kernel (C7520: the branch between the 128- and
 * 64-column products was on a thread-derived wg; fwd.cuh now branches on a warp-uniform copy).
 * The default at D = 192 since the fifth session (variant 4 there; H200 274 -> 350 TFLOP/s) and tuning
 * variants 2, 3 (CSE) split D = 192 evenly, 96 + 96 columns a consumer, as wgmma pieces of 64 + 32
 * columns each inside one slab, the same instructions for both consumers (no branch; O and U 48 + 48
 * registers a thread: the consumers need <= 168 at BN = 32, <= 240 at BN = 48; masked
 * calls at BNM = 32, 2 stages; since the thirty-eighth session the default takes BN = 64 in two rings, K, Kd in two
 * stages and V, Vd in one, as D = 256: +8.7%); tuning variant 4 keeps the 128 + 64 split (BN = 32, 3 stages); variant 5 adds OVERLAP
 * to the JVP there (S and Sd of block j + 1 into second accumulators, 0 spills), and variant 1 at D = 256
 * (whose split is even already).
 * The forward's OVERLAP at D = 256 spills at BN = 80 (64 bytes) and not at BN = 64
 * (variant 2, as at D = 192); at D = 96 (O padded to 128 columns) it spills.
 * The backward (bwd.cuh) at D = 96 keeps the D = 128 shape (two consumers of 64 keys, BN = 128, 2
 * stages: dK + dV 96 registers a thread; the products over 96 columns as wgmma pieces of 64 + 32
 * columns, each within one slab, rather than the forward's padding to 128: the backward's dK / dV
 * are stored, not normalised, so a padded accumulator would only cost 32 registers and a third
 * more tensor work). At D = 192 / 256 dK and dV of 64 keys would take 192 / 256 registers a
 * thread, so the backward splits the columns as the JVP does (CS): a CTA of 64 keys, both consumers
 * compute the same S^T and dP^T (64 x 64, the score products done twice: 7 units of 64 x 64 x D
 * tensor work per block for 5 useful, 71%), each accumulates dK and dV for D / 2 columns (at 256:
 * 64 + 64 registers, as the D = 128 kernel) and adds dQ for its D / 2 columns (32 at a time); the
 * dS of the block goes once into shared memory (each consumer writes half of the queries). Shared
 * memory at D = 256: K, V 64 KB + 2 stages x 64 KB of Q, dO + 2 x 8 KB dS + 2 x 8 KB dQ staging =
 * 224 KB (the masked kernel: one dS buffer, its intervals need the room); at 192: 176 KB.
 * Tuning builds' JFA_TUNE_SM90_BWD=5 (unmasked, D = 192 only: it needs 16 KB more, which D = 256
 * lacks) computes S^T on consumer 0 and dP^T on consumer 1 and exchanges P and dS in fp32 through
 * shared memory (bwd.cuh SM90_DQ_CSX): 5 units of tensor work for two barriers and 32 KB of
 * shared-memory traffic a consumer a block.
 * FlashAttention-3 (hopper/, its hdim 256 backward: 64 query rows x 80 keys, two MMA warpgroups,
 * one stage of dO) avoids the duplicated score products: each warpgroup computes S for half of
 * the keys, P and dS go through shared memory, and dV^T = dO^T P, dK^T = Q^T dS (the A operand
 * MN-major from shared memory) split D between the warpgroups. That is the next step if the
 * duplicated products keep D = 256 under 250 TFLOP/s; its cost is P's shared-memory round trip
 * and one more cross-warpgroup barrier a block.
 * Variant 0 is what runs; tuning builds (-DJFA_TUNING=ON) also compile variants 1.. of the
 * forward and pick one with JFA_TUNE_SM90A=<n> (a variant a head dim lacks runs variant 0).
 * The D = 128 forward's default (variant 0, = 3) is PVLAG since the fourth session of 2026-12-02
 * (H200, N = 4096: 446 -> 492 TFLOP/s, causal 387 -> 423; bench/RESULTS.md); variant 6 keeps the
 * order before it (S, softmax, P V per block) for A / B runs.
 * Variants 3, 4 and 5 of the D = 128 forward (PVLAG; BN = 128 with 2 / 3 stages, BN = 176 with 2)
 * overlap the softmax with the tensor cores without variant 1's second score accumulator: the P V
 * of block j runs during the softmax of block j + 1 (FlashAttention-3's order), live across that
 * softmax O 64 + S 64 + P 32 registers a thread at BN = 128, O 64 + S 88 + P 44 at 176 (variant 1:
 * O 64 + S 64 + the next S 64, which spills and serialises its wgmma). ptxas: 0 spills, and the
 * consumers' code needs at most 192 (BN = 128) / 224 (BN = 176) of their 240 registers.
 * Variant 7: variant 3 with masked calls (windows, positions, packed sequences, boolean dense masks)
 * in the PVLAG order too (PVLAGM; fwd.cuh reads a block's mask bits before K's release), bitwise
 * the old order's masked results (variant 6). The default since the fourth session of 2026-12-02
 * (variant 0 = 7; H200: a causal window of 2048 at N = 16384 358.4 -> 398.0 TFLOP/s, 8 packed
 * sequences of 2048 270.9 -> 291.2); variant 6 keeps the old order for masked calls too.
 * Variant 8 (PERSIST, 2026-12-02 sixth session, branch persist2; the default since then, variant 0 = 8, but
 * accumulate-mode calls (the ring's) keep variant 7's kernel, whose CTAs leave SMs to the ring's
 * communication kernels between waves; H200 run 3, TFLOP/s variant 7 / 8: causal window of 2048 at
 * N = 16384 456.6 / 545.0, 8 packed sequences of 2048 354.7 / 495.5, causal N = 16384 541.6 / 549.6,
 * N = 4096 486.9 / 536.1, 8 causal rows of 2048 341.2 / 414.8): variant 7 as a
 * persistent kernel (fwd_persist.cuh: min(SMs, tiles) CTAs, a static schedule, the next tile's Q and first
 * blocks loaded while the current tile ends, tile descriptions by producer warps 1..3 ahead of time, o stored
 * as 16-byte pieces); boolean dense masks run variant 7's kernel. Bitwise variant 0's outputs. Variant 9
 * (PERSIST_XT): the same with a tile's last P V issued with the next tile's first S.
 * PVLAG in the JVP (branch pvjvp: P and P (Sd - c) through shared memory at D = 128, in registers at
 * 64) measured 4-6% slower than variant 0 on the H200 (bench/RESULTS.md, fourth session, run 4) and
 * is not in this table.
 */
#ifndef JFA_KERNELS_SM90_TILES_H_
#define JFA_KERNELS_SM90_TILES_H_

#include "kernels/common/host.cuh"

/** One row. dtype 0: bf16 and fp16 alike (JFA_DTYPE_FLOAT32: the float32 kernel, fwd_f32.cuh). BM = 128 query rows per CTA (two consumer
 *  warpgroups of 64), BN keys per block (BNM in masked calls, MASK_CLASS_ANY: a power of two),
 *  ST shared-memory stages, OVERLAP: the S of block j + 1 issued before the softmax of block j
 *  (forward; the JVP only with even column splits, D = 192 CSE and 256), PAD: the P V products
 *  over whole 64-column slabs (D = 96: wgmma N = 128 into an O (and U) of 128 columns, the last
 *  32 zeros) rather than over D columns (at D = 96, since the eleventh session, two wgmma of 64 and
 *  32 columns, each within one slab: fwd.cuh mma_pv_cols; the same results, tuning variants
 *  26 / 7), CS: the column
 *  split (BM = 64 rows a CTA, both consumers on them, the first owning O's and U's columns 0..127,
 *  the second the rest; CSE, D = 192: 0..95 and 96..191). QREG (float32 rows, fwd_f32.cuh): Q's
 *  hi / lo fragments stay in registers for the CTA's lifetime instead of being reloaded from the
 *  TMA tile and split each key block; BNT, STT (float32 rows; 0: BN, ST): the keys a block and the
 *  stages of the TF32 mode, whose stages hold 3 tiles (the JVP 6) instead of 5 (10).
 *  PVLAG (16-bit forward, unmasked and causal calls; masked ones run variant 0's unless PVLAGM): the other
 *  overlap (FlashAttention-3's): the P V of block j is issued right after the S of block j + 1 and
 *  runs during the softmax of block j + 1, O rescaled once that P V is waited; one score accumulator
 *  and P (packed, 16-bit) live across the softmax instead of two score accumulators, so it fits D =
 *  128 at BN = 128 (fwd.cuh); K and V of a stage get their own barriers (K released after its S). */
struct Sm90Tile {
  int op, dtype, D, variant;
  int BN, ST;
  bool OVERLAP;
  int BNM;
  bool PAD;
  bool CS;
  bool QREG;
  int BNT, STT;
  bool PVLAG;
  bool PVLAGM; /* PVLAG rows: masked calls (MASK_CLASS_ANY) run the PVLAG order as well (fwd.cuh) */
  bool CSE;    /* CS rows (D = 192): the even column split, 96 + 96 (fwd.cuh mma_pv) instead of 128 + 64 */
  int STO;     /* OP_BWD_JVP rows: buffers of a stage's dO half (0: ST; bwd_jvp.cuh) */
  int STV;     /* 0, or K (, Kd) and V (, Vd) in two rings (fwd.cuh Sm90Fwd): ST stages of K, STV of V;
                  unmasked calls (masked ones run variant 0's tiles) */
  bool PERSIST; /* the persistent forward (fwd_persist.cuh; 16-bit, not the JVP; BN = 128, PVLAG, two consumers: D = 128,
                   D = 64's masked calls (row 0's MASKV, 29), and D = 96 / 64 in tuning variants; boolean dense masks
                   run the row's PVLAGM kernel) */
  bool PERSIST_XT; /* PERSIST: a tile's last P V issued with the next tile's first S (fwd_persist.cuh XT) */
  int EXPF;        /* 16-bit forward, unmasked and causal calls (masked ones run variant 0's kernel; the PERSIST
                      rows' boolean dense masks too): of each 16 probabilities of a row, EXPF computed on the FMA
                      pipe (common/exp2_poly.h) instead of MUFU.EX2 (softmax.cuh fwd_softmax_block); 0: none */
  int STM;         /* masked calls' stages (MASK_CLASS_ANY: ST = STM, no second ring) where they differ from the
                      unmasked tiles' (D = 256: two rings of one stage, STV; the D = 64 JVP: 2 stages at BN = 128,
                      its masked tiles 3 at BNM = 64); 0: ST */
  int NC;          /* consumer warpgroups of 64 rows (0: 2; 3: BM = 192, 512 threads, the consumers at 160 registers;
                      16-bit forward, unmasked and causal calls: masked ones run variant 0's kernel; fwd.cuh) */
  int MASKV;       /* NC rows: the variant whose masked tiles masked calls run (row 0's own, when it is an NC row; the
                      NC kernel has no masked form); also a row 0 whose masked tiles are another row's (D = 192's JVP:
                      its row 0 in two rings, its masked calls on variant 11's kernel) */
  bool MPASS;      /* 16-bit forward / JVP: the softmax's per-element mask as a pass of its own under one branch per
                      block (common/softmax.cuh fwd_softmax_block MPASS), not if-converted into every block's loop */
  int MASKP;       /* NC forward rows: the variant (a PERSIST row with three consumers) whose persistent kernel runs
                      windows and packed sequences, not dense masks or accumulate mode (fwd.cuh sm90_fwd_variant;
                      JFA_SM90_FWD_NC3=0 per call: MASKV's tiles as before); 0: MASKV's */
  bool LEANCS;     /* CS rows (the D = 192 JVP): the LEAN softmax (common/softmax.cuh: O and U rescaled only where a row of
                      the warp needs it, Sd scaled once per row sum), which the other 16-bit JVPs take; unmasked calls.
                      ptxas: no spills at D = 192's row 0 tiles, 48 bytes at D = 256's (thirty-ninth session) */
};

/* clang-format off */
static constexpr Sm90Tile kSm90Tiles[] = {
  /* Every 16-bit forward / JVP row 0 takes MPASS (the softmax's per-element mask as a pass of its own under one
     branch per block; the D = 192 JVP's row 0 not in the thirty-eighth session, again since the thirty-ninth) since
     the tenth session of 2026-12-03: H200, forward TFLOP/s without / with it (bitwise the
     same results), D = 64 N = 4096 297.8 / 436.8, N = 16384 347.0 / 538.4, causal 263.0 / 362.5 and 328.2 / 484.4;
     D = 128 527.2 / 630.2, causal N = 16384 494.5 / 599.6; JVP D = 64 383.8 / 455.9, causal 426.6 / 483.6, D = 128
     499.5 / 549.5, causal 537.6 / 555.6 (call 1); forward at N = 4096 D = 96 387.8 / 499.4, 192 557.7 / 609.4, 256
     535.5 / 591.3, JVP D = 96 426.9 / 459.4, 192 317.7 / 345.9, 256 348.8 / 378.2 (call 2; bench/RESULTS.md). The rows
     without it: tuning variants 20 (D = 64), 8 (D = 128), 25 (D = 96, 192, 256) of the forward; 1 (D = 64, 128), 6
     (96, 192, 256) of the JVP. EXPF over MPASS lost (call 2: D = 64 416.6 against 406.0 / 381.5 with 2 / 4 of 16,
     D = 128 566.6 against 508.1 / 520.1 with 2 / 1). */
  /* D = 64: three consumer warpgroups in the PVLAG order since the ninth session (tuning variant 20; the row before,
     OVERLAP with two consumers, is variant 22). Masked calls (MASKV) run variant 30's masked tiles since the nineteenth
     session: two consumers in the PVLAG order with MPASS, 128 keys a block, 3 stages (H200, bf16 N = 4096, forward
     TFLOP/s against variant 24's, OVERLAP with MPASS, the masked tiles before: bias lane 127.2 -> 150.3, random half
     boolean mask 76.5 -> 84.0, a causal window of 2048 at N = 16384 218.6 -> 293.9; bench/RESULTS.md). Variant 23 is
     row 0 with the masked tiles before (MASKV 24). */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  /* Since the twenty-fifth session windows without a dense mask run variant 34's persistent kernel with three
     consumer warpgroups (MASKP; bitwise 29's results; H200, twenty-fourth session call 3 and twenty-fifth call 1,
     jfa_bench, causal window of 2048 at N = 16384, forward TFLOP/s 29 / 34: 336.9 / 369.0, 345.7 / 375.9, 345.5 /
     375.6, 346.7 / 375.3; 8 packed sequences of 2048 287.0 / 267.8, 290.9 / 276.0, so those stayed on 29), and since
     the twenty-seventh packed sequences too: with the consumer skip 34 gains (call 1, 29 / 34: 8 x 2048 293.3 /
     298.1, 294.5 / 309.3; 16 x 1024 218.5 / 226.0; 4 x 4096 353.4 / 374.0) */
  {OP_FWD,  0,  64, 0,    128,  3, false,  128, false, false, false,  0,  0, true,  false, false, 0, 0, false, false, 0, 0, 3, 29, true, 34},
  /* D = 96: three consumer warpgroups at 96 keys a block, 3 stages, no PAD, since the twenty-third session (tuning
     variant 31; H200, that session's call 1, bf16 B = 4 H = 21 N = 4096, forward TFLOP/s row 0 before (variant 32 now)
     / 31: 493.4 / 520.0, causal 415.7 / 431.1); masked calls run variant 32's masked kernel (MASKV), the row before's */
  {OP_FWD,  0,  96, 0,     96,  3, false,  128, false, false, false,  0,  0, true,  false, false, 0, 0, false, false, 0, 0, 3, 32, true},
  {OP_FWD,  0, 128, 0,    128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 0, 0, 0, 0,  true},
  {OP_FWD,  0, 192, 0,    112,  2, false,   64, false, false, false,  0,  0, true,  true,  false, 0, 0, false, false, 0, 0, 0, 0,  true},
  /* D = 256: 80 keys a block (FlashAttention-3's non-causal D = 256 width; Q 64 KB + 2 stages of 80 KB) since the
     twenty-fourth session (tuning variant 33 before; H200, that session's call 1, bf16 B = 4 H = 8 N = 4096, forward
     TFLOP/s row 0 before (variant 33 now) / at 80 keys: 607.0 / 625.9, causal 531.8 / 533.0); masked calls keep the
     masked tiles (BNM = 64): their results are as before */
  {OP_FWD,  0, 256, 0,     80,  2, false,   64, false, false, false,  0,  0, true,  true,  false, 0, 0, false, false, 0, 0, 0, 0,  true},
  /* D = 64: 128 keys a block, 2 stages, since the eleventh session (tuning variant 2 before; H200, N = 4096 JVP
     483.9 -> 563.1 TFLOP/s, causal N = 16384 499.1 -> 575.4, bench/RESULTS.md); masked calls keep the row before's
     masked tiles (BNM = 64, 3 stages: STM), which is tuning variant 2 now */
  {OP_JVP,  0,  64, 0,    128,  2, false,   64, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 3, 0, 0,  true},
  /* D = 96: P V over 96 columns as 64 + 32 (not PAD's 128) since the twelfth session (tuning variant 7 before it,
     the padded row now: H200, eleventh session, JVP 487.6 -> 510.3 TFLOP/s at N = 4096, causal 16384 513.3 -> 541.8,
     the same results) */
  {OP_JVP,  0,  96, 0,     64,  2, false,   64, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 0, 0,  true},
  {OP_JVP,  0, 128, 0,     64,  2, false,   64, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 0, 0,  true},
  /* D = 192: the even column split in two rings (STV: K, Kd in two stages, V, Vd in one) at BN = 64 since the
     thirty-eighth session (tuning variant 7, the same tiles; row 0 before, the even split at BN = 48 in one ring, is
     variant 11; H100, jfa_bench --case 4096 192, JVP TFLOP/s 11 / 7, two rounds: 336.4, 336.1 / 363.8, 367.5; causal
     315.5, 328.3 / 354.9, 346.4: +8.7%), with MPASS since the thirty-ninth (tuning variant 12, bitwise; H100, three
     interleaved rounds, 7's tiles without / with it: 356.0, 357.4, 355.6 / 373.5, 395.9, 386.3; causal 347.5, 360.4,
     347.0 / 379.0, 371.9, 368.7: +8%; variant 7 is the row before) and the LEAN softmax since the same session
     (LEANCS, tuning variant 13, not bitwise 12: H100, three interleaved rounds, 12's tiles without / with it: 363.6,
     359.7, 356.3 / 370.3, 371.0, 385.3; causal 366.6, 378.7, 375.1 / 391.8, 367.0, 390.6: +3-4% at the medians; 12 is
     the row before); masked calls run variant 11's masked tiles (MASKV: BNM = 32, 2 stages, MPASS: the kernel they
     ran before) */
  {OP_JVP,  0, 192, 0,     64,  2, false,   32, false, true,  false,  0,  0, false, false, true,  0, 1, false, false, 0, 0, 0, 11, true,  0,    true},
  /* D = 256: two rings of one stage at BN = 64 (tuning variant 4 before the eighth session: H200 351.6 against
     287.9 TFLOP/s, N = 4096); masked calls at BNM = 32 with 2 stages (STM), as before */
  {OP_JVP,  0, 256, 0,     64,  1, false,   32, false, true,  false,  0,  0, false, false, false, 0, 1, false, false, 0, 2, 0, 0,  true},
  /* backward (bwd.cuh): BN keys per CTA (64 per consumer warpgroup; CS: 64 shared by both, each
     owning half of dK's and dV's columns), ST stages of Q and dO (BM query rows: sm90_bwd_bm, 64 or at D = 64 128); OVERLAP,
     BNM, PAD unused */
  /* D = 64: 2 stages of 128 query rows (sm90_bwd_bm) since the twelfth session; masked calls 3 stages of 64 (STM) */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM */
  {OP_BWD,  0,  64, 0,    128,  2, false,  128, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 3},
  {OP_BWD,  0,  96, 0,    128,  2, false,  128, false, false},
  {OP_BWD,  0, 128, 0,    128,  2, false,  128, false, false},
  {OP_BWD,  0, 192, 0,     64,  2, false,   64, false, true},
  {OP_BWD,  0, 256, 0,     64,  2, false,   64, false, true},
  /* backward-JVP (bwd_jvp.cuh, the AB split; off by default: kSm90BwdJvp): BN = 64 keys a CTA (both
     consumers on them), BM = 64 query rows a stage of Q, Qd, dO, dOd; ST stages: at D = 128 one (two
     would need 279 KB with K, Kd, V, Vd, the fp32 P / Pd exchange and the dQd staging), at 64 three.
     Masked calls (windows, packed sequences) at the same tiles (BNM = BN) */
  {OP_BWD_JVP, 0,  64, 0,  64,  3, false,   64, false, false},
  {OP_BWD_JVP, 0, 128, 0,  64,  1, false,   64, false, false},
  /* backward-JVP tuning variant 1 (JFA_TUNE_SM90_BWD_JVP=1; unmasked and causal calls): at D = 128 the
     half-stage layout, ST = 2 buffers of Q, Qd and STO = 1 of dO, dOd (the dQd staging in two passes of 32
     columns to fit: 231,992 bytes of 232,448), so that block j + 1's Q, Qd load during block j */
  /* op         dtype  D  var  BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG  PVLAGM CSE    STO */
  {OP_BWD_JVP, 0, 128, 1,  64,  2, false,   64, false, false, false,  0,  0, false, false, false, 1},
  /* tuning variants (JFA_TUNING builds only; the backward's dQ adds: JFA_TUNE_SM90_BWD, bwd.cuh) */
  /* the backward's stages for JFA_TUNE_SM90_BWD=7 (bwd.cuh; H200: +0-0.6%): at D = 128 3 stages of Q and dO
     (231,992 bytes of shared memory with SM90_DQ_SPLIT's staging, of 232,448) */
  {OP_BWD,  0, 128, 1,    128,  3, false,  128, false, false},
  /* the backward at D = 64 with three consumers (192 keys a CTA, SM90_DQ_TMAO, registers 24 / 160: bwd.cuh) for
     JFA_TUNE_SM90_BWD=10 (issue 19: the D = 64 backward is latency bound, 0.47 eligible warps a scheduler in the
     tenth session's ncu; a third consumer warpgroup gives each scheduler one more warp to issue from). H200
     (twelfth session, call 1): +2-5% over 64 rows a stage, 128 rows (sm90_bwd_bm) +7-18%: not taken */
  {OP_BWD,  0,  64, 2,    192,  3, false,  192, false, false},
  /* the D = 64 backward's row 0 before the twelfth session (64 query rows a stage, 3 stages) for
     JFA_TUNE_SM90_BWD=11 */
  {OP_BWD,  0,  64, 3,    128,  3, false,  128, false, false},
  {OP_FWD,  0, 128, 1,    128,  3, true,   128, false, false},
  {OP_FWD,  0, 128, 2,     64,  4, true,    64, false, false},
  {OP_FWD,  0,  64, 1,    128,  3, false,  128, false, false},
  {OP_FWD,  0,  64, 2,    128,  5, true,   128, false, false},
  {OP_FWD,  0,  96, 1,    128,  3, false,  128, true, false},
  {OP_FWD,  0,  96, 2,    128,  2, false,  128, false, false},
  {OP_JVP,  0,  96, 2,     64,  2, false,   64, false, false},
  /* the JVP at D = 192 (165 TFLOP/s at N = 4096 against 290 at D = 256, 2026-12-02 fourth session, then with
     every wgmma serialised by ptxas; 274 since the fifth session's fix, variant 0): 2 stages as 256.
     H200, fifth session run 4 (N = 4096, bf16, JVP TFLOP/s): the 128 + 64 split at BN = 32, 3 stages (then
     variant 0, now 4) 274.4, 2 293.6, 3 293.9, the even split at BN = 48 (then 4, now the default, row 0)
     349.8, 5 290.7; at D = 256 variant 1 209.4 against variant 0's 299.0 (OVERLAP loses there).
     Variants 1, 2, 3, 5 compute what variant 4 does, bitwise (test_gpu_sm90_jvp_variants) */
  {OP_JVP,  0, 192, 1,     32,  2, false,   32, false, true},
  /* the even column split at D = 192 (CSE): each consumer O and U of 96 columns (48 + 48 registers a
     thread), as wgmma pieces of 64 + 32 columns, each within one slab; BN = 48 (2 stages, 48 + 2 x 72
     KB of shared memory) takes the registers CSE frees (S and Sd 24 + 24, P 12 + 12) */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG  PVLAGM CSE */
  {OP_JVP,  0, 192, 2,     32,  3, false,   32, false, true,  false,  0,  0, false, false, true},
  {OP_JVP,  0, 192, 3,     32,  2, false,   32, false, true,  false,  0,  0, false, false, true},
  /* the D = 192 JVP's default before the fifth session's run 4 (the column split 128 + 64, BN = 32, 3 stages) */
  {OP_JVP,  0, 192, 4,     32,  3, false,   32, false, true},
  /* and OVERLAP (the S and Sd of block j + 1 issued before the softmax of block j: sn, sdn) */
  {OP_JVP,  0, 192, 5,     32,  3, true,    32, false, true,  false,  0,  0, false, false, true},
  /* the same at D = 256 over variant 4's tiles (its column split is even: O and U 64 + 64 registers; 0 spills
     unmasked, the masked kernel would spill 20 bytes: masked calls run variant 0's, BNM = 32 with 2 stages) */
  {OP_JVP,  0, 256, 1,     32,  2, true,    32, false, true},
  /* D = 256 at BN = 48 (the keys a block that gave D = 192 +19%: the score products' wgmma at N = 48 read
     3.5 KB of shared memory a k16 step for 1.5x the work of N = 32's 3 KB), which two stages of K, V,
     Kd, Vd (2 x 96 KB + Q, Qd 64 KB) do not fit: two rings (STV), K and Kd apart from V and Vd, 48 KB a
     stage: variant 2 one K stage and two V stages (K(j + 1) loads while the consumers run the softmax
     and P V of block j), 3 two K stages and one V stage; 64 + 3 x 48 = 208 KB; BN = 64 (N = 64: 4 KB
     a k16 step for 2x N = 32's work), one stage of each (64 + 2 x 64 = 192 KB), is row 0 since the eighth
     session (tuning variant 4 before; H200, N = 4096, JVP TFLOP/s: 0 (BN = 32, now 4) 287.9, 2 319.3, 3 323.7,
     BN = 64 351.6). Consumers' registers (setmaxnreg probe): 2, 3 217..224, BN = 64 233..240 (BN = 32 <=
     208). The same products in the same order per element as variant 4 but over blocks of 48 / 64 keys: not
     bitwise (the online softmax's rescales fall elsewhere); masked calls run variant 0's masked tiles (BNM =
     32, 2 stages) */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG  PVLAGM CSE   STO STV */
  {OP_JVP,  0, 256, 2,     48,  1, false,   32, false, true,  false,  0,  0, false, false, false, 0, 2},
  {OP_JVP,  0, 256, 3,     48,  2, false,   32, false, true,  false,  0,  0, false, false, false, 0, 1},
  {OP_JVP,  0, 256, 4,     32,  2, false,   32, false, true}, /* the default before the eighth session */
  {OP_FWD,  0, 192, 1,     96,  2, false,   64, false, false},
  {OP_FWD,  0, 256, 1,     64,  2, false,   64, false, false},
  {OP_FWD,  0, 192, 2,     64,  3, true,    64, false, false},
  {OP_FWD,  0, 256, 2,     64,  2, true,    64, false, false},
  /* PVLAG (D = 128, bench/RESULTS.md 2026-12-02 fourth session): 2 and 3 stages; BN = 176 (the
     shape FlashAttention-3 takes for its non-causal D = 128 forward: S 88 + P 44 + O 64 registers) */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG */
  {OP_FWD,  0, 128, 3,    128,  2, false,  128, false, false, false,  0,  0, true},
  {OP_FWD,  0, 128, 4,    128,  3, false,  128, false, false, false,  0,  0, true},
  {OP_FWD,  0, 128, 5,    176,  2, false,  128, false, false, false,  0,  0, true},
  /* the D = 128 forward's default before PVLAG (S, softmax, P V per block): A / B and bitwise checks */
  {OP_FWD,  0, 128, 6,    128,  2, false,  128, false, false, false,  0,  0, false},
  /* variant 3 with masked calls (windows, positions, packed sequences, dense masks) in the PVLAG
     order too (bench/RESULTS.md 2026-12-02 fourth session, branch pvmask); BNM = BN: bitwise variant 0.
     The default before the sixth session (now row 0 is its persistent form, variant 8) */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG PVLAGM */
  {OP_FWD,  0, 128, 7,    128,  2, false,  128, false, false, false,  0,  0, true,  true},
  /* variant 7 as a persistent kernel (2026-12-02 sixth session, branch persist2): min(SMs, tiles) CTAs with a
     static schedule, the next tile's Q and first blocks loaded during the current one's end (fwd_persist.cuh);
     bitwise variant 0's outputs */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG PVLAGM CSE   STO STV PERSIST */
  {OP_FWD,  0, 128, 8,    128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true},
  /* and with the tile boundary overlapped too: the last P V of a tile issued with the next tile's first S */
  {OP_FWD,  0, 128, 9,    128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true, true},
  /* D = 64 in the PVLAG order (2026-12-02 eighth session; ncu on the H200, variant 0 at N = 4096: tensor pipe
     31.9% busy, MUFU 33%, issue slots 55%, 0.76 eligible warps a scheduler: latency, not a pipe): the P V of
     block j during the softmax of block j + 1 instead of OVERLAP's next S, masked calls too (PVLAGM);
     13 / 14 at variant 0's BN = 128 (3 / 4 stages: bitwise its results), 15 at BN = 176 (S 88 + P 44 + O 32
     registers a thread; masked calls at BNM = 128) */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG PVLAGM */
  {OP_FWD,  0,  64, 13,   128,  3, false,  128, false, false, false,  0,  0, true,  true},
  {OP_FWD,  0,  64, 14,   128,  4, false,  128, false, false, false,  0,  0, true,  true},
  {OP_FWD,  0,  64, 15,   176,  3, false,  128, false, false, false,  0,  0, true,  true},
  /* D = 96, 192, 256: the PVLAG order (masked calls too, PVLAGM) is row 0 since the eighth session (H200, N = 4096,
     forward TFLOP/s before / PVLAG: D = 96 330.3 / 362.9, 192 478.4 / 513.5, 256 502.4 / 537.1, causal 391.8 /
     395.1; bench/RESULTS.md); variant 10 keeps the order before it (S, softmax, P V per block; at D = 96 and 192
     the same tiles, bitwise row 0's results; at 256 BN = 80, where the PVLAG kernel spills 4 bytes: row 0
     takes BN = 64); 11 at D = 192: PVLAG at BN = 64, 3 stages */
  {OP_FWD,  0,  96, 10,   128,  2, false,  128, true,  false},
  {OP_FWD,  0, 192, 10,   112,  2, false,   64, false, false},
  {OP_FWD,  0, 192, 11,    64,  3, false,   64, false, false, false,  0,  0, true,  true},
  {OP_FWD,  0, 256, 10,    80,  2, false,   64, false, false},
  /* issue 19 (2026-12-02 eighth session, branch exp2): the forward with EXPF of each 16 probabilities of a row
     on the FMA pipe (common/exp2_poly.h: 2 FMNMX, 3 FADD, 5 FFMA, a shift and an FMUL each) and the rest on
     MUFU.EX2, whose 16 a clock per SM take about as long as the block's wgmma at D = 64 (bench/RESULTS.md,
     eighth session). D = 64: row 0's tiles with 2, 4, 6, 1, 3 of 16 (variants 10, 11, 12, 16, 17); D = 128: the
     persistent row 0 (variant 8) with 2, 4, 1 of 16 (10, 11, 12). Each polynomial costs 12 instructions
     where MUFU's costs one issue slot (8 cycles of its pipe a warp): the issue rate caps the useful share near
     2 of 16 (bench/RESULTS.md). Masked calls (MASK_CLASS_ANY) run variant 0's kernels. Not bitwise variant
     0: within the dtype's tolerance of float64 (tests/gpu/test_gpu_sm90_variants.c) */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF */
  {OP_FWD,  0,  64, 10,   128,  3, true,   128, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 2},
  {OP_FWD,  0,  64, 11,   128,  3, true,   128, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 4},
  {OP_FWD,  0,  64, 12,   128,  3, true,   128, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 6},
  {OP_FWD,  0,  64, 16,   128,  3, true,   128, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 1},
  {OP_FWD,  0,  64, 17,   128,  3, true,   128, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 3},
  {OP_FWD,  0, 128, 10,   128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 2},
  {OP_FWD,  0, 128, 11,   128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 4},
  {OP_FWD,  0, 128, 12,   128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 1},
  /* issue 19 (2026-12-02 eighth session, branch fwd3c): D = 64 with three consumer warpgroups (NC = 3: BM = 192
     query rows a CTA, 512 threads, the producer at 24 registers and the consumers at 160; FlashAttention-3's shape
     at this head dim), for more independent work per SM (ncu of row 0: no pipe saturated, 0.76 eligible warps a
     scheduler). 18: BN = 128, 3 stages, S, softmax, P V per block (O 32 + S 64 + P 32 registers a thread);
     19: OVERLAP at BN = 64, 4 stages; 20: PVLAG at BN = 128, 3 stages; 21: OVERLAP at BN = 80, 3 stages. ptxas
     (consumers at 160): 0 spills for these; OVERLAP spills at BN = 128 (524 bytes: O 32 + S 64 + S 64 + P 32) and
     at BN = 96 (80 bytes); setmaxnreg probes: at 144, 18, 20 and 21 spill (28 / 144 / 64 bytes), 19 not. Masked
     calls run row 0's kernel (sm90_fwd_variant). Checked within the dtype's
     tolerance of float64 (tests/gpu/test_gpu_sm90_variants.c), not bitwise against row 0 */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC */
  {OP_FWD,  0,  64, 18,   128,  3, false,  128, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 3},
  {OP_FWD,  0,  64, 19,    64,  4, true,    64, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 3},
  {OP_FWD,  0,  64, 20,   128,  3, false,  128, false, false, false,  0,  0, true,  false, false, 0, 0, false, false, 0, 0, 3},
  {OP_FWD,  0,  64, 21,    80,  3, true,    64, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 3},
  /* the D = 64 forward's row 0 before the ninth session (two consumers, OVERLAP at BN = 128, 3 stages): masked
     calls run its masked tiles (row 0's MASKV); H200 (ninth session, N = 4096 / 16384, TFLOP/s) against 20, row 0
     now: unmasked 294.6 / 317.7 against 313.7 / 353.0, causal 258.3 / 313.4 against 265.6 / 329.3 */
  {OP_FWD,  0,  64, 22,   128,  3, true,   128, false, false},
  /* issue 19 (ninth session of 2026-12-02, measured in the tenth): MPASS, the softmax's per-element mask out of the
     max's loop (nvcc if-converts it there: PTX of the D = 64 forward ran setp / sub / setp / or / and / selp for
     every score of every block; ncu, N = 4096: 930.6 M instructions, ALU pipe 57.8%, against 585.1 M and 30.0% with
     MPASS, bench/RESULTS.md). Bitwise their base rows' results. D = 64: 23 = row 0 (three consumers), 24 = 22 with
     MPASS (the masked tiles of row 0: MASKV); D = 128: 13 = row 0 (persistent; masked calls too). 20 (D = 64) and 8
     (D = 128) are row 0 without it; at D = 96, 192, 256 variant 25 (JVP: 6), and the JVP's 1 at D = 64, 128 */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  {OP_FWD,  0,  64, 23,   128,  3, false,  128, false, false, false,  0,  0, true,  false, false, 0, 0, false, false, 0, 0, 3, 24, true},
  {OP_FWD,  0,  64, 24,   128,  3, true,   128, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 0, 0,  true},
  {OP_FWD,  0, 128, 13,   128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 0, 0, 0, 0,  true},
  {OP_FWD,  0,  96, 25,   128,  2, false,  128, true,  false, false,  0,  0, true,  true},
  /* D = 96 without PAD (eleventh session): P V over 96 columns as two wgmma, 64 columns of slab 0 and the first 32 of
     slab 1 (fwd.cuh mma_pv_cols), instead of 128 with the last 32 zeros: a quarter less of P V's tensor work and O (U)
     48 registers a thread instead of 64; the same results as the padded products (H200, bench_variants: rel 0 on
     four shapes). H200 (eleventh session, bf16, TFLOP/s, row 0 / without PAD): forward 26 = row 0 so (masked calls
     too) N = 4096 490.5 / 503.6, causal 16384 526.4 / 507.1 (not taken); JVP 7 = row 0 so, N = 4096 487.6 / 510.3,
     causal 16384 513.3 / 541.8: row 0 since the twelfth session (7 is the padded row now) */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  {OP_FWD,  0,  96, 26,   128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, false, false, 0, 0, 0, 0,  true},
  /* JVP 7: the padded row (row 0 before the twelfth session) */
  {OP_JVP,  0,  96, 7,     64,  2, false,   64, true,  false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 0, 0,  true},
  /* D = 96 persistent (twelfth session; fwd_persist.cuh templated on the head dim): 27 = row 0 (PAD) so, 28 = 26
     (without PAD) so. H200 (its call 1, TFLOP/s row 0 / 27 / 28): N = 4096 496.1 / 494.0 / 504.5, causal 16384 490.2
     / 471.0 / 466.3, a causal window of 2048 335.6 / 366.4 (27): not taken (the window alone gains) */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  {OP_FWD,  0,  96, 27,   128,  2, false,  128, true,  false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 0, 0, 0, 0,  true},
  {OP_FWD,  0,  96, 28,   128,  2, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 0, 0, 0, 0,  true},
  /* D = 64 persistent (issue 19: the D = 64 forward at causal N = 4096 0.89x cuDNN, short rows): two consumers at
     128 keys a block, PVLAG with MPASS, 3 stages (row 0's are three consumers, not persistent; 13 is the
     non-persistent form without MPASS, bitwise). H200 (twelfth session, call 1, row 0 / 29): N = 4096 396.3 / 399.0,
     causal 4096 349.0 / 356.0, causal 16384 447.1 / 409.2: not taken */
  {OP_FWD,  0,  64, 29,   128,  3, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 0, 0, 0, 0,  true},
  /* D = 64, the masked tiles of row 0 (MASKV) from the nineteenth session to the twenty-second: 29's kernel not
     persistent (13 with MPASS; since the twenty-third, MASKV = 29: masked calls but dense masks and accumulate mode on
     the persistent kernel, fwd.cuh sm90_fwd_variant; H200, that session's call 1, a causal window of 2048 at N = 16384,
     forward TFLOP/s 314.4 -> 345.8); unmasked calls run it too under JFA_TUNE_SM90A=30 */
  {OP_FWD,  0,  64, 30,   128,  3, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, false, false, 0, 0, 0, 0,  true},
  /* D = 64, the persistent forward with three consumer warpgroups (issue 18: the D = 64 window forward at 69% of
     causal's rate on 29's two consumers, whose tensor pipe ncu saw 38.9% busy against the three-consumer causal
     kernel's 54.1%; twenty-fourth session): 192 query rows a tile, PVLAG at 128 keys a block with MPASS, 3 stages, the
     consumers at 160 registers (fwd_persist.cuh NC); unmasked and causal calls too; boolean dense masks and
     accumulate mode run row 0's kernels. Row 0's arithmetic per row: bitwise its results (test_gpu_sm90_variants,
     passed on the H200 in the twenty-fifth session's call 1, at its grid and at 7 CTAs; memcheck of case 21, packed
     sequences with a window, 0 errors) */
  {OP_FWD,  0,  64, 34,   128,  3, false,  128, false, false, false,  0,  0, true,  true,  false, 0, 0, true,  false, 0, 0, 3, 0,  true},
  /* D = 96 with three consumer warpgroups (issue 18: the D = 96 forward at 0.69x D = 128's, below D = 64's
     three-consumer rate; twenty-first session): 192 rows a CTA, PVLAG with MPASS, no PAD (P V over 96 columns as 64 +
     32), BN = 96, 3 stages (S 48 + P 24 + O 48 registers a thread: D = 64's 20 has 64 + 32 + 32); ptxas at 160
     registers: 0 spills (at BN = 128, 2 stages: 144 bytes, not kept). Masked calls run row 0's masked kernel (BNM:
     unused). Row 0 since the twenty-third session (bitwise it); 32 is the row 0 before (two consumers, PAD, BN = 128),
     whose masked kernel row 0's masked calls run */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  {OP_FWD,  0,  96, 31,    96,  3, false,  128, false, false, false,  0,  0, true,  false, false, 0, 0, false, false, 0, 0, 3, 0,  true},
  {OP_FWD,  0,  96, 32,   128,  2, false,  128, true,  false, false,  0,  0, true,  true,  false, 0, 0, false, false, 0, 0, 0, 0,  true},
  /* D = 256: row 0 before the twenty-fourth session (PVLAG with MPASS, 2 stages, 64 keys a block; the twenty-third
     session's variant 33 was row 0 at 80 keys, now row 0); masked calls run row 0's masked tiles, the same */
  {OP_FWD,  0, 256, 33,    64,  2, false,   64, false, false, false,  0,  0, true,  true,  false, 0, 0, false, false, 0, 0, 0, 0,  true},
  {OP_FWD,  0, 192, 25,   112,  2, false,   64, false, false, false,  0,  0, true,  true},
  {OP_FWD,  0, 256, 25,    64,  2, false,   64, false, false, false,  0,  0, true,  true},
  {OP_JVP,  0,  64, 1,     64,  3, false,   64, false, false},
  /* the D = 64 JVP: 2 = row 0 before the eleventh session (64 keys a block, 3 stages; the masked tiles row 0 keeps),
     3 = row 0 with 3 stages (the same key blocks and products: bitwise row 0) */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  {OP_JVP,  0,  64, 2,     64,  3, false,   64, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 0, 0,  true},
  {OP_JVP,  0,  64, 3,    128,  3, false,   64, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 0, 0,  true},
  {OP_JVP,  0, 128, 1,     64,  2, false,   64, false, false},
  /* the D = 128 JVP at 80 keys a block (eleventh session; the D = 64 JVP's finding: 128 keys a block there +15%, the
     per-block fixed costs shared by more scores): O 64 + U 64 + S 40 + Sd 40 registers a thread; 2 stages of 80 KB
     + Q, Qd 64 KB = 224 KB; masked calls run row 0's masked tiles (BNM = 64) */
  /* op      dtype  D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG  BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  {OP_JVP,  0, 128, 2,     80,  2, false,   64, false, false, false,  0,  0, false, false, false, 0, 0, false, false, 0, 0, 0, 0,  true},
  {OP_JVP,  0,  96, 6,     64,  2, false,   64, true, false},
  {OP_JVP,  0, 192, 6,     48,  2, false,   32, false, true,  false,  0,  0, false, false, true},
  /* issue 18 (thirty-eighth session): the even column split at D = 192 with the two rings of D = 256's row 0 (STV:
     K, Kd and V, Vd in their own stages), so that 64 or 80 keys a block fit beside Q, Qd (48 KB): the score products'
     wgmma at N = 64 read 4 KB of shared memory a k16 step for 2x N = 32's work (N = 48: 3.5 KB for 1.5x), and the
     per-block costs (ping-pong turns, barriers, row reductions) spread over more keys. 7: BN = 64, two K stages and
     one V stage (48 + 2 x 48 + 48 = 192 KB); 8: one K stage and two V stages; 9: one of each (144 KB); 10: BN = 80,
     one of each (168 KB). Registers a consumer: O 48 + U 48 + S, Sd 32 + 32 + P 16 + 16 at BN = 64 (D = 256's row 0
     has 64 more). Masked calls run row 0's masked tiles (BNM = 32, 2 stages), as every STV row */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG  PVLAGM CSE   STO STV */
  {OP_JVP,  0, 192, 7,     64,  2, false,   32, false, true,  false,  0,  0, false, false, true,  0, 1},
  {OP_JVP,  0, 192, 8,     64,  1, false,   32, false, true,  false,  0,  0, false, false, true,  0, 2},
  {OP_JVP,  0, 192, 9,     64,  1, false,   32, false, true,  false,  0,  0, false, false, true,  0, 1},
  {OP_JVP,  0, 192, 10,    80,  1, false,   32, false, true,  false,  0,  0, false, false, true,  0, 1},
  /* 11: row 0 before the thirty-eighth session (the even split at BN = 48, one ring of 2 stages, MPASS; its masked
     tiles are row 0's MASKV); 12: 7 with MPASS (the softmax's per-element mask as a pass of its own), bitwise it: row 0's
     tiles in the thirty-ninth session until row 0 took LEANCS (13). A key split (each consumer's S and Sd over half of
     a block's 64 keys, P swapped through shared memory; thirty-ninth session, branch ks-d192) ran 13% slower than row
     0 on the H100: its score products at N = 32 are bound by shared-memory reads (bench/RESULTS.md) */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  {OP_JVP,  0, 192, 11,    48,  2, false,   32, false, true,  false,  0,  0, false, false, true,  0, 0, false, false, 0, 0, 0, 0,  true},
  {OP_JVP,  0, 192, 12,    64,  2, false,   32, false, true,  false,  0,  0, false, false, true,  0, 1, false, false, 0, 0, 0, 0,  true},
  /* 13 (thirty-ninth session): 12 with LEANCS (the LEAN softmax of the other JVPs: +2-8% there, tenth session): row 0's
     tiles since that session */
  /* op      dtype  D  var    BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS MASKP LEANCS */
  {OP_JVP,  0, 192, 13,    64,  2, false,   32, false, true,  false,  0,  0, false, false, true,  0, 1, false, false, 0, 0, 0, 0,  true,  0,    true},
  {OP_JVP,  0, 256, 6,     64,  1, false,   32, false, true,  false,  0,  0, false, false, false, 0, 1, false, false, 0, 2},
  /* float32 (fwd_f32.cuh, JFA_SM90_F32 builds; unmasked and causal only: BNM = BN, unused): each
     stage holds K, V (, Kd, Vd) and per operand set K_lo, Vt_hi, Vt_lo (3xTF32), so shared memory
     sets BN: 5 tiles of BN x D floats a stage (the JVP 10), two stages, plus Q (and Qd) */
  /* op      dtype              D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT */
  {OP_FWD,  JFA_DTYPE_FLOAT32,  32, 0, 128,  2, false,  128, false, false, true,  128, 2},
  {OP_FWD,  JFA_DTYPE_FLOAT32,  64, 0,  64,  2, false,   64, false, false, true,  128, 2},
  {OP_FWD,  JFA_DTYPE_FLOAT32, 128, 0,  32,  2, false,   32, false, false, false,  32, 3},
  {OP_JVP,  JFA_DTYPE_FLOAT32,  32, 0,  64,  2, false,   64, false, false, true,   64, 3},
  /* D = 64's JVP with MPASS since the tenth session (variant 3 without it; H200, N = 4096 / causal 8192, 3xTF32 JVP
     TFLOP/s 100.1 / 98.0 without, 101.7 / 100.0 with; bitwise the same results) */
  /* op      dtype              D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT PVLAG  PVLAGM CSE   STO STV PERSIST XT EXPF STM NC MASKV MPASS */
  {OP_JVP,  JFA_DTYPE_FLOAT32,  64, 0,  32,  2, false,   32, false, false, true,   32, 3, false, false, false, 0, 0, false, false, 0, 0, 0, 0, true},
  /* the float32 JVP at D = 64 (issue 17; bench/RESULTS.md 2026-12-02 fifth session): row 0 since the sixth
     session, QREG: Q's hi / lo fragments in registers for the CTA (TF32: Qd's too), 3xTF32 reloads Qd's in
     chunks of 2 k8 steps while the previous chunk's products run (no wait between the passes); bitwise
     variant 0 (the same products in the same order per accumulator element). H200 (fifth session runs
     3 and 4, N = 4096, JVP TFLOP/s 3xTF32 / TF32): 0 96.7 / 156.6, 2 99.1 / 175.3. Variants that stacked
     K / Kd and V / Vd into wider products (98.4 / 156.1), batched the converters' loads (93.8 / 134.5,
     and with the stacking 93.1 / 121.3), issued the Qd products first (93.9 / 133.7) or put Q in a
     stage's bytes at 64 keys a block in TF32 (145.7) were measured there and removed. Tuning variant 2 is
     the old row 0 (Q's fragments loaded from shared memory per block). */
  /* op      dtype              D  var   BN  ST  OVERLAP  BNM   PAD    CS     QREG   BNT STT */
  {OP_JVP,  JFA_DTYPE_FLOAT32,  64, 2,  32,  2, false,   32, false, false, false,  32, 3},
  /* variant 3: row 0 without MPASS (the row before the tenth session); bitwise row 0 */
  {OP_JVP,  JFA_DTYPE_FLOAT32,  64, 3,  32,  2, false,   32, false, false, true,   32, 3},
  /* D = 32 (sixth session: the Triton package's float32 JVP at D = 32 ran 73.0 TFLOP/s on the H200
     against sm80's 3xTF32 60.2): rows 0 above take 64 keys a block (the forward 128) with Q's fragments
     in registers; variant 1 the D = 64 JVP's 32 keys (and a forward of 64) */
  {OP_FWD,  JFA_DTYPE_FLOAT32,  32, 1,  64,  2, false,   64, false, false, true,   64, 2},
  {OP_JVP,  JFA_DTYPE_FLOAT32,  32, 1,  32,  2, false,   32, false, false, true,   32, 3},
};
/* clang-format on */

/** How the sm90 backward adds dQ (bwd.cuh: 0 float2 atomics, 2 TMA reduce-adds of each consumer's
 *  partial over its 64 keys, 3 SM90_DQ_SPLIT: the consumers split dQ's columns, one reduce-add per
 *  element per CTA, unmasked kernel only). H200, bench/RESULTS.md 2026-12-02 run 4: the reduce-adds
 *  1.05-1.29x faster than the atomics (float4 atomics, tried, slower than both); 2026-12-02 third
 *  session run 1: SPLIT 1.04-1.08x faster than 2. 6 SM90_DQ_SPLITO: SPLIT in FlashAttention-3's
 *  order of issue and waits (D <= 128), the default since the fifth session of 2026-12-02 (H200: 1.12-1.16x
 *  SPLIT: N = 4096 D = 128 400.1 -> 461.0 TFLOP/s, causal 341.6 -> 396.4, N = 16384 causal 425.9 ->
 *  487.1, D = 64 288.9 -> 323.8). Masked calls run 2 when this is 3 or 6 (JFA_TUNE_SM90_BWD=9: 7, TMAO).
 *  At D = 64, 7 SM90_DQ_TMAO (SPLITO's order, each consumer adding the dQ of its own keys) since the ninth
 *  session of 2026-12-02: H200 (its call 3), causal N = 16384 backward 339.7 TFLOP/s with SPLITO, 360.0 with
 *  TMAO (at D = 128 TMAO lost: 363.5 against 509.8, sixth session); tuning builds' JFA_TUNE_SM90_BWD=6 runs
 *  SPLITO there. */
static constexpr int sm90_bwd_dq(int D) { return D == 64 ? 7 : 6; }
/** The unmasked backward's query rows a stage (bwd.cuh BMQ): 128 at D = 64 (SM90_DQ_TMAO, dQ in two 64-row halves,
 *  dV issued after dS) since the twelfth session (H200, bench/RESULTS.md its call 1, backward TFLOP/s 64 / 128 rows:
 *  N = 4096 328.2 / 376.8, causal 287.0 / 306.9, N = 16384 352.9 / 393.7, causal 312.1 / 369.8; the same dK, dV
 *  bits), 64 elsewhere (D = 128's dK and dV take 128 registers a thread: no room for scores of 128 queries). Masked
 *  calls keep 64 (the dense-mask tiles, the interval classes per block). Tuning builds: JFA_TUNE_SM90_BWD=11 runs
 *  64 at D = 64 (tiles.h tuning row 3, the row before). */
static constexpr int sm90_bwd_bm(int D) { return D == 64 ? 128 : 64; }
/** The masked kernel's dQ mode (it cannot take SPLIT / SPLITO: its consumers skip empty blocks apart) by
 *  head dim: 7 SM90_DQ_TMAO (SPLITO's order with per-consumer dQ adds) at D = 64, 2 SM90_DQ_TMA above.
 *  H200, sixth session run 3, causal window of 2048 at N = 16384, backward TFLOP/s TMA / TMAO: D = 64
 *  251.6 / 292.4; D = 128 324.1 / 299.4 and packed 8 x 2048 258.7 / 246.8 (its masked TMAO kernel issues
 *  dV after dS for registers: slower); D = 96 not measured. */
static constexpr int sm90_bwd_dq_masked(int D) { return D == 64 ? 7 : 2; }
/** Whether bands (windows without packed sequences or a dense mask, packed sequences aligned to the blocks) run the
 *  unmasked backward kernel at head dim D (bwd.cuh sm90_bwd_band; JFA_SM90_BWD_BAND=1 / 0 overrides per call; D =
 *  192 / 256, CS, keep the MASKED one). H200, ninth session of 2026-12-02, causal window of 2048 at N = 16384,
 *  backward TFLOP/s unmasked kernel (SPLITO) / MASKED: D = 128 369.3 / 310.8 (plain causal 489.6), N = 4096 window
 *  1024 272.5 / 239.9; D = 64 269.7 / 287.7, in TMAO's order 285.0 / 282.9 (plain causal 334.5), so not at 64 then.
 *  D = 96 (MASKED TMA as 128) follows 128, not measured. Since the twenty-fifth session at D = 64 too: its unmasked
 *  kernel takes 128 query rows a stage since the twelfth session (+7-12% there), the MASKED one 64. */
constexpr bool sm90_bwd_band_on(int /* D */) { return true; }
/** Whether the backward's routes that compute P in softmax_ds (SM90_DQ_CS, SM90_DQ_TMA: bwd.cuh) test the mask
 *  under one branch per block (MP) instead of per element in every block's loop. On since the tenth session of
 *  2026-12-03: H200 (its call 1), backward TFLOP/s without / with: D = 192 N = 4096 220.2 / 270.1, a causal window
 *  of 2048 at N = 16384 on the MASKED kernel (D = 128) 319.4 / 334.8, at D = 256 216.2 / 221.2, a dense boolean mask
 *  at D = 128 151.9 / 152.1 (bench/RESULTS.md). */
static constexpr bool kSm90BwdMp = true;
/** The column split's (D = 192 / 256) order: 8 SM90_DQ_CSO (SPLITO's order) at D = 256, 4 SM90_DQ_CS at 192
 *  (CSO passed its tests there, not measured). H200, sixth session run 3, N = 4096, backward TFLOP/s
 *  CS / CSO at D = 256: 242.7 / 279.0, causal 223.5 / 252.6. */
static constexpr int sm90_bwd_dq_cs(int D) { return D == 256 ? 8 : 4; }
/** Whether the 16-bit backward's unmasked kernel (D = 64, 96, 128: unmasked, causal and bands; bwd.cuh PERSIST) runs
 *  persistent by default for calls of up to kSm90BwdPersistMaxNk keys: min(SMs, tiles) CTAs walking the tiles, the
 *  next tile's K, V and first stages loaded while the consumers store a tile's dK and dV (through the dS and dQ
 *  staging buffers), so that short sequences (packed ones, N <= 4096) stop paying each CTA's fill and drain (the
 *  thirteenth session's fit: ~2.4 blocks of 128 rows a CTA at D = 64, ~3.5 at D = 128). Accumulate mode (the ring's)
 *  too; not without 16-byte dK / dV rows (kv_vec16). JFA_SM90_BWD_PERSIST=1 / 0 per call overrides (1: at every key
 *  count). Off: written in the twenty-eighth session without a GPU (its protocol model: bench/bwd_persist_protocol.py);
 *  its tests pass on the H200 (twenty-ninth session), but it measured slower: D = 64 causal 16 x 1024 / 8 x 2048 /
 *  4 x 4096 / 1 x 16384 -25 / -31 / -37 / -33%, 8 packed sequences of 2048 +3% (bench/RESULTS.md). */
static constexpr bool kSm90BwdPersist = false;
static constexpr int64_t kSm90BwdPersistMaxNk = 4096;

/** Whether the 16-bit JVP at head dim D (64, 96, 128: row 0's tiles without the column split) runs persistent by
 *  default (jvp_persist.cuh: min(SMs, tiles) CTAs walking the tiles, the next tile's first stage and Q / Qd loaded while
 *  the current one ends); causal: the call is plain causal (no window, positions or packed sequences). Only calls
 *  outside accumulate mode and without dense masks ask (fwd.cuh sm90_fwd_variant); JFA_SM90_JVP_PERSIST=1 / 0
 *  overrides per call at every such D.
 *  H200, twentieth session (bench/RESULTS.md, calls 3 and 4: three A / B pairs in two processes, bf16, JVP TFLOP/s,
 *  fwd.cuh's kernel -> persistent): D = 64 causal window of 2048 at N = 16384 353 -> 383 (+8%, every pair), N = 4096
 *  unmasked 540 -> 556 (+3%, every pair), causal N = 16384 594 -> 572 (-4%); D = 128 unmasked 598 -> 585, causal N =
 *  4096 524 -> 485 (-7.5%, every pair: the persistent order, longest first over every head, gives up the grouped
 *  heads' L2 reuse of common/cta_order.cuh), N = 16384 596 -> 604, window 439 -> 431; D = 96 543 -> 523 (one pair). So
 *  on where it won: D = 64 calls that are not plain causal. Since the twenty-fifth session at D = 64 plain causal calls
 *  of up to 2048 keys too (its call 5, two rounds, JVP TFLOP/s fwd.cuh's kernel -> persistent: causal B x N = 16 x
 *  1024 303.9 / 311.2 -> 340.6 / 341.3 (+11%), 8 x 2048 422.6 / 420.0 -> 435.4 / 435.1 (+3%), 4 x 4096 508.7 / 512.4 ->
 *  502.4 (-1.5%), 1 x 16384 573.4 / 573.6 -> 556.5 (-3%): short sequences' tiles have few key blocks to spread a
 *  tile's start and end over). nk: the call's keys. Since the twenty-seventh session at D = 128 aligned packed
 *  sequences run as a band (packed_band) too (its call 2, two rounds, 8 x 2048: 456.4 / 446.5 -> 479.9 / 476.7, +5.4%;
 *  the window of 2048 at N = 16384 543.5 / 536.0 -> 526.3 / 539.5, not taken). */
constexpr bool sm90_jvp_persist_default(int D, bool causal, int64_t nk, bool packed_band = false) {
  return (D == 64 && (!causal || nk <= 2048)) || (D == 128 && packed_band);
}
/** The most keys of a plain causal call (no window, positions, packed sequences or dense mask) that D = 64's forward
 *  runs on the persistent kernel with three consumer warpgroups (fwd_persist.cuh NC = 3, variant 34's unmasked form;
 *  fwd.cuh sm90_fwd_variant, JFA_SM90_FWD_NC3P=1 / 0 per call: every unmasked or causal call / none) instead of the
 *  non-persistent three consumers; 0 elsewhere. Since the twenty-fifth session: H200 (its call 5, jfa_bench, two
 *  rounds, forward TFLOP/s non-persistent -> persistent): causal B x N = 16 x 1024 174.8 / 178.7 -> 208.7 / 208.5
 *  (+18%), 8 x 2048 286.9 / 287.8 -> 308.5 / 309.0 (+7.5%), 4 x 4096 366.2 / 372.7 -> 378.4 (+2.4%; the twenty-fourth
 *  session +1%), 1 x 16384 499.7 / 497.0 -> 488.5 (-2%; the twenty-fourth -3%). Unmasked calls not measured: they
 *  keep the non-persistent kernel. The same bits either way (test_gpu_sm90_variants: 34 bitwise row 0). With the
 *  consumer skip (fwd_persist.cuh CSKIP, twenty-sixth session; call 2: 16 x 1024 234, 8 x 2048 333, 4 x 4096 410) the
 *  bound stays: call 3 measured 2 x 8192 455.8 / 459.5 non-persistent against 452.8 / 452.2, 1 x 16384 501.2 / 504.6
 *  against 481.9 / 480.2, unmasked N = 4096 412.1 / 410.6 against 398.8 / 402.7. */
constexpr int64_t sm90_fwd_nc3p_causal_max_nk(int D) { return D == 64 ? 4096 : 0; }
/** Whether windows (without packed sequences or a dense mask) run the unmasked forward / JVP kernels as a band
 *  (fwd.cuh sm90_fwd_band; JFA_SM90_FWD_BAND=1 / 0 overrides per call) at head dim D: the window's blocks inside
 *  every row's keys on the unmasked code (LEAN, STV at D = 256, the persistent JVP at D = 64), the per-element test
 *  only where an edge crosses a block. Before the twenty-first session every window ran the MASKED kernels
 *  (intervals in shared memory, the rows' visibility bits per block). H200, twenty-first session call 2 (two A / B
 *  pairs, bf16, causal window of 2048 at N = 16384, D = 256 at N = 8192; TFLOP/s MASKED -> band): JVP D = 64 360 ->
 *  444 (+23%), 96 422 -> 428, 128 470 -> 483 (+3%), 256 268 -> 361 (+35%); forward D = 64 274 -> 265, 96 323 -> 333,
 *  128 518 -> 492 (-5%), 256 430 -> 408: on for the JVP only. */
constexpr bool sm90_fwd_band_on(int /* D */, bool jvp) { return jvp; }
/** Whether the sm90 float32 backward (bwd_f32.cuh, D = 64, unmasked / causal) takes the calls it can
 *  by default (family.cu; JFA_SM90_F32_BWD=1 / 0 overrides per call). On since the sixth session of
 *  2026-12-02 (H200, N = 4096, B = 4, H = 32: 3xTF32 56.2 TFLOP/s against sm80's 51.1, TF32 91.1 against
 *  86.9; large-logit dQ / dK / dV 2.4-4.1e-4, sm80's 4.3-6.9e-4; bench/RESULTS.md). Its tiles are fixed in
 *  Sm90BwdF32 (BN = 64 keys a CTA, BM = 32 queries a stage, 2 stages: the top of bwd_f32.cuh says why). */
static constexpr bool kSm90BwdF32 = true;
/** Whether the sm90 float32 forward / JVP (fwd_f32.cuh DM) take calls with a boolean dense mask (with or without
 *  causal; family.cu; JFA_SM90_F32_DENSE=1 / 0 overrides per call). On since the sixteenth session: the Triton
 *  package's float32 with a dense mask ran 1.5x sm80's float32 forward there (H200, D = 64, N = 4096, call 2). */
static constexpr bool kSm90F32Dense = true;
/** Whether the sm90 float32 backward (bwd_f32.cuh DM: D = 64) takes calls with a boolean dense mask (with or without
 *  causal; family.cu; JFA_SM90_F32_BWD_DENSE=1 / 0 overrides per call): the producer's lanes copy the rows' mask words
 *  of the CTA's 64 keys into the stage with lse and delta, the consumers test a bit per element. On since the
 *  seventeenth session: D = 64, N = 4096, random half mask on the H200, 25.0 TFLOP/s against sm80's 18.9 (TF32 40.2
 *  against 25.2) and the Triton package's 20.2; test_gpu_masks_nof32bwd_dense keeps sm80's kernel under test. */
static constexpr bool kSm90BwdF32Dense = true;
/** Whether the sm90 16-bit forward / JVP take calls with a 16-bit additive dense mask whose rows have unit key stride and
 *  16-byte aligned starts (MaskDev.bias_vec), where the masked kernel's stages leave room for the bias tiles
 *  (fwd.cuh Sm90Fwd::SMEM_BIAS; family.cu; JFA_SM90_BIAS=1 / 0 overrides per call): producer warp 1 copies a partial
 *  block's tile into the stage, the softmax adds it per element. Since the eighteenth session; before it sm80's
 *  kernels took every additive mask (H200, bf16 D = 128 N = 4096: 102.6 / 168.3 TFLOP/s, SDPA's forward 305). */
static constexpr bool kSm90Bias = true;
/** Whether the sm90 16-bit backward takes calls with a 16-bit additive dense mask (unit key stride, 16-byte aligned rows:
 *  MaskDev.bias_vec) at D = 64, 96, 128 and 192 (D = 256's masked column split lacks the shared memory), on its masked
 *  kernel (family.cu; JFA_SM90_BWD_BIAS=1 / 0 overrides per call): producer warp 2 + c brings tile c's partial 64 x 64
 *  biases by TMA, the consumers add them to S^T by ldmatrix .trans (bwd.cuh). Since the nineteenth session; before it
 *  sm80's backward took every additive mask (H200, bf16 N = 4096 bias lane, backward TFLOP/s: D = 128 87.5 -> 301.4,
 *  SDPA's 285.4; D = 64 58.8 -> 221.9; D = 192 34.3 -> 233.9). */
static constexpr bool kSm90BwdBias = true;
/** Whether 16-bit calls with a dense mask (boolean, or 16-bit additive where kSm90Bias / kSm90BwdBias take it) whose head
 *  dim is a multiple of 8 below 64 run on the D = 64 kernels (forward, JVP, backward), their columns zero-padded: TMA
 *  fills columns D..63 of each load with zeros (its box is 64 columns; the tensor maps keep the call's D), so every
 *  product is the call's own, and the epilogues write columns below D only (fwd_epilogue, and the backward's
 *  tile_store16 / store_or_add, bounded by Dreal); the dQ workspace keeps the call's D columns (its TMA map drops
 *  the reduce-adds past them). Without it sm80's masked kernels take them at their D = 32 / 64 rows. Since the
 *  fortieth session: bench_vs_package.py (H100) found jfa's bf16 D = 32 boolean-mask forward at 0.82x the Triton
 *  package's (sm80's masked kernel: 2.651 ms against 0.508 unmasked), and jfa_bench --dense-full 16 1024 64 ran
 *  2.836 / 3.709 / 5.199 ms on sm80 against 0.986 / 1.572 / 2.542 on sm90 (forward / JVP / backward). Padded (H100,
 *  call 3, --dense-full 16 1024 D): D = 32 4.96 / 6.20 / 8.80 -> 1.85 / 2.91 / 4.79 ms, D = 16 9.46 / 11.96 / 16.97 ->
 *  3.64 / 5.67 / 9.19; the D = 32 boolean lane 2.08 / 2.15 / 1.94x the package's. Unmasked and causal calls at D = 32
 *  stay on sm80 (the padded kernels would do twice their work: about even, not measured). family.cu sm90_call_dim;
 *  JFA_SM90_PAD_DENSE=1 / 0 per call. */
static constexpr bool kSm90PadDense = true;
/** Its query rows a block (a stage): 3xTF32 32 (8 tiles of BM x 64 floats a stage: 64 KB, two stages, K, V
 *  and their lo planes 64 KB, the dS planes 32 KB: 225.6 KB), TF32 64 (4 tiles a stage, 64 KB; 194.1 KB):
 *  wgmma N = 64 for the score products and dQ^T. */
static constexpr int kSm90BwdF32BM = 32, kSm90BwdF32BMT = 64;
/** Whether the float32 backward stores dK / dV through shared memory as 16-byte pieces (bwd_f32.cuh's epilogue;
 *  non-accumulate calls whose outputs allow it) instead of element by element from the two consumers. Off: measured
 *  on the H200 (fourteenth session, call 3: the epilogue 5159 -> 3199 cycles a CTA, ~+1.5% of the backward at
 *  N = 512-1024) and equal to the per-element stores on the A / B's inputs; on since the fifteenth session, after
 *  test_gpu_f32_backward_tune_epi passed on the H200 (its call 1); tuning builds' JFA_TUNE_SM90_F32_BWD_EPI=0 turns it
 *  off. */
static constexpr bool kSm90BwdF32VecEpi = true;
/** The float32 backward's prologue of the fifteenth session (bwd_f32.cuh: each consumer splits one of K, V and
 *  converts its stage's first use; the converters from the second uses), and its dQ reduce-added, scaled, into a
 *  float32 dq itself where dq is TMA-describable and dense or accumulating (family.cu sm90_f32_dq_direct; no
 *  workspace pass). On since the sixteenth session: H200 (fifteenth session, call 3) +3.5% / +4.7% / +1-2% at D = 64
 *  N = 512 causal / N = 256 causal / N = 512, equal outputs (rel <= 6.5e-8 to the code before); the GPU suite with
 *  test_gpu_{f32_backward,attention,modes,nan}_tune_pro passed (sixteenth session, call 1). Tuning builds'
 *  JFA_TUNE_SM90_F32_BWD_PRO=0 / JFA_TUNE_SM90_F32_BWD_DQD=0 turn them off. */
static constexpr bool kSm90BwdF32Pro = true, kSm90BwdF32DqDirect = true;
/** Whether the sm90 float32 backward runs persistent (bwd_f32.cuh PERSIST: min(SMs, tiles) CTAs walking the tiles;
 *  the next tile's K / V load and split while the last one's dK / dV are stored, no gap between CTAs), and up to
 *  which key count (kSm90BwdF32PersistMaxNk): N <= 512 is where a CTA's ~2 blocks of fixed cost meet 2-16 blocks of
 *  work (bench/RESULTS.md, fifteenth session). On since the sixteenth session: its test entries
 *  (test_gpu_{f32_backward,attention,modes,nan}_tune_persist) passed on the H200 and D = 64 with dQ into dq ran
 *  +1.5-3.5% above the new prologue at N = 256 / 512 (call 1). Larger N unmeasured: the static walk gives causal
 *  tiles of unequal work no balancing, so the bound stays where it was measured. Tuning builds'
 *  JFA_TUNE_SM90_F32_BWD_PERSIST=1 runs it at every N, =0 never. */
static constexpr bool kSm90BwdF32Persist = true;
static constexpr int64_t kSm90BwdF32PersistMaxNk = 512;
/** Whether the 16-bit backward's accumulate mode (the ring's float32 dK / dV accumulators) adds dK and dV through
 *  shared memory as 16-byte pieces (bwd.cuh's epilogue, dK then dV through one float32 tile), as its non-accumulate
 *  calls store them since the fourteenth session, instead of element by element from the fragments. On since the
 *  sixteenth session: test_gpu_{modes,masks}_tune_accv and test_ring_gpu_np1_accumulate_accv passed on the H200
 *  (call 1); jfa_ring P = 1 accumulate mode bf16 D = 128 causal N = 16384, two A / B pairs 334.7 -> 362.5 and
 *  344.9 -> 345.0 TFLOP/s (no loss; the gain within the pairs' spread). Tuning builds' JFA_TUNE_SM90_BWD_ACCV=0 turns
 *  it off. */
static constexpr bool kSm90BwdAccVec = true;

/** Whether the sm90 backward-JVP (bwd_jvp.cuh: bf16 / fp16, D = 64 / 128, causal and interval masks) takes
 *  the calls it can by default (family.cu; JFA_SM90_BWD_JVP=1 / 0 overrides per call). On since the
 *  sixth session of 2026-12-02 (H200 run 3: its test entries passed; B = 4, H = 16, N = 4096, D = 128,
 *  dQd dKd dVd 8.15 ms = 2.79x the backward's 2.92, with the first-order outputs 11.04 ms against
 *  sm80's 19.13; bench/RESULTS.md). */
static constexpr bool kSm90BwdJvp = true;

/** Whether a row of dtype rd serves dtype dt: rows of dtype 0 serve the 16-bit types. */
constexpr bool sm90_dtype_match(int rd, int dt) {
  return rd == dt || (rd == 0 && (dt == JFA_DTYPE_BFLOAT16 || dt == JFA_DTYPE_FLOAT16));
}

/** The largest tuning variant number in the table (the forward's dispatch tries 1 .. this). */
constexpr int sm90_max_variant() {
  int m = 0;
  for (const Sm90Tile &r : kSm90Tiles) m = r.variant > m ? r.variant : m;
  return m;
}

/** Whether the table has a row for (op, dtype, D, variant). */
constexpr bool sm90_has_tile(int op, int dtype, int D, int variant) {
  for (const Sm90Tile &r : kSm90Tiles)
    if (r.op == op && sm90_dtype_match(r.dtype, dtype) && r.D == D && r.variant == variant) return true;
  return false;
}

/** The tiles of (op, dtype, head dim D, mask class, variant); .D == 0 when there is none.
 *  MASK_CLASS_ANY takes the row's BNM keys a block (as its BN) and, where the row has STM, STM stages of one ring. */
constexpr Sm90Tile sm90_tile(int op, int dtype, int D, int mask_class, int variant) {
  Sm90Tile t = {op, dtype, 0, variant, 0, 0, false, 0, false, false, false, 0, 0, false, false, false, 0, 0, false, false,
                0, 0, 0, 0, false, 0, false};
  for (const Sm90Tile &r : kSm90Tiles)
    if (r.op == op && sm90_dtype_match(r.dtype, dtype) && r.D == D && r.variant == variant) {
      t = r;
      if (mask_class == MASK_CLASS_ANY) {
        t.BN = r.BNM;
        if (r.STM) t.ST = r.STM, t.STV = 0;
      }
      return t;
    }
  return t;
}

#endif /* JFA_KERNELS_SM90_TILES_H_ */
