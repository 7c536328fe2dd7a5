// The IOAPIC: indirect registers, redirection entries, edge and level delivery with remote IRR and EOI, masking; fuzzed.
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Exports, load, rng, root } from "./harness";

let x: Exports;
beforeAll(async () => {
  x = await load(join(root, "test/devices/dev-entry.ts"));
});
beforeEach(() => {
  x.apicNew(0, 100_000_000n, true);
  x.wrmsr(0x80f, 0x1ffn); // APIC software-enabled
});

const reg = (r: number): number => {
  x.ioWrite(0n, 4, BigInt(r));
  return Number(x.ioRead(0x10n, 4));
};
const setReg = (r: number, v: number): void => {
  x.ioWrite(0n, 4, BigInt(r));
  x.ioWrite(0x10n, 4, BigInt(v >>> 0));
};
const route = (pin: number, low: number, dest = 0): void => {
  setReg(0x11 + 2 * pin, dest << 24);
  setReg(0x10 + 2 * pin, low);
};
const eoi = (): void => void x.wrmsr(0x80b, 0n);
const LEVEL = 1 << 15, MASK = 1 << 16, REMOTE_IRR = 1 << 14;

describe("registers", () => {
  it("version 0x20 with 24 entries, writable ID, entries masked at reset", () => {
    expect(reg(1)).toBe(0x170020);
    setReg(0, 0x0f000000 | 0x00ffffff);
    expect(reg(0)).toBe(0x0f000000);
    expect(reg(2)).toBe(0x0f000000);
    for (let p = 0; p < 24; p++) expect(reg(0x10 + 2 * p)).toBe(MASK);
    expect(reg(0x10 + 48)).toBe(0); // past the table
    expect(x.ioRead(0n, 4)).toBe(BigInt(0x10 + 48));
  });
  it("keeps delivery status, remote IRR and reserved bits read-only", () => {
    setReg(0x10, 0xffffffff);
    setReg(0x11, 0xffffffff);
    expect(reg(0x10) >>> 0).toBe(0x1afff);
    expect(reg(0x11) >>> 0).toBe(0xff000000);
  });
});

describe("delivery", () => {
  it("edge: one message per rising assertion", () => {
    route(4, 0x31);
    x.gsi(4, true);
    x.gsi(4, true);
    expect(x.inject()).toBe(0x31);
    eoi();
    expect(x.pending()).toBe(-1);
    x.gsi(4, false);
    x.gsi(4, true);
    expect(x.inject()).toBe(0x31);
    expect(x.ioStats()).toBe("2,0,0,0");
  });
  it("edge: an assertion while masked is delivered on unmask", () => {
    route(4, 0x31 | MASK);
    x.gsi(4, true);
    expect(x.pending()).toBe(-1);
    route(4, 0x31);
    expect(x.inject()).toBe(0x31);
  });
  it("level: remote IRR holds repeats until EOI; re-sent while still asserted", () => {
    route(9, 0x39 | LEVEL);
    x.gsi(9, true);
    expect(reg(0x10 + 18) & REMOTE_IRR).toBe(REMOTE_IRR);
    x.gsi(9, true);
    expect(x.inject()).toBe(0x39);
    expect(x.pending()).toBe(-1);
    eoi(); // level vector in TMR: broadcast to the IOAPIC, line still high
    expect(x.inject()).toBe(0x39);
    x.gsi(9, false);
    eoi();
    expect(reg(0x10 + 18) & REMOTE_IRR).toBe(0);
    expect(x.pending()).toBe(-1);
    expect(x.ioStats().split(",")[0]).toBe("2");
  });
  it("level: the EOI register (version 0x20) also clears remote IRR", () => {
    route(10, 0x3a | LEVEL);
    x.gsi(10, true);
    x.gsi(10, false);
    x.ioWrite(0x40n, 4, 0x3an);
    expect(reg(0x10 + 20) & REMOTE_IRR).toBe(0);
  });
  it("drops other destinations, unsupported delivery modes and GSIs beyond 23", () => {
    route(5, 0x35, 1);
    x.gsi(5, true);
    route(6, 0x36 | (4 << 8)); // NMI
    x.gsi(6, true);
    x.gsi(24, true);
    x.gsi(0xffffffff, true);
    expect(x.pending()).toBe(-1);
    expect(x.ioStats()).toBe("0,2,2,0");
  });
});

describe("fuzz", () => {
  it("random register traffic, lines and EOIs never trap and keep the read-only fields", () => {
    const r = rng(2024);
    for (let n = 0; n < 20000; n++) {
      const op = r() % 6;
      if (op === 0) x.ioWrite(BigInt(r() % 0x50), [1, 2, 4, 8][r() % 4], BigInt(r()));
      else if (op === 1) x.ioRead(BigInt(r() % 0x50), [1, 2, 4, 8][r() % 4]);
      else if (op === 2) setReg(r() & 0xff, r());
      else if (op === 3) x.gsi(r() % 30, (r() & 1) === 1);
      else if (op === 4) x.inject();
      else eoi();
    }
    expect(reg(1)).toBe(0x170020);
    for (let p = 0; p < 24; p++) {
      const e = BigInt.asUintN(64, x.ioEntry(p));
      expect(e & 0x00fffffffffe1000n).toBe(0n); // reserved bits and delivery status
      if (!(e & BigInt(LEVEL))) expect(e & BigInt(REMOTE_IRR)).toBe(0n);
    }
  });
});
