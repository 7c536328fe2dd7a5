/* spin: prints one line, then loops forever without a single exit. Only a
 * timer (VMX preemption timer, or the LAPIC timer on AMD-V) takes the CPU
 * back from it: the scheduler's fairness test. BX = 0: spins with IF=0;
 * BX != 0: with IF=1 (Bochs 2.7's AMD-V model holds host interrupts while
 * the guest has IF=0, V_INTR_MASKING notwithstanding; QEMU and VT-x do not). */
        .code16
        .include "common.inc"
        .globl _start
_start:
        GUEST_ENTRY
        PUTS16  msg
        test    %bx, %bx
        jz      1f
        sti
1:      inc     %eax
        jmp     1b

        .include "lib16.inc"
msg:    .asciz  "spinning without exits\n"
