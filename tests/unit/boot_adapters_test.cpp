// boot_adapters_test.cpp — the boot-protocol adapters and the Multiboot
// info parsers, on byte-exact buffers built by hand with each
// specification's field offsets (Multiboot 0.6.96 section 3.3, Multiboot2 2.0
// section 3.6, ACPI "INT 15H E820H", UEFI 2.x EFI_MEMORY_DESCRIPTOR, the
// Limine protocol's memmap request).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernel/boot/adapters.hpp"
#include "kernel/boot/multiboot.hpp"
#include "kernel/mm/memmap.hpp"
#include "tests/unit/support.hpp"

namespace pf::boot {
namespace {

using namespace test::region_letters;

// A little-endian byte buffer written field by field.
struct Bytes {
  std::vector<unsigned char> b;
  Bytes& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Bytes& u16(uint16_t v) { return u8(v & 0xff).u8(v >> 8); }
  Bytes& u32(uint32_t v) { return u16(v & 0xffff).u16(v >> 16); }
  Bytes& u64(uint64_t v) {
    return u32(static_cast<uint32_t>(v)).u32(static_cast<uint32_t>(v >> 32));
  }
  Bytes& str(const char* s) {
    for (; *s; ++s) u8(static_cast<uint8_t>(*s));
    return u8(0);
  }
  Bytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  Bytes& align(size_t a) { return zeros((a - b.size() % a) % a); }
  void set32(size_t off, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[off + i] = static_cast<unsigned char>(v >> (8 * i));
  }
  size_t size() const { return b.size(); }
  const unsigned char* data() const { return b.data(); }
};

struct Raw {
  uint64_t base, length;
  RegionType type;
  bool operator==(const Raw&) const = default;
};
std::ostream& operator<<(std::ostream& os, const Raw& r) {
  return os << "{0x" << std::hex << r.base << ", 0x" << r.length << ", " << region_type_name(r.type)
            << "}";
}
std::vector<Raw> raw_of(const MemoryMap& m) {
  std::vector<Raw> v;
  for (const Region& r : m.raw()) v.push_back({r.base, r.length, r.type});
  return v;
}
std::vector<Raw> reserved_of(const MemoryMap& m) {
  std::vector<Raw> v;
  for (const Region& r : m.reserved()) v.push_back({r.base, r.length, r.type});
  return v;
}

// One E820-style entry as Multiboot1/2 and the BIOS lay it out: base, length, type.
Bytes& e820_entry(Bytes& b, uint64_t base, uint64_t length, uint32_t type) {
  return b.u64(base).u64(length).u32(type);
}

// ---- Multiboot1 mmap --------------------------------------------------------

TEST(BootAdapters, Multiboot1MmapEntriesWithLeadingSize) {
  Bytes b;
  e820_entry(b.u32(20), 0x0, 0x9fc00, 1);
  e820_entry(b.u32(20), 0x9fc00, 0x400, 2);
  // A loader may report a larger entry; the extra bytes are skipped by `size`.
  e820_entry(b.u32(24), 0x100000, 0x7ee0000, 1).u32(0xdeadbeef);
  e820_entry(b.u32(20), 0x7fe0000, 0x10000, 3);
  e820_entry(b.u32(20), 0x7ff0000, 0x10000, 4);
  e820_entry(b.u32(20), 0x8000000, 0x1000, 5);
  e820_entry(b.u32(20), 0xfffc0000, 0x40000, 9);  // unknown: reserved
  ASSERT_EQ(b.size(), 6 * 24u + 28u);

  auto m = std::make_unique<MemoryMap>();
  const AdapterResult r = add_multiboot1_mmap(b.data(), static_cast<uint32_t>(b.size()), *m);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.added, 7u);
  EXPECT_EQ(r.rejected, 0u);
  EXPECT_EQ(raw_of(*m), (std::vector<Raw>{{0x0, 0x9fc00, U},
                                          {0x9fc00, 0x400, R},
                                          {0x100000, 0x7ee0000, U},
                                          {0x7fe0000, 0x10000, A},
                                          {0x7ff0000, 0x10000, N},
                                          {0x8000000, 0x1000, B},
                                          {0xfffc0000, 0x40000, R}}));
}

TEST(BootAdapters, Multiboot1MmapReadsAtAnyAlignment) {
  // The buffer starts one byte into an allocation: no aligned loads assumed.
  Bytes b;
  b.u8(0xee);
  e820_entry(b.u32(20), 0x123456789000, 0x2000, 1);
  auto m = std::make_unique<MemoryMap>();
  const AdapterResult r = add_multiboot1_mmap(b.data() + 1, 24, *m);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(raw_of(*m), (std::vector<Raw>{{0x123456789000, 0x2000, U}}));
}

TEST(BootAdapters, Multiboot1MmapMalformedStopsAtTheBadEntry) {
  {
    Bytes b;
    e820_entry(b.u32(20), 0x100000, 0x100000, 1);
    e820_entry(b.u32(12), 0x200000, 0x100000, 1);  // size below 20
    auto m = std::make_unique<MemoryMap>();
    const AdapterResult r = add_multiboot1_mmap(b.data(), static_cast<uint32_t>(b.size()), *m);
    EXPECT_FALSE(r.ok);
    ASSERT_NE(r.error, nullptr);
    EXPECT_NE(std::string(r.error).find("below 20"), std::string::npos);
    EXPECT_EQ(r.added, 1u);
    EXPECT_EQ(m->raw().size(), 1u);
  }
  {
    Bytes b;
    e820_entry(b.u32(20), 0x100000, 0x100000, 1);
    e820_entry(b.u32(20), 0x200000, 0x100000, 1);
    auto m = std::make_unique<MemoryMap>();
    // mmap_length cuts the second entry short.
    const AdapterResult r = add_multiboot1_mmap(b.data(), 24 + 10, *m);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(std::string(r.error).find("past mmap_length"), std::string::npos);
    EXPECT_EQ(r.added, 1u);
  }
  {
    auto m = std::make_unique<MemoryMap>();
    EXPECT_FALSE(add_multiboot1_mmap(nullptr, 24, *m).ok);
    EXPECT_TRUE(add_multiboot1_mmap(nullptr, 0, *m).ok);
  }
}

// ---- Multiboot2 memory-map tag -----------------------------------------------

Bytes mb2_mmap_tag(uint32_t entry_size, const std::vector<Raw>& entries,
                   const std::vector<uint32_t>& types) {
  Bytes b;
  b.u32(6).u32(0).u32(entry_size).u32(0);  // type, size (patched), entry_size, entry_version
  for (size_t i = 0; i < entries.size(); ++i) {
    e820_entry(b, entries[i].base, entries[i].length, types[i]).u32(0);  // + reserved
    b.zeros(entry_size - 24);
  }
  b.set32(4, static_cast<uint32_t>(b.size()));
  return b;
}

TEST(BootAdapters, Multiboot2MmapTag) {
  for (uint32_t entry_size : {24u, 32u}) {
    SCOPED_TRACE(testing::Message() << "entry_size " << entry_size);
    const Bytes tag = mb2_mmap_tag(entry_size,
                                   {{0x0, 0x9fc00, U},
                                    {0x100000, 0x7ee0000, U},
                                    {0x7fe0000, 0x20000, R},
                                    {0xb0000000, 0x10000000, R},
                                    {0x100000000, 0x40000000, U},
                                    {0x140000000, 0x1000, U}},
                                   {1, 1, 3, 2, 1, 5});
    auto m = std::make_unique<MemoryMap>();
    const AdapterResult r = add_multiboot2_mmap_tag(tag.data(), *m);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.added, 6u);
    EXPECT_EQ(raw_of(*m), (std::vector<Raw>{{0x0, 0x9fc00, U},
                                            {0x100000, 0x7ee0000, U},
                                            {0x7fe0000, 0x20000, A},
                                            {0xb0000000, 0x10000000, R},
                                            {0x100000000, 0x40000000, U},
                                            {0x140000000, 0x1000, B}}));
  }
}

TEST(BootAdapters, Multiboot2MmapTagMalformed) {
  auto m = std::make_unique<MemoryMap>();
  Bytes wrong_type = mb2_mmap_tag(24, {{0x100000, 0x1000, U}}, {1});
  wrong_type.set32(0, 4);
  EXPECT_FALSE(add_multiboot2_mmap_tag(wrong_type.data(), *m).ok);

  Bytes small_entries = mb2_mmap_tag(24, {{0x100000, 0x1000, U}}, {1});
  small_entries.set32(8, 16);
  EXPECT_FALSE(add_multiboot2_mmap_tag(small_entries.data(), *m).ok);
  EXPECT_EQ(m->raw().size(), 0u);

  // A trailing fragment: the whole entries are read, then the tag is refused.
  Bytes ragged = mb2_mmap_tag(24, {{0x100000, 0x1000, U}, {0x200000, 0x1000, U}}, {1, 1});
  ragged.set32(4, 16 + 24 + 10);
  const AdapterResult r = add_multiboot2_mmap_tag(ragged.data(), *m);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(raw_of(*m), (std::vector<Raw>{{0x100000, 0x1000, U}}));
}

// ---- E820 --------------------------------------------------------------------

TEST(BootAdapters, E820TwentyByteEntries) {
  Bytes b;
  e820_entry(b, 0x0, 0x9fc00, 1);
  e820_entry(b, 0x9fc00, 0x400, 2);
  e820_entry(b, 0xf0000, 0x10000, 2);
  e820_entry(b, 0x100000, 0x7ee0000, 1);
  e820_entry(b, 0x7fe0000, 0x20000, 2);
  e820_entry(b, 0xfffc0000, 0x40000, 2);
  ASSERT_EQ(b.size(), 6 * 20u);
  auto m = std::make_unique<MemoryMap>();
  const AdapterResult r = add_e820(b.data(), 6, 20, *m);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.added, 6u);
  // Through normalise: QEMU `pc -m 128M`.
  ASSERT_TRUE(m->normalise());
  std::vector<Raw> got;
  for (const MapEntry& e : m->entries()) got.push_back({e.base.value, e.end - e.base, e.type});
  EXPECT_EQ(got, (std::vector<Raw>{{0x0, 0xa0000, R},
                                   {0xf0000, 0x10000, R},
                                   {0x100000, 0x7ee0000, U},
                                   {0x7fe0000, 0x20000, R},
                                   {0xfffc0000, 0x40000, R}}));
}

TEST(BootAdapters, E820ExtendedAttributesIgnoreBit) {
  Bytes b;
  e820_entry(b, 0x100000, 0x100000, 1).u32(1);  // enabled
  e820_entry(b, 0x200000, 0x100000, 1).u32(0);  // bit 0 clear: ignore this entry
  e820_entry(b, 0x300000, 0x100000, 3).u32(3);  // enabled (+ non-volatile bit)
  e820_entry(b, 0x400000, 0x100000, 4).u32(2);  // bit 0 clear
  e820_entry(b, 0x500000, 0x100000, 7).u32(1);  // persistent memory: reserved
  auto m = std::make_unique<MemoryMap>();
  const AdapterResult r = add_e820(b.data(), 5, 24, *m);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.added, 3u);
  EXPECT_EQ(r.rejected, 2u);
  EXPECT_EQ(raw_of(*m),
            (std::vector<Raw>{
                {0x100000, 0x100000, U}, {0x300000, 0x100000, A}, {0x500000, 0x100000, R}}));
  EXPECT_FALSE(add_e820(b.data(), 5, 16, *m).ok);
  EXPECT_FALSE(add_e820(nullptr, 1, 20, *m).ok);
  EXPECT_TRUE(add_e820(nullptr, 0, 20, *m).ok);
}

TEST(BootAdapters, RejectedAndOverflowingEntriesAreCounted) {
  test::LogCapture log;
  Bytes b;
  e820_entry(b, 0x100000, 0x100000, 1);
  e820_entry(b, 0xfffffffffffff000, 0x2000, 1);  // wraps
  e820_entry(b, 0x10000000000000, 0x1000, 2);    // beyond 52 bits
  e820_entry(b, 0x300000, 0, 1);                 // zero length: skipped, counted as added
  auto m = std::make_unique<MemoryMap>();
  AdapterResult r = add_e820(b.data(), 4, 20, *m);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.added, 2u);
  EXPECT_EQ(r.rejected, 2u);
  EXPECT_EQ(m->rejected_count(), 2u);
  EXPECT_NE(log.text().find("map-entry-wraps"), std::string::npos);

  Bytes many;
  for (uint64_t i = 0; i < MemoryMap::kRawCapacity + 3; ++i)
    e820_entry(many, (i + 1) * MiB, 0x1000, 1);
  auto full = std::make_unique<MemoryMap>();
  r = add_e820(many.data(), MemoryMap::kRawCapacity + 3, 20, *full);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(std::string(r.error).find("capacity"), std::string::npos);
  EXPECT_EQ(r.added, MemoryMap::kRawCapacity);
  EXPECT_EQ(r.rejected, 3u);
  EXPECT_TRUE(full->overflowed());
}

// ---- UEFI --------------------------------------------------------------------

Bytes& efi_descriptor(Bytes& b, size_t descriptor_size, uint32_t type, uint64_t phys,
                      uint64_t pages, uint64_t attribute = 0xf /* UC|WC|WT|WB */) {
  const size_t start = b.size();
  b.u32(type).u32(0).u64(phys).u64(0xffff800000000000 + phys).u64(pages).u64(attribute);
  return b.zeros(descriptor_size - (b.size() - start));
}

TEST(BootAdapters, UefiDescriptorTypesAfterExitBootServices) {
  // One descriptor of every EFI_MEMORY_TYPE 0..15 plus an OEM value, 48 bytes
  // apart as real firmware reports them.
  const RegionType expected[] = {
      R,  // 0  EfiReservedMemoryType
      L,  // 1  EfiLoaderCode
      L,  // 2  EfiLoaderData
      U,  // 3  EfiBootServicesCode
      U,  // 4  EfiBootServicesData
      R,  // 5  EfiRuntimeServicesCode
      R,  // 6  EfiRuntimeServicesData
      U,  // 7  EfiConventionalMemory
      B,  // 8  EfiUnusableMemory
      A,  // 9  EfiACPIReclaimMemory
      N,  // 10 EfiACPIMemoryNVS
      R,  // 11 EfiMemoryMappedIO
      R,  // 12 EfiMemoryMappedIOPortSpace
      R,  // 13 EfiPalCode
      R,  // 14 EfiPersistentMemory
      R,  // 15 EfiUnacceptedMemoryType
      R,  // 0x80000000: OEM
  };
  for (size_t descriptor_size : {48u, 40u}) {
    SCOPED_TRACE(testing::Message() << "descriptor_size " << descriptor_size);
    Bytes b;
    std::vector<Raw> want;
    for (uint32_t t = 0; t < 17; ++t) {
      const uint32_t raw = t < 16 ? t : 0x80000000;
      efi_descriptor(b, descriptor_size, raw, (t + 1) * MiB, t + 1);
      want.push_back({(t + 1) * MiB, (t + 1) * kPageSize, expected[t]});
    }
    auto m = std::make_unique<MemoryMap>();
    const AdapterResult r = add_uefi_memmap(b.data(), b.size(), descriptor_size, *m);
    EXPECT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.added, 17u);
    EXPECT_EQ(raw_of(*m), want);
  }
}

TEST(BootAdapters, UefiSpecialCases) {
  test::LogCapture log;
  Bytes b;
  efi_descriptor(b, 48, 7, 0x100000, 0x100, 0xf | (uint64_t{1} << 18));  // EFI_MEMORY_SP
  efi_descriptor(b, 48, 7, 0x200000, uint64_t{1} << 60);                 // bytes overflow 64 bits
  efi_descriptor(b, 48, 7, 0x300000, 0);                                 // empty
  efi_descriptor(b, 48, 4, 0x400000, 0x10);
  auto m = std::make_unique<MemoryMap>();
  AdapterResult r = add_uefi_memmap(b.data(), b.size(), 48, *m);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.added, 3u);
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(raw_of(*m), (std::vector<Raw>{{0x100000, 0x100000, R}, {0x400000, 0x10000, U}}));

  auto m2 = std::make_unique<MemoryMap>();
  r = add_uefi_memmap(b.data(), b.size() - 8, 48, *m2);  // ragged end: 3 whole + 40 bytes
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.added + r.rejected, 3u) << "whole descriptors before the fragment are read";
  EXPECT_EQ(raw_of(*m2), (std::vector<Raw>{{0x100000, 0x100000, R}}));
  EXPECT_FALSE(add_uefi_memmap(b.data(), b.size(), 32, *m2).ok);
}

// ---- Limine ------------------------------------------------------------------

TEST(BootAdapters, LimineEntries) {
  struct LimineEntry {  // struct limine_memmap_entry
    uint64_t base, length, type;
  };
  const LimineEntry e[] = {
      {0x1000, 0x9e000, 0},   {0x9f000, 0x1000, 1},      {0x100000, 0x10000, 2},
      {0x110000, 0x10000, 3}, {0x120000, 0x1000, 4},     {0x121000, 0xf000, 5},
      {0x200000, 0x80000, 6}, {0xfd000000, 0x300000, 7}, {0x100000000, 0x1000, 42}};
  const void* ptrs[9];
  for (int i = 0; i < 9; ++i) ptrs[i] = &e[i];
  auto m = std::make_unique<MemoryMap>();
  const AdapterResult r = add_limine_memmap(ptrs, 9, *m);
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.added, 9u);
  EXPECT_EQ(raw_of(*m), (std::vector<Raw>{{0x1000, 0x9e000, U},
                                          {0x9f000, 0x1000, R},
                                          {0x100000, 0x10000, A},
                                          {0x110000, 0x10000, N},
                                          {0x120000, 0x1000, B},
                                          {0x121000, 0xf000, L},
                                          {0x200000, 0x80000, K},
                                          {0xfd000000, 0x300000, R},
                                          {0x100000000, 0x1000, R}}));
  ptrs[3] = nullptr;
  auto m2 = std::make_unique<MemoryMap>();
  const AdapterResult bad = add_limine_memmap(ptrs, 9, *m2);
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.added, 3u);
  EXPECT_FALSE(add_limine_memmap(nullptr, 1, *m2).ok);
}

// ---- Multiboot info parsers ----------------------------------------------------

// Fake physical memory [0, size): the loader's structures are written into it
// at chosen physical addresses, and the parser reaches them through PhysMap.
struct FakePhys {
  explicit FakePhys(size_t size) : mem(size, 0) {}
  std::vector<unsigned char> mem;
  PhysMap pm() const { return PhysMap{reinterpret_cast<uintptr_t>(mem.data())}; }
  void write(uint64_t phys, const Bytes& b) { std::memcpy(&mem[phys], b.data(), b.size()); }
  void write(uint64_t phys, const char* s) { std::memcpy(&mem[phys], s, std::strlen(s) + 1); }
};

constexpr uint64_t kInfo = 0x1000, kCmd = 0x2000, kName = 0x2100, kMods = 0x3000, kMmap = 0x4000,
                   kModStr = 0x5000;

Bytes qemu_pc_mb1_mmap() {
  Bytes b;
  e820_entry(b.u32(20), 0x0, 0x9fc00, 1);
  e820_entry(b.u32(20), 0x9fc00, 0x400, 2);
  e820_entry(b.u32(20), 0xf0000, 0x10000, 2);
  e820_entry(b.u32(20), 0x100000, 0x7ee0000, 1);
  e820_entry(b.u32(20), 0x7fe0000, 0x20000, 2);
  e820_entry(b.u32(20), 0xfffc0000, 0x40000, 2);
  return b;
}

// struct multiboot_info, 116 bytes, with the given flags and fields.
Bytes mb1_info(uint32_t flags, uint32_t mods_count, uint32_t mmap_length) {
  Bytes b;
  b.u32(flags).u32(639).u32(130048).u32(0x8000ffff);  // flags, mem_lower, mem_upper, boot_device
  b.u32(kCmd).u32(mods_count).u32(kMods);             // cmdline, mods_count, mods_addr
  b.zeros(16);                                        // syms
  b.u32(mmap_length).u32(kMmap);                      // mmap_length, mmap_addr
  b.u32(0).u32(0).u32(0).u32(kName).u32(0);           // drives, config_table, loader name, apm
  b.zeros(116 - b.size());                            // VBE and framebuffer
  return b;
}

constexpr uint32_t kMb1Mem = 1 << 0, kMb1Cmdline = 1 << 2, kMb1Mods = 1 << 3, kMb1Mmap = 1 << 6,
                   kMb1Name = 1 << 9;

TEST(BootMultiboot1, ParsesCmdlineModulesAndMmapAndReservesThem) {
  FakePhys phys(64 * KiB);
  const Bytes mmap = qemu_pc_mb1_mmap();
  phys.write(kInfo, mb1_info(kMb1Mem | kMb1Cmdline | kMb1Mods | kMb1Mmap | kMb1Name, 2,
                             static_cast<uint32_t>(mmap.size())));
  phys.write(kCmd, "console=ttyS0 pfalloc.debug");
  phys.write(kName, "GRUB 2.06");
  Bytes mods;
  mods.u32(0x200000).u32(0x203456).u32(kModStr).u32(0);
  mods.u32(0x300000).u32(0x300100).u32(kModStr + 0x10).u32(0);
  phys.write(kMods, mods);
  phys.write(kModStr, "initrd");
  phys.write(kModStr + 0x10, "selftest.bin x=1");
  phys.write(kMmap, mmap);

  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot1(kInfo, phys.pm(), info, *m, &error)) << error;
  EXPECT_STREQ(info.protocol, "multiboot1");
  EXPECT_STREQ(info.cmdline, "console=ttyS0 pfalloc.debug");
  EXPECT_STREQ(info.loader_name, "GRUB 2.06");
  EXPECT_TRUE(info.has_mmap);
  ASSERT_EQ(info.module_count, 2u);
  EXPECT_EQ(info.modules[0].start, 0x200000u);
  EXPECT_EQ(info.modules[0].end, 0x203456u);
  EXPECT_STREQ(info.modules[0].cmdline, "initrd");
  EXPECT_EQ(info.modules[1].start, 0x300000u);
  EXPECT_STREQ(info.modules[1].cmdline, "selftest.bin x=1");

  // The mmap, not mem_lower/mem_upper, describes memory.
  EXPECT_EQ(m->raw().size(), 6u);
  // Boot information is bootloader-reclaimable; the modules are the kernel's.
  EXPECT_EQ(reserved_of(*m), (std::vector<Raw>{{kInfo, 88, L},
                                               {kCmd, 28, L},
                                               {kName, 10, L},
                                               {kMods, 32, L},
                                               {0x200000, 0x3456, K},
                                               {kModStr, 7, L},
                                               {0x300000, 0x100, K},
                                               {kModStr + 0x10, 17, L},
                                               {kMmap, 144, L}}));
  EXPECT_EQ(info.info_phys, kInfo);
  EXPECT_EQ(info.info_size, 88u);
  ASSERT_TRUE(m->normalise());
  std::vector<Raw> got;
  for (const MapEntry& e : m->entries()) got.push_back({e.base.value, e.end.value, e.type});
  // The info structures sit in the low MiB, which stays reserved (it outranks
  // bootloader-reclaimable); the modules are carved out of usable memory.
  EXPECT_EQ(got, (std::vector<Raw>{{0x0, 0xa0000, R},
                                   {0xf0000, 0x100000, R},
                                   {0x100000, 0x200000, U},
                                   {0x200000, 0x204000, K},
                                   {0x204000, 0x300000, U},
                                   {0x300000, 0x301000, K},
                                   {0x301000, 0x7fe0000, U},
                                   {0x7fe0000, 0x8000000, R},
                                   {0xfffc0000, 0x100000000, R}}));
}

TEST(BootMultiboot1, FallsBackToMemLowerUpperAndListsAtMostSixteenModules) {
  FakePhys phys(64 * KiB);
  phys.write(kInfo, mb1_info(kMb1Mem | kMb1Mods, 18, 0));
  Bytes mods;
  for (uint32_t i = 0; i < 18; ++i)
    mods.u32(0x400000 + i * 0x10000).u32(0x400000 + i * 0x10000 + 0x800).u32(0).u32(0);
  phys.write(kMods, mods);
  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot1(kInfo, phys.pm(), info, *m, &error)) << error;
  EXPECT_FALSE(info.has_mmap);
  EXPECT_STREQ(info.cmdline, "");
  EXPECT_STREQ(info.loader_name, "");
  EXPECT_EQ(info.module_count, 16u);
  EXPECT_STREQ(info.modules[15].cmdline, "");
  EXPECT_EQ(raw_of(*m), (std::vector<Raw>{{0, 639 * KiB, U}, {1 * MiB, 130048 * KiB, U}}));
  // info + list + all 18 modules, even those past the BootInfo table.
  ASSERT_EQ(m->reserved().size(), 2u + 18u);
  EXPECT_EQ(m->reserved()[19].base, 0x400000u + 17 * 0x10000);
  EXPECT_EQ(m->reserved()[19].length, 0x800u);
}

TEST(BootMultiboot1, RunningOutOfReservedRangesIsAFailureNotASilentLoss) {
  // 40 modules with a string each need 2 + 80 reserved ranges: more than the
  // map holds. A module that could not be reserved would be handed out as
  // free memory, so the parse must fail rather than carry on.
  FakePhys phys(64 * KiB);
  phys.write(kInfo, mb1_info(kMb1Mem | kMb1Mods, 40, 0));
  Bytes mods;
  for (uint32_t i = 0; i < 40; ++i) {
    mods.u32(0x400000 + i * 0x10000).u32(0x400000 + i * 0x10000 + 0x800).u32(kModStr).u32(0);
  }
  phys.write(kMods, mods);
  phys.write(kModStr, "m");
  test::LogCapture log;
  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  EXPECT_FALSE(parse_multiboot1(kInfo, phys.pm(), info, *m, &error));
  ASSERT_NE(error, nullptr);
  EXPECT_NE(std::string(error).find("kReservedCapacity"), std::string::npos) << error;
  EXPECT_EQ(m->reserved().size(), MemoryMap::kReservedCapacity);
}

TEST(BootMultiboot1, MalformedInfoIsRefusedWithAReason) {
  FakePhys phys(256 * KiB);
  BootInfo info;
  const char* error = nullptr;
  auto m = std::make_unique<MemoryMap>();
  EXPECT_FALSE(parse_multiboot1(0, phys.pm(), info, *m, &error));
  EXPECT_NE(std::string(error).find("null"), std::string::npos);

  phys.write(kInfo, mb1_info(kMb1Cmdline, 0, 0));  // no memory information at all
  phys.write(kCmd, "x");
  EXPECT_FALSE(parse_multiboot1(kInfo, phys.pm(), info, *m, &error));
  EXPECT_NE(std::string(error).find("mem_lower"), std::string::npos);

  Bytes bad_mod = mb1_info(kMb1Mem | kMb1Mods, 1, 0);
  phys.write(kInfo, bad_mod);
  Bytes mods;
  mods.u32(0x500000).u32(0x400000).u32(0).u32(0);
  phys.write(kMods, mods);
  EXPECT_FALSE(parse_multiboot1(kInfo, phys.pm(), info, *m, &error));
  EXPECT_NE(std::string(error).find("module ends before"), std::string::npos);

  // A command line with no terminator within 64 KiB.
  phys.write(kInfo, mb1_info(kMb1Mem | kMb1Cmdline, 0, 0));
  std::memset(&phys.mem[kCmd], 'a', 100 * KiB);
  EXPECT_FALSE(parse_multiboot1(kInfo, phys.pm(), info, *m, &error));
  EXPECT_NE(std::string(error).find("unterminated"), std::string::npos);

  // A broken mmap is reported through the adapter's reason.
  phys.write(kInfo, mb1_info(kMb1Mem | kMb1Mmap, 0, 30));
  Bytes mmap;
  e820_entry(mmap.u32(20), 0x100000, 0x100000, 1);
  mmap.u32(100).u16(0);
  phys.write(kMmap, mmap);
  EXPECT_FALSE(parse_multiboot1(kInfo, phys.pm(), info, *m, &error));
  EXPECT_NE(std::string(error).find("multiboot1 mmap"), std::string::npos);
}

// Multiboot2: a fixed header, then 8-aligned tags, ending with type 0.
struct Mb2Builder {
  Bytes b;
  Mb2Builder() { b.u32(0).u32(0); }
  Mb2Builder& string_tag(uint32_t type, const char* s) {
    const size_t start = b.size();
    b.u32(type).u32(0).str(s);
    return close(start);
  }
  Mb2Builder& module(uint32_t start, uint32_t end, const char* s) {
    const size_t at = b.size();
    b.u32(3).u32(0).u32(start).u32(end).str(s);
    return close(at);
  }
  Mb2Builder& meminfo(uint32_t lower, uint32_t upper) {
    const size_t at = b.size();
    b.u32(4).u32(0).u32(lower).u32(upper);
    return close(at);
  }
  Mb2Builder& raw_tag(const Bytes& tag) {
    const size_t at = b.size();
    b.b.insert(b.b.end(), tag.b.begin(), tag.b.end());
    return close(at);
  }
  Mb2Builder& end() {
    b.u32(0).u32(8);
    b.set32(0, static_cast<uint32_t>(b.size()));
    return *this;
  }
  Mb2Builder& close(size_t start) {
    b.set32(start + 4, static_cast<uint32_t>(b.size() - start));
    b.align(8);
    return *this;
  }
};

TEST(BootMultiboot2, ParsesTagsAndReservesInfoAndModules) {
  FakePhys phys(64 * KiB);
  const Bytes mmap = mb2_mmap_tag(24,
                                  {{0x0, 0x9fc00, U},
                                   {0x9fc00, 0x400, R},
                                   {0xf0000, 0x10000, R},
                                   {0x100000, 0x7ffe0000 - 0x100000, U},
                                   {0x7ffe0000, 0x20000, R},
                                   {0xb0000000, 0x10000000, R},
                                   {0x100000000, 0x40000000, U}},
                                  {1, 2, 2, 1, 2, 2, 1});
  Mb2Builder good;
  good.string_tag(1, "console=ttyS0")
      .string_tag(2, "GRUB 2.06-13")
      .module(0x200000, 0x201234, "initrd")
      .module(0x400000, 0x400800, "")
      .meminfo(639, 2096000)
      .raw_tag(mmap)
      .end();
  phys.write(kInfo, good.b);

  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error)) << error;
  EXPECT_STREQ(info.protocol, "multiboot2");
  EXPECT_STREQ(info.cmdline, "console=ttyS0");
  EXPECT_STREQ(info.loader_name, "GRUB 2.06-13");
  EXPECT_TRUE(info.has_mmap);
  ASSERT_EQ(info.module_count, 2u);
  EXPECT_EQ(info.modules[0].start, 0x200000u);
  EXPECT_EQ(info.modules[0].end, 0x201234u);
  EXPECT_STREQ(info.modules[0].cmdline, "initrd");
  EXPECT_STREQ(info.modules[1].cmdline, "");
  EXPECT_EQ(m->raw().size(), 7u) << "the mmap tag wins over basic meminfo";
  EXPECT_EQ(
      reserved_of(*m),
      (std::vector<Raw>{{kInfo, good.b.size(), L}, {0x200000, 0x1234, K}, {0x400000, 0x800, K}}));
  EXPECT_EQ(info.info_phys, kInfo);
  EXPECT_EQ(info.info_size, good.b.size());
  EXPECT_EQ(info.efi_system_table, 0u) << "no EFI tags";
  EXPECT_EQ(info.efi_bits, 0u);
  ASSERT_TRUE(m->normalise());
  EXPECT_EQ(m->usable_frames(), (0x7ffe0000 - 0x100000) / kPageSize - 3 /* module frames: 2 + 1 */ +
                                    0x40000000 / kPageSize);

  // A module whose end precedes its start makes the structure malformed.
  Mb2Builder bad;
  bad.string_tag(1, "console=ttyS0").module(0x200000, 0x2a000, "").raw_tag(mmap).end();
  phys.write(kInfo, bad.b);
  auto m2 = std::make_unique<MemoryMap>();
  EXPECT_FALSE(parse_multiboot2(kInfo, phys.pm(), info, *m2, &error));
  EXPECT_NE(std::string(error).find("module ends before"), std::string::npos);
}

TEST(BootMultiboot2, EfiMmapThenBasicMeminfoAsFallbacks) {
  FakePhys phys(64 * KiB);
  Bytes efi;
  efi.u32(17).u32(0).u32(48).u32(1);  // type, size, descriptor_size, descriptor_version
  efi_descriptor(efi, 48, 7, 0x100000, 0x700);
  efi_descriptor(efi, 48, 2, 0x800000, 0x100);
  efi_descriptor(efi, 48, 9, 0x900000, 0x10);
  efi.set32(4, static_cast<uint32_t>(efi.size()));
  Mb2Builder with_efi;
  with_efi.meminfo(639, 1000).raw_tag(efi).end();
  phys.write(kInfo, with_efi.b);
  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error)) << error;
  EXPECT_TRUE(info.has_mmap);
  EXPECT_EQ(
      raw_of(*m),
      (std::vector<Raw>{{0x100000, 0x700000, U}, {0x800000, 0x100000, L}, {0x900000, 0x10000, A}}));

  Mb2Builder basic;
  basic.string_tag(1, "").meminfo(639, 1000).end();
  phys.write(kInfo, basic.b);
  auto m2 = std::make_unique<MemoryMap>();
  ASSERT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m2, &error)) << error;
  EXPECT_FALSE(info.has_mmap);
  EXPECT_STREQ(info.cmdline, "");
  EXPECT_EQ(raw_of(*m2), (std::vector<Raw>{{0, 639 * KiB, U}, {1 * MiB, 1000 * KiB, U}}));
}

// ACPI tags 14 (RSDP 1.0) and 15 (2.0+): the copy inside the info is kept,
// the newer one wins in either order, a truncated tag is ignored.
TEST(BootMultiboot2, AcpiRsdpTagsAreKeptNewerFirst) {
  FakePhys phys(64 * KiB);
  Bytes old_rsdp, new_rsdp, short_rsdp;
  old_rsdp.u32(14).u32(0).str("RSD PTR ").u32(0).u32(0).u32(0);  // 8 + 20 bytes
  new_rsdp.u32(15).u32(0).str("RSD PTR ").u32(0).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0);
  short_rsdp.u32(14).u32(0).u32(0);
  for (bool new_first : {false, true}) {
    Mb2Builder mb;
    mb.meminfo(639, 1000);
    if (new_first) mb.raw_tag(new_rsdp).raw_tag(old_rsdp);
    else mb.raw_tag(old_rsdp).raw_tag(new_rsdp);
    mb.end();
    phys.write(kInfo, mb.b);
    auto m = std::make_unique<MemoryMap>();
    BootInfo info;
    const char* error = nullptr;
    ASSERT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error)) << error;
    EXPECT_EQ(info.acpi_rsdp_tag, 15u);
    // 8 (info header) + 16 (meminfo tag), then the tags in order; +8 skips the tag header.
    const uint64_t new_tag = kInfo + 24 + (new_first ? 0 : ((old_rsdp.size() + 7) & ~size_t{7}));
    EXPECT_EQ(info.acpi_rsdp, new_tag + 8);
  }
  Mb2Builder only_short;
  only_short.meminfo(639, 1000).raw_tag(short_rsdp).end();
  phys.write(kInfo, only_short.b);
  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error)) << error;
  EXPECT_EQ(info.acpi_rsdp, 0u);
}

TEST(BootMultiboot2, MalformedInfoIsRefusedWithAReason) {
  FakePhys phys(64 * KiB);
  BootInfo info;
  const char* error = nullptr;
  auto m = std::make_unique<MemoryMap>();
  auto refused = [&](const Bytes& b, const char* why) {
    phys.write(kInfo, b);
    error = nullptr;
    EXPECT_FALSE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error)) << why;
    ASSERT_NE(error, nullptr) << why;
    EXPECT_NE(std::string(error).find(why), std::string::npos) << error;
  };
  EXPECT_FALSE(parse_multiboot2(kInfo + 4, phys.pm(), info, *m, &error));
  EXPECT_NE(std::string(error).find("aligned"), std::string::npos);

  Mb2Builder no_end;
  no_end.meminfo(639, 1000);
  no_end.b.set32(0, static_cast<uint32_t>(no_end.b.size()));
  refused(no_end.b, "no end tag");

  Mb2Builder too_big;
  too_big.meminfo(639, 1000).end();
  too_big.b.set32(12, 0x1000);  // the meminfo tag claims more than total_size
  refused(too_big.b, "tag size out of bounds");

  Mb2Builder unterminated;
  unterminated.string_tag(1, "abcdefg").meminfo(639, 1000).end();
  unterminated.b.set32(12, 8 + 7);  // size now excludes the NUL
  refused(unterminated.b, "unterminated");

  Mb2Builder no_memory;
  no_memory.string_tag(1, "x").end();
  refused(no_memory.b, "no memory map");

  Bytes tiny;
  tiny.u32(8).u32(0);
  refused(tiny, "total_size too small");
}

// ---- what the parsers keep, and how the loader's memory is tagged -------------------

// Boot information above 1 MiB (where GRUB and other loaders often put it):
// once normalised it is bootloader-reclaimable memory beside usable RAM, and
// the module inside it stays the kernel's.
TEST(BootMultiboot2, InfoAboveOneMiBIsBootloaderReclaimableAndModulesStayKernel) {
  constexpr uint64_t kHighInfo = 0x180000;  // 1.5 MiB
  FakePhys phys(2 * MiB);
  const Bytes mmap = mb2_mmap_tag(24, {{0x0, 0x9fc00, U}, {0x100000, 0x1f00000, U}}, {1, 1});
  Mb2Builder b;
  b.string_tag(1, "test").module(0x1c0000, 0x1c2345, "m").raw_tag(mmap).end();
  phys.write(kHighInfo, b.b);
  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot2(kHighInfo, phys.pm(), info, *m, &error)) << error;
  ASSERT_TRUE(m->normalise());
  std::vector<Raw> got;
  for (const MapEntry& e : m->entries()) got.push_back({e.base.value, e.end.value, e.type});
  EXPECT_EQ(got, (std::vector<Raw>{{0x0, 0x9f000, R},  // usable trimmed inward, then the low MiB
                                   {0x100000, 0x180000, U},
                                   {0x180000, 0x181000, L},
                                   {0x181000, 0x1c0000, U},
                                   {0x1c0000, 0x1c3000, K},
                                   {0x1c3000, 0x2000000, U}}));
}

// The strings the kernel keeps are copies: after the parse, the loader's
// memory can be overwritten (handed back and reused) without changing them.
TEST(BootMultiboot2, KeepsCopiesOfItsStringsNotPointersIntoLoaderMemory) {
  FakePhys phys(64 * KiB);
  Mb2Builder b;
  b.string_tag(1, "test expect-module").string_tag(2, "GRUB 2.06").module(0x200000, 0x201000, "crc=1 len=2")
      .meminfo(639, 1000).end();
  phys.write(kInfo, b.b);
  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error)) << error;
  std::memset(&phys.mem[kInfo], 0xAA, b.b.size());  // the loader's memory, reused
  EXPECT_STREQ(info.cmdline, "test expect-module");
  EXPECT_STREQ(info.loader_name, "GRUB 2.06");
  EXPECT_STREQ(info.modules[0].cmdline, "crc=1 len=2");
  for (const char* s : {info.cmdline, info.loader_name, info.modules[0].cmdline}) {
    EXPECT_GE(s, info.strings);
    EXPECT_LT(s, info.strings + BootInfo::kStringCapacity);
  }
  EXPECT_EQ(info.strings_truncated, 0u);
}

TEST(BootMultiboot1, KeepsCopiesOfItsStringsNotPointersIntoLoaderMemory) {
  FakePhys phys(64 * KiB);
  phys.write(kInfo, mb1_info(kMb1Mem | kMb1Cmdline | kMb1Mods | kMb1Name, 1, 0));
  phys.write(kCmd, "run slab-debug");
  phys.write(kName, "qemu");
  Bytes mods;
  mods.u32(0x200000).u32(0x201000).u32(kModStr).u32(0);
  phys.write(kMods, mods);
  phys.write(kModStr, "crc=7 len=9");
  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot1(kInfo, phys.pm(), info, *m, &error)) << error;
  std::memset(phys.mem.data(), 0x55, phys.mem.size());
  EXPECT_STREQ(info.cmdline, "run slab-debug");
  EXPECT_STREQ(info.loader_name, "qemu");
  EXPECT_STREQ(info.modules[0].cmdline, "crc=7 len=9");
  EXPECT_EQ(info.strings_truncated, 0u);
}

// A command line longer than the pool is cut short, counted, and the parse
// still succeeds; later strings get what is left ("" once it is full).
TEST(BootMultiboot2, StringsBeyondThePoolAreCutShortAndCounted) {
  FakePhys phys(64 * KiB);
  const std::string longline(BootInfo::kStringCapacity + 100, 'x');
  Mb2Builder b;
  b.string_tag(1, longline.c_str()).string_tag(2, "GRUB").meminfo(639, 1000).end();
  phys.write(kInfo, b.b);
  auto m = std::make_unique<MemoryMap>();
  BootInfo info;
  const char* error = nullptr;
  ASSERT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error)) << error;
  EXPECT_EQ(std::strlen(info.cmdline), BootInfo::kStringCapacity - 1);
  EXPECT_STREQ(info.loader_name, "");
  EXPECT_EQ(info.strings_truncated, 2u);

  // A second parse into the same BootInfo starts from an empty pool.
  Mb2Builder again;
  again.string_tag(1, "short").meminfo(639, 1000).end();
  phys.write(kInfo, again.b);
  auto m2 = std::make_unique<MemoryMap>();
  ASSERT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m2, &error)) << error;
  EXPECT_STREQ(info.cmdline, "short");
  EXPECT_EQ(info.strings_truncated, 0u);
}

// Multiboot2 tags 11 and 12: the EFI system table's physical address.
TEST(BootMultiboot2, KeepsTheEfiSystemTablePointer) {
  FakePhys phys(64 * KiB);
  Bytes efi64;
  efi64.u32(12).u32(16).u64(0x3f9ee018);
  Bytes efi32;
  efi32.u32(11).u32(12).u32(0x7f9ee018);
  auto parse = [&](const Mb2Builder& b, BootInfo& info) {
    phys.write(kInfo, b.b);
    auto m = std::make_unique<MemoryMap>();
    const char* error = nullptr;
    EXPECT_TRUE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error)) << error;
  };
  BootInfo info;
  Mb2Builder only64;
  only64.meminfo(639, 1000).raw_tag(efi64).end();
  parse(only64, info);
  EXPECT_EQ(info.efi_system_table, 0x3f9ee018u);
  EXPECT_EQ(info.efi_bits, 64u);

  Mb2Builder only32;
  only32.meminfo(639, 1000).raw_tag(efi32).end();
  parse(only32, info);
  EXPECT_EQ(info.efi_system_table, 0x7f9ee018u);
  EXPECT_EQ(info.efi_bits, 32u);

  Mb2Builder both;  // the 64-bit pointer wins, in either order
  both.meminfo(639, 1000).raw_tag(efi64).raw_tag(efi32).end();
  parse(both, info);
  EXPECT_EQ(info.efi_system_table, 0x3f9ee018u);
  EXPECT_EQ(info.efi_bits, 64u);

  Bytes short_tag;
  short_tag.u32(12).u32(12).u32(0);
  Mb2Builder bad;
  bad.meminfo(639, 1000).raw_tag(short_tag).end();
  phys.write(kInfo, bad.b);
  auto m = std::make_unique<MemoryMap>();
  const char* error = nullptr;
  EXPECT_FALSE(parse_multiboot2(kInfo, phys.pm(), info, *m, &error));
  EXPECT_NE(std::string(error).find("EFI system table tag too short"), std::string::npos) << error;
}

}  // namespace
}  // namespace pf::boot
