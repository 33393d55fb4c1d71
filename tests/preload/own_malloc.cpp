// own_malloc.cpp — a C++ program that defines the malloc family itself (as
// one statically linked with tcmalloc or jemalloc does) and uses new and
// delete from libstdc++, run with the shim preloaded (shim_test.cpp:
// Shim.SizedDeleteReachesAProgramsOwnFree). The executable comes first in
// the global scope, so libstdc++'s operator new reaches this malloc, and
// the default sized delete would end in this free; the sized deletes are
// the shim's (the program does not define them; checked with dladdr) and
// must end there too, not in pfalloc (which aborted: "not in memory this
// allocator manages"). The blocks come from a static arena with a 64-byte
// header; every free is checked to be a block start of ours and counted.
// Prints "own_malloc: ok" and exits 0, or names each failed check and
// exits 1.
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "check.h"

namespace {

constexpr size_t kHeader = 64;
alignas(4096) char g_arena[32 << 20];
size_t g_used;
long g_allocs, g_frees;
int failures;

bool mine(const void* p) { return p >= g_arena + kHeader && p < g_arena + sizeof g_arena; }

[[noreturn]] void die(const char* what) {
  write(STDERR_FILENO, what, strlen(what));
  abort();
}

// A bump allocator: the header holds the block's size; free only checks.
void* take(size_t align, size_t n) {
  if (align < 16) align = 16;
  size_t start = (g_used + kHeader + align - 1) & ~(align - 1);
  if (n > sizeof g_arena || start + n > sizeof g_arena) {
    errno = ENOMEM;
    return nullptr;
  }
  g_used = start + n;
  memcpy(g_arena + start - kHeader, &n, sizeof n);
  ++g_allocs;
  return g_arena + start;
}
size_t size_of(const void* p) {
  size_t n;
  memcpy(&n, static_cast<const char*>(p) - kHeader, sizeof n);
  return n;
}

bool defined_by_the_shim(const char* symbol) {
  Dl_info info{};
  void* f = dlsym(RTLD_DEFAULT, symbol);
  return f != nullptr && dladdr(f, &info) != 0 && info.dli_fname != nullptr &&
         strstr(info.dli_fname, "libpfalloc.so") != nullptr;
}

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

}  // namespace

extern "C" {
void* malloc(size_t n) { return take(16, n); }
void free(void* p) {
  if (p == nullptr) return;
  if (!mine(p)) die("own_malloc: free of a pointer not mine\n");
  ++g_frees;
}
void* calloc(size_t a, size_t b) {
  size_t n;
  if (__builtin_mul_overflow(a, b, &n)) return nullptr;
  void* p = take(16, n);
  if (p != nullptr) memset(p, 0, n);
  return p;
}
void* realloc(void* p, size_t n) {
  void* q = take(16, n);
  if (q == nullptr || p == nullptr) return q;
  const size_t old = size_of(p);
  memcpy(q, p, old < n ? old : n);
  free(p);
  return q;
}
void* aligned_alloc(size_t align, size_t n) { return take(align, n); }
void* memalign(size_t align, size_t n) { return take(align, n); }
int posix_memalign(void** out, size_t align, size_t n) {
  void* p = take(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
size_t malloc_usable_size(void* p) { return p != nullptr ? size_of(p) : 0; }
}

int main() {
  CHECK(defined_by_the_shim("_ZdlPvm"));
  CHECK(defined_by_the_shim("_ZdaPvm"));
  CHECK(defined_by_the_shim("_ZdlPvmSt11align_val_t"));
  CHECK(defined_by_the_shim("_ZdaPvmSt11align_val_t"));
  const long allocs0 = g_allocs, frees0 = g_frees;

  delete opaque(new Plain);                       // operator delete(void*, size_t)
  delete[] opaque(new WithDtor[5]);               // operator delete[](void*, size_t)
  ::operator delete(opaque(::operator new(10)), 10);
  delete opaque(new Aligned);                     // operator delete(void*, size_t, align_val_t)
  delete[] opaque(new AlignedWithDtor[3]);        // operator delete[](void*, size_t, align_val_t)
  ::operator delete(opaque(::operator new(10, std::align_val_t{256})), 10, std::align_val_t{256});
  CHECK(g_allocs - allocs0 == 6);
  CHECK(g_frees - frees0 == 6);

  // Containers: every block they free was this program's.
  {
    std::vector<std::unique_ptr<WithDtor>> v;
    for (int i = 0; i < 1000; ++i) v.push_back(std::make_unique<WithDtor>());
    std::map<int, std::string> m;
    for (int i = 0; i < 1000; ++i) m[i] = std::string(static_cast<size_t>(i % 200), 'y');
  }
  CHECK(g_frees - frees0 == g_allocs - allocs0);
  if (failures != 0) return 1;
  printf("own_malloc: ok\n");
  return 0;
}
