"""
run_pytest.py - runs the Python binding's tests for one CTest label; exits 77
(CTest "Not Run") when what the label needs is missing, so that a missing GPU or
PyTorch never reads as a pass.

    python3 tests/python/run_pytest.py cpu          # CPU tests (float64/float32 through the CPU backend)
    python3 tests/python/run_pytest.py gpu          # CUDA tests (gpu marker)
    python3 tests/python/run_pytest.py torchrun N   # ring_worker.py under torchrun with N ranks on CUDA
    python3 tests/python/run_pytest.py examples     # examples/ and bench/train_step.py at a tiny size (CPU)

JFA_LIBRARY (set by CTest) names the libjfa.so under test.
"""
import os
import subprocess
import sys

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "cpu"
    try:
        import torch
        import pytest
    except ImportError as e:
        print("Not run: %s cannot import %s (install PyTorch and pytest for this interpreter)" % (sys.executable,
                                                                                               e.name))
        return SKIP
    print("python %s, torch %s, pytest %s, JFA_LIBRARY=%s" % (sys.version.split()[0], torch.__version__,
                                                               pytest.__version__, os.environ.get("JFA_LIBRARY")))
    if mode in ("gpu", "torchrun"):
        sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
        import jfa
        if not torch.cuda.is_available() or not jfa.cuda_available():
            print("Not run: no CUDA GPU for torch (%s) or jfa (%s)" % (torch.cuda.is_available(),
                                                                      jfa.cuda_available()))
            return SKIP
    if mode == "torchrun":
        n = sys.argv[2] if len(sys.argv) > 2 else "1"
        if torch.cuda.device_count() < int(n):
            print("Not run: %s ranks need %s GPUs for NCCL, %d visible" % (n, n, torch.cuda.device_count()))
            return SKIP
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", n,
               os.path.join(HERE, "ring_worker.py"), "--device", "cuda", "--dtype", "bfloat16,float32"]
        print(" ".join(cmd), flush=True)
        return subprocess.call(cmd)
    if mode == "examples":
        return int(pytest.main([os.path.join(HERE, "test_examples.py"), "-q", "-rs", "-p", "no:cacheprovider"]
                               + sys.argv[2:]))
    args = [HERE, "-q", "-rs", "-p", "no:cacheprovider", "-m", "gpu" if mode == "gpu" else "not gpu",
            "--ignore", os.path.join(HERE, "test_examples.py")]
    args += sys.argv[2:]
    rc = pytest.main(args)
    return 0 if rc == 5 and mode == "gpu" else int(rc)  # 5: nothing collected


if __name__ == "__main__":
    sys.exit(main())
