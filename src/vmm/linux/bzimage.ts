// A Linux bzImage's setup header, read and checked from a BoundedMemory window (Documentation/x86/boot.rst, "The real-mode kernel header").

import { BoundedMemory } from "../../lib/bounded-memory";

// Setup header offsets in the image (boot.rst, "Details of header fields").
export const HDR_SETUP_SECTS: u64 = 0x1f1;
export const HDR_BOOT_FLAG: u64 = 0x1fe;
export const HDR_JUMP: u64 = 0x200;
export const HDR_MAGIC: u64 = 0x202;
export const HDR_VERSION: u64 = 0x206;
export const HDR_LOADFLAGS: u64 = 0x211;
export const HDR_INITRD_ADDR_MAX: u64 = 0x22c;
export const HDR_KERNEL_ALIGNMENT: u64 = 0x230;
export const HDR_RELOCATABLE: u64 = 0x234;
export const HDR_XLOADFLAGS: u64 = 0x236;
export const HDR_CMDLINE_SIZE: u64 = 0x238;
export const HDR_PREF_ADDRESS: u64 = 0x258;
export const HDR_INIT_SIZE: u64 = 0x260;

/** "HdrS" little-endian. */
const MAGIC: u32 = 0x53726448;
/** Protocol 2.12 added xloadflags (XLF_KERNEL_64): the 64-bit entry can be checked (boot.rst). */
export const MIN_PROTOCOL: u32 = 0x020c;
export const XLF_KERNEL_64: u32 = 1 << 0;
export const LOADED_HIGH: u32 = 1 << 0;

/** The fields a loader needs, or `error` when the image is not one we can boot. */
export class BzImage {
  error: string = "";
  version: u32 = 0;
  setupSects: u32 = 0;
  /** Bytes of the real-mode part (boot sector + setup): the protected-mode kernel starts here in the file. */
  setupBytes: u64 = 0;
  /** Bytes of the protected-mode kernel. */
  kernelBytes: u64 = 0;
  /** Last byte of the setup header: 0x202 + the jump's offset byte (boot.rst, "the 64-bit boot protocol"). */
  headerEnd: u64 = 0;
  loadflags: u32 = 0;
  xloadflags: u32 = 0;
  relocatable: bool = false;
  kernelAlignment: u64 = 0;
  prefAddress: u64 = 0;
  initSize: u64 = 0;
  initrdAddrMax: u64 = 0;
  cmdlineSize: u32 = 0;

  ok(): bool {
    return this.error.length == 0;
  }
}

function protocol(v: u32): string {
  return (v >> 8).toString() + "." + (v & 0xff).toString().padStart(2, "0");
}

/** Reads and validates the header of the image in `k` (the whole file, starting at 0). */
export function parseBzImage(k: BoundedMemory): BzImage {
  const b = new BzImage();
  if (!k.contains(0, HDR_INIT_SIZE + 4)) {
    b.error = "not a bzImage: only " + k.size().toString() + " bytes";
    return b;
  }
  if (k.load32(HDR_MAGIC) != MAGIC || k.load16(HDR_BOOT_FLAG) != 0xaa55) {
    b.error = "not a bzImage: no HdrS at 0x202";
    return b;
  }
  b.version = k.load16(HDR_VERSION);
  if (b.version < MIN_PROTOCOL) {
    b.error = "boot protocol " + protocol(b.version) + " is too old (2.12 or later needed)";
    return b;
  }
  b.xloadflags = k.load16(HDR_XLOADFLAGS);
  if ((b.xloadflags & XLF_KERNEL_64) == 0) {
    b.error = "no 64-bit entry point (XLF_KERNEL_64 clear in xloadflags)";
    return b;
  }
  b.loadflags = k.load8(HDR_LOADFLAGS);
  if ((b.loadflags & LOADED_HIGH) == 0) {
    b.error = "not a bzImage: a zImage loaded low (LOADED_HIGH clear)";
    return b;
  }
  b.setupSects = k.load8(HDR_SETUP_SECTS);
  if (b.setupSects == 0) b.setupSects = 4; // boot.rst: "if this field is 0, the real value is 4"
  b.setupBytes = <u64>(b.setupSects + 1) * 512;
  if (b.setupBytes >= k.size()) {
    b.error = "not a bzImage: no protected-mode kernel after " + b.setupSects.toString() + " setup sectors";
    return b;
  }
  b.kernelBytes = k.size() - b.setupBytes;
  b.headerEnd = HDR_MAGIC + <u64>k.load8(HDR_JUMP + 1);
  b.relocatable = k.load8(HDR_RELOCATABLE) != 0;
  b.kernelAlignment = <u64>k.load32(HDR_KERNEL_ALIGNMENT);
  b.prefAddress = k.load64(HDR_PREF_ADDRESS);
  b.initSize = <u64>k.load32(HDR_INIT_SIZE);
  b.initrdAddrMax = <u64>k.load32(HDR_INITRD_ADDR_MAX);
  b.cmdlineSize = k.load32(HDR_CMDLINE_SIZE);
  if (b.kernelAlignment == 0 || (b.kernelAlignment & (b.kernelAlignment - 1)) != 0) {
    b.error = "bad kernel_alignment 0x" + b.kernelAlignment.toString(16);
    return b;
  }
  if (b.initSize < b.kernelBytes) b.initSize = b.kernelBytes; // never copy past what the kernel says it needs
  return b;
}
