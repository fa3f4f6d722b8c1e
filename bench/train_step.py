#!/usr/bin/env python3
"""train_step.py - one training step of a consistency model (MeanFlow, the model of
examples/consistency_training.py) with attention from different backends:

    jfa       jfa.torch.attention (primal and tangent from one fused call)
    math      SDPA's math backend (F.scaled_dot_product_attention under the MATH kernel; on
              torch < 2.0, where SDPA does not exist, the same math written with plain ops)
    triton    the Triton JVP package (JVPAttn.fwd_dual), when --triton-path names the folder
              that holds jvp_flash_attention/ (e.g. a copy of shared/seed)
    identity  attention replaced by o = v: the floor (everything but attention)

A step is: forward with the tangent through every block (torch.func.jvp on torch >= 2.0,
forward-AD dual tensors before; --jvp forces one), the loss on the primal against the
stop-gradient target built from the tangent, and the backward. Reported per backend and
dtype: ms per step (median of --iters timed steps after --warmup; CUDA events on GPUs),
peak memory of the step (CUDA: max_memory_allocated above what was allocated before it),
attention's share of the step ((t - t_identity) / t), and the relative difference
||a - ref|| / ||ref|| of the outputs u, the tangents du/dt and all weight gradients
against a reference step: the math backend in float32 (float64 on the CPU) from the same
weights and inputs. Errors of a backend (e.g. out of memory, an unsupported shape) are
reported in its row, not raised.

--objective flow replaces the MeanFlow step by a plain flow-matching step (u = model(z, r, t),
loss ||u - v||^2, backward: reverse mode only, no tangent). --compile adds, per backend, a
row with the step's loss function under torch.compile (model included; the backward runs
the graphs AOTAutograd made) and the column "graphs (breaks)": what torch._dynamo.explain
counts for one step's forward. jfa compiles without a break in reverse mode (its custom
operators, torch >= 2.4); with the MeanFlow objective each jfa call under torch.func.jvp is
a break (PyTorch's custom operators have no forward-mode formula; see README).

    # the CPU here, tiny (seconds):
    PYTHONPATH=python JFA_LIBRARY=build-cpu/libjfa.so python3 bench/train_step.py --tiny
    # an H200 (bf16 and fp32, with the Triton package copied to ./seed):
    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/train_step.py --device cuda \\
        --dtypes bfloat16,float32 --batch 4 --seq 4096 --width 1024 --heads 8 --depth 4 \\
        --triton-path seed --format md
    # compiled, reverse mode only (the graphs column shows the breaks):
    PYTHONPATH=python JFA_LIBRARY=build/libjfa.so python3 bench/train_step.py --device cuda \
        --dtypes bfloat16 --objective flow --compile --backends jfa,math,identity
"""
import argparse
import copy
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "examples"))
import jfa.torch as jt  # noqa: E402
import backends as libs  # noqa: E402
from timing import median_ms  # noqa: E402
from consistency_training import HAS_FUNC, MeanFlowNet, make_data, math_attention, meanflow_loss  # noqa: E402


def triton_backend(path):
    JVPAttn = libs.triton_jvpattn(path)
    return (lambda q, k, v: JVPAttn.fwd_dual(q, k, v)), "triton (jvp_flash_attention)"


def relerr(a, b):
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    d = b.norm().item()
    return (a - b).norm().item() / (d if d > 0 else 1.0)


def with_attention(master, attend, dtype, device):
    m = copy.deepcopy(master).to(device=device, dtype=dtype)
    for b in m.blocks:
        b.attend = attend
    return m


def flow_loss(model, x, e, r, t, how=None, outputs=False):
    """Plain flow matching (reverse mode only): u = model(z, r, t) against v = e - x."""
    tb = t[:, None, None].to(x.dtype)
    z = (1 - tb) * x + tb * e
    v = e - x
    u = model(z, r, t)
    loss = (u.float() - v.float()).square().mean()
    return (loss, loss.detach(), u, None) if outputs else (loss, loss.detach())


def make_loss(objective, how):
    """loss(model, x, e, r, t) -> (loss, err, u, du/dt or None): the function a step differentiates."""
    fn = meanflow_loss if objective == "meanflow" else flow_loss

    def loss(model, x, e, r, t):
        return fn(model, x, e, r, t, how, outputs=True)
    return loss


def one_step(model, batch, loss_fn):
    """Forward (with the tangent for MeanFlow), loss, backward; returns u, du/dt (or None) and the
    weight gradients."""
    model.zero_grad(set_to_none=True)
    wloss, _, u, dudt = loss_fn(model, *batch)
    wloss.backward()
    return u.detach(), None if dudt is None else dudt.detach(), [p.grad for p in model.parameters()
                                                                 if p.grad is not None]


def graphs_of(loss_fn, model, batch):
    """'G (B)': the graphs and graph breaks torch._dynamo.explain counts for one step's forward."""
    torch._dynamo.reset()
    try:
        ex = torch._dynamo.explain(loss_fn)(model, *batch)
    except Exception as e:  # reported in the row; the compiled step is still timed
        return "explain: %s" % (str(e).splitlines()[0][:60] if str(e) else type(e).__name__)
    finally:
        torch._dynamo.reset()
    reasons = sorted(set(str(getattr(b, "reason", b)).splitlines()[0][:70] for b in ex.break_reasons))
    if reasons:
        print("# breaks: %s" % "; ".join(reasons), file=sys.stderr)
    return "%d (%d)" % (ex.graph_count, ex.graph_break_count)


def main():
    ap = argparse.ArgumentParser(description="one consistency-model training step per attention backend")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtypes", default=None, help="comma list; default bfloat16,float32 on CUDA, float32 on the CPU")
    ap.add_argument("--backends", default="jfa,math,triton,identity")
    ap.add_argument("--triton-path", default=None, help="folder holding jvp_flash_attention/ (the Triton package)")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--jvp", choices=["auto", "func", "dual"], default="auto")
    ap.add_argument("--format", choices=["md", "csv"], default="md")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--objective", choices=["meanflow", "flow"], default="meanflow",
                    help="meanflow: JVP + backward (default); flow: plain flow matching, reverse mode only")
    ap.add_argument("--compile", action="store_true",
                    help="also time each backend with the step's loss under torch.compile (torch >= 2.0)")
    ap.add_argument("--tiny", action="store_true", help="a very small model, 2 timed steps (CI)")
    a = ap.parse_args()
    if a.tiny:
        a.batch, a.seq, a.width, a.heads, a.depth, a.iters, a.warmup = 2, 32, 32, 2, 1, 2, 1
    device = torch.device(a.device)
    cuda = device.type == "cuda"
    how = ("func" if HAS_FUNC else "dual") if a.jvp == "auto" else a.jvp
    dtypes = a.dtypes.split(",") if a.dtypes else (["bfloat16", "float32"] if cuda else ["float32"])
    ref_dtype = torch.float32 if cuda else torch.float64
    if a.compile and not hasattr(torch, "compile"):
        sys.exit("--compile needs torch.compile (torch >= 2.0; installed: %s)" % torch.__version__)
    eager_loss = make_loss(a.objective, how)

    math_attend, math_label = libs.sdpa_math()
    backends = {"jfa": (lambda q, k, v: jt.attention(q, k, v), "jfa"), "math": (math_attend, math_label),
                "identity": (lambda q, k, v: v, "identity (floor)")}
    wanted = a.backends.split(",")
    if "triton" in wanted:
        if a.triton_path:
            try:
                backends["triton"] = triton_backend(a.triton_path)
            except Exception as e:  # no triton, no GPU: say so in the table
                backends["triton"] = (None, "triton: %s" % str(e).splitlines()[0][:80])
        else:
            wanted.remove("triton")

    torch.manual_seed(a.seed)
    master = MeanFlowNet(a.channels, a.width, a.heads, a.depth, a.seq, math_attention)
    g = torch.Generator().manual_seed(a.seed + 1)
    x = make_data(a.batch, a.seq, a.channels, g, "cpu", torch.float64)
    e = torch.randn(x.shape, generator=g, dtype=torch.float64)
    t = torch.rand(a.batch, generator=g)
    r = torch.where(torch.rand(a.batch, generator=g) < 0.5, t, t * torch.rand(a.batch, generator=g))
    batch_of = lambda dt: (x.to(device, dt), e.to(device, dt), r.to(device), t.to(device))

    print("# train_step: torch %s, %s, %s; B %d, N %d, width %d, heads %d (D %d), depth %d; "
          "reference: math in %s" % (torch.__version__, torch.cuda.get_device_name(device) if cuda else "cpu",
                                     "flow matching (no JVP)" if a.objective == "flow" else "MeanFlow, JVP via "
                                     + ("torch.func.jvp" if how == "func" else "dual tensors"), a.batch, a.seq,
                                     a.width, a.heads, a.width // a.heads, a.depth, str(ref_dtype)[6:]),
          file=sys.stderr if a.format == "csv" else sys.stdout)
    ref_model = with_attention(master, math_attend, ref_dtype, device)
    ref = one_step(ref_model, batch_of(ref_dtype), eager_loss)
    del ref_model

    cols = ["dtype", "backend", "ms/step", "peak MiB", "attention share", "rel u", "rel du/dt", "rel grads"]
    if a.compile:
        cols.append("graphs (breaks)")
    variants = [False, True] if a.compile else [False]
    rows = []
    for dname in dtypes:
        dt = getattr(torch, dname)
        if not cuda and dt not in (torch.float32, torch.float64):
            print("# %s: skipped on the CPU (jfa's CPU backend takes float32/float64)" % dname, file=sys.stderr)
            continue
        bt = batch_of(dt)
        floor = {}
        order = [("identity", c) for c in variants] + [(b, c) for b in wanted if b != "identity" for c in variants]
        res = {}
        for name, compiled in order:
            attend, label = backends[name]
            label = label + (" (compiled)" if compiled else "")
            row = {"dtype": dname, "backend": label}
            if attend is None:
                res[name, compiled] = row
                continue
            try:
                model = with_attention(master, attend, dt, device)
                loss_fn = eager_loss
                if compiled:
                    row["graphs (breaks)"] = graphs_of(eager_loss, model, bt)
                    loss_fn = torch.compile(eager_loss)
                elif a.compile:
                    row["graphs (breaks)"] = "eager"
                if cuda:
                    torch.cuda.synchronize()
                    torch.cuda.empty_cache()
                    base = torch.cuda.memory_allocated(device)
                    torch.cuda.reset_peak_memory_stats(device)
                u, dudt, grads = one_step(model, bt, loss_fn)
                if cuda:
                    torch.cuda.synchronize()
                    row["peak MiB"] = "%.0f" % ((torch.cuda.max_memory_allocated(device) - base) / 2 ** 20)
                ms = median_ms(lambda: one_step(model, bt, loss_fn), a.iters, a.warmup, cuda=cuda)
                row["ms/step"] = "%.2f" % ms
                if name == "identity":
                    floor[compiled] = ms
                elif compiled in floor:
                    row["attention share"] = "%.0f%%" % (100 * max(ms - floor[compiled], 0.0) / ms)
                if name != "identity":
                    row["rel u"] = "%.1e" % relerr(u, ref[0])
                    if dudt is not None:
                        row["rel du/dt"] = "%.1e" % relerr(dudt, ref[1])
                    gd = sum((gg.double().cpu() - rr.double().cpu()).norm().item() ** 2 for gg, rr in zip(grads, ref[2]))
                    gn = sum(rr.double().cpu().norm().item() ** 2 for rr in ref[2])
                    row["rel grads"] = "%.1e" % (gd ** 0.5 / max(gn ** 0.5, 1e-300))
                del model, u, dudt, grads
            except Exception as ex:  # out of memory, unsupported shape, ...
                row["backend"] = "%s: %s" % (label, str(ex).splitlines()[0][:90] if str(ex) else type(ex).__name__)
                if cuda:
                    torch.cuda.empty_cache()
            res[name, compiled] = row
        rows += [res[n, c] for n in wanted for c in variants if (n, c) in res]
        rows += [res["identity", c] for c in variants] if "identity" not in wanted else []

    if a.format == "csv":
        print(",".join(cols))
        for r_ in rows:
            print(",".join('"%s"' % r_.get(c, "") if "," in r_.get(c, "") else r_.get(c, "") for c in cols))
    else:
        print("| " + " | ".join(cols) + " |")
        print("|" + "---|" * len(cols))
        for r_ in rows:
            print("| " + " | ".join(r_.get(c, "-") for c in cols) + " |")


if __name__ == "__main__":
    main()
