/* boot/slice-timer.S: the AMD-V time-slice interrupt: its IDT gates and ISR
 * (the LAPIC timer ends a guest's run with #VMEXIT(INTR), src/vmm/svm/svm.ts). */
#include "layout.inc"

        .intel_syntax noprefix
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
        movabs  rax, DIRECT_MAP
        add     rsi, rax
        mov     [rip + slice_timer_eoi], rsi
        sub     rsp, 16
        sidt    [rsp]
        mov     r8, [rsp + 2]               /* IDT base */
        add     rsp, 16
        mov     edi, edi
        shl     rdi, 4
        lea     rax, [rip + slice_timer_isr]
        call    1f
        mov     edi, 0xff << 4
        lea     rax, [rip + spurious_isr]
        call    1f
        ret
1:      /* gate for handler rax at IDT offset rdi */
        mov     rdx, rax
        and     edx, 0xffff                 /* offset 15:0 */
        mov     cx, cs
        movzx   ecx, cx
        shl     rcx, 16
        or      rdx, rcx                    /* selector */
        movabs  rcx, 0x00008e0000000000     /* present, DPL 0, interrupt gate */
        or      rdx, rcx
        mov     rcx, rax
        shr     rcx, 16
        and     ecx, 0xffff
        shl     rcx, 48
        or      rdx, rcx                    /* offset 31:16 */
        shr     rax, 32                     /* offset 63:32 */
        mov     [r8 + rdi], rdx
        mov     [r8 + rdi + 8], rax
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
        push    rax
        mov     rax, [rip + slice_timer_eoi]
        mov     dword ptr [rax], 0          /* xAPIC EOI (SDM vol 3 10.8.5) */
        pop     rax
        iretq

spurious_isr:                               /* no EOI for spurious (SDM 10.9) */
        iretq

        .data
        .balign 8
slice_timer_eoi:
        .quad   0
        .text

