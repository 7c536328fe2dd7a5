/* cpuidloop: the benchmark guest. Runs CPUID in a loop; every 65536
 * iterations it writes one byte to port 0xE9 so the monitor can count. */
        .code16
        .include "common.inc"
        .globl _start
_start:
        cli
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x1000, %sp
1:      xor     %di, %di
2:      xor     %eax, %eax
        cpuid
        dec     %di
        jnz     2b
        mov     $'.', %al
        outb    %al, $DBG_PORT
        jmp     1b
