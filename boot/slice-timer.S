/* boot/slice-timer.S: the AMD-V time-slice interrupt: its IDT gates and ISR
 * (the LAPIC timer ends a guest's run with #VMEXIT(INTR), src/vmm/svm/svm.ts). */
#include "layout.inc"

        .text
        .code64

/* ---- AMD-V slice timer ------------------------------------------------------
 * void hw_slice_timer_install(u32 vector, u64 eoi_pa): points IDT[vector] at
 * slice_timer_isr (EOI to the xAPIC register at eoi_pa through the direct
 * map, iretq) and IDT[0xFF] (the spurious vector) at a bare iretq. The IDT is
 * found with sidt. SDM vol 3 6.14.1 (64-bit interrupt gate).
 * void hw_irq_window(): sti; nop; cli: lets a pending interrupt in. */
        .globl  hw_slice_timer_install
        .type   hw_slice_timer_install, @function
hw_slice_timer_install:
        movabs  $DIRECT_MAP, %rax
        add     %rax, %rsi
        mov     %rsi, slice_timer_eoi(%rip)
        sub     $16, %rsp
        sidt    (%rsp)
        mov     2(%rsp), %r8                /* IDT base */
        add     $16, %rsp
        mov     %edi, %edi
        shl     $4, %rdi
        lea     slice_timer_isr(%rip), %rax
        call    1f
        mov     $(0xff << 4), %edi
        lea     spurious_isr(%rip), %rax
        call    1f
        ret
1:      /* gate for handler rax at IDT offset rdi */
        mov     %rax, %rdx
        and     $0xffff, %edx               /* offset 15:0 */
        mov     %cs, %cx
        movzwl  %cx, %ecx
        shl     $16, %rcx
        or      %rcx, %rdx                  /* selector */
        movabs  $0x00008e0000000000, %rcx   /* present, DPL 0, interrupt gate */
        or      %rcx, %rdx
        mov     %rax, %rcx
        shr     $16, %rcx
        and     $0xffff, %ecx
        shl     $48, %rcx
        or      %rcx, %rdx                  /* offset 31:16 */
        shr     $32, %rax                   /* offset 63:32 */
        mov     %rdx, (%r8, %rdi)
        mov     %rax, 8(%r8, %rdi)
        ret
        .size   hw_slice_timer_install, . - hw_slice_timer_install

        .globl  hw_irq_window
        .type   hw_irq_window, @function
hw_irq_window:
        sti
        nop
        nop
        cli
        ret
        .size   hw_irq_window, . - hw_irq_window

slice_timer_isr:
        push    %rax
        mov     slice_timer_eoi(%rip), %rax
        movl    $0, (%rax)                  /* xAPIC EOI (SDM vol 3 10.8.5) */
        pop     %rax
        iretq

spurious_isr:                               /* no EOI for spurious (SDM 10.9) */
        iretq

        .data
        .balign 8
slice_timer_eoi:
        .quad   0
        .text

