#!/usr/bin/env python3
"""
ring_model.py - a MODEL (not a measurement) of jfa's ring attention scaling:
predicted ring efficiency at P = 4, 8, 64 ranks for forward, forward+JVP and
backward, causal (zigzag) and non-causal, and the per-GPU sequence length below
which a K/V block's transfer can no longer hide behind its compute.

  python3 bench/ring_model.py                       (defaults below)
  python3 bench/ring_model.py --nvlink-gbs 300 --net-gbs 45 --ps 2,4,8,16,64

Assumptions (change them with the flags):
- Compute per ring step = FLOPs of one block pair / a sustained TFLOP/s. FLOPs in
  jfa's convention (bench/RESULTS.md): fwd = 4 B H n^2 D for n = N/P queries
  against n keys, JVP = 3x fwd, bwd = 2.5x fwd. Causal zigzag: every step (the
  diagonal one included) computes half of the pairs, so half the FLOPs.
  The TFLOP/s defaults are single-H200 measurements from bench/RESULTS.md
  (bf16, D = 128, H = 16, N = 16384): non-causal jfa_bench fwd 293.8, JVP 308.2,
  bwd 245.4; causal = the ring at P = 1 (zigzag, NCCL comm) fwd 266.0, JVP 306.4,
  bwd 244.8. bench/RESULTS.md records no ring timing at P >= 2 on separate GPUs,
  so nothing here is calibrated against a multi-GPU run. The throughput is taken
  as independent of the block size (optimistic for short blocks).
- Bytes per step (what the ring sends, src/ring): forward K, V in bf16 of one
  block (2 x B Hkv n D x 2 bytes); JVP K, V, Kd, Vd (twice that); backward K, V
  in bf16 plus the dK, dV accumulators in fp32 (2 x B Hkv n D x 4 bytes), the
  accumulators in two key halves, each overlapping half a step of compute: E1 =
  half of dK/dV + the next K/V block during the first half step, E2 = the other
  half of dK/dV during the second; the last step's E2 (the trip home) is exposed.
- Links: every rank sends to rank + 1 at the same time, so a step lasts as long as
  the slowest link. P <= gpus-per-node: NVLink, --nvlink-gbs per direction
  (default 350 GB/s: ~450 GB/s unidirectional NVLink on H100/H200, of which NCCL
  p2p reaches roughly this much). P > gpus-per-node: the ring crosses nodes and
  the crossing link is one GPU's NIC, --net-gbs (default 50 GB/s = 400 Gb/s).
  Each transfer also pays --latency-us (default 10 us); each step pays
  --step-overhead-us (default 10 us: launches, event syncs, exchange start).
- Overlap: a step takes max(compute, transfer) (the transfer of the next block is
  in flight while the current one is computed); the last step has no transfer.
  Efficiency = P x (compute of one step) / (predicted time of the whole call):
  1.0 means the transfers are fully hidden and the P ranks compute all the time.
- Critical length n*: the smallest per-GPU length n = N/P at which the step's
  transfer fits behind the step's compute (backward: the E1 half step), per link.
"""
import argparse

FLOP_FACTOR = {"fwd": 1.0, "jvp": 3.0, "bwd": 2.5}


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tflops-fwd", type=float, default=293.8, help="non-causal fwd TFLOP/s")
    ap.add_argument("--tflops-jvp", type=float, default=308.2, help="non-causal JVP TFLOP/s")
    ap.add_argument("--tflops-bwd", type=float, default=245.4, help="non-causal bwd TFLOP/s")
    ap.add_argument("--tflops-fwd-causal", type=float, default=266.0)
    ap.add_argument("--tflops-jvp-causal", type=float, default=306.4)
    ap.add_argument("--tflops-bwd-causal", type=float, default=244.8)
    ap.add_argument("--nvlink-gbs", type=float, default=350.0, help="GB/s per direction inside a node")
    ap.add_argument("--net-gbs", type=float, default=50.0, help="GB/s per GPU between nodes")
    ap.add_argument("--gpus-per-node", type=int, default=8)
    ap.add_argument("--latency-us", type=float, default=10.0, help="per transfer")
    ap.add_argument("--step-overhead-us", type=float, default=10.0, help="per ring step")
    ap.add_argument("--ps", default="4,8,64", help="ranks, comma separated")
    ap.add_argument("--configs", default="1:16:16:131072:128,1:16:16:1048576:128,1:8:8:1048576:128",
                    help="B:H:Hkv:N:D, comma separated")
    return ap.parse_args()


def tflops(a, op, causal):
    return getattr(a, "tflops_%s%s" % (op, "_causal" if causal else "")) * 1e12


def step_compute_s(a, op, causal, B, H, n, D):
    flops = 4.0 * B * H * n * n * D * FLOP_FACTOR[op] * (0.5 if causal else 1.0)
    return flops / tflops(a, op, causal)


def link_gbs(a, P):
    return a.nvlink_gbs if P <= a.gpus_per_node else a.net_gbs


def xfer_s(a, nbytes, gbs):
    return a.latency_us * 1e-6 + nbytes / (gbs * 1e9)


def model(a, op, causal, B, H, Hkv, N, D, P):
    """(efficiency, predicted ms, compute ms per step, transfer ms per step)."""
    n = N // P
    blk = B * Hkv * n * D  # elements of one K (or V) shard
    tc = step_compute_s(a, op, causal, B, H, n, D)
    gbs = link_gbs(a, P)
    ov = a.step_overhead_us * 1e-6
    if op in ("fwd", "jvp"):
        tx = xfer_s(a, blk * 2 * (2 if op == "fwd" else 4), gbs)
        total = (P - 1) * max(tc, tx) + tc + P * ov if P > 1 else tc + ov
        shown = tx
    else:
        e1 = xfer_s(a, blk * 2 * 2 + blk * 4, gbs)  # K, V bf16 + half of dK, dV fp32
        e2 = xfer_s(a, blk * 4, gbs)                # the other half of dK, dV
        e1_last = e2                                # the last step sends no K/V
        if P > 1:
            total = (P - 1) * (max(tc / 2, e1) + max(tc / 2, e2)) + max(tc / 2, e1_last) + tc / 2 + e2
            total += P * ov
        else:
            total = tc + ov
        shown = e1 + e2
    eff = P * tc / total
    return eff, total * 1e3, tc * 1e3, shown * 1e3


def critical_n(a, op, causal, B, H, Hkv, D, gbs):
    """Smallest n (per-GPU tokens, a multiple of 2) at which the transfer hides behind compute."""
    def hidden(n):
        blk = B * Hkv * n * D
        tc = step_compute_s(a, op, causal, B, H, n, D)
        if op == "bwd":
            return tc / 2 >= xfer_s(a, blk * 2 * 2 + blk * 4, gbs)
        return tc >= xfer_s(a, blk * 2 * (2 if op == "fwd" else 4), gbs)
    lo, hi = 2, 2
    while not hidden(hi):
        hi *= 2
        if hi > 1 << 40:
            return None
    while hi - lo > 2:
        mid = (lo + hi) // 4 * 2
        if hidden(mid):
            hi = mid
        else:
            lo = mid
    return hi


def main():
    a = parse()
    Ps = [int(x) for x in a.ps.split(",")]
    configs = [tuple(int(v) for v in c.split(":")) for c in a.configs.split(",")]
    print("# Ring scaling MODEL (not a measurement): bench/ring_model.py")
    print("# inputs: TFLOP/s fwd/jvp/bwd non-causal %.1f/%.1f/%.1f, causal %.1f/%.1f/%.1f; "
          "NVLink %.0f GB/s, network %.0f GB/s, %d GPUs/node, latency %.0f us, step overhead %.0f us"
          % (a.tflops_fwd, a.tflops_jvp, a.tflops_bwd, a.tflops_fwd_causal, a.tflops_jvp_causal,
             a.tflops_bwd_causal, a.nvlink_gbs, a.net_gbs, a.gpus_per_node, a.latency_us,
             a.step_overhead_us))
    print()
    print("| B | H | Hkv | N | D | P | n = N/P | link | causal | op | compute/step ms | transfer/step ms | call ms | efficiency |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (B, H, Hkv, N, D) in configs:
        for P in Ps:
            if N % (2 * P):
                continue
            link = "NVLink" if P <= a.gpus_per_node else "network"
            for causal in (0, 1):
                for op in ("fwd", "jvp", "bwd"):
                    eff, ms, tc, tx = model(a, op, causal, B, H, Hkv, N, D, P)
                    print("| %d | %d | %d | %d | %d | %d | %d | %s | %d | %s | %.3f | %.3f | %.2f | %.2f |"
                          % (B, H, Hkv, N, D, P, N // P, link, causal, op, tc, tx, ms, eff))
    print()
    print("Critical per-GPU length n* (tokens per GPU below which the K/V transfer is exposed):")
    print()
    print("| H | Hkv | D | link | causal | fwd n* | jvp n* | bwd n* |")
    print("|---|---|---|---|---|---|---|---|")
    seen = set()
    for (B, H, Hkv, N, D) in configs:
        if (H, Hkv, D) in seen:
            continue
        seen.add((H, Hkv, D))
        for link, gbs in (("NVLink", a.nvlink_gbs), ("network", a.net_gbs)):
            for causal in (0, 1):
                ns = [critical_n(a, op, causal, B, H, Hkv, D, gbs) for op in ("fwd", "jvp", "bwd")]
                print("| %d | %d | %d | %s | %d | %s |" % (H, Hkv, D, link, causal,
                      " | ".join(str(x) for x in ns)))


if __name__ == "__main__":
    main()
