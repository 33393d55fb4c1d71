// multiboot.cpp — see multiboot.hpp. (Stub: bodies follow.)
#include "multiboot.hpp"

namespace pf::boot {

bool parse_multiboot1(uint64_t, const PhysMap&, BootInfo&, MemoryMap&, const char** error) {
  if (error) *error = "not implemented";
  return false;
}
bool parse_multiboot2(uint64_t, const PhysMap&, BootInfo&, MemoryMap&, const char** error) {
  if (error) *error = "not implemented";
  return false;
}

}  // namespace pf::boot
