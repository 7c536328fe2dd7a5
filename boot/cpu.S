/* boot/cpu.S: GDT with a 64-bit TSS, the IDT, exception entry stubs and the
 * hand-off of every exception to the monitor's panic path. */
#include "layout.inc"
#include "frame.inc"

        .intel_syntax noprefix
        .code64

        .section .data
        .balign 16
/* GDT (SDM vol 3 3.4.5, 8.2.3): null, 64-bit code, data, 32-bit code, TSS */
        .globl gdt
gdt:
        .quad 0
        .quad 0x00AF9A000000FFFF        /* 0x08: code, L=1, DPL0 */
        .quad 0x00CF92000000FFFF        /* 0x10: data, DPL0 */
        .quad 0x00CF9A000000FFFF        /* 0x18: 32-bit code (AP start-up, later) */
gdt_tss:
        .quad 0, 0                      /* 0x20: 16-byte TSS descriptor, filled at boot */
gdt_end:
        .globl gdt_ptr
gdt_ptr:
        .word gdt_end - gdt - 1
        .quad gdt                       /* 32-bit lgdt reads the low 4 bytes only */

        .balign 16
idt_ptr:
        .word 256 * 16 - 1
        .quad idt

/* 64-bit TSS (SDM vol 3 8.7): IST1 #DF, IST2 NMI, IST3 #MC */
        .balign 16
        .globl tss
tss:
        .long 0
        .quad 0, 0, 0                   /* rsp0-2 */
        .quad 0
        .quad ist1_top, ist2_top, ist3_top, 0, 0, 0, 0
        .quad 0
        .word 0
        .word 104                       /* I/O map base beyond the limit: no bitmap */
tss_end:

        .section .bss
        .balign 4096
        .globl idt
idt:    .skip 256 * 16

        .section .text, "ax"
/* cpu_init: TSS descriptor, lgdt, reload segments, ltr, IDT */
        .globl cpu_init
cpu_init:
        lea rax, [rip + tss]
        mov rdx, tss_end - tss - 1      /* limit */
        mov ecx, eax
        and ecx, 0xFFFFFF
        shl rcx, 16                     /* base 23:0 -> bits 39:16 */
        or rdx, rcx
        mov rcx, rax
        shr rcx, 24
        and rcx, 0xFF
        shl rcx, 56                     /* base 31:24 -> bits 63:56 */
        or rdx, rcx
        mov rcx, 0x89                   /* present, type 9: available 64-bit TSS */
        shl rcx, 40
        or rdx, rcx
        mov [rip + gdt_tss], rdx
        shr rax, 32
        mov [rip + gdt_tss + 8], rax
        lgdt [rip + gdt_ptr]
        lea rax, [rip + 1f]
        push SEL_CODE64
        push rax
        retfq
1:      mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov ax, SEL_TSS
        ltr ax

        /* IDT: interrupt gates (type 0xE) at DPL0 (SDM vol 3 7.14.1) */
        lea rdi, [rip + idt]
        lea rsi, [rip + isr_table]
        xor ecx, ecx
2:      mov rax, [rsi + rcx * 8]
        mov rdx, rax
        and edx, 0xFFFF                 /* offset 15:0 */
        mov r8, SEL_CODE64
        shl r8, 16
        or rdx, r8
        xor r8, r8                      /* IST index */
        cmp ecx, 8
        jne 3f
        mov r8d, 1
3:      cmp ecx, 2
        jne 3f
        mov r8d, 2
3:      cmp ecx, 18
        jne 3f
        mov r8d, 3
3:      shl r8, 32
        or rdx, r8
        mov r8, 0x8E                    /* present, DPL0, 64-bit interrupt gate */
        shl r8, 40
        or rdx, r8
        mov r8, rax
        shr r8, 16
        and r8, 0xFFFF
        shl r8, 48                      /* offset 31:16 */
        or rdx, r8
        mov [rdi], rdx
        shr rax, 32
        mov [rdi + 8], rax
        add rdi, 16
        inc ecx
        cmp ecx, 256
        jb 2b
        lidt [rip + idt_ptr]
        ret

/* Stubs: vectors that push an error code (SDM vol 3 7.15): 8, 10-14, 17, 21,
 * 29, 30. The others push 0 so every frame looks the same. */
        .macro isr v
        .balign 16
isr_\v:
        .if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
        .else
        push 0
        .endif
        push \v
        jmp isr_common
        .endm

        .altmacro
        .set vec, 0
        .rept 256
        isr %vec
        .set vec, vec + 1
        .endr

        .macro isr_addr v
        .quad isr_\v
        .endm
        .section .rodata
        .balign 8
isr_table:
        .set vec, 0
        .rept 256
        isr_addr %vec
        .set vec, vec + 1
        .endr
        .noaltmacro

        .section .text, "ax"
/* isr_common: on entry [rsp] = vector, then error code, rip, cs, rflags, rsp, ss.
 * Builds the frame of frame.inc, copies it to tv_frame and calls the monitor:
 * panic_trap(5, frame) for a #PF inside the wasm guard range, else
 * panic_exception(frame). A fault while already panicking goes to the
 * assembly fallback. */
isr_common:
        sub rsp, 32                     /* CR slots, filled once rax is saved */
        push r15
        push r14
        push r13
        push r12
        push r11
        push r10
        push r9
        push r8
        push rbp
        push rdi
        push rsi
        push rdx
        push rcx
        push rbx
        push rax
        mov rax, cr0
        mov [rsp + F_CR0], rax
        mov rax, cr2
        mov [rsp + F_CR2], rax
        mov rax, cr3
        mov [rsp + F_CR3], rax
        mov rax, cr4
        mov [rsp + F_CR4], rax
        cld
        mov rsi, rsp
        lea rdi, [rip + tv_frame]
        mov ecx, FRAME_PUSHED / 8
        rep movsq
        mov qword ptr [rip + tv_frame + F_KIND], 0
        mov qword ptr [rip + tv_frame + F_TRAP], 0
        ENTER_PANIC
        /* #PF inside [WASM_BASE, WASM_BASE + 8 GiB + 64 KiB) is wasm trap 5 */
        cmp qword ptr [rip + tv_frame + F_VECTOR], 14
        jne 1f
        mov rax, [rip + tv_frame + F_CR2]
        mov rdx, WASM_BASE
        cmp rax, rdx
        jb 1f
        mov rdx, WASM_GUARD_END
        cmp rax, rdx
        jae 1f
        mov qword ptr [rip + tv_frame + F_KIND], 1
        mov qword ptr [rip + tv_frame + F_TRAP], 5
        mov edi, 5
        lea rsi, [rip + tv_frame]
        call wasm_export_panic_trap
        jmp 2f
1:      lea rdi, [rip + tv_frame]
        call wasm_export_panic_exception
2:      lea rsi, [rip + msg_panic_returned]
        jmp tv_panic_fallback_msg

        .section .rodata
msg_panic_returned: .asciz "\r\n[panic] the monitor's panic handler returned"
