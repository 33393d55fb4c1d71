/* pf_release_reserved of PF_REGION_USABLE (no reclaimable class). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_release_reserved(PF_REGION_USABLE);
  return got_through("pf_release_reserved of a type that is no reclaimable class");
}
