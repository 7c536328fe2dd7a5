// Sorting: quicksort with insertion-sort leaves on 16 Ki random i32 keys, repeated.
import { arg, putHex } from "./lib/io";

const N = 16384;

function insertion(a: usize, lo: i32, hi: i32): void {
  for (let i = lo + 1; i <= hi; i++) {
    const v = load<i32>(a + (<usize>i << 2));
    let j = i - 1;
    while (j >= lo && load<i32>(a + (<usize>j << 2)) > v) {
      store<i32>(a + (<usize>(j + 1) << 2), load<i32>(a + (<usize>j << 2)));
      j--;
    }
    store<i32>(a + (<usize>(j + 1) << 2), v);
  }
}

function quick(a: usize, lo: i32, hi: i32): void {
  while (hi - lo > 16) {
    const p = load<i32>(a + (<usize>(lo + ((hi - lo) >> 1)) << 2));
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (load<i32>(a + (<usize>i << 2)) < p) i++;
      while (load<i32>(a + (<usize>j << 2)) > p) j--;
      if (i <= j) {
        const t = load<i32>(a + (<usize>i << 2));
        store<i32>(a + (<usize>i << 2), load<i32>(a + (<usize>j << 2)));
        store<i32>(a + (<usize>j << 2), t);
        i++;
        j--;
      }
    }
    if (j - lo < hi - i) {
      quick(a, lo, j);
      lo = i;
    } else {
      quick(a, i, hi);
      hi = j;
    }
  }
  insertion(a, lo, hi);
}

export function main(): i32 {
  const reps = arg(0);
  const a = heap.alloc(N * 4);
  let x: u32 = 7;
  let acc: u64 = 0;
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < N; i++) {
      x = x * 1103515245 + 12345;
      store<i32>(a + (<usize>i << 2), <i32>(x ^ (x >> 15)));
    }
    quick(a, 0, N - 1);
    acc = acc * 31 + <u64>load<u32>(a + (<usize>(r & (N - 1)) << 2));
    acc = acc * 31 + <u64>load<u32>(a + ((N - 1) << 2));
  }
  putHex(acc);
  return 0;
}
