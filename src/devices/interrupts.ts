// The InterruptSink a VM's devices are given: GSIs go to the IOAPIC, MSI/MSI-X writes to the local APIC.

import { InterruptSink } from "./device";
import { Ioapic, IOAPIC_PINS } from "./ioapic";
import { Lapic } from "./lapic";

export class PlatformInterrupts extends InterruptSink {
  /** Counters: GSIs beyond the IOAPIC's pins, and MSIs no APIC accepted. */
  badGsi: u64 = 0;
  lostMsi: u64 = 0;

  constructor(readonly ioapic: Ioapic, readonly lapic: Lapic) {
    super();
    lapic.eoiListener = ioapic.eoiPort;
  }

  setLevel(gsi: u32, high: bool): void {
    if (gsi >= IOAPIC_PINS) {
      this.badGsi++;
      return;
    }
    this.ioapic.setLevel(gsi, high);
  }

  msi(address: u64, data: u32): void {
    if (!this.lapic.acceptMsi(address, data)) this.lostMsi++;
  }
}
