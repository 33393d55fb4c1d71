#!/usr/bin/env python3
"""memsvg.py — render pfalloc's "pfmap" dumps as an SVG picture of physical memory.

Input: any text holding "pfmap ..." lines (a kernel serial log, the hosted
tool's output); everything else is ignored. The format is documented in
kernel/mm/memdump.hpp (the one formatter that writes it, for the kernel and
the hosted build alike). Each complete dump (begin ... end, line count
matching) is one snapshot; all of them are drawn one above the other, on one
shared address axis, so "boot" and "after" can be compared column by column.

The axis runs from 0 to the top of RAM. It is cut at every region, entry,
zone and range boundary into pieces; each piece is linear inside, and gets a
width that grows with the 0.3th power of its size, so a 4 KiB reservation,
the 640 KiB of low memory and 6 GiB of RAM are all visible. Stretches no
region describes (the PCI hole) are compressed to a fixed width and labelled
with their size. Regions above the top of RAM are listed, not drawn.

Per snapshot, lanes top to bottom: the firmware map as received, the map as
normalised, what was reserved (marks: kernel image, modules, boot info,
descriptors, page tables...), the zones, and the buddy: every pixel column is
a stacked bar of what its bytes are (reserved, allocated, slab, per-CPU
cached, then free by order, order 0 at the bottom of the free part),
scaled to the share of the column the allocator manages.

Standard library only. Usage:
  memsvg.py [--title TEXT] [--strict] [-o OUT.svg] INPUT|-
--strict: fail (exit 1) when a dump contradicts itself (block frames vs the
zone counters, free blocks vs buddyinfo). Exit 2: no complete dump found.
"""

import argparse
import math
import sys
from xml.sax.saxutils import escape

MAX_ORDER = 10
PAGE = 4096
RAM_TYPES = {"usable", "acpi-reclaimable", "acpi-nvs", "bootloader-reclaimable", "kernel"}

REGION_COLOURS = {
    "usable": "#cfe8cf", "reserved": "#a0a0a0", "acpi-reclaimable": "#fdd49e",
    "acpi-nvs": "#fc8d59", "bad": "#000000", "bootloader-reclaimable": "#9ecae1",
    "kernel": "#6a51a3",
}
MARK_COLOURS = {
    "kernel-image": "#6a51a3", "boot-code-released": "#9ecae1", "module": "#e6550d",
    "boot-info": "#f768a1", "page-tables": "#31a354", "descriptors": "#de2d26",
}
ZONE_COLOURS = {"DMA": "#fbb4ae", "DMA32": "#b3cde3", "Normal": "#ccebc5"}
# Free blocks: red (order 0, splinters) through yellow to green (order 10, 4 MiB).
ORDER_COLOURS = ["#a50026", "#d73027", "#f46d43", "#fdae61", "#fee08b", "#ffffbf",
                 "#d9ef8b", "#a6d96a", "#74c476", "#41ab5d", "#238b45"]
USED_COLOURS = {"reserved": "#bdbdbd", "allocated": "#525252", "allocated-hi": "#4a6fa5", "slab": "#a6761d",
                "cached": "#e7298a", "tail": "#000000"}
# Bottom to top in a column.
STACK = ["reserved", "allocated", "allocated-hi", "slab", "tail", "cached"] + ["free-o%d" % k for k in range(MAX_ORDER + 1)]


def category_colour(cat):
    if cat.startswith("free-o"):
        return ORDER_COLOURS[int(cat[6:])]
    return USED_COLOURS[cat]


def fmt_size(n):
    for unit, shift in (("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= (1 << shift):
            v = n / (1 << shift)
            return ("%d %s" % (v, unit)) if v == int(v) else ("%.2f %s" % (v, unit))
    return "%d B" % n


def fmt_addr(a):
    return "0x%x" % a


# ---- parsing ------------------------------------------------------------------

class Snapshot:
    def __init__(self, name):
        self.name = name
        self.raw, self.entries, self.reserves, self.marks = [], [], [], []
        self.zones, self.ranges = [], []  # zones: (name, base, end, counters)
        self.blocks = []      # (state, order, base, count, stride)
        self.buddyinfo = {}   # zone -> [counts per order]

    def block_intervals(self):
        for state, order, base, count, stride in self.blocks:
            size = PAGE << order
            for i in range(count):
                yield state, order, base + i * stride, size


def parse(lines):
    """Complete snapshots, in order, and a list of complaints about the rest."""
    snaps, problems, cur, n = [], [], None, 0
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        at = line.find("pfmap ")
        if at < 0:
            continue
        tok = line[at + 6:].split()
        if not tok:
            continue
        kind = tok[0]
        try:
            if kind == "begin":
                if cur is not None:
                    problems.append("line %d: dump '%s' has no end" % (lineno, cur.name))
                cur, n = Snapshot(tok[1]), 1
                if len(tok) < 3 or tok[2] != "v1":
                    problems.append("line %d: unknown dump version %s" % (lineno, tok[2:]))
                continue
            if cur is None:
                continue
            n += 1
            if kind == "end":
                want = int(tok[2].split("=")[1]) if len(tok) > 2 and tok[2].startswith("lines=") else -1
                if tok[1] != cur.name or want != n:
                    problems.append("line %d: dump '%s' ends with %s after %d lines" % (lineno, cur.name, tok[1:], n))
                else:
                    snaps.append(cur)
                cur = None
            elif kind in ("raw", "entry", "reserve"):
                rec = (int(tok[1], 16), int(tok[2], 16), tok[3])
                {"raw": cur.raw, "entry": cur.entries, "reserve": cur.reserves}[kind].append(rec)
            elif kind == "mark":
                cur.marks.append((tok[1], int(tok[2], 16), int(tok[3], 16)))
            elif kind == "zone":
                counters = dict(t.split("=") for t in tok[4:])
                cur.zones.append((tok[1], int(tok[2], 16), int(tok[3], 16),
                                  {k: int(v) for k, v in counters.items()}))
            elif kind == "range":
                cur.ranges.append((tok[1], int(tok[2], 16), int(tok[3], 16)))
            elif kind == "blocks":
                cur.blocks.append((tok[1], int(tok[2]), int(tok[3], 16), int(tok[4]), int(tok[5], 16)))
            elif kind == "buddyinfo":
                cur.buddyinfo[tok[1]] = [int(t) for t in tok[2:]]
            # Unknown kinds are skipped: the format may grow.
        except (IndexError, ValueError) as e:
            problems.append("line %d: cannot read '%s' (%s)" % (lineno, line[at:], e))
    if cur is not None:
        problems.append("dump '%s' has no end (truncated log?)" % cur.name)
    return snaps, problems


def check(s):
    """What the dump says about itself must add up: per zone, frames in
    blocks == managed + reserved, free + cached block frames == free=, and
    free blocks per order == buddyinfo."""
    problems = []
    zone_of = lambda a: next((z[0] for z in s.zones if z[1] <= a < z[2]), None)
    frames, free, counts = {}, {}, {}
    for state, order, base, size in s.block_intervals():
        z = zone_of(base)
        if z is None:
            problems.append("%s: block at %s lies in no zone" % (s.name, fmt_addr(base)))
            continue
        frames[z] = frames.get(z, 0) + (size // PAGE)
        if state in ("free", "cached"):
            free[z] = free.get(z, 0) + size // PAGE
        if state == "free":
            counts.setdefault(z, [0] * (MAX_ORDER + 1))[order] += 1
    for name, base, end, c in s.zones:
        if frames.get(name, 0) != c.get("managed", 0) + c.get("reserved", 0):
            problems.append("%s: zone %s: %d frames in blocks, counters say managed %d + reserved %d"
                            % (s.name, name, frames.get(name, 0), c.get("managed", 0), c.get("reserved", 0)))
        if free.get(name, 0) != c.get("free", 0):
            problems.append("%s: zone %s: %d free frames in blocks, counter says %d"
                            % (s.name, name, free.get(name, 0), c.get("free", 0)))
        bi = s.buddyinfo.get(name)
        got = counts.get(name, [0] * (MAX_ORDER + 1))
        if bi is not None and bi != got:
            problems.append("%s: zone %s: free blocks per order %s, buddyinfo says %s" % (s.name, name, got, bi))
    return problems


# ---- the axis -------------------------------------------------------------------

class Axis:
    """Piecewise-linear map from physical addresses to x."""
    GAP_WEIGHT = 22.0
    MIN_PX = 5.0

    def __init__(self, snaps, x0, width):
        ram_ends = [e for s in snaps for (b, e, t) in s.raw + s.entries if t in RAM_TYPES]
        ram_ends += [e for s in snaps for (_, b, e) in s.ranges]
        self.top = max(ram_ends) if ram_ends else PAGE
        cuts = {0, self.top}
        covered = []
        for s in snaps:
            for b, e, t in s.raw + s.entries:
                covered.append((b, e, t))
                cuts.update(x for x in (b, e) if x < self.top)
            for _, b, e, _c in s.zones:
                cuts.update(x for x in (b, e) if x < self.top)
            for _, b, e in s.ranges:
                cuts.update(x for x in (b, e) if x < self.top)
        cuts = sorted(cuts)
        self.pieces = []  # [a, b, kind, weight]
        for a, b in zip(cuts, cuts[1:]):
            types = {t for (rb, re_, t) in covered if rb < b and a < re_}
            if not types and covered:
                kind, w = "gap", self.GAP_WEIGHT
            else:
                w = float(b - a) ** 0.3
                kind = "ram" if types & RAM_TYPES or not covered else "other"
                if kind == "other":
                    w = min(w, self.GAP_WEIGHT * 1.5)
            self.pieces.append([a, b, kind, w])
        # Adjacent gaps are one gap.
        merged = []
        for p in self.pieces:
            if merged and p[2] == "gap" and merged[-1][2] == "gap":
                merged[-1][1] = p[1]
            else:
                merged.append(p)
        self.pieces = merged
        total = sum(p[3] for p in self.pieces)
        px = [max(self.MIN_PX, width * p[3] / total) for p in self.pieces]
        scale = width / sum(px)
        x = float(x0)
        self.px = []  # (a, b, kind, x_start, x_end)
        for p, w in zip(self.pieces, px):
            self.px.append((p[0], p[1], p[2], x, x + w * scale))
            x += w * scale
        self.x0, self.x1 = float(x0), x

    def x(self, addr):
        for a, b, _k, xa, xb in self.px:
            if addr < b or b == self.top:
                if addr <= a:
                    return xa
                return xa + (xb - xa) * min(addr - a, b - a) / (b - a)
        return self.x1

    def span(self, base, end, min_w=0.0):
        """(x, width) of [base, end) clipped to the axis; None if outside."""
        if base >= self.top or end <= base:
            return None
        end = min(end, self.top)
        xa, xb = self.x(base), self.x(end)
        if xb - xa < min_w:
            mid = (xa + xb) / 2
            xa, xb = mid - min_w / 2, mid + min_w / 2
        return xa, xb - xa


class LinearAxis(Axis):
    """One linear piece: the zoom window [a, b)."""

    def __init__(self, a, b, x0, width):
        self.top = b
        self.px = [(a, b, "ram", float(x0), float(x0 + width))]
        self.x0, self.x1 = float(x0), float(x0 + width)

    def span(self, base, end, min_w=0.0):
        a = self.px[0][0]
        if end <= a or base >= self.top:
            return None
        return Axis.span(self, max(base, a), end, min_w)


def zoom_window(snaps, top):
    """The aligned window, 1/16 of RAM rounded to a power of two (4 MiB to
    256 MiB), holding the most free blocks below order 9 in the last
    snapshot: where fragmentation is. None if there is none."""
    size = 4 << 20
    while size * 16 < top and size < (256 << 20):
        size <<= 1
    score = {}
    for state, order, base, count, stride in snaps[-1].blocks:
        if state != "free" or order >= 9:
            continue
        for i in range(count):
            w = (base + i * stride) // size
            score[w] = score.get(w, 0) + 1
    if not score:
        return None
    w = max(sorted(score), key=lambda k: score[k])
    return w * size, min((w + 1) * size, top)


# ---- drawing --------------------------------------------------------------------

class Svg:
    def __init__(self):
        self.out = []

    def add(self, s):
        self.out.append(s)

    def rect(self, x, y, w, h, fill, cls=None, title=None, extra=""):
        c = ' class="%s"' % cls if cls else ""
        t = "<title>%s</title>" % escape(title) if title else ""
        end = ">%s</rect>" % t if t else "/>"
        self.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"%s%s%s'
                 % (x, y, max(w, 0.0), max(h, 0.0), fill, c, extra, end))

    def text(self, x, y, s, size=11, anchor="start", cls=None, extra=""):
        c = ' class="%s"' % cls if cls else ""
        self.add('<text x="%.2f" y="%.2f" font-size="%s" text-anchor="%s"%s%s>%s</text>'
                 % (x, y, size, anchor, c, extra, escape(s)))


LANE_H = 16
BUDDY_H = 90
LABEL_W = 150
WIDTH = 1500


def draw_regions(svg, axis, y, items, colours, cls, label):
    svg.text(LABEL_W - 8, y + LANE_H - 4, label, 11, "end")
    svg.add('<g class="%s">' % cls)
    for name, b, e in items:
        sp = axis.span(b, e, 1.5)
        if sp is None:
            continue
        svg.rect(sp[0], y, sp[1], LANE_H, colours.get(name, "#777777"), "%s %s" % (cls[:-1], name),
                 "%s [%s, %s) %s" % (name, fmt_addr(b), fmt_addr(e), fmt_size(e - b)))
        if sp[1] > 7 * len(name) and cls == "zones":
            svg.text(sp[0] + sp[1] / 2, y + LANE_H - 4, name, 10, "middle")
    svg.add("</g>")


def draw_buddy(svg, axis, y, s, label="buddy (free by order)", cls="buddy", col_px=1):
    svg.text(LABEL_W - 8, y + BUDDY_H / 2, label, 11, "end")
    # Per piece, per pixel column: bytes per category.
    cols = []
    for a, b, kind, xa, xb in axis.px:
        n = max(1, int(round((xb - xa) / col_px)))
        cols.append((a, b, xa, xb, n, [dict() for _ in range(n)]))

    def add(base, size, cat):
        end = base + size
        for a, b, xa, xb, n, cc in cols:
            if end <= a or base >= b:
                continue
            lo, hi = max(base, a), min(end, b)
            bpc = (b - a) / n
            i0, i1 = int((lo - a) // bpc), min(n - 1, int((hi - a - 1) // bpc))
            for i in range(i0, i1 + 1):
                ca, cb = a + i * bpc, a + (i + 1) * bpc
                ov = min(hi, cb) - max(lo, ca)
                if ov > 0:
                    cc[i][cat] = cc[i].get(cat, 0) + ov

    for state, order, base, size in s.block_intervals():
        if state == "free":
            add(base, size, "free-o%d" % order)
        elif state == "allocated" and order >= 9:
            add(base, size, "allocated-hi")
        else:
            add(base, size, state)
    svg.add('<g class="%s">' % cls)
    for a, b, xa, xb, n, cc in cols:
        bpc = (b - a) / n
        w = (xb - xa) / n
        # Quantised column heights; equal neighbours merge into one rect.
        prev, start = None, 0
        shapes = []
        for i in range(n + 1):
            if i < n:
                hs = tuple(float(round(BUDDY_H * cc[i].get(cat, 0) / bpc)) for cat in STACK)
            else:
                hs = None
            if hs != prev:
                if prev is not None and any(prev):
                    shapes.append((start, i, prev))
                prev, start = hs, i
        for i0, i1, hs in shapes:
            yy = y + BUDDY_H
            for cat, h in zip(STACK, hs):
                if h <= 0:
                    continue
                yy -= h
                svg.rect(xa + i0 * w, yy, (i1 - i0) * w, h, category_colour(cat), cat)
    svg.add("</g>")
    svg.rect(LABEL_W, y, axis.x1 - LABEL_W, BUDDY_H, "none", extra=' stroke="#888" stroke-width="0.5"')


def draw_axis(svg, axis, y):
    svg.add('<g class="axis">')
    svg.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333"/>' % (axis.x0, y, axis.x1, y))
    last_x = -100.0
    for a, b, kind, xa, xb in axis.px:
        svg.add('<line x1="%.2f" y1="%.1f" x2="%.2f" y2="%.1f" stroke="#333"/>' % (xa, y, xa, y + 4))
        if xa - last_x >= 13:
            svg.text(xa + 3, y + 8, fmt_addr(a), 9, "start",
                     extra=' transform="rotate(50 %.2f %.2f)"' % (xa + 3, y + 8))
            last_x = xa
        if kind == "gap":  # written upwards inside the hatched stripe
            cx, cy = (xa + xb) / 2 + 3, y - BUDDY_H / 2
            svg.text(cx, cy, "gap " + fmt_size(b - a), 9, "middle", cls="gap-label",
                     extra=' transform="rotate(-90 %.2f %.2f)"' % (cx, cy))
    svg.text(axis.x1, y + 8, fmt_addr(axis.top), 9, "start",
             extra=' transform="rotate(50 %.2f %.2f)"' % (axis.x1, y + 8))
    svg.add("</g>")


def draw_gaps(svg, axis, y, h):
    for a, b, kind, xa, xb in axis.px:
        if kind == "gap":
            svg.rect(xa, y, xb - xa, h, "url(#hatch)", "gap", "no region: %s" % fmt_size(b - a))


def legend(svg, y, snaps):
    svg.add('<g class="legend">')
    svg.text(LABEL_W - 8, y + 10, "legend", 12, "end", extra=' font-weight="bold"')
    x = LABEL_W

    def entry(colour, name, cls):
        nonlocal x, y
        w = 14 + 6.6 * len(name) + 14
        if x + w > WIDTH + LABEL_W:
            x, y = LABEL_W, y + 18
        svg.rect(x, y, 12, 12, colour, "legend-item " + cls, extra=' stroke="#555" stroke-width="0.5"')
        svg.text(x + 16, y + 10, name, 11)
        x += w

    svg.text(LABEL_W, y + 10, "free block of order:", 11)
    x += 120
    for k in range(MAX_ORDER + 1):
        entry(ORDER_COLOURS[k], "%d (%s)" % (k, fmt_size(PAGE << k)), "free-o%d" % k)
    x, y = LABEL_W, y + 20
    for name in ("allocated", "allocated-hi", "slab", "cached", "reserved"):
        label = {"cached": "cached (per-CPU page cache)", "reserved": "reserved (descriptors, boot data)",
                 "slab": "slab pages", "allocated": "allocated pages",
                 "allocated-hi": "allocated, order >= 9"}[name]
        entry(USED_COLOURS[name], label, name)
    x, y = LABEL_W, y + 20
    types = []
    for s in snaps:
        for _b, _e, t in s.raw + s.entries:
            if t not in types:
                types.append(t)
    for t in types:
        entry(REGION_COLOURS.get(t, "#777777"), "region: " + t, "region-" + t)
    x, y = LABEL_W, y + 20
    labels = []
    for s in snaps:
        for m in s.marks:
            if m[0] not in labels:
                labels.append(m[0])
    for m in labels:
        entry(MARK_COLOURS.get(m, "#777777"), "reserved: " + m, "mark-" + m)
    x, y = LABEL_W, y + 20
    for z in ZONE_COLOURS:
        entry(ZONE_COLOURS[z], "zone " + z, "zone-" + z)
    svg.add("</g>")
    return y + 24


def render(snaps, title, notes):
    axis = Axis(snaps, LABEL_W, WIDTH)
    svg = Svg()
    zoom = zoom_window(snaps, axis.top)
    panel_h = 40 + 4 * (LANE_H + 4) + BUDDY_H + 70 + (BUDDY_H + 40 if zoom else 0)
    height = 40 + len(snaps) * panel_h + 150 + 14 * len(notes)
    svg.add('<?xml version="1.0" encoding="UTF-8"?>')
    svg.add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="DejaVu Sans, Verdana, sans-serif">' % (WIDTH + LABEL_W + 60, height, WIDTH + LABEL_W + 60, height))
    svg.add('<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f4f4f4"/>'
            '<line x1="0" y1="0" x2="0" y2="6" stroke="#bbb" stroke-width="2"/></pattern></defs>')
    svg.rect(0, 0, WIDTH + LABEL_W + 60, height, "#ffffff")
    svg.text(LABEL_W, 24, title, 16, extra=' font-weight="bold"')
    y = 40
    for s in snaps:
        svg.add('<g class="snapshot" data-snapshot="%s">' % escape(s.name))
        free = sum(z[3].get("free", 0) for z in s.zones)
        managed = sum(z[3].get("managed", 0) for z in s.zones)
        largest = max((k for bi in s.buddyinfo.values() for k, n in enumerate(bi) if n), default=-1)
        head = {"boot": "at boot", "after": "after the workload"}.get(s.name, s.name)
        svg.text(LABEL_W, y + 14, "%s: %s free of %s managed (%d of %d frames); largest free order %d" % (
            head, fmt_size(free * PAGE), fmt_size(managed * PAGE), free, managed, largest), 13,
            cls="snapshot-title", extra=' font-weight="bold"')
        bi = "   ".join("%s: %s" % (z, " ".join(str(n) for n in c)) for z, c in s.buddyinfo.items())
        svg.text(LABEL_W, y + 30, "buddyinfo (free blocks of order 0..%d)   %s" % (MAX_ORDER, bi), 10,
                 cls="buddyinfo")
        y += 40
        top_y = y
        draw_regions(svg, axis, y, [(t, b, e) for b, e, t in s.raw], REGION_COLOURS, "regions", "firmware map")
        y += LANE_H + 4
        draw_regions(svg, axis, y, [(t, b, e) for b, e, t in s.entries], REGION_COLOURS, "entries", "normalised map")
        y += LANE_H + 4
        draw_regions(svg, axis, y, s.marks, MARK_COLOURS, "marks", "reserved ranges")
        y += LANE_H + 4
        draw_regions(svg, axis, y, [(n, b, e) for n, b, e, _c in s.zones], ZONE_COLOURS, "zones", "zones")
        y += LANE_H + 4
        draw_buddy(svg, axis, y, s)
        y += BUDDY_H
        draw_gaps(svg, axis, top_y, y - top_y)
        draw_axis(svg, axis, y + 2)
        y += 70
        if zoom:
            za, zb = zoom
            sp = axis.span(za, zb, 2.0)
            svg.rect(sp[0], y - 70 - BUDDY_H - 2, sp[1], BUDDY_H + 4, "none", "zoom-frame",
                     extra=' stroke="#000" stroke-width="1.2" stroke-dasharray="3,2"')
            zaxis = LinearAxis(za, zb, LABEL_W, WIDTH)
            draw_buddy(svg, zaxis, y, s, "zoom (linear)", "buddy zoom", col_px=3)
            svg.text(LABEL_W, y + BUDDY_H + 12, fmt_addr(za), 9, cls="zoom-axis")
            svg.text(LABEL_W + WIDTH, y + BUDDY_H + 12, fmt_addr(zb), 9, "end", cls="zoom-axis")
            svg.text(LABEL_W + WIDTH / 2, y + BUDDY_H + 12,
                     "zoom: [%s, %s), %s, linear (%s per pixel); framed in dashes above" % (
                         fmt_addr(za), fmt_addr(zb), fmt_size(zb - za), fmt_size((zb - za) // WIDTH)),
                     9, "middle", cls="zoom-axis")
            y += BUDDY_H + 40
        svg.add("</g>")
    y = legend(svg, y, snaps)
    for n in notes:
        svg.text(LABEL_W, y, n, 10, cls="note")
        y += 14
    svg.add("</svg>")
    return "\n".join(svg.out) + "\n", axis


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("input")
    ap.add_argument("-o", "--output", default="-")
    ap.add_argument("--title", default="pfalloc: physical memory")
    ap.add_argument("--strict", action="store_true")
    args = ap.parse_args(argv)
    f = sys.stdin if args.input == "-" else open(args.input, encoding="utf-8", errors="replace")
    with f:
        snaps, problems = parse(f)
    for s in snaps:
        problems += check(s)
    for p in problems:
        print("memsvg: " + p, file=sys.stderr)
    if not snaps:
        print("memsvg: no complete pfmap dump in %s" % args.input, file=sys.stderr)
        return 2
    if args.strict and problems:
        return 1
    notes = ["Axis: one linear piece per region/zone/range boundary, widths ~ size^0.3 (so 4 KiB and "
             "6 GiB both show); hatched: no region there. Buddy lane: each column stacks its bytes "
             "by state, free blocks by order (order 0 lowest)."]
    svg_text, axis = render(snaps, args.title, notes)
    above = sorted({(b, e, t) for s in snaps for (b, e, t) in s.raw if b >= axis.top})
    if above:
        extra = "Not drawn (above the top of RAM at %s): %s" % (
            fmt_addr(axis.top), "; ".join("%s [%s, %s)" % (t, fmt_addr(b), fmt_addr(e)) for b, e, t in above))
        svg_text, axis = render(snaps, args.title, notes + [extra])
    if args.output == "-":
        sys.stdout.write(svg_text)
    else:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(svg_text)
        print("memsvg: %s: %d snapshot(s) (%s), %d bytes" % (
            args.output, len(snaps), ", ".join(s.name for s in snaps), len(svg_text)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
