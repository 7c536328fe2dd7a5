/* boot/mbinfo.S: copy the multiboot information into the kernel image before
 * anything else is allocated, so the monitor can parse it later wherever the
 * loader put it (QEMU puts it right after the kernel, GRUB anywhere).
 * 32-bit code, paging off. The copy's address is tv_boot_info[BI_INFO_PA]. */
#include "layout.inc"

        .intel_syntax noprefix
        .code32

#define MBI_COPY_SIZE  131072   /* multiboot 2: 32 module tags with 2048-byte strings fit (GUESTS.md) */
#define MB1_CMDLINE_MAX 4096
#define MB1_MMAP_MAX   8192
#define MB1_MODS_MAX   32       /* module entries kept (multiboot 3.3 mods_*; GUESTS.md: at least 32) */
#define MB1_MODSTR_MAX 2048     /* bytes kept of each module string (Linux command-line limit, GUESTS.md) */
#define MODULE_MAX     0x10000000 /* a module larger than 256 MiB is refused (src/vmm/multiboot.ts) */

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
3:      /* mods (flags bit 3, spec 3.3): the 16-byte entries {mod_start,
         * mod_end, string, reserved} and their strings are copied too; the
         * modules themselves stay where the loader put them (mods_top). */
        test dword ptr [ebx], 1 << 3
        jz 9f
        push ebx
        push ebp
        mov ecx, [ebx + 20]             /* mods_count */
        mov [tv_boot_info + BI_MODS_GIVEN * 8], ecx   /* the ones beyond 32 are named refused by main.ts */
        cmp ecx, MB1_MODS_MAX
        jbe 5f
        mov ecx, MB1_MODS_MAX
5:      mov [mbi_copy + 20], ecx
        mov dword ptr [mbi_copy + 24], offset mb1_mods
        or dword ptr [mbi_copy], 1 << 3
        mov ebx, [ebx + 24]             /* mods_addr */
        mov edx, offset mb1_mods
        mov ebp, offset mb1_modstr
6:      test ecx, ecx
        jz 8f
        mov eax, [ebx]
        mov [edx], eax
        mov edi, [ebx + 4]
        mov [edx + 4], edi
        call note_module
        mov [edx + 8], ebp
        mov dword ptr [edx + 12], 0
        push ecx
        mov esi, [ebx + 8]
        mov edi, ebp
        mov ecx, MB1_MODSTR_MAX - 1
        test esi, esi
        jz 7f
10:     lodsb
        stosb
        test al, al
        loopnz 10b
7:      mov byte ptr [edi], 0
        pop ecx
        add ebx, 16
        add edx, 16
        add ebp, MB1_MODSTR_MAX
        dec ecx
        jmp 6b
8:      pop ebp
        pop ebx
9:      pop edi
        pop esi
        ret

/* note_module: eax = mod_start, edi = mod_end. mods_top = the highest end of a
 * plausible module (non-empty, at most MODULE_MAX): boot/paging.S keeps the
 * monitor heap above it, so the heap never overwrites a module. */
note_module:
        cmp edi, eax
        jbe 1f
        push edi
        sub edi, eax
        cmp edi, MODULE_MAX
        pop edi
        ja 1f
        cmp edi, [mods_top]
        jbe 1f
        mov [mods_top], edi
1:      ret

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
2:      /* module tags (type 3, spec 3.6.6: mod_start, mod_end, string) */
        mov esi, offset mbi_copy + 8
        mov edx, offset mbi_copy
        add edx, [mbi_copy]             /* end of the copied tags */
3:      lea eax, [esi + 8]
        cmp eax, edx
        ja 6f
        mov eax, [esi]                  /* type */
        mov ecx, [esi + 4]              /* size */
        test eax, eax
        jz 6f
        cmp ecx, 8
        jb 6f
        cmp eax, 3
        jne 5f
        cmp ecx, 16
        jb 5f
        mov eax, [esi + 8]
        mov edi, [esi + 12]
        call note_module
5:      add ecx, 7
        and ecx, -8
        add esi, ecx
        jmp 3b
6:      pop edi
        pop esi
        ret

        .section .bss
        .balign 4096
mbi_copy:    .skip MBI_COPY_SIZE
mb1_cmdline: .skip MB1_CMDLINE_MAX
mb1_mmap:    .skip MB1_MMAP_MAX
mb1_mods:    .skip MB1_MODS_MAX * 16
mb1_modstr:  .skip MB1_MODS_MAX * MB1_MODSTR_MAX

        .section .data
        .balign 4
        .globl mods_top
mods_top:    .long 0
