/* Boot-loader memory released twice, ACPI tables released twice, and a
 * class with no memory at all: the second calls release 0, nothing lost. */
#include "misuse.h"
static const struct pf_region map[] = {
    {0x0, 0x9fc00, PF_REGION_USABLE},
    {1 * MiB, 30 * MiB, PF_REGION_USABLE},
    {31 * MiB, 2 * MiB, PF_REGION_BOOTLOADER_RECLAIMABLE},
    {33 * MiB, 1 * MiB, PF_REGION_ACPI_RECLAIMABLE},
    {34 * MiB, 30 * MiB, PF_REGION_USABLE},
};
int main(void) {
  misuse_up_on(map, sizeof map / sizeof map[0]);
  uint64_t before = free_frames();
  size_t a = pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE);
  CHECK(a == 512);
  CHECK(pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE) == 0);
  size_t b = pf_release_reserved(PF_REGION_ACPI_RECLAIMABLE);
  CHECK(b == 256);
  CHECK(pf_release_reserved(PF_REGION_ACPI_RECLAIMABLE) == 0);
  CHECK(free_frames() == before + a + b);
  CHECK(pf_verify() == 0);
  return 0;
}
