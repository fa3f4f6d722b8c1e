"""
test_sdpa_edges.py - jfa.torch.attention behaves as F.scaled_dot_product_attention's
math at the edges (or raises a clear jfa error where jfa does not compute a term):
NaN in any input, tangent, dO or mask row propagates to what it touches and nowhere
else; scale=0 and negative scales; integer masks refused; masks that require grad
or carry a tangent refused; masks broadcast against the caller's batch axes;
window=int refused; L = 0 and S = 0; the Triton package's module names; and (the
twenty-eighth session's audit) tensors with the neg bit, the drop-in's exact signature, zero-size
axes past 4-d, SDPA's mask dtypes, a NaN at a masked key, the older vmap's forward mode (its Jacobians). (Second
order: test_second_order.py.) The references are float64 plain torch ops
(conftest.reference).
"""
import warnings

import pytest
import torch
import torch.autograd.forward_ad as fwAD

from conftest import devices_dtypes, randn, reference, relerr

import jfa.torch as jt
from jfa.torch import _core

# ---- NaN -----------------------------------------------------------------------------------

NAN_AT = ["q", "k", "v", "qt", "kt", "vt", "do", "mask", "mask_row"]


def _ref_all(q, k, v, t, do, mask):
    """Reference output, gradients (reverse mode) and tangent (forward mode), float64."""
    xs = [x.detach().double().requires_grad_() for x in (q, k, v)]
    o = reference(*xs, attn_mask=mask)
    o.backward(do.double())
    with fwAD.dual_level():
        duals = [fwAD.make_dual(x.detach().double(), d.double()) for x, d in zip((q, k, v), t)]
        tan = fwAD.unpack_dual(reference(*duals, attn_mask=mask)).tangent
    return o.detach(), [x.grad for x in xs], tan


def _jfa_all(q, k, v, t, do, mask):
    xs = [x.detach().requires_grad_() for x in (q, k, v)]
    o = jt.attention(*xs, attn_mask=mask)
    o.backward(do)
    with fwAD.dual_level():
        tan = fwAD.unpack_dual(jt.attention(*[fwAD.make_dual(x, d) for x, d in zip((q, k, v), t)],
                                            attn_mask=mask)).tangent
    return o.detach(), [x.grad for x in xs], tan


def _check_output_and_grads(q, k, v, do, tol, **kw):
    """jfa's output (within tol) and gradients (2 tol) against the float64 reference's, with the keywords kw."""
    xs = [x.detach().requires_grad_() for x in (q, k, v)]
    o = jt.attention(*xs, **kw)
    o.backward(do)
    xr = [x.detach().double().requires_grad_() for x in (q, k, v)]
    r = reference(*xr, **kw)
    r.backward(do.double())
    assert relerr(o, r) < tol
    for name, a, b in zip("qkv", xs, xr):
        assert relerr(a.grad, b.grad) < 2 * tol, name


def _same_nans(name, got, want, tol):
    """NaN exactly where the math has NaN; the finite rest agrees; batch 1 (untouched) all finite."""
    got, want = got.double().cpu(), want.double().cpu()
    gn, wn = torch.isnan(got), torch.isnan(want)
    assert wn[0].any() or name in ("dv",), (name, "the reference should have NaN here")
    assert torch.equal(gn, wn), (name, "NaN at %d places, the math at %d" % (gn.sum(), wn.sum()),
                                 gn.nonzero()[:5].tolist(), wn.nonzero()[:5].tolist())
    assert torch.isfinite(got[1]).all(), (name, "NaN or inf leaked into another batch")
    ok = ~wn
    err = relerr(got[ok], want[ok])
    assert err < tol, (name, err)


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("at", NAN_AT)
def test_nan_propagates(gen, device, dtype, tol, at):
    """One NaN in batch 0, head 0: NaN in every output/gradient/tangent entry the math makes NaN,
    never zeros, and nothing in batch 1 or head 1."""
    B, H, L, S, E = 2, 2, 5, 7, 8
    q, k, v, do = (randn(gen, (B, H, n, E), dtype, device) for n in (L, S, S, L))
    t = [randn(gen, x.shape, dtype, device) for x in (q, k, v)]
    mask = randn(gen, (B, H, L, S), torch.float32, device, scale=0.5)
    nan = float("nan")
    target = {"q": q, "k": k, "v": v, "qt": t[0], "kt": t[1], "vt": t[2], "do": do}
    if at in target:
        x = target[at]
        x[0, 0, 2 if x.shape[2] == L else 4, 3] = nan
    elif at == "mask":
        mask[0, 0, 2, 4] = nan
    else:
        mask[0, 0, 2, :] = nan  # a whole row of the additive mask
    o, grads, tan = _jfa_all(q, k, v, t, do, mask)
    ro, rgrads, rtan = _ref_all(q, k, v, t, do, mask.double())
    _same_nans("o", o, ro, tol) if at not in ("qt", "kt", "vt", "do") else None
    if at not in ("qt", "kt", "vt"):
        for name, a, b in zip(("dq", "dk", "dv"), grads, rgrads):
            if torch.isnan(b).any():
                _same_nans(name, a, b, 2 * tol)
            else:
                assert relerr(a, b) < 2 * tol, (name, relerr(a, b))
    if at != "do":
        _same_nans("tangent", tan, rtan, 2 * tol)
    # head 1 of batch 0 never sees the NaN
    for name, a in (("o", o), ("tangent", tan)) + tuple(zip(("dq", "dk", "dv"), grads)):
        assert torch.isfinite(a[0, 1]).all(), (name, "NaN leaked into another head")


def test_python_side_hides_no_nan():
    """The binding itself never cleans values: no nan_to_num / masked_fill on rows in jfa.torch."""
    import inspect
    import jfa.torch._api as api
    import jfa.torch._autograd as ag
    import jfa.torch._ring as ring
    for mod in (api, ag, _core, ring):
        src = inspect.getsource(mod)
        for word in ("nan_to_num", "masked_fill", "isnan", "nan_"):
            assert word not in src, (mod.__name__, word)


# ---- scale ---------------------------------------------------------------------------------

@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("mask_kind", [None, "bool", "bias"])
def test_zero_stride_inputs(gen, device, dtype, tol, mask_kind):
    """Inputs expanded with stride 0 on axes longer than 1 (PyTorch's expand: K / V shared by every batch and
    head, q by every head, a key-padding mask by every query row): the output and gradients of the copies they
    stand for (forward AD cannot take them: PyTorch's make_dual refuses expanded tensors). On an H100 / H200
    the sm90 kernels describe such tensors to TMA with a zero stride."""
    B, H, L, S, E = 2, 4, 129, 200, 64
    q = randn(gen, (B, 1, L, E), dtype, device).expand(B, H, L, E)
    k, v = (randn(gen, (1, 1, S, E), dtype, device).expand(B, H, S, E) for _ in range(2))
    do = randn(gen, (B, H, L, E), dtype, device)
    mask = None
    if mask_kind is not None:
        keep = torch.rand((B, 1, 1, S), generator=gen) > 0.3
        keep[..., :8] = True
        mask = keep if mask_kind == "bool" else randn(gen, (B, 1, 1, S), dtype, "cpu").masked_fill(~keep, float("-inf"))
        mask = mask.to(device).expand(B, 1, L, S)
    assert 0 in k.stride() and 0 in q.stride() and (mask is None or mask.stride()[2] == 0)
    _check_output_and_grads(q, k, v, do, tol, attn_mask=mask)


@pytest.mark.xfail(not _core.SCALE_AS_GIVEN, strict=True, raises=ValueError,
                   reason="needs the params flag PARAMS_SCALE_AS_GIVEN in jfa._lib (merged from the C side); "
                          "until then scale=0.0 is refused with a ValueError rather than read as the default")
@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
def test_scale_zero_is_zero(gen, device, dtype, tol):
    """scale=0.0: uniform attention over visible keys (S = 0), not the default 1/sqrt(E)."""
    q, k, v = (randn(gen, (1, 2, n, 16), dtype, device) for n in (9, 11, 11))
    o = jt.attention(q, k, v, scale=0.0, is_causal=True)
    assert relerr(o, reference(q, k, v, scale=0.0, is_causal=True)) < tol
    with fwAD.dual_level():
        t = randn(gen, q.shape, dtype, device)
        tan = fwAD.unpack_dual(jt.attention(fwAD.make_dual(q, t), k, v, scale=0.0)).tangent
    assert tan.abs().max().item() == 0.0  # the scores do not depend on q at all


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("scale", [-0.3, -2.0, 1e-3])
def test_negative_and_small_scales(gen, device, dtype, tol, scale):
    q, k, v = (randn(gen, (2, 2, n, 16), dtype, device) for n in (13, 17, 17))
    t = [randn(gen, x.shape, dtype, device) for x in (q, k, v)]
    do = randn(gen, q.shape, dtype, device)
    _check_output_and_grads(q, k, v, do, tol, scale=scale)
    with fwAD.dual_level():
        tan = fwAD.unpack_dual(jt.attention(*[fwAD.make_dual(x, d) for x, d in zip((q, k, v), t)], scale=scale))[1]
    _, rt = torch.autograd.functional.jvp(lambda a, b, c: reference(a, b, c, scale=scale),
                                         tuple(x.double() for x in (q, k, v)), tuple(x.double() for x in t))
    assert relerr(tan, rt) < 2 * tol


def test_scale_must_be_finite():
    q = torch.randn(1, 1, 4, 8, dtype=torch.float64)
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="scale must be a finite"):
            jt.attention(q, q, q, scale=bad)


def test_argument_types_as_sdpa():
    """SDPA's parser refuses a non-bool is_causal / enable_gqa and a string scale (TypeError); jfa took them by truth
    and float(): is_causal="False" ran causal attention, scale="0.5" ran. numpy's bool stays accepted (numpy 1's
    numpy.bool_ and numpy 2's numpy.bool, a class of that name in module numpy stands in for the latter here)."""
    q = torch.randn(1, 2, 5, 8, dtype=torch.float64)
    k = torch.randn(1, 1, 5, 8, dtype=torch.float64)
    for bad in ("False", 0, 1, None, torch.tensor(True)):
        with pytest.raises(TypeError, match="is_causal must be a bool"):
            jt.attention(q, q, q, is_causal=bad)
        with pytest.raises(TypeError, match="enable_gqa must be a bool"):
            jt.attention(q, k, k, enable_gqa=bad)
        with pytest.raises(TypeError, match="is_causal must be a bool"):
            jt.varlen_attention(q[0].transpose(0, 1), q[0].transpose(0, 1), q[0].transpose(0, 1),
                                torch.tensor([0, 5]), is_causal=bad)
    with pytest.raises(TypeError, match="enable_gqa must be a bool"):  # checked with equal head counts too
        jt.attention(q, q, q, enable_gqa="no")
    with pytest.raises(TypeError, match="scale must be a number"):
        jt.attention(q, q, q, scale="0.5")
    # the Triton package's drop-in keeps the package's rule: any truthy causal (STAGE = 3 if causal else 1)
    from jfa.torch.jvp_attention import JVPAttn
    assert torch.equal(JVPAttn.fwd(q, q, q, causal=1), JVPAttn.fwd(q, q, q, causal=True))
    assert torch.equal(JVPAttn.fwd(q, q, q, causal=0), JVPAttn.fwd(q, q, q, causal=False))
    ref = jt.attention(q, q, q, is_causal=True)
    try:
        import numpy as np
        assert torch.equal(jt.attention(q, q, q, is_causal=np.bool_(True)), ref)
    except ImportError:
        pass
    numpy2_bool = type("bool", (), {"__module__": "numpy", "__bool__": lambda self: True})
    assert torch.equal(jt.attention(q, q, q, is_causal=numpy2_bool()), ref)
    assert torch.equal(jt.attention(q, q, q, is_causal=True, scale=torch.tensor(0.125 ** 0.5 * 1.0)),
                       jt.attention(q, q, q, is_causal=True, scale=float(torch.tensor(0.125 ** 0.5 * 1.0))))


def test_gqa_with_zero_kv_heads_refused_clearly():
    """Hkv = 0 under Hq > 0 with enable_gqa: jfa's ValueError, not Python's ZeroDivisionError."""
    q, k = torch.randn(1, 2, 5, 8, dtype=torch.float64), torch.randn(1, 0, 5, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="do not divide"):
        jt.attention(q, k, k, enable_gqa=True)


# ---- masks ---------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8, torch.int8])
def test_integer_mask_refused(dtype):
    q = torch.randn(1, 2, 5, 8, dtype=torch.float64)
    m = torch.ones(5, 5, dtype=dtype).tril()
    with pytest.raises(TypeError, match="boolean .* or floating point"):
        jt.attention(q, q, q, attn_mask=m)


def test_mask_requiring_grad_or_dual_refused():
    q = torch.randn(1, 2, 5, 8, dtype=torch.float64)
    bias = torch.randn(2, 5, 5, dtype=torch.float64, requires_grad=True)
    with pytest.raises(NotImplementedError, match="attn_mask requires grad"):
        jt.attention(q, q, q, attn_mask=bias)
    with pytest.raises(NotImplementedError, match="attn_mask requires grad"):
        jt.attention(q, q, q, attn_mask=bias * 2.0)  # a bias computed from a parameter
    with fwAD.dual_level():
        dual = fwAD.make_dual(bias.detach(), torch.ones_like(bias))
        with pytest.raises(NotImplementedError, match="forward-mode tangent"):
            jt.attention(q, q, q, attn_mask=dual)
    # a constant float mask keeps working, also a detached one or one under no_grad
    r = reference(q, q, q, attn_mask=bias.detach())
    assert relerr(jt.attention(q, q, q, attn_mask=bias.detach()), r) < 1e-12
    with torch.no_grad():
        assert relerr(jt.attention(q, q, q, attn_mask=bias), r) < 1e-12


@pytest.mark.parametrize("mask_shape", [(2, 1, 1, 4, 6), (2, 3, 1, 4, 6), (1, 3, 2, 1, 6), (3, 1, 4, 6), (4, 6),
                                        (2, 3, 2, 4, 6), (1, 6)])
@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_mask_broadcasts_over_batch_axes(gen, mask_shape, kind):
    """q (2, 3, 2, 4, E) against masks broadcastable to (2, 3, 2, 4, 6), as SDPA broadcasts them."""
    q, k, v = (randn(gen, (2, 3, 2, n, 8), torch.float64, "cpu") for n in (4, 6, 6))
    if kind == "bool":
        m = torch.rand(mask_shape, generator=gen) < 0.7
        m[..., 0] = True
    else:
        m = torch.randn(mask_shape, generator=gen, dtype=torch.float64)
    xs = [x.detach().requires_grad_() for x in (q, k, v)]
    o = jt.attention(*xs, attn_mask=m)
    xr = [x.detach().requires_grad_() for x in (q, k, v)]
    r = reference(*xr, attn_mask=m.expand(2, 3, 2, 4, 6))
    assert o.shape == r.shape and relerr(o, r) < 1e-12
    do = torch.randn(o.shape, generator=gen, dtype=torch.float64)
    o.backward(do)
    r.backward(do)
    for a, b in zip(xs, xr):
        assert relerr(a.grad, b.grad) < 1e-11


def test_mask_shape_error_names_user_shapes():
    q = torch.randn(2, 3, 2, 4, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"\(2, 1, 3, 4, 6\) does not broadcast to \(2, 3, 2, 4, 6\)"):
        jt.attention(q, torch.randn(2, 3, 2, 6, 8, dtype=torch.float64),
                     torch.randn(2, 3, 2, 6, 8, dtype=torch.float64), attn_mask=torch.zeros(2, 1, 3, 4, 6))
    with pytest.raises(ValueError, match=r"same leading"):
        jt.attention(q, q[0], q[0])


def test_window_int_refused_clearly():
    q = torch.randn(1, 1, 6, 4, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"window=\(w, w\)"):
        jt.attention(q, q, q, window=3)
    with pytest.raises(TypeError, match="pair"):
        jt.attention(q, q, q, window=(1, 2, 3))
    o = jt.attention(q, q, q, window=(3, 3))
    assert relerr(o, reference(q, q, q, window=(3, 3))) < 1e-12
    assert relerr(jt.attention(q, q, q, window=[2, None]), reference(q, q, q, window=(2, -1))) < 1e-12


# ---- empty query or key sets ---------------------------------------------------------------

@pytest.mark.parametrize("L,S", [(0, 5), (5, 0), (0, 0)])
def test_empty_sequences(L, S):
    """L = 0 or S = 0 as SDPA's math: O = 0 with shape (.., L, Ev), requires grad, and every
    gradient a zero tensor (not None); the tangent is zero."""
    q = torch.randn(2, 3, L, 8, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 3, S, 8, dtype=torch.float64, requires_grad=True)
    v = torch.randn(2, 3, S, 8, dtype=torch.float64, requires_grad=True)
    o = jt.attention(q, k, v, is_causal=True)
    assert o.shape == (2, 3, L, 8) and o.requires_grad
    assert o.abs().sum().item() == 0.0
    (o * 2).sum().backward()
    for x in (q, k, v):
        assert x.grad is not None and x.grad.shape == x.shape and x.grad.abs().sum().item() == 0.0
    with fwAD.dual_level():
        out = jt.attention(fwAD.make_dual(q.detach(), torch.ones_like(q)), k.detach(), v.detach())
        tan = fwAD.unpack_dual(out).tangent
    assert tan is not None and tan.shape == (2, 3, L, 8) and tan.abs().sum().item() == 0.0
    with torch.no_grad():  # NaN in q with no key: still O = 0 (nothing is attended)
        qn = q.detach().clone().fill_(float("nan"))
        assert jt.attention(qn, k, v).abs().sum().item() == 0.0


# ---- the Triton package's module names ------------------------------------------------------

def test_jvp_attention_module_names():
    """Every public name of jvp_flash_attention.jvp_attention that users import."""
    from jfa.torch.jvp_attention import (HAS_TENSOR_DESC, JVPAttn, MASK_CONST, MIN_SEQUENCE_LENGTH,  # noqa: F401
                                         attention, is_blackwell, is_cuda, is_hip, supports_host_descriptor,
                                         supports_tma)
    import jfa.torch.jvp_attention as m
    assert MASK_CONST == -1.0e2 and MIN_SEQUENCE_LENGTH >= 1
    for fn in (is_blackwell, is_cuda, is_hip, supports_host_descriptor, supports_tma):
        assert isinstance(fn(), bool)
    assert set(m.__all__) >= {"attention", "JVPAttn", "MASK_CONST"}
    q = torch.randn(1, 2, 7, 8, dtype=torch.float64)
    mask = torch.where(torch.ones(7, 7, dtype=torch.bool).tril(), 0.0, MASK_CONST).double()
    with warnings.catch_warnings():  # the float mask's one warning (test_jvp_attention_float_mask_warns_once)
        warnings.simplefilter("ignore")
        assert relerr(attention(q, q, q, attn_mask=mask), reference(q, q, q, attn_mask=mask)) < 1e-12
    assert relerr(JVPAttn.fwd_dual(q, q, q, causal=True), reference(q, q, q, is_causal=True)) < 1e-12


def test_jvp_attention_output_contiguous():
    """The package returns a contiguous output (it copies non-contiguous q, k, v), which its callers .view():
    the drop-in's output is contiguous for a transposed q too (jfa.torch.attention keeps q's layout), with the
    same values, gradients and tangent (forty-fourth session's review: o.view(B, H * N, E) raised after the
    switch)."""
    from jfa.torch.jvp_attention import JVPAttn, attention
    g = torch.Generator().manual_seed(44)
    B, N, H, E = 2, 9, 3, 8
    qkv = torch.randn(B, N, 3, H, E, generator=g, dtype=torch.float64)
    q, k, v = (x.transpose(1, 2) for x in qkv.unbind(2))  # (B, H, N, E) views, not contiguous
    assert not q.is_contiguous()
    o = attention(q, k, v, causal=True)
    assert o.is_contiguous() and o.shape == (B, H, N, E)
    assert o.view(B, H * N, E).shape == (B, H * N, E)
    assert relerr(o, reference(q, k, v, is_causal=True)) < 1e-12
    xs = [x.detach().clone().requires_grad_() for x in (q, k, v)]
    do = torch.randn(B, H, N, E, generator=g, dtype=torch.float64)
    gj = torch.autograd.grad(attention(*xs, causal=True), xs, do)
    xr = [x.detach().clone().requires_grad_() for x in (q, k, v)]
    gr = torch.autograd.grad(reference(*xr, is_causal=True), xr, do)
    assert max(relerr(a, b) for a, b in zip(gj, gr)) < 1e-12
    t = [torch.randn(x.shape, generator=g, dtype=torch.float64) for x in (q, k, v)]
    with fwAD.dual_level():
        od = JVPAttn.fwd_dual(*[fwAD.make_dual(x, d) for x, d in zip((q, k, v), t)], causal=True)
        po, tan = fwAD.unpack_dual(od)
        rt = fwAD.unpack_dual(reference(*[fwAD.make_dual(x, d) for x, d in zip((q, k, v), t)],
                                        is_causal=True)).tangent
    assert po.is_contiguous() and relerr(tan, rt) < 1e-12


# ---- second order of the empty cases ------------------------------------------------------

@pytest.mark.parametrize("L,S", [(4, 0)])  # (L = 0: torch.autograd.functional.hessian cannot take an empty input)
def test_empty_sequences_second_order(L, S):
    """With no key O = 0 identically: its Hessian is an exact zero (not an error)."""
    k = torch.randn(1, 2, S, 4, dtype=torch.float64)
    q = torch.randn(1, 2, L, 4, dtype=torch.float64, requires_grad=True)
    h = torch.autograd.functional.hessian(lambda x: (jt.attention(x, k, k) ** 2).sum(), q)
    assert h.shape == q.shape * 2 and h.abs().sum().item() == 0.0


# ---- the twenty-eighth session's audit: lazy negation, the drop-in's signature, zero sizes past 4-d, mask dtypes,
# NaN at masked keys, the older vmap's forward mode ---------------------------------------------------------------

def _neg_view(shape, gen):
    """A real float64 tensor with PyTorch's neg bit set (z.conj().imag): its storage holds minus its values."""
    z = torch.complex(torch.randn(shape, generator=gen, dtype=torch.float64),
                      torch.randn(shape, generator=gen, dtype=torch.float64))
    t = z.conj().imag
    assert t.is_neg()
    return t


def test_neg_bit_tensors_read_as_values(gen):
    """q, k, v, a float mask and dO with the neg bit give what their values give (the math on clones)."""
    q, k, v = (_neg_view((2, 3, 5, 8), gen) for _ in range(3))
    mask, do = _neg_view((5, 5), gen), _neg_view((2, 3, 5, 8), gen)
    qc, kc, vc, mc, doc = (t.clone() for t in (q, k, v, mask, do))
    assert relerr(jt.attention(q, k, v, attn_mask=mask), reference(qc, kc, vc, attn_mask=mc)) < 1e-12
    xs = [x.clone().requires_grad_() for x in (qc, kc, vc)]
    jt.attention(*xs, is_causal=True).backward(do)
    xr = [x.clone().requires_grad_() for x in (qc, kc, vc)]
    reference(*xr, is_causal=True).backward(doc)
    for a, b in zip(xs, xr):
        assert relerr(a.grad, b.grad) < 1e-12


def _transform_jvp():
    """torch.func.jvp (torch >= 2.0) or functorch.jvp (torch 1.13's), or None."""
    try:
        from torch.func import jvp
    except ImportError:
        try:
            from functorch import jvp
        except ImportError:
            return None
    return jvp


def test_neg_bit_and_tensor_offsets_under_transform_jvp(gen):
    """Under functorch's jvp (torch 1.13) an op on a plain tensor inside the transform returned a storage-less wrapper:
    a lazily negated primal raised "doesn't have storage" (its resolve_neg), and so did varlen_attention's offsets
    given as a tensor (their tolist). Both now run with the transforms off (_core.no_transforms): the tangents equal
    the reference's on the values."""
    jvp = _transform_jvp()
    if jvp is None:
        pytest.skip("neither torch.func nor functorch")
    q, k, v = (_neg_view((1, 2, 5, 8), gen) for _ in range(3))
    t = tuple(torch.randn(x.shape, generator=gen, dtype=torch.float64) for x in (q, k, v))
    qc, kc, vc = (x.clone() for x in (q, k, v))
    o, od = jvp(lambda a, b, c: jt.attention(a, b, c, is_causal=True), (q, k, v), t)
    ro, rod = torch.autograd.functional.jvp(lambda a, b, c: reference(a, b, c, is_causal=True), (qc, kc, vc), t)
    assert relerr(o, ro) < 1e-12 and relerr(od, rod) < 1e-12
    cu = torch.tensor([0, 2, 5])
    x = tuple(torch.randn(5, 2, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    tx = tuple(torch.randn(5, 2, 8, generator=gen, dtype=torch.float64) for _ in range(3))
    o1, od1 = jvp(lambda a, b, c: jt.varlen_attention(a, b, c, cu, is_causal=True), x, tx)
    o2, od2 = jvp(lambda a, b, c: jt.varlen_attention(a, b, c, [0, 2, 5], is_causal=True), x, tx)
    assert torch.equal(o1, o2) and torch.equal(od1, od2)
    # offsets made inside the transformed function (the transform's own wrappers on torch 1.13)
    for make in (lambda: torch.tensor([0, 2, 5]), lambda: cu + 0, lambda: torch.tensor([0, 2, 3]).cumsum(0)):
        o3, od3 = jvp(lambda a, b, c: jt.varlen_attention(a, b, c, make(), is_causal=True), x, tx)
        assert torch.equal(o1, o3) and torch.equal(od1, od3)


def test_jvp_attention_signature():
    """The drop-in takes the Triton package's signature, positional tuning arguments included, and raises
    TypeError for any other keyword (SDPA's is_causal or scale would otherwise be dropped silently)."""
    from jfa.torch.jvp_attention import JVPAttn, attention
    q = torch.randn(1, 2, 7, 8, dtype=torch.float64)
    o = attention(q, q, q, None, 0.0, True, 0.3, False, False)  # ..., causal, sm_scale, warp_specialize, USE_TMA
    assert relerr(o, reference(q, q, q, is_causal=True, scale=0.3)) < 1e-12
    assert relerr(JVPAttn.fwd_dual(q, q, q, causal=True, warp_specialize=False, USE_TMA=False),
                  reference(q, q, q, is_causal=True)) < 1e-12
    for kw in ({"is_causal": True}, {"scale": 0.1}, {"verify_attn_mask": True}):
        with pytest.raises(TypeError):
            attention(q, q, q, **kw)
        with pytest.raises(TypeError):
            JVPAttn.fwd_dual(q, q, q, **kw)


@pytest.mark.parametrize("fill", [-1e4, -1e9, "min"])
def test_large_negative_bias_rows(gen, fill):
    """A row whose every key carries a huge negative finite bias (padding rows of -1e4 / -1e9 / finfo.min fills):
    the forward is right, and so are the gradients wherever that row's dO is zero (padding a loss ignores), which
    is the case README and include/jfa.h call harmless (the float32 lse of such rows cannot hold their log-sum)."""
    L, S, E = 6, 64, 16
    q, k, v = (randn(gen, (1, 2, n, E), torch.float32, "cpu") for n in (L, S, S))
    bias = torch.zeros(L, S)
    bias[2, :] = torch.finfo(torch.float32).min if fill == "min" else fill
    bias[4, 7:] = -1e9  # a padded key range in a row that also sees keys 0..6
    do = randn(gen, (1, 2, L, E), torch.float32, "cpu")
    do[:, :, 2] = 0.0
    xs = [x.clone().requires_grad_() for x in (q, k, v)]
    o = jt.attention(*xs, attn_mask=bias)
    o.backward(do)
    xr = [x.double().requires_grad_() for x in (q, k, v)]
    r = reference(*xr, attn_mask=bias.double())
    r.backward(do.double())
    assert relerr(o, r) < 1e-5
    for a, b in zip(xs, xr):
        assert relerr(a.grad, b.grad) < 1e-5


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("fill", [-1e4, -1e9, -1e30, "min"])
def test_large_negative_bias_rows_cpu(gen, fill, dtype):
    """On the CPU the same rows get right gradients and second derivatives with any dO: the single-device backwards
    recompute the statistics of rows whose |lse| cannot carry their probabilities (src/cpu/row_shift.c; before, each
    of the row's keys got P = 1, in float64 too, at -1e30 / finfo.min)."""
    L, S, E = 6, 64, 16
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    q, k, v, do = (randn(gen, (1, 2, n, E), dtype, "cpu") for n in (L, S, S, L))
    bias = torch.zeros(L, S, dtype=dtype)
    bias[2, :] = torch.finfo(dtype).min if fill == "min" else fill
    bias[4, 7:] = -1e9
    t = [randn(gen, x.shape, dtype, "cpu") for x in (q, k, v)]

    def grads(fn, xs, m):
        xs = [x.clone().requires_grad_() for x in xs]
        o = fn(*xs, attn_mask=m)
        g = torch.autograd.grad((o * do.to(o.dtype)).sum(), xs, create_graph=True)
        h = torch.autograd.grad(sum((a * b.to(a.dtype)).sum() for a, b in zip(g, t)), xs)
        return [o] + list(g) + list(h)
    got = grads(jt.attention, (q, k, v), bias)
    ref = grads(reference, [x.double() for x in (q, k, v)], bias.double())
    for name, a, b in zip(("o", "dq", "dk", "dv", "hq", "hk", "hv"), got, ref):
        assert relerr(a, b) < tol, (name, relerr(a, b))


def test_jvp_attention_float_mask_warns_once(monkeypatch):
    """The drop-in adds a float mask after the scale (SDPA's rule; the Triton package before it): the first float
    mask warns, once per process; a boolean mask never does; the values follow SDPA's rule."""
    from jfa.torch import _api
    from jfa.torch.jvp_attention import attention
    monkeypatch.setattr(_api, "_float_mask_warned", False)
    q = torch.randn(1, 2, 5, 8, dtype=torch.float64)
    bias = torch.randn(5, 5, dtype=torch.float64)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        attention(q, q, q, torch.ones(5, 5, dtype=torch.bool))
        assert not w
        o = attention(q, q, q, bias, sm_scale=0.3)
        attention(q, q, q, bias)
    assert len(w) == 1 and "before the scale" in str(w[0].message)
    assert relerr(o, reference(q, q, q, attn_mask=bias, scale=0.3)) < 1e-12


@pytest.mark.parametrize("shape_q,shape_kv", [((2, 3, 2, 0, 8), (2, 3, 2, 5, 8)), ((2, 3, 0, 4, 8), (2, 3, 0, 5, 8)),
                                             ((2, 0, 2, 4, 8), (2, 0, 2, 5, 8))])
def test_empty_dims_past_4d(shape_q, shape_kv):
    """Inputs of more than 4 dims with a zero-size axis: zeros of the output's shape, a mask too."""
    q = torch.randn(shape_q, dtype=torch.float64)
    k, v = torch.randn(shape_kv, dtype=torch.float64), torch.randn(shape_kv, dtype=torch.float64)
    o = jt.attention(q, k, v)
    assert o.shape == shape_q and o.abs().sum().item() == 0.0
    mask = torch.ones(shape_q[:-1] + (shape_kv[-2],), dtype=torch.bool)
    assert jt.attention(q, k, v, attn_mask=mask).shape == shape_q


def test_mask_dtype_as_sdpa():
    """A floating point mask must be float32 or the query's dtype (SDPA's rule): a float64 mask on a float32
    query raises instead of being rounded (a -1e300 bias would become -inf there)."""
    q = torch.randn(1, 2, 4, 8, dtype=torch.float32)
    with pytest.raises(TypeError, match="float32 or the query's dtype"):
        jt.attention(q, q, q, attn_mask=torch.zeros(4, 4, dtype=torch.float64))
    qd = q.double()
    with pytest.raises(TypeError, match="float32 or the query's dtype"):
        jt.attention(qd, qd, qd, attn_mask=torch.zeros(4, 4, dtype=torch.float16))
    m = torch.randn(4, 4, dtype=torch.float32)
    assert relerr(jt.attention(qd, qd, qd, attn_mask=m), reference(qd, qd, qd, attn_mask=m.double())) < 1e-12


def test_nan_at_a_masked_key_stays_there():
    """The documented convention (README, attention's docstring): a NaN key or value reaches at least the rows that
    see it; the CPU backend never reads a key for a row that cannot see it, so there the other rows stay finite (on a
    GPU they may get NaN through 0 * NaN where the kernel computes the key's block; SDPA's math always spreads it)."""
    q, k, v = (torch.randn(1, 2, 6, 8, dtype=torch.float64) for _ in range(3))
    for at in ("k", "v"):
        kk, vv = k.clone(), v.clone()
        (kk if at == "k" else vv)[0, 0, 3, 1] = float("nan")
        o = jt.attention(q, kk, vv, is_causal=True)
        assert torch.isfinite(o[0, 0, :3]).all(), at  # rows 0..2 cannot see key 3
        assert torch.isnan(o[0, 0, 3:]).any(dim=-1).all(), at  # rows 3..5 see it
        assert torch.isfinite(o[0, 1]).all(), at


@pytest.mark.parametrize("gqa", [False, True])
def test_older_vmap_forward_mode_jacobian(gen, gqa):
    """torch.autograd.functional.jacobian(strategy='forward-mode', vectorize=True) batches the tangents with
    PyTorch's older vmap (no storage): jfa runs one fused call per entry, and the Jacobian equals the float64
    reference's (in all three inputs, and in q alone: k and v without tangents); a forward-over-reverse Hessian
    (inputs requiring grad) gets a jfa error naming the alternatives, never one entry's tangents."""
    Hkv = 1 if gqa else 2
    q = randn(gen, (1, 2, 5, 3), torch.float64, "cpu")
    k, v = (randn(gen, (1, Hkv, 7, 3), torch.float64, "cpu") for _ in range(2))
    kw = dict(is_causal=True, enable_gqa=True) if gqa else dict(is_causal=True)
    rep = (lambda x: x.repeat_interleave(2 // Hkv, dim=1))

    def f(a, b, c):
        return jt.attention(a, b, c, **kw)

    def r(a, b, c):
        return reference(a, rep(b), rep(c), is_causal=True)

    J = torch.autograd.functional.jacobian
    got = J(f, (q, k, v), vectorize=True, strategy="forward-mode")
    ref = J(r, (q, k, v))
    for a, b in zip(got, ref):
        assert b.norm() > 0 and relerr(a, b) < 1e-12, relerr(a, b)
    got_q = J(lambda a: f(a, k, v), q, vectorize=True, strategy="forward-mode")
    assert relerr(got_q, ref[0]) < 1e-12
    with pytest.raises(RuntimeError, match="older vmap"):
        torch.autograd.functional.hessian(lambda a: f(a, k, v).pow(2).sum(), q, vectorize=True,
                                          outer_jacobian_strategy="forward-mode")


def test_scale_requiring_grad_or_dual_refused():
    """A tensor scale that requires grad or carries a tangent: refused (its derivative is not computed), not
    silently taken as a constant; a plain or detached tensor scale is a number."""
    q = torch.randn(1, 2, 4, 8, dtype=torch.float64)
    with pytest.raises(NotImplementedError, match="scale"):
        jt.attention(q, q, q, scale=torch.tensor(0.7, dtype=torch.float64, requires_grad=True))
    with fwAD.dual_level():
        with pytest.raises(NotImplementedError, match="scale"):
            jt.attention(q, q, q, scale=fwAD.make_dual(torch.tensor(0.7, dtype=torch.float64),
                                                         torch.tensor(1.0, dtype=torch.float64)))
    s = torch.tensor(0.7, dtype=torch.float64)
    assert relerr(jt.attention(q, q, q, scale=s), reference(q, q, q, scale=0.7)) < 1e-12
    with torch.no_grad():
        jt.attention(q, q, q, scale=torch.tensor(0.7, requires_grad=True))  # no graph: a number
