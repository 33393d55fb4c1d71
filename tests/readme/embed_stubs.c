/* embed_stubs.c — the rest of a minimal kernel around README's embedding
 * example, for `make test-readme`: the kernel functions the example declares,
 * the three mem* functions README says the core needs, and an entry point.
 * Linked freestanding with the core and -lgcc only, so any other symbol the
 * core starts to need fails the link (and README must then say so). It is
 * never run: the bodies only have to be plausible. */
#include <stddef.h>
#include <stdint.h>

#include "pfalloc.h"

void mm_init(const struct pf_region* e820, size_t n, uint64_t kernel_start, uint64_t kernel_end);

unsigned my_cpu(void) { return 0; }
void serial_write(const char* text, size_t n) {
  for (size_t i = 0; i < n; ++i) __asm__ volatile("outb %0, %1" : : "a"(text[i]), "Nd"((uint16_t)0x3f8));
}
void panic(const char* message) {
  serial_write(message, 1);
  for (;;) __asm__ volatile("cli; hlt");
}
unsigned long irq_save(void) {
  unsigned long flags;
  __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
  return flags;
}
void irq_restore(unsigned long flags) {
  if (flags & (1ul << 9)) __asm__ volatile("sti" : : : "memory");
}
void ipi_all_and_wait(void) {}

/* In assembly, so the compiler cannot turn them back into calls to themselves. */
void* memcpy(void* dst, const void* src, size_t n) {
  void* ret = dst;
  __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
  return ret;
}
void* memmove(void* dst, const void* src, size_t n) {
  unsigned char* d = dst;
  const unsigned char* s = src;
  if (d <= s || d >= s + n) return memcpy(dst, src, n);
  d += n - 1;
  s += n - 1;
  __asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
  return dst;
}
void* memset(void* dst, int value, size_t n) {
  void* ret = dst;
  __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(value) : "memory");
  return ret;
}

void kernel_entry(void) {
  static const struct pf_region e820[] = {{0, 0x9fc00, PF_REGION_USABLE},
                                          {0x100000, 0x7f00000, PF_REGION_USABLE}};
  mm_init(e820, 2, 0x100000, 0x400000);
  panic("mm_init returned");
}
