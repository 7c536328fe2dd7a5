// PCI enumeration over a fake configuration space: BAR sizing done safely, 64-bit BARs, bounded capability walks.
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadDrivers } from "./harness.ts";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let d: any;
beforeAll(async () => {
  d = await loadDrivers();
});
beforeEach(() => d.fakeReset());

const bdf = (bus: number, dev: number, fn: number) => (bus << 8) | (dev << 3) | fn;
const IO = 1, MEM = 2;

describe("enumeration", () => {
  it("finds functions in bus/device/function order and probes functions 1-7 only on multi-function devices", () => {
    d.fakeAdd(bdf(0, 3, 0), 0x1af4, 0x1041, 0x02000001, 0, MEM);
    d.fakeAdd(bdf(0, 0, 0), 0x8086, 0x1237, 0x06000002, 0, 0);
    d.fakeAdd(bdf(0, 1, 0), 0x8086, 0x7000, 0x06010000, 0x80, 0);
    d.fakeAdd(bdf(0, 1, 3), 0x8086, 0x7113, 0x06800003, 0, 0);
    d.fakeAdd(bdf(0, 5, 2), 0x1234, 0x5678, 0x02000000, 0, 0); // fn 2 of a single-function device: not probed
    d.fakeAdd(bdf(2, 0, 0), 0x1af4, 0x1000, 0x02000000, 0, 0);
    expect(d.scan(255)).toBe(5);
    const seen = [0, 1, 2, 3, 4].map((i) => d.fnBdf(i));
    expect(seen).toEqual([bdf(0, 0, 0), bdf(0, 1, 0), bdf(0, 1, 3), bdf(0, 3, 0), bdf(2, 0, 0)]);
    expect(d.fnLine(0)).toBe("00:00.0 8086:1237 host bridge");
    expect(d.fnLine(3)).toBe("00:03.0 1af4:1041 virtio-net");
  });

  it("names transitional virtio devices by their subsystem id", () => {
    d.fakeAdd(bdf(0, 4, 0), 0x1af4, 0x1003, 0x07800000, 0, 0);
    d.fakeSet(bdf(0, 4, 0), 0x2c, (3 << 16) | 0x1af4);
    expect(d.scan(0)).toBe(1);
    expect(d.fnLine(0)).toMatch(/^00:04\.0 1af4:1003 virtio-console/);
  });
});

describe("BARs", () => {
  it("sizes I/O, 32-bit and 64-bit memory BARs and restores their values", () => {
    const f = bdf(0, 3, 0);
    d.fakeAdd(f, 0x1af4, 0x1000, 0x02000000, 0, IO | MEM | 4);
    d.fakeBar(f, 0, 0xffffffe0, 1, 0xc040); // 32 bytes of I/O
    d.fakeBar(f, 1, 0xfffff000, 0, 0xfebc1000); // 4 KiB mem32
    d.fakeBar(f, 4, 0xffffc000, 0xc, 0xfebf8000); // 16 KiB mem64 prefetchable, low half
    d.fakeBar(f, 5, 0xffffffff, 0, 0x1); // high half: base 0x1_febf8000
    expect(d.scan(0)).toBe(1);
    expect([d.barKind(0, 0), d.barBase(0, 0), d.barSize(0, 0)]).toEqual([1, 0xc040n, 0x20n]);
    expect([d.barKind(0, 1), d.barBase(0, 1), d.barSize(0, 1)]).toEqual([2, 0xfebc1000n, 0x1000n]);
    expect([d.barKind(0, 4), d.barBase(0, 4), d.barSize(0, 4)]).toEqual([3, 0x1febf8000n, 0x4000n]);
    expect(d.barKind(0, 5)).toBe(0); // the upper half is not a BAR of its own
    expect(d.fnLine(0)).toContain("bar4=mem64:0x1febf8000+0x4000p");
    // the original addresses are back and decode is as firmware left it
    expect(d.fakeGet(f, 0x10)).toBe(0xc041);
    expect(d.fakeGet(f, 0x20) >>> 0).toBe(0xfebf800c);
    expect(d.fakeGet(f, 0x24)).toBe(1);
    expect(d.commandOf(f)).toBe(IO | MEM | 4);
  });

  it("never probes a BAR with all-ones while the function decodes it", () => {
    const f = bdf(0, 2, 0);
    d.fakeAdd(f, 0x8086, 0x100e, 0x02000000, 0, IO | MEM);
    d.fakeBar(f, 0, 0xfffe0000, 0, 0xfeb80000);
    d.fakeBar(f, 1, 0xffffffc0, 1, 0xc000);
    d.scan(0);
    expect(d.decodingProbes()).toBe(0);
    expect(d.barSize(0, 0)).toBe(0x20000n);
    expect(d.barSize(0, 1)).toBe(0x40n);
  });

  it("keeps a host bridge decoding while its BARs are sized (its memory enable may gate RAM)", () => {
    const f = bdf(0, 0, 0);
    d.fakeAdd(f, 0x8086, 0x1237, 0x06000002, 0, MEM);
    d.fakeBar(f, 0, 0xf0000000, 0, 0xe0000000);
    d.scan(0);
    expect(d.decodingProbes()).toBe(1); // probed while decoding, on purpose
    expect(d.barSize(0, 0)).toBe(0x10000000n);
    expect(d.commandOf(f)).toBe(MEM);
    expect(d.fakeGet(f, 0x10) >>> 0).toBe(0xe0000000);
  });

  it("leaves a 64-bit BAR in the last slot and unimplemented BARs out", () => {
    const f = bdf(0, 2, 0);
    d.fakeAdd(f, 0x1234, 0x1, 0x02000000, 0, 0);
    d.fakeBar(f, 5, 0xfffff000, 0x4, 0xfe000000); // claims 64-bit with no upper half
    d.scan(0);
    for (let b = 0; b < 6; b++) expect(d.barKind(0, b)).toBe(0);
  });
});

describe("capability lists", () => {
  const f = bdf(0, 3, 0);
  function withCaps(list: Array<[number, number, number]>): void {
    d.fakeAdd(f, 0x1af4, 0x1041, 0x02000000, 0, 0);
    d.fakeSet(f, 0x04, 0x0010 << 16); // status: capability list
    d.fakeSet(f, 0x34, list.length ? list[0][0] : 0);
    for (const [off, id, next] of list) d.fakeSet(f, off, (next << 8) | id);
  }

  it("walks a list to its end", () => {
    withCaps([[0x40, 0x11, 0x50], [0x50, 0x09, 0x60], [0x60, 0x09, 0]]);
    d.scan(0);
    expect(d.capCount(0)).toBe(3);
    expect(d.capProblem(0)).toBe("");
    expect(d.fnLine(0)).toContain("caps 11,09,09");
  });

  it("stops at a loop", () => {
    withCaps([[0x40, 0x11, 0x50], [0x50, 0x09, 0x40]]);
    d.scan(0);
    expect(d.capCount(0)).toBe(2);
    expect(d.capProblem(0)).toBe("loop at 0x40");
  });

  it("stops at a self-loop and at a pointer into the header", () => {
    withCaps([[0x40, 0x11, 0x40]]);
    d.scan(0);
    expect(d.capCount(0)).toBe(1);
    expect(d.capProblem(0)).toBe("loop at 0x40");
    d.fakeReset();
    withCaps([[0x40, 0x11, 0x08]]);
    d.scan(0);
    expect(d.capCount(0)).toBe(1);
    expect(d.capProblem(0)).toBe("pointer 0x08 into the header");
  });

  it("ignores the pointer when the status register has no capability list", () => {
    withCaps([[0x40, 0x11, 0]]);
    d.fakeSet(f, 0x04, 0);
    d.scan(0);
    expect(d.capCount(0)).toBe(0);
  });
});
