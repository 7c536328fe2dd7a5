// A VM's RAM as a BoundedMemory: guest-physical [0, size) on its contiguous
// host frames, reached through the direct map. Device models, the Linux loader
// and the instruction fetcher see guest memory only through this window.

import { BoundedMemory } from "../lib/bounded-memory";
import { phys_load16, phys_load32, phys_load64, phys_load8, phys_store16, phys_store32, phys_store64, phys_store8 } from "./hw";
import { phys_copy_in, phys_copy_out } from "../hw/intrinsics";

export class GuestRam extends BoundedMemory {
  constructor(public hostPa: u64, public bytes: u64) {
    super();
  }
  size(): u64 {
    return this.bytes;
  }
  // HW: every address below was checked against size() by BoundedMemory, and [hostPa, hostPa + bytes) are
  // this VM's own frames: nothing outside its RAM is touched.
  protected rawLoad8(a: u64): u32 { return phys_load8(this.hostPa + a); }
  protected rawLoad16(a: u64): u32 { return phys_load16(this.hostPa + a); }
  protected rawLoad32(a: u64): u32 { return phys_load32(this.hostPa + a); }
  protected rawLoad64(a: u64): u64 { return phys_load64(this.hostPa + a); }
  protected rawStore8(a: u64, v: u32): void { phys_store8(this.hostPa + a, v); }
  protected rawStore16(a: u64, v: u32): void { phys_store16(this.hostPa + a, v); }
  protected rawStore32(a: u64, v: u32): void { phys_store32(this.hostPa + a, v); }
  protected rawStore64(a: u64, v: u64): void { phys_store64(this.hostPa + a, v); }
  protected rawRead(dst: usize, a: u64, len: u32): void { phys_copy_out(dst, <i64>(this.hostPa + a), <i32>len); }
  protected rawWrite(a: u64, src: usize, len: u32): void { phys_copy_in(<i64>(this.hostPa + a), src, <i32>len); }
}
