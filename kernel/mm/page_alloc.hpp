// page_alloc.hpp — the page-frame allocator: zones, per-order free lists
// (the buddy), per-CPU page caches in front of them, contiguous allocation.
//
// PUBLIC SURFACE: fixed; the slab layer, the C API, the kernel and the tests
// are written against it (additions only). Private members are the buddy's own.
//
// Structure. Every managed span of the map (region_is_managed: Usable and the
// two reclaimable classes, reserved until released) is cut at
// the zone limits (16 MiB, 4 GiB) into managed ranges; a range lies in exactly
// one zone, has its own descriptor array (placed by bootmem) and its own
// per-order free lists, linked through FrameDescriptor::link_next/link_prev
// as frame indices within the range. Blocks never span ranges: a buddy
// outside the range never merges. A zone is the run of ranges between its
// limits (ranges are sorted by address, so a zone's ranges are contiguous in
// the table). In front of each zone, every CPU has a page cache (pcp) per
// order 0..kPcpOrders-1: an array stack of blocks in state Cached.
//
// Lock order: per-CPU cache lock -> zone lock. Only verify() and the drain
// of every CPU hold more than one per-CPU lock, taking them in CPU order (and
// verify() then every zone lock in zone order). No lock is held while calling
// out, except the log/fatal hooks from report().
//
// Counter invariants (verify()):
//   free_frames + allocated_frames == managed_frames            (per zone and in total)
//   free_frames == sum over free blocks of 2^order + frames in per-CPU caches
//   reserved_frames == frames in managed ranges whose state is Reserved
//   managed_frames + reserved_frames == frames in managed ranges
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "bootmem.hpp"
#include "error.hpp"
#include "frame.hpp"
#include "memmap.hpp"
#include "pfalloc.h"
#include "platform.hpp"
#include "spinlock.hpp"
#include "text.hpp"
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

struct PageAllocatorConfig {
  uintptr_t direct_map_offset = 0;  // phys + offset is the frame's virtual address
  unsigned cpu_count = 1;           // 1..kMaxCpus
  // Bootmem places descriptors and per-CPU caches below this physical
  // address (0: anywhere). A kernel whose early direct map covers only the
  // low 4 GiB passes 4 GiB here.
  uint64_t bootmem_limit = 0;
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
  bool operator==(const PageCounters&) const = default;
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
  // `caller` names the code to blame in reports; by default, whoever called this.
  PhysAddr alloc_pages(Order order, gfp_t flags, const void* caller = nullptr);
  // Misuse (double free, wrong order, tail frame, reserved or foreign frame,
  // misalignment) is reported by name and the call is refused.
  void free_pages(PhysAddr phys, Order order, const void* caller = nullptr);

  PhysAddr alloc_contig(uint64_t frame_count, const ContigRequest& request);
  void free_contig(PhysAddr phys, uint64_t frame_count, const void* caller = nullptr);

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

  // ---- additions -----------------------------------------------------------

  // Frees the BootloaderReclaimable frames of [base, base + frames) to the
  // buddy (merging as usual) and returns how many were released. Frames that
  // are not reclaimable-reserved (free, allocated, bootmem's own, unmanaged)
  // are reported once per call (InvalidArgument) and left alone.
  uint64_t release_reserved(PhysAddr base, uint64_t frames);
  // Frees every frame still reserved as `type` (BootloaderReclaimable or
  // AcpiReclaimable: the kernel is done with that class) and returns how many.
  // What was already released is not there any more, so a second call
  // returns 0. Any other type is misuse: reported (InvalidArgument), 0.
  // Scans every managed frame, a chunk at a time under its zone lock.
  uint64_t release_reserved(RegionType type);
  // Frames now Reserved for `reason` (kReservedByBootmem, ...; frame.hpp).
  // A walk over every managed frame: for reports, not fast paths.
  uint64_t reserved_frames(uint32_t reason) const;

  // Fault injection for tests: the nth page allocation from now (alloc_pages
  // or alloc_contig; n >= 1), and every later one, returns null until
  // set_fail_after(0) resets it. Costs one predictable branch when unused.
  void set_fail_after(uint64_t n);
  // Page allocations counted since the last set_fail_after(n != 0).
  uint64_t fail_after_calls() const { return fail_calls_.load(std::memory_order_relaxed); }

  unsigned cpu_count() const { return cpu_count_; }
  // Frames sitting in CPU `cpu`'s page caches (all zones and orders), read
  // without its lock: a snapshot for reports (0 for cpu >= cpu_count()).
  uint64_t cpu_cached_frames(unsigned cpu) const;

  // The managed ranges, in address order (for reports and tests).
  struct RangeInfo {
    PhysAddr base, end;
    Zone zone = Zone::Dma;
    PhysAddr descriptors;      // where bootmem put this range's descriptor array
    uint64_t descriptor_bytes = 0;
  };
  size_t range_count() const { return range_count_; }
  RangeInfo range_info(size_t i) const;
  // Bytes of descriptor arrays (whole frames) and of everything bootmem placed.
  uint64_t descriptor_bytes() const { return descriptor_bytes_; }
  uint64_t bootmem_bytes() const { return bootmem_.taken_frames() << kPageShift; }

  // Per-CPU cache sizing, per order: blocks moved per refill/drain, and the
  // high-water mark at which a free drains one batch back to the zone.
  static constexpr unsigned kPcpOrders = 4;
  static constexpr uint32_t kPcpBatch[kPcpOrders] = {32, 16, 8, 4};
  static constexpr uint32_t kPcpHigh[kPcpOrders] = {128, 64, 32, 16};

 private:
  // Enough for every map pf_init's MemoryMap accepts (issue 11, case 7). A
  // run of managed frames starts where a usable region opens or another
  // region, a reservation or the low range ends: at most kRawCapacity +
  // kReservedCapacity + 1 runs. The zone limits cut kZoneCount - 1 more,
  // the chunk cuts (kRangeChunkShift) one per 8 TiB below 2^kPhysAddrBits.
  static constexpr size_t kMaxRanges =
      MemoryMap::kRawCapacity + MemoryMap::kReservedCapacity + 1 + (kZoneCount - 1) +
      ((size_t{1} << (kPhysAddrBits - kPageShift - kRangeChunkShift)) - 1);
  static_assert(BootMem::kMaxTaken >= kMaxRanges + 1, "bootmem must place every range's descriptors");
  // A contiguous allocation's pieces carry this in `owner` (see alloc_contig).
  static constexpr uint32_t kOwnerContig = 0xc0471600u;

  struct Range {
    uint64_t base = 0;   // first frame
    uint64_t end = 0;    // one past the last frame; end - base < kNoLink
    FrameDescriptor* desc = nullptr;
    uint32_t head[kOrderCount] = {};  // free list heads (indices), kNoLink if empty
    uint32_t nonempty = 0;            // bit k <=> head[k] != kNoLink
    Zone zone = Zone::Dma;
  };

  struct ZoneState {
    mutable SpinLock lock;
    uint32_t first_range = 0, end_range = 0;  // ranges_[first_range, end_range)
    uint32_t nonempty = 0;                    // bit k <=> blocks[k] != 0
    // Written under `lock`; atomics only so counters() can read them unlocked.
    std::atomic<uint64_t> managed{0}, reserved{0}, free_buddy{0};
    std::atomic<uint64_t> blocks[kOrderCount] = {};
  };

  struct PcpSlot {
    uint64_t pfn;
    FrameDescriptor* desc;
  };
  struct PcpStack {
    PcpSlot* slots = nullptr;          // kPcpHigh[order] slots; nullptr if the zone is empty
    std::atomic<uint32_t> count{0};    // written under the CPU's lock
  };
  struct alignas(64) CpuCache {
    mutable SpinLock lock;
    PcpStack stacks[kZoneCount][kPcpOrders];
  };

  struct Placement {  // a block found in the buddy
    Range* range;
    uint64_t pfn;
  };

  // --- init (page_alloc.cpp)
  int build_ranges(const MemoryMap& map);
  int place_metadata(const MemoryMap& map, const PageAllocatorConfig& config);
  void populate(const MemoryMap& map);
  void mark_reserved(Range& r, uint64_t from, uint64_t to, uint32_t why);
  void free_span_at_init(Range& r, uint64_t from, uint64_t to);
  // Reserved frames [from, to) of r become free blocks (merging); zone lock held.
  uint64_t release_run(Range& r, uint64_t from, uint64_t to);

  // --- lookup
  // Binary search over the packed range ends: O(log ranges), a few compares
  // on one or two cache lines for any realistic map. Inline: every free
  // starts here.
  Range* find_range(uint64_t pfn) const {
    uint32_t lo = 0, hi = range_count_;
    while (lo < hi) {
      const uint32_t mid = (lo + hi) / 2;
      if (range_end_[mid] <= pfn)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo == range_count_) return nullptr;
    Range* r = const_cast<Range*>(&ranges_[lo]);
    return pfn >= r->base ? r : nullptr;
  }
  unsigned this_cpu() const { return cpu_slot_[platform::cpu_id() & (kMaxCpus - 1)]; }
  ZoneState& zone_of(const Range& r) { return zones_[static_cast<unsigned>(r.zone)]; }

  // --- the buddy proper; the zone's lock is held
  void list_push(Range& r, uint64_t pfn, unsigned order);
  void list_remove(Range& r, uint64_t pfn, unsigned order);
  Placement take_block(Zone z, unsigned order, FrameState as);
  void give_block(Range& r, uint64_t pfn, unsigned order);  // merges

  // --- per-CPU caches (page_pcp.cpp)
  PhysAddr alloc_cached(Zone z, unsigned order);
  void free_cached(Range& r, uint64_t pfn, FrameDescriptor& d, unsigned order);
  uint32_t refill(PcpStack& s, Zone z, unsigned order);
  void drain_stack(PcpStack& s, Zone z, unsigned order, uint32_t keep);
  void drain_locked(CpuCache& c);

  // --- slow paths (page_alloc.cpp); the fast paths are in page_pcp.cpp
  PhysAddr alloc_slow(Order order, gfp_t flags, const void* caller);
  void free_slow(Range* r, PhysAddr phys, Order order, const void* caller);
  PhysAddr alloc_uncached(Zone z, unsigned order);
  PhysAddr alloc_in_zones(unsigned order, gfp_t flags, bool use_cache);
  bool fail_injected();
  void report_bad_free(ErrorCode code, const char* detail, uint64_t phys, uint64_t pfn,
                       const void* caller) const;
  void diagnose_bad_free(Range* r, PhysAddr phys, Order order, const void* caller) const;
  bool find_contig(Zone z, uint64_t frames, uint64_t align, uint64_t boundary,
                   uint64_t end_limit, uint64_t& out);
  void carve_contig(Range& r, uint64_t run_start, uint64_t start, uint64_t frames);
  struct VerifyTally;  // page_verify.cpp
  bool verify_locked() const;
  bool verify_lists(const Range& r, VerifyTally& t) const;
  bool verify_descriptors(const Range& r, VerifyTally& t) const;
  bool verify_caches(VerifyTally& t) const;
  bool verify_fail(const char* what, uint64_t pfn) const;

  PhysMap phys_;
  // --- the buddy's own state below (zones, ranges, per-CPU caches) ---
  Range ranges_[kMaxRanges];
  uint64_t range_end_[kMaxRanges] = {};  // ranges_[i].end, packed for the lookup
  uint32_t range_count_ = 0;
  ZoneState zones_[kZoneCount];
  // Zones tried for a request limited to zone z: z, then lower, without empty ones.
  uint8_t fallback_[kZoneCount][kZoneCount] = {};
  uint8_t fallback_count_[kZoneCount] = {};
  // 1 + the zone whose per-CPU cache alloc_pages tries first, by the zone
  // bits of the flags (__GFP_DMA | __GFP_DMA32 | __GFP_THISZONE); 0: none.
  static constexpr gfp_t kZoneFlags = __GFP_DMA | __GFP_DMA32 | __GFP_THISZONE;
  uint8_t first_zone_[kZoneFlags + 1] = {};
  CpuCache* cpus_ = nullptr;  // cpu_count_ entries, placed by bootmem
  unsigned cpu_count_ = 0;
  uint8_t cpu_slot_[kMaxCpus] = {};  // platform CPU id -> cache index (no division)
  uint64_t descriptor_bytes_ = 0;
  std::atomic<uint64_t> fail_at_{0};
  std::atomic<uint64_t> fail_calls_{0};
  bool initialised_ = false;
  BootMem bootmem_;
};

}  // namespace pf
