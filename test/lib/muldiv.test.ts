// mulDiv (src/lib/muldiv.ts) against BigInt at the u64 edges: products past 2^64 on each of its three paths
// (the product fits; the split a = q*c + r fits; the long division), saturation, and the monitor's own uses.
import { beforeAll, describe, expect, it } from "vitest";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { buildEntry } from "./as-build";
import { rng } from "./rng";

const MAX = (1n << 64n) - 1n;
let mulDiv: (a: bigint, b: bigint, c: bigint) => bigint;

beforeAll(async () => {
  const wasm = await buildEntry("lib-muldiv", "test/lib/muldiv-entry.ts", ["src/lib"]);
  const x = await import(pathToFileURL(join(dirname(wasm), "m.js")).href);
  // the esm bindings hand a u64 back as a signed bigint
  mulDiv = (a, b, c) => BigInt.asUintN(64, x.mulDiv(a, b, c));
}, 120_000);

/** What mulDiv must answer: the exact floor, u64 max when it does not fit or c is 0. */
function want(a: bigint, b: bigint, c: bigint): bigint {
  if (c === 0n) return MAX;
  const q = (a * b) / c;
  return q > MAX ? MAX : q;
}

function check(cases: [bigint, bigint, bigint][]): void {
  for (const [a, b, c] of cases) expect(mulDiv(a, b, c), `${a} * ${b} / ${c}`).toBe(want(a, b, c));
}

describe("mulDiv", () => {
  it("is exact where the product passes 2^64 but the quotient fits", () => {
    const cases: [bigint, bigint, bigint][] = [
      [MAX, MAX, MAX], // product 2^128 - 2^65 + 1
      [MAX, 2n, 3n],
      [MAX, MAX - 1n, MAX],
      [1n << 63n, 4n, 3n],
      [1n << 32n, 1n << 32n, 3n], // 2^64 exactly
      [(1n << 32n) + 1n, (1n << 32n) - 1n, 1n], // 2^64 - 1: the largest product that fits
      [MAX, 1n << 32n, (1n << 32n) + 1n],
      [0x123456789abcdefn, 0xfedcba987654321n, 0xfffffffffffffffn],
    ];
    for (const [a, b, c] of cases) expect(a * b > MAX || a * b === MAX, `${a} * ${b}`).toBe(true);
    check(cases);
  });

  it("saturates at u64 max when the quotient needs more than 64 bits, and for c = 0", () => {
    check([[MAX, 2n, 1n], [MAX, MAX, 1n], [1n << 63n, 4n, 2n], [MAX, MAX, MAX - 1n], [5n, 7n, 0n], [0n, 0n, 0n]]);
    expect(mulDiv(MAX, 3n, 2n)).toBe(MAX);
    // the quotient exactly u64 max is not saturation
    expect(mulDiv(MAX, 3n, 3n)).toBe(MAX);
    expect(mulDiv(MAX - 1n, 3n, 3n)).toBe(MAX - 1n);
  });

  it("is exact at zero, one and the fast path's boundary", () => {
    check([[0n, MAX, 1n], [MAX, 0n, 7n], [MAX, 1n, 1n], [1n, MAX, MAX], [10n, 3n, 7n], [MAX / 3n, 3n, 1n], [MAX / 3n + 1n, 3n, 2n]]);
  });

  it("scales the monitor's clocks as the split it replaces did, where that split did not overflow", () => {
    // TSC ticks to ns and us at 2.6 GHz (system.ts, vmm/mgmt.ts) up to 100 years of uptime; TSC to APIC-timer
    // ticks at QEMU's 1 GHz timer (svm/vcpu.ts beginSlice, the rate measured over 10 ms)
    const tsc = 2_596_131_000n;
    const split = (a: bigint, b: bigint, c: bigint) => (a / c) * b + ((a % c) * b) / c;
    const cases: [bigint, bigint, bigint][] = [];
    for (const s of [0n, 1n, 7n, 60n, 3600n, 86_400n, 3_155_760_000n]) {
      for (const extra of [0n, 1n, tsc - 1n]) {
        const ticks = s * tsc + extra;
        cases.push([ticks, 1_000_000_000n, tsc], [ticks, 1_000_000n, tsc]);
      }
    }
    for (const slice of [1n, 12_980_655n, 0xffffffffn, 1n << 40n]) cases.push([slice, 10_000_000n, 25_961_310n]);
    for (const [a, b, c] of cases) {
      expect(mulDiv(a, b, c), `${a} * ${b} / ${c}`).toBe(split(a, b, c));
      expect(mulDiv(a, b, c)).toBe(want(a, b, c));
    }
  });

  it("matches BigInt on random operands of every width", () => {
    const r = rng(9);
    const word = (bits: number): bigint => ((BigInt(r()) << 32n) | BigInt(r())) >> BigInt(64 - bits);
    const cases: [bigint, bigint, bigint][] = [];
    for (let i = 0; i < 2000; i++) cases.push([word(1 + (r() % 64)), word(1 + (r() % 64)), word(1 + (r() % 64))]);
    check(cases);
  });
});
