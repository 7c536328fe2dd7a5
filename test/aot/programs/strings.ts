// AssemblyScript std: String concat/indexOf/split/replace, number toString,
// Array push/map/filter/sort/join, Map and Set (allocates through the runtime).
import { putln, puts, putc, arg } from "./lib/io";

export function main(): i32 {
  const extra = arg(0);
  let s = "";
  for (let i = 0; i < 50 + extra; i++) s += i.toString() + ",";
  putln(s);
  putln("len " + s.length.toString() + " idx " + s.indexOf("42,").toString() + " last " + s.lastIndexOf("4").toString());
  const parts = s.split(",");
  putln("parts " + parts.length.toString() + " [7]=" + parts[7] + " [49]=" + parts[49]);
  const nums = parts.filter((p: string): bool => p.length > 0).map<i32>((p: string): i32 => I32.parseInt(p) * 37 % 101);
  nums.sort((a: i32, b: i32): i32 => b - a);
  putln(nums.join(" "));
  const big: i64 = i64.MIN_VALUE;
  putln(big.toString() + " " + i64.MAX_VALUE.toString() + " " + (<u64>-1).toString() + " " + (-12345).toString() + " " + (0xff).toString(16));
  putln("Hello, World".toUpperCase() + " " + "  trim me ".trim() + "|" + "a-b-c".replaceAll("-", "+") + "|" + "abc".repeat(3));
  putln("cmp " + ("abc" < "abd" ? "lt" : "ge") + " " + ("abc" == "ab" + "c" ? "eq" : "ne") + " sub " + "typevisor".substring(4) + " " + "typevisor".slice(-3));
  const m = new Map<string, i32>();
  const words = "the quick brown fox jumps over the lazy dog the end".split(" ");
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    m.set(w, m.has(w) ? m.get(w) + 1 : 1);
  }
  const keys = m.keys();
  keys.sort();
  for (let i = 0; i < keys.length; i++) puts(keys[i] + ":" + m.get(keys[i]).toString() + " ");
  putc(10);
  const set = new Set<i32>();
  for (let i = 0; i < 1000; i++) set.add((i * i) % 257);
  set.delete(0);
  putln("set " + set.size.toString() + " has16 " + (set.has(16) ? "y" : "n") + " has3 " + (set.has(3) ? "y" : "n"));
  const im = new Map<u64, u64>();
  for (let i: u64 = 0; i < 3000; i++) im.set(i * 0x9e3779b97f4a7c15, i);
  let sum: u64 = 0;
  for (let i: u64 = 0; i < 3000; i += 7) sum += im.get(i * 0x9e3779b97f4a7c15);
  putln("map64 " + im.size.toString() + " " + sum.toString());
  return m.size;
}
