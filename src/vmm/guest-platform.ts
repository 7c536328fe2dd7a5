// The virtual platform of a Linux VM (docs/GUESTS.md): local APIC, IOAPIC,
// 16550 COM1 on GSI 4, a PCI host, ACPI tables; it routes the VM's port, MMIO
// and MSR exits to those devices and says which interrupt to deliver next.

import { Clock } from "../devices/device";
import { Lapic, XAPIC_PAGE_SIZE } from "../devices/lapic";
import { Ioapic, IOAPIC_BASE, IOAPIC_SIZE } from "../devices/ioapic";
import { PlatformInterrupts } from "../devices/interrupts";
import { LineSink, Uart16550 } from "../devices/uart16550";
import { PciHost } from "../devices/pci/host";
import { AcpiConfig, AcpiLayout, acpiMaxSize, buildAcpi } from "../devices/acpi";
import { BoundedMemory } from "../lib/bounded-memory";
import { NET_PCI_CLASS, NetPort, VirtioNet, VirtioPci } from "../devices/virtio-net/index";
import { NoBarrier } from "../virtio/barrier";
import { pciIntxGsi } from "../devices/pci/host";
import { rdtsc } from "./hw";
import { tscHz } from "../platform/tsc";

/** COM1 (GUESTS.md: ttyS0 at 0x3F8 on GSI 4). */
export const COM1_BASE: u32 = 0x3f8;
export const COM1_GSI: u32 = 4;
/** Where the ACPI tables go in guest RAM: the BIOS area the kernel also scans (ACPI 6.4 5.2.5.1). */
export const ACPI_BASE: u64 = 0xe0000;
/** The NIC's PCI slot: 00:03.0 (INTx on pciIntxGsi(3, 1) as a fallback to MSI-X). */
export const NIC_SLOT: u32 = 3;

/** The bus frequency the LAPIC timer counts at before its divider (the guest also has TSC-deadline mode). */
export const LAPIC_BUS_HZ: u64 = 1_000_000_000;

/** Guest time: the host TSC (monotonic across slices, so no offset is needed), at the calibrated rate. */
export class TscClock extends Clock {
  now(): u64 {
    return rdtsc();
  }
  hz(): u64 {
    return tscHz;
  }
}

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

/** Every VM's guest time: the host TSC. */
export const guestClock = new TscClock();

export class GuestPlatform {
  readonly lapic: Lapic;
  readonly ioapic: Ioapic;
  readonly irq: PlatformInterrupts;
  readonly uart: Uart16550;
  readonly pci: PciHost = new PciHost();
  readonly console: ConsoleLog;
  acpi: AcpiLayout | null = null;
  /** The VM's virtio-net NIC (GUESTS.md: one per Linux VM) and, once the composition root bound it, its port. */
  net: VirtioNet | null = null;
  nic: VirtioPci | null = null;
  port: NetPort | null = null;
  /** Result of the last claimed read (io/mmio). */
  value: u64 = 0;
  /** Port and MMIO accesses no device claimed (reads 0 for MMIO, all ones for ports). */
  unclaimedIo: u64 = 0;
  unclaimedMmio: u64 = 0;

  constructor(name: string, print: (s: string) => void) {
    const lapic = new Lapic(0, guestClock, LAPIC_BUS_HZ);
    const ioapic = new Ioapic(lapic);
    const irq = new PlatformInterrupts(ioapic, lapic);
    const con = new ConsoleLog(name, print);
    this.lapic = lapic;
    this.ioapic = ioapic;
    this.irq = irq;
    this.console = con;
    this.uart = new Uart16550(irq, COM1_GSI, con);
  }

  /** Device state back to power-on (vm.reset). */
  reset(): void {
    this.lapic.reset();
    const net = this.net;
    if (net) net.reset();
  }

  /** The virtio-net NIC at 00:03.0 over modern virtio-pci with MSI-X (virtio 1.2 4.1), MAC `mac`. */
  addNic(name: string, ram: BoundedMemory, mac: u64): void {
    const net = new VirtioNet(name, ram, mac, new NoBarrier()); // one CPU: the guest never runs beside the device
    const fn = new VirtioPci(net, NET_PCI_CLASS, this.irq, <i32>pciIntxGsi(NIC_SLOT, 1));
    this.pci.attach(NIC_SLOT, 0, fn);
    this.net = net;
    this.nic = fn;
  }

  /** Writes the ACPI tables into guest RAM; false when they do not fit. */
  buildTables(ram: BoundedMemory): bool {
    const cfg = new AcpiConfig();
    if (this.nic) cfg.pciIntxSlots = [NIC_SLOT];
    if (!ram.contains(ACPI_BASE, acpiMaxSize(cfg))) return false;
    this.acpi = buildAcpi(ram, ACPI_BASE, cfg);
    return this.acpi != null;
  }

  /** A port access; reads leave their result in `value`. Unclaimed ports read all ones and are counted. */
  io(port: u32, size: u32, write: bool, value: u32): void {
    if (port >= COM1_BASE && port + size <= COM1_BASE + 8) {
      if (write) this.uart.write(<u64>(port - COM1_BASE), size, <u64>value);
      else this.value = this.uart.read(<u64>(port - COM1_BASE), size);
      return;
    }
    if (this.pci.io(port, size, write, value)) {
      this.value = this.pci.value;
      return;
    }
    this.unclaimedIo++;
    this.value = 0xffffffff;
  }

  /** A guest-physical access outside RAM: true when a device claimed it (reads: result in `value`). */
  mmio(gpa: u64, size: u32, write: bool, value: u64): bool {
    const l = this.lapic;
    const lbase = l.mmioBase();
    if (l.xapic() && gpa >= lbase && gpa + <u64>size <= lbase + XAPIC_PAGE_SIZE) {
      if (write) l.mmioWrite(gpa - lbase, size, value);
      else this.value = l.mmioRead(gpa - lbase, size);
      return true;
    }
    if (gpa >= IOAPIC_BASE && gpa + <u64>size <= IOAPIC_BASE + IOAPIC_SIZE) {
      if (write) this.ioapic.write(gpa - IOAPIC_BASE, size, value);
      else this.value = this.ioapic.read(gpa - IOAPIC_BASE, size);
      return true;
    }
    if (this.pci.mmio(gpa, size, write, value)) {
      this.value = this.pci.value;
      return true;
    }
    this.unclaimedMmio++;
    return false;
  }

  /** The MSRs the platform owns (APIC base, TSC deadline, x2APIC). */
  ownsMsr(msr: u32): bool {
    return Lapic.ownsMsr(msr);
  }
  /** RDMSR of an owned MSR: false means #GP; the result is in `value`. */
  readMsr(msr: u32): bool {
    if (!this.lapic.readMsr(msr)) return false;
    this.value = this.lapic.value;
    return true;
  }
  writeMsr(msr: u32, v: u64): bool {
    return this.lapic.writeMsr(msr, v);
  }

  /** The vector to deliver next (the LAPIC's highest deliverable), or -1. */
  pendingVector(): i32 {
    return this.lapic.pendingVector();
  }

  /** Guest TSC at which a halted vCPU must wake for its timer (u64 max: none). */
  nextDeadline(): u64 {
    return this.lapic.nextDeadline();
  }
}
