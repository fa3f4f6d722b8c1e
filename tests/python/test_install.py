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


def _built_lib():
    lib = os.environ.get("JFA_LIBRARY")
    if not lib or not os.path.exists(lib):
        pytest.skip("JFA_LIBRARY does not name a built libjfa.so")
    return os.path.abspath(lib)


def _copy_src(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(os.path.join(HERE, "..", "..", "python"), src,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "libjfa.so*"))
    return src


def test_wheel_is_platform_tagged(tmp_path):
    """The wheel carries libjfa.so, so it is py3-none-<platform>, not py3-none-any."""
    lib = _built_lib()
    src = _copy_src(tmp_path)
    env = dict(os.environ, JFA_LIBRARY=lib, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation", "--no-deps", str(src),
                        "-w", str(tmp_path / "dist")], env=env, capture_output=True, text=True)
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip("pip wheel needs the wheel package: %s" % r.stderr.strip()[-200:])
    assert r.returncode == 0, r.stderr
    (whl,) = os.listdir(tmp_path / "dist")
    import sysconfig
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert whl.startswith("jfa-") and whl.endswith("-py3-none-%s.whl" % plat), whl
    import zipfile
    names = zipfile.ZipFile(str(tmp_path / "dist" / whl)).namelist()
    assert "jfa/libjfa.so" in names and "jfa/torch/_api.py" in names, names


def test_venv_with_system_site_packages(tmp_path):
    """The README's route on Debian/Ubuntu (PEP 668): a venv that sees the system's torch, then
    pip install ./python into it; the README's CPU example runs from the installed package."""
    lib = _built_lib()
    venv = tmp_path / "venv"
    r = subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], capture_output=True,
                       text=True)
    if r.returncode != 0:
        pytest.skip("python3 -m venv is not available here (Debian: apt-get install python3-venv): %s"
                    % r.stderr.strip()[-200:])
    py = str(venv / "bin" / "python")
    if subprocess.call([py, "-c", "import torch"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
        # checked before jfa is installed: the route needs torch in the system's site-packages
        # (Debian's python3-torch); a venv made from an interpreter that is itself a venv (the
        # H200's) sees the base interpreter's packages, not that venv's torch
        pytest.skip("torch is not in the system site-packages of %s (sys.prefix %s, base prefix %s)"
                    % (sys.executable, sys.prefix, sys.base_prefix))
    src = _copy_src(tmp_path)
    env = dict(os.environ, JFA_LIBRARY=lib, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([py, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", str(src)], check=True,
                   env=env)
    env = {k: v for k, v in os.environ.items() if k not in ("JFA_LIBRARY", "PYTHONPATH")}
    example = os.path.join(HERE, "..", "..", "examples", "readme_cpu.py")
    out = subprocess.run([py, example], env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "site-packages" in out.stdout and "max |O - reference|" in out.stdout, out.stdout


def test_installed_library_through_the_loader(tmp_path):
    """A libjfa installed where the dynamic loader looks (here: LD_LIBRARY_PATH), with JFA_LIBRARY unset, no
    bundled copy and no build directory: found as libjfa.so.<major> (_lib.py's last candidate)."""
    lib = _built_lib()
    real = os.path.basename(os.path.realpath(lib))  # libjfa.so.<major>.<minor>.<patch>
    soname = ".".join(real.split(".")[:3])
    libdir = tmp_path / "prefix" / "lib"
    libdir.mkdir(parents=True)
    shutil.copy2(os.path.realpath(lib), str(libdir / soname))
    pkg = tmp_path / "pkg"
    shutil.copytree(os.path.join(HERE, "..", "..", "python", "jfa"), str(pkg / "jfa"),
                    ignore=shutil.ignore_patterns("__pycache__", "libjfa.so*"))
    env = {k: v for k, v in os.environ.items() if k not in ("JFA_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH")}
    env.update(PYTHONPATH=str(pkg), LD_LIBRARY_PATH=str(libdir), JFA_BUILD_DIR=str(tmp_path / "no-build"))
    code = "import jfa; from jfa import _lib; print(jfa.library_path(), jfa.version() == _lib.VERSION)"
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=str(tmp_path), capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split() == [soname, "True"], out.stdout
