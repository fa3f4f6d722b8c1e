#!/usr/bin/env python3
"""jvp_persist_protocol.py - a model of the synchronisation of the persistent sm90 JVP
(src/kernels/sm90/jvp_persist.cuh), one CTA: its mbarriers (phases, parity waits, transaction bytes completed
later by TMA; persist_protocol.py's MBar), the ping-pong's named barriers 1 and 2, and the roles as generators
(producer warps 1..3 writing the tile ring, the TMA thread, the two consumer warpgroups), stepped in random
interleavings. Checks, for random lists of tiles (0, 1, 2, 3, 5, 17 key blocks), stage counts ST in {2, 3} and
Q buffer counts NQB in {1, 2}: no deadlock; every score product reads the Q buffer of its tile and the stage of
its block, every P V the stage of its block; no TMA write into a Q buffer or a stage a consumer still holds; the
named barriers end without pending arrivals and no warpgroup arrives twice in one phase. It models the code as
written (the TMA thread's first stage of a tile before its Q and Qd; the consumers' Q release after their last
score products of the tile, the stage's after the block's P V, the ring entry's after the tile's last block);
keep them in step. It does not model the arithmetic (the GPU suites do).

    python3 bench/jvp_persist_protocol.py [runs]
"""
import random
import sys

from persist_protocol import MBar, Named

NI = 4


def run(tiles, seed, ST, NQB):
    rnd = random.Random(seed)
    full = [MBar('full%d' % i, 1) for i in range(ST)]
    empty = [MBar('empty%d' % i, 8) for i in range(ST)]
    qfull = [MBar('qfull%d' % i, 1) for i in range(NQB)]
    qempty = [MBar('qempty%d' % i, 8) for i in range(NQB)]
    ifull = [MBar('ifull%d' % i, 96) for i in range(NI)]
    iempty = [MBar('iempty%d' % i, 9) for i in range(NI)]
    nb = {1: Named(), 2: Named()}
    info = [None] * NI
    stage = [None] * ST
    qbuf = [None] * NQB  # contents: global block / tile
    pending_tx = []  # (barrier, action)
    held = {}

    def hold(r, who):
        held.setdefault(r, set()).add(who)

    def unhold(r, who):
        held.get(r, set()).discard(who)

    def W():  # warps 1..3 (persist_describe_tiles; one role, 96 arrivals at once)
        k = 0
        while True:
            e = k % NI
            if k >= NI:
                while not iempty[e].done(((k // NI) & 1) ^ 1):
                    yield
            done = k >= len(tiles)
            info[e] = ('tile', k, -1 if done else tiles[k])
            ifull[e].arrive(96)
            if done:
                return
            k += 1
            yield

    def P():  # the TMA thread
        gi = 0
        kq = 0
        k = 0
        while True:
            e = k % NI
            while not ifull[e].done((k // NI) & 1):
                yield
            _, kt, nblk = info[e]
            assert kt == k
            if nblk < 0:
                return
            iempty[e].arrive()
            k += 1
            if nblk == 0:
                continue
            for i in range(nblk):
                st = gi % ST
                ph = (gi // ST) & 1
                if gi >= ST:
                    while not empty[st].done(ph ^ 1):
                        yield
                assert not held.get(('s', st)), ('stage overwritten while held', held.get(('s', st)))
                full[st].expect_tx(1)
                pending_tx.append((full[st], lambda st=st, v=gi: stage.__setitem__(st, v)))
                yield
                if i == 0:
                    qb = kq % NQB
                    if kq >= NQB:
                        while not qempty[qb].done(((kq // NQB) & 1) ^ 1):
                            yield
                    assert not held.get(('q', qb)), ('Q overwritten while held', held.get(('q', qb)))
                    qfull[qb].expect_tx(1)
                    pending_tx.append((qfull[qb], lambda qb=qb, kt=kt: qbuf.__setitem__(qb, kt)))
                    kq += 1
                    yield
                gi += 1

    def Cons(wg):
        me = 'wg%d' % wg
        if wg == 1:
            nb[1].arrive(1)
        gi = 0
        kq = 0
        k = 0
        while True:
            e = k % NI
            while not ifull[e].done((k // NI) & 1):
                yield
            _, kt, nlive = info[e]
            assert kt == k
            if nlive < 0:
                break
            qb = kq % NQB
            g0 = gi
            if nlive > 0:
                while not qfull[qb].done((kq // NQB) & 1):
                    yield
            for i in range(nlive):
                gk = g0 + i
                st = gk % ST
                while not full[st].done((gk // ST) & 1):
                    yield
                b = nb[1 + wg]  # named_bar_sync(1 + wg): arrive, then wait for the phase
                gen = b.gen
                b.arrive(wg)
                while b.gen == gen:
                    yield
                assert qbuf[qb] == k, ('Q', qbuf[qb], k)
                assert stage[st] == gk, ('stage', stage[st], gk)
                hold(('s', st), me)
                hold(('q', qb), me)
                nb[2 - wg].arrive(wg)
                yield  # the score products run; wg_wait
                assert qbuf[qb] == k and stage[st] == gk
                if i == nlive - 1:
                    unhold(('q', qb), me)
                    qempty[qb].arrive(4)
                yield  # the softmax; P V issued against the stage
                assert stage[st] == gk
                yield  # P V waited
                unhold(('s', st), me)
                empty[st].arrive(4)
            if nlive > 0:
                gi += nlive
                kq += 1
            iempty[e].arrive(4)
            yield  # the epilogue
            k += 1
        if wg == 0:
            b = nb[1]
            gen = b.gen
            b.arrive(0)
            while b.gen == gen:
                yield

    bars = full + empty + qfull + qempty + ifull + iempty
    alive = {'W': W(), 'P': P(), 'C0': Cons(0), 'C1': Cons(1)}
    stall = 0
    while alive or pending_tx:
        acts = list(alive.keys()) + (['tx'] if pending_tx else [])
        a = rnd.choice(acts)
        if a == 'tx':
            j = rnd.randrange(len(pending_tx))
            bar, act = pending_tx.pop(j)
            act()
            bar.complete_tx(1)
            stall = 0
            continue

        def sig():
            return (tuple((m.phase, m.pending, m.tx) for m in bars), nb[1].gen, nb[2].gen, nb[1].arr, nb[2].arr,
                    len(pending_tx), len(alive), tuple(info))
        s0 = sig()
        try:
            next(alive[a])
        except StopIteration:
            del alive[a]
        stall = 0 if sig() != s0 else stall + 1
        if stall > 20000:
            raise RuntimeError('deadlock: alive %s, tiles %s, ST %d, NQB %d' % (list(alive), tiles, ST, NQB))
    assert nb[1].arr == 0 and nb[2].arr == 0, 'named barrier left with arrivals'
    return True


if __name__ == '__main__':
    n = 0
    for seed in range(int(sys.argv[1]) if len(sys.argv) > 1 else 300):
        r = random.Random(seed)
        T = r.randint(1, 14)
        tiles = [r.choice([0, 1, 1, 2, 3, 5, 17]) for _ in range(T)]
        for ST, NQB in ((2, 1), (2, 2), (3, 2), (3, 1)):
            run(tiles, seed, ST, NQB)
            n += 1
    print('jvp_persist_protocol: ok', n, 'runs')
