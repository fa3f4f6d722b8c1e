"""
_vmap.py - torch.func.vmap rules of jfa's autograd.Functions (torch >= 2.0 calls a Function's
`vmap(info, in_dims, *args)` staticmethod under vmap, and so under jacrev, jacfwd and hessian).

Attention is batched over its leading dim already, so a vmapped call folds the vmapped dim into
that batch dim and calls the op once: each batched tensor gets its vmapped dim moved to the front
((V, B, ...), V = info.batch_size), each unbatched one is broadcast to V with expand (no copy
where B = 1), (V, B) merge into one batch dim (a view where the strides allow, else a copy), and
the outputs (V*B, ...) are split back into (V, B, ...) with out_dim 0. Nested vmap works level by
level: functorch peels one level per call and the op's apply inside the rule meets the next.
A dense mask of batch 1 that is not batched stays as it is (it broadcasts over V*B). Packed
sequences (varlen: batch 1) fold V into the token axis instead, with the offsets repeated V
times. Ring attention has no rule (its ring is built for one batch size on every rank): a jfa
error.

The helpers below are plain tensor reshapes (tested on any torch); rule() builds the
staticmethod of one Function from where its tensors sit in its arguments.
"""
import torch

from . import _core

RING_ERROR = ("jfa: torch.vmap (and torch.func.jacrev / jacfwd / hessian, which use it) over ring attention "
              "is not supported: batch the inputs instead (a ring is built for one batch size on every rank)")


def any_batched(tensors):
    """Whether any of the tensors is a vmap-batched tensor at some level (under grad/jvp wrappers too):
    a jfa call on it must go through a Function's vmap rule."""
    F = _core._FUNCTORCH
    if F is None or not _core._functorch_active():
        return False
    for t in tensors:
        if not isinstance(t, torch.Tensor) or (_core._get_level is not None and _core._get_level(t) == -1):
            continue
        for _ in range(64):
            if F.is_batchedtensor(t):
                return True
            if not _core._wrapped(t):
                break
            t = F.get_unwrapped(t)
    return False


def canonical_dim(d, ndim):
    """An in_dim as a non-negative axis of a tensor with ndim dims (negative dims count from the end)."""
    if not -ndim <= d < ndim:
        raise IndexError("jfa: vmap in_dim %d out of range for a tensor with %d dims" % (d, ndim))
    return d + ndim if d < 0 else d


def config_with(cfg, **changes):
    """A copy of a _core.Config with some fields replaced (its params struct rebuilt on first use)."""
    c = object.__new__(_core.Config)
    for s in _core.Config.__slots__:
        setattr(c, s, getattr(cfg, s))
    c.params = None
    for name, value in changes.items():
        setattr(c, name, value)
    if "attn_mask" in changes:
        c.mask_src = None  # the caller's tensor was the old mask's: no block map kept for the new one
    return c


def with_mask(op, mask):
    """The op of a call with its dense mask `mask` (the mask travels as a Function argument, so that
    vmap and the grad transforms see it; the Config's own field is what the C call reads)."""
    if not isinstance(op, _core.Config):
        if mask is not None:
            raise ValueError("jfa: a dense attn_mask is not supported by this attention")
        return op
    if mask is op.attn_mask:
        return op
    return config_with(op, attn_mask=mask)


def repeat_offsets(cu, V):
    """Packed-sequence offsets (0, ..., T) repeated V times back to back: (0, ..., T, ..., V*T)."""
    total = cu[-1]
    return (0,) + tuple(i * total + c for i in range(V) for c in cu[1:])


def repeat_offsets_tensor(cu, V):
    """repeat_offsets for a 1-d integer tensor of offsets (no read back to the host)."""
    return torch.cat([cu[:1]] + [cu[1:] + i * cu[-1] for i in range(V)])


class Folder:
    """Folds V = info.batch_size into the batch dim of one call's tensors and splits outputs back.

    ref, ref_dim: a tensor whose leading (batch) dim is the call's batch B, and its in_dim; op: the
    call's Config (packed sequences: its offsets repeated), or varlen=True for a call with offsets
    of its own."""

    def __init__(self, V, ref, ref_dim, op=None, varlen=False):
        self.V = V
        shape = list(ref.shape)
        if ref_dim is not None:
            del shape[canonical_dim(ref_dim, ref.dim())]
        self.B = shape[0]
        if op is not None and not isinstance(op, _core.Config):
            raise RuntimeError(RING_ERROR)
        self.varlen = varlen or (op is not None and op.cu_seqlens is not None)
        self.op = op
        if self.varlen and op is not None:
            cq, ck = op.cu_seqlens
            rep = repeat_offsets_tensor if isinstance(cq, torch.Tensor) else repeat_offsets  # device: a capture
            self.op = config_with(op, cu_seqlens=(rep(cq, V), rep(ck, V)))

    def front(self, t, d, broadcast=False):
        """t as (V, B, ...): the vmapped dim first, unbatched tensors expanded; broadcast: a batch of 1
        (a mask) is expanded to B."""
        if d is None:
            t = t.unsqueeze(0).expand((self.V,) + tuple(t.shape))
        else:
            t = t.movedim(canonical_dim(d, t.dim()), 0)
        if t.shape[1] != self.B:
            if not (broadcast and t.shape[1] == 1):
                raise ValueError("jfa: vmap rule: a tensor of batch %d in a call of batch %d" % (t.shape[1], self.B))
            t = t.expand((self.V, self.B) + tuple(t.shape[2:]))
        return t

    def fold(self, t, d):
        """A (B, H, N, X) operand with in_dim d as (V*B, H, N, X), or (1, H, V*N, X) with packed sequences."""
        if t is None:
            return None
        t = self.front(t, d)
        if self.varlen:  # (V, 1, H, N, X) -> (1, H, V*N, X): sequences of the V calls back to back
            t = t.squeeze(1).transpose(0, 1)
            return t.reshape((1, t.shape[0], t.shape[1] * t.shape[2], t.shape[3]))
        return t.reshape((self.V * self.B,) + tuple(t.shape[2:]))

    def fold_mask(self, m, d):
        """A dense (B|1, H|1, L, S) mask: an unbatched one of batch 1 as it is, else folded as fold()."""
        if m is None or (d is None and m.shape[0] == 1):
            return m
        m = self.front(m, d, broadcast=True)
        return m.reshape((self.V * self.B,) + tuple(m.shape[2:]))

    def unfold(self, t):
        """An output of the folded call as (V, B, H, N, X) (out_dim 0)."""
        if self.varlen:  # (1, H, V*N, X) -> (V, 1, H, N, X)
            H, X = t.shape[1], t.shape[3]
            return t.reshape((H, self.V, t.shape[2] // self.V, X)).transpose(0, 1).unsqueeze(1)
        return t.reshape((self.V, self.B) + tuple(t.shape[1:]))


def rule(get_function, layout):
    """A vmap staticmethod for a Function whose arguments follow `layout`: a tuple with one entry per
    argument, 'x' a batch-leading tensor (or None), 'm' a dense mask (or None), 'o' the op (a
    Config, a ring: passed as the call's op), 'r' a record kept for one unbatched call (a
    _second_order.JvpStats: None in the folded call), '-' anything else (passed through), or a
    nested tuple for a tuple argument. Every output is a batch-leading tensor. get_function() -> the Function,
    whose apply the rule calls once on the folded arguments."""

    def find(lay, args, dims, what):
        for l, a, d in zip(lay, args, dims):
            if isinstance(l, tuple):
                r = find(l, a, d, what)
                if r is not None:
                    return r
            elif l == what and (what == "o" or a is not None):
                return a, d
        return None

    def convert(folder, lay, args, dims):
        out = []
        for l, a, d in zip(lay, args, dims):
            if isinstance(l, tuple):
                out.append(tuple(convert(folder, l, a, d)))
            elif l == "x":
                out.append(folder.fold(a, d))
            elif l == "m":
                out.append(folder.fold_mask(a, d))
            elif l == "o":
                out.append(folder.op)
            elif l == "r":
                out.append(None)
            else:
                out.append(a)
        return out

    def vmap(info, in_dims, *args):
        op = find(layout, args, in_dims, "o")
        folder = Folder(info.batch_size, *find(layout, args, in_dims, "x"), op=None if op is None else op[0])
        outs = get_function().apply(*convert(folder, layout, args, in_dims))
        if not isinstance(outs, tuple):
            return folder.unfold(outs), 0
        return tuple(folder.unfold(t) for t in outs), (0,) * len(outs)

    return vmap


def passthrough_rule(get_function):
    """A vmap staticmethod for a Function whose output does not depend on the batch (a constant,
    e.g. the third-order guard's zero): the Function is applied to the unbatched tensors (with the
    vmapped dim where it is) and its output has no vmapped dim."""

    def vmap(info, in_dims, *args):
        return get_function().apply(*args), None

    return vmap
