#!/usr/bin/env python3
"""Reads and writes clubsync invitation codes (docs/protocol.md, "Invitation
code"), for tests that check what an invite carries or hand `club join` a
code the CLI would not make.

  invite_code.py addresses CODE       print each address the code carries, one a line
  invite_code.py make ADDRESS...      print a code for a made-up club with these addresses
  invite_code.py make-damaged         print a code whose address list is cut short
"""
import base64
import os
import struct
import sys

PREFIX = "clubsync1:"


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def byte(self):
        b = self.data[self.at]
        self.at += 1
        return b

    def take(self, n):
        out = self.data[self.at:self.at + n]
        if len(out) != n:
            raise ValueError("truncated")
        self.at += n
        return out

    def array(self):
        b = self.byte()
        if 0x90 <= b <= 0x9F:
            return b & 0x0F
        if b == 0xDC:
            return struct.unpack(">H", self.take(2))[0]
        raise ValueError("not an array: 0x%02x" % b)

    def uint(self):
        b = self.byte()
        if b <= 0x7F:
            return b
        if b == 0xCC:
            return self.byte()
        raise ValueError("not a small uint: 0x%02x" % b)

    def bin(self):
        b = self.byte()
        if b != 0xC4:
            raise ValueError("not a bin8: 0x%02x" % b)
        return self.take(self.byte())

    def str(self):
        b = self.byte()
        if 0xA0 <= b <= 0xBF:
            return self.take(b & 0x1F).decode()
        if b == 0xD9:
            return self.take(self.byte()).decode()
        raise ValueError("not a str: 0x%02x" % b)


def encode_str(text):
    raw = text.encode()
    head = bytes([0xA0 | len(raw)]) if len(raw) < 32 else bytes([0xD9, len(raw)])
    return head + raw


def encode(addresses, role="member", cut=False):
    out = bytes([0x95, 0x01, 0xC4, 32]) + os.urandom(32) + bytes([0xC4, 32]) + os.urandom(32)
    out += bytes([0x90 | len(addresses)]) + b"".join(encode_str(a) for a in addresses)
    if cut:
        out = out[:-1]
    else:
        out += encode_str(role)
    return PREFIX + base64.urlsafe_b64encode(out).decode().rstrip("=")


def decode(code):
    assert code.startswith(PREFIX), code
    text = code[len(PREFIX):]
    r = Reader(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    assert r.array() == 5 and r.uint() == 1
    r.bin()
    r.bin()
    return [r.str() for _ in range(r.array())]


def main(argv):
    if argv[1] == "addresses":
        for address in decode(argv[2]):
            print(address)
    elif argv[1] == "make":
        print(encode(argv[2:]))
    elif argv[1] == "make-damaged":
        print(encode(["127.0.0.1:7450", "127.0.0.1:7451"], cut=True))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
