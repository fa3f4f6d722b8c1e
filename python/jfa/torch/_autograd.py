"""
_autograd.py - the autograd.Functions behind jfa.torch.attention.

_Attention      (q, k, v) -> o          reverse mode; forward mode through its jvp()
                                         (a fallback: recomputes with the fused kernel)
_AttentionJvp   (q, k, v, qd, kd, vd) -> (o, od)
                                         one fused call for the primal and the tangent;
                                         reverse mode through o (the sCM pattern); a
                                         gradient arriving at od raises (not supported)

attention() unpacks forward-AD dual tensors itself (plain forward AD and
torch.func.jvp alike), calls _AttentionJvp on primals and tangents, and attaches
od to o as its tangent with make_dual. On torch >= 2.0 the Functions use
setup_context, which torch.func transforms require; on older torch the classic
forward(ctx, ...) form.
"""
import torch
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from . import _core

_SETUP_CONTEXT = int(torch.__version__.split(".")[0]) >= 2

TANGENT_GRAD_ERROR = (
    "jfa: a gradient reached the JVP tangent output of attention (backward through the tangent, "
    "i.e. second-order terms), which jfa does not compute. Detach the tangent before it enters "
    "the loss (as sCM/MeanFlow targets do), or use the math attention for second-order terms.")


def _make_function(name, forward, setup_context, backward, jvp):
    """An autograd.Function class in the style the installed torch needs."""
    if _SETUP_CONTEXT:
        body = {"forward": staticmethod(forward), "setup_context": staticmethod(setup_context)}
    else:
        def classic_forward(ctx, *args):
            out = forward(*args)
            setup_context(ctx, args, out)
            return out
        body = {"forward": staticmethod(classic_forward)}
    # once_differentiable: a double backward (create_graph=True, then backward again)
    # raises instead of silently dropping the second-order terms
    body["backward"] = staticmethod(once_differentiable(backward))
    body["jvp"] = staticmethod(jvp)
    return type(name, (Function,), body)


# ---- _Attention: forward only --------------------------------------------------------

def _attn_forward(q, k, v, cfg):
    o, lse, _, _ = _core.forward(q, k, v, cfg)
    return o, lse


def _attn_setup(ctx, inputs, output):
    q, k, v, cfg = inputs
    o, lse = output
    ctx.cfg = cfg
    ctx.mark_non_differentiable(lse)
    ctx.save_for_backward(q, k, v, o, lse)
    ctx.save_for_forward(q, k, v)


def _attn_backward(ctx, do, dlse):
    q, k, v, o, lse = ctx.saved_tensors
    if do is None:
        return None, None, None, None
    dq, dk, dv = _core.backward(q, k, v, o, lse, do, ctx.cfg)
    return dq, dk, dv, None


def _attn_jvp(ctx, gq, gk, gv, gcfg):
    # Reached only when attention() could not unpack the tangents itself; correct,
    # but it recomputes the primal inside the fused call.
    q, k, v = ctx.saved_tensors[:3]  # in jvp(), the tensors of save_for_forward
    gq = torch.zeros_like(q) if gq is None else gq
    gk = torch.zeros_like(k) if gk is None else gk
    gv = torch.zeros_like(v) if gv is None else gv
    _, _, od, _ = _core.forward(q, k, v, ctx.cfg, gq, gk, gv)
    return od, None


_Attention = _make_function("_Attention", _attn_forward, _attn_setup, _attn_backward, _attn_jvp)


# ---- _AttentionJvp: fused primal and tangent -----------------------------------------

def _jvp_forward(q, k, v, qd, kd, vd, cfg):
    o, lse, od, _ = _core.forward(q, k, v, cfg, qd, kd, vd)
    return o, od, lse


def _jvp_setup(ctx, inputs, output):
    q, k, v = inputs[:3]
    o, od, lse = output
    ctx.cfg = inputs[6]
    ctx.set_materialize_grads(False)
    ctx.mark_non_differentiable(lse)
    ctx.save_for_backward(q, k, v, o, lse)


def _jvp_backward(ctx, do, dod, dlse):
    if dod is not None:
        raise RuntimeError(TANGENT_GRAD_ERROR)
    if do is None:
        return (None,) * 7
    q, k, v, o, lse = ctx.saved_tensors
    dq, dk, dv = _core.backward(q, k, v, o, lse, do, ctx.cfg)
    return dq, dk, dv, None, None, None, None


def _jvp_jvp(ctx, *tangents):
    raise RuntimeError("jfa: forward-mode AD of the fused JVP (a second forward-mode level over attention) "
                       "is not supported")


_AttentionJvp = _make_function("_AttentionJvp", _jvp_forward, _jvp_setup, _jvp_backward, _jvp_jvp)
