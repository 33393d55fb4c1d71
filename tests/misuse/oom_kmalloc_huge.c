/* Requests no memory can satisfy: null results, nothing lost. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(kmalloc(SIZE_MAX, GFP_KERNEL | __GFP_NOWARN) == NULL);
  CHECK(kmalloc((size_t)1 << 40, GFP_KERNEL | __GFP_NOWARN) == NULL);
  CHECK(kzalloc(SIZE_MAX / 2, __GFP_NOWARN) == NULL);
  CHECK(kcalloc(SIZE_MAX / 8 + 1, 16, __GFP_NOWARN) == NULL); /* n * size overflows */
  void* p = kmalloc(32, GFP_KERNEL);
  CHECK(p != NULL);
  CHECK(krealloc(p, SIZE_MAX, __GFP_NOWARN) == NULL); /* p stays valid */
  kfree(p);
  CHECK(alloc_contig((size_t)1 << 30, 0, 0, 0, __GFP_NOWARN) == 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
