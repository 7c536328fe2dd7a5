/* boot/vmentry.S: VM-entry/exit trampolines (VT-x and AMD-V) and the
 * host-table query for the VMCS host-state area. The slice timer is in
 * boot/slice-timer.S, the embedded test guests in boot/guest-images.S.
 * Reached from the monitor as hw imports (docs/ABI.md: hw import NAME is a
 * SysV call to hw_NAME; p arguments are i32 offsets into linear memory, to
 * which we add r15). Every routine preserves r15 and the SysV callee-saved
 * registers.
 *
 * Guest register block (src/vmm/regs.ts), u64 each, in x86 encoding order:
 *   0 rax  1 rcx  2 rdx  3 rbx  4 rsp(unused: in VMCS/VMCB)  5 rbp  6 rsi
 *   7 rdi  8-15 r8-r15  16 cr2 */
#ifndef DIRECT_MAP
#define DIRECT_MAP 0xFFFF800000000000
#endif
#define R_RAX 0
#define R_RCX 8
#define R_RDX 16
#define R_RBX 24
#define R_RBP 40
#define R_RSI 48
#define R_RDI 56
#define R_R8  64
#define R_R9  72
#define R_R10 80
#define R_R11 88
#define R_R12 96
#define R_R13 104
#define R_R14 112
#define R_R15 120
#define R_CR2 128

#define VMCS_HOST_RSP 0x6C14          /* SDM appendix B.4.4 */
#define VMCS_HOST_RIP 0x6C16
#define VMCB_RAX      0x5F8           /* APM 15 appendix B, table B-2 */

        .text
        .code64

/* Loads the guest CR2 (VT-x does not switch it, SDM 27.3). */
.macro LOAD_GUEST_CR2
        mov     R_CR2(%rax), %rcx
        mov     %rcx, %cr2                  /* leaves the arithmetic flags undefined */
.endm

/* Loads rcx..r15 from the block at [rax] (rax itself is left to the caller);
 * plain moves, so the flags survive. */
.macro LOAD_GUEST_GPRS
        mov     R_RCX(%rax), %rcx
        mov     R_RDX(%rax), %rdx
        mov     R_RBX(%rax), %rbx
        mov     R_RBP(%rax), %rbp
        mov     R_RSI(%rax), %rsi
        mov     R_RDI(%rax), %rdi
        mov     R_R8(%rax), %r8
        mov     R_R9(%rax), %r9
        mov     R_R10(%rax), %r10
        mov     R_R11(%rax), %r11
        mov     R_R12(%rax), %r12
        mov     R_R13(%rax), %r13
        mov     R_R14(%rax), %r14
        mov     R_R15(%rax), %r15
.endm

/* Stores every GPR but rax (and rsp) to the block at [rax]. */
.macro STORE_GUEST_GPRS_BUT_RAX
        mov     %rcx, R_RCX(%rax)
        mov     %rdx, R_RDX(%rax)
        mov     %rbx, R_RBX(%rax)
        mov     %rbp, R_RBP(%rax)
        mov     %rsi, R_RSI(%rax)
        mov     %rdi, R_RDI(%rax)
        mov     %r8, R_R8(%rax)
        mov     %r9, R_R9(%rax)
        mov     %r10, R_R10(%rax)
        mov     %r11, R_R11(%rax)
        mov     %r12, R_R12(%rax)
        mov     %r13, R_R13(%rax)
        mov     %r14, R_R14(%rax)
        mov     %r15, R_R15(%rax)
.endm

.macro PUSH_CALLEE_SAVED
        push    %rbp
        mov     %rsp, %rbp
        push    %rbx
        push    %r12
        push    %r13
        push    %r14
        push    %r15
.endm

.macro POP_CALLEE_SAVED
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %rbx
        pop     %rbp
.endm

/* ---- VT-x ------------------------------------------------------------------
 * u32 hw_vmx_run(p regs, u32 launched)
 * Enters the guest of the current VMCS with VMRESUME (launched != 0) or
 * VMLAUNCH, and returns after the VM exit. Returns 0 after a VM exit,
 * 1 VMfailInvalid (CF), 2 VMfailValid (ZF; the VM-instruction error field
 * says why, SDM 30.4). The host-state area other than RSP/RIP is set by the
 * monitor; RSP and RIP are written here (SDM 24.5, 27.5.3). */
        .globl  hw_vmx_run
        .type   hw_vmx_run, @function
hw_vmx_run:
        PUSH_CALLEE_SAVED
        mov     %edi, %eax
        add     %r15, %rax                  /* absolute address of the block */
        push    %rax                        /* 8(%rsp) = block, found again after the exit */
        push    %rsi                        /* (%rsp) = launched; keeps 16-byte alignment */
        mov     $VMCS_HOST_RSP, %rdx
        vmwrite %rsp, %rdx
        jbe     .Lvmx_failed
        mov     $VMCS_HOST_RIP, %rdx
        lea     .Lvmx_exit(%rip), %rcx
        vmwrite %rcx, %rdx
        jbe     .Lvmx_failed
        LOAD_GUEST_CR2
        test    %esi, %esi
        LOAD_GUEST_GPRS                     /* mov does not touch the flags */
        mov     R_RAX(%rax), %rax
        jnz     1f
        vmlaunch
        jmp     .Lvmx_failed
1:      vmresume
.Lvmx_failed:                               /* no VM exit: rsp is ours, GPRs are not */
        mov     $1, %eax
        mov     $2, %ecx
        cmovz   %ecx, %eax                  /* ZF: VMfailValid, else CF: VMfailInvalid */
        jmp     .Lvmx_out

.Lvmx_exit:                                 /* SDM 27.5: rsp = HOST_RSP, rflags = 2 */
        push    %rax
        mov     16(%rsp), %rax              /* the block */
        STORE_GUEST_GPRS_BUT_RAX
        pop     %rcx
        mov     %rcx, R_RAX(%rax)
        mov     %cr2, %rcx
        mov     %rcx, R_CR2(%rax)
        xor     %eax, %eax
.Lvmx_out:
        add     $16, %rsp
        POP_CALLEE_SAVED                    /* r15 (wasm base) and rbp come back here */
        ret
        .size   hw_vmx_run, . - hw_vmx_run

/* ---- AMD-V -----------------------------------------------------------------
 * void hw_svm_run(u64 vmcb_pa, p regs, u64 host_vmcb_pa)
 * APM 15.5: clgi; vmsave the host's extra state (FS/GS/TR/LDTR/syscall MSRs)
 * to host_vmcb_pa; vmload + vmrun + vmsave the guest; vmload the host; stgi.
 * VMRUN keeps host rsp/rip/rax in the host save area (VM_HSAVE_PA).
 * Guest RAX lives in the VMCB; the trampoline copies it to/from the block. */
        .globl  hw_svm_run
        .type   hw_svm_run, @function
hw_svm_run:
        PUSH_CALLEE_SAVED
        mov     %esi, %esi
        add     %r15, %rsi                  /* absolute address of the block */
        push    %rsi                        /* 24(%rsp): block */
        push    %rdi                        /* 16(%rsp): guest VMCB */
        push    %rdx                        /*  8(%rsp): host save VMCB */
        push    %rdx                        /*  (%rsp): alignment */
        clgi
        sti                                 /* host IF=1 for the guest's run: with
                                               V_INTR_MASKING a physical interrupt
                                               is a #VMEXIT(INTR) (APM 15.21.1);
                                               GIF=0 keeps it off the host here */
        mov     %rdx, %rax
        vmsave  %rax
        movabs  $DIRECT_MAP, %rcx
        add     %rdi, %rcx
        mov     R_RAX(%rsi), %rdx
        mov     %rdx, VMCB_RAX(%rcx)        /* guest RAX */
        mov     %rsi, %rax
        LOAD_GUEST_GPRS                     /* rbp is now the guest's; rsp is ours */
        mov     16(%rsp), %rax              /* guest VMCB */
        vmload  %rax
        vmrun   %rax
        vmsave  %rax                        /* rax = guest VMCB again (host rax restored) */
        push    %rax
        mov     32(%rsp), %rax              /* the block */
        STORE_GUEST_GPRS_BUT_RAX
        pop     %rcx                        /* guest VMCB */
        movabs  $DIRECT_MAP, %rdx
        mov     VMCB_RAX(%rcx, %rdx), %rdx
        mov     %rdx, R_RAX(%rax)
        mov     8(%rsp), %rax               /* host save VMCB */
        vmload  %rax
        cli                                 /* pending interrupts wait for hw_irq_window */
        stgi
        add     $32, %rsp
        POP_CALLEE_SAVED
        ret
        .size   hw_svm_run, . - hw_svm_run

/* ---- host tables ------------------------------------------------------------
 * void hw_host_tables(p out): u64 slots
 *   0 gdt base  1 gdt limit  2 idt base  3 idt limit  4 tr selector
 *   5 tr base   6 cs  7 ss  8 ds  9 es  10 fs  11 gs
 * The TR base is read from the GDT's 16-byte TSS descriptor (SDM 7.2.3). */
        .globl  hw_host_tables
        .type   hw_host_tables, @function
hw_host_tables:
        mov     %edi, %edi
        add     %r15, %rdi
        sub     $16, %rsp
        sgdt    (%rsp)
        movzwl  (%rsp), %eax
        mov     %rax, 8(%rdi)
        mov     2(%rsp), %rax
        mov     %rax, 0(%rdi)
        sidt    (%rsp)
        movzwl  (%rsp), %eax
        mov     %rax, 24(%rdi)
        mov     2(%rsp), %rax
        mov     %rax, 16(%rdi)
        add     $16, %rsp
        xor     %eax, %eax
        str     %ax
        mov     %rax, 32(%rdi)
        /* TSS descriptor at gdt + (sel & ~7) */
        and     $0xfff8, %eax
        add     0(%rdi), %rax
        movzwl  2(%rax), %ecx               /* base 15:0 */
        movzbl  4(%rax), %edx               /* base 23:16 */
        shl     $16, %edx
        or      %edx, %ecx
        movzbl  7(%rax), %edx               /* base 31:24 */
        shl     $24, %edx
        or      %edx, %ecx
        mov     8(%rax), %edx               /* base 63:32 */
        shl     $32, %rdx
        or      %rdx, %rcx
        mov     %rcx, 40(%rdi)
        xor     %eax, %eax
        mov     %cs, %ax
        mov     %rax, 48(%rdi)
        mov     %ss, %ax
        mov     %rax, 56(%rdi)
        mov     %ds, %ax
        mov     %rax, 64(%rdi)
        mov     %es, %ax
        mov     %rax, 72(%rdi)
        mov     %fs, %ax
        mov     %rax, 80(%rdi)
        mov     %gs, %ax
        mov     %rax, 88(%rdi)
        ret
        .size   hw_host_tables, . - hw_host_tables

