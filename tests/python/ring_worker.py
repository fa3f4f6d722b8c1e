"""
ring_worker.py - one rank of the ring attention check: jfa.torch.ring_attention
(forward, forward AD with the primal's backward, GQA, zigzag and contiguous,
causal and not) against the float64 reference over the whole sequence, every
rank comparing its own rows. Used by test_ring.py (torch.multiprocessing, gloo
on the CPU) and directly under torchrun on GPUs:

    torchrun --nproc_per_node=P tests/python/ring_worker.py --device cuda [--backend nccl|gloo]

Prints one line per case and exits non-zero when any check fails.
"""
import argparse
import os
import sys

import torch
import torch.autograd.forward_ad as fwAD
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from conftest import reference, relerr  # noqa: E402

TOL = {torch.float64: 1e-12, torch.float32: 2e-5, torch.float16: 4e-3, torch.bfloat16: 2e-2}


def run_checks(rank, world, device, dtype, seed, n_per_rank=24, heads=(4, 2), dim=16):
    import jfa.torch as jt
    g = torch.Generator().manual_seed(seed)
    N = n_per_rank * world
    Hq, Hkv = heads
    mk = lambda h: (torch.randn(2, h, N, dim, generator=g, dtype=torch.float64)).to(dtype).to(device)
    q, k, v = mk(Hq), mk(Hkv), mk(Hkv)
    t = [mk(Hq), mk(Hkv), mk(Hkv)]
    w = mk(Hq)
    tol = TOL[dtype]
    failures = 0
    for layout in ("zigzag", "contiguous"):
        for causal in (True, False):
            sh = lambda x: jt.shard(x, rank, world, layout)
            loc = [sh(x).clone().requires_grad_() for x in (q, k, v)]
            o_plain = jt.ring_attention(*loc, layout=layout, is_causal=causal, enable_gqa=True)
            with fwAD.dual_level():
                duals = [fwAD.make_dual(a, sh(b)) for a, b in zip(loc, t)]
                out = jt.ring_attention(*duals, layout=layout, is_causal=causal, enable_gqa=True)
                p, tan = fwAD.unpack_dual(out)
                (p.double() * sh(w).double()).sum().backward()
            full = [x.detach().double().requires_grad_() for x in (q, k, v)]
            with fwAD.dual_level():
                rd = [fwAD.make_dual(a, b.double()) for a, b in zip(full, t)]
                rp, rt = fwAD.unpack_dual(reference(*rd, is_causal=causal))
                (rp * w.double()).sum().backward()
            errs = {"o": relerr(o_plain, sh(rp)), "o(jvp)": relerr(p, sh(rp)), "od": relerr(tan, sh(rt))}
            for name, a, b in zip(("dq", "dk", "dv"), loc, full):
                errs[name] = relerr(a.grad, sh(b.grad))
            ok = all(e < (tol if n.startswith("o") and n != "od" else 2 * tol) for n, e in errs.items())
            failures += not ok
            print("rank %d/%d %s %s causal=%d %s: %s" % (rank, world, device, str(dtype)[6:], causal, layout,
                  " ".join("%s %.2e" % kv for kv in errs.items()) + ("" if ok else "  FAIL")), flush=True)
    # windows and packed sequences (batch 1), zigzag
    q1, k1, v1, w1 = (x[:1] for x in (q, k, v, w))
    t1 = [x[:1] for x in t]
    cuts = sorted(torch.randperm(N - 1, generator=g)[:3].add(1).tolist())
    cu = [0] + cuts + [N]
    for name, kw in (("window(5,0)", dict(window=(5, 0), is_causal=True)),
                     ("window(3,7)", dict(window=(3, 7), is_causal=False)),
                     ("varlen %s" % cu, dict(cu_seqlens=cu, is_causal=True)),
                     ("varlen+window", dict(cu_seqlens=cu, window=(4, -1), is_causal=True)),
                     # more sequences than N + 1 (the C ring's bound on its offsets), most of them empty: taken as
                     # varlen_attention takes them (the empty ones dropped before the ring sees them)
                     ("varlen, N + 6 sequences (N + 2 empty)", dict(cu_seqlens=[0] * (N + 2) + cu[1:2] * 2 + cu[2:],
                                                            is_causal=True))):
        sh = lambda x: jt.shard(x, rank, world, "zigzag")
        loc = [sh(x).clone().requires_grad_() for x in (q1, k1, v1)]
        with fwAD.dual_level():
            duals = [fwAD.make_dual(a, sh(b)) for a, b in zip(loc, t1)]
            out = jt.ring_attention(*duals, layout="zigzag", enable_gqa=True, **kw)
            p, tan = fwAD.unpack_dual(out)
            (p.double() * sh(w1).double()).sum().backward()

        def ref(a, b, c):
            docs = sorted(set(kw.get("cu_seqlens") or [0, N]))  # (an empty sequence holds no row)
            return torch.cat([reference(a[:, :, x:y], b[:, :, x:y], c[:, :, x:y], is_causal=kw["is_causal"],
                                        window=kw.get("window")) for x, y in zip(docs, docs[1:])], 2)
        full = [x.detach().double().requires_grad_() for x in (q1, k1, v1)]
        with fwAD.dual_level():
            rp, rt = fwAD.unpack_dual(ref(*[fwAD.make_dual(a, b.double()) for a, b in zip(full, t1)]))
            (rp * w1.double()).sum().backward()
        errs = {"o": relerr(p, sh(rp)), "od": relerr(tan, sh(rt))}
        for n, a, b in zip(("dq", "dk", "dv"), loc, full):
            errs[n] = relerr(a.grad, sh(b.grad))
        ok = errs["o"] < tol and all(e < 2 * tol for e in errs.values())
        failures += not ok
        print("rank %d/%d %s %s %s: %s" % (rank, world, device, str(dtype)[6:], name,
              " ".join("%s %.2e" % kv for kv in errs.items()) + ("" if ok else "  FAIL")), flush=True)
    # two packings through one ring (jfa_ring_set_seqlens): A's forward, B's forward, then A's backward and B's, each
    # with its own offsets (a ring per packing before; one ring, whose offsets follow the calls, now)
    from jfa.torch import _ring as jr
    cu2 = [0] + sorted(torch.randperm(N - 1, generator=g)[:2].add(1).tolist()) + [N]
    sh = lambda x: jt.shard(x, rank, world, "zigzag")
    kw = dict(layout="zigzag", enable_gqa=True, is_causal=True)
    locs = {name: [sh(x).clone().requires_grad_() for x in (q1, k1, v1)] for name in ("A", "B")}
    outs = {name: jt.ring_attention(*locs[name], cu_seqlens=c, **kw) for name, c in (("A", cu), ("B", cu2))}
    for name in ("A", "B"):
        (outs[name].double() * sh(w1).double()).sum().backward()
    packed_rings = [key for key in jr._rings if key[-1] is True and key[11] == (-1, -1)]  # (no window)
    for name, c in (("A", cu), ("B", cu2)):
        full = [x.detach().double().requires_grad_() for x in (q1, k1, v1)]
        rp = torch.cat([reference(full[0][:, :, x:y], full[1][:, :, x:y], full[2][:, :, x:y], is_causal=True)
                        for x, y in zip(c, c[1:])], 2)
        (rp * w1.double()).sum().backward()
        errs = {"o": relerr(outs[name], sh(rp))}
        for n, a, b in zip(("dq", "dk", "dv"), locs[name], full):
            errs[n] = relerr(a.grad, sh(b.grad))
        ok = errs["o"] < tol and all(e < 2 * tol for e in errs.values()) and len(packed_rings) == 1
        failures += not ok
        print("rank %d/%d %s %s packing %s %s (forwards A, B, then backwards A, B; %d packed ring(s) cached): %s" % (
              rank, world, device, str(dtype)[6:], name, c, len(packed_rings),
              " ".join("%s %.2e" % kv for kv in errs.items()) + ("" if ok else "  FAIL")), flush=True)
    # a negative scale (as given, as jfa.torch.attention takes it), and a scale that differs on one rank: every
    # rank raises (the library's collective check at the ring's creation), none waits for the group's timeout
    sh = lambda x: jt.shard(x, rank, world, "zigzag")
    o = jt.ring_attention(sh(q), sh(k), sh(v), layout="zigzag", is_causal=True, scale=-0.3, enable_gqa=True)
    err = relerr(o, sh(reference(q.double(), k.double(), v.double(), is_causal=True, scale=-0.3)))
    ok = err < tol
    failures += not ok
    print("rank %d/%d %s %s scale -0.3: o %.2e%s" % (rank, world, device, str(dtype)[6:], err, "" if ok else "  FAIL"),
          flush=True)
    if world > 1:
        raised = None
        try:
            jt.ring_attention(sh(q), sh(k), sh(v), layout="zigzag", is_causal=True, scale=0.5 + 0.1 * (rank == 1),
                              enable_gqa=True)
        except Exception as e:  # noqa: BLE001 - any error, as long as every rank gets one
            raised = e
        ok = raised is not None
        failures += not ok
        print("rank %d/%d %s scale differing on rank 1: %s%s" % (rank, world, device,
              "raised (%s)" % str(raised)[:80] if raised else "no error", "" if ok else "  FAIL"), flush=True)
    if world > 1:
        # an error of rank 1's own arguments, raised in Python before any collective (window=5: an int), while the
        # others make the call they made last: every rank raises (rank 1 joins their ring's argument agreement with a
        # failing call) instead of the others waiting for the group's timeout; the next call works on every rank
        kw = dict(layout="zigzag", is_causal=True, enable_gqa=True)
        jt.ring_attention(sh(q), sh(k), sh(v), **kw)
        raised = None
        try:
            jt.ring_attention(sh(q), sh(k), sh(v), window=5 if rank == 1 else None, **kw)
        except Exception as e:  # noqa: BLE001 - any error, as long as every rank gets one
            raised = e
        o = jt.ring_attention(sh(q), sh(k), sh(v), **kw)
        err = relerr(o, sh(reference(q.double(), k.double(), v.double(), is_causal=True)))
        ok = raised is not None and (isinstance(raised, TypeError) if rank == 1 else "rejected" in str(raised)) \
            and err < tol
        failures += not ok
        print("rank %d/%d %s a type error on rank 1 alone: %s; the next call o %.2e%s" % (
              rank, world, device, "raised (%s)" % str(raised)[:70] if raised else "no error", err,
              "" if ok else "  FAIL"), flush=True)
        # the same while the others create a ring (a configuration new to the group): rank 1's failing call pairs
        # their config check (both collectives have one size), so every rank raises; rank 1's ring counts its call
        # alone then, so every rank drops its rings (ring_release) before going on
        raised = None
        try:
            jt.ring_attention(sh(q), sh(k), sh(v), layout="zigzag", is_causal=False, scale=0.77, enable_gqa=True,
                              window=5 if rank == 1 else None)
        except Exception as e:  # noqa: BLE001
            raised = e
        jt.ring_release()
        ok = raised is not None and (isinstance(raised, TypeError) if rank == 1 else "another rank" in str(raised))
        failures += not ok
        print("rank %d/%d %s a type error on rank 1 while the others create a ring: %s%s" % (
              rank, world, device, "raised (%s)" % str(raised)[:70] if raised else "no error",
              "" if ok else "  FAIL"), flush=True)
        # the same on the group's first call (no ring, no communicator: ring_release above dropped them): rank 1
        # makes the communicator too and a ring of an invalid config, whose creation joins the others' config check
        raised = None
        try:
            jt.ring_attention(sh(q), sh(k), sh(v), layout="zigzag", is_causal=True, enable_gqa=True,
                              window=5 if rank == 1 else None)
        except Exception as e:  # noqa: BLE001
            raised = e
        jt.ring_release()
        o = jt.ring_attention(sh(q), sh(k), sh(v), layout="zigzag", is_causal=True, enable_gqa=True)
        err = relerr(o, sh(reference(q.double(), k.double(), v.double(), is_causal=True)))
        ok = raised is not None and (isinstance(raised, TypeError) if rank == 1 else "another rank" in str(raised)) \
            and err < tol
        failures += not ok
        print("rank %d/%d %s a type error on rank 1 on the group's first call: %s; the next call o %.2e%s" % (
              rank, world, device, "raised (%s)" % str(raised)[:70] if raised else "no error", err,
              "" if ok else "  FAIL"), flush=True)
    if world > 1:
        # a communicator that failed (here a callback's error on every rank at once) stays failed: the next call says
        # so and names jfa.torch.ring_release, after which a call works again
        orig = dist.all_reduce

        def boom(*a, **kw):
            raise RuntimeError("injected all_reduce failure")
        dist.all_reduce = boom
        try:
            jt.ring_attention(sh(q), sh(k), sh(v), layout="zigzag", is_causal=False, scale=0.41, enable_gqa=True)
        except Exception:  # noqa: BLE001 - the injected failure, on every rank
            pass
        finally:
            dist.all_reduce = orig
        msg = ""
        try:
            jt.ring_attention(sh(q), sh(k), sh(v), layout="zigzag", is_causal=True, enable_gqa=True)
        except Exception as e:  # noqa: BLE001
            msg = str(e)
        jt.ring_release()
        o = jt.ring_attention(sh(q), sh(k), sh(v), layout="zigzag", is_causal=True, enable_gqa=True)
        err = relerr(o, sh(reference(q.double(), k.double(), v.double(), is_causal=True)))
        ok = "communicator failed" in msg and "ring_release" in msg and err < tol
        failures += not ok
        print("rank %d/%d %s after a failed communicator: %s; after ring_release o %.2e%s" % (
              rank, world, device, msg[:60] or "no error", err, "" if ok else "  FAIL"), flush=True)
    if dtype in (torch.float32, torch.float64):
        # lazily negated inputs and dO (PyTorch's neg bit: storage -x, values x) are read as their values
        zn = lambda x: torch.complex(torch.zeros_like(x), -x).conj().imag
        sh = lambda x: jt.shard(x, rank, world, "zigzag")
        assert zn(q).is_neg()
        loc = [sh(x).clone().requires_grad_() for x in (q, k, v)]
        o = jt.ring_attention(*[zn(a) for a in loc], layout="zigzag", is_causal=True, enable_gqa=True)
        o.backward(zn(sh(w)))
        full = [x.detach().double().requires_grad_() for x in (q, k, v)]
        rp = reference(*full, is_causal=True)
        rp.backward(w.double())
        errs = {"o": relerr(o, sh(rp))}
        for n, a, b in zip(("dq", "dk", "dv"), loc, full):
            errs[n] = relerr(a.grad, sh(b.grad))
        ok = errs["o"] < tol and all(e < 2 * tol for e in errs.values())
        failures += not ok
        print("rank %d/%d %s %s neg-bit inputs and dO: %s" % (rank, world, device, str(dtype)[6:],
              " ".join("%s %.2e" % kv for kv in errs.items()) + ("" if ok else "  FAIL")), flush=True)
    return failures


def spawn_main(rank, world, init_file, backend, device, dtype, seed, result_file):
    """torch.multiprocessing entry point (all ranks on this machine: gloo over loopback)."""
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    if "JFA_TEST_RING_MESSAGE" in os.environ:  # the callback comm's message size (test_ring_cpu_small_messages)
        import jfa.torch._ring as r
        r._MAX_MESSAGE = int(os.environ["JFA_TEST_RING_MESSAGE"])
    dist.init_process_group(backend, init_method="file://" + init_file, rank=rank, world_size=world)
    try:
        fails = run_checks(rank, world, torch.device(device), dtype, seed)
    finally:
        import jfa.torch._ring as r
        r.release()
        dist.destroy_process_group()
    with open(result_file + ".%d" % rank, "w") as f:
        f.write(str(fails))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--backend", default=None)
    ap.add_argument("--dtype", default="bfloat16")
    ap.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(3), "little"))
    a = ap.parse_args()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    backend = a.backend or ("nccl" if a.device == "cuda" else "gloo")
    device = torch.device(a.device)
    if a.device == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        torch.cuda.set_device(device)
    dist.init_process_group(backend)
    print("rank %d seed %d backend %s" % (rank, a.seed, backend), flush=True)
    fails = 0
    for dt in a.dtype.split(","):
        fails += run_checks(rank, world, device, getattr(torch, dt), a.seed)
    import jfa.torch._ring as r
    kinds = sorted({c.kind for c in r._comms.values()})
    print("rank %d communicator: %s; %s" % (rank, ",".join(kinds), "FAILED %d" % fails if fails else "all passed"),
          flush=True)
    r.release()
    dist.destroy_process_group()
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
