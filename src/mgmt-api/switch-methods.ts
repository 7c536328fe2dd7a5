// Placeholder until the switch lands: no switch methods, no ports.
import { Call } from "./call";
import { MethodSet } from "./server";

export class HostSwitch extends MethodSet {
  handle(call: Call): bool {
    return false;
  }
  setNow(ms: i64): void {}
  addTestPort(name: string): i32 {
    return -1;
  }
  frameIn(port: i32, p: usize, n: i32): void {}
  poll(): void {}
  txCount(): i32 {
    return 0;
  }
  txPort(i: i32): i32 {
    return 0;
  }
  txPtr(i: i32): usize {
    return 0;
  }
  txLen(i: i32): i32 {
    return 0;
  }
  txClear(): void {}
}
