// High register pressure: many values live across calls and loops, deep expression trees, mixed i32/i64.
import { putln, puts, putHex, putc, arg } from "./lib/io";

function rotl32(x: u32, k: u32): u32 { return (x << k) | (x >> (32 - k)); }

// not inlined: every call clobbers the caller-saved registers
function mixer(a: u32, b: u32, c: u32, d: u32): u32 {
  return rotl32(a ^ b, 7) + rotl32(c - d, 13) * 0x9e3779b1;
}

function pressure(seed: u32, n: i32): u64 {
  let a = seed, b = seed * 3 + 1, c = seed ^ 0x5bd1e995, d = seed + 0x1234;
  let e = a * 7, f = b * 11, g = c * 13, h = d * 17;
  let i2 = a ^ e, j = b ^ f, k = c ^ g, l = d ^ h;
  let acc: u64 = 0;
  for (let i = 0; i < n; i++) {
    // sixteen values live across each call
    const m = mixer(a, b, c, d);
    a = rotl32(a + m, 3) ^ e; b = b * 0x85ebca6b + f; c = (c ^ (m >> 5)) + g; d = d - h + (m & 0xff);
    e = e + i2 * 3; f = f ^ (j << 1); g = g + (k >> 2); h = h * 5 + l;
    i2 = i2 ^ m; j = j + a; k = k - b; l = l ^ (c + d);
    const n2 = mixer(e ^ f, g + h, i2 - j, k * l);
    // a deep tree over all of them
    acc = acc * 31 + <u64>(((a + b) * (c ^ d) - ((e + f) ^ (g * h))) + ((i2 - j) * (k + l)) ^ n2);
    acc ^= (<u64>(a ^ h) << 32) | <u64>(b + g);
  }
  return acc ^ <u64>(a + b + c + d + e + f + g + h + i2 + j + k + l);
}

// call-heavy recursion with many arguments (more than the four passed in registers)
function walk(depth: i32, a: i32, b: i64, c: i32, d: i32, e: i64, f: i32, g: i32, h: i32): i64 {
  if (depth == 0) return <i64>a + b * 3 + <i64>c - <i64>d + e + <i64>(f ^ g) + <i64>h;
  const left = walk(depth - 1, <i32>b ^ c, <i64>a + e, d, h, b - <i64>f, g + 1, f, c);
  const right = walk(depth - 1, c, e, a ^ d, g, <i64>h * 7, d, c - h, a);
  return left * 3 - right + <i64>depth * (<i64>a ^ e);
}

// mutual recursion mixing register and stack arguments and results used in expressions
function even(n: i32, acc: i64, x: i32, y: i32, z: i32): i64 {
  return n == 0 ? acc + <i64>(x + y * z) : odd(n - 1, acc * 3 + <i64>x, y, z ^ n, x + n) + 1;
}
function odd(n: i32, acc: i64, x: i32, y: i32, z: i32): i64 {
  return n == 0 ? acc - <i64>(x ^ y ^ z) : even(n - 1, acc + <i64>(y * 5), z, x, y - n) * 2;
}

export function main(): i32 {
  const buf = heap.alloc(16);
  store<u64>(buf, walk(3, 1, 1, 1, 1, 1, 1, 1, 1));
  putHex(load<u64>(buf)); putln("");
  puts("pressure "); putHex(pressure(12345 + <u32>arg(0), 1000)); putln("");
  putHex(pressure(0xdeadbeef, 777)); putln("");
  putHex(<u64>walk(12, 1, 2, 3, 4, 5, 6, 7, 8)); putln("");
  putHex(<u64>walk(9, -5, -1234567890123, 77, -8, 0x7fffffff, 3, -2, 1)); putln("");
  putHex(<u64>even(40, 1, 2, 3, 4)); putln("");
  putHex(<u64>odd(33, -7, 11, 13, 17)); putc(10);
  return 0;
}
