// frame.hpp — the per-frame descriptor, kept out of band in one array per
// managed range (placed by bootmem inside usable memory).
//
// Invariants (checked by PageAllocator::verify()):
//   sizeof(FrameDescriptor) == 16;
//   only the head frame of a block has state != Tail; every other frame of
//     a block, free or allocated, is Tail (so a merge clears one descriptor);
//   state == Free    <=> the block is on its range's free list for `order`;
//   state == Cached  <=> the block sits in a per-CPU page cache;
//   state == Allocated or Slab => `order` is the order it was handed out at;
//   state == Reserved => the frame is never handed out (descriptors, boot data).
// While a block is Allocated or Slab, `link_next`, `link_prev`, `owner` and
// `aux` belong to the layer above (the slab layer stores its cache and
// in-use count there); the buddy rewrites them only once the block is freed.
//
// Concurrency: `state` is read by the buddy under a zone lock while another
// CPU may flip a neighbouring block's state under its own lock (a per-CPU
// cache hand-out, or the slab layer marking a block Slab). Every access to
// `state` therefore goes through frame_state()/set_frame_state() (relaxed
// atomics: a plain byte load/store on x86-64). The other fields are owned by
// whoever owns the block and need no such care.
#pragma once

#include <atomic>
#include <cstdint>

namespace pf {

enum class FrameState : uint8_t {
  Tail = 0,       // not the head of a block (what a zeroed descriptor says)
  Free = 1,       // head of a block on a buddy free list
  Cached = 2,     // head of a block in a per-CPU page cache
  Allocated = 3,  // head of a block handed out by alloc_pages or alloc_contig
  Slab = 4,       // head of a block that the slab layer carved into objects
  Reserved = 5,   // never handed out
};
const char* frame_state_name(FrameState s);

inline constexpr uint32_t kNoLink = 0xffffffffu;

struct FrameDescriptor {
  uint32_t link_next;  // Free: next block on the list (frame index in the range)
  uint32_t link_prev;  // Free: previous block, kNoLink at the head
  uint32_t owner;      // Allocated/Slab: the layer above's (slab: cache id)
  FrameState state;
  uint8_t order;       // head frames: the block's order
  uint16_t aux;        // Allocated/Slab: the layer above's (slab: objects in use)
};
static_assert(sizeof(FrameDescriptor) == 16, "descriptor must stay at 16 bytes per frame");

inline FrameState frame_state(const FrameDescriptor& d) {
  return std::atomic_ref<FrameState>(const_cast<FrameState&>(d.state)).load(std::memory_order_relaxed);
}
inline void set_frame_state(FrameDescriptor& d, FrameState s) {
  std::atomic_ref<FrameState>(d.state).store(s, std::memory_order_relaxed);
}

// `owner` of a Reserved frame says why it is kept out, and so whether
// PageAllocator::release_reserved() may hand it back (the reclaimable ones).
inline constexpr uint32_t kReservedByBootmem = 0;              // descriptors, per-CPU caches
inline constexpr uint32_t kReservedBootloaderReclaimable = 1;  // loader memory, boot info
inline constexpr uint32_t kReservedAcpiReclaimable = 2;        // ACPI tables (once read)
inline constexpr uint32_t kReservedReasonCount = 3;
const char* reserved_reason_name(uint32_t reason);  // "bootmem", ...; "unknown" past the end

}  // namespace pf
