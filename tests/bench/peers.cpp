// peers.cpp — the out-of-line parts of the peers: glibc's allocator found by
// dlsym on libc.so.6 (mimalloc, jemalloc and tcmalloc export `malloc` too,
// so the name alone could bind to any of them), and the ideal array stack.
#include "peers.hpp"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace pf::bench {

namespace {

void* libc_handle() {
  // Already loaded in every process: RTLD_NOLOAD takes the existing handle.
  void* h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  if (h == nullptr) h = dlopen("libc.so.6", RTLD_NOW);
  return h;
}

template <typename Fn>
Fn resolve(void* handle, const char* name) {
  void* sym = dlsym(handle, name);
  if (sym == nullptr) {
    std::fprintf(stderr, "bench: dlsym(libc.so.6, %s) failed: %s\n", name, dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(sym);
}

GlibcApi load_glibc() {
  void* h = libc_handle();
  if (h == nullptr) {
    std::fprintf(stderr, "bench: dlopen(libc.so.6) failed: %s\n", dlerror());
    std::abort();
  }
  GlibcApi api;
  api.malloc = resolve<void* (*)(size_t)>(h, "malloc");
  api.free = resolve<void (*)(void*)>(h, "free");
  api.aligned_alloc = resolve<void* (*)(size_t, size_t)>(h, "aligned_alloc");
  return api;
}

}  // namespace

const GlibcApi& glibc_api() {
  static const GlibcApi api = load_glibc();
  return api;
}

bool process_malloc_is_glibc() {
  return dlsym(RTLD_DEFAULT, "malloc") == reinterpret_cast<void*>(glibc_api().malloc);
}

IdealStack::IdealStack(size_t pages) : slots_(pages) {
  // Addresses of a made-up range starting at 1 MiB, lowest on top.
  for (size_t i = 0; i < pages; ++i) slots_[i] = (uintptr_t{1} << 20) + (pages - 1 - i) * kPage;
  top_ = pages;
}

uintptr_t IdealStack::pop() { return top_ == 0 ? 0 : slots_[--top_]; }

void IdealStack::push(uintptr_t page) {
  if (top_ < slots_.size()) slots_[top_++] = page;
}

}  // namespace pf::bench
