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
//   state == RemoteFreed <=> a free on a CPU other than the block's home CPU
//     claimed it (an atomic claim, page_alloc.cpp) and left a token for it on
//     the home CPU's remote queue; it is not free until the home CPU (or a
//     stopper acting for it) collects it; every RemoteFreed head has at least
//     one token naming it;
//   state == Reserved => the frame is never handed out (descriptors, boot data).
// While a block is Allocated or Slab, `link_next`, `link_prev`, `owner` and
// `aux` belong to the layer above (the slab layer stores its cache and
// in-use count there); the buddy rewrites them only once the block is freed.
// One exception: a plain alloc_pages block (Allocated, owner 0) keeps in
// `aux` its home CPU, 1 + the CPU whose page cache handed it out (0: none,
// e.g. a block taken from a zone directly); written once at hand-out, read
// by the free that decides between the local and the remote path.
//
// Concurrency: `state` is read by the buddy under a zone lock while another
// CPU may flip a neighbouring block's state under its own lock (a per-CPU
// cache hand-out, or the slab layer marking a block Slab). Every access to
// `state` therefore goes through frame_state()/set_frame_state() (relaxed
// atomics: a plain byte load/store on x86-64). The other fields are owned by
// whoever owns the block and need no such care.
#pragma once

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include "types.hpp"

namespace pf {

enum class FrameState : uint8_t {
  Tail = 0,       // not the head of a block (what a zeroed descriptor says)
  Free = 1,       // head of a block on a buddy free list
  Cached = 2,     // head of a block in a per-CPU page cache
  Allocated = 3,  // head of a block handed out by alloc_pages or alloc_contig
  Slab = 4,       // head of a block that the slab layer carved into objects
  Reserved = 5,   // never handed out
  RemoteFreed = 6,  // head of a block freed on another CPU, awaiting its home CPU
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
// The atomic claim of the remote and the ownerless free paths (never on a
// fast path): exactly one of several concurrent claims of one block wins.
// acq_rel: the winner sees what the block's previous holder wrote.
inline bool claim_frame_state(FrameDescriptor& d, FrameState from, FrameState to) {
  return std::atomic_ref<FrameState>(d.state).compare_exchange_strong(from, to, std::memory_order_acq_rel,
                                                                      std::memory_order_relaxed);
}

// A block head's `order` and `owner` are read without a lock by a free
// that races another free of the same block (the loser reads them while the
// winner hands the block back and rewrites them), so the free paths and the
// writers on the way back to the buddy (zone push/take, merge, contig, slab
// grow/release) use relaxed atomics: plain moves on x86-64, an intended
// race to the compiler and ThreadSanitizer. Code under the zone lock that
// no free can race (split, verify) may use the fields plainly.
inline uint8_t frame_order(const FrameDescriptor& d) { return detail::load_relaxed(d.order); }
inline uint32_t frame_owner(const FrameDescriptor& d) { return detail::load_relaxed(d.owner); }
inline void set_frame_order(FrameDescriptor& d, uint8_t order) { detail::store_relaxed(d.order, order); }
inline void set_frame_owner(FrameDescriptor& d, uint32_t owner) { detail::store_relaxed(d.owner, owner); }

// The descriptor's second half, bytes 8..15 {owner, state, order, aux}, as
// one little-endian word: the page fast paths check a block with one load
// and compare (free_pages: owner 0, Allocated, the order, this CPU's home
// tag) and hand one out with one store (alloc_pages). Relaxed 64-bit
// atomics through a may_alias pointer (plain moves on x86-64; GCC's atomic
// builtins alias everything): they race, by design, with the 1-byte claim of
// a remote free (claim_frame_state) and with the field-wise relaxed accesses
// above, atomics all, which ThreadSanitizer accepts. The hand-out writes the
// whole word so that the next free's wide load is forwarded from that store
// (a wide load over a narrower pending store would stall).
//   frame_word(o, s, k, a) == o | s << 32 | k << 40 | a << 48
inline constexpr uint64_t frame_word(uint32_t owner, FrameState s, unsigned order, uint16_t aux) {
  return uint64_t{owner} | uint64_t{static_cast<uint8_t>(s)} << 32 | uint64_t{order & 0xffu} << 40 |
         uint64_t{aux} << 48;
}
namespace detail {
using FrameWord [[gnu::may_alias]] = uint64_t;
inline const FrameWord* frame_word_at(const FrameDescriptor& d) {
  static_assert(offsetof(FrameDescriptor, owner) == 8 && offsetof(FrameDescriptor, state) == 12 &&
                    offsetof(FrameDescriptor, order) == 13 && offsetof(FrameDescriptor, aux) == 14,
                "frame_word's layout");
  static_assert(std::endian::native == std::endian::little, "frame_word is little-endian");
  return reinterpret_cast<const FrameWord*>(reinterpret_cast<const unsigned char*>(&d) + 8);
}
}  // namespace detail
inline uint64_t load_frame_word(const FrameDescriptor& d) {
  return __atomic_load_n(detail::frame_word_at(d), __ATOMIC_RELAXED);
}
inline void store_frame_word(FrameDescriptor& d, uint64_t w) {
  __atomic_store_n(const_cast<detail::FrameWord*>(detail::frame_word_at(d)), w, __ATOMIC_RELAXED);
}

// A plain block's home CPU tag in `aux` (see above): 1 + cpu, 0 for none.
// Relaxed atomics (plain moves on x86-64): a racing second free of the block
// reads it on another CPU.
inline constexpr uint16_t kNoHomeCpu = 0;
inline constexpr uint16_t home_cpu_tag(unsigned cpu) { return static_cast<uint16_t>(cpu + 1); }
inline uint16_t home_of(const FrameDescriptor& d) {
  return std::atomic_ref<uint16_t>(const_cast<uint16_t&>(d.aux)).load(std::memory_order_relaxed);
}
inline void set_home(FrameDescriptor& d, uint16_t tag) {
  std::atomic_ref<uint16_t>(d.aux).store(tag, std::memory_order_relaxed);
}
// A plain block of `order` handed out by a page cache whose home tag is
// `tag`: owner 0, Allocated, order, home, in one store (see frame_word).
inline void hand_out(FrameDescriptor& d, unsigned order, uint16_t tag) {
  store_frame_word(d, frame_word(0, FrameState::Allocated, order, tag));
}

// The one vocabulary of `owner`, for every layer: who holds a block, or why
// a frame is kept out. Values, not bits. A block in state Slab is the one
// exception: its `owner` is the id of its cache (1..kMaxCacheId, all below
// the tags).
enum class Owner : uint32_t {
  // state Reserved:
  ReservedByBootmem = 0,               // descriptors, per-CPU caches
  ReservedBootloaderReclaimable = 1,   // loader memory, boot info: release_reserved() frees it
  ReservedAcpiReclaimable = 2,         // ACPI tables, once the kernel has read them
  ReservedHotplugMeta = 3,             // a hot-added range's own metadata (pf_add_memory):
                                       // its descriptors, lookup table, per-CPU slots
  // state Allocated:
  None = 0,                            // a plain alloc_pages block
  KmallocLarge = 0x80000001u,          // kmalloc > 8 KiB: a whole block
  SlabMeta = 0x80000002u,              // a cache's per-CPU arrays
  Contig = 0xc0471600u,                // a piece of an alloc_contig allocation
};
inline constexpr uint32_t owner_tag(Owner o) { return static_cast<uint32_t>(o); }
inline constexpr uint32_t kMaxCacheId = 0x7fffffffu;  // slab cache ids are 1..this

// The names the layers use (all from the enum above).
inline constexpr uint32_t kReservedByBootmem = owner_tag(Owner::ReservedByBootmem);
inline constexpr uint32_t kReservedBootloaderReclaimable = owner_tag(Owner::ReservedBootloaderReclaimable);
inline constexpr uint32_t kReservedAcpiReclaimable = owner_tag(Owner::ReservedAcpiReclaimable);
inline constexpr uint32_t kReservedHotplugMeta = owner_tag(Owner::ReservedHotplugMeta);
// Reserved reasons are 0..kReservedReasonCount-1; release_reserved() may hand
// back the reclaimable ones.
inline constexpr uint32_t kReservedReasonCount = 4;
const char* reserved_reason_name(uint32_t reason);  // "bootmem", ...; "unknown" past the end
inline constexpr uint32_t kOwnerKmallocLarge = owner_tag(Owner::KmallocLarge);
inline constexpr uint32_t kOwnerSlabMeta = owner_tag(Owner::SlabMeta);
inline constexpr uint32_t kOwnerContig = owner_tag(Owner::Contig);

}  // namespace pf
