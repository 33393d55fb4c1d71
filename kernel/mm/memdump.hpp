// memdump.hpp — the physical-memory picture as text: one machine-readable
// dump of the firmware map, the zones, what was reserved, and every block's
// state and order, written once here and used by the kernel (`make run`
// prints it on serial) and the hosted tools (tools/hosted_memdump.cpp);
// tools/memsvg.py turns it into an SVG.
//
// Reads the allocator through its public surface only (ranges, descriptors,
// counters), so it survives changes to the buddy's internals. It takes no
// lock and writes nothing: call it while no other CPU or thread allocates
// (the kernel's report, a hosted tool between workload steps). A dump taken
// while others run is still memory-safe (every step is bounded by its
// range), only possibly inconsistent.
//
// Format, version 1. Every line starts with "pfmap " and holds
// space-separated tokens; addresses and byte counts are 0x-prefixed hex,
// ranges are [BASE, END) (END exclusive); names contain no spaces. Readers
// skip lines they do not know, so kinds may be added without a version bump.
//
//   pfmap begin SNAPSHOT v1
//   pfmap raw BASE END TYPE           firmware region as received (byte-exact)
//   pfmap entry BASE END TYPE         normalised map entry (page-granular)
//   pfmap reserve BASE END TYPE       a range the kernel reserved before init
//   pfmap zone NAME BASE END managed=N free=N cached=N reserved=N   (frames)
//   pfmap range ZONE BASE END         a managed range (one descriptor array)
//   pfmap mark LABEL BASE END         a labelled reservation: descriptors (from
//                                     the allocator) and whatever the caller adds
//                                     (kernel-image, module, boot-info, page-tables...)
//   pfmap blocks STATE ORDER BASE COUNT STRIDE
//                                     COUNT blocks of 2^ORDER frames in STATE
//                                     (free, cached, allocated, slab, reserved,
//                                     tail) at BASE, BASE + STRIDE, ... ; runs of
//                                     one state and order at a constant stride
//                                     are coalesced into one line
//   pfmap buddyinfo ZONE N0 N1 ... N10  free blocks per order (format_buddyinfo's figures)
//   pfmap end SNAPSHOT lines=N        N: lines of this dump, begin and end included
//
// Cost: one step per block head (a free 4 MiB block is one step), so a
// freshly booted 6 GiB machine is a few thousand steps and a handful of
// lines; a fragmented one costs one line per broken stride pattern.
#pragma once

#include <cstdint>
#include <span>

#include "memmap.hpp"
#include "page_alloc.hpp"
#include "text.hpp"
#include "types.hpp"

namespace pf {

// A labelled physical range the caller wants shown (label without spaces).
struct DumpMark {
  const char* label = "";
  PhysAddr base, end;
};

// Called after every complete line with the text so far in `text`; the sink
// writes it out and clears it. Without a sink the lines accumulate in `out`.
using DumpSink = void (*)(TextBuffer& text, void* context);

struct DumpOptions {
  const char* snapshot = "now";          // names this dump (no spaces)
  const MemoryMap* map = nullptr;        // raw/entry/reserve lines; none if null
  std::span<const DumpMark> marks = {};  // extra labelled ranges
  DumpSink sink = nullptr;
  void* context = nullptr;
};

void format_memory_map_dump(const PageAllocator& pages, const DumpOptions& options, TextBuffer& out);

}  // namespace pf
