// acpi_madt_test.cpp — the kernel's ACPI reader (kernel/arch/x86_64/acpi.cpp)
// on synthetic firmware tables in a fake physical memory: where the RSDP is
// found (loader, EBDA, BIOS area), RSDT vs XSDT, which MADT processors count
// (enabled; online-capable and disabled ones are counted apart, not
// listed), x2APIC entries, the LAPIC address override, and refusals with a
// reason (bad checksums, tables out of reach, no MADT, no enabled CPU). And
// the MP tables' reader (mps_find_cpus, for machines without ACPI): where
// the floating pointer is found (EBDA, top of base memory, BIOS area),
// processor entries among the other types, a default configuration, and
// its refusals.
//
// acpi.cpp is freestanding and reads memory only through a PhysMap, so the
// hosted build compiles it here as it is (it is not part of libpfalloc).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "kernel/arch/x86_64/acpi.cpp"  // NOLINT: the unit under test, compiled in

namespace pf::arch {
namespace {

constexpr size_t kMemory = 1 * MiB;

struct Mem {
  std::vector<unsigned char> b = std::vector<unsigned char>(kMemory, 0);
  PhysMap pm() const { return PhysMap{reinterpret_cast<uintptr_t>(b.data())}; }
  void put(uint64_t at, const std::vector<unsigned char>& v) { std::memcpy(&b[at], v.data(), v.size()); }
};

void le(std::vector<unsigned char>& v, uint64_t x, int bytes) {
  for (int i = 0; i < bytes; ++i) v.push_back(static_cast<unsigned char>(x >> (8 * i)));
}
void sum_fix(std::vector<unsigned char>& v, size_t at, size_t from, size_t to) {
  uint8_t s = 0;
  for (size_t i = from; i < to; ++i) s = static_cast<uint8_t>(s + v[i]);
  v[at] = static_cast<uint8_t>(v[at] - s);
}

std::vector<unsigned char> rsdp(uint8_t revision, uint32_t rsdt, uint64_t xsdt) {
  std::vector<unsigned char> v;
  for (char c : std::string("RSD PTR ")) v.push_back(static_cast<unsigned char>(c));
  v.push_back(0);  // checksum
  for (int i = 0; i < 6; ++i) v.push_back('O');
  v.push_back(revision);
  le(v, rsdt, 4);
  if (revision >= 2) {
    le(v, 36, 4);
    le(v, xsdt, 8);
    v.push_back(0);  // extended checksum
    v.insert(v.end(), 3, 0);
  }
  sum_fix(v, 8, 0, 20);
  if (revision >= 2) sum_fix(v, 32, 0, 36);
  return v;
}

// A table: signature, the header's other fields, then `body`.
std::vector<unsigned char> table(const char* sig, const std::vector<unsigned char>& body) {
  std::vector<unsigned char> v(sig, sig + 4);
  le(v, 36 + body.size(), 4);
  v.push_back(1);  // revision
  v.push_back(0);  // checksum
  v.insert(v.end(), 26, 'X');  // OEM ids, revisions, creator: 36 bytes in all
  v.insert(v.end(), body.begin(), body.end());
  sum_fix(v, 9, 0, v.size());
  return v;
}

std::vector<unsigned char> lapic(uint8_t uid, uint8_t id, uint32_t flags) {
  std::vector<unsigned char> e{0, 8, uid, id};
  le(e, flags, 4);
  return e;
}
std::vector<unsigned char> x2apic(uint32_t id, uint32_t flags, uint32_t uid) {
  std::vector<unsigned char> e{9, 16, 0, 0};
  le(e, id, 4);
  le(e, flags, 4);
  le(e, uid, 4);
  return e;
}

std::vector<unsigned char> madt(std::initializer_list<std::vector<unsigned char>> entries,
                                uint32_t lapic_address = 0xfee00000, uint32_t flags = 1) {
  std::vector<unsigned char> body;
  le(body, lapic_address, 4);
  le(body, flags, 4);
  for (const auto& e : entries) body.insert(body.end(), e.begin(), e.end());
  return table("APIC", body);
}

constexpr uint64_t kRsdp = 0xF5A10, kRsdt = 0x80000, kXsdt = 0x81000, kMadt = 0x82000, kOther = 0x83000;

// A machine with an RSDT (and an XSDT when revision >= 2) listing another
// table first and then the MADT.
Mem machine(const std::vector<unsigned char>& m, uint8_t revision = 0, uint64_t rsdp_at = kRsdp) {
  Mem mem;
  mem.put(kOther, table("FACP", std::vector<unsigned char>(80, 0)));
  mem.put(kMadt, m);
  std::vector<unsigned char> r, x;
  le(r, kOther, 4);
  le(r, kMadt, 4);
  le(x, kOther, 8);
  le(x, kMadt, 8);
  mem.put(kRsdt, table("RSDT", r));
  mem.put(kXsdt, table("XSDT", x));
  mem.put(rsdp_at, rsdp(revision, kRsdt, revision >= 2 ? kXsdt : 0));
  return mem;
}

std::vector<uint32_t> ids(const AcpiCpus& c) {
  std::vector<uint32_t> v;
  for (size_t i = 0; i < c.cpu_count; ++i) v.push_back(c.cpus[i].apic_id);
  return v;
}

TEST(AcpiMadt, BiosAreaRsdtAndTheFlagsOfEachProcessor) {
  // Enabled 0 and 2; 1 online-capable (present, not enabled); 3 neither.
  Mem mem = machine(madt({lapic(0, 0, 1), lapic(1, 1, 2), lapic(2, 2, 1), lapic(3, 3, 0)}));
  AcpiCpus out;
  ASSERT_TRUE(acpi_find_cpus(0, "", mem.pm(), kMemory, out)) << out.error;
  EXPECT_STREQ(out.rsdp_source, "BIOS area 0xE0000-0xFFFFF");
  EXPECT_EQ(out.rsdp, kRsdp);
  EXPECT_EQ(out.revision, 0u);
  EXPECT_EQ(out.madt, kMadt);
  EXPECT_EQ(out.lapic_address, 0xfee00000u);
  EXPECT_TRUE(out.pcat_compat);
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(out.online_capable, 1u);
  EXPECT_EQ(out.disabled, 1u);
}

TEST(AcpiMadt, EbdaFirstThenXsdtWithX2apicEntriesAndAnAddressOverride) {
  std::vector<unsigned char> override_entry{5, 12, 0, 0};
  le(override_entry, 0xfee10000, 8);
  const auto m = madt({lapic(0, 0, 1), x2apic(300, 1, 7), x2apic(0, 1, 0) /* same CPU again */,
                       override_entry});
  Mem mem = machine(m, 2, 0x9FC10);
  mem.b[0x40E] = 0xC0;  // EBDA segment 0x9FC0
  mem.b[0x40F] = 0x9F;
  AcpiCpus out;
  ASSERT_TRUE(acpi_find_cpus(0, "", mem.pm(), kMemory, out)) << out.error;
  EXPECT_STREQ(out.rsdp_source, "EBDA");
  EXPECT_EQ(out.revision, 2u);
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{0, 300}));
  EXPECT_TRUE(out.cpus[1].x2apic_entry);
  EXPECT_EQ(out.cpus[1].acpi_uid, 7u);
  EXPECT_EQ(out.lapic_address, 0xfee10000u);
}

TEST(AcpiMadt, TheLoadersRsdpIsUsedAsGivenAndChecked) {
  Mem mem = machine(madt({lapic(0, 4, 1), lapic(1, 6, 1)}), 2, 0x70000);  // not in any search area
  AcpiCpus out;
  ASSERT_TRUE(acpi_find_cpus(0x70000, "multiboot2 tag 15", mem.pm(), kMemory, out)) << out.error;
  EXPECT_STREQ(out.rsdp_source, "multiboot2 tag 15");
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{4, 6}));
  AcpiCpus none;
  EXPECT_FALSE(acpi_find_cpus(0, "", mem.pm(), kMemory, none)) << "no RSDP in the search areas";
  EXPECT_NE(std::string(none.error).find("no RSDP"), std::string::npos);

  mem.b[0x70000 + 9] ^= 1;  // the loader's copy corrupted
  AcpiCpus bad;
  EXPECT_FALSE(acpi_find_cpus(0x70000, "tag", mem.pm(), kMemory, bad));
  EXPECT_NE(std::string(bad.error).find("boot loader's RSDP"), std::string::npos);
}

TEST(AcpiMadt, RefusalsNameTheirReason) {
  auto error_of = [](Mem& mem, uint64_t reach) {
    AcpiCpus out;
    EXPECT_FALSE(acpi_find_cpus(0, "", mem.pm(), reach, out));
    return std::string(out.error ? out.error : "");
  };
  Mem bad_madt = machine(madt({lapic(0, 0, 1)}));
  bad_madt.b[kMadt + 40] ^= 1;  // a field changed, the checksum not
  EXPECT_NE(error_of(bad_madt, kMemory).find("no valid MADT"), std::string::npos);

  Mem no_cpu = machine(madt({lapic(0, 0, 0), lapic(1, 1, 2)}));
  EXPECT_NE(error_of(no_cpu, kMemory).find("no enabled processor"), std::string::npos);

  Mem bad_rsdt = machine(madt({lapic(0, 0, 1)}));
  bad_rsdt.b[kRsdt + 20] ^= 1;
  EXPECT_NE(error_of(bad_rsdt, kMemory).find("RSDT"), std::string::npos);

  // Tables beyond what the caller can reach are not read (the RSDP is within).
  Mem far = machine(madt({lapic(0, 0, 1)}), 0, 0x70000);
  AcpiCpus far_out;
  EXPECT_FALSE(acpi_find_cpus(0x70000, "tag", far.pm(), kRsdt, far_out));
  EXPECT_NE(std::string(far_out.error ? far_out.error : "").find("RSDT"), std::string::npos);
  AcpiCpus near_out;
  EXPECT_TRUE(acpi_find_cpus(0x70000, "tag", far.pm(), kMemory, near_out)) << "the control";

  // A malformed entry length stops the walk; what came before it counts.
  std::vector<unsigned char> broken{0, 1};  // length 1 < 2
  Mem partial = machine(madt({lapic(0, 0, 1), broken, lapic(1, 1, 1)}));
  AcpiCpus out;
  ASSERT_TRUE(acpi_find_cpus(0, "", partial.pm(), kMemory, out)) << out.error;
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{0}));
}

// Seen in review, shown by tests/fuzz/acpi_fuzz.cpp (seed acpi_many_bad_madts):
// every root entry's table was checksummed, whatever its signature, so a corrupt RSDT
// naming one large table with a bad checksum throughout cost entries x 1 MiB
// of reads (over a minute for 32768 entries). Now a signature is read per
// entry and at most kMaxMadtCandidates (4) "APIC" tables are checksummed: a
// good MADT after three bad ones is found, after four it is not reached (the
// work bound made visible).
TEST(AcpiMadt, AtMostFourMadtCandidatesAreChecksummed) {
  auto machine_with_bad_madts = [](int bad) {
    Mem mem;
    std::vector<unsigned char> bad_madt = madt({lapic(0, 0, 1)});
    bad_madt[40] ^= 1;  // a field changed, the checksum not
    mem.put(kOther, bad_madt);
    mem.put(kMadt, madt({lapic(0, 3, 1)}));
    mem.put(0x85000, table("FACP", std::vector<unsigned char>(80, 0)));
    std::vector<unsigned char> r;
    for (int i = 0; i < 100; ++i) le(r, 0x85000, 4);  // other tables: not candidates
    for (int i = 0; i < bad; ++i) le(r, kOther, 4);
    le(r, kMadt, 4);
    mem.put(kRsdt, table("RSDT", r));
    mem.put(kRsdp, rsdp(0, kRsdt, 0));
    return mem;
  };
  Mem three = machine_with_bad_madts(3);
  AcpiCpus out;
  ASSERT_TRUE(acpi_find_cpus(0, "", three.pm(), kMemory, out)) << out.error;
  EXPECT_EQ(out.madt, kMadt);
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{3}));

  Mem four = machine_with_bad_madts(4);
  AcpiCpus refused;
  EXPECT_FALSE(acpi_find_cpus(0, "", four.pm(), kMemory, refused));
  EXPECT_NE(std::string(refused.error ? refused.error : "").find("no valid MADT"), std::string::npos);
}

// An RSDP's length field is trusted up to 4 KiB (it is 36 bytes in every
// revision): beyond, valid_rsdp summed whatever it named, up to the whole
// direct map, MMIO included.
TEST(AcpiMadt, AnRsdpLongerThanFourKibIsRefused) {
  for (uint32_t length : {4096u, 4097u}) {
    Mem mem = machine(madt({lapic(0, 0, 1)}), 2, 0x70000);
    unsigned char* p = &mem.b[0x70000];
    for (int i = 0; i < 4; ++i) p[20 + i] = static_cast<unsigned char>(length >> (8 * i));
    // The v1 checksum (bytes 0-19) first, then the extended one over `length`.
    auto fix = [p](size_t at, size_t n) {
      p[at] = 0;
      uint8_t s = 0;
      for (size_t i = 0; i < n; ++i) s = static_cast<uint8_t>(s + p[i]);
      p[at] = static_cast<unsigned char>(-s);
    };
    fix(8, 20);
    fix(32, length);
    AcpiCpus out;
    EXPECT_EQ(acpi_find_cpus(0x70000, "tag", mem.pm(), kMemory, out), length == 4096u)
        << length << ": " << (out.error ? out.error : "");
  }
}

// ---- MP tables -------------------------------------------------------------

std::vector<unsigned char> mp_floating(uint32_t table, uint8_t default_config = 0) {
  std::vector<unsigned char> v{'_', 'M', 'P', '_'};
  le(v, table, 4);
  v.push_back(1);  // length: one 16-byte unit
  v.push_back(4);  // spec revision 1.4
  v.push_back(0);  // checksum
  v.push_back(default_config);
  v.insert(v.end(), 4, 0);
  sum_fix(v, 10, 0, 16);
  return v;
}
std::vector<unsigned char> mp_cpu(uint8_t id, uint8_t flags) {
  std::vector<unsigned char> e{0, id, 0x14, flags};
  le(e, 0x600, 4);  // signature
  le(e, 0, 4);      // features
  e.insert(e.end(), 8, 0);
  return e;
}
std::vector<unsigned char> mp_other(uint8_t type) { return {type, 1, 2, 3, 4, 5, 6, 7}; }
std::vector<unsigned char> mp_table(std::initializer_list<std::vector<unsigned char>> entries,
                                    uint32_t lapic_address = 0xfee00000) {
  std::vector<unsigned char> v{'P', 'C', 'M', 'P'};
  size_t body = 0;
  for (const auto& e : entries) body += e.size();
  le(v, 44 + body, 2);
  v.push_back(4);  // spec revision
  v.push_back(0);  // checksum
  v.insert(v.end(), 20, 'O');  // OEM and product ids
  le(v, 0, 4);                 // OEM table
  le(v, 0, 2);
  le(v, entries.size(), 2);
  le(v, lapic_address, 4);
  le(v, 0, 4);  // extended table length, its checksum, reserved
  for (const auto& e : entries) v.insert(v.end(), e.begin(), e.end());
  sum_fix(v, 7, 0, v.size());
  return v;
}

constexpr uint64_t kMpTable = 0x84000;

TEST(MpTables, BiosAreaProcessorsAmongTheOtherEntries) {
  Mem mem;
  mem.put(kMpTable, mp_table({mp_cpu(0, 3), mp_cpu(1, 1), mp_cpu(2, 0), mp_other(1), mp_other(2),
                              mp_cpu(5, 1), mp_other(3), mp_other(4)},
                             0xfee20000));
  mem.put(0xF5B60, mp_floating(kMpTable));
  AcpiCpus out;
  ASSERT_TRUE(mps_find_cpus(mem.pm(), kMemory, out)) << out.error;
  EXPECT_STREQ(out.mp_source, "BIOS area 0xE0000-0xFFFFF");
  EXPECT_EQ(out.mp_floating, 0xF5B60u);
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{0, 1, 5}));
  EXPECT_EQ(out.cpus[2].acpi_uid, 5u) << "the entry's index";
  EXPECT_EQ(out.disabled, 1u);
  EXPECT_EQ(out.lapic_address, 0xfee20000u);
  EXPECT_EQ(out.rsdp, 0u);
}

TEST(MpTables, EbdaThenTheTopOfBaseMemoryThenTheBiosArea) {
  Mem mem;
  mem.put(kMpTable, mp_table({mp_cpu(0, 3), mp_cpu(1, 1)}));
  mem.put(0x9FC00, mp_floating(kMpTable));  // the last KiB of base memory
  mem.put(0xF0000, mp_floating(kMpTable));
  AcpiCpus top;
  ASSERT_TRUE(mps_find_cpus(mem.pm(), kMemory, top)) << top.error;
  EXPECT_STREQ(top.mp_source, "the last KiB of base memory");
  mem.put(0x9E010, mp_floating(kMpTable));
  mem.b[0x40E] = 0x00;  // EBDA segment 0x9E00
  mem.b[0x40F] = 0x9E;
  AcpiCpus ebda;
  ASSERT_TRUE(mps_find_cpus(mem.pm(), kMemory, ebda)) << ebda.error;
  EXPECT_STREQ(ebda.mp_source, "EBDA");
  EXPECT_EQ(ebda.mp_floating, 0x9E010u);
  EXPECT_EQ(ids(ebda), (std::vector<uint32_t>{0, 1}));
}

// QEMU's qboot (-M microvm,acpi=off -smp 2) writes every entry but leaves
// the entry count 0: the walk follows the table's length, and both CPUs
// are found (only the first was, as the one CPU of a failed table).
TEST(MpTables, AnEntryCountOfZeroStillWalksTheWholeTable) {
  Mem mem;
  auto t = mp_table({mp_cpu(0, 3), mp_cpu(1, 1), mp_other(1), mp_other(2), mp_other(3)});
  t[34] = t[35] = 0;
  t[7] = 0;
  sum_fix(t, 7, 0, t.size());
  mem.put(kMpTable, t);
  mem.put(0x9FC00, mp_floating(kMpTable));
  AcpiCpus out;
  ASSERT_TRUE(mps_find_cpus(mem.pm(), kMemory, out)) << out.error;
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{0, 1}));
}

// smp_discover hands mps_find_cpus what a failed acpi_find_cpus left. A
// MADT with no enabled CPU fails with its online-capable and disabled
// processors counted; those counts (and its error) used to be carried into
// the MP result (and logged as if MP's). Shown by tests/fuzz/acpi_fuzz.cpp's oracle (seed
// acpi_disabled_then_mp).
TEST(MpTables, AFailedAcpiSearchLeavesNoCountsBehind) {
  Mem mem = machine(madt({lapic(0, 0, 2), lapic(1, 1, 0), lapic(2, 2, 2)}));
  mem.put(kMpTable, mp_table({mp_cpu(0, 3), mp_cpu(1, 1), mp_cpu(4, 0)}));
  mem.put(0xF5B60, mp_floating(kMpTable));
  AcpiCpus out;
  ASSERT_FALSE(acpi_find_cpus(0, "", mem.pm(), kMemory, out));
  EXPECT_EQ(out.online_capable, 2u);
  EXPECT_EQ(out.disabled, 1u);
  ASSERT_TRUE(mps_find_cpus(mem.pm(), kMemory, out)) << out.error;
  EXPECT_EQ(out.error, nullptr) << "a found list carries no error (it carried ACPI's)";
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(out.online_capable, 0u);
  EXPECT_EQ(out.disabled, 1u) << "MP's one disabled entry, not the MADT's";
  EXPECT_FALSE(out.pcat_compat) << "a MADT flag";
  EXPECT_EQ(out.madt, kMadt) << "the ACPI findings stay, for the log";
}

TEST(MpTables, ADefaultConfigurationIsTwoCpus) {
  Mem mem;
  mem.put(0xF0000, mp_floating(0, 5));  // configuration 5: ISA + PCI, two CPUs, no table
  AcpiCpus out;
  ASSERT_TRUE(mps_find_cpus(mem.pm(), kMemory, out)) << out.error;
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(out.lapic_address, 0xfee00000u);
}

TEST(MpTables, RefusalsNameTheirReason) {
  auto error_of = [](Mem& mem) {
    AcpiCpus out;
    EXPECT_FALSE(mps_find_cpus(mem.pm(), kMemory, out));
    return std::string(out.error ? out.error : "");
  };
  Mem none;
  EXPECT_NE(error_of(none).find("no MP floating pointer"), std::string::npos);

  Mem bad_pointer;
  bad_pointer.put(kMpTable, mp_table({mp_cpu(0, 3)}));
  bad_pointer.put(0xF0000, mp_floating(kMpTable));
  bad_pointer.b[0xF0000 + 12] ^= 1;  // a byte changed, the checksum not
  EXPECT_NE(error_of(bad_pointer).find("no MP floating pointer"), std::string::npos);

  Mem bad_table;
  bad_table.put(kMpTable, mp_table({mp_cpu(0, 3)}));
  bad_table.put(0xF0000, mp_floating(kMpTable));
  bad_table.b[kMpTable + 45] ^= 1;
  EXPECT_NE(error_of(bad_table).find("configuration table"), std::string::npos);

  Mem no_cpu;
  no_cpu.put(kMpTable, mp_table({mp_cpu(0, 0), mp_other(2)}));
  no_cpu.put(0xF0000, mp_floating(kMpTable));
  EXPECT_NE(error_of(no_cpu).find("no enabled processor"), std::string::npos);

  // An unknown entry type (its length unknown) stops the walk; what came
  // before it counts.
  Mem partial;
  partial.put(kMpTable, mp_table({mp_cpu(0, 3), mp_other(9), mp_cpu(1, 1)}));
  partial.put(0xF0000, mp_floating(kMpTable));
  AcpiCpus out;
  ASSERT_TRUE(mps_find_cpus(partial.pm(), kMemory, out)) << out.error;
  EXPECT_EQ(ids(out), (std::vector<uint32_t>{0}));

  // A table beyond the caller's reach is not read.
  Mem far;
  far.put(kMpTable, mp_table({mp_cpu(0, 3)}));
  far.put(0xF0000, mp_floating(kMpTable));
  AcpiCpus far_out;
  EXPECT_FALSE(mps_find_cpus(far.pm(), kMpTable, far_out));
}

}  // namespace
}  // namespace pf::arch
