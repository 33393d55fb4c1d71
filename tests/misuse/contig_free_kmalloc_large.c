/* free_contig of a large kmalloc block with its frame count. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* o = kmalloc(16 * PAGE, GFP_KERNEL);
  CHECK(o != NULL);
  free_contig(virt_to_phys(o), 16);
  return got_through("free_contig of a large kmalloc block");
}
