// hosted.hpp — what the Linux build adds around the core: physical memory as
// one MAP_NORESERVE window, log capture, CPU-slot control for tests.
//
// Invariant: a HostedMemory maps exactly one region for its lifetime, so the
// number of mappings in /proc/self/maps does not grow with allocations. The
// window covers [low, high) of the fake physical address space; frames are
// reached at phys + direct_map_offset(), and untouched frames cost nothing.
// direct_map_offset() is a multiple of the largest block (4 MiB), so a
// block's physical alignment is its virtual alignment, as in a direct map.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/mm/memmap.hpp"
#include "kernel/mm/types.hpp"

namespace pf::hosted {

class HostedMemory {
 public:
  HostedMemory() = default;
  ~HostedMemory();
  HostedMemory(const HostedMemory&) = delete;
  HostedMemory& operator=(const HostedMemory&) = delete;

  // Reserves a window for fake physical addresses [low, high). False (and
  // nothing mapped) if the address space refuses it.
  bool reserve(PhysAddr low, PhysAddr high);
  // The window spanning every usable entry of a normalised map.
  bool reserve_for(const MemoryMap& map);

  uintptr_t direct_map_offset() const { return offset_; }
  PhysAddr low() const { return low_; }
  PhysAddr high() const { return high_; }
  template <typename T = std::byte>
  T* to_virt(PhysAddr p) const { return reinterpret_cast<T*>(p.value + offset_); }
  // Resident bytes of the window (mincore), to prove untouched frames are free.
  uint64_t resident_bytes() const;

 private:
  void* base_ = nullptr;
  size_t size_ = 0;
  uintptr_t offset_ = 0;
  PhysAddr low_, high_;
};

// Number of lines in /proc/self/maps.
size_t mapping_count();

using LogSink = void (*)(const char* text, size_t length, void* context);
struct LogSinkSlot {
  LogSink sink = nullptr;  // nullptr: stderr
  void* context = nullptr;
};
// Captures the log hook's output; returns the previous sink, so that nested
// captures restore each other in LIFO order.
LogSinkSlot set_log_sink(LogSinkSlot slot);
inline LogSinkSlot set_log_sink(LogSink sink, void* context) { return set_log_sink({sink, context}); }

// Moves the calling thread to CPU slot `cpu` (tests that want a given
// per-CPU cache): gives back its slot and claims that one. False when a live
// thread owns it: the caller then has no slot (PF_NO_CPU, the shared path)
// until its next set_this_thread_cpu().
bool set_this_thread_cpu(unsigned cpu);

// Threads claim slots below n only (n = the allocator's cpu_count, so a slot
// is never claimed that the core would serve through the shared path
// anyway); 0 or above kMaxCpus: kMaxCpus. Also creates the thread-exit key
// now, so that a later claim inside malloc never has to.
void set_slot_limit(unsigned n);
// Slots claimed by live threads (a snapshot).
unsigned slots_in_use();
// In a fork child (one thread left): every slot but the calling thread's is
// given back; their caches stay intact for the next owners (pf_fork_child).
void fork_child_reset_slots();

}  // namespace pf::hosted
