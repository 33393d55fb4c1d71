/* kmem_cache_create with a null name (the first of its refused arguments;
 * capi_test checks the others one by one). */
#include "misuse.h"
int main(void) {
  misuse_up();
  kmem_cache_create(NULL, 64, 0, 0, NULL);
  return got_through("kmem_cache_create with no name");
}
