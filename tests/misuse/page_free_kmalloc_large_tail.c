/* free_pages of the second page of a large kmalloc block, order 0. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* o = kmalloc(5 * PAGE * 4, GFP_KERNEL);
  CHECK(o != NULL);
  free_pages(virt_to_phys(o) + PAGE, 0);
  return got_through("free_pages of a large kmalloc block's tail page");
}
