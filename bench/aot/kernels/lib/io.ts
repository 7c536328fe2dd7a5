// Kernel I/O: the repetition count comes from hw.arg(0), the checksum goes
// out as 16 hex digits over hw.outb(0xE9).

@external("hw", "outb") declare function outb(port: i32, value: i32): void;
@external("hw", "arg") export declare function arg(i: i32): i32;

export function putHex(v: u64): void {
  for (let i = 15; i >= 0; i--) {
    const d = <i32>((v >> (<u64>i * 4)) & 15);
    outb(0xe9, d < 10 ? 48 + d : 87 + d);
  }
  outb(0xe9, 10);
}

export function tvAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}

/** xorshift32 fill of n bytes at p. */
export function fillRandom(p: usize, n: i32, seed: u32): void {
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    store<u8>(p + i, <u8>(x >> 7));
  }
}
