"""
test_examples.py - examples/consistency_training.py and bench/train_step.py at a tiny size
(CTest test_python_examples, label cpu): the MeanFlow example in one process with jfa and with
math attention (the same losses), under two ranks with ring attention over gloo (the loss of
step 1 equals the single-process one), the training-step benchmark's table, the second-order
benchmark's row (bench/bench_second_order.py, --calls) in float64, and the package sweep's table
(bench/bench_vs_package.py --device cpu: jfa's rows without the package).
"""
import os
import re
import socket
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
EXAMPLE = os.path.join(ROOT, "examples", "consistency_training.py")
BENCH = os.path.join(ROOT, "bench", "train_step.py")
BENCH_SO = os.path.join(ROOT, "bench", "bench_second_order.py")
BENCH_VS = os.path.join(ROOT, "bench", "bench_vs_package.py")


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.path.join(ROOT, "python") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _losses(out):
    return [float(x) for x in re.findall(r"step +\d+/\d+ +loss ([0-9.]+)", out)]


_single = {}


def _single_process(att):
    """stdout of the example run in one process with this attention (run once per module)."""
    if att not in _single:
        r = subprocess.run([sys.executable, EXAMPLE, "--tiny", "--attention", att], env=_env(), capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        _single[att] = r.stdout
    return _single[att]


def test_example_single_process():
    outs = {}
    for att in ("jfa", "math"):
        out = _single_process(att)
        assert "one-step samples" in out, out
        outs[att] = _losses(out)
    assert len(outs["jfa"]) == 3, outs
    for a, b in zip(outs["jfa"], outs["math"]):
        assert abs(a - b) <= 1e-3 * abs(b), outs


def test_example_ring_two_ranks():
    """Two processes (the environment torchrun sets), ring attention over gloo."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank in range(2):
        env = dict(_env(), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE="2", RANK=str(rank),
                   LOCAL_RANK=str(rank))
        procs.append(subprocess.Popen([sys.executable, EXAMPLE, "--tiny"], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert "ring, P = 2" in outs[0], outs[0]
    ring, one = _losses(outs[0]), _losses(_single_process("jfa"))  # the default attention
    assert len(ring) == 3 and abs(ring[0] - one[0]) <= 1e-4 * abs(one[0]), (ring, one)


def test_train_step_bench_tiny():
    r = subprocess.run([sys.executable, BENCH, "--tiny", "--dtypes", "float32,float64", "--format", "csv"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split(",") for line in r.stdout.strip().splitlines()]
    assert rows[0][:3] == ["dtype", "backend", "ms/step"], rows
    jfa64 = [row for row in rows if row[0] == "float64" and row[1] == "jfa"]
    assert jfa64, rows
    for v in jfa64[0][5:8]:  # u, du/dt, weight gradients against the float64 math step
        assert float(v) < 1e-12, rows
    jfa32 = [row for row in rows if row[0] == "float32" and row[1] == "jfa"][0]
    assert all(float(v) < 1e-4 for v in jfa32[5:8]), rows
    assert float(jfa32[2]) > 0


def test_second_order_bench_tiny():
    """bench_second_order.py on the CPU in float64 with --calls hvp: one row whose backward-JVP ratios
    and times are positive and whose autograd.functional HVP matches SDPA math's (rel, norm); no
    torch.func column (--calls leaves it out)."""
    r = subprocess.run([sys.executable, BENCH_SO, "--device", "cpu", "--dtype", "float64", "--cases", "16:8:1",
                        "--iters", "1", "--tokens", "32", "--width", "16", "--calls", "hvp"],
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line for line in r.stdout.splitlines() if line.startswith("N=")]
    assert len(rows) == 1, r.stdout
    row = dict(kv.split("=", 1) for kv in rows[0].split())
    assert (row["N"], row["D"], row["causal"]) == ("16", "8", "1"), row
    assert all(float(row[k]) > 0 for k in ("bwd", "bwd_jvp", "bwd_jvp1", "ratio", "hvp_math", "hvp_jfa")), row
    assert float(row["hvp_jfa_rel"]) < 1e-10 and abs(float(row["hvp_jfa_norm"]) - 1) < 1e-10, row
    assert not any(k.startswith("func_hvp") for k in row), row


def test_vs_package_bench_tiny():
    """bench_vs_package.py on the CPU (its script check: no package there): a row per lane and float32 precision with
    three positive jfa timings, the package's cells empty, the summary lines; --batch 2 as well."""
    lanes = "float32:16:32:none,float32:8:32:dense,float32:16:64:bias,float32:8:32:causal"
    for batch in ("1", "2"):
        r = subprocess.run([sys.executable, BENCH_VS, "--device", "cpu", "--tokens", "64", "--width", "32", "--iters",
                            "2", "--batch", batch, "--lanes", lanes], env=_env(), capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
        rows = [line.split("|")[1:-1] for line in r.stdout.splitlines() if line.startswith("| float32")]
        assert len(rows) == 8, r.stdout  # 4 lanes x ("highest", "high")
        for row in rows:
            ms = [float(x) for x in row[5].split(" / ")]
            assert len(ms) == 3 and all(x > 0 for x in ms), row
            assert row[6].strip() == "-" and row[7].strip() == "- / - / -", row
            fb = row[9].split(" / ")  # the forward + backward pair: jfa's time, the package's cells empty
            assert abs(float(fb[0]) - ms[0] - ms[2]) <= 0.0021 and [x.strip() for x in fb[1:]] == ["-", "-"], row
        assert "# 4 of 4 lanes" in r.stdout and "# jfa slower (0):" in r.stdout, r.stdout
