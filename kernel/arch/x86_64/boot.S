// boot.S — from the boot loader to C++: Multiboot1 and Multiboot2 headers,
// the 32-bit entry, the boot page tables, long mode, the higher half.
//
// Both protocols enter _start in 32-bit protected mode with paging off,
// EAX = magic and EBX = physical address of the boot information.
// Everything in the .boot.* sections runs (or is read) at its physical
// address, before the higher half exists; the linker script places it,
// page aligned, in front of the kernel proper so that the kernel can hand
// these frames back to the allocator once its own page tables are live.
//
// Boot page tables (invariant until kernel_main switches CR3):
//   virtual [0, 4 GiB)                      -> physical [0, 4 GiB)   identity
//   virtual [0xffff800000000000, +4 GiB)    -> physical [0, 4 GiB)   direct map
//   virtual [0xffffffff80000000, +1 GiB)    -> physical [0, 1 GiB)   kernel image
// all with 2 MiB pages, read/write, executable (W^X comes with the real tables).

#define KERNEL_VMA 0xffffffff80000000
#define MB1_MAGIC 0x1BADB002
#define MB1_FLAGS 0x00000003          /* page-align modules, give memory info */
#define MB2_MAGIC 0xE85250D6

// ---- Multiboot headers (first 8 KiB of the file; the linker puts them first)
        .section .multiboot, "a"
        .balign 4
mb1_header:
        .long MB1_MAGIC
        .long MB1_FLAGS
        .long 0x100000000 - (MB1_MAGIC + MB1_FLAGS)

        .balign 8
mb2_header:
        .long MB2_MAGIC
        .long 0                                   // architecture: i386 protected mode
        .long mb2_header_end - mb2_header
        .long 0x100000000 - (MB2_MAGIC + (mb2_header_end - mb2_header))
        .balign 8                                 // entry address tag: enter at _start (physical)
        .short 3, 0
        .long 12
        .long _start
        .balign 8                                 // module alignment tag: page-aligned modules
        .short 6, 0
        .long 8
        .balign 8                                 // end tag
        .short 0, 0
        .long 8
mb2_header_end:

// ---- 32-bit entry ----------------------------------------------------------
        .section .boot.text, "ax"
        .code32
        .global _start
_start:
        cli
        cld
        movl %eax, boot_magic
        movl %ebx, boot_info
        rdtsc
        movl %eax, boot_tsc
        movl %edx, boot_tsc + 4
        movl $(boot_stack_top - KERNEL_VMA), %esp

        // Zero .bss: the loaders do (memsz > filesz), but nothing depends on it.
        movl $(__bss_start - KERNEL_VMA), %edi
        movl $(__bss_end - KERNEL_VMA), %ecx
        subl %edi, %ecx
        shrl $2, %ecx
        xorl %eax, %eax
        rep stosl

        // Long mode present? (CPUID 0x80000001 EDX bit 29)
        movl $0x80000000, %eax
        cpuid
        cmpl $0x80000001, %eax
        jb no_long_mode
        movl $0x80000001, %eax
        cpuid
        btl $29, %edx
        jnc no_long_mode
        movl %edx, %ebp                           // keep the NX bit (20) for EFER below
        // SSE2 (CPUID 1 EDX bit 26) and SSE (bit 25): architectural on
        // x86-64, but QEMU can take either away (-cpu qemu64,-sse2 or -sse);
        // rdtsc() orders itself with lfence, which TCG refuses (#UD) without
        // the SSE bit as well as without SSE2, and fences are mfence (SSE2):
        // a fault before the IDT exists is a triple fault, not this message.
        // (-sse alone, with SSE2 still announced, was a silent triple fault.)
        movl $1, %eax
        cpuid
        movl $no_sse2_text, %esi
        andl $(3 << 25), %edx
        cmpl $(3 << 25), %edx
        jne boot_refused

        // Zero the boot tables: the loader should have, but nothing depends on it.
        movl $boot_tables_start, %edi
        movl $((boot_tables_end - boot_tables_start) / 4), %ecx
        xorl %eax, %eax
        rep stosl

        movl $(boot_pdpt_low + 3), boot_pml4               // identity
        movl $(boot_pdpt_low + 3), boot_pml4 + 256 * 8     // direct map
        movl $(boot_pdpt_high + 3), boot_pml4 + 511 * 8    // kernel image
        movl $(boot_pd + 0x0000 + 3), boot_pdpt_low + 0 * 8
        movl $(boot_pd + 0x1000 + 3), boot_pdpt_low + 1 * 8
        movl $(boot_pd + 0x2000 + 3), boot_pdpt_low + 2 * 8
        movl $(boot_pd + 0x3000 + 3), boot_pdpt_low + 3 * 8
        movl $(boot_pd + 3), boot_pdpt_high + 510 * 8      // 0xffffffff80000000 -> 0

        // 2048 entries of 2 MiB: present | writable | page size. The top
        // frame address is 0xffe00000, so the high dwords stay zero.
        xorl %ecx, %ecx
1:      movl %ecx, %eax
        shll $21, %eax
        orl $0x83, %eax
        movl %eax, boot_pd(, %ecx, 8)
        incl %ecx
        cmpl $2048, %ecx
        jb 1b

        movl %cr4, %eax
        orl $(1 << 5), %eax                       // PAE
        movl %eax, %cr4
        movl $boot_pml4, %eax
        movl %eax, %cr3

        movl $0xC0000080, %ecx                    // EFER
        rdmsr
        orl $(1 << 8), %eax                       // LME
        btl $20, %ebp
        jnc 2f
        orl $(1 << 11), %eax                      // NXE, when the CPU has NX
2:      wrmsr

        movl %cr0, %eax
        orl $0x80010001, %eax                     // PG | WP | PE
        movl %eax, %cr0

        lgdt boot_gdt_pointer
        ljmp $0x08, $long_mode_entry

no_long_mode:
        movl $no_long_mode_text, %esi
boot_refused:                                     // %esi: the message
3:      lodsb
        testb %al, %al
        jz 4f
        movw $0x3f8, %dx
        outb %al, %dx
        jmp 3b
4:      movw $0xf4, %dx
        movl $0x12, %eax                          // ExitCode::Fatal
        outl %eax, %dx
5:      hlt
        jmp 5b

        .code64
long_mode_entry:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        xorl %eax, %eax
        movw %ax, %fs
        movw %ax, %gs
        movabsq $higher_half_entry, %rax
        jmp *%rax

// ---- boot data (physical addresses) ------------------------------------------
        .section .boot.data, "aw"
        .balign 8
boot_gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF                  // 0x08: 64-bit code
        .quad 0x00CF92000000FFFF                  // 0x10: data
boot_gdt_end:
boot_gdt_pointer:
        .short boot_gdt_end - boot_gdt - 1
        .long boot_gdt
        .balign 8
boot_magic: .long 0
boot_info:  .long 0
boot_tsc:   .quad 0
no_long_mode_text:
        .asciz "pfalloc: this CPU has no long mode (x86-64); cannot boot\r\n"
no_sse2_text:
        .asciz "pfalloc: this CPU has no SSE2 or no SSE (every x86-64 CPU has both; the kernel uses lfence and mfence); cannot boot\r\n"

        .section .boot.tables, "aw", @nobits
        .balign 4096
boot_tables_start:
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4096 * 4
boot_tables_end:

// ---- the higher half -----------------------------------------------------------
        .section .text
        .code64
higher_half_entry:
        movabsq $boot_stack_top, %rsp
        xorl %ebp, %ebp
        movl boot_magic, %edi                     // 32-bit loads zero-extend:
        movl boot_info, %esi                      // the upper halves were undefined
        movq boot_tsc, %rdx
        call kernel_main
1:      cli
        hlt
        jmp 1b

// Stacks, each with an unmapped guard page below it (the real page tables
// leave the guard pages out, so an overflow faults instead of corrupting).
        .section .bss.stack, "aw", @nobits
        .balign 4096
        .global kernel_stack_guard, boot_stack_top, fault_stack_guard, fault_stack_top
kernel_stack_guard:
        .skip 4096
        .skip 65536
boot_stack_top:
fault_stack_guard:
        .skip 4096
        .skip 16384
fault_stack_top:

        .section .note.GNU-stack, "", @progbits
