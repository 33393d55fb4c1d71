// types.hpp — the core's vocabulary as strong types: physical and virtual
// addresses, frame numbers and orders, plus the size constants and the three
// levels of checking every file uses.
//
// Invariants: a Pfn is PhysAddr >> kPageShift; an Order is < kOrderCount; a
// block of order k starts at a Pfn divisible by 2^k. Conversions between the
// types are explicit so that a frame number is never passed as an address.
// Freestanding: only headers that cost nothing at link time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <compare>

namespace pf {

inline constexpr unsigned kPageShift = 12;
inline constexpr uint64_t kPageSize = uint64_t{1} << kPageShift;
// Orders 0..kMaxOrder inclusive: the largest block is 4 MiB.
inline constexpr unsigned kMaxOrder = 10;
inline constexpr unsigned kOrderCount = kMaxOrder + 1;
// Physical addresses the allocator accepts: x86-64's architectural limit.
inline constexpr unsigned kPhysAddrBits = 52;
inline constexpr uint64_t kPhysAddrLimit = uint64_t{1} << kPhysAddrBits;
// Per-CPU state is sized for this many CPUs; current_cpu() must stay below.
inline constexpr unsigned kMaxCpus = 64;
// platform::cpu_id() (the fast paths' question) answers below kCpuIdBound: a
// CPU index (< kMaxCpus) or one of a platform's "no CPU" values from kMaxCpus
// up. The slab and page fast paths index their gates with it untested; every gate at
// or above the instance's cpu_count stays closed (cpu_cache.hpp, CpuGate).
inline constexpr unsigned kCpuIdBound = kMaxCpus + 4;

// Checking: cheap invariant asserts (PF_ASSERT) are always on; caller misuse
// goes through pf::report() with a named error; the expensive full walk is
// verify(), which callers and tests run when they choose. Debug checks that
// cost memory or time per object are a runtime option of the slab layer
// (SLAB_DEBUG), not a build flag, so one build serves both.

struct PhysAddr {
  uint64_t value = 0;
  constexpr PhysAddr() = default;
  constexpr explicit PhysAddr(uint64_t v) : value(v) {}
  constexpr auto operator<=>(const PhysAddr&) const = default;
  constexpr PhysAddr operator+(uint64_t d) const { return PhysAddr{value + d}; }
  constexpr PhysAddr operator-(uint64_t d) const { return PhysAddr{value - d}; }
  constexpr uint64_t operator-(PhysAddr o) const { return value - o.value; }
  constexpr bool is_null() const { return value == 0; }
  constexpr bool page_aligned() const { return (value & (kPageSize - 1)) == 0; }
  constexpr PhysAddr align_down(uint64_t a) const { return PhysAddr{value & ~(a - 1)}; }
  constexpr PhysAddr align_up(uint64_t a) const { return PhysAddr{(value + a - 1) & ~(a - 1)}; }
};

struct VirtAddr {
  uintptr_t value = 0;
  constexpr VirtAddr() = default;
  constexpr explicit VirtAddr(uintptr_t v) : value(v) {}
  explicit VirtAddr(const void* p) : value(reinterpret_cast<uintptr_t>(p)) {}
  constexpr auto operator<=>(const VirtAddr&) const = default;
  template <typename T = void>
  T* ptr() const { return reinterpret_cast<T*>(value); }
};

struct Pfn {
  uint64_t value = 0;
  constexpr Pfn() = default;
  constexpr explicit Pfn(uint64_t v) : value(v) {}
  constexpr auto operator<=>(const Pfn&) const = default;
  constexpr Pfn operator+(uint64_t d) const { return Pfn{value + d}; }
  constexpr Pfn operator-(uint64_t d) const { return Pfn{value - d}; }
  constexpr uint64_t operator-(Pfn o) const { return value - o.value; }
  constexpr Pfn& operator++() { ++value; return *this; }
};

struct Order {
  uint8_t value = 0;
  constexpr Order() = default;
  constexpr explicit Order(unsigned v) : value(static_cast<uint8_t>(v)) {}
  constexpr auto operator<=>(const Order&) const = default;
  constexpr uint64_t frames() const { return uint64_t{1} << value; }
  constexpr uint64_t bytes() const { return kPageSize << value; }
  constexpr bool valid() const { return value < kOrderCount; }
};

constexpr Pfn to_pfn(PhysAddr a) { return Pfn{a.value >> kPageShift}; }
constexpr PhysAddr to_phys(Pfn p) { return PhysAddr{p.value << kPageShift}; }
// A block of `order` starting at `p` is naturally aligned.
constexpr bool block_aligned(Pfn p, Order o) { return (p.value & (o.frames() - 1)) == 0; }

// Smallest order whose block holds `frames` frames (frames >= 1).
constexpr Order order_for_frames(uint64_t frames) {
  unsigned o = 0;
  while ((uint64_t{1} << o) < frames) ++o;
  return Order{o};
}

inline constexpr uint64_t KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB, TiB = 1024 * GiB;

// Plain fields that one writer changes while lock-free readers look (the
// range table grown by memory hot-add, the zone routes): relaxed or
// acquire/release accesses, which are plain moves on x86-64 but tell the
// compiler and ThreadSanitizer that the race is intended.
namespace detail {
template <typename T>
inline T load_relaxed(const T& x) { return __atomic_load_n(&x, __ATOMIC_RELAXED); }
template <typename T>
inline T load_acquire(const T& x) { return __atomic_load_n(&x, __ATOMIC_ACQUIRE); }
template <typename T>
inline void store_relaxed(T& x, T v) { __atomic_store_n(&x, v, __ATOMIC_RELAXED); }
template <typename T>
inline void store_release(T& x, T v) { __atomic_store_n(&x, v, __ATOMIC_RELEASE); }
}  // namespace detail

}  // namespace pf

// The fast paths: inlined wherever they are called, whatever the heuristics
// say (their point is to be a handful of instructions with no call).
#define PF_FAST_PATH __attribute__((always_inline)) inline
// The same for a lambda a fast path passes on: [&](...) PF_FAST_LAMBDA { ... }.
#define PF_FAST_LAMBDA __attribute__((always_inline))

// Always-on assert: a broken invariant of the allocator itself (not caller
// misuse, which goes through pf::report with a named error). Fatal.
#define PF_ASSERT(cond)                                                      \
  do {                                                                        \
    if (__builtin_expect(!(cond), 0))                                         \
      ::pf::assert_failed(#cond, __FILE__, __LINE__);                         \
  } while (0)

namespace pf {
[[noreturn]] void assert_failed(const char* cond, const char* file, int line);
}
