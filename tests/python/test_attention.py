"""
test_attention.py - jfa.torch.attention against the float64 reference: forward,
reverse mode, forward mode (dual tensors; torch.func.jvp on torch >= 2.0), the
sCM pattern (jvp, then a loss on the primal, then backward), GQA, both causal
alignments, Nq != Nk, transposed (BSHD) inputs, odd shapes, CUDA streams and
graphs. CPU cases run everywhere (label cpu); CUDA cases carry the gpu marker.
"""
import pytest
import torch
import torch.autograd.forward_ad as fwAD

from conftest import HAS_TORCH_FUNC, devices_dtypes, randn, reference, relerr

import jfa.torch as jt

SHAPES = [  # B, Hq, Hkv, L, S, E
    (1, 1, 1, 1, 1, 8),
    (2, 3, 3, 7, 7, 16),
    (1, 4, 2, 129, 65, 40),
    (2, 2, 1, 33, 100, 64),
    (1, 2, 2, 300, 300, 128),
]


def _inputs(gen, shape, dtype, device, bshd=False):
    B, Hq, Hkv, L, S, E = shape
    if bshd:  # stored (B, N, H, D), viewed (B, H, N, D) without a copy
        q = randn(gen, (B, L, Hq, E), dtype, device).transpose(1, 2)
        k = randn(gen, (B, S, Hkv, E), dtype, device).transpose(1, 2)
        v = randn(gen, (B, S, Hkv, E), dtype, device).transpose(1, 2)
    else:
        q = randn(gen, (B, Hq, L, E), dtype, device)
        k = randn(gen, (B, Hkv, S, E), dtype, device)
        v = randn(gen, (B, Hkv, S, E), dtype, device)
    return q, k, v


def _ref_jvp(f, primals, tangents):
    """Reference JVP of f at float64 (torch.autograd.functional.jvp: works on every torch version)."""
    return torch.autograd.functional.jvp(f, primals, tangents)


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("causal", [None, "top_left", "bottom_right"])
def test_forward_backward_jvp(gen, device, dtype, tol, shape, causal):
    q, k, v = _inputs(gen, shape, dtype, device, bshd=shape[3] % 2 == 1)
    do = randn(gen, q.shape, dtype, device)
    t = [randn(gen, x.shape, dtype, device) for x in (q, k, v)]
    gqa = shape[1] != shape[2]
    kw = dict(is_causal=causal is not None, causal_alignment=causal or "top_left", enable_gqa=gqa)

    def ref(a, b, c):
        return reference(a, b, c, is_causal=causal is not None, alignment=causal or "top_left")

    # forward and reverse mode
    qq, kk, vv = (x.detach().requires_grad_() for x in (q, k, v))
    o = jt.attention(qq, kk, vv, **kw)
    assert o.shape == q.shape and o.dtype == dtype and o.device == q.device
    o.backward(do)
    qr, kr, vr = (x.detach().double().requires_grad_() for x in (q, k, v))
    r = ref(qr, kr, vr)
    r.backward(do.double())
    assert relerr(o, r) < tol, relerr(o, r)
    for name, a, b in (("dq", qq.grad, qr.grad), ("dk", kk.grad, kr.grad), ("dv", vv.grad, vr.grad)):
        assert relerr(a, b) < 2 * tol, (name, relerr(a, b))

    # forward mode with dual tensors, then backward through the primal (the sCM pattern)
    qq, kk, vv = (x.detach().requires_grad_() for x in (q, k, v))
    with fwAD.dual_level():
        duals = [fwAD.make_dual(a, b) for a, b in zip((qq, kk, vv), t)]
        out = jt.attention(*duals, **kw)
        p, tan = fwAD.unpack_dual(out)
        assert tan is not None
        p.backward(do)
    rp, rt = _ref_jvp(ref, tuple(x.double() for x in (q, k, v)), tuple(x.double() for x in t))
    assert relerr(p, rp) < tol
    assert relerr(tan, rt) < 2 * tol, relerr(tan, rt)
    assert relerr(qq.grad, qr.grad) < 2 * tol and relerr(kk.grad, kr.grad) < 2 * tol
    assert relerr(vv.grad, vr.grad) < 2 * tol


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
def test_torch_func_jvp_then_backward(gen, device, dtype, tol):
    """torch.func.jvp, then a loss on the primal and on the detached tangent, then backward."""
    if not HAS_TORCH_FUNC:
        pytest.skip("torch.func.jvp over autograd.Function needs torch >= 2.0 (installed: %s)" % torch.__version__)
    q, k, v = _inputs(gen, (2, 4, 2, 96, 80, 64), dtype, device, bshd=True)
    t = tuple(randn(gen, x.shape, dtype, device) for x in (q, k, v))
    w = randn(gen, q.shape, dtype, device)
    qq, kk, vv = (x.detach().requires_grad_() for x in (q, k, v))
    f = lambda a, b, c: jt.attention(a, b, c, is_causal=True, enable_gqa=True)
    out, tan = torch.func.jvp(f, (qq, kk, vv), t)
    loss = (out * w).sum() + (out * tan.detach()).sum()
    loss.backward()
    ref = lambda a, b, c: reference(a, b, c, is_causal=True)
    rp, rt = _ref_jvp(ref, tuple(x.double() for x in (q, k, v)), tuple(x.double() for x in t))
    assert relerr(out, rp) < tol and relerr(tan, rt) < 2 * tol, (relerr(out, rp), relerr(tan, rt))
    qr, kr, vr = (x.detach().double().requires_grad_() for x in (q, k, v))
    rr = ref(qr, kr, vr)
    ((rr * w.double()).sum() + (rr * tan.detach().double()).sum()).backward()
    for a, b in ((qq.grad, qr.grad), (kk.grad, kr.grad), (vv.grad, vr.grad)):
        assert relerr(a, b) < 2 * tol, relerr(a, b)


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
def test_torch_func_jvp_inside_grad(gen, device, dtype, tol):
    """torch.func.grad of a loss on the primal of torch.func.jvp."""
    if not HAS_TORCH_FUNC:
        pytest.skip("torch.func needs torch >= 2.0 (installed: %s)" % torch.__version__)
    q, k, v = _inputs(gen, (1, 2, 2, 40, 40, 32), dtype, device)
    t = tuple(randn(gen, x.shape, dtype, device) for x in (q, k, v))

    def loss(a):
        out, tan = torch.func.jvp(lambda x: jt.attention(x, k, v), (a,), (t[0],))
        return (out.double() ** 2).sum()

    g = torch.func.grad(loss)(q)
    qr = q.detach().double().requires_grad_()
    (reference(qr, k, v) ** 2).sum().backward()
    assert relerr(g, qr.grad) < 2 * tol, relerr(g, qr.grad)


def test_gradcheck_cpu(gen):
    """torch.autograd.gradcheck (reverse) and forward-mode gradcheck in float64 through the CPU backend."""
    q, k, v = _inputs(gen, (1, 2, 1, 5, 6, 4), torch.float64, "cpu")
    args = tuple(x.requires_grad_() for x in (q, k, v))
    f = lambda a, b, c: jt.attention(a, b, c, is_causal=True, causal_alignment="bottom_right", enable_gqa=True)
    assert torch.autograd.gradcheck(f, args)
    try:
        ok = torch.autograd.gradcheck(f, args, check_forward_ad=True, check_backward_ad=False,
                                      check_undefined_grad=False, check_batched_grad=False)
    except TypeError:  # older gradcheck without these options
        pytest.skip("gradcheck(check_forward_ad=...) not in torch %s" % torch.__version__)
    assert ok


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
def test_layouts_and_leading_dims(gen, device, dtype, tol):
    """3-d inputs (no batch), 5-d inputs, and non-contiguous views give the reference."""
    q = randn(gen, (3, 17, 24), dtype, device)
    k = randn(gen, (3, 20, 24), dtype, device)
    v = randn(gen, (3, 20, 24), dtype, device)
    assert relerr(jt.attention(q, k, v), reference(q, k, v)) < tol
    q5 = randn(gen, (2, 2, 3, 9, 16), dtype, device)
    k5 = randn(gen, (2, 2, 3, 9, 32), dtype, device)[..., ::2]  # stride-2 head dim
    v5 = randn(gen, (2, 2, 3, 9, 16), dtype, device)
    o = jt.attention(q5, k5, v5, is_causal=True)
    assert o.shape == q5.shape
    assert relerr(o, reference(q5, k5, v5, is_causal=True)) < tol


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
def test_scale_and_compat_names(gen, device, dtype, tol):
    q, k, v = _inputs(gen, (1, 2, 2, 31, 31, 16), dtype, device)
    r = reference(q, k, v, is_causal=True, scale=0.3)
    assert relerr(jt.attention(q, k, v, None, 0.0, True, 0.3), r) < tol  # SDPA positional order
    assert relerr(jt.JVPAttn.fwd(q, k, v, causal=True, sm_scale=0.3), r) < tol
    from jfa.torch.jvp_attention import attention as jvp_attention
    assert relerr(jvp_attention(q, k, v, causal=True, sm_scale=0.3), r) < tol
    t = tuple(randn(gen, x.shape, dtype, device) for x in (q, k, v))
    with fwAD.dual_level():
        out = jt.fwd_dual(*[fwAD.make_dual(a, b) for a, b in zip((q, k, v), t)], causal=True, sm_scale=0.3)
        _, tan = fwAD.unpack_dual(out)
    _, rt = _ref_jvp(lambda a, b, c: reference(a, b, c, is_causal=True, scale=0.3),
                     tuple(x.double() for x in (q, k, v)), tuple(x.double() for x in t))
    assert relerr(tan, rt) < 2 * tol


@pytest.mark.gpu
def test_cuda_stream_and_device():
    """Calls run on the caller's current stream (work queued before them is respected)."""
    g = torch.Generator().manual_seed(3)
    dev = torch.device("cuda", torch.cuda.device_count() - 1)
    q, k, v = (randn(g, (2, 4, 512, 64), torch.bfloat16, dev) for _ in range(3))
    ref = reference(q, k, v, is_causal=True)
    s = torch.cuda.Stream(dev)
    with torch.cuda.device(dev), torch.cuda.stream(s):
        q2 = torch.empty_like(q)
        torch.cuda._sleep(20_000_000)  # delays the copy below on s: a call on another stream would read garbage
        q2.copy_(q)
        o = jt.attention(q2, k, v, is_causal=True)
    s.synchronize()
    assert relerr(o, ref) < 1.5e-2


@pytest.mark.gpu
def test_cuda_graph_capture():
    """Forward and backward captured in a CUDA graph and replayed on new inputs."""
    g = torch.Generator().manual_seed(4)
    dev = torch.device("cuda")
    q, k, v, do = (randn(g, (1, 4, 256, 64), torch.float16, dev) for _ in range(4))
    qs, ks, vs = (x.clone().requires_grad_() for x in (q, k, v))

    def step():
        o = jt.attention(qs, ks, vs, is_causal=True)
        return (o,) + torch.autograd.grad(o, (qs, ks, vs), do)

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            step()  # warm-up (workspace sized before capture)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outs = step()
    for x, y in zip((qs, ks, vs), (randn(g, q.shape, torch.float16, dev) for _ in range(3))):
        with torch.no_grad():
            x.copy_(y)
    graph.replay()
    torch.cuda.synchronize()
    qr, kr, vr = (x.detach().double().requires_grad_() for x in (qs, ks, vs))
    r = reference(qr, kr, vr, is_causal=True)
    r.backward(do.double())
    assert relerr(outs[0], r) < 3e-3
    for a, b in zip(outs[1:], (qr.grad, kr.grad, vr.grad)):
        assert relerr(a, b) < 6e-3

