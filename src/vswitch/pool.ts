// The packet-buffer pool: a fixed number of fixed-size buffers, handed out by index; frames move by handle.

/** Bytes per buffer. */
export const BUF_SIZE: i32 = 2048;
/** Room before the frame so a VLAN tag can be inserted without a copy. */
export const HEADROOM: i32 = 32;
/** Largest frame a buffer holds (a tag may still be inserted into the headroom). */
export const BUF_DATA: i32 = BUF_SIZE - HEADROOM;
/** Distance between buffers: one cache line more than BUF_SIZE. With a 2048-byte stride the frames of a
 * batch would all sit on 2 of the 64 sets of a 48 KiB 12-way L1 (conflict misses) and share their low 12
 * address bits (4K aliasing between loads and stores); 33 lines apart they spread over every set. */
const BUF_STRIDE: i32 = BUF_SIZE + 64;

/** Bounded pool. A handle is an index 0..count-1; -1 means none. */
export class PacketPool {
  readonly count: i32;
  private mem: StaticArray<u8>;
  private base: usize;
  private offs: StaticArray<u16>;
  private lens: StaticArray<u16>;
  private free_: StaticArray<i32>;
  private nfree: i32;

  constructor(count: i32) {
    this.count = count;
    const mem = new StaticArray<u8>(count * BUF_STRIDE);
    this.mem = mem;
    this.offs = new StaticArray<u16>(count);
    this.lens = new StaticArray<u16>(count);
    this.free_ = new StaticArray<i32>(count);
    this.base = changetype<usize>(mem);
    for (let i = 0; i < count; i++) unchecked((this.free_[i] = count - 1 - i));
    this.nfree = count;
  }

  /** A buffer with an empty frame at the standard headroom, or -1 when the pool is empty. */
  @inline alloc(): i32 {
    if (this.nfree == 0) return -1;
    const h = unchecked(this.free_[--this.nfree]);
    unchecked((this.offs[h] = <u16>HEADROOM));
    unchecked((this.lens[h] = 0));
    return h;
  }
  @inline free(h: i32): void {
    unchecked((this.free_[this.nfree++] = h));
  }
  @inline available(): i32 {
    return this.nfree;
  }
  /** Address of the frame's first byte. */
  @inline data(h: i32): usize {
    return this.base + <usize>h * BUF_STRIDE + <usize>unchecked(this.offs[h]);
  }
  @inline len(h: i32): i32 {
    return <i32>unchecked(this.lens[h]);
  }
  /** Sets the frame length (clamped to what the buffer holds after the current offset). */
  @inline setLen(h: i32, n: i32): void {
    const max = BUF_SIZE - <i32>unchecked(this.offs[h]);
    unchecked((this.lens[h] = <u16>(n < 0 ? 0 : n > max ? max : n)));
  }
  /** Moves the frame start by d bytes (negative: into the headroom); the caller keeps the bytes consistent. */
  @inline adjust(h: i32, d: i32): void {
    unchecked((this.offs[h] = <u16>(<i32>this.offs[h] + d)));
    unchecked((this.lens[h] = <u16>(<i32>this.lens[h] - d)));
  }
}
