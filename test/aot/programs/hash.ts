// FNV-1a (32 and 64 bit) and a murmur-style finalizer over generated data.
import { putln, puts, putHex, putc, arg } from "./lib/io";

function fill(buf: usize, n: i32, seed: u32): void {
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    store<u8>(buf + i, <u8>x);
  }
}

function fnv32(buf: usize, n: i32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = (h ^ load<u8>(buf + i)) * 0x01000193;
  return h;
}

function fnv64(buf: usize, n: i32): u64 {
  let h: u64 = 0xcbf29ce484222325;
  for (let i = 0; i < n; i++) h = (h ^ <u64>load<u8>(buf + i)) * 0x100000001b3;
  return h;
}

function fmix64(k: u64): u64 {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccd;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53;
  k ^= k >> 33;
  return k;
}

export function main(): i32 {
  const n = 4096 + arg(0);
  const buf = heap.alloc(n);
  fill(buf, n, 2463534242);
  let acc: u64 = 0;
  for (let len = 0; len <= 64; len += 7) {
    const a = fnv32(buf, len);
    const b = fnv64(buf + 3, len);
    puts("len ");
    putHex(len, 2);
    putc(32);
    putHex(a, 8);
    putc(32);
    putHex(b);
    putc(10);
    acc = fmix64(acc ^ b ^ a);
  }
  puts("all ");
  putHex(fnv32(buf, n), 8);
  putc(32);
  putHex(fnv64(buf, n));
  putc(32);
  putHex(acc);
  putln("");
  return <i32>(acc & 0x7f);
}
