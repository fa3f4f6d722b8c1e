#!/usr/bin/env python3
"""profile_binding.py - which kernels and how much host time one jfa.torch call costs beyond jfa's
own kernel: torch.profiler over `--calls` calls of the forward, the forward-AD dual JVP, the
torch.func.jvp JVP and the backward (bf16, BSHD storage as bench_torch.py), printing per call kind
the CUDA kernels launched (count, total time) and the host time per call. The binding's overhead
(issue 15: <= 3% over the C call) is what is not jfa's kernel.

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/profile_binding.py [--n 4096 --d 128 --causal 0]
        [--mask dense | --window W]

--mask dense adds a random boolean (B, H, N, N) mask keeping half the keys (bench_lanes.py's dense
lane: its block-map kernels then show beside the attention kernel); --window W a causal window of W
keys to the left (bench_lanes.py's window<W> lane).
"""
import argparse
import os
import sys

import torch
import torch.autograd.forward_ad as fwAD
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402
from timing import median_ms  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--causal", type=int, default=0)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--mask", choices=["none", "dense"], default="none")
    ap.add_argument("--window", type=int, default=0, help="a causal window of this many keys (0: none)")
    a = ap.parse_args()
    N, D, c = a.n, a.d, bool(a.causal) or a.window > 0
    B, H = max(16384 // N, 1), max(2048 // D, 1)
    mk = lambda: torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2)
    q, k, v, do, tq, tk, tv = (mk() for _ in range(7))
    qq, kk, vv = (x.detach().requires_grad_() for x in (q, k, v))
    kw = dict(is_causal=c)
    if a.mask == "dense":
        kw["attn_mask"] = torch.rand(B, H, N, N, device="cuda") < 0.5
    if a.window > 0:
        kw["window"] = (a.window, 0)

    def fwd():
        with torch.no_grad():
            jt.attention(q, k, v, **kw)

    def dual():
        with torch.no_grad(), fwAD.dual_level():
            o = jt.attention(fwAD.make_dual(q, tq), fwAD.make_dual(k, tk), fwAD.make_dual(v, tv), **kw)
            fwAD.unpack_dual(o)

    def func_jvp():
        with torch.no_grad():
            torch.func.jvp(lambda x, y, z: jt.attention(x, y, z, **kw), (q, k, v), (tq, tk, tv))

    def bwd():
        torch.autograd.grad(jt.attention(qq, kk, vv, **kw), (qq, kk, vv), do)

    for name, fn in (("fwd", fwd), ("dual jvp", dual), ("torch.func.jvp", func_jvp), ("fwd+bwd", bwd)):
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        host = median_ms(fn, 1, warmup=0, batch=a.calls, cuda=False)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(a.calls):
                fn()
            torch.cuda.synchronize()
        print("==== %s: host %.3f ms per call (launch only, %d calls); CUDA kernels per call:" % (name, host, a.calls))
        def dev(e):  # the event's own device time: > 0 for kernels and copies only
            return getattr(e, "self_device_time_total", getattr(e, "self_cuda_time_total", 0))

        rows = [e for e in prof.key_averages() if dev(e) > 0]
        for e in sorted(rows, key=lambda e: -dev(e)):
            t = dev(e)
            print("  %6.2f x  %9.1f us  %s" % (e.count / a.calls, t / a.calls, e.key[:110]))


if __name__ == "__main__":
    main()
