// PCI enumeration: functions, BARs (sized safely) and capability lists over any config-space access.
// Pure code: the port access (configuration mechanism 1) is in pci-io.ts, so
// Node tests can enumerate a fake bus with loops and bad pointers in it.

import { hex } from "../lib/fmt";

/** Reads and writes one function's configuration space (PCI 3.0 6.1). `bdf` is bus << 8 | dev << 3 | fn. */
export abstract class PciConfigAccess {
  abstract read32(bdf: u32, off: u32): u32;
  abstract write32(bdf: u32, off: u32, v: u32): void;

  read16(bdf: u32, off: u32): u32 {
    return (this.read32(bdf, off & 0xFC) >> ((off & 2) * 8)) & 0xFFFF;
  }
  read8(bdf: u32, off: u32): u32 {
    return (this.read32(bdf, off & 0xFC) >> ((off & 3) * 8)) & 0xFF;
  }
  /** 16-bit write as a read-modify-write of the dword (mechanism 1 can do both; fakes only dwords). */
  write16(bdf: u32, off: u32, v: u32): void {
    const shift = (off & 2) * 8;
    const old = this.read32(bdf, off & 0xFC);
    this.write32(bdf, off & 0xFC, (old & ~(<u32>0xFFFF << shift)) | ((v & 0xFFFF) << shift));
  }
}

/** Config-space offsets and bits, PCI 3.0 6.2. */
export const enum Cfg {
  VendorId = 0x00,
  DeviceId = 0x02,
  Command = 0x04,
  Status = 0x06,
  Revision = 0x08,
  ClassCode = 0x09,
  HeaderType = 0x0E,
  Bar0 = 0x10,
  SubsystemVendor = 0x2C,
  SubsystemId = 0x2E,
  CapPtr = 0x34,
}

export const enum Command {
  Io = 0x1,
  Memory = 0x2,
  BusMaster = 0x4,
  /** INTx disabled: the monitor polls (PCI 3.0 6.2.2) */
  IntxDisable = 0x400,
}

const STATUS_CAP_LIST: u32 = 0x10;
/** Capabilities live in the device-specific area, dword aligned (PCI 3.0 6.7). */
const CAP_MIN: u32 = 0x40;
/** 192 bytes of room for 4-byte headers at most: a longer walk is a loop. */
const CAP_MAX_WALK: i32 = 48;

export const enum BarKind {
  None = 0,
  Io = 1,
  Mem32 = 2,
  Mem64 = 3,
}

export class Bar {
  kind: BarKind = BarKind.None;
  base: u64 = 0;
  size: u64 = 0;
  prefetchable: bool = false;

  isMemory(): bool {
    return this.kind == BarKind.Mem32 || this.kind == BarKind.Mem64;
  }
  describe(i: i32): string {
    if (this.kind == BarKind.None) return "";
    const k = this.kind == BarKind.Io ? "io" : this.kind == BarKind.Mem32 ? "mem32" : "mem64";
    return "bar" + i.toString() + "=" + k + ":0x" + hex(this.base) + "+0x" + hex(this.size) + (this.prefetchable ? "p" : "");
  }
}

export class Capability {
  constructor(public id: u32, public off: u32) {}
}

export const CAP_VENDOR: u32 = 0x09;

export class PciFunction {
  vendor: u32 = 0;
  device: u32 = 0;
  classCode: u32 = 0; // base << 16 | sub << 8 | prog-if
  revision: u32 = 0;
  headerType: u32 = 0;
  subsystemVendor: u32 = 0;
  subsystemId: u32 = 0;
  bars: Array<Bar> = new Array<Bar>(6);
  caps: Array<Capability> = new Array<Capability>();
  /** Why the capability walk stopped early ("" when it reached the end). */
  capProblem: string = "";
  /** The driver bound to it, for the boot table ("" when none). */
  driver: string = "";

  constructor(public access: PciConfigAccess, public bdf: u32) {
    for (let i = 0; i < 6; i++) this.bars[i] = new Bar();
  }

  get bus(): u32 { return this.bdf >> 8; }
  get dev(): u32 { return (this.bdf >> 3) & 31; }
  get fn(): u32 { return this.bdf & 7; }

  /** `00:03.0`, as lspci writes it. */
  address(): string {
    return hex(<u64>this.bus, 2) + ":" + hex(<u64>this.dev, 2) + "." + this.fn.toString();
  }

  read32(off: u32): u32 { return this.access.read32(this.bdf, off); }
  read16(off: u32): u32 { return this.access.read16(this.bdf, off); }
  read8(off: u32): u32 { return this.access.read8(this.bdf, off); }
  write32(off: u32, v: u32): void { this.access.write32(this.bdf, off, v); }
  write16(off: u32, v: u32): void { this.access.write16(this.bdf, off, v); }

  /** Sets bits in the command register (decode, bus mastering) and clears INTx. */
  enable(bits: u32): void {
    this.write16(Cfg.Command, (this.read16(Cfg.Command) | bits | Command.IntxDisable) & 0xFFFF);
  }

  /** Capabilities with this id, in list order. */
  findCaps(id: u32): Array<Capability> {
    const out = new Array<Capability>();
    for (let i = 0; i < this.caps.length; i++) if (this.caps[i].id == id) out.push(this.caps[i]);
    return out;
  }
}

/** The boot table's short name for a function: virtio devices by type, else the class. */
export function functionName(f: PciFunction): string {
  if (f.vendor == 0x1AF4 && f.device >= 0x1000 && f.device <= 0x107F) {
    // virtio 1.2 4.1.2.1: 0x1040 + type (modern), 0x1000-0x103F transitional with type in the subsystem id
    const type = f.device >= 0x1040 ? f.device - 0x1040 : f.subsystemId;
    if (type == 1) return "virtio-net";
    if (type == 3) return "virtio-console";
    if (type == 2) return "virtio-blk";
    return "virtio-" + type.toString();
  }
  const base = f.classCode >> 16;
  const sub = (f.classCode >> 8) & 0xFF;
  if (base == 0x06 && sub == 0x00) return "host bridge";
  if (base == 0x06 && sub == 0x01) return "isa bridge";
  if (base == 0x06 && sub == 0x04) return "pci bridge";
  if (base == 0x06) return "bridge";
  if (base == 0x01) return "storage";
  if (base == 0x02) return "network";
  if (base == 0x03) return "display";
  if (base == 0x0C && sub == 0x03) return "usb";
  return "class " + hex(<u64>f.classCode, 6);
}

/** One line of the boot table: `00:03.0 1af4:1041 virtio-net bar4=mem64:... caps 09,09,...`. */
export function describeFunction(f: PciFunction): string {
  let s = f.address() + " " + hex(<u64>f.vendor, 4) + ":" + hex(<u64>f.device, 4) + " " + functionName(f);
  for (let i = 0; i < 6; i++) {
    const d = f.bars[i].describe(i);
    if (d.length > 0) s += " " + d;
  }
  if (f.caps.length > 0) {
    s += " caps";
    for (let i = 0; i < f.caps.length; i++) s += (i == 0 ? " " : ",") + hex(<u64>f.caps[i].id, 2);
  }
  if (f.capProblem.length > 0) s += " (capability list: " + f.capProblem + ")";
  if (f.driver.length > 0) s += " -> " + f.driver;
  return s;
}

/**
 * Sizes the BARs of a type-0 (2 for a type-1 bridge) header: PCI 3.0 6.2.5.1.
 * I/O and memory decode are off while all-ones are written, so the device
 * never answers at the probe address, and the command register and each
 * BAR's original value are restored after. Host bridges keep decoding: on
 * some chipsets their memory-enable bit also gates the CPU's path to RAM,
 * which the code doing the sizing runs from.
 */
export function sizeBars(f: PciFunction): void {
  const count = (f.headerType & 0x7F) == 0 ? 6 : (f.headerType & 0x7F) == 1 ? 2 : 0;
  if (count == 0) return;
  const cmd = f.read16(Cfg.Command);
  const hostBridge = (f.classCode >> 8) == 0x0600;
  if (!hostBridge) f.write16(Cfg.Command, cmd & ~(<u32>(Command.Io | Command.Memory)));
  for (let i = 0; i < count; i++) {
    const off = <u32>Cfg.Bar0 + <u32>i * 4;
    const orig = f.read32(off);
    f.write32(off, 0xFFFFFFFF);
    const probe = f.read32(off);
    f.write32(off, orig);
    const bar = f.bars[i];
    if ((orig & 1) != 0) {
      // I/O: bits 31..2 are the address; the upper 16 may read back 0 (PCI 3.0 6.2.5.1)
      const mask = probe & 0xFFFFFFFC;
      if (mask == 0) continue;
      bar.kind = BarKind.Io;
      bar.base = <u64>(orig & 0xFFFFFFFC);
      bar.size = <u64>((~(mask | 0xFFFF0000)) + 1) & 0xFFFF;
      if (bar.size == 0) bar.kind = BarKind.None;
      continue;
    }
    const type = (orig >> 1) & 3;
    bar.prefetchable = (orig & 8) != 0;
    if (type == 2 && i + 1 < count) {
      const offHi = off + 4;
      const origHi = f.read32(offHi);
      f.write32(offHi, 0xFFFFFFFF);
      const probeHi = f.read32(offHi);
      f.write32(offHi, origHi);
      const mask = (<u64>probeHi << 32) | <u64>(probe & 0xFFFFFFF0);
      i++; // the upper half is not a BAR of its own
      if (mask == 0) continue;
      bar.kind = BarKind.Mem64;
      bar.base = (<u64>origHi << 32) | <u64>(orig & 0xFFFFFFF0);
      bar.size = ~mask + 1;
    } else {
      const mask = probe & 0xFFFFFFF0;
      if (mask == 0 || type == 2) continue; // a 64-bit BAR in the last slot is malformed
      bar.kind = BarKind.Mem32;
      bar.base = <u64>(orig & 0xFFFFFFF0);
      bar.size = <u64>(~mask + 1);
    }
  }
  if (!hostBridge) f.write16(Cfg.Command, cmd);
}

/** Walks the capability list (PCI 3.0 6.7) with a bound: a loop, a pointer into the header or a long list ends it. */
export function readCaps(f: PciFunction): void {
  if ((f.read16(Cfg.Status) & STATUS_CAP_LIST) == 0) return;
  let ptr = f.read8(Cfg.CapPtr) & 0xFC;
  for (let n = 0; ptr != 0; n++) {
    if (n >= CAP_MAX_WALK) {
      f.capProblem = "longer than " + CAP_MAX_WALK.toString() + " entries (a loop)";
      return;
    }
    if (ptr < CAP_MIN) {
      f.capProblem = "pointer 0x" + hex(<u64>ptr, 2) + " into the header";
      return;
    }
    for (let i = 0; i < f.caps.length; i++) {
      if (f.caps[i].off == ptr) {
        f.capProblem = "loop at 0x" + hex(<u64>ptr, 2);
        return;
      }
    }
    const hdr = f.read16(ptr);
    f.caps.push(new Capability(hdr & 0xFF, ptr));
    ptr = (hdr >> 8) & 0xFC;
  }
}

/** Reads one function's identity, BARs and capabilities; null when nothing answers there. */
export function probeFunction(access: PciConfigAccess, bdf: u32): PciFunction | null {
  const id = access.read32(bdf, Cfg.VendorId);
  const vendor = id & 0xFFFF;
  if (vendor == 0xFFFF || vendor == 0) return null;
  const f = new PciFunction(access, bdf);
  f.vendor = vendor;
  f.device = id >> 16;
  const cr = f.read32(0x08);
  f.revision = cr & 0xFF;
  f.classCode = cr >> 8;
  f.headerType = f.read8(Cfg.HeaderType);
  if ((f.headerType & 0x7F) == 0) {
    f.subsystemVendor = f.read16(Cfg.SubsystemVendor);
    f.subsystemId = f.read16(Cfg.SubsystemId);
  }
  sizeBars(f);
  readCaps(f);
  return f;
}

/**
 * Every function on buses [0, maxBus], in bus/device/function order: a
 * brute-force scan (8192 vendor reads for 256 buses) finds functions behind
 * bridges without trusting their bus numbers. Functions 1-7 are only probed
 * when function 0 says multi-function (header type bit 7).
 */
export function enumerate(access: PciConfigAccess, maxBus: u32 = 255): Array<PciFunction> {
  const out = new Array<PciFunction>();
  for (let bus: u32 = 0; bus <= maxBus; bus++) {
    for (let dev: u32 = 0; dev < 32; dev++) {
      const f0 = probeFunction(access, (bus << 8) | (dev << 3));
      if (f0 == null) continue;
      out.push(f0);
      if ((f0.headerType & 0x80) == 0) continue;
      for (let fn: u32 = 1; fn < 8; fn++) {
        const f = probeFunction(access, (bus << 8) | (dev << 3) | fn);
        if (f != null) out.push(f);
      }
    }
  }
  return out;
}
