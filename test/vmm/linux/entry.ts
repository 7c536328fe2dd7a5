// Flat exports over the Linux boot-protocol loader for test/vmm/linux/boot.test.ts: kernel, initrd and RAM are buffers the test fills and reads.

import { BoundedMemory, LinearMemory } from "../../../src/lib/bounded-memory";
import { LinuxBootConfig, LinuxEntry, setupLinux } from "../../../src/vmm/linux/boot";
import { AcpiConfig } from "../../../src/devices/acpi";
import { prepareLinux } from "../../../src/vmm/linux/guest";

let kernel = new StaticArray<u8>(0);
let initrd = new StaticArray<u8>(0);
let ram = new StaticArray<u8>(0);

export function allocKernel(n: i32): usize {
  kernel = new StaticArray<u8>(n);
  return changetype<usize>(kernel);
}
export function allocInitrd(n: i32): usize {
  initrd = new StaticArray<u8>(n);
  return changetype<usize>(initrd);
}
export function allocRam(n: i32): usize {
  ram = new StaticArray<u8>(n);
  return changetype<usize>(ram);
}

/**
 * RAM larger than one buffer: `size` bytes of which only the first `low`
 * are backed (the boot structures, the kernel); the rest reads 0 and drops
 * writes, so multi-GiB page tables can be checked.
 */
class SparseMemory extends BoundedMemory {
  constructor(private readonly backing: LinearMemory, private readonly total: u64) {
    super();
  }
  size(): u64 {
    return this.total;
  }
  private inLow(a: u64, n: u64): bool {
    return this.backing.contains(a, n);
  }
  protected rawLoad8(a: u64): u32 { return this.inLow(a, 1) ? this.backing.load8(a) : 0; }
  protected rawLoad16(a: u64): u32 { return this.inLow(a, 2) ? this.backing.load16(a) : 0; }
  protected rawLoad32(a: u64): u32 { return this.inLow(a, 4) ? this.backing.load32(a) : 0; }
  protected rawLoad64(a: u64): u64 { return this.inLow(a, 8) ? this.backing.load64(a) : 0; }
  protected rawStore8(a: u64, v: u32): void { if (this.inLow(a, 1)) this.backing.store8(a, v); }
  protected rawStore16(a: u64, v: u32): void { if (this.inLow(a, 2)) this.backing.store16(a, v); }
  protected rawStore32(a: u64, v: u32): void { if (this.inLow(a, 4)) this.backing.store32(a, v); }
  protected rawStore64(a: u64, v: u64): void { if (this.inLow(a, 8)) this.backing.store64(a, v); }
  protected rawRead(dst: usize, a: u64, len: u32): void {
    if (this.inLow(a, <u64>len)) this.backing.readTo(dst, a, len);
    else memory.fill(dst, 0, len);
  }
  protected rawWrite(a: u64, src: usize, len: u32): void {
    if (this.inLow(a, <u64>len)) this.backing.writeFrom(a, src, len);
  }
}

/** Like `boot` with a RAM of `total` bytes of which the allocated buffer backs the start. */
export function bootSparse(cmdline: string, total: u64): string {
  const cfg = new LinuxBootConfig();
  cfg.cmdline = cmdline;
  const k = new LinearMemory(changetype<usize>(kernel), <u64>kernel.length);
  const r = new SparseMemory(new LinearMemory(changetype<usize>(ram), <u64>ram.length), total);
  const e = setupLinux(k, null, r, cfg);
  return e.ok() ? "ok" : "error: " + e.error;
}

/** Runs the loader; returns "error: ..." or the entry state as "key=hex ..." */
export function boot(cmdline: string, acpiBase: u64, acpiSize: u64, rsdp: u64, withInitrd: bool): string {
  const cfg = new LinuxBootConfig();
  cfg.cmdline = cmdline;
  cfg.acpiBase = acpiBase;
  cfg.acpiSize = acpiSize;
  cfg.rsdp = rsdp;
  const k = new LinearMemory(changetype<usize>(kernel), <u64>kernel.length);
  const i = new LinearMemory(changetype<usize>(initrd), <u64>initrd.length);
  const r = new LinearMemory(changetype<usize>(ram), <u64>ram.length);
  const e = setupLinux(k, withInitrd ? i : null, r, cfg);
  if (!e.ok()) return "error: " + e.error;
  return describe(e);
}

function describe(e: LinuxEntry): string {
  return (
    "rip=" + e.rip.toString(16) + " rsi=" + e.rsi.toString(16) + " rsp=" + e.rsp.toString(16) + " cr0=" + e.cr0.toString(16) +
    " cr3=" + e.cr3.toString(16) + " cr4=" + e.cr4.toString(16) + " efer=" + e.efer.toString(16) + " cs=" + e.cs.toString(16) +
    " ds=" + e.ds.toString(16) + " gdt=" + e.gdtBase.toString(16) + " limit=" + e.gdtLimit.toString(16) +
    " load=" + e.loadAddress.toString(16) + " initrd=" + e.initrdAddress.toString(16) + " initrdsize=" + e.initrdSize.toString(16) +
    " e820=" + e.e820Entries.toString(16) + " protocol=" + e.protocol.toString(16)
  );
}

/** prepareLinux with the default ACPI placement (0xE0000, 128 KiB); returns "error: ..." or "rip=.. load=.." */
export function prepare(cmdline: string, withInitrd: bool, cpus: u32, acpiBase: u64 = 0, acpiRegion: u64 = 0): string {
  const acpi = new AcpiConfig();
  acpi.cpus = cpus;
  const k = new LinearMemory(changetype<usize>(kernel), <u64>kernel.length);
  const i = new LinearMemory(changetype<usize>(initrd), <u64>initrd.length);
  const r = new LinearMemory(changetype<usize>(ram), <u64>ram.length);
  const e = acpiBase == 0 ? prepareLinux(k, withInitrd ? i : null, r, cmdline, acpi) : prepareLinux(k, withInitrd ? i : null, r, cmdline, acpi, acpiBase, acpiRegion);
  if (!e.ok()) return "error: " + e.error;
  return describe(e);
}
