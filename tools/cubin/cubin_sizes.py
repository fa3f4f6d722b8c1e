#!/usr/bin/env python3
"""cubin_sizes.py CUBIN [substr]: .text size (bytes; 16 a SASS instruction) of each kernel."""
import struct, sys
d = open(sys.argv[1], 'rb').read()
shoff, = struct.unpack_from('<Q', d, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', d, 0x3A)
secs = [struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize) for i in range(shnum)]
stro = secs[shstrndx][4]
def name(o):
    e = d.index(b'\0', stro + o); return d[stro + o:e].decode()
for s in secs:
    n = name(s[0])
    if n.startswith('.text.') and (len(sys.argv) < 3 or sys.argv[2] in n):
        print(s[5], s[5] // 16, n[6:])
