"""
test_leaks.py - nothing of jfa.torch grows across many calls (CPU, seconds): Python objects after a
collection over repeated training-style calls (reverse mode, forward AD, the sCM pattern, double backward,
masks and packed sequences made anew each call, a scale that changes every call), the binding's caches
bounded, no reference cycles left per call (garbage that only the cyclic collector frees: ctypes.cast's
cycle in the packed-sequence params, the per-context function objects, the ring communicator's callbacks),
and the ring's communicators not kept for process groups the caller destroyed.
"""
import ctypes
import gc
import os
import tempfile
import threading

import pytest
import torch
import torch.autograd.forward_ad as fwAD

import jfa.torch as jt
from jfa.torch import _api, _core, _ring


def _cycle_garbage(step, n):
    """The objects that only the cyclic collector frees after n calls of step (gc off meanwhile)."""
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for _ in range(n):
            step()
        gc.collect()
        garbage = list(gc.garbage)
        gc.garbage.clear()
    finally:
        gc.set_debug(0)
        gc.enable()
    return garbage


def _objects():
    gc.collect()
    return len(gc.get_objects())


def test_no_growth_over_calls():
    """Each path 300 times after a warm-up: the live object count does not grow with the calls."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 6, 4, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3))
    tq = torch.randn(q.shape, generator=g, dtype=torch.float64)
    x = torch.randn(12, 2, 4, generator=g, dtype=torch.float64, requires_grad=True)
    n = [0]

    def step():
        n[0] += 1
        i = n[0]
        o = jt.attention(q, k, v, is_causal=True, scale=0.1 + (i % 997) / 1000.0,
                         attn_mask=torch.rand(6, 6, generator=g) > 0.2)
        o.sum().backward()
        with fwAD.dual_level():
            p, t = fwAD.unpack_dual(jt.attention(fwAD.make_dual(q, tq), k, v, attn_mask=torch.zeros(1, 1, 6, 6,
                                                                                                    dtype=torch.float64)))
        ((p - t.detach()) ** 2).sum().backward()
        gr = torch.autograd.grad((jt.attention(q, k, v) ** 2).sum(), (q, k, v), create_graph=True)
        sum((a ** 2).sum() for a in gr).backward()
        jt.varlen_attention(x, x, x, torch.tensor([0, i % 11 + 1, 12]), window=(i % 4, 0)).sum().backward()
        jt.attention(q, k, v)  # a graph dropped without backward
        q.grad = k.grad = v.grad = x.grad = None

    for _ in range(50):
        step()
    before = _objects()
    for _ in range(300):
        step()
    assert _objects() - before < 100  # a leak of one object a call would be 300 or more
    assert len(_api._configs) <= 256 and len(_core._params_cache) <= 64 and len(_api._varlen_configs) <= 256


def test_varlen_params_leave_no_cycles():
    """The packed-sequence offsets reach the params struct without ctypes.cast, whose result put each offsets
    array in a reference cycle with its _objects dict (two arrays and two dicts of cyclic garbage a call)."""
    x = torch.randn(12, 2, 4, dtype=torch.float64)
    for _ in range(3):
        jt.varlen_attention(x, x, x, [0, 5, 12])
    garbage = _cycle_garbage(lambda: jt.varlen_attention(x, x, x, [0, 5, 12]), 50)
    assert not [o for o in garbage if isinstance(o, ctypes.Array)]
    ref = torch.cat([jt.attention(*(x[a:b].transpose(0, 1),) * 3).transpose(0, 1) for a, b in ((0, 5), (5, 12))])
    assert torch.equal(jt.varlen_attention(x, x, x, torch.tensor([0, 5, 12])), ref)


def test_thread_contexts_leave_no_cycles():
    """A thread's context dies with the thread, without cyclic garbage (the contexts share their function
    objects: a new ctypes function object per context was a reference cycle)."""
    q = torch.randn(1, 1, 4, 2, dtype=torch.float64)

    def step():
        t = threading.Thread(target=lambda: jt.attention(q, q, q))
        t.start()
        t.join()
    step()
    garbage = _cycle_garbage(step, 20)
    assert not [o for o in garbage if isinstance(o, ctypes._CFuncPtr)]
    assert sum(1 for o in gc.get_objects() if type(o) is _core._Context) <= 1  # the main thread's, if any


@pytest.fixture
def gloo_world():
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available() or dist.is_initialized():
        pytest.skip("torch.distributed unavailable, or a process group is already initialised")
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    d = tempfile.mkdtemp()
    dist.init_process_group("gloo", init_method="file://" + os.path.join(d, "init"), rank=0, world_size=1)
    try:
        yield dist
    finally:
        jt.ring_release()
        dist.destroy_process_group()


def test_ring_comms_not_kept_for_destroyed_groups(gloo_world):
    """A communicator per process group was cached for good (holding the group, its threads and sockets):
    a loop that makes, uses and destroys groups grew without bound until ring_release."""
    dist = gloo_world
    q = torch.randn(1, 2, 8, 4, dtype=torch.float64)
    for _ in range(6):
        g = dist.new_group([0])
        jt.ring_attention(q, q, q, group=g)
        dist.destroy_process_group(g)
        del g
    gc.collect()
    assert len(_ring._comms) <= 1 and len(_ring._rings) <= 1
    assert sum(1 for o in gc.get_objects() if type(o) is _ring._Comm) <= 1


def test_ring_release_frees_without_gc(gloo_world):
    """ring_release frees the communicator at once: its callbacks held it in a reference cycle, so it (and
    the process group it referenced) waited for a cyclic collection."""
    q = torch.randn(1, 2, 8, 4, dtype=torch.float64, requires_grad=True)
    jt.ring_attention(q, q, q).sum().backward()
    gc.collect()
    gc.disable()
    try:
        jt.ring_release()
        assert not [o for o in gc.get_objects() if type(o) is _ring._Comm or type(o) is _ring._Ring]
    finally:
        gc.enable()


def test_ring_cache_evicts_per_group(gloo_world):
    """The ring cache evicts per communicator: another group's calls must not evict this group's rings. With one cache
    for all groups, a rank in more groups than another dropped a ring the other kept and later created it alone (a
    collective the others do not join: a hang or a mismatch)."""
    dist = gloo_world
    q = torch.randn(1, 2, 8, 4, dtype=torch.float64)
    jt.ring_attention(q, q, q)  # the default group's ring
    mine = [k for k in _ring._rings if _ring._rings[k].comm.group_is(None)]
    assert len(mine) == 1
    g = dist.new_group([0])
    for i in range(_ring._MAX_RINGS + 3):  # another group's rings, more than the cache holds
        jt.ring_attention(q, q, q, group=g, scale=0.1 * (i + 1))
    assert mine[0] in _ring._rings, "another group's calls evicted this group's ring"
    theirs = [k for k in _ring._rings if _ring._rings[k].comm.group_is(g)]
    assert len(theirs) == _ring._MAX_RINGS  # bounded per group
    dist.destroy_process_group(g)
