// Device registers: an uncached MMIO range (boot/mmio.S) and 32-bit port I/O.

import { inb, inl, inw, mmio_map, outb, outl, outw, phys_load16, phys_load32, phys_load8, phys_store16, phys_store32, phys_store8 } from "./intrinsics";

/**
 * A memory BAR (or part of one) mapped UC. Accesses are bounds-checked
 * against the length the driver asked for: a device that advertises a
 * register outside its BAR reads 0 and writes nothing, never a #PF.
 */
export class MmioRegion {
  private constructor(public pa: u64, public length: u64, private win: u64) {}

  /** Maps [pa, pa + length); null when the window is full or the range is empty. */
  static map(pa: u64, length: u64): MmioRegion | null {
    if (length == 0 || pa + length < pa) return null;
    const w = mmio_map(<i64>pa, <i64>length);
    if (w == -1) return null;
    return new MmioRegion(pa, length, <u64>w);
  }

  ok(off: u64, width: u64): bool {
    return width <= this.length && off <= this.length - width;
  }
  read8(off: u64): u32 { return this.ok(off, 1) ? <u32>phys_load8(<i64>(this.win + off)) : 0; }
  read16(off: u64): u32 { return this.ok(off, 2) ? <u32>phys_load16(<i64>(this.win + off)) : 0; }
  read32(off: u64): u32 { return this.ok(off, 4) ? <u32>phys_load32(<i64>(this.win + off)) : 0; }
  write8(off: u64, v: u32): void { if (this.ok(off, 1)) phys_store8(<i64>(this.win + off), <i32>v); }
  write16(off: u64, v: u32): void { if (this.ok(off, 2)) phys_store16(<i64>(this.win + off), <i32>v); }
  write32(off: u64, v: u32): void { if (this.ok(off, 4)) phys_store32(<i64>(this.win + off), <i32>v); }
}

@inline export function in32(port: u32): u32 { return <u32>inl(<i32>port); }
@inline export function out32(port: u32, v: u32): void { outl(<i32>port, <i32>v); }
@inline export function in16(port: u32): u32 { return <u32>inw(<i32>port) & 0xFFFF; }
@inline export function out16(port: u32, v: u32): void { outw(<i32>port, <i32>(v & 0xFFFF)); }
@inline export function in8u(port: u32): u32 { return <u32>inb(<i32>port) & 0xFF; }
@inline export function out8u(port: u32, v: u32): void { outb(<i32>port, <i32>(v & 0xFF)); }
