// Flat exports over the bus, UART, LAPIC, IOAPIC and ACPI models for the test/devices suites.

import { BusDevice } from "../../src/devices/device";
import { Bus, PortBus, MmioBus } from "../../src/devices/bus";
import { Uart16550, LineSink } from "../../src/devices/uart16550";
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
