"""backends.py - the attention libraries the benchmarks compare jfa with, loaded one way for all of
them (bench_lanes.py, bench_second_order.py, train_step.py):

    sdpa_math(is_causal)  -> (attend(q, k, v), label): F.scaled_dot_product_attention restricted to its
                             math backend (torch.nn.attention.sdpa_kernel on torch >= 2.3, the older
                             torch.backends.cuda.sdp_kernel before), or, on a torch without SDPA (Debian's
                             1.13), the same math in plain ops (softmax written out, causal top-left)
    triton_jvpattn(path)  -> the Triton JVP package's JVPAttn class, from the folder `path` that holds
                             jvp_flash_attention/ (a copy of shared/seed); raises what the import raises
    triton_or_none(path)  -> the same, or None (the reason printed) without a path or when the import fails
    package_attend(JVPAttn, attn_mask, causal) -> attend(q, k, v): the package's fwd, or its fwd_dual when q carries
                             a forward-mode tangent (dual tensors), as a user's call reaches them
"""
import contextlib
import os
import sys

import torch
import torch.nn.functional as F


def _math_context(device_type):
    if device_type != "cuda":
        return contextlib.nullcontext()  # the math backend is the CPU's only one
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        return sdpa_kernel([SDPBackend.MATH])
    except ImportError:
        return torch.backends.cuda.sdp_kernel(enable_flash=False, enable_math=True, enable_mem_efficient=False)


def _written_out(q, k, v, is_causal):
    s = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    if is_causal:
        keep = torch.ones(s.shape[-2:], dtype=torch.bool, device=s.device).tril()
        s = s.masked_fill(~keep, float("-inf"))
    if s.dtype in (torch.float16, torch.bfloat16):
        return torch.softmax(s.float(), -1).to(q.dtype) @ v
    return torch.softmax(s, -1) @ v


def sdpa_math(is_causal=False):
    """(attend, label): attention by SDPA's math backend, or the same math in plain ops."""
    if not hasattr(F, "scaled_dot_product_attention"):
        return (lambda q, k, v: _written_out(q, k, v, is_causal)), \
            "math (plain ops; torch %s has no SDPA)" % torch.__version__

    def attend(q, k, v):
        with _math_context(q.device.type):
            return F.scaled_dot_product_attention(q, k, v, is_causal=is_causal)
    return attend, "math (SDPA MATH backend)"


def triton_jvpattn(path):
    """The Triton package's JVPAttn (fwd, fwd_dual) from the folder holding jvp_flash_attention/."""
    path = os.path.abspath(path)
    if path not in sys.path:
        sys.path.insert(0, path)
    from jvp_flash_attention.jvp_attention import JVPAttn
    return JVPAttn


def triton_or_none(path):
    """triton_jvpattn(path), or None (with a "# triton package unavailable" line) when path is None or the
    import fails (no Triton, no GPU): the benchmark's table then says so."""
    if not path:
        return None
    try:
        return triton_jvpattn(path)
    except Exception as e:
        print("# triton package unavailable: %s" % e)
        return None


def package_attend(pkg, attn_mask, causal):
    """attend(q, k, v) through the Triton package's JVPAttn pkg: fwd_dual when q is a dual tensor with a tangent (its
    fused JVP), else fwd."""
    import torch.autograd.forward_ad as fwAD

    def attend(q, k, v):
        if fwAD.unpack_dual(q).tangent is not None:
            return pkg.fwd_dual(q, k, v, attn_mask=attn_mask, causal=causal)
        return pkg.fwd(q, k, v, attn_mask=attn_mask, causal=causal)
    return attend
