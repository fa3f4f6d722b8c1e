#!/usr/bin/env python3
"""compare_torch.py - jfa against PyTorch on the same shapes, in one table.

Runs the jfa benchmark binary (--csv) and, for each of its cases, PyTorch's
scaled_dot_product_attention with the cuDNN and flash backends (forward, and
backward = time(fwd+bwd) - time(fwd)) and torch.func.jvp over the math backend
(skipped when the N x N intermediates would not fit comfortably). Times are
medians of CUDA-event timings after warm-up; TFLOP/s use jfa's convention
(fwd = 4 B H N^2 D, halved when causal; JVP = 3x; bwd = 2.5x).

    python3 bench/compare_torch.py build/bench/jfa_bench [--iters 20] [--min-n 4096] [--no-math]

--min-n N leaves out the sweep's cases below N (jfa's rows are still all computed by jfa_bench, the
torch side is skipped); --no-math skips the math backend's JVP (the slowest part of a case).
"""
import csv
import io
import subprocess
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from timing import median_ms


def torch_case(B, H, N, D, causal, iters, math=True):
    dev = "cuda"
    q, k, v, do = (torch.randn(B, H, N, D, device=dev, dtype=torch.bfloat16) for _ in range(4))
    res = {}
    for name, be in (("cudnn", SDPBackend.CUDNN_ATTENTION), ("flash", SDPBackend.FLASH_ATTENTION)):
        try:
            with sdpa_kernel(be):
                qq, kk, vv = (t.detach().requires_grad_(True) for t in (q, k, v))
                fwd = median_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal)), iters)

                def fb():
                    o = F.scaled_dot_product_attention(qq, kk, vv, is_causal=bool(causal))
                    o.backward(do)

                both = median_ms(fb, iters)
                res[name] = (fwd, max(both - fwd, 1e-6))
        except Exception as e:  # backend not available for this shape
            res[name] = None
            print(f"# torch {name} B={B} H={H} N={N} D={D} causal={causal}: {type(e).__name__}: {str(e)[:120]}",
                  file=sys.stderr)
    # JVP through the math backend materialises several B*H*N*N tensors
    if math and B * H * N * N * 2 * 8 < 40e9:
        try:
            qd, kd, vd = (torch.randn_like(q) for _ in range(3))
            with sdpa_kernel(SDPBackend.MATH):
                f = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=bool(causal))
                res["jvp_math"] = median_ms(lambda: torch.func.jvp(f, (q, k, v), (qd, kd, vd)), max(iters // 4, 3), 1)
        except Exception as e:
            res["jvp_math"] = None
            print(f"# torch jvp math N={N} D={D}: {type(e).__name__}: {str(e)[:120]}", file=sys.stderr)
        torch.cuda.empty_cache()
    else:
        res["jvp_math"] = None
    return res


def main():
    exe = sys.argv[1]
    iters = 20
    if "--iters" in sys.argv:
        iters = int(sys.argv[sys.argv.index("--iters") + 1])
    min_n = int(sys.argv[sys.argv.index("--min-n") + 1]) if "--min-n" in sys.argv else 0
    math = "--no-math" not in sys.argv
    out = subprocess.run([exe, "--csv"], check=True, capture_output=True, text=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    cases = {}
    for r in rows:
        key = (int(r["B"]), int(r["H"]), int(r["N"]), int(r["D"]), 1 if r["mask"] == "causal" else 0)
        cases.setdefault(key, {})[r["op"]] = (float(r["ms"]), float(r["tflops"]), float(r["err"]))
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}; TFLOP/s (jfa convention); bf16")
    hdr = ("B", "H", "N", "D", "causal", "jfa fwd", "cudnn fwd", "flash fwd", "jfa bwd", "cudnn bwd", "flash bwd",
           "jfa jvp", "torch jvp(math)", "jfa err fwd/jvp/bwd")
    print(" | ".join(hdr))
    for (B, H, N, D, c), ops in cases.items():
        if N < min_n:
            continue
        t = torch_case(B, H, N, D, c, iters, math)
        fl = 4.0 * B * H * N * N * D * (0.5 if c else 1.0)

        def tf(ms, mult):
            return f"{fl * mult / (ms * 1e-3) / 1e12:.1f}" if ms else "-"

        cu, fa = t.get("cudnn"), t.get("flash")
        cells = [B, H, N, D, c,
                 f"{ops['fwd'][1]:.1f}", tf(cu and cu[0], 1), tf(fa and fa[0], 1),
                 f"{ops['bwd'][1]:.1f}", tf(cu and cu[1], 2.5), tf(fa and fa[1], 2.5),
                 f"{ops['jvp'][1]:.1f}", tf(t.get("jvp_math"), 3),
                 f"{ops['fwd'][2]:.1e}/{ops['jvp'][2]:.1e}/{ops['bwd'][2]:.1e}"]
        print(" | ".join(str(x) for x in cells), flush=True)


if __name__ == "__main__":
    main()
