#!/usr/bin/env python3
"""bench_second_order.py - the backward-JVP (second order) against jfa's backward, and an HVP of an
attention loss with jfa against SDPA's math backend (issue 20's performance targets).

For each case (B*N = 16384 tokens, H*D = 2048, BHSD, dtype bf16 on CUDA):
  - bwd:      the binding's backward call alone (jfa_attention_backward),
  - bwd_jvp:  jfa_attention_backward_jvp (dQd, dKd, dVd); ratio = bwd_jvp / bwd (target <= 2.5),
  - bwd_jvp1: the same call with dQ, dK, dV too (what forward-over-reverse needs); ratio1,
  - hvp:      torch.autograd.functional.hvp of loss = sum(attention(q, k, v)^2) in all of (q, k, v)
              (forward, backward with create_graph, and the double backward), jfa against
              SDPA's math backend (torch.nn.attention.sdpa_kernel(MATH)) where its N x N intermediates
              fit (target >= 10x at N = 4096), and the Triton package's (--triton-path DIR, DIR holding
              jvp_flash_attention) on the same call; *_MiB: the call's peak memory above the inputs;
              a backend that raises gets its exception's type and first line instead of a time,
  - func_hvp: torch.func.jvp(torch.func.grad(loss)) in (q, k, v) (torch >= 2.0), the same three libraries;
  - *_rel, *_norm: each library's HVP against SDPA math's (relative difference, norm ratio).
--profile: instead, jfa's torch.func HVP of each case under torch.profiler (after a warm-up): the
  GPU time of each kernel and aten op per call, largest first, and the call's total.
Times are medians of CUDA-event timings after warm-up (wall clock on the CPU).

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bench_second_order.py \\
        [--cases 4096:64:0,4096:128:1] [--iters 10] [--device cpu --dtype float64 --cases 64:16:0]  (smoke test)
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402
from jfa.torch import _core, _second_order  # noqa: E402
import backends  # noqa: E402
import timing  # noqa: E402


def run_case(N, D, causal, dtype, device, iters, tokens, width, triton=None, which=("hvp", "func_hvp")):
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
    for key, first in (("bwd_jvp", False), ("bwd_jvp1", True)):
        row[key] = median_ms(lambda: _second_order.backward_jvp(q, k, v, qd, kd, vd, o, lse, od, mu, do, dod, cfg,
                                                                first_order=first), iters)
    row["ratio"], row["ratio1"] = row["bwd_jvp"] / row["bwd"], row["bwd_jvp1"] / row["bwd"]
    loss_j = lambda a, b, c: (jt.attention(a, b, c, is_causal=causal).float() ** 2).sum()

    math_attend = backends.sdpa_math(causal)[0]
    loss_m = lambda a, b, c: (math_attend(a, b, c).float() ** 2).sum()

    losses = {"math": loss_m, "jfa": loss_j}  # math first: the others' results are compared with it
    if triton is not None:
        losses["triton"] = lambda a, b, c: (triton.fwd(a, b, c, causal=causal).float() ** 2).sum()

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

    def hvp_auto(loss):  # torch.autograd.functional.hvp in (q, k, v): the double-backward trick
        return torch.autograd.functional.hvp(loss, (q, k, v), (qd, kd, vd))[1]

    def hvp_func(loss):  # forward-over-reverse in (q, k, v): torch.func.jvp(torch.func.grad)
        return torch.func.jvp(torch.func.grad(loss, argnums=(0, 1, 2)), (q, k, v), (qd, kd, vd))[1]

    calls = [("hvp", hvp_auto)] + ([("func_hvp", hvp_func)] if hasattr(torch, "func") else [])
    calls = [c for c in calls if c[0] in which]
    ref = {}
    for name, call in calls:
        for lib, loss in losses.items():
            n = iters if lib == "jfa" else max(3, iters // 3)
            measured("%s_%s" % (name, lib), lambda: call(loss), n)
            if isinstance(row.get("%s_%s" % (name, lib)), float):
                # each library's result against SDPA math's (rel) and its size against math's (norm):
                # a call that silently drops the second-order term shows rel ~ 1 and norm ~ 0
                h = torch.cat([x.double().flatten() for x in call(loss)])
                if lib == "math":
                    ref[name] = h
                elif name in ref:
                    row["%s_%s_rel" % (name, lib)] = ((h - ref[name]).norm() / ref[name].norm()).item()
                    row["%s_%s_norm" % (name, lib)] = (h.norm() / ref[name].norm()).item()
                del h
        if isinstance(row.get("%s_math" % name), float):
            row["%s_speedup" % name] = row["%s_math" % name] / row["%s_jfa" % name]
        ref.pop(name, None)
    return row


def profile_case(N, D, causal, dtype, device, tokens, width, top=25):
    """jfa's torch.func HVP under torch.profiler: which kernels and ops take the GPU's time."""
    B, H = max(1, tokens // N), max(1, width // D)
    g = torch.Generator().manual_seed(0)
    q, k, v, qd, kd, vd = (torch.randn(B, H, N, D, generator=g).to(dtype).to(device) for _ in range(6))
    loss = lambda a, b, c: (jt.attention(a, b, c, is_causal=causal).float() ** 2).sum()
    call = lambda: torch.func.jvp(torch.func.grad(loss, argnums=(0, 1, 2)), (q, k, v), (qd, kd, vd))
    for _ in range(2):
        call()
    torch.cuda.synchronize()
    reps = 3
    acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    with torch.profiler.profile(activities=acts) as prof:
        for _ in range(reps):
            call()
        torch.cuda.synchronize()
    ev = [e for e in prof.key_averages() if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA]
    key = "self_device_time_total" if hasattr(ev[0], "self_device_time_total") else "self_cuda_time_total"
    ev.sort(key=lambda e: -getattr(e, key))
    total = sum(getattr(e, key) for e in ev) / reps / 1e3
    print("profile N=%d D=%d causal=%d: GPU time per HVP %.3f ms (kernels and copies)" % (N, D, causal, total))
    for e in ev[:top]:
        print("  %8.3f ms  %4d x  %s" % (getattr(e, key) / reps / 1e3, e.count // reps, e.key[:110]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default="4096:64:0,4096:128:0,4096:128:1,16384:64:0,16384:128:0")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--tokens", type=int, default=16384)
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--triton-path", default=None, help="folder holding the Triton package's jvp_flash_attention")
    ap.add_argument("--calls", default="hvp,func_hvp", help="which HVP calls to time (hvp: autograd.functional, "
                    "func_hvp: torch.func)")
    ap.add_argument("--profile", action="store_true", help="profile jfa's torch.func HVP instead (torch >= 2.0)")
    a = ap.parse_args()
    if a.profile:
        device, dtype = torch.device(a.device), getattr(torch, a.dtype)
        for c in a.cases.split(","):
            N, D, causal = (int(x) for x in c.split(":"))
            profile_case(N, D, bool(causal), dtype, device, a.tokens, a.width)
        return
    triton = backends.triton_or_none(a.triton_path)
    device, dtype = torch.device(a.device), getattr(torch, a.dtype)
    print("torch %s, %s, %s" % (torch.__version__, device, dtype), flush=True)
    for c in a.cases.split(","):
        N, D, causal = (int(x) for x in c.split(":"))
        row = run_case(N, D, bool(causal), dtype, device, a.iters, a.tokens, a.width, triton, a.calls.split(","))
        print(" ".join("%s=%s" % (k, ("%.4g" % v) if isinstance(v, float) else v) for k, v in row.items()),
              flush=True)


if __name__ == "__main__":
    main()
