// DMA memory for the monitor's drivers: physically contiguous frames from the page allocator, seen as a BoundedMemory.

import { BoundedMemory } from "../lib/bounded-memory";
import { Barrier } from "../virtio/barrier";
import { mfence, phys_copy_in, phys_copy_out, phys_load16, phys_load32, phys_load64, phys_load8, phys_store16, phys_store32, phys_store64, phys_store8 } from "../hw/intrinsics";
import { physPages } from "../platform/pages";

/**
 * [pa, pa + bytes) of RAM: frames taken from the physical page allocator
 * (never given back: a device may still write to them after a failed reset).
 * The direct map covers all of it (platform/pages hands out only frames
 * inside it), so the phys_* intrinsics reach it; the device sees the same
 * addresses (no IOMMU: bus address = physical address).
 */
export class DmaWindow extends BoundedMemory {
  private constructor(public pa: u64, public bytes: u64) {
    super();
  }
  /** Zeroed contiguous frames for `bytes`; null when RAM is short. */
  static alloc(bytes: u64): DmaWindow | null {
    const pages = (bytes + 4095) / 4096;
    const pa = physPages.allocContiguous(pages, 1, true);
    if (pa == 0) return null;
    return new DmaWindow(pa, pages * 4096);
  }
  size(): u64 { return this.bytes; }
  protected rawLoad8(a: u64): u32 { return <u32>phys_load8(<i64>(this.pa + a)); }
  protected rawLoad16(a: u64): u32 { return <u32>phys_load16(<i64>(this.pa + a)); }
  protected rawLoad32(a: u64): u32 { return <u32>phys_load32(<i64>(this.pa + a)); }
  protected rawLoad64(a: u64): u64 { return <u64>phys_load64(<i64>(this.pa + a)); }
  protected rawStore8(a: u64, v: u32): void { phys_store8(<i64>(this.pa + a), <i32>v); }
  protected rawStore16(a: u64, v: u32): void { phys_store16(<i64>(this.pa + a), <i32>v); }
  protected rawStore32(a: u64, v: u32): void { phys_store32(<i64>(this.pa + a), <i32>v); }
  protected rawStore64(a: u64, v: u64): void { phys_store64(<i64>(this.pa + a), <i64>v); }
  protected rawRead(dst: usize, a: u64, len: u32): void { phys_copy_out(dst, <i64>(this.pa + a), <i32>len); }
  protected rawWrite(a: u64, src: usize, len: u32): void { phys_copy_in(<i64>(this.pa + a), src, <i32>len); }
}

/** MFENCE between publishing an index and reading the device's event index (virtio 1.2 2.7.13.3.1). */
export class FenceBarrier extends Barrier {
  full(): void {
    mfence();
  }
}
