"""
test_compile.py - jfa attention under torch.compile: the custom operators of jfa.torch._ops
(torch >= 2.4; every test skips with the reason on older torch, e.g. Debian's 1.13).

- a small model (qkv projection, jfa attention, output projection) compiled with
  fullgraph=True: outputs and gradients (weights and input) equal to eager, for causal,
  GQA, sliding window, dense masks (bool and additive) and varlen (offsets as a list and as
  a tensor); dynamo's graph holds jfa::attention_fwd and torch._dynamo.explain counts one
  graph and no break; the same with torch.func.vmap inside the compiled function;
- torch.library.opcheck on each operator (CPU float64; CUDA bf16 with the gpu marker);
- forward mode under torch.compile (torch.func.jvp inside the compiled function, and dual
  tensors) equals eager, wherever the same model with plain-op attention compiles correctly
  on the running torch (else skipped with PyTorch's reason); the breaks dynamo reports are
  printed (pytest -s).

Time: tiny shapes; the variants compile with the aot_eager backend (dynamo, the fake
implementations and AOT autograd: everything jfa-specific; inductor adds the same fallback
call for the operator in each), inductor compiles the issue's model once per device. Tests
marked `slow` (inductor on the CPU, which compiles C++) can be left out with -m "not slow".
"""
import copy
import inspect

import pytest
import torch
import torch.nn as nn

from conftest import randn, reference, relerr

import jfa.torch as jt
from jfa import _lib
from jfa.torch import _ops

pytestmark = pytest.mark.skipif(not _ops.AVAILABLE, reason=str(_ops.UNAVAILABLE_REASON))

CASES = [pytest.param("cpu", torch.float64, 1e-9, id="cpu-f64"),
         pytest.param("cpu", torch.float32, 2e-4, id="cpu-f32"),
         pytest.param("cuda", torch.bfloat16, 3e-2, id="cuda-bf16", marks=pytest.mark.gpu)]
# the model with each backend: inductor once per device (on the CPU it compiles C++: slow)
INDUCTOR_CASES = [pytest.param("cpu", torch.float64, 1e-9, "aot_eager", id="cpu-f64-aot_eager"),
                  pytest.param("cpu", torch.float32, 2e-4, "inductor", id="cpu-f32-inductor", marks=pytest.mark.slow),
                  pytest.param("cuda", torch.bfloat16, 3e-2, "inductor", id="cuda-bf16-inductor",
                               marks=pytest.mark.gpu)]


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()  # each test compiles its own models: no recompile limit across tests
    yield
    torch._dynamo.reset()


class Attn(nn.Module):
    """x (B, N, W) -> projection(attention(qkv(x))): the block of a transformer, without norms."""

    def __init__(self, width, heads, kv_heads=None, attend=None, **opts):
        super().__init__()
        self.h, self.hkv = heads, kv_heads or heads
        self.d = width // heads
        self.qkv = nn.Linear(width, (self.h + 2 * self.hkv) * self.d)
        self.proj = nn.Linear(self.h * self.d, width)
        self.opts = opts
        self.attend = attend or jt.attention

    def forward(self, x, attn_mask=None):
        B, N, _ = x.shape
        q, k, v = self.qkv(x).split([self.h * self.d, self.hkv * self.d, self.hkv * self.d], dim=-1)
        q = q.view(B, N, self.h, self.d).transpose(1, 2)  # (B, H, N, D) views: strided, no copies
        k = k.view(B, N, self.hkv, self.d).transpose(1, 2)
        v = v.view(B, N, self.hkv, self.d).transpose(1, 2)
        o = self.attend(q, k, v, attn_mask=attn_mask, **self.opts)
        return self.proj(o.transpose(1, 2).reshape(B, N, self.h * self.d))


class VarlenAttn(nn.Module):
    """x (total, W) of packed sequences -> projection(varlen attention(qkv(x)))."""

    def __init__(self, width, heads, cu, **opts):
        super().__init__()
        self.h, self.d, self.cu, self.opts = heads, width // heads, cu, opts
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        T = x.shape[0]
        q, k, v = self.qkv(x).view(T, 3, self.h, self.d).unbind(1)  # (total, H, D) strided views
        o = jt.varlen_attention(q, k, v, self.cu, **self.opts)
        return self.proj(o.reshape(T, self.h * self.d))


def _model(cls, dtype, device, *args, **kw):
    torch.manual_seed(1234)
    return cls(*args, **kw).to(device=device, dtype=dtype)


def _train_step(model, x, *extra):
    """Output, and the gradients of a loss on it (weights, then x)."""
    x = x.detach().requires_grad_(True)
    for p in model.parameters():
        p.grad = None
    out = model(x, *extra)
    (out.float().square().sum() + out.float().sum()).backward()
    return out.detach(), [p.grad for p in model.parameters()] + [x.grad]


def _compare_compiled(model, x, tol, *extra, backend="aot_eager"):
    """Eager against torch.compile(fullgraph=True): outputs and every gradient."""
    eager_out, eager_grads = _train_step(model, x, *extra)
    cmodel = torch.compile(copy.deepcopy(model), fullgraph=True, backend=backend)
    for _ in range(2):  # the second call runs the compiled code without tracing
        out, grads = _train_step(cmodel, x, *extra)
    assert torch.isfinite(out.float()).all()
    e = relerr(out, eager_out)
    assert e < tol, "output: relative error %.3g" % e
    for i, (g, ge) in enumerate(zip(grads, eager_grads)):
        assert g is not None, "gradient %d missing" % i
        e = relerr(g, ge)
        assert e < tol, "gradient %d: relative error %.3g" % (i, e)
    return out


def _graphs(fn, *args):
    """The FX graphs dynamo makes of fn(*args) (a backend that records them and runs them as they are)."""
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward
    torch.compile(fn, backend=backend, fullgraph=True)(*args)
    return graphs


def _targets(graphs):
    return [n.target for g in graphs for n in g.graph.nodes if n.op == "call_function"]


@pytest.mark.parametrize("device,dtype,tol,backend", INDUCTOR_CASES)
def test_compiled_model_matches_eager(device, dtype, tol, backend, gen):
    """The issue's model: causal jfa attention between two projections, fullgraph=True."""
    model = _model(Attn, dtype, device, 64, 4, is_causal=True)
    x = randn(gen, (2, 37, 64), dtype, device)
    out = _compare_compiled(model, x, tol, backend=backend)
    # and the math itself: jfa's output against the float64 reference through the same weights
    with torch.no_grad():
        m = model.double().cpu()
        B, N, _ = x.shape
        q, k, v = m.qkv(x.double().cpu()).split([64, 64, 64], dim=-1)
        q, k, v = (t.view(B, N, 4, 16).transpose(1, 2) for t in (q, k, v))
        ref = m.proj(reference(q, k, v, is_causal=True).transpose(1, 2).reshape(B, N, 64))
    assert relerr(out.cpu(), ref) < 3 * tol


@pytest.mark.parametrize("device,dtype,tol", CASES)
def test_no_graph_break_reverse_mode(device, dtype, tol, gen):
    model = _model(Attn, dtype, device, 32, 2, is_causal=True)
    x = randn(gen, (2, 16, 32), dtype, device).requires_grad_(True)
    ex = torch._dynamo.explain(model)(x)
    assert ex.graph_break_count == 0, [str(r) for r in ex.break_reasons]
    assert ex.graph_count == 1
    targets = _targets(_graphs(model, x))
    assert torch.ops.jfa.attention_fwd.default in targets, targets


# masks, GQA, windows, alignment: (constructor options, mask maker or None)
def _bool_mask(gen, device, L, S):
    m = torch.rand((L, S), generator=gen) < 0.7
    m[torch.arange(L), torch.arange(L) % S] = True  # no fully masked row
    return m.to(device)


VARIANTS = {
    "gqa-causal": (dict(heads=4, kv_heads=2, is_causal=True, enable_gqa=True), None),
    "window": (dict(heads=2, is_causal=True, window=(5, 0)), None),
    "band": (dict(heads=2, window=(3, 4)), None),
    "scale": (dict(heads=2, scale=0.3), None),
    "bool-mask": (dict(heads=2), "bool"),
    "additive-mask-gqa": (dict(heads=4, kv_heads=1, enable_gqa=True), "float"),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("device,dtype,tol", CASES)
def test_variants_compile_fullgraph(variant, device, dtype, tol, gen):
    opts, mask_kind = VARIANTS[variant]
    opts = dict(opts)
    heads = opts.pop("heads")
    kv = opts.pop("kv_heads", None)
    model = _model(Attn, dtype, device, 32, heads, kv, **opts)
    N = 23
    x = randn(gen, (2, N, 32), dtype, device)
    extra = ()
    if mask_kind == "bool":
        extra = (_bool_mask(gen, device, N, N),)
    elif mask_kind == "float":
        extra = (randn(gen, (2, 1, N, N), torch.float32, device),)
    _compare_compiled(model, x, tol, *extra)
    assert torch.ops.jfa.attention_fwd.default in _targets(_graphs(model, x, *extra))


@pytest.mark.parametrize("device,dtype,tol", CASES)
def test_empty_inputs_compile_fullgraph(device, dtype, tol, gen):
    """No query or no key (L = 0, S = 0): O = 0 with zero gradients, in the graph (plain ops; the eager path's
    torch.compiler.disable'd call would break fullgraph=True)."""
    def f(q, k, v):
        return jt.attention(q, k, v, enable_gqa=True)
    cf = torch.compile(f, fullgraph=True, backend="aot_eager")
    for L, S in ((0, 5), (3, 0)):
        q = randn(gen, (2, 4, L, 8), dtype, device).requires_grad_(True)
        k = randn(gen, (2, 2, S, 8), dtype, device).requires_grad_(True)
        v = randn(gen, (2, 2, S, 8), dtype, device).requires_grad_(True)
        o = cf(q, k, v)
        assert o.shape == (2, 4, L, 8) and torch.equal(o, torch.zeros_like(o))
        g = torch.autograd.grad(o.sum(), (q, k, v), allow_unused=True)
        assert all(t is not None and torch.equal(t, torch.zeros_like(t)) for t in g)


@pytest.mark.gpu
def test_autocast_compile_fullgraph(gen):
    """A float32 model under torch.autocast(bfloat16) on CUDA: the compiled model (fullgraph) casts q, k, v and the
    additive mask as the eager one does (SDPA's autocast rule, _autocast.py): bf16 attention, equal outputs and
    gradients, the operator in the graph."""
    model = _model(Attn, torch.float32, "cuda", 32, 4, 2, enable_gqa=True)
    N = 23
    x = randn(gen, (2, N, 32), torch.float32, "cuda")
    bias = randn(gen, (2, 1, N, N), torch.float32, "cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = _compare_compiled(model, x, 3e-2, bias)
        assert out.dtype == torch.bfloat16  # the projection's output under autocast: bf16 as with SDPA
        assert torch.ops.jfa.attention_fwd.default in _targets(_graphs(model, x, bias))


@pytest.mark.parametrize("as_tensor", [False, True], ids=["list", "tensor"])
@pytest.mark.parametrize("device,dtype,tol", CASES)
def test_varlen_compile_fullgraph(as_tensor, device, dtype, tol, gen):
    cu = [0, 5, 6, 19, 30]
    if as_tensor:
        cu = torch.tensor(cu, dtype=torch.int32, device=device)
    model = _model(VarlenAttn, dtype, device, 32, 2, cu, is_causal=True)
    x = randn(gen, (30, 32), dtype, device)
    _compare_compiled(model, x, tol)
    assert torch.ops.jfa.attention_fwd.default in _targets(_graphs(model, x))


@pytest.mark.gpu
def test_varlen_compile_reduce_overhead(gen, monkeypatch):
    """varlen_attention with CUDA cu_seqlens under torch.compile(mode="reduce-overhead") (CUDA graphs: the recording
    run captures jfa's kernels with device offsets, JFA_PARAMS_SEQLENS_DEVICE): calls with other packings of the same
    tokens (the offsets copied into the graph's static input at each replay) give each packing's results, forward
    and backward, against float64."""
    H, E, T = 4, 32, 90
    q0, k0, v0, w = (randn(gen, (T, H, E), torch.bfloat16, "cuda") for _ in range(4))

    def f(a, b, c, cu):
        return jt.varlen_attention(a, b, c, cu, is_causal=True)

    from jfa.torch import _api
    captured = []
    real = _api._device_offsets
    monkeypatch.setattr(_api, "_device_offsets", lambda *a: captured.append(1) or real(*a))
    fc = torch.compile(f, mode="reduce-overhead", fullgraph=True)
    packs = ([0, 10, 50, 90], [0, 45, 46, 90], [0, 1, 2, 90], [0, 30, 60, 90])
    for it in range(2):
        for pack in packs:
            cu = torch.tensor(pack, dtype=torch.int32, device="cuda")
            q, k, v = (x.clone().requires_grad_() for x in (q0, k0, v0))
            o = fc(q, k, v, cu)
            (o.float() * w.float()).sum().backward()
            qr, kr, vr = (x.detach().double().requires_grad_() for x in (q0, k0, v0))
            r = torch.cat([reference(qr[a:b].transpose(0, 1), kr[a:b].transpose(0, 1), vr[a:b].transpose(0, 1),
                                     is_causal=True).transpose(0, 1) for a, b in zip(pack, pack[1:])], 0)
            (r * w.double()).sum().backward()
            assert relerr(o, r) < 3e-2, (it, pack, relerr(o, r))
            for a, b in zip((q, k, v), (qr, kr, vr)):
                assert relerr(a.grad, b.grad) < 6e-2, (it, pack, relerr(a.grad, b.grad))
    assert captured, "no call of the compiled function was captured in a CUDA graph (device offsets never used)"


@pytest.mark.parametrize("backend", ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)])
@pytest.mark.parametrize("device,dtype,tol", CASES)
def test_compiled_output_views_as_eager(backend, device, dtype, tol, gen):
    """The compiled path's o in the eager path's memory order, so the .view code after attention does (B, S, H, D)
    inputs transposed to (B, H, S, D), and varlen's (T, H, D)) works compiled (it raised before: o was contiguous
    (B, H, S, D))."""
    B, N, H, D = 2, 17, 4, 8
    x = randn(gen, (3, B, N, H, D), dtype, device)  # q, k, v each a contiguous (B, N, H, D) tensor

    def dense(x):
        q, k, v = (x[i].transpose(1, 2) for i in range(3))
        return jt.attention(q, k, v, is_causal=True).transpose(1, 2).view(B, N, H * D)

    cu = [0, 5, 6, 2 * N]

    def varlen(x):
        t = x.reshape(3, B * N, H, D)
        return jt.varlen_attention(t[0], t[1], t[2], cu, is_causal=True).view(B * N, H * D)

    for fn in (dense, varlen):
        want = fn(x)
        got = torch.compile(fn, backend=backend, fullgraph=True)(x)
        assert got.shape == want.shape and relerr(got, want) < tol, fn.__name__


def test_compiled_errors_are_jfa_errors(gen):
    """Bad input under compile is refused with jfa's message, as in eager."""
    f = torch.compile(lambda q, k, v: jt.attention(q, k, v), backend="aot_eager")
    q = randn(gen, (1, 4, 8, 16), torch.float64, "cpu")
    k = randn(gen, (1, 3, 8, 16), torch.float64, "cpu")
    with pytest.raises(ValueError, match="enable_gqa"):
        f(q, k, k)


@pytest.mark.parametrize("device,dtype,tol", CASES)
def test_vmap_under_compile(device, dtype, tol, gen):
    """torch.func.vmap inside a compiled function (the operators' vmap rules, _ops.py) equals eager
    vmap (the autograd.Functions' rules), output and gradients: q batched at 0, v at the last dim,
    k unbatched (GQA), a bool mask unbatched."""
    if _ops.VMAP_UNAVAILABLE_REASON is not None:
        pytest.skip("torch %s: %s" % (torch.__version__, _ops.VMAP_UNAVAILABLE_REASON))
    q = randn(gen, (3, 2, 4, 9, 8), dtype, device)
    k = randn(gen, (2, 2, 11, 8), dtype, device)
    v = randn(gen, (2, 2, 11, 8, 3), dtype, device)
    m = _bool_mask(gen, device, 9, 11)

    def f(a, b, c):
        return torch.func.vmap(lambda x, y: jt.attention(x, b, y, attn_mask=m, enable_gqa=True), in_dims=(0, -1))(a, c)

    def step(fn):
        x = [t.detach().clone().requires_grad_(True) for t in (q, k, v)]
        o = fn(*x)
        (o.float().square().sum() + o.float().sum()).backward()
        return [o.detach()] + [t.grad for t in x]
    eager = step(f)
    comp = step(torch.compile(f, backend="aot_eager"))
    for i, (a, b) in enumerate(zip(comp, eager)):
        assert a is not None and relerr(a, b) < tol, (i, None if a is None else relerr(a, b))
    if dtype == torch.float64:  # and eager vmap against the reference
        want = torch.func.vmap(lambda x, y: reference(x, k, y, attn_mask=m), in_dims=(0, -1))(q, v)
        assert relerr(eager[0], want) < 1e-12


# ---- opcheck ------------------------------------------------------------------------------

OPCHECK_CASES = [pytest.param("cpu", torch.float64, id="cpu-f64"),
                 pytest.param("cuda", torch.bfloat16, id="cuda-bf16", marks=pytest.mark.gpu)]
NO_AUTOGRAD = ("test_schema", "test_faketensor", "test_aot_dispatch_dynamic")


def _opts(gen, device, kind, L, S):
    """(attn_mask, cu_seqlens_q, cu_seqlens_k, scale, mask mode, window_left, window_right)."""
    if kind == "causal":
        return (None, None, None, None, _lib.MASK_CAUSAL_TOP_LEFT, -1, -1)
    if kind == "mask-window":
        return (_bool_mask(gen, device, L, S)[None, None], None, None, 0.25, _lib.MASK_NONE, 6, 2)
    if kind == "varlen":
        cq = torch.tensor([0, 3, L], dtype=torch.int64, device=device)
        ck = torch.tensor([0, 7, S], dtype=torch.int64, device=device)
        return (None, cq, ck, None, _lib.MASK_CAUSAL_BOTTOM_RIGHT, -1, -1)
    raise ValueError(kind)


def _qkv(gen, device, dtype, B=2, Hq=4, Hkv=2, L=11, S=13, D=16, n=3):
    shapes = [(B, Hq, L, D), (B, Hkv, S, D), (B, Hkv, S, D)]
    return [randn(gen, shapes[i % 3], dtype, device) for i in range(n)]


def _opcheck(op, args, dtype, **kw):
    """torch.library.opcheck; bf16 comparisons (eager against AOT-dispatched runs of the same kernels)
    with bf16 tolerances where the running torch takes them."""
    if dtype == torch.bfloat16 and "atol" in inspect.signature(torch.library.opcheck).parameters:
        kw.update(atol=2e-2, rtol=2e-2)
    torch.library.opcheck(op, args, **kw)


# every kind on the CPU; on CUDA (where opcheck's checks are the same, run against the CUDA kernels)
# the dense mask with a window, the other kinds marked slow
OPCHECK_KINDS = [pytest.param(kind, "cpu", torch.float64, id="%s-cpu-f64" % kind)
                 for kind in ("causal", "mask-window", "varlen")]
OPCHECK_KINDS += [pytest.param(kind, "cuda", torch.bfloat16, id="%s-cuda-bf16" % kind,
                               marks=[pytest.mark.gpu] + ([] if kind == "mask-window" else [pytest.mark.slow]))
                  for kind in ("causal", "mask-window", "varlen")]


@pytest.mark.parametrize("kind,device,dtype", OPCHECK_KINDS)
def test_opcheck(kind, device, dtype, gen):
    B = 1 if kind == "varlen" else 2
    q, k, v = _qkv(gen, device, dtype, B=B)
    qd, kd, vd = _qkv(gen, device, dtype, B=B)
    opts = _opts(gen, device, kind, q.shape[2], k.shape[2])
    ops = torch.ops.jfa
    leaf = [t.clone().requires_grad_(True) for t in (q, k, v)]
    for layout in (0, 1):  # o contiguous / in (B, S, H, D) memory (the eager path's for transposed inputs, varlen)
        _opcheck(ops.attention_fwd.default, (*leaf, *opts, layout), dtype)
    _opcheck(ops.attention_fwd_jvp.default, (q, k, v, qd, kd, vd, *opts), dtype, test_utils=NO_AUTOGRAD)
    o, lse = ops.attention_fwd.default(q, k, v, *opts, 0)
    do = randn(gen, o.shape, dtype, device)
    _opcheck(ops.attention_bwd.default, (q, k, v, o, lse, do, *opts), dtype, test_utils=NO_AUTOGRAD)
    o2, lse2, od, mu = ops.attention_fwd_jvp.default(q, k, v, qd, kd, vd, *opts)
    assert relerr(o2, o) < 1e-12 or dtype != torch.float64
    dod = randn(gen, o.shape, dtype, device)
    for first in (False, True):
        _opcheck(ops.attention_bwd_jvp.default, (q, k, v, qd, kd, vd, o2, lse2, od, mu, do, dod, *opts, first),
                 dtype, test_utils=NO_AUTOGRAD)


@pytest.mark.parametrize("device,dtype", OPCHECK_CASES)
def test_ops_match_eager_calls(device, dtype, gen):
    """The operators compute what the eager path computes (same C calls): forward, backward."""
    q, k, v = [t.requires_grad_(True) for t in _qkv(gen, device, dtype)]
    opts = _opts(gen, device, "causal", q.shape[2], k.shape[2])
    o, lse = torch.ops.jfa.attention_fwd.default(q, k, v, *opts, 0)
    do = randn(gen, o.shape, dtype, device)
    g = torch.autograd.grad(o, (q, k, v), do)
    oe = jt.attention(q, k, v, is_causal=True, enable_gqa=True)
    ge = torch.autograd.grad(oe, (q, k, v), do)
    tol = 1e-13 if dtype == torch.float64 else 1e-2  # the same C calls; CUDA's backward may reduce in any order
    assert relerr(o, oe) < tol
    for a, b in zip(g, ge):
        assert relerr(a, b) < tol


# ---- forward mode under torch.compile -------------------------------------------------------

def _plain_attention(q, k, v, attn_mask=None, is_causal=False, **_):
    """Attention in plain differentiable ops, run eagerly: under torch.compile a graph break where
    jfa's forward-mode call has one (the control: how PyTorch itself carries tangents across it)."""
    return reference(q, k, v, is_causal=is_causal).to(q.dtype)


if _ops.AVAILABLE:
    _plain_attention = torch.compiler.disable(_plain_attention)


def _jvp_fn(model):
    def f(x, t):
        return torch.func.jvp(model, (x,), (t,))
    return f


def _dual_fn(model):
    fwAD = torch.autograd.forward_ad

    def f(x, t):
        with fwAD.dual_level():
            y = model(fwAD.make_dual(x, t))
            p, tan = fwAD.unpack_dual(y)
            return p, tan
    return f


def _forward_mode_case(make_fn, model, x, t, backend):
    """(eager result, compiled result or the exception it raised), after warming the compiled one."""
    eager = make_fn(model)(x, t)
    try:
        cf = torch.compile(make_fn(copy.deepcopy(model)), backend=backend)
        cf(x, t)
        return eager, cf(x, t)
    except Exception as e:  # noqa: BLE001 - reported by the caller
        return eager, e


FORWARD_CASES = [pytest.param("cpu", torch.float64, 1e-9, "aot_eager", id="cpu-f64-aot_eager"),
                 pytest.param("cpu", torch.float32, 2e-4, "inductor", id="cpu-f32-inductor", marks=pytest.mark.slow),
                 pytest.param("cuda", torch.bfloat16, 3e-2, "aot_eager", id="cuda-bf16-aot_eager",
                              marks=pytest.mark.gpu),
                 pytest.param("cuda", torch.bfloat16, 3e-2, "inductor", id="cuda-bf16-inductor",
                              marks=[pytest.mark.gpu, pytest.mark.slow])]


@pytest.mark.parametrize("how", ["func.jvp", "dual"])
@pytest.mark.parametrize("device,dtype,tol,backend", FORWARD_CASES)
def test_compiled_outside_called_inside_forward_ad(how, device, dtype, tol, backend, gen):
    """A function compiled (and run) with no forward-AD level open, then called inside one: dynamo's guard on the
    level (_ops.forward_ad_open) must retrace it onto the eager path, so the tangent is jfa's, not dropped by the
    custom-op graph of the first trace. The function is jfa's call alone (dual tensors into other compiled ops lose
    their tangents on torch < 2.14: pytorch#187284)."""
    import torch.autograd.forward_ad as fwAD
    q, k, v, tq, tk, tv = (randn(gen, (1, 2, 11, 16), dtype, device) for _ in range(6))

    def f(q, k, v):
        return jt.attention(q, k, v, is_causal=True)
    cf = torch.compile(f, backend=backend)
    cf(q, k, v)  # traced and run with no level open: the custom operator
    if how == "func.jvp":
        from torch.func import jvp
        out, tan = jvp(cf, (q, k, v), (tq, tk, tv))
        ref, rtan = jvp(f, (q, k, v), (tq, tk, tv))
    else:
        with fwAD.dual_level():
            out, tan = fwAD.unpack_dual(cf(fwAD.make_dual(q, tq), fwAD.make_dual(k, tk), fwAD.make_dual(v, tv)))
            ref, rtan = fwAD.unpack_dual(f(fwAD.make_dual(q, tq), fwAD.make_dual(k, tk), fwAD.make_dual(v, tv)))
    assert tan is not None, "the compiled function dropped the tangent"
    assert relerr(out, ref) < tol and relerr(tan, rtan) < tol


@pytest.mark.parametrize("how", ["func.jvp", "dual"])
@pytest.mark.parametrize("device,dtype,tol,backend", FORWARD_CASES)
def test_forward_mode_under_compile(how, device, dtype, tol, backend, gen):
    make_fn = _jvp_fn if how == "func.jvp" else _dual_fn
    x = randn(gen, (2, 19, 32), dtype, device)
    t = randn(gen, (2, 19, 32), dtype, device)
    # the control: the same model with attention in plain ops behind the same graph break; where
    # PyTorch cannot compile forward mode of it correctly, there is nothing jfa-specific to test
    control = _model(Attn, dtype, device, 32, 2, attend=_plain_attention, is_causal=True)
    ce, cc = _forward_mode_case(make_fn, control, x, t, backend)
    if isinstance(cc, Exception):
        pytest.skip("torch %s cannot compile forward mode (%s, %s backend) across a graph break: %s: %s"
                    % (torch.__version__, how, backend, type(cc).__name__, str(cc).splitlines()[0][:200]))
    if cc[1] is None or relerr(cc[1], ce[1]) > tol or relerr(cc[0], ce[0]) > tol:
        pytest.skip("torch %s compiles forward mode (%s, %s backend) across a graph break to a wrong or missing "
                    "tangent (a PyTorch issue: pytorch#187284, dual tensors into a compiled graph)"
                    % (torch.__version__, how, backend))
    model = _model(Attn, dtype, device, 32, 2, is_causal=True)
    eager, comp = _forward_mode_case(make_fn, model, x, t, backend)
    if isinstance(comp, Exception):
        raise comp
    assert comp[1] is not None, "the compiled function lost the tangent"
    for a, b, name in ((comp[0], eager[0], "primal"), (comp[1], eager[1], "tangent")):
        e = relerr(a, b)
        assert e < tol, "%s: relative error %.3g" % (name, e)
    # what breaks remain (printed with pytest -s): one per jfa call is expected
    torch._dynamo.reset()
    try:
        ex = torch._dynamo.explain(make_fn(model))(x, t)
        print("\n[forward mode, %s, torch %s] graphs %d, breaks %d: %s" % (
            how, torch.__version__, ex.graph_count, ex.graph_break_count,
            sorted(set(str(getattr(r, "reason", r)).splitlines()[0][:120] for r in ex.break_reasons))))
    except Exception as e:  # noqa: BLE001 - information only
        print("\n[forward mode, %s, torch %s] explain raised %s: %s" % (how, torch.__version__, type(e).__name__, e))
