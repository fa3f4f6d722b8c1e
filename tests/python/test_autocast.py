"""
test_autocast.py - jfa.torch under torch.autocast, as F.scaled_dot_product_attention (aten's
lower_precision_fp policy): on CUDA, query, key, value and a floating attn_mask (float64 excepted)
cast to the autocast dtype, output in that dtype, gradients back to the inputs' own dtypes; the
Triton package's drop-in keeps its inputs' dtype; the CPU backend computes as outside autocast.

The CPU tests check the rules (_autocast.cast) and the entry points' wiring with a stand-in autocast
state (float64 as the "autocast dtype" of CPU tensors, which the CPU backend takes); the gpu-marked
ones run torch.autocast itself on CUDA.
"""
import contextlib

import pytest
import torch

import jfa.torch as jt
from jfa.torch import _autocast
from jfa.torch.jvp_attention import attention as jvp_attention


def test_cast_rules():
    x = torch.randn(2, 3)
    out = _autocast.cast((x, x.double(), None, torch.ones(2, dtype=torch.bool), x.bfloat16(),
                          torch.arange(3)), torch.float16)
    assert out[0].dtype == torch.float16 and torch.equal(out[0], x.half())
    assert out[1].dtype == torch.float64 and out[1] is not None  # float64: left alone (autocast's rule)
    assert out[2] is None
    assert out[3].dtype == torch.bool
    assert out[4].dtype == torch.float16  # another low precision dtype is cast too
    assert out[5].dtype == torch.int64
    same = torch.randn(2, dtype=torch.float16)
    assert _autocast.cast((same,), torch.float16)[0] is same


def test_cpu_autocast_computes_as_outside():
    torch.manual_seed(0)
    q, k, v = (torch.randn(1, 2, 9, 8) for _ in range(3))
    ref = jt.attention(q, k, v, is_causal=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        o = jt.attention(q, k, v, is_causal=True)
        od = jvp_attention(q, k, v, causal=True)
    assert o.dtype == torch.float32 and torch.equal(o, ref)
    assert od.dtype == torch.float32 and torch.equal(od, ref)


@pytest.fixture
def stand_in(monkeypatch):
    """A stand-in autocast for CPU tensors whose dtype is float64 (the CPU backend's): dtype_for answers it while
    on, off() turns it off for its block, as torch.autocast(enabled=False) does."""
    state = {"on": True}

    def dtype_for(device_type):
        return torch.float64 if device_type == "cpu" and state["on"] else None

    @contextlib.contextmanager
    def off(device_type):
        prev = state["on"]
        state["on"] = False
        try:
            yield
        finally:
            state["on"] = prev

    monkeypatch.setattr(_autocast, "dtype_for", dtype_for)
    monkeypatch.setattr(_autocast, "off", off)
    return state


def test_entry_points_cast_under_stand_in(stand_in):
    torch.manual_seed(1)
    q = torch.randn(2, 4, 7, 8, requires_grad=True)
    k = torch.randn(2, 2, 9, 8, requires_grad=True)
    v = torch.randn(2, 2, 9, 8, dtype=torch.float64, requires_grad=True)  # mixed dtypes: cast to one
    bias = torch.randn(7, 9)  # a floating mask: cast too
    o = jt.attention(q, k, v, attn_mask=bias, enable_gqa=True)
    assert o.dtype == torch.float64
    stand_in["on"] = False
    ref = jt.attention(q.double(), k.double(), v, attn_mask=bias.double(), enable_gqa=True)
    assert torch.equal(o, ref)
    stand_in["on"] = True
    g = torch.randn_like(o)
    dq, dk, dv = torch.autograd.grad(o, (q, k, v), g)
    assert (dq.dtype, dk.dtype, dv.dtype) == (torch.float32, torch.float32, torch.float64)
    stand_in["on"] = False
    rq, rk, rv = torch.autograd.grad(ref, (q, k, v), g)
    assert torch.equal(dq, rq) and torch.equal(dk, rk) and torch.equal(dv, rv)
    stand_in["on"] = True
    # the drop-in: no cast, its inputs' dtype (float32 here, mixed dtypes refused as without autocast)
    q32, k32, v32 = q.detach(), k.detach(), v.detach().float()
    assert jvp_attention(q32, k32.repeat_interleave(2, 1), v32.repeat_interleave(2, 1)).dtype == torch.float32
    # varlen: cast as attention's
    qv, kv, vv = torch.randn(10, 2, 8), torch.randn(10, 2, 8), torch.randn(10, 2, 8)
    ov = jt.varlen_attention(qv, kv, vv, [0, 4, 10], is_causal=True)
    assert ov.dtype == torch.float64
    stand_in["on"] = False
    assert torch.equal(ov, jt.varlen_attention(qv.double(), kv.double(), vv.double(), [0, 4, 10], is_causal=True))


def test_forward_ad_under_stand_in(stand_in):
    import torch.autograd.forward_ad as fwAD
    torch.manual_seed(2)
    q, k, v, tq = (torch.randn(1, 2, 6, 8) for _ in range(4))
    with fwAD.dual_level():
        o = jt.attention(fwAD.make_dual(q, tq), k, v, is_causal=True)
        p, t = fwAD.unpack_dual(o)
    assert p.dtype == torch.float64 and t is not None and t.dtype == torch.float64
    stand_in["on"] = False
    with fwAD.dual_level():
        r = jt.attention(fwAD.make_dual(q.double(), tq.double()), k.double(), v.double(), is_causal=True)
        rp, rt = fwAD.unpack_dual(r)
    assert torch.equal(p, rp) and torch.equal(t, rt)


@pytest.mark.gpu
@pytest.mark.parametrize("ac", [torch.bfloat16, torch.float16])
def test_cuda_autocast(ac):
    torch.manual_seed(3)
    dev = "cuda"
    q = torch.randn(2, 4, 130, 64, device=dev, requires_grad=True)
    k = torch.randn(2, 2, 150, 64, device=dev, dtype=torch.bfloat16, requires_grad=True)
    v = torch.randn(2, 2, 150, 64, device=dev, requires_grad=True)
    bias = torch.randn(130, 150, device=dev)
    keep = torch.rand(2, 1, 1, 150, device=dev) > 0.2
    with torch.autocast("cuda", dtype=ac):
        o = jt.attention(q, k, v, attn_mask=bias, enable_gqa=True)
        ob = jt.attention(q, k, v, attn_mask=keep, is_causal=True, enable_gqa=True)
        odrop = jvp_attention(q.detach(), q.detach(), q.detach(), causal=True)
    assert o.dtype == ac and ob.dtype == ac
    assert odrop.dtype == torch.float32  # the drop-in: its inputs' dtype, as the Triton package's kernels
    ref = jt.attention(q.to(ac), k.to(ac), v.to(ac), attn_mask=bias.to(ac), enable_gqa=True)
    refb = jt.attention(q.to(ac), k.to(ac), v.to(ac), attn_mask=keep, is_causal=True, enable_gqa=True)
    assert torch.equal(o, ref) and torch.equal(ob, refb)
    g = torch.randn_like(o)
    grads = torch.autograd.grad(o, (q, k, v), g)
    assert [x.dtype for x in grads] == [torch.float32, torch.bfloat16, torch.float32]
    rgrads = torch.autograd.grad(ref, (q, k, v), g)
    for a, b in zip(grads, rgrads):  # dQ's float32 adds may come in another order (atomics): not bitwise
        torch.testing.assert_close(a, b, atol=1e-2, rtol=1e-2)
    # SDPA itself under the same autocast: same output dtype
    with torch.autocast("cuda", dtype=ac):
        s = torch.nn.functional.scaled_dot_product_attention(q, k.float().repeat_interleave(2, 1),
                                                             v.repeat_interleave(2, 1), attn_mask=bias)
    assert s.dtype == o.dtype
    torch.testing.assert_close(o.float(), s.float(), atol=2e-2, rtol=2e-2)
