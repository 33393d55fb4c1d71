// fixture.hpp — pfalloc set up for a benchmark: a firmware-like memory map,
// one hosted MAP_NORESERVE window of "physical memory" over it, and the
// allocator on top. It mirrors tests/unit/machine.hpp without GoogleTest.
//
// Owns, in construction order: the MemoryMap, the HostedMemory window, the
// PageAllocator (its descriptors live inside the window, so the window must
// outlive it: members are destroyed in reverse order).
// Invariant when create() succeeds: map().normalised(), memory() spans
// every managed entry, pages().initialised() (unless built without it).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/memmap.hpp"
#include "kernel/mm/page_alloc.hpp"

namespace pf::bench {

// Every benchmark thread pins itself to a slot below this (hosted CPU slots
// are otherwise handed out round-robin as threads first call in).
inline constexpr unsigned kBenchCpus = 2;

// One usable range [1 MiB, 1 MiB + bytes).
std::vector<Region> one_range_map(uint64_t usable_bytes);
// What a PC's firmware reports: low memory up to 640 KiB, the legacy hole,
// usable RAM up to 3 GiB with ACPI tables at its top, the PCI hole, and above
// 4 GiB usable RAM broken every 8 GiB by a small reserved range. Usable
// bytes add up to about `usable_bytes`.
std::vector<Region> e820_map(uint64_t usable_bytes);

class BenchMachine {
 public:
  // Builds the map and the window; initialises the page allocator unless
  // `init_allocator` is false (the init benchmark does that itself). Null
  // with `why` filled on failure.
  static std::unique_ptr<BenchMachine> create(std::span<const Region> regions,
                                              bool init_allocator, std::string* why);
  static std::unique_ptr<BenchMachine> with_ram(uint64_t bytes, std::string* why) {
    auto map = one_range_map(bytes);
    return create(map, true, why);
  }

  PageAllocator& pages() { return *pages_; }
  const MemoryMap& map() const { return *map_; }
  hosted::HostedMemory& memory() { return memory_; }
  PageAllocatorConfig config() const {
    return {.direct_map_offset = memory_.direct_map_offset(), .cpu_count = kBenchCpus};
  }
  uint64_t free_frames() const { return pages_->counters().free_frames; }

  // After a workload: the allocator verifies clean and holds `free_before`
  // free frames again. False with `why` filled otherwise.
  bool check_as_found(uint64_t free_before, std::string* why) const;

 private:
  BenchMachine() = default;
  std::unique_ptr<MemoryMap> map_;  // ~30 KiB: kept off the stack
  hosted::HostedMemory memory_;
  std::unique_ptr<PageAllocator> pages_;
};

}  // namespace pf::bench
