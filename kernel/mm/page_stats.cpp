// page_stats.cpp — the page allocator's text reports: /proc/buddyinfo's
// layout and a zone/range summary for the boot report.
//
// Both read the counters without locks (relaxed atomics): a report taken
// while other CPUs allocate is a consistent-enough snapshot, never torn.
#include "page_alloc.hpp"
#include "page_internal.hpp"

namespace pf {

using detail::peek;

void PageAllocator::format_buddyinfo(TextBuffer& out) const {
  // Linux: "Node %d, zone %8s " then "%6lu " per order, one line per
  // populated zone, lowest zone first.
  for (unsigned z = 0; z < kZoneCount; ++z) {
    const ZoneArea& zs = zones_[z];
    if (zs.empty()) continue;
    out.str("Node 0, zone ").str_w(zone_name(static_cast<Zone>(z)), 8).ch(' ');
    for (unsigned k = 0; k < kOrderCount; ++k) out.dec_w(zs.blocks(Order{k}), 6).ch(' ');
    out.nl();
  }
}

uint64_t PageAllocator::cpu_cached_frames(unsigned cpu) const {
  if (cpu >= cpu_count_ || !initialised_) return 0;
  uint64_t frames = 0;
  for (unsigned z = 0; z < kZoneCount; ++z)
    for (unsigned k = 0; k < kPcpOrders; ++k) frames += uint64_t{peek(cpus_[cpu].stacks[z][k].count)} << k;
  // and the blocks other CPUs freed for it, not yet collected
  for (unsigned z = 0; z < kZoneCount; ++z)
    frames += peek(remote_[cpu].frames[z]) + peek(remote_[cpu].collecting[z]);
  return frames;
}

void PageAllocator::format_zones(TextBuffer& out) const {
  for (unsigned z = 0; z < kZoneCount; ++z) {
    const ZoneArea& zs = zones_[z];
    if (zs.empty()) continue;
    const PageCounters c = zone_counters(static_cast<Zone>(z));
    out.str("zone ").str_w(zone_name(static_cast<Zone>(z)), -6).str(" managed ").dec(c.managed_frames)
        .str(" frames (").size(c.managed_frames << kPageShift).str("), free ").dec(c.free_frames)
        .str(" (cached ").dec(c.cached_frames).str("), reserved ").dec(c.reserved_frames).nl();
    for (uint32_t i = zs.first_range(); i < zs.end_range(); ++i) {
      const RangeInfo info = range_info(i);
      out.str("  range [").hex_padded(info.base.value, 12).str(", ").hex_padded(info.end.value, 12)
          .str(") ").dec((info.end.value - info.base.value) >> kPageShift).str(" frames, descriptors ")
          .size(info.descriptor_bytes).str(" at ").hex(info.descriptors.value).nl();
    }
  }
  out.str("descriptors: ").dec(descriptor_bytes_per_frame()).str(" bytes per frame, ")
      .size(descriptor_bytes_).str(" in all; bootmem placed ").size(bootmem_bytes()).str(" (")
      .dec(cpu_count_).str(" per-CPU page caches)").nl();
  if (const size_t added = kMaxHotplugRanges - hotplug_ranges_left(); added != 0)
    out.str("hot-added: ").dec(added).str(added == 1 ? " range, its metadata " : " ranges, their metadata ")
        .size(hotplug_meta_frames() << kPageShift).str(" (").dec(hotplug_ranges_left())
        .str(" slots left)").nl();
}

}  // namespace pf
