/* free_contig of a slab's page. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* o = kmalloc(4096, GFP_KERNEL);
  CHECK(o != NULL);
  free_contig(virt_to_phys(o), 1);
  return got_through("free_contig of a slab page");
}
