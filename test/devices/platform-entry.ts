// One VM's GuestPlatform (buses, PCI host, UART, IOAPIC, LAPIC, decoder) with a test PCI function, driven by "guest" instructions, for test/devices/platform.test.ts.

import { Clock } from "../../src/devices/device";
import { LineSink } from "../../src/devices/uart16550";
import { GuestPlatform } from "../../src/devices/platform";
import { PciFunction, BarKind } from "../../src/devices/pci/index";
import { CpuMode } from "../../src/vmm/x86/decode";

class TestClock extends Clock {
  t: u64 = 0;
  now(): u64 {
    return this.t;
  }
  hz(): u64 {
    return 1_000_000_000;
  }
}
class Console extends LineSink {
  out: string[] = [];
  line(buf: StaticArray<u8>, len: i32): void {
    let s = "[vm] ";
    for (let i = 0; i < len; i++) s += String.fromCharCode(buf[i]);
    this.out.push(s);
  }
}
/** A NIC-like function: a doorbell register in BAR0; ringing it sends MSI-X vector (value). */
class Doorbell extends PciFunction {
  barWrite(bar: u32, offset: u64, size: u32, value: u64): void {
    if (bar == 0 && offset == 0x100) this.msixSend(<u32>value);
  }
}

const clock = new TestClock();
const con = new Console();
const vm = new GuestPlatform(clock, 100_000_000, con);
const lapic = vm.lapic;
const nic = new Doorbell(0x1af4, 0x1041, 0x020000, 1, vm.irq);
nic.setBar(0, BarKind.Mem32, 0x1000);
nic.enableMsix(2, 0, 0x800, 0xc00);
vm.pci.attach(2, 0, nic);

/** The vCPU's 16 general registers. */
const regs = new StaticArray<u64>(16);
const insn = new StaticArray<u8>(16);
let stopReason = "";

export function setReg(i: i32, v: u64): void {
  regs[i] = v;
}
export function getReg(i: i32): u64 {
  return regs[i];
}
export function insnPtr(): usize {
  return changetype<usize>(insn);
}
export function stopped(): string {
  return stopReason;
}

/** An EPT/NPT violation at `gpa` by the instruction in `insn` (`n` bytes fetched): returns the RIP advance or -1 (the VM stops). */
export function mmioExit(gpa: u64, n: i32): i32 {
  const r = vm.emulateMmio(gpa, insn, n, CpuMode.Long64, regs);
  if (r < 0) stopReason = vm.stopReason;
  return r;
}
/** A port exit; reads return the value (all ones when nobody claims, as the VMM does for unknown ports). */
export function portExit(port: u32, size: u32, write: bool, v: u32): u32 {
  if (vm.io(port, size, write, v)) return write ? 0 : <u32>vm.value;
  return size == 4 ? 0xffffffff : (1 << (8 * size)) - 1;
}
export function wrmsr(msr: u32, v: u64): bool {
  return lapic.writeMsr(msr, v);
}
/** What the VMM does before entry: the vector to inject (acked), or -1. */
export function injectable(): i32 {
  const v = lapic.pendingVector();
  if (v >= 0) lapic.ack(<u32>v);
  return v;
}
export function advance(ticks: u64): void {
  clock.t += ticks;
}
export function nextDeadline(): u64 {
  return lapic.nextDeadline();
}
export function consoleLines(): string {
  return con.out.join("\n");
}
export function input(s: string): void {
  for (let i = 0; i < s.length; i++) vm.uart.inputByte(<u32>s.charCodeAt(i));
}
