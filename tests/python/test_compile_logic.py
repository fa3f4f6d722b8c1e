"""
test_compile_logic.py - the compiled path's Python logic on every torch (CI's 1.13 included):
compile_logic_worker.py in its own process, with torch.library.custom_op / torch.compiler
replaced by stand-ins (test_compile.py tests the real thing where torch >= 2.4).
"""
import os
import random
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_compiled_path_logic():
    env = dict(os.environ)
    env.setdefault("JFA_TEST_SEED", str(random.randrange(1 << 31)))
    r = subprocess.run([sys.executable, os.path.join(HERE, "compile_logic_worker.py")], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip().endswith("ALL OK"), r.stdout + r.stderr
