// Two legacy timers Linux reads during boot even on the HW-reduced platform, modelled just far enough that its
// polling loops end at once instead of spinning on all-ones reads (each read is a VM exit):
//   - 8254 PIT counter 2 and port 0x61 (the PC speaker gate): Linux's quick_pit_calibrate runs before the ACPI
//     tables are parsed and, reading 0xff from port 0x42, polls it 100,000 times (50,000 loops of 2 reads).
//   - the MC146818 RTC at 0x70/0x71: read_persistent_clock64 (mach_get_cmos_time) ignores the FADT's "no CMOS
//     RTC" flag and, with the update-in-progress bit reading 1, polls for a whole second (20,000 index writes
//     and 20,000 data reads) before "Unable to read current time from RTC".
// Counters 0 and 1, the RTC's alarms, periodic and update interrupts are not modelled (there is no PIC and no
// IRQ 0/8 source: GUESTS.md); the time counts from VM creation in the guest clock.

import { BusDevice, Clock } from "./device";
import { mulDiv } from "../lib/muldiv";

export const PIT_PORT: u64 = 0x42; // counter 2 data (0x42) and the control word (0x43)
export const PORT_B: u64 = 0x61;
export const RTC_PORT: u64 = 0x70; // index (0x70) and data (0x71)

/** The 8254's input clock (Intel 8254 datasheet; the PC's 14.31818 MHz / 12). */
export const PIT_HZ: u64 = 1_193_182;

/**
 * 8254 counter 2 (Intel 8254 datasheet: control word format, read/write and counter-latch commands, mode 0)
 * with its gate and output on port 0x61 (PC/AT system control port B: bit 0 gate 2, bit 1 speaker data, bit 5
 * OUT2 read back). Registered at 0x42 for 2 ports: offset 0 the counter, offset 1 the control word (only
 * commands for counter 2 act; the read-back command and counters 0-1 are ignored).
 */
export class PitCounter2 extends BusDevice {
  private rw: u32 = 3; // 1 LSB only, 2 MSB only, 3 LSB then MSB
  private mode: u32 = 0;
  private reload: u32 = 0x10000; // a written 0 counts 65536 (datasheet)
  private writeLow: u32 = 0;
  private writeHigh: bool = false; // the next write of an LSB/MSB pair is the MSB
  private readHigh: bool = false; // the next read of an LSB/MSB pair is the MSB
  private latched: bool = false;
  private latch: u32 = 0;
  private latchHigh: bool = false;
  /** Gate (port 0x61 bit 0) and speaker data (bit 1), as written. */
  portB: u32 = 0;
  /** PIT ticks counted before `since` (the gate was high for them) and the clock when counting last resumed. */
  private ticksBefore: u64 = 0;
  private since: u64 = 0;
  private counting: bool = false;

  constructor(private readonly clock: Clock) {
    super();
  }

  /** PIT ticks counted since the count was loaded (only while the gate was high). */
  private ticks(): u64 {
    if (!this.counting) return this.ticksBefore;
    return this.ticksBefore + mulDiv(this.clock.now() - this.since, PIT_HZ, this.clock.hz());
  }

  /** The counting element now: mode 0 counts down from the reload and wraps through 0xFFFF; modes 2/3 reload. */
  count(): u32 {
    const t = this.ticks();
    if (this.mode == 2 || this.mode == 3) return (this.reload - <u32>(t % <u64>this.reload)) & 0xffff;
    return <u32>((<u64>this.reload - (t & 0xffff)) & 0xffff);
  }

  /** OUT2: mode 0 goes high at the terminal count and stays high; the periodic modes are reported high. */
  out(): bool {
    if (this.mode == 0) return this.ticks() >= <u64>this.reload;
    return true;
  }

  private setGate(high: bool): void {
    if (high == this.counting) return;
    if (high) this.since = this.clock.now();
    else this.ticksBefore = this.ticks();
    this.counting = high;
  }

  private load(v: u32): void {
    this.reload = v == 0 ? 0x10000 : v;
    this.ticksBefore = 0;
    this.since = this.clock.now();
    this.counting = (this.portB & 1) != 0;
  }

  writePortB(v: u32): void {
    this.portB = v & 3;
    this.setGate((v & 1) != 0);
  }
  readPortB(): u32 {
    return this.portB | (this.out() ? 0x20 : 0);
  }

  read(offset: u64, size: u32): u64 {
    if (offset != 0) return 0; // the control word is write-only
    let v: u32;
    let high: bool;
    if (this.latched) {
      v = this.latch;
      high = this.rw == 2 || (this.rw == 3 && this.latchHigh);
      if (this.rw == 3 && !this.latchHigh) this.latchHigh = true;
      else this.latched = false;
    } else {
      v = this.count();
      high = this.rw == 2 || (this.rw == 3 && this.readHigh);
      if (this.rw == 3) this.readHigh = !this.readHigh;
    }
    return <u64>(high ? (v >> 8) & 0xff : v & 0xff);
  }

  write(offset: u64, size: u32, value: u64): void {
    const v = <u32>value & 0xff;
    if (offset == 1) {
      if ((v >> 6) != 2) return; // counters 0 and 1, read-back: not modelled
      const rw = (v >> 4) & 3;
      if (rw == 0) {
        // counter latch command: the count is held until read (a second latch before that is ignored)
        if (!this.latched) {
          this.latched = true;
          this.latch = this.count();
          this.latchHigh = false;
        }
        return;
      }
      this.rw = rw;
      this.mode = (v >> 1) & 7;
      if (this.mode > 5) this.mode -= 4; // 6 and 7 are modes 2 and 3
      this.writeHigh = false;
      this.readHigh = false;
      this.latched = false;
      return;
    }
    if (offset != 0) return;
    if (this.rw == 1) this.load(v);
    else if (this.rw == 2) this.load(v << 8);
    else if (!this.writeHigh) {
      this.writeLow = v;
      this.writeHigh = true;
    } else {
      this.writeHigh = false;
      this.load(this.writeLow | (v << 8));
    }
  }
}

/** Port 0x61 as a bus device: the PIT's gate and OUT2. */
export class PortB extends BusDevice {
  constructor(private readonly pit: PitCounter2) {
    super();
  }
  read(offset: u64, size: u32): u64 {
    return <u64>this.pit.readPortB();
  }
  write(offset: u64, size: u32, value: u64): void {
    this.pit.writePortB(<u32>value);
  }
}

// MC146818 registers (Motorola MC146818A datasheet, address map and registers A-D).
const REG_A: u32 = 0x0a; // bit 7 UIP; divider and rate bits as written
const REG_B: u32 = 0x0b; // bit 1 24-hour, bit 2 binary (DM)
const REG_C: u32 = 0x0c; // interrupt flags: none ever set here
const REG_D: u32 = 0x0d; // bit 7 VRT: the RAM and time are valid
const B_24H: u32 = 0x02;
const B_BINARY: u32 = 0x04;
/** Century byte at 0x32 (the PC convention; Linux reads it only when the FADT names it). */
const REG_CENTURY: u32 = 0x32;

/** Seconds from 2000-01-01 00:00:00 UTC at which every VM's RTC starts. */
export const RTC_EPOCH_YEAR: u32 = 2000;

function isLeap(y: u32): bool {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

function daysInMonth(y: u32, m: u32): u32 {
  if (m == 2) return isLeap(y) ? 29 : 28;
  return m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;
}

function toBcd(v: u32): u32 {
  return ((v / 10) << 4) | (v % 10);
}

/**
 * The MC146818 RTC at 0x70 (index; bit 7 is the NMI mask, ignored) and 0x71 (data). Time and date count from
 * RTC_EPOCH_YEAR-01-01 at VM creation, in BCD or binary and 12 or 24 hours as register B says (power-on: BCD,
 * 24 hours, as PC firmware leaves it); UIP always reads 0, so a reader never waits. Writes to the time
 * registers are ignored; registers A, B and the CMOS RAM bytes keep what is written.
 */
export class Rtc extends BusDevice {
  private index: u32 = 0;
  private readonly ram: StaticArray<u8> = new StaticArray<u8>(128);
  private readonly start: u64;

  constructor(private readonly clock: Clock) {
    super();
    this.start = clock.now();
    this.ram[REG_A] = 0x26; // 32.768 kHz time base, 1024 Hz rate
    this.ram[REG_B] = <u8>B_24H;
    this.ram[REG_D] = 0x80;
  }

  read(offset: u64, size: u32): u64 {
    if (offset == 0) return <u64>this.index;
    const r = this.index;
    if (r <= 9 || r == REG_CENTURY) return <u64>this.timeRegister(r);
    if (r == REG_A) return <u64>(this.ram[REG_A] & 0x7f); // UIP (bit 7) never set
    if (r == REG_C) return 0;
    if (r == REG_D) return 0x80;
    return <u64>this.ram[<i32>r];
  }

  write(offset: u64, size: u32, value: u64): void {
    const v = <u32>value & 0xff;
    if (offset == 0) {
      this.index = v & 0x7f;
      return;
    }
    const r = this.index;
    if (r <= 9 || r == REG_C || r == REG_D || r == REG_CENTURY) return;
    this.ram[<i32>r] = <u8>v;
  }

  /** Seconds, minutes, hours, weekday, day, month, year (two digits) or century, in register B's format. */
  private timeRegister(r: u32): u32 {
    const secs = (this.clock.now() - this.start) / this.clock.hz();
    const s = <u32>(secs % 60);
    const min = <u32>((secs / 60) % 60);
    const hour = <u32>((secs / 3600) % 24);
    let days = <u32>(secs / 86400);
    const weekday = ((days + 6) % 7) + 1; // 2000-01-01 was a Saturday (1 = Sunday)
    let y = RTC_EPOCH_YEAR;
    while (days >= (isLeap(y) ? <u32>366 : <u32>365)) {
      days -= isLeap(y) ? 366 : 365;
      y++;
    }
    let m: u32 = 1;
    while (days >= daysInMonth(y, m)) {
      days -= daysInMonth(y, m);
      m++;
    }
    const b = <u32>this.ram[REG_B];
    let v: u32 = 0;
    let pm = false;
    if (r == 0) v = s;
    else if (r == 2) v = min;
    else if (r == 4) {
      v = hour;
      if ((b & B_24H) == 0) {
        pm = hour >= 12;
        v = hour % 12 == 0 ? 12 : hour % 12;
      }
    } else if (r == 6) v = weekday;
    else if (r == 7) v = days + 1;
    else if (r == 8) v = m;
    else if (r == 9) v = y % 100;
    else if (r == REG_CENTURY) v = y / 100;
    else return 0; // alarm registers: not modelled
    if ((b & B_BINARY) == 0) v = toBcd(v);
    return pm ? v | 0x80 : v;
  }
}
