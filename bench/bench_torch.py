#!/usr/bin/env python3
"""bench_torch.py - jfa.torch (the Python binding) against the C benchmark and PyTorch.

For each case (bf16, BSHD storage, B*N = 16384, H*D = 2048, as jfa_bench):
  - jfa through C (`jfa_bench --case N D causal --csv`, the same process tree, same GPU),
  - jfa.torch.attention: forward, JVP (primal + tangent, one fused call) on forward-AD dual
    tensors and through torch.func.jvp, backward through torch.autograd.grad on the saved graph
    and the binding's backward call alone (without autograd's engine),
  - PyTorch SDPA with the cuDNN and flash backends (forward; backward = fwd+bwd - fwd),
  - torch.func.jvp over SDPA's math backend (where its N x N intermediates fit).
Times are medians of CUDA-event timings of single calls after warm-up (the C benchmark's
method), and, for the Python calls, also of 10 back-to-back calls (host overhead hidden
by the queue, as in training). TFLOP/s: fwd = 4 B H N^2 D (halved when causal), JVP = 3x,
bwd = 2.5x. The Python overhead is (python / C - 1) per op.

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bench_torch.py build/bench/jfa_bench \
        [--cases 4096:128:0,4096:128:1] [--iters 30]
"""
import argparse
import csv
import io
import os
import subprocess
import sys

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402
from timing import median_ms  # noqa: E402


def c_times(exe, N, D, causal, iters):
    env = dict(os.environ, JFA_BENCH_ITERS=str(iters))
    out = subprocess.run([exe, "--csv", "--case", str(N), str(D), str(causal), "bf16"], check=True,
                         capture_output=True, text=True, env=env).stdout
    return {r["op"]: float(r["ms"]) for r in csv.DictReader(io.StringIO(out))}


def case(exe, N, D, causal, iters):
    B, H = max(16384 // N, 1), max(2048 // D, 1)
    dev = "cuda"
    mk = lambda: torch.randn(B, N, H, D, device=dev, dtype=torch.bfloat16).transpose(1, 2)  # BSHD storage
    q, k, v, do, tq, tk, tv = (mk() for _ in range(7))
    c = bool(causal)
    res = {"C": c_times(exe, N, D, causal, iters)}
    py = {}
    with torch.no_grad():
        f = lambda: jt.attention(q, k, v, is_causal=c)
        py["fwd"] = (median_ms(f, iters), median_ms(f, max(iters // 3, 5), batch=10))
        with fwAD.dual_level():  # forward-AD dual tensors: the binding's own cost
            duals = [fwAD.make_dual(a, b) for a, b in ((q, tq), (k, tk), (v, tv))]
            g = lambda: jt.attention(*duals, is_causal=c)
            py["jvp"] = (median_ms(g, iters), median_ms(g, max(iters // 3, 5), batch=10))
        if hasattr(torch, "func"):  # torch.func.jvp adds functorch's wrapping to the same call
            g = lambda: torch.func.jvp(lambda a, b, d: jt.attention(a, b, d, is_causal=c), (q, k, v), (tq, tk, tv))
            py["jvp (torch.func)"] = (median_ms(g, iters), median_ms(g, max(iters // 3, 5), batch=10))
    qq, kk, vv = (x.detach().requires_grad_() for x in (q, k, v))
    o = jt.attention(qq, kk, vv, is_causal=c)
    h = lambda: torch.autograd.grad(o, (qq, kk, vv), do, retain_graph=True)
    py["bwd"] = (median_ms(h, iters), median_ms(h, max(iters // 3, 5), batch=10))
    # the binding's backward call alone (what autograd's engine thread calls)
    from jfa.torch import _core
    cfg = _core.Config(None, 1 if c else 0)
    o2, lse, _, _ = _core.forward(q, k, v, cfg)
    h2 = lambda: _core.backward(q, k, v, o2, lse, do, cfg)
    py["bwd (binding call)"] = (median_ms(h2, iters), median_ms(h2, max(iters // 3, 5), batch=10))
    res["py"] = py
    # the C calls alone in this process, on the same tensors (prebuilt views and outputs, no lse / mu, as
    # the binding's no-grad forward and dual JVP ask): the binding's overhead without the cross-process
    # differences (inputs, clocks) of the C benchmark's figure
    ctx, pref = _core.context_for(q), _core._params(cfg)[2]
    o3, od3 = torch.empty_like(q), torch.empty_like(q)
    vf = [_core._view(t) for t in (q, k, v, o3)]
    vj = [_core._view(t) for t in (q, k, v, tq, tk, tv, o3)]
    fd = lambda: _core._call(ctx.c_forward(ctx.handle, pref, *vf, None))
    jd = lambda: _core._call(ctx.c_forward_jvp(ctx.handle, pref, *vj, None, _core._view(od3), None))
    res["direct"] = {"fwd": (median_ms(fd, iters), median_ms(fd, max(iters // 3, 5), batch=10)),
                     "jvp": (median_ms(jd, iters), median_ms(jd, max(iters // 3, 5), batch=10))}
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        for name, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
            try:
                with sdpa_kernel(be):
                    fw = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=c), iters)
                    both = median_ms(lambda: torch.autograd.grad(
                        F.scaled_dot_product_attention(qq, kk, vv, is_causal=c), (qq, kk, vv), do), iters)
                    res[name] = (fw, max(both - fw, 1e-6))
            except Exception as e:
                print("# %s N=%d D=%d: %s" % (name, N, D, str(e)[:100]), file=sys.stderr)
        if B * H * N * N * 2 * 8 < 40e9:
            with sdpa_kernel(SDPBackend.MATH), torch.no_grad():
                mf = lambda a, b, d: F.scaled_dot_product_attention(a, b, d, is_causal=c)
                res["jvp_math"] = median_ms(lambda: torch.func.jvp(mf, (q, k, v), (tq, tk, tv)),
                                            max(iters // 4, 3), 1)
            torch.cuda.empty_cache()
    except ImportError:
        pass
    return B, H, res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jfa_bench")
    ap.add_argument("--cases", default="4096:128:0,4096:128:1,16384:128:0,4096:64:0")
    ap.add_argument("--iters", type=int, default=30)
    a = ap.parse_args()
    print("torch %s, %s; bf16, BSHD; TFLOP/s (jfa convention); overhead = python/C - 1 (single calls); "
          "direct = the C call alone in this process on the same tensors (single / 10 queued), vs direct = "
          "python/direct - 1 (single / queued)" % (torch.__version__, torch.cuda.get_device_name()))
    hdr = ["N", "D", "causal", "op", "C ms", "py ms", "py ms (10 queued)", "overhead", "jfa TFLOP/s",
           "cuDNN", "flash", "torch.func.jvp math", "direct ms", "vs direct"]
    print(" | ".join(hdr))
    for spec in a.cases.split(","):
        N, D, causal = (int(x) for x in spec.split(":"))
        B, H, r = case(a.jfa_bench, N, D, causal, a.iters)
        fl = 4.0 * B * H * N * N * D * (0.5 if causal else 1.0)
        for op, mult in (("fwd", 1.0), ("jvp", 3.0), ("jvp (torch.func)", 3.0), ("bwd", 2.5),
                         ("bwd (binding call)", 2.5)):
            cms = r["C"][op.split()[0]]
            if op not in r["py"]:
                continue
            pms, pq = r["py"][op]
            tf = lambda ms: "%.1f" % (fl * mult / (ms * 1e-3) / 1e12) if ms else "-"
            other = {"fwd": [r.get("cudnn", (None,))[0], r.get("flash", (None,))[0], None],
                     "bwd": [r.get("cudnn", (None, None))[1], r.get("flash", (None, None))[1], None],
                     "jvp": [None, None, None], "jvp (torch.func)": [None, None, r.get("jvp_math")],
                     "bwd (binding call)": [None, None, None]}[op]
            cells = [N, D, causal, op, "%.3f" % cms, "%.3f" % pms, "%.3f" % pq, "%+.1f%%" % (100 * (pms / cms - 1)),
                     tf(pms)] + [tf(x) for x in other]
            d = r.get("direct", {}).get(op.split()[0])
            if d and op != "bwd (binding call)" and not op.startswith("bwd"):
                cells += ["%.3f / %.3f" % d, "%+.1f%% / %+.1f%%" % (100 * (pms / d[0] - 1), 100 * (pq / d[1] - 1))]
            else:
                cells += ["-", "-"]
            print(" | ".join(str(x) for x in cells), flush=True)


if __name__ == "__main__":
    main()
