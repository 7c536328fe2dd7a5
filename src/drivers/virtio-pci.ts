// The virtio-pci driver transport: modern (virtio 1.2 4.1.4 capabilities) and legacy (0.9.5 I/O BAR),
// and the device initialization both share (virtio 1.2 3.1.1): reset, features, queues, DRIVER_OK.

import { hex } from "../lib/fmt";
import { MmioRegion, in16, in32, in8u, out16, out32, out8u } from "../hw/mmio";
import { Bar, BarKind, CAP_VENDOR, Command, PciFunction } from "./pci";

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

/** Legacy rings: the used ring starts on a 4096-byte boundary (virtio 1.2 2.7.2, 0.9.5 2.3). */
export const LEGACY_ALIGN: u64 = 4096;

/** Byte offsets of the three ring parts for `size` entries in one contiguous block (the legacy layout, which modern accepts too). */
export class RingLayout {
  desc: u64 = 0;
  avail: u64 = 0;
  used: u64 = 0;
  bytes: u64 = 0;
  constructor(public size: u32) {
    const n = <u64>size;
    this.desc = 0;
    this.avail = 16 * n; // virtio 1.2 2.7.5: 16 bytes a descriptor
    const availEnd = this.avail + 6 + 2 * n; // flags, idx, ring[n], used_event
    this.used = (availEnd + LEGACY_ALIGN - 1) & ~(LEGACY_ALIGN - 1);
    this.bytes = this.used + 6 + 8 * n; // flags, idx, ring[n] of {id, len}, avail_event
  }
}

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
  /** Gives queue q its rings ([pa, pa + RingLayout(size).bytes)) and enables it. */
  abstract setQueue(q: u32, size: u32, pa: u64): bool;
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

// ---- modern: virtio 1.2 4.1.4

/** virtio_pci_cap cfg_type (virtio 1.2 4.1.4). */
const enum CapType {
  Common = 1,
  Notify = 2,
  Isr = 3,
  Device = 4,
}

/** struct virtio_pci_common_cfg offsets (virtio 1.2 4.1.4.3). */
const enum Common {
  DeviceFeatureSelect = 0,
  DeviceFeature = 4,
  DriverFeatureSelect = 8,
  DriverFeature = 12,
  NumQueues = 18,
  DeviceStatus = 20,
  ConfigGeneration = 21,
  QueueSelect = 22,
  QueueSize = 24,
  QueueMsixVector = 26,
  QueueEnable = 28,
  QueueNotifyOff = 30,
  QueueDesc = 32,
  QueueDriver = 40,
  QueueDevice = 48,
}

/** MSI-X "no vector": the monitor polls (virtio 1.2 4.1.5.1.2). */
const NO_VECTOR: u32 = 0xFFFF;

export class ModernTransport extends VirtioTransport {
  notifyMultiplier: u32 = 0;
  constructor(public common: MmioRegion, public notifyRegion: MmioRegion, public isrRegion: MmioRegion, public device: MmioRegion | null) {
    super();
  }
  kind(): string { return "modern"; }
  status(): u32 { return this.common.read8(Common.DeviceStatus); }
  setStatus(s: u32): void { this.common.write8(Common.DeviceStatus, s); }
  deviceFeatures(): u64 {
    this.common.write32(Common.DeviceFeatureSelect, 0);
    const lo = this.common.read32(Common.DeviceFeature);
    this.common.write32(Common.DeviceFeatureSelect, 1);
    const hi = this.common.read32(Common.DeviceFeature);
    return (<u64>hi << 32) | <u64>lo;
  }
  setDriverFeatures(f: u64): void {
    this.common.write32(Common.DriverFeatureSelect, 0);
    this.common.write32(Common.DriverFeature, <u32>f);
    this.common.write32(Common.DriverFeatureSelect, 1);
    this.common.write32(Common.DriverFeature, <u32>(f >> 32));
  }
  queueMax(q: u32): u32 {
    if (q >= this.common.read16(Common.NumQueues)) return 0;
    this.common.write16(Common.QueueSelect, q);
    return this.common.read16(Common.QueueSize);
  }
  setQueue(q: u32, size: u32, pa: u64): bool {
    const l = new RingLayout(size);
    this.common.write16(Common.QueueSelect, q);
    this.common.write16(Common.QueueSize, size);
    this.common.write16(Common.QueueMsixVector, NO_VECTOR);
    this.write64(Common.QueueDesc, pa + l.desc);
    this.write64(Common.QueueDriver, pa + l.avail);
    this.write64(Common.QueueDevice, pa + l.used);
    this.common.write16(Common.QueueEnable, 1);
    return this.common.read16(Common.QueueEnable) == 1;
  }
  disableQueue(q: u32): void {
    // queues go away with the reset (a 1.2 driver may not write 0 to queue_enable, 4.1.4.3.2)
  }
  notify(q: u32): void {
    this.common.write16(Common.QueueSelect, q);
    const off = <u64>this.common.read16(Common.QueueNotifyOff) * <u64>this.notifyMultiplier;
    this.notifyRegion.write16(off, q); // virtio 1.2 4.1.4.4: the queue index, without NOTIFICATION_DATA
  }
  isr(): u32 { return this.isrRegion.read8(0); }
  config8(off: u32): u32 { const d = this.device; return d != null ? d.read8(off) : 0; }
  config16(off: u32): u32 { const d = this.device; return d != null ? d.read16(off) : 0; }
  config32(off: u32): u32 { const d = this.device; return d != null ? d.read32(off) : 0; }
  configWrite16(off: u32, v: u32): void { const d = this.device; if (d != null) d.write16(off, v); }
  configGeneration(): u32 { return this.common.read8(Common.ConfigGeneration); }
  canResizeQueues(): bool { return true; }

  private write64(off: u64, v: u64): void {
    // two 32-bit writes, low first: 64-bit fields may be written that way (virtio 1.2 4.1.3.1)
    this.common.write32(off, <u32>v);
    this.common.write32(off + 4, <u32>(v >> 32));
  }
}

// ---- legacy: virtio 0.9.5 2.3 / virtio 1.2 4.1.4.10, registers in I/O BAR0

const enum Legacy {
  HostFeatures = 0,
  GuestFeatures = 4,
  QueuePfn = 8,
  QueueSize = 12,
  QueueSelect = 14,
  QueueNotify = 16,
  Status = 18,
  Isr = 19,
  /** device config without MSI-X (0.9.5 2.3.1) */
  Config = 20,
}

export class LegacyTransport extends VirtioTransport {
  constructor(public port: u32, public length: u32) {
    super();
  }
  kind(): string { return "legacy"; }
  status(): u32 { return in8u(this.port + Legacy.Status); }
  setStatus(s: u32): void { out8u(this.port + Legacy.Status, s); }
  deviceFeatures(): u64 { return <u64>in32(this.port + Legacy.HostFeatures); } // 32 bits only
  setDriverFeatures(f: u64): void { out32(this.port + Legacy.GuestFeatures, <u32>f); }
  queueMax(q: u32): u32 {
    out16(this.port + Legacy.QueueSelect, q);
    return in16(this.port + Legacy.QueueSize);
  }
  setQueue(q: u32, size: u32, pa: u64): bool {
    // the device fixes the size and reads the rings at pa in the legacy layout; pa must be page aligned and below 2^44
    out16(this.port + Legacy.QueueSelect, q);
    if (in16(this.port + Legacy.QueueSize) != size || (pa & 0xFFF) != 0 || (pa >> 44) != 0) return false;
    out32(this.port + Legacy.QueuePfn, <u32>(pa >> 12));
    return true;
  }
  disableQueue(q: u32): void {
    out16(this.port + Legacy.QueueSelect, q);
    out32(this.port + Legacy.QueuePfn, 0);
  }
  notify(q: u32): void { out16(this.port + Legacy.QueueNotify, q); }
  isr(): u32 { return in8u(this.port + Legacy.Isr); }
  config8(off: u32): u32 { return this.inRange(off, 1) ? in8u(this.port + Legacy.Config + off) : 0; }
  config16(off: u32): u32 { return this.inRange(off, 2) ? in16(this.port + Legacy.Config + off) : 0; }
  config32(off: u32): u32 { return this.inRange(off, 4) ? in32(this.port + Legacy.Config + off) : 0; }
  configWrite16(off: u32, v: u32): void { if (this.inRange(off, 2)) out16(this.port + Legacy.Config + off, v); }
  configGeneration(): u32 { return 0; }
  canResizeQueues(): bool { return false; }

  private inRange(off: u32, w: u32): bool {
    return <u32>Legacy.Config + off + w <= this.length;
  }
}

// ---- finding the interface of a function

/** Why the last openTransport failed, for the boot log. */
export let transportProblem: string = "";

/** Maps the part of a capability's BAR it points at; null (with transportProblem) when it is not a memory BAR or is outside it. */
function mapCap(f: PciFunction, capOff: u32, what: string): MmioRegion | null {
  const barIndex = f.read8(capOff + 4);
  const off = <u64>f.read32(capOff + 8);
  const len = <u64>f.read32(capOff + 12);
  if (barIndex > 5) {
    transportProblem = what + " capability names BAR " + barIndex.toString();
    return null;
  }
  const bar: Bar = f.bars[barIndex];
  if (!bar.isMemory() || bar.base == 0 || len == 0 || off + len > bar.size) {
    transportProblem = what + " capability outside BAR " + barIndex.toString() + " (0x" + hex(off) + "+0x" + hex(len) + ")";
    return null;
  }
  const r = MmioRegion.map(bar.base + off, len);
  if (r == null) transportProblem = "MMIO window full mapping the " + what + " capability";
  return r;
}

/**
 * The modern interface when the function has the virtio capabilities
 * (virtio 1.2 4.1.4: the first of each type the driver can use), else the
 * legacy I/O BAR0 of a transitional or legacy-only device; null when
 * neither works. Enables decode and bus mastering (the rings are DMA).
 */
export function openTransport(f: PciFunction): VirtioTransport | null {
  transportProblem = "";
  let common: MmioRegion | null = null;
  let notify: MmioRegion | null = null;
  let isr: MmioRegion | null = null;
  let device: MmioRegion | null = null;
  let multiplier: u32 = 0;
  const vendorCaps = f.findCaps(CAP_VENDOR);
  let modern = false;
  for (let i = 0; i < vendorCaps.length; i++) {
    const off = vendorCaps[i].off;
    const type = f.read8(off + 3);
    if (type == CapType.Common && common == null) { modern = true; common = mapCap(f, off, "common"); }
    else if (type == CapType.Notify && notify == null) {
      notify = mapCap(f, off, "notify");
      multiplier = f.read32(off + 16);
    } else if (type == CapType.Isr && isr == null) isr = mapCap(f, off, "ISR");
    else if (type == CapType.Device && device == null) device = mapCap(f, off, "device");
  }
  if (modern && common != null && notify != null && isr != null) {
    f.enable(Command.Memory | Command.BusMaster);
    const t = new ModernTransport(common, notify, isr, device);
    t.notifyMultiplier = multiplier;
    return t;
  }
  const bar0 = f.bars[0];
  if (bar0.kind == BarKind.Io && bar0.base != 0 && bar0.size >= 20 && f.device < 0x1040) {
    f.enable(Command.Io | Command.BusMaster);
    transportProblem = "";
    return new LegacyTransport(<u32>bar0.base, <u32>bar0.size);
  }
  if (transportProblem.length == 0) transportProblem = modern ? "incomplete virtio capabilities" : "no virtio capabilities and no legacy I/O BAR";
  return null;
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
