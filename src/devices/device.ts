// What every guest device model is given and implements: a register window on
// a bus, an interrupt sink and a clock. Devices never import src/hw, vmx/ or svm/.

/** A device's registers on the port-I/O or MMIO bus (offsets from the region's base). */
export abstract class BusDevice {
  /** Reads `size` (1, 2, 4 or 8) bytes at `offset`; unimplemented registers read 0. */
  abstract read(offset: u64, size: u32): u64;
  /** Writes `size` bytes at `offset`; writes to unimplemented registers are ignored. */
  abstract write(offset: u64, size: u32, value: u64): void;
}

/**
 * Where devices send interrupts: the VM's interrupt controllers. GSIs are
 * IOAPIC inputs (edge devices pulse them); MSI/MSI-X messages carry the
 * address/data the guest programmed (SDM vol 3 10.11).
 */
export abstract class InterruptSink {
  abstract setLevel(gsi: u32, high: bool): void;
  abstract msi(address: u64, data: u32): void;
}

/** The guest's time base: its TSC and the TSC's frequency (integer only). */
export abstract class Clock {
  /** Guest TSC now. */
  abstract now(): u64;
  /** Guest TSC ticks per second. */
  abstract hz(): u64;
}
