#!/usr/bin/env python3
"""Writes hand-made changesets of demo_household submissions, as an agent
would send them, for tests that push with curl or a raw socket.

  changesets.py --out PREFIX --device ID --collector NAME --size N
                [--comment-bytes B] FIRST [FIRST ...]

For each FIRST, PREFIX<FIRST>.json holds changes FIRST..FIRST+N-1. The
comment is "hand <seq>", or B random bytes as hex (2*B characters) to
make rows large."""
import argparse
import json
import os
import time


def uuid7(ms):
    """Time-ordered UUID: 48 bits of ms, version 7, variant 10."""
    r = bytearray(os.urandom(16))
    r[0:6] = ms.to_bytes(6, "big")
    r[6] = 0x70 | (r[6] & 0x0F)
    r[8] = 0x80 | (r[8] & 0x3F)
    h = r.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", required=True)
    ap.add_argument("--collector", required=True)
    ap.add_argument("--size", type=int, required=True)
    ap.add_argument("--comment-bytes", type=int, default=0)
    ap.add_argument("first", type=int, nargs="+")
    a = ap.parse_args()
    now = int(time.time() * 1000)
    for first in a.first:
        changes = []
        for seq in range(first, first + a.size):
            ms = now + seq
            comment = (os.urandom(a.comment_bytes).hex() if a.comment_bytes
                       else f"hand {seq}")
            changes.append({
                "seq": seq, "kind": "submission", "id": uuid7(ms),
                "form": "demo_household", "form_version": 1, "area": "N-01",
                "collector": a.collector, "hlc": f"{ms:012x}0000",
                "created_ms": ms, "rev": 1,
                "answers": {"age_band": "25-34", "gender": "woman",
                            "belonging": 1 + seq % 5, "trust_local_gov": 3,
                            "comment": comment}})
        body = {"protocol": 1, "schema": 1, "device": a.device,
                "first_seq": first, "last_seq": first + a.size - 1,
                "changes": changes}
        with open(f"{a.out}{first}.json", "w") as f:
            json.dump(body, f)


if __name__ == "__main__":
    main()
