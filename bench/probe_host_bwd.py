#!/usr/bin/env python3
"""probe_host_bwd.py - host time (perf_counter, no sync inside the timed span, GPU idle before) of jfa's C
backward called directly (_core.backward, this thread) against its GPU time each call alone and 10 back to back,
and against the forward and 4 empty torch launches: where a small float32 backward's each-call-alone time goes.

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/probe_host_bwd.py [--d 128 --n 256 --causal 1]
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
from jfa.torch import _core  # noqa: E402
from jfa import _lib  # noqa: E402
from timing import median_ms  # noqa: E402


def launch_us(fn, iters=30):
    """(median, best) microseconds of fn's host time alone, the GPU idle before each call (synchronised outside the
    timed span): what a call costs its caller before the GPU can start. timing.host_us times batches up to their
    synchronisation, the GPU's time included."""
    ts = []
    for _ in range(iters):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e6)
    torch.cuda.synchronize()
    return statistics.median(ts), min(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--n", type=int, default=256)
    ap.add_argument("--causal", type=int, default=1)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--width", type=int, default=1024)
    a = ap.parse_args()
    dt = getattr(torch, a.dtype)
    B, H = a.tokens // a.n, a.width // a.d
    g = torch.Generator(device="cuda").manual_seed(1)
    q, k, v, do = (torch.randn(B, H, a.n, a.d, device="cuda", dtype=dt, generator=g) for _ in range(4))
    cfg = _core.Config(mask=_lib.MASK_CAUSAL_TOP_LEFT if a.causal else _lib.MASK_NONE)
    o, lse, _, _ = _core.forward(q, k, v, cfg)
    fwd = lambda: _core.forward(q, k, v, cfg)  # noqa: E731
    bwd = lambda: _core.backward(q, k, v, o, lse, do, cfg)  # noqa: E731
    e = torch.empty(1, device="cuda")
    four = lambda: [e.add_(1) for _ in range(4)]  # noqa: E731
    for name, fn in (("forward", fwd), ("backward", bwd), ("4 torch launches", four)):
        for _ in range(5):
            fn()
        h = launch_us(fn)
        g1 = median_ms(fn, 15, batch=1) * 1e3
        g10 = median_ms(fn, 15, batch=10) * 1e3
        print("| %s %s D=%d N=%d causal=%d | host us median %.1f min %.1f | GPU us alone %.1f, 10 a timing %.1f |"
              % (a.dtype, name, a.d, a.n, a.causal, h[0], h[1], g1, g10))


if __name__ == "__main__":
    main()
