"""
test_ring_second_order.py - second order through jfa.torch.ring_attention (gloo, CPU,
float64, P = 1, 2, 3 processes): torch.autograd.functional.hvp of a loss summed over the
ranks, a create_graph=True double backward, and forward-over-reverse (dual inputs through
torch.autograd.grad), each rank's rows against the float64 reference over the whole
sequence (plain torch ops), sharded.
"""
import os
import random
import sys
import tempfile

import pytest
import torch
import torch.autograd.forward_ad as fwAD
import torch.distributed as dist
import torch.multiprocessing as mp

HERE = os.path.dirname(os.path.abspath(__file__))


def _checks(rank, world, seed):
    sys.path.insert(0, HERE)
    from conftest import reference, relerr
    import jfa.torch as jt
    g = torch.Generator().manual_seed(seed)
    N, Hq, Hkv, D = 12 * world, 4, 2, 6
    mk = lambda h: torch.randn(1, h, N, D, generator=g, dtype=torch.float64)
    x = [mk(Hq), mk(Hkv), mk(Hkv)]
    t = [mk(Hq), mk(Hkv), mk(Hkv)]
    w = mk(Hq)
    fails = 0
    for layout, causal in (("zigzag", True), ("contiguous", False)):
        sh = lambda a: jt.shard(a, rank, world, layout).contiguous()
        loss_r = lambda a, b, c: (jt.ring_attention(a, b, c, layout=layout, is_causal=causal, enable_gqa=True) ** 2
                                  * sh(w)).sum()
        loss_f = lambda a, b, c: (reference(a, b, c, is_causal=causal) ** 2 * w).sum()
        _, hv_ref = torch.autograd.functional.hvp(loss_f, tuple(x), tuple(t))
        errs = {}
        # hvp (the double-backward trick), collective on every rank
        _, hv = torch.autograd.functional.hvp(loss_r, tuple(sh(a) for a in x), tuple(sh(a) for a in t))
        errs["hvp"] = max(relerr(a, sh(b)) for a, b in zip(hv, hv_ref))
        # create_graph double backward: d/dx <grad, t>
        xl = [sh(a).requires_grad_() for a in x]
        gr = torch.autograd.grad(loss_r(*xl), xl, create_graph=True)
        hh = torch.autograd.grad(sum((a * sh(b)).sum() for a, b in zip(gr, t)), xl)
        errs["double"] = max(relerr(a, sh(b)) for a, b in zip(hh, hv_ref))
        # forward-over-reverse
        xl = [sh(a).requires_grad_() for a in x]
        with fwAD.dual_level():
            gr = torch.autograd.grad(loss_r(*[fwAD.make_dual(a, sh(b)) for a, b in zip(xl, t)]), xl)
            tans = [fwAD.unpack_dual(a).tangent for a in gr]
        errs["fwd-over-rev"] = max(relerr(a, sh(b)) for a, b in zip(tans, hv_ref)) if all(
            a is not None for a in tans) else float("inf")
        ok = all(e < 1e-10 for e in errs.values())
        fails += not ok
        print("rank %d/%d %s causal=%s: %s%s" % (rank, world, layout, causal,
              " ".join("%s %.2e" % kv for kv in errs.items()), "" if ok else "  FAIL"), flush=True)
    return fails


def _worker(rank, world, init_file, seed, result_file):
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
    dist.init_process_group("gloo", init_method="file://" + init_file, rank=rank, world_size=world)
    fails = 1
    try:
        fails = _checks(rank, world, seed)
    finally:
        import jfa.torch._ring as r
        r.release()
        dist.destroy_process_group()
        with open(result_file + ".%d" % rank, "w") as f:
            f.write(str(fails))


@pytest.mark.parametrize("world", [1, 2, 3])
def test_ring_second_order_cpu(world):
    seed = int(os.environ.get("JFA_TEST_SEED", random.randrange(1 << 31)))
    print("\n[seed %d] ring second order P=%d" % (seed, world))
    d = tempfile.mkdtemp()
    init, result = os.path.join(d, "init"), os.path.join(d, "result")
    mp.spawn(_worker, args=(world, init, seed, result), nprocs=world)
    fails = [int(open(result + ".%d" % r).read()) for r in range(world)]
    assert fails == [0] * world, fails
