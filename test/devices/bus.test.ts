// PortBus and MmioBus: sorted regions, overlap refusal, claims only inside one region, offsets from the base; fuzzed against a model.
import { beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Exports, load, rng, root } from "./harness";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/devices/dev-entry.ts"));
});

describe("bus", () => {
  it("routes to the region holding the whole access, with the offset from its base", () => {
    x.busNew(false);
    expect(x.busRegister(0x3f8n, 8n, 1)).toBe(true);
    expect(x.busRegister(0xcf8n, 8n, 2)).toBe(true);
    expect(x.busRegister(0x80n, 1n, 3)).toBe(true);
    expect(x.busCount()).toBe(3);
    expect(x.busRead(0x3fdn, 1)).toBe((1n << 32n) | 5n);
    expect(x.busRead(0xcfcn, 4)).toBe((2n << 32n) | 4n);
    expect(x.busWrite(0x80n, 1, 0x55n)).toBe(0n);
    expect(x.busRead(0x3ffn, 2)).toBe(-1n); // runs past the end
    expect(x.busRead(0x3f7n, 1)).toBe(-1n);
    expect(x.busRead(0x400n, 1)).toBe(-1n);
    expect(x.busFind(0x3f8n, 0)).toBe(-1);
    expect(x.busUnclaimed()).toBe(3n);
  });
  it("refuses overlapping, empty and out-of-range regions", () => {
    x.busNew(false);
    expect(x.busRegister(0x100n, 0x10n, 1)).toBe(true);
    expect(x.busRegister(0x10fn, 1n, 2)).toBe(false);
    expect(x.busRegister(0xf0n, 0x11n, 2)).toBe(false);
    expect(x.busRegister(0x0n, 0x1000n, 2)).toBe(false);
    expect(x.busRegister(0x104n, 1n, 2)).toBe(false);
    expect(x.busRegister(0x110n, 0n, 2)).toBe(false);
    expect(x.busRegister(0xffffn, 2n, 2)).toBe(false);
    expect(x.busRegister(0xf0n, 0x10n, 2)).toBe(true); // adjacent below
    expect(x.busRegister(0x110n, 0x10n, 3)).toBe(true); // adjacent above
    expect(x.busCount()).toBe(3);
    x.busNew(true);
    expect(x.busRegister(0xfee00000n, 0x1000n, 1)).toBe(true);
    expect(x.busRegister(0xfffffffffffff000n, 0x1000n, 2)).toBe(false); // beyond 52 bits
    expect(x.busRegister(0xfec00000n, 0x1000n, 2)).toBe(true);
    expect(x.busFind(0xfee00ff8n, 8)).toBe(1);
    expect(x.busFind(0xfec00010n, 4)).toBe(2);
  });
  it("matches a reference model under random registrations and lookups", () => {
    const r = rng(77);
    x.busNew(false);
    const regions: [number, number, number][] = [];
    for (let id = 1; id <= 400; id++) {
      const base = r() % 0x10000;
      const size = 1 + (r() % 64);
      const overlaps = base + size > 0x10000 || regions.some(([b, s]) => base < b + s && b < base + size);
      expect(x.busRegister(BigInt(base), BigInt(size), id)).toBe(!overlaps);
      if (!overlaps) regions.push([base, size, id]);
    }
    expect(x.busCount()).toBe(regions.length);
    for (let n = 0; n < 5000; n++) {
      const a = r() % 0x10010;
      const size = [1, 2, 4, 8][r() % 4];
      const hit = regions.find(([b, s]) => a >= b && a + size <= b + s);
      expect(x.busFind(BigInt(a), size)).toBe(hit ? hit[2] : -1);
    }
  });
});
