// memmap.cpp — see memmap.hpp for the rules. This file owns how they are
// computed: a sort and a sweep over interval edges, never a loop over frames,
// so a 2^52-byte map costs what a 4 MiB one does.
//
// normalise() in three steps, all in edges_ (no allocation, little stack):
//   1. Usable regions, byte exact: sort their edges (opens before closes at
//      one address, so touching regions join), sweep to get the union's
//      components, trim each inward to whole frames. Written back in place.
//   2. Every other firmware region widened outward, plus the overlays
//      (reserve() ranges and the low range), as page-aligned edges.
//   3. Sort and sweep once more. Between two consecutive edge addresses the
//      set of covering intervals is constant: its type is the highest rank
//      open in layer 0 (none open: a hole), raised by the highest rank open
//      in layer 1. emit() merges equal neighbours.
// Invariants during the sweep: open[layer][rank] == number of intervals of
// that layer and rank containing [pos, next_pos); it returns to all zeros.
// No locks: a MemoryMap belongs to whoever is booting.
#include "memmap.hpp"

#include "error.hpp"
#include "text.hpp"

namespace pf {

namespace {

constexpr unsigned kRankCount = 7;
// Indexed by precedence rank: the most restrictive type wins.
constexpr RegionType kByRank[kRankCount] = {
    RegionType::Usable,
    RegionType::BootloaderReclaimable,
    RegionType::AcpiReclaimable,
    RegionType::AcpiNvs,
    RegionType::Reserved,
    RegionType::Kernel,
    RegionType::Bad,
};
constexpr unsigned kUsableRank = 0;

constexpr uint64_t page_down(uint64_t a) { return a & ~(kPageSize - 1); }
// Callers guarantee a <= 2^63, so this cannot overflow.
constexpr uint64_t page_up(uint64_t a) { return (a + kPageSize - 1) & ~(kPageSize - 1); }

// Heapsort: O(n log n), no recursion, no allocation, no <algorithm>.
template <typename T, typename Less>
void heap_sort(T* a, size_t n, Less less) {
  auto sift_down = [&](size_t root, size_t end) {
    for (;;) {
      size_t child = 2 * root + 1;
      if (child >= end) return;
      if (child + 1 < end && less(a[child], a[child + 1])) ++child;
      if (!less(a[root], a[child])) return;
      T t = a[root];
      a[root] = a[child];
      a[child] = t;
      root = child;
    }
  };
  for (size_t i = n / 2; i-- > 0;) sift_down(i, n);
  for (size_t end = n; end > 1; --end) {
    T t = a[0];
    a[0] = a[end - 1];
    a[end - 1] = t;
    sift_down(0, end - 1);
  }
}

}  // namespace

const char* region_type_name(RegionType t) {
  switch (t) {
    case RegionType::Usable: return "usable";
    case RegionType::Reserved: return "reserved";
    case RegionType::AcpiReclaimable: return "acpi-reclaimable";
    case RegionType::AcpiNvs: return "acpi-nvs";
    case RegionType::Bad: return "bad";
    case RegionType::BootloaderReclaimable: return "bootloader-reclaimable";
    case RegionType::Kernel: return "kernel";
  }
  return "unknown";
}

RegionType region_type_from_raw(uint32_t raw) {
  if (raw >= static_cast<uint32_t>(RegionType::Usable) &&
      raw <= static_cast<uint32_t>(RegionType::Kernel)) {
    return static_cast<RegionType>(raw);
  }
  return RegionType::Reserved;
}

unsigned region_type_precedence(RegionType t) {
  for (unsigned r = 0; r < kRankCount; ++r) {
    if (kByRank[r] == t) return r;
  }
  return region_type_precedence(RegionType::Reserved);
}

const char* map_status_name(MapStatus s) {
  switch (s) {
    case MapStatus::Ok: return "ok";
    case MapStatus::Skipped: return "skipped";
    case MapStatus::Rejected: return "rejected";
    case MapStatus::CapacityExceeded: return "capacity-exceeded";
  }
  return "unknown";
}

uint64_t MemoryMap::phys_limit() const {
  unsigned bits = options_.phys_addr_bits;
  if (bits < kPageShift) bits = kPageShift;
  if (bits > 63) bits = 63;
  return uint64_t{1} << bits;
}

MapStatus MemoryMap::add(Region r) {
  normalised_ = false;
  entry_count_ = 0;
  if (r.length == 0) return MapStatus::Skipped;
  const uint64_t limit = phys_limit();
  const bool wraps = r.length > ~uint64_t{0} - r.base;
  if (wraps || r.base + r.length > limit) {
    const ErrorCode code = wraps ? ErrorCode::MapEntryWraps : ErrorCode::MapEntryBeyondPhysLimit;
    // Usable memory may be lost, never gained: a usable region is dropped
    // whole; any other region is clipped at the limit, because the usable
    // memory it overlaps below the limit must stay out.
    if (region_type_precedence(r.type) == kUsableRank || r.base >= limit) {
      ++rejected_;
      warn(code,
           wraps ? "firmware region wraps past 2^64 (end shown mod 2^64), dropped"
                 : "firmware region reaches beyond the physical address width, dropped",
           r.base, r.base + r.length);
      return MapStatus::Rejected;
    }
    warn(code,
         wraps ? "firmware region wraps past 2^64 (end shown mod 2^64), clipped at the physical limit"
               : "firmware region reaches beyond the physical address width, clipped at the limit",
         r.base, r.base + r.length);
    r.length = limit - r.base;
  }
  if (raw_count_ == kRawCapacity) {
    overflowed_ = table_overflowed_ = true;
    warn(ErrorCode::MapCapacityExceeded,
         "firmware map has more regions than MemoryMap::kRawCapacity, region dropped", r.base,
         r.base + r.length);
    return MapStatus::CapacityExceeded;
  }
  raw_[raw_count_++] = r;
  return MapStatus::Ok;
}

MapStatus MemoryMap::reserve(uint64_t base, uint64_t length, RegionType type) {
  normalised_ = false;
  entry_count_ = 0;
  if (length == 0) return MapStatus::Skipped;
  const uint64_t limit = phys_limit();
  if (base >= limit) return MapStatus::Ok;  // nothing the map can hold lies there
  if (length > limit - base) length = limit - base;
  if (type == RegionType::Usable) {
    warn(ErrorCode::MapBadInput, "reserve() of type usable, recorded as reserved", base,
         base + length);
    type = RegionType::Reserved;
  }
  if (reserved_count_ == kReservedCapacity) {
    overflowed_ = table_overflowed_ = reserve_dropped_ = true;
    warn(ErrorCode::MapCapacityExceeded,
         "more reserved ranges than MemoryMap::kReservedCapacity, range dropped", base,
         base + length);
    return MapStatus::CapacityExceeded;
  }
  reserved_[reserved_count_++] = Region{base, length, type};
  return MapStatus::Ok;
}

void MemoryMap::emit(uint64_t base, uint64_t end, RegionType type) {
  if (entry_count_ != 0) {
    MapEntry& last = entries_[entry_count_ - 1];
    if (last.end.value == base && last.type == type) {
      last.end = PhysAddr{end};
      return;
    }
  }
  if (entry_count_ == kEntryCapacity) {
    if (!overflowed_) {
      warn(ErrorCode::MapCapacityExceeded,
           "normalised map has more entries than MemoryMap::kEntryCapacity, memory from here up "
           "dropped",
           base, end);
    }
    overflowed_ = true;
    return;
  }
  entries_[entry_count_++] = MapEntry{PhysAddr{base}, PhysAddr{end}, type};
}

bool MemoryMap::normalise() {
  // Output overflow is a property of this run; table overflow stays sticky.
  overflowed_ = false;
  entry_count_ = 0;
  const uint64_t limit = phys_limit();

  auto by_pos_opens_first = [](const SweepEdge& a, const SweepEdge& b) {
    return a.pos != b.pos ? a.pos < b.pos : a.delta > b.delta;
  };

  // Step 1: the union of usable regions, byte exact, trimmed to frames.
  size_t n = 0;
  for (size_t i = 0; i < raw_count_; ++i) {
    if (region_type_precedence(raw_[i].type) != kUsableRank) continue;
    edges_[n++] = {raw_[i].base, kUsableRank, 0, +1};
    edges_[n++] = {raw_[i].base + raw_[i].length, kUsableRank, 0, -1};
  }
  heap_sort(edges_, n, by_pos_opens_first);
  size_t out = 0;
  uint64_t depth = 0, start = 0;
  for (size_t i = 0; i < n; ++i) {
    if (edges_[i].delta > 0) {
      if (depth++ == 0) start = edges_[i].pos;
      continue;
    }
    if (--depth != 0) continue;
    // A component closes: at least two edges were read for it, so writing
    // two at `out` never overtakes the reading position.
    const uint64_t lo = page_up(start), hi = page_down(edges_[i].pos);
    if (lo < hi) {
      edges_[out++] = {lo, kUsableRank, 0, +1};
      edges_[out++] = {hi, kUsableRank, 0, -1};
    }
  }
  n = out;

  // Step 2: everything else, widened outward to frames.
  for (size_t i = 0; i < raw_count_; ++i) {
    const unsigned rank = region_type_precedence(raw_[i].type);
    if (rank == kUsableRank) continue;
    edges_[n++] = {page_down(raw_[i].base), static_cast<uint8_t>(rank), 0, +1};
    edges_[n++] = {page_up(raw_[i].base + raw_[i].length), static_cast<uint8_t>(rank), 0, -1};
  }
  for (size_t i = 0; i < reserved_count_; ++i) {
    const auto rank = static_cast<uint8_t>(region_type_precedence(reserved_[i].type));
    edges_[n++] = {page_down(reserved_[i].base), rank, 1, +1};
    edges_[n++] = {page_up(reserved_[i].base + reserved_[i].length), rank, 1, -1};
  }
  uint64_t low_end = options_.low_reserved_end < limit ? page_up(options_.low_reserved_end) : limit;
  if (low_end < kPageSize) low_end = kPageSize;  // frame 0 is never usable
  const auto reserved_rank = static_cast<uint8_t>(region_type_precedence(RegionType::Reserved));
  edges_[n++] = {0, reserved_rank, 1, +1};
  edges_[n++] = {low_end, reserved_rank, 1, -1};
  PF_ASSERT(n <= kEdgeCapacity);

  // Step 3: one sweep; every run between edges gets its resolved type.
  heap_sort(edges_, n, by_pos_opens_first);
  uint32_t open[2][kRankCount] = {};
  for (size_t i = 0; i < n;) {
    const uint64_t pos = edges_[i].pos;
    for (; i < n && edges_[i].pos == pos; ++i) {
      open[edges_[i].layer][edges_[i].rank] += static_cast<uint32_t>(edges_[i].delta);
    }
    if (i == n) break;
    int firmware = -1, overlay = -1;
    for (unsigned r = 0; r < kRankCount; ++r) {
      if (open[0][r] != 0) firmware = static_cast<int>(r);
      if (open[1][r] != 0) overlay = static_cast<int>(r);
    }
    if (firmware < 0) continue;  // a hole: overlays add no memory
    const int rank = overlay > firmware ? overlay : firmware;
    emit(pos, edges_[i].pos, kByRank[rank]);
  }

  normalised_ = true;
  const bool fitted = !overflowed_;
  overflowed_ = overflowed_ || table_overflowed_;
  return fitted && !reserve_dropped_;
}

uint64_t MemoryMap::usable_frames() const {
  uint64_t frames = 0;
  for (size_t i = 0; i < entry_count_; ++i) {
    if (entries_[i].type == RegionType::Usable) frames += entries_[i].frames();
  }
  return frames;
}

namespace {
void format_line(TextBuffer& out, uint64_t base, uint64_t end, RegionType type) {
  out.str("  [mem ").hex_padded(base, 16).ch('-').hex_padded(end - 1, 16).str("] ");
  out.str(region_type_name(type));
}
}  // namespace

void MemoryMap::format_raw(TextBuffer& out) const {
  out.str("firmware map as received: ").dec(raw_count_).str(" regions");
  if (rejected_ != 0) out.str(", ").dec(rejected_).str(" rejected");
  out.nl();
  for (size_t i = 0; i < raw_count_; ++i) {
    const auto raw_type = static_cast<uint32_t>(raw_[i].type);
    if (region_type_from_raw(raw_type) == raw_[i].type) {
      format_line(out, raw_[i].base, raw_[i].base + raw_[i].length, raw_[i].type);
    } else {
      out.str("  [mem ").hex_padded(raw_[i].base, 16).ch('-');
      out.hex_padded(raw_[i].base + raw_[i].length - 1, 16).str("] type ").dec(raw_type);
      out.str(" (unknown: reserved)");
    }
    out.nl();
  }
  for (size_t i = 0; i < reserved_count_; ++i) {
    out.str("  reserve ");
    format_line(out, reserved_[i].base, reserved_[i].base + reserved_[i].length, reserved_[i].type);
    out.nl();
  }
}

void MemoryMap::format_entries(TextBuffer& out) const {
  if (!normalised_) {
    out.str("normalised map: not built yet").nl();
    return;
  }
  const uint64_t usable = usable_frames();
  out.str("normalised map: ").dec(entry_count_).str(" entries, ").dec(usable);
  out.str(" usable frames (").size(usable * kPageSize).ch(')');
  if (overflowed_) out.str(", OVERFLOWED: some memory dropped");
  out.nl();
  for (size_t i = 0; i < entry_count_; ++i) {
    format_line(out, entries_[i].base.value, entries_[i].end.value, entries_[i].type);
    const uint64_t frames = entries_[i].frames();
    out.str(" (").dec(frames).str(frames == 1 ? " frame)" : " frames)").nl();
  }
}

}  // namespace pf
