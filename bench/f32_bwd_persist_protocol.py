#!/usr/bin/env python3
"""f32_bwd_persist_protocol.py - a model of the synchronisation of the persistent sm90 float32 backward
(src/kernels/sm90/bwd_f32.cuh, PERSIST; tiles.h kSm90BwdF32Persist), one CTA walking a list of tiles: its
mbarriers (phases, parity waits, transaction bytes completed later by TMA), the consumers' named barrier 3, the
TMA reduce-adds that read a consumer's dS planes until its issuer waits for them, and the roles as generators (the
producer warp, the converters, the two consumer warpgroups) stepped in random interleavings. Checks, for random lists
of tiles (0 to 7 query blocks each, zeros included): no deadlock; every K / V split and every block's products read
the K / V of their tile; every conversion and every block read the stage holding that block; no TMA write into K / V
or a stage that a role still holds; no consumer writes its dS planes while a reduce-add still reads them; the dK / dV
handoff reads the other consumer's plane while it holds that consumer's sum of the same tile. It models the code as
written (keep them in step), not the arithmetic (the GPU tests test_gpu_*_tune_persist do). Written without a GPU
(2026-12-03, fifteenth session) to check the protocol before the kernel first runs.

    python3 bench/f32_bwd_persist_protocol.py [runs]
"""
import random
import sys

ST = 2


class MBar:
    def __init__(s, name, count):
        s.name, s.count, s.pending, s.tx, s.phase = name, count, count, 0, 0

    def arrive(s, n=1):
        s.pending -= n
        assert s.pending >= 0, (s.name, "over-arrival")
        s._chk()

    def expect_tx(s, b):
        s.tx += b

    def complete_tx(s, b):
        s.tx -= b
        assert s.tx >= 0, (s.name, "tx")
        s._chk()

    def _chk(s):
        if s.pending == 0 and s.tx == 0:
            s.phase += 1
            s.pending = s.count

    def done(s, parity):  # try_wait.parity: passes unless the current phase has this parity
        return (s.phase & 1) != parity


class Named:  # bar.sync id, 256: the two consumer warpgroups
    def __init__(s):
        s.arr, s.gen = set(), 0

    def arrive(s, wg):
        assert wg not in s.arr, "double arrival in one phase"
        s.arr.add(wg)
        g = s.gen
        if len(s.arr) == 2:
            s.arr, s.gen = set(), s.gen + 1
        return g


def random_tiles(rnd):
    """A CTA's walk: 1 to 7 tiles of 0 to 7 query blocks (zeros included)."""
    return [rnd.choice([0, 1, 1, 2, 3, 4, 5, 7]) for _ in range(rnd.randint(1, 7))]


def step_roles(roles, pending, rnd):
    """Steps the roles (generators) and the pending TMA writes ((barrier, action): the action, then the barrier's
    bytes) in a random interleaving until all are done; fails after 200000 steps (a deadlock). Returns the steps."""
    live = list(range(len(roles)))
    steps = 0
    while live or pending:
        steps += 1
        assert steps < 200000, "no progress (deadlock?)"
        choices = list(live) + (["tma"] if pending else [])
        c = rnd.choice(choices)
        if c == "tma":
            i = rnd.randrange(len(pending))
            bar, action = pending.pop(i)
            action()
            bar.complete_tx(1)
            continue
        try:
            next(roles[c])
        except StopIteration:
            live.remove(c)
    return steps


def run(tiles, seed):
    rnd = random.Random(seed)
    full = [MBar("full%d" % i, 32) for i in range(ST)]
    conv = [MBar("conv%d" % i, 96) for i in range(ST)]
    empty = [MBar("empty%d" % i, 4) for i in range(ST)]
    kv, kvc, kve = MBar("kv", 1), MBar("kvc", 96), MBar("kve", 8)
    nb3 = Named()
    kvreg = [None]  # ('raw' | 'split', tile)
    stage = [None] * ST  # ('raw' | 'conv', tile, it)
    ds = [None, None]  # a consumer's dS planes: ('ds' | 'dq', tile, it) or ('hand', tile, wg)
    reduces = [[], []]  # per consumer: pending reduce-adds, each the dS contents it reads
    held = {"kv": set(), 0: set(), 1: set()}  # K / V and the stages: roles reading them
    pending = []  # TMA writes: (barrier, action)

    def tma_write(bar, action):
        pending.append((bar, action))

    def wait(cond):
        while not cond():
            yield

    def producer():
        G = tk = 0
        for k, n in enumerate(tiles):
            if n > 0:
                if tk > 0:
                    yield from wait(lambda: kve.done((tk - 1) & 1))
                kv.expect_tx(1)  # arrive.expect_tx by lane 0
                kv.arrive()

                def load_kv(k=k):
                    assert not held["kv"], ("TMA into K / V held by", held["kv"])
                    kvreg[0] = ("raw", k)
                tma_write(kv, load_kv)
                for it in range(n):
                    gi = G + it
                    st, use = gi % ST, gi // ST
                    if use > 0:
                        yield from wait(lambda: empty[st].done((use - 1) & 1))
                    full[st].expect_tx(1)

                    def load_stage(st=st, k=k, it=it):
                        assert not held[st], ("TMA into stage %d held by" % st, held[st])
                        stage[st] = ("raw", k, it)
                    tma_write(full[st], load_stage)
                    full[st].arrive(32)
                    yield
            G += n
            tk += 1 if n > 0 else 0

    def converters():
        G = tk = 0
        for k, n in enumerate(tiles):
            if n > 0:
                yield from wait(lambda: kv.done(tk & 1))
                assert kvreg[0] == ("raw", k), ("split", kvreg[0], k)
                assert not held["kv"], ("split of K / V held by", held["kv"])
                kvreg[0] = ("split", k)
                kvc.arrive(96)
                for it in range(n):
                    gi = G + it
                    st = gi % ST
                    yield from wait(lambda: full[st].done((gi // ST) & 1))
                    assert stage[st] == ("raw", k, it), ("convert", st, stage[st], k, it)
                    held[st].add("conv")
                    yield
                    stage[st] = ("conv", k, it)
                    held[st].discard("conv")
                    conv[st].arrive(96)
            G += n
            tk += 1 if n > 0 else 0

    def bulk_wait_read(wg):
        for r in reduces[wg]:
            assert ds[wg] == r, ("reduce-add read overwritten dS", wg, ds[wg], r)
        reduces[wg].clear()

    def consumer(wg):
        G = tk = 0
        for k, n in enumerate(tiles):
            if n > 0:
                yield from wait(lambda: kv.done(tk & 1))
                yield from wait(lambda: kvc.done(tk & 1))
                assert kvreg[0] == ("split", k), ("consumer K / V", wg, kvreg[0], k)
                held["kv"].add(wg)
            it = wg ^ (G & 1)
            while it < n:
                gi = G + it
                st, use = gi % ST, gi // ST
                assert st == wg
                yield from wait(lambda: full[st].done(use & 1))
                yield from wait(lambda: conv[st].done(use & 1))
                assert stage[st] == ("conv", k, it), ("consumer stage", wg, stage[st], k, it)
                assert kvreg[0] == ("split", k)
                held[st].add(wg)
                yield  # S^T, dP^T, dV, dK products
                bulk_wait_read(wg)  # the issuer, then the warpgroup's named barrier
                ds[wg] = ("ds", k, it)
                yield
                assert stage[st] == ("conv", k, it)
                held[st].discard(wg)
                empty[st].arrive(4)
                yield  # dQ^T products: dS planes and K
                assert ds[wg] == ("ds", k, it) and kvreg[0] == ("split", k)
                ds[wg] = ("dq", k, it)
                reduces[wg].append(ds[wg])
                yield
                it += 2
            if n > 0:
                held["kv"].discard(wg)
                kve.arrive(4)
            bulk_wait_read(wg)  # the issuer's, then the warpgroup's named barrier
            ds[wg] = ("hand", k, wg)
            g = nb3.arrive(wg)
            yield from wait(lambda: nb3.gen > g)
            assert ds[1 - wg] == ("hand", k, 1 - wg), ("handoff read", wg, ds[1 - wg], k)
            yield
            assert ds[1 - wg] == ("hand", k, 1 - wg), ("handoff read", wg, ds[1 - wg], k)
            g = nb3.arrive(wg)
            yield from wait(lambda: nb3.gen > g)
            yield  # dK / dV stores
            G += n
            tk += 1 if n > 0 else 0

    steps = step_roles([producer(), converters(), consumer(0), consumer(1)], pending, rnd)
    for wg in (0, 1):
        bulk_wait_read(wg)
    return steps


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    rnd = random.Random(1)
    for i in range(runs):
        tiles = random_tiles(rnd)
        try:
            run(tiles, i)
        except AssertionError as e:
            print("FAILED run %d tiles %s: %s" % (i, tiles, e))
            return 1
    print("f32_bwd_persist_protocol: %d runs passed" % runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
