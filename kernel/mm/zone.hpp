// zone.hpp — a zone as an object (ZoneArea): its lock, its counters, its run
// of managed ranges, and the buddy proper for that zone (take a block,
// splitting; give a block back, merging), plus its share of verify().
//
// Names. `enum class Zone` stays the zone's *id* (DMA, DMA32, Normal): the C
// API's flags map to it and the kernel, the tests, memdump and the gdb script
// all say Zone::Dma etc., so renaming it would touch every layer for nothing.
// The object that owns a zone's state is ZoneArea (Linux calls its zone
// object `struct zone`; "area" also names what it owns: address ranges).
//
// Ranges. A managed range (Range) lies in exactly one zone and has its own
// descriptor array and per-order free lists, linked through
// FrameDescriptor::link_next/link_prev as frame indices within the range.
// The range table itself belongs to PageAllocator (its pfn -> range lookup
// spans every zone); a zone owns the contiguous slice [first_range,
// end_range) of it (ranges are sorted by address, and zones are too).
//
// Counter invariants (check_counters(), from verify()):
//   blocks[k] == blocks on list k over the zone's ranges;
//   free_buddy == sum over those blocks of 2^k;
//   nonempty bit k <=> blocks[k] != 0;
//   managed + reserved == frames in the zone's ranges;
//   free_buddy + cached + allocated == managed.
// Lock: `lock()` guards every list and counter write; counters are atomics
// only so reports can read them unlocked. Lock order: per-CPU gate -> zone
// lock; verify() takes all zone locks in zone order. A ZoneArea never calls
// up (into the per-CPU caches or the router): a free goes strictly downward.
#pragma once

#include <atomic>
#include <cstdint>

#include "frame.hpp"
#include "spinlock.hpp"
#include "types.hpp"

namespace pf {

enum class Zone : uint8_t { Dma = 0, Dma32 = 1, Normal = 2 };
inline constexpr unsigned kZoneCount = 3;
// Ranges are also cut at multiples of 2^kRangeChunkShift frames so that a
// frame index within a range always fits a uint32 link (kNoLink excluded).
// 2^31 frames is 8 TiB, far above a block, so the cut costs no merge.
inline constexpr unsigned kRangeChunkShift = 31;
inline constexpr uint64_t kDmaLimit = 16 * MiB;
inline constexpr uint64_t kDma32Limit = 4 * GiB;
const char* zone_name(Zone z);
// The zone of a frame, and the first frame past that zone (~0 for Normal).
constexpr Zone zone_for(uint64_t pfn) {
  return pfn < (kDmaLimit >> kPageShift)     ? Zone::Dma
         : pfn < (kDma32Limit >> kPageShift) ? Zone::Dma32
                                             : Zone::Normal;
}
constexpr uint64_t zone_end_pfn(uint64_t pfn) {
  return pfn < (kDmaLimit >> kPageShift)     ? kDmaLimit >> kPageShift
         : pfn < (kDma32Limit >> kPageShift) ? kDma32Limit >> kPageShift
                                             : ~uint64_t{0};
}

// A range slot's base until the range is published: find_range's walk may
// reach a slot that is being built (or none at all), and `pfn >= base` is
// then false for every frame number.
inline constexpr uint64_t kUnpublishedBase = ~uint64_t{0};

struct Range {
  uint64_t base = kUnpublishedBase;  // first frame (written last, with release)
  uint64_t end = 0;    // one past the last frame; end - base < kNoLink
  FrameDescriptor* desc = nullptr;
  uint32_t head[kOrderCount] = {};  // free list heads (indices), kNoLink if empty
  uint32_t nonempty = 0;            // bit k <=> head[k] != kNoLink
  Zone zone = Zone::Dma;

  FrameDescriptor& at(Pfn p) const { return desc[p.value - base]; }
  bool contains(Pfn p) const { return p.value >= base && p.value < end; }
};

class ZoneArea {
 public:
  struct Block {  // a block taken from the buddy; range == nullptr: none
    Range* range = nullptr;
    Pfn pfn;
  };

  // The zone's slice of the range table (`table` outlives the zone): set by
  // init, and grown by a hot-add (lock held) once the new ranges are whole.
  // The release stores let unlocked readers (empty(), reports) trust what
  // the slice names.
  void assign(Range* table, uint32_t first, uint32_t end) {
    table_ = table;
    detail::store_release(first_range_, first);
    detail::store_release(end_range_, end);
  }
  bool empty() const { return end_range() == first_range(); }
  uint32_t first_range() const { return detail::load_acquire(first_range_); }
  uint32_t end_range() const { return detail::load_acquire(end_range_); }
  SpinLock& lock() const { return lock_; }

  // Counters, read without the lock (a consistent-enough snapshot).
  uint64_t managed() const { return managed_.load(std::memory_order_relaxed); }
  uint64_t reserved() const { return reserved_.load(std::memory_order_relaxed); }
  uint64_t free_buddy() const { return free_buddy_.load(std::memory_order_relaxed); }
  uint64_t blocks(Order o) const { return blocks_[o.value].load(std::memory_order_relaxed); }

  // --- everything below runs with lock() held
  // A block of `order` in state `as` (Allocated or Cached), split off the
  // smallest free block that fits; {nullptr} when the zone has none.
  Block take(Order order, FrameState as);
  // A block of `order` at `p` of r goes back to the lists, merged with its
  // free buddies as far as the range allows.
  void give(Range& r, Pfn p, Order order);
  // Onto / off list `order` without merging (init's maximal blocks; carving
  // a contiguous window out of free blocks).
  void push(Range& r, Pfn p, Order order);
  void remove(Range& r, Pfn p, Order order);
  // Frame accounting outside the lists: init marks frames managed (then
  // pushes their blocks) or reserved; release_reserved turns reserved frames
  // into managed ones (then gives their blocks).
  void add_managed(uint64_t frames);
  void add_reserved(uint64_t frames);
  void reserved_to_managed(uint64_t frames);

  // verify()'s share (lock held): the counters against what verify counted
  // in the descriptors and lists. nullptr if they agree, else what is wrong.
  struct Tally {
    uint64_t listed[kOrderCount] = {};      // blocks on the free lists
    uint64_t free_heads[kOrderCount] = {};  // Free descriptors
    uint64_t cached = 0;                    // frames in Cached blocks
    uint64_t allocated = 0;                 // frames in Allocated/Slab blocks
    uint64_t reserved = 0;                  // Reserved frames
    uint64_t frames = 0;                    // frames in the zone's ranges
  };
  const char* check_counters(const Tally& t) const;

 private:
  mutable SpinLock lock_;
  Range* table_ = nullptr;
  uint32_t first_range_ = 0, end_range_ = 0;  // table_[first_range_, end_range_)
  uint32_t nonempty_ = 0;                     // bit k <=> blocks_[k] != 0
  // Written under lock_; atomics only so the getters can read them unlocked.
  std::atomic<uint64_t> managed_{0}, reserved_{0}, free_buddy_{0};
  std::atomic<uint64_t> blocks_[kOrderCount] = {};
};

}  // namespace pf
