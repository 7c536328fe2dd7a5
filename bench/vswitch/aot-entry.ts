// AOT linux build of the switch benchmark: `exe SCENARIO BATCHES` (BATCHES < 0: baseline) prints frames delivered.
import { setup, run, runBaseline } from "./core";

// The linux target's test-driver intrinsics (docs/ABI.md "Hardware imports"): hw.arg reads argv, outb(0xE9) writes stdout.
// HW: benchmark driver only; not part of the monitor.
@external("hw", "arg") declare function hwArg(i: i32): i32;
@external("hw", "outb") declare function hwOutb(port: i32, v: i32): void;

function putNum(v: i32): void {
  if (v < 0) {
    hwOutb(0xe9, 45);
    v = -v;
  }
  if (v >= 10) putNum(v / 10);
  hwOutb(0xe9, 48 + (v % 10));
}

export function benchAbort(msg: string | null, file: string | null, line: u32, col: u32): void {
  hwOutb(0xe9, 33);
  hwOutb(0xe9, 10);
  unreachable();
}

export function main(): void {
  const scenario = hwArg(0);
  const batches = hwArg(1);
  setup(scenario);
  const n = batches < 0 ? runBaseline(-batches) : run(batches);
  putNum(n);
  hwOutb(0xe9, 10);
}
