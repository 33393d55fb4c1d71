// bytes.hpp — little-endian field reads at byte offsets, for the boot
// adapters. Boot structures are packed and arbitrarily aligned, so fields are
// assembled from bytes (the compiler turns this into one load on x86-64):
// no alignment assumption, no memcpy, no packed structs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pf::boot::bytes {

inline uint8_t u8(const unsigned char* p, size_t off) { return p[off]; }
inline uint16_t u16(const unsigned char* p, size_t off) {
  return static_cast<uint16_t>(p[off] | (p[off + 1] << 8));
}
inline uint32_t u32(const unsigned char* p, size_t off) {
  return static_cast<uint32_t>(p[off]) | static_cast<uint32_t>(p[off + 1]) << 8 |
         static_cast<uint32_t>(p[off + 2]) << 16 | static_cast<uint32_t>(p[off + 3]) << 24;
}
inline uint64_t u64(const unsigned char* p, size_t off) {
  return static_cast<uint64_t>(u32(p, off)) | static_cast<uint64_t>(u32(p, off + 4)) << 32;
}
inline const unsigned char* at(const void* p) { return static_cast<const unsigned char*>(p); }

}  // namespace pf::boot::bytes
