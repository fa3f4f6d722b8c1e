#!/usr/bin/env python3
"""bench_second_order.py - the backward-JVP (second order) against jfa's backward, and an HVP of an
attention loss with jfa against SDPA's math backend (issue 20's performance targets).

For each case (B*N = 16384 tokens, H*D = 2048, BHSD, dtype bf16 on CUDA):
  - bwd:      the binding's backward call alone (jfa_attention_backward),
  - bwd_jvp:  jfa_attention_backward_jvp (dQd, dKd, dVd and dQ, dK, dV); ratio = bwd_jvp / bwd
              (target <= 2.5),
  - hvp:      torch.autograd.functional.hvp of loss = sum(attention(q, k, v)^2) in all of (q, k, v)
              (forward, backward with create_graph, and the double backward), jfa against
              SDPA's math backend (torch.nn.attention.sdpa_kernel(MATH)) where its N x N intermediates
              fit (target >= 10x at N = 4096), and the Triton package's (--triton-path DIR, DIR holding
              jvp_flash_attention) on the same call; *_MiB: the call's peak memory above the inputs;
              a backend that raises gets its exception's type and first line instead of a time,
  - func_hvp: torch.func.jvp(torch.func.grad(loss)) in q (torch >= 2.0; the error is printed
              when it raises).
Times are medians of CUDA-event timings after warm-up (wall clock on the CPU).

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bench_second_order.py \\
        [--cases 4096:64:0,4096:128:1] [--iters 10] [--device cpu --dtype float64 --cases 64:16:0]  (smoke test)
"""
import argparse
import contextlib
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402
from jfa.torch import _core, _second_order  # noqa: E402
import timing  # noqa: E402


def run_case(N, D, causal, dtype, device, iters, tokens, width, triton=None):
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

    def math_ctx():
        # SDPA's math backend: torch.nn.attention.sdpa_kernel (torch >= 2.3), else the older
        # torch.backends.cuda.sdp_kernel; on the CPU the math backend is the only one.
        if device.type != "cuda":
            return contextlib.nullcontext()
        try:
            from torch.nn.attention import sdpa_kernel, SDPBackend
            return sdpa_kernel([SDPBackend.MATH])
        except ImportError:
            return torch.backends.cuda.sdp_kernel(enable_flash=False, enable_math=True, enable_mem_efficient=False)

    def loss_m(a, b, c):
        with math_ctx():
            return (F.scaled_dot_product_attention(a, b, c, is_causal=causal).float() ** 2).sum()

    def measured(key, fn, n):
        # median ms into row[key] and the peak memory above the inputs into row[key + "_MiB"];
        # an exception's type and first line instead of a time.
        try:
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
            row[key] = median_ms(fn, n)
            if device.type == "cuda":
                row[key + "_MiB"] = (torch.cuda.max_memory_allocated() - base) / 2 ** 20
        except Exception as e:  # out of memory at large N, or a call the backend does not support
            row[key] = "%s:%s" % (type(e).__name__, str(e).splitlines()[0][:100].replace(" ", "_") if str(e) else "")
            if device.type == "cuda":
                torch.cuda.empty_cache()

    measured("hvp_jfa_mem", lambda: torch.autograd.functional.hvp(loss_j, (q, k, v), (qd, kd, vd)), 1)
    measured("hvp_math", lambda: torch.autograd.functional.hvp(loss_m, (q, k, v), (qd, kd, vd)), max(3, iters // 3))
    if isinstance(row.get("hvp_math"), float):
        row["speedup"] = row["hvp_math"] / row["hvp_jfa"]
    if triton is not None:
        loss_t = lambda a, b, c: (triton.fwd(a, b, c, causal=causal).float() ** 2).sum()
        measured("hvp_triton", lambda: torch.autograd.functional.hvp(loss_t, (q, k, v), (qd, kd, vd)), 3)
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
    ap.add_argument("--triton-path", default=None, help="folder holding the Triton package's jvp_flash_attention")
    a = ap.parse_args()
    triton = None
    if a.triton_path:
        sys.path.insert(0, a.triton_path)
        try:
            from jvp_flash_attention.jvp_attention import JVPAttn
            triton = JVPAttn
        except Exception as e:  # no triton: the row says so
            print("# triton package unavailable: %s" % e)
    device, dtype = torch.device(a.device), getattr(torch, a.dtype)
    print("torch %s, %s, %s" % (torch.__version__, device, dtype), flush=True)
    for c in a.cases.split(","):
        N, D, causal = (int(x) for x in c.split(":"))
        row = run_case(N, D, bool(causal), dtype, device, a.iters, a.tokens, a.width, triton)
        print(" ".join("%s=%s" % (k, ("%.3f" % v) if isinstance(v, float) else v) for k, v in row.items()),
              flush=True)


if __name__ == "__main__":
    main()
