#!/usr/bin/env python3
"""cubin_hash.py CUBIN: the md5 of each kernel's .text section and its name, one per line, sorted by name
(tools/cubin/README.md)."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cubin_elf import text_sections  # noqa: E402

for n, text in sorted(text_sections(sys.argv[1])):
    print(hashlib.md5(text).hexdigest(), n)
