# pfalloc-gdb.py — gdb commands that read pfalloc's allocator from a live or
# stopped kernel (issue 12), in the spirit of Linux's lx- commands:
#
#   pf-buddyinfo   free blocks per zone and order, counted by walking the free
#                  lists (not the counters), in /proc/buddyinfo's layout: the
#                  same text the kernel's format_buddyinfo() prints; a list
#                  that disagrees with its counter is reported below it
#   pf-zones       zones with their counters, ranges and descriptor arrays,
#                  and what each CPU's page cache holds
#   pf-slabinfo    every kmem cache, in format_slabinfo()'s layout
#   pf-frame ADDR  one frame's descriptor: range, zone, state, order, owner
#                  (a slab's cache by name), links; for a tail frame, its head
#
# Use: gdb build/kernel/pfalloc.elf -ex 'source kernel/gdb/pfalloc-gdb.py'
#      -ex 'target remote :1234'   (see `make debug`)
# The ELF64 has the symbols; QEMU boots its ELF32 copy (same addresses).
#
# Everything here reads memory through gdb's type information (fields by
# name, never offsets) and calls nothing in the inferior, so it works on a
# stopped kernel and cannot disturb it. All knowledge of the allocator's
# private layout sits in the LAYOUT section below: when kernel/mm changes
# its internals, adapt that section; `make test-gdb` compares these
# commands' output with what the kernel printed itself and catches drift.

import gdb

# =========================== LAYOUT (adapt here) ==============================
# The global instances behind the C API (kernel/mm/capi.cpp).
PAGES_GLOBAL = "'pf::(anonymous namespace)::g_pages'"
SLAB_GLOBAL = "'pf::(anonymous namespace)::g_slab'"
PAGE_SHIFT = 12
NO_LINK = 0xFFFFFFFF                 # kNoLink (frame.hpp)
# Zone enumerators (pf::Zone) -> the names zone_name() prints.
ZONE_NAMES = {"Dma": "DMA", "Dma32": "DMA32", "Normal": "Normal"}
# Owner tags (frame.hpp, slab.hpp, page_alloc.hpp): constexpr, so not in the
# debug information.
OWNER_TAGS = {
    ("Allocated", 0x80000001): "kmalloc large block",
    ("Allocated", 0x80000002): "slab per-CPU arrays",
    ("Allocated", 0xC0471600): "alloc_contig piece",
    ("Reserved", 0): "bootmem (descriptors, per-CPU caches)",
    ("Reserved", 1): "bootloader-reclaimable",
    ("Reserved", 2): "acpi-reclaimable",
    # The kernel hot-adds all RAM above 4 GiB (kernel/main.cpp).
    ("Reserved", 3): "hot-add metadata",
}
MAX_SLAB_ORDER = 5                   # kMaxSlabOrder: bounds the head search


def pages():
    return gdb.parse_and_eval(PAGES_GLOBAL)


def slab():
    return gdb.parse_and_eval(SLAB_GLOBAL)


def ranges(pa):
    """(base_pfn, end_pfn, zone_index, descriptor pointer, free-list heads) per range."""
    out = []
    for i in range(scalar(pa["range_count_"])):
        r = pa["ranges_"][i]
        out.append((scalar(r["base"]), scalar(r["end"]), scalar(r["zone"]), r["desc"], r["head"]))
    return out


def zone_counters(pa, z):
    """managed, reserved, buddy-free frames and free blocks per order (the
    counters of the zone object, pf::ZoneArea in kernel/mm/zone.hpp)."""
    zs = pa["zones_"][z]
    blocks = [scalar(zs["blocks_"][k]) for k in range(order_count())]
    return scalar(zs["managed_"]), scalar(zs["reserved_"]), scalar(zs["free_buddy_"]), blocks


def cpu_cached(pa):
    """{(cpu, zone, order): blocks} in the per-CPU page caches."""
    out = {}
    cpus = pa["cpus_"]
    if int(cpus) == 0:
        return out
    stacks_t = cpus.dereference()["stacks"].type.strip_typedefs()
    nz = stacks_t.range()[1] + 1
    no = stacks_t.target().range()[1] + 1
    for cpu in range(scalar(pa["cpu_count_"])):
        stacks = cpus[cpu]["stacks"]
        for z in range(nz):
            for k in range(no):
                n = scalar(stacks[z][k]["count"])
                if n:
                    out[(cpu, z, k)] = n
    return out


def descriptor_fields(d):
    """state name, order, owner, aux, next, prev of a FrameDescriptor."""
    return (enum_name(d["state"]), scalar(d["order"]), scalar(d["owner"]), scalar(d["aux"]),
            scalar(d["link_next"]), scalar(d["link_prev"]))


def caches(sa):
    """Every KmemCache, in format_slabinfo()'s order: the list, then the two
    bootstrap caches."""
    out = []
    c = sa["caches_"]
    seen = 0
    while int(c) != 0 and seen < 100000:
        out.append(c.dereference())
        c = c["next_"]
        seen += 1
    out.append(sa["slab_cache_"])
    out.append(sa["cache_cache_"])
    return out


def cache_row(sa, c):
    """The figures slabinfo prints for one cache (slab_stats.cpp, stats())."""
    cpu_cached_objs = 0
    has_cpu = int(c["cpu_"]) != 0
    if has_cpu:
        # One CpuArrayLine per CPU at the start of the block (slab.hpp),
        # holding a pair of stacks: `out` (allocations) and `in` (frees).
        lines = c["cpu_"].cast(gdb.lookup_type("pf::slab_detail::CpuArrayLine").pointer())
        for cpu in range(scalar(sa["cpu_count_"])):
            pair = lines[cpu]["array"]
            cpu_cached_objs += scalar(pair["out"]["count"]) + scalar(pair["in"]["count"])
    slabs = scalar(c["slab_count_"])
    per_slab = scalar(c["objs_per_slab_"])
    return dict(name=c["name_"].string(), id=scalar(c["id_"]),
                active=scalar(c["inuse_"]) - cpu_cached_objs - scalar(c["depot_count_"]),
                total=slabs * per_slab,
                stride=scalar(c["stride_"]), per_slab=per_slab, pages=1 << scalar(c["order_"]),
                limit=scalar(c["cpu_limit_"]) if has_cpu else 0,
                batch=scalar(c["cpu_batch_"]) if has_cpu else 0,
                active_slabs=slabs - scalar(c["empty_"]["count"]), slabs=slabs)
# ========================= end of LAYOUT ======================================


def scalar(v):
    """An integer from a plain value, an enum, or a std::atomic (by descending
    into its base/first member)."""
    t = v.type.strip_typedefs()
    while t.code == gdb.TYPE_CODE_STRUCT:
        names = [f.name for f in t.fields()]
        v = v["_M_i"] if "_M_i" in names else v[t.fields()[0]]
        t = v.type.strip_typedefs()
    return int(v)


def enum_name(v):
    s = str(v)
    return s.split("::")[-1]


def order_count():
    pa = pages()
    return pa["ranges_"][0]["head"].type.strip_typedefs().range()[1] + 1


def zone_name(z):
    t = gdb.lookup_type("pf::Zone")
    for f in t.fields():
        if f.enumval == z:
            return ZONE_NAMES.get(f.name.split("::")[-1], f.name.split("::")[-1])
    return "?"


def zone_count():
    return len(gdb.lookup_type("pf::Zone").fields())


def fmt_size(n):
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= (1 << shift) and n % (1 << (shift - 10)) == 0 or n >= (1 << shift) * 10:
            v = n / (1 << shift)
            return ("%d %s" % (v, unit)) if v == int(v) else ("%.1f %s" % (v, unit))
    return "%d B" % n


def list_lengths(pa):
    """Free blocks per (zone, order), walking each range's lists. A list
    longer than its range could hold is reported as broken."""
    nk = order_count()
    counts, problems = {}, []
    for base, end, z, desc, head in ranges(pa):
        per = counts.setdefault(z, [0] * nk)
        for k in range(nk):
            i = scalar(head[k])
            n = 0
            limit = ((end - base) >> k) + 1
            while i != NO_LINK:
                if i >= end - base or n > limit:
                    problems.append("range [0x%x, 0x%x) order %d: list broken at index %d"
                                    % (base << PAGE_SHIFT, end << PAGE_SHIFT, k, i))
                    break
                n += 1
                i = scalar(desc[i]["link_next"])
            per[k] += n
    return counts, problems


class PfBuddyinfo(gdb.Command):
    """Free blocks per zone and order, counted on the free lists (buddyinfo layout)."""

    def __init__(self):
        super().__init__("pf-buddyinfo", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pa = pages()
        counts, problems = list_lengths(pa)
        lines = []
        for z in range(zone_count()):
            if z not in counts:
                continue
            lines.append("Node 0, zone %8s " % zone_name(z) + "".join("%6d " % n for n in counts[z]))
            _m, _r, _f, blocks = zone_counters(pa, z)
            for k, (n, c) in enumerate(zip(counts[z], blocks)):
                if n != c:
                    problems.append("zone %s order %d: %d blocks on the lists, counter says %d"
                                    % (zone_name(z), k, n, c))
        for p in problems:
            lines.append("pf-buddyinfo: inconsistent: " + p)
        gdb.write("\n".join(lines) + "\n")


class PfZones(gdb.Command):
    """Zones: counters, ranges, descriptor arrays, per-CPU page caches."""

    def __init__(self):
        super().__init__("pf-zones", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        pa = pages()
        rs = ranges(pa)
        cached = cpu_cached(pa)
        out = []
        for z in range(zone_count()):
            zr = [r for r in rs if r[2] == z]
            if not zr:
                continue
            managed, reserved, free_buddy, _blocks = zone_counters(pa, z)
            cached_frames = sum(n << k for (cpu, zz, k), n in cached.items() if zz == z)
            out.append("zone %-6s managed %d frames (%s), free %d (buddy %d, cached %d), reserved %d"
                       % (zone_name(z), managed, fmt_size(managed << PAGE_SHIFT),
                          free_buddy + cached_frames, free_buddy, cached_frames, reserved))
            for base, end, _z, desc, _h in zr:
                out.append("  range [0x%012x, 0x%012x) %d frames, descriptors at 0x%x (virtual)"
                           % (base << PAGE_SHIFT, end << PAGE_SHIFT, end - base, int(desc)))
            for (cpu, zz, k), n in sorted(cached.items()):
                if zz == z:
                    out.append("  cpu %d page cache: %d blocks of order %d" % (cpu, n, k))
        gdb.write("\n".join(out) + "\n")


class PfSlabinfo(gdb.Command):
    """Every kmem cache, in /proc/slabinfo's layout."""

    def __init__(self):
        super().__init__("pf-slabinfo", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        sa = slab()
        out = ["slabinfo - version: 2.1",
               "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
               " : tunables <limit> <batchcount> <sharedfactor>"
               " : slabdata <active_slabs> <num_slabs> <sharedavail>"]
        for c in caches(sa):
            r = cache_row(sa, c)
            out.append("%-17s %6d %6d %6d %4d %4d : tunables %4d %4d %4d : slabdata %6d %6d %6d"
                       % (r["name"], r["active"], r["total"], r["stride"], r["per_slab"], r["pages"],
                          r["limit"], r["batch"], 0, r["active_slabs"], r["slabs"], 0))
        gdb.write("\n".join(out) + "\n")


class PfFrame(gdb.Command):
    """pf-frame ADDR: the descriptor of the frame holding physical address ADDR."""

    def __init__(self):
        super().__init__("pf-frame", gdb.COMMAND_DATA)

    def invoke(self, arg, from_tty):
        if not arg.strip():
            raise gdb.GdbError("usage: pf-frame PHYSICAL-ADDRESS")
        phys = int(gdb.parse_and_eval(arg))
        pfn = phys >> PAGE_SHIFT
        pa = pages()
        for base, end, z, desc, _h in ranges(pa):
            if base <= pfn < end:
                break
        else:
            gdb.write("frame 0x%x (pfn %d): not managed by the allocator\n" % (pfn << PAGE_SHIFT, pfn))
            return
        state, order, owner, aux, nxt, prv = descriptor_fields(desc[pfn - base])
        line = ("frame 0x%x (pfn %d): zone %s, range [0x%x, 0x%x), state %s, order %d, owner 0x%x, aux %d"
                % (pfn << PAGE_SHIFT, pfn, zone_name(z), base << PAGE_SHIFT, end << PAGE_SHIFT,
                   state.lower(), order, owner, aux))
        if state == "Free":
            line += ", next %s, prev %s" % tuple("none" if x == NO_LINK else "0x%x" % ((base + x) << PAGE_SHIFT)
                                                 for x in (nxt, prv))
        line += owner_text(state, owner)
        if state == "Tail":
            head = find_head(desc, base, pfn, order_count())
            if head is None:
                line += "; no head found (not part of any block?)"
            else:
                h, hs, ho, hown = head
                line += "; tail of the %s block of order %d at 0x%x%s" % (
                    hs.lower(), ho, h << PAGE_SHIFT, owner_text(hs, hown))
        gdb.write(line + "\n")


def owner_text(state, owner):
    if state == "Slab":
        for c in caches(slab()):
            if scalar(c["id_"]) == owner:
                return " (slab of cache %s)" % c["name_"].string()
        return " (slab of unknown cache id %d)" % owner
    tag = OWNER_TAGS.get((state, owner))
    return " (%s)" % tag if tag else ""


def find_head(desc, base, pfn, nk):
    for k in range(1, nk):
        h = pfn & ~((1 << k) - 1)
        if h < base:
            break
        s, o, own, _a, _n, _p = descriptor_fields(desc[h - base])
        if s != "Tail" and h + (1 << o) > pfn:
            return h, s, o, own
    return None


PfBuddyinfo()
PfZones()
PfSlabinfo()
PfFrame()
