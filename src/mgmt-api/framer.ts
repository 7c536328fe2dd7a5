// Line framer for the management byte stream: splits input at '\n', drops a
// '\r' before it, and flags lines over LINE_MAX bytes without buffering them
// (bounded: one LINE_MAX buffer per stream; it counts what it discarded).

/** Longest line, counting every byte before the '\n' (a '\r' included). */
export const LINE_MAX: i32 = 65536;

export const enum LineKind {
  None = 0, // no complete line yet
  Line = 1, // a line of `len` bytes at `ptr` ('\r' stripped)
  TooLong = 2, // a line over LINE_MAX ended; its bytes were discarded
}

export class LineFramer {
  private buf: StaticArray<u8> = new StaticArray<u8>(LINE_MAX);
  private used: i32 = 0;
  private over: bool = false;
  kind: i32 = LineKind.None;
  ptr: usize = 0;
  len: i32 = 0;
  /** Bytes of the too-long line just returned (TooLong), none of which were kept. */
  lastDiscarded: i64 = 0;
  /** Totals: lines over LINE_MAX, and their bytes discarded. */
  tooLongLines: i64 = 0;
  discardedBytes: i64 = 0;
  private overBytes: i64 = 0;

  /**
   * Consumes bytes from [p, p+n) up to and including the first '\n'.
   * Returns how many bytes it took; when a line ended, `kind` says which.
   * The caller handles the line, then calls next() before scanning again.
   */
  scan(p: usize, n: i32): i32 {
    const base = changetype<usize>(this.buf);
    let i = 0;
    while (i < n) {
      const c = load<u8>(p + <usize>i);
      i++;
      if (c == 0x0a) {
        if (this.over) {
          this.kind = LineKind.TooLong;
          this.lastDiscarded = this.overBytes;
          this.tooLongLines++;
          this.discardedBytes += this.overBytes;
        } else {
          let l = this.used;
          if (l > 0 && load<u8>(base + <usize>(l - 1)) == 0x0d) l--;
          this.kind = LineKind.Line;
          this.ptr = base;
          this.len = l;
        }
        return i;
      }
      if (this.over) {
        this.overBytes++;
        continue;
      }
      if (this.used >= LINE_MAX) {
        // the line is too long: what was kept and this byte are discarded
        this.over = true;
        this.overBytes = <i64>this.used + 1;
        continue;
      }
      store<u8>(base + <usize>this.used, c);
      this.used++;
    }
    return i;
  }

  /** Forgets the line just returned. */
  next(): void {
    this.kind = LineKind.None;
    this.used = 0;
    this.over = false;
    this.overBytes = 0;
    this.len = 0;
  }

  /** Bytes of the current, unfinished line held (for tests). */
  pending(): i32 {
    return this.used;
  }
}

/** True when the line holds only JSON whitespace (blank lines are ignored). */
export function isBlank(p: usize, n: i32): bool {
  for (let i = 0; i < n; i++) {
    const c = load<u8>(p + <usize>i);
    if (c != 0x20 && c != 0x09 && c != 0x0d) return false;
  }
  return true;
}
