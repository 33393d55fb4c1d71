// memdump.cpp — format_memory_map_dump(): the "pfmap" text of memdump.hpp.
//
// Walks each managed range by block heads (a head's order says how far the
// block reaches), so the cost is one step per block, never one per frame of
// a free block. Runs of one (state, order) at a constant stride are kept
// open side by side, one per (state, order), so an allocated block between
// two free ones does not break the free run: "every other frame free" is one
// line per state. Lock-free and read-only; see the header for when to call.
#include "memdump.hpp"

namespace pf {

namespace {

constexpr unsigned kStateCount = 7;  // FrameState::Tail .. RemoteFreed

const char* state_token(unsigned s) { return frame_state_name(static_cast<FrameState>(s)); }

class Writer {
 public:
  Writer(TextBuffer& out, const DumpOptions& o) : out_(out), o_(o) {}
  TextBuffer& begin() { return out_.str("pfmap "); }
  void end() {
    out_.nl();
    ++lines_;
    if (o_.sink != nullptr) o_.sink(out_, o_.context);
  }
  void range_line(const char* kind, uint64_t base, uint64_t end, const char* name) {
    begin().str(kind).ch(' ').hex(base).ch(' ').hex(end).ch(' ').str(name);
    this->end();
  }
  void mark_line(const char* label, uint64_t base, uint64_t end) {
    begin().str("mark ").str(label).ch(' ').hex(base).ch(' ').hex(end);
    this->end();
  }
  uint64_t lines() const { return lines_; }

 private:
  TextBuffer& out_;
  const DumpOptions& o_;
  uint64_t lines_ = 0;
};

// Open runs, one per (state, order); all in frame numbers.
class Runs {
 public:
  explicit Runs(Writer& w) : w_(w) {}
  void add(unsigned state, unsigned order, uint64_t pfn) {
    Run& r = open_[state][order];
    if (r.count == 1) {
      r.stride = pfn - r.base;
      r.count = 2;
      return;
    }
    if (r.count > 1 && pfn == r.base + r.count * r.stride) {
      ++r.count;
      return;
    }
    flush(state, order);
    r = Run{pfn, 1, 0};
  }
  void flush_all() {
    for (unsigned s = 0; s < kStateCount; ++s)
      for (unsigned k = 0; k < kOrderCount; ++k) flush(s, k);
  }

 private:
  struct Run {
    uint64_t base = 0, count = 0, stride = 0;
  };
  void flush(unsigned s, unsigned k) {
    Run& r = open_[s][k];
    if (r.count == 0) return;
    const uint64_t stride = r.count > 1 ? r.stride : uint64_t{1} << k;
    w_.begin().str("blocks ").str(state_token(s)).ch(' ').dec(k).ch(' ').hex(r.base << kPageShift)
        .ch(' ').dec(r.count).ch(' ').hex(stride << kPageShift);
    w_.end();
    r = Run{};
  }
  Writer& w_;
  Run open_[kStateCount][kOrderCount];
};

void dump_blocks(const PageAllocator& pages, Writer& w) {
  Runs runs(w);
  for (size_t i = 0; i < pages.range_count(); ++i) {
    const PageAllocator::RangeInfo info = pages.range_info(i);
    const uint64_t end = to_pfn(info.end).value;
    for (uint64_t p = to_pfn(info.base).value; p < end;) {
      const FrameDescriptor* d = pages.descriptor(Pfn{p});
      unsigned state = d != nullptr ? static_cast<unsigned>(frame_state(*d)) : 0;
      unsigned order = d != nullptr ? d->order : 0;
      // A head whose order does not fit here would be a broken invariant
      // (verify() names it); show the frame alone rather than skip memory.
      if (state >= kStateCount || state == static_cast<unsigned>(FrameState::Tail) ||
          order > kMaxOrder || (p & ((uint64_t{1} << order) - 1)) != 0 ||
          p + (uint64_t{1} << order) > end) {
        if (state >= kStateCount) state = 0;
        order = 0;
      }
      runs.add(state, order, p);
      p += uint64_t{1} << order;
    }
  }
  runs.flush_all();
}

}  // namespace

void format_memory_map_dump(const PageAllocator& pages, const DumpOptions& o, TextBuffer& out) {
  Writer w(out, o);
  const char* snapshot = o.snapshot != nullptr ? o.snapshot : "now";
  w.begin().str("begin ").str(snapshot).str(" v1");
  w.end();

  if (o.map != nullptr) {
    for (const Region& r : o.map->raw())
      w.range_line("raw", r.base, r.base + r.length, region_type_name(r.type));
    for (const MapEntry& e : o.map->entries())
      w.range_line("entry", e.base.value, e.end.value, region_type_name(e.type));
    for (const Region& r : o.map->reserved())
      w.range_line("reserve", r.base, r.base + r.length, region_type_name(r.type));
  }

  // Zones: the span of their ranges, and their counters.
  for (unsigned z = 0; z < kZoneCount; ++z) {
    uint64_t lo = ~uint64_t{0}, hi = 0;
    for (size_t i = 0; i < pages.range_count(); ++i) {
      const PageAllocator::RangeInfo info = pages.range_info(i);
      if (static_cast<unsigned>(info.zone) != z) continue;
      lo = info.base.value < lo ? info.base.value : lo;
      hi = info.end.value > hi ? info.end.value : hi;
    }
    if (lo >= hi) continue;
    const Zone zone = static_cast<Zone>(z);
    const PageCounters c = pages.zone_counters(zone);
    w.begin().str("zone ").str(zone_name(zone)).ch(' ').hex(lo).ch(' ').hex(hi).str(" managed=")
        .dec(c.managed_frames).str(" free=").dec(c.free_frames).str(" cached=").dec(c.cached_frames)
        .str(" reserved=").dec(c.reserved_frames);
    w.end();
  }
  for (size_t i = 0; i < pages.range_count(); ++i) {
    const PageAllocator::RangeInfo info = pages.range_info(i);
    w.begin().str("range ").str(zone_name(info.zone)).ch(' ').hex(info.base.value).ch(' ')
        .hex(info.end.value);
    w.end();
  }
  for (size_t i = 0; i < pages.range_count(); ++i) {
    const PageAllocator::RangeInfo info = pages.range_info(i);
    if (info.descriptor_bytes == 0) continue;
    w.mark_line("descriptors", info.descriptors.value, info.descriptors.value + info.descriptor_bytes);
  }
  for (const DumpMark& m : o.marks) w.mark_line(m.label, m.base.value, m.end.value);

  dump_blocks(pages, w);

  for (unsigned z = 0; z < kZoneCount; ++z) {
    bool populated = false;
    for (size_t i = 0; i < pages.range_count() && !populated; ++i)
      populated = static_cast<unsigned>(pages.range_info(i).zone) == z;
    if (!populated) continue;
    const Zone zone = static_cast<Zone>(z);
    w.begin().str("buddyinfo ").str(zone_name(zone));
    for (unsigned k = 0; k < kOrderCount; ++k) out.ch(' ').dec(pages.free_blocks(zone, Order{k}));
    w.end();
  }
  w.begin().str("end ").str(snapshot).str(" lines=").dec(w.lines() + 1);
  w.end();
}

}  // namespace pf
