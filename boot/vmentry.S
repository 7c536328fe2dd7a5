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
#include "layout.inc"

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

        .intel_syntax noprefix
        .text
        .code64

/* Loads the guest CR2 (VT-x does not switch it, SDM 27.3). */
.macro LOAD_GUEST_CR2
        mov     rcx, [rax + R_CR2]
        mov     cr2, rcx                    /* leaves the arithmetic flags undefined */
.endm

/* Loads rcx..r15 from the block at [rax] (rax itself is left to the caller);
 * plain moves, so the flags survive. */
.macro LOAD_GUEST_GPRS
        mov     rcx, [rax + R_RCX]
        mov     rdx, [rax + R_RDX]
        mov     rbx, [rax + R_RBX]
        mov     rbp, [rax + R_RBP]
        mov     rsi, [rax + R_RSI]
        mov     rdi, [rax + R_RDI]
        mov     r8, [rax + R_R8]
        mov     r9, [rax + R_R9]
        mov     r10, [rax + R_R10]
        mov     r11, [rax + R_R11]
        mov     r12, [rax + R_R12]
        mov     r13, [rax + R_R13]
        mov     r14, [rax + R_R14]
        mov     r15, [rax + R_R15]
.endm

/* Stores every GPR but rax (and rsp) to the block at [rax]. */
.macro STORE_GUEST_GPRS_BUT_RAX
        mov     [rax + R_RCX], rcx
        mov     [rax + R_RDX], rdx
        mov     [rax + R_RBX], rbx
        mov     [rax + R_RBP], rbp
        mov     [rax + R_RSI], rsi
        mov     [rax + R_RDI], rdi
        mov     [rax + R_R8], r8
        mov     [rax + R_R9], r9
        mov     [rax + R_R10], r10
        mov     [rax + R_R11], r11
        mov     [rax + R_R12], r12
        mov     [rax + R_R13], r13
        mov     [rax + R_R14], r14
        mov     [rax + R_R15], r15
.endm

.macro PUSH_CALLEE_SAVED
        push    rbp
        mov     rbp, rsp
        push    rbx
        push    r12
        push    r13
        push    r14
        push    r15
.endm

.macro POP_CALLEE_SAVED
        pop     r15
        pop     r14
        pop     r13
        pop     r12
        pop     rbx
        pop     rbp
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
        mov     eax, edi
        add     rax, r15                    /* absolute address of the block */
        push    rax                         /* [rsp + 8] = block, found again after the exit */
        push    rsi                         /* [rsp] = launched; keeps 16-byte alignment */
        mov     rdx, VMCS_HOST_RSP
        vmwrite rdx, rsp
        jbe     .Lvmx_failed
        mov     rdx, VMCS_HOST_RIP
        lea     rcx, [rip + .Lvmx_exit]
        vmwrite rdx, rcx
        jbe     .Lvmx_failed
        LOAD_GUEST_CR2
        test    esi, esi
        LOAD_GUEST_GPRS                     /* mov does not touch the flags */
        mov     rax, [rax + R_RAX]
        jnz     1f
        vmlaunch
        jmp     .Lvmx_failed
1:      vmresume
.Lvmx_failed:                               /* no VM exit: rsp is ours, GPRs are not */
        mov     eax, 1
        mov     ecx, 2
        cmovz   eax, ecx                    /* ZF: VMfailValid, else CF: VMfailInvalid */
        jmp     .Lvmx_out

.Lvmx_exit:                                 /* SDM 27.5: rsp = HOST_RSP, rflags = 2 */
        push    rax
        mov     rax, [rsp + 16]             /* the block */
        STORE_GUEST_GPRS_BUT_RAX
        pop     rcx
        mov     [rax + R_RAX], rcx
        mov     rcx, cr2
        mov     [rax + R_CR2], rcx
        xor     eax, eax
.Lvmx_out:
        add     rsp, 16
        POP_CALLEE_SAVED                    /* r15 (wasm base) and rbp come back here */
        ret
        .size   hw_vmx_run, . - hw_vmx_run

/* ---- AMD-V -----------------------------------------------------------------
 * void hw_svm_run(u64 vmcb_pa, p regs, u64 host_vmcb_pa)
 * APM 15.5: clgi; vmsave the host's extra state (FS/GS/TR/LDTR/syscall MSRs)
 * to host_vmcb_pa; vmload + vmrun + vmsave the guest; vmload the host; stgi.
 * VMRUN keeps host rsp/rip/rax in the host save area (VM_HSAVE_PA).
 * Guest RAX lives in the VMCB; the trampoline copies it to/from the block.
 * VMSAVE/VMLOAD/VMRUN take the VMCB's physical address in rax (APM vol 3). */
        .globl  hw_svm_run
        .type   hw_svm_run, @function
hw_svm_run:
        PUSH_CALLEE_SAVED
        mov     esi, esi
        add     rsi, r15                    /* absolute address of the block */
        push    rsi                         /* [rsp + 24]: block */
        push    rdi                         /* [rsp + 16]: guest VMCB */
        push    rdx                         /* [rsp + 8]: host save VMCB */
        push    rdx                         /* [rsp]: alignment */
        clgi
        sti                                 /* host IF=1 for the guest's run: with
                                               V_INTR_MASKING a physical interrupt
                                               is a #VMEXIT(INTR) (APM 15.21.1);
                                               GIF=0 keeps it off the host here */
        mov     rax, rdx
        vmsave  rax
        movabs  rcx, DIRECT_MAP
        add     rcx, rdi
        mov     rdx, [rsi + R_RAX]
        mov     [rcx + VMCB_RAX], rdx       /* guest RAX */
        mov     rax, rsi
        LOAD_GUEST_GPRS                     /* rbp is now the guest's; rsp is ours */
        mov     rax, [rsp + 16]             /* guest VMCB */
        vmload  rax
        vmrun   rax
        vmsave  rax                         /* rax = guest VMCB again (host rax restored) */
        push    rax
        mov     rax, [rsp + 32]             /* the block */
        STORE_GUEST_GPRS_BUT_RAX
        pop     rcx                         /* guest VMCB */
        movabs  rdx, DIRECT_MAP
        mov     rdx, [rcx + rdx + VMCB_RAX]
        mov     [rax + R_RAX], rdx
        mov     rax, [rsp + 8]              /* host save VMCB */
        vmload  rax
        cli                                 /* pending interrupts wait for hw_irq_window */
        stgi
        add     rsp, 32
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
        mov     edi, edi
        add     rdi, r15
        sub     rsp, 16
        sgdt    [rsp]
        movzx   eax, word ptr [rsp]
        mov     [rdi + 8], rax
        mov     rax, [rsp + 2]
        mov     [rdi + 0], rax
        sidt    [rsp]
        movzx   eax, word ptr [rsp]
        mov     [rdi + 24], rax
        mov     rax, [rsp + 2]
        mov     [rdi + 16], rax
        add     rsp, 16
        xor     eax, eax
        str     ax
        mov     [rdi + 32], rax
        /* TSS descriptor at gdt + (sel & ~7) */
        and     eax, 0xfff8
        add     rax, [rdi + 0]
        movzx   ecx, word ptr [rax + 2]     /* base 15:0 */
        movzx   edx, byte ptr [rax + 4]     /* base 23:16 */
        shl     edx, 16
        or      ecx, edx
        movzx   edx, byte ptr [rax + 7]     /* base 31:24 */
        shl     edx, 24
        or      ecx, edx
        mov     edx, [rax + 8]              /* base 63:32 */
        shl     rdx, 32
        or      rcx, rdx
        mov     [rdi + 40], rcx
        xor     eax, eax
        mov     ax, cs
        mov     [rdi + 48], rax
        mov     ax, ss
        mov     [rdi + 56], rax
        mov     ax, ds
        mov     [rdi + 64], rax
        mov     ax, es
        mov     [rdi + 72], rax
        mov     ax, fs
        mov     [rdi + 80], rax
        mov     ax, gs
        mov     [rdi + 88], rax
        ret
        .size   hw_host_tables, . - hw_host_tables
