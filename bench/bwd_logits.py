#!/usr/bin/env python3
"""bwd_logits.py - the backward's accuracy at large logits, jfa against PyTorch's SDPA backends on the same inputs.

Issue 19's check: q, k ~ N(0, 30^2), v and dO ~ N(0, 1) (one-hot-like softmax rows, where a second rounding of P or
an exponent that differs from the forward's costs digits), causal, in bf16 / fp16; every library's dQ, dK, dV (and
O) against float64 math on the same rounded inputs, as relative Frobenius errors. jfa runs its default dispatch
(jfa.torch.attention: the sm90 backward at D = 64 / 128), SDPA each backend that takes the call (cuDNN, flash, efficient, math in
the input dtype). Seeded; prints the seed.

    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/bwd_logits.py [--seed 1] [--shapes 64:512,128:512]
"""
import argparse
import os
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import jfa.torch as jt  # noqa: E402


def rel(x, ref):
    return ((x.double() - ref).norm() / ref.norm().clamp_min(1e-300)).item()


def grads(fn, q, k, v, do):
    qq, kk, vv = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
    o = fn(qq, kk, vv)
    o.backward(do)
    return o.detach(), qq.grad, kk.grad, vv.grad


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--shapes", default="64:512,128:512,64:2048", help="D:N pairs")
    ap.add_argument("--sigma", type=float, default=30.0, help="the standard deviation of q and k")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--heads", type=int, default=8)
    a = ap.parse_args()
    print("# bwd_logits: seed %d, q, k ~ N(0, %g^2), causal, torch %s, %s" % (
        a.seed, a.sigma, torch.__version__, torch.cuda.get_device_name()))
    print("| dtype | D | N | library | O | dQ | dK | dV |")
    print("|---|---|---|---|---|---|---|---|")
    for dt in (torch.bfloat16, torch.float16):
        for shape in a.shapes.split(","):
            D, N = (int(x) for x in shape.split(":"))
            g = torch.Generator(device="cuda").manual_seed(a.seed)
            B, H = a.batch, a.heads
            q, k = (torch.randn(B, H, N, D, device="cuda", generator=g) * a.sigma for _ in range(2))
            v, do = (torch.randn(B, H, N, D, device="cuda", generator=g) for _ in range(2))
            q, k, v, do = (t.to(dt) for t in (q, k, v, do))  # the rounded inputs every library gets
            ref = grads(lambda x, y, z: F.scaled_dot_product_attention(x, y, z, is_causal=True),
                        *(t.double() for t in (q, k, v, do)))
            rows = [("jfa", lambda x, y, z: jt.attention(x, y, z, is_causal=True))]
            for name, be in (("sdpa cudnn", SDPBackend.CUDNN_ATTENTION), ("sdpa flash", SDPBackend.FLASH_ATTENTION),
                             ("sdpa efficient", SDPBackend.EFFICIENT_ATTENTION), ("sdpa math", SDPBackend.MATH)):
                def f(x, y, z, be=be):
                    with sdpa_kernel(be):
                        return F.scaled_dot_product_attention(x, y, z, is_causal=True)
                rows.append((name, f))
            for name, fn in rows:
                try:
                    out = grads(fn, q, k, v, do)
                except Exception as e:  # a backend that does not take the call
                    print("# %s %s D=%d N=%d: %s" % (name, dt, D, N, str(e)[:100]), file=sys.stderr)
                    continue
                print("| %s | %d | %d | %s | %s |" % (str(dt)[6:], D, N, name,
                                                      " | ".join("%.2e" % rel(x, r) for x, r in zip(out, ref))))
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
