// bootmem.hpp — the early bump allocator that runs before the buddy exists.
// It hands out whole frames from the Usable entries of a normalised memory
// map (BootloaderReclaimable memory is still in use by the boot loader, so
// it is never used here) and remembers every span it gave, so that init can
// mark those frames Reserved.
//
// Owns: the list of spans taken, sorted by base, at most kMaxTaken.
// Invariants:
//   taken spans are disjoint, sorted, inside Usable entries, below limit;
//   frame 0 is never taken (0 is the null physical address).
// Placement policy (alloc): inside the caller's preferred span if it is not
//   DMA memory; else Normal, then DMA32, then DMA memory (low memory is kept
//   for devices that need it); within one class, the lowest address.
// No locks: it runs once, single-threaded, during PageAllocator::init.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "memmap.hpp"
#include "types.hpp"

namespace pf {

class BootMem {
 public:
  struct Span {
    uint64_t base = 0;    // first frame
    uint64_t frames = 0;
    constexpr uint64_t end() const { return base + frames; }
  };
  // One span per range's descriptor array plus the per-CPU caches: at least
  // PageAllocator's range capacity + 1 (static_assert in page_alloc.hpp).
  static constexpr size_t kMaxTaken = 1024;

  // Starts over on `map` (normalised), placing only below `limit` bytes
  // (0: anywhere).
  void reset(const MemoryMap& map, uint64_t limit);

  // `frames` contiguous frames; `prefer` (a span of frames, may be empty) is
  // tried first. Returns the first frame, or 0 when nothing fits.
  uint64_t alloc(uint64_t frames, Span prefer);

  std::span<const Span> taken() const { return {taken_, taken_count_}; }
  uint64_t taken_frames() const;

 private:
  // Lowest start >= lo where `frames` fit in [lo, hi) between taken spans; 0 if none.
  uint64_t first_fit(uint64_t lo, uint64_t hi, uint64_t frames) const;
  void record(uint64_t base, uint64_t frames);

  const MemoryMap* map_ = nullptr;
  uint64_t limit_pfn_ = 0;
  Span taken_[kMaxTaken];
  size_t taken_count_ = 0;
};

}  // namespace pf
