/* real16: exercises 16-bit real mode under unrestricted guest / NPT:
 * segment bases, a software interrupt through its own IVT, string moves
 * across a segment, then prints a checksum and halts. */
        .code16
        .include "common.inc"
        .globl _start
_start:
        GUEST_ENTRY
        movw    $int80, 0x80*4          /* IVT entry 0x80 -> int80 (0000:int80) */
        movw    $0, 0x80*4+2
        PUTS16  hello
        /* fill 0x2000:0000..0x00ff with 0..255 through ES, copy it to
         * 0x3000:0000 through DS:SI/ES:DI, sum it back through FS */
        mov     $0x2000, %ax
        mov     %ax, %es
        xor     %di, %di
        xor     %al, %al
1:      stosb
        inc     %al
        jnz     1b
        push    %ds
        mov     $0x2000, %ax
        mov     %ax, %ds
        mov     $0x3000, %ax
        mov     %ax, %es
        xor     %si, %si
        xor     %di, %di
        mov     $256, %cx
        rep movsb
        pop     %ds
        mov     $0x3000, %ax
        mov     %ax, %fs
        xor     %bx, %bx
        xor     %dx, %dx
2:      movzbw  %fs:(%bx), %ax
        add     %ax, %dx
        inc     %bl
        jnz     2b
        mov     %dx, sum                /* expected 255*256/2 = 32640 */
        int     $0x80                   /* the handler prints the sum */
        cmpw    $0x5a5a, intflag
        jne     3f
        PUTS16  ok
        jmp     4f
3:      PUTS16  bad
4:      hlt
        jmp     4b

int80:  push    %ax
        PUTS16  insum
        mov     sum, %ax
        call    putdec16
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        movw    $0x5a5a, intflag
        pop     %ax
        iret

        .include "lib16.inc"
sum:    .word   0
intflag: .word  0
hello:  .asciz  "real-mode guest: segments, IVT, string ops\n"
insum:  .asciz  "int 0x80 handler: checksum "
ok:     .asciz  "real-mode ok\n"
bad:    .asciz  "real-mode FAILED\n"
