#!/usr/bin/env python3
"""zipcheck.py ZIP MANIFEST - reads an archive test_zipout wrote with
Python's zipfile (another implementation than ours) and compares it
with the manifest test_zipout wrote beside it: one line per entry,
"NAME<TAB>SIZE<TAB>SHA256", after a first line "base=N zip64=0|1".

Checks: every CRC (testzip), the names in order, each entry's bytes
(SHA-256), STORED and no data descriptor, the local header's CRC and
sizes (or its Zip64 extra field), every local header at or past the
base (an archive written after a hole of base bytes), the Zip64 end
records when the manifest says so, and the file's exact size.
Prints "ok N" or raises."""
import hashlib
import os
import struct
import sys
import zipfile

path, manifest = sys.argv[1], sys.argv[2]
lines = open(manifest).read().splitlines()
head = dict(kv.split("=") for kv in lines[0].split())
base, zip64 = int(head["base"]), head["zip64"] == "1"
want = [l.split("\t") for l in lines[1:]]

z = zipfile.ZipFile(path)
bad = z.testzip()
assert bad is None, "bad CRC: %s" % bad
infos = z.infolist()
assert [i.filename for i in infos] == [w[0] for w in want], "names differ"
size = base
with open(path, "rb") as f:
    for i, (name, n, sha) in zip(infos, want):
        assert i.compress_type == zipfile.ZIP_STORED, name
        assert not i.flag_bits & 0x8, "data descriptor: " + name
        assert i.file_size == int(n), (name, i.file_size, n)
        assert i.header_offset >= base, (name, i.header_offset)
        h = hashlib.sha256()
        with z.open(i) as e:
            while True:
                b = e.read(1 << 20)
                if not b:
                    break
                h.update(b)
        assert h.hexdigest() == sha, name + ": bytes differ"
        f.seek(i.header_offset)
        lh = f.read(30)
        assert lh[:4] == b"PK\x03\x04", name
        crc, cs, us, nl, xl = struct.unpack("<IIIHH", lh[14:30])
        assert crc == i.CRC, name
        if i.file_size >= 0xFFFFFFFF:
            assert (cs, us) == (0xFFFFFFFF, 0xFFFFFFFF), name
        else:
            assert (cs, us) == (i.file_size, i.file_size), name
        big_off = i.header_offset >= 0xFFFFFFFF
        central_extra = 12 if big_off else 0
        size += 30 + xl + nl + i.file_size + 46 + nl + central_extra
    tail = 22 + (56 + 20 if zip64 else 0)
    f.seek(-tail, os.SEEK_END)
    end = f.read(tail)
    if zip64:
        assert end[:4] == b"PK\x06\x06", "no Zip64 end record"
        assert end[56:60] == b"PK\x06\x07", "no Zip64 locator"
        count, = struct.unpack("<Q", end[32:40])
        assert count == len(infos), count
    assert end[-22:-18] == b"PK\x05\x06", "no end record"
size += 22 + (56 + 20 if zip64 else 0)
assert os.path.getsize(path) == size, (os.path.getsize(path), size)
print("ok", len(infos))
