/* kfree((void*)16): a small integer taken for a pointer. */
#include "misuse.h"
int main(void) {
  misuse_up();
  kfree((void*)16);
  return got_through("kfree of a small integer");
}
