#!/usr/bin/env python3
"""Rewrites a clubsync bundle (docs/formats.md) with a valid trailer, for
tests that must get past the damage check to the decision's own checks.

  bundle_edit.py IN OUT drop ID_HEX        leave out the change with this id
  bundle_edit.py IN OUT add OTHER_BUNDLE   append every change of another bundle
  bundle_edit.py IN OUT prepend OTHER_BUNDLE   put every change of another bundle first
  bundle_edit.py IN ids                    print each record's change id
"""
import hashlib
import struct
import sys

HEADER = 44


def records(data):
    out, at = [], HEADER
    while True:
        (n,) = struct.unpack(">I", data[at:at + 4])
        at += 4
        if n == 0:
            return out
        out.append(data[at:at + n])
        at += n


def change_id(record):
    """BLAKE2b-256 of "clubsync/change/v1" and the header bytes: the signed
    change is a msgpack array of 3 whose first item is the header as a bin."""
    assert record[0] == 0x93
    tag, at = record[1], 2
    if tag == 0xC4:
        n, at = record[2], 3
    elif tag == 0xC5:
        (n,) = struct.unpack(">H", record[2:4])
        at = 4
    else:
        raise ValueError("unexpected header encoding")
    return hashlib.blake2b(b"clubsync/change/v1" + record[at:at + n], digest_size=32).hexdigest()


def write(path, header, recs):
    body = bytearray(header)
    for r in recs:
        body += struct.pack(">I", len(r)) + r
    body += struct.pack(">I", 0) + struct.pack(">Q", len(recs))
    body += hashlib.blake2b(bytes(body), digest_size=32).digest()
    open(path, "wb").write(bytes(body))


def main():
    data = open(sys.argv[1], "rb").read()
    header, recs = data[:HEADER], records(data)
    if sys.argv[2] == "ids":
        for r in recs:
            print(change_id(r))
        return
    out, what, arg = sys.argv[2], sys.argv[3], sys.argv[4]
    if what == "drop":
        kept = [r for r in recs if change_id(r) != arg]
        assert len(kept) == len(recs) - 1, "no such record"
        write(out, header, kept)
    elif what == "add":
        write(out, header, recs + records(open(arg, "rb").read()))
    elif what == "prepend":
        write(out, header, records(open(arg, "rb").read()) + recs)
    else:
        sys.exit("unknown edit " + what)


main()
