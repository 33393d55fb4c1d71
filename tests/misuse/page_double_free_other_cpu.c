/* One block freed on this CPU, then again on another one. */
#include "misuse.h"
static pf_phys_t block;
static void* free_again(void* arg) {
  (void)arg;
  free_pages(block, 0);
  return NULL;
}
int main(void) {
  misuse_up();
  block = alloc_pages(0, GFP_KERNEL);
  CHECK(block != 0);
  free_pages(block, 0);
  on_other_thread(free_again, NULL);
  return got_through("free_pages of one block on two CPUs");
}
