#!/usr/bin/env python3
"""persist_protocol.py - a model of the synchronisation of the persistent sm90 forward
(src/kernels/sm90/fwd_persist.cuh, tuning variant 8), one CTA: its mbarriers (phases, parity waits,
transaction bytes completed later by TMA), the ping-pong's named barriers 1 and 2, and the roles as
generators (producer warps 1..3 writing the tile ring, the TMA thread, the two consumer warpgroups),
stepped in random interleavings. Checks, for random lists of tiles (0, 1, 2, 3, 5, 17 key blocks):
no deadlock; every score product reads the Q buffer of its tile and the K stage of its block, every
P V the V stage of its block; no TMA write into a Q buffer or K / V stage a consumer still holds; the
named barriers end without pending arrivals and no warpgroup arrives twice in one phase.
Both forms: variant 8, and variant 9 (XT: a tile's last P V issued in the next tile's first turn, or
alone before a tile without key blocks and at the end); and three consumer warpgroups (NC = 3, tuning
variant 34 at D = 64, without XT: the ping-pong a round robin over named barriers 1..3, pp_next_bar), with and
without CSKIP (each warpgroup's live blocks of a tile, random ranges, empty ones included; the tile's other blocks a
turn without products that releases their stages once they have landed). It models the code as written in
fwd_persist.cuh (keep them in step); it does not model the
arithmetic (the GPU test test_gpu_sm90_variants does). Written without a GPU (2026-12-02 sixth
session) to check the protocol before the kernel first ran.

    python3 bench/persist_protocol.py [runs]
"""
import random, sys
ST, NQB, NI = 2, 2, 4
class MBar:
    def __init__(s, name, count): s.name, s.count, s.pending, s.tx, s.phase = name, count, count, 0, 0
    def arrive(s, n=1):
        s.pending -= n; assert s.pending >= 0, (s.name, 'over-arrival'); s._chk()
    def expect_tx(s, b): s.tx += b; s.arrive()
    def complete_tx(s, b): s.tx -= b; assert s.tx >= 0; s._chk()
    def _chk(s):
        if s.pending == 0 and s.tx == 0: s.phase += 1; s.pending = s.count
    def done(s, parity): return (s.phase & 1) != parity  # the phase of this parity has completed
class Named:
    def __init__(s): s.arr = 0; s.who = set(); s.gen = 0
    def arrive(s, wg):
        assert wg not in s.who, 'double arrival in one phase'; s.who.add(wg); s.arr += 1
        if s.arr == 2: s.arr = 0; s.who = set(); s.gen += 1
def run(tiles, seed, xt, ncw=2, cskip=False):
    rnd = random.Random(seed)
    # CSKIP (NC = 3): each consumer's live blocks [ilo, ihi) of a tile (persist_consumer_blocks), empty ones included
    rr = random.Random(seed + 7919)
    def rng(n):
        a, b = sorted((rr.randint(0, n), rr.randint(0, n)))
        return (a, b) if rr.random() < 0.8 else (a, a)
    ranges = [[rng(n) if cskip else (0, n) for _ in range(ncw)] for n in tiles]
    cw = 4 * ncw  # consumer warps: one arrival each on empty, vempty, qempty (and iempty, with the TMA thread's)
    full = [MBar('full%d' % i, 1) for i in range(ST)]; empty = [MBar('empty%d' % i, cw) for i in range(ST)]
    vfull = [MBar('vfull%d' % i, 1) for i in range(ST)]; vempty = [MBar('vempty%d' % i, cw) for i in range(ST)]
    qfull = [MBar('qfull%d' % i, 1) for i in range(NQB)]; qempty = [MBar('qempty%d' % i, cw) for i in range(NQB)]
    ifull = [MBar('ifull%d' % i, 96) for i in range(NI)]; iempty = [MBar('iempty%d' % i, cw + 1) for i in range(NI)]
    nb = {i: Named() for i in range(1, ncw + 1)}
    def pp_next(wg): return 2 - wg if ncw == 2 else (1 if wg == ncw - 1 else wg + 2)  # fwd.cuh pp_next_bar
    info = [None] * NI
    kstage = [None] * ST; vstage = [None] * ST; qbuf = [None] * NQB  # contents (tile, block) / tile
    pending_tx = []  # (barrier, bytes, action)
    held = {}  # resource -> set of holders
    def hold(r, who): held.setdefault(r, set()).add(who)
    def unhold(r, who): held.get(r, set()).discard(who)
    def W():  # warps 1..3 (one role; 96 arrivals at once)
        k = 0
        while True:
            e = k % NI
            if k >= NI:
                while not iempty[e].done(((k // NI) & 1) ^ 1): yield
            done = k >= len(tiles)
            info[e] = ('tile', k, -1 if done else tiles[k], None if done else ranges[k])
            ifull[e].arrive(96)
            if done: return
            k += 1; yield
    def P():  # the TMA thread
        gi = 0; kq = 0; k = 0
        while True:
            e = k % NI
            while not ifull[e].done((k // NI) & 1): yield
            _, kt, nblk, _ = info[e]; assert kt == k
            if nblk < 0: return
            iempty[e].arrive()
            if nblk == 0: k += 1; continue
            qb = kq & 1
            if kq >= NQB:
                while not qempty[qb].done(((kq >> 1) & 1) ^ 1): yield
            assert not held.get(('q', qb)), ('Q overwritten while held', held.get(('q', qb)))
            qfull[qb].expect_tx(1)
            pending_tx.append((qfull[qb], lambda qb=qb, k=k: qbuf.__setitem__(qb, k)))
            kq += 1
            for i in range(nblk):
                st = gi % ST; ph = (gi // ST) & 1
                if gi >= ST:
                    while not empty[st].done(ph ^ 1): yield
                assert not held.get(('k', st)), ('K overwritten while held', held.get(('k', st)))
                full[st].expect_tx(1)
                pending_tx.append((full[st], lambda st=st, v=gi: kstage.__setitem__(st, v)))
                yield
                if gi >= ST:
                    while not vempty[st].done(ph ^ 1): yield
                assert not held.get(('v', st)), ('V overwritten while held', held.get(('v', st)))
                vfull[st].expect_tx(1)
                pending_tx.append((vfull[st], lambda st=st, v=gi: vstage.__setitem__(st, v)))
                gi += 1; yield
            k += 1
    def Cons(wg):
        me = 'wg%d' % wg
        if wg == ncw - 1: nb[1].arrive(wg)
        gi = 0; kq = 0; k = 0; pend = False; pgl = 0
        def lastpv():  # a tile's last P V alone (variant 8; variant 9's flush)
            sp = pgl % ST
            while not vfull[sp].done((pgl // ST) & 1): yield
            assert vstage[sp] == pgl, ('V', vstage[sp], pgl); hold(('v', sp), me); yield
            unhold(('v', sp), me); vempty[sp].arrive(4)
        while True:
            e = k % NI
            while not ifull[e].done((k // NI) & 1): yield
            _, kt, nlive, crange = info[e]; assert kt == k
            if xt and pend and nlive <= 0:
                yield from lastpv(); pend = False
            if nlive < 0: break
            g0 = gi; q = kq & 1
            def issue(i, pv):
                gk = g0 + i; st = gk % ST; sp = (gk + ST - 1) % ST
                while not full[st].done((gk // ST) & 1): yield
                if pv:
                    while not vfull[sp].done(((gk - 1) // ST) & 1): yield
                # named_bar_sync(1 + wg): arrive then wait for the phase
                b = nb[1 + wg]; gen = b.gen; b.arrive(wg)
                while b.gen == gen: yield
                assert qbuf[q] == k, ('Q', qbuf[q], k)
                assert kstage[st] == gk, ('K', kstage[st], gk)
                hold(('k', st), me); hold(('q', q), me)
                if pv:
                    assert vstage[sp] == gk - 1, ('V', vstage[sp], gk - 1); hold(('v', sp), me)
                nb[pp_next(wg)].arrive(wg)
                yield
            def softmax(i):
                st = (g0 + i) % ST
                unhold(('k', st), me); empty[st].arrive(4)
                if i == nlive - 1:
                    unhold(('q', q), me); qempty[q].arrive(4); iempty[e].arrive(4)
                yield
            def skip_turn(i):  # CSKIP: a block masked for all of this warpgroup's rows: the turn, the releases
                gk = g0 + i; st = gk % ST
                while not full[st].done((gk // ST) & 1): yield
                assert kstage[st] == gk, ('K', kstage[st], gk)
                b = nb[1 + wg]; gen = b.gen; b.arrive(wg)
                while b.gen == gen: yield
                nb[pp_next(wg)].arrive(wg)
                while not vfull[st].done((gk // ST) & 1): yield
                assert vstage[st] == gk, ('V', vstage[st], gk)
                empty[st].arrive(4); vempty[st].arrive(4)
                if i == nlive - 1:
                    unhold(('q', q), me); qempty[q].arrive(4); iempty[e].arrive(4)
                yield
            if nlive > 0 and ncw == 3:  # NC = 3: fwd_persist.cuh's CSKIP loop (JFA_SM90_FWD_CSKIP=0: [0, nlive))
                while not qfull[q].done((kq >> 1) & 1): yield
                ilo, ihi = crange[wg]
                for i in range(ilo): yield from skip_turn(i)
                if ilo < ihi:
                    yield from issue(ilo, False); yield from softmax(ilo)
                    for i in range(ilo + 1, ihi):
                        yield from issue(i, True); yield from softmax(i)
                        sp = (g0 + i - 1) % ST; unhold(('v', sp), me); vempty[sp].arrive(4); yield
                    pgl = g0 + ihi - 1
                    yield from lastpv()
                for i in range(ihi, nlive): yield from skip_turn(i)
                gi += nlive; kq += 1
            elif nlive > 0:
                while not qfull[q].done((kq >> 1) & 1): yield
                if xt and pend:  # S(0) with the pending tile's last P V in one turn
                    assert pgl == g0 - 1
                    yield from issue(0, True); yield from softmax(0)
                    sp = pgl % ST; unhold(('v', sp), me); vempty[sp].arrive(4); pend = False; yield
                else:
                    yield from issue(0, False); yield from softmax(0)
                for i in range(1, nlive):
                    yield from issue(i, True); yield from softmax(i)
                    sp = (g0 + i - 1) % ST; unhold(('v', sp), me); vempty[sp].arrive(4); yield
                pgl = g0 + nlive - 1
                if xt: pend = True
                else: yield from lastpv()
                gi += nlive; kq += 1
            else:
                iempty[e].arrive(4)
            k += 1; yield
        if wg == 0:
            b = nb[1]; gen = b.gen; b.arrive(0)
            while b.gen == gen: yield
    bars = full + empty + vfull + vempty + qfull + qempty + ifull + iempty
    roles = {'W': W(), 'P': P()}
    roles.update({'C%d' % w: Cons(w) for w in range(ncw)})
    alive = dict(roles); stall = 0
    while alive or pending_tx:
        acts = list(alive.keys()) + (['tx'] if pending_tx else [])
        a = rnd.choice(acts)
        if a == 'tx':
            j = rnd.randrange(len(pending_tx)); bar, act = pending_tx.pop(j); act(); bar.complete_tx(1); stall = 0
            continue
        sig = lambda: (tuple((m.phase, m.pending, m.tx) for m in bars), tuple((b.gen, b.arr) for b in nb.values()),
                       len(pending_tx), len(alive), tuple(info))
        s0 = sig()
        try: next(alive[a])
        except StopIteration: del alive[a]
        stall = 0 if sig() != s0 else stall + 1
        if stall > 20000: raise RuntimeError('deadlock: alive %s' % list(alive))
    assert all(b.arr == 0 for b in nb.values()), 'named barrier left with arrivals'
    return True
if __name__ == '__main__':  # (bench/jvp_persist_protocol.py imports MBar and Named)
    n = 0
    for seed in range(int(sys.argv[1]) if len(sys.argv) > 1 else 300):
        r = random.Random(seed)
        T = r.randint(1, 14)
        tiles = [r.choice([0, 1, 1, 2, 3, 5, 17]) for _ in range(T)]
        run(tiles, seed, False); run(tiles, seed, True); run(tiles, seed, False, 3); run(tiles, seed, False, 3, True)
        n += 4
    print('ok', n, 'runs')
