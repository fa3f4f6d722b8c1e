#!/usr/bin/env python3
"""bwd_persist_protocol.py - a model of the synchronisation of the persistent sm90 16-bit backward
(src/kernels/sm90/bwd.cuh, PERSIST: the unmasked kernel of two consumer warpgroups; tiles.h kSm90BwdPersist), one
CTA walking a list of tiles: its mbarriers (phases, parity waits, transaction bytes completed later by TMA: full,
empty, kv, kve), the named barriers (1: both consumers after writing a block's dS under SPLITO; 7: the epilogue), the
dS buffers (two per consumer, read by the dQ products of one consumer (TMAO, D = 64) or of both (SPLITO, D = 96 /
128)), the dQ staging buffers read by TMA reduce-adds until their issuer waits for them, and the epilogue's dK / dV
tiles written over the dS and staging buffers (16-bit: one pass, or dK then dV at D = 128; float32 in accumulate mode:
one, two, or four passes of one consumer's 64 keys at D = 128, written by that consumer). Roles as generators (the
producer warp, the two consumer warpgroups) stepped in random interleavings.

Checks, for random lists of tiles (0 to 7 query blocks each, zeros included), in both dQ orders and the three epilogue
forms: no deadlock; every block's products read the K / V of their tile and the stage holding that block; no TMA
write into K / V or a stage that a consumer still holds; no dS write while a dQ product still reads that buffer; the
dQ products read the dS of their own block (both consumers' under SPLITO); no staging write while a reduce-add still
reads it, and every reduce-add reads the block it was issued for; the epilogue's tiles are written only when no dS
or staging read is in flight, read back intact, and not overwritten by the next tile's dS or staging before both
consumers have read them. It models the code as written (keep them in step), not the arithmetic (the GPU tests
test_gpu_*_bwdpersist do). Written without a GPU (2026-12-04, twenty-eighth session) to check the protocol before
the kernel first runs.

    python3 bench/bwd_persist_protocol.py [runs]
"""
import random
import sys

# the same mbarrier and named-barrier semantics, the same random stepping of the roles
from f32_bwd_persist_protocol import ST, MBar, Named, random_tiles, step_roles


def run(tiles, seed, split, passes):
    rnd = random.Random(seed)
    full = [MBar("full%d" % i, 32) for i in range(ST)]
    empty = [MBar("empty%d" % i, 8) for i in range(ST)]
    kv, kve = MBar("kv", 1), MBar("kve", 8)
    nb1, nb7 = Named(), Named()
    kvreg = [None]  # the tile whose K / V the buffers hold
    stage = [None] * ST  # (tile, it)
    held = {"kv": set(), 0: set(), 1: set()}  # K / V and the stages: consumers reading them
    ds = [[None, None], [None, None]]  # ds[wg][buffer]: (tile, it) or "epi"
    ds_readers = [[set(), set()], [set(), set()]]  # consumers whose dQ products read the buffer
    stg = [None, None]  # dQ staging of each consumer: (tile, it, half) or "epi"
    reduces = [[], []]  # per consumer: the staging contents its pending reduce-adds read
    epi = {"tile": None, "readers": set()}  # the epilogue's tiles over the dS and staging buffers
    pending = []  # TMA writes: (barrier, action)

    def wait(cond):
        while not cond():
            yield

    def producer():
        st = gw = 0
        ph = 0
        tk = 0
        for k, n in enumerate(tiles):
            if n == 0:
                continue
            for it in range(n):
                if gw + it >= ST:
                    yield from wait(lambda: empty[st].done(ph ^ 1))
                full[st].expect_tx(1)

                def load_stage(st=st, k=k, it=it):
                    assert not held[st], ("TMA into stage %d held by" % st, held[st])
                    stage[st] = (k, it)
                pending.append((full[st], load_stage))
                yield  # the stats' loads and writes
                assert not held[st], ("stats into stage %d held by" % st, held[st])
                full[st].arrive(32)
                if it == 0:  # the tile's K / V after its first block's stage
                    if tk > 0:
                        yield from wait(lambda: kve.done((tk - 1) & 1))
                    kv.expect_tx(1)  # arrive.expect_tx by lane 0
                    kv.arrive()

                    def load_kv(k=k):
                        assert not held["kv"], ("TMA into K / V held by", held["kv"])
                        kvreg[0] = k
                    pending.append((kv, load_kv))
                st += 1
                if st == ST:
                    st, ph = 0, ph ^ 1
            gw = min(ST, gw + n)
            tk += 1

    def bulk_wait_read(wg):
        for r in reduces[wg]:
            assert stg[wg] == r, ("reduce-add read overwritten staging", wg, stg[wg], r)
        reduces[wg].clear()

    def stage_dq(wg, val):  # sm90_dq_reduce: the issuer's bulk_wait_read, the warpgroup's barrier, the writes
        bulk_wait_read(wg)
        assert not epi["readers"], ("staging write over the epilogue's tiles", wg, epi)
        stg[wg] = val
        reduces[wg].append(val)

    def consumer(wg):
        st = dsb = 0
        ph = 0
        tk = 0
        for k, n in enumerate(tiles):
            if n > 0:
                yield from wait(lambda: kv.done(tk & 1))
                assert kvreg[0] == k, ("consumer K / V", wg, kvreg[0], k)
                held["kv"].add(wg)
            for it in range(n):
                yield from wait(lambda: full[st].done(ph))
                assert stage[st] == (k, it), ("consumer stage", wg, st, stage[st], k, it)
                held[st].add(wg)
                yield  # S^T, dP^T (K, V, Q, dO), dV issued
                assert kvreg[0] == k and stage[st] == (k, it)
                # dS written (stmatrix) into this consumer's buffer dsb
                assert not ds_readers[wg][dsb], ("dS write while its dQ products read it", wg, dsb, ds_readers[wg][dsb])
                assert not epi["readers"], ("dS write over the epilogue's tiles", wg, epi)
                ds[wg][dsb] = (k, it)
                yield
                if split:  # both consumers read both buffers dsb
                    g = nb1.arrive(wg)
                    yield from wait(lambda: nb1.gen > g)
                    srcs = [(0, dsb), (1, dsb)]
                else:
                    srcs = [(wg, dsb)]
                for (w, b) in srcs:
                    ds_readers[w][b].add(wg)
                # dQ's products (dS, K; dK's, dS and Q, issued after the first), each staged and reduce-added once done
                # (TMAO at D = 64: two halves of 64 rows, the second's products issued once the first is staged)
                nh = 1 if split else 2
                for half in range(nh):
                    yield
                    for (w, b) in srcs:
                        assert ds[w][b] == (k, it), ("dQ products read dS", wg, w, b, ds[w][b], k, it)
                    assert kvreg[0] == k
                    if half == nh - 1:
                        for (w, b) in srcs:
                            ds_readers[w][b].discard(wg)
                    stage_dq(wg, (k, it, half))
                    yield
                dsb ^= 1
                yield  # wg_wait<0>: dK's products (Q) done
                assert stage[st] == (k, it)
                held[st].discard(wg)
                empty[st].arrive(4)
                st += 1
                if st == ST:
                    st, ph = 0, ph ^ 1
            if n > 0:
                held["kv"].discard(wg)
                kve.arrive(4)
            bulk_wait_read(wg)  # the issuer's
            # the epilogue: barrier 7, the tiles written (in a pass of one consumer's keys, by that consumer only),
            # barrier 7, read (stored) by both, per pass; barrier 7
            for ps in range(passes):
                g = nb7.arrive(wg)
                yield from wait(lambda: nb7.gen > g)
                for w in (0, 1):
                    assert not reduces[w], ("epilogue over a staging buffer a reduce-add reads", w, reduces[w])
                    for b in (0, 1):
                        assert not ds_readers[w][b], ("epilogue over a dS buffer being read", w, b)
                assert not epi["readers"], ("epilogue write while its tiles are read", wg, epi)
                if passes < 4 or ps % 2 == wg:
                    epi["tile"] = (k, ps)
                    for w in (0, 1):
                        ds[w] = ["epi", "epi"]
                        stg[w] = "epi"
                yield
                g = nb7.arrive(wg)
                yield from wait(lambda: nb7.gen > g)
                epi["readers"].add(wg)
                yield  # tile_store16
                assert epi["tile"] == (k, ps), ("epilogue tiles overwritten", wg, epi["tile"], k, ps)
                epi["readers"].discard(wg)
            g = nb7.arrive(wg)
            yield from wait(lambda: nb7.gen > g)
            if n > 0:
                tk += 1

    steps = step_roles([producer(), consumer(0), consumer(1)], pending, rnd)
    for wg in (0, 1):
        bulk_wait_read(wg)
    return steps


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    rnd = random.Random(1)
    for i in range(runs):
        tiles = random_tiles(rnd)
        for split in (False, True):
            for passes in (1, 2, 4):
                try:
                    run(tiles, i * 8 + 4 * split + passes, split, passes)
                except AssertionError as e:
                    print("FAILED run %d tiles %s split %d passes %d: %s" % (i, tiles, split, passes, e))
                    return 1
    print("bwd_persist_protocol: %d runs passed (x 2 dQ orders x 3 epilogues)" % runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
