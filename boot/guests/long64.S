/* long64: enters 64-bit long mode by itself from real mode (its own GDT and
 * identity page tables at 0x10000 covering its first 2 MiB with one large
 * page), prints from 64-bit code and halts. */
        .code16
        .include "common.inc"
        .include "long-mode.inc"
        .globl _start
_start:
        GUEST_ENTRY
        PUTS16  hello
        ENTER_LONG_MODE (1 << 5), 0, 0x80000001    /* PAE; PG | PE */

        .code64
long_entry:
        LONG_MODE_DATA
        lea     msg64(%rip), %rsi
        call    puts64
        mov     $0xC0000080, %ecx
        rdmsr
        shl     $32, %rdx
        or      %rdx, %rax
        call    puthex64                    /* EFER: LME|LMA = 0x500 */
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        mov     $0x123456789abcdef0, %rax   /* a 64-bit register survives exits */
        mov     %rax, %rbx
        mov     $100, %ecx
1:      outb    %al, $0x80                  /* unknown port: an exit each */
        loop    1b
        cmp     %rax, %rbx
        jne     2f
        lea     ok(%rip), %rsi
        call    puts64
        jmp     3f
2:      lea     bad(%rip), %rsi
        call    puts64
3:      hlt
        jmp     3b

        .include "lib64.inc"

        .code16
        .include "lib16.inc"
        LONG_MODE_GDT
hello:  .asciz  "long-mode guest: building page tables\n"
msg64:  .asciz  "long mode ok, EFER="
ok:     .asciz  "64-bit registers ok\n"
bad:    .asciz  "64-bit registers FAILED\n"
