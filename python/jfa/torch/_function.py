"""
_function.py - autograd.Function classes built in the style the installed torch needs: torch >= 2
separates forward and setup_context (which torch.func requires), torch 1.13 takes the classic
forward(ctx, ...). torch >= 2.0 calls a Function's vmap staticmethod under torch.vmap: the rules
of _vmap.py where a Function has one, else a jfa error.
"""
import torch
from torch.autograd import Function

SETUP_CONTEXT = int(torch.__version__.split(".")[0]) >= 2


def vmap_unsupported(*args, **kwargs):
    raise RuntimeError("jfa: torch.vmap over this jfa call is not supported (batch the inputs instead; "
                       "torch.func.jacrev / jacfwd / hessian use vmap)")


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
    body["backward"] = staticmethod(backward)
    body["jvp"] = staticmethod(jvp)
    body["vmap"] = staticmethod(vmap or vmap_unsupported)  # torch >= 2.0 calls it under torch.vmap
    return type(name, (Function,), body)
