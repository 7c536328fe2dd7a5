/* cpuidloop: the benchmark guest. Runs CPUID in a loop; every 16384
 * iterations it prints the line "." to port 0xE9 so the host can count. */
        .code16
        .include "common.inc"
        .globl _start
_start:
        GUEST_ENTRY
1:      mov     $16384, %di
2:      xor     %eax, %eax
        cpuid
        dec     %di
        jnz     2b
        mov     $'.', %al
        outb    %al, $DBG_PORT
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        jmp     1b
