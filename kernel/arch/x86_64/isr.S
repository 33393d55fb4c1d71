// isr.S — exception entry stubs (vectors 0..31) and fault probes.
//
// Every stub leaves the same frame on the stack (see ExceptionFrame in
// idt.hpp): general registers, vector, error code (0 where the CPU pushes
// none), then what the CPU pushed. exception_dispatch() either ends the run
// (a fault report) or, for a fault inside an armed probe, rewrites RIP/RSP to
// the probe's recovery point and returns here to iretq.
//
// Stack invariant at the call: the CPU aligned RSP to 16 before pushing its
// 5 words; 2 + 15 more words make 22, so RSP is 16-aligned at `call`.

        .section .text
        .code64

.macro ISR_NOERR n
isr_\n:
        pushq $0
        pushq $\n
        jmp isr_common
.endm
.macro ISR_ERR n
isr_\n:
        pushq $\n
        jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
ISR_NOERR 6
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
ISR_ERR   14
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR   29
ISR_ERR   30
ISR_NOERR 31

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
        call exception_dispatch
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
.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad isr_\n
.endr

// ---- Fault probes ------------------------------------------------------------
// int arch_probe_read(const void*), arch_probe_write(void*), arch_probe_exec(const void*):
// 0 when the access completed, 1 when it page-faulted. The write probe stores
// back the byte it read, so memory is unchanged either way. The exec probe
// calls the address, which must hold a `ret` if it is executable.
        .section .text
.macro PROBE_ARM
        movq %rsp, probe_saved_rsp(%rip)
        leaq 9f(%rip), %rax
        movq %rax, probe_recovery_rip(%rip)
        movb $1, probe_armed(%rip)
.endm
.macro PROBE_DONE
        movb $0, probe_armed(%rip)
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
