#!/usr/bin/env python3
"""bench_ratio.py - issue 18's rate ratios (a window against plain causal, packed sequences against plain
causal, D = 96 / 192 against their power-of-two neighbours, the dense half mask against no mask, jfa's
D = 256 forward against SDPA's) from interleaved rounds, in one process through jfa.torch.

bench_lanes.py times each lane once, lane after lane: a ratio of two of its rows carries whatever the
GPU's clocks did between them (the thirty-sixth session's H100 run gave plain causal D = 128 forwards of
641 and 580 TFLOP/s in two runs minutes apart, which moves a window / causal ratio by 10%). Here each
round times both sides of every pair back to back (the order alternating round to round), and the
ratio is taken per round: what is printed is the median of the rounds' ratios with their range, beside
each side's median rate (TFLOP/s over the visible area: fwd = 4 B H visible D, JVP 3x, bwd 2.5x, the
backward as time(forward + backward) - time(forward), as bench_lanes).

A case is LIB:DTYPE:D:N:MASK, LIB jfa or sdpa (no JVP), MASK none, causal, window<W> (causal with W keys
to the left), packed<L> (N / L causal sequences of L tokens packed into one row: varlen_attention, B = 1
per sequence group as jfa_bench --varlen) or dense (a random boolean (B, H, N, N) mask keeping half the
keys). A pair is CASE/CASE[@TARGET]; the default pairs are issue 18's. B * N = --tokens, H * D = --width.

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bench_ratio.py [--rounds 7] [--iters 5] \
        [--batch 1] [--pairs 'jfa:bfloat16:128:16384:window2048/jfa:bfloat16:128:16384:causal@0.85,...']
    # on the CPU machine, the script's own check (tiny shapes, CPU clocks; torch 1.13 has no SDPA):
    #   --device cpu --tokens 128 --width 32 --rounds 3 --iters 2 \
    #   --pairs jfa:float32:16:128:window16/jfa:float32:16:128:causal,jfa:float32:16:128:packed32/jfa:float32:16:128:causal
"""
import argparse
import os
import statistics
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402
from bench_lanes import lane_inputs, lib_calls, visible  # noqa: E402
from timing import median_ms  # noqa: E402

OPS = ("fwd", "JVP", "bwd")
MULT = (1.0, 3.0, 2.5)


def _pair(a, b, target):
    return "%s/%s@%s" % (a, b, target)


def default_pairs(n_long, n_short):
    """Issue 18's targets: windows and packed sequences >= 0.85 of plain causal at the same N; D = 96 and 192
    within 0.8 of their neighbours; the dense half mask >= 0.7 of no mask; jfa's D = 256 forward >= 0.8 SDPA's."""
    c = lambda d: "jfa:bfloat16:%d:%d:causal" % (d, n_long)
    u = lambda d, lib="jfa": "%s:bfloat16:%d:%d:none" % (lib, d, n_short)
    out = []
    for d in (128, 64):
        out.append(_pair("jfa:bfloat16:%d:%d:window2048" % (d, n_long), c(d), 0.85))
        out.append(_pair("jfa:bfloat16:%d:%d:packed2048" % (d, n_long), c(d), 0.85))
    out += [_pair(u(96), u(64), 0.8), _pair(u(96), u(128), 0.8), _pair(u(192), u(128), 0.8),
            _pair(u(192), u(256), 0.8), _pair("jfa:bfloat16:128:%d:dense" % n_short, u(128), 0.7),
            _pair(u(256), u(256, "sdpa"), 0.8)]
    return ",".join(out)


class Case:
    """One side of a pair: its inputs (made once, seeded), its calls (forward, JVP, forward + backward) and the
    FLOP of its forward over the visible area."""

    def __init__(self, spec, a, dev):
        lib, dtype, D, N, mask = spec.split(":")
        D, N = int(D), int(N)
        self.spec, self.lib = spec, lib
        packed = mask.startswith("packed")
        if packed:
            L = int(mask[6:])
            if N % L or a.tokens != N:
                raise ValueError("%s: N must be a multiple of the packed length and equal --tokens (one row of "
                                 "sequences: the same tokens a call as the other cases)" % spec)
        B, H, (q, k, v, do, tq, tk, tv), m, causal, window = lane_inputs(
            dtype, D, N, "none" if packed else mask, a.tokens, a.width, a.seed, device=dev)
        if packed:
            cu = torch.arange(0, N + 1, L, dtype=torch.int32)  # host offsets: the host stays ahead
            if lib != "jfa":
                raise ValueError("%s: packed sequences are jfa's lane only" % spec)

            def attend(x, y, z):  # (1, H, N, D) <-> (N, H, D) views of the same storage
                t = lambda w: w.squeeze(0).transpose(0, 1)
                return jt.varlen_attention(t(x), t(y), t(z), cu, is_causal=True).transpose(0, 1).unsqueeze(0)
        elif lib == "jfa":
            def attend(x, y, z):
                return jt.attention(x, y, z, attn_mask=m, is_causal=causal, window=window)
        elif lib == "sdpa":
            if window is not None:
                raise ValueError("%s: SDPA has no window" % spec)

            def attend(x, y, z):
                return F.scaled_dot_product_attention(x, y, z, attn_mask=m, is_causal=causal)
        else:
            raise ValueError("%s: LIB is jfa or sdpa" % spec)
        self.flop = 4.0 * B * H * visible(N, mask, m) * D
        f, fb, j = lib_calls(attend, q, k, v, do, tq, tk, tv)
        self.calls = (f, j if lib == "jfa" else None, fb)
        self.keep = (q, k, v, do, tq, tk, tv, m)

    def time(self, a, cuda):
        """(fwd, JVP, bwd) milliseconds of one round (bwd = forward + backward less the forward)."""
        f, j, fb = (median_ms(fn, a.iters, warmup=a.warmup, batch=a.batch, cuda=cuda) if fn else None
                    for fn in self.calls)
        return f, j, (fb - f if fb is not None and f is not None else None)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", default=None, help="CASE/CASE[@TARGET],... (default: issue 18's)")
    ap.add_argument("--n-long", type=int, default=16384, help="N of the default window / packed / causal pairs")
    ap.add_argument("--n-short", type=int, default=4096, help="N of the default head-dim / dense / SDPA pairs")
    ap.add_argument("--tokens", type=int, default=16384, help="B * N")
    ap.add_argument("--width", type=int, default=2048, help="H * D")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--iters", type=int, default=5, help="timings a side a round (their median)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1, help="calls back to back a timing (1: each call alone)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--varlen-cache", type=int, default=1,
                    help="0: varlen_attention's Config cache off (_api._VARLEN_CACHED_SEQS = -1), for an A / B of it")
    a = ap.parse_args()
    if not a.varlen_cache:
        from jfa.torch import _api
        _api._VARLEN_CACHED_SEQS = -1
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    pairs = []
    for p in (a.pairs or default_pairs(a.n_long, a.n_short)).split(","):
        p, _, target = p.partition("@")
        x, y = p.split("/")
        pairs.append((x, y, float(target) if target else None))
    name = torch.cuda.get_device_name(dev) if cuda else "cpu"
    print("# bench_ratio: torch %s, %s, tokens %d, width %d, %d rounds of %d timings (+%d warm-up) of %d call(s), "
          "seed %d, varlen cache %d" % (torch.__version__, name, a.tokens, a.width, a.rounds, a.iters, a.warmup,
                                        a.batch, a.seed, a.varlen_cache))
    cases = {}
    for x, y, _ in pairs:
        for s in (x, y):
            if s not in cases:
                cases[s] = Case(s, a, dev)
    ratios = {p: [[] for _ in OPS] for p in pairs}
    rates = {s: [[] for _ in OPS] for s in cases}
    for r in range(a.rounds):
        for p in pairs:
            sides = p[:2] if r % 2 == 0 else p[1::-1]
            ms = {s: cases[s].time(a, cuda) for s in sides}
            for i, mult in enumerate(MULT):
                rt = {}
                for s in sides:
                    if ms[s][i] is not None and ms[s][i] > 0:  # a backward of fb - f <= 0 (noise): no rate
                        rt[s] = cases[s].flop * mult / (ms[s][i] * 1e-3) / 1e12
                        rates[s][i].append(rt[s])
                if p[0] in rt and p[1] in rt:
                    ratios[p][i].append(rt[p[0]] / rt[p[1]])
        if cuda:
            torch.cuda.synchronize()
    fmt = lambda xs, f: f % statistics.median(xs) if xs else "-"
    print("| A | B | target | A / B fwd, JVP, bwd: median (min-max of %d rounds) | A TFLOP/s fwd / JVP / bwd | "
          "B TFLOP/s fwd / JVP / bwd |" % a.rounds)
    print("|---|---|---|---|---|---|")
    for p in pairs:
        x, y, target = p
        rs = "; ".join("%s %.3f (%.3f-%.3f)" % (op, statistics.median(xs), min(xs), max(xs)) if xs else "%s -" % op
                       for op, xs in zip(OPS, ratios[p]))
        print("| %s | %s | %s | %s | %s | %s |" % (
            x, y, "-" if target is None else "%.2f" % target, rs,
            " / ".join(fmt(xs, "%.1f") for xs in rates[x]), " / ".join(fmt(xs, "%.1f") for xs in rates[y])))


if __name__ == "__main__":
    main()
