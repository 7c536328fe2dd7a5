// The PCI host bridge of a VM: configuration mechanism 1 (ports 0xCF8/0xCFC, bus 0) and the routing of guest accesses to programmed BARs.

import { PciFunction, PCI_BAR_COUNT } from "./function";
import { BarKind, PCI_HEADER_TYPE } from "./regs";

export const PCI_CONFIG_ADDRESS: u32 = 0xcf8;
export const PCI_CONFIG_DATA: u32 = 0xcfc;
/** Devices on bus 0 and functions per device (PCI 3.0 3.2.2.3.2). */
export const PCI_DEVICES: u32 = 32;
export const PCI_FUNCTIONS: u32 = 8;

/**
 * The GSI INTx pin `pin` (1 = INTA# ... 4 = INTD#) of device `dev` on bus 0
 * drives: spread over IOAPIC inputs 16-23 like a PC's swizzle. The DSDT's
 * _PRT (acpi.ts) and the VMM's `setIntx` both use it, so they agree.
 */
export function pciIntxGsi(dev: u32, pin: u32): u32 {
  return 16 + ((dev + pin - 1) & 7);
}

/** Mask of `size` bytes (1, 2, 4 or 8). */
function ones(size: u32): u64 {
  return size >= 8 ? 0xffffffffffffffff : (<u64>1 << (8 * size)) - 1;
}

/**
 * Bus 0 with up to 32 devices of 8 functions. The VMM hands it every port
 * access to 0xCF8-0xCFF and every port/MMIO access no other device took;
 * `io`/`mmio` return true when the access was claimed, and a claimed read
 * leaves its result in `value`.
 */
export class PciHost {
  private readonly slots: StaticArray<PciFunction | null> = new StaticArray<PciFunction | null>(<i32>(PCI_DEVICES * PCI_FUNCTIONS));
  /** CONFIG_ADDRESS as last written (enable bit 31, bus 23:16, device 15:11, function 10:8, register 7:2). */
  private address: u32 = 0;
  /** The result of the last claimed read. */
  value: u64 = 0;

  // Decode windows of the programmed, enabled BARs, rebuilt after any configuration write.
  private dirty: bool = true;
  private winBase: u64[] = [];
  private winEnd: u64[] = [];
  private winSlot: i32[] = [];
  private winBar: u8[] = [];
  private winIo: bool[] = [];
  private winCount: i32 = 0;

  /** Counters: configuration reads that hit no function (all ones), and BAR accesses routed. */
  absentReads: u64 = 0;
  barAccesses: u64 = 0;

  /** Places `f` at 00:dev.fn; false when the slot is taken or out of range. */
  attach(dev: u32, fn: u32, f: PciFunction): bool {
    if (dev >= PCI_DEVICES || fn >= PCI_FUNCTIONS) return false;
    const i = <i32>(dev * PCI_FUNCTIONS + fn);
    if (unchecked(this.slots[i]) != null) return false;
    unchecked((this.slots[i] = f));
    this.dirty = true;
    return true;
  }

  lookup(dev: u32, fn: u32): PciFunction | null {
    if (dev >= PCI_DEVICES || fn >= PCI_FUNCTIONS) return null;
    return unchecked(this.slots[<i32>(dev * PCI_FUNCTIONS + fn)]);
  }

  /** A port access of `size` bytes. Claims 0xCF8-0xCFF and the ports of enabled I/O BARs. */
  io(port: u32, size: u32, write: bool, value: u32): bool {
    if (size != 1 && size != 2 && size != 4) return false;
    if (port >= PCI_CONFIG_ADDRESS && port + size <= PCI_CONFIG_DATA + 4) {
      this.config(port, size, write, value);
      return true;
    }
    return this.route(<u64>port, size, write, <u64>value, true);
  }

  /** A guest-physical access of `size` bytes outside RAM. Claims it when it lies inside an enabled memory BAR. */
  mmio(gpa: u64, size: u32, write: bool, value: u64): bool {
    if (size != 1 && size != 2 && size != 4 && size != 8) return false;
    return this.route(gpa, size, write, value, false);
  }

  /** Configuration read of a function by address (for the VMM and tests); all ones when absent. */
  configRead(dev: u32, fn: u32, offset: u32, size: u32): u32 {
    const f = this.lookup(dev, fn);
    if (f == null) {
      this.absentReads++;
      return <u32>ones(size);
    }
    let v = f.configRead(offset & 0xff, size);
    // Header type bit 7 says "multi-function" on function 0 when others exist (PCI 3.0 6.2.1).
    if (fn == 0 && offset <= PCI_HEADER_TYPE && offset + size > PCI_HEADER_TYPE && this.multiFunction(dev)) {
      v |= 0x80 << (8 * (PCI_HEADER_TYPE - offset));
    }
    return v;
  }

  configWrite(dev: u32, fn: u32, offset: u32, size: u32, value: u32): void {
    const f = this.lookup(dev, fn);
    if (f == null) return;
    f.configWrite(offset & 0xff, size, value);
    this.dirty = true;
  }

  private multiFunction(dev: u32): bool {
    for (let fn: u32 = 1; fn < PCI_FUNCTIONS; fn++) if (this.lookup(dev, fn) != null) return true;
    return false;
  }

  /**
   * Mechanism 1 (PCI 3.0 3.2.2.3.2): only a dword access to 0xCF8 is
   * CONFIG_ADDRESS; byte and word accesses there read 0 and are ignored
   * (Linux's probe writes a byte to 0xCFB). Data at 0xCFC+n reaches
   * register (address & 0xFC) + n. With the enable bit clear, or a bus
   * other than 0, reads are all ones and writes are dropped.
   */
  private config(port: u32, size: u32, write: bool, value: u32): void {
    if (port < PCI_CONFIG_DATA) {
      if (port == PCI_CONFIG_ADDRESS && size == 4) {
        if (write) this.address = value & 0x80fffffc; // bits 30:24 reserved, 1:0 read as 0
        else this.value = <u64>this.address;
      } else if (!write) {
        this.value = 0;
      }
      return;
    }
    const a = this.address;
    const enabled = (a & 0x80000000) != 0 && ((a >> 16) & 0xff) == 0;
    const dev = (a >> 11) & 31;
    const fn = (a >> 8) & 7;
    const offset = (a & 0xfc) + (port - PCI_CONFIG_DATA);
    if (write) {
      if (enabled) this.configWrite(dev, fn, offset, size, value);
      return;
    }
    if (!enabled) {
      this.absentReads++;
      this.value = ones(size);
      return;
    }
    this.value = <u64>this.configRead(dev, fn, offset, size);
  }

  private route(addr: u64, size: u32, write: bool, value: u64, io: bool): bool {
    if (this.dirty) this.rebuild();
    for (let i = 0; i < this.winCount; i++) {
      if (unchecked(this.winIo[i]) != io) continue;
      const base = unchecked(this.winBase[i]);
      const end = unchecked(this.winEnd[i]);
      // Inside [base, end) entirely; written so that no sum can overflow.
      if (addr < base || addr >= end || <u64>size > end - addr) continue;
      const f = unchecked(this.slots[unchecked(this.winSlot[i])]);
      if (f == null) continue;
      const bar = <u32>unchecked(this.winBar[i]);
      this.barAccesses++;
      if (write) f.writeBar(bar, addr - base, size, value & ones(size));
      else this.value = f.readBar(bar, addr - base, size) & ones(size);
      return true;
    }
    return false;
  }

  private rebuild(): void {
    this.winCount = 0;
    for (let s = 0; s < this.slots.length; s++) {
      const f = unchecked(this.slots[s]);
      if (f == null) continue;
      for (let b: u32 = 0; b < PCI_BAR_COUNT; b++) {
        if (!f.barDecodes(b)) continue;
        const base = f.barBase(b);
        const size = f.barSize(b);
        const end = base + size;
        if (end < base) continue; // wraps the address space: never decodes
        this.addWindow(base, end, s, b, f.barKind(b) == BarKind.Io);
      }
    }
    this.dirty = false;
  }

  private addWindow(base: u64, end: u64, slot: i32, bar: u32, io: bool): void {
    const i = this.winCount;
    if (i < this.winBase.length) {
      this.winBase[i] = base;
      this.winEnd[i] = end;
      this.winSlot[i] = slot;
      this.winBar[i] = <u8>bar;
      this.winIo[i] = io;
    } else {
      this.winBase.push(base);
      this.winEnd.push(end);
      this.winSlot.push(slot);
      this.winBar.push(<u8>bar);
      this.winIo.push(io);
    }
    this.winCount = i + 1;
  }
}
