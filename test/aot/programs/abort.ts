// Ends in an AssemblyScript abort (array index out of range): the abort
// handler prints and traps, so both sides must show the same text and status.
import { putln } from "./lib/io";
import { arg } from "./lib/io";

export function main(): i32 {
  const a: i32[] = [1, 2, 3];
  putln("before " + a.length.toString());
  const v = a[5 + arg(0)];
  putln("after " + v.toString());
  return 0;
}
