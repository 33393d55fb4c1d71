/* A use-after-free write over objects that sit in this CPU's array, then
 * pf_reclaim (the array gives them back to their slabs): the broken marks
 * are named, the objects dropped, never handed out. */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 20 };
  char* o[N + 1];
  for (int i = 0; i <= N; ++i) CHECK((o[i] = kmalloc(256, GFP_KERNEL)) != NULL);
  for (int i = 1; i <= N; ++i) kfree(o[i]);
  for (int i = 1; i <= N; ++i) memset(o[i], 0, 256);
  pf_reclaim();
  return got_through("use-after-free writes over objects in a per-CPU array");
}
