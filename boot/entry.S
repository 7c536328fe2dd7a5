/* boot/entry.S: multiboot 1 and 2 headers, the 32-bit entry, the switch to
 * long mode. Control then passes to boot64 (boot/paging.S). */
#include "layout.inc"

        .intel_syntax noprefix

/* ---- Multiboot 1 header (multiboot spec 0.6.96, 3.1) ----------------------
 * flags: bit 1 = memory map wanted, bit 16 = the address fields are valid
 * (the "a.out kludge"): QEMU -kernel refuses a 64-bit ELF without it. */
#define MB1_HDR_MAGIC 0x1BADB002
#define MB1_FLAGS     ((1 << 1) | (1 << 16))

        .section .multiboot, "a"
        .balign 8
mb1_header:
        .long MB1_HDR_MAGIC
        .long MB1_FLAGS
        .long -(MB1_HDR_MAGIC + MB1_FLAGS)
        .long mb1_header                /* header_addr */
        .long __load_start              /* load_addr: first byte of the file image */
        .long __load_end                /* load_end_addr: end of .data */
        .long __bss_end                 /* bss_end_addr: loader zeroes up to here */
        .long _start                    /* entry_addr */

/* ---- Multiboot 2 header (multiboot2 spec 3.1), 8-byte aligned tags ------- */
#define MB2_HDR_MAGIC 0xE85250D6
        .balign 8
mb2_header:
        .long MB2_HDR_MAGIC
        .long 0                         /* architecture: i386 protected mode */
        .long mb2_header_end - mb2_header
        .long -(MB2_HDR_MAGIC + (mb2_header_end - mb2_header))
        /* information request: memory map (6), command line (1) */
        .balign 8
        .word 1, 0
        .long 16
        .long 1, 6
        /* end tag */
        .balign 8
        .word 0, 0
        .long 8
mb2_header_end:

/* ---- 32-bit entry ---------------------------------------------------------
 * Both loaders enter here in 32-bit protected mode, paging off, interrupts
 * off, eax = magic, ebx = info (physical). No stack is given. */
        .section .text.boot32, "ax"
        .code32
        .globl _start
_start:
        cli
        cld
        mov esi, eax                    /* keep magic and info out of the way */
        mov edi, ebx
        rdtsc
        mov [tv_boot_info + BI_BOOT_TSC * 8], eax
        mov [tv_boot_info + BI_BOOT_TSC * 8 + 4], edx
        mov esp, offset boot32_stack_top
        call com1_init32

        /* zero .bss (the loaders should, but a zeroed page table is too
         * important to trust to them). Our saved values live in .data. */
        mov ebp, edi
        mov edi, offset __bss_start
        mov ecx, offset __bss_end
        sub ecx, edi
        shr ecx, 2
        xor eax, eax
        rep stosd                       /* also clears this stack: nothing live on it */
        mov edi, ebp

        mov [tv_boot_info + BI_MAGIC * 8], esi
        cmp esi, MB1_MAGIC
        je 1f
        cmp esi, MB2_MAGIC
        je 1f
        mov esi, offset msg_bad_magic
        jmp fatal32
1:
        /* long mode available? CPUID 0x80000001 EDX bit 29 (SDM vol 2A CPUID) */
        mov eax, 0x80000000
        cpuid
        cmp eax, 0x80000001
        jb no_long_mode
        mov eax, 0x80000001
        cpuid
        test edx, 1 << 29
        jz no_long_mode

        mov eax, [tv_boot_info + BI_MAGIC * 8]
        mov ebx, edi
        call copy_boot_info             /* boot/mbinfo.S */

        /* Transitional page tables: identity map of the first 1 GiB with
         * 2 MiB pages; boot64 replaces them with the real ones. */
        mov edi, offset boot_pd
        xor eax, eax
        mov ecx, 512
2:      mov edx, eax
        shl edx, 21
        or edx, PTE_P | PTE_W | PTE_PS
        mov [edi + eax * 8], edx
        mov dword ptr [edi + eax * 8 + 4], 0
        inc eax
        loop 2b
        mov dword ptr [boot_pdpt], offset boot_pd + (PTE_P | PTE_W)
        mov dword ptr [boot_pml4], offset boot_pdpt + (PTE_P | PTE_W)

        /* Enter long mode (SDM vol 3 10.8.5): CR4.PAE, CR3, EFER.LME, CR0.PG */
        mov eax, cr4
        or eax, 1 << 5                  /* PAE */
        mov cr4, eax
        mov eax, offset boot_pml4
        mov cr3, eax
        mov ecx, 0xC0000080             /* IA32_EFER */
        rdmsr
        or eax, 1 << 8                  /* LME */
        wrmsr
        mov eax, cr0
        or eax, (1 << 31) | (1 << 16) | (1 << 5) | 1  /* PG, WP, NE, PE */
        mov cr0, eax
        lgdt [gdt_ptr]
        push SEL_CODE64                 /* far return into the 64-bit code segment */
        push offset boot64_trampoline
        retf

no_long_mode:
        mov esi, offset msg_no_lm
fatal32:
        call puts32
        mov dx, DEBUG_EXIT_PORT
        mov eax, EXIT_FAILURE
        out dx, eax
3:      hlt
        jmp 3b

/* 16550 at COM1: 115200 8N1, FIFOs on (PC16550D datasheet) */
        .globl com1_init32
com1_init32:
        mov dx, COM1 + 1
        xor al, al
        out dx, al                      /* IER: no interrupts */
        mov dx, COM1 + 3
        mov al, 0x80
        out dx, al                      /* LCR.DLAB */
        mov dx, COM1
        mov al, 1
        out dx, al                      /* divisor 1 = 115200 */
        mov dx, COM1 + 1
        xor al, al
        out dx, al
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al                      /* 8N1 */
        mov dx, COM1 + 2
        mov al, 0xC7
        out dx, al                      /* FIFO on, cleared */
        mov dx, COM1 + 4
        mov al, 0x03
        out dx, al                      /* DTR, RTS */
        ret

/* puts32: esi = NUL-terminated string */
puts32:
        lodsb
        test al, al
        jz 2f
        mov ah, al
        mov dx, COM1 + 5
1:      in al, dx
        test al, 0x20
        jz 1b
        mov dx, COM1
        mov al, ah
        out dx, al
        jmp puts32
2:      ret

        .code64
boot64_trampoline:
        mov ax, SEL_DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        xor ax, ax
        mov fs, ax
        mov gs, ax
        jmp boot64

        .section .rodata
msg_bad_magic: .asciz "typevisor: not started by a multiboot loader (bad magic)\r\n"
msg_no_lm:     .asciz "typevisor: this CPU has no 64-bit long mode; cannot boot\r\n"

        .section .bss
        .balign 4096
boot_pml4: .skip 4096
boot_pdpt: .skip 4096
boot_pd:   .skip 4096
        .balign 16
        .skip 1024
boot32_stack_top:
