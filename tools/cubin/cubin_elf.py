"""cubin_elf.py - the kernels' .text sections of an ELF cubin (64-bit, little-endian), for cubin_hash.py and
cubin_sizes.py: text_sections(path) -> [(kernel name, bytes)] in section order."""
import struct


def text_sections(path):
    d = open(path, 'rb').read()
    shoff, = struct.unpack_from('<Q', d, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from('<HHH', d, 0x3A)
    secs = [struct.unpack_from('<IIQQQQIIQQ', d, shoff + i * shentsize) for i in range(shnum)]
    stro = secs[shstrndx][4]

    def name(o):
        return d[stro + o:d.index(b'\0', stro + o)].decode()
    return [(name(s[0])[6:], d[s[4]:s[4] + s[5]]) for s in secs if name(s[0]).startswith('.text.')]
