// fixture.cpp — memory maps for the workloads and BenchMachine. See fixture.hpp.
#include "fixture.hpp"

#include <cstdio>

namespace pf::bench {

std::vector<Region> one_range_map(uint64_t usable_bytes) {
  return {Region{.base = 1 * MiB, .length = usable_bytes, .type = RegionType::Usable}};
}

std::vector<Region> e820_map(uint64_t usable_bytes) {
  std::vector<Region> out;
  auto add = [&](uint64_t base, uint64_t length, RegionType type) {
    out.push_back(Region{.base = base, .length = length, .type = type});
  };
  // Below 1 MiB: what every PC reports (never managed: low_reserved_end).
  add(0, 0x9f000, RegionType::Usable);
  add(0x9f000, 0x1000, RegionType::Reserved);
  add(0xe0000, 0x20000, RegionType::Reserved);

  uint64_t left = usable_bytes;
  // Usable RAM from 1 MiB to at most 3 GiB - 1 MiB, ACPI tables above it.
  const uint64_t low_top = 3 * GiB - 1 * MiB;
  uint64_t low = left < low_top - 1 * MiB ? left : low_top - 1 * MiB;
  add(1 * MiB, low, RegionType::Usable);
  left -= low;
  add(1 * MiB + low, 512 * KiB, RegionType::AcpiReclaimable);
  add(1 * MiB + low + 512 * KiB, 512 * KiB, RegionType::AcpiNvs);
  if (left == 0) return out;
  // The PCI hole [3 GiB, 4 GiB): reserved ranges inside it, as firmware shows.
  add(0xfec00000, 0x1000, RegionType::Reserved);
  add(0xfee00000, 0x1000, RegionType::Reserved);
  add(0xffe00000, 0x200000, RegionType::Reserved);
  // Above 4 GiB: 8 GiB stretches separated by 16 MiB reserved ranges.
  uint64_t base = 4 * GiB;
  while (left > 0) {
    uint64_t chunk = left < 8 * GiB ? left : 8 * GiB;
    add(base, chunk, RegionType::Usable);
    left -= chunk;
    base += chunk;
    if (left > 0) {
      add(base, 16 * MiB, RegionType::Reserved);
      base += 16 * MiB;
    }
  }
  return out;
}

std::unique_ptr<BenchMachine> BenchMachine::create(std::span<const Region> regions,
                                                   bool init_allocator, std::string* why) {
  std::unique_ptr<BenchMachine> m(new BenchMachine());
  m->map_ = std::make_unique<MemoryMap>();
  for (const Region& r : regions) m->map_->add(r);
  if (!m->map_->normalise()) {
    *why = "the memory map did not normalise";
    return nullptr;
  }
  PhysAddr low{~uint64_t{0}}, high{0};
  for (const MapEntry& e : m->map_->entries()) {
    if (e.type != RegionType::Usable && e.type != RegionType::BootloaderReclaimable) continue;
    if (e.base < low) low = e.base;
    if (e.end > high) high = e.end;
  }
  if (!(low < high)) {
    *why = "the memory map has no usable memory";
    return nullptr;
  }
  if (!m->memory_.reserve(low, high)) {
    *why = "could not reserve a hosted window";
    return nullptr;
  }
  m->pages_ = std::make_unique<PageAllocator>();
  if (init_allocator) {
    int status = m->pages_->init(*m->map_, m->config());
    if (status != PF_OK) {
      *why = "PageAllocator::init returned " + std::to_string(status);
      return nullptr;
    }
  }
  return m;
}

bool BenchMachine::check_as_found(uint64_t free_before, std::string* why) const {
  if (!pages_->verify()) {
    *why = "verify() failed after the workload";
    return false;
  }
  uint64_t now = pages_->counters().free_frames;
  if (now != free_before) {
    *why = "free frames " + std::to_string(now) + " after the workload, " +
           std::to_string(free_before) + " before";
    return false;
  }
  return true;
}

}  // namespace pf::bench
