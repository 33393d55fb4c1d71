#!/usr/bin/env python3
"""Writes the hand-made seed inputs of memmap_fuzz into tests/fuzz/corpus/memmap/.

The encoding is the one documented at the top of memmap_fuzz.cpp. Run from the
repository root after changing the decoder: python3 tests/fuzz/memmap_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "memmap")
BITS = {52: 0, 40: 2, 36: 3, 32: 4, 24: 5, 16: 6, 64: 7}
U, R, A, N, B, L, K = 1, 2, 3, 4, 5, 6, 7


def config(low_mode=0, bits=52, low_value=None):
    b = bytes([low_mode | BITS[bits] << 2])
    return b + (struct.pack("<I", low_value) if low_mode == 2 else b"")


# addr() encodings
def a_byte(v): return bytes([0]) + struct.pack("<I", v)
def a_frame(f): return bytes([3]) + struct.pack("<H", f)
def a_top(off): return bytes([5]) + struct.pack("<I", off)
def a_top_frames(n): return bytes([6, n])
def a_special(i, raw=0): return bytes([7, i]) + (struct.pack("<Q", raw) if i == 11 else b"")


# len() encodings
def l_bytes(n): return bytes([0]) + struct.pack("<H", n)
def l_frames(n): return bytes([2, n])
def l_to(addr): return bytes([3]) + addr
def l_small(frames, extra): return bytes([4, frames, extra])
def l_special(i, raw=0): return bytes([5, i]) + (struct.pack("<Q", raw) if i == 7 else b"")


def add(addr, length, t): return bytes([0]) + addr + length + bytes([t])
def reserve(addr, length, t): return bytes([11]) + addr + length + bytes([t])
def check(): return bytes([14])
def chains(first, count): return bytes([15]) + struct.pack("<H", first - 256) + bytes([count])


def rim_reserves(first, count):
    return b"".join(reserve(a_frame(first + c * 18 + 1), l_frames(1), K) for c in range(count))


SEEDS = {
    # A PC-like layout scaled into the low window, boot data reserved, a
    # reserved range under the physical limit.
    "pc_like": config() + add(a_byte(0), l_to(a_byte(0x9fc00)), U)
    + add(a_byte(0x9fc00), l_bytes(0x400), R) + add(a_frame(0xf0), l_frames(16), R)
    + add(a_frame(0x100), l_to(a_frame(0x5e0)), U) + add(a_frame(0x5e0), l_frames(0x20), R)
    + add(a_top_frames(64), l_special(4), R)
    + reserve(a_byte(0x200123), l_bytes(0x5000), K) + reserve(a_frame(0x300), l_small(2, 7), K)
    + check() + add(a_frame(0x400), l_frames(8), A) + add(a_frame(0x404), l_frames(8), N),
    # 36 bits, low range 0: frame 0 must still stay out; usable up to the limit.
    "low_zero_top": config(1, 36) + add(a_byte(0), l_to(a_byte(0x9fc00)), U)
    + add(a_top(0x10800), l_special(4), U) + add(a_top_frames(3), l_frames(1), B)
    + reserve(a_top_frames(10), l_special(2), K),
    # Exactly kEntryCapacity runs: 36 chains (468) + 22 rim reservations (44).
    "chains_fit": config() + chains(300, 36) + rim_reserves(300, 22) + check(),
    # One reservation more: 514 runs, normalise() must fail and keep a prefix.
    "chains_overflow": config() + chains(300, 36) + rim_reserves(300, 23) + check(),
    # Raw and reserved tables overflow.
    "tables_overflow": config() + chains(260, 37) + add(a_frame(0x700), l_frames(1), U)
    + b"".join(reserve(a_frame(0x300 + i), l_frames(1), K) for i in range(70)) + check(),
    # Wrapping, beyond-the-limit, reach-2^64 and unknown types; low end 0x8001.
    "bad_values": config(2, 32, 0x8001) + add(a_special(9), l_small(0, 2), U)
    + add(a_special(4), l_small(0, 2), U) + add(a_special(5), l_frames(1), R)
    + add(a_frame(0x10), l_special(3), U) + add(a_special(11, 1 << 40), l_frames(1), U)
    + add(a_frame(0x20), l_special(5), U) + add(a_frame(0x30), l_frames(4), 0)
    + add(a_frame(0x31), l_frames(1), 8) + add(a_frame(0x33), l_frames(1), 200)
    + add(a_frame(0x40), l_to(a_frame(0x30)), U) + reserve(a_frame(0x35), l_special(2), U)
    + add(a_byte(0x5000), l_bytes(0), U) + check(),
    # A 16-bit physical width: almost everything is rejected.
    "narrow": config(0, 16) + add(a_byte(0x800), l_to(a_byte(0x9000)), U)
    + add(a_byte(0x100), l_special(4), U) + reserve(a_byte(0x3000), l_special(2), B),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
