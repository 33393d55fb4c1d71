// frame.cpp — names of descriptor states and of reserved-frame reasons, for
// reports and verify() messages.
#include "frame.hpp"

namespace pf {

const char* frame_state_name(FrameState s) {
  switch (s) {
    case FrameState::Tail: return "tail";
    case FrameState::Free: return "free";
    case FrameState::Cached: return "cached";
    case FrameState::Allocated: return "allocated";
    case FrameState::Slab: return "slab";
    case FrameState::Reserved: return "reserved";
  }
  return "invalid";
}

const char* reserved_reason_name(uint32_t reason) {
  switch (reason) {
    case kReservedByBootmem: return "bootmem";
    case kReservedBootloaderReclaimable: return "bootloader-reclaimable";
    case kReservedAcpiReclaimable: return "acpi-reclaimable";
    case kReservedHotplugMeta: return "hot-add metadata";
    default: return "unknown";
  }
}

}  // namespace pf
