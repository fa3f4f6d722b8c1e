"""
test_host_paths.py - the binding's short cuts for host time (issue 15) give what the full paths give:
the fused JVP without its autograd.Function (_core.jvp_without_function) is taken only where nothing
needs reverse mode and one functorch level at most wraps the tensors, and then matches the float64
reference (dual tensors; torch.func.jvp, or functorch.jvp on torch 1.13, where it is the only way
jfa runs under functorch.jvp); the params pointer cached with a Config follows the Config (a copy
with another mask gets its own); the C calls with packed tensor views refuse what jfa_tensor refused;
the calls that need no lse / mu (NULL to jfa) give bitwise the o and od (and lse) of those that
write them (CPU here, CUDA cases with the gpu marker).
"""
import ctypes

import pytest
import torch
import torch.autograd.forward_ad as fwAD

from conftest import HAS_TORCH_FUNC, devices_dtypes, randn, reference, relerr

import jfa.torch as jt
from jfa import _lib
from jfa.torch import _api, _core, _vmap


def _transforms():
    """(jvp, grad, vmap) of torch.func (torch >= 2) or of the functorch package (torch 1.13)."""
    if HAS_TORCH_FUNC:
        return torch.func.jvp, torch.func.grad, torch.func.vmap
    ft = pytest.importorskip("functorch", reason="no torch.func and no functorch package")
    return ft.jvp, ft.grad, ft.vmap


def _decision(q, k, v, mask=None):
    """What _attend decides for these (possibly dual / wrapped) inputs: True = no Function."""
    qp, kp, vp, tangents = _core.unpack_inputs(q, k, v, False)
    assert tangents is not None
    return _core.jvp_without_function((qp, kp, vp) + tangents + (mask,)) is not None


def test_jvp_without_function_choice(gen):
    """The Function is skipped exactly where it adds nothing: no gradient wanted, one level at most."""
    jvp, grad, vmap = _transforms()
    q, k, v, tq, tk, tv = (randn(gen, (1, 2, 5, 4), torch.float64, "cpu") for _ in range(6))

    with fwAD.dual_level():  # plain dual tensors
        duals = [fwAD.make_dual(a, b) for a, b in zip((q, k, v), (tq, tk, tv))]
        assert _decision(*duals)
        qq = q.detach().requires_grad_()
        assert not _decision(fwAD.make_dual(qq, tq), duals[1], duals[2])  # the sCM pattern keeps it
        with torch.no_grad():
            assert _decision(fwAD.make_dual(qq, tq), duals[1], duals[2])
        m = torch.zeros(5, 5, dtype=torch.float64, requires_grad=True)
        assert not _decision(*duals, mask=m)

    seen = {}

    def probe(name):
        def f(a, b, c):
            seen[name] = _decision(a, b, c)
            return a * 1
        return f

    jvp(probe("jvp"), (q, k, v), (tq, tk, tv))
    with torch.no_grad():
        jvp(probe("jvp, no_grad"), (q, k, v), (tq, tk, tv))
    # q requiring grad outside the transform: the base tensor asks for a gradient
    jvp(probe("jvp, base requires grad"), (q.detach().requires_grad_(), k, v), (tq, tk, tv))
    grad(lambda a: jvp(probe("grad(jvp)"), (a, k, v), (tq, tk, tv))[1].sum())(q)
    jvp(lambda a: jvp(probe("jvp(jvp)"), (a, k, v), (tq, tk, tv))[1], (q,), (tq,))
    vmap(lambda a: jvp(probe("vmap(jvp)"), (a, k, v), (tq, tk, tv))[1])(q.unsqueeze(0).expand(2, -1, -1, -1, -1))
    assert seen == {"jvp": True, "jvp, no_grad": True, "jvp, base requires grad": False, "grad(jvp)": False,
                    "jvp(jvp)": False, "vmap(jvp)": False}, seen


@pytest.mark.parametrize("no_grad", [False, True])
def test_transform_jvp_matches_reference(gen, no_grad):
    """torch.func.jvp / functorch.jvp through attention (GQA, causal, BSHD strides, a dense mask, and an
    op on the output inside the transform) against the float64 reference's JVP."""
    jvp, _, _ = _transforms()
    q = randn(gen, (2, 7, 4, 6), torch.float64, "cpu").transpose(1, 2)  # (2, 4, 7, 6), BSHD storage
    k, v = (randn(gen, (2, 2, 9, 6), torch.float64, "cpu") for _ in range(2))
    t = [randn(gen, x.shape, torch.float64, "cpu") for x in (q, k, v)]
    mask = randn(gen, (1, 1, 7, 9), torch.float64, "cpu")

    def f(a, b, c):
        return (jt.attention(a, b, c, attn_mask=mask, is_causal=True, enable_gqa=True,
                             causal_alignment="bottom_right") * 2).sin()

    def ref(a, b, c):
        return (reference(a, b, c, attn_mask=mask, is_causal=True, alignment="bottom_right") * 2).sin()

    with torch.set_grad_enabled(not no_grad):
        o, tan = jvp(f, (q, k, v), tuple(t))
    ro, rt = torch.autograd.functional.jvp(ref, (q, k, v), tuple(t))
    assert type(o) is torch.Tensor and type(tan) is torch.Tensor and not o.requires_grad
    assert relerr(o, ro) < 1e-12 and relerr(tan, rt) < 1e-12, (relerr(o, ro), relerr(tan, rt))


@pytest.mark.skipif(not hasattr(torch, "_efficientzerotensor"), reason="no ZeroTensor in this torch")
def test_bare_zero_tangent_takes_the_function(gen):
    """A storage-less ZeroTensor that no functorch level wraps, met while a transform is active: the
    short cut declines it (forward's real zeros for it would be made at the level, without storage)."""
    jvp, _, _ = _transforms()
    q, t = randn(gen, (1, 1, 4, 3), torch.float64, "cpu"), randn(gen, (1, 1, 4, 3), torch.float64, "cpu")
    seen = []

    def f(x):
        z = torch._efficientzerotensor(x.shape, dtype=x.dtype)
        seen.append(_core.jvp_without_function([x, z]))
        seen.append(_core.jvp_without_function([x, None]))
        return x
    jvp(f, (q,), (t,))
    assert seen[0] is None and seen[1] is not None


def test_dual_without_function_matches_function(gen):
    """Plain dual tensors: the call without the Function (no gradient wanted) and the one through it
    (inputs requiring grad) give bitwise the same primal and tangent; only the latter has a graph."""
    q, k, v, tq, tk, tv = (randn(gen, (2, 3, 6, 8), torch.float64, "cpu") for _ in range(6))
    with fwAD.dual_level():
        o1, t1 = fwAD.unpack_dual(jt.attention(*[fwAD.make_dual(a, b) for a, b in zip((q, k, v), (tq, tk, tv))],
                                               is_causal=True))
        qq = q.detach().requires_grad_()
        o2, t2 = fwAD.unpack_dual(jt.attention(*[fwAD.make_dual(a, b) for a, b in zip((qq, k, v), (tq, tk, tv))],
                                               is_causal=True))
    assert o1.grad_fn is None and o2.grad_fn is not None
    assert torch.equal(o1, o2.detach()) and torch.equal(t1, t2)


def test_params_pointer_follows_config(gen):
    """A Config's params are built once with a pointer to them; a copy with another mask
    (_vmap.with_mask, as the Functions make) gets its own struct and pointer, and each call reads its own."""
    q, k, v = (randn(gen, (1, 2, 5, 4), torch.float64, "cpu") for _ in range(3))
    m1 = torch.zeros(1, 1, 5, 5, dtype=torch.float64)
    m2 = randn(gen, (1, 1, 5, 5), torch.float64, "cpu")
    cfg = _core.Config(None, _lib.MASK_NONE, m1, (-1, -1))
    s1, _, p1 = _core._params(cfg)
    assert p1.value == ctypes.addressof(s1) and _core._params(cfg)[2] is p1  # built once
    cfg2 = _vmap.with_mask(cfg, m2)
    s2, _, p2 = _core._params(cfg2)
    assert p2.value == ctypes.addressof(s2) != p1.value
    assert ctypes.cast(p2, ctypes.POINTER(_lib.AttentionParams)).contents.attn_mask.contents.data == m2.data_ptr()
    o1 = _core.forward(q, k, v, cfg)[0]
    o2 = _core.forward(q, k, v, cfg2)[0]
    assert relerr(o1, reference(q, k, v, attn_mask=m1)) < 1e-12
    assert relerr(o2, reference(q, k, v, attn_mask=m2)) < 1e-12
    # Configs without tensors share cached structs; each still points at its own scale
    a, b = _api._config(0.5, _lib.MASK_NONE, None), _api._config(0.25, _lib.MASK_NONE, None)
    assert relerr(_core.forward(q, k, v, a)[0], reference(q, k, v, scale=0.5)) < 1e-12
    assert relerr(_core.forward(q, k, v, b)[0], reference(q, k, v, scale=0.25)) < 1e-12


def test_packed_views_refuse_as_before(gen):
    """The packed views keep jfa_tensor's checks: a 3-d tensor is refused by name, jfa's own errors
    (a bad head dim of dO) arrive as JfaError, and nothing is left half written."""
    q, k, v = (randn(gen, (1, 2, 5, 4), torch.float64, "cpu") for _ in range(3))
    cfg = _api._config(None, _lib.MASK_NONE, None)
    with pytest.raises(ValueError, match="k must be 4-d"):
        _core.forward(q, k[0], v, cfg)
    o, lse, _, _ = _core.forward(q, k, v, cfg)
    with pytest.raises(_lib.JfaError):
        _core.backward(q, k, v, o, lse, randn(gen, (1, 2, 5, 3), torch.float64, "cpu"), cfg)


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("D", [64, 128])
def test_calls_without_stats_match(gen, device, dtype, tol, D):
    """The calls that need no lse / mu (a forward without grad, the Function-less JVP) pass NULL for
    them: o and od are bitwise those of the calls that write lse and mu (same kernel; on an H200 at
    D = 64 / 128 in 16-bit the sm90 family), and jfa.torch.attention returns exactly them."""
    B, H, N = 2, 3, 200
    q, k, v, tq, tk, tv = (randn(gen, (B, N, H, D), dtype, device).transpose(1, 2) for _ in range(6))
    cfg = _api._config(None, _lib.MASK_CAUSAL_TOP_LEFT, None)
    o, lse, _, _ = _core.forward(q, k, v, cfg)
    o2, lse2, _, _ = _core.forward(q, k, v, cfg, stats=False)
    assert lse2 is None and torch.equal(o, o2)
    with torch.no_grad():
        assert torch.equal(jt.attention(q, k, v, is_causal=True), o)
    o, lse, od, mu = _core.forward(q, k, v, cfg, tq, tk, tv)
    o2, lse2, od2, mu2 = _core.forward(q, k, v, cfg, tq, tk, tv, stats=False)
    assert lse2 is None and mu2 is None and torch.equal(o, o2) and torch.equal(od, od2)
    o2, lse2, od2, mu2 = _core.forward(q, k, v, cfg, tq, tk, tv, mu_out=False)  # the Jvp Function's call
    assert mu2 is None and torch.equal(lse, lse2) and torch.equal(o, o2) and torch.equal(od, od2)
    with fwAD.dual_level():
        p, t = fwAD.unpack_dual(jt.attention(*[fwAD.make_dual(a, b) for a, b in zip((q, k, v), (tq, tk, tv))],
                                             is_causal=True))
    assert torch.equal(p, o) and torch.equal(t, od)
    assert relerr(o, reference(q, k, v, is_causal=True)) < tol
