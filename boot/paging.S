/* boot/paging.S: the 64-bit boot path. Reads the memory map, builds the real
 * page tables (SDM vol 3 4.5, 4-level paging), carves the pool that backs the
 * wasm linear memory, then sets up the CPU tables and runs the monitor.
 *
 *   PML4[0]   identity map of the kernel image only (4 KiB pages below 64 MiB,
 *             so page 0 and each stack's guard page stay unmapped)
 *   PML4[2]   WASM_BASE: the current linear-memory pages, 4 KiB each; the rest
 *             of the 8 GiB + 64 KiB guard is never mapped (ABI.md)
 *   PML4[256] DIRECT_MAP: all RAM and at least the low 4 GiB (MMIO included):
 *             4 KiB pages for the first 2 MiB, 2 MiB pages up to 4 GiB, then
 *             1 GiB pages when the CPU has them (else 2 MiB, up to 64 GiB) */
#include "layout.inc"

        .intel_syntax noprefix
        .code64

#define KPT_COUNT   32          /* kernel-image PTs: 4 KiB mapping below 64 MiB */
#define DM_PD_COUNT 64          /* without 1 GiB pages the direct map stops at 64 GiB */
#define MAX_REGIONS 128

        .section .text, "ax"
        .globl boot64
boot64:
        lea rsp, [rip + main_stack_top]
        xor ebp, ebp
        call read_memory_map
        call build_page_tables
        call setup_heap_pool
        call cpu_init                   /* boot/cpu.S: GDT, TSS, IDT */

        /* mask both 8259 PICs: the monitor runs with interrupts off */
        mov al, 0xFF
        out 0x21, al
        out 0xA1, al

        lea rax, [rip + main_stack_bottom]
        mov [rip + tv_boot_info + BI_STACK_BOTTOM * 8], rax
        add rax, STACK_LIMIT_MARGIN
        mov [rip + tv_stack_limit], rax
        lea rax, [rip + main_stack_top]
        mov [rip + tv_boot_info + BI_STACK_TOP * 8], rax

        call wasm_init
        call wasm_export_main
        /* main returned: the monitor has nothing left to run */
        lea rsi, [rip + msg_main_returned]
        call tv_puts
        mov edi, EXIT_SUCCESS
        jmp hw_debug_exit

/* ---- memory map -> avail_regions[] of {base, end} ----------------------- */
read_memory_map:
        mov rbx, [rip + tv_boot_info + BI_INFO_PA * 8]
        cmp dword ptr [rip + tv_boot_info + BI_MAGIC * 8], MB2_MAGIC
        je .Lmm_mb2
        mov eax, [rbx]                  /* MB1 flags */
        test eax, 1 << 6
        jz .Lmm_mb1_basic
        mov esi, [rbx + 48]             /* mmap_addr (already our copy) */
        mov ecx, [rbx + 44]
        lea r8, [rsi + rcx]
1:      cmp rsi, r8
        jae .Lmm_done
        cmp dword ptr [rsi + 20], 1     /* type 1 = available RAM */
        jne 2f
        mov rax, [rsi + 4]
        mov rdx, [rsi + 12]
        call add_region
2:      mov eax, [rsi]
        lea rsi, [rsi + rax + 4]        /* size does not count itself */
        jmp 1b
.Lmm_mb1_basic:                         /* mem_lower/mem_upper in KiB (flags bit 0) */
        test eax, 1
        jz .Lmm_done
        mov eax, 0x100000
        mov edx, [rbx + 8]
        shl rdx, 10
        call add_region
        jmp .Lmm_done
.Lmm_mb2:
        mov r8d, [rbx]                  /* total_size */
        add r8, rbx
        lea rsi, [rbx + 8]
1:      lea rax, [rsi + 8]
        cmp rax, r8
        ja .Lmm_done
        mov eax, [rsi]                  /* tag type */
        test eax, eax
        jz .Lmm_done
        cmp eax, 6                      /* memory map tag (multiboot2 3.6.8) */
        jne 3f
        mov r9d, [rsi + 4]
        add r9, rsi                     /* tag end */
        mov r10d, [rsi + 8]             /* entry_size */
        lea r11, [rsi + 16]
2:      lea rax, [r11 + 24]
        cmp rax, r9
        ja 3f
        cmp rax, r8
        ja 3f
        cmp dword ptr [r11 + 16], 1
        jne 4f
        push rsi
        mov rax, [r11]
        mov rdx, [r11 + 8]
        call add_region
        pop rsi
4:      add r11, r10
        test r10, r10
        jnz 2b
3:      mov eax, [rsi + 4]
        add eax, 7
        and eax, ~7
        jz .Lmm_done
        add rsi, rax
        jmp 1b
.Lmm_done:
        cmp qword ptr [rip + region_count], 0
        jne 1f
        lea rsi, [rip + msg_no_mmap]
        jmp boot_fatal
1:      ret

/* add_region: rax = base, rdx = length; records [base, base+len) and updates
 * RAM top and total. Clobbers rax, rcx, rdx. */
add_region:
        test rdx, rdx
        jz 1f
        add rdx, rax
        mov rcx, [rip + region_count]
        cmp rcx, MAX_REGIONS
        jae 1f
        shl rcx, 4
        push rbx
        lea rbx, [rip + avail_regions]
        mov [rbx + rcx], rax
        mov [rbx + rcx + 8], rdx
        pop rbx
        inc qword ptr [rip + region_count]
        cmp rdx, [rip + tv_boot_info + BI_RAM_TOP * 8]
        jbe 2f
        mov [rip + tv_boot_info + BI_RAM_TOP * 8], rdx
2:      sub rdx, rax
        add [rip + ram_total], rdx
1:      ret

/* ---- page tables --------------------------------------------------------- */
build_page_tables:
        /* kernel image: identity, [KERNEL_PHYS, __end) */
        lea rbx, [rip + kernel_pts]
        lea rdi, [rip + pd_ident]
        mov r8, KERNEL_PHYS
        lea r9, [rip + __end]
        mov [rip + tv_boot_info + BI_KERNEL_START * 8], r8
        mov [rip + tv_boot_info + BI_KERNEL_END * 8], r9
1:      cmp r8, r9
        jae 5f
        cmp r8, KPT_COUNT * 0x200000
        jae 4f
        mov rax, r8
        shr rax, 21
        mov rcx, rax
        shl rcx, 12
        add rcx, rbx                    /* this 2 MiB slot's PT */
        lea rdx, [rcx + PTE_P + PTE_W]
        mov [rdi + rax * 8], rdx
        call is_guard_page
        jc 3f
        mov rax, r8
        shr rax, 12
        and eax, 511
        lea rdx, [r8 + PTE_P + PTE_W]
        mov [rcx + rax * 8], rdx
3:      add r8, 0x1000
        jmp 1b
4:      mov rax, r8                     /* beyond 64 MiB: 2 MiB pages */
        shr rax, 21
        mov rdx, r8
        and rdx, -0x200000
        or rdx, PTE_P | PTE_W | PTE_PS
        mov [rdi + rax * 8], rdx
        add r8, 0x200000
        and r8, -0x200000
        jmp 1b
5:      lea rax, [rdi + PTE_P + PTE_W]
        mov [rip + pdpt_ident], rax
        lea rax, [rip + pdpt_ident + PTE_P + PTE_W]
        mov [rip + pml4], rax

        /* direct map size: RAM top rounded up to 1 GiB, at least 4 GiB,
         * at most 512 GiB (one PDPT) */
        mov rax, [rip + tv_boot_info + BI_RAM_TOP * 8]
        add rax, (1 << 30) - 1
        shr rax, 30
        cmp rax, 4
        jae 1f
        mov eax, 4
1:      cmp rax, 512
        jbe 1f
        mov eax, 512
1:      mov r8, rax                     /* r8 = GiB to map */
        mov eax, 0x80000001
        cpuid
        mov r10d, edx
        and r10d, 1 << 26               /* Page1GB (SDM vol 2A CPUID) */
        jnz 1f
        cmp r8, DM_PD_COUNT             /* 2 MiB pages only: as far as the static PDs reach */
        jbe 1f
        mov r8d, DM_PD_COUNT
        /* The low 4 GiB (RAM, the PCI hole, APIC, flash: many MTRR types) get
         * 2 MiB pages and the first 2 MiB 4 KiB pages, so no large page spans
         * two memory types (SDM vol 3 12.11.9); 1 GiB pages only above. */
1:      mov r9, r8
        test r10d, r10d
        jz 2f
        cmp r9, 4
        jbe 2f
        mov r9d, 4                      /* r9 = GiB mapped with 2 MiB pages */
2:      lea rdi, [rip + pdpt_dm]
        lea rsi, [rip + pd_dm]
        xor ecx, ecx
        mov r11, r9
        shl r11, 9
3:      mov rax, rcx
        shl rax, 21
        or rax, PTE_P | PTE_W | PTE_PS
        mov [rsi + rcx * 8], rax
        inc rcx
        cmp rcx, r11
        jb 3b
        xor ecx, ecx
4:      mov rax, rcx
        shl rax, 12
        lea rax, [rsi + rax + PTE_P + PTE_W]
        mov [rdi + rcx * 8], rax
        inc rcx
        cmp rcx, r9
        jb 4b
5:      cmp rcx, r8                     /* the rest: 1 GiB pages */
        jae 6f
        mov rax, rcx
        shl rax, 30
        or rax, PTE_P | PTE_W | PTE_PS
        mov [rdi + rcx * 8], rax
        inc rcx
        jmp 5b
6:      lea rdx, [rip + dm_low_pt]      /* first 2 MiB: 4 KiB pages */
        xor ecx, ecx
7:      mov rax, rcx
        shl rax, 12
        or rax, PTE_P | PTE_W
        mov [rdx + rcx * 8], rax
        inc rcx
        cmp rcx, 512
        jb 7b
        lea rax, [rdx + PTE_P + PTE_W]
        mov [rsi], rax
.Ldm_done:
        shl r8, 30
        mov [rip + tv_boot_info + BI_DIRECT_MAP_SIZE * 8], r8
        lea rax, [rdi + PTE_P + PTE_W]
        mov [rip + pml4 + 256 * 8], rax
        lea rax, [rip + pdpt_wasm + PTE_P + PTE_W]
        mov [rip + pml4 + 2 * 8], rax
        lea rax, [rip + pd_wasm + PTE_P + PTE_W]
        mov [rip + pdpt_wasm], rax
        lea rax, [rip + pml4]
        mov cr3, rax                    /* the transitional map is gone from here */
        ret

/* is_guard_page: CF set when the page at r8 is a stack guard page */
is_guard_page:
        push rsi
        lea rsi, [rip + guard_pages]
1:      mov rax, [rsi]
        test rax, rax
        jz 2f
        add rsi, 8
        cmp rax, r8
        jne 1b
        pop rsi
        stc
        ret
2:      pop rsi
        clc
        ret

/* ---- the pool behind wasm linear memory ---------------------------------
 * The largest usable RAM range above the kernel and the multiboot modules (inside the direct map) gives
 * min(RAM/4 clamped to [4 MiB, 256 MiB], its size). Its first pages hold the
 * PTs of PML4[2]; the rest backs linear-memory pages in order. */
setup_heap_pool:
        lea r8, [rip + __end]
        mov eax, [rip + mods_top]       /* boot/mbinfo.S: above every module */
        cmp r8, rax
        cmovb r8, rax
        add r8, 0x1FFFFF
        and r8, -0x200000               /* lowest address the pool may use */
        mov r9, [rip + tv_boot_info + BI_DIRECT_MAP_SIZE * 8]
        xor r10, r10                    /* best start */
        xor r11, r11                    /* best size */
        lea rsi, [rip + avail_regions]
        mov rcx, [rip + region_count]
1:      test rcx, rcx
        jz 3f
        mov rax, [rsi]
        mov rdx, [rsi + 8]
        add rsi, 16
        dec rcx
        cmp rax, r8
        jae 2f
        mov rax, r8
2:      add rax, 0xFFFF
        and rax, -0x10000
        cmp rdx, r9
        jbe 4f
        mov rdx, r9
4:      cmp rdx, rax
        jbe 1b
        sub rdx, rax
        cmp rdx, r11
        jbe 1b
        mov r10, rax
        mov r11, rdx
        jmp 1b
3:      mov rax, [rip + ram_total]
        shr rax, 2
        mov rdx, 4 << 20
        cmp rax, rdx
        cmovb rax, rdx
        mov rdx, 256 << 20              /* the monitor's own data: guests get the rest */
        cmp rax, rdx
        cmova rax, rdx
        cmp r11, rax
        cmova r11, rax
        and r11, -0x10000
        mov [rip + tv_boot_info + BI_HEAP_PA * 8], r10
        mov [rip + tv_boot_info + BI_HEAP_SIZE * 8], r11
        /* r11 / (2 MiB + 4 KiB) rounded up = PTs; data after them */
        mov rax, r11
        xor edx, edx
        mov rcx, 0x201000
        div rcx
        inc rax
        add rax, 15
        and rax, -16                    /* keep the data 64 KiB aligned */
        mov rcx, rax                    /* PT count */
        shl rax, 12
        cmp rax, r11
        jb 1f
        xor r11, r11                    /* pool too small for anything */
        mov rax, r11
1:      sub r11, rax
        lea rdx, [r10 + rax]
        mov [rip + heap_data_pa], rdx
        mov [rip + heap_pt_pa], r10
        shr r11, 16                     /* pages the pool can back */
        mov eax, [rip + wasm_memory_max_pages]
        cmp r11, rax
        cmova r11, rax
        mov [rip + tv_boot_info + BI_MEMORY_MAX * 8], r11
        /* zero the PTs and hook them into pd_wasm */
        cmp rcx, 512
        jbe 2f
        mov ecx, 512
2:      mov r8, rcx
        mov rdi, DIRECT_MAP
        add rdi, r10
        shl rcx, 9
        xor eax, eax
        rep stosq
        lea rdi, [rip + pd_wasm]
        xor ecx, ecx
3:      cmp rcx, r8
        jae 4f
        mov rax, rcx
        shl rax, 12
        lea rax, [r10 + rax + PTE_P + PTE_W]
        mov [rdi + rcx * 8], rax
        inc rcx
        jmp 3b
4:      mov edi, [rip + wasm_memory_initial_pages]
        call tv_memory_grow             /* boot/runtime.S */
        cmp eax, -1
        je 5f
        ret
5:      lea rsi, [rip + msg_heap]
        jmp boot_fatal

        .section .rodata
msg_main_returned: .asciz "[boot] monitor main returned; shutting down\r\n"
msg_no_mmap:       .asciz "[boot] FATAL: the loader gave no memory map\r\n"
msg_heap:          .asciz "[boot] FATAL: not enough RAM for the monitor heap (wasm linear memory)\r\n"

        .section .data
        .balign 8
        .globl heap_data_pa, heap_pt_pa
heap_data_pa: .quad 0
heap_pt_pa:   .quad 0
region_count: .quad 0
ram_total:    .quad 0
        .globl guard_pages
guard_pages:                            /* zero-terminated; see .stacks below */
        .quad main_stack_guard, panic_stack_guard, ist1_guard, ist2_guard, ist3_guard, fallback_stack_guard, 0

        .section .bss
        .balign 4096
        .globl pml4
pml4:        .skip 4096
pdpt_ident:  .skip 4096
pd_ident:    .skip 4096
pdpt_dm:     .skip 4096
pdpt_wasm:   .skip 4096
pd_wasm:     .skip 4096
kernel_pts:  .skip KPT_COUNT * 4096
pd_dm:       .skip DM_PD_COUNT * 4096
dm_low_pt:   .skip 4096
avail_regions: .skip MAX_REGIONS * 16

/* Stacks, each above an unmapped guard page. */
        .section .stacks, "aw", @nobits
        .balign 4096
main_stack_guard:  .skip 4096
        .globl main_stack_bottom, main_stack_top
main_stack_bottom: .skip MAIN_STACK_SIZE
main_stack_top:
panic_stack_guard: .skip 4096
        .globl panic_stack_bottom, panic_stack_top
panic_stack_bottom: .skip PANIC_STACK_SIZE
panic_stack_top:
ist1_guard: .skip 4096
        .globl ist1_top, ist2_top, ist3_top
        .skip IST_STACK_SIZE
ist1_top:
ist2_guard: .skip 4096
        .skip IST_STACK_SIZE
ist2_top:
ist3_guard: .skip 4096
        .skip IST_STACK_SIZE
ist3_top:
fallback_stack_guard: .skip 4096
        .globl fallback_stack_top
        .skip 8192
fallback_stack_top:
