"""
jvp_attention.py - the module path of the Triton JVP package
(`jvp_flash_attention.jvp_attention`), so that switching is one import line:

    from jfa.torch.jvp_attention import attention as jvp_attention, JVPAttn
"""
from ._api import JVPAttn  # noqa: F401

attention = JVPAttn.fwd
__all__ = ["attention", "JVPAttn"]
