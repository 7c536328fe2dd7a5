// A Linux VM's platform as the VMM holds it: the device set of
// src/devices/platform.ts (LAPIC, IOAPIC, COM1 on GSI 4, PCI host), its
// virtio-net NIC and switch port, the console log, and the dispatch of the
// VM's port, MMIO and MSR exits to them (docs/GUESTS.md, docs/DEVICES.md).

import { Clock } from "../devices/device";
import { Lapic } from "../devices/lapic";
import { LineSink } from "../devices/uart16550";
import { GuestPlatform } from "../devices/platform";
import { AcpiConfig } from "../devices/acpi";
import { pciIntxGsi } from "../devices/pci/host";
import { PciFunction } from "../devices/pci/function";
import { NET_PCI_CLASS, NetPort, VirtioNet, VirtioPci } from "../devices/virtio-net/index";
import { NoBarrier } from "../virtio/barrier";
import { BoundedMemory } from "../lib/bounded-memory";
import { CpuMode } from "./x86/decode";
import { Reg } from "./regs";
import { rdtsc } from "./hw";
import { tscHz } from "../platform/tsc";

/** The bus frequency the LAPIC timer counts at before its divider (the guest also has TSC-deadline mode). */
export const LAPIC_BUS_HZ: u64 = 1_000_000_000;
/** The NIC's PCI slot: 00:03.0 (INTx on pciIntxGsi(3, 1) when the guest does not use MSI-X). */
export const NIC_SLOT: u32 = 3;

/** Guest time: the host TSC (monotonic across slices, so no offset is needed), at the calibrated rate. */
export class TscClock extends Clock {
  now(): u64 {
    return rdtsc();
  }
  hz(): u64 {
    return tscHz;
  }
}

/** Every VM's guest time. */
export const guestClock = new TscClock();

/** Console lines of one VM: printed with its name and kept for vm.console (GUESTS.md: at least 1000). */
export class ConsoleLog extends LineSink {
  static readonly KEEP: i32 = 1024;
  readonly lines: StaticArray<string> = new StaticArray<string>(ConsoleLog.KEEP);
  /** Number of the last line kept (lines are numbered from 1). */
  seq: u64 = 0;

  constructor(public name: string, public print: (s: string) => void) {
    super();
  }

  line(buf: StaticArray<u8>, len: i32): void {
    // printable ASCII only on the monitor's console and in vm.console (tabs kept)
    for (let i = 0; i < len; i++) {
      const c = buf[i];
      if ((c < 0x20 && c != 9) || c >= 0x7f) buf[i] = 0x3f;
    }
    const text = String.UTF8.decodeUnsafe(changetype<usize>(buf), <usize>len, false);
    this.seq++;
    this.lines[<i32>(this.seq % <u64>ConsoleLog.KEEP)] = text;
    const p = this.print;
    p("[" + this.name + "] " + text + "\n");
  }

  /** Line number `n` if still kept, else null. */
  get(n: u64): string | null {
    if (n == 0 || n > this.seq || this.seq - n >= <u64>ConsoleLog.KEEP) return null;
    return this.lines[<i32>(n % <u64>ConsoleLog.KEEP)];
  }
}

export class VmPlatform {
  readonly dev: GuestPlatform;
  readonly console: ConsoleLog;
  /** The VM's virtio-net NIC (GUESTS.md: one per Linux VM) and, once the composition root bound it, its port. */
  net: VirtioNet | null = null;
  nic: VirtioPci | null = null;
  port: NetPort | null = null;
  /** Result of the last claimed read (io, readMsr). */
  value: u64 = 0;
  /** Port accesses no device claimed (they read all ones). */
  unclaimedIo: u64 = 0;

  constructor(con: ConsoleLog) {
    this.console = con;
    const dev = new GuestPlatform(guestClock, LAPIC_BUS_HZ, con);
    // A host bridge at 00:00.0: Linux accepts configuration mechanism 1 only after finding a host bridge (or
    // VGA) on bus 0 when the firmware gives no DMI date (arch/x86/pci/direct.c pci_sanity_check). The ID is
    // the generic PCIe host bridge of Red Hat's range (1b36:0008), which no Linux driver claims.
    dev.pci.attach(0, 0, new PciFunction(0x1b36, 0x0008, 0x060000, 0, dev.irq));
    this.dev = dev;
  }

  get lapic(): Lapic {
    return this.dev.lapic;
  }

  /** Device state back to power-on (vm.reset). */
  reset(): void {
    this.dev.lapic.reset();
    const net = this.net;
    if (net) net.reset();
  }

  /** The virtio-net NIC at 00:03.0 over modern virtio-pci with MSI-X (virtio 1.2 4.1), MAC `mac`. */
  addNic(name: string, ram: BoundedMemory, mac: u64): void {
    const net = new VirtioNet(name, ram, mac, new NoBarrier()); // one vCPU: the guest never runs beside the device
    const fn = new VirtioPci(net, NET_PCI_CLASS, this.dev.irq, <i32>pciIntxGsi(NIC_SLOT, 1));
    this.dev.pci.attach(NIC_SLOT, 0, fn);
    this.net = net;
    this.nic = fn;
  }

  /** What the ACPI tables describe: the recommended platform, the NIC's INTx routed by _PRT. */
  acpiConfig(): AcpiConfig {
    const cfg = new AcpiConfig();
    if (this.nic) cfg.pciIntxSlots = [NIC_SLOT];
    return cfg;
  }

  /** A port access; reads leave their result in `value`. Unclaimed ports read all ones and are counted. */
  io(port: u32, size: u32, write: bool, value: u32): void {
    if (this.dev.io(port, size, write, value)) {
      this.value = this.dev.value;
      return;
    }
    this.unclaimedIo++;
    this.value = 0xffffffff;
  }

  /** An access outside RAM by the instruction in `insn`: its length (RIP advances by it), or -1 (`stopReason`). */
  mmio(gpa: u64, insn: StaticArray<u8>, avail: i32, mode: CpuMode, regs: StaticArray<u64>): i32 {
    return this.dev.emulateMmio(gpa, insn, avail, mode, regs, Reg.Rsp); // RSP is in the VMCS/VMCB, not in regs
  }

  get stopReason(): string {
    return this.dev.stopReason;
  }

  /** The MSRs the platform owns (APIC base, TSC deadline, x2APIC). */
  ownsMsr(msr: u32): bool {
    return Lapic.ownsMsr(msr);
  }
  /** RDMSR of an owned MSR: false means #GP; the result is in `value`. */
  readMsr(msr: u32): bool {
    if (!this.dev.lapic.readMsr(msr)) return false;
    this.value = this.dev.lapic.value;
    return true;
  }
  writeMsr(msr: u32, v: u64): bool {
    return this.dev.lapic.writeMsr(msr, v);
  }

  /** The vector to deliver next (the LAPIC's highest deliverable), or -1. */
  pendingVector(): i32 {
    return this.dev.lapic.pendingVector();
  }
}
