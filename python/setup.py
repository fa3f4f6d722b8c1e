"""
setup.py - the jfa Python package (ctypes over libjfa; no compiled extension, so
it works with any PyTorch version it supports without rebuilding).

    ./launch/build.sh                                # builds libjfa.so in build/
    pip install --no-build-isolation ./python        # copies build/libjfa.so into the package

The library copied in is, in order: $JFA_LIBRARY, $JFA_BUILD_DIR/libjfa.so,
<repo>/build/libjfa.so. Without one the package still installs and finds the
library at run time through JFA_LIBRARY (see jfa/_lib.py).
"""
import glob
import os
import re
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

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


def package_version():
    """VERSION of jfa/_lib.py (the libjfa version the binding is written for)."""
    with open(os.path.join(HERE, "jfa", "_lib.py")) as f:
        m = re.search(r"^VERSION = \((\d+), (\d+), (\d+)\)", f.read(), re.M)
    return ".".join(m.groups())


setup(
    name="jfa",
    version=package_version(),
    description="Exact attention with forward-mode derivatives (JVP) and backward; ring attention",
    packages=["jfa", "jfa.torch"],
    python_requires=">=3.8",
    cmdclass={"build_py": BuildWithLibrary},
    zip_safe=False,
)
