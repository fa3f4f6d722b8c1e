"""
consistency_training.py - a small MeanFlow-style consistency model trained with jfa
attention: the loss needs the JVP of the whole network (through every attention
layer) in the direction of the flow, which jfa computes fused with the forward.

The model u(z, r, t) is a tiny transformer over sequences of tokens; the data are
smooth random curves it makes itself (sums of sines with random phases). MeanFlow
(Geng et al., 2025): z_t = (1 - t) x + t e, v = e - x,
    target = v - (t - r) * d/dt u(z_t, r, t),  d/dt u = J_z u . v + J_t u . 1,
    loss = |u(z_t, r, t) - stopgrad(target)|^2,
so every step is one forward with the tangent through every block, the loss on the
primal, and one backward. A one-step sample is x = e - u(e, 0, 1).

    python3 examples/consistency_training.py                 # CPU, about a minute (2 cores)
    python3 examples/consistency_training.py --tiny          # a few seconds (CI)
    python3 examples/consistency_training.py --device cuda --dtype bfloat16 --width 512 --seq 1024
    torchrun --nproc_per_node=2 examples/consistency_training.py [--device cuda]   # ring attention:
        each rank holds 1/P of every sequence (zigzag); jfa.torch.ring_attention

The JVP: torch.func.jvp on torch >= 2.0; forward-AD dual tensors on torch 1.13
(--jvp dual forces those). --attention math runs the same model on attention
written with plain torch ops (the reference; single process only).

Switching from the Triton JVP package is one import line:
    from jvp_flash_attention.jvp_attention import attention as jvp_attention   # before
    from jfa.torch.jvp_attention import attention as jvp_attention            # jfa
(the call jvp_attention(q, k, v, causal=..., sm_scale=...) is the same; this script
calls jfa.torch.attention, whose signature is F.scaled_dot_product_attention's).
"""
import argparse
import math
import os
import sys
import time

import torch
import torch.autograd.forward_ad as fwAD
import torch.distributed as dist
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))  # a source checkout
import jfa.torch as jt  # noqa: E402

HAS_FUNC = hasattr(torch, "func") and hasattr(torch.func, "jvp")


def math_attention(q, k, v):
    """Attention from plain torch ops (differentiable in every mode): the reference."""
    s = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    if s.dtype in (torch.float16, torch.bfloat16):
        return torch.softmax(s.float(), -1).to(q.dtype) @ v
    return torch.softmax(s, -1) @ v


class Block(nn.Module):
    def __init__(self, width, heads, attend):
        super().__init__()
        self.heads, self.attend = heads, attend
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def norm(self, ln, x):
        # LayerNorm in float32 for 16-bit activations (the usual mixed-precision practice); the
        # cast back also gives the tangent the activations' dtype. A bf16 training step under
        # torch.func.jvp on CUDA (torch 2.11) failed in a Linear with "float != BFloat16"; a
        # float32 tangent out of layer_norm is the likely cause (not yet confirmed on a GPU).
        if x.dtype in (torch.float16, torch.bfloat16):
            return torch.nn.functional.layer_norm(x.float(), ln.normalized_shape, ln.weight.float(), ln.bias.float(),
                                                  ln.eps).to(x.dtype)
        return ln(x)

    def forward(self, x):
        B, N, W = x.shape
        q, k, v = self.qkv(self.norm(self.norm1, x)).view(B, N, 3, self.heads, W // self.heads).unbind(2)
        # (B, N, H, D) viewed as (B, H, N, D): jfa reads these strides in place, no copy
        o = self.attend(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        x = x + self.proj(o.transpose(1, 2).reshape(B, N, W))
        return x + self.mlp(self.norm(self.norm2, x))


class MeanFlowNet(nn.Module):
    """u(z, r, t): tokens of `channels` values, a width-W transformer, time features of (r, t)."""

    def __init__(self, channels, width, heads, depth, seq, attend):
        super().__init__()
        self.inp, self.out = nn.Linear(channels, width), nn.Linear(width, channels)
        self.pos = nn.Parameter(torch.randn(seq, width) * 0.02)
        self.time = nn.Sequential(nn.Linear(32, width), nn.SiLU(), nn.Linear(width, width))
        self.blocks = nn.ModuleList(Block(width, heads, attend) for _ in range(depth))
        self.freq = nn.Parameter(torch.exp(torch.linspace(0, math.log(100.0), 8)), requires_grad=False)
        self.pos_index = None  # the global positions this rank holds (ring), None = all

    def forward(self, z, r, t):
        f = torch.cat([torch.sin(t[:, None] * self.freq), torch.cos(t[:, None] * self.freq),
                       torch.sin((t - r)[:, None] * self.freq), torch.cos((t - r)[:, None] * self.freq)], -1)
        pos = self.pos if self.pos_index is None else self.pos[self.pos_index]
        x = self.inp(z) + pos + self.time(f.to(z.dtype))[:, None]
        for b in self.blocks:
            x = b(x)
        return self.out(x)


def make_data(n, seq, channels, gen, device, dtype):
    """Smooth random curves: per channel a sum of two sines with random phase and amplitude."""
    s = torch.linspace(0, 2 * math.pi, seq)
    ph = torch.rand(n, 2, channels, generator=gen) * 2 * math.pi
    amp = 0.5 + torch.rand(n, 2, channels, generator=gen)
    x = amp[:, 0, None] * torch.sin(s[None, :, None] + ph[:, 0, None]) + \
        0.5 * amp[:, 1, None] * torch.sin(3 * s[None, :, None] + ph[:, 1, None])
    return x.to(device=device, dtype=dtype)


def meanflow_loss(model, x, e, r, t, how, outputs=False):
    """The MeanFlow loss: u and du/dt (one JVP through the model, tangent (v, 0, 1)).

    Returns (weighted loss to differentiate, plain mean squared error), and u, du/dt when
    `outputs` (bench/train_step.py compares them between attention backends)."""
    tb = t[:, None, None].to(x.dtype)
    z = (1 - tb) * x + tb * e
    v = e - x
    if how == "func":
        u, dudt = torch.func.jvp(lambda z_, t_: model(z_, r, t_), (z, t), (v, torch.ones_like(t)))
    else:  # forward-AD dual tensors (torch 1.13)
        with fwAD.dual_level():
            out = model(fwAD.make_dual(z, v), r, fwAD.make_dual(t, torch.ones_like(t)))
            u, dudt = fwAD.unpack_dual(out)
    target = (v - (t - r)[:, None, None].to(x.dtype) * dudt).detach()
    err = (u.float() - target.float()).square().mean(dim=(1, 2))  # per sample
    # MeanFlow's adaptive weight (p = 1): the JVP term makes raw L2 unstable early on
    wloss = (err / (err.detach() + 1e-2)).mean()
    return (wloss, err.detach().mean(), u, dudt) if outputs else (wloss, err.detach().mean())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64", "bfloat16", "float16"])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jvp", choices=["auto", "func", "dual"], default="auto")
    ap.add_argument("--attention", choices=["jfa", "math"], default="jfa")
    ap.add_argument("--layout", choices=["zigzag", "contiguous"], default="zigzag")
    ap.add_argument("--tiny", action="store_true", help="3 steps of a very small model (CI)")
    ap.add_argument("--log-every", type=int, default=10)
    a = ap.parse_args()
    if a.tiny:
        a.steps, a.batch, a.seq, a.width, a.depth, a.log_every = 3, 4, 16, 32, 1, 1
    how = ("func" if HAS_FUNC else "dual") if a.jvp == "auto" else a.jvp
    if how == "func" and not HAS_FUNC:
        sys.exit("torch.func.jvp needs torch >= 2.0 (installed: %s); use --jvp dual" % torch.__version__)

    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    device = torch.device(a.device)
    if world > 1:  # torchrun: ring attention over the sequence
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if a.attention != "jfa":
            sys.exit("--attention math runs single process only")
        attend = lambda q, k, v: jt.ring_attention(q, k, v, layout=a.layout, is_causal=False)
    elif a.attention == "jfa":
        attend = lambda q, k, v: jt.attention(q, k, v)  # was: jvp_attention(q, k, v) (Triton package)
    else:
        attend = math_attention
    dtype = getattr(torch, a.dtype)
    torch.manual_seed(a.seed)  # the same parameters on every rank
    model = MeanFlowNet(a.channels, a.width, a.heads, a.depth, a.seq, attend).to(device=device, dtype=dtype)
    if world > 1:
        idx = torch.arange(a.seq, device=device)
        model.pos_index = jt.shard(idx, rank, world, a.layout, dim=0)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(a.seed + 1)  # the same data on every rank; each keeps its rows
    say = print if rank == 0 else (lambda *x, **y: None)
    say("MeanFlow toy: %s attention%s, JVP via %s, torch %s, %s %s, %d params, batch %d x %d tokens"
        % (a.attention, " (ring, P = %d, %s)" % (world, a.layout) if world > 1 else "",
           "torch.func.jvp" if how == "func" else "dual tensors", torch.__version__, device, a.dtype,
           sum(p.numel() for p in model.parameters()), a.batch, a.seq))
    t0, first, ema = time.time(), None, None
    for step in range(1, a.steps + 1):
        x = make_data(a.batch, a.seq, a.channels, gen, device, dtype)
        e = torch.randn(x.shape, generator=gen).to(device=device, dtype=dtype)
        t = torch.rand(a.batch, generator=gen).to(device)
        # as MeanFlow: r = t (plain flow matching) for 75% of the samples, r uniform in [0, t] for the rest
        r = torch.where(torch.rand(a.batch, generator=gen) < 0.75, t.cpu(), t.cpu() * torch.rand(a.batch, generator=gen))
        r = r.to(device)
        if world > 1:
            x, e = (jt.shard(y, rank, world, a.layout, dim=1) for y in (x, e))
        wloss, loss = meanflow_loss(model, x, e, r.to(torch.float32), t.to(torch.float32), how)
        opt.zero_grad(set_to_none=True)
        wloss.backward()
        if world > 1:  # the mean over every rank's tokens: average the gradients and the loss
            for p in model.parameters():
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad.div_(world)
            loss = loss.clone()
            dist.all_reduce(loss)
            loss /= world
        if not torch.isfinite(loss):
            sys.exit("loss is not finite at step %d" % step)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        val = loss.item()
        first = val if first is None else first
        ema = val if ema is None else 0.9 * ema + 0.1 * val
        if step % a.log_every == 0 or step == a.steps:
            say("step %4d/%d  loss %.4f  (avg %.4f)  %.1f s" % (step, a.steps, val, ema, time.time() - t0))
    with torch.no_grad():  # one-step samples against fresh data: mean and spread per token
        e = torch.randn(256 if not a.tiny else 8, a.seq, a.channels, generator=gen).to(device=device, dtype=dtype)
        x = make_data(e.shape[0], a.seq, a.channels, gen, device, dtype)
        if world > 1:
            e, x = (jt.shard(y, rank, world, a.layout, dim=1) for y in (e, x))
        z = torch.zeros(e.shape[0], device=device)
        sample = e - model(e, z, z + 1)
        say("one-step samples: std %.3f (data %.3f), |mean| %.3f (data %.3f); loss (unweighted) %.4f -> %.4f"
            % (sample.float().std().item(), x.float().std().item(), sample.float().mean().abs().item(),
               x.float().mean().abs().item(), first, ema))
    if world > 1:
        jt._ring.release()
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
