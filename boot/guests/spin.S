/* spin: prints one line, then loops forever without a single exit. Only a
 * timer (VMX preemption timer, or the LAPIC timer on AMD-V) takes the CPU
 * back from it: the scheduler's fairness test. */
        .code16
        .include "common.inc"
        .globl _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x1000, %sp
        PUTS16  msg
1:      inc     %eax
        jmp     1b

        .include "lib16.inc"
msg:    .asciz  "spinning without exits\n"
