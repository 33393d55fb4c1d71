// acpi.cpp — RSDP, RSDT/XSDT and MADT parsing. See acpi.hpp.
//
// Fields are read byte by byte (kernel/boot/bytes.hpp): firmware tables are
// packed and need not be aligned. Offsets are those of ACPI 6.5.
#include "kernel/arch/x86_64/acpi.hpp"

#include "kernel/boot/bytes.hpp"

namespace pf::arch {

namespace {
using boot::bytes::u16;
using boot::bytes::u32;
using boot::bytes::u64;
using boot::bytes::u8;

constexpr size_t kRsdpV1Length = 20, kRsdpV2Length = 36, kHeaderLength = 36;
constexpr size_t kMadtEntries = 44;  // header, LAPIC address u32 @36, flags u32 @40
constexpr uint32_t kMaxTableLength = 1u << 20;

bool bytes_equal(const unsigned char* p, const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != static_cast<unsigned char>(s[i])) return false;
  return true;
}

uint8_t checksum(const unsigned char* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + p[i]);
  return sum;
}

struct Reader {
  const PhysMap& pm;
  uint64_t reach;
  // The bytes of [phys, phys + n) if they lie below `reach`, else nullptr.
  const unsigned char* at(uint64_t phys, uint64_t n) const {
    if (phys == 0 || phys >= reach || n > reach - phys) return nullptr;
    return pm.to_virt<const unsigned char>(PhysAddr{phys});
  }
  bool valid_rsdp(uint64_t phys) const {
    const unsigned char* p = at(phys, kRsdpV1Length);
    if (p == nullptr || !bytes_equal(p, "RSD PTR ", 8) || checksum(p, kRsdpV1Length) != 0) return false;
    if (u8(p, 15) >= 2) {
      const unsigned char* q = at(phys, kRsdpV2Length);
      const uint32_t len = q ? u32(q, 20) : 0;
      if (q == nullptr || len < kRsdpV2Length || at(phys, len) == nullptr || checksum(q, len) != 0)
        return false;
    }
    return true;
  }
  // A whole table with a good length and checksum, or nullptr.
  const unsigned char* table(uint64_t phys, uint32_t* length) const {
    const unsigned char* h = at(phys, kHeaderLength);
    if (h == nullptr) return nullptr;
    const uint32_t len = u32(h, 4);
    if (len < kHeaderLength || len > kMaxTableLength) return nullptr;
    const unsigned char* t = at(phys, len);
    if (t == nullptr || checksum(t, len) != 0) return nullptr;
    *length = len;
    return t;
  }
  // Scans [from, to) on 16-byte boundaries.
  uint64_t search(uint64_t from, uint64_t to) const {
    for (uint64_t p = from & ~uint64_t{15}; p + kRsdpV1Length <= to; p += 16)
      if (valid_rsdp(p)) return p;
    return 0;
  }
};

void add_cpu(AcpiCpus& out, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2) {
  const bool enabled = flags & 1, online_capable = flags & 2;
  if (!enabled) {
    ++(online_capable ? out.online_capable : out.disabled);
    return;
  }
  for (size_t i = 0; i < out.cpu_count; ++i)
    if (out.cpus[i].apic_id == apic_id) return;  // listed twice (type 0 and 9): once
  if (out.cpu_count == AcpiCpus::kMaxMadtCpus) {
    ++out.dropped;
    return;
  }
  out.cpus[out.cpu_count++] = {apic_id, uid, x2};
}
}  // namespace

bool acpi_find_cpus(uint64_t rsdp_hint, const char* hint_source, const PhysMap& pm,
                    uint64_t reach, AcpiCpus& out) {
  const Reader r{pm, reach};
  uint64_t rsdp = 0;
  if (rsdp_hint != 0) {
    if (!r.valid_rsdp(rsdp_hint)) {
      out.error = "the boot loader's RSDP has a bad signature or checksum";
      return false;
    }
    rsdp = rsdp_hint;
    out.rsdp_source = hint_source;
  } else {
    // The EBDA's segment is the BIOS data area's word at 0x40E; its first KiB.
    const unsigned char* bda = r.at(0x40E, 2);
    const uint64_t ebda = bda ? uint64_t{u16(bda, 0)} << 4 : 0;
    if (ebda >= 0x80000 && ebda < 0xA0000 && (rsdp = r.search(ebda, ebda + 1024)) != 0) {
      out.rsdp_source = "EBDA";
    } else if ((rsdp = r.search(0xE0000, 0x100000)) != 0) {
      out.rsdp_source = "BIOS area 0xE0000-0xFFFFF";
    } else {
      out.error = "no RSDP: none from the boot loader, none in the EBDA or 0xE0000-0xFFFFF";
      return false;
    }
  }
  out.rsdp = rsdp;
  const unsigned char* p = r.at(rsdp, kRsdpV1Length);
  out.revision = u8(p, 15);
  // The XSDT (64-bit entries) when ACPI 2.0+ gives one, else the RSDT.
  const bool use_xsdt = out.revision >= 2 && u64(r.at(rsdp, kRsdpV2Length), 24) != 0;
  const uint64_t root = use_xsdt ? u64(r.at(rsdp, kRsdpV2Length), 24) : u32(p, 16);
  const size_t entry_size = use_xsdt ? 8 : 4;
  uint32_t root_len = 0;
  const unsigned char* rt = r.table(root, &root_len);
  if (rt == nullptr || !bytes_equal(rt, use_xsdt ? "XSDT" : "RSDT", 4)) {
    out.error = use_xsdt ? "the XSDT is unreadable or fails its checksum"
                         : "the RSDT is unreadable or fails its checksum";
    return false;
  }
  const unsigned char* madt = nullptr;
  uint32_t madt_len = 0;
  for (size_t off = kHeaderLength; off + entry_size <= root_len; off += entry_size) {
    const uint64_t phys = use_xsdt ? u64(rt, off) : u32(rt, off);
    uint32_t len = 0;
    const unsigned char* t = r.table(phys, &len);
    if (t != nullptr && bytes_equal(t, "APIC", 4) && len >= kMadtEntries) {
      madt = t;
      madt_len = len;
      out.madt = phys;
      break;
    }
  }
  if (madt == nullptr) {
    out.error = "no valid MADT (signature APIC) in the root table";
    return false;
  }
  out.lapic_address = u32(madt, 36);
  out.pcat_compat = u32(madt, 40) & 1;
  for (size_t off = kMadtEntries; off + 2 <= madt_len;) {
    const uint8_t type = u8(madt, off), len = u8(madt, off + 1);
    if (len < 2 || off + len > madt_len) break;  // malformed: stop at the bad entry
    const unsigned char* e = madt + off;
    if (type == 0 && len >= 8) {  // processor local APIC: uid u8, id u8, flags u32
      add_cpu(out, u8(e, 3), u8(e, 2), u32(e, 4), false);
    } else if (type == 9 && len >= 16) {  // processor local x2APIC: id u32, flags u32, uid u32
      add_cpu(out, u32(e, 4), u32(e, 12), u32(e, 8), true);
    } else if (type == 5 && len >= 12) {  // local APIC address override
      out.lapic_address = u64(e, 4);
    }
    off += len;
  }
  if (out.cpu_count == 0) {
    out.error = "the MADT lists no enabled processor";
    return false;
  }
  return true;
}

}  // namespace pf::arch
