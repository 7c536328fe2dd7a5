// Test doubles shared by the device entries: an InterruptSink that records what devices send, and a settable Clock.

import { Clock, InterruptSink } from "../../src/devices/device";

export class RecordingSink extends InterruptSink {
  msiAddr: u64[] = [];
  msiData: u32[] = [];
  levelGsi: u32[] = [];
  levelHigh: bool[] = [];
  /** Current level of each GSI (0..63) as last set. */
  levels: StaticArray<bool> = new StaticArray<bool>(64);

  setLevel(gsi: u32, high: bool): void {
    this.levelGsi.push(gsi);
    this.levelHigh.push(high);
    if (gsi < 64) this.levels[<i32>gsi] = high;
  }
  msi(address: u64, data: u32): void {
    this.msiAddr.push(address);
    this.msiData.push(data);
  }
}

export class FakeClock extends Clock {
  t: u64 = 0;
  freq: u64 = 1_000_000_000;
  now(): u64 {
    return this.t;
  }
  hz(): u64 {
    return this.freq;
  }
}
