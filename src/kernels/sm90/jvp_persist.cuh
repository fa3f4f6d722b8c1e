/*
 * jvp_persist.cuh - a persistent form of the sm90 fused forward+JVP (bf16 / fp16; the rows without the column
 * split: D = 64, 96, 128), since the twentieth session; the default for the D = 64 calls that are not plain causal
 * and, since the twenty-fifth session, for D = 64's plain causal calls of up to 2048 keys, since the twenty-seventh
 * for D = 128's aligned packed sequences (a band) (tiles.h sm90_jvp_persist_default: where it measured faster than
 * fwd.cuh's kernel), JFA_SM90_JVP_PERSIST=1 / 0 per call.
 * Included at the end of fwd.cuh (it uses mma_scores, mma_pv, Sm90Fwd and fwd_persist.cuh's tile ring).
 *
 * Outcome (H200, bench/RESULTS.md twentieth session): bitwise fwd.cuh's outputs; the D = 64 window +8%, D = 64
 * unmasked +3%, but D = 128 no faster (its window 439 -> 431: the window's distance to causal is not the CTAs' fixed
 * cost) and causal calls slower (D = 128 N = 4096 -7.5%: the snake's order over every head against cta_order.cuh's
 * L2-sized head groups).
 * Why it was written: a JVP CTA pays a fixed cost (its start, Q and Qd loaded before the first score product, the first block's
 * latency, the epilogue's stores, its end) that short visible ranges do not amortise: a causal window of 2048 at
 * N = 16384 gives a CTA ~34 blocks of 64 keys against plain causal's ~128, and ran at 76% of causal's rate over the
 * visible area (H200, D = 128, nineteenth session) where the persistent forward's windows run at 85%. Here, as in
 * fwd_persist.cuh, grid = min(SMs, tiles) CTAs walk the tiles (128 query rows of one (batch, head)) in its static snake
 * (persist_tile_of, persist_shape: longest first for causal calls and windows), producer warps 1..3 describe the tiles
 * ahead of the others (persist_describe_tiles: the ring of NI entries, the rows' key intervals of interval masks),
 * and the next tile's loads overlap the current tile's end:
 *   - Q and Qd: NQB buffers, two where they fit beside the stages (D = 64: 2 x 32 KB), else one (D = 96 / 128: Q and
 *     Qd 64 KB beside two stages of K, V, Kd, Vd of 64 KB each). The consumers release a tile's buffer once their
 *     last S and Sd have landed; the TMA thread loads the next tile's first stage before it waits for that
 *     release, so that with one buffer the next Q and Qd load while the consumers run the tile's last softmax, P V
 *     and epilogue;
 *   - K, V, Kd, Vd: fwd.cuh's one ring of ST stages (Sm90Fwd's stage layout), its stage and parity from a CTA-wide
 *     block count, a stage released after the block's P V (full: the TMA thread's bytes; empty: 8 consumer warps);
 *   - consumers: fwd.cuh's JVP order per block (S and Sd, the softmax with the tangent's running reference, P and
 *     P (Sd - c) packed, O += P V and U += P (Sd - c) V + P Vd), the same arithmetic in the same order (bitwise
 *     fwd.cuh's outputs), and fwd_epilogue's stores. The ping-pong of the score issues carries over tile boundaries
 *     as in fwd_persist.cuh: warpgroup 1 arrives on named barrier 1 once at the start and after each of its issues,
 *     warpgroup 0 after each of its own on barrier 2, and warpgroup 0 consumes warpgroup 1's last arrival at the end.
 * Calls it does not take (sm90_fwd_variant): accumulate mode (the ring's partial calls, whose CTAs leave SMs to its
 * communication kernels between waves) and dense masks (boolean or additive: fwd.cuh's masked kernel and its
 * producer warp 1); interval masks (windows, positions, packed sequences) run here at the row's masked tiles (BNM,
 * STM). Registers as fwd.cuh's JVP: producer 24 / consumers 240 (masked: 40 / 232, warps 1..3's interval walk);
 * ptxas: no spills but 20 bytes in the masked D = 128 kernel, around the epilogue (the tile loop's counters, once a
 * tile; 0 without the epilogue), and since the twenty-seventh session 20 / 16 bytes in the unmasked kernels at D =
 * 64 / 128: fwd_tile_keys' search for an aligned packed band's sequence in producer warp 1 (24 registers), once a
 * tile (a form in 64 bits spilled 28; 0 before the packed band).
 * bench/jvp_persist_protocol.py models the barriers of this file (phases, parities, the Q buffers' reuse, named
 * barriers) in random interleavings; keep it in step with the code.
 */
#ifndef JFA_KERNELS_SM90_JVP_PERSIST_CUH_
#define JFA_KERNELS_SM90_JVP_PERSIST_CUH_

/* The persistent JVP's shared memory at head dim D, BN keys a block, ST stages: NQB buffers of Q then Qd, the stages
   of K, V, Kd, Vd (Sm90Fwd's), the barriers, the ring of NI tile descriptions and their rows' key intervals */
template <int D_, int BN_, int ST_> struct Sm90JvpPersist {
  static constexpr int D = D_, BN = BN_, ST = ST_, BM = kPersistBM, NI = 4, NTHREADS = 384;
  typedef Sm90Fwd<D, BN, true, ST, false, false> F; /* the JVP's stage layout (parts K, V, Kd, Vd) */
  static_assert(F::BM == BM, "128 query rows a tile: two consumers of 64");
  static constexpr uint32_t Q_BYTES = F::Q_BYTES, QB_BYTES = 2 * F::Q_BYTES, STAGE_BYTES = F::STAGE_BYTES;
  /* the barriers' 256 bytes, the ring, the intervals, the slack to align the base */
  static constexpr size_t REST = 256 + NI * sizeof(PersistTile) + NI * 2 * BM * sizeof(int) + 1024;
  static constexpr int NQB = 2 * (size_t)QB_BYTES + ST * (size_t)STAGE_BYTES + REST <= 232448 ? 2 : 1;
  static constexpr uint32_t KV_OFF = NQB * QB_BYTES, BAR_OFF = KV_OFF + ST * STAGE_BYTES;
  /* barriers (8 bytes each): full[ST] empty[ST] qfull[NQB] qempty[NQB] ifull[NI] iempty[NI] */
  static constexpr uint32_t B_FULL = 0, B_EMPTY = 8 * ST, B_QFULL = 16 * ST, B_QEMPTY = B_QFULL + 8 * NQB,
                            B_IFULL = B_QEMPTY + 8 * NQB, B_IEMPTY = B_IFULL + 8 * NI, B_END = B_IEMPTY + 8 * NI;
  static constexpr uint32_t INFO_OFF = BAR_OFF + 256, IV_OFF = INFO_OFF + NI * sizeof(PersistTile);
  static constexpr size_t SMEM = IV_OFF + NI * 2 * BM * sizeof(int) + 1024;
  static_assert(B_END <= 256 && SMEM == KV_OFF + ST * (size_t)STAGE_BYTES + REST, "layout");
  static_assert(QB_BYTES % 1024 == 0 && STAGE_BYTES % 1024 == 0, "the 128-byte swizzle's 1024-byte alignment");
};

template <typename T, int D, int DA, int BN, int ST, bool MASKED, bool MPASS>
__global__ void __launch_bounds__(384, 1)
    jvp_persist_sm90a_kernel(const __grid_constant__ FwdArgs a, const __grid_constant__ Sm90Maps tm, int64_t ntiles,
                             int64_t nqb, int order) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  typedef Sm90JvpPersist<D, BN, ST> C;
  typedef typename C::F F;
  constexpr int NT = BN / 8, DT = DA / 8, NI = C::NI, NQB = C::NQB, NH = F::NH;
  static_assert(DA == D, "the unsplit JVP rows: accumulators of D columns");
  extern __shared__ __align__(1024) unsigned char smraw[];
  const uint32_t sbase = (smem_u32(smraw) + 1023u) & ~1023u;
  unsigned char *gbase = smraw + (sbase - smem_u32(smraw)); /* the same base, generic pointer */
  const uint32_t sKV = sbase + C::KV_OFF, bar = sbase + C::BAR_OFF;
  PersistTile *info = (PersistTile *)(gbase + C::INFO_OFF);
  int *iv = (int *)(gbase + C::IV_OFF); /* entry e: lo at iv + 2 BM e, hi at iv + 2 BM e + BM */

  const jfa_problem_t &p = a.p;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < ST; ++s) {
      mbar_init(bar + C::B_FULL + 8 * s, 1);
      mbar_init(bar + C::B_EMPTY + 8 * s, 8); /* one arrival per consumer warp */
    }
    persist_init_rings<NQB, NI>(bar, C::B_QFULL, C::B_QEMPTY, C::B_IFULL, C::B_IEMPTY);
    mbar_fence_init();
  }
  __syncthreads();

  if (warp < 4) {
    /* producer warpgroup (MASKED 40 registers: the interval walk of warps 1..3; 128 x 40 + 256 x 232 <= 65536) */
    if constexpr (MASKED) asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n" ::: "memory");
    else asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\n" ::: "memory");
    if (warp >= 1) {
      persist_describe_tiles<C::BM, BN, NI, MASKED>(a, info, iv, bar + C::B_IFULL, bar + C::B_IEMPTY, ntiles, nqb, order,
                                                     warp, lane);
    } else if (lane == 0) {
      /* the TMA thread: every tile's first K, V, Kd, Vd stage, then its Q and Qd (buffer kq % NQB, once the
         consumers released its previous tile's), then its other blocks (the stage ring, CTA-wide count gi) */
      uint32_t gi = 0;
      int kq = 0; /* tiles with key blocks so far (their Q buffers) */
      for (int k = 0;; ++k) {
        const int e = k % NI;
        mbar_wait(bar + C::B_IFULL + 8 * e, (uint32_t)((k / NI) & 1));
        /* 32-bit copies of the tile's description (the producer has 24 registers) */
        const int nblk = info[e].nblk, m0 = (int)info[e].m0, h = info[e].h, b = info[e].b, kb = info[e].jb0 * BN;
        if (nblk < 0) break;
        mbar_arrive(bar + C::B_IEMPTY + 8 * e);
        if (nblk == 0) continue;
        const int hk = h / (int)(p.Hq / p.Hkv);
        for (int i = 0; i < nblk; ++i, ++gi) {
          const uint32_t st = gi % ST, ph = (gi / ST) & 1u, dst = sKV + st * C::STAGE_BYTES;
          if (gi >= ST) mbar_wait(bar + C::B_EMPTY + 8 * st, ph ^ 1u); /* the consumers released the stage */
          mbar_arrive_expect_tx(bar + C::B_FULL + 8 * st, C::STAGE_BYTES);
#pragma unroll
          for (int part = 0; part < 4; ++part) {
            /* the stage's parts K, V, Kd, Vd (a constant map address a part: no array of pointers in registers) */
            const CUtensorMap *map = part == 0 ? &tm.k : part == 1 ? &tm.v : part == 2 ? &tm.kd : &tm.vd;
#pragma unroll
            for (int hh = 0; hh < NH; ++hh)
              tma_load_4d(dst + (part * NH + hh) * F::HALF_K, map, bar + C::B_FULL + 8 * st, hh * 64, kb + i * BN,
                          hk, b);
          }
          if (i == 0) {
            /* Q and Qd into buffer qb, free once the consumers' last S and Sd of its previous tile have landed */
            const int qb = kq % NQB;
            const uint32_t sq = sbase + (uint32_t)qb * C::QB_BYTES, qfull = bar + C::B_QFULL + 8 * qb;
            if (kq >= NQB) mbar_wait(bar + C::B_QEMPTY + 8 * qb, (uint32_t)(((kq / NQB) & 1) ^ 1));
            mbar_arrive_expect_tx(qfull, C::QB_BYTES);
#pragma unroll
            for (int hh = 0; hh < NH; ++hh) {
              tma_load_4d(sq + hh * F::HALF_Q, &tm.q, qfull, hh * 64, m0, h, b);
              tma_load_4d(sq + C::Q_BYTES + hh * F::HALF_Q, &tm.qd, qfull, hh * 64, m0, h, b);
            }
            ++kq;
          }
        }
      }
    }
  } else {
    /* consumer warpgroups: 64 rows each, 16 per warp (fwd.cuh's JVP loop per tile) */
    if constexpr (MASKED) asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n" ::: "memory");
    else asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\n" ::: "memory");
    const int cw = warp - 4, wg = cw >> 2;
    const int wrow = wg * 64 + (cw & 3) * 16; /* CTA-local first row of this warp */
    const int g = lane >> 2, t4 = lane & 3;
    const uint32_t qrow = (uint32_t)wg * 64 * 128; /* this warpgroup's rows inside a Q half */
    float o[1][DT][4], u[1][DT][4];
    float mrow[1][2], lrow[1][2], nrow[1][2], crow[1][2];
    float s[1][NT][4], sd[1][NT][4];
    uint32_t ap[BN / 16][4], apd[BN / 16][4];
    uint64_t dw[1][2][NT > 8 ? NT / 8 : 1];
    if (wg == 1) named_bar_arrive(1, 256); /* warpgroup 0 takes the tensor cores first (once) */
    uint32_t gi = 0; /* the CTA-wide key block count: block i of a tile is gi + i */
    int kq = 0;      /* tiles with key blocks so far (Q buffer kq % NQB) */
    for (int k = 0;; ++k) {
      const int e = k % NI;
      mbar_wait(bar + C::B_IFULL + 8 * e, (uint32_t)((k / NI) & 1));
      const int nlive = info[e].nblk;
      if (nlive < 0) break;
      /* 32-bit copies of the tile's description (the family takes Nq < 2^31; registers: the accumulators take most) */
      const int m0 = (int)info[e].m0, b = info[e].b, h = info[e].h;
      const int jb0 = info[e].jb0, kin_lo = info[e].kin_lo, kin_hi = info[e].kin_hi;
      const int *s_lo = iv + 2 * C::BM * e, *s_hi = s_lo + C::BM;
      const int qb = kq % NQB;
      const uint32_t sQ = sbase + (uint32_t)qb * C::QB_BYTES, sQd = sQ + C::Q_BYTES;
      const uint32_t g0 = gi;
      fwd_init_state<1, DT, true>(o, u, mrow, lrow, nrow, crow);

      if (nlive > 0) mbar_wait(bar + C::B_QFULL + 8 * qb, (uint32_t)((kq / NQB) & 1));
      for (int i = 0; i < nlive; ++i) {
        const uint32_t gk = g0 + (uint32_t)i, st = gk % ST;
        /* S and Sd of block i in this consumer's turn (ping-pong) */
        mbar_wait(bar + C::B_FULL + 8 * st, (gk / ST) & 1u);
        named_bar_sync(1 + wg, 256);
        wg_fence();
        mma_scores<T, D, BN, true, ST, false>(s, sd, sQ, sQd, qrow, sKV + st * C::STAGE_BYTES);
        wg_commit();
        named_bar_arrive(2 - wg, 256); /* every issue, the tile's last too (the ping-pong carries over) */
        /* the block's mask and this lane's rows' bits while the scores are computed */
        const BlockMask bm = persist_block_bits<BN, MASKED, NT>(a, m0, (int64_t)(jb0 + i) * BN, kin_lo, kin_hi, s_lo,
                                                                s_hi, wrow, g, t4, dw);
        wg_wait<0>();
        wg_reg_fence<NT * 4>(&s[0][0][0]);
        wg_reg_fence<NT * 4>(&sd[0][0][0]);
        if (i == nlive - 1) {
          /* this warp's last S and Sd of the tile have landed: its Q buffer may take the next tile's */
          __syncwarp();
          if (lane == 0) mbar_arrive(bar + C::B_QEMPTY + 8 * qb);
        }
        /* LEAN (softmax.cuh) as fwd.cuh's JVP: unmasked only (the masked kernels spill with it) */
        fwd_softmax_block<1, NT, DT, true, MASKED, true, MASKED, 0, MPASS, !MASKED>(
            a, bm, b, h, m0, wrow, g, t4, s_lo, s_hi, s, sd, o, u, mrow, lrow, nrow, crow, dw);
        fwd_pack_p<T, BN, true>(s, sd, ap, apd); /* P and P (Sd - c), the A fragments of P V */
        wg_reg_fence<DT * 4>(&o[0][0][0]);
        wg_reg_fence<DT * 4>(&u[0][0][0]);
        wg_fence();
        mma_pv<T, D, DA, BN, true, ST, false>(o, u, ap, apd, sKV + st * C::STAGE_BYTES, 0);
        wg_commit();
        wg_wait<0>(); /* this block's P V */
        wg_reg_fence<DT * 4>(&o[0][0][0]);
        wg_reg_fence<DT * 4>(&u[0][0][0]);
        __syncwarp();
        if (lane == 0) mbar_arrive(bar + C::B_EMPTY + 8 * st); /* this warp is done with block i's stage */
      }
      if (nlive > 0) {
        gi += (uint32_t)nlive;
        ++kq;
      }
      /* the ring entry (the rows' intervals read by block_bits) back to warps 1..3 */
      __syncwarp();
      if (lane == 0) mbar_arrive(bar + C::B_IEMPTY + 8 * e);
      fwd_epilogue<T, 1, DT, true>(a, b, h, m0 + wrow, g, t4, o, u, mrow, lrow, nrow, crow);
    }
    if (wg == 0) named_bar_sync(1, 256); /* warpgroup 1's arrival after its last issue */
  }
#endif
}

/* Launches the persistent JVP at BN keys a block and ST stages (sm90_fwd_variant: row 0's unmasked tiles, or its
   masked ones with MASKED): persist_shape's CTAs and order. */
template <typename T, int D, int DA, int BN, int ST, bool MASKED, bool MPASS>
static jfa_status_t launch_jvp_persist_sm90a(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st) {
  typedef Sm90JvpPersist<D, BN, ST> C;
  static_assert(C::SMEM <= 232448, "shared memory beyond the sm_90 opt-in limit");
  const int64_t nqb = (a.p.Nq + C::BM - 1) / C::BM, ntiles = nqb * a.p.Hq * a.p.B;
  if (ntiles <= 0) return JFA_SUCCESS;
  Sm90Maps tm;
  JFA_CHECK(sm90_fwd_maps(&tm, t, C::BM, BN, true));
  auto kern = jvp_persist_sm90a_kernel<T, D, DA, BN, ST, MASKED, MPASS>;
  JFA_CHECK(smem_optin(kern, C::SMEM));
  int64_t grid = 0;
  int order = 0;
  JFA_CHECK(persist_shape(a, ntiles, &grid, &order));
  kern<<<(unsigned)grid, C::NTHREADS, C::SMEM, st>>>(a, tm, ntiles, nqb, order);
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

#endif /* JFA_KERNELS_SM90_JVP_PERSIST_CUH_ */
