/* A kfree long after the object's slab went back to the buddy and its
 * frame was handed out again as a plain page block. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(2048, GFP_KERNEL);
  CHECK(p != NULL);
  const pf_phys_t frame = virt_to_phys(p) & ~(PAGE - 1);
  kfree(p);
  pf_reclaim();
  static pf_phys_t got[256];
  size_t n = alloc_pages_bulk(0, GFP_KERNEL, 256, got);
  int reused = 0;
  for (size_t i = 0; i < n; ++i) reused |= got[i] == frame;
  CHECK(reused);
  kfree(p);
  return got_through("kfree into a frame reused as a page block");
}
