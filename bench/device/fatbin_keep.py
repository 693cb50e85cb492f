"""Zero the GPU code of every architecture but one in an ELF's .nv_fatbin section, in place.

    python fatbin_keep.py LIB.so [SM OUT.so]     # without SM: list the entries (kind 1 PTX, 2 cubin; sm; compressed)

The CUDA runtime loads the cubin that matches the device (sm_90 on an H100/H200) and never reads the
others; zeroed, they compress to nothing, which takes faiss-gpu's 199 MB libfaiss.so to 19 MB in xz
(bench/device/README.md). Entry layout: a 16-byte container header (magic 0xBA55ED50, version, header
size, payload size), then entries of (kind u16, version u16, header size u32, padded payload u32, ...,
sm u32 at +28, flags u64 at +40; 0x2000 = compressed).
"""
import collections
import struct
import subprocess
import sys

path = sys.argv[1]
keep = int(sys.argv[2]) if len(sys.argv) > 2 else None
out = sys.argv[3] if len(sys.argv) > 3 else None
data = bytearray(open(path, "rb").read())
line = next(l for l in subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True).stdout.splitlines()
            if ".nv_fatbin" in l).split()
at = line.index(".nv_fatbin")
off, size = int(line[at + 3], 16), int(line[at + 4], 16)
pos, end = off, off + size
stats: collections.Counter = collections.Counter()
counts: collections.Counter = collections.Counter()
zeroed = 0
while pos < end:
    magic, _version, header, fat = struct.unpack_from("<IHHQ", data, pos)
    if magic != 0xBA55ED50:
        pos += 8
        continue
    entry, stop = pos + header, pos + header + fat
    while entry < stop:
        kind, _ev, entry_header, padded = struct.unpack_from("<HHII", data, entry)
        sm = struct.unpack_from("<I", data, entry + 28)[0]
        flags = struct.unpack_from("<Q", data, entry + 40)[0]
        stats[(kind, sm, bool(flags & 0x2000))] += padded
        counts[(kind, sm)] += 1
        if keep is not None and not (kind == 2 and sm == keep):
            data[entry + entry_header : entry + entry_header + padded] = bytes(padded)
            zeroed += padded
        entry += entry_header + padded
    pos = stop
for (kind, sm, compressed), total in sorted(stats.items()):
    print(f"kind {kind} sm_{sm} compressed {compressed}: {counts[(kind, sm)]} entries, {total / 1e6:.1f} MB")
print(f"zeroed {zeroed / 1e6:.1f} MB")
if out:
    open(out, "wb").write(data)
