// Uses every device model, the decoder and the Linux loader so the baremetal build (asc --target baremetal, then the AOT) sees all their code.

import { BusDevice, Clock, InterruptSink } from "../../src/devices/device";
import { PortBus, MmioBus } from "../../src/devices/bus";
import { Uart16550, LineSink } from "../../src/devices/uart16550";
import { Lapic } from "../../src/devices/lapic";
import { Ioapic, IOAPIC_BASE, IOAPIC_SIZE } from "../../src/devices/ioapic";
import { PlatformInterrupts } from "../../src/devices/interrupts";
import { AcpiConfig, buildAcpi } from "../../src/devices/acpi";
import { PciHost, PciFunction, BarKind } from "../../src/devices/pci/index";
import { LinearMemory } from "../../src/lib/bounded-memory";
import { CpuMode, MmioAccess, ExitDecode, decodeMmio, decodeExit, loadResult, storeValue, hexBytes } from "../../src/vmm/x86/decode";
import { LinuxBootConfig, setupLinux } from "../../src/vmm/linux/boot";
import { GuestPlatform } from "../../src/devices/platform";
import { prepareLinux } from "../../src/vmm/linux/guest";

class TscClock extends Clock {
  t: u64 = 0;
  now(): u64 {
    return this.t++;
  }
  hz(): u64 {
    return 1_000_000_000;
  }
}
class Drop extends LineSink {
  n: i32 = 0;
  line(buf: StaticArray<u8>, len: i32): void {
    this.n += len;
  }
}
class Dev extends PciFunction {
  barRead(bar: u32, offset: u64, size: u32): u64 {
    return offset;
  }
}
class UartPort extends BusDevice {
  constructor(private u: Uart16550) {
    super();
  }
  read(offset: u64, size: u32): u64 {
    return this.u.read(offset, size);
  }
  write(offset: u64, size: u32, value: u64): void {
    this.u.write(offset, size, value);
  }
}

const clock = new TscClock();
const lapic = new Lapic(0, clock, 100_000_000);
const ioapic = new Ioapic(lapic);
const irq: InterruptSink = new PlatformInterrupts(ioapic, lapic);
const uart = new Uart16550(irq, 4, new Drop());
const ports = new PortBus();
const mmio = new MmioBus();
ports.register(0x3f8, 8, new UartPort(uart));
mmio.register(IOAPIC_BASE, IOAPIC_SIZE, ioapic);
const pci = new PciHost();
const dev = new Dev(0x1af4, 0x1041, 0x020000, 1, irq);
dev.setBar(0, BarKind.Mem64, 0x4000);
dev.enableMsix(2, 0, 0, 0x1000);
pci.attach(1, 0, dev);
const ram = new StaticArray<u8>(0x40000);
const insn = new StaticArray<u8>(16);
const acc = new MmioAccess();
const ex = new ExitDecode();

export function portIo(port: u32, size: u32, write: bool, v: u32): u64 {
  if (pci.io(port, size, write, v)) return pci.value;
  if (write) ports.write(port, size, v);
  else if (ports.read(port, size)) return ports.value;
  return 0;
}
export function mmioAccess(gpa: u64, size: u32, write: bool, v: u64): u64 {
  if (gpa >= 0xfee00000 && gpa < 0xfee01000) {
    if (write) lapic.mmioWrite(gpa - 0xfee00000, size, v);
    else return lapic.mmioRead(gpa - 0xfee00000, size);
    return 0;
  }
  if (pci.mmio(gpa, size, write, v)) return pci.value;
  if (write) mmio.write(gpa, size, v);
  else if (mmio.read(gpa, size)) return mmio.value;
  return 0;
}
export function msr(index: u32, write: bool, v: u64): u64 {
  if (write) return lapic.writeMsr(index, v) ? 1 : 0;
  return lapic.readMsr(index) ? lapic.value : 0;
}
export function interrupt(): i32 {
  const v = lapic.pendingVector();
  if (v >= 0) lapic.ack(<u32>v);
  dev.msixSend(0);
  return v;
}
export function deadline(): u64 {
  return lapic.nextDeadline();
}
export function decode(b: u64, n: i32): i32 {
  for (let i = 0; i < 8; i++) insn[i] = <u8>(b >> (8 * i));
  if (decodeMmio(insn, n, CpuMode.Long64, acc)) return <i32>(loadResult(acc, 0, storeValue(acc, b)) & 0xff);
  if (decodeExit(insn, n, CpuMode.Long64, ex)) return ex.length;
  return hexBytes(insn, n).length;
}
export function tables(): u64 {
  const l = buildAcpi(new LinearMemory(changetype<usize>(ram), <u64>ram.length), 0x30000, new AcpiConfig());
  return l == null ? 0 : l.size;
}
export function linux(ramBytes: u64): i32 {
  const cfg = new LinuxBootConfig();
  const r = new LinearMemory(changetype<usize>(ram), <u64>ram.length);
  const e = setupLinux(r, null, r, cfg);
  const p = prepareLinux(r, null, r, "console=ttyS0", new AcpiConfig());
  return e.ok() && p.ok() ? 0 : e.error.length + p.error.length;
}

const vm = new GuestPlatform(clock, 25_000_000, new Drop());
const regs = new StaticArray<u64>(16);
export function platform(gpa: u64, n: i32, port: u32): i64 {
  if (vm.io(port, 1, false, 0)) return <i64>vm.value;
  return vm.emulateMmio(gpa, insn, n, CpuMode.Long64, regs);
}
