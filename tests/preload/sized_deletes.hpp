// sized_deletes.hpp — what the C++ programs test-preload-unit runs with the
// shim preloaded (sized_replaced.cpp, own_malloc.cpp) share: whether the
// shim defines each sized delete, and one call of each, through the types
// that make the compiler choose it. Each program counts where the calls end.
#pragma once

#include <dlfcn.h>
#include <string.h>

#include <new>

namespace sized_deletes {

// Whether `symbol`, as the dynamic linker resolves it, lies in the shim.
inline bool defined_by_the_shim(const char* symbol) {
  Dl_info info{};
  void* f = dlsym(RTLD_DEFAULT, symbol);
  return f != nullptr && dladdr(f, &info) != 0 && info.dli_fname != nullptr &&
         strstr(info.dli_fname, "libpfalloc.so") != nullptr;
}
// The four sized deletes (plain and array, each also aligned), mangled.
inline constexpr const char* kSymbols[] = {"_ZdlPvm", "_ZdaPvm", "_ZdlPvmSt11align_val_t",
                                           "_ZdaPvmSt11align_val_t"};

template <class T>
T* opaque(T* p) {
  asm volatile("" : "+r"(p) : : "memory");
  return p;
}

struct Plain {
  char bytes[100];
};
struct WithDtor {  // new[] stores a count in front: delete[] is sized
  ~WithDtor() { bytes[0] = 0; }
  char bytes[40];
};
struct alignas(64) Aligned {
  char bytes[200];
};
struct alignas(128) AlignedWithDtor {
  ~AlignedWithDtor() { bytes[0] = 0; }
  char bytes[300];
};

// Six allocations, each freed by a sized delete: three plain, three aligned.
inline void call_each() {
  delete opaque(new Plain);                  // operator delete(void*, size_t)
  delete[] opaque(new WithDtor[5]);          // operator delete[](void*, size_t)
  ::operator delete(opaque(::operator new(10)), 10);
  delete opaque(new Aligned);                // operator delete(void*, size_t, align_val_t)
  delete[] opaque(new AlignedWithDtor[3]);   // operator delete[](void*, size_t, align_val_t)
  ::operator delete(opaque(::operator new(10, std::align_val_t{256})), 10, std::align_val_t{256});
}

}  // namespace sized_deletes
