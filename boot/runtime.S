/* boot/runtime.S: what the AOT-compiled monitor calls (ABI.md): tv_trap,
 * tv_memory_grow, tv_stack_limit and the hw_NAME externs; the assembly panic
 * fallback; early console output. */
#include "layout.inc"
#include "frame.inc"

        .intel_syntax noprefix
        .code64

        .section .data
        .balign 8
        .globl tv_stack_limit, tv_boot_info
tv_stack_limit: .quad 0                 /* AOT prologues: cmp rsp, [tv_stack_limit]; jb trap */
tv_boot_info:   .fill BI_COUNT, 8, 0

        .section .bss
        .balign 64
        .globl tv_frame, tv_in_panic
tv_frame:    .skip FRAME_SIZE
tv_in_panic: .skip 8

        .section .text, "ax"

/* tv_memory_grow(delta_pages: edi) -> eax: old size in pages, or -1.
 * Maps and zeroes 4 KiB pages of the heap pool at the end of linear memory.
 * Uses caller-saved registers only. */
        .globl tv_memory_grow
tv_memory_grow:
        mov eax, [rip + tv_boot_info + BI_MEMORY_PAGES * 8]
        mov ecx, edi
        test ecx, ecx
        jz 9f
        lea rdx, [rax + rcx]
        cmp rdx, [rip + tv_boot_info + BI_MEMORY_MAX * 8]
        ja 8f
        mov [rip + tv_boot_info + BI_MEMORY_PAGES * 8], rdx
        mov r8, rax
        shl r8, 4                       /* first 4 KiB page to map */
        mov r9, rdx
        shl r9, 4                       /* end */
        mov r10, DIRECT_MAP
        mov r11, rax                    /* keep the old size */
1:      cmp r8, r9
        jae 2f
        mov rsi, r8
        shl rsi, 12
        add rsi, [rip + heap_data_pa]   /* physical page */
        lea rdi, [rsi + r10]
        xor eax, eax
        mov ecx, 512
        rep stosq                       /* wasm pages start zeroed */
        mov rdi, r8
        shr rdi, 9
        shl rdi, 12
        add rdi, [rip + heap_pt_pa]
        add rdi, r10                    /* the PT, through the direct map */
        mov rcx, r8
        and ecx, 511
        or rsi, PTE_P | PTE_W
        mov [rdi + rcx * 8], rsi        /* not-present -> present: no invlpg (SDM 4.10.4.3) */
        inc r8
        jmp 1b
2:      mov eax, r11d
        ret
8:      mov eax, -1
9:      ret

/* tv_trap(code: edi, rip: rsi, rbp: rdx), noreturn: a wasm trap. */
        .globl tv_trap
tv_trap:
        mov [rip + tv_frame + F_RAX], rax
        mov [rip + tv_frame + F_RBX], rbx
        mov [rip + tv_frame + F_RCX], rcx
        mov [rip + tv_frame + F_RDX], rdx
        mov [rip + tv_frame + F_RSI], rsi
        mov [rip + tv_frame + F_RDI], rdi
        mov [rip + tv_frame + F_RBP], rdx   /* the trapping function's frame */
        mov [rip + tv_frame + F_R8], r8
        mov [rip + tv_frame + F_R9], r9
        mov [rip + tv_frame + F_R10], r10
        mov [rip + tv_frame + F_R11], r11
        mov [rip + tv_frame + F_R12], r12
        mov [rip + tv_frame + F_R13], r13
        mov [rip + tv_frame + F_R14], r14
        mov [rip + tv_frame + F_R15], r15
        mov rax, cr0
        mov [rip + tv_frame + F_CR0], rax
        mov rax, cr2
        mov [rip + tv_frame + F_CR2], rax
        mov rax, cr3
        mov [rip + tv_frame + F_CR3], rax
        mov rax, cr4
        mov [rip + tv_frame + F_CR4], rax
        mov qword ptr [rip + tv_frame + F_VECTOR], TRAP_VECTOR
        mov qword ptr [rip + tv_frame + F_ERROR], 0
        mov [rip + tv_frame + F_RIP], rsi
        mov eax, cs
        mov [rip + tv_frame + F_CS], rax
        pushfq
        pop rax
        mov [rip + tv_frame + F_RFLAGS], rax
        lea rax, [rsp + 8]
        mov [rip + tv_frame + F_RSP], rax
        mov eax, ss
        mov [rip + tv_frame + F_SS], rax
        mov qword ptr [rip + tv_frame + F_KIND], 1
        mov eax, edi
        mov [rip + tv_frame + F_TRAP], rax
        cli
        ENTER_PANIC
        lea rsi, [rip + tv_frame]
        call wasm_export_panic_trap
        lea rsi, [rip + msg_panic_returned2]
        jmp tv_panic_fallback_msg

/* The last resort: a fault inside the panic path, or a panic handler that
 * returned. Prints the frame in hex straight to COM1 and exits. */
        .globl tv_panic_fallback, tv_panic_fallback_msg
tv_panic_fallback_msg:
        lea rsp, [rip + fallback_stack_top]
        call tv_puts
        jmp 1f
tv_panic_fallback:
        lea rsp, [rip + fallback_stack_top]
1:      lea rsi, [rip + msg_fb_head]
        call tv_puts
        lea rbx, [rip + fallback_fields]
2:      movzx eax, word ptr [rbx]
        cmp eax, 0xFFFF
        je 3f
        lea rsi, [rbx + 2]
        call tv_puts
        movzx eax, word ptr [rbx]
        lea rcx, [rip + tv_frame]
        mov rax, [rcx + rax]
        call tv_puthex
        add rbx, 8
        jmp 2b
3:      lea rsi, [rip + msg_crlf]
        call tv_puts
        mov edi, EXIT_FAILURE
        jmp hw_debug_exit

/* boot_fatal: rsi = message; an error before the monitor runs */
        .globl boot_fatal
boot_fatal:
        call tv_puts
        mov edi, EXIT_FAILURE
        jmp hw_debug_exit

/* tv_putc: al. Waits for THRE (LSR bit 5), bounded so a missing UART cannot hang us. */
        .globl tv_putc, tv_puts, tv_puthex
tv_putc:
        push rcx
        push rdx
        mov ah, al
        mov ecx, 1000000
        mov dx, COM1 + 5
1:      in al, dx
        test al, 0x20
        jnz 2f
        pause
        loop 1b
2:      mov dx, COM1
        mov al, ah
        out dx, al
        pop rdx
        pop rcx
        ret
/* tv_puts: rsi = NUL-terminated string */
tv_puts:
        push rsi
1:      mov al, [rsi]
        test al, al
        jz 2f
        call tv_putc
        inc rsi
        jmp 1b
2:      pop rsi
        ret
/* tv_puthex: rax as 16 hex digits */
tv_puthex:
        push rcx
        push rdx
        mov rdx, rax
        mov ecx, 16
1:      rol rdx, 4
        mov al, dl
        and al, 15
        add al, '0'
        cmp al, '9'
        jbe 2f
        add al, 'a' - '9' - 1
2:      call tv_putc
        loop 1b
        pop rdx
        pop rcx
        ret

/* ---- hw_NAME externs (ABI.md: SysV, preserve callee-saved registers) ---- */

/* hw_boot_info(index: i32) -> i64: slot of tv_boot_info (layout.inc BI_*) */
        .globl hw_boot_info
hw_boot_info:
        xor eax, eax
        cmp edi, BI_COUNT
        jae 1f
        mov eax, edi
        lea rcx, [rip + tv_boot_info]
        mov rax, [rcx + rax * 8]
1:      ret

/* hw_symtab() -> i64: address (= physical) of tv_symtab; hw_symtab_count() */
        .globl hw_symtab, hw_symtab_count
hw_symtab:
        lea rax, [rip + tv_symtab]
        ret
hw_symtab_count:
        mov rax, [rip + tv_symtab_count]
        ret

/* hw_ud2(): raises #UD on purpose (panic-test=ud) */
        .globl hw_ud2
hw_ud2:
        push rbp
        mov rbp, rsp
        ud2

/* hw_stack_overflow(): panic-test=guard. Runs rsp down into the guard page
 * under the main stack: the #PF cannot push its frame there, so the CPU
 * raises #DF (SDM vol 3 7.15, interrupt 8), which runs on IST1. */
        .globl hw_stack_overflow
hw_stack_overflow:
        lea rsp, [rip + main_stack_bottom + 64]
1:      push rax
        jmp 1b

/* hw_halt(): noreturn; interrupts off, halt forever */
        .globl hw_halt
hw_halt:
        cli
1:      hlt
        jmp 1b

/* hw_debug_exit(value: i32), noreturn: drains COM1 (LSR.TEMT, bit 6) so the
 * last bytes reach the harness, writes the value to QEMU's isa-debug-exit
 * (status (value<<1)|1), asks Bochs to stop (port 0x8900 "Shutdown"), halts. */
        .globl hw_debug_exit
hw_debug_exit:
        cli
        mov ecx, 1000000
        mov dx, COM1 + 5
1:      in al, dx
        test al, 0x40
        jnz 2f
        pause
        loop 1b
2:      mov eax, edi
        mov dx, DEBUG_EXIT_PORT
        out dx, eax
        lea rsi, [rip + str_shutdown]
        mov dx, BOCHS_SHUTDOWN_PORT
3:      mov al, [rsi]
        test al, al
        jz hw_halt
        out dx, al
        inc rsi
        jmp 3b

        .section .rodata
str_shutdown:        .asciz "Shutdown"
msg_panic_returned2: .asciz "\r\n[panic] the monitor's panic handler returned"
msg_fb_head:         .asciz "\r\n!!! PANIC (assembly fallback: the panic path itself failed)\r\n"
msg_crlf:            .asciz "\r\n"
        .balign 8
/* {u16 frame offset, name[6]} */
fallback_fields:
        .word F_VECTOR
        .ascii "vec=\0\0"
        .word F_ERROR
        .ascii " err=\0"
        .word F_RIP
        .ascii " rip=\0"
        .word F_CR2
        .ascii " cr2=\0"
        .word F_RSP
        .ascii " rsp=\0"
        .word F_RBP
        .ascii " rbp=\0"
        .word F_TRAP
        .ascii " trp=\0"
        .word 0xFFFF
        .ascii "\0\0\0\0\0\0"
