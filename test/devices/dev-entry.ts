// Flat exports over the bus, UART, LAPIC, IOAPIC and ACPI models for the test/devices suites.

import { BusDevice } from "../../src/devices/device";
import { Bus, PortBus, MmioBus } from "../../src/devices/bus";
import { Uart16550, LineSink } from "../../src/devices/uart16550";
import { Lapic } from "../../src/devices/lapic";
import { Ioapic } from "../../src/devices/ioapic";
import { PlatformInterrupts } from "../../src/devices/interrupts";
import { PitCounter2, PortB, Rtc } from "../../src/devices/legacy-timers";
import { AcpiConfig, buildAcpi } from "../../src/devices/acpi";
import { LinearMemory } from "../../src/lib/bounded-memory";
import { RecordingSink, FakeClock } from "./common";

// ---- bus ----

/** A device that remembers its last access and answers reads with its id and the offset. */
class Probe extends BusDevice {
  lastOffset: u64 = 0;
  lastSize: u32 = 0;
  lastValue: u64 = 0;
  constructor(public id: u32) {
    super();
  }
  read(offset: u64, size: u32): u64 {
    this.lastOffset = offset;
    this.lastSize = size;
    return (<u64>this.id << 32) | offset;
  }
  write(offset: u64, size: u32, value: u64): void {
    this.lastOffset = offset;
    this.lastSize = size;
    this.lastValue = value;
  }
}

let bus: Bus = new PortBus();
export function busNew(mmio: bool): void {
  bus = mmio ? new MmioBus() : new PortBus();
}
export function busRegister(base: u64, size: u64, id: u32): bool {
  return bus.register(base, size, new Probe(id));
}
export function busCount(): i32 {
  return bus.count();
}
/** The id of the device that claims [addr, addr+size), or -1. */
export function busFind(addr: u64, size: u32): i32 {
  const d = bus.find(addr, size);
  return d == null ? -1 : <i32>(<Probe>d).id;
}
/** A read: -1 when unclaimed, else the offset the device saw (the probe answers id<<32 | offset). */
export function busRead(addr: u64, size: u32): i64 {
  if (!bus.read(addr, size)) return -1;
  return <i64>bus.value;
}
export function busWrite(addr: u64, size: u32, value: u64): i64 {
  if (!bus.write(addr, size, value)) return -1;
  const d = <Probe>bus.find(addr, size);
  return <i64>d.lastOffset;
}
export function busUnclaimed(): u64 {
  return bus.unclaimed;
}

// ---- UART ----

class Lines extends LineSink {
  all: string[] = [];
  line(buf: StaticArray<u8>, len: i32): void {
    let s = "";
    for (let i = 0; i < len; i++) s += String.fromCharCode(buf[i]);
    this.all.push(s);
  }
}

let irq = new RecordingSink();
let lines = new Lines();
let uart = new Uart16550(irq, 4, lines, 16, 20);

export function uartNew(rxCap: i32, maxLine: i32): void {
  irq = new RecordingSink();
  lines = new Lines();
  uart = new Uart16550(irq, 4, lines, rxCap, maxLine);
}
export function uartRead(off: u32, size: u32): u32 {
  return <u32>uart.read(off, size);
}
export function uartWrite(off: u32, size: u32, v: u32): void {
  uart.write(off, size, v);
}
export function uartInput(s: string): i32 {
  const b = new StaticArray<u8>(s.length);
  for (let i = 0; i < s.length; i++) b[i] = <u8>s.charCodeAt(i);
  return uart.input(b, s.length);
}
export function uartFlush(): void {
  uart.flush();
}
export function uartLines(): string {
  return lines.all.join("\n");
}
export function uartLineCount(): i32 {
  return lines.all.length;
}
export function uartIrq(): bool {
  return irq.levels[4];
}
export function uartIrqEvents(): i32 {
  return irq.levelGsi.length;
}
export function uartIrqOtherGsi(): bool {
  for (let i = 0; i < irq.levelGsi.length; i++) if (irq.levelGsi[i] != 4) return true;
  return false;
}
export function uartStats(): string {
  return uart.txBytes.toString() + "," + uart.lines.toString() + "," + uart.rxDropped.toString() + "," + uart.rxPending().toString();
}

// ---- LAPIC + IOAPIC ----

let clock = new FakeClock();
let lapic = new Lapic(0, clock, 100_000_000);
let ioapic = new Ioapic(lapic);
let platform = new PlatformInterrupts(ioapic, lapic);

/** A fresh LAPIC (ID `id`, bus `busHz`, TSC 1 GHz at t=0) and IOAPIC; x2APIC mode on request. */
export function apicNew(id: u32, busHz: u64, x2: bool): void {
  clock = new FakeClock();
  lapic = new Lapic(id, clock, busHz);
  ioapic = new Ioapic(lapic);
  platform = new PlatformInterrupts(ioapic, lapic);
  if (x2) lapic.writeMsr(0x1b, 0xfee00000 | 0xc00);
}
export function clockSet(t: u64): void {
  clock.t = t;
}
export function clockHz(hz: u64): void {
  clock.freq = hz;
}
export function rdmsr(msr: u32): bool {
  return lapic.readMsr(msr);
}
export function msrValue(): u64 {
  return lapic.value;
}
export function wrmsr(msr: u32, v: u64): bool {
  return lapic.writeMsr(msr, v);
}
export function apicRead(off: u64, size: u32): u64 {
  return lapic.mmioRead(off, size);
}
export function apicWrite(off: u64, size: u32, v: u64): void {
  lapic.mmioWrite(off, size, v);
}
export function accept(v: u32, level: bool): void {
  lapic.accept(v, level);
}
export function pending(): i32 {
  return lapic.pendingVector();
}
export function ack(v: u32): void {
  lapic.ack(v);
}
export function nextDeadline(): u64 {
  return lapic.nextDeadline();
}
export function apicStats(): string {
  return lapic.timerFires.toString() + "," + lapic.droppedIpis.toString() + "," + lapic.badAccesses.toString();
}
/** Injects like the VMM: the pending vector is acked and returned (-1 when none). */
export function inject(): i32 {
  const v = lapic.pendingVector();
  if (v >= 0) lapic.ack(<u32>v);
  return v;
}
export function ioRead(off: u64, size: u32): u64 {
  return ioapic.read(off, size);
}
export function ioWrite(off: u64, size: u32, v: u64): void {
  ioapic.write(off, size, v);
}
export function ioEntry(pin: u32): u64 {
  return ioapic.entry(pin);
}
export function gsi(pin: u32, high: bool): void {
  platform.setLevel(pin, high);
}
export function msi(address: u64, data: u32): void {
  platform.msi(address, data);
}
export function ioStats(): string {
  return ioapic.delivered.toString() + "," + ioapic.dropped.toString() + "," + platform.badGsi.toString() + "," + platform.lostMsi.toString();
}

// ---- ACPI ----

/** Guest RAM for the table tests: 1 MiB. */
const ram = new StaticArray<u8>(0x100000);
export function ramPtr(): usize {
  return changetype<usize>(ram);
}
/** Builds the tables at `base` in the first `size` bytes of RAM; returns the RSDP address or -1, and the total size in `acpiSize`. */
let lastSize: u64 = 0;
export function acpiBuild(size: u64, base: u64, cpus: u32, com1: bool, mmioBase: u32, mmioSize: u32, intxSlots: u32 = 0): i64 {
  for (let i = 0; i < ram.length; i++) ram[i] = 0;
  const cfg = new AcpiConfig();
  cfg.cpus = cpus;
  cfg.com1 = com1;
  cfg.pciMmioBase = mmioBase;
  cfg.pciMmioSize = mmioSize;
  for (let d: u32 = 0; d < 32; d++) if ((intxSlots & (1 << d)) != 0) cfg.pciIntxSlots.push(d);
  const mem = new LinearMemory(changetype<usize>(ram), size);
  const l = buildAcpi(mem, base, cfg);
  if (l == null) return -1;
  lastSize = l.size;
  return <i64>l.rsdp;
}
export function acpiSize(): u64 {
  return lastSize;
}

// ---- PIT counter 2, port 0x61, RTC (legacy-timers.ts) ----

let ltClock = new FakeClock();
let pit = new PitCounter2(ltClock);
let portB = new PortB(pit);
let rtc = new Rtc(ltClock);

/** Fresh PIT counter 2 and RTC on a clock of `hz` at t = `t0`. */
export function ltNew(hz: u64, t0: u64): void {
  ltClock = new FakeClock();
  ltClock.freq = hz;
  ltClock.t = t0;
  pit = new PitCounter2(ltClock);
  portB = new PortB(pit);
  rtc = new Rtc(ltClock);
}
export function ltClockSet(t: u64): void {
  ltClock.t = t;
}
/** Port access to 0x42/0x43 (`off` 0/1), 0x61 (`off` 2) or 0x70/0x71 (`off` 3/4). */
export function ltRead(off: u32): u32 {
  if (off <= 1) return <u32>pit.read(off, 1);
  if (off == 2) return <u32>portB.read(0, 1);
  return <u32>rtc.read(off - 3, 1);
}
export function ltWrite(off: u32, v: u32): void {
  if (off <= 1) pit.write(off, 1, v);
  else if (off == 2) portB.write(0, 1, v);
  else rtc.write(off - 3, 1, v);
}
