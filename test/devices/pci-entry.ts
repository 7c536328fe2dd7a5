// Flat exports over a PCI host with one test function (and a second function on the same device) for test/devices/pci.test.ts.

import { PciHost, PciFunction, BarKind, CAP_ID_VENDOR } from "../../src/devices/pci/index";
import { RecordingSink } from "./common";

/** A device with a 4 KiB register file in BAR0, 32 I/O ports in BAR1 and MSI-X in the 64-bit BAR2. */
class TestDevice extends PciFunction {
  regs: StaticArray<u8> = new StaticArray<u8>(4096);
  ports: StaticArray<u8> = new StaticArray<u8>(32);
  accesses: u32 = 0;
  lastBar: u32 = 99;
  lastOffset: u64 = 0;
  lastSize: u32 = 0;
  hookWrites: u32 = 0;

  constructor(sink: RecordingSink) {
    super(0x1af4, 0x1041, 0x020000, 1, sink);
    this.setSubsystem(0x1af4, 0x0001);
    this.setBar(0, BarKind.Mem32, 4096);
    this.setBar(1, BarKind.Io, 32);
    this.setBar(2, BarKind.Mem64, 0x4000, true);
    const body = new StaticArray<u8>(6);
    body[0] = 8; // cap_len, as a virtio capability has
    for (let i = 1; i < 6; i++) body[i] = <u8>(0x10 + i);
    const at = this.addCapability(CAP_ID_VENDOR, body);
    this.setWriteMask(<u32>at + 4, 1, 0xff); // one writable byte
    this.enableMsix(4, 2, 0, 0x2000);
    this.setIntx(1, 11);
  }

  barRead(bar: u32, offset: u64, size: u32): u64 {
    this.note(bar, offset, size);
    let v: u64 = 0;
    for (let i: u32 = 0; i < size; i++) {
      const o = <i32>offset + <i32>i;
      if (bar == 0 && o < 4096) v |= <u64>this.regs[o] << (8 * i);
      if (bar == 1 && o < 32) v |= <u64>this.ports[o] << (8 * i);
    }
    return v;
  }
  barWrite(bar: u32, offset: u64, size: u32, value: u64): void {
    this.note(bar, offset, size);
    for (let i: u32 = 0; i < size; i++) {
      const o = <i32>offset + <i32>i;
      if (bar == 0 && o < 4096) this.regs[o] = <u8>(value >> (8 * i));
      if (bar == 1 && o < 32) this.ports[o] = <u8>(value >> (8 * i));
    }
  }
  onConfigWrite(offset: u32, size: u32, value: u32): void {
    this.hookWrites++;
  }
  private note(bar: u32, offset: u64, size: u32): void {
    this.accesses++;
    this.lastBar = bar;
    this.lastOffset = offset;
    this.lastSize = size;
  }
}

let sink = new RecordingSink();
let host = new PciHost();
let dev = new TestDevice(sink);
let other = new PciFunction(0x8086, 0x1234, 0x010000, 0, sink);

export function reset(): void {
  sink = new RecordingSink();
  host = new PciHost();
  dev = new TestDevice(sink);
  other = new PciFunction(0x8086, 0x1234, 0x010000, 0, sink);
  host.attach(3, 0, dev);
  host.attach(3, 1, other);
}
export function attach(d: u32, f: u32): bool {
  return host.attach(d, f, new PciFunction(0x1234, 0x5678, 0, 0, sink));
}
export function io(port: u32, size: u32, write: bool, value: u32): bool {
  return host.io(port, size, write, value);
}
export function mmio(gpa: u64, size: u32, write: bool, value: u64): bool {
  return host.mmio(gpa, size, write, value);
}
export function value(): u64 {
  return host.value;
}
export function cfgRead(d: u32, f: u32, off: u32, size: u32): u32 {
  return host.configRead(d, f, off, size);
}
export function cfgWrite(d: u32, f: u32, off: u32, size: u32, v: u32): void {
  host.configWrite(d, f, off, size, v);
}
export function msixSend(v: u32): i32 {
  return <i32>dev.msixSend(v);
}
export function intx(high: bool): void {
  dev.setIntxLevel(high);
}
export function msiCount(): i32 {
  return sink.msiAddr.length;
}
export function msiAddr(i: i32): u64 {
  return sink.msiAddr[i];
}
export function msiData(i: i32): u32 {
  return sink.msiData[i];
}
export function levelCount(): i32 {
  return sink.levelGsi.length;
}
export function levelGsi(i: i32): u32 {
  return sink.levelGsi[i];
}
export function levelHigh(i: i32): bool {
  return sink.levelHigh[i];
}
export function devReg(o: i32): u32 {
  return dev.regs[o];
}
export function devPort(o: i32): u32 {
  return dev.ports[o];
}
export function devAccesses(): u32 {
  return dev.accesses;
}
export function devLast(): string {
  return dev.lastBar.toString() + ":" + dev.lastOffset.toString() + ":" + dev.lastSize.toString();
}
export function hookWrites(): u32 {
  return dev.hookWrites;
}
