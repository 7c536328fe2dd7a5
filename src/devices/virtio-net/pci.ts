// The virtio-pci modern transport (virtio 1.2 4.1): a PCI function whose memory BAR holds the common, notify, ISR and device configuration structures.

import { InterruptSink } from "../device";
import { PciFunction, BarKind, CAP_ID_VENDOR, MsixResult } from "../pci/index";
import { VirtioDevice, VirtioNotify } from "../../virtio/index";

/** virtio 1.2 4.1.2: vendor 0x1AF4, device 0x1040 + device type, revision 1 for a modern-only device. */
export const VIRTIO_PCI_VENDOR: u32 = 0x1af4;
export const VIRTIO_PCI_DEVICE_BASE: u32 = 0x1040;
// virtio 1.2 4.1.4: cfg_type of the vendor capabilities.
export const VIRTIO_PCI_CAP_COMMON_CFG: u8 = 1;
export const VIRTIO_PCI_CAP_NOTIFY_CFG: u8 = 2;
export const VIRTIO_PCI_CAP_ISR_CFG: u8 = 3;
export const VIRTIO_PCI_CAP_DEVICE_CFG: u8 = 4;
export const VIRTIO_PCI_CAP_PCI_CFG: u8 = 5;
/** virtio 1.2 4.1.5.1.2: no MSI-X vector. */
export const VIRTIO_MSI_NO_VECTOR: u32 = 0xffff;

/** The BAR holding the virtio structures (64-bit memory), and its layout: one 4 KiB page per structure. */
export const VIRTIO_BAR: u32 = 4;
export const VIRTIO_BAR_SIZE: u64 = 0x4000;
export const COMMON_OFF: u32 = 0x0000;
export const COMMON_LEN: u32 = 0x40;
export const ISR_OFF: u32 = 0x1000;
export const DEVICE_OFF: u32 = 0x2000;
export const NOTIFY_OFF: u32 = 0x3000;
/** Each queue's notify address is queue index * 4 into the notify structure (virtio 1.2 4.1.4.4). */
export const NOTIFY_MULTIPLIER: u32 = 4;
/** MSI-X table and PBA in their own 32-bit BAR (as QEMU lays it out). */
export const MSIX_BAR: u32 = 1;
export const MSIX_BAR_SIZE: u64 = 0x1000;
export const MSIX_PBA_OFF: u32 = 0x800;

// Common configuration offsets (virtio 1.2 4.1.4.3, struct virtio_pci_common_cfg).
export const CC_DEVICE_FEATURE_SELECT: u32 = 0x00;
export const CC_DEVICE_FEATURE: u32 = 0x04;
export const CC_DRIVER_FEATURE_SELECT: u32 = 0x08;
export const CC_DRIVER_FEATURE: u32 = 0x0c;
export const CC_CONFIG_MSIX_VECTOR: u32 = 0x10;
export const CC_NUM_QUEUES: u32 = 0x12;
export const CC_DEVICE_STATUS: u32 = 0x14;
export const CC_CONFIG_GENERATION: u32 = 0x15;
export const CC_QUEUE_SELECT: u32 = 0x16;
export const CC_QUEUE_SIZE: u32 = 0x18;
export const CC_QUEUE_MSIX_VECTOR: u32 = 0x1a;
export const CC_QUEUE_ENABLE: u32 = 0x1c;
export const CC_QUEUE_NOTIFY_OFF: u32 = 0x1e;
export const CC_QUEUE_DESC: u32 = 0x20;
export const CC_QUEUE_DRIVER: u32 = 0x28;
export const CC_QUEUE_DEVICE: u32 = 0x30;

/** How the transport raises a device's interrupts: MSI-X vectors when enabled, else the ISR bits and INTx. */
class PciNotify extends VirtioNotify {
  constructor(private t: VirtioPci) {
    super();
  }
  queue(q: u32): void {
    this.t.signal(this.t.queueVector(q), 1);
  }
  config(): void {
    this.t.signal(this.t.configVector, 2);
  }
}

/**
 * A virtio device behind the modern PCI transport. Queues' sizes, vectors and ring addresses are kept
 * here until the driver writes queue_enable, which hands them to the device model (it validates them).
 * Every register access is bounded: unknown offsets read 0, writes of the wrong width are ignored
 * (virtio 1.2 4.1.3.1: the driver uses each field's natural width, 64-bit fields as two 32-bit halves).
 */
export class VirtioPci extends PciFunction {
  readonly dev: VirtioDevice;
  private featureSelect: u32 = 0;
  private driverFeatureSelect: u32 = 0;
  configVector: u32 = VIRTIO_MSI_NO_VECTOR;
  private queueSelect: u32 = 0;
  private qSize: StaticArray<u16>;
  private qVector: StaticArray<u16>;
  private qEnabled: StaticArray<bool>;
  private qDesc: StaticArray<u64>;
  private qDriver: StaticArray<u64>;
  private qDevice: StaticArray<u64>;
  /** ISR status (virtio 1.2 4.1.4.5): bit 0 queue interrupt, bit 1 configuration change; cleared by reading. */
  isr: u32 = 0;
  /** Offset of the VIRTIO_PCI_CAP_PCI_CFG capability (the configuration-space window into the BARs). */
  private pciCfgCap: u32 = 0;
  /** Counters: interrupts by MSI-X (sent or left pending) and by INTx. */
  msixSignals: u64 = 0;
  intxSignals: u64 = 0;

  constructor(dev: VirtioDevice, classCode: u32, sink: InterruptSink, intxGsi: i32 = -1) {
    super(VIRTIO_PCI_VENDOR, VIRTIO_PCI_DEVICE_BASE + dev.deviceId, classCode, 1, sink);
    this.dev = dev;
    const n = <i32>dev.numQueues();
    this.qSize = new StaticArray<u16>(n);
    this.qVector = new StaticArray<u16>(n);
    this.qEnabled = new StaticArray<bool>(n);
    this.qDesc = new StaticArray<u64>(n);
    this.qDriver = new StaticArray<u64>(n);
    this.qDevice = new StaticArray<u64>(n);
    this.resetQueues();
    this.setSubsystem(VIRTIO_PCI_VENDOR, 0x1100);
    this.setBar(MSIX_BAR, BarKind.Mem32, MSIX_BAR_SIZE);
    this.setBar(VIRTIO_BAR, BarKind.Mem64, VIRTIO_BAR_SIZE, true);
    // Vectors: one for configuration changes, one per queue.
    this.enableMsix(dev.numQueues() + 1, MSIX_BAR, 0, MSIX_PBA_OFF);
    this.addVirtioCap(VIRTIO_PCI_CAP_COMMON_CFG, COMMON_OFF, COMMON_LEN, false);
    this.addVirtioCap(VIRTIO_PCI_CAP_NOTIFY_CFG, NOTIFY_OFF, dev.numQueues() * NOTIFY_MULTIPLIER, true);
    this.addVirtioCap(VIRTIO_PCI_CAP_ISR_CFG, ISR_OFF, 1, false);
    this.addVirtioCap(VIRTIO_PCI_CAP_DEVICE_CFG, DEVICE_OFF, dev.configSize(), false);
    // virtio 1.2 4.1.4.9: at least one PCI configuration access capability; bar, offset, length and data writable.
    const at = this.addVirtioCap(VIRTIO_PCI_CAP_PCI_CFG, 0, 0, false, true);
    if (at > 0) {
      this.pciCfgCap = <u32>at;
      this.setWriteMask(<u32>at + 4, 1, 0xff); // bar
      this.setWriteMask(<u32>at + 8, 4, 0xffffffff); // offset
      this.setWriteMask(<u32>at + 12, 4, 0xffffffff); // length
      this.setWriteMask(<u32>at + 16, 4, 0xffffffff); // pci_cfg_data
    }
    if (intxGsi >= 0) this.setIntx(1, intxGsi);
    dev.notify = new PciNotify(this);
  }

  /** struct virtio_pci_cap (virtio 1.2 4.1.4): cap_len, cfg_type, bar, id, padding, offset, length (+ multiplier / data). */
  private addVirtioCap(type: u8, offset: u32, length: u32, notify: bool, pciCfg: bool = false): i32 {
    const len = notify || pciCfg ? 20 : 16;
    const body = new StaticArray<u8>(len - 2);
    body[0] = <u8>len;
    body[1] = type;
    body[2] = pciCfg ? 0 : <u8>VIRTIO_BAR;
    for (let i = 0; i < 4; i++) {
      body[6 + i] = <u8>(offset >> (8 * i));
      body[10 + i] = <u8>(length >> (8 * i));
      if (notify) body[14 + i] = <u8>(NOTIFY_MULTIPLIER >> (8 * i));
    }
    return this.addCapability(CAP_ID_VENDOR, body);
  }

  private resetQueues(): void {
    for (let i = 0; i < this.qSize.length; i++) {
      unchecked((this.qSize[i] = <u16>this.dev.queues[i].maxSize));
      unchecked((this.qVector[i] = <u16>VIRTIO_MSI_NO_VECTOR));
      unchecked((this.qEnabled[i] = false));
      unchecked((this.qDesc[i] = 0));
      unchecked((this.qDriver[i] = 0));
      unchecked((this.qDevice[i] = 0));
    }
    this.featureSelect = 0;
    this.driverFeatureSelect = 0;
    this.queueSelect = 0;
    this.configVector = VIRTIO_MSI_NO_VECTOR;
    this.isr = 0;
  }

  queueVector(q: u32): u32 {
    return q < <u32>this.qVector.length ? <u32>unchecked(this.qVector[q]) : VIRTIO_MSI_NO_VECTOR;
  }

  /** Raises an interrupt: MSI-X vector `v` when MSI-X is on (none if NO_VECTOR, 4.1.5.1.2), else ISR bit and INTx. */
  signal(v: u32, isrBit: u32): void {
    if (this.msixEnabled()) {
      if (v == VIRTIO_MSI_NO_VECTOR) return;
      if (this.msixSend(v) != MsixResult.NotSent) this.msixSignals++;
      return;
    }
    this.isr |= isrBit;
    this.intxSignals++;
    this.setIntxLevel(true);
  }

  // ---- the BAR ----

  barRead(bar: u32, offset: u64, size: u32): u64 {
    if (bar != VIRTIO_BAR) return 0;
    const o = <u32>offset;
    if (offset < <u64>COMMON_LEN) return this.commonRead(o, size);
    if (offset == <u64>ISR_OFF) {
      // Reading clears the bits and lowers INTx (virtio 1.2 4.1.4.5.1).
      const v = this.isr;
      this.isr = 0;
      this.setIntxLevel(false);
      return v;
    }
    if (offset >= <u64>DEVICE_OFF && offset < <u64>(DEVICE_OFF + this.dev.configSize())) {
      return this.dev.readConfig(o - DEVICE_OFF, size > 4 ? 4 : size);
    }
    return 0;
  }

  barWrite(bar: u32, offset: u64, size: u32, value: u64): void {
    if (bar != VIRTIO_BAR) return;
    const o = <u32>offset;
    if (offset < <u64>COMMON_LEN) this.commonWrite(o, size, value);
    else if (offset >= <u64>NOTIFY_OFF && offset < <u64>(NOTIFY_OFF + this.dev.numQueues() * NOTIFY_MULTIPLIER)) {
      // virtio 1.2 4.1.5.2: the queue is the one whose notify address was written (no NOTIFICATION_DATA).
      this.dev.kick((o - NOTIFY_OFF) / NOTIFY_MULTIPLIER);
    } else if (offset >= <u64>DEVICE_OFF && offset < <u64>(DEVICE_OFF + this.dev.configSize())) {
      this.dev.writeConfig(o - DEVICE_OFF, size > 4 ? 4 : size, <u32>value);
    }
  }

  private selected(): i32 {
    return this.queueSelect < this.dev.numQueues() ? <i32>this.queueSelect : -1;
  }

  /** The common configuration structure, read byte by byte from its fields (any width the driver uses). */
  private commonRead(o: u32, size: u32): u64 {
    let v: u64 = 0;
    const n: u32 = size > 8 ? 8 : size;
    for (let i: u32 = 0; i < n; i++) v |= <u64>this.commonByte(o + i) << (8 * i);
    return v;
  }

  private commonByte(o: u32): u32 {
    let field: u64 = 0;
    let base: u32 = 0;
    const q = this.selected();
    if (o < 0x04) {
      base = 0; field = this.featureSelect;
    } else if (o < 0x08) {
      base = 0x04;
      field = this.featureSelect < 2 ? (this.dev.deviceFeatures >> (32 * <u64>this.featureSelect)) & 0xffffffff : 0;
    } else if (o < 0x0c) {
      base = 0x08; field = this.driverFeatureSelect;
    } else if (o < 0x10) {
      base = 0x0c;
      field = this.driverFeatureSelect < 2 ? (this.dev.driverFeatures >> (32 * <u64>this.driverFeatureSelect)) & 0xffffffff : 0;
    } else if (o < 0x12) {
      base = 0x10; field = this.configVector;
    } else if (o < 0x14) {
      base = 0x12; field = this.dev.numQueues();
    } else if (o == 0x14) {
      return this.dev.status & 0xff;
    } else if (o == 0x15) {
      return this.dev.configGeneration & 0xff;
    } else if (o < 0x18) {
      base = 0x16; field = this.queueSelect;
    } else if (o < 0x20) {
      // queue_size, queue_msix_vector, queue_enable, queue_notify_off: 0 for a queue that does not exist (4.1.4.3.2).
      if (q < 0) return 0;
      base = o & ~1;
      if (base == 0x18) field = unchecked(this.qSize[q]);
      else if (base == 0x1a) field = unchecked(this.qVector[q]);
      else if (base == 0x1c) field = unchecked(this.qEnabled[q]) ? 1 : 0;
      else field = <u64>q; // queue_notify_off: the queue index, times the multiplier
    } else if (o < 0x38) {
      if (q < 0) return 0;
      base = o & ~7;
      if (base == 0x20) field = unchecked(this.qDesc[q]);
      else if (base == 0x28) field = unchecked(this.qDriver[q]);
      else field = unchecked(this.qDevice[q]);
    } else {
      return 0;
    }
    return <u32>((field >> (8 * <u64>(o - base))) & 0xff);
  }

  private commonWrite(o: u32, size: u32, v64: u64): void {
    const q = this.selected();
    const v = <u32>v64;
    switch (o) {
      case CC_DEVICE_FEATURE_SELECT:
        if (size == 4) this.featureSelect = v;
        return;
      case CC_DRIVER_FEATURE_SELECT:
        if (size == 4) this.driverFeatureSelect = v;
        return;
      case CC_DRIVER_FEATURE:
        if (size == 4) this.dev.writeDriverFeatures(this.driverFeatureSelect, v);
        return;
      case CC_CONFIG_MSIX_VECTOR:
        if (size == 2) this.configVector = this.mapVector(v & 0xffff);
        return;
      case CC_DEVICE_STATUS:
        if (size != 1) return;
        this.dev.writeStatus(v & 0xff);
        if ((v & 0xff) == 0) {
          // Reset (virtio 1.2 4.1.4.3.1): the transport's queue registers too; INTx lowered.
          this.resetQueues();
          this.setIntxLevel(false);
        }
        return;
      case CC_QUEUE_SELECT:
        if (size == 2) this.queueSelect = v & 0xffff;
        return;
      case CC_QUEUE_SIZE:
        // A power of 2 up to the maximum is checked when the queue is enabled.
        if (size == 2 && q >= 0 && !unchecked(this.qEnabled[q])) unchecked((this.qSize[q] = <u16>v));
        return;
      case CC_QUEUE_MSIX_VECTOR:
        if (size == 2 && q >= 0) unchecked((this.qVector[q] = <u16>this.mapVector(v & 0xffff)));
        return;
      case CC_QUEUE_ENABLE:
        // Only 1 may be written (virtio 1.2 4.1.4.3.2); the device model checks the ring.
        if (size == 2 && q >= 0 && (v & 0xffff) == 1 && !unchecked(this.qEnabled[q])) {
          unchecked((this.qEnabled[q] = true));
          this.dev.enableQueue(<u32>q, <u32>unchecked(this.qSize[q]), unchecked(this.qDesc[q]), unchecked(this.qDriver[q]), unchecked(this.qDevice[q]));
        }
        return;
    }
    if (o >= CC_QUEUE_DESC && o < CC_QUEUE_DEVICE + 8 && q >= 0 && !unchecked(this.qEnabled[q])) {
      const base = o & ~7;
      const hi = (o & 4) != 0;
      if ((o & 3) != 0 || (size != 4 && !(size == 8 && !hi))) return;
      let cur: u64 = base == CC_QUEUE_DESC ? unchecked(this.qDesc[q]) : base == CC_QUEUE_DRIVER ? unchecked(this.qDriver[q]) : unchecked(this.qDevice[q]);
      if (size == 8) cur = v64; // one 64-bit write (Linux uses two 32-bit halves)
      else if (hi) cur = (cur & 0xffffffff) | (<u64>v << 32);
      else cur = (cur & 0xffffffff00000000) | <u64>v;
      if (base == CC_QUEUE_DESC) unchecked((this.qDesc[q] = cur));
      else if (base == CC_QUEUE_DRIVER) unchecked((this.qDriver[q] = cur));
      else unchecked((this.qDevice[q] = cur));
    }
  }

  /** A vector the device can use, or NO_VECTOR when it is beyond the MSI-X table (virtio 1.2 4.1.5.1.2). */
  private mapVector(v: u32): u32 {
    const m = this.msix;
    return m != null && v < m.vectors ? v : VIRTIO_MSI_NO_VECTOR;
  }

  // ---- VIRTIO_PCI_CAP_PCI_CFG: BAR access through configuration space (virtio 1.2 4.1.4.9) ----

  onConfigRead(offset: u32, size: u32, value: u32): u32 {
    const c = this.pciCfgCap;
    if (c != 0 && offset == c + 16 && size == 4) {
      const len = this.get32(c + 12);
      if (this.get8(c + 4) == VIRTIO_BAR && (len == 1 || len == 2 || len == 4)) {
        return <u32>this.readBar(VIRTIO_BAR, <u64>this.get32(c + 8), len);
      }
    }
    return value;
  }

  onConfigWrite(offset: u32, size: u32, value: u32): void {
    const c = this.pciCfgCap;
    if (c != 0 && offset == c + 16 && size == 4) {
      const len = this.get32(c + 12);
      if (this.get8(c + 4) == VIRTIO_BAR && (len == 1 || len == 2 || len == 4)) {
        const mask: u32 = len == 4 ? 0xffffffff : (<u32>1 << (8 * len)) - 1;
        this.writeBar(VIRTIO_BAR, <u64>this.get32(c + 8), len, <u64>(value & mask));
      }
    }
  }
}
