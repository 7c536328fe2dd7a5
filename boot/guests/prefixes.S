/* prefixes: exiting instructions with legacy prefixes. Each must resume at
 * the next instruction (the monitor decodes the length where the CPU does not
 * report it, AMD-V without NRIPS): after each one the guest prints
 * "prefixes N ok"; a wrong RIP runs into the middle of an instruction. */
        .code16
        .include "common.inc"
        .globl _start

        .macro OK n
        mov     $\n, %ax
        call    ok
        .endm

_start:
        GUEST_ENTRY
        xor     %eax, %eax
        .byte   0x66, 0x0f, 0xa2                    /* 66 CPUID */
        OK 1
        xor     %eax, %eax
        .byte   0x2e, 0x2e, 0x0f, 0xa2              /* CS CS CPUID */
        OK 2
        xor     %eax, %eax                          /* 12 prefixes + CPUID: 14 bytes */
        .byte   0x66, 0x67, 0x2e, 0x3e, 0x26, 0x36, 0x64, 0x65, 0x66, 0x67, 0x2e, 0x3e, 0x0f, 0xa2
        OK 3
        mov     $0x277, %ecx                        /* IA32_PAT: allowed */
        .byte   0x66, 0x0f, 0x32                    /* 66 RDMSR */
        OK 4
        .byte   0xf3, 0x0f, 0x32                    /* REP RDMSR */
        OK 5
        .byte   0x66, 0x0f, 0x30                    /* 66 WRMSR (PAT as read) */
        OK 6
        .byte   0x2e, 0xe6, 0x80                    /* CS OUT 0x80, al */
        OK 7
        mov     $0x80, %dx
        .byte   0x3e, 0x66, 0xed                    /* DS 66 IN eax, dx */
        OK 8
        .byte   0x2e, 0x0f, 0x08                    /* CS INVD */
        OK 9
        .byte   0x26, 0x67, 0x0f, 0x08              /* ES 67 INVD */
        OK 10
        PUTS16  done
1:      hlt
        jmp     1b

ok:     mov     $msg, %si
        call    puts16
        call    putdec16
        mov     $msg2, %si
        call    puts16
        ret

        .include "lib16.inc"
msg:    .asciz  "prefixes "
msg2:   .asciz  " ok\n"
done:   .asciz  "prefixes done\n"
