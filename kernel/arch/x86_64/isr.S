// isr.S — interrupt entry stubs (all 256 vectors) and fault probes.
//
// Every stub leaves the same frame on the stack (see ExceptionFrame in
// idt.hpp): general registers, vector, error code (0 where the CPU pushes
// none), then what the CPU pushed. interrupt_dispatch() runs the handler of an
// interrupt vector, or ends the run (a fault report), or, for a fault inside
// an armed probe, rewrites RIP/RSP to the probe's recovery point; then iretq.
//
// Stack invariant at the call: the CPU aligned RSP to 16 before pushing its
// 5 words; 2 + 15 more words make 22, so RSP is 16-aligned at `call`.

        .section .text
        .code64

// The CPU pushes an error code for 8, 10-14, 17, 21, 29 and 30 only.
.macro ISR n
isr_\n:
  .if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
  .else
        pushq $0
  .endif
        pushq $\n
        jmp isr_common
.endm

        .altmacro
        .set vec, 0
        .rept 256
        ISR %vec
        .set vec, vec + 1
        .endr

isr_common:
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
        movq %rsp, %rdi
        cld
        call interrupt_dispatch
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
        addq $16, %rsp                            // vector, error code
        iretq

        .section .rodata
        .balign 8
        .global isr_stub_table
isr_stub_table:
.macro ISR_ADDRESS n
        .quad isr_\n
.endm
        .set vec, 0
        .rept 256
        ISR_ADDRESS %vec
        .set vec, vec + 1
        .endr

// ---- Fault probes ------------------------------------------------------------
// int arch_probe_read(const void*), arch_probe_write(void*), arch_probe_exec(const void*):
// 0 when the access completed, 1 when it page-faulted. The write probe stores
// back the byte it read, so memory is unchanged either way. The exec probe
// calls the address, which must hold a `ret` if it is executable.
        .section .text
// The probe state is the calling CPU's (PerCpu at %gs, offsets in percpu.hpp).
.macro PROBE_ARM
        movq %rsp, %gs:16
        leaq 9f(%rip), %rax
        movq %rax, %gs:24
        movq $1, %gs:32
.endm
.macro PROBE_DONE
        movq $0, %gs:32
        xorl %eax, %eax
        ret
9:      movl $1, %eax                             // the handler disarmed the probe
        ret
.endm

        .global arch_probe_read
arch_probe_read:
        PROBE_ARM
        movb (%rdi), %al
        PROBE_DONE

        .global arch_probe_write
arch_probe_write:
        PROBE_ARM
        movb (%rdi), %al
        movb %al, (%rdi)
        PROBE_DONE

        .global arch_ret_instruction
arch_ret_instruction:
        ret

        .global arch_probe_exec
arch_probe_exec:
        PROBE_ARM
        call *%rdi
        PROBE_DONE

        .section .note.GNU-stack, "", @progbits
