// byte_reader.hpp — how the fuzzers turn their input into numbers: little-
// endian fields read in order, zeros once the input runs out (so every input,
// however short, decodes to something).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pf::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  bool done() const { return i_ >= n_; }
  uint64_t u8() { return i_ < n_ ? p_[i_++] : 0; }
  uint64_t u16() { return u8() | u8() << 8; }
  uint64_t u32() { return u16() | u16() << 16; }
  uint64_t u64() { return u32() | u32() << 32; }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t i_ = 0;
};

}  // namespace pf::fuzz
