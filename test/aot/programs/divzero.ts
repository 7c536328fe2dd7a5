// Ends in a wasm trap (integer divide by zero) after some output.
import { putln, arg } from "./lib/io";

export function main(): i32 {
  putln("dividing");
  const d = arg(0);
  const q = 1000 / d;
  putln("q " + q.toString());
  return q;
}
