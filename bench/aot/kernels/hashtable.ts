// Hash-table lookups: open addressing with linear probing, 8 Ki u32 keys in 16 Ki slots.
import { arg, putHex } from "./lib/io";

const SLOTS: u32 = 16384;
const KEYS: u32 = 8192;

function hash(k: u32): u32 {
  k ^= k >> 16;
  k *= 0x7feb352d;
  k ^= k >> 15;
  return k;
}

function insert(keys: usize, vals: usize, k: u32, v: u32): void {
  let i = hash(k) & (SLOTS - 1);
  while (load<u32>(keys + (<usize>i << 2)) != 0) i = (i + 1) & (SLOTS - 1);
  store<u32>(keys + (<usize>i << 2), k);
  store<u32>(vals + (<usize>i << 2), v);
}

function lookup(keys: usize, vals: usize, k: u32): u32 {
  let i = hash(k) & (SLOTS - 1);
  for (;;) {
    const s = load<u32>(keys + (<usize>i << 2));
    if (s == k) return load<u32>(vals + (<usize>i << 2));
    if (s == 0) return 0;
    i = (i + 1) & (SLOTS - 1);
  }
  return 0;
}

export function main(): i32 {
  const reps = arg(0);
  const keys = heap.alloc(SLOTS * 4);
  const vals = heap.alloc(SLOTS * 4);
  memory.fill(keys, 0, SLOTS * 4);
  for (let i: u32 = 1; i <= KEYS; i++) insert(keys, vals, i * 2654435761, i);
  let acc: u64 = 0;
  let x: u32 = 1;
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < 4096; i++) {
      x = x * 1664525 + 1013904223;
      // about half the probes hit
      const k = (x & 1) ? ((x >> 1) % KEYS + 1) * 2654435761 : x | 1;
      acc += lookup(keys, vals, k);
    }
  }
  putHex(acc);
  return 0;
}
