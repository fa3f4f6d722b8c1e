"""
test_abi_python.py - the Python binding's check of the library it loads (no
PyTorch needed): jfa.__version__ equals include/jfa.h's version, the build's
libjfa is accepted and its versioned structs have the binding's sizes, and a
library of another version (or one without the versioned inits) is refused
with an error naming it and saying why.

    python3 tests/abi/test_abi_python.py <libjfa.so> <fake libjfa.so> <include/jfa.h>
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PYDIR = os.path.join(HERE, "..", "..", "python")
failures = 0


def expect(what, ok, detail=""):
    global failures
    print("[%s] %s%s" % ("PASS" if ok else "FAIL", what, ("\n       " + detail) if (detail and not ok) else ""))
    failures += not ok


def run(code, library, **env):
    e = dict(os.environ, PYTHONPATH=PYDIR, JFA_LIBRARY=library, JFA_BUILD_DIR="/nonexistent-jfa-build",
             PYTHONDONTWRITEBYTECODE="1", **env)
    return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True)


def main():
    real, fake, header = sys.argv[1:4]
    text = open(header).read()
    hv = tuple(int(re.search(r"#define JFA_VERSION_%s (\d+)" % p, text).group(1)) for p in ("MAJOR", "MINOR", "PATCH"))
    r = run("import ctypes, jfa; from jfa import _lib\n"
            "p = _lib.AttentionParams(); c = _lib.RingConfig(); cb = _lib.CommCallbacks()\n"
            "print(jfa.__version__, jfa.version(), jfa.library_path())\n"
            "print(ctypes.sizeof(p), hex(p.struct_tag), p.struct_size, p.window_left, p.flags,"
            " _lib.PARAMS_SCALE_AS_GIVEN)\n"
            "print(ctypes.sizeof(c), hex(c.struct_tag), c.struct_size, c.dtype, ctypes.sizeof(cb), hex(cb.struct_tag))\n",
            real)
    lines = r.stdout.splitlines()
    expect("the build's library loads (stderr: %s)" % r.stderr.strip(), r.returncode == 0 and len(lines) == 3)
    if r.returncode == 0:
        expect("jfa.__version__ %s == include/jfa.h's %d.%d.%d" % ((lines[0].split()[0],) + hv),
               lines[0].split()[0] == "%d.%d.%d" % hv)
        expect("jfa.version() == the header's", lines[0].split()[1:4] == ["(%d," % hv[0], "%d," % hv[1], "%d)" % hv[2]],
               lines[0])
        expect("AttentionParams: 120 bytes, tag of kind 1 version 2, defaults, PARAMS_SCALE_AS_GIVEN = 1",
               lines[1] == "120 0xfff71fa000010002 120 -1 0 1", lines[1])
        expect("RingConfig (120 bytes, float32 default) and CommCallbacks (64 bytes) tagged",
               lines[2] == "120 0xfff71fa000020001 120 1 64 0xfff71fa000030001", lines[2])
    r = run("import jfa; jfa.version()", fake)
    msg = r.stderr
    expect("a libjfa 0.2.0 is refused with ImportError", r.returncode != 0 and "ImportError" in msg, msg)
    expect("the refusal names the library and both versions",
           fake in msg and "libjfa 0.2.0" in msg and "needs libjfa %d.%d.x" % hv[:2] in msg, msg)
    r = run("import jfa; jfa.version()", fake, JFA_FAKE_VERSION=str(hv[0] * 10000 + (hv[1] + 1) * 100))
    msg = r.stderr
    expect("a newer-minor library without the versioned inits is refused, saying what it lacks",
           r.returncode != 0 and fake in msg and "lacks jfa_attention_params_init_versioned" in msg, msg)
    r = run("import jfa; jfa.version()", fake, JFA_FAKE_VERSION=str((hv[0] + 1) * 10000))
    expect("a library of another major version is refused",
           r.returncode != 0 and "libjfa %d.0.0" % (hv[0] + 1) in r.stderr, r.stderr)
    print("%d failed" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
