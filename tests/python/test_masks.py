"""
test_masks.py - masks through jfa.torch against the float64 reference: dense
boolean and additive masks (broadcast batch/head axes, empty rows, -inf and large
entries), sliding windows, packed variable-length sequences (varlen_attention),
alone and with causal masks and GQA; forward, reverse mode and forward mode.
"""
import pytest
import torch
import torch.autograd.forward_ad as fwAD

from conftest import devices_dtypes, randn, reference, relerr

import jfa.torch as jt


def _check(fn, ref, inputs, gen, tol, dtype, device):
    """fn and ref agree on the output, the gradients (reverse mode) and the tangent (forward mode)."""
    do = randn(gen, fn(*inputs).shape, dtype, device)
    t = [randn(gen, x.shape, dtype, device) for x in inputs]
    xs = [x.detach().requires_grad_() for x in inputs]
    o = fn(*xs)
    o.backward(do)
    xr = [x.detach().double().requires_grad_() for x in inputs]
    r = ref(*xr)
    r.backward(do.double())
    assert relerr(o, r) < tol, ("o", relerr(o, r))
    for i, (a, b) in enumerate(zip(xs, xr)):
        assert relerr(a.grad, b.grad) < 2 * tol, ("grad", i, relerr(a.grad, b.grad))
    with fwAD.dual_level():
        _, tan = fwAD.unpack_dual(fn(*[fwAD.make_dual(a, b) for a, b in zip(inputs, t)]))
    _, rt = torch.autograd.functional.jvp(ref, tuple(x.double() for x in inputs), tuple(x.double() for x in t))
    assert relerr(tan, rt) < 2 * tol, ("tangent", relerr(tan, rt))


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("kind", ["bool", "bool_keys_strided", "bool_rows_unaligned", "additive"])
@pytest.mark.parametrize("causal", [False, True])
def test_dense_mask(gen, device, dtype, tol, kind, causal):
    B, Hq, Hkv, L, S, E = 2, 4, 2, 37, 45, 32
    q, k, v = randn(gen, (B, Hq, L, E), dtype, device), randn(gen, (B, Hkv, S, E), dtype, device), \
        randn(gen, (B, Hkv, S, E), dtype, device)
    if kind.startswith("bool"):
        m = torch.rand(B, 1, L, S, generator=gen) < 0.6
        if kind == "bool_keys_strided":  # key stride L (the block map's byte-per-key path)
            m = m.transpose(-1, -2).contiguous().transpose(-1, -2)
        elif kind == "bool_rows_unaligned":  # row starts off 8-byte alignment, S + 3 apart
            m = torch.cat([torch.zeros(B, 1, L, 1, dtype=torch.bool), m, torch.ones(B, 1, L, 2, dtype=torch.bool)],
                          -1)[..., 1:S + 1]
        m[0, 0, 3] = False  # an empty row
        m[1, 0, :, 5] = False
    else:
        m = torch.randn(B, Hq, L, S, generator=gen, dtype=torch.float64) * 3
        m[torch.rand(B, Hq, L, S, generator=gen) < 0.2] = float("-inf")
        m[0, 1, 4] = float("-inf")  # an empty row
        m[1, 2, 2, 7] = 40.0  # a large bias
        m = m.to(torch.float32)
    m = m.to(device)
    fn = lambda a, b, c: jt.attention(a, b, c, attn_mask=m, is_causal=causal, enable_gqa=True)
    ref = lambda a, b, c: reference(a, b, c, attn_mask=m, is_causal=causal)
    _check(fn, ref, (q, k, v), gen, tol, dtype, device)


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("window,causal", [((0, 0), False), ((1, 1), False), ((16, 0), True), ((64, 3), False),
                                           ((500, -1), True), ((-1, 5), False)])
def test_window(gen, device, dtype, tol, window, causal):
    q, k, v = (randn(gen, (1, 2, 90, 24), dtype, device) for _ in range(3))
    fn = lambda a, b, c: jt.attention(a, b, c, is_causal=causal, window=window)
    ref = lambda a, b, c: reference(a, b, c, is_causal=causal, window=window)
    _check(fn, ref, (q, k, v), gen, tol, dtype, device)


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("L,S", [(20, 70), (70, 33)])
@pytest.mark.parametrize("window,causal", [((1, 1), False), ((5, 2), False), ((0, 0), False), ((-1, 3), False),
                                           ((6, 0), True)])
@pytest.mark.parametrize("align", ["top_left", "bottom_right"])
def test_window_alignment(gen, device, dtype, tol, L, S, window, causal, align):
    """causal_alignment anchors a window with or without is_causal when L != S (jfa 0.6): "bottom_right" puts query
    row i at key position S - L + i (FlashAttention's window_size). Before, a window without is_causal stayed top-left
    whatever the alignment (the reference's bottom-right band differs from the top-left one here)."""
    q = randn(gen, (2, 4, L, 24), dtype, device)
    k, v = randn(gen, (2, 2, S, 24), dtype, device), randn(gen, (2, 2, S, 24), dtype, device)
    fn = lambda a, b, c: jt.attention(a, b, c, is_causal=causal, window=window, causal_alignment=align,
                                      enable_gqa=True)
    ref = lambda a, b, c: reference(a, b, c, is_causal=causal, window=window, alignment=align)
    _check(fn, ref, (q, k, v), gen, tol, dtype, device)


def test_window_tensor_sides_read_each_call():
    """A window given as a tuple of 0-d tensors, written in place between calls, is read again at each call: attention's
    Config cache keys the normalised (int) window, not the tuple's objects (which kept the first call's window)."""
    torch.manual_seed(2)
    print("seed 2")
    q, k, v = (torch.randn(1, 2, 20, 8, dtype=torch.float64) for _ in range(3))
    w = torch.tensor(2)
    win = (w, 0)
    for left in (2, 5, 0):
        w.fill_(left)
        o = jt.attention(q, k, v, is_causal=True, window=win)
        r = reference(q, k, v, is_causal=True, window=(left, 0))
        assert relerr(o, r) < 1e-12, (left, relerr(o, r))


def _varlen_ref(q, k, v, cq, ck, **kw):
    outs = []
    for s in range(len(cq) - 1):
        if cq[s + 1] == cq[s]:
            continue  # an empty sequence: no rows
        if ck[s + 1] == ck[s]:  # queries without keys: fully masked rows, O = 0
            outs.append(q.new_zeros((cq[s + 1] - cq[s],) + tuple(q.shape[1:-1]) + (v.shape[-1],), dtype=torch.float64)
                        + 0 * q[cq[s]:cq[s + 1]].double().sum() + 0 * v.double().sum())
            continue
        qs = q[cq[s]:cq[s + 1]].transpose(0, 1).unsqueeze(0)
        ks = k[ck[s]:ck[s + 1]].transpose(0, 1).unsqueeze(0)
        vs = v[ck[s]:ck[s + 1]].transpose(0, 1).unsqueeze(0)
        outs.append(reference(qs, ks, vs, **kw).squeeze(0).transpose(0, 1))
    return torch.cat(outs, 0)


@pytest.mark.parametrize("device,dtype,tol", devices_dtypes())
@pytest.mark.parametrize("causal,align,window", [(False, "top_left", None), (True, "top_left", None),
                                                 (True, "bottom_right", None), (False, "top_left", (8, 8)),
                                                 (False, "bottom_right", (8, 3)), (True, "bottom_right", (8, 0))])
def test_varlen(gen, device, dtype, tol, causal, align, window):
    lq, lk = [1, 7, 129, 30, 2], [1, 9, 129, 25, 2]
    cq = [0] + torch.tensor(lq).cumsum(0).tolist()
    ck = [0] + torch.tensor(lk).cumsum(0).tolist()
    q = randn(gen, (cq[-1], 4, 40), dtype, device)
    k, v = randn(gen, (ck[-1], 2, 40), dtype, device), randn(gen, (ck[-1], 2, 40), dtype, device)
    kw = dict(is_causal=causal, causal_alignment=align, window=window)
    fn = lambda a, b, c: jt.varlen_attention(a, b, c, torch.tensor(cq), torch.tensor(ck), enable_gqa=True, **kw)
    rkw = dict(is_causal=causal, alignment=align, window=window)
    ref = lambda a, b, c: _varlen_ref(a, b, c, cq, ck, **rkw)
    _check(fn, ref, (q, k, v), gen, tol, dtype, device)


def test_varlen_options_keyword_only():
    """A call ported from flash_attn_varlen_func / varlen_attn (q, k, v, cu_q, cu_k, max_seqlen_q, max_seqlen_k) is a
    TypeError, not causal attention at scale max_seqlen_k."""
    q = torch.randn(10, 2, 8, dtype=torch.float64)
    cu = [0, 3, 10]
    with pytest.raises(TypeError):
        jt.varlen_attention(q, q, q, cu, cu, 7, 7)
    assert torch.equal(jt.varlen_attention(q, q, q, cu, cu), jt.varlen_attention(q, q, q, cu, cu, is_causal=False))


def test_varlen_bad_offsets():
    q = torch.randn(10, 2, 8, dtype=torch.float64)
    with pytest.raises(ValueError, match="cu_seqlens_q"):
        jt.varlen_attention(q, q, q, [0, 4, 3, 10])
    with pytest.raises(ValueError, match="cu_seqlens_q"):
        jt.varlen_attention(q, q, q, [0, 4, 9])
    with pytest.raises(ValueError, match="window"):
        jt.attention(q.unsqueeze(0), q.unsqueeze(0), q.unsqueeze(0), window=(-3, 0))


def test_varlen_config_cache(monkeypatch):
    """varlen_attention keeps one Config (and params struct) per distinct host offsets and options: calls that
    alternate offsets, key offsets, causal modes and windows each get their own (checked against the float64
    reference, so a key that left one of them out fails), a repeated call reuses its Config, offsets of more than
    _VARLEN_CACHED_SEQS sequences are not kept, and the cache stays bounded, keeping recent packings once full."""
    from jfa.torch import _api
    monkeypatch.setattr(_api, "_varlen_configs", {})  # a full cache would store nothing and hide a wrong key
    torch.manual_seed(1)
    print("seed 1")
    q, k, v = (torch.randn(12, 2, 8, dtype=torch.float64) for _ in range(3))
    a, b = [0, 5, 12], [0, 7, 12]
    calls = [(a, None, {}), (b, None, {}), (a, b, {}), (a, None, dict(is_causal=True)),
             (a, None, dict(window=(2, 0))), (b, a, dict(is_causal=True, causal_alignment="bottom_right")),
             (a, None, dict(scale=0.5)), (a, None, dict(scale=2))]
    for _ in range(2):
        for cq, ck, kw in calls:
            o = jt.varlen_attention(q, k, v, torch.tensor(cq), ck, **kw)
            rkw = dict(is_causal=kw.get("is_causal", False), alignment=kw.get("causal_alignment", "top_left"),
                       window=kw.get("window"), scale=kw.get("scale"))
            r = _varlen_ref(q, k, v, cq, cq if ck is None else ck, **rkw)
            assert relerr(o, r) < 1e-12, (cq, ck, kw, relerr(o, r))
    mode = _api._lib.MASK_NONE
    c1 = _api._varlen_config(None, mode, (-1, -1), tuple(a), tuple(a))
    assert _api._varlen_config(None, mode, (-1, -1), tuple(a), tuple(a)) is c1
    assert _api._varlen_config(None, mode, (-1, -1), tuple(a), tuple(b)) is not c1
    n = _api._VARLEN_CACHED_SEQS + 1
    many = tuple(range(n + 1))
    before = len(_api._varlen_configs)
    w = (-1, -1)
    assert _api._varlen_config(None, mode, w, many, many) is not _api._varlen_config(None, mode, w, many, many)
    assert len(_api._varlen_configs) == before
    x = torch.randn(400, 1, 4, dtype=torch.float64)
    for i in range(300):
        jt.varlen_attention(x, x, x, [0, i + 1, 400])
    assert len(_api._varlen_configs) <= 256
    last = (0, 300, 400)  # the loop's last packing: kept after the cache filled (cleared, not frozen at its first 256)
    assert (None, mode, _api._UNBOUNDED, last, last) in _api._varlen_configs


def _bf16_step(q, k, v, do, mask, ref_mask=None, causal=False, what=""):
    """One bf16 forward + backward of jfa.torch.attention with attn_mask=mask against float64 (ref_mask: the
    reference's mask, default mask): o within 1e-2, the gradients within 2e-2. Returns o."""
    xs = [x.detach().requires_grad_() for x in (q, k, v)]
    o = jt.attention(*xs, attn_mask=mask, is_causal=causal)
    o.backward(do)
    xr = [x.detach().double().requires_grad_() for x in (q, k, v)]
    r = reference(*xr, attn_mask=mask if ref_mask is None else ref_mask, is_causal=causal)
    r.backward(do.double())
    assert relerr(o, r) < 1e-2, (what, relerr(o, r))
    for a, b in zip(xs, xr):
        assert relerr(a.grad, b.grad) < 2e-2, (what, relerr(a.grad, b.grad))
    return o


@pytest.mark.gpu
@pytest.mark.parametrize("kind", ["bool", "additive"])
def test_mask_map_follows_the_mask(kind):
    """The block map the binding keeps on a CUDA mask tensor with set_mask_map_cache(True)
    (jfa_attention_mask_map_build: built once for a forward, its backward and later calls with the same tensor) is
    reused while the mask is unchanged and rebuilt after an in-place change (the tensor's version): whole 64 x 64
    tiles flip between empty, full and partial each step, which a stale map would skip or apply wrongly; outputs and
    gradients against float64 after every change, through the mask and through a view of it."""
    prev = jt.set_mask_map_cache(True)
    try:
        _mask_map_steps(kind)
    finally:
        jt.set_mask_map_cache(prev)


@pytest.mark.gpu
def test_mask_map_default_and_inference():
    """Without the cache (the default) no map is kept on the mask tensor, and a forward and its backward still match
    float64; with the cache on, a mask made under torch.inference_mode (no version counter) is used without keeping
    a map, before and after an in-place write."""
    g = torch.Generator().manual_seed(6)
    dev, dtype = torch.device("cuda"), torch.bfloat16
    q, k, v, do = (randn(g, (1, 2, n, 64), dtype, dev) for n in (100, 150, 150, 100))
    m = (torch.rand(1, 2, 100, 150, generator=g) < 0.5).to(dev)
    prev = jt.set_mask_map_cache(False)
    try:
        _bf16_step(q, k, v, do, m)
        assert not hasattr(m, "_jfa_mask_map")
        jt.set_mask_map_cache(True)
        with torch.inference_mode():
            mi = m.clone()
        for step in range(2):
            with torch.inference_mode():
                o = jt.attention(q, k, v, attn_mask=mi)
                assert relerr(o, reference(q, k, v, attn_mask=mi)) < 1e-2, step
                assert not hasattr(mi, "_jfa_mask_map")
                mi[:, :, :64, :64] = False  # an in-place write with no version to see: step 1 reads it
    finally:
        jt.set_mask_map_cache(prev)


def test_mask_map_cache_environment():
    """JFA_MASK_MAP_CACHE=1 at import turns the block map cache on (set_mask_map_cache's default otherwise off):
    set_mask_map_cache returns the setting it replaces, in a fresh interpreter for each value."""
    import os
    import subprocess
    import sys
    code = "import jfa.torch as jt; print(jt.set_mask_map_cache(False))"
    for value, want in (("1", "True"), ("0", "False"), (None, "False")):
        env = dict(os.environ)
        env.pop("JFA_MASK_MAP_CACHE", None)
        pkg = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(jt.__file__))))  # the jfa package's parent
        env["PYTHONPATH"] = os.pathsep.join(x for x in (pkg, env.get("PYTHONPATH")) if x)
        if value is not None:
            env["JFA_MASK_MAP_CACHE"] = value
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == want, (value, out.stdout)


def test_mask_map_per_forward_marking():
    """Which calls the binding marks for a per-forward block map (Config.map_fwd, read by _core.mask_map; on the CPU
    no map is built, so the marking itself is checked): a call autograd differentiates (reverse mode, and the fused
    JVP under reverse mode, the sCM pattern) yes; no grad, inputs without requires_grad, and a plain dual JVP no."""
    from jfa.torch import _core
    g = torch.Generator().manual_seed(8)
    q, k, v, tq, tk, tv = (randn(g, (1, 2, n, 8), torch.float64, torch.device("cpu")) for n in (5, 7, 7, 5, 7, 7))
    m = torch.rand(1, 2, 5, 7, generator=g) < 0.7
    real, seen = _core.mask_map, []

    def spy(cfg, jm):
        seen.append(cfg.map_fwd)
        return real(cfg, jm)

    def marks(fn):
        seen.clear()
        fn()
        return seen[:1]

    def dual(x, y, z):
        with fwAD.dual_level():
            o = jt.attention(fwAD.make_dual(x, tq), fwAD.make_dual(y, tk), fwAD.make_dual(z, tv), attn_mask=m)
            return fwAD.unpack_dual(o)

    xs = [t.detach().requires_grad_() for t in (q, k, v)]
    _core.mask_map = spy
    try:
        assert marks(lambda: jt.attention(*xs, attn_mask=m).sum().backward()) == [True]
        assert marks(lambda: dual(*xs).tangent.sum().backward()) == [True]
        with torch.no_grad():
            assert marks(lambda: jt.attention(*xs, attn_mask=m)) == [False]
        assert marks(lambda: jt.attention(q, k, v, attn_mask=m)) == [False]
        assert marks(lambda: dual(q, k, v)) == [False]
    finally:
        _core.mask_map = real


@pytest.mark.gpu
def test_mask_map_per_forward():
    """The per-forward map (_core._MAP_PER_FORWARD, on by default since the thirty-fifth session): the forward of a
    call that autograd differentiates (its Function's forward runs with grad mode off: _api._attend marks the Config)
    builds the map (counted through _core.mask_map) and its backward's params carry it (seen through _core.backward),
    without keeping it on the mask tensor; outputs and gradients against float64, for a boolean and an additive mask;
    switched off, no map is built in the binding (each C call builds its own) and the results match all the same."""
    from jfa.torch import _core
    g = torch.Generator().manual_seed(7)
    dev, dtype = torch.device("cuda"), torch.bfloat16
    q, k, v, do = (randn(g, (2, 4, n, 64), dtype, dev) for n in (200, 260, 260, 200))
    masks = [(torch.rand(2, 1, 200, 260, generator=g) < 0.5).to(dev),
             torch.where(torch.rand(2, 4, 200, 260, generator=g) < 0.3, float("-inf"), 0.5).to(dev, torch.float32)]
    prev, prev_cache = _core._MAP_PER_FORWARD, jt.set_mask_map_cache(False)
    real_map, real_bwd = _core.mask_map, _core.backward
    built, bwd_maps = [], []

    def counting(cfg, jm):
        buf = real_map(cfg, jm)
        built.append(buf is not None)
        return buf

    def backward(q, k, v, o, lse, do, cfg, *rest, **kw):  # autograd's device thread
        bwd_maps.append(bool(cfg.params is not None and cfg.params[0].mask_map))
        return real_bwd(q, k, v, o, lse, do, cfg, *rest, **kw)

    _core.mask_map, _core.backward = counting, backward
    try:
        for on in (True, False):
            _core._MAP_PER_FORWARD = on
            for m in masks:
                built.clear(), bwd_maps.clear()
                _bf16_step(q, k, v, do, m, causal=True, what=(on, m.dtype))
                assert not hasattr(m, "_jfa_mask_map")
                assert built == [on], (on, m.dtype, built)
                assert bwd_maps == [on], (on, m.dtype, bwd_maps)
            # no backward to follow (grad mode off): no map in the binding either way
            built.clear()
            with torch.no_grad():
                jt.attention(q, k, v, attn_mask=masks[0])
            assert not any(built), (on, built)
    finally:
        _core._MAP_PER_FORWARD = prev
        _core.mask_map, _core.backward = real_map, real_bwd
        jt.set_mask_map_cache(prev_cache)


def _mask_map_steps(kind):
    g = torch.Generator().manual_seed(5)
    dev, dtype = torch.device("cuda"), torch.bfloat16
    B, H, L, S, E = 2, 4, 130, 200, 64
    q, k, v, do = (randn(g, (B, H, n, E), dtype, dev) for n in (L, S, S, L))
    if kind == "bool":
        m = (torch.rand(B, H, L, S, generator=g) < 0.5).to(dev)
    else:
        m = torch.randn(B, H, L, S, generator=g, dtype=torch.float32)
        m[torch.rand(B, H, L, S, generator=g) < 0.3] = float("-inf")
        m = m.to(dev)
    empty = False if kind == "bool" else float("-inf")
    full = True if kind == "bool" else 0.0
    maps = []
    for step in range(4):
        mm = m if step % 2 == 0 else m[:, :, :, :]  # the mask or a view of it (one version counter)
        o = _bf16_step(q, k, v, do, mm, ref_mask=m, what=step)
        kept = getattr(mm, "_jfa_mask_map", None)  # kept on the tensor the call was given
        assert kept is not None and kept[1] == m._version, step
        o2 = jt.attention(q, k, v, attn_mask=mm)  # the same state again: the kept map, the same result
        assert torch.equal(o2, o.detach()), step
        assert mm._jfa_mask_map[2] is kept[2], step  # reused, not rebuilt
        maps.append(kept[2])
        # in place, on whole tiles: rows 0..63 x keys 64..127 empty and keys 128..191 full on even steps, swapped on
        # odd ones, and rows 64..127 x keys 0..63 partial <-> full
        m[:, :, :64, 64:128] = empty if step % 2 == 0 else full
        m[:, :, :64, 128:192] = full if step % 2 == 0 else empty
        if step % 2 == 0:
            m[:, :, 64:128, :64] = full
        else:
            m[:, :, 64:128, :64] = torch.where(torch.arange(64, device=dev) % 3 == 0, empty, full) \
                if kind == "bool" else torch.where(torch.arange(64, device=dev) % 3 == 0,
                                                   torch.tensor(float("-inf"), device=dev), torch.tensor(0.5, device=dev))
    assert len({id(x) for x in maps}) == len(maps)  # rebuilt after every change (maps holds each one alive)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_varlen_cuda_graph(dtype):
    """varlen_attention captured in a CUDA graph (forward-mode JVP and backward) with
    cu_seqlens as a CUDA tensor: the graph reads the offsets at each replay (JFA_PARAMS_SEQLENS_DEVICE), so other
    offsets copied into the same tensor give the new packing's results; host offsets during a capture are refused."""
    g = torch.Generator().manual_seed(11)
    dev = torch.device("cuda")
    H, Hk, E, T = 4, 2, 64, 300
    packs = ([0, 37, 167, 167, 300], [0, 120, 121, 250, 300])
    cu = torch.tensor(packs[0], dtype=torch.int32, device=dev)  # int32 as flash_attn's cu_seqlens
    q, qt, do = (randn(g, (T, H, E), dtype, dev) for _ in range(3))
    k, v, kt, vt = (randn(g, (T, Hk, E), dtype, dev) for _ in range(4))
    qs, ks, vs = (x.clone().requires_grad_() for x in (q, k, v))

    def step():
        with fwAD.dual_level():
            o, ot = fwAD.unpack_dual(jt.varlen_attention(fwAD.make_dual(q, qt), fwAD.make_dual(k, kt),
                                                         fwAD.make_dual(v, vt), cu, is_causal=True,
                                                         enable_gqa=True))
        ob = jt.varlen_attention(qs, ks, vs, cu, is_causal=True, enable_gqa=True)
        return (o, ot) + torch.autograd.grad(ob, (qs, ks, vs), do)

    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            step()  # warm-up: the workspace sized before the capture
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outs = step()
    tol = 1.5e-2 if dtype == torch.bfloat16 else 1e-5  # conftest.devices_dtypes
    for pack in (packs[1], packs[0]):
        cu.copy_(torch.tensor(pack, dtype=torch.int32))
        graph.replay()
        torch.cuda.synchronize()
        qr, kr, vr = (x.detach().double().requires_grad_() for x in (q, k, v))
        tq, tk, tv = (x.double() for x in (qt, kt, vt))
        ref = lambda a, b, c: _varlen_ref(a, b, c, pack, pack, is_causal=True)
        with fwAD.dual_level():
            rt = fwAD.unpack_dual(ref(fwAD.make_dual(qr.detach(), tq), fwAD.make_dual(kr.detach(), tk),
                                      fwAD.make_dual(vr.detach(), tv)))[1]
        r = ref(qr, kr, vr)
        r.backward(do.double())
        assert relerr(outs[0], r) < tol, (pack, relerr(outs[0], r))
        assert relerr(outs[1], rt) < 2 * tol, (pack, relerr(outs[1], rt))
        for a, b in zip(outs[2:], (qr.grad, kr.grad, vr.grad)):
            assert relerr(a, b) < 2 * tol, (pack, relerr(a, b))
    # host offsets (a list) cannot be read by a graph: refused with an error, not captured as constants
    g2 = torch.cuda.CUDAGraph()
    with pytest.raises(RuntimeError, match="CUDA graph capture"):
        with torch.cuda.graph(g2):
            jt.varlen_attention(q, k, v, packs[0], is_causal=True, enable_gqa=True)
