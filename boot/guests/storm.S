/* storm: exceptions a guest raises on purpose, each of which the monitor
 * intercepts (issue 14). 20,000 single-step #DB traps (TF set over a loop:
 * every delivery is an exit the monitor reflects, CVE-2015-8104's pattern),
 * then RDPMC (#GP: counters are not exposed) and a write of a reserved CR4
 * bit (#GP). Prints "storm db=N gp=N" and "storm done"; a guest beside it
 * must keep running. Real mode: the handlers sit in the IVT at 0:0. */
        .code16
        .include "common.inc"
        .set STEPS, 20000
        .globl _start
_start:
        GUEST_ENTRY
        movw    $db_handler, 4          /* IVT[1] = 0000:db_handler */
        movw    $0, 6
        movw    $gp_handler, 52         /* IVT[13] = 0000:gp_handler */
        movw    $0, 54
        mov     $STEPS, %cx
        pushf
        pop     %ax
        or      $0x100, %ax             /* TF */
        push    %ax
        popf
1:      loop    1b                      /* one #DB trap after each instruction */
        pushf
        pop     %ax
        and     $~0x100, %ax
        push    %ax
        popf
        movw    $2, skip                /* RDPMC is 0F 33 */
        xor     %ecx, %ecx
        rdpmc
        movw    $3, skip                /* MOV CR4, EAX is 0F 22 E0 */
        mov     %cr4, %eax
        or      $0x80000000, %eax       /* bit 31: reserved (SDM vol 3 2.5) */
        mov     %eax, %cr4
        mov     $msg_db, %si
        call    puts16
        mov     db_count, %ax
        call    putdec16
        mov     $msg_gp, %si
        call    puts16
        mov     gp_count, %ax
        call    putdec16
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        PUTS16  done
2:      hlt
        jmp     2b

db_handler:                             /* a trap: IP already points past the instruction */
        incw    %cs:db_count
        iret

gp_handler:                             /* a fault: step the saved IP over the instruction */
        push    %bp
        mov     %sp, %bp
        push    %ax
        mov     %cs:skip, %ax
        add     %ax, 2(%bp)
        pop     %ax
        pop     %bp
        incw    %cs:gp_count
        iret

        .include "lib16.inc"
db_count: .word 0
gp_count: .word 0
skip:     .word 0
msg_db:   .asciz "storm db="
msg_gp:   .asciz " gp="
done:     .asciz "storm done\n"
