"""
_api.py - jfa.torch.attention (the signature and semantics of
torch.nn.functional.scaled_dot_product_attention) and the Triton JVP package's
names (JVPAttn.fwd, JVPAttn.fwd_dual, fwd_dual).
"""
import math
import operator
import warnings

import torch

from .. import _lib
from . import _autocast, _core, _function, _ops, _vmap
from ._autograd import _Attention, _AttentionJvp, _NoKeys

_ALIGN = {"top_left": _lib.MASK_CAUSAL_TOP_LEFT, "bottom_right": _lib.MASK_CAUSAL_BOTTOM_RIGHT}


def _mode(is_causal, causal_alignment, window):
    """The C mask mode: causal aligned as asked; not causal, a window anchored as asked ("bottom_right": query row i
    at position S - L + i, FlashAttention's window_size), else no mask (the alignment has nothing to place)."""
    if _core.check_bool(is_causal, "is_causal"):
        return _ALIGN[causal_alignment]
    return _lib.MASK_BOTTOM_RIGHT if causal_alignment == "bottom_right" and window is not None else _lib.MASK_NONE


def _to4d(t):
    """(N..., L, E) -> (B, H, L, E) as a view where possible."""
    d = t.dim()
    if d == 4:
        return t
    if d == 3:
        return t.unsqueeze(0)
    if d == 2:
        return t.unsqueeze(0).unsqueeze(0)
    if d < 2:
        raise ValueError("jfa: attention inputs need at least 2 dims (L, E), got shape %s" % (tuple(t.shape),))
    return t.reshape((math.prod(t.shape[:-3]),) + tuple(t.shape[-3:]))  # not -1: a zero-size H, L or E


_UNBOUNDED = (_lib.WINDOW_UNBOUNDED, _lib.WINDOW_UNBOUNDED)


def _window(window):
    """(left, right) in tokens; None = unbounded. A single int is refused: which side it would bound is
    a convention (a band on both sides, or Mistral's causal sliding window), so the caller says it."""
    if window is None:
        return _UNBOUNDED
    if isinstance(window, (tuple, list)) and len(window) == 2:
        left, right = window
    else:
        raise TypeError("jfa: window must be a (left, right) pair of token counts (None or -1 = unbounded side), "
                        "got %r; for w keys on each side pass window=(w, w), for a causal sliding window of w "
                        "keys back pass is_causal=True, window=(w, 0)" % (window,))
    left = _lib.WINDOW_UNBOUNDED if left is None else _integer(left, "a window side", window)
    right = _lib.WINDOW_UNBOUNDED if right is None else _integer(right, "a window side", window)
    if left < -1 or right < -1:
        raise ValueError("jfa: window sides must be >= 0, or -1/None for unbounded, got %r" % (window,))
    # a side past int64 is as wide as one at its largest (the library clamps larger sides to JFA_WINDOW_MAX alike);
    # passed as given, ctypes' int64 would wrap it (2**64 read as 0)
    return (min(left, _INT64_MAX), min(right, _INT64_MAX))


_INT64_MAX = (1 << 63) - 1


def _integer(x, what, given):
    """x as a Python int: ints, NumPy integers and integer 0-d tensors; floats (2.7 is not truncated to 2) and bools
    raise TypeError (given: the argument x is part of, for the message). A plain int takes the expression the code
    had before (isinstance, int()), which torch.compile traces as a constant under fullgraph=True."""
    if isinstance(x, int) and not isinstance(x, bool):
        return int(x)
    return _integer_other(x, what, given)


def _integer_other(x, what, given):
    """_integer's other types: an integer through operator.index (NumPy integers, integer 0-d tensors), else
    TypeError (bools of every kind included)."""
    is_bool = isinstance(x, bool) or type(x).__name__ in ("bool_", "bool") or (
        isinstance(x, torch.Tensor) and x.dtype == torch.bool)
    try:
        if not is_bool:
            return operator.index(x)
    except TypeError:
        pass
    raise TypeError("jfa: %s must be an integer, got %r in %s" % (what, x, _short(given)))


_configs = {}


def _config(scale, mode, window):
    """The Config of a call without a dense mask, cached (validated once per distinct options)."""
    if not (scale is None or type(scale) is float or type(scale) is int) or not (window is None
                                                                                 or type(window) is tuple):
        return _core.Config(scale, mode, None, _window(window))  # e.g. a tensor scale: not cached
    win = _window(window)  # the key holds ints: a window of 0-d tensors written in place is read again
    key = (scale, mode, win)
    cfg = _configs.get(key)
    if cfg is None:
        cfg = _core.Config(scale, mode, None, win)
        if len(_configs) < 256:
            _configs[key] = cfg
    return cfg


def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False,
              causal_alignment="top_left", window=None):
    """Exact attention with derivatives: a drop-in for F.scaled_dot_product_attention.

    query (N..., Hq, L, E), key and value (N..., Hkv, S, E); any strides (a [B, N, H, D]
    tensor transposed to [B, H, N, D] is used without a copy). CUDA: float32, float16,
    bfloat16; CPU: float64, float32. attn_mask: boolean (True = attend) or floating point
    (added to the scores), broadcastable to (N..., Hq, L, S) as in SDPA; a constant: a mask
    that requires grad or carries a forward-mode tangent is refused. is_causal: causal mask
    aligned `causal_alignment` ("top_left" as PyTorch, or "bottom_right" as FlashAttention),
    which also anchors a window, causal or not (jfa 0.6; before, a window without is_causal
    stayed top-left whatever the alignment): query row i at key position i ("top_left") or
    S - L + i ("bottom_right", FlashAttention's window_size); with L = S the two agree.
    scale: None = 1/sqrt(E), else used as given (0 and negative included; |scale| above 2^16,
    JFA_SCALE_MAX, is refused). enable_gqa: allow Hkv dividing Hq. window: (left, right) sliding
    window in tokens (None or -1 = unbounded side; a single int is refused). dropout_p must be 0.
    attn_mask with is_causal=True: both apply (SDPA refuses the pair). L = 0 or S = 0 give O = 0
    with zero gradients and tangents. A fully masked row gives O = 0 (SDPA >= 2.5's rule). NaN in
    any input, tangent or dO propagates to every output it reaches through visible (query, key)
    pairs; a NaN key or value that a row cannot see may or may not reach that row (never on the
    CPU; on a GPU through 0 * NaN where the kernel computes its block), where SDPA's math backend
    always spreads it (FlashAttention's convention). A float mask that puts every visible key of a row
    far below zero (padding rows under -1e4 or -1e9 fills) costs that row's gradient on a GPU
    the float32 rounding of its lse (up to 5e-4 relative at -1e4, all of it at -1e9; include/jfa.h):
    harmless where the row's output gradient is zero (padding a loss ignores), else use -inf, a boolean
    mask, or subtract each row's largest bias. On the CPU such rows are right with any output gradient.
    float32 / bfloat16 finfo.min fills overflow the GPU kernels' base-2 scores: such keys count as
    masked there (a row of only them gives O = 0, SDPA the mean of V; README).
    A CUDA attn_mask's block map (which tiles are empty, full or partial) is built once for a call
    and its backward; set_mask_map_cache(True) keeps it on the mask tensor for later calls too.

    Differentiable in reverse mode, in forward mode (dual tensors, torch.func.jvp) and
    both at once; the primal and the tangent come from one fused kernel call; second order
    (double backward, HVPs, forward-over-reverse) through _second_order.py. Under
    torch.compile (torch >= 2.4) a call is the custom operator jfa::attention_fwd (no graph
    break in reverse mode; see _ops.py). Under torch.autocast on CUDA, as SDPA: query, key,
    value and a floating attn_mask (float64 excepted) are cast to the autocast dtype, which the
    output then has (_autocast.py; the CPU backend computes as outside autocast).
    """
    dt = _autocast.device_type_of(query)
    ac = _autocast.dtype_for(dt)
    if ac is not None:  # SDPA's autocast cast, then the call itself with autocast off (_autocast.py)
        query, key, value, attn_mask = _autocast.cast((query, key, value, attn_mask), ac)
        with _autocast.off(dt):
            return attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, causal_alignment,
                             window)
    compiling = _ops.compiling()
    if compiling and _ops.forward_ad_open():  # forward mode: no custom-op formula in PyTorch
        return _attention_eager(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa,
                                causal_alignment, window)
    if dropout_p != 0.0:
        raise NotImplementedError("jfa: dropout is not supported (dropout_p must be 0)")
    if causal_alignment not in _ALIGN:
        raise ValueError("jfa: causal_alignment must be 'top_left' or 'bottom_right', got %r" % (causal_alignment,))
    for n, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor):
            raise TypeError("jfa: %s must be a torch.Tensor, got %s" % (n, type(t).__name__))
    qs, ks, vs = query.shape, key.shape, value.shape
    if not (len(qs) == len(ks) == len(vs)) or qs[:-3] != ks[:-3] or ks[:-3] != vs[:-3]:
        raise ValueError("jfa: query %s, key %s and value %s must have the same leading (batch) dims"
                         % (tuple(qs), tuple(ks), tuple(vs)))
    q, k, v = _to4d(query), _to4d(key), _to4d(value)
    mode = _mode(is_causal, causal_alignment, window)
    if compiling:
        if q.numel() == 0 or k.shape[2] == 0:  # O = 0 in plain ops (the graph is not broken: fullgraph holds)
            _core.check_inputs((q, k, v), ("query", "key", "value"), enable_gqa)  # eager's checks and errors
            if attn_mask is not None:
                _prepare_mask(attn_mask, query, key, forward_ad=False)  # checked as eager checks it
            _ops.check_scale(scale)
            _window(window)
            o = _empty_attention(q, k, v)
            out_shape = qs[:-1] + vs[-1:]
            return o if o.shape == out_shape else o.reshape(out_shape)
        m = None if attn_mask is None else _prepare_mask(attn_mask, query, key, forward_ad=False)
        o = _ops.attend(q, k, v, m, None, None, _ops.check_scale(scale), mode, _window(window), enable_gqa)
        out_shape = qs[:-1] + vs[-1:]
        return o if o.shape == out_shape else o.reshape(out_shape)
    if attn_mask is None:
        cfg = _config(scale, mode, window)
    else:
        cfg = _core.Config(scale, mode, _prepare_mask(attn_mask, query, key), _window(window), mask_src=attn_mask)
    o = _attend(q, k, v, cfg, enable_gqa)
    out_shape = qs[:-1] + vs[-1:]
    return o if o.shape == out_shape else o.reshape(out_shape)


_attention_eager = _ops.eager(attention)  # under torch.compile: a graph break, then today's eager path


def _empty_attention(q, k, v):
    """O = 0 of a call with no query or no key (L = 0 or S = 0, or an empty batch) in plain torch ops, for the
    compiled path: softmax(q K^T) V over an empty axis is q K^T V there, whose products have nothing to sum (exact
    zeros, NaN inputs included) and whose derivatives of every order are exact zeros, as _NoKeys' (the eager path's
    autograd.Function, which dynamo would leave behind a graph break). GQA by a group axis (Hq divisible by Hkv)."""
    B, Hq, L, E = q.shape
    Hkv = k.shape[1]
    g = Hq // Hkv if Hkv else 0  # Hkv = 0: Hq = 0 (check_inputs)
    s = torch.matmul(q.reshape(B, Hkv, g, L, E), k.unsqueeze(2).transpose(-1, -2))  # (B, Hkv, g, L, S)
    return torch.matmul(s, v.unsqueeze(2)).reshape(B, Hq, L, v.shape[-1])


def _mask_error(what):
    return NotImplementedError(
        "jfa: attn_mask %s; the mask's own derivative (the bias gradient dS and its tangent) is not computed "
        "yet, so a learned bias (ALiBi-style, relative positions) cannot train through jfa. Pass a constant "
        "mask (attn_mask.detach()) or use math attention for a learned bias." % what)


def _prepare_mask(attn_mask, query, key, forward_ad=True):
    """The dense mask as a 4-d (B|1, H|1, L, S) tensor: bool, or additive in float32 / q's dtype.

    Broadcasts as SDPA does against (N..., Hq, L, S) of the caller's shapes (batch axes too).
    forward_ad=False: no forward-AD level is open (the compiled path), no tangent to look for."""
    if not isinstance(attn_mask, torch.Tensor):
        raise TypeError("jfa: attn_mask must be a torch.Tensor, got %s" % type(attn_mask).__name__)
    if attn_mask.dtype != torch.bool and not attn_mask.dtype.is_floating_point:
        raise TypeError("jfa: attn_mask has dtype %s; as in F.scaled_dot_product_attention it must be boolean "
                        "(True = attend) or floating point (added to the scores): use mask.bool() for a 0/1 "
                        "mask, or mask.to(query.dtype) for a bias" % attn_mask.dtype)
    if attn_mask.dtype != torch.bool and attn_mask.dtype not in (torch.float32, query.dtype):
        raise TypeError("jfa: attn_mask has dtype %s; as in F.scaled_dot_product_attention a floating point mask "
                        "must be float32 or the query's dtype (%s): use mask.to(query.dtype)"
                        % (attn_mask.dtype, query.dtype))
    if attn_mask.device != query.device:
        raise ValueError("jfa: attn_mask is on %s but query is on %s" % (attn_mask.device, query.device))
    m, tangent = _core._unpack_dual(attn_mask) if forward_ad else (attn_mask, None)
    if tangent is not None:
        raise _mask_error("carries a forward-mode tangent (a dual tensor)")
    if m.requires_grad and torch.is_grad_enabled():
        raise _mask_error("requires grad")
    m = m.resolve_neg()  # a lazily negated mask (the neg bit): its values (jfa reads the storage; the Config holds m)
    target = tuple(query.shape[:-1]) + (key.shape[-2],)  # (N..., Hq, L, S)
    ms = tuple(m.shape)
    if len(ms) > len(target) or any(a != 1 and a != b for a, b in zip(reversed(ms), reversed(target))):
        raise ValueError("jfa: attn_mask of shape %s does not broadcast to %s (query %s, key %s: (N..., L, S))"
                         % (ms, target, tuple(query.shape), tuple(key.shape)))
    shape = (1,) * (max(len(target), 4) - len(ms)) + ms
    if shape != ms:
        m = m.reshape(shape)
    if len(shape) > 4:  # flatten the leading batch axes as _to4d does for q
        lead, tlead = shape[:-3], target[:-3]
        if all(a == 1 for a in lead):
            m = m.reshape((1,) + shape[-3:])
        else:
            if lead != tlead:
                m = m.expand(tlead + shape[-3:])
            m = m.reshape((math.prod(tlead),) + shape[-3:])  # a copy when the batch axes do not merge
    L, S = target[-2], target[-1]
    if m.shape[2] != L or m.shape[3] != S:  # broadcast query / key axes as zero-stride views
        m = m.expand(m.shape[0], m.shape[1], L, S)
    return m


def _attend(q, k, v, cfg, enable_gqa):
    qp, kp, vp, tangents = _core.unpack_inputs(q, k, v, enable_gqa)
    if qp.numel() == 0 or kp.shape[2] == 0:
        # no query or no key: O = 0 exactly, with zero gradients and tangents (SDPA's math)
        return _NoKeys.apply(q, k, v)
    if tangents is None:
        if (not (q.requires_grad or k.requires_grad or v.requires_grad) or not torch.is_grad_enabled()) \
                and not _vmap.any_batched((q, k, v, cfg.attn_mask)):
            return _core.forward(q, k, v, cfg, stats=False)[0]  # nothing to differentiate: no autograd, no lse
        if cfg.attn_mask is not None:
            cfg.map_fwd = True  # its backward reads the forward's block map (_core.mask_map)
        return _Attention.apply(q, k, v, cfg.attn_mask, cfg)[0]  # (torch.vmap: the Function's rule)
    if any(_function.legacy_batched(t) for t in tangents):  # torch.autograd.functional's forward-mode jacobian
        return _core.make_dual(*_function.legacy_jvp(
            (qp, kp, vp), tangents, lambda *a: _core.forward(*a[:3], cfg, *a[3:], stats=False)[::2]))
    bare = _core.jvp_without_function((qp, kp, vp) + tangents + (cfg.attn_mask,))
    if bare is not None:
        # nothing to differentiate in reverse mode, no vmap: skip the Function (under torch.func.jvp,
        # functorch's autograd.Function machinery); the call on the unwrapped tensors, o and od
        # allocated at qp's level, lse and mu not made
        o, _, od, _ = _core.forward(*bare[:3], cfg, *bare[3:6], like=qp if _core._functorch_active() else None,
                                    stats=False)
        return _core.make_dual(o, od)
    if cfg.attn_mask is not None:
        cfg.map_fwd = True  # its backward reads the forward's block map (_core.mask_map)
    o, od, _ = _AttentionJvp.apply(qp, kp, vp, *tangents, cfg.attn_mask, cfg, _core.level_token())
    return _core.make_dual(o, od)


def _check_offsets_tensor(cu, name):
    """Packed-sequence offsets given as a tensor: 1-d, of an integer dtype."""
    if cu.dim() != 1 or cu.dtype.is_floating_point or cu.dtype.is_complex or cu.dtype == torch.bool:
        raise TypeError("jfa: %s must be a 1-d integer tensor or sequence" % name)


def _capturing(q):
    """Whether q's call is being captured in a CUDA graph (torch.cuda.graph, torch.compile's cudagraphs)."""
    return q.is_cuda and torch.cuda.is_current_stream_capturing()


def _device_offsets(cu, q, name):
    """Offsets of a call being captured in a CUDA graph: a CUDA integer tensor on q's device, kept there (int64,
    contiguous: a copy inside the graph otherwise) and read by the kernels at each replay, not by the host, which
    cannot read them during a capture (JFA_PARAMS_SEQLENS_DEVICE): their values are not checked."""
    if not isinstance(cu, torch.Tensor) or cu.device != q.device:
        raise RuntimeError("jfa: %s during a CUDA graph capture must be a CUDA tensor on q's device (%s), got %s: "
                           "host offsets would have to be copied to the GPU, which a capture does not allow; the "
                           "graph then reads the tensor's values at each replay" % (name, q.device, "a " +
                           ("tensor on %s" % cu.device if isinstance(cu, torch.Tensor) else type(cu).__name__)))
    _check_offsets_tensor(cu, name)
    if cu.shape[0] < 2:
        raise ValueError("jfa: %s must hold at least 2 offsets (one sequence), got %d" % (name, cu.shape[0]))
    return cu.to(torch.int64).contiguous()


def _seqlens(cu_q, cu_k, q, total_q, total_k):
    """The (query, key) offsets of a varlen call over total_q queries and total_k keys: checked tuples of ints (read
    on the host), or int64 CUDA tensors while q's call is being captured in a CUDA graph (_device_offsets). cu_k
    None: cu_q's."""
    if cu_k is None:
        cu_k = cu_q
    if _capturing(q):
        cq = _device_offsets(cu_q, q, "cu_seqlens_q")
        ck = cq if cu_k is cu_q else _device_offsets(cu_k, q, "cu_seqlens_k")
        nq, nk = cq.shape[0], ck.shape[0]
    else:
        cq = _offsets(cu_q, total_q, "cu_seqlens_q")
        ck = cq if cu_k is cu_q and total_k == total_q else _offsets(
            cu_k, total_k, "cu_seqlens_k (cu_seqlens_q when not given)" if cu_k is cu_q else "cu_seqlens_k")
        nq, nk = len(cq), len(ck)
    if nq != nk:
        raise ValueError("jfa: cu_seqlens_q has %d sequences and cu_seqlens_k %d" % (nq - 1, nk - 1))
    return cq, ck


_varlen_configs = {}
_VARLEN_CACHED_SEQS = 256  # offsets of more sequences are not cached: a long key hashed each call, a large params struct


def _varlen_config(scale, mode, win, cq, ck):
    """The Config of a varlen call (win: _window's (left, right)), cached for host offsets (checked tuples) of at most
    _VARLEN_CACHED_SEQS sequences, as _config's: the params struct with the offsets' arrays is then built once per
    distinct call instead of each call (the packed lane's host work before its launch; a training loop repeats its
    packings). The eager call and the custom operator (_ops._config) share it. Device offsets (a CUDA graph capture)
    and other scales (a tensor) make a Config each call."""
    if (isinstance(cq, tuple) and isinstance(ck, tuple) and len(cq) <= _VARLEN_CACHED_SEQS + 1 and
            len(ck) <= _VARLEN_CACHED_SEQS + 1 and (scale is None or type(scale) is float or type(scale) is int)):
        key = (scale, mode, win, cq, ck)
        cfg = _varlen_configs.get(key)
        if cfg is None:
            cfg = _core.Config(scale, mode, None, win, (cq, ck))
            if len(_varlen_configs) >= 256:  # packings that change every batch: the recent ones kept, not the first
                _varlen_configs.clear()
            _varlen_configs[key] = cfg
        return cfg
    return _core.Config(scale, mode, None, win, (cq, ck))


def _short(seq):
    """The first entries of a sequence, for a message."""
    seq = list(seq)
    return "%s%s" % (seq[:8], "..." if len(seq) > 8 else "")


def _offset_ints(cu, name):
    """Packed-sequence offsets as a tuple of ints, their values not checked (host copy; a CUDA tensor is read back
    once): an integer tensor or a sequence of integers (_integer: no float truncated, no bool)."""
    if isinstance(cu, torch.Tensor):
        _check_offsets_tensor(cu, name)
        cu = _core.no_transforms(_core._unwrapped(cu).tolist)  # (inside functorch.jvp on torch 1.13 tolist() fails
        # otherwise; offsets made inside the transformed function are its wrappers)
    return tuple(_integer(x, "each entry of " + name, cu) for x in cu)


def _offsets(cu, total, name):
    """Packed-sequence offsets as a tuple of ints (_offset_ints), checked: from 0 to total without decreasing."""
    cu = _offset_ints(cu, name)
    if len(cu) < 2 or cu[0] != 0 or cu[-1] != total or any(b < a for a, b in zip(cu, cu[1:])):
        raise ValueError("jfa: %s must rise from 0 to %d (the packed length) without decreasing, got %s"
                         % (name, total, _short(cu)))
    return cu


def varlen_attention(q, k, v, cu_seqlens_q, cu_seqlens_k=None, *, is_causal=False, scale=None, enable_gqa=False,
                     causal_alignment="top_left", window=None):
    """Attention over packed variable-length sequences (FlashAttention's varlen layout).

    q (total_q, Hq, E), k and v (total_k, Hkv, E): the tokens of several sequences back to
    back; sequence s owns query rows cu_seqlens_q[s]:cu_seqlens_q[s+1] and key rows
    cu_seqlens_k[s]:cu_seqlens_k[s+1] (cu_seqlens_k defaults to cu_seqlens_q) and attends
    only within itself; causal masks and windows apply inside each sequence. Offsets are
    int tensors or sequences, read and checked on the host (a CUDA tensor is copied back at each call, which
    waits for the GPU: offsets as a list or a CPU tensor, made once per batch, keep the host ahead); during a
    CUDA graph capture they must be a CUDA tensor on q's device, which the kernels read at each replay
    (unchecked: JFA_PARAMS_SEQLENS_DEVICE in include/jfa.h). Returns (total_q, Hq, E). Differentiable
    as jfa.torch.attention. The options are keyword-only: FlashAttention's flash_attn_varlen_func and
    PyTorch's varlen_attn take max_seqlen_q, max_seqlen_k next (jfa needs none), which would otherwise land
    on is_causal and scale. Causal masks align top-left in each sequence by default (SDPA's rule);
    FlashAttention >= 2.1 aligns them bottom-right (causal_alignment="bottom_right"): the two differ only in
    sequences with fewer queries than keys or the reverse. The alignment anchors a window in each sequence too,
    with or without is_causal (as attention's). Under torch.autocast on CUDA q, k, v are cast as
    jfa.torch.attention's."""
    dt = _autocast.device_type_of(q)
    ac = _autocast.dtype_for(dt)
    if ac is not None:  # as attention's
        q, k, v = _autocast.cast((q, k, v), ac)
        with _autocast.off(dt):
            return varlen_attention(q, k, v, cu_seqlens_q, cu_seqlens_k, is_causal=is_causal, scale=scale,
                                    enable_gqa=enable_gqa, causal_alignment=causal_alignment, window=window)
    compiling = _ops.compiling()
    if compiling and _ops.forward_ad_open():
        return _varlen_eager(q, k, v, cu_seqlens_q, cu_seqlens_k, is_causal=is_causal, scale=scale,
                             enable_gqa=enable_gqa, causal_alignment=causal_alignment, window=window)
    for n, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3:
            raise ValueError("jfa: varlen %s must be a 3-d (total, heads, dim) tensor" % n)
    if causal_alignment not in _ALIGN:
        raise ValueError("jfa: causal_alignment must be 'top_left' or 'bottom_right', got %r" % (causal_alignment,))
    view = lambda t: t.unsqueeze(0).transpose(1, 2)  # (1, H, total, E) over the same storage
    if compiling:
        if q.shape[0] == 0 or k.shape[0] == 0:
            return _varlen_eager(q, k, v, cu_seqlens_q, cu_seqlens_k, is_causal=is_causal, scale=scale,
                                 enable_gqa=enable_gqa, causal_alignment=causal_alignment, window=window)
        cq = _offsets_arg(cu_seqlens_q, q.shape[0], "cu_seqlens_q")
        ck = cq if cu_seqlens_k is None else _offsets_arg(cu_seqlens_k, k.shape[0], "cu_seqlens_k")
        if not isinstance(cq, torch.Tensor) and not isinstance(ck, torch.Tensor) and len(cq) != len(ck):
            raise ValueError("jfa: cu_seqlens_q has %d sequences and cu_seqlens_k %d" % (len(cq) - 1, len(ck) - 1))
        if not isinstance(cq, torch.Tensor):
            cq = torch.tensor(cq, dtype=torch.int64)
        if not isinstance(ck, torch.Tensor):
            ck = torch.tensor(ck, dtype=torch.int64)
        o = _ops.attend(view(q), view(k), view(v), None, cq, ck, _ops.check_scale(scale),
                        _mode(is_causal, causal_alignment, window), _window(window), enable_gqa)
        return o.transpose(1, 2).squeeze(0)
    cq, ck = _seqlens(cu_seqlens_q, cu_seqlens_k, q, q.shape[0], k.shape[0])
    cfg = _varlen_config(scale, _mode(is_causal, causal_alignment, window), _window(window), cq, ck)
    o = _attend(view(q), view(k), view(v), cfg, enable_gqa)
    return o.transpose(1, 2).squeeze(0)


_varlen_eager = _ops.eager(varlen_attention)


def _offsets_arg(cu, total, name):
    """Offsets for the compiled path: an integer tensor as given (read and checked inside the
    operator, where reading it back does not break the graph), else checked ints."""
    if isinstance(cu, torch.Tensor):
        _check_offsets_tensor(cu, name)
        return cu
    return _offsets(cu, total, name)


FLOAT_MASK_WARNING = (
    "jfa.torch.jvp_attention: a floating point attn_mask is added to the scaled scores, softmax(sm_scale QK^T + "
    "mask), as F.scaled_dot_product_attention adds it; the Triton JVP package adds it before the scale, "
    "softmax(sm_scale (QK^T + mask)), so a bias other than 0 / -inf weighs differently after the switch (multiply "
    "it by sm_scale to keep the package's numbers; a boolean mask or -inf entries mask alike in both). Shown once.")
_float_mask_warned = False


def fwd_dual(q, k, v, attn_mask=None, dropout_p=0.0, causal=False, sm_scale=None, warp_specialize=True,
             USE_TMA=True):
    """The Triton JVP package's JVPAttn.fwd_dual: attention on (possibly dual) tensors, with its
    signature (positional order included); its tuning arguments warp_specialize and USE_TMA are
    accepted and ignored, and any other keyword (SDPA's is_causal or scale, say) is a TypeError, as
    there, not silently dropped. The first floating point attn_mask warns once that it is added after
    the scale (SDPA's rule), where that package adds it before."""
    return _drop_in(q, k, v, attn_mask, dropout_p, causal, sm_scale)


def _drop_in(q, k, v, attn_mask, dropout_p, causal, sm_scale):
    """The drop-in's call, from its entry points (fwd_dual, JVPAttn.fwd: the warning points at their caller)."""
    global _float_mask_warned
    if (not _float_mask_warned and isinstance(attn_mask, torch.Tensor) and attn_mask.dtype.is_floating_point
            and not _ops.compiling()):
        _float_mask_warned = True
        warnings.warn(FLOAT_MASK_WARNING, stacklevel=3)
    dt = _autocast.device_type_of(q)
    causal = bool(causal)  # the package takes any truthy causal (STAGE = 3 if causal else 1); SDPA's is_causal a bool
    if _autocast.dtype_for(dt) is not None:  # the package's kernels compute in their inputs' dtype under autocast too
        with _autocast.off(dt):
            o = attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=causal, scale=sm_scale)
    else:
        o = attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=causal, scale=sm_scale)
    # the package makes q, k, v contiguous and returns a contiguous output (callers .view() it); jfa.torch.attention
    # keeps q's layout, so a transposed q's output is copied here, as the package copies the inputs (no copy otherwise)
    return o.contiguous()


class JVPAttn:
    """Drop-in for the Triton package's JVPAttn entry points (fwd, fwd_dual), with their signatures:
    (q, k, v, attn_mask=None, dropout_p=0.0, causal=False, sm_scale=None, warp_specialize=True,
    USE_TMA=True); the tuning arguments are accepted and ignored. The autograd.Function's own
    JVPAttn.apply is not provided (fwd and fwd_dual are that package's entry points)."""

    @staticmethod
    def fwd(q, k, v, attn_mask=None, dropout_p=0.0, causal=False, sm_scale=None, warp_specialize=True,
            USE_TMA=True):
        return _drop_in(q, k, v, attn_mask, dropout_p, causal, sm_scale)

    fwd_dual = staticmethod(fwd_dual)
