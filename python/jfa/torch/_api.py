"""
_api.py - jfa.torch.attention (the signature and semantics of
torch.nn.functional.scaled_dot_product_attention) and the Triton JVP package's
names (JVPAttn.fwd, JVPAttn.fwd_dual, fwd_dual).
"""
import torch
import torch.autograd.forward_ad as fwAD

from .. import _lib
from . import _core
from ._autograd import _Attention, _AttentionJvp

_ALIGN = {"top_left": _lib.MASK_CAUSAL_TOP_LEFT, "bottom_right": _lib.MASK_CAUSAL_BOTTOM_RIGHT}


def _to4d(t):
    """(N..., L, E) -> (B, H, L, E) as a view where possible."""
    if t.dim() == 4:
        return t
    if t.dim() < 2:
        raise ValueError("jfa: attention inputs need at least 2 dims (L, E), got shape %s" % (tuple(t.shape),))
    if t.dim() == 3:
        return t.unsqueeze(0)
    if t.dim() == 2:
        return t.unsqueeze(0).unsqueeze(0)
    return t.reshape((-1,) + tuple(t.shape[-3:]))


def _window(window):
    if window is None:
        return (_lib.WINDOW_UNBOUNDED, _lib.WINDOW_UNBOUNDED)
    left, right = window
    left = _lib.WINDOW_UNBOUNDED if left is None else int(left)
    right = _lib.WINDOW_UNBOUNDED if right is None else int(right)
    if left < -1 or right < -1:
        raise ValueError("jfa: window sides must be >= 0, or -1/None for unbounded, got %r" % (window,))
    return (left, right)


def attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False,
              causal_alignment="top_left", window=None):
    """Exact attention with derivatives: a drop-in for F.scaled_dot_product_attention.

    query (N..., Hq, L, E), key and value (N..., Hkv, S, E); any strides (a [B, N, H, D]
    tensor transposed to [B, H, N, D] is used without a copy). CUDA: float32, float16,
    bfloat16; CPU: float64, float32. attn_mask: boolean (True = attend) or additive,
    broadcastable to (N..., Hq, L, S). is_causal: causal mask aligned `causal_alignment`
    ("top_left" as PyTorch, or "bottom_right" as FlashAttention). scale: default
    1/sqrt(E). enable_gqa: allow Hkv dividing Hq. window: (left, right) sliding window
    in tokens (None or -1 = unbounded side). dropout_p must be 0.

    Differentiable in reverse mode, in forward mode (dual tensors, torch.func.jvp) and
    both at once; the primal and the tangent come from one fused kernel call.
    """
    if dropout_p != 0.0:
        raise NotImplementedError("jfa: dropout is not supported (dropout_p must be 0)")
    if causal_alignment not in _ALIGN:
        raise ValueError("jfa: causal_alignment must be 'top_left' or 'bottom_right', got %r" % (causal_alignment,))
    for n, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor):
            raise TypeError("jfa: %s must be a torch.Tensor, got %s" % (n, type(t).__name__))
    out_shape = tuple(query.shape[:-1]) + (value.shape[-1],)
    q, k, v = _to4d(query), _to4d(key), _to4d(value)
    mask = None
    if attn_mask is not None:
        mask = _prepare_mask(attn_mask, q, k)
    cfg = _core.Config(scale, _ALIGN[causal_alignment] if is_causal else _lib.MASK_NONE, mask, _window(window))
    o = _attend(q, k, v, cfg, enable_gqa)
    return o.reshape(out_shape) if o.shape != out_shape else o


def _prepare_mask(attn_mask, q, k):
    """The dense mask as a 4-d (B|1, H|1, L, S) tensor: bool, or additive in float32 / q's dtype."""
    if not isinstance(attn_mask, torch.Tensor):
        raise TypeError("jfa: attn_mask must be a torch.Tensor")
    if attn_mask.device != q.device:
        raise ValueError("jfa: attn_mask is on %s but q is on %s" % (attn_mask.device, q.device))
    m = attn_mask
    if m.dtype != torch.bool and m.dtype not in (torch.float32, q.dtype):
        m = m.to(q.dtype if q.dtype != torch.bfloat16 and q.dtype != torch.float16 else torch.float32)
    while m.dim() < 4:
        m = m.unsqueeze(0)
    if m.dim() > 4:
        m = m.reshape((-1,) + tuple(m.shape[-3:]))
    B, H, L, S = q.shape[0], q.shape[1], q.shape[2], k.shape[2]
    if m.shape[-2:] != (L, S) and not (m.shape[-2] in (1, L) and m.shape[-1] in (1, S)):
        raise ValueError("jfa: attn_mask of shape %s does not broadcast to (%d, %d, %d, %d)"
                         % (tuple(attn_mask.shape), B, H, L, S))
    if m.shape[0] not in (1, B) or m.shape[1] not in (1, H):
        raise ValueError("jfa: attn_mask of shape %s does not broadcast to (%d, %d, %d, %d)"
                         % (tuple(attn_mask.shape), B, H, L, S))
    if m.shape[2] != L or m.shape[3] != S:  # broadcast query / key axes as zero-stride views
        m = m.expand(m.shape[0], m.shape[1], L, S)
    if m.requires_grad:
        m = m.detach()  # a constant of the call: no gradient flows into the mask
    return m


def _attend(q, k, v, cfg, enable_gqa):
    qp, kp, vp, tangents = _core.unpack_inputs(q, k, v, enable_gqa)
    if qp.numel() == 0 or kp.shape[2] == 0:
        return q * 0.0 if kp.shape[2] == 0 else torch.empty_like(q)  # no key: O = 0 (and its derivatives)
    if tangents is None:
        if not (torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad)):
            return _core.forward(q, k, v, cfg)[0]  # nothing to differentiate: skip autograd's bookkeeping
        o, _ = _Attention.apply(q, k, v, cfg)
        return o
    o, od, _ = _AttentionJvp.apply(qp, kp, vp, *tangents, cfg)
    return fwAD.make_dual(o, od)


def _offsets(cu, total, name):
    """Packed-sequence offsets as a tuple of ints (host copy; a CUDA tensor is read back once)."""
    if isinstance(cu, torch.Tensor):
        if cu.dim() != 1 or cu.dtype.is_floating_point or cu.dtype == torch.bool:
            raise TypeError("jfa: %s must be a 1-d integer tensor or sequence" % name)
        cu = cu.tolist()
    cu = tuple(int(x) for x in cu)
    if len(cu) < 2 or cu[0] != 0 or cu[-1] != total or any(b < a for a, b in zip(cu, cu[1:])):
        raise ValueError("jfa: %s must rise from 0 to %d (the packed length) without decreasing, got %s%s"
                         % (name, total, list(cu[:8]), "..." if len(cu) > 8 else ""))
    return cu


def varlen_attention(q, k, v, cu_seqlens_q, cu_seqlens_k=None, is_causal=False, scale=None, enable_gqa=False,
                     causal_alignment="top_left", window=None):
    """Attention over packed variable-length sequences (FlashAttention's varlen convention).

    q (total_q, Hq, E), k and v (total_k, Hkv, E): the tokens of several sequences back to
    back; sequence s owns query rows cu_seqlens_q[s]:cu_seqlens_q[s+1] and key rows
    cu_seqlens_k[s]:cu_seqlens_k[s+1] (cu_seqlens_k defaults to cu_seqlens_q) and attends
    only within itself; causal masks and windows apply inside each sequence. Offsets are
    int tensors or sequences (read on the host). Returns (total_q, Hq, E). Differentiable
    as jfa.torch.attention."""
    for n, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3:
            raise ValueError("jfa: varlen %s must be a 3-d (total, heads, dim) tensor" % n)
    if causal_alignment not in _ALIGN:
        raise ValueError("jfa: causal_alignment must be 'top_left' or 'bottom_right', got %r" % (causal_alignment,))
    cq = _offsets(cu_seqlens_q, q.shape[0], "cu_seqlens_q")
    ck = _offsets(cu_seqlens_k if cu_seqlens_k is not None else cu_seqlens_q, k.shape[0], "cu_seqlens_k")
    if len(cq) != len(ck):
        raise ValueError("jfa: cu_seqlens_q has %d sequences and cu_seqlens_k %d" % (len(cq) - 1, len(ck) - 1))
    cfg = _core.Config(scale, _ALIGN[causal_alignment] if is_causal else _lib.MASK_NONE, None, _window(window),
                       (cq, ck))
    view = lambda t: t.unsqueeze(0).transpose(1, 2)  # (1, H, total, E) over the same storage
    o = _attend(view(q), view(k), view(v), cfg, enable_gqa)
    return o.transpose(1, 2).squeeze(0)


def fwd_dual(q, k, v, attn_mask=None, dropout_p=0.0, causal=False, sm_scale=None, **_ignored):
    """The Triton JVP package's JVPAttn.fwd_dual: attention on (possibly dual) tensors."""
    return attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=causal, scale=sm_scale)


class JVPAttn:
    """Drop-in for the Triton package's JVPAttn entry points (fwd, fwd_dual).

    Their tuning arguments (warp_specialize, USE_TMA, verify_attn_mask) are accepted
    and ignored."""

    @staticmethod
    def fwd(q, k, v, attn_mask=None, dropout_p=0.0, causal=False, sm_scale=None, **_ignored):
        return attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p, is_causal=causal, scale=sm_scale)

    fwd_dual = staticmethod(fwd_dual)
