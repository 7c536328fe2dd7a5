// Hashing: FNV-1a 64 byte-wise and an xxhash-like 64-bit lane hash over a 64 KiB buffer.
import { arg, putHex, fillRandom } from "./lib/io";

const N = 65536;

function fnv1a(p: usize, n: i32): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < n; i++) h = (h ^ <u64>load<u8>(p + i)) * 0x100000001b3;
  return h;
}

function lanes(p: usize, n: i32, seed: u64): u64 {
  const P1: u64 = 0x9e3779b185ebca87;
  const P2: u64 = 0xc2b2ae3d27d4eb4f;
  let a = seed + P1;
  let b = seed ^ P2;
  for (let i = 0; i + 16 <= n; i += 16) {
    a = rotl<u64>(a + load<u64>(p + i) * P2, 31) * P1;
    b = rotl<u64>(b + load<u64>(p + i, 8) * P2, 27) * P1;
  }
  let h = rotl<u64>(a, 1) + rotl<u64>(b, 7);
  h ^= h >> 33;
  h *= P2;
  h ^= h >> 29;
  return h;
}

export function main(): i32 {
  const reps = arg(0);
  const buf = heap.alloc(N);
  fillRandom(buf, N, 1234567);
  let acc: u64 = 0;
  for (let r = 0; r < reps; r++) {
    store<u8>(buf + (r & (N - 1)), <u8>r);
    acc ^= fnv1a(buf, N) + lanes(buf, N, acc);
  }
  putHex(acc);
  return 0;
}
