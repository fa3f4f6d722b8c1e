#!/usr/bin/env python3
"""bench_vs_package.py - is jfa ever slower than the Triton JVP package? A sweep over the package's own grid.

The mission's rule: a user who switches from the Triton package (shared/seed: float16, bfloat16, float32; head dims
16, 32, 64, 128, 256; no mask, causal, a boolean or an additive (B, H, N, N) mask; Nq = Nk, a multiple of 32) must
never get slower, in any configuration the package supports. This times both libraries on each configuration of
that grid in one process, through the same calls as bench_lanes.py (its inputs and timing loops: each call alone,
CUDA events around one call, its host time before the first launch included, the upper median of --iters timings
after 3 warm-up calls; --batch n: n calls back to back a timing, where the host's time hides behind queued GPU work): the forward (no grad), the JVP through forward-mode dual tensors, and the backward
(time(forward + backward) - time(forward)). float32 runs jfa once per --f32-precision (torch's own switch: "highest",
the default a user has, gives jfa's 3xTF32; "high" one TF32 product; the package computes TF32 in both).

Output: one row a configuration and precision, each op's milliseconds for jfa and the package and the speedup
(package ms / jfa ms: below 1 is jfa slower), the kernel family jfa ran, and the forward + backward pair's own time
for both and its speedup (the backward by subtraction moves with both of its timings' noise: where calls take ~1 ms
each alone, a library's forward timed 0.2 ms slow in one process reads as its backward 0.2 ms fast); "declined"
where the package raises (its reason on stderr). The last lines list every (configuration, op) where jfa was slower
(a backward with its pair's speedup beside it), and the minimum speedup per dtype. Lanes run in the order given
(the default: the package's headline float32 first, then bfloat16, then a float16 sample) until --deadline seconds
have passed, so a cut run still holds the first ones.

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bench_vs_package.py --triton-path .seed --deadline 400
"""
import argparse
import functools
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import backends  # noqa: E402
import bench_lanes as bl  # noqa: E402
import timing  # noqa: E402


def default_lanes():
    """dtype:D:N:mask, the package's grid in the order a cut run should keep: float32 (its headline) at N = 1024 over
    every head dim and mask, then short sequences (N = 256: host time weighs most), then bfloat16 alike, then
    float16's unmasked and causal lanes (the same jfa kernels as bfloat16)."""
    lanes = []
    for dt in ("float32", "bfloat16"):
        lanes += ["%s:%d:1024:%s" % (dt, d, m) for d in (64, 128, 16, 32, 256) for m in ("none", "causal", "dense", "bias")]
        lanes += ["%s:%d:256:%s" % (dt, d, m) for d in (64, 128) for m in ("none", "causal")]
    lanes += ["float16:%d:1024:%s" % (d, m) for d in (64, 128, 32, 256) for m in ("none", "causal")]
    return lanes


def run_lane(a, pkg, dtype, D, N, mask, slower, worst):
    B, H, (q, k, v, do, tq, tk, tv), m, causal, _ = bl.lane_inputs(dtype, D, N, mask, a.tokens, a.width, a.seed,
                                                                    device=a.device)
    calls = lambda attend: bl.lib_calls(attend, q, k, v, do, tq, tk, tv)  # noqa: E731
    if pkg is not None:
        pk = bl.timed(*calls(backends.package_attend(pkg, m, causal)), a.iters, a.batch, with_fb=True)
    else:
        pk = (None, None, None, None)
    precisions = a.f32_precision.split(",") if dtype == "float32" else [None]
    for prec in precisions:
        if prec:
            torch.set_float32_matmul_precision(prec)

        def jfa_attend(x, y, z):
            return bl.jt.attention(x, y, z, attn_mask=m, is_causal=causal)

        js = bl.timed(*calls(jfa_attend), a.iters, a.batch, with_fb=True)
        fam = bl.families(jfa_attend, q, k, v, do) if a.device == "cuda" else a.device
        pair = pk[3] / js[3] if js[3] and pk[3] else None
        label = dtype + (" " + prec if prec else "")  # the row's dtype and float32 precision
        sp = []
        for op, j, p in zip(("fwd", "JVP", "bwd"), js, pk):
            if j is None or p is None:
                sp.append(None)
                continue
            s = p / j
            sp.append(s)
            worst[label] = min(worst.get(label, s), s)
            if s < 1.0:
                slower.append("%s D=%d N=%d %s %s: %.3f (jfa %.3f ms, package %.3f ms)%s" % (
                    label, D, N, mask, op, s, j, p,
                    "; forward + backward %.2fx (jfa %.3f ms, package %.3f ms)" % (pair, js[3], pk[3])
                    if op == "bwd" and pair else ""))
        ms = lambda t: " / ".join("%.3f" % x if x is not None else "-" for x in t)  # noqa: E731
        fb = "%.3f / %s / %s" % (js[3], "%.3f" % pk[3] if pk[3] else "-", "%.2f" % pair if pair else "-") \
            if js[3] else "- / - / -"
        print("| %s | %d | %d | %s | %d x %d | %s | %s | %s | %s | %s |" % (
            label, D, N, mask, B, H, ms(js[:3]), ms(pk[:3]) if pkg is not None and any(pk)
            else "declined" if pkg is not None else "-", " / ".join("%.2f" % s if s is not None else "-" for s in sp),
            fam, fb), flush=True)
    torch.set_float32_matmul_precision("highest")
    del q, k, v, do, tq, tk, tv, m
    if a.device == "cuda":
        torch.cuda.empty_cache()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lanes", default=",".join(default_lanes()), help="dtype:D:N:mask,... (mask: none, causal, "
                    "dense = a random boolean mask keeping half the keys, bias = an additive one, bench_lanes.py's)")
    ap.add_argument("--tokens", type=int, default=16384, help="B * N")
    ap.add_argument("--width", type=int, default=1024, help="H * D")
    ap.add_argument("--iters", type=int, default=7)
    ap.add_argument("--batch", type=int, default=1, help="calls back to back in each timing (1: each call alone, its "
                    "host time before the GPU starts included; more: queued calls, as a training loop that keeps the "
                    "GPU busy runs them)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--f32-precision", default="highest,high")
    ap.add_argument("--triton-path", default=None)
    ap.add_argument("--deadline", type=float, default=0, help="seconds after which no new lane starts (0: none)")
    ap.add_argument("--device", default="cuda", help="cuda; cpu only to check this script (no package, host clock)")
    ap.add_argument("--clocks", action="store_true", help="after each lane, the GPU's SM clock and power draw "
                    "(nvidia-smi): whether a lane ran at lower clocks than another")
    a = ap.parse_args()
    if a.device != "cuda":  # a check of this script: bench_lanes' loops on the host clock, its syncs no-ops
        bl.median_ms = functools.partial(timing.median_ms, cuda=False)
        torch.cuda.synchronize = lambda *args: None
    pkg = backends.triton_or_none(a.triton_path) if a.device == "cuda" else None
    t0 = time.time()
    print("# bench_vs_package: torch %s, %s, tokens %d, width %d, iters %d, seed %d, %s" % (
        torch.__version__, torch.cuda.get_device_name() if a.device == "cuda" else "cpu", a.tokens, a.width, a.iters,
        a.seed, "each call alone" if a.batch == 1 else "%d calls a timing" % a.batch))
    print("| dtype | D | N | mask | B x H | jfa ms fwd / JVP / bwd | package ms | speedup (package / jfa) | jfa ran | "
          "fwd + bwd ms jfa / package / speedup |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    slower, worst, done, lanes = [], {}, 0, a.lanes.split(",")
    for lane in lanes:
        if a.deadline and time.time() - t0 > a.deadline:
            break
        dtype, D, N, mask = lane.split(":")
        t1 = time.time()
        run_lane(a, pkg, dtype, int(D), int(N), mask, slower, worst)
        done += 1
        if a.clocks and a.device == "cuda":
            print("#   clocks after %s: %s" % (lane, gpu_clocks()), flush=True)
        print("#   %.1f s" % (time.time() - t1), file=sys.stderr, flush=True)
    print("# %d of %d lanes in %.0f s" % (done, len(lanes), time.time() - t0))
    print("# minimum speedup per dtype: " + ", ".join("%s %.2f" % kv for kv in sorted(worst.items())))
    print("# jfa slower (%d):" % len(slower))
    for s in slower:
        print("#   " + s)


def gpu_clocks():
    """The current GPU's SM clock and power draw as nvidia-smi reports them, or why not."""
    import subprocess
    try:
        r = subprocess.run(["nvidia-smi", "-i", str(torch.cuda.current_device()), "--query-gpu=clocks.sm,power.draw",
                            "--format=csv,noheader"], capture_output=True, text=True, timeout=10)
        return r.stdout.strip() or r.stderr.strip()
    except (OSError, subprocess.SubprocessError, AssertionError, RuntimeError) as e:  # no nvidia-smi, no CUDA
        return "unavailable (%s)" % e


if __name__ == "__main__":
    main()
