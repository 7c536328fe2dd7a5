// Quicksort with insertion-sort leaves on i32 and u64 data, checked against Array.sort.
import { putln, puts, putHex, putDec, putc, arg } from "./lib/io";

function insertion(a: StaticArray<i32>, lo: i32, hi: i32): void {
  for (let i = lo + 1; i <= hi; i++) {
    const v = unchecked(a[i]);
    let j = i - 1;
    while (j >= lo && unchecked(a[j]) > v) {
      unchecked((a[j + 1] = a[j]));
      j--;
    }
    unchecked((a[j + 1] = v));
  }
}

function quick(a: StaticArray<i32>, lo: i32, hi: i32): void {
  while (hi - lo > 12) {
    const p = unchecked(a[lo + ((hi - lo) >> 1)]);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (unchecked(a[i]) < p) i++;
      while (unchecked(a[j]) > p) j--;
      if (i <= j) {
        const t = unchecked(a[i]);
        unchecked((a[i] = a[j]));
        unchecked((a[j] = t));
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
  const n = 5000 + arg(0);
  const a = new StaticArray<i32>(n);
  const b = new Array<i32>(n);
  const c = new Array<u64>(0);
  let x: u32 = 12345;
  for (let i = 0; i < n; i++) {
    x = x * 1103515245 + 12345;
    const v = <i32>(x >> 1) - 0x20000000;
    a[i] = i % 97 == 0 ? i32.MIN_VALUE : v;
    b[i] = a[i];
    c.push((<u64>x << 32) | <u64>(x ^ 0xdeadbeef));
  }
  quick(a, 0, n - 1);
  b.sort();
  c.sort((p: u64, q: u64): i32 => (p < q ? -1 : p > q ? 1 : 0));
  let bad = 0;
  let sum: u32 = 0;
  for (let i = 0; i < n; i++) {
    if (a[i] != b[i]) bad++;
    if (i > 0 && c[i - 1] > c[i]) bad++;
    sum = (sum * 31) ^ <u32>a[i];
  }
  puts("min ");
  putDec(a[0]);
  puts(" max ");
  putDec(a[n - 1]);
  puts(" median ");
  putDec(a[n >> 1]);
  puts(" u64 first ");
  putHex(c[0]);
  puts(" last ");
  putHex(c[n - 1]);
  puts(" sum ");
  putHex(sum, 8);
  puts(" bad ");
  putDec(bad);
  putln("");
  return bad == 0 ? 0 : 1;
}
