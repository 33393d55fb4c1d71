#!/usr/bin/env python3
"""test_memsvg.py — tests of tools/memsvg.py (part of `make test` via test-memsvg).

Renders a captured kernel serial log (tools/testdata/kernel-run-q35-512M.log.gz,
from `make run`) and synthetic dumps, and checks that the SVG is well-formed
XML holding every part the picture promises: both snapshots, the firmware
regions by type, the zones, the kernel's reservations, free blocks by order,
the legend, and an axis on which 640 KiB and 6 GiB both have room. Also that
broken dumps (truncated, self-contradicting) are caught.

  test_memsvg.py                       the unit tests
  test_memsvg.py --check-svg FILE SNAPSHOT...   check a rendered file (used on
                                       the hosted tool's output)
Standard library only.
"""

import gzip
import os
import sys
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import memsvg  # noqa: E402

NS = "{http://www.w3.org/2000/svg}"
CAPTURED = os.path.join(HERE, "testdata", "kernel-run-q35-512M.log.gz")


def captured_lines():
    with gzip.open(CAPTURED, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


def classes(el):
    return set((el.get("class") or "").split())


def group(root, cls):
    return [g for g in root.iter(NS + "g") if cls in classes(g)]


def rect_classes(el):
    out = set()
    for r in el.iter(NS + "rect"):
        out |= classes(r)
    return out


def svg_problems(text, snapshots):
    """Everything a rendered picture must hold; [] when it does."""
    problems = []
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as e:
        return ["not well-formed XML: %s" % e]
    if root.tag != NS + "svg":
        problems.append("root element is %s, not svg" % root.tag)
    snaps = group(root, "snapshot")
    names = [g.get("data-snapshot") for g in snaps]
    if names != list(snapshots):
        problems.append("snapshots %s, expected %s" % (names, list(snapshots)))
    for g in snaps:
        n = g.get("data-snapshot")
        for part in ("regions", "entries", "marks", "zones", "buddy"):
            if not group(g, part):
                problems.append("%s: no %s lane" % (n, part))
        if not group(g, "axis"):
            problems.append("%s: no axis" % n)
        if "usable" not in rect_classes(group(g, "regions")[0]) if group(g, "regions") else True:
            problems.append("%s: no usable firmware region drawn" % n)
        zones = rect_classes(group(g, "zones")[0]) if group(g, "zones") else set()
        if not zones & {"DMA", "DMA32", "Normal"}:
            problems.append("%s: no zone drawn" % n)
        buddy = rect_classes(group(g, "buddy")[0]) if group(g, "buddy") else set()
        if not any(c.startswith("free-o") for c in buddy):
            problems.append("%s: no free block drawn" % n)
        if not [t for t in g.iter(NS + "text") if "buddyinfo" in classes(t)]:
            problems.append("%s: no buddyinfo line" % n)
    legend = group(root, "legend")
    if not legend:
        problems.append("no legend")
    else:
        items = rect_classes(legend[0])
        for want in ["free-o%d" % k for k in range(memsvg.MAX_ORDER + 1)] + ["allocated", "slab", "cached", "reserved"]:
            if want not in items:
                problems.append("legend lacks %s" % want)
    return problems


def render_lines(lines, title="test"):
    snaps, problems = memsvg.parse(lines)
    text, axis = memsvg.render(snaps, title, [])
    return snaps, problems, text, axis


def synthetic(name, regions, zones, blocks, extra=()):
    """A dump written by hand: regions (base, end, type), zones (name, base, end),
    blocks (state, order, base, count, stride); counters computed to agree."""
    out = ["pfmap begin %s v1" % name]
    for b, e, t in regions:
        out.append("pfmap raw 0x%x 0x%x %s" % (b, e, t))
        out.append("pfmap entry 0x%x 0x%x %s" % (b, e, t))
    for zname, b, e in zones:
        managed = free = 0
        counts = [0] * 11
        for state, order, base, count, stride in blocks:
            for i in range(count):
                a = base + i * stride
                if b <= a < e:
                    managed += 1 << order
                    if state == "free":
                        free += 1 << order
                        counts[order] += 1
        out.append("pfmap zone %s 0x%x 0x%x managed=%d free=%d cached=0 reserved=0" % (zname, b, e, managed, free))
        out.append("pfmap range %s 0x%x 0x%x" % (zname, b, e))
        out.append("pfmap buddyinfo %s %s" % (zname, " ".join(map(str, counts))))
    for state, order, base, count, stride in blocks:
        out.append("pfmap blocks %s %d 0x%x %d 0x%x" % (state, order, base, count, stride))
    out.extend(extra)
    out.append("pfmap end %s lines=%d" % (name, len(out) + 1))
    return out


GiB, MiB, KiB = 1 << 30, 1 << 20, 1 << 10


class CapturedKernelDump(unittest.TestCase):
    def setUp(self):
        self.snaps, self.problems, self.text, self.axis = render_lines(captured_lines())

    def test_both_snapshots_parse_and_add_up(self):
        self.assertEqual([s.name for s in self.snaps], ["boot", "after"])
        self.assertEqual(self.problems, [])
        for s in self.snaps:
            self.assertEqual(memsvg.check(s), [], s.name)
            self.assertTrue(s.raw and s.entries and s.zones and s.ranges and s.blocks and s.buddyinfo)

    def test_svg_has_every_part(self):
        self.assertEqual(svg_problems(self.text, ["boot", "after"]), [])

    def test_kernel_reservations_are_marked(self):
        root = ET.fromstring(self.text.encode())
        for g in group(root, "snapshot"):
            marks = rect_classes(group(g, "marks")[0])
            for want in ("kernel-image", "descriptors", "page-tables", "boot-info"):
                self.assertIn(want, marks, g.get("data-snapshot"))

    def test_fragmentation_shows_after_the_workload(self):
        # The workload keeps scattered pages: small orders appear in the
        # picture after it, and the boot picture is mostly top-order blocks.
        root = ET.fromstring(self.text.encode())
        boot, after = group(root, "snapshot")
        self.assertIn("free-o10", rect_classes(group(boot, "buddy")[0]))
        after_classes = rect_classes(group(after, "buddy")[0])
        for want in ("free-o0", "free-o1", "allocated", "slab"):
            self.assertIn(want, after_classes)
        b, a = self.snaps[0].buddyinfo["DMA32"], self.snaps[1].buddyinfo["DMA32"]
        self.assertGreater(a[0], b[0])

    def test_zoom_shows_the_fragmented_window_linearly(self):
        root = ET.fromstring(self.text.encode())
        for g in group(root, "snapshot"):
            zoom = group(g, "zoom")
            self.assertEqual(len(zoom), 1, g.get("data-snapshot"))
        after_zoom = rect_classes(group(group(root, "snapshot")[1], "zoom")[0])
        self.assertIn("free-o0", after_zoom)

    def test_low_memory_and_gap_are_readable(self):
        # 640 KiB of low memory gets room of its own; the legacy hole between
        # 640 KiB and 960 KiB is drawn as a labelled gap.
        x0, x1 = self.axis.x(0), self.axis.x(0x9f000)
        self.assertGreater(x1 - x0, 20)
        root = ET.fromstring(self.text.encode())
        gaps = [t.text for t in root.iter(NS + "text") if "gap-label" in classes(t)]
        self.assertTrue(any("320 KiB" in g for g in gaps), gaps)

    def test_regions_above_ram_are_noted_not_drawn(self):
        # q35 reports a reserved range at 1 TiB; the axis ends at the top of RAM.
        self.assertEqual(self.axis.top, 0x1ffdf000)


class BrokenDumps(unittest.TestCase):
    def test_truncated_dump_is_reported(self):
        lines = [l for l in captured_lines() if not l.startswith("pfmap end after")]
        snaps, problems = memsvg.parse(lines)
        self.assertEqual([s.name for s in snaps], ["boot"])
        self.assertTrue(any("no end" in p for p in problems), problems)

    def test_lost_line_is_reported(self):
        lines = captured_lines()
        i = next(i for i, l in enumerate(lines) if l.startswith("pfmap blocks"))
        snaps, problems = memsvg.parse(lines[:i] + lines[i + 1:])
        self.assertEqual(len(snaps), 1)
        self.assertTrue(problems)

    def test_contradicting_buddyinfo_fails_strict(self):
        lines = [l.replace("pfmap buddyinfo DMA ", "pfmap buddyinfo DMA 7") for l in captured_lines()]
        snaps, _ = memsvg.parse(lines)
        self.assertTrue(memsvg.check(snaps[0]))
        path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "memsvg-test-%d.log" % os.getpid())
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        try:
            self.assertEqual(memsvg.main(["--strict", path, "-o", os.devnull]), 1)
            self.assertEqual(memsvg.main([path, "-o", os.devnull]), 0)
        finally:
            os.unlink(path)

    def test_no_dump_at_all(self):
        self.assertEqual(memsvg.main([os.devnull, "-o", os.devnull]), 2)


class Synthetic6GiB(unittest.TestCase):
    """A PC with 6 GiB: 640 KiB low, RAM to 3 GiB, the PCI hole, RAM above 4 GiB."""

    def setUp(self):
        regions = [(0, 640 * KiB, "usable"), (640 * KiB, 1 * MiB, "reserved"),
                   (1 * MiB, 3 * GiB, "usable"), (4 * GiB, 7 * GiB, "usable")]
        zones = [("DMA", 1 * MiB, 16 * MiB), ("DMA32", 16 * MiB, 3 * GiB), ("Normal", 4 * GiB, 7 * GiB)]
        blocks = [("allocated", 0, 1 * MiB, 256, 4096), ("free", 10, 4 * MiB, 3, 4 * MiB),
                  ("free", 10, 16 * MiB, (3 * GiB - 16 * MiB) // (4 * MiB), 4 * MiB),
                  ("free", 0, 4 * GiB, 1000, 8192), ("allocated", 0, 4 * GiB + 4096, 1000, 8192),
                  ("free", 10, 4 * GiB + 8 * MiB, (3 * GiB - 8 * MiB) // (4 * MiB), 4 * MiB)]
        self.lines = synthetic("boot", regions, zones, blocks)
        self.snaps, self.problems, self.text, self.axis = render_lines(self.lines)

    def test_consistent_and_complete(self):
        self.assertEqual(self.problems, [])
        self.assertEqual(memsvg.check(self.snaps[0]), [])
        self.assertEqual(svg_problems(self.text, ["boot"]), [])

    def test_both_scales_show(self):
        low = self.axis.x(640 * KiB) - self.axis.x(0)
        high = self.axis.x(7 * GiB) - self.axis.x(4 * GiB)
        hole = self.axis.x(4 * GiB) - self.axis.x(3 * GiB)
        self.assertGreater(low, 20)
        self.assertGreater(high, 10 * low)
        self.assertLess(hole, 40)  # the PCI hole is compressed
        self.assertEqual(self.axis.top, 7 * GiB)

    def test_order0_splinters_are_drawn_at_6GiB(self):
        root = ET.fromstring(self.text.encode())
        self.assertIn("free-o0", rect_classes(group(root, "buddy")[0]))


def check_svg_main(path, snapshots):
    with open(path, encoding="utf-8") as f:
        problems = svg_problems(f.read(), snapshots)
    for p in problems:
        print("test_memsvg: %s: %s" % (path, p), file=sys.stderr)
    if not problems:
        print("test_memsvg: %s: well-formed, snapshots %s, every part present" % (path, " ".join(snapshots)))
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check-svg":
        sys.exit(check_svg_main(sys.argv[2], sys.argv[3:]))
    unittest.main(verbosity=1)
