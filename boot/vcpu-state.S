/* boot/vcpu-state.S: the guest CPU state that neither VMX nor SVM switches on
 * VM entry/exit (SDM vol 3 27.3/27.5, APM vol 2 15.5.1): x87/SSE/AVX state
 * and XCR0, and the debug registers DR0-DR3/DR6. The monitor never uses any
 * of them (it is integer-only, docs/ABI.md), so src/vmm/lazy-state.ts switches
 * them only when another vCPU is about to run. Arguments are physical
 * addresses of 64-byte aligned save areas, reached through the direct map. */
#include "layout.inc"

        .intel_syntax noprefix
        .code64
        .section .text, "ax"

/* void hw_ext_switch(i64 save_pa, i64 load_pa, i64 full_xcr0, i64 load_xcr0, i32 use_xsave)
 * save_pa (0: none) receives the live state, load_pa's state is loaded.
 * With XSAVE (SDM vol 1 13.7-13.8): XCR0 = full_xcr0 around both, so every
 * component any guest may enable is saved and loaded, then XCR0 = load_xcr0.
 * Without it: FXSAVE64/FXRSTOR64 (512 bytes: x87, MXCSR, XMM0-15). */
        .globl hw_ext_switch
        .type hw_ext_switch, @function
hw_ext_switch:
        movabs rax, DIRECT_MAP
        mov r10, rdx                    /* full_xcr0 */
        mov r11, rcx                    /* load_xcr0 */
        test r8d, r8d
        jz 3f
        mov rax, r10                    /* XSETBV: ECX = 0, EDX:EAX = value */
        mov rdx, r10
        shr rdx, 32
        xor ecx, ecx
        xsetbv
        movabs rcx, DIRECT_MAP
        mov eax, -1                     /* requested-feature bitmap: all of XCR0 */
        mov edx, -1
        test rdi, rdi
        jz 1f
        xsave64 [rdi + rcx]
1:      xrstor64 [rsi + rcx]
        mov rax, r11
        mov rdx, r11
        shr rdx, 32
        xor ecx, ecx
        xsetbv
        ret
3:      test rdi, rdi
        jz 4f
        fxsave64 [rdi + rax]
4:      fxrstor64 [rsi + rax]
        ret
        .size hw_ext_switch, . - hw_ext_switch

/* void hw_dr_switch(i64 save_pa, i64 load_pa): DR0-DR3 and DR6 as five u64
 * (save_pa 0: none). DR7 and DEBUGCTL are in the VMCS/VMCB. */
        .globl hw_dr_switch
        .type hw_dr_switch, @function
hw_dr_switch:
        movabs rax, DIRECT_MAP
        test rdi, rdi
        jz 1f
        add rdi, rax
        mov rcx, dr0
        mov [rdi], rcx
        mov rcx, dr1
        mov [rdi + 8], rcx
        mov rcx, dr2
        mov [rdi + 16], rcx
        mov rcx, dr3
        mov [rdi + 24], rcx
        mov rcx, dr6
        mov [rdi + 32], rcx
1:      add rsi, rax
        mov rcx, [rsi]
        mov dr0, rcx
        mov rcx, [rsi + 8]
        mov dr1, rcx
        mov rcx, [rsi + 16]
        mov dr2, rcx
        mov rcx, [rsi + 24]
        mov dr3, rcx
        mov rcx, [rsi + 32]
        mov dr6, rcx
        ret
        .size hw_dr_switch, . - hw_dr_switch

/* i64 hw_read_dr6(), void hw_write_dr6(i64): the live DR6, for reflecting an
 * intercepted #DB (SDM vol 3 27.1: a #DB that causes a VM exit leaves DR6 alone). */
        .globl hw_read_dr6, hw_write_dr6
hw_read_dr6:
        mov rax, dr6
        ret
hw_write_dr6:
        mov dr6, rdi
        ret
