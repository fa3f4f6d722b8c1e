"""
_lib.py - ctypes binding of libjfa's C API (include/jfa.h, include/jfa_ring.h).

Finds the shared library, declares the structs and prototypes, and turns a
failing jfa_status_t into a Python exception carrying jfa's message. Nothing
here knows about PyTorch; jfa.torch builds on it.

The library is looked up, in order:
  1. next to this package (a libjfa.so copied in by `pip install ./python`, python/setup.py),
  2. the path in the environment variable JFA_LIBRARY,
  3. the CMake build directory of the source tree (<repo>/build, or $JFA_BUILD_DIR),
  4. libjfa.so.<major> through the dynamic loader (LD_LIBRARY_PATH, the ld.so cache): a
     library installed with `cmake --install` into a prefix the loader searches.
A library found there is used only if it is compatible with this binding (README.md,
"ABI policy"): its jfa_version() has VERSION's major and at least its minor, and it
accepts the binding's struct layouts (tag and size, see "Versioned structs" in
include/jfa.h). One that is not is skipped with a warning that names it and says
why; when none is usable, ImportError lists every library tried and the reason.

The structs below are the versioned structs of jfa.h: constructing one fills its
tag, size and defaults through the library's *_init_versioned function.
"""
import ctypes
import os
import warnings

_HERE = os.path.dirname(os.path.abspath(__file__))

# The libjfa version this binding was written for (JFA_VERSION_* of include/jfa.h;
# tests/abi checks that they agree). jfa.__version__ is this version.
VERSION = (0, 6, 0)
# Versioned structs (jfa.h): layout versions of this binding's declarations.
STRUCT_MAGIC = 0xFFF71FA0
STRUCT_ATTENTION_PARAMS, STRUCT_RING_CONFIG, STRUCT_COMM_CALLBACKS = 1, 2, 3
ATTENTION_PARAMS_VERSION, RING_CONFIG_VERSION, COMM_CALLBACKS_VERSION = 2, 1, 1
# jfa_context_set_flags bits (JFA_FLAG_*): bitwise reproducible backward; float32 matmuls in one
# TF32 product on CUDA tensor cores (else 3xTF32, float32 accuracy)
FLAG_DETERMINISTIC, FLAG_ALLOW_TF32 = 1 << 0, 1 << 1
# jfa_attention_params_t.flags / jfa_ring_config_t.flags
PARAMS_SCALE_AS_GIVEN = 1 << 0  # scale is used as given, 0 included (else 0 means 1/sqrt(D))
PARAMS_SEQLENS_DEVICE = 1 << 1  # cu_seqlens_q / _k are device arrays, read by the kernels (CUDA graph capture)
SCALE_MAX = 2.0 ** 16           # JFA_SCALE_MAX: larger |scale| is refused

# jfa_status_t
SUCCESS = 0
STATUS_NAMES = {
    0: "JFA_SUCCESS", 1: "JFA_ERROR_INVALID_ARGUMENT", 2: "JFA_ERROR_UNSUPPORTED", 3: "JFA_ERROR_CUDA",
    4: "JFA_ERROR_NCCL", 5: "JFA_ERROR_MPI", 6: "JFA_ERROR_OUT_OF_MEMORY", 7: "JFA_ERROR_INTERNAL",
    8: "JFA_ERROR_ABI_MISMATCH",
}
# jfa_dtype_t, jfa_device_t, jfa_mask_t, jfa_layout_t
DTYPE_FLOAT64, DTYPE_FLOAT32, DTYPE_FLOAT16, DTYPE_BFLOAT16, DTYPE_BOOL = 0, 1, 2, 3, 4
DEVICE_CPU, DEVICE_CUDA = 0, 1
MASK_NONE, MASK_CAUSAL_TOP_LEFT, MASK_CAUSAL_BOTTOM_RIGHT, MASK_CAUSAL_POSITIONS, MASK_POSITIONS = 0, 1, 2, 3, 4
MASK_BOTTOM_RIGHT = 5  # not causal, a window anchored bottom-right (jfa 0.6)
LAYOUT_CONTIGUOUS, LAYOUT_ZIGZAG = 0, 1
WINDOW_UNBOUNDED = -1
NCCL_UNIQUE_ID_BYTES = 128


class JfaError(RuntimeError):
    """A jfa call failed. `status` is the jfa_status_t name, the message is jfa's."""

    def __init__(self, status, message):
        self.status = STATUS_NAMES.get(status, "JFA_ERROR_UNKNOWN(%d)" % status)
        self.code = status
        super().__init__("%s: %s" % (self.status, message))


class Tensor(ctypes.Structure):
    """jfa_tensor_t: a strided (batch, heads, seq, dim) view."""
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int), ("device", ctypes.c_int),
                ("shape", ctypes.c_int64 * 4), ("stride", ctypes.c_int64 * 4)]


class _Versioned(ctypes.Structure):
    """A versioned struct of jfa.h: a new instance holds its tag, size and defaults,
    written by the library's init (which checks that it knows this layout)."""
    _init_name, _version = None, None

    def __init__(self, **fields):
        super().__init__()
        _init_struct(lib(), self)  # tag, size and defaults first: the caller's fields go on top
        for name, value in fields.items():
            setattr(self, name, value)


class AttentionParams(_Versioned):
    """jfa_attention_params_t (layout version 2)."""
    _init_name, _version = "jfa_attention_params_init_versioned", ATTENTION_PARAMS_VERSION
    _fields_ = [("struct_tag", ctypes.c_uint64), ("struct_size", ctypes.c_uint64),
                ("scale", ctypes.c_double), ("mask", ctypes.c_int), ("q_position", ctypes.c_int64),
                ("k_position", ctypes.c_int64), ("attn_mask", ctypes.POINTER(Tensor)),
                ("window_left", ctypes.c_int64), ("window_right", ctypes.c_int64),
                ("cu_seqlens_q", ctypes.POINTER(ctypes.c_int64)), ("cu_seqlens_k", ctypes.POINTER(ctypes.c_int64)),
                ("num_seqs", ctypes.c_int64), ("flags", ctypes.c_uint32), ("mask_map", ctypes.c_void_p),
                ("mask_map_bytes", ctypes.c_uint64)]


class RingConfig(_Versioned):
    """jfa_ring_config_t (layout version 1)."""
    _init_name, _version = "jfa_ring_config_init_versioned", RING_CONFIG_VERSION
    _fields_ = [("struct_tag", ctypes.c_uint64), ("struct_size", ctypes.c_uint64),
                ("batch", ctypes.c_int64), ("heads_q", ctypes.c_int64), ("heads_kv", ctypes.c_int64),
                ("seq_global", ctypes.c_int64), ("head_dim", ctypes.c_int64), ("dtype", ctypes.c_int),
                ("layout", ctypes.c_int), ("mask", ctypes.c_int), ("scale", ctypes.c_double),
                ("window_left", ctypes.c_int64), ("window_right", ctypes.c_int64),
                ("cu_seqlens", ctypes.POINTER(ctypes.c_int64)), ("num_seqs", ctypes.c_int64),
                ("flags", ctypes.c_uint32)]


EXCHANGE_START = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                  ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t))
EXCHANGE_WAIT = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
ALLREDUCE_MINMAX = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int64),
                                    ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64), ctypes.c_int)
BARRIER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
DESTROY = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class CommCallbacks(_Versioned):
    """jfa_comm_callbacks_t (layout version 1)."""
    _init_name, _version = "jfa_comm_callbacks_init_versioned", COMM_CALLBACKS_VERSION
    _fields_ = [("struct_tag", ctypes.c_uint64), ("struct_size", ctypes.c_uint64), ("user", ctypes.c_void_p), ("exchange_start", EXCHANGE_START), ("exchange_wait", EXCHANGE_WAIT),
                ("allreduce_minmax", ALLREDUCE_MINMAX), ("barrier", BARRIER), ("destroy", DESTROY)]


def candidate_paths():
    """Where the library is looked for, in order (see the module doc)."""
    paths = []
    for name in sorted(os.listdir(_HERE)):
        if name.startswith("libjfa.so") or name == "libjfa.dylib":
            paths.append(os.path.join(_HERE, name))
    env = os.environ.get("JFA_LIBRARY")
    if env:
        paths.append(env)
    repo = os.path.dirname(os.path.dirname(_HERE))  # python/jfa -> repo
    build = os.environ.get("JFA_BUILD_DIR", "build")
    if not os.path.isabs(build):
        build = os.path.join(repo, build)
    paths.append(os.path.join(build, "libjfa.so"))
    paths.append("libjfa.so.%d" % VERSION[0])  # a bare SONAME: the dynamic loader's search (installed)
    return paths


_lib = None
_VERSIONED = (AttentionParams, RingConfig, CommCallbacks)


def _init_struct(h, obj):
    """Fills a versioned struct through the library's init; raises JfaError if it refuses the layout."""
    cls = type(obj)
    _check_with(h, getattr(h, cls._init_name)(ctypes.byref(obj), ctypes.sizeof(cls), cls._version))


def _version_str(v):
    return "%d.%d.%d" % tuple(v)


def _refusal(h):
    """Why a loaded library cannot serve this binding (None when it can)."""
    want = _version_str(VERSION)
    try:
        h.jfa_version.restype, h.jfa_version.argtypes = ctypes.c_int, []
        v = h.jfa_version()
    except AttributeError:
        return "it has no jfa_version(): not a libjfa; this binding needs libjfa %s" % want
    have = (v // 10000, (v // 100) % 100, v % 100)
    if have[0] != VERSION[0] or have[1] < VERSION[1]:
        return ("it is libjfa %s, and this binding (jfa %s) needs libjfa %d.%d.x or a later %d.x "
                "(ABI policy in README.md): rebuild the library from this source tree, or point JFA_LIBRARY "
                "at a matching one" % (_version_str(have), want, VERSION[0], VERSION[1], VERSION[0]))
    for cls in _VERSIONED:
        fn = getattr(h, cls._init_name, None)
        if fn is None:
            return "it is libjfa %s but lacks %s" % (_version_str(have), cls._init_name)
        fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32]
        buf = ctypes.create_string_buffer(ctypes.sizeof(cls))
        if fn(buf, ctypes.sizeof(cls), cls._version) != SUCCESS:
            h.jfa_get_last_error.restype = ctypes.c_char_p
            return "it refuses this binding's %s layout: %s" % (cls.__name__, h.jfa_get_last_error().decode())
    return None


def lib():
    """The loaded libjfa (ctypes.CDLL), loaded and checked on first use."""
    global _lib
    if _lib is None:
        tried = []
        for path in candidate_paths():
            if os.sep in path and not os.path.exists(path):
                tried.append(path + " (missing)")
                continue
            try:
                handle = ctypes.CDLL(path)
            except OSError as e:
                tried.append("%s (%s)" % (path, e))
                continue
            why = _refusal(handle)
            if why is not None:
                tried.append("%s (refused: %s)" % (path, why))
                warnings.warn("jfa: not using %s: %s" % (path, why), RuntimeWarning, stacklevel=2)
                continue
            _declare(handle)
            _lib = handle
            _lib_path[0] = path
            break
        if _lib is None:
            raise ImportError("jfa: cannot load a libjfa for this binding (jfa %s); looked in:\n  " % _version_str(VERSION)
                              + "\n  ".join(tried) +
                              "\nBuild it (./launch/build.sh) and set JFA_LIBRARY=<path to libjfa.so>, or "
                              "pip install ./python after building.")
    return _lib


_lib_path = [None]


def library_path():
    """The path of the loaded libjfa (loading it if needed)."""
    lib()
    return _lib_path[0]


def _declare(h):
    c_int, c_i64, c_vp, c_size = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t
    P = ctypes.POINTER
    vpp = P(c_vp)
    T = P(Tensor)
    protos = {
        "jfa_version": (c_int, []),
        "jfa_status_string": (ctypes.c_char_p, [c_int]),
        "jfa_get_last_error": (ctypes.c_char_p, []),
        "jfa_cuda_available": (c_int, [P(c_int)]),
        "jfa_context_create": (c_int, [vpp, c_int, c_int]),
        "jfa_context_destroy": (c_int, [c_vp]),
        "jfa_context_set_stream": (c_int, [c_vp, c_vp]),
        "jfa_context_set_flags": (c_int, [c_vp, ctypes.c_uint]),
        "jfa_context_synchronize": (c_int, [c_vp]),
        "jfa_attention_params_init_versioned": (c_int, [c_vp, ctypes.c_uint64, ctypes.c_uint32]),
        "jfa_attention_forward": (c_int, [c_vp, P(AttentionParams), T, T, T, T, T]),
        "jfa_attention_forward_jvp": (c_int, [c_vp, P(AttentionParams), T, T, T, T, T, T, T, T, T, T]),
        "jfa_attention_backward": (c_int, [c_vp, P(AttentionParams), T, T, T, T, T, T, T, T, T]),
        "jfa_attention_mask_map_bytes": (c_int, [c_vp, T, P(ctypes.c_uint64)]),
        "jfa_attention_mask_map_build": (c_int, [c_vp, T, c_vp, ctypes.c_uint64]),
        "jfa_comm_create_single": (c_int, [vpp]),
        "jfa_comm_nccl_unique_id": (c_int, [c_vp, c_size]),
        "jfa_comm_create_nccl_from_id": (c_int, [vpp, c_vp, c_size, c_int, c_int, c_int]),
        "jfa_comm_create_callbacks": (c_int, [vpp, P(CommCallbacks), c_int, c_int]),
        "jfa_comm_destroy": (c_int, [c_vp]),
        "jfa_ring_config_init_versioned": (c_int, [c_vp, ctypes.c_uint64, ctypes.c_uint32]),
        "jfa_comm_callbacks_init_versioned": (c_int, [c_vp, ctypes.c_uint64, ctypes.c_uint32]),
        "jfa_ring_create": (c_int, [vpp, c_vp, c_vp, P(RingConfig)]),
        "jfa_ring_destroy": (c_int, [c_vp]),
        "jfa_ring_forward": (c_int, [c_vp, T, T, T, T, T]),
        "jfa_ring_forward_jvp": (c_int, [c_vp, T, T, T, T, T, T, T, T, T, T]),
        "jfa_ring_backward": (c_int, [c_vp, T, T, T, T, T, T, T, T, T]),
        "jfa_ring_memory_bytes": (c_int, [c_vp, P(c_size)]),
        "jfa_ring_release_memory": (c_int, [c_vp]),
        "jfa_ring_set_seqlens": (c_int, [c_vp, P(c_i64), c_i64]),
        "jfa_layout_chunk": (c_int, [c_int, c_i64, c_int, c_int, c_int, P(c_i64), P(c_i64)]),
    }
    for name, (res, args) in protos.items():
        fn = getattr(h, name)
        fn.restype = res
        fn.argtypes = args
    # Private queries of the CUDA dispatch (src/core/backend.h), for the tests: the kernel family
    # and the float32 arithmetic of a context's last call, and its last forward's route within the
    # family (sm90: persistent 1, MASKED 2, a window as a band 4). Absent from builds that predate them.
    for name in ("jfa_cuda_last_kernel", "jfa_cuda_last_precision"):
        fn = getattr(h, name, None)
        if fn is not None:
            fn.restype = c_int
            fn.argtypes = [c_vp, c_int]
    fn = getattr(h, "jfa_cuda_last_route", None)
    if fn is not None:
        fn.restype = c_int
        fn.argtypes = [c_vp]
    # The exported jfa_attention_params_init / jfa_ring_config_init are jfa 0.1's (untagged
    # layouts, for old binaries); in C, jfa.h makes these names macros for the versioned inits.
    # The same here: callers of h.jfa_*_init(byref(struct)) get the versioned init.
    for name, cls in (("jfa_attention_params_init", AttentionParams), ("jfa_ring_config_init", RingConfig),
                      ("jfa_comm_callbacks_init", CommCallbacks)):
        setattr(h, name, _versioned_init(h, cls))


def _versioned_init(h, cls):
    init = getattr(h, cls._init_name)

    def call(ref):
        """Fills a %s (passed by ctypes.byref) with its tag, size and defaults.""" % cls.__name__
        _check_with(h, init(ref, ctypes.sizeof(cls), cls._version))
    return call


def _check_with(h, status):
    """check() against library handle h (also while it is being loaded, before lib() returns it)."""
    if status != SUCCESS:
        msg = h.jfa_get_last_error()
        raise JfaError(status, msg.decode("utf-8", "replace") if msg else "")


def check(status):
    """Raises JfaError with jfa's last error message unless status is JFA_SUCCESS."""
    _check_with(lib(), status)


def version():
    """The linked library's version as (major, minor, patch)."""
    v = lib().jfa_version()
    return v // 10000, (v // 100) % 100, v % 100


def cuda_available():
    """Whether libjfa was built with CUDA and sees a GPU."""
    n = ctypes.c_int(0)
    return bool(lib().jfa_cuda_available(ctypes.byref(n)))
