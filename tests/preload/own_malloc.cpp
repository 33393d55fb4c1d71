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
#include "sized_deletes.hpp"

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
  for (const char* symbol : sized_deletes::kSymbols) CHECK(sized_deletes::defined_by_the_shim(symbol));
  const long allocs0 = g_allocs, frees0 = g_frees;

  sized_deletes::call_each();
  CHECK(g_allocs - allocs0 == 6);
  CHECK(g_frees - frees0 == 6);

  // Containers: every block they free was this program's.
  {
    std::vector<std::unique_ptr<sized_deletes::WithDtor>> v;
    for (int i = 0; i < 1000; ++i) v.push_back(std::make_unique<sized_deletes::WithDtor>());
    std::map<int, std::string> m;
    for (int i = 0; i < 1000; ++i) m[i] = std::string(static_cast<size_t>(i % 200), 'y');
  }
  CHECK(g_frees - frees0 == g_allocs - allocs0);
  if (failures != 0) return 1;
  printf("own_malloc: ok\n");
  return 0;
}
