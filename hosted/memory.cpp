// memory.cpp — HostedMemory: one anonymous MAP_NORESERVE window standing in
// for physical memory. See hosted.hpp.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "hosted.hpp"

namespace pf::hosted {

HostedMemory::~HostedMemory() {
  if (base_ != nullptr) munmap(base_, size_);
}

bool HostedMemory::reserve(PhysAddr low, PhysAddr high) {
  if (base_ != nullptr || !(low < high)) return false;
  low = low.align_down(kPageSize);
  high = high.align_up(kPageSize);
  size_t size = high - low;
  // The offset is a multiple of the largest block, so a block's physical
  // alignment (natural, up to 4 MiB) is its virtual alignment too, as in a
  // kernel's direct map; kmalloc_aligned above a page relies on it. mmap
  // promises only a page: map the slack as well and give back what lies
  // outside the aligned window (untouched and NORESERVE, it costs nothing).
  constexpr size_t kAlign = size_t{kPageSize} << kMaxOrder;
  const size_t slack = kAlign - kPageSize;
  void* p = mmap(nullptr, size + slack, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  const uintptr_t got = reinterpret_cast<uintptr_t>(p);
  // The first address whose distance from `low` is a multiple of kAlign.
  const uintptr_t start = got + ((low.value - got) & (kAlign - 1));
  if (start > got) munmap(p, start - got);
  if (got + size + slack > start + size) munmap(reinterpret_cast<void*>(start + size), got + size + slack - (start + size));
  base_ = reinterpret_cast<void*>(start);
  size_ = size;
  low_ = low;
  high_ = high;
  offset_ = start - low.value;
  return true;
}

bool HostedMemory::reserve_for(const MemoryMap& map) {
  PhysAddr low{~uint64_t{0}}, high{0};
  for (const MapEntry& e : map.entries()) {
    if (e.type != RegionType::Usable) continue;
    if (e.base < low) low = e.base;
    if (e.end > high) high = e.end;
  }
  return high > low && reserve(low, high);
}

uint64_t HostedMemory::resident_bytes() const {
  if (base_ == nullptr) return 0;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t chunk_pages = size_t{1} << 20;
  std::vector<unsigned char> vec(chunk_pages);
  uint64_t resident = 0;
  for (size_t off = 0; off < size_; off += chunk_pages * page) {
    size_t len = size_ - off < chunk_pages * page ? size_ - off : chunk_pages * page;
    if (mincore(static_cast<char*>(base_) + off, len, vec.data()) != 0) return ~uint64_t{0};
    for (size_t i = 0; i < (len + page - 1) / page; ++i) resident += (vec[i] & 1) ? page : 0;
  }
  return resident;
}

size_t mapping_count() {
  FILE* f = std::fopen("/proc/self/maps", "r");
  if (f == nullptr) return 0;
  size_t lines = 0;
  for (int c; (c = std::fgetc(f)) != EOF;) lines += (c == '\n');
  std::fclose(f);
  return lines;
}

}  // namespace pf::hosted
