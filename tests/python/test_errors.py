"""
test_errors.py - bad input raises before anything is written, with jfa's message.
"""
import pytest
import torch

import jfa
import jfa.torch as jt


def _t(*shape, dtype=torch.float64):
    return torch.randn(*shape, dtype=dtype)


def test_bad_inputs_raise():
    q, k, v = _t(1, 2, 5, 8), _t(1, 2, 6, 8), _t(1, 2, 6, 8)
    with pytest.raises(TypeError, match="dtype"):
        jt.attention(q, k.float(), v)
    with pytest.raises(TypeError, match="dtype"):
        jt.attention(q.half(), k.half(), v.half())  # float16 is CUDA only
    with pytest.raises(ValueError, match="enable_gqa"):
        jt.attention(_t(1, 4, 5, 8), k, v)
    with pytest.raises(ValueError, match="divide"):
        jt.attention(_t(1, 3, 5, 8), k, v, enable_gqa=True)
    with pytest.raises(ValueError, match="head dim"):
        jt.attention(q, k, _t(1, 2, 6, 4))
    with pytest.raises(NotImplementedError, match="dropout"):
        jt.attention(q, k, v, dropout_p=0.1)
    with pytest.raises(ValueError, match="causal_alignment"):
        jt.attention(q, k, v, is_causal=True, causal_alignment="middle")
    with pytest.raises(ValueError, match="scale"):
        jt.attention(q, k, v, scale=float("nan"))
    with pytest.raises(TypeError):
        jt.attention(q.numpy(), k, v)


def test_integer_arguments_not_truncated():
    """Window sides and packed-sequence offsets must be integers: a float (2.7) or a bool raised nothing and was
    truncated (int(2.7) = 2) before the forty-fourth session's review; a window side past int64 wrapped in ctypes'
    int64 (2**64 read as 0: the (0, 0) window, 0.51 off) and is now as wide as any side past the sequence."""
    import numpy as np
    x = _t(1, 2, 10, 4)
    for w in [(1.9, 0), (True, 0), (np.float64(2.0), 0), (torch.tensor(2.0), 0), (0, torch.tensor(True))]:
        with pytest.raises(TypeError, match="window side must be an integer"):
            jt.attention(x, x, x, window=w)
    full = jt.attention(x, x, x)
    assert torch.equal(jt.attention(x, x, x, window=(2 ** 64, 2 ** 70)), full)
    assert torch.equal(jt.attention(x, x, x, window=(2 ** 64 + 3, None)), full)
    three = jt.attention(x, x, x, window=(3, 3))
    assert torch.equal(jt.attention(x, x, x, window=(np.int64(3), torch.tensor(3))), three)
    q = _t(10, 2, 4)
    for cu in [[0, 2.7, 10], np.array([0.0, 2.9, 10.0]), [False, True, 10]]:
        with pytest.raises(TypeError, match="each entry of cu_seqlens_q must be an integer"):
            jt.varlen_attention(q, q, q, cu)
    with pytest.raises(TypeError, match="integer"):
        jt.varlen_attention(q, q, q, torch.tensor([0.0, 3.0, 10.0]))
    ref = jt.varlen_attention(q, q, q, [0, 3, 10])
    for cu in [[0, np.int32(3), 10], np.array([0, 3, 10]), torch.tensor([0, 3, 10], dtype=torch.int32)]:
        assert torch.equal(jt.varlen_attention(q, q, q, cu), ref)
    with pytest.raises(TypeError, match="each entry of cu_seqlens_k"):
        jt.varlen_attention(q, _t(12, 2, 4), _t(12, 2, 4), [0, 3, 10], [0, 2.5, 12])
    with pytest.raises(ValueError, match="cu_seqlens_q when not given"):  # the default the caller did not write
        jt.varlen_attention(q, _t(12, 2, 4), _t(12, 2, 4), [0, 3, 10])


def test_c_error_surfaces_with_message():
    """An error found by the C library is a jfa.JfaError carrying jfa's status and message."""
    q = _t(1, 2, 5, 300)  # D = 300 is fine on the CPU; an overlapping output is not: call the core directly
    from jfa.torch import _core
    cfg = _core.Config()
    buf = torch.empty(2 * 5 * 300 + 7, dtype=torch.float64)
    with pytest.raises(jfa.JfaError, match="JFA_ERROR_INVALID_ARGUMENT"):
        # o aliasing q: rejected by jfa's validation
        import ctypes
        L = jfa._lib.lib()
        ctx = _core.context(q.device)
        qq = buf[:2 * 5 * 300].view(1, 2, 5, 300)
        jq = _core.jfa_tensor(qq)
        lse = _core.new_stat(qq)
        params, keep = _core.make_params(cfg)
        jfa._lib.check(L.jfa_attention_forward(ctx.handle, ctypes.byref(params), _core.ref(jq), _core.ref(jq),
                                               _core.ref(jq), _core.ref(jq), _core.ref(_core.jfa_tensor(lse))))


def test_library_lookup_message(monkeypatch, tmp_path):
    """A missing library names every place it looked."""
    import importlib
    from jfa import _lib
    saved = _lib._lib
    try:
        _lib._lib = None
        monkeypatch.setattr(_lib, "candidate_paths", lambda: [str(tmp_path / "nowhere" / "libjfa.so")])
        with pytest.raises(ImportError, match="nowhere"):
            _lib.lib()
    finally:
        _lib._lib = saved
    importlib.reload  # keep the module loaded


def test_ring_needs_process_group():
    q = _t(1, 2, 8, 4)
    with pytest.raises(RuntimeError, match="process group"):
        jt.ring_attention(q, q, q)
    with pytest.raises(ValueError, match="divide"):
        jt.shard(_t(1, 1, 10, 2), 0, 3, "zigzag")
