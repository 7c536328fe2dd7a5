// The virtio-pci registers: modern (virtio 1.2 4.1.4 capabilities in memory BARs) and legacy
// (0.9.5 2.3, I/O BAR0) behind one VirtioTransport, and finding which one a PCI function offers.

import { hex } from "../lib/fmt";
import { MmioRegion, in16, in32, in8u, out16, out32, out8u } from "../hw/mmio";
import { Bar, BarKind, CAP_VENDOR, Command, PciFunction } from "./pci";
import { VirtioTransport } from "./virtio-pci";

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
  setQueue(q: u32, size: u32, desc: u64, avail: u64, used: u64): bool {
    this.common.write16(Common.QueueSelect, q);
    this.common.write16(Common.QueueSize, size);
    this.common.write16(Common.QueueMsixVector, NO_VECTOR);
    this.write64(Common.QueueDesc, desc);
    this.write64(Common.QueueDriver, avail);
    this.write64(Common.QueueDevice, used);
    this.common.write16(Common.QueueEnable, 1);
    return this.common.read16(Common.QueueEnable) == 1;
  }
  usedAlign(): u64 { return 4; }
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
  setQueue(q: u32, size: u32, desc: u64, avail: u64, used: u64): bool {
    // the device fixes the size and finds avail and used from the descriptor table's page number
    // (0.9.5 2.3: contiguous, used on the next 4096 boundary); the page number is 32 bits
    out16(this.port + Legacy.QueueSelect, q);
    const n = <u64>size;
    const usedAt = (desc + 16 * n + 6 + 2 * n + 4095) & ~(<u64>4095);
    if (in16(this.port + Legacy.QueueSize) != size || (desc & 0xFFF) != 0 || (desc >> 44) != 0) return false;
    if (avail != desc + 16 * n || used != usedAt) return false;
    out32(this.port + Legacy.QueuePfn, <u32>(desc >> 12));
    return true;
  }
  usedAlign(): u64 { return 4096; }
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

