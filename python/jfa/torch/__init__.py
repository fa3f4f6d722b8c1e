"""
jfa.torch - PyTorch front end of jfa.

    from jfa.torch import attention      # F.scaled_dot_product_attention's signature
    o = attention(q, k, v, is_causal=True)

Reverse mode (loss.backward()), forward mode (torch.autograd.forward_ad dual
tensors, torch.func.jvp on torch >= 2.0) and the sCM pattern (jvp, then a loss on
the primal, then backward) all work; primal and tangent come from one fused
call. Second order (create_graph=True double backward, Hessian-vector products,
forward-over-reverse, a loss on the tangent output) is exact (see _second_order.py).
torch.func.vmap, jacrev, jacfwd and hessian work too (torch >= 2.0; _vmap.py folds the
vmapped dim into the batch dim).

Under torch.compile (torch >= 2.4) attention and varlen_attention are the custom
operators of _ops.py (jfa::attention_fwd and its backward): reverse-mode training
compiles with fullgraph=True; forward-mode calls run eagerly (one graph break each).

Drop-in names of the Triton JVP package: `JVPAttn.fwd`, `JVPAttn.fwd_dual`,
`fwd_dual` (and `jfa.torch.jvp_attention.attention`).

Ring (context-parallel) attention over torch.distributed: `ring_attention`,
with `shard` / `unshard` to move between full and per-rank tensors; `ring_release`
drops jfa's cached rings and communicators (before destroy_process_group, or after a
communicator failed).

`set_mask_map_cache(True)` keeps a CUDA attn_mask's block map on the mask tensor across
calls (off by default: a differentiated call's forward builds one that its backward reads,
other calls build their own).
"""
from ._api import JVPAttn, attention, fwd_dual, varlen_attention  # noqa: F401
from ._ring import gather, ring_attention, shard, unshard  # noqa: F401
from ._ring import release as ring_release  # noqa: F401
from ._core import set_mask_map_cache  # noqa: F401

__all__ = ["attention", "varlen_attention", "fwd_dual", "JVPAttn", "ring_attention", "shard", "unshard", "gather",
           "ring_release", "set_mask_map_cache"]
