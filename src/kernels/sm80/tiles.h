/*
 * tiles.h - the tile configurations of the sm80 family (mma.sync), in one table keyed by
 * (op, dtype, head dim, tuning variant), and the mask-class rule on top of it. The kernels
 * (fwd.cuh, bwd.cuh) take their template arguments from sm80_tile(); the per-head-dim
 * instantiation files (inst/) compile the rows of their head dim.
 *
 * Variant 0 is what runs; tuning builds (-DJFA_TUNING=ON) also compile variants 1.. and
 * pick one with JFA_TUNE_FWD / JFA_TUNE_JVP / JFA_TUNE_BWD / JFA_TUNE_BWD_JVP=<n> (bench/device/run_h200.sh
 * TUNE=1 compares them; a variant a head dim lacks runs variant 0).
 */
#ifndef JFA_KERNELS_SM80_TILES_H_
#define JFA_KERNELS_SM80_TILES_H_

#include "kernels/common/host.cuh"

/** One row. dtype 0: bf16 and fp16 alike; JFA_DTYPE_FLOAT32: the float32 (TF32) kernels
 *  (fwd_f32.cuh; shared memory of (BM (2 BM for the JVP) + 2 NTILE BN) (D + 4) floats, NTILE
 *  = 2 (fwd) or 4 (JVP): the row's bytes are noted where they limit CTAs per SM; the sliced
 *  JVP rows (NS = 2) differ: sm80_f32_fwd_smem_bytes).
 *  Forward, JVP: BN keys per block, NW warps, MT 16-row slabs per warp (BM = 16 MT NW query
 *  rows per CTA), QREG: Q (and Qd) fragments kept in registers.
 *  Backward: NW warps (BN = 16 NW keys per CTA), BM query rows per block, KREG: K and V
 *  fragments kept in registers.
 *  JVP and backward: NS column slices (D > 128): each CTA accumulates D / NS output columns
 *  (fwd.cuh, bwd.cuh: O, U or dK, dV, dQ) and recomputes the scores over the full D. */
struct Sm80Tile {
  int op, dtype, D, variant;
  int BN, NW, MT;
  bool QREG;
  int BM;
  bool KREG;
  int NS; /* JVP, backward: output-column slices (sm80/fwd.cuh, bwd.cuh); 0 (left out) = 1 */
  int SPLIT; /* float32 backward, 3xTF32: 1 = Q and dO split once per block into hi / lo planes of
                shared memory (bwd_f32.cuh; + 16 BM (D + 4) bytes), 2 = K too, once per CTA
                (+ 4 BN (D + 4)); 0 = split by every warp in registers */
  bool MPASS; /* 16-bit forward / JVP, unmasked and causal calls: the softmax's per-element mask as a pass of its own
                 under one branch per block (common/softmax.cuh MPASS), as the sm90 defaults since the tenth session */
};

/* clang-format off */
#define F32 JFA_DTYPE_FLOAT32
static constexpr Sm80Tile kSm80Tiles[] = {
  /* 16-bit forward and JVP: MPASS since the eleventh session of 2026-12-03 (H200, sm80 family forced: forward
     D = 64 N = 4096 208.9 -> 252.1 TFLOP/s, causal N = 16384 205.0 -> 251.4, D = 128 256.0 -> 290.4, D = 160 (sm80
     by default) 151.4 -> 160.2; JVP D = 64 229.7 -> 279.7, 128 261.4 -> 284.9, 160 149.0 -> 161.5; bitwise the same
     results); tuning variants 9 keep the rows without it at D = 64, 96, 128, 160 */
  /* op      dtype  D  var    BN  NW MT  QREG    BM  KREG  NS SPLIT MPASS */
  {OP_FWD,  0,  32, 0,     64,  4, 1, true,    0, false, 1, 0, true},
  {OP_FWD,  0,  64, 0,     64,  4, 2, false,   0, false, 1, 0, true}, /* 168 registers: 3 CTAs/SM (fwd.cuh) */
  {OP_FWD,  0,  96, 0,     64,  4, 2, false,   0, false, 1, 0, true},
  {OP_FWD,  0, 128, 0,     64,  4, 2, false,   0, false, 1, 0, true},
  {OP_FWD,  0, 160, 0,     64,  4, 1, false,   0, false, 1, 0, true},
  {OP_FWD,  0, 192, 0,     32,  4, 1, false,   0, false, 1, 0, true},
  {OP_FWD,  0, 256, 0,     32,  4, 1, false,   0, false, 1, 0, true},
  {OP_JVP,  0,  32, 0,     64,  8, 1, true,    0, false, 1, 0, true},
  {OP_JVP,  0,  64, 0,     64,  8, 1, true,    0, false, 1, 0, true},
  {OP_JVP,  0,  96, 0,     32,  8, 1, false,   0, false, 1, 0, true},
  {OP_JVP,  0, 128, 0,     32,  8, 1, false,   0, false, 1, 0, true},
  /* D > 128: two slices of D / 2 output columns (O and U of a full row do not fit in registers) */
  {OP_JVP,  0, 160, 0,     32,  8, 1, false,   0, false, 2, 0, true}, /* 148 KiB shared */
  {OP_JVP,  0, 192, 0,     16,  8, 1, false,   0, false, 2, 0, true}, /* 138 KiB (BN = 32: 180 KiB, and spills when masked) */
  {OP_JVP,  0, 256, 0,     16,  8, 1, false,   0, false, 2, 0, true}, /* 182 KiB (BN = 32: 233 KiB, above 227) */
  {OP_BWD,  0,  32, 0,      0,  8, 0, false,  64, true},
  {OP_BWD,  0,  64, 0,      0,  8, 0, false,  64, true},
  {OP_BWD,  0,  96, 0,      0,  8, 0, false,  64, false},
  {OP_BWD,  0, 128, 0,      0,  8, 0, false,  64, false},
  /* float32 forward, JVP (fwd_f32.cuh; QREG unused): 8 warps per SM at least (one CTA of 8
     or two of 4; blocks of 16 keys where 32 would leave one CTA of 4 warps per SM) */
  {OP_FWD, F32,  32, 0,    64,  4, 2, false,   0, false}, /*  54 KiB */
  {OP_FWD, F32,  64, 0,    64,  4, 2, false,   0, false}, /* 102 KiB: 2 CTAs/SM */
  {OP_FWD, F32,  96, 0,    32,  4, 2, false,   0, false}, /* 100 KiB: 2 CTAs/SM */
  {OP_FWD, F32, 128, 0,    16,  4, 2, false,   0, false}, /*  99 KiB: 2 CTAs/SM */
  {OP_FWD, F32, 256, 0,    16,  8, 1, false,   0, false}, /* 195 KiB */
  {OP_JVP, F32,  32, 0,    64,  4, 1, false,   0, false}, /*  90 KiB: 2 CTAs/SM */
  {OP_JVP, F32,  64, 0,    32,  4, 1, false,   0, false}, /* 102 KiB: 2 CTAs/SM */
  {OP_JVP, F32,  96, 0,    16,  8, 1, false,   0, false}, /* 150 KiB */
  {OP_JVP, F32, 128, 0,    16,  8, 1, false,   0, false}, /* 198 KiB */
  /* D > 128: two slices of D / 2 output columns (fwd_f32.cuh, as fwd.cuh): O and U of a slice take
     D / 2 registers a thread (128 at D = 256, as the D = 128 row), S and Sd are computed over the full
     D by both slices. Shared memory 4 (2 BM D + 4 BN (D + 4 + D / 2 + 4)) bytes (Q, Qd unpadded and
     swizzled; K, Kd full rows, V, Vd the slice's columns; two stages) + 8 BM masked (the key
     intervals): D = 256, BM = 64, BN = 16: 131072 + 100352 (+ 512) = 231936 of the 232448 an H100 /
     H200 allows (BM = 128 would need 362 KiB; padded Q rows 233984). One CTA of 4 warps per SM, so
     Sd's two products accumulate apart (two chains, fwd_f32.cuh's SD2). D = 160: 8 warps, 228352;
     D = 192: 6 warps, 224000. An A100 (163 KiB) declines all three to simt. */
  {OP_JVP, F32, 160, 0,    16,  8, 1, false,   0, false, 2}, /* 223 KiB */
  {OP_JVP, F32, 192, 0,    16,  6, 1, false,   0, false, 2}, /* 219 KiB */
  {OP_JVP, F32, 256, 0,    16,  4, 1, false,   0, false, 2}, /* 227 KiB */
  /* backward-JVP (bwd_jvp.cuh): NW warps (BN = 16 NW keys), BM query rows; KREG unused. 8 warps:
     the Q-side tiles are shared by 128 keys and the dQd/dQ atomics are half those of 64 keys */
  {OP_BWD_JVP, 0,  32, 0,   0,  8, 0, false,  32, false},
  {OP_BWD_JVP, 0,  64, 0,   0,  8, 0, false,  32, false}, /* 146 KiB of shared memory */
  {OP_BWD_JVP, 0,  96, 0,   0,  8, 0, false,  16, false}, /* 151 KiB */
  {OP_BWD_JVP, 0, 128, 0,   0,  8, 0, false,  16, false}, /* 192 KiB: sm_90 (sm_80 opt-in is 163) */
  /* D > 128: two slices of D / 2 columns of dK, dV, dQ */
  {OP_BWD,  0, 160, 0,      0,  4, 0, false,  32, false, 2}, /* 94 KiB shared */
  {OP_BWD,  0, 192, 0,      0,  4, 0, false,  32, false, 2}, /* 110 KiB */
  {OP_BWD,  0, 256, 0,      0,  8, 0, false,  32, false, 2}, /* 216 KiB */
  /* tuning variants (JFA_TUNING builds only) */
  {OP_FWD,  0, 128, 1,     32,  4, 2, false,   0, false},
  {OP_FWD,  0,  64, 1,    128,  4, 1, true,    0, false},
  {OP_FWD,  0,  64, 2,     64,  8, 1, true,    0, false},
  {OP_FWD,  0,  64, 3,     64,  4, 2, true,    0, false}, /* Q in registers */
  {OP_JVP,  0, 128, 1,     32,  4, 1, false,   0, false},
  {OP_JVP,  0,  64, 1,     64,  4, 1, true,    0, false},
  {OP_BWD,  0, 128, 1,      0,  8, 0, false,  32, false},
  {OP_BWD,  0,  64, 1,      0,  4, 0, false,  64, true},
  {OP_FWD, F32,  64, 1,    32,  4, 2, false,   0, false}, /*  68 KiB: 3 CTAs/SM by shared memory */
  {OP_FWD, F32, 128, 1,    32,  4, 2, false,   0, false}, /* 132 KiB: Q's split over 4 key tiles */
  {OP_JVP, F32,  64, 1,    32,  8, 1, false,   0, false}, /* 136 KiB */
  {OP_JVP, F32, 128, 1,    32,  4, 1, false,   0, false}, /* 198 KiB: one CTA of 4 warps */
  /* float32 backward (bwd_f32.cuh, TF32 / 3xTF32; KREG unused). dK, dV: D / 2 registers each;
     shared memory 4 (2 BN + 4 BM) (D + 4) + 8 BM (BN + 8) bytes, SPLIT 1 + 16 BM (D + 4), SPLIT 2
     + 4 BN (D + 4) more (3xTF32 only; where the device allows less, the same tiles with less SPLIT) */
  {OP_BWD, F32,  32, 0,   0,  4, 0, false,  64, false},          /*  91 KiB: 2 CTAs/SM (SPLIT: 1) */
  {OP_BWD, F32,  64, 0,   0,  8, 0, false,  32, false, 1, 2},    /* 205 KiB (171 SPLIT 1, 137 without) */
  {OP_BWD, F32,  96, 0,   0,  8, 0, false,  32, false},          /* 184 KiB (SPLIT: 234, above 227) */
  {OP_BWD, F32, 128, 0,   0,  8, 0, false,  16, false, 1, 1},    /* 215 KiB (182 without SPLIT) */
  /* D = 256: two slices of 128 columns of dK, dV (64 registers each, as at D = 128) and dQ; S^T and
     dP^T over the full D in both. 64 keys (K, V full rows: 133120 B) + Q, dO two stages of 16 rows
     (66560) + dS (9216) + lse, delta (256) = 209152 (+ 256 masked); 128 keys would need 340 KiB. No
     SPLIT (its planes: + 66560). One CTA of 4 warps per SM; A100: declined (simt). */
  {OP_BWD, F32, 256, 0,   0,  4, 0, false,  16, false, 2},       /* 204 KiB */
  /* float32 tuning variants: smaller CTAs, two per SM (no spills) */
  {OP_BWD, F32,  32, 1,   0,  8, 0, false,  32, false},
  {OP_BWD, F32,  64, 1,   0,  4, 0, false,  32, false},
  {OP_BWD, F32,  96, 1,   0,  4, 0, false,  16, false},
  {OP_BWD, F32, 128, 1,   0,  4, 0, false,  16, false},
  /* float32 backward without SPLIT (3xTF32 splits Q and dO in every warp's registers, as before f32fast) */
  {OP_BWD, F32,  64, 2,   0,  8, 0, false,  32, false},
  {OP_BWD, F32, 128, 2,   0,  8, 0, false,  16, false},
  {OP_BWD, F32,  64, 3,   0,  8, 0, false,  32, false, 1, 1}, /* without K's plane */
  {OP_BWD_JVP, 0,  64, 1,   0,  4, 0, false,  32, false}, /* 4 warps, BM = 32: 2 CTAs/SM at D = 64 */
  {OP_BWD_JVP, 0,  96, 1,   0,  4, 0, false,  32, false},
  {OP_BWD_JVP, 0, 128, 1,   0,  4, 0, false,  32, false}, /* 159 KiB: fits sm_80 */
  {OP_JVP,  0, 256, 1,     32,  6, 1, false,   0, false, 2}, /* 199 KiB */
  {OP_JVP,  0, 192, 1,     32,  8, 1, false,   0, false, 2}, /* 180 KiB */
  {OP_BWD,  0, 256, 1,      0,  4, 0, false,  64, false, 2}, /* 217 KiB */
  /* variants 9: row 0 without MPASS (the softmax's per-element mask inside the row max's loop: the default before the
     eleventh session, bitwise row 0's results); masked calls run row 0's masked kernel */
  /* op      dtype  D  var    BN  NW MT  QREG    BM  KREG  NS SPLIT MPASS */
  {OP_FWD,  0,  64, 9,     64,  4, 2, false,   0, false, 1, 0, false},
  {OP_FWD,  0,  96, 9,     64,  4, 2, false,   0, false, 1, 0, false},
  {OP_FWD,  0, 128, 9,     64,  4, 2, false,   0, false, 1, 0, false},
  {OP_FWD,  0, 160, 9,     64,  4, 1, false,   0, false, 1, 0, false},
  {OP_JVP,  0,  64, 9,     64,  8, 1, true,    0, false, 1, 0, false},
  {OP_JVP,  0,  96, 9,     32,  8, 1, false,   0, false, 1, 0, false},
  {OP_JVP,  0, 128, 9,     32,  8, 1, false,   0, false, 1, 0, false},
  {OP_JVP,  0, 160, 9,     32,  8, 1, false,   0, false, 2, 0, false},
};
#undef F32
/* clang-format on */

/** Whether the float32 backward's D = 256 row (two column slices, 128 < D <= 256) takes the calls it can
 *  by default (family.cu; JFA_SM80_F32_BWD256=0 / 1 overrides per call), else simt does. On from the
 *  seventh session of 2026-12-02, with the sixth's chunked score sums and the test's floors
 *  (bench/RESULTS.md). */
static constexpr bool kSm80F32Bwd256 = true;
/** Whether the float32 backward adds dQ, scaled, straight into the float32 dq by atomics (after a memset of dq, or
 *  onto it in accumulate mode) instead of into the fp32 workspace that a second pass (scale_add) then scales into dq:
 *  one pass over B Hq Nq D floats and one launch less (family.cu sm80_f32_dq_direct: not deterministic, dq with unit
 *  column stride, 8-byte aligned rows, dense unless accumulating). JFA_SM80_F32_DQ_DIRECT=0 / 1 overrides per call
 *  (test_gpu_f32_backward_sm80dqws). The sm90 float32 backward's kSm90BwdF32DqDirect is its analogue. */
static constexpr bool kSm80BwdF32DqDirect = true;
/** Whether the 16-bit forward, JVP and backward copy an additive dense mask's tiles into shared memory with the
 *  block's other tiles (common/mask.cuh mask_bias_tile_async; family.cu bias_tiles_fit: where MaskDev.bias_vec and
 *  the device has sm80_bias_smem_bytes more); JFA_SM80_BIAS_TILES=0 / 1 per call overrides. false: each bias read
 *  from global memory inside the softmax's per-element branches (bf16 D = 128 N = 4096 on the H200, seventeenth
 *  session: 36.7 / 83.6 / 52.4 TFLOP/s against the Triton package's 44.2 / 50.6 / 74.9). */
static constexpr bool kSm80BiasTiles = true;

/** The float32 backward's tiles for causal calls without other masks at head dim D and Nk keys: a variant of the
 *  table (0: row 0, as every other call). The blocks across the diagonal, where half the scores are masked, cost
 *  BN / 2 of ~N / 2 visible keys a row, a larger share at small N, where tiles of fewer keys waste less. H200
 *  (bench/RESULTS.md, thirteenth session, call 3; 3xTF32 TFLOP/s, default / variant 1): D = 128 N = 1024 39.7 /
 *  41.7 (+5%), N = 4096 50.0 / 49.4 (-1%), unmasked unchanged; D = 96 N = 1024 39.4 / 36.5, D = 32 38.3 / 30.0
 *  (variant 1 there: 4 warps without SPLIT at 96, 8 warps at 32): D = 128 at Nk <= 1024 takes variant 1 (4 warps,
 *  64 keys a CTA, two CTAs an SM; call 4: 41.1 against row 0's 39.4). */
static constexpr int sm80_f32_bwd_causal_variant(int D, int64_t Nk) { return D == 128 && Nk <= 1024 ? 1 : 0; }

/** Whether a row of dtype field rd serves dtype: 0 the 16-bit ones, else that dtype only. */
constexpr bool sm80_tile_dtype(int rd, int dtype) {
  return rd == 0 ? dtype != JFA_DTYPE_FLOAT32 : rd == dtype;
}

/** Whether the table has a row for (op, dtype, D, variant). */
constexpr bool sm80_has_tile(int op, int dtype, int D, int variant) {
  for (const Sm80Tile &r : kSm80Tiles)
    if (r.op == op && sm80_tile_dtype(r.dtype, dtype) && r.D == D && r.variant == variant) return true;
  return false;
}

/** The tiles of (op, dtype, head dim D, mask class, variant); .D == 0 when there is none.
 *  Mask class MASK_CLASS_ANY (per-row key intervals in shared memory, dense mask per element)
 *  costs registers, so two rows change for it:
 *    forward, MT = 2 at D >= 96: spills (255 registers); the same BM with twice the warps, MT = 1;
 *    backward, BM = 64 at D = 128 (and D > 128, whose slices hold as many columns): spills; query
 *    blocks of 32 rows. */
constexpr Sm80Tile sm80_tile(int op, int dtype, int D, int mask_class, int variant) {
  Sm80Tile t = {op, dtype, 0, variant, 0, 0, 0, false, 0, false, 1, 0, false};
  for (const Sm80Tile &r : kSm80Tiles)
    if (r.op == op && sm80_tile_dtype(r.dtype, dtype) && r.D == D && r.variant == variant) {
      t = r;
      break;
    }
  if (t.NS < 1) t.NS = 1;
  if (mask_class == MASK_CLASS_ANY) {
    if (op == OP_FWD && t.MT == 2 && D >= 96) t.NW *= 2, t.MT = 1;
    if (op == OP_BWD && D >= 128 && t.BM == 64) t.BM = 32;
  }
  return t;
}

/** Dynamic shared memory (bytes) of the 16-bit kernels of a row (sm80_tile's result): fwd.cuh's
 *  FwdTC::smem_bytes and bwd.cuh's BwdTC::smem_bytes, plus the MASKED instantiation's key
 *  intervals (the launchers static_assert that the two agree). family.cu declines a call whose
 *  tiles need more than the device allows (the D > 128 JVP and backward rows need an H100/H200's
 *  227 KiB, not an A100's 163 KiB). */
constexpr size_t sm80_smem_bytes(const Sm80Tile &t, bool masked) {
  const size_t DS = (size_t)t.D + 8;
  if (t.op == OP_BWD) {
    const size_t BN = 16 * (size_t)t.NW, BM = (size_t)t.BM;
    return 2 * (2 * BN * DS + 4 * BM * DS + 2 * BM * (BN + 8)) + 4 * 4 * BM +
           (masked ? 4 * BM * 4 + 16 + 2 * BM * (BN / 64) * 8 : 0); /* bwd.cuh's launcher */
  }
  const size_t nt = t.op == OP_JVP ? 2 : 1, BM = 16 * (size_t)t.MT * t.NW, BN = (size_t)t.BN;
  const size_t DVS = (size_t)(t.D / (t.NS > 1 ? t.NS : 1)) + 8;
  return 2 * (nt * BM * DS + 2 * nt * BN * (DS + DVS)) + (masked ? 2 * BM * 4 : 0);
}

/** Dynamic shared memory (bytes) of the float32 forward / JVP of a row (sm80_tile's result):
 *  fwd_f32.cuh's FwdF32::smem_bytes plus the MASKED instantiation's key intervals (the launcher
 *  static_asserts that the two agree); family.cu declines a call above the device's opt-in. */
constexpr size_t sm80_f32_fwd_smem_bytes(const Sm80Tile &t, bool masked) {
  const size_t ns = t.NS > 1 ? (size_t)t.NS : 1, D = (size_t)t.D, DS = D + 4, DVS = D / ns + 4;
  const size_t nt = t.op == OP_JVP ? 2 : 1, BM = 16 * (size_t)t.MT * t.NW, BN = (size_t)t.BN;
  const size_t QS = ns > 1 ? D : DS;
  return 4 * (nt * BM * QS + 2 * nt * BN * (DS + DVS)) + (masked ? 2 * BM * 4 : 0);
}

/** Dynamic shared memory (bytes) of the float32 backward of a row without SPLIT (bwd_f32.cuh's
 *  BwdF32::smem_bytes at SPLIT 0, the least its launcher takes: it drops SPLIT where the device
 *  lacks the bytes); family.cu declines a call above the device's opt-in. */
constexpr size_t sm80_f32_bwd_smem_bytes(const Sm80Tile &t, bool masked) {
  const size_t BN = 16 * (size_t)t.NW, BM = (size_t)t.BM, DS = (size_t)t.D + 4;
  /* masked: the key intervals (4 BM ints), then 16-byte aligned a boolean mask's words ([2][BM][BN / 64]) */
  return 4 * (2 * BN * DS + 4 * BM * DS + 2 * BM * (BN + 8) + 4 * BM) +
         (masked ? 4 * 4 * BM + 16 + 8 * 2 * BM * (BN / 64) : 0);
}

/** Row pitch (bytes) of an additive dense mask's tile of cols keys of es-byte elements in shared memory
 *  (common/mask.cuh mask_bias_tile_async): 16 bytes of padding put the rows of a fragment's reads (fwd.cuh: 8 rows
 *  of 4 lanes' pairs; bwd.cuh: 8 keys of 4 lanes' query row pairs) in different banks. */
__host__ __device__ constexpr int sm80_bias_pitch(int cols, int es) { return cols * es + 16; }
/** The bytes of its two stages of rows x cols (16 more for their alignment after the key intervals). */
constexpr size_t sm80_bias_tiles_bytes(int rows, int cols, int es) {
  return 16 + 2 * (size_t)rows * (size_t)sm80_bias_pitch(cols, es);
}
/** Those bytes for a row of the table (sm80_tile's result) and an additive mask of es-byte elements: the 16-bit
 *  kernels stage the mask's tiles in shared memory where the device has them beyond sm80_smem_bytes (family.cu). */
constexpr size_t sm80_bias_smem_bytes(const Sm80Tile &t, int es) {
  return t.op == OP_BWD ? sm80_bias_tiles_bytes(t.BM, 16 * t.NW, es)
                        : sm80_bias_tiles_bytes(16 * t.MT * t.NW, t.BN, es);
}

/** The head dim the sm80 kernels run a call of head dim D at (D rounded up to a row of the
 *  table: 32, 64, 96, 128, 160, 192, 256), 0 if none. */
static inline int sm80_head_dim(int64_t D) {
  if (D <= 32) return 32;
  if (D <= 64) return 64;
  if (D <= 96) return 96;
  if (D <= 128) return 128;
  if (D <= 160) return 160;
  if (D <= 192) return 192;
  if (D <= 256) return 256;
  return 0;
}

#endif /* JFA_KERNELS_SM80_TILES_H_ */
