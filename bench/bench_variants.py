#!/usr/bin/env python3
"""bench_variants.py - the sm90 tuning variants of the forward and the fused forward+JVP timed in one
process (a tuning build, -DJFA_TUNING=ON: the library reads JFA_TUNE_SM90A at each call, so this script
sets it between calls): each (op, N, D, causal) row timed under each variant on the same inputs
(B·N = 16384 tokens, H·D = 2048, BHSD, bf16), TFLOP/s by jfa_bench's convention (fwd = 4·B·H·N²·D,
halved when causal; JVP 3x). One process instead of one jfa_bench per variant: no per-run setup.

    PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so python3 bench/bench_variants.py \\
        --rows fwd:4096:64:0:0,16,13 --rows jvp:4096:256:0:0,2,3,4 [--iters 20]
A row is op:N:D:causal:variants (op fwd, jvp or bwd; variants separated by commas; 0 = the default). causal
w<W> is bench_lanes.py's window<W> (causal, W keys back besides the query's own), p<S> S packed causal
sequences of N / S tokens (batch 1: N = 16384), d a random boolean (B, H, N, N) mask keeping half the keys
(bench_lanes.py's dense); TFLOP/s over the visible area. A variant NAME=value sets that environment variable instead of JFA_TUNE_SM90A
(e.g. JFA_TUNE_SM90_BWD_NOBAND=1; several joined by "+"; "-" for none set).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from jfa.torch import _core  # noqa: E402
import timing  # noqa: E402
from bench_lanes import visible  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", action="append", required=True, help="op:N:D:causal:v1,v2,... (op fwd, jvp or bwd)")
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--dtype", default="bfloat16")
    a = ap.parse_args()
    dt = getattr(torch, a.dtype)
    print("torch %s, %s, JFA_LIBRARY=%s" % (torch.__version__, dt, os.environ.get("JFA_LIBRARY")))
    for row in a.rows:
        op, N, D, causal, vs = row.split(":")
        N, D = int(N), int(D)
        window = int(causal[1:]) if causal.startswith("w") else 0
        nseq = int(causal[1:]) if causal.startswith("p") else 0
        dense = causal == "d"
        causal = 1 if window or nseq else 0 if dense else int(causal)
        B, H = max(1, 16384 // N), max(1, 2048 // D)
        g = torch.Generator(device="cuda").manual_seed(0)
        mk = lambda: torch.randn(B, H, N, D, device="cuda", dtype=dt, generator=g)
        q, k, v, qd, kd, vd = (mk() for _ in range(6))
        cu = [N // nseq * s for s in range(nseq)] + [N] if nseq else None
        am = torch.rand(B, H, N, N, device="cuda", generator=g) < 0.5 if dense else None
        cfg = _core.Config(None, 1 if causal else 0, attn_mask=am, window=(window, -1) if window else (-1, -1),
                           cu_seqlens=(cu, cu) if nseq else None)
        if nseq:  # visible pairs per (batch, head); windows and dense masks as bench_lanes.py counts them
            vis = sum((s1 - s0) * (s1 - s0 + 1) // 2 for s0, s1 in zip(cu[:-1], cu[1:]))
        elif window or dense:
            vis = visible(N, "window%d" % window if window else "dense", am)
        else:  # jfa_bench's convention: N^2, halved when causal
            vis = N * N * (0.5 if causal else 1.0)
        flop = 4.0 * B * H * vis * D * {"jvp": 3.0, "bwd": 2.5}.get(op, 1.0)
        if op == "jvp":
            call = lambda: _core.forward(q, k, v, cfg, qd, kd, vd)
        elif op == "bwd":
            o, lse = _core.forward(q, k, v, cfg)[:2]
            call = lambda: _core.backward(q, k, v, o, lse, qd, cfg)
        else:
            call = lambda: _core.forward(q, k, v, cfg)
        ref = None
        out = []
        for var in vs.split(","):
            sets = [x.split("=", 1) if "=" in x else ("JFA_TUNE_SM90A", x) for x in var.split("+")] if var != "-" else []
            for name, val in sets:
                os.environ[name] = val
            ms = timing.median_ms(call, a.iters, warmup=3)
            r = torch.cat([x.float().flatten() for x in call()[:3]]) if op == "bwd" else call()[0].float()
            diff = 0.0 if ref is None else ((r - ref).norm() / ref.norm()).item()  # against the first variant
            ref = r if ref is None else ref
            out.append("v%s %.3f ms %.1f TFLOP/s (rel %.1e)" % (var, ms, flop / ms / 1e9, diff))
            for name, _ in sets:
                os.environ.pop(name, None)
        print("%s N=%d D=%d causal=%d window=%d seqs=%d B=%d H=%d: %s" % (op, N, D, causal, window, nseq, B, H,
                                                                          "; ".join(out)), flush=True)


if __name__ == "__main__":
    main()
