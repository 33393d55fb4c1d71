// trampoline.S — where an application processor starts: real mode at
// physical page P (the SIPI vector), to protected mode, to long mode, to
// ap_entry (C++, higher half) on its own stack.
//
// This is a position-independent blob in .rodata: the boot CPU copies
// [ap_trampoline_start, ap_trampoline_end) to a frame below 1 MiB that the
// allocator handed it (smp.cpp), fills the tramp_* parameters there, and
// sends INIT-SIPI-SIPI. Nothing here refers to an absolute address: real
// mode addresses through CS = P >> 4, protected mode through EBX = P, long
// mode RIP-relative. The parameters the blob cannot know are patched in:
//   tramp_gdt_pointer+2  P + offset of tramp_gdt
//   tramp_far32          P + offset of ap_pm32, selector 0x08
//   tramp_far64          P + offset of ap_lm64, selector 0x18
//   tramp_cr3            a PML4 below 4 GiB that identity-maps P (and holds
//                        the kernel's upper half, where ap_entry runs)
//   tramp_efer           EFER bits to set: LME, and NXE if the boot CPU has it
//   tramp_stack          the AP's stack top (virtual)
//   tramp_percpu         its PerCpu (GS base)
//   tramp_entry          ap_entry
//   tramp_idt_pointer    the kernel's IDT, loaded as soon as long mode is
//                        reached, so a fault from then on is reported
// Interrupts stay off throughout (the AP starts with IF = 0).

        .section .rodata
        .balign 16
        .global ap_trampoline_start, ap_trampoline_end
        .global tramp_gdt, tramp_gdt_pointer, tramp_far32, tramp_far64, tramp_cr3, tramp_efer
        .global tramp_stack, tramp_percpu, tramp_entry, tramp_idt_pointer, ap_pm32, ap_lm64
        .code16
ap_trampoline_start:
        cli
        cld
        movw %cs, %ax
        movw %ax, %ds
        xorl %ebx, %ebx
        movw %ax, %bx
        shll $4, %ebx                              // EBX = P
        lgdtl tramp_gdt_pointer - ap_trampoline_start
        movl %cr0, %eax
        orl $1, %eax                               // PE
        movl %eax, %cr0
        ljmpl *(tramp_far32 - ap_trampoline_start)

        .code32
ap_pm32:
        movw $0x10, %ax
        movw %ax, %ds
        movw %ax, %es
        movw %ax, %ss
        movw %ax, %fs
        movw %ax, %gs
        movl %cr4, %eax
        orl $(1 << 5), %eax                        // PAE
        movl %eax, %cr4
        movl (tramp_cr3 - ap_trampoline_start)(%ebx), %eax
        movl %eax, %cr3
        movl $0xC0000080, %ecx                     // EFER
        rdmsr
        orl (tramp_efer - ap_trampoline_start)(%ebx), %eax
        wrmsr
        movl %cr0, %eax
        orl $0x80000001, %eax                      // PG | PE
        movl %eax, %cr0
        ljmpl *(tramp_far64 - ap_trampoline_start)(%ebx)

        .code64
ap_lm64:
        lidt tramp_idt_pointer(%rip)
        movl $0xC0000101, %ecx                     // GS base: this CPU's PerCpu
        movl tramp_percpu(%rip), %eax
        movl tramp_percpu + 4(%rip), %edx
        wrmsr
        movq tramp_stack(%rip), %rsp
        movq tramp_percpu(%rip), %rdi
        movq tramp_entry(%rip), %rax
        xorl %ebp, %ebp
        pushq $0                                   // as if called: RSP + 8 is 16-aligned
        jmp *%rax

        .balign 8
tramp_gdt:
        .quad 0
        .quad 0x00CF9A000000FFFF                   // 0x08: 32-bit code
        .quad 0x00CF92000000FFFF                   // 0x10: data
        .quad 0x00AF9A000000FFFF                   // 0x18: 64-bit code
tramp_gdt_end:
        .balign 8
tramp_gdt_pointer:
        .short tramp_gdt_end - tramp_gdt - 1
        .long 0
        .balign 8
tramp_far32:    .long 0
                .short 0x08
        .balign 8
tramp_far64:    .long 0
                .short 0x18
        .balign 8
tramp_cr3:      .long 0
tramp_efer:     .long 0
tramp_stack:    .quad 0
tramp_percpu:   .quad 0
tramp_entry:    .quad 0
        .balign 8
tramp_idt_pointer:
        .short 0
        .quad 0
ap_trampoline_end:

        .section .note.GNU-stack, "", @progbits
