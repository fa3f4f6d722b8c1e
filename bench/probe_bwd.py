#!/usr/bin/env python3
"""probe_bwd.py - where a sm90 backward's time goes, CTA by CTA (a tuning build, -DJFA_TUNING=ON: the kernels'
common/probe.cuh stamps). Each row runs one backward call (after warm-up) with JFA_TUNE_PROBE_PTR set to a device
buffer, then prints, from the per-CTA clock64 stamps (cycles of the CTA's SM; slot 0 the start, 1 / 2 each
consumer's first block, 3 / 4 the end of its blocks, 5 / 6 the end of its dK / dV stores, 7 the SM and the blocks):
  - the medians of the prologue (start to the first block), the blocks' loop and the epilogue (the end of the blocks
    to the end of the stores) and the gap between a CTA's end and the next CTA's start on the same SM;
  - a least-squares fit loop = c0 + c1 * blocks over the CTAs (c1: a block's cycles; c0: what a CTA's loop pays once,
    the pipeline's fill and drain);
  - the share of the SMs' busy span outside the loops (prologue, epilogue, gaps) and the fixed cost a CTA in blocks.
Inputs as bench_variants.py (B·N = 16384, H·D = 2048, BHSD).

    PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so python3 bench/probe_bwd.py --rows 1024:64:1 --dtype float32
A row is N:D:causal[:ENV=val+ENV=val] (causal 0 / 1, or w<W> a causal window of W keys back).
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from jfa.torch import _core  # noqa: E402

SLOTS = 8


def median(x):
    return float(torch.median(x.double()).item()) if x.numel() else float("nan")


def analyse(pr):
    ok = pr[:, 7] != -1
    pr = pr[ok]
    sm = (pr[:, 7] & 0xFFFFFFFF).long()
    blocks = (pr[:, 7] >> 32).long()
    s = pr[:, :7].double()
    first = torch.where(s[:, 2] > 0, torch.minimum(s[:, 1], s[:, 2]), s[:, 1])
    loop_end = torch.maximum(s[:, 3], s[:, 4])
    end = torch.maximum(s[:, 5], s[:, 6])
    pro, loop, epi = first - s[:, 0], loop_end - first, end - loop_end
    gaps, busy, outside = [], 0.0, 0.0
    for m in torch.unique(sm):
        idx = (sm == m).nonzero().flatten()
        order = idx[torch.argsort(s[idx, 0])]
        st, en = s[order, 0], end[order]
        g = st[1:] - en[:-1]
        gaps.append(g)
        span = (en.max() - st.min()).item()
        busy += span
        outside += span - loop[order].sum().item()
    gaps = torch.cat(gaps) if gaps else torch.zeros(0)
    A = torch.stack([torch.ones_like(loop), blocks.double()], 1)
    c = torch.linalg.lstsq(A, loop.unsqueeze(1)).solution.flatten()
    per_block = c[1].item()
    fixed = median(pro) + median(epi) + median(gaps) + c[0].item()
    return ("ctas %d on %d SMs, blocks a CTA median %d; cycles: prologue %.0f, loop %.0f, epilogue %.0f, gap %.0f "
            "(medians); loop fit %.0f + %.0f x blocks; outside the loops %.1f%% of the SMs' span; fixed cost a CTA "
            "%.0f cycles = %.1f blocks" % (pr.shape[0], len(torch.unique(sm)), int(median(blocks)), median(pro),
                                          median(loop), median(epi), median(gaps), c[0].item(), per_block,
                                          100.0 * outside / busy, fixed, fixed / per_block))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", action="append", required=True, help="N:D:causal[:ENV=val+...]")
    ap.add_argument("--dtype", default="bfloat16")
    a = ap.parse_args()
    dt = getattr(torch, a.dtype)
    print("torch %s, %s, JFA_LIBRARY=%s" % (torch.__version__, dt, os.environ.get("JFA_LIBRARY")))
    for row in a.rows:
        parts = row.split(":")
        N, D, causal = int(parts[0]), int(parts[1]), parts[2]
        sets = [x.split("=", 1) for x in parts[3].split("+")] if len(parts) > 3 else []
        window = int(causal[1:]) if causal.startswith("w") else 0
        causal = 1 if window else int(causal)
        B, H = max(1, 16384 // N), max(1, 2048 // D)
        g = torch.Generator(device="cuda").manual_seed(0)
        mk = lambda: torch.randn(B, H, N, D, device="cuda", dtype=dt, generator=g)
        q, k, v, do = (mk() for _ in range(4))
        cfg = _core.Config(None, causal, window=(window, -1) if window else (-1, -1))
        o, lse = _core.forward(q, k, v, cfg)[:2]
        for name, val in sets:
            os.environ[name] = val
        for _ in range(3):
            _core.backward(q, k, v, o, lse, do, cfg)
        pr = torch.full((B * H * ((N + 63) // 64), SLOTS), -1, dtype=torch.int64, device="cuda")
        torch.cuda.synchronize()
        os.environ["JFA_TUNE_PROBE_PTR"] = str(pr.data_ptr())
        _core.backward(q, k, v, o, lse, do, cfg)
        torch.cuda.synchronize()
        os.environ.pop("JFA_TUNE_PROBE_PTR")
        for name, _ in sets:
            os.environ.pop(name, None)
        print("N=%d D=%d causal=%d window=%d B=%d H=%d %s: %s" % (N, D, causal, window, B, H, "+".join(
            "%s=%s" % (n, v) for n, v in sets) or "-", analyse(pr.cpu())), flush=True)


if __name__ == "__main__":
    main()
