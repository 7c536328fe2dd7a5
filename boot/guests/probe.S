/* probe: reports what the monitor shows a guest through CPUID and MSRs:
 * hypervisor bit, VMX/SVM bits (must be hidden), the 0x40000000 leaf, and
 * which MSR accesses raise #GP (caught by its own real-mode IVT handler). */
        .code16
        .include "common.inc"
        .globl _start
_start:
        GUEST_ENTRY
        movw    $gp_handler, 13*4       /* IVT[13] = #GP (no error code in real mode) */
        movw    $0, 13*4+2
        PUTS16  hello
        /* CPUID.1: ECX bit 31 hypervisor, bit 5 VMX */
        mov     $1, %eax
        cpuid
        mov     %ecx, %ebp
        PUTS16  s_hv
        mov     %ebp, %eax
        shr     $31, %eax
        call    putdec16
        PUTS16  s_vmx
        mov     %ebp, %eax
        shr     $5, %eax
        and     $1, %ax
        call    putdec16
        /* CPUID.80000001: ECX bit 2 SVM, bit 29 MONITORX/MWAITX */
        mov     $0x80000001, %eax
        cpuid
        mov     %ecx, ext_ecx
        PUTS16  s_svm
        mov     %ecx, %eax
        shr     $2, %eax
        and     $1, %ax
        call    putdec16
        /* MONITOR (CPUID.1:ECX bit 3) and MONITORX (CPUID.80000001:ECX bit 29): their intercepts give #UD,
         * so neither may be shown */
        PUTS16  s_mon
        mov     %ebp, %eax
        shr     $3, %eax
        and     $1, %ax
        call    putdec16
        PUTS16  s_mwx
        mov     ext_ecx, %eax
        shr     $29, %eax
        and     $1, %ax
        call    putdec16
        /* CPUID.40000000: max leaf in EAX, signature in EBX ECX EDX */
        mov     $0x40000000, %eax
        cpuid
        mov     %ebx, sig
        mov     %ecx, sig+4
        mov     %edx, sig+8
        PUTS16  s_sig
        PUTS16  sig
        PUTS16  s_nl
        /* MSRs: IA32_PAT (allowed), IA32_VMX_BASIC and VM_HSAVE_PA (denied) */
        mov     $0x277, %ecx
        call    try_rdmsr
        mov     $0x480, %ecx
        call    try_rdmsr
        mov     $0xC0010117, %ecx
        call    try_rdmsr
        mov     $0x3A, %ecx
        call    try_rdmsr
        /* an unknown port reads as all ones: IN AX from port 0x1234 */
        PUTS16  s_in
        xor     %eax, %eax
        mov     $0x1234, %dx
        inw     %dx, %ax
        call    puthex16
        PUTS16  s_nl
        PUTS16  done
1:      hlt
        jmp     1b

/* try_rdmsr: ecx = MSR; prints "msr XXXXXXXX: ok|#GP" */
try_rdmsr:
        movb    $0, gpflag
        PUTS16  s_msr
        mov     %ecx, %eax
        call    puthex16
        rdmsr                           /* 2 bytes: the #GP handler skips it */
        cmpb    $0, gpflag
        jne     1f
        PUTS16  s_ok
        ret
1:      PUTS16  s_gp
        ret

gp_handler:
        push    %bp
        mov     %sp, %bp
        addw    $2, 2(%bp)              /* saved IP: skip the 2-byte rdmsr */
        movb    $1, gpflag
        pop     %bp
        iret

        .include "lib16.inc"
gpflag: .byte   0
sig:    .fill   13, 1, 0
        .balign 4
ext_ecx: .long  0
hello:  .asciz  "probe guest\n"
s_hv:   .asciz  "cpuid hypervisor="
s_vmx:  .asciz  " vmx="
s_svm:  .asciz  " svm="
s_mon:  .asciz  " monitor="
s_mwx:  .asciz  " monitorx="
s_sig:  .asciz  "\ncpuid 0x40000000 signature="
s_nl:   .asciz  "\n"
s_in:   .asciz  "inw port 1234: "
s_msr:  .asciz  "rdmsr "
s_ok:   .asciz  ": ok\n"
s_gp:   .asciz  ": #GP\n"
done:   .asciz  "probe done\n"
