#!/usr/bin/env python3
"""cubin_sizes.py CUBIN [substring]: each kernel's .text size in bytes and in SASS instructions (16 bytes each)
and its name (tools/cubin/README.md)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cubin_elf import text_sections  # noqa: E402

for n, text in text_sections(sys.argv[1]):
    if len(sys.argv) < 3 or sys.argv[2] in n:
        print(len(text), len(text) // 16, n)
