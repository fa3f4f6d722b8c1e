"""
test_nan_paths.py - NaN (and -inf) in one element of q, k, v, a tangent, dO, the cotangent of the
tangent output, the double backward's cotangents or the additive mask, through every derivative
path of the binding (CPU, float64): forward AD, the sCM loss on o and od, double backward,
forward-over-reverse, autograd.functional.hvp and the C backward-JVP. Element by element, jfa is
non-finite exactly where a per-row float64 reference is (each row attends to its visible keys only,
so a masked key never reaches it), and the finite values agree. The -inf cases: a row whose only
visible key scores -inf is NaN (the math), not the zero row of a fully masked one.
"""
import math

import pytest
import torch
import torch.autograd.forward_ad as fwAD

import jfa.torch as jt
from jfa import _lib
from jfa.torch import _api, _core, _second_order

INF = float("inf")


def _ref(q, k, v, vis, bias, scale):
    """O and lse row by row over the visible keys (index_select: nothing masked is touched)."""
    B, Hq, Nq, _ = q.shape
    g = Hq // k.shape[1]
    rows, lses = [], []
    for b in range(B):
        for h in range(Hq):
            for i in range(Nq):
                idx = vis[b, h, i].nonzero().flatten()
                if idx.numel() == 0:
                    rows.append(torch.zeros(v.shape[-1], dtype=q.dtype))
                    lses.append(torch.tensor(-INF, dtype=q.dtype))
                    continue
                s = scale * (k[b, h // g].index_select(0, idx) @ q[b, h, i]) + bias[b, h, i].index_select(0, idx)
                m = s.detach().max()
                e = torch.exp(s - m)
                l = e.sum()
                rows.append((e / l) @ v[b, h // g].index_select(0, idx))
                lses.append(m + torch.log(l))
    return torch.stack(rows).reshape(B, Hq, Nq, -1), torch.stack(lses).reshape(B, Hq, Nq, 1)


def _grad(outs, ins, gouts, **kw):
    gs = torch.autograd.grad(outs, ins, gouts, allow_unused=True, **kw)
    return [torch.zeros_like(i) if g is None else g for g, i in zip(gs, ins)]


def _leaves(*ts):
    return [t.detach().clone().requires_grad_() for t in ts]


def _problem(gen):
    B, Hq, Hkv, Nq, Nk, D = 2, 2, 1, 4, 6, 4
    mask = torch.randn(B, 1, Nq, Nk, generator=gen, dtype=torch.float64)
    mask[:, :, 1, :] = -INF  # row 1 fully masked
    mask[:, :, 3, 4] = -INF  # key 4 masked for the last row only
    mask[0, 0, 2, 1] = -1e4  # a visible key whose probability underflows
    r = lambda *s: torch.randn(*s, generator=gen, dtype=torch.float64)
    X = dict(q=r(B, Hq, Nq, D), k=r(B, Hkv, Nk, D), v=r(B, Hkv, Nk, D), qd=r(B, Hq, Nq, D), kd=r(B, Hkv, Nk, D),
             vd=r(B, Hkv, Nk, D), do=r(B, Hq, Nq, D), dod=r(B, Hq, Nq, D), uq=r(B, Hq, Nq, D), uk=r(B, Hkv, Nk, D),
             uv=r(B, Hkv, Nk, D))
    return X, mask


def _visibility(X, mask):
    B, Hq, Nq, _ = X["q"].shape
    Nk = X["k"].shape[2]
    causal = torch.arange(Nk)[None, :] <= torch.arange(Nq)[:, None] + (Nk - Nq)  # bottom-right
    m = mask.expand(B, Hq, Nq, Nk)
    vis = causal & (m != -INF)
    return vis, torch.where(vis, m, torch.zeros_like(m))


def _reference(X, mask):
    vis, bias = _visibility(X, mask)
    f = lambda q, k, v: _ref(q, k, v, vis, bias, 0.5)
    R = {}
    q, k, v, do = _leaves(X["q"], X["k"], X["v"], X["do"])
    O, L = f(q, k, v)
    R["o"], R["lse"] = O.detach(), L.detach()
    g = _grad(O, (q, k, v), do, create_graph=True)
    R["dq"], R["dk"], R["dv"] = [x.detach() for x in g]
    R["ddq"], R["ddk"], R["ddv"], R["ddo"] = _grad(g, (q, k, v, do), (X["uq"], X["uk"], X["uv"]), retain_graph=True)
    ht = _grad(g, (q, k, v), (X["qd"], X["kd"], X["vd"]), retain_graph=True)
    jt_dod = _grad(O, (q, k, v), X["dod"])
    R["hq"], R["hk"], R["hv"] = ht
    R["bq"], R["bk"], R["bv"] = [a + b for a, b in zip(ht, jt_dod)]
    q, k, v, qd, kd, vd = _leaves(*(X[n] for n in ("q", "k", "v", "qd", "kd", "vd")))
    with fwAD.dual_level():
        O, L = f(*(fwAD.make_dual(a, t) for a, t in ((q, qd), (k, kd), (v, vd))))
        o, od = fwAD.unpack_dual(O)
        mu = fwAD.unpack_dual(L)[1]
        R["od"], R["mu"] = od.detach(), (torch.zeros_like(L) if mu is None else mu.detach())
        sg = _grad((o * X["do"]).sum() + (od * X["dod"]).sum(), (q, k, v, qd, kd, vd), None)
    R.update(zip(("sq", "sk", "sv", "sqd", "skd", "svd"), sg))
    return {n: t.detach() for n, t in R.items()}


def _jfa(X, mask):
    kw = dict(attn_mask=mask, is_causal=True, causal_alignment="bottom_right", scale=0.5, enable_gqa=True)
    J = {}
    q, k, v, do = _leaves(X["q"], X["k"], X["v"], X["do"])
    O = jt.attention(q, k, v, **kw)
    g = _grad(O, (q, k, v), do, create_graph=True)
    J["o"] = O.detach()
    J["dq"], J["dk"], J["dv"] = [x.detach() for x in g]
    J["ddq"], J["ddk"], J["ddv"], J["ddo"] = _grad(g, (q, k, v, do), (X["uq"], X["uk"], X["uv"]))
    fh = lambda q, k, v: (jt.attention(q, k, v, **kw) * X["do"]).sum()
    J["hq"], J["hk"], J["hv"] = torch.autograd.functional.hvp(fh, (X["q"], X["k"], X["v"]),
                                                               (X["qd"], X["kd"], X["vd"]))[1]
    q, k, v, qd, kd, vd = _leaves(*(X[n] for n in ("q", "k", "v", "qd", "kd", "vd")))
    with fwAD.dual_level():  # the sCM pattern: a loss on the primal and the tangent
        o, od = fwAD.unpack_dual(jt.attention(*(fwAD.make_dual(a, t) for a, t in ((q, qd), (k, kd), (v, vd))), **kw))
        J["od"] = od.detach()
        sg = _grad((o * X["do"]).sum() + (od * X["dod"]).sum(), (q, k, v, qd, kd, vd), None)
    J.update(zip(("sq", "sk", "sv", "sqd", "skd", "svd"), sg))
    q, k, v = _leaves(X["q"], X["k"], X["v"])
    with fwAD.dual_level():  # forward-over-reverse: the backward's tangent
        duals = [fwAD.make_dual(a, X[n + "d"]) for a, n in zip((q, k, v), "qkv")]
        gb = torch.autograd.grad(jt.attention(*duals, **kw), duals, fwAD.make_dual(X["do"], X["dod"]))
        for n, x in zip("qkv", gb):
            t = fwAD.unpack_dual(x)[1]
            J["b" + n + "#fwd_over_rev"] = torch.zeros_like(x) if t is None else t.detach().clone()
    # the C calls: forward+JVP (lse, mu) and the backward-JVP on jfa's own statistics
    cfg = _core.Config(0.5, _lib.MASK_CAUSAL_BOTTOM_RIGHT, _api._prepare_mask(mask, X["q"], X["k"]), (-1, -1))
    o, lse, od, mu = _core.forward(X["q"], X["k"], X["v"], cfg, X["qd"], X["kd"], X["vd"])
    J["lse"], J["mu"], J["od#c"] = lse, mu, od
    r = _second_order.backward_jvp(X["q"], X["k"], X["v"], X["qd"], X["kd"], X["vd"], o, lse, od, mu, X["do"],
                                   X["dod"], cfg)
    J["bq#c"], J["bk#c"], J["bv#c"] = r
    return J


def _compare(J, R, what):
    for name, a in J.items():
        r = R[name.split("#")[0]]
        a = a.detach().reshape(r.shape)
        fa, fr = torch.isfinite(a), torch.isfinite(r)
        assert not (fa & ~fr).any(), "%s: %s finite where the math is not (hidden), at %s" % (
            what, name, (fa & ~fr).nonzero().tolist()[:4])
        assert not (~fa & fr).any(), "%s: %s non-finite where the math is finite (spread), at %s" % (
            what, name, (~fa & fr).nonzero().tolist()[:4])
        both = fa & fr
        if both.any():
            err = (a[both] - r[both]).abs().max().item()
            assert err <= 1e-9 * (1 + r[both].abs().max().item()), "%s: %s off by %g" % (what, name, err)


# (tensor, index): rows 0 (sees 3 keys), 2 (one key underflowing), 3 (key 4 masked), a fully masked row 1;
# keys 0 (seen by all rows), 1 (underflowing for row 2), 4 (masked for row 3), 5 (seen by row 3 only); GQA head 1
SITES = ([(t, (0, h, i, i % 4)) for t in ("q", "qd", "do", "dod", "uq") for (h, i) in ((0, 0), (0, 1), (1, 3))] +
         [(t, (0, 0, j, j % 4)) for t in ("k", "v", "kd", "vd", "uk", "uv") for j in (1, 4, 5)] +
         [("mask", (0, 0, i, j)) for (i, j) in ((0, 2), (0, 5), (1, 0), (3, 4), (2, 1))])


@pytest.mark.parametrize("value", [float("nan"), -float("nan")], ids=["nan", "-nan"])
def test_nan_through_every_path(gen, value):
    X0, mask0 = _problem(gen)
    for t, idx in SITES:
        X, mask = dict(X0), mask0.clone()
        if t == "mask":
            mask[idx] = value
        else:
            X[t] = X[t].clone()
            X[t][idx] = value
        _compare(_jfa(X, mask), _reference(X, mask), "NaN in %s%s" % (t, idx))


def test_row_of_minus_inf_scores_is_nan(gen):
    """q[..., 0] = 1 and k[key 0][0] = -inf: every row scores key 0 at -inf; the last row's bias leaves it key 0
    only. Before the fix jfa gave that row O = 0, lse = -inf and zero gradients (a fully masked row's); the math
    (and now jfa) gives NaN. With v[key 0] NaN too, the rows that see key 0 at probability 0 are NaN (0 * NaN)."""
    X, mask = _problem(gen)
    X["q"] = X["q"].clone()
    X["q"][..., 0] = 1.0
    X["k"] = X["k"].clone()
    X["k"][0, 0, 0, 0] = -INF
    mask = mask.clone()
    mask[:, :, 3, 1:] = -INF  # row 3: key 0 only
    _compare(_jfa(X, mask), _reference(X, mask), "-inf in k[0]")
    X["v"] = X["v"].clone()
    X["v"][0, 0, 0, 2] = float("nan")
    J, R = _jfa(X, mask), _reference(X, mask)
    assert torch.isnan(R["o"][0, :, 0, 2]).all() and torch.isnan(J["o"][0, :, 0, 2]).all()
    _compare(J, R, "-inf in k[0], NaN in v[0]")
