/* long64: enters 64-bit long mode by itself from real mode (its own GDT and
 * identity page tables at 0x10000 covering its first 2 MiB with one large
 * page), prints from 64-bit code and halts. */
        .code16
        .include "common.inc"
        .set PML4, 0x10000
        .set PDPT, 0x11000
        .set PD,   0x12000
        .globl _start
_start:
        GUEST_ENTRY
        PUTS16  hello
        /* page tables: zero 3 pages at 0x10000 (segment 0x1000) */
        mov     $0x1000, %ax
        mov     %ax, %es
        xor     %di, %di
        xor     %eax, %eax
        mov     $(3*4096/4), %cx
        rep stosl
        movl    $(PDPT | 3), %es:0x0000     /* PML4[0] -> PDPT */
        movl    $(PD | 3),   %es:0x1000     /* PDPT[0] -> PD */
        movl    $0x83,       %es:0x2000     /* PD[0]: 2 MiB at 0, RW, PS */
        lgdtl   gdtr
        mov     %cr4, %eax
        or      $(1 << 5), %eax             /* CR4.PAE */
        mov     %eax, %cr4
        mov     $PML4, %eax
        mov     %eax, %cr3
        mov     $0xC0000080, %ecx           /* IA32_EFER.LME */
        rdmsr
        or      $(1 << 8), %eax
        wrmsr
        mov     %cr0, %eax
        or      $0x80000001, %eax           /* PG | PE */
        mov     %eax, %cr0
        ljmpl   $0x08, $long_entry

        .code64
long_entry:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x8000, %rsp
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
        .p2align 3
gdt:    .quad   0
        .quad   0x00af9a000000ffff          /* 0x08: 64-bit code */
        .quad   0x00cf92000000ffff          /* 0x10: data */
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
hello:  .asciz  "long-mode guest: building page tables\n"
msg64:  .asciz  "long mode ok, EFER="
ok:     .asciz  "64-bit registers ok\n"
bad:    .asciz  "64-bit registers FAILED\n"
