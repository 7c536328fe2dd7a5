/* isolate: checks that no CPU state of another VM shows through. In long
 * mode it loads values derived from its parameter (RBX) into the x87 control
 * word and st0, MXCSR, XMM0, DR0, DR3 and IA32_KERNEL_GS_BASE, then reads
 * them back forever; any difference prints "LEAK <what>" and halts. Every
 * 256 rounds it prints "isolate P round N". Run two with different params. */
        .code16
        .include "common.inc"
        .include "long-mode.inc"
        .globl _start
_start:
        GUEST_ENTRY
        mov     %ebx, %ebp                  /* the parameter survives the mode switch in ebp */
        /* PAE, OSFXSR, OSXMMEXCPT; EM = 0; PG | MP | PE */
        ENTER_LONG_MODE ((1 << 5) | (1 << 9) | (1 << 10)), (1 << 2), 0x80000003

        .code64
long_entry:
        LONG_MODE_DATA
        /* pattern P = param * 0x0000010101010101 (canonical for param < 0x80) */
        mov     %ebp, %eax
        mov     $0x0000010101010101, %rdx
        imul    %rdx, %rax
        mov     %rax, pattern(%rip)
        /* x87: FCW 0x037F with rounding control = param & 3; st0 = P */
        fninit
        mov     %ebp, %eax
        and     $3, %eax
        shl     $10, %eax
        or      $0x037F, %eax
        mov     %ax, fcw(%rip)
        fldcw   fcw(%rip)
        fildq   pattern(%rip)
        /* MXCSR 0x1F80 with rounding control = param & 3; XMM0 = P */
        mov     %ebp, %eax
        and     $3, %eax
        shl     $13, %eax
        or      $0x1F80, %eax
        mov     %eax, mxcsr(%rip)
        ldmxcsr mxcsr(%rip)
        movq    pattern(%rip), %xmm0
        /* DR0 = P, DR3 = P + 3 */
        mov     pattern(%rip), %rax
        mov     %rax, %dr0
        add     $3, %rax
        mov     %rax, %dr3
        /* IA32_KERNEL_GS_BASE = P */
        mov     $0xC0000102, %ecx
        mov     pattern(%rip), %rax
        mov     %rax, %rdx
        shr     $32, %rdx
        wrmsr
        xor     %r12, %r12                  /* round counter */
round:
        lea     what_fcw(%rip), %rsi
        fnstcw  tmp(%rip)
        movzwl  tmp(%rip), %eax
        movzwl  fcw(%rip), %edx
        cmp     %eax, %edx
        jne     leak
        lea     what_st0(%rip), %rsi
        fld     %st(0)
        fistpq  tmp(%rip)
        mov     tmp(%rip), %rax
        cmp     pattern(%rip), %rax
        jne     leak
        lea     what_mxcsr(%rip), %rsi
        stmxcsr tmp(%rip)
        mov     tmp(%rip), %eax
        cmp     mxcsr(%rip), %eax
        jne     leak
        lea     what_xmm0(%rip), %rsi
        movq    %xmm0, %rax
        cmp     pattern(%rip), %rax
        jne     leak
        lea     what_dr0(%rip), %rsi
        mov     %dr0, %rax
        cmp     pattern(%rip), %rax
        jne     leak
        lea     what_dr3(%rip), %rsi
        mov     %dr3, %rax
        sub     $3, %rax
        cmp     pattern(%rip), %rax
        jne     leak
        lea     what_kgs(%rip), %rsi
        mov     $0xC0000102, %ecx
        rdmsr
        shl     $32, %rdx
        or      %rdx, %rax
        cmp     pattern(%rip), %rax
        jne     leak
        inc     %r12
        test    $0xff, %r12b
        jnz     round
        lea     msg_round(%rip), %rsi
        call    puts64
        mov     %rbp, %rax
        call    puthex64
        lea     msg_round2(%rip), %rsi
        call    puts64
        mov     %r12, %rax
        call    puthex64
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        jmp     round

leak:   push    %rsi
        lea     msg_leak(%rip), %rsi
        call    puts64
        pop     %rsi
        call    puts64
        mov     $'\n', %al
        outb    %al, $DBG_PORT
1:      hlt
        jmp     1b

        .include "lib64.inc"

        .p2align 3
pattern: .quad  0
tmp:    .quad   0
mxcsr:  .long   0
fcw:    .word   0
        LONG_MODE_GDT
msg_leak:   .asciz "LEAK "
msg_round:  .asciz "isolate "
msg_round2: .asciz " round "
what_fcw:   .asciz "fcw"
what_st0:   .asciz "st0"
what_mxcsr: .asciz "mxcsr"
what_xmm0:  .asciz "xmm0"
what_dr0:   .asciz "dr0"
what_dr3:   .asciz "dr3"
what_kgs:   .asciz "kernel_gs_base"
