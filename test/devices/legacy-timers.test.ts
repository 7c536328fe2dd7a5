// PIT counter 2 (with port 0x61) and the MC146818 RTC: Linux's boot-time readers (quick_pit_calibrate,
// mach_get_cmos_time) see a counting timer and a clock without update-in-progress.
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Exports, load, root } from "./harness";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/devices/dev-entry.ts"));
});

const HZ = 1_193_182n * 1000n; // a clock of exactly 1000 TSC ticks per PIT tick
const CH2 = 0, CTRL = 1, PORTB = 2, IDX = 3, DATA = 4;

/** quick_pit_calibrate's setup: gate on, speaker off, counter 2 mode 0 LSB/MSB, count 0xffff. */
function pitStart(): void {
  x.ltWrite(PORTB, (x.ltRead(PORTB) & ~2) | 1);
  x.ltWrite(CTRL, 0xb0);
  x.ltWrite(CH2, 0xff);
  x.ltWrite(CH2, 0xff);
}
function pitCount(): number {
  const lo = x.ltRead(CH2);
  return lo | (x.ltRead(CH2) << 8);
}
const cmos = (r: number): number => {
  x.ltWrite(IDX, r);
  return x.ltRead(DATA);
};

describe("PIT counter 2", () => {
  it("counts down from the loaded value at 1.193182 MHz while the gate is high", () => {
    x.ltNew(HZ, 5n);
    pitStart();
    expect(pitCount()).toBe(0xffff);
    x.ltClockSet(5n + 1000n * 0x1234n);
    expect(pitCount()).toBe(0xffff - 0x1234);
    // gate low: the count holds
    x.ltWrite(PORTB, 0);
    x.ltClockSet(5n + 1000n * 0x2000n);
    expect(pitCount()).toBe(0xffff - 0x1234);
    x.ltWrite(PORTB, 1);
    x.ltClockSet(5n + 1000n * 0x3000n);
    expect(pitCount()).toBe(0xffff - 0x1234 - 0x1000);
  });
  it("changes its MSB the way quick_pit_calibrate expects, and ends mode 0 with OUT2 high", () => {
    x.ltNew(HZ, 0n);
    pitStart();
    const msb = (): number => (x.ltRead(CH2), x.ltRead(CH2));
    expect(msb()).toBe(0xff);
    x.ltClockSet(1000n * 256n);
    expect(msb()).toBe(0xfe);
    expect(x.ltRead(PORTB) & 0x20).toBe(0);
    x.ltClockSet(1000n * 0xffffn);
    expect(x.ltRead(PORTB) & 0x20).toBe(0x20);
    expect(x.ltRead(PORTB) & 3).toBe(1);
  });
  it("holds a latched count until both bytes are read", () => {
    x.ltNew(HZ, 0n);
    pitStart();
    x.ltClockSet(1000n * 0x100n);
    x.ltWrite(CTRL, 0x80); // latch counter 2
    x.ltClockSet(1000n * 0x300n);
    expect(pitCount()).toBe(0xffff - 0x100);
    expect(pitCount()).toBe(0xffff - 0x300);
  });
  it("ignores commands for counters 0 and 1", () => {
    x.ltNew(HZ, 0n);
    pitStart();
    x.ltWrite(CTRL, 0x10); // counter 0, LSB only
    x.ltClockSet(1000n * 2n);
    expect(pitCount()).toBe(0xffff - 2);
  });
});

describe("RTC", () => {
  it("never reports an update in progress and says its time is valid", () => {
    x.ltNew(1000n, 0n);
    for (let t = 0n; t < 3000n; t += 7n) {
      x.ltClockSet(t);
      expect(cmos(0x0a) & 0x80).toBe(0);
    }
    expect(cmos(0x0d)).toBe(0x80);
  });
  it("counts BCD time from 2000-01-01 in the guest clock, and binary when register B asks", () => {
    x.ltNew(1000n, 0n);
    // 366 days (2000 is a leap year) + 31 + 1 day, 13:05:09 -> 2001-02-02 13:05:09, a Friday
    const secs = (366n + 31n + 1n) * 86400n + 13n * 3600n + 5n * 60n + 9n;
    x.ltClockSet(secs * 1000n);
    expect([cmos(0), cmos(2), cmos(4), cmos(7), cmos(8), cmos(9), cmos(0x32), cmos(6)]).toEqual([0x09, 0x05, 0x13, 0x02, 0x02, 0x01, 0x20, 6]);
    x.ltWrite(IDX, 0x0b);
    x.ltWrite(DATA, 0x06); // 24 h, binary
    expect([cmos(0), cmos(4), cmos(9)]).toEqual([9, 13, 1]);
    x.ltWrite(IDX, 0x0b);
    x.ltWrite(DATA, 0x04); // 12 h, binary: 1 PM
    expect(cmos(4)).toBe(0x81);
  });
  it("keeps CMOS RAM bytes and ignores writes to the time", () => {
    x.ltNew(1000n, 0n);
    x.ltWrite(IDX, 0x40);
    x.ltWrite(DATA, 0x5a);
    x.ltWrite(IDX, 0x00);
    x.ltWrite(DATA, 0x33);
    expect(cmos(0x40)).toBe(0x5a);
    expect(cmos(0x00)).toBe(0);
  });
});
