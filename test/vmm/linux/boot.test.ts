// The Linux 64-bit boot protocol loader on a synthetic bzImage (and on Debian's kernel when build/linux/ has it): checks, placement, zero page, E820, page tables, GDT.
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Exports, load, rng, root } from "../../devices/harness";
import { guestMaterial } from "../helpers";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/vmm/linux/entry.ts"));
});

const MiB = 1 << 20;
interface Hdr { setupSects?: number; version?: number; xloadflags?: number; loadflags?: number; pref?: number; align?: number; initSize?: number; relocatable?: number; initrdMax?: number; cmdlineSize?: number; magic?: string; kernelLen?: number }

/** A bzImage with a real setup header and a counting-pattern protected-mode kernel. */
function bzImage(h: Hdr = {}): Uint8Array {
  const setupSects = h.setupSects ?? 3;
  const kernelLen = h.kernelLen ?? 256 * 1024;
  const setup = ((setupSects || 4) + 1) * 512;
  const b = new Uint8Array(setup + kernelLen);
  const dv = new DataView(b.buffer);
  b[0x1f1] = setupSects;
  dv.setUint32(0x1f4, kernelLen / 16, true); // syssize
  dv.setUint16(0x1fe, 0xaa55, true);
  b[0x200] = 0xeb;
  b[0x201] = 0x66; // header ends at 0x268
  b.set(new TextEncoder().encode(h.magic ?? "HdrS"), 0x202);
  dv.setUint16(0x206, h.version ?? 0x020f, true);
  b[0x211] = h.loadflags ?? 0x01;
  dv.setUint32(0x22c, h.initrdMax ?? 0x7fffffff, true);
  dv.setUint32(0x230, h.align ?? 0x200000, true);
  b[0x234] = h.relocatable ?? 1;
  dv.setUint16(0x236, h.xloadflags ?? 0x7f, true);
  dv.setUint32(0x238, h.cmdlineSize ?? 2047, true);
  dv.setBigUint64(0x258, BigInt(h.pref ?? 0x1000000), true);
  dv.setUint32(0x260, h.initSize ?? 4 * MiB, true);
  b[0x267] = 0x5a; // last header byte: copied into the zero page
  b[0x268] = 0xa5; // first byte after the header: not copied
  for (let i = 0; i < kernelLen; i++) b[setup + i] = (i * 7 + 3) & 0xff;
  return b;
}

function run(k: Uint8Array, ramBytes: number, o: { initrd?: Uint8Array; cmdline?: string; acpi?: [number, number, number] } = {}): { out: string; ram: Uint8Array; e: Record<string, bigint> } {
  // Allocate first: growing wasm memory detaches earlier views of it.
  const kp = x.allocKernel(k.length);
  new Uint8Array(x.memory.buffer, kp, k.length).set(k);
  if (o.initrd) {
    const p = x.allocInitrd(o.initrd.length);
    new Uint8Array(x.memory.buffer, p, o.initrd.length).set(o.initrd);
  }
  const rp = x.allocRam(ramBytes);
  const [ab, as, rsdp] = o.acpi ?? [0xe0000, 0x20000, 0xe0000];
  const out: string = x.boot(o.cmdline ?? "console=ttyS0 quiet", BigInt(ab), BigInt(as), BigInt(rsdp), !!o.initrd);
  const ram = new Uint8Array(x.memory.buffer, rp, ramBytes).slice();
  const e: Record<string, bigint> = {};
  if (!out.startsWith("error")) for (const kv of out.split(" ")) e[kv.split("=")[0]] = BigInt("0x" + kv.split("=")[1]);
  return { out, ram, e };
}
const u32 = (m: Uint8Array, o: number): number => new DataView(m.buffer, m.byteOffset).getUint32(o, true);
const u64 = (m: Uint8Array, o: number): bigint => new DataView(m.buffer, m.byteOffset).getBigUint64(o, true);
function e820(ram: Uint8Array): [number, number, number][] {
  const n = ram[0x7000 + 0x1e8];
  return [...Array(n).keys()].map((i) => {
    const o = 0x7000 + 0x2d0 + 20 * i;
    return [Number(u64(ram, o)), Number(u64(ram, o + 8)), u32(ram, o + 16)];
  });
}

describe("image checks", () => {
  const cases: [string, Hdr, RegExp][] = [
    ["no HdrS", { magic: "HdrX" }, /not a bzImage: no HdrS/],
    ["protocol 2.11", { version: 0x020b }, /boot protocol 2\.11 is too old/],
    ["no 64-bit entry", { xloadflags: 0x7e }, /no 64-bit entry point/],
    ["zImage", { loadflags: 0 }, /LOADED_HIGH clear/],
    ["bad alignment", { align: 0x300000 }, /bad kernel_alignment/],
  ];
  it.each(cases)("%s", (_, h, re) => {
    expect(run(bzImage(h), 64 * MiB).out).toMatch(re);
  });
  it("rejects a file shorter than the header and one with no kernel after the setup sectors", () => {
    expect(run(new Uint8Array(0x200), 64 * MiB).out).toMatch(/not a bzImage: only 512 bytes/);
    expect(run(bzImage({ kernelLen: 0 }), 64 * MiB).out).toMatch(/no protected-mode kernel/);
  });
});

describe("placement", () => {
  it("loads at pref_address and enters at +0x200 with the protocol's state", () => {
    const { out, ram, e } = run(bzImage(), 64 * MiB);
    expect(out).not.toMatch(/^error/);
    expect(e).toMatchObject({ load: 0x1000000n, rip: 0x1000200n, rsi: 0x7000n, cr3: 0x9000n, cs: 0x10n, ds: 0x18n, gdt: 0x500n, limit: 0x1fn, protocol: 0x20fn });
    expect(e.cr0 & 0x80000001n).toBe(0x80000001n); // PE and PG
    expect(e.cr4 & 0x20n).toBe(0x20n); // PAE
    expect(e.efer & 0x500n).toBe(0x500n); // LME and LMA
    const setup = 4 * 512;
    const k = bzImage();
    expect(Buffer.from(ram.subarray(0x1000000, 0x1000000 + 256 * 1024)).equals(Buffer.from(k.subarray(setup)))).toBe(true);
  });
  it("relocates a kernel whose pref_address does not fit to the lowest aligned address above 1 MiB", () => {
    const { e } = run(bzImage({ initSize: 20 * MiB }), 32 * MiB);
    expect(e.load).toBe(0x200000n);
    expect(run(bzImage({ initSize: 20 * MiB, align: 0x1000000 }), 40 * MiB).e.load).toBe(0x1000000n);
  });
  it("fails clearly when it does not fit or is not relocatable", () => {
    expect(run(bzImage({ initSize: 40 * MiB }), 32 * MiB).out).toMatch(/does not fit: the kernel needs 0x2800000 bytes from 0x200000; RAM is 0x2000000/);
    expect(run(bzImage({ initSize: 20 * MiB, relocatable: 0 }), 32 * MiB).out).toMatch(/does not fit: .* is not relocatable/);
    expect(run(bzImage(), 1 * MiB).out).toMatch(/RAM 0x100000 is too small/);
  });
  it("places the initrd page-aligned at the top of RAM, or below initrd_addr_max", () => {
    const initrd = new Uint8Array(300 * 1024).map((_, i) => (i * 13) & 0xff);
    const a = run(bzImage(), 64 * MiB, { initrd });
    expect(a.e.initrd).toBe(BigInt((64 * MiB - initrd.length) & ~0xfff));
    expect(a.e.initrdsize).toBe(BigInt(initrd.length));
    const at = Number(a.e.initrd);
    expect(Buffer.from(a.ram.subarray(at, at + initrd.length)).equals(Buffer.from(initrd))).toBe(true);
    expect(u32(a.ram, 0x7000 + 0x218)).toBe(at);
    expect(u32(a.ram, 0x7000 + 0x21c)).toBe(initrd.length);
    const b = run(bzImage({ initrdMax: 48 * MiB - 1 }), 64 * MiB, { initrd });
    expect(b.e.initrd).toBe(BigInt((48 * MiB - initrd.length) & ~0xfff));
    expect(run(bzImage({ initrdMax: 0x1100000 }), 64 * MiB, { initrd }).out).toMatch(/initrd of 0x4b000 bytes does not fit/);
    expect(run(bzImage(), 64 * MiB, { initrd: new Uint8Array(61 * MiB) }).out).toMatch(/initrd .* does not fit/);
  });
});

describe("zero page", () => {
  it("copies the setup header from 0x1F1 to its end and fills the loader fields", () => {
    const k = bzImage();
    const { ram } = run(k, 64 * MiB, { cmdline: "console=ttyS0 tv.run=uname" });
    const zp = ram.subarray(0x7000, 0x8000);
    for (const o of [0x1f1, 0x1fe, 0x202, 0x206, 0x230, 0x236, 0x258, 0x260, 0x267]) expect(zp[o], `offset ${o.toString(16)}`).toBe(k[o]);
    expect(zp[0x268]).toBe(0);
    expect(zp[0x1ef]).toBe(0); // the sentinel stays 0
    expect(zp[0x210]).toBe(0xff); // type_of_loader
    expect(u32(zp, 0x214)).toBe(0x1000000); // code32_start
    expect(u32(zp, 0x228)).toBe(0x20000); // cmd_line_ptr
    expect(u64(zp, 0x070)).toBe(0xe0000n); // acpi_rsdp_addr
    const cl = ram.subarray(0x20000, 0x20000 + 40);
    expect(Buffer.from(cl.subarray(0, cl.indexOf(0))).toString()).toBe("console=ttyS0 tv.run=uname");
    expect(u32(zp, 0x218)).toBe(0); // no initrd
  });
  it("refuses a command line longer than cmdline_size", () => {
    expect(run(bzImage({ cmdlineSize: 10 }), 64 * MiB, { cmdline: "console=ttyS0" }).out).toMatch(/command line of 13 bytes is longer than the kernel's 10/);
  });
  it("E820: low RAM, the ACPI tables as ACPI data, high RAM, sorted", () => {
    expect(e820(run(bzImage(), 64 * MiB).ram)).toEqual([
      [0, 0xa0000, 1],
      [0xe0000, 0x20000, 3],
      [0x100000, 63 * MiB, 1],
    ]);
    expect(e820(run(bzImage(), 64 * MiB, { acpi: [0x3f00000, 0x10000, 0x3f00000] }).ram)).toEqual([
      [0, 0xa0000, 1],
      [0x100000, 0x3f00000 - 0x100000, 1],
      [0x3f00000, 0x10000, 3],
      [0x3f10000, 0xf0000, 1],
    ]);
    expect(e820(run(bzImage(), 64 * MiB, { acpi: [0, 0, 0] }).ram)).toEqual([[0, 0xa0000, 1], [0x100000, 63 * MiB, 1]]);
    expect(run(bzImage(), 64 * MiB, { acpi: [0x8000, 0x1000, 0x8000] }).out).toMatch(/ACPI tables at 0x8000 overlap/);
  });
  it("keeps the initrd below ACPI tables placed high", () => {
    const initrd = new Uint8Array(8192);
    const r = run(bzImage(), 64 * MiB, { initrd, acpi: [0x3f00000, 0x10000, 0x3f00000] });
    expect(Number(r.e.initrd) + initrd.length).toBeLessThanOrEqual(0x3f00000);
  });
});

describe("page tables and GDT", () => {
  /** Walks the guest's 4-level tables like the MMU (SDM vol 3 4.5) for an address. */
  function translate(ram: Uint8Array, cr3: number, va: number): number | null {
    const e1 = u64(ram, cr3 + 8 * ((va / 2 ** 39) & 511));
    if (!(e1 & 1n)) return null;
    const e2 = u64(ram, Number(e1 & ~0xfffn) + 8 * ((va / 2 ** 30) & 511));
    if (!(e2 & 1n)) return null;
    const e3 = u64(ram, Number(e2 & ~0xfffn) + 8 * ((va / 2 ** 21) & 511));
    if (!(e3 & 1n) || !(e3 & 0x80n) || !(e3 & 2n)) return null;
    return Number(e3 & ~0x1fffffn) + (va % 2 ** 21);
  }
  it("identity-maps all RAM with 2 MiB pages and nothing beyond", () => {
    const { ram } = run(bzImage(), 64 * MiB);
    for (const va of [0, 0x7000, 0x1000200, 64 * MiB - 1]) expect(translate(ram, 0x9000, va)).toBe(va);
    expect(translate(ram, 0x9000, 64 * MiB)).toBe(null);
  });
  it("maps RAM beyond 1 GiB with one page directory per GiB (sparse 4 GiB + 2 MiB RAM)", () => {
    const k = bzImage();
    const kp = x.allocKernel(k.length);
    new Uint8Array(x.memory.buffer, kp, k.length).set(k);
    const rp = x.allocRam(0x20000);
    const total = 4096 * MiB + 2 * MiB;
    expect(x.bootSparse("console=ttyS0", BigInt(total))).toBe("ok");
    const ram = new Uint8Array(x.memory.buffer, rp, 0x20000).slice();
    for (const va of [0, 1024 * MiB + 12345, 3 * 1024 * MiB + 0x1fffff, total - 1]) expect(translate(ram, 0x9000, va)).toBe(va);
    expect(translate(ram, 0x9000, total)).toBe(null);
    expect(x.bootSparse("console=ttyS0", BigInt(22 * 1024 * MiB))).toMatch(/above the 21 GiB this loader maps/);
  });
  it("has 64-bit code at 0x10 and flat data at 0x18", () => {
    const { ram } = run(bzImage(), 64 * MiB);
    expect(u64(ram, 0x500)).toBe(0n);
    const cs = u64(ram, 0x510), ds = u64(ram, 0x518);
    expect((cs >> 53n) & 1n).toBe(1n); // L
    expect((cs >> 54n) & 1n).toBe(0n); // D must be 0 with L
    expect((cs >> 40n) & 0x9an).toBe(0x9an); // present, code, readable
    expect((ds >> 40n) & 0x92n).toBe(0x92n); // present, data, writable
    expect((ds >> 47n) & 1n).toBe(1n);
  });
});

const real = join(root, "build/linux/bzImage");
describe("Debian's cloud kernel (build/linux/bzImage from scripts/guest-linux.ts)", () => {
  // fetched (or taken from build/linux) as the Linux guest tests do; no network: a clear failure
  beforeAll(() => guestMaterial(), 600_000);
  it("validates and loads with its initramfs into 256 MiB", () => {
    const k = new Uint8Array(readFileSync(real));
    const initrd = new Uint8Array(readFileSync(join(root, "build/linux/initramfs.cpio.gz")));
    const { out, ram, e } = run(k, 256 * MiB, { initrd, cmdline: "console=ttyS0" });
    expect(out).not.toMatch(/^error/);
    expect(e.protocol).toBeGreaterThanOrEqual(0x20cn);
    expect(e.load).toBe(u64(k, 0x258)); // pref_address fits in 256 MiB
    expect(e.rip).toBe(e.load + 0x200n);
    const setup = ((k[0x1f1] || 4) + 1) * 512;
    const l = Number(e.load);
    expect(Buffer.from(ram.subarray(l, l + 4096)).equals(Buffer.from(k.subarray(setup, setup + 4096)))).toBe(true);
    expect(Number(e.initrd)).toBeGreaterThanOrEqual(l + u32(k, 0x260));
    expect(e820(ram).map((r) => r[2])).toEqual([1, 3, 1]);
  });
});

describe("prepareLinux (tables and boot state together)", () => {
  it("puts the tables at 0xE0000, reserves 0xE0000-0xFFFFF as ACPI data and points acpi_rsdp_addr at the RSDP", () => {
    const k = bzImage();
    const kp = x.allocKernel(k.length);
    new Uint8Array(x.memory.buffer, kp, k.length).set(k);
    const rp = x.allocRam(64 * MiB);
    expect(x.prepare("console=ttyS0", false, 2)).toMatch(/^rip=1000200 .* load=1000000 initrd=0 /);
    const ram = new Uint8Array(x.memory.buffer, rp, 64 * MiB).slice();
    expect(Buffer.from(ram.subarray(0xe0000, 0xe0008)).toString("latin1")).toBe("RSD PTR ");
    expect(u64(ram, 0x7000 + 0x70)).toBe(0xe0000n);
    expect(e820(ram)).toEqual([[0, 0xa0000, 1], [0xe0000, 0x20000, 3], [0x100000, 63 * MiB, 1]]);
    // The MADT lists both CPUs: walk RSDP -> XSDT -> second entry.
    const xsdt = Number(u64(ram, 0xe0000 + 24));
    const madt = Number(u64(ram, xsdt + 44));
    expect(Buffer.from(ram.subarray(madt, madt + 4)).toString("latin1")).toBe("APIC");
    expect(u32(ram, madt + 4)).toBe(36 + 8 + 2 * 8 + 12);
  });
  it("reports a kernel problem with the tables already built", () => {
    const k = bzImage({ version: 0x20b });
    const kp = x.allocKernel(k.length);
    new Uint8Array(x.memory.buffer, kp, k.length).set(k);
    x.allocRam(64 * MiB);
    expect(x.prepare("console=ttyS0", false, 1)).toMatch(/^error: boot protocol 2\.11 is too old/);
    expect(x.prepare("console=ttyS0", false, 1, 0x30000n, 0x100n)).toMatch(/^error: the ACPI region of 0x100 bytes is smaller/);
    expect(x.prepare("console=ttyS0", false, 1, 0x30008n, 0x1000n)).toMatch(/^error: the ACPI tables do not fit at 0x30008/);
  });
});

describe("fuzz", () => {
  it("random header fields and sizes never trap; every result is an entry inside RAM or a clear error", () => {
    const r = rng(12345);
    const pick = <T>(a: T[]): T => a[r() % a.length];
    let ok = 0;
    for (let n = 0; n < 150; n++) {
      const h: Hdr = {
        setupSects: pick([0, 1, 3, 30, 255]),
        version: pick([0x20b, 0x20c, 0x20f, 0xffff, 0x20f]),
        xloadflags: pick([0, 1, 0x7f, 0x7f]),
        pref: pick([0, 0x1000000, 0x1234567, 0xfffff000, 2 ** 52, Number.MAX_SAFE_INTEGER]),
        align: pick([0, 0x1000, 0x200000, 0x80000000]),
        initSize: pick([0, 0x1000, 4 * MiB, 0xffffffff]),
        relocatable: pick([0, 1]),
        initrdMax: pick([0, 0xfffff, 0x7fffffff, 0xffffffff]),
        cmdlineSize: pick([0, 5, 2047, 0xffffffff]),
        kernelLen: pick([16, 4096, 65536]),
      };
      const initrd = pick([undefined, new Uint8Array(4096), new Uint8Array(3 * MiB)]);
      const res = run(bzImage(h), pick([2 * MiB, 8 * MiB, 32 * MiB]), { initrd, cmdline: pick(["", "console=ttyS0"]) });
      if (process.env.TV_FUZZ_DEBUG) console.log(res.out.slice(0, 120));
      if (res.out.startsWith("error: ")) {
        expect(res.out.length).toBeGreaterThan(10);
        continue;
      }
      ok++;
      const ramBytes = res.ram.length;
      expect(Number(res.e.load) + Math.max(Number(u32(bzImage(h), 0x260)), 16)).toBeLessThanOrEqual(ramBytes);
      if (initrd) expect(Number(res.e.initrd) + initrd.length).toBeLessThanOrEqual(ramBytes);
    }
    expect(ok).toBeGreaterThan(3);
  });
});
