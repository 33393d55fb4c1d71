/* One range hot-added on two threads at the same moment: one call adds it,
 * the other is refused as an overlap; the memory counted once. */
#include "misuse.h"
static int status[2];
static int which;
static void nothing(void) {}
static void go(void) {
  int s = pf_add_memory(80 * MiB, 8 * MiB);
  status[__atomic_fetch_add(&which, 1, __ATOMIC_ACQ_REL)] = s;
}
int main(void) {
  void* w = mmap(NULL, 96 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  misuse_up();
  struct pf_counters c0, c1;
  pf_get_counters(&c0);
  on_two_threads_at_once(nothing, go);
  CHECK((status[0] == PF_OK) != (status[1] == PF_OK));
  CHECK(status[0] == PF_ERR_HOTPLUG_OVERLAP || status[1] == PF_ERR_HOTPLUG_OVERLAP);
  pf_get_counters(&c1);
  CHECK(c1.managed_frames - c0.managed_frames <= 2048);
  CHECK(pf_verify() == 0);
  return 0;
}
