"""
setup.py - the jfa Python package (ctypes over libjfa; no compiled extension, so
it works with any PyTorch version it supports without rebuilding).

    ./launch/build.sh                                # builds libjfa.so in build/
    python3 -m venv --system-site-packages .venv     # Debian/Ubuntu (PEP 668): a venv that sees python3-torch
    .venv/bin/pip install --no-build-isolation ./python   # copies build/libjfa.so into the package

The wheel carries the native libjfa.so, so it is tagged for its platform
(py3-none-<platform>, e.g. py3-none-linux_x86_64): any Python 3, one machine kind.

The library copied in is, in order: $JFA_LIBRARY, $JFA_BUILD_DIR/libjfa.so,
<repo>/build/libjfa.so. Without one the package still installs and finds the
library at run time through JFA_LIBRARY, or a libjfa.so.<major> installed where the
dynamic loader looks (see jfa/_lib.py).
"""
import glob
import os
import re
import shutil

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:  # setuptools >= 70.1 has its own; before that the wheel package provides it
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:
    try:
        from wheel.bdist_wheel import bdist_wheel
    except ImportError:
        bdist_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))


def find_library():
    cands = [os.environ.get("JFA_LIBRARY", "")]
    build = os.environ.get("JFA_BUILD_DIR", os.path.join(HERE, "..", "build"))
    cands.append(os.path.join(build if os.path.isabs(build) else os.path.join(HERE, "..", build), "libjfa.so"))
    for c in cands:
        if c and os.path.exists(c):
            return os.path.realpath(c)
    return None


class BuildWithLibrary(build_py):
    """build_py that also copies libjfa.so (resolved from its symlinks) next to jfa/__init__.py."""

    def run(self):
        super().run()
        lib = find_library()
        dest = os.path.join(self.build_lib, "jfa")
        for old in glob.glob(os.path.join(dest, "libjfa.so*")):
            os.remove(old)
        if lib:
            shutil.copy2(lib, os.path.join(dest, "libjfa.so"))
            print("jfa: bundled %s" % lib)
        else:
            print("jfa: no libjfa.so found to bundle; set JFA_LIBRARY at run time")


cmdclass = {"build_py": BuildWithLibrary}
if bdist_wheel is not None:
    class PlatformWheel(bdist_wheel):
        """A wheel tagged py3-none-<platform>: it holds libjfa.so (native code, no Python ABI)."""

        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = PlatformWheel

class BinaryDistribution(Distribution):
    """Holds native code (the bundled libjfa.so): built and installed as platform-specific."""

    def has_ext_modules(self):
        return True


def package_version():
    """VERSION of jfa/_lib.py (the libjfa version the binding is written for)."""
    with open(os.path.join(HERE, "jfa", "_lib.py")) as f:
        m = re.search(r"^VERSION = \((\d+), (\d+), (\d+)\)", f.read(), re.M)
    return ".".join(m.groups())


setup(
    name="jfa",
    distclass=BinaryDistribution,
    version=package_version(),
    description="Exact attention with forward-mode derivatives (JVP) and backward; ring attention",
    packages=["jfa", "jfa.torch"],
    python_requires=">=3.8",
    cmdclass=cmdclass,
    zip_safe=False,
)
