// machine.hpp — a fake machine for the host suites: a normalised memory map,
// one hosted window of "physical memory" over it, and a PageAllocator on top.
//
// Owns: the MemoryMap, the HostedMemory window and the PageAllocator, in
// that order (the allocator's descriptors live inside the window, so the
// window must outlive it; members are destroyed in reverse order).
// Invariant after a successful construction (ok() == true):
//   map().normalised(); memory() spans every managed entry (Usable and the
//   reclaimable classes: region_is_managed); pages().initialised(); the allocator reaches
//   frames through memory().direct_map_offset().
// Construction failures are reported as gtest failures naming the step
// (they never throw or abort), and ok() turns false.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>

#include "hosted/hosted.hpp"
#include "kernel/mm/memmap.hpp"
#include "kernel/mm/page_alloc.hpp"

namespace pf::test {

class Machine {
 public:
  explicit Machine(std::initializer_list<Region> regions,
                   PageAllocatorConfig config = {.cpu_count = 4},
                   MemmapOptions options = {})
      : Machine(std::span<const Region>(regions.begin(), regions.size()), {}, config, options) {}

  // The general form: firmware regions plus extra reserved ranges (kernel
  // image, boot info, ...), each recorded with its own type.
  Machine(std::span<const Region> regions, std::span<const Region> reserved,
          PageAllocatorConfig config = {.cpu_count = 4}, MemmapOptions options = {})
      : map_(std::make_unique<MemoryMap>(options)) {
    build(regions, reserved, config);
  }

  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // One usable range [1 MiB, 1 MiB + bytes).
  static std::unique_ptr<Machine> with_ram(uint64_t bytes, unsigned cpus = 4) {
    return std::make_unique<Machine>(
        std::initializer_list<Region>{{.base = 1 * MiB, .length = bytes, .type = RegionType::Usable}},
        PageAllocatorConfig{.cpu_count = cpus});
  }

  PageAllocator& pages() { return *pages_; }
  const PageAllocator& pages() const { return *pages_; }
  MemoryMap& map() { return *map_; }
  hosted::HostedMemory& memory() { return memory_; }
  uint64_t free_frames() const { return pages_->counters().free_frames; }
  bool ok() const { return ok_; }
  int init_status() const { return init_status_; }

 private:
  void build(std::span<const Region> regions, std::span<const Region> reserved,
             PageAllocatorConfig config) {
    for (const Region& r : regions) map_->add(r);
    for (const Region& r : reserved) map_->reserve(r.base, r.length, r.type);
    if (!map_->normalise()) {
      ADD_FAILURE() << "Machine: the memory map did not normalise (capacity exceeded?)";
      return;
    }
    // The window spans every entry the allocator manages, not only Usable:
    // reclaimable frames become ordinary free frames once released.
    PhysAddr low{~uint64_t{0}}, high{0};
    for (const MapEntry& e : map_->entries()) {
      if (!region_is_managed(e.type)) continue;
      if (e.base < low) low = e.base;
      if (e.end > high) high = e.end;
    }
    if (!(low < high)) {
      ADD_FAILURE() << "Machine: the memory map has no usable memory";
      return;
    }
    if (!memory_.reserve(low, high)) {
      ADD_FAILURE() << "Machine: could not reserve a hosted window for [0x" << std::hex
                    << low.value << ", 0x" << high.value << ")";
      return;
    }
    config.direct_map_offset = memory_.direct_map_offset();
    init_status_ = pages_->init(*map_, config);
    if (init_status_ != PF_OK) {
      ADD_FAILURE() << "Machine: PageAllocator::init returned " << init_status_;
      return;
    }
    ok_ = true;
  }

  std::unique_ptr<MemoryMap> map_;  // ~30 KiB: kept off the stack
  hosted::HostedMemory memory_;
  std::unique_ptr<PageAllocator> pages_ = std::make_unique<PageAllocator>();
  int init_status_ = PF_ERR_BAD_CONFIG;
  bool ok_ = false;
};

}  // namespace pf::test
