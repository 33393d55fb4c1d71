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
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return false;
  base_ = p;
  size_ = size;
  low_ = low;
  high_ = high;
  offset_ = reinterpret_cast<uintptr_t>(p) - low.value;
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
