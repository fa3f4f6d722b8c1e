"""
test_install.py - `pip install ./python` (no registry: --no-build-isolation) bundles
this build's libjfa.so, and the installed package works with JFA_LIBRARY unset.
"""
import os
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def test_pip_install_bundles_library(tmp_path):
    lib = os.environ.get("JFA_LIBRARY")
    if not lib or not os.path.exists(lib):
        pytest.skip("JFA_LIBRARY does not name a built libjfa.so")
    if subprocess.call([sys.executable, "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL) != 0:
        pytest.skip("pip is not available for %s" % sys.executable)
    src = tmp_path / "src"
    shutil.copytree(os.path.join(HERE, "..", "..", "python"), src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "libjfa.so*"))
    target = tmp_path / "site"
    env = dict(os.environ, JFA_LIBRARY=os.path.abspath(lib), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
                    "--target", str(target), str(src)], check=True, env=env)
    assert (target / "jfa" / "libjfa.so").exists()
    env = {k: v for k, v in os.environ.items() if k not in ("JFA_LIBRARY", "PYTHONPATH")}
    env["PYTHONPATH"] = str(target)
    code = ("import torch, jfa, jfa.torch as jt; from jfa import _lib; "
            "assert _lib.candidate_paths()[0].startswith(%r); "
            "q = torch.randn(1, 2, 9, 8, dtype=torch.float64); "
            "print(jfa.version() == _lib.VERSION, jfa.__version__, float(jt.attention(q, q, q).sum()))"
            % str(target))
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(tmp_path),
                         capture_output=True, text=True)
    assert out.stdout.startswith("True ")
