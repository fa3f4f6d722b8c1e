"""
readme_cpu.py - the README's PyTorch example; runs as written on a CPU (torch >= 1.13).
The torch.func.jvp lines need torch >= 2.0 and are skipped before; on a GPU use
device="cuda" and dtype=torch.bfloat16 (or float16/float32).
"""
import torch
import torch.autograd.forward_ad as fwAD

import jfa
from jfa.torch import attention  # SDPA's signature (the package's: jfa.torch.jvp_attention)

torch.manual_seed(0)
q, k, v = (torch.randn(2, 4, 128, 64, dtype=torch.float64, requires_grad=True) for _ in range(3))  # CPU: f64/f32
tq, tk, tv = (torch.randn_like(x) for x in (q, k, v))

# forward-mode AD with dual tensors (torch >= 1.13): primal and tangent from one fused call
with fwAD.dual_level():
    out, dout_dt = fwAD.unpack_dual(attention(fwAD.make_dual(q, tq), fwAD.make_dual(k, tk), fwAD.make_dual(v, tv),
                                              is_causal=True))
loss = (out - dout_dt.detach()).square().mean()  # an sCM/MeanFlow-style target: the tangent is detached
loss.backward()  # reverse mode through the primal

if hasattr(torch, "func"):  # torch >= 2.0: the same with torch.func.jvp
    out2, dout_dt2 = torch.func.jvp(lambda a, b, c: attention(a, b, c, is_causal=True), (q, k, v), (tq, tk, tv))
    assert torch.allclose(dout_dt2, dout_dt)

# the same attention from its definition, to compare
causal = torch.ones(128, 128, dtype=torch.bool).tril()
ref = torch.softmax((q @ k.transpose(-1, -2) / 8).masked_fill(~causal, float("-inf")), -1) @ v
print("jfa %s from %s" % (".".join(map(str, jfa.version())), jfa.__file__))
print("max |O - reference| = %.1e, |dL/dq| = %.3f" % ((out - ref).abs().max().item(), q.grad.norm().item()))
