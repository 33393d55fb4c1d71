/* Two threads kfree one large kmalloc block at the same moment. */
#include "misuse.h"
static void* p;
static void setup(void) { CHECK((p = kmalloc(40000, GFP_KERNEL)) != NULL); }
static void go(void) { kfree(p); }
int main(void) {
  misuse_up();
  for (int round = 0; round < 2000; ++round) on_two_threads_at_once(setup, go);
  return got_through("kfree of one large block on two threads at once");
}
