/*
 * fwd_persist.cuh - a persistent form of the sm90 forward at D = 128 (bf16 / fp16; PVLAG, BN = 128,
 * 2 stages: variant 7's arithmetic), the default since the sixth session of 2026-12-02 (tiles.h row 0 =
 * variant 8, PERSIST; accumulate-mode calls and boolean dense masks run variant 7's kernel); the same
 * kernel at D = 96 (tuning variants 27 / 28, the D = 128 slabs with PAD) and D = 64 (29, 3 stages). Included at
 * the end of fwd.cuh (it uses mma_scores, mma_pv, Sm90Fwd).
 *
 * Why: a forward CTA pays ~10-16 us of fixed cost (bench/RESULTS.md, 2026-12-02 fifth session, run 2:
 * prologue, the first block's unoverlapped softmax, the epilogue, the CTA's start and end), which
 * dominates short visible ranges (windows, packed sequences). Here grid = min(SMs, tiles) CTAs each
 * run many tiles (a tile: 128 query rows of one (batch, head)), and the next tile's setup overlaps
 * the current one's end:
 *   - schedule: STATIC, no atomics. CTA c takes tile k G + c in even rounds k and k G + G - 1 - c in
 *     odd ones (the snake, which balances a list sorted longest first). Causal calls and windows number
 *     the tiles longest first (query blocks from the last, (head, batch) inner); packed sequences and
 *     unmasked calls in variant 0's grid order ((head, batch) outer, query blocks from the last): a
 *     head's keys stay shared in L2 by the CTAs at work, and packed sequences' lengths do not follow
 *     the query block (bench/RESULTS.md, sixth session: a model of the orders);
 *   - producer warps 1..3 compute the tiles' descriptions ahead of the others, up to NI = 4 tiles:
 *     the tile's (m0, head, batch), its key blocks (jb0, nblk) and, for interval masks, the 128 rows'
 *     key intervals (mask_row_keys, two rows a thread: a packed sequence's binary search is a chain of
 *     dependent loads) and, in warp 1, their union / intersection (mask_cta_keys), into a ring of NI
 *     entries (mbarriers ifull / iempty: 96 arrivals of warps 1..3; 9 releases: the 8 consumer warps
 *     and the TMA thread). A last entry with nblk = -1 ends the CTA's loop for every role;
 *   - the TMA thread (warp 0) streams every tile's Q into one of two Q buffers (qfull / qempty, the
 *     consumers release a buffer after the tile's last S) and its K, V blocks through variant 0's
 *     stage ring, whose stage and parity come from a CTA-wide block count: the next tile's Q and first
 *     blocks load while the consumers finish the current tile's last P V and epilogue;
 *   - consumers: variant 0's PVLAG loop per tile (the same block masks, softmax and rescale order:
 *     bitwise variant 0's outputs), its epilogue (stores not waited for). The ping-pong of the
 *     score issues carries over tile boundaries: warpgroup 1 arrives on named barrier 1 once at the
 *     start and after every one of its issues, warpgroup 0 after each of its own on barrier 2, and
 *     warpgroup 0 consumes warpgroup 1's last arrival at the end, so warpgroup 0 issues the next
 *     tile's first S while warpgroup 1 runs its last softmax / P V / epilogue of the current one.
 * XT (tuning variant 9, tiles.h PERSIST_XT): a tile's last P V is not issued alone but in the next tile's
 * first ping-pong turn, with its S(0); the next tile's first softmax runs while it does, then the
 * pending tile's epilogue (its statistics swapped in), then O zeroed and scaled by alpha(0) as variant 0
 * does; before a tile without key blocks and at the end the pending P V is issued alone (flush).
 * The epilogue stores o through a per-warp shared-memory slot as 16-byte pieces (persist_epilogue_vec;
 * fwd_epilogue's arithmetic, the same bits) when o's layout allows, else fwd_epilogue's 16-bit stores.
 * Boolean dense masks run variant 0's kernel (sm90_fwd_variant). Registers: producer 40 (warps 1..3's
 * interval walk), consumers 232.
 * NC = 3 (tuning variant 34 at D = 64, the twenty-fourth session): three consumer warpgroups of 64 rows, 192 query
 * rows a tile, 512 threads (producers at 32 registers, consumers at 160), the ping-pong a round robin over named
 * barriers 1..3 (pp_next_bar; the last consumer gives the first turn, consumer 0 takes the last arrival at the
 * end), the describers' barrier 4; not XT, not EXPF. CSKIP (NC = 3, since the twenty-sixth session): a tile's 192 rows
 * span up to 128 keys more than one warpgroup's 64 (the causal diagonal, a window's left edge, rows past Nq), so
 * each warpgroup computes only its live blocks [ilo, ihi) (fwd.cuh fwd_consumer_blocks) and takes the others as a
 * ping-pong turn without products, releasing their K / V stages (and at the tile's last block its Q buffer and ring
 * entry) once they have landed; the same bits (test_gpu_fwd_cskip; JFA_SM90_FWD_CSKIP=0 per call: every block).
 * bench/persist_protocol.py models the barriers of this file (phases,
 * parities, TMA bytes, named barriers) in random interleavings; keep it in step with the code.
 */
#ifndef JFA_KERNELS_SM90_FWD_PERSIST_CUH_
#define JFA_KERNELS_SM90_FWD_PERSIST_CUH_

/* A tile's description in the ring (producer warp 1 writes it; nblk < 0: no more tiles) */
struct PersistTile {
  int64_t m0;
  int h, b, jb0, nblk, kin_lo, kin_hi;
};

/* The persistent kernel's shared memory at head dim D: two Q buffers, ST stages of K and V (the row's; D = 128: 2),
   the barriers, the ring of NI tile descriptions and their rows' key intervals (D = 96: the slabs of 128 columns,
   as variant 0's) */
static constexpr int kPersistBM = 128; /* query rows a tile, at every head dim */
template <int D_, int ST_ = 2, int NC_ = 0> struct Sm90Persist {
  /* NCW consumer warpgroups of 64 rows (NC_: tiles.h NC; 0: 2), BM = 64 NCW query rows a tile */
  static constexpr int NCW = NC_ ? NC_ : 2;
  static constexpr int D = D_, BN = 128, ST = ST_, BM = 64 * NCW, NQB = 2, NI = 4, NTHREADS = 128 * (NCW + 1);
  static_assert(NC_ == 0 || NC_ == 3, "two or three consumer warpgroups");
  /* the stage layout of variant 0 (NC_ = 3: of the three-consumer forward, Q halves of 192 rows); the sizes read from
     it (Q_BYTES, STAGE_BYTES, HALF_Q, HALF_K, NH) do not depend on Sm90Fwd's MASKED */
  typedef Sm90Fwd<D, BN, false, ST, false, false, 0, NC_> F;
  /* the named barrier of persist_describe_tiles' 96 threads: past the ping-pong's 1..NCW */
  static constexpr int DESC_BAR = NCW + 1;
  static constexpr uint32_t Q_BYTES = F::Q_BYTES, STAGE_BYTES = F::STAGE_BYTES, HALF_K = F::HALF_K;
  static constexpr uint32_t KV_OFF = NQB * Q_BYTES, BAR_OFF = KV_OFF + ST * STAGE_BYTES;
  /* barriers (8 bytes each): full[ST] empty[ST] vfull[ST] vempty[ST] qfull[2] qempty[2] ifull[NI] iempty[NI] */
  static constexpr uint32_t B_FULL = 0, B_EMPTY = 8 * ST, B_VFULL = 16 * ST, B_VEMPTY = 24 * ST, B_QFULL = 32 * ST,
                            B_QEMPTY = B_QFULL + 8 * NQB, B_IFULL = B_QEMPTY + 8 * NQB, B_IEMPTY = B_IFULL + 8 * NI,
                            B_END = B_IEMPTY + 8 * NI;
  static constexpr uint32_t INFO_OFF = BAR_OFF + 256, IV_OFF = INFO_OFF + NI * sizeof(PersistTile);
  /* the epilogue's per-warp slots (4 NCW consumer warps x 16 rows x 64 columns of 16-bit o) */
  static constexpr uint32_t O_OFF = IV_OFF + NI * 2 * BM * sizeof(int), O_SLOT = 16 * 64 * 2;
  static constexpr size_t SMEM = O_OFF + 4 * NCW * O_SLOT + 1024;
  static_assert(B_END <= 256, "barriers");
  static_assert(sizeof(PersistTile) == 32 && IV_OFF % 16 == 0 && O_OFF % 16 == 0, "ring layout");
};

/* Tile t (BM query rows): query blocks from the last, and (order 0, longest first) query block nqb - 1 - t / (Hq B),
   (head, batch) t % (Hq B), or (order 1, variant 0's grid order: a head's keys shared by the CTAs at work) query block
   nqb - 1 - t % nqb, (head, batch) t / nqb. In 32-bit arithmetic: the launchers take fewer than 2^31 tiles
   (persist_shape), and the JVP's producer warps have 24 registers (64-bit divisions spilled there). */
template <int BM = kPersistBM>
__device__ __forceinline__ void persist_tile_of(const jfa_problem_t &p, int64_t t64, int64_t nqb64, int order,
                                                int64_t *m0, int *h, int *b) {
  const uint32_t t = (uint32_t)t64, nqb = (uint32_t)nqb64, hbn = (uint32_t)(p.Hq * p.B), hq = (uint32_t)p.Hq;
  const uint32_t hb = order ? t / nqb : t % hbn, qb = nqb - 1 - (order ? t % nqb : t / hbn);
  *m0 = (int64_t)qb * BM;
  *h = (int)(hb % hq);
  *b = (int)(hb / hq);
}

/* Producer warps 1..3 of the persistent kernels (this file's forward, jvp_persist.cuh's JVP): the descriptions of the
   CTA's tiles (its static snake: tile k G + c in even rounds k, k G + G - 1 - c in odd ones; order >= 2: cta_pair_of's
   walk, whose steps without a tile write no entry) into the ring of NI
   entries info (and, MASKED, their BM rows' key intervals at iv + 2 BM e: thread x of the 96 takes rows x and x + 96,
   then warp 1 forms the CTA's key range), each once its entry is free (mbarrier iempty + 8 e) and announced on
   ifull + 8 e (96 arrivals); a last entry with nblk = -1 ends every role's loop. DBAR: the named barrier of the 96
   threads (3; 4 beside three consumers, whose ping-pong takes 1..3). */
template <int BM, int BN, int NI, bool MASKED, int DBAR = 3>
__device__ __forceinline__ void persist_describe_tiles(const FwdArgs &a, PersistTile *info, int *iv, uint32_t ifull,
                                                       uint32_t iempty, int64_t ntiles, int64_t nqb, int order,
                                                       int warp, int lane) {
  const jfa_problem_t &p = a.p;
  const int64_t G = gridDim.x, c = blockIdx.x;
  const int tx = (int)threadIdx.x - 32;
  int64_t n = 0; /* entries written (order >= 2 skips a step without a tile) */
  for (int64_t k = 0;; ++k) {
    int64_t m0 = 0;
    int h = 0, b = 0;
    bool done;
    if (order < 2) {
      const int64_t t = k * G + ((k & 1) ? G - 1 - c : c);
      done = t >= ntiles;
      if (!done) persist_tile_of<BM>(p, t, nqb, order, &m0, &h, &b);
    } else {
      uint32_t qb = 0, hb = 0;
      const int w = cta_pair_of((uint32_t)k, (uint32_t)G, (uint32_t)c, (uint32_t)nqb, (uint32_t)(p.Hq * p.B),
                                (uint32_t)(order - 1), &qb, &hb);
      if (w == 1) continue;
      done = w == 2;
      m0 = (int64_t)qb * BM;
      h = (int)(hb % (uint32_t)p.Hq);
      b = (int)(hb / (uint32_t)p.Hq);
    }
    const int e = (int)(n % NI);
    if (n >= NI) mbar_wait(iempty + 8 * e, (uint32_t)(((n / NI) & 1) ^ 1));
    ++n;
    if constexpr (MASKED) {
      int *s_lo = iv + 2 * BM * e, *s_hi = s_lo + BM;
      if (!done) {
        for (int r = tx; r < BM; r += 96) {
          int64_t lo = 0, hi = 0;
          if (m0 + r < p.Nq) mask_row_keys(a.mk, m0 + r, &lo, &hi);
          s_lo[r] = (int)lo;
          s_hi[r] = (int)hi;
        }
      }
      named_bar_sync(DBAR, 96);
    }
    if (warp == 1) {
      int jb0 = 0, nblk = -1, kin_lo = 0, kin_hi = 0;
      if (!done) {
        int64_t kbeg, kend;
        fwd_tile_keys<BM, !MASKED>(a, m0, &kbeg, &kend);
        if constexpr (MASKED) {
          const int *s_lo = iv + 2 * BM * e, *s_hi = s_lo + BM;
          const CtaKeys ck = mask_cta_keys(a.mk, m0, BM, s_lo, s_hi);
          kbeg = ck.kbeg;
          kend = ck.kend;
          kin_lo = ck.kin_lo;
          kin_hi = ck.kin_hi;
        }
        jb0 = (int)(kbeg / BN);
        nblk = (int)((kend + BN - 1) / BN) - jb0;
      }
      if (lane == 0) {
        PersistTile &ti = info[e];
        ti.m0 = m0;
        ti.h = h;
        ti.b = b;
        ti.jb0 = jb0;
        ti.nblk = nblk;
        ti.kin_lo = kin_lo;
        ti.kin_hi = kin_hi;
      }
      __syncwarp();
    }
    mbar_arrive(ifull + 8 * e);
    if (done) break;
  }
}

/* Thread 0 of a persistent kernel (this file's forward, jvp_persist.cuh's JVP): the barriers of its NQB Q buffers
   (qfull: the TMA thread's load; qempty: the 8 consumer warps' release) and of its ring of NI tile descriptions
   (ifull: persist_describe_tiles' 96 producer threads; iempty: the CW consumer warps and the TMA thread), at their
   byte offsets in the kernel's barrier block bar. */
template <int NQB, int NI, int CW = 8>
__device__ __forceinline__ void persist_init_rings(uint32_t bar, uint32_t qfull, uint32_t qempty, uint32_t ifull,
                                                   uint32_t iempty) {
#pragma unroll
  for (int q = 0; q < NQB; ++q) {
    mbar_init(bar + qfull + 8 * q, 1);
    mbar_init(bar + qempty + 8 * q, CW);
  }
#pragma unroll
  for (int e = 0; e < NI; ++e) {
    mbar_init(bar + ifull + 8 * e, 96);
    mbar_init(bar + iempty + 8 * e, CW + 1);
  }
}

/* The mask of key block kb0.. (BN keys) for the tile's rows m0.. and (MASKED) this lane's two rows' visibility bits
   from their key intervals s_lo / s_hi (CTA-local rows wrow + g and + 8): fwd.cuh's block_bits without a dense mask,
   for the persistent kernels (this file's forward, jvp_persist.cuh's JVP) */
template <int BN, bool MASKED, int NT, int BM = kPersistBM>
__device__ __forceinline__ BlockMask persist_block_bits(const FwdArgs &a, int64_t m0, int64_t kb0, int kin_lo,
                                                        int kin_hi, const int *s_lo, const int *s_hi, int wrow, int g,
                                                        int t4, uint64_t (&dw)[1][2][NT > 8 ? NT / 8 : 1]) {
  constexpr int NW = BN / 64 > 0 ? BN / 64 : 1;
  BlockMask bm = fwd_block_mask<BN, MASKED, BM>(a, m0, kb0, kin_lo, kin_hi);
  if constexpr (MASKED) {
    if (bm.need) {
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        const int rl = wrow + g + rr * 8;
        const int rlo = s_lo[rl] - (int)kb0, rhi = s_hi[rl] - (int)kb0;
#pragma unroll
        for (int kw = 0; kw < NW; ++kw) {
          dw[0][rr][NT > 8 ? kw : 0] = interval_word(rlo, rhi, kw) >> (2 * t4);
        }
      }
    }
  }
  return bm;
}

/* The epilogue of a warp's 16 rows r0.. with fwd_epilogue's arithmetic (the same l reduction, lse,
   1 / l and o * (1 / l) rounded to T: the same bits) but o stored through the warp's shared-memory
   slot (2 KB, 16 rows x 64 columns, 16-byte chunks XOR-swizzled by the row) as 16-byte pieces, a
   row's 128 bytes per 8 lanes: 16 stores a thread instead of fwd_epilogue's 128 16-bit ones (8 rows
   x 8 bytes each). Needs (host, vec_o): no accumulate mode, Dreal = 128, o's columns contiguous
   and its rows 16-byte aligned. */
template <typename T, int DT>
__device__ __forceinline__ void persist_epilogue_vec(const FwdArgs &a, int64_t b, int64_t h, int64_t r0, int g, int t4,
                                                     int lane, const float (&o)[1][DT][4], const float (&mrow)[1][2],
                                                     const float (&lrow)[1][2], unsigned char *slot) {
  static_assert(DT == 16, "128 accumulator columns (the host's vec_o: Dreal = 128)");
  const jfa_problem_t &p = a.p;
  float inv[2];
#pragma unroll
  for (int rr = 0; rr < 2; ++rr) {
    float l = lrow[0][rr];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    inv[rr] = l != 0.f ? 1.f / l : 0.f;
    const int64_t i = r0 + g + rr * 8;
    const float lse = l != 0.f ? (mrow[0][rr] + log2f(l)) * 0.69314718055994531f : -INFINITY;
    if (i < p.Nq && t4 == 0 && a.lse.p) ((float *)a.lse.p)[voff(a.lse, b, h, i, 0)] = lse;
  }
#pragma unroll
  for (int half = 0; half < 2; ++half) {
    __syncwarp(); /* the previous half's (tile's) reads of the slot */
#pragma unroll
    for (int c = 0; c < 8; ++c)
#pragma unroll
      for (int rr = 0; rr < 2; ++rr) {
        const int row = g + rr * 8;
        const T x0 = from_f<T>(o[0][half * 8 + c][rr * 2] * inv[rr]);
        const T x1 = from_f<T>(o[0][half * 8 + c][rr * 2 + 1] * inv[rr]);
        uint16_t u0, u1;
        memcpy(&u0, &x0, 2);
        memcpy(&u1, &x1, 2);
        *(uint32_t *)(slot + row * 128 + ((c ^ (row & 7)) * 16) + t4 * 4) = (uint32_t)u0 | ((uint32_t)u1 << 16);
      }
    __syncwarp();
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int row = (lane >> 3) + 4 * j, c = lane & 7;
      const uint4 v = *(const uint4 *)(slot + row * 128 + ((c ^ (row & 7)) * 16));
      const int64_t i = r0 + row;
      if (i < p.Nq) *(uint4 *)((T *)a.o.p + voff(a.o, b, h, i, half * 64 + c * 8)) = v;
    }
  }
}

/* XT (variant 9): a tile's last P V is issued with the next tile's first S, in one ping-pong turn, and the
   tile's epilogue follows the next tile's first softmax (which overlaps that P V); see the consumers. EXPF
   (tiles.h; unmasked and causal calls): of each 16 probabilities of a row, EXPF on the FMA pipe. NC (tiles.h; 0:
   2): three consumer warpgroups, 192 query rows a tile, 512 threads (the ping-pong a round robin, pp_next_bar; the
   consumers at 160 registers, the producers at 32; neither XT nor EXPF). */
template <typename T, int D, int DA, int ST_, bool MASKED, bool XT, int EXPF = 0, bool MPASS = false, int NC = 0>
__global__ void __launch_bounds__(NC ? 128 * (NC + 1) : 384, 1)
    fwd_persist_sm90a_kernel(const __grid_constant__ FwdArgs a, const __grid_constant__ Sm90Maps tm, int64_t ntiles,
                             int64_t nqb, int order, int vec_o, int cskip) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  typedef Sm90Persist<D, ST_, NC> C;
  typedef typename C::F F;
  constexpr int BN = C::BN, ST = C::ST, NT = BN / 8, DT = DA / 8, NI = C::NI, NCW = C::NCW;
  static_assert(NC == 0 || (!XT && EXPF == 0), "three consumers: neither XT nor EXPF");
  /* three consumers: 192 rows a tile over blocks of 128 keys, so a block can be masked for all 64 rows of one */
  constexpr bool CSKIP = NCW == 3;
  extern __shared__ __align__(1024) unsigned char smraw[];
  const uint32_t sbase = (smem_u32(smraw) + 1023u) & ~1023u;
  unsigned char *gbase = smraw + (sbase - smem_u32(smraw)); /* the same base, generic pointer */
  const uint32_t sKV = sbase + C::KV_OFF, bar = sbase + C::BAR_OFF;
  const uint32_t vbar = bar + C::B_VFULL; /* vfull[ST], then vempty[ST] */
  PersistTile *info = (PersistTile *)(gbase + C::INFO_OFF);
  int *iv = (int *)(gbase + C::IV_OFF); /* entry e: lo at iv + 2 BM e, hi at iv + 2 BM e + BM */

  const jfa_problem_t &p = a.p;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < ST; ++s) {
      mbar_init(bar + C::B_FULL + 8 * s, 1);
      mbar_init(bar + C::B_EMPTY + 8 * s, 4 * NCW); /* one arrival per consumer warp */
      mbar_init(bar + C::B_VFULL + 8 * s, 1);
      mbar_init(bar + C::B_VEMPTY + 8 * s, 4 * NCW);
    }
    persist_init_rings<C::NQB, NI, 4 * NCW>(bar, C::B_QFULL, C::B_QEMPTY, C::B_IFULL, C::B_IEMPTY);
    mbar_fence_init();
  }
  __syncthreads();

  if (warp < 4) {
    /* producer warpgroup (40 registers: the interval walk of warps 1..3; 32 beside three consumers: 32 + 3 x 160 <=
       4 x 128, the launch's count) */
    if constexpr (NCW == 3) asm volatile("setmaxnreg.dec.sync.aligned.u32 32;\n" ::: "memory");
    else asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
    if (warp >= 1) {
      persist_describe_tiles<C::BM, BN, NI, MASKED, C::DESC_BAR>(a, info, iv, bar + C::B_IFULL, bar + C::B_IEMPTY, ntiles,
                                                                  nqb, order, warp, lane);
    } else if (warp == 0 && lane == 0) {
      /* the TMA thread: every tile's Q (two buffers) and K, V blocks (the stage ring, CTA-wide count gi) */
      uint32_t gi = 0;
      int kq = 0; /* tiles with key blocks so far (their Q buffers) */
      for (int k = 0;; ++k) {
        const int e = k % NI;
        mbar_wait(bar + C::B_IFULL + 8 * e, (uint32_t)((k / NI) & 1));
        const PersistTile ti = info[e];
        if (ti.nblk < 0) break;
        mbar_arrive(bar + C::B_IEMPTY + 8 * e);
        if (ti.nblk == 0) continue;
        const int hk = ti.h / (int)(p.Hq / p.Hkv);
        const int qb = kq & 1;
        if (kq >= C::NQB) mbar_wait(bar + C::B_QEMPTY + 8 * qb, (uint32_t)(((kq >> 1) & 1) ^ 1));
        mbar_arrive_expect_tx(bar + C::B_QFULL + 8 * qb, C::Q_BYTES);
#pragma unroll
        for (int hh = 0; hh < F::NH; ++hh)
          tma_load_4d(sbase + qb * C::Q_BYTES + hh * F::HALF_Q, &tm.q, bar + C::B_QFULL + 8 * qb, hh * 64, (int)ti.m0,
                      ti.h, ti.b);
        ++kq;
        for (int i = 0; i < ti.nblk; ++i, ++gi) {
          const uint32_t st = gi % ST, ph = (gi / ST) & 1u, dst = sKV + st * C::STAGE_BYTES;
          const int kblk = ti.jb0 + i;
          if (gi >= ST) mbar_wait(bar + C::B_EMPTY + 8 * st, ph ^ 1u);
          mbar_arrive_expect_tx(bar + C::B_FULL + 8 * st, F::NH * C::HALF_K);
#pragma unroll
          for (int hh = 0; hh < F::NH; ++hh)
            tma_load_4d(dst + hh * C::HALF_K, &tm.k, bar + C::B_FULL + 8 * st, hh * 64, kblk * BN, hk, ti.b);
          if (gi >= ST) mbar_wait(vbar + 8 * (ST + st), ph ^ 1u);
          mbar_arrive_expect_tx(vbar + 8 * st, F::NH * C::HALF_K);
#pragma unroll
          for (int hh = 0; hh < F::NH; ++hh)
            tma_load_4d(dst + (F::NH + hh) * C::HALF_K, &tm.v, vbar + 8 * st, hh * 64, kblk * BN, hk, ti.b);
        }
      }
    }
  } else {
    /* consumer warpgroups: 64 rows each, 16 per warp (variant 0's PVLAG loop per tile) */
    if constexpr (NCW == 3) asm volatile("setmaxnreg.inc.sync.aligned.u32 160;\n" ::: "memory");
    else asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    const int cw = warp - 4, wg = cw >> 2;
    const int wrow = wg * 64 + (cw & 3) * 16; /* CTA-local first row of this warp */
    const int g = lane >> 2, t4 = lane & 3;
    const uint32_t qrow = (uint32_t)wg * 64 * 128; /* this warpgroup's rows inside a Q half */
    unsigned char *oslot = gbase + C::O_OFF + cw * C::O_SLOT;
    float o[1][DT][4];
    float u[1][1][4];
    float mrow[1][2], lrow[1][2], nrow[1][2], crow[1][2];
    float s[1][NT][4], sd[1][1][4];
    uint32_t ap[BN / 16][4], apd[1][4];
    uint64_t dw[1][2][NT > 8 ? NT / 8 : 1];
    float alpha[1][1][4];
    if (wg == NCW - 1) named_bar_arrive(1, 256); /* warpgroup 0 takes the tensor cores first (once) */
    uint32_t gi = 0; /* the CTA-wide key block count: block i of a tile is gi + i */
    int kq = 0;      /* tiles with key blocks so far (Q buffer kq & 1) */
    /* XT: a tile whose last P V (block pgl, P in ap, into o) and epilogue are pending */
    bool pend = false;
    int64_t pm0 = 0, pb = 0, ph = 0;
    uint32_t pgl = 0;
    float pmrow[1][2], plrow[1][2];
/* the epilogue of the tile (eb, eh, em0) from o, mrow, lrow */
#define PERSIST_EPILOGUE(eb, eh, em0)                                                                                  \
  do {                                                                                                                 \
    if constexpr (DT == 16) {                                                                                          \
      if (vec_o) {                                                                                                     \
        persist_epilogue_vec<T, DT>(a, eb, eh, (em0) + wrow, g, t4, lane, o, mrow, lrow, oslot);                       \
        break;                                                                                                         \
      }                                                                                                                \
    }                                                                                                                  \
    fwd_epilogue<T, 1, DT, false>(a, eb, eh, (em0) + wrow, g, t4, o, u, mrow, lrow, nrow, crow);                       \
  } while (0)
    /* a tile's last P V alone (block g: its V stage, P in ap, into o), waited, and V's stage released */
    auto last_pv = [&](uint32_t g) {
      const uint32_t sp = g % ST;
      fwd_last_pv<T, D, DA, BN, false, ST, false>(o, u, ap, apd, vbar, sp, (g / ST) & 1u, sKV, C::STAGE_BYTES, lane);
    };
    for (int k = 0;; ++k) {
      const int e = k % NI;
      mbar_wait(bar + C::B_IFULL + 8 * e, (uint32_t)((k / NI) & 1));
      const int nlive = info[e].nblk;
      if (XT && pend && nlive <= 0) {
        /* XT: the pending tile's last P V alone, then its epilogue (before a tile without key blocks, and at
           the end) */
        last_pv(pgl);
        PERSIST_EPILOGUE(pb, ph, pm0);
        pend = false;
      }
      if (nlive < 0) break;
      const int64_t m0 = info[e].m0, b = info[e].b, h = info[e].h;
      const int jb0 = info[e].jb0, kin_lo = info[e].kin_lo, kin_hi = info[e].kin_hi;
      const int *s_lo = iv + 2 * C::BM * e, *s_hi = s_lo + C::BM;
      const uint32_t sQ = sbase + (uint32_t)(kq & 1) * C::Q_BYTES, qfull = bar + C::B_QFULL + 8 * (kq & 1);
      const uint32_t qempty = bar + C::B_QEMPTY + 8 * (kq & 1), ifree = bar + C::B_IEMPTY + 8 * e;
      const uint32_t g0 = gi;
      if constexpr (XT) {
        if (pend) {
          /* the pending tile's statistics kept for its epilogue; this tile's fresh (o stays: its last P V) */
#pragma unroll
          for (int rr = 0; rr < 2; ++rr) {
            pmrow[0][rr] = mrow[0][rr];
            plrow[0][rr] = lrow[0][rr];
            mrow[0][rr] = -INFINITY;
            lrow[0][rr] = 0.f;
            nrow[0][rr] = 0.f;
            crow[0][rr] = 0.f;
          }
        } else {
          fwd_init_state<1, DT, false>(o, u, mrow, lrow, nrow, crow);
        }
      } else {
        fwd_init_state<1, DT, false>(o, u, mrow, lrow, nrow, crow);
      }

      /* the mask of key block kb0.. and (MASKED) this lane's rows' visibility bits */
      auto block_bits = [&](int64_t kb0) {
        return persist_block_bits<BN, MASKED, NT, C::BM>(a, m0, kb0, kin_lo, kin_hi, s_lo, s_hi, wrow, g, t4, dw);
      };
      /* waits for K(i) and V(i - 1) (pv) and issues S(i) and P(i - 1) V(i - 1) in this consumer's turn */
      auto issue = [&](int i, bool pv) {
        const uint32_t gk = g0 + (uint32_t)i, st = gk % ST, sp = (gk + ST - 1) % ST;
        mbar_wait(bar + C::B_FULL + 8 * st, (gk / ST) & 1u);
        if (pv) mbar_wait(vbar + 8 * sp, ((gk - 1) / ST) & 1u);
        named_bar_sync(1 + wg, 256);
        wg_reg_fence<DT * 4>(&o[0][0][0]);
        wg_reg_fence_u<BN / 16 * 4>(&ap[0][0]);
        wg_fence();
        mma_scores<T, D, BN, false, ST, false, 0, NC>(s, sd, sQ, sQ, qrow, sKV + st * C::STAGE_BYTES);
        wg_commit();
        if (pv) {
          mma_pv<T, D, DA, BN, false, ST, false>(o, u, ap, apd, sKV + sp * C::STAGE_BYTES, 0);
          wg_commit();
        }
        named_bar_arrive(pp_next_bar<NCW>(wg), 256); /* every issue, the tile's last too (the ping-pong carries over) */
      };
      BlockMask bmk;
      /* after S(i) has landed: releases K(i) (and after the tile's last S its Q buffer and its ring
         entry: the intervals were read by block_bits), the softmax of block i */
      auto softmax = [&](int i) {
        wg_reg_fence<NT * 4>(&s[0][0][0]);
        __syncwarp();
        if (lane == 0) {
          mbar_arrive(bar + C::B_EMPTY + 8 * ((g0 + (uint32_t)i) % ST));
          if (i == nlive - 1) {
            mbar_arrive(qempty);
            mbar_arrive(ifree);
          }
        }
        const BlockMask bm = MASKED ? bmk : fwd_block_mask<BN, false, C::BM>(a, m0, (int64_t)(jb0 + i) * BN, kin_lo, kin_hi);
#pragma unroll
        for (int x = 0; x < 4; ++x) alpha[0][0][x] = 1.f;
        fwd_softmax_block<1, NT, 1, false, MASKED, true, MASKED, EXPF, MPASS>(a, bm, b, h, m0, wrow, g, t4, s_lo, s_hi, s,
                                                                       sd, alpha, u, mrow, lrow, nrow, crow, dw);
      };
      auto rescale_pack = [&]() { fwd_rescale_pack<T, DT, NT, BN>(o, s, alpha, ap); };
      /* CSKIP: block i masked for every row of this warpgroup: its ping-pong turn without products, and its K, V
         stages (and after the tile's last block its Q buffer and ring entry) released once they have landed (a release
         before the load could count toward the stage's previous phase) */
      auto skip_turn = [&](int i) {
        const uint32_t gk = g0 + (uint32_t)i, st = gk % ST;
        mbar_wait(bar + C::B_FULL + 8 * st, (gk / ST) & 1u);
        named_bar_sync(1 + wg, 256);
        named_bar_arrive(pp_next_bar<NCW>(wg), 256);
        mbar_wait(vbar + 8 * st, (gk / ST) & 1u);
        __syncwarp();
        if (lane == 0) {
          mbar_arrive(bar + C::B_EMPTY + 8 * st);
          mbar_arrive(vbar + 8 * (ST + st));
          if (i == nlive - 1) {
            mbar_arrive(qempty);
            mbar_arrive(ifree);
          }
        }
      };
      int2 crange = make_int2(0, nlive); /* CSKIP: this warpgroup's live blocks */
      if constexpr (CSKIP) {
        if (cskip && nlive > 0) crange = fwd_consumer_blocks<BN, MASKED>(a, m0, wg, jb0, nlive, s_lo, s_hi, lane);
      }
      if (nlive > 0) {
        mbar_wait(qfull, (uint32_t)((kq >> 1) & 1));
        if (XT && pend) {
          /* one turn: S(0) and the pending tile's last P V (block g0 - 1 = pgl: issue's V(i - 1)); this tile's
             first softmax runs while that P V does; then the pending tile's epilogue, and O zeroed, scaled by
             alpha(0) and P(0) packed (variant 0's first rescale_pack: the same values) */
          issue(0, true);
          if constexpr (MASKED) bmk = block_bits((int64_t)jb0 * BN);
          wg_wait<1>();
          softmax(0);
          wg_wait<0>();
          __syncwarp();
          if (lane == 0) mbar_arrive(vbar + 8 * (ST + pgl % ST));
          wg_reg_fence<DT * 4>(&o[0][0][0]);
#pragma unroll
          for (int rr = 0; rr < 2; ++rr) {
            const float tm = mrow[0][rr], tl = lrow[0][rr];
            mrow[0][rr] = pmrow[0][rr], lrow[0][rr] = plrow[0][rr];
            pmrow[0][rr] = tm, plrow[0][rr] = tl;
          }
          PERSIST_EPILOGUE(pb, ph, pm0); /* the pending tile's statistics swapped in, then back */
#pragma unroll
          for (int rr = 0; rr < 2; ++rr) mrow[0][rr] = pmrow[0][rr], lrow[0][rr] = plrow[0][rr];
#pragma unroll
          for (int dt = 0; dt < DT; ++dt)
#pragma unroll
            for (int x = 0; x < 4; ++x) o[0][dt][x] = 0.f;
          rescale_pack(); /* variant 0's first rescale of its zeroed O, and P(0) packed */
          pend = false;
        } else if constexpr (!CSKIP) {
          issue(0, false);
          if constexpr (MASKED) bmk = block_bits((int64_t)jb0 * BN);
          wg_wait<0>();
          softmax(0);
          rescale_pack();
        }
        if constexpr (CSKIP) {
          /* this warpgroup's live blocks [ilo, ihi) in variant 0's loop (the first peeled, then S(i) with P(i - 1)
             V(i - 1), the last P V alone), the tile's blocks before and after them a turn without products: every
             wgmma wait unconditional inside a branch on warp-uniform bounds (crange's shuffle from lane 0) */
          const int ilo = crange.x, ihi = crange.y;
          for (int i = 0; i < ilo; ++i) skip_turn(i);
          if (ilo < ihi) {
            issue(ilo, false);
            if constexpr (MASKED) bmk = block_bits((int64_t)(jb0 + ilo) * BN);
            wg_wait<0>();
            softmax(ilo);
            rescale_pack();
            for (int i = ilo + 1; i < ihi; ++i) {
              issue(i, true);
              if constexpr (MASKED) bmk = block_bits((int64_t)(jb0 + i) * BN);
              wg_wait<1>();
              softmax(i);
              wg_wait<0>();
              __syncwarp();
              if (lane == 0) mbar_arrive(vbar + 8 * (ST + (g0 + (uint32_t)i - 1) % ST));
              rescale_pack();
            }
            last_pv(g0 + (uint32_t)ihi - 1);
          }
          for (int i = ihi; i < nlive; ++i) skip_turn(i);
        } else {
          for (int i = 1; i < nlive; ++i) {
            issue(i, true);
            if constexpr (MASKED) bmk = block_bits((int64_t)(jb0 + i) * BN); /* while S(i) and P(i - 1) V(i - 1) run */
            wg_wait<1>(); /* S(i); P(i - 1) V(i - 1) may still run */
            softmax(i);
            wg_wait<0>(); /* P(i - 1) V(i - 1) */
            __syncwarp();
            if (lane == 0) mbar_arrive(vbar + 8 * (ST + (g0 + (uint32_t)i - 1) % ST)); /* done with V(i - 1) */
            rescale_pack();
          }
        }
        const uint32_t gl = g0 + (uint32_t)nlive - 1;
        if constexpr (CSKIP) {
          /* the last live block's P V ran in the loop */
        } else if constexpr (XT) {
          /* the last block's P V and the epilogue wait for the next tile's first S (or flush) */
          pend = true;
          pgl = gl;
          pm0 = m0;
          pb = b;
          ph = h;
        } else {
          /* the last block's P V */
          last_pv(gl);
        }
        gi += (uint32_t)nlive;
        ++kq;
      } else {
        __syncwarp();
        if (lane == 0) mbar_arrive(ifree);
      }
      if (!XT || nlive == 0) PERSIST_EPILOGUE(b, h, m0);
    }
#undef PERSIST_EPILOGUE
    if (wg == 0) named_bar_sync(1, 256); /* the last warpgroup's arrival after its last issue */
  }
#endif
}

/* The persistent kernels' launch shape (this file's forward, jvp_persist.cuh's JVP): min(SMs, ntiles) CTAs, or
   JFA_TUNE_SM90_CTAS of them (tests: many tiles a CTA), and the tiles' order (persist_tile_of) */
static jfa_status_t persist_shape(const FwdArgs &a, int64_t ntiles, int64_t *grid, int *order) {
  if (!persist_tiles_ok(ntiles)) /* persist_tile_of's 32-bit arithmetic (no tensor that size fits a GPU) */
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "sm90 persistent kernels: %lld tiles (2^31 at most)", (long long)ntiles);
  int sms = a.nsm;
  if (sms <= 0) { /* FwdArgs not from sm90_fwd_run */
    int dev = 0;
    JFA_CUDA_CHECK(cudaGetDevice(&dev));
    JFA_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  }
  const int force = tune_variant("JFA_TUNE_SM90_CTAS");
  if (force > 0) sms = force;
  *grid = ntiles < sms ? ntiles : sms;
  /* the kernels count a CTA's key blocks in 32 bits (the stages' ring and phases): blocks of 32 keys at the least */
  if (!persist_blocks_ok(ntiles, *grid, a.p.Nk))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "sm90 persistent kernels: %lld tiles of %lld keys on %lld CTAs (2^32 key "
             "blocks a CTA at most)", (long long)ntiles, (long long)a.p.Nk, (long long)*grid);
  /* causal calls and windows (not packed): tiles numbered longest first (order 0), which the snake balances;
     packed sequences (lengths follow the sequences' starts, not the query block) and unmasked calls (equal
     lengths): variant 0's grid order (1), whose CTAs at work share a head's keys in L2 (bench/RESULTS.md:
     a model of both orders) */
  *order = (a.masked && a.mk.nseq > 0) || (!a.p.causal && !a.masked) ? 1 : 0;
  const char *oe = getenv("JFA_TUNE_SM90_ORDER"); /* A / B runs: 0 or 1 for every call, 2 for plain causal ones */
  if (oe && (oe[0] == '0' || oe[0] == '1')) *order = oe[0] - '0';
  if (oe && oe[0] == '2' && a.p.causal && !a.masked) { /* cta_pair_of, in fwd_causal_group's L2-sized groups */
    const int64_t hg = fwd_causal_group(a.p, false, a.p.D, 2, a.qd.p ? 4 : 2, "JFA_TUNE_SM90_FWD_HG");
    *order = 1 + (int)(hg > 0 && (a.p.Hq * a.p.B) % hg == 0 ? hg : 1); /* groups that divide the pairs */
  }
  return JFA_SUCCESS;
}

/* Launches the persistent forward (tuning variant 8): min(SMs, tiles) CTAs, or JFA_TUNE_SM90_CTAS
   of them (tests: many tiles a CTA); NC = 3: three consumer warpgroups (tuning variant 34 at D = 64) */
template <typename T, int D, int DA, int ST, bool MASKED, bool XT, int EXPF, bool MPASS, int NC>
static jfa_status_t launch_persist_sm90a(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st) {
  typedef Sm90Persist<D, ST, NC> C;
  static_assert(C::SMEM <= 232448, "shared memory beyond the sm_90 opt-in limit");
  const int64_t nqb = (a.p.Nq + C::BM - 1) / C::BM, ntiles = nqb * a.p.Hq * a.p.B;
  if (ntiles <= 0) return JFA_SUCCESS;
  Sm90Maps tm;
  JFA_CHECK(sm90_fwd_maps(&tm, t, C::BM, C::BN, false));
  auto kern = fwd_persist_sm90a_kernel<T, D, DA, ST, MASKED, XT, EXPF, MPASS, NC>;
  JFA_CHECK(smem_optin(kern, C::SMEM));
  int64_t grid = 0;
  int order = 0;
  JFA_CHECK(persist_shape(a, ntiles, &grid, &order));
  /* o stored as 16-byte pieces (persist_epilogue_vec) where its layout allows (tests: JFA_TUNE_SM90_SCALAR_O=1
     takes fwd_epilogue's stores always) */
  const int vec_o =
      tune_variant("JFA_TUNE_SM90_SCALAR_O") != 1 && !a.accumulate && a.Dreal == 128 && view_vec16(a.o, sizeof(T));
  kern<<<(unsigned)grid, C::NTHREADS, C::SMEM, st>>>(a, tm, ntiles, nqb, order, vec_o, sm90_fwd_cskip(NC));
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

#endif /* JFA_KERNELS_SM90_FWD_PERSIST_CUH_ */
