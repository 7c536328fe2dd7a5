// The ACPI table builder, read back with our own reader: checksums, XSDT, HW-reduced FADT, MADT entries, the DSDT's AML; iasl disassembles it when installed.
import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Exports, load, root } from "./harness";
import { AcpiReader, eisaId, resources, walkAml } from "./acpi-reader";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/devices/dev-entry.ts"));
});

const ram = (): Uint8Array => new Uint8Array(x.memory.buffer, x.ramPtr(), 0x100000);
function build(cpus = 1, com1 = true, base = 0xe0000, mmio: [number, number] = [0xc0000000, 0x3ec00000], slots = 0): { r: AcpiReader; rsdp: number } {
  const rsdp = Number(x.acpiBuild(0x100000n, BigInt(base), cpus, com1, mmio[0], mmio[1], slots >>> 0));
  expect(rsdp).toBe(base);
  return { r: new AcpiReader(ram().slice()), rsdp };
}

describe("RSDP and XSDT", () => {
  it("finds a revision-2 RSDP by scanning, with both checksums, pointing at an XSDT of FADT and MADT", () => {
    const { r, rsdp } = build();
    expect(r.findRsdp()).toBe(rsdp);
    const p = r.rsdp(rsdp);
    expect(p).toMatchObject({ revision: 2, length: 36, rsdt: 0, checksumOk: true, extChecksumOk: true, oem: "TYPEVI" });
    const xsdt = r.table(p.xsdt);
    expect([xsdt.sig, xsdt.checksumOk]).toEqual(["XSDT", true]);
    const sigs = r.xsdtEntries(xsdt).map((a) => r.table(a));
    expect(sigs.map((t) => [t.sig, t.checksumOk])).toEqual([["FACP", true], ["APIC", true]]);
    // Everything lies within the reported size, so the E820 reservation covers it.
    const end = Math.max(...[xsdt, ...sigs, r.table(r.fadt(sigs[0]).dsdt)].map((t) => t.addr + t.length));
    expect(end - rsdp).toBe(Number(x.acpiSize()));
  });
  it("the reader catches a corrupted byte in every table", () => {
    const { r, rsdp } = build();
    const p = r.rsdp(rsdp);
    const fadtAddr = r.xsdtEntries(r.table(p.xsdt))[0];
    for (const a of [p.xsdt, fadtAddr, r.fadt(r.table(fadtAddr)).dsdt]) {
      const copy = new AcpiReader(r.mem.slice());
      copy.mem[a + 40] ^= 0x10;
      expect(copy.table(a).checksumOk).toBe(false);
    }
    const c = new AcpiReader(r.mem.slice());
    c.mem[rsdp + 25] ^= 1; // XSDT address: only the extended checksum covers it
    expect([c.rsdp(rsdp).checksumOk, c.rsdp(rsdp).extChecksumOk]).toEqual([true, false]);
  });
  it("refuses an unaligned base, a base over 4 GiB and memory too small", () => {
    expect(Number(x.acpiBuild(0x100000n, 0xe0008n, 1, true, 0xc0000000, 0x1000000))).toBe(-1);
    expect(Number(x.acpiBuild(0x100000n, 0x100000000n, 1, true, 0xc0000000, 0x1000000))).toBe(-1);
    expect(Number(x.acpiBuild(0xe0100n, 0xe0000n, 1, true, 0xc0000000, 0x1000000))).toBe(-1);
  });
});

describe("FADT", () => {
  it("is revision 6.4, HW-reduced, without PM timer or SCI, and says no 8042, no VGA, no CMOS RTC", () => {
    const { r, rsdp } = build();
    const t = r.table(r.xsdtEntries(r.table(r.rsdp(rsdp).xsdt))[0]);
    expect([t.revision, t.length]).toEqual([6, 276]);
    const f = r.fadt(t);
    expect(f.flags & (1 << 20)).toBe(1 << 20);
    expect(f.iapcBootArch & 0x2).toBe(0); // no 8042
    expect(f.iapcBootArch & 0x4).toBe(0x4);
    expect(f.iapcBootArch & 0x20).toBe(0x20);
    expect(f.iapcBootArch & 0x8).toBe(0); // MSI supported
    expect([f.pmTimer, f.sciInt, f.minor, f.hypervisor]).toEqual([0, 0, 4, "TYPEVISR"]);
    expect(f.xdsdt).toBe(f.dsdt);
    expect(r.table(f.dsdt).sig).toBe("DSDT");
  });
});

describe("MADT", () => {
  it("lists one LAPIC per CPU and one IOAPIC at GSI base 0, without PCAT_COMPAT", () => {
    const { r, rsdp } = build(3);
    const t = r.table(r.xsdtEntries(r.table(r.rsdp(rsdp).xsdt))[1]);
    const m = r.madt(t);
    expect([m.lapic, m.flags]).toEqual([0xfee00000, 0]);
    expect(m.entries).toEqual([
      { type: 0, length: 8, data: [0, 0, 1, 0, 0, 0] },
      { type: 0, length: 8, data: [1, 1, 1, 0, 0, 0] },
      { type: 0, length: 8, data: [2, 2, 1, 0, 0, 0] },
      { type: 1, length: 12, data: [0, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0] },
    ]);
  });
});

describe("DSDT", () => {
  function dsdt(com1 = true, mmio: [number, number] = [0xc0000000, 0x3ec00000], slots = 0): Uint8Array {
    const { r, rsdp } = build(1, com1, 0xe0000, mmio, slots);
    const f = r.fadt(r.table(r.xsdtEntries(r.table(r.rsdp(rsdp).xsdt))[0]));
    const t = r.table(f.dsdt);
    expect([t.revision, t.checksumOk]).toEqual([2, true]);
    return r.mem.slice(t.addr, t.addr + t.length);
  }
  it("names the PCI root (PNP0A03) with bus, config-port, I/O and 32-bit MMIO windows", () => {
    const names = walkAml(dsdt().subarray(36));
    expect(names.get("\\_SB_.PCI0")).toBe("Device");
    expect(eisaId(names.get("\\_SB_.PCI0._HID") as number)).toBe("PNP0A03");
    expect(names.get("\\_SB_.PCI0._UID")).toBe(0);
    const crs = resources(names.get("\\_SB_.PCI0._CRS") as Uint8Array);
    expect(crs).toEqual([
      { kind: "word", type: 2, flags: 0x0c, typeFlags: 0, min: 0, max: 0xff, translation: 0, len: 0x100 },
      { kind: "io", decode16: true, min: 0xcf8, max: 0xcf8, align: 1, len: 8 },
      { kind: "word", type: 1, flags: 0x0c, typeFlags: 3, min: 0x1000, max: 0xffff, translation: 0, len: 0xf000 },
      { kind: "dword", type: 0, flags: 0x0c, typeFlags: 1, min: 0xc0000000, max: 0xfebfffff, translation: 0, len: 0x3ec00000 },
      { kind: "end" },
    ]);
  });
  it("names COM1 (PNP0501) at 0x3F8 on IRQ 4, and leaves it out when asked", () => {
    const names = walkAml(dsdt().subarray(36));
    expect(eisaId(names.get("\\_SB_.COM1._HID") as number)).toBe("PNP0501");
    expect(names.get("\\_SB_.COM1._UID")).toBe(1);
    expect(resources(names.get("\\_SB_.COM1._CRS") as Uint8Array)).toEqual([
      { kind: "io", decode16: true, min: 0x3f8, max: 0x3f8, align: 1, len: 8 },
      { kind: "irq", irqs: [4] },
      { kind: "end" },
    ]);
    const without = walkAml(dsdt(false).subarray(36));
    expect([...without.keys()].some((k) => k.includes("COM1"))).toBe(false);
    expect(without.get("\\_SB_.PCI0")).toBe("Device");
  });
  it("follows the configured MMIO window", () => {
    const names = walkAml(dsdt(true, [0x80000000, 0x10000000]).subarray(36));
    const mem = resources(names.get("\\_SB_.PCI0._CRS") as Uint8Array).find((r) => r.kind === "dword");
    expect(mem).toMatchObject({ min: 0x80000000, max: 0x8fffffff, len: 0x10000000 });
  });
  it("routes INTx of the given slots in _PRT to GSIs 16-23, and has no _PRT without slots", () => {
    expect(walkAml(dsdt().subarray(36)).has("\\_SB_.PCI0._PRT")).toBe(false);
    const prt = walkAml(dsdt(true, undefined, (1 << 2) | (1 << 31)).subarray(36)).get("\\_SB_.PCI0._PRT") as number[][];
    expect(prt).toEqual([
      [0x0002ffff, 0, 0, 18], [0x0002ffff, 1, 0, 19], [0x0002ffff, 2, 0, 20], [0x0002ffff, 3, 0, 21],
      [0x001fffff, 0, 0, 23], [0x001fffff, 1, 0, 16], [0x001fffff, 2, 0, 17], [0x001fffff, 3, 0, 18],
    ]);
    // Every slot (128 entries) still fits the reported size and checksums.
    const { r, rsdp } = build(1, true, 0xe0000, undefined, 0xffffffff);
    const d = r.table(r.fadt(r.table(r.xsdtEntries(r.table(r.rsdp(rsdp).xsdt))[0])).dsdt);
    expect(d.checksumOk).toBe(true);
    expect((walkAml(d.body).get("\\_SB_.PCI0._PRT") as unknown[]).length).toBe(128);
  });
  const iasl = spawnSync("iasl", ["-v"], { encoding: "utf8" }).status === 0;
  it.skipIf(!iasl)("disassembles cleanly with iasl (acpica-tools)", () => {
    const dir = mkdtempSync(join(tmpdir(), "tv-dsdt-"));
    writeFileSync(join(dir, "dsdt.dat"), dsdt(true, undefined, 1 << 3));
    execFileSync("iasl", ["-d", join(dir, "dsdt.dat")], { cwd: dir, stdio: "pipe" });
    const dsl = readFileSync(join(dir, "dsdt.dsl"), "utf8");
    for (const s of ['EisaId ("PNP0A03")', 'EisaId ("PNP0501")', "IRQNoFlags ()", "0x03F8,", "0xFEBFFFFF,", "WordBusNumber", "DWordMemory", "Name (_PRT, Package (0x04)", "0x0003FFFF,"]) {
      expect(dsl).toContain(s);
    }
  });
});
