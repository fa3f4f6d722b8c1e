"""
conftest.py - shared pieces of the Python binding's tests: the package on the
path, a seed printed per test (fresh random inputs each run; JFA_TEST_SEED
repeats one), the float64 reference written with plain torch ops, the relative
error, and the devices/dtypes to test (the `gpu` marker for CUDA cases).
"""
import os
import random
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))

TORCH_MAJOR = int(torch.__version__.split(".")[0])
HAS_TORCH_FUNC = TORCH_MAJOR >= 2  # torch.func and autograd.Function under transforms: torch >= 2.0


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU (ctest label gpu)")
    config.addinivalue_line("markers", "slow: a long compile (inductor on the CPU); leave out with -m 'not slow'")


@pytest.fixture
def gen(request):
    """A torch.Generator seeded freshly per test; the seed is printed (pytest -s, or on failure)."""
    seed = int(os.environ.get("JFA_TEST_SEED", random.randrange(1 << 31)))
    print("\n[seed %d] %s" % (seed, request.node.name))
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(gen, shape, dtype, device, scale=1.0):
    """Random normal values drawn on the CPU in float64, then rounded to dtype and moved."""
    return (torch.randn(shape, generator=gen, dtype=torch.float64) * scale).to(dtype).to(device)


def reference(q, k, v, attn_mask=None, is_causal=False, scale=None, alignment="top_left", window=None):
    """Attention from the definition, in float64 with plain torch ops (differentiable in every mode).

    Fully masked rows give 0 (jfa's convention); NaN anywhere propagates as in the math."""
    q, k, v = q.double(), k.double(), v.double()
    Hq, Hkv = q.shape[-3], k.shape[-3]
    if Hq != Hkv:
        k = k.repeat_interleave(Hq // Hkv, dim=-3)
        v = v.repeat_interleave(Hq // Hkv, dim=-3)
    L, S, E = q.shape[-2], k.shape[-2], q.shape[-1]
    s = (q @ k.transpose(-1, -2)) * (scale if scale is not None else E ** -0.5)
    allowed = torch.ones(L, S, dtype=torch.bool, device=q.device)
    qpos = torch.arange(L, device=q.device).unsqueeze(1) + (S - L if alignment == "bottom_right" else 0)
    kpos = torch.arange(S, device=q.device).unsqueeze(0)
    if is_causal:
        allowed &= kpos <= qpos
    if window is not None:
        left, right = window
        if left is not None and left >= 0:
            allowed &= kpos >= qpos - left
        if right is not None and right >= 0:
            allowed &= kpos <= qpos + right
    s = s.masked_fill(~allowed, float("-inf"))
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            s = s.masked_fill(~attn_mask, float("-inf"))
        else:
            s = s + attn_mask.double()
    m = s.amax(-1, keepdim=True)
    m = torch.where(torch.isfinite(m), m, torch.zeros_like(m)).detach()
    p = torch.exp(s - m)
    l = p.sum(-1, keepdim=True)
    return (p / torch.where(l == 0, torch.ones_like(l), l)) @ v  # l NaN stays NaN (SDPA's math)


def relerr(out, ref):
    """||out - ref|| / ||ref|| in float64; NaN anywhere fails (returns inf)."""
    out, ref = out.double(), ref.double()
    if not torch.isfinite(out).all():
        return float("inf")
    den = ref.norm().item()
    return (out - ref).norm().item() / (den if den > 0 else 1.0)


def devices_dtypes():
    """(device, dtype, tolerance) cases: the CPU always, CUDA (marked gpu) when present."""
    cases = [pytest.param("cpu", torch.float64, 1e-12, id="cpu-f64"),
             pytest.param("cpu", torch.float32, 1e-5, id="cpu-f32")]
    for dt, tol, name in ((torch.float32, 1e-5, "f32"), (torch.float16, 3e-3, "f16"), (torch.bfloat16, 1.5e-2, "bf16")):
        cases.append(pytest.param("cuda", dt, tol, id="cuda-" + name, marks=pytest.mark.gpu))
    return cases


@pytest.fixture(autouse=True)
def _skip_without_cuda(request):
    if request.node.get_closest_marker("gpu") and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
