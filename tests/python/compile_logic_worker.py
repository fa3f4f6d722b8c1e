"""
compile_logic_worker.py - the compiled path of jfa.torch (what attention / varlen_attention do
while torch.compile traces them, _ops.py) run eagerly on any torch, in its own process:
torch.library.custom_op, torch.compiler and torch.ops.jfa are replaced by stand-ins before
jfa is imported (so torch 1.13, which has none of them, runs it too). Checks, against the
eager path on the same inputs: outputs and gradients (causal + GQA, bottom-right + window,
band + scale, bool and additive masks, 3-d inputs, varlen with offsets as a list and as a
tensor), that the path called jfa::attention_fwd then jfa::attention_bwd (the registered
autograd formula), that every real output has its fake implementation's shape, dtype,
strides and device, fwd_jvp / bwd_jvp against _core.forward / backward_jvp, and that a
forward-AD call while "compiling" takes the eager path. Prints ALL OK at the end.

    JFA_LIBRARY=build-cpu/libjfa.so python3 tests/python/compile_logic_worker.py
"""
import os
import sys
import types

import torch
import torch.autograd.forward_ad  # noqa: F401 - what jfa.torch imports, before the stand-ins
import torch.distributed  # noqa: F401

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
ops = {}     # name -> SimpleNamespace(default=stand-in operator)
CHECKS = []  # the operators called, in order
COMPILING = [False]


class Op:
    """A stand-in for a torch.library.custom_op operator: runs the real implementation (through
    an autograd.Function built from the registered formula when an input requires grad) and
    checks each output against the fake implementation's."""

    def __init__(self, name, fn):
        self.name, self.fn, self.fake, self.bwd, self.setup = name, fn, None, None, None

    def register_fake(self, f):
        self.fake = f
        return f

    def register_autograd(self, backward, setup_context):
        self.bwd, self.setup = backward, setup_context

    def __call__(self, *args):
        op = self
        if op.bwd is None or not any(isinstance(a, torch.Tensor) and a.requires_grad for a in args):
            out = op.fn(*args)
        else:
            class F(torch.autograd.Function):
                @staticmethod
                def forward(ctx, *a):
                    res = op.fn(*a)
                    op.setup(ctx, a, res)
                    return res

                @staticmethod
                def backward(ctx, *g):
                    return op.bwd(ctx, *g)
            out = F.apply(*args)
        fake = op.fake(*[a.detach() if isinstance(a, torch.Tensor) else a for a in args])
        assert len(fake) == len(out), op.name
        for a, b in zip(out, fake):
            assert (a.shape, a.dtype, a.stride(), a.device) == (b.shape, b.dtype, b.stride(), b.device), \
                (op.name, a.shape, b.shape, a.stride(), b.stride(), a.dtype, b.dtype)
        CHECKS.append(op.name)
        return out


def custom_op(name, fn=None, *, mutates_args, **kw):
    if not name.startswith("jfa::"):  # someone else's operator (torch >= 2.4 defines some lazily)
        return _saved["custom_op"](name, fn, mutates_args=mutates_args, **kw)
    assert mutates_args == () and fn is None

    def deco(fn):
        o = Op(name, fn)
        ops[name.split("::")[1]] = types.SimpleNamespace(default=o)
        return o
    return deco


def _disable(f):
    """torch.compiler.disable's stand-in: inside f, nothing is compiling."""
    def g(*a, **k):
        old = COMPILING[0]
        COMPILING[0] = False
        try:
            return f(*a, **k)
        finally:
            COMPILING[0] = old
    return g


_saved = {n: getattr(torch.library, n, None) for n in ("custom_op", "register_fake")}
_saved_compiler = getattr(torch, "compiler", None)
torch.library.custom_op = custom_op
torch.library.register_fake = lambda *a, **k: None
class _Compiler:
    """torch.compiler's stand-in: is_compiling() as COMPILING says; the rest is torch's."""
    is_compiling = staticmethod(lambda: COMPILING[0])
    disable = staticmethod(_disable)

    def __getattr__(self, n):
        return getattr(_saved_compiler, n)


torch.compiler = _Compiler()
from jfa.torch import _ops  # noqa: E402 - after the stand-ins, which _ops reads at import
assert _ops.AVAILABLE, _ops.UNAVAILABLE_REASON
# the rest of torch keeps its own (torch >= 2.4 registers operators of its own lazily)
for n, f in _saved.items():
    if f is None:
        delattr(torch.library, n)
    else:
        setattr(torch.library, n, f)
if _saved_compiler is None:
    del torch.compiler
else:
    torch.compiler = _saved_compiler
_real_ops = torch.ops


class _OpsNamespace:
    jfa = types.SimpleNamespace(**ops)

    def __getattr__(self, n):
        return getattr(_real_ops, n)


torch.ops = _OpsNamespace()
import jfa.torch as jt  # noqa: E402
from jfa import _lib  # noqa: E402
from jfa.torch import _api as jt_api, _core, _second_order  # noqa: E402


def rel(a, b):
    return ((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-300)).item()


def run(fn, inputs, compiling):
    COMPILING[0] = compiling
    xs = [t.detach().clone().requires_grad_(True) for t in inputs]
    o = fn(*xs)
    g = torch.autograd.grad((o * o).sum() + o.sum(), xs)
    COMPILING[0] = False
    return o.detach(), g


seed = int(os.environ.get("JFA_TEST_SEED", "0"))
print("[seed %d]" % seed)
torch.manual_seed(seed)
B, Hq, Hkv, L, S, D = 2, 4, 2, 23, 29, 16
for dt, tol in ((torch.float64, 1e-13), (torch.float32, 1e-5)):
    q = torch.randn(B, L, Hq, D, dtype=dt).transpose(1, 2)
    k = torch.randn(B, S, Hkv, D, dtype=dt).transpose(1, 2)
    v = torch.randn(B, S, Hkv, D, dtype=dt).transpose(1, 2)
    bm = torch.rand(L, S) < 0.7
    bm[:, 0] = True  # no fully masked row
    fm = torch.randn(B, 1, L, S, dtype=torch.float32)
    cases = {
        "causal-gqa": lambda q, k, v: jt.attention(q, k, v, is_causal=True, enable_gqa=True),
        "br-window": lambda q, k, v: jt.attention(q, k, v, is_causal=True, enable_gqa=True,
                                                  causal_alignment="bottom_right", window=(5, 0)),
        "band-scale": lambda q, k, v: jt.attention(q, k, v, enable_gqa=True, window=(3, 4), scale=0.3),
        "boolmask": lambda q, k, v: jt.attention(q, k, v, attn_mask=bm, enable_gqa=True),
        "floatmask": lambda q, k, v: jt.attention(q, k, v, attn_mask=fm, enable_gqa=True),
        "3d": lambda q, k, v: jt.attention(q[0], k[0], v[0], is_causal=True, enable_gqa=True),
    }
    for name, fn in cases.items():
        CHECKS.clear()
        oe, ge = run(fn, (q, k, v), False)
        assert not CHECKS
        oc, gc = run(fn, (q, k, v), True)
        assert CHECKS == ["jfa::attention_fwd", "jfa::attention_bwd"], CHECKS
        assert rel(oc, oe) < tol and all(rel(a, b) < tol for a, b in zip(gc, ge)), name
        # the eager path's layout (its o is empty_like(q): (B, S, H, D) memory here), which code after it may .view
        assert oc.stride() == oe.stride(), (name, oc.stride(), oe.stride())
        print("ok", dt, name)
    # scale = 0: used as given where the binding can say so, refused (ValueError) on both paths otherwise
    res = []
    for comp in (False, True):
        try:
            res.append(run(lambda q, k, v: jt.attention(q, k, v, enable_gqa=True, scale=0.0), (q, k, v), comp))
        except ValueError:
            COMPILING[0] = False
            res.append(None)
    assert (res[0] is None) == (res[1] is None) and (res[0] is None) == (not _core.SCALE_AS_GIVEN)
    if res[0] is not None:
        assert rel(res[1][0], res[0][0]) < tol
    print("ok", dt, "scale 0", "refused" if res[0] is None else "as given")
    T = 30
    qv, kv_, vv = (torch.randn(T, 3, Hq, D, dtype=dt)[:, i] for i in range(3))
    kv_, vv = kv_[:, :Hkv], vv[:, :Hkv]
    for cu in ([0, 5, 6, 19, 30], torch.tensor([0, 5, 6, 19, 30], dtype=torch.int32)):
        fn = lambda q, k, v: jt.varlen_attention(q, k, v, cu, is_causal=True, enable_gqa=True, window=(4, 0))
        CHECKS.clear()
        oe, ge = run(fn, (qv, kv_, vv), False)
        oc, gc = run(fn, (qv, kv_, vv), True)
        assert CHECKS == ["jfa::attention_fwd", "jfa::attention_bwd"], CHECKS
        assert rel(oc, oe) < tol and all(rel(a, b) < tol for a, b in zip(gc, ge))
        assert oc.is_contiguous() and oc.stride() == oe.stride(), (oc.stride(), oe.stride())  # o.view(T, H * D)
        print("ok", dt, "varlen", type(cu).__name__)
    # the fwd_jvp and bwd_jvp ops against the eager forward mode / second order calls
    qd, kd, vd = torch.randn_like(q), torch.randn_like(k), torch.randn_like(v)
    opts = (None, None, None, None, _lib.MASK_CAUSAL_TOP_LEFT, -1, -1)
    CHECKS.clear()
    o, lse, od, mu = ops["attention_fwd_jvp"].default(q, k, v, qd, kd, vd, *opts)
    cfg = _core.Config(None, _lib.MASK_CAUSAL_TOP_LEFT)
    o2, lse2, od2, mu2 = _core.forward(q, k, v, cfg, qd, kd, vd)
    assert torch.equal(o, o2) and torch.equal(od, od2) and torch.equal(lse, lse2) and torch.equal(mu, mu2)
    do, dod = torch.randn_like(o), torch.randn_like(o)
    for first in (False, True):
        r = ops["attention_bwd_jvp"].default(q, k, v, qd, kd, vd, o, lse, od, mu, do, dod, *opts, first)
        e = _second_order.backward_jvp(q, k, v, qd, kd, vd, o, lse, od, mu, do, dod, cfg, first)
        assert len(r) == 6 and all(torch.equal(a, b) for a, b in zip(r, e))
        assert first or all(t.numel() == 0 for t in r[3:])
    print("ok", dt, "fwd_jvp/bwd_jvp", CHECKS)
# forward mode while "compiling": the eager path (dual tensors)
import torch.autograd.forward_ad as fwAD
COMPILING[0] = True
CHECKS.clear()
with fwAD.dual_level():
    out = jt.attention(fwAD.make_dual(q, qd), fwAD.make_dual(k, kd), fwAD.make_dual(v, vd), is_causal=True,
                       enable_gqa=True)
    p, t = fwAD.unpack_dual(out)
COMPILING[0] = False
assert t is not None and not CHECKS and rel(t, od) < 1e-5
print("ok forward mode falls back", CHECKS)
# no query or no key while "compiling": O = 0 in plain ops (no operator, no eager fallback, whose
# torch.compiler.disable would break a fullgraph compile), outputs and gradients (exact zeros, a NaN input too) as
# eager's _NoKeys, GQA, errors as eager
_eager_calls = []
_saved_eager = jt_api._attention_eager
jt_api._attention_eager = lambda *a, **k: (_eager_calls.append(1), _saved_eager(*a, **k))[1]
for shapes in (((2, 4, 0, 8), (2, 2, 5, 8)), ((2, 4, 3, 8), (2, 2, 0, 8)), ((0, 4, 3, 8), (0, 2, 5, 8)),
               ((1, 0, 3, 8), (1, 0, 5, 8))):
    qe = torch.randn(*shapes[0], dtype=torch.float64)
    ke, ve = torch.randn(*shapes[1], dtype=torch.float64), torch.randn(*shapes[1], dtype=torch.float64)
    if qe.numel():
        qe[..., 0, 0] = float("nan")
    CHECKS.clear()
    oe, ge = run(lambda q, k, v: jt.attention(q, k, v, enable_gqa=True), (qe, ke, ve), False)
    oc, gc = run(lambda q, k, v: jt.attention(q, k, v, enable_gqa=True), (qe, ke, ve), True)
    assert not CHECKS and not _eager_calls, (CHECKS, _eager_calls)
    assert oc.shape == oe.shape and torch.equal(oc, oe) and torch.equal(oc, torch.zeros_like(oc))
    assert all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(gc, ge))
    print("ok empty", shapes)
for bad in (lambda q, k, v: jt.attention(q, k, v),  # GQA heads without enable_gqa
            lambda q, k, v: jt.attention(q, k, v, enable_gqa=True, attn_mask=torch.ones(7, 7, dtype=torch.bool))):
    errs = []
    for comp in (False, True):
        COMPILING[0] = comp
        try:
            bad(torch.randn(2, 4, 0, 8, dtype=torch.float64), torch.randn(2, 2, 5, 8, dtype=torch.float64),
                torch.randn(2, 2, 5, 8, dtype=torch.float64))
            errs.append(None)
        except (ValueError, TypeError) as e:
            errs.append(type(e))
        COMPILING[0] = False
    assert errs[0] is not None and errs[0] == errs[1], errs
print("ok empty errors as eager")
jt_api._attention_eager = _saved_eager
print("ALL OK")
