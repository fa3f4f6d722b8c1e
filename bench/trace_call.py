#!/usr/bin/env python3
"""trace_call.py - where a single jfa.torch call's time goes between the caller's first line and the
GPU's last kernel: bench_lanes.py times each call alone (batch 1: its CUDA events see the host's
time before the first launch on an idle GPU), which at N = 16384 costs a causal window 10-15% of
its rate against jfa_bench's (issue 18). Each of --calls calls runs alone (synchronised before and
after) under torch.profiler with CPU and CUDA activities; from the Chrome trace this prints per
call kind the medians of
  - host:  the call's own host time (its record_function range),
  - first: from the call's start to its first GPU kernel's start (what the GPU idles at batch 1),
  - gpu:   from the first kernel's start to the last kernel's end, and the kernels' summed time,
  - total: from the call's start to the last kernel's end (what a batch-1 timing sees),
and, summed over the calls and divided by them, the CUDA runtime / driver calls made inside the
calls (count, us per call) and the kernels (us per call), largest first: what lies between the
call's start and its first kernel.

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/trace_call.py --n 16384 --d 128 --window 2048 \
        [--calls 10] [--ops fwd,jvp,bwd] [--trace-out PATH.json]

On a CPU-only torch the same runs on CPU tensors (--device cpu): host times and the operators only.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile

import torch
from torch.profiler import ProfilerActivity, profile, record_function

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402
from bench_lanes import lib_calls  # noqa: E402  (the calls bench_lanes times: fwd, fwd + bwd, dual JVP)

_API_CATS = ("cuda_runtime", "cuda_driver", "runtime", "driver")


def summarize(events, tag):
    """Per-call figures from Chrome trace events: the ranges named tag + index, the kernels and API calls."""
    marks = sorted((e for e in events if e.get("ph") == "X" and str(e.get("name", "")).startswith(tag)
                    and e.get("cat") != "gpu_user_annotation"), key=lambda e: e["ts"])  # the host's ranges
    kernels = sorted((e for e in events if e.get("ph") == "X" and e.get("cat") in ("kernel", "gpu_memset",
                                                                                   "gpu_memcpy")),
                     key=lambda e: e["ts"])
    api = [e for e in events if e.get("ph") == "X" and e.get("cat") in _API_CATS]
    rows = {"host": [], "first": [], "gpu": [], "ksum": [], "total": []}
    api_tot, k_tot = {}, {}
    for i, m in enumerate(marks):
        s, h_end = float(m["ts"]), float(m["ts"]) + float(m["dur"])
        nxt = float(marks[i + 1]["ts"]) if i + 1 < len(marks) else float("inf")
        ks = [e for e in kernels if s <= float(e["ts"]) < nxt]
        rows["host"].append(h_end - s)
        for e in api:
            if s <= float(e["ts"]) < h_end:
                a = api_tot.setdefault(e["name"], [0, 0.0])
                a[0] += 1
                a[1] += float(e["dur"])
        if ks:
            k0, k1 = float(ks[0]["ts"]), max(float(e["ts"]) + float(e["dur"]) for e in ks)
            rows["first"].append(k0 - s)
            rows["gpu"].append(k1 - k0)
            rows["ksum"].append(sum(float(e["dur"]) for e in ks))
            rows["total"].append(k1 - s)
            for e in ks:
                a = k_tot.setdefault(e["name"][:90], [0, 0.0])
                a[0] += 1
                a[1] += float(e["dur"])
    med = {key: statistics.median(x) if x else None for key, x in rows.items()}
    n = max(len(marks), 1)
    return med, sorted(api_tot.items(), key=lambda x: -x[1][1]), sorted(k_tot.items(), key=lambda x: -x[1][1]), n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--n", type=int, default=16384)
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--tokens", type=int, default=16384, help="B * N (bench_lanes' default)")
    ap.add_argument("--width", type=int, default=2048, help="H * D (bench_lanes' default)")
    ap.add_argument("--causal", type=int, default=1)
    ap.add_argument("--window", type=int, default=-1, help="W >= 0: a causal window of W keys (window=(W, 0))")
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--ops", default="fwd,jvp,bwd")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--trace-out", default=None, help="also keep the Chrome trace (one file per op: PATH.<op>.json)")
    a = ap.parse_args()
    dev, dt = torch.device(a.device), getattr(torch, a.dtype)
    cuda = dev.type == "cuda"
    N, D = a.n, a.d
    B, H = max(1, a.tokens // N), max(1, a.width // D)
    torch.manual_seed(a.seed)
    q, k, v, do, tq, tk, tv = (torch.randn(B, H, N, D, device=dev, dtype=dt) for _ in range(7))
    kw = dict(is_causal=bool(a.causal) or a.window >= 0)
    if a.window >= 0:
        kw["window"] = (a.window, 0)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    print("# torch %s, %s %s, (B, H, N, D) = (%d, %d, %d, %d), %s, seed %d, %d calls each, us (medians per call)"
          % (torch.__version__, a.device, a.dtype, B, H, N, D, kw, a.seed, a.calls))
    print("| op | host | first kernel starts | kernels' span | kernels' sum | total |")
    print("|---|---|---|---|---|---|")
    details = []
    fwd, bwd, jvp = lib_calls(lambda x, y, z: jt.attention(x, y, z, **kw), q, k, v, do, tq, tk, tv)
    fns = {"fwd": fwd, "jvp": jvp, "bwd": bwd}  # bwd: the forward and its backward (bench_lanes' fb)
    for op in a.ops.split(","):
        fn = fns[op]
        for _ in range(3):
            fn()
        sync()
        tag = "jfa_trace_%s_" % op
        with profile(activities=acts) as prof:
            for i in range(a.calls):
                sync()
                with record_function(tag + str(i)):
                    fn()
                sync()
        if a.trace_out:
            path = "%s.%s.json" % (a.trace_out, op)
        else:
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tf:
                path = tf.name
        prof.export_chrome_trace(path)
        with open(path) as f:
            tr = json.load(f)
        if not a.trace_out:
            os.remove(path)
        events = tr["traceEvents"] if isinstance(tr, dict) else tr
        med, api, ker, n = summarize(events, tag)
        f = lambda x: "-" if x is None else "%.1f" % x
        print("| %s | %s | %s | %s | %s | %s |" % (op, f(med["host"]), f(med["first"]), f(med["gpu"]),
                                                   f(med["ksum"]), f(med["total"])))
        details.append("## %s: CUDA API calls inside the call (count, us per call)" % op)
        details += ["  %5.1f x %8.1f us  %s" % (c / n, t / n, name) for name, (c, t) in api[:14]]
        details.append("## %s: kernels (count, us per call)" % op)
        details += ["  %5.1f x %8.1f us  %s" % (c / n, t / n, name) for name, (c, t) in ker[:8]]
        sys.stdout.flush()
    print("\n".join(details))


if __name__ == "__main__":
    main()
