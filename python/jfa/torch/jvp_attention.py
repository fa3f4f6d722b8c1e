"""
jvp_attention.py - the module path of the Triton JVP package
(`jvp_flash_attention.jvp_attention`), so that switching is one import line:

    from jfa.torch.jvp_attention import attention as jvp_attention, JVPAttn, MASK_CONST

Every public name of that module that its callers use is here (not its Triton
kernels' helpers: create_dropout_mask, the autotuning configs and their filters),
with jfa's meaning where it differs:
MASK_CONST (the additive bias that package's users put on masked entries, -1e2;
with jfa prefer a boolean mask or -inf, which mask exactly), MIN_SEQUENCE_LENGTH
(1: jfa takes any length), HAS_TENSOR_DESC and the device queries (is_cuda,
is_hip, supports_tma, supports_host_descriptor, is_blackwell), which describe the
machine; jfa picks its kernels itself.

attention / JVPAttn.fwd / JVPAttn.fwd_dual take that package's signature,
(q, k, v, attn_mask=None, dropout_p=0.0, causal=False, sm_scale=None,
warp_specialize=True, USE_TMA=True), the last two accepted and ignored; another
keyword (SDPA's is_causal or scale) raises TypeError, as there. Differences:
- a floating point attn_mask is added to the scaled scores, softmax(sm_scale QK^T +
  mask), as F.scaled_dot_product_attention adds it; that package's kernels add it
  before the scale, softmax(sm_scale (QK^T + mask)), so a float mask other than
  0 / -inf (MASK_CONST's -1e2, say) weighs differently after the switch: a
  MASK_CONST entry gets exp(-100) in jfa, exp(-100 sm_scale) there (the first float mask
  warns once);
- dropout_p must be 0 (that package samples dropout);
- causal=True with an attn_mask applies both (jfa.torch.attention's rule); that
  package raises ValueError, as SDPA does for is_causal with a mask;
- the output is contiguous, as there (that package copies non-contiguous q, k, v;
  the drop-in copies the output instead when q is not contiguous);
- under torch.autocast the drop-in computes in its inputs' dtype, as that package's
  kernels do (jfa.torch.attention casts them to the autocast dtype, as SDPA);
- JVPAttn.apply, the autograd.Function's own entry there, is not provided.
"""
import torch

from ._api import JVPAttn, fwd_dual  # noqa: F401

MASK_CONST = -1.0e2
MIN_SEQUENCE_LENGTH = 1
HAS_TENSOR_DESC = False  # no Triton tensor descriptors: jfa's kernels are CUDA C


def _capability():
    return torch.cuda.get_device_capability() if torch.cuda.is_available() else (0, 0)


def is_hip():
    """Whether the current device is an AMD GPU (ROCm): jfa runs on CUDA and the CPU only."""
    return getattr(torch.version, "hip", None) is not None and torch.cuda.is_available()


def is_cuda():
    """Whether an NVIDIA CUDA device is the current accelerator."""
    return torch.cuda.is_available() and not is_hip()


def supports_host_descriptor():
    """Whether the current GPU is Hopper or newer (compute capability >= 9)."""
    return is_cuda() and _capability()[0] >= 9


def supports_tma():
    """Whether the current GPU has the Tensor Memory Accelerator (compute capability >= 9)."""
    return supports_host_descriptor()


def is_blackwell():
    """Whether the current GPU is a Blackwell (compute capability 10)."""
    return is_cuda() and _capability()[0] == 10


attention = JVPAttn.fwd
__all__ = ["attention", "JVPAttn", "MASK_CONST", "MIN_SEQUENCE_LENGTH", "HAS_TENSOR_DESC", "is_hip", "is_cuda",
           "supports_host_descriptor", "supports_tma", "is_blackwell"]
