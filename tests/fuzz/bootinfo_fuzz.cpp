// bootinfo_fuzz.cpp — libFuzzer target: the boot-protocol readers on
// arbitrary bytes. The property is the one a kernel needs from code that runs
// before anything can catch a fault: a malformed structure is refused with a
// reason, and no reader ever touches a byte outside the buffer it was given.
//
// Input: u8 selector, then the buffer. Each buffer is copied into a heap
// block of exactly its size, so AddressSanitizer flags any read past it.
//   selector % 5 == 0  parse_multiboot2 on the buffer as the whole info
//                      structure (total_size is forced to the buffer's
//                      length, as a loader guarantees it; modules are only
//                      reserved, never read, so their addresses may be
//                      anything)
//   1  add_multiboot1_mmap(buffer, length)
//   2  add_multiboot2_mmap_tag(buffer) with the tag's type forced to 6 and its
//      size to the buffer's length
//   3  add_e820(buffer, length / entry_size, entry_size = 20 + selector/5 % 8)
//   4  add_uefi_memmap(buffer, length, descriptor_size = 36 + selector/5 % 24)
//
// Checked besides memory safety: failures carry a reason; added + rejected
// counts every entry handed to the map; a successful Multiboot2 parse reserves
// the info structure, keeps its strings inside it, lists at most 16 modules,
// and its map normalises.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/boot/adapters.hpp"
#include "kernel/boot/multiboot.hpp"
#include "kernel/mm/memmap.hpp"

namespace {

using pf::MemoryMap;

constexpr uint64_t kInfoPhys = 0x10000;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "bootinfo_fuzz: %s\n", what);
  std::abort();
}

void write32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

void check_adapter(const pf::boot::AdapterResult& r, const MemoryMap& m) {
  if (!r.ok && r.error == nullptr) fail("failure without a reason");
  if (r.added + r.rejected < m.raw().size()) fail("entries recorded but not counted");
}

bool inside(const char* s, const unsigned char* buf, size_t n) {
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  if (p < buf || p >= buf + n) return false;
  return std::memchr(p, 0, static_cast<size_t>(buf + n - p)) != nullptr;
}

void discard_log(const char*, size_t, void*) {}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pf::hosted::set_log_sink(&discard_log, nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const unsigned selector = data[0];
  const size_t n = size - 1;
  // Exactly n bytes (at least 1, so data() is a real block ASan guards).
  std::vector<unsigned char> buf(data + 1, data + size);
  if (buf.empty()) buf.push_back(0);

  alignas(MemoryMap) static unsigned char storage[sizeof(MemoryMap)];
  static_assert(std::is_trivially_destructible_v<MemoryMap>);
  MemoryMap& map = *new (storage) MemoryMap();

  switch (selector % 5) {
    case 0: {
      if (n < 8) return 0;
      // Multiboot2 info is 8-aligned in physical memory; heap blocks are 16-aligned.
      write32(buf.data(), static_cast<uint32_t>(n));
      const pf::PhysMap pm{reinterpret_cast<uintptr_t>(buf.data()) - kInfoPhys};
      pf::boot::BootInfo info;
      const char* error = nullptr;
      const bool ok = pf::boot::parse_multiboot2(kInfoPhys, pm, info, map, &error);
      if (!ok) {
        if (error == nullptr) fail("multiboot2 refused without a reason");
        break;
      }
      if (info.module_count > 16) fail("more than 16 modules listed");
      // Strings are copies in BootInfo's own pool (the info structure is
      // handed back later), NUL-terminated there; "" when absent or cut.
      const auto* pool = reinterpret_cast<const unsigned char*>(info.strings);
      const auto kept = [&](const char* s) {
        return s != nullptr && (s[0] == '\0' || inside(s, pool, sizeof info.strings));
      };
      if (!kept(info.cmdline)) fail("cmdline not a copy in the string pool");
      if (!kept(info.loader_name)) fail("loader name not a copy in the string pool");
      for (size_t i = 0; i < info.module_count; ++i) {
        if (!kept(info.modules[i].cmdline)) fail("module string not a copy in the string pool");
      }
      if (info.strings_used > sizeof info.strings) fail("string pool overrun");
      // The RSDP copy, when the loader passed one, lies inside the info structure.
      if (info.acpi_rsdp != 0 && (info.acpi_rsdp < kInfoPhys || info.acpi_rsdp + 20 > kInfoPhys + n)) {
        fail("RSDP outside the info structure");
      }
      bool info_reserved = false;
      for (const pf::Region& r : map.reserved()) {
        info_reserved |= r.base == kInfoPhys && r.length == n;
      }
      if (!info_reserved) fail("info structure not reserved");
      map.normalise();
      break;
    }
    case 1:
      check_adapter(pf::boot::add_multiboot1_mmap(buf.data(), static_cast<uint32_t>(n), map), map);
      break;
    case 2:
      if (n < 16) return 0;
      write32(buf.data(), 6);  // the tag type; anything else is refused at once
      write32(buf.data() + 4, static_cast<uint32_t>(std::min<size_t>(n, 0xffffffffu)));
      check_adapter(pf::boot::add_multiboot2_mmap_tag(buf.data(), map), map);
      break;
    case 3: {
      const size_t entry_size = 20 + (selector / 5) % 8;
      check_adapter(pf::boot::add_e820(buf.data(), n / entry_size, entry_size, map), map);
      break;
    }
    case 4: {
      const size_t descriptor_size = 36 + (selector / 5) % 24;
      check_adapter(pf::boot::add_uefi_memmap(buf.data(), n, descriptor_size, map), map);
      break;
    }
  }
  return 0;
}
