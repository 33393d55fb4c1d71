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
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "types.hpp"

namespace pf {

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
  static constexpr size_t kEntryCapacity = 512;

  explicit MemoryMap(MemmapOptions options = {}) : options_(options) {}

  // A firmware region; invalidates the normalised result.
  MapStatus add(Region r);
  // An extra range the allocator must not hand out (kernel image, boot info,
  // modules, ...); recorded as `type` in the normalised map.
  MapStatus reserve(uint64_t base, uint64_t length, RegionType type = RegionType::Kernel);
  // Builds entries(); false if the output exceeded kEntryCapacity (reported).
  bool normalise();

  std::span<const Region> raw() const { return {raw_, raw_count_}; }
  std::span<const Region> reserved() const { return {reserved_, reserved_count_}; }
  std::span<const MapEntry> entries() const { return {entries_, entry_count_}; }
  bool normalised() const { return normalised_; }

  uint64_t usable_frames() const;
  uint64_t rejected_count() const { return rejected_; }
  bool overflowed() const { return overflowed_; }
  const MemmapOptions& options() const { return options_; }

 private:
  MemmapOptions options_;
  Region raw_[kRawCapacity];
  Region reserved_[kReservedCapacity];
  MapEntry entries_[kEntryCapacity];
  size_t raw_count_ = 0;
  size_t reserved_count_ = 0;
  size_t entry_count_ = 0;
  uint64_t rejected_ = 0;
  bool overflowed_ = false;
  bool normalised_ = false;
};

}  // namespace pf
