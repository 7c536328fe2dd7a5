// Address-space constants and boot-info slots shared with boot/layout.inc.

/** All RAM and the low 4 GiB are mapped here (ABI.md). */
export const DIRECT_MAP: u64 = 0xFFFF_8000_0000_0000;
/** Wasm linear memory's virtual base (ABI.md), followed by 8 GiB + 64 KiB of guard. */
export const WASM_BASE: u64 = 0x0000_0100_0000_0000;
export const WASM_GUARD_END: u64 = 0x0000_0102_0001_0000;
/** The kernel image is linked and loaded here, identity-mapped. */
export const KERNEL_PHYS: u64 = 0x10_0000;

/** Values for isa-debug-exit (QEMU exits with (v << 1) | 1: 33 and 35). */
export const EXIT_SUCCESS: i32 = 0x10;
export const EXIT_FAILURE: i32 = 0x11;

/** Slots of tv_boot_info, read with hw boot_info(i) (boot/layout.inc BI_*). */
export enum BootInfo {
  Magic = 0,
  InfoPa = 1,
  KernelStart = 2,
  KernelEnd = 3,
  HeapPa = 4,
  HeapSize = 5,
  DirectMapSize = 6,
  BootTsc = 7,
  StackBottom = 8,
  StackTop = 9,
  RamTop = 10,
  MemoryPages = 11,
  MemoryMaxPages = 12,
  /** Multiboot 1 modules the loader gave (boot/mbinfo.S keeps the first 32). */
  ModsGiven = 13,
}

export const MB1_MAGIC: u32 = 0x2BADB002;
export const MB2_MAGIC: u32 = 0x36D76289;
