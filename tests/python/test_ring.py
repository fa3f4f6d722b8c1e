"""
test_ring.py - jfa.torch.ring_attention over torch.distributed (gloo) with P
processes against the float64 reference over the whole sequence (see
ring_worker.py); CPU in float64 and float32, and on a GPU through a gloo group
(CUDA buffers staged by the callback communicator). Shard/unshard round trips.
"""
import os
import random
import tempfile

import pytest
import torch
import torch.multiprocessing as mp

import jfa.torch as jt
from ring_worker import spawn_main


def _run(world, backend, device, dtype):
    seed = int(os.environ.get("JFA_TEST_SEED", random.randrange(1 << 31)))
    print("\n[seed %d] ring P=%d %s %s" % (seed, world, device, dtype))
    d = tempfile.mkdtemp()
    init, result = os.path.join(d, "init"), os.path.join(d, "result")
    mp.spawn(spawn_main, args=(world, init, backend, device, dtype, seed, result), nprocs=world)
    fails = [int(open(result + ".%d" % r).read()) for r in range(world)]
    assert fails == [0] * world, fails


@pytest.mark.parametrize("world", [1, 2, 3])
def test_ring_cpu(world):
    _run(world, "gloo", "cpu", torch.float64)


def test_ring_cpu_float32():
    _run(2, "gloo", "cpu", torch.float32)


def test_ring_cpu_small_messages(monkeypatch):
    """Buffers cut into messages of 1000 bytes (the callback comm's _MAX_MESSAGE, 1 GiB by default), sizes that are no
    multiple of it: the same checks against the float64 reference."""
    monkeypatch.setenv("JFA_TEST_RING_MESSAGE", "1000")
    _run(3, "gloo", "cpu", torch.float64)


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_ring_gpu_gloo_two_ranks_one_gpu(dtype):
    _run(2, "gloo", "cuda", dtype)


@pytest.mark.parametrize("layout", ["zigzag", "contiguous"])
@pytest.mark.parametrize("world", [1, 2, 4])
def test_shard_unshard_round_trip(layout, world):
    x = torch.arange(2 * 3 * 8 * world * 2).reshape(2, 3, 8 * world, 2)
    parts = [jt.shard(x, r, world, layout) for r in range(world)]
    assert torch.equal(jt.unshard(parts, layout), x)
    # the rows each rank holds are the ones jfa's C layout assigns (jfa_layout_chunk)
    import ctypes
    from jfa import _lib
    code = {"zigzag": _lib.LAYOUT_ZIGZAG, "contiguous": _lib.LAYOUT_CONTIGUOUS}[layout]
    for r in range(world):
        rows = []
        for c in range(2 if layout == "zigzag" else 1):
            pos, n = ctypes.c_int64(), ctypes.c_int64()
            _lib.check(_lib.lib().jfa_layout_chunk(code, x.shape[2], r, world, c, ctypes.byref(pos), ctypes.byref(n)))
            rows += list(range(pos.value, pos.value + n.value))
        assert torch.equal(parts[r], x[:, :, rows])
