"""
test_f32_precision.py - jfa.torch follows PyTorch's own float32 matmul switch on CUDA:
torch.set_float32_matmul_precision("highest") runs the float32 tensor-core kernels in 3xTF32
(float32 accuracy), "high" / "medium" (and torch.backends.cuda.matmul.allow_tf32 = True) in one
TF32 product. Which ran is read through the private dispatch queries of the library
(jfa_cuda_last_kernel: 1 = the sm80 family, 2 = sm90 (its float32 kernel in JFA_SM90_F32 builds, on
compute capability 9.0); jfa_cuda_last_precision: 3 = 3xTF32, 1 = TF32)
and seen in the error against float64. CUDA only (gpu marker).
"""
import os

import pytest
import torch
import torch.autograd.forward_ad as fwAD

from conftest import randn, reference, relerr

import jfa.torch as jt
from jfa import _lib
from jfa.torch import _core

pytestmark = pytest.mark.gpu

SM80, SM90, TF32, X3 = 1, 2, 1, 3


def _last(q):
    L = _lib.lib()
    assert hasattr(L, "jfa_cuda_last_precision"), "libjfa does not export the dispatch queries"
    h = _core.context(q.device).handle
    torch.cuda.synchronize()
    return L.jfa_cuda_last_kernel(h, 0), L.jfa_cuda_last_precision(h, 0)


@pytest.fixture
def restore_precision():
    saved = torch.get_float32_matmul_precision()
    yield
    torch.set_float32_matmul_precision(saved)


def _row_built(D, jvp):
    """Whether the build compiled the tensor-core row a float32 call at head dim D runs on (JFA_TEST_HEAD_DIMS, set by
    CMake from JFA_HEAD_DIMS; unset or empty: every row): the next row up, the forward at 160 / 192 on the 256 row."""
    dims = [int(x) for x in os.environ.get("JFA_TEST_HEAD_DIMS", "").split(",") if x.strip()]
    if not dims:
        return True
    rows = [32, 64, 96, 128, 160, 192, 256] if jvp else [32, 64, 96, 128, 256]
    row = next((r for r in rows if D <= r), None)
    return row is not None and row in dims


def _expect(want, D, jvp=False):
    """(families, arithmetic) expected for a float32 call at head dim D: simt ({0}, 0) when JFA_KERNEL_PATH caps the
    choice there or the build left D's row out (JFA_HEAD_DIMS); sm80, or on compute capability 9.0 also sm90 (whose
    float32 kernel JFA_SM90_F32 builds have)."""
    path = os.environ.get("JFA_KERNEL_PATH")
    if path == "simt" or not _row_built(D, jvp):
        return {0}, 0
    if torch.cuda.get_device_capability() == (9, 0) and path not in ("sm80", "mma"):
        return {SM80, SM90}, want
    return {SM80}, want


def _ran(q, want, jvp=False):
    fam, prec = _last(q)
    fams, prec_want = _expect(want, q.shape[-1], jvp)
    return fam in fams and prec == prec_want


@pytest.mark.parametrize("setting, want", [("highest", X3), ("high", TF32), ("medium", TF32), ("highest", X3)])
def test_matmul_precision_switch(gen, restore_precision, setting, want):
    torch.set_float32_matmul_precision(setting)
    q, k, v, qd, kd, vd = (randn(gen, (1, 2, 300, 64), torch.float32, "cuda") for _ in range(6))
    o = jt.attention(q, k, v, is_causal=True)
    assert _ran(q, want)
    r = reference(q.double(), k.double(), v.double(), is_causal=True)
    tol = 1e-5 if _expect(want, q.shape[-1])[1] != TF32 else 1e-2
    assert relerr(o, r) < tol
    # the fused forward+JVP (forward-mode AD) follows the same switch
    with fwAD.dual_level():
        out = jt.attention(*[fwAD.make_dual(a, b) for a, b in zip((q, k, v), (qd, kd, vd))], is_causal=True)
        o2, _ = fwAD.unpack_dual(out)
    assert _ran(q, want, jvp=True)
    assert relerr(o2, r) < tol


def test_allow_tf32_flag(gen, restore_precision):
    q, k, v = (randn(gen, (1, 2, 128, 128), torch.float32, "cuda") for _ in range(3))
    torch.backends.cuda.matmul.allow_tf32 = True
    jt.attention(q, k, v)
    assert _ran(q, TF32)
    torch.backends.cuda.matmul.allow_tf32 = False
    jt.attention(q, k, v)
    assert _ran(q, X3)


def test_16bit_unaffected(gen, restore_precision):
    torch.set_float32_matmul_precision("high")
    q, k, v = (randn(gen, (1, 2, 128, 64), torch.bfloat16, "cuda") for _ in range(3))
    jt.attention(q, k, v)
    fam, prec = _last(q)
    assert prec == 0  # 16-bit inputs: no float32 arithmetic to choose
