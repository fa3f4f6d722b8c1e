"""
_ring.py - ring (context-parallel) attention over a torch.distributed process
group: jfa.torch.ring_attention, and shard / unshard / gather to move between
full-sequence tensors and each rank's local rows.

The jfa communicator of a (group, device) pair is made once and cached:
  - CUDA tensors on an NCCL group: jfa's own NCCL communicator, created from a
    unique id that group rank 0 makes and broadcasts over the group;
  - anything else (gloo on CPU tensors; CUDA tensors on a gloo group, staged
    through host memory; NCCL when libjfa was built without it): a callback
    communicator whose transport is torch.distributed isend / irecv.
Rings (jfa_ring_t, O(N/P) buffers) are cached per configuration; packed sequences of any offsets share
one ring, given each call's offsets (jfa_ring_set_seqlens) where they changed.
"""
import collections
import ctypes
import weakref

import torch
import torch.distributed as dist

from .. import _lib
from . import _autocast, _core, _second_order
from ._autograd import make_attention_functions
from ._function import legacy_batched

_LAYOUTS = {"contiguous": _lib.LAYOUT_CONTIGUOUS, "zigzag": _lib.LAYOUT_ZIGZAG}
# Bytes per point-to-point message of the callback communicator: a buffer (a rank's K, V, ... part: several GiB at
# a million tokens a rank) goes as messages of at most this size (gloo's ibverbs transport refuses more than 1 GiB;
# src/comm/comm_mpi.c cuts MPI's at 1 GiB too). Messages to one peer keep their order.
_MAX_MESSAGE = 1 << 30


# ---- shard / unshard / gather ----------------------------------------------------------

def _check_layout(layout):
    if layout not in _LAYOUTS:
        raise ValueError("jfa: layout must be 'zigzag' or 'contiguous', got %r" % (layout,))


def shard(x, rank, world_size, layout="zigzag", dim=2):
    """This rank's rows of a full-sequence tensor (sequence axis `dim`).

    contiguous: rank r holds rows [r N/P, (r+1) N/P); zigzag: 2P chunks, rank r holds
    chunks r and 2P-1-r (balances causal work). N must divide by P (2P for zigzag)."""
    _check_layout(layout)
    n = x.shape[dim]
    parts = world_size * (2 if layout == "zigzag" else 1)
    if n % parts != 0:
        raise ValueError("jfa: sequence length %d does not divide into %d %s chunks (P = %d)"
                         % (n, parts, layout, world_size))
    if not 0 <= rank < world_size:
        raise ValueError("jfa: rank %d is not in [0, %d)" % (rank, world_size))
    chunks = x.chunk(parts, dim)
    if layout == "contiguous":
        return chunks[rank]
    return torch.cat([chunks[rank], chunks[parts - 1 - rank]], dim)


def unshard(locals_, layout="zigzag", dim=2):
    """The full-sequence tensor from every rank's local tensor (in rank order)."""
    _check_layout(layout)
    P = len(locals_)
    if layout == "contiguous":
        return torch.cat(list(locals_), dim)
    halves = [t.chunk(2, dim) for t in locals_]
    order = [halves[c][0] for c in range(P)] + [halves[2 * P - 1 - c][1] for c in range(P, 2 * P)]
    return torch.cat(order, dim)


def gather(local, group=None, layout="zigzag", dim=2):
    """all_gather of every rank's local rows, reassembled into the full sequence."""
    world = dist.get_world_size(group)
    parts = [torch.empty_like(local) for _ in range(world)]
    dist.all_gather(parts, local.contiguous(), group=group)
    return unshard(parts, layout, dim)


# ---- communicators -------------------------------------------------------------------

def _global_rank(group, group_rank):
    if group is None or group is dist.group.WORLD:
        return group_rank
    if hasattr(dist, "get_global_rank"):
        return dist.get_global_rank(group, group_rank)
    return dist.distributed_c10d._get_global_rank(group, group_rank)


class _CudaBytes:
    """A raw device buffer as a torch uint8 tensor (zero copy, __cuda_array_interface__)."""

    def __init__(self, ptr, n):
        self.__cuda_array_interface__ = {"shape": (n,), "typestr": "|u1", "data": (ptr, False), "version": 2}


def _bytes_tensor(ptr, n, device):
    if device.type == "cuda":
        return torch.as_tensor(_CudaBytes(ptr, n), device=device)
    return torch.frombuffer((ctypes.c_char * n).from_address(ptr), dtype=torch.uint8)


def _weak(group):
    """A weak reference to a process group (a strong one where its binding takes none)."""
    try:
        return weakref.ref(group)
    except TypeError:
        return lambda: group


class _Comm:
    """A jfa_comm_t for (group, device). The group is held weakly (a process group the caller destroyed and
    dropped is freed, with its threads and sockets; _comm_for then drops this communicator and its rings), and
    the callbacks hold this object weakly: no reference cycle, so the communicator is destroyed as soon as
    nothing uses it (ring_release, or its group gone), not at a later cyclic collection."""

    def __init__(self, group, device):
        L = _lib.lib()
        self._group = None if group is None else _weak(group)  # None: the default group
        self.device = device
        self.rank, self.size = dist.get_rank(group), dist.get_world_size(group)
        self.backend = dist.get_backend(group)
        self.handle = ctypes.c_void_p()
        self.error = None
        self.kind = "callbacks"
        if device.type == "cuda" and self.backend == "nccl" and self._try_nccl(L):
            self.kind = "nccl"
            return
        self._make_callbacks(L)

    @property
    def group(self):
        """The process group (None: the default group); one that no longer exists raises."""
        if self._group is None:
            return None
        g = self._group()
        if g is None:
            raise RuntimeError("jfa: the process group of this ring attention's communicator no longer exists")
        return g

    def group_is(self, group):
        """Whether this communicator is of `group` (False once its group is gone)."""
        return group is None if self._group is None else self._group() is group

    def dead(self):
        """Whether its group was freed (the communicator can no longer be used)."""
        return self._group is not None and self._group() is None

    def _try_nccl(self, L):
        """jfa's NCCL communicator from a unique id broadcast over the group; False if libjfa has no NCCL."""
        uid = (ctypes.c_char * _lib.NCCL_UNIQUE_ID_BYTES)()
        ok = torch.zeros(1, dtype=torch.int32, device=self.device)
        if self.rank == 0:
            st = L.jfa_comm_nccl_unique_id(uid, _lib.NCCL_UNIQUE_ID_BYTES)
            ok[0] = 1 if st == _lib.SUCCESS else 0
        dist.broadcast(ok, _global_rank(self.group, 0), group=self.group)
        if int(ok.item()) == 0:
            return False
        t = torch.frombuffer(uid, dtype=torch.uint8).to(self.device)
        dist.broadcast(t, _global_rank(self.group, 0), group=self.group)
        raw = bytes(t.cpu().tolist())
        _lib.check(L.jfa_comm_create_nccl_from_id(ctypes.byref(self.handle), raw, len(raw), self.rank, self.size,
                                                  self.device.index))
        return True

    def _make_callbacks(self, L):
        self._pending = []
        self._recv_copies = []
        nxt, prv = (self.rank + 1) % self.size, (self.rank - 1 + self.size) % self.size
        self._next, self._prev = _global_rank(self.group, nxt), _global_rank(self.group, prv)
        # CUDA tensors travel as CUDA tensors on NCCL groups, through host memory otherwise
        self._stage = self.device.type == "cuda" and self.backend != "nccl"
        self._coll_device = self.device if self.backend == "nccl" else torch.device("cpu")

        me = weakref.ref(self)  # the callbacks (held by self._cb_funcs) must not hold self: a cycle

        def guarded(fn):
            def call(*args):
                self = me()
                if self is None:  # not expected: the C calls that invoke the callbacks run on a live communicator
                    return 1
                try:
                    fn(self, *args)
                    return 0
                except BaseException as e:  # reported by the jfa call that invoked us
                    self.error = e
                    return 1
            return call

        def exchange_start(self, user, nbufs, send, recv, nbytes):
            self._pending, self._recv_copies = [], []
            for i in range(nbufs):
                n = int(nbytes[i])
                if n == 0:
                    continue
                s = _bytes_tensor(send[i], n, self.device)
                r = _bytes_tensor(recv[i], n, self.device)
                if self._stage:
                    s = s.cpu()
                    r_host = torch.empty(n, dtype=torch.uint8)
                    self._recv_copies.append((r, r_host))
                    r = r_host
                for off in range(0, n, _MAX_MESSAGE):
                    sp, rp = s[off:off + _MAX_MESSAGE], r[off:off + _MAX_MESSAGE]
                    # even ranks send first: with blocking transports neither side waits on the other
                    ops = [(dist.isend, sp, self._next), (dist.irecv, rp, self._prev)]
                    if self.rank % 2 == 1:
                        ops.reverse()
                    for op, t, peer in ops:
                        self._pending.append((op(t, peer, group=self.group), t))

        def exchange_wait(self, user):
            for work, _ in self._pending:
                work.wait()
            for dev, host in self._recv_copies:
                dev.copy_(host)
            self._pending, self._recv_copies = [], []

        def allreduce_minmax(self, user, vin, vmin, vmax, n):
            vals = [int(vin[i]) for i in range(n)]
            lo = torch.tensor(vals, dtype=torch.int64, device=self._coll_device)
            hi = lo.clone()
            dist.all_reduce(lo, op=dist.ReduceOp.MIN, group=self.group)
            dist.all_reduce(hi, op=dist.ReduceOp.MAX, group=self.group)
            lo, hi = lo.cpu().tolist(), hi.cpu().tolist()
            for i in range(n):
                vmin[i], vmax[i] = lo[i], hi[i]

        def barrier(self, user):
            dist.barrier(group=self.group)

        self._cb_funcs = (_lib.EXCHANGE_START(guarded(exchange_start)), _lib.EXCHANGE_WAIT(guarded(exchange_wait)),
                          _lib.ALLREDUCE_MINMAX(guarded(allreduce_minmax)), _lib.BARRIER(guarded(barrier)))
        cb = _lib.CommCallbacks()
        cb.user = None
        cb.exchange_start, cb.exchange_wait, cb.allreduce_minmax, cb.barrier = self._cb_funcs
        cb.destroy = _lib.DESTROY(0)
        self._cb = cb
        _lib.check(L.jfa_comm_create_callbacks(ctypes.byref(self.handle), ctypes.byref(cb), self.rank, self.size))

    def check(self, status):
        """Raises for a failed jfa call, chaining a callback's own exception. A communicator that failed
        (a timeout, a callback's error) stays failed: the error says how to drop it (ring_release)."""
        if status != _lib.SUCCESS:
            err, self.error = self.error, None
            try:
                _lib.check(status)
            except _lib.JfaError as e:
                if "communicator failed" in str(e):
                    e = _lib.JfaError(e.code, str(e).split(": ", 1)[-1] +
                                      " (jfa.torch.ring_release() on every rank drops jfa's cached rings and "
                                      "communicators; the next ring_attention makes new ones)")
                if err is not None:
                    raise e from err
                raise e

    def __del__(self):
        try:
            if self.handle:
                _lib.lib().jfa_comm_destroy(self.handle)
        except Exception:
            pass


class _Ring:
    """A jfa_ring_t of one configuration on one communicator."""

    def __init__(self, comm, ctx, key):
        L = _lib.lib()
        B, Hq, Hkv, N, D, dtype, layout, mask, scale, window, cu = key[2:]
        cfg = _lib.RingConfig()  # initialised by the library (tag, size, defaults)
        cfg.batch, cfg.heads_q, cfg.heads_kv, cfg.seq_global, cfg.head_dim = B, Hq, Hkv, N, D
        cfg.dtype, cfg.layout, cfg.mask = dtype, layout, mask
        cfg.scale = 0.0 if scale is None else scale  # None: 1/sqrt(D); else as given (0 and negative included)
        cfg.flags = 0 if scale is None else _core.SCALE_AS_GIVEN
        cfg.window_left, cfg.window_right = window
        if cu is not None:
            arr = (ctypes.c_int64 * len(cu))(*cu)  # jfa_ring_create copies it
            cfg.cu_seqlens = arr  # its address (not ctypes.cast: a reference cycle per array, see _core.make_params)
            cfg.num_seqs = len(cu) - 1
        self.comm, self.ctx = comm, ctx
        self.handle = ctypes.c_void_p()
        self._cfg = cfg
        self.cu = cu  # the offsets the ring holds now (jfa_ring_set_seqlens replaces them: _RingCall)
        comm.check(L.jfa_ring_create(ctypes.byref(self.handle), ctx.handle, comm.handle, ctypes.byref(cfg)))

    def __del__(self):
        try:
            if self.handle:
                _lib.lib().jfa_ring_destroy(self.handle)
        except Exception:
            pass


class _RingCall:
    """A cached ring with one call's packed-sequence offsets (None: the ring has none), what the autograd functions
    hold: `handle` first gives the ring these offsets (jfa_ring_set_seqlens, a collective that every rank makes
    alike, since their calls and offsets are alike) where its last call had others. One ring then serves every
    packing of a configuration, with one set of buffers, and a backward run after a forward of another packing (the
    next batch's forward, activation checkpointing) uses its own forward's offsets."""
    __slots__ = ("ring", "cu", "ctx", "comm")

    def __init__(self, ring, cu):
        self.ring, self.cu, self.ctx, self.comm = ring, cu, ring.ctx, ring.comm

    @property
    def handle(self):
        r = self.ring
        if self.cu is not None and r.cu != self.cu:
            arr = (ctypes.c_int64 * len(self.cu))(*self.cu)  # copied by the call
            self.comm.check(_lib.lib().jfa_ring_set_seqlens(r.handle, arr, len(self.cu) - 1))
            r.cu = self.cu  # after the call succeeded on every rank (else every rank raised, offsets unchanged)
        return r.handle


_comms = {}
_rings = collections.OrderedDict()
_MAX_RINGS = 8


def _forget_dead():
    """Drops the communicators whose process group was freed (the caller destroyed and dropped it), and the
    rings on them: without this each group ever used stayed cached, with its communicator and rings."""
    for key in [k for k, c in _comms.items() if c.dead()]:
        del _comms[key]
    for key in [k for k, r in _rings.items() if r.comm.dead()]:
        del _rings[key]


def _comm_for(group, device):
    key = (id(group) if group is not None else None, device.type, device.index)
    c = _comms.get(key)
    if c is None or c.dead():  # dead: a freed group's id taken by a new one
        _forget_dead()
        c = _comms[key] = _Comm(group, device)
    return c


def _ring_for(group, q, k, layout, causal, scale, window=(-1, -1), cu_seqlens=None):
    comm = _comm_for(group, q.device)
    ctx = _core.context_for(q)
    P = comm.size
    # packed sequences: one ring for every packing (their offsets set per call by _RingCall), not one per packing
    key = (id(comm), q.device, q.shape[0], q.shape[1], k.shape[1], q.shape[2] * P, q.shape[3],
           _core._DTYPES[q.dtype], _LAYOUTS[layout], _lib.MASK_CAUSAL_TOP_LEFT if causal else _lib.MASK_NONE,
           scale, tuple(window), cu_seqlens is not None)
    r = _rings.get(key)
    if r is None:
        _forget_dead()
        r = _Ring(comm, ctx, key[:-1] + (cu_seqlens,))
        _rings[key] = r
        # at most _MAX_RINGS a communicator, the least recently used of its own evicted: eviction then follows that
        # group's calls alone, which its ranks make alike (a cache shared by all groups evicted by every group's calls,
        # so a rank in more groups than another could drop a ring the other keeps, and create it alone later: a
        # collective the others do not join)
        mine = [k for k in _rings if k[0] == key[0]]
        while len(mine) > _MAX_RINGS:
            del _rings[mine.pop(0)]
    else:
        _rings.move_to_end(key)
    return _RingCall(r, cu_seqlens)


def _fail_collectively(group, *tensors):
    """Before this rank raises an error of its own arguments (a type, a layout name, a window: checked in Python,
    before any collective), it joins the collective the other ranks are entering, so that their call fails too
    instead of waiting for the process group's timeout: a failing jfa_ring_forward on the group's most recently used
    ring, whose argument agreement (jfa_ring_agree) then reports "another rank rejected its arguments" there, or
    "the ranks' ring calls differ" where they are in another ring call; where they create a ring, its config check
    (a collective of the agreement's size) reports another rank's failure. That ring's count of calls then differs
    on this rank (ring_release on every rank drops it). On the group's first call (no ring yet: the others make the
    group's communicator and a ring) this rank makes the communicator on the device of its first tensor argument
    too, then a ring of an invalid config (batch 0), whose creation joins their config check and fails there; with
    no tensor argument there is nothing to make it on, and the others wait as before."""
    for key in reversed(_rings):
        r = _rings[key]
        if r.comm.group_is(group) and r.comm.error is None:
            _rings.move_to_end(key)
            r.ctx.bind_stream()  # as every ring call (the NCCL communicator's agreement runs on the stream)
            _lib.lib().jfa_ring_forward(r.handle, None, None, None, None, None)  # fails (NULL tensors), collectively
            r.comm.error = None  # this rank raises its own error; a communicator failure shows at its next call
            return
    dev = next((t.device for t in tensors if isinstance(t, torch.Tensor)), None)
    if dev is None:
        return
    try:
        comm = _comm_for(group, dev)  # collective where it is new, as on the other ranks
        ctx = _core.context(dev)
        cfg = _lib.RingConfig()  # the library's defaults: batch 0 is refused after the config check's collective
        cfg.batch = 0
        handle = ctypes.c_void_p()
        _lib.lib().jfa_ring_create(ctypes.byref(handle), ctx.handle, comm.handle, ctypes.byref(cfg))
        if handle:  # not expected (batch 0 is invalid)
            _lib.lib().jfa_ring_destroy(handle)
        comm.error = None
    except Exception:  # noqa: BLE001 - this rank raises its own error, which the caller re-raises
        pass


def release():
    """Frees the cached rings and communicators (each rank, e.g. before destroy_process_group, or after a
    communicator failed: the next ring_attention makes new ones). Public as jfa.torch.ring_release."""
    _rings.clear()
    _comms.clear()


# ---- autograd ------------------------------------------------------------------------

def _tensors(*ts):
    """jfa_tensor views of ts (None kept), and the tensors they view (plain: a lazily negated or zero
    tensor's values are new tensors), which the caller holds through its call."""
    held = [_core.plain(t) for t in ts]
    return [None if t is None else _core.jfa_tensor(t) for t in held], held


def _ring_forward(ring, q, k, v, qd=None, kd=None, vd=None):
    L = _lib.lib()
    ring.ctx.bind_stream()
    o, lse = torch.empty_like(q), _core.new_stat(q)
    if qd is None:
        a, _held = _tensors(q, k, v, o, lse)
        ring.comm.check(L.jfa_ring_forward(ring.handle, *[_core.ref(x) for x in a]))
        return o, lse, None
    od = torch.empty_like(q)
    a, _held = _tensors(q, k, v, qd, kd, vd, o, lse, od)
    ring.comm.check(L.jfa_ring_forward_jvp(ring.handle, *[_core.ref(x) for x in a], None))
    return o, lse, od


def _ring_backward(ring, q, k, v, o, lse, do):
    L = _lib.lib()
    ring.ctx.bind_stream()
    if do.dtype != q.dtype:
        do = do.to(q.dtype)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    a, _held = _tensors(q, k, v, o, lse, do, dq, dk, dv)
    ring.comm.check(L.jfa_ring_backward(ring.handle, *[_core.ref(x) for x in a]))
    return dq, dk, dv


def _ring_fwd(q, k, v, qd, kd, vd, ring):
    return _ring_forward(ring, q, k, v, qd, kd, vd)


def _ring_bwd(q, k, v, o, lse, do, ring):
    return _ring_backward(ring, q, k, v, o, lse, do)


_RingAttention, _RingAttentionJvp = make_attention_functions("_RingAttention", _ring_fwd, _ring_bwd,
                                                             _second_order.RING)


def ring_attention(q, k, v, group=None, layout="zigzag", is_causal=True, scale=None, enable_gqa=False,
                   window=None, cu_seqlens=None):
    """Ring (context-parallel) attention over the ranks of a torch.distributed group.

    Each rank passes its local rows (B, H, N/P, D) of the full sequence, laid out by
    `layout` (see shard()); the result is this rank's rows of exact attention over the
    whole sequence (causal over global positions when is_causal). window=(left, right)
    limits keys to a band of global positions; cu_seqlens (offsets over the global
    sequence, batch 1) packs several sequences that attend only within themselves.
    Steps whose key block is outside every window or sequence are skipped. Collective:
    every rank of the group calls it with the same shapes and options, and every rank
    must run the backward too. Autograd and forward AD (dual tensors, torch.func.jvp)
    work as for jfa.torch.attention; the primal and the tangent come from one fused ring.
    scale: None = 1/sqrt(E), else any finite float with |scale| <= 2^16 (JFA_SCALE_MAX) used as given (0 and
    negative included).
    The values of the arguments (rows, scale, offsets, windows) are checked by the library
    collectively, so that a rank whose arguments are wrong or differ makes every rank raise
    (never a hang of the others); an error of a rank's own argument types, raised here in Python,
    fails the others' call too (_fail_collectively: on the group's first call where q, k or v is a
    tensor, whose device names the communicator). Under torch.autocast on CUDA q, k, v are cast as
    jfa.torch.attention's (_autocast.py).
    """
    from ._api import _offset_ints, _window
    dt = _autocast.device_type_of(q)
    ac = _autocast.dtype_for(dt)
    if ac is not None:  # SDPA's autocast cast, then the ring with autocast off
        q, k, v = _autocast.cast((q, k, v), ac)
        with _autocast.off(dt):
            return ring_attention(q, k, v, group, layout, is_causal, scale, enable_gqa, window, cu_seqlens)
    if not dist.is_available() or not dist.is_initialized():
        raise RuntimeError("jfa: ring_attention needs an initialised torch.distributed process group")
    try:  # this rank's own checks: an error here fails the other ranks' call too (_fail_collectively)
        _check_layout(layout)
        is_causal = _core.check_bool(is_causal, "is_causal")
        qp, kp, vp, tangents = _core.unpack_inputs(q, k, v, enable_gqa)
        if tangents is not None and any(legacy_batched(t) for t in tangents):
            raise RuntimeError("jfa: forward-mode tangents batched by PyTorch's older vmap (torch.autograd."
                               "functional's forward-mode strategies with vectorize=True) are not supported by ring "
                               "attention: take the tangents one at a time (torch.func.jvp)")
        if scale is not None:
            scale = _core.scale_value(scale)  # its finiteness is the library's (collective) check
        cu = None
        if cu_seqlens is not None:  # ints here; their values are checked at the ring's creation, on every rank
            cu = _offset_ints(cu_seqlens, "cu_seqlens")
            # empty sequences hold no row and change no row's keys: dropped, so that the C ring's bound on its copy of
            # the offsets (num_seqs <= seq_global + 1) refuses nothing varlen_attention takes (an order error stays)
            cu = cu[:1] + tuple(b for a, b in zip(cu, cu[1:]) if b != a)
        win = _window(window)
    except Exception:
        _fail_collectively(group, q, k, v)
        raise
    ring = _ring_for(group, qp, kp, layout, is_causal, scale, win, cu)
    if tangents is None:
        o, _ = _RingAttention.apply(q, k, v, None, ring)
        return o
    o, od, _ = _RingAttentionJvp.apply(qp, kp, vp, *tangents, None, ring, _core.level_token())
    return _core.make_dual(o, od)
