"""
_autocast.py - F.scaled_dot_product_attention's behaviour under torch.autocast, for jfa's own
entry points (attention, varlen_attention, ring_attention).

aten registers scaled_dot_product_attention under autocast's lower_precision_fp policy: inside
torch.autocast for the inputs' device type, every floating point input but float64 (query,
key, value and a floating attn_mask) is cast to the autocast dtype before the call, so that
the output has that dtype and gradients flow back through the casts to the inputs' own
dtypes. jfa does the same where its kernels take the autocast dtypes: on CUDA (float16 and
bfloat16). The CPU backend takes float32 and float64 only, so a CPU call under CPU autocast
computes as outside it (its output keeps the inputs' dtype). After the cast the call runs
with autocast off for that device type (cast_inputs' caller re-enters with it off), so that
no torch op of jfa's own Python code is re-typed by autocast's other policies.

The Triton JVP package's drop-in (JVPAttn.fwd, fwd_dual) keeps that package's behaviour: its
kernels compute in the dtype of their inputs whatever autocast says, so the drop-in runs with
autocast off and no cast (off()).
"""
import contextlib

import torch

# device types whose jfa backend takes both autocast dtypes (float16, bfloat16)
DEVICES = ("cuda",)


def dtype_for(device_type):
    """The dtype autocast asks for on device_type now, or None (autocast off there, or a device jfa does not cast
    for)."""
    if device_type not in DEVICES:
        return None
    if hasattr(torch, "get_autocast_dtype"):  # torch >= 2.4: per device type
        return torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type) else None
    if device_type == "cuda":  # older torch: the CUDA-only functions
        return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None
    return None


def cast(tensors, dtype):
    """The lower_precision_fp cast of a call's tensors: floating point ones but float64 to dtype (dual tensors'
    tangents with them); others (None, boolean masks, integer offsets) as they are."""
    return tuple(t.to(dtype) if isinstance(t, torch.Tensor) and t.is_floating_point() and t.dtype != torch.float64
                 and t.dtype != dtype else t for t in tensors)


def off(device_type):
    """A context with autocast off for device_type (a no-op where jfa does not cast)."""
    if device_type not in DEVICES:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, enabled=False)


def device_type_of(t):
    """t's device type, or None for a non-tensor (whose error comes from the call's own checks)."""
    return t.device.type if isinstance(t, torch.Tensor) else None
