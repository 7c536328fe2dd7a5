/* boot/mbinfo.S: copy the multiboot information into the kernel image before
 * anything else is allocated, so the monitor can parse it later wherever the
 * loader put it (QEMU puts it right after the kernel, GRUB anywhere).
 * 32-bit code, paging off. The copy's address is tv_boot_info[BI_INFO_PA]. */
#include "layout.inc"

        .intel_syntax noprefix
        .code32

#define MBI_COPY_SIZE  32768
#define MB1_CMDLINE_MAX 4096
#define MB1_MMAP_MAX   8192

        .section .text.boot32, "ax"
/* copy_boot_info: eax = magic, ebx = info physical address */
        .globl copy_boot_info
copy_boot_info:
        push esi
        push edi
        mov dword ptr [tv_boot_info + BI_INFO_PA * 8], offset mbi_copy
        cmp eax, MB2_MAGIC
        je .Lmb2

        /* Multiboot 1 (spec 3.3): 116-byte fixed part; cmdline (flags bit 2)
         * and mmap (flags bit 6) are copied and re-pointed; other pointers
         * are dropped from flags because their targets are not kept. */
        mov esi, ebx
        mov edi, offset mbi_copy
        mov ecx, 116 / 4
        rep movsd
        and dword ptr [mbi_copy], 0x47  /* mem (0), boot device (1), cmdline (2), mmap (6) */
        test dword ptr [mbi_copy], 1 << 2
        jz 2f
        mov esi, [ebx + 16]
        mov edi, offset mb1_cmdline
        mov [mbi_copy + 16], edi
        mov ecx, MB1_CMDLINE_MAX - 1
1:      lodsb
        stosb
        test al, al
        loopnz 1b
        mov byte ptr [edi], 0
2:      test dword ptr [mbi_copy], 1 << 6
        jz 3f
        mov ecx, [ebx + 44]             /* mmap_length */
        cmp ecx, MB1_MMAP_MAX
        jbe 4f
        mov ecx, MB1_MMAP_MAX
4:      mov [mbi_copy + 44], ecx
        mov esi, [ebx + 48]
        mov edi, offset mb1_mmap
        mov [mbi_copy + 48], edi
        rep movsb
3:      pop edi
        pop esi
        ret

.Lmb2:  /* Multiboot 2 (spec 3.6): one block of total_size bytes */
        mov ecx, [ebx]
        cmp ecx, MBI_COPY_SIZE
        jbe 1f
        mov ecx, MBI_COPY_SIZE          /* truncated: the parser stops at the end */
1:      mov esi, ebx
        mov edi, offset mbi_copy
        rep movsb
        mov eax, [mbi_copy]
        cmp eax, MBI_COPY_SIZE
        jbe 2f
        mov dword ptr [mbi_copy], MBI_COPY_SIZE
2:      pop edi
        pop esi
        ret

        .section .bss
        .balign 4096
mbi_copy:    .skip MBI_COPY_SIZE
mb1_cmdline: .skip MB1_CMDLINE_MAX
mb1_mmap:    .skip MB1_MMAP_MAX
