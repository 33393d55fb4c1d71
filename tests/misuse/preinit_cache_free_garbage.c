/* kmem_cache_free before pf_init with a handle that never was a cache (an
 * unmapped address: reading it would be SIGSEGV): refused by name, the
 * handle not read. */
#include "misuse.h"
int main(void) {
  char on_stack[64];
  kmem_cache_free((struct kmem_cache*)(uintptr_t)0xdead0000beef0ull, on_stack);
  return got_through("kmem_cache_free with a garbage handle before pf_init");
}
