// delete.cpp — C++14's sized operator delete (and C++17's aligned sized
// forms, scalar and array) in libpfalloc.so. GCC emits them by default from
// C++14 on (-fsized-deallocation) wherever the size of what is deleted is
// known; libstdc++'s own versions drop the size and end in free(). Ours
// hand it to kfree_sized (shim.hpp: free_request), which then needs no
// lookup to find the object's cache. No other operator new or delete is
// defined here: new still reaches malloc/aligned_alloc through libstdc++
// (the requests below are the ones libstdc++ makes), unsized and nothrow
// deletes still reach free, and C++ has no sized nothrow delete.
//
// A program that replaces the unsized operator delete (or the aligned one,
// or the array ones) and not the sized ones relies on the standard's
// default sized delete calling its replacement ([new.delete.single]:
// "calls operator delete(ptr)"): its memory may come from a pool of its
// own, or it may count. So the first sized delete looks up, once, where
// each operator the default forms call is defined (dlsym, then dladdr:
// libstdc++'s or libc++'s own, or something else) and from then on a
// replaced chain is called, exactly as libstdc++'s default would; only a
// chain of defaults, which ends in our free(), is short-cut to the sized
// free; if the global free is not ours (the program defines the malloc
// family itself), no chain is short-cut. The dispatch costs one load of
// g_cxx and a compare.
//
// The look-up runs outside the allocator (no lock of ours is held), from a
// sized delete, i.e. when the program is running C++ code and its runtime
// is loaded; glibc's dlsym and dladdr allocate nothing on success (a failed
// dlsym allocates its error message, which is our malloc's, ready by then).
// Threads racing on the first look-up compute the same answer.
#include <dlfcn.h>
#include <string.h>

#include <atomic>
#include <new>

#include "hosted/preload/shim.hpp"

#define PF_EXPORT_CXX __attribute__((visibility("default")))

using namespace pf::preload;

namespace {

// The operators libstdc++'s default sized deletes end in (libstdc++ 12:
// delete(p, n) -> delete(p); delete[](p, n) -> delete[](p) -> delete(p);
// delete(p, n, al) -> delete(p, al); delete[](p, n, al) -> delete[](p, al)
// -> delete(p, al); delete(p) and delete(p, al) -> free(p)).
enum Chain : unsigned { kPlain, kArray, kAligned, kAlignedArray, kChains };
constexpr const char* kSymbol[kChains] = {"_ZdlPv", "_ZdaPv", "_ZdlPvSt11align_val_t", "_ZdaPvSt11align_val_t"};
// Each chain's first link and the link it calls by default (kChains: free).
constexpr Chain kNext[kChains] = {kChains, kPlain, kChains, kAligned};

// g_cxx: 0 until looked up; then kLookedUp | one kReplaced bit per chain
// whose first link or a later one is not a runtime's default. g_target[c]
// is written before g_cxx is published (release) and read after (acquire).
constexpr unsigned kLookedUp = 1;
constexpr unsigned replaced_bit(Chain c) { return 2u << c; }
std::atomic<unsigned> g_cxx{0};
std::atomic<void*> g_target[kChains];

// True if `path` is a C++ runtime whose default operators end in free():
// libstdc++ (GCC) or libc++/libc++abi (LLVM).
bool runtime_library(const char* path) {
  const char* base = strrchr(path, '/');
  base = base != nullptr ? base + 1 : path;
  return strncmp(base, "libstdc++.so", 12) == 0 || strncmp(base, "libc++.so", 9) == 0 ||
         strncmp(base, "libc++abi.so", 12) == 0;
}

// True if the first definition of `symbol` in the global scope is a
// runtime's default (or there is none: nothing can have replaced it).
bool is_default(const char* symbol, void** where) {
  void* f = dlsym(RTLD_DEFAULT, symbol);
  *where = f;
  if (f == nullptr) return true;
  Dl_info info{};
  return dladdr(f, &info) != 0 && info.dli_fname != nullptr && runtime_library(info.dli_fname);
}

// The global free when it is not ours (else null): a program that defines
// the malloc family itself (one statically linked with tcmalloc or
// jemalloc, say) comes first in the global scope, so libstdc++'s new
// reaches its malloc and the default sized delete its free, while the
// sized deletes, which it does not define, are still ours. Short-cutting
// them to kfree_sized handed its blocks to pfalloc, which aborted on the
// first one ("not in memory this allocator manages"); under glibc the
// program runs. So then every chain counts as replaced: the default
// operator it starts with, which ends in the program's free.
std::atomic<void*> g_foreign_free{nullptr};

void* foreign_free() {
  void* f = dlsym(RTLD_DEFAULT, "free");
  Dl_info theirs{}, mine{};
  // Our own address: this function's (hidden, so not interposed).
  if (f == nullptr || dladdr(f, &theirs) == 0 || dladdr(reinterpret_cast<void*>(&foreign_free), &mine) == 0 ||
      theirs.dli_fbase == mine.dli_fbase)
    return nullptr;
  return f;
}

[[gnu::cold, gnu::noinline]] unsigned look_up() {
  void* const other_free = foreign_free();
  g_foreign_free.store(other_free, std::memory_order_relaxed);
  bool replaced_link[kChains];
  for (unsigned c = 0; c < kChains; ++c) {
    void* f = nullptr;
    replaced_link[c] = !is_default(kSymbol[c], &f) || other_free != nullptr;
    g_target[c].store(f, std::memory_order_relaxed);
  }
  unsigned state = kLookedUp;
  for (unsigned c = 0; c < kChains; ++c)
    for (Chain link = static_cast<Chain>(c); link != kChains; link = kNext[link])
      if (replaced_link[link]) state |= replaced_bit(static_cast<Chain>(c));
  g_cxx.store(state, std::memory_order_release);
  return state;
}

// The program's chain for c: its first link, as the default sized delete
// calls it. Reached only when look_up found it replaced, so not null, or
// the free not ours (then, without a C++ runtime's operator to call, the
// program's free, where the default operators end).
[[gnu::cold, gnu::noinline]] void call_replaced(Chain c, void* p, std::align_val_t al) {
  void* f = g_target[c].load(std::memory_order_relaxed);
  if (f == nullptr) return reinterpret_cast<void (*)(void*)>(g_foreign_free.load(std::memory_order_relaxed))(p);
  if (c == kPlain || c == kArray)
    reinterpret_cast<void (*)(void*)>(f)(p);
  else
    reinterpret_cast<void (*)(void*, std::align_val_t)>(f)(p, al);
}

// The first sized delete, and every one while some chain is replaced: the
// program's chain for c if it replaced it, else the sized free. Out of line,
// so the fast path keeps nothing live across a call.
[[gnu::noinline]] void delete_slow(Chain c, void* p, size_t request, std::align_val_t al) {
  unsigned state = g_cxx.load(std::memory_order_acquire);
  if (state == 0) state = look_up();
  if ((state & replaced_bit(c)) != 0) return call_replaced(c, p, al);
  free_request(p, request);
}

// True once the look-up found every chain a runtime's default.
PF_FAST_PATH bool all_default() { return __builtin_expect(g_cxx.load(std::memory_order_acquire) == kLookedUp, 1); }

// libstdc++'s new(n) is malloc(n ? n : 1); new(n, al) is aligned_alloc(al,
// (n ? n : 1) rounded up to al) (al a power of two, else bad_alloc).
// Any other alignment (no new succeeded with it), or a size so large the
// rounding overflows, is judged by the size alone.
PF_FAST_PATH size_t aligned_new_request(size_t n, std::align_val_t al) {
  const size_t a = static_cast<size_t>(al);
  const size_t r = n != 0 ? n : 1;
  if (__builtin_expect(a == 0 || (a & (a - 1)) != 0 || a > kVirtAlign || r > ~size_t{0} - (a - 1), 0))
    return malloc_request(n);
  return aligned_request(a, (r + a - 1) & ~(a - 1));
}

}  // namespace

// The unsized operators stay libstdc++'s on purpose (see the top).
#pragma GCC diagnostic ignored "-Wsized-deallocation"

PF_EXPORT_CXX void operator delete(void* p, std::size_t n) noexcept {
  if (all_default()) return free_request(p, malloc_request(n));
  delete_slow(kPlain, p, malloc_request(n), std::align_val_t{0});
}

PF_EXPORT_CXX void operator delete[](void* p, std::size_t n) noexcept {
  if (all_default()) return free_request(p, malloc_request(n));
  delete_slow(kArray, p, malloc_request(n), std::align_val_t{0});
}

PF_EXPORT_CXX void operator delete(void* p, std::size_t n, std::align_val_t al) noexcept {
  if (all_default()) return free_request(p, aligned_new_request(n, al));
  delete_slow(kAligned, p, aligned_new_request(n, al), al);
}

PF_EXPORT_CXX void operator delete[](void* p, std::size_t n, std::align_val_t al) noexcept {
  if (all_default()) return free_request(p, aligned_new_request(n, al));
  delete_slow(kAlignedArray, p, aligned_new_request(n, al), al);
}
