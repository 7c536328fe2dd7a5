/* attack: the hostile-guest suite's guest (issue 14, test/vmm/hostile.test.ts, docs/SECURITY.md).
 * RBX selects what it does:
 *   0      every attack the VM survives, in order, one result line each, then "attack done"
 *   1..9   one attack that must stop the VM (the stop reason is the result):
 *          1 read the LAPIC page 0xFEE00000, 2 write the IOAPIC page 0xFEC00000, 3 read 4 GiB,
 *          4 fetch (jump) beyond RAM at 0x180000, 5 write the host-physical address in RCX (another
 *          VM's RAM), 6 a guest PTE pointing beyond RAM, 7 CR3 beyond RAM, 8 a task switch (JMP to a
 *          32-bit TSS, protected mode), 9 a triple fault in long mode
 *   10     the stale-TLB probe: writes its VM id (CPUID 0x40000001 EBX) through two guest-virtual
 *          aliases of one guest-physical page, exits (CPUID) and reads both back, 20,000 times
 *   11     the console: 1,100 lines, then a line of 200 bytes, then "console done"
 * Result lines: "NAME vec=V" (V = the vector the attack raised in the guest, ffffffffffffffff for none),
 * "NAME VALUE", "msr XXXXXXXX" per readable MSR. Faults are caught by one IDT (every vector goes to
 * `common`, which records vector and error code and resumes at `recover`). */
        .code16
        .include "common.inc"
        .set PML4, 0x10000
        .set PDPT, 0x11000
        .set PD0,  0x12000                  /* 0-1 GiB */
        .set PD3,  0x13000                  /* 3-4 GiB: the LAPIC and IOAPIC pages */
        .set PD4,  0x14000                  /* 4-5 GiB */
        .set PT2,  0x15000                  /* 1 GiB + 0-2 MiB in 4 KiB pages: crafted entries */
        .set PD1,  0x16000                  /* 1-2 GiB */
        .set CRAFT, 0x40000000              /* PT2[0]: reserved bit; PT2[1]: beyond RAM */
        .set ALIAS, 0x40200000              /* PD1[1]: a second alias of guest-physical 0-2 MiB */
        .set TSS64, 0x20000
        .set TSSA, 0x21000
        .set TSSB, 0x22000
        .set STACK, 0x30000
        .set STACK0, 0x38000                /* TSS.RSP0: the CPL-3 test's interrupts */
        .set MARK, 0x50000                  /* the stale-TLB probe's page */
        .globl _start
_start:
        GUEST_ENTRY
        mov     %ebx, %ebp                  /* the attack survives the mode switch in ebp */
        mov     %ecx, %edi
        mov     %edi, peer                  /* RCX: another VM's host-physical RAM (low 32 bits) */
        lgdtl   gdtr
        cmp     $8, %ebp
        je      task_switch
        /* page tables: 0x10000-0x16fff, identity 2 MiB pages for the first GiB (another VM's host-physical
         * address included), U/S=1 everywhere (CPL-3 test) */
        mov     $0x1000, %ax
        mov     %ax, %es
        xor     %di, %di
        xor     %eax, %eax
        mov     $(7*4096/4), %cx
        rep stosl
        movl    $(PDPT | 7), %es:0x0000
        movl    $(PD0 | 7),  %es:0x1000     /* PDPT[0] */
        movl    $(PD1 | 7),  %es:0x1008     /* PDPT[1] */
        movl    $(PD3 | 7),  %es:0x1018     /* PDPT[3] */
        movl    $(PD4 | 7),  %es:0x1020     /* PDPT[4] */
        mov     $0x2000, %di                /* PD0: 512 x 2 MiB (RAM is the first 1 MiB) */
        mov     $0x87, %eax
        mov     $512, %cx
1:      mov     %eax, %es:(%di)
        add     $0x200000, %eax
        add     $8, %di
        loop    1b
        movl    $(PT2 | 7),  %es:0x6000     /* PD1[0]: CRAFT through PT2 */
        movl    $0x87,       %es:0x6008     /* PD1[1]: ALIAS */
        movl    $0xfec00087, %es:0x3000+502*8
        movl    $0xfee00087, %es:0x3000+503*8
        movl    $0x87,       %es:0x4000     /* PD4[0]: 4 GiB */
        movl    $1,          %es:0x4004
        movl    $0x50007,    %es:0x5000     /* PT2[0]: CRAFT -> 0x50000 with NX (reserved: NXE=0) */
        movl    $0x80000000, %es:0x5004
        movl    $0x40000007, %es:0x5008     /* PT2[1]: CRAFT + 4K -> 1 GiB, beyond RAM */
        xor     %ax, %ax
        mov     %ax, %es
        mov     %cr4, %eax
        or      $((1 << 5) | (1 << 9) | (1 << 10)), %eax   /* PAE, OSFXSR, OSXMMEXCPT */
        mov     %eax, %cr4
        mov     $PML4, %eax
        mov     %eax, %cr3
        mov     $0xC0000080, %ecx
        rdmsr
        or      $(1 << 8), %eax             /* LME */
        wrmsr
        mov     %cr0, %eax
        or      $0x80000001, %eax           /* PG | PE */
        mov     %eax, %cr0
        ljmpl   $0x08, $long_entry

/* ---- 8: a task switch in 32-bit protected mode (SDM vol 3 7.3) ---------------------------------- */
task_switch:
        PUTS16  s_task
        mov     %cr0, %eax
        or      $1, %eax
        mov     %eax, %cr0
        ljmpl   $0x38, $pm32
        .code32
pm32:   mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $STACK, %esp
        mov     $TSSB, %edi                 /* the new task: EIP, EFLAGS, ESP, segments (SDM 7.2.1 figure 7-2) */
        xor     %eax, %eax
        mov     $(0x68/4), %ecx
        rep stosl
        movl    $ts_target, TSSB+0x20
        movl    $2, TSSB+0x24
        movl    $(STACK - 0x100), TSSB+0x38
        movl    $0x10, TSSB+0x48
        movl    $0x38, TSSB+0x4c
        movl    $0x10, TSSB+0x50
        movl    $0x10, TSSB+0x54
        movl    $0x10, TSSB+0x58
        movl    $0x10, TSSB+0x5c
        movw    $0x68, TSSB+0x66
        mov     $0x40, %ax
        ltr     %ax                         /* the current task's TSS (A) */
        ljmp    $0x48, $0                   /* task switch to B */
        mov     $s_task_back, %esi
        jmp     1f
ts_target:
        mov     $s_task_ok, %esi
1:      lodsb
        test    %al, %al
        jz      2f
        outb    %al, $DBG_PORT
        jmp     1b
2:      hlt
        jmp     2b

        .code64
long_entry:
        mov     $0x10, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $STACK, %rsp
        movq    $STACK0, TSS64+4            /* RSP0 */
        movw    $0x68, TSS64+0x66
        mov     $0x28, %ax
        ltr     %ax
        call    idt_setup
        lidt    idtr(%rip)
        lea     unexpected(%rip), %rax      /* an exception no attack expects */
        mov     %rax, recover(%rip)
        cmp     $0, %ebp
        je      survivable
        cmp     $10, %ebp
        je      tlb_probe
        cmp     $11, %ebp
        je      console_flood
        cmp     $1, %ebp
        je      f_lapic
        cmp     $2, %ebp
        je      f_ioapic
        cmp     $3, %ebp
        je      f_4g
        cmp     $4, %ebp
        je      f_fetch
        cmp     $5, %ebp
        je      f_peer
        cmp     $6, %ebp
        je      f_pte
        cmp     $7, %ebp
        je      f_cr3
        cmp     $9, %ebp
        je      f_triple
        lea     s_unknown(%rip), %rsi
        call    puts64
        jmp     halt

/* ---- attacks that must stop the VM: the line after them must never appear ------------------------- */
f_lapic: lea    s_f1(%rip), %rsi
        call    puts64
        mov     $0xfee00000, %eax
        mov     (%rax), %eax
        jmp     escaped
f_ioapic: lea   s_f2(%rip), %rsi
        call    puts64
        mov     $0xfec00000, %eax
        movl    $0, (%rax)
        jmp     escaped
f_4g:   lea     s_f3(%rip), %rsi
        call    puts64
        movabs  $0x100000000, %rax
        mov     (%rax), %eax
        jmp     escaped
f_fetch: lea    s_f4(%rip), %rsi
        call    puts64
        mov     $0x180000, %eax
        jmp     *%rax
f_peer: lea     s_f5(%rip), %rsi
        call    puts64
        mov     peer(%rip), %eax
        movl    $0xdeadbeef, %ecx
        mov     %ecx, (%rax)
        jmp     escaped
f_pte:  lea     s_f6(%rip), %rsi
        call    puts64
        mov     $(CRAFT + 0x1000), %eax     /* PT2[1] -> guest-physical 1 GiB */
        mov     (%rax), %eax
        jmp     escaped
f_cr3:  lea     s_f7(%rip), %rsi
        call    puts64
        mov     $0x7ff00000, %eax           /* the next fetch walks tables beyond RAM */
        mov     %rax, %cr3
        jmp     escaped
f_triple: lea   s_f9(%rip), %rsi
        call    puts64
        lidt    idt_empty(%rip)             /* #BP -> #GP (no IDT) -> #DF -> shutdown (SDM 6.15) */
        int3
        jmp     escaped
unexpected:
        lea     s_unexpected(%rip), %rsi
        call    puts64
        mov     last_vec(%rip), %rax
        call    puthex64
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        jmp     halt
escaped: lea    s_escaped(%rip), %rsi
        call    puts64
halt:   hlt
        jmp     halt

/* ---- 10: stale TLB across shared ASIDs (APM 15.16) ------------------------------------------------- */
tlb_probe:
        mov     $0x40000001, %eax
        cpuid
        mov     %ebx, %r12d                 /* this VM's id: the marker */
        add     $0x5a5a0000, %r12d
        mov     $20000, %r13d
        mov     $MARK, %r8d
        mov     $(ALIAS + MARK), %r9d       /* PD1[1]: the same page through another guest-virtual address */
1:      mov     %r12d, (%r8)
        xor     %eax, %eax
        cpuid                               /* an exit: another VM may run with this ASID in between */
        cmp     %r12d, (%r9)
        jne     2f
        cmp     %r12d, (%r8)
        jne     2f
        inc     %r12d                       /* a new value each round: a stale line would show the old */
        dec     %r13d
        jnz     1b
        lea     s_tlb_ok(%rip), %rsi
        call    puts64
        jmp     halt
2:      lea     s_tlb_leak(%rip), %rsi
        call    puts64
        mov     (%r9), %eax
        call    puthex64
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        jmp     halt

/* ---- 0: every attack the VM survives ------------------------------------------------------------- */
/* PROBE name, insn: runs insn, prints "name vec=V" (V: the vector it raised, all ones for none) */
        .macro PROBE name, insn:vararg
        lea     9f(%rip), %r15
        mov     %r15, recover(%rip)
        movq    $-1, last_vec(%rip)
        \insn
9:      lea     unexpected(%rip), %r15
        mov     %r15, recover(%rip)
        .pushsection .data
8:      .asciz  "\name"
        .popsection
        lea     8b(%rip), %rsi
        call    report_vec
        .endm

survivable:
        lea     vmxbuf(%rip), %rax
        /* VMX, SVM and SMX instructions: none is in the guest's CPUID, each must be #UD (6) */
        PROBE   vmxon, vmxon vmxbuf(%rip)
        PROBE   vmcall, vmcall
        PROBE   vmlaunch, vmlaunch
        PROBE   vmptrld, vmptrld vmxbuf(%rip)
        mov     $MARK, %eax                 /* page-aligned: an unaligned rAX is #GP before the intercept (APM vol 3) */
        PROBE   vmrun, vmrun
        PROBE   vmmcall, vmmcall
        mov     $MARK, %eax
        PROBE   vmload, vmload
        mov     $MARK, %eax
        PROBE   vmsave, vmsave
        PROBE   clgi, clgi
        PROBE   stgi, stgi
        xor     %eax, %eax
        PROBE   skinit, skinit
        xor     %eax, %eax
        PROBE   getsec, getsec
        xor     %eax, %eax
        PROBE   invept, invept vmxbuf(%rip), %rax
        PROBE   invvpid, invvpid vmxbuf(%rip), %rax
        xor     %eax, %eax
        xor     %ecx, %ecx
        PROBE   invlpga, invlpga
        /* RDPMC: #GP (13) */
        xor     %ecx, %ecx
        PROBE   rdpmc, rdpmc
        /* MSRs the guest must not have: #GP (13) each, and nothing changes */
        mov     $0xC0000080, %ecx           /* EFER.SVME (bit 12) */
        rdmsr
        or      $(1 << 12), %eax
        PROBE   efer-svme, wrmsr
        mov     $0xC0000080, %ecx
        rdmsr
        shr     $12, %eax
        and     $1, %eax
        lea     s_efer_after(%rip), %rsi
        call    report_val
        mov     $0xC0010117, %ecx           /* VM_HSAVE_PA */
        mov     $0x1000, %eax
        xor     %edx, %edx
        PROBE   hsave-write, wrmsr
        mov     $0x3a, %ecx                 /* IA32_FEATURE_CONTROL: lock + VMX outside SMX */
        mov     $5, %eax
        xor     %edx, %edx
        PROBE   featctl-write, wrmsr
        mov     $0x1b, %ecx                 /* IA32_APIC_BASE relocated to 0x80000 */
        mov     $0x80900, %eax
        xor     %edx, %edx
        PROBE   apicbase-write, wrmsr
        mov     $0xC0010114, %ecx           /* VM_CR: SVMDIS, LOCK */
        mov     $0x18, %eax
        xor     %edx, %edx
        PROBE   vmcr-write, wrmsr
        /* control and debug registers: reserved bits #GP (13), DR4 with CR4.DE #UD (6) */
        mov     %cr4, %rax
        mov     %rax, saved_cr4(%rip)
        bts     $31, %rax                   /* reserved (SDM vol 3 2.5, APM vol 2 3.1.3) */
        PROBE   cr4-reserved, mov %rax, %cr4
        mov     saved_cr4(%rip), %rax
        bts     $13, %rax                   /* VMXE: VMX is not in the guest's CPUID */
        PROBE   cr4-vmxe, mov %rax, %cr4
        mov     saved_cr4(%rip), %rax
        bts     $14, %rax                   /* SMXE */
        PROBE   cr4-smxe, mov %rax, %cr4
        mov     %cr4, %rax
        xor     saved_cr4(%rip), %rax       /* 0: no write took effect */
        lea     s_cr4_after(%rip), %rsi
        call    report_val
        mov     %cr0, %rax
        bts     $32, %rax                   /* CR0[63:32] reserved */
        PROBE   cr0-high, mov %rax, %cr0
        mov     %cr0, %rax
        bts     $29, %rax                   /* NW without CD */
        btr     $30, %rax
        PROBE   cr0-nw, mov %rax, %cr0
        movabs  $0x100000400, %rax          /* DR7[63:32] reserved (SDM vol 3 17.2.6) */
        PROBE   dr7-high, mov %rax, %dr7
        movabs  $0x1ffff0ff0, %rax
        PROBE   dr6-high, mov %rax, %dr6
        mov     %cr4, %rax
        bts     $3, %rax                    /* CR4.DE: DR4/DR5 are #UD */
        mov     %rax, %cr4
        PROBE   dr4, mov %dr4, %rax
        mov     saved_cr4(%rip), %rax
        mov     %rax, %cr4
        /* LMSW (sets TS) and CLTS: intercepted as CR0 writes on AMD-V, emulated; CR0.TS read back each time */
        mov     %cr0, %rax
        or      $8, %eax
        lmsw    %ax
        mov     %cr0, %rax
        shr     $3, %eax
        and     $1, %eax
        lea     s_lmsw(%rip), %rsi
        call    report_val
        clts
        mov     %cr0, %rax
        shr     $3, %eax
        and     $1, %eax
        lea     s_clts(%rip), %rsi
        call    report_val

        /* RDMSR over 0-0x1fff, 0xc0000000-0xc0001fff, 0xc0010000-0xc0011fff: "msr N" for each readable one */
        xor     %r12d, %r12d                /* readable */
        xor     %r13d, %r13d                /* writes of 0 accepted where the read faulted */
        mov     $0, %r14d
        call    msr_range
        mov     $0xc0000000, %r14d
        call    msr_range
        mov     $0xc0010000, %r14d
        call    msr_range
        lea     unexpected(%rip), %rax
        mov     %rax, recover(%rip)
        mov     %r12, %rax
        lea     s_msr_readable(%rip), %rsi
        call    report_val
        mov     %r13, %rax
        lea     s_msr_wr(%rip), %rsi
        call    report_val

        /* IN from every port: count those that do not read all ones (0xE9 reads 0xE9, Bochs/QEMU convention) */
        xor     %r12d, %r12d
        xor     %edx, %edx
1:      cmp     $0xe9, %dx
        je      2f
        inb     %dx, %al
        cmp     $0xff, %al
        je      2f
        inc     %r12d
2:      inc     %edx
        cmp     $0x10000, %edx
        jb      1b
        mov     %r12, %rax
        lea     s_inscan(%rip), %rsi
        call    report_val

        /* the monitor's UARTs, COM1 0x3f8 and COM2 0x2f8: a marker, DLAB and a divisor, loopback (MCR),
         * IER; they must reach neither (the guest has no UART: reads are all ones, writes ignored) */
        mov     $0x3f8, %edx
        call    uart_attack
        mov     $0x2f8, %edx
        call    uart_attack
        mov     %r12, %rax
        lea     s_uart(%rip), %rsi
        call    report_val

        /* OUT 0 to every port except 0xE9 and the reset ports below */
        xor     %edx, %edx
        xor     %eax, %eax
1:      cmp     $0xe9, %dx
        je      2f
        outb    %al, %dx
2:      inc     %edx
        cmp     $0x10000, %edx
        jb      1b
        lea     s_outscan(%rip), %rsi
        xor     %eax, %eax
        call    report_val

        /* reset and shutdown ports: PCI reset control 0xCF9, the i8042 pulse 0xFE, PIIX4/ICH ACPI PM1a
         * 0x604 and 0xB004 (SLP_EN), port 0x92 fast reset, QEMU's isa-debug-exit 0xF4 */
        mov     $0xcf9, %dx
        mov     $0x06, %al
        outb    %al, %dx
        mov     $0x0e, %al
        outb    %al, %dx
        mov     $0xfe, %al
        outb    %al, $0x64
        mov     $0x2000, %ax
        mov     $0x604, %dx
        outw    %ax, %dx
        mov     $0xb004, %dx
        outw    %ax, %dx
        mov     $1, %al
        outb    %al, $0x92
        mov     $1, %al
        outb    %al, $0xf4
        lea     s_reset(%rip), %rsi
        xor     %eax, %eax
        call    report_val

        /* string I/O with huge counts: OUTSB from the end of RAM on, INSB into the LAPIC page and into RAM */
        movl    $0x11111111, MARK
        mov     $0xfffffff0, %ecx
        shl     $8, %rcx                    /* RCX = 0xfffffff000 */
        mov     $0xfff00, %esi              /* 256 bytes before the end of RAM */
        mov     $0x99, %edx
        cld
        rep outsb
        movabs  $0xfffffff000, %rax
        sub     %rcx, %rax                  /* iterations done */
        lea     s_outs(%rip), %rsi
        call    report_val
        mov     $0xfee00000, %edi
        mov     $0xfffffff0, %ecx
        shl     $8, %rcx
        rep insb
        movabs  $0xfffffff000, %rax
        sub     %rcx, %rax
        lea     s_ins_mmio(%rip), %rsi
        call    report_val
        mov     $MARK, %edi
        mov     $4, %ecx
        rep insb
        mov     MARK, %eax                  /* 0x11111111 (not done) or 0xffffffff (all-ones port) */
        lea     s_ins_ram(%rip), %rsi
        call    report_val

        /* crafted guest page tables */
        mov     $CRAFT, %eax                /* PT2[0]: NX set while EFER.NXE = 0: reserved, #PF(P|RSVD) */
        invlpg  (%rax)
        PROBE   pte-reserved, mov (%rax), %eax
        mov     last_err(%rip), %rax
        lea     s_pte_err(%rip), %rsi
        call    report_val
        movq    $(PML4 | 7), PML4+511*8     /* recursive PML4: 0xfffffffffffff000 is the PML4 itself */
        mov     %cr3, %rax
        mov     %rax, %cr3
        movabs  $0xfffffffffffff000, %rax
        PROBE   pml4-recursive, mov (%rax), %r14
        cmp     PML4, %r14
        sete    %al
        movzbl  %al, %eax
        lea     s_recursive_same(%rip), %rsi
        call    report_val
        movq    $0, PML4+511*8
        mov     %cr3, %rax
        mov     %rax, %cr3

        /* #AC at CPL 3 (CR0.AM, RFLAGS.AC): 10,000 misaligned loads, each one #AC (17) delivered to the guest */
        movq    $0, ac_count(%rip)
        mov     %cr0, %rax
        bts     $18, %rax                   /* AM */
        mov     %rax, %cr0
        mov     %rsp, saved_rsp(%rip)
        pushq   $0x23                       /* SS: user data */
        pushq   $0x28000                    /* user stack */
        pushq   $((1 << 18) | 2)            /* RFLAGS: AC */
        pushq   $0x1b                       /* CS: user code */
        lea     user_ac(%rip), %rax
        push    %rax
        iretq
user_ac:
        mov     $10000, %r14d
        mov     $MARK, %ebx
1:      lea     2f(%rip), %r15
        mov     %r15, recover(%rip)
        mov     1(%rbx), %eax               /* misaligned with AC and AM at CPL 3: #AC(0) (SDM vol 3 6.15) */
2:      dec     %r14d
        jnz     1b
        int     $0x30                       /* back to CPL 0 (gate with DPL 3) */
back_from_user:
        lea     unexpected(%rip), %rax
        mov     %rax, recover(%rip)
        mov     %cr0, %rax
        btr     $18, %rax
        mov     %rax, %cr0
        mov     ac_count(%rip), %rax
        lea     s_ac(%rip), %rsi
        call    report_val

        lea     s_done(%rip), %rsi
        call    puts64
        jmp     halt

/* ---- 11: the console: 1,100 lines (more than vm.console keeps), then one of 200 bytes (more than a line
 * holds), then "console done" ----------------------------------------------------------------------- */
console_flood:
        mov     $1100, %r12d
1:      lea     s_line(%rip), %rsi
        call    puts64
        mov     %r12, %rax
        call    puthex64
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        dec     %r12d
        jnz     1b
        mov     $200, %ecx
        mov     $'L', %al
2:      outb    %al, $DBG_PORT
        loop    2b
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        lea     s_con_done(%rip), %rsi
        call    puts64
        jmp     halt

/* msr_range: RDMSR r14..r14+0x1fff; a readable one is printed and counted in r12; where the read faults,
 * WRMSR of 0 must fault too (r13 counts the ones that did not) */
msr_range:
        mov     $0x2000, %ebx
1:      mov     %r14d, %ecx
        lea     2f(%rip), %r15
        mov     %r15, recover(%rip)
        movq    $-1, last_vec(%rip)
        rdmsr
2:      cmpq    $-1, last_vec(%rip)
        jne     3f
        inc     %r12d
        lea     s_msr(%rip), %rsi
        call    puts64
        mov     %r14, %rax
        call    puthex64
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        jmp     5f
3:      mov     %r14d, %ecx
        xor     %eax, %eax
        xor     %edx, %edx
        lea     4f(%rip), %r15
        mov     %r15, recover(%rip)
        movq    $-1, last_vec(%rip)
        wrmsr
4:      cmpq    $-1, last_vec(%rip)
        jne     5f
        inc     %r13d
5:      inc     %r14d
        dec     %ebx
        jnz     1b
        ret

/* uart_attack: dx = base; r12 += ports among base..base+7 that read other than all ones */
uart_attack:
        push    %rdx
        lea     s_pwned(%rip), %rsi         /* THR */
1:      lodsb
        test    %al, %al
        jz      2f
        outb    %al, %dx
        jmp     1b
2:      add     $3, %edx                    /* LCR: DLAB, then 5 data bits */
        mov     $0x80, %al
        outb    %al, %dx
        sub     $3, %edx
        mov     $0x01, %al                  /* divisor 1 */
        outb    %al, %dx
        add     $3, %edx
        xor     %eax, %eax
        outb    %al, %dx
        add     $1, %edx                    /* MCR: loopback */
        mov     $0x10, %al
        outb    %al, %dx
        sub     $3, %edx                    /* IER: all */
        mov     $0x0f, %al
        outb    %al, %dx
        pop     %rdx
        mov     $8, %ecx
3:      inb     %dx, %al
        cmp     $0xff, %al
        je      4f
        inc     %r12d
4:      inc     %edx
        loop    3b
        ret

/* report_vec: rsi = name; prints "name vec=" and last_vec */
report_vec:
        call    puts64
        lea     s_vec(%rip), %rsi
        call    puts64
        mov     last_vec(%rip), %rax
        call    puthex64
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        ret

/* report_val: rsi = "name ", rax = value */
report_val:
        push    %rax
        call    puts64
        pop     %rax
        call    puthex64
        mov     $'\n', %al
        outb    %al, $DBG_PORT
        ret

/* ---- IDT: 32 exception stubs and the CPL-3 return gate 0x30 (SDM vol 3 6.14) ------------------- */
        .macro STUB n
stub\n:
        .if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21)
        .else
        pushq   $0
        .endif
        pushq   $\n
        jmp     common
        .endm
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        STUB    \n
        .endr

/* frame: rax, vector, error code, RIP, CS, RFLAGS, RSP, SS */
common: push    %rax
        mov     8(%rsp), %rax
        mov     %rax, last_vec(%rip)
        cmp     $17, %rax
        jne     1f
        incq    ac_count(%rip)
1:      mov     16(%rsp), %rax
        mov     %rax, last_err(%rip)
        mov     recover(%rip), %rax
        mov     %rax, 24(%rsp)
        pop     %rax
        add     $16, %rsp
        iretq

gate30: mov     saved_rsp(%rip), %rsp       /* from CPL 3: drop the frame, continue at CPL 0 */
        pushf
        btrq    $18, (%rsp)                 /* AC off */
        popf
        jmp     back_from_user

idt_setup:
        lea     idt(%rip), %rdi
        lea     stub_table(%rip), %rsi
        mov     $32, %ecx
1:      mov     (%rsi), %rax
        mov     $0x8e00, %edx               /* present, DPL 0, 64-bit interrupt gate */
        call    gate
        add     $8, %rsi
        add     $16, %rdi
        loop    1b
        lea     idt+0x30*16(%rip), %rdi
        lea     gate30(%rip), %rax
        mov     $0xee00, %edx               /* DPL 3 */
        call    gate
        ret
gate:   /* rdi = entry, rax = handler, dx = type/attributes */
        mov     %ax, (%rdi)
        movw    $0x08, 2(%rdi)
        mov     %dx, 4(%rdi)
        shr     $16, %rax
        mov     %ax, 6(%rdi)
        shr     $16, %rax
        mov     %eax, 8(%rdi)
        movl    $0, 12(%rdi)
        ret

        .include "lib64.inc"
        .code16
        .include "lib16.inc"
        .code64

        .data
        .p2align 3
stub_table:
        .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad   stub\n
        .endr
gdt:    .quad   0
        .quad   0x00af9a000000ffff          /* 0x08: 64-bit code, DPL 0 */
        .quad   0x00cf92000000ffff          /* 0x10: flat data, DPL 0 */
        .quad   0x00affa000000ffff          /* 0x18: 64-bit code, DPL 3 */
        .quad   0x00cff2000000ffff          /* 0x20: flat data, DPL 3 */
        .quad   0x0000890200000067          /* 0x28: 64-bit TSS at 0x20000 (16 bytes) */
        .quad   0
        .quad   0x00cf9a000000ffff          /* 0x38: flat 32-bit code */
        .quad   0x0000890210000067          /* 0x40: 32-bit TSS A at 0x21000 */
        .quad   0x0000890220000067          /* 0x48: 32-bit TSS B at 0x22000 */
gdtr:   .word   gdtr - gdt - 1
        .long   gdt
        .p2align 3
idtr:   .word   0x31*16 - 1
        .quad   idt
idt_empty: .word 0
        .quad   0
        .p2align 3                          /* 8-byte aligned: the CPL-3 #AC loop stores to recover */
recover: .quad  0
last_vec: .quad 0
last_err: .quad 0
ac_count: .quad 0
saved_rsp: .quad 0
saved_cr4: .quad 0
peer:   .long   0
s_vec:  .asciz  " vec="
s_efer_after: .asciz "efer-svme-after "
s_cr4_after: .asciz "cr4-changed "
s_msr:  .asciz  "msr "
s_msr_readable: .asciz "msr-readable "
s_msr_wr: .asciz "msr-write-accepted "
s_inscan: .asciz "in-scan not-ones "
s_uart: .asciz  "uart-ports not-ones "
s_pwned: .asciz "PWNED-UART"
s_outscan: .asciz "out-scan survived "
s_reset: .asciz "reset-ports survived "
s_outs: .asciz  "rep-outsb-huge done "
s_ins_mmio: .asciz "rep-insb-mmio done "
s_ins_ram: .asciz "rep-insb-ram value "
s_pte_err: .asciz "pte-reserved err "
s_recursive_same: .asciz "pml4-recursive same "
s_ac:   .asciz  "ac-cpl3 count "
s_line: .asciz  "line "
s_lmsw: .asciz  "lmsw-ts "
s_clts: .asciz  "clts-ts "
s_con_done: .asciz "console done\n"
s_done: .asciz  "attack done\n"
s_tlb_ok: .asciz "tlb ok\n"
s_tlb_leak: .asciz "tlb LEAK "
s_unknown: .asciz "unknown attack\n"
s_unexpected: .asciz "UNEXPECTED exception "
s_escaped: .asciz "ESCAPED: the attack did not stop the VM\n"
s_f1:   .asciz  "reading the LAPIC page\n"
s_f2:   .asciz  "writing the IOAPIC page\n"
s_f3:   .asciz  "reading 4 GiB\n"
s_f4:   .asciz  "jumping beyond RAM\n"
s_f5:   .asciz  "writing another VM's host-physical RAM\n"
s_f6:   .asciz  "reading through a PTE that points beyond RAM\n"
s_f7:   .asciz  "loading CR3 beyond RAM\n"
s_f9:   .asciz  "triple-faulting in long mode\n"
        .code16
s_task: .asciz  "task switch\n"
s_task_ok: .asciz "task switch ok\n"
s_task_back: .asciz "task switch fell through\n"
        .p2align 4
vmxbuf: .fill   64, 1, 0
        .p2align 4
idt:    .fill   0x31*16, 1, 0
