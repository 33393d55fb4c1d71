// multiboot.cpp — see multiboot.hpp. Field offsets are those of the
// Multiboot 0.6.96 and Multiboot2 2.0 specifications; fields are read byte by
// byte (bytes.hpp), so nothing is assumed of the loader's alignment.
//
// Order of work in both parsers: validate the framing, reserve the structure
// itself first (so a later failure still leaves it protected), then walk
// the fields, reserving each buffer before it is read.
#include "multiboot.hpp"

#include <new>
#include <type_traits>

#include "adapters.hpp"
#include "bytes.hpp"

namespace pf::boot {

static_assert(std::is_trivially_destructible_v<BootInfo>, "reset() constructs over it");

namespace {

using bytes::u32;
using bytes::u64;

// Strings the loader passes are NUL-terminated; a longer one is malformed.
constexpr size_t kMaxString = 64 * KiB;
// Neither specification bounds these; anything larger is a corrupt structure.
constexpr uint32_t kMaxModules = 4096;
constexpr uint32_t kMaxMb2InfoSize = 64 * MiB;

// The loader's structures: the kernel copies what it keeps, then hands them back.
const RegionType kBootData = RegionType::BootloaderReclaimable;
// Modules stay the kernel's.
const RegionType kModuleData = RegionType::Kernel;

bool fail(const char** error, const char* why) {
  if (error != nullptr) *error = why;
  return false;
}

// Length of the NUL-terminated string at `s`, at most `limit` bytes read; -1
// if no terminator was found.
int64_t bounded_length(const char* s, size_t limit) {
  for (size_t i = 0; i < limit; ++i) {
    if (s[i] == '\0') return static_cast<int64_t>(i);
  }
  return -1;
}

constexpr const char* kTooManyRanges =
    "boot data needs more reserved ranges than MemoryMap::kReservedCapacity";

// Reserves [base, base + length) as boot data; false only when the reserved
// table is full, which the parsers treat as fatal: an unprotected module or
// info structure would be handed out as free memory.
[[nodiscard]] bool protect(MemoryMap& map, uint64_t base, uint64_t length,
                           RegionType type = kBootData) {
  return map.reserve(base, length, type) != MapStatus::CapacityExceeded;
}

// The NUL-terminated string at physical `phys`, reserved with its NUL; on
// failure nullptr, and *why says whether it was unterminated or the table full.
const char* take_string(uint64_t phys, const PhysMap& pm, MemoryMap& map, const char* unterminated,
                        const char** why) {
  const char* s = pm.to_virt<const char>(PhysAddr{phys});
  const int64_t n = bounded_length(s, kMaxString);
  if (n < 0) {
    *why = unterminated;
    return nullptr;
  }
  if (!protect(map, phys, static_cast<uint64_t>(n) + 1)) {
    *why = kTooManyRanges;
    return nullptr;
  }
  return s;
}

// Modules past the table are still reserved, but neither listed nor their
// strings copied.
void add_module(BootInfo& out, uint64_t start, uint64_t end, const char* cmdline) {
  if (out.module_count < sizeof out.modules / sizeof out.modules[0]) {
    out.modules[out.module_count++] = {
        .start = start, .end = end, .cmdline = out.keep_string(cmdline, kMaxString)};
  }
}

// BootInfo is not assignable (it points into itself): every field back to
// its initialiser by constructing it afresh in place (trivially destructible).
void reset(BootInfo& out, const char* protocol, uint64_t info_phys) {
  new (&out) BootInfo;
  out.protocol = protocol;
  out.info_phys = info_phys;
}

// ---- Multiboot1 -----------------------------------------------------------

namespace mb1 {
constexpr uint32_t kMem = 1u << 0, kCmdline = 1u << 2, kMods = 1u << 3, kAout = 1u << 4,
                   kElf = 1u << 5, kMmap = 1u << 6, kDrives = 1u << 7, kLoaderName = 1u << 9,
                   kFramebuffer = 1u << 12;
// Byte offsets in struct multiboot_info.
constexpr size_t kFlags = 0, kMemLower = 4, kMemUpper = 8, kCmdlineAddr = 16, kModsCount = 20,
                 kModsAddr = 24, kElfNum = 28, kElfSize = 32, kElfAddr = 36, kMmapLength = 44,
                 kMmapAddr = 48, kDrivesLength = 52, kDrivesAddr = 56, kLoaderNameAddr = 64,
                 kFbAddr = 88, kFbPitch = 96, kFbHeight = 104;
constexpr size_t kInfoSize = 116, kInfoSizeNoFramebuffer = 88;
// struct multiboot_mod_list: mod_start, mod_end, cmdline, pad.
constexpr size_t kModSize = 16;
}  // namespace mb1

}  // namespace

const char* BootInfo::keep_string(const char* s, size_t length) {
  if (strings_used >= kStringCapacity) {  // full: not even room for a NUL
    ++strings_truncated;
    return "";
  }
  char* copy = strings + strings_used;
  const size_t room = kStringCapacity - strings_used - 1;
  size_t n = 0;
  while (n < length && s[n] != '\0' && n < room) {
    copy[n] = s[n];
    ++n;
  }
  if (n < length && s[n] != '\0') ++strings_truncated;
  copy[n] = '\0';
  strings_used += n + 1;
  return copy;
}

bool parse_multiboot1(uint64_t info_phys, const PhysMap& pm, BootInfo& out, MemoryMap& map,
                      const char** error) {
  reset(out, "multiboot1", info_phys);
  if (info_phys == 0) return fail(error, "multiboot1: null info pointer");
  const auto* info = pm.to_virt<const unsigned char>(PhysAddr{info_phys});
  const uint32_t flags = u32(info, mb1::kFlags);
  out.info_size = (flags & mb1::kFramebuffer) ? mb1::kInfoSize : mb1::kInfoSizeNoFramebuffer;
  if (!protect(map, info_phys, out.info_size)) return fail(error, kTooManyRanges);
  if ((flags & mb1::kAout) && (flags & mb1::kElf)) {
    return fail(error, "multiboot1: a.out and ELF symbol flags both set");
  }

  if (flags & mb1::kCmdline) {
    const char* why = nullptr;
    const char* s = take_string(u32(info, mb1::kCmdlineAddr), pm, map,
                                "multiboot1: command line unterminated", &why);
    if (s == nullptr) return fail(error, why);
    out.cmdline = out.keep_string(s, kMaxString);
  }
  if (flags & mb1::kLoaderName) {
    const char* why = nullptr;
    const char* s = take_string(u32(info, mb1::kLoaderNameAddr), pm, map,
                                "multiboot1: loader name unterminated", &why);
    if (s == nullptr) return fail(error, why);
    out.loader_name = out.keep_string(s, kMaxString);
  }

  if (flags & mb1::kMods) {
    const uint32_t count = u32(info, mb1::kModsCount);
    const uint32_t list = u32(info, mb1::kModsAddr);
    if (count > kMaxModules) return fail(error, "multiboot1: implausible module count");
    if (count != 0 && list == 0) return fail(error, "multiboot1: modules without a list");
    if (!protect(map, list, uint64_t{count} * mb1::kModSize)) return fail(error, kTooManyRanges);
    const auto* mods = pm.to_virt<const unsigned char>(PhysAddr{list});
    for (uint32_t i = 0; i < count; ++i) {
      const unsigned char* m = mods + i * mb1::kModSize;
      const uint32_t start = u32(m, 0), end = u32(m, 4), string = u32(m, 8);
      if (end < start) return fail(error, "multiboot1: module ends before it starts");
      if (!protect(map, start, end - start, kModuleData)) return fail(error, kTooManyRanges);
      const char* cmdline = "";
      if (string != 0) {
        const char* why = nullptr;
        cmdline = take_string(string, pm, map, "multiboot1: module string unterminated", &why);
        if (cmdline == nullptr) return fail(error, why);
      }
      add_module(out, start, end, cmdline);
    }
  }

  if (flags & mb1::kElf) {
    // The kernel's own section headers: boot information like the rest (a
    // kernel that wants its symbols copies them before handing it back).
    if (!protect(map, u32(info, mb1::kElfAddr),
                 uint64_t{u32(info, mb1::kElfNum)} * u32(info, mb1::kElfSize))) {
      return fail(error, kTooManyRanges);
    }
  }
  if (flags & mb1::kDrives) {
    if (!protect(map, u32(info, mb1::kDrivesAddr), u32(info, mb1::kDrivesLength))) {
      return fail(error, kTooManyRanges);
    }
  }
  if (flags & mb1::kFramebuffer) {
    // Usually MMIO outside RAM; if a firmware put it in RAM, keep it out.
    if (!protect(map, u64(info, mb1::kFbAddr),
                 uint64_t{u32(info, mb1::kFbPitch)} * u32(info, mb1::kFbHeight),
                 RegionType::Reserved)) {
      return fail(error, kTooManyRanges);
    }
  }

  if (flags & mb1::kMmap) {
    const uint32_t length = u32(info, mb1::kMmapLength);
    const uint32_t addr = u32(info, mb1::kMmapAddr);
    if (length != 0 && addr == 0) return fail(error, "multiboot1: mmap without a buffer");
    if (!protect(map, addr, length)) return fail(error, kTooManyRanges);
    const AdapterResult r =
        add_multiboot1_mmap(pm.to_virt<const unsigned char>(PhysAddr{addr}), length, map);
    if (!r.ok) return fail(error, r.error);
    out.has_mmap = true;
  } else if (flags & mb1::kMem) {
    // KiB of lower memory from 0 and of upper memory from 1 MiB.
    map.add({.base = 0,
             .length = uint64_t{u32(info, mb1::kMemLower)} * KiB,
             .type = RegionType::Usable});
    map.add({.base = 1 * MiB,
             .length = uint64_t{u32(info, mb1::kMemUpper)} * KiB,
             .type = RegionType::Usable});
  } else {
    return fail(error, "multiboot1: neither mmap nor mem_lower/mem_upper");
  }
  return true;
}

// ---- Multiboot2 -----------------------------------------------------------

namespace {
namespace mb2 {
constexpr uint32_t kEnd = 0, kCmdline = 1, kLoaderName = 2, kModule = 3, kBasicMeminfo = 4,
                   kMmap = 6, kFramebuffer = 8, kEfi32 = 11, kEfi64 = 12, kAcpiOld = 14, kAcpiNew = 15, kEfiMmap = 17;
constexpr size_t kTagHeader = 8;   // type u32, size u32
constexpr size_t kInfoHeader = 8;  // total_size u32, reserved u32
// A string tag must hold at least the terminator; a module its two addresses.
constexpr size_t kStringTagMin = kTagHeader + 1, kModuleTagMin = kTagHeader + 8 + 1;
constexpr size_t kMeminfoTagSize = 16, kFramebufferTagMin = 29, kEfiMmapHeader = 16;
// EFI system table pointer tags: u32 (tag 11) or u64 (tag 12) after the header.
constexpr size_t kEfi32TagSize = 12, kEfi64TagSize = 16;
constexpr size_t kAcpiRsdpV1Size = 20;  // the RSDP copy follows the tag header
}  // namespace mb2

// The string inside a tag of `size` bytes starting at `offset` within it,
// or nullptr if the tag holds no terminator.
const char* tag_string(const unsigned char* tag, uint32_t size, size_t offset) {
  const char* s = reinterpret_cast<const char*>(tag + offset);
  return bounded_length(s, size - offset) < 0 ? nullptr : s;
}
}  // namespace

bool parse_multiboot2(uint64_t info_phys, const PhysMap& pm, BootInfo& out, MemoryMap& map,
                      const char** error) {
  reset(out, "multiboot2", info_phys);
  if (info_phys == 0) return fail(error, "multiboot2: null info pointer");
  if (info_phys % 8 != 0) return fail(error, "multiboot2: info not 8-byte aligned");
  const auto* info = pm.to_virt<const unsigned char>(PhysAddr{info_phys});
  const uint32_t total = u32(info, 0);
  if (total < mb2::kInfoHeader + mb2::kTagHeader)
    return fail(error, "multiboot2: total_size too small");
  if (total > kMaxMb2InfoSize) return fail(error, "multiboot2: implausible total_size");
  // Every string, the memory maps and module names are inside the structure.
  out.info_size = total;
  if (!protect(map, info_phys, total)) return fail(error, kTooManyRanges);

  const unsigned char* mmap_tag = nullptr;
  const unsigned char* efi_mmap_tag = nullptr;
  const unsigned char* meminfo_tag = nullptr;
  bool ended = false;
  for (size_t off = mb2::kInfoHeader; !ended;) {
    if (total - off < mb2::kTagHeader) return fail(error, "multiboot2: tags run past total_size");
    const unsigned char* tag = info + off;
    const uint32_t type = u32(tag, 0), size = u32(tag, 4);
    if (size < mb2::kTagHeader || size > total - off) {
      return fail(error, "multiboot2: tag size out of bounds");
    }
    switch (type) {
      case mb2::kEnd: ended = true; break;
      case mb2::kCmdline:
      case mb2::kLoaderName: {
        const char* s =
            size >= mb2::kStringTagMin ? tag_string(tag, size, mb2::kTagHeader) : nullptr;
        if (s == nullptr) return fail(error, "multiboot2: string tag unterminated");
        (type == mb2::kCmdline ? out.cmdline : out.loader_name) = out.keep_string(s, size);
        break;
      }
      case mb2::kModule: {
        if (size < mb2::kModuleTagMin) return fail(error, "multiboot2: module tag too short");
        const uint32_t start = u32(tag, 8), end = u32(tag, 12);
        if (end < start) return fail(error, "multiboot2: module ends before it starts");
        const char* s = tag_string(tag, size, 16);
        if (s == nullptr) return fail(error, "multiboot2: module string unterminated");
        if (!protect(map, start, end - start, kModuleData)) return fail(error, kTooManyRanges);
        add_module(out, start, end, s);
        break;
      }
      case mb2::kBasicMeminfo:
        if (size < mb2::kMeminfoTagSize) return fail(error, "multiboot2: meminfo tag too short");
        meminfo_tag = tag;
        break;
      case mb2::kMmap: mmap_tag = tag; break;
      case mb2::kEfi32:
        if (size < mb2::kEfi32TagSize) return fail(error, "multiboot2: EFI system table tag too short");
        if (out.efi_bits != 64) {  // a 64-bit pointer, if both came, wins
          out.efi_system_table = u32(tag, 8);
          out.efi_bits = 32;
        }
        break;
      case mb2::kEfi64:
        if (size < mb2::kEfi64TagSize) return fail(error, "multiboot2: EFI system table tag too short");
        out.efi_system_table = u64(tag, 8);
        out.efi_bits = 64;
        break;
      case mb2::kEfiMmap:
        if (size < mb2::kEfiMmapHeader) return fail(error, "multiboot2: EFI mmap tag too short");
        efi_mmap_tag = tag;
        break;
      case mb2::kFramebuffer:
        if (size >= mb2::kFramebufferTagMin) {
          // framebuffer_addr u64 @8, pitch u32 @16, width @20, height @24.
          if (!protect(map, u64(tag, 8), uint64_t{u32(tag, 16)} * u32(tag, 24),
                       RegionType::Reserved)) {
            return fail(error, kTooManyRanges);
          }
        }
        break;
      case mb2::kAcpiOld:
      case mb2::kAcpiNew:
        // The newer table wins whichever comes first.
        if (size >= mb2::kTagHeader + mb2::kAcpiRsdpV1Size &&
            (out.acpi_rsdp == 0 || type == mb2::kAcpiNew)) {
          out.acpi_rsdp = info_phys + off + mb2::kTagHeader;
          out.acpi_rsdp_tag = static_cast<uint8_t>(type);
        }
        break;
      default: break;  // tags this kernel has no use for
    }
    off += (size_t{size} + 7) & ~size_t{7};  // tags start 8-byte aligned
    if (!ended && off >= total) return fail(error, "multiboot2: no end tag");
  }

  // One memory source, the most precise present: the E820-style map, else
  // the EFI map, else the basic lower/upper sizes.
  if (mmap_tag != nullptr) {
    const AdapterResult r = add_multiboot2_mmap_tag(mmap_tag, map);
    if (!r.ok) return fail(error, r.error);
    out.has_mmap = true;
  } else if (efi_mmap_tag != nullptr) {
    const uint32_t size = u32(efi_mmap_tag, 4), descriptor_size = u32(efi_mmap_tag, 8);
    const AdapterResult r = add_uefi_memmap(efi_mmap_tag + mb2::kEfiMmapHeader,
                                            size - mb2::kEfiMmapHeader, descriptor_size, map);
    if (!r.ok) return fail(error, r.error);
    out.has_mmap = true;
  } else if (meminfo_tag != nullptr) {
    map.add({.base = 0, .length = uint64_t{u32(meminfo_tag, 8)} * KiB, .type = RegionType::Usable});
    map.add({.base = 1 * MiB,
             .length = uint64_t{u32(meminfo_tag, 12)} * KiB,
             .type = RegionType::Usable});
  } else {
    return fail(error, "multiboot2: no memory map and no basic meminfo tag");
  }
  return true;
}

}  // namespace pf::boot
