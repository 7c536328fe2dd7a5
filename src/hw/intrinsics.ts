// The hardware intrinsics: the monitor's only gateway to the machine.
// Names and signatures are docs/ABI.md's table; the AOT lowers each inline on
// the baremetal target. `hw_NAME` externs (boot/runtime.S) are at the end.
// Only src/hw declares intrinsics; typed wrappers live beside this file.

// ---- port I/O
@external("hw", "inb") export declare function inb(port: i32): i32;
@external("hw", "inw") export declare function inw(port: i32): i32;
@external("hw", "inl") export declare function inl(port: i32): i32;
@external("hw", "outb") export declare function outb(port: i32, value: i32): void;
@external("hw", "outw") export declare function outw(port: i32, value: i32): void;
@external("hw", "outl") export declare function outl(port: i32, value: i32): void;

// ---- MSRs, control registers, flags
@external("hw", "rdmsr") export declare function rdmsr(msr: i32): i64;
@external("hw", "wrmsr") export declare function wrmsr(msr: i32, value: i64): void;
@external("hw", "read_cr0") export declare function read_cr0(): i64;
@external("hw", "read_cr2") export declare function read_cr2(): i64;
@external("hw", "read_cr3") export declare function read_cr3(): i64;
@external("hw", "read_cr4") export declare function read_cr4(): i64;
@external("hw", "read_cr8") export declare function read_cr8(): i64;
@external("hw", "write_cr0") export declare function write_cr0(v: i64): void;
@external("hw", "write_cr3") export declare function write_cr3(v: i64): void;
@external("hw", "write_cr4") export declare function write_cr4(v: i64): void;
@external("hw", "write_cr8") export declare function write_cr8(v: i64): void;
@external("hw", "xgetbv") export declare function xgetbv(xcr: i32): i64;
@external("hw", "xsetbv") export declare function xsetbv(xcr: i32, v: i64): void;
@external("hw", "read_rflags") export declare function read_rflags(): i64;

// ---- CPU identification, TLB, misc instructions
@external("hw", "cpuid") export declare function cpuid(leaf: i32, subleaf: i32, out: usize): void;
@external("hw", "invlpg") export declare function invlpg(vaddr: i64): void;
@external("hw", "hlt") export declare function hlt(): void;
@external("hw", "pause") export declare function pause(): void;
@external("hw", "cli") export declare function cli(): void;
@external("hw", "sti") export declare function sti(): void;
@external("hw", "wbinvd") export declare function wbinvd(): void;
@external("hw", "rdtsc") export declare function rdtsc(): i64;

// ---- physical memory through the direct map
@external("hw", "phys_load8") export declare function phys_load8(pa: i64): i32;
@external("hw", "phys_load16") export declare function phys_load16(pa: i64): i32;
@external("hw", "phys_load32") export declare function phys_load32(pa: i64): i32;
@external("hw", "phys_load64") export declare function phys_load64(pa: i64): i64;
@external("hw", "phys_store8") export declare function phys_store8(pa: i64, v: i32): void;
@external("hw", "phys_store16") export declare function phys_store16(pa: i64, v: i32): void;
@external("hw", "phys_store32") export declare function phys_store32(pa: i64, v: i32): void;
@external("hw", "phys_store64") export declare function phys_store64(pa: i64, v: i64): void;
@external("hw", "phys_copy_in") export declare function phys_copy_in(dst_pa: i64, src: usize, len: i32): void;
@external("hw", "phys_copy_out") export declare function phys_copy_out(dst: usize, src_pa: i64, len: i32): void;
@external("hw", "phys_fill") export declare function phys_fill(pa: i64, byte: i32, len: i64): void;
@external("hw", "linear_base") export declare function linear_base(): i64;

// ---- boot/runtime.S externs (hw_NAME)
/** Slot of boot/'s tv_boot_info (BootInfo in src/hw/layout.ts). */
@external("hw", "boot_info") export declare function boot_info(index: i32): i64;
/** Writes the value to isa-debug-exit, stops Bochs, halts. Never returns. */
@external("hw", "debug_exit") export declare function debug_exit(value: i32): void;
/** Address (identity-mapped, so also physical) of tv_symtab, and its entry count. */
@external("hw", "symtab") export declare function symtab(): i64;
@external("hw", "symtab_count") export declare function symtab_count(): i64;
/** Raises #UD (panic-test=ud). */
@external("hw", "ud2") export declare function ud2(): void;
/** Runs the stack into its guard page: #PF, then #DF on IST1 (panic-test=guard). Never returns. */
@external("hw", "stack_overflow") export declare function stack_overflow(): void;
/** Interrupts off, halt forever. */
@external("hw", "halt") export declare function halt(): void;

// ---- boot/vcpu-state.S: guest state VMX/SVM do not switch (src/vmm/lazy-state.ts)
/** Saves the live x87/SSE/AVX state to save_pa (0: none), loads load_pa's; XSAVE path sets XCR0 (see the .S). */
@external("hw", "ext_switch") export declare function ext_switch(savePa: i64, loadPa: i64, fullXcr0: i64, loadXcr0: i64, useXsave: i32): void;
/** Saves DR0-DR3, DR6 to save_pa (0: none) as five u64, loads load_pa's. */
@external("hw", "dr_switch") export declare function dr_switch(savePa: i64, loadPa: i64): void;
@external("hw", "read_dr6") export declare function read_dr6(): i64;
@external("hw", "write_dr6") export declare function write_dr6(v: i64): void;

// ---- boot/mmio.S: the drivers' device registers and ring ordering (docs/DRIVERS.md)
/** Maps [pa, pa + len) uncached into boot/mmio.S's window; returns the address
 * to give the phys_* intrinsics (relative to DIRECT_MAP), or -1 (window full, len 0). */
@external("hw", "mmio_map") export declare function mmio_map(pa: i64, len: i64): i64;
/** MFENCE (boot/mmio.S): orders the drivers' ring index stores before the event loads. */
@external("hw", "mfence") export declare function mfence(): void;

// ---- boot/guest-images.S: the embedded test guests
/**
 * boot/guest-images.S hw_guest_copy: copies embedded guest `index` to physical
 * `dstPa` (at most maxLen bytes); returns its size or -1. Used by both
 * backends' common code, so declared here rather than in vmx.ts or svm.ts.
 */
@external("hw", "guest_copy") export declare function guest_copy(index: i32, dstPa: u64, maxLen: u64): i64;
