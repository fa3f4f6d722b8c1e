"""
_function.py - autograd.Function classes built in the style the installed torch needs: torch >= 2
separates forward and setup_context (which torch.func requires), torch 1.13 takes the classic
forward(ctx, ...). torch >= 2.0 calls a Function's vmap staticmethod under torch.vmap: the rules
of _vmap.py where a Function has one, else a jfa error. PyTorch's older vmap (the one behind
torch.autograd.grad(is_grads_batched=True) and torch.autograd.functional's vectorize=True) has no such
hook: a backward that receives its batched cotangents runs once per batch entry (legacy_vmap_loop),
and a fused JVP whose tangents it batched (forward-mode jacobians) once per entry (legacy_jvp).
"""
import torch
from torch.autograd import Function

SETUP_CONTEXT = int(torch.__version__.split(".")[0]) >= 2


def vmap_unsupported(*args, **kwargs):
    raise RuntimeError("jfa: torch.vmap over this jfa call is not supported (batch the inputs instead; "
                       "torch.func.jacrev / jacfwd / hessian use vmap)")


def _batched_key():
    try:
        return torch._C._dispatch_key_parse("Batched")  # the older vmap's key (not FuncTorchBatched)
    except (AttributeError, RuntimeError):
        return None


_BATCHED_KEY = _batched_key()


def legacy_batched(t):
    """Whether t is a batched tensor of PyTorch's older vmap (torch._vmap_internals): it has no
    storage that a jfa kernel could read."""
    return _BATCHED_KEY is not None and isinstance(t, torch.Tensor) and \
        torch._C._dispatch_keys(t).has(_BATCHED_KEY)


def _legacy_level():
    """The innermost nesting level of the older vmap (0 outside it)."""
    level = torch._C._vmapmode_increment_nesting()
    torch._C._vmapmode_decrement_nesting()
    return level - 1


def _legacy_unbatch(tensors, level, nested):
    """(the tensors' physical forms at the older vmap's `level`, None where one is not batched there;
    the batch size). A tensor batched at an outer level too, or sizes that differ, raise `nested`."""
    phys, size = [], None
    for t in tensors:
        if not legacy_batched(t):
            phys.append(None)
            continue
        p = torch._remove_batch_dim(t, level, 1, 0)
        if legacy_batched(p) or (size is not None and p.shape[0] != size):
            raise RuntimeError(nested)
        size = p.shape[0]
        phys.append(p)
    return phys, size


def legacy_vmap_loop(fn, ctx, grads):
    """fn(ctx, *grads) where some grads are batched by the older vmap at its innermost level: the
    batch entries one at a time, the results stacked and batched again at that level. A tensor
    batched at an outer level too (nested is_grads_batched calls) raises a jfa error."""
    level = _legacy_level()
    phys, size = _legacy_unbatch(grads, level, "jfa: nested torch.autograd.grad(is_grads_batched=True) / "
                                 "vectorize=True over a jfa call is not supported (use torch.func.jacrev / hessian, "
                                 "or vectorize=False)")
    outs = [fn(ctx, *(g if p is None else p[i] for g, p in zip(grads, phys))) for i in range(size)]
    result = []
    for j, first in enumerate(outs[0]):
        if not isinstance(first, torch.Tensor):
            result.append(first)
            continue
        col = [o[j] if o[j] is not None else torch.zeros_like(first) for o in outs]
        result.append(torch._add_batch_dim(torch.stack(col), 0, level))
    return tuple(result)


LEGACY_FORWARD_GRAD_ERROR = (
    "jfa: forward-mode tangents batched by PyTorch's older vmap (torch.autograd.functional's forward-mode "
    "strategies with vectorize=True) on inputs that require grad (a forward-over-reverse Hessian, "
    "outer_jacobian_strategy='forward-mode') are not supported: use torch.func.hessian / jacfwd, or "
    "torch.autograd.functional.hessian's default reverse-over-reverse strategy")


def legacy_jvp(primals, tangents, jvp):
    """(o, od) of jvp(*primals, *t) -> (o, od) where some tangents are batched by PyTorch's older vmap at
    its innermost level (torch.autograd.functional.jacobian(strategy='forward-mode', vectorize=True)):
    one fused call per batch entry, od stacked and batched again at that level, o from the first
    call (every call computes the same primal). Inputs that require grad (a backward could follow,
    which would see one entry's tangents only) and tangents batched at an outer level too raise."""
    if torch.is_grad_enabled() and any(p.requires_grad for p in primals):
        raise RuntimeError(LEGACY_FORWARD_GRAD_ERROR)
    level = _legacy_level()
    phys, size = _legacy_unbatch(tangents, level, "jfa: nested vectorized forward-mode jacobians over a jfa call "
                                 "are not supported (use torch.func.jacfwd)")
    o, ods = None, []
    for i in range(size):
        oi, odi = jvp(*primals, *(t if p is None else p[i] for t, p in zip(tangents, phys)))
        o = oi if o is None else o
        ods.append(odi)
    return o, torch._add_batch_dim(torch.stack(ods), 0, level)


def _backward_any_vmap(backward):
    def run(ctx, *grads):
        # the nesting level first (0.2 us): the per-tensor key test (about 3 us for four grads) only
        # inside the older vmap, where its batched tensors can exist
        if _BATCHED_KEY is not None and _legacy_level() > 0 and any(legacy_batched(g) for g in grads):
            return legacy_vmap_loop(backward, ctx, grads)
        return backward(ctx, *grads)
    return run


def make_function(name, forward, setup_context, backward, jvp, vmap=None):
    """A Function class from forward(*args), setup_context(ctx, args, out), backward, jvp, and
    vmap(info, in_dims, *args) -> (outputs, out_dims) (None: torch.vmap raises a jfa error)."""
    if SETUP_CONTEXT:
        body = {"forward": staticmethod(forward), "setup_context": staticmethod(setup_context)}
    else:
        def classic_forward(ctx, *args):
            out = forward(*args)
            setup_context(ctx, args, out)
            return out
        body = {"forward": staticmethod(classic_forward)}
    body["backward"] = staticmethod(_backward_any_vmap(backward))
    body["jvp"] = staticmethod(jvp)
    body["vmap"] = staticmethod(vmap or vmap_unsupported)  # torch >= 2.0 calls it under torch.vmap
    return type(name, (Function,), body)
