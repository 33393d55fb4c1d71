// memmap.hpp — memory-map intake: the raw regions a firmware reports, in any
// order and alignment, become a sorted, non-overlapping, page-granular map.
//
// Owns: a fixed-capacity table of raw regions (as received, for reports), the
// extra reserved ranges (kernel image, boot info, modules, frame 0 and the
// low MiB), and the normalised result. No allocation: it runs before any
// allocator exists.
//
// Invariants of entries() after normalise():
//   entries[i].base < entries[i].end, both page aligned;
//   entries[i].end <= entries[i+1].base            (sorted, no overlap);
//   adjacent entries of one type are merged        (end == next.base => types differ);
//   a frame covered by several raw regions carries the most restrictive type;
//   usable entries were trimmed inward, all others widened outward;
//   no usable frame lies inside an extra reserved range or below low_reserved_end.
//
// Resolution rules (what normalise() computes, frame by frame):
//   * Precedence, least to most restrictive:
//       Usable < BootloaderReclaimable < AcpiReclaimable < AcpiNvs < Reserved < Kernel < Bad
//     A frame touched by several regions takes the most restrictive type.
//     Unknown firmware types are Reserved.
//   * A frame is Usable only if Usable regions (their union, byte by byte)
//     cover all of it and no other region touches any byte of it: usable is
//     trimmed inward. Any other region claims every frame it touches: widened
//     outward. A frame only partly covered by Usable and by nothing else is a
//     hole (absent from entries()).
//   * reserve() ranges and [0, max(low_reserved_end, 1 frame)) are overlays:
//     they raise the type of frames the firmware map reports, never add
//     memory of their own (they are subtracted, not reported). Frame 0 is never
//     usable, whatever low_reserved_end says.
//   * add(): zero length -> Skipped; a region whose end wraps past 2^64
//     (MapEntryWraps) or reaches beyond 2^phys_addr_bits
//     (MapEntryBeyondPhysLimit): a usable one, or one starting at or beyond
//     the limit, is Rejected (dropped: memory is only lost); any other is
//     clipped at the limit and recorded (Ok), never dropped, because the
//     usable memory it overlaps below the limit must stay out. Both warn,
//     naming the region. A full table -> CapacityExceeded. reserve() clips a range that
//     reaches past the physical limit (a reservation can only remove memory,
//     so "everything from base up" is the safe reading) and ignores one that
//     starts beyond it (returns Ok: no memory there to protect); a reserve()
//     of type Usable is recorded as Reserved (MapBadInput warning).
//   * phys_addr_bits is clamped to [kPageShift, 63] so every end fits in 64 bits.
//   * Usable entries are free memory for the buddy. BootloaderReclaimable and
//     AcpiReclaimable keep their type: the buddy manages them too, but as
//     reserved frames tagged with the class, so a kernel can hand each class
//     back once it is done with it (PageAllocator::release_reserved).
//
// Cost: normalise() is a sort plus one sweep over region edges, O(n log n) in
// the number of regions and independent of how much memory they describe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "types.hpp"

namespace pf {

class TextBuffer;

// Values match enum pf_region_type in pfalloc.h.
enum class RegionType : uint8_t {
  Usable = 1,
  Reserved = 2,
  AcpiReclaimable = 3,
  AcpiNvs = 4,
  Bad = 5,
  BootloaderReclaimable = 6,
  Kernel = 7,
};
const char* region_type_name(RegionType t);
// Any firmware value outside the enum is Reserved.
RegionType region_type_from_raw(uint32_t raw);
// 0 (Usable) .. 6 (Bad): the precedence above; unknown values rank as Reserved.
unsigned region_type_precedence(RegionType t);
// The types whose frames get descriptors: Usable (free at init) and the two
// reclaimable classes (reserved at init, released on request).
constexpr bool region_is_managed(RegionType t) {
  return t == RegionType::Usable || t == RegionType::BootloaderReclaimable ||
         t == RegionType::AcpiReclaimable;
}

// A region as a firmware reports it: bytes, any alignment.
struct Region {
  uint64_t base = 0;
  uint64_t length = 0;
  RegionType type = RegionType::Reserved;
};

// A normalised entry: [base, end), page aligned.
struct MapEntry {
  PhysAddr base;
  PhysAddr end;
  RegionType type = RegionType::Reserved;
  constexpr uint64_t frames() const { return (end.value - base.value) >> kPageShift; }
  constexpr Pfn first_pfn() const { return to_pfn(base); }
  constexpr Pfn end_pfn() const { return to_pfn(end); }
};

enum class MapStatus : uint8_t {
  Ok,
  Skipped,           // zero length: ignored, not an error
  Rejected,          // wraps past 2^64 or beyond kPhysAddrBits: dropped, warned
  CapacityExceeded,  // the table is full: the entry was not recorded
};
const char* map_status_name(MapStatus s);

struct MemmapOptions {
  // Frames below this are never usable (frame 0 always, the real-mode area
  // by default). Rounded up to a page.
  uint64_t low_reserved_end = 1 * MiB;
  unsigned phys_addr_bits = kPhysAddrBits;
};

class MemoryMap {
 public:
  static constexpr size_t kRawCapacity = 256;
  static constexpr size_t kReservedCapacity = 64;
  // normalise() emits at most one entry between two consecutive edges, so
  // with this capacity its output never overflows (issue 11, case 7: init
  // must take every map intake accepted).
  static constexpr size_t kEntryCapacity = 2 * (kRawCapacity + kReservedCapacity + 1);

  explicit MemoryMap(MemmapOptions options = {}) : options_(options) {}

  // A firmware region; invalidates the normalised result.
  MapStatus add(Region r);
  // An extra range the allocator must not hand out (kernel image, boot info,
  // modules, ...); recorded as `type` in the normalised map.
  MapStatus reserve(uint64_t base, uint64_t length, RegionType type = RegionType::Kernel);
  // Builds entries(). False when the result must not be trusted as complete:
  // the output exceeded kEntryCapacity (entries() then holds the exact prefix:
  // memory above it goes unused), or a reserve() was dropped for capacity
  // (that range could be handed out: a kernel must not go on). A dropped
  // add() only loses memory and does not make it false; overflowed() tells.
  bool normalise();

  std::span<const Region> raw() const { return {raw_, raw_count_}; }
  std::span<const Region> reserved() const { return {reserved_, reserved_count_}; }
  std::span<const MapEntry> entries() const { return {entries_, entry_count_}; }
  bool normalised() const { return normalised_; }

  uint64_t usable_frames() const;
  uint64_t rejected_count() const { return rejected_; }
  // True once any capacity was exceeded: a region or reserved range was not
  // recorded, or the last normalise() had to drop entries (memory above the
  // last entry then goes unused; the entries kept are still exact).
  bool overflowed() const { return overflowed_; }
  const MemmapOptions& options() const { return options_; }

  // Reports, one line per region in the style of Linux's e820 printout
  // ("  [mem 0x...-0x...] usable", inclusive end): the firmware map as
  // received, and the map as normalised.
  void format_raw(TextBuffer& out) const;
  void format_entries(TextBuffer& out) const;

 private:
  // One edge of a page-granular interval, for normalise()'s sweep. Kept in
  // the object, not on the stack: early kernel stacks are small.
  struct SweepEdge {
    uint64_t pos;
    uint8_t rank;    // region_type_precedence()
    uint8_t layer;   // 0: firmware region, 1: overlay (reserve(), low range)
    int8_t delta;    // +1 opens, -1 closes
  };
  static constexpr size_t kEdgeCapacity = 2 * (kRawCapacity + kReservedCapacity + 1);
  uint64_t phys_limit() const;
  void emit(uint64_t base, uint64_t end, RegionType type);

  MemmapOptions options_;
  Region raw_[kRawCapacity];
  Region reserved_[kReservedCapacity];
  MapEntry entries_[kEntryCapacity];
  SweepEdge edges_[kEdgeCapacity];
  size_t raw_count_ = 0;
  size_t reserved_count_ = 0;
  size_t entry_count_ = 0;
  uint64_t rejected_ = 0;
  bool overflowed_ = false;        // any capacity exceeded: tables or output
  bool table_overflowed_ = false;  // add()/reserve() dropped something (sticky)
  bool reserve_dropped_ = false;   // reserve() dropped a range (sticky)
  bool normalised_ = false;
};

}  // namespace pf
