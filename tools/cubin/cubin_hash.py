#!/usr/bin/env python3
# tools/cubin/cubin_hash.py (repository): see tools/cubin/README.md
"""cubin_hash.py CUBIN: md5 of every .text.<kernel> section (name -> md5), one per line, sorted."""
import hashlib, struct, sys
d = open(sys.argv[1], 'rb').read()
shoff, = struct.unpack_from('<Q', d, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from('<HHH', d, 0x3A)
secs = [struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize) for i in range(shnum)]
stro = secs[shstrndx][4]
def name(o):
    e = d.index(b'\0', stro + o); return d[stro + o:e].decode()
for s in sorted(secs, key=lambda s: name(s[0])):
    n = name(s[0])
    if n.startswith('.text.'):
        print(hashlib.md5(d[s[4]:s[4] + s[5]]).hexdigest(), n[6:])
