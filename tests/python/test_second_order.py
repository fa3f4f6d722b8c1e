"""
test_second_order.py - second-order derivatives through jfa.torch.attention (the backward
as a differentiable function over jfa_attention_backward_jvp), in float64 on the CPU against
the reference written with plain torch ops (softmax written out: torch 1.13 differentiates
it twice): create_graph=True double backward, torch.autograd.gradgradcheck,
torch.autograd.functional.hessian and hvp, forward-over-reverse (dual tensors through
torch.autograd.grad), the JVP tangent flowing into a loss, and a clear error for third
order. torch.func cases skip on torch < 2.0. CUDA cases (gpu marker) compare the CUDA
kernels' float32 results with the float64 reference.
"""
import pytest
import torch
import torch.autograd.forward_ad as fwAD

from conftest import HAS_TORCH_FUNC, randn, reference, relerr

import jfa.torch as jt

CASES = [  # B, Hq, Hkv, L, S, E, kwargs
    pytest.param((1, 1, 1, 1, 1, 3), {}, id="N1"),
    pytest.param((2, 2, 2, 7, 7, 5), {}, id="N7"),
    pytest.param((1, 4, 2, 9, 13, 6), dict(is_causal=True, causal_alignment="bottom_right"), id="gqa-br"),
    pytest.param((1, 2, 1, 13, 6, 5), dict(is_causal=True, causal_alignment="bottom_right"), id="masked-rows"),
    pytest.param((1, 2, 2, 11, 11, 4), dict(is_causal=True, window=(3, 0)), id="window"),
]


def _setup(gen, shape, kwargs, device="cpu", dtype=torch.float64):
    B, Hq, Hkv, L, S, E = shape
    q = randn(gen, (B, Hq, L, E), dtype, device)
    k = randn(gen, (B, Hkv, S, E), dtype, device)
    v = randn(gen, (B, Hkv, S, E), dtype, device)
    kw = dict(kwargs)
    if Hq != Hkv:
        kw["enable_gqa"] = True

    def f(a, b, c):
        return jt.attention(a, b, c, **kw)

    def r(a, b, c):
        return reference(a, b, c, is_causal=kw.get("is_causal", False),
                         alignment=kw.get("causal_alignment", "top_left"), window=kw.get("window"))
    return (q, k, v), f, r


@pytest.mark.parametrize("shape,kwargs", CASES)
def test_double_backward(gen, shape, kwargs):
    """grad(create_graph=True), then grad of a function of the gradient (nonlinear and linear losses in O)."""
    xs, f, r = _setup(gen, shape, kwargs)
    w = randn(gen, xs[0].shape, torch.float64, "cpu")
    u = [randn(gen, x.shape, torch.float64, "cpu") for x in xs]
    for name, loss in (("square", lambda o: (o ** 2 * w).sum()), ("linear", lambda o: (o * w).sum())):
        res = []
        for fn in (f, r):
            x = [t.clone().requires_grad_() for t in xs]
            g = torch.autograd.grad(loss(fn(*x)), x, create_graph=True)
            assert all(t.requires_grad for t in g), name
            pen = sum((gi * ui).sum() for gi, ui in zip(g, u)) + sum((gi ** 2).sum() for gi in g)
            res.append(torch.autograd.grad(pen, x))
        for a, b in zip(*res):
            assert relerr(a, b) < 1e-10, (name, relerr(a, b))


@pytest.mark.parametrize("shape,kwargs", CASES[1:4])
def test_gradgradcheck(gen, shape, kwargs):
    xs, f, _ = _setup(gen, shape, kwargs)
    args = tuple(x.requires_grad_() for x in xs)
    assert torch.autograd.gradcheck(f, args)
    assert torch.autograd.gradgradcheck(f, args)


@pytest.mark.parametrize("shape,kwargs", CASES)
def test_hessian_and_hvp(gen, shape, kwargs):
    """torch.autograd.functional.hessian (per input) and hvp (all inputs), against the reference."""
    xs, f, r = _setup(gen, shape, kwargs)
    w = randn(gen, xs[0].shape, torch.float64, "cpu")
    for loss in (lambda o: (o * w).sum(), lambda o: (o ** 2).sum() + o.sum()):
        for i in range(3):
            def part(fn, i=i):
                return lambda x: loss(fn(*[x if j == i else xs[j] for j in range(3)]))
            hr = torch.autograd.functional.hessian(part(r), xs[i])
            for vectorize in (False, True):  # True: PyTorch's older vmap batches the cotangents
                h = torch.autograd.functional.hessian(part(f), xs[i], vectorize=vectorize)
                assert relerr(h, hr) < 1e-10, (i, vectorize, relerr(h, hr))
        t = tuple(randn(gen, x.shape, torch.float64, "cpu") for x in xs)
        _, hv = torch.autograd.functional.hvp(lambda a, b, c: loss(f(a, b, c)), xs, t)
        _, hvr = torch.autograd.functional.hvp(lambda a, b, c: loss(r(a, b, c)), xs, t)
        for a, b in zip(hv, hvr):
            assert relerr(a, b) < 1e-10, relerr(a, b)
        _, vh = torch.autograd.functional.vhp(lambda a, b, c: loss(f(a, b, c)), xs, t)
        for a, b in zip(vh, hvr):  # symmetric Hessian
            assert relerr(a, b) < 1e-10, relerr(a, b)


@pytest.mark.parametrize("shape,kwargs", CASES[1:3])
def test_grads_batched(gen, shape, kwargs):
    """The older vmap (is_grads_batched=True, jacobian(vectorize=True)) through the first-order
    backward: each batch entry equals the unbatched call; nested (a vectorized jacobian of one)."""
    xs, f, r = _setup(gen, shape, kwargs)
    x = [t.clone().requires_grad_() for t in xs]
    o = f(*x)
    gos = randn(gen, (3,) + tuple(o.shape), torch.float64, "cpu")
    got = torch.autograd.grad(o, x, gos, is_grads_batched=True, retain_graph=True)
    for i in range(3):
        want = torch.autograd.grad(o, x, gos[i], retain_graph=True)
        for a, b in zip(got, want):
            assert a.shape[0] == 3 and relerr(a[i], b) < 1e-13, (i, relerr(a[i], b))
    for i in range(3):
        jac = torch.autograd.functional.jacobian(lambda t: f(*[t if j == i else xs[j] for j in range(3)]), xs[i],
                                                 vectorize=True)
        jr = torch.autograd.functional.jacobian(lambda t: r(*[t if j == i else xs[j] for j in range(3)]), xs[i])
        assert relerr(jac, jr) < 1e-10, (i, relerr(jac, jr))
    J = torch.autograd.functional.jacobian
    q, k, v = (x[:1, :1, :3, :2] for x in xs)

    def jj(fn, vec):
        return J(lambda t: J(lambda u: fn(u, k, v), t, create_graph=True, vectorize=vec), q, vectorize=vec)
    got, want = jj(f, True), jj(r, False)
    assert relerr(got, want) < 1e-10, relerr(got, want)


def test_hessian_nonzero(gen):
    """The issue's case: the Hessian of attention(x, k, v).sum() in q is not zero."""
    xs, f, r = _setup(gen, (1, 1, 1, 6, 6, 4), {})
    h = torch.autograd.functional.hessian(lambda x: f(x, xs[1], xs[2]).sum(), xs[0])
    hr = torch.autograd.functional.hessian(lambda x: r(x, xs[1], xs[2]).sum(), xs[0])
    assert hr.norm() > 1e-3 and relerr(h, hr) < 1e-10


@pytest.mark.parametrize("shape,kwargs", CASES)
def test_forward_over_reverse(gen, shape, kwargs):
    """Dual inputs through torch.autograd.grad: the gradient's tangent is the Hessian-vector product."""
    xs, f, r = _setup(gen, shape, kwargs)
    t = tuple(randn(gen, x.shape, torch.float64, "cpu") for x in xs)
    w = randn(gen, xs[0].shape, torch.float64, "cpu")
    for loss in (lambda o: (o * w).sum(), lambda o: (o ** 2 * w).sum()):
        for create_graph in (False, True):
            x = [a.clone().requires_grad_() for a in xs]
            with fwAD.dual_level():
                duals = [fwAD.make_dual(a, b) for a, b in zip(x, t)]
                g = torch.autograd.grad(loss(f(*duals)), x, create_graph=create_graph)
                tangents = [fwAD.unpack_dual(gi).tangent for gi in g]
            assert all(tt is not None for tt in tangents)
            _, hvr = torch.autograd.functional.hvp(lambda a, b, c: loss(r(a, b, c)), xs, t)
            for a, b in zip(tangents, hvr):
                assert relerr(a, b) < 1e-10, relerr(a, b)


@pytest.mark.parametrize("shape,kwargs", CASES)
def test_forward_over_reverse_tangent_differentiated(gen, shape, kwargs):
    """The gradient's tangent H t from forward-over-reverse with create_graph=True, differentiated again: with respect
    to the direction t it is H u (a second-order result; before, jfa's H t carried no graph and the result missed it),
    with respect to q, k, v a third derivative (jfa's error, before a silent miss). Under a loss nonlinear in O, dO
    depends on the tangents through jfa's fused call (an edge of the graph, with a zero gradient), and that too
    raises: an error, never a wrong value."""
    xs, f, r = _setup(gen, shape, kwargs)
    t = tuple(randn(gen, x.shape, torch.float64, "cpu") for x in xs)
    u = tuple(randn(gen, x.shape, torch.float64, "cpu") for x in xs)
    w = randn(gen, xs[0].shape, torch.float64, "cpu")

    def hv_of(loss, x, tt):
        with fwAD.dual_level():
            g = torch.autograd.grad(loss(f(*[fwAD.make_dual(a, b) for a, b in zip(x, tt)])), x, create_graph=True)
            return [fwAD.unpack_dual(gi).tangent for gi in g]

    linear, square = (lambda o: (o * w).sum()), (lambda o: (o ** 2 * w).sum())
    x = [a.clone().requires_grad_() for a in xs]
    tt = [a.clone().requires_grad_() for a in t]
    hv = hv_of(linear, x, tt)
    assert all(h.requires_grad for h in hv)
    got = torch.autograd.grad(sum((h * ui).sum() for h, ui in zip(hv, u)), tt)
    _, want = torch.autograd.functional.hvp(lambda a, b, c: linear(r(a, b, c)), xs, u)
    for a, b in zip(got, want):
        assert relerr(a, b) < 1e-10, relerr(a, b)
    hv = hv_of(linear, x, tt)
    with pytest.raises(RuntimeError, match="jfa: a third derivative"):
        torch.autograd.grad(sum((h * ui).sum() for h, ui in zip(hv, u)) + sum((a ** 2).sum() for a in x), x)
    hv = hv_of(square, [a.clone().requires_grad_() for a in xs], tt)
    with pytest.raises(RuntimeError, match="jfa: a third derivative"):
        torch.autograd.grad(sum((h * ui).sum() for h, ui in zip(hv, u)) + sum((a ** 2).sum() for a in tt), tt)


@pytest.mark.parametrize("kind", ["float", "bool"])
def test_mask_written_in_place_before_double_backward(gen, kind):
    """A mask written in place between the create_graph backward and the double backward raises torch's in-place
    error, as the first-order backward does (before, the double backward read the new mask: HVPs off by ~1)."""
    xs, _, _ = _setup(gen, (1, 2, 2, 6, 7, 4), {})
    g0 = torch.Generator().manual_seed(5)
    mask = torch.randn(6, 7, generator=g0, dtype=torch.float64) if kind == "float" else \
        torch.rand(6, 7, generator=g0) > 0.3
    w = randn(gen, xs[0].shape, torch.float64, "cpu")
    x = [a.clone().requires_grad_() for a in xs]
    g = torch.autograd.grad((jt.attention(*x, attn_mask=mask) * w).sum(), x, create_graph=True)
    h = torch.autograd.grad(sum(gi.sum() for gi in g), x, retain_graph=True)  # unchanged mask: runs
    assert any(hi.abs().sum() > 0 for hi in h)
    mask.mul_(5.0) if kind == "float" else mask.logical_not_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(sum(gi.sum() for gi in g), x)


def test_mask_written_in_place_before_hvp_tangent_differentiated(gen):
    """The same for forward-over-reverse's H t under create_graph=True: a mask written in place before H t is
    differentiated raises (its Hessian node read the new mask: off by 5 before)."""
    xs, _, _ = _setup(gen, (1, 2, 2, 6, 6, 4), {})
    mask = torch.randn(6, 6, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    t = [randn(gen, a.shape, torch.float64, "cpu").requires_grad_() for a in xs]
    w = randn(gen, xs[0].shape, torch.float64, "cpu")
    x = [a.clone().requires_grad_() for a in xs]
    with fwAD.dual_level():
        g = torch.autograd.grad((jt.attention(*[fwAD.make_dual(a, b) for a, b in zip(x, t)], attn_mask=mask) * w).sum(),
                                x, create_graph=True)
        hv = [fwAD.unpack_dual(gi).tangent for gi in g]
    mask.mul_(5.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        torch.autograd.grad(sum(h.sum() for h in hv), t)


@pytest.mark.parametrize("shape,kwargs", CASES)
def test_backward_in_a_later_level(gen, shape, kwargs):
    """The forward in one forward-AD level, its backward in a later one (same level index): the
    gradients carry only the later level's tangents (here the cotangent's, or none), as PyTorch's own
    ops give, never the tangents of the closed level (jfa kept them: a stale Hessian term)."""
    xs, f, r = _setup(gen, shape, kwargs)
    t = tuple(randn(gen, x.shape, torch.float64, "cpu") for x in xs)
    w, tw = (randn(gen, xs[0].shape, torch.float64, "cpu") for _ in range(2))

    def run(fn, dual_cotangent):
        x = [a.clone().requires_grad_() for a in xs]
        with fwAD.dual_level():
            o = fwAD.unpack_dual(fn(*[fwAD.make_dual(a, b) for a, b in zip(x, t)])).primal
        with fwAD.dual_level():
            g = torch.autograd.grad(o, x, grad_outputs=fwAD.make_dual(w, tw) if dual_cotangent else w)
            return [fwAD.unpack_dual(gi) for gi in g]

    for dual_cotangent in (False, True):
        for (p, pt), (pr, prt) in zip(run(f, dual_cotangent), run(r, dual_cotangent)):
            assert relerr(p, pr) < 1e-10
            assert (pt is None or not pt.any()) if prt is None else relerr(pt, prt) < 1e-10, (pt, prt)


@pytest.mark.parametrize("shape,kwargs", CASES)
def test_tangent_into_loss(gen, shape, kwargs):
    """A loss on the JVP tangent (and the primal): gradients for q, k, v and for the tangents."""
    xs, f, r = _setup(gen, shape, kwargs)
    t = tuple(randn(gen, x.shape, torch.float64, "cpu") for x in xs)
    w1, w2 = (randn(gen, xs[0].shape, torch.float64, "cpu") for _ in range(2))

    def loss(o, od):
        return (o * w1).sum() + (od ** 2 * w2).sum() + (o * od).sum()

    x = [a.clone().requires_grad_() for a in xs]
    tt = [a.clone().requires_grad_() for a in t]
    with fwAD.dual_level():
        o, od = fwAD.unpack_dual(f(*[fwAD.make_dual(a, b) for a, b in zip(x, tt)]))
        g = torch.autograd.grad(loss(o, od), x + tt)
    xr = [a.clone().requires_grad_() for a in xs]
    tr = [a.clone().requires_grad_() for a in t]
    o_r, od_r = torch.autograd.functional.jvp(r, tuple(xr), tuple(tr), create_graph=True)
    gr = torch.autograd.grad(loss(o_r, od_r), xr + tr)
    for a, b in zip(g, gr):
        assert relerr(a, b) < 1e-10, relerr(a, b)


def test_third_order_raises(gen):
    """A third derivative is a clear jfa error, never a silent zero."""
    xs, f, _ = _setup(gen, (1, 1, 1, 5, 5, 3), {})
    x = [a.clone().requires_grad_() for a in xs]
    g = torch.autograd.grad((f(*x) ** 2).sum(), x, create_graph=True)
    h = torch.autograd.grad(sum((gi ** 2).sum() for gi in g), x, create_graph=True)
    with pytest.raises(RuntimeError, match="jfa: a third derivative"):
        torch.autograd.grad(sum(hi.sum() for hi in h), x)


def test_tangent_gradient_cotangent_raises(gen):
    """Differentiating the gradients through the JVP tangent with respect to the loss's weights on od (a second-order
    term jfa does not compute) raises an error that says so, not the third-derivative one."""
    xs, f, _ = _setup(gen, (1, 2, 1, 5, 5, 4), {})
    x = [a.clone().requires_grad_() for a in xs]
    t = [randn(gen, a.shape, torch.float64, "cpu") for a in xs]
    w = randn(gen, xs[0].shape, torch.float64, "cpu").requires_grad_()
    with fwAD.dual_level():
        _, od = fwAD.unpack_dual(f(*[fwAD.make_dual(a, b) for a, b in zip(x, t)]))
        gx = torch.autograd.grad((od * w).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiated with respect to their cotangents"):
        torch.autograd.grad(sum(g.sum() for g in gx), w)


def test_torch_func_hvp(gen):
    """torch.func.jvp(torch.func.grad(f)) (forward-over-reverse under functorch), torch >= 2.0."""
    if not HAS_TORCH_FUNC:
        pytest.skip("torch.func needs torch >= 2.0 (installed: %s)" % torch.__version__)
    xs, f, r = _setup(gen, (1, 2, 1, 9, 11, 5), dict(is_causal=True, causal_alignment="bottom_right"))
    t = randn(gen, xs[0].shape, torch.float64, "cpu")
    loss = lambda fn: (lambda a: (fn(a, xs[1], xs[2]) ** 2).sum())
    _, hv = torch.func.jvp(torch.func.grad(loss(f)), (xs[0],), (t,))
    _, hvr = torch.autograd.functional.hvp(loss(r), xs[0], t)
    assert relerr(hv, hvr) < 1e-10


@pytest.mark.gpu
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-5), (torch.float16, 1e-2), (torch.bfloat16, 5e-2)])
def test_cuda_double_backward_and_hvp(gen, dtype, tol):
    """The second-order calls on CUDA tensors against the float64 reference."""
    xs, f, r = _setup(gen, (2, 4, 2, 77, 90, 40), dict(is_causal=True, causal_alignment="bottom_right"),
                      "cuda", dtype)
    t = tuple(randn(gen, x.shape, dtype, "cuda") for x in xs)
    loss = lambda fn: (lambda a, b, c: (fn(a, b, c).float() ** 2).sum())
    _, hv = torch.autograd.functional.hvp(loss(f), xs, t)
    _, hvr = torch.autograd.functional.hvp(loss(r), tuple(x.double() for x in xs), tuple(x.double() for x in t))
    for a, b in zip(hv, hvr):
        assert relerr(a, b) < tol, relerr(a, b)
    x = [a.clone().requires_grad_() for a in xs]
    with fwAD.dual_level():
        g = torch.autograd.grad(loss(f)(*[fwAD.make_dual(a, b) for a, b in zip(x, t)]), x)
        tangents = [fwAD.unpack_dual(gi).tangent for gi in g]
    for a, b in zip(tangents, hvr):
        assert relerr(a, b) < tol, relerr(a, b)


def test_zero_tensor_tangent_is_zeros():
    """A ZeroTensor (forward AD's storage-less zero tangent: data_ptr() = 0, which torch.func.hessian
    passes for directions that miss an input; the H200 run of 2026-12-02 failed with "doutd: data
    is NULL") reaches the C call as real zeros: the backward-JVP with it equals the one with zeros."""
    make_zero = getattr(torch, "_efficientzerotensor", None)
    if make_zero is None:
        pytest.skip("this torch has no ZeroTensor")
    from jfa.torch import _core, _second_order
    g = torch.Generator().manual_seed(11)
    q, k, v, qd, kd, vd, do = (torch.randn(1, 2, 5, 8, generator=g, dtype=torch.float64) for _ in range(7))
    cfg = _core.Config(None, 0)
    o, lse, od, mu = _core.forward(q, k, v, cfg, qd, kd, vd)
    z = make_zero(o.shape, dtype=o.dtype)
    assert z.data_ptr() == 0 and _core.plain(z).data_ptr() != 0
    got = _second_order.backward_jvp(q, k, v, qd, kd, vd, o, lse, od, mu, do, z, cfg)
    want = _second_order.backward_jvp(q, k, v, qd, kd, vd, o, lse, od, mu, do, torch.zeros_like(o), cfg)
    for a, b in zip(got, want):
        assert torch.equal(a, b)


# ---- the hess along plain_jvp's tangent reuses its fused call's (od, mu) -----------------------

def _fused_counter(monkeypatch):
    """Counts the fused forward+JVP calls (_core.forward with tangents) from here on."""
    from jfa.torch import _core
    calls = []
    real = _core.forward

    def counting(q, k, v, cfg, qd=None, *args, **kwargs):
        if qd is not None:
            calls.append(1)
        return real(q, k, v, cfg, qd, *args, **kwargs)
    monkeypatch.setattr(_core, "forward", counting)
    return calls


def test_jvp_stats_same_tangent_predicate(gen):
    """JvpStats.matches: the same tangent tensors -> reuse; a clone (equal values, other storage),
    another stride over the same storage, a slice, an in-place add_, a zero (None) direction where
    the call had a tangent, another op object or mask, a changed primal -> no reuse."""
    from jfa.torch import _core, _second_order
    x = tuple(randn(gen, (1, 2, 6, 4), torch.float64, "cpu") for _ in range(3))
    t = [randn(gen, (1, 2, 6, 4), torch.float64, "cpu") for _ in range(3)]
    cfg = _core.Config(None, 0)
    _, _, od, mu = _core.forward(*x, cfg, *t)
    st = _second_order.make_jvp_stats(x, t, cfg, None, od, mu)
    assert st is not None and st.od is od and st.mu is mu
    assert st.matches(x, t) and st.matches(x, tuple(t))
    assert st.same_call(x, cfg, None)
    assert not st.same_call(x, _core.Config(None, 0), None)  # equal options, another op object
    assert not st.same_call(x, cfg, torch.zeros(1, 1, 6, 6, dtype=torch.float64))
    assert not st.matches(x, (t[0].clone(), t[1], t[2]))
    restrided = t[1].as_strided(t[1].shape, (12345,) + t[1].stride()[1:])  # batch 1: the same elements
    assert restrided.data_ptr() == t[1].data_ptr() and restrided.stride() != t[1].stride()
    assert not st.matches(x, (t[0], restrided, t[2]))
    wide = torch.cat([t[2], t[2]], -1)
    st2 = _second_order.make_jvp_stats(x, (t[0], t[1], wide[..., :4]), cfg, None, od, mu)
    assert st2.matches(x, (t[0], t[1], wide[..., :4]))  # a view made again: same storage, place, strides
    assert not st2.matches(x, (t[0], t[1], wide[..., 4:]))  # same storage, another data_ptr
    assert not st.matches(x, (t[0], None, t[2]))  # zeros there, where the call had kd
    assert not st.matches(x, (None, None, None))
    assert not st.matches((x[0].clone(), x[1], x[2]), t)
    t[2].add_(1.0)  # in place: the version counter moves
    assert not st.matches(x, t)
    # an input without a tangent in the call (None, as forward AD gives it) matches None only
    sp = _second_order.make_jvp_stats(x, (t[0], None, None), cfg, None, od, mu)
    assert sp.matches(x, (t[0], None, None))
    assert not sp.matches(x, (t[0], t[1], None))
    assert _second_order.make_jvp_stats(x, (None, None, None), cfg, None, od, mu) is None
    assert _second_order.make_jvp_stats(x, t, cfg, None, od, None) is None


@pytest.mark.parametrize("shape,kwargs", [CASES[1], CASES[2]])
def test_backward_jvp_reuses_jvp_stats(gen, monkeypatch, shape, kwargs):
    """Forward-over-reverse through _second_order.backward with a JvpStats of the forward call (as
    _Attention's backward passes plain_jvp's): along the same tangents, k's included or absent (an
    HVP in q and v only), no fused call is made and the HVP of sum(O^2) equals the reference's; along
    a clone of one tangent, the one fused call and the reference HVP. Runs on any torch (the classic
    Function; torch 1.13's forward AD cannot run plain_jvp itself: a None tangent for lse fails there)."""
    from jfa.torch import _autograd, _core, _second_order
    xs, _, r = _setup(gen, shape, kwargs)
    ts = tuple(randn(gen, x.shape, torch.float64, "cpu") for x in xs)
    from jfa.torch._api import _ALIGN
    cfg = _core.Config(None, _ALIGN[kwargs.get("causal_alignment", "top_left")] if kwargs.get("is_causal") else 0)
    _, hvr = torch.autograd.functional.hvp(lambda a, b, c: (r(a, b, c) ** 2).sum(), xs, ts)
    o, lse, _, _ = _core.forward(*xs, cfg)
    # k without a tangent (an HVP in q and v only): the call's JvpStats holds None for it, and the
    # backward's jvp rule gets None for k's direction too (_Backward does not materialize it): no
    # fused call, and the reference HVP with a zero k direction
    ts_qv = (ts[0], torch.zeros_like(ts[1]), ts[2])
    _, hvr_qv = torch.autograd.functional.hvp(lambda a, b, c: (r(a, b, c) ** 2).sum(), xs, ts_qv)
    for reuse, k_tangent in ((True, True), (False, True), (True, False)):
        calls = _fused_counter(monkeypatch)
        with fwAD.dual_level():
            x = tuple(a if i == 1 and not k_tangent else fwAD.make_dual(a, b) for i, (a, b) in enumerate(zip(xs, ts)))
            tangents = tuple(fwAD.unpack_dual(a).tangent for a in x)
            with torch.no_grad():
                _, _, od, mu = _core.forward(*xs, cfg, *(ts if k_tangent else ts_qv))
            seen = tangents if reuse else (tangents[0].clone(),) + tangents[1:]
            st = _second_order.make_jvp_stats(x, seen, cfg, None, od, mu)
            del calls[:]
            do = fwAD.make_dual(2 * o, 2 * od)
            g = _second_order.backward(_autograd._backward, _second_order.SINGLE_DEVICE, (*x, o, lse), do, cfg,
                                       None, jvp_stats=st)
            hv = [fwAD.unpack_dual(a).tangent for a in g]
        assert len(calls) == (0 if reuse else 1), (reuse, k_tangent, len(calls))
        for a, b in zip(hv, hvr if k_tangent else hvr_qv):
            assert relerr(a, b) < 1e-10, (reuse, k_tangent, relerr(a, b))


@pytest.mark.parametrize("shape,kwargs,argnums", [
    pytest.param((2, 2, 2, 7, 7, 5), {}, (0, 1, 2), id="plain"),
    pytest.param((1, 2, 2, 9, 13, 6), dict(is_causal=True, causal_alignment="bottom_right"), (0, 1, 2), id="causal"),
    pytest.param((1, 4, 2, 9, 13, 6), dict(is_causal=True), (0, 1, 2), id="gqa-causal"),
    pytest.param((1, 4, 2, 8, 8, 4), {}, (0, 2), id="gqa-q-v"),
])
def test_torch_func_hvp_one_fused_call(gen, monkeypatch, shape, kwargs, argnums):
    """torch.func.jvp(torch.func.grad(f, argnums)) with f = sum(attention(q, k, v)^2): the HVP against
    the reference (softmax written out, torch.autograd.functional.hvp), and exactly one fused
    forward+JVP per HVP (_Attention's jvp(); the backward's jvp rule reuses its od and mu). The
    thread-local hand-over slot is empty afterwards. torch >= 2.0."""
    if not HAS_TORCH_FUNC:
        pytest.skip("torch.func needs torch >= 2.0 (installed: %s)" % torch.__version__)
    from jfa.torch import _second_order
    xs, f, r = _setup(gen, shape, kwargs)
    ts = tuple(randn(gen, xs[i].shape, torch.float64, "cpu") for i in argnums)

    def loss(fn):
        def l(*a):
            full = list(xs)
            for i, ai in zip(argnums, a):
                full[i] = ai
            return (fn(*full) ** 2).sum()
        return l
    prim = tuple(xs[i] for i in argnums)
    _, hvr = torch.autograd.functional.hvp(loss(r), prim, ts)
    calls = _fused_counter(monkeypatch)
    for rep in range(2):
        del calls[:]
        _, hv = torch.func.jvp(torch.func.grad(loss(f), argnums=tuple(range(len(argnums)))), prim, ts)
        assert len(calls) == 1, len(calls)
        for a, b in zip(hv, hvr):
            assert relerr(a, b) < 1e-10, relerr(a, b)
        assert getattr(_second_order._handoff, "stats", None) is None
