/* hostile: tries to break out. At entry BX selects the attack, ECX holds a
 * host-physical address of another VM's RAM (given by the monitor to make the
 * test honest):
 *   0: flood exits (20000 writes to unknown port 0x99 + 2000 CPUIDs), then read the monitor's
 *      physical address 0x100000 (outside the guest's RAM)
 *   1: write to the other VM's host-physical address
 *   2: load an empty IVT and raise an exception: triple fault
 * Each attack must stop this VM only. It enters flat 32-bit protected mode
 * to reach addresses above 1 MiB. */
        .code16
        .include "common.inc"
        .globl _start
_start:
        GUEST_ENTRY
        mov     %ecx, %ebp              /* other VM's address */
        mov     %bx, %di                /* attack */
        PUTS16  hello
        cmp     $2, %di
        je      triple
        PUTS16  s_flood
        mov     $20000, %cx
1:      outb    %al, $0x99
        loop    1b
        mov     $2000, %si
2:      xor     %eax, %eax
        cpuid
        dec     %si
        jnz     2b
        PUTS16  s_flooded
        lgdtl   gdtr
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $0x08, $pm32

triple:
        PUTS16  s_triple
        lidtl   idt0
        int3                            /* no IVT: #GP -> #DF -> shutdown */
        PUTS16  s_alive
3:      hlt
        jmp     3b

        .code32
pm32:   mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        cmp     $1, %di
        je      1f
        mov     0x100000, %eax          /* monitor's physical memory */
        jmp     2f
1:      movl    $0xdeadbeef, (%ebp)     /* another VM's physical memory */
2:      mov     $msg_alive32, %esi      /* must never run */
3:      lodsb
        test    %al, %al
        jz      4f
        outb    %al, $DBG_PORT
        jmp     3b
4:      hlt
        jmp     4b

        .code16
        .include "lib16.inc"
        .p2align 3
gdt:    .quad   0
        .quad   0x00cf9a000000ffff      /* 0x08: flat 32-bit code */
        .quad   0x00cf92000000ffff      /* 0x10: flat data */
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
idt0:   .word   0
        .long   0
hello:  .asciz  "hostile guest starting\n"
s_flood: .asciz "flooding exits\n"
s_flooded: .asciz "flood done, reading outside my RAM\n"
s_triple: .asciz "triple-faulting\n"
s_alive: .asciz "STILL ALIVE after triple fault\n"
msg_alive32: .asciz "ESCAPED: read/write outside RAM succeeded\n"
