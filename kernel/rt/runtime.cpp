// runtime.cpp — what a freestanding C++ kernel must supply itself: the
// mem* functions GCC emits calls to even with -ffreestanding, global
// constructors (.init_array), and stubs for the C++ ABI entry points that
// must exist but must never run (pure virtual call, deleting destructors,
// atexit registration: the kernel never exits normally).
//
// The mem* bodies are `rep movsb/stosb` in inline assembly so the compiler
// cannot turn them back into calls to themselves.
#include <cstddef>
#include <cstdint>

#include "kernel/mm/platform.hpp"
#include "kernel/rt/runtime.hpp"

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
  void* ret = dst;
  asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
  return ret;
}

void* memmove(void* dst, const void* src, size_t n) {
  auto* d = static_cast<unsigned char*>(dst);
  auto* s = static_cast<const unsigned char*>(src);
  if (d == s || n == 0) return dst;
  if (d < s || d >= s + n) return memcpy(dst, src, n);
  // Overlap with dst above src: copy backwards.
  const unsigned char* s_end = s + n - 1;
  unsigned char* d_end = d + n - 1;
  asm volatile("std; rep movsb; cld" : "+D"(d_end), "+S"(s_end), "+c"(n) : : "memory");
  return dst;
}

void* memset(void* dst, int value, size_t n) {
  void* ret = dst;
  asm volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(value) : "memory");
  return ret;
}

int memcmp(const void* a, const void* b, size_t n) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; ++i) {
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return 0;
}

size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

void __cxa_pure_virtual() { pf::platform::fatal("pure virtual function called"); }

// With -fno-use-cxa-atexit, destructors of globals are registered here. The
// kernel never returns from kernel_main, so they never run.
int atexit(void (*)(void)) { return 0; }
void* __dso_handle = nullptr;

extern void (*const __init_array_start[])();
extern void (*const __init_array_end[])();

}  // extern "C"

// The kernel has no heap: operator new is never defined, so a stray `new`
// fails the link. Deleting destructors still reference operator delete.
void operator delete(void*) noexcept { pf::platform::fatal("operator delete called"); }
void operator delete(void*, size_t) noexcept { pf::platform::fatal("operator delete called"); }

namespace pf::rt {

size_t run_global_constructors() {
  size_t n = 0;
  for (auto* fn = __init_array_start; fn != __init_array_end; ++fn, ++n) (*fn)();
  return n;
}

}  // namespace pf::rt
