// The host's own local APIC, as the monitor uses it (the slice timer, EOIs of interrupts taken on VM exit):
// one place that reads IA32_APIC_BASE and knows xAPIC from x2APIC (SDM vol 3 10.4.4, 10.12.1).

import { rdmsr, wrmsr, phys_store32 } from "../hw/intrinsics";
import { Msr } from "../hw/msr";

const APIC_BASE_EN: u64 = 1 << 11;
const APIC_BASE_EXTD: u64 = 1 << 10;
/** Bits 51:12 of IA32_APIC_BASE: the xAPIC page's physical address. */
const APIC_BASE_ADDR: u64 = 0x000ffffffffff000;
/** EOI: xAPIC register 0xB0, x2APIC MSR 0x80B (SDM vol 3 10.8.5, 10.12.1.2). */
const XAPIC_EOI: u64 = 0xb0;
const X2APIC_EOI: i32 = 0x80b;

/** The xAPIC page's physical address, or 0 when the APIC is off or in x2APIC mode (no MMIO page then). */
export function hostXapicBase(): u64 {
  const base = <u64>rdmsr(<i32>Msr.IA32_APIC_BASE);
  if ((base & APIC_BASE_EN) == 0 || (base & APIC_BASE_EXTD) != 0) return 0;
  return base & APIC_BASE_ADDR;
}

/** Ends the interrupt being serviced, in whichever mode the APIC runs. */
export function hostApicEoi(): void {
  const base = <u64>rdmsr(<i32>Msr.IA32_APIC_BASE);
  if ((base & APIC_BASE_EN) == 0) return;
  // HW: the EOI register of this CPU's own APIC: it touches no guest state
  if ((base & APIC_BASE_EXTD) != 0) wrmsr(X2APIC_EOI, 0);
  else phys_store32(<i64>((base & APIC_BASE_ADDR) + XAPIC_EOI), 0);
}
