/*
 * mask_blockmap.cu - builds the block map of a dense mask once per call (rules in blockmap.h):
 * a warp per (slice, row) reads the row's mask coalesced (boolean: 16 keys per lane, four rows a warp;
 * additive: 16 bytes a lane where its rows allow, else 32 keys per ballot) and writes its bit-packed words
 * (boolean masks) and per-(row, key tile) flags; one thread per (slice, row tile, key tile) then
 * ORs the flags of the tile's rows. A mask broadcast over its rows (row stride 0) has one row built
 * a slice (blockmap.h bmap_dims). The kernels read the map through mask_flags_at / mask_words_at
 * (mask.cuh: mask_map_flags, mask_row_words, mask_words_async and the sm90 kernels' producers).
 */
#include "kernels/common/host.cuh"
#include "kernels/common/mask.cuh"

/* Element (slice s, row i, key j) of the dense mask: *vis (lets the key through), *need
   (must be applied per element). */
__device__ __forceinline__ void bmap_elem(const MaskDev &m, int64_t Hm, int64_t s, int64_t i, int64_t j, bool *vis,
                                          bool *need) {
  const int64_t off = (s / Hm) * m.dm.sb + (s % Hm) * m.dm.sh + i * m.dm.ss + j * m.dm.sd;
  if (m.dm_kind == MASK_DENSE_BOOL) {
    const bool t = ((const unsigned char *)m.dm.p)[off] != 0;
    *vis = t;
    *need = !t;
    return;
  }
  const float x = mask_bias_value(m.dm_kind, m.dm.p, off);
  *vis = !(x == -INFINITY); /* NaN: visible and needed, so that it reaches the row */
  *need = !(x == 0.f);
}

/* The row of the map's row kernels (one warp per (slice, row built): rows a slice, Nq or 1 when the mask is
   broadcast over its rows): warp wid, slice s, row i, the row's key tiles KT and words KW, the lane; false past the
   last row. */
struct BmapRow {
  int64_t wid, s, i, KT, KW;
  int lane;
};
__device__ __forceinline__ bool bmap_row_of(const MaskDev &m, int64_t rows, int64_t nrows, BmapRow *r) {
  r->wid = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  r->lane = threadIdx.x & 31;
  if (r->wid >= nrows) return false;
  r->s = r->wid / rows, r->i = r->wid % rows;
  r->KT = bmap_tiles(m.Nk), r->KW = bmap_words(m.Nk);
  return true;
}

/* One warp per (slice, row): row flags [slice][row][key tile] of an additive mask that bmap_rows_bias_kernel does
   not take (a key stride other than 1, rows not 16-byte aligned), an element a lane (boolean masks take
   bmap_rows_bool_kernel). */
__global__ void bmap_rows_kernel(const MaskDev m, int64_t Hm, int64_t rows, int64_t nrows, uint64_t *bits,
                                 unsigned char *rflags) {
  BmapRow r;
  if (!bmap_row_of(m, rows, nrows, &r)) return;
  const int64_t wid = r.wid, s = r.s, i = r.i, KT = r.KT, KW = r.KW;
  const int lane = r.lane;
  for (int64_t kt = 0; kt < KW; ++kt) {
    uint64_t vis = 0, need = 0;
    if (kt < KT) {
#pragma unroll
      for (int half = 0; half < 2; ++half) {
        const int64_t j = kt * BMAP_TILE + half * 32 + lane;
        bool v = false, n = false;
        if (j < m.Nk) bmap_elem(m, Hm, s, i, j, &v, &n);
        vis |= (uint64_t)__ballot_sync(0xffffffffu, v) << (32 * half);
        need |= (uint64_t)__ballot_sync(0xffffffffu, n) << (32 * half);
      }
    }
    if (lane == 0) {
      if (bits) bits[wid * KW + kt] = vis;
      if (kt < KT) rflags[wid * KT + kt] = (unsigned char)bmap_row_flags(vis, need);
    }
  }
}

/* Additive masks whose rows have unit key stride and 16-byte aligned starts (the usual (B, H, N, N) bias with N a
   multiple of 8, or of 4 for float32): one warp per (slice, row), 16 bytes a lane (PER = 16 / ES elements), the
   warp's step 32 PER keys (4 key tiles of 16-bit biases, 2 of float32 ones), U steps' loads issued before any is
   used; each tile's flags are two ballots' bits of its 64 / PER lanes. bmap_rows_kernel's 2 or 4 bytes a lane and
   per-element offset took most of a bf16 (4, 16, 4096, 4096) bias call's forward on the H200 (seventeenth session:
   12.6 ms a forward whose kernel's arithmetic takes a few; the biases' 2 GB need 0.4 ms). */
template <int ES>
__global__ void bmap_rows_bias_kernel(const MaskDev m, int64_t Hm, int64_t rows, int64_t nrows,
                                      unsigned char *rflags) {
  constexpr int PER = 16 / ES, LPT = BMAP_TILE / PER, TPS = 32 / LPT, U = 4; /* lanes a tile, tiles a step */
  BmapRow r;
  if (!bmap_row_of(m, rows, nrows, &r)) return;
  const int64_t wid = r.wid, s = r.s, i = r.i, KT = r.KT;
  const int lane = r.lane;
  const unsigned char *row =
      (const unsigned char *)m.dm.p + ((s / Hm) * m.dm.sb + (s % Hm) * m.dm.sh + i * m.dm.ss) * ES;
  for (int64_t kt0 = 0; kt0 < KT; kt0 += U * TPS) {
    uint4 x[U];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t j = (kt0 + u * TPS) * BMAP_TILE + (int64_t)PER * lane;
      if (j + PER <= m.Nk) x[u] = __ldg((const uint4 *)(row + j * ES));
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t j = (kt0 + u * TPS) * BMAP_TILE + (int64_t)PER * lane;
      bool vis = false, need = false;
      if (j + PER <= m.Nk) {
        const uint32_t w[4] = {x[u].x, x[u].y, x[u].z, x[u].w};
#pragma unroll
        for (int e = 0; e < PER; ++e) {
          float v;
          if constexpr (ES == 4) v = __uint_as_float(w[e]);
          else v = mask_bias16_float(m.dm_kind, (unsigned short)(w[e / 2] >> (16 * (e & 1)))); /* element e */
          vis |= !(v == -INFINITY); /* NaN: visible and needed, so that it reaches the row */
          need |= !(v == 0.f);
        }
      } else {
        for (int e = 0; e < PER && j + e < m.Nk; ++e) {
          const float v = mask_bias_value(m.dm_kind, row, j + e);
          vis |= !(v == -INFINITY);
          need |= !(v == 0.f);
        }
      }
      const uint32_t bv = __ballot_sync(0xffffffffu, vis), bn = __ballot_sync(0xffffffffu, need);
      const int t = lane / LPT; /* lane t * LPT writes tile t of the step */
      const int64_t kt = kt0 + u * TPS + t;
      if (lane % LPT == 0 && kt < KT) {
        const uint32_t sel = (LPT == 32 ? 0xffffffffu : ((1u << LPT) - 1u)) << (t * LPT);
        rflags[wid * KT + kt] = (unsigned char)bmap_row_flags((bv & sel) != 0, (bn & sel) != 0);
      }
    }
  }
}

/* Bits 0..3: whether bytes 0..3 of x are nonzero (__vcmpne4 sets a byte's top bit; the multiply gathers
   the four top bits, at 7, 15, 23, 31, into bits 28..31 without carries). */
__device__ __forceinline__ uint32_t bytes4_nonzero(uint32_t x) {
  return ((__vcmpne4(x, 0u) & 0x80808080u) * 0x00204081u) >> 28;
}

/* Boolean masks: a warp per BMAP_RPW consecutive (slice, row)s, 16 keys per lane, 512 per warp step (eight key
   tiles), four steps' loads issued before any is used (2 KB a warp in flight): a 16-byte load where the row is
   contiguous and 16-byte aligned (the usual (B, H, N, N) torch.bool tensor with N a multiple of 16), else byte
   loads at the mask's key stride. The four lanes of a tile OR their 16 bits into its word (2 shuffles). History
   (bench/RESULTS.md): one byte per lane took 4.0 ms for a (4, 16, 4096, 4096) mask on the H200, 8 bytes 0.8 ms, 16
   bytes with two steps in flight and a warp a row 0.462 ms (2.3 TB/s; ninth session of 2026-12-02); a warp's
   64-bit divisions (its slice and row) and two loads in flight then served 4 KB of mask: now a warp's rows share
   one set of divisions (the next row by increments) and four loads are in flight (the thirty-fifth session: its maps
   pass test_gpu_blockmask and test_gpu_masks on the H200; its time not yet measured: run_s35d's ncu). */
enum { BMAP_RPW = 4, BMAP_U = 4 };
__global__ void bmap_rows_bool_kernel(const MaskDev m, int64_t Hm, int64_t rows, int64_t nrows, uint64_t *bits,
                                      unsigned char *rflags) {
  const int64_t w0 = (((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5) * BMAP_RPW;
  if (w0 >= nrows) return;
  const int lane = threadIdx.x & 31;
  const int64_t KT = bmap_tiles(m.Nk), KW = bmap_words(m.Nk);
  int64_t s = w0 / rows, i = w0 % rows;
  const unsigned char *slice = (const unsigned char *)m.dm.p + (s / Hm) * m.dm.sb + (s % Hm) * m.dm.sh;
  for (int r = 0; r < BMAP_RPW; ++r) {
    const int64_t wid = w0 + r;
    if (wid >= nrows) break;
    if (r > 0 && ++i == rows) { /* the next slice (its offset by the divisions again: once a slice at most) */
      i = 0, ++s;
      slice = (const unsigned char *)m.dm.p + (s / Hm) * m.dm.sb + (s % Hm) * m.dm.sh;
    }
    const unsigned char *row = slice + i * m.dm.ss;
    const bool contiguous = m.dm.sd == 1 && ((uintptr_t)row & 15) == 0;
    for (int64_t kt0 = 0; kt0 < KW; kt0 += 8 * BMAP_U) {
      uint4 x[BMAP_U];
      bool vec[BMAP_U];
#pragma unroll
      for (int u = 0; u < BMAP_U; ++u) {
        const int64_t j = (kt0 + 8 * u) * BMAP_TILE + 16 * lane;
        vec[u] = contiguous && j + 16 <= m.Nk;
        if (vec[u]) x[u] = __ldg((const uint4 *)(row + j));
      }
#pragma unroll
      for (int u = 0; u < BMAP_U; ++u) {
        const int64_t j = (kt0 + 8 * u) * BMAP_TILE + 16 * lane;
        if (kt0 + 8 * u >= KW) break; /* warp-uniform */
        uint32_t v16 = 0; /* bit e: key j + e visible */
        if (vec[u]) {
          v16 = bytes4_nonzero(x[u].x) | bytes4_nonzero(x[u].y) << 4 | bytes4_nonzero(x[u].z) << 8 |
                bytes4_nonzero(x[u].w) << 12;
        } else {
          for (int e = 0; e < 16 && j + e < m.Nk; ++e) v16 |= row[(j + e) * m.dm.sd] ? 1u << e : 0u;
        }
        uint64_t w = (uint64_t)v16 << (16 * (lane & 3));
        w |= __shfl_xor_sync(0xffffffffu, w, 1);
        w |= __shfl_xor_sync(0xffffffffu, w, 2);
        const int64_t kt = kt0 + 8 * u + (lane >> 2);
        if ((lane & 3) == 0 && kt < KW) {
          if (bits) bits[wid * KW + kt] = w;
          if (kt < KT) rflags[wid * KT + kt] = (unsigned char)bmap_word_flags(w, bmap_valid(m.Nk, kt));
        }
      }
    }
  }
}

/* One thread per (slice, row tile, key tile): the OR of the tile's row flags (Nq: the rows built a slice). */
__global__ void bmap_tiles_kernel(int64_t Nq, int64_t KT, int64_t RT, int64_t ntiles, const unsigned char *rflags,
                                  unsigned char *flags) {
  const int64_t t = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= ntiles) return;
  const int64_t kt = t % KT, rt = (t / KT) % RT, s = t / (KT * RT);
  const int64_t r1 = min(Nq, (rt + 1) * BMAP_TILE);
  int f = 0;
  for (int64_t r = rt * BMAP_TILE; r < r1; ++r) f |= rflags[(s * Nq + r) * KT + kt];
  flags[t] = (unsigned char)f;
}

/* The map's sizes and strides for p's dense mask: one row a slice when its rows are one row (stride 0; a key-padding
   mask expanded over the queries). */
static BmapDims bmap_dims_of(const jfa_problem_t *p) {
  return bmap_dims(p->Nq, p->Nk, p->dmask->stride[2] == 0);
}

/* The mask's slices in the map: its batch and head extents, an axis of stride 0 counted once (a mask the caller
   expanded over the batch or the heads: one slice serves them all, as an axis of size 1 does). */
static void bmap_slices(const jfa_problem_t *p, int64_t *Bm, int64_t *Hm) {
  const jfa_tensor_t *t = p->dmask;
  *Bm = t->shape[0] > 1 && t->stride[0] != 0 ? t->shape[0] : 1;
  *Hm = t->shape[1] > 1 && t->stride[1] != 0 ? t->shape[1] : 1;
}

/* The parts of p's map from its base (256-aligned): bits (boolean masks), tile flags, row flags (the build's scratch);
   *end its bytes, 0 without a dense mask or without rows or keys (then no map is built or read). */
static void bmap_parts(const jfa_problem_t *p, size_t *off_bits, size_t *off_flags, size_t *off_rflags, size_t *end) {
  *off_bits = *off_flags = *off_rflags = *end = 0;
  if (!p->dmask || p->Nq == 0 || p->Nk == 0) return;
  int64_t Bm, Hm;
  bmap_slices(p, &Bm, &Hm);
  const int64_t ns = Bm * Hm;
  const BmapDims d = bmap_dims_of(p);
  size_t o = 0;
  if (p->dmask->dtype == JFA_DTYPE_BOOL) o += align_up((size_t)(ns * d.word_slice) * sizeof(uint64_t), 256);
  *off_flags = o;
  o += align_up((size_t)(ns * d.flag_slice), 256);
  *off_rflags = o;
  o += (size_t)(ns * d.rows * d.kt);
  *end = o;
}

/* The call's mask workspace: the packed-sequence offsets' device copy (host offsets only: cu_bytes), then, 256-aligned,
   the map unless the caller gave one (p->dmap). */
static size_t cu_bytes(const jfa_problem_t *p) {
  return p->nseq > 0 && !p->seq_dev ? (size_t)(2 * (p->nseq + 1)) * sizeof(int64_t) : 0; /* seq_dev: none */
}

size_t mask_ws_bytes(const jfa_problem_t *p) {
  size_t a, b, c, map = 0;
  if (!p->dmap) bmap_parts(p, &a, &b, &c, &map);
  return map ? align_up(cu_bytes(p), 256) + map : cu_bytes(p);
}

extern "C" jfa_status_t jfa_cuda_mask_map_bytes(const jfa_problem_t *p, uint64_t *bytes) {
  size_t a, b, c, end;
  bmap_parts(p, &a, &b, &c, &end);
  *bytes = (uint64_t)end;
  return JFA_SUCCESS;
}

jfa_status_t mask_blockmap_build(cudaStream_t st, const jfa_problem_t *p, void *ws, MaskDev *m) {
  if (!p->dmask || p->Nq == 0 || p->Nk == 0) return JFA_SUCCESS;
  size_t ob, of, orf, end;
  bmap_parts(p, &ob, &of, &orf, &end);
  int64_t Bm, Hm;
  bmap_slices(p, &Bm, &Hm);
  const BmapDims d = bmap_dims_of(p);
  /* the caller's map (jfa_attention_mask_map_build: the same parts from its base), else the workspace's */
  char *w = p->dmap ? (char *)p->dmap : (char *)ws + align_up(cu_bytes(p), 256);
  uint64_t *bits = m->dm_kind == MASK_DENSE_BOOL ? (uint64_t *)(w + ob) : nullptr;
  unsigned char *flags = (unsigned char *)(w + of), *rflags = (unsigned char *)(w + orf);
  const int64_t nrows = Bm * Hm * d.rows, ntiles = Bm * Hm * d.rtiles * d.kt;
  unsigned grid = 0, tgrid = 0;
  if (!p->dmap) { /* else built before, by jfa_attention_mask_map_build */
    const int64_t rpw = m->dm_kind == MASK_DENSE_BOOL ? BMAP_RPW : 1; /* rows a warp */
    JFA_CHECK(grid_1d(((nrows + rpw - 1) / rpw * 32 + 255) / 256, "the block map's rows", &grid));
    JFA_CHECK(grid_1d((ntiles + 255) / 256, "the block map's tiles", &tgrid));
    if (m->dm_kind == MASK_DENSE_BOOL) {
      bmap_rows_bool_kernel<<<grid, 256, 0, st>>>(*m, Hm, d.rows, nrows, bits, rflags);
    } else if (m->bias_vec) { /* unit key stride, 16-byte aligned rows (mask.cu) */
      if (m->dm_kind == MASK_DENSE_F32) bmap_rows_bias_kernel<4><<<grid, 256, 0, st>>>(*m, Hm, d.rows, nrows, rflags);
      else bmap_rows_bias_kernel<2><<<grid, 256, 0, st>>>(*m, Hm, d.rows, nrows, rflags);
    } else {
      bmap_rows_kernel<<<grid, 256, 0, st>>>(*m, Hm, d.rows, nrows, bits, rflags);
    }
    JFA_LAUNCH_CHECK();
    bmap_tiles_kernel<<<tgrid, 256, 0, st>>>(d.rows, d.kt, d.rtiles, ntiles, rflags, flags);
    JFA_LAUNCH_CHECK();
  }
  m->bm_flags = flags;
  m->bm_bits = bits;
  m->bm_sb = Bm > 1 ? Hm : 0;
  m->bm_sh = Hm > 1 ? 1 : 0;
  m->bm_kt = d.kt;
  m->bm_kw = d.kw;
  m->bm_ws = d.word_slice;
  m->bm_rw = d.word_row;
  m->bm_fs = d.flag_slice;
  m->bm_ft = d.flag_rtile;
  return JFA_SUCCESS;
}
