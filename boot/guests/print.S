/* print: a guest that prints numbered lines to port 0xE9 with a busy loop
 * between them, then halts. BX at entry = its number (0-9). */
        .code16
        .include "common.inc"
        .globl _start
_start:
        GUEST_ENTRY
        mov     %bl, %al
        and     $0x0f, %al
        add     $'0', %al
        mov     %al, num            /* patch the digit into the message */
        xor     %di, %di            /* line counter */
1:      mov     $msg, %si
        call    puts16
        mov     %di, %ax
        call    putdec16
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        mov     $0x30, %dx          /* busy loop: work that takes no exits */
2:      mov     $0xffff, %cx
3:      loop    3b
        dec     %dx
        jnz     2b
        inc     %di
        cmp     $LINES, %di
        jb      1b
        PUTS16  done
4:      hlt
        jmp     4b

        .include "lib16.inc"
        .set LINES, 12
msg:    .ascii  "guest "
num:    .asciz  "0 line "
done:   .asciz  "done, halting\n"
