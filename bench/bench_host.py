#!/usr/bin/env python3
"""bench_host.py - the binding's host time per call (issue 15): jfa.torch.attention on tiny tensors
(default CPU, B = H = 1, N = D = 8, float32), where the kernel costs microseconds and what is timed
is the Python / ctypes / autograd work around it. Paths: plain forward (no grad), forward with
requires_grad + backward (torch.autograd.grad), forward-AD dual JVP (make_dual inputs in an open
dual level, one call), the JVP through torch.func.jvp (functorch.jvp on torch 1.13) and, on torch >= 2.0,
an HVP of sum(attention^2) in (q, k, v) through torch.func.jvp(torch.func.grad(...)). Each path
also runs with the attention replaced by a trivial op (`q + k + v`, its "floor"): what torch's
transform machinery costs whatever the op, which jfa cannot remove. --iters timings of --batch
calls each, printed as best / median: on the CPU the thread's CPU time (time.thread_time:
what another process on a shared machine does not inflate), on CUDA time.perf_counter with each
batch synchronised at its end (--clock picks either).

    PYTHONPATH=python JFA_LIBRARY=build-cpu/libjfa.so /usr/bin/python3 bench/bench_host.py \
        [--device cpu] [--dtype float32] [--iters 21] [--batch 2000] [--profile PATH]
    # on a GPU (host time of each path at a size whose kernels take microseconds):
    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bench_host.py --device cuda --dtype bfloat16 \
        --shape 1,1,64,64 --iters 21 --batch 500

Last lines: the bare C calls on views built once (the "kernel" of these sizes).

--profile PATH: also a cProfile of each jfa path (sorted by own time, top 25 lines) in PATH.
"""
import argparse
import cProfile
import functools
import io
import os
import pstats
import sys
import time

import torch
import torch.autograd.forward_ad as fwAD

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))  # PYTHONPATH first
import jfa.torch as jt  # noqa: E402
from timing import host_us  # noqa: E402

try:
    from torch.func import jvp as func_jvp  # torch >= 2.0
    JVP_NAME = "torch.func.jvp"
except ImportError:
    try:
        from functorch import jvp as func_jvp  # torch 1.13
        JVP_NAME = "functorch.jvp"
    except ImportError:
        func_jvp, JVP_NAME = None, None


def paths(att, q, k, v, tq, tk, tv, qq, kk, vv):
    """The call paths around the attention op `att(q, k, v)`."""
    def fwd():
        with torch.no_grad():
            att(q, k, v)

    def fwd_bwd():
        o = att(qq, kk, vv)
        torch.autograd.grad(o, (qq, kk, vv), tq)

    def dual():
        with torch.no_grad(), fwAD.dual_level():
            o = att(fwAD.make_dual(q, tq), fwAD.make_dual(k, tk), fwAD.make_dual(v, tv))
            fwAD.unpack_dual(o)

    out = [("forward (no grad)", fwd), ("forward + backward", fwd_bwd), ("dual JVP (fwAD)", dual)]
    if func_jvp is not None:
        def fjvp():
            with torch.no_grad():
                func_jvp(att, (q, k, v), (tq, tk, tv))
        out.append((JVP_NAME, fjvp))
    if hasattr(torch, "func") and hasattr(torch.func, "grad"):  # torch >= 2.0
        def loss(x, y, z):
            return (att(x, y, z).float() ** 2).sum()

        def fhvp():  # forward-over-reverse: an HVP of a loss of the attention in (q, k, v) (issue 20)
            torch.func.jvp(torch.func.grad(loss, argnums=(0, 1, 2)), (q, k, v), (tq, tk, tv))
        out.append(("HVP (torch.func.jvp of grad)", fhvp))
    return out


def c_times(q, k, v, tq, tk, tv, causal, window, timed, iters, batch, sync):
    """Best microseconds of the bare C calls (jfa_attention_forward, _forward_jvp, forward + backward) on
    views built once: what a call costs without the binding (None with a binding that lacks _core._view)."""
    from jfa import _lib
    from jfa.torch import _api, _core
    if not hasattr(_core, "_view"):
        return None
    cfg = _api._config(None, _lib.MASK_CAUSAL_TOP_LEFT if causal else _lib.MASK_NONE, window)
    ctx, pref = _core.context_for(q), _core._params(cfg)[2]
    o, lse, od, mu = _core.forward(q, k, v, cfg, tq, tk, tv)
    dq, dk, dv = (torch.empty_like(x) for x in (q, k, v))
    V = _core._view
    f = [V(t) for t in (q, k, v, o, lse)]
    j = [V(t) for t in (q, k, v, tq, tk, tv, o, lse, od, mu)]
    b = [V(t) for t in (q, k, v, o, lse, tq, dq, dk, dv)]
    tf = timed(lambda: ctx.c_forward(ctx.handle, pref, *f), iters, batch, sync)[0]
    tj = timed(lambda: ctx.c_forward_jvp(ctx.handle, pref, *j), iters, batch, sync)[0]
    tb = timed(lambda: ctx.c_backward(ctx.handle, pref, *b), iters, batch, sync)[0]
    return tf, tj, tf + tb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--shape", default="1,1,8,8", help="B,H,N,D")
    ap.add_argument("--causal", type=int, default=1)
    ap.add_argument("--window", type=int, default=-1, help="W >= 0: a causal window of W keys left (window=(W, 0))")
    ap.add_argument("--iters", type=int, default=21)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--profile", default=None)
    ap.add_argument("--clock", choices=("auto", "wall", "thread"), default="auto",
                    help="thread: this thread's CPU time (steady on a shared machine; the default on the CPU), "
                         "wall: time.perf_counter (the default on CUDA, where a batch ends synchronised)")
    a = ap.parse_args()
    thread = a.clock == "thread" or (a.clock == "auto" and a.device == "cpu")
    timed = functools.partial(host_us, clock=time.thread_time if thread else time.perf_counter)
    dev, dt = torch.device(a.device), getattr(torch, a.dtype)
    B, H, N, D = (int(x) for x in a.shape.split(","))
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    mk = lambda: torch.randn(B, H, N, D, device=dev, dtype=dt)
    q, k, v, tq, tk, tv = (mk() for _ in range(6))
    qq, kk, vv = (x.detach().requires_grad_() for x in (q, k, v))
    causal = bool(a.causal) or a.window >= 0
    window = (a.window, 0) if a.window >= 0 else None

    def jfa_att(x, y, z):
        return jt.attention(x, y, z, is_causal=causal, window=window)

    def floor_att(x, y, z):
        return x + y + z

    print("torch %s, %s %s, (B, H, N, D) = (%d, %d, %d, %d), causal %d, window %s; %d x %d calls, %s clock, us per call"
          % (torch.__version__, a.device, a.dtype, B, H, N, D, causal, window, a.iters, a.batch,
             "thread CPU" if thread else "wall"))
    print("| path | jfa.torch.attention | floor (q + k + v) | jfa - floor (best) |")
    print("|---|---|---|---|")
    prof_out = []
    for (name, fn), (_, floor_fn) in zip(paths(jfa_att, q, k, v, tq, tk, tv, qq, kk, vv),
                                         paths(floor_att, q, k, v, tq, tk, tv, qq, kk, vv)):
        f = timed(floor_fn, a.iters, a.batch, sync)
        try:
            t = timed(fn, a.iters, a.batch, sync)
        except RuntimeError as e:  # e.g. torch 1.13's functorch.jvp refuses autograd.Function
            print("| %s | refused: %s | %.1f / %.1f | |" % (name, str(e).split(".")[0][:100], f[0], f[1]))
            continue
        print("| %s | %.1f / %.1f | %.1f / %.1f | %.1f |" % (name, t[0], t[1], f[0], f[1], t[0] - f[0]))
        sys.stdout.flush()
        if a.profile:
            pr = cProfile.Profile()
            pr.enable()
            for _ in range(a.batch):
                fn()
            pr.disable()
            s = io.StringIO()
            pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(25)
            prof_out.append("==== %s (%d calls)\n%s" % (name, a.batch, s.getvalue()))
    c = c_times(q, k, v, tq, tk, tv, causal, window, timed, a.iters, a.batch, sync)
    if c is not None:
        print("C calls alone (prebuilt views, the 'kernel' here): forward %.1f, forward_jvp %.1f, forward + "
              "backward %.1f us" % c)
    if a.profile:
        with open(a.profile, "w") as f:
            f.write("\n".join(prof_out))


if __name__ == "__main__":
    main()
