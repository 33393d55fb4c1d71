/* pf_release_reserved of PF_REGION_KERNEL (the kernel image: never). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_release_reserved(PF_REGION_KERNEL);
  return got_through("pf_release_reserved of the kernel image");
}
