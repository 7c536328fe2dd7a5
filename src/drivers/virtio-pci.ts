// The virtio driver transport as the drivers see it, and the device initialization every interface shares
// (virtio 1.2 3.1.1): reset, features, FEATURES_OK, DRIVER_OK. Pure: the PCI registers are in virtio-pci-hw.ts.

import { PciFunction } from "./pci";

export const VIRTIO_VENDOR: u32 = 0x1AF4;

/** Device status bits, virtio 1.2 2.1. */
export const enum Status {
  Acknowledge = 1,
  Driver = 2,
  DriverOk = 4,
  FeaturesOk = 8,
  NeedsReset = 64,
  Failed = 128,
}

/** Feature bits the drivers use (virtio 1.2 5.1.3, 5.3.3, 6). */
export namespace Feature {
  export const NET_MAC: u64 = 1 << 5;
  export const NET_STATUS: u64 = 1 << 16;
  export const CONSOLE_SIZE: u64 = 1 << 0;
  export const CONSOLE_MULTIPORT: u64 = 1 << 1;
  export const EVENT_IDX: u64 = 1 << 29;
  export const VERSION_1: u64 = <u64>1 << 32;
}

/** Device type of a virtio PCI function (virtio 1.2 4.1.2.1), 0 when it is not one. */
export function virtioType(f: PciFunction): u32 {
  if (f.vendor != VIRTIO_VENDOR) return 0;
  if (f.device >= 0x1040 && f.device <= 0x107F) return f.device - 0x1040;
  if (f.device >= 0x1000 && f.device <= 0x103F) return f.subsystemId; // transitional: type in the subsystem id
  return 0;
}

/** Polls of the status register after a reset before the device is given up (a device must read 0, 4.1.4.3.2). */
const RESET_SPINS: i32 = 1_000_000;

/**
 * What the drivers need from a virtio PCI function, whichever interface it
 * offers. Queue memory is given as physical addresses: the device reaches it
 * by DMA.
 */
export abstract class VirtioTransport {
  /** "modern" or "legacy" */
  abstract kind(): string;
  abstract status(): u32;
  abstract setStatus(s: u32): void;
  abstract deviceFeatures(): u64;
  abstract setDriverFeatures(f: u64): void;
  /** Largest queue size the device offers for queue q; 0 when q does not exist. */
  abstract queueMax(q: u32): u32;
  /** Gives queue q its rings (bus addresses of the three parts) and enables it; false when refused. */
  abstract setQueue(q: u32, size: u32, desc: u64, avail: u64, used: u64): bool;
  /** Alignment of the used ring: 4 (modern), 4096 (legacy, which also wants the parts contiguous; virtio 1.2 2.7.2). */
  abstract usedAlign(): u64;
  abstract disableQueue(q: u32): void;
  abstract notify(q: u32): void;
  /** Reading the ISR status also clears it (virtio 1.2 4.1.4.5). */
  abstract isr(): u32;
  abstract config8(off: u32): u32;
  abstract config16(off: u32): u32;
  abstract config32(off: u32): u32;
  abstract configWrite16(off: u32, v: u32): void;
  /** Changes whenever the device config changes (modern); 0 on legacy. */
  abstract configGeneration(): u32;
  /** Legacy queue sizes are fixed by the device; modern may be made smaller. */
  abstract canResizeQueues(): bool;

  /** Writes 0 and waits (bounded) until the device reads back 0 (virtio 1.2 4.1.4.3.2). */
  reset(): bool {
    this.setStatus(0);
    for (let i = 0; i < RESET_SPINS; i++) if (this.status() == 0) return true;
    return false;
  }
}

/**
 * Device initialization up to the queues (virtio 1.2 3.1.1 steps 1-6):
 * reset, ACKNOWLEDGE, DRIVER, features = offered & wanted (plus VERSION_1 on
 * modern, which a modern device requires), FEATURES_OK and its read-back.
 * Returns the accepted features, or -1 with the device marked FAILED.
 */
export function negotiate(t: VirtioTransport, wanted: u64): i64 {
  if (!t.reset()) return -1;
  t.setStatus(Status.Acknowledge);
  t.setStatus(Status.Acknowledge | Status.Driver);
  const offered = t.deviceFeatures();
  const modern = t.kind() == "modern";
  if (modern && (offered & Feature.VERSION_1) == 0) {
    t.setStatus(Status.Failed);
    return -1; // a modern interface without VERSION_1 is not a device this driver knows
  }
  const accepted = offered & (wanted | (modern ? Feature.VERSION_1 : 0)) & (modern ? <u64>0xFFFFFFFFFFFFFFFF : <u64>0xFFFFFFFF);
  t.setDriverFeatures(accepted);
  if (modern) {
    // FEATURES_OK is a modern step only: a legacy device has no such bit (virtio 1.2 3.1.2)
    t.setStatus(Status.Acknowledge | Status.Driver | Status.FeaturesOk);
    if ((t.status() & Status.FeaturesOk) == 0) {
      t.setStatus(Status.Failed);
      return -1;
    }
  }
  return <i64>accepted;
}

/** Step 8: the driver is ready; the device may use the queues from here. */
export function driverOk(t: VirtioTransport): void {
  const s = t.kind() == "modern" ? Status.Acknowledge | Status.Driver | Status.FeaturesOk : Status.Acknowledge | Status.Driver;
  t.setStatus(s | Status.DriverOk);
}

/** Feature names for the boot log. */
export function featureNames(f: u64, net: bool): string {
  let s = "";
  if ((f & Feature.VERSION_1) != 0) s += " VERSION_1";
  if ((f & Feature.EVENT_IDX) != 0) s += " EVENT_IDX";
  if (net) {
    if ((f & Feature.NET_MAC) != 0) s += " MAC";
    if ((f & Feature.NET_STATUS) != 0) s += " STATUS";
  } else {
    if ((f & Feature.CONSOLE_SIZE) != 0) s += " SIZE";
    if ((f & Feature.CONSOLE_MULTIPORT) != 0) s += " MULTIPORT";
  }
  return s.length > 0 ? s.substring(1) : "none";
}
