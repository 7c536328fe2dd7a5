// Flat exports over the drivers' pure parts for the vitest suites: PCI enumeration over a fake config space.

import { Cfg, PciConfigAccess, PciFunction, describeFunction, enumerate } from "../../src/drivers/pci";

/** One fake function: 256 bytes of config space, BARs that answer a sizing probe like hardware. */
class FakeFn {
  regs: StaticArray<u32> = new StaticArray<u32>(64);
  /** writable address bits of each BAR dword (0: not a BAR) */
  barMask: StaticArray<u32> = new StaticArray<u32>(6);
  barFlags: StaticArray<u32> = new StaticArray<u32>(6);
}

class FakeConfig extends PciConfigAccess {
  fns: Map<u32, FakeFn> = new Map<u32, FakeFn>();
  /** BAR probes (all-ones writes) made while the function decoded that BAR's space */
  decodingProbes: i32 = 0;
  reads: i32 = 0;

  read32(bdf: u32, off: u32): u32 {
    this.reads++;
    if (!this.fns.has(bdf)) return 0xFFFFFFFF; // master abort
    return this.fns.get(bdf).regs[(off & 0xFC) >> 2];
  }
  write32(bdf: u32, off: u32, v: u32): void {
    if (!this.fns.has(bdf)) return;
    const f = this.fns.get(bdf);
    const i = (off & 0xFC) >> 2;
    if (off >= 0x10 && off < 0x28) {
      const b = (off - 0x10) >> 2;
      if (f.barMask[b] == 0) return; // unimplemented BAR: reads 0
      const io = (f.barFlags[b] & 1) != 0;
      const decode = f.regs[1] & (io ? 1 : 2);
      if (v == 0xFFFFFFFF && decode != 0) this.decodingProbes++;
      f.regs[i] = (v & f.barMask[b]) | f.barFlags[b];
      return;
    }
    if (i == 1) {
      f.regs[1] = (f.regs[1] & 0xFFFF0000) | (v & 0xFFFF); // status is RW1C: not modelled
      return;
    }
    f.regs[i] = v;
  }
}

let cfg = new FakeConfig();
let found: Array<PciFunction> = new Array<PciFunction>();

export function fakeReset(): void {
  cfg = new FakeConfig();
  found = new Array<PciFunction>();
}
/** A function with vendor:device, class code << 8 | revision, header type, command. */
export function fakeAdd(bdf: u32, vendor: u32, device: u32, classRev: u32, headerType: u32, command: u32): void {
  const f = new FakeFn();
  f.regs[0] = (device << 16) | vendor;
  f.regs[1] = command;
  f.regs[2] = classRev;
  f.regs[3] = headerType << 16;
  cfg.fns.set(bdf, f);
}
/** BAR dword i: writable mask, fixed flag bits, current value (as firmware left it). */
export function fakeBar(bdf: u32, i: u32, mask: u32, flags: u32, value: u32): void {
  const f = cfg.fns.get(bdf);
  f.barMask[i] = mask;
  f.barFlags[i] = flags;
  f.regs[4 + i] = (value & mask) | flags;
}
/** Raw dword (capabilities, status). */
export function fakeSet(bdf: u32, off: u32, v: u32): void {
  cfg.fns.get(bdf).regs[off >> 2] = v;
}
export function fakeGet(bdf: u32, off: u32): u32 {
  return cfg.fns.get(bdf).regs[off >> 2];
}
export function decodingProbes(): i32 {
  return cfg.decodingProbes;
}
export function configReads(): i32 {
  return cfg.reads;
}

export function scan(maxBus: u32): i32 {
  found = enumerate(cfg, maxBus);
  return found.length;
}
export function fnBdf(i: i32): u32 { return found[i].bdf; }
export function fnLine(i: i32): string { return describeFunction(found[i]); }
export function barKind(i: i32, b: i32): i32 { return <i32>found[i].bars[b].kind; }
export function barBase(i: i32, b: i32): u64 { return found[i].bars[b].base; }
export function barSize(i: i32, b: i32): u64 { return found[i].bars[b].size; }
export function capCount(i: i32): i32 { return found[i].caps.length; }
export function capProblem(i: i32): string { return found[i].capProblem; }
export function commandOf(bdf: u32): u32 { return cfg.fns.get(bdf).regs[1] & 0xFFFF; }
export const CFG_STATUS = <u32>Cfg.Status;
