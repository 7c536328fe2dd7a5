// The ready set: ports that got a frame on an empty egress queue since the consumer last took the set.

/**
 * The switch marks a port when a frame is queued on one of its priority queues while that queue was empty
 * (Port.enqueue), so always when the port had nothing queued; the main loop takes the marked ports and
 * services only those (plus ports it still has work for). A mark is one byte store; `take` finds the
 * marks eight ports per load. Nothing here allocates after construction.
 */
export class ReadySet {
  /** One byte per port id, rounded up to 8 ports. */
  readonly flags: StaticArray<u8>;
  private words: i32;

  constructor(maxPorts: i32) {
    const words = (maxPorts + 7) >> 3;
    this.flags = new StaticArray<u8>(words << 3);
    this.words = words;
  }

  /** Marks port id (idempotent). */
  @inline mark(id: i32): void {
    store<u8>(changetype<usize>(this.flags) + <usize>id, 1);
  }

  /** Ports marked and not yet taken. */
  get count(): i32 {
    let n = 0;
    for (let i = 0; i < this.flags.length; i++) n += unchecked(this.flags[i]);
    return n;
  }

  /**
   * Moves up to out.length marked port ids, lowest id first, into out and unmarks them; returns how many.
   * Ids left over (out too short) stay marked for the next call.
   */
  take(out: StaticArray<i32>): i32 {
    const base = changetype<usize>(this.flags);
    const max = out.length;
    let k = 0;
    for (let w = 0; w < this.words && k < max; w++) {
      const p = base + (<usize>w << 3);
      if (load<u64>(p) == 0) continue;
      for (let j = 0; j < 8 && k < max; j++) {
        if (load<u8>(p + <usize>j) == 0) continue;
        store<u8>(p + <usize>j, 0);
        unchecked((out[k++] = (w << 3) + j));
      }
    }
    return k;
  }
}
