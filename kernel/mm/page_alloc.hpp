// page_alloc.hpp — the page-frame allocator: zones, per-order free lists
// (the buddy), per-CPU page caches in front of them, contiguous allocation.
//
// PUBLIC SURFACE: fixed; the slab layer, the C API, the kernel and the tests
// are written against it. Private members are the buddy's own.
//
// Lock order: per-CPU cache lock -> zone lock. No lock is held while calling
// out, except the log/fatal hooks from report().
//
// Counter invariants (verify()):
//   free_frames + allocated_frames == managed_frames            (per zone and in total)
//   free_frames == sum over free blocks of 2^order + frames in per-CPU caches
//   reserved_frames == frames in managed ranges whose state is Reserved
#pragma once

#include <cstddef>
#include <cstdint>

#include "frame.hpp"
#include "memmap.hpp"
#include "pfalloc.h"
#include "platform.hpp"
#include "text.hpp"
#include "types.hpp"

namespace pf {

enum class Zone : uint8_t { Dma = 0, Dma32 = 1, Normal = 2 };
inline constexpr unsigned kZoneCount = 3;
inline constexpr uint64_t kDmaLimit = 16 * MiB;
inline constexpr uint64_t kDma32Limit = 4 * GiB;
const char* zone_name(Zone z);

struct PageAllocatorConfig {
  uintptr_t direct_map_offset = 0;  // phys + offset is the frame's virtual address
  unsigned cpu_count = 1;           // 1..kMaxCpus
};

// Where alloc_contig may look.
struct ContigRequest {
  uint64_t align = kPageSize;  // bytes, power of two >= 4096
  uint64_t boundary = 0;       // bytes, power of two; the range may not cross a multiple
  uint64_t max_addr = 0;       // the range must end at or below this (0: no limit)
  gfp_t flags = GFP_KERNEL;    // zone limit and __GFP_ZERO apply as for alloc_pages
};

struct PageCounters {
  uint64_t managed_frames = 0;
  uint64_t free_frames = 0;      // buddy + per-CPU caches
  uint64_t cached_frames = 0;    // the part of free_frames sitting in per-CPU caches
  uint64_t reserved_frames = 0;
};

class PageAllocator {
 public:
  PageAllocator() = default;
  PageAllocator(const PageAllocator&) = delete;
  PageAllocator& operator=(const PageAllocator&) = delete;

  // `map` must be normalised. Places the descriptor arrays with bootmem inside
  // usable memory, marks them Reserved, frees the rest. Returns a pf_status.
  int init(const MemoryMap& map, const PageAllocatorConfig& config);
  bool initialised() const;

  // 2^order frames, naturally aligned; PhysAddr{} (null) when none is free.
  PhysAddr alloc_pages(Order order, gfp_t flags);
  // Misuse (double free, wrong order, tail frame, reserved or foreign frame,
  // misalignment) is reported by name and the call is refused.
  void free_pages(PhysAddr phys, Order order);

  PhysAddr alloc_contig(uint64_t frame_count, const ContigRequest& request);
  void free_contig(PhysAddr phys, uint64_t frame_count);

  void drain_cpu_caches();              // every CPU
  void drain_cpu_cache(unsigned cpu);   // one CPU

  PageCounters counters() const;
  PageCounters zone_counters(Zone z) const;
  uint64_t free_blocks(Zone z, Order o) const;  // buddy lists only, not per-CPU caches
  // Largest order with a free block in any zone; -1 if none.
  int largest_free_order() const;

  // Linux's /proc/buddyinfo layout: "Node 0, zone      DMA      1      0 ...".
  void format_buddyinfo(TextBuffer& out) const;
  // Zones with their ranges and counters, for the boot report.
  void format_zones(TextBuffer& out) const;

  // Full walk of every structure; reports VerifyFailed with the first
  // violation and returns false. Drains nothing, changes nothing.
  bool verify() const;

  // For the layers above.
  FrameDescriptor* descriptor(Pfn pfn);             // nullptr if not managed
  const FrameDescriptor* descriptor(Pfn pfn) const;
  const PhysMap& phys_map() const { return phys_; }
  template <typename T = std::byte>
  T* to_virt(PhysAddr p) const { return phys_.to_virt<T>(p); }
  PhysAddr to_phys(const void* v) const { return phys_.to_phys(v); }
  static constexpr size_t descriptor_bytes_per_frame() { return sizeof(FrameDescriptor); }

 private:
  PhysMap phys_;
  // --- the buddy's own state below (zones, ranges, per-CPU caches) ---
};

}  // namespace pf
