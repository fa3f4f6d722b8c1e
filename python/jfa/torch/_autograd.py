"""
_autograd.py - the autograd.Functions behind jfa.torch.attention.

_Attention      (q, k, v, mask, op) -> (o, lse)
                                         reverse mode; forward mode through its jvp()
                                         (a fallback: recomputes with the fused kernel, and
                                         keeps od and mu for the second-order jvp rule)
_AttentionJvp   (q, k, v, qd, kd, vd, mask, op, level) -> (o, od, lse)
                                         one fused call for the primal and the tangent;
                                         reverse mode through o (the sCM pattern) and od
_NoKeys         (q, k, v) -> zeros       L = 0 or S = 0 (or an empty batch): O = 0, and every
                                         gradient and tangent is an exact zero
make_attention_functions builds such a pair for any forward/backward (the ring's too).
Second order (double backward, forward-over-reverse, gradients through od) comes from
_second_order.py, which the backward hands over to.

attention() unpacks forward-AD dual tensors itself (plain forward AD and
torch.func.jvp alike), calls _AttentionJvp on primals and tangents, and attaches
od to o as its tangent with make_dual. On torch >= 2.0 the Functions use
setup_context, which torch.func transforms require; on older torch the classic
forward(ctx, ...) form. The dense mask is an argument of its own (not only a field of the
Config), so that torch.vmap sees whether it is batched: every Function has a vmap rule
(_vmap.py) that folds the vmapped dim into the batch dim (torch.func.vmap, jacrev, jacfwd,
hessian); the ring's refuses with a jfa error.
"""
import torch

from . import _core, _function, _second_order, _vmap


TANGENT_GRAD_ERROR = (
    "jfa: a gradient reached the JVP tangent output of attention (backward through the tangent, "
    "i.e. second-order terms), which jfa does not compute. Detach the tangent before it enters "
    "the loss (as sCM/MeanFlow targets do), or use the math attention for second-order terms.")


def make_attention_functions(name, forward, backward, second_order=None):
    """The pair of Functions of one attention kind (single device, ring).

    forward(q, k, v, qd, kd, vd, op) -> (o, lse, od): one fused call (od None without tangents);
    backward(q, k, v, o, lse, do, op) -> (dq, dk, dv). `op` is what the call needs besides
    tensors (a Config, a ring); it is passed through untouched.

    Returns (Plain, Jvp): Plain(q, k, v, mask, op) -> (o, lse), reverse mode, and forward mode
    through its jvp() (a fallback that recomputes the primal in the fused call); Jvp(q, k, v, qd,
    kd, vd, mask, op, level) -> (o, od, lse), one fused call, reverse mode through o and od. mask: the
    dense mask (a constant; None without one), read in place of op's; level: _core.level_token() where
    the tangents were unpacked (made outside the Function: its forward sees no forward-AD level). second_order: the calls of
    _second_order (e.g. _second_order.SINGLE_DEVICE), or None: second order then raises.

    Where second_order.reuse_jvp_stats (single device), Plain's jvp() makes its fused call with
    mu and keeps (tangents, od, mu) as a _second_order.JvpStats for the backward's ctx, whose
    second-order jvp rule then skips its own fused call along the same tangent (never in Jvp's
    path: the training path holds no extra tensor until the backward)."""
    reuse = second_order is not None and getattr(second_order, "reuse_jvp_stats", False)

    def plain_forward(q, k, v, mask, op):
        o, lse, _ = forward(q, k, v, None, None, None, _vmap.with_mask(op, mask))
        return o, lse

    def plain_setup(ctx, inputs, output):
        q, k, v, mask, op = inputs
        ctx.op = op
        if reuse:  # plain_jvp's JvpStats of this call, handed over from the jvp level under torch.func
            stats = _second_order.take_jvp_stats((q, k, v), op, mask)
            if stats is not None:
                ctx.jvp_stats = stats
        ctx.set_materialize_grads(False)  # no zeros made (a fill on the GPU) for lse's grad, which is unused
        ctx.mark_non_differentiable(output[1])
        ctx.save_for_backward(q, k, v, *output, mask)
        ctx.save_for_forward(q, k, v, mask)

    def plain_backward(ctx, do, dlse):
        if do is None:
            return None, None, None, None, None
        saved = ctx.saved_tensors
        return tuple(_second_order.backward(backward, second_order, saved[:5], do, ctx.op, saved[5],
                                            jvp_stats=getattr(ctx, "jvp_stats", None))) + (None, None)

    def plain_jvp(ctx, gq, gk, gv, gmask, gop):
        # reached only when the caller could not unpack the tangents itself
        q, k, v, mask = ctx.saved_tensors  # in jvp(), the tensors of save_for_forward
        t = [torch.zeros_like(x) if g is None else g for x, g in ((q, gq), (k, gk), (v, gv))]
        if _vmap.any_batched(t + [q, k, v, mask]):  # through the fused Function's vmap rule
            return jvp_fn.apply(q, k, v, *t, mask, ctx.op, _core.level_token())[1], None
        if not reuse:
            return forward(q, k, v, *t, _vmap.with_mask(ctx.op, mask))[2], None
        # the fused call with mu too (one float per row): (od, mu) along t serve the hess of the
        # same call along the same tangent (forward-over-reverse: torch.func.jvp(torch.func.grad(f)))
        _, _, od, mu = second_order.forward_jvp(q, k, v, *t, _vmap.with_mask(ctx.op, mask))
        stats = _second_order.make_jvp_stats((q, k, v), (gq, gk, gv), ctx.op, mask, od, mu)
        if stats is not None:
            ctx.jvp_stats = stats  # the backward's ctx where it is this one (plain forward AD)
            if _core._functorch_active():
                _second_order.offer_jvp_stats(stats)  # else the next level's ctx (see _second_order)
        return od, None

    def jvp_forward(q, k, v, qd, kd, vd, mask, op, level):
        o, lse, od = forward(q, k, v, qd, kd, vd, _vmap.with_mask(op, mask))
        return o, od, lse

    def jvp_setup(ctx, inputs, output):
        o, od, lse = output
        ctx.op = inputs[7]
        ctx.level = inputs[8]  # the forward-AD level whose tangents qd, kd, vd are (a _core.level_token)
        ctx.set_materialize_grads(False)
        ctx.mark_non_differentiable(lse)
        ctx.save_for_backward(*inputs[:6], o, lse, inputs[6])

    def jvp_backward(ctx, do, dod, dlse):
        saved = ctx.saved_tensors
        return tuple(_second_order.jvp_backward(backward, second_order, saved[:8], do, dod, ctx.op, saved[8],
                                                TANGENT_GRAD_ERROR, ctx.level)) + (None, None, None)

    def jvp_jvp(ctx, *tangents):
        raise RuntimeError("jfa: forward-mode AD of the fused JVP (a second forward-mode level over attention) "
                           "is not supported")

    plain_fn = _function.make_function(name, plain_forward, plain_setup, plain_backward, plain_jvp,
                                       _vmap.rule(lambda: plain_fn, ("x", "x", "x", "m", "o")))
    jvp_fn = _function.make_function(name + "Jvp", jvp_forward, jvp_setup, jvp_backward, jvp_jvp,
                                     _vmap.rule(lambda: jvp_fn, ("x",) * 6 + ("m", "o", "-")))
    return plain_fn, jvp_fn


def _forward(q, k, v, qd, kd, vd, cfg):
    o, lse, od, _ = _core.forward(q, k, v, cfg, qd, kd, vd, mu_out=False)  # mu: nothing reads it here
    return o, lse, od


def _backward(q, k, v, o, lse, do, cfg):
    return _core.backward(q, k, v, o, lse, do, cfg)


_Attention, _AttentionJvp = make_attention_functions("_Attention", _forward, _backward, _second_order.SINGLE_DEVICE)


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


# a constant zero: its derivatives of every order are exact zeros
_NoKeys = _function.make_function("_NoKeys", _nokeys_forward, _nokeys_setup, _nokeys_backward, _nokeys_jvp,
                                  _vmap.rule(lambda: _NoKeys, ("x", "x", "x")))
