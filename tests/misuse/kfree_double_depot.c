/* A burst freed, its first object again: a full per-CPU array gave its
 * oldest objects to the cache's depot, so the second free finds the object
 * there (marked "in the depot") and must name it. */
#include "misuse.h"
#define N 200
int main(void) {
  misuse_up();
  void* objs[N];
  for (int i = 0; i < N; ++i) {
    objs[i] = kmalloc(1024, GFP_KERNEL);
    CHECK(objs[i] != NULL);
  }
  for (int i = 0; i < N; ++i) kfree(objs[i]);
  kfree(objs[0]);
  return got_through("double kfree of an object in the depot");
}
