"""
_second_order.py - second-order derivatives through jfa attention: the backward as a
differentiable function, built on jfa_attention_backward_jvp (the backward-JVP).

Per batch and head, with x = (Q, K, V), O(x) the attention output and B(x, dO) = J(x)^T dO
the backward (dQ, dK, dV), the function g(x, dO) = <dO, O(x)> has the symmetric Hessian

    Hg(x, dO) (tx, tdO) = (H_dO(x) tx + J(x)^T tdO,  J(x) tx)

whose first part is the backward-JVP in direction (tx, tdO) (jfa_attention_backward_jvp)
and whose second part is the forward JVP Od (jfa_attention_forward_jvp). Hence:
  - forward mode of B (forward-over-reverse): B's tangent is the first part;
  - reverse mode of B (double backward): the VJP of B with cotangent u is Hg (u, 0):
    (H_dO u, J u) for (x, dO) (the Hessian is symmetric);
  - reverse mode through the JVP tangent Od = J(x) t (a tangent flowing into a loss):
    with cotangents (do, dod) on (O, Od) the gradient is the backward-JVP at dO = dod in
    direction (t, do) for x, and B(x, dod) for t: one call.
Hg is linear in its direction, so differentiating it again with respect to the direction
(the double-backward trick of torch.autograd.functional.hvp) is Hg itself; derivatives of
third order (Hg with respect to x or dO) raise a jfa error instead of giving silent zeros.

make_attention_functions (_autograd.py) calls backward() and jvp_backward() below from its
Functions' backward; `ops` gives the calls of one attention kind (SINGLE_DEVICE, RING), or
is None where a kind has no backward-JVP (then second order raises).
"""
import ctypes
import threading

import torch
import torch.autograd.forward_ad as fwAD

from .. import _lib
from . import _core, _function, _vmap


THIRD_ORDER_ERROR = ("jfa: a third derivative of attention was requested (differentiating a second-order "
                     "result of jfa attention again with respect to q, k, v or the output gradient); jfa "
                     "computes derivatives up to second order.")
COTANGENT_ERROR = ("jfa: the gradients through the JVP tangent were differentiated with respect to their "
                   "cotangents (the gradients flowing into o and od): that term (the second derivative of attention "
                   "along the tangent and the differentiated direction, contracted with a cotangent) is not computed "
                   "by jfa. It is a second-order quantity, not a third derivative; differentiating these gradients "
                   "with respect to q, k, v or their tangents is (third order, also not computed).")
NO_SECOND_ORDER_ERROR = ("jfa: second-order derivatives (a double backward with create_graph=True, forward-over-"
                         "reverse, Hessians, or a gradient through the JVP tangent) are not available for %s.")


# ---- the C call ---------------------------------------------------------------------------

_declared = False


def _declare():
    """ctypes prototype of jfa_attention_backward_jvp (kept here, apart from _lib's table)."""
    global _declared
    if not _declared:
        T = ctypes.POINTER(_lib.Tensor)
        fn = _lib.lib().jfa_attention_backward_jvp
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.POINTER(_lib.AttentionParams)] + [T] * 18
        _declared = True
    return _lib.lib().jfa_attention_backward_jvp


def backward_jvp(q, k, v, qd, kd, vd, o, lse, od, mu, do, dod, cfg, first_order=False, fmt=None):
    """(dqd, dkd, dvd), plus (dq, dk, dv) with first_order: jfa_attention_backward_jvp (fmt: the
    outputs' memory format, None: empty_like's)."""
    q, k, v, qd, kd, vd, o, lse, od, mu, do, dod = (_core.plain(t) for t in (q, k, v, qd, kd, vd, o, lse, od, mu,
                                                                              do, dod))
    fn = _declare()
    ctx = _core.context_for(q)
    params = _core._params(cfg)[0]  # built once per Config, as the first-order calls do
    do, dod = do.to(q.dtype), dod.to(q.dtype)
    outs = [_core.empty_like(q, fmt), _core.empty_like(k, fmt), _core.empty_like(v, fmt)]
    if first_order:
        outs += [_core.empty_like(q, fmt), _core.empty_like(k, fmt), _core.empty_like(v, fmt)]
    ins = [_core.jfa_tensor(t) for t in (q, k, v, qd, kd, vd, o, lse, od, mu, do, dod)]
    jouts = [_core.jfa_tensor(t) for t in outs] + [None] * (6 - len(outs))
    _lib.check(fn(ctx.handle, ctypes.byref(params), *[_core.ref(t) for t in ins + jouts]))
    return tuple(outs)


class _SingleDevice:
    """The second-order calls of single-device attention (a Config as `op`)."""
    name = "single-device attention"
    reuse_jvp_stats = True  # plain_jvp's fused call gives (od, mu) for the hess along its tangent

    @staticmethod
    def forward_jvp(q, k, v, qd, kd, vd, cfg):
        return _core.forward(q, k, v, cfg, qd, kd, vd)  # o, lse, od, mu

    @staticmethod
    def backward(q, k, v, o, lse, do, cfg):
        return _core.backward(q, k, v, o, lse, do, cfg)

    backward_jvp = staticmethod(backward_jvp)


SINGLE_DEVICE = _SingleDevice()


_ring_declared = False


def _ring_fn(name):
    """ctypes prototypes of the ring's second-order calls (kept here, apart from _lib's table)."""
    global _ring_declared
    L = _lib.lib()
    if not _ring_declared:
        T = ctypes.POINTER(_lib.Tensor)
        L.jfa_ring_backward_jvp.restype = ctypes.c_int
        L.jfa_ring_backward_jvp.argtypes = [ctypes.c_void_p] + [T] * 18
        _ring_declared = True
    return getattr(L, name)


class _Ring:
    """The second-order calls of ring attention (a jfa.torch._ring._Ring as `op`). Collective:
    every rank's autograd runs the same calls in the same order."""
    name = "ring attention"
    reuse_jvp_stats = False  # the ring's plain_jvp keeps its first-order call (no mu there)

    @staticmethod
    def forward_jvp(q, k, v, qd, kd, vd, ring):
        q, k, v, qd, kd, vd = (_core.plain(t) for t in (q, k, v, qd, kd, vd))
        ring.ctx.bind_stream()
        o, od, lse, mu = torch.empty_like(q), torch.empty_like(q), _core.new_stat(q), _core.new_stat(q)
        a = [_core.jfa_tensor(t) for t in (q, k, v, qd, kd, vd, o, lse, od, mu)]
        ring.comm.check(_lib.lib().jfa_ring_forward_jvp(ring.handle, *[_core.ref(x) for x in a]))
        return o, lse, od, mu

    @staticmethod
    def backward(q, k, v, o, lse, do, ring):
        from ._ring import _ring_backward
        return _ring_backward(ring, *(_core.plain(t) for t in (q, k, v, o, lse, do)))

    @staticmethod
    def backward_jvp(q, k, v, qd, kd, vd, o, lse, od, mu, do, dod, ring, first_order=False):
        ts = [_core.plain(t) for t in (q, k, v, qd, kd, vd, o, lse, od, mu, do, dod)]
        q, k, v = ts[:3]
        ts[10], ts[11] = ts[10].to(q.dtype), ts[11].to(q.dtype)
        fn = _ring_fn("jfa_ring_backward_jvp")
        ring.ctx.bind_stream()
        outs = [torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)]
        if first_order:
            outs += [torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)]
        a = [_core.jfa_tensor(t) for t in ts + outs] + [None] * (6 - len(outs))
        ring.comm.check(fn(ring.handle, *[_core.ref(x) for x in a]))
        return tuple(outs)


RING = _Ring()


# ---- O's tangent statistics of a forward call, kept for the hess along the same tangent ---------
#
# Under torch.func.jvp(torch.func.grad(f)) the grad level hides the dual inputs from attention(),
# so _Attention runs and functorch calls its jvp() (plain_jvp: one fused forward+JVP along the
# jvp's tangent t), and later _Backward's jvp rule wants Hg along the tangents of the same saved
# q, k, v: the same t. plain_jvp keeps (t, od, mu) as a JvpStats; hess uses its od and mu instead
# of a second fused call when JvpStats.matches proves that the direction is that t.

def _storage_ptr(p):
    s = p.untyped_storage() if hasattr(p, "untyped_storage") else p.storage()  # torch >= 2.0 / 1.13
    return s.data_ptr()


def tensor_key(t):
    """(the tensor under functorch's grad/jvp wrappers, what identifies its values without reading
    them: storage address, data_ptr, shape, strides, dtype, device, version counter). Held with
    the key, the tensor keeps its storage alive: no other tensor can take that address meanwhile.
    A ZeroTensor becomes fresh zeros (_core.plain): it never matches."""
    p = _core.plain(t)
    return p, (_storage_ptr(p), p.data_ptr(), tuple(p.shape), p.stride(), p.dtype, p.device, p._version)


def _same(held, t):
    p, key = held
    if t is None:
        return False
    return tensor_key(t)[1] == key


class JvpStats:
    """od = J(x) t and mu of one fused forward+JVP call on x = (q, k, v) along t = (qd, kd, vd)
    (None: a zero tangent, an input without one), with what identifies x, t (tensor_key), the op
    and the dense mask of the call. An opaque object (not a tuple): functorch's pytree passes it
    through its levels untouched."""
    __slots__ = ("primals", "tangents", "op", "mask", "od", "mu")

    def __init__(self, x, t, op, mask, od, mu):
        self.primals = tuple(tensor_key(a) for a in x)
        self.tangents = tuple(None if a is None else tensor_key(a) for a in t)
        self.op, self.mask = op, (None if mask is None else tensor_key(mask))
        self.od, self.mu = od, mu

    def same_call(self, x, op, mask):
        """Whether (x, op, mask) are those of the call (op: the same object)."""
        if op is not self.op or (mask is None) != (self.mask is None):
            return False
        if mask is not None and not _same(self.mask, mask):
            return False
        return all(_same(h, a) for h, a in zip(self.primals, x))

    def matches(self, x, tx):
        """Whether direction tx at x is provably the call's tangent: for each of q, k, v the same
        storage, data_ptr, shape, strides, dtype and version counter under the functorch wrappers
        (an in-place change since then bumps the version), or None (a zero direction) where the
        call had none either; the primals x likewise. A vmap-batched tensor (any_batched), a
        direction of zeros where the call had none (or the reverse), anything else: False."""
        if all(t is None for t in tx) or _vmap.any_batched(tuple(x) + tuple(tx)):
            return False
        for h, t in zip(self.tangents, tx):
            if (h is None) != (t is None) or (h is not None and not _same(h, t)):
                return False
        return all(_same(h, a) for h, a in zip(self.primals, x))


def make_jvp_stats(x, t, op, mask, od, mu):
    """A JvpStats (t: the call's tangents as given, None for an input without one), or None where
    it could never be reused (no tangent at all, mu not made, a vmap-batched tensor)."""
    if mu is None or all(a is None for a in t) or _vmap.any_batched(tuple(x) + tuple(t) + (mask,)):
        return None
    return JvpStats(x, t, op, mask, od, mu)


# Under functorch (torch.func.jvp over torch.func.grad) each transform level applies its own
# single-level Function with its own ctx: plain_jvp runs on the jvp level's ctx, the backward on
# the grad level's, whose setup_context runs right after plain_jvp returns (the grad level's
# forward wraps the jvp level's apply). plain_jvp hands its JvpStats over through this
# thread-local slot; the next _Attention setup on the thread takes it (and empties the slot)
# when it is the same call (JvpStats.same_call), so a record waits in the slot at most until
# the next setup. Its od is the tangent of the call's O, alive while O's graph is anyway.
_handoff = threading.local()


def offer_jvp_stats(stats):
    _handoff.stats = stats


def take_jvp_stats(x, op, mask):
    """The handed-over JvpStats when it is of the call (x, op, mask), else None; the slot is emptied."""
    stats = getattr(_handoff, "stats", None)
    if stats is None:
        return None
    _handoff.stats = None
    return stats if stats.same_call(x, op, mask) else None


# ---- the Hessian of g(x, dO) = <dO, O(x)> ---------------------------------------------------

def hess(ops, op, x, do, o, lse, tx, tdo, jvp_stats=None):
    """Hg(x, dO) (tx, tdO) = (H_dO tx + J^T tdO (3 tensors), J tx); None directions are zero.

    jvp_stats: a JvpStats of the forward call (or None): its od and mu stand in for the fused
    forward+JVP when tx is provably the tangent it was computed for (JvpStats.matches)."""
    q, k, v = x
    if all(t is None for t in tx):
        hx = ops.backward(q, k, v, o, lse, tdo, op) if tdo is not None else tuple(torch.zeros_like(t) for t in x)
        return tuple(hx) + (torch.zeros_like(o),)
    reuse = jvp_stats is not None and jvp_stats.matches(x, tx)
    tx = tuple(torch.zeros_like(a) if t is None else t for a, t in zip(x, tx))
    if reuse:
        od, mu = jvp_stats.od, jvp_stats.mu  # O's tangent statistics of that call, along tx
    else:
        o, lse, od, mu = ops.forward_jvp(q, k, v, *tx, op)
    tdo = torch.zeros_like(o) if tdo is None else tdo
    hx = ops.backward_jvp(q, k, v, *tx, o, lse, od, mu, do, tdo, op)
    return tuple(hx) + (od,)


def _has_tangent(t):
    """Whether t carries a forward-AD tangent at the current level. A vmap-batched tensor (jacrev's
    cotangents under jacfwd, i.e. torch.func.hessian) is looked into: aten::_unpack_dual has no
    batching rule, the tangent sits on the tensor the batching wraps."""
    F = _core._FUNCTORCH
    if t is None or not _core.forward_ad_open():
        return False
    if F is not None:
        for _ in range(64):
            if not F.is_batchedtensor(t):
                break
            t = F.get_unwrapped(t)
    return _core._unpack_dual(t)[1] is not None


def _batched(*tensors):
    """Whether torch.vmap batched any of the tensors (nested tuples looked into): then a jfa call on
    them goes through a Function, whose vmap rule folds the vmapped dim into the batch dim."""
    if not _core._functorch_active():  # no vmap level: nothing is batched (any_batched's answer, sooner)
        return False
    flat = []
    for t in tensors:
        if isinstance(t, (tuple, list)):
            flat.extend(t)
        else:
            flat.append(t)
    return _vmap.any_batched(flat)


# _ThirdOrder(msg, *tensors) -> a zero scalar, added to second-order results that are built
# under grad mode: its backward (reached only when a gradient of such a result with respect to
# one of the tensors is wanted) raises. The autograd engine skips it when only the direction
# is differentiated (hvp's double-backward trick).
def _guard_forward(msg, *tensors):
    return tensors[0].new_zeros(())


def _guard_setup(ctx, inputs, output):
    ctx.msg = inputs[0]


def _guard_backward(ctx, g):
    raise RuntimeError(ctx.msg)


def _guard_jvp(ctx, *tangents):
    raise RuntimeError(ctx.msg)


_ThirdOrder = _function.make_function("_JfaThirdOrder", _guard_forward, _guard_setup, _guard_backward, _guard_jvp,
                                      _vmap.passthrough_rule(lambda: _ThirdOrder))


def _guarded(outs, tensors, msg=THIRD_ORDER_ERROR):
    """outs + a guard node on `tensors` when a graph is being built and any of them needs a gradient."""
    tensors = tuple(t for t in tensors if t is not None)
    if not torch.is_grad_enabled() or not any(t.requires_grad for t in tensors):
        return outs
    z = _ThirdOrder.apply(msg, *tensors)
    return tuple(t + z for t in outs)


# _Hess(tq, tk, tv, tdo, state) -> Hg(x, dO)(t): linear and symmetric in t, so its VJP and
# its JVP with respect to t are Hg again; state = (ops, op, mask, x, dO, o, lse) are constants
# of the node (mask: the dense mask that op reads, or None).
def _hess_forward(tq, tk, tv, tdo, state):
    ops, op, mask, x, do, o, lse = state
    for t in tuple(x) + (do,):
        if _has_tangent(t):
            raise RuntimeError(THIRD_ORDER_ERROR)
    return hess(ops, _vmap.with_mask(op, mask), x, do, o, lse, (tq, tk, tv), tdo)


def _mask_to_save(mask):
    """The dense mask for save_for_backward's version check (a mask written in place between the create_graph backward
    and a later differentiation raises, as the first-order Function's does), or None: none, or under torch.func's
    transforms (functional: nothing writes a mask between their calls; their levels keep state's as before)."""
    return None if mask is None or _core._functorch_active() else mask


def _hess_setup(ctx, inputs, output):
    ctx.state = inputs[4]
    ctx.save_for_backward(_mask_to_save(inputs[4][2]))  # for its version check (as _Backward's)


def _hess_apply(state, t, graph=True, jvp_stats=None):
    """Hg(t): a differentiable node when a graph is being built (graph and grad mode), a Function
    call where torch.vmap batched a tensor (its rule folds the vmapped dim), else the plain calls
    (jvp_stats: the forward call's JvpStats or None, for those plain calls only: the od that hess
    may return from it is O's tangent, never an output of a Function)."""
    ops, op, mask, x, do, o, lse = state
    grad = graph and torch.is_grad_enabled()
    if grad or _batched(t, x, do, o, lse, mask):
        t = tuple(torch.zeros_like(a) if b is None else b for a, b in zip(tuple(x) + (do,), t))
        out = _Hess.apply(*t, state)
        return _guarded(out, tuple(x) + (do,)) if grad else out
    return hess(ops, _vmap.with_mask(op, mask), x, do, o, lse, t[:3], t[3], jvp_stats)


def _hess_backward(ctx, wq, wk, wv, wo):
    saved = ctx.saved_tensors[0]  # a mask written in place since raises
    state = ctx.state if saved is None else ctx.state[:2] + (saved,) + ctx.state[3:]
    return tuple(_hess_apply(state, (wq, wk, wv, wo))) + (None,)


def _graph_for(state, t):
    """Whether a jvp rule's output Hg(t) must be differentiable: some direction in t or some tensor of the point
    (x, dO) requires grad (torch keeps the graph of a Function's jvp output: the tangent of a gradient taken with
    create_graph=True, differentiated again). Else the plain calls, which may reuse the forward call's JvpStats; so
    too under torch.func's transforms (their jvp(grad(f)) takes the tangent of a gradient and builds no graph on it
    here: its rule runs on tensors unwrapped from the jvp level, and a graph node would drop the JvpStats)."""
    if _core._functorch_active():
        return False
    _, _, _, x, do, _, _ = state
    return any(a is not None and a.requires_grad for a in tuple(t) + tuple(x) + (do,))


def _hess_jvp(ctx, tq, tk, tv, tdo, _):
    t = (tq, tk, tv, tdo)
    return tuple(_hess_apply(ctx.state, t, graph=_graph_for(ctx.state, t)))


_Hess = _function.make_function("_JfaAttentionHessian", _hess_forward, _hess_setup, _hess_backward, _hess_jvp,
                                _vmap.rule(lambda: _Hess, ("x", "x", "x", "x",
                                                           ("-", "o", "m", ("x", "x", "x"), "x", "x", "x"))))


# _Backward(q, k, v, do, state) -> B(x, dO) = (dq, dk, dv): the backward as a differentiable
# function (state = (ops, op, mask, o, lse, jvp_stats): the saved forward statistics, and the
# forward call's JvpStats or None).
def _bwd_forward(q, k, v, do, state):
    ops, op, mask, o, lse, _ = state
    return tuple(ops.backward(q, k, v, o, lse, do, _vmap.with_mask(op, mask)))


def _bwd_setup(ctx, inputs, output):
    ctx.state = inputs[4]
    # directions and cotangents of inputs without one stay None (hess takes None as zero): k's
    # direction in an HVP in q and v only then matches the forward call's JvpStats, whose k had
    # no tangent either (materialized zeros would be a fresh tensor, not provably that none)
    ctx.set_materialize_grads(False)
    # the mask saved too, for its version check: one written in place between the create_graph backward and the
    # double backward raises torch's error, as the first-order Function's saved mask does (state's would be read)
    ctx.save_for_backward(*inputs[:4], _mask_to_save(inputs[4][2]))
    ctx.save_for_forward(*inputs[:4])


def _hess_state(ctx, saved_mask=True):
    """(ops, op, mask, x, do, o, lse) for _hess_apply; saved_mask: the mask from save_for_backward (in the backward),
    else state's (in jvp(), called within apply: nothing can have written it)."""
    ops, op, mask, o, lse, _ = ctx.state
    saved = ctx.saved_tensors
    q, k, v, do = saved[:4]
    return ops, op, saved[4] if saved_mask and saved[4] is not None else mask, (q, k, v), do, o, lse


def _bwd_backward(ctx, gq, gk, gv):
    # VJP with cotangent u: Hg (u, 0) = (H_dO u, J u) for (q, k, v, dO)
    return tuple(_hess_apply(_hess_state(ctx), (gq, gk, gv, None))) + (None,)


def _bwd_jvp(ctx, tq, tk, tv, tdo, _):
    # the direction (tq, tk, tv) may be the tangent of the forward call's jvp: its JvpStats, ctx.state[5]
    state, t = _hess_state(ctx, saved_mask=False), (tq, tk, tv, tdo)
    return tuple(_hess_apply(state, t, graph=_graph_for(state, t), jvp_stats=ctx.state[5])[:3])


_Backward = _function.make_function("_JfaAttentionBackward", _bwd_forward, _bwd_setup, _bwd_backward, _bwd_jvp,
                                    _vmap.rule(lambda: _Backward, ("x", "x", "x", "x", ("-", "o", "m", "x", "x", "r"))))


# _TangentGrad(q, k, v, qd, kd, vd, do, dod, state) -> the gradients of <do, O(x)> + <dod, J(x) t>
# for (x, t): for x the backward-JVP at dO = dod along (t, do), for t B(x, dod) (one fused call;
# state = (ops, op, mask)). Differentiating them again would need third derivatives.
def _tgrad_forward(q, k, v, qd, kd, vd, do, dod, state):
    ops, op, mask = state
    op = _vmap.with_mask(op, mask)
    o2, lse2, od, mu = ops.forward_jvp(q, k, v, qd, kd, vd, op)
    return tuple(ops.backward_jvp(q, k, v, qd, kd, vd, o2, lse2, od, mu, dod, do, op, first_order=True))


def _tgrad_setup(ctx, inputs, output):
    pass


def _tgrad_backward(ctx, *grads):
    raise RuntimeError(THIRD_ORDER_ERROR)


def _tgrad_jvp(ctx, *tangents):
    raise RuntimeError(THIRD_ORDER_ERROR)


_TangentGrad = _function.make_function("_JfaAttentionTangentGrad", _tgrad_forward, _tgrad_setup, _tgrad_backward,
                                       _tgrad_jvp, _vmap.rule(lambda: _TangentGrad, ("x",) * 8 + (("-", "o", "m"),)))


# ---- entry points for _autograd.make_attention_functions -------------------------------------

def _first_order(backward, q, k, v, o, lse, do, op):
    if not torch.is_grad_enabled():  # the usual backward (no create_graph): no mode to switch
        return tuple(backward(q, k, v, o, lse, do, op))
    with torch.no_grad():
        return tuple(backward(q, k, v, o, lse, do, op))


def backward(backward_fn, ops, saved, do, op, mask, tangents=None, jvp_stats=None, level=None):
    """The backward of attention's Functions: (dq, dk, dv) from saved (q, k, v, o, lse), do and the
    dense mask (or None).

    A plain call when nothing second-order can follow and no tensor is vmap-batched; else through
    _Backward, so that the result is differentiable (create_graph=True), carries forward tangents
    (do dual, or `tangents` (qd, kd, vd) of the inputs while their forward-AD level, `level` (a
    _core.level_token), is still open: a later level gets no tangent from them), and batches
    under vmap (jacrev's vmap over cotangents). jvp_stats: the forward call's JvpStats (plain_jvp's),
    or None: kept in _Backward's state for its jvp rule (dropped where a tensor is vmap-batched)."""
    q, k, v, o, lse = saved
    live = tangents is not None and _core.level_alive(level)  # the inputs' tangents, their level still open
    want_tangent = _has_tangent(do) or live
    want_graph = torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v, do))
    batched = ops is not None and _batched(q, k, v, o, lse, do, mask)
    if not want_tangent and not want_graph and not batched:
        return _first_order(backward_fn, q, k, v, o, lse, do, _vmap.with_mask(op, mask))
    if ops is None:
        if want_tangent:
            raise RuntimeError(NO_SECOND_ORDER_ERROR % "this attention")
        return _guarded(_first_order(backward_fn, q, k, v, o, lse, do, _vmap.with_mask(op, mask)), (q, k, v, do),
                        NO_SECOND_ORDER_ERROR % "this attention")
    if live:
        q, k, v = (fwAD.make_dual(a, t) for a, t in zip((q, k, v), tangents))
    stats = None if batched or live else jvp_stats
    return _Backward.apply(q, k, v, do, (ops, op, mask, o.detach(), lse.detach(), stats))


def jvp_backward(backward_fn, ops, saved, do, dod, op, mask, tangent_error, level=None):
    """The backward of the fused JVP Function (q, k, v, qd, kd, vd) -> (o, od): gradients for
    the six inputs from cotangents do (on o, may be None) and dod (on od, may be None); level: the
    _core.level_token of the forward call (qd, kd, vd are tangents at that level)."""
    q, k, v, qd, kd, vd, o, lse = saved
    if dod is None:
        if do is None:
            return (None,) * 6
        return tuple(backward(backward_fn, ops, (q, k, v, o, lse), do, op, mask, (qd, kd, vd), level=level)) + \
            (None,) * 3
    if ops is None:
        raise RuntimeError(tangent_error)
    do = torch.zeros_like(o) if do is None else do
    if _batched(q, k, v, qd, kd, vd, o, lse, do, dod, mask):
        return _TangentGrad.apply(q, k, v, qd, kd, vd, do, dod, (ops, op, mask))
    for t in (do, dod):
        if _has_tangent(t):
            raise RuntimeError(THIRD_ORDER_ERROR)
    with torch.no_grad():
        g = _tgrad_forward(q, k, v, qd, kd, vd, do, dod, (ops, op, mask))
    # differentiating these gradients again with respect to the inputs would need third derivatives, with respect to
    # the cotangents D^2 O(t, .) contracted: neither is computed (each guard says which was asked)
    g = _guarded(g, (q, k, v, qd, kd, vd))
    return tuple(_guarded(g, (do, dod), COTANGENT_ERROR))
