"""
test_vmap.py - torch.vmap over jfa attention (and so torch.func.jacrev, jacfwd, hessian and
jvp(grad)): the vmap rules of _vmap.py fold the vmapped dim into attention's batch dim.

- any torch (CI's 1.13 too): the dim-folding helpers (views where the strides allow, negative
  dims, masks of batch 1, packed sequences), and each Function's vmap staticmethod called
  directly on plain tensors (as functorch calls it, with info and in_dims) against one call per
  vmapped slice: attention, the fused JVP, the backward, the Hessian of the backward, the
  gradient through the tangent, the empty case; batched and unbatched arguments, masks batched
  or not, GQA, windows, varlen, negative in_dims; the ring's rule is a jfa error;
- torch >= 2.0 (skipped with the reason on older torch): torch.func.vmap (nested too), jacrev,
  jacfwd, hessian and jvp(grad) over jfa.torch.attention against the same calls over the float64
  reference written with plain torch ops, masks (bool, additive, batched through vmap), GQA,
  windows and varlen included.
"""
import types

import pytest
import torch

from conftest import HAS_TORCH_FUNC, randn, reference, relerr

import jfa.torch as jt
from jfa import _lib
from jfa.torch import _autograd, _core, _second_order, _vmap

F64 = torch.float64


def _info(V):
    return types.SimpleNamespace(batch_size=V, randomness="error")


def _rand(gen, shape):
    return randn(gen, shape, F64, "cpu")


def _batched(gen, shape, V, d):
    """(the V slices, the argument): V fresh tensors stacked at in_dim d, or one tensor (d None)."""
    if d is None:
        t = _rand(gen, shape)
        return [t] * V, t
    xs = [_rand(gen, shape) for _ in range(V)]
    return xs, torch.stack(xs, d)


def _close(outs, out_dims, per_slice):
    """The rule's outputs (out_dim 0) against the per-slice calls' outputs stacked."""
    if not isinstance(outs, tuple):
        outs, out_dims, per_slice = (outs,), (out_dims,), [(p,) for p in per_slice]
    assert out_dims == (0,) * len(outs)
    for j, o in enumerate(outs):
        ref = torch.stack([p[j] for p in per_slice])
        assert o.shape == ref.shape, (j, o.shape, ref.shape)
        fin = torch.isfinite(ref)  # lse of a fully masked row is -inf, in both
        assert torch.equal(torch.isfinite(o), fin) and torch.equal(o[~fin], ref[~fin]), j
        assert relerr(o[fin], ref[fin]) < 1e-13, (j, relerr(o[fin], ref[fin]))


# ---- the folding helpers (plain reshapes) ------------------------------------------------------

def test_canonical_dim():
    assert _vmap.canonical_dim(-1, 5) == 4 and _vmap.canonical_dim(-5, 5) == 0 and _vmap.canonical_dim(2, 5) == 2
    for d in (5, -6):
        with pytest.raises(IndexError, match="jfa: vmap in_dim"):
            _vmap.canonical_dim(d, 5)


@pytest.mark.parametrize("d", [0, 2, -1, -3, None])
@pytest.mark.parametrize("B", [1, 3])
def test_fold_unfold_roundtrip(gen, d, B):
    V = 4
    xs, x = _batched(gen, (B, 2, 5, 3), V, d)
    f = _vmap.Folder(V, x, d)
    assert f.B == B
    y = f.fold(x, d)
    assert y.shape == (V * B, 2, 5, 3)
    assert torch.equal(f.unfold(y), torch.stack(xs))
    if d is None and B == 1:  # an unbatched operand of batch 1: a zero-stride view, no copy
        assert y.data_ptr() == x.data_ptr() and y.stride(0) == 0
    if d == 0:  # the vmapped dim already in front: a view
        assert y.data_ptr() == x.data_ptr()


def test_fold_mask(gen):
    V, B = 3, 2
    q = _rand(gen, (B, 2, 4, 5))
    f = _vmap.Folder(V, q, None)
    m1 = _rand(gen, (1, 1, 4, 6))
    assert f.fold_mask(m1, None) is m1  # batch 1, not batched: broadcasts as it is
    ms = [_rand(gen, (1, 2, 4, 6)) for _ in range(V)]  # batched, batch 1: expanded to B
    got = f.fold_mask(torch.stack(ms, -2), -2).reshape(V, B, 2, 4, 6)
    for i in range(V):
        assert torch.equal(got[i], ms[i].expand(B, 2, 4, 6))
    mb = _rand(gen, (B, 1, 4, 6))  # batch B, not batched: repeated V times
    assert torch.equal(f.fold_mask(mb, None).reshape(V, B, 1, 4, 6), mb.expand(V, B, 1, 4, 6))
    with pytest.raises(ValueError, match="jfa: vmap rule"):
        f.fold(_rand(gen, (B + 1, 2, 4, 5)), None)


def test_fold_varlen(gen):
    V = 3
    cfg = _core.Config(None, _lib.MASK_NONE, None, (-1, -1), ((0, 2, 5), (0, 3, 4)))
    xs, x = _batched(gen, (1, 2, 5, 3), V, 1)
    f = _vmap.Folder(V, x, 1, cfg)
    assert f.op.cu_seqlens == ((0, 2, 5, 7, 10, 12, 15), (0, 3, 4, 7, 8, 11, 12))
    assert cfg.cu_seqlens == ((0, 2, 5), (0, 3, 4))  # the caller's Config untouched
    y = f.fold(x, 1)
    assert y.shape == (1, 2, 15, 3)
    assert torch.equal(y[0, :, 5:10], xs[1][0])
    assert torch.equal(f.unfold(y), torch.stack(xs))


def test_with_mask_and_config_with():
    cfg = _core.Config(0.5, _lib.MASK_CAUSAL_TOP_LEFT, None, (3, 0))
    assert _vmap.with_mask(cfg, None) is cfg
    m = torch.ones(1, 1, 2, 2, dtype=torch.bool)
    c2 = _vmap.with_mask(cfg, m)
    assert c2 is not cfg and c2.attn_mask is m and cfg.attn_mask is None
    assert (c2.scale, c2.mask, c2.window, c2.flags) == (cfg.scale, cfg.mask, cfg.window, cfg.flags)
    assert _vmap.with_mask(c2, m) is c2
    ring = object()
    assert _vmap.with_mask(ring, None) is ring
    with pytest.raises(ValueError, match="jfa: a dense attn_mask"):
        _vmap.with_mask(ring, m)


def test_any_batched(gen):
    """any_batched sees a vmap-batched tensor, under grad wrappers too, and nothing else (functorch's
    vmap and grad: torch.func on torch >= 2.0, the functorch package on 1.13)."""
    ft = getattr(torch, "func", None)
    if ft is None:
        ft = pytest.importorskip("functorch", reason="no torch.func and no functorch package")
    t = _rand(gen, (3, 2))
    seen = []

    def probe(x):
        seen.append(_vmap.any_batched([None, x]))
        return x.sum()
    ft.vmap(probe)(t)
    ft.grad(probe)(t)
    ft.vmap(ft.grad(probe))(t)
    ft.grad(lambda x: ft.vmap(probe)(x).sum())(t)
    assert seen == [True, False, True, True] and not _vmap.any_batched([t, None])


# ---- each Function's vmap staticmethod, called as functorch calls it ---------------------------

RULE_CASES = [  # (B, Hq, Hkv, L, S, E), config kwargs, mask kind, in_dims of (q, k, v, mask)
    pytest.param((2, 2, 2, 5, 6, 3), {}, None, (0, None, -1, None), id="plain-neg"),
    pytest.param((1, 4, 2, 7, 7, 5), dict(mode=_lib.MASK_CAUSAL_TOP_LEFT), None, (2, 1, None, None), id="gqa-causal"),
    pytest.param((2, 2, 1, 6, 9, 4), dict(mode=_lib.MASK_CAUSAL_BOTTOM_RIGHT, window=(2, 0)), None,
                 (None, None, 0, None), id="gqa-window"),
    pytest.param((2, 2, 2, 5, 6, 3), {}, "bool1", (1, 0, 0, None), id="mask-b1"),
    pytest.param((2, 2, 2, 5, 6, 3), {}, "boolB", (None, 0, 0, None), id="mask-bB"),
    pytest.param((2, 2, 2, 5, 6, 3), {}, "float1", (0, None, None, -1), id="mask-batched-b1"),
    pytest.param((2, 2, 2, 5, 6, 3), {}, "floatB", (None, None, None, 0), id="mask-only-batched"),
]


def _mask_slices(gen, kind, shape, V, d):
    B, Hq, _, L, S, _ = shape
    if kind is None:
        return [None] * V, None
    b = 1 if kind.endswith("1") else B
    if kind.startswith("bool"):
        def one():
            m = torch.rand((b, Hq, L, S), generator=gen) > 0.3
            m[..., 0] = True
            return m
    else:
        def one():
            return _rand(gen, (b, 1, L, S))
    if d is None:
        m = one()
        return [m] * V, m
    ms = [one() for _ in range(V)]
    return ms, torch.stack(ms, d)


def _rule_inputs(gen, shape, kwargs, mask_kind, dims, V):
    B, Hq, Hkv, L, S, E = shape
    (qs, q), (ks, k), (vs, v) = (_batched(gen, s, V, d) for s, d in zip(((B, Hq, L, E), (B, Hkv, S, E),
                                                                            (B, Hkv, S, E)), dims[:3]))
    ms, m = _mask_slices(gen, mask_kind, shape, V, dims[3])
    cfg = _core.Config(kwargs.get("scale"), kwargs.get("mode", _lib.MASK_NONE), m, kwargs.get("window", (-1, -1)))
    return (qs, ks, vs, ms), (q, k, v, m), cfg


@pytest.mark.parametrize("shape,kwargs,mask_kind,dims", RULE_CASES)
def test_rule_attention_and_jvp(gen, shape, kwargs, mask_kind, dims):
    V = 3
    (qs, ks, vs, ms), (q, k, v, m), cfg = _rule_inputs(gen, shape, kwargs, mask_kind, dims, V)
    P, J = _autograd._Attention, _autograd._AttentionJvp
    outs, od = P.vmap(_info(V), dims + (None,), q, k, v, m, cfg)
    _close(outs, od, [P.apply(qs[i], ks[i], vs[i], ms[i], cfg) for i in range(V)])
    # the fused JVP with tangents batched at other dims (and one unbatched)
    tdims = (-2, None, 1)
    (qts, qt), (kts, kt), (vts, vt) = (_batched(gen, x.shape, V, d) for x, d in zip((qs[0], ks[0], vs[0]), tdims))
    outs, od = J.vmap(_info(V), dims[:3] + tdims + (dims[3], None, None), q, k, v, qt, kt, vt, m, cfg, None)
    _close(outs, od, [J.apply(qs[i], ks[i], vs[i], qts[i], kts[i], vts[i], ms[i], cfg, None) for i in range(V)])


@pytest.mark.parametrize("shape,kwargs,mask_kind,dims", RULE_CASES)
def test_rule_second_order(gen, shape, kwargs, mask_kind, dims):
    """The backward (jacrev's vmap over cotangents), the Hessian of the backward (hessian's vmap over
    directions) and the gradient through the tangent output, each batched over some arguments."""
    V = 2
    (qs, ks, vs, ms), (q, k, v, m), cfg = _rule_inputs(gen, shape, kwargs, mask_kind, dims, V)
    fw = [_core.forward(qs[i], ks[i], vs[i], _vmap.with_mask(cfg, ms[i])) for i in range(V)]
    os_, lses = [f[0] for f in fw], [f[1] for f in fw]
    batched_x = any(d is not None for d in dims)
    o = torch.stack(os_, 1) if batched_x else os_[0]
    lse = torch.stack(lses, 1) if batched_x else lses[0]
    od_ = 1 if batched_x else None
    dos, do = _batched(gen, qs[0].shape, V, -1)
    ops = _second_order.SINGLE_DEVICE

    Bk = _second_order._Backward
    state = (ops, cfg, m, o, lse, None)  # (.., jvp_stats): a JvpStats is dropped by the rule ("r")
    sdims = (None, None, dims[3], od_, od_, None)
    outs, odims = Bk.vmap(_info(V), dims[:3] + (-1, sdims), q, k, v, do, state)
    _close(outs, odims, [Bk.apply(qs[i], ks[i], vs[i], dos[i], (ops, cfg, ms[i], os_[i], lses[i], None))
                         for i in range(V)])

    H = _second_order._Hess
    tds = (0, None, 2, 0)
    tq, tk, tv, tdo = (_batched(gen, x.shape, V, d) for x, d in zip((qs[0], ks[0], vs[0], os_[0]), tds))
    state = (ops, cfg, m, (q, k, v), do, o, lse)
    sdims = (None, None, dims[3], dims[:3], -1, od_, od_)
    outs, odims = H.vmap(_info(V), tds + (sdims,), tq[1], tk[1], tv[1], tdo[1], state)
    _close(outs, odims, [H.apply(tq[0][i], tk[0][i], tv[0][i], tdo[0][i],
                                 (ops, cfg, ms[i], (qs[i], ks[i], vs[i]), dos[i], os_[i], lses[i])) for i in range(V)])

    T = _second_order._TangentGrad
    dods, dod = _batched(gen, qs[0].shape, V, 0)
    outs, odims = T.vmap(_info(V), dims[:3] + tds[:3] + (-1, 0, (None, None, dims[3])), q, k, v, tq[1], tk[1],
                         tv[1], do, dod, (ops, cfg, m))
    _close(outs, odims, [T.apply(qs[i], ks[i], vs[i], tq[0][i], tk[0][i], tv[0][i], dos[i], dods[i],
                                 (ops, cfg, ms[i])) for i in range(V)])


def test_rule_drops_records(gen):
    """An 'r' entry of a rule's layout (a _second_order.JvpStats kept for one unbatched call) reaches
    the folded call as None; '-' entries pass through as they are."""
    seen = []

    class Fake:
        @staticmethod
        def apply(*args):
            seen.append(args)
            return args[0] * 2

    rule = _vmap.rule(lambda: Fake, ("x", ("-", "r")))
    x = _rand(gen, (2, 3, 1, 4, 5))
    out, d = rule(_info(2), (0, (None, None)), x, ("kept", object()))
    assert seen[0][1] == ("kept", None) and seen[0][0].shape == (6, 1, 4, 5)
    assert d == 0 and torch.equal(out, x * 2)


def test_rule_varlen(gen):
    """Packed sequences: V folded into the token axis with the offsets repeated."""
    V, H, E = 3, 2, 4
    cu = ((0, 3, 7, 8), (0, 2, 7, 9))
    cfg = _core.Config(None, _lib.MASK_CAUSAL_BOTTOM_RIGHT, None, (2, 1), cu)
    qs, q = _batched(gen, (1, H, 8, E), V, 2)
    ks, k = _batched(gen, (1, H, 9, E), V, None)
    vs, v = _batched(gen, (1, H, 9, E), V, -1)
    P = _autograd._Attention
    outs, od = P.vmap(_info(V), (2, None, -1, None, None), q, k, v, None, cfg)
    _close(outs, od, [P.apply(qs[i], ks[i], vs[i], None, cfg) for i in range(V)])


def test_rule_nokeys_and_guard(gen):
    V = 2
    qs, q = _batched(gen, (2, 1, 3, 4), V, 1)
    k = _rand(gen, (2, 1, 0, 4))
    outs, od = _autograd._NoKeys.vmap(_info(V), (1, None, None), q, k, k)
    assert od == 0 and outs.shape == (V, 2, 1, 3, 4) and not outs.any()
    z, zd = _second_order._ThirdOrder.vmap(_info(V), (None, 1), "msg", q)
    assert zd is None and z.shape == () and z.item() == 0


def test_rule_ring_refused(gen):
    """The ring's Functions have no batching rule: a jfa error naming the ring."""
    from jfa.torch import _ring
    q = _rand(gen, (1, 1, 4, 2))
    with pytest.raises(RuntimeError, match="jfa: torch.vmap .* ring attention"):
        _ring._RingAttention.vmap(_info(2), (0, None, None, None, None), torch.stack([q, q]), q, q, None, object())
    with pytest.raises(RuntimeError, match="jfa: torch.vmap .* ring attention"):
        _second_order._Backward.vmap(_info(2), (0, None, None, None, (None, None, None, None, None, None)),
                                     torch.stack([q, q]), q, q, q, (_second_order.RING, object(), None, q, q, None))


def test_operator_vmap_rule(gen):
    """The custom operators' vmap rule (_ops._vmap_rule; registered where torch has register_vmap) on
    stand-in operators that make the same C calls: forward, backward; dense mask and packed sequences."""
    from jfa.torch import _ops

    def fwd(q, k, v, m, cq, ck, scale, mode, wl, wr):
        return _core.forward(q, k, v, _ops._config(q, k, m, cq, ck, scale, mode, wl, wr))[:2]

    def bwd(q, k, v, o, lse, do, m, cq, ck, scale, mode, wl, wr):
        return _core.backward(q, k, v, o, lse, do, _ops._config(q, k, m, cq, ck, scale, mode, wl, wr))
    V = 3
    qs, q = _batched(gen, (2, 2, 5, 4), V, -1)
    ks, k = _batched(gen, (2, 1, 6, 4), V, None)
    vs, v = _batched(gen, (2, 1, 6, 4), V, 1)
    ms, m = _mask_slices(gen, "bool1", (2, 2, 1, 5, 6, 4), V, 0)
    opts = (None, None, 0.7, _lib.MASK_CAUSAL_BOTTOM_RIGHT, 3, 1)
    outs, od = _ops._vmap_rule(fwd, 3)(_info(V), (-1, None, 1, 0) + (None,) * 6, q, k, v, m, *opts)
    per = [fwd(qs[i], ks[i], vs[i], ms[i], *opts) for i in range(V)]
    _close(outs, od, per)
    dos, do = _batched(gen, (2, 2, 5, 4), V, 2)
    outs, od = _ops._vmap_rule(bwd, 6)(_info(V), (-1, None, 1, 0, 0, 2, 0) + (None,) * 6, q, k, v, outs[0], outs[1],
                                       do, m, *opts)
    _close(outs, od, [bwd(qs[i], ks[i], vs[i], per[i][0], per[i][1], dos[i], ms[i], *opts) for i in range(V)])
    cq, ck = torch.tensor([0, 2, 5]), torch.tensor([0, 4, 6])
    qs, q = _batched(gen, (1, 2, 5, 4), V, 0)
    ks, k = _batched(gen, (1, 2, 6, 4), V, -2)
    vs, v = _batched(gen, (1, 2, 6, 4), V, None)
    opts = (cq, ck, None, _lib.MASK_CAUSAL_TOP_LEFT, -1, -1)
    outs, od = _ops._vmap_rule(fwd, 3)(_info(V), (0, -2, None) + (None,) * 7, q, k, v, None, *opts)
    _close(outs, od, [fwd(qs[i], ks[i], vs[i], None, *opts) for i in range(V)])
    with pytest.raises(RuntimeError, match="jfa: torch.vmap over packed-sequence offsets"):
        _ops._vmap_rule(fwd, 3)(_info(V), (0, -2, None, None, 0) + (None,) * 5, q, k, v, None, *opts)


# ---- torch.func transforms over jfa.torch.attention (torch >= 2.0) ------------------------------

needs_func = pytest.mark.skipif(not HAS_TORCH_FUNC, reason="torch.func needs torch >= 2.0 (installed: %s)"
                                % torch.__version__)

FUNC_CASES = [  # (B, Hq, Hkv, L, S, E), attention kwargs, mask kind
    pytest.param((1, 1, 1, 3, 4, 2), {}, None, id="small"),
    pytest.param((2, 2, 1, 4, 5, 3), dict(is_causal=True, causal_alignment="bottom_right"), None, id="gqa-causal"),
    pytest.param((1, 2, 2, 5, 5, 2), dict(is_causal=True, window=(2, 0)), None, id="window"),
    pytest.param((1, 2, 2, 3, 4, 2), {}, "bool", id="bool-mask"),
    pytest.param((2, 1, 1, 3, 4, 2), {}, "float", id="float-mask"),
]


def _func_setup(gen, shape, kwargs, mask_kind):
    B, Hq, Hkv, L, S, E = shape
    q, k, v = _rand(gen, (B, Hq, L, E)), _rand(gen, (B, Hkv, S, E)), _rand(gen, (B, Hkv, S, E))
    kw = dict(kwargs)
    if Hq != Hkv:
        kw["enable_gqa"] = True
    m = None
    if mask_kind == "bool":
        m = torch.rand((1, Hq, L, S), generator=gen) > 0.4
        m[..., 1] = True
    elif mask_kind == "float":
        m = _rand(gen, (B, 1, L, S))
    rkw = dict(is_causal=kw.get("is_causal", False), alignment=kw.get("causal_alignment", "top_left"),
               window=kw.get("window"))

    def f(a, b, c, mask=m):
        return jt.attention(a, b, c, attn_mask=mask, **kw)

    def r(a, b, c, mask=m):
        return reference(a, b, c, attn_mask=mask, **rkw)
    return (q, k, v), f, r, m


def _losses(gen, shape):
    B, Hq, _, L, _, E = shape
    w = _rand(gen, (B, Hq, L, E))
    return [lambda o: (o * w).sum(), lambda o: (o ** 2 * w).sum() + o.sum()]


@needs_func
@pytest.mark.parametrize("shape,kwargs,mask_kind", FUNC_CASES)
def test_func_vmap(gen, shape, kwargs, mask_kind):
    """torch.func.vmap over q (dim 0), k (last dim, negative) and v unbatched; then nested vmap."""
    (q, k, v), f, r, _ = _func_setup(gen, shape, kwargs, mask_kind)
    V, W = 3, 2
    qb = torch.stack([q + 0.1 * i for i in range(V)])
    kb = torch.stack([k - 0.2 * i for i in range(V)], -1)
    got = torch.func.vmap(f, in_dims=(0, -1, None))(qb, kb, v)
    want = torch.func.vmap(r, in_dims=(0, -1, None))(qb, kb, v)
    assert got.shape == want.shape and relerr(got, want) < 1e-12
    grads = []  # ordinary autograd through the vmapped call (loss.backward())
    for fn in (f, r):
        xs = [x.detach().clone().requires_grad_(True) for x in (qb, kb, v)]
        (torch.func.vmap(fn, in_dims=(0, -1, None))(*xs) ** 2).sum().backward()
        grads.append([x.grad for x in xs])
    for a, b in zip(*grads):
        assert relerr(a, b) < 1e-11, relerr(a, b)
    vb = torch.stack([torch.stack([v * (1 + i + j) for j in range(W)], 1) for i in range(V)], -1)  # (W at 1, V last)
    inner = torch.func.vmap(f, in_dims=(None, None, 1))
    got = torch.func.vmap(inner, in_dims=(0, -1, -1))(qb, kb, vb)
    want = torch.func.vmap(torch.func.vmap(r, in_dims=(None, None, 1)), in_dims=(0, -1, -1))(qb, kb, vb)
    assert got.shape == want.shape and relerr(got, want) < 1e-12


@needs_func
def test_func_vmap_over_masks(gen):
    """A mask batched through vmap (bool and additive, with and without batched q) and a 5-d input."""
    (q, k, v), f, r, _ = _func_setup(gen, (2, 2, 2, 4, 5, 3), {}, None)
    V = 3
    mb = torch.rand((V, 1, 2, 4, 5), generator=gen) > 0.3
    mb[..., 0] = True
    mf = _rand(gen, (4, 5, V))
    for m, md in ((mb, 0), (mf, -1)):
        got = torch.func.vmap(lambda mask: f(q, k, v, mask), in_dims=(md,))(m)
        want = torch.func.vmap(lambda mask: r(q, k, v, mask), in_dims=(md,))(m)
        assert relerr(got, want) < 1e-12
        qb = torch.stack([q * (i + 1) for i in range(V)], 2)
        got = torch.func.vmap(lambda a, mask: f(a, k, v, mask), in_dims=(2, md))(qb, m)
        want = torch.func.vmap(lambda a, mask: r(a, k, v, mask), in_dims=(2, md))(qb, m)
        assert relerr(got, want) < 1e-12
    q5, k5, v5 = (x.unsqueeze(0).expand(3, *x.shape).contiguous() for x in (q, k, v))  # (N1, N2, H, L, E)
    got = torch.func.vmap(lambda a: jt.attention(a, k5, v5))(torch.stack([q5, 2 * q5]))
    want = torch.func.vmap(lambda a: reference(a, k5, v5))(torch.stack([q5, 2 * q5]))
    assert relerr(got, want) < 1e-12


@needs_func
@pytest.mark.parametrize("shape,kwargs,mask_kind", FUNC_CASES)
def test_func_jacrev_jacfwd(gen, shape, kwargs, mask_kind):
    (q, k, v), f, r, _ = _func_setup(gen, shape, kwargs, mask_kind)
    for jac in (torch.func.jacrev, torch.func.jacfwd):
        got = jac(f, argnums=(0, 1, 2))(q, k, v)
        want = jac(r, argnums=(0, 1, 2))(q, k, v)
        for a, b in zip(got, want):
            assert a.shape == b.shape and relerr(a, b) < 1e-11, (jac.__name__, relerr(a, b))


@needs_func
@pytest.mark.parametrize("shape,kwargs,mask_kind", FUNC_CASES)
def test_func_hessian(gen, shape, kwargs, mask_kind):
    """torch.func.hessian (jacfwd(jacrev): vmap of a jvp of a vjp, vmapped again) in all three inputs;
    jacrev(jacrev) (double backward under vmap), jacrev(jacfwd) (reverse through the tangent) and
    torch.autograd.functional.hessian(vectorize=True) in q."""
    (q, k, v), f, r, _ = _func_setup(gen, shape, kwargs, mask_kind)
    for loss in _losses(gen, shape):
        got = torch.func.hessian(lambda a, b, c: loss(f(a, b, c)), argnums=(0, 1, 2))(q, k, v)
        want = torch.func.hessian(lambda a, b, c: loss(r(a, b, c)), argnums=(0, 1, 2))(q, k, v)
        for i in range(3):
            for j in range(3):
                assert relerr(got[i][j], want[i][j]) < 1e-10, (i, j, relerr(got[i][j], want[i][j]))
        want = torch.func.hessian(lambda a: loss(r(a, k, v)))(q)
        for outer, inner in ((torch.func.jacrev, torch.func.jacrev), (torch.func.jacrev, torch.func.jacfwd)):
            got = outer(inner(lambda a: loss(f(a, k, v))))(q)
            assert relerr(got, want) < 1e-10, (outer.__name__, inner.__name__, relerr(got, want))
        got = torch.autograd.functional.hessian(lambda a: loss(f(a, k, v)), q, vectorize=True)
        assert relerr(got, want) < 1e-10


@needs_func
def test_func_hessian_nonzero(gen):
    """The issue's case: torch.func.hessian of attention(x, k, v).sum() in q, not zero."""
    (q, k, v), f, r, _ = _func_setup(gen, (1, 1, 1, 4, 4, 3), {}, None)
    h = torch.func.hessian(lambda x: f(x, k, v).sum())(q)
    hr = torch.func.hessian(lambda x: r(x, k, v).sum())(q)
    assert hr.norm() > 1e-3 and relerr(h, hr) < 1e-10


@needs_func
@pytest.mark.parametrize("shape,kwargs,mask_kind", FUNC_CASES)
def test_func_jvp_of_grad(gen, shape, kwargs, mask_kind):
    """torch.func.jvp(torch.func.grad(f)) (forward-over-reverse), and the same vmapped over directions."""
    (q, k, v), f, r, _ = _func_setup(gen, shape, kwargs, mask_kind)
    t = tuple(_rand(gen, x.shape) for x in (q, k, v))
    for loss in _losses(gen, shape):
        gf = torch.func.grad(lambda a, b, c: loss(f(a, b, c)), argnums=(0, 1, 2))
        gr = torch.func.grad(lambda a, b, c: loss(r(a, b, c)), argnums=(0, 1, 2))
        _, hv = torch.func.jvp(gf, (q, k, v), t)
        _, hvr = torch.func.jvp(gr, (q, k, v), t)
        for a, b in zip(hv, hvr):
            assert relerr(a, b) < 1e-10, relerr(a, b)
        ts = tuple(torch.stack([x, 2 * x]) for x in t)
        hv = torch.func.vmap(lambda *d: torch.func.jvp(gf, (q, k, v), d)[1])(*ts)
        for a, b in zip(hv, hvr):
            assert relerr(a, torch.stack([b, 2 * b])) < 1e-10


@needs_func
def test_func_jacrev_of_tangent(gen):
    """jacrev of a function of the JVP tangent (the gradient through the tangent, vmapped over cotangents)."""
    (q, k, v), f, r, _ = _func_setup(gen, (1, 2, 1, 3, 4, 2), dict(is_causal=True, enable_gqa=True), None)
    t = _rand(gen, q.shape)

    def tangent(fn):
        return lambda a, b: torch.func.jvp(lambda x: fn(x, b, v), (a,), (t,))[1]
    got = torch.func.jacrev(tangent(f), argnums=(0, 1))(q, k)
    want = torch.func.jacrev(tangent(r), argnums=(0, 1))(q, k)
    for a, b in zip(got, want):
        assert relerr(a, b) < 1e-10, relerr(a, b)


@needs_func
def test_func_varlen(gen):
    """vmap and hessian over varlen_attention (packed sequences)."""
    H, E = 2, 3
    cu = [0, 2, 5]
    q, k, v = _rand(gen, (5, H, E)), _rand(gen, (5, H, E)), _rand(gen, (5, H, E))

    def f(a, b, c):
        return jt.varlen_attention(a, b, c, cu, is_causal=True)

    def r(a, b, c):  # each sequence through the reference
        outs = [reference(a[s:e].transpose(0, 1), b[s:e].transpose(0, 1), c[s:e].transpose(0, 1), is_causal=True)
                for s, e in zip(cu[:-1], cu[1:])]
        return torch.cat([o.transpose(0, 1) for o in outs])
    qb = torch.stack([q, -q, 2 * q], 1)
    got = torch.func.vmap(f, in_dims=(1, None, None))(qb, k, v)
    want = torch.func.vmap(r, in_dims=(1, None, None))(qb, k, v)
    assert relerr(got, want) < 1e-12
    got = torch.func.hessian(lambda a: (f(a, k, v) ** 2).sum())(q)
    want = torch.func.hessian(lambda a: (r(a, k, v) ** 2).sum())(q)
    assert relerr(got, want) < 1e-10


@needs_func
@pytest.mark.gpu
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 2e-4), (torch.bfloat16, 3e-2)])
def test_func_cuda(gen, dtype, tol):
    """On CUDA tensors: torch.func.vmap (q batched at 0, v at the last dim) and torch.func.hessian in q,
    against the float64 reference on the CPU."""
    (q, k, v), f, r, _ = _func_setup(gen, (2, 4, 2, 9, 12, 16), dict(is_causal=True,
                                                                      causal_alignment="bottom_right"), None)
    V = 3
    qb = torch.stack([q * (1 + 0.5 * i) for i in range(V)])
    vb = torch.stack([v - i for i in range(V)], -1)
    dev = [x.to("cuda", dtype) for x in (qb, k, vb)]
    got = torch.func.vmap(f, in_dims=(0, None, -1))(*dev)
    want = torch.func.vmap(r, in_dims=(0, None, -1))(*[x.double().cpu() for x in dev])
    assert relerr(got.cpu(), want) < tol
    if dtype == torch.float32:
        qs, ks, vs = (x[:1, :2, :5] for x in (q, k, v))  # a small Hessian: (1, 2, 5, 16) in q
        h = torch.func.hessian(lambda a: (f(a, *[x.to("cuda", dtype) for x in (ks, vs)]).float() ** 2).sum())(
            qs.to("cuda", dtype))
        hr = torch.func.hessian(lambda a: (r(a, ks, vs) ** 2).sum())(qs)
        assert relerr(h.cpu(), hr) < tol
