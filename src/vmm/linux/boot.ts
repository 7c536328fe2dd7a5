// The Linux x86 64-bit boot protocol over guest RAM: load the kernel, build the zero page, page tables and GDT, and return the entry state (Documentation/x86/boot.rst, "64-bit Boot Protocol").

import { BoundedMemory } from "../../lib/bounded-memory";
import { BzImage, HDR_SETUP_SECTS, parseBzImage } from "./bzimage";

// Guest-physical layout below 1 MiB (nothing here is firmware: the monitor writes it all).
export const GDT_ADDR: u64 = 0x500;
export const BOOT_STACK_TOP: u64 = 0x8ff0;
export const ZERO_PAGE_ADDR: u64 = 0x7000;
export const PML4_ADDR: u64 = 0x9000;
export const PDPT_ADDR: u64 = 0xa000;
/** One page directory per GiB of RAM, from here up to the command line. */
export const PD_ADDR: u64 = 0xb000;
export const CMDLINE_ADDR: u64 = 0x20000;
export const MAX_RAM: u64 = <u64>(CMDLINE_ADDR - PD_ADDR) / 0x1000 << 30; // 21 GiB of page directories
/** The legacy hole (VGA, option ROMs, BIOS) is left out of the E820 map as on a PC. */
export const LOW_RAM_END: u64 = 0xa0000;
export const HIGH_RAM_START: u64 = 0x100000;

// boot_params offsets (arch/x86/include/uapi/asm/bootparam.h, boot.rst "zero page").
const BP_ACPI_RSDP: u64 = 0x070;
const BP_EXT_RAMDISK_IMAGE: u64 = 0x0c0;
const BP_EXT_RAMDISK_SIZE: u64 = 0x0c4;
const BP_EXT_CMD_LINE_PTR: u64 = 0x0c8;
const BP_E820_ENTRIES: u64 = 0x1e8;
const BP_TYPE_OF_LOADER: u64 = 0x210;
const BP_CODE32_START: u64 = 0x214;
const BP_RAMDISK_IMAGE: u64 = 0x218;
const BP_RAMDISK_SIZE: u64 = 0x21c;
const BP_CMD_LINE_PTR: u64 = 0x228;
const BP_E820_TABLE: u64 = 0x2d0;
const E820_MAX: u32 = 128;

export const E820_RAM: u32 = 1;
export const E820_RESERVED: u32 = 2;
export const E820_ACPI: u32 = 3;

// GDT selectors the protocol requires (boot.rst: __BOOT_CS 0x10, __BOOT_DS 0x18).
export const BOOT_CS: u32 = 0x10;
export const BOOT_DS: u32 = 0x18;
// Descriptors (SDM vol 3 3.4.5): 64-bit code (L=1, P, DPL 0, execute/read, accessed), flat 4 GiB data (G, D/B, P, read/write, accessed).
const GDT_CODE64: u64 = 0x00af9b000000ffff;
const GDT_DATA: u64 = 0x00cf93000000ffff;

// Control state of 64-bit mode with paging (SDM vol 3 9.8.5): CR0.PE|ET|PG, CR4.PAE, EFER.LME|LMA.
export const ENTRY_CR0: u64 = 0x80000011;
export const ENTRY_CR4: u64 = 0x20;
export const ENTRY_EFER: u64 = 0x500;

/** What the VM gives the kernel. */
export class LinuxBootConfig {
  cmdline: string = "console=ttyS0";
  /** ACPI tables (reserved in E820 as ACPI data) and the RSDP for boot_params.acpi_rsdp_addr (0: none). */
  acpiBase: u64 = 0;
  acpiSize: u64 = 0;
  rsdp: u64 = 0;
}

/** The vCPU state at the 64-bit entry, or `error`. */
export class LinuxEntry {
  error: string = "";
  rip: u64 = 0;
  rsi: u64 = ZERO_PAGE_ADDR;
  rsp: u64 = BOOT_STACK_TOP;
  cr0: u64 = ENTRY_CR0;
  cr3: u64 = PML4_ADDR;
  cr4: u64 = ENTRY_CR4;
  efer: u64 = ENTRY_EFER;
  cs: u32 = BOOT_CS;
  ds: u32 = BOOT_DS;
  rflags: u64 = 2; // interrupts off (boot.rst)
  gdtBase: u64 = GDT_ADDR;
  gdtLimit: u32 = 4 * 8 - 1;
  /** Where things went (for the log and the tests). */
  loadAddress: u64 = 0;
  initrdAddress: u64 = 0;
  initrdSize: u64 = 0;
  e820Entries: u32 = 0;
  protocol: u32 = 0;

  ok(): bool {
    return this.error.length == 0;
  }
}

function failed(e: LinuxEntry, why: string): LinuxEntry {
  e.error = why;
  return e;
}

function hex(v: u64): string {
  return "0x" + v.toString(16);
}

function alignUp(v: u64, a: u64): u64 {
  return (v + a - 1) & ~(a - 1);
}

/** [a, a+al) and [b, b+bl) intersect. */
function overlaps(a: u64, al: u64, b: u64, bl: u64): bool {
  return al != 0 && bl != 0 && a < b + bl && b < a + al;
}

/**
 * Loads the bzImage in `kernel` (and `initrd`, if any) into `ram` (guest
 * RAM at guest-physical 0) and prepares the 64-bit entry. Pure: everything
 * goes through the BoundedMemory windows, so a bad image can only fail.
 */
export function setupLinux(kernel: BoundedMemory, initrd: BoundedMemory | null, ram: BoundedMemory, cfg: LinuxBootConfig): LinuxEntry {
  const e = new LinuxEntry();
  const img = parseBzImage(kernel);
  if (!img.ok()) return failed(e, img.error);
  e.protocol = img.version;
  const top = ram.size();
  if (top < 2 * HIGH_RAM_START) return failed(e, "RAM " + hex(top) + " is too small");
  if (top > MAX_RAM) return failed(e, "RAM " + hex(top) + " is above the " + (MAX_RAM >> 30).toString() + " GiB this loader maps");
  // The boot structures live in [0, CMDLINE_ADDR + 4 KiB); the tables must not overlap them and must lie in RAM.
  if (cfg.acpiSize != 0 && (overlaps(cfg.acpiBase, cfg.acpiSize, 0, CMDLINE_ADDR + 0x1000) || cfg.acpiBase + cfg.acpiSize > top || cfg.acpiBase + cfg.acpiSize < cfg.acpiBase)) {
    return failed(e, "ACPI tables at " + hex(cfg.acpiBase) + " overlap the boot structures or leave RAM");
  }

  // Command line (boot.rst: cmdline_size excludes the terminating NUL).
  const cl = cfg.cmdline;
  if (<u32>cl.length > img.cmdlineSize) {
    return failed(e, "command line of " + cl.length.toString() + " bytes is longer than the kernel's " + img.cmdlineSize.toString());
  }

  // Kernel placement: pref_address when it fits, else (relocatable) the lowest aligned address above 1 MiB.
  let load = img.prefAddress;
  // Written so that no sum can wrap: pref_address is a 64-bit field the image controls.
  if (load < HIGH_RAM_START || (load & (img.kernelAlignment - 1)) != 0 || load >= top || img.initSize > top - load || overlaps(load, img.initSize, cfg.acpiBase, cfg.acpiSize)) {
    if (!img.relocatable) {
      return failed(e, "does not fit: the kernel needs " + hex(img.initSize) + " bytes at " + hex(img.prefAddress) + " and is not relocatable; RAM is " + hex(top));
    }
    load = alignUp(HIGH_RAM_START, img.kernelAlignment);
    if (overlaps(load, img.initSize, cfg.acpiBase, cfg.acpiSize)) load = alignUp(cfg.acpiBase + cfg.acpiSize, img.kernelAlignment);
    if (load >= top || img.initSize > top - load) {
      return failed(e, "does not fit: the kernel needs " + hex(img.initSize) + " bytes from " + hex(load) + "; RAM is " + hex(top));
    }
  }
  e.loadAddress = load;
  e.rip = load + 0x200; // startup_64 (boot.rst: 64-bit entry at the load address + 0x200)

  // Initrd: as high as possible below min(RAM top, initrd_addr_max + 1), page aligned, above the kernel's init_size.
  if (initrd != null && initrd.size() > 0) {
    const size = initrd.size();
    let limit = top;
    if (img.initrdAddrMax + 1 < limit) limit = img.initrdAddrMax + 1;
    if (limit > 0x100000000) limit = 0x100000000; // the 32-bit ramdisk_image field
    if (cfg.acpiSize != 0 && cfg.acpiBase >= load + img.initSize && cfg.acpiBase < limit) limit = cfg.acpiBase;
    const kernelEnd = load + img.initSize;
    if (size > limit || ((limit - size) & ~(<u64>0xfff)) < kernelEnd) {
      return failed(e, "initrd of " + hex(size) + " bytes does not fit between the kernel end " + hex(kernelEnd) + " and " + hex(limit));
    }
    e.initrdAddress = (limit - size) & ~(<u64>0xfff);
    e.initrdSize = size;
  }

  // Copy the protected-mode kernel and the initrd.
  if (!copy(kernel, img.setupBytes, ram, load, img.kernelBytes)) return failed(e, "kernel copy failed");
  if (initrd != null && e.initrdSize > 0 && !copy(initrd, 0, ram, e.initrdAddress, e.initrdSize)) return failed(e, "initrd copy failed");

  // Command line, NUL-terminated.
  for (let i = 0; i < cl.length; i++) ram.store8(CMDLINE_ADDR + <u64>i, <u32>cl.charCodeAt(i) & 0xff);
  ram.store8(CMDLINE_ADDR + <u64>cl.length, 0);

  writeZeroPage(kernel, img, ram, cfg, e);
  writeGdt(ram);
  writePageTables(ram, top);
  if (ram.fault) return failed(e, "a boot structure fell outside guest RAM");
  return e;
}

/** Copies `len` bytes from `src` at `from` to `dst` at `to` through a bounce buffer. */
function copy(src: BoundedMemory, from: u64, dst: BoundedMemory, to: u64, len: u64): bool {
  if (!src.contains(from, len) || !dst.contains(to, len)) return false;
  const chunk: u32 = 0x10000;
  const buf = new StaticArray<u8>(<i32>chunk);
  const p = changetype<usize>(buf);
  for (let off: u64 = 0; off < len; off += <u64>chunk) {
    const n = len - off < <u64>chunk ? <u32>(len - off) : chunk;
    if (!src.readTo(p, from + off, n) || !dst.writeFrom(to + off, p, n)) return false;
  }
  return true;
}

/** boot_params (boot.rst "Details of header fields", "The zero page"): the image's setup header plus what the loader fills in. */
function writeZeroPage(kernel: BoundedMemory, img: BzImage, ram: BoundedMemory, cfg: LinuxBootConfig, e: LinuxEntry): void {
  const zp = ZERO_PAGE_ADDR;
  for (let o: u64 = 0; o < 0x1000; o += 8) ram.store64(zp + o, 0);
  // The setup header from 0x1F1 to its end (exclusive), as the image has it; boot_params has room up to 0x290.
  for (let o = HDR_SETUP_SECTS; o < img.headerEnd && o < 0x290; o++) ram.store8(zp + o, kernel.load8(o));
  ram.store8(zp + BP_TYPE_OF_LOADER, 0xff); // undefined loader (boot.rst: "0xFF if no assigned ID")
  ram.store32(zp + BP_CODE32_START, <u32>e.loadAddress);
  ram.store32(zp + BP_CMD_LINE_PTR, <u32>CMDLINE_ADDR);
  ram.store32(zp + BP_EXT_CMD_LINE_PTR, 0);
  ram.store32(zp + BP_RAMDISK_IMAGE, <u32>e.initrdAddress);
  ram.store32(zp + BP_RAMDISK_SIZE, <u32>e.initrdSize);
  ram.store32(zp + BP_EXT_RAMDISK_IMAGE, <u32>(e.initrdAddress >> 32));
  ram.store32(zp + BP_EXT_RAMDISK_SIZE, <u32>(e.initrdSize >> 32));
  if (cfg.rsdp != 0) ram.store64(zp + BP_ACPI_RSDP, cfg.rsdp);

  // E820: low RAM, high RAM, with the ACPI tables cut out as ACPI data.
  let n: u32 = 0;
  n = addRam(ram, n, 0, LOW_RAM_END, cfg);
  n = addRam(ram, n, HIGH_RAM_START, ram.size(), cfg);
  if (cfg.acpiSize != 0) n = e820(ram, n, cfg.acpiBase, cfg.acpiSize, E820_ACPI);
  sortE820(ram, n);
  ram.store8(zp + BP_E820_ENTRIES, n);
  e.e820Entries = n;
}

/** Adds [from, to) as RAM minus the ACPI range. */
function addRam(ram: BoundedMemory, n: u32, from: u64, to: u64, cfg: LinuxBootConfig): u32 {
  const a = cfg.acpiBase;
  const aEnd = cfg.acpiBase + cfg.acpiSize;
  if (cfg.acpiSize == 0 || aEnd <= from || a >= to) return e820(ram, n, from, to - from, E820_RAM);
  if (a > from) n = e820(ram, n, from, a - from, E820_RAM);
  if (aEnd < to) n = e820(ram, n, aEnd, to - aEnd, E820_RAM);
  return n;
}

function e820(ram: BoundedMemory, n: u32, addr: u64, size: u64, type: u32): u32 {
  if (size == 0 || n >= E820_MAX) return n;
  const at = ZERO_PAGE_ADDR + BP_E820_TABLE + <u64>n * 20;
  ram.store64(at, addr);
  ram.store64(at + 8, size);
  ram.store32(at + 16, type);
  return n + 1;
}

/** Insertion sort by address (the kernel sanitizes the map, but a sorted one reads better in dmesg). */
function sortE820(ram: BoundedMemory, n: u32): void {
  const base = ZERO_PAGE_ADDR + BP_E820_TABLE;
  for (let i: u32 = 1; i < n; i++) {
    for (let j = i; j > 0; j--) {
      const a = base + <u64>(j - 1) * 20;
      const b = a + 20;
      if (ram.load64(a) <= ram.load64(b)) break;
      const aa = ram.load64(a), as = ram.load64(a + 8), at = ram.load32(a + 16);
      ram.store64(a, ram.load64(b));
      ram.store64(a + 8, ram.load64(b + 8));
      ram.store32(a + 16, ram.load32(b + 16));
      ram.store64(b, aa);
      ram.store64(b + 8, as);
      ram.store32(b + 16, at);
    }
  }
}

function writeGdt(ram: BoundedMemory): void {
  ram.store64(GDT_ADDR, 0);
  ram.store64(GDT_ADDR + 8, 0);
  ram.store64(GDT_ADDR + <u64>BOOT_CS, GDT_CODE64);
  ram.store64(GDT_ADDR + <u64>BOOT_DS, GDT_DATA);
}

/** Identity map of all RAM with 2 MiB pages: PML4[0] -> PDPT -> one PD per GiB (SDM vol 3 4.5). */
function writePageTables(ram: BoundedMemory, top: u64): void {
  const present_rw: u64 = 0x3;
  const large: u64 = 0x80;
  for (let o: u64 = 0; o < 0x1000; o += 8) {
    ram.store64(PML4_ADDR + o, 0);
    ram.store64(PDPT_ADDR + o, 0);
  }
  ram.store64(PML4_ADDR, PDPT_ADDR | present_rw);
  const pages = (top + 0x1fffff) >> 21;
  const gibs = (pages + 511) >> 9;
  for (let g: u64 = 0; g < gibs; g++) {
    const pd = PD_ADDR + g * 0x1000;
    ram.store64(PDPT_ADDR + g * 8, pd | present_rw);
    for (let i: u64 = 0; i < 512; i++) {
      const page = g * 512 + i;
      ram.store64(pd + i * 8, page < pages ? (page << 21) | present_rw | large : 0);
    }
  }
}
