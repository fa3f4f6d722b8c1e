"""
jfa - exact attention with forward-mode derivatives (JVP) and backward, on one
device and as ring (sequence-parallel) attention. This package binds the C
library libjfa with ctypes; `jfa.torch` is the PyTorch front end:

    from jfa.torch import attention          # drop-in for F.scaled_dot_product_attention
    o = attention(q, k, v, is_causal=True)   # autograd, forward AD, torch.func.jvp

See README.md of the repository for the ring (jfa.torch.ring_attention).
"""
from ._lib import JfaError, cuda_available, version  # noqa: F401

__version__ = "0.2.0"
__all__ = ["JfaError", "cuda_available", "version", "__version__"]
