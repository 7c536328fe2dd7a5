// One Linux VM's device set (the recommended platform of EMULATORS.md) and the dispatch of its port, MMIO and instruction-decoded exits.

import { Clock } from "./device";
import { MmioBus, PortBus } from "./bus";
import { PlatformInterrupts } from "./interrupts";
import { Ioapic, IOAPIC_BASE, IOAPIC_SIZE } from "./ioapic";
import { Lapic, LapicPage, XAPIC_PAGE_SIZE } from "./lapic";
import { PciHost } from "./pci/host";
import { LineSink, Uart16550 } from "./uart16550";
import { PIT_PORT, PORT_B, PitCounter2, PortB, RTC_PORT, Rtc } from "./legacy-timers";
import { CpuMode, MmioAccess, decodeMmio, hexBytes, loadResult, storeValue } from "../vmm/x86/decode";

export const COM1_PORT: u64 = 0x3f8;
export const COM1_GSI: u32 = 4;

/**
 * LAPIC, IOAPIC, COM1 and the PCI host of one single-vCPU VM, on a port bus
 * and an MMIO bus. The VMM owns one per VM (reachable from a module global:
 * the monitor's collector does not scan the stack), attaches its PCI
 * functions to `pci`, and hands it every port exit and every EPT/NPT
 * violation outside RAM.
 */
export class GuestPlatform {
  readonly lapic: Lapic;
  readonly ioapic: Ioapic;
  readonly irq: PlatformInterrupts;
  readonly uart: Uart16550;
  readonly pit: PitCounter2;
  readonly rtc: Rtc;
  readonly ports: PortBus = new PortBus();
  readonly mmio: MmioBus = new MmioBus();
  readonly pci: PciHost = new PciHost();
  /** The result of the last claimed read. */
  value: u64 = 0;
  /** Why the last `emulateMmio` failed (the VMM stops the VM with it). */
  stopReason: string = "";
  private readonly access: MmioAccess = new MmioAccess();

  /** `busHz`: the LAPIC timer's input clock; `console`: where COM1's lines go. */
  constructor(clock: Clock, busHz: u64, console: LineSink) {
    const lapic = new Lapic(0, clock, busHz);
    const ioapic = new Ioapic(lapic);
    const irq = new PlatformInterrupts(ioapic, lapic);
    const uart = new Uart16550(irq, COM1_GSI, console);
    this.lapic = lapic;
    this.ioapic = ioapic;
    this.irq = irq;
    this.uart = uart;
    const pit = new PitCounter2(clock);
    this.pit = pit;
    const rtc = new Rtc(clock);
    this.rtc = rtc;
    this.ports.register(COM1_PORT, 8, uart);
    // PIT counter 2 and the RTC: only so that Linux's boot-time polling of them ends at once (legacy-timers.ts)
    this.ports.register(PIT_PORT, 2, pit);
    this.ports.register(PORT_B, 1, new PortB(pit));
    this.ports.register(RTC_PORT, 2, rtc);
    this.mmio.register(IOAPIC_BASE, IOAPIC_SIZE, ioapic);
    // The xAPIC page stays at the reset base 0xFEE00000: a guest that relocates it through IA32_APIC_BASE is not followed.
    this.mmio.register(lapic.mmioBase(), XAPIC_PAGE_SIZE, new LapicPage(lapic));
  }

  /** A port access: true when a device claimed it (a read's result in `value`). The PCI host goes first (0xCF8-0xCFF, I/O BARs). */
  io(port: u32, size: u32, write: bool, v: u32): bool {
    if (this.pci.io(port, size, write, v)) {
      if (!write) this.value = this.pci.value;
      return true;
    }
    if (write) return this.ports.write(<u64>port, size, <u64>v);
    if (!this.ports.read(<u64>port, size)) return false;
    this.value = this.ports.value;
    return true;
  }

  /** A guest-physical access outside RAM: the APIC pages, then memory BARs. */
  mmioAccess(gpa: u64, size: u32, write: bool, v: u64): bool {
    if (write) {
      if (this.mmio.write(gpa, size, v)) return true;
      return this.pci.mmio(gpa, size, true, v);
    }
    if (this.mmio.read(gpa, size)) {
      this.value = this.mmio.value;
      return true;
    }
    if (!this.pci.mmio(gpa, size, false, 0)) return false;
    this.value = this.pci.value;
    return true;
  }

  /**
   * An EPT/NPT violation at `gpa` outside RAM by the instruction in `insn`
   * (`avail` bytes fetched at RIP): decodes it, performs the access and
   * updates `regs` (the 16 general registers, rAX..r15). Returns the
   * instruction length (RIP advances by it), or -1 with `stopReason` set:
   * an instruction it cannot decode, or an address no device claims.
   */
  emulateMmio(gpa: u64, insn: StaticArray<u8>, avail: i32, mode: CpuMode, regs: StaticArray<u64>, absentReg: i32 = -1): i32 {
    const a = this.access;
    if (!decodeMmio(insn, avail, mode, a)) {
      this.stopReason = "cannot decode MMIO instruction at 0x" + gpa.toString(16) + " (" + a.error + "): " + hexBytes(insn, avail);
      return -1;
    }
    if (a.reg >= regs.length) {
      this.stopReason = "register out of range";
      return -1;
    }
    // `absentReg`: a register the caller does not keep in `regs` (the VMM's RSP lives in the VMCS/VMCB)
    if (a.reg >= 0 && a.reg == absentReg) {
      this.stopReason = "MMIO access through register " + a.reg.toString() + " at 0x" + gpa.toString(16) + " is not emulated";
      return -1;
    }
    if (a.write) {
      const v = storeValue(a, a.reg >= 0 ? unchecked(regs[a.reg]) : 0);
      if (!this.mmioAccess(gpa, a.size, true, v)) return this.unclaimed(gpa, true);
    } else {
      if (!this.mmioAccess(gpa, a.size, false, 0)) return this.unclaimed(gpa, false);
      unchecked((regs[a.reg] = loadResult(a, unchecked(regs[a.reg]), this.value)));
    }
    return a.length;
  }

  private unclaimed(gpa: u64, write: bool): i32 {
    this.stopReason = "guest-physical access outside RAM at 0x" + gpa.toString(16) + (write ? " (write)" : " (read)");
    return -1;
  }
}
