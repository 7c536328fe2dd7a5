// Bit manipulation: popcnt/clz/ctz, rotates, bit reversal and a bitmap scan.
import { arg, putHex } from "./lib/io";

function reverse(v: u64): u64 {
  v = ((v >> 1) & 0x5555555555555555) | ((v & 0x5555555555555555) << 1);
  v = ((v >> 2) & 0x3333333333333333) | ((v & 0x3333333333333333) << 2);
  v = ((v >> 4) & 0x0f0f0f0f0f0f0f0f) | ((v & 0x0f0f0f0f0f0f0f0f) << 4);
  return bswap<u64>(v);
}

export function main(): i32 {
  const reps = arg(0);
  const words = 1024;
  const bm = heap.alloc(words * 8);
  let x: u64 = 0x243f6a8885a308d3;
  let acc: u64 = 0;
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < words; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      const w = x & (x >> 3);
      store<u64>(bm + (<usize>i << 3), w);
      acc += popcnt<u64>(w) + clz<u64>(w | 1) * 3 + ctz<u64>(w | 0x8000000000000000);
      acc ^= rotl<u64>(reverse(w), <u64>i);
    }
    // find-first-set scan over the bitmap, clearing as it goes
    for (let i = 0; i < words; i++) {
      let w = load<u64>(bm + (<usize>i << 3));
      while (w) {
        acc += ctz<u64>(w) + <u64>(i << 6);
        w &= w - 1;
      }
    }
  }
  putHex(acc);
  return 0;
}
