// i64/i32 edge cases: division and remainder by -1, shifts and rotates past
// the width, min values, clz/ctz/popcnt, sign extension, wrap/extend. Inputs
// pass through hw.arg (0 when absent) so the optimizer cannot fold them.
import { putln, puts, putHex, putc, arg } from "./lib/io";

function show(name: string, v: u64): void {
  puts(name);
  putc(61);
  putHex(v);
  putc(10);
}

export function main(): i32 {
  const z = <i64>arg(0); // 0 unless a test passes something
  const z32 = arg(1);
  const MIN: i64 = i64.MIN_VALUE + z;
  const M1: i64 = -1 + z;
  const MIN32: i32 = i32.MIN_VALUE + z32;
  const vals: i64[] = [0, 1, -1, 7, -7, i64.MAX_VALUE, i64.MIN_VALUE, 0x123456789abcdef0, -0x7f, 0x80000000, 0xffffffff];
  let acc: u64 = 0;
  show("min%-1", <u64>(MIN % M1));
  show("min/1", <u64>(MIN / (1 + z)));
  show("7/-1", <u64>((7 + z) / M1));
  show("-7%2", <u64>((-7 + z) % (2 + z)));
  show("min32%-1", <u64>(<u32>(MIN32 % (<i32>M1))));
  show("min32/2", <u64>(<u32>(MIN32 / (2 + z32))));
  show("umin/-1", <u64>MIN / <u64>M1);
  show("urem", <u64>MIN % <u64>(3 + z));
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i] + z;
    for (let s: i64 = 0; s < 130; s += 13) {
      const sh = s + z;
      acc = acc * 31 + <u64>(v << sh);
      acc = acc * 31 + <u64>(v >> sh);
      acc = acc * 31 + (<u64>v >> <u64>sh);
      acc = acc * 31 + rotl<u64>(<u64>v, <u64>sh);
      acc = acc * 31 + rotr<u64>(<u64>v, <u64>sh);
      const v32 = <i32>v;
      const s32 = <i32>sh;
      acc = acc * 31 + <u64>(<u32>(v32 << s32));
      acc = acc * 31 + <u64>(<u32>(v32 >> s32));
      acc = acc * 31 + <u64>(<u32>v32 >>> s32);
      acc = acc * 31 + <u64>rotl<u32>(<u32>v32, <u32>s32);
    }
    puts("v=");
    putHex(<u64>v);
    puts(" clz=");
    putHex(clz<i64>(v), 2);
    puts(" ctz=");
    putHex(ctz<i64>(v), 2);
    puts(" pop=");
    putHex(popcnt<i64>(v), 2);
    puts(" clz32=");
    putHex(clz<i32>(<i32>v), 2);
    puts(" ctz32=");
    putHex(ctz<i32>(<i32>v), 2);
    puts(" pop32=");
    putHex(popcnt<i32>(<i32>v), 2);
    puts(" s8=");
    putHex(<u64>(<i64>(<i8>v)));
    puts(" s16=");
    putHex(<u64>(<i64>(<i16>v)));
    puts(" s32=");
    putHex(<u64>(<i64>(<i32>v)));
    puts(" u32=");
    putHex(<u64>(<u32>v));
    if (v != 0) {
      puts(" q=");
      putHex(<u64>(v == i64.MIN_VALUE ? v : v / (vals[(i + 3) % vals.length] | 1)));
      puts(" uq=");
      putHex(<u64>v / (<u64>vals[(i + 5) % vals.length] | 1));
      puts(" ur=");
      putHex(<u64>v % (<u64>vals[(i + 5) % vals.length] | 1));
    }
    puts(" mulh=");
    putHex(<u64>(v * 0x9e3779b97f4a7c15));
    puts(" lt=");
    putc(48 + <i32>(v < (z - 1)) + 2 * <i32>(<u64>v < <u64>(z - 1)) + 4 * <i32>(<i32>v < z32 - 1) + 8 * <i32>(<u32>v < <u32>(z32 - 1)));
    putc(10);
  }
  show("acc", acc);
  return <i32>(acc >> 57);
}
