// A bounded scatter list: one descriptor chain as address/length segments, readable ones first, then writable ones.

/**
 * Both sides use it: the device side fills it from a popped chain (addresses are guest-physical, checked
 * inside the memory window), the driver side reads it to post a chain. Allocated once; never grows.
 */
export class Chain {
  readonly capacity: i32;
  addrs: StaticArray<u64>;
  lens: StaticArray<u32>;
  /** Segments the device reads (driver -> device), at [0, readable). */
  readable: i32 = 0;
  /** Segments the device writes (device -> driver), at [readable, readable + writable). */
  writable: i32 = 0;
  /** Sum of the readable / writable lengths (each at most 2^32 - 1: longer chains are a fault). */
  readBytes: u64 = 0;
  writeBytes: u64 = 0;
  /** Head descriptor index: the id the used element names. */
  head: u32 = 0;

  constructor(capacity: i32) {
    this.capacity = capacity;
    this.addrs = new StaticArray<u64>(capacity);
    this.lens = new StaticArray<u32>(capacity);
  }

  clear(): void {
    this.readable = 0;
    this.writable = 0;
    this.readBytes = 0;
    this.writeBytes = 0;
    this.head = 0;
  }
  @inline count(): i32 {
    return this.readable + this.writable;
  }
  /** Appends a segment; false when full, or when a readable one would follow a writable one. */
  add(addr: u64, len: u32, write: bool): bool {
    const n = this.readable + this.writable;
    if (n >= this.capacity) return false;
    if (!write && this.writable != 0) return false;
    unchecked((this.addrs[n] = addr));
    unchecked((this.lens[n] = len));
    if (write) {
      this.writable++;
      this.writeBytes += len;
    } else {
      this.readable++;
      this.readBytes += len;
    }
    return true;
  }
  @inline addr(i: i32): u64 {
    return unchecked(this.addrs[i]);
  }
  @inline len(i: i32): u32 {
    return unchecked(this.lens[i]);
  }
}
