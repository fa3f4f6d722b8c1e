#!/usr/bin/env python3
"""bench_second_order.py - the backward-JVP (second order) against jfa's backward, and an HVP of an
attention loss with jfa against SDPA's math backend (issue 20's performance targets).

For each case (B*N = 16384 tokens, H*D = 2048, BHSD, dtype bf16 on CUDA):
  - bwd:      the binding's backward call alone (jfa_attention_backward),
  - bwd_jvp:  jfa_attention_backward_jvp (dQd, dKd, dVd and dQ, dK, dV); ratio = bwd_jvp / bwd
              (target <= 2.5),
  - hvp:      torch.autograd.functional.hvp of loss = sum(attention(q, k, v)^2) in all of (q, k, v)
              (forward, backward with create_graph, and the double backward), jfa against
              SDPA's math backend where its N x N intermediates fit (target >= 10x at N = 4096),
  - func_hvp: torch.func.jvp(torch.func.grad(loss)) in q (torch >= 2.0; the error is printed
              when it raises).
Times are medians of CUDA-event timings after warm-up (wall clock on the CPU).

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bench_second_order.py \\
        [--cases 4096:64:0,4096:128:1] [--iters 10] [--device cpu --dtype float64 --cases 64:16:0]  (smoke test)
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402
from jfa.torch import _core, _second_order  # noqa: E402
import timing  # noqa: E402


def run_case(N, D, causal, dtype, device, iters, tokens, width):
    B, H = max(1, tokens // N), max(1, width // D)
    g = torch.Generator().manual_seed(0)
    mk = lambda: torch.randn(B, H, N, D, generator=g).to(dtype).to(device)
    q, k, v, do, qd, kd, vd, dod = (mk() for _ in range(8))
    cfg = _core.Config(None, 1 if causal else 0)
    o, lse, od, mu = _core.forward(q, k, v, cfg, qd, kd, vd)
    row = {"N": N, "D": D, "causal": int(causal), "B": B, "H": H}

    def median_ms(fn, n):
        return timing.median_ms(fn, n, warmup=2, cuda=device.type == "cuda")
    row["bwd"] = median_ms(lambda: _core.backward(q, k, v, o, lse, do, cfg), iters)
    row["bwd_jvp"] = median_ms(lambda: _second_order.backward_jvp(q, k, v, qd, kd, vd, o, lse, od, mu, do, dod, cfg,
                                                                  first_order=True), iters)
    row["ratio"] = row["bwd_jvp"] / row["bwd"]
    loss_j = lambda a, b, c: (jt.attention(a, b, c, is_causal=causal).float() ** 2).sum()
    row["hvp_jfa"] = median_ms(lambda: torch.autograd.functional.hvp(loss_j, (q, k, v), (qd, kd, vd)), iters)

    def loss_m(a, b, c):
        ctx = torch.backends.cuda.sdp_kernel(enable_flash=False, enable_math=True, enable_mem_efficient=False) \
            if device.type == "cuda" and hasattr(torch.backends.cuda, "sdp_kernel") else None
        if ctx is None:
            return (F.scaled_dot_product_attention(a, b, c, is_causal=causal).float() ** 2).sum()
        with ctx:
            return (F.scaled_dot_product_attention(a, b, c, is_causal=causal).float() ** 2).sum()
    try:
        row["hvp_math"] = median_ms(lambda: torch.autograd.functional.hvp(loss_m, (q, k, v), (qd, kd, vd)),
                                    max(3, iters // 3))
        row["speedup"] = row["hvp_math"] / row["hvp_jfa"]
    except Exception as e:  # out of memory at large N
        row["hvp_math"] = "%s" % type(e).__name__
        if device.type == "cuda":
            torch.cuda.empty_cache()
    if hasattr(torch, "func"):
        try:
            fq = lambda a: loss_j(a, k, v)
            row["func_hvp"] = median_ms(lambda: torch.func.jvp(torch.func.grad(fq), (q,), (qd,)), iters)
        except Exception as e:
            row["func_hvp"] = "%s: %s" % (type(e).__name__, str(e).splitlines()[0][:120])
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="4096:64:0,4096:128:0,4096:128:1,16384:64:0,16384:128:0")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--width", type=int, default=2048)
    a = ap.parse_args()
    device, dtype = torch.device(a.device), getattr(torch, a.dtype)
    print("torch %s, %s, %s" % (torch.__version__, device, dtype), flush=True)
    for c in a.cases.split(","):
        N, D, causal = (int(x) for x in c.split(":"))
        row = run_case(N, D, bool(causal), dtype, device, a.iters, a.tokens, a.width)
        print(" ".join("%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else v) for k, v in row.items()),
              flush=True)


if __name__ == "__main__":
    main()
