// sized_replaced.cpp — a C++ program that replaces the unsized operator
// new and delete (plain and aligned) but none of the sized deletes, run
// with the shim preloaded (shim_test.cpp: Shim.SizedDeleteReachesAProgramsReplacement).
// The standard's default sized delete calls the unsized one, and the
// shim's must too: the replacement keeps a 64-byte header in front of
// every block (so a block handed to the shim's sized free instead would
// abort as not an object start) and counts its calls. The sized deletes
// themselves are the shim's (the program does not define them; checked by
// name with dladdr). Prints "sized_replaced: ok" and exits 0, or names each
// failed check and exits 1.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>

#include "check.h"
#include "sized_deletes.hpp"

namespace {

constexpr size_t kHeader = 64;
long g_new, g_delete, g_aligned_new, g_aligned_delete;

int failures;




}  // namespace

// The pattern this program stands for; GCC warns about it for that reason.
#pragma GCC diagnostic ignored "-Wsized-deallocation"

void* operator new(size_t n) {
  ++g_new;
  char* p = static_cast<char*>(malloc(n + kHeader));
  if (p == nullptr) abort();
  return p + kHeader;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  ++g_delete;
  free(static_cast<char*>(p) - kHeader);
}
void* operator new(size_t n, std::align_val_t al) {
  ++g_aligned_new;
  const size_t a = static_cast<size_t>(al) > kHeader ? static_cast<size_t>(al) : kHeader;
  char* p = static_cast<char*>(aligned_alloc(a, n + a));
  if (p == nullptr) abort();
  return p + a;
}
void operator delete(void* p, std::align_val_t al) noexcept {
  if (p == nullptr) return;
  ++g_aligned_delete;
  const size_t a = static_cast<size_t>(al) > kHeader ? static_cast<size_t>(al) : kHeader;
  free(static_cast<char*>(p) - a);
}

int main() {
  for (const char* symbol : sized_deletes::kSymbols) CHECK(sized_deletes::defined_by_the_shim(symbol));
  const long new0 = g_new, delete0 = g_delete, anew0 = g_aligned_new, adelete0 = g_aligned_delete;

  sized_deletes::call_each();

  CHECK(g_new - new0 == 3);
  CHECK(g_delete - delete0 == 3);
  CHECK(g_aligned_new - anew0 == 3);
  CHECK(g_aligned_delete - adelete0 == 3);
  if (failures != 0) return 1;
  printf("sized_replaced: ok\n");
  return 0;
}
