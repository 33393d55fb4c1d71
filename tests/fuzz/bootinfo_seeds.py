#!/usr/bin/env python3
"""Writes the seed inputs of bootinfo_fuzz into tests/fuzz/corpus/bootinfo/.

Input layout (see bootinfo_fuzz.cpp): one selector byte, then the buffer.
Run from the repository root: python3 tests/fuzz/bootinfo_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "bootinfo")


def align8(b):
    return b + b"\0" * (-len(b) % 8)


def tag(type_, payload):
    body = struct.pack("<II", type_, 8 + len(payload)) + payload
    return align8(body)


def e820(base, length, type_):
    return struct.pack("<QQI", base, length, type_)


def mb2_info():
    mmap = struct.pack("<II", 24, 0) + b"".join(
        e820(b, l, t) + b"\0\0\0\0"
        for b, l, t in [(0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0x100000, 0x7EE0000, 1),
                        (0xFFFC0000, 0x40000, 2), (0x100000000, 0x40000000, 1)])
    efi = struct.pack("<II", 48, 1) + b"".join(
        struct.pack("<IIQQQQ", t, 0, p, 0, n, 0xF) + b"\0" * 8
        for t, p, n in [(7, 0x100000, 0x700), (2, 0x800000, 0x100)])
    tags = (tag(1, b"console=ttyS0 test\0") + tag(2, b"GRUB 2.06\0")
            + tag(3, struct.pack("<II", 0x200000, 0x201234) + b"initrd\0")
            + tag(4, struct.pack("<II", 639, 130048)) + tag(6, mmap) + tag(17, efi)
            + tag(8, struct.pack("<QIIIBBH", 0xFD000000, 4096, 1024, 768, 32, 1, 0))
            + struct.pack("<II", 0, 8))
    return struct.pack("<II", 8 + len(tags), 0) + tags


SEEDS = {
    "mb2_info": bytes([0]) + mb2_info(),
    "mb2_info_meminfo_only": bytes([0]) + struct.pack("<II", 48, 0)
    + tag(4, struct.pack("<II", 639, 1000)) + tag(1, b"x\0") + struct.pack("<II", 0, 8),
    "mb1_mmap": bytes([1]) + b"".join(struct.pack("<I", 20) + e820(b, l, t)
                                      for b, l, t in [(0, 0x9FC00, 1), (0x100000, 0x7EE0000, 1),
                                                      (0x7FE0000, 0x20000, 3)]),
    "mb2_mmap_tag": bytes([2]) + struct.pack("<IIII", 6, 0, 24, 0)
    + e820(0x100000, 0x100000, 1) + b"\0" * 4 + e820(0x200000, 0x1000, 5) + b"\0" * 4,
    "e820_ext": bytes([4 * 5 + 3]) + e820(0x100000, 0x100000, 1) + struct.pack("<I", 1)
    + e820(0x200000, 0x100000, 1) + struct.pack("<I", 0),
    "uefi48": bytes([12 * 5 + 4]) + b"".join(
        struct.pack("<IIQQQQ", t, 0, p, 0, n, a) + b"\0" * 8
        for t, p, n, a in [(7, 0x100000, 0x100, 0xF), (7, 0x200000, 0x10, 0xF | 1 << 18),
                           (9, 0x300000, 4, 0xF), (7, 0x400000, 1 << 60, 0xF)]),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
