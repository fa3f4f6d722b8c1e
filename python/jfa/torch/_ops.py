"""
_ops.py - jfa attention as PyTorch custom operators, so that torch.compile traces a call
as single graph nodes (no graph break; the ctypes call runs inside the operators' real
implementations, which dynamo never looks into).

Registered where the running torch has torch.library.custom_op (torch >= 2.4; found by
feature, not by version), in the `jfa` namespace:

    jfa::attention_fwd      (q, k, v, <opts>, layout)              -> (o, lse)
    jfa::attention_fwd_jvp  (q, k, v, qd, kd, vd, <opts>)          -> (o, lse, od, mu)
    jfa::attention_bwd      (q, k, v, o, lse, do, <opts>)          -> (dq, dk, dv)
    jfa::attention_bwd_jvp  (q, k, v, qd, kd, vd, o, lse, od, mu, do, dod, <opts>, first_order)
                                                                   -> (dqd, dkd, dvd, dq, dk, dv)
    <opts> = attn_mask (Tensor?), cu_seqlens_q, cu_seqlens_k (integer Tensor?, read
             on the host inside the operator), scale (float?,
             None = 1/sqrt(E)), mask (causal mode), window_left, window_right

each with a fake implementation giving the real one's shapes, dtypes and strides (outputs laid out
by the operator's arguments alone, whatever the inputs' strides, so that a compiler passing
differently laid out inputs cannot make the real layout differ from the traced one: contiguous,
but attention_fwd's o, which its static `layout` lays out as the eager path's output would be,
0 contiguous, 1 (B, S, H, D) memory, chosen where the call is traced by out_layout: a
(B, S, H, D) tensor's transposed view or varlen's tokens, whose o the caller may .view), no
input mutated, and
attention_fwd's reverse-mode formula (register_autograd: the backward calls
attention_bwd). The other three have no autograd formula: attention_bwd_jvp's last three
outputs are empty (0,) tensors without first_order. Each has a vmap rule where the running
torch has register_vmap (torch.vmap inside a compiled function; _vmap.py folds the vmapped
dim into the batch dim).

jfa.torch.attention / varlen_attention take this path only while torch.compile traces them
(torch.compiler.is_compiling()); eager calls (CUDA-graph capture included) keep the
autograd.Function path of _autograd.py. Forward-mode AD (a forward-AD level open while
tracing: dual tensors, torch.func.jvp) has no custom-op formula in PyTorch, so there the
call runs the eager path in a torch.compiler.disable'd function: one graph break per call.
"""
from typing import Optional, Tuple

import torch

from . import _api, _core  # _api imports this module first; its names are read at call time

_library = getattr(torch, "library", None)
_compiler = getattr(torch, "compiler", None)
_is_compiling = getattr(_compiler, "is_compiling", None)
_disable = getattr(_compiler, "disable", None)

# why the custom operators are not in use (None when they are)
UNAVAILABLE_REASON = None
if not (hasattr(_library, "custom_op") and hasattr(_library, "register_fake") and _is_compiling is not None
        and _disable is not None):
    UNAVAILABLE_REASON = ("torch %s has no torch.library.custom_op / torch.compiler (torch >= 2.4 has them): "
                          "jfa attention is not a custom operator here" % torch.__version__)
AVAILABLE = False
# why torch.vmap of the operators (inside a compiled function) is not available (None when it is)
VMAP_UNAVAILABLE_REASON = "jfa's custom operators are not registered"

Tensor = torch.Tensor
_CONTIG = torch.contiguous_format


def _like(t):
    """An output shaped as t, contiguous (real and fake implementations alike)."""
    return torch.empty_like(t, memory_format=_CONTIG)


def out_layout(q):
    """attention_fwd's `layout` for a traced 4-d q: 1 where q is a (B, S, H, D) tensor seen as (B, H, S, D) (the
    eager path's output, torch.empty_like(q), keeps that memory order), else 0 (contiguous)."""
    return 1 if not q.is_contiguous() and q.transpose(1, 2).is_contiguous() else 0


def _fmt(layout):
    """The _core.empty_like format of attention_fwd's o for its `layout`."""
    return _core.BSHD if layout == 1 else _CONTIG


def _config(q, k, attn_mask, cu_q, cu_k, scale, mask, wl, wr):
    """The _core.Config of an operator call (validated; without a dense mask from the eager calls' caches:
    _api._config, _api._varlen_config)."""
    if cu_q is None and cu_k is not None:  # (was ignored: attention over the unpacked sequence)
        raise ValueError("jfa: cu_seqlens_k without cu_seqlens_q (packed sequences need the query offsets)")
    if attn_mask is None and cu_q is None:
        return _api._config(scale, mask, (wl, wr))
    cu = None
    if cu_q is not None:
        cu = _api._seqlens(cu_q, cu_k, q, q.shape[2], k.shape[2])  # host ints; device tensors in a CUDA graph capture
        if attn_mask is None:
            return _api._varlen_config(scale, mask, (wl, wr), *cu)  # cached for host offsets, as the eager call's
    return _core.Config(scale, mask, attn_mask, (wl, wr), cu)


def _empty0(q):
    return q.new_empty((0,))


def _register():
    """Defines the four operators (once per process)."""
    custom_op = torch.library.custom_op

    @custom_op("jfa::attention_fwd", mutates_args=())
    def attention_fwd(q: Tensor, k: Tensor, v: Tensor, attn_mask: Optional[Tensor], cu_seqlens_q: Optional[Tensor],
                      cu_seqlens_k: Optional[Tensor], scale: Optional[float], mask: int, window_left: int,
                      window_right: int, layout: int) -> Tuple[Tensor, Tensor]:
        cfg = _config(q, k, attn_mask, cu_seqlens_q, cu_seqlens_k, scale, mask, window_left, window_right)
        o, lse, _, _ = _core.forward(q, k, v, cfg, fmt=_fmt(layout))
        return o, lse

    @attention_fwd.register_fake
    def _fwd_fake(q, k, v, attn_mask, cu_seqlens_q, cu_seqlens_k, scale, mask, window_left, window_right, layout):
        return _core.empty_like(q, _fmt(layout)), _core.new_stat(q)

    @custom_op("jfa::attention_fwd_jvp", mutates_args=())
    def attention_fwd_jvp(q: Tensor, k: Tensor, v: Tensor, qd: Tensor, kd: Tensor, vd: Tensor,
                          attn_mask: Optional[Tensor], cu_seqlens_q: Optional[Tensor],
                          cu_seqlens_k: Optional[Tensor], scale: Optional[float], mask: int, window_left: int,
                          window_right: int) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
        cfg = _config(q, k, attn_mask, cu_seqlens_q, cu_seqlens_k, scale, mask, window_left, window_right)
        return _core.forward(q, k, v, cfg, qd, kd, vd, fmt=_CONTIG)

    @attention_fwd_jvp.register_fake
    def _fwd_jvp_fake(q, k, v, qd, kd, vd, attn_mask, cu_seqlens_q, cu_seqlens_k, scale, mask, window_left,
                      window_right):
        return _like(q), _core.new_stat(q), _like(q), _core.new_stat(q)

    @custom_op("jfa::attention_bwd", mutates_args=())
    def attention_bwd(q: Tensor, k: Tensor, v: Tensor, o: Tensor, lse: Tensor, grad_out: Tensor,
                      attn_mask: Optional[Tensor], cu_seqlens_q: Optional[Tensor], cu_seqlens_k: Optional[Tensor],
                      scale: Optional[float], mask: int, window_left: int,
                      window_right: int) -> Tuple[Tensor, Tensor, Tensor]:
        cfg = _config(q, k, attn_mask, cu_seqlens_q, cu_seqlens_k, scale, mask, window_left, window_right)
        return tuple(_core.backward(q, k, v, o, lse, grad_out, cfg, fmt=_CONTIG))

    @attention_bwd.register_fake
    def _bwd_fake(q, k, v, o, lse, grad_out, attn_mask, cu_seqlens_q, cu_seqlens_k, scale, mask, window_left,
                  window_right):
        return _like(q), _like(k), _like(v)

    @custom_op("jfa::attention_bwd_jvp", mutates_args=())
    def attention_bwd_jvp(q: Tensor, k: Tensor, v: Tensor, qd: Tensor, kd: Tensor, vd: Tensor, o: Tensor,
                          lse: Tensor, od: Tensor, mu: Tensor, grad_out: Tensor, grad_tangent: Tensor,
                          attn_mask: Optional[Tensor], cu_seqlens_q: Optional[Tensor],
                          cu_seqlens_k: Optional[Tensor], scale: Optional[float], mask: int, window_left: int,
                          window_right: int, first_order: bool) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor,
                                                                         Tensor]:
        from ._second_order import backward_jvp
        cfg = _config(q, k, attn_mask, cu_seqlens_q, cu_seqlens_k, scale, mask, window_left, window_right)
        outs = backward_jvp(q, k, v, qd, kd, vd, o, lse, od, mu, grad_out, grad_tangent, cfg, first_order,
                            fmt=_CONTIG)
        if not first_order:
            outs = tuple(outs) + (_empty0(q), _empty0(q), _empty0(q))
        return tuple(outs)

    @attention_bwd_jvp.register_fake
    def _bwd_jvp_fake(q, k, v, qd, kd, vd, o, lse, od, mu, grad_out, grad_tangent, attn_mask, cu_seqlens_q,
                      cu_seqlens_k, scale, mask, window_left, window_right, first_order):
        outs = (_like(q), _like(k), _like(v))
        if first_order:
            return outs + (_like(q), _like(k), _like(v))
        return outs + (_empty0(q), _empty0(q), _empty0(q))

    def fwd_setup(ctx, inputs, output):
        q, k, v, attn_mask, cu_q, cu_k = inputs[:6]
        ctx.opts = tuple(inputs[6:10])  # scale, mask, window_left, window_right (not the layout)
        ctx.save_for_backward(q, k, v, output[0], output[1], attn_mask, cu_q, cu_k)

    def fwd_backward(ctx, do, dlse):
        # lse is a statistic jfa.torch never hands to the caller: its cotangent is ignored
        q, k, v, o, lse, attn_mask, cu_q, cu_k = ctx.saved_tensors
        if do is None:
            do = torch.zeros_like(o)
        dq, dk, dv = torch.ops.jfa.attention_bwd.default(q, k, v, o, lse, do, attn_mask, cu_q, cu_k, *ctx.opts)
        return dq, dk, dv, None, None, None, None, None, None, None, None

    attention_fwd.register_autograd(fwd_backward, setup_context=fwd_setup)

    global VMAP_UNAVAILABLE_REASON
    try:  # torch.vmap inside a compiled function; without it the operators still serve torch.compile
        for op, n in ((attention_fwd, 3), (attention_fwd_jvp, 6), (attention_bwd, 6), (attention_bwd_jvp, 12)):
            op.register_vmap(_vmap_rule(op, n))
        VMAP_UNAVAILABLE_REASON = None
    except Exception as e:  # e.g. a torch without CustomOpDef.register_vmap
        VMAP_UNAVAILABLE_REASON = "registering the operators' vmap rules failed: %s: %s" % (type(e).__name__, e)


def _vmap_rule(op, n):
    """The vmap rule of an operator whose first n arguments are batch-leading tensors, followed by
    attn_mask, cu_seqlens_q, cu_seqlens_k and options: the vmapped dim folded into the batch dim
    (packed sequences: into the token axis, the offsets repeated), one call, the outputs split back
    (_vmap.py, as the autograd.Functions' rules). Empty (0,) outputs (attention_bwd_jvp without
    first_order) have no vmapped dim."""
    from . import _vmap

    def rule(info, in_dims, *args):
        if in_dims[n + 1] is not None or in_dims[n + 2] is not None:
            raise RuntimeError("jfa: torch.vmap over packed-sequence offsets (cu_seqlens) is not supported")
        V, cu_q, cu_k = info.batch_size, args[n + 1], args[n + 2]
        first = next(i for i in range(n) if args[i] is not None)
        f = _vmap.Folder(V, args[first], in_dims[first], varlen=cu_q is not None)
        folded = [f.fold(args[i], in_dims[i]) for i in range(n)] + [f.fold_mask(args[n], in_dims[n])]
        folded += [None if c is None else _vmap.repeat_offsets_tensor(c, V) for c in (cu_q, cu_k)]
        outs = op(*folded, *args[n + 3:])
        outs = tuple(t if t.dim() == 1 else f.unfold(t) for t in outs)
        return outs, tuple(None if t.dim() == 1 else 0 for t in outs)
    return rule


if UNAVAILABLE_REASON is None:
    try:
        _register()
        AVAILABLE = True
    except Exception as e:  # e.g. the namespace already taken in this process: keep the eager path
        UNAVAILABLE_REASON = "registering jfa's custom operators failed: %s: %s" % (type(e).__name__, e)


def compiling():
    """Whether torch.compile (dynamo) is tracing the caller and the custom operators exist."""
    return AVAILABLE and _is_compiling()


# Whether a forward-AD level is open (dual tensors, torch.func.jvp): the eager path's business. Under
# dynamo the read of torch.autograd.forward_ad._current_level (an int reached through a module global) is
# specialised with an EQUALS_MATCH guard (builder.py wrap_literal: integers from globals are specialised),
# so a function compiled with no level open is traced again when called inside one (and takes the eager
# path), rather than running its custom-op graph, which would drop the tangent. Keep it a plain read of that
# attribute: a cached flag or a C call would carry no such guard (test_compile's
# test_compiled_outside_called_inside_forward_ad).
forward_ad_open = _core.forward_ad_open


def eager(fn):
    """fn as a function dynamo does not trace (a graph break where it is called), run eagerly."""
    return _disable(fn) if AVAILABLE else fn


def check_scale(scale):
    """scale as the operators take it: None (1/sqrt(E)) or a finite float."""
    return None if scale is None else _core.check_scale(scale)[0]  # the rule of _core.Config


def attend(q, k, v, attn_mask, cu_q, cu_k, scale, mode, window, enable_gqa):
    """o of 4-d q, k, v through jfa::attention_fwd (differentiable in reverse mode)."""
    _core.check_inputs((q, k, v), ("query", "key", "value"), enable_gqa)
    o, _ = torch.ops.jfa.attention_fwd.default(q, k, v, attn_mask, cu_q, cu_k, scale, mode, window[0], window[1],
                                               out_layout(q))
    return o
