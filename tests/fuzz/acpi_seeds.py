#!/usr/bin/env python3
"""Writes the seed inputs of acpi_fuzz into tests/fuzz/corpus/acpi/.

Input layout (see acpi_fuzz.cpp): a header (flags, hint blob, EBDA segment,
reach), then blobs placed in a fake physical memory, each with links (the
address of another blob written into it) and a checksum to fix.
Run from the repository root: python3 tests/fuzz/acpi_seeds.py
"""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "acpi")

NONE, ACPI, RSDP, MPFP, MPCT = 0, 1, 2, 3, 4
ALIGN = 8


def header(flags=0, hint=0, ebda=0, reach=0):
    return struct.pack("<BBHI", flags, hint, ebda, reach)


def blob(phys, data, kind=NONE, links=(), repeat_log2=0):
    """links: (offset, target blob index, wide) triples."""
    out = struct.pack("<IHBB", phys, len(data), kind | repeat_log2 << 4, len(links))
    for off, target, wide in links:
        out += struct.pack("<HBB", off, target, 1 if wide else 0)
    return out + data


def table(sig, body, length=None):
    # Checksum left 0: the harness fixes it (kind ACPI).
    n = 36 + len(body) if length is None else length
    return sig + struct.pack("<IBB", n, 1, 0) + b"OEMIDXTABLEID" + b"\0" * 13 + body


def rsdp(revision):
    v = b"RSD PTR " + b"\0" + b"OEMID " + bytes([revision]) + b"\0" * 4
    if revision >= 2:
        v += struct.pack("<I", 36) + b"\0" * 8 + b"\0" * 4
    return v


def lapic(uid, apic_id, flags):
    return struct.pack("<BBBBI", 0, 8, uid, apic_id, flags)


def x2apic(apic_id, flags, uid):
    return struct.pack("<BBHIII", 9, 16, 0, apic_id, flags, uid)


def madt(entries, lapic_address=0xFEE00000, flags=1):
    return table(b"APIC", struct.pack("<II", lapic_address, flags) + b"".join(entries))


def mp_floating(default_config=0):
    return b"_MP_" + struct.pack("<IBBBB", 0, 1, 4, 0, default_config) + b"\0" * 4


def mp_cpu(apic_id, flags):
    return struct.pack("<BBBBII", 0, apic_id, 0x14, flags, 0x600, 0) + b"\0" * 8


def mp_table(entries, lapic_address=0xFEE00000):
    body = b"".join(entries)
    return (b"PCMP" + struct.pack("<HBB", 44 + len(body), 4, 0) + b"OEM00000PRODUCT00000"
            + struct.pack("<IHHIHBB", 0, 0, len(entries), lapic_address, 0, 0, 0) + body)


def mp_other(type_):
    return bytes([type_, 1, 2, 3, 4, 5, 6, 7])


def acpi_machine(madt_bytes, revision=0, rsdp_at=0xF5A10, flags=0, ebda=0, reach=0):
    # Blobs: 0 RSDP, 1 RSDT, 2 XSDT, 3 FACP, 4 MADT.
    rsdp_links = [(16, 1, False)] + ([(24, 2, True)] if revision >= 2 else [])
    return (header(flags, 0, ebda, reach)
            + blob(rsdp_at, rsdp(revision), RSDP | ALIGN, rsdp_links)
            + blob(0x100000, table(b"RSDT", b"\0" * 8), ACPI, [(36, 3, False), (40, 4, False)])
            + blob(0x101000, table(b"XSDT", b"\0" * 16), ACPI, [(36, 3, True), (44, 4, True)])
            + blob(0x102000, table(b"FACP", b"\0" * 80), ACPI)
            + blob(0x103000, madt_bytes, ACPI))


def mp_machine(entries, at=0xF5B60, ebda=0, reach_flags=0, reach=0, default_config=0):
    # Blobs: 0 floating pointer, 1 configuration table.
    return (header(reach_flags, 0, ebda, reach)
            + blob(at, mp_floating(default_config), MPFP | ALIGN, [(4, 1, False)] if not default_config else [])
            + blob(0x104000, mp_table(entries), MPCT))


OVERRIDE = struct.pack("<BBHQ", 5, 12, 0, 0xFEE10000)

SEEDS = {
    "acpi_rsdt_bios": acpi_machine(madt([lapic(0, 0, 1), lapic(1, 1, 2), lapic(2, 2, 1), lapic(3, 3, 0)])),
    "acpi_xsdt_ebda": acpi_machine(madt([lapic(0, 0, 1), x2apic(300, 1, 7), x2apic(0, 1, 0), OVERRIDE]),
                                   revision=2, rsdp_at=0x9FC10, ebda=0x9FC0),
    "acpi_hint": acpi_machine(madt([lapic(0, 4, 1), lapic(1, 6, 1)]), revision=2, rsdp_at=0x70000, flags=1),
    "acpi_reach_cuts_madt": acpi_machine(madt([lapic(0, 0, 1)]), flags=0x20, reach=0x103020),
    # More enabled CPUs than the list holds: 256 listed, the rest dropped.
    "acpi_300_cpus": acpi_machine(madt([x2apic(i, 1, i) for i in range(300)])),
    "mp_bios": mp_machine([mp_cpu(0, 3), mp_cpu(1, 1), mp_cpu(2, 0), mp_other(1), mp_other(2),
                           mp_cpu(5, 1), mp_other(3), mp_other(4)]),
    "mp_ebda": mp_machine([mp_cpu(0, 3), mp_cpu(1, 1)], at=0x9E010, ebda=0x9E00),
    "mp_top_of_base": mp_machine([mp_cpu(0, 3), mp_cpu(7, 1), mp_other(9), mp_cpu(8, 1)], at=0x9FC00),
    "mp_default": mp_machine([], default_config=5),
    # A MADT with no enabled CPU (ACPI fails), then the MP table lists two:
    # smp_discover's order, ACPI's counts must not leak into MP's.
    "acpi_disabled_then_mp": acpi_machine(madt([lapic(0, 0, 2), lapic(1, 1, 0)]))
    + blob(0xF5B60, mp_floating(), MPFP | ALIGN, [(4, 6, False)]) + blob(0x104000, mp_table([mp_cpu(0, 3), mp_cpu(1, 1)]), MPCT),
    # Refusals, one per reason (the fuzzer grows the rest from these).
    "acpi_bad_hint": header(flags=3, reach=0x70000) + blob(0x70000, rsdp(2), NONE, [(16, 1, False)])
    + blob(0x100000, table(b"RSDT", b"\0" * 4), ACPI),
    "acpi_bad_xsdt": acpi_machine(madt([lapic(0, 0, 1)]), revision=2).replace(b"XSDT", b"XSDX"),
    "acpi_rsdp_v2_long": header() + blob(0xE0000, rsdp(2)[:20] + struct.pack("<I", 8192) + b"\0" * 12, RSDP | ALIGN),
    "acpi_broken_madt_entry": acpi_machine(madt([lapic(0, 0, 1), bytes([0, 1]), lapic(1, 1, 1)])),
    "mp_bad_table": header() + blob(0xF0000, mp_floating(), MPFP | ALIGN, [(4, 1, False)])
    + blob(0x104000, mp_table([mp_cpu(0, 3)]), NONE),
    "mp_no_enabled_cpu": mp_machine([mp_cpu(0, 0), mp_other(2), mp_cpu(1, 0)], ebda=0x7000),
    "mp_short_table": header() + blob(0xF5B60, mp_floating(), MPFP | ALIGN, [(4, 1, False)])
    + blob(0x104000, b"PCMP" + struct.pack("<HBB", 40, 4, 0) + b"\0" * 36, MPCT),
    # An RSDT of 32768 entries all naming the same 1 MiB "APIC" table whose
    # checksum is bad: each entry used to cost a checksum of the whole table.
    "acpi_many_bad_madts": header()
    + blob(0xF5A10, rsdp(0), RSDP | ALIGN, [(16, 1, False)])
    + blob(0x100000, table(b"RSDT", b"", length=36 + 4 * 32768), ACPI)
    + blob(0x100024, struct.pack("<I", 0x130000), NONE, (), 15)
    + blob(0x130000, table(b"APIC", b"\x01", length=0xD0000), NONE),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"{len(SEEDS)} seeds in {OUT}")


if __name__ == "__main__":
    main()
