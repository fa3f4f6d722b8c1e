"""
_autograd.py - the autograd.Functions behind jfa.torch.attention.

_Attention      (q, k, v) -> o          reverse mode; forward mode through its jvp()
                                         (a fallback: recomputes with the fused kernel)
_AttentionJvp   (q, k, v, qd, kd, vd) -> (o, od)
                                         one fused call for the primal and the tangent;
                                         reverse mode through o (the sCM pattern)
_NoKeys         (q, k, v) -> zeros       L = 0 or S = 0 (or an empty batch): O = 0, and every
                                         gradient and tangent is an exact zero
make_attention_functions builds such a pair for any forward/backward (the ring's too).

attention() unpacks forward-AD dual tensors itself (plain forward AD and
torch.func.jvp alike), calls _AttentionJvp on primals and tangents, and attaches
od to o as its tangent with make_dual. On torch >= 2.0 the Functions use
setup_context, which torch.func transforms require; on older torch the classic
forward(ctx, ...) form.

Second-order terms (a gradient through the tangent output, a second backward of
the gradient, forward mode over the backward or over the fused JVP, vmap) are
refused in one place, second_order_unsupported(), never answered with zeros.
"""
import torch
import torch.autograd.forward_ad as fwAD
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from . import _core

_SETUP_CONTEXT = int(torch.__version__.split(".")[0]) >= 2
_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)


class SecondOrderError(NotImplementedError):
    """A second-order derivative through jfa attention was requested (not computed yet)."""


def second_order_unsupported(what):
    """The single place where jfa refuses a second-order derivative through attention.

    `what` names the request. Every path that would otherwise return a silent zero or None
    (a Hessian, an HVP, create_graph double backward, forward-over-reverse, a gradient into
    the JVP tangent, forward mode over the fused JVP) ends here."""
    raise SecondOrderError(
        "jfa: second-order derivatives through attention are not supported yet (%s). jfa computes "
        "first-order terms only: forward, JVP (the tangent) and backward of the primal. Detach the "
        "tangent before it enters the loss (as sCM/MeanFlow targets do), or use math attention "
        "(plain torch ops) for second-order terms." % what)


def _vmap_unsupported(*args, **kwargs):
    raise RuntimeError("jfa: torch.vmap over jfa attention is not supported (batch the inputs instead); "
                       "torch.func.jacrev / jacfwd / hessian use vmap: for second-order terms see "
                       "jfa.torch.SecondOrderError")


def _forward_ad_active():
    """Whether a forward-mode AD level (fwAD.dual_level, the outer level of torch.func.jvp) is open."""
    return getattr(fwAD, "_current_level", -1) >= 0


class _SecondOrderGuard(Function):
    """Passes a backward's results through unchanged (under create_graph=True) and refuses to be
    differentiated: a second backward or a tangent through it reaches second_order_unsupported."""

    @staticmethod
    def forward(ctx, holder, *inputs):
        ctx.n_inputs = len(inputs)
        return tuple(holder)

    @staticmethod
    def backward(ctx, *grads):
        if all(g is None for g in grads):
            return (None,) * (1 + ctx.n_inputs)
        second_order_unsupported("a backward through attention's gradient: create_graph=True double "
                                 "backward, torch.autograd.functional.hessian / hvp / vhp, a gradient penalty")

    @staticmethod
    def jvp(ctx, *tangents):
        second_order_unsupported("a forward-mode tangent of attention's gradient (forward-over-reverse)")


def _first_order(backward, guard=True):
    """Wraps a Function's backward so that second-order use raises instead of returning zeros.

    Without create_graph the backward runs as is. With create_graph=True (grad mode on inside
    the backward): a forward-AD level open at the same time is forward-over-reverse (raise
    now: the gradient would carry no tangent); otherwise the results are passed through
    _SecondOrderGuard, so that differentiating them again raises while first-order use of them
    works. Under torch.func transforms (torch.func.grad always builds the graph) the first-order
    result is returned as once_differentiable would."""
    once = once_differentiable(backward)

    def wrapped(ctx, *grads):
        if not guard or not torch.is_grad_enabled():
            return backward(ctx, *grads)
        if _forward_ad_active():
            second_order_unsupported("forward-over-reverse: a forward-mode tangent through the backward "
                                     "(torch.autograd.grad(create_graph=True) inside a dual level, or "
                                     "torch.func.jvp of torch.func.grad)")
        if _functorch_active():
            return once(ctx, *grads)
        inputs = [t for t in tuple(ctx.saved_tensors) + grads if isinstance(t, torch.Tensor)]
        with torch.no_grad():
            out = backward(ctx, *grads)
        if not any(t.requires_grad for t in inputs):
            return out
        tensors = [t for t in out if t is not None]
        guarded = iter(_SecondOrderGuard.apply(tensors, *inputs))
        return tuple(None if t is None else next(guarded) for t in out)

    return wrapped


def _make_function(name, forward, setup_context, backward, jvp, guard=True):
    """An autograd.Function class in the style the installed torch needs."""
    if _SETUP_CONTEXT:
        body = {"forward": staticmethod(forward), "setup_context": staticmethod(setup_context)}
    else:
        def classic_forward(ctx, *args):
            out = forward(*args)
            setup_context(ctx, args, out)
            return out
        body = {"forward": staticmethod(classic_forward)}
    body["backward"] = staticmethod(_first_order(backward, guard))
    body["jvp"] = staticmethod(jvp)
    body["vmap"] = staticmethod(_vmap_unsupported)  # torch >= 2.0 calls it under torch.vmap
    return type(name, (Function,), body)


def make_attention_functions(name, forward, backward):
    """The pair of Functions of one attention kind (single device, ring).

    forward(q, k, v, qd, kd, vd, op) -> (o, lse, od): one fused call (od None without tangents);
    backward(q, k, v, o, lse, do, op) -> (dq, dk, dv). `op` is what the call needs besides
    tensors (a Config, a ring); it is passed through untouched.

    Returns (Plain, Jvp): Plain(q, k, v, op) -> (o, lse), reverse mode, and forward mode through
    its jvp() (a fallback that recomputes the primal in the fused call); Jvp(q, k, v, qd, kd, vd,
    op) -> (o, od, lse), one fused call, reverse mode through o; a gradient reaching od raises."""

    def plain_forward(q, k, v, op):
        o, lse, _ = forward(q, k, v, None, None, None, op)
        return o, lse

    def plain_setup(ctx, inputs, output):
        q, k, v, op = inputs
        ctx.op = op
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(q, k, v, *output)
        ctx.save_for_forward(q, k, v)

    def plain_backward(ctx, do, dlse):
        if do is None:
            return None, None, None, None
        return tuple(backward(*ctx.saved_tensors, do, ctx.op)) + (None,)

    def plain_jvp(ctx, gq, gk, gv, gop):
        # reached only when the caller could not unpack the tangents itself
        q, k, v = ctx.saved_tensors[:3]  # in jvp(), the tensors of save_for_forward
        t = [torch.zeros_like(x) if g is None else g for x, g in ((q, gq), (k, gk), (v, gv))]
        return forward(q, k, v, *t, ctx.op)[2], None

    def jvp_forward(q, k, v, qd, kd, vd, op):
        o, lse, od = forward(q, k, v, qd, kd, vd, op)
        return o, od, lse

    def jvp_setup(ctx, inputs, output):
        o, od, lse = output
        ctx.op = inputs[6]
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(lse)
        ctx.save_for_backward(*inputs[:3], o, lse)

    def jvp_backward(ctx, do, dod, dlse):
        if dod is not None:
            second_order_unsupported("a gradient reached the JVP tangent output of attention (backward "
                                     "through the tangent)")
        if do is None:
            return (None,) * 7
        return tuple(backward(*ctx.saved_tensors, do, ctx.op)) + (None,) * 4

    def jvp_jvp(ctx, *tangents):
        second_order_unsupported("forward mode over the fused JVP (a second forward-mode level over attention)")

    return (_make_function(name, plain_forward, plain_setup, plain_backward, plain_jvp),
            _make_function(name + "Jvp", jvp_forward, jvp_setup, jvp_backward, jvp_jvp))


def _forward(q, k, v, qd, kd, vd, cfg):
    o, lse, od, _ = _core.forward(q, k, v, cfg, qd, kd, vd)
    return o, lse, od


def _backward(q, k, v, o, lse, do, cfg):
    return _core.backward(q, k, v, o, lse, do, cfg)


_Attention, _AttentionJvp = make_attention_functions("_Attention", _forward, _backward)


# ---- no query or no key: O = 0 exactly, with zero gradients and tangents ----------------------

def _nokeys_forward(q, k, v):
    return q.new_zeros(q.shape[:-1] + (v.shape[-1],))


def _nokeys_setup(ctx, inputs, output):
    ctx.shapes = tuple((x.shape, x.dtype, x.device) for x in inputs)


def _nokeys_backward(ctx, do):
    return tuple(torch.zeros(s, dtype=d, device=dev) for s, d, dev in ctx.shapes)


def _nokeys_jvp(ctx, gq, gk, gv):
    s, d, dev = ctx.shapes[0]
    return torch.zeros(s[:-1] + (ctx.shapes[2][0][-1],), dtype=d, device=dev)


# A constant zero: its second-order terms are exact zeros too, so no guard
_NoKeys = _make_function("_NoKeys", _nokeys_forward, _nokeys_setup, _nokeys_backward, _nokeys_jvp, guard=False)
