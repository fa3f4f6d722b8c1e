#!/usr/bin/env python3
"""bench_lanes.py - jfa.torch against the Triton JVP package and SDPA, lane by lane, in one process.

A lane is (dtype, head dim D, sequence length N, mask): the configurations where a user who
switches from the Triton package could get slower (float32, head dims up to 256, masks). For
each, TFLOP/s over the VISIBLE area (fwd = 4 B H visible D, JVP = 3x, bwd = 2.5x) of
  - jfa.torch.attention: forward (no grad), JVP (primal and tangent through forward-mode dual
    tensors: one fused call), backward (time(forward + backward) - time(forward));
    float32 once per precision given in --f32-precision (torch.set_float32_matmul_precision:
    "highest" = 3xTF32, "high" = one TF32 product), with the kernel family that ran;
  - the Triton package (JVPAttn.fwd / fwd_dual, its float32 is TF32), when --triton-path names
    the folder holding jvp_flash_attention/ (a copy of shared/seed);
  - F.scaled_dot_product_attention with PyTorch's default backend choice: forward, backward.
B * N = --tokens and H * D = --width as jfa_bench. Masks: none, causal, dense (a random boolean
(B, H, N, N) mask keeping half the keys, the same tensor for every library), bias (an additive (B, H, N, N) mask in the lane's
dtype, N(0, 1) values with half the entries -100, the Triton package's MASK_CONST, which its mask check requires:
every key counted visible), window<W> (causal with W keys to
the left, jfa only). Medians of CUDA-event timings (timing.py; --batch n: n calls back to back a timing, the default 1 one call). --layout bshd: the inputs as (B, N, H, D) storage
seen as (B, H, N, D), jfa_bench's layout (the default, bhsd, is contiguous (B, H, N, D)).

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bench_lanes.py \
        --lanes float32:64:2048:none,bfloat16:256:4096:none --triton-path .seed
"""
import argparse
import os
import sys

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402
from jfa import _lib  # noqa: E402
from jfa.torch import _core as jt_core  # noqa: E402
import backends  # noqa: E402
from timing import median_ms  # noqa: E402

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def visible(N, mask, m):
    """Visible (query, key) pairs per (batch, head)."""
    if mask in ("none", "bias"):
        return N * N
    if mask == "causal":
        return N * (N + 1) // 2
    if mask.startswith("window"):
        W = int(mask[6:])
        return sum(min(i, W) + 1 for i in range(N))
    if mask.startswith("packed"):  # bench_ratio.py's N / L causal sequences of L tokens in one row
        L = int(mask[6:])
        return (N // L) * L * (L + 1) // 2
    return float(m.sum().item()) / (m.shape[0] * m.shape[1])


def families(attend, q, k, v, do):
    """The kernel families of this thread's last forward and of one backward of attend (the private
    dispatch query jfa_cuda_last_kernel, as the tests read it), or "?" when the library does not export
    it. jfa.torch's contexts are per thread and autograd runs a CUDA backward in its own thread, so
    the backward's family is read there, by a hook on q's gradient, from that thread's context."""
    L = _lib.lib()
    if not hasattr(L, "jfa_cuda_last_kernel"):
        return "?"
    name = {0: "simt", 1: "sm80", 2: "sm90"}
    fwd = L.jfa_cuda_last_kernel(jt_core.context(q.device).handle, 0)
    bwd = []
    qq, kk, vv = (t.detach().requires_grad_(True) for t in (q, k, v))
    qn = qq * 1  # a hook on a non-leaf runs in the engine's thread in every torch (on a leaf, not under grad())

    def hook(g):
        bwd.append(L.jfa_cuda_last_kernel(jt_core.context(g.device).handle, 1))
        return g

    qn.register_hook(hook)
    torch.autograd.grad(attend(qn, kk, vv), (qq, kk, vv), do)
    return "fwd %s, bwd %s" % (name.get(fwd, "?"), name.get(bwd[0] if bwd else None, "?"))


def timed(fwd, fb, jvp, iters, batch=1, with_fb=False):
    """(fwd, jvp, bwd) milliseconds, bwd = time(forward + backward) - time(forward); with_fb: (fwd, jvp, bwd,
    forward + backward) (the pair's own time: what the subtraction's two noisy timings make of it is its business);
    None where a call raised (message printed). batch: calls back to back between a timing's two events (1: each
    call alone, its host time before the first launch included)."""
    out = []
    for name, fn in (("fwd", fwd), ("jvp", jvp), ("fb", fb)):
        try:
            out.append(median_ms(fn, iters, batch=batch) if fn else None)
        except Exception as e:  # unsupported configuration: say why, keep going
            print("#   %s: %s: %s" % (name, type(e).__name__, str(e).splitlines()[0][:160]), file=sys.stderr)
            out.append(None)
        torch.cuda.synchronize()
    f, j, fb_ms = out
    b = fb_ms - f if fb_ms is not None and f is not None else None
    return (f, j, b, fb_ms) if with_fb else (f, j, b)


def lib_calls(attend, q, k, v, do, tq, tk, tv):
    def fwd():
        with torch.no_grad():
            attend(q, k, v)

    qq, kk, vv = (t.detach().requires_grad_(True) for t in (q, k, v))

    def fb():  # autograd.grad: no .grad accumulated across the repetitions (an add per input and call)
        torch.autograd.grad(attend(qq, kk, vv), (qq, kk, vv), do)

    def jvp():
        with fwAD.dual_level():
            o = attend(fwAD.make_dual(q, tq), fwAD.make_dual(k, tk), fwAD.make_dual(v, tv))
            fwAD.unpack_dual(o)

    return fwd, fb, jvp


def profile_calls(calls, label, reps=3, top=6):
    """The GPU kernels of each call (fwd, fwd + bwd, JVP) under torch.profiler: ms per call, to stderr."""
    for name, fn in zip(("fwd", "fwd+bwd", "jvp"), calls):
        fn()
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
            for _ in range(reps):
                fn()
            torch.cuda.synchronize()
        ev = [e for e in prof.key_averages() if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA]
        key = "self_device_time_total" if ev and hasattr(ev[0], "self_device_time_total") else "self_cuda_time_total"
        ev.sort(key=lambda e: -getattr(e, key))
        total = sum(getattr(e, key) for e in ev) / reps / 1e3
        print("# profile %s %s: %.3f ms of GPU time a call" % (label, name, total), file=sys.stderr)
        for e in ev[:top]:
            print("#   %8.3f ms %3d x %s" % (getattr(e, key) / reps / 1e3, e.count // reps, e.key[:100]), file=sys.stderr)


def lane_inputs(dtype, D, N, mask, tokens, width, seed, layout="bhsd", device="cuda"):
    """A lane's seeded inputs (B * N = tokens, H * D = width): (B, H, (q, k, v, do, tq, tk, tv), the dense or bias
    mask or None, causal, window or None); bench_ratio.py's cases too."""
    B, H = max(1, tokens // N), max(1, width // D)
    dt = DTYPES[dtype]
    g = torch.Generator(device=device).manual_seed(seed)
    if layout == "bshd":  # (B, H, N, D) views of (B, N, H, D) storage, as jfa_bench's tensors
        ts = tuple(torch.randn(B, N, H, D, device=device, dtype=dt, generator=g).transpose(1, 2) for _ in range(7))
    else:
        ts = tuple(torch.randn(B, H, N, D, device=device, dtype=dt, generator=g) for _ in range(7))
    m, causal, window = None, mask == "causal", None
    if mask == "dense":
        m = torch.rand(B, H, N, N, device=device, generator=g) < 0.5
    elif mask == "bias":
        m = torch.randn(B, H, N, N, device=device, dtype=dt, generator=g)
        m.masked_fill_(torch.rand(B, H, N, N, device=device, generator=g) < 0.5, -100.0)
    elif mask.startswith("window"):
        causal, window = True, (int(mask[6:]), 0)
    return B, H, ts, m, causal, window


def run_lane(a, dtype, D, N, mask, triton):
    B, H, (q, k, v, do, tq, tk, tv), m, causal, window = lane_inputs(dtype, D, N, mask, a.tokens, a.width, a.seed,
                                                                     a.layout)
    dt = DTYPES[dtype]
    vis = visible(N, mask, m)
    flop = 4.0 * B * H * vis * D
    rows = []

    def rate(ms, mult):
        return "%.1f" % (flop * mult / (ms * 1e-3) / 1e12) if ms else "-"

    def add(name, ms):
        f, j, b = ms
        rows.append("| %s | %d | %d | %s | %s | %s / %s / %s | %s |" % (
            dtype, D, N, mask, name, rate(f, 1), rate(j, 3), rate(b, 2.5),
            " ".join("%.3f" % x if x else "-" for x in (f, j, b))))

    precisions = a.f32_precision.split(",") if dt == torch.float32 else [None]
    for prec in precisions:
        if prec:
            torch.set_float32_matmul_precision(prec)

        def jfa_attend(x, y, z):
            return jt.attention(x, y, z, attn_mask=m, is_causal=causal, window=window)

        ms = timed(*lib_calls(jfa_attend, q, k, v, do, tq, tk, tv), a.iters, a.batch)
        fam = families(jfa_attend, q, k, v, do)
        if a.profile:
            profile_calls(lib_calls(jfa_attend, q, k, v, do, tq, tk, tv), "%s %d %d %s jfa" % (dtype, D, N, mask))
        add("jfa%s (%s)" % (" " + prec if prec else "", fam), ms)
    torch.set_float32_matmul_precision("highest")
    if triton is not None and window is None:
        tr_attend = backends.package_attend(triton, m, causal)
        add("triton package", timed(*lib_calls(tr_attend, q, k, v, do, tq, tk, tv), a.iters, a.batch))
    if window is None:
        def sdpa(x, y, z):
            return F.scaled_dot_product_attention(x, y, z, attn_mask=m, is_causal=causal)

        f, _, b = timed(*lib_calls(sdpa, q, k, v, do, tq, tk, tv)[:2], None, a.iters, a.batch)
        add("SDPA (default backend)", (f, None, b))
    del q, k, v, do, tq, tk, tv, m
    torch.cuda.empty_cache()
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lanes", default="float32:64:2048:none,float32:128:2048:none,bfloat16:256:4096:none,"
                    "bfloat16:96:4096:none,bfloat16:128:4096:dense,bfloat16:128:16384:window2048,"
                    "bfloat16:128:16384:causal")
    ap.add_argument("--tokens", type=int, default=16384, help="B * N")
    ap.add_argument("--width", type=int, default=2048, help="H * D")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1,
                    help="calls back to back in each timing (1: one call, its host time before the GPU starts included)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--f32-precision", default="highest,high")
    ap.add_argument("--triton-path", default=None)
    ap.add_argument("--profile", action="store_true", help="also jfa's kernels per call under torch.profiler (stderr)")
    ap.add_argument("--layout", choices=("bhsd", "bshd"), default="bhsd",
                    help="the inputs' storage: contiguous (B, H, N, D), or (B, N, H, D) seen as (B, H, N, D) (jfa_bench's)")
    a = ap.parse_args()
    triton = backends.triton_or_none(a.triton_path)
    print("# bench_lanes: torch %s, %s, tokens %d, width %d, iters %d, batch %d, seed %d, layout %s" % (
        torch.__version__, torch.cuda.get_device_name(), a.tokens, a.width, a.iters, a.batch, a.seed, a.layout))
    print("| dtype | D | N | mask | library | TFLOP/s fwd / JVP / bwd | ms fwd jvp bwd |")
    print("|---|---|---|---|---|---|---|")
    for lane in a.lanes.split(","):
        dtype, D, N, mask = lane.split(":")
        for r in run_lane(a, dtype, int(D), int(N), mask, triton):
            print(r, flush=True)


if __name__ == "__main__":
    main()
