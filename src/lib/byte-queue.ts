// A bounded FIFO of bytes (ring buffer) with a count of what it refused: the
// transmit queues of the UARTs (COM1 console, COM2 management) fill it and
// the main loop drains it as the hardware accepts bytes. It never grows.

export class ByteQueue {
  private buf: StaticArray<u8>;
  /** Index of the oldest byte. */
  private head: i32 = 0;
  private count: i32 = 0;
  readonly capacity: i32;
  /** Bytes refused by push() because the queue was full. */
  dropped: u64 = 0;

  constructor(capacity: i32) {
    const c = capacity < 1 ? 1 : capacity;
    this.buf = new StaticArray<u8>(c);
    this.capacity = c;
  }

  get length(): i32 {
    return this.count;
  }

  /** Bytes that still fit. */
  room(): i32 {
    return this.capacity - this.count;
  }

  isEmpty(): bool {
    return this.count == 0;
  }

  /** Appends one byte; when full, refuses it and counts it in `dropped`. */
  push(b: u8): bool {
    if (this.count >= this.capacity) {
      this.dropped++;
      return false;
    }
    let tail = this.head + this.count;
    if (tail >= this.capacity) tail -= this.capacity;
    unchecked((this.buf[tail] = b));
    this.count++;
    return true;
  }

  /** Appends up to n bytes from p (as many as fit, none counted as dropped); returns how many. */
  pushFrom(p: usize, n: i32): i32 {
    const k = n < this.room() ? n : this.room();
    if (k <= 0) return 0;
    const base = changetype<usize>(this.buf);
    let tail = this.head + this.count;
    if (tail >= this.capacity) tail -= this.capacity;
    const first = this.capacity - tail < k ? this.capacity - tail : k;
    memory.copy(base + <usize>tail, p, <usize>first);
    if (k > first) memory.copy(base, p + <usize>first, <usize>(k - first));
    this.count += k;
    return k;
  }

  /** Appends an ASCII string, "\n" as "\r\n" and other non-ASCII as '?', only if all of it fits. */
  pushText(s: string): bool {
    if (textBytes(s) > this.room()) return false;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c == 10) this.push(13);
      this.push(<u8>(c < 0x80 ? c : 0x3f));
    }
    return true;
  }

  /** The oldest byte, or -1 when empty. */
  peek(): i32 {
    return this.count == 0 ? -1 : <i32>unchecked(this.buf[this.head]);
  }

  /** Removes and returns the oldest byte, or -1 when empty. */
  pop(): i32 {
    if (this.count == 0) return -1;
    const b = <i32>unchecked(this.buf[this.head]);
    this.head++;
    if (this.head == this.capacity) this.head = 0;
    this.count--;
    return b;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }
}

/** Bytes pushText(s) puts in a queue ("\n" counts 2). */
export function textBytes(s: string): i32 {
  let n = s.length;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) == 10) n++;
  return n;
}
