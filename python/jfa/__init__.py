"""
jfa - exact attention with forward-mode derivatives (JVP) and backward, on one
device and as ring (sequence-parallel) attention. This package binds the C
library libjfa with ctypes; `jfa.torch` is the PyTorch front end:

    from jfa.torch import attention          # drop-in for F.scaled_dot_product_attention
    o = attention(q, k, v, is_causal=True)   # autograd, forward AD, torch.func.jvp

See README.md of the repository for the ring (jfa.torch.ring_attention).
"""
from ._lib import VERSION as _VERSION
from ._lib import JfaError, cuda_available, library_path, version  # noqa: F401

# The libjfa version this binding is written for (the version of include/jfa.h); the
# loaded library's own is version(), checked against this one when it is loaded.
__version__ = "%d.%d.%d" % _VERSION
__all__ = ["JfaError", "cuda_available", "library_path", "version", "__version__"]
