/* boot/guest-images.S: the test guests embedded in the image (built by
 * scripts/build-guests.ts into build/guests/, found through -I) and
 * hw_guest_copy, which loads one into a VM's RAM. */
#include "layout.inc"

        .intel_syntax noprefix
        .text
        .code64

/* ---- embedded guests ----------------------------------------------------------
 * i64 hw_guest_copy(u32 index, u64 dst_pa, u64 max_len): copies embedded guest
 * `index` (scripts/build-guests.ts EMBEDDED_GUESTS order) to physical dst_pa
 * through the direct map. Returns its size, or -1 when there is no such
 * guest or it is longer than max_len. */
        .globl  hw_guest_copy
        .type   hw_guest_copy, @function
hw_guest_copy:
        mov     rax, -1
        cmp     edi, OFFSET GUEST_COUNT
        jae     1f
        mov     edi, edi
        shl     rdi, 4
        lea     rcx, [rip + guest_table]
        mov     r8, [rcx + rdi + 8]         /* end */
        mov     rcx, [rcx + rdi]            /* start */
        sub     r8, rcx                     /* length */
        cmp     r8, rdx
        ja      1f
        movabs  rdi, DIRECT_MAP
        add     rdi, rsi                    /* destination through the direct map */
        mov     rsi, rcx
        mov     rcx, r8
        cld
        rep movsb
        mov     rax, r8
1:      ret
        .size   hw_guest_copy, . - hw_guest_copy

        .section .rodata
        .balign 16
.macro GUEST name
        .quad guest_\name\()_start, guest_\name\()_end
.endm
guest_table:                                /* EMBEDDED_GUESTS order */
        GUEST print
        GUEST real16
        GUEST long64
        GUEST probe
        GUEST hostile
        GUEST cpuidloop
        GUEST spin
        GUEST isolate
        GUEST prefixes
        GUEST storm
        GUEST attack
        .set GUEST_COUNT, (. - guest_table) / 16

.macro EMBED name
guest_\name\()_start:
        .incbin "\name\().bin"
guest_\name\()_end:
.endm
        .balign 16
        EMBED print
        EMBED real16
        EMBED long64
        EMBED probe
        EMBED hostile
        EMBED cpuidloop
        EMBED spin
        EMBED isolate
        EMBED prefixes
        EMBED storm
        EMBED attack
