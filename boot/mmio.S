/* boot/mmio.S: the uncached window where the monitor's drivers see device
 * registers (PCI memory BARs). The direct map (boot/paging.S) is write-back
 * and stops at RAM top or 4 GiB, so a BAR above it is not mapped at all and
 * one below it would be cached; registers need UC (SDM vol 3 12.3, 12.12.3).
 *
 *   PML4[257] MMIO window at DIRECT_MAP + 512 GiB (just past the largest
 *             direct map): 4 KiB pages with PCD|PWT (PAT entry 3 = UC with
 *             the reset PAT), handed out in order, never unmapped.
 *
 * The monitor reaches a mapped page through the phys_* intrinsics with the
 * address hw_mmio_map returns: it is relative to DIRECT_MAP (docs/ABI.md). */
#include "layout.inc"

        .intel_syntax noprefix
        .code64

#define MMIO_PTS     8                        /* 8 PTs: a 16 MiB window */
#define MMIO_PAGES   (MMIO_PTS * 512)
#define MMIO_OFFSET  0x8000000000             /* PML4 slot 257 - slot 256, in bytes */
#define PTE_PWT      0x8
#define PTE_PCD      0x10

        .section .text, "ax"

/* hw_mmio_map(pa: rdi, len: rsi) -> rax: the window address of pa relative to
 * DIRECT_MAP (so phys_load32(rax + off) reads the register at pa + off), or
 * -1 when len is 0 or the window is full. Pages [pa & ~0xFFF, pa + len) are
 * mapped UC; pa keeps its offset inside the first page. */
        .globl hw_mmio_map
hw_mmio_map:
        test rsi, rsi
        jz 9f
        mov rax, rdi
        and eax, 0xFFF
        add rsi, rax
        jc 9f                               /* offset + len overflowed */
        add rsi, 0xFFF
        jc 9f
        shr rsi, 12                         /* pages to map */
        mov rcx, [rip + mmio_next]
        lea rdx, [rcx + rsi]
        cmp rdx, MMIO_PAGES
        ja 9f
        mov [rip + mmio_next], rdx
        cmp qword ptr [rip + pml4 + 257 * 8], 0
        jne 2f
        call mmio_tables                    /* first use: hook the window in */
2:      mov r8, rcx                         /* first page index of this mapping */
        and rdi, -0x1000
        lea r9, [rip + mmio_pts]
        mov r10, DIRECT_MAP + MMIO_OFFSET
3:      mov rdx, rdi
        or rdx, PTE_P | PTE_W | PTE_PWT | PTE_PCD
        mov [r9 + rcx * 8], rdx
        mov rdx, rcx
        shl rdx, 12
        invlpg [r10 + rdx]
        add rdi, 0x1000
        inc rcx
        dec rsi
        jnz 3b
        shl r8, 12
        mov rdx, MMIO_OFFSET
        add r8, rdx
        add rax, r8                         /* + offset of pa inside its page */
        ret
9:      mov rax, -1
        ret

/* hw_mfence(): a full fence for the drivers' rings: x86 may pass a load
 * ahead of an older store (SDM vol 3 9.2.3.4), which virtio's index/event
 * protocol forbids (virtio 1.2 2.7.13.3.1). */
        .globl hw_mfence
hw_mfence:
        mfence
        ret

/* mmio_tables: PML4[257] -> mmio_pdpt[0] -> mmio_pd[0..MMIO_PTS) -> mmio_pts.
 * The kernel image is identity-mapped, so these symbols are physical
 * addresses. Preserves rax, rcx, rsi, rdi. */
mmio_tables:
        push rcx
        lea rdx, [rip + mmio_pd]
        lea r9, [rip + mmio_pts]
        xor ecx, ecx
1:      mov r8, rcx
        shl r8, 12
        lea r8, [r9 + r8 + PTE_P + PTE_W]
        mov [rdx + rcx * 8], r8
        inc rcx
        cmp rcx, MMIO_PTS
        jb 1b
        lea r8, [rdx + PTE_P + PTE_W]
        mov [rip + mmio_pdpt], r8
        lea r8, [rip + mmio_pdpt + PTE_P + PTE_W]
        mov [rip + pml4 + 257 * 8], r8
        pop rcx
        ret

        .section .data
        .balign 8
mmio_next:   .quad 0                        /* next free page of the window */

        .section .bss
        .balign 4096
mmio_pdpt:   .skip 4096
mmio_pd:     .skip 4096
mmio_pts:    .skip MMIO_PTS * 4096
