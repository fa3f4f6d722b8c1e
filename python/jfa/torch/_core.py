"""
_core.py - the PyTorch side of every jfa call: per-device (and per-thread) jfa
contexts bound to the caller's current CUDA stream, torch.Tensor -> jfa_tensor_t
views (strides kept, no copies), checks that raise before anything is written,
and the three calls (forward, fused forward+JVP, backward) on allocated outputs.
"""
import ctypes
import math
import os
import struct
import threading

import torch
import torch.autograd.forward_ad as fwAD

from .. import _lib
from ._function import legacy_batched

_DTYPES = {torch.float64: _lib.DTYPE_FLOAT64, torch.float32: _lib.DTYPE_FLOAT32,
           torch.float16: _lib.DTYPE_FLOAT16, torch.bfloat16: _lib.DTYPE_BFLOAT16, torch.bool: _lib.DTYPE_BOOL}
_CPU_DTYPES = (torch.float64, torch.float32)
_CUDA_DTYPES = (torch.float32, torch.float16, torch.bfloat16)

_local = threading.local()

if hasattr(torch._C, "_cuda_getCurrentRawStream"):
    _current_stream = torch._C._cuda_getCurrentRawStream  # the cudaStream_t, without building a Stream object
else:
    def _current_stream(index):
        return torch.cuda.current_stream(index).cuda_stream

_FUNCTORCH = getattr(torch._C, "_functorch", None)


def forward_ad_open():
    """Whether a forward-AD level is open (dual tensors; torch.func.jvp opens one)."""
    return fwAD._current_level >= 0


# A forward-AD level's index is reused once it closes (the next dual_level is level 0 again), so the
# index alone cannot tell a backward that the level its saved tangents belong to is still open. A dual
# scalar made at the level can: PyTorch clears its tangent when the level exits. One per level, made
# at the first call that asks, then one unpack a call.
_level_marker = None  # (level index, a dual scalar made at that level) or None
_LEVEL_UNKNOWN = "open"  # a marker could not be made: alive while any level is open (the index only)


def _marker_tangent(marker):
    guard = torch._C._DisableFuncTorch()  # a guard object (not a context manager): plain tensors, not
    try:                                  # functorch's wrappers, on PyTorch's own level
        return fwAD.unpack_dual(marker).tangent
    finally:
        del guard


def level_token():
    """What identifies the forward-AD level open now (None when none is open): level_alive(token)
    stays True while that level stays open, and turns False for good when it exits (a later level of
    the same index included). torch.func.jvp nests its levels on one forward-AD level: a token tells
    that level apart, not functorch's nested ones."""
    global _level_marker
    level = fwAD._current_level
    if level < 0:
        return None
    marker = _level_marker
    if marker is not None and level_alive(marker):
        return marker
    guard = torch._C._DisableFuncTorch()
    try:
        marker = (level, fwAD.make_dual(torch.zeros(()), torch.zeros(())))
        if _marker_tangent(marker[1]) is None:  # forward grad disabled here: no marker can be made
            return _LEVEL_UNKNOWN
    except RuntimeError:
        return _LEVEL_UNKNOWN
    finally:
        del guard
    _level_marker = marker
    return marker


def level_alive(token):
    """Whether the forward-AD level of level_token()'s token is still open (False for None)."""
    if token is None:
        return False
    if token is _LEVEL_UNKNOWN:
        return forward_ad_open()
    return fwAD._current_level == token[0] and _marker_tangent(token[1]) is not None


_functorch_active = getattr(torch._C, "_are_functorch_transforms_active", lambda: False)


def _wrapped(t):
    """Whether t is a functorch wrapper (live or dead level: grad/jvp wrappers outlive their level)."""
    F = _FUNCTORCH
    if F.is_functorch_wrapped_tensor(t):
        return True
    if hasattr(F, "is_gradtrackingtensor") and F.is_gradtrackingtensor(t):
        return True
    return hasattr(F, "maybe_get_level") and F.maybe_get_level(t) != -1


_get_level = getattr(_FUNCTORCH, "maybe_get_level", None)


def _storage(t):
    """t, or real zeros for a ZeroTensor (forward AD's storage-less zero tangent, data_ptr() = 0,
    which torch.func.hessian hands over for the directions that miss an input), or t's values for a
    lazily negated tensor (the neg bit, e.g. z.conj().imag of a complex z: its storage holds -t; jfa
    reads storage, so it gets the negation materialised, as every torch op sees the values)."""
    if _IS_ZERO is not None and _IS_ZERO(t):
        return torch.zeros(t.shape, dtype=t.dtype, device=t.device)
    if _IS_NEG is not None and _IS_NEG(t):
        return no_transforms(t.resolve_neg)
    return t


_IS_ZERO = getattr(torch.Tensor, "_is_zerotensor", None)
_IS_NEG = getattr(torch.Tensor, "is_neg", None)
_DISABLE_FUNCTORCH = getattr(torch._C, "_DisableFuncTorch", None)


def no_transforms(fn):
    """fn() with functorch's transforms switched off: inside functorch.jvp (torch 1.13) an op on a plain tensor (a
    lazily negated input's resolve_neg, a tensor's tolist) returns a storage-less wrapper or fails ("doesn't have
    storage"). torch._C._DisableFuncTorch: a guard object while it lives on torch 1.13, a context manager later."""
    if _DISABLE_FUNCTORCH is None or not _functorch_active():
        return fn()
    g = _DISABLE_FUNCTORCH()
    if hasattr(g, "__enter__"):
        with g:
            return fn()
    try:
        return fn()
    finally:
        del g


def _unwrapped(t):
    """The tensor under functorch's grad/jvp wrappers (the same storage). vmap's batched tensors are
    refused: they reach a jfa call only through a Function's vmap rule (_vmap.py), which folds them
    into the batch dim first."""
    if t is None or _FUNCTORCH is None or (_get_level is not None and _get_level(t) == -1):
        return t  # a plain tensor (level -1): the common path
    for _ in range(64):
        if _FUNCTORCH.is_batchedtensor(t):
            raise RuntimeError("jfa: a torch.vmap-batched tensor reached a jfa call outside its vmap rule "
                               "(torch.vmap is supported over attention and varlen_attention)")
        if not _wrapped(t):
            return t
        t = _FUNCTORCH.get_unwrapped(t)
        if _get_level is not None and _get_level(t) == -1:
            return t
    return t


def plain(t):
    """The tensor under functorch's grad/jvp wrappers (whose storage jfa reads and writes); a
    ZeroTensor becomes real zeros and a lazily negated tensor its values (_storage): new tensors,
    which the caller holds while jfa reads them (jfa_tensor refuses them unresolved)."""
    return t if t is None else _storage(_unwrapped(t))


class _Context:
    """A jfa_context_t for one device, owned by one thread."""

    def __init__(self, device):
        L = self.lib = _lib.lib()
        self.device = device
        self.is_cuda = device.type == "cuda"
        self.handle = ctypes.c_void_p()
        if device.type == "cuda":
            _lib.check(L.jfa_context_create(ctypes.byref(self.handle), _lib.DEVICE_CUDA, device.index))
        else:
            _lib.check(L.jfa_context_create(ctypes.byref(self.handle), _lib.DEVICE_CPU, 0))
        self._stream = None
        self.flags = 0  # the JFA_FLAG_* bits set on the context
        self._destroy = L.jfa_context_destroy
        # The three calls of every attention, declared without argtypes: forward() and backward() pass
        # exactly (handle, params pointer, packed jfa_tensor_t bytes...), which ctypes then hands over
        # without per-argument conversion (bytes -> const char *, c_void_p -> pointer).
        self.c_forward, self.c_forward_jvp, self.c_backward = (
            _untyped(L, n) for n in ("jfa_attention_forward", "jfa_attention_forward_jvp", "jfa_attention_backward"))

    def set_flag(self, bit, on):
        """Sets or clears one JFA_FLAG_* bit of the context (one C call when it changes)."""
        f = (self.flags | bit) if on else (self.flags & ~bit)
        if f != self.flags:
            _lib.check(self.lib.jfa_context_set_flags(self.handle, f))
            self.flags = f

    def bind_stream(self):
        """Makes the context run on the caller's current CUDA stream of its device."""
        if self.device.type == "cuda":
            s = _current_stream(self.device.index)
            if s != self._stream:
                _lib.check(_lib.lib().jfa_context_set_stream(self.handle, ctypes.c_void_p(s)))
                self._stream = s
        return self.handle

    def __del__(self):
        try:
            if self.handle:
                self._destroy(self.handle)
        except Exception:
            pass


_untyped_fns = {}


def _untyped(L, name):
    """A second ctypes function object for `name` (lib[name] is not the cached lib.name), returning a
    C int and taking its arguments unconverted: only the pointer-sized values of _view and _params. Made
    once per library and name, shared by the contexts: each new function object is a reference cycle of
    ctypes (3 a context, garbage for the cyclic collector whenever a thread that called jfa ends)."""
    fn = _untyped_fns.get((id(L), name))
    if fn is None:
        fn = L[name]
        fn.restype = ctypes.c_int
        _untyped_fns[(id(L), name)] = fn
    return fn


def context(device):
    """The calling thread's jfa context for `device`, bound to its current stream."""
    cache = getattr(_local, "contexts", None)
    if cache is None:
        cache = _local.contexts = {}
    ctx = cache.get(device)  # a tensor's device (CUDA ones carry their index)
    if ctx is not None:
        if ctx.is_cuda:
            ctx.bind_stream()
        return ctx
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    key = torch.device(device.type, device.index) if device.type == "cuda" else torch.device("cpu")
    ctx = cache.get(key)
    if ctx is None:
        ctx = cache[key] = _Context(device)
    ctx.bind_stream()
    return ctx


def float32_tf32():
    """Whether torch's own float32 matmul switch allows TF32: torch.get_float32_matmul_precision()
    other than "highest" ("high", "medium"), which torch.backends.cuda.matmul.allow_tf32 = True
    also sets; the allow_tf32 flag itself in a torch without the precision setting."""
    get = getattr(torch, "get_float32_matmul_precision", None)
    if get is not None:
        try:
            return get() != "highest"
        except RuntimeError:  # torch >= 2.9 when its legacy and new TF32 switches were mixed
            return getattr(torch.backends.cuda.matmul, "fp32_precision", "ieee") == "tf32"
    return bool(torch.backends.cuda.matmul.allow_tf32)


def context_for(q):
    """context(q.device), its JFA_FLAG_ALLOW_TF32 following torch's float32 matmul precision when q
    is a CUDA float32 tensor (one TF32 product when torch allows TF32, else 3xTF32)."""
    ctx = context(q.device)
    if ctx.is_cuda and q.dtype == torch.float32:
        ctx.set_flag(_lib.FLAG_ALLOW_TF32, float32_tf32())
    return ctx


_PACK = struct.Struct("=Qii4q4q")  # jfa_tensor_t: data, dtype, device, shape[4], stride[4]
assert _PACK.size == ctypes.sizeof(_lib.Tensor)


def jfa_tensor(t, name="tensor"):
    """A jfa_tensor_t view of a 4-d torch tensor (same storage, same strides).

    Under torch.func transforms, tensors made inside a call (our outputs) are functorch
    wrappers too: the view is of the storage underneath, which the wrapper shares. A ZeroTensor or a
    lazily negated tensor must have gone through plain first (held by the caller: the view would
    otherwise be of a temporary's storage): an internal error here."""
    t = _unwrapped(t)
    if (_IS_ZERO is not None and _IS_ZERO(t)) or (_IS_NEG is not None and _IS_NEG(t)):
        raise RuntimeError("jfa internal error: %s reached jfa_tensor unresolved (a zero or lazily negated tensor "
                           "has no storage of its values: plain() it first and hold the result)" % name)
    if t.dim() != 4:
        raise ValueError("jfa: %s must be 4-d (batch, heads, seq, dim), got shape %s" % (name, tuple(t.shape)))
    sh, st = t.shape, t.stride()
    return _lib.Tensor.from_buffer_copy(_PACK.pack(
        t.data_ptr(), _DTYPES[t.dtype], _lib.DEVICE_CUDA if t.is_cuda else _lib.DEVICE_CPU, sh[0], sh[1], sh[2],
        sh[3], st[0] if sh[0] > 1 else 0, st[1] if sh[1] > 1 else 0, st[2] if sh[2] > 1 else 0,
        st[3] if sh[3] > 1 else 0))


def _view(t, name="tensor"):
    """The bytes of a jfa_tensor_t view of t, a plain (unwrapped) 4-d tensor: what jfa_tensor
    builds, without the ctypes struct (passed as a const pointer to these bytes)."""
    sh = t.shape
    if len(sh) != 4:
        raise ValueError("jfa: %s must be 4-d (batch, heads, seq, dim), got shape %s" % (name, tuple(sh)))
    a, b, c, d = sh
    st = t.stride()
    return _PACK.pack(t.data_ptr(), _DTYPES[t.dtype], _lib.DEVICE_CUDA if t.is_cuda else _lib.DEVICE_CPU, a, b, c,
                      d, st[0] if a > 1 else 0, st[1] if b > 1 else 0, st[2] if c > 1 else 0, st[3] if d > 1 else 0)


def _call(status):
    """Raises jfa's error unless status is JFA_SUCCESS (_lib.check without a call when it is)."""
    if status:
        _lib.check(status)


def ref(jt):
    """A pointer argument for a jfa_tensor_t (None stays NULL)."""
    return None if jt is None else ctypes.byref(jt)


def check_inputs(tensors, names, allow_gqa):
    """Device, dtype and shape checks shared by the calls: raise before anything is written."""
    q = tensors[0]
    dev, dt = q.device, q.dtype
    if q.is_cuda:
        if dt not in _CUDA_DTYPES:
            raise TypeError("jfa: q has dtype %s; on cuda jfa takes %s" % (dt, ", ".join(map(str, _CUDA_DTYPES))))
    elif not q.is_cpu:
        raise ValueError("jfa: q is on %s; jfa runs on CPU and CUDA tensors" % dev)
    elif dt not in _CPU_DTYPES:
        raise TypeError("jfa: q has dtype %s; on cpu jfa takes %s" % (dt, ", ".join(map(str, _CPU_DTYPES))))
    for t, n in zip(tensors, names):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError("jfa: %s must be a torch.Tensor, got %s" % (n, type(t).__name__))
        if t.device != dev:
            raise ValueError("jfa: %s is on %s but q is on %s" % (n, t.device, dev))
        if t.dtype != dt:
            raise TypeError("jfa: %s has dtype %s but q has %s" % (n, t.dtype, dt))
        if t.ndim != 4:
            raise ValueError("jfa: %s must be 4-d after flattening the batch dims, got %s" % (n, tuple(t.shape)))
    k, v = tensors[1], tensors[2]
    if k.shape != v.shape:
        if k.shape[-1] != v.shape[-1]:
            raise ValueError("jfa: v's head dim %d differs from k's %d (jfa needs Ev == E)" % (v.shape[-1], k.shape[-1]))
        raise ValueError("jfa: k %s and v %s must have the same shape" % (tuple(k.shape), tuple(v.shape)))
    if q.shape[0] != k.shape[0] or q.shape[3] != k.shape[3]:
        raise ValueError("jfa: q %s and k %s differ in batch or head dim" % (tuple(q.shape), tuple(k.shape)))
    allow_gqa = check_bool(allow_gqa, "enable_gqa")
    if q.shape[1] != k.shape[1]:
        if not allow_gqa:
            raise ValueError("jfa: q has %d heads and k %d; pass enable_gqa=True for grouped-query attention"
                             % (q.shape[1], k.shape[1]))
        if k.shape[1] == 0 or q.shape[1] % k.shape[1] != 0:
            raise ValueError("jfa: k's %d heads do not divide q's %d heads" % (k.shape[1], q.shape[1]))


def _unpack_dual(t):
    """(primal, tangent or None) at the current forward-AD level (fwAD.unpack_dual without its tuple)."""
    level = fwAD._current_level
    if level < 0:
        return t, None
    return _VF_UNPACK(t, level=level) if _VF_UNPACK is not None else fwAD.unpack_dual(t)


_VF_UNPACK = getattr(torch._VF, "_unpack_dual", None)
_VF_MAKE = getattr(torch._VF, "_make_dual", None)


def make_dual(o, od):
    """o carrying the tangent od at the current forward-AD level (fwAD.make_dual without its checks:
    o and od are our own floating outputs, made inside an open level)."""
    if _VF_MAKE is None:
        return fwAD.make_dual(o, od)
    return _VF_MAKE(o, od, level=fwAD._current_level)


def unpack_inputs(q, k, v, enable_gqa):
    """Primals and forward-AD tangents of q, k, v, checked once: (qp, kp, vp, tangents), where
    tangents is None when no input carries one, else (qt, kt, vt) with zeros for missing ones (batched
    by PyTorch's older vmap where the caller's are: _function.legacy_jvp then runs them)."""
    if fwAD._current_level < 0 and not _functorch_active():  # no forward-AD level (torch.func.jvp opens one)
        check_inputs((q, k, v), ("query", "key", "value"), enable_gqa)
        return q, k, v, None
    qp, qt = _unpack_dual(q)
    kp, kt = _unpack_dual(k)
    vp, vt = _unpack_dual(v)
    if qt is None and kt is None and vt is None:
        check_inputs((qp, kp, vp), ("query", "key", "value"), enable_gqa)
        return qp, kp, vp, None
    if any(legacy_batched(t) for t in (qt, kt, vt)):  # the caller's legacy_jvp takes them, entry by entry
        check_inputs((qp, kp, vp), ("query", "key", "value"), enable_gqa)
        return qp, kp, vp, tuple(torch.zeros_like(p) if t is None else t for p, t in ((qp, qt), (kp, kt), (vp, vt)))
    qt = torch.zeros_like(qp) if qt is None else qt
    kt = torch.zeros_like(kp) if kt is None else kt
    vt = torch.zeros_like(vp) if vt is None else vt
    check_inputs((qp, kp, vp, qt, kt, vt), ("query", "key", "value", "query tangent", "key tangent",
                                            "value tangent"), enable_gqa)
    return qp, kp, vp, (qt, kt, vt)


_IS_FUNCTIONAL = getattr(_FUNCTORCH, "is_functionaltensor", None)


def jvp_without_function(tensors):
    """The tensors under their functorch wrappers (a list, None kept) when the fused JVP call on them
    (primals, tangents, dense mask) may run without its autograd.Function, else None: nothing asks for
    a gradient (no tensor, nor anything a functorch wrapper holds, requires grad while grad mode is on)
    and at most one functorch level wraps them, with no vmap batching and no functionalization at it
    (plain dual tensors, or torch.func.jvp alone). The outputs are then allocated at that level
    (forward's `like`) and od is attached with make_dual, which is what the Function's apply gives
    there, minus the cost of applying it (under torch.func, functorch's Python path for an
    autograd.Function at every level)."""
    grad = torch.is_grad_enabled()
    if grad:
        for t in tensors:
            if t is not None and t.requires_grad:
                return None
    if not _functorch_active():
        return list(tensors)
    F = _FUNCTORCH
    level = -1
    out = []
    for t in tensors:
        if t is not None:
            lv = _get_level(t)
            while lv != -1:
                if level == -1:
                    level = lv
                elif lv != level:
                    return None  # two levels (nested transforms): the Function's rules handle each
                if F.is_batchedtensor(t) or (_IS_FUNCTIONAL is not None and _IS_FUNCTIONAL(t)) or not _wrapped(t):
                    return None
                t = F.get_unwrapped(t)
                if grad and t.requires_grad:
                    return None
                lv = _get_level(t)
            if _IS_ZERO is not None and _IS_ZERO(t):
                return None  # a bare ZeroTensor: forward's zeros for it would be made at the level (no storage)
        out.append(t)
    return out


def stat_dtype(q):
    """lse / mu dtype: float64 for float64 inputs on the CPU (exact gradients), else float32."""
    return torch.float64 if q.dtype == torch.float64 else torch.float32


def new_stat(q):
    """An uninitialised (B, H, N, 1) lse / mu tensor for q."""
    sh = q.shape
    return q.new_empty((sh[0], sh[1], sh[2], 1), dtype=stat_dtype(q))


_params_cache = {}


def make_params(cfg):
    """A jfa_attention_params_t from a Config, and the objects it points to (kept alive by the caller)."""
    simple = cfg.attn_mask is None and cfg.cu_seqlens is None
    if simple:
        key = (cfg.scale, cfg.mask, cfg.window, cfg.flags)
        p = _params_cache.get(key)
        if p is not None:
            return p, ()
    p = _lib.AttentionParams()  # initialised by the library (tag, size, defaults)
    p.scale = cfg.scale
    p.mask = cfg.mask
    if cfg.flags:
        p.flags = cfg.flags
    keep = []
    if cfg.attn_mask is not None:
        jm = jfa_tensor(cfg.attn_mask, "attn_mask")
        keep.append(jm)
        p.attn_mask = ctypes.pointer(jm)
        mp = mask_map(cfg, jm)
        if mp is not None:
            keep.append(mp)
            p.mask_map, p.mask_map_bytes = mp.data_ptr(), mp.numel()
    p.window_left, p.window_right = cfg.window
    if cfg.cu_seqlens is not None:
        cq, ck = cfg.cu_seqlens
        if isinstance(cq, torch.Tensor):  # int64 device tensors (a CUDA graph capture: _api._device_offsets)
            keep += [cq, ck]
            p.cu_seqlens_q = ctypes.cast(cq.data_ptr(), ctypes.POINTER(ctypes.c_int64))
            p.cu_seqlens_k = ctypes.cast(ck.data_ptr(), ctypes.POINTER(ctypes.c_int64))
            p.flags = p.flags | _lib.PARAMS_SEQLENS_DEVICE
            p.num_seqs = cq.shape[0] - 1
        else:
            aq = (ctypes.c_int64 * len(cq))(*cq)
            ak = (ctypes.c_int64 * len(ck))(*ck)
            keep += [aq, ak]
            # the arrays assigned to the pointer fields as they are (ctypes stores their address): ctypes.cast would
            # leave each array in a reference cycle with its _objects dict (garbage for the cyclic collector, every
            # call)
            p.cu_seqlens_q, p.cu_seqlens_k = aq, ak
            p.num_seqs = len(cq) - 1
    if simple and len(_params_cache) < 64:
        _params_cache[key] = p
    return p, keep


# Whether a CUDA mask's block map is kept on the mask tensor across calls (set_mask_map_cache; JFA_MASK_MAP_CACHE=1
# at import turns it on; off by default)
_MAP_CACHE = [os.environ.get("JFA_MASK_MAP_CACHE", "0") == "1"]
# Whether, without the cache, the forward of a call whose backward follows (Config.map_fwd, set by _api._attend before
# the autograd Function, whose forward runs with grad mode off) builds the map here for its backward to read (one
# build for the pair instead of two; the map lives with the autograd graph, as the saved mask does). On since the
# thirty-fifth session, whose GPU runs passed the caller-map tests (test_gpu_masks' map pass, test_masks.py's map
# tests); False: each call builds its own, as before jfa 0.5.
_MAP_PER_FORWARD = True


def set_mask_map_cache(enabled):
    """Keeps the block map of a CUDA attn_mask on the mask tensor across calls (enabled=True) or not (False, the
    default); returns the previous setting. Kept, a map is also read by the call's backward, and it is rebuilt when
    the tensor's version counter changes (an in-place write through torch) and per view and stream; a write torch
    does not count (mask.data.copy_(), a CUDA graph's replay into a static buffer, a Triton / CuPy / DLPack kernel
    writing the mask) leaves the old map, which then gives wrong outputs: enable it only for masks written through
    torch ops. Without it the forward of a call that autograd will differentiate still builds one map that its
    backward reads; every other call builds its own."""
    prev = _MAP_CACHE[0]
    _MAP_CACHE[0] = bool(enabled)
    return prev


def mask_map(cfg, jm):
    """The block map of cfg's CUDA dense mask (jfa_attention_mask_map_build: which 64 x 64 tiles are empty, full or
    partial, a boolean mask bit-packed), made here so that the call's backward reads the forward's map (the Config's
    params, saved for the backward, point to it; the mask is saved too, so an in-place write between them is
    refused by autograd) instead of reading the whole mask again (1 GiB for a (4, 16, 4096, 4096) boolean mask).
    With set_mask_map_cache(True) the map is also kept on the caller's mask tensor (cfg.mask_src; attribute
    _jfa_mask_map: the view jfa reads, the tensor's version, the stream) for later calls with it: the layers of a
    model that pass one mask, the forward, JVP and backward calls of a benchmark (14% of a boolean mask's bytes,
    under 1% of an additive one's, as long as the tensor lives). None where the C call builds its own: no caller
    tensor (the custom operators, vmap's batched masks), a CPU mask, a functorch-wrapped mask, a CUDA graph
    capture (the captured call builds it, so that a replay reads the mask as it is then), and without the cache
    (unless _MAP_PER_FORWARD and cfg.map_fwd: a call whose backward follows)."""
    src, m = cfg.mask_src, cfg.attn_mask
    if src is None or not m.is_cuda or _unwrapped(src) is not src or torch.cuda.is_current_stream_capturing():
        return None
    keep = _MAP_CACHE[0] and not src.is_inference()  # inference tensors keep no version counter
    if not (keep or (_MAP_PER_FORWARD and cfg.map_fwd)):
        return None
    if keep:
        key = (jm.data, tuple(m.shape), m.stride(), m.dtype, _current_stream(m.device.index))
        ver = src._version
        ent = getattr(src, "_jfa_mask_map", None)
        if ent is not None and ent[0] == key and ent[1] == ver:
            return ent[2]
    ctx = context(m.device)
    n = ctypes.c_uint64()
    _lib.check(ctx.lib.jfa_attention_mask_map_bytes(ctx.handle, ctypes.byref(jm), ctypes.byref(n)))
    if n.value == 0:
        return None
    buf = torch.empty(n.value, dtype=torch.uint8, device=m.device)
    _lib.check(ctx.lib.jfa_attention_mask_map_build(ctx.handle, ctypes.byref(jm), ctypes.c_void_p(buf.data_ptr()),
                                                    n.value))
    if keep:
        try:
            src._jfa_mask_map = (key, ver, buf)
        except (AttributeError, RuntimeError):  # a tensor subclass without attributes: this call's map only
            pass
    return buf


# jfa_attention_params_t.flags bit: use `scale` as given (0.0 included) instead of 0 = default.
# 0 while the loaded binding predates the flags field (then scale=0.0 is refused, never misread).
SCALE_AS_GIVEN = _lib.PARAMS_SCALE_AS_GIVEN


def check_bool(value, name):
    """SDPA's bool arguments (is_causal, enable_gqa) as bools: a bool or numpy's, else a TypeError as SDPA's argument
    parser raises. A truthy object is never taken for True: is_causal="False" would turn the causal mask on."""
    if isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool")):
        return bool(value)  # numpy 1's numpy.bool_, numpy 2's numpy.bool
    raise TypeError("jfa: %s must be a bool, got %s" % (name, type(value).__name__))


def scale_value(scale):
    """A scale given as a number or a tensor, as a float: a tensor that requires grad or carries a forward-mode
    tangent is refused (the derivative with respect to the scale is not computed), not taken as a constant."""
    if isinstance(scale, torch.Tensor) and ((scale.requires_grad and torch.is_grad_enabled()) or
                                            (forward_ad_open() and _unpack_dual(scale)[1] is not None)):
        raise NotImplementedError("jfa: scale is a tensor that requires grad or carries a forward-mode tangent; the "
                                  "derivative with respect to the scale is not computed (a learned temperature "
                                  "cannot train through jfa): pass a float or scale.detach()")
    if isinstance(scale, (str, bytes, bytearray)):  # float("0.5") would take a string, as SDPA does not
        raise TypeError("jfa: scale must be a number, a one-element tensor or None, got %s" % type(scale).__name__)
    return float(scale)


def check_scale(scale):
    """SDPA's scale: None (1/sqrt(E), passed as 0 without flags) or a finite float used as given
    (0 and negative included: JFA_PARAMS_SCALE_AS_GIVEN). Returns (scale, flags)."""
    if scale is None:
        return 0.0, 0
    scale = scale_value(scale)
    if not math.isfinite(scale):
        raise ValueError("jfa: scale must be a finite number (or None for 1/sqrt(E)), got %r" % scale)
    return scale, SCALE_AS_GIVEN


class Config:
    """What a call computes besides its tensors: scale, causal mode, masks (hashable parts only).

    scale None is 1/sqrt(E); any finite number (zero and negative included, as in
    F.scaled_dot_product_attention) is used as given."""
    __slots__ = ("scale", "mask", "attn_mask", "window", "cu_seqlens", "flags", "params", "mask_src", "map_fwd")

    def __init__(self, scale=None, mask=_lib.MASK_NONE, attn_mask=None, window=(-1, -1), cu_seqlens=None,
                 mask_src=None):
        scale, flags = check_scale(scale)
        self.scale, self.mask, self.attn_mask, self.window, self.cu_seqlens = scale, mask, attn_mask, window, cu_seqlens
        self.mask_src = mask_src  # the caller's attn_mask tensor, whose block map mask_map keeps (None: not kept)
        self.map_fwd = False  # a call whose backward follows (_api._attend): its forward builds the map for both
        self.flags = flags
        self.params = None  # (jfa_attention_params_t, what it points to), built on first use


def _params(cfg):
    """(params struct, what it points to, a c_void_p of the struct) of a Config, built once per Config
    (a copy with other fields, _vmap.config_with, starts without: its own is built on first use)."""
    p = cfg.params
    if p is None:
        s, keep = make_params(cfg)
        p = cfg.params = (s, keep, ctypes.c_void_p(ctypes.addressof(s)))
    return p


# A layout of a 4-d (B, H, S, D) output, not a torch memory format: (B, S, H, D) memory (_ops.py's attention_fwd)
BSHD = "bshd"


def empty_like(t, fmt=None):
    """torch.empty_like(t), or in memory format fmt (the custom operators: torch.contiguous_format, or BSHD,
    layouts that do not depend on t's strides)."""
    if fmt is None:
        return torch.empty_like(t)
    if fmt is BSHD:
        return torch.empty_like(t.transpose(1, 2), memory_format=torch.contiguous_format).transpose(1, 2)
    return torch.empty_like(t, memory_format=fmt)


def forward(q, k, v, cfg, qd=None, kd=None, vd=None, fmt=None, like=None, stats=True, mu_out=True):
    """o, lse (and od, mu when tangents are given) in one call; fmt: the outputs' memory format
    (None: empty_like's). like: the tensor o and od are allocated like (default: q's storage), e.g. the
    primal at a torch.func.jvp level so that they are that level's tensors. stats=False: lse and mu
    are not made (NULL to jfa, which then only skips their stores) and come back as None;
    mu_out=False: mu alone is not made (a caller that keeps lse for the backward but not mu).

    Under an active functorch transform a tensor made here is that transform's wrapper even when made
    from plain storage: the views are then of the storage underneath (plain)."""
    q, k, v = plain(q), plain(k), plain(v)
    ctx = context_for(q)
    par = _params(cfg)  # held for the call: it owns the struct pref points to
    pref = par[2]
    o = empty_like(q if like is None else like, fmt)
    lse = new_stat(q) if stats else None
    wrapped = _functorch_active()
    if qd is None:
        po, plse = (plain(o), plain(lse)) if wrapped else (o, lse)
        _call(ctx.c_forward(ctx.handle, pref, _view(q, "q"), _view(k, "k"), _view(v, "v"), _view(po),
                            None if lse is None else _view(plse)))
        return o, lse, None, None
    qd, kd, vd = plain(qd), plain(kd), plain(vd)
    od = empty_like(q if like is None else like, fmt)
    mu = new_stat(q) if stats and mu_out else None
    po, plse, pod, pmu = (plain(o), plain(lse), plain(od), plain(mu)) if wrapped else (o, lse, od, mu)
    _call(ctx.c_forward_jvp(ctx.handle, pref, _view(q, "q"), _view(k, "k"), _view(v, "v"), _view(qd, "qd"),
                            _view(kd, "kd"), _view(vd, "vd"), _view(po), None if lse is None else _view(plse),
                            _view(pod), None if mu is None else _view(pmu)))
    return o, lse, od, mu


def backward(q, k, v, o, lse, do, cfg, fmt=None):
    """dq, dk, dv from the saved o and lse (fmt: their memory format, as forward's; tensors made under
    a functorch transform viewed through plain, as there)."""
    q, k, v, o, lse, do = plain(q), plain(k), plain(v), plain(o), plain(lse), plain(do)
    ctx = context_for(q)
    par = _params(cfg)  # held for the call: it owns the struct pref points to
    pref = par[2]
    if do.dtype != q.dtype:
        do = do.to(q.dtype)
    dq, dk, dv = empty_like(q, fmt), empty_like(k, fmt), empty_like(v, fmt)
    if _functorch_active():
        do, pq, pk, pv = plain(do), plain(dq), plain(dk), plain(dv)
    else:
        pq, pk, pv = dq, dk, dv
    _call(ctx.c_backward(ctx.handle, pref, _view(q, "q"), _view(k, "k"), _view(v, "v"), _view(o, "o"),
                         _view(lse, "lse"), _view(do, "dO"), _view(pq), _view(pk), _view(pv)))
    return dq, dk, dv
