/* kcalloc whose n * size overflows, with a gfp bit outside __GFP_*: the
 * flags are misuse (pfalloc.h: judged by every call that takes flags). */
#include "misuse.h"
int main(void) {
  misuse_up();
  CHECK(kcalloc(SIZE_MAX / 2, 4, 0x80000000u) == NULL);
  return got_through("kcalloc with an unknown gfp bit (overflowing n * size)");
}
