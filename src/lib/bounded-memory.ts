// A bounded window of physical memory as device models and virtqueues see it:
// guest RAM for a device model, the DMA region for a driver. Every access is
// checked against the window, so code above it can never reach outside.

/**
 * The monitor backs it with the VM's RAM (or the driver's DMA frames) through
 * the direct map; Node tests back it with a plain buffer (test helpers).
 * An access outside [0, size()) reads 0, writes nothing and sets `fault`:
 * callers check `contains()` first where they want a precise error, and test
 * `fault` after a batch of accesses.
 */
export abstract class BoundedMemory {
  /** Set by any access outside the window; cleared only by the owner. */
  fault: bool = false;

  /** Bytes in the window, which starts at address 0. */
  abstract size(): u64;

  /** True when [addr, addr + len) lies inside the window (overflow-safe). */
  contains(addr: u64, len: u64): bool {
    const s = this.size();
    return len <= s && addr <= s - len;
  }

  load8(addr: u64): u32 {
    if (!this.contains(addr, 1)) return this.outside();
    return this.rawLoad8(addr);
  }
  load16(addr: u64): u32 {
    if (!this.contains(addr, 2)) return this.outside();
    return this.rawLoad16(addr);
  }
  load32(addr: u64): u32 {
    if (!this.contains(addr, 4)) return this.outside();
    return this.rawLoad32(addr);
  }
  load64(addr: u64): u64 {
    if (!this.contains(addr, 8)) return <u64>this.outside();
    return this.rawLoad64(addr);
  }
  store8(addr: u64, v: u32): void {
    if (this.contains(addr, 1)) this.rawStore8(addr, v);
    else this.outside();
  }
  store16(addr: u64, v: u32): void {
    if (this.contains(addr, 2)) this.rawStore16(addr, v);
    else this.outside();
  }
  store32(addr: u64, v: u32): void {
    if (this.contains(addr, 4)) this.rawStore32(addr, v);
    else this.outside();
  }
  store64(addr: u64, v: u64): void {
    if (this.contains(addr, 8)) this.rawStore64(addr, v);
    else this.outside();
  }
  /** Copies `len` bytes at `addr` into monitor linear memory at `dst`; false (nothing copied) when outside. */
  readTo(dst: usize, addr: u64, len: u32): bool {
    if (!this.contains(addr, <u64>len)) {
      this.outside();
      return false;
    }
    this.rawRead(dst, addr, len);
    return true;
  }
  /** Copies `len` bytes from monitor linear memory at `src` to `addr`; false (nothing copied) when outside. */
  writeFrom(addr: u64, src: usize, len: u32): bool {
    if (!this.contains(addr, <u64>len)) {
      this.outside();
      return false;
    }
    this.rawWrite(addr, src, len);
    return true;
  }

  private outside(): u32 {
    this.fault = true;
    return 0;
  }

  // Unchecked accessors: implementations only; callers use the checked ones above.
  protected abstract rawLoad8(addr: u64): u32;
  protected abstract rawLoad16(addr: u64): u32;
  protected abstract rawLoad32(addr: u64): u32;
  protected abstract rawLoad64(addr: u64): u64;
  protected abstract rawStore8(addr: u64, v: u32): void;
  protected abstract rawStore16(addr: u64, v: u32): void;
  protected abstract rawStore32(addr: u64, v: u32): void;
  protected abstract rawStore64(addr: u64, v: u64): void;
  protected abstract rawRead(dst: usize, addr: u64, len: u32): void;
  protected abstract rawWrite(addr: u64, src: usize, len: u32): void;
}

/** A window over monitor linear memory: Node tests and fuzzers. */
export class LinearMemory extends BoundedMemory {
  constructor(public base: usize, public bytes: u64) {
    super();
  }
  size(): u64 {
    return this.bytes;
  }
  protected rawLoad8(a: u64): u32 { return <u32>load<u8>(this.base + <usize>a); }
  protected rawLoad16(a: u64): u32 { return <u32>load<u16>(this.base + <usize>a); }
  protected rawLoad32(a: u64): u32 { return load<u32>(this.base + <usize>a); }
  protected rawLoad64(a: u64): u64 { return load<u64>(this.base + <usize>a); }
  protected rawStore8(a: u64, v: u32): void { store<u8>(this.base + <usize>a, <u8>v); }
  protected rawStore16(a: u64, v: u32): void { store<u16>(this.base + <usize>a, <u16>v); }
  protected rawStore32(a: u64, v: u32): void { store<u32>(this.base + <usize>a, v); }
  protected rawStore64(a: u64, v: u64): void { store<u64>(this.base + <usize>a, v); }
  protected rawRead(dst: usize, a: u64, len: u32): void { memory.copy(dst, this.base + <usize>a, len); }
  protected rawWrite(a: u64, src: usize, len: u32): void { memory.copy(this.base + <usize>a, src, len); }
}
