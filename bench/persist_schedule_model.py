#!/usr/bin/env python3
"""persist_schedule_model.py - the makespan of the persistent sm90 16-bit backward's tile walk (bwd.cuh PERSIST),
against the busiest CTA's ideal, for causal calls: its static snake (round r of G CTAs: CTA c takes tile r G + c, or
r G + G - 1 - c in odd rounds) over bwd_cta_of's order (cta_order.h cta_grouped_of: groups of hg (kv head, batch)
pairs, key tiles x outer and longest first within a group, hg from causal_group_pairs' L2 budget), and a dynamic
walk over the same order (the next tile to the CTA that finishes first, as the hardware's block scheduler gives
the non-persistent kernel). A tile of key tile x costs its causal query blocks (nx - x) plus a fixed cost c blocks.

The snake balances a list sorted longest first; the group-major order is a sawtooth (one tooth a group of hg x nx
tiles), so the snake gives some CTAs the long tiles of every group. Written in the thirtieth session (2026-12-05)
after ncu of the D = 64 causal 8 x 2048 backward (bench/RESULTS.md): SM active cycles 67% of the elapsed against
98% for the non-persistent kernel; this model gives 1.43-1.46x the mean for that shape.

    python3 bench/persist_schedule_model.py
"""
import heapq

BUDGET = 24 << 20  # cta_order.h CTA_GROUP_BUDGET


def group_pairs(pair_bytes, npairs):
    g = min(BUDGET // pair_bytes if pair_bytes > 0 else npairs, npairs)
    while g > 1 and npairs % g:
        g -= 1
    return max(g, 1)


def tile_lengths(B, H, N, D, BN, BM):
    """Causal query blocks of each tile in bwd_cta_of's order (16-bit: Q, dO, dQ accumulators 8 bytes a row and
    column)."""
    npairs, nx = B * H, (N + BN - 1) // BN
    hg = group_pairs(N * D * 8, npairs)
    nqb = (N + BM - 1) // BM
    out = []
    for L in range(npairs * nx):
        per, g0, r = nx * hg, L // (nx * hg) * hg, L % (nx * hg)
        gc = min(hg, npairs - g0)
        x = r // gc
        out.append(nqb - x * BN // BM)
    return out


def snake(ts, G, c):
    w = [0.0] * G
    for i, t in enumerate(ts):
        r, k = divmod(i, G)
        w[k if r % 2 == 0 else G - 1 - k] += t + c
    return max(w)


def dynamic(ts, G, c):
    h = [(0.0, i) for i in range(G)]
    for t in ts:
        f, i = heapq.heappop(h)
        heapq.heappush(h, (f + t + c, i))
    return max(f for f, _ in h)


def main():
    G = 132
    print("| shape (causal) | hg | snake / mean | dynamic / mean |")
    print("|---|---|---|---|")
    for B, H, N, D in ((16, 32, 1024, 64), (8, 32, 2048, 64), (4, 32, 4096, 64), (1, 32, 16384, 64),
                       (8, 16, 2048, 128), (1, 16, 16384, 128)):
        ts = tile_lengths(B, H, N, D, 128, 128 if D == 64 else 64)
        c = 1.0
        mean = sum(t + c for t in ts) / G
        hg = group_pairs(N * D * 8, B * H)
        print("| %d x %d, D = %d | %d | %.3f | %.3f |" % (B, N, D, hg, snake(ts, G, c) / mean, dynamic(ts, G, c) / mean))


if __name__ == "__main__":
    main()
